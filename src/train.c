/* Training and evaluation over a dataset: batches are converted from bytes
 * to floats one at a time, into one buffer allocated per call (in training,
 * by each thread for its own images, inside the step). */
#include "cnn.h"
#include "data/data.h"
#include "net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cnn_dataset_fits(const cnn_net *net, const cnn_dataset *d, cnn_error *err)
{
    cnn_shape in = cnn_net_input_shape(net);
    if (d->c != in.c || d->h != in.h || d->w != in.w)
        return cnn_fail(err, CNN_ESHAPE,
                        "the network takes %dx%dx%d images but the data holds %dx%dx%d",
                        in.h, in.w, in.c, d->h, d->w, d->c);
    if (d->classes > cnn_net_classes(net))
        return cnn_fail(err, CNN_ESHAPE, "the data has %d classes but the network outputs %d",
                        d->classes, cnn_net_classes(net));
    if (d->n < 1)
        return cnn_fail(err, CNN_EINVAL, "the dataset is empty");
    return labels_in_classes(net, d->labels, d->n, err); /* once here, not batch by batch */
}

/* A batch of the epoch: each training thread converts its own images
 * (batch.fill), in the step's parallel region. */
typedef struct {
    const cnn_dataset *d;
    const int *order;
    int first;
    float mean, std, *x;
    cnn_label *labels;
} batch_bytes;

static void convert_mine(void *ctx, int from, int to)
{
    const batch_bytes *b = ctx;
    dataset_convert(b->d, b->order, b->first, from, to, b->mean, b->std, b->x, b->labels);
}

/* Asks for the bytes of images [first, first+n) of the order: shuffled
 * images sit anywhere in the dataset, and a batch of one image is over long
 * before a cache miss per line would be.  Fetched while this batch trains. */
static void prefetch_images(const cnn_dataset *d, const int *order, int first, int n)
{
    size_t per = (size_t)d->c * d->h * d->w;
    for (int i = first; i < first + n && i < d->n; i++)
        for (size_t at = 0; at < per; at += 64)
            __builtin_prefetch(d->pixels + (size_t)order[i] * per + at);
}

/* The shuffle of one epoch depends on the seed and the epoch only. */
static void epoch_order(int *order, int n, uint64_t seed, int epoch)
{
    cnn_rng rng;
    cnn_rng_seed(&rng, seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(epoch + 1)));
    for (int i = 0; i < n; i++)
        order[i] = i;
    cnn_rng_shuffle(&rng, order, n);
}

int cnn_train_epoch(cnn_net *net, cnn_optim *opt, const cnn_dataset *d, int epoch, int batch,
                    uint64_t seed, cnn_progress_fn progress, void *user, cnn_metrics *out,
                    cnn_error *err)
{
    int rc = cnn_dataset_fits(net, d, err);
    if (rc)
        return rc;
    size_t per = (size_t)d->c * d->h * d->w;
    float *x = malloc(sizeof(float) * per * (size_t)batch);
    cnn_label *labels = malloc(sizeof *labels * (size_t)batch);
    int *order = malloc(sizeof(int) * (size_t)d->n);
    if (!x || !labels || !order) {
        free(x), free(labels), free(order);
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    }
    epoch_order(order, d->n, seed, epoch);
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    double loss_sum = 0;
    long right = 0;
    int done = 0;
    cnn_metrics m = {0};
    while (done < d->n) {
        int n = d->n - done < batch ? d->n - done : batch;
        prefetch_images(d, order, done + n, n);
        batch_bytes bytes = {d, order, done, mean, std, x, labels};
        image_batch b = {x, labels, n, convert_mine, &bytes};
        float loss;
        int correct;
        rc = train_step(net, opt, &b, epoch, &loss, &correct, err);
        if (rc)
            break;
        loss_sum += (double)loss * n;
        right += correct;
        done += n;
        m = (cnn_metrics){loss_sum / done, (double)right / done, done};
        if (progress && progress(user, epoch, done, d->n, &m))
            break;
    }
    if (out)
        *out = m;
    free(x), free(labels), free(order);
    return rc;
}

int cnn_evaluate(cnn_net *net, const cnn_dataset *d, cnn_metrics *out, int *confusion,
                 cnn_error *err)
{
    int rc = cnn_dataset_fits(net, d, err);
    if (rc)
        return rc;
    int classes = cnn_net_classes(net);
    int batch = cnn_net_max_batch(net);
    if (batch < 1)
        return cnn_fail(err, CNN_EINVAL, "call cnn_net_init before evaluating");
    size_t per = (size_t)d->c * d->h * d->w;
    float *x = malloc(sizeof(float) * per * (size_t)batch);
    cnn_label *labels = malloc(sizeof *labels * (size_t)batch);
    if (!x || !labels) {
        free(x), free(labels);
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    }
    if (confusion)
        memset(confusion, 0, sizeof(int) * (size_t)classes * classes);
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    double loss_sum = 0;
    long right = 0;
    for (int done = 0; done < d->n && rc == CNN_OK; done += batch) {
        int n = d->n - done < batch ? d->n - done : batch, g0, g1;
        team_groups(net, &g0, &g1); /* in a team, this member's share only */
        int first = group_first(n, g0), last = group_first(n, g1);
        cnn_dataset_batch(d, NULL, done + first, last - first, mean, std, x + per * first,
                          labels + first);
        if ((rc = cnn_forward(net, x, n, 0, err)))
            break;
        int correct;
        loss_sum += (double)cnn_loss(net, labels, n, &correct) * n;
        right += correct;
        if (confusion) {
            for (int i = first; i < last; i++)
                confusion[labels[i] * classes + cnn_net_predicted(net, i)]++;
        }
    }
    if (rc == CNN_OK)
        rc = team_check(net, err);
    if (rc == CNN_OK && confusion && net->team)
        rc = team_add_counts(net, confusion, (size_t)classes * classes, err);
    if (out)
        *out = (cnn_metrics){loss_sum / d->n, (double)right / d->n, d->n};
    free(x), free(labels);
    return rc;
}

int cnn_fit(cnn_net *net, const cnn_dataset *train, const cnn_dataset *test,
            const cnn_train_config *cfg, uint64_t seed, cnn_metrics *test_out, cnn_error *err)
{
    int rc = cnn_net_init(net, cfg->batch, seed, err);
    if (rc)
        return rc;
    cnn_optim *opt = cnn_optim_new(net, cfg, err);
    if (!opt)
        return err ? err->status : CNN_EINVAL;
    for (int epoch = 0; epoch < cfg->epochs && rc == CNN_OK; epoch++)
        rc = cnn_train_epoch(net, opt, train, epoch, cfg->batch, seed, NULL, NULL, NULL, err);
    cnn_optim_free(opt);
    if (rc == CNN_OK && test)
        rc = cnn_evaluate(net, test, test_out, NULL, err);
    return rc;
}
