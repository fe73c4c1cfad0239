/*
 * transport.c - HTTP delivery of batches and of API calls (feedback,
 * feature requests: api_request.c): libcurl's multi interface driven by the
 * worker's libuv loop (curl_multi_socket_action, uv_poll_t, a timer).
 *
 * Worker thread only, except tlm__transport_global_init(). No extra
 * threads, no blocking calls: every transfer is non-blocking.
 */
#include "client.h"

#include <stdio.h>
#include <string.h>

struct tlm__sock {
    uv_poll_t poll;
    curl_socket_t fd;
    int events; /* what curl last asked to watch */
    tlm_client *c;
    tlm__sock *next_free;
};
typedef tlm__sock sock_ctx;

/* Bodies above this many bytes are sent with Expect: 100-continue. */
#define TLM__EXPECT_THRESHOLD (64 * 1024)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void
global_init_once(void)
{
    /* Never paired with curl_global_cleanup(): the host may use curl too. */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
tlm__transport_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc == CURLE_OK ? 0 : TLM_ETRANSPORT;
}

static void check_done(tlm_client *c);

static void
poll_close_cb(uv_handle_t *h)
{
    sock_ctx *ctx = h->data;

    ctx->next_free = ctx->c->sock_free;
    ctx->c->sock_free = ctx;
}

/* Socket contexts come from a pool made with the client: libcurl 7.88
 * mishandles a socket callback that fails (it crashes later, found by the
 * allocation sweep), so this callback must not be able to run out. */
static int
sock_pool_init(tlm_client *c)
{
    uint32_t i, n = 2 * c->opts.max_inflight + 2;

    c->sock_pool = tlm__calloc(n, sizeof(*c->sock_pool));
    if (c->sock_pool == NULL)
        return TLM_ENOMEM;
    for (i = 0; i < n; i++) {
        c->sock_pool[i].c = c;
        c->sock_pool[i].next_free = i + 1 < n ? &c->sock_pool[i + 1] : NULL;
    }
    c->sock_free = c->sock_pool;
    return 0;
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    sock_ctx *ctx = h->data;
    tlm_client *c = ctx->c;
    int flags = 0, running;

    /* An error (a reset: e.g. the server answered 413 before reading the
     * body and closed) stops the handle in libuv. The answer may still be
     * readable: let curl read and write and find out itself, rather than
     * abandon the transfer unread; it finishes on the socket's error if
     * there is nothing to read. */
    if (status < 0)
        flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, ctx->fd, flags, &running);
    /* Still curl's socket (not being closed) but stopped by the error:
     * watch it again as curl last asked. */
    if (status < 0 && !uv_is_closing((uv_handle_t *)&ctx->poll)
        && !uv_is_active((uv_handle_t *)&ctx->poll) && ctx->events != 0)
        uv_poll_start(&ctx->poll, ctx->events, on_poll);
    check_done(c);
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    tlm_client *c = userp;
    sock_ctx *ctx = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ctx != NULL) {
            uv_poll_stop(&ctx->poll);
            curl_multi_assign(c->multi, fd, NULL);
            uv_close((uv_handle_t *)&ctx->poll, poll_close_cb);
        }
        return 0;
    }
    if (ctx == NULL) {
        /* At most max_inflight connections (CURLMOPT_MAX_TOTAL_CONNECTIONS)
         * of at most two sockets each while connecting: never empty. */
        ctx = c->sock_free;
        if (ctx == NULL || uv_poll_init_socket(&c->loop, &ctx->poll, fd) != 0)
            return -1;
        c->sock_free = ctx->next_free;
        ctx->fd = fd;
        ctx->poll.data = ctx;
        curl_multi_assign(c->multi, fd, ctx);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    ctx->events = events;
    uv_poll_start(&ctx->poll, events, on_poll);
    return 0;
}

