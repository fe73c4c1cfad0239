/* Shared by the fuzz targets: an invariant check that crashes loudly (so
 * libFuzzer records the input and the replay test fails), and small helpers
 * for carving arbitrary bytes into the arguments a parser takes. */
#ifndef TLM_FUZZ_COMMON_H
#define TLM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: on failure prints where and why, then aborts. */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,         \
                __LINE__, #cond);                                              \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* True when TLM_FUZZ_KNOWN (comma-separated) names the finding id: a
 * campaign can step over a reported, not yet fixed bug and keep looking for
 * others. The replay tests never set it, so a saved crasher keeps failing
 * until its bug is fixed. */
static inline int
fuzz_known(const char *id)
{
    const char *k = getenv("TLM_FUZZ_KNOWN");
    size_t n = strlen(id);
    for (const char *p = k; p != NULL && *p != '\0';) {
        const char *c = strchr(p, ',');
        size_t len = c != NULL ? (size_t)(c - p) : strlen(p);
        if (len == n && memcmp(p, id, n) == 0)
            return 1;
        p = c != NULL ? c + 1 : p + len;
    }
    return 0;
}

/* A malloc'ed copy of data[0..size) with exactly one extra NUL byte, so
 * that ASan catches a read one past the end of the input text. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A malloc'ed copy of exactly size bytes (no terminator): reads past the
 * end are heap overflows. */
static inline char *
fuzz_memdup(const uint8_t *data, size_t size)
{
    /* calloc: an empty input is one zeroed byte, so no read of it is ever
     * uninitialized (gcc warns otherwise); the size stays exact for ASan. */
    char *s = calloc(size > 0 ? size : 1, 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    return s;
}

#endif
