/* The blocked SGEMM shared by the SIMD paths.  Each path defines its vector
 * operations and tile size, then includes this file, so the packing, the
 * blocking and the order of every sum are written once.
 *
 * The including file defines:
 *   GEMM_NAME              the public function to define (a gemm_fn)
 *   VL                     floats per vector
 *   MR, NV                 the register tile: MR rows of C by NV vectors (NR = NV * VL)
 *   vec, vmask             the vector and lane-mask types
 *   vzero() vload(p) vstore(p, v) vfma(a, b, acc) vadd(a, b) vbcast(p)
 *   vmask_first(n)         a mask of the first n lanes, 1 <= n <= VL
 *   vload_mask(p, m) vstore_mask(p, m, v)  touch only the masked lanes
 *
 * The algorithm (Goto / BLIS style, sized for these small CNN shapes):
 *   for each block of NC columns of C
 *     for each block of k (fixed blocks of kc, ascending)
 *       B^T: pack the block into NR-wide panels; plain B is read in place
 *       for each MR rows of C: pack A's rows (k-major), then
 *         for each NR columns: the micro-kernel, C tile held in registers
 *
 * Determinism: an element of C is  (((C0 + s1) + s2) + ...)  (no C0 when
 * beta = 0), where s1, s2, ... are the sums over the k blocks, each an FMA
 * chain in ascending k starting from zero.  The k blocks depend on k alone and
 * edge tiles run the same FMA chain with masked lanes, so an element's value
 * does not depend on where it sits in C: splitting C between threads, at any
 * row or column, gives bit-identical results. */
#include <stddef.h>
#include <string.h>

#define NR (NV * VL)

/* kc is at most KC_MAX; KC_MAX = 320 keeps the K = 150 and K = 288 conv
 * shapes in one block, and an A panel (MR x KC_MAX) in L1. */
#ifndef KC_MAX
#define KC_MAX 320
#endif
/* Columns per block.  Packed B^T panels live on the stack: KC_MAX x NC_PACK
 * floats = 160 KB, modest enough for worker-thread stacks.  Plain B is read in
 * place, so its block is bounded only by L2 (KC_MAX x NC_DIRECT = 480 KB). */
#ifndef NC_PACK
#define NC_PACK 128
#endif
#ifndef NC_DIRECT
#define NC_DIRECT 384
#endif
#ifndef KUNROLL
#define KUNROLL 1
#endif
#define PRAGMA_(x) _Pragma(#x)
#define UNROLL_K(n) PRAGMA_(GCC unroll n)

/* One MR x NR tile (mr x nr live): C = acc or C += acc.  Called with
 * constant mr, nv and edge so that the accumulators stay in registers. */
