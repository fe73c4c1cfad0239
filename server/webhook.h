/* Webhook delivery: one thread of its own POSTs signed JSON deliveries taken
 * from an outbox (the store's, through the small interface below) and
 * records every attempt. Must never block the HTTP front, never know the
 * store, and never log the secret or the URL (it may carry a token). */
#ifndef TLM_SERVER_WEBHOOK_H
#define TLM_SERVER_WEBHOOK_H

#include "log.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Threads: start and stop from one thread (main); poke and stats from any
 * thread; the outbox callbacks run on the webhook thread, one at a time.
 * Ownership: the options' strings are copied; log and outbox.ctx are
 * borrowed and must outlive the module; claimed deliveries become the
 * module's. Delivery is at least once: receivers dedupe by delivery id. */

#define TLM_WEBHOOK_DEFAULT_MAX_ATTEMPTS 8u
#define TLM_WEBHOOK_DEFAULT_BASE_DELAY_MS 1000u
#define TLM_WEBHOOK_DEFAULT_MAX_DELAY_MS 300000u
#define TLM_WEBHOOK_DEFAULT_TIMEOUT_MS 10000u
#define TLM_WEBHOOK_DEFAULT_POLL_MS 1000u
/* Attempts in flight at once (parallel connections to the receiver). */
#define TLM_WEBHOOK_PARALLEL 8u

/* The three event types (X-Telemetry-Event and the body's "type"). */
#define TLM_WEBHOOK_FEEDBACK_ISSUE "feedback.issue"
#define TLM_WEBHOOK_FEEDBACK_NEGATIVE "feedback.negative"
#define TLM_WEBHOOK_STATUS_CHANGED "feature_request.status_changed"

/* One delivery to make. Filled in by the outbox's claim; from then on owned
 * by the module, which frees body. */
struct tlm__delivery {
    char id[40]; /* uuid, sent as X-Telemetry-Delivery */
    char type[48]; /* one of the TLM_WEBHOOK_* types */
    char *body; /* JSON document to POST (malloc'ed) */
    size_t body_len;
    unsigned attempts; /* attempts made before this one */
};

/* One attempt's outcome. Every pointer is borrowed for the duration of the
 * record call only. */
struct tlm__delivery_result {
    const char *id;
    const char *type;
    unsigned attempt; /* 1-based */
    long http_status; /* 0: no answer */
    const char *error; /* NULL on 2xx, else a short reason: "timeout",
                          "connection refused", "HTTP 500", ... */
    int64_t at_ms; /* epoch ms, when the attempt ended */
    bool delivered; /* 2xx */
    bool gave_up; /* failed and attempts exhausted: closed */
    int64_t next_attempt_ms; /* when neither delivered nor gave_up, else 0 */
};

/* What the module needs from the store. Both callbacks run on the webhook
 * thread only, one at a time; they return 0 or -1. */
struct tlm__outbox {
    /* Claims up to max deliveries due at now_ms (next attempt <= now_ms,
     * not leased), leasing them until now_ms + lease_ms so that another
     * server does not take them. *out: a malloc'ed array of *n deliveries
     * (NULL when none) that the module takes over, bodies included. */
    int (*claim)(void *ctx, int64_t now_ms, int64_t lease_ms, size_t max,
        struct tlm__delivery **out, size_t *n);
    /* Appends r to the delivery log and reschedules the delivery at
     * r->next_attempt_ms (lease released) or closes it (delivered or
     * gave up). On -1 the delivery stays leased and comes back after its
     * lease: delivery is at least once, receivers dedupe by id. */
    int (*record)(void *ctx, const struct tlm__delivery_result *r);
    void *ctx;
};

/* 0 in a numeric field means its default (TLM_WEBHOOK_DEFAULT_*). */
struct tlm__webhook_options {
    const char *url; /* http:// or https://; copied */
    const char *secret; /* HMAC key; copied. NULL/"": no signature */
    unsigned max_attempts; /* then gave_up */
    unsigned base_delay_ms; /* retry n waits base * 2^(n-1), no jitter */
    unsigned max_delay_ms; /* cap of that wait */
    unsigned timeout_ms; /* whole attempt, connect included */
    unsigned poll_ms; /* outbox poll period when idle */
    struct tlm__outbox outbox;
    struct tlm__log *log; /* may be NULL; borrowed, must outlive the module */
};

struct tlm__webhook;

/* Validates o, copies it and starts the delivery thread, which claims
 * at once and then every poll_ms (sooner after a poke or when a retry it
 * scheduled falls due). Returns 0 and *out, or -1 with a message naming
 * the configuration key in err. Call from one thread (e.g. main). */
int tlm__webhook_start(const struct tlm__webhook_options *o,
    struct tlm__webhook **out, char *err, size_t err_size);

/* Something was just added to the outbox: claim now. Safe from any thread
 * (an HTTP handler), never blocks; not after stop. */
void tlm__webhook_poke(struct tlm__webhook *w);

/* Stops the thread and frees w (NULL: no-op). Attempts in flight are
 * abandoned at once, unrecorded: they stay leased and are retried after
 * the lease (lease = 2 * timeout_ms + 30 s). Returns as soon as the thread
 * is out of curl or of the outbox callback it may be in (milliseconds,
 * unless the outbox is slow). Call from the thread that started w, once. */
void tlm__webhook_stop(struct tlm__webhook *w);

/* Counters since start, safe from any thread: deliveries delivered,
 * deliveries given up (failed for good), attempts made (each recorded
 * attempt, delivered or not). Any pointer may be NULL. */
void tlm__webhook_stats(const struct tlm__webhook *w, uint64_t *delivered,
    uint64_t *failed, uint64_t *attempts);

/* Pure helpers, safe from any thread. */

/* Hex HMAC-SHA256(secret, ts + "." + body) into hex (65 bytes with NUL),
 * the X-Telemetry-Signature value after "sha256=". Returns 0, or -1 (out
 * of memory; hex is then ""). */
int tlm__webhook_sign(const char *secret, const char *ts, const char *body,
    size_t len, char hex[65]);

/* Wait before the next attempt after `failed` failed attempts (>= 1):
 * min(base_ms * 2^(failed-1), max_ms). Deterministic, no jitter: the
 * module keeps at most TLM_WEBHOOK_PARALLEL attempts in flight, so a
 * receiver coming back never sees more than that at once. */
int64_t tlm__webhook_backoff_ms(
    unsigned base_ms, unsigned max_ms, unsigned failed);

/* Builds the body of a feedback.issue or feedback.negative delivery from a
 * feedback object (as GET /feedback/{id} answers it): {"type",
 * "delivery_id", "created_at", "feedback": {...}, "issue": {"title",
 * "body" (markdown), "labels": [...]}}. delivery_id NULL: omitted;
 * created_at NULL: the feedback's created_at. Returns malloc'ed JSON text
 * (free()), or NULL (out of memory, feedback not an object, bad type). */
char *tlm__webhook_issue_doc(const cJSON *feedback, const char *type,
    const char *delivery_id, const char *created_at);

/* Builds the body of a feature_request.status_changed delivery (one per
 * voter): {"type", "delivery_id", "created_at", "feature_request": {"id",
 * "title", "status", "previous_status", "reason", "votes"},
 * "user_id"}. fr is the feature request object after the change; reason
 * and previous_status may be NULL (JSON null). Returns malloc'ed JSON text
 * or NULL. */
char *tlm__webhook_status_doc(const cJSON *fr, const char *previous_status,
    const char *reason, const char *user_id, const char *delivery_id,
    const char *created_at);

#endif
