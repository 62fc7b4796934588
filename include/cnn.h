/*
 * cnn.h - a small convolutional neural network library in C11.
 *
 * This header is the whole public API, and it reads top to bottom as a
 * tutorial.
 *
 * 1. Images are numbers.  A grayscale image is a grid of intensities 0..255;
 *    a batch of images is a float tensor in NCHW layout: image n, channel c,
 *    row y, column x lives at ((n*C + c)*H + y)*W + x.  Datasets keep the raw
 *    bytes and convert a batch at a time: x = (pixel/255 - mean) / std.
 *
 * 2. A network is a list of layers, described as text (one layer a line):
 *
 *        input 28x28x1 mean 0.5 std 1
 *        conv 8 3x3 nobias        # 8 learned 3x3 filters -> depth 8
 *        maxpool 2                # 26x26 -> 13x13
 *        dense 10                 # fully connected on the flattened maps
 *        softmax                  # probabilities, trained with cross-entropy
 *
 *    cnn_net_parse() checks every shape as it goes and refuses a network
 *    that cannot work, naming the line and the shapes.
 *
 * 3. cnn_net_init() allocates everything once: all parameters in one
 *    contiguous buffer, all gradients in another, and one workspace sized for
 *    the largest batch.  Nothing is allocated while training.
 *
 * 4. Learning: cnn_train_batch() runs forward, the fused softmax +
 *    cross-entropy loss, backward (backpropagation) and one optimiser step.
 *    Only parameters change: filter values, weights, biases.
 *
 * 5. Errors: every fallible call returns CNN_OK (0) or a negative status and
 *    writes a message into a cnn_error the caller owns.  The library never
 *    prints and never exits.
 *
 *    cnn_error err;
 *    cnn_net *net = cnn_net_parse(cnn_preset("lenet"), &err);
 *    if (!net || cnn_net_init(net, 64, 42, &err)) { puts(err.msg); ... }
 *
 * Thread use: OpenMP.  A batch is shared among the threads, each carrying
 * its own images through every layer; a single image is split by its
 * layers' outputs instead.  Results are bit identical for any number of
 * threads (every sum has a fixed order).  A network is not to be used by
 * two threads of the caller at once.
 */
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CNN_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

typedef enum {
    CNN_OK = 0,
    CNN_EINVAL = -1,   /* a bad argument, option or spec            */
    CNN_ENOMEM = -2,   /* out of memory                             */
    CNN_EIO = -3,      /* a file could not be read or written       */
    CNN_EFORMAT = -4,  /* a file is truncated, corrupt or not ours  */
    CNN_ESHAPE = -5,   /* shapes do not fit together                */
    CNN_ENUMERIC = -6, /* NaN or infinity in the loss or parameters */
    CNN_ETEAM = -7     /* another member of a team could not be reached */
} cnn_status;

typedef struct {
    int status;
    char msg[512];
} cnn_error;

