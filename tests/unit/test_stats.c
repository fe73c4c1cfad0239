/*
 * test_stats.c - the client's counters and the lifecycle calls that move
 * them (lib/client.c): tlm_client_stats versioning, queue-full and opt-out
 * drops, close deadlines, argument checks, and no allocation on the
 * caller's tracking path.
 *
 * Clients point at http://127.0.0.1:1, where nothing listens: every
 * transfer fails at once and is retried, so nothing is ever sent. Their
 * flush interval is an hour, so the worker only runs when woken.
 */
#include "client.h"

#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define DEAD_ENDPOINT "http://127.0.0.1:1"

static void
clear_optout_env(void)
{
    unsetenv("DO_NOT_TRACK");
    unsetenv("TELEMETRY_OPTOUT");
}

static tlm_client *
dead_client(uint32_t queue_events)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, DEAD_ENDPOINT), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 3600000), 0);
    ck_assert_int_eq(tlm_options_set_max_queue_events(o, queue_events), 0);
    ck_assert_int_eq(tlm_options_set_shutdown_timeout_ms(o, 300), 0);
    ck_assert_int_eq(tlm_options_set_connect_timeout_ms(o, 1000), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    ck_assert_ptr_nonnull(c);
    tlm_options_free(o);
    return c;
}

static tlm_stats
stats_of(const tlm_client *c)
{
    tlm_stats s;

    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    return s;
}

/* Events that left the pipeline for good, one way or another. */
static uint64_t
settled(const tlm_stats *s)
{
    return s->sent + s->rejected + s->dropped_before_send + s->dropped_http
        + s->dropped_retries + s->dropped_oversize + s->dropped_shutdown;
}

static void
track_n(tlm_client *c, int n)
{
    int i;

    for (i = 0; i < n; i++)
        ck_assert_int_eq(
            tlm_track_request_simple(c, "/v1/things", "GET", 200, 1.5, "u"), 0);
}

START_TEST(stats_init_sets_size)
{
    tlm_stats s;

    memset(&s, 0xa5, sizeof(s));
    tlm_stats_init(&s);
    ck_assert_uint_eq(s.size, sizeof(tlm_stats));
    ck_assert_uint_eq(s.enqueued, 0);
    ck_assert_uint_eq(s.inflight_events, 0);
    tlm_stats_init(NULL);
}
END_TEST

