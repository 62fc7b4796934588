/* Pictures of what a network computes: feature maps, filters, training
 * curves, confusion matrices and image strips as PNG files (through zlib),
 * with text drawn by a built-in 5x7 bitmap font, so nothing beyond zlib is
 * needed.  Also the numbers of the classic X-or-O walkthrough, computed by
 * the library's own layers. */
#ifndef CNN_VIZ_H
#define CNN_VIZ_H

#include "cnn.h"

/* ---- images ------------------------------------------------------------ */

typedef struct {
    unsigned char r, g, b;
} viz_rgb;

/* An RGB image, 3 bytes a pixel, rows top to bottom. */
typedef struct {
    int w, h;
    unsigned char *px;
} viz_image;

#define VIZ_WHITE ((viz_rgb){255, 255, 255})
#define VIZ_BLACK ((viz_rgb){0, 0, 0})
#define VIZ_GRAY ((viz_rgb){150, 150, 150})
#define VIZ_TRAIN ((viz_rgb){31, 119, 180}) /* the train series of a chart */
#define VIZ_TEST ((viz_rgb){230, 120, 20})  /* the test series           */

/* A white w x h image; CNN_ENOMEM or CNN_EINVAL on failure. */
int viz_image_init(viz_image *im, int w, int h, cnn_error *err);
void viz_image_free(viz_image *im);
viz_rgb viz_pixel(const viz_image *im, int x, int y);
void viz_rect(viz_image *im, int x, int y, int w, int h, viz_rgb c); /* clipped */

/* Text in the built-in 5x7 font, each glyph 6*scale x 8*scale pixels;
 * letters are drawn upper case, unknown characters as '?'.  Returns the
 * width drawn. */
int viz_text(viz_image *im, int x, int y, int scale, viz_rgb c, const char *s);
int viz_text_width(const char *s, int scale);

int viz_png_save(const viz_image *im, const char *path, cnn_error *err);
/* Saves im as DIR/NAME, creating DIR (one level) if it does not exist. */
int viz_png_save_in(const viz_image *im, const char *dir, const char *name, cnn_error *err);
/* The PNG file's bytes (free() them); NULL when out of memory. */
unsigned char *viz_png_encode(const viz_image *im, int *len);

/* Diverging colour map, symmetric around 0: -scale is blue, 0 white,
 * +scale red, linear in between and clamped beyond; NaN is gray. */
viz_rgb viz_diverging(float v, float scale);

/* ---- pictures ---------------------------------------------------------- */

/* count maps of h x w floats, cols tiles a row, under a title, all on one
 * colour scale of +-max|v| (shown as a labelled bar below the tiles).  A
 * vector (h = w = 1 per map) is drawn as one tile of rows of 16 values. */
int viz_grid(viz_image *out, const char *title, const float *maps, int count, int h, int w,
             int cols, cnn_error *err);
/* The output of layer i (-1: the input) of image n after cnn_forward. */
int viz_activation(viz_image *out, const cnn_net *net, int i, int n, cnn_error *err);
/* The filters of conv layer i: the first layer (one input channel) as one
 * tile per filter; deeper layers one row per filter, one tile per input
 * channel.  CNN_EINVAL if layer i is not a convolution. */
int viz_filters(viz_image *out, cnn_net *net, int i, cnn_error *err);

/* Where a chart puts its data: the plot area in pixels and the data range. */
typedef struct {
    int left, top, right, bottom;
    double x0, x1, y0, y1;
} viz_axes;

int viz_axes_x(const viz_axes *a, double x);
int viz_axes_y(const viz_axes *a, double y);

/* The two panels of the training chart: loss against epoch (1-based) and
 * accuracy in percent against epoch. */
void viz_curves_layout(const cnn_epoch_record *history, int count, viz_axes *loss,
                       viz_axes *accuracy);
/* Loss and accuracy per epoch, train (VIZ_TRAIN) and test (VIZ_TEST), with
 * labelled axes and a legend; every epoch is a 5x5 marker centred on its
 * point. */
int viz_curves(viz_image *out, const cnn_epoch_record *history, int count, cnn_error *err);
int viz_curves_png(const char *path, const cnn_epoch_record *history, int count, cnn_error *err);

/* confusion: k x k counts, row = true class, column = prediction; each cell
 * is shaded by its share of the row and shows its count. */
int viz_confusion(viz_image *out, const int *confusion, int k, cnn_error *err);

/* n images (bytes, each c x h x w as in a cnn_dataset) side by side, each
 * with a caption of up to three lines separated by '\n'. */
int viz_strip(viz_image *out, const unsigned char *pixels, int n, cnn_shape s,
              const char *const *captions, cnn_error *err);

/* ---- the X-or-O walkthrough -------------------------------------------- */

/* What the walkthrough network computes for one 9x9 picture. */
typedef struct {
    float input[81];
    float match[3][49]; /* feature matches: conv with feature / 9, 7x7   */
    float relu[3][49];
    float pool1[3][16]; /* max pooling 2, stride 2, partial windows kept */
    float pool2[3][4];
    float votes[12];    /* pool2 flattened: the values that vote          */
    float score[2];     /* the fully connected vote for X and for O       */
    float prob[2];      /* softmax of the votes                           */
} viz_xo;

/* Runs the canonical X (out[0]), O (out[1]) and deformed X (out[2])
 * through the library's walkthrough network (cnn_xo_walkthrough: the
 * features \ X / as filters, the canonical X's and O's pooled values as
 * vote weights).  weights (may be NULL) receives the 2 x 12 vote weights,
 * features (may be NULL) the three 3x3 features. */
int viz_xo_run(viz_xo out[3], float weights[2][12], float features[3][9], cnn_error *err);

#endif
