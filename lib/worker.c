/*
 * worker.c - the client's worker thread: a libuv loop that drains the
 * queue, builds batches, schedules retries and answers flush/close.
 *
 * Everything here except tlm__worker_start/wake/destroy runs on the worker
 * thread only. It never calls user code with c->mu held.
 */
#include "client.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

static void worker_pass(tlm_client *c);
static void give_up(tlm_client *c, tlm__batch *b, const char *when);

void
tlm__worker_wake(tlm_client *c)
{
    uint64_t one = 1;

    if (c->wake_fd < 0)
        return; /* no worker (a forked child before its restart) */
    if (atomic_exchange_explicit(&c->wake_pending, 1, memory_order_acq_rel)
        == 0) {
        /* Can only fail with EAGAIN (counter saturated): already awake. */
        if (write(c->wake_fd, &one, sizeof(one)) < 0)
            return;
    }
}

void
tlm__batch_free(tlm__batch *b)
{
    if (b == NULL)
        return;
    tlm__buf_free(&b->events);
    tlm__buf_free(&b->response);
    tlm__free(b->off);
    tlm__free(b->body);
    if (b->headers != NULL)
        curl_slist_free_all(b->headers);
    tlm__free(b);
}

static tlm__batch *
batch_new(tlm_client *c, uint64_t first_pos)
{
    tlm__batch *b = tlm__calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->first_pos = first_pos;
    tlm__uuid4(&c->rng, b->id);
    return b;
}

static int
batch_add(tlm__batch *b, const char *ev, size_t len)
{
    size_t *grown;
    uint32_t cap;

    if (b->n == b->cap_n) {
        cap = b->cap_n ? b->cap_n * 2 : 64;
        grown = tlm__realloc(b->off, cap * sizeof(*grown));
        if (grown == NULL)
            return TLM_ENOMEM;
        b->off = grown;
        b->cap_n = cap;
    }
    /* Reserve first: a batch never holds half an event. */
    if (!tlm__buf_reserve(&b->events, len + 1))
        return TLM_ENOMEM;
    if (b->n > 0)
        tlm__buf_append(&b->events, ",", 1);
    b->off[b->n] = b->events.len;
    tlm__buf_append(&b->events, ev, len);
    b->n++;
    /* Encoded events start with their type (encode.c). */
    if (len > 15 && memcmp(ev, "{\"type\":\"error\"", 15) == 0)
        b->n_errors++;
    return 0;
}

/* Appends to the waiting list (FIFO), writing it to the spool first when
 * it is not there yet. */
void
tlm__worker_push_waiting(tlm_client *c, tlm__batch *b)
{
    tlm__batch **p = &c->waiting;

    tlm__wspool_write(c, b);
    while (*p != NULL)
        p = &(*p)->next;
    b->next = NULL;
    *p = b;
    c->n_waiting++;
}

static void
seal_current(tlm_client *c)
{
    tlm__batch *b = c->current;

    if (b == NULL || b->n == 0)
        return;
    c->current = NULL;
    b->not_before = 0;
    tlm__worker_push_waiting(c, b);
}

/* The event of one slot, after the before-send hook, into c->scratch.
 * Returns false if it was dropped (and counted). */
