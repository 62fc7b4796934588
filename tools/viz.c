/* Pictures of what a network computes.  PNGs are written with zlib (already
 * linked for gzip data), to a file or to memory for data: URIs; text comes
 * from the 5x7 font below, so charts need no font library. */
#include "viz.h"


#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- images ------------------------------------------------------------ */

int viz_image_init(viz_image *im, int w, int h, cnn_error *err)
{
    im->w = im->h = 0;
    im->px = NULL;
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return cnn_fail(err, CNN_EINVAL, "image size %dx%d out of range", w, h);
    im->px = malloc((size_t)w * h * 3);
    if (!im->px)
        return cnn_fail(err, CNN_ENOMEM, "out of memory for a %dx%d image", w, h);
    memset(im->px, 255, (size_t)w * h * 3);
    im->w = w;
    im->h = h;
    return CNN_OK;
}

void viz_image_free(viz_image *im)
{
    free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
}

viz_rgb viz_pixel(const viz_image *im, int x, int y)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h)
        return VIZ_WHITE;
    const unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    return (viz_rgb){p[0], p[1], p[2]};
}

static void put(viz_image *im, int x, int y, viz_rgb c)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h)
        return;
    unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

void viz_rect(viz_image *im, int x, int y, int w, int h, viz_rgb c)
{
    for (int j = y < 0 ? 0 : y; j < y + h && j < im->h; j++)
        for (int i = x < 0 ? 0 : x; i < x + w && i < im->w; i++)
            put(im, i, j, c);
}

static void frame(viz_image *im, int x, int y, int w, int h, viz_rgb c)
{
    viz_rect(im, x, y, w, 1, c);
    viz_rect(im, x, y + h - 1, w, 1, c);
    viz_rect(im, x, y, 1, h, c);
    viz_rect(im, x + w - 1, y, 1, h, c);
}

/* Bresenham, with a 2x2 brush so chart lines read at a glance. */
static void line(viz_image *im, int x0, int y0, int x1, int y1, viz_rgb c)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        viz_rect(im, x0, y0, 2, 2, c);
        if (x0 == x1 && y0 == y1)
            return;
        int e2 = 2 * e;
        if (e2 >= dy)
            e += dy, x0 += sx;
        if (e2 <= dx)
            e += dx, y0 += sy;
    }
}

/* ---- text: a 5x7 bitmap font, bit 4 the leftmost column --------------- */

static const struct {
    char c;
    unsigned char rows[7];
} font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},
    {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
    {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},
    {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
    {'+', {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'/', {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0}},
    {'\\', {0, 0x10, 0x08, 0x04, 0x02, 0x01, 0}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'=', {0, 0, 0x1F, 0, 0x1F, 0, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0x1F}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}},
    {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
    {'\'', {0x04, 0x04, 0x08, 0, 0, 0, 0}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04}},
};

static const unsigned char *glyph(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c)
            return font[i].rows;
    return glyph('?');
}

int viz_text_width(const char *s, int scale)
{
    return (int)strlen(s) * 6 * scale;
}

int viz_text(viz_image *im, int x, int y, int scale, viz_rgb c, const char *s)
{
    int x0 = x;
    for (; *s; s++, x += 6 * scale) {
        const unsigned char *g = glyph(*s);
        for (int r = 0; r < 7; r++)
            for (int b = 0; b < 5; b++)
                if (g[r] & (0x10 >> b))
                    viz_rect(im, x + b * scale, y + r * scale, scale, scale, c);
    }
    return x - x0;
}

/* ---- PNG --------------------------------------------------------------- */

/* A PNG is a signature and chunks (length, type, data, CRC-32 of type and
 * data): IHDR, one IDAT of zlib-compressed rows, each led by its filter
 * byte (0: none), and IEND.  Written here with zlib's deflate at level 5
 * rather than stb_image_write's: the training chart, redrawn every epoch,
 * took 12.7 ms in stb and takes 2.8 ms here, in 11 KB instead of 13. */
