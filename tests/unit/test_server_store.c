/* Check suite for server/store*.c on SQLite files in a temporary directory:
 * schema and migrations (a version-1 database upgraded in place), insert and
 * dedupe (across and within the multi-row statements), weighted dashboard
 * aggregates and the event listing's pagination. */
#include "rollup.h"
#include "sqlite_fixture.h"
#include "store.h"

#include <check.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct spec {
    const char *type;
    const char *endpoint;
    int status;
    double rt;
    double sample_rate;
    int64_t ts_ms;
    const char *env;
};

/* Inserts one event per spec, ids numbered from first. */
static void
insert(struct tlm__store *st, const struct spec *sp, size_t n, int first,
    size_t *accepted, size_t *dups)
{
    struct tlm__store_event *ev = calloc(n, sizeof(*ev));
    for (size_t i = 0; i < n; i++) {
        struct tlm__event *e = &ev[i].ev;
        snprintf(e->id, sizeof(e->id), "0190a000-0000-7000-8000-%012d",
            first + (int)i);
        e->type = strcmp(sp[i].type, "error") == 0 ? TLM_EVENT_ERROR
                                                   : TLM_EVENT_REQUEST;
        e->ts_ms = sp[i].ts_ms;
        e->environment = sp[i].env != NULL ? sp[i].env : "production";
        e->sample_rate = sp[i].sample_rate > 0 ? sp[i].sample_rate : 1.0;
        e->endpoint = sp[i].endpoint;
        if (e->type == TLM_EVENT_REQUEST) {
            e->has_status = true;
            e->status = sp[i].status;
            e->has_response_time = true;
            e->response_time_ms = sp[i].rt;
        } else {
            e->error_message = "boom";
        }
        ev[i].payload = sp[i].type[0] == 'e' ? "{\"type\":\"error\"}"
                                             : "{\"type\":\"request\"}";
        ev[i].payload_len = strlen(ev[i].payload);
    }
    struct tlm__store_batch b = {.received_ms = 5, .events = ev, .n_events = n};
    b.meta.event_count = n;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, accepted, dups), 0);
    free(ev);
}

START_TEST(store_schema_created)
{
    struct tlm__store *st = open_store();
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT MAX(version) FROM schema_version"), 10);
    ck_assert_int_eq(scalar("SELECT count(*) FROM sqlite_master WHERE name "
                            "IN ('events', 'bad_rows', 'batches', "
                            "'events_env_ts')"),
        4);
    /* The endpoint index went in version 2 (it halved write throughput);
     * the dashboard reads endpoints from the (environment, ts_ms) range. */
    ck_assert_int_eq(scalar("SELECT count(*) FROM sqlite_master WHERE name "
                            "= 'events_endpoint_ts'"),
        0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pragma_journal_mode() "
                            "WHERE journal_mode = 'wal'"),
        1);
}
END_TEST

START_TEST(store_migration_idempotent_on_reopen)
{
    size_t a, d;
    struct spec sp = {"request", "/a", 200, 1, 1, 1000, NULL};
    struct tlm__store *st = open_store();
    insert(st, &sp, 1, 1, &a, &d);
    tlm__store_close(st);
    st = open_store();
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM schema_version"), 10);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 1);
}
END_TEST

