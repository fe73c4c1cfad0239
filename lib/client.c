/*
 * client.c - the public client API: lifecycle, tracking, flush, stats.
 *
 * Runs on caller threads. The tracking path never blocks, never does I/O and
 * does not allocate for events whose strings fit a slot; everything slow is
 * handed to the worker thread (worker.c).
 */
#include "client.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set to anything but "", "0" or "false". */
static bool
env_flag(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' && strcmp(v, "0") != 0
        && strcmp(v, "false") != 0;
}

static bool
env_opted_out(void)
{
    return env_flag("DO_NOT_TRACK") || env_flag("TELEMETRY_OPTOUT");
}

static int
initial_consent(const tlm_options *o)
{
    char v[32];

    if (!o->require_consent)
        return TLM_CONSENT_GIVEN;
    if (o->state_dir == NULL
        || tlm__state_read(o->state_dir, "consent", v, sizeof(v)) != 0)
        return TLM_CONSENT_UNKNOWN;
    if (strcmp(v, "given") == 0)
        return TLM_CONSENT_GIVEN;
    return strcmp(v, "revoked") == 0 ? TLM_CONSENT_REVOKED
                                     : TLM_CONSENT_UNKNOWN;
}

static int
client_init_sync(tlm_client *c)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return TLM_ENOMEM;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_mu;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&c->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        goto fail_mu;
    return 0;
fail_mu:
    pthread_mutex_destroy(&c->mu);
    return TLM_ENOMEM;
}

/* Runs with the options' allocator in effect. */
static int
client_create(tlm_client **out, const tlm_options *opts)
{
    tlm_client *c = tlm__calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return TLM_ENOMEM;
    rc = tlm__options_copy(&c->opts, opts);
    if (rc != 0)
        goto fail_client;
    rc = tlm__privacy_init(&c->priv, &c->opts);
    if (rc != 0)
        goto fail_priv;
    rc = tlm__queue_init(&c->queue, c->opts.max_queue_events);
    if (rc != 0)
        goto fail_priv;
    rc = client_init_sync(c);
    if (rc != 0)
        goto fail_queue;
    atomic_init(&c->state, TLM__STATE_OPEN);
    atomic_init(&c->enabled, c->opts.enabled && !env_opted_out());
    atomic_init(&c->consent, initial_consent(&c->opts));
    c->debug = env_flag("TELEMETRY_DEBUG");
    /* Wake the worker about once per batch: the largest power of two not
     * above max_batch_events (a mask, not a division, on every call). */
    c->wake_mask = 1;
    while (c->wake_mask * 2 <= c->opts.max_batch_events)
        c->wake_mask *= 2;
    c->wake_mask -= 1;
    atomic_init(&c->fork_gen, tlm__fork_register());
    rc = tlm__worker_start(c);
    if (rc != 0)
        goto fail_sync;
    *out = c;
    return 0;
fail_sync:
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
fail_queue:
    tlm__queue_destroy(&c->queue);
fail_priv:
    tlm__privacy_destroy(&c->priv);
    tlm__options_clear(&c->opts);
fail_client:
    tlm__free(c);
    return rc;
}

int
tlm_client_new(tlm_client **out, const tlm_options *opts)
{
    tlm_options *defaults = NULL;
    tlm__alloc_scope scope;
    int rc;

    if (out == NULL)
        return TLM_EINVAL;
    *out = NULL;
    if (opts == NULL) {
        defaults = tlm_options_new();
        if (defaults == NULL)
            return TLM_ENOMEM;
        opts = defaults;
    }
    tlm__alloc_enter(&scope, &opts->allocator);
    rc = client_create(out, opts);
    tlm__alloc_leave(&scope);
    tlm_options_free(defaults);
    return rc;
}

static size_t
field_len(const char *s, uint32_t *len)
{
    size_t n;

    if (s == NULL) {
        *len = UINT32_MAX;
        return 0;
    }
    n = strlen(s);
    if (n >= UINT32_MAX - 1)
        n = UINT32_MAX - 2; /* truncated; nobody sends 4 GiB strings */
    *len = (uint32_t)n;
    return n + 1;
}

/* Copies the request's strings into the slot; TLM_ENOMEM if they don't fit
 * inline and the overflow buffer can't be allocated. */
