/* The kernels: every gemm path against gemm_ref, im2col by hand, col2im as
 * im2col's adjoint. */
#include "kernels/kernels.h"
#include "test.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A small deterministic generator, local to each test. */
static uint32_t next_u32(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}
static float uniform(uint64_t *s) { return (float)next_u32(s) / 2147483648.0f - 1.0f; }
static int between(uint64_t *s, int lo, int hi) { return lo + (int)(next_u32(s) % (uint32_t)(hi - lo + 1)); }

/* The paths this CPU can run, gemm_ref first. */
typedef struct {
    const char *name;
    gemm_fn *fn;
} gemm_path_t;

static int gemm_paths(gemm_path_t *paths)
{
    int n = 0;
    paths[n++] = (gemm_path_t){"ref", gemm_ref};
    paths[n++] = (gemm_path_t){"gemm", gemm};
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        paths[n++] = (gemm_path_t){"avx2", gemm_avx2};
    if (__builtin_cpu_supports("avx512f"))
        paths[n++] = (gemm_path_t){"avx512", gemm_avx512};
#endif
    return n;
}

/* One problem: op(A) m x k, op(B) k x n, C m x n, each stored with a
 * leading dimension padded by up to `pad`; every padding float is NaN, so a
 * path that reads it (or C when beta == 0) produces NaN. */
typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float beta;
    float *a, *b, *c0;
    size_t asz, bsz, csz;
} problem;

static void problem_make(problem *p, uint64_t *s, int ta, int tb, int m, int n, int k, int pad,
                         float beta)
{
    *p = (problem){.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .beta = beta};
    int arows = ta ? k : m, acols = ta ? m : k;
    int brows = tb ? n : k, bcols = tb ? k : n;
    p->lda = acols + between(s, 0, pad);
    p->ldb = bcols + between(s, 0, pad);
    p->ldc = n + between(s, 0, pad);
    p->asz = (size_t)arows * p->lda;
    p->bsz = (size_t)brows * p->ldb;
    p->csz = (size_t)m * p->ldc;
    p->a = malloc(sizeof(float) * (p->asz + 1));
    p->b = malloc(sizeof(float) * (p->bsz + 1));
    p->c0 = malloc(sizeof(float) * (p->csz + 1));
    for (size_t i = 0; i < p->asz; i++)
        p->a[i] = (int)(i % p->lda) < acols ? uniform(s) : NAN;
    for (size_t i = 0; i < p->bsz; i++)
        p->b[i] = (int)(i % p->ldb) < bcols ? uniform(s) : NAN;
    for (size_t i = 0; i < p->csz; i++)
        p->c0[i] = (int)(i % p->ldc) < n && beta != 0.0f ? uniform(s) : NAN;
}

static void problem_free(problem *p)
{
    free(p->a);
    free(p->b);
    free(p->c0);
}

static float *problem_run(const problem *p, gemm_fn *fn)
{
    float *c = malloc(sizeof(float) * (p->csz + 1));
    memcpy(c, p->c0, sizeof(float) * p->csz);
    fn(p->ta, p->tb, p->m, p->n, p->k, p->a, p->lda, p->b, p->ldb, p->beta, c, p->ldc);
    return c;
}

static double at(const problem *p, int i, int q)
{
    return p->ta ? p->a[(size_t)q * p->lda + i] : p->a[(size_t)i * p->lda + q];
}
static double bt(const problem *p, int q, int j)
{
    return p->tb ? p->b[(size_t)j * p->ldb + q] : p->b[(size_t)q * p->ldb + j];
}

/* Whether c agrees with gemm_ref's answer `ref` within the float rounding
 * error bound of a k-term sum, (k + 2) eps (sum |a||b| + |c0|), counted for
 * both; and whether the padding of C is untouched.  Prints the first miss. */
static int agrees(const problem *p, const float *c, const float *ref, const char *name)
{
    for (int i = 0; i < p->m; i++)
        for (int j = 0; j < p->ldc; j++) {
            size_t at_ij = (size_t)i * p->ldc + j;
            if (j >= p->n) {
                if (!isnan(c[at_ij])) {
                    printf("  %s wrote C padding at (%d, %d)\n", name, i, j);
                    return 0;
                }
                continue;
            }
            double mag = p->beta != 0.0f ? fabs(p->c0[at_ij]) : 0.0;
            for (int q = 0; q < p->k; q++)
                mag += fabs(at(p, i, q) * bt(p, q, j));
            double tol = (p->k + 2) * (double)FLT_EPSILON * mag;
            if (!(fabs((double)c[at_ij] - ref[at_ij]) <= tol)) {
                printf("  %s ta=%d tb=%d m=%d n=%d k=%d beta=%g: C(%d,%d) = %.9g, ref %.9g\n",
                       name, p->ta, p->tb, p->m, p->n, p->k, p->beta, i, j, c[at_ij],
                       ref[at_ij]);
                return 0;
            }
        }
    return 1;
}