START_TEST(store_refuses_newer_schema)
{
    struct tlm__store *st = open_store();
    tlm__store_close(st);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(file, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(
            db, "INSERT INTO schema_version VALUES(99, 0)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    ck_assert_int_eq(tlm__store_open(url, &st, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "newer"));
}
END_TEST

START_TEST(store_open_errors_name_the_problem)
{
    struct tlm__store *st = NULL;
    char err[256] = "";
    ck_assert_int_eq(
        tlm__store_open("sqlite:/nonexistent/dir/x.db", &st, err, sizeof(err)),
        -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/x.db"));
    ck_assert_int_eq(tlm__store_open("mysql://x", &st, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "--db"));
    FILE *f = fopen(file, "w");
    fputs(
        "this is not a database, just some text long enough to matter.....", f);
    fclose(f);
    ck_assert_int_eq(tlm__store_open(url, &st, err, sizeof(err)), -1);
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(store_insert_dedupe)
{
    size_t a, d;
    struct spec sp[3] = {{"request", "/a", 200, 1, 1, 1000, NULL},
        {"request", "/a", 200, 1, 1, 1000, NULL},
        {"error", "/a", 0, 0, 1, 1000, NULL}};
    struct tlm__store *st = open_store();
    insert(st, sp, 3, 1, &a, &d);
    ck_assert_uint_eq(a, 3);
    ck_assert_uint_eq(d, 0);
    insert(st, sp, 3, 2, &a, &d); /* ids 2, 3 exist; 4 is new */
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(d, 2);
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 4);
}
END_TEST

START_TEST(store_dashboard_weighted_totals)
{
    size_t a, d;
    /* /a: 10 ms at rate 1 (1), 20 ms at 0.5 (2), 500 status 30 ms at 0.25 (4)
     * /b: one error event at 0.1 (10); sandbox and out-of-range rows. */
    struct spec sp[] = {
        {"request", "/a", 200, 10, 1, 1000, NULL},
        {"request", "/a", 201, 20, 0.5, 2000, NULL},
        {"request", "/a", 503, 30, 0.25, 3000, NULL},
        {"error", "/b", 0, 0, 0.1, 4000, NULL},
        {"request", "/a", 200, 1, 1, 5000, "sandbox"},
        {"request", "/a", 200, 1, 1, 999999, NULL},
    };
    struct tlm__store *st = open_store();
    insert(st, sp, sizeof(sp) / sizeof(sp[0]), 1, &a, &d);
    struct tlm__dash_query q = {.from_ms = 1000,
        .to_ms = 10000,
        .environment = "production",
        .max_endpoints = 100};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, &r), 0);
    ck_assert_double_eq_tol(r.events, 17, 1e-9);
    ck_assert_double_eq_tol(r.errors, 14, 1e-9);
    ck_assert_uint_eq(r.n_endpoints, 2);
    ck_assert_str_eq(r.endpoints[0].endpoint, "/a");
    ck_assert_double_eq_tol(r.endpoints[0].requests, 7, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[0].errors, 4, 1e-9);
    /* Weighted ranks: 10 ms covers 1/7, 20 ms 3/7, 30 ms the rest (read
     * from the rollups' histograms: within 2%). */
    ck_assert(r.endpoints[0].has_latency);
    ck_assert_double_eq_tol(r.endpoints[0].p50_ms, 30, 30 * 0.02);
    ck_assert_double_eq_tol(r.endpoints[0].p99_ms, 30, 30 * 0.02);
    ck_assert_str_eq(r.endpoints[1].endpoint, "/b");
    ck_assert_double_eq_tol(r.endpoints[1].requests, 0, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[1].errors, 10, 1e-9);
    ck_assert(!r.endpoints[1].has_latency);
    tlm__dash_result_free(&r);

    struct tlm__dash_query qs = {.from_ms = 0,
        .to_ms = 10000,
        .environment = "sandbox",
        .max_endpoints = 100};
    ck_assert_int_eq(tlm__store_dashboard(st, &qs, &r), 0);
    ck_assert_double_eq_tol(r.events, 1, 1e-9);
    tlm__dash_result_free(&r);
    tlm__store_close(st);
}
END_TEST

/* Status 0 is a call that got no HTTP response: a failed call, so an error
 * like a 5xx; 4xx are not errors. */
START_TEST(store_dashboard_status_zero_is_error)
{
    size_t a, d;
    struct spec sp[] = {
        {"request", "/c", 0, 5000, 1, 1000, NULL},
        {"request", "/c", 0, 4000, 0.5, 2000, NULL},
        {"request", "/c", 404, 3, 1, 3000, NULL},
        {"request", "/c", 200, 2, 1, 4000, NULL},
    };
    struct tlm__store *st = open_store();
    insert(st, sp, sizeof(sp) / sizeof(sp[0]), 1, &a, &d);
    struct tlm__dash_query q = {.from_ms = 0,
        .to_ms = 10000,
        .environment = "production",
        .max_endpoints = 100};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, &r), 0);
    ck_assert_double_eq_tol(r.errors, 3, 1e-9);
    ck_assert_uint_eq(r.n_endpoints, 1);
    ck_assert_double_eq_tol(r.endpoints[0].requests, 5, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[0].errors, 3, 1e-9);
    tlm__dash_result_free(&r);
    tlm__store_close(st);
}
END_TEST

START_TEST(store_dashboard_percentiles_unweighted)
{
    size_t a, d;
    struct spec sp[100];
    for (int i = 0; i < 100; i++)
        sp[i] = (struct spec) {
            "request", "/p", 200, (double)(100 - i), 1, 1000 + i, NULL};
    struct tlm__store *st = open_store();
    insert(st, sp, 100, 1, &a, &d);
    struct tlm__dash_query q = {.from_ms = 0,
        .to_ms = 10000,
        .environment = "production",
        .max_endpoints = 100};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, &r), 0);
    ck_assert_uint_eq(r.n_endpoints, 1);
    ck_assert_double_eq_tol(r.endpoints[0].p50_ms, 50, 50 * 0.02);
    ck_assert_double_eq_tol(r.endpoints[0].p95_ms, 95, 95 * 0.02);
    ck_assert_double_eq_tol(r.endpoints[0].p99_ms, 99, 99 * 0.02);
    tlm__dash_result_free(&r);
    tlm__store_close(st);
}
END_TEST

struct page {
    int n;
    char first[64];
};

static int
visit(void *ctx, const char *payload, size_t len)
{
    struct page *p = ctx;
    if (p->n++ == 0)
        snprintf(p->first, sizeof(p->first), "%.*s", (int)len, payload);
    return 0;
}

START_TEST(store_events_pagination)
{
    size_t a, d;
    struct spec sp[25];
    for (int i = 0; i < 25; i++)
        sp[i] = (struct spec) {
            i % 5 == 0 ? "error" : "request", "/e", 200, 1, 1, 1000, NULL};
    struct tlm__store *st = open_store();
    insert(st, sp, 25, 1, &a, &d);
    struct tlm__events_query q = {NULL, 0, 10};
    int64_t next = 0;
    int total = 0, pages = 0;
    do {
        struct page p = {0, ""};
        ck_assert_int_eq(tlm__store_list_events(st, &q, visit, &p, &next), 0);
        total += p.n;
        pages++;
        ck_assert_int_eq(p.n, pages < 3 ? 10 : 5);
        q.before = next;
    } while (next != 0);
    ck_assert_int_eq(total, 25);
    ck_assert_int_eq(pages, 3);

    /* Newest first: the last inserted (index 24, a request) leads. */
    struct page p = {0, ""};
    struct tlm__events_query qe = {"error", 0, 100};
    ck_assert_int_eq(tlm__store_list_events(st, &qe, visit, &p, &next), 0);
    ck_assert_int_eq(p.n, 5);
    ck_assert_int_eq(next, 0);
    ck_assert_str_eq(p.first, "{\"type\":\"error\"}");
    tlm__store_close(st);
}
END_TEST

/* Events with the given id numbers (duplicates allowed), payload naming
 * the index in the batch so the stored copy can be told apart. */
