/* SGEMM for AVX2 + FMA: the shared blocked algorithm (gemm_block.h) with a
 * 6 x 16 register tile: 12 ymm accumulators, 2 for B and 1 for A's broadcast
 * fill the 16 registers.  Masked loads take an extra uop on Intel, so only
 * edge tiles use them. */
#include "kernels.h"

#include <immintrin.h>

#define GEMM_NAME gemm_avx2
#define GEMM_ROWS_NAME gemm_rows_avx2
#define DOT_NAME dot_rows_avx2
#define VL 8
#define MR 6
#define NV 2
typedef __m256 vec;
typedef __m256i vmask;
#define vzero() _mm256_setzero_ps()
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps(p, v)
#define vfma(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define vadd(a, b) _mm256_add_ps(a, b)
#define vbcast(p) _mm256_broadcast_ss(p)
#define vmask_first(n) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define vload_mask(p, m) _mm256_maskload_ps(p, m)
#define vstore_mask(p, m, v) _mm256_maskstore_ps(p, m, v)

/* lanes (0+4, 1+5, 2+6, 3+7), then pairs, then the last two */
static inline float vsum(__m256 v)
{
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

#include "gemm_block.h"
