/* A network: layers in order, one buffer for all parameters, one for all
 * gradients, and one workspace laid out by the plan (plan.c) for the
 * largest batch.  cnn_net_init: size, plan, allocate, point. */
#include "net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int window_out(int in, int k, int s, int begin, int end, int ceil_mode)
{
    int span = in + begin + end - k;
    if (span < 0 || s < 1)
        return 0;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + begin) /* last window would start in the padding */
        out--;
    return out;
}

/* The most memory cnn_net_init gives one network (parameters, gradients and
 * workspace): a network text or model file that asks for more is refused
 * with a message, not left to fail, or worse succeed, at allocation time.
 * Every layer is also capped at 2^28 outputs and weights (cnn_net_add). */
#ifndef CNN_NET_MAX_BYTES /* 16 GiB, or with 32-bit sizes (WebAssembly) 1 GiB */
#define CNN_NET_MAX_BYTES (SIZE_MAX > 0xFFFFFFFFu ? (size_t)1 << 30 << 4 : (size_t)1 << 30)
#endif
#define MAX_ELEMENTS ((size_t)1 << 28)

/* ---- building ---------------------------------------------------------- */

cnn_net *cnn_net_new(cnn_shape input, cnn_error *err)
{
    if (input.c < 1 || input.h < 1 || input.w < 1 || input.c > 4096 || input.h > 16384 ||
        input.w > 16384) {
        cnn_fail(err, CNN_EINVAL, "input %dx%dx%d: each side must be 1..16384 and depth 1..4096",
                 input.h, input.w, input.c);
        return NULL;
    }
    if (cnn_shape_size(input) > MAX_ELEMENTS) {
        cnn_fail(err, CNN_EINVAL, "input %dx%dx%d: %zu values an image, more than the limit of %zu",
                 input.h, input.w, input.c, cnn_shape_size(input), MAX_ELEMENTS);
        return NULL;
    }
    cnn_net *net = calloc(1, sizeof *net);
    if (!net) {
        cnn_fail(err, CNN_ENOMEM, "out of memory");
        return NULL;
    }
    net->input = input;
    net->ranks = 1;
    net->mean = 0.0f;
    net->std = 1.0f;
    return net;
}

void cnn_net_set_normalization(cnn_net *net, float mean, float std)
{
    net->mean = mean;
    net->std = std;
}

void cnn_net_normalization(const cnn_net *net, float *mean, float *std)
{
    *mean = net->mean;
    *std = net->std;
}

static cnn_shape output_of(const cnn_net *net)
{
    return net->count ? net->layers[net->count - 1].out : net->input;
}

int cnn_net_add(cnn_net *net, const cnn_layer_spec *spec, cnn_error *err)
{
    if (net->params)
        return cnn_fail(err, CNN_EINVAL, "layers cannot be added after cnn_net_init");
    if (spec->kind <= CNN_INPUT || spec->kind >= CNN_LAYER_KINDS)
        return cnn_fail(err, CNN_EINVAL, "unknown layer kind %d", (int)spec->kind);
    if (net->count && net->layers[net->count - 1].spec.kind == CNN_SOFTMAX)
        return cnn_fail(err, CNN_EINVAL, "softmax must be the last layer");
    if (net->count == net->capacity) {
        int cap = net->capacity ? 2 * net->capacity : 8;
        layer *grown = realloc(net->layers, sizeof(layer) * (size_t)cap);
        if (!grown)
            return cnn_fail(err, CNN_ENOMEM, "out of memory");
        net->layers = grown;
        net->capacity = cap;
    }
    layer *l = &net->layers[net->count];
    memset(l, 0, sizeof *l);
    l->spec = *spec;
    l->ops = layer_kinds[spec->kind].ops;
    l->in = output_of(net);
    cnn_error inner;
    if (l->ops->setup(l, &inner))
        return cnn_fail(err, inner.status, "layer %d (%s): %s", net->count + 1,
                        layer_kinds[spec->kind].name, inner.msg);
    size_t out = cnn_shape_size(l->out);
    if (out > MAX_ELEMENTS || l->nweights > MAX_ELEMENTS)
        return cnn_fail(err, CNN_ESHAPE, "layer %d (%s): %zu outputs and %zu weights is too large",
                        net->count + 1, layer_kinds[spec->kind].name, out, l->nweights);
    net->nparams += l->nweights + l->nbias;
    net->count++;
    return CNN_OK;
}

