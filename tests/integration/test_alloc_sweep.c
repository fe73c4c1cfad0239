/*
 * test_alloc_sweep.c - fails allocation number i, for every i, along client
 * creation, tracking, batching, delivery and close (curl's torture test,
 * SQLite's fault simulation), against the real telemetry-server.
 *
 * Each failure must surface as TLM_ENOMEM or a counted drop, never as a
 * crash, a hang, a lost-but-uncounted event or a leak.
 */
#include "../unit/rm_rf.h"
#include "fixture.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <telemetry.h>
#include <unistd.h>

struct torture {
    atomic_long count; /* allocations so far */
    long fail_at; /* 1-based allocation to fail; 0: none */
    atomic_long live; /* allocated and not freed */
    atomic_int failed; /* the failure was injected */
};

/* Each block carries a header so free can count without a lookup. */
#define HDR 16

static void *
t_malloc(size_t n, void *ud)
{
    struct torture *t = ud;
    long k = atomic_fetch_add(&t->count, 1) + 1;
    char *p;

    if (k == t->fail_at) {
        atomic_store(&t->failed, 1);
        if (getenv("TLM_SWEEP_VERBOSE")) {
            void *frames[16];
            backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
        }
        return NULL;
    }
    p = malloc(n + HDR);
    if (p == NULL)
        return NULL;
    atomic_fetch_add(&t->live, 1);
    return p + HDR;
}

static void
t_free(void *ptr, void *ud)
{
    struct torture *t = ud;

    if (ptr == NULL)
        return;
    atomic_fetch_sub(&t->live, 1);
    free((char *)ptr - HDR);
}

static void *
t_realloc(void *ptr, size_t n, void *ud)
{
    struct torture *t = ud;
    long k;
    char *p;

    if (ptr == NULL)
        return t_malloc(n, ud);
    k = atomic_fetch_add(&t->count, 1) + 1;
    if (k == t->fail_at) {
        atomic_store(&t->failed, 1);
        return NULL; /* the old block stays valid, as realloc promises */
    }
    p = realloc((char *)ptr - HDR, n + HDR);
    return p ? p + HDR : NULL;
}

#define EVENTS 24

static char long_details[1024];

/* One life of a client under allocation failure number `fail_at`.
 * Returns the number of events the server acknowledged. */
static uint64_t
one_life(const char *url, long fail_at, int *injected)
{
    struct torture t = {0};
    tlm_allocator a = {sizeof(a), t_malloc, t_realloc, t_free, &t};
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    tlm_stats s;
    uint64_t settled;
    int i, rc, queued = 0;

    t.fail_at = fail_at;
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_max_batch_events(o, 8), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 20), 0);
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), 0);
    rc = tlm_client_new(&c, o);
    tlm_options_free(o);
    if (rc != 0) {
        ck_assert_int_eq(rc, TLM_ENOMEM);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(atomic_load(&t.live), 0);
        *injected = atomic_load(&t.failed);
        return 0;
    }
    for (i = 0; i < EVENTS; i++) {
        tlm_request r = TLM_REQUEST_INIT;
        r.endpoint = "/v1/sweep";
        r.response_status = 200;
        r.response_time_ms = i;
        /* Every third event spills out of its slot: an allocation on the
         * caller's thread. */
        r.request_details = i % 3 == 0 ? long_details : "{\"k\":1}";
        rc = tlm_track_request(c, &r);
        ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "track: %d", rc);
        queued += rc == 0;
    }
    rc = tlm_client_close(c, 10000);
    ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "close: %d", rc);
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.enqueued, EVENTS);
    /* Every event has exactly one fate. */
    settled = s.sent + s.rejected + s.dropped_before_send + s.dropped_http
        + s.dropped_retries + s.dropped_oversize + s.dropped_shutdown
        + s.dropped_nomem;
    ck_assert_uint_eq(settled, s.enqueued);
    ck_assert_uint_eq(s.rejected + s.dropped_http + s.dropped_oversize, 0);
    ck_assert_uint_ge(s.dropped_nomem, (uint64_t)(EVENTS - queued));
    tlm_client_free(c);
    ck_assert_int_eq(atomic_load(&t.live), 0);
    *injected = atomic_load(&t.failed);
    return s.sent;
}

