/* The executor: how a batch is shared among threads.  Everything about
 * threads in the core is in this file (and, for one image split among
 * threads, in kernels/gemm_threads.c); the layers read like the
 * single-threaded math.
 *
 * A batch of several images is shared by image: each thread carries its
 * own images through every step without waiting for the others, in one
 * parallel region per pass, and uses its own slice of each step's scratch.
 * The shares are whole gradient groups (layer.h), so that a weight
 * gradient, summed per group and then over the groups in order, is the
 * same bits for any thread count.  A batch of one image goes to one
 * thread, whose products may use them all. */
#include "net.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many parameters an update stays on one thread: the seed
 * network (13.6k) steps once per image, and waking a second thread costs
 * more than its share. */
enum { UPDATE_PARALLEL_MIN = 1 << 15 };

int run_threads(const cnn_net *net)
{
#ifdef _OPENMP
    return net->threads > 0 ? net->threads : omp_get_max_threads();
#else
    (void)net;
    return 1;
#endif
}

void team_groups(const cnn_net *net, int *g0, int *g1)
{
    *g0 = GRAD_GROUPS * net->rank / net->ranks;
    *g1 = GRAD_GROUPS * (net->rank + 1) / net->ranks;
}

void image_share(int n, int g0, int g1, int t, int threads, int *first, int *last)
{
    int groups = g1 - g0;
    if (threads <= groups) {
        *first = group_first(n, g0 + (int)((long)groups * t / threads));
        *last = group_first(n, g0 + (int)((long)groups * (t + 1) / threads));
    } else {
        int from = group_first(n, g0), count = group_first(n, g1) - from;
        *first = from + (int)((long)count * t / threads);
        *last = from + (int)((long)count * (t + 1) / threads);
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

static int region_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* A thread's part of a pass: images [first, last) of n, as thread `thread`,
 * with `threads` for the products of a single image; `groups`: the
 * gradient groups of this process. */
typedef struct {
    int n, first, last, thread, threads;
    unsigned groups;
} share;

/* each(ctx, share) on every thread with its images of this process's
 * groups [g0, g1); then, once all are done, after(ctx, part, parts) on
 * each (if given: such a pass has no more threads than gradient groups, so
 * each takes whole groups).  With one thread no parallel region is opened:
 * a region inside it would be a nested one, whose threads OpenMP makes anew
 * every time. */
static void run_pass(int n, int g0, int g1, int threads, void (*each)(void *ctx, share s),
                     void (*after)(void *ctx, int part, int parts), void *ctx)
{
    int from = group_first(n, g0), to = group_first(n, g1);
    unsigned groups = groups_within(n, from, to);
    int most = after ? g1 - g0 : to - from;
    int crew = n == 1 || most < 1 ? 1 : threads < most ? threads : most;
    if (crew == 1) {
        each(ctx, (share){n, from, to, 0, n == 1 ? threads : 1, groups});
        if (after)
            after(ctx, 0, 1);
        return;
    }
#pragma omp parallel num_threads(crew)
    {
        /* the crew may be smaller than asked (inside another region) */
        int size = region_size();
        share s = {n, 0, n, thread_num(), 1, groups};
        image_share(n, g0, g1, s.thread, size, &s.first, &s.last);
        each(ctx, s);
        if (after) {
#pragma omp barrier
            after(ctx, s.thread, size);
        }
    }
}

/* ---- a network's passes ------------------------------------------------- */

typedef struct {
    cnn_net *net;
    const image_batch *b;
    const cnn_label *labels;
    const optim_update *u;
    int training;
} pass;

/* What layer `s` gets for a call on this share of the batch. */
static layer_call call_of(const cnn_net *net, const plan_step *s, share sh, int training)
{
    return (layer_call){.n = sh.n, .first = sh.first, .last = sh.last, .groups = sh.groups,
                        .threads = sh.threads, .training = training, .step = net->step,
                        .scratch = s->scratch ? s->scratch + (size_t)sh.thread * s->scratch_stride
                                              : NULL,
                        .cache = s->cache ? s->cache + (size_t)sh.thread * s->cache_stride : NULL,
                        .shared = s->shared, .argmax = s->argmax, .ep = s->ep};
}

static const float *input_of(const cnn_net *net, int s)
{
    return s > 0 ? net->plan.steps[s - 1].y : net->x;
}

static void forward_share(void *ctx, share sh)
{
    const pass *w = ctx;
    cnn_net *net = w->net;
    if (w->b->fill)
        w->b->fill(w->b->ctx, sh.first, sh.last);
    for (int s = 0; s < net->plan.count; s++) {
        const plan_step *st = &net->plan.steps[s];
        const layer *l = &net->layers[st->layer];
        layer_call c = call_of(net, st, sh, w->training);
        l->ops->forward(l, input_of(net, s), st->y, &c);
    }
}

void run_forward(cnn_net *net, const image_batch *b, int training)
{
    pass w = {.net = net, .b = b, .training = training};
    int g0, g1;
    team_groups(net, &g0, &g1);
    run_pass(b->n, g0, g1, run_threads(net), forward_share, NULL, &w);
}

/* Where the gradient of step s's input goes: the step below's dy, or for
 * the first the input gradient when one is wanted. */
static float *gradient_below(const cnn_net *net, int s, int first)
{
    const plan *p = &net->plan;
    return s > 0 ? plan_dy(p, &p->steps[s - 1], first)
                 : net->want_input_grad ? p->input_grad : NULL;
}

static void backward_share(void *ctx, share sh)
{
    const pass *w = ctx;
    cnn_net *net = w->net;
    const plan *p = &net->plan;
    int top = p->count - 1, k = cnn_net_classes(net);
    /* the fused softmax + loss gradient, below the softmax (the top step) */
    float *dz = gradient_below(net, top, sh.first);
    if (dz)
        softmax_cross_entropy_grad(p->steps[top].y, w->labels, sh.n, sh.first, sh.last, k, dz);
    for (int s = top - 1; s >= 0; s--) {
        const plan_step *st = &p->steps[s];
        const layer *l = &net->layers[st->layer];
        layer_call c = call_of(net, st, sh, 1);
        l->ops->backward(l, input_of(net, s), st->y, plan_dy(p, st, sh.first),
                         gradient_below(net, s, sh.first), &c);
    }
}

/* A team member's part of layer l's weight gradient, posted to the team:
 * alone on its core, a big layer in pieces as each is summed (one travels
 * while the next is summed; a message costs microseconds, so a piece is
 * at least PIECE_MIN floats); else the layer whole, once all threads are
 * done, from the thread that talks to the team. */
enum { TEAM_PIECES = 8, PIECE_MIN = 1 << 17 };

static void team_layer(cnn_net *net, const layer *l, const layer_call *c, const float *x,
                       const float *dy, int part, int parts)
{
    size_t at = (size_t)(l->dw - net->grads);
    param_range done[2];
    if (parts == 1) {
        size_t np = l->nweights + l->nbias;
        int pieces = np / PIECE_MIN < TEAM_PIECES ? (int)(np / PIECE_MIN) + 1 : TEAM_PIECES;
        for (int piece = 0; piece < pieces; piece++) {
            int ranges = l->ops->grads(l, x, dy, c, piece, pieces, done);
            for (int r = 0; r < ranges; r++)
                team_post(net, at + done[r].from, at + done[r].to);
        }
        return;
    }
    l->ops->grads(l, x, dy, c, part, parts, done);
#pragma omp barrier
#pragma omp master
    team_post(net, at, at + l->nweights + l->nbias);
}

/* Part `part` of `parts` of every weight gradient, top layer first; each
 * range is updated as soon as it is summed, while it is in this core's
 * cache.  In a team, each layer's sum instead sets off to the other
 * members once every part of it is done (from this thread, the one that
 * talks to them), while the layers below are summed. */
static void weight_grads(void *ctx, int part, int parts)
{
    const pass *w = ctx;
    cnn_net *net = w->net;
    const plan *p = &net->plan;
    int n = net->batch, g0, g1;
    team_groups(net, &g0, &g1);
    int first = group_first(n, g0), last = group_first(n, g1);
    share whole = {n, first, last, part, 1, groups_within(n, first, last)};
    for (int s = p->count - 2; s >= 0; s--) {
        const plan_step *st = &p->steps[s];
        const layer *l = &net->layers[st->layer];
        if (!l->ops->grads)
            continue;
        layer_call c = call_of(net, st, whole, 1);
        if (net->team) {
            team_layer(net, l, &c, input_of(net, s), st->dy, part, parts);
            continue;
        }
        param_range done[2];
        int ranges = l->ops->grads(l, input_of(net, s), st->dy, &c, part, parts, done);
        size_t at = (size_t)(l->dw - net->grads);
        for (int r = 0; w->u && r < ranges; r++)
            if (parts > 1)
                optim_apply(w->u, at + done[r].from, at + done[r].to);
            else
                run_update(net, w->u, at + done[r].from, at + done[r].to);
    }
}

int run_backward(cnn_net *net, const cnn_label *labels, const optim_update *u, cnn_error *err)
{
    pass w = {.net = net, .labels = labels, .u = u, .training = 1};
    int g0, g1;
    team_groups(net, &g0, &g1);
    /* a member alone on its core updates each range as the team's sum of
     * it arrives; one with threads, all at once on them */
    int alone = run_threads(net) == 1;
    team_begin_step(net, alone ? u : NULL);
    run_pass(net->batch, g0, g1, run_threads(net), backward_share, weight_grads, &w);
    if (!net->team)
        return CNN_OK;
    int rc = team_finish_step(net, err);
    if (rc == CNN_OK && u && !alone)
        run_update(net, u, 0, net->nparams);
    return rc;
}

void run_update(const cnn_net *net, const optim_update *u, size_t from, size_t to)
{
    int threads = to - from > UPDATE_PARALLEL_MIN ? run_threads(net) : 1;
    if (threads <= 1) {
        optim_apply(u, from, to);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        size_t t = (size_t)thread_num(), size = (size_t)region_size(), count = to - from;
        optim_apply(u, from + count * t / size, from + count * (t + 1) / size);
    }
}

/* ---- a layer standing alone --------------------------------------------- */

typedef struct {
    lone_layer *t;
    const float *x, *y, *dy;
    float *out; /* forward: y; backward: dx */
    int n, training;
} lone_pass;

static layer_call lone_call(const lone_layer *t, share sh, int training)
{
    char *scratch = t->scratch ? (char *)t->scratch + (size_t)sh.thread * t->scratch_stride : NULL;
    return (layer_call){.n = sh.n, .first = sh.first, .last = sh.last, .groups = sh.groups,
                        .threads = sh.threads, .training = training, .step = t->step,
                        .scratch = scratch,
                        .shared = t->shared, .argmax = t->argmax, .ep = {.out = t->l.out}};
}

static void lone_forward(void *ctx, share sh)
{
    lone_pass *a = ctx;
    layer_call c = lone_call(a->t, sh, a->training);
    a->t->l.ops->forward(&a->t->l, a->x, a->out, &c);
}

static void lone_backward(void *ctx, share sh)
{
    lone_pass *a = ctx;
    layer_call c = lone_call(a->t, sh, 1);
    a->t->l.ops->backward(&a->t->l, a->x, a->y, a->dy, a->out, &c);
}

static void lone_grads(void *ctx, int part, int parts)
{
    lone_pass *a = ctx;
    param_range done[2];
    layer_call c = lone_call(a->t, (share){a->n, 0, a->n, part, 1, groups_present(a->n)}, 1);
    a->t->l.ops->grads(&a->t->l, a->x, a->dy, &c, part, parts, done);
}

void layer_forward(lone_layer *t, const float *x, float *y, int n, int training)
{
    lone_pass a = {t, x, NULL, NULL, y, n, training};
    run_pass(n, 0, GRAD_GROUPS, t->threads, lone_forward, NULL, &a);
}

void layer_backward(lone_layer *t, const float *x, const float *y, const float *dy, float *dx,
                    int n)
{
    lone_pass a = {t, x, y, dy, dx, n, 1};
    run_pass(n, 0, GRAD_GROUPS, t->threads, lone_backward, t->l.ops->grads ? lone_grads : NULL, &a);
}
