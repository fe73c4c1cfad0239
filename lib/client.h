/*
 * client.h - the client object shared by client.c (caller threads),
 * worker.c and transport.c (worker thread).
 *
 * Fields are grouped by who writes them; counters read by other threads are
 * atomics. Never installed.
 */
#ifndef TLM_CLIENT_H
#define TLM_CLIENT_H

#include "internal.h"
#include "privacy.h"

#include <curl/curl.h>
#include <uv.h>

typedef struct tlm__sock tlm__sock; /* transport.c */
typedef struct tlm__spool tlm__spool; /* spool.h */

enum { TLM__STATE_OPEN = 0, TLM__STATE_CLOSING = 1, TLM__STATE_CLOSED = 2 };

/* A batch of encoded events: buf holds "e0,e1,...", off[i] the start of
 * event i; first_pos is the queue position of its first event. */
typedef struct tlm__batch {
    struct tlm__batch *next;
    char id[37];
    tlm__buf events;
    size_t *off;
    uint32_t n;
    uint32_t cap_n;
    uint64_t first_pos;
    uint32_t attempts;
    uint64_t not_before; /* loop time (ms) of the next attempt */
    /* In the spool (worker_spool.c): its record, and a body that must be
     * sent as written there (also every replayed batch, which has no
     * events of its own to rebuild it from). */
    bool spooled;
    bool body_fixed;
    bool replayed;
    bool gzip; /* body is gzip'ed (Content-Encoding) */
    uint64_t spool_id;
    /* transfer state while in flight */
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    size_t body_len;
    size_t raw_len;
    tlm__buf response;
    char errbuf[CURL_ERROR_SIZE];
} tlm__batch;

typedef struct tlm__counters {
    _Atomic uint64_t sent, duplicates, rejected;
    _Atomic uint64_t dropped_queue_full, dropped_disabled;
    _Atomic uint64_t dropped_before_send, dropped_http, dropped_retries;
    _Atomic uint64_t dropped_oversize, dropped_shutdown, dropped_nomem;
    _Atomic uint64_t retried, batches, requests;
    _Atomic uint64_t bytes_raw, bytes_compressed, inflight_events;
    _Atomic uint64_t sampled_out, debug_printed, dropped_consent;
    _Atomic uint64_t spooled, replayed, spool_kept, dropped_spool_full;
} tlm__counters;

struct tlm_client {
    tlm_options opts; /* frozen copy */
    tlm__queue queue;
    _Atomic int state;
    _Atomic int enabled;
    _Atomic int consent; /* tlm_consent */
    bool debug; /* TELEMETRY_DEBUG: print events, send nothing */
    tlm__privacy priv;
    uint64_t wake_mask; /* producers wake the worker when (pos+1) & mask == 0 */
    /* An eventfd owned by the client, not the loop: writing to it stays
     * safe however late a producer races with close. */
    int wake_fd;
    _Atomic int wake_pending;
    tlm__counters n;

    /* Commands from caller threads, guarded by mu; the worker signals cv
     * whenever settled_upto advances or it stops. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int cmd_flush; /* a caller waits for a flush */
    int cmd_stop; /* finish: drain and exit when settled */
    int cmd_abort; /* deadline passed: drop what is left, exit */
    int cmd_purge; /* opt-out switched on: purge everything */
    int cmd_purge_consent; /* consent revoked: purge everything */
    int worker_done; /* the loop has exited */
    uint64_t settled_upto; /* every position below this is settled */
    bool replay_busy; /* spool records of earlier processes not settled */

    pthread_t thread;
    bool thread_started;
    bool worker_ready; /* tlm__worker_start succeeded, not yet destroyed */
    /* The fork generation this client was made or rebuilt under, with
     * TLM__FORK_NO_WORKER set while a forked child's client has no worker
     * yet (fork.c). */
    _Atomic unsigned fork_gen;

