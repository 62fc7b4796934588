/* IDX files, the MNIST format: a big-endian header (magic 0x000008nn with
 * nn dimensions, then one 32-bit count per dimension) and unsigned bytes.
 *
 * cnn_idx_parse on memory and cnn_idx_load on files read through the same
 * source (source.c) into the same parser, which the fuzzer drives on
 * memory.  Headers are checked against limits and against each other
 * before anything big is allocated, and gzip is inflated incrementally,
 * never past what the header promised, so a small file that claims a huge
 * size costs nothing.  With a limit, images past it are not inflated at
 * all: --limit 20000 of Fashion-MNIST's 60,000 took 0.22 s to load, nearly
 * all of it inflating images it then dropped. */
#include "cnn.h"
#include "data.h"
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIDE 4096u
#define MAX_COUNT 100000000u
#define MAX_PIXELS ((uint64_t)2 << 30)          /* 2 GiB of image bytes */
#define FILE_SLACK ((size_t)1 << 20)            /* gzip may add a little */

/* Reads the magic 0x0000 08 <dims> and the dims big-endian counts. */
static int read_header(source *s, unsigned want_dims, uint32_t *dims, cnn_error *err)
{
    uint8_t h[12];
    size_t got;
    int st = source_read(s, h, 4, &got, err);
    if (st)
        return st;
    if (got < 4)
        return cnn_fail(err, CNN_EFORMAT, "%s: too short for an IDX file (%zu bytes)", s->name,
                        got);
    if (h[0] || h[1])
        return cnn_fail(err, CNN_EFORMAT,
                        "%s: not an IDX file (magic 0x%02x%02x%02x%02x, expected 0x0000080%u)",
                        s->name, h[0], h[1], h[2], h[3], want_dims == 3 ? 3u : 1u);
    if (h[2] != 0x08)
        return cnn_fail(err, CNN_EFORMAT,
                        "%s: IDX element type 0x%02x is not supported (only 0x08, unsigned bytes)",
                        s->name, h[2]);
    if (h[3] != want_dims) {
        if (want_dims == 3 && h[3] == 1)
            return cnn_fail(err, CNN_EFORMAT, "%s: a label file, not an image file", s->name);
        if (want_dims == 1 && h[3] == 3)
            return cnn_fail(err, CNN_EFORMAT, "%s: an image file, not a label file", s->name);
        return cnn_fail(err, CNN_EFORMAT, "%s: %u dimensions, expected %u (%s)", s->name, h[3],
                        want_dims, want_dims == 3 ? "count, rows, columns" : "count");
    }
    st = source_read(s, h, 4 * want_dims, &got, err);
    if (st)
        return st;
    if (got < 4 * want_dims)
        return cnn_fail(err, CNN_EFORMAT, "%s: ends inside the IDX header", s->name);
    for (unsigned i = 0; i < want_dims; i++)
        dims[i] = (uint32_t)h[4 * i] << 24 | (uint32_t)h[4 * i + 1] << 16 |
                  (uint32_t)h[4 * i + 2] << 8 | h[4 * i + 3];
    return CNN_OK;
}

/* A gzip stream read only in part (--limit) is never inflated to its end,
 * so its length is checked against the one its trailer gives (ISIZE: the
 * inflated length mod 2^32, the stream's last four bytes, little-endian):
 * a file cut short ends in compressed bytes, not in its length.  What a
 * partial read does not check is the CRC of the bytes it leaves unread. */
static int check_gzip_length(const source *s, uint64_t expected, const char *desc,
                             cnn_error *err)
{
    uint8_t t[4];
    uint64_t want = s->total + expected;
    if (source_tail(s, t))
        return cnn_fail(err, CNN_EFORMAT,
                        "%s: header says %s (%llu bytes with the header) but the file has no "
                        "gzip trailer: it is truncated",
                        s->name, desc, (unsigned long long)want);
    uint32_t isize = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                     (uint32_t)t[3] << 24;
    if (isize != (uint32_t)want)
        return cnn_fail(err, CNN_EFORMAT,
                        "%s: header says %s (%llu bytes with the header) but the gzip trailer "
                        "gives %u: the file is truncated or not one gzip stream",
                        s->name, desc, (unsigned long long)want, isize);
    return CNN_OK;
}

