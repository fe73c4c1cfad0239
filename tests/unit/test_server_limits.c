/* Check suite for the hostile-input and operations side of server/http.c:
 * per-event, per-batch and connection limits, per-key rate limiting, the
 * bounded write queue, /readyz and /metrics, each against the real daemon
 * on a loopback port over plain sockets. */
#include "http.h"
#include "server_http.h"
#include "server_keys.h"
#include "rfc3339.h"
#include "store.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static char dir[64];
static struct tlm__store *store;
static struct tlm__http_server *srv;
static struct tlm__auth *auth;
static const char ingest_auth[] = "Authorization: Bearer ingest-key\r\n";

/* Options every test starts from; each test changes what it exercises. */
static struct tlm__http_options
base_options(void)
{
    struct tlm__http_options o = {
        .host = "127.0.0.1",
        .threads = 2,
        .max_body_bytes = 1 << 20,
        .max_inflated_bytes = 8 << 20,
        .max_write_queue = -1,
        .max_connections_per_ip = 0,
    };
    return o;
}

static void
open_store(void)
{
    char url[128], err[256] = "";
    snprintf(dir, sizeof(dir), "/tmp/tlm-limits-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
    ck_assert_int_eq(tlm__store_open(url, &store, err, sizeof(err)), 0);
}

static void
start(struct tlm__http_options o)
{
    char err[256] = "";
    if (store == NULL)
        open_store();
    if (o.store == NULL)
        o.store = store;
    if (o.auth == NULL) {
        if (auth == NULL)
            auth = test_keyring("ingest-key,other-key", "admin-token", NULL, 0);
        o.auth = auth;
    }
    ck_assert_msg(tlm__http_start(&o, &srv, err, sizeof(err)) == 0, "%s", err);
}

static void
teardown(void)
{
    char cmd[128];
    tlm__http_stop(srv);
    srv = NULL;
    tlm__store_close(store);
    store = NULL;
    tlm__auth_free(auth);
    auth = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One request on its own connection (Connection: close); the status, 0 when
 * the server closed without answering. */
static int
http(const char *method, const char *path, const char *headers,
    const char *body, char *resp, size_t resp_size)
{
    return test_http(
        tlm__http_port(srv), method, path, headers, body, resp, resp_size);
}

/* A request event with id number n and the given timestamp. */
static void
event_text(char *buf, size_t size, int n, const char *ts, const char *extra)
{
    snprintf(buf, size,
        "{\"type\":\"request\",\"id\":\"0190a000-0000-7000-8000-%012d\","
        "\"timestamp\":\"%s\",\"endpoint\":\"/v1/x\",\"response_status\":200,"
        "\"response_time\":3%s}",
        n, ts, extra);
}

static void
now_ts(char *buf, int64_t offset_ms)
{
    ck_assert_int_eq(
        tlm__rfc3339_format(tlm__now_ms() + offset_ms, buf, TLM_RFC3339_BUF),
        0);
}

/* A batch of n valid events numbered from first, timestamped now. */
static char *
batch(int first, int n)
{
    char ts[TLM_RFC3339_BUF], ev[512];
    size_t cap = 64 + (size_t)n * 512;
    char *b = malloc(cap);
    size_t len;
    now_ts(ts, 0);
    len = (size_t)snprintf(b, cap, "{\"events\":[");
    for (int i = 0; i < n; i++) {
        event_text(ev, sizeof(ev), first + i, ts, "");
        len += (size_t)snprintf(
            b + len, cap - len, "%s%s", i > 0 ? "," : "", ev);
    }
    snprintf(b + len, cap - len, "]}");
    return b;
}

START_TEST(limits_event_too_large_rejected_alone)
{
    struct tlm__http_options o = base_options();
    char ts[TLM_RFC3339_BUF], small[512], big[2048], pad[1200], body[4096];
    char r[4096];
    o.max_event_bytes = 1024;
    start(o);
    now_ts(ts, 0);
    memset(pad, 'a', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    event_text(small, sizeof(small), 1, ts, "");
    char extra[1300];
    snprintf(extra, sizeof(extra), ",\"pad\":\"%s\"", pad);
    event_text(big, sizeof(big), 2, ts, extra);
    snprintf(body, sizeof(body), "{\"events\":[%s,%s]}", small, big);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, body, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\"accepted\":1"));
    ck_assert_ptr_nonnull(strstr(r, "\"index\":1"));
    ck_assert_ptr_nonnull(strstr(r, "max_event_bytes"));
}
END_TEST

START_TEST(limits_batch_events_413)
{
    struct tlm__http_options o = base_options();
    char r[8192];
    o.max_batch_events = 3;
    start(o);
    char *four = batch(1, 4), *three = batch(1, 3);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, four, r, sizeof(r)), 413);
    ck_assert_ptr_nonnull(strstr(r, "max_batch_events"));
    ck_assert_ptr_nonnull(strstr(r, "application/json"));
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, three, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\"accepted\":3"));
    free(four);
    free(three);
}
END_TEST

