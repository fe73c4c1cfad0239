/*
 * rand.c - xoshiro256** PRNG and UUID generation.
 *
 * Seeded once from getrandom(); each generator belongs to one thread (the
 * worker). Not for cryptographic keys: ids only need to be unique.
 */
#include "internal.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
tlm__rng_seed(tlm__rng *rng)
{
    uint64_t seed = 0;
    struct timespec ts;
    int i;

    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
        /* No entropy yet (early boot): mix time, pid and an address. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32)
            ^ ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)rng;
    }
    for (i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
tlm__rng_next(tlm__rng *rng)
{
    uint64_t *s = rng->s;
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

double
tlm__rng_double(tlm__rng *rng)
{
    return (double)(tlm__rng_next(rng) >> 11) * 0x1.0p-53;
}

static void
uuid_format(const uint8_t b[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int i, j = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[36] = '\0';
}

void
tlm__uuid7(tlm__rng *rng, int64_t unix_ms, char out[37])
{
    uint8_t b[16];
    uint64_t r1 = tlm__rng_next(rng), r2 = tlm__rng_next(rng);
    uint64_t ms = (uint64_t)unix_ms;
    int i;

    for (i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    memcpy(b + 6, &r1, 2);
    memcpy(b + 8, &r2, 8);
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* RFC 4122 variant */
    uuid_format(b, out);
}

void
tlm__uuid4(tlm__rng *rng, char out[37])
{
    uint8_t b[16];
    uint64_t r1 = tlm__rng_next(rng), r2 = tlm__rng_next(rng);

    memcpy(b, &r1, 8);
    memcpy(b + 8, &r2, 8);
    b[6] = (uint8_t)(0x40 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    uuid_format(b, out);
}
