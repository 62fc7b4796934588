/* The Winograd transforms (kernels.h, winograd.c) for AVX-512F: a row of up
 * to 16 tiles in one masked step (the rows of these networks are 12 or 13
 * tiles long, too short for a loop with a tail).  The same additions as
 * the reference, in the same order, lane by lane: the same bits. */
#include "kernels.h"

#include <immintrin.h>

static inline __mmask16 first_lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u);
}

/* Lanes [0, n) of 32 floats from p as two vectors, nothing read beyond. */
static inline void load32(const float *p, int n, __m512 *lo, __m512 *hi)
{
    *lo = _mm512_maskz_loadu_ps(first_lanes(n), p);
    *hi = _mm512_maskz_loadu_ps(first_lanes(n - 16), p + 16);
}

/* The even and the odd lanes of 32 floats (lo, then hi), each as a vector
 * of 16. */
static inline void deinterleave(__m512 lo, __m512 hi, __m512 *even, __m512 *odd)
{
    const __m512i at = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *even = _mm512_permutex2var_ps(lo, at, hi);
    *odd = _mm512_permutex2var_ps(lo, _mm512_add_epi32(at, _mm512_set1_epi32(1)), hi);
}

void winograd_in_avx512(const float *in, int cin, size_t plane, int pitch, int tw, int first,
                        int count, float *v)
{
    size_t xi_apart = (size_t)count;
    for (int i = 0; i < cin; i++)
        for (int t = first, n; t < first + count; t += n) {
            n = winograd_run(t, tw, first + count, 16);
            __mmask16 live = first_lanes(n);
            const float *r = in + i * plane + (size_t)2 * (t / tw) * pitch + 2 * (t % tw);
            /* each row's columns [0, 2n) and, two on, [2, 2n + 2) */
            __m512 a[4][2], b[4][2];
            for (int k = 0; k < 4; k++) {
                load32(r + (size_t)k * pitch, 2 * n, &a[k][0], &a[k][1]);
                load32(r + (size_t)k * pitch + 2, 2 * n, &b[k][0], &b[k][1]);
            }
            __m512 s[4][2], s2[4][2]; /* B^T d, at both offsets */
            for (int h = 0; h < 2; h++) {
                s[0][h] = _mm512_sub_ps(a[0][h], a[2][h]);
                s[1][h] = _mm512_add_ps(a[1][h], a[2][h]);
                s[2][h] = _mm512_sub_ps(a[2][h], a[1][h]);
                s[3][h] = _mm512_sub_ps(a[1][h], a[3][h]);
                s2[0][h] = _mm512_sub_ps(b[0][h], b[2][h]);
                s2[1][h] = _mm512_add_ps(b[1][h], b[2][h]);
                s2[2][h] = _mm512_sub_ps(b[2][h], b[1][h]);
                s2[3][h] = _mm512_sub_ps(b[1][h], b[3][h]);
            }
            float *dst = v + (size_t)16 * i * count + (t - first);
            for (int k = 0; k < 4; k++) {
                /* tile tx's columns: e[tx], o[tx], e1[tx], o1[tx] */
                __m512 e, o, e1, o1;
                deinterleave(s[k][0], s[k][1], &e, &o);
                deinterleave(s2[k][0], s2[k][1], &e1, &o1);
                float *d = dst + (size_t)(4 * k) * xi_apart;
                _mm512_mask_storeu_ps(d, live, _mm512_sub_ps(e, e1));
                _mm512_mask_storeu_ps(d + xi_apart, live, _mm512_add_ps(o, e1));
                _mm512_mask_storeu_ps(d + 2 * xi_apart, live, _mm512_sub_ps(e1, o));
                _mm512_mask_storeu_ps(d + 3 * xi_apart, live, _mm512_sub_ps(o, o1));
            }
        }
}

void winograd_out_avx512(const float *m, int cout, int tw, int first, int count, float *out,
                         size_t out_plane)
{
    /* interleave lanes 0..7 of e and o as e0 o0 e1 o1 ..., then 8..15 */
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                             23);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    size_t xi_apart = (size_t)count;
    int width = 2 * tw;
    for (int o = 0; o < cout; o++)
        for (int t = first, n; t < first + count; t += n) {
            n = winograd_run(t, tw, first + count, 16);
            __mmask16 live = first_lanes(n);
            const float *src = m + (size_t)16 * o * count + (t - first);
            __m512 x[16];
            for (int xi = 0; xi < 16; xi++)
                x[xi] = _mm512_maskz_loadu_ps(live, src + xi * xi_apart);
            for (int r = 0; r < 2; r++) {
                __m512 a[4]; /* row r of A^T m */
                for (int j = 0; j < 4; j++)
                    a[j] = r == 0 ? _mm512_add_ps(_mm512_add_ps(x[j], x[4 + j]), x[8 + j])
                                  : _mm512_sub_ps(_mm512_sub_ps(x[4 + j], x[8 + j]), x[12 + j]);
                __m512 y0 = _mm512_add_ps(_mm512_add_ps(a[0], a[1]), a[2]);
                __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(a[1], a[2]), a[3]);
                float *row = out + o * out_plane + (size_t)(2 * (t / tw) + r) * width;
                row += 2 * (t % tw);
                _mm512_mask_storeu_ps(row, first_lanes(2 * n),
                                      _mm512_permutex2var_ps(y0, lo_idx, y1));
                _mm512_mask_storeu_ps(row + 16, first_lanes(2 * n - 16),
                                      _mm512_permutex2var_ps(y0, hi_idx, y1));
            }
        }
}

/* -v as C's unary minus: the sign bit flipped (0 - v would turn -0 into
 * +0). */
static inline __m512 negate(__m512 v)
{
    return _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u)));
}

void winograd_dy_avx512(const float *dy, int cout, size_t plane, int pitch, int tw, int first,
                        int count, float *m)
{
    size_t xi_apart = (size_t)count;
    for (int o = 0; o < cout; o++)
        for (int t = first, n; t < first + count; t += n) {
            n = winograd_run(t, tw, first + count, 16);
            __mmask16 live = first_lanes(n);
            const float *r = dy + o * plane + (size_t)2 * (t / tw) * pitch + 2 * (t % tw);
            __m512 z[2][4]; /* dy A^T */
            for (int a = 0; a < 2; a++) {
                __m512 lo, hi;
                load32(r + (size_t)a * pitch, 2 * n, &lo, &hi);
                __m512 e, od;
                deinterleave(lo, hi, &e, &od);
                z[a][0] = e;
                z[a][1] = _mm512_add_ps(e, od);
                z[a][2] = _mm512_sub_ps(e, od);
                z[a][3] = negate(od);
            }
            float *d = m + (size_t)16 * o * count + (t - first);
            for (int j = 0; j < 4; j++) { /* A (dy A^T) */
                _mm512_mask_storeu_ps(d + j * xi_apart, live, z[0][j]);
                _mm512_mask_storeu_ps(d + (4 + j) * xi_apart, live,
                                      _mm512_add_ps(z[0][j], z[1][j]));
                _mm512_mask_storeu_ps(d + (8 + j) * xi_apart, live,
                                      _mm512_sub_ps(z[0][j], z[1][j]));
                _mm512_mask_storeu_ps(d + (12 + j) * xi_apart, live, negate(z[1][j]));
            }
        }
}