START_TEST(limits_depth_400_names_limit)
{
    char body[256], r[4096];
    size_t n = 0;
    start(base_options());
    n += (size_t)snprintf(body, sizeof(body), "{\"events\":[],\"x\":");
    for (int i = 0; i < 40; i++)
        body[n++] = '[';
    for (int i = 0; i < 40; i++)
        body[n++] = ']';
    snprintf(body + n, sizeof(body) - n, "}");
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, body, r, sizeof(r)), 400);
    ck_assert_ptr_nonnull(strstr(r, "deeper than 32 levels (max_json_depth)"));
}
END_TEST

/* A body nested depth levels deep (the root counting as 1), valid JSON. */
static void
nested_body(char *body, size_t size, const char *prefix, int depth)
{
    size_t n = (size_t)snprintf(body, size, "%s", prefix);
    for (int i = 1; i < depth; i++)
        body[n++] = '[';
    for (int i = 1; i < depth; i++)
        body[n++] = ']';
    snprintf(body + n, size - n, "}");
}

START_TEST(limits_json_depth_configurable)
{
    struct tlm__http_options o = base_options();
    char body[256], r[4096];
    o.max_json_depth = 4;
    start(o);
    /* Depth 4 (root, the "x" arrays) passes the scanner; 5 does not. */
    nested_body(body, sizeof(body), "{\"events\":[],\"x\":", 4);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, body, r, sizeof(r)), 200);
    nested_body(body, sizeof(body), "{\"events\":[],\"x\":", 5);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, body, r, sizeof(r)), 400);
    ck_assert_ptr_nonnull(strstr(r, "deeper than 4 levels (max_json_depth)"));
    /* The API routes' JSON bodies obey the same key. */
    nested_body(body, sizeof(body), "{\"x\":", 5);
    ck_assert_int_eq(
        http("POST", "/feedback", ingest_auth, body, r, sizeof(r)), 400);
    ck_assert_ptr_nonnull(strstr(r, "deeper than 4 levels (max_json_depth)"));
    /* Brackets inside strings are text, not nesting. */
    ck_assert_int_eq(http("POST", "/feedback", ingest_auth,
                         "{\"feedback_type\":\"general\",\"content\":"
                         "\"[[[[[[{{{{{\\\"[[[\"}",
                         r, sizeof(r)),
        201);
}
END_TEST

START_TEST(limits_wire_413_names_max_body_bytes)
{
    struct tlm__http_options o = base_options();
    char body[600], r[4096];
    o.max_body_bytes = 512;
    start(o);
    memset(body, ' ', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, body, r, sizeof(r)), 413);
    ck_assert_ptr_nonnull(strstr(r, "(max_body_bytes)"));
    ck_assert_ptr_nonnull(strstr(r, "Connection: close"));
    ck_assert_int_eq(
        http("POST", "/feedback", ingest_auth, body, r, sizeof(r)), 413);
    ck_assert_ptr_nonnull(strstr(r, "(max_body_bytes)"));
}
END_TEST