/* Every path on one problem against gemm_ref. */
static int all_paths_agree(uint64_t *s, int ta, int tb, int m, int n, int k, int pad, float beta)
{
    gemm_path_t paths[4];
    int npaths = gemm_paths(paths);
    problem p;
    problem_make(&p, s, ta, tb, m, n, k, pad, beta);
    float *ref = problem_run(&p, gemm_ref);
    int ok = 1;
    for (int i = 0; i < npaths && ok; i++) {
        float *c = problem_run(&p, paths[i].fn);
        ok = agrees(&p, c, ref, paths[i].name);
        free(c);
    }
    free(ref);
    problem_free(&p);
    return ok;
}

TEST(gemm_ref_by_hand)
{
    /* [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50], then the transposes. */
    float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8}, c[4];
    gemm_ref(0, 0, 2, 2, 2, a, 2, b, 2, 0.0f, c, 2);
    CHECK(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50);
    gemm_ref(1, 0, 2, 2, 2, a, 2, b, 2, 0.0f, c, 2); /* [1 3; 2 4] B */
    CHECK(c[0] == 26 && c[1] == 30 && c[2] == 38 && c[3] == 44);
    gemm_ref(0, 1, 2, 2, 2, a, 2, b, 2, 0.0f, c, 2); /* A [5 7; 6 8] */
    CHECK(c[0] == 17 && c[1] == 23 && c[2] == 39 && c[3] == 53);
    gemm_ref(0, 0, 2, 2, 2, a, 2, b, 2, 1.0f, c, 2); /* beta = 1 adds */
    CHECK(c[0] == 36 && c[1] == 45 && c[2] == 82 && c[3] == 103);
}

TEST(gemm_paths_match_ref_on_small_shapes)
{
    uint64_t s = 1;
    int sizes[] = {1, 2, 3, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 49};
    int ns = (int)(sizeof sizes / sizeof *sizes);
    for (int t = 0; t < 300; t++) {
        int m = sizes[between(&s, 0, ns - 1)], n = sizes[between(&s, 0, ns - 1)];
        int k = sizes[between(&s, 0, ns - 1)];
        CHECK(all_paths_agree(&s, t & 1, (t >> 1) & 1, m, n, k, 5, (t >> 2) & 1 ? 1.0f : 0.0f));
    }
}

TEST(gemm_paths_match_ref_on_random_shapes)
{
    uint64_t s = 2;
    for (int t = 0; t < 48; t++)
        CHECK(all_paths_agree(&s, t & 1, (t >> 1) & 1, between(&s, 1, 300), between(&s, 1, 300),
                              between(&s, 1, 300), 40, (t >> 2) & 1 ? 1.0f : 0.0f));
}

/* The conv and dense shapes the library runs, forward and backward, and a
 * long k that takes several k blocks. */
TEST(gemm_paths_match_ref_on_layer_shapes)
{
    uint64_t s = 3;
    static const int shapes[][5] = {
        /* ta, tb, m, n, k */
        {0, 0, 8, 676, 9},   {0, 1, 8, 9, 676},    {1, 0, 9, 676, 8},    /* conv 1->8 3x3 */
        {0, 0, 6, 784, 25},  {0, 1, 6, 25, 784},   {1, 0, 25, 784, 6},   /* LeNet conv1 */
        {0, 0, 16, 100, 150}, {0, 1, 16, 150, 100}, {1, 0, 150, 100, 16}, /* LeNet conv2 */
        {0, 0, 64, 576, 288}, {0, 1, 64, 288, 576}, {1, 0, 288, 576, 64}, /* conv 32->64 */
        {0, 1, 64, 120, 400}, {1, 0, 120, 400, 64}, {0, 0, 64, 400, 120}, /* dense 400->120 */
        {0, 1, 16, 128, 2500},                                            /* long k */
    };
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
        const int *sh = shapes[t];
        CHECK(all_paths_agree(&s, sh[0], sh[1], sh[2], sh[3], sh[4], 3, 0.0f));
        CHECK(all_paths_agree(&s, sh[0], sh[1], sh[2], sh[3], sh[4], 0, 1.0f));
    }
}

TEST(gemm_with_k_zero_clears_or_keeps_c)
{
    gemm_path_t paths[4];
    int npaths = gemm_paths(paths);
    for (int i = 0; i < npaths; i++) {
        float c[3] = {NAN, NAN, NAN}, d[3] = {1, 2, 3};
        paths[i].fn(0, 0, 1, 3, 0, NULL, 1, NULL, 3, 0.0f, c, 3);
        paths[i].fn(0, 0, 1, 3, 0, NULL, 1, NULL, 3, 1.0f, d, 3);
        CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0);
        CHECK(d[0] == 1 && d[1] == 2 && d[2] == 3);
    }
}

/* Threads split C by rows or columns, so computing C in pieces must give the
 * very same bits as one call, on every path. */