/* He initialisation when a ReLU follows (the variance it halves is restored),
 * Xavier otherwise; both uniform, so integer-exact from the PRNG. */
static void init_weights(cnn_net *net, uint64_t seed)
{
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    for (int i = 0; i < net->count; i++) {
        layer *l = &net->layers[i];
        if (!l->nweights)
            continue;
        size_t fan_in = l->nweights / (size_t)l->spec.filters;
        size_t fan_out = fan_in / (size_t)l->in.c * (size_t)l->spec.filters;
        if (l->spec.kind == CNN_DENSE)
            fan_out = (size_t)l->spec.filters;
        int relu_next = 0;
        for (int j = i + 1; j < net->count; j++) {
            cnn_layer_kind k = net->layers[j].spec.kind;
            if (k == CNN_RELU || k == CNN_LEAKY_RELU)
                relu_next = 1;
            if (!layer_kinds[k].passes_init)
                break;
        }
        double bound = relu_next ? sqrt(6.0 / (double)fan_in)
                                 : sqrt(6.0 / (double)(fan_in + fan_out));
        for (size_t p = 0; p < l->nweights; p++)
            l->w[p] = l->spec.init_std > 0.0f
                          ? (float)(cnn_rng_normal(&rng) * l->spec.init_std)
                          : (float)((2.0 * cnn_rng_uniform(&rng) - 1.0) * bound);
        if (l->b)
            memset(l->b, 0, sizeof(float) * l->nbias);
    }
}

static void set_param_pointers(cnn_net *net)
{
    size_t off = 0;
    for (int i = 0; i < net->count; i++) {
        layer *l = &net->layers[i];
        l->w = l->nweights ? net->params + off : NULL;
        l->dw = l->nweights ? net->grads + off : NULL;
        off += l->nweights;
        l->b = l->nbias ? net->params + off : NULL;
        l->db = l->nbias ? net->grads + off : NULL;
        off += l->nbias;
    }
}

void cnn_net_keep_activations(cnn_net *net, int on) { net->keep_activations = on; }

/* Everything cnn_net_init would hold at least, checked before anything is
 * allocated: parameters, gradients, and every layer's output and two
 * gradient buffers per image. */
static int check_size(const cnn_net *net, int max_batch, cnn_error *err)
{
    size_t values = cnn_shape_size(net->input), wide = 0; /* per image */
    for (int i = 0; i < net->count && values <= CNN_NET_MAX_BYTES; i++) {
        size_t out = cnn_shape_size(net->layers[i].out);
        values += out;
        wide = out > wide ? out : wide;
    }
    size_t need = 2 * sizeof(float) * net->nparams +
                  sizeof(float) * (values + 2 * wide) * (size_t)max_batch;
    if (need > CNN_NET_MAX_BYTES)
        return cnn_fail(err, CNN_ENOMEM,
                        "the network needs at least %zu MiB for batch %d (the limit is %zu MiB)",
                        need >> 20, max_batch, (size_t)CNN_NET_MAX_BYTES >> 20);
    return CNN_OK;
}

/* The parameter and gradient buffers, once, and the initial weights. */
/* Each layer's own random stream (dropout's masks), from the seed. */
static void seed_layers(cnn_net *net, uint64_t seed)
{
    for (int i = 0; i < net->count; i++)
        net->layers[i].seed = seed + 0x632BE59BD9B4E019ull * (uint64_t)(i + 1);
}

