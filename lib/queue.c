/*
 * queue.c - the bounded lock-free queue between caller threads and the
 * worker (Vyukov's bounded queue, many producers, one consumer).
 *
 * Producers never block, never allocate and never make a system call here;
 * only the worker thread may call tlm__queue_peek() and tlm__queue_pop().
 */
#include "internal.h"

#include <string.h>
#include <sys/mman.h>

_Static_assert(sizeof(tlm__slot) <= 256, "a slot is at most 256 bytes");

/* Slot pages are touched for the first time during a burst; with 4 KiB
 * pages that is a fault every 16 events (measured: ~220 ns per event over a
 * 100k burst). Ask for transparent huge pages on the 2 MiB-aligned interior
 * of the array. Advisory only: failure changes nothing. */
static void
advise_huge(void *p, size_t n)
{
    const uintptr_t huge = 2u << 20;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(huge - 1);

    if (end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
}

int
tlm__queue_init(tlm__queue *q, uint32_t capacity)
{
    uint64_t cap = 16, i;

    while (cap < capacity)
        cap <<= 1;
    memset(q, 0, sizeof(*q));
    q->seq = tlm__malloc(cap * sizeof(*q->seq));
    q->slots = tlm__calloc(cap, sizeof(tlm__slot));
    if (q->seq == NULL || q->slots == NULL) {
        tlm__free(q->seq);
        tlm__free(q->slots);
        q->seq = NULL;
        q->slots = NULL;
        return TLM_ENOMEM;
    }
    for (i = 0; i < cap; i++)
        atomic_init(&q->seq[i], i);
    advise_huge(q->slots, cap * sizeof(tlm__slot));
    q->mask = cap - 1;
    atomic_init(&q->head, 0);
    q->tail = 0;
    return 0;
}

void
tlm__queue_destroy(tlm__queue *q)
{
    uint64_t i;

    if (q->slots == NULL)
        return;
    for (i = 0; i <= q->mask; i++)
        tlm__free(q->slots[i].overflow);
    tlm__free(q->slots);
    tlm__free(q->seq);
    q->slots = NULL;
    q->seq = NULL;
}

tlm__slot *
tlm__queue_claim(tlm__queue *q, uint64_t *pos_out)
{
    uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    tlm__slot *slot;
    uint64_t seq;
    int64_t dif;

    for (;;) {
        slot = &q->slots[pos & q->mask];
        seq = atomic_load_explicit(
            &q->seq[pos & q->mask], memory_order_acquire);
        dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
                    memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return NULL; /* full: the slot still holds an unread event */
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
    *pos_out = pos;
    return slot;
}

void
tlm__queue_publish(tlm__queue *q, tlm__slot *slot, uint64_t pos)
{
    (void)slot;
    atomic_store_explicit(
        &q->seq[pos & q->mask], pos + 1, memory_order_release);
}

tlm__slot *
tlm__queue_peek(tlm__queue *q)
{
    uint64_t i = q->tail & q->mask;
    uint64_t seq = atomic_load_explicit(&q->seq[i], memory_order_acquire);

    return seq == q->tail + 1 ? &q->slots[i] : NULL;
}

void
tlm__queue_pop(tlm__queue *q, tlm__slot *slot)
{
    if (slot->overflow != NULL) {
        tlm__free(slot->overflow);
        slot->overflow = NULL;
    }
    atomic_store_explicit(&q->seq[q->tail & q->mask], q->tail + q->mask + 1,
        memory_order_release);
    __atomic_store_n(&q->tail, q->tail + 1, __ATOMIC_RELAXED);
}

uint64_t
tlm__queue_depth(const tlm__queue *q)
{
    uint64_t head
        = atomic_load_explicit(&((tlm__queue *)q)->head, memory_order_relaxed);
    uint64_t tail = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);

    return head > tail ? head - tail : 0;
}

const char *
tlm__slot_field(const tlm__slot *slot, int f)
{
    const char *base = slot->overflow ? slot->overflow : slot->data;
    size_t off = 0;
    int i;

    if (slot->len[f] == UINT32_MAX)
        return NULL;
    for (i = 0; i < f; i++)
        if (slot->len[i] != UINT32_MAX)
            off += slot->len[i] + 1;
    return base + off;
}