static bool
encode_slot(tlm_client *c, const tlm__slot *slot, uint64_t pos, tlm__buf *out)
{
    tlm_event ev;
    bool keep = true;
    int rc;

    tlm__event_from_slot(&ev, slot);
    if (slot->type == TLM__EV_ERROR)
        tlm__error_from_slot(c, &ev, slot, pos);
    ev.environment = c->opts.environment;
    if (ev.field[TLM__FIELD_TIER] == NULL)
        ev.field[TLM__FIELD_TIER] = c->opts.access_tier;
    tlm__uuid7(&c->rng, ev.ts_ms, ev.id);
    tlm__error_link(c, slot, pos, ev.id);
    /* Privacy first: the hook sees what would leave the process. */
    rc = tlm__privacy_apply(&c->priv, &c->opts, &ev);
    if (rc != TLM_ENOMEM && slot->type == TLM__EV_ERROR
        && tlm__error_privacy(c, &ev) != 0)
        rc = TLM_ENOMEM;
    if (rc == TLM_EINVAL)
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "event on %s: request_details is not a JSON object, left out",
            ev.field[TLM__FIELD_ENDPOINT] ? ev.field[TLM__FIELD_ENDPOINT]
                                          : "(none)");
    if (rc == TLM_ENOMEM) {
        atomic_fetch_add(&c->n.dropped_nomem, 1);
        keep = false;
        goto out;
    }
    if (c->opts.before_send != NULL
        && c->opts.before_send(&ev, c->opts.before_send_data)
            == TLM_HOOK_DROP) {
        atomic_fetch_add(&c->n.dropped_before_send, 1);
        keep = false;
        goto out;
    }
    out->len = 0;
    out->failed = false;
    rc = tlm__encode_event(out, &ev, c->client_info);
    if (rc == TLM_EINVAL)
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "event on %s: request_details is not a JSON object, "
            "left out",
            ev.field[TLM__FIELD_ENDPOINT] ? ev.field[TLM__FIELD_ENDPOINT]
                                          : "(none)");
    if (rc == TLM_ENOMEM) {
        atomic_fetch_add(&c->n.dropped_nomem, 1);
        keep = false;
    } else if (out->len > c->opts.max_batch_bytes) {
        atomic_fetch_add(&c->n.dropped_oversize, 1);
        keep = false;
    } else if (c->debug) {
        /* TELEMETRY_DEBUG: exactly what would have been sent, one line
         * per event on stderr; nothing leaves the process. */
        fprintf(stderr, "%.*s\n", (int)out->len, out->data);
        atomic_fetch_add(&c->n.debug_printed, 1);
        keep = false;
        goto out_debug;
    }
out:
    if (!keep && slot->type == TLM__EV_ERROR)
        atomic_fetch_add(&c->n.errors_dropped, 1);
out_debug:
    tlm__event_clear(&ev);
    return keep;
}

/* Adds one event to the current batch, sealing batches as they fill. */
static void
add_to_batch(tlm_client *c, const tlm__buf *ev, uint64_t pos)
{
    tlm__batch *b = c->current;

    if (b != NULL && b->events.len + ev->len + 1 > c->opts.max_batch_bytes)
        seal_current(c);
    if (c->current == NULL) {
        c->current = batch_new(c, pos);
        if (c->current == NULL) {
            atomic_fetch_add(&c->n.dropped_nomem, 1);
            return;
        }
    }
    b = c->current;
    if (batch_add(b, ev->data, ev->len) != 0) {
        atomic_fetch_add(&c->n.dropped_nomem, 1);
        return;
    }
    if (b->n >= c->opts.max_batch_events)
        seal_current(c);
}

static uint32_t
batches_held(const tlm_client *c)
{
    return c->n_waiting + c->n_inflight;
}

static bool
abort_requested(tlm_client *c)
{
    int abort_now;

    pthread_mutex_lock(&c->mu);
    abort_now = c->cmd_abort;
    pthread_mutex_unlock(&c->mu);
    return abort_now != 0;
}

/* Moves events from the queue into batches while the number of batches held
 * stays bounded; beyond that the queue fills and drops (counted). Closing
 * with a spool lifts the bound: every queued event is sealed and spooled. */
static void
drain(tlm_client *c)
{
    tlm__buf *scratch = &c->scratch;
    uint32_t limit = c->opts.max_inflight * 2;
    tlm__slot *slot;
    uint64_t pos;

    /* Without consent, events wait in the queue (full: dropped, counted). */
    if (c->opts.require_consent
        && atomic_load(&c->consent) != TLM_CONSENT_GIVEN)
        limit = 0;
    else if (c->spool_all)
        limit = UINT32_MAX;
    for (uint32_t k = 0; batches_held(c) < limit; k++) {
        /* Spooling a whole queue takes a while: close's deadline wins. */
        if (c->spool_all && (k & 255) == 255 && abort_requested(c))
            break;
        slot = tlm__queue_peek(&c->queue);
        if (slot == NULL)
            break;
        pos = c->queue.tail;
        if (slot->type == 0) /* the caller could not store its strings */
            atomic_fetch_add(&c->n.dropped_nomem, 1);
        else if (encode_slot(c, slot, pos, scratch))
            add_to_batch(c, scratch, pos);
        tlm__error_release(c, slot);
        tlm__queue_pop(&c->queue, slot);
    }
    if (scratch->cap > 1 << 20)
        tlm__buf_free(scratch); /* don't keep a huge event's buffer */
    if (c->flush_partial && tlm__queue_depth(&c->queue) == 0)
        seal_current(c);
}

static void
on_retry_timer(uv_timer_t *t)
{
    worker_pass(t->data);
}

