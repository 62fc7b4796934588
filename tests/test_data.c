/* The dataset layer: IDX (plain, gzip, hostile headers), real MNIST, image
 * files, folders of images, the X-or-O generator and batch normalisation. */
#define ZLIB_CONST
#include "cnn.h"
#include "test.h"

#include <dirent.h>
#include <stb_image_write.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t n;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put32(buf *b, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, be, 4);
}

/* An IDX file: magic, dims, then data. */
static buf idx(uint32_t magic, int ndims, const uint32_t *dims, const uint8_t *data, size_t n)
{
    buf b = {0};
    put32(&b, magic);
    for (int i = 0; i < ndims; i++)
        put32(&b, dims[i]);
    if (n)
        put(&b, data, n);
    return b;
}

/* Three 2x3 images and their labels 0 2 1. */
static const uint8_t PIX[18] = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 250, 251, 252, 253, 254, 255};
static const uint8_t LAB[3] = {0, 2, 1};
static buf good_images(void) { return idx(0x803, 3, (uint32_t[]){3, 2, 3}, PIX, 18); }
/* Labels as loaded (16-bit) against the bytes of the file. */
static int same_labels(const cnn_label *got, const uint8_t *bytes, int n)
{
    for (int i = 0; i < n; i++)
        if (got[i] != bytes[i])
            return 0;
    return 1;
}

static buf good_labels(void) { return idx(0x801, 1, (uint32_t[]){3}, LAB, 3); }

static buf gz_level(const uint8_t *data, size_t n, int level)
{
    buf b = {0};
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    b.p = malloc(deflateBound(&z, n) + 64);
    z.next_in = data;
    z.avail_in = (uInt)n;
    z.next_out = b.p;
    z.avail_out = (uInt)(deflateBound(&z, n) + 64);
    deflate(&z, Z_FINISH);
    b.n = z.total_out;
    deflateEnd(&z);
    return b;
}

static buf gz(const uint8_t *data, size_t n) { return gz_level(data, n, 9); }

static int parse_err(buf im, buf lb, size_t limit, cnn_error *err)
{
    cnn_dataset d;
    int st = cnn_idx_parse(im.p, im.n, lb.p, lb.n, limit, &d, err);
    cnn_dataset_free(&d);
    free(im.p);
    free(lb.p);
    return st;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rmtree(sub);
            }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *tempdir(char *tmpl)
{
    strcpy(tmpl, "/tmp/cnn_test_data_XXXXXX");
    return mkdtemp(tmpl);
}

static void to_buf(void *ctx, void *data, int n) { put(ctx, data, (size_t)n); }

static buf png(int w, int h, int comp, const uint8_t *px)
{
    buf b = {0};
    stbi_write_png_to_func(to_buf, &b, w, h, comp, px, w * comp);
    return b;
}

static const char *mnist_dir(void)
{
    const char *d = getenv("CNN_TEST_DATA");
    return d && *d ? d : "tests/data/mnist"; /* the suite's own small MNIST */
}

/* ---- batches ------------------------------------------------------------ */

TEST(dataset_batch_normalises_exactly)
{
    uint8_t px[4] = {0, 255, 51, 102};
    cnn_label lab[2] = {3, 7}, got[2];
    cnn_dataset d = {.n = 2, .c = 1, .h = 1, .w = 2, .classes = 8, .pixels = px, .labels = lab};
    float x[4];
    cnn_dataset_batch(&d, NULL, 0, 2, 0.5f, 0.5f, x, got);
    CHECK_NEAR(x[0], -1.0, 1e-7);
    CHECK_NEAR(x[1], 1.0, 1e-7);
    CHECK_NEAR(x[2], -0.6, 1e-6); /* 51/255 = 0.2 */
    CHECK_NEAR(x[3], -0.2, 1e-6); /* 102/255 = 0.4 */
    CHECK(x[2] == ((float)51 / 255.0f - 0.5f) / 0.5f);
    CHECK(got[0] == 3 && got[1] == 7);
}

TEST(dataset_batch_follows_index_and_first)
{
    uint8_t px[3] = {10, 20, 30};
    cnn_label lab[3] = {0, 1, 2}, got[2] = {9, 9};
    cnn_dataset d = {.n = 3, .c = 1, .h = 1, .w = 1, .classes = 3, .pixels = px, .labels = lab};
    int index[4] = {2, 2, 0, 1};
    float x[2];
    cnn_dataset_batch(&d, index, 2, 2, 0.0f, 1.0f, x, got);
    CHECK(x[0] == 10.0f / 255.0f && x[1] == 20.0f / 255.0f);
    CHECK(got[0] == 0 && got[1] == 1);
    cnn_dataset_batch(&d, NULL, 1, 2, 0.0f, 1.0f, x, NULL); /* labels may be NULL */
    CHECK(x[0] == 20.0f / 255.0f && x[1] == 30.0f / 255.0f);
}

TEST(dataset_batch_of_many_images_matches_one_at_a_time)
{
    /* 40 images of 3x5x2 from a shuffled index: the batch is converted by
     * all threads (16 images or more), each image alone by one */
    enum { N = 50, PER = 30, B = 40 };
    uint8_t px[N * PER];
    cnn_label lab[N];
    for (int i = 0; i < N * PER; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < N; i++)
        lab[i] = (cnn_label)(i % 10);
    cnn_dataset d = {.n = N, .c = 3, .h = 5, .w = 2, .classes = 10, .pixels = px, .labels = lab};
    int index[N];
    for (int i = 0; i < N; i++)
        index[i] = (i * 17 + 3) % N;
    float x[B * PER], one[PER];
    cnn_label got[B], label;
    cnn_dataset_batch(&d, index, 5, B, 0.25f, 0.5f, x, got);
    int same = 1;
    for (int i = 0; i < B; i++) {
        cnn_dataset_batch(&d, index, 5 + i, 1, 0.25f, 0.5f, one, &label);
        same &= memcmp(one, x + i * PER, sizeof one) == 0 && label == got[i] &&
                label == lab[index[5 + i]];
    }
    CHECK(same);
}