/* One client life capturing errors (a given stack with PII, a captured
 * stack, a request with its error) with allocation fail_at failing:
 * every call returns 0 or a clean error, every error has one fate, and
 * nothing leaks. Returns the errors the server acknowledged. */
static uint64_t
one_error_life(const char *url, long fail_at, int *injected)
{
    struct torture t = {0};
    tlm_allocator a = {sizeof(a), t_malloc, t_realloc, t_free, &t};
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    tlm_stats s;
    int rc, ok = 0;

    t.fail_at = fail_at;
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 20), 0);
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), 0);
    rc = tlm_client_new(&c, o);
    tlm_options_free(o);
    if (rc != 0) {
        ck_assert_int_eq(rc, TLM_ENOMEM);
        ck_assert_int_eq(atomic_load(&t.live), 0);
        *injected = atomic_load(&t.failed);
        return 0;
    }
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    e.endpoint = "/v1/sweep";
    e.error_code = "E_SWEEP";
    e.error_message = "failed for alice@example.com after 3 tries";
    e.stack_trace = "#0 0x55d1c3a2b1c9 in fetch /home/alice/src/c.c:42:7\n"
                    "#1 0x55d1c3a2b200 in main /home/alice/src/m.c:9:1\n";
    rc = tlm_capture_error(c, &e);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "capture: %d", rc);
    ok += rc == 0;
    e.stack_trace = NULL;
    e.capture_stack = 1;
    rc = tlm_capture_error(c, &e);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "capture stack: %d", rc);
    ok += rc == 0;
    tlm_request r = TLM_REQUEST_INIT;
    r.endpoint = "/v1/sweep";
    r.response_status = 503;
    rc = tlm_track_request_error(c, &r, &e);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "request+error: %d", rc);
    ok += rc == 0;
    rc = tlm_client_close(c, 10000);
    ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "close: %d", rc);
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    /* Every call that said 0 was captured; the worker may still drop one
     * it cannot encode (counted in errors_dropped too). */
    ck_assert_uint_eq(s.errors_captured, (uint64_t)ok);
    ck_assert_uint_ge(s.errors_captured + s.errors_dropped, 3);
    ck_assert_uint_eq(s.errors_pending, 0);
    ck_assert_uint_le(s.errors_sent, s.errors_captured);
    tlm_client_free(c);
    ck_assert_int_eq(atomic_load(&t.live), 0);
    *injected = atomic_load(&t.failed);
    return s.errors_sent;
}

