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

/* How far the backward's g for *v is from the differences with step h
 * (times |*v| when that is above 1): the central one, or, where a kink
 * (a ReLU's input crossing 0, a max-pool's winner changing) lies within
 * h and g is the slope on one side of it, either one-sided one; the
 * nearest counts, relative to |g| + |central| (absolute below 1e-3).
 * Each is divided by the step the floats really took. */
static double error_at(cnn_net *net, float *v, const float *x, const cnn_label *labels, int n,
                       uint64_t step, double base, double g, float h)
{
    float keep = *v, up, down;
    h *= fmaxf(1.0f, fabsf(keep));
    up = keep + h, down = keep - h;
    *v = up;
    double at_up = loss_at(net, x, labels, n, step);
    *v = down;
    double at_down = loss_at(net, x, labels, n, step);
    *v = keep;
    double central = (at_up - at_down) / ((double)up - (double)down);
    double right = (at_up - base) / ((double)up - keep);
    double left = (base - at_down) / (keep - (double)down);
    double nearest = fmin(fabs(g - central), fmin(fabs(g - right), fabs(g - left)));
    double size = fabs(g) + fabs(central);
    return size < 1e-3 ? nearest : nearest / size;
}

/* The error at *v; where no difference agrees, kinks may lie on both
 * sides within the step: it is quartered, once, and the nearer counts. */
static double check_one(cnn_net *net, float *v, const float *x, const cnn_label *labels, int n,
                        uint64_t step, double base, double g)
{
    double e = error_at(net, v, x, labels, n, step, base, g, 1e-3f);
    return e > 1e-3 ? fmin(e, error_at(net, v, x, labels, n, step, base, g, 2.5e-4f)) : e;
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
    double worst = 0.0, base = loss_at(net, xs, labels, n, step);
    size_t all = samples <= 0 || (size_t)samples >= np ? np : (size_t)samples;
    for (size_t k = 0; k < all; k++) {
        size_t i = all == np ? k : (size_t)(cnn_rng_next(&rng) % np);
        double e = check_one(net, &net->params[i], xs, labels, n, step, base, grads[i]);
        worst = e > worst ? e : worst;
    }
    size_t inputs = samples <= 0 || (size_t)samples >= nx ? nx : (size_t)samples;
    for (size_t k = 0; input_grad && k < inputs; k++) {
        size_t i = inputs == nx ? k : (size_t)(cnn_rng_next(&rng) % nx);
        double e = check_one(net, &xs[i], xs, labels, n, step, base, input_grad[i]);
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