TEST(dataset_free_clears_and_accepts_null)
{
    cnn_dataset d = {.n = 1, .classes = 1};
    d.pixels = malloc(4);
    d.labels = malloc(1);
    d.class_names = malloc(sizeof *d.class_names);
    d.class_names[0] = strdup("a");
    cnn_dataset_free(&d);
    CHECK(!d.pixels && !d.labels && !d.class_names && d.n == 0);
    cnn_dataset_free(&d);
    cnn_dataset_free(NULL);
}

/* ---- IDX ---------------------------------------------------------------- */

TEST(idx_parses_a_valid_pair)
{
    buf im = good_images(), lb = good_labels();
    cnn_dataset d;
    cnn_error err;
    int st = cnn_idx_parse(im.p, im.n, lb.p, lb.n, 0, &d, &err);
    free(im.p);
    free(lb.p);
    CHECK(st == CNN_OK);
    CHECK(d.n == 3 && d.c == 1 && d.h == 2 && d.w == 3 && d.classes == 3);
    CHECK(!memcmp(d.pixels, PIX, 18) && same_labels(d.labels, LAB, 3));
    cnn_dataset_free(&d);
}

TEST(idx_limit_keeps_the_first_items)
{
    buf im = good_images(), lb = good_labels();
    cnn_dataset d;
    cnn_error err;
    int st = cnn_idx_parse(im.p, im.n, lb.p, lb.n, 1, &d, &err);
    CHECK(st == CNN_OK && d.n == 1 && d.labels[0] == 0 && !memcmp(d.pixels, PIX, 6));
    CHECK(d.classes == 3); /* from every label in the file, not just the kept ones */
    cnn_dataset_free(&d);
    st = cnn_idx_parse(im.p, im.n, lb.p, lb.n, 99, &d, &err); /* more than there are */
    free(im.p);
    free(lb.p);
    CHECK(st == CNN_OK && d.n == 3);
    cnn_dataset_free(&d);
}