TEST(gemm_split_between_calls_is_bit_identical)
{
    uint64_t s = 4;
    gemm_path_t paths[4];
    int npaths = gemm_paths(paths);
    for (int t = 0; t < 40; t++) {
        int ta = t & 1, tb = (t >> 1) & 1;
        float beta = (t >> 2) & 1 ? 1.0f : 0.0f;
        problem p;
        problem_make(&p, &s, ta, tb, between(&s, 2, 120), between(&s, 2, 200),
                     t < 36 ? between(&s, 1, 400) : between(&s, 600, 1200), 4, beta);
        int r = between(&s, 1, p.m - 1), q = between(&s, 1, p.n - 1);
        for (int i = 0; i < npaths; i++) {
            gemm_fn *fn = paths[i].fn;
            float *whole = problem_run(&p, fn);
            float *rows = malloc(sizeof(float) * p.csz), *cols = malloc(sizeof(float) * p.csz);
            memcpy(rows, p.c0, sizeof(float) * p.csz);
            memcpy(cols, p.c0, sizeof(float) * p.csz);
            /* Rows [0, r) and [r, m). */
            fn(ta, tb, r, p.n, p.k, p.a, p.lda, p.b, p.ldb, beta, rows, p.ldc);
            fn(ta, tb, p.m - r, p.n, p.k, ta ? p.a + r : p.a + (size_t)r * p.lda, p.lda, p.b,
               p.ldb, beta, rows + (size_t)r * p.ldc, p.ldc);
            /* Columns [0, q) and [q, n). */
            fn(ta, tb, p.m, q, p.k, p.a, p.lda, p.b, p.ldb, beta, cols, p.ldc);
            fn(ta, tb, p.m, p.n - q, p.k, p.a, p.lda, tb ? p.b + (size_t)q * p.ldb : p.b + q,
               p.ldb, beta, cols + q, p.ldc);
            int same = 1;
            for (int y = 0; y < p.m; y++)
                same &= memcmp(whole + (size_t)y * p.ldc, rows + (size_t)y * p.ldc,
                               sizeof(float) * p.n) == 0 &&
                        memcmp(whole + (size_t)y * p.ldc, cols + (size_t)y * p.ldc,
                               sizeof(float) * p.n) == 0;
            if (!same)
                printf("  %s ta=%d tb=%d m=%d n=%d k=%d split at row %d / col %d\n",
                       paths[i].name, ta, tb, p.m, p.n, p.k, r, q);
            free(whole);
            free(rows);
            free(cols);
            CHECK(same);
        }
        problem_free(&p);
    }
}

TEST(gemm_path_honours_simd_cap)
{
    CHECK(strcmp(gemm_path_capped("generic"), "generic") == 0);
    CHECK(strcmp(gemm_path_capped("avx2"), "avx512") != 0);
    CHECK(strcmp(gemm_path_capped(NULL), gemm_path()) == 0 || getenv("CNN_SIMD"));
}

/* gemm_rows reads B's rows wherever brow places them: on every path, the
 * result is bit for bit that of gemm on the same rows laid out densely. */
TEST(gemm_rows_equals_gemm_on_the_gathered_matrix)
{
    typedef struct {
        const char *name;
        gemm_fn *dense;
        gemm_rows_fn *rows;
    } rows_path;
    rows_path paths[3];
    int npaths = 0;
    paths[npaths++] = (rows_path){"ref", gemm_ref, gemm_rows_ref};
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        paths[npaths++] = (rows_path){"avx2", gemm_avx2, gemm_rows_avx2};
    if (__builtin_cpu_supports("avx512f"))
        paths[npaths++] = (rows_path){"avx512", gemm_avx512, gemm_rows_avx512};
#endif
    uint64_t s = 31;
    for (int t = 0; t < 36; t++) {
        /* a third with at most two rows of tiles, which read B in place */
        int tb = t & 1, m = t % 3 ? between(&s, 1, 70) : between(&s, 1, 16);
        int n = between(&s, 1, 90), k = between(&s, 1, 600);
        int rows = tb ? n : k, len = tb ? k : n; /* the stored B: rows x len */
        size_t span = (size_t)rows * (len + 7) + 64;
        float *a = malloc(sizeof(float) * m * k), *pool = malloc(sizeof(float) * span);
        float *dense = malloc(sizeof(float) * rows * len);
        size_t *brow = malloc(sizeof(size_t) * rows);
        float *c1 = malloc(sizeof(float) * m * n), *c2 = malloc(sizeof(float) * m * n);
        for (int i = 0; i < m * k; i++)
            a[i] = uniform(&s);
        for (size_t i = 0; i < span; i++)
            pool[i] = uniform(&s);
        for (int r = 0; r < rows; r++) { /* rows may overlap, in any order */
            brow[r] = (size_t)between(&s, 0, (int)(span - (size_t)len - 1));
            memcpy(dense + (size_t)r * len, pool + brow[r], sizeof(float) * len);
        }
        for (int p = 0; p < npaths; p++) {
            for (int i = 0; i < m * n; i++)
                c1[i] = c2[i] = (float)i;
            float beta = (t >> 1) & 1 ? 1.0f : 0.0f;
            paths[p].dense(0, tb, m, n, k, a, k, dense, len, beta, c1, n);
            paths[p].rows(0, tb, m, n, k, a, k, pool, 0, brow, beta, c2, n);
            if (memcmp(c1, c2, sizeof(float) * m * n) != 0)
                printf("  %s tb=%d m=%d n=%d k=%d differs\n", paths[p].name, tb, m, n, k);
            CHECK(memcmp(c1, c2, sizeof(float) * m * n) == 0);
        }
        free(a), free(pool), free(dense), free(brow), free(c1), free(c2);
    }
}

/* Every dot_rows path against a double-precision sum, for lengths around
 * the vector widths; and each element is the same whether it is computed
 * in a block of four or alone (the threads may split anywhere). */