static void
on_curl_timer(uv_timer_t *t)
{
    tlm_client *c = t->data;
    int running;

    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    tlm_client *c = userp;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&c->curl_timer);
    else
        uv_timer_start(&c->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static int
make_url_and_auth(tlm_client *c)
{
    tlm__buf url = {0}, auth = {0};
    const char *ep = c->opts.endpoint;
    size_t n = strlen(ep);

    while (n > 0 && ep[n - 1] == '/')
        n--;
    tlm__buf_append(&url, ep, n);
    tlm__buf_puts(&url, "/v1/batch");
    if (c->opts.api_key != NULL) {
        tlm__buf_puts(&auth, "Authorization: Bearer ");
        tlm__buf_puts(&auth, c->opts.api_key);
    }
    if (url.failed || auth.failed) {
        tlm__buf_free(&url);
        tlm__buf_free(&auth);
        return TLM_ENOMEM;
    }
    c->url = url.data;
    c->auth_header = auth.data; /* NULL without a key */
    return 0;
}

int
tlm__transport_init(tlm_client *c)
{
    int rc = tlm__transport_global_init();

    if (rc != 0)
        return rc;
    rc = make_url_and_auth(c);
    if (rc == 0)
        rc = sock_pool_init(c);
    if (rc != 0)
        return rc;
    c->multi = curl_multi_init();
    if (c->multi == NULL)
        return TLM_ETRANSPORT;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(
        c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->opts.max_inflight);
    curl_multi_setopt(
        c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->opts.max_inflight);
    return 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    tlm__batch *b = userp;
    size_t n = size * nmemb;

    /* A receipt is small; don't let a hostile server make us buffer more. */
    if (b->response.len + n <= 1 << 20)
        tlm__buf_append(&b->response, data, n);
    return n;
}

static void
append_client_stats(tlm_client *c, tlm__buf *out)
{
    tlm_stats s;

    tlm_stats_init(&s);
    (void)tlm_client_stats(c, &s);
    tlm__buf_printf(out,
        "\"client_stats\":{\"enqueued\":%llu,\"sent\":%llu,"
        "\"dropped\":%llu,\"retried\":%llu,",
        (unsigned long long)s.enqueued, (unsigned long long)s.sent,
        (unsigned long long)(s.dropped_queue_full + s.dropped_before_send
            + s.dropped_http + s.dropped_retries + s.dropped_oversize
            + s.dropped_nomem + s.dropped_shutdown),
        (unsigned long long)s.retried);
    tlm__buf_printf(out,
        "\"dropped_queue_full\":%llu,\"queue_depth\":%llu,"
        "\"bytes_raw\":%llu,\"bytes_compressed\":%llu},",
        (unsigned long long)s.dropped_queue_full,
        (unsigned long long)s.queue_depth, (unsigned long long)s.bytes_raw,
        (unsigned long long)s.bytes_compressed);
}

/* The request body of a batch, gzip'ed when configured. */
int
tlm__transport_body(tlm_client *c, tlm__batch *b)
{
    tlm__buf raw = {0};
    char sent_at[25];
    int rc = 0;

    tlm__format_rfc3339(tlm__now_realtime_ms(), sent_at);
    tlm__buf_puts(&raw, "{\"batch_id\":\"");
    tlm__buf_puts(&raw, b->id);
    tlm__buf_puts(&raw, "\",\"sent_at\":\"");
    tlm__buf_puts(&raw, sent_at);
    tlm__buf_puts(&raw,
        "\",\"sdk\":{\"name\":\"" TLM__SDK_NAME
        "\",\"version\":\"" TLM_VERSION_STRING "\",\"binding\":");
    tlm__buf_json_string(&raw, c->opts.binding, strlen(c->opts.binding));
    tlm__buf_puts(&raw, "},");
    /* What the privacy layer did, so the server can show it. */
    tlm__buf_printf(&raw,
        "\"privacy\":{\"anonymized\":%s,\"scrubbed\":%s,"
        "\"sampling_rate\":%.6g},",
        c->opts.anonymize ? "true" : "false", c->opts.scrub ? "true" : "false",
        c->opts.sampling_rate);
    append_client_stats(c, &raw);
    tlm__buf_puts(&raw, "\"events\":[");
    tlm__buf_append(&raw, b->events.data, b->events.len);
    tlm__buf_puts(&raw, "]}");
    if (raw.failed) {
        rc = TLM_ENOMEM;
        goto out;
    }
    tlm__free(b->body);
    b->body = NULL;
    b->raw_len = raw.len;
    b->gzip = c->opts.compression != 0;
    if (c->opts.compression) {
        rc = tlm__gzip(raw.data, raw.len, 1, &b->body, &b->body_len);
    } else {
        b->body = raw.data;
        b->body_len = raw.len;
        raw.data = NULL;
    }
out:
    tlm__buf_free(&raw);
    return rc;
}

static int
build_headers(tlm_client *c, tlm__batch *b)
{
    char idem[64];
    struct curl_slist *h = NULL, *t;

    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", b->id);
    const char *lines[] = {
        "Content-Type: application/json",
        b->gzip ? "Content-Encoding: gzip" : NULL,
        /* A large body first asks whether the server wants it: a server
         * refusing it with 413 may close before reading it, and the reset
         * would lose the 413. Small bodies skip the round trip. */
        b->body_len > TLM__EXPECT_THRESHOLD ? "Expect: 100-continue"
                                            : "Expect:",
        "User-Agent: " TLM__SDK_NAME "/" TLM_VERSION_STRING,
        idem,
        c->auth_header,
    };
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (lines[i] == NULL)
            continue;
        t = curl_slist_append(h, lines[i]);
        if (t == NULL) {
            curl_slist_free_all(h);
            return TLM_ENOMEM;
        }
        h = t;
    }
    if (b->headers != NULL)
        curl_slist_free_all(b->headers);
    b->headers = h;
    return 0;
}