/* Reads the first `keep` of `count` items of `item` bytes into a new buffer,
 * then, if whole, checks that exactly count items follow the header.  The
 * buffer grows as data arrives, so a gzip stream that lies about its length
 * costs only what it really holds.  max_byte (if not NULL) gets the largest
 * byte of all count items.  desc says what the header promised, for
 * messages. */
static int read_items(source *s, uint64_t count, uint64_t keep, size_t item, int whole,
                      const char *desc, uint8_t **out, int *max_byte, cnn_error *err)
{
    size_t want = (size_t)(keep * item), cap = want < FILE_SLACK ? want : FILE_SLACK;
    uint64_t header = s->total, expected = count * item;
    uint8_t *buf = malloc(cap ? cap : 1), scratch[4096];
    size_t have = 0, got;
    int st = buf ? CNN_OK : cnn_fail(err, CNN_ENOMEM, "%s: out of memory", s->name);
    int maxv = 0;
    while (!st && have < want) {
        if (have == cap) {
            size_t grow = cap > want / 2 ? want : cap * 2;
            uint8_t *b = realloc(buf, grow);
            if (!b) {
                st = cnn_fail(err, CNN_ENOMEM, "%s: out of memory", s->name);
                break;
            }
            buf = b;
            cap = grow;
        }
        st = source_read(s, buf + have, cap - have, &got, err);
        if (st)
            break;
        int ended = got < cap - have;
        have += got;
        if (ended)
            break;
    }
    for (size_t i = 0; max_byte && i < have; i++)
        maxv = buf[i] > maxv ? buf[i] : maxv;
    /* The items after `keep` are read only to check the length (and labels). */
    uint64_t rest = have == want && whole ? expected - want : 0;
    while (!st && rest) {
        size_t n = rest < sizeof scratch ? (size_t)rest : sizeof scratch;
        st = source_read(s, scratch, n, &got, err);
        if (st)
            break;
        for (size_t i = 0; max_byte && i < got; i++)
            maxv = scratch[i] > maxv ? scratch[i] : maxv;
        rest -= got;
        if (got < n)
            break;
    }
    if (!st && s->total - header < (whole ? expected : want))
        st = cnn_fail(err, CNN_EFORMAT,
                      "%s: header says %s (%llu bytes) but the file holds only %llu bytes after "
                      "the header%s",
                      s->name, desc, (unsigned long long)expected,
                      (unsigned long long)(s->total - header), s->gz ? " (decompressed)" : "");
    if (!st && whole) {
        st = source_read(s, scratch, 1, &got, err); /* also drives gzip to its CRC check */
        if (!st && got)
            st = cnn_fail(err, CNN_EFORMAT,
                          "%s: header says %s (%llu bytes) but more data follows them",
                          s->name, desc, (unsigned long long)expected);
    }
    if (st) {
        free(buf);
        return st;
    }
    data_advise_huge(buf, have);
    *out = buf;
    if (max_byte)
        *max_byte = maxv;
    return CNN_OK;
}

/* The image file's header, checked against the limits: id gets its three
 * counts, bytes their product, desc ("N images of HxW") what it promised. */
static int read_image_header(source *s, uint32_t id[3], uint64_t *bytes, char desc[96],
                             cnn_error *err)
{
    int st = read_header(s, 3, id, err);
    if (st)
        return st;
    if (id[0] == 0 || id[1] == 0 || id[2] == 0)
        return cnn_fail(err, CNN_EFORMAT, "%s: header says %u images of %ux%u; none may be 0",
                        s->name, id[0], id[1], id[2]);
    if (id[0] > MAX_COUNT)
        return cnn_fail(err, CNN_EFORMAT, "%s: header says %u images, more than the limit of %u",
                        s->name, id[0], MAX_COUNT);
    if (id[1] > MAX_SIDE || id[2] > MAX_SIDE)
        return cnn_fail(err, CNN_EFORMAT,
                        "%s: header says images of %ux%u, larger than the limit of %ux%u",
                        s->name, id[1], id[2], MAX_SIDE, MAX_SIDE);
    *bytes = (uint64_t)id[0] * id[1] * id[2]; /* < 2^27 * 2^24: no overflow */
    snprintf(desc, 96, "%u images of %ux%u", id[0], id[1], id[2]);
    if (*bytes > MAX_PIXELS)
        return cnn_fail(err, CNN_EFORMAT, "%s: header says %s (%llu bytes), more than 2 GiB",
                        s->name, desc, (unsigned long long)*bytes);
    return CNN_OK;
}