START_TEST(alloc_sweep_error_capture)
{
    tlm_test_server srv;
    uint64_t sent = 0;
    long i;
    int injected = 1;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    for (i = 1; injected && i < 5000; i++)
        sent += one_error_life(srv.url, i, &injected);
    printf("error allocation sweep: %ld allocations per life, %llu errors "
           "delivered\n",
        i - 2, (unsigned long long)sent);
    ck_assert_int_eq(injected, 0);
    ck_assert_uint_gt(sent, 0);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(alloc_sweep_every_allocation)
{
    tlm_test_server srv;
    uint64_t sent = 0;
    long i;
    int injected = 1;

    memset(long_details, 0, sizeof(long_details));
    memcpy(long_details, "{\"pad\":\"", 8);
    memset(long_details + 8, 'x', 400);
    memcpy(long_details + 408, "\"}", 3);
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    /* Until an iteration runs with no failure left to inject. */
    i = getenv("TLM_SWEEP_FROM") ? strtol(getenv("TLM_SWEEP_FROM"), NULL, 10)
                                 : 1;
    for (; injected && i < 5000; i++) {
        if (getenv("TLM_SWEEP_VERBOSE"))
            fprintf(stderr, "sweep: failing allocation %ld\n", i);
        sent += one_life(srv.url, i, &injected);
    }
    printf("allocation sweep: %ld allocations per life, %llu events "
           "delivered\n",
        i - 2, (unsigned long long)sent);
    ck_assert_int_eq(injected, 0);
    ck_assert_int_gt(i, 20);
    /* The server saw each delivered event exactly once. */
    ck_assert_int_eq(tlm_test_total_events(&srv), (long)sent);
    tlm_test_server_stop(&srv);
}
END_TEST

/* Every enqueued request event has exactly one fate once the client is
 * closed (spool_kept: left on disk for the next process). */
static void
assert_one_fate(const tlm_stats *s)
{
    uint64_t settled = s->sent + s->rejected + s->dropped_before_send
        + s->dropped_http + s->dropped_retries + s->dropped_oversize
        + s->dropped_shutdown + s->dropped_nomem + s->dropped_disabled
        + s->dropped_consent + s->spool_kept + s->dropped_spool_full;

    ck_assert_msg(settled == s->enqueued,
        "enqueued %llu, settled %llu (sent %llu, nomem %llu, retries %llu, "
        "shutdown %llu, spool_kept %llu, consent %llu)",
        (unsigned long long)s->enqueued, (unsigned long long)settled,
        (unsigned long long)s->sent, (unsigned long long)s->dropped_nomem,
        (unsigned long long)s->dropped_retries,
        (unsigned long long)s->dropped_shutdown,
        (unsigned long long)s->spool_kept,
        (unsigned long long)s->dropped_consent);
    ck_assert_uint_eq(s->queue_depth, 0);
    ck_assert_uint_eq(s->inflight_events, 0);
}

static void
make_dir(char *out, size_t n)
{
    const char *t = getenv("TMPDIR");

    snprintf(out, n, "%s/tlm-sweep-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

/* A client of the torture allocator `t` on url; NULL (and *rc) when
 * creation failed, which must be TLM_ENOMEM with nothing left allocated.
 * `extra` sets more options first (may be NULL). */
static tlm_client *
torture_client(const char *url, struct torture *t, tlm_allocator *a,
    void (*extra)(tlm_options *, const void *), const void *arg, int *rc)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    a->size = sizeof(*a);
    a->malloc_fn = t_malloc;
    a->realloc_fn = t_realloc;
    a->free_fn = t_free;
    a->userdata = t;
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 20), 0);
    ck_assert_int_eq(tlm_options_set_max_batch_events(o, 8), 0);
    if (extra != NULL)
        extra(o, arg);
    ck_assert_int_eq(tlm_options_set_allocator(o, a), 0);
    *rc = tlm_client_new(&c, o);
    tlm_options_free(o);
    if (*rc != 0) {
        ck_assert_int_eq(*rc, TLM_ENOMEM);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(atomic_load(&t->live), 0);
    }
    return c;
}

/* ---- feedback and feature requests ------------------------------------ */

struct answers {
    atomic_int calls; /* callbacks run */
    atomic_int bad; /* callbacks with an rc no allocation failure explains */
    atomic_int last_bad;
};

static void
count_answer(int rc, const tlm_response *r, void *ud)
{
    struct answers *n = ud;

    (void)r;
    /* A live server answers 2xx; a failed allocation is TLM_ENOMEM. A
     * request the worker could not build or a transfer that libcurl
     * could not set up is retried and may run out (TLM_EUNAVAILABLE). */
    if (rc != 0 && rc != TLM_ENOMEM && rc != TLM_EUNAVAILABLE) {
        atomic_fetch_add(&n->bad, 1);
        atomic_store(&n->last_bad, rc);
    }
    atomic_fetch_add(&n->calls, 1);
}

static char feature_id[160]; /* made before the sweep, voted for in it */

/* One client life submitting, listing and voting with allocation fail_at
 * failing: every call returns 0 or TLM_ENOMEM, every accepted async call
 * is answered exactly once, and nothing leaks. Returns the calls that
 * succeeded end to end. */
