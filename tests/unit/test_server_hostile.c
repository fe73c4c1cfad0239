/* Check suite for hostile strings end to end: SQL-, HTML- and format-
 * string-like text, backslashes, quotes and control characters sent as
 * endpoint, user_id, request_details, error messages and feedback through
 * the real daemon, then read back byte-exact through GET /admin/events,
 * the dashboard JSON, /admin/errors and /admin/feedback: stored verbatim,
 * never interpreted, always escaped. On SQLite, and on PostgreSQL when
 * TLM_TEST_PG_URL is set (scripts/pg start DIR prints one). */
#include "http.h"
#include "rfc3339.h"
#include "server_http.h"
#include "server_keys.h"
#include "store.h"

#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Each is sent as every string field; none holds PII the privacy pass
 * would replace. */
static const char *const hostile[] = {
    "'; DROP TABLE events;--",
    "<script>alert(1)</script>",
    "%n%s%x%p%%%d",
    "back\\slash \"double\" 'single' \\\" \\\\",
    "tab\there nl\nthere cr\r \x01\x1f\x7f end",
    "$1 ? :name ${x} `cmd` \xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80",
};
#define N_HOSTILE (sizeof(hostile) / sizeof(hostile[0]))

static char dir[64];
static char pg_db[64];
static struct tlm__store *store;
static struct tlm__http_server *srv;
static struct tlm__auth *auth;

/* base with its database replaced by name. */
static void
pg_url_for(const char *base, const char *name, char *out, size_t size)
{
    const char *p = strstr(base, "://");
    const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;
    const char *query = strchr(base, '?');
    if (slash == NULL || (query != NULL && query < slash))
        slash = query != NULL ? query : base + strlen(base);
    snprintf(out, size, "%.*s/%s%s", (int)(slash - base), base, name,
        query != NULL ? query : "");
}

static void
pg_exec(const char *sql)
{
    PGconn *pg = PQconnectdb(getenv("TLM_TEST_PG_URL"));
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
        PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
}

static void
start(bool postgres)
{
    char url[512], err[512] = "";
    snprintf(dir, sizeof(dir), "/tmp/tlm-hostile-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    if (postgres) {
        char sql[128];
        snprintf(pg_db, sizeof(pg_db), "tlm_hostile_%d", (int)getpid());
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg_db);
        pg_exec(sql);
        pg_url_for(getenv("TLM_TEST_PG_URL"), pg_db, url, sizeof(url));
    } else {
        pg_db[0] = '\0';
        snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
    }
    ck_assert_msg(
        tlm__store_open(url, &store, err, sizeof(err)) == 0, "%s", err);
    auth = test_keyring("ingest-key", "admin-token", NULL, 0);
    struct tlm__http_options o = {
        .host = "127.0.0.1",
        .threads = 2,
        .max_body_bytes = 1 << 20,
        .max_inflated_bytes = 8 << 20,
        .max_write_queue = -1,
        .auth = auth,
        .store = store,
    };
    ck_assert_msg(tlm__http_start(&o, &srv, err, sizeof(err)) == 0, "%s", err);
}

