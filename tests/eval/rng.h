/* A small, fast, seedable random stream (xoshiro256** seeded by splitmix64) and the few
 * distributions the simulation needs. Header-only so every draw inlines; one PsRng per series
 * keeps the simulation independent of thread scheduling. */
#pragma once

#include <glib.h>
#include <math.h>

typedef struct {
    guint64 s[4];
} PsRng;

static inline guint64
ps_rng_rotl(guint64 x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline void
ps_rng_seed(PsRng *rng, guint64 seed)
{
    for (guint i = 0; i < 4; i++) {
        guint64 z = (seed += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        rng->s[i] = z ^ (z >> 31);
    }
}

static inline guint64
ps_rng_next(PsRng *rng)
{
    guint64 *s = rng->s;
    guint64 result = ps_rng_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ps_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double
ps_rng_double(PsRng *rng)
{
    return (ps_rng_next(rng) >> 11) * 0x1.0p-53;
}

static inline double
ps_rng_uniform(PsRng *rng, double low, double high)
{
    return low + (high - low) * ps_rng_double(rng);
}

static inline guint
ps_rng_below(PsRng *rng, guint n)
{
    return n > 0 ? (guint)(ps_rng_double(rng) * n) : 0;
}

static inline double
ps_rng_normal(PsRng *rng)
{
    double u = 1.0 - ps_rng_double(rng), v = ps_rng_double(rng);

    return sqrt(-2 * log(u)) * cos(2 * G_PI * v);
}

/* Gamma(shape, 1), Marsaglia and Tsang; shape < 1 boosted. */
static inline double
ps_rng_gamma(PsRng *rng, double shape)
{
    double boost = 1, d, c;

    if (shape < 1) {
        boost = pow(1.0 - ps_rng_double(rng), 1 / shape);
        shape += 1;
    }
    d = shape - 1.0 / 3;
    c = 1 / sqrt(9 * d);
    for (;;) {
        double x = ps_rng_normal(rng), v = 1 + c * x, u;
        if (v <= 0)
            continue;
        v = v * v * v;
        u = 1.0 - ps_rng_double(rng);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return boost * d * v;
    }
}

/* Poisson: inversion for small means, a rounded normal for large ones (fine for counts). */
static inline double
ps_rng_poisson(PsRng *rng, double mean)
{
    if (mean <= 0)
        return 0;
    if (mean < 30) {
        double limit = exp(-mean), product = ps_rng_double(rng);
        double k = 0;
        while (product > limit) {
            product *= ps_rng_double(rng);
            k++;
        }
        return k;
    }
    return MAX(0, round(mean + sqrt(mean) * ps_rng_normal(rng)));
}

/* Negative binomial with this mean and size theta (variance mean + mean^2 / theta). */
static inline double
ps_rng_negbin(PsRng *rng, double mean, double theta)
{
    if (mean <= 0)
        return 0;
    return ps_rng_poisson(rng, mean * ps_rng_gamma(rng, theta) / theta);
}
