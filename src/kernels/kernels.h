/* The hot loops, behind one small interface.  Every fast path has a plain C
 * reference (the *_ref functions) that tests compare it against. */
#ifndef CNN_KERNELS_H
#define CNN_KERNELS_H

#include <stddef.h>
#include <string.h>

/* C[m x n] = op(A)[m x k] * op(B)[k x n] + beta * C, row-major, single
 * threaded.  op(A) = A (ta = 0, A is m x k, lda >= k) or A^T (ta = 1, A is
 * k x m, lda >= m); likewise for B.  beta is 0 (C is overwritten, never read)
 * or 1 (accumulate).  Each C element's k-sum is done in a fixed order, so
 * splitting C between threads gives bit-identical results. */
typedef void gemm_fn(int ta, int tb, int m, int n, int k, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc);

gemm_fn gemm_ref;    /* plain C, the reference                    */
gemm_fn gemm_avx2;   /* x86-64 AVX2 + FMA (only if compiled)       */
gemm_fn gemm_avx512; /* x86-64 AVX-512F (only if compiled)         */
gemm_fn gemm_simd128; /* WebAssembly SIMD128 (only in its build)    */
gemm_fn gemm;        /* the fastest path this CPU supports         */

/* The same with the rows of the stored B anywhere: row r at b + brow[r]
 * (brow NULL: at b + r * ldb, as gemm).  A convolution's input rows, each
 * shifted by its window offset, are then its unrolled matrix, never
 * written out. */
typedef void gemm_rows_fn(int ta, int tb, int m, int n, int k, const float *a, int lda,
                          const float *b, int ldb, const size_t *brow, float beta, float *c,
                          int ldc);

gemm_rows_fn gemm_rows_ref, gemm_rows_avx2, gemm_rows_avx512, gemm_rows_simd128;
gemm_rows_fn gemm_rows; /* the path gemm() takes */

/* Name of the path gemm() takes on this CPU: "avx512", "avx2" or "generic".
 * The environment variable CNN_SIMD=generic|avx2|avx512 caps the choice. */
const char *gemm_path(void);
/* The path a given CNN_SIMD value would choose (for tests). */
const char *gemm_path_capped(const char *cap);

/* C[m x n] = A[m x k] B[n x k]^T + beta C, each element one dot product of
 * two contiguous rows (dot.c): for a matrix-vector product and for GEMMs
 * with very few columns.  B's rows are placed as in gemm_rows. */
typedef void dot_rows_fn(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                         const size_t *brow, float beta, float *c, int ldc);
dot_rows_fn dot_rows_ref, dot_rows_avx2, dot_rows_avx512, dot_rows_simd128;
dot_rows_fn dot_rows; /* the path gemm() takes */

/* Element-wise loops (the bias + ReLU + pooling stores of a convolution, the
 * optimiser's update) are plain C that the compiler vectorises once per
 * instruction set; the dynamic loader then runs the widest the CPU has.
 * ISO C mode (-std=c11) turns off FMA contraction, so every clone computes
 * the same bits as the portable one. */
#if defined(CNN_HAVE_X86_KERNELS) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

/* 2x2 max-pooling of two rows r0, r1 of a map w wide into n outputs, each
 * input first + bias, then through a ReLU if relu:
 *   out[x] = max(r0[2x], r0[2x+1], r1[2x], r1[2x+1]),
 *   at[x]  = base + 2x + where that is: 0, 1, w or w+1.
 * Strict comparisons, so the first maximum in that order wins. */
typedef void pool2x2_rows_fn(const float *r0, const float *r1, int n, float bias, int relu,
                             int w, int base, float *out, int *at);
/* The adjoint: dy[x] (zero where y is given and y[x] <= 0, a fused ReLU) to
 * the entry at[x] names, zeros to the other three: writes g0[0, 2n) and
 * g1[0, 2n), the rows that r0 and r1 were. */
typedef void unpool2x2_rows_fn(const float *dy, const float *y, const int *at, int n, int w,
                               int base, float *g0, float *g1);
pool2x2_rows_fn pool2x2_rows_ref, pool2x2_rows_avx512, pool2x2_rows_simd128, pool2x2_rows;
unpool2x2_rows_fn unpool2x2_rows_ref, unpool2x2_rows_avx512, unpool2x2_rows_simd128,
    unpool2x2_rows;

/* A 3x3 correlation by Winograd's F(2x2, 3x3) (winograd.c).  First the
 * filters, u[16][cout][cin]: the filter of output o and input i is at
 * w + (o * cin + i) * 9, or with flip at w + (i * cout + o) * 9 turned half
 * a turn (the filters that take a layer's output gradient back to its
 * input). */