static int
fill_slot(tlm_client *c, tlm__slot *slot, const tlm_request *r)
{
    tlm__alloc_scope scope;
    const char *src[TLM__NFIELDS] = {
        r->endpoint,
        r->method,
        r->user_id,
        r->organization_id,
        r->access_tier,
        r->request_details,
    };
    size_t total = 0, off = 0;
    char *base;
    int i;

    for (i = 0; i < TLM__NFIELDS; i++)
        total += field_len(src[i], &slot->len[i]);
    base = slot->data;
    if (total > TLM__SLOT_INLINE) {
        tlm__alloc_enter(&scope, &c->opts.allocator);
        base = tlm__malloc(total);
        tlm__alloc_leave(&scope);
        if (base == NULL)
            return TLM_ENOMEM;
        slot->overflow = base;
    }
    for (i = 0; i < TLM__NFIELDS; i++) {
        if (slot->len[i] == UINT32_MAX)
            continue;
        memcpy(base + off, src[i], slot->len[i]);
        base[off + slot->len[i]] = '\0';
        off += slot->len[i] + 1;
    }
    return 0;
}

/* Claims, fills and publishes the slot of a checked request kept at
 * `rate`; its position in *pos_out. */
static int
enqueue_request(tlm_client *c, const tlm_request *r, double rate, uint8_t flags,
    uint64_t *pos_out)
{
    tlm__slot *slot;
    uint64_t pos;
    int rc;

    slot = tlm__queue_claim(&c->queue, &pos);
    if (slot == NULL) {
        atomic_fetch_add_explicit(
            &c->n.dropped_queue_full, 1, memory_order_relaxed);
        tlm__worker_wake(c); /* coalesced: cheap while a wake is pending */
        return TLM_EFULL;
    }
    slot->type = TLM__EV_REQUEST;
    slot->flags = flags;
    slot->sample_rate = (float)rate;
    slot->status = r->response_status;
    slot->response_time_ms = r->response_time_ms;
    slot->ts_ms = tlm__now_realtime_ms();
    rc = fill_slot(c, slot, r);
    if (rc != 0)
        slot->type = 0; /* published as a hole; the worker counts it */
    tlm__queue_publish(&c->queue, slot, pos);
    if (((pos + 1) & c->wake_mask) == 0)
        tlm__worker_wake(c);
    *pos_out = pos;
    return rc;
}

int
tlm__track_request_linked(tlm_client *c, const tlm_request *r, uint64_t *pos)
{
    return enqueue_request(c, r, 1.0, TLM__SLOT_LINKED, pos);
}

int
tlm_track_request(tlm_client *c, const tlm_request *r)
{
    uint64_t pos;
    double rate;

    if (c == NULL || r == NULL || r->size != sizeof(tlm_request)
        || r->endpoint == NULL || r->endpoint[0] == '\0'
        || !(r->response_time_ms >= 0.0) || isinf(r->response_time_ms))
        return TLM_EINVAL;
    if (atomic_load_explicit(&c->state, memory_order_relaxed)
        != TLM__STATE_OPEN)
        return TLM_ECLOSED;
    if (!atomic_load_explicit(&c->enabled, memory_order_relaxed)) {
        atomic_fetch_add_explicit(
            &c->n.dropped_disabled, 1, memory_order_relaxed);
        return TLM_EDISABLED;
    }
    if (atomic_load_explicit(&c->consent, memory_order_relaxed)
        == TLM_CONSENT_REVOKED) {
        atomic_fetch_add_explicit(
            &c->n.dropped_consent, 1, memory_order_relaxed);
        return TLM_EDISABLED;
    }
    if (tlm__fork_pending(c) && tlm__fork_settle(c, true) != 0)
        return TLM_ETHREAD; /* the child could not start a worker */
    rate = 1.0;
    if (c->priv.rates != NULL || c->opts.sampling_rate < 1.0) {
        rate = tlm__privacy_rate(&c->priv, &c->opts, r->endpoint);
        if (rate < 1.0
            && !tlm__privacy_keep(
                &c->priv, c->opts.sampling_mode, rate, r->user_id)) {
            atomic_fetch_add_explicit(
                &c->n.sampled_out, 1, memory_order_relaxed);
            return 0; /* not an error: the kept events stand for it */
        }
    }
    return enqueue_request(c, r, rate, 0, &pos);
}

int
tlm_track_request_simple(tlm_client *c, const char *endpoint,
    const char *method, int response_status, double response_time_ms,
    const char *user_id)
{
    tlm_request r = TLM_REQUEST_INIT;

    r.endpoint = endpoint;
    r.method = method;
    r.response_status = response_status;
    r.response_time_ms = response_time_ms;
    r.user_id = user_id;
    return tlm_track_request(c, &r);
}

void
tlm_request_init(tlm_request *r)
{
    if (r == NULL)
        return;
    memset(r, 0, sizeof(*r));
    r->size = sizeof(*r);
}