/* The core: everything from memory, with names for the messages. */
static int parse(source *si, source *sl, size_t limit, cnn_dataset *out, cnn_error *err)
{
    const char *images_name = si->name, *labels_name = sl->name;
    uint32_t id[3] = {0}, ld[1] = {0};
    uint64_t bytes = 0;
    cnn_dataset d = {0};
    char desc[96];
    int maxv = 0;

    int st = read_image_header(si, id, &bytes, desc, err);
    if (!st)
        st = read_header(sl, 1, ld, err);
    if (!st && ld[0] != id[0])
        st = cnn_fail(err, CNN_EFORMAT, "%s holds %u images but %s holds %u labels", images_name,
                      id[0], labels_name, ld[0]);
    /* Plain files: the lengths are known, so check them before allocating. */
    if (!st && !si->gz && source_left(si) != bytes)
        st = cnn_fail(err, CNN_EFORMAT,
                      "%s: header says %s (%llu bytes) but the file holds %llu bytes after the "
                      "16-byte header",
                      images_name, desc, (unsigned long long)bytes,
                      (unsigned long long)source_left(si));
    if (!st && !sl->gz && source_left(sl) != ld[0])
        st = cnn_fail(err, CNN_EFORMAT,
                      "%s: header says %u labels but the file holds %llu bytes after the 8-byte "
                      "header",
                      labels_name, ld[0], (unsigned long long)source_left(sl));

    uint64_t keep = limit && limit < id[0] ? limit : id[0];
    char ldesc[32];
    snprintf(ldesc, sizeof ldesc, "%u labels", ld[0]);
    uint8_t *label_bytes = NULL;
    if (!st) /* every label: the classes are counted over the whole file */
        st = read_items(sl, ld[0], keep, 1, 1, ldesc, &label_bytes, &maxv, err);
    if (!st && !(d.labels = malloc(sizeof *d.labels * (keep ? (size_t)keep : 1))))
        st = cnn_fail(err, CNN_ENOMEM, "%s: out of memory", labels_name);
    for (size_t i = 0; !st && i < keep; i++)
        d.labels[i] = label_bytes[i];
    free(label_bytes);
    /* Images past the limit are not read: a plain file's length was checked
     * above, a gzip stream's is checked against its trailer. */
    int whole = keep == id[0];
    if (!st && !whole && si->gz)
        st = check_gzip_length(si, bytes, desc, err);
    if (!st)
        st = read_items(si, id[0], keep, (size_t)id[1] * id[2], whole, desc, &d.pixels, NULL,
                        err);
    if (st) {
        cnn_dataset_free(&d);
        return st;
    }
    d.n = (int)keep;
    d.c = 1;
    d.h = (int)id[1];
    d.w = (int)id[2];
    d.classes = maxv + 1; /* IDX labels are bytes: at most 256 classes */
    *out = d;
    return CNN_OK;
}

/* The pair parsed if both opened (st: how opening them went), then both
 * closed (an unopened source is all zeros, which closes as nothing). */
static int parse_and_close(int st, source *si, source *sl, size_t limit, cnn_dataset *out,
                           cnn_error *err)
{
    if (!st)
        st = parse(si, sl, limit, out, err);
    source_close(si);
    source_close(sl);
    return st;
}

int cnn_idx_parse(const uint8_t *images, size_t images_len, const uint8_t *labels,
                  size_t labels_len, size_t limit, cnn_dataset *out, cnn_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || (!images && images_len) || (!labels && labels_len))
        return cnn_fail(err, CNN_EINVAL, "cnn_idx_parse: NULL argument");
    source si = {0}, sl = {0};
    int st = source_memory(&si, "images", images, images_len, err);
    if (!st)
        st = source_memory(&sl, "labels", labels, labels_len, err);
    return parse_and_close(st, &si, &sl, limit, out, err);
}

