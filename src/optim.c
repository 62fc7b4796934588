/* Optimisers: one loop over the contiguous parameter and gradient buffers.
 *   SGD:       w -= lr * g
 *   momentum:  v = mu v + g;  w -= lr * v            (PyTorch's form)
 *   Adam:      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *              w -= lr * m^ / (sqrt(v^) + eps), with bias-corrected m^, v^
 * L2 weight decay adds decay * w to every gradient first. */
#include "kernels/kernels.h"
#include "net.h"

#include <math.h>
#include <stdlib.h>

struct cnn_optim {
    cnn_train_config cfg;
    float *state; /* momentum: v; Adam: m then v */
    size_t count, nparams;
    int64_t steps;
};

cnn_train_config cnn_train_defaults(void)
{
    cnn_train_config c = {0};
    c.optimizer = CNN_SGD;
    c.lr = 0.01f;
    c.momentum = 0.9f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.schedule = CNN_CONSTANT;
    c.step_epochs = 1;
    c.gamma = 0.1f;
    c.batch = 32;
    c.epochs = 1;
    return c;
}

cnn_optim *cnn_optim_new(const cnn_net *net, const cnn_train_config *cfg, cnn_error *err)
{
    if (!(cfg->lr > 0.0f && cfg->lr < 1e3f) || !(cfg->weight_decay >= 0.0f) ||
        !(cfg->momentum >= 0.0f && cfg->momentum < 1.0f) ||
        !(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f) || !(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f)) {
        cnn_fail(err, CNN_EINVAL, "optimiser settings out of range (lr %g, momentum %g, decay %g)",
                 cfg->lr, cfg->momentum, cfg->weight_decay);
        return NULL;
    }
    cnn_optim *opt = calloc(1, sizeof *opt);
    if (!opt) {
        cnn_fail(err, CNN_ENOMEM, "out of memory");
        return NULL;
    }
    opt->cfg = *cfg;
    opt->nparams = cnn_net_param_count(net);
    opt->count = cfg->optimizer == CNN_ADAM       ? 2 * opt->nparams
                 : cfg->optimizer == CNN_MOMENTUM ? opt->nparams
                                                  : 0;
    if (opt->count && !(opt->state = calloc(opt->count, sizeof(float)))) {
        free(opt);
        cnn_fail(err, CNN_ENOMEM, "out of memory for the optimiser state");
        return NULL;
    }
    return opt;
}

void cnn_optim_free(cnn_optim *opt)
{
    if (opt) {
        free(opt->state);
        free(opt);
    }
}

float *cnn_optim_state(cnn_optim *opt, size_t *count)
{
    *count = opt->count;
    return opt->state;
}

int64_t cnn_optim_steps(const cnn_optim *opt) { return opt->steps; }
void cnn_optim_set_steps(cnn_optim *opt, int64_t steps) { opt->steps = steps; }

float cnn_optim_lr(const cnn_optim *opt, int epoch)
{
    const cnn_train_config *c = &opt->cfg;
    switch (c->schedule) {
    case CNN_STEP:
        return c->lr * powf(c->gamma, (float)(epoch / (c->step_epochs > 0 ? c->step_epochs : 1)));
    case CNN_COSINE:
        return c->epochs > 0
                   ? c->lr * 0.5f * (1.0f + cosf(3.14159265f * (float)epoch / (float)c->epochs))
                   : c->lr;
    default:
        return c->lr;
    }
}

/* The update of parameters [from, to): the same arithmetic, element by
 * element, whichever thread or clone runs it. */
static VECTOR_CLONES void update_range(const cnn_train_config *c, float lr, float c1, float c2,
                                       float *w, const float *g, float *state, size_t n,
                                       size_t from, size_t to)
{
    float decay = c->weight_decay;
    if (c->optimizer == CNN_SGD) {
        for (size_t i = from; i < to; i++)
            w[i] -= lr * (g[i] + decay * w[i]);
    } else if (c->optimizer == CNN_MOMENTUM) {
        float *v = state, mu = c->momentum;
        for (size_t i = from; i < to; i++) {
            v[i] = mu * v[i] + g[i] + decay * w[i];
            w[i] -= lr * v[i];
        }
    } else {
        float *m = state, *v = state + n, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
        for (size_t i = from; i < to; i++) {
            float gi = g[i] + decay * w[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            w[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + eps);
        }
    }
}

void optim_apply(const optim_update *u, size_t from, size_t to)
{
    update_range(u->cfg, u->lr, u->c1, u->c2, u->w, u->g, u->state, u->n, from, to);
}

optim_update optim_prepare(const cnn_optim *opt, cnn_net *net, int epoch)
{
    const cnn_train_config *c = &opt->cfg;
    optim_update u = {c, cnn_optim_lr(opt, epoch), 1.0f, 1.0f, cnn_net_params(net), opt->state,
                      cnn_net_grads(net), opt->nparams};
    if (c->optimizer == CNN_ADAM) { /* bias correction for this step, the steps+1-th */
        u.c1 = 1.0f - powf(c->beta1, (float)(opt->steps + 1));
        u.c2 = 1.0f - powf(c->beta2, (float)(opt->steps + 1));
    }
    return u;
}

void optim_count_step(cnn_optim *opt) { opt->steps++; }

void cnn_optim_step(cnn_optim *opt, cnn_net *net, int epoch)
{
    optim_update u = optim_prepare(opt, net, epoch);
    opt->steps++;
    run_update(net, &u, 0, u.n);
}