static unsigned char *put_chunk(unsigned char *at, const char *type, const unsigned char *data,
                                size_t n)
{
    const unsigned char be[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                 (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(at, be, 4);
    memcpy(at + 4, type, 4);
    if (n && data != at + 8)
        memmove(at + 8, data, n);
    uLong crc = crc32(crc32(0, NULL, 0), at + 4, (uInt)(n + 4));
    const unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                                (unsigned char)(crc >> 8), (unsigned char)crc};
    memcpy(at + 8 + n, c, 4);
    return at + 12 + n;
}

unsigned char *viz_png_encode(const viz_image *im, int *len)
{
    size_t row = (size_t)im->w * 3 + 1, raw_n = row * (size_t)im->h;
    uLong bound = compressBound((uLong)raw_n);
    unsigned char *raw = malloc(raw_n ? raw_n : 1), *png = malloc(bound + 8 + 3 * 12 + 13);
    if (!raw || !png || bound > 0x7fffff00u) {
        free(raw), free(png);
        return NULL;
    }
    for (int y = 0; y < im->h; y++) {
        raw[y * row] = 0;
        memcpy(raw + y * row + 1, im->px + (size_t)y * im->w * 3, row - 1);
    }
    const unsigned char ihdr[13] = {
        (unsigned char)(im->w >> 24), (unsigned char)(im->w >> 16), (unsigned char)(im->w >> 8),
        (unsigned char)im->w, (unsigned char)(im->h >> 24), (unsigned char)(im->h >> 16),
        (unsigned char)(im->h >> 8), (unsigned char)im->h, 8, 2 /* RGB */, 0, 0, 0};
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    unsigned char *at = put_chunk(png + 8, "IHDR", ihdr, sizeof ihdr);
    uLongf zn = bound; /* compressed straight into the IDAT chunk's place */
    int z = compress2(at + 8, &zn, raw, (uLong)raw_n, 5);
    free(raw);
    if (z != Z_OK) {
        free(png);
        return NULL;
    }
    at = put_chunk(at, "IDAT", at + 8, zn);
    at = put_chunk(at, "IEND", NULL, 0);
    *len = (int)(at - png);
    return png;
}

int viz_png_save(const viz_image *im, const char *path, cnn_error *err)
{
    int n;
    unsigned char *png = viz_png_encode(im, &n);
    FILE *f = png ? fopen(path, "wb") : NULL;
    int ok = f && fwrite(png, 1, (size_t)n, f) == (size_t)n;
    ok = f && fclose(f) == 0 && ok;
    free(png);
    if (!ok)
        return cnn_fail(err, CNN_EIO, "%s: cannot write the PNG file", path);
    return CNN_OK;
}

int viz_png_save_in(const viz_image *im, const char *dir, const char *name, cnn_error *err)
{
    if (mkdir(dir, 0777) && errno != EEXIST)
        return cnn_fail(err, CNN_EIO, "%s: cannot create the folder: %s", dir, strerror(errno));
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return cnn_fail(err, CNN_EINVAL, "%s/%s: path too long", dir, name);
    return viz_png_save(im, path, err);
}

/* ---- colour ------------------------------------------------------------ */

static viz_rgb mix(viz_rgb a, viz_rgb b, float t)
{
    return (viz_rgb){(unsigned char)lrintf(a.r + (b.r - a.r) * t),
                     (unsigned char)lrintf(a.g + (b.g - a.g) * t),
                     (unsigned char)lrintf(a.b + (b.b - a.b) * t)};
}

viz_rgb viz_diverging(float v, float scale)
{
    if (isnan(v))
        return VIZ_GRAY;
    float t = scale > 0 ? v / scale : 0;
    t = t > 1 ? 1 : t < -1 ? -1 : t;
    return t >= 0 ? mix(VIZ_WHITE, (viz_rgb){178, 24, 43}, t)
                  : mix(VIZ_WHITE, (viz_rgb){33, 102, 172}, -t);
}

/* ---- grids of maps ----------------------------------------------------- */

enum { MARGIN = 8, GAP = 4, TITLE = 2 /* title font scale */ };

static float max_abs(const float *v, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && fabsf(v[i]) > m)
            m = fabsf(v[i]);
    return m;
}

/* The colour bar under a grid: -s, 0 and +s at its ends and middle. */
static void colour_bar(viz_image *im, int x, int y, float s)
{
    enum { W = 160, H = 10 };
    for (int i = 0; i < W; i++)
        viz_rect(im, x + i, y, 1, H, viz_diverging((2.0f * i / (W - 1) - 1) * s, s));
    frame(im, x - 1, y - 1, W + 2, H + 2, VIZ_GRAY);
    char lo[24], hi[24];
    snprintf(lo, sizeof lo, "%.3g", -s);
    snprintf(hi, sizeof hi, "+%.3g", s);
    viz_text(im, x, y + H + 4, 1, VIZ_BLACK, lo);
    viz_text(im, x + W / 2 - 3, y + H + 4, 1, VIZ_BLACK, "0");
    viz_text(im, x + W - viz_text_width(hi, 1), y + H + 4, 1, VIZ_BLACK, hi);
}

