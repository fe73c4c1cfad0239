/*
 * alloc.c - the one place where libtelemetry allocates memory.
 *
 * Every allocation in lib/ goes through these wrappers so that an allocator
 * hook and the allocation-failure sweep have a single point to act on.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local const tlm_allocator *current;

void
tlm__alloc_enter(tlm__alloc_scope *scope, const tlm_allocator *a)
{
    scope->prev = current;
    current = a != NULL && a->malloc_fn != NULL ? a : NULL;
}

void
tlm__alloc_leave(tlm__alloc_scope *scope)
{
    current = scope->prev;
}

void *
tlm__malloc(size_t n)
{
    if (n == 0)
        n = 1;
    return current ? current->malloc_fn(n, current->userdata) : malloc(n);
}

void *
tlm__calloc(size_t n, size_t size)
{
    void *p;

    if (n == 0 || size == 0)
        n = size = 1;
    if (current == NULL)
        return calloc(n, size);
    if (n > SIZE_MAX / size)
        return NULL;
    p = current->malloc_fn(n * size, current->userdata);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *
tlm__realloc(void *p, size_t n)
{
    if (n == 0)
        n = 1;
    return current ? current->realloc_fn(p, n, current->userdata)
                   : realloc(p, n);
}

void
tlm__free(void *p)
{
    if (p == NULL)
        return;
    if (current != NULL)
        current->free_fn(p, current->userdata);
    else
        free(p);
}

/* zlib's allocation callbacks (z_stream.zalloc / zfree). */
void *
tlm__zalloc(void *opaque, unsigned items, unsigned size)
{
    (void)opaque;
    return tlm__calloc(items, size);
}

void
tlm__zfree(void *opaque, void *p)
{
    (void)opaque;
    tlm__free(p);
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