static void
insert_ids(struct tlm__store *st, const int *num, size_t n, bool *dup,
    size_t *accepted, size_t *dups)
{
    struct tlm__store_event *ev = calloc(n, sizeof(*ev));
    char(*payload)[32] = calloc(n, sizeof(*payload));
    for (size_t i = 0; i < n; i++) {
        struct tlm__event *e = &ev[i].ev;
        snprintf(e->id, sizeof(e->id), "0190a000-0000-7000-8000-%012d", num[i]);
        e->type = TLM_EVENT_REQUEST;
        e->ts_ms = 1000;
        e->environment = "production";
        e->sample_rate = 1.0;
        e->endpoint = "/d";
        snprintf(payload[i], sizeof(payload[i]), "{\"i\":%zu}", i);
        ev[i].payload = payload[i];
        ev[i].payload_len = strlen(payload[i]);
        ev[i].duplicate = !dup[i]; /* must be overwritten */
    }
    struct tlm__store_batch b = {.received_ms = 5, .events = ev, .n_events = n};
    b.meta.event_count = n;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, accepted, dups), 0);
    for (size_t i = 0; i < n; i++)
        dup[i] = ev[i].duplicate;
    free(payload);
    free(ev);
}

/* 150 events are cut into statements of 64, 64, 16, 4 and 1 rows; copies
 * of one id inside a statement, across statements and from an earlier
 * batch must each be reported exactly, the first copy winning. */
START_TEST(store_dedupe_exact_per_event)
{
    enum { N = 150 };
    int num[N];
    bool dup[N] = {false};
    size_t a, d;
    struct tlm__store *st = open_store();
    int old[] = {7, 100, 149};
    bool od[3] = {false};
    insert_ids(st, old, 3, od, &a, &d);
    ck_assert_uint_eq(a, 3);
    for (int i = 0; i < N; i++)
        num[i] = 1000 + i;
    num[10] = 7; /* stored by the earlier batch */
    num[20] = 1005; /* copy of index 5, same statement */
    num[70] = 1001; /* copy of index 1, next statement */
    num[130] = 100; /* earlier batch, in the 16-row statement */
    num[148] = 1147; /* copy of index 147, in the 1-row statements */
    num[149] = 1146; /* copy of index 146 */
    insert_ids(st, num, N, dup, &a, &d);
    ck_assert_uint_eq(d, 6);
    ck_assert_uint_eq(a, N - 6);
    for (int i = 0; i < N; i++) {
        bool want
            = i == 10 || i == 20 || i == 70 || i == 130 || i == 148 || i == 149;
        ck_assert_msg(dup[i] == want, "event %d: duplicate %d", i, dup[i]);
    }
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 3 + N - 6);
    /* The first copy is the one kept. */
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE "
                            "payload = '{\"i\":5}' AND id = "
                            "x'0190a000000070008000000000001005'"),
        1);
}
END_TEST

START_TEST(store_whole_batch_of_duplicates)
{
    int num[70];
    bool dup[70] = {false};
    size_t a, d;
    for (int i = 0; i < 70; i++)
        num[i] = i;
    struct tlm__store *st = open_store();
    insert_ids(st, num, 70, dup, &a, &d);
    ck_assert_uint_eq(a, 70);
    insert_ids(st, num, 70, dup, &a, &d);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(d, 70);
    for (int i = 0; i < 70; i++)
        ck_assert(dup[i]);
    tlm__store_close(st);
}
END_TEST

/* Schema version 1 as released, with three events (rowids 1, 2, 5), a bad
 * row and a batch header. */
static const char v1_database[]
    = "PRAGMA journal_mode=WAL;"
      "CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY,"
      " applied_ms INTEGER NOT NULL);"
      "INSERT INTO schema_version VALUES(1, 0);"
      "CREATE TABLE events (id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
      " ts_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
      " environment TEXT NOT NULL, endpoint TEXT, method TEXT,"
      " status INTEGER, response_time_ms REAL, user_id TEXT,"
      " organization_id TEXT, access_tier TEXT, sample_rate REAL NOT NULL,"
      " error_code TEXT, error_message TEXT, payload TEXT NOT NULL);"
      "CREATE INDEX events_env_ts ON events(environment, ts_ms);"
      "CREATE INDEX events_endpoint_ts ON events(endpoint, ts_ms);"
      "CREATE TABLE bad_rows (received_ms INTEGER NOT NULL, batch_id TEXT,"
      " reason TEXT NOT NULL, raw TEXT NOT NULL);"
      "CREATE TABLE batches (batch_id TEXT UNIQUE, received_ms INTEGER NOT"
      " NULL, sent_at TEXT, sdk_name TEXT, sdk_version TEXT, sdk_binding"
      " TEXT, client_stats TEXT, event_count INTEGER NOT NULL);"
      "INSERT INTO events(rowid, id, type, ts_ms, received_ms, environment,"
      " endpoint, method, status, response_time_ms, user_id, sample_rate,"
      " payload) VALUES"
      " (1, '0190a000-0000-7000-8000-000000000001', 'request', 1000, 5,"
      " 'production', '/v1', 'GET', 200, 10, 'u1', 1, '{\"n\":1}'),"
      " (2, '0190a000-0000-7000-8000-000000000010', 'error', 2000, 5,"
      " 'production', '/v1', NULL, NULL, NULL, 'u2', 0.5, '{\"n\":2}'),"
      " (5, '0190a000-0000-7000-8000-0000000000ff', 'request', 3000, 5,"
      " 'production', '/v1', 'GET', 503, 30, 'u3', 1, '{\"n\":5}');"
      "INSERT INTO bad_rows VALUES(5, 'b1', 'id: expected', '{}');"
      "INSERT INTO batches VALUES('b1', 5, NULL, NULL, NULL, NULL, NULL, 4);";