    /* Worker thread only. */
    uv_loop_t loop;
    uv_poll_t wake_poll;
    uv_timer_t flush_timer;
    uv_timer_t retry_timer;
    uv_timer_t curl_timer;
    CURLM *multi;
    tlm__sock *sock_pool; /* poll contexts for curl's sockets */
    tlm__sock *sock_free;
    tlm__rng rng;
    char *client_info; /* JSON object text shared by every event */
    char *auth_header; /* "Authorization: Bearer ..." */
    char *url; /* endpoint + "/v1/batch" */
    tlm__buf scratch; /* one encoded event, reused */
    tlm__batch *current; /* being filled */
    tlm__batch *waiting; /* sealed, not in flight, FIFO by not_before */
    tlm__batch *inflight; /* transfers running */
    uint32_t n_waiting;
    uint32_t n_inflight;
    bool flush_partial; /* seal the current batch even if not full */
    tlm__spool *spool; /* NULL without a spool dir */
    bool replay_pending; /* earlier processes' records not all taken */
};

/* fork.c */
#define TLM__FORK_NO_WORKER 0x80000000u
#define TLM__FORK_GEN_MASK (TLM__FORK_NO_WORKER - 1)
extern _Atomic unsigned tlm__fork_gen;
/* Registers the atfork handlers once; returns the current generation. */
unsigned tlm__fork_register(void);
/* In a child of the process that made c: makes c the child's own (empty
 * queue, no worker); with start_worker, starts its worker if it has none.
 * Returns 0 or the worker's start error. */
int tlm__fork_settle(tlm_client *c, bool start_worker);

/* True when c was made in another process (a fork happened since). */
static inline bool
tlm__forked(tlm_client *c)
{
    return (atomic_load_explicit(&tlm__fork_gen, memory_order_relaxed)
               & TLM__FORK_GEN_MASK)
        != (atomic_load_explicit(&c->fork_gen, memory_order_relaxed)
            & TLM__FORK_GEN_MASK);
}

/* True when tracking must go through tlm__fork_settle(c, true) first: a
 * fork happened, or this child's client has no worker yet. */
static inline bool
tlm__fork_pending(tlm_client *c)
{
    return (atomic_load_explicit(&tlm__fork_gen, memory_order_relaxed)
               & TLM__FORK_GEN_MASK)
        != atomic_load_explicit(&c->fork_gen, memory_order_relaxed);
}

/* worker.c */
int tlm__worker_start(tlm_client *c);
void tlm__worker_wake(tlm_client *c);
/* Releases what tlm__worker_start() made, after the thread has ended. */
void tlm__worker_destroy(tlm_client *c);
void tlm__batch_free(tlm__batch *b);
/* Appends b to the waiting list (FIFO), writing it to the spool first when
 * it is not there yet. Worker thread. */
void tlm__worker_push_waiting(tlm_client *c, tlm__batch *b);
/* Called by transport.c when a batch's transfer ends. */
void tlm__worker_batch_done(tlm_client *c, tlm__batch *b, int transfer_ok,
    long status, long retry_after_s);

/* worker_spool.c: the worker's use of the spool; each is a no-op without
 * one. open runs on the creating thread, the rest on the worker. */
int tlm__wspool_open(tlm_client *c);
void tlm__wspool_close(tlm_client *c);
/* Writes a sealed batch (body built now, then fixed) unless it is in. */
void tlm__wspool_write(tlm_client *c, tlm__batch *b);
/* The batch is settled for good (2xx, refused, dropped): never replay. */
void tlm__wspool_ack(tlm_client *c, tlm__batch *b);
/* Takes earlier processes' batches into the waiting list while fewer than
 * limit batches are held. */
void tlm__wspool_replay(tlm_client *c, uint32_t limit);
/* Opt-out or consent revoked: deletes everything spooled. */
void tlm__wspool_purge(tlm_client *c);

/* transport.c */
int tlm__transport_init(tlm_client *c);
/* The request body of b (batch JSON, gzip'ed when configured). */
int tlm__transport_body(tlm_client *c, tlm__batch *b);
/* Starts the HTTP request of a sealed batch; 0 or a TLM_E* code. */
int tlm__transport_send(tlm_client *c, tlm__batch *b);
/* Aborts every transfer in flight; returns the number of events they held
 * (their batches are freed, not retried). */
uint64_t tlm__transport_abort_all(tlm_client *c);
void tlm__transport_close(tlm_client *c);
/* curl_global_init exactly once per process, thread-safely. */
int tlm__transport_global_init(void);

#endif /* TLM_CLIENT_H */