START_TEST(limits_inflated_413_names_limit)
{
    struct tlm__http_options o = base_options();
    char r[4096];
    o.max_inflated_bytes = 64;
    start(o);
    char *b = batch(1, 1);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, b, r, sizeof(r)), 413);
    ck_assert_ptr_nonnull(strstr(r, "max_inflated_bytes"));
    free(b);
}
END_TEST

START_TEST(limits_timestamp_window)
{
    char now[TLM_RFC3339_BUF], ahead[TLM_RFC3339_BUF], old[TLM_RFC3339_BUF];
    char e1[512], e2[512], e3[512], body[2048], r[4096];
    start(base_options()); /* defaults: 24 h ahead, 30 days back */
    now_ts(now, 0);
    now_ts(ahead, 25LL * 3600 * 1000);
    now_ts(old, -31LL * 24 * 3600 * 1000);
    event_text(e1, sizeof(e1), 1, now, "");
    event_text(e2, sizeof(e2), 2, ahead, "");
    event_text(e3, sizeof(e3), 3, old, "");
    snprintf(body, sizeof(body), "{\"events\":[%s,%s,%s]}", e1, e2, e3);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, body, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\"accepted\":1"));
    ck_assert_ptr_nonnull(strstr(r, "max_future_seconds"));
    ck_assert_ptr_nonnull(strstr(r, "retention_days"));
    ck_assert_ptr_nonnull(
        strstr(r, "\"id\":\"0190a000-0000-7000-8000-000000000002\""));
}
END_TEST

START_TEST(limits_header_size)
{
    struct tlm__http_options o = base_options();
    char hdr[20000], r[4096];
    o.max_header_bytes = 8192;
    start(o);
    int n = snprintf(hdr, sizeof(hdr), "X-Pad: ");
    memset(hdr + n, 'p', 16000);
    snprintf(hdr + n + 16000, sizeof(hdr) - (size_t)n - 16000, "\r\n");
    int status = http("GET", "/healthz", hdr, NULL, r, sizeof(r));
    ck_assert_int_ne(status, 200);
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
}
END_TEST

START_TEST(limits_idle_connection_times_out)
{
    struct tlm__http_options o = base_options();
    char r[256];
    o.connection_timeout_s = 1;
    start(o);
    int fd = test_http_connect(tlm__http_port(srv));
    /* Closed by the server (0 bytes), not by our 10 s receive timeout. */
    ck_assert_int_eq(test_http_read_all(fd, r, sizeof(r)), 0);
    close(fd);
}
END_TEST

/* Waits (up to the 20 s receive timeout: a hang guard, not a measurement)
 * for the server to close fd, reading and discarding whatever it sends
 * first into resp. True when closed (EOF or reset), false on timeout. */
static bool
closed_by_server(int fd, char *resp, size_t size)
{
    struct timeval tv = {20, 0};
    size_t used = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    resp[0] = '\0';
    for (int i = 0; i < 1000; i++) {
        char buf[1024];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0)
            return true;
        if (n < 0)
            return errno == ECONNRESET;
        if (used + (size_t)n < size) {
            memcpy(resp + used, buf, (size_t)n);
            used += (size_t)n;
            resp[used] = '\0';
        }
    }
    return false;
}

static void
send_text(int fd, const char *text)
{
    size_t n = strlen(text);
    ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
}

START_TEST(limits_slowloris_headers_closed)
{
    struct tlm__http_options o = base_options();
    char r[1024];
    o.connection_timeout_s = 1;
    start(o);
    int fd = test_http_connect(tlm__http_port(srv));
    /* Half the headers, then nothing: the line is never finished. */
    send_text(fd,
        "POST /v1/batch HTTP/1.1\r\nHost: t\r\n"
        "Authorization: Bearer ingest-key\r\nX-Slow: aaaa");
    /* Others are served while it stalls. */
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
    ck_assert_msg(closed_by_server(fd, r, sizeof(r)),
        "a stalled header must be cut by connection_timeout_seconds");
    ck_assert_int_ne(test_http_status(r), 200);
    close(fd);
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
}
END_TEST

