/* Check suite for server/store_pg*.c against a real PostgreSQL (the base URL
 * in TLM_TEST_PG_URL, e.g. from scripts/pg; without it the suite exits 77,
 * "skipped"). Every case gets a database of its own, dropped afterwards:
 * schema and migrations, exact dedupe (in a batch, across batches, across
 * threads and two stores), the dashboard and listing against the SQLite
 * backend on the same rows, day partitions and retention, keys, readiness
 * and reconnecting after the server dropped the sessions. Never touches a
 * database it did not create (tlm_unit_<pid>_<n>). */
#include "store.h"

#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY ((int64_t)86400000)
#define D0 ((int64_t)20454 * DAY) /* 2026-01-01 */

static const char *base_url;
static char db_name[64];
static char url[512];
static char sqlite_dir[64];

/* base_url with its database replaced by name. */
static void
url_for(const char *name, char *out, size_t size)
{
    const char *p = strstr(base_url, "://");
    const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;
    const char *query = strchr(base_url, '?');
    if (slash == NULL || (query != NULL && query < slash))
        slash = query != NULL ? query : base_url + strlen(base_url);
    snprintf(out, size, "%.*s/%s%s", (int)(slash - base_url), base_url, name,
        query != NULL ? query : "");
}

static void
quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGconn *
admin_conn(const char *db)
{
    char u[512];
    if (db != NULL)
        url_for(db, u, sizeof(u));
    PGconn *pg = PQconnectdb(db != NULL ? u : base_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    PQsetNoticeProcessor(pg, quiet, NULL);
    return pg;
}

static void
admin_exec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK
            || PQresultStatus(r) == PGRES_TUPLES_OK,
        "%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

static void
setup(void)
{
    static int counter;
    char sql[128];
    snprintf(
        db_name, sizeof(db_name), "tlm_unit_%d_%d", (int)getpid(), counter++);
    url_for(db_name, url, sizeof(url));
    PGconn *pg = admin_conn(NULL);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db_name);
    admin_exec(pg, sql);
    PQfinish(pg);
    snprintf(sqlite_dir, sizeof(sqlite_dir), "/tmp/tlm-storepg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sqlite_dir));
}

static void
teardown(void)
{
    char sql[128];
    PGconn *pg = admin_conn(NULL);
    snprintf(
        sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
    admin_exec(pg, sql);
    PQfinish(pg);
    snprintf(sql, sizeof(sql), "rm -rf %s", sqlite_dir);
    ck_assert_int_eq(system(sql), 0);
}

static struct tlm__store *
open_url(const char *u)
{
    struct tlm__store *st = NULL;
    char err[512] = "";
    ck_assert_msg(tlm__store_open(u, &st, err, sizeof(err)) == 0, "%s", err);
    return st;
}

static struct tlm__store *
open_store(void)
{
    return open_url(url);
}

/* The first column of the first row of sql in the test database. */
static long long
scalar(const char *sql)
{
    PGconn *pg = admin_conn(db_name);
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
        PQerrorMessage(pg));
    long long v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
        ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
        : -1;
    PQclear(r);
    PQfinish(pg);
    return v;
}

struct spec {
    const char *type;
    const char *endpoint;
    int status; /* -1: none */
    double rt; /* < 0: none */
    double sample_rate;
    int64_t ts_ms;
    const char *env;
};

/* Stores one batch of events from specs, ids numbered from first; the
 * batch header carries batch_id and privacy (either may be NULL). */
static void
insert_batch(struct tlm__store *st, const struct spec *sp, size_t n, int first,
    const char *batch_id, const char *privacy, size_t *accepted, size_t *dups)
{
    struct tlm__store_event *ev = calloc(n ? n : 1, sizeof(*ev));
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
        e->has_status = e->type == TLM_EVENT_REQUEST && sp[i].status >= 0;
        e->status = sp[i].status;
        e->has_response_time = e->type == TLM_EVENT_REQUEST && sp[i].rt >= 0;
        e->response_time_ms = sp[i].rt;
        ev[i].payload = sp[i].type[0] == 'e' ? "{\"type\":\"error\"}"
                                             : "{\"type\":\"request\"}";
        ev[i].payload_len = strlen(ev[i].payload);
    }
    struct tlm__store_batch b
        = {.received_ms = D0, .events = ev, .n_events = n};
    b.meta.event_count = n;
    b.meta.batch_id = batch_id;
    b.meta.privacy = privacy;
    b.meta.privacy_len = privacy != NULL ? strlen(privacy) : 0;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, accepted, dups), 0);
    free(ev);
}

