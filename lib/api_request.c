/*
 * api_request.c - feedback and feature-request calls as single HTTP
 * requests: accepting them from callers, the worker's queue of them (spool,
 * retries, answers), completion callbacks and the blocking *_wait form.
 *
 * tlm__api_submit and the waiting half of *_wait run on caller threads and
 * touch shared state only under c->mu; everything else runs on the worker
 * thread, and calls user callbacks with no lock held.
 */
#include "client.h"
#include "spool.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Calls accepted and not yet finished, per client. */
#define TLM__API_MAX_OUTSTANDING 1024
/* Attempts of a read (get, list): it is never spooled, so fail fast. */
#define TLM__API_READ_RETRIES 2

/* A *_wait caller. Shared by the caller and the worker, guarded by c->mu;
 * freed by whichever lets go last. */
struct tlm__wait {
    int refs;
    bool done;
    bool abandoned; /* the caller's deadline passed */
    int rc;
    tlm_reply reply; /* body and id malloc'ed (libc) */
};

void
tlm__api_free(tlm__api *a)
{
    if (a == NULL)
        return;
    if (a->headers != NULL)
        curl_slist_free_all(a->headers);
    tlm__buf_free(&a->response);
    tlm__free(a->inbuf);
    tlm__free(a->path);
    tlm__free(a->body);
    tlm__free(a);
}

/* ---- caller side ----------------------------------------------------------
 */

static bool
on_worker(const tlm_client *c)
{
    return c->thread_started && pthread_equal(pthread_self(), c->thread);
}

