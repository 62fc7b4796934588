/* The private side of a layer: a small common header and a table of
 * functions per kind.  Adding a layer kind means one file with its table and
 * one line in the registry (net.c). */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include "cnn.h"

typedef struct layer layer;

/* Weight gradients of a batch are summed per fixed group of images, then
 * the groups are added in order: the result does not depend on how many
 * threads share the batch (at most this many do in a backward pass). */
enum { GRAD_GROUPS = 8 };

/* The gradient groups of a batch of n: GRAD_GROUPS, or one per image. */
static inline int grad_groups(int n) { return n < GRAD_GROUPS ? n : GRAD_GROUPS; }

/* The first image of gradient group g of a batch of n (g = grad_groups(n):
 * n): the one definition of the groups, whose sums fix every result. */
static inline int group_first(int n, int g) { return (int)((long)n * g / grad_groups(n)); }

/* The images [first, last) that thread t of `threads` carries through a
 * batch of n: whole gradient groups when there are no more threads than
 * groups, so that forward and backward give a thread the same images (and
 * it finds them in its own cache); else an even share. */
void image_share(int n, int t, int threads, int *first, int *last);

/* Below this many values element-wise work on one image stays on one
 * thread: waking another costs more than it saves.  (A batch of several
 * images is shared by image already.) */
enum { PARALLEL_MIN = 1 << 16 };

/* run(ctx, from, to) over [first, last), cut into `threads` runs each on
 * its own thread; with one, on the caller's alone and no parallel region. */
typedef void range_fn(const void *ctx, long from, long to);
void split_range(long first, long last, int threads, range_fn *run, const void *ctx);

/* A whole batch through one layer standing alone, shared among its threads
 * as a network shares it (tests, the per-layer profile of cnn bench);
 * backward includes the weight gradients. */
void layer_forward(layer *l, const float *x, float *y, int n, int training);
void layer_backward(layer *l, const float *x, const float *y, const float *dy, float *dx, int n);

/* Which images of a batch one call covers.  A batch of several images is
 * shared among threads, each carrying its own images through every layer
 * (see image_share); a layer then runs on the calling thread alone, and
 * threads > 1 only for a batch of one image, which its layers may split. */
typedef struct {
    int n;           /* images in the batch                          */
    int first, last; /* this call's images: [first, last)            */
    int thread;      /* which thread's share of the scratch it uses   */
    int threads;     /* threads the call may start itself             */
} images;

/* An element-wise layer's run over the images im covers, `per_image`
 * units (values, planes) of `unit_values` values each: run gets units of
 * the batch, [from, to), shared among im.threads above PARALLEL_MIN
 * values. */
void split_images(images im, long per_image, long unit_values, range_fn *run, const void *ctx);

/* Where a layer's grads hands on a finished range of the gradient buffer:
 * training updates those parameters at once, while the gradients are still
 * in this core's cache.  fn NULL: nobody waits for them. */
typedef struct {
    void (*fn)(void *ctx, const float *grad, size_t count, int threads);
    void *ctx;
    int threads; /* fn may use this many (1 inside a parallel region) */
} grads_done;
static inline void hand_on(grads_done done, const float *grad, size_t count)
{
    if (done.fn && count)
        done.fn(done.ctx, grad, count, done.threads);
}
typedef struct {
    /* From l->in and l->spec: set l->out, l->nweights, l->nbias and
     * l->scratch_bytes (per max_batch = l->max_batch, threads = l->threads);
     * refuse a shape that cannot work. */
    int (*setup)(layer *l, cnn_error *err);
    /* y = f(x) for the images im covers (x and y point at the batch's first
     * image).  training enables dropout. */
    void (*forward)(layer *l, const float *x, float *y, images im, int training);
    /* Given dy = dL/dy: writes dL/dx of the images im covers into dx (if dx
     * is not NULL), and the part of dL/dw, dL/db that needs those images
     * only (conv: the sums of its gradient groups). */
    void (*backward)(layer *l, const float *x, const float *y, const float *dy, float *dx,
                     images im);
    /* Once every image's backward is done: writes part `part` of `parts` of
     * dL/dw, dL/db into l->dw, l->db (overwritten, not accumulated), from
     * all n images, and hands each range it finished to `done` (the parts
     * cover every parameter once).  NULL for a layer without parameters. */
    void (*grads)(layer *l, const float *x, const float *dy, int n, int part, int parts,
                  grads_done done);
    /* grads reads dy: the network keeps it to the end of the backward pass. */
    int grads_read_dy;
    /* grads reads every image's x: the layer below, if it can, writes it
     * with streaming stores (stream_out), for the other threads to read. */
    int grads_read_x;
} layer_ops;

