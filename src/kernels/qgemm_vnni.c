/* The integer GEMM (kernels.h) on AVX-512 VNNI: vpdpbusd multiplies 64
 * unsigned bytes of B by 64 signed bytes of A and adds each 4 products into
 * one of 16 int32 lanes, 64 multiply-adds an instruction.  An 8 x 32 tile:
 * 16 accumulators of the 32 registers. */
#include "kernels.h"

#include <immintrin.h>

#define QGEMM_NAME qgemm_vnni
#define MR 8
#define NR 32

static void tile(int nq, const uint8_t *ap, const uint8_t *bp, int32_t *c, int ldc, int mr,
                 int nr, int add)
{
    __m512i acc[MR][2];
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    for (int q = 0; q < nq; q++, ap += MR * 4, bp += NR * 4) {
        __m512i b0 = _mm512_load_si512(bp), b1 = _mm512_load_si512(bp + 64);
        for (int i = 0; i < MR; i++) {
            int32_t quad;
            memcpy(&quad, ap + i * 4, 4);
            __m512i ai = _mm512_set1_epi32(quad);
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], b0, ai);
            acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], b1, ai);
        }
    }
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1u);
    __mmask16 m1 = nr <= 16 ? 0 : nr >= 32 ? 0xFFFF : (__mmask16)((1u << (nr - 16)) - 1u);
    for (int i = 0; i < mr; i++) {
        int32_t *ci = c + (size_t)i * ldc;
        __m512i r0 = acc[i][0], r1 = acc[i][1];
        if (add) {
            r0 = _mm512_add_epi32(r0, _mm512_maskz_loadu_epi32(m0, ci));
            r1 = _mm512_add_epi32(r1, _mm512_maskz_loadu_epi32(m1, ci + 16));
        }
        _mm512_mask_storeu_epi32(ci, m0, r0);
        _mm512_mask_storeu_epi32(ci + 16, m1, r1);
    }
}

#include "qgemm_block.h"
