/*
 * alloc.c - the one place where libtelemetry allocates memory.
 *
 * Every allocation in lib/ goes through these wrappers so that an allocator
 * hook and the allocation-failure sweep have a single point to act on.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *
tlm__malloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *
tlm__calloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

void *
tlm__realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

void
tlm__free(void *p)
{
    free(p);
}

char *
tlm__strndup(const char *s, size_t n)
{
    char *copy = tlm__malloc(n + 1);

    if (copy == NULL)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

char *
tlm__strdup(const char *s)
{
    return s ? tlm__strndup(s, strlen(s)) : NULL;
}
