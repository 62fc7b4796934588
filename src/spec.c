/* The text format of a network: one layer a line, '#' comments, ';' as a line
 * break for one-line specs.  See docs/spec.md.  Every unknown word is an
 * error with its line and column: nothing falls back silently. */
#include "cnn.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const presets[][2] = {
    {"seed",
     "# The tutorial network: 8 filters of 3x3, max-pool 2, softmax over 10 digits,\n"
     "# initialised as the tutorial does (filters N(0,1)/9, weights N(0,1)/1352).\n"
     "input 28x28x1 mean 0.5 std 1\n"
     "conv 8 3x3 nobias init 0.11111111\n"
     "maxpool 2\n"
     "dense 10 init 0.00073964497\n"
     "softmax\n"
     "train sgd lr 0.005 batch 1 epochs 3\n"},
    {"lenet",
     "# LeNet-5 (with ReLU and max pooling, as it is trained today).\n"
     "input 28x28x1 mean 0.1307 std 0.3081\n"
     "conv 6 5x5 pad 2\n"
     "relu\n"
     "maxpool 2\n"
     "conv 16 5x5\n"
     "relu\n"
     "maxpool 2\n"
     "dense 120\n"
     "relu\n"
     "dense 84\n"
     "relu\n"
     "dense 10\n"
     "softmax\n"
     "train momentum lr 0.01 momentum 0.9 batch 64 epochs 5 schedule cosine\n"},
    {"convnet",
     "# Two convolutions then two dense layers (the classic Keras MNIST network).\n"
     "input 28x28x1 mean 0.1307 std 0.3081\n"
     "conv 32 3x3\n"
     "relu\n"
     "conv 64 3x3\n"
     "relu\n"
     "maxpool 2\n"
     "dense 128\n"
     "relu\n"
     "dense 10\n"
     "softmax\n"
     "train momentum lr 0.01 momentum 0.9 batch 128 epochs 5 schedule cosine\n"},
    {"xo",
     "# X or O on 9x9 images of +1/-1 pixels, shaped like the classic explanation:\n"
     "# 3x3 features, ReLU, pooling that keeps the partial windows, a vote.\n"
     "input 9x9x1 mean 0.5 std 0.5\n"
     "conv 8 3x3\n"
     "relu\n"
     "maxpool 2 ceil\n"
     "conv 16 3x3 pad 1\n"
     "relu\n"
     "maxpool 2 ceil\n"
     "dense 2\n"
     "softmax\n"
     "train adam lr 0.01 batch 16 epochs 5\n"},
};

const char *cnn_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i][0], name) == 0)
            return presets[i][1];
    return NULL;
}

/* ---- parsing ----------------------------------------------------------- */

enum { MAX_WORDS = 32, MAX_WORD = 64 };

typedef struct {
    int line;
    int count;
    int col[MAX_WORDS];
    char word[MAX_WORDS][MAX_WORD];
} words;

typedef struct {
    words *w;
    int at;
    cnn_error *err;
} cursor;

static int fail_at(cursor *c, int i, const char *fmt, const char *what)
{
    int at = i < c->w->count ? i : c->w->count - 1;
    int col = at >= 0 && at < MAX_WORDS ? c->w->col[at] : 1;
    char msg[sizeof c->err->msg];
    snprintf(msg, sizeof msg, fmt, what);
    return cnn_fail(c->err, CNN_EINVAL, "line %d, column %d: %s", c->w->line, col, msg);
}

static const char *next_word(cursor *c) { return c->at < c->w->count ? c->w->word[c->at++] : NULL; }

static int parse_int(cursor *c, const char *what, int lo, int hi, int *out)
{
    int i = c->at;
    const char *s = next_word(c);
    if (!s)
        return fail_at(c, i, "%s needs a number", what);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi || end == s) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a whole number in %d..%d", what, lo, hi);
        return fail_at(c, i, "%s", msg);
    }
    *out = (int)v;
    return CNN_OK;
}

static int parse_float(cursor *c, const char *what, float lo, float hi, float *out)
{
    int i = c->at;
    const char *s = next_word(c);
    if (!s)
        return fail_at(c, i, "%s needs a number", what);
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (*end || errno || end == s || !isfinite(v) || v < lo || v > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a number in %g..%g", what, lo, hi);
        return fail_at(c, i, "%s", msg);
    }
    *out = v;
    return CNN_OK;
}