START_TEST(store_migrates_version_1_in_place)
{
    exec_file(v1_database);
    struct tlm__store *st = open_store();

    /* Rows, their order and their cursors (rowid -> seq) are kept. */
    struct tlm__events_query q = {NULL, 0, 10};
    struct page p = {0, ""};
    int64_t next = 0;
    ck_assert_int_eq(tlm__store_list_events(st, &q, visit, &p, &next), 0);
    ck_assert_int_eq(p.n, 3);
    ck_assert_str_eq(p.first, "{\"n\":5}");
    q.before = 5;
    q.limit = 1;
    p = (struct page) {0, ""};
    ck_assert_int_eq(tlm__store_list_events(st, &q, visit, &p, &next), 0);
    ck_assert_str_eq(p.first, "{\"n\":2}");
    ck_assert_int_eq(next, 2);

    /* Old ids still dedupe. */
    int num[2] = {10, 11}; /* ...010 exists, ...011 is new */
    bool dup[2] = {false, false};
    size_t a, d;
    insert_ids(st, num, 2, dup, &a, &d);
    ck_assert(dup[0] && !dup[1]);
    (void)a;
    (void)d;

    /* The dashboard sees the migrated rows (weights, errors, latency). */
    struct tlm__dash_query dq = {.from_ms = 0,
        .to_ms = 10000,
        .environment = "production",
        .max_endpoints = 100};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &dq, &r), 0);
    ck_assert_double_eq_tol(r.events, 5, 1e-9); /* 1 + 2 + 1 + 1 new */
    ck_assert_double_eq_tol(r.errors, 3, 1e-9);
    ck_assert_uint_eq(r.n_endpoints, 2);
    ck_assert_str_eq(r.endpoints[0].endpoint, "/v1");
    ck_assert_double_eq_tol(r.endpoints[0].p99_ms, 30, 30 * 0.02);
    tlm__dash_result_free(&r);
    tlm__store_close(st);

    ck_assert_int_eq(scalar("SELECT MAX(version) FROM schema_version"), 10);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 4);
    ck_assert_int_eq(scalar("SELECT seq FROM events WHERE id = "
                            "x'0190a000000070008000000000000001'"),
        1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM bad_rows"), 1);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM batches WHERE batch_id = 'b1'"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM sqlite_master WHERE name "
                            "IN ('events_v2', 'events_endpoint_ts')"),
        0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pragma_integrity_check "
                            "WHERE integrity_check = 'ok'"),
        1);
}
END_TEST

/* A version-1 row whose id is not a UUID (written by hand) stops the
 * upgrade with a message, leaving the database at version 1. */
START_TEST(store_migration_failure_leaves_version_1)
{
    exec_file(v1_database);
    exec_file("UPDATE events SET id = 'nope' WHERE rowid = 2");
    struct tlm__store *st = NULL;
    char err[256] = "";
    ck_assert_int_eq(tlm__store_open(url, &st, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "UUID"));
    ck_assert_int_eq(scalar("SELECT MAX(version) FROM schema_version"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 3);
}
END_TEST

/* More than the checkpoint threshold (32 MiB of WAL) in many batches while
 * the checkpoint thread copies pages concurrently: nothing is lost, the
 * file is sound, and closing removes the WAL. */
START_TEST(store_survives_concurrent_checkpoints)
{
    enum { BATCHES = 24, PER = 250, BIG = 8192 };
    char *big = malloc(BIG + 1);
    struct tlm__store_event *ev = calloc(PER, sizeof(*ev));
    size_t a, d, total = 0;
    memset(big, 'x', BIG);
    big[0] = '"';
    big[BIG - 1] = '"';
    big[BIG] = '\0';
    struct tlm__store *st = open_store();
    for (int k = 0; k < BATCHES; k++) {
        for (int i = 0; i < PER; i++) {
            struct tlm__event *e = &ev[i].ev;
            snprintf(e->id, sizeof(e->id), "0190a000-0000-7000-8000-%012d",
                k * PER + i);
            e->type = TLM_EVENT_REQUEST;
            e->ts_ms = 1000 + k;
            e->environment = "production";
            e->sample_rate = 1.0;
            ev[i].payload = big;
            ev[i].payload_len = BIG;
        }
        struct tlm__store_batch b
            = {.received_ms = 5, .events = ev, .n_events = PER};
        ck_assert_int_eq(tlm__store_insert_batch(st, &b, &a, &d), 0);
        total += a;
    }
    tlm__store_close(st);
    free(ev);
    free(big);
    ck_assert_uint_eq(total, BATCHES * PER);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), BATCHES * PER);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pragma_integrity_check "
                            "WHERE integrity_check = 'ok'"),
        1);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", file);
    ck_assert_int_ne(access(wal, F_OK), 0);
}
END_TEST

/* Retention: events stamped before the cutoff go, the rest stay, and a
 * purge is chunked (more rows than one chunk of 4096). */
START_TEST(store_purge_removes_only_old_events)
{
    enum { OLD = 5000, NEW = 7 };
    const int64_t day = 24LL * 3600 * 1000;
    struct spec *sp = calloc(OLD + NEW, sizeof(*sp));
    size_t acc, dup;
    uint64_t removed = 0;
    for (int i = 0; i < OLD + NEW; i++) {
        sp[i].type = "request";
        sp[i].endpoint = "GET /a";
        sp[i].status = 200;
        sp[i].rt = 1;
        sp[i].ts_ms = i < OLD ? day + i : 3 * day + i;
    }
    struct tlm__store *st = open_store();
    insert(st, sp, OLD + NEW, 1, &acc, &dup);
    ck_assert_uint_eq(acc, OLD + NEW);
    ck_assert_int_eq(tlm__store_purge(st, 2 * day, &removed), 0);
    ck_assert_uint_eq(removed, OLD);
    ck_assert_int_eq(tlm__store_purge(st, 2 * day, &removed), 0);
    ck_assert_uint_eq(removed, 0);
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), NEW);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM events WHERE ts_ms < 172800000"), 0);
    free(sp);
}
END_TEST

