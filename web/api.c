/* The page's window on the library (make web: build-web/site/cnn.js).  One
 * handle owns everything a view of a network needs: the network, its
 * optimiser, the last error, the scratch input, the training and test
 * images; the page and its training worker each hold their own, and
 * nothing here is global.  Pointers are handed to JavaScript as numbers
 * into the module's memory: they stay valid until the handle opens another
 * network or is freed (the views over the memory must be taken afresh,
 * as it may grow). */
#include <cnn.h>

#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API EMSCRIPTEN_KEEPALIVE

typedef struct {
    cnn_net *net;
    cnn_optim *opt;            /* once web_train_setup is called */
    cnn_train_config cfg;      /* the preset's train line, or the model's */
    cnn_model_meta meta;       /* of a model file; zero otherwise */
    cnn_error err;
    float *x;                  /* max_batch input images, normalised */
    cnn_label *y;
    int max_batch;
    cnn_dataset data[2];       /* training and test images, owned */
    int *order;                /* this epoch's order of the training images */
    int pos, epoch;            /* the next batch starts at order[pos] */
    uint64_t seed;
    double loss;               /* the last web_train's mean loss ... */
    int correct, seen;         /* ... its right answers, out of seen */
    double test_loss, test_accuracy;
    float features[27];        /* the X-or-O walkthrough's */
    int info[16];
    char text[160];
} web;

API web *web_new(void) { return calloc(1, sizeof(web)); }

API const char *web_error(web *w) { return w->err.msg; }
API const char *web_version(void) { return CNN_VERSION; }

static void close_net(web *w)
{
    cnn_optim_free(w->opt);
    cnn_net_free(w->net);
    cnn_model_meta_free(&w->meta);
    free(w->x), free(w->y), free(w->order);
    w->opt = NULL, w->net = NULL, w->x = NULL, w->y = NULL, w->order = NULL;
    memset(&w->meta, 0, sizeof w->meta);
    w->pos = w->epoch = 0;
}

API void web_free(web *w)
{
    if (!w)
        return;
    close_net(w);
    cnn_dataset_free(&w->data[0]);
    cnn_dataset_free(&w->data[1]);
    free(w);
}

/* Lays net out for batches of max_batch, every layer's output kept when
 * keep (as the pictures want; training does not need them). */
static int adopt(web *w, cnn_net *net, int max_batch, int keep, uint64_t seed)
{
    w->net = net;
    w->seed = seed;
    w->max_batch = max_batch < 1 ? 1 : max_batch;
    cnn_net_keep_activations(net, keep);
    if (cnn_net_init(net, w->max_batch, seed, &w->err))
        return w->err.status;
    size_t per = cnn_shape_size(cnn_net_input_shape(net));
    w->x = malloc(sizeof(float) * per * w->max_batch);
    w->y = malloc(sizeof(cnn_label) * w->max_batch);
    if (!w->x || !w->y)
        return cnn_fail(&w->err, CNN_ENOMEM, "out of memory for a batch of %d", w->max_batch);
    return CNN_OK;
}

/* A built-in network ("seed", "lenet", ...), weights drawn from seed. */
API int web_open_preset(web *w, const char *name, int max_batch, int seed, int keep)
{
    close_net(w);
    const char *text = cnn_preset(name);
    if (!text)
        return cnn_fail(&w->err, CNN_EINVAL, "no preset named '%s'", name);
    cnn_net *net = cnn_net_parse(text, &w->cfg, &w->err);
    return net ? adopt(w, net, max_batch, keep, (uint64_t)seed) : w->err.status;
}

/* A model file's bytes, as cnn train writes them. */
API int web_open_model(web *w, const uint8_t *bytes, int len, int max_batch, int keep)
{
    close_net(w);
    cnn_net *net = cnn_model_parse(bytes, (size_t)len, &w->meta, NULL, NULL, NULL, &w->err);
    if (!net)
        return w->err.status;
    w->cfg = w->meta.train;
    return adopt(w, net, max_batch, keep, w->meta.seed);
}

/* The X-or-O walkthrough's network (cnn_xo_walkthrough). */
API int web_open_xo(web *w)
{
    close_net(w);
    cnn_net *net = cnn_xo_walkthrough(1, w->features, &w->err);
    if (!net)
        return w->err.status;
    w->net = net;
    w->max_batch = cnn_net_max_batch(net);
    w->x = malloc(sizeof(float) * 81 * w->max_batch);
    w->y = malloc(sizeof(cnn_label) * w->max_batch);
    return w->x && w->y ? CNN_OK : cnn_fail(&w->err, CNN_ENOMEM, "out of memory");
}

API const float *web_xo_features(web *w) { return w->features; }