/* From a callback on the worker thread, waiting for the worker would wait
 * forever: refuse instead. */
static bool
on_worker(const tlm_client *c)
{
    return c->thread_started && pthread_equal(pthread_self(), c->thread);
}

static void
deadline_after(struct timespec *ts, uint32_t timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits, with c->mu held, until every position below `target` is settled
 * or the deadline passes. Returns true when settled. */
static bool
wait_settled(tlm_client *c, uint64_t target, uint64_t api_target,
    const struct timespec *dl)
{
    while ((c->settled_upto < target || c->replay_busy
               || c->api_settled_upto < api_target)
        && !c->worker_done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, dl) == ETIMEDOUT)
            break;
    }
    if (c->worker_done)
        return c->settled_upto >= target;
    return c->settled_upto >= target && !c->replay_busy
        && c->api_settled_upto >= api_target;
}

int
tlm_client_flush(tlm_client *c, uint32_t timeout_ms)
{
    struct timespec dl;
    uint64_t target, api_target;
    bool done;

    if (c == NULL || on_worker(c))
        return TLM_EINVAL;
    if (tlm__forked(c))
        (void)tlm__fork_settle(c, false);
    if (atomic_load(&c->state) != TLM__STATE_OPEN)
        return TLM_ECLOSED;
    deadline_after(&dl, timeout_ms);
    target = atomic_load(&c->queue.head);
    pthread_mutex_lock(&c->mu);
    c->cmd_flush++;
    api_target = c->api_next_seq; /* and the API calls made before */
    pthread_mutex_unlock(&c->mu);
    tlm__worker_wake(c);
    pthread_mutex_lock(&c->mu);
    done = wait_settled(c, target, api_target, &dl);
    c->cmd_flush--;
    pthread_mutex_unlock(&c->mu);
    return done ? 0 : TLM_ETIMEDOUT;
}

int
tlm_client_close(tlm_client *c, uint32_t timeout_ms)
{
    struct timespec dl;
    int expected = TLM__STATE_OPEN;
    uint64_t before;

    if (c == NULL || on_worker(c))
        return TLM_EINVAL;
    if (tlm__forked(c))
        (void)tlm__fork_settle(c, false);
    if (!atomic_compare_exchange_strong(
            &c->state, &expected, TLM__STATE_CLOSING))
        return TLM_ECLOSED;
    before = atomic_load(&c->n.dropped_shutdown);
    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&c->mu);
    c->cmd_stop = 1;
    pthread_mutex_unlock(&c->mu);
    tlm__worker_wake(c);
    pthread_mutex_lock(&c->mu);
    while (!c->worker_done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
            c->cmd_abort = 1;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    tlm__worker_wake(c);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    c->thread_started = false;
    /* Events published after the worker's last look. */
    atomic_fetch_add(&c->n.dropped_shutdown, tlm__queue_depth(&c->queue));
    atomic_store(&c->state, TLM__STATE_CLOSED);
    return atomic_load(&c->n.dropped_shutdown) > before ? TLM_ETIMEDOUT : 0;
}

void
tlm_client_free(tlm_client *c)
{
    tlm__alloc_scope scope;
    tlm_allocator alloc;

    if (c == NULL)
        return;
    /* From one of its own callbacks (the worker thread), freeing would
     * join the running thread and tear its loop down under it: refuse,
     * and say so, rather than abort the host. */
    if (on_worker(c)) {
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_ERROR,
            "tlm_client_free called from the client's own callback: "
            "ignored (the client stays open)");
        return;
    }
    if (tlm__forked(c))
        (void)tlm__fork_settle(c, false);
    if (atomic_load(&c->state) == TLM__STATE_OPEN)
        (void)tlm_client_close(c, c->opts.shutdown_timeout_ms);
    alloc = c->opts.allocator; /* c itself is freed with it */
    tlm__alloc_enter(&scope, &alloc);
    tlm__worker_destroy(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    tlm__queue_destroy(&c->queue);
    tlm__privacy_destroy(&c->priv);
    tlm__options_clear(&c->opts);
    tlm__free(c);
    tlm__alloc_leave(&scope);
}

int
tlm_client_set_enabled(tlm_client *c, int enabled)
{
    if (c == NULL)
        return TLM_EINVAL;
    if (tlm__forked(c))
        (void)tlm__fork_settle(c, false);
    if (atomic_load(&c->state) != TLM__STATE_OPEN)
        return TLM_ECLOSED;
    atomic_store(&c->enabled, enabled != 0);
    if (!enabled) {
        pthread_mutex_lock(&c->mu);
        c->cmd_purge = 1;
        pthread_mutex_unlock(&c->mu);
        tlm__worker_wake(c);
    }
    return 0;
}

