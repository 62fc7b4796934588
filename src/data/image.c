/* Image files through stb_image (libstb), then to the network's c x h x w.
 *
 * Choices, all so that a picture ends up looking like MNIST (light strokes,
 * background 0):
 * - Grayscale is Rec. 601 luma, Y = 0.299 R + 0.587 G + 0.114 B, computed in
 *   integers as (299 R + 587 G + 114 B + 500) / 1000: rounded, portable.
 * - invert (p -> 255 - p) applies to the picture, not to the padding: a dark
 *   digit on white becomes a light digit on black, padded with black.
 * - Transparency means background: the (possibly inverted) colour is
 *   composited over black, so transparent pixels become 0 with or without
 *   invert, whatever colour they hide.
 * - The picture is scaled to fit h x w with its aspect ratio kept, centred,
 *   and padded with 0, by area averaging (a box filter) in exact integers. */
#include "cnn.h"
#include "data.h"

#include <limits.h>
#include <stb_image.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 16384
#define MAX_PIXELS_PER_BYTE 2048
#define MAX_FILE ((size_t)1 << 30)

/* Only the formats we promise; stb's other decoders (TGA in particular
 * accepts almost any bytes) stay out of reach of hostile input. */
static int known_format(const uint8_t *b, size_t len)
{
    if (len >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
        return 1;
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return 1;
    if (len >= 2 && b[0] == 'B' && b[1] == 'M')
        return 1;
    return len >= 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6'); /* binary PGM, PPM */
}

/* stb_image 2.27 (the libstb of current Debian and Ubuntu) does not check
 * that a JPEG Huffman table (DHT) holds at most 256 symbols, and writes past
 * its tables when one claims more (found by fuzz/fuzz_image; stb_image 2.28
 * checks it).  So the segments are walked here the way stb reads them, and a
 * file with such a table is refused before stb sees it: markers are FF xx
 * (xx not 00, FF or a restart), each segment is skipped by its length except
 * DHT, whose tables stb reads one after another from the segment's start. */
static int jpeg_tables_ok(const uint8_t *b, size_t len)
{
    size_t i = 2; /* after SOI */
    while (i + 1 < len) {
        int m = b[i + 1];
        if (b[i] != 0xff || m == 0x00 || m == 0xff || (m >= 0xd0 && m <= 0xd7)) {
            i++; /* entropy-coded data, stuffing, fill, restart markers */
            continue;
        }
        if (m == 0xd9)
            return 1; /* EOI: stb stops here */
        if (m == 0xd8 || m == 0x01) {
            i += 2;
            continue;
        }
        if (i + 4 > len)
            return 1;
        size_t seg = (size_t)b[i + 2] << 8 | b[i + 3];
        if (m != 0xc4) {
            i += 2 + seg;
            continue;
        }
        size_t p = i + 4;
        long left = (long)seg - 2;
        while (left > 0 && p < len) {
            size_t n = 0; /* stb reads 0 past the end */
            for (size_t j = p + 1; j < p + 17 && j < len; j++)
                n += b[j];
            if (n > 256)
                return 0;
            p += 17 + n;
            left -= 17 + (long)n;
        }
        i = p;
    }
    return 1;
}

/* stb_image 2.27 reads the numbers of a PGM/PPM header into an int without
 * an overflow check (undefined behaviour; fixed in 2.28): refuse a header
 * whose width, height or maximum has more than 6 digits before stb parses it.
 * Same reading as stb: whitespace and '#' comments, then digits. */
static int pnm_header_ok(const uint8_t *b, size_t len)
{
    size_t i = 2;
    for (int field = 0; field < 3; field++) {
        while (i < len && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r') || b[i] == '#')) {
            if (b[i] == '#')
                while (i < len && b[i] != '\n' && b[i] != '\r')
                    i++;
            else
                i++;
        }
        while (i < len && b[i] == '0')
            i++;
        size_t digits = 0;
        for (; i < len && b[i] >= '0' && b[i] <= '9'; i++)
            if (++digits > 6)
                return 0;
    }
    return 1;
}

/* stb_image allocates room for a PNG chunk from the length it claims before
 * reading it, so a few bytes that claim a 2 GiB chunk cost 2 GiB (found by
 * fuzz/fuzz_image).  Every chunk must fit in the file: length, type, data,
 * CRC, one after another up to IEND. */
static int png_chunks_ok(const uint8_t *b, size_t len)
{
    size_t i = 8;
    while (i + 8 <= len) {
        size_t n = (size_t)b[i] << 24 | (size_t)b[i + 1] << 16 | (size_t)b[i + 2] << 8 | b[i + 3];
        if (n > len - i - 8 || len - i - 8 - n < 4)
            return 0;
        if (!memcmp(b + i + 4, "IEND", 4))
            return 1;
        i += 12 + n;
    }
    return 1; /* stb reports the missing end itself */
}

/* Source pixels (comp 1..4 interleaved) to c planes of bytes. */
static void to_planes(const uint8_t *px, int comp, size_t npix, int c, int invert,
                      uint8_t *planes)
{
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = px + i * (size_t)comp;
        int r = p[0], g = comp >= 3 ? p[1] : r, b = comp >= 3 ? p[2] : r;
        int a = comp == 2 ? p[1] : comp == 4 ? p[3] : 255;
        int v[3] = {r, g, b};
        if (c == 1)
            v[0] = (299 * r + 587 * g + 114 * b + 500) / 1000;
        for (int ch = 0; ch < c; ch++) {
            int x = invert ? 255 - v[ch] : v[ch];
            planes[ch * npix + i] = (uint8_t)((x * a + 127) / 255);
        }
    }
}