/* What batches and API calls share. */
static void
set_common_options(tlm_client *c, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(
        e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->opts.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->opts.transfer_timeout_ms);
    curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 1000L);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* Aborting at close's deadline must not wait for a name lookup thread
     * to finish. */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    if (c->opts.ca_bundle != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->opts.ca_bundle);
}

static int
set_easy_options(tlm_client *c, tlm__batch *b, CURL *e)
{
    if (curl_easy_setopt(e, CURLOPT_URL, c->url) != CURLE_OK)
        return TLM_ETRANSPORT;
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, b->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, b->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_PRIVATE, b);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, b->errbuf);
    set_common_options(c, e);
    return 0;
}

int
tlm__transport_send(tlm_client *c, tlm__batch *b)
{
    CURL *e = NULL;
    int rc;

    rc = b->body_fixed ? 0 : tlm__transport_body(c, b);
    if (rc == 0)
        rc = build_headers(c, b);
    if (rc != 0)
        return rc;
    e = curl_easy_init();
    if (e == NULL)
        return TLM_ENOMEM;
    b->errbuf[0] = '\0';
    tlm__buf_free(&b->response);
    if (set_easy_options(c, b, e) != 0
        || curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return TLM_ENOMEM;
    }
    b->easy = e;
    b->next = c->inflight;
    c->inflight = b;
    c->n_inflight++;
    atomic_fetch_add(&c->n.requests, 1);
    return 0;
}

/* Unlinks b from the in-flight list and releases its curl handle. */
static void
detach(tlm_client *c, tlm__batch *b)
{
    tlm__batch **p = &c->inflight;

    while (*p != NULL && *p != b)
        p = &(*p)->next;
    if (*p == b)
        *p = b->next;
    b->next = NULL;
    c->n_inflight--;
    curl_multi_remove_handle(c->multi, b->easy);
    curl_easy_cleanup(b->easy);
    b->easy = NULL;
}

/* ---- API calls ------------------------------------------------------------
 */

/* Answers of API calls (a page of feature requests may be large) are
 * capped; beyond it the transfer is cut and the call fails. */
#define TLM__API_ANSWER_MAX ((size_t)16 << 20)

static size_t
on_api_body(char *data, size_t size, size_t nmemb, void *userp)
{
    tlm__api *a = userp;
    size_t n = size * nmemb;

    if (a->response.len + n > TLM__API_ANSWER_MAX) {
        a->too_large = true;
        return 0; /* aborts the transfer */
    }
    tlm__buf_append(&a->response, data, n);
    return a->response.failed ? 0 : n;
}

static int
api_headers(tlm_client *c, tlm__api *a)
{
    char idem[64];
    struct curl_slist *h = NULL, *t;

    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", a->key);
    const char *lines[] = {
        a->body != NULL ? "Content-Type: application/json" : NULL,
        "Accept: application/json",
        "Expect:",
        "User-Agent: " TLM__SDK_NAME "/" TLM_VERSION_STRING,
        a->key[0] != '\0' ? idem : NULL,
        c->auth_header,
    };
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (lines[i] == NULL)
            continue;
        t = curl_slist_append(h, lines[i]);
        if (t == NULL) {
            curl_slist_free_all(h);
            return TLM_ENOMEM;
        }
        h = t;
    }
    if (a->headers != NULL)
        curl_slist_free_all(a->headers);
    a->headers = h;
    return 0;
}