int viz_grid(viz_image *out, const char *title, const float *maps, int count, int h, int w,
             int cols, cnn_error *err)
{
    if (count < 1 || h < 1 || w < 1)
        return cnn_fail(err, CNN_EINVAL, "nothing to draw (%d maps of %dx%d)", count, h, w);
    size_t total = (size_t)count * h * w;
    int vector = h == 1 && w == 1, tiles = count;
    if (vector) { /* one tile, 16 values a row */
        w = count < 16 ? count : 16;
        h = (count + 15) / 16;
        tiles = cols = 1;
    }
    if (cols < 1)
        cols = tiles < 8 ? tiles : 8;
    int side = h > w ? h : w;
    int cell = vector ? 16 : side >= 112 ? 1 : 112 / side > 24 ? 24 : 112 / side;
    int rows = (tiles + cols - 1) / cols;
    while (cell > 1 && (cols * (w * cell + GAP) > 1400 || rows * (h * cell + GAP) > 1000))
        cell--; /* keep big grids on screen */
    int tw = w * cell, th = h * cell;
    int width = 2 * MARGIN + cols * (tw + GAP) - GAP, tw_title = viz_text_width(title, TITLE);
    width = width < 2 * MARGIN + tw_title ? 2 * MARGIN + tw_title : width;
    width = width < 2 * MARGIN + 180 ? 2 * MARGIN + 180 : width;
    int top = MARGIN + 8 * TITLE + 8;
    int bar = top + rows * (th + GAP) - GAP + 10;
    int rc = viz_image_init(out, width, bar + 30, err);
    if (rc)
        return rc;
    viz_text(out, MARGIN, MARGIN, TITLE, VIZ_BLACK, title);
    float s = max_abs(maps, total);
    s = s > 0 ? s : 1;
    for (int t = 0; t < tiles; t++) {
        int x0 = MARGIN + (t % cols) * (tw + GAP), y0 = top + (t / cols) * (th + GAP);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = ((size_t)t * h + y) * w + x;
                viz_rgb c = i < total ? viz_diverging(maps[i], s) : (viz_rgb){220, 220, 220};
                viz_rect(out, x0 + x * cell, y0 + y * cell, cell, cell, c);
            }
        frame(out, x0 - 1, y0 - 1, tw + 2, th + 2, (viz_rgb){200, 200, 200});
    }
    colour_bar(out, MARGIN + 1, bar, s);
    return CNN_OK;
}

static void describe(const cnn_net *net, int i, char *out, size_t n)
{
    cnn_shape s = i < 0 ? cnn_net_input_shape(net) : cnn_net_layer_shape(net, i);
    if (i < 0) {
        snprintf(out, n, "input %dx%dx%d", s.c, s.h, s.w);
        return;
    }
    cnn_layer_spec l = cnn_net_layer(net, i);
    char what[48];
    cnn_layer_text(&l, 1, what, sizeof what);
    snprintf(out, n, "%d %s: %dx%dx%d", i + 1, what, s.c, s.h, s.w);
}

int viz_activation(viz_image *out, const cnn_net *net, int i, int n, cnn_error *err)
{
    if (i < -1 || i >= cnn_net_layers(net) || n < 0 || n >= cnn_net_max_batch(net))
        return cnn_fail(err, CNN_EINVAL, "no activation %d of image %d", i, n);
    cnn_shape s = i < 0 ? cnn_net_input_shape(net) : cnn_net_layer_shape(net, i);
    const float *a = cnn_net_activation(net, i);
    if (!a)
        return cnn_fail(err, CNN_EINVAL, "layer %d has no activation yet (run forward)", i + 1);
    char title[96];
    describe(net, i, title, sizeof title);
    return viz_grid(out, title, a + (size_t)n * cnn_shape_size(s), s.c, s.h, s.w, 0, err);
}

