/* The private core of a network, shared by its four files:
 *   net.c   the layer list, the parameter arena, cnn_net_init, questions
 *   plan.c  the plan: which layer runs as which step, fusion, and where
 *           every buffer lives in the one workspace
 *   run.c   the executor: how a batch is shared among threads
 *   step.c  forward, loss, backward and the training step, as the public
 *           API offers them
 * docs/internals.md draws the map. */
#ifndef CNN_NET_H
#define CNN_NET_H

#include "layer.h"

/* ---- the plan (plan.c) -------------------------------------------------- */

/* One step: layer `layer` over the batch, doing the work of the layers up
 * to `top` as its epilogue (a conv's fused ReLU and 2x2 max-pool; else
 * top = layer).  It owns its output, the output's gradient, the arg-max of
 * a max-pool, and each thread's scratch. */
typedef struct {
    int layer, top;
    epilogue ep;
    float *y;      /* the output of layer top, n x ep.out: the next step's x */
    float *dy;     /* its gradient (NULL at the top)                        */
    int dy_turns;  /* dy is turns[dy_turns - 1], of the two that take turns */
    int in_place;  /* y is the step below's: an activation written over x   */
    int *argmax;   /* a max-pool's (its own or fused)                       */
    char *scratch; /* thread t's at scratch + t * scratch_stride            */
    size_t scratch_stride;
    char *cache;   /* thread t's at cache + t * cache_stride: kept between
                    * calls, zeroed by plan_point                           */
    size_t cache_stride, cache_at;
    void *shared;
    size_t y_at, dy_at, argmax_at, scratch_at, shared_at; /* offsets, bytes */
} plan_step;

typedef struct {
    plan_step *steps;
    int count;
    float **act;         /* per layer: its output as stored (NULL: never)   */
    float *turns[2];     /* the two gradient buffers that take turns        */
    size_t widest;       /* their floats per image                          */
    float *input_grad;   /* the gradient of the input                       */
    size_t turns_at, input_grad_at, bytes;
    int max_batch, threads, fused;
} plan;

/* The steps for these layers, fused unless told not to, and the workspace
 * they need for batches up to max_batch on `threads` threads (offsets
 * only: plan_point gives them their buffers). */
int plan_make(plan *p, const layer *layers, int count, int max_batch, int threads, int fused,
              cnn_error *err);
void plan_point(plan *p, void *work);
void plan_free(plan *p);
/* Where the thread whose images start at `first` finds step s's dy. */
float *plan_dy(const plan *p, const plan_step *s, int first);

/* ---- the network -------------------------------------------------------- */

typedef struct team_state team_state;
typedef struct quant_state quant_state;

struct cnn_net {
    cnn_shape input;
    float mean, std; /* x = (pixel / 255 - mean) / std */
    layer *layers;
    int count, capacity;
    float *params, *grads;
    size_t nparams;
    plan plan;
    void *work;           /* the workspace the plan points into    */
    int batch;            /* images of the last forward            */
    const float *x;       /* the input of the last forward         */
    int want_input_grad;
    int threads;          /* asked for by cnn_net_set_threads; 0: OpenMP's */
    int keep_activations; /* an unfused plan: every output kept    */
    int seeded;           /* the layers' random streams are set    */
    uint64_t step;        /* training forwards so far (dropout)    */
    int rank, ranks;      /* this process in its team: 0 of 1 alone */
    team_state *team;     /* its links and gradients on their way  */
    quant_state *quant;   /* int8 inference, once quantized (quant.c) */
};

/* ---- the executor (run.c) ----------------------------------------------- */

/* A batch: x and labels as given, or filled in by each thread for its own
 * images just before it carries them (fill != NULL: the training loop
 * converts its bytes so, and the images are then in that core's cache). */
typedef struct {
    float *x;
    cnn_label *labels;
    int n;
    void (*fill)(void *ctx, int from, int to);
    void *ctx;
} image_batch;

/* One optimiser step's arithmetic (optim.c), ready for any range of the
 * parameters: the executor applies it to each layer's gradient as soon as
 * that is summed. */
typedef struct {
    const cnn_train_config *cfg;
    float lr, c1, c2; /* Adam's bias corrections for this step */
    float *w, *state;
    const float *g;
    size_t n;
} optim_update;
void optim_apply(const optim_update *u, size_t from, size_t to);