/* The endpoint's base (c->url without "/v1/batch") followed by the path. */
static int
api_url(tlm_client *c, const tlm__api *a, tlm__buf *url)
{
    size_t n = strlen(c->url) - (sizeof("/v1/batch") - 1);

    tlm__buf_append(url, c->url, n);
    tlm__buf_puts(url, a->path);
    return url->failed ? TLM_ENOMEM : 0;
}

static int
api_easy_options(tlm_client *c, tlm__api *a, CURL *e)
{
    tlm__buf url = {0};
    int rc = api_url(c, a, &url);

    if (rc == 0 && curl_easy_setopt(e, CURLOPT_URL, url.data) != CURLE_OK)
        rc = TLM_ENOMEM;
    tlm__buf_free(&url);
    if (rc != 0)
        return rc;
    if (strcmp(a->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (a->body == NULL) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, a->method); /* DELETE */
    } else {
        if (strcmp(a->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, a->method);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->body);
        curl_easy_setopt(
            e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->body_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_api_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_PRIVATE, a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf);
    set_common_options(c, e);
    return 0;
}

int
tlm__transport_api_send(tlm_client *c, tlm__api *a)
{
    CURL *e;
    int rc = api_headers(c, a);

    if (rc != 0)
        return rc;
    e = curl_easy_init();
    if (e == NULL)
        return TLM_ENOMEM;
    a->errbuf[0] = '\0';
    a->too_large = false;
    tlm__buf_free(&a->response);
    if (api_easy_options(c, a, e) != 0
        || curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return TLM_ENOMEM;
    }
    a->easy = e;
    a->next = c->api_inflight;
    c->api_inflight = a;
    c->n_api_inflight++;
    return 0;
}

/* The API call whose transfer is `e`, unlinked from the in-flight list
 * with its handle released; NULL if `e` is a batch's. */
static tlm__api *
api_detach(tlm_client *c, CURL *e)
{
    tlm__api **p = &c->api_inflight, *a;

    while (*p != NULL && (*p)->easy != e)
        p = &(*p)->next;
    a = *p;
    if (a == NULL)
        return NULL;
    *p = a->next;
    a->next = NULL;
    c->n_api_inflight--;
    curl_multi_remove_handle(c->multi, e);
    curl_easy_cleanup(e);
    a->easy = NULL;
    return a;
}

void
tlm__transport_api_abort_all(tlm_client *c, tlm__api **out)
{
    tlm__api *a;

    while (c->api_inflight != NULL) {
        a = api_detach(c, c->api_inflight->easy);
        a->next = *out;
        *out = a;
    }
}

static void
check_done(tlm_client *c)
{
    CURLMsg *msg;
    int left;
    tlm__batch *b;
    tlm__api *a;
    long status = 0;
    curl_off_t retry_after = 0;
    CURLcode result;

    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        result = msg->data.result;
        status = 0;
        retry_after = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RETRY_AFTER, &retry_after);
        a = api_detach(c, msg->easy_handle);
        if (a != NULL) {
            tlm__api_done(c, a, result == CURLE_OK, status, (long)retry_after);
            continue;
        }
        b = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&b);
        detach(c, b);
        tlm__worker_batch_done(
            c, b, result == CURLE_OK, status, (long)retry_after);
    }
}

uint64_t
tlm__transport_abort_all(tlm_client *c)
{
    uint64_t n = 0;
    tlm__batch *b;

    while (c->inflight != NULL) {
        b = c->inflight;
        n += b->n;
        detach(c, b);
        tlm__batch_free(b);
    }
    return n;
}

void
tlm__transport_close(tlm_client *c)
{
    tlm__api *orphans = NULL, *a;

    if (c->multi == NULL)
        return;
    tlm__transport_abort_all(c);
    /* Never expected here (api_request.c answers them first), but no
     * handle may outlive the multi. */
    tlm__transport_api_abort_all(c, &orphans);
    while (orphans != NULL) {
        a = orphans;
        orphans = a->next;
        a->next = c->api_waiting;
        c->api_waiting = a;
    }
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
}
