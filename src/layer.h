/* The private side of a layer: its math state, and the table of functions
 * that every kind fills in.  A layer knows its shapes and parameters only:
 * which buffers it reads and writes, which images it covers and which
 * thread runs it are decided by the plan (plan.c) and the executor
 * (run.c), and arrive with each call.  Adding a layer kind means one file
 * with its table, one line in the registry (registry.c) and the enum. */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include "cnn.h"

typedef struct layer layer;

/* Weight gradients of a batch are summed per fixed group of images, then
 * the groups are added as a fixed pairwise tree,
 *     ((g0 + g1) + (g2 + g3)) + ((g4 + g5) + (g6 + g7)),
 * so the result does not depend on how many threads share the batch (at
 * most this many do in a backward pass), nor on how many processes: a
 * process of a team of 2, 4 or 8 (cnn_team) computes one aligned subtree,
 * and the team adds the subtrees along the same tree (groups.c). */
enum { GRAD_GROUPS = 8 };

/* The first image of gradient group g of a batch of n: the one definition
 * of the groups, whose sums fix every result.  A batch of fewer than
 * GRAD_GROUPS images leaves some groups empty: they are absent from the
 * tree (a sum with one absent side is the other side, unchanged). */
static inline int group_first(int n, int g) { return (int)((long)n * g / GRAD_GROUPS); }

/* The groups of a batch of n that hold images, as bits (bit g: group g). */
unsigned groups_present(int n);
/* The groups whose images lie in [first, last) of a batch of n, as bits. */
unsigned groups_within(int n, int first, int last);

/* out[p] for p in [from, to): the tree sum of the groups in `mask` (each at
 * partials + g * stride + p; the groups outside it are absent).  Returns 0,
 * leaving out alone, when the mask is empty. */
int group_tree(const float *partials, size_t stride, unsigned mask, size_t from, size_t to,
               float *out);
/* The same tree over one double per group (the loss). */
double group_tree_double(const double *value, unsigned mask);

/* What a convolution does after its product, as the plan decides: the
 * bias always; then perhaps the ReLU that follows it and the 2x2 stride-2
 * max-pool after that, on data still in cache, so that the full-size
 * output is never stored. */
typedef struct {
    int relu;      /* y = max(0, .); dy is taken where y > 0          */
    int pool;      /* y is the pooled map, and the call's argmax is set */
    cnn_shape out; /* what the call writes per image                   */
    int stream;    /* write y with streaming stores: the layer above reads
                    * every image's input after the whole pass (dense)   */
} epilogue;

/* One call of a layer: which images it covers, and the buffers the plan
 * gives it.  x, y, dy and dx (the call's arguments) point at image 0 of the
 * batch; the call touches images [first, last) only. */
typedef struct {
    int n;           /* images in the batch                              */
    int first, last; /* this call's images                               */
    unsigned groups; /* the gradient groups this process sums (grads)    */
    int threads;     /* threads its products may use (a batch of 1 image) */
    int training;    /* forward: dropout is on                           */
    uint64_t step;   /* training forwards so far: dropout's masks        */
    void *scratch;   /* this thread's own scratch (scratch_bytes)        */
    void *cache;     /* this thread's cache (cache_bytes), or NULL       */
    void *shared;    /* the batch's (shared_bytes): conv's group sums     */
    int *argmax;     /* a max-pool's, or its fusing conv's: per output,
                      * where the maximum came from                      */
    epilogue ep;     /* conv: its epilogue                                */
} layer_call;

/* A range of a layer's parameter gradients, in floats from its first
 * weight (the biases follow the weights). */
typedef struct {
    size_t from, to;
} param_range;