static void
insert(struct tlm__store *st, const struct spec *sp, size_t n, int first,
    size_t *accepted, size_t *dups)
{
    insert_batch(st, sp, n, first, NULL, NULL, accepted, dups);
}

START_TEST(store_pg_schema_created)
{
    struct tlm__store *st = open_store();
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT MAX(version) FROM schema_version"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pg_class WHERE relname IN"
                            " ('events', 'bad_rows', 'batches', 'api_keys',"
                            " 'events_env_ts', 'events_seq')"),
        6);
    /* events is partitioned by range (relkind p), no partition yet. */
    ck_assert_int_eq(scalar("SELECT count(*) FROM pg_class WHERE relname ="
                            " 'events' AND relkind = 'p'"),
        1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pg_inherits WHERE"
                            " inhparent = 'events'::regclass"),
        0);
}
END_TEST

START_TEST(store_pg_migration_idempotent_on_reopen)
{
    size_t a, d;
    struct spec sp = {"request", "/a", 200, 1, 1, D0, NULL};
    struct tlm__store *st = open_store();
    insert(st, &sp, 1, 1, &a, &d);
    tlm__store_close(st);
    st = open_store();
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM schema_version"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 1);
}
END_TEST

START_TEST(store_pg_refuses_newer_schema)
{
    struct tlm__store *st = open_store();
    tlm__store_close(st);
    PGconn *pg = admin_conn(db_name);
    admin_exec(pg, "INSERT INTO schema_version VALUES (99, 0)");
    PQfinish(pg);
    char err[512] = "";
    ck_assert_int_eq(tlm__store_open(url, &st, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "newer"));
    ck_assert_ptr_nonnull(strstr(err, db_name));
}
END_TEST

/* A port nobody listens on (bound, never listening: refused). */
static int
dead_port(void)
{
    PGconn *pg = admin_conn(NULL);
    int port = atoi(PQport(pg)) + 1;
    PQfinish(pg);
    return port;
}

START_TEST(store_pg_open_errors_hide_the_password)
{
    struct tlm__store *st = NULL;
    char u[256], err[512] = "";
    snprintf(
        u, sizeof(u), "postgresql://bob:s3cretpw@127.0.0.1:%d/x", dead_port());
    ck_assert_int_eq(tlm__store_open(u, &st, err, sizeof(err)), -1);
    ck_assert_ptr_null(st);
    ck_assert_msg(
        strstr(err, "could not connect to postgresql://bob@127.0.0.1:") != NULL,
        "%s", err);
    ck_assert_msg(strstr(err, "s3cretpw") == NULL, "%s", err);
    /* A malformed URL whose error message would quote the password. */
    ck_assert_int_eq(tlm__store_open("postgresql://bob:s3cr%zzpw@h/x", &st, err,
                         sizeof(err)),
        -1);
    ck_assert_msg(strstr(err, "invalid connection URL") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "s3cr") == NULL, "%s", err);
    snprintf(
        u, sizeof(u), "postgres://127.0.0.1:%d/x?password=pw%%zz", dead_port());
    ck_assert_int_eq(tlm__store_open(u, &st, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "pw%zz") == NULL, "%s", err);
}
END_TEST

