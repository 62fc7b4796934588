/* Every layer kind: answers a person can check by hand, and the backward pass
 * against central finite differences over many random configurations. */
#include "cnn.h"
#include "kernels/kernels.h"
#include "layer.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* A layer standing alone (layer_new), its dropout masks seeded as these
 * tests expect. */
static int make_layer(lone_layer *t, cnn_layer_spec spec, cnn_shape in, int n, int threads)
{
    if (layer_new(t, spec, in, n, threads, NULL))
        return -1;
    t->l.seed = 99;
    t->step = 7;
    return 0;
}

static void free_layer(lone_layer *t) { layer_free(t); }

static cnn_layer_spec conv_spec(int filters, int k, int s, int p)
{
    cnn_layer_spec c = {.kind = CNN_CONV, .filters = filters, .kh = k, .kw = k, .sh = s, .sw = s,
                        .ph = p, .pw = p};
    return c;
}

static cnn_layer_spec pool_spec(cnn_layer_kind kind, int k, int s, int ceil_mode)
{
    cnn_layer_spec c = {.kind = kind, .kh = k, .kw = k, .sh = s, .sw = s, .ceil_mode = ceil_mode};
    return c;
}

/* A pool padded by t, l, b, r (top, left, bottom, right). */
static cnn_layer_spec padded_pool(cnn_layer_kind kind, int kh, int kw, int sh, int sw, int t,
                                  int l, int b, int r, int ceil_mode, int count_pad)
{
    cnn_layer_spec c = {.kind = kind, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .ph = t, .pw = l,
                        .ph_end = b, .pw_end = r, .pad_asym = 1, .ceil_mode = ceil_mode,
                        .count_pad = count_pad};
    return c;
}

/* ---- known answers ------------------------------------------------------ */

TEST(conv_tutorial_image_gives_149_top_left)
{
    /* The tutorial's 4x4 grayscale image and its 3x3 edge filter. */
    float img[16] = {0, 50, 0, 29, 0, 80, 31, 2, 33, 90, 0, 75, 0, 9, 0, 95};
    float filter[9] = {0, -1, 0, -1, 4, -1, 0, -1, 0};
    cnn_layer_spec s = conv_spec(1, 3, 1, 0);
    s.no_bias = 1;
    lone_layer t;
    CHECK(make_layer(&t, s, (cnn_shape){1, 4, 4}, 1, 1) == 0);
    CHECK(t.l.out.h == 2 && t.l.out.w == 2 && t.l.out.c == 1);
    memcpy(t.l.w, filter, sizeof filter);
    float y[4];
    layer_forward(&t, img, y, 1, 0);
    CHECK_NEAR(y[0], 149, 0);
    CHECK_NEAR(y[1], 42, 0);
    CHECK_NEAR(y[2], 238, 0);
    CHECK_NEAR(y[3], -196, 0);
    free_layer(&t);
}

TEST(conv_padding_and_stride_follow_the_output_size_formula)
{
    /* floor((H + 2p - k) / s) + 1 */
    lone_layer t;
    CHECK(make_layer(&t, conv_spec(4, 3, 2, 1), (cnn_shape){2, 7, 8}, 1, 1) == 0);
    CHECK(t.l.out.c == 4 && t.l.out.h == 4 && t.l.out.w == 4);
    free_layer(&t);
    cnn_layer_spec same = conv_spec(3, 5, 1, 0);
    same.same = 1;
    CHECK(make_layer(&t, same, (cnn_shape){1, 9, 6}, 1, 1) == 0);
    CHECK(t.l.out.h == 9 && t.l.out.w == 6);
    free_layer(&t);
    CHECK(make_layer(&t, conv_spec(1, 5, 1, 0), (cnn_shape){1, 4, 4}, 1, 1) != 0);
    free_layer(&t);
}

TEST(conv_sums_over_input_depth_and_adds_bias)
{
    /* 2 input channels of ones and twos, a 1x1 filter (3, 5), bias 1: 3+10+1 */
    float x[8] = {1, 1, 1, 1, 2, 2, 2, 2};
    lone_layer t;
    CHECK(make_layer(&t, conv_spec(1, 1, 1, 0), (cnn_shape){2, 2, 2}, 1, 1) == 0);
    t.l.w[0] = 3, t.l.w[1] = 5, t.l.b[0] = 1;
    float y[4];
    layer_forward(&t, x, y, 1, 0);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(y[i], 14, 0);
    free_layer(&t);
}

TEST(pooling_max_average_sum_by_hand)
{
    float x[16] = {1, 2, 5, 6, 3, 4, 7, 8, -1, -2, 0, 9, -3, -4, 9, 1};
    cnn_layer_kind kinds[3] = {CNN_MAXPOOL, CNN_AVGPOOL, CNN_SUMPOOL};
    float want[3][4] = {{4, 8, -1, 9}, {2.5f, 6.5f, -2.5f, 4.75f}, {10, 26, -10, 19}};
    for (int k = 0; k < 3; k++) {
        lone_layer t;
        CHECK(make_layer(&t, pool_spec(kinds[k], 2, 2, 0), (cnn_shape){1, 4, 4}, 1, 1) == 0);
        float y[4];
        layer_forward(&t, x, y, 1, 0);
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(y[i], want[k][i], 1e-6);
        free_layer(&t);
    }
}

