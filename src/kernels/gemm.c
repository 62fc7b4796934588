/* GEMM: the reference loop and the run-time choice of a SIMD path. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

void gemm_ref(int ta, int tb, int m, int n, int k, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, sizeof(float) * (size_t)n);
        for (int p = 0; p < k; p++) {
            float aip = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
            if (tb)
                for (int j = 0; j < n; j++) ci[j] += aip * b[(size_t)j * ldb + p];
            else
                for (int j = 0; j < n; j++) ci[j] += aip * b[(size_t)p * ldb + j];
        }
    }
}

enum { GENERIC, AVX2, AVX512 };

static int cpu_level(void)
{
    int level = GENERIC;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        level = AVX2;
    if (__builtin_cpu_supports("avx512f"))
        level = AVX512;
#endif
    const char *cap = getenv("CNN_SIMD");
    if (cap && strcmp(cap, "generic") == 0)
        level = GENERIC;
    else if (cap && strcmp(cap, "avx2") == 0 && level > AVX2)
        level = AVX2;
    return level;
}

const char *gemm_path(void)
{
    static const char *names[] = {"generic", "avx2", "avx512"};
    return names[cpu_level()];
}

void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
          int ldb, float beta, float *c, int ldc)
{
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    switch (cpu_level()) {
    case AVX512: gemm_avx512(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc); return;
    case AVX2: gemm_avx2(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc); return;
    }
#endif
    gemm_ref(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}