/* One of the explanation's pictures ('x', 'o', 'd': cnn_xo_canonical) at
 * web_input. */
API void web_xo_canonical(web *w, int which) { cnn_xo_canonical((char)which, w->x); }

/* ---- what the network is ----------------------------------------------- */

API int web_layers(web *w) { return cnn_net_layers(w->net); }
API int web_classes(web *w) { return cnn_net_classes(w->net); }

/* Layer i (-1: the input) as 16 ints: kind, output c, h, w, filters, window
 * kh, kw, stride sh, sw, padding top, left, bottom, right, ceil mode,
 * parameter count, and 1 if its output is kept apart from the layer before
 * (else it is written over it, or fused away: cnn_net_activation). */
API const int *web_layer_info(web *w, int i)
{
    int *o = w->info;
    memset(w->info, 0, sizeof w->info);
    if (i < 0) {
        cnn_shape s = cnn_net_input_shape(w->net);
        o[0] = CNN_INPUT, o[1] = s.c, o[2] = s.h, o[3] = s.w;
        return o;
    }
    cnn_layer_spec l = cnn_net_layer(w->net, i);
    cnn_shape s = cnn_net_layer_shape(w->net, i);
    int pool = l.kind == CNN_MAXPOOL || l.kind == CNN_AVGPOOL || l.kind == CNN_SUMPOOL;
    o[0] = l.kind, o[1] = s.c, o[2] = s.h, o[3] = s.w, o[4] = l.filters;
    o[5] = l.kh, o[6] = l.kw;
    o[7] = l.sh ? l.sh : pool ? l.kh : 1; /* a pool's stride 0 is its window */
    o[8] = l.sw ? l.sw : pool ? l.kw : 1;
    o[9] = l.ph, o[10] = l.pw, o[11] = l.ph_end, o[12] = l.pw_end;
    o[13] = l.ceil_mode, o[14] = (int)cnn_net_layer_params(w->net, i);
    o[15] = cnn_net_activation(w->net, i) != NULL;
    return o;
}

/* Its line in a network text, as the tools label it ("conv 6 5x5 pad 2"). */
API const char *web_layer_text(web *w, int i)
{
    if (i < 0) {
        cnn_shape s = cnn_net_input_shape(w->net);
        snprintf(w->text, sizeof w->text, "input %dx%dx%d", s.h, s.w, s.c);
        return w->text;
    }
    cnn_layer_spec l = cnn_net_layer(w->net, i);
    cnn_layer_text(&l, 1, w->text, sizeof w->text);
    return w->text;
}

/* Where a model file came from, in a line; "" for a preset. */
API const char *web_model_text(web *w)
{
    const cnn_model_meta *m = &w->meta;
    const char *slash = strrchr(m->dataset, '/'); /* the folder's name, not its path */
    w->text[0] = 0;
    if (m->version[0])
        snprintf(w->text, sizeof w->text, "%d epoch%s on %s, test accuracy %.2f%% (cnn %s)",
                 m->epochs, m->epochs == 1 ? "" : "s", slash ? slash + 1 : m->dataset,
                 m->accuracy >= 0 ? 100 * m->accuracy : 0.0, m->version);
    return w->text;
}

API const char *web_class_names(web *w) { return w->meta.class_names ? w->meta.class_names : ""; }

/* ---- running ----------------------------------------------------------- */

API float *web_input(web *w) { return w->x; }

/* n images of normalised floats, written at web_input. */
API int web_forward(web *w, int n)
{
    if (n < 1 || n > w->max_batch)
        return cnn_fail(&w->err, CNN_EINVAL, "forward of %d images (at most %d)", n,
                        w->max_batch);
    return cnn_forward(w->net, w->x, n, 0, &w->err);
}

/* n images of bytes 0..255, normalised as cnn_dataset_batch does. */
API int web_forward_pixels(web *w, const uint8_t *pixels, int n)
{
    if (n < 1 || n > w->max_batch)
        return cnn_fail(&w->err, CNN_EINVAL, "forward of %d images (at most %d)", n,
                        w->max_batch);
    cnn_shape s = cnn_net_input_shape(w->net);
    cnn_dataset d = {.n = n, .c = s.c, .h = s.h, .w = s.w, .pixels = (uint8_t *)pixels};
    float mean, std;
    cnn_net_normalization(w->net, &mean, &std);
    cnn_dataset_batch(&d, NULL, 0, n, mean, std, w->x, NULL);
    return web_forward(w, n);
}

API const float *web_activation(web *w, int i) { return cnn_net_activation(w->net, i); }
API int web_predicted(web *w, int i) { return cnn_net_predicted(w->net, i); }