TEST(maxpool_ceil_mode_keeps_the_partial_windows_7x7_to_4x4)
{
    float x[49];
    for (int i = 0; i < 49; i++)
        x[i] = (float)i;
    lone_layer t;
    CHECK(make_layer(&t, pool_spec(CNN_MAXPOOL, 2, 2, 1), (cnn_shape){1, 7, 7}, 1, 1) == 0);
    CHECK(t.l.out.h == 4 && t.l.out.w == 4);
    float y[16];
    layer_forward(&t, x, y, 1, 0);
    CHECK_NEAR(y[3], 13, 0);  /* the right-edge column alone: x[6], x[13] */
    CHECK_NEAR(y[15], 48, 0); /* the corner pixel alone */
    free_layer(&t);
    CHECK(make_layer(&t, pool_spec(CNN_MAXPOOL, 2, 2, 0), (cnn_shape){1, 7, 7}, 1, 1) == 0);
    CHECK(t.l.out.h == 3);
    free_layer(&t);
}

TEST(avgpool_ceil_mode_divides_by_the_covered_pixels)
{
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    lone_layer t;
    CHECK(make_layer(&t, pool_spec(CNN_AVGPOOL, 2, 2, 1), (cnn_shape){1, 3, 3}, 1, 1) == 0);
    float y[4];
    layer_forward(&t, x, y, 1, 0);
    CHECK_NEAR(y[0], 3, 1e-6);
    CHECK_NEAR(y[1], 4.5, 1e-6); /* (3 + 6) / 2 */
    CHECK_NEAR(y[3], 9, 1e-6);
    free_layer(&t);
}

TEST(overlapping_pool_window_3_stride_2)
{
    lone_layer t;
    CHECK(make_layer(&t, pool_spec(CNN_MAXPOOL, 3, 2, 0), (cnn_shape){1, 7, 7}, 1, 1) == 0);
    CHECK(t.l.out.h == 3 && t.l.out.w == 3);
    free_layer(&t);
}

TEST(maxpool_routes_the_gradient_to_the_first_argmax)
{
    float x[4] = {5, 5, 1, 5}, dy[1] = {1}, dx[4], y[1];
    lone_layer t;
    CHECK(make_layer(&t, pool_spec(CNN_MAXPOOL, 2, 2, 0), (cnn_shape){1, 2, 2}, 1, 1) == 0);
    layer_forward(&t, x, y, 1, 0);
    layer_backward(&t, x, y, dy, dx, 1);
    CHECK(dx[0] == 1 && dx[1] == 0 && dx[2] == 0 && dx[3] == 0);
    free_layer(&t);
}

TEST(padded_maxpool_never_lets_the_padding_win)
{
    /* every value negative: a zero from the padding would win each window */
    float x[4] = {-1, -2, -3, -4}, dy[4] = {1, 2, 3, 4}, y[4], dx[4];
    lone_layer t;
    CHECK(make_layer(&t, padded_pool(CNN_MAXPOOL, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0),
                     (cnn_shape){1, 2, 2}, 1, 1) == 0);
    CHECK(t.l.out.h == 2 && t.l.out.w == 2); /* each window holds one pixel */
    CHECK(!whole_2x2_max(&t.l));             /* nor the kernel that knows no padding */
    layer_forward(&t, x, y, 1, 0);
    layer_backward(&t, x, y, dy, dx, 1);
    for (int i = 0; i < 4; i++)
        CHECK(y[i] == x[i] && dx[i] == dy[i]);
    free_layer(&t);
}

TEST(padded_avgpool_divides_by_its_pixels_or_with_countpad_by_the_window)
{
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[9], dy[9] = {1}, dx[9];
    float want[2][3] = {{3, 3.5f, 5}, {12.0f / 9, 21.0f / 9, 5}}; /* corner, edge, middle */
    for (int count_pad = 0; count_pad < 2; count_pad++) {
        lone_layer t;
        CHECK(make_layer(&t, padded_pool(CNN_AVGPOOL, 3, 3, 1, 1, 1, 1, 1, 1, 0, count_pad),
                         (cnn_shape){1, 3, 3}, 1, 1) == 0);
        layer_forward(&t, x, y, 1, 0);
        CHECK_NEAR(y[0], want[count_pad][0], 1e-6);
        CHECK_NEAR(y[1], want[count_pad][1], 1e-6);
        CHECK_NEAR(y[4], want[count_pad][2], 1e-6);
        layer_backward(&t, x, y, dy, dx, 1); /* the corner's 1 over its 4 pixels, or 9 */
        CHECK_NEAR(dx[0], count_pad ? 1.0 / 9 : 0.25, 1e-7);
        CHECK_NEAR(dx[4], count_pad ? 1.0 / 9 : 0.25, 1e-7);
        CHECK(dx[2] == 0);
        free_layer(&t);
    }
    /* ceil: the last window, [3, 6), reaches past the padded input [-1, 5):
     * PyTorch gives 1, 3, 2 counting the pad (the 2 over 2), 1.5, 3, 4 not */
    float row[4] = {1, 2, 3, 4}, out[3];
    float ceil_want[2][3] = {{1.5f, 3, 4}, {1, 3, 2}};
    for (int count_pad = 0; count_pad < 2; count_pad++) {
        lone_layer t;
        CHECK(make_layer(&t, padded_pool(CNN_AVGPOOL, 1, 3, 1, 2, 0, 1, 0, 1, 1, count_pad),
                         (cnn_shape){1, 1, 4}, 1, 1) == 0);
        CHECK(t.l.out.w == 3);
        layer_forward(&t, row, out, 1, 0);
        for (int i = 0; i < 3; i++)
            CHECK_NEAR(out[i], ceil_want[count_pad][i], 1e-6);
        free_layer(&t);
    }
}