void winograd_filters(const float *w, int cout, int cin, int flip, float *u);
/* Then out[o] = sum over i of in[i] correlated with filter (o, i), on the
 * outputs of th x tw tiles of 2x2: in has cin planes `plane` floats apart,
 * rows `pitch` apart, of which rows and columns [0, 2 th + 2) x
 * [0, 2 tw + 2) are read; out gets cout planes of 2 th x 2 tw.  v and m are
 * scratch of 16 * cin * winograd_block(th, tw) and 16 * cout *
 * winograd_block(th, tw) floats: the tiles go through a block at a time. */
void winograd_correlate(const float *u, int cout, int cin, const float *in, size_t plane,
                        int pitch, int th, int tw, float *v, float *m, float *out, int threads);
/* The weight gradient of the same correlation, from one input (planes as
 * in above) and its output gradient dy (cout planes `dplane` floats apart,
 * rows `dpitch`; read over the th x tw tiles, so zero past the outputs):
 * du[xi][o][i], the sum over tiles in Winograd's domain, set or with
 * accumulate added to. */
void winograd_filter_grads_add(const float *in, size_t plane, int pitch, int cin, const float *dy,
                               size_t dplane, int dpitch, int cout, int th, int tw, float *v,
                               float *m, float *du, int accumulate);
/* Then the filters' gradient gw[o][i] (3x3) = G^T du G. */
void winograd_filter_grads(const float *du, int cout, int cin, float *gw);
enum { WINOGRAD_BLOCK = 64 };
static inline int winograd_block(int th, int tw)
{
    return th * tw < WINOGRAD_BLOCK ? th * tw : WINOGRAD_BLOCK;
}

/* Its transforms, over the tiles [first, first + count) of a grid tw
 * tiles wide (t = ty * tw + tx).  In: v[i][xi][t - first] = (B^T d B)[xi]
 * for input plane i's tile t, d its rows 2ty.. 2ty+3 and columns
 * 2tx.. 2tx+3 (planes and rows as winograd_correlate's in).  Out: each
 * tile's A^T m A from the products m[o][xi][t - first], into out[o]
 * (out_plane floats apart, rows 2 tw apart). */
/* The run of tiles that a transform takes from tile t: at most `most`,
 * never past t's row of tiles (tw wide) or the range's end. */
static inline int winograd_run(int t, int tw, int end, int most)
{
    int n = tw - t % tw;
    n = n < end - t ? n : end - t;
    return n < most ? n : most;
}
typedef void winograd_in_fn(const float *in, int cin, size_t plane, int pitch, int tw, int first,
                            int count, float *v);
typedef void winograd_out_fn(const float *m, int cout, int tw, int first, int count, float *out,
                             size_t out_plane);
winograd_in_fn winograd_in_ref, winograd_in_avx512, winograd_in;
/* And for the weight gradient: m[o][xi][t - first] = (A dy A^T)[xi] for
 * the output gradient's tile t, dy its rows 2ty, 2ty+1 and columns 2tx,
 * 2tx+1 (planes `plane` floats apart, rows `pitch`). */
typedef void winograd_dy_fn(const float *dy, int cout, size_t plane, int pitch, int tw, int first,
                            int count, float *m);
winograd_dy_fn winograd_dy_ref, winograd_dy_avx512, winograd_dy;
winograd_out_fn winograd_out_ref, winograd_out_avx512, winograd_out;

/* dst[0, n) = src[0, n), the whole 64-byte lines of dst written with
 * streaming stores that bypass this core's cache (stream.c): for data that
 * other cores read next. */
void stream_floats(float *dst, const float *src, size_t n);

/* The sum of k floats, in a fixed order (eight running sums). */
float sum_floats(const float *a, int k);

/* Copies and zero fills of short runs (a row of a feature map: 3 to a few
 * dozen floats), inline: a libc call per run costs more than the copy.  The
 * fixed-size memcpy/memset compile to vector moves; the last, overlapping
 * move covers the tail. */
static inline void copy_floats(float *dst, const float *src, int n)
{
    if (n >= 64) {
        memcpy(dst, src, sizeof(float) * (size_t)n);
    } else if (n >= 8) {
        for (int i = 0; i + 8 < n; i += 8)
            memcpy(dst + i, src + i, 32);
        memcpy(dst + n - 8, src + n - 8, 32);
    } else if (n >= 4) {
        memcpy(dst, src, 16);
        memcpy(dst + n - 4, src + n - 4, 16);
    } else {
        if (n > 0) dst[0] = src[0];
        if (n > 1) dst[1] = src[1];
        if (n > 2) dst[2] = src[2];
    }
}