/* Error groups: an error event updates its group in the batch's
 * transaction (a replay does not), and a purge takes its minute counts and
 * users with the old events while the group keeps its totals. */
START_TEST(store_error_groups_follow_events_and_purge)
{
    const int64_t day = 24LL * 3600 * 1000;
    struct tlm__error_info info = {
        .group_id = "00112233445566778899aabbccddeeff",
        .fingerprint = "ffeeddccbbaa99887766554433221100",
        .title = "E: boom",
        .culprit = "f (a.c)",
        .grouping_version = 1,
        .severity = 3,
    };
    struct tlm__store_event ev[2];
    size_t acc = 0, dup = 0;
    uint64_t removed = 0;
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 2; i++) {
        struct tlm__event *e = &ev[i].ev;
        snprintf(e->id, sizeof(e->id), "0190b000-0000-7000-8000-%012d", i + 1);
        e->type = TLM_EVENT_ERROR;
        e->ts_ms = i == 0 ? day : 3 * day;
        e->environment = "production";
        e->sample_rate = 1;
        e->endpoint = "GET /x";
        e->user_id = i == 0 ? "u1" : "u2";
        e->error_message = "boom";
        ev[i].payload = "{\"type\":\"error\"}";
        ev[i].payload_len = strlen(ev[i].payload);
        ev[i].error = &info;
    }
    struct tlm__store *st = open_store();
    struct tlm__store_batch b
        = {.received_ms = 3 * day, .events = ev, .n_events = 2};
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &acc, &dup), 0);
    ck_assert_uint_eq(b.alerts_raised, 1); /* critical: at once */
    ev[0].duplicate = ev[1].duplicate = false;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &acc, &dup), 0);
    ck_assert_uint_eq(dup, 2);
    ck_assert_uint_eq(b.alerts_raised, 0);
    ck_assert_int_eq(tlm__store_purge(st, 2 * day, &removed), 0);
    tlm__store_close(st);
    ck_assert_int_eq(
        scalar("SELECT CAST(events AS INTEGER) FROM error_groups"), 2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM error_group_minutes"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM error_group_users"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM error_alerts"), 1);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM events WHERE group_id IS NOT NULL"), 1);
}
END_TEST

/* Common workflows: sessions split by 30 minutes of silence, pairs and
 * triples counted per user path, the path carried across batches, and a
 * replayed batch counted once. */
static void
walk_batch(struct tlm__store *st, const char *const *users,
    const char *const *endpoints, const int64_t *ts, size_t n, int first)
{
    struct tlm__store_event *ev = calloc(n, sizeof(*ev));
    size_t acc = 0, dup = 0;
    for (size_t i = 0; i < n; i++) {
        struct tlm__event *e = &ev[i].ev;
        snprintf(e->id, sizeof(e->id), "0190c000-0000-7000-8000-%012d",
            first + (int)i);
        e->type = TLM_EVENT_REQUEST;
        e->ts_ms = ts[i];
        e->environment = "production";
        e->sample_rate = 1;
        e->endpoint = endpoints[i];
        e->user_id = users[i];
        e->has_status = true;
        e->status = 200;
        ev[i].payload = "{}";
        ev[i].payload_len = 2;
    }
    struct tlm__store_batch b
        = {.received_ms = ts[n - 1], .events = ev, .n_events = n};
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &acc, &dup), 0);
    free(ev);
}

START_TEST(store_workflows_sessions_and_sequences)
{
    const int64_t t0 = 1796428800000LL; /* a UTC midnight */
    const int64_t m = 60000;
    const char *const users[] = {"A", "A", "A", "B", "A", "A", "B"};
    const char *const eps[] = {"/a", "/b", "/c", "/a", "/a", "/b", "/b"};
    const int64_t ts[] = {t0, t0 + m, t0 + 2 * m, t0 + 3 * m, t0 + 40 * m,
        t0 + 41 * m, t0 + 4 * m};
    struct tlm__store *st = open_store();
    struct tlm__workflow_result w;
    walk_batch(st, users, eps, ts, 7, 1);
    walk_batch(st, users, eps, ts, 7, 1); /* a replay: all duplicates */
    /* The next batch continues A's open session: b -> c, a -> b -> c. */
    const char *const u2[] = {"A"};
    const char *const e2[] = {"/c"};
    const int64_t t2[] = {t0 + 42 * m};
    walk_batch(st, u2, e2, t2, 1, 100);
    ck_assert_int_eq(tlm__store_workflows(st, t0, t0 + 3600000, NULL, &w), 0);
    ck_assert(w.sessions == 3); /* A twice, B once */
    ck_assert_uint_ge(w.n_pairs, 2);
    ck_assert_str_eq(w.pairs[0].step[0], "/a");
    ck_assert_str_eq(w.pairs[0].step[1], "/b");
    ck_assert(w.pairs[0].count == 3); /* A, A again, B */
    ck_assert(w.pairs[0].probability == 1.0);
    ck_assert_str_eq(w.pairs[1].step[0], "/b");
    ck_assert_str_eq(w.pairs[1].step[1], "/c");
    ck_assert(w.pairs[1].count == 2);
    ck_assert_uint_eq(w.n_triples, 1);
    ck_assert_str_eq(w.triples[0].step[2], "/c");
    ck_assert(w.triples[0].count == 2);
    tlm__workflow_result_free(&w);
    /* Another environment has none. */
    ck_assert_int_eq(
        tlm__store_workflows(st, t0, t0 + 3600000, "sandbox", &w), 0);
    ck_assert(w.sessions == 0);
    ck_assert_uint_eq(w.n_pairs, 0);
    tlm__workflow_result_free(&w);
    tlm__store_close(st);
}
END_TEST