TEST(idx_rejects_wrong_magic)
{
    cnn_error err;
    CHECK(parse_err(idx(0x01000803, 3, (uint32_t[]){3, 2, 3}, PIX, 18), good_labels(), 0, &err) ==
          CNN_EFORMAT);
    CHECK(strstr(err.msg, "images: not an IDX file"));
    CHECK(parse_err(idx(0x0d03, 3, (uint32_t[]){3, 2, 3}, PIX, 18), good_labels(), 0, &err) ==
          CNN_EFORMAT);
    CHECK(strstr(err.msg, "element type 0x0d"));
    CHECK(parse_err(good_labels(), good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "a label file, not an image file"));
    CHECK(parse_err(good_images(), good_images(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "labels: an image file"));
    CHECK(parse_err(good_images(), idx(0x801, 0, NULL, NULL, 0), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "labels: ends inside the IDX header"));
}

TEST(idx_rejects_wrong_dimensions)
{
    cnn_error err;
    CHECK(parse_err(idx(0x802, 2, (uint32_t[]){3, 6}, PIX, 18), good_labels(), 0, &err) ==
          CNN_EFORMAT);
    CHECK(strstr(err.msg, "2 dimensions, expected 3"));
    CHECK(parse_err(idx(0x803, 3, (uint32_t[]){3, 0, 3}, NULL, 0), good_labels(), 0, &err) ==
          CNN_EFORMAT);
    CHECK(strstr(err.msg, "none may be 0"));
    CHECK(parse_err(idx(0x803, 3, (uint32_t[]){1, 5000, 1}, NULL, 0), good_labels(), 0, &err) ==
          CNN_EFORMAT);
    CHECK(strstr(err.msg, "images of 5000x1, larger than the limit of 4096x4096"));
}

TEST(idx_rejects_count_mismatch)
{
    cnn_error err;
    CHECK(parse_err(good_images(), idx(0x801, 1, (uint32_t[]){2}, LAB, 2), 0, &err) ==
          CNN_EFORMAT);
    CHECK(!strcmp(err.msg, "images holds 3 images but labels holds 2 labels"));
}

TEST(idx_rejects_truncated_and_trailing_data)
{
    cnn_error err;
    CHECK(parse_err(idx(0x803, 3, (uint32_t[]){3, 2, 3}, PIX, 17), good_labels(), 0, &err) ==
          CNN_EFORMAT);
    CHECK(!strcmp(err.msg, "images: header says 3 images of 2x3 (18 bytes) but the file holds "
                           "17 bytes after the 16-byte header"));
    buf im = good_images();
    put(&im, "x", 1);
    CHECK(parse_err(im, good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "holds 19 bytes"));
    CHECK(parse_err(good_images(), idx(0x801, 1, (uint32_t[]){3}, LAB, 2), 0, &err) ==
          CNN_EFORMAT);
    CHECK(strstr(err.msg, "labels: header says 3 labels but the file holds 2 bytes"));
    CHECK(parse_err(idx(0x803, 1, (uint32_t[]){3}, NULL, 0), good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "ends inside the IDX header"));
    CHECK(parse_err((buf){0}, good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "too short for an IDX file (0 bytes)"));
}

TEST(idx_rejects_huge_claims_before_allocating)
{
    cnn_error err;
    /* 2^31 images of 2^16 x 2^16 in a 16-byte file. */
    CHECK(parse_err(idx(0x803, 3, (uint32_t[]){1u << 31, 1u << 16, 1u << 16}, NULL, 0),
                    good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "2147483648 images, more than the limit of 100000000"));
    CHECK(parse_err(idx(0x803, 3, (uint32_t[]){100000000, 4096, 4096}, NULL, 0), good_labels(),
                    0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "more than 2 GiB"));
    CHECK(parse_err(idx(0x803, 3, (uint32_t[]){60000, 28, 28}, PIX, 18),
                    idx(0x801, 1, (uint32_t[]){60000}, NULL, 0), 0, &err) == CNN_EFORMAT);
    CHECK(!strcmp(err.msg, "images: header says 60000 images of 28x28 (47040000 bytes) but the "
                           "file holds 18 bytes after the 16-byte header"));
}

TEST(idx_reads_gzip)
{
    buf im = good_images(), lb = good_labels();
    buf zi = gz(im.p, im.n), zl = gz(lb.p, lb.n);
    cnn_dataset d;
    cnn_error err;
    CHECK(zi.p[0] == 0x1f && zi.p[1] == 0x8b);
    int st = cnn_idx_parse(zi.p, zi.n, zl.p, zl.n, 0, &d, &err);
    CHECK(st == CNN_OK && d.n == 3 && d.h == 2 && d.w == 3 && d.classes == 3);
    CHECK(!memcmp(d.pixels, PIX, 18) && same_labels(d.labels, LAB, 3));
    cnn_dataset_free(&d);
    st = cnn_idx_parse(zi.p, zi.n, lb.p, lb.n, 2, &d, &err); /* mixed, limited */
    CHECK(st == CNN_OK && d.n == 2 && !memcmp(d.pixels, PIX, 12));
    cnn_dataset_free(&d);
    free(im.p);
    free(lb.p);
    free(zi.p);
    free(zl.p);
}

TEST(idx_rejects_corrupt_gzip)
{
    buf im = good_images();
    buf z = gz(im.p, im.n);
    cnn_error err;
    buf bad = {0};
    put(&bad, z.p, z.n);
    bad.p[z.n - 6] ^= 0x55; /* inside the CRC-32 trailer */
    CHECK(parse_err(bad, good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "images: corrupt gzip data"));
    buf cut = {0};
    put(&cut, z.p, z.n - 10);
    CHECK(parse_err(cut, good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "truncated"));
    buf tail = {0};
    put(&tail, z.p, z.n);
    put(&tail, "junk", 4);
    CHECK(parse_err(tail, good_labels(), 0, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "bytes after the end of the gzip stream"));
    buf garbage = {0};
    put(&garbage, "\x1f\x8b\x08\x00garbage-garbage-garbage", 27);
    CHECK(parse_err(garbage, good_labels(), 0, &err) == CNN_EFORMAT);
    free(im.p);
    free(z.p);
}

TEST(idx_gzip_cannot_exceed_or_undershoot_its_header)
{
    cnn_error err;
    /* A bomb: the header promises 40 bytes, the stream inflates to 8 MB. */
    size_t big = 8u << 20;
    uint8_t *zeros = calloc(big, 1);
    buf im = idx(0x803, 3, (uint32_t[]){10, 2, 2}, zeros, big);
    buf z = gz(im.p, im.n);
    CHECK(z.n < 100000);
    CHECK(parse_err(z, idx(0x801, 1, (uint32_t[]){10}, zeros, 10), 0, &err) == CNN_EFORMAT);
    CHECK(!strcmp(err.msg, "images: header says 10 images of 2x2 (40 bytes) but more data "
                           "follows them"));
    free(im.p);
    /* The opposite: a small stream that claims 47 MB. */
    im = idx(0x803, 3, (uint32_t[]){60000, 28, 28}, zeros, 1000);
    z = gz(im.p, im.n);
    CHECK(parse_err(z, idx(0x801, 1, (uint32_t[]){60000}, zeros, 60000), 0, &err) ==
          CNN_EFORMAT);
    CHECK(!strcmp(err.msg, "images: header says 60000 images of 28x28 (47040000 bytes) but the "
                           "file holds only 1000 bytes after the header (decompressed)"));
    free(im.p);
    free(zeros);
}

TEST(idx_limit_on_gzip_checks_the_length_in_the_trailer)
{
    /* Three images, of which the limit keeps one: the two left are never
     * inflated, so a cut file is caught by its trailer's length. */
    buf im = good_images();
    buf z = gz(im.p, im.n);
    cnn_error err;
    buf cut = {0};
    put(&cut, z.p, z.n - 3);
    CHECK(parse_err(cut, good_labels(), 1, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "the file is truncated or not one gzip stream"));
    buf lying = {0};
    put(&lying, z.p, z.n);
    lying.p[z.n - 4] ^= 1; /* the length in the trailer: 35, not 34 */
    CHECK(parse_err(lying, good_labels(), 1, &err) == CNN_EFORMAT);
    CHECK(!strcmp(err.msg, "images: header says 3 images of 2x3 (34 bytes with the header) but "
                           "the gzip trailer gives 35: the file is truncated or not one gzip "
                           "stream"));
    buf tiny = {0};
    put(&tiny, z.p, 12); /* the gzip magic, and less than a trailer */
    CHECK(parse_err(tiny, good_labels(), 1, &err) == CNN_EFORMAT);
    free(im.p);
    free(z.p);
}

/* A file of n images of MNIST's test split (its first n), gzip-compressed. */
static buf mnist_images_gz(int n, cnn_dataset *full)
{
    buf raw = idx(0x803, 3, (uint32_t[]){(uint32_t)n, 28, 28}, full->pixels, (size_t)n * 784);
    buf z = gz(raw.p, raw.n);
    free(raw.p);
    return z;
}

TEST(idx_limit_gives_the_first_images_of_the_whole_read)
{
    cnn_dataset whole, part;
    cnn_error err;
    CHECK(cnn_idx_load_dir(mnist_dir(), "test", 0, &whole, &err) == CNN_OK);
    CHECK(cnn_idx_load_dir(mnist_dir(), "test", 123, &part, &err) == CNN_OK);
    CHECK(part.n == 123 && part.classes == whole.classes && part.h == 28 && part.w == 28);
    CHECK(!memcmp(part.pixels, whole.pixels, (size_t)123 * 784));
    CHECK(!memcmp(part.labels, whole.labels, 123 * sizeof *part.labels));
    CHECK(whole.class_names == NULL && part.class_names == NULL); /* MNIST has no names */
    cnn_dataset_free(&part);
    /* The same file cut short: a limit that reads past the cut fails in the
     * stream, one that stops before it fails on the trailer. */
    buf z = mnist_images_gz(1000, &whole), lb = idx(0x801, 1, (uint32_t[]){1000}, NULL, 0);
    for (int i = 0; i < 1000; i++) {
        uint8_t b = (uint8_t)whole.labels[i];
        put(&lb, &b, 1);
    }
    CHECK(cnn_idx_parse(z.p, z.n, lb.p, lb.n, 10, &part, &err) == CNN_OK);
    CHECK(part.n == 10 && !memcmp(part.pixels, whole.pixels, 7840));
    cnn_dataset_free(&part);
    size_t cut = z.n / 2;
    CHECK(cnn_idx_parse(z.p, cut, lb.p, lb.n, 10, &part, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "images: header says 1000 images of 28x28") &&
          strstr(err.msg, "the file is truncated or not one gzip stream"));
    CHECK(cnn_idx_parse(z.p, cut, lb.p, lb.n, 900, &part, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "truncated"));
    CHECK(cnn_idx_parse(z.p, cut, lb.p, lb.n, 0, &part, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "the gzip stream is truncated"));
    free(z.p);
    free(lb.p);
    cnn_dataset_free(&whole);
}

static buf slurp(const char *path)
{
    buf b = {0};
    FILE *f = fopen(path, "rb");
    uint8_t chunk[65536];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, chunk, n);
    if (f)
        fclose(f);
    return b;
}

