/* im2col / col2im: convolution as matrix multiplication. */
#include "kernels.h"


void im2col(const float *img, int c, int h, int w, int kh, int kw, int sh, int sw,
            int ph, int pw, int oh, int ow, float *cols, size_t ld)
{
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                float *row = cols + ((size_t)(ch * kh + ky) * kw + kx) * ld;
                for (int oy = 0; oy < oh; oy++) {
                    int y = oy * sh - ph + ky;
                    float *out = row + (size_t)oy * ow;
                    if (y < 0 || y >= h) {
                        zero_floats(out, ow);
                        continue;
                    }
                    const float *in = img + ((size_t)ch * h + y) * w;
                    if (sw == 1) { /* zeros, one contiguous run, zeros */
                        int lo = pw - kx > 0 ? pw - kx : 0;
                        int hi = w + pw - kx < ow ? w + pw - kx : ow;
                        lo = lo < ow ? lo : ow;
                        hi = hi > lo ? hi : lo;
                        zero_floats(out, lo);
                        copy_floats(out + lo, in + lo - pw + kx, hi - lo);
                        zero_floats(out + hi, ow - hi);
                        continue;
                    }
                    for (int ox = 0; ox < ow; ox++) {
                        int x = ox * sw - pw + kx;
                        out[ox] = (x >= 0 && x < w) ? in[x] : 0.0f;
                    }
                }
            }
}

void col2im(const float *cols, size_t ld, int c, int h, int w, int kh, int kw, int sh,
            int sw, int ph, int pw, int oh, int ow, float *img)
{
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                const float *row = cols + ((size_t)(ch * kh + ky) * kw + kx) * ld;
                for (int oy = 0; oy < oh; oy++) {
                    int y = oy * sh - ph + ky;
                    if (y < 0 || y >= h)
                        continue;
                    float *out = img + ((size_t)ch * h + y) * w;
                    const float *in = row + (size_t)oy * ow;
                    if (sw == 1) { /* the in-bounds run, as in im2col */
                        int lo = pw - kx > 0 ? pw - kx : 0;
                        int hi = w + pw - kx < ow ? w + pw - kx : ow;
                        for (int ox = lo; ox < hi; ox++)
                            out[ox - pw + kx] += in[ox];
                        continue;
                    }
                    for (int ox = 0; ox < ow; ox++) {
                        int x = ox * sw - pw + kx;
                        if (x >= 0 && x < w)
                            out[x] += in[ox];
                    }
                }
            }
}