TEST(dot_rows_paths_match_double_and_do_not_depend_on_blocking)
{
    struct {
        const char *name;
        dot_rows_fn *fn;
    } paths[3];
    int npaths = 0;
    paths[npaths].name = "ref", paths[npaths++].fn = dot_rows_ref;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        paths[npaths].name = "avx2", paths[npaths++].fn = dot_rows_avx2;
    if (__builtin_cpu_supports("avx512f"))
        paths[npaths].name = "avx512", paths[npaths++].fn = dot_rows_avx512;
#endif
    uint64_t s = 21;
    static const int ks[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 100, 676, 1352};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        int k = ks[t], m = between(&s, 1, 3), n = between(&s, 1, 11), ld = k + 3;
        float *a = malloc(sizeof(float) * m * ld), *b = malloc(sizeof(float) * n * ld);
        float *c = malloc(sizeof(float) * m * n), *one = malloc(sizeof(float) * m * n);
        for (int i = 0; i < m * ld; i++)
            a[i] = uniform(&s);
        for (int i = 0; i < n * ld; i++)
            b[i] = uniform(&s);
        for (int p = 0; p < npaths; p++) {
            int bad = 0;
            for (int i = 0; i < m * n; i++)
                c[i] = 1.0f;
            paths[p].fn(m, n, k, a, ld, b, ld, NULL, 1.0f, c, n); /* beta 1: adds to the 1s */
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double want = 1.0, mag = 1.0;
                    for (int q = 0; q < k; q++) {
                        want += (double)a[i * ld + q] * b[j * ld + q];
                        mag += fabs((double)a[i * ld + q] * b[j * ld + q]);
                    }
                    bad += fabs(c[i * n + j] - want) > 1e-6 * mag;
                    paths[p].fn(1, 1, k, a + i * ld, ld, b + j * ld, ld, NULL, 0.0f, one + i * n + j, 1);
                    bad += one[i * n + j] + 1.0f != c[i * n + j];
                }
            if (bad)
                printf("  %s: k=%d m=%d n=%d: %d wrong\n", paths[p].name, k, m, n, bad);
            CHECK(bad == 0);
        }
        free(a);
        free(b);
        free(c);
        free(one);
    }
}

TEST(im2col_by_hand)
{
    /* One 3x3 channel, 2x2 kernel, stride 1, padding 1: a 4x4 output. */
    const float img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float cols[4 * 16];
    im2col(img, 1, 3, 3, 2, 2, 1, 1, 1, 1, 4, 4, cols, 16);
    static const float want[4][16] = {
        /* ky=0,kx=0: pixel (oy-1, ox-1) */
        {0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9},
        /* ky=0,kx=1: pixel (oy-1, ox) */
        {0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0},
        /* ky=1,kx=0: pixel (oy, ox-1) */
        {0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0},
        /* ky=1,kx=1: pixel (oy, ox) */
        {1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0},
    };
    CHECK(memcmp(cols, want, sizeof want) == 0);
}

TEST(im2col_with_stride_two_by_hand)
{
    /* A 4x4 image, 2x2 kernel, stride 2, no padding: the four 2x2 blocks. */
    float img[16];
    for (int i = 0; i < 16; i++)
        img[i] = (float)i;
    float cols[4 * 4];
    im2col(img, 1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2, cols, 4);
    static const float want[16] = {0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15};
    CHECK(memcmp(cols, want, sizeof want) == 0);
}

/* im2col against its definition, element by element, for rows of every
 * length from 1 to 70 floats with padding on either side: the inline short
 * copies and zero fills take a different branch below 4, 8 and 64. */
TEST(im2col_matches_its_definition_for_every_run_length)
{
    uint64_t s = 11;
    for (int w = 1; w <= 70; w++) {
        int c = 2, h = 3, kh = 2, kw = between(&s, 1, 4);
        int ph = between(&s, 0, 1), pw = between(&s, 0, 2);
        if (w + 2 * pw < kw)
            continue;
        int oh = h + 2 * ph - kh + 1, ow = w + 2 * pw - kw + 1;
        size_t ld = (size_t)oh * ow + 3; /* rows need not be packed */
        float *img = malloc(sizeof(float) * c * h * w);
        float *cols = malloc(sizeof(float) * c * kh * kw * ld);
        for (int i = 0; i < c * h * w; i++)
            img[i] = uniform(&s);
        im2col(img, c, h, w, kh, kw, 1, 1, ph, pw, oh, ow, cols, ld);
        int bad = 0;
        for (int ch = 0; ch < c; ch++)
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++)
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++) {
                            int y = oy - ph + ky, x = ox - pw + kx;
                            float want = y >= 0 && y < h && x >= 0 && x < w
                                             ? img[(ch * h + y) * w + x]
                                             : 0.0f;
                            size_t r = (size_t)(ch * kh + ky) * kw + kx;
                            bad += cols[r * ld + (size_t)oy * ow + ox] != want;
                        }
        free(img);
        free(cols);
        CHECK(bad == 0);
    }
}