static int same_dataset(const cnn_dataset *a, const cnn_dataset *b)
{
    return a->n == b->n && a->h == b->h && a->w == b->w && a->classes == b->classes &&
           !memcmp(a->pixels, b->pixels, (size_t)a->n * a->h * a->w) &&
           !memcmp(a->labels, b->labels, sizeof *a->labels * (size_t)a->n);
}

/* A file is read a window (256 KB) at a time as the parser asks: the same
 * dataset as the whole file parsed in memory, over several windows of
 * gzip (969 KB here) and of plain bytes (784 KB), and the same errors. */
TEST(idx_files_read_as_needed_give_what_memory_gives)
{
    char dir[64], images[128], plain[128], labels[128], junk[128];
    CHECK(tempdir(dir));
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", mnist_dir());
    snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", mnist_dir());
    buf zi = slurp(images), zl = slurp(labels);
    CHECK(zi.n > 3 * 262144);
    cnn_dataset mem, file;
    cnn_error err;
    for (size_t limit = 0; limit <= 5000; limit += 5000) {
        CHECK(cnn_idx_parse(zi.p, zi.n, zl.p, zl.n, limit, &mem, &err) == CNN_OK);
        CHECK(cnn_idx_load(images, labels, limit, &file, &err) == CNN_OK);
        CHECK(same_dataset(&mem, &file) && file.n == (limit ? 5000 : 6000));
        cnn_dataset_free(&file);
        cnn_dataset_free(&mem);
    }
    /* the test split, uncompressed: 1000 images of 784 bytes */
    cnn_dataset test;
    CHECK(cnn_idx_load_dir(mnist_dir(), "test", 0, &test, &err) == CNN_OK);
    buf raw = idx(0x803, 3, (uint32_t[]){1000, 28, 28}, test.pixels, 784000);
    buf lb = idx(0x801, 1, (uint32_t[]){1000}, NULL, 0);
    for (int i = 0; i < 1000; i++) {
        uint8_t b = (uint8_t)test.labels[i];
        put(&lb, &b, 1);
    }
    snprintf(plain, sizeof plain, "%s/images", dir);
    snprintf(labels, sizeof labels, "%s/labels", dir);
    write_file(plain, raw.p, raw.n);
    write_file(labels, lb.p, lb.n);
    CHECK(cnn_idx_load(plain, labels, 0, &file, &err) == CNN_OK && same_dataset(&test, &file));
    cnn_dataset_free(&file);
    CHECK(cnn_idx_load(plain, labels, 700, &file, &err) == CNN_OK && file.n == 700);
    CHECK(!memcmp(file.pixels, test.pixels, 700 * 784));
    cnn_dataset_free(&file);
    /* a gzip stream with 300 KB after it: found in a later window */
    buf z = gz(raw.p, raw.n);
    uint8_t *tail = calloc(300000, 1);
    put(&z, tail, 300000);
    snprintf(junk, sizeof junk, "%s/junk.gz", dir);
    write_file(junk, z.p, z.n);
    CHECK(cnn_idx_parse(z.p, z.n, lb.p, lb.n, 0, &mem, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "bytes after the end of the gzip stream"));
    CHECK(cnn_idx_load(junk, labels, 0, &file, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "junk.gz: bytes after the end of the gzip stream"));
    /* ...and starting exactly at a window's edge: a gzip of stored blocks
     * (level 0) of 1x1 images, grown until it is one window long */
    uint8_t *zeros = calloc(262144, 1);
    buf stored = {0}, many = {0}, lb2 = {0};
    for (uint32_t n = 262144 - 200; n < 262144 && stored.n != 262144; n++) {
        free(stored.p), free(many.p);
        many = idx(0x803, 3, (uint32_t[]){n, 1, 1}, zeros, n);
        stored = gz_level(many.p, many.n, 0);
        if (stored.n == 262144)
            lb2 = idx(0x801, 1, (uint32_t[]){n}, zeros, n);
    }
    CHECK(stored.n == 262144);
    put(&stored, "junk", 4);
    write_file(junk, stored.p, stored.n);
    char labels2[128];
    snprintf(labels2, sizeof labels2, "%s/labels2", dir);
    write_file(labels2, lb2.p, lb2.n);
    CHECK(cnn_idx_load(junk, labels2, 0, &file, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "junk.gz: bytes after the end of the gzip stream"));
    free(stored.p), free(many.p), free(lb2.p), free(zeros);
    write_file(plain, raw.p, raw.n - 1); /* a plain file one byte short */
    CHECK(cnn_idx_load(plain, labels, 700, &file, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "holds 783999 bytes after the 16-byte header"));
    rmtree(dir);
    free(tail), free(z.p), free(raw.p), free(lb.p), free(zi.p), free(zl.p);
    cnn_dataset_free(&test);
}