/* Overlap of output pixel j with source pixel k when n source pixels become
 * m: output j covers [j n/m, (j+1) n/m).  Measured in units of 1/m source
 * pixel every overlap is an integer, and the weights of an output add to n. */
static uint64_t overlap(int j, int k, int n, int m)
{
    int64_t lo = (int64_t)j * n > (int64_t)k * m ? (int64_t)j * n : (int64_t)k * m;
    int64_t hi = (int64_t)(j + 1) * n < (int64_t)(k + 1) * m ? (int64_t)(j + 1) * n
                                                             : (int64_t)(k + 1) * m;
    return hi > lo ? (uint64_t)(hi - lo) : 0;
}

/* The source pixels output j overlaps. */
static int first(int j, int n, int m) { return (int)((int64_t)j * n / m); }
static int last(int j, int n, int m) { return (int)((((int64_t)j + 1) * n - 1) / m); }

/* Box-filters an ih x iw plane to nh x nw at (oy, ox) of an h x w plane;
 * rows first into tmp (ih x nw sums), then columns. */
static void resize(const uint8_t *src, int ih, int iw, uint8_t *dst, int w, int oy, int ox,
                   int nh, int nw, uint64_t *tmp, uint64_t *acc)
{
    for (int y = 0; y < ih; y++)
        for (int j = 0; j < nw; j++) {
            uint64_t s = 0;
            for (int k = first(j, iw, nw); k <= last(j, iw, nw); k++)
                s += src[(size_t)y * iw + k] * overlap(j, k, iw, nw);
            tmp[(size_t)y * nw + j] = s;
        }
    uint64_t total = (uint64_t)iw * ih; /* the weights of one output pixel */
    for (int i = 0; i < nh; i++) {
        memset(acc, 0, (size_t)nw * sizeof *acc);
        for (int y = first(i, ih, nh); y <= last(i, ih, nh); y++) {
            uint64_t wt = overlap(i, y, ih, nh);
            for (int j = 0; j < nw; j++)
                acc[j] += tmp[(size_t)y * nw + j] * wt;
        }
        for (int j = 0; j < nw; j++)
            dst[(size_t)(oy + i) * w + ox + j] = (uint8_t)((acc[j] + total / 2) / total);
    }
}