/* The parameter and gradient arenas, all zero. */
static int allocate_params(cnn_net *net, cnn_error *err)
{
    size_t total = net->nparams ? net->nparams : 1;
    net->params = calloc(total, sizeof(float));
    net->grads = calloc(total, sizeof(float));
    if (!net->params || !net->grads) {
        free(net->params), free(net->grads);
        net->params = net->grads = NULL;
        return cnn_fail(err, CNN_ENOMEM, "out of memory for %zu parameters", net->nparams);
    }
    set_param_pointers(net);
    return CNN_OK;
}

int cnn_net_set_params(cnn_net *net, const float *params, size_t count, cnn_error *err)
{
    if (count != net->nparams)
        return cnn_fail(err, CNN_EINVAL, "%zu parameters given; the network has %zu", count,
                        net->nparams);
    int rc = net->params ? CNN_OK : allocate_params(net, err);
    if (rc == CNN_OK && count)
        memcpy(net->params, params, sizeof(float) * count);
    if (rc == CNN_OK && net->quant) { /* new weights: their int8 ones anew, same ranges */
        size_t n = 2 * ((size_t)net->count + 1);
        float *ranges = malloc(sizeof(float) * n);
        if (!ranges)
            return cnn_fail(err, CNN_ENOMEM, "out of memory");
        memcpy(ranges, quant_ranges(net), sizeof(float) * n);
        rc = quant_attach(net, ranges, err);
        free(ranges);
    }
    return rc;
}

static int check_plan(const cnn_net *net, const plan *p, int max_batch, cnn_error *err)
{
    size_t total = p->bytes + 2 * sizeof(float) * net->nparams;
    if (total > CNN_NET_MAX_BYTES)
        return cnn_fail(err, CNN_ENOMEM,
                        "the network needs %zu MiB for batch %d (the limit is %zu MiB)",
                        total >> 20, max_batch, (size_t)CNN_NET_MAX_BYTES >> 20);
    return CNN_OK;
}

int cnn_net_init(cnn_net *net, int max_batch, uint64_t seed, cnn_error *err)
{
    if (net->count == 0)
        return cnn_fail(err, CNN_EINVAL, "the network has no layers");
    if (max_batch < 1 || max_batch > 65536)
        return cnn_fail(err, CNN_EINVAL, "batch size must be 1..65536, not %d", max_batch);
    int rc = check_size(net, max_batch, err);
    if (rc)
        return rc;
    if (!net->params) {
        if ((rc = allocate_params(net, err)))
            return rc;
        init_weights(net, seed);
    }
    if (!net->seeded)
        seed_layers(net, seed), net->seeded = 1;
    plan p;
    if ((rc = plan_make(&p, net->layers, net->count, max_batch, run_threads(net),
                        !net->keep_activations, err)))
        return rc;
    void *work = NULL;
    if (!(rc = check_plan(net, &p, max_batch, err)) && !(work = aligned_alloc(64, p.bytes)))
        rc = cnn_fail(err, CNN_ENOMEM, "out of memory for a %zu-byte workspace (batch %d)",
                      p.bytes, max_batch);
    if (rc) { /* the network keeps the plan and workspace it had */
        plan_free(&p);
        return rc;
    }
    plan_point(&p, work);
    plan_free(&net->plan);
    free(net->work);
    net->plan = p;
    net->work = work;
    net->batch = 0;
    return CNN_OK;
}

void cnn_net_free(cnn_net *net)
{
    if (!net)
        return;
    team_free(net);
    quant_free(net->quant);
    free(net->layers);
    free(net->params);
    free(net->grads);
    plan_free(&net->plan);
    free(net->work);
    free(net);
}

/* ---- questions about a network ----------------------------------------- */

