/* A portable PRNG: xoshiro256** seeded through splitmix64 (public-domain
 * algorithms by Blackman and Vigna).  Integer arithmetic only, so the same
 * seed gives the same stream on every machine and compiler. */
#include "cnn.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cnn_rng_seed(cnn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t cnn_rng_next(cnn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cnn_rng_uniform(cnn_rng *r) { return (double)(cnn_rng_next(r) >> 11) * 0x1.0p-53; }

/* Box-Muller; log, sqrt and cos are correctly rounded enough on every libm we
 * target that weights agree bit for bit after rounding to float. */
double cnn_rng_normal(cnn_rng *r)
{
    double u1 = 1.0 - cnn_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = cnn_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Fisher-Yates with an unbiased bounded draw (Lemire's multiply-shift). */
void cnn_rng_shuffle(cnn_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        uint64_t bound = (uint64_t)i + 1;
        int j = (int)(((cnn_rng_next(r) >> 32) * bound) >> 32);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
