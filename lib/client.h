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
    uint32_t n_errors; /* of n: error events (stats) */
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

/* One feedback / feature-request call (api_request.c, feedback.c): a
 * single HTTP request with a completion callback. */
enum {
    TLM__API_IN_CONTENT = 0, /* feedback: content / feature: title */
    TLM__API_IN_CATEGORY, /* feedback: category / feature: description */
    TLM__API_IN_CONTEXT, /* feedback: context / feature: use_case */
    TLM__API_IN_FEATURE,
    TLM__API_IN_ENDPOINT,
    TLM__API_IN_USER,
    TLM__API_IN_SUMMARY,
    TLM__API_IN_STEPS,
    TLM__API_IN_EXPECTED,
    TLM__API_IN_ACTUAL,
    TLM__API_NIN
};

typedef enum tlm__api_kind {
    TLM__API_FEEDBACK = 1,
    TLM__API_FEATURE,
    TLM__API_VOTE,
    TLM__API_UNVOTE,
    TLM__API_READ, /* path given at the call: GET, no body */
    TLM__API_REPLAYED /* from the spool: method, path and body fixed */
} tlm__api_kind;

typedef struct tlm__wait tlm__wait; /* api_request.c: a *_wait caller */

typedef struct tlm__api {
    struct tlm__api *next;
    tlm__api_kind kind;
    int type, rating; /* feedback */
    const char *in[TLM__API_NIN]; /* raw input, into `inbuf`; NULL: absent */
    char *inbuf;
    char *path; /* "/feedback", "/feature-requests/x/vote?user_id=", ... */
    const char *method; /* static string */
    char *body; /* JSON, built by the worker (privacy applied) */
    size_t body_len;
    char key[37]; /* Idempotency-Key of a submission, "" for a read */
    uint64_t seq; /* acceptance order (flush); UINT64_MAX when replayed */
    tlm_response_fn cb;
    void *ud;
    tlm__wait *waiter;
    bool built; /* body and path final (after privacy) */
    bool answered; /* the callback ran (early, for a spooled one) */
    bool spooled;
    uint64_t spool_id;
    uint32_t attempts;
    uint64_t not_before;
    long status;
    bool too_large; /* the answer passed the cap */
    CURL *easy;
    struct curl_slist *headers;
    tlm__buf response;
    char errbuf[CURL_ERROR_SIZE];
} tlm__api;

