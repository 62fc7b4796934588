/* Checking backpropagation against the definition of the derivative: each
 * sampled parameter (and input) nudged up and down, the mean loss measured
 * both ways, the slope compared with what cnn_backward gave. */
#include "net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The mean loss of a training forward with the dropout masks the checked
 * backward used: those of the forward after `step`. */
static double loss_at(cnn_net *net, const float *x, const cnn_label *labels, int n,
                      uint64_t step)
{
    net->step = step + 1, net->x = x, net->batch = n;
    run_forward(net, &(image_batch){(float *)x, (cnn_label *)labels, n, NULL, NULL}, 1);
    return loss_sum(net, labels, n, NULL) / n;
}

/* |a - b| relative to their size, or absolute where both are tiny. */
static double relative_error(double a, double b)
{
    double d = fabs(a - b), s = fabs(a) + fabs(b);
    return s < 1e-3 ? d : d / s;
}

/* The slope of the loss along *v, by central differences. */
static double slope(cnn_net *net, float *v, const float *x, const cnn_label *labels, int n,
                    uint64_t step)
{
    float keep = *v, h = 1e-3f * fmaxf(1.0f, fabsf(keep));
    float up = keep + h, down = keep - h;
    *v = up;
    double at_up = loss_at(net, x, labels, n, step);
    *v = down;
    double at_down = loss_at(net, x, labels, n, step);
    *v = keep;
    return (at_up - at_down) / ((double)up - (double)down);
}

double check_against(cnn_net *net, const float *x, const cnn_label *labels, int n, int samples,
                     uint64_t seed, uint64_t step, const float *grads, const float *input_grad)
{
    size_t np = net->nparams, nx = (size_t)n * cnn_shape_size(net->input);
    float *xs = malloc(sizeof(float) * nx);
    if (!xs)
        return -1.0;
    memcpy(xs, x, sizeof(float) * nx);
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    double worst = 0.0;
    size_t all = samples <= 0 || (size_t)samples >= np ? np : (size_t)samples;
    for (size_t k = 0; k < all; k++) {
        size_t i = all == np ? k : (size_t)(cnn_rng_next(&rng) % np);
        double e = relative_error(slope(net, &net->params[i], xs, labels, n, step), grads[i]);
        worst = e > worst ? e : worst;
    }
    size_t inputs = samples <= 0 || (size_t)samples >= nx ? nx : (size_t)samples;
    for (size_t k = 0; input_grad && k < inputs; k++) {
        size_t i = inputs == nx ? k : (size_t)(cnn_rng_next(&rng) % nx);
        double e = relative_error(slope(net, &xs[i], xs, labels, n, step), input_grad[i]);
        worst = e > worst ? e : worst;
    }
    free(xs);
    return worst;
}

double cnn_check_gradients(cnn_net *net, const float *x, const cnn_label *labels, int n,
                           int samples, uint64_t seed, cnn_error *err)
{
    uint64_t step = net->step;
    if (cnn_forward(net, x, n, 1, err) || cnn_backward(net, labels, n, err))
        return -1.0;
    size_t np = net->nparams, nx = (size_t)n * cnn_shape_size(net->input);
    float *grads = malloc(sizeof(float) * (np ? np : 1));
    float *dx = net->want_input_grad ? malloc(sizeof(float) * nx) : NULL;
    double worst = -1.0;
    if (grads && (dx || !net->want_input_grad)) {
        memcpy(grads, net->grads, sizeof(float) * np);
        if (dx)
            memcpy(dx, net->plan.input_grad, sizeof(float) * nx);
        worst = check_against(net, x, labels, n, samples, seed, step, grads, dx);
    }
    if (worst < 0)
        cnn_fail(err, CNN_ENOMEM, "out of memory");
    else /* the gradient buffer as backward left it */
        memcpy(net->grads, grads, sizeof(float) * np);
    net->step = step;
    free(grads), free(dx);
    return worst;
}