/* Starts transfers for waiting batches that are due, up to max_inflight,
 * and arms the retry timer for the next one that is not. */
static void
dispatch(tlm_client *c)
{
    uint64_t now = uv_now(&c->loop), next = UINT64_MAX;
    tlm__batch **p = &c->waiting, *b;

    while (*p != NULL) {
        b = *p;
        if (b->not_before > now) {
            if (b->not_before < next)
                next = b->not_before;
            p = &b->next;
            continue;
        }
        if (c->n_inflight >= c->opts.max_inflight)
            break;
        *p = b->next;
        c->n_waiting--;
        b->next = NULL;
        if (tlm__transport_send(c, b) == 0)
            continue;
        /* Could not even start (out of memory, or curl refused the
         * request): try again later, within the same retry budget. */
        if (++b->attempts > c->opts.max_retries) {
            give_up(c, b, "that could not be sent");
            continue;
        }
        b->not_before = now + TLM__BACKOFF_BASE_MS;
        if (b->not_before < next)
            next = b->not_before;
        b->next = *p;
        *p = b;
        c->n_waiting++;
        p = &b->next;
    }
    if (next != UINT64_MAX)
        uv_timer_start(&c->retry_timer, on_retry_timer, next - now, 0);
}

static uint64_t
min_pos(const tlm__batch *b, uint64_t m, uint64_t *held)
{
    for (; b != NULL; b = b->next) {
        *held += b->n;
        if (b->first_pos < m)
            m = b->first_pos;
    }
    return m;
}

static bool
replays_held(const tlm__batch *b)
{
    for (; b != NULL; b = b->next)
        if (b->replayed)
            return true;
    return false;
}

