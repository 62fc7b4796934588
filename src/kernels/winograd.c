/* A 3x3 correlation by Winograd's minimal filtering F(2x2, 3x3) (Lavin and
 * Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).  Each
 * 2x2 block of outputs comes from the 4x4 block of inputs around it with 16
 * multiplications instead of 36:
 *     Y = A^T [ (G g G^T) . (B^T d B) ] A          (. element by element)
 * for a filter g (3x3), an input tile d (4x4, tiles 2 apart) and
 *     B^T = | 1  0 -1  0 |    G = | 1    0    0   |    A^T = | 1  1  1  0 |
 *           | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
 *           | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
 *           | 0  1  0 -1 |        | 0    0    1   |
 * Summed over input channels, the 16 products of each tile become 16
 * matrix products, U[xi] (outputs x inputs) times V[xi] (inputs x tiles):
 * there goes the time, 2.25 times less of it than the direct product's; the
 * transforms are additions.  The weight gradient follows from the same
 * identity: with M = U . V and Y = A^T M A,
 *     dL/dg = G^T [ sum over tiles of (A dY A^T) . (B^T d B) ] G,
 * the sum over tiles being 16 matrix products again.  Every sum runs in a fixed order on one thread
 * (the products split by rows, gemm_threads), so the result is the same for
 * any number of threads. */
#include "kernels.h"

/* Filters go through their transform a run of this many pairs at a time,
 * gathered first so that the arithmetic and the stores run over
 * consecutive floats. */
enum { PAIRS = 64 };

/* u[xi][o][i] = (G g G^T)[xi] for the filter g of output o and input i. */
VECTOR_CLONES void winograd_filters(const float *w, int cout, int cin, int flip, float *u)
{
    size_t pairs = (size_t)cout * cin;
    for (size_t p0 = 0; p0 < pairs; p0 += PAIRS) {
        int n = pairs - p0 < PAIRS ? (int)(pairs - p0) : PAIRS;
        float g[9][PAIRS], t[4][3][PAIRS];
        for (int j = 0; j < n; j++) {
            size_t o = (p0 + j) / cin, i = (p0 + j) % cin;
            const float *src = w + (flip ? i * cout + o : o * cin + i) * 9;
            for (int k = 0; k < 9; k++)
                g[k][j] = flip ? src[8 - k] : src[k]; /* half a turn */
        }
        for (int c = 0; c < 3; c++) /* t = G g */
            for (int j = 0; j < n; j++) {
                t[0][c][j] = g[c][j];
                t[1][c][j] = 0.5f * (g[c][j] + g[3 + c][j] + g[6 + c][j]);
                t[2][c][j] = 0.5f * (g[c][j] - g[3 + c][j] + g[6 + c][j]);
                t[3][c][j] = g[6 + c][j];
            }
        for (int r = 0; r < 4; r++) { /* (G g) G^T */
            float *d0 = u + (size_t)(4 * r) * pairs + p0, *d1 = d0 + pairs, *d2 = d1 + pairs,
                  *d3 = d2 + pairs;
            for (int j = 0; j < n; j++) {
                d0[j] = t[r][0][j];
                d1[j] = 0.5f * (t[r][0][j] + t[r][1][j] + t[r][2][j]);
                d2[j] = 0.5f * (t[r][0][j] - t[r][1][j] + t[r][2][j]);
                d3[j] = t[r][2][j];
            }
        }
    }
}

/* Tiles go through the transforms a run of at most this many at a time
 * (never past the end of a row of tiles), their rows on the stack, so that
 * every loop below is over consecutive floats (or pairs of them) and
 * vectorises. */
enum { RUN = 64 };