TEST(idx_load_names_the_file_and_finds_dotted_names)
{
    char tmpl[64], path[256], path2[256];
    CHECK(tempdir(tmpl));
    buf im = good_images(), lb = good_labels();
    snprintf(path, sizeof path, "%s/train-images.idx3-ubyte", tmpl);
    write_file(path, im.p, im.n);
    buf z = gz(lb.p, lb.n);
    snprintf(path2, sizeof path2, "%s/train-labels.idx1-ubyte.gz", tmpl);
    write_file(path2, z.p, z.n);
    cnn_dataset d;
    cnn_error err;
    int st = cnn_idx_load_dir(tmpl, "train", 0, &d, &err);
    int ok = st == CNN_OK && d.n == 3 && same_labels(d.labels, LAB, 3);
    cnn_dataset_free(&d);
    int st2 = cnn_idx_load_dir(tmpl, "test", 0, &d, &err);
    int missing = st2 == CNN_EIO && strstr(err.msg, "no t10k-images-idx3-ubyte[.gz]");
    int st3 = cnn_idx_load_dir(tmpl, "valid", 0, &d, &err);
    write_file(path, im.p, im.n - 1);
    int st4 = cnn_idx_load(path, path2, 0, &d, &err);
    int named = !strncmp(err.msg, path, strlen(path)) && strstr(err.msg, "holds 17 bytes");
    rmtree(tmpl);
    free(im.p);
    free(lb.p);
    free(z.p);
    CHECK(ok);
    CHECK(missing);
    CHECK(st3 == CNN_EINVAL);
    CHECK(st4 == CNN_EFORMAT && named);
    CHECK(cnn_idx_load("/nonexistent/x", "/nonexistent/y", 0, &d, &err) == CNN_EIO);
    CHECK(strstr(err.msg, "/nonexistent/x"));
}

/* ---- real MNIST --------------------------------------------------------- */

TEST(idx_mnist_subset_test_split)
{
    cnn_dataset d;
    cnn_error err;
    int st = cnn_idx_load_dir(mnist_dir(), "test", 0, &d, &err);
    if (st != CNN_OK)
        printf("  %s\n", err.msg); /* missing data fails the test */
    CHECK(st == CNN_OK);
    CHECK(d.n == 1000 && d.c == 1 && d.h == 28 && d.w == 28 && d.classes == 10);
    const uint8_t first[10] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    CHECK(same_labels(d.labels, first, 10));
    int count[10] = {0}, want[10] = {85, 126, 116, 107, 110, 87, 87, 99, 89, 94};
    for (int i = 0; i < d.n; i++)
        count[d.labels[i]]++;
    CHECK(!memcmp(count, want, sizeof want));
    double sum = 0;
    for (size_t i = 0; i < (size_t)d.n * 784; i++)
        sum += d.pixels[i];
    CHECK_NEAR(sum / ((double)d.n * 784), 31.18, 0.01); /* tests/data/mnist/README.md */
    cnn_dataset_free(&d);
}

TEST(idx_mnist_limit)
{
    cnn_dataset d;
    cnn_error err;
    int st = cnn_idx_load_dir(mnist_dir(), "train", 10, &d, &err);
    if (st != CNN_OK)
        printf("  %s\n", err.msg); /* missing data fails the test */
    CHECK(st == CNN_OK && d.n == 10 && d.classes == 10);
    const uint8_t first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    CHECK(same_labels(d.labels, first, 10));
    cnn_dataset_free(&d);
}

/* ---- images ------------------------------------------------------------- */

static int decode(buf b, int c, int h, int w, int invert, uint8_t *out, cnn_error *err)
{
    int st = cnn_image_decode(b.p, b.n, c, h, w, invert, out, err);
    free(b.p);
    return st;
}

TEST(image_grayscale_is_rounded_rec601_luma)
{
    const uint8_t rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30};
    uint8_t out[4];
    cnn_error err;
    CHECK(decode(png(4, 1, 3, rgb), 1, 1, 4, 0, out, &err) == CNN_OK);
    /* 0.299*255 = 76.2, 0.587*255 = 149.7, 0.114*255 = 29.1, 2.99+117.4+3.42 = 123.8 */
    CHECK(out[0] == 76 && out[1] == 150 && out[2] == 29 && out[3] == 124);
    uint8_t rgb3[12];
    CHECK(decode(png(4, 1, 3, rgb), 3, 1, 4, 0, rgb3, &err) == CNN_OK);
    CHECK(rgb3[0] == 255 && rgb3[4 + 1] == 255 && rgb3[8 + 2] == 255); /* planar */
    CHECK(rgb3[3] == 10 && rgb3[4 + 3] == 200 && rgb3[8 + 3] == 30);
}

