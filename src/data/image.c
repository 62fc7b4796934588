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
#include <setjmp.h>
#include <stb_image.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
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

/* Checked before decoding: a tiny file may claim a huge picture.  No real
 * PNG, JPEG or BMP packs more than about a thousand pixels into a byte
 * (deflate's limit is 1032:1); a file that claims far more would only make
 * the decoder allocate and fill a picture that is not there. */
static int plausible_size(int iw, int ih, size_t len, cnn_error *err)
{
    if (iw < 1 || ih < 1 || iw > MAX_SIDE || ih > MAX_SIDE)
        return cnn_fail(err, CNN_EFORMAT, "image of %dx%d pixels (at most %dx%d)", iw, ih,
                        MAX_SIDE, MAX_SIDE);
    if ((uint64_t)iw * (uint64_t)ih > (uint64_t)len * MAX_PIXELS_PER_BYTE)
        return cnn_fail(err, CNN_EFORMAT,
                        "the header claims %dx%d pixels, more than a %zu-byte file can hold", iw,
                        ih, len);
    return CNN_OK;
}

/* PNG, BMP, PGM/PPM through stb_image; the pixels are malloc'ed (stb's
 * default allocator), comp 1..4 interleaved. */
static uint8_t *decode_stb(const uint8_t *bytes, size_t len, int *iw, int *ih, int *comp,
                           cnn_error *err)
{
    if (!stbi_info_from_memory(bytes, (int)len, iw, ih, comp)) {
        const char *why = stbi_failure_reason();
        cnn_fail(err, CNN_EFORMAT, "cannot read the image header (%s)",
                 why && *why ? why : "corrupt or truncated");
        return NULL;
    }
    if (plausible_size(*iw, *ih, len, err))
        return NULL;
    int dw, dh;
    uint8_t *px = stbi_load_from_memory(bytes, (int)len, &dw, &dh, comp, 0);
    if (!px) {
        const char *why = stbi_failure_reason();
        cnn_fail(err, CNN_EFORMAT, "cannot decode the image (%s)",
                 why && *why ? why : "corrupt or truncated");
        return NULL;
    }
    if (dw != *iw || dh != *ih || *comp < 1 || *comp > 4) {
        free(px);
        cnn_fail(err, CNN_EFORMAT, "the image decoded to an unexpected shape");
        return NULL;
    }
    return px;
}

/* JPEG through libjpeg-turbo, the decoder browsers fuzz continuously: Debian's
 * stb_image 2.27 is built with assertions on, and a crafted JPEG can trip
 * one and abort the program.  libjpeg reports errors through error_exit,
 * which must not return: it jumps back here. */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf back;
} jpeg_errors;

static void jpeg_error_exit(j_common_ptr cinfo) { longjmp(((jpeg_errors *)cinfo->err)->back, 1); }
static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }

static uint8_t *decode_jpeg(const uint8_t *bytes, size_t len, int *iw, int *ih, int *comp,
                            cnn_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_errors jerr;
    uint8_t *volatile px = NULL;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit;
    jerr.pub.output_message = jpeg_quiet; /* warnings about corrupt data: not ours to print */
    if (setjmp(jerr.back)) {
        char why[JMSG_LENGTH_MAX];
        cinfo.err->format_message((j_common_ptr)&cinfo, why);
        jpeg_destroy_decompress(&cinfo);
        free(px);
        cnn_fail(err, CNN_EFORMAT, "cannot decode the JPEG (%s)", why);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.num_components != 1 && cinfo.num_components != 3) {
        jpeg_destroy_decompress(&cinfo);
        cnn_fail(err, CNN_EFORMAT, "JPEG with %d colour components (CMYK?): only gray and colour",
                 cinfo.num_components);
        return NULL;
    }
    if (plausible_size((int)cinfo.image_width, (int)cinfo.image_height, len, err)) {
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    *iw = (int)cinfo.output_width;
    *ih = (int)cinfo.output_height;
    *comp = cinfo.output_components;
    size_t stride = (size_t)*iw * (size_t)*comp;
    px = malloc(stride * (size_t)*ih);
    if (!px) {
        jpeg_destroy_decompress(&cinfo);
        cnn_fail(err, CNN_ENOMEM, "out of memory for a %dx%d image", *iw, *ih);
        return NULL;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = px + cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return px;
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
    if (bytes[0] == 0x89 && !png_chunks_ok(bytes, len))
        return cnn_fail(err, CNN_EFORMAT, "truncated PNG (a chunk runs past the end of the file)");
    if (bytes[0] == 'P' && !pnm_header_ok(bytes, len))
        return cnn_fail(err, CNN_EFORMAT, "corrupt PGM/PPM header (a number of more than 6 digits)");
    int iw, ih, comp;
    uint8_t *px = bytes[0] == 0xff ? decode_jpeg(bytes, len, &iw, &ih, &comp, err)
                                   : decode_stb(bytes, len, &iw, &ih, &comp, err);
    if (!px)
        return err ? err->status : CNN_EFORMAT;

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
        free(px);
        free(planes);
        free(tmp);
        return cnn_fail(err, CNN_ENOMEM, "out of memory for a %dx%d image", iw, ih);
    }
    to_planes(px, comp, npix, c, invert, planes);
    free(px);
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
