/* Private to the PostgreSQL backend's batch writers (store_pg_errors.c,
 * store_pg_workflow.c): binary one-dimensional array parameters, sent
 * whole so that a batch costs one statement per table. */
#ifndef TLM_SERVER_STORE_PG_ARR_H
#define TLM_SERVER_STORE_PG_ARR_H

#include "store_pg.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One binary one-dimensional array (see store_pg_write.c): a header, then
 * (int32 length or -1, bytes) per element. */
struct arr {
    unsigned char *p;
    size_t len;
    size_t cap;
    bool failed;
};

static inline void
arr_put(struct arr *a, const void *v, size_t len)
{
    if (a->failed)
        return;
    if (a->len + len > a->cap) {
        size_t cap = a->cap == 0 ? 1024 : a->cap;
        while (cap < a->len + len)
            cap *= 2;
        unsigned char *p = realloc(a->p, cap);
        if (p == NULL) {
            a->failed = true;
            return;
        }
        a->p = p;
        a->cap = cap;
    }
    memcpy(a->p + a->len, v, len);
    a->len += len;
}

static inline void
arr_u32(struct arr *a, uint32_t v)
{
    unsigned char b[4];
    tlm__pg_put_be(b, v, 4);
    arr_put(a, b, 4);
}

static inline void
arr_begin(struct arr *a, Oid elem, size_t n)
{
    a->len = 0;
    arr_u32(a, 1); /* dimensions */
    arr_u32(a, 1); /* may hold NULLs */
    arr_u32(a, elem);
    arr_u32(a, (uint32_t)n);
    arr_u32(a, 1); /* lower bound */
}

static inline void
arr_elem(struct arr *a, const void *v, size_t len)
{
    if (v == NULL) {
        arr_u32(a, 0xffffffffu);
        return;
    }
    arr_u32(a, (uint32_t)len);
    arr_put(a, v, len);
}

static inline void
arr_str(struct arr *a, const char *s)
{
    arr_elem(a, s, s != NULL ? strlen(s) : 0);
}

static inline void
arr_int(struct arr *a, uint64_t v, int bytes)
{
    unsigned char b[8];
    tlm__pg_put_be(b, v, bytes);
    arr_elem(a, b, (size_t)bytes);
}

static inline void
arr_double(struct arr *a, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    arr_int(a, bits, 8);
}

static inline void
array_param(struct tlm__pg_params *p, const struct arr *a, Oid type)
{
    tlm__pg_bytes(p, type, a->p, (int)a->len);
}

#endif
