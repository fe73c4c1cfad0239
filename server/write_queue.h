/* Backpressure on the store: at most one batch writing plus max_waiting
 * batches waiting for the store writer; a batch beyond that is refused
 * (503 + Retry-After) instead of piling up threads and memory behind a
 * slow disk. Lock-free; never blocks, never touches the store itself. */
#ifndef TLM_SERVER_WRITE_QUEUE_H
#define TLM_SERVER_WRITE_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>

struct tlm__write_queue {
    atomic_long depth; /* batches writing or waiting to write */
    long max_waiting;
};

void tlm__write_queue_init(struct tlm__write_queue *q, long max_waiting);

/* Takes a place; false when the queue is full (nothing taken). */
bool tlm__write_queue_enter(struct tlm__write_queue *q);

/* Gives back a place taken by a successful enter. */
void tlm__write_queue_leave(struct tlm__write_queue *q);

long tlm__write_queue_depth(const struct tlm__write_queue *q);

#endif
