/* Prometheus counters kept as relaxed atomics and rendered on demand. The
 * hot path only increments; rendering reads each counter once, so a scrape
 * may mix values from a few microseconds apart, never a torn value. */
#include "metrics.h"

#include "scrub.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double store_bounds[TLM_METRICS_STORE_BUCKETS]
    = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

static const char *const route_names[TLM_ROUTE_COUNT] = {
    "/v1/batch",
    "/healthz",
    "/readyz",
    "/metrics",
    "/admin/analytics/dashboard",
    "/admin/events",
    "/feedback",
    "/feature-requests",
    "/portal/",
    "/admin/other",
    "other",
};

#define RELAXED memory_order_relaxed

void
tlm__metrics_init(struct tlm__metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void
tlm__metrics_request(
    struct tlm__metrics *m, enum tlm__metrics_route route, unsigned status)
{
    if (route >= TLM_ROUTE_COUNT || status >= 600)
        return;
    atomic_fetch_add_explicit(&m->requests[route][status], 1, RELAXED);
}

void
tlm__metrics_events(
    struct tlm__metrics *m, size_t accepted, size_t duplicates, size_t rejected)
{
    atomic_fetch_add_explicit(&m->events_accepted, accepted, RELAXED);
    atomic_fetch_add_explicit(&m->events_duplicate, duplicates, RELAXED);
    atomic_fetch_add_explicit(&m->events_rejected, rejected, RELAXED);
}

void
tlm__metrics_store_time(struct tlm__metrics *m, double seconds)
{
    size_t i = 0;
    if (!(seconds >= 0))
        seconds = 0;
    while (i < TLM_METRICS_STORE_BUCKETS && seconds > store_bounds[i])
        i++;
    atomic_fetch_add_explicit(&m->store_buckets[i], 1, RELAXED);
    atomic_fetch_add_explicit(&m->store_count, 1, RELAXED);
    atomic_fetch_add_explicit(
        &m->store_micros, (unsigned long)(seconds * 1e6 + 0.5), RELAXED);
}

/* A growable text buffer; failed stays set after the first error. */
struct text {
    char *p;
    size_t len;
    size_t cap;
    bool failed;
};

static void
put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len)
            break;
        size_t ncap = t->cap * 2 + (size_t)n;
        char *q = realloc(t->p, ncap);
        if (q == NULL) {
            t->failed = true;
            return;
        }
        t->p = q;
        t->cap = ncap;
    }
    t->len += (size_t)n;
}

static unsigned long
get(const atomic_ulong *a)
{
    return atomic_load_explicit(a, RELAXED);
}

static void
render_requests(struct text *t, const struct tlm__metrics *m)
{
    put(t,
        "# HELP telemetry_http_requests_total HTTP requests answered, by "
        "route and status.\n"
        "# TYPE telemetry_http_requests_total counter\n");
    for (size_t r = 0; r < TLM_ROUTE_COUNT; r++) {
        for (unsigned s = 0; s < 600; s++) {
            unsigned long v = get(&m->requests[r][s]);
            if (v != 0)
                put(t,
                    "telemetry_http_requests_total{route=\"%s\","
                    "status=\"%u\"} %lu\n",
                    route_names[r], s, v);
        }
    }
}

static void
render_events(struct text *t, const struct tlm__metrics *m)
{
    unsigned long in = get(&m->bytes_in), out = get(&m->bytes_inflated);
    put(t,
        "# HELP telemetry_events_total Events received in batches, by "
        "outcome.\n"
        "# TYPE telemetry_events_total counter\n"
        "telemetry_events_total{result=\"accepted\"} %lu\n"
        "telemetry_events_total{result=\"duplicate\"} %lu\n"
        "telemetry_events_total{result=\"rejected\"} %lu\n",
        get(&m->events_accepted), get(&m->events_duplicate),
        get(&m->events_rejected));
    put(t,
        "# HELP telemetry_bytes_in_total Batch body bytes received on the "
        "wire.\n"
        "# TYPE telemetry_bytes_in_total counter\n"
        "telemetry_bytes_in_total %lu\n"
        "# HELP telemetry_inflated_bytes_total Batch body bytes after "
        "decoding.\n"
        "# TYPE telemetry_inflated_bytes_total counter\n"
        "telemetry_inflated_bytes_total %lu\n"
        "# HELP telemetry_inflate_ratio Decoded over wire bytes of all "
        "batches so far.\n"
        "# TYPE telemetry_inflate_ratio gauge\n"
        "telemetry_inflate_ratio %.4f\n",
        in, out, in > 0 ? (double)out / (double)in : 0.0);
}