/* col2im is the adjoint of im2col: <im2col(x), y> == <x, col2im(y)>. */
TEST(col2im_is_adjoint_of_im2col)
{
    uint64_t s = 5;
    for (int t = 0; t < 60; t++) {
        int c = between(&s, 1, 3), h = between(&s, 1, 12), w = between(&s, 1, 12);
        int kh = between(&s, 1, 5), kw = between(&s, 1, 5);
        int sh = between(&s, 1, 3), sw = between(&s, 1, 3);
        int ph = between(&s, 0, 2), pw = between(&s, 0, 2);
        if (h + 2 * ph < kh || w + 2 * pw < kw)
            continue;
        int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        size_t nimg = (size_t)c * h * w, ncols = (size_t)c * kh * kw * oh * ow;
        float *x = malloc(sizeof(float) * nimg), *gx = calloc(nimg, sizeof(float));
        float *y = malloc(sizeof(float) * ncols), *cx = malloc(sizeof(float) * ncols);
        for (size_t i = 0; i < nimg; i++)
            x[i] = uniform(&s);
        for (size_t i = 0; i < ncols; i++)
            y[i] = uniform(&s);
        im2col(x, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, cx, (size_t)oh * ow);
        col2im(y, (size_t)oh * ow, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, gx);
        double lhs = 0, rhs = 0, mag = 0;
        for (size_t i = 0; i < ncols; i++) {
            lhs += (double)cx[i] * y[i];
            mag += fabs((double)cx[i] * y[i]);
        }
        for (size_t i = 0; i < nimg; i++)
            rhs += (double)x[i] * gx[i];
        free(x);
        free(gx);
        free(y);
        free(cx);
        /* gx sums up to kh*kw floats per pixel, in float. */
        CHECK_NEAR(lhs, rhs, 1e-6 * (1 + mag) * kh * kw);
    }
}

TEST(col2im_adds_into_the_image)
{
    /* 1 channel 2x2, 1x1 kernel, stride 1: col2im is img += cols. */
    float img[4] = {1, 1, 1, 1};
    const float cols[4] = {1, 2, 3, 4};
    col2im(cols, 4, 1, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2, img);
    CHECK(img[0] == 2 && img[1] == 3 && img[2] == 4 && img[3] == 5);
}

/* The 2x2 pooling rows by hand: bias, ReLU, the first maximum wins a tie,
 * and the adjoint puts each gradient where the maximum was. */
TEST(pool2x2_rows_by_hand)
{
    /* rows of a map 5 wide; windows (1 3 / 2 0), (4 4 / 4 -9) */
    const float r0[5] = {1, 3, 4, 4, 7}, r1[5] = {2, 0, 4, -9, 7};
    float out[2];
    int at[2];
    pool2x2_rows(r0, r1, 2, -5.0f, 1, 5, 10, out, at);
    CHECK(out[0] == 0.0f && out[1] == 0.0f); /* all -5..-1 after the bias, then ReLU */
    CHECK(at[0] == 10 && at[1] == 12);        /* every entry 0: the first */
    pool2x2_rows(r0, r1, 2, 1.0f, 0, 5, 10, out, at);
    CHECK(out[0] == 4.0f && at[0] == 11); /* 3 + 1, top right */
    CHECK(out[1] == 5.0f && at[1] == 12); /* a tie of three 4s: top left */
    const float dy[2] = {0.5f, -2.0f}, y[2] = {1.0f, 0.0f};
    float g0[4], g1[4];
    unpool2x2_rows(dy, NULL, at, 2, 5, 10, g0, g1);
    CHECK(g0[0] == 0 && g0[1] == 0.5f && g0[2] == -2.0f && g0[3] == 0);
    CHECK(g1[0] == 0 && g1[1] == 0 && g1[2] == 0 && g1[3] == 0);
    unpool2x2_rows(dy, y, at, 2, 5, 10, g0, g1); /* a fused ReLU: y = 0 passes nothing */
    CHECK(g0[1] == 0.5f && g0[2] == 0.0f);
}

/* Every pooling-rows path gives the reference's bits, for every length
 * around the vector width, with ties, zeros, negatives and NaN. */
TEST(pool2x2_rows_paths_match_ref)
{
    struct {
        const char *name;
        pool2x2_rows_fn *pool;
        unpool2x2_rows_fn *unpool;
    } paths[2];
    int npaths = 0;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx512f"))
        paths[npaths].name = "avx512", paths[npaths].pool = pool2x2_rows_avx512,
        paths[npaths++].unpool = unpool2x2_rows_avx512;
#endif
    paths[npaths].name = "dispatch", paths[npaths].pool = pool2x2_rows,
    paths[npaths++].unpool = unpool2x2_rows;
    uint64_t s = 5;
    for (int n = 1; n <= 40; n++) {
        int w = 2 * n + (n & 1); /* odd widths too */
        float r0[96], r1[96], out[2][48], dy[48], y[48], g[2][2][96];
        int at[2][48];
        for (int i = 0; i < w; i++) { /* few distinct values: many ties */
            r0[i] = (float)between(&s, -2, 2), r1[i] = (float)between(&s, -2, 2);
            if (between(&s, 0, 30) == 0)
                r1[i] = NAN;
        }
        for (int i = 0; i < n; i++)
            dy[i] = uniform(&s), y[i] = (float)between(&s, -1, 1);
        for (int relu = 0; relu < 2; relu++) {
            float bias = relu ? 0.5f : -0.0f;
            pool2x2_rows_ref(r0, r1, n, bias, relu, w, 7, out[0], at[0]);
            unpool2x2_rows_ref(dy, relu ? y : NULL, at[0], n, w, 7, g[0][0], g[0][1]);
            for (int p = 0; p < npaths; p++) {
                for (int i = 0; i < 2 * n; i++)
                    g[1][0][i] = g[1][1][i] = 99.0f;
                g[1][0][2 * n] = g[1][1][2 * n] = 42.0f;
                paths[p].pool(r0, r1, n, bias, relu, w, 7, out[1], at[1]);
                paths[p].unpool(dy, relu ? y : NULL, at[0], n, w, 7, g[1][0], g[1][1]);
                int same = memcmp(out[0], out[1], sizeof(float) * n) == 0 &&
                           memcmp(at[0], at[1], sizeof(int) * n) == 0 &&
                           memcmp(g[0][0], g[1][0], sizeof(float) * 2 * n) == 0 &&
                           memcmp(g[0][1], g[1][1], sizeof(float) * 2 * n) == 0 &&
                           g[1][0][2 * n] == 42.0f && g[1][1][2 * n] == 42.0f;
                if (!same)
                    printf("  %s n=%d relu=%d differs\n", paths[p].name, n, relu);
                CHECK(same);
            }
        }
    }
}