TEST(padded_sumpool_adds_the_pixels_alone)
{
    float x[4] = {1, 2, 3, 4}, y[9], want[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4};
    lone_layer t;
    CHECK(make_layer(&t, padded_pool(CNN_SUMPOOL, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0),
                     (cnn_shape){1, 2, 2}, 1, 1) == 0);
    CHECK(t.l.out.h == 3 && t.l.out.w == 3);
    layer_forward(&t, x, y, 1, 0);
    for (int i = 0; i < 9; i++)
        CHECK(y[i] == want[i]);
    free_layer(&t);
}

TEST(asymmetric_pads_go_top_left_bottom_right)
{
    /* 1 2 3 / 4 5 6 / 7 8 9 in 2x2 windows moved by 2: padded at the bottom
     * and right the windows start at the top left pixel, padded at the top
     * and left they end there */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[4];
    float want[2][4] = {{5, 6, 8, 9}, {1, 3, 7, 9}};
    int pads[2][4] = {{0, 0, 1, 1}, {1, 1, 0, 0}};
    for (int k = 0; k < 2; k++) {
        const int *p = pads[k];
        lone_layer t;
        CHECK(make_layer(&t, padded_pool(CNN_MAXPOOL, 2, 2, 2, 2, p[0], p[1], p[2], p[3], 0, 0),
                         (cnn_shape){1, 3, 3}, 1, 1) == 0);
        CHECK(t.l.out.h == 2 && t.l.out.w == 2);
        layer_forward(&t, x, y, 1, 0);
        for (int i = 0; i < 4; i++)
            CHECK(y[i] == want[k][i]);
        free_layer(&t);
    }
}

TEST(a_pool_refuses_a_pad_as_wide_as_its_window)
{
    lone_layer t;
    cnn_error err;
    cnn_layer_spec wide = padded_pool(CNN_MAXPOOL, 3, 2, 1, 1, 0, 1, 3, 0, 0, 0);
    CHECK(layer_new(&t, wide, (cnn_shape){1, 6, 6}, 1, 1, &err) != 0);
    CHECK(strstr(err.msg, "pad 0,1,3,0 must be smaller than the 3x2 window"));
    cnn_layer_spec negative = pool_spec(CNN_AVGPOOL, 2, 2, 0);
    negative.ph = -1;
    CHECK(layer_new(&t, negative, (cnn_shape){1, 6, 6}, 1, 1, &err) != 0);
    CHECK(strstr(err.msg, ">= 0"));
    cnn_layer_spec count_max = pool_spec(CNN_MAXPOOL, 2, 2, 0);
    count_max.count_pad = 1;
    CHECK(layer_new(&t, count_max, (cnn_shape){1, 6, 6}, 1, 1, &err) != 0);
    CHECK(strstr(err.msg, "countpad is for avgpool"));
}

TEST(relu_zeroes_the_negatives)
{
    float x[4] = {-2, 0, 3, -0.5f}, y[4];
    lone_layer t;
    CHECK(make_layer(&t, (cnn_layer_spec){.kind = CNN_RELU}, (cnn_shape){1, 2, 2}, 1, 1) == 0);
    layer_forward(&t, x, y, 1, 0);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 3 && y[3] == 0);
    free_layer(&t);
}

TEST(softmax_of_a_known_vector)
{
    /* softmax(1, 2, 3) = e^i / (e + e^2 + e^3) */
    float z[3] = {1, 2, 3}, p[3];
    lone_layer t;
    CHECK(make_layer(&t, (cnn_layer_spec){.kind = CNN_SOFTMAX}, (cnn_shape){3, 1, 1}, 1, 1) == 0);
    layer_forward(&t, z, p, 1, 0);
    CHECK_NEAR(p[0], 0.09003057, 1e-7);
    CHECK_NEAR(p[1], 0.24472847, 1e-7);
    CHECK_NEAR(p[2], 0.66524096, 1e-7);
    /* cross-entropy with label 2 = -log p[2] */
    cnn_label label = 2;
    CHECK_NEAR(softmax_cross_entropy_sum(z, &label, 0, 1, 3, p, NULL), 0.40760596, 1e-7);
    free_layer(&t);
}

TEST(softmax_cross_entropy_is_stable_for_huge_scores)
{
    float z[2] = {10000, 0}, p[2];
    lone_layer t;
    CHECK(make_layer(&t, (cnn_layer_spec){.kind = CNN_SOFTMAX}, (cnn_shape){2, 1, 1}, 1, 1) == 0);
    layer_forward(&t, z, p, 1, 0);
    CHECK(p[0] == 1.0f && p[1] == 0.0f);
    cnn_label label = 1;
    CHECK_NEAR(softmax_cross_entropy_sum(z, &label, 0, 1, 2, p, NULL), 10000, 1e-3);
    free_layer(&t);
}

