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
 * of integers are exact in any order: the blocking cannot change C. */
#include <stdint.h>
#include <string.h>

/* k blocks of KQ quads: the B panel (KQ x NR x 4 bytes) in L1, the A block
 * (MC x KQ x 4) in L2, both on the stack. */
enum { KQ = 128, MC = 96 / MR * MR };

static void pack_a(const int8_t *a, int lda, int mr, int p0, int kc, uint8_t *ap)
{
    int nq = (kc + 3) / 4;
    memset(ap, 0, (size_t)nq * MR * 4);
    for (int i = 0; i < mr; i++)
        for (int p = 0; p < kc; p++)
            ap[(p / 4) * MR * 4 + i * 4 + p % 4] = (uint8_t)a[(size_t)i * lda + p0 + p];
}

static void pack_b(int tb, const uint8_t *b, int ldb, int j0, int nr, int p0, int kc,
                   uint8_t *bp)
{
    int nq = (kc + 3) / 4;
    memset(bp, 0, (size_t)nq * NR * 4);
    if (tb) { /* a column's k values are contiguous: whole quads at a time */
        for (int j = 0; j < nr; j++) {
            const uint8_t *col = b + (size_t)(j0 + j) * ldb + p0;
            for (int q = 0; q < kc / 4; q++)
                memcpy(bp + (size_t)q * NR * 4 + j * 4, col + 4 * q, 4);
            for (int p = kc / 4 * 4; p < kc; p++)
                bp[(size_t)(p / 4) * NR * 4 + j * 4 + p % 4] = col[p];
        }
        return;
    }
    for (int p = 0; p < kc; p++) {
        const uint8_t *row = b + (size_t)(p0 + p) * ldb + j0;
        uint8_t *dst = bp + (size_t)(p / 4) * NR * 4 + p % 4;
        for (int j = 0; j < nr; j++)
            dst[j * 4] = row[j];
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