VECTOR_CLONES void winograd_in_ref(const float *in, int cin, size_t plane, int pitch, int tw,
                                   int first, int count, float *restrict v)
{
    for (int i = 0; i < cin; i++)
        for (int t = first, n; t < first + count; t += n) {
            n = winograd_run(t, tw, first + count, RUN);
            int ty = t / tw, tx0 = t % tw;
            const float *r0 = in + i * plane + (size_t)2 * ty * pitch + 2 * tx0, *r1 = r0 + pitch,
                        *r2 = r1 + pitch, *r3 = r2 + pitch;
            /* B^T d, its even and odd columns apart */
            float even[4][RUN + 1], odd[4][RUN + 1];
            for (int x = 0; x <= n; x++) {
                even[0][x] = r0[2 * x] - r2[2 * x];
                even[1][x] = r1[2 * x] + r2[2 * x];
                even[2][x] = r2[2 * x] - r1[2 * x];
                even[3][x] = r1[2 * x] - r3[2 * x];
                odd[0][x] = r0[2 * x + 1] - r2[2 * x + 1];
                odd[1][x] = r1[2 * x + 1] + r2[2 * x + 1];
                odd[2][x] = r2[2 * x + 1] - r1[2 * x + 1];
                odd[3][x] = r1[2 * x + 1] - r3[2 * x + 1];
            }
            /* (B^T d) B: tile tx's columns are even[tx], odd[tx],
             * even[tx + 1], odd[tx + 1] */
            float *dst = v + ((size_t)16 * i * count + (t - first));
            for (int r = 0; r < 4; r++) {
                float *d0 = dst + (size_t)4 * r * count, *d1 = d0 + count, *d2 = d1 + count,
                      *d3 = d2 + count;
                const float *e = even[r], *o = odd[r];
                for (int tx = 0; tx < n; tx++) {
                    d0[tx] = e[tx] - e[tx + 1];
                    d1[tx] = o[tx] + e[tx + 1];
                    d2[tx] = e[tx + 1] - o[tx];
                    d3[tx] = o[tx] - o[tx + 1];
                }
            }
        }
}

VECTOR_CLONES void winograd_out_ref(const float *m, int cout, int tw, int first, int count,
                                    float *restrict out, size_t out_plane)
{
    int width = 2 * tw;
    for (int o = 0; o < cout; o++)
        for (int t = first, n; t < first + count; t += n) {
            n = winograd_run(t, tw, first + count, RUN);
            int ty = t / tw, tx0 = t % tw;
            const float *src = m + ((size_t)16 * o * count + (t - first));
            float y[2][2][RUN]; /* [row][column even or odd][tile] */
            for (int r = 0; r < 2; r++) {
                float a[4][RUN]; /* row r of A^T m, its columns j */
                for (int j = 0; j < 4; j++) {
                    const float *m0 = src + (size_t)j * count, *m1 = m0 + (size_t)4 * count,
                                *m2 = m1 + (size_t)4 * count, *m3 = m2 + (size_t)4 * count;
                    if (r == 0)
                        for (int tx = 0; tx < n; tx++)
                            a[j][tx] = m0[tx] + m1[tx] + m2[tx];
                    else
                        for (int tx = 0; tx < n; tx++)
                            a[j][tx] = m1[tx] - m2[tx] - m3[tx];
                }
                for (int tx = 0; tx < n; tx++) { /* (A^T m) A */
                    y[r][0][tx] = a[0][tx] + a[1][tx] + a[2][tx];
                    y[r][1][tx] = a[1][tx] - a[2][tx] - a[3][tx];
                }
            }
            for (int r = 0; r < 2; r++) {
                float *row = out + o * out_plane + (size_t)(2 * ty + r) * width + 2 * tx0;
                for (int tx = 0; tx < n; tx++) {
                    row[2 * tx] = y[r][0][tx];
                    row[2 * tx + 1] = y[r][1][tx];
                }
            }
        }
}

