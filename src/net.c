/* A network: layers in order, one buffer for all parameters, one for all
 * gradients, and one workspace (activations, gradients in flight, per-layer
 * scratch) sized once for the largest batch. */
#include "layer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

struct cnn_net {
    cnn_shape input;
    float mean, std;      /* x = (pixel / 255 - mean) / std */
    layer *layers;
    int count, capacity;
    float *params, *grads;
    size_t nparams;
    int max_batch, batch;
    const float *x;       /* the input of the last forward      */
    float **act;          /* act[i]: output of layer i           */
    float **dy;           /* dy[i]: the gradient of act[i]       */
    float *turns[2];      /* the two buffers some dy[i] share    */
    size_t widest;        /* their floats per image              */
    float *input_grad;
    int want_input_grad;
    int threads;          /* asked for by cnn_net_set_threads; 0 = default */
    int keep_activations; /* no in-place activations: every output kept */
    int kept_activations; /* the value the workspace was laid out for    */
    void *work;
    uint64_t step;        /* training forwards so far (dropout)  */
};

static const struct {
    const char *name;
    const layer_ops *ops;
} registry[CNN_LAYER_KINDS] = {
    [CNN_INPUT] = {"input", NULL},
    [CNN_CONV] = {"conv", &conv_ops},
    [CNN_RELU] = {"relu", &activation_ops},
    [CNN_LEAKY_RELU] = {"leaky", &activation_ops},
    [CNN_SIGMOID] = {"sigmoid", &activation_ops},
    [CNN_TANH] = {"tanh", &activation_ops},
    [CNN_MAXPOOL] = {"maxpool", &pool_ops},
    [CNN_AVGPOOL] = {"avgpool", &pool_ops},
    [CNN_SUMPOOL] = {"sumpool", &pool_ops},
    [CNN_DENSE] = {"dense", &dense_ops},
    [CNN_DROPOUT] = {"dropout", &dropout_ops},
    [CNN_FLATTEN] = {"flatten", &flatten_ops},
    [CNN_SOFTMAX] = {"softmax", &softmax_ops},
};

const char *cnn_layer_name(cnn_layer_kind kind)
{
    return kind >= 0 && kind < CNN_LAYER_KINDS ? registry[kind].name : "?";
}

int window_out(int in, int k, int s, int pad, int ceil_mode)
{
    int span = in + 2 * pad - k;
    if (span < 0 || s < 1)
        return 0;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pad) /* last window would start in the padding */
        out--;
    return out;
}

/* The most memory cnn_net_init gives one network (parameters, gradients and
 * workspace): a network text or model file that asks for more is refused
 * with a message, not left to fail, or worse succeed, at allocation time.
 * Every layer is also capped at 2^28 outputs and weights (cnn_net_add). */
#ifndef CNN_NET_MAX_BYTES
#define CNN_NET_MAX_BYTES ((size_t)1 << 34)
#endif
#define MAX_ELEMENTS ((size_t)1 << 28)

/* The network's own count when it was given one, else OpenMP's default. */
static int threads_available(const cnn_net *net)
{
#ifdef _OPENMP
    return net->threads > 0 ? net->threads : omp_get_max_threads();
#else
    (void)net;
    return 1;
#endif
}

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
    l->ops = registry[spec->kind].ops;
    l->in = output_of(net);
    l->max_batch = 1;
    l->threads = 1;
    /* a window over more than 2^28 inputs would overflow conv's int sizes */
    if (spec->kind == CNN_CONV && (size_t)l->in.c * (size_t)(spec->kh > 0 ? spec->kh : 1) *
                                          (size_t)(spec->kw > 0 ? spec->kw : 1) > MAX_ELEMENTS)
        return cnn_fail(err, CNN_ESHAPE, "layer %d (conv): a %dx%d window over %d channels is too large",
                        net->count + 1, spec->kh, spec->kw, l->in.c);
    cnn_error inner;
    if (l->ops->setup(l, &inner))
        return cnn_fail(err, inner.status, "layer %d (%s): %s", net->count + 1,
                        registry[spec->kind].name, inner.msg);
    size_t out = cnn_shape_size(l->out);
    if (out > MAX_ELEMENTS || l->nweights > MAX_ELEMENTS)
        return cnn_fail(err, CNN_ESHAPE, "layer %d (%s): %zu outputs and %zu weights is too large",
                        net->count + 1, registry[spec->kind].name, out, l->nweights);
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
        l->seed = seed + 0x632BE59BD9B4E019ull * (uint64_t)(i + 1);
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
            if (k != CNN_MAXPOOL && k != CNN_AVGPOOL && k != CNN_SUMPOOL && k != CNN_DROPOUT &&
                k != CNN_FLATTEN)
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