TEST(dropout_keeps_about_1_minus_p_and_scales)
{
    enum { N = 10000 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = 1;
    lone_layer t;
    CHECK(make_layer(&t, (cnn_layer_spec){.kind = CNN_DROPOUT, .alpha = 0.25f},
                     (cnn_shape){N, 1, 1}, 1, 2) == 0);
    layer_forward(&t, x, y, 1, 1);
    int kept = 0;
    for (int i = 0; i < N; i++) {
        CHECK(y[i] == 0 || fabsf(y[i] - 4.0f / 3.0f) < 1e-6f);
        kept += y[i] != 0;
    }
    CHECK(kept > 7300 && kept < 7700);
    layer_forward(&t, x, y, 1, 0); /* inference: the identity */
    for (int i = 0; i < N; i++)
        CHECK(y[i] == 1);
    free_layer(&t);
}

/* ---- gradients against finite differences ------------------------------ */

static double frand(cnn_rng *r) { return 2.0 * cnn_rng_uniform(r) - 1.0; }

/* L = sum(r * y) in double, so dL/dy = r. */
static double probe_loss(lone_layer *t, const float *x, float *y, const float *r, int n)
{
    layer_forward(t, x, y, n, 1);
    double sum = 0;
    size_t m = (size_t)n * cnn_shape_size(t->l.out);
    for (size_t i = 0; i < m; i++)
        sum += (double)r[i] * y[i];
    return sum;
}

static double rel_error(double a, double b)
{
    double d = fabs(a - b), s = fabs(a) + fabs(b);
    return s < 1e-3 ? d : d / s;
}

/* Checks dx, dw and db of one layer against central differences.  Returns the
 * worst relative error.  Layers linear in x and w (conv, dense, average and
 * sum pooling) take a large eps: the difference is exact for them, and the
 * float rounding of the loss shrinks with 1/eps. */
static double grad_check(cnn_layer_spec spec, cnn_shape in, int n, uint64_t seed, int spaced,
                         float eps)
{
    lone_layer t;
    if (make_layer(&t, spec, in, n, 2))
        return -1;
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    size_t nx = (size_t)n * cnn_shape_size(in), ny = (size_t)n * cnn_shape_size(t.l.out);
    float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * ny);
    float *r = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    if (spaced) { /* distinct values far apart: no ties and no kinks within eps */
        int *perm = malloc(sizeof(int) * nx);
        for (size_t i = 0; i < nx; i++)
            perm[i] = (int)i;
        cnn_rng_shuffle(&rng, perm, (int)nx);
        for (size_t i = 0; i < nx; i++)
            x[i] = (float)(perm[i] - (int)nx / 2) * 0.05f + 0.025f;
        free(perm);
    } else {
        for (size_t i = 0; i < nx; i++)
            x[i] = (float)frand(&rng);
    }
    for (size_t i = 0; i < ny; i++)
        r[i] = (float)frand(&rng);
    size_t np = t.l.nweights + t.l.nbias;
    for (size_t i = 0; i < np; i++)
        t.params[i] = (float)(frand(&rng) * 0.5);
    probe_loss(&t, x, y, r, n);
    layer_backward(&t, x, y, r, dx, n);
    float *analytic = malloc(sizeof(float) * (np + 1));
    memcpy(analytic, t.grads, sizeof(float) * np);
    double worst = 0;
    for (size_t i = 0; i < nx; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        double up = probe_loss(&t, x, y, r, n);
        x[i] = keep - eps;
        double down = probe_loss(&t, x, y, r, n);
        x[i] = keep;
        double e = rel_error((up - down) / (2 * eps), dx[i]);
        worst = e > worst ? e : worst;
    }
    for (size_t i = 0; i < np; i++) {
        float keep = t.params[i];
        t.params[i] = keep + eps;
        double up = probe_loss(&t, x, y, r, n);
        t.params[i] = keep - eps;
        double down = probe_loss(&t, x, y, r, n);
        t.params[i] = keep;
        double e = rel_error((up - down) / (2 * eps), analytic[i]);
        worst = e > worst ? e : worst;
    }
    free(x), free(y), free(r), free(dx), free(analytic);
    free_layer(&t);
    return worst;
}

#define GRAD_TOL 2e-3

TEST(pool_gradients_match_finite_differences_for_every_kind_window_and_stride)
{
    cnn_layer_kind kinds[3] = {CNN_MAXPOOL, CNN_AVGPOOL, CNN_SUMPOOL};
    int trial = 0;
    for (int kind = 0; kind < 3; kind++)
        for (int k = 1; k <= 3; k++)
            for (int s = 1; s <= 3; s++)
                for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++) {
                    cnn_shape in = {2, 5 + trial % 3, 4 + trial % 4};
                    double e = grad_check(pool_spec(kinds[kind], k, s, ceil_mode), in, 2,
                                          200 + trial++, 1, kind ? 0.5f : 1e-2f);
                    if (!(e >= 0 && e <= GRAD_TOL))
                        printf("  %s %d stride %d ceil %d: error %g\n", cnn_layer_name(kinds[kind]),
                               k, s, ceil_mode, e);
                    CHECK(e >= 0 && e <= GRAD_TOL);
                }
}

/* Every kind padded alike and not, with windows over the padding on every
 * side, strides below, at and above the window, pads above half the window
 * (ONNX allows them, PyTorch does not), with and without ceil. */
TEST(padded_pool_gradients_match_finite_differences)
{
    static const int pads[][8] = {
        /* kh kw sh sw  t  l  b  r */
        {2, 2, 2, 2, 1, 1, 1, 1},
        {3, 3, 2, 2, 1, 1, 1, 1},
        {3, 3, 1, 1, 2, 2, 2, 2},
        {2, 2, 2, 2, 0, 0, 1, 1},
        {2, 2, 2, 2, 1, 1, 0, 0},
        {3, 2, 2, 3, 2, 0, 1, 1},
        {3, 3, 3, 2, 0, 2, 2, 1},
        {2, 3, 1, 2, 1, 2, 0, 1},
    };
    cnn_layer_kind kinds[4] = {CNN_MAXPOOL, CNN_AVGPOOL, CNN_AVGPOOL, CNN_SUMPOOL};
    int trial = 0;
    for (int kind = 0; kind < 4; kind++)
        for (size_t r = 0; r < sizeof pads / sizeof pads[0]; r++)
            for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++) {
                const int *p = pads[r];
                cnn_layer_spec spec = padded_pool(kinds[kind], p[0], p[1], p[2], p[3], p[4],
                                                  p[5], p[6], p[7], ceil_mode, kind == 2);
                cnn_shape in = {2, 5 + trial % 3, 4 + trial % 4};
                double e = grad_check(spec, in, 2, 700 + trial++, 1, kind ? 0.5f : 1e-2f);
                if (!(e >= 0 && e <= GRAD_TOL))
                    printf("  %s row %zu ceil %d countpad %d: error %g\n",
                           cnn_layer_name(kinds[kind]), r, ceil_mode, kind == 2, e);
                CHECK(e >= 0 && e <= GRAD_TOL);
            }
}