START_TEST(stats_size_checks)
{
    tlm_client *c = dead_client(64);
    tlm_stats s;
    unsigned char *raw = (unsigned char *)&s;
    struct {
        tlm_stats s;
        uint64_t extra;
    } big;
    size_t small, i;

    track_n(c, 3);
    ck_assert_int_eq(tlm_client_stats(NULL, &s), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_stats(c, NULL), TLM_EINVAL);
    s.size = 0;
    ck_assert_int_eq(tlm_client_stats(c, &s), TLM_EINVAL);
    s.size = sizeof(size_t) + 7; /* not even `enqueued` fits */
    ck_assert_int_eq(tlm_client_stats(c, &s), TLM_EINVAL);

    /* An older caller that knew only the fields up to `rejected`. */
    small = offsetof(tlm_stats, dropped_queue_full);
    memset(&s, 0xa5, sizeof(s));
    s.size = small;
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.size, small);
    ck_assert_uint_eq(s.enqueued, 3);
    ck_assert_uint_eq(s.sent, 0);
    ck_assert_uint_eq(s.duplicates, 0);
    ck_assert_uint_eq(s.rejected, 0);
    for (i = small; i < sizeof(s); i++)
        ck_assert_msg(raw[i] == 0xa5, "byte %zu past size written", i);

    /* The smallest accepted size: just `enqueued`. */
    memset(&s, 0xa5, sizeof(s));
    s.size = sizeof(size_t) + 8;
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.enqueued, 3);
    for (i = sizeof(size_t) + 8; i < sizeof(s); i++)
        ck_assert_msg(raw[i] == 0xa5, "byte %zu past size written", i);

    /* A newer caller's larger struct: known fields filled, rest left. */
    memset(&big, 0xa5, sizeof(big));
    big.s.size = sizeof(big);
    ck_assert_int_eq(tlm_client_stats(c, &big.s), 0);
    ck_assert_uint_eq(big.s.enqueued, 3);
    ck_assert_uint_eq(big.s.dropped_shutdown, 0);
    ck_assert_uint_eq(big.extra, 0xa5a5a5a5a5a5a5a5ULL);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_enqueued_counts)
{
    tlm_client *c = dead_client(64);
    tlm_stats s;

    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 0);
    track_n(c, 5);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 5);
    ck_assert_uint_le(s.queue_depth, 5);
    ck_assert_uint_eq(s.dropped_queue_full, 0);
    ck_assert_uint_eq(s.dropped_disabled, 0);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_queue_full)
{
    tlm_client *c = dead_client(16);
    tlm_stats s;
    int rc;

    /* The worker sleeps (no wake-up before max_batch_events events, flush
     * interval one hour): the 17th event finds all 16 slots taken. */
    track_n(c, 16);
    rc = tlm_track_request_simple(c, "/v1/things", "GET", 200, 1.0, NULL);
    ck_assert_int_eq(rc, TLM_EFULL);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 16);
    ck_assert_uint_eq(s.dropped_queue_full, 1);
    ck_assert_int_eq(tlm_client_close(c, 300), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.dropped_queue_full, 1);
    ck_assert_uint_eq(settled(&s), s.enqueued);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_disabled_at_run_time)
{
    tlm_client *c = dead_client(64);
    tlm_stats s;

    ck_assert_int_eq(tlm_client_is_enabled(c), 1);
    track_n(c, 2);
    ck_assert_int_eq(tlm_client_set_enabled(c, 0), 0);
    ck_assert_int_eq(tlm_client_is_enabled(c), 0);
    ck_assert_int_eq(tlm_track_request_simple(c, "/a", "GET", 200, 1.0, NULL),
        TLM_EDISABLED);
    ck_assert_int_eq(tlm_track_request_simple(c, "/b", "GET", 200, 1.0, NULL),
        TLM_EDISABLED);
    ck_assert_int_eq(tlm_track_request_simple(c, "/c", "GET", 200, 1.0, NULL),
        TLM_EDISABLED);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 2);
    ck_assert_uint_ge(s.dropped_disabled, 3);
    /* Back on: accepted again. */
    ck_assert_int_eq(tlm_client_set_enabled(c, 1), 0);
    ck_assert_int_eq(tlm_client_is_enabled(c), 1);
    track_n(c, 1);
    (void)tlm_client_close(c, 300);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 3);
    /* Three refused at the call; every enqueued event settled, the purged
     * ones as dropped_disabled. */
    ck_assert_uint_ge(s.dropped_disabled, 3);
    ck_assert_uint_eq(settled(&s) + (s.dropped_disabled - 3), s.enqueued);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_env_optout)
{
    static const char *const vars[] = {"DO_NOT_TRACK", "TELEMETRY_OPTOUT"};
    tlm_client *c;
    tlm_stats s;
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        clear_optout_env();
        ck_assert_int_eq(setenv(vars[i], "1", 1), 0);
        c = dead_client(16);
        unsetenv(vars[i]); /* read at creation only */
        ck_assert_msg(tlm_client_is_enabled(c) == 0, "%s=1 ignored", vars[i]);
        ck_assert_int_eq(
            tlm_track_request_simple(c, "/x", "GET", 200, 1.0, NULL),
            TLM_EDISABLED);
        s = stats_of(c);
        ck_assert_uint_eq(s.enqueued, 0);
        ck_assert_uint_eq(s.dropped_disabled, 1);
        ck_assert_int_eq(tlm_client_close(c, 1000), 0);
        tlm_client_free(c);
    }
    /* "0" is not an opt-out. */
    ck_assert_int_eq(setenv("DO_NOT_TRACK", "0", 1), 0);
    c = dead_client(16);
    clear_optout_env();
    ck_assert_int_eq(tlm_client_is_enabled(c), 1);
    track_n(c, 1);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_disabled_by_option)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, DEAD_ENDPOINT), 0);
    ck_assert_int_eq(tlm_options_set_enabled(o, 0), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    ck_assert_int_eq(tlm_client_is_enabled(c), 0);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/x", NULL, 0, 0.0, NULL), TLM_EDISABLED);
    ck_assert_uint_eq(stats_of(c).dropped_disabled, 1);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_close_deadline_counts_shutdown)
{
    tlm_client *c = dead_client(64);
    tlm_stats s;

    track_n(c, 10);
    /* Nothing can be delivered: close gives up at its deadline. */
    ck_assert_int_eq(tlm_client_close(c, 300), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 10);
    ck_assert_uint_eq(s.sent, 0);
    ck_assert_uint_eq(s.dropped_shutdown, 10);
    ck_assert_uint_eq(settled(&s), s.enqueued);
    ck_assert_uint_eq(s.queue_depth, 0);
    ck_assert_uint_eq(s.inflight_events, 0);
    ck_assert_uint_ge(s.requests, 1); /* it did try */
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_flush_does_not_drop)
{
    tlm_client *c = dead_client(64);
    tlm_stats s;

    track_n(c, 3);
    ck_assert_int_eq(tlm_client_flush(c, 200), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 3);
    ck_assert_uint_eq(settled(&s), 0);
    ck_assert_int_eq(tlm_client_close(c, 200), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.dropped_shutdown, 3);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_close_empty)
{
    tlm_client *c = dead_client(16);
    tlm_stats s;

    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 0);
    ck_assert_uint_eq(settled(&s), 0);
    ck_assert_uint_eq(s.requests, 0);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_closed_client)
{
    tlm_client *c = dead_client(16);
    tlm_request r = TLM_REQUEST_INIT;
    tlm_stats s;

    track_n(c, 2);
    (void)tlm_client_close(c, 200);
    ck_assert_int_eq(tlm_client_close(c, 200), TLM_ECLOSED);
    r.endpoint = "/after";
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_ECLOSED);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/after", "GET", 200, 1.0, NULL),
        TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_flush(c, 100), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_set_enabled(c, 1), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_is_enabled(c), 0);
    /* Still readable; the refused calls changed nothing. */
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 2);
    ck_assert_uint_eq(settled(&s), 2);
    ck_assert_uint_eq(s.dropped_disabled, 0);
    ck_assert_uint_eq(s.dropped_queue_full, 0);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_invalid_requests)
{
    tlm_client *c = dead_client(16);
    tlm_request r;
    tlm_stats s;
    static const double bad_ms[] = {-1.0, -1e-9, -INFINITY, NAN, INFINITY};
    size_t i;

    tlm_request_init(&r);
    ck_assert_uint_eq(r.size, sizeof(tlm_request));
    ck_assert_ptr_null(r.endpoint);
    r.endpoint = "/v1/ok";
    ck_assert_int_eq(tlm_track_request(NULL, &r), TLM_EINVAL);
    ck_assert_int_eq(tlm_track_request(c, NULL), TLM_EINVAL);
    r.size = sizeof(tlm_request) - 1;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.size = 0;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.size = sizeof(tlm_request) + 8;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.size = sizeof(tlm_request);
    r.endpoint = NULL;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.endpoint = "";
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.endpoint = "/v1/ok";
    for (i = 0; i < sizeof(bad_ms) / sizeof(bad_ms[0]); i++) {
        r.response_time_ms = bad_ms[i];
        ck_assert_msg(tlm_track_request(c, &r) == TLM_EINVAL,
            "latency %g accepted", bad_ms[i]);
    }
    ck_assert_int_eq(
        tlm_track_request_simple(c, NULL, "GET", 200, 1.0, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/x", "GET", 200, -5.0, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_track_request_simple(NULL, "/x", "GET", 200, 1.0, NULL),
        TLM_EINVAL);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 0);
    ck_assert_uint_eq(s.dropped_queue_full + s.dropped_disabled, 0);
    /* The boundary values are fine. */
    r.response_time_ms = 0.0;
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    ck_assert_uint_eq(stats_of(c).enqueued, 1);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_null_client_calls)
{
    tlm_client *c = (tlm_client *)1;

    ck_assert_int_eq(tlm_client_new(NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_flush(NULL, 10), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_close(NULL, 10), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_set_enabled(NULL, 1), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_is_enabled(NULL), 0);
    tlm_client_free(NULL);
    /* Default options (NULL): a usable client. */
    ck_assert_int_eq(tlm_client_new(&c, NULL), 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tlm_client_is_enabled(c), 1);
    ck_assert_int_eq(tlm_client_close(c, 2000), 0);
    tlm_client_free(c);
}
END_TEST

START_TEST(stats_overflow_event_counted)
{
    tlm_client *c = dead_client(16);
    char big[1024];
    tlm_request r = TLM_REQUEST_INIT;
    tlm_stats s;

    /* Strings beyond the inline slot take the allocating path. */
    memset(big, 'x', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    r.endpoint = big;
    r.user_id = big;
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    ck_assert_int_eq(tlm_client_close(c, 200), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 1);
    ck_assert_uint_eq(settled(&s), 1);
    tlm_client_free(c);
}
END_TEST

/* ---- allocations on the caller thread --------------------------------- */

/* Counts the client's allocations made while the current thread has
 * `counting` set: the caller thread inside tlm_track_*, never the worker. */
static _Thread_local int counting;
static atomic_long caller_allocs;

static void *
count_malloc(size_t n, void *ud)
{
    (void)ud;
    if (counting)
        atomic_fetch_add(&caller_allocs, 1);
    return malloc(n);
}

static void *
count_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    if (counting)
        atomic_fetch_add(&caller_allocs, 1);
    return realloc(p, n);
}

static void
count_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static tlm_client *
counted_client(void)
{
    tlm_allocator a = {
        sizeof(tlm_allocator), count_malloc, count_realloc, count_free, NULL};
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, DEAD_ENDPOINT), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 3600000), 0);
    ck_assert_int_eq(tlm_options_set_max_queue_events(o, 8192), 0);
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    atomic_store(&caller_allocs, 0);
    return c;
}