/* Activations write their output over their input (their backward needs
 * only the output), unless the caller wants to see every layer's output. */
static int in_place(const cnn_net *net, int i)
{
    cnn_layer_kind k = net->layers[i].spec.kind;
    return i > 0 && !net->keep_activations && k >= CNN_RELU && k <= CNN_TANH;
}

/* Fusion, decided once by cnn_net_init unless every activation is kept: a
 * ReLU run in place right after a convolution is done by the convolution, on
 * data still in cache, and so is a 2x2 stride-2 max-pool right after it (or
 * after that ReLU); then the convolution's full-size output is never
 * stored, nor its gradient. */
static void set_fusion(cnn_net *net)
{
    for (int i = 0; i < net->count; i++) {
        layer *l = &net->layers[i];
        l->relu_out = l->folded = l->stream_out = 0;
        l->pool_out = NULL;
    }
    for (int i = 0; i + 1 < net->count; i++) {
        layer *l = &net->layers[i];
        if (l->spec.kind != CNN_CONV || net->keep_activations)
            continue;
        int next = i + 1;
        if (net->layers[next].spec.kind == CNN_RELU && in_place(net, next)) {
            l->relu_out = net->layers[next].folded = 1;
            next++;
        }
        if (next < net->count && whole_2x2_max(&net->layers[next])) {
            l->pool_out = &net->layers[next];
            l->pool_out->folded = 1;
            next++;
        }
        l->stream_out = next < net->count && net->layers[next].ops->grads_read_x;
    }
}

/* The last layer whose work layer i does: itself, or the ReLU and pool
 * fused into it.  Its output is where layer i writes (a ReLU's is its
 * conv's, in place), and its output gradient what layer i reads. */
static int out_of(const cnn_net *net, int i)
{
    int j = i;
    while (j + 1 < net->count && net->layers[j + 1].folded)
        j++;
    return j;
}

/* Whether layer i's own output is never stored: a conv that writes its
 * pool's output, and the ReLU that would share that buffer. */
static int unstored(const cnn_net *net, int i)
{
    const layer *l = &net->layers[i];
    return l->pool_out || (l->folded && l->spec.kind == CNN_RELU && net->layers[i - 1].pool_out);
}

void cnn_net_keep_activations(cnn_net *net, int on) { net->keep_activations = on; }

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