TEST(image_reads_pgm_bmp_and_jpeg)
{
    cnn_error err;
    uint8_t out[9];
    buf pgm = {0};
    put(&pgm, "P5\n3 1\n255\n\x00\x80\xff", 14);
    CHECK(decode(pgm, 3, 1, 3, 0, out, &err) == CNN_OK); /* gray to 3 channels */
    CHECK(out[0] == 0 && out[1] == 128 && out[2] == 255 && out[3] == 0 && out[8] == 255);
    const uint8_t px[6] = {0, 0, 0, 200, 200, 200};
    buf bmp = {0};
    stbi_write_bmp_to_func(to_buf, &bmp, 2, 1, 3, px);
    CHECK(decode(bmp, 1, 1, 2, 0, out, &err) == CNN_OK);
    CHECK(out[0] == 0 && out[1] == 200);
    uint8_t gray[64];
    memset(gray, 90, sizeof gray);
    buf jpg = {0};
    stbi_write_jpg_to_func(to_buf, &jpg, 8, 8, 1, gray, 95);
    CHECK(decode(jpg, 1, 1, 1, 0, out, &err) == CNN_OK);
    CHECK_NEAR(out[0], 90, 2); /* lossy */
}

TEST(image_resize_keeps_aspect_centres_and_pads_with_zero)
{
    uint8_t wide[8], out[16];
    memset(wide, 200, sizeof wide);
    cnn_error err;
    CHECK(decode(png(4, 2, 1, wide), 1, 4, 4, 0, out, &err) == CNN_OK);
    for (int i = 0; i < 16; i++)
        CHECK(out[i] == (i >= 4 && i < 12 ? 200 : 0)); /* rows 1 and 2 */
    CHECK(decode(png(2, 4, 1, wide), 1, 4, 4, 0, out, &err) == CNN_OK);
    for (int i = 0; i < 16; i++)
        CHECK(out[i] == (i % 4 == 1 || i % 4 == 2 ? 200 : 0)); /* columns 1 and 2 */
}

TEST(image_resize_averages_areas)
{
    /* 4x4, left half 255: down to 2x2 is exact. */
    uint8_t half[16], out[9];
    for (int i = 0; i < 16; i++)
        half[i] = i % 4 < 2 ? 255 : 0;
    cnn_error err;
    CHECK(decode(png(4, 4, 1, half), 1, 2, 2, 0, out, &err) == CNN_OK);
    CHECK(out[0] == 255 && out[1] == 0 && out[2] == 255 && out[3] == 0);
    const uint8_t checker[4] = {0, 255, 255, 0};
    CHECK(decode(png(2, 2, 1, checker), 1, 1, 1, 0, out, &err) == CNN_OK);
    CHECK(out[0] == 128); /* 127.5 rounds up */
    /* 3 -> 2 pixels: output 0 covers source 0 and half of 1. */
    CHECK(decode(png(3, 3, 1, (const uint8_t[]){0, 90, 180, 0, 90, 180, 0, 90, 180}), 1, 2, 2, 0,
                 out, &err) == CNN_OK);
    CHECK(out[0] == 30 && out[1] == 150 && out[2] == 30 && out[3] == 150);
    const uint8_t one[1] = {100};
    CHECK(decode(png(1, 1, 1, one), 1, 3, 3, 0, out, &err) == CNN_OK);
    for (int i = 0; i < 9; i++)
        CHECK(out[i] == 100);
}

TEST(image_invert_turns_dark_on_white_into_light_on_black)
{
    /* A dark dot on white, 1x2 (wide): into 2x2 with black padding. */
    const uint8_t px[2] = {255, 20};
    uint8_t out[4];
    cnn_error err;
    CHECK(decode(png(2, 1, 1, px), 1, 2, 2, 1, out, &err) == CNN_OK);
    CHECK(out[0] == 0 && out[1] == 235); /* row 0: the picture, inverted */
    CHECK(out[2] == 0 && out[3] == 0);   /* row 1: padding stays background */
}

TEST(image_transparent_pixels_are_background)
{
    /* White transparent, black opaque, white half transparent. */
    const uint8_t rgba[12] = {255, 255, 255, 0, 0, 0, 0, 255, 255, 255, 255, 128};
    uint8_t out[3];
    cnn_error err;
    CHECK(decode(png(3, 1, 4, rgba), 1, 1, 3, 0, out, &err) == CNN_OK);
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 128);
    CHECK(decode(png(3, 1, 4, rgba), 1, 1, 3, 1, out, &err) == CNN_OK);
    CHECK(out[0] == 0 && out[1] == 255 && out[2] == 0);
}

TEST(image_rejects_corrupt_and_huge)
{
    uint8_t out[4];
    cnn_error err;
    const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(cnn_image_decode(junk, 8, 1, 2, 2, 0, out, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "not a PNG"));
    const uint8_t white[4] = {255, 255, 255, 255};
    buf p = png(2, 2, 1, white);
    CHECK(cnn_image_decode(p.p, 20, 1, 2, 2, 0, out, &err) == CNN_EFORMAT); /* cut short */
    /* Claim 20000 x 20000 in the IHDR (stb does not check PNG CRCs). */
    p.p[16] = 0, p.p[17] = 0, p.p[18] = 0x4e, p.p[19] = 0x20;
    p.p[20] = 0, p.p[21] = 0, p.p[22] = 0x4e, p.p[23] = 0x20;
    CHECK(cnn_image_decode(p.p, p.n, 1, 2, 2, 0, out, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "20000x20000"));
    free(p.p);
    CHECK(cnn_image_decode(junk, 8, 2, 2, 2, 0, out, &err) == CNN_EINVAL); /* 2 channels */
}