/* The batch header records which key sent it. */
START_TEST(store_batch_records_key_id)
{
    struct tlm__store_event ev;
    size_t acc, dup;
    memset(&ev, 0, sizeof(ev));
    snprintf(
        ev.ev.id, sizeof(ev.ev.id), "0190a000-0000-7000-8000-000000000001");
    ev.ev.type = TLM_EVENT_REQUEST;
    ev.ev.ts_ms = 1;
    ev.ev.environment = "sandbox";
    ev.ev.sample_rate = 1;
    ev.payload = "{}";
    ev.payload_len = 2;
    struct tlm__store_batch b
        = {.received_ms = 5, .events = &ev, .n_events = 1};
    b.meta.batch_id = "b-1";
    b.meta.key_id = "abc123";
    b.meta.event_count = 1;
    struct tlm__store *st = open_store();
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &acc, &dup), 0);
    tlm__store_close(st);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM batches WHERE key_id = 'abc123'"), 1);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM events WHERE environment = 'sandbox'"), 1);
}
END_TEST

/* The webhook outbox: a claim leases its rows (a second claim inside the
 * lease gets nothing), a failed attempt reschedules with the attempt
 * counted and logged, a delivered one is never claimed again. */
START_TEST(store_outbox_leases_and_logs_attempts)
{
    struct tlm__store *st = open_store();
    struct tlm__feedback_row r = {
        .id = "0190a000-0000-7000-8000-000000000001",
        .organization = "acme",
        .feedback_type = "issue",
        .category = "bug",
        .environment = "production",
        .created_ms = 1000,
        .doc = "{}",
        .doc_len = 2,
    };
    struct tlm__outbox_item it = {
        .id = "0190a000-0000-7000-8000-0000000000aa",
        .type = "feedback.issue",
        .body = "{\"x\":1}",
        .body_len = 7,
    };
    struct tlm__outbox_row *rows = NULL;
    size_t n = 0;
    char *existing = NULL;
    ck_assert_int_eq(
        tlm__store_feedback_insert(st, &r, "k1", &it, 1, &existing), 0);
    /* The same idempotency key: the stored document, no second row. */
    ck_assert_int_eq(
        tlm__store_feedback_insert(st, &r, "k1", &it, 1, &existing),
        TLM_FR_REPLAY);
    ck_assert_str_eq(existing, "{}");
    free(existing);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox"), 1);

    ck_assert_int_eq(tlm__store_outbox_claim(st, 2000, 500, 8, &rows, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rows[0].body, "{\"x\":1}");
    ck_assert_uint_eq(rows[0].attempts, 0);
    tlm__outbox_rows_free(rows, n);
    ck_assert_int_eq(tlm__store_outbox_claim(st, 2100, 500, 8, &rows, &n), 0);
    ck_assert_uint_eq(n, 0); /* leased */

    struct tlm__outbox_attempt a = {.id = it.id,
        .attempt = 1,
        .http_status = 500,
        .error = "HTTP 500",
        .at_ms = 2200,
        .next_attempt_ms = 3000};
    ck_assert_int_eq(tlm__store_outbox_record(st, &a), 0);
    ck_assert_int_eq(tlm__store_outbox_claim(st, 2900, 500, 8, &rows, &n), 0);
    ck_assert_uint_eq(n, 0); /* not due yet */
    ck_assert_int_eq(tlm__store_outbox_claim(st, 3000, 500, 8, &rows, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(rows[0].attempts, 1);
    tlm__outbox_rows_free(rows, n);
    a.attempt = 2;
    a.http_status = 200;
    a.error = NULL;
    a.delivered = true;
    a.at_ms = 3100;
    a.next_attempt_ms = 0;
    ck_assert_int_eq(tlm__store_outbox_record(st, &a), 0);
    ck_assert_int_eq(tlm__store_outbox_claim(st, 999999, 500, 8, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries"), 2);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM outbox WHERE state = 'delivered'"), 1);
    tlm__store_close(st);
}
END_TEST

/* Analytics rollups: one request per (tier, endpoint, environment, ts). */
struct tspec {
    const char *endpoint;
    const char *tier;
    const char *env;
    int status;
    double rt;
    int64_t ts_ms;
};

static void
insert_tiered(struct tlm__store *st, const struct tspec *sp, size_t n,
    int first, size_t *accepted)
{
    struct tlm__store_event *ev = calloc(n, sizeof(*ev));
    size_t dups;
    for (size_t i = 0; i < n; i++) {
        struct tlm__event *e = &ev[i].ev;
        snprintf(e->id, sizeof(e->id), "0190b000-0000-7000-8000-%012d",
            first + (int)i);
        e->type = TLM_EVENT_REQUEST;
        e->ts_ms = sp[i].ts_ms;
        e->environment = sp[i].env;
        e->sample_rate = 1;
        e->endpoint = sp[i].endpoint;
        e->access_tier = sp[i].tier;
        e->has_status = true;
        e->status = sp[i].status;
        e->has_response_time = true;
        e->response_time_ms = sp[i].rt;
        /* The payload carries the tier too (what a backfill reads). */
        ev[i].payload = sp[i].tier == NULL ? "{\"type\":\"request\"}"
            : strcmp(sp[i].tier, "free") == 0
            ? "{\"type\":\"request\",\"access_tier\":\"free\"}"
            : "{\"type\":\"request\",\"access_tier\":\"pro\"}";
        ev[i].payload_len = strlen(ev[i].payload);
    }
    struct tlm__store_batch b = {.received_ms = 5, .events = ev, .n_events = n};
    b.meta.event_count = n;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, accepted, &dups), 0);
    free(ev);
}

static const struct tlm__dash_group *
group(const struct tlm__dash_group *g, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(g[i].name, name) == 0)
            return &g[i];
    }
    return NULL;
}

#define MIN_MS 60000LL

/* Previous window [0, 10 min): 2 requests on /a. Window [10, 20 min): /a
 * 3 (free 2, pro 1, one 503), /b 1 (pro); sandbox 2 on /a. A resent
 * batch counts once. */