cnn_shape cnn_net_input_shape(const cnn_net *net) { return net->input; }
int cnn_net_layers(const cnn_net *net) { return net->count; }
int cnn_net_max_batch(const cnn_net *net) { return net->work ? net->plan.max_batch : 0; }
cnn_layer_spec cnn_net_layer(const cnn_net *net, int i) { return net->layers[i].spec; }
cnn_shape cnn_net_layer_shape(const cnn_net *net, int i) { return net->layers[i].out; }
float *cnn_net_params(cnn_net *net) { return net->params; }
float *cnn_net_grads(cnn_net *net) { return net->grads; }
size_t cnn_net_param_count(const cnn_net *net) { return net->nparams; }
float *cnn_net_layer_weights(cnn_net *net, int i) { return net->layers[i].w; }
float *cnn_net_layer_bias(cnn_net *net, int i) { return net->layers[i].b; }
const float *cnn_net_output(const cnn_net *net) { return net->plan.act[net->count - 1]; }
void cnn_net_want_input_grad(cnn_net *net, int on) { net->want_input_grad = on; }
void cnn_net_set_threads(cnn_net *net, int threads) { net->threads = threads > 0 ? threads : 0; }
int cnn_net_threads(const cnn_net *net) { return net->work ? net->plan.threads : run_threads(net); }
const float *cnn_net_input_grad(const cnn_net *net)
{
    return net->want_input_grad ? net->plan.input_grad : NULL;
}

int cnn_net_classes(const cnn_net *net) { return (int)cnn_shape_size(output_of(net)); }

size_t cnn_net_layer_params(const cnn_net *net, int i)
{
    return net->layers[i].nweights + net->layers[i].nbias;
}

const char *cnn_net_layer_method(const cnn_net *net, int i)
{
    const layer *l = &net->layers[i];
    return l->spec.kind == CNN_CONV ? conv_method(l) : NULL;
}

double cnn_net_layer_flops(const cnn_net *net, int i)
{
    const layer *l = &net->layers[i];
    return l->ops->flops ? l->ops->flops(l) : (double)cnn_shape_size(l->out);
}

const float *cnn_net_activation(const cnn_net *net, int i)
{
    return i < 0 ? net->x : net->plan.act[i];
}

/* ---- a layer standing alone ------------------------------------------- */

int layer_new(lone_layer *t, cnn_layer_spec spec, cnn_shape in, int max_batch, int threads,
              cnn_error *err)
{
    memset(t, 0, sizeof *t);
    layer *l = &t->l;
    l->spec = spec;
    l->in = in;
    l->ops = spec.kind > CNN_INPUT && spec.kind < CNN_LAYER_KINDS ? layer_kinds[spec.kind].ops
                                                                   : NULL;
    if (!l->ops)
        return cnn_fail(err, CNN_EINVAL, "unknown layer kind %d", (int)spec.kind);
    int rc = l->ops->setup(l, err);
    if (rc)
        return rc;
    epilogue ep = {.out = l->out};
    size_t np = l->nweights + l->nbias, outs = cnn_shape_size(l->out) * (size_t)max_batch;
    t->scratch_stride = l->ops->scratch_bytes ? l->ops->scratch_bytes(l, &ep) : 0;
    t->params = calloc(np + 1, sizeof(float));
    t->grads = calloc(np + 1, sizeof(float));
    t->scratch = calloc(t->scratch_stride * (size_t)threads + 1, 1);
    t->shared = calloc(l->shared_bytes + 1, 1);
    t->argmax = spec.kind == CNN_MAXPOOL ? calloc(outs + 1, sizeof(int)) : NULL;
    t->max_batch = max_batch, t->threads = threads;
    if (!t->params || !t->grads || !t->scratch || !t->shared ||
        (spec.kind == CNN_MAXPOOL && !t->argmax)) {
        layer_free(t);
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    }
    l->w = l->nweights ? t->params : NULL;
    l->b = l->nbias ? t->params + l->nweights : NULL;
    l->dw = l->nweights ? t->grads : NULL;
    l->db = l->nbias ? t->grads + l->nweights : NULL;
    return CNN_OK;
}

void layer_free(lone_layer *t)
{
    free(t->params), free(t->grads), free(t->scratch), free(t->shared), free(t->argmax);
    memset(t, 0, sizeof *t);
}

uint64_t cnn_net_training_steps(const cnn_net *net) { return net->step; }

void cnn_net_set_training_steps(cnn_net *net, uint64_t steps) { net->step = steps; }