static void
wait_release(tlm__wait *w)
{
    /* With c->mu held. */
    if (--w->refs > 0)
        return;
    free(w->reply.body);
    free(w->reply.id);
    tlm__free(w);
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

/* Waits for w's answer and moves it into *out. */
static int
wait_answer(tlm_client *c, tlm__wait *w, uint32_t timeout_ms, tlm_reply *out)
{
    struct timespec dl;
    int rc;

    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (!w->done && !c->worker_done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    }
    if (w->done) {
        rc = w->rc;
        *out = w->reply;
        out->size = sizeof(*out);
        w->reply.body = w->reply.id = NULL;
    } else {
        rc = c->worker_done ? TLM_ECLOSED : TLM_ETIMEDOUT;
        w->abandoned = true;
    }
    wait_release(w);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Checks that the client takes calls now: 0 or the error to return. */
static int
check_open(tlm_client *c)
{
    if (atomic_load(&c->state) != TLM__STATE_OPEN)
        return TLM_ECLOSED;
    if (!atomic_load(&c->enabled)
        || atomic_load(&c->consent) == TLM_CONSENT_REVOKED)
        return TLM_EDISABLED;
    if (tlm__fork_pending(c) && tlm__fork_settle(c, true) != 0)
        return TLM_ETHREAD;
    return 0;
}

/* Appends a to the callers' list: 0, TLM_ECLOSED or TLM_EFULL. */
static int
enqueue(tlm_client *c, tlm__api *a)
{
    int rc = 0;

    pthread_mutex_lock(&c->mu);
    if (atomic_load(&c->state) != TLM__STATE_OPEN || c->worker_done)
        rc = TLM_ECLOSED;
    else if (c->api_outstanding >= TLM__API_MAX_OUTSTANDING)
        rc = TLM_EFULL;
    if (rc == 0) {
        if (a->waiter != NULL)
            a->waiter->refs = 2;
        a->seq = c->api_next_seq++;
        a->next = NULL;
        if (c->api_pending == NULL)
            c->api_pending_tail = &c->api_pending;
        *c->api_pending_tail = a;
        c->api_pending_tail = &a->next;
        c->api_outstanding++;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int
tlm__api_submit(tlm_client *c, tlm__api *a, tlm_response_fn cb, void *ud,
    uint32_t timeout_ms, tlm_reply *out, bool wait)
{
    tlm__alloc_scope scope;
    tlm__wait *w = NULL;
    int rc;

    tlm__alloc_enter(&scope, &c->opts.allocator);
    /* From a callback (the worker thread) the answer could never come. */
    rc = wait && on_worker(c) ? TLM_EINVAL : check_open(c);
    if (rc == 0 && wait) {
        w = tlm__calloc(1, sizeof(*w));
        rc = w != NULL ? 0 : TLM_ENOMEM;
    }
    if (rc != 0)
        goto fail;
    a->cb = cb;
    a->ud = ud;
    a->waiter = w;
    rc = enqueue(c, a);
    if (rc != 0)
        goto fail;
    tlm__worker_wake(c);
    if (wait)
        rc = wait_answer(c, w, timeout_ms, out);
    tlm__alloc_leave(&scope);
    return rc;
fail:
    tlm__free(w);
    tlm__api_free(a);
    tlm__alloc_leave(&scope);
    return rc;
}

/* ---- completion (worker) --------------------------------------------------
 */

/* The answer's top-level "id", copied into out[0..n), or "". */
static void
answer_id(const tlm__api *a, char *out, size_t n)
{
    cJSON *root, *id;

    out[0] = '\0';
    if (a->response.data == NULL || a->response.len == 0
        || a->response.data[0] != '{')
        return;
    /* A page of feature requests has no top-level id: don't parse it. */
    if (a->kind == TLM__API_READ && strncmp(a->path, "/feedback/", 10) != 0)
        return;
    root = cJSON_ParseWithLength(a->response.data, a->response.len);
    id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (cJSON_IsString(id) && strlen(id->valuestring) < n)
        snprintf(out, n, "%s", id->valuestring);
    cJSON_Delete(root);
}

static char *
copy_libc(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Hands the answer to a *_wait caller that still waits. */
static void
answer_waiter(tlm_client *c, tlm__wait *w, int rc, const tlm_response *r)
{
    pthread_mutex_lock(&c->mu);
    if (!w->abandoned) {
        w->rc = rc;
        w->reply.status = r->status;
        w->reply.spooled = r->spooled;
        if (r->body != NULL) {
            w->reply.body = copy_libc(r->body, r->body_len);
            w->reply.body_len = r->body_len;
        }
        if (r->id != NULL)
            w->reply.id = copy_libc(r->id, strlen(r->id));
        if ((r->body != NULL && w->reply.body == NULL)
            || (r->id != NULL && w->reply.id == NULL)) {
            free(w->reply.body);
            free(w->reply.id);
            w->reply.body = w->reply.id = NULL;
            w->reply.body_len = 0;
            w->rc = TLM_ENOMEM;
        }
        w->done = true;
        pthread_cond_broadcast(&c->cv);
    }
    wait_release(w);
    pthread_mutex_unlock(&c->mu);
}

/* Runs the call's callback (or answers its waiter) once. */
static void
answer(tlm_client *c, tlm__api *a, int rc)
{
    tlm_response r;
    char id[256];

    if (a->answered)
        return;
    a->answered = true;
    if (a->cb == NULL && a->waiter == NULL)
        return;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.status = (int)a->status;
    if (a->response.data != NULL && !a->too_large) {
        r.body = a->response.data;
        r.body_len = a->response.len;
    }
    answer_id(a, id, sizeof(id));
    r.id = id[0] != '\0' ? id : NULL;
    r.spooled = a->spooled;
    r.idempotency_key = a->key[0] != '\0' ? a->key : NULL;
    if (a->waiter != NULL) {
        answer_waiter(c, a->waiter, rc, &r);
        a->waiter = NULL;
    } else {
        a->cb(rc, &r, a->ud);
    }
}

/* The call is finished: answered if it was not, then freed. */
static void
finish(tlm_client *c, tlm__api *a, int rc)
{
    answer(c, a, rc);
    if (a->kind != TLM__API_REPLAYED) {
        pthread_mutex_lock(&c->mu);
        c->api_outstanding--;
        pthread_mutex_unlock(&c->mu);
    }
    tlm__api_free(a);
}

/* ---- the worker's lists ---------------------------------------------------
 */

static void
push_waiting(tlm_client *c, tlm__api *a)
{
    tlm__api **p = &c->api_waiting;

    while (*p != NULL)
        p = &(*p)->next;
    a->next = NULL;
    *p = a;
    c->n_api_waiting++;
}

/* TELEMETRY_DEBUG: the request as one JSON line on stderr instead. */
static void
debug_print(tlm_client *c, const tlm__api *a)
{
    tlm__buf line = {0};

    tlm__buf_puts(&line, "{\"debug\":\"api_request\",\"method\":\"");
    tlm__buf_puts(&line, a->method);
    tlm__buf_puts(&line, "\",\"path\":");
    tlm__buf_json_string(&line, a->path, strlen(a->path));
    if (a->key[0] != '\0') {
        tlm__buf_puts(&line, ",\"idempotency_key\":\"");
        tlm__buf_puts(&line, a->key);
        tlm__buf_puts(&line, "\"");
    }
    if (a->body != NULL) {
        tlm__buf_puts(&line, ",\"body\":");
        tlm__buf_append(&line, a->body, a->body_len);
    }
    tlm__buf_puts(&line, "}");
    if (!line.failed)
        fprintf(stderr, "%.*s\n", (int)line.len, line.data);
    tlm__buf_free(&line);
    atomic_fetch_add(&c->n.debug_printed, 1);
}

/* A call taken from the callers: built, spooled, queued. */
static void
admit(tlm_client *c, tlm__api *a)
{
    int rc = a->built ? 0 : tlm__api_build(c, a);

    if (rc != 0) {
        finish(c, a, rc);
        return;
    }
    a->built = true;
    if (c->debug) {
        debug_print(c, a);
        finish(c, a, 0);
        return;
    }
    tlm__wspool_write_api(c, a);
    a->not_before = 0;
    push_waiting(c, a);
}

static void
take_pending(tlm_client *c)
{
    tlm__api *list, *a;

    pthread_mutex_lock(&c->mu);
    list = c->api_pending;
    c->api_pending = NULL;
    c->api_pending_tail = &c->api_pending;
    pthread_mutex_unlock(&c->mu);
    while (list != NULL) {
        a = list;
        list = a->next;
        a->next = NULL;
        admit(c, a);
    }
}

static void
on_api_timer(uv_timer_t *t)
{
    tlm__worker_kick(t->data);
}

static uint32_t
retry_limit(const tlm_client *c, const tlm__api *a)
{
    if (a->key[0] == '\0')
        return TLM__API_READ_RETRIES;
    return c->opts.max_retries;
}

/* Retries ran out. A spooled call stays in the spool for a later process;
 * its caller heard so when its first attempt failed. */
static void
give_up(tlm_client *c, tlm__api *a)
{
    if (a->spooled)
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "%s %s left in the spool after its last attempt", a->method,
            a->path);
    else
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_ERROR,
            "%s %s failed after its last attempt (HTTP %ld)", a->method,
            a->path, a->status);
    finish(c, a, TLM_EUNAVAILABLE);
}

/* Starts what is due, up to max_inflight; arms the timer for the rest. */
static void
dispatch(tlm_client *c)
{
    uint64_t now = uv_now(&c->loop), next = UINT64_MAX;
    tlm__api **p = &c->api_waiting, *a;

    if (c->opts.require_consent
        && atomic_load(&c->consent) != TLM_CONSENT_GIVEN)
        return; /* like events: they wait for consent */
    while (*p != NULL) {
        a = *p;
        if (a->not_before > now) {
            if (a->not_before < next)
                next = a->not_before;
            p = &a->next;
            continue;
        }
        if (c->n_api_inflight >= c->opts.max_inflight)
            break;
        *p = a->next;
        c->n_api_waiting--;
        a->next = NULL;
        if (tlm__transport_api_send(c, a) == 0)
            continue;
        if (++a->attempts > retry_limit(c, a)) {
            give_up(c, a);
            continue;
        }
        a->not_before = now + TLM__BACKOFF_BASE_MS;
        if (a->not_before < next)
            next = a->not_before;
        a->next = *p;
        *p = a;
        c->n_api_waiting++;
        p = &a->next;
    }
    if (next != UINT64_MAX)
        uv_timer_start(&c->api_timer, on_api_timer, next - now, 0);
}

void
tlm__api_pass(tlm_client *c)
{
    take_pending(c);
    dispatch(c);
}

bool
tlm__api_idle(const tlm_client *c)
{
    tlm_client *m = (tlm_client *)c;
    bool none;

    pthread_mutex_lock(&m->mu);
    none = m->api_pending == NULL;
    pthread_mutex_unlock(&m->mu);
    return none && c->api_waiting == NULL && c->api_inflight == NULL;
}

static uint64_t
list_min(const tlm__api *a, uint64_t m, bool *replays)
{
    for (; a != NULL; a = a->next) {
        if (a->kind == TLM__API_REPLAYED)
            *replays = true;
        else if (a->seq < m)
            m = a->seq;
    }
    return m;
}

uint64_t
tlm__api_min_seq(const tlm_client *c, bool *replays)
{
    uint64_t m = list_min(c->api_waiting, UINT64_MAX, replays);

    return list_min(c->api_inflight, m, replays);
}

uint32_t
tlm__api_held(const tlm_client *c)
{
    const tlm__api *lists[2] = {c->api_waiting, c->api_inflight};
    const tlm__api *a;
    uint32_t n = 0;
    int i;

    for (i = 0; i < 2; i++)
        for (a = lists[i]; a != NULL; a = a->next)
            n += a->kind == TLM__API_REPLAYED;
    return n;
}

void
tlm__api_fail_all(tlm_client *c, int rc)
{
    tlm__api *list = NULL, *a;

    /* What callers added last is taken too: nothing is left unanswered. */
    pthread_mutex_lock(&c->mu);
    list = c->api_pending;
    c->api_pending = NULL;
    c->api_pending_tail = &c->api_pending;
    pthread_mutex_unlock(&c->mu);
    while (list != NULL) {
        a = list;
        list = a->next;
        finish(c, a, rc);
    }
    tlm__transport_api_abort_all(c, &c->api_waiting);
    c->n_api_inflight = 0;
    while (c->api_waiting != NULL) {
        a = c->api_waiting;
        c->api_waiting = a->next;
        if (rc == TLM_EDISABLED)
            a->spooled = false; /* the spool was purged */
        finish(c, a, rc);
    }
    c->n_api_waiting = 0;
    if (c->loop.data != NULL)
        uv_timer_stop(&c->api_timer);
}

/* ---- transfer outcomes (worker) -------------------------------------------
 */

static void
schedule_retry(tlm_client *c, tlm__api *a, long retry_after_s)
{
    uint64_t delay;

    if (++a->attempts > retry_limit(c, a)) {
        give_up(c, a);
        return;
    }
    /* Safe on disk: the caller need not wait for the server to return. */
    if (a->spooled)
        answer(c, a, 0);
    delay = tlm__backoff_delay_ms(
        a->attempts, tlm__rng_double(&c->rng), retry_after_s);
    a->not_before = uv_now(&c->loop) + delay;
    push_waiting(c, a);
}

void
tlm__api_done(tlm_client *c, tlm__api *a, int transfer_ok, long status,
    long retry_after_s)
{
    a->status = transfer_ok ? status : 0;
    if (a->too_large) {
        if (status >= 200 && status < 300)
            tlm__wspool_ack_api(c, a);
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_ERROR,
            "%s %s: the answer is larger than 16 MiB", a->method, a->path);
        finish(c, a, TLM_EIO);
        tlm__worker_kick(c);
        return;
    }
    switch (tlm__backoff_classify(transfer_ok, status)) {
    case TLM__OUT_OK:
        tlm__wspool_ack_api(c, a);
        finish(c, a, 0);
        break;
    case TLM__OUT_RETRY:
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_INFO,
            "%s %s: %s (HTTP %ld), will retry", a->method, a->path,
            a->errbuf[0] ? a->errbuf : "server error", status);
        tlm__buf_free(&a->response);
        schedule_retry(c, a, retry_after_s);
        break;
    case TLM__OUT_SPLIT: /* one request cannot be cut: refused */
    case TLM__OUT_DROP:
        tlm__wspool_ack_api(c, a);
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "%s %s refused with HTTP %ld", a->method, a->path, status);
        a->spooled = false;
        finish(c, a, TLM_EREJECTED);
        break;
    }
    tlm__worker_kick(c);
}

