/* 2x2 max-pooling of a pair of rows and its adjoint (kernels.h) for
 * WebAssembly SIMD128: 4 outputs a step, the last few (rows of 5 to 14
 * outputs) by the reference's own loop.  The same comparisons as the
 * reference, lane by lane, so the same bits. */
#ifdef __wasm_simd128__
#include "kernels.h"

#include <wasm_simd128.h>

void pool2x2_rows_simd128(const float *r0, const float *r1, int n, float bias, int relu, int w,
                          int base, float *out, int *at)
{
    const v128_t vbias = wasm_f32x4_splat(bias), zero = wasm_f32x4_splat(0.0f);
    const v128_t vw = wasm_i32x4_splat(w), twice = wasm_i32x4_make(0, 2, 4, 6);
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        v128_t p = wasm_v128_load(r0 + 2 * x), q = wasm_v128_load(r0 + 2 * x + 4);
        v128_t a = wasm_f32x4_add(wasm_i32x4_shuffle(p, q, 0, 2, 4, 6), vbias);
        v128_t b = wasm_f32x4_add(wasm_i32x4_shuffle(p, q, 1, 3, 5, 7), vbias);
        p = wasm_v128_load(r1 + 2 * x), q = wasm_v128_load(r1 + 2 * x + 4);
        v128_t c = wasm_f32x4_add(wasm_i32x4_shuffle(p, q, 0, 2, 4, 6), vbias);
        v128_t d = wasm_f32x4_add(wasm_i32x4_shuffle(p, q, 1, 3, 5, 7), vbias);
        if (relu) { /* pmax(0, v) = 0 < v ? v : 0, the reference's v > 0 ? v : 0 */
            a = wasm_f32x4_pmax(zero, a), b = wasm_f32x4_pmax(zero, b);
            c = wasm_f32x4_pmax(zero, c), d = wasm_f32x4_pmax(zero, d);
        }
        v128_t top = wasm_f32x4_gt(b, a), bottom = wasm_f32x4_gt(d, c);
        v128_t t = wasm_v128_bitselect(b, a, top), u = wasm_v128_bitselect(d, c, bottom);
        v128_t down = wasm_f32x4_gt(u, t);
        wasm_v128_store(out + x, wasm_v128_bitselect(u, t, down));
        /* base + 2x + (down ? w + bottom : top); a true lane is -1 */
        v128_t off = wasm_v128_bitselect(wasm_i32x4_sub(vw, bottom), wasm_i32x4_neg(top), down);
        v128_t pos = wasm_i32x4_add(wasm_i32x4_splat(base + 2 * x), twice);
        wasm_v128_store(at + x, wasm_i32x4_add(pos, off));
    }
    if (x < n)
        pool2x2_rows_ref(r0 + 2 * x, r1 + 2 * x, n - x, bias, relu, w, base + 2 * x, out + x,
                         at + x);
}

void unpool2x2_rows_simd128(const float *dy, const float *y, const int *at, int n, int w,
                            int base, float *g0, float *g1)
{
    const v128_t zero = wasm_i32x4_splat(0), one = wasm_i32x4_splat(1);
    const v128_t vw = wasm_i32x4_splat(w), vw1 = wasm_i32x4_splat(w + 1);
    const v128_t twice = wasm_i32x4_make(0, 2, 4, 6);
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        v128_t g = wasm_v128_load(dy + x);
        if (y)
            g = wasm_v128_and(g, wasm_f32x4_gt(wasm_v128_load(y + x), wasm_f32x4_splat(0.0f)));
        v128_t off = wasm_i32x4_sub(wasm_v128_load(at + x),
                                    wasm_i32x4_add(wasm_i32x4_splat(base + 2 * x), twice));
        v128_t e0 = wasm_v128_and(g, wasm_i32x4_eq(off, zero));
        v128_t o0 = wasm_v128_and(g, wasm_i32x4_eq(off, one));
        v128_t e1 = wasm_v128_and(g, wasm_i32x4_eq(off, vw));
        v128_t o1 = wasm_v128_and(g, wasm_i32x4_eq(off, vw1));
        wasm_v128_store(g0 + 2 * x, wasm_i32x4_shuffle(e0, o0, 0, 4, 1, 5));
        wasm_v128_store(g0 + 2 * x + 4, wasm_i32x4_shuffle(e0, o0, 2, 6, 3, 7));
        wasm_v128_store(g1 + 2 * x, wasm_i32x4_shuffle(e1, o1, 0, 4, 1, 5));
        wasm_v128_store(g1 + 2 * x + 4, wasm_i32x4_shuffle(e1, o1, 2, 6, 3, 7));
    }
    if (x < n)
        unpool2x2_rows_ref(dy + x, y ? y + x : NULL, at + x, n - x, w, base + 2 * x, g0 + 2 * x,
                           g1 + 2 * x);
}
#endif
