/* The text format of a network: one layer a line, '#' comments, ';' as a line
 * break for one-line specs.  See docs/spec.md.  Every unknown word is an
 * error with its line and column: nothing falls back silently. */
#include "layer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
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
        char msg[256];
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
        char msg[256];
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
        char msg[256];
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

/* A padding: "same", "P", "PHxPW" or "T,L,B,R" (top, left, bottom, right:
 * ONNX's `pads` for 2-D), into s; `pad` is its top and left (ph, pw).  A
 * later pad on the line replaces an earlier one whole. */
static int parse_pad(cursor *c, const char *what, int lo, int hi, cnn_layer_spec *s, int *pad)
{
    int i = c->at;
    const char *word = next_word(c);
    if (!word)
        return fail_at(c, i, "%s needs a padding such as 1, 1x2 or 0,1,1,0", what);
    s->same = s->pad_asym = 0;
    if (strcmp(word, "same") == 0) {
        s->same = 1;
        return CNN_OK;
    }
    int parts = 1;
    for (const char *q = word; *q; q++)
        parts += *q == ',';
    char msg[256];
    if (parts != 1 && parts != 4) {
        snprintf(msg, sizeof msg, "%s: '%.20s' gives %d pads: give 1 (P), 2 (PHxPW) or 4 "
                 "(T,L,B,R: top, left, bottom, right)", what, word, parts);
        return fail_at(c, i, "%s", msg);
    }
    char sep = parts == 4 ? ',' : 'x';
    const char *p = word;
    int v[4], n = 0;
    while (n < 4 && isdigit((unsigned char)*p)) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || x < lo || x > hi)
            break;
        v[n++] = (int)x;
        p = end;
        if (*p != sep)
            break;
        p++;
    }
    if (*p != '\0' || n == 0 || (parts == 4 && n < 4) || (parts == 1 && n > 2)) {
        snprintf(msg, sizeof msg, "%s: '%.20s' is not a padding such as 1, 1x2 or 0,1,1,0 "
                 "(each %d..%d)", what, word, lo, hi);
        return fail_at(c, i, "%s", msg);
    }
    pad[0] = v[0];
    pad[1] = n > 1 ? v[1] : v[0];
    if (n == 4)
        s->ph_end = v[2], s->pw_end = v[3], s->pad_asym = 1;
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

/* Where an option's value lives in the spec. */
static int *int_at(cnn_layer_spec *s, const layer_option *o) { return (int *)((char *)s + o->at); }
static float *float_at(cnn_layer_spec *s, const layer_option *o)
{
    return (float *)((char *)s + o->at);
}

static void set_default(cnn_layer_spec *s, const layer_option *o)
{
    if (o->type == OPT_FLOAT)
        *float_at(s, o) = o->def;
    else if (o->type == OPT_DIMS || o->type == OPT_PAD)
        int_at(s, o)[0] = int_at(s, o)[1] = (int)o->def;
    else
        *int_at(s, o) = (int)o->def;
}

static int looks_like_number(const cursor *c)
{
    const char *s = c->at < c->w->count ? c->w->word[c->at] : "";
    return isdigit((unsigned char)s[0]) || s[0] == '.';
}

/* The value of option o, from the words at the cursor. */
static int parse_option(cursor *c, const char *kind, const layer_option *o, cnn_layer_spec *s)
{
    char what[96];
    snprintf(what, sizeof what, "%s: %s", kind, o->what);
    int d[3], rc = CNN_OK;
    switch (o->type) {
    case OPT_INT: return parse_int(c, what, (int)o->lo, (int)o->hi, int_at(s, o));
    case OPT_FLOAT: return parse_float(c, what, o->lo, o->hi, float_at(s, o));
    case OPT_FLAG: *int_at(s, o) = 1; return CNN_OK;
    case OPT_PAD: return parse_pad(c, what, (int)o->lo, (int)o->hi, s, int_at(s, o));
    case OPT_DIMS:
        if ((rc = parse_dims(c, what, 2, (int)o->lo, (int)o->hi, d)) == CNN_OK)
            int_at(s, o)[0] = d[0], int_at(s, o)[1] = d[1];
        return rc;
    }
    return rc;
}