TEST(dense_gradients_match_finite_differences)
{
    for (int trial = 0; trial < 6; trial++) {
        cnn_layer_spec spec = {.kind = CNN_DENSE, .filters = 1 + trial * 3, .no_bias = trial == 2};
        double e = grad_check(spec, (cnn_shape){1 + trial % 3, 2, 3}, 1 + trial, 300 + trial, 0, 0.5f);
        CHECK(e >= 0 && e <= GRAD_TOL);
    }
}

TEST(activation_gradients_match_finite_differences)
{
    cnn_layer_kind kinds[4] = {CNN_RELU, CNN_LEAKY_RELU, CNN_SIGMOID, CNN_TANH};
    for (int k = 0; k < 4; k++) {
        cnn_layer_spec spec = {.kind = kinds[k], .alpha = 0.1f};
        double e = grad_check(spec, (cnn_shape){3, 4, 5}, 3, 400 + k, 1, 1e-2f);
        CHECK(e >= 0 && e <= GRAD_TOL);
    }
}

TEST(dropout_flatten_softmax_gradients_match_finite_differences)
{
    cnn_layer_spec specs[3] = {{.kind = CNN_DROPOUT, .alpha = 0.3f},
                               {.kind = CNN_FLATTEN},
                               {.kind = CNN_SOFTMAX}};
    for (int k = 0; k < 3; k++) {
        double e = grad_check(specs[k], (cnn_shape){2, 3, 3}, 3, 500 + k, 0, 1e-2f);
        CHECK(e >= 0 && e <= GRAD_TOL);
    }
}

TEST(gradient_check_catches_a_wrong_gradient)
{
    /* The checker itself must fail on a broken backward: swap two filters'
     * gradients and expect a large error. */
    lone_layer t;
    CHECK(make_layer(&t, conv_spec(2, 3, 1, 1), (cnn_shape){1, 5, 5}, 1, 1) == 0);
    float x[25], y[50], r[50], dx[25];
    cnn_rng rng;
    cnn_rng_seed(&rng, 3);
    for (int i = 0; i < 25; i++)
        x[i] = (float)frand(&rng);
    for (int i = 0; i < 50; i++)
        r[i] = (float)frand(&rng);
    for (size_t i = 0; i < t.l.nweights + t.l.nbias; i++)
        t.params[i] = (float)frand(&rng);
    probe_loss(&t, x, y, r, 1);
    layer_backward(&t, x, y, r, dx, 1);
    float wrong = t.grads[0];
    t.params[9] += 1e-2f; /* weight 9 belongs to filter 2: its FD is grads[9] */
    double up = probe_loss(&t, x, y, r, 1);
    t.params[9] -= 2e-2f;
    double down = probe_loss(&t, x, y, r, 1);
    CHECK(rel_error((up - down) / 2e-2, t.grads[9]) < GRAD_TOL);
    CHECK(rel_error((up - down) / 2e-2, wrong) > 0.05);
    free_layer(&t);
}

/* ---- every conv method against the definition --------------------------- */

/* One row of the table: a convolution, a batch and a thread count. */
typedef struct {
    int filters, c, h, w, kh, kw, sh, sw, ph, pw, n, threads;
    int finite_differences; /* small enough to check by them too */
    int asym, pb, pr;       /* padded pb at the bottom and pr at the right */
} conv_case;

static cnn_layer_spec case_spec(const conv_case *k)
{
    cnn_layer_spec s = {.kind = CNN_CONV, .filters = k->filters, .kh = k->kh, .kw = k->kw,
                        .sh = k->sh, .sw = k->sw, .ph = k->ph, .pw = k->pw, .ph_end = k->pb,
                        .pw_end = k->pr, .pad_asym = k->asym};
    return s;
}

/* Within float rounding of a sum of `terms` products of values in [-1, 1]:
 * Winograd's transforms round a little more than the direct sum. */
static int near_all(const float *got, const float *want, size_t count, int terms)
{
    for (size_t i = 0; i < count; i++)
        if (!(fabsf(got[i] - want[i]) <= 2e-6f * (float)(terms + 1))) {
            printf("  at %zu: %.9g, the definition %.9g\n", i, got[i], want[i]);
            return 0;
        }
    return 1;
}

/* Forward, input gradient and weight and bias gradients of one row, by
 * the layer as the network runs it and by conv_ref.  Returns the method
 * it took ("" if a check failed). */
