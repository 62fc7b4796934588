/* Model files: self-describing, little-endian, versioned, checksummed.
 *
 *   offset  size  field
 *   0       8     magic "CNNMODEL"
 *   8       4     format version (3 with a QUNT section, else 2; versions
 *                 1 to 3 load)
 *   12      8     total file length
 *   20      ...   sections, each: 4-byte tag, 8-byte length, payload
 *                   SPEC  the network text (cnn_net_to_spec)
 *                   META  dataset, epochs, accuracy, loss, date, version,
 *                         seed, training settings (and in version 1 the
 *                         class names, in a fixed 1,024-byte field; in
 *                         version 2 that field is empty)
 *                   NAME  (version 2, when there are names) the class
 *                         names, newline-separated, any length
 *                   PARM  u64 count, then count float32 parameters
 *                   QUNT  (an int8 model, version 3) u32 count = layers + 1,
 *                         then count pairs of float32: the calibrated range
 *                         of the input and of each layer's output (quant.c)
 *                   OPTM  (checkpoints) i64 optimiser steps, u64 training
 *                         forwards, u64 count, count float32 state values
 *   end-4   4     CRC-32 (as zlib computes it) of everything before it
 *
 * Saving writes a temporary file in the same folder, flushes it to the disk
 * and renames it over the target: a crash leaves the old file or the new one,
 * never half of one. */
#include "cnn.h"
#include "file.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { FORMAT_VERSION = 3, FLOAT_VERSION = 2, HEADER = 20, MAX_SPEC = 1 << 20, V1_NAMES = 1024, MAX_NAMES = 1 << 24 };
static const char MAGIC[8] = {'C', 'N', 'N', 'M', 'O', 'D', 'E', 'L'};

/* ---- little-endian writing into a growing buffer ---------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v)
{
    uint8_t e[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, e, 4);
}

static void put_u64(buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f32(buf *b, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(b, v);
}

static void put_floats(buf *b, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_f32(b, f[i]);
}

static void put_str(buf *b, const char *s, size_t field)
{
    char tmp[1024] = {0};
    size_t n = strnlen(s, field - 1);
    memcpy(tmp, s, n);
    put(b, tmp, field);
}

static void patch_u64(buf *b, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->p[at + i] = (uint8_t)(v >> (8 * i));
}

static size_t begin_section(buf *b, const char tag[4])
{
    put(b, tag, 4);
    put_u64(b, 0);
    return b->len;
}

static void end_section(buf *b, size_t start)
{
    if (!b->oom)
        patch_u64(b, start - 8, b->len - start);
}

static void put_meta(buf *b, const cnn_model_meta *m)
{
    put_str(b, m->dataset, 64);
    put_u32(b, (uint32_t)m->epochs);
    put_f32(b, m->accuracy);
    put_f32(b, m->loss);
    put_u64(b, (uint64_t)m->created);
    put_str(b, CNN_VERSION, 16);
    put_u64(b, m->seed);
    const cnn_train_config *t = &m->train;
    put_u32(b, (uint32_t)t->optimizer);
    put_f32(b, t->lr);
    put_f32(b, t->momentum);
    put_f32(b, t->beta1);
    put_f32(b, t->beta2);
    put_f32(b, t->eps);
    put_f32(b, t->weight_decay);
    put_u32(b, (uint32_t)t->schedule);
    put_u32(b, (uint32_t)t->step_epochs);
    put_f32(b, t->gamma);
    put_u32(b, (uint32_t)t->batch);
    put_u32(b, (uint32_t)t->epochs);
    put(b, (char[V1_NAMES]){0}, V1_NAMES); /* the names are in NAME */
    int count = m->history_count < 0 ? 0
                : m->history_count > CNN_MAX_HISTORY ? CNN_MAX_HISTORY : m->history_count;
    put_u32(b, (uint32_t)count);
    for (int i = 0; i < count; i++) {
        const cnn_epoch_record *h = &m->history[i];
        put_f32(b, h->train_loss);
        put_f32(b, h->train_accuracy);
        put_f32(b, h->test_loss);
        put_f32(b, h->test_accuracy);
        put_f32(b, h->seconds);
    }
}