/* "3", "3x5" -> (3,3), (3,5); "28x28x1" with three parts when depth is asked. */
static int parse_dims(cursor *c, const char *what, int parts, int lo, int max, int out[3])
{
    int i = c->at;
    const char *s = next_word(c);
    if (!s)
        return fail_at(c, i, "%s needs a size such as 3x3", what);
    int n = 0;
    const char *p = s;
    while (n < parts) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < lo || v > max || !isdigit((unsigned char)*p))
            break;
        out[n++] = (int)v;
        if (*end == '\0') {
            p = end;
            break;
        }
        if (*end != 'x')
            break;
        p = end + 1;
    }
    if (*p != '\0' || n == 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: '%.20s' is not a size such as 3 or 3x3 (each %d..%d)", what,
                 s, lo, max);
        return fail_at(c, i, "%s", msg);
    }
    if (n == 1)
        out[1] = out[0];
    if (parts == 3 && n < 3)
        out[2] = 1; /* depth defaults to 1: a grayscale image */
    return CNN_OK;
}

static int split_line(const char *line, size_t len, int lineno, words *w, cnn_error *err)
{
    w->line = lineno;
    w->count = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && isspace((unsigned char)line[i]))
            i++;
        if (i >= len || line[i] == '#')
            break;
        size_t start = i;
        while (i < len && !isspace((unsigned char)line[i]) && line[i] != '#')
            i++;
        if (w->count == MAX_WORDS)
            return cnn_fail(err, CNN_EINVAL, "line %d: too many words", lineno);
        if (i - start >= MAX_WORD)
            return cnn_fail(err, CNN_EINVAL, "line %d, column %zu: word too long", lineno,
                            start + 1);
        memcpy(w->word[w->count], line + start, i - start);
        w->word[w->count][i - start] = '\0';
        w->col[w->count] = (int)start + 1;
        w->count++;
    }
    return CNN_OK;
}

static const struct {
    const char *name;
    cnn_layer_kind kind;
} kinds[] = {
    {"conv", CNN_CONV},       {"relu", CNN_RELU},       {"leaky", CNN_LEAKY_RELU},
    {"sigmoid", CNN_SIGMOID}, {"tanh", CNN_TANH},       {"maxpool", CNN_MAXPOOL},
    {"avgpool", CNN_AVGPOOL}, {"sumpool", CNN_SUMPOOL}, {"dense", CNN_DENSE},
    {"dropout", CNN_DROPOUT}, {"flatten", CNN_FLATTEN}, {"softmax", CNN_SOFTMAX},
};

static int parse_layer(cursor *c, cnn_layer_kind kind, cnn_layer_spec *s)
{
    int rc, d[3];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    switch (kind) {
    case CNN_CONV:
        s->sh = s->sw = 1;
        if ((rc = parse_int(c, "conv: the number of filters", 1, 65536, &s->filters)) ||
            (rc = parse_dims(c, "conv: the filter size", 2, 1, 1024, d)))
            return rc;
        s->kh = d[0], s->kw = d[1];
        break;
    case CNN_MAXPOOL: case CNN_AVGPOOL: case CNN_SUMPOOL:
        if ((rc = parse_dims(c, "pooling: the window", 2, 1, 1024, d)))
            return rc;
        s->kh = d[0], s->kw = d[1];
        break;
    case CNN_DENSE:
        if ((rc = parse_int(c, "dense: the number of outputs", 1, 1 << 24, &s->filters)))
            return rc;
        break;
    case CNN_DROPOUT:
        if ((rc = parse_float(c, "dropout: the probability", 0.0f, 0.99f, &s->alpha)))
            return rc;
        break;
    case CNN_LEAKY_RELU:
        s->alpha = 0.01f;
        if (c->at < c->w->count && (isdigit((unsigned char)c->w->word[c->at][0]) ||
                                    c->w->word[c->at][0] == '.'))
            if ((rc = parse_float(c, "leaky: the slope", 0.0f, 1.0f, &s->alpha)))
                return rc;
        break;
    default:
        break;
    }
    int is_conv = kind == CNN_CONV, is_pool = kind >= CNN_MAXPOOL && kind <= CNN_SUMPOOL;
    int weighted = is_conv || kind == CNN_DENSE;
    while (c->at < c->w->count) {
        int i = c->at;
        const char *opt = next_word(c);
        if ((is_conv || is_pool) && strcmp(opt, "stride") == 0) {
            if ((rc = parse_dims(c, "stride", 2, 1, 1024, d)))
                return rc;
            s->sh = d[0], s->sw = d[1];
        } else if (is_conv && strcmp(opt, "pad") == 0) {
            if (c->at < c->w->count && strcmp(c->w->word[c->at], "same") == 0) {
                c->at++;
                s->same = 1;
            } else {
                if ((rc = parse_dims(c, "pad", 2, 0, 1024, d)))
                    return rc;
                s->ph = d[0], s->pw = d[1];
            }
        } else if (weighted && strcmp(opt, "nobias") == 0) {
            s->no_bias = 1;
        } else if (weighted && strcmp(opt, "init") == 0) {
            if ((rc = parse_float(c, "init (the weights' standard deviation)", 1e-12f, 100.0f,
                                  &s->init_std)))
                return rc;
        } else if (is_pool && strcmp(opt, "ceil") == 0) {
            s->ceil_mode = 1;
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown option '%.40s' for %s%s", opt, cnn_layer_name(kind),
                     is_conv   ? " (options: stride, pad, nobias, init)"
                     : is_pool ? " (options: stride, ceil)"
                     : kind == CNN_DENSE ? " (options: nobias, init)"
                                         : " (it takes no options)");
            return fail_at(c, i, "%s", msg);
        }
    }
    return CNN_OK;
}

