/* GFLOP/s of each gemm path on the shapes the conv and dense layers run,
 * single threaded, against the measured FP32 FMA peak of that path; then
 * the integer GEMM of int8 inference (qgemm) on the forward shapes, in
 * GOP/s, against the fastest FP32 path on the same shape.
 *
 *   make    (for build/libcnn.a), then
 *   cc -O2 -std=c11 -D_GNU_SOURCE -DCNN_HAVE_X86_KERNELS -Iinclude -Isrc \
 *      bench/gemm_bench.c build/libcnn.a -fopenmp -lm -o gemm_bench
 *   ./gemm_bench [seconds per measurement, default 0.2]
 * or in WebAssembly (make web; the peak there is the generic loop's):
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -Iinclude -Isrc -sSINGLE_FILE=1 \
 *      -sALLOW_MEMORY_GROWTH=1 bench/gemm_bench.c build-web/libcnn.a -o gemm_bench.js
 *   node gemm_bench.js
 */
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *what;
    int ta, tb, m, n, k;
} shape;

static const shape shapes[] = {
    {"conv 1->8 3x3 28x28   fwd", 0, 0, 8, 676, 9},
    {"                      dW ", 0, 1, 8, 9, 676},
    {"                      dX ", 1, 0, 9, 676, 8},
    {"LeNet conv 1->6 5x5   fwd", 0, 0, 6, 784, 25},
    {"                      dW ", 0, 1, 6, 25, 784},
    {"                      dX ", 1, 0, 25, 784, 6},
    {"LeNet conv 6->16 5x5  fwd", 0, 0, 16, 100, 150},
    {"                      dW ", 0, 1, 16, 150, 100},
    {"                      dX ", 1, 0, 150, 100, 16},
    {"conv 1->32 3x3 28x28  fwd", 0, 0, 32, 676, 9},
    {"conv 32->64 3x3 26x26 fwd", 0, 0, 64, 576, 288},
    {"                      dW ", 0, 1, 64, 288, 576},
    {"                      dX ", 1, 0, 288, 576, 64},
    {"dense 9216->128 B=64  fwd", 0, 1, 64, 128, 9216},
    {"                      dW ", 1, 0, 128, 9216, 64},
    {"                      dX ", 0, 0, 64, 9216, 128},
    {"dense 400->120 B=256  fwd", 0, 1, 256, 120, 400},
    {"                      dW ", 1, 0, 120, 400, 256},
    {"                      dX ", 0, 0, 256, 400, 120},
    {"square 256            nn ", 0, 0, 256, 256, 256},
};

typedef struct {
    const char *name; /* also its CNN_SIMD cap */
    gemm_fn *fn;
    double peak;
} path;

static float *randoms(size_t n)
{
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rand() / RAND_MAX - 0.5f;
    return x;
}

/* Best GFLOP/s over batches of calls lasting about `budget` seconds in all. */
static double rate(gemm_fn *fn, const shape *s, const float *a, const float *b, float *c,
                   double budget)
{
    double flops = 2.0 * s->m * s->n * s->k, best = 0, spent = 0;
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    long calls = 1;
    while (spent < budget) {
        double t0 = seconds();
        for (long i = 0; i < calls; i++)
            fn(s->ta, s->tb, s->m, s->n, s->k, a, lda, b, ldb, i ? 1.0f : 0.0f, c, s->n);
        double dt = seconds() - t0;
        spent += dt;
        if (dt > 0 && flops * calls / dt > best)
            best = flops * calls / dt;
        if (dt < budget / 20)
            calls *= 2;
    }
    return best * 1e-9;
}

typedef void (*qgemm_ptr)(int, int, int, int, const int8_t *, int, const uint8_t *, int,
                          int32_t *, int);