int cnn_net_init(cnn_net *net, int max_batch, uint64_t seed, cnn_error *err)
{
    if (net->count == 0)
        return cnn_fail(err, CNN_EINVAL, "the network has no layers");
    if (max_batch < 1 || max_batch > 65536)
        return cnn_fail(err, CNN_EINVAL, "batch size must be 1..65536, not %d", max_batch);
    /* Everything this call would hold, checked before anything is allocated
     * (sizes from the first setup at batch 1 scale with the batch, except
     * scratch, which is re-checked below). */
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
    int first_init = net->params == NULL;
    if (first_init) {
        size_t total = net->nparams;
        net->params = calloc(total ? total : 1, sizeof(float));
        net->grads = calloc(total ? total : 1, sizeof(float));
        if (!net->params || !net->grads) {
            free(net->params), free(net->grads);
            net->params = net->grads = NULL;
            return cnn_fail(err, CNN_ENOMEM, "out of memory for %zu parameters", total);
        }
        set_param_pointers(net);
        init_weights(net, seed);
    }
    /* the workspace: activations, two gradient buffers, the input gradient
     * and each layer's scratch, carved from one allocation */
    int threads = threads_available(net), rc = CNN_OK;
    int old_threads = net->layers[0].threads;
    size_t widest = 0, bytes = 0;
    set_fusion(net);
    for (int i = 0; i < net->count && !rc; i++) {
        layer *l = &net->layers[i];
        l->max_batch = max_batch;
        l->threads = threads;
        if (l->ops->setup(l, err)) /* scratch depends on batch and threads */
            rc = err ? err->status : CNN_EINVAL;
        else if (l->scratch_bytes > CNN_NET_MAX_BYTES)
            rc = cnn_fail(err, CNN_ENOMEM,
                          "layer %d (%s) needs %zu MiB of scratch for batch %d (the limit is "
                          "%zu MiB)",
                          i + 1, registry[l->spec.kind].name, l->scratch_bytes >> 20, max_batch,
                          (size_t)CNN_NET_MAX_BYTES >> 20);
        size_t out = unstored(net, i) ? 0 : cnn_shape_size(l->out);
        widest = out > widest ? out : widest; /* the gradients in flight */
        if (!in_place(net, i))
            bytes += align64(sizeof(float) * out * max_batch);
        if (l->ops->grads_read_dy)
            bytes += align64(sizeof(float) * out * max_batch);
        bytes += align64(l->scratch_bytes);
    }
    bytes += 2 * align64(sizeof(float) * widest * max_batch);
    bytes += align64(sizeof(float) * cnn_shape_size(net->input) * max_batch);
    if (!rc && bytes + 2 * sizeof(float) * net->nparams > CNN_NET_MAX_BYTES)
        rc = cnn_fail(err, CNN_ENOMEM,
                      "the network needs %zu MiB for batch %d (the limit is %zu MiB)",
                      (bytes + 2 * sizeof(float) * net->nparams) >> 20, max_batch,
                      (size_t)CNN_NET_MAX_BYTES >> 20);
    float **act = rc ? NULL : realloc(net->act, sizeof(float *) * (size_t)net->count);
    if (act)
        net->act = act;
    float **dy = rc || !act ? NULL : realloc(net->dy, sizeof(float *) * (size_t)net->count);
    if (dy)
        net->dy = dy;
    else if (!rc)
        rc = cnn_fail(err, CNN_ENOMEM, "out of memory");
    void *work = rc ? NULL : aligned_alloc(64, bytes);
    if (!work && !rc)
        rc = cnn_fail(err, CNN_ENOMEM, "out of memory for a %zu-byte workspace (batch %d)",
                      bytes, max_batch);
    if (rc) {
        /* the layers go back to the workspace they still have */
        int asked = net->keep_activations;
        net->keep_activations = net->kept_activations;
        set_fusion(net);
        net->keep_activations = asked;
        for (int i = 0; i < net->count; i++) {
            layer *l = &net->layers[i];
            l->max_batch = net->work ? net->max_batch : 1;
            l->threads = old_threads;
            l->ops->setup(l, NULL);
        }
        return rc;
    }
    free(net->work);
    net->work = work;
    char *p = work;
    for (int i = 0; i < net->count; i++) {
        layer *l = &net->layers[i];
        if (unstored(net, i)) {
            net->act[i] = NULL;
        } else if (in_place(net, i)) {
            net->act[i] = net->act[i - 1];
        } else {
            net->act[i] = (float *)p;
            p += align64(sizeof(float) * cnn_shape_size(l->out) * max_batch);
        }
        l->scratch = l->scratch_bytes ? p : NULL;
        p += align64(l->scratch_bytes);
        l->step = &net->step;
    }
    /* The gradient of layer j's output is written by layer j + 1 (or the
     * softmax's loss) and read by layer j, or by the convolution that does
     * layer j's work.  Two buffers take turns down the network, except
     * where grads reads it after the whole pass: that one is kept. */
    for (int k = 0; k < 2; k++) {
        net->turns[k] = (float *)p;
        p += align64(sizeof(float) * widest * max_batch);
    }
    net->widest = widest;
    for (int j = net->count - 2, k = 0; j >= 0; j--) {
        layer *l = &net->layers[j];
        if (net->layers[j + 1].folded) { /* never written */
            net->dy[j] = NULL;
        } else if (l->ops->grads_read_dy) {
            net->dy[j] = (float *)p;
            p += align64(sizeof(float) * cnn_shape_size(l->out) * max_batch);
        } else {
            net->dy[j] = net->turns[k];
            k = 1 - k;
        }
    }
    net->dy[net->count - 1] = NULL;
    net->input_grad = (float *)p;
    net->kept_activations = net->keep_activations;
    net->max_batch = max_batch;
    net->batch = 0;
    return CNN_OK;
}

void cnn_net_free(cnn_net *net)
{
    if (!net)
        return;
    free(net->layers);
    free(net->params);
    free(net->grads);
    free(net->act);
    free(net->dy);
    free(net->work);
    free(net);
}

/* ---- questions about a network ----------------------------------------- */

