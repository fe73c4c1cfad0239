/*
 * test_errors.c - error events from the SDK to the real telemetry-server:
 * what is stored (GET /admin/events?type=error), sampling exemption, a
 * request and its error joined by request_id, and errors spooled while the
 * server is down arriving exactly once later.
 */
#include "fixture.h"

#include <check.h>
#include <stdbool.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <telemetry.h>
#include <unistd.h>

static tlm_test_server srv;
static char spool[64];

static void
setup(void)
{
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    snprintf(spool, sizeof(spool), "/tmp/tlm-errspool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(spool));
}

static void
teardown(void)
{
    char cmd[128];

    tlm_test_server_stop(&srv);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
    ck_assert_int_eq(system(cmd), 0);
}

static tlm_client *
client_for(const char *url, double sampling, bool with_spool)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 50), 0);
    ck_assert_int_eq(tlm_options_set_sampling_rate(o, sampling), 0);
    if (with_spool)
        ck_assert_int_eq(tlm_options_set_spool_dir(o, spool), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

/* The stored events of a type, newest first (one page of 1000). */
static cJSON *
stored(const char *type)
{
    char path[64];
    long status = 0;
    cJSON *page;

    snprintf(path, sizeof(path), "/admin/events?type=%s&limit=1000", type);
    page = tlm_test_get_json(&srv, path, &status);
    ck_assert_int_eq(status, 200);
    return page;
}

static int
count_message(const cJSON *page, const char *prefix)
{
    const cJSON *ev;
    const char *m;
    int n = 0;

    cJSON_ArrayForEach(ev, cJSON_GetObjectItem(page, "items"))
    {
        m = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "error_message"));
        n += m != NULL && strncmp(m, prefix, strlen(prefix)) == 0;
    }
    return n;
}

static const cJSON *
find_message(const cJSON *page, const char *message)
{
    const cJSON *ev;
    const char *m;

    cJSON_ArrayForEach(ev, cJSON_GetObjectItem(page, "items"))
    {
        m = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "error_message"));
        if (m != NULL && strcmp(m, message) == 0)
            return ev;
    }
    return NULL;
}

/* Exported (the executable is linked with -rdynamic) and not inlined:
 * the captured stack must name it. */
__attribute__((noinline)) int
itest_errors_nested_frame(tlm_client *c)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    int rc;

    e.error_message = "nested capture";
    e.endpoint = "/v1/nested";
    e.capture_stack = 1;
    rc = tlm_capture_error(c, &e);
    __asm__ volatile("" ::: "memory");
    return rc;
}

START_TEST(errors_stored_with_and_without_stack)
{
    tlm_client *c = client_for(srv.url, 1.0, false);
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    const char *fp[] = {"payments", "card-declined"};
    const cJSON *ev;
    cJSON *page;
    const char *st;

    e.error_message = "plain error";
    e.error_code = "E_PLAIN";
    e.impact = TLM_IMPACT_HIGH;
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    tlm_error_event_init(&e);
    e.error_message = "with stack for carol@example.com";
    e.endpoint = "/v1/pay/12345";
    e.stack_trace = "/home/carol/src/pay.c(charge+0x1f) [0x55aa00001111]\n"
                    "/usr/lib/libc.so.6(__libc_start_main+0x8a) [0x7f0011]";
    e.user_id = "carol";
    e.fingerprint = fp;
    e.fingerprint_count = 2;
    e.request_details = "{\"method\":\"POST\",\"authorization\":\"x\"}";
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    ck_assert_int_eq(itest_errors_nested_frame(c), 0);
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    tlm_stats s;
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.errors_captured, 3);
    ck_assert_uint_eq(s.errors_sent, 3);
    tlm_client_free(c);

    page = stored("error");
    ev = find_message(page, "plain error");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(
        cJSON_GetObjectItem(ev, "error_code")->valuestring, "E_PLAIN");
    ck_assert_str_eq(cJSON_GetObjectItem(ev, "impact")->valuestring, "high");
    ck_assert_ptr_null(cJSON_GetObjectItem(ev, "stack_trace"));
    ck_assert(cJSON_GetObjectItem(ev, "sample_rate")->valuedouble == 1.0);
    ev = find_message(page, "with stack for [email]");
    ck_assert_ptr_nonnull(ev);
    st = cJSON_GetObjectItem(ev, "stack_trace")->valuestring;
    ck_assert_str_eq(st, "~/src/pay.c(charge)\nlibc.so.6(__libc_start_main)");
    ck_assert_str_eq(
        cJSON_GetObjectItem(ev, "endpoint")->valuestring, "/v1/pay/{id}");
    ck_assert_str_ne(cJSON_GetObjectItem(ev, "user_id")->valuestring, "carol");
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(ev, "fingerprint")), 2);
    ck_assert_ptr_null(cJSON_GetObjectItem(
        cJSON_GetObjectItem(ev, "request_details"), "authorization"));
    ev = find_message(page, "nested capture");
    ck_assert_ptr_nonnull(ev);
    st = cJSON_GetObjectItem(ev, "stack_trace")->valuestring;
    ck_assert_msg(strstr(st, "itest_errors_nested_frame") != NULL, "%s", st);
    ck_assert_ptr_null(strstr(st, "[0x"));
    cJSON_Delete(page);
}
END_TEST

