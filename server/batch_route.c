/* POST /v1/batch over HTTP: credentials and headers, the body under its
 * wire cap, then ingestion with this server's hooks (per-key rate limit,
 * bounded write queue, metrics) and fault injection. Must never keep more
 * than max_body_bytes of a body, nor call the store for a refused batch. */
#include "http_internal.h"

#include "config.h"
#include "ingest.h"
#include "json_util.h"
#include "rfc3339.h"
#include "webhook.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum tlm__principal
ingest_key(const struct tlm__http_server *s, struct MHD_Connection *c,
    const struct tlm__key **key)
{
    const char *h = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    return tlm__auth_classify(s->opt.auth, h, key);
}

/* Takes one injected fault if any are left. */
static bool
take_fault(struct tlm__http_server *s)
{
    unsigned long left = atomic_load(&s->faults_left);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&s->faults_left, &left, left - 1))
            return true;
    }
    return false;
}

static enum MHD_Result
too_large(struct MHD_Connection *c)
{
    /* The rest of the body stays unread: the connection cannot be reused. */
    return tlm__http_queue(c, MHD_HTTP_CONTENT_TOO_LARGE,
        tlm__json_error_body(
            "body: larger than the wire limit (max_body_bytes)"),
        MHD_HTTP_HEADER_CONNECTION, "close");
}

/* First call for POST /v1/batch: everything decidable from the headers. */
enum MHD_Result
tlm__batch_begin(
    struct tlm__http_server *s, struct MHD_Connection *c, void **con_cls)
{
    const char *enc_h, *len_h;
    unsigned long declared = 0;
    struct tlm__http_request *rq;
    const struct tlm__key *key = NULL;

    switch (ingest_key(s, c, &key)) {
    case TLM_PRINCIPAL_INGEST:
        break;
    case TLM_PRINCIPAL_ADMIN:
        return tlm__http_error(c, MHD_HTTP_FORBIDDEN,
            "the admin token and admin keys cannot send events: use an "
            "ingestion key");
    case TLM_PRINCIPAL_PUBLISHABLE:
        return tlm__http_error(c, MHD_HTTP_FORBIDDEN,
            "publishable keys cannot send events: they submit feedback, "
            "feature requests and votes only");
    default:
        return tlm__http_error(
            c, MHD_HTTP_UNAUTHORIZED, "missing or invalid API key");
    }
    enc_h = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (tlm__encoding_parse(enc_h) == TLM_ENCODING_UNSUPPORTED)
        return tlm__http_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding: expected gzip or identity");
    len_h = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (len_h != NULL
        && (tlm__parse_ulong(len_h, 0, ULONG_MAX, &declared) != 0
            || declared > s->opt.max_body_bytes))
        return too_large(c);
    rq = calloc(1, sizeof(*rq));
    if (rq == NULL)
        return MHD_NO;
    rq->route = ROUTE_BATCH;
    rq->key = key;
    rq->enc = tlm__encoding_parse(enc_h);
    rq->fault = take_fault(s);
    if (declared > 0 && !rq->fault) {
        rq->body = malloc(declared);
        if (rq->body == NULL) {
            free(rq);
            return MHD_NO;
        }
        rq->cap = declared;
    }
    *con_cls = rq;
    atomic_fetch_add(&s->in_flight, 1);
    return MHD_YES;
}

