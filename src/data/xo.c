/* The X-or-O set of the classic CNN explanation (data/xo/README.md), made
 * hard enough to need a CNN: each image is an X or an O drawn with a random
 * shift, size, stretch and rotation, then deformed by moving a few stroke
 * pixels, so comparing the whole image with one template fails while local
 * features (diagonals, crossings, curves) still find it.
 *
 * Every pixel decision uses only +, -, *, / and sqrt on doubles, which IEEE
 * 754 rounds exactly, and the rotation comes from the rational
 * parameterisation cos = (1-t^2)/(1+t^2), sin = 2t/(1+t^2) rather than from
 * libm's sin and cos: the same seed draws the same bytes everywhere. */
#include "cnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const canonical_x[9] = {
    ".........", ".#.....#.", "..#...#..", "...#.#...", "....#....",
    "...#.#...", "..#...#..", ".#.....#.", ".........",
};
static const char *const canonical_o[9] = {
    ".........", "...###...", "..#...#..", ".#.....#.", ".#.....#.",
    ".#.....#.", "..#...#..", "...###...", ".........",
};
/* The deformed X: (row, column) of its white pixels. */
static const unsigned char deformed_x[13][2] = {
    {1, 6}, {2, 1}, {2, 5}, {3, 2}, {3, 3}, {3, 5}, {4, 4},
    {5, 3}, {5, 5}, {5, 6}, {6, 3}, {6, 7}, {7, 2},
};

void cnn_xo_canonical(char which, float out[81])
{
    for (int i = 0; i < 81; i++)
        out[i] = -1.0f;
    if (which == 'x' || which == 'o') {
        const char *const *rows = which == 'x' ? canonical_x : canonical_o;
        for (int i = 0; i < 81; i++)
            if (rows[i / 9][i % 9] == '#')
                out[i] = 1.0f;
    } else if (which == 'd') {
        for (int i = 0; i < 13; i++)
            out[deformed_x[i][0] * 9 + deformed_x[i][1]] = 1.0f;
    }
}

/* The README's three 3x3 features: diagonal '\', crossing 'X', diagonal '/'. */
static const float features_xo[27] = {
    1, -1, -1, -1, 1, -1, -1, -1, 1,  /* '\'  */
    1, -1, 1, -1, 1, -1, 1, -1, 1,    /* 'X'  */
    -1, -1, 1, -1, 1, -1, 1, -1, -1,  /* '/'  */
};

/* The layers of the classic explanation; softmax turns the votes into odds. */
static const char walkthrough_spec[] = "input 9x9x1 mean 0 std 1\n"
                                       "conv 3 3x3 nobias\n"
                                       "relu\n"
                                       "maxpool 2 ceil\n"
                                       "maxpool 2 ceil\n"
                                       "dense 2 nobias\n"
                                       "softmax\n";

cnn_net *cnn_xo_walkthrough(int max_batch, float features[27], cnn_error *err)
{
    cnn_net *net = cnn_net_parse(walkthrough_spec, NULL, err);
    if (!net)
        return NULL;
    cnn_net_keep_activations(net, 1); /* the match maps before ReLU too */
    if (cnn_net_init(net, max_batch > 2 ? max_batch : 2, 0, err)) {
        cnn_net_free(net);
        return NULL;
    }
    /* match = sum of elementwise products / 9: a conv whose filters are feature / 9 */
    float *w = cnn_net_layer_weights(net, 0), *vote = cnn_net_layer_weights(net, 4);
    for (int i = 0; i < 27; i++)
        w[i] = features_xo[i] / 9;
    memset(vote, 0, sizeof(float) * 24);
    float x[2 * 81];
    cnn_xo_canonical('x', x);
    cnn_xo_canonical('o', x + 81);
    if (cnn_forward(net, x, 2, 0, err)) {
        cnn_net_free(net);
        return NULL;
    }
    /* the vote weights: the X's and the O's own 12 pooled values, each summing to 1 */
    const float *p2 = cnn_net_activation(net, 3);
    for (int k = 0; k < 2; k++) {
        float sum = 0;
        for (int i = 0; i < 12; i++)
            sum += p2[k * 12 + i];
        for (int i = 0; i < 12; i++)
            vote[k * 12 + i] = sum > 0 ? p2[k * 12 + i] / sum : 0;
    }
    if (features)
        memcpy(features, features_xo, sizeof features_xo);
    return net;
}

