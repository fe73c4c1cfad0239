/*
 * test_transport.c - what the SDK puts on the wire and how it reacts to the
 * answers: gzip bodies, one Idempotency-Key per batch reused by its
 * retries, Retry-After, batch sealing by count and by bytes, a single event
 * refused with 413.
 *
 * A capturing proxy on loopback sits between the SDK and the real
 * telemetry-server: it records each request's headers and body size and
 * can answer a request itself. No time bound is asserted anywhere.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <telemetry.h>
#include <unistd.h>

/* ---- the capturing proxy ---------------------------------------------- */

#define MAX_RECS 512

struct rec {
    char path[64];
    char key[64]; /* Idempotency-Key, "" if none */
    char encoding[32]; /* Content-Encoding, "" if none */
    size_t body_len;
    int answered; /* the status the proxy answered itself; 0: relayed */
    int upstream; /* 1: the request reached the server */
};

enum fail_mode {
    FAIL_ITSELF, /* answer without asking the server */
    FAIL_AFTER_SERVER /* relay, then replace the server's answer */
};

struct cproxy {
    int lfd;
    int port;
    int target;
    atomic_int stop;
    atomic_int fail_left; /* batches still to fail */
    int fail_status;
    enum fail_mode fail_mode;
    const char *retry_after; /* value of Retry-After, NULL: none */
    pthread_mutex_t mu;
    struct rec recs[MAX_RECS];
    int n;
    pthread_t th;
};

/* Reads into buf until the end of the head, or gives up (bounded). */
static ssize_t
read_head(int fd, char *buf, size_t cap, size_t *head_len)
{
    size_t used = 0;
    int rounds;

    for (rounds = 0; rounds < 300 && used < cap - 1; rounds++) {
        struct pollfd pf = {fd, POLLIN, 0};
        char *end;
        ssize_t n;

        if (poll(&pf, 1, 100) <= 0)
            continue;
        n = read(fd, buf + used, cap - 1 - used);
        if (n <= 0)
            return -1;
        used += (size_t)n;
        buf[used] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            *head_len = (size_t)(end - buf) + 4;
            return (ssize_t)used;
        }
    }
    return -1;
}

static bool
read_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    int idle = 0;

    while (got < n && idle < 300) {
        struct pollfd pf = {fd, POLLIN, 0};
        ssize_t k;

        if (poll(&pf, 1, 100) <= 0) {
            idle++;
            continue;
        }
        k = read(fd, buf + got, n - got);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return got == n;
}

static bool
write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, buf, n);

        if (k <= 0)
            return false;
        buf += k;
        n -= (size_t)k;
    }
    return true;
}

/* The value of header `name` in head (copied into out), or "". */
static void
header_value(const char *head, const char *name, char *out, size_t size)
{
    const char *line = strstr(head, "\r\n");
    size_t nlen = strlen(name);

    out[0] = '\0';
    while (line != NULL && line[2] != '\r') {
        const char *h = line + 2, *eol = strstr(h, "\r\n");

        if (eol == NULL)
            return;
        if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
            const char *v = h + nlen + 1;

            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(eol - v), v);
            return;
        }
        line = eol;
    }
}