int viz_filters(viz_image *out, cnn_net *net, int i, cnn_error *err)
{
    if (i < 0 || i >= cnn_net_layers(net) || cnn_net_layer(net, i).kind != CNN_CONV)
        return cnn_fail(err, CNN_EINVAL, "layer %d is not a convolution", i + 1);
    cnn_layer_spec l = cnn_net_layer(net, i);
    int in = i == 0 ? cnn_net_input_shape(net).c : cnn_net_layer_shape(net, i - 1).c;
    const float *w = cnn_net_layer_weights(net, i);
    if (!w)
        return cnn_fail(err, CNN_EINVAL, "layer %d has no weights (not initialised)", i + 1);
    char title[96];
    if (in == 1)
        snprintf(title, sizeof title, "filters of layer %d: %d x %dx%d", i + 1, l.filters, l.kh,
                 l.kw);
    else
        snprintf(title, sizeof title, "layer %d: row = filter, column = input channel", i + 1);
    /* weights are (out, in, kh, kw): filter f's tile for channel c is map f*in+c */
    return viz_grid(out, title, w, l.filters * in, l.kh, l.kw, in == 1 ? 0 : in, err);
}

/* ---- charts ------------------------------------------------------------ */

enum { PANEL_W = 430, PANEL_H = 330, PLOT_L = 60, PLOT_R = 16, PLOT_T = 44, PLOT_B = 48 };

int viz_axes_x(const viz_axes *a, double x)
{
    return a->left + (int)lround((x - a->x0) / (a->x1 - a->x0) * (a->right - a->left));
}

int viz_axes_y(const viz_axes *a, double y)
{
    return a->bottom - (int)lround((y - a->y0) / (a->y1 - a->y0) * (a->bottom - a->top));
}