static double between(cnn_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * cnn_rng_uniform(r);
}

/* Unbiased enough for picking pixels: multiply-shift of the top 32 bits. */
static int below(cnn_rng *r, int n)
{
    return (int)(((cnn_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Lengths in units of one pixel of the classic 9x9 picture (s pixels), so
 * that with no variation a size-9 image is the canonical X or O. */
static void draw(uint8_t *img, int size, int is_o, cnn_rng *r)
{
    double s = size / 9.0;
    double half = 3 * s * between(r, 0.7, 1.0);   /* centre to stroke */
    double ax = between(r, 0.85, 1.15), ay = between(r, 0.85, 1.15);
    double t = between(r, -0.15, 0.15);           /* tan(angle / 2): up to ~17 degrees */
    double cs = (1 - t * t) / (1 + t * t), sn = 2 * t / (1 + t * t);
    double cx = size / 2.0 + between(r, -s, s), cy = size / 2.0 + between(r, -s, s);
    double hw = s / 2, hw2 = hw * 1.4142135623730951; /* half stroke; its |u-v| width */
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            double u = (cs * dx + sn * dy) / ax, v = (cs * dy - sn * dx) / ay;
            int on = is_o ? fabs(sqrt(u * u + v * v) - half) <= hw
                          : (fabs(u - v) <= hw2 || fabs(u + v) <= hw2) &&
                                fabs(u) <= half + hw && fabs(v) <= half + hw;
            img[y * size + x] = on ? 255 : 0;
        }
    /* Deformation: a few stroke pixels each step to a free neighbour. */
    int moves = below(r, 2 + size / 8);
    for (int m = 0; m < moves; m++) {
        int p = below(r, size * size), dir = below(r, 8);
        for (int k = 0; k < size * size && !img[p]; k++)
            p = (p + 1) % (size * size);
        static const int step[8][2] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, -1},
                                       {0, 1},   {1, -1}, {1, 0},  {1, 1}};
        int y = p / size + step[dir][0], x = p % size + step[dir][1];
        if (img[p] && y >= 0 && y < size && x >= 0 && x < size && !img[y * size + x]) {
            img[p] = 0;
            img[y * size + x] = 255;
        }
    }
}

int cnn_xo_generate(int n, int size, uint64_t seed, cnn_dataset *out, cnn_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || n < 1 || size < 7 || size > 1024)
        return cnn_fail(err, CNN_EINVAL, "xo: want n >= 1 and size 7..1024, not n %d size %d",
                        n, size);
    size_t per = (size_t)size * size;
    if ((size_t)n > SIZE_MAX / per)
        return cnn_fail(err, CNN_EINVAL, "xo: %d images of %dx%d do not fit in memory", n, size,
                        size);
    cnn_dataset d = {.n = n, .c = 1, .h = size, .w = size, .classes = 2};
    d.pixels = malloc((size_t)n * per);
    d.labels = malloc(sizeof *d.labels * (size_t)n);
    d.class_names = calloc(2, sizeof *d.class_names);
    int *order = malloc((size_t)n * sizeof *order);
    if (d.class_names) {
        d.class_names[0] = strdup("X");
        d.class_names[1] = strdup("O");
    }
    if (!d.pixels || !d.labels || !order || !d.class_names || !d.class_names[0] ||
        !d.class_names[1]) {
        free(order);
        cnn_dataset_free(&d);
        return cnn_fail(err, CNN_ENOMEM, "xo: out of memory for %d images", n);
    }
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    /* Half X (0) and half O (1), in random order. */
    for (int i = 0; i < n; i++)
        order[i] = i & 1;
    cnn_rng_shuffle(&r, order, n);
    for (int i = 0; i < n; i++) {
        d.labels[i] = (cnn_label)order[i];
        draw(d.pixels + (size_t)i * per, size, order[i], &r);
    }
    free(order);
    *out = d;
    return CNN_OK;
}