struct layer {
    cnn_layer_spec spec;
    const layer_ops *ops;
    cnn_shape in, out;
    size_t nweights, nbias;
    float *w, *b;   /* into the network's parameter buffer */
    float *dw, *db; /* into its gradient buffer            */
    void *scratch;  /* into its workspace                  */
    size_t scratch_bytes;
    int max_batch, threads;
    /* Fusion, decided by cnn_net_init (net.c).  relu_out: the next layer
     * is a ReLU run in place and this conv does its work (y gets max(0, .),
     * dy is taken where y > 0).  pool_out: next (after that ReLU, if any),
     * a 2x2 stride-2 max-pool whose output and arg-max this conv writes as
     * well, so its own full-size output never exists.  folded: this layer's work is done
     * by the conv below it, and the net skips it. */
    int relu_out, folded;
    struct layer *pool_out;
    /* The output (its pool's, if fused) goes to a layer whose grads reads
     * every image's input: written with streaming stores (a conv). */
    int stream_out;
    uint64_t seed;        /* dropout: mask stream          */
    const uint64_t *step; /* dropout: the training step    */
};

extern const layer_ops conv_ops, activation_ops, pool_ops, dense_ops, dropout_ops,
    flatten_ops, softmax_ops;

/* How a conv (set up) computes: "winograd", "shifted" or "im2col". */
const char *conv_method(const layer *l);

/* Whether a pooling layer has 2x2 windows moved by 2, every one whole. */
static inline int whole_2x2_max(const layer *l)
{
    const cnn_layer_spec *s = &l->spec;
    return s->kind == CNN_MAXPOOL && s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2 &&
           2 * l->out.h <= l->in.h && 2 * l->out.w <= l->in.w;
}

/* Output size of a sliding window: floor((in + 2 pad - k) / s) + 1, or with
 * ceil_mode the ceiling, dropping a last window that would start in the
 * padding (PyTorch's rule).  Returns <= 0 when the window does not fit. */
int window_out(int in, int k, int s, int pad, int ceil_mode);

/* The fused softmax + cross-entropy (softmax.c): the mean loss over n
 * images, and the sum over images [first, last). */
double softmax_cross_entropy(const float *z, const uint8_t *labels, int n, int k,
                             const float *p, int *correct);
double softmax_cross_entropy_sum(const float *z, const uint8_t *labels, int first, int last,
                                 int k, const float *p, int *correct);
/* dL/dz of the mean loss over a batch of n, for its images [first, last). */
void softmax_cross_entropy_grad(const float *p, const uint8_t *labels, int n, int first,
                                int last, int k, float *dz);

/* Where a training step's images come from when each thread fills in its
 * own (x and labels of images [from, to)) just before carrying them:
 * cnn_train_epoch's conversion from bytes.  fn NULL: they are there. */
typedef struct {
    void (*fn)(void *ctx, int from, int to);
    void *ctx;
} images_in;
/* A training step's forward and backward over n images in one parallel
 * region; once every image is through, the mean loss (and the correct
 * arg-maxes), and if it is finite every weight gradient, each part handed to
 * `done` as soon as it is summed (net.c).  Labels that `in` fills must have
 * been checked against the classes already. */
int net_train_pass(cnn_net *net, images_in in, const float *x, const uint8_t *labels, int n,
                   grads_done done, float *loss, int *correct, cnn_error *err);
/* CNN_OK if every one of n labels (none if NULL) is a class of the
 * network, else an error naming the first that is not. */
int labels_in_classes(const cnn_net *net, const uint8_t *labels, int n, cnn_error *err);
/* cnn_train_batch, with the images from `in` (optim.c). */
int optim_train_batch(cnn_net *net, cnn_optim *opt, images_in in, const float *x,
                      const uint8_t *labels, int n, int epoch, float *loss, int *correct,
                      cnn_error *err);
/* The count of training forwards, which seeds dropout masks: saved in
 * checkpoints so that a resumed run draws the same masks (net.c). */
uint64_t net_step(const cnn_net *net);
/* The threads the network was set up for (cnn_net_init). */
int net_threads(const cnn_net *net);
void net_set_step(cnn_net *net, uint64_t step);

#endif