static uint64_t
one_feature_life(const char *url, long fail_at, int *injected)
{
    struct torture t = {0};
    struct answers n;
    tlm_allocator a;
    tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
    tlm_feature_query q = TLM_FEATURE_QUERY_INIT;
    tlm_reply reply;
    tlm_client *c;
    uint64_t ok = 0;
    int rc, accepted = 0;

    memset(&n, 0, sizeof(n));
    t.fail_at = fail_at;
    c = torture_client(url, &t, &a, NULL, NULL, &rc);
    if (c == NULL) {
        *injected = atomic_load(&t.failed);
        return 0;
    }
    fr.title = "Export as CSV";
    fr.description = "mail me at alice@example.com";
    fr.user_id = "u-sweep";
    tlm_reply_init(&reply);
    rc = tlm_feature_request_submit_wait(c, &fr, 10000, &reply);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM || rc == TLM_EUNAVAILABLE,
        "submit_wait: %d (%s)", rc, tlm_strerror(rc));
    if (rc == 0) {
        /* 200: an attempt whose answer was lost to the failure created
         * it, and the retry (same Idempotency-Key) was a replay. */
        ck_assert_msg(reply.status == 201 || reply.status == 200,
            "submit_wait: status %d", reply.status);
        ck_assert_ptr_nonnull(reply.id);
        ok++;
    }
    tlm_reply_free(&reply);
    rc = tlm_feature_request_submit(c, &fr, count_answer, &n);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "submit: %d", rc);
    accepted += rc == 0;
    q.sort = "votes";
    q.limit = 5;
    rc = tlm_feature_requests_list(c, &q, count_answer, &n);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "list: %d", rc);
    accepted += rc == 0;
    rc = tlm_feature_request_vote(c, feature_id, "u-sweep", count_answer, &n);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "vote: %d", rc);
    accepted += rc == 0;
    tlm_reply_init(&reply);
    rc = tlm_feature_requests_list_wait(c, NULL, 10000, &reply);
    ck_assert_msg(rc == 0 || rc == TLM_ENOMEM || rc == TLM_EUNAVAILABLE,
        "list_wait: %d", rc);
    if (rc == 0) {
        ck_assert_int_eq(reply.status, 200);
        ck_assert_ptr_nonnull(reply.body);
        ok++;
    }
    tlm_reply_free(&reply);
    rc = tlm_client_close(c, 10000);
    ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "close: %d", rc);
    ck_assert_int_eq(atomic_load(&n.calls), accepted);
    ck_assert_msg(atomic_load(&n.bad) == 0, "a callback got rc %d (%s)",
        atomic_load(&n.last_bad), tlm_strerror(atomic_load(&n.last_bad)));
    tlm_client_free(c);
    ck_assert_int_eq(atomic_load(&t.live), 0);
    *injected = atomic_load(&t.failed);
    return ok;
}

START_TEST(alloc_sweep_feature_requests)
{
    tlm_test_server srv;
    tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
    tlm_reply reply;
    tlm_client *c = NULL;
    tlm_options *o = tlm_options_new();
    uint64_t ok = 0;
    long i;
    int injected = 1;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    /* One feature request to vote for, made without failures. */
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, srv.url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    fr.title = "Vote target";
    tlm_reply_init(&reply);
    ck_assert_int_eq(tlm_feature_request_submit_wait(c, &fr, 10000, &reply), 0);
    ck_assert_ptr_nonnull(reply.id);
    snprintf(feature_id, sizeof(feature_id), "%s", reply.id);
    tlm_reply_free(&reply);
    tlm_client_free(c);

    for (i = 1; injected && i < 5000; i++) {
        if (getenv("TLM_SWEEP_VERBOSE"))
            fprintf(stderr, "feature sweep: failing allocation %ld\n", i);
        ok += one_feature_life(srv.url, i, &injected);
    }
    printf("feature-request allocation sweep: %ld allocations per life, "
           "%llu calls answered\n",
        i - 2, (unsigned long long)ok);
    ck_assert_int_eq(injected, 0);
    ck_assert_uint_gt(ok, 0);
    tlm_test_server_stop(&srv);
}
END_TEST

