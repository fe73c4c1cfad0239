/* The bounded write queue as one atomic counter: enter increments and backs
 * out when over the bound, so the bound is exact under any interleaving.
 * Holds no batch: the waiting itself happens in the store's writer lock. */
#include "write_queue.h"

void
tlm__write_queue_init(struct tlm__write_queue *q, long max_waiting)
{
    atomic_init(&q->depth, 0);
    q->max_waiting = max_waiting < 0 ? 0 : max_waiting;
}

bool
tlm__write_queue_enter(struct tlm__write_queue *q)
{
    long d = atomic_fetch_add(&q->depth, 1) + 1;
    if (d > q->max_waiting + 1) {
        atomic_fetch_sub(&q->depth, 1);
        return false;
    }
    return true;
}

void
tlm__write_queue_leave(struct tlm__write_queue *q)
{
    atomic_fetch_sub(&q->depth, 1);
}

long
tlm__write_queue_depth(const struct tlm__write_queue *q)
{
    return atomic_load(&q->depth);
}