int cnn_model_save(const char *path, cnn_net *net, const cnn_model_meta *meta, cnn_optim *opt,
                   cnn_error *err)
{
    char *spec = cnn_net_to_spec(net);
    if (!spec)
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    buf b = {0};
    put(&b, MAGIC, 8);
    /* a float model stays readable by the cnn of version 2 files */
    put_u32(&b, cnn_net_quant_ranges(net) ? FORMAT_VERSION : FLOAT_VERSION);
    put_u64(&b, 0); /* total length, patched below */
    size_t s = begin_section(&b, "SPEC");
    put(&b, spec, strlen(spec));
    end_section(&b, s);
    free(spec);
    cnn_model_meta m = {0};
    if (meta)
        m = *meta;
    s = begin_section(&b, "META");
    put_meta(&b, &m);
    end_section(&b, s);
    if (m.class_names && *m.class_names) {
        s = begin_section(&b, "NAME");
        put(&b, m.class_names, strlen(m.class_names));
        end_section(&b, s);
    }
    s = begin_section(&b, "PARM");
    put_u64(&b, cnn_net_param_count(net));
    put_floats(&b, cnn_net_params(net), cnn_net_param_count(net));
    end_section(&b, s);
    if (cnn_net_quant_ranges(net)) {
        int count = cnn_net_layers(net) + 1;
        s = begin_section(&b, "QUNT");
        put_u32(&b, (uint32_t)count);
        put_floats(&b, cnn_net_quant_ranges(net), 2 * (size_t)count);
        end_section(&b, s);
    }
    if (opt) {
        size_t count;
        float *state = cnn_optim_state(opt, &count);
        s = begin_section(&b, "OPTM");
        put_u64(&b, (uint64_t)cnn_optim_steps(opt));
        put_u64(&b, cnn_net_training_steps(net));
        put_u64(&b, count);
        put_floats(&b, state, count);
        end_section(&b, s);
    }
    if (!b.oom)
        patch_u64(&b, 12, b.len + 4);
    put_u32(&b, b.oom ? 0 : file_crc32(b.p, b.len));
    int rc = b.oom ? cnn_fail(err, CNN_ENOMEM, "out of memory") : file_write_atomic(path, b.p, b.len, err);
    free(b.p);
    return rc;
}

/* ---- reading, with every length checked against what is left --------- */

typedef struct {
    const uint8_t *p;
    size_t len, at;
} reader;

static int take(reader *r, void *dst, size_t n)
{
    if (n > r->len - r->at)
        return -1;
    memcpy(dst, r->p + r->at, n);
    r->at += n;
    return 0;
}