cnn_shape cnn_net_input_shape(const cnn_net *net) { return net->input; }
int cnn_net_layers(const cnn_net *net) { return net->count; }
int cnn_net_max_batch(const cnn_net *net) { return net->work ? net->max_batch : 0; }
cnn_layer_spec cnn_net_layer(const cnn_net *net, int i) { return net->layers[i].spec; }
cnn_shape cnn_net_layer_shape(const cnn_net *net, int i) { return net->layers[i].out; }
float *cnn_net_params(cnn_net *net) { return net->params; }
float *cnn_net_grads(cnn_net *net) { return net->grads; }
size_t cnn_net_param_count(const cnn_net *net) { return net->nparams; }
float *cnn_net_layer_weights(cnn_net *net, int i) { return net->layers[i].w; }
float *cnn_net_layer_bias(cnn_net *net, int i) { return net->layers[i].b; }
const float *cnn_net_output(const cnn_net *net) { return net->act[net->count - 1]; }
void cnn_net_want_input_grad(cnn_net *net, int on) { net->want_input_grad = on; }
void cnn_net_set_threads(cnn_net *net, int threads) { net->threads = threads > 0 ? threads : 0; }
int cnn_net_threads(const cnn_net *net) { return net_threads(net); }
const float *cnn_net_input_grad(const cnn_net *net)
{
    return net->want_input_grad ? net->input_grad : NULL;
}
uint64_t net_step(const cnn_net *net) { return net->step; }
int net_threads(const cnn_net *net) { return net->layers[0].threads; }
void net_set_step(cnn_net *net, uint64_t step) { net->step = step; }

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
    double out = (double)cnn_shape_size(l->out);
    switch (l->spec.kind) {
    case CNN_CONV: return 2.0 * out * l->in.c * l->spec.kh * l->spec.kw;
    case CNN_DENSE: return 2.0 * out * (double)cnn_shape_size(l->in);
    case CNN_MAXPOOL: case CNN_AVGPOOL: case CNN_SUMPOOL:
        return out * l->spec.kh * l->spec.kw;
    default: return out;
    }
}

const float *cnn_net_activation(const cnn_net *net, int i)
{
    return i < 0 ? net->x : net->act[i];
}

/* ---- running ----------------------------------------------------------- */

void image_share(int n, int t, int threads, int *first, int *last)
{
    int groups = grad_groups(n);
    if (threads <= groups) {
        *first = group_first(n, (int)((long)groups * t / threads));
        *last = group_first(n, (int)((long)groups * (t + 1) / threads));
    } else {
        *first = (int)((long)n * t / threads);
        *last = (int)((long)n * (t + 1) / threads);
    }
}

static int thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

void split_range(long first, long last, int threads, range_fn *run, const void *ctx)
{
    if (threads <= 1) {
        run(ctx, first, last);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        long t = thread_num(), all = team_size(), count = last - first;
        run(ctx, first + count * t / all, first + count * (t + 1) / all);
    }
}

void split_images(images im, long per_image, long unit_values, range_fn *run, const void *ctx)
{
    long first = im.first * per_image, last = im.last * per_image;
    split_range(first, last, (last - first) * unit_values > PARALLEL_MIN ? im.threads : 1, run,
                ctx);
}

/* A pass over a batch of n on up to `threads` threads: each(ctx, im) on
 * every thread with its share of the images, then, once every thread is
 * done, after(ctx, part, parts) on each (if after is given; such a pass
 * has no more threads than gradient groups, so each takes whole groups).
 * A single image goes to one thread, whose layers may split it among
 * `threads` themselves.  With one thread no parallel region is opened: a
 * region inside it would be a nested one, whose threads OpenMP makes anew
 * every time. */
static void run_pass(int n, int threads, void (*each)(void *ctx, images im),
                     void (*after)(void *ctx, int part, int parts), void *ctx)
{
    int most = after ? grad_groups(n) : n;
    int team = n == 1 ? 1 : threads < most ? threads : most;
    if (team == 1) {
        each(ctx, (images){n, 0, n, 0, n == 1 ? threads : 1});
        if (after)
            after(ctx, 0, 1);
        return;
    }
#pragma omp parallel num_threads(team)
    {
        images im = {n, 0, n, thread_num(), 1};
        image_share(n, im.thread, team_size(), &im.first, &im.last);
        each(ctx, im);
        if (after) {
#pragma omp barrier
            after(ctx, im.thread, team_size());
        }
    }
}

/* One layer standing alone, for layer_forward and layer_backward. */
typedef struct {
    layer *l;
    const float *x, *y, *dy;
    float *out; /* forward: y; backward: dx */
    int n, training;
} alone;