START_TEST(limits_stalled_body_closed)
{
    struct tlm__http_options o = base_options();
    char r[1024];
    o.connection_timeout_s = 1;
    start(o);
    int fd = test_http_connect(tlm__http_port(srv));
    /* Complete headers announcing 1000 bytes, then 10 of them and a stall. */
    send_text(fd,
        "POST /v1/batch HTTP/1.1\r\nHost: t\r\n"
        "Authorization: Bearer ingest-key\r\nContent-Length: 1000\r\n\r\n"
        "{\"events\":");
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
    ck_assert_msg(closed_by_server(fd, r, sizeof(r)),
        "a stalled body must be cut by connection_timeout_seconds");
    ck_assert_int_ne(test_http_status(r), 200);
    close(fd);
    /* Nothing of the cut batch was stored. */
    ck_assert_int_eq(http("GET", "/metrics", "", NULL, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(
        strstr(r, "telemetry_events_total{result=\"accepted\"} 0\n"));
}
END_TEST

/* A chunked body (no Content-Length, so nothing is refused up front) that
 * crosses max_body_bytes: read and dropped, then a 413 naming the key,
 * the connection closed by the server, and the server still serving. */
START_TEST(limits_chunked_over_cap_discarded)
{
    struct tlm__http_options o = base_options();
    char chunk[600], r[4096], head[64];
    o.max_body_bytes = 1024;
    start(o);
    memset(chunk, ' ', sizeof(chunk) - 1);
    chunk[sizeof(chunk) - 1] = '\0';
    int fd = test_http_connect(tlm__http_port(srv));
    send_text(fd,
        "POST /v1/batch HTTP/1.1\r\nHost: t\r\n"
        "Authorization: Bearer ingest-key\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    snprintf(head, sizeof(head), "%zx\r\n", strlen(chunk));
    for (int i = 0; i < 4; i++) { /* 2396 bytes: over the cap, under 4 x */
        send_text(fd, head);
        send_text(fd, chunk);
        send_text(fd, "\r\n");
    }
    send_text(fd, "0\r\n\r\n");
    ck_assert(closed_by_server(fd, r, sizeof(r)));
    close(fd);
    ck_assert_int_eq(test_http_status(r), 413);
    ck_assert_ptr_nonnull(strstr(r, "(max_body_bytes)"));
    ck_assert_ptr_nonnull(strstr(r, "Connection: close"));
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
    char *b = batch(1, 1);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, b, r, sizeof(r)), 200);
    free(b);
}
END_TEST

/* Opens a keep-alive connection and completes one request on it, so the
 * server has certainly accepted it and holds it open. */
static int
held_connection(void)
{
    char r[1024];
    int fd = test_http_connect(tlm__http_port(srv));
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    ck_assert_int_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    ssize_t n = read(fd, r, sizeof(r) - 1);
    ck_assert_int_gt(n, 0);
    r[n] = '\0';
    ck_assert_int_eq(test_http_status(r), 200);
    return fd;
}

/* With two connections held, a third gets no answer (closed at once, or
 * left waiting until one of them goes). */
static void
check_third_refused(void)
{
    int a = held_connection(), b = held_connection();
    struct timeval tv = {1, 0};
    char r[1024];
    int c = test_http_connect(tlm__http_port(srv));
    const char req[]
        = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)!write(c, req, sizeof(req) - 1);
    test_http_read_all(c, r, sizeof(r));
    ck_assert_int_eq(test_http_status(r), 0);
    close(c);
    close(a);
    close(b);
}

START_TEST(limits_per_ip_cap)
{
    struct tlm__http_options o = base_options();
    char r[1024];
    o.threads = 1;
    o.max_connections_per_ip = 2;
    start(o);
    check_third_refused();
    usleep(200 * 1000); /* the server notices the closed ones */
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
}
END_TEST