static uint32_t get_u32(reader *r, int *bad)
{
    uint8_t e[4] = {0};
    if (take(r, e, 4))
        *bad = 1;
    return (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
}

static uint64_t get_u64(reader *r, int *bad)
{
    uint64_t lo = get_u32(r, bad);
    return lo | (uint64_t)get_u32(r, bad) << 32;
}

static float get_f32(reader *r, int *bad)
{
    uint32_t v = get_u32(r, bad);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static void get_str(reader *r, char *dst, size_t field, int *bad)
{
    if (take(r, dst, field))
        *bad = 1;
    dst[field - 1] = '\0';
}

static int get_meta(reader *r, cnn_model_meta *m)
{
    int bad = 0;
    memset(m, 0, sizeof *m);
    get_str(r, m->dataset, 64, &bad);
    m->epochs = (int)get_u32(r, &bad);
    m->accuracy = get_f32(r, &bad);
    m->loss = get_f32(r, &bad);
    m->created = (int64_t)get_u64(r, &bad);
    get_str(r, m->version, 16, &bad);
    m->seed = get_u64(r, &bad);
    cnn_train_config *t = &m->train;
    t->optimizer = (cnn_optimizer)get_u32(r, &bad);
    t->lr = get_f32(r, &bad);
    t->momentum = get_f32(r, &bad);
    t->beta1 = get_f32(r, &bad);
    t->beta2 = get_f32(r, &bad);
    t->eps = get_f32(r, &bad);
    t->weight_decay = get_f32(r, &bad);
    t->schedule = (cnn_schedule)get_u32(r, &bad);
    t->step_epochs = (int)get_u32(r, &bad);
    t->gamma = get_f32(r, &bad);
    t->batch = (int)get_u32(r, &bad);
    t->epochs = (int)get_u32(r, &bad);
    char names[V1_NAMES];
    get_str(r, names, V1_NAMES, &bad);
    if (!bad && *names && !(m->class_names = strdup(names)))
        return 1;
    uint32_t count = get_u32(r, &bad);
    if (bad || count > CNN_MAX_HISTORY || r->len - r->at != (size_t)count * 20)
        return 1;
    for (uint32_t i = 0; i < count; i++) {
        cnn_epoch_record *h = &m->history[i];
        h->train_loss = get_f32(r, &bad);
        h->train_accuracy = get_f32(r, &bad);
        h->test_loss = get_f32(r, &bad);
        h->test_accuracy = get_f32(r, &bad);
        h->seconds = get_f32(r, &bad);
    }
    m->history_count = (int)count;
    if (t->optimizer > CNN_ADAM || t->schedule > CNN_COSINE)
        bad = 1;
    return bad;
}

/* The header, the total size and the checksum, before any section is read. */
static int check_envelope(const uint8_t *bytes, size_t len, cnn_error *err)
{
    if (len < HEADER + 4 || memcmp(bytes, MAGIC, 8) != 0)
        return cnn_fail(err, CNN_EFORMAT, "not a cnn model file (no CNNMODEL header)");
    reader r = {bytes, len, 8};
    int bad = 0;
    uint32_t version = get_u32(&r, &bad);
    uint64_t total = get_u64(&r, &bad);
    if (version < 1 || version > FORMAT_VERSION)
        return cnn_fail(err, CNN_EFORMAT,
                        "model format version %u; this cnn (%s) reads versions 1 to %d", version,
                        CNN_VERSION, FORMAT_VERSION);
    if (total != len)
        return cnn_fail(err, CNN_EFORMAT, "the model file is %zu bytes but its header says %llu: %s",
                        len, (unsigned long long)total, total > len ? "truncated" : "trailing data");
    uint32_t stored = (uint32_t)bytes[len - 4] | (uint32_t)bytes[len - 3] << 8 |
                      (uint32_t)bytes[len - 2] << 16 | (uint32_t)bytes[len - 1] << 24;
    if (file_crc32(bytes, len - 4) != stored)
        return cnn_fail(err, CNN_EFORMAT, "the model file is corrupt (checksum mismatch)");
    return CNN_OK;
}

/* What a file's sections give, as they are read. */
typedef struct {
    cnn_net *net;
    cnn_model_meta meta;
    int have_meta, have_names, have_params, have_quant;
    float *opt_state; /* when asked for */
    size_t opt_count;
    int64_t steps;
} model_parts;

enum { CORRUPT = -1 }; /* a section's layout is wrong (err not yet set) */

/* SPEC: the network, checked to be no larger than the file can hold. */
static int read_spec(reader *sec, size_t file_len, model_parts *m, cnn_error *err)
{
    if (sec->len > MAX_SPEC)
        return CORRUPT;
    char *text = malloc(sec->len + 1);
    if (!text)
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    memcpy(text, sec->p, sec->len);
    text[sec->len] = '\0';
    cnn_error inner;
    m->net = cnn_net_parse(text, NULL, &inner);
    free(text);
    if (!m->net)
        return cnn_fail(err, CNN_EFORMAT, "the model's network text is invalid: %s", inner.msg);
    /* the parameters must be in the file: a few bytes of text that
     * describe a huge network allocate nothing */
    if (cnn_net_param_count(m->net) > file_len / sizeof(float))
        return cnn_fail(err, CNN_EFORMAT,
                        "the model's network has %zu parameters but the file is only %zu bytes",
                        cnn_net_param_count(m->net), file_len);
    return CNN_OK;
}

/* The count and that many floats: PARM's parameters, OPTM's state. */
static float *read_floats(reader *sec, uint64_t count, cnn_error *err)
{
    float *v = malloc(sizeof(float) * (count ? (size_t)count : 1));
    int bad = 0;
    if (!v) {
        cnn_fail(err, CNN_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        v[i] = get_f32(sec, &bad);
    return v;
}

/* PARM: every parameter, then the network is ready to run. */
static int read_params(reader *sec, model_parts *m, cnn_error *err)
{
    int bad = 0;
    uint64_t count = get_u64(sec, &bad);
    size_t want = cnn_net_param_count(m->net);
    if (bad || count != want)
        return cnn_fail(err, CNN_EFORMAT, "the model holds %llu parameters but its network has %zu",
                        (unsigned long long)count, want);
    if (sec->len - sec->at != 4 * count)
        return CORRUPT;
    float *w = read_floats(sec, count, err);
    int rc = w ? cnn_net_set_params(m->net, w, want, err) : CNN_ENOMEM;
    free(w);
    if (rc == CNN_OK && (rc = cnn_net_init(m->net, 1, 0, err)) == CNN_OK)
        m->have_params = 1;
    return rc;
}

/* OPTM: the optimiser's step count and state, and the network's count of
 * training forwards (a checkpoint). */
static int read_optim(reader *sec, model_parts *m, int want_state, cnn_error *err)
{
    int bad = 0;
    m->steps = (int64_t)get_u64(sec, &bad);
    uint64_t forwards = get_u64(sec, &bad);
    uint64_t count = get_u64(sec, &bad);
    if (bad || count > 2 * (uint64_t)cnn_net_param_count(m->net) ||
        sec->len - sec->at != 4 * count)
        return CORRUPT;
    cnn_net_set_training_steps(m->net, forwards);
    m->opt_count = (size_t)count;
    if (want_state && count && !(m->opt_state = read_floats(sec, count, err)))
        return CNN_ENOMEM;
    return CNN_OK;
}

/* QUNT: the int8 model's ranges, each finite with lo <= hi; the network is
 * then quantized from them. */
static int read_quant(reader *sec, model_parts *m, cnn_error *err)
{
    int bad = 0;
    uint32_t count = get_u32(sec, &bad);
    if (bad || count != (uint32_t)cnn_net_layers(m->net) + 1 ||
        sec->len - sec->at != 8 * (size_t)count)
        return CORRUPT;
    float *r = read_floats(sec, 2 * (uint64_t)count, err);
    if (!r)
        return CNN_ENOMEM;
    int rc = CNN_OK;
    for (uint32_t i = 0; i < count && rc == CNN_OK; i++)
        if (!isfinite(r[2 * i]) || !isfinite(r[2 * i + 1]) || r[2 * i] > r[2 * i + 1])
            rc = CORRUPT;
    if (rc == CNN_OK && (rc = cnn_net_quantize_ranges(m->net, r, err)) == CNN_OK)
        m->have_quant = 1;
    free(r);
    return rc;
}

/* NAME: the class names, newline-separated, of any length (after META,
 * whose fixed field held them in version 1). */
static int read_names(reader *sec, model_parts *m, cnn_error *err)
{
    if (sec->len > MAX_NAMES || memchr(sec->p, '\0', sec->len))
        return CORRUPT;
    free(m->meta.class_names);
    if (!(m->meta.class_names = malloc(sec->len + 1)))
        return cnn_fail(err, CNN_ENOMEM, "out of memory");
    memcpy(m->meta.class_names, sec->p, sec->len);
    m->meta.class_names[sec->len] = '\0';
    m->have_names = 1;
    return CNN_OK;
}

/* The next section: its tag and its bytes. */
static int next_section(reader *r, char tag[5], reader *sec)
{
    int bad = 0;
    if (take(r, tag, 4))
        return CORRUPT;
    uint64_t n = get_u64(r, &bad);
    if (bad || n > r->len - r->at)
        return CORRUPT;
    *sec = (reader){r->p + r->at, (size_t)n, 0};
    r->at += (size_t)n;
    return CNN_OK;
}

/* Sections in order: SPEC first, then META, NAME (after META), PARM
 * (after SPEC), QUNT and OPTM (after PARM); anything else is corrupt. */
static int read_sections(const uint8_t *bytes, size_t len, model_parts *m, int want_state,
                         cnn_error *err)
{
    reader r = {bytes, len - 4, HEADER};
    int rc = CNN_OK;
    while (rc == CNN_OK && r.at < r.len) {
        char tag[5] = {0};
        reader sec;
        if ((rc = next_section(&r, tag, &sec)))
            break;
        if (strcmp(tag, "SPEC") == 0 && !m->net)
            rc = read_spec(&sec, len, m, err);
        else if (strcmp(tag, "META") == 0 && !m->have_meta)
            rc = get_meta(&sec, &m->meta) ? CORRUPT : (m->have_meta = 1, CNN_OK);
        else if (strcmp(tag, "NAME") == 0 && m->have_meta && !m->have_names)
            rc = read_names(&sec, m, err);
        else if (strcmp(tag, "PARM") == 0 && m->net && !m->have_params)
            rc = read_params(&sec, m, err);
        else if (strcmp(tag, "QUNT") == 0 && m->have_params && !m->have_quant)
            rc = read_quant(&sec, m, err);
        else if (strcmp(tag, "OPTM") == 0 && m->have_params)
            rc = read_optim(&sec, m, want_state, err);
        else
            rc = CORRUPT; /* unknown or misplaced section */
    }
    if (rc == CNN_OK && (!m->net || !m->have_meta || !m->have_params))
        rc = CORRUPT;
    if (rc == CORRUPT)
        rc = cnn_fail(err, CNN_EFORMAT, "the model file is corrupt (bad section layout)");
    return rc;
}

cnn_net *cnn_model_parse(const uint8_t *bytes, size_t len, cnn_model_meta *meta,
                         float **opt_state, size_t *opt_count, int64_t *steps, cnn_error *err)
{
    model_parts m = {0};
    if (opt_state)
        *opt_state = NULL;
    if (check_envelope(bytes, len, err) || read_sections(bytes, len, &m, opt_state != NULL, err)) {
        free(m.opt_state);
        cnn_model_meta_free(&m.meta);
        cnn_net_free(m.net);
        return NULL;
    }
    if (meta)
        *meta = m.meta;
    else
        cnn_model_meta_free(&m.meta);
    if (opt_state)
        *opt_state = m.opt_state;
    if (opt_count)
        *opt_count = m.opt_count;
    if (steps)
        *steps = m.steps;
    return m.net;
}

/* An ONNX file is named so: it has no magic of its own to tell it by. */
static int onnx_named(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && strcasecmp(path + n - 5, ".onnx") == 0;
}

/* An ONNX model, as a model without history, optimiser state or seed. */
static cnn_net *load_onnx(const char *path, cnn_model_meta *meta, float **opt_state,
                          size_t *opt_count, int64_t *steps, cnn_error *err)
{
    cnn_net *net = cnn_model_import_onnx(path, meta, err);
    if (opt_state)
        *opt_state = NULL;
    if (opt_count)
        *opt_count = 0;
    if (steps)
        *steps = 0;
    return net;
}

cnn_net *cnn_model_load(const char *path, cnn_model_meta *meta, float **opt_state,
                        size_t *opt_count, int64_t *steps, cnn_error *err)
{
    if (onnx_named(path))
        return load_onnx(path, meta, opt_state, opt_count, steps, err);
    size_t len;
    /* 4 GiB, or what 32-bit sizes can say */
    size_t limit = SIZE_MAX > 0xFFFFFFFFu ? (size_t)1 << 31 << 1 : SIZE_MAX;
    uint8_t *bytes = file_read_all(path, limit, &len, err);
    if (!bytes)
        return NULL;
    cnn_error inner;
    cnn_net *net = cnn_model_parse(bytes, len, meta, opt_state, opt_count, steps, &inner);
    if (!net)
        cnn_fail(err, inner.status, "%s: %s", path, inner.msg);
    free(bytes);
    return net;
}

int cnn_model_probe(const char *path)
{
    if (path && onnx_named(path) && access(path, R_OK) == 0)
        return 1;
    char magic[sizeof MAGIC];
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == sizeof magic && memcmp(magic, MAGIC, sizeof magic) == 0;
}

void cnn_model_meta_free(cnn_model_meta *m)
{
    if (m) {
        free(m->class_names);
        m->class_names = NULL;
    }
}