static int
connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Sends the request (head without Expect and Connection, plus
 * "Connection: close") to the server and returns its whole answer
 * (malloc'ed, *len bytes), or NULL. */
static char *
relay(struct cproxy *p, const char *head, const char *body, size_t body_len,
    size_t *len)
{
    int sfd = connect_to(p->target), idle = 0;
    const char *line = strstr(head, "\r\n");
    size_t cap = 65536, used = 0;
    char *out = NULL;

    if (sfd < 0)
        return NULL;
    /* request line */
    if (!write_all(sfd, head, (size_t)(line - head) + 2))
        goto fail;
    while (line[2] != '\r') {
        const char *h = line + 2, *eol = strstr(h, "\r\n");

        if (strncasecmp(h, "Expect:", 7) != 0
            && strncasecmp(h, "Connection:", 11) != 0
            && !write_all(sfd, h, (size_t)(eol - h) + 2))
            goto fail;
        line = eol;
    }
    if (!write_all(sfd, "Connection: close\r\n\r\n", 21)
        || !write_all(sfd, body, body_len))
        goto fail;
    out = malloc(cap);
    while (out != NULL && idle < 300) {
        struct pollfd pf = {sfd, POLLIN, 0};
        ssize_t k;

        if (poll(&pf, 1, 100) <= 0) {
            idle++;
            continue;
        }
        if (used == cap) {
            char *grown = realloc(out, cap * 2);

            if (grown == NULL)
                break;
            out = grown;
            cap *= 2;
        }
        k = read(sfd, out + used, cap - used);
        if (k <= 0)
            break;
        used += (size_t)k;
    }
    close(sfd);
    if (out == NULL || used == 0) {
        free(out);
        return NULL;
    }
    *len = used;
    return out;
fail:
    close(sfd);
    return NULL;
}

static void
answer(int cfd, const struct cproxy *p, int status)
{
    char resp[256];
    char ra[64] = "";

    if (p->retry_after != NULL)
        snprintf(ra, sizeof(ra), "Retry-After: %s\r\n", p->retry_after);
    snprintf(resp, sizeof(resp),
        "HTTP/1.1 %d Proxy Says No\r\n%sContent-Type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
        status, ra);
    (void)write_all(cfd, resp, strlen(resp));
}

/* One request per connection, answered with Connection: close. */
static void
serve(struct cproxy *p, int cfd)
{
    static char buf[65536];
    char clen[32], expect[64], *body = NULL, *resp = NULL;
    size_t head_len = 0, body_len, have, resp_len = 0;
    ssize_t used = read_head(cfd, buf, sizeof(buf), &head_len);
    struct rec r;
    bool fail;

    if (used < 0)
        return;
    memset(&r, 0, sizeof(r));
    sscanf(buf, "%*s %63s", r.path);
    header_value(buf, "Idempotency-Key", r.key, sizeof(r.key));
    header_value(buf, "Content-Encoding", r.encoding, sizeof(r.encoding));
    header_value(buf, "Content-Length", clen, sizeof(clen));
    header_value(buf, "Expect", expect, sizeof(expect));
    body_len = (size_t)strtoul(clen, NULL, 10);
    if (strcasecmp(expect, "100-continue") == 0
        && !write_all(cfd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
        return;
    body = malloc(body_len + 1);
    if (body == NULL)
        return;
    have = (size_t)used - head_len;
    if (have > body_len)
        have = body_len;
    memcpy(body, buf + head_len, have);
    if (!read_exact(cfd, body + have, body_len - have))
        goto out;
    buf[head_len] = '\0';
    r.body_len = body_len;
    fail = strcmp(r.path, "/v1/batch") == 0
        && atomic_fetch_sub(&p->fail_left, 1) > 0;
    if (!fail || p->fail_mode == FAIL_AFTER_SERVER) {
        resp = relay(p, buf, body, body_len, &resp_len);
        r.upstream = resp != NULL;
    }
    if (fail) {
        r.answered = p->fail_status;
        answer(cfd, p, p->fail_status);
    } else if (resp != NULL) {
        (void)write_all(cfd, resp, resp_len);
    }
    pthread_mutex_lock(&p->mu);
    if (p->n < MAX_RECS)
        p->recs[p->n++] = r;
    pthread_mutex_unlock(&p->mu);
out:
    free(resp);
    free(body);
}

static void *
cproxy_main(void *arg)
{
    struct cproxy *p = arg;

    while (!atomic_load(&p->stop)) {
        struct pollfd pf = {p->lfd, POLLIN, 0};
        int cfd;

        if (poll(&pf, 1, 100) <= 0)
            continue;
        cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        serve(p, cfd);
        close(cfd);
    }
    return NULL;
}

static void
cproxy_start(struct cproxy *p, int target, int fail_n, int fail_status,
    enum fail_mode mode, const char *retry_after)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);

    memset(p, 0, sizeof(*p));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(p->lfd, 0);
    ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(p->lfd, 64), 0);
    ck_assert_int_eq(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    p->target = target;
    atomic_init(&p->stop, 0);
    atomic_init(&p->fail_left, fail_n);
    p->fail_status = fail_status;
    p->fail_mode = mode;
    p->retry_after = retry_after;
    pthread_mutex_init(&p->mu, NULL);
    ck_assert_int_eq(pthread_create(&p->th, NULL, cproxy_main, p), 0);
}

static void
cproxy_stop(struct cproxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    close(p->lfd);
    pthread_mutex_destroy(&p->mu);
}

/* A copy of the records so far. */
static int
cproxy_records(struct cproxy *p, struct rec *out)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->n;
    memcpy(out, p->recs, sizeof(struct rec) * (size_t)n);
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* ---- helpers ------------------------------------------------------------ */

static tlm_client *
client_for(int port, int compression, size_t max_batch_bytes)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    /* Batches are sealed by size or by flush, never by the timer. */
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 3600000), 0);
    ck_assert_int_eq(tlm_options_set_compression(o, compression), 0);
    if (max_batch_bytes != 0)
        ck_assert_int_eq(
            tlm_options_set_max_batch_bytes(o, max_batch_bytes), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

static void
track_n(tlm_client *c, int n, const char *endpoint)
{
    for (int i = 0; i < n; i++) {
        tlm_request r = TLM_REQUEST_INIT;

        r.endpoint = endpoint;
        r.method = "POST";
        r.response_status = 200;
        r.response_time_ms = (double)(i % 100);
        r.user_id = "user-1";
        ck_assert_int_eq(tlm_track_request(c, &r), 0);
    }
}

static tlm_stats
stats_of(tlm_client *c)
{
    tlm_stats s;

    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    return s;
}

static struct rec recs[MAX_RECS];

/* ---- cases -------------------------------------------------------------- */

/* Every batch is gzip'ed and carries an Idempotency-Key; the retry of a
 * batch the proxy refused with 503 reuses its key, and the server stores
 * the events once. In the second round the server did store the first
 * attempt (only its answer was replaced by a 503): the resend has the same
 * key and the server still holds each event once. */
START_TEST(transport_retry_reuses_idempotency_key)
{
    static const enum fail_mode modes[] = {FAIL_ITSELF, FAIL_AFTER_SERVER};
    enum { N = 1200 };

    for (int m = 0; m < 2; m++) {
        tlm_test_server srv;
        struct cproxy p;
        tlm_client *c;
        tlm_stats s;
        int n, i, j, batches = 0, resent = 0;

        ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
        cproxy_start(&p, srv.port, 1, 503, modes[m], NULL);
        c = client_for(p.port, 1, 0);
        track_n(c, N, "/v1/keys");
        ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
        s = stats_of(c);
        ck_assert_uint_eq(s.sent, N);
        ck_assert_uint_ge(s.retried, 1);
        ck_assert_uint_eq(s.dropped_retries + s.dropped_http, 0);
        n = cproxy_records(&p, recs);
        ck_assert_int_ge(n, 2);
        for (i = 0; i < n; i++) {
            if (strcmp(recs[i].path, "/v1/batch") != 0)
                continue;
            batches++;
            ck_assert_str_eq(recs[i].encoding, "gzip");
            ck_assert_msg(strlen(recs[i].key) == 36,
                "request %d: Idempotency-Key '%s'", i, recs[i].key);
        }
        ck_assert_str_eq(recs[0].path, "/v1/batch");
        ck_assert_int_eq(recs[0].answered, 503);
        ck_assert_int_eq(recs[0].upstream, modes[m] == FAIL_AFTER_SERVER);
        for (i = 1; i < n; i++) {
            if (strcmp(recs[i].key, recs[0].key) == 0) {
                resent++;
                ck_assert_int_eq(recs[i].answered, 0);
                ck_assert_int_eq(recs[i].upstream, 1);
            }
        }
        ck_assert_int_eq(resent, 1);
        /* Distinct batches, distinct keys: 1200 events, 500 a batch. */
        for (i = 1; i < n; i++)
            for (j = i + 1; j < n; j++)
                ck_assert_msg(strcmp(recs[i].key, recs[j].key) != 0,
                    "requests %d and %d share key %s", i, j, recs[i].key);
        ck_assert_int_eq(batches, (int)s.requests);
        ck_assert_int_eq(tlm_test_total_events(&srv), N);
        tlm_client_free(c);
        cproxy_stop(&p);
        tlm_test_server_stop(&srv);
    }
}
END_TEST

/* 503 with Retry-After: 3600: the SDK waits (capped at an hour) instead of
 * its 500 ms-based backoff, so during a 1.5 s flush the proxy sees exactly
 * one attempt. If transport.c stopped reading CURLINFO_RETRY_AFTER, the
 * backoff (at most 500 ms before the first retry) would make a second. */
START_TEST(transport_retry_after_is_honoured)
{
    tlm_test_server srv;
    struct cproxy p;
    tlm_client *c;
    tlm_stats s;
    int n;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    cproxy_start(&p, srv.port, 1000000, 503, FAIL_ITSELF, "3600");
    c = client_for(p.port, 1, 0);
    track_n(c, 10, "/v1/later");
    ck_assert_int_eq(tlm_client_flush(c, 1500), TLM_ETIMEDOUT);
    n = cproxy_records(&p, recs);
    s = stats_of(c);
    printf("Retry-After 3600: %d attempt(s) during flush(1500), retried %llu\n",
        n, (unsigned long long)s.retried);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(recs[0].answered, 503);
    ck_assert_uint_eq(s.retried, 1);
    ck_assert_uint_eq(s.sent, 0);
    ck_assert_uint_eq(s.inflight_events + s.queue_depth, 10);
    ck_assert_int_eq(tlm_client_close(c, 200), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.dropped_shutdown + s.dropped_retries, 10);
    ck_assert_int_eq(tlm_test_total_events(&srv), 0);
    tlm_client_free(c);
    cproxy_stop(&p);
    tlm_test_server_stop(&srv);
}
END_TEST

/* Default batch size: 2000 events make exactly 4 batches of 500. */
START_TEST(transport_batches_sealed_by_count)
{
    tlm_test_server srv;
    tlm_client *c;
    tlm_stats s;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = client_for(srv.port, 1, 0);
    track_n(c, 2000, "/v1/count");
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.sent, 2000);
    ck_assert_uint_eq(s.batches, 4);
    ck_assert_uint_eq(s.requests, 4);
    ck_assert_int_eq(tlm_test_total_events(&srv), 2000);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

/* max_batch_bytes 64 KiB with ~1.2 KB events: no request body (sent
 * uncompressed, so body = JSON) exceeds the cap, and the cap is what made
 * the batches (far fewer than 500 events each). */
START_TEST(transport_batches_sealed_by_bytes)
{
    enum { N = 300, CAP = 64 * 1024 };
    tlm_test_server srv;
    struct cproxy p;
    tlm_client *c;
    tlm_stats s;
    char endpoint[1001];
    size_t largest = 0;
    int n, i, batches = 0;

    memset(endpoint, 'e', sizeof(endpoint) - 1);
    endpoint[0] = '/';
    endpoint[sizeof(endpoint) - 1] = '\0';
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    cproxy_start(&p, srv.port, 0, 0, FAIL_ITSELF, NULL);
    c = client_for(p.port, 0, CAP);
    track_n(c, N, endpoint);
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    s = stats_of(c);
    n = cproxy_records(&p, recs);
    for (i = 0; i < n; i++) {
        if (strcmp(recs[i].path, "/v1/batch") != 0)
            continue;
        batches++;
        ck_assert_str_eq(recs[i].encoding, "");
        if (recs[i].body_len > largest)
            largest = recs[i].body_len;
        ck_assert_msg(recs[i].body_len <= CAP,
            "batch %d: %zu bytes > max_batch_bytes %d", i, recs[i].body_len,
            CAP);
    }
    printf("max_batch_bytes %d: %d batches, largest %zu bytes\n", CAP, batches,
        largest);
    ck_assert_uint_eq(s.sent, N);
    ck_assert_int_eq(batches, (int)s.batches);
    /* > 300 KB of events in total: at least 5 batches. */
    ck_assert_uint_ge(s.bytes_raw, (uint64_t)N * 1000);
    ck_assert_uint_ge(s.batches, (s.bytes_raw + CAP - 1) / CAP);
    ck_assert_uint_le(s.bytes_raw, s.batches * CAP);
    ck_assert_int_eq(tlm_test_total_events(&srv), N);
    tlm_client_free(c);
    cproxy_stop(&p);
    tlm_test_server_stop(&srv);
}
END_TEST

/* A server capped at 70000 bytes a body refuses a batch holding one
 * ~100 KB event with 413: the SDK halves it until the big event is alone,
 * drops that one (dropped_oversize) and delivers the rest. */
START_TEST(transport_single_event_413_is_oversize)
{
    static const char *const cap[] = {"--max-body-bytes", "70000", NULL};
    enum { BIG = 100 * 1024 };
    tlm_test_server srv;
    tlm_client *c;
    tlm_request r = TLM_REQUEST_INIT;
    tlm_stats s;
    char *big = malloc(BIG);

    ck_assert_ptr_nonnull(big);
    memset(big, 'b', BIG - 1);
    big[0] = '/';
    big[BIG - 1] = '\0';
    ck_assert_int_eq(tlm_test_server_start(&srv, cap), 0);
    c = client_for(srv.port, 0, 0);
    track_n(c, 4, "/v1/small");
    r.endpoint = big;
    r.method = "GET";
    r.response_status = 200;
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    track_n(c, 4, "/v1/small");
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 9);
    ck_assert_uint_eq(s.dropped_oversize, 1);
    ck_assert_uint_eq(s.sent, 8);
    ck_assert_uint_eq(s.dropped_retries + s.dropped_http, 0);
    ck_assert_uint_gt(s.requests, s.batches);
    ck_assert_int_eq(tlm_test_total_events(&srv), 8);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
    free(big);
}
END_TEST