/* The files are read only as far as the dataset needs (source.c), through
 * the same reads and checks as memory. */
int cnn_idx_load(const char *images_path, const char *labels_path, size_t limit,
                 cnn_dataset *out, cnn_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!images_path || !labels_path || !out)
        return cnn_fail(err, CNN_EINVAL, "cnn_idx_load: NULL argument");
    source si = {0}, sl = {0};
    int st = source_file(&si, images_path, (size_t)MAX_PIXELS + FILE_SLACK, err);
    if (!st)
        st = source_file(&sl, labels_path, MAX_COUNT + FILE_SLACK, err);
    return parse_and_close(st, &si, &sl, limit, out, err);
}

/* The first of dir/<prefix><kind><suffix>[.gz] that exists, or NULL. */
static char *find(const char *dir, const char *prefix, const char *kind, int dims)
{
    /* The official names, and the dotted ones some mirrors use. */
    const char *forms[] = {"%s/%s-%s-idx%d-ubyte", "%s/%s-%s-idx%d-ubyte.gz",
                           "%s/%s-%s.idx%d-ubyte", "%s/%s-%s.idx%d-ubyte.gz"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        size_t n = strlen(dir) + strlen(prefix) + strlen(kind) + 32;
        char *path = malloc(n);
        if (!path)
            return NULL;
        snprintf(path, n, forms[i], dir, prefix, kind, dims);
        if (access(path, F_OK) == 0)
            return path;
        free(path);
    }
    return NULL;
}

/* IDX files carry no class names, so the well-known sets are recognised by
 * their first sixteen labels (train or test), which no other of them shares:
 * a fingerprint of the content, never of the path. */
static const struct {
    cnn_label train[16], test[16];
    const char *names[10];
} known_sets[] = {
    {{9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9},
     {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1},
     {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
      "Bag", "Ankle boot"}}, /* Fashion-MNIST (Zalando Research) */
};

static int name_known_classes(cnn_dataset *d, int test, cnn_error *err)
{
    for (size_t k = 0; k < sizeof known_sets / sizeof *known_sets; k++) {
        if (d->n < 16 || d->classes != 10 ||
            memcmp(d->labels, test ? known_sets[k].test : known_sets[k].train,
                   sizeof known_sets[k].test))
            continue;
        int ok = (d->class_names = calloc(10, sizeof *d->class_names)) != NULL;
        for (int i = 0; ok && i < 10; i++)
            ok = (d->class_names[i] = strdup(known_sets[k].names[i])) != NULL;
        if (!ok) {
            cnn_dataset_free(d);
            return cnn_fail(err, CNN_ENOMEM, "out of memory naming the classes");
        }
        break;
    }
    return CNN_OK;
}

int cnn_idx_load_dir(const char *dir, const char *split, size_t limit, cnn_dataset *out,
                     cnn_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!dir || !split || !out)
        return cnn_fail(err, CNN_EINVAL, "cnn_idx_load_dir: NULL argument");
    const char *prefix = !strcmp(split, "train") ? "train" : !strcmp(split, "test") ? "t10k" : NULL;
    if (!prefix)
        return cnn_fail(err, CNN_EINVAL, "unknown split '%s' (expected train or test)", split);
    char *images = find(dir, prefix, "images", 3), *labels = find(dir, prefix, "labels", 1);
    int st;
    if (!images || !labels) {
        const char *kind = images ? "labels" : "images";
        int dims = images ? 1 : 3;
        st = cnn_fail(err, CNN_EIO, "%s: no %s-%s-idx%d-ubyte[.gz] (nor %s-%s.idx%d-ubyte[.gz])",
                      dir, prefix, kind, dims, prefix, kind, dims);
    } else
        st = cnn_idx_load(images, labels, limit, out, err);
    if (!st)
        st = name_known_classes(out, !strcmp(prefix, "t10k"), err);
    free(images);
    free(labels);
    return st;
}
