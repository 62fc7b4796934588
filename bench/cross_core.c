/* What it costs one core to write lines that another core has just read:
 * the exchange behind every data-parallel training step (each thread
 * reads, for its part of the weight gradients, inputs that another
 * thread's images wrote).  Thread 0 rewrites a buffer after thread 1 read
 * it, with plain stores and with streaming (non-temporal) ones, against a
 * rewrite nobody read in between and against thread 1's read itself.
 *
 *   cc -O2 -fopenmp bench/cross_core.c -o cross_core
 *   ./cross_core [KiB, default 64]
 *
 * x86-64 only (the streaming store is SSE2's movntps). */
#include <emmintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 2000 };

static void plain_write(float *buf, size_t n, float v)
{
    for (size_t i = 0; i < n; i += 4)
        _mm_store_ps(buf + i, _mm_set1_ps(v));
}

static void stream_write(float *buf, size_t n, float v)
{
    for (size_t i = 0; i < n; i += 4)
        _mm_stream_ps(buf + i, _mm_set1_ps(v));
    _mm_sfence();
}

static float read_all(const float *buf, size_t n)
{
    __m128 s = _mm_setzero_ps();
    for (size_t i = 0; i < n; i += 4)
        s = _mm_add_ps(s, _mm_load_ps(buf + i));
    float out[4];
    _mm_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3];
}

static volatile float sink;

/* Thread 1 reads the buffer, then thread 0 rewrites it with `write`: each
 * timed, added to *reading and *rewriting (called by both threads). */
static void read_then_rewrite(int me, float *buf, size_t n, float v,
                              void (*write)(float *, size_t, float), double *reading,
                              double *rewriting)
{
    if (me == 1) {
        double t = omp_get_wtime();
        sink += read_all(buf, n);
        *reading += omp_get_wtime() - t;
    }
#pragma omp barrier
    if (me == 0) {
        double t = omp_get_wtime();
        write(buf, n, v);
        *rewriting += omp_get_wtime() - t;
    }
#pragma omp barrier
}

int main(int argc, char **argv)
{
    size_t kib = argc > 1 ? (size_t)atoi(argv[1]) : 64, n = kib * 1024 / sizeof(float);
    if (kib < 1 || kib > 65536) {
        fprintf(stderr, "cross_core: size in KiB, 1..65536\n");
        return 2;
    }
    float *buf = aligned_alloc(64, n * sizeof(float));
    if (!buf)
        return 1;
    memset(buf, 0, n * sizeof(float));
    double local = 0, after_read = 0, streamed = 0, remote_read = 0, again = 0;
    int team = 0;
#pragma omp parallel num_threads(2)
    {
        int me = omp_get_thread_num();
#pragma omp single
        team = omp_get_num_threads();
        for (int r = 0; team == 2 && r < REPS; r++) {
            if (me == 0) { /* a rewrite of lines only this core holds */
                plain_write(buf, n, (float)r);
                double t = omp_get_wtime();
                plain_write(buf, n, (float)r + 1);
                local += omp_get_wtime() - t;
            }
#pragma omp barrier
            read_then_rewrite(me, buf, n, (float)r, plain_write, &remote_read, &after_read);
            read_then_rewrite(me, buf, n, (float)r, stream_write, &again, &streamed);
        }
    }
    if (team != 2) {
        fprintf(stderr, "cross_core: needs 2 threads (OMP_NUM_THREADS)\n");
        return 1;
    }
    double lines = (double)n * sizeof(float) / 64 * REPS;
    printf("%zu KiB (%zu lines), per rewrite; ns a line in brackets\n", kib,
           n * sizeof(float) / 64);
    printf("  rewrite, nobody read it:             %8.2f us (%5.2f)\n", local / REPS * 1e6,
           local / lines * 1e9);
    printf("  read by the other core:              %8.2f us (%5.2f)\n", remote_read / REPS * 1e6,
           remote_read / lines * 1e9);
    printf("  rewrite after the other core read:   %8.2f us (%5.2f)\n", after_read / REPS * 1e6,
           after_read / lines * 1e9);
    printf("  the same with streaming stores:      %8.2f us (%5.2f)\n", streamed / REPS * 1e6,
           streamed / lines * 1e9);
    free(buf);
    return 0;
}
