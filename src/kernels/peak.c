/* The machine's FP32 FMA peak, measured: independent FMA chains in registers,
 * on the widest vectors the gemm path uses, timed on each thread. */
#include "kernels.h"

#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

/* Chains enough to cover FMA latency x FMA ports (4 x 2 on recent x86 cores,
 * 4 x 4 on big ARM cores) while fitting in the registers with x and y. */
enum { REPS = 1 << 14 };

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Each loop returns a sum of its chains so the compiler cannot drop them;
 * acc * 1 + 0 keeps the values finite.  The unrolling keeps acc[] in
 * registers.  Flops = 2 * lanes * chains * reps. */
#define FMA_LOOP(vec, set1, fma, add, lanes, chains)                           \
    vec acc[chains], x = set1(1.0f), y = set1(0.0f);                           \
    _Pragma("GCC unroll 16") for (int i = 0; i < chains; i++)                  \
        acc[i] = set1((float)i);                                               \
    for (long r = 0; r < reps; r++)                                            \
        _Pragma("GCC unroll 16") for (int i = 0; i < chains; i++)              \
            acc[i] = fma(acc[i], x, y);                                        \
    vec s = acc[0];                                                            \
    _Pragma("GCC unroll 16") for (int i = 1; i < chains; i++)                  \
        s = add(s, acc[i]);                                                    \
    float out[lanes];                                                          \
    memcpy(out, &s, sizeof out);                                               \
    return out[0]

/* One timing loop: flops per rep = 2 * lanes * chains. */
typedef struct {
    float (*run)(long reps);
    int lanes, chains;
} fma_loop;

#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
__attribute__((target("avx512f"))) static float fma_avx512(long reps)
{
    FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16, 16);
}
/* 12 chains + x + y: the 16 ymm registers, no spills. */
__attribute__((target("avx2,fma"))) static float fma_avx2(long reps)
{
    FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8, 12);
}
#endif
#if defined(__aarch64__)
static float32x4_t fma_neon(float32x4_t a, float32x4_t b, float32x4_t c)
{
    return vfmaq_f32(c, a, b);
}
static float fma_generic(long reps)
{
    FMA_LOOP(float32x4_t, vdupq_n_f32, fma_neon, vaddq_f32, 4, 16);
}
static const fma_loop generic = {fma_generic, 4, 16};
#else
/* Plain C vectors of 4: what the compiler makes of a * b + c on them (SSE2
 * multiply and add on a baseline x86-64 build).  The volatile one keeps the
 * compiler from folding acc * 1 + 0 away. */
typedef float v4 __attribute__((vector_size(16)));
static v4 fma4(v4 a, v4 b, v4 c) { return a * b + c; }
static v4 add4(v4 a, v4 b) { return a + b; }
static v4 set4(float a)
{
    volatile float one = 1.0f;
    return (v4){a, a, a, a} * one;
}
static float fma_generic(long reps)
{
    FMA_LOOP(v4, set4, fma4, add4, 4, 12);
}
static const fma_loop generic = {fma_generic, 4, 12};
#endif

/* GFLOP/s of one thread: the best of a few timed runs, after a warm-up that
 * also wakes the wide vector units. */
static double one_thread(fma_loop loop)
{
    double best = 0;
    volatile float sink = loop.run(REPS);
    for (int t = 0; t < 5; t++) {
        double t0 = seconds();
        sink += loop.run(REPS * 4);
        double dt = seconds() - t0;
        double gflops = 2.0 * loop.lanes * loop.chains * REPS * 4 / dt * 1e-9;
        if (gflops > best)
            best = gflops;
    }
    (void)sink;
    return best;
}

double fp32_peak_gflops(int threads_hint)
{
    fma_loop loop = generic;
#if defined(__x86_64__) && defined(CNN_HAVE_X86_KERNELS)
    const char *path = gemm_path();
    if (strcmp(path, "avx512") == 0)
        loop = (fma_loop){fma_avx512, 16, 16};
    else if (strcmp(path, "avx2") == 0)
        loop = (fma_loop){fma_avx2, 8, 12};
#endif
    int threads = threads_hint > 1 ? threads_hint : 1;
    double total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total)
    for (int t = 0; t < threads; t++)
        total += one_thread(loop);
    return total;
}