/* A request whose six strings take exactly `total` bytes of the slot,
 * terminators included (the endpoint is padded to get there). */
static void
request_of_size(tlm_request *r, char *endpoint, size_t total)
{
    static const char method[] = "PATCH", user[] = "user-123", org[] = "org-9",
                      tier[] = "pro", details[] = "{\"retry_count\":1}";
    size_t fixed = sizeof(method) + sizeof(user) + sizeof(org) + sizeof(tier)
        + sizeof(details);
    size_t n = total - fixed - 1; /* endpoint length without its NUL */

    memset(endpoint, 'p', n);
    endpoint[0] = '/';
    endpoint[n] = '\0';
    tlm_request_init(r);
    r->endpoint = endpoint;
    r->method = method;
    r->response_status = 200;
    r->response_time_ms = 3.0;
    r->user_id = user;
    r->organization_id = org;
    r->access_tier = tier;
    r->request_details = details;
}

/* The common path: strings that fit the 192-byte inline slot (up to the
 * last byte) cost no allocation on the calling thread, first call
 * included. */
START_TEST(stats_track_does_not_allocate)
{
    enum { N = 2000 };
    tlm_client *c = counted_client();
    char endpoint[256];
    tlm_request small, full;
    long allocs;
    int i;

    request_of_size(&small, endpoint, 64);
    counting = 1;
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(tlm_track_request(c, &small), 0);
        ck_assert_int_eq(tlm_track_request_simple(
                             c, "/v1/simple", "GET", 200, (double)i, "user-7"),
            0);
    }
    counting = 0;
    allocs = atomic_load(&caller_allocs);
    ck_assert_int_eq(allocs, 0);

    request_of_size(&full, endpoint, 192);
    counting = 1;
    for (i = 0; i < N; i++)
        ck_assert_int_eq(tlm_track_request(c, &full), 0);
    counting = 0;
    allocs = atomic_load(&caller_allocs);
    ck_assert_int_eq(allocs, 0);
    ck_assert_uint_eq(stats_of(c).enqueued, 3 * N);
    tlm_client_free(c);
}
END_TEST