static const char *conv_matches_reference(const conv_case *k, uint64_t seed)
{
    cnn_shape in = {k->c, k->h, k->w};
    lone_layer t;
    if (make_layer(&t, case_spec(k), in, k->n, k->threads))
        return "";
    conv_dims d = {k->c, k->h, k->w, k->filters, k->kh, k->kw, k->sh, k->sw, k->ph, k->pw,
                   t.l.out.h, t.l.out.w};
    size_t nx = (size_t)k->n * cnn_shape_size(in), ny = (size_t)k->n * cnn_shape_size(t.l.out);
    size_t np = t.l.nweights + t.l.nbias;
    float *x = malloc(sizeof(float) * nx), *dy = malloc(sizeof(float) * ny);
    float *y = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    float *ref_y = malloc(sizeof(float) * ny), *ref_dx = malloc(sizeof(float) * nx);
    float *ref_g = malloc(sizeof(float) * np);
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)frand(&rng);
    for (size_t i = 0; i < ny; i++)
        dy[i] = (float)frand(&rng);
    for (size_t i = 0; i < np; i++)
        t.params[i] = (float)frand(&rng);
    layer_forward(&t, x, y, k->n, 1);
    layer_backward(&t, x, y, dy, dx, k->n);
    conv_ref_forward(&d, k->n, x, t.l.w, t.l.b, ref_y);
    conv_ref_input_grad(&d, k->n, t.l.w, dy, ref_dx);
    conv_ref_weight_grad(&d, k->n, x, dy, ref_g, ref_g + t.l.nweights);
    int window = k->c * k->kh * k->kw;
    int ok = near_all(y, ref_y, ny, window) &&
             near_all(dx, ref_dx, nx, k->filters * k->kh * k->kw) &&
             near_all(t.grads, ref_g, np, k->n * d.oh * d.ow);
    const char *method = ok ? conv_method(&t.l) : "";
    free(x), free(dy), free(y), free(dx), free(ref_y), free(ref_dx), free(ref_g);
    free_layer(&t);
    return method;
}

/* A conv followed by relu and a 2x2 max-pool runs as one fused step in a
 * network: its output against the definition, then relu, then the pool. */
static int fused_epilogue_matches_reference(const conv_case *k, uint64_t seed)
{
    char text[256], pad[48];
    cnn_layer_spec spec = case_spec(k);
    settle_pads(&spec);
    pad_text(&spec, pad, sizeof pad);
    snprintf(text, sizeof text, "input %dx%dx%d; conv %d %dx%d stride %dx%d pad %s; relu; "
             "maxpool 2", k->h, k->w, k->c, k->filters, k->kh, k->kw, k->sh, k->sw, pad);
    cnn_error err;
    cnn_net *net = cnn_net_parse(text, NULL, &err);
    if (!net || cnn_net_init(net, k->n, 1, &err))
        return 0;
    cnn_net_set_threads(net, k->threads);
    cnn_shape conv = cnn_net_layer_shape(net, 0), out = cnn_net_layer_shape(net, 2);
    conv_dims d = {k->c, k->h, k->w, k->filters, k->kh, k->kw, k->sh, k->sw, k->ph, k->pw,
                   conv.h, conv.w};
    size_t nx = (size_t)k->n * k->c * k->h * k->w, nc = (size_t)k->n * cnn_shape_size(conv);
    float *x = malloc(sizeof(float) * nx), *full = malloc(sizeof(float) * nc);
    float *want = malloc(sizeof(float) * (size_t)k->n * cnn_shape_size(out));
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)frand(&rng);
    float *w = cnn_net_params(net);
    for (size_t i = 0; i < cnn_net_param_count(net); i++)
        w[i] = (float)frand(&rng);
    conv_ref_forward(&d, k->n, x, w, cnn_net_layer_bias(net, 0), full);
    for (int p = 0; p < k->n * out.c; p++) /* relu, then the max of each 2x2 */
        for (int oy = 0; oy < out.h; oy++)
            for (int ox = 0; ox < out.w; ox++) {
                const float *plane = full + (size_t)p * conv.h * conv.w;
                float m = 0.0f;
                for (int q = 0; q < 4; q++) {
                    float v = plane[(2 * oy + q / 2) * conv.w + 2 * ox + q % 2];
                    m = v > m ? v : m;
                }
                want[((size_t)p * out.h + oy) * out.w + ox] = m;
            }
    int ok = cnn_forward(net, x, k->n, 0, &err) == CNN_OK &&
             cnn_net_activation(net, 0) == NULL && /* fused: the full map never stored */
             near_all(cnn_net_output(net), want, (size_t)k->n * cnn_shape_size(out),
                      k->c * k->kh * k->kw);
    free(x), free(full), free(want);
    cnn_net_free(net);
    return ok;
}

/* The table: every method conv.c has (im2col for a stride above 1, shifted
 * rows for stride 1, Winograd for 3x3 stride 1 with 16 or more channels in
 * and out), square and not, padded and not, batches of one image (whose
 * products share the threads) and of more than the 8 gradient groups. */