START_TEST(store_pg_insert_dedupe)
{
    size_t a, d;
    struct spec sp[3] = {{"request", "/a", 200, 1, 1, D0, NULL},
        {"request", "/a", 200, 1, 1, D0, NULL},
        {"error", "/a", 0, 0, 1, D0, NULL}};
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

/* Events with the given id numbers (copies allowed), at ts, payload naming
 * the index in the batch so the stored copy can be told apart. */
static void
insert_ids(struct tlm__store *st, const int *num, size_t n, int64_t ts,
    bool *dup, size_t *accepted, size_t *dups)
{
    struct tlm__store_event *ev = calloc(n, sizeof(*ev));
    char(*payload)[32] = calloc(n, sizeof(*payload));
    for (size_t i = 0; i < n; i++) {
        struct tlm__event *e = &ev[i].ev;
        snprintf(e->id, sizeof(e->id), "0190a000-0000-7000-8000-%012d", num[i]);
        e->type = TLM_EVENT_REQUEST;
        e->ts_ms = ts;
        e->environment = "production";
        e->sample_rate = 1.0;
        e->endpoint = "/d";
        snprintf(payload[i], sizeof(payload[i]), "{\"i\":%zu}", i);
        ev[i].payload = payload[i];
        ev[i].payload_len = strlen(payload[i]);
        ev[i].duplicate = dup != NULL ? !dup[i] : true; /* overwritten */
    }
    struct tlm__store_batch b
        = {.received_ms = ts, .events = ev, .n_events = n};
    b.meta.event_count = n;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, accepted, dups), 0);
    for (size_t i = 0; dup != NULL && i < n; i++)
        dup[i] = ev[i].duplicate;
    free(payload);
    free(ev);
}

/* Copies of one id inside the statement and from an earlier batch are
 * each reported exactly, the first copy winning. */
START_TEST(store_pg_dedupe_exact_per_event)
{
    enum { N = 150 };
    int num[N];
    bool dup[N] = {false};
    size_t a, d;
    struct tlm__store *st = open_store();
    int old[] = {7, 100, 149};
    bool od[3] = {false};
    insert_ids(st, old, 3, D0, od, &a, &d);
    ck_assert_uint_eq(a, 3);
    for (int i = 0; i < N; i++)
        num[i] = 1000 + i;
    num[10] = 7; /* stored by the earlier batch */
    num[20] = 1005; /* copy of index 5 */
    num[70] = 1001; /* copy of index 1 */
    num[130] = 100; /* earlier batch */
    num[148] = 1147; /* copy of index 147 */
    num[149] = 1146; /* copy of index 146 */
    insert_ids(st, num, N, D0, dup, &a, &d);
    ck_assert_uint_eq(d, 6);
    ck_assert_uint_eq(a, N - 6);
    for (int i = 0; i < N; i++) {
        bool want
            = i == 10 || i == 20 || i == 70 || i == 130 || i == 148 || i == 149;
        ck_assert_msg(dup[i] == want, "event %d: duplicate %d", i, dup[i]);
    }
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 3 + N - 6);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE"
                            " payload = '{\"i\":5}' AND id ="
                            " '0190a000-0000-7000-8000-000000001005'"),
        1);
}
END_TEST

/* A replay of a whole batch, and the documented limit: the same id with
 * another timestamp is a new event in PostgreSQL (its key is id + ts). */
START_TEST(store_pg_whole_batch_of_duplicates)
{
    int num[70];
    bool dup[70] = {false};
    size_t a, d;
    for (int i = 0; i < 70; i++)
        num[i] = i;
    struct tlm__store *st = open_store();
    insert_ids(st, num, 70, D0, dup, &a, &d);
    ck_assert_uint_eq(a, 70);
    insert_ids(st, num, 70, D0, dup, &a, &d);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(d, 70);
    for (int i = 0; i < 70; i++)
        ck_assert(dup[i]);
    insert_ids(st, num, 1, D0 + 2 * DAY, NULL, &a, &d);
    ck_assert_uint_eq(a, 1);
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 71);
}
END_TEST