static inline __attribute__((always_inline)) void
tile(const int mr, const int nv, const int edge, int kc, const float *ap, const float *b,
     int ldb, float *c, int ldc, int nr, int add)
{
    vec acc[MR][NV];
    const vmask last = vmask_first(edge ? nr - (nv - 1) * VL : VL);
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[i][v] = vzero();
    UNROLL_K(KUNROLL)
    for (int p = 0; p < kc; p++, ap += MR, b += ldb) {
        vec bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            bv[v] = edge && v == nv - 1 ? vload_mask(b + v * VL, last) : vload(b + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            vec ai = vbcast(ap + i);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[i][v] = vfma(ai, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            float *ci = c + (size_t)i * ldc + v * VL;
            vec r = acc[i][v];
            if (edge && v == nv - 1) {
                if (add)
                    r = vadd(vload_mask(ci, last), r);
                vstore_mask(ci, last, r);
            } else {
                if (add)
                    r = vadd(vload(ci), r);
                vstore(ci, r);
            }
        }
}

/* The tile variant for this row count: small M (6, 8, 16 ...) costs only the
 * rows it uses. */
static inline __attribute__((always_inline)) void
rows(const int nv, const int edge, int mr, int nr, int kc, const float *ap, const float *b,
     int ldb, float *c, int ldc, int add)
{
    switch (mr) {
    case 1: tile(1, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
    case 2: tile(2, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
    case 3: tile(3, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
    case 4: tile(4, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
    case 5: tile(5, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
#if MR > 6
    case 6: tile(6, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
    case 7: tile(7, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
#endif
#if MR > 8
#error "rows() handles MR <= 8"
#endif
    default: tile(MR, nv, edge, kc, ap, b, ldb, c, ldc, nr, add); break;
    }
}

/* One tile of C, mr x nr, 1 <= mr <= MR, 1 <= nr <= NR.  A ragged right edge
 * uses only the vectors it needs, the last one masked. */
static void kernel(int mr, int nr, int kc, const float *ap, const float *b, int ldb,
                   float *c, int ldc, int add)
{
    if (nr == NR) {
        rows(NV, 0, mr, nr, kc, ap, b, ldb, c, ldc, add);
        return;
    }
    switch ((nr + VL - 1) / VL) {
    case 1: rows(1, 1, mr, nr, kc, ap, b, ldb, c, ldc, add); break;
#if NV > 2
    case 2: rows(2, 1, mr, nr, kc, ap, b, ldb, c, ldc, add); break;
#endif
#if NV > 3
#error "kernel() handles NV <= 3"
#endif
    default: rows(NV, 1, mr, nr, kc, ap, b, ldb, c, ldc, add); break;
    }
}

/* A's rows [i0, i0 + mr) and k range [p0, p0 + kc) as a k-major panel:
 * ap[p * MR + i], so the micro-kernel broadcasts from consecutive floats. */
static void pack_a(int ta, const float *a, int lda, int i0, int mr, int p0, int kc,
                   float *ap)
{
    if (ta) {
        for (int p = 0; p < kc; p++) {
            const float *src = a + (size_t)(p0 + p) * lda + i0;
            for (int i = 0; i < mr; i++)
                ap[p * MR + i] = src[i];
        }
    } else {
        for (int i = 0; i < mr; i++) {
            const float *src = a + (size_t)(i0 + i) * lda + p0;
            for (int p = 0; p < kc; p++)
                ap[p * MR + i] = src[p];
        }
    }
}

/* B^T's block (B is n x k): columns [j0, j0 + nc) of op(B) and k range
 * [p0, p0 + kc) as NR-wide k-major panels, zero padded to NR. */
static void pack_bt(const float *b, int ldb, int j0, int nc, int p0, int kc, float *bp)
{
    for (int jr = 0; jr < nc; jr += NR) {
        float *panel = bp + (size_t)jr * kc;
        int nr = nc - jr < NR ? nc - jr : NR;
        for (int j = 0; j < nr; j++) {
            const float *src = b + (size_t)(j0 + jr + j) * ldb + p0;
            for (int p = 0; p < kc; p++)
                panel[p * NR + j] = src[p];
        }
        for (int p = 0; p < kc && nr < NR; p++)
            memset(panel + p * NR + nr, 0, sizeof(float) * (size_t)(NR - nr));
    }
}

/* B's block (B is k x n) as NR-wide k-major panels, zero padded to NR. */
static void pack_b(const float *b, int ldb, int j0, int nc, int p0, int kc, float *bp)
{
    for (int jr = 0; jr < nc; jr += NR) {
        float *panel = bp + (size_t)jr * kc;
        int nr = nc - jr < NR ? nc - jr : NR;
        for (int p = 0; p < kc; p++) {
            memcpy(panel + p * NR, b + (size_t)(p0 + p) * ldb + j0 + jr, sizeof(float) * (size_t)nr);
            if (nr < NR)
                memset(panel + p * NR + nr, 0, sizeof(float) * (size_t)(NR - nr));
        }
    }
}

void GEMM_NAME(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
               int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        if (beta == 0.0f)
            for (int i = 0; i < m; i++)
                memset(c + (size_t)i * ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
    /* Equal k blocks, a function of k alone (see Determinism above). */
    int nblocks = (k + KC_MAX - 1) / KC_MAX;
    int kblock = (k + nblocks - 1) / nblocks;
#ifndef MC
#define MC 64
#endif
#ifdef IR_INNER
    _Alignas(64) float ap[MC * KC_MAX];
#else
    _Alignas(64) float ap[MR * KC_MAX];
#endif
    _Alignas(64) float bp[KC_MAX * NC_PACK]; /* used only for B^T */
#ifdef PACK_ALL
    int packb = 1;
#else
    int packb = tb;
#endif
    int ncmax = packb ? NC_PACK : NC_DIRECT;

    for (int jc = 0; jc < n; jc += ncmax) {
        int nc = n - jc < ncmax ? n - jc : ncmax;
        for (int pc = 0; pc < k; pc += kblock) {
            int kc = k - pc < kblock ? k - pc : kblock;
            int add = pc > 0 || beta != 0.0f;
            if (tb)
                pack_bt(b, ldb, jc, nc, pc, kc, bp);
            else if (packb)
                pack_b(b, ldb, jc, nc, pc, kc, bp);
#ifdef IR_INNER
            for (int ic = 0; ic < m; ic += MC) {
                int mc = m - ic < MC ? m - ic : MC;
                for (int ir = 0; ir < mc; ir += MR)
                    pack_a(ta, a, lda, ic + ir, mc - ir < MR ? mc - ir : MR, pc, kc, ap + (size_t)ir * kc);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *bb = packb ? bp + (size_t)jr * kc : b + (size_t)pc * ldb + jc + jr;
                    int bld = packb ? NR : ldb;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        kernel(mr, nr, kc, ap + (size_t)ir * kc, bb, bld, c + (size_t)(ic + ir) * ldc + jc + jr, ldc, add);
                    }
                }
            }
#else
            for (int ir = 0; ir < m; ir += MR) {
                int mr = m - ir < MR ? m - ir : MR;
                pack_a(ta, a, lda, ir, mr, pc, kc, ap);
                float *cr = c + (size_t)ir * ldc + jc;
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    if (packb)
                        kernel(mr, nr, kc, ap, bp + (size_t)jr * kc, NR, cr + jr, ldc, add);
                    else
                        kernel(mr, nr, kc, ap, b + (size_t)pc * ldb + jc + jr, ldb, cr + jr,
                               ldc, add);
                }
            }
#endif
        }
    }
}

#undef NR