int
tlm_client_is_enabled(const tlm_client *c)
{
    tlm_client *m = (tlm_client *)c;

    return c != NULL && atomic_load(&m->state) == TLM__STATE_OPEN
        && atomic_load(&m->enabled);
}

int
tlm_client_set_consent(tlm_client *c, int consent)
{
    const char *word;
    int rc = 0;

    if (c == NULL
        || (consent != TLM_CONSENT_GIVEN && consent != TLM_CONSENT_REVOKED
            && consent != TLM_CONSENT_UNKNOWN))
        return TLM_EINVAL;
    if (tlm__forked(c))
        (void)tlm__fork_settle(c, false);
    if (atomic_load(&c->state) != TLM__STATE_OPEN)
        return TLM_ECLOSED;
    atomic_store(&c->consent, consent);
    if (c->opts.state_dir != NULL) {
        word = consent == TLM_CONSENT_GIVEN  ? "given"
            : consent == TLM_CONSENT_REVOKED ? "revoked"
                                             : "unknown";
        rc = tlm__state_write(c->opts.state_dir, "consent", word) == 0
            ? 0
            : TLM_EIO;
    }
    pthread_mutex_lock(&c->mu);
    if (consent == TLM_CONSENT_REVOKED)
        c->cmd_purge_consent = 1;
    pthread_mutex_unlock(&c->mu);
    tlm__worker_wake(c);
    return rc;
}

int
tlm_client_consent(const tlm_client *c)
{
    return c ? atomic_load(&((tlm_client *)c)->consent) : TLM_CONSENT_UNKNOWN;
}

void
tlm_stats_init(tlm_stats *s)
{
    if (s == NULL)
        return;
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
}

int
tlm_client_stats(const tlm_client *cc, tlm_stats *s)
{
    tlm_client *c = (tlm_client *)cc;
    tlm_stats t;

    if (c == NULL || s == NULL || s->size < sizeof(size_t) + 8)
        return TLM_EINVAL;
    if (tlm__forked(c))
        (void)tlm__fork_settle(c, false); /* the child's own counters */
    memset(&t, 0, sizeof(t));
    t.size = sizeof(t);
    t.enqueued = atomic_load(&c->queue.head);
    t.sent = atomic_load(&c->n.sent);
    t.duplicates = atomic_load(&c->n.duplicates);
    t.rejected = atomic_load(&c->n.rejected);
    t.dropped_queue_full = atomic_load(&c->n.dropped_queue_full);
    t.dropped_disabled = atomic_load(&c->n.dropped_disabled);
    t.dropped_before_send = atomic_load(&c->n.dropped_before_send);
    t.dropped_http = atomic_load(&c->n.dropped_http);
    t.dropped_retries = atomic_load(&c->n.dropped_retries);
    t.dropped_oversize = atomic_load(&c->n.dropped_oversize);
    t.dropped_nomem = atomic_load(&c->n.dropped_nomem);
    t.sampled_out = atomic_load(&c->n.sampled_out);
    t.debug_printed = atomic_load(&c->n.debug_printed);
    t.dropped_consent = atomic_load(&c->n.dropped_consent);
    t.spooled = atomic_load(&c->n.spooled);
    t.replayed = atomic_load(&c->n.replayed);
    t.spool_kept = atomic_load(&c->n.spool_kept);
    t.dropped_spool_full = atomic_load(&c->n.dropped_spool_full);
    t.dropped_shutdown = atomic_load(&c->n.dropped_shutdown);
    t.retried = atomic_load(&c->n.retried);
    t.batches = atomic_load(&c->n.batches);
    t.requests = atomic_load(&c->n.requests);
    t.bytes_raw = atomic_load(&c->n.bytes_raw);
    t.bytes_compressed = atomic_load(&c->n.bytes_compressed);
    t.queue_depth = tlm__queue_depth(&c->queue);
    t.inflight_events = atomic_load(&c->n.inflight_events);
    t.errors_captured = atomic_load(&c->n.errors_captured);
    t.errors_sent = atomic_load(&c->n.errors_sent);
    t.errors_dropped = atomic_load(&c->n.errors_dropped);
    t.errors_sampled_out = atomic_load(&c->n.errors_sampled_out);
    t.errors_pending = atomic_load(&c->n.errors_pending);
    /* Older callers pass a smaller struct: copy what they know. */
    memcpy((char *)s + sizeof(size_t), (char *)&t + sizeof(size_t),
        (s->size < sizeof(t) ? s->size : sizeof(t)) - sizeof(size_t));
    return 0;
}