START_TEST(store_pg_dashboard_weighted_totals)
{
    size_t a, d;
    struct spec sp[] = {
        {"request", "/a", 200, 10, 1, D0 + 1000, NULL},
        {"request", "/a", 201, 20, 0.5, D0 + 2000, NULL},
        {"request", "/a", 503, 30, 0.25, D0 + 3000, NULL},
        {"error", "/b", 0, 0, 0.1, D0 + 4000, NULL},
        {"request", "/a", 200, 1, 1, D0 + 5000, "sandbox"},
        {"request", "/a", 200, 1, 1, D0 + 999999, NULL},
    };
    struct tlm__store *st = open_store();
    insert(st, sp, sizeof(sp) / sizeof(sp[0]), 1, &a, &d);
    struct tlm__dash_query q = {D0 + 1000, D0 + 10000, "production", 100};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, &r), 0);
    ck_assert_double_eq_tol(r.events, 17, 1e-9);
    ck_assert_double_eq_tol(r.errors, 14, 1e-9);
    ck_assert_uint_eq(r.n_endpoints, 2);
    ck_assert_str_eq(r.endpoints[0].endpoint, "/a");
    ck_assert_double_eq_tol(r.endpoints[0].requests, 7, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[0].errors, 4, 1e-9);
    ck_assert(r.endpoints[0].has_latency);
    ck_assert_double_eq_tol(r.endpoints[0].p50_ms, 30, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[0].p99_ms, 30, 1e-9);
    ck_assert_str_eq(r.endpoints[1].endpoint, "/b");
    ck_assert_double_eq_tol(r.endpoints[1].requests, 0, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[1].errors, 10, 1e-9);
    ck_assert(!r.endpoints[1].has_latency);
    tlm__dash_result_free(&r);
    struct tlm__dash_query qs = {0, D0 + 10000, "sandbox", 100};
    ck_assert_int_eq(tlm__store_dashboard(st, &qs, &r), 0);
    ck_assert_double_eq_tol(r.events, 1, 1e-9);
    tlm__dash_result_free(&r);
    tlm__store_close(st);
}
END_TEST

START_TEST(store_pg_dashboard_percentiles_unweighted)
{
    size_t a, d;
    struct spec sp[100];
    for (int i = 0; i < 100; i++)
        sp[i] = (struct spec) {
            "request", "/p", 200, (double)(100 - i), 1, D0 + i, NULL};
    struct tlm__store *st = open_store();
    insert(st, sp, 100, 1, &a, &d);
    struct tlm__dash_query q = {0, D0 + DAY, "production", 100};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, &r), 0);
    ck_assert_uint_eq(r.n_endpoints, 1);
    ck_assert_double_eq_tol(r.endpoints[0].p50_ms, 50, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[0].p95_ms, 95, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[0].p99_ms, 99, 1e-9);
    tlm__dash_result_free(&r);
    tlm__store_close(st);
}
END_TEST

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void
assert_same_dashboard(const struct tlm__dash_result *x,
    const struct tlm__dash_result *y, const char *what)
{
    ck_assert_msg(x->n_endpoints == y->n_endpoints, "%s: %zu vs %zu endpoints",
        what, x->n_endpoints, y->n_endpoints);
    ck_assert_double_eq_tol(x->events, y->events, 1e-6);
    ck_assert_double_eq_tol(x->errors, y->errors, 1e-6);
    ck_assert_double_eq_tol(x->batches, y->batches, 1e-9);
    ck_assert_double_eq_tol(
        x->unanonymized_batches, y->unanonymized_batches, 1e-9);
    ck_assert_double_eq_tol(x->unscrubbed_batches, y->unscrubbed_batches, 1e-9);
    for (size_t i = 0; i < x->n_endpoints; i++) {
        const struct tlm__dash_endpoint *a = &x->endpoints[i],
                                        *b = &y->endpoints[i];
        ck_assert_msg(strcmp(a->endpoint, b->endpoint) == 0,
            "%s: endpoint %zu: %s vs %s", what, i, a->endpoint, b->endpoint);
        ck_assert_double_eq_tol(a->requests, b->requests, 1e-6);
        ck_assert_double_eq_tol(a->errors, b->errors, 1e-6);
        ck_assert_msg(a->has_latency == b->has_latency, "%s: %s latency", what,
            a->endpoint);
        ck_assert_double_eq_tol(a->p50_ms, b->p50_ms, 1e-9);
        ck_assert_double_eq_tol(a->p95_ms, b->p95_ms, 1e-9);
        ck_assert_double_eq_tol(a->p99_ms, b->p99_ms, 1e-9);
    }
}

/* The same rows through both backends give the same dashboard: weights,
 * error rules, byte order of names (a capital sorts before a lower case,
 * UTF-8 after both), latencies missing or tied, the LIMIT, and the batch
 * counts from each kind of privacy block. */
