/* im2col / col2im: convolution as matrix multiplication. */
#include "kernels.h"

#include <string.h>

void im2col(const float *img, int c, int h, int w, int kh, int kw, int sh, int sw,
            int ph, int pw, int oh, int ow, float *cols)
{
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                float *row = cols + ((size_t)(ch * kh + ky) * kw + kx) * oh * ow;
                for (int oy = 0; oy < oh; oy++) {
                    int y = oy * sh - ph + ky;
                    float *out = row + (size_t)oy * ow;
                    if (y < 0 || y >= h) {
                        memset(out, 0, sizeof(float) * (size_t)ow);
                        continue;
                    }
                    const float *in = img + ((size_t)ch * h + y) * w;
                    for (int ox = 0; ox < ow; ox++) {
                        int x = ox * sw - pw + kx;
                        out[ox] = (x >= 0 && x < w) ? in[x] : 0.0f;
                    }
                }
            }
}

void col2im(const float *cols, int c, int h, int w, int kh, int kw, int sh, int sw,
            int ph, int pw, int oh, int ow, float *img)
{
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                const float *row = cols + ((size_t)(ch * kh + ky) * kw + kx) * oh * ow;
                for (int oy = 0; oy < oh; oy++) {
                    int y = oy * sh - ph + ky;
                    if (y < 0 || y >= h)
                        continue;
                    float *out = img + ((size_t)ch * h + y) * w;
                    const float *in = row + (size_t)oy * ow;
                    for (int ox = 0; ox < ow; ox++) {
                        int x = ox * sw - pw + kx;
                        if (x >= 0 && x < w)
                            out[x] += in[ox];
                    }
                }
            }
}