/* 1, 2 or 5 times a power of ten, near range / ticks. */
static double nice_step(double range, int ticks)
{
    double raw = range / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

void viz_curves_layout(const cnn_epoch_record *h, int count, viz_axes *loss, viz_axes *acc)
{
    double top = 0, low = 100;
    for (int e = 0; e < count; e++) {
        const float v[4] = {h[e].train_loss, h[e].test_loss, 100 * h[e].train_accuracy,
                            100 * h[e].test_accuracy};
        for (int k = 0; k < 2; k++)
            if (isfinite(v[k]) && v[k] > top)
                top = v[k];
        for (int k = 2; k < 4; k++)
            if (isfinite(v[k]) && v[k] < low)
                low = v[k];
    }
    double step = top > 0 ? nice_step(top, 4) : 1;
    double x1 = count > 2 ? count : 2;
    *loss = (viz_axes){PLOT_L, PLOT_T, PANEL_W - PLOT_R, PANEL_H - PLOT_B,
                       1, x1, 0, top > 0 ? step * ceil(top / step) : 1};
    double y0 = low >= 50 ? floor(low / 10) * 10 : 0; /* zoom in on a good run */
    *acc = (viz_axes){PANEL_W + PLOT_L, PLOT_T, 2 * PANEL_W - PLOT_R, PANEL_H - PLOT_B,
                      1, x1, y0 < 90 ? y0 : 90, 100};
}

static void tick_label(double v, double step, char *out, size_t n)
{
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(out, n, "%.*f", decimals, v);
}

static void panel(viz_image *im, const viz_axes *a, const char *title, const cnn_epoch_record *h,
                  int count, int accuracy)
{
    const viz_rgb grid = {228, 228, 228};
    char s[32];
    double ys = nice_step(a->y1 - a->y0, 5);
    for (double y = a->y0; y <= a->y1 + ys * 1e-6; y += ys) {
        int py = viz_axes_y(a, y);
        viz_rect(im, a->left, py, a->right - a->left + 1, 1, grid);
        tick_label(y, ys, s, sizeof s);
        viz_text(im, a->left - 6 - viz_text_width(s, 1), py - 3, 1, VIZ_BLACK, s);
    }
    double xs = ceil(nice_step(a->x1 - a->x0, 8));
    for (double x = a->x0; x <= a->x1 + 1e-9; x = (x == a->x0 && xs > 1) ? xs : x + xs) {
        int px = viz_axes_x(a, x);
        viz_rect(im, px, a->top, 1, a->bottom - a->top, grid);
        viz_rect(im, px, a->bottom, 1, 4, VIZ_BLACK);
        snprintf(s, sizeof s, "%.0f", x);
        viz_text(im, px - viz_text_width(s, 1) / 2, a->bottom + 7, 1, VIZ_BLACK, s);
    }
    viz_rect(im, a->left, a->top, 1, a->bottom - a->top + 1, VIZ_BLACK);
    viz_rect(im, a->left, a->bottom, a->right - a->left + 1, 1, VIZ_BLACK);
    viz_text(im, a->left - PLOT_L + 10, 10, TITLE, VIZ_BLACK, title);
    viz_text(im, (a->left + a->right) / 2 - viz_text_width("epoch", 1) / 2, a->bottom + 24, 1,
             VIZ_BLACK, "epoch");
    /* legend, top right */
    int lx = a->right - 110;
    viz_rect(im, lx, 12, 14, 3, VIZ_TRAIN);
    viz_text(im, lx + 18, 10, 1, VIZ_BLACK, "train");
    viz_rect(im, lx + 60, 12, 14, 3, VIZ_TEST);
    viz_text(im, lx + 78, 10, 1, VIZ_BLACK, "test");
    /* the series: lines first, then markers, test under train */
    for (int k = 1; k >= 0; k--) {
        viz_rgb c = k ? VIZ_TEST : VIZ_TRAIN;
        int have = 0, px = 0, py = 0;
        for (int e = 0; e < count; e++) {
            float v = accuracy ? 100 * (k ? h[e].test_accuracy : h[e].train_accuracy)
                               : (k ? h[e].test_loss : h[e].train_loss);
            if (!isfinite(v)) {
                have = 0;
                continue;
            }
            int x = viz_axes_x(a, e + 1), y = viz_axes_y(a, v);
            if (have)
                line(im, px, py, x, y, c);
            have = 1, px = x, py = y;
        }
    }
    for (int k = 1; k >= 0; k--)
        for (int e = 0; e < count; e++) {
            float v = accuracy ? 100 * (k ? h[e].test_accuracy : h[e].train_accuracy)
                               : (k ? h[e].test_loss : h[e].train_loss);
            if (isfinite(v))
                viz_rect(im, viz_axes_x(a, e + 1) - 2, viz_axes_y(a, v) - 2, 5, 5,
                         k ? VIZ_TEST : VIZ_TRAIN);
        }
}

int viz_curves(viz_image *out, const cnn_epoch_record *history, int count, cnn_error *err)
{
    if (count < 0 || (count > 0 && !history))
        return cnn_fail(err, CNN_EINVAL, "no history to draw");
    int rc = viz_image_init(out, 2 * PANEL_W, PANEL_H, err);
    if (rc)
        return rc;
    viz_axes loss, acc;
    viz_curves_layout(history, count, &loss, &acc);
    panel(out, &loss, "loss", history, count, 0);
    panel(out, &acc, "accuracy %", history, count, 1);
    return CNN_OK;
}

int viz_curves_png(const char *path, const cnn_epoch_record *history, int count, cnn_error *err)
{
    viz_image im = {0};
    int rc = viz_curves(&im, history, count, err);
    if (rc == CNN_OK)
        rc = viz_png_save(&im, path, err);
    viz_image_free(&im);
    return rc;
}

/* ---- confusion matrix and image strips --------------------------------- */

int viz_confusion(viz_image *out, const int *confusion, int k, cnn_error *err)
{
    if (k < 1 || k > 1000)
        return cnn_fail(err, CNN_EINVAL, "confusion matrix of %d classes", k);
    int cell = 400 / k < 14 ? 14 : 400 / k > 44 ? 44 : 400 / k;
    char s[24];
    snprintf(s, sizeof s, "%d", k - 1);
    int left = MARGIN + 6 * 5 + 6 + viz_text_width(s, 1), top = MARGIN + 8 * TITLE + 8 + 14;
    const char *title = "rows: true, columns: predicted";
    int width = left + k * cell + MARGIN;
    width = width < 2 * MARGIN + viz_text_width(title, TITLE) ? 2 * MARGIN +
                                                                    viz_text_width(title, TITLE)
                                                              : width;
    int rc = viz_image_init(out, width, top + k * cell + MARGIN, err);
    if (rc)
        return rc;
    viz_text(out, MARGIN, MARGIN, TITLE, VIZ_BLACK, title);
    viz_text(out, MARGIN, top - 12, 1, VIZ_BLACK, "true");
    const viz_rgb dark = {8, 48, 107};
    for (int i = 0; i < k; i++) {
        snprintf(s, sizeof s, "%d", i);
        viz_text(out, left - 4 - viz_text_width(s, 1), top + i * cell + cell / 2 - 3, 1,
                 VIZ_BLACK, s);
        viz_text(out, left + i * cell + cell / 2 - viz_text_width(s, 1) / 2, top - 12, 1,
                 VIZ_BLACK, s);
        long row = 0;
        for (int j = 0; j < k; j++)
            row += confusion[i * k + j];
        for (int j = 0; j < k; j++) {
            int n = confusion[i * k + j];
            float t = row > 0 ? (float)n / (float)row : 0;
            int x = left + j * cell, y = top + i * cell;
            viz_rect(out, x, y, cell, cell, mix(VIZ_WHITE, dark, t));
            frame(out, x, y, cell + 1, cell + 1, (viz_rgb){200, 200, 200});
            snprintf(s, sizeof s, "%d", n);
            if (viz_text_width(s, 1) <= cell - 2)
                viz_text(out, x + cell / 2 - viz_text_width(s, 1) / 2 + 1, y + cell / 2 - 3, 1,
                         t > 0.5f ? VIZ_WHITE : VIZ_BLACK, s);
        }
    }
    return CNN_OK;
}

int viz_strip(viz_image *out, const unsigned char *pixels, int n, cnn_shape s,
              const char *const *captions, cnn_error *err)
{
    if (n < 1 || s.c < 1 || s.h < 1 || s.w < 1)
        return cnn_fail(err, CNN_EINVAL, "no images to draw");
    int side = s.h > s.w ? s.h : s.w;
    int scale = 84 / side < 1 ? 1 : 84 / side > 8 ? 8 : 84 / side;
    int tw = s.w * scale < 84 ? 84 : s.w * scale, th = s.h * scale;
    int rc = viz_image_init(out, MARGIN + n * (tw + 2 * GAP), 2 * MARGIN + th + 4 + 3 * 10, err);
    if (rc)
        return rc;
    size_t per = cnn_shape_size(s), plane = (size_t)s.h * s.w;
    for (int k = 0; k < n; k++) {
        const unsigned char *p = pixels + per * k;
        int x0 = MARGIN + k * (tw + 2 * GAP) + (tw - s.w * scale) / 2, y0 = MARGIN;
        for (int y = 0; y < s.h; y++)
            for (int x = 0; x < s.w; x++) {
                size_t i = (size_t)y * s.w + x;
                viz_rgb c = s.c == 3 ? (viz_rgb){p[i], p[plane + i], p[2 * plane + i]}
                                     : (viz_rgb){p[i], p[i], p[i]};
                viz_rect(out, x0 + x * scale, y0 + y * scale, scale, scale, c);
            }
        frame(out, x0 - 1, y0 - 1, s.w * scale + 2, th + 2, VIZ_GRAY);
        /* caption lines, cut to the tile's width */
        const char *c = captions ? captions[k] : NULL;
        for (int ln = 0; c && *c && ln < 3; ln++) {
            size_t len = strcspn(c, "\n"), fit = (size_t)(tw / 6);
            char buf[64];
            snprintf(buf, sizeof buf, "%.*s", (int)(len < fit ? len : fit), c);
            viz_text(out, MARGIN + k * (tw + 2 * GAP), y0 + th + 6 + ln * 10, 1, VIZ_BLACK, buf);
            c += len + (c[len] == '\n');
        }
    }
    return CNN_OK;
}

/* ---- the X-or-O walkthrough -------------------------------------------- */

int viz_xo_run(viz_xo out[3], float weights[2][12], float features[3][9], cnn_error *err)
{
    cnn_net *net = cnn_xo_walkthrough(3, features ? &features[0][0] : NULL, err);
    if (!net)
        return err ? err->status : CNN_ENOMEM;
    float x[3 * 81];
    cnn_xo_canonical('x', x);
    cnn_xo_canonical('o', x + 81);
    cnn_xo_canonical('d', x + 162);
    if (weights)
        memcpy(weights, cnn_net_layer_weights(net, 4), sizeof(float) * 24);
    int rc;
    if ((rc = cnn_forward(net, x, 3, 0, err)))
        goto done;
    for (int n = 0; n < 3; n++) {
        viz_xo *o = &out[n];
        memcpy(o->input, x + 81 * n, sizeof o->input);
        memcpy(o->match, cnn_net_activation(net, 0) + 147 * n, sizeof o->match);
        memcpy(o->relu, cnn_net_activation(net, 1) + 147 * n, sizeof o->relu);
        memcpy(o->pool1, cnn_net_activation(net, 2) + 48 * n, sizeof o->pool1);
        memcpy(o->pool2, cnn_net_activation(net, 3) + 12 * n, sizeof o->pool2);
        memcpy(o->votes, cnn_net_activation(net, 3) + 12 * n, sizeof o->votes);
        memcpy(o->score, cnn_net_activation(net, 4) + 2 * n, sizeof o->score);
        memcpy(o->prob, cnn_net_activation(net, 5) + 2 * n, sizeof o->prob);
    }
done:
    cnn_net_free(net);
    return rc;
}