START_TEST(store_pg_dashboard_matches_sqlite)
{
    static const char *const names[] = {"/a", "/B", "/b", "/é", "/z/{id}", "/Z",
        "/v1/users", "/v1/users/{id}", "/ä/x", NULL};
    /* Weights 1/rate that add up exactly, so that no sum depends on the
     * order rows are read in (with 1/0.3 two endpoints a rounding apart
     * could trade places in either backend). */
    static const double rates[] = {1, 0.5, 0.25, 0.1, 0.125};
    static const int statuses[] = {200, 200, 201, 404, 500, 503, 0, -1};
    static const char *const privacy[]
        = {"{\"anonymized\":false,\"scrubbed\":false}",
            "{\"anonymized\":true,\"scrubbed\":0}", "{\"anonymized\":0.0}",
            "{\"scrubbed\":\"false\"}", "{not json", "{\"anonymized\":null}",
            NULL, "{\"anonymized\":true,\"scrubbed\":true}"};
    char path[160], bid[32];
    enum { BATCHES = 8, PER = 250 };
    struct spec sp[PER];
    uint64_t seed = 0x2545f4914f6cdd1dull;
    size_t a, d;
    snprintf(path, sizeof(path), "sqlite:%s/t.db", sqlite_dir);
    struct tlm__store *pg = open_store(), *lite = open_url(path);
    for (int k = 0; k < BATCHES; k++) {
        for (int i = 0; i < PER; i++) {
            uint64_t x = next_rand(&seed);
            sp[i] = (struct spec) {x % 9 == 0 ? "error" : "request",
                names[(x >> 8) % 10], statuses[(x >> 16) % 8],
                (x >> 20) % 7 == 0 ? -1 : (double)((x >> 24) % 40) / 4,
                rates[(x >> 32) % 5], D0 + (int64_t)((x >> 36) % (3 * DAY)),
                (x >> 60) % 4 == 0 ? "sandbox" : NULL};
        }
        snprintf(bid, sizeof(bid), "batch-%d", k);
        insert_batch(pg, sp, PER, k * PER, bid, privacy[k], &a, &d);
        ck_assert_uint_eq(a, PER);
        insert_batch(lite, sp, PER, k * PER, bid, privacy[k], &a, &d);
    }
    const struct tlm__dash_query qs[] = {
        {0, D0 + 4 * DAY, "production", 100},
        {D0 + DAY / 3, D0 + 2 * DAY, "production", 100},
        {0, D0 + 4 * DAY, "sandbox", 100},
        {0, D0 + 4 * DAY, "production", 3},
        {D0 + 5 * DAY, D0 + 6 * DAY, "production", 100},
    };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        struct tlm__dash_result x, y;
        char what[32];
        snprintf(what, sizeof(what), "query %zu", i);
        ck_assert_int_eq(tlm__store_dashboard(pg, &qs[i], &x), 0);
        ck_assert_int_eq(tlm__store_dashboard(lite, &qs[i], &y), 0);
        assert_same_dashboard(&x, &y, what);
        if (qs[i].from_ms >= D0 + 3 * DAY)
            ck_assert_uint_eq(x.n_endpoints, 0);
        else
            ck_assert_uint_gt(x.n_endpoints, 0);
        if (qs[i].from_ms == 0) { /* the batches arrived at D0 */
            ck_assert_double_eq_tol(x.batches, BATCHES, 1e-9);
            ck_assert_double_eq_tol(x.unanonymized_batches, 2, 1e-9);
            ck_assert_double_eq_tol(x.unscrubbed_batches, 2, 1e-9);
        }
        tlm__dash_result_free(&x);
        tlm__dash_result_free(&y);
    }
    tlm__store_close(pg);
    tlm__store_close(lite);
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

/* Pages newest first across day partitions; the cursor is seq. */
START_TEST(store_pg_events_pagination)
{
    size_t a, d;
    struct spec sp[25];
    for (int i = 0; i < 25; i++)
        sp[i] = (struct spec) {i % 5 == 0 ? "error" : "request", "/e", 200, 1,
            1, D0 + (i % 3) * DAY, NULL};
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
    struct page p = {0, ""};
    struct tlm__events_query qe = {"error", 0, 100};
    ck_assert_int_eq(tlm__store_list_events(st, &qe, visit, &p, &next), 0);
    ck_assert_int_eq(p.n, 5);
    ck_assert_int_eq(next, 0);
    ck_assert_str_eq(p.first, "{\"type\":\"error\"}");
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pg_inherits WHERE"
                            " inhparent = 'events'::regclass"),
        3);
}
END_TEST