static void alone_forward(void *ctx, images im)
{
    alone *a = ctx;
    a->l->ops->forward(a->l, a->x, a->out, im, a->training);
}

static void alone_backward(void *ctx, images im)
{
    alone *a = ctx;
    a->l->ops->backward(a->l, a->x, a->y, a->dy, a->out, im);
}

static void alone_grads(void *ctx, int part, int parts)
{
    alone *a = ctx;
    a->l->ops->grads(a->l, a->x, a->dy, a->n, part, parts, (grads_done){0});
}

void layer_forward(layer *l, const float *x, float *y, int n, int training)
{
    alone a = {l, x, NULL, NULL, y, n, training};
    run_pass(n, l->threads, alone_forward, NULL, &a);
}

void layer_backward(layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    alone a = {l, x, y, dy, dx, n, 0};
    run_pass(n, l->threads, alone_backward, l->ops->grads ? alone_grads : NULL, &a);
}

/* A pass of the whole network. */
typedef struct {
    cnn_net *net;
    const uint8_t *labels; /* backward */
    int training;          /* forward  */
    images_in in;          /* training step: who fills in the images */
    grads_done done;       /* training step: the optimiser's update */
    double group_loss[GRAD_GROUPS]; /* training step: each group's loss */
    int group_right[GRAD_GROUPS];   /* ... and correct arg-maxes         */
    float loss; /* training step: the mean over the batch */
    int correct;
} whole;

/* One thread's images through every layer: it waits for no other. */
static void forward_images(void *ctx, images im)
{
    const whole *w = ctx;
    cnn_net *net = w->net;
    const float *in = net->x;
    for (int i = 0; i < net->count; i++) {
        layer *l = &net->layers[i];
        if (!l->folded)
            l->ops->forward(l, in, net->act[out_of(net, i)], im, w->training);
        in = net->act[i];
    }
}

/* What a forward needs checked and set before it starts. */
static int begin_forward(cnn_net *net, const float *x, int n, int training, cnn_error *err)
{
    if (!net->work)
        return cnn_fail(err, CNN_EINVAL, "call cnn_net_init before running the network");
    if (n < 1 || n > net->max_batch)
        return cnn_fail(err, CNN_EINVAL, "batch of %d images: the network was set up for 1..%d",
                        n, net->max_batch);
    net->x = x;
    net->batch = n;
    if (training)
        net->step++;
    return CNN_OK;
}

int cnn_forward(cnn_net *net, const float *x, int n, int training, cnn_error *err)
{
    int rc = begin_forward(net, x, n, training, err);
    if (rc)
        return rc;
    whole w = {.net = net, .training = training};
    run_pass(n, net_threads(net), forward_images, NULL, &w);
    return CNN_OK;
}

static const float *scores(const cnn_net *net)
{
    return net->count > 1 ? net->act[net->count - 2] : net->x;
}

float cnn_loss(const cnn_net *net, const uint8_t *labels, int n, int *correct)
{
    return (float)softmax_cross_entropy(scores(net), labels, n, cnn_net_classes(net),
                                        cnn_net_output(net), correct);
}

/* Where the thread whose images start at `first` finds layer j's output
 * gradient.  The two buffers that take turns hold gradients of layers of
 * different sizes, and a thread goes on down the network without waiting
 * for the others: so each thread's images stay in its own slice of them,
 * image `first` at first * widest floats, as if every layer were the
 * widest. */
static float *gradient(const cnn_net *net, int j, int first)
{
    float *g = net->dy[j];
    if (g == net->turns[0] || g == net->turns[1])
        g += (size_t)first * (net->widest - cnn_shape_size(net->layers[j].out));
    return g;
}

/* Where the gradient of layer i's input goes: the layer below's gradient,
 * or for the first layer the input gradient when one is wanted. */
static float *gradient_below(const cnn_net *net, int i, int first)
{
    return i > 0 ? gradient(net, i - 1, first) : net->want_input_grad ? net->input_grad : NULL;
}

/* One thread's images' gradients down the network, from the loss to the
 * input: it waits for no other. */
