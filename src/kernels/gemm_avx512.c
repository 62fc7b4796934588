/* SGEMM for AVX-512F: the shared blocked algorithm (gemm_block.h) with an
 * 8 x 32 register tile, 16 zmm accumulators.  Ragged edges use lane masks,
 * which cost nothing extra on loads and stores. */
#include "kernels.h"

#include <immintrin.h>

#define GEMM_NAME gemm_avx512
#define GEMM_ROWS_NAME gemm_rows_avx512
#define DOT_NAME dot_rows_avx512
#define VL 16
#define MR 8
#define NV 2
typedef __m512 vec;
typedef __mmask16 vmask;
#define vzero() _mm512_setzero_ps()
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps(p, v)
#define vfma(a, b, acc) _mm512_fmadd_ps(a, b, acc)
#define vadd(a, b) _mm512_add_ps(a, b)
#define vbcast(p) _mm512_set1_ps(*(p))
#define vmask_first(n) ((__mmask16)((1u << (n)) - 1u))
#define vload_mask(p, m) _mm512_maskz_loadu_ps(m, p)
#define vstore_mask(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define vsum(v) _mm512_reduce_add_ps(v)

#include "gemm_block.h"
