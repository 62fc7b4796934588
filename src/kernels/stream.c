/* A copy that goes around this core's cache, for data other cores read
 * next.  A store to a line another core has read must first take the line
 * back from it; a streaming (non-temporal) store of a whole line need not.
 * On the 2-vCPU machine this was measured on (bench/cross_core.c), 64 KiB
 * rewritten after the other core read it took 11 us with plain stores and
 * 1.5 us with streaming ones. */
#include "kernels.h"

#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void stream_floats(float *dst, const float *src, size_t n)
{
#if defined(__SSE2__)
    /* plain stores up to the first whole line, streaming ones for whole
     * lines (part of a line would be slower streamed), plain for the tail */
    size_t head = ((64 - ((uintptr_t)dst & 63)) & 63) / sizeof(float);
    if ((uintptr_t)dst % sizeof(float) || head + 16 > n) {
        memcpy(dst, src, sizeof(float) * n);
        return;
    }
    memcpy(dst, src, sizeof(float) * head);
    size_t i = head;
    for (; i + 16 <= n; i += 16) {
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
        _mm_stream_ps(dst + i + 4, _mm_loadu_ps(src + i + 4));
        _mm_stream_ps(dst + i + 8, _mm_loadu_ps(src + i + 8));
        _mm_stream_ps(dst + i + 12, _mm_loadu_ps(src + i + 12));
    }
    memcpy(dst + i, src + i, sizeof(float) * (n - i));
    _mm_sfence(); /* visible before whatever tells another thread to read them */
#else
    memcpy(dst, src, sizeof(float) * n);
#endif
}
