/* cnn_idx_parse on hostile bytes, plain and gzip.
 *
 * Input layout: byte 0 = flags (bit 0: gzip the images here, bit 1: gzip the
 * labels here, bits 2..7: the limit, 0 = all); bytes 1..2 = length of the
 * images part (little-endian, clamped); then the images; the rest is the
 * labels.  Compressing here lets the fuzzer mutate the IDX structure and
 * still reach the gzip path; the corpus also holds raw .gz files so that
 * corrupt gzip streams are tried as well. */
#include "cnn.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint8_t *gzip(const uint8_t *p, size_t n, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(out);
        return NULL;
    }
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int flags = data[0];
    size_t ilen = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3, size -= 3;
    if (ilen > size)
        ilen = size;
    const uint8_t *img = data, *lab = data + ilen;
    size_t img_len = ilen, lab_len = size - ilen;
    uint8_t *gi = NULL, *gl = NULL;
    if ((flags & 1) && (gi = gzip(img, img_len, &img_len)))
        img = gi;
    else
        img_len = ilen;
    if ((flags & 2) && (gl = gzip(lab, lab_len, &lab_len)))
        lab = gl;
    else
        lab_len = size - ilen;

    /* Copies of exactly the right length, so that ASan sees any over-read. */
    uint8_t *ci = malloc(img_len ? img_len : 1), *cl = malloc(lab_len ? lab_len : 1);
    if (img_len)
        memcpy(ci, img, img_len);
    if (lab_len)
        memcpy(cl, lab, lab_len);
    cnn_dataset d;
    cnn_error err;
    if (cnn_idx_parse(ci, img_len, cl, lab_len, (size_t)(flags >> 2), &d, &err) == CNN_OK) {
        /* Everything the loader promised must hold. */
        if (d.n < 1 || d.c != 1 || d.h < 1 || d.w < 1 || d.classes < 1 || d.classes > 256)
            abort();
        for (int i = 0; i < d.n; i++)
            if (d.labels[i] >= d.classes)
                abort();
        volatile uint8_t sink = d.pixels[(size_t)d.n * d.h * d.w - 1];
        (void)sink;
        cnn_dataset_free(&d);
    } else if (err.msg[0] == '\0' || err.status >= 0) {
        abort(); /* a failure must say why */
    }
    free(ci), free(cl), free(gi), free(gl);
    return 0;
}