/* A layer's line after its name, from the options its kind lists in the
 * registry: the values in their places, then keywords in any order. */
static int parse_layer(cursor *c, cnn_layer_kind kind, cnn_layer_spec *s)
{
    const layer_option *opts = layer_kinds[kind].options, *o;
    const char *name = cnn_layer_name(kind);
    int rc;
    memset(s, 0, sizeof *s);
    s->kind = kind;
    for (o = opts; o && o->what; o++)
        set_default(s, o);
    for (o = opts; o && o->what && !o->word; o++)
        if ((!(o->traits & OPTION_MAY_BE_LEFT_OUT) || looks_like_number(c)) && (rc = parse_option(c, name, o, s)))
            return rc;
    while (c->at < c->w->count) {
        int i = c->at;
        const char *word = next_word(c);
        for (o = opts; o && o->what && !(o->word && strcmp(o->word, word) == 0); o++)
            ;
        if (o && o->what) {
            if ((rc = parse_option(c, name, o, s)))
                return rc;
            continue;
        }
        char list[96] = "";
        for (size_t n = 0, k = 0; opts && opts[k].what; k++)
            if (opts[k].word)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "",
                                      opts[k].word);
        char msg[200];
        snprintf(msg, sizeof msg, "unknown option '%.40s' for %s (%s%s)", word, name,
                 *list ? "options: " : "it takes no options", list);
        return fail_at(c, i, "%s", msg);
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

/* What a text has given so far. */
typedef struct {
    cnn_net *net;
    cnn_train_config train;
    int seen_train;
} parsed;

/* The input line: the network starts here, once. */
static int read_input(cursor *c, parsed *p)
{
    if (p->net)
        return fail_at(c, 0, "%s", "input must be the first line, and only once");
    cnn_shape in;
    float mean = 0.0f, std = 1.0f;
    int rc = parse_input(c, &in, &mean, &std);
    if (rc)
        return rc;
    cnn_error inner;
    if (!(p->net = cnn_net_new(in, &inner)))
        return fail_at(c, 1, "%s", inner.msg);
    cnn_net_set_normalization(p->net, mean, std);
    return CNN_OK;
}

/* A layer line: its kind by name, its words, then the shape check. */
static int read_layer(cursor *c, parsed *p)
{
    const char *head = c->w->word[0];
    int kind = kind_named(head);
    if (kind < 0) {
        char msg[sizeof c->err->msg];
        size_t n = (size_t)snprintf(msg, sizeof msg, "unknown layer '%.40s' (expected input", head);
        for (int k = 0; k < CNN_LAYER_KINDS; k++)
            if (layer_kinds[k].ops)
                n += (size_t)snprintf(msg + n, sizeof msg - n, ", %s", layer_kinds[k].name);
        snprintf(msg + n, sizeof msg - n, " or train)");
        return fail_at(c, 0, "%s", msg);
    }
    if (!p->net)
        return fail_at(c, 0, "%s", "the first line must be 'input HxWxC'");
    cnn_layer_spec spec;
    int rc = parse_layer(c, (cnn_layer_kind)kind, &spec);
    if (rc)
        return rc;
    cnn_error inner;
    if (cnn_net_add(p->net, &spec, &inner))
        return cnn_fail(c->err, inner.status, "line %d: %s", c->w->line, inner.msg);
    return CNN_OK;
}

static int read_line(cursor *c, parsed *p)
{
    const char *head = c->w->word[0];
    if (strcmp(head, "input") == 0)
        return read_input(c, p);
    if (strcmp(head, "train") != 0)
        return read_layer(c, p);
    if (p->seen_train++)
        return fail_at(c, 0, "%s", "only one train line");
    return parse_train(c, &p->train);
}

cnn_net *cnn_net_parse(const char *text, cnn_train_config *train, cnn_error *err)
{
    parsed p = {NULL, cnn_train_defaults(), 0};
    words *w = malloc(sizeof *w);
    int rc = w ? CNN_OK : cnn_fail(err, CNN_ENOMEM, "out of memory");
    for (int lineno = 1; rc == CNN_OK && *text; lineno++) {
        size_t len = strcspn(text, "\n;");
        rc = split_line(text, len, lineno, w, err);
        text += len + (text[len] != '\0');
        if (rc == CNN_OK && w->count > 0)
            rc = read_line(&(cursor){w, 1, err}, &p);
    }
    if (rc == CNN_OK && !p.net)
        rc = cnn_fail(err, CNN_EINVAL, "the network is empty: it needs an 'input HxWxC' line");
    if (rc == CNN_OK && cnn_net_layers(p.net) == 0)
        rc = cnn_fail(err, CNN_EINVAL, "the network has no layers after its input");
    free(w);
    if (rc) {
        cnn_net_free(p.net);
        return NULL;
    }
    if (train)
        *train = p.train;
    return p.net;
}

/* ---- writing ----------------------------------------------------------- */

/* One option as its line says it, or nothing when it is at its default.
 * %.9g: enough digits that a float survives the round trip exactly. */
static int write_option(char *o, size_t room, const cnn_layer_spec *s, const layer_option *p)
{
    const char *key = p->word ? p->word : "", *gap = p->word ? " " : "";
    const int *d = (const int *)((const char *)s + p->at);
    float f = *(const float *)((const char *)s + p->at);
    int given = p->word == NULL && !(p->traits & OPTION_MAY_BE_LEFT_OUT);
    switch (p->type) {
    case OPT_INT:
        return given || d[0] != (int)p->def ? snprintf(o, room, " %s%s%d", key, gap, d[0]) : 0;
    case OPT_FLOAT:
        return given || f != p->def ? snprintf(o, room, " %s%s%.9g", key, gap, f) : 0;
    case OPT_FLAG: return d[0] ? snprintf(o, room, " %s", key) : 0;
    case OPT_PAD: {
        if (s->same)
            return snprintf(o, room, " %s same", key);
        if (d[0] == 0 && d[1] == 0 && (!s->pad_asym || (s->ph_end == 0 && s->pw_end == 0)))
            return 0;
        char pad[48];
        pad_text(s, pad, sizeof pad);
        return snprintf(o, room, " %s %s", key, pad);
    }
    case OPT_DIMS: {
        /* a pooling stride of 0 means "as the window", which it then is */
        int dh = p->def == 0 && p->at == offsetof(cnn_layer_spec, sh) ? s->kh : (int)p->def;
        int dw = p->def == 0 && p->at == offsetof(cnn_layer_spec, sh) ? s->kw : (int)p->def;
        if (!given && ((d[0] == dh && d[1] == dw) || (d[0] == 0 && d[1] == 0)))
            return 0;
        return snprintf(o, room, " %s%s%dx%d", key, gap, d[0], d[1]);
    }
    }
    return 0;
}

int pad_text(const cnn_layer_spec *s, char *out, size_t n)
{
    if (s->pad_asym && (s->ph_end != s->ph || s->pw_end != s->pw))
        return snprintf(out, n, "%d,%d,%d,%d", s->ph, s->pw, s->ph_end, s->pw_end);
    return snprintf(out, n, "%dx%d", s->ph, s->pw);
}

int cnn_layer_text(const cnn_layer_spec *s, int brief, char *out, size_t n)
{
    const layer_option *o =
        s->kind >= 0 && s->kind < CNN_LAYER_KINDS ? layer_kinds[s->kind].options : NULL;
    size_t len = (size_t)snprintf(out, n, "%s", cnn_layer_name(s->kind));
    for (; o && o->what; o++)
        if (!(brief && (o->traits & OPTION_ONLY_LEARNING))) {
            size_t at = len < n ? len : n;
            len += (size_t)write_option(out + at, n - at, s, o);
        }
    return (int)len;
}

char *cnn_net_to_spec(const cnn_net *net)
{
    size_t cap = 256 + 160 * (size_t)cnn_net_layers(net), len = 0;
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
        len += (size_t)cnn_layer_text(&l, 0, s + len, cap - len);
        len += (size_t)snprintf(s + len, cap - len, "\n");
    }
    return s;
}
