/* Where a batch's time goes, layer by layer: each layer stood up on its
 * own (as the unfused plan runs it) with the network's weights, timed
 * forward and backward over one batch, again and again for a while. */
#include "kernels/kernels.h"
#include "net.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The layers on their own, on the network's weights and gradient buffer. */
typedef struct {
    lone_layer *layers;
    float **y, *delta[2];
    int count, made;
} stand_alone;

static void stand_free(stand_alone *s)
{
    for (int i = 0; i < s->made; i++) {
        layer_free(&s->layers[i]);
        free(s->y[i]);
    }
    free(s->layers), free(s->y), free(s->delta[0]), free(s->delta[1]);
}

static int stand_up(cnn_net *net, int n, stand_alone *s)
{
    memset(s, 0, sizeof *s);
    s->count = net->count;
    s->layers = calloc((size_t)s->count, sizeof *s->layers);
    s->y = calloc((size_t)s->count, sizeof *s->y);
    size_t widest = 0;
    int ok = s->layers && s->y;
    for (int i = 0; ok && i < s->count; i++, s->made++) {
        const layer *real = &net->layers[i];
        if (layer_new(&s->layers[i], real->spec, real->in, n, run_threads(net), NULL)) {
            ok = 0;
            break;
        }
        layer *l = &s->layers[i].l;
        l->w = real->w, l->b = real->b, l->dw = real->dw, l->db = real->db, l->seed = real->seed;
        size_t size = cnn_shape_size(l->out);
        widest = size > widest ? size : widest;
        ok = (s->y[i] = malloc(sizeof(float) * size * (size_t)n)) != NULL;
    }
    for (int k = 0; ok && k < 2; k++)
        ok = (s->delta[k] = malloc(sizeof(float) * widest * (size_t)n)) != NULL;
    if (!ok)
        stand_free(s);
    return ok ? CNN_OK : CNN_ENOMEM;
}

/* One batch through every layer, each timed: forward, then (labels given)
 * the loss's gradient and every backward. */
static void time_once(stand_alone *s, const float *x, const cnn_label *labels, int n,
                      cnn_layer_time *t)
{
    const float *in = x;
    for (int i = 0; i < s->count; i++) {
        double t0 = now();
        layer_forward(&s->layers[i], in, s->y[i], n, labels != NULL);
        t[i].forward_us += (now() - t0) * 1e6;
        in = s->y[i];
    }
    if (!labels)
        return;
    int top = s->count - 1, cur = 0, k = (int)cnn_shape_size(s->layers[top].l.out);
    double t0 = now();
    softmax_cross_entropy_grad(s->y[top], labels, n, 0, n, k, s->delta[cur]);
    t[top].backward_us += (now() - t0) * 1e6;
    for (int i = top - 1; i >= 0; i--, cur = 1 - cur) {
        t0 = now();
        layer_backward(&s->layers[i], i ? s->y[i - 1] : x, s->y[i], s->delta[cur],
                       i ? s->delta[1 - cur] : NULL, n);
        t[i].backward_us += (now() - t0) * 1e6;
    }
}

int cnn_net_profile(cnn_net *net, const float *x, const cnn_label *labels, int n,
                    double seconds, cnn_layer_time *times, cnn_error *err)
{
    if (!net->params)
        return cnn_fail(err, CNN_EINVAL, "call cnn_net_init before profiling");
    if (n < 1)
        return cnn_fail(err, CNN_EINVAL, "profiling needs a batch of 1 or more images");
    int rc = labels ? labels_in_classes(net, labels, n, err) : CNN_OK;
    if (rc == CNN_OK && labels && net->layers[net->count - 1].spec.kind != CNN_SOFTMAX)
        rc = cnn_fail(err, CNN_EINVAL, "profiling backward needs a softmax as the last layer");
    stand_alone s;
    if (rc || (rc = stand_up(net, n, &s)))
        return rc == CNN_ENOMEM ? cnn_fail(err, rc, "out of memory") : rc;
    /* round -1 is a warm-up: it takes the first-touch page faults of the
     * fresh buffers, which the network's own workspace pays only once */
    double start = now();
    int rounds = -1;
    while (rounds < 3 || (now() - start < seconds && rounds < 100000)) {
        if (rounds == 0)
            memset(times, 0, sizeof *times * (size_t)s.count);
        time_once(&s, x, labels, n, times);
        rounds++;
    }
    for (int i = 0; i < s.count; i++)
        times[i].forward_us /= rounds, times[i].backward_us /= rounds;
    stand_free(&s);
    return CNN_OK;
}

const char *cnn_simd_path(void) { return gemm_path(); }

double cnn_fp32_peak_gflops(int threads) { return fp32_peak_gflops(threads); }
