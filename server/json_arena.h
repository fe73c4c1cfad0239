/* A per-thread bump arena behind cJSON's allocation hooks: decoding one
 * batch's events costs a few chunk allocations instead of one malloc per
 * node and string. Trees built while an arena is entered must never be
 * freed with cJSON_Delete after it is left, nor outlive it. */
#ifndef TLM_SERVER_JSON_ARENA_H
#define TLM_SERVER_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct tlm__json_arena_chunk;

/* Zero-initialize; release with tlm__json_arena_free. */
struct tlm__json_arena {
    struct tlm__json_arena_chunk *head;
};

/* Routes cJSON's allocations through the arena of the calling thread, if it
 * has entered one, and to malloc/free otherwise. cJSON's hooks are global:
 * call this once at start, before any thread uses cJSON. Idempotent. */
void tlm__json_arena_install(void);

/* Makes a the calling thread's arena until tlm__json_arena_leave. Returns
 * false (and does nothing) when the hooks are not installed: cJSON then
 * allocates with malloc and its trees are freed as usual. */
bool tlm__json_arena_enter(struct tlm__json_arena *a);
void tlm__json_arena_leave(void);

/* Frees every chunk of a, and with them all trees built in it. */
void tlm__json_arena_free(struct tlm__json_arena *a);

#endif
