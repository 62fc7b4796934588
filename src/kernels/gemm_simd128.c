/* SGEMM for WebAssembly SIMD128: the shared blocked algorithm
 * (gemm_block.h) with a 6 x 8 tile of 4-float vectors, 12 accumulators, as
 * the engines map them onto 16 SSE or NEON registers.  SIMD128 has no
 * fused multiply-add and no masked loads: a multiply then an add (so its
 * sums differ in the last bit from the FMA paths, and equal the plain C
 * one's order), and the edge lanes one float at a time. */
#ifdef __wasm_simd128__
#include "kernels.h"

#include <wasm_simd128.h>

#define GEMM_NAME gemm_simd128
#define GEMM_ROWS_NAME gemm_rows_simd128
#define DOT_NAME dot_rows_simd128
#define VL 4
#define MR 6
#define NV 2
typedef v128_t vec;
typedef v128_t vmask;
#define vzero() wasm_f32x4_splat(0.0f)
#define vload(p) wasm_v128_load(p)
#define vstore(p, v) wasm_v128_store(p, v)
#define vfma(a, b, acc) wasm_f32x4_add(wasm_f32x4_mul(a, b), acc)
#define vadd(a, b) wasm_f32x4_add(a, b)
#define vbcast(p) wasm_v128_load32_splat(p)
#define vmask_first(n) wasm_i32x4_gt(wasm_i32x4_splat(n), wasm_i32x4_make(0, 1, 2, 3))

static inline vec vload_mask(const float *p, vmask m)
{
    float t[4] = {0};
    int n = wasm_i32x4_extract_lane(m, 3) ? 4 : wasm_i32x4_extract_lane(m, 2) ? 3
          : wasm_i32x4_extract_lane(m, 1) ? 2 : 1;
    memcpy(t, p, sizeof(float) * (size_t)n);
    return wasm_v128_load(t);
}

static inline void vstore_mask(float *p, vmask m, vec v)
{
    float t[4];
    wasm_v128_store(t, v);
    int n = wasm_i32x4_extract_lane(m, 3) ? 4 : wasm_i32x4_extract_lane(m, 2) ? 3
          : wasm_i32x4_extract_lane(m, 1) ? 2 : 1;
    memcpy(p, t, sizeof(float) * (size_t)n);
}

/* lanes (0+2, 1+3), then the two */
static inline float vsum(vec v)
{
    vec q = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    return wasm_f32x4_extract_lane(q, 0) + wasm_f32x4_extract_lane(q, 1);
}

#include "gemm_block.h"
#endif
