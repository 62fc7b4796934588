/* The plan: built once from the layer list by cnn_net_init, it says which
 * layer runs as which step and where every buffer of the workspace lives.
 *
 * Fusion is decided here and only here: a ReLU right after a convolution,
 * and a 2x2 stride-2 max-pool right after that (or right after the conv),
 * become the conv's epilogue, done on data still in cache, so that the
 * conv's full-size output and its gradient never exist.  Other activations
 * write their output over their input (their backward needs y alone).  An
 * unfused plan (cnn_net_keep_activations) runs every layer as its own step
 * and keeps every output: the reference the tests compare the fused plan
 * against, bit for bit.
 *
 * Memory: one output buffer per step (none for an in-place activation),
 * the gradients in flight in two buffers that take turns down the network
 * (a layer whose grads reads dy after the whole pass gets its own), the
 * arg-max of each max-pool, each thread's scratch and cache, the input
 * gradient. */
#include "net.h"

#include <stdlib.h>
#include <string.h>

/* Each thread's scratch is followed by this much address space that
 * nothing touches (the pages are never made resident): with the threads'
 * buffers back to back, the prefetchers of one core ran into the next
 * one's and the two traded lines (docs/performance.md, "each thread's conv
 * buffers 1 MiB apart"). */
enum { THREAD_APART = 1 << 20 };

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The step that starts at layer i: the layer itself, and in a fused plan a
 * conv's ReLU and 2x2 max-pool. */
static plan_step step_at(const layer *layers, int count, int i, int threads, int fused)
{
    plan_step s = {.layer = i, .top = i};
    const layer *l = &layers[i];
    if (fused && l->spec.kind == CNN_CONV) {
        if (s.top + 1 < count && layers[s.top + 1].spec.kind == CNN_RELU)
            s.ep.relu = 1, s.top++;
        if (s.top + 1 < count && whole_2x2_max(&layers[s.top + 1]))
            s.ep.pool = 1, s.top++;
        s.ep.stream = threads > 1 && s.top + 1 < count && kind_of(&layers[s.top + 1])->reads_x;
    }
    s.ep.out = layers[s.top].out;
    return s;
}

/* An activation writes over its input: the output of the step below. */
static int in_place(const plan *p, const layer *layers, const plan_step *s)
{
    return p->fused && s->layer > 0 && kind_of(&layers[s->layer])->activation;
}

/* Offsets of step s's output, arg-max, scratch and shared scratch, from
 * `at` on; returns where the next buffer may start. */
static size_t lay_out_step(plan *p, const layer *layers, plan_step *s, size_t at)
{
    const layer *l = &layers[s->layer];
    size_t per = cnn_shape_size(s->ep.out), n = (size_t)p->max_batch;
    s->in_place = in_place(p, layers, s);
    s->y_at = at;
    if (!s->in_place)
        at += align64(sizeof(float) * per * n);
    if (layers[s->top].spec.kind == CNN_MAXPOOL) {
        s->argmax_at = at;
        at += align64(sizeof(int) * per * n);
    }
    size_t scratch = l->ops->scratch_bytes ? l->ops->scratch_bytes(l, &s->ep) : 0;
    s->scratch_stride = scratch ? align64(scratch) + THREAD_APART : 0;
    s->scratch_at = at;
    at += s->scratch_stride * (size_t)p->threads;
    s->cache_stride = l->ops->cache_bytes ? align64(l->ops->cache_bytes(l)) : 0;
    s->cache_at = at;
    at += s->cache_stride * (size_t)p->threads;
    s->shared_at = at;
    return at + align64(l->shared_bytes);
}

/* The gradients of the steps' outputs: written by the step above (or the
 * softmax's loss), read by the step itself.  Two buffers take turns down
 * the network; a layer whose grads reads dy after the whole pass keeps
 * its own. */
static size_t lay_out_gradients(plan *p, const layer *layers, size_t at)
{
    size_t n = (size_t)p->max_batch;
    p->widest = 0;
    for (int s = 0; s < p->count; s++) {
        size_t per = cnn_shape_size(p->steps[s].ep.out);
        p->widest = per > p->widest ? per : p->widest;
    }
    p->turns_at = at;
    at += 2 * align64(sizeof(float) * p->widest * n);
    for (int s = p->count - 2, k = 0; s >= 0; s--) {
        plan_step *st = &p->steps[s];
        if (kind_of(&layers[st->layer])->keeps_dy) {
            st->dy_at = at;
            at += align64(sizeof(float) * cnn_shape_size(st->ep.out) * n);
        } else {
            st->dy_turns = 1 + k; /* which of the two, plus one */
            k = 1 - k;
        }
    }
    p->input_grad_at = at;
    return at + align64(sizeof(float) * cnn_shape_size(layers[0].in) * n);
}

int plan_make(plan *p, const layer *layers, int count, int max_batch, int threads, int fused,
              cnn_error *err)
{
    memset(p, 0, sizeof *p);
    p->max_batch = max_batch, p->threads = threads, p->fused = fused;
    p->steps = calloc((size_t)count, sizeof *p->steps);
    p->act = calloc((size_t)count, sizeof *p->act);
    if (!p->steps || !p->act) {
        plan_free(p);
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < count; i = p->steps[p->count++].top + 1)
        p->steps[p->count] = step_at(layers, count, i, threads, fused);
    size_t at = 0;
    for (int s = 0; s < p->count; s++)
        at = lay_out_step(p, layers, &p->steps[s], at);
    p->bytes = lay_out_gradients(p, layers, at);
    return CNN_OK;
}

void plan_point(plan *p, void *work)
{
    char *base = work;
    for (int s = 0; s < p->count; s++) {
        plan_step *st = &p->steps[s];
        st->y = st->in_place ? p->steps[s - 1].y : (float *)(base + st->y_at);
        st->argmax = st->argmax_at ? (int *)(base + st->argmax_at) : NULL;
        st->scratch = st->scratch_stride ? base + st->scratch_at : NULL;
        st->cache = st->cache_stride ? base + st->cache_at : NULL;
        if (st->cache) /* nothing cached yet: all zeros is a layer's "empty" */
            memset(st->cache, 0, st->cache_stride * (size_t)p->threads);
        st->shared = base + st->shared_at;
        for (int i = st->layer; i < st->top; i++)
            p->act[i] = st->ep.pool ? NULL : st->y;
        p->act[st->top] = st->y;
    }
    for (int k = 0; k < 2; k++)
        p->turns[k] = (float *)(base + p->turns_at +
                                (size_t)k * align64(sizeof(float) * p->widest * p->max_batch));
    for (int s = 0; s + 1 < p->count; s++) {
        plan_step *st = &p->steps[s];
        st->dy = st->dy_turns ? p->turns[st->dy_turns - 1] : (float *)(base + st->dy_at);
    }
    p->input_grad = (float *)(base + p->input_grad_at);
}

void plan_free(plan *p)
{
    free(p->steps);
    free(p->act);
    memset(p, 0, sizeof *p);
}

float *plan_dy(const plan *p, const plan_step *s, int first)
{
    /* The two buffers that take turns hold gradients of steps of different
     * sizes, and a thread goes on down the network without waiting for the
     * others: so each thread's images stay in its own slice of them, image
     * `first` at first * widest floats, as if every step were the widest. */
    if (s->dy_turns)
        return s->dy + (size_t)first * (p->widest - cnn_shape_size(s->ep.out));
    return s->dy;
}