/* Publishes the lowest queue position not yet settled and wakes waiters. */
static void
publish_settled(tlm_client *c)
{
    uint64_t m = c->queue.tail, held = 0;

    if (c->current != NULL && c->current->n > 0) {
        held = c->current->n;
        if (c->current->first_pos < m)
            m = c->current->first_pos;
    }
    m = min_pos(c->waiting, m, &held);
    m = min_pos(c->inflight, m, &held);
    atomic_store(&c->n.inflight_events, held);
    bool api_replays = false;
    uint64_t api = tlm__api_min_seq(c, &api_replays);
    bool busy = c->replay_pending || replays_held(c->waiting)
        || replays_held(c->inflight) || api_replays;
    pthread_mutex_lock(&c->mu);
    /* API calls the callers added that the worker has not taken yet. */
    if (c->api_pending != NULL && c->api_pending->seq < api)
        api = c->api_pending->seq;
    if (api > c->api_next_seq)
        api = c->api_next_seq;
    if (m != c->settled_upto || busy != c->replay_busy
        || api != c->api_settled_upto) {
        c->settled_upto = m;
        c->replay_busy = busy;
        c->api_settled_upto = api;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

static uint64_t
free_list(tlm__batch **list, uint32_t *count)
{
    uint64_t n = 0;
    tlm__batch *b;

    while (*list != NULL) {
        b = *list;
        *list = b->next;
        n += b->n;
        tlm__batch_free(b);
    }
    *count = 0;
    return n;
}

/* Drops everything the worker holds; returns the number of events. */
static uint64_t
drop_all(tlm_client *c)
{
    uint64_t n = tlm__transport_abort_all(c);
    tlm__slot *slot;

    n += free_list(&c->waiting, &c->n_waiting);
    if (c->current != NULL) {
        n += c->current->n;
        tlm__batch_free(c->current);
        c->current = NULL;
    }
    while ((slot = tlm__queue_peek(&c->queue)) != NULL) {
        n++;
        tlm__error_release(c, slot);
        tlm__queue_pop(&c->queue, slot);
    }
    return n;
}

static void
close_cb(uv_handle_t *h)
{
    (void)h;
}

static void
close_handles(tlm_client *c)
{
    uv_close((uv_handle_t *)&c->wake_poll, close_cb);
    uv_close((uv_handle_t *)&c->flush_timer, close_cb);
    uv_close((uv_handle_t *)&c->retry_timer, close_cb);
    uv_close((uv_handle_t *)&c->curl_timer, close_cb);
    uv_close((uv_handle_t *)&c->api_timer, close_cb);
}

/* Cleanup when the thread never started: close handles, run the loop to
 * finish the closes, and close it. */
static void
worker_shutdown_unstarted(tlm_client *c)
{
    close_handles(c);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
}

static void
worker_shutdown(tlm_client *c)
{
    tlm__transport_close(c);
    close_handles(c);
}

/* Events of the spooled batches of list. */
static uint64_t
spooled_events(const tlm__batch *b)
{
    uint64_t n = 0;

    for (; b != NULL; b = b->next)
        n += b->spooled ? b->n : 0;
    return n;
}

static bool
idle(const tlm_client *c)
{
    return tlm__queue_depth(&c->queue) == 0 && c->current == NULL
        && c->waiting == NULL && c->inflight == NULL && !c->replay_pending
        && tlm__api_idle(c);
}

/* One round of work: commands, drain, dispatch, settle, maybe stop. */
static void
worker_pass(tlm_client *c)
{
    int flush, stop, abort_now, purge, purge_consent;

    if (uv_is_closing((uv_handle_t *)&c->wake_poll))
        return;
    pthread_mutex_lock(&c->mu);
    flush = c->cmd_flush;
    stop = c->cmd_stop;
    abort_now = c->cmd_abort;
    purge = c->cmd_purge;
    purge_consent = c->cmd_purge_consent;
    c->cmd_purge = 0;
    c->cmd_purge_consent = 0;
    pthread_mutex_unlock(&c->mu);

    if (purge || purge_consent) {
        tlm__wspool_purge(c);
        tlm__api_fail_all(c, TLM_EDISABLED);
    }
    if (purge)
        atomic_fetch_add(&c->n.dropped_disabled, drop_all(c));
    if (purge_consent)
        atomic_fetch_add(&c->n.dropped_consent, drop_all(c));
    if (abort_now) {
        /* With a spool, what is sealed stays there for the next process. */
        seal_current(c);
        uint64_t kept
            = spooled_events(c->waiting) + spooled_events(c->inflight);
        atomic_fetch_add(&c->n.spool_kept, kept);
        atomic_fetch_add(&c->n.dropped_shutdown, drop_all(c) - kept);
        /* Their callers hear it now; spooled ones stay in the spool. */
        tlm__api_fail_all(c, TLM_ETIMEDOUT);
        worker_shutdown(c);
        return;
    }
    c->flush_partial = c->flush_partial || flush || stop;
    c->spool_all = c->spool_all || (stop && c->spool != NULL);
    drain(c);
    if (!c->opts.require_consent
        || atomic_load(&c->consent) == TLM_CONSENT_GIVEN)
        tlm__wspool_replay(c, c->opts.max_inflight * 2);
    dispatch(c);
    tlm__api_pass(c);
    c->flush_partial = flush || stop;
    publish_settled(c);
    if (stop && idle(c))
        worker_shutdown(c);
}

static void
on_wake(uv_poll_t *h, int status, int events)
{
    tlm_client *c = h->data;
    uint64_t v;

    (void)status;
    (void)events;
    if (read(c->wake_fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: someone else's wake-up was already consumed. */
    }
    atomic_store_explicit(&c->wake_pending, 0, memory_order_release);
    worker_pass(c);
}

void
tlm__worker_kick(tlm_client *c)
{
    worker_pass(c);
}

static void
on_flush_timer(uv_timer_t *t)
{
    tlm_client *c = t->data;

    c->flush_partial = true;
    worker_pass(c);
}

/* Reads the server's receipt: {"accepted":n,"duplicates":n,"rejected":[]}.
 * An unreadable receipt after a 2xx counts every event as sent. */
static void
count_receipt(tlm_client *c, const tlm__batch *b)
{
    cJSON *root = NULL, *acc, *dup, *rej;
    uint64_t accepted = b->n, duplicates = 0, rejected = 0;

    if (b->response.data != NULL)
        root = cJSON_ParseWithLength(b->response.data, b->response.len);
    acc = cJSON_GetObjectItemCaseSensitive(root, "accepted");
    dup = cJSON_GetObjectItemCaseSensitive(root, "duplicates");
    rej = cJSON_GetObjectItemCaseSensitive(root, "rejected");
    if (cJSON_IsNumber(acc) && cJSON_IsNumber(dup) && acc->valuedouble >= 0
        && dup->valuedouble >= 0) {
        accepted = (uint64_t)acc->valuedouble;
        duplicates = (uint64_t)dup->valuedouble;
        rejected = cJSON_IsArray(rej) ? (uint64_t)cJSON_GetArraySize(rej) : 0;
    }
    cJSON_Delete(root);
    atomic_fetch_add(&c->n.errors_sent,
        accepted + duplicates < b->n_errors ? accepted + duplicates
                                            : b->n_errors);
    atomic_fetch_add(&c->n.sent, accepted + duplicates);
    atomic_fetch_add(&c->n.duplicates, duplicates);
    atomic_fetch_add(&c->n.rejected, rejected);
    if (rejected > 0)
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "server rejected %llu event(s) of batch %s",
            (unsigned long long)rejected, b->id);
}

/* Events [from, to) of b as a new batch. */
static tlm__batch *
batch_slice(tlm_client *c, const tlm__batch *b, uint32_t from, uint32_t to)
{
    tlm__batch *s = batch_new(c, b->first_pos);
    uint32_t i;

    if (s == NULL)
        return NULL;
    for (i = from; i < to; i++) {
        size_t e = i + 1 < b->n ? b->off[i + 1] - 1 : b->events.len;
        if (batch_add(s, b->events.data + b->off[i], e - b->off[i]) != 0) {
            tlm__batch_free(s);
            return NULL;
        }
    }
    return s;
}

/* 413: queue the two halves; one event alone that is too large is dropped.
 * Returns false if the halves could not be made (out of memory). */
static bool
split_batch(tlm_client *c, tlm__batch *b)
{
    tlm__batch *lo, *hi;
    uint32_t mid = b->n / 2;

    if (b->n < 2 || b->replayed) {
        /* A replayed batch has only its body: it cannot be cut. */
        atomic_fetch_add(&c->n.dropped_oversize, b->n);
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "server refused a single event as too large (413)");
        return true;
    }
    lo = batch_slice(c, b, 0, mid);
    hi = batch_slice(c, b, mid, b->n);
    if (lo == NULL || hi == NULL) {
        tlm__batch_free(lo);
        tlm__batch_free(hi);
        return false;
    }
    tlm__worker_push_waiting(c, lo);
    tlm__worker_push_waiting(c, hi);
    return true;
}

/* Retries ran out: a spooled batch waits in the spool for a later
 * process; any other is dropped. */
static void
give_up(tlm_client *c, tlm__batch *b, const char *when)
{
    if (b->spooled) {
        atomic_fetch_add(&c->n.spool_kept, b->n);
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "batch %s (%u events) left in the spool %s", b->id, b->n, when);
    } else {
        atomic_fetch_add(&c->n.dropped_retries, b->n);
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_ERROR,
            "batch %s dropped %s (%u events)", b->id, when, b->n);
    }
    tlm__batch_free(b);
}

