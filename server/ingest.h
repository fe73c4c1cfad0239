/* POST /v1/batch processing, independent of HTTP: decode the body, parse the
 * batch, validate every event on its own, store the valid ones in one
 * transaction and write the receipt. Must never trust a length or a field
 * from the body, and never fail a whole batch for one bad event. */
#ifndef TLM_SERVER_INGEST_H
#define TLM_SERVER_INGEST_H

#include "inflate.h"
#include "scrub_pass.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLM_INGEST_DEFAULT_MAX_INFLATED (8u * 1024u * 1024u)
#define TLM_INGEST_DEFAULT_MAX_EVENT (64u * 1024u)
#define TLM_INGEST_DEFAULT_MAX_EVENTS 1000u
#define TLM_INGEST_DEFAULT_MAX_FUTURE_MS (24LL * 3600 * 1000)
#define TLM_INGEST_DEFAULT_MAX_AGE_MS (30LL * 24 * 3600 * 1000)

/* Calls out of a batch's processing, all optional (NULL members are
 * skipped) and all made on the calling thread. A refusing hook returns an
 * HTTP status and writes the error message; nothing of the batch is then
 * stored. */
struct tlm__ingest_hooks {
    void *ctx;
    /* The body decoded to bytes (after inflating). */
    void (*decoded)(void *ctx, size_t bytes);
    /* The body scanned: n_events elements in events. 0 or a status. */
    int (*admit)(void *ctx, size_t n_events, char *msg, size_t msg_size);
    /* Just before the store write. 0 or a status. */
    int (*store_enter)(void *ctx, char *msg, size_t msg_size);
    /* After the write store_enter admitted, ok or not, with its time. */
    void (*store_leave)(void *ctx, double seconds);
    /* The receipt's counts of a batch answered 200. */
    void (*stored)(
        void *ctx, size_t accepted, size_t duplicates, size_t rejected);
    /* Valid events whose environment the key's replaced. */
    void (*environment_overridden)(void *ctx, size_t events);
    /* What the second privacy pass replaced in a stored batch. */
    void (*scrubbed)(void *ctx, const struct tlm__scrub_tally *tally);
    /* Error groups of a stored batch raised alerts (their webhook
     * deliveries, if any, are in the outbox now). */
    void (*alerted)(void *ctx, size_t alerts);
};

struct tlm__ingest_limits {
    size_t max_inflated_bytes; /* 0: TLM_INGEST_DEFAULT_MAX_INFLATED */
};

/* Per-event and per-batch rules. Zero members take the defaults above; a
 * negative time window disables that check. */
struct tlm__ingest_policy {
    size_t max_event_bytes; /* an element of events larger: rejected alone */
    size_t max_batch_events; /* more elements: the batch is a 413 */
    int64_t max_future_ms; /* timestamp later than received + this */
    int64_t max_age_ms; /* timestamp earlier than received - this */
    /* Deepest nesting of the body (1..TLM_JSON_SCAN_MAX_DEPTH): deeper is
     * a 400 naming max_json_depth. */
    unsigned max_json_depth;
    const struct tlm__ingest_hooks *hooks; /* NULL: none */
    /* The sending key's environment: when set it replaces every event's
     * own claim, so sandbox traffic never lands in production. */
    const char *environment;
    const char *key_id; /* recorded with the batch; NULL: none */
    bool no_scrub; /* skip the second privacy pass (benchmarks only) */
    /* error_tracking's alert rule (NULL: the defaults, no webhook). */
    const struct tlm__alert_policy *alerts;
};

/* Processes one wire body with the default policy. Returns the HTTP status
 * (200, 400, 413, 500, or one a hook chose) and sets *response to the malloc'ed
 * JSON body for it (receipt or
 * {"error": ...}; NULL only when out of memory). */
int tlm__ingest_body(struct tlm__store *st, const void *body, size_t len,
    enum tlm__encoding enc, const struct tlm__ingest_limits *limits,
    int64_t received_ms, char **response);

/* Same, for an already decoded JSON text of len bytes, with the default
 * limits and no hooks. */
int tlm__ingest_json(struct tlm__store *st, const char *json, size_t len,
    int64_t received_ms, char **response);

/* tlm__ingest_body with an explicit policy (NULL: defaults). */
int tlm__ingest_body_with(struct tlm__store *st, const void *body, size_t len,
    enum tlm__encoding enc, const struct tlm__ingest_limits *limits,
    const struct tlm__ingest_policy *policy, int64_t received_ms,
    char **response);

/* tlm__ingest_json with an explicit policy (NULL: defaults). */
int tlm__ingest_json_with(struct tlm__store *st, const char *json, size_t len,
    const struct tlm__ingest_policy *policy, int64_t received_ms,
    char **response);

#endif
