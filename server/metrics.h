/* Server counters for GET /metrics (Prometheus text format 0.0.4): requests
 * by route and status, event outcomes, bytes, store latency, write-queue
 * depth and rate limiting. Lock-free (relaxed atomics): safe from any
 * thread, never blocks a request, never allocates except to render. */
#ifndef TLM_SERVER_METRICS_H
#define TLM_SERVER_METRICS_H

#include "scrub_pass.h"

#include <stdatomic.h>
#include <stddef.h>

/* Routes as labelled in telemetry_http_requests_total{route=...}. */
enum tlm__metrics_route {
    TLM_ROUTE_BATCH,
    TLM_ROUTE_HEALTHZ,
    TLM_ROUTE_READYZ,
    TLM_ROUTE_METRICS,
    TLM_ROUTE_DASHBOARD,
    TLM_ROUTE_EVENTS,
    TLM_ROUTE_FEEDBACK, /* /feedback and /feedback/{id} */
    TLM_ROUTE_FEATURE_REQUESTS, /* /feature-requests... */
    TLM_ROUTE_PORTAL, /* /portal/... */
    TLM_ROUTE_ADMIN_API, /* the other /admin/ routes */
    TLM_ROUTE_OTHER, /* 404s and anything unrouted */
    TLM_ROUTE_COUNT
};

/* Upper bounds (seconds) of the store-latency histogram buckets. */
#define TLM_METRICS_STORE_BUCKETS 12

struct tlm__webhook;

struct tlm__metrics {
    atomic_ulong requests[TLM_ROUTE_COUNT][600]; /* by status 0..599 */
    atomic_ulong events_accepted;
    atomic_ulong events_duplicate;
    atomic_ulong events_rejected;
    atomic_ulong bytes_in; /* batch bodies as received on the wire */
    atomic_ulong bytes_inflated; /* the same bodies after decoding */
    atomic_ulong store_buckets[TLM_METRICS_STORE_BUCKETS + 1]; /* +Inf */
    atomic_ulong store_count;
    atomic_ulong store_micros; /* sum of store times, microseconds */
    atomic_long write_queue_depth;
    atomic_ulong rate_limited;
    atomic_ulong overloaded; /* 503 answers from the bounded write queue */
    atomic_ulong environment_overridden; /* events given their key's env */
    atomic_long keys_active; /* ingestion keys accepted now */
    atomic_ulong alerts_raised; /* error-group alerts recorded */
    /* The webhook whose counters /metrics shows (NULL: none). */
    const struct tlm__webhook *webhook;
    void (*webhook_stats)(const struct tlm__webhook *w, uint64_t *delivered,
        uint64_t *failed, uint64_t *attempts);
    atomic_ulong key_syncs_failed; /* database key re-reads that failed */
    atomic_ulong events_purged; /* removed by the retention purge */
    /* the privacy pass's replacements by detector kind (scrub_pass.h) */
    atomic_ulong scrubbed[TLM_SCRUB_TALLY_KINDS];
};

/* Zeroes every counter (the struct may also simply be zero-initialized). */
void tlm__metrics_init(struct tlm__metrics *m);

void tlm__metrics_request(
    struct tlm__metrics *m, enum tlm__metrics_route route, unsigned status);

void tlm__metrics_events(struct tlm__metrics *m, size_t accepted,
    size_t duplicates, size_t rejected);

/* One store batch write that took seconds. */
void tlm__metrics_store_time(struct tlm__metrics *m, double seconds);

/* The exposition text, malloc'ed (free()), or NULL when out of memory. */
char *tlm__metrics_render(const struct tlm__metrics *m);

#endif