TEST(image_load_names_the_file)
{
    char tmpl[64], path[128];
    CHECK(tempdir(tmpl));
    snprintf(path, sizeof path, "%s/bad.png", tmpl);
    write_file(path, "\x89PNG\r\n\x1a\nnot really", 18);
    uint8_t out[4];
    cnn_error err;
    int st = cnn_image_load(path, 1, 2, 2, 0, out, &err);
    int named = !strncmp(err.msg, path, strlen(path));
    rmtree(tmpl);
    CHECK(st == CNN_EFORMAT && named);
    CHECK(cnn_image_load("/nonexistent.png", 1, 2, 2, 0, out, &err) == CNN_EIO);
    CHECK(strstr(err.msg, "/nonexistent.png"));
}

/* ---- folders ------------------------------------------------------------ */

static void write_png(const char *dir, const char *name, uint8_t value)
{
    char path[256];
    uint8_t px[4] = {value, value, value, value};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    stbi_write_png(path, 2, 2, 1, px, 2);
}

TEST(folder_loads_sorted_classes_and_files)
{
    char tmpl[64], a[128], b[128], hidden[128];
    CHECK(tempdir(tmpl));
    snprintf(a, sizeof a, "%s/a", tmpl);
    snprintf(b, sizeof b, "%s/b", tmpl);
    snprintf(hidden, sizeof hidden, "%s/.git", tmpl);
    mkdir(b, 0700); /* made first: order must not depend on the file system */
    mkdir(a, 0700);
    mkdir(hidden, 0700);
    write_png(b, "x.png", 30);
    write_png(a, "2.png", 20);
    write_png(a, "10.PNG", 10); /* strcmp order: "10.PNG" < "2.png" */
    char path[256];
    snprintf(path, sizeof path, "%s/notes.txt", a);
    write_file(path, "not an image", 12);
    snprintf(path, sizeof path, "%s/.junk.png", a);
    write_file(path, "junk", 4);
    cnn_dataset d;
    cnn_error err;
    int st = cnn_folder_load(tmpl, 1, 2, 2, &d, &err);
    rmtree(tmpl);
    CHECK(st == CNN_OK);
    CHECK(d.n == 3 && d.classes == 2 && d.c == 1 && d.h == 2 && d.w == 2);
    CHECK(!strcmp(d.class_names[0], "a") && !strcmp(d.class_names[1], "b"));
    CHECK(d.labels[0] == 0 && d.labels[1] == 0 && d.labels[2] == 1);
    CHECK(d.pixels[0] == 10 && d.pixels[4] == 20 && d.pixels[8] == 30);
    cnn_dataset_free(&d);
}

/* More classes than a byte can number: 300 folders, 300 labels and names. */
TEST(folder_of_300_classes_keeps_every_label_and_name)
{
    char tmpl[64], dir[128];
    CHECK(tempdir(tmpl));
    for (int i = 0; i < 300; i++) {
        snprintf(dir, sizeof dir, "%s/c%03d", tmpl, i);
        mkdir(dir, 0700);
        write_png(dir, "x.png", (uint8_t)i);
    }
    cnn_dataset d;
    cnn_error err;
    int st = cnn_folder_load(tmpl, 1, 2, 2, &d, &err);
    rmtree(tmpl);
    if (st)
        printf("  %s\n", err.msg);
    CHECK(st == CNN_OK && d.n == 300 && d.classes == 300);
    CHECK(d.labels[299] == 299 && d.labels[256] == 256 && !strcmp(d.class_names[299], "c299"));
    cnn_dataset_free(&d);
}

TEST(folder_errors_name_the_problem)
{
    char tmpl[64], a[128], path[256];
    cnn_dataset d;
    cnn_error err;
    CHECK(tempdir(tmpl));
    int empty = cnn_folder_load(tmpl, 1, 2, 2, &d, &err) == CNN_EFORMAT &&
                strstr(err.msg, "no class folders");
    snprintf(a, sizeof a, "%s/cat", tmpl);
    mkdir(a, 0700);
    int noimg = cnn_folder_load(tmpl, 1, 2, 2, &d, &err) == CNN_EFORMAT &&
                strstr(err.msg, "/cat: no image files");
    snprintf(path, sizeof path, "%s/broken.jpg", a);
    write_file(path, "\xff\xd8\xff garbage", 12);
    int broken = cnn_folder_load(tmpl, 1, 2, 2, &d, &err) == CNN_EFORMAT &&
                 strstr(err.msg, "/cat/broken.jpg: ");
    rmtree(tmpl);
    CHECK(empty);
    CHECK(noimg);
    CHECK(broken);
    CHECK(cnn_folder_load("/nonexistent", 1, 2, 2, &d, &err) == CNN_EIO);
}

/* ---- X or O ------------------------------------------------------------- */

TEST(xo_canonical_pictures_match_the_readme)
{
    float x[81], o[81], dx[81];
    cnn_xo_canonical('x', x);
    cnn_xo_canonical('o', o);
    cnn_xo_canonical('d', dx);
    int nx = 0, no = 0, nd = 0, same = 0;
    for (int i = 0; i < 81; i++) {
        CHECK(x[i] == 1 || x[i] == -1);
        nx += x[i] > 0;
        no += o[i] > 0;
        nd += dx[i] > 0;
        same += x[i] == dx[i];
    }
    CHECK(nx == 13 && no == 16 && nd == 13);
    CHECK(x[1 * 9 + 1] == 1 && x[4 * 9 + 4] == 1 && x[1 * 9 + 7] == 1 && x[0] == -1);
    CHECK(o[1 * 9 + 3] == 1 && o[4 * 9 + 4] == -1 && o[4 * 9 + 1] == 1);
    CHECK(dx[1 * 9 + 6] == 1 && dx[7 * 9 + 2] == 1 && dx[1 * 9 + 1] == -1);
    CHECK(same < 81);
}

