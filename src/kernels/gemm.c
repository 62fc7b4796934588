/* GEMM: the reference loop and the run-time choice of a SIMD path, for the
 * GEMM, dot_rows, the 2x2 pooling rows and the Winograd transforms. */
#include "kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void gemm_rows_ref(int ta, int tb, int m, int n, int k, const float *a, int lda,
                   const float *b, int ldb, const size_t *brow, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, sizeof(float) * (size_t)n);
        for (int p = 0; p < k; p++) {
            float aip = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
            if (tb)
                for (int j = 0; j < n; j++)
                    ci[j] += aip * b[(brow ? brow[j] : (size_t)j * ldb) + p];
            else
                for (int j = 0; j < n; j++)
                    ci[j] += aip * b[(brow ? brow[p] : (size_t)p * ldb) + j];
        }
    }
}

void gemm_ref(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc)
{
    gemm_rows_ref(ta, tb, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc);
}

enum { GENERIC, AVX2, AVX512, SIMD128 };

static int detect_level(const char *cap)
{
    int level = GENERIC;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        level = AVX2;
    if (__builtin_cpu_supports("avx512f"))
        level = AVX512;
#endif
#ifdef __wasm_simd128__
    level = SIMD128; /* compiled in or not: WebAssembly has no run-time choice */
#endif
    if (cap && strcmp(cap, "generic") == 0)
        level = GENERIC;
    else if (cap && strcmp(cap, "avx2") == 0 && level > AVX2)
        level = AVX2;
    return level;
}

/* The level is a pure function of the CPU and the environment, so caching it
 * once is safe from any thread (a race only computes the same value twice);
 * it spares a getenv() per GEMM call, which small layers feel. */
static int cpu_level(void)
{
    static _Atomic int cached = -1;
    int level = cached;
    if (level < 0)
        cached = level = detect_level(getenv("CNN_SIMD"));
    return level;
}

static const char *const level_names[] = {"generic", "avx2", "avx512", "simd128"};

const char *gemm_path(void) { return level_names[cpu_level()]; }

const char *gemm_path_capped(const char *cap) { return level_names[detect_level(cap)]; }

/* The kernels of each level: one table, so that adding a kernel or a path
 * is one line, not another dispatcher.  A level without its own version of
 * a kernel runs the plain C one (vectorised by the compiler's clones). */
typedef struct {
    gemm_rows_fn *gemm_rows;
    dot_rows_fn *dot_rows;
    pool2x2_rows_fn *pool;
    unpool2x2_rows_fn *unpool;
    winograd_in_fn *wino_in;
    winograd_out_fn *wino_out;
    winograd_dy_fn *wino_dy;
} kernel_set;

static const kernel_set sets[] = {
    [GENERIC] = {gemm_rows_ref, dot_rows_ref, pool2x2_rows_ref, unpool2x2_rows_ref,
                 winograd_in_ref, winograd_out_ref, winograd_dy_ref},
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    [AVX2] = {gemm_rows_avx2, dot_rows_avx2, pool2x2_rows_ref, unpool2x2_rows_ref,
              winograd_in_ref, winograd_out_ref, winograd_dy_ref},
    [AVX512] = {gemm_rows_avx512, dot_rows_avx512, pool2x2_rows_avx512, unpool2x2_rows_avx512,
                winograd_in_avx512, winograd_out_avx512, winograd_dy_avx512},
#endif
#ifdef __wasm_simd128__
    [SIMD128] = {gemm_rows_simd128, dot_rows_simd128, pool2x2_rows_simd128,
                 unpool2x2_rows_simd128,
                 winograd_in_ref, winograd_out_ref, winograd_dy_ref},
#endif
};

static const kernel_set *kernels(void) { return &sets[cpu_level()]; }

void gemm_rows(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
               int ldb, const size_t *brow, float beta, float *c, int ldc)
{
    kernels()->gemm_rows(ta, tb, m, n, k, a, lda, b, ldb, brow, beta, c, ldc);
}

void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
          int ldb, float beta, float *c, int ldc)
{
    gemm_rows(ta, tb, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc);
}

void dot_rows(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
              const size_t *brow, float beta, float *c, int ldc)
{
    kernels()->dot_rows(m, n, k, a, lda, b, ldb, brow, beta, c, ldc);
}

void pool2x2_rows(const float *r0, const float *r1, int n, float bias, int relu, int w,
                  int base, float *out, int *at)
{
    kernels()->pool(r0, r1, n, bias, relu, w, base, out, at);
}

void unpool2x2_rows(const float *dy, const float *y, const int *at, int n, int w, int base,
                    float *g0, float *g1)
{
    kernels()->unpool(dy, y, at, n, w, base, g0, g1);
}

void winograd_in(const float *in, int cin, size_t plane, int pitch, int tw, int first, int count,
                 float *v)
{
    kernels()->wino_in(in, cin, plane, pitch, tw, first, count, v);
}

void winograd_out(const float *m, int cout, int tw, int first, int count, float *out,
                  size_t out_plane)
{
    kernels()->wino_out(m, cout, tw, first, count, out, out_plane);
}

void winograd_dy(const float *dy, int cout, size_t plane, int pitch, int tw, int first, int count,
                 float *m)
{
    kernels()->wino_dy(dy, cout, plane, pitch, tw, first, count, m);
}