VECTOR_CLONES void winograd_dy_ref(const float *dy, int cout, size_t plane, int pitch, int tw,
                                   int first, int count, float *restrict m)
{
    for (int o = 0; o < cout; o++)
        for (int t = first, n; t < first + count; t += n) {
            n = winograd_run(t, tw, first + count, RUN);
            int ty = t / tw, tx0 = t % tw;
            const float *r0 = dy + o * plane + (size_t)2 * ty * pitch + 2 * tx0, *r1 = r0 + pitch;
            float *dst = m + ((size_t)16 * o * count + (t - first));
            for (int tx = 0; tx < n; tx++) {
                float z[2][4]; /* dy A^T */
                z[0][0] = r0[2 * tx], z[0][1] = r0[2 * tx] + r0[2 * tx + 1];
                z[0][2] = r0[2 * tx] - r0[2 * tx + 1], z[0][3] = -r0[2 * tx + 1];
                z[1][0] = r1[2 * tx], z[1][1] = r1[2 * tx] + r1[2 * tx + 1];
                z[1][2] = r1[2 * tx] - r1[2 * tx + 1], z[1][3] = -r1[2 * tx + 1];
                for (int j = 0; j < 4; j++) { /* A (dy A^T) */
                    dst[(size_t)j * count + tx] = z[0][j];
                    dst[(size_t)(4 + j) * count + tx] = z[0][j] + z[1][j];
                    dst[(size_t)(8 + j) * count + tx] = z[0][j] - z[1][j];
                    dst[(size_t)(12 + j) * count + tx] = -z[1][j];
                }
            }
        }
}

void winograd_correlate(const float *u, int cout, int cin, const float *in, size_t plane,
                        int pitch, int th, int tw, float *v, float *m, float *out, int threads)
{
    int tiles = th * tw;
    for (int first = 0; first < tiles; first += WINOGRAD_BLOCK) {
        int count = tiles - first < WINOGRAD_BLOCK ? tiles - first : WINOGRAD_BLOCK;
        winograd_in(in, cin, plane, pitch, tw, first, count, v);
        for (int xi = 0; xi < 16; xi++)
            gemm_threads(0, 0, cout, count, cin, u + (size_t)xi * cout * cin, cin,
                         v + (size_t)xi * count, 16 * count, 0.0f, m + (size_t)xi * count,
                         16 * count, threads);
        winograd_out(m, cout, tw, first, count, out, (size_t)4 * tiles);
    }
}

void winograd_filter_grads_add(const float *in, size_t plane, int pitch, int cin, const float *dy,
                               size_t dplane, int dpitch, int cout, int th, int tw, float *v,
                               float *m, float *du, int accumulate)
{
    int tiles = th * tw;
    for (int first = 0; first < tiles; first += WINOGRAD_BLOCK) {
        int count = tiles - first < WINOGRAD_BLOCK ? tiles - first : WINOGRAD_BLOCK;
        float beta = accumulate || first > 0 ? 1.0f : 0.0f;
        winograd_in(in, cin, plane, pitch, tw, first, count, v);
        winograd_dy(dy, cout, dplane, dpitch, tw, first, count, m);
        for (int xi = 0; xi < 16; xi++)
            gemm(0, 1, cout, cin, count, m + (size_t)xi * count, 16 * count,
                 v + (size_t)xi * count, 16 * count, beta, du + (size_t)xi * cout * cin, cin);
    }
}

void winograd_filter_grads(const float *du, int cout, int cin, float *gw)
{
    size_t pairs = (size_t)cout * cin;
    for (size_t p = 0; p < pairs; p++) {
        float d[4][4], q[3][4];
        for (int xi = 0; xi < 16; xi++)
            d[xi / 4][xi % 4] = du[xi * pairs + p];
        for (int j = 0; j < 4; j++) { /* G^T du */
            float mid = 0.5f * (d[1][j] + d[2][j]);
            q[0][j] = d[0][j] + mid;
            q[1][j] = 0.5f * (d[1][j] - d[2][j]);
            q[2][j] = mid + d[3][j];
        }
        float *g = gw + p * 9;
        for (int k = 0; k < 3; k++) { /* (G^T du) G */
            float mid = 0.5f * (q[k][1] + q[k][2]);
            g[3 * k] = q[k][0] + mid;
            g[3 * k + 1] = 0.5f * (q[k][1] - q[k][2]);
            g[3 * k + 2] = mid + q[k][3];
        }
    }
}
