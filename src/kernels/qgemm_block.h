/* The blocked integer GEMM shared by the SIMD paths of qgemm (kernels.h).
 * The including file defines QGEMM_NAME, MR and NR (a multiple of 16) and
 *   static void tile(int nq, const uint8_t *ap, const uint8_t *bp, int32_t *c,
 *                    int ldc, int mr, int nr, int add)
 * the MR x NR micro-kernel over nq quads of k (C = or += the tile, only its
 * mr x nr live part stored), then includes this file.
 *
 * Both operands are packed in quads of k, the layout vpdpbusd multiplies:
 * A's row i as ap[q * MR * 4 + i * 4 + t] = a[i][4q + t], B's column j as
 * bp[q * NR * 4 + j * 4 + t] = b[4q + t][j], zero padded to MR rows, NR
 * columns and whole quads, so that every tile computes all its lanes.  Sums
 * of integers are exact in any order: the blocking cannot change C.  x86
 * only (the packer interleaves with SSE2). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* k blocks of KQ quads: the B panel (KQ x NR x 4 bytes) in L1, the A block
 * (MC x KQ x 4) in L2, both on the stack. */
enum { KQ = 128, MC = 96 / MR * MR };

/* Rows [0, rows) of a byte matrix (row t at src + t * ld), k range
 * [p0, p0 + kc), as quads: dst[q * width * 4 + t * 4 + u] = src[t][p0 + 4q + u],
 * zero padded to width rows and whole quads.  A quad of a row is a 32-bit
 * word, so blocks of 4 x 4 words are transposed in registers.  A's rows
 * (width MR) and, stored n x k, B's columns (width NR) pack this way. */
static void pack_words(const uint8_t *src, int ld, int rows, int p0, int kc, uint8_t *dst,
                       int width)
{
    int nq = (kc + 3) / 4, whole = kc / 4, t = 0;
    for (int q = 0; q < nq; q++) /* the rows past `rows`: zeros */
        memset(dst + (size_t)q * width * 4 + rows * 4, 0, (size_t)(width - rows) * 4);
    for (; t + 4 <= rows; t += 4) {
        const uint8_t *r[4];
        for (int u = 0; u < 4; u++)
            r[u] = src + (size_t)(t + u) * ld + p0;
        int q = 0;
        for (; q + 4 <= whole; q += 4) {
            __m128 w0 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(r[0] + 4 * q)));
            __m128 w1 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(r[1] + 4 * q)));
            __m128 w2 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(r[2] + 4 * q)));
            __m128 w3 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(r[3] + 4 * q)));
            _MM_TRANSPOSE4_PS(w0, w1, w2, w3);
            _mm_storeu_ps((float *)(dst + (size_t)q * width * 4 + t * 4), w0);
            _mm_storeu_ps((float *)(dst + (size_t)(q + 1) * width * 4 + t * 4), w1);
            _mm_storeu_ps((float *)(dst + (size_t)(q + 2) * width * 4 + t * 4), w2);
            _mm_storeu_ps((float *)(dst + (size_t)(q + 3) * width * 4 + t * 4), w3);
        }
        for (; q < whole; q++)
            for (int u = 0; u < 4; u++)
                memcpy(dst + (size_t)q * width * 4 + (t + u) * 4, r[u] + 4 * q, 4);
    }
    for (; t < rows; t++)
        for (int q = 0; q < whole; q++)
            memcpy(dst + (size_t)q * width * 4 + t * 4, src + (size_t)t * ld + p0 + 4 * q, 4);
    if (whole < nq) /* the last, partial quad */
        for (t = 0; t < rows; t++)
            for (int u = 0; u < 4; u++)
                dst[(size_t)whole * width * 4 + t * 4 + u] =
                    4 * whole + u < kc ? src[(size_t)t * ld + p0 + 4 * whole + u] : 0;
}

static void pack_a(const int8_t *a, int lda, int mr, int p0, int kc, uint8_t *ap)
{
    pack_words((const uint8_t *)a, lda, mr, p0, kc, ap, MR);
}

/* op(B)'s columns [j0, j0 + nr), k range [p0, p0 + kc), as quads, zero
 * padded to NR columns. */
