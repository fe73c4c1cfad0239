/* The storage interface: every backend (SQLite now, PostgreSQL later) is a
 * vtable behind struct tlm__store. Callers never see SQL or a backend type;
 * backends never see HTTP or JSON parsing. All operations are thread-safe. */
#ifndef TLM_SERVER_STORE_H
#define TLM_SERVER_STORE_H

#include "event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Batch header as received; every string may be NULL. */
struct tlm__batch_meta {
    const char *batch_id;
    const char *sent_at;
    const char *sdk_name;
    const char *sdk_version;
    const char *sdk_binding;
    const char *client_stats; /* JSON text as received, not terminated */
    size_t client_stats_len;
    const char *privacy; /* the SDK's privacy block, as received, or NULL */
    size_t privacy_len;
    size_t event_count; /* events in the batch, valid or not */
};

struct tlm__store_event {
    struct tlm__event ev;
    /* The event's JSON text as received (not NUL-terminated); it must stay
     * valid until insert_batch returns, which binds it without a copy. */
    const char *payload;
    size_t payload_len;
    bool duplicate; /* set by insert: the id was already stored */
};

struct tlm__bad_row {
    const char *reason;
    const char *raw; /* JSON text of the rejected item, as received */
    size_t raw_len;
};

/* Everything one POST /v1/batch writes, in one transaction. */
struct tlm__store_batch {
    int64_t received_ms;
    struct tlm__batch_meta meta;
    struct tlm__store_event *events;
    size_t n_events;
    struct tlm__bad_row *bad;
    size_t n_bad;
};

struct tlm__dash_query {
    int64_t from_ms; /* inclusive */
    int64_t to_ms; /* exclusive */
    const char *environment;
    size_t max_endpoints;
};

/* Weighted (1/sample_rate) estimates; percentiles are weighted nearest-rank
 * over request events, has_latency false when there are none. */
struct tlm__dash_endpoint {
    char *endpoint;
    double requests;
    double errors;
    bool has_latency;
    double p50_ms;
    double p95_ms;
    double p99_ms;
};

struct tlm__dash_result {
    double events;
    double errors;
    /* Batches received in the range, and those whose SDK said it did not
     * anonymize ids or scrub strings (the batch's privacy block). */
    double batches;
    double unanonymized_batches;
    double unscrubbed_batches;
    struct tlm__dash_endpoint *endpoints;
    size_t n_endpoints;
};

struct tlm__events_query {
    const char *type; /* "request", "error" or NULL for all */
    int64_t before; /* only rows with a cursor below this; 0 = newest */
    size_t limit;
};

/* Called once per listed event, newest first, with the store lock held: it
 * must not call back into the store. Returns 0 to continue, -1 to abort. */
typedef int (*tlm__event_visit_fn)(void *ctx, const char *payload, size_t len);

struct tlm__store;

struct tlm__store_ops {
    const char *name;
    int (*insert_batch)(struct tlm__store *st, struct tlm__store_batch *b,
        size_t *accepted, size_t *duplicates);
    int (*dashboard)(struct tlm__store *st, const struct tlm__dash_query *q,
        struct tlm__dash_result *out);
    int (*list_events)(struct tlm__store *st, const struct tlm__events_query *q,
        tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor);
    void (*close)(struct tlm__store *st);
};

struct tlm__store {
    const struct tlm__store_ops *ops;
};

/* Opens the store named by url ("sqlite:PATH"), creating or migrating its
 * schema. Returns 0 and *out (free with tlm__store_close), or -1 with a
 * message in err. */
int tlm__store_open(
    const char *url, struct tlm__store **out, char *err, size_t err_size);

/* Stores b's valid events (deduplicated on id, marking each duplicate), its
 * bad rows and its header in one transaction. Returns 0 or -1. */
int tlm__store_insert_batch(struct tlm__store *st, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates);

/* Fills *out (free with tlm__dash_result_free). Returns 0 or -1. */
int tlm__store_dashboard(struct tlm__store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out);

/* Lists events newest first; *next_cursor is 0 when no more remain. */
int tlm__store_list_events(struct tlm__store *st,
    const struct tlm__events_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor);

void tlm__store_close(struct tlm__store *st);
void tlm__dash_result_free(struct tlm__dash_result *r);

/* Backends. */
int tlm__store_sqlite_open(
    const char *path, struct tlm__store **out, char *err, size_t err_size);

#endif
