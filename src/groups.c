/* The gradient groups' fixed pairwise tree (layer.h).  One process sums
 * the groups it computed; a team of processes adds those sums along the
 * same tree (team.c), so every weight gradient is the same bits for any
 * number of threads and processes. */
#include "layer.h"

#include <string.h>

unsigned groups_present(int n) { return groups_within(n, 0, n); }

unsigned groups_within(int n, int first, int last)
{
    unsigned mask = 0;
    for (int g = 0; g < GRAD_GROUPS; g++) {
        int a = group_first(n, g), b = group_first(n, g + 1);
        if (b > a && a >= first && b <= last)
            mask |= 1u << g;
    }
    return mask;
}

/* A whole aligned subtree present (every group of one process's batch of 8
 * or more: all eight alone, four or two in a team of 2 or 4, one in a team
 * of 8): one pass, the tree in registers. */
static int whole_subtree(const float *p, size_t stride, unsigned mask, size_t from, size_t to,
                         float *out)
{
    int first = __builtin_ctz(mask), width = __builtin_popcount(mask);
    if ((width & (width - 1)) || first % width || mask != ((1u << width) - 1) << first)
        return 0;
    const float *g0 = p + (size_t)first * stride, *g1 = g0 + stride, *g2 = g1 + stride,
                *g3 = g2 + stride, *g4 = g3 + stride, *g5 = g4 + stride, *g6 = g5 + stride,
                *g7 = g6 + stride;
    if (width == 8)
        for (size_t i = from; i < to; i++)
            out[i] = ((g0[i] + g1[i]) + (g2[i] + g3[i])) + ((g4[i] + g5[i]) + (g6[i] + g7[i]));
    else if (width == 4)
        for (size_t i = from; i < to; i++)
            out[i] = (g0[i] + g1[i]) + (g2[i] + g3[i]);
    else if (width == 2)
        for (size_t i = from; i < to; i++)
            out[i] = g0[i] + g1[i];
    else
        memcpy(out + from, g0 + from, sizeof(float) * (to - from));
    return 1;
}

enum { CHUNK = 512 };

/* The subtree of groups [lo, hi) over elements [at, at + len) into dst;
 * below[] holds a buffer per lower level.  Returns whether any group of
 * it is present. */
static int subtree(const float *p, size_t stride, unsigned mask, int lo, int hi, size_t at,
                   size_t len, float *dst, float (*below)[CHUNK])
{
    if (hi - lo == 1) {
        if (!(mask >> lo & 1))
            return 0;
        memcpy(dst, p + (size_t)lo * stride + at, sizeof(float) * len);
        return 1;
    }
    int mid = (lo + hi) / 2;
    int left = subtree(p, stride, mask, lo, mid, at, len, dst, below + 1);
    int right = subtree(p, stride, mask, mid, hi, at, len, below[0], below + 1);
    if (left && right)
        for (size_t i = 0; i < len; i++)
            dst[i] += below[0][i];
    else if (right)
        memcpy(dst, below[0], sizeof(float) * len);
    return left || right;
}

int group_tree(const float *partials, size_t stride, unsigned mask, size_t from, size_t to,
               float *out)
{
    if (!mask)
        return 0;
    if (whole_subtree(partials, stride, mask, from, to, out))
        return 1;
    float levels[4][CHUNK]; /* log2(GRAD_GROUPS) + 1 */
    for (size_t at = from; at < to; at += CHUNK) {
        size_t len = to - at < CHUNK ? to - at : CHUNK;
        subtree(partials, stride, mask, 0, GRAD_GROUPS, at, len, levels[0], levels + 1);
        memcpy(out + at, levels[0], sizeof(float) * len);
    }
    return 1;
}

static int subtree_double(const double *v, unsigned mask, int lo, int hi, double *sum)
{
    if (hi - lo == 1) {
        *sum = v[lo];
        return mask >> lo & 1;
    }
    double a, b;
    int left = subtree_double(v, mask, lo, (lo + hi) / 2, &a);
    int right = subtree_double(v, mask, (lo + hi) / 2, hi, &b);
    *sum = left && right ? a + b : left ? a : b;
    return left || right;
}

double group_tree_double(const double *value, unsigned mask)
{
    double sum;
    return subtree_double(value, mask, 0, GRAD_GROUPS, &sum) ? sum : 0.0;
}