/* ---- the spool -------------------------------------------------------- */

#define SPOOL_EVENTS 20

static void
spool_options(tlm_options *o, const void *dir)
{
    ck_assert_int_eq(tlm_options_set_spool_dir(o, dir), 0);
    ck_assert_int_eq(tlm_options_set_max_retries(o, 1), 0);
    ck_assert_int_eq(tlm_options_set_connect_timeout_ms(o, 200), 0);
}

/* One life of a spooling client whose endpoint is down (batches go to
 * disk, then stay there), with allocation fail_at failing; then a second
 * client, without failures, sends what the first left to the live server.
 * Every event has one fate in the first life; what it kept is delivered
 * exactly once by the second. Returns the events the second delivered. */
static uint64_t
one_spool_life(
    const char *dead, const tlm_test_server *srv, long fail_at, int *injected)
{
    struct torture t = {0};
    tlm_allocator a;
    char dir[256];
    tlm_client *c;
    tlm_options *o;
    tlm_stats s, r;
    long before;
    int i, rc, queued = 0;

    make_dir(dir, sizeof(dir));
    t.fail_at = fail_at;
    c = torture_client(dead, &t, &a, spool_options, dir, &rc);
    if (c == NULL) {
        *injected = atomic_load(&t.failed);
        rm_rf(dir);
        return 0;
    }
    for (i = 0; i < SPOOL_EVENTS; i++) {
        tlm_request req = TLM_REQUEST_INIT;
        req.endpoint = "/v1/spool";
        req.response_status = 200;
        req.request_details = i % 4 == 0 ? long_details : NULL;
        rc = tlm_track_request(c, &req);
        ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "track: %d", rc);
        queued += rc == 0;
    }
    rc = tlm_client_flush(c, 3000);
    ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "flush: %d", rc);
    rc = tlm_client_close(c, 3000);
    ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "close: %d", rc);
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.enqueued, SPOOL_EVENTS);
    ck_assert_uint_eq(s.sent, 0);
    assert_one_fate(&s);
    ck_assert_uint_ge(s.dropped_nomem, (uint64_t)(SPOOL_EVENTS - queued));
    tlm_client_free(c);
    ck_assert_int_eq(atomic_load(&t.live), 0);
    *injected = atomic_load(&t.failed);

    /* The next process (a new client) delivers what was kept, once. */
    before = tlm_test_total_events(srv);
    o = tlm_options_new();
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, srv->url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_spool_dir(o, dir), 0);
    c = NULL;
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    ck_assert_int_eq(tlm_client_close(c, 10000), 0);
    tlm_stats_init(&r);
    ck_assert_int_eq(tlm_client_stats(c, &r), 0);
    tlm_client_free(c);
    ck_assert_uint_eq(r.replayed, s.spool_kept);
    ck_assert_uint_eq(r.sent, s.spool_kept);
    ck_assert_int_eq(tlm_test_total_events(srv) - before, (long)s.spool_kept);
    rm_rf(dir);
    return r.sent;
}

START_TEST(alloc_sweep_spool)
{
    tlm_test_server srv;
    char dead[64];
    uint64_t delivered = 0;
    long i;
    int injected = 1;

    memset(long_details, 0, sizeof(long_details));
    memcpy(long_details, "{\"pad\":\"", 8);
    memset(long_details + 8, 'x', 400);
    memcpy(long_details + 408, "\"}", 3);
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    for (i = 1; injected && i < 5000; i++) {
        if (getenv("TLM_SWEEP_VERBOSE"))
            fprintf(stderr, "spool sweep: failing allocation %ld\n", i);
        delivered += one_spool_life(dead, &srv, i, &injected);
    }
    printf("spool allocation sweep: %ld allocations per life, %llu events "
           "delivered from the spool\n",
        i - 2, (unsigned long long)delivered);
    ck_assert_int_eq(injected, 0);
    ck_assert_uint_gt(delivered, 0);
    tlm_test_server_stop(&srv);
}
END_TEST