/* The documented spill: one byte over the slot takes one allocation per
 * event, through the client's allocator. */
START_TEST(stats_track_spill_allocates)
{
    enum { N = 100 };
    tlm_client *c = counted_client();
    char endpoint[256];
    tlm_request r;
    long allocs;
    int i;

    request_of_size(&r, endpoint, 193);
    counting = 1;
    for (i = 0; i < N; i++)
        ck_assert_int_eq(tlm_track_request(c, &r), 0);
    counting = 0;
    allocs = atomic_load(&caller_allocs);
    ck_assert_int_eq(allocs, N);
    ck_assert_uint_eq(stats_of(c).enqueued, N);
    tlm_client_free(c);
}
END_TEST

static Suite *
stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, clear_optout_env, NULL);
    tcase_add_test(tc, stats_init_sets_size);
    tcase_add_test(tc, stats_size_checks);
    tcase_add_test(tc, stats_enqueued_counts);
    tcase_add_test(tc, stats_queue_full);
    tcase_add_test(tc, stats_disabled_at_run_time);
    tcase_add_test(tc, stats_env_optout);
    tcase_add_test(tc, stats_disabled_by_option);
    tcase_add_test(tc, stats_close_deadline_counts_shutdown);
    tcase_add_test(tc, stats_flush_does_not_drop);
    tcase_add_test(tc, stats_close_empty);
    tcase_add_test(tc, stats_closed_client);
    tcase_add_test(tc, stats_invalid_requests);
    tcase_add_test(tc, stats_null_client_calls);
    tcase_add_test(tc, stats_overflow_event_counted);
    tcase_add_test(tc, stats_track_does_not_allocate);
    tcase_add_test(tc, stats_track_spill_allocates);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(stats_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