START_TEST(store_rollups_filters_and_sections)
{
    const struct tspec sp[] = {
        {"/a", "free", "production", 200, 10, 1 * MIN_MS},
        {"/a", "free", "production", 200, 10, 2 * MIN_MS},
        {"/a", "free", "production", 200, 10, 10 * MIN_MS},
        {"/a", "free", "production", 503, 20, 11 * MIN_MS + 5},
        {"/a", "pro", "production", 200, 30, 19 * MIN_MS},
        {"/b", "pro", "production", 200, 40, 15 * MIN_MS},
        {"/a", "free", "sandbox", 200, 1, 12 * MIN_MS},
        {"/a", NULL, "sandbox", 200, 1, 13 * MIN_MS},
    };
    size_t n = sizeof(sp) / sizeof(sp[0]), a;
    struct tlm__store *st = open_store();
    struct tlm__dash_result *r = malloc(sizeof(*r));
    insert_tiered(st, sp, n, 1, &a);
    ck_assert_uint_eq(a, n);
    insert_tiered(st, sp, n, 1, &a);
    ck_assert_uint_eq(a, 0);
    struct tlm__dash_query q = {.from_ms = 10 * MIN_MS,
        .to_ms = 20 * MIN_MS,
        .environment = "production",
        .max_endpoints = 100};
    ck_assert_int_eq(tlm__store_dashboard(st, &q, r), 0);
    ck_assert(r->rollups);
    ck_assert_double_eq_tol(r->events, 4, 1e-9);
    ck_assert_double_eq_tol(r->errors, 1, 1e-9);
    ck_assert_uint_eq(r->n_endpoints, 2);
    ck_assert_str_eq(r->endpoints[0].endpoint, "/a");
    ck_assert_double_eq_tol(r->endpoints[0].share, 0.75, 1e-9);
    ck_assert_double_eq_tol(r->endpoints[0].previous_requests, 2, 1e-9);
    ck_assert(r->endpoints[0].has_trend);
    ck_assert_double_eq_tol(r->endpoints[0].trend, 1.5, 1e-9);
    ck_assert(!r->endpoints[1].has_trend);
    double spark = 0;
    for (int i = 0; i < TLM_DASH_SPARK; i++)
        spark += r->endpoints[0].sparkline[i];
    ck_assert_double_eq_tol(spark, 3, 1e-9);
    /* Minute points over a 10-minute window; 11:00 holds the 503. */
    ck_assert_int_eq(r->bucket_ms, MIN_MS);
    ck_assert_uint_eq(r->n_points, 10);
    ck_assert_int_eq(r->points[1].t_ms, 11 * MIN_MS);
    ck_assert_double_eq_tol(r->points[1].errors, 1, 1e-9);
    ck_assert(r->points[1].has_p95);
    ck_assert_double_eq_tol(r->points[1].p95_ms, 20, 0.4);
    ck_assert(!r->points[2].has_p95);
    ck_assert_uint_eq(r->n_tiers, 2);
    ck_assert_str_eq(r->tiers[0].name, "free");
    ck_assert_double_eq_tol(r->tiers[0].requests, 2, 1e-9);
    ck_assert_double_eq_tol(r->tiers[0].errors, 1, 1e-9);
    /* Environments ignore the environment filter. */
    ck_assert_uint_eq(r->n_envs, 2);
    ck_assert_double_eq_tol(
        group(r->envs, r->n_envs, "sandbox")->requests, 2, 1e-9);
    ck_assert_double_eq_tol(
        group(r->envs, r->n_envs, "production")->requests, 4, 1e-9);
    ck_assert_double_eq_tol(r->events_per_s, 6.0 / 600, 1e-9);
    ck_assert_double_gt(r->store_bytes, 0);
    tlm__dash_result_free(r);

    q.tier = "pro";
    ck_assert_int_eq(tlm__store_dashboard(st, &q, r), 0);
    ck_assert_double_eq_tol(r->events, 2, 1e-9);
    ck_assert_uint_eq(r->n_endpoints, 2);
    ck_assert_uint_eq(r->n_tiers, 1);
    tlm__dash_result_free(r);

    q.tier = NULL;
    q.endpoint = "/b";
    ck_assert_int_eq(tlm__store_dashboard(st, &q, r), 0);
    ck_assert_double_eq_tol(r->events, 1, 1e-9);
    ck_assert_uint_eq(r->n_endpoints, 1);
    ck_assert_double_eq_tol(r->endpoints[0].p50_ms, 40, 40 * 0.02);
    tlm__dash_result_free(r);

    /* "" selects the requests sent without a tier. */
    q = (struct tlm__dash_query) {.from_ms = 0,
        .to_ms = 20 * MIN_MS,
        .environment = "sandbox",
        .max_endpoints = 100,
        .tier = ""};
    ck_assert_int_eq(tlm__store_dashboard(st, &q, r), 0);
    ck_assert_double_eq_tol(r->events, 1, 1e-9);
    tlm__dash_result_free(r);
    free(r);
    tlm__store_close(st);
}
END_TEST

/* Minutes older than the cutoff fold into hours, hours into days; the
 * dashboard over the whole range sees the same figures before and after,
 * and a second pass folds nothing. */