static inline void zero_floats(float *dst, int n)
{
    if (n >= 64) {
        memset(dst, 0, sizeof(float) * (size_t)n);
    } else if (n >= 8) {
        for (int i = 0; i + 8 < n; i += 8)
            memset(dst + i, 0, 32);
        memset(dst + n - 8, 0, 32);
    } else if (n >= 4) {
        memset(dst, 0, 16);
        memset(dst + n - 4, 0, 16);
    } else {
        if (n > 0) dst[0] = 0.0f;
        if (n > 1) dst[1] = 0.0f;
        if (n > 2) dst[2] = 0.0f;
    }
}

/* Unrolls the receptive fields of one image (c x h x w) into a matrix of
 * (c*kh*kw) rows and (oh*ow) columns, zeros where the window is in padding.
 * Rows are ld floats apart (ld >= oh*ow), so several images can be unrolled
 * side by side into one wider matrix. */
void im2col(const float *img, int c, int h, int w, int kh, int kw, int sh, int sw,
            int ph, int pw, int oh, int ow, float *cols, size_t ld);
/* The adjoint: adds each column entry back to its pixel (img += ...). */
void col2im(const float *cols, size_t ld, int c, int h, int w, int kh, int kw, int sh,
            int sw, int ph, int pw, int oh, int ow, float *img);

/* The FP32 FMA peak in GFLOP/s, measured (about 0.1 s): threads_hint threads
 * (1 if less) each run independent FMA chains on the vectors of the path
 * gemm_path() names, and their rates are summed. */
double fp32_peak_gflops(int threads_hint);

/* C = op(A) op(B) + beta C split across threads by rows or columns of C;
 * bit-identical for any thread count (see gemm above). */
void gemm_threads(int ta, int tb, int m, int n, int k, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc, int threads);
/* The same with B's rows placed by brow (gemm_rows). */
void gemm_threads_rows(int ta, int tb, int m, int n, int k, const float *a, int lda,
                       const float *b, int ldb, const size_t *brow, float beta, float *c,
                       int ldc, int threads);

/* ---- integer GEMM for int8 inference (qgemm*.c) ----------------------- */

/* C[m x n] = A[m x k] op(B)[k x n] in int32, exactly: A is a layer's int8
 * weights (row-major, lda), B its uint8 input (row-major, ldb; tb: stored
 * n x k, each column's k values contiguous, as a dense layer's batch is).
 * Integer sums are associative, so every path gives the same C, and none
 * overflows while k <= QGEMM_K_MAX (|a| <= 127, b <= 255).  The SIMD paths
 * multiply 4 (VNNI) or 2 (AVX2, through 16-bit lanes, never saturating)
 * products at once. */
#include <stdint.h>
enum { QGEMM_K_MAX = 65536 };
typedef void qgemm_fn(int tb, int m, int n, int k, const int8_t *a, int lda, const uint8_t *b,
                      int ldb, int32_t *c, int ldc);
qgemm_fn qgemm_ref, qgemm_avx2, qgemm_vnni, qgemm;
/* The path qgemm() takes: "vnni", "avx2" or "generic" (capped by CNN_SIMD
 * as gemm_path() is). */
const char *qgemm_path(void);
/* Bytes q[p * step] = clamp(round(add + mult * (acc[p] - shift)), 0, 255):
 * integer sums back into a uint8 tensor's scale. */
void requant_bytes(const int32_t *acc, int n, int32_t shift, float mult, float add, uint8_t *q,
                   int step);

/* ---- the convolution by its definition (conv_ref.c) -------------------- */

/* A convolution's sizes: input c x h x w, `filters` windows of kh x kw
 * moved by sh, sw over the input zero-padded by ph, pw, giving
 * filters x oh x ow.  Arrays are NCHW; weights filters x c x kh x kw. */
typedef struct {
    int c, h, w;
    int filters, kh, kw, sh, sw, ph, pw;
    int oh, ow;
} conv_dims;

void conv_ref_forward(const conv_dims *d, int n, const float *x, const float *w, const float *b,
                      float *y);
void conv_ref_input_grad(const conv_dims *d, int n, const float *w, const float *dy, float *dx);
void conv_ref_weight_grad(const conv_dims *d, int n, const float *x, const float *dy, float *dw,
                          float *db);

#endif