static int parse_train(cursor *c, cnn_train_config *t)
{
    int rc;
    while (c->at < c->w->count) {
        int i = c->at;
        const char *opt = next_word(c);
        if (strcmp(opt, "sgd") == 0)
            t->optimizer = CNN_SGD;
        else if (strcmp(opt, "momentum") == 0 && c->at < c->w->count &&
                 (isdigit((unsigned char)c->w->word[c->at][0]) || c->w->word[c->at][0] == '.')) {
            t->optimizer = CNN_MOMENTUM;
            if ((rc = parse_float(c, "momentum", 0.0f, 0.999f, &t->momentum)))
                return rc;
        } else if (strcmp(opt, "momentum") == 0)
            t->optimizer = CNN_MOMENTUM;
        else if (strcmp(opt, "adam") == 0)
            t->optimizer = CNN_ADAM;
        else if (strcmp(opt, "lr") == 0) {
            if ((rc = parse_float(c, "lr", 1e-9f, 100.0f, &t->lr)))
                return rc;
        } else if (strcmp(opt, "batch") == 0) {
            if ((rc = parse_int(c, "batch", 1, 65536, &t->batch)))
                return rc;
        } else if (strcmp(opt, "epochs") == 0) {
            if ((rc = parse_int(c, "epochs", 1, 100000, &t->epochs)))
                return rc;
        } else if (strcmp(opt, "decay") == 0) {
            if ((rc = parse_float(c, "decay", 0.0f, 1.0f, &t->weight_decay)))
                return rc;
        } else if (strcmp(opt, "step") == 0) {
            if ((rc = parse_int(c, "step (epochs between learning-rate cuts)", 1, 100000,
                                &t->step_epochs)))
                return rc;
        } else if (strcmp(opt, "gamma") == 0) {
            if ((rc = parse_float(c, "gamma", 0.0f, 1.0f, &t->gamma)))
                return rc;
        } else if (strcmp(opt, "schedule") == 0) {
            int si = c->at;
            const char *s = next_word(c);
            if (s && strcmp(s, "constant") == 0)
                t->schedule = CNN_CONSTANT;
            else if (s && strcmp(s, "step") == 0)
                t->schedule = CNN_STEP;
            else if (s && strcmp(s, "cosine") == 0)
                t->schedule = CNN_COSINE;
            else
                return fail_at(c, si, "%s", "schedule must be constant, step or cosine");
        } else {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "unknown training option '%.40s' (expected sgd, momentum, adam, lr, batch, "
                     "epochs, decay, schedule, step, gamma)",
                     opt);
            return fail_at(c, i, "%s", msg);
        }
    }
    return CNN_OK;
}

static int parse_input(cursor *c, cnn_shape *in, float *mean, float *std)
{
    int d[3], rc;
    if ((rc = parse_dims(c, "input: the image size HxWxC", 3, 1, 16384, d)))
        return rc;
    *in = (cnn_shape){d[2], d[0], d[1]};
    while (c->at < c->w->count) {
        int i = c->at;
        const char *opt = next_word(c);
        if (strcmp(opt, "mean") == 0) {
            if ((rc = parse_float(c, "mean", -1e6f, 1e6f, mean)))
                return rc;
        } else if (strcmp(opt, "std") == 0) {
            if ((rc = parse_float(c, "std", 1e-6f, 1e6f, std)))
                return rc;
        } else {
            return fail_at(c, i, "unknown option '%.40s' for input (options: mean, std)", opt);
        }
    }
    return CNN_OK;
}

