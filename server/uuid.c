/* UUIDv7 for the server's own ids (uuid.h). */
#include "uuid.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t
splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The random bytes when the kernel gives none: distinct per call in this
 * process (the counter) and across processes (the pid and the time). */
static void
fallback_bytes(unsigned char b[16], uint64_t ms)
{
    static atomic_uint_fast64_t counter;
    uint64_t c = atomic_fetch_add(&counter, 1);
    uint64_t x = splitmix(c ^ ((uint64_t)getpid() << 32));
    uint64_t y = splitmix(x ^ ms);
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
}

void
tlm__uuid7(char *out)
{
    unsigned char b[16];
    struct timespec ts;
    uint64_t ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        fallback_bytes(b, ms);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    snprintf(out, TLM_UUID_BUF,
        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
        b[11], b[12], b[13], b[14], b[15]);
}