typedef struct {
    /* From l->in and l->spec: set l->out, l->nweights, l->nbias and
     * l->shared_bytes; refuse a shape that cannot work. */
    int (*setup)(layer *l, cnn_error *err);
    /* The scratch one thread needs for a call with this epilogue (NULL:
     * none needed). */
    size_t (*scratch_bytes)(const layer *l, const epilogue *ep);
    /* Bytes a thread keeps from one call to the next (NULL: none), zeroed
     * when the workspace is laid out: what a layer derives from weights
     * that may not have changed since (conv: its Winograd filters). */
    size_t (*cache_bytes)(const layer *l);
    /* y = f(x) for the call's images.  training enables dropout. */
    void (*forward)(const layer *l, const float *x, float *y, const layer_call *c);
    /* Given dy = dL/dy: dL/dx of the call's images into dx (if dx is not
     * NULL), and the part of dL/dw, dL/db that needs those images only
     * (conv: the sums of its gradient groups). */
    void (*backward)(const layer *l, const float *x, const float *y, const float *dy, float *dx,
                     const layer_call *c);
    /* Once every image's backward is done: part `part` of `parts` of
     * dL/dw, dL/db into l->dw, l->db (overwritten), from all c->n images;
     * returns how many ranges of them it finished (at most 2), in `done`.
     * The parts cover every parameter once.  NULL: no parameters. */
    int (*grads)(const layer *l, const float *x, const float *dy, const layer_call *c, int part,
                 int parts, param_range done[2]);
    /* Forward FLOPs per image, 2 per multiply-add (NULL: one per output). */
    double (*flops)(const layer *l);
} layer_ops;

struct layer {
    cnn_layer_spec spec;
    const layer_ops *ops;
    cnn_shape in, out;
    size_t nweights, nbias;
    float *w, *b;        /* into the network's parameter buffer */
    float *dw, *db;      /* into its gradient buffer            */
    size_t shared_bytes; /* the batch's scratch (layer_call.shared) */
    uint64_t seed;       /* dropout: mask stream                */
};

/* ---- the words of a layer's line (docs/spec.md) ------------------------ */

/* One thing a layer's line in a network text may say: a value in its place
 * (word NULL: "conv 8 3x3") or a keyword with its value ("stride 2").  The
 * spec parser reads a line, and cnn_layer_text writes it back, from a
 * kind's list of these alone. */
typedef enum {
    OPT_INT,   /* a whole number in lo..hi                          */
    OPT_FLOAT, /* a number in lo..hi                                */
    OPT_DIMS,  /* "3" or "3x5": two ints, the second after the first */
    OPT_PAD,   /* OPT_DIMS, "T,L,B,R" (sets ph_end, pw_end and pad_asym
                * too) or "same" (which sets spec.same)              */
    OPT_FLAG,  /* the keyword alone sets an int to 1                */
} option_type;

typedef struct {
    const char *word; /* NULL: a value in its place, without a keyword     */
    option_type type;
    const char *what; /* for errors: "the number of filters"             */
    size_t at;        /* offsetof its field in cnn_layer_spec             */
    float lo, hi;
    float def;  /* the value when not given; a pooling stride's 0 is
                 * "as the window", and so is left out when it equals it */
    int traits; /* OPTION_MAY_BE_LEFT_OUT, OPTION_ONLY_LEARNING          */
} layer_option;

enum {
    OPTION_MAY_BE_LEFT_OUT = 1, /* a value in its place that may be missing */
    OPTION_ONLY_LEARNING = 2,   /* changes how it learns, not the shapes:
                                 * the brief description leaves it out    */
};

/* ---- the registry: one entry per kind (registry.c) --------------------- */

extern const layer_ops conv_ops, activation_ops, pool_ops, dense_ops, dropout_ops,
    flatten_ops, softmax_ops;
extern const layer_option conv_options[], pool_options[], avgpool_options[], dense_options[],
    dropout_options[], leaky_options[]; /* each ends with an entry whose `what` is NULL */