TEST(every_conv_method_matches_the_definition_and_finite_differences)
{
    static const conv_case table[] = {
        /* filters c  h   w  kh kw sh sw ph pw  n thr fd; apart: the bottom pb, right pr */
        { 3,  1,  7,  7, 3, 3, 2, 2, 0, 0,  2, 1, 1, 0, 0, 0}, /* im2col */
        { 2,  3,  9,  8, 3, 2, 2, 3, 1, 2, 10, 2, 1, 0, 0, 0}, /* im2col, uneven everything */
        { 4,  2,  6,  5, 1, 1, 3, 2, 0, 0,  3, 2, 1, 0, 0, 0}, /* im2col, 1x1 */
        { 5,  2, 12, 12, 5, 5, 2, 2, 2, 2,  1, 2, 0, 0, 0, 0}, /* im2col, one image, two threads */
        { 3,  2,  8,  8, 3, 3, 1, 1, 1, 1,  9, 2, 1, 0, 0, 0}, /* shifted */
        { 2,  3,  7,  6, 4, 2, 1, 1, 0, 1,  2, 1, 1, 0, 0, 0}, /* shifted, even window */
        { 6,  1, 28, 28, 5, 5, 1, 1, 2, 2,  1, 2, 0, 0, 0, 0}, /* shifted: LeNet's first */
        { 3,  2,  6,  6, 1, 1, 1, 1, 0, 0,  4, 1, 1, 0, 0, 0}, /* shifted, 1x1 */
        {16, 16,  6,  6, 3, 3, 1, 1, 0, 0,  2, 2, 1, 0, 0, 0}, /* winograd */
        {16, 16,  5,  6, 3, 3, 1, 1, 1, 1,  1, 1, 1, 0, 0, 0}, /* winograd, half a tile over */
        {17, 16,  4,  7, 3, 3, 1, 1, 2, 2,  3, 2, 1, 0, 0, 0}, /* winograd, pad 2 */
        {16, 16, 19, 41, 3, 3, 1, 1, 1, 1,  2, 2, 0, 0, 0, 0}, /* winograd, several blocks */
        {20, 16, 17,  9, 3, 3, 1, 1, 2, 2, 10, 2, 0, 0, 0, 0}, /* winograd, 10 images */
        { 2,  3,  9,  8, 3, 2, 2, 3, 1, 0,  3, 2, 1, 1, 2, 1}, /* im2col, padded apart */
        { 2,  1,  5,  5, 3, 3, 2, 2, 0, 0,  2, 1, 1, 1, 1, 1}, /* im2col, the end alone padded */
        { 3,  2,  8,  7, 3, 3, 1, 1, 0, 1,  2, 1, 1, 1, 2, 0}, /* shifted, padded apart */
        { 2,  2,  6,  5, 2, 4, 1, 1, 1, 3,  9, 2, 1, 1, 0, 2}, /* shifted, even window, apart */
        {16, 16,  5,  4, 3, 3, 1, 1, 1, 0,  1, 1, 1, 1, 2, 1}, /* apart, so not winograd: shifted */
        {16, 16,  9, 12, 3, 3, 1, 1, 2, 0, 10, 2, 0, 1, 1, 2}, /* the same, 10 images */
    };
    int seen[3] = {0};
    for (size_t r = 0; r < sizeof table / sizeof *table; r++) {
        const conv_case *k = &table[r];
        const char *method = conv_matches_reference(k, 40 + r);
        if (!*method)
            printf("  row %zu differs from the definition\n", r);
        CHECK(*method);
        seen[0] |= !strcmp(method, "im2col");
        seen[1] |= !strcmp(method, "shifted");
        seen[2] |= !strcmp(method, "winograd");
        CHECK(!k->asym || strcmp(method, "winograd") != 0);
        if (k->finite_differences) {
            cnn_layer_spec spec = case_spec(k);
            spec.no_bias = r % 4 == 3;
            /* linear in x and w: a large eps is exact and keeps the loss's
             * rounding well below the tolerance */
            double e = grad_check(spec, (cnn_shape){k->c, k->h, k->w}, k->n, 60 + r, 0, 2.0f);
            if (!(e >= 0 && e <= GRAD_TOL))
                printf("  row %zu: gradient error %g\n", r, e);
            CHECK(e >= 0 && e <= GRAD_TOL);
        }
        int pb = k->asym ? k->pb : k->ph, pr = k->asym ? k->pr : k->pw;
        int h = (k->h + k->ph + pb - k->kh) / k->sh + 1, w = (k->w + k->pw + pr - k->kw) / k->sw + 1;
        if (h >= 2 && w >= 2) {
            if (!fused_epilogue_matches_reference(k, 80 + r))
                printf("  row %zu: the fused conv + relu + max-pool differs\n", r);
            CHECK(fused_epilogue_matches_reference(k, 80 + r));
        }
    }
    CHECK(seen[0] && seen[1] && seen[2]);
}

/* One image large enough for its element-wise layers to split it between
 * threads: the same bits, forward and backward, as on one thread. */
TEST(one_large_image_split_between_threads_changes_no_bit)
{
    const cnn_layer_spec specs[] = {
        {.kind = CNN_TANH},
        {.kind = CNN_LEAKY_RELU, .alpha = 0.1f},
        {.kind = CNN_MAXPOOL, .kh = 2, .kw = 2},
        {.kind = CNN_MAXPOOL, .kh = 3, .kw = 3, .sh = 2, .sw = 2},
        {.kind = CNN_AVGPOOL, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ceil_mode = 1},
        {.kind = CNN_DROPOUT, .alpha = 0.3f},
        padded_pool(CNN_MAXPOOL, 3, 3, 2, 2, 1, 0, 2, 1, 1, 0),
        padded_pool(CNN_AVGPOOL, 3, 2, 2, 1, 2, 1, 1, 0, 1, 1),
    };
    cnn_shape in = {2, 201, 200}; /* 80,400 values, more than PARALLEL_MIN */
    size_t nx = cnn_shape_size(in);
    float *x = malloc(sizeof(float) * nx), *dy = malloc(sizeof(float) * nx);
    float *y[2], *dx[2];
    cnn_rng rng;
    cnn_rng_seed(&rng, 5);
    for (size_t i = 0; i < nx; i++) {
        x[i] = (float)frand(&rng);
        dy[i] = (float)frand(&rng);
    }
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        size_t ny = 0;
        for (int t = 0; t < 2; t++) {
            lone_layer b;
            CHECK(make_layer(&b, specs[k], in, 1, t + 1) == 0);
            ny = cnn_shape_size(b.l.out);
            y[t] = malloc(sizeof(float) * ny);
            dx[t] = malloc(sizeof(float) * nx);
            layer_forward(&b, x, y[t], 1, 1);
            layer_backward(&b, x, y[t], dy, dx[t], 1);
            free_layer(&b);
        }
        CHECK(memcmp(y[0], y[1], sizeof(float) * ny) == 0);
        CHECK(memcmp(dx[0], dx[1], sizeof(float) * nx) == 0);
        for (int t = 0; t < 2; t++)
            free(y[t]), free(dx[t]);
    }
    free(x), free(dy);
}

