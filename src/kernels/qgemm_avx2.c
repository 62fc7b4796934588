/* The integer GEMM (kernels.h) on AVX2: bytes widened to 16-bit lanes and
 * multiplied by vpmaddwd, which adds each 2 products into an int32 lane (a
 * quad of k is then two lanes, added when the tile is stored).  Exact: the
 * 16-bit products cannot saturate, unlike vpmaddubsw's.  A 6 x 8 tile: 12
 * accumulators of the 16 registers. */
#include "kernels.h"

#include <immintrin.h>

#define QGEMM_NAME qgemm_avx2
#define MR 6
#define NR 8

static void tile(int nq, const uint8_t *ap, const uint8_t *bp, int32_t *c, int ldc, int mr,
                 int nr, int add)
{
    __m256i acc[MR][2];
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (int q = 0; q < nq; q++, ap += MR * 4, bp += NR * 4) {
        /* columns 0-3 and 4-7, each as its 4 k values in 16 bits */
        __m256i b0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)bp));
        __m256i b1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(bp + 16)));
        for (int i = 0; i < MR; i++) {
            int32_t quad;
            memcpy(&quad, ap + i * 4, 4);
            __m256i ai = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(quad)));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(b0, ai));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(b1, ai));
        }
    }
    __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr),
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int i = 0; i < mr; i++) {
        int32_t *ci = c + (size_t)i * ldc;
        /* lanes (c0 c0 c1 c1 c2 c2 c3 c3), (c4 ... c7): pairs added, in order */
        __m256i r = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xD8);
        if (add)
            r = _mm256_add_epi32(r, _mm256_maskload_epi32(ci, live));
        _mm256_maskstore_epi32(ci, live, r);
    }
}

#include "qgemm_block.h"