cnn_net *cnn_net_parse(const char *text, cnn_train_config *train, cnn_error *err)
{
    cnn_net *net = NULL;
    cnn_train_config t = cnn_train_defaults();
    words *w = malloc(sizeof *w);
    if (!w) {
        cnn_fail(err, CNN_ENOMEM, "out of memory");
        return NULL;
    }
    int lineno = 0, seen_train = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "\n;");
        lineno++;
        if (split_line(p, len, lineno, w, err))
            goto fail;
        p += len + (p[len] != '\0');
        if (w->count == 0)
            continue;
        cursor c = {w, 1, err};
        const char *head = w->word[0];
        if (strcmp(head, "input") == 0) {
            if (net) {
                fail_at(&c, 0, "%s", "input must be the first line, and only once");
                goto fail;
            }
            cnn_shape in;
            float mean = 0.0f, std = 1.0f;
            if (parse_input(&c, &in, &mean, &std))
                goto fail;
            cnn_error inner;
            if (!(net = cnn_net_new(in, &inner))) {
                fail_at(&c, 1, "%s", inner.msg);
                goto fail;
            }
            cnn_net_set_normalization(net, mean, std);
            continue;
        }
        if (strcmp(head, "train") == 0) {
            if (seen_train++) {
                fail_at(&c, 0, "%s", "only one train line");
                goto fail;
            }
            if (parse_train(&c, &t))
                goto fail;
            continue;
        }
        size_t k = 0;
        while (k < sizeof kinds / sizeof kinds[0] && strcmp(kinds[k].name, head) != 0)
            k++;
        if (k == sizeof kinds / sizeof kinds[0]) {
            fail_at(&c, 0,
                    "unknown layer '%.40s' (expected input, conv, relu, leaky, sigmoid, tanh, "
                    "maxpool, avgpool, sumpool, dense, dropout, flatten, softmax or train)",
                    head);
            goto fail;
        }
        if (!net) {
            fail_at(&c, 0, "%s", "the first line must be 'input HxWxC'");
            goto fail;
        }
        cnn_layer_spec spec;
        if (parse_layer(&c, kinds[k].kind, &spec))
            goto fail;
        cnn_error inner;
        if (cnn_net_add(net, &spec, &inner)) {
            cnn_fail(err, inner.status, "line %d: %s", lineno, inner.msg);
            goto fail;
        }
    }
    if (!net) {
        cnn_fail(err, CNN_EINVAL, "the network is empty: it needs an 'input HxWxC' line");
        goto fail;
    }
    if (cnn_net_layers(net) == 0) {
        cnn_fail(err, CNN_EINVAL, "the network has no layers after its input");
        goto fail;
    }
    free(w);
    if (train)
        *train = t;
    return net;
fail:
    free(w);
    cnn_net_free(net);
    return NULL;
}

/* ---- writing ----------------------------------------------------------- */

/* %.9g: enough digits that a float survives the round trip exactly. */
char *cnn_net_to_spec(const cnn_net *net)
{
    size_t cap = 256 + 128 * (size_t)cnn_net_layers(net), len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    cnn_shape in = cnn_net_input_shape(net);
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    len += (size_t)snprintf(s + len, cap - len, "input %dx%dx%d mean %.9g std %.9g\n", in.h, in.w,
                            in.c, mean, std);
    for (int i = 0; i < cnn_net_layers(net); i++) {
        cnn_layer_spec l = cnn_net_layer(net, i);
        char *o = s + len;
        size_t room = cap - len;
        int n = snprintf(o, room, "%s", cnn_layer_name(l.kind));
        switch (l.kind) {
        case CNN_CONV:
            n += snprintf(o + n, room - n, " %d %dx%d stride %dx%d", l.filters, l.kh, l.kw, l.sh,
                          l.sw);
            if (l.same)
                n += snprintf(o + n, room - n, " pad same");
            else if (l.ph || l.pw)
                n += snprintf(o + n, room - n, " pad %dx%d", l.ph, l.pw);
            break;
        case CNN_MAXPOOL: case CNN_AVGPOOL: case CNN_SUMPOOL:
            n += snprintf(o + n, room - n, " %dx%d stride %dx%d%s", l.kh, l.kw, l.sh, l.sw,
                          l.ceil_mode ? " ceil" : "");
            break;
        case CNN_DENSE: n += snprintf(o + n, room - n, " %d", l.filters); break;
        case CNN_DROPOUT: n += snprintf(o + n, room - n, " %.9g", l.alpha); break;
        case CNN_LEAKY_RELU: n += snprintf(o + n, room - n, " %.9g", l.alpha); break;
        default: break;
        }
        if ((l.kind == CNN_CONV || l.kind == CNN_DENSE) && l.no_bias)
            n += snprintf(o + n, room - n, " nobias");
        if ((l.kind == CNN_CONV || l.kind == CNN_DENSE) && l.init_std > 0)
            n += snprintf(o + n, room - n, " init %.9g", l.init_std);
        n += snprintf(o + n, room - n, "\n");
        len += (size_t)n;
    }
    return s;
}
