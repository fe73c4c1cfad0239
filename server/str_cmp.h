/* strcmp with a shortcut for the same pointer, and the order of interned
 * strings. The SQLite analytics applier interns the strings of the events
 * it folds (one copy per distinct endpoint, user, tier), so the sorts that
 * group them can order strings by address: equal strings are then equal
 * pointers, and grouping needs any total order, not the alphabet's. */
#ifndef TLM_SERVER_STR_CMP_H
#define TLM_SERVER_STR_CMP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline int
tlm__str_cmp(const char *a, const char *b)
{
    return a == b ? 0 : strcmp(a, b);
}

/* By address when interned (a consistent order, not alphabetical), by
 * strcmp otherwise. */
static inline int
tlm__str_order(const char *a, const char *b, bool interned)
{
    if (a == b)
        return 0;
    if (interned)
        return a < b ? -1 : 1;
    return strcmp(a, b);
}

/* FNV-1a over s[0..len): the hash of a string's text (tables keyed by
 * strings that are not interned). */
static inline uint64_t
tlm__hash_bytes(const void *s, size_t len)
{
    const unsigned char *p = s;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Mixes v into the hash h (keys of interned pointers and integers). */
static inline uint64_t
tlm__hash_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

/* The smallest power of two at least 2 * n (an open-addressing table at
 * most half full). */
static inline size_t
tlm__hash_slots(size_t n)
{
    size_t s = 16;
    while (s < 2 * n)
        s *= 2;
    return s;
}

#endif
