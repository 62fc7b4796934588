/* Running and learning, as the public API offers them: forward, the loss,
 * backward, and the training step that does all of them and the update.
 * The executor (run.c) shares each pass among threads; what is here reads
 * as the single-threaded algorithm. */
#include "net.h"

#include <math.h>

int labels_in_classes(const cnn_net *net, const cnn_label *labels, int n, cnn_error *err)
{
    int k = cnn_net_classes(net);
    for (int i = 0; labels && i < n; i++)
        if (labels[i] >= k)
            return cnn_fail(err, CNN_EINVAL, "label %d of image %d is not a class (0..%d)",
                            labels[i], i, k - 1);
    return CNN_OK;
}

static int int8_only(cnn_error *err)
{
    return cnn_fail(err, CNN_EINVAL, "an int8 network runs inference only, not training");
}

static int trainable(const cnn_net *net, cnn_error *err)
{
    if (net->quant)
        return int8_only(err);
    if (net->layers[net->count - 1].spec.kind != CNN_SOFTMAX)
        return cnn_fail(err, CNN_EINVAL, "training needs a softmax as the last layer");
    return CNN_OK;
}

/* What a forward needs checked and set before it starts. */
static int begin_forward(cnn_net *net, const float *x, int n, int training, cnn_error *err)
{
    if (!net->work)
        return cnn_fail(err, CNN_EINVAL, "call cnn_net_init before running the network");
    if (n < 1 || n > net->plan.max_batch)
        return cnn_fail(err, CNN_EINVAL, "batch of %d images: the network was set up for 1..%d",
                        n, net->plan.max_batch);
    net->x = x;
    net->batch = n;
    if (training)
        net->step++;
    return CNN_OK;
}

int cnn_forward(cnn_net *net, const float *x, int n, int training, cnn_error *err)
{
    if (net->quant && training)
        return int8_only(err);
    int rc = begin_forward(net, x, n, training, err);
    if (rc)
        return rc;
    if (net->quant)
        return quant_forward(net, x, n, err);
    run_forward(net, &(image_batch){(float *)x, NULL, n, NULL, NULL}, training);
    return CNN_OK;
}

/* The scores before the softmax: the fused loss reads them. */
static const float *scores(const cnn_net *net)
{
    return net->count > 1 ? cnn_net_activation(net, net->count - 2) : net->x;
}

/* Each gradient group's sum, added along the groups' tree: the same bits
 * however the batch was shared.  In a team, each member has its own
 * groups' sums and the team gathers them all. */
double loss_sum(const cnn_net *net, const cnn_label *labels, int n, int *correct)
{
    struct {
        double loss;
        int right;
    } slot[GRAD_GROUPS] = {{0}};
    int g0, g1;
    team_groups(net, &g0, &g1);
    for (int g = g0; g < g1; g++)
        slot[g].loss = softmax_cross_entropy_sum(scores(net), labels, group_first(n, g),
                                                 group_first(n, g + 1), cnn_net_classes(net),
                                                 cnn_net_output(net), &slot[g].right);
    if (net->team && team_gather(net, slot, sizeof slot[0], NULL))
        return NAN; /* a member is gone: the step stops as on a diverged loss */
    double sums[GRAD_GROUPS];
    int right = 0;
    for (int g = 0; g < GRAD_GROUPS; g++)
        sums[g] = slot[g].loss, right += slot[g].right;
    if (correct)
        *correct = right;
    return group_tree_double(sums, groups_present(n));
}

float cnn_loss(const cnn_net *net, const cnn_label *labels, int n, int *correct)
{
    return (float)(loss_sum(net, labels, n, correct) / n);
}

int cnn_net_predicted(const cnn_net *net, int i)
{
    return arg_max(cnn_net_output(net) + (size_t)i * cnn_net_classes(net), cnn_net_classes(net));
}

int cnn_backward(cnn_net *net, const cnn_label *labels, int n, cnn_error *err)
{
    if (n != net->batch)
        return cnn_fail(err, CNN_EINVAL, "backward over %d images after a forward over %d", n,
                        net->batch);
    int rc = trainable(net, err);
    if (rc || (rc = labels_in_classes(net, labels, n, err)))
        return rc;
    return run_backward(net, labels, NULL, err);
}

/* The training step: fill the batch and forward it, the loss, backward,
 * update.  The executor overlaps what pays: each thread fills in the
 * images it then carries, and each layer's parameters are updated as soon
 * as its weight gradient is summed, while that is in cache (the same bits
 * as cnn_forward, cnn_loss, cnn_backward and cnn_optim_step in turn). */
int train_step(cnn_net *net, cnn_optim *opt, const image_batch *b, int epoch, float *loss,
               int *correct, cnn_error *err)
{
    int rc = trainable(net, err);
    if (rc || (!b->fill && (rc = labels_in_classes(net, b->labels, b->n, err))) ||
        (rc = begin_forward(net, b->x, b->n, 1, err)))
        return rc;
    run_forward(net, b, 1);
    float l = cnn_loss(net, b->labels, b->n, correct);
    if (loss)
        *loss = l;
    if ((rc = team_check(net, err)))
        return rc;
    if (!isfinite(l))
        return cnn_fail(err, CNN_ENUMERIC,
                        "the loss is %g: training diverged (try a smaller learning rate)", l);
    optim_update u = optim_prepare(opt, net, epoch);
    rc = run_backward(net, b->labels, &u, err);
    if (rc == CNN_OK)
        optim_count_step(opt);
    return rc;
}

int cnn_train_batch(cnn_net *net, cnn_optim *opt, const float *x, const cnn_label *labels, int n,
                    int epoch, float *loss, int *correct, cnn_error *err)
{
    image_batch b = {(float *)x, (cnn_label *)labels, n, NULL, NULL};
    return train_step(net, opt, &b, epoch, loss, correct, err);
}