/* ---- the spool and fork() -------------------------------------------------
 */

int
tlm__api_from_spool(tlm_client *c, uint64_t record_id, const void *body,
    size_t len, const char *key)
{
    const char *p = body, *end = p + len, *method, *path;
    size_t mlen, plen;
    tlm__api *a;

    /* "METHOD\0PATH\0BODY" */
    mlen = strnlen(p, len);
    if (mlen == len)
        goto bad;
    method = p;
    p += mlen + 1;
    plen = strnlen(p, (size_t)(end - p));
    if (p + plen == end || plen == 0 || p[0] != '/')
        goto bad;
    path = p;
    p += plen + 1;
    a = tlm__calloc(1, sizeof(*a));
    if (a == NULL)
        return -1;
    a->kind = TLM__API_REPLAYED;
    a->method = strcmp(method, "PUT") == 0 ? "PUT"
        : strcmp(method, "DELETE") == 0    ? "DELETE"
                                           : "POST";
    a->path = tlm__strndup(path, plen);
    a->body_len = (size_t)(end - p);
    a->body = a->body_len > 0 ? tlm__strndup(p, a->body_len) : NULL;
    if (a->path == NULL || (a->body_len > 0 && a->body == NULL)) {
        tlm__api_free(a);
        return -1;
    }
    snprintf(a->key, sizeof(a->key), "%s", key != NULL ? key : "");
    if (a->key[0] == '\0')
        tlm__uuid4(&c->rng, a->key);
    a->seq = UINT64_MAX;
    a->built = a->answered = a->spooled = true;
    a->spool_id = record_id;
    push_waiting(c, a);
    return 0;
bad:
    /* Not ours to understand: acknowledged, so it is not offered again. */
    tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
        "spool: skipped an API record that cannot be read");
    (void)tlm__spool_ack(c->spool, record_id);
    return 0;
}

void
tlm__api_child_reset(tlm_client *c)
{
    tlm__api *a;

    /* The parent's calls are the parent's: the callers' list holds only
     * plain memory and is freed; what the worker held is abandoned with
     * the rest of its state (fork.c). */
    while (c->api_pending != NULL) {
        a = c->api_pending;
        c->api_pending = a->next;
        a->waiter = NULL; /* its thread does not exist here */
        tlm__api_free(a);
    }
    c->api_pending_tail = &c->api_pending;
    c->api_outstanding = 0;
    c->api_settled_upto = c->api_next_seq;
    c->api_waiting = c->api_inflight = NULL;
    c->n_api_waiting = c->n_api_inflight = 0;
}