static void
teardown(void)
{
    char cmd[128];
    tlm__http_stop(srv);
    tlm__store_close(store);
    tlm__auth_free(auth);
    auth = NULL;
    if (pg_db[0] != '\0') {
        snprintf(
            cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s WITH (FORCE)", pg_db);
        pg_exec(cmd);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One request (Connection: close); returns the status and points *body at
 * the response body inside resp. */
static int
http(const char *method, const char *path, const char *headers,
    const char *body, char *resp, size_t resp_size, const char **out)
{
    int status = test_http(
        tlm__http_port(srv), method, path, headers, body, resp, resp_size);
    ck_assert_uint_lt(strlen(resp) + 1, resp_size); /* all of it */
    const char *sep = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(sep);
    *out = sep + 4;
    ck_assert_int_ne(status, 0);
    return status;
}

static const char admin[] = "Authorization: Bearer admin-token\r\n";
static const char ingest[] = "Authorization: Bearer ingest-key\r\n";

/* GETs an admin route and parses it: the body must be strict JSON served
 * as JSON, with every control character escaped. */
static cJSON *
admin_json(const char *path)
{
    static char resp[1 << 20];
    const char *body;
    int st = http("GET", path, admin, NULL, resp, sizeof(resp), &body);
    ck_assert_msg(st == 200, "GET %s: %d\n%s", path, st, resp);
    ck_assert_ptr_nonnull(strstr(resp, "Content-Type: application/json"));
    for (const char *p = body; *p != '\0'; p++)
        ck_assert_msg((unsigned char)*p >= 0x20,
            "GET %s: raw control byte 0x%02x in the JSON", path,
            (unsigned char)*p);
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithOpts(body, &end, true);
    ck_assert_msg(doc != NULL, "GET %s: not JSON: %s", path, body);
    return doc;
}

static const char *
str(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* True if some element of arr has member name equal to want, byte-exact. */
static bool
any_has(const cJSON *arr, const char *name, const char *want)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const char *v = str(it, name);
        if (v != NULL && strcmp(v, want) == 0)
            return true;
    }
    return false;
}

/* The batch: for each hostile string one request event and one error
 * event carrying it in every string field, built with cJSON so that the
 * wire text is the string correctly escaped. */
static char *
hostile_batch(void)
{
    char ts[TLM_RFC3339_BUF], id[64];
    ck_assert_int_eq(
        tlm__rfc3339_format(tlm__now_ms() - 60000, ts, sizeof(ts)), 0);
    cJSON *root = cJSON_CreateObject();
    cJSON *events = cJSON_AddArrayToObject(root, "events");
    for (size_t i = 0; i < N_HOSTILE; i++) {
        for (int k = 0; k < 2; k++) {
            cJSON *e = cJSON_CreateObject();
            snprintf(id, sizeof(id), "0190a000-0000-7000-8000-%012zu",
                2 * i + (size_t)k + 1);
            cJSON_AddStringToObject(e, "type", k == 0 ? "request" : "error");
            cJSON_AddStringToObject(e, "id", id);
            cJSON_AddStringToObject(e, "timestamp", ts);
            cJSON_AddStringToObject(e, "endpoint", hostile[i]);
            cJSON_AddStringToObject(e, "user_id", hostile[i]);
            cJSON *d = cJSON_AddObjectToObject(e, "request_details");
            cJSON_AddStringToObject(d, "note", hostile[i]);
            cJSON_AddStringToObject(d, hostile[i], "as a key");
            if (k == 0) {
                cJSON_AddStringToObject(e, "method", "GET");
                cJSON_AddNumberToObject(e, "response_status", 500);
                cJSON_AddNumberToObject(e, "response_time", 12);
            } else {
                cJSON_AddStringToObject(e, "error_message", hostile[i]);
            }
            cJSON_AddItemToArray(events, e);
        }
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    ck_assert_ptr_nonnull(text);
    return text;
}

static void
check_events(void)
{
    cJSON *doc = admin_json("/admin/events?limit=1000");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
    ck_assert_int_eq(cJSON_GetArraySize(items), 2 * (int)N_HOSTILE);
    for (size_t i = 0; i < N_HOSTILE; i++) {
        for (int k = 0; k < 2; k++) {
            char id[64];
            const cJSON *e = NULL, *it;
            snprintf(id, sizeof(id), "0190a000-0000-7000-8000-%012zu",
                2 * i + (size_t)k + 1);
            cJSON_ArrayForEach(it, items)
            {
                const char *v = str(it, "id");
                if (v != NULL && strcmp(v, id) == 0)
                    e = it;
            }
            ck_assert_msg(e != NULL, "event %s missing", id);
            ck_assert_str_eq(str(e, "endpoint"), hostile[i]);
            ck_assert_str_eq(str(e, "user_id"), hostile[i]);
            const cJSON *d
                = cJSON_GetObjectItemCaseSensitive(e, "request_details");
            ck_assert_str_eq(str(d, "note"), hostile[i]);
            ck_assert_str_eq(str(d, hostile[i]), "as a key");
            if (k == 1)
                ck_assert_str_eq(str(e, "error_message"), hostile[i]);
        }
    }
    cJSON_Delete(doc);
}

static void
check_dashboard(void)
{
    char path[256], from[TLM_RFC3339_BUF], to[TLM_RFC3339_BUF];
    int64_t now = tlm__now_ms();
    ck_assert_int_eq(tlm__rfc3339_format(now - 3600000, from, sizeof(from)), 0);
    ck_assert_int_eq(tlm__rfc3339_format(now + 3600000, to, sizeof(to)), 0);
    snprintf(path, sizeof(path), "/admin/analytics/dashboard?from=%s&to=%s",
        from, to);
    cJSON *doc = admin_json(path);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(doc, "endpoints");
    ck_assert_msg(cJSON_IsArray(eps), "no endpoints in the dashboard");
    for (size_t i = 0; i < N_HOSTILE; i++)
        ck_assert_msg(any_has(eps, "endpoint", hostile[i]),
            "dashboard endpoint %zu not byte-exact", i);
    cJSON_Delete(doc);
}

static void
check_errors(void)
{
    cJSON *doc = admin_json("/admin/errors?limit=100");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
    ck_assert_msg(cJSON_IsArray(items), "no items in /admin/errors");
    size_t seen = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, items)
    {
        const char *gid = str(g, "id");
        char path[128];
        ck_assert_ptr_nonnull(gid);
        snprintf(path, sizeof(path), "/admin/errors/%s", gid);
        cJSON *one = admin_json(path);
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(one, "samples"))
        {
            for (size_t i = 0; i < N_HOSTILE; i++) {
                const char *m = str(s, "error_message");
                if (m != NULL && strcmp(m, hostile[i]) == 0) {
                    ck_assert_str_eq(str(s, "endpoint"), hostile[i]);
                    ck_assert_str_eq(str(s, "user_id"), hostile[i]);
                    seen |= 1u << i;
                }
            }
        }
        /* Each group's endpoint list names the hostile endpoint exactly. */
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(one, "endpoints");
        const cJSON *ep;
        cJSON_ArrayForEach(ep, eps)
        {
            bool known = false;
            for (size_t i = 0; i < N_HOSTILE; i++)
                known = known || strcmp(str(ep, "endpoint"), hostile[i]) == 0;
            ck_assert_msg(
                known, "error endpoint \"%s\" altered", str(ep, "endpoint"));
        }
        cJSON_Delete(one);
    }
    ck_assert_uint_eq(seen, (1u << N_HOSTILE) - 1);
    cJSON_Delete(doc);
}

static void
post_feedback(void)
{
    static char resp[65536];
    const char *body;
    for (size_t i = 0; i < N_HOSTILE; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "feedback_type", "general");
        cJSON_AddStringToObject(f, "content", hostile[i]);
        cJSON_AddStringToObject(f, "user_id", hostile[i]);
        cJSON_AddStringToObject(f, "endpoint", hostile[i]);
        char *text = cJSON_PrintUnformatted(f);
        cJSON_Delete(f);
        int st = http(
            "POST", "/feedback", ingest, text, resp, sizeof(resp), &body);
        ck_assert_msg(st == 201, "feedback %zu: %d\n%s", i, st, resp);
        free(text);
    }
}