START_TEST(limits_total_connection_cap)
{
    struct tlm__http_options o = base_options();
    char r[1024];
    o.threads = 1;
    o.max_connections = 2;
    start(o);
    check_third_refused();
    usleep(200 * 1000);
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
}
END_TEST

START_TEST(ratelimit_429_with_retry_after)
{
    struct tlm__http_options o = base_options();
    struct tlm__rate_tier tiers[1] = {{"pro", {1, 3}}};
    char r[4096];
    auth = test_keyring(
        "ingest-key;tier=pro,other-key", "admin-token", tiers, 1);
    start(o);
    char *three = batch(1, 3), *one = batch(10, 1), *four = batch(20, 4);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, three, r, sizeof(r)), 200);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, one, r, sizeof(r)), 429);
    ck_assert_ptr_nonnull(strstr(r, "Retry-After: 1\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "{\"error\":\"rate limit"));
    ck_assert_ptr_nonnull(strstr(r, "tier pro"));
    /* More events than the burst can never pass: 413, so the SDK splits. */
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, four, r, sizeof(r)), 413);
    ck_assert_ptr_nonnull(strstr(r, "burst"));
    /* The other key, in no tier and with no "default" rule, is unlimited. */
    ck_assert_int_eq(
        http("POST", "/v1/batch", "Authorization: Bearer other-key\r\n", one, r,
            sizeof(r)),
        200);
    ck_assert_int_eq(http("GET", "/metrics", "", NULL, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\ntelemetry_rate_limited_total 1\n"));
    free(three);
    free(one);
    free(four);
}
END_TEST

/* The slow store: the first batch to reach the store waits for release. */
static sem_t entered, release;
static int hook_calls;

static void
hold_store(void *ctx)
{
    (void)ctx;
    if (__atomic_fetch_add(&hook_calls, 1, __ATOMIC_SEQ_CST) == 0) {
        sem_post(&entered);
        sem_wait(&release);
    }
}

static void *
post_in_thread(void *arg)
{
    static char r[4096];
    int *status = arg;
    char *b = batch(100, 2);
    *status = http("POST", "/v1/batch", ingest_auth, b, r, sizeof(r));
    free(b);
    return NULL;
}

START_TEST(backpressure_503_when_write_queue_full)
{
    struct tlm__http_options o = base_options();
    pthread_t t;
    int first = 0;
    char r[8192];
    sem_init(&entered, 0, 0);
    sem_init(&release, 0, 0);
    hook_calls = 0;
    o.max_write_queue = 0; /* one batch writing, none waiting */
    o.test_store_hook = hold_store;
    start(o);
    ck_assert_int_eq(pthread_create(&t, NULL, post_in_thread, &first), 0);
    sem_wait(&entered);
    char *b = batch(200, 1);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, b, r, sizeof(r)), 503);
    ck_assert_ptr_nonnull(strstr(r, "Retry-After: 1\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "max_write_queue"));
    ck_assert_int_eq(http("GET", "/metrics", "", NULL, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\ntelemetry_write_queue_depth 1\n"));
    sem_post(&release);
    pthread_join(t, NULL);
    ck_assert_int_eq(first, 200);
    /* The queue is free again: the refused batch now goes through. */
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, b, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\"accepted\":1"));
    free(b);
    sem_destroy(&entered);
    sem_destroy(&release);
}
END_TEST

START_TEST(readyz_ok)
{
    char r[4096];
    start(base_options());
    ck_assert_int_eq(http("GET", "/readyz", "", NULL, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "{\"status\":\"ready\"}"));
}
END_TEST

/* A store whose database never answers: a fault SQLite cannot be made to
 * produce on demand. */
static int
dead_ping(struct tlm__store *st)
{
    (void)st;
    return -1;
}

START_TEST(readyz_503_when_database_fails)
{
    static const struct tlm__store_ops dead_ops = {.ping = dead_ping};
    struct tlm__store dead = {&dead_ops};
    struct tlm__http_options o = base_options();
    char r[4096];
    o.store = &dead;
    start(o);
    ck_assert_int_eq(http("GET", "/readyz", "", NULL, r, sizeof(r)), 503);
    ck_assert_ptr_nonnull(strstr(r, "\"error\""));
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
}
END_TEST

static unsigned long
metric(const char *text, const char *name)
{
    char pat[256];
    snprintf(pat, sizeof(pat), "\n%s ", name);
    const char *p = strstr(text, pat);
    ck_assert_msg(p != NULL, "metric %s missing", name);
    return strtoul(p + strlen(pat), NULL, 10);
}

START_TEST(metrics_count_a_batch)
{
    char ts[TLM_RFC3339_BUF], e1[512], e2[512], body[2048];
    static char r[65536];
    start(base_options());
    now_ts(ts, 0);
    event_text(e1, sizeof(e1), 1, ts, "");
    event_text(e2, sizeof(e2), 2, ts, "");
    snprintf(
        body, sizeof(body), "{\"events\":[%s,%s,{\"type\":\"x\"}]}", e1, e2);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(
            http("POST", "/v1/batch", ingest_auth, body, r, sizeof(r)), 200);
    ck_assert_int_eq(http("GET", "/nope", "", NULL, r, sizeof(r)), 404);
    ck_assert_int_eq(http("GET", "/metrics", "", NULL, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "text/plain; version=0.0.4"));
    ck_assert_uint_eq(
        metric(r, "telemetry_events_total{result=\"accepted\"}"), 2);
    ck_assert_uint_eq(
        metric(r, "telemetry_events_total{result=\"duplicate\"}"), 2);
    ck_assert_uint_eq(
        metric(r, "telemetry_events_total{result=\"rejected\"}"), 2);
    ck_assert_uint_eq(metric(r,
                          "telemetry_http_requests_total{route=\"/v1/batch\","
                          "status=\"200\"}"),
        2);
    ck_assert_uint_eq(metric(r,
                          "telemetry_http_requests_total{route=\"other\","
                          "status=\"404\"}"),
        1);
    ck_assert_uint_eq(metric(r, "telemetry_bytes_in_total"), 2 * strlen(body));
    ck_assert_uint_eq(
        metric(r, "telemetry_inflated_bytes_total"), 2 * strlen(body));
    ck_assert_uint_eq(metric(r, "telemetry_store_seconds_count"), 2);
    ck_assert_uint_eq(
        metric(r, "telemetry_store_seconds_bucket{le=\"+Inf\"}"), 2);
    ck_assert_uint_eq(metric(r, "telemetry_write_queue_depth"), 0);
    ck_assert_uint_eq(metric(r, "telemetry_rate_limited_total"), 0);
    ck_assert_ptr_nonnull(strstr(r, "telemetry_inflate_ratio 1.0000"));
    ck_assert_ptr_nonnull(
        strstr(r, "# TYPE telemetry_store_seconds histogram"));
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, limits_event_too_large_rejected_alone);
    tcase_add_test(tc, limits_batch_events_413);
    tcase_add_test(tc, limits_depth_400_names_limit);
    tcase_add_test(tc, limits_json_depth_configurable);
    tcase_add_test(tc, limits_wire_413_names_max_body_bytes);
    tcase_add_test(tc, limits_inflated_413_names_limit);
    tcase_add_test(tc, limits_timestamp_window);
    tcase_add_test(tc, limits_header_size);
    tcase_add_test(tc, limits_idle_connection_times_out);
    tcase_add_test(tc, limits_slowloris_headers_closed);
    tcase_add_test(tc, limits_stalled_body_closed);
    tcase_add_test(tc, limits_chunked_over_cap_discarded);
    tcase_add_test(tc, limits_per_ip_cap);
    tcase_add_test(tc, limits_total_connection_cap);
    tcase_add_test(tc, ratelimit_429_with_retry_after);
    tcase_add_test(tc, backpressure_503_when_write_queue_full);
    tcase_add_test(tc, readyz_ok);
    tcase_add_test(tc, readyz_503_when_database_fails);
    tcase_add_test(tc, metrics_count_a_batch);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