static int
count_days(void)
{
    return (int)scalar("SELECT count(*) FROM pg_inherits WHERE"
                       " inhparent = 'events'::regclass");
}

/* Events on three days; a purge up to a time inside the third drops the
 * two whole days before it (counting their rows), keeps the third whole,
 * and deletes older bad rows and batch headers. */
START_TEST(store_pg_purge_drops_day_partitions)
{
    int day1[] = {1, 2, 3}, day2[] = {4, 5}, day3[] = {6, 7, 8, 9};
    size_t a, d;
    uint64_t removed = 99;
    struct tlm__store *st = open_store();
    insert_ids(st, day1, 3, D0 + 5, NULL, &a, &d);
    insert_ids(st, day2, 2, D0 + DAY + 5, NULL, &a, &d);
    insert_ids(st, day3, 4, D0 + 2 * DAY + 5, NULL, &a, &d);
    ck_assert_int_eq(count_days(), 3);
    ck_assert_int_eq(scalar("SELECT count(*) FROM batches"), 3);
    ck_assert_int_eq(tlm__store_purge(st, D0 + 2 * DAY + 1, &removed), 0);
    ck_assert_uint_eq(removed, 5);
    ck_assert_int_eq(count_days(), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pg_class WHERE relname ="
                            " 'events_20260103'"),
        1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 4);
    ck_assert_int_eq(scalar("SELECT count(*) FROM batches"), 1);
    /* Nothing left before: a second purge removes nothing. */
    ck_assert_int_eq(tlm__store_purge(st, D0 + 2 * DAY + 1, &removed), 0);
    ck_assert_uint_eq(removed, 0);
    /* A day that ends exactly at before_ms goes too. */
    ck_assert_int_eq(tlm__store_purge(st, D0 + 3 * DAY, &removed), 0);
    ck_assert_uint_eq(removed, 4);
    ck_assert_int_eq(count_days(), 0);
    /* The store forgot the dropped days: writing to one recreates it. */
    insert_ids(st, day1, 3, D0 + 5, NULL, &a, &d);
    ck_assert_uint_eq(a, 3);
    ck_assert_int_eq(count_days(), 1);
    tlm__store_close(st);
}
END_TEST

/* Another server dropped a day this store has cached: the write creates
 * the day again instead of failing. */
START_TEST(store_pg_purge_by_another_server)
{
    int ids[] = {1, 2}, more[] = {3};
    size_t a, d;
    uint64_t removed = 0;
    struct tlm__store *one = open_store(), *two = open_store();
    insert_ids(one, ids, 2, D0 + 5, NULL, &a, &d);
    ck_assert_int_eq(tlm__store_purge(two, D0 + DAY, &removed), 0);
    ck_assert_uint_eq(removed, 2);
    insert_ids(one, more, 1, D0 + 6, NULL, &a, &d);
    ck_assert_uint_eq(a, 1);
    tlm__store_close(one);
    tlm__store_close(two);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 1);
}
END_TEST

/* Bad rows keep their bytes exactly (invalid UTF-8 included) and are
 * written once per batch_id. */
START_TEST(store_pg_bad_rows_and_resend)
{
    static const char raw[] = "{\"id\":\"\xff\xfe\"}";
    struct tlm__bad_row bad
        = {"event: string with invalid UTF-8", raw, sizeof(raw) - 1};
    struct tlm__store_batch b = {.received_ms = D0, .bad = &bad, .n_bad = 1};
    size_t a, d;
    b.meta.batch_id = "b-1";
    b.meta.event_count = 1;
    b.meta.key_id = "key-7";
    struct tlm__store *st = open_store();
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &a, &d), 0);
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &a, &d), 0);
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM bad_rows"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM bad_rows WHERE raw ="
                            " '\\x7b226964223a22fffe227d'::bytea"),
        1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM batches WHERE key_id ="
                            " 'key-7'"),
        1);
}
END_TEST