static void
schedule_retry(tlm_client *c, tlm__batch *b, long retry_after_s)
{
    uint64_t delay;

    b->attempts++;
    if (b->attempts > c->opts.max_retries) {
        give_up(c, b, "after its last attempt");
        return;
    }
    atomic_fetch_add(&c->n.retried, 1);
    delay = tlm__backoff_delay_ms(
        b->attempts, tlm__rng_double(&c->rng), retry_after_s);
    b->not_before = uv_now(&c->loop) + delay;
    tlm__buf_free(&b->response);
    tlm__worker_push_waiting(c, b);
}

void
tlm__worker_batch_done(tlm_client *c, tlm__batch *b, int transfer_ok,
    long status, long retry_after_s)
{
    switch (tlm__backoff_classify(transfer_ok, status)) {
    case TLM__OUT_OK:
        tlm__wspool_ack(c, b);
        count_receipt(c, b);
        atomic_fetch_add(&c->n.batches, 1);
        atomic_fetch_add(&c->n.bytes_raw, b->raw_len);
        atomic_fetch_add(&c->n.bytes_compressed, b->body_len);
        tlm__batch_free(b);
        break;
    case TLM__OUT_SPLIT:
        if (split_batch(c, b)) {
            tlm__wspool_ack(c, b); /* the halves are in the spool */
            tlm__batch_free(b);
        } else
            schedule_retry(c, b, 0);
        break;
    case TLM__OUT_RETRY:
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_INFO,
            "batch %s: %s (HTTP %ld), will retry", b->id,
            b->errbuf[0] ? b->errbuf : "server error", status);
        schedule_retry(c, b, retry_after_s);
        break;
    case TLM__OUT_DROP:
        tlm__wspool_ack(c, b);
        atomic_fetch_add(&c->n.dropped_http, b->n);
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_ERROR,
            "batch %s refused with HTTP %ld, %u events dropped", b->id, status,
            b->n);
        tlm__batch_free(b);
        break;
    }
    worker_pass(c);
}