static bool
append(struct tlm__http_request *rq, const char *data, size_t n, size_t max)
{
    if (n > max - rq->len)
        return false;
    if (rq->len + n > rq->cap) {
        size_t ncap = rq->cap < 65536 ? 65536 : rq->cap * 2;
        if (ncap < rq->len + n)
            ncap = rq->len + n;
        if (ncap > max)
            ncap = max;
        char *p = realloc(rq->body, ncap);
        if (p == NULL)
            return false;
        rq->body = p;
        rq->cap = ncap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    return true;
}

/* Bytes of an oversized body without Content-Length that are read and
 * dropped, in multiples of the cap, before the connection is cut. */
#define DISCARD_FACTOR 4

/* libmicrohttpd 0.9.75 cannot queue a response in the middle of a body: a
 * body declared too large by Content-Length is refused before any of it is
 * read (tlm__batch_begin); a chunked one that crosses the cap is read and
 * dropped (nothing is kept) so it still gets its 413, up to DISCARD_FACTOR
 * times the cap, past which the connection is closed without an answer. */
enum MHD_Result
tlm__batch_upload(struct tlm__http_server *s, struct tlm__http_request *rq,
    const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    atomic_fetch_add_explicit(&s->metrics.bytes_in, n, memory_order_relaxed);
    if (rq->fault)
        return MHD_YES; /* discard: the answer does not depend on it */
    if (!rq->too_large && append(rq, data, n, s->opt.max_body_bytes))
        return MHD_YES;
    if (!rq->too_large) {
        rq->too_large = true;
        free(rq->body);
        rq->body = NULL;
        rq->cap = 0;
    }
    rq->len += n;
    if (rq->len / DISCARD_FACTOR > s->opt.max_body_bytes)
        return MHD_NO;
    return MHD_YES;
}

/* What the ingest hooks of one batch share with tlm__batch_finish. */
struct batch_call {
    struct tlm__http_server *s;
    const struct tlm__key *key;
    long retry_after; /* > 0: answer with Retry-After */
};

static void
hook_decoded(void *ctx, size_t bytes)
{
    struct batch_call *b = ctx;
    atomic_fetch_add_explicit(
        &b->s->metrics.bytes_inflated, bytes, memory_order_relaxed);
}

/* Per-key rate limit: one token per event (at least one per batch). */
static int
hook_admit(void *ctx, size_t n_events, char *msg, size_t msg_size)
{
    struct batch_call *b = ctx;
    struct tlm__bucket *bucket = (struct tlm__bucket *)&b->key->bucket;
    struct tlm__rate_rule r = bucket->rule;
    double cost = n_events > 0 ? (double)n_events : 1.0;
    switch (tlm__bucket_take(
        bucket, cost, tlm__ratelimit_now_us(), &b->retry_after)) {
    case TLM_RATE_OK:
        return 0;
    case TLM_RATE_LIMITED:
        atomic_fetch_add(&b->s->metrics.rate_limited, 1);
        snprintf(msg, msg_size,
            "rate limit: this key (tier %s) may send %g events/s, bursts of "
            "%g (rate_limits); retry after %ld s",
            b->key->access_tier[0] != '\0' ? b->key->access_tier : "default",
            r.events_per_second, r.burst, b->retry_after);
        return MHD_HTTP_TOO_MANY_REQUESTS;
    default:
        snprintf(msg, msg_size,
            "events: %zu events exceed this key's rate-limit burst of %g "
            "(rate_limits); split the batch",
            n_events, r.burst);
        return MHD_HTTP_CONTENT_TOO_LARGE;
    }
}

/* The bounded write queue: refuse rather than wait without bound. */
static int
hook_store_enter(void *ctx, char *msg, size_t msg_size)
{
    struct batch_call *b = ctx;
    struct tlm__http_server *s = b->s;
    if (!tlm__write_queue_enter(&s->write_queue)) {
        atomic_fetch_add(&s->metrics.overloaded, 1);
        b->retry_after = 1;
        snprintf(msg, msg_size,
            "store busy: %ld batches already wait for it "
            "(max_write_queue); retry after 1 s",
            s->write_queue.max_waiting);
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    if (s->opt.test_store_hook != NULL)
        s->opt.test_store_hook(s->opt.test_store_ctx);
    return 0;
}

static void
hook_store_leave(void *ctx, double seconds)
{
    struct batch_call *b = ctx;
    tlm__write_queue_leave(&b->s->write_queue);
    tlm__metrics_store_time(&b->s->metrics, seconds);
}

static void
hook_stored(void *ctx, size_t accepted, size_t duplicates, size_t rejected)
{
    struct batch_call *b = ctx;
    tlm__metrics_events(&b->s->metrics, accepted, duplicates, rejected);
}

static void
hook_overridden(void *ctx, size_t events)
{
    struct batch_call *b = ctx;
    atomic_fetch_add_explicit(
        &b->s->metrics.environment_overridden, events, memory_order_relaxed);
}

static void
hook_scrubbed(void *ctx, const struct tlm__scrub_tally *tally)
{
    struct batch_call *b = ctx;
    for (int k = 0; k < TLM_SCRUB_TALLY_KINDS; k++) {
        if (tally->by_kind[k] > 0)
            atomic_fetch_add_explicit(&b->s->metrics.scrubbed[k],
                tally->by_kind[k], memory_order_relaxed);
    }
}

/* Alerts' webhook deliveries are in the outbox: send them now. */
static void
hook_alerted(void *ctx, size_t alerts)
{
    struct batch_call *b = ctx;
    atomic_fetch_add_explicit(
        &b->s->metrics.alerts_raised, alerts, memory_order_relaxed);
    if (b->s->opt.webhook != NULL)
        tlm__webhook_poke(b->s->opt.webhook);
}

static struct tlm__ingest_policy
batch_policy(const struct tlm__http_server *s, const struct tlm__key *key)
{
    struct tlm__ingest_policy lim = {
        .max_event_bytes = s->opt.max_event_bytes,
        .max_batch_events = s->opt.max_batch_events,
        .max_json_depth = s->opt.max_json_depth,
        .max_future_ms = s->opt.max_future_ms,
        .max_age_ms = s->opt.max_age_ms,
        .environment = key->environment,
        .key_id = key->id,
        .alerts = s->opt.alerts,
    };
    return lim;
}

enum MHD_Result
tlm__batch_finish(struct tlm__http_server *s, struct MHD_Connection *c,
    struct tlm__http_request *rq)
{
    char *resp = NULL;
    char retry[24];
    int status;
    struct batch_call call = {s, rq->key, 0};
    struct tlm__ingest_hooks hooks = {
        .ctx = &call,
        .decoded = hook_decoded,
        .admit = rq->key->bucket.rule.events_per_second > 0 ? hook_admit : NULL,
        .store_enter = hook_store_enter,
        .store_leave = hook_store_leave,
        .stored = hook_stored,
        .environment_overridden = hook_overridden,
        .scrubbed = hook_scrubbed,
        .alerted = hook_alerted,
    };
    struct tlm__ingest_limits lim = {s->opt.max_inflated_bytes};
    struct tlm__ingest_policy policy = batch_policy(s, rq->key);
    policy.hooks = &hooks;

    if (rq->too_large)
        return too_large(c);
    if (rq->fault) {
        if (s->opt.fault_retry_after < 0)
            return tlm__http_error(
                c, (unsigned)s->opt.fault_status, "injected fault (--fault)");
        snprintf(retry, sizeof(retry), "%ld", s->opt.fault_retry_after);
        return tlm__http_queue(c, (unsigned)s->opt.fault_status,
            tlm__json_error_body("injected fault (--fault)"),
            MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }
    status = tlm__ingest_body_with(s->opt.store, rq->body, rq->len, rq->enc,
        &lim, &policy, tlm__now_ms(), &resp);
    if (call.retry_after <= 0)
        return tlm__http_reply(c, (unsigned)status, resp);
    snprintf(retry, sizeof(retry), "%ld", call.retry_after);
    return tlm__http_queue(
        c, (unsigned)status, resp, MHD_HTTP_HEADER_RETRY_AFTER, retry);
}