static void pack_b(int tb, const uint8_t *b, int ldb, int j0, int nr, int p0, int kc,
                   uint8_t *bp)
{
    if (tb) {
        pack_words(b + (size_t)j0 * ldb, ldb, nr, p0, kc, bp, NR);
        return;
    }
    int nq = (kc + 3) / 4;
    for (int q = 0; q < nq; q++) /* the columns past nr: zeros */
        memset(bp + (size_t)q * NR * 4 + nr * 4, 0, (size_t)(NR - nr) * 4);
    /* four rows at a time, interleaved bytewise: 8 or 16 columns a step */
    static const uint8_t zeros[NR];
    for (int q = 0; q < nq; q++) {
        const uint8_t *r[4];
        for (int t = 0; t < 4; t++)
            r[t] = 4 * q + t < kc ? b + (size_t)(p0 + 4 * q + t) * ldb + j0 : zeros;
        uint8_t *dst = bp + (size_t)q * NR * 4;
        int j = 0;
        for (; j + 16 <= nr; j += 16) {
            __m128i r0 = _mm_loadu_si128((const __m128i *)(r[0] + j));
            __m128i r1 = _mm_loadu_si128((const __m128i *)(r[1] + j));
            __m128i r2 = _mm_loadu_si128((const __m128i *)(r[2] + j));
            __m128i r3 = _mm_loadu_si128((const __m128i *)(r[3] + j));
            __m128i t0 = _mm_unpacklo_epi8(r0, r1), t1 = _mm_unpackhi_epi8(r0, r1);
            __m128i t2 = _mm_unpacklo_epi8(r2, r3), t3 = _mm_unpackhi_epi8(r2, r3);
            _mm_storeu_si128((__m128i *)(dst + j * 4), _mm_unpacklo_epi16(t0, t2));
            _mm_storeu_si128((__m128i *)(dst + j * 4 + 16), _mm_unpackhi_epi16(t0, t2));
            _mm_storeu_si128((__m128i *)(dst + j * 4 + 32), _mm_unpacklo_epi16(t1, t3));
            _mm_storeu_si128((__m128i *)(dst + j * 4 + 48), _mm_unpackhi_epi16(t1, t3));
        }
        for (; j + 8 <= nr; j += 8) {
            __m128i t0 = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(r[0] + j)),
                                           _mm_loadl_epi64((const __m128i *)(r[1] + j)));
            __m128i t2 = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(r[2] + j)),
                                           _mm_loadl_epi64((const __m128i *)(r[3] + j)));
            _mm_storeu_si128((__m128i *)(dst + j * 4), _mm_unpacklo_epi16(t0, t2));
            _mm_storeu_si128((__m128i *)(dst + j * 4 + 16), _mm_unpackhi_epi16(t0, t2));
        }
        for (; j < nr; j++)
            for (int t = 0; t < 4; t++)
                dst[j * 4 + t] = r[t][j];
    }
}

void QGEMM_NAME(int tb, int m, int n, int k, const int8_t *a, int lda, const uint8_t *b,
                int ldb, int32_t *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            memset(c + (size_t)i * ldc, 0, sizeof(int32_t) * (size_t)n);
        return;
    }
    _Alignas(64) uint8_t ap[MC * KQ * 4];
    _Alignas(64) uint8_t bp[KQ * NR * 4];
    for (int pc = 0; pc < k; pc += KQ * 4) {
        int kc = k - pc < KQ * 4 ? k - pc : KQ * 4, nq = (kc + 3) / 4;
        for (int ic = 0; ic < m; ic += MC) {
            int mc = m - ic < MC ? m - ic : MC;
            for (int ir = 0; ir < mc; ir += MR)
                pack_a(a + (size_t)(ic + ir) * lda, lda, mc - ir < MR ? mc - ir : MR, pc, kc,
                       ap + (size_t)ir * nq * 4);
            for (int jr = 0; jr < n; jr += NR) {
                int nr = n - jr < NR ? n - jr : NR;
                pack_b(tb, b, ldb, jr, nr, pc, kc, bp);
                for (int ir = 0; ir < mc; ir += MR)
                    tile(nq, ap + (size_t)ir * nq * 4, bp, c + (size_t)(ic + ir) * ldc + jr, ldc,
                         mc - ir < MR ? mc - ir : MR, nr, pc > 0);
            }
        }
    }
}