typedef struct {
    const char *name;     /* in network texts, and everywhere it is shown */
    const layer_ops *ops; /* NULL: the input, which is no layer           */
    const layer_option *options; /* what its line may say (NULL: nothing) */
    /* Traits the plan and the initialisation read: */
    int activation; /* element-wise, backward from y alone: may run in place */
    int pool;       /* a pooling window (max, average, sum)                  */
    int keeps_dy;   /* grads reads dy: it is kept to the end of the pass     */
    int reads_x;    /* grads reads every image's x: written with streaming
                     * stores by a conv below, for the other threads         */
    int passes_init; /* between a layer and its activation, for He's rule    */
} layer_kind;

extern const layer_kind layer_kinds[]; /* CNN_LAYER_KINDS, in the enum's order */
/* The kind named so in network texts, or -1 (the input is not a layer). */
int kind_named(const char *name);

static inline const layer_kind *kind_of(const layer *l) { return &layer_kinds[l->spec.kind]; }

/* ---- a layer standing alone (tests, the per-layer profile) ------------- */

/* One layer outside any network, with its own parameters, gradients and
 * scratch, run as a network runs it (unfused), shared among `threads`. */
typedef struct {
    layer l;
    float *params, *grads;
    void *scratch, *shared;
    int *argmax;
    size_t scratch_stride;
    int max_batch, threads;
    uint64_t step;
} lone_layer;

int layer_new(lone_layer *t, cnn_layer_spec spec, cnn_shape in, int max_batch, int threads,
              cnn_error *err);
void layer_free(lone_layer *t);
/* A whole batch through it; backward includes the weight gradients. */
void layer_forward(lone_layer *t, const float *x, float *y, int n, int training);
void layer_backward(lone_layer *t, const float *x, const float *y, const float *dy, float *dx,
                    int n);

/* ---- helpers of several layers ----------------------------------------- */

/* How a conv (set up) computes: "winograd", "shifted" or "im2col". */
const char *conv_method(const layer *l);

/* Whether a pooling layer has 2x2 windows moved by 2, every one whole
 * and unpadded (set up: the pads are settled).  The kernel for it and the
 * conv's fused epilogue know no padding. */
static inline int whole_2x2_max(const layer *l)
{
    const cnn_layer_spec *s = &l->spec;
    return s->kind == CNN_MAXPOOL && s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2 &&
           (s->ph | s->pw | s->ph_end | s->pw_end) == 0 && 2 * l->out.h <= l->in.h &&
           2 * l->out.w <= l->in.w;
}

/* Output size of a sliding window over an input padded by `begin` before
 * and `end` after: floor((in + begin + end - k) / s) + 1, or with ceil_mode
 * the ceiling, dropping a last window that would start in the end padding
 * (PyTorch's rule).  Returns <= 0 when the window does not fit. */
int window_out(int in, int k, int s, int begin, int end, int ceil_mode);

/* A layer's padding as its line says it (spec.c): "1x2", or "0,1,2,1" when
 * the bottom and right differ (top, left, bottom, right).  As snprintf. */
int pad_text(const cnn_layer_spec *s, char *out, size_t n);

/* A spec's bottom and right pads settled, for setup: as given when
 * pad_asym, else the top and left ones; pad_asym then stays set only
 * where they differ, so that one padding has one spec (and one text). */
static inline void settle_pads(cnn_layer_spec *s)
{
    if (!s->pad_asym)
        s->ph_end = s->ph, s->pw_end = s->pw;
    s->pad_asym = s->ph_end != s->ph || s->pw_end != s->pw;
}

/* The class of the highest of k probabilities (the first, on a tie): the
 * one definition of "the network's answer". */
static inline int arg_max(const float *p, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        best = p[j] > p[best] ? j : best;
    return best;
}

/* The fused softmax + cross-entropy (softmax.c): the sum of the loss over
 * images [first, last), from the scores z and the probabilities p. */
double softmax_cross_entropy_sum(const float *z, const cnn_label *labels, int first, int last,
                                 int k, const float *p, int *correct);
/* dL/dz of the mean loss over a batch of n, for its images [first, last). */
void softmax_cross_entropy_grad(const float *p, const cnn_label *labels, int n, int first,
                                int last, int k, float *dz);

#endif