TEST(xo_walkthrough_filters_are_the_features_over_9)
{
    float f[27];
    cnn_error err;
    cnn_net *net = cnn_xo_walkthrough(1, f, &err);
    CHECK(net);
    CHECK(cnn_net_max_batch(net) == 2); /* the canonical X and O at once */
    const float *w = cnn_net_layer_weights(net, 0);
    /* '\' is +1 on its diagonal only; 'X' is '\' and '/' together */
    for (int i = 0; i < 9; i++) {
        CHECK(f[i] == (i % 4 == 0 ? 1 : -1));
        CHECK(f[9 + i] == ((f[i] > 0 || f[18 + i] > 0) ? 1 : -1));
        CHECK(w[i] == f[i] / 9 && w[9 + i] == f[9 + i] / 9 && w[18 + i] == f[18 + i] / 9);
    }
    /* each class's 12 vote weights sum to 1 */
    const float *v = cnn_net_layer_weights(net, 4);
    float sx = 0, so = 0;
    for (int i = 0; i < 12; i++)
        sx += v[i], so += v[12 + i];
    CHECK_NEAR(sx, 1, 1e-5);
    CHECK_NEAR(so, 1, 1e-5);
    cnn_net_free(net);
}

TEST(xo_is_deterministic_by_seed)
{
    cnn_dataset a, b, c;
    cnn_error err;
    CHECK(cnn_xo_generate(50, 16, 7, &a, &err) == CNN_OK);
    CHECK(cnn_xo_generate(50, 16, 7, &b, &err) == CNN_OK);
    CHECK(cnn_xo_generate(50, 16, 8, &c, &err) == CNN_OK);
    int same = !memcmp(a.pixels, b.pixels, 50 * 256) && !memcmp(a.labels, b.labels, 50);
    int differ = memcmp(a.pixels, c.pixels, 50 * 256) != 0;
    cnn_dataset_free(&a);
    cnn_dataset_free(&b);
    cnn_dataset_free(&c);
    CHECK(same);
    CHECK(differ);
}

TEST(xo_is_balanced_binary_and_named)
{
    cnn_dataset d;
    cnn_error err;
    CHECK(cnn_xo_generate(101, 9, 1, &d, &err) == CNN_OK);
    CHECK(d.n == 101 && d.c == 1 && d.h == 9 && d.w == 9 && d.classes == 2);
    CHECK(!strcmp(d.class_names[0], "X") && !strcmp(d.class_names[1], "O"));
    int ones = 0, binary = 1, blank = 0;
    for (int i = 0; i < d.n; i++) {
        ones += d.labels[i];
        int white = 0;
        for (int j = 0; j < 81; j++) {
            binary &= d.pixels[i * 81 + j] == 0 || d.pixels[i * 81 + j] == 255;
            white += d.pixels[i * 81 + j] == 255;
        }
        blank += white < 8;
    }
    cnn_dataset_free(&d);
    CHECK(ones == 50);
    CHECK(binary);
    CHECK(blank == 0);
    CHECK(cnn_xo_generate(10, 6, 1, &d, &err) == CNN_EINVAL);
    CHECK(cnn_xo_generate(0, 9, 1, &d, &err) == CNN_EINVAL);
}

TEST(xo_defeats_whole_image_template_matching)
{
    /* Correlation with the canonical X and O picks the right class for some
     * images but not all: the variation is real. */
    float x[81], o[81];
    cnn_xo_canonical('x', x);
    cnn_xo_canonical('o', o);
    cnn_dataset d;
    cnn_error err;
    CHECK(cnn_xo_generate(1000, 9, 3, &d, &err) == CNN_OK);
    int right = 0;
    for (int i = 0; i < d.n; i++) {
        float sx = 0, so = 0;
        for (int j = 0; j < 81; j++) {
            float p = d.pixels[i * 81 + j] ? 1.0f : -1.0f;
            sx += p * x[j];
            so += p * o[j];
        }
        right += (so > sx) == d.labels[i];
    }
    cnn_dataset_free(&d);
    printf("  template matching: %d / 1000\n", right);
    CHECK(right > 500 && right < 950);
}

/* Found by fuzz/fuzz_image: 123 bytes of BMP header claiming 4103 x 11013
 * pixels, which stb would allocate and fill (seconds, megabytes) before
 * noticing there is no data. */
static const unsigned char tiny_bmp_claiming_45m_pixels[] = {
  0x42, 0x4d, 0x06, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7a, 0x00,
  0x00, 0x00, 0x6c, 0x00, 0x00, 0x00, 0x07, 0x10, 0x00, 0x00, 0x05, 0x2b,
  0x00, 0x00, 0x01, 0x00, 0x20, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x05, 0x00,
  0x00, 0x20, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x50, 0x35,
  0x0a, 0x23, 0x20, 0x73, 0x65, 0x65, 0x64, 0x0a, 0x37, 0x20, 0x86, 0xdd,
  0xc0, 0xa3, 0xfa, 0x51, 0x34, 0x17, 0x6e, 0xc5, 0xa8, 0x8b, 0xe2, 0x06,
  0x04, 0x05, 0x06, 0xad, 0x90, 0x77, 0xce, 0x25, 0x08, 0xeb, 0x42, 0x99,
  0x7c, 0x5f, 0xb6, 0x0d, 0xf0, 0xd3, 0x2a, 0x81, 0x64, 0x47, 0x9e, 0xf5,
  0xd8, 0xbb, 0x12
};

TEST(image_claiming_more_pixels_than_its_bytes_can_hold_is_refused_before_decoding)
{
    cnn_error err;
    uint8_t out[28 * 28];
    CHECK(cnn_image_decode(tiny_bmp_claiming_45m_pixels, sizeof tiny_bmp_claiming_45m_pixels, 1,
                           28, 28, 0, out, &err) == CNN_EFORMAT);
    CHECK(strstr(err.msg, "4103x11013") && strstr(err.msg, "123-byte"));
}