static void *
worker_main(void *arg)
{
    tlm_client *c = arg;
    tlm__alloc_scope scope;

    tlm__alloc_enter(&scope, &c->opts.allocator);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    /* Nothing is left unanswered, whatever raced with close. */
    tlm__api_fail_all(c, TLM_ECLOSED);
    /* Everything taken from the queue was delivered or counted dropped. */
    atomic_store(&c->n.inflight_events, 0);
    pthread_mutex_lock(&c->mu);
    c->worker_done = 1;
    c->settled_upto = UINT64_MAX;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    tlm__alloc_leave(&scope);
    return NULL;
}

static char *
make_client_info(const tlm_options *o)
{
    struct utsname u;
    tlm__buf b = {0};

    if (uname(&u) != 0) {
        snprintf(u.sysname, sizeof(u.sysname), "unknown");
        snprintf(u.machine, sizeof(u.machine), "unknown");
    }
    tlm__buf_puts(&b, "{\"sdk\":\"" TLM__SDK_NAME "\",\"sdk_version\":\"");
    tlm__buf_puts(&b, TLM_VERSION_STRING "\",\"binding\":");
    tlm__buf_json_string(&b, o->binding, strlen(o->binding));
    tlm__buf_puts(&b, ",\"os\":");
    tlm__buf_json_string(&b, u.sysname, strlen(u.sysname));
    tlm__buf_puts(&b, ",\"arch\":");
    tlm__buf_json_string(&b, u.machine, strlen(u.machine));
    tlm__buf_puts(&b, "}");
    if (b.failed) {
        tlm__buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int
loop_init(tlm_client *c)
{
    if (uv_loop_init(&c->loop) != 0)
        return TLM_ENOMEM;
    c->loop.data = c;
    if (uv_poll_init(&c->loop, &c->wake_poll, c->wake_fd) != 0)
        goto fail;
    uv_timer_init(&c->loop, &c->flush_timer);
    uv_timer_init(&c->loop, &c->retry_timer);
    uv_timer_init(&c->loop, &c->curl_timer);
    uv_timer_init(&c->loop, &c->api_timer);
    c->wake_poll.data = c;
    c->flush_timer.data = c;
    c->retry_timer.data = c;
    c->curl_timer.data = c;
    c->api_timer.data = c;
    uv_poll_start(&c->wake_poll, UV_READABLE, on_wake);
    uv_timer_start(&c->flush_timer, on_flush_timer, c->opts.flush_interval_ms,
        c->opts.flush_interval_ms);
    return 0;
fail:
    uv_loop_close(&c->loop);
    return TLM_ENOMEM;
}

int
tlm__worker_start(tlm_client *c)
{
    int rc = TLM_ENOMEM;

    tlm__rng_seed(&c->rng);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0)
        return TLM_ENOMEM;
    c->client_info = make_client_info(&c->opts);
    if (c->client_info == NULL)
        goto fail;
    rc = loop_init(c);
    if (rc != 0)
        goto fail;
    rc = tlm__transport_init(c);
    if (rc != 0)
        goto fail_loop;
    rc = tlm__wspool_open(c);
    if (rc != 0)
        goto fail_transport;
    if (pthread_create(&c->thread, NULL, worker_main, c) != 0) {
        rc = TLM_ETHREAD;
        tlm__wspool_close(c);
        goto fail_transport;
    }
    c->thread_started = true;
    c->worker_ready = true;
    return 0;
fail_transport:
    tlm__transport_close(c);
fail_loop:
    worker_shutdown_unstarted(c);
fail:
    tlm__free(c->client_info);
    tlm__free(c->url);
    tlm__free(c->auth_header);
    tlm__free(c->sock_pool);
    c->client_info = c->url = c->auth_header = NULL;
    c->sock_pool = NULL;
    close(c->wake_fd);
    return rc;
}

void
tlm__worker_destroy(tlm_client *c)
{
    if (!c->worker_ready)
        return; /* never started, or abandoned in a forked child */
    c->worker_ready = false;
    tlm__wspool_close(c); /* unacked records stay for the next process */
    /* The loop has stopped: uv_run returned with every handle closed. */
    uv_loop_close(&c->loop);
    tlm__buf_free(&c->scratch);
    tlm__free(c->client_info);
    tlm__free(c->auth_header);
    tlm__free(c->url);
    tlm__free(c->sock_pool);
    close(c->wake_fd);
}