/* The streaming copy writes exactly [0, n), whatever the alignment, the
 * head before the first whole line and the tail after the last. */
TEST(stream_floats_copies_exactly_its_range)
{
    static float src[300], dst[320] __attribute__((aligned(64)));
    for (int i = 0; i < 300; i++)
        src[i] = (float)i + 0.5f;
    for (int at = 0; at < 17; at++)
        for (int n = 0; n <= 280; n += n < 40 ? 1 : 23) {
            for (int i = 0; i < 320; i++)
                dst[i] = -1.0f;
            stream_floats(dst + at, src, (size_t)n);
            int ok = 1;
            for (int i = 0; i < 320; i++)
                ok &= dst[i] == (i >= at && i < at + n ? src[i - at] : -1.0f);
            CHECK(ok);
        }
}

/* Winograd's correlation against the direct one, in double, on random
 * sizes (odd outputs leave half a tile over), channels and values: within
 * a few float roundings of each sum's magnitude. */
TEST(winograd_correlation_matches_the_direct_sum)
{
    uint64_t s = 6;
    for (int trial = 0; trial < 40; trial++) {
        int cin = between(&s, 1, 9), cout = between(&s, 1, 9);
        int oh = between(&s, 1, 13), ow = between(&s, 1, 37); /* > 16 tiles a row too */
        int th = (oh + 1) / 2, tw = (ow + 1) / 2, rows = 2 * th + 2, pitch = 2 * tw + 2 + 3;
        size_t plane = (size_t)rows * pitch + 5, tiles = (size_t)th * tw;
        float *in = malloc(sizeof(float) * plane * cin);
        float *w = malloc(sizeof(float) * 9 * cin * cout);
        float *u = malloc(sizeof(float) * 16 * cin * cout);
        float *v = malloc(sizeof(float) * 16 * cin * tiles);
        float *m = malloc(sizeof(float) * 16 * cout * tiles);
        float *out = malloc(sizeof(float) * 4 * cout * tiles);
        for (size_t i = 0; i < plane * cin; i++)
            in[i] = uniform(&s);
        for (int i = 0; i < 9 * cin * cout; i++)
            w[i] = uniform(&s);
        winograd_filters(w, cout, cin, 0, u);
        winograd_correlate(u, cout, cin, in, plane, pitch, th, tw, v, m, out, 1);
        int ok = 1;
        for (int o = 0; o < cout && ok; o++)
            for (int y = 0; y < oh && ok; y++)
                for (int x = 0; x < ow && ok; x++) {
                    double sum = 0, mag = 0;
                    for (int i = 0; i < cin; i++)
                        for (int k = 0; k < 9; k++) {
                            double p = (double)w[(o * cin + i) * 9 + k] *
                                       in[i * plane + (size_t)(y + k / 3) * pitch + x + k % 3];
                            sum += p, mag += fabs(p);
                        }
                    float got = out[((size_t)o * 2 * th + y) * 2 * tw + x];
                    ok = fabs(got - sum) <= 64 * FLT_EPSILON * (mag + 1e-3);
                    if (!ok)
                        printf("  cin %d cout %d %dx%d: (%d, %d, %d) = %.9g, direct %.9g\n", cin,
                               cout, oh, ow, o, y, x, got, sum);
                }
        CHECK(ok);
        free(in), free(w), free(u), free(v), free(m), free(out);
    }
}

/* flip: the filters of the input gradient, the forward's turned half a turn
 * with inputs and outputs swapped; the same bits as turning them by hand. */
TEST(winograd_flipped_filters_are_the_turned_transpose)
{
    uint64_t s = 7;
    enum { F = 5, C = 3 };
    float w[F * C * 9], turned[C * F * 9], u[2][16 * F * C];
    for (int i = 0; i < F * C * 9; i++)
        w[i] = uniform(&s);
    for (int f = 0; f < F; f++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < 9; k++)
                turned[(c * F + f) * 9 + 8 - k] = w[(f * C + c) * 9 + k];
    winograd_filters(w, C, F, 1, u[0]);
    winograd_filters(turned, C, F, 0, u[1]);
    CHECK(memcmp(u[0], u[1], sizeof u[0]) == 0);
}