static struct tlm__key_row
key(const char *id, unsigned char h, bool admin)
{
    struct tlm__key_row k = {.admin = admin, .created_ms = 1000 + h};
    snprintf(k.id, sizeof(k.id), "%s", id);
    memset(k.hash, h, sizeof(k.hash));
    snprintf(k.name, sizeof(k.name), "name of %s", id);
    if (!admin) {
        snprintf(k.organization, sizeof(k.organization), "acme");
        snprintf(k.access_tier, sizeof(k.access_tier), "pro");
        snprintf(k.environment, sizeof(k.environment), "sandbox");
    }
    return k;
}

START_TEST(store_pg_keys)
{
    struct tlm__store *st = open_store();
    struct tlm__key_row k1 = key("k1", 1, false), k2 = key("k2", 2, true);
    struct tlm__key_row same_id = key("k1", 3, false);
    struct tlm__key_row same_hash = key("k3", 1, false);
    struct tlm__key_row *rows = NULL;
    size_t n = 0;
    ck_assert_int_eq(tlm__store_key_list(st, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(rows);
    ck_assert_int_eq(tlm__store_key_insert(st, &k2), 0);
    ck_assert_int_eq(tlm__store_key_insert(st, &k1), 0);
    ck_assert_int_eq(tlm__store_key_insert(st, &same_id), -1);
    ck_assert_int_eq(tlm__store_key_insert(st, &same_hash), -1);
    ck_assert_int_eq(tlm__store_key_revoke(st, "k1", 5000), 0);
    ck_assert_int_eq(tlm__store_key_revoke(st, "k1", 6000), 1);
    ck_assert_int_eq(tlm__store_key_revoke(st, "nope", 6000), 1);
    ck_assert_int_eq(tlm__store_key_list(st, &rows, &n), 0);
    ck_assert_uint_eq(n, 2);
    /* Oldest first. */
    ck_assert_str_eq(rows[0].id, "k1");
    ck_assert_int_eq(rows[0].hash[31], 1);
    ck_assert_str_eq(rows[0].name, "name of k1");
    ck_assert_str_eq(rows[0].organization, "acme");
    ck_assert_str_eq(rows[0].access_tier, "pro");
    ck_assert_str_eq(rows[0].environment, "sandbox");
    ck_assert(!rows[0].admin);
    ck_assert_int_eq(rows[0].created_ms, 1001);
    ck_assert_int_eq(rows[0].revoked_ms, 5000);
    ck_assert_str_eq(rows[1].id, "k2");
    ck_assert(rows[1].admin);
    ck_assert_str_eq(rows[1].organization, "");
    ck_assert_int_eq(rows[1].revoked_ms, 0);
    free(rows);
    tlm__store_close(st);
}
END_TEST

struct writer {
    struct tlm__store *st;
    int first; /* ids first .. first + SPAN - 1, in batches of BATCH */
    bool reverse;
    size_t accepted;
    size_t duplicates;
};

#define SPAN 1200
#define BATCH 200

static void *
write_overlapping(void *arg)
{
    struct writer *w = arg;
    int num[BATCH];
    for (int b = 0; b < SPAN / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            int k = b * BATCH + i;
            num[i] = w->first + (w->reverse ? SPAN - 1 - k : k);
        }
        size_t a = 0, d = 0;
        insert_ids(w->st, num, BATCH, D0 + 5, NULL, &a, &d);
        w->accepted += a;
        w->duplicates += d;
    }
    return NULL;
}

/* Four threads on two stores (two servers) write overlapping id ranges,
 * two of them in reverse order: every id is accepted exactly once. */
START_TEST(store_pg_concurrent_overlapping_batches)
{
    struct tlm__store *one = open_store(), *two = open_store();
    struct writer w[4] = {{one, 0, false, 0, 0}, {two, 600, true, 0, 0},
        {one, 300, true, 0, 0}, {two, 0, false, 0, 0}};
    pthread_t t[4];
    size_t accepted = 0, duplicates = 0;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(
            pthread_create(&t[i], NULL, write_overlapping, &w[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        accepted += w[i].accepted;
        duplicates += w[i].duplicates;
    }
    tlm__store_close(one);
    tlm__store_close(two);
    ck_assert_uint_eq(accepted + duplicates, 4 * SPAN);
    ck_assert_uint_eq(accepted, 1800); /* ids 0 .. 1799 */
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 1800);
    ck_assert_int_eq(scalar("SELECT count(DISTINCT id) FROM events"), 1800);
}
END_TEST

/* The server ended every session (as a restart does): the next calls
 * reconnect once, transparently. */
START_TEST(store_pg_reconnects_after_restart)
{
    int ids[] = {1}, more[] = {2};
    char sql[256];
    size_t a, d;
    struct tlm__store *st = open_store();
    insert_ids(st, ids, 1, D0 + 5, NULL, &a, &d);
    ck_assert_int_eq(tlm__store_ping(st), 0);
    PGconn *pg = admin_conn(NULL);
    snprintf(sql, sizeof(sql),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = '%s'",
        db_name);
    admin_exec(pg, sql);
    PQfinish(pg);
    usleep(100 * 1000);
    insert_ids(st, more, 1, D0 + 5, NULL, &a, &d);
    ck_assert_uint_eq(a, 1);
    ck_assert_int_eq(tlm__store_ping(st), 0);
    struct tlm__dash_query q = {0, D0 + DAY, "production", 10};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, &r), 0);
    ck_assert_double_eq_tol(r.events, 2, 1e-9);
    tlm__dash_result_free(&r);
    tlm__store_close(st);
}
END_TEST

