/* The blocked SGEMM shared by the SIMD paths.  Each path defines its vector
 * operations and tile size, then includes this file, so the packing, the
 * blocking and the order of every sum are written once.
 *
 * The including file defines (on x86 it compiles for at least AVX, which
 * the transposing packer uses there; in WebAssembly the packer uses SIMD128,
 * elsewhere it is plain C):
 *   GEMM_NAME, GEMM_ROWS_NAME  the public functions to define (a gemm_fn and a
 *                          gemm_rows_fn)
 *   VL                     floats per vector
 *   MR, NV                 the register tile: MR rows of C by NV vectors (NR = NV * VL)
 *   vec, vmask             the vector and lane-mask types
 *   vzero() vload(p) vstore(p, v) vfma(a, b, acc) vadd(a, b) vbcast(p)
 *   vmask_first(n)         a mask of the first n lanes, 1 <= n <= VL
 *   vsum(v)                the sum of v's lanes, in a fixed order
 *   vload_mask(p, m) vstore_mask(p, m, v)  touch only the masked lanes
 *
 * The algorithm (Goto / BLIS style, sized for these small CNN shapes):
 *   for each block of k (equal blocks of at most KC_MAX, ascending)
 *     for each block of MC rows of C: pack them of op(A), k-major
 *       for each NR columns of C: pack them of op(B), k-major (or, when C
 *       has at most two rows of tiles, read B's rows in place)
 *         for each MR rows: the micro-kernel, the C tile in registers
 * Small M (6, 8, 16 ...) and ragged N run tile variants compiled for their
 * exact rows and vectors, so they cost only the lanes they use.
 *
 * It also defines DOT_NAME, the path's dot_rows (kernels.h).
 *
 * Determinism: an element of C is  (((C0 + s1) + s2) + ...)  (no C0 when
 * beta = 0), where s1, s2, ... are the sums over the k blocks, each an FMA
 * chain in ascending k starting from zero.  The k blocks depend on k alone and
 * edge tiles run the same FMA chain with masked lanes, so an element's value
 * does not depend on where it sits in C: splitting C between threads, at any
 * row or column, gives bit-identical results. */
#ifdef __AVX__
#include <immintrin.h>
#endif
#include <stddef.h>
#include <string.h>

#define NR (NV * VL)

/* The tile's loops over rows and vectors unrolled in full, so that the
 * accumulators live in registers.  clang reads "GCC unroll N" as a partial
 * unroll and left them in memory: the WebAssembly GEMM ran at 10 GFLOP/s
 * instead of 25 (docs/performance.md). */
#ifdef __clang__
#define UNROLL _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

/* Blocking, for L1 = 32 KB and L2 >= 256 KB, and the stack: the packed
 * B micro-panel (kc x NR, read once per MR rows) stays in L1, the packed A
 * block (MC x kc, MC a multiple of MR) in L2; together at most
 * (MC + NR) x KC_MAX floats = 160 KB on the stack, modest enough for worker
 * threads.  k blocks are equal and at most KC_MAX long, so K = 150 is one
 * block and K = 288 two. */
enum { KC_MAX = 256, MC = 128 / MR * MR };
/* Up to this many rows of C, B is read where it lies instead of packed:
 * measured on the presets, reading in place wins at 1 or 2 rows of tiles,
 * ties at 4 and loses at 8 (convnet's 64 filters). */
#ifndef DIRECT_B_ROWS
#define DIRECT_B_ROWS (2 * MR)
#endif

/* One MR x NR tile (mr x nr live): C = acc or C += acc.  B's row p is at
 * b + brow[p] if brow is not NULL, else at b + p * ldb.  Called with
 * constant mr, nv, edge and (brow != NULL) so that the accumulators stay in
 * registers. */