typedef struct tlm__counters {
    _Atomic uint64_t sent, duplicates, rejected;
    _Atomic uint64_t dropped_queue_full, dropped_disabled;
    _Atomic uint64_t dropped_before_send, dropped_http, dropped_retries;
    _Atomic uint64_t dropped_oversize, dropped_shutdown, dropped_nomem;
    _Atomic uint64_t retried, batches, requests;
    _Atomic uint64_t bytes_raw, bytes_compressed, inflight_events;
    _Atomic uint64_t sampled_out, debug_printed, dropped_consent;
    _Atomic uint64_t spooled, replayed, spool_kept, dropped_spool_full;
    /* Errors (error.c): counters, and what waits in the queue (bounded). */
    _Atomic uint64_t errors_captured, errors_sent, errors_dropped;
    _Atomic uint64_t errors_sampled_out, errors_pending, errors_pending_bytes;
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
    /* API calls (api_request.c), guarded by mu: accepted from callers and
     * not yet taken by the worker (FIFO), how many are outstanding in all,
     * the next sequence number, and the lowest one not settled. */
    tlm__api *api_pending;
    tlm__api **api_pending_tail;
    uint32_t api_outstanding;
    uint64_t api_next_seq;
    uint64_t api_settled_upto;

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
    /* Closing with a spool: the whole queue goes to batches (and so to the
     * spool) at once, not a few batches at a time, so that what close's
     * deadline finds unsent is on disk rather than dropped. */
    bool spool_all;
    tlm__spool *spool; /* NULL without a spool dir */
    /* API calls the worker holds: waiting (not in flight) and in flight. */
    tlm__api *api_waiting;
    tlm__api *api_inflight;
    uint32_t n_api_waiting;
    uint32_t n_api_inflight;
    uv_timer_t api_timer;
    bool replay_pending; /* earlier processes' records not all taken */
    /* Ids of the last requests recorded by tlm_track_request_error, by
     * queue position, for their error's "request_id" (error.c). */
    struct {
        uint64_t pos;
        char id[37];
    } links[16];
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

/* client.c: queues a checked request that an error follows (never
 * sampled out; flagged TLM__SLOT_LINKED); its queue position in *pos. */
int tlm__track_request_linked(
    tlm_client *c, const tlm_request *r, uint64_t *pos);

/* error.c (worker thread) */
/* Fills the error fields of ev from an error slot at queue position pos. */
void tlm__error_from_slot(
    tlm_client *c, tlm_event *ev, const tlm__slot *slot, uint64_t pos);
/* Remembers the id of a linked request slot for its error. */
void tlm__error_link(
    tlm_client *c, const tlm__slot *slot, uint64_t pos, const char *id);
/* Scrubs message, stack, code and fingerprint (privacy layer, after
 * tlm__privacy_apply). 0 or TLM_ENOMEM. */
int tlm__error_privacy(tlm_client *c, tlm_event *ev);
/* An error slot leaves the queue: releases its share of the pending cap. */
void tlm__error_release(tlm_client *c, const tlm__slot *slot);

/* worker.c */
int tlm__worker_start(tlm_client *c);
void tlm__worker_wake(tlm_client *c);
/* Releases what tlm__worker_start() made, after the thread has ended. */
void tlm__worker_destroy(tlm_client *c);
void tlm__batch_free(tlm__batch *b);
/* Appends b to the waiting list (FIFO), writing it to the spool first when
 * it is not there yet. Worker thread. */
void tlm__worker_push_waiting(tlm_client *c, tlm__batch *b);
/* One round of the worker's work (after an API call's transfer ends). */
void tlm__worker_kick(tlm_client *c);
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

/* api_request.c: the worker's side of API calls. */
/* Takes what callers added, builds, spools and starts what is due.
 * Worker thread, as everything below but tlm__api_submit. */
void tlm__api_pass(tlm_client *c);
/* Whether the worker holds no API call. */
bool tlm__api_idle(const tlm_client *c);
/* The lowest sequence number held (UINT64_MAX: none), and whether a
 * replayed call is held. Worker thread. */
uint64_t tlm__api_min_seq(const tlm_client *c, bool *replays);
/* Completes every call with rc (close's deadline, opt-out): callbacks run,
 * transfers are aborted. Spooled ones stay in the spool unless `purge`. */
void tlm__api_fail_all(tlm_client *c, int rc);
/* Called by transport.c when an API call's transfer ends. */
void tlm__api_done(tlm_client *c, tlm__api *a, int transfer_ok, long status,
    long retry_after_s);
/* A spooled API call of an earlier process, taken back. 0 or -1 (no
 * memory or no room: offered again later). */
int tlm__api_from_spool(tlm_client *c, uint64_t record_id, const void *body,
    size_t len, const char *key);
/* Number of API calls the worker holds (replay's room). */
uint32_t tlm__api_held(const tlm_client *c);
/* fork(): the child forgets the parent's calls (never called back). */
void tlm__api_child_reset(tlm_client *c);
void tlm__api_free(tlm__api *a);
/* feedback.c: the request body with the privacy layer applied (worker). */
int tlm__api_build(tlm_client *c, tlm__api *a);
/* api_request.c: accepts a call made by a public function (caller
 * thread; c not NULL; with `wait`, out checked and reset); takes `a` over
 * on every path. */
int tlm__api_submit(tlm_client *c, tlm__api *a, tlm_response_fn cb, void *ud,
    uint32_t timeout_ms, tlm_reply *out, bool wait);

/* worker_spool.c: API calls in the spool. */
void tlm__wspool_write_api(tlm_client *c, tlm__api *a);
void tlm__wspool_ack_api(tlm_client *c, tlm__api *a);

/* transport.c: API calls. */
/* Starts the HTTP request of an API call; 0 or a TLM_E* code. */
int tlm__transport_api_send(tlm_client *c, tlm__api *a);
/* Aborts every API transfer in flight; the calls are moved to `out`. */
void tlm__transport_api_abort_all(tlm_client *c, tlm__api **out);

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