int cnn_image_decode(const uint8_t *bytes, size_t len, int c, int h, int w, int invert,
                     uint8_t *out, cnn_error *err)
{
    if (!bytes || !out || (c != 1 && c != 3) || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return cnn_fail(err, CNN_EINVAL,
                        "image: want 1 or 3 channels and 1..%d pixels a side, not %dx%dx%d",
                        MAX_SIDE, h, w, c);
    if (!known_format(bytes, len))
        return cnn_fail(err, CNN_EFORMAT, "not a PNG, JPEG, BMP, PGM or PPM image");
    if (len > INT_MAX)
        return cnn_fail(err, CNN_EFORMAT, "image file too large (%zu bytes)", len);
    if (bytes[0] == 0xff && !jpeg_tables_ok(bytes, len))
        return cnn_fail(err, CNN_EFORMAT, "corrupt JPEG (a Huffman table of more than 256 codes)");
    if (bytes[0] == 0x89 && !png_chunks_ok(bytes, len))
        return cnn_fail(err, CNN_EFORMAT, "truncated PNG (a chunk runs past the end of the file)");
    if (bytes[0] == 'P' && !pnm_header_ok(bytes, len))
        return cnn_fail(err, CNN_EFORMAT, "corrupt PGM/PPM header (a number of more than 6 digits)");
    int iw, ih, comp;
    if (!stbi_info_from_memory(bytes, (int)len, &iw, &ih, &comp)) {
        const char *why = stbi_failure_reason();
        return cnn_fail(err, CNN_EFORMAT, "cannot read the image header (%s)",
                        why && *why ? why : "corrupt or truncated");
    }
    /* Checked before decoding: a tiny file may claim a huge picture. */
    if (iw < 1 || ih < 1 || iw > MAX_SIDE || ih > MAX_SIDE)
        return cnn_fail(err, CNN_EFORMAT, "image of %dx%d pixels (at most %dx%d)", iw, ih,
                        MAX_SIDE, MAX_SIDE);
    /* No real PNG, JPEG or BMP packs more than about a thousand pixels into
     * a byte (deflate's limit is 1032:1); a file that claims far more would
     * only make the decoder allocate and fill a picture that is not there. */
    if ((uint64_t)iw * (uint64_t)ih > (uint64_t)len * MAX_PIXELS_PER_BYTE)
        return cnn_fail(err, CNN_EFORMAT,
                        "the header claims %dx%d pixels, more than a %zu-byte file can hold", iw,
                        ih, len);
    int dw, dh;
    uint8_t *px = stbi_load_from_memory(bytes, (int)len, &dw, &dh, &comp, 0);
    if (!px) {
        const char *why = stbi_failure_reason();
        return cnn_fail(err, CNN_EFORMAT, "cannot decode the image (%s)",
                        why && *why ? why : "corrupt or truncated");
    }
    if (dw != iw || dh != ih || comp < 1 || comp > 4) {
        stbi_image_free(px);
        return cnn_fail(err, CNN_EFORMAT, "the image decoded to an unexpected shape");
    }

    /* Fit inside h x w keeping the aspect ratio, rounded, at least 1 pixel. */
    int nh, nw;
    if ((int64_t)w * ih >= (int64_t)h * iw) {
        nh = h;
        nw = (int)(((int64_t)iw * h * 2 + ih) / ((int64_t)ih * 2));
    } else {
        nw = w;
        nh = (int)(((int64_t)ih * w * 2 + iw) / ((int64_t)iw * 2));
    }
    nh = nh < 1 ? 1 : nh > h ? h : nh;
    nw = nw < 1 ? 1 : nw > w ? w : nw;

    size_t npix = (size_t)iw * ih;
    uint8_t *planes = malloc(npix * c);
    uint64_t *tmp = malloc(((size_t)ih * nw + nw) * sizeof *tmp);
    if (!planes || !tmp) {
        stbi_image_free(px);
        free(planes);
        free(tmp);
        return cnn_fail(err, CNN_ENOMEM, "out of memory for a %dx%d image", iw, ih);
    }
    to_planes(px, comp, npix, c, invert, planes);
    stbi_image_free(px);
    memset(out, 0, (size_t)c * h * w);
    for (int ch = 0; ch < c; ch++)
        resize(planes + ch * npix, ih, iw, out + (size_t)ch * h * w, w, (h - nh) / 2,
               (w - nw) / 2, nh, nw, tmp, tmp + (size_t)ih * nw);
    free(planes);
    free(tmp);
    return CNN_OK;
}

int cnn_image_load(const char *path, int c, int h, int w, int invert, uint8_t *out,
                   cnn_error *err)
{
    if (!path)
        return cnn_fail(err, CNN_EINVAL, "cnn_image_load: NULL path");
    uint8_t *bytes;
    size_t len;
    int st = data_read_file(path, MAX_FILE, &bytes, &len, err);
    if (st)
        return st;
    cnn_error e;
    st = cnn_image_decode(bytes, len, c, h, w, invert, out, &e);
    free(bytes);
    if (st)
        cnn_fail(err, st, "%s: %s", path, e.msg); /* the message names the file */
    return st;
}