/* A batch over the server's cap but under 64 KiB goes without
 * "Expect: 100-continue", so the server answers 413 before reading the
 * body: the SDK must still get the 413 and split, not wait out its
 * transfer timeout. Several rounds, as the race is per request. */
START_TEST(transport_413_without_expect_splits)
{
    static const char *const cap[] = {"--max-body-bytes", "20000", NULL};
    enum { ROUNDS = 5, N = 600 };
    tlm_test_server srv;
    tlm_options *o;
    tlm_client *c;
    tlm_stats s;
    int r;

    ck_assert_int_eq(tlm_test_server_start(&srv, cap), 0);
    for (r = 0; r < ROUNDS; r++) {
        char url[64];

        o = tlm_options_new();
        c = NULL;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
        ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
        ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
        ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 3600000), 0);
        ck_assert_int_eq(tlm_options_set_compression(o, 0), 0);
        /* ~100 events of ~400 B: 40 KB bodies, over the cap, no Expect. */
        ck_assert_int_eq(tlm_options_set_max_batch_events(o, 100), 0);
        ck_assert_int_eq(tlm_client_new(&c, o), 0);
        tlm_options_free(o);
        track_n(c, N, "/v1/split-small");
        ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
        s = stats_of(c);
        printf("413 without Expect, round %d: %llu requests, %llu retried\n", r,
            (unsigned long long)s.requests, (unsigned long long)s.retried);
        ck_assert_uint_eq(s.sent, N);
        ck_assert_uint_eq(s.dropped_oversize, 0);
        ck_assert_uint_gt(s.requests, s.batches);
        /* The only non-2xx answer is 413, which splits: a retry means
         * the 413 was lost to a connection reset and the batch resent. */
        ck_assert_msg(s.retried == 0,
            "round %d: %llu retries: 413s lost to connection resets", r,
            (unsigned long long)s.retried);
        tlm_client_free(c);
    }
    ck_assert_int_eq(tlm_test_total_events(&srv), ROUNDS * N);
    tlm_test_server_stop(&srv);
}
END_TEST

static Suite *
transport_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("transport");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, transport_retry_reuses_idempotency_key);
    tcase_add_test(tc, transport_retry_after_is_honoured);
    tcase_add_test(tc, transport_batches_sealed_by_count);
    tcase_add_test(tc, transport_batches_sealed_by_bytes);
    tcase_add_test(tc, transport_single_event_413_is_oversize);
    tcase_add_test(tc, transport_413_without_expect_splits);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(transport_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