/* ---- against PyTorch ----------------------------------------------------- */

enum { MAX_FIXTURE = 64 };

/* The numbers of a fixture's line that starts with `key` (at most
 * MAX_FIXTURE), or -1 when the next line is not that. */
static int read_values(FILE *f, const char *key, float *v)
{
    char line[2048], *p = line, *end;
    size_t k = strlen(key);
    if (!fgets(line, sizeof line, f) || strncmp(line, key, k) != 0 || line[k] != ' ')
        return -1;
    int n = 0;
    for (p += k; n < MAX_FIXTURE; p = end) {
        float x = strtof(p, &end);
        if (end == p)
            break;
        v[n++] = x;
    }
    return n;
}

/* One layer of the fixture (its line as cnn writes it): parsed, written back
 * the same, and through forward and backward on x with its dy, against
 * PyTorch's y and dx. */
static int matches_pytorch(const char *text, cnn_shape in, const float *x, FILE *f)
{
    float dy[MAX_FIXTURE], want_y[MAX_FIXTURE], want_dx[MAX_FIXTURE];
    float y[MAX_FIXTURE], dx[MAX_FIXTURE];
    int ndy = read_values(f, "dy", dy), ny = read_values(f, "y", want_y);
    int nx = read_values(f, "dx", want_dx);
    char net_text[320], back[256];
    snprintf(net_text, sizeof net_text, "input %dx%dx%d\n%s\n", in.h, in.w, in.c, text);
    cnn_error err;
    cnn_net *net = cnn_net_parse(net_text, NULL, &err);
    if (!net) {
        printf("  %s: %s\n", text, err.msg);
        return 0;
    }
    cnn_layer_spec spec = cnn_net_layer(net, 0);
    cnn_net_free(net);
    cnn_layer_text(&spec, 0, back, sizeof back);
    lone_layer t;
    if (strcmp(back, text) != 0 || make_layer(&t, spec, in, 1, 1))
        return 0;
    int ok = ndy == ny && ny == (int)cnn_shape_size(t.l.out) && nx == (int)cnn_shape_size(in);
    if (ok) {
        layer_forward(&t, x, y, 1, 0);
        layer_backward(&t, x, y, dy, dx, 1);
    }
    for (int i = 0; ok && i < ny + nx; i++) {
        float got = i < ny ? y[i] : dx[i - ny], want = i < ny ? want_y[i] : want_dx[i - ny];
        if (!(fabsf(got - want) <= 1e-6f)) {
            printf("  %s: %s[%d] = %.9g, PyTorch %.9g\n", text, i < ny ? "y" : "dx",
                   i < ny ? i : i - ny, got, want);
            ok = 0;
        }
    }
    free_layer(&t);
    return ok;
}

/* tests/data/pool_pad/pytorch.txt, written by make.py beside it: max,
 * average (countpad and not) and sum pooling, padded alike and apart, with
 * and without ceil, forward and backward as PyTorch computes them. */
TEST(pools_with_padding_match_pytorch)
{
    FILE *f = fopen("tests/data/pool_pad/pytorch.txt", "r");
    CHECK(f != NULL);
    char line[256];
    cnn_shape in = {0, 0, 0};
    float x[MAX_FIXTURE];
    int nx = 0, layers = 0, ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "input %dx%dx%d", &in.h, &in.w, &in.c) == 3) {
            nx = read_values(f, "x", x);
            ok = nx == (int)cnn_shape_size(in);
        } else if (strncmp(line, "layer ", 6) == 0) {
            ok = nx > 0 && matches_pytorch(line + 6, in, x, f);
            layers++;
        }
    }
    fclose(f);
    CHECK(ok);
    CHECK(layers == 14);
}

TEST(window_out_follows_pytorch_rules)
{
    CHECK(window_out(28, 3, 1, 0, 0, 0) == 26);
    CHECK(window_out(28, 5, 1, 2, 2, 0) == 28);
    CHECK(window_out(26, 2, 2, 0, 0, 0) == 13);
    CHECK(window_out(7, 2, 2, 0, 0, 1) == 4);
    CHECK(window_out(7, 2, 2, 0, 0, 0) == 3);
    CHECK(window_out(6, 2, 2, 0, 0, 1) == 3); /* no empty extra window */
    CHECK(window_out(2, 3, 1, 0, 0, 0) == 0);
    CHECK(window_out(5, 2, 2, 1, 1, 1) == 3); /* the 4th would start in the padding */
    CHECK(window_out(5, 2, 2, 1, 1, 0) == 3);
    /* the last window may start in the begin padding's shift, not the end's */
    CHECK(window_out(4, 2, 2, 1, 0, 1) == 3);
    CHECK(window_out(4, 2, 2, 0, 1, 1) == 2);
    CHECK(window_out(5, 3, 2, 0, 2, 0) == 3);
}