/* Formats a message into err (if not NULL) and returns status. */
int cnn_fail(cnn_error *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- shapes ------------------------------------------------------------ */

typedef struct {
    int c, h, w; /* channels (depth), height, width of one image */
} cnn_shape;

static inline size_t cnn_shape_size(cnn_shape s) { return (size_t)s.c * s.h * s.w; }

/* ---- layers ------------------------------------------------------------ */

typedef enum {
    CNN_INPUT,
    CNN_CONV,
    CNN_RELU,
    CNN_LEAKY_RELU,
    CNN_SIGMOID,
    CNN_TANH,
    CNN_MAXPOOL,
    CNN_AVGPOOL,
    CNN_SUMPOOL,
    CNN_DENSE,
    CNN_DROPOUT,
    CNN_FLATTEN,
    CNN_SOFTMAX, /* last layer: probabilities; the loss is cross-entropy */
    CNN_LAYER_KINDS
} cnn_layer_kind;

/* A layer as the user describes it; fields a kind does not use are 0.
 * Padding is zeros for a conv; a pool's never wins a max and adds nothing
 * to a sum, and an average divides by the pixels it covers unless
 * count_pad (ONNX's and PyTorch's count_include_pad).  A spec that sets
 * only ph and pw is padded alike on both sides; cnn_net_layer's always
 * has ph_end and pw_end filled in, and pad_asym set only where they
 * differ from ph and pw. */
typedef struct {
    cnn_layer_kind kind;
    int filters;       /* conv: number of filters = output depth; dense: outputs */
    int kh, kw;        /* conv and pooling window                               */
    int sh, sw;        /* stride (pooling: 0 means the window size)             */
    int ph, pw;        /* padding: top, left; bottom, right too unless pad_asym */
    int ph_end, pw_end; /* bottom and right padding, when pad_asym              */
    int pad_asym;      /* ph_end, pw_end are given (else they equal ph, pw)     */
    int same;          /* conv: pad so that the output is ceil(input / stride) */
    int no_bias;       /* conv, dense: no bias term                             */
    int ceil_mode;     /* pooling: keep partial windows at the right/bottom     */
    int count_pad;     /* avgpool: the padding counts in the divisor            */
    float alpha;       /* leaky ReLU slope; dropout probability                 */
    float init_std;    /* conv, dense: if > 0, weights ~ N(0, init_std^2)        */
} cnn_layer_spec;

/* ---- training settings ------------------------------------------------- */

typedef enum { CNN_SGD, CNN_MOMENTUM, CNN_ADAM } cnn_optimizer;
typedef enum { CNN_CONSTANT, CNN_STEP, CNN_COSINE } cnn_schedule;

typedef struct {
    cnn_optimizer optimizer;
    float lr;           /* learning rate                                  */
    float momentum;     /* SGD momentum (CNN_MOMENTUM)                    */
    float beta1, beta2; /* Adam                                           */
    float eps;          /* Adam                                           */
    float weight_decay; /* L2, added to the gradient: g += decay * w      */
    cnn_schedule schedule;
    int step_epochs;    /* CNN_STEP: multiply lr by gamma every N epochs  */
    float gamma;
    int batch;          /* mini-batch size                                */
    int epochs;
} cnn_train_config;

/* The tutorial's defaults: plain SGD, lr 0.01, batch 32, 1 epoch. */
cnn_train_config cnn_train_defaults(void);

/* ---- networks ---------------------------------------------------------- */

/* A class: 0 .. classes-1.  Labels are 16-bit, so a network may learn up to
 * CNN_MAX_CLASSES classes (EMNIST has 62, ImageNet 1,000). */
typedef uint16_t cnn_label;
#define CNN_MAX_CLASSES 65535

typedef struct cnn_net cnn_net;

/* Network text: see docs/spec.md.  Returns NULL and fills err on error;
 * the message names the line and column.  If train is not NULL it receives
 * the spec's `train` line on top of cnn_train_defaults(). */
cnn_net *cnn_net_parse(const char *text, cnn_train_config *train, cnn_error *err);

/* Built-in network texts: "seed", "lenet", "convnet", "xo"; NULL if unknown. */
const char *cnn_preset(const char *name);

/* Building by hand: an input, then layers one by one (shapes are checked at
 * each addition), then cnn_net_init. */
cnn_net *cnn_net_new(cnn_shape input, cnn_error *err);
int cnn_net_add(cnn_net *net, const cnn_layer_spec *layer, cnn_error *err);
void cnn_net_set_normalization(cnn_net *net, float mean, float std);

/* Allocates parameters, gradients and a workspace for batches up to
 * max_batch, and initialises the weights (He for layers followed by ReLU,
 * Xavier otherwise; biases 0) from a portable PRNG seeded by seed, which
 * also seeds dropout.  May be called again to change max_batch; parameters
 * are kept. */
int cnn_net_init(cnn_net *net, int max_batch, uint64_t seed, cnn_error *err);
/* Sets every parameter (count = cnn_net_param_count, in its order), before
 * or after cnn_net_init; before it, cnn_net_init keeps them and draws no
 * random weights (a model loader, an importer). */
int cnn_net_set_params(cnn_net *net, const float *params, size_t count, cnn_error *err);
void cnn_net_free(cnn_net *net);

cnn_shape cnn_net_input_shape(const cnn_net *net);
int cnn_net_max_batch(const cnn_net *net); /* 0 before cnn_net_init */
/* Threads this network runs on, set before cnn_net_init (0, the default:
 * OpenMP's count, omp_get_max_threads()).  Each network keeps its own, so two
 * in one program can differ; results are the same bits for any count. */
void cnn_net_set_threads(cnn_net *net, int threads);
int cnn_net_threads(const cnn_net *net); /* as laid out by cnn_net_init */
int cnn_net_classes(const cnn_net *net);
int cnn_net_layers(const cnn_net *net); /* not counting the input */
cnn_layer_spec cnn_net_layer(const cnn_net *net, int i);
cnn_shape cnn_net_layer_shape(const cnn_net *net, int i);  /* output of layer i */
size_t cnn_net_layer_params(const cnn_net *net, int i);
/* Forward FLOPs per image, 2 per multiply-add of the direct computation
 * (for a conv, as if every window were summed; PyTorch's reference counts
 * the same way). */
double cnn_net_layer_flops(const cnn_net *net, int i);
/* How a conv computes: "winograd" (3x3, stride 1, 16 or more channels in
 * and out: F(2x2, 3x3), 4/9 of the direct multiply-adds), "shifted" (any
 * other stride-1 window) or "im2col"; NULL for other layers. */
const char *cnn_net_layer_method(const cnn_net *net, int i);
const char *cnn_layer_name(cnn_layer_kind kind);
/* A layer's line in a network text ("conv 6 5x5 pad 2x2"), with the options
 * at their defaults left out; brief leaves out also those that change only
 * how it learns (nobias, init): the label the tools and pictures show.
 * Returns the length it needed, as snprintf does. */
int cnn_layer_text(const cnn_layer_spec *layer, int brief, char *out, size_t n);
void cnn_net_normalization(const cnn_net *net, float *mean, float *std);

/* The text that rebuilds this network (without the train line). */
char *cnn_net_to_spec(const cnn_net *net); /* free() the result */

/* All parameters, contiguous: layer 0's weights then biases, layer 1's... */
float *cnn_net_params(cnn_net *net);
float *cnn_net_grads(cnn_net *net);
size_t cnn_net_param_count(const cnn_net *net);
float *cnn_net_layer_weights(cnn_net *net, int i); /* NULL if none */
float *cnn_net_layer_bias(cnn_net *net, int i);    /* NULL if none */

/* ---- running ----------------------------------------------------------- */

/* Forward pass over n images (n <= max_batch) of already normalised floats
 * (NCHW).  training = 1 enables dropout.  Returns a status. */
int cnn_forward(cnn_net *net, const float *x, int n, int training, cnn_error *err);
/* The output of layer i after cnn_forward (i = -1: the input as given;
 * i = cnn_net_layers-1: probabilities), n x shape.  To save memory and time
 * an activation layer (relu, ...) writes its output over its input's buffer,
 * so the layer before it then reads as activated too, and a convolution
 * followed by relu and a 2x2 max-pool does all three at once, keeping only
 * the pooled maps (its own and the relu's outputs are then NULL).  Call
 * cnn_net_keep_activations(net, 1) before cnn_net_init to keep every layer's
 * own output (as a visualisation wants). */
void cnn_net_keep_activations(cnn_net *net, int on);
const float *cnn_net_activation(const cnn_net *net, int i);
const float *cnn_net_output(const cnn_net *net);

/* int8 inference (post-training quantization).  cnn_net_quantize runs n
 * calibration images x (normalised, as cnn_forward takes them; a few
 * hundred training images) through the network and records the range of
 * its input and of every layer's output; from then on cnn_forward(...,
 * training = 0) runs in 8-bit integers: int8 weights, one scale per output
 * channel, uint8 tensors between layers, exact integer products (VNNI,
 * AVX2 or plain C, the same result on each).  Training it is refused; new
 * parameters (cnn_net_set_params) are quantized anew with the same ranges;
 * cnn_model_save keeps the ranges, so a saved model loads quantized. */
int cnn_net_quantize(cnn_net *net, const float *x, int n, cnn_error *err);
/* The ranges it was quantized from, 2 x (layers + 1) floats (lo, hi of the
 * input, then of each layer's output), or NULL if it runs in float; and
 * quantizing from given ranges (a saved model's). */
const float *cnn_net_quant_ranges(const cnn_net *net);
int cnn_net_quantize_ranges(cnn_net *net, const float *ranges, cnn_error *err);

/* The class image i of the last forward was given the highest probability
 * (the first of equals): the network's answer. */
int cnn_net_predicted(const cnn_net *net, int i);

/* Mean cross-entropy of the last forward against labels, and the number of
 * correct arg-max predictions (may be NULL). */
float cnn_loss(const cnn_net *net, const cnn_label *labels, int n, int *correct);

/* Backward pass from the fused softmax + cross-entropy loss of the last
 * forward: fills the gradient buffer (overwrites it).  labels has n entries.
 * It writes gradients only: the outputs and activations of the forward stay
 * as they were. */
int cnn_backward(cnn_net *net, const cnn_label *labels, int n, cnn_error *err);

/* Backpropagation checked against the definition of the derivative: the
 * gradients cnn_backward gives for these n images against central
 * differences of the mean loss, at `samples` parameters drawn by seed (all
 * if samples <= 0), and as many inputs when the input gradient is wanted.
 * Dropout keeps one mask throughout; where a ReLU's or max-pool's kink
 * lies within the step, a one-sided difference (or a quarter step) that
 * agrees counts.  Returns the worst relative error, |a - b| / (|a| + |b|)
 * (|a - b| where both are below 1e-3): a correct backward gives below
 * 1e-2 in float32 (3.6e-3 on a small net of every kind, 3.9e-3 on LeNet-5
 * at 200 samples).  Parameters and
 * the dropout count are left as they were, the gradient buffer as backward
 * wrote it.  Returns < 0 with err set when forward or backward refuse.
 * Prints nothing. */
double cnn_check_gradients(cnn_net *net, const float *x, const cnn_label *labels, int n,
                           int samples, uint64_t seed, cnn_error *err);

/* Gradient of the loss with respect to the input, after cnn_backward, once
 * asked for (it costs a pass the weights do not need); NULL otherwise. */
void cnn_net_want_input_grad(cnn_net *net, int on);
const float *cnn_net_input_grad(const cnn_net *net);

/* ---- where the time goes ----------------------------------------------- */

typedef struct {
    double forward_us, backward_us; /* one batch, mean */
} cnn_layer_time;

/* Each layer on its own (unfused, as cnn_net_keep_activations shows them),
 * on the network's weights and its thread count, over a batch of n images
 * x: forward, and with labels (n of them) the loss's gradient and every
 * backward, repeated for about `seconds` (3 rounds at least) after a
 * warm-up.  times has cnn_net_layers entries.  The gradient buffer is
 * overwritten; parameters are not touched. */
int cnn_net_profile(cnn_net *net, const float *x, const cnn_label *labels, int n,
                    double seconds, cnn_layer_time *times, cnn_error *err);
/* The instruction set the products run on: "avx512", "avx2" or "generic"
 * (chosen at run time; CNN_SIMD=generic|avx2|avx512 caps it). */
const char *cnn_simd_path(void);
/* This CPU's FP32 FMA peak on `threads` threads, measured (about 0.1 s). */
double cnn_fp32_peak_gflops(int threads);

/* ---- optimisers -------------------------------------------------------- */

typedef struct cnn_optim cnn_optim;

cnn_optim *cnn_optim_new(const cnn_net *net, const cnn_train_config *cfg, cnn_error *err);
void cnn_optim_free(cnn_optim *opt);
/* The learning rate at this epoch (0-based) under the schedule. */
float cnn_optim_lr(const cnn_optim *opt, int epoch);
/* One update of all parameters from the gradient buffer. */
void cnn_optim_step(cnn_optim *opt, cnn_net *net, int epoch);
/* The optimiser's state (momentum / Adam moments and step), for checkpoints. */
float *cnn_optim_state(cnn_optim *opt, size_t *count);
int64_t cnn_optim_steps(const cnn_optim *opt);
void cnn_optim_set_steps(cnn_optim *opt, int64_t steps);

/* forward + loss + backward + step, in one pass: each part of the weights
 * is updated as soon as its gradient is summed (the same bits as the four
 * calls apart).  Returns CNN_OK or CNN_ENUMERIC when the loss is not finite,
 * found before backward starts (parameters, gradients and the optimiser's
 * state are then left untouched). */
int cnn_train_batch(cnn_net *net, cnn_optim *opt, const float *x, const cnn_label *labels,
                    int n, int epoch, float *loss, int *correct, cnn_error *err);

/* ---- a team: one network trained by several processes ------------------ */

/* Data-parallel training.  Each member of a team holds the whole network
 * and computes the gradient of its share of every batch: the batch's 8
 * fixed gradient groups, 8 / ranks of them each.  The library sums the
 * shares itself, along the groups' fixed pairwise tree, moving bytes
 * between pairs of members only through these two calls (an MPI program
 * fills them with MPI_Isend and MPI_Irecv: tools/team.c), so every member
 * ends each step with the same parameters, the same bits as one process
 * trained on the whole batch, whatever the threads of each. */
typedef struct {
    int rank, ranks; /* this member, and how many there are: 1, 2, 4 or 8 */
    /* Starts sending `bytes` at send to member `peer` and receiving as
     * many from it into recv; a handle >= 0, or < 0 if it cannot. */
    int (*start)(void *ctx, int peer, const void *send, void *recv, size_t bytes);
    /* Waits until exchange `handle` is done: 0, or < 0 if it failed. */
    int (*finish)(void *ctx, int handle);
    void *ctx;
} cnn_team;

/* Makes net a member of a team, after cnn_net_init (and after loading any
 * checkpoint): every member takes rank 0's parameters now.  From here on
 * each forward, loss, backward and training step computes this member's
 * share of the batch only, and cnn_loss, cnn_train_batch,
 * cnn_train_epoch and cnn_evaluate give the whole batch's figures.  Every
 * member must make the same calls, with the same batches (the same data,
 * seed and options). */
int cnn_net_set_team(cnn_net *net, const cnn_team *team, cnn_error *err);

/* ---- datasets ---------------------------------------------------------- */

/* Images kept as bytes (n x c x h x w, 0..255), labels 0..classes-1. */
typedef struct {
    int n, c, h, w;
    int classes;
    uint8_t *pixels;
    cnn_label *labels;
    char **class_names; /* may be NULL; else classes strings */
} cnn_dataset;

void cnn_dataset_free(cnn_dataset *d);

/* Converts images [first, first+n) to normalised floats for net's input
 * (which must match the dataset's c, h, w). */
void cnn_dataset_batch(const cnn_dataset *d, const int *index, int first, int n,
                       float mean, float std, float *x, cnn_label *labels);

/* IDX files (MNIST and friends), plain or gzip.  Everything in the headers is
 * checked against the data's length before anything is allocated.
 * limit 0 = all. */
int cnn_idx_load(const char *images_path, const char *labels_path, size_t limit,
                 cnn_dataset *out, cnn_error *err);
/* dir holds train-images-idx3-ubyte[.gz] etc.; split "train" or "test". */
int cnn_idx_load_dir(const char *dir, const char *split, size_t limit,
                     cnn_dataset *out, cnn_error *err);
/* The same from memory (bytes as in a file, possibly gzip). */
int cnn_idx_parse(const uint8_t *images, size_t images_len, const uint8_t *labels,
                  size_t labels_len, size_t limit, cnn_dataset *out, cnn_error *err);

/* An image file (PNG, JPEG, BMP, PGM/PPM) as c x h x w bytes: converted to
 * grayscale when c == 1 (Y = 0.299 R + 0.587 G + 0.114 B), resized to h x w
 * with its aspect ratio kept and centred; invert maps p to 255 - p. */
int cnn_image_load(const char *path, int c, int h, int w, int invert, uint8_t *out,
                   cnn_error *err);
int cnn_image_decode(const uint8_t *bytes, size_t len, int c, int h, int w, int invert,
                     uint8_t *out, cnn_error *err);

/* A folder with one sub-folder per class (sorted by name). */
int cnn_folder_load(const char *dir, int c, int h, int w, cnn_dataset *out, cnn_error *err);

/* The X-or-O set: n images size x size of X (label 0) and O (label 1),
 * shifted, scaled, rotated and deformed, deterministic by seed.  Pixels are
 * 255 (white, +1) and 0 (black, -1): normalise with mean 0.5 std 0.5. */
int cnn_xo_generate(int n, int size, uint64_t seed, cnn_dataset *out, cnn_error *err);
/* The explanation's own 9x9 pictures, as the network sees them: which is
 * 'x' (the canonical X), 'o' (the canonical O) or 'd' (the deformed X);
 * out receives 81 values, row-major, +1 white and -1 black (any other
 * `which`: all -1). */
void cnn_xo_canonical(char which, float out[81]);
/* The explanation's network, set by hand rather than trained:
 *     input 9x9x1 mean 0 std 1; conv 3 3x3 nobias; relu;
 *     maxpool 2 ceil; maxpool 2 ceil; dense 2 nobias; softmax
 * (9x9 -> 7x7 -> 4x4 -> 2x2 -> 2 votes).  Its filters are the three 3x3
 * features, diagonal '\', crossing 'X' and diagonal '/' (+1 white, -1
 * black), divided by 9, so a match is the mean of the elementwise
 * products; its vote weights are the canonical X's and O's own 12 pooled
 * values, each set divided by its sum: a picture's vote for X is the
 * average of its 12 values weighted by how strongly the X lights them up.
 * Initialised for batches up to max_batch (at least 2), every layer's
 * output kept (cnn_net_keep_activations) for the pictures.  features (may
 * be NULL) receives the 27 feature values, filter by filter, row-major.
 * NULL with err set when out of memory. */
cnn_net *cnn_xo_walkthrough(int max_batch, float features[27], cnn_error *err);

/* ---- training over a dataset ------------------------------------------- */

typedef struct {
    double loss;     /* mean cross-entropy        */
    double accuracy; /* fraction right, 0..1      */
    int count;       /* images seen               */
} cnn_metrics;

/* Called after each batch; return non-zero to stop the epoch early. */
typedef int (*cnn_progress_fn)(void *user, int epoch, int done, int total,
                               const cnn_metrics *so_far);

/* One epoch over d in an order shuffled from (seed, epoch) alone, so a run
 * resumed at any epoch sees the same batches as an uninterrupted one. */
int cnn_train_epoch(cnn_net *net, cnn_optim *opt, const cnn_dataset *d, int epoch,
                    int batch, uint64_t seed, cnn_progress_fn progress, void *user,
                    cnn_metrics *out, cnn_error *err);

/* Whether net takes d's images and every label is one of its classes (what
 * training and evaluation check first), without running it: CNN_OK or the
 * reason. */
int cnn_dataset_fits(const cnn_net *net, const cnn_dataset *d, cnn_error *err);

/* Loss and accuracy over d; confusion (classes x classes, row = true label,
 * column = prediction) is filled when not NULL. */
int cnn_evaluate(cnn_net *net, const cnn_dataset *d, cnn_metrics *out, int *confusion,
                 cnn_error *err);

/* The one-call helper: init (if needed), cfg->epochs epochs, then metrics on
 * test (may be NULL). */
int cnn_fit(cnn_net *net, const cnn_dataset *train, const cnn_dataset *test,
            const cnn_train_config *cfg, uint64_t seed, cnn_metrics *test_out,
            cnn_error *err);

/* ---- model files ------------------------------------------------------- */

/* One epoch of training history, kept in the model file for charts. */
typedef struct {
    float train_loss, train_accuracy, test_loss, test_accuracy, seconds;
} cnn_epoch_record;

#define CNN_MAX_HISTORY 256

typedef struct {
    char dataset[64];
    int epochs;          /* epochs completed                          */
    float accuracy;      /* test accuracy at save time, -1 if unknown */
    float loss;
    int64_t created;     /* Unix time                                 */
    char version[16];    /* library version that wrote it             */
    uint64_t seed;
    cnn_train_config train;
    char *class_names;   /* newline-separated, any number and length;
                          * NULL if none.  cnn_model_load allocates it:
                          * cnn_model_meta_free                     */
    int history_count;      /* epochs recorded (the last 256)       */
    cnn_epoch_record history[CNN_MAX_HISTORY];
} cnn_model_meta;

/* A checkpoint resumes training bit for bit when it holds three things: the
 * parameters, the optimiser's state (cnn_optim_state, cnn_optim_steps) and
 * the network's count of training forwards, from which dropout draws its
 * masks: a resumed run that starts the count again from 0 would drop other
 * units than the uninterrupted run.  cnn_model_save and cnn_model_load keep
 * it; these are for checkpoints of one's own. */
uint64_t cnn_net_training_steps(const cnn_net *net);
void cnn_net_set_training_steps(cnn_net *net, uint64_t steps);

/* Self-describing, little-endian, versioned and checksummed.  Written to a
 * temporary file, flushed and renamed: a crash never leaves a half file.
 * opt may be NULL; when given its state is saved too (a checkpoint). */
int cnn_model_save(const char *path, cnn_net *net, const cnn_model_meta *meta,
                   cnn_optim *opt, cnn_error *err);
/* Loads a model (files of format versions 1 and 2); if opt_state is not
 * NULL and the file holds optimiser state, *opt_state receives a malloc'ed
 * copy (count in *opt_count) and *steps.  meta (may be NULL) owns its class
 * names: free them with cnn_model_meta_free. */
cnn_net *cnn_model_load(const char *path, cnn_model_meta *meta, float **opt_state,
                        size_t *opt_count, int64_t *steps, cnn_error *err);
cnn_net *cnn_model_parse(const uint8_t *bytes, size_t len, cnn_model_meta *meta,
                         float **opt_state, size_t *opt_count, int64_t *steps,
                         cnn_error *err);
void cnn_model_meta_free(cnn_model_meta *meta); /* its class names */
/* 1 if the file at path begins with a model file's magic ("CNNMODEL"), else
 * 0, also when it cannot be read (loading it would then say why): a quick
 * "model or network text?" that reads 8 bytes.  Only cnn_model_load tells
 * whether the rest of the file is sound. */
int cnn_model_probe(const char *path);
/* (A file named *.onnx is an ONNX model to both: cnn_model_load imports
 * it with cnn_model_import_onnx, as a model without history or optimiser
 * state.) */

/* ---- ONNX ------------------------------------------------------------- */

/* The network as an ONNX model (opset 13) at path, written atomically: its
 * input is pixels 0..255 (N x C x H x W, the normalisation in the graph),
 * its output what the network outputs (probabilities, N x classes), and
 * every layer maps to operators computing exactly what it computes
 * (src/onnx/export.c lists them).  A library built with make ONNX=0 has no
 * ONNX: this then fails with CNN_EINVAL. */
int cnn_model_export_onnx(const char *path, cnn_net *net, const cnn_model_meta *meta,
                          cnn_error *err); /* meta (may be NULL): its class names */
/* An ONNX model (opsets 7 to 17) as a network, not yet initialised (call
 * cnn_net_init): its layers and weights, BatchNormalization folded in, and
 * a leading Div 255 / Sub / Div as its normalisation.  The graph must be
 * one path of the operators src/onnx/import.c lists; anything else is
 * refused with a message naming the node, its op and what is supported.
 * A graph without a final Softmax imports as a network that outputs what
 * the graph outputs (for inference). */
cnn_net *cnn_model_import_onnx(const char *path, cnn_model_meta *meta, cnn_error *err);
cnn_net *cnn_model_parse_onnx(const uint8_t *bytes, size_t len, cnn_model_meta *meta,
                              cnn_error *err);
/* (meta, if not NULL, is filled as for a model without history, with the
 * class names cnn's export wrote: free them with cnn_model_meta_free.) */

/* ---- randomness -------------------------------------------------------- */

/* A portable PRNG (splitmix64 seeding xoshiro256**): the same numbers on any
 * machine, so weights and shuffles are reproducible. */
typedef struct { uint64_t s[4]; } cnn_rng;
void cnn_rng_seed(cnn_rng *r, uint64_t seed);
uint64_t cnn_rng_next(cnn_rng *r);
double cnn_rng_uniform(cnn_rng *r);          /* [0, 1) */
double cnn_rng_normal(cnn_rng *r);           /* N(0, 1) */
void cnn_rng_shuffle(cnn_rng *r, int *a, int n);

#ifdef __cplusplus
}
#endif
#endif
