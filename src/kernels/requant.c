/* int8 inference's rounding of integer sums into bytes (kernels.h): plain C
 * the compiler vectorises per instruction set (VECTOR_CLONES). */
#include "kernels.h"

#include <math.h>

VECTOR_CLONES void requant_bytes(const int32_t *acc, int n, int32_t shift, float mult, float add,
                                 uint8_t *q, int step)
{
    if (step == 1) { /* a conv's row: contiguous, so whole vectors */
        for (int p = 0; p < n; p++) {
            float v = rintf(add + mult * (float)(acc[p] - shift));
            q[p] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
        }
        return;
    }
    for (int p = 0; p < n; p++) {
        float v = rintf(add + mult * (float)(acc[p] - shift));
        q[(size_t)p * step] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
    }
}