/* The batch through every step, each thread its own images. */
void run_forward(cnn_net *net, const image_batch *b, int training);

/* ---- int8 inference (quant.c) ------------------------------------------- */

/* Quantizes the network from its tensors' ranges (2 floats, lo and hi, for
 * the input, then for each layer's output): its inference forwards then run
 * in int8.  Replaces an earlier quantization. */
int quant_attach(cnn_net *net, const float *ranges, cnn_error *err);
/* The forward pass in int8: the scores and probabilities where the float
 * pass leaves them. */
int quant_forward(cnn_net *net, const float *x, int n, cnn_error *err);
const float *quant_ranges(const cnn_net *net); /* NULL unless quantized */
void quant_free(quant_state *q);
/* The gradients down the steps from the loss, each thread its own images;
 * then, once all are through, every weight gradient, summed in a fixed
 * order (in a team, over the team), and (u not NULL) its parameters
 * updated at once.  Fails only when a team's member cannot be reached. */
int run_backward(cnn_net *net, const cnn_label *labels, const optim_update *u, cnn_error *err);
/* u over parameters [from, to), on the network's threads if it pays. */
void run_update(const cnn_net *net, const optim_update *u, size_t from, size_t to);
/* The images [first, last) that thread t of `threads` carries through the
 * groups [g0, g1) of a batch of n: whole gradient groups when there are no more threads than
 * groups, so that forward and backward give a thread the same images (and
 * it finds them in its own cache); else an even share. */
void image_share(int n, int g0, int g1, int t, int threads, int *first, int *last);
/* The gradient groups [g0, g1) this process computes: all of them, or its
 * share as a member of a team (cnn_net_set_team). */
void team_groups(const cnn_net *net, int *g0, int *g1);
/* The threads the network runs on. */
int run_threads(const cnn_net *net);

/* ---- a team of processes (team.c) -------------------------------------- */

/* A training step's gradient sums, as the backward finishes each range of
 * the gradient buffer: begin, post each, finish (the gradients are then
 * the team's, and u, if not NULL, has been applied to each range as its
 * sum came in). */
void team_begin_step(cnn_net *net, const optim_update *u);
void team_post(cnn_net *net, size_t from, size_t to);
int team_finish_step(cnn_net *net, cnn_error *err);
/* Slot g (of GRAD_GROUPS, `size` bytes each, at most 64) of every member
 * to all: each fills in its own groups' slots. */
int team_gather(const cnn_net *net, void *slots, size_t size, cnn_error *err);
/* counts[] summed over the team. */
int team_add_counts(const cnn_net *net, int *counts, size_t count, cnn_error *err);
/* CNN_OK, or CNN_ETEAM (err filled) once an exchange with another member
 * has failed. */
int team_check(const cnn_net *net, cnn_error *err);
void team_free(cnn_net *net);

/* ---- steps (step.c) ----------------------------------------------------- */

/* One training step over a batch (cnn_train_batch, and cnn_train_epoch
 * with a fill).  Labels a fill writes must have been checked already. */
int train_step(cnn_net *net, cnn_optim *opt, const image_batch *b, int epoch, float *loss,
               int *correct, cnn_error *err);
/* CNN_OK if every one of n labels (none if NULL) is a class of the
 * network, else an error naming the first that is not. */
int labels_in_classes(const cnn_net *net, const cnn_label *labels, int n, cnn_error *err);
/* The loss of the last forward summed over its n images, in double: each
 * gradient group's sum, added in order (cnn_loss is it over n). */
double loss_sum(const cnn_net *net, const cnn_label *labels, int n, int *correct);
/* check.c: the worst relative error of grads (and input_grad, if not NULL)
 * against central differences at `samples` points drawn by seed (all if
 * samples <= 0), forwards using the dropout masks of training step
 * step + 1.  < 0: out of memory. */
double check_against(cnn_net *net, const float *x, const cnn_label *labels, int n, int samples,
                     uint64_t seed, uint64_t step, const float *grads, const float *input_grad);
/* optim.c: the update of the optimiser's next step, and its count. */
optim_update optim_prepare(const cnn_optim *opt, cnn_net *net, int epoch);
void optim_count_step(cnn_optim *opt);

#endif