static void
render_store(struct text *t, const struct tlm__metrics *m)
{
    unsigned long cumulative = 0;
    put(t,
        "# HELP telemetry_store_seconds Time of each batch write to the "
        "store.\n"
        "# TYPE telemetry_store_seconds histogram\n");
    for (size_t i = 0; i < TLM_METRICS_STORE_BUCKETS; i++) {
        cumulative += get(&m->store_buckets[i]);
        put(t, "telemetry_store_seconds_bucket{le=\"%g\"} %lu\n",
            store_bounds[i], cumulative);
    }
    cumulative += get(&m->store_buckets[TLM_METRICS_STORE_BUCKETS]);
    put(t,
        "telemetry_store_seconds_bucket{le=\"+Inf\"} %lu\n"
        "telemetry_store_seconds_sum %.6f\n"
        "telemetry_store_seconds_count %lu\n",
        cumulative, (double)get(&m->store_micros) / 1e6, cumulative);
}

static void
render_flow(struct text *t, const struct tlm__metrics *m)
{
    put(t,
        "# HELP telemetry_write_queue_depth Batches writing to or waiting "
        "for the store.\n"
        "# TYPE telemetry_write_queue_depth gauge\n"
        "telemetry_write_queue_depth %ld\n"
        "# HELP telemetry_rate_limited_total Batches refused with 429 by "
        "the per-key rate limit.\n"
        "# TYPE telemetry_rate_limited_total counter\n"
        "telemetry_rate_limited_total %lu\n"
        "# HELP telemetry_overloaded_total Batches refused with 503 "
        "because the write queue was full.\n"
        "# TYPE telemetry_overloaded_total counter\n"
        "telemetry_overloaded_total %lu\n",
        atomic_load_explicit(&m->write_queue_depth, RELAXED),
        get(&m->rate_limited), get(&m->overloaded));
    put(t,
        "# HELP telemetry_events_environment_overridden_total Events stored "
        "under their key's environment instead of the one they claimed.\n"
        "# TYPE telemetry_events_environment_overridden_total counter\n"
        "telemetry_events_environment_overridden_total %lu\n"
        "# HELP telemetry_keys_active Ingestion keys accepted now (config "
        "and database).\n"
        "# TYPE telemetry_keys_active gauge\n"
        "telemetry_keys_active %ld\n"
        "# HELP telemetry_key_sync_failures_total Re-reads of the "
        "database's keys that failed (the previous keys stay in force).\n"
        "# TYPE telemetry_key_sync_failures_total counter\n"
        "telemetry_key_sync_failures_total %lu\n"
        "# HELP telemetry_events_purged_total Events removed by the "
        "retention purge (retention_days).\n"
        "# TYPE telemetry_events_purged_total counter\n"
        "telemetry_events_purged_total %lu\n",
        get(&m->environment_overridden),
        atomic_load_explicit(&m->keys_active, RELAXED),
        get(&m->key_syncs_failed), get(&m->events_purged));
}

static void
render_scrubbed(struct text *t, const struct tlm__metrics *m)
{
    put(t,
        "# HELP telemetry_server_scrubbed_total Replacements the server's "
        "privacy pass made in stored events and bad rows, by detector.\n"
        "# TYPE telemetry_server_scrubbed_total counter\n");
    for (int k = 0; k < TLM__SCRUB_NKINDS; k++)
        put(t, "telemetry_server_scrubbed_total{detector=\"%s\"} %lu\n",
            tlm__scrub_kind_name(k), get(&m->scrubbed[k]));
}

static void
render_webhook(struct text *t, const struct tlm__metrics *m)
{
    uint64_t delivered = 0, failed = 0, attempts = 0;
    put(t,
        "# HELP telemetry_error_alerts_total Error-group alerts recorded "
        "(error_tracking.alert_thresholds).\n"
        "# TYPE telemetry_error_alerts_total counter\n"
        "telemetry_error_alerts_total %lu\n",
        get(&m->alerts_raised));
    if (m->webhook == NULL || m->webhook_stats == NULL)
        return;
    m->webhook_stats(m->webhook, &delivered, &failed, &attempts);
    put(t,
        "# HELP telemetry_webhook_deliveries_total Webhook deliveries by "
        "outcome (delivered, or failed after every attempt).\n"
        "# TYPE telemetry_webhook_deliveries_total counter\n"
        "telemetry_webhook_deliveries_total{outcome=\"delivered\"} %lu\n"
        "telemetry_webhook_deliveries_total{outcome=\"failed\"} %lu\n"
        "# HELP telemetry_webhook_attempts_total Webhook POSTs made.\n"
        "# TYPE telemetry_webhook_attempts_total counter\n"
        "telemetry_webhook_attempts_total %lu\n",
        (unsigned long)delivered, (unsigned long)failed,
        (unsigned long)attempts);
}

char *
tlm__metrics_render(const struct tlm__metrics *m)
{
    struct text t = {malloc(8192), 0, 8192, false};
    if (t.p == NULL)
        return NULL;
    render_requests(&t, m);
    render_events(&t, m);
    render_store(&t, m);
    render_flow(&t, m);
    render_scrubbed(&t, m);
    render_webhook(&t, m);
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    return t.p;
}
