/* SGEMM for WebAssembly SIMD128: the shared blocked algorithm
 * (gemm_block.h) with a 6 x 8 tile of 4-float vectors, 12 accumulators, as
 * the engines map them onto 16 SSE or NEON registers.  SIMD128 has no
 * fused multiply-add and no masked loads: a multiply then an add (so its
 * sums differ in the last bit from the FMA paths, and equal the plain C
 * one's order), and the edge lanes by 32- and 64-bit lane loads. */
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
typedef int vmask; /* the number of live lanes, 1 to 4: no masked loads to feed */
#define vzero() wasm_f32x4_splat(0.0f)
#define vload(p) wasm_v128_load(p)
#define vstore(p, v) wasm_v128_store(p, v)
#define vfma(a, b, acc) wasm_f32x4_add(wasm_f32x4_mul(a, b), acc)
#define vadd(a, b) wasm_f32x4_add(a, b)
#define vbcast(p) wasm_v128_load32_splat(p)
#define vmask_first(n) (n)

/* The first n lanes of p, zeros after, touching nothing beyond them. */
static inline vec vload_mask(const float *p, vmask n)
{
    switch (n) {
    case 1: return wasm_v128_load32_zero(p);
    case 2: return wasm_v128_load64_zero(p);
    case 3: return wasm_v128_load32_lane(p + 2, wasm_v128_load64_zero(p), 2);
    default: return wasm_v128_load(p);
    }
}

static inline void vstore_mask(float *p, vmask n, vec v)
{
    switch (n) {
    case 1: wasm_v128_store32_lane(p, v, 0); break;
    case 2: wasm_v128_store64_lane(p, v, 0); break;
    case 3: wasm_v128_store64_lane(p, v, 0), wasm_v128_store32_lane(p + 2, v, 2); break;
    default: wasm_v128_store(p, v); break;
    }
}

/* lanes (0+2, 1+3), then the two */
static inline float vsum(vec v)
{
    vec q = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    return wasm_f32x4_extract_lane(q, 0) + wasm_f32x4_extract_lane(q, 1);
}

#include "gemm_block.h"
#endif
