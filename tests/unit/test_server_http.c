/* Check suite for server/http.c: the real daemon on a loopback port 0 (read
 * back), spoken to over plain sockets: routing, auth, encodings, limits and
 * fault injection. */
#include "http.h"
#include "server_http.h"
#include "server_keys.h"
#include "store.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[64];
static struct tlm__store *store;
static struct tlm__http_server *srv;
static struct tlm__auth *auth;

static void
start(int fault_status, unsigned long fault_count, long retry_after)
{
    char url[128], err[256] = "";
    snprintf(dir, sizeof(dir), "/tmp/tlm-http-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
    ck_assert_int_eq(tlm__store_open(url, &store, err, sizeof(err)), 0);
    if (auth == NULL)
        auth = test_keyring("ingest-key", "admin-token", NULL, 0);
    struct tlm__http_options o = {
        .host = "127.0.0.1",
        .port = 0,
        .threads = 2,
        .max_body_bytes = 4096,
        .max_inflated_bytes = 65536,
        .max_future_ms = -1, /* the fixed timestamps below stay valid */
        .max_age_ms = -1,
        .max_write_queue = -1,
        .auth = auth,
        .store = store,
        .fault_status = fault_status,
        .fault_count = fault_count,
        .fault_retry_after = retry_after,
    };
    ck_assert_msg(tlm__http_start(&o, &srv, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_ne(tlm__http_port(srv), 0);
}

static void
setup(void)
{
    start(0, 0, -1);
}

static void
teardown(void)
{
    char cmd[128];
    tlm__http_stop(srv);
    tlm__store_close(store);
    tlm__auth_free(auth);
    auth = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Sends a raw request (Connection: close added) and returns the status; the
 * whole response is copied into resp. */
static int
http(const char *method, const char *path, const char *headers,
    const char *body, char *resp, size_t resp_size)
{
    int status = test_http(
        tlm__http_port(srv), method, path, headers, body, resp, resp_size);
    ck_assert_int_ne(status, 0);
    return status;
}

static const char ingest_auth[] = "Authorization: Bearer ingest-key\r\n";
static const char admin_auth[] = "Authorization: Bearer admin-token\r\n";
static const char one_event[]
    = "{\"events\":[{\"type\":\"request\",\"id\":"
      "\"0190a000-0000-7000-8000-000000000001\",\"timestamp\":"
      "\"2026-12-04T20:01:02.345Z\",\"endpoint\":\"/v1/x\","
      "\"response_status\":200,\"response_time\":3}]}";

START_TEST(http_healthz_and_unknown_routes)
{
    char r[4096];
    ck_assert_int_eq(http("GET", "/healthz", "", NULL, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "{\"status\":\"ok\"}"));
    ck_assert_ptr_nonnull(strstr(r, "application/json"));
    ck_assert_int_eq(http("GET", "/nope", "", NULL, r, sizeof(r)), 404);
    ck_assert_ptr_nonnull(strstr(r, "\"error\""));
    ck_assert_int_eq(
        http("GET", "/v1/batch", ingest_auth, NULL, r, sizeof(r)), 405);
    ck_assert_ptr_nonnull(strstr(r, "Allow: POST"));
}
END_TEST

START_TEST(http_batch_auth)
{
    char r[4096];
    ck_assert_int_eq(
        http("POST", "/v1/batch", "", one_event, r, sizeof(r)), 401);
    ck_assert_ptr_nonnull(strstr(r, "missing or invalid API key"));
    /* The admin token is known, just not allowed to send: 403. */
    ck_assert_int_eq(
        http("POST", "/v1/batch", admin_auth, one_event, r, sizeof(r)), 403);
    ck_assert_ptr_nonnull(strstr(r, "ingestion key"));
    ck_assert_int_eq(
        http("POST", "/v1/batch", "Authorization: Bearer wrong\r\n", one_event,
            r, sizeof(r)),
        401);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, one_event, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\"accepted\":1"));
}
END_TEST

START_TEST(http_admin_auth)
{
    char r[8192];
    ck_assert_int_eq(http("GET", "/admin/events", "", NULL, r, sizeof(r)), 401);
    ck_assert_int_eq(
        http("GET", "/admin/events", ingest_auth, NULL, r, sizeof(r)), 403);
    ck_assert_int_eq(http("GET", "/admin/analytics/dashboard", ingest_auth,
                         NULL, r, sizeof(r)),
        403);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, one_event, r, sizeof(r)), 200);
    ck_assert_int_eq(
        http("GET", "/admin/events", admin_auth, NULL, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "0190a000-0000-7000-8000-000000000001"));
    ck_assert_int_eq(http("GET",
                         "/admin/analytics/dashboard?from=2026-12-04T00:00:"
                         "00Z&to=2026-12-05T00:00:00Z",
                         admin_auth, NULL, r, sizeof(r)),
        200);
    ck_assert_ptr_nonnull(strstr(r, "\"events\":1"));
    ck_assert_int_eq(http("GET", "/admin/analytics/dashboard?environment=qa",
                         admin_auth, NULL, r, sizeof(r)),
        400);
}
END_TEST

START_TEST(http_encoding_and_limits)
{
    char r[4096];
    char big[5000];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(http("POST", "/v1/batch",
                         "Authorization: Bearer ingest-key\r\n"
                         "Content-Encoding: br\r\n",
                         one_event, r, sizeof(r)),
        415);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, big, r, sizeof(r)), 413);
    ck_assert_ptr_nonnull(strstr(r, "Connection: close"));
    /* Every limit error names its configuration key. */
    ck_assert_ptr_nonnull(
        strstr(r, "body: larger than the wire limit (max_body_bytes)"));
    ck_assert_int_eq(http("POST", "/v1/batch",
                         "Authorization: Bearer ingest-key\r\n"
                         "Content-Encoding: gzip\r\n",
                         "not gzip", r, sizeof(r)),
        400);
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, "{\"x\":1}", r, sizeof(r)), 400);
}
END_TEST

START_TEST(http_fault_injection_then_recovery)
{
    char r[4096];
    tlm__http_stop(srv);
    tlm__store_close(store);
    char cmd[128]; /* fresh start with --fault 503:2:7 */
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    start(503, 2, 7);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            http("POST", "/v1/batch", ingest_auth, one_event, r, sizeof(r)),
            503);
        ck_assert_ptr_nonnull(strstr(r, "Retry-After: 7"));
    }
    ck_assert_int_eq(
        http("POST", "/v1/batch", ingest_auth, one_event, r, sizeof(r)), 200);
    ck_assert_ptr_nonnull(strstr(r, "\"accepted\":1"));
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_http");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, http_healthz_and_unknown_routes);
    tcase_add_test(tc, http_batch_auth);
    tcase_add_test(tc, http_admin_auth);
    tcase_add_test(tc, http_encoding_and_limits);
    tcase_add_test(tc, http_fault_injection_then_recovery);
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