static void backward_images(void *ctx, images im)
{
    const whole *w = ctx;
    cnn_net *net = w->net;
    int top = net->count - 2, k = cnn_net_classes(net);
    /* the fused softmax + loss gradient, below the softmax (layer top + 1) */
    float *dz = gradient_below(net, top + 1, im.first);
    if (dz)
        softmax_cross_entropy_grad(cnn_net_output(net), w->labels, im.n, im.first, im.last, k, dz);
    for (int i = top; i >= 0; i--) {
        layer *l = &net->layers[i];
        if (l->folded) /* the convolution below takes dy as it is */
            continue;
        l->ops->backward(l, i > 0 ? net->act[i - 1] : net->x, net->act[out_of(net, i)],
                         gradient(net, out_of(net, i), im.first), gradient_below(net, i, im.first),
                         im);
    }
}

/* Part `part` of `parts` of every weight gradient, once every image's
 * backward is done, each range handed on as it is finished. */
static void weight_grads(void *ctx, int part, int parts)
{
    const whole *w = ctx;
    cnn_net *net = w->net;
    int n = net->batch;
    grads_done done = w->done;
    done.threads = parts > 1 ? 1 : net_threads(net);
    for (int i = net->count - 2; i >= 0; i--) {
        layer *l = &net->layers[i];
        if (l->ops->grads)
            l->ops->grads(l, i > 0 ? net->act[i - 1] : net->x, net->dy[out_of(net, i)], n, part,
                          parts, done);
    }
}

int labels_in_classes(const cnn_net *net, const uint8_t *labels, int n, cnn_error *err)
{
    int k = cnn_net_classes(net);
    for (int i = 0; labels && i < n; i++)
        if (labels[i] >= k)
            return cnn_fail(err, CNN_EINVAL, "label %d of image %d is not a class (0..%d)",
                            labels[i], i, k - 1);
    return CNN_OK;
}

static int trainable(const cnn_net *net, cnn_error *err)
{
    if (net->layers[net->count - 1].spec.kind != CNN_SOFTMAX)
        return cnn_fail(err, CNN_EINVAL, "training needs a softmax as the last layer");
    return CNN_OK;
}

int cnn_backward(cnn_net *net, const uint8_t *labels, int n, cnn_error *err)
{
    if (n != net->batch)
        return cnn_fail(err, CNN_EINVAL, "backward over %d images after a forward over %d", n,
                        net->batch);
    int rc = trainable(net, err);
    if (rc || (rc = labels_in_classes(net, labels, n, err)))
        return rc;
    whole w = {.net = net, .labels = labels, .training = 1};
    run_pass(n, net_threads(net), backward_images, weight_grads, &w);
    return CNN_OK;
}

/* A training step's images, forward then back, on one thread; on the way,
 * the loss of each of their gradient groups (the thread holds whole
 * groups: run_pass with an `after`). */
static void train_images(void *ctx, images im)
{
    whole *w = ctx;
    cnn_net *net = w->net;
    if (w->in.fn)
        w->in.fn(w->in.ctx, im.first, im.last);
    forward_images(ctx, im);
    for (int gi = 0; gi < grad_groups(im.n); gi++) {
        int first = group_first(im.n, gi), last = group_first(im.n, gi + 1);
        if (first >= im.first && last <= im.last)
            w->group_loss[gi] =
                softmax_cross_entropy_sum(scores(net), w->labels, first, last,
                                          cnn_net_classes(net), cnn_net_output(net),
                                          &w->group_right[gi]);
    }
    backward_images(ctx, im);
}

/* Every thread adds up the groups' losses in the same order; only a
 * finite loss goes on to the weight gradients and the update. */
static void train_grads(void *ctx, int part, int parts)
{
    whole *w = ctx;
    double sum = 0.0;
    int right = 0;
    for (int gi = 0; gi < grad_groups(w->net->batch); gi++)
        sum += w->group_loss[gi], right += w->group_right[gi];
    float loss = (float)(sum / w->net->batch);
    if (part == 0)
        w->loss = loss, w->correct = right;
    if (isfinite(loss))
        weight_grads(ctx, part, parts);
}

int net_train_pass(cnn_net *net, images_in in, const float *x, const uint8_t *labels, int n,
                   grads_done done, float *loss, int *correct, cnn_error *err)
{
    int rc = trainable(net, err);
    if (rc || (!in.fn && (rc = labels_in_classes(net, labels, n, err))) ||
        (rc = begin_forward(net, x, n, 1, err)))
        return rc;
    whole w = {.net = net, .labels = labels, .training = 1, .in = in, .done = done};
    run_pass(n, net_threads(net), train_images, train_grads, &w);
    *loss = w.loss;
    if (correct)
        *correct = w.correct;
    return CNN_OK;
}