START_TEST(store_rollups_compact_keeps_figures)
{
    const int64_t hour = 60 * MIN_MS, day = 24 * hour;
    struct tspec sp[300];
    size_t a;
    uint64_t folded = 0;
    for (int i = 0; i < 300; i++)
        sp[i] = (struct tspec) {i % 3 == 0 ? "/x" : "/y", "free", "production",
            i % 10 == 0 ? 500 : 200, 1 + i % 50, (int64_t)i * 17 * MIN_MS};
    struct tlm__store *st = open_store();
    struct tlm__dash_result *x = malloc(sizeof(*x)), *y = malloc(sizeof(*y));
    insert_tiered(st, sp, 300, 1, &a);
    struct tlm__dash_query q = {.from_ms = 0,
        .to_ms = 10 * day,
        .environment = "production",
        .max_endpoints = 100};
    ck_assert_int_eq(tlm__store_dashboard(st, &q, x), 0);
    int minutes = scalar("SELECT count(*) FROM rollups WHERE res = 60000");
    ck_assert_int_eq(minutes, 300);
    ck_assert_int_eq(tlm__store_rollup_compact(st, 2 * day, day, &folded), 0);
    ck_assert_uint_gt(folded, 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups WHERE res = 60000"
                            " AND t_ms < 2 * 86400000"),
        0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups WHERE res = 3600000"
                            " AND t_ms < 86400000"),
        0);
    ck_assert_int_gt(
        scalar("SELECT count(*) FROM rollups WHERE res = 86400000"), 0);
    ck_assert_int_eq(tlm__store_dashboard(st, &q, y), 0);
    ck_assert_double_eq_tol(x->events, y->events, 1e-9);
    ck_assert_double_eq_tol(x->errors, y->errors, 1e-9);
    ck_assert_uint_eq(x->n_endpoints, y->n_endpoints);
    for (size_t i = 0; i < x->n_endpoints; i++) {
        ck_assert_double_eq_tol(
            x->endpoints[i].requests, y->endpoints[i].requests, 1e-9);
        ck_assert_double_eq_tol(
            x->endpoints[i].p95_ms, y->endpoints[i].p95_ms, 1e-9);
    }
    tlm__dash_result_free(x);
    tlm__dash_result_free(y);
    ck_assert_int_eq(tlm__store_rollup_compact(st, 2 * day, day, &folded), 0);
    ck_assert_uint_eq(folded, 0);
    free(x);
    free(y);
    tlm__store_close(st);
}
END_TEST

/* A database from before the rollups (its events stored, no rollups
 * table) gets them from its events when it is opened. */
START_TEST(store_rollups_backfilled_on_upgrade)
{
    const struct tspec sp[] = {
        {"/a", "free", "production", 200, 10, 1000},
        {"/a", "free", "production", 0, 20, 2000},
    };
    size_t a;
    struct tlm__store *st = open_store();
    struct tlm__dash_result *r = malloc(sizeof(*r));
    insert_tiered(st, sp, 2, 1, &a);
    tlm__store_close(st);
    exec_file("DROP TABLE rollups; DROP TABLE report_runs;"
              " DROP TABLE analytics_cursor;"
              " ALTER TABLE events DROP COLUMN user_id;"
              " ALTER TABLE events DROP COLUMN access_tier;"
              " DELETE FROM schema_version WHERE version >= 8;");
    st = open_store();
    struct tlm__dash_query q = {.from_ms = 0,
        .to_ms = 10000,
        .environment = "production",
        .max_endpoints = 100,
        .tier = "free"};
    ck_assert_int_eq(tlm__store_dashboard(st, &q, r), 0);
    ck_assert_double_eq_tol(r->events, 2, 1e-9);
    ck_assert_double_eq_tol(r->errors, 1, 1e-9);
    ck_assert_double_eq_tol(r->endpoints[0].p99_ms, 20, 20 * 0.02);
    tlm__dash_result_free(r);
    free(r);
    tlm__store_close(st);
}
END_TEST

/* analytics.rollup_retention_days: rows (of any resolution) starting
 * before the cut go, the others stay. */
START_TEST(store_rollups_purged_before_cut)
{
    const int64_t day = 86400000LL;
    const struct tspec sp[] = {
        {"/a", "", "production", 200, 10, 1000},
        {"/a", "", "production", 200, 10, 3 * day + 1000},
    };
    size_t a;
    uint64_t removed = 0, folded = 0;
    struct tlm__store *st = open_store();
    insert_tiered(st, sp, 2, 1, &a);
    ck_assert_int_eq(
        tlm__store_rollup_compact(st, 4 * day, 4 * day, &folded), 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups"), 2);
    ck_assert_int_eq(tlm__store_rollup_purge(st, 2 * day, &removed), 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM rollups WHERE t_ms < 86400000 * 2"), 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 2);
    tlm__store_close(st);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, store_schema_created);
    tcase_add_test(tc, store_migration_idempotent_on_reopen);
    tcase_add_test(tc, store_refuses_newer_schema);
    tcase_add_test(tc, store_open_errors_name_the_problem);
    tcase_add_test(tc, store_insert_dedupe);
    tcase_add_test(tc, store_dashboard_weighted_totals);
    tcase_add_test(tc, store_dashboard_status_zero_is_error);
    tcase_add_test(tc, store_dashboard_percentiles_unweighted);
    tcase_add_test(tc, store_events_pagination);
    tcase_add_test(tc, store_dedupe_exact_per_event);
    tcase_add_test(tc, store_whole_batch_of_duplicates);
    tcase_add_test(tc, store_migrates_version_1_in_place);
    tcase_add_test(tc, store_migration_failure_leaves_version_1);
    tcase_add_test(tc, store_survives_concurrent_checkpoints);
    tcase_add_test(tc, store_purge_removes_only_old_events);
    tcase_add_test(tc, store_batch_records_key_id);
    tcase_add_test(tc, store_outbox_leases_and_logs_attempts);
    tcase_add_test(tc, store_error_groups_follow_events_and_purge);
    tcase_add_test(tc, store_rollups_filters_and_sections);
    tcase_add_test(tc, store_rollups_compact_keeps_figures);
    tcase_add_test(tc, store_rollups_backfilled_on_upgrade);
    tcase_add_test(tc, store_rollups_purged_before_cut);
    tcase_add_test(tc, store_workflows_sessions_and_sequences);
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