/* Best GOP/s of an integer GEMM path, as rate() measures. */
static double qrate(qgemm_ptr fn, const shape *s, double budget)
{
    int8_t *a = malloc((size_t)s->m * s->k);
    uint8_t *b = malloc((size_t)s->k * s->n);
    int32_t *c = malloc(sizeof(int32_t) * s->m * s->n);
    for (int i = 0; i < s->m * s->k; i++)
        a[i] = (int8_t)(rand() % 255 - 127);
    for (int i = 0; i < s->k * s->n; i++)
        b[i] = (uint8_t)(rand() % 256);
    double ops = 2.0 * s->m * s->n * s->k, best = 0, spent = 0;
    long calls = 1;
    while (spent < budget) {
        double t0 = seconds();
        for (long i = 0; i < calls; i++)
            fn(s->tb, s->m, s->n, s->k, a, s->k, b, s->tb ? s->k : s->n, c, s->n);
        double dt = seconds() - t0;
        spent += dt;
        if (dt > 0 && ops * calls / dt > best)
            best = ops * calls / dt;
        if (dt < budget / 20)
            calls *= 2;
    }
    free(a), free(b), free(c);
    return best * 1e-9;
}

static void int8_table(const path *fastest, double budget)
{
    struct {
        const char *name;
        qgemm_ptr fn;
    } q[3] = {{"generic", qgemm_ref}};
    int nq = 1;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2"))
        q[nq].name = "avx2", q[nq++].fn = qgemm_avx2;
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
        q[nq].name = "vnni", q[nq++].fn = qgemm_vnni;
#endif
    printf("\nint8 (GOP/s; x: against fp32 %s)\n%-26s %-16s %8s", fastest->name, "shape",
           "tb   m   n   k", "fp32");
    for (int p = 0; p < nq; p++)
        printf(" %14s", q[p].name);
    printf("\n");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        if (s->ta || !strstr(s->what, "fwd"))
            continue;
        float *a = randoms((size_t)s->m * s->k), *b = randoms((size_t)s->k * s->n);
        float *c = randoms((size_t)s->m * s->n);
        double f = rate(fastest->fn, s, a, b, c, budget);
        printf("%-26s %d  %4d %4d %4d %8.1f", s->what, s->tb, s->m, s->n, s->k, f);
        for (int p = 0; p < nq; p++) {
            double g = qrate(q[p].fn, s, budget);
            printf("  %6.1f (%4.2fx)", g, g / f);
        }
        printf("\n");
        free(a), free(b), free(c);
    }
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 0.2;
    path paths[3] = {{"generic", gemm_ref, 0}};
    int npaths = 1;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        paths[npaths++] = (path){"avx2", gemm_avx2, 0};
    if (__builtin_cpu_supports("avx512f"))
        paths[npaths++] = (path){"avx512", gemm_avx512, 0};
#endif
#ifdef __wasm_simd128__
    paths[npaths++] = (path){"simd128", gemm_simd128, 0};
#endif
    /* fp32_peak_gflops measures the path gemm_path() names, so cap it. */
    for (int p = 0; p < npaths; p++) {
        setenv("CNN_SIMD", paths[p].name, 1);
        paths[p].peak = fp32_peak_gflops(1);
    }
    unsetenv("CNN_SIMD");

    printf("gemm path: %s\nFP32 FMA peak, 1 thread:", gemm_path());
    for (int p = 0; p < npaths; p++)
        printf("  %s %.1f", paths[p].name, paths[p].peak);
    printf(" GFLOP/s\n\n%-26s %-16s", "shape", "ta tb   m   n   k");
    for (int p = 0; p < npaths; p++)
        printf(" %14s", paths[p].name);
    printf("\n");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        float *a = randoms((size_t)s->m * s->k), *b = randoms((size_t)s->k * s->n);
        float *c = randoms((size_t)s->m * s->n);
        printf("%-26s %d  %d %4d %4d %4d", s->what, s->ta, s->tb, s->m, s->n, s->k);
        for (int p = 0; p < npaths; p++) {
            double g = rate(paths[p].fn, s, a, b, c, budget);
            printf("  %6.1f (%3.0f%%)", g, 100 * g / paths[p].peak);
        }
        printf("\n");
        free(a);
        free(b);
        free(c);
    }
    int8_table(&paths[npaths - 1], budget);
    return 0;
}
