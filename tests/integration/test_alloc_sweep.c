/*
 * test_alloc_sweep.c - fails allocation number i, for every i, along client
 * creation, tracking, batching, delivery and close (curl's torture test,
 * SQLite's fault simulation), against the real telemetry-server.
 *
 * Each failure must surface as TLM_ENOMEM or a counted drop, never as a
 * crash, a hang, a lost-but-uncounted event or a leak.
 */
#include "fixture.h"

#include <check.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <telemetry.h>

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

int
main(void)
{
    Suite *s = suite_create("alloc_sweep");
    TCase *tc = tcase_create("sweep");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, alloc_sweep_every_allocation);
    tcase_add_test(tc, alloc_sweep_error_capture);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