static inline __attribute__((always_inline)) void
tile(const int mr, const int nv, const int edge, int kc, const float *ap, const float *b,
     int ldb, const size_t *brow, float *c, int ldc, int nr, int add)
{
    vec acc[MR][NV];
    const vmask last = vmask_first(edge ? nr - (nv - 1) * VL : VL);
UNROLL
    for (int i = 0; i < mr; i++)
UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = vzero();
    for (int p = 0; p < kc; p++, ap += MR) {
        const float *bp = brow ? b + brow[p] : b + (size_t)p * ldb;
        vec bv[NV];
UNROLL
        for (int v = 0; v < nv; v++)
            bv[v] = edge && v == nv - 1 ? vload_mask(bp + v * VL, last) : vload(bp + v * VL);
UNROLL
        for (int i = 0; i < mr; i++) {
            vec ai = vbcast(ap + i);
UNROLL
            for (int v = 0; v < nv; v++)
                acc[i][v] = vfma(ai, bv[v], acc[i][v]);
        }
    }
UNROLL
    for (int i = 0; i < mr; i++)
UNROLL
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
     int ldb, const size_t *brow, float *c, int ldc, int add)
{
    switch (mr) {
    case 1: tile(1, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
    case 2: tile(2, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
    case 3: tile(3, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
    case 4: tile(4, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
    case 5: tile(5, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
#if MR > 6
    case 6: tile(6, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
    case 7: tile(7, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
#endif
#if MR > 8
#error "rows() handles MR <= 8"
#endif
    default: tile(MR, nv, edge, kc, ap, b, ldb, brow, c, ldc, nr, add); break;
    }
}

/* One tile of C, mr x nr, 1 <= mr <= MR, 1 <= nr <= NR.  A ragged right edge
 * uses only the vectors it needs, the last one masked. */
static inline __attribute__((always_inline)) void
kernel_b(int mr, int nr, int kc, const float *ap, const float *b, int ldb, const size_t *brow,
         float *c, int ldc, int add)
{
    if (nr == NR) {
        rows(NV, 0, mr, nr, kc, ap, b, ldb, brow, c, ldc, add);
        return;
    }
    switch ((nr + VL - 1) / VL) {
    case 1: rows(1, 1, mr, nr, kc, ap, b, ldb, brow, c, ldc, add); break;
#if NV > 2
    case 2: rows(2, 1, mr, nr, kc, ap, b, ldb, brow, c, ldc, add); break;
#endif
#if NV > 3
#error "kernel() handles NV <= 3"
#endif
    default: rows(NV, 1, mr, nr, kc, ap, b, ldb, brow, c, ldc, add); break;
    }
}

/* The tile with B's rows ldb apart (a packed panel, or B read in place)... */
static void kernel(int mr, int nr, int kc, const float *ap, const float *b, int ldb,
                   float *c, int ldc, int add)
{
    kernel_b(mr, nr, kc, ap, b, ldb, NULL, c, ldc, add);
}

/* ... or each at its own offset (a convolution's shifted input rows). */
static void kernel_rows(int mr, int nr, int kc, const float *ap, const float *b,
                        const size_t *brow, float *c, int ldc, int add)
{
    kernel_b(mr, nr, kc, ap, b, 0, brow, c, ldc, add);
}

#ifdef __AVX__
/* 8 rows of 8 floats, transposed in registers: r[t][j] <- r[j][t]. */
static inline __attribute__((always_inline)) void transpose8(__m256 r[8])
{
    __m256 a0 = _mm256_unpacklo_ps(r[0], r[1]), a1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 a2 = _mm256_unpacklo_ps(r[2], r[3]), a3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 a4 = _mm256_unpacklo_ps(r[4], r[5]), a5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 a6 = _mm256_unpacklo_ps(r[6], r[7]), a7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44), b1 = _mm256_shuffle_ps(a0, a2, 0xee);
    __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44), b3 = _mm256_shuffle_ps(a1, a3, 0xee);
    __m256 b4 = _mm256_shuffle_ps(a4, a6, 0x44), b5 = _mm256_shuffle_ps(a4, a6, 0xee);
    __m256 b6 = _mm256_shuffle_ps(a5, a7, 0x44), b7 = _mm256_shuffle_ps(a5, a7, 0xee);
    r[0] = _mm256_permute2f128_ps(b0, b4, 0x20);
    r[1] = _mm256_permute2f128_ps(b1, b5, 0x20);
    r[2] = _mm256_permute2f128_ps(b2, b6, 0x20);
    r[3] = _mm256_permute2f128_ps(b3, b7, 0x20);
    r[4] = _mm256_permute2f128_ps(b0, b4, 0x31);
    r[5] = _mm256_permute2f128_ps(b1, b5, 0x31);
    r[6] = _mm256_permute2f128_ps(b2, b6, 0x31);
    r[7] = _mm256_permute2f128_ps(b3, b7, 0x31);
}

/* Rows [0, rows) of a matrix, k range [0, kc), transposed into a k-major
 * panel dst[p * width + j], rows <= width, zero padded to width.  Row t
 * starts at src + row[t] if row is not NULL, else at src + t * ld.  Blocks
 * of 8 x 8 go through registers (AVX, present on both paths); the rest is
 * scalar. */
static void pack_t(const float *src, int ld, const size_t *row, int rows, int kc, float *dst,
                   int width)
{
    for (int j0 = 0; j0 < width; j0 += 8) {
        int w = width - j0 < 8 ? width - j0 : 8;
        int live = rows - j0 < 0 ? 0 : rows - j0 < 8 ? rows - j0 : 8;
        const float *r0[8];
        for (int t = 0; t < live; t++)
            r0[t] = src + (row ? row[j0 + t] : (size_t)(j0 + t) * ld);
        __m256i wmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(w),
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        int p = 0;
        for (; p + 8 <= kc && live > 0; p += 8) {
            __m256 r[8];
            for (int t = 0; t < 8; t++)
                r[t] = t < live ? _mm256_loadu_ps(r0[t] + p) : _mm256_setzero_ps();
            transpose8(r);
            for (int t = 0; t < 8; t++) {
                float *d = dst + (size_t)(p + t) * width + j0;
                if (w == 8)
                    _mm256_storeu_ps(d, r[t]);
                else
                    _mm256_maskstore_ps(d, wmask, r[t]);
            }
        }
        for (; p < kc; p++)
            for (int t = 0; t < w; t++)
                dst[(size_t)p * width + j0 + t] = t < live ? r0[t][p] : 0.0f;
    }
}

#elif defined(__wasm_simd128__)
/* 4 rows of 4 floats, transposed: r[t][j] <- r[j][t]. */
static inline void transpose4(v128_t r[4])
{
    v128_t a0 = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5);
    v128_t a1 = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7);
    v128_t a2 = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5);
    v128_t a3 = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
    r[0] = wasm_i32x4_shuffle(a0, a2, 0, 1, 4, 5);
    r[1] = wasm_i32x4_shuffle(a0, a2, 2, 3, 6, 7);
    r[2] = wasm_i32x4_shuffle(a1, a3, 0, 1, 4, 5);
    r[3] = wasm_i32x4_shuffle(a1, a3, 2, 3, 6, 7);
}

/* The same packing for SIMD128 (pack_t above): blocks of 4 x 4 through
 * registers, the rest one float at a time.  Widths are MR or NR, so a block
 * is 4 or 2 columns wide. */
static void pack_t(const float *src, int ld, const size_t *row, int rows, int kc, float *dst,
                   int width)
{
    for (int j0 = 0; j0 < width; j0 += 4) {
        int w = width - j0 < 4 ? width - j0 : 4;
        int live = rows - j0 < 0 ? 0 : rows - j0 < 4 ? rows - j0 : 4;
        const float *r0[4];
        for (int t = 0; t < live; t++)
            r0[t] = src + (row ? row[j0 + t] : (size_t)(j0 + t) * ld);
        int p = 0;
        for (; p + 4 <= kc && live > 0 && (w == 4 || w == 2); p += 4) {
            v128_t r[4];
            for (int t = 0; t < 4; t++)
                r[t] = t < live ? wasm_v128_load(r0[t] + p) : wasm_f32x4_splat(0.0f);
            transpose4(r);
            for (int t = 0; t < 4; t++) {
                float *d = dst + (size_t)(p + t) * width + j0;
                if (w == 4)
                    wasm_v128_store(d, r[t]);
                else
                    wasm_v128_store64_lane(d, r[t], 0);
            }
        }
        for (; p < kc; p++)
            for (int t = 0; t < w; t++)
                dst[(size_t)p * width + j0 + t] = t < live ? r0[t][p] : 0.0f;
    }
}

#else
/* The same packing in plain C: one float at a time. */
static void pack_t(const float *src, int ld, const size_t *row, int rows, int kc, float *dst,
                   int width)
{
    for (int j = 0; j < width; j++) {
        const float *r = j < rows ? src + (row ? row[j] : (size_t)j * ld) : NULL;
        for (int p = 0; p < kc; p++)
            dst[(size_t)p * width + j] = r ? r[p] : 0.0f;
    }
}
#endif

/* A's rows [i0, i0 + mr), k range [p0, p0 + kc), as a k-major micro-panel
 * ap[p * MR + i], so the micro-kernel broadcasts from consecutive floats. */
static void pack_a(int ta, const float *a, int lda, int i0, int mr, int p0, int kc,
                   float *ap)
{
    if (!ta) {
        pack_t(a + (size_t)i0 * lda + p0, lda, NULL, mr, kc, ap, MR);
        return;
    }
    for (int p = 0; p < kc; p++) {
        const float *src = a + (size_t)(p0 + p) * lda + i0;
        if (mr == MR)
            memcpy(ap + p * MR, src, sizeof(float) * MR);
        else
            for (int i = 0; i < mr; i++)
                ap[p * MR + i] = src[i];
    }
}

/* Row r of the stored B: at b + row[r] if row is not NULL, else b + r * ldb. */
static inline const float *b_row(const float *b, int ldb, const size_t *row, int r)
{
    return b + (row ? row[r] : (size_t)r * ldb);
}

/* op(B)'s columns [j0, j0 + nr), k range [p0, p0 + kc), as a k-major
 * micro-panel bp[p * NR + j], zero padded to NR. */
static void pack_b(int tb, const float *b, int ldb, const size_t *row, int j0, int nr, int p0,
                   int kc, float *bp)
{
    if (tb) {
        pack_t(row ? b + p0 : b_row(b, ldb, NULL, j0) + p0, ldb, row ? row + j0 : NULL, nr, kc,
               bp, NR);
        return;
    }
    for (int p = 0; p < kc; p++) {
        const float *src = b_row(b, ldb, row, p0 + p) + j0;
        if (nr == NR) {
            memcpy(bp + p * NR, src, sizeof(float) * NR);
        } else {
            memcpy(bp + p * NR, src, sizeof(float) * (size_t)nr);
            memset(bp + p * NR + nr, 0, sizeof(float) * (size_t)(NR - nr));
        }
    }
}

void GEMM_ROWS_NAME(int ta, int tb, int m, int n, int k, const float *a, int lda,
                    const float *b, int ldb, const size_t *brow, float beta, float *c, int ldc)
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
    _Alignas(64) float ap[MC * KC_MAX];
    _Alignas(64) float bp[KC_MAX * NR];
    /* A few rows of tiles read B in place, its rows wherever they are (a
     * panel of them fits in L1 like a packed one); more rows reuse a packed
     * panel, contiguous and aligned.  Either way the arithmetic is the same. */
    int packb = tb || m > DIRECT_B_ROWS;

    for (int pc = 0; pc < k; pc += kblock) {
        int kc = k - pc < kblock ? k - pc : kblock;
        int add = pc > 0 || beta != 0.0f;
        for (int ic = 0; ic < m; ic += MC) {
            int mc = m - ic < MC ? m - ic : MC;
            for (int ir = 0; ir < mc; ir += MR)
                pack_a(ta, a, lda, ic + ir, mc - ir < MR ? mc - ir : MR, pc, kc,
                       ap + (size_t)ir * kc);
            for (int jr = 0; jr < n; jr += NR) {
                int nr = n - jr < NR ? n - jr : NR;
                if (packb)
                    pack_b(tb, b, ldb, brow, jr, nr, pc, kc, bp);
                for (int ir = 0; ir < mc; ir += MR) {
                    int mr = mc - ir < MR ? mc - ir : MR;
                    const float *at = ap + (size_t)ir * kc;
                    float *ct = c + (size_t)(ic + ir) * ldc + jr;
                    if (packb)
                        kernel(mr, nr, kc, at, bp, NR, ct, ldc, add);
                    else if (brow)
                        kernel_rows(mr, nr, kc, at, b + jr, brow + pc, ct, ldc, add);
                    else
                        kernel(mr, nr, kc, at, b + (size_t)pc * ldb + jr, ldb, ct, ldc, add);
                }
            }
        }
    }
}

void GEMM_NAME(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
               int ldb, float beta, float *c, int ldc)
{
    GEMM_ROWS_NAME(ta, tb, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc);
}

/* Up to four dot products of one row of A with rows of B, sharing A's
 * loads.  Each runs two vector sums over alternate vectors of k, then a
 * masked last part, reduced the same way whichever block it sits in: an
 * element's value does not depend on its neighbours. */
static inline __attribute__((always_inline)) void
dots(const int nj, int k, const float *a, const float *const *b, float *out)
{
    vec even[4], odd[4];
UNROLL
    for (int j = 0; j < nj; j++)
        even[j] = odd[j] = vzero();
    int p = 0;
    for (; p + 2 * VL <= k; p += 2 * VL) {
        vec a0 = vload(a + p), a1 = vload(a + p + VL);
UNROLL
        for (int j = 0; j < nj; j++) {
            even[j] = vfma(a0, vload(b[j] + p), even[j]);
            odd[j] = vfma(a1, vload(b[j] + p + VL), odd[j]);
        }
    }
    for (; p < k; p += VL) {
        vmask m = vmask_first(k - p < VL ? k - p : VL);
        vec ap = vload_mask(a + p, m);
UNROLL
        for (int j = 0; j < nj; j++)
            even[j] = vfma(ap, vload_mask(b[j] + p, m), even[j]);
    }
UNROLL
    for (int j = 0; j < nj; j++)
        out[j] = vsum(vadd(even[j], odd[j]));
}

void DOT_NAME(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
              const size_t *brow, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        const float *ai = a + (size_t)i * lda;
        float *ci = c + (size_t)i * ldc;
        for (int j = 0; j < n; j += 4) {
            float d[4] = {0};
            int nj = n - j < 4 ? n - j : 4;
            const float *bj[4];
            for (int t = 0; t < nj; t++)
                bj[t] = b_row(b, ldb, brow, j + t);
            switch (nj) {
            case 1: dots(1, k, ai, bj, d); break;
            case 2: dots(2, k, ai, bj, d); break;
            case 3: dots(3, k, ai, bj, d); break;
            default: dots(4, k, ai, bj, d); break;
            }
            for (int t = 0; t < 4 && j + t < n; t++)
                ci[j + t] = beta == 0.0f ? d[t] : ci[j + t] + d[t];
        }
    }
}

#undef NR
