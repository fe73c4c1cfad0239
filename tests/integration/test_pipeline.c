/*
 * test_pipeline.c - the SDK end to end against the real telemetry-server
 * on loopback: delivery exactly once, retries, 413 splits, deadlines.
 *
 * Each case starts its own server on a fresh SQLite file. No time bound is
 * asserted; a call that never returns fails its case by name (alarm()) or
 * by the case timeout.
 */
#include "fixture.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <telemetry.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static tlm_client *
make_client(const char *url, const char *key, int compression)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    if (key != NULL)
        ck_assert_int_eq(tlm_options_set_api_key(o, key), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 50), 0);
    ck_assert_int_eq(tlm_options_set_compression(o, compression), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

static void
track_n(tlm_client *c, int n, const char *endpoint)
{
    int i;

    for (i = 0; i < n; i++) {
        tlm_request r = TLM_REQUEST_INIT;
        r.endpoint = endpoint;
        r.method = "GET";
        r.response_status = i % 50 == 0 ? 503 : 200;
        r.response_time_ms = (double)(i % 300);
        r.user_id = "user-1";
        r.organization_id = "org-1";
        r.access_tier = "pro";
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

struct producer {
    tlm_client *c;
    int n;
    char endpoint[64];
};

static void *
produce(void *arg)
{
    struct producer *p = arg;

    track_n(p->c, p->n, p->endpoint);
    return NULL;
}

START_TEST(pipeline_four_threads_exactly_once)
{
    tlm_test_server srv;
    struct producer p[4];
    pthread_t t[4];
    tlm_client *c;
    tlm_stats s;
    int i;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = make_client(srv.url, TLM_TEST_API_KEY, 1);
    for (i = 0; i < 4; i++) {
        p[i].c = c;
        p[i].n = 5000;
        snprintf(p[i].endpoint, sizeof(p[i].endpoint), "/v1/thread/%d", i);
        ck_assert_int_eq(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    }
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(tlm_client_flush(c, 30000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 20000);
    ck_assert_uint_eq(s.sent, 20000);
    ck_assert_uint_eq(s.duplicates, 0);
    ck_assert_uint_eq(s.rejected, 0);
    ck_assert_uint_eq(s.dropped_queue_full, 0);
    ck_assert_uint_gt(s.bytes_raw, s.bytes_compressed);
    ck_assert_int_eq(tlm_test_total_events(&srv), 20000);
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(pipeline_events_stored_verbatim)
{
    tlm_test_server srv;
    tlm_client *c;
    tlm_request r = TLM_REQUEST_INIT;
    cJSON *list, *items, *ev, *details, *info;
    struct utsname u;
    long status = 0;
    tlm_options *o = tlm_options_new();

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    /* Raw ids, so that the stored text can be compared byte for byte. */
    ck_assert_int_eq(tlm_options_set_endpoint(o, srv.url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_anonymization(o, 0, 1), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    r.endpoint = "/v1/users/{id}";
    r.method = "PATCH";
    r.response_status = 404;
    r.response_time_ms = 12.5;
    r.user_id = "user-\"quoted\"-\xc3\xa9";
    r.organization_id = "org-9";
    r.request_details
        = "{\"retry_count\": 2, \"content_type\": \"json\", \"x\": 1}";
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    list = tlm_test_get_json(&srv, "/admin/events?limit=10", &status);
    ck_assert_int_eq(status, 200);
    items = cJSON_GetObjectItemCaseSensitive(list, "items");
    ck_assert_int_eq(cJSON_GetArraySize(items), 1);
    ev = cJSON_GetArrayItem(items, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(ev, "type")->valuestring, "request");
    ck_assert_str_eq(
        cJSON_GetObjectItem(ev, "endpoint")->valuestring, "/v1/users/{id}");
    ck_assert_str_eq(cJSON_GetObjectItem(ev, "method")->valuestring, "PATCH");
    ck_assert_str_eq(cJSON_GetObjectItem(ev, "user_id")->valuestring,
        "user-\"quoted\"-\xc3\xa9");
    ck_assert_int_eq(cJSON_GetObjectItem(ev, "response_status")->valueint, 404);
    ck_assert(cJSON_GetObjectItem(ev, "response_time")->valuedouble == 12.5);
    ck_assert_str_eq(
        cJSON_GetObjectItem(ev, "environment")->valuestring, "production");
    details = cJSON_GetObjectItem(ev, "request_details");
    ck_assert_int_eq(cJSON_GetObjectItem(details, "retry_count")->valueint, 2);
    /* Not allow-listed: minimized away before it left the process. */
    ck_assert_ptr_null(cJSON_GetObjectItem(details, "x"));
    ck_assert_int_eq(
        (int)strlen(cJSON_GetObjectItem(ev, "id")->valuestring), 36);
    ck_assert_int_eq(cJSON_GetObjectItem(ev, "id")->valuestring[14], '7');
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "client_info"), "sdk")
            ->valuestring,
        "libtelemetry");
    /* client_info: OS and architecture of this machine, as uname(2). */
    ck_assert_int_eq(uname(&u), 0);
    info = cJSON_GetObjectItem(ev, "client_info");
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(info, "os")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(info, "arch")));
    ck_assert_str_eq(cJSON_GetObjectItem(info, "os")->valuestring, u.sysname);
    ck_assert_str_eq(cJSON_GetObjectItem(info, "arch")->valuestring, u.machine);
    ck_assert_str_eq(
        cJSON_GetObjectItem(info, "sdk_version")->valuestring, tlm_version());
    cJSON_Delete(list);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(pipeline_503_retry_after_loses_nothing)
{
    static const char *const fault[] = {"--fault", "503:3:1", NULL};
    tlm_test_server srv;
    tlm_client *c;
    tlm_stats s;

    ck_assert_int_eq(tlm_test_server_start(&srv, fault), 0);
    c = make_client(srv.url, TLM_TEST_API_KEY, 1);
    track_n(c, 1200, "/v1/retry");
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.sent, 1200);
    ck_assert_uint_ge(s.retried, 3);
    ck_assert_uint_eq(s.dropped_retries + s.dropped_http, 0);
    ck_assert_int_eq(tlm_test_total_events(&srv), 1200);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(pipeline_413_splits_batches)
{
    /* ~380 bytes per event uncompressed: a 500-event batch is ~190 KB,
     * four times over the cap, so it must be halved twice or more. */
    static const char *const cap[] = {"--max-body-bytes", "50000", NULL};
    tlm_test_server srv;
    tlm_client *c;
    tlm_stats s;

    ck_assert_int_eq(tlm_test_server_start(&srv, cap), 0);
    c = make_client(srv.url, TLM_TEST_API_KEY, 0);
    track_n(c, 2000, "/v1/split");
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.sent, 2000);
    ck_assert_uint_eq(s.dropped_oversize, 0);
    ck_assert_uint_gt(s.requests, s.batches);
    ck_assert_uint_ge(s.batches, 8);
    ck_assert_int_eq(tlm_test_total_events(&srv), 2000);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(pipeline_wrong_key_is_dropped_not_retried)
{
    tlm_test_server srv;
    tlm_client *c;
    tlm_stats s;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = make_client(srv.url, "not-a-key", 1);
    track_n(c, 100, "/v1/unauthorized");
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.dropped_http, 100);
    ck_assert_uint_eq(s.sent, 0);
    ck_assert_uint_eq(s.retried, 0);
    ck_assert_int_eq(tlm_test_total_events(&srv), 0);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

static void
close_hung(int sig)
{
    static const char msg[] = "check_close_deadline: tlm_client_close(c, 500)"
                              " has not returned after 60 s\n";

    ssize_t w;

    (void)sig;
    w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    _exit(3);
}

/* close() against a peer that never answers in time must return by its
 * deadline and count every undelivered event. */
static void
check_close_deadline(const char *url)
{
    tlm_client *c = make_client(url, TLM_TEST_API_KEY, 1);
    tlm_stats s;
    double t0, elapsed;

    track_n(c, 1000, "/v1/deadline");
    t0 = now_s();
    /* Hang guard, not a time bound: a close() that never returns fails
     * this case by name (the case runs in its own process). */
    signal(SIGALRM, close_hung);
    alarm(60);
    ck_assert_int_eq(tlm_client_close(c, 500), TLM_ETIMEDOUT);
    alarm(0);
    elapsed = now_s() - t0;
    printf("close(500 ms) returned after %.0f ms\n", elapsed * 1000);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 1000);
    ck_assert_uint_eq(s.sent, 0);
    ck_assert_uint_eq(s.dropped_shutdown + s.dropped_retries, 1000);
    ck_assert_uint_eq(s.queue_depth, 0);
    ck_assert_int_eq(tlm_client_close(c, 10), TLM_ECLOSED);
    tlm_client_free(c);
}

START_TEST(pipeline_close_dead_endpoint_by_deadline)
{
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", tlm_test_dead_port());
    check_close_deadline(url);
}
END_TEST

START_TEST(pipeline_close_stalled_server_by_deadline)
{
    char url[64];
    int port = 0, fd = tlm_test_stall_server(&port);

    ck_assert_int_ge(fd, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    check_close_deadline(url);
    close(fd);
}
END_TEST

START_TEST(pipeline_flush_times_out_without_dropping)
{
    tlm_test_server srv;
    tlm_client *c;
    char url[64];
    int port = 0, fd = tlm_test_stall_server(&port);
    tlm_stats s;

    (void)srv;
    ck_assert_int_ge(fd, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    c = make_client(url, TLM_TEST_API_KEY, 1);
    track_n(c, 10, "/v1/flush");
    ck_assert_int_eq(tlm_client_flush(c, 300), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.dropped_shutdown + s.dropped_retries, 0);
    ck_assert_uint_eq(s.inflight_events + s.queue_depth, 10);
    ck_assert_int_eq(tlm_client_close(c, 200), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.dropped_shutdown, 10);
    tlm_client_free(c);
    close(fd);
}
END_TEST

/* libcurl honours the standard proxy variables; the SDK must not defeat
 * that (hosts behind a proxy rely on it), and no_proxy must exempt hosts. */
START_TEST(pipeline_honours_proxy_environment)
{
    tlm_test_server srv;
    tlm_client *c;
    tlm_stats s;
    char proxy[64];

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", tlm_test_dead_port());
    setenv("http_proxy", proxy, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    c = make_client(srv.url, TLM_TEST_API_KEY, 1);
    track_n(c, 50, "/v1/proxied");
    /* Every attempt goes to the dead proxy, none reaches the server. */
    ck_assert_int_eq(tlm_client_flush(c, 1500), TLM_ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_eq(s.sent, 0);
    ck_assert_uint_ge(s.retried, 1);
    ck_assert_int_eq(tlm_test_total_events(&srv), 0);
    tlm_client_free(c);

    setenv("no_proxy", "127.0.0.1", 1);
    c = make_client(srv.url, TLM_TEST_API_KEY, 1);
    track_n(c, 50, "/v1/direct");
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    ck_assert_uint_eq(stats_of(c).sent, 50);
    ck_assert_int_eq(tlm_test_total_events(&srv), 50);
    tlm_client_free(c);
    unsetenv("http_proxy");
    unsetenv("no_proxy");
    tlm_test_server_stop(&srv);
}
END_TEST

/* 200k events sampled at 0.1: the server's weighted total estimates the
 * true count (binomial sd ~0.7%; the bound is 3%). */
START_TEST(pipeline_sampling_estimates_true_total)
{
    tlm_test_server srv;
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    tlm_stats s;
    long total;
    int i;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    ck_assert_int_eq(tlm_options_set_endpoint(o, srv.url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_sampling_rate(o, 0.1), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    for (i = 0; i < 200000; i++)
        ck_assert_int_eq(
            tlm_track_request_simple(c, "/v1/sampled", "GET", 200, 5.0, NULL),
            0);
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.sampled_out + s.enqueued, 200000);
    ck_assert_uint_eq(s.sent, s.enqueued);
    total = tlm_test_total_events(&srv);
    printf("sampled at 0.1: %llu sent, server estimates %ld of 200000\n",
        (unsigned long long)s.sent, total);
    ck_assert_int_gt(total, 194000);
    ck_assert_int_lt(total, 206000);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

static long
dashboard_sdk(const tlm_test_server *srv, const char *field)
{
    cJSON *d = tlm_test_get_json(
        srv, "/admin/analytics/dashboard?from=0&to=4102444800000", NULL);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(d, "sdk"), field);
    long n = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;

    cJSON_Delete(d);
    return n;
}

/* A client that sends raw ids (acknowledged) shows up on the dashboard. */
START_TEST(pipeline_dashboard_shows_unanonymized_clients)
{
    tlm_test_server srv;
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = make_client(srv.url, TLM_TEST_API_KEY, 1);
    track_n(c, 10, "/v1/anonymized");
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    tlm_client_free(c);
    ck_assert_int_eq(dashboard_sdk(&srv, "batches"), 1);
    ck_assert_int_eq(dashboard_sdk(&srv, "unanonymized_batches"), 0);

    ck_assert_int_eq(tlm_options_set_endpoint(o, srv.url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_anonymization(o, 0, 1), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    track_n(c, 10, "/v1/raw");
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    tlm_client_free(c);
    ck_assert_int_eq(dashboard_sdk(&srv, "batches"), 2);
    ck_assert_int_eq(dashboard_sdk(&srv, "unanonymized_batches"), 1);
    ck_assert_int_eq(dashboard_sdk(&srv, "unscrubbed_batches"), 0);
    tlm_test_server_stop(&srv);
}
END_TEST

struct counting_producer {
    tlm_client *c;
    int n;
    const char *endpoint;
    int ok, full, other;
};

static void *
produce_counting(void *arg)
{
    struct counting_producer *p = arg;

    for (int i = 0; i < p->n; i++) {
        int rc = tlm_track_request_simple(
            p->c, p->endpoint, "GET", 200, (double)(i % 100), "user-2");
        if (rc == 0)
            p->ok++;
        else if (rc == TLM_EFULL)
            p->full++;
        else
            p->other++;
    }
    return NULL;
}

/* Two clients in one process share nothing: A (live server) and B (dead
 * endpoint) used at once from two threads; A delivers everything, B
 * counts its own losses, neither's stats show the other's events, and A
 * keeps working after B is closed and freed. */
START_TEST(pipeline_two_clients_independent)
{
    enum { N = 3000, MORE = 500 };
    tlm_test_server srv;
    struct counting_producer pa = {NULL, N, "/v1/client-a", 0, 0, 0};
    struct counting_producer pb = {NULL, N, "/v1/client-b", 0, 0, 0};
    pthread_t ta, tb;
    tlm_client *a, *b;
    tlm_stats sa, sb;
    char dead[64];

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
    a = make_client(srv.url, TLM_TEST_API_KEY, 1);
    b = make_client(dead, TLM_TEST_API_KEY, 1);
    pa.c = a;
    pb.c = b;
    ck_assert_int_eq(pthread_create(&ta, NULL, produce_counting, &pa), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, produce_counting, &pb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_int_eq(pa.ok, N);
    ck_assert_int_eq(pb.other, 0);
    ck_assert_int_eq(pb.ok + pb.full, N);

    ck_assert_int_eq(tlm_client_flush(a, 30000), 0);
    ck_assert_int_eq(tlm_client_flush(b, 300), TLM_ETIMEDOUT);
    sa = stats_of(a);
    sb = stats_of(b);
    ck_assert_uint_eq(sa.enqueued, N);
    ck_assert_uint_eq(sa.sent, N);
    ck_assert_uint_eq(sa.retried, 0);
    ck_assert_uint_eq(sa.dropped_queue_full + sa.dropped_retries
            + sa.dropped_shutdown + sa.dropped_http,
        0);
    ck_assert_uint_eq(sb.enqueued, (uint64_t)pb.ok);
    ck_assert_uint_eq(sb.dropped_queue_full, (uint64_t)pb.full);
    ck_assert_uint_eq(sb.sent, 0);
    ck_assert_uint_eq(sb.batches, 0);
    ck_assert_uint_ge(sb.retried, 1);
    ck_assert_int_eq(tlm_test_total_events(&srv), N);

    /* B goes away with its events counted; A is unaffected. */
    ck_assert_int_eq(tlm_client_close(b, 200), TLM_ETIMEDOUT);
    sb = stats_of(b);
    ck_assert_uint_eq(
        sb.dropped_shutdown + sb.dropped_retries, (uint64_t)pb.ok);
    tlm_client_free(b);
    track_n(a, MORE, "/v1/client-a/after");
    ck_assert_int_eq(tlm_client_flush(a, 30000), 0);
    sa = stats_of(a);
    ck_assert_uint_eq(sa.sent, N + MORE);
    ck_assert_uint_eq(sa.dropped_shutdown + sa.dropped_retries, 0);
    ck_assert_int_eq(tlm_test_total_events(&srv), N + MORE);
    ck_assert_int_eq(tlm_client_close(a, 5000), 0);
    tlm_client_free(a);
    tlm_test_server_stop(&srv);
}
END_TEST

static Suite *
pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("pipeline");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pipeline_four_threads_exactly_once);
    tcase_add_test(tc, pipeline_events_stored_verbatim);
    tcase_add_test(tc, pipeline_503_retry_after_loses_nothing);
    tcase_add_test(tc, pipeline_413_splits_batches);
    tcase_add_test(tc, pipeline_wrong_key_is_dropped_not_retried);
    tcase_add_test(tc, pipeline_close_dead_endpoint_by_deadline);
    tcase_add_test(tc, pipeline_close_stalled_server_by_deadline);
    tcase_add_test(tc, pipeline_flush_times_out_without_dropping);
    tcase_add_test(tc, pipeline_honours_proxy_environment);
    tcase_add_test(tc, pipeline_sampling_estimates_true_total);
    tcase_add_test(tc, pipeline_dashboard_shows_unanonymized_clients);
    tcase_add_test(tc, pipeline_two_clients_independent);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(pipeline_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
