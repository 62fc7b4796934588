/* The integer GEMM of int8 inference: the reference loop and the run-time
 * choice of a path (kernels.h). */
#include "kernels.h"

#include <string.h>

void qgemm_ref(int tb, int m, int n, int k, const int8_t *a, int lda, const uint8_t *b, int ldb,
               int32_t *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            int32_t sum = 0;
            for (int p = 0; p < k; p++)
                sum += a[(size_t)i * lda + p] *
                       (int32_t)(tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            c[(size_t)i * ldc + j] = sum;
        }
}

/* VNNI (vpdpbusd) comes with AVX-512 on the machines this runs on; the
 * AVX2 path serves the rest of x86-64. */
static qgemm_fn *choose(void)
{
    const char *level = gemm_path();
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (strcmp(level, "avx512") == 0 && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx512bw"))
        return qgemm_vnni;
    if (strcmp(level, "avx2") == 0 || strcmp(level, "avx512") == 0)
        return qgemm_avx2;
#endif
    (void)level;
    return qgemm_ref;
}

const char *qgemm_path(void)
{
    qgemm_fn *f = choose();
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (f == qgemm_vnni)
        return "vnni";
    if (f == qgemm_avx2)
        return "avx2";
#endif
    return f == qgemm_ref ? "generic" : "?";
}

void qgemm(int tb, int m, int n, int k, const int8_t *a, int lda, const uint8_t *b, int ldb,
           int32_t *c, int ldc)
{
    choose()(tb, m, n, k, a, lda, b, ldb, c, ldc);
}