/* With the database gone, readiness fails (and does not hang). */
START_TEST(store_pg_ping_fails_when_database_is_gone)
{
    char sql[128];
    struct tlm__store *st = open_store();
    ck_assert_int_eq(tlm__store_ping(st), 0);
    PGconn *pg = admin_conn(NULL);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db_name);
    admin_exec(pg, sql);
    PQfinish(pg);
    ck_assert_int_eq(tlm__store_ping(st), -1);
    ck_assert_int_eq(tlm__store_ping(st), -1);
    int ids[] = {1};
    struct tlm__store_event ev = {0};
    snprintf(
        ev.ev.id, sizeof(ev.ev.id), "0190a000-0000-7000-8000-%012d", ids[0]);
    ev.ev.ts_ms = D0;
    ev.ev.environment = "production";
    ev.ev.sample_rate = 1;
    ev.payload = "{}";
    ev.payload_len = 2;
    struct tlm__store_batch b
        = {.received_ms = D0, .events = &ev, .n_events = 1};
    size_t a = 7, d = 7;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &a, &d), -1);
    ck_assert_uint_eq(a, 0);
    tlm__store_close(st);
}
END_TEST

static Suite *
store_pg_suite(void)
{
    Suite *s = suite_create("server_store_pg");
    TCase *tc = tcase_create("store_pg");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, store_pg_schema_created);
    tcase_add_test(tc, store_pg_migration_idempotent_on_reopen);
    tcase_add_test(tc, store_pg_refuses_newer_schema);
    tcase_add_test(tc, store_pg_open_errors_hide_the_password);
    tcase_add_test(tc, store_pg_insert_dedupe);
    tcase_add_test(tc, store_pg_dedupe_exact_per_event);
    tcase_add_test(tc, store_pg_whole_batch_of_duplicates);
    tcase_add_test(tc, store_pg_dashboard_weighted_totals);
    tcase_add_test(tc, store_pg_dashboard_percentiles_unweighted);
    tcase_add_test(tc, store_pg_dashboard_matches_sqlite);
    tcase_add_test(tc, store_pg_events_pagination);
    tcase_add_test(tc, store_pg_purge_drops_day_partitions);
    tcase_add_test(tc, store_pg_purge_by_another_server);
    tcase_add_test(tc, store_pg_bad_rows_and_resend);
    tcase_add_test(tc, store_pg_keys);
    tcase_add_test(tc, store_pg_concurrent_overlapping_batches);
    tcase_add_test(tc, store_pg_reconnects_after_restart);
    tcase_add_test(tc, store_pg_ping_fails_when_database_is_gone);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    base_url = getenv("TLM_TEST_PG_URL");
    if (base_url == NULL || base_url[0] == '\0') {
        printf("TLM_TEST_PG_URL is not set (scripts/pg start DIR): skipped\n");
        return 77;
    }
    SRunner *sr = srunner_create(store_pg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