/* ---- consent and the state directory ---------------------------------- */

static void
consent_options(tlm_options *o, const void *dir)
{
    ck_assert_int_eq(tlm_options_set_state_dir(o, dir), 0);
    ck_assert_int_eq(tlm_options_set_require_consent(o, 1), 0);
}

/* One life with consent required and the salt and decision kept in a
 * state directory: events wait for consent, are released by GIVEN and
 * purged by REVOKED, with allocation fail_at failing. */
static uint64_t
one_consent_life(const char *url, long fail_at, int *injected)
{
    struct torture t = {0};
    tlm_allocator a;
    char dir[256], state[300];
    tlm_client *c;
    tlm_stats s;
    int i, rc, queued = 0, refused = 0;

    make_dir(dir, sizeof(dir));
    snprintf(state, sizeof(state), "%s/state", dir);
    t.fail_at = fail_at;
    c = torture_client(url, &t, &a, consent_options, state, &rc);
    if (c == NULL) {
        *injected = atomic_load(&t.failed);
        rm_rf(dir);
        return 0;
    }
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_UNKNOWN);
    for (i = 0; i < 12; i++) {
        tlm_request req = TLM_REQUEST_INIT;
        req.endpoint = "/v1/consent";
        req.user_id = "alice";
        req.request_details = i % 3 == 0 ? long_details : NULL;
        if (i == 4) {
            /* What waited is released. */
            ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_GIVEN), 0);
            ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_GIVEN);
        }
        if (i == 8) {
            rc = tlm_client_flush(c, 5000);
            ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "flush: %d", rc);
            ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_REVOKED), 0);
        }
        rc = tlm_track_request(c, &req);
        if (i >= 8) {
            ck_assert_int_eq(rc, TLM_EDISABLED);
            refused++;
            continue;
        }
        ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "track: %d", rc);
        queued += rc == 0;
    }
    rc = tlm_client_close(c, 10000);
    ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "close: %d", rc);
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.enqueued, 8);
    /* Calls refused while revoked count in dropped_consent, not enqueued. */
    ck_assert_uint_ge(s.dropped_consent, (uint64_t)refused);
    s.dropped_consent -= (uint64_t)refused;
    assert_one_fate(&s);
    ck_assert_uint_ge(s.dropped_nomem, (uint64_t)(8 - queued));
    tlm_client_free(c);
    ck_assert_int_eq(atomic_load(&t.live), 0);
    *injected = atomic_load(&t.failed);
    rm_rf(dir);
    return s.sent;
}

START_TEST(alloc_sweep_consent_state)
{
    tlm_test_server srv;
    uint64_t sent = 0;
    long i;
    int injected = 1;

    memset(long_details, 0, sizeof(long_details));
    memcpy(long_details, "{\"pad\":\"", 8);
    memset(long_details + 8, 'x', 400);
    memcpy(long_details + 408, "\"}", 3);
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    for (i = 1; injected && i < 5000; i++) {
        if (getenv("TLM_SWEEP_VERBOSE"))
            fprintf(stderr, "consent sweep: failing allocation %ld\n", i);
        sent += one_consent_life(srv.url, i, &injected);
    }
    printf("consent allocation sweep: %ld allocations per life, %llu events "
           "delivered\n",
        i - 2, (unsigned long long)sent);
    ck_assert_int_eq(injected, 0);
    ck_assert_uint_gt(sent, 0);
    tlm_test_server_stop(&srv);
}
END_TEST

/* One case per path, so that CK_RUN_CASE=<name> runs one sweep. */
static void
add_sweep(Suite *s, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

int
main(void)
{
    Suite *s = suite_create("alloc_sweep");
    SRunner *sr;
    int failed;

    add_sweep(s, "requests", alloc_sweep_every_allocation);
    add_sweep(s, "errors", alloc_sweep_error_capture);
    add_sweep(s, "feature_requests", alloc_sweep_feature_requests);
    add_sweep(s, "spool", alloc_sweep_spool);
    add_sweep(s, "consent", alloc_sweep_consent_state);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
