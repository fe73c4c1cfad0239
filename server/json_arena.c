/* cJSON allocation hooks over per-thread bump arenas (see json_arena.h).
 * Frees of arena memory are no-ops; everything else goes to malloc/free.
 * Must never let an allocation failure go unreported: NULL reaches cJSON,
 * which fails the parse. */
#include "json_arena.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Below glibc's default mmap threshold, so chunks recycle through the heap
 * instead of costing an mmap/munmap pair per batch. */
#define CHUNK_BYTES (64 * 1024)
#define ALIGN 16

struct tlm__json_arena_chunk {
    struct tlm__json_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
};

static _Thread_local struct tlm__json_arena *current;
static atomic_bool installed;

static void *
arena_alloc(struct tlm__json_arena *a, size_t n)
{
    struct tlm__json_arena_chunk *c = a->head;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < n)
        return NULL;
    if (c == NULL || c->size - c->used < need) {
        size_t size
            = need > CHUNK_BYTES - sizeof(*c) ? need : CHUNK_BYTES - sizeof(*c);
        if (size > SIZE_MAX - sizeof(*c))
            return NULL;
        c = malloc(sizeof(*c) + size);
        if (c == NULL)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

static bool
arena_owns(const struct tlm__json_arena *a, const void *p)
{
    uintptr_t u = (uintptr_t)p;
    for (const struct tlm__json_arena_chunk *c = a->head; c != NULL;
         c = c->next) {
        uintptr_t lo = (uintptr_t)c->data;
        if (u >= lo && u < lo + c->size)
            return true;
    }
    return false;
}

static void *
hook_malloc(size_t n)
{
    return current != NULL ? arena_alloc(current, n) : malloc(n);
}

static void
hook_free(void *p)
{
    if (p == NULL || (current != NULL && arena_owns(current, p)))
        return;
    free(p);
}

void
tlm__json_arena_install(void)
{
    cJSON_Hooks hooks = {hook_malloc, hook_free};
    if (atomic_exchange(&installed, true))
        return;
    cJSON_InitHooks(&hooks);
}

bool
tlm__json_arena_enter(struct tlm__json_arena *a)
{
    if (!atomic_load(&installed))
        return false;
    current = a;
    return true;
}

void
tlm__json_arena_leave(void)
{
    current = NULL;
}

void
tlm__json_arena_free(struct tlm__json_arena *a)
{
    struct tlm__json_arena_chunk *c = a->head;
    while (c != NULL) {
        struct tlm__json_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}
