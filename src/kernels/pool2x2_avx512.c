/* 2x2 max-pooling of a pair of rows and its adjoint (kernels.h) for
 * AVX-512F: 16 outputs a step, a map row of up to 16 outputs in one masked
 * step (the rows of these networks are 5 to 14 outputs long, too short for
 * a loop with a scalar tail).  The same comparisons as the reference, lane by
 * lane, so the same bits. */
#include "kernels.h"

#include <immintrin.h>

/* Lanes [0, n) of 32 floats from p, as two vectors of 16, loading nothing
 * beyond them (masked loads do not fault). */
static inline void load32(const float *p, int n, __m512 *lo, __m512 *hi)
{
    __mmask16 mlo = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1u);
    __mmask16 mhi = n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1u);
    *lo = _mm512_maskz_loadu_ps(mlo, p);
    *hi = _mm512_maskz_loadu_ps(mhi, p + 16);
}

static inline void store32(float *p, int n, __m512 lo, __m512 hi)
{
    __mmask16 mlo = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1u);
    __mmask16 mhi = n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1u);
    _mm512_mask_storeu_ps(p, mlo, lo);
    _mm512_mask_storeu_ps(p + 16, mhi, hi);
}

void pool2x2_rows_avx512(const float *r0, const float *r1, int n, float bias, int relu, int w,
                         int base, float *out, int *at)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 vbias = _mm512_set1_ps(bias), zero = _mm512_setzero_ps();
    const __m512i vw = _mm512_set1_epi32(w), one = _mm512_set1_epi32(1);
    for (int x = 0; x < n; x += 16) {
        int live = n - x < 16 ? n - x : 16;
        __mmask16 m = (__mmask16)((1u << live) - 1u);
        __m512 lo, hi;
        load32(r0 + 2 * x, 2 * live, &lo, &hi);
        __m512 a = _mm512_add_ps(_mm512_permutex2var_ps(lo, even, hi), vbias);
        __m512 b = _mm512_add_ps(_mm512_permutex2var_ps(lo, odd, hi), vbias);
        load32(r1 + 2 * x, 2 * live, &lo, &hi);
        __m512 c = _mm512_add_ps(_mm512_permutex2var_ps(lo, even, hi), vbias);
        __m512 d = _mm512_add_ps(_mm512_permutex2var_ps(lo, odd, hi), vbias);
        if (relu) { /* max(v, 0) returns the 0 for NaN and -0, as v > 0 ? v : 0 */
            a = _mm512_max_ps(a, zero), b = _mm512_max_ps(b, zero);
            c = _mm512_max_ps(c, zero), d = _mm512_max_ps(d, zero);
        }
        __mmask16 top = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
        __mmask16 bottom = _mm512_cmp_ps_mask(d, c, _CMP_GT_OQ);
        __m512 t = _mm512_mask_blend_ps(top, a, b), u = _mm512_mask_blend_ps(bottom, c, d);
        __mmask16 down = _mm512_cmp_ps_mask(u, t, _CMP_GT_OQ);
        _mm512_mask_storeu_ps(out + x, m, _mm512_mask_blend_ps(down, t, u));
        /* base + 2x + (down ? w + bottom : top) */
        __m512i off = _mm512_mask_blend_epi32(top, _mm512_setzero_si512(), one);
        off = _mm512_mask_blend_epi32(down, off,
                                      _mm512_mask_add_epi32(vw, bottom, vw, one));
        __m512i pos = _mm512_add_epi32(_mm512_set1_epi32(base + 2 * x),
                                       _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7,
                                                                           8, 9, 10, 11, 12, 13,
                                                                           14, 15),
                                                         1));
        _mm512_mask_storeu_epi32(at + x, m, _mm512_add_epi32(pos, off));
    }
}

void unpool2x2_rows_avx512(const float *dy, const float *y, const int *at, int n, int w,
                           int base, float *g0, float *g1)
{
    /* interleave: lanes 0..7 of e and o as e0 o0 e1 o1 ..., then 8..15 */
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                             23);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    const __m512i lanes2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                             28, 30);
    const __m512i vw = _mm512_set1_epi32(w), vw1 = _mm512_set1_epi32(w + 1);
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    for (int x = 0; x < n; x += 16) {
        int live = n - x < 16 ? n - x : 16;
        __mmask16 m = (__mmask16)((1u << live) - 1u);
        __m512 g = _mm512_maskz_loadu_ps(m, dy + x);
        if (y)
            g = _mm512_maskz_mov_ps(
                _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, y + x), _mm512_setzero_ps(),
                                   _CMP_GT_OQ),
                g);
        __m512i off = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, at + x),
                                       _mm512_add_epi32(_mm512_set1_epi32(base + 2 * x), lanes2));
        __m512 e0 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, zero), g);
        __m512 o0 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, one), g);
        __m512 e1 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, vw), g);
        __m512 o1 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, vw1), g);
        store32(g0 + 2 * x, 2 * live, _mm512_permutex2var_ps(e0, lo_idx, o0),
                _mm512_permutex2var_ps(e0, hi_idx, o0));
        store32(g1 + 2 * x, 2 * live, _mm512_permutex2var_ps(e1, lo_idx, o1),
                _mm512_permutex2var_ps(e1, hi_idx, o1));
    }
}