START_TEST(errors_not_sampled_out)
{
    tlm_client *c = client_for(srv.url, 0.01, false);
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    char msg[32];
    cJSON *page;
    int i;

    for (i = 0; i < 200; i++) {
        snprintf(msg, sizeof(msg), "sampled-%d", i);
        e.error_message = msg;
        ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    }
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    tlm_client_free(c);
    page = stored("error");
    ck_assert_int_eq(count_message(page, "sampled-"), 200);
    cJSON_Delete(page);
}
END_TEST

START_TEST(errors_request_and_error_in_one_call)
{
    tlm_client *c = client_for(srv.url, 0.01, false);
    tlm_request r = TLM_REQUEST_INIT;
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    const cJSON *ev, *req;
    const char *rid;
    cJSON *errs, *reqs;
    bool found = false;

    r.endpoint = "/v1/joined";
    r.method = "GET";
    r.response_status = 502;
    r.response_time_ms = 40.0;
    r.user_id = "dave";
    e.error_message = "bad gateway upstream";
    e.error_code = "E_UPSTREAM";
    ck_assert_int_eq(tlm_track_request_error(c, &r, &e), 0);
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    tlm_client_free(c);
    errs = stored("error");
    reqs = stored("request");
    ev = find_message(errs, "bad gateway upstream");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(
        cJSON_GetObjectItem(ev, "endpoint")->valuestring, "/v1/joined");
    rid = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "request_id"));
    ck_assert_ptr_nonnull(rid);
    cJSON_ArrayForEach(req, cJSON_GetObjectItem(reqs, "items"))
    {
        if (strcmp(cJSON_GetObjectItem(req, "id")->valuestring, rid) != 0)
            continue;
        found = true;
        ck_assert_int_eq(
            cJSON_GetObjectItem(req, "response_status")->valueint, 502);
        ck_assert_str_eq(cJSON_GetObjectItem(req, "user_id")->valuestring,
            cJSON_GetObjectItem(ev, "user_id")->valuestring);
    }
    ck_assert(found);
    cJSON_Delete(errs);
    cJSON_Delete(reqs);
}
END_TEST

START_TEST(errors_spooled_while_down_arrive_once)
{
    char dead[64];
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    tlm_client *c;
    tlm_stats s;
    cJSON *page;
    char msg[32];
    int i;

    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
    c = client_for(dead, 1.0, true);
    for (i = 0; i < 5; i++) {
        snprintf(msg, sizeof(msg), "spooled-%d", i);
        e.error_message = msg;
        ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    }
    (void)tlm_client_close(c, 500);
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.spool_kept, 5);
    tlm_client_free(c);

    c = client_for(srv.url, 1.0, true);
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    tlm_client_free(c);
    /* A third process finds nothing left to send. */
    c = client_for(srv.url, 1.0, true);
    ck_assert_int_eq(tlm_client_flush(c, 10000), 0);
    tlm_client_free(c);
    page = stored("error");
    ck_assert_int_eq(count_message(page, "spooled-"), 5);
    cJSON_Delete(page);
}
END_TEST

static Suite *
errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *t = tcase_create("sdk_to_server");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, errors_stored_with_and_without_stack);
    tcase_add_test(t, errors_not_sampled_out);
    tcase_add_test(t, errors_request_and_error_in_one_call);
    tcase_add_test(t, errors_spooled_while_down_arrive_once);
    suite_add_tcase(s, t);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(errors_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