API float *web_params(web *w) { return cnn_net_params(w->net); }
API int web_param_count(web *w) { return (int)cnn_net_param_count(w->net); }
API float *web_weights(web *w, int i) { return cnn_net_layer_weights(w->net, i); }
API float *web_bias(web *w, int i) { return cnn_net_layer_bias(w->net, i); }

API int web_set_params(web *w, const float *params, int count)
{
    return cnn_net_set_params(w->net, params, (size_t)count, &w->err);
}

/* ---- training ---------------------------------------------------------- */

/* Takes a copy of n images (bytes) and their labels (bytes) as the training
 * (which 0) or test (which 1) set. */
API int web_set_data(web *w, int which, const uint8_t *pixels, const uint8_t *labels, int n)
{
    if (!w->net || n < 0)
        return cnn_fail(&w->err, CNN_EINVAL, "images need a network first (and n >= 0)");
    cnn_dataset *d = &w->data[which != 0];
    cnn_dataset_free(d);
    cnn_shape s = cnn_net_input_shape(w->net);
    size_t per = cnn_shape_size(s);
    *d = (cnn_dataset){.n = n, .c = s.c, .h = s.h, .w = s.w, .classes = cnn_net_classes(w->net)};
    d->pixels = malloc(per * n);
    d->labels = malloc(sizeof(cnn_label) * n);
    if (!d->pixels || !d->labels) {
        cnn_dataset_free(d);
        return cnn_fail(&w->err, CNN_ENOMEM, "out of memory for %d images", n);
    }
    memcpy(d->pixels, pixels, per * n);
    for (int i = 0; i < n; i++)
        d->labels[i] = labels[i];
    return CNN_OK;
}

/* The optimiser of the network's own train line, and the first epoch's
 * order; the batch is the train line's (the handle's max_batch at most). */
API int web_train_setup(web *w)
{
    cnn_optim_free(w->opt);
    free(w->order);
    w->opt = cnn_optim_new(w->net, &w->cfg, &w->err);
    w->order = malloc(sizeof(int) * (w->data[0].n > 0 ? w->data[0].n : 1));
    if (!w->opt || !w->order)
        return w->opt ? cnn_fail(&w->err, CNN_ENOMEM, "out of memory") : w->err.status;
    if (w->cfg.batch > w->max_batch || w->cfg.batch < 1)
        w->cfg.batch = w->max_batch;
    w->pos = w->epoch = 0;
    return CNN_OK;
}

/* Draws an epoch's order from (seed, epoch) alone. */
static void shuffle(web *w)
{
    cnn_rng r;
    cnn_rng_seed(&r, w->seed * 1000003u + (uint64_t)w->epoch);
    for (int i = 0; i < w->data[0].n; i++)
        w->order[i] = i;
    cnn_rng_shuffle(&r, w->order, w->data[0].n);
}

/* `batches` training steps, each on the next mini-batch of the epoch's
 * order (a new epoch, newly shuffled, when one is done). */
API int web_train(web *w, int batches)
{
    const cnn_dataset *d = &w->data[0];
    if (!w->opt || d->n < 1)
        return cnn_fail(&w->err, CNN_EINVAL, "web_set_data and web_train_setup come first");
    float mean, std;
    cnn_net_normalization(w->net, &mean, &std);
    w->loss = 0, w->correct = w->seen = 0;
    for (int b = 0; b < batches; b++) {
        if (w->pos == 0)
            shuffle(w);
        int n = d->n - w->pos < w->cfg.batch ? d->n - w->pos : w->cfg.batch, right = 0;
        float loss;
        cnn_dataset_batch(d, w->order, w->pos, n, mean, std, w->x, w->y);
        int rc = cnn_train_batch(w->net, w->opt, w->x, w->y, n, w->epoch, &loss, &right, &w->err);
        if (rc)
            return rc;
        w->loss += (double)loss * n, w->correct += right, w->seen += n;
        if ((w->pos += n) >= d->n)
            w->pos = 0, w->epoch++;
    }
    w->loss /= w->seen > 0 ? w->seen : 1;
    return CNN_OK;
}

API double web_loss(web *w) { return w->loss; }
API int web_correct(web *w) { return w->correct; }
API int web_seen(web *w) { return w->seen; }
API int web_epoch(web *w) { return w->epoch; }

/* Loss and accuracy on the test set. */
API int web_evaluate(web *w)
{
    cnn_metrics m = {0};
    int rc = cnn_evaluate(w->net, &w->data[1], &m, NULL, &w->err);
    w->test_loss = m.loss, w->test_accuracy = m.accuracy;
    return rc;
}

API double web_test_loss(web *w) { return w->test_loss; }
API double web_test_accuracy(web *w) { return w->test_accuracy; }