/* Every transform path gives the reference's bits, for row lengths around
 * the vector width and ranges of tiles that start and end mid-row. */
TEST(winograd_transform_paths_match_ref)
{
    struct {
        const char *name;
        winograd_in_fn *in;
        winograd_out_fn *out;
        winograd_dy_fn *dy;
    } paths[2];
    int npaths = 0;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx512f"))
        paths[npaths].name = "avx512", paths[npaths].in = winograd_in_avx512,
        paths[npaths].out = winograd_out_avx512, paths[npaths++].dy = winograd_dy_avx512;
#endif
    paths[npaths].name = "dispatch", paths[npaths].in = winograd_in,
    paths[npaths].out = winograd_out, paths[npaths++].dy = winograd_dy;
    uint64_t s = 8;
    for (int tw = 1; tw <= 35; tw++) {
        int th = 1 + tw % 3, c = 1 + tw % 4, pitch = 2 * tw + 2, tiles = th * tw;
        int first = between(&s, 0, tiles - 1), count = between(&s, 1, tiles - first);
        size_t plane = (size_t)(2 * th + 2) * pitch, nv = (size_t)16 * c * count;
        size_t out_plane = (size_t)4 * tiles + 3, nout = c * out_plane;
        float *in = malloc(sizeof(float) * plane * c), *v[2], *out[2], *dyt[2];
        for (size_t i = 0; i < plane * c; i++)
            in[i] = between(&s, 0, 9) ? uniform(&s) : 0.0f; /* zeros: -0 and +0 differ */
        for (int k = 0; k < 2; k++) {
            dyt[k] = malloc(sizeof(float) * (nv + 1));
            v[k] = malloc(sizeof(float) * (nv + 1));
            out[k] = malloc(sizeof(float) * (nout + 1));
            for (size_t i = 0; i <= nout; i++)
                out[k][i] = 42.0f; /* what the range does not cover stays */
        }
        winograd_in_ref(in, c, plane, pitch, tw, first, count, v[0]);
        winograd_out_ref(v[0], c, tw, first, count, out[0], out_plane);
        winograd_dy_ref(in, c, plane, pitch, tw, first, count, dyt[0]);
        for (int p = 0; p < npaths; p++) {
            v[1][nv] = dyt[1][nv] = 42.0f;
            for (size_t i = 0; i <= nout; i++)
                out[1][i] = 42.0f;
            paths[p].in(in, c, plane, pitch, tw, first, count, v[1]);
            paths[p].out(v[0], c, tw, first, count, out[1], out_plane);
            paths[p].dy(in, c, plane, pitch, tw, first, count, dyt[1]);
            int same = memcmp(v[0], v[1], sizeof(float) * nv) == 0 &&
                       memcmp(dyt[0], dyt[1], sizeof(float) * nv) == 0 && dyt[1][nv] == 42.0f &&
                       memcmp(out[0], out[1], sizeof(float) * (nout + 1)) == 0 &&
                       v[1][nv] == 42.0f;
            if (!same)
                printf("  %s tw=%d tiles [%d, %d) differs\n", paths[p].name, tw, first,
                       first + count);
            CHECK(same);
        }
        int untouched = 0; /* the rows of tiles outside the range */
        for (int ty = 0; ty < th; ty++)
            for (int tx = 0; tx < tw; tx++) {
                int t = ty * tw + tx;
                untouched += (t < first || t >= first + count) &&
                             out[0][(size_t)2 * ty * 2 * tw + 2 * tx] == 42.0f;
            }
        CHECK(untouched == tiles - count);
        free(in);
        for (int k = 0; k < 2; k++)
            free(v[k]), free(out[k]), free(dyt[k]);
    }
}

/* The weight gradient by Winograd against its definition, in double:
 * gw(o, i, ky, kx) = sum over two images and every output (y, x) of
 * dy(o, y, x) in(i, y + ky, x + kx), dy zero past the outputs. */