static void
check_feedback(void)
{
    cJSON *doc = admin_json("/admin/feedback?limit=100");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
    ck_assert_msg(cJSON_IsArray(items), "no items in /admin/feedback");
    for (size_t i = 0; i < N_HOSTILE; i++) {
        ck_assert_msg(any_has(items, "content", hostile[i]),
            "feedback content %zu not byte-exact", i);
        ck_assert_msg(any_has(items, "user_id", hostile[i]),
            "feedback user_id %zu not byte-exact", i);
        ck_assert_msg(any_has(items, "endpoint", hostile[i]),
            "feedback endpoint %zu not byte-exact", i);
    }
    cJSON_Delete(doc);
}

static void
round_trip(void)
{
    static char resp[65536];
    const char *body;
    char *batch = hostile_batch();
    int st
        = http("POST", "/v1/batch", ingest, batch, resp, sizeof(resp), &body);
    ck_assert_msg(st == 200, "%d\n%s", st, resp);
    cJSON *receipt = cJSON_Parse(body);
    ck_assert_ptr_nonnull(receipt);
    ck_assert_int_eq(
        cJSON_GetObjectItem(receipt, "accepted")->valueint, 2 * N_HOSTILE);
    cJSON_Delete(receipt);
    free(batch);
    post_feedback();
    check_events();
    check_dashboard();
    check_errors();
    check_feedback();
    /* Nothing was executed: the tables still answer. */
    ck_assert_int_eq(
        http("GET", "/readyz", "", NULL, resp, sizeof(resp), &body), 200);
}

START_TEST(hostile_round_trip_sqlite)
{
    start(false);
    round_trip();
}
END_TEST

START_TEST(hostile_round_trip_postgresql)
{
    if (getenv("TLM_TEST_PG_URL") == NULL) {
        /* Nothing to run against; counted as passed, said on stdout. */
        printf("TLM_TEST_PG_URL is not set: the PostgreSQL case is "
               "skipped\n");
        pg_db[0] = '\0';
        srv = NULL;
        return;
    }
    start(true);
    round_trip();
}
END_TEST

static void
teardown_any(void)
{
    if (srv != NULL || store != NULL)
        teardown();
    srv = NULL;
    store = NULL;
}

static Suite *
suite(void)
{
    Suite *s = suite_create("server_hostile");
    TCase *tc = tcase_create("hostile");
    tcase_add_checked_fixture(tc, NULL, teardown_any);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hostile_round_trip_sqlite);
    tcase_add_test(tc, hostile_round_trip_postgresql);
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
