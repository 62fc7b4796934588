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

/* All eight present, the case of every batch of 8 or more images in one
 * process: one pass, the tree in registers. */
static void tree_of_eight(const float *p, size_t stride, size_t from, size_t to, float *out)
{
    const float *g0 = p, *g1 = p + stride, *g2 = p + 2 * stride, *g3 = p + 3 * stride,
                *g4 = p + 4 * stride, *g5 = p + 5 * stride, *g6 = p + 6 * stride,
                *g7 = p + 7 * stride;
    for (size_t i = from; i < to; i++)
        out[i] = ((g0[i] + g1[i]) + (g2[i] + g3[i])) + ((g4[i] + g5[i]) + (g6[i] + g7[i]));
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
    if (mask == (1u << GRAD_GROUPS) - 1) {
        tree_of_eight(partials, stride, from, to, out);
        return 1;
    }
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