TEST(winograd_weight_gradient_matches_the_direct_sum)
{
    uint64_t s = 9;
    for (int trial = 0; trial < 20; trial++) {
        int cin = between(&s, 1, 7), cout = between(&s, 1, 7);
        int oh = between(&s, 1, 11), ow = between(&s, 1, 35);
        int th = (oh + 1) / 2, tw = (ow + 1) / 2, rows = 2 * th + 2, pitch = 2 * tw + 2;
        int dpitch = 2 * tw + 1;
        size_t plane = (size_t)rows * pitch, dplane = (size_t)2 * th * dpitch;
        size_t block = (size_t)winograd_block(th, tw);
        float *in = malloc(sizeof(float) * plane * cin * 2);
        float *dy = malloc(sizeof(float) * dplane * cout * 2);
        float *v = malloc(sizeof(float) * 16 * cin * block);
        float *m = malloc(sizeof(float) * 16 * cout * block);
        float *du = malloc(sizeof(float) * 16 * cin * cout);
        float *gw = malloc(sizeof(float) * 9 * cin * cout);
        for (size_t i = 0; i < plane * cin * 2; i++)
            in[i] = uniform(&s);
        for (int j = 0; j < 2; j++) /* outputs; zeros around them */
            for (int o = 0; o < cout; o++)
                for (int y = 0; y < 2 * th; y++)
                    for (int x = 0; x < dpitch; x++)
                        dy[(j * cout + o) * dplane + (size_t)y * dpitch + x] =
                            y < oh && x < ow ? uniform(&s) : 0.0f;
        for (int j = 0; j < 2; j++)
            winograd_filter_grads_add(in + j * plane * cin, plane, pitch, cin,
                                      dy + j * dplane * cout, dplane, dpitch, cout, th, tw, v, m,
                                      du, j > 0);
        winograd_filter_grads(du, cout, cin, gw);
        int ok = 1;
        for (int o = 0; o < cout && ok; o++)
            for (int i = 0; i < cin && ok; i++)
                for (int k = 0; k < 9 && ok; k++) {
                    double sum = 0, mag = 0;
                    for (int j = 0; j < 2; j++)
                        for (int y = 0; y < oh; y++)
                            for (int x = 0; x < ow; x++) {
                                size_t at_dy = (j * cout + o) * dplane + (size_t)y * dpitch + x;
                                size_t at_in = (j * cin + i) * plane +
                                               (size_t)(y + k / 3) * pitch + x + k % 3;
                                double p = (double)dy[at_dy] * in[at_in];
                                sum += p, mag += fabs(p);
                            }
                    float got = gw[(o * cin + i) * 9 + k];
                    ok = fabs(got - sum) <= 64 * FLT_EPSILON * (mag + 1e-3);
                    if (!ok)
                        printf("  cin %d cout %d %dx%d: gw(%d, %d, %d) = %.9g, direct %.9g\n", cin,
                               cout, oh, ow, o, i, k, got, sum);
                }
        CHECK(ok);
        free(in), free(dy), free(v), free(m), free(du), free(gw);
    }
}

/* ---- the integer GEMM of int8 inference ---------------------------------- */

TEST(qgemm_ref_by_hand)
{
    /* [1 -2; 127 -127] x [3 255; 4 0] and, stored n x k, its transpose */
    const int8_t a[4] = {1, -2, 127, -127};
    const uint8_t b[4] = {3, 255, 4, 0}, bt[4] = {3, 4, 255, 0};
    int32_t c[4], ct[4];
    qgemm_ref(0, 2, 2, 2, a, 2, b, 2, c, 2);
    qgemm_ref(1, 2, 2, 2, a, 2, bt, 2, ct, 2);
    CHECK(c[0] == -5 && c[1] == 255 && c[2] == -127 && c[3] == 32385);
    CHECK(memcmp(c, ct, sizeof c) == 0);
}

/* Every integer GEMM path gives the reference's C exactly: ragged tiles,
 * several k and row blocks, both layouts of B, the extreme values. */
TEST(qgemm_paths_match_ref)
{
    struct {
        const char *name;
        qgemm_fn *fn;
    } paths[3];
    int npaths = 0;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2"))
        paths[npaths].name = "avx2", paths[npaths++].fn = qgemm_avx2;
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
        paths[npaths].name = "vnni", paths[npaths++].fn = qgemm_vnni;
#endif
    paths[npaths].name = "dispatch", paths[npaths++].fn = qgemm;
    const int ms[] = {1, 5, 6, 8, 13, 97, 200}, ns[] = {1, 3, 8, 17, 32, 33, 70};
    const int ks[] = {1, 3, 4, 25, 150, 513, 1100};
    uint64_t s = 9;
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                for (int tb = 0; tb < 2; tb++) {
                    int m = ms[mi], n = ns[ni], k = ks[ki];
                    int lda = k + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
                    int8_t *a = malloc((size_t)m * lda);
                    uint8_t *b = malloc((size_t)(tb ? n : k) * ldb);
                    int32_t *c0 = malloc(sizeof(int32_t) * m * ldc);
                    int32_t *c1 = malloc(sizeof(int32_t) * m * ldc);
                    int extreme = between(&s, 0, 3) == 0; /* all at the limits */
                    for (int i = 0; i < m * lda; i++)
                        a[i] = (int8_t)(extreme ? (i & 1 ? 127 : -127) : between(&s, -127, 127));
                    for (int i = 0; i < (tb ? n : k) * ldb; i++)
                        b[i] = (uint8_t)(extreme ? 255 : between(&s, 0, 255));
                    qgemm_ref(tb, m, n, k, a, lda, b, ldb, c0, ldc);
                    for (int p = 0; p < npaths; p++) {
                        for (int i = 0; i < m * ldc; i++)
                            c1[i] = c0[i] ^ 0x5555; /* the gaps must stay as they were */
                        paths[p].fn(tb, m, n, k, a, lda, b, ldb, c1, ldc);
                        int same = 1;
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < ldc; j++)
                                same &= c1[i * ldc + j] ==
                                        (j < n ? c0[i * ldc + j] : c0[i * ldc + j] ^ 0x5555);
                        if (!same)
                            printf("  %s tb=%d m=%d n=%d k=%d differs\n", paths[p].name, tb, m,
                                   n, k);
                        CHECK(same);
                    }
                    free(a), free(b), free(c0), free(c1);
                }
}
