/* Check suite for server/store_pg*.c against a real PostgreSQL (the base URL
 * in TLM_TEST_PG_URL, e.g. from scripts/pg; without it the suite exits 77,
 * "skipped"). Every case gets a database of its own, dropped afterwards:
 * schema and migrations, exact dedupe (in a batch, across batches, across
 * threads and two stores), the dashboard and listing against the SQLite
 * backend on the same rows, day partitions and retention, keys, readiness
 * and reconnecting after the server dropped the sessions; feedback,
 * feature requests, comments and the webhook outbox, alone and against
 * the SQLite backend on the same calls. Never touches a
 * database it did not create (tlm_unit_<pid>_<n>). */
#include "rollup.h"
#include "store.h"
#include "store_pg.h"

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
/* The schema version of this server (the last migration step); 5 made
 * the rollups. */
#define SCHEMA_NOW tlm__pg_schema_version

static const char *base_url;
/* insert_batch_meta's batches skip the rollups (as a version 4 server). */
static bool no_rollups;
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
    const char *tier; /* NULL: none (also left out of the payload) */
};

/* Stores one batch of events from specs, ids numbered from first, with
 * the header meta (batch_id, sdk, client_stats, privacy...; NULL: an
 * empty one). Payloads carry the type and the access tier. */
static void
insert_batch_meta(struct tlm__store *st, const struct spec *sp, size_t n,
    int first, const struct tlm__batch_meta *meta, size_t *accepted,
    size_t *dups)
{
    struct tlm__store_event *ev = calloc(n ? n : 1, sizeof(*ev));
    char(*payload)[96] = calloc(n ? n : 1, sizeof(*payload));
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
        e->access_tier = sp[i].tier;
        if (sp[i].tier != NULL)
            snprintf(payload[i], sizeof(payload[i]),
                "{\"type\":\"%s\",\"access_tier\":\"%s\"}",
                sp[i].type[0] == 'e' ? "error" : "request", sp[i].tier);
        else
            snprintf(payload[i], sizeof(payload[i]), "{\"type\":\"%s\"}",
                sp[i].type[0] == 'e' ? "error" : "request");
        ev[i].payload = payload[i];
        ev[i].payload_len = strlen(ev[i].payload);
    }
    struct tlm__store_batch b
        = {.received_ms = D0, .events = ev, .n_events = n};
    if (meta != NULL)
        b.meta = *meta;
    b.meta.event_count = n;
    b.skip_rollups = no_rollups;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, accepted, dups), 0);
    free(payload);
    free(ev);
}

static void
insert_batch(struct tlm__store *st, const struct spec *sp, size_t n, int first,
    const char *batch_id, const char *privacy, size_t *accepted, size_t *dups)
{
    struct tlm__batch_meta m = {.batch_id = batch_id,
        .privacy = privacy,
        .privacy_len = privacy != NULL ? strlen(privacy) : 0};
    insert_batch_meta(st, sp, n, first, &m, accepted, dups);
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
    ck_assert_int_ge(SCHEMA_NOW, 5);
    ck_assert_int_eq(scalar("SELECT count(*) FROM pg_class WHERE relname ="
                            " 'rollups'"),
        1);
    ck_assert_int_eq(
        scalar("SELECT MAX(version) FROM schema_version"), SCHEMA_NOW);
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
    struct spec sp = {"request", "/a", 200, 1, 1, D0, NULL, NULL};
    struct tlm__store *st = open_store();
    insert(st, &sp, 1, 1, &a, &d);
    tlm__store_close(st);
    st = open_store();
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM schema_version"), SCHEMA_NOW);
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
    struct spec sp[3] = {{"request", "/a", 200, 1, 1, D0, NULL, NULL},
        {"request", "/a", 200, 1, 1, D0, NULL, NULL},
        {"error", "/a", 0, 0, 1, D0, NULL, NULL}};
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
        {"request", "/a", 200, 10, 1, D0 + 1000, NULL, NULL},
        {"request", "/a", 201, 20, 0.5, D0 + 2000, NULL, NULL},
        {"request", "/a", 503, 30, 0.25, D0 + 3000, NULL, NULL},
        {"error", "/b", 0, 0, 0.1, D0 + 4000, NULL, NULL},
        {"request", "/a", 200, 1, 1, D0 + 5000, "sandbox", NULL},
        {"request", "/a", 200, 1, 1, D0 + 999999, NULL, NULL},
    };
    struct tlm__store *st = open_store();
    insert(st, sp, sizeof(sp) / sizeof(sp[0]), 1, &a, &d);
    struct tlm__dash_query q = {.from_ms = D0 + 1000,
        .to_ms = D0 + 10000,
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
    ck_assert(r.endpoints[0].has_latency);
    /* From the rollups' histograms: within 1% of the exact latency. */
    ck_assert_double_eq_tol(r.endpoints[0].p50_ms, 30, 0.3);
    ck_assert_double_eq_tol(r.endpoints[0].p99_ms, 30, 0.3);
    ck_assert_str_eq(r.endpoints[1].endpoint, "/b");
    ck_assert_double_eq_tol(r.endpoints[1].requests, 0, 1e-9);
    ck_assert_double_eq_tol(r.endpoints[1].errors, 10, 1e-9);
    ck_assert(!r.endpoints[1].has_latency);
    tlm__dash_result_free(&r);
    struct tlm__dash_query qs = {.from_ms = 0,
        .to_ms = D0 + 10000,
        .environment = "sandbox",
        .max_endpoints = 100};
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
            "request", "/p", 200, (double)(100 - i), 1, D0 + i, NULL, NULL};
    struct tlm__store *st = open_store();
    insert(st, sp, 100, 1, &a, &d);
    struct tlm__dash_query q = {.from_ms = 0,
        .to_ms = D0 + DAY,
        .environment = "production",
        .max_endpoints = 100};
    struct tlm__dash_result r;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, &r), 0);
    ck_assert_uint_eq(r.n_endpoints, 1);
    ck_assert_double_eq_tol(r.endpoints[0].p50_ms, 50, 0.5);
    ck_assert_double_eq_tol(r.endpoints[0].p95_ms, 95, 0.95);
    ck_assert_double_eq_tol(r.endpoints[0].p99_ms, 99, 0.99);
    ck_assert(r.rollups);
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
        /* SQLite reads percentiles from its rollups' histograms: within
         * 2% of the exact ones (and exact below 0.0128 ms). */
        ck_assert_double_eq_tol(a->p50_ms, b->p50_ms, 0.02 * a->p50_ms + 1e-9);
        ck_assert_double_eq_tol(a->p95_ms, b->p95_ms, 0.02 * a->p95_ms + 1e-9);
        ck_assert_double_eq_tol(a->p99_ms, b->p99_ms, 0.02 * a->p99_ms + 1e-9);
        ck_assert_double_eq_tol(a->share, b->share, 1e-9);
        ck_assert_double_eq_tol(
            a->previous_requests, b->previous_requests, 1e-6);
        ck_assert_msg(
            a->has_trend == b->has_trend, "%s: %s trend", what, a->endpoint);
        ck_assert_double_eq_tol(a->trend, b->trend, 1e-9);
        for (int k = 0; k < TLM_DASH_SPARK; k++)
            ck_assert_double_eq_tol(a->sparkline[k], b->sparkline[k], 1e-6);
    }
    ck_assert_msg(x->rollups && y->rollups, "%s: rollups", what);
    ck_assert_int_eq(x->bucket_ms, y->bucket_ms);
    ck_assert_uint_eq(x->n_points, y->n_points);
    for (size_t i = 0; i < x->n_points; i++) {
        const struct tlm__dash_point *a = &x->points[i], *b = &y->points[i];
        ck_assert_int_eq(a->t_ms, b->t_ms);
        ck_assert_double_eq_tol(a->requests, b->requests, 1e-6);
        ck_assert_double_eq_tol(a->errors, b->errors, 1e-6);
        ck_assert_msg(a->has_p95 == b->has_p95, "%s: point %zu", what, i);
        ck_assert_double_eq_tol(a->p95_ms, b->p95_ms, 1e-9);
    }
    ck_assert_msg(x->n_tiers == y->n_tiers, "%s: %zu vs %zu tiers", what,
        x->n_tiers, y->n_tiers);
    for (size_t i = 0; i < x->n_tiers; i++) {
        ck_assert_str_eq(x->tiers[i].name, y->tiers[i].name);
        ck_assert_double_eq_tol(
            x->tiers[i].requests, y->tiers[i].requests, 1e-6);
        ck_assert_double_eq_tol(x->tiers[i].errors, y->tiers[i].errors, 1e-6);
    }
    ck_assert_uint_eq(x->n_envs, y->n_envs);
    for (size_t i = 0; i < x->n_envs; i++) {
        ck_assert_str_eq(x->envs[i].name, y->envs[i].name);
        ck_assert_double_eq_tol(x->envs[i].requests, y->envs[i].requests, 1e-6);
        ck_assert_double_eq_tol(x->envs[i].errors, y->envs[i].errors, 1e-6);
    }
    ck_assert_msg(x->n_sdks == y->n_sdks, "%s: %zu vs %zu sdks", what,
        x->n_sdks, y->n_sdks);
    for (size_t i = 0; i < x->n_sdks; i++) {
        ck_assert_str_eq(x->sdks[i].sdk_version, y->sdks[i].sdk_version);
        ck_assert_double_eq_tol(x->sdks[i].batches, y->sdks[i].batches, 1e-9);
        ck_assert_double_eq_tol(x->sdks[i].dropped, y->sdks[i].dropped, 1e-9);
        ck_assert_double_eq_tol(x->sdks[i].retried, y->sdks[i].retried, 1e-9);
        ck_assert_double_eq_tol(x->sdks[i].spooled, y->sdks[i].spooled, 1e-9);
    }
    ck_assert_double_eq_tol(x->events_per_s, y->events_per_s, 1e-9);
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
    static const char *const tiers[] = {"free", "pro", "Pro", NULL};
    static const char *const versions[] = {"1.0.0", "1.1.0", NULL, "1.0.0"};
    static const char *const stats[]
        = {"{\"dropped\":5,\"retried\":2,\"spooled\":1}", "{\"dropped\":7}",
            "{not json", NULL, "{\"dropped\":1.5,\"spooled\":9}", "[1,2]",
            "{\"retried\":4}", "{\"dropped\":0,\"retried\":0,\"spooled\":0}"};
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
                (x >> 60) % 4 == 0 ? "sandbox" : NULL, tiers[(x >> 56) % 4]};
        }
        snprintf(bid, sizeof(bid), "batch-%d", k);
        struct tlm__batch_meta m = {.batch_id = bid,
            .sdk_version = versions[k % 4],
            .client_stats = stats[k],
            .client_stats_len = stats[k] != NULL ? strlen(stats[k]) : 0,
            .privacy = privacy[k],
            .privacy_len = privacy[k] != NULL ? strlen(privacy[k]) : 0};
        insert_batch_meta(pg, sp, PER, k * PER, &m, &a, &d);
        ck_assert_uint_eq(a, PER);
        insert_batch_meta(lite, sp, PER, k * PER, &m, &a, &d);
    }
    const struct tlm__dash_query qs[] = {
        {0, D0 + 4 * DAY, "production", 100, NULL, NULL},
        {D0 + DAY / 3, D0 + 2 * DAY, "production", 100, NULL, NULL},
        {0, D0 + 4 * DAY, "sandbox", 100, NULL, NULL},
        {0, D0 + 4 * DAY, "production", 3, NULL, NULL},
        {D0 + 5 * DAY, D0 + 6 * DAY, "production", 100, NULL, NULL},
        {0, D0 + 4 * DAY, "production", 100, "pro", NULL},
        {0, D0 + 4 * DAY, "production", 100, "", NULL},
        {D0 + DAY, D0 + 2 * DAY, "production", 100, NULL, "/b"},
        {D0 + 3 * DAY / 2, D0 + 3 * DAY / 2 + 3600000, "production", 100, NULL,
            NULL},
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
            ck_assert_uint_eq(x.n_sdks, 3);
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
            1, D0 + (i % 3) * DAY, NULL, NULL};
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
    k1.publishable = true;
    snprintf(k1.origins, sizeof(k1.origins),
        "https://app.example.com,http://localhost:3000");
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
    ck_assert(rows[0].publishable);
    ck_assert_str_eq(
        rows[0].origins, "https://app.example.com,http://localhost:3000");
    ck_assert_str_eq(rows[1].id, "k2");
    ck_assert(rows[1].admin);
    ck_assert_str_eq(rows[1].organization, "");
    ck_assert_int_eq(rows[1].revoked_ms, 0);
    ck_assert(!rows[1].publishable);
    ck_assert_str_eq(rows[1].origins, "");
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
    char sql[512];
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
    struct tlm__dash_query q = {.from_ms = 0,
        .to_ms = D0 + DAY,
        .environment = "production",
        .max_endpoints = 10};
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

/* ---- feedback and feature requests ------------------------------------ */

#define WEEK ((int64_t)7 * DAY)

/* A feedback row of org numbered i; doc is {"id":"fb-i"}. */
struct fb {
    struct tlm__feedback_row row;
    char doc[64];
};

static void
fb_make(struct fb *f, int i, const char *org, const char *category,
    double sentiment, int64_t created_ms)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->row.id, sizeof(f->row.id), "fb-%d", i);
    snprintf(f->doc, sizeof(f->doc), "{\"id\":\"fb-%d\"}", i);
    f->row.organization = org;
    f->row.feedback_type = i % 2 == 0 ? "issue" : "praise";
    f->row.category = category;
    f->row.sentiment = sentiment;
    f->row.rating = i % 5;
    f->row.feature = i % 3 == 0 ? "export" : NULL;
    f->row.endpoint = i % 3 == 1 ? "/v1/orders" : NULL;
    f->row.environment = i % 4 == 3 ? "sandbox" : "production";
    f->row.created_ms = created_ms;
    f->row.doc = f->doc;
    f->row.doc_len = strlen(f->doc);
}

/* Collects visited documents, joined by spaces. */
struct docs {
    char text[2048];
    int n;
    int stop_after; /* 0: never stop */
};

static int
collect(void *ctx, const char *doc, size_t len)
{
    struct docs *d = ctx;
    size_t used = strlen(d->text);
    snprintf(d->text + used, sizeof(d->text) - used, "%s%.*s",
        used > 0 ? " " : "", (int)len, doc);
    d->n++;
    return d->stop_after > 0 && d->n >= d->stop_after ? 1 : 0;
}

static void
fb_put(struct tlm__store *st, int i, const char *org, const char *category,
    double sentiment, int64_t created_ms)
{
    struct fb f;
    char *existing = NULL;
    fb_make(&f, i, org, category, sentiment, created_ms);
    ck_assert_int_eq(
        tlm__store_feedback_insert(st, &f.row, NULL, NULL, 0, &existing), 0);
    ck_assert_ptr_null(existing);
}

START_TEST(store_pg_feedback_insert_get_replay)
{
    struct tlm__store *st = open_store();
    struct fb f, again;
    struct tlm__outbox_item it
        = {.type = "feedback.issue", .body = "{\"event\":1}", .body_len = 11};
    char *doc = NULL, *existing = NULL;
    snprintf(it.id, sizeof(it.id), "dl-1");
    fb_make(&f, 1, "acme", "bug", -0.5, D0);
    ck_assert_int_eq(
        tlm__store_feedback_insert(st, &f.row, "idem-1", &it, 1, &existing), 0);
    ck_assert_ptr_null(existing);
    /* Scoped by organization; NULL is any (admin). */
    ck_assert_int_eq(tlm__store_feedback_get(st, "fb-1", "acme", &doc), 0);
    ck_assert_str_eq(doc, "{\"id\":\"fb-1\"}");
    free(doc);
    doc = NULL;
    ck_assert_int_eq(tlm__store_feedback_get(st, "fb-1", "other", &doc), 1);
    ck_assert_ptr_null(doc);
    ck_assert_int_eq(tlm__store_feedback_get(st, "fb-1", NULL, &doc), 0);
    free(doc);
    ck_assert_int_eq(tlm__store_feedback_get(st, "nope", NULL, &doc), 1);
    /* The same key again: the first document, nothing written. */
    fb_make(&again, 2, "acme", "bug", -0.5, D0 + 1);
    snprintf(it.id, sizeof(it.id), "dl-2");
    ck_assert_int_eq(
        tlm__store_feedback_insert(st, &again.row, "idem-1", &it, 1, &existing),
        TLM_FR_REPLAY);
    ck_assert_str_eq(existing, "{\"id\":\"fb-1\"}");
    free(existing);
    existing = NULL;
    ck_assert_int_eq(scalar("SELECT count(*) FROM feedback"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox"), 1);
    /* Keys are per organization. */
    again.row.organization = "other";
    ck_assert_int_eq(tlm__store_feedback_insert(
                         st, &again.row, "idem-1", NULL, 0, &existing),
        0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM feedback"), 2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM idempotency"), 2);
    ck_assert_int_eq(
        scalar("SELECT rating FROM feedback WHERE id = 'fb-1'"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM feedback WHERE id = 'fb-2'"
                            " AND feature IS NULL AND endpoint = '/v1/orders'"),
        0);
    tlm__store_close(st);
}
END_TEST

START_TEST(store_pg_feedback_list_filters_and_cursor)
{
    struct tlm__store *st = open_store();
    for (int i = 1; i <= 5; i++)
        fb_put(st, i, i == 5 ? "other" : "acme", i % 2 ? "bug" : "ux",
            -1.0 + 0.4 * i, D0 + i * DAY);
    struct tlm__feedback_query q = {.limit = 2};
    struct docs d = {.text = ""};
    int64_t next = -1;
    /* Newest first, two by two. */
    ck_assert_int_eq(tlm__store_feedback_list(st, &q, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-5\"} {\"id\":\"fb-4\"}");
    ck_assert_int_gt(next, 0);
    q.before = next;
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tlm__store_feedback_list(st, &q, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-3\"} {\"id\":\"fb-2\"}");
    q.before = next;
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tlm__store_feedback_list(st, &q, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-1\"}");
    ck_assert_int_eq(next, 0);
    /* Filters. */
    struct tlm__feedback_query f
        = {.limit = 10, .organization = "acme", .category = "bug"};
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tlm__store_feedback_list(st, &f, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-3\"} {\"id\":\"fb-1\"}");
    struct tlm__feedback_query s = {.limit = 10,
        .has_min_sentiment = true,
        .min_sentiment = -0.1,
        .has_max_sentiment = true,
        .max_sentiment = 0.7};
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tlm__store_feedback_list(st, &s, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-4\"} {\"id\":\"fb-3\"}");
    struct tlm__feedback_query t = {.limit = 10,
        .from_ms = D0 + 2 * DAY,
        .to_ms = D0 + 4 * DAY,
        .type = "issue"};
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tlm__store_feedback_list(st, &t, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-2\"}");
    struct tlm__feedback_query e
        = {.limit = 10, .environment = "sandbox", .feature = "export"};
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tlm__store_feedback_list(st, &e, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-3\"}");
    struct tlm__feedback_query ep = {.limit = 10, .endpoint = "/v1/orders"};
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(tlm__store_feedback_list(st, &ep, collect, &d, &next), 0);
    ck_assert_str_eq(d.text, "{\"id\":\"fb-4\"} {\"id\":\"fb-1\"}");
    /* A visitor that stops: still a success. */
    struct tlm__feedback_query all = {.limit = 10};
    memset(&d, 0, sizeof(d));
    d.stop_after = 1;
    ck_assert_int_eq(tlm__store_feedback_list(st, &all, collect, &d, &next), 0);
    ck_assert_int_eq(d.n, 1);
    tlm__store_close(st);
}
END_TEST

static void
fr_make(struct tlm__fr *r, const char *id, const char *org, int64_t at)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->organization = (char *)org;
    r->title = (char *)"A title";
    r->description = (char *)"why";
    r->user_id = (char *)"author";
    r->created_ms = at;
}

static void
fr_put(struct tlm__store *st, const char *id, const char *org, int64_t at)
{
    struct tlm__fr r;
    char existing[TLM_FB_ID_MAX] = "";
    fr_make(&r, id, org, at);
    ck_assert_int_eq(tlm__store_fr_insert(st, &r, NULL, existing), 0);
}

static int64_t
vote(struct tlm__store *st, const char *id, const char *user, bool add,
    int64_t at, int want)
{
    struct tlm__fr_vote_result res;
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(
        tlm__store_fr_vote(st, id, "acme", user, add, at, &res), want);
    return want == 0 ? res.votes : -1;
}

static int
set_status(struct tlm__store *st, const char *id, const char *from,
    const char *to, const char *into, int64_t at)
{
    struct tlm__fr_status_change ch = {.id = id,
        .from = from,
        .to = to,
        .reason = "because",
        .merged_into = into,
        .now_ms = at,
        .record_notifications = true};
    return tlm__store_fr_set_status(st, &ch);
}

START_TEST(store_pg_fr_insert_get_history)
{
    struct tlm__store *st = open_store();
    struct tlm__fr r, got, again;
    struct tlm__fr_history *h = NULL;
    size_t nh = 0;
    char existing[TLM_FB_ID_MAX] = "";
    fr_make(&r, "fr-1", "acme", D0);
    ck_assert_int_eq(tlm__store_fr_insert(st, &r, "key", existing), 0);
    fr_make(&again, "fr-2", "acme", D0 + 1);
    ck_assert_int_eq(
        tlm__store_fr_insert(st, &again, "key", existing), TLM_FR_REPLAY);
    ck_assert_str_eq(existing, "fr-1");
    ck_assert_int_eq(scalar("SELECT count(*) FROM feature_requests"), 1);
    ck_assert_int_eq(
        set_status(st, "fr-1", "submitted", "planned", NULL, D0 + 5), 0);
    ck_assert_int_eq(tlm__store_fr_get(st, "fr-1", "acme", &got, &h, &nh), 0);
    ck_assert_str_eq(got.id, "fr-1");
    ck_assert_str_eq(got.organization, "acme");
    ck_assert_str_eq(got.title, "A title");
    ck_assert_str_eq(got.description, "why");
    ck_assert_str_eq(got.use_case, "");
    ck_assert_str_eq(got.status, "planned");
    ck_assert_ptr_null(got.merged_into);
    ck_assert_str_eq(got.user_id, "author");
    ck_assert_int_eq(got.created_ms, D0);
    ck_assert_int_eq(got.updated_ms, D0 + 5);
    ck_assert_uint_eq(nh, 2);
    ck_assert_str_eq(h[0].status, "submitted");
    ck_assert_ptr_null(h[0].previous_status);
    ck_assert_ptr_null(h[0].reason);
    ck_assert_int_eq(h[0].at_ms, D0);
    ck_assert_str_eq(h[1].status, "planned");
    ck_assert_str_eq(h[1].previous_status, "submitted");
    ck_assert_str_eq(h[1].reason, "because");
    tlm__fr_clear(&got);
    tlm__fr_history_free(h, nh);
    h = NULL;
    nh = 0;
    ck_assert_int_eq(tlm__store_fr_get(st, "fr-1", "other", &got, &h, &nh),
        TLM_FR_NOT_FOUND);
    ck_assert_int_eq(tlm__store_fr_get(st, "fr-1", NULL, &got, NULL, NULL), 0);
    tlm__fr_clear(&got);
    /* Compare-and-set on the status. */
    ck_assert_int_eq(
        set_status(st, "fr-1", "submitted", "declined", NULL, D0 + 6),
        TLM_FR_CONFLICT);
    ck_assert_int_eq(set_status(st, "nope", NULL, "declined", NULL, D0 + 6),
        TLM_FR_NOT_FOUND);
    ck_assert_int_eq(scalar("SELECT count(*) FROM fr_history"), 2);
    tlm__store_close(st);
}
END_TEST

/* Pages through sort with limit 2; ids joined in order. */
static void
page_all(struct tlm__store *st, enum tlm__fr_sort sort, int64_t now, char *out,
    size_t size)
{
    const char *cursor = NULL;
    char *next = NULL;
    int pages = 0;
    out[0] = '\0';
    do {
        struct tlm__fr_query q = {.organization = "acme",
            .sort = sort,
            .limit = 2,
            .now_ms = now,
            .cursor = cursor};
        struct tlm__fr *rows = NULL;
        size_t n = 0;
        char *prev = next;
        next = NULL;
        ck_assert_int_eq(tlm__store_fr_list(st, &q, &rows, &n, &next), 0);
        free(prev);
        for (size_t i = 0; i < n; i++) {
            size_t used = strlen(out);
            snprintf(out + used, size - used, "%s%s", used > 0 ? " " : "",
                rows[i].id);
            tlm__fr_clear(&rows[i]);
        }
        free(rows);
        cursor = next;
        ck_assert_int_lt(++pages, 10);
    } while (next != NULL);
}

START_TEST(store_pg_fr_list_sorts_and_pages)
{
    struct tlm__store *st = open_store();
    char ids[256];
    int64_t now = D0 + 30 * DAY;
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "fr-%d", i);
        fr_put(st, id, "acme", D0 + i);
    }
    fr_put(st, "fr-x", "other", D0);
    /* All-time votes: fr-2 3, fr-4 2 (old), fr-5 1 (new), fr-1 and fr-3
     * none; in the last week: fr-2 1, fr-5 1, so trending breaks the tie
     * on votes. */
    vote(st, "fr-2", "u1", true, D0 + 1, 0);
    vote(st, "fr-2", "u2", true, D0 + 2, 0);
    vote(st, "fr-2", "u3", true, now - DAY, 0);
    vote(st, "fr-4", "u1", true, D0 + 3, 0);
    vote(st, "fr-4", "u2", true, D0 + 4, 0);
    vote(st, "fr-5", "u1", true, now - 2 * DAY, 0);
    page_all(st, TLM_FR_SORT_VOTES, now, ids, sizeof(ids));
    ck_assert_str_eq(ids, "fr-2 fr-4 fr-5 fr-3 fr-1");
    page_all(st, TLM_FR_SORT_RECENT, now, ids, sizeof(ids));
    ck_assert_str_eq(ids, "fr-5 fr-4 fr-3 fr-2 fr-1");
    page_all(st, TLM_FR_SORT_TRENDING, now, ids, sizeof(ids));
    ck_assert_str_eq(ids, "fr-2 fr-5 fr-4 fr-3 fr-1");
    /* The cursor's format, recent votes, statuses, a bad cursor. */
    struct tlm__fr_query q = {.organization = "acme",
        .sort = TLM_FR_SORT_TRENDING,
        .limit = 1,
        .now_ms = now};
    struct tlm__fr *rows = NULL;
    size_t n = 0;
    char *next = NULL;
    ck_assert_int_eq(tlm__store_fr_list(st, &q, &rows, &n, &next), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(rows[0].votes, 3);
    ck_assert_int_eq(rows[0].recent_votes, 1);
    ck_assert_ptr_nonnull(next);
    ck_assert_int_eq(strncmp(next, "1.3.", 4), 0);
    tlm__fr_clear(&rows[0]);
    free(rows);
    free(next);
    next = NULL;
    const char *const planned[] = {"planned", "declined"};
    ck_assert_int_eq(set_status(st, "fr-3", NULL, "planned", NULL, now), 0);
    struct tlm__fr_query s = {.sort = TLM_FR_SORT_VOTES,
        .limit = 10,
        .now_ms = now,
        .statuses = planned,
        .n_statuses = 2};
    ck_assert_int_eq(tlm__store_fr_list(st, &s, &rows, &n, &next), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rows[0].id, "fr-3");
    ck_assert_ptr_null(next);
    tlm__fr_clear(&rows[0]);
    free(rows);
    s.statuses = NULL;
    s.n_statuses = 0;
    ck_assert_int_eq(tlm__store_fr_list(st, &s, &rows, &n, &next), 0);
    ck_assert_uint_eq(n, 6); /* every organization */
    for (size_t i = 0; i < n; i++)
        tlm__fr_clear(&rows[i]);
    free(rows);
    s.cursor = "1.2";
    ck_assert_int_eq(
        tlm__store_fr_list(st, &s, &rows, &n, &next), TLM_FR_CONFLICT);
    tlm__store_close(st);
}
END_TEST

START_TEST(store_pg_fr_votes)
{
    struct tlm__store *st = open_store();
    fr_put(st, "fr-1", "acme", D0);
    fr_put(st, "fr-o", "other", D0);
    ck_assert_int_eq(vote(st, "fr-1", "u1", true, D0, 0), 1);
    ck_assert_int_eq(vote(st, "fr-1", "u1", true, D0 + 1, 0), 1);
    ck_assert_int_eq(vote(st, "fr-1", "u2", true, D0 + 2, 0), 2);
    ck_assert_int_eq(vote(st, "fr-1", "u1", false, D0 + 3, 0), 1);
    ck_assert_int_eq(vote(st, "fr-1", "u1", false, D0 + 4, 0), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM fr_votes"), 1);
    vote(st, "fr-o", "u1", true, D0, TLM_FR_NOT_FOUND);
    vote(st, "nope", "u1", true, D0, TLM_FR_NOT_FOUND);
    ck_assert_int_eq(set_status(st, "fr-1", NULL, "completed", NULL, D0), 0);
    vote(st, "fr-1", "u3", true, D0, TLM_FR_CLOSED);
    vote(st, "fr-1", "u2", false, D0, TLM_FR_CLOSED);
    ck_assert_int_eq(
        scalar("SELECT votes FROM feature_requests WHERE id = 'fr-1'"), 1);
    tlm__store_close(st);
}
END_TEST

START_TEST(store_pg_fr_merge_moves_votes)
{
    struct tlm__store *st = open_store();
    struct tlm__fr_vote_result res;
    fr_put(st, "fr-a", "acme", D0);
    fr_put(st, "fr-b", "acme", D0 + 1);
    vote(st, "fr-a", "u1", true, D0, 0);
    vote(st, "fr-a", "u2", true, D0, 0);
    vote(st, "fr-b", "u2", true, D0, 0);
    vote(st, "fr-b", "u3", true, D0, 0);
    ck_assert_int_eq(set_status(st, "fr-a", NULL, "declined", "fr-a", D0 + 5),
        TLM_FR_CONFLICT);
    ck_assert_int_eq(set_status(st, "fr-a", NULL, "declined", "nope", D0 + 5),
        TLM_FR_NOT_FOUND);
    ck_assert_int_eq(
        set_status(st, "fr-a", NULL, "declined", "fr-b", D0 + 5), 0);
    ck_assert_int_eq(
        scalar("SELECT votes FROM feature_requests WHERE id = 'fr-b'"), 3);
    ck_assert_int_eq(
        scalar("SELECT votes FROM feature_requests WHERE id = 'fr-a'"), 0);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM fr_votes WHERE request_id = 'fr-b'"), 3);
    ck_assert_int_eq(scalar("SELECT count(*) FROM feature_requests"
                            " WHERE id = 'fr-a' AND merged_into = 'fr-b'"),
        1);
    /* The voters of fr-a heard of it (record_notifications). */
    ck_assert_int_eq(scalar("SELECT count(*) FROM notifications WHERE"
                            " request_id = 'fr-a' AND status = 'declined'"
                            " AND delivery_id IS NULL"),
        2);
    /* A vote on the duplicate lands on the target. */
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(
        tlm__store_fr_vote(st, "fr-a", "acme", "u4", true, D0 + 6, &res), 0);
    ck_assert_str_eq(res.id, "fr-b");
    ck_assert_str_eq(res.status, "submitted");
    ck_assert_int_eq(res.votes, 4);
    ck_assert(res.voted);
    tlm__store_close(st);
}
END_TEST

struct notified {
    int calls;
    char users[256];
};

static char *
notify(void *ctx, const char *user_id, char delivery_id[TLM_FB_ID_MAX])
{
    struct notified *nt = ctx;
    char body[128];
    size_t used = strlen(nt->users);
    snprintf(delivery_id, TLM_FB_ID_MAX, "dl-%d", ++nt->calls);
    snprintf(nt->users + used, sizeof(nt->users) - used, "%s%s",
        used > 0 ? " " : "", user_id);
    if (strcmp(user_id, "skip") == 0)
        return NULL;
    snprintf(body, sizeof(body), "{\"user\":\"%s\"}", user_id);
    return strdup(body);
}

START_TEST(store_pg_fr_status_notifies_voters)
{
    struct tlm__store *st = open_store();
    struct notified nt = {0};
    fr_put(st, "fr-1", "acme", D0);
    vote(st, "fr-1", "u2", true, D0 + 2, 0);
    vote(st, "fr-1", "u1", true, D0 + 1, 0);
    vote(st, "fr-1", "skip", true, D0 + 3, 0);
    struct tlm__fr_status_change ch = {.id = "fr-1",
        .from = "submitted",
        .to = "planned",
        .now_ms = D0 + 10,
        .notify = notify,
        .notify_ctx = &nt};
    ck_assert_int_eq(tlm__store_fr_set_status(st, &ch), 0);
    /* Oldest vote first; a voter without a body gets no delivery. */
    ck_assert_str_eq(nt.users, "u1 u2 skip");
    ck_assert_int_eq(scalar("SELECT count(*) FROM notifications"), 3);
    ck_assert_int_eq(scalar("SELECT count(*) FROM notifications WHERE"
                            " delivery_id IS NOT NULL"),
        2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE type ="
                            " 'feature_request.status_changed' AND"
                            " next_attempt_ms = created_ms AND state ="
                            " 'pending'"),
        2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM notifications n JOIN outbox"
                            " o ON o.id = n.delivery_id WHERE o.body ="
                            " '{\"user\":\"' || n.user_id || '\"}'"),
        2);
    /* A failed compare-and-set writes nothing. */
    ch.from = "submitted";
    ch.to = "completed";
    ck_assert_int_eq(tlm__store_fr_set_status(st, &ch), TLM_FR_CONFLICT);
    ck_assert_int_eq(scalar("SELECT count(*) FROM notifications"), 3);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox"), 2);
    /* Without notify nor record_notifications: no rows. */
    struct tlm__fr_status_change quiet_ch
        = {.id = "fr-1", .to = "completed", .now_ms = D0 + 11};
    ck_assert_int_eq(tlm__store_fr_set_status(st, &quiet_ch), 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM notifications"), 3);
    tlm__store_close(st);
}
END_TEST

START_TEST(store_pg_outbox_claim_and_record)
{
    struct tlm__store *st = open_store();
    struct tlm__outbox_item it[2]
        = {{.type = "feedback.issue", .body = "{\"a\":1}", .body_len = 7},
            {.type = "feedback.issue", .body = "{\"b\":2}", .body_len = 7}};
    struct fb f;
    struct tlm__outbox_row *rows = NULL;
    size_t n = 0;
    char *existing = NULL;
    snprintf(it[0].id, sizeof(it[0].id), "dl-a");
    snprintf(it[1].id, sizeof(it[1].id), "dl-b");
    fb_make(&f, 1, "acme", "bug", 0, D0);
    ck_assert_int_eq(
        tlm__store_feedback_insert(st, &f.row, NULL, it, 2, &existing), 0);
    /* Nothing is due before it was made. */
    ck_assert_int_eq(
        tlm__store_outbox_claim(st, D0 - 1, 1000, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(tlm__store_outbox_claim(st, D0, 60000, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(rows[0].type, "feedback.issue");
    ck_assert_uint_eq(rows[0].attempts, 0);
    ck_assert_uint_eq(rows[0].body_len, 7);
    tlm__outbox_rows_free(rows, n);
    /* Leased: a second claim within the lease gets nothing. */
    ck_assert_int_eq(
        tlm__store_outbox_claim(st, D0 + 1000, 60000, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(rows);
    /* A failed attempt: logged, rescheduled, the lease released. */
    struct tlm__outbox_attempt fail = {.id = "dl-a",
        .attempt = 1,
        .http_status = 503,
        .error = "HTTP 503",
        .at_ms = D0 + 2000,
        .next_attempt_ms = D0 + 30000};
    ck_assert_int_eq(tlm__store_outbox_record(st, &fail), 0);
    struct tlm__outbox_attempt ok = {.id = "dl-b",
        .attempt = 1,
        .http_status = 200,
        .at_ms = D0 + 2100,
        .delivered = true};
    ck_assert_int_eq(tlm__store_outbox_record(st, &ok), 0);
    ck_assert_int_eq(
        tlm__store_outbox_claim(st, D0 + 29999, 60000, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(
        tlm__store_outbox_claim(st, D0 + 30000, 60000, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rows[0].id, "dl-a");
    ck_assert_str_eq(rows[0].body, "{\"a\":1}");
    ck_assert_uint_eq(rows[0].attempts, 1);
    tlm__outbox_rows_free(rows, n);
    struct tlm__outbox_attempt give_up = {.id = "dl-a",
        .attempt = 2,
        .error = "connection refused",
        .at_ms = D0 + 31000,
        .gave_up = true};
    ck_assert_int_eq(tlm__store_outbox_record(st, &give_up), 0);
    ck_assert_int_eq(
        tlm__store_outbox_claim(st, D0 + 10 * DAY, 60000, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE id = 'dl-a'"
                            " AND state = 'failed' AND attempts = 2"),
        1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE id = 'dl-b'"
                            " AND state = 'delivered'"),
        1);
    /* The log, newest first, by pages. */
    struct docs d = {.text = ""};
    int64_t next = 0;
    ck_assert_int_eq(
        tlm__store_deliveries_list(st, 2, 0, collect, &d, &next), 0);
    ck_assert_int_eq(d.n, 2);
    ck_assert_ptr_nonnull(strstr(d.text,
        "{\"delivery_id\":\"dl-a\",\"type\":\"feedback.issue\",\"attempt\":2,"
        "\"http_status\":null,\"error\":\"connection refused\",\"at_ms\":"));
    ck_assert_ptr_nonnull(strstr(d.text,
        "\"delivered\":false,\"gave_up\":true,\"next_attempt_ms\":null}"));
    ck_assert_ptr_nonnull(strstr(d.text,
        "\"delivery_id\":\"dl-b\",\"type\":\"feedback.issue\",\"attempt\":1,"
        "\"http_status\":200,\"error\":null"));
    ck_assert_int_gt(next, 0);
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(
        tlm__store_deliveries_list(st, 2, next, collect, &d, &next), 0);
    ck_assert_int_eq(d.n, 1);
    ck_assert_ptr_nonnull(
        strstr(d.text, "\"http_status\":503,\"error\":\"HTTP 503\""));
    ck_assert_ptr_nonnull(strstr(d.text, "\"next_attempt_ms\":"));
    ck_assert_int_eq(next, 0);
    tlm__store_close(st);
}
END_TEST

/* Two servers claim at once: each delivery goes to one of them. */
START_TEST(store_pg_outbox_claim_two_servers)
{
    struct tlm__store *a = open_store(), *b = open_store();
    struct tlm__outbox_item it[6];
    struct tlm__outbox_row *ra = NULL, *rb = NULL;
    size_t na = 0, nb = 0;
    struct fb f;
    char *existing = NULL;
    for (int i = 0; i < 6; i++) {
        memset(&it[i], 0, sizeof(it[i]));
        snprintf(it[i].id, sizeof(it[i].id), "dl-%d", i);
        it[i].type = "feedback.issue";
        it[i].body = "{}";
        it[i].body_len = 2;
    }
    fb_make(&f, 1, "acme", "bug", 0, D0);
    ck_assert_int_eq(
        tlm__store_feedback_insert(a, &f.row, NULL, it, 6, &existing), 0);
    ck_assert_int_eq(tlm__store_outbox_claim(a, D0, 60000, 4, &ra, &na), 0);
    ck_assert_int_eq(tlm__store_outbox_claim(b, D0, 60000, 4, &rb, &nb), 0);
    ck_assert_uint_eq(na, 4);
    ck_assert_uint_eq(nb, 2);
    for (size_t i = 0; i < na; i++) {
        for (size_t j = 0; j < nb; j++)
            ck_assert_str_ne(ra[i].id, rb[j].id);
    }
    tlm__outbox_rows_free(ra, na);
    tlm__outbox_rows_free(rb, nb);
    tlm__store_close(a);
    tlm__store_close(b);
}
END_TEST

START_TEST(store_pg_fr_comments)
{
    struct tlm__store *st = open_store();
    struct tlm__fr_comment c = {.author = "Ann", .user_id = "u1"};
    struct tlm__fr_comment *rows = NULL;
    size_t n = 0;
    int64_t next = -1;
    char existing[TLM_FB_ID_MAX] = "";
    fr_put(st, "fr-1", "acme", D0);
    for (int i = 1; i <= 3; i++) {
        char body[32];
        snprintf(c.id, sizeof(c.id), "c-%d", i);
        snprintf(body, sizeof(body), "comment %d", i);
        c.body = body;
        c.created_ms = D0 + i;
        ck_assert_int_eq(tlm__store_fr_comment_insert(st, "fr-1", "acme", &c,
                             i == 1 ? "ck" : NULL, existing),
            0);
    }
    /* Replay under the key: the first comment, nothing written. */
    snprintf(c.id, sizeof(c.id), "c-9");
    c.body = (char *)"again";
    ck_assert_int_eq(
        tlm__store_fr_comment_insert(st, "fr-1", "acme", &c, "ck", existing),
        TLM_FR_REPLAY);
    ck_assert_str_eq(existing, "c-1");
    ck_assert_int_eq(
        tlm__store_fr_comment_insert(st, "fr-1", "other", &c, NULL, existing),
        TLM_FR_NOT_FOUND);
    ck_assert_int_eq(
        scalar("SELECT comments FROM feature_requests WHERE id = 'fr-1'"), 3);
    ck_assert_int_eq(
        tlm__store_fr_comment_list(st, "fr-1", "acme", 0, 2, &rows, &n, &next),
        0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(rows[0].id, "c-1");
    ck_assert_str_eq(rows[0].body, "comment 1");
    ck_assert_str_eq(rows[0].author, "Ann");
    ck_assert_str_eq(rows[0].user_id, "u1");
    ck_assert_int_eq(rows[0].created_ms, D0 + 1);
    ck_assert_str_eq(rows[1].id, "c-2");
    ck_assert_int_gt(next, 0);
    tlm__fr_comments_free(rows, n);
    int64_t after = next;
    next = 0;
    ck_assert_int_eq(tlm__store_fr_comment_list(
                         st, "fr-1", NULL, after, 2, &rows, &n, &next),
        0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rows[0].id, "c-3");
    ck_assert_int_eq(next, 0);
    tlm__fr_comments_free(rows, n);
    ck_assert_int_eq(
        tlm__store_fr_comment_list(st, "fr-1", "other", 0, 2, &rows, &n, &next),
        TLM_FR_NOT_FOUND);
    ck_assert_ptr_null(rows);
    tlm__store_close(st);
}
END_TEST

START_TEST(store_pg_feedback_summary)
{
    struct tlm__store *st = open_store();
    struct tlm__feedback_summary s;
    /* D0 is a Thursday: its ISO week starts on Monday 2025-12-29; D0 + 4
     * days is the Monday 2026-01-05. */
    fb_put(st, 1, "acme", "bug", -0.5, D0);
    fb_put(st, 2, "acme", "bug", -0.3, D0 + DAY);
    fb_put(st, 3, "acme", "ux", 0.0, D0 + 4 * DAY);
    fb_put(st, 4, "acme", "ux", 0.8, D0 + 4 * DAY + 1);
    fb_put(st, 5, "acme", "bug", 0.5, D0 + 20 * DAY); /* out of range */
    fr_put(st, "fr-1", "acme", D0 + 2);
    vote(st, "fr-1", "u1", true, D0 + 3, 0);
    ck_assert_int_eq(set_status(st, "fr-1", NULL, "planned", NULL, D0 + 4), 0);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(
        tlm__store_feedback_summary(st, D0, D0 + 7 * DAY, NULL, &s), 0);
    ck_assert_double_eq_tol(s.total, 4, 1e-9);
    ck_assert_double_eq_tol(s.mean_sentiment, 0, 1e-9);
    ck_assert_double_eq_tol(s.negative, 2, 1e-9);
    ck_assert_double_eq_tol(s.neutral, 1, 1e-9);
    ck_assert_double_eq_tol(s.positive, 1, 1e-9);
    ck_assert_uint_eq(s.n_categories, 2);
    ck_assert_str_eq(s.categories[0].name, "bug");
    ck_assert_double_eq_tol(s.categories[0].mean_sentiment, -0.4, 1e-9);
    ck_assert_str_eq(s.categories[1].name, "ux");
    /* fb-3: feature export, fb-1 and fb-4: endpoint /v1/orders (4 sandbox). */
    ck_assert_uint_eq(s.n_targets, 2);
    ck_assert_str_eq(s.targets[0].name, "endpoint:/v1/orders");
    ck_assert_double_eq_tol(s.targets[0].count, 2, 1e-9);
    ck_assert_str_eq(s.targets[1].name, "feature:export");
    ck_assert_uint_eq(s.n_trends, 2);
    ck_assert_str_eq(s.trends[0].week, "2025-12-29");
    ck_assert_str_eq(s.trends[0].category, "bug");
    ck_assert_double_eq_tol(s.trends[0].count, 2, 1e-9);
    ck_assert_str_eq(s.trends[1].week, "2026-01-05");
    ck_assert_str_eq(s.trends[1].category, "ux");
    ck_assert_double_eq_tol(s.requests_new, 1, 1e-9);
    ck_assert_double_eq_tol(s.votes, 1, 1e-9);
    ck_assert_double_eq_tol(s.status_changes, 1, 1e-9);
    tlm__feedback_summary_free(&s);
    /* By environment (fb-3 is sandbox). */
    ck_assert_int_eq(
        tlm__store_feedback_summary(st, D0, D0 + 7 * DAY, "sandbox", &s), 0);
    ck_assert_double_eq_tol(s.total, 1, 1e-9);
    ck_assert_uint_eq(s.n_categories, 1);
    tlm__feedback_summary_free(&s);
    ck_assert_int_eq(
        tlm__store_feedback_summary(st, D0 + 30 * DAY, D0 + 31 * DAY, NULL, &s),
        0);
    ck_assert_double_eq_tol(s.total, 0, 1e-9);
    ck_assert_uint_eq(s.n_categories, 0);
    ck_assert_uint_eq(s.n_trends, 0);
    tlm__feedback_summary_free(&s);
    tlm__store_close(st);
}
END_TEST

/* One run of the same calls, as text: every outcome and listing. */
static void
scenario(struct tlm__store *st, char *out, size_t size)
{
    size_t used = 0;
#define SAY(...) used += (size_t)snprintf(out + used, size - used, __VA_ARGS__)
    static const char *const cats[] = {"bug", "ux", "Zeta", "alpha", "é"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int64_t now = D0 + 20 * DAY;
    for (int i = 0; i < 40; i++) {
        uint64_t x = next_rand(&seed);
        struct fb f;
        char *existing = NULL;
        char key[16];
        fb_make(&f, i, x % 7 == 0 ? "other" : "acme", cats[(x >> 8) % 5],
            (double)((int)((x >> 16) % 9) - 4) / 4, /* exact sums */
            D0 + (int64_t)((x >> 24) % (15 * DAY)));
        snprintf(key, sizeof(key), "k%d", (int)((x >> 40) % 30));
        int rc = tlm__store_feedback_insert(
            st, &f.row, x % 3 == 0 ? key : NULL, NULL, 0, &existing);
        SAY("fb %d %d %s\n", i, rc, existing != NULL ? existing : "-");
        free(existing);
    }
    for (int i = 0; i < 12; i++) {
        struct tlm__fr r;
        char id[16], key[16], existing[TLM_FB_ID_MAX] = "";
        snprintf(id, sizeof(id), "fr-%02d", i);
        snprintf(key, sizeof(key), "r%d", i % 5);
        fr_make(&r, id, "acme", D0 + i * DAY);
        SAY("fr %d %d %s\n", i,
            tlm__store_fr_insert(st, &r, i % 2 ? key : NULL, existing),
            existing);
    }
    for (int i = 0; i < 80; i++) {
        uint64_t x = next_rand(&seed);
        char id[16], user[16];
        struct tlm__fr_vote_result res;
        memset(&res, 0, sizeof(res));
        snprintf(id, sizeof(id), "fr-%02d", (int)(x % 13));
        snprintf(user, sizeof(user), "u%d", (int)((x >> 8) % 9));
        int rc = tlm__store_fr_vote(st, id, "acme", user, (x >> 16) % 5 != 0,
            D0 + (int64_t)((x >> 24) % (20 * DAY)), &res);
        SAY("vote %s %s %d %s %s %lld\n", id, user, rc, res.id, res.status,
            (long long)res.votes);
        if (i == 20) {
            SAY("st %d\n",
                set_status(
                    st, "fr-03", NULL, "completed", NULL, D0 + 10 * DAY));
            SAY("st %d\n",
                set_status(st, "fr-04", "submitted", "declined", "fr-05",
                    D0 + 10 * DAY));
            SAY("st %d\n",
                set_status(st, "fr-06", "planned", "declined", NULL, now));
        }
    }
    for (int sort = 0; sort < 3; sort++) {
        char ids[512];
        page_all(st, (enum tlm__fr_sort)sort, now, ids, sizeof(ids));
        SAY("sort %d: %s\n", sort, ids);
    }
    struct tlm__feedback_query q = {.organization = "acme",
        .limit = 7,
        .has_min_sentiment = true,
        .min_sentiment = -0.5};
    int64_t next = 0;
    do {
        struct docs d = {.text = ""};
        ck_assert_int_eq(
            tlm__store_feedback_list(st, &q, collect, &d, &next), 0);
        SAY("list %s\n", d.text);
        q.before = next;
    } while (next != 0);
    struct tlm__feedback_summary s;
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(
        tlm__store_feedback_summary(st, D0, D0 + 15 * DAY, NULL, &s), 0);
    SAY("sum %.0f %.6f %.0f %.0f %.0f %.0f %.0f %.0f\n", s.total,
        s.mean_sentiment, s.negative, s.neutral, s.positive, s.requests_new,
        s.votes, s.status_changes);
    for (size_t i = 0; i < s.n_categories; i++)
        SAY("cat %s %.0f %.6f\n", s.categories[i].name, s.categories[i].count,
            s.categories[i].mean_sentiment);
    for (size_t i = 0; i < s.n_targets; i++)
        SAY("tgt %s %.0f %.6f\n", s.targets[i].name, s.targets[i].count,
            s.targets[i].mean_sentiment);
    for (size_t i = 0; i < s.n_trends; i++)
        SAY("week %s %s %.0f %.6f\n", s.trends[i].week, s.trends[i].category,
            s.trends[i].count, s.trends[i].mean_sentiment);
    tlm__feedback_summary_free(&s);
#undef SAY
    ck_assert_uint_lt(used, size);
}

/* The same calls through both backends give the same outcomes, pages and
 * summary. */
START_TEST(store_pg_feedback_matches_sqlite)
{
    enum { SIZE = 64 * 1024 };
    char path[160];
    char *x = malloc(SIZE), *y = malloc(SIZE);
    snprintf(path, sizeof(path), "sqlite:%s/t.db", sqlite_dir);
    struct tlm__store *pg = open_store(), *lite = open_url(path);
    scenario(pg, x, SIZE);
    scenario(lite, y, SIZE);
    if (strcmp(x, y) != 0) {
        const char *a = x, *b = y;
        while (*a != '\0' && *a == *b) {
            a++;
            b++;
        }
        while (a > x && a[-1] != '\n') {
            a--;
            b--;
        }
        ck_abort_msg(
            "postgresql and sqlite differ at:\n%.200s\nvs\n%.200s", a, b);
    }
    ck_assert_ptr_nonnull(strstr(x, "sort 2: "));
    /* The run covers replays, a merge, a conflict and closed requests. */
    ck_assert_ptr_nonnull(strstr(x, "fr 11 4 fr-01\n"));
    ck_assert_ptr_nonnull(strstr(x, "st 3\n"));
    ck_assert_ptr_nonnull(strstr(x, " 0 fr-05 submitted "));
    ck_assert_ptr_nonnull(strstr(x, " 2 fr-03 completed 0\n"));
    free(x);
    free(y);
    tlm__store_close(pg);
    tlm__store_close(lite);
}
END_TEST

struct voter {
    struct tlm__store *st;
    int first; /* users first .. first + VOTERS - 1 */
};

#define VOTERS 40

/* Each user votes, votes again, unvotes every third and comments, through
 * one of two stores (two servers on one database). */
static void *
vote_many(void *arg)
{
    struct voter *v = arg;
    for (int i = 0; i < VOTERS; i++) {
        char user[16];
        struct tlm__fr_vote_result res;
        struct tlm__fr_comment c = {.body = (char *)"+1", .created_ms = D0};
        char existing[TLM_FB_ID_MAX];
        snprintf(user, sizeof(user), "u%d", v->first + i);
        for (int k = 0; k < 2; k++) {
            if (tlm__store_fr_vote(v->st, "fr-1", "acme", user, true, D0, &res)
                != 0)
                return (void *)1;
        }
        if (i % 3 == 0
            && tlm__store_fr_vote(v->st, "fr-1", "acme", user, false, D0, &res)
                != 0)
            return (void *)1;
        snprintf(c.id, sizeof(c.id), "c-%s", user);
        int rc = tlm__store_fr_comment_insert(
            v->st, "fr-1", "acme", &c, c.id, existing);
        if (rc != 0 && rc != TLM_FR_REPLAY)
            return (void *)1;
    }
    return NULL;
}

/* Concurrent votes and comments from two servers: the counts on the row
 * match the rows, with no vote lost or counted twice. */
START_TEST(store_pg_fr_concurrent_votes)
{
    struct tlm__store *a = open_store(), *b = open_store();
    struct voter v[4] = {{a, 0}, {b, 0}, {a, 1000}, {b, 1000}};
    pthread_t t[4];
    fr_put(a, "fr-1", "acme", D0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, vote_many, &v[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *rc = (void *)1;
        pthread_join(t[i], &rc);
        ck_assert_ptr_null(rc);
    }
    ck_assert_int_eq(
        scalar("SELECT votes FROM feature_requests WHERE id = 'fr-1'"),
        scalar("SELECT count(*) FROM fr_votes WHERE request_id = 'fr-1'"));
    /* Of 80 users, every third of each 40 unvoted (14 each) at least
     * once; a unvote racing the other thread's vote may leave a vote. */
    ck_assert_int_ge(scalar("SELECT count(*) FROM fr_votes"), 80 - 28);
    ck_assert_int_eq(
        scalar("SELECT comments FROM feature_requests WHERE id = 'fr-1'"),
        scalar("SELECT count(*) FROM fr_comments"));
    /* Comments carried their own id as key: one each, replays merged. */
    ck_assert_int_eq(scalar("SELECT count(*) FROM fr_comments"), 80);
    tlm__store_close(a);
    tlm__store_close(b);
}
END_TEST

/* ---- error groups ----------------------------------------------------- */

#define MIN ((int64_t)60000)

/* One error event of a hand-made group: group is a letter, repeated into
 * the 32-digit id ("aaaa..."). */
struct err_spec {
    int num; /* the event id's number, and its payload {"n":num} */
    char group;
    int severity;
    int64_t ts_ms;
    const char *user;
    const char *endpoint;
    double sample_rate; /* 0: 1 */
    const char *env; /* NULL: production */
};

static void
group_id(char g, char out[TLM_GROUP_ID_MAX])
{
    memset(out, g, TLM_GROUP_ID_MAX - 1);
    out[TLM_GROUP_ID_MAX - 1] = '\0';
}

/* Stores sp[0..n) (plus one request event when with_request) as one batch
 * received at received_ms under pol (NULL: the defaults); returns the
 * alerts it raised. */
static size_t
insert_errors(struct tlm__store *st, const struct err_spec *sp, size_t n,
    const struct tlm__alert_policy *pol, int64_t received_ms, bool with_request,
    size_t *accepted)
{
    size_t total = n + (with_request ? 1 : 0), dups;
    struct tlm__store_event *ev = calloc(total, sizeof(*ev));
    struct tlm__error_info *info = calloc(n ? n : 1, sizeof(*info));
    char(*payload)[32] = calloc(total, sizeof(*payload));
    char(*titles)[32] = calloc(n ? n : 1, sizeof(*titles));
    for (size_t i = 0; i < total; i++) {
        struct tlm__event *e = &ev[i].ev;
        bool err = i < n;
        int num = err ? sp[i].num : 900000 + (n > 0 ? sp[0].num : 0);
        snprintf(e->id, sizeof(e->id), "0190b000-0000-7000-8000-%012d", num);
        e->type = err ? TLM_EVENT_ERROR : TLM_EVENT_REQUEST;
        e->ts_ms = err ? sp[i].ts_ms : received_ms;
        e->environment = err && sp[i].env != NULL ? sp[i].env : "production";
        e->sample_rate = err && sp[i].sample_rate > 0 ? sp[i].sample_rate : 1;
        e->endpoint = err ? sp[i].endpoint : "/req";
        e->user_id = err ? sp[i].user : "u-req";
        e->severity = err ? sp[i].severity : -1;
        snprintf(payload[i], sizeof(payload[i]), "{\"n\":%d}", num);
        ev[i].payload = payload[i];
        ev[i].payload_len = strlen(payload[i]);
        if (!err) {
            e->has_status = true;
            e->status = 200;
            continue;
        }
        e->error_code = sp[i].group == 'c' ? NULL : "E_X";
        group_id(sp[i].group, info[i].group_id);
        memset(info[i].fingerprint, 'f', TLM_GROUP_ID_MAX - 1);
        info[i].fingerprint[0] = sp[i].group;
        snprintf(titles[i], sizeof(titles[i]), "title %c", sp[i].group);
        info[i].title = titles[i];
        info[i].culprit = "fn (file.c)";
        info[i].grouping_version = 1;
        info[i].severity = sp[i].severity;
        info[i].custom = sp[i].group == 'z';
        ev[i].error = &info[i];
    }
    struct tlm__store_batch b = {.received_ms = received_ms,
        .events = ev,
        .n_events = total,
        .alerts = pol};
    b.meta.event_count = total;
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, accepted, &dups), 0);
    free(titles);
    free(payload);
    free(info);
    free(ev);
    return b.alerts_raised;
}

static int
group_get(
    struct tlm__store *st, char g, int64_t now, struct tlm__group_detail *d)
{
    char id[TLM_GROUP_ID_MAX];
    group_id(g, id);
    return tlm__store_error_group_get(st, id, now, d);
}

static int
group_status(struct tlm__store *st, char g, const char *status, int64_t now)
{
    char id[TLM_GROUP_ID_MAX];
    group_id(g, id);
    return tlm__store_error_group_set_status(st, id, status, now);
}

/* A group is made by its first batch, grows with the next, counts users,
 * endpoints, minutes (weighted by 1/sample_rate) and tags its events;
 * replayed ids count nothing. */
START_TEST(store_pg_errors_group_counts)
{
    const int64_t t = D0 + 10 * MIN;
    struct err_spec first[] = {{1, 'a', 1, t + MIN, "u1", "/a", 0, NULL},
        {2, 'a', 2, t + 2 * MIN, "u2", "/a", 0, NULL},
        {3, 'a', 1, t + 2 * MIN + 5000, "u1", "/b", 0, NULL}};
    struct err_spec second[] = {{4, 'a', 0, t + 3 * MIN, "u3", "/b", 0.5, NULL},
        {5, 'a', 0, t + 3 * MIN + 1, NULL, NULL, 0, NULL}};
    struct tlm__group_detail d;
    size_t a;
    struct tlm__store *st = open_store();
    insert_errors(st, first, 3, NULL, t + 4 * MIN, true, &a);
    ck_assert_uint_eq(a, 4);
    ck_assert_int_eq(group_get(st, 'a', t + 4 * MIN, &d), 0);
    ck_assert_double_eq(d.group.events, 3);
    ck_assert_double_eq(d.group.users, 2);
    ck_assert_int_eq(d.group.max_severity, 2);
    ck_assert_int_eq(d.group.first_seen_ms, t + MIN);
    ck_assert_int_eq(d.group.last_seen_ms, t + 2 * MIN + 5000);
    ck_assert_str_eq(d.group.title, "title a");
    ck_assert_str_eq(d.group.culprit, "fn (file.c)");
    ck_assert_str_eq(d.group.error_code, "E_X");
    ck_assert_str_eq(d.group.status, "unresolved");
    ck_assert_str_eq(d.group.environment, "production");
    ck_assert_int_eq(d.group.grouping_version, 1);
    ck_assert(!d.group.custom && !d.group.regressed);
    ck_assert_uint_eq(d.group.n_endpoints, 2);
    ck_assert_str_eq(d.group.endpoints[0].endpoint, "/a");
    ck_assert_double_eq(d.group.endpoints[0].events, 2);
    ck_assert_uint_eq(d.n_minutes, 2);
    ck_assert_int_eq(d.minutes[0].minute_ms, t + MIN);
    ck_assert_double_eq(d.minutes[0].events, 1);
    ck_assert_double_eq(d.minutes[1].events, 2);
    ck_assert_uint_eq(d.n_samples, 3);
    ck_assert_str_eq(d.samples[0], "{\"n\":3}");
    ck_assert_str_eq(d.samples[2], "{\"n\":1}");
    tlm__group_detail_free(&d);

    insert_errors(st, second, 2, NULL, t + 4 * MIN, false, &a);
    ck_assert_uint_eq(a, 2);
    insert_errors(st, second, 2, NULL, t + 4 * MIN, false, &a); /* replay */
    ck_assert_uint_eq(a, 0);
    insert_errors(st, first, 1, NULL, t + 4 * MIN, false, &a);
    ck_assert_uint_eq(a, 0);
    ck_assert_int_eq(group_get(st, 'a', t + 4 * MIN, &d), 0);
    ck_assert_double_eq(d.group.events, 6); /* 3 + 2 + 1 */
    ck_assert_double_eq(d.group.users, 3);
    ck_assert_double_eq(d.group.events_24h, 6);
    ck_assert_int_eq(d.group.max_severity, 2);
    ck_assert_int_eq(d.group.last_seen_ms, t + 3 * MIN + 1);
    ck_assert_str_eq(d.group.endpoints[0].endpoint, "/b"); /* 1 + 2 */
    ck_assert_double_eq(d.group.endpoints[0].events, 3);
    ck_assert_uint_eq(d.n_minutes, 3);
    ck_assert_double_eq(d.minutes[2].events, 3);
    ck_assert_uint_eq(d.n_samples, 5);
    ck_assert_str_eq(d.samples[0], "{\"n\":5}");
    /* Default thresholds: no level crossed (critical needs critical
     * events, high 10 of severity >= high plus their users). */
    ck_assert_int_eq(d.group.impact, -1);
    tlm__group_detail_free(&d);
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE group_id ="
                            " 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"),
        5);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM events WHERE group_id IS NULL"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM error_group_users"), 3);
}
END_TEST

static size_t
count_alerts(struct tlm__store *st, int64_t to)
{
    struct tlm__alert_row *rows = NULL;
    size_t n = 0;
    ck_assert_int_eq(
        tlm__store_alerts_recent(st, 0, to, NULL, 100, &rows, &n), 0);
    tlm__alert_rows_free(rows, n);
    return n;
}

/* One alert per level crossed (events + users in the window reaching the
 * level's threshold), again after a resolved group recurs, none while
 * ignored; each alert queues its error.alert delivery. */
START_TEST(store_pg_errors_alert_rule)
{
    const struct tlm__alert_policy pol = {
        .thresholds = {2, 4, 100, 1000}, .window_ms = 3600000, .webhook = true};
    const struct tlm__alert_policy never
        = {.thresholds = {1e9, 1e9, 1e9, 1e9}, .window_ms = 3600000};
    const int64_t t = D0 + 10 * MIN;
    struct err_spec e1[] = {{1, 'a', 0, t, "u1", "/a", 0, NULL}};
    struct err_spec e2[] = {{2, 'a', 0, t + 1, "u1", "/a", 0, NULL}};
    struct err_spec e3[] = {{3, 'a', 1, t + 2, "u2", "/a", 0, NULL}};
    struct err_spec e4[] = {{4, 'a', 1, t + 3, "u2", "/a", 0, NULL},
        {5, 'a', 1, t + 4, "u3", "/a", 0, NULL}};
    struct err_spec e5[] = {{6, 'a', 0, t + 10 * MIN, "u1", "/a", 0, NULL}};
    struct tlm__group_detail d;
    size_t a;
    struct tlm__store *st = open_store();
    ck_assert_uint_eq(insert_errors(st, e1, 1, &pol, t, false, &a), 1);
    ck_assert_uint_eq(insert_errors(st, e2, 1, &pol, t, false, &a), 0);
    ck_assert_uint_eq(insert_errors(st, e3, 1, &pol, t, false, &a), 0);
    ck_assert_uint_eq(insert_errors(st, e3, 1, &pol, t, false, &a), 0);
    ck_assert_uint_eq(insert_errors(st, e4, 2, &pol, t, false, &a), 1);
    ck_assert_uint_eq(insert_errors(st, e4, 2, &pol, t, false, &a), 0);
    ck_assert_int_eq(group_get(st, 'a', t, &d), 0);
    ck_assert_int_eq(d.group.impact, 1);
    ck_assert_uint_eq(d.n_alerts, 2);
    ck_assert_int_eq(d.alerts[0].level, 1);
    ck_assert_double_eq(d.alerts[0].events, 3); /* severity >= medium */
    ck_assert_double_eq(d.alerts[0].users, 2);
    ck_assert_int_eq(d.alerts[0].window_ms, 3600000);
    ck_assert_int_eq(d.alerts[0].created_ms, t);
    ck_assert_int_eq(d.alerts[1].level, 0);
    ck_assert_double_eq(d.alerts[1].events, 1);
    ck_assert_double_eq(d.alerts[1].users, 1);
    ck_assert_uint_eq(strlen(d.alerts[0].delivery_id), 36);
    char sql[512];
    snprintf(sql, sizeof(sql),
        "SELECT count(*) FROM outbox WHERE id = '%s' AND type ="
        " 'error.alert' AND body::json->>'impact' = 'medium'"
        " AND body::json->'group'->>'title' = 'title a'"
        " AND (body::json->>'events_in_window')::float8 = 3"
        " AND (body::json->>'window_minutes')::int = 60"
        " AND body::json->'group'->>'regressed' = 'false'",
        d.alerts[0].delivery_id);
    tlm__group_detail_free(&d);
    ck_assert_int_eq(scalar(sql), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox"), 2);

    /* Resolved, then an event older than the resolution: still resolved;
     * a newer one reopens it and alerts at its level again. */
    ck_assert_int_eq(group_status(st, 'a', "resolved", t + 5 * MIN), 0);
    struct err_spec old[] = {{7, 'a', 0, t + 5, "u1", "/a", 0, NULL}};
    ck_assert_uint_eq(
        insert_errors(st, old, 1, &pol, t + 6 * MIN, false, &a), 0);
    ck_assert_int_eq(group_get(st, 'a', t + 6 * MIN, &d), 0);
    ck_assert_str_eq(d.group.status, "resolved");
    ck_assert_int_eq(d.group.resolved_ms, t + 5 * MIN);
    tlm__group_detail_free(&d);
    ck_assert_uint_eq(
        insert_errors(st, e5, 1, &pol, t + 10 * MIN, false, &a), 1);
    ck_assert_int_eq(group_get(st, 'a', t + 10 * MIN, &d), 0);
    ck_assert_str_eq(d.group.status, "unresolved");
    ck_assert(d.group.regressed);
    ck_assert_uint_eq(d.n_alerts, 3);
    ck_assert_int_eq(d.alerts[0].level, 1);
    tlm__group_detail_free(&d);
    ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE"
                            " body::json->'group'->>'regressed' = 'true'"),
        1);

    /* An ignored group crosses levels without alerting. */
    struct err_spec b1[] = {{20, 'b', 3, t, "u1", "/b", 0, NULL}};
    struct err_spec b2[] = {{21, 'b', 3, t + 1, "u2", "/b", 0, NULL}};
    ck_assert_uint_eq(insert_errors(st, b1, 1, &never, t, false, &a), 0);
    ck_assert_int_eq(group_status(st, 'b', "ignored", t), 0);
    ck_assert_uint_eq(insert_errors(st, b2, 1, &pol, t, false, &a), 0);
    ck_assert_int_eq(group_get(st, 'b', t, &d), 0);
    ck_assert_str_eq(d.group.status, "ignored");
    ck_assert_int_eq(d.group.impact, 1);
    ck_assert_uint_eq(d.n_alerts, 0);
    tlm__group_detail_free(&d);
    ck_assert_uint_eq(count_alerts(st, t + DAY), 3);

    /* Unknown groups. */
    ck_assert_int_eq(group_status(st, 'q', "resolved", t), TLM_FR_NOT_FOUND);
    ck_assert_int_eq(group_get(st, 'q', t, &d), TLM_FR_NOT_FOUND);
    tlm__store_close(st);
}
END_TEST

/* Ids of a listing, as letters ("abc"). */
static void
list_letters(struct tlm__store *st, const struct tlm__group_query *q, char *out,
    size_t size, bool *more)
{
    struct tlm__error_group *rows = NULL;
    size_t n = 0;
    ck_assert_int_eq(tlm__store_error_groups_list(st, q, &rows, &n, more), 0);
    ck_assert_uint_lt(n, size);
    for (size_t i = 0; i < n; i++)
        out[i] = rows[i].id[0];
    out[n] = '\0';
    tlm__error_groups_free(rows, n);
}

START_TEST(store_pg_errors_list_sorts_filters_pages)
{
    const int64_t t = D0 + DAY;
    /* a: 4 low events, old; b: 2 critical; c: 1 high, newest, /c;
     * d: 3 events in staging; e: ignored. */
    struct err_spec sp[] = {{1, 'a', 0, t - 20 * MIN, "u1", "/a", 0, NULL},
        {2, 'a', 0, t - 20 * MIN, "u1", "/a", 0, NULL},
        {3, 'a', 0, t - 20 * MIN, "u1", "/a", 0, NULL},
        {4, 'a', 0, t - 20 * MIN, "u1", "/x", 0, NULL},
        {5, 'b', 3, t - 10 * MIN, "u2", "/b", 0, NULL},
        {6, 'b', 3, t - 10 * MIN, "u2", "/b", 0, NULL},
        {7, 'c', 2, t - MIN, "u3", "/c", 0, NULL},
        {8, 'd', 0, t - 5 * MIN, "u4", "/x", 0, "staging"},
        {9, 'd', 0, t - 5 * MIN, "u4", "/x", 0, "staging"},
        {10, 'd', 0, t - 5 * MIN, "u4", "/x", 0, "staging"},
        {11, 'e', 3, t - 2 * MIN, "u5", "/a", 0, NULL}};
    const struct tlm__alert_policy pol
        = {.thresholds = {3, 1e9, 1e9, 3}, .window_ms = 3600000};
    struct tlm__group_query q = {.impact = -1,
        .limit = 10,
        .now_ms = t,
        .sort = TLM_GROUP_SORT_PRIORITY};
    char got[16];
    bool more = false;
    size_t a;
    struct tlm__store *st = open_store();
    insert_errors(st, sp, 11, &pol, t, false, &a);
    ck_assert_int_eq(group_status(st, 'e', "ignored", t), 0);
    /* priority: (max(impact, max_severity) + 1) x events in 24 hours:
     * b 4 x 2 (critical: 2 events + 1 user >= 3), a 1 x 4, then c 3 x 1
     * and d 1 x 3 by id. */
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "bacd");
    ck_assert(!more);
    q.sort = TLM_GROUP_SORT_RECENT;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "cdba");
    q.sort = TLM_GROUP_SORT_EVENTS;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "adbc");
    q.environment = "staging";
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "d");
    q.environment = NULL;
    q.endpoint = "/x";
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "ad");
    q.endpoint = NULL;
    q.impact = 3;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "b");
    q.impact = 0;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "ad"); /* 4 + 1, 3 + 1 >= 3; c, e: 1 + 1 */
    q.impact = -1;
    q.status = "ignored";
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "e");
    q.status = NULL;
    /* Pages of 2 by offset. */
    q.limit = 2;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "ad");
    ck_assert(more);
    q.offset = 2;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "bc");
    ck_assert(!more);
    q.offset = 4;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "");
    /* Events older than a day leave the priority, not the totals. */
    q.offset = 0;
    q.limit = 10;
    q.sort = TLM_GROUP_SORT_PRIORITY;
    q.now_ms = t + DAY;
    list_letters(st, &q, got, sizeof(got), &more);
    ck_assert_str_eq(got, "abcd"); /* all 0: by id */
    /* Alerts: a low, b critical, d low (in the batch's order), newest
     * first. */
    struct tlm__alert_row *rows = NULL;
    size_t n = 0;
    ck_assert_int_eq(
        tlm__store_alerts_recent(st, t, t + 1, NULL, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(rows[0].group_id[0], 'd');
    ck_assert_int_eq(rows[1].group_id[0], 'b');
    ck_assert_int_eq(rows[2].group_id[0], 'a');
    ck_assert_str_eq(rows[0].title, "title d");
    ck_assert_str_eq(rows[0].environment, "staging");
    ck_assert_int_eq(rows[1].alert.level, 3);
    ck_assert_int_eq(rows[2].alert.level, 0);
    ck_assert_str_eq(rows[1].alert.delivery_id, "");
    tlm__alert_rows_free(rows, n);
    ck_assert_int_eq(
        tlm__store_alerts_recent(st, t, t + 1, "staging", 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 1);
    tlm__alert_rows_free(rows, n);
    ck_assert_int_eq(
        tlm__store_alerts_recent(st, t, t + 1, NULL, 2, &rows, &n), 0);
    ck_assert_uint_eq(n, 2);
    tlm__alert_rows_free(rows, n);
    ck_assert_int_eq(
        tlm__store_alerts_recent(st, t + 1, t + 2, NULL, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    tlm__alert_rows_free(rows, n);
    tlm__store_close(st);
}
END_TEST

/* A pseudo-random run of error batches (replays, resolutions, ignores,
 * sample rates) and every read, as text. */
static void
errors_scenario(struct tlm__store *st, char *out, size_t size)
{
    size_t used = 0;
#define SAY(...) used += (size_t)snprintf(out + used, size - used, __VA_ARGS__)
    static const char *const users[] = {"u1", "u2", "u3", "u4", NULL};
    static const char *const eps[] = {"/a", "/b", "/c", NULL};
    const struct tlm__alert_policy pol = {
        .thresholds = {4, 9, 15, 25}, .window_ms = 20 * MIN, .webhook = true};
    uint64_t seed = 0x2545f4914f6cdd1dull;
    int64_t now = D0 + DAY;
    int num = 1;
    struct err_spec sp[12];
    size_t n = 0;
    for (int batch = 0; batch < 30; batch++) {
        size_t a;
        now += MIN + (int64_t)(next_rand(&seed) % (3 * MIN));
        /* Every seventh batch resends the one before (same ids and
         * timestamps: duplicates on either backend). */
        if (batch % 7 != 6)
            n = 1 + next_rand(&seed) % 12;
        for (size_t i = 0; i < n && batch % 7 != 6; i++) {
            uint64_t x = next_rand(&seed);
            sp[i] = (struct err_spec) {num++, "abcdez"[x % 6],
                (int)((x >> 8) % 4),
                now - (int64_t)((x >> 16) % (10 * MIN)) - (int)i,
                users[(x >> 32) % 5], eps[(x >> 40) % 4],
                (x >> 48) % 5 == 0 ? 0.25 : 1,
                (x >> 52) % 6 == 0 ? "staging" : NULL};
        }
        size_t raised = insert_errors(st, sp, n, &pol, now, batch % 4 == 0, &a);
        SAY("batch %d: %zu accepted, %zu alerts\n", batch, a, raised);
        if (batch % 9 == 4)
            SAY("resolve %d\n",
                group_status(st, "abcdez"[batch % 6], "resolved", now));
        if (batch == 13)
            SAY("ignore %d\n", group_status(st, 'd', "ignored", now));
        if (batch == 22)
            SAY("reopen %d\n", group_status(st, 'd', "unresolved", now));
    }
    for (int sort = 0; sort < 3; sort++) {
        struct tlm__group_query q
            = {.impact = -1, .limit = 4, .now_ms = now, .sort = sort};
        bool more = true;
        while (more) {
            struct tlm__error_group *rows = NULL;
            size_t n = 0;
            more = false;
            ck_assert_int_eq(
                tlm__store_error_groups_list(st, &q, &rows, &n, &more), 0);
            for (size_t i = 0; i < n; i++) {
                const struct tlm__error_group *g = &rows[i];
                SAY("%d %c %s %s %s %s %d %d %d %d %.6g %.6g %.6g %.6g %lld"
                    " %lld %lld:",
                    sort, g->id[0], g->environment, g->status, g->title,
                    g->error_code != NULL ? g->error_code : "-", g->impact,
                    g->max_severity, g->custom, g->regressed, g->events,
                    g->events_24h, g->users, g->priority,
                    (long long)g->first_seen_ms, (long long)g->last_seen_ms,
                    (long long)g->resolved_ms);
                for (size_t k = 0; k < g->n_endpoints; k++)
                    SAY(" %s=%.6g", g->endpoints[k].endpoint,
                        g->endpoints[k].events);
                SAY("\n");
            }
            tlm__error_groups_free(rows, n);
            q.offset += 4;
        }
    }
    for (const char *g = "abcdez"; *g != '\0'; g++) {
        struct tlm__group_detail d;
        ck_assert_int_eq(group_get(st, *g, now, &d), 0);
        SAY("group %c:", *g);
        for (size_t i = 0; i < d.n_minutes; i++)
            SAY(" %lld=%.6g", (long long)(d.minutes[i].minute_ms - D0),
                d.minutes[i].events);
        SAY("\n samples:");
        for (size_t i = 0; i < d.n_samples; i++)
            SAY(" %s", d.samples[i]);
        SAY("\n alerts:");
        for (size_t i = 0; i < d.n_alerts; i++)
            SAY(" %d/%.6g/%.6g/%lld/%d", d.alerts[i].level, d.alerts[i].events,
                d.alerts[i].users, (long long)d.alerts[i].created_ms,
                d.alerts[i].delivery_id[0] != '\0');
        SAY("\n");
        tlm__group_detail_free(&d);
    }
    struct tlm__alert_row *rows = NULL;
    size_t n_rows = 0;
    ck_assert_int_eq(tlm__store_alerts_recent(
                         st, D0, now + 1, "production", 30, &rows, &n_rows),
        0);
    for (size_t i = 0; i < n_rows; i++)
        SAY("alert %c %s %d\n", rows[i].group_id[0], rows[i].title,
            rows[i].alert.level);
    tlm__alert_rows_free(rows, n_rows);
#undef SAY
    ck_assert_uint_lt(used, size);
}

START_TEST(store_pg_errors_match_sqlite)
{
    enum { SIZE = 64 * 1024 };
    char path[160];
    char *x = malloc(SIZE), *y = malloc(SIZE);
    snprintf(path, sizeof(path), "sqlite:%s/t.db", sqlite_dir);
    struct tlm__store *pg = open_store(), *lite = open_url(path);
    errors_scenario(pg, x, SIZE);
    errors_scenario(lite, y, SIZE);
    if (strcmp(x, y) != 0) {
        const char *a = x, *b = y;
        while (*a != '\0' && *a == *b) {
            a++;
            b++;
        }
        while (a > x && a[-1] != '\n') {
            a--;
            b--;
        }
        ck_abort_msg(
            "postgresql and sqlite differ at:\n%.300s\nvs\n%.300s", a, b);
    }
    /* The run raised alerts, resolved, regressed and replayed. */
    ck_assert_ptr_nonnull(strstr(x, "alert "));
    ck_assert_ptr_nonnull(strstr(x, "resolve 0\n"));
    ck_assert_ptr_nonnull(strstr(x, " 0 accepted"));
    free(x);
    free(y);
    tlm__store_close(pg);
    tlm__store_close(lite);
}
END_TEST

struct err_writer {
    struct tlm__store *st;
    int thread;
    size_t alerts;
};

#define ERR_BATCHES 20

/* Each batch names the five groups in an order of its own, one event
 * each, same user: a group's events + users grow by one per batch. */
static void *
write_errors(void *arg)
{
    struct err_writer *w = arg;
    const struct tlm__alert_policy pol
        = {.thresholds = {3, 11, 31, 1e9}, .window_ms = DAY};
    for (int b = 0; b < ERR_BATCHES; b++) {
        struct err_spec sp[5];
        size_t a;
        for (int i = 0; i < 5; i++) {
            int k = (w->thread == 0 ? i : 4 - i + b) % 5;
            sp[i] = (struct err_spec) {10000 * (w->thread + 1) + 10 * b + i,
                "abcde"[k], 3, D0 + b, "u1", "/a", 0, NULL};
        }
        w->alerts += insert_errors(w->st, sp, 5, &pol, D0 + DAY / 2, false, &a);
    }
    return NULL;
}

/* Two servers writing the same groups in opposite orders: no deadlock,
 * every event counted, each level alerted exactly once per group. */
START_TEST(store_pg_errors_two_servers)
{
    struct err_writer w[2] = {{open_store(), 0, 0}, {open_store(), 1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, write_errors, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(w[0].alerts + w[1].alerts, 5 * 3);
    for (const char *g = "abcde"; *g != '\0'; g++) {
        struct tlm__group_detail d;
        ck_assert_int_eq(group_get(w[0].st, *g, D0 + DAY / 2, &d), 0);
        ck_assert_double_eq(d.group.events, 2 * ERR_BATCHES);
        ck_assert_int_eq(d.group.impact, 2);
        ck_assert_uint_eq(d.n_alerts, 3);
        ck_assert_int_eq(d.alerts[0].level, 2);
        ck_assert_int_eq(d.alerts[2].level, 0);
        tlm__group_detail_free(&d);
    }
    tlm__store_close(w[0].st);
    tlm__store_close(w[1].st);
}
END_TEST

/* ---- analytics rollups ---- */

static double
scalar_double(const char *sql)
{
    PGconn *pg = admin_conn(db_name);
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
        PQerrorMessage(pg));
    double v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
        ? strtod(PQgetvalue(r, 0, 0), NULL)
        : -1;
    PQclear(r);
    PQfinish(pg);
    return v;
}

/* n events over three days from seed: a few endpoints, tiers, statuses,
 * latencies (some missing), both environments, weights summing exactly. */
static void
make_specs(struct spec *sp, size_t n, uint64_t seed)
{
    static const char *const eps[] = {"/a", "/b", "/c/{id}", NULL};
    static const char *const tiers[] = {"free", "pro", NULL};
    static const int statuses[] = {200, 201, 404, 500, 0, -1};
    static const double rates[] = {1, 0.5, 0.25};
    for (size_t i = 0; i < n; i++) {
        uint64_t x = next_rand(&seed);
        sp[i] = (struct spec) {x % 7 == 0 ? "error" : "request",
            eps[(x >> 8) % 4], statuses[(x >> 12) % 6],
            (x >> 16) % 9 == 0 ? -1 : (double)((x >> 20) % 4000) / 8,
            rates[(x >> 32) % 3], D0 + (int64_t)((x >> 34) % (3 * DAY)),
            (x >> 60) % 3 == 0 ? "sandbox" : NULL, tiers[(x >> 56) % 3]};
    }
}

/* The sum of weights of specs[0..n) (what the rollups must hold). */
static double
weight_of(const struct spec *sp, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w += 1.0 / sp[i].sample_rate;
    return w;
}

/* Windows that start on whole days, so that a day row folded by
 * compaction falls in or out of them whole. */
static const struct tlm__dash_query rollup_queries[] = {
    {0, D0 + 4 * DAY, "production", 100, NULL, NULL},
    {D0 + DAY, D0 + 2 * DAY, "sandbox", 100, NULL, NULL},
    {D0, D0 + 3 * DAY, "production", 100, "pro", NULL},
    {D0, D0 + 4 * DAY, "production", 100, NULL, "/a"},
};
#define N_ROLLUP_QUERIES (sizeof(rollup_queries) / sizeof(rollup_queries[0]))

/* The same batch twice and a batch overlapping it: each event once in
 * the rollups, and the dashboard as SQLite's on the same calls. */
START_TEST(store_pg_rollups_count_duplicates_once)
{
    enum { N = 400 };
    static struct spec sp[N + N / 2];
    char path[160];
    size_t a, d;
    make_specs(sp, N + N / 2, 0x1234567);
    snprintf(path, sizeof(path), "sqlite:%s/t.db", sqlite_dir);
    struct tlm__store *pg = open_store(), *lite = open_url(path);
    for (int k = 0; k < 2; k++) {
        struct tlm__store *st = k == 0 ? pg : lite;
        insert(st, sp, N, 0, &a, &d);
        ck_assert_uint_eq(a, N);
        insert(st, sp, N, 0, &a, &d);
        ck_assert_uint_eq(d, N);
        insert(st, sp + N / 2, N, N / 2, &a, &d); /* ids N/2 .. 3N/2 */
        ck_assert_uint_eq(a, N / 2);
        ck_assert_uint_eq(d, N / 2);
    }
    double want = weight_of(sp, N + N / 2);
    ck_assert_double_eq_tol(
        scalar_double("SELECT sum(requests + other) FROM rollups"), want, 1e-6);
    /* Every request's weight is in its row's histogram. */
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups WHERE"
                            " abs(requests - COALESCE((SELECT sum(c) FROM"
                            " unnest(hcnt) c), 0)) > 1e-9"),
        0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups WHERE res <> 60000"
                            " OR t_ms % 60000 <> 0"
                            " OR cardinality(hidx) <> cardinality(hcnt)"),
        0);
    for (size_t i = 0; i < N_ROLLUP_QUERIES; i++) {
        struct tlm__dash_result x, y;
        char what[32];
        snprintf(what, sizeof(what), "query %zu", i);
        ck_assert_int_eq(tlm__store_dashboard(pg, &rollup_queries[i], &x), 0);
        ck_assert_int_eq(tlm__store_dashboard(lite, &rollup_queries[i], &y), 0);
        assert_same_dashboard(&x, &y, what);
        tlm__dash_result_free(&x);
        tlm__dash_result_free(&y);
    }
    tlm__store_close(pg);
    tlm__store_close(lite);
}
END_TEST

/* Minutes into hours into days: exact counts and percentiles, the same
 * dashboard before and after (and as SQLite's after the same folding),
 * nothing left to fold a second time. */
START_TEST(store_pg_rollup_compaction_folds)
{
    enum { N = 1500 };
    static struct spec sp[N];
    char path[160];
    size_t a, d;
    uint64_t folded = 0, lite_folded = 0;
    struct tlm__dash_result before[N_ROLLUP_QUERIES];
    make_specs(sp, N, 0xabcdef);
    snprintf(path, sizeof(path), "sqlite:%s/t.db", sqlite_dir);
    struct tlm__store *pg = open_store(), *lite = open_url(path);
    for (int k = 0; k < 3; k++) {
        insert(pg, sp + k * 500, 500, k * 500, &a, &d);
        insert(lite, sp + k * 500, 500, k * 500, &a, &d);
    }
    for (size_t i = 0; i < N_ROLLUP_QUERIES; i++)
        ck_assert_int_eq(
            tlm__store_dashboard(pg, &rollup_queries[i], &before[i]), 0);
    long long minutes = scalar("SELECT count(*) FROM rollups");
    /* Minutes before D0 + 2 days into hours, hours before D0 + 1 day and
     * a half (cut down to whole days: D0 + 1 day) into days. */
    ck_assert_int_eq(tlm__store_rollup_compact(
                         pg, D0 + 2 * DAY + 1234, D0 + DAY + DAY / 2, &folded),
        0);
    ck_assert_int_eq(tlm__store_rollup_compact(lite, D0 + 2 * DAY + 1234,
                         D0 + DAY + DAY / 2, &lite_folded),
        0);
    ck_assert_uint_gt(folded, 0);
    ck_assert_uint_eq(folded, lite_folded);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM rollups WHERE res = 60000 AND t_ms < "
               "1767225600000 + 2 * 86400000"),
        0);
    ck_assert_int_gt(scalar("SELECT count(*) FROM rollups WHERE res = "
                            "86400000 AND t_ms = 1767225600000"),
        0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups WHERE res ="
                            " 3600000 AND t_ms < 1767225600000 + 86400000"),
        0);
    ck_assert_int_lt(scalar("SELECT count(*) FROM rollups"), minutes);
    ck_assert_double_eq_tol(
        scalar_double("SELECT sum(requests + other) FROM rollups"),
        weight_of(sp, N), 1e-6);
    for (size_t i = 0; i < N_ROLLUP_QUERIES; i++) {
        struct tlm__dash_result x, y;
        char what[32];
        snprintf(what, sizeof(what), "query %zu", i);
        ck_assert_int_eq(tlm__store_dashboard(pg, &rollup_queries[i], &x), 0);
        ck_assert_int_eq(tlm__store_dashboard(lite, &rollup_queries[i], &y), 0);
        assert_same_dashboard(&x, &y, what);
        /* Against itself before folding: totals and percentiles exact. */
        ck_assert_msg(x.events == before[i].events, "%s: %g vs %g events", what,
            x.events, before[i].events);
        ck_assert_double_eq(x.errors, before[i].errors);
        ck_assert_uint_eq(x.n_endpoints, before[i].n_endpoints);
        for (size_t e = 0; e < x.n_endpoints; e++) {
            const struct tlm__dash_endpoint *p = &x.endpoints[e],
                                            *q = &before[i].endpoints[e];
            ck_assert_str_eq(p->endpoint, q->endpoint);
            ck_assert_double_eq(p->requests, q->requests);
            ck_assert_double_eq(p->errors, q->errors);
            ck_assert_double_eq(p->p50_ms, q->p50_ms);
            ck_assert_double_eq(p->p95_ms, q->p95_ms);
            ck_assert_double_eq(p->p99_ms, q->p99_ms);
        }
        tlm__dash_result_free(&x);
        tlm__dash_result_free(&y);
        tlm__dash_result_free(&before[i]);
    }
    ck_assert_int_eq(tlm__store_rollup_compact(
                         pg, D0 + 2 * DAY + 1234, D0 + DAY + DAY / 2, &folded),
        0);
    ck_assert_uint_eq(folded, 0);
    tlm__store_close(pg);
    tlm__store_close(lite);
}
END_TEST

struct rollup_worker {
    struct tlm__store *st;
    const struct spec *sp;
    int first; /* id of sp[0] */
    size_t n;
    bool compact; /* compacts between its batches */
    uint64_t folded;
};

enum { RW_EVENTS = 3000, RW_BATCH = 250 };

static void *
rollup_work(void *arg)
{
    struct rollup_worker *w = arg;
    for (size_t done = 0; done < w->n; done += RW_BATCH) {
        size_t a = 0, d = 0,
               k = w->n - done < RW_BATCH ? w->n - done : RW_BATCH;
        insert(w->st, w->sp + done, k, w->first + (int)done, &a, &d);
        if (w->compact) {
            uint64_t f = 0;
            /* Everything is older than both cuts: minutes fold to hours
             * while other batches keep adding minutes. */
            ck_assert_int_eq(tlm__store_rollup_compact(
                                 w->st, D0 + 4 * DAY, D0 + 2 * DAY, &f),
                0);
            w->folded += f;
        }
    }
    return NULL;
}

/* Two servers ingesting overlapping batches and compacting while the
 * other ingests: every event counted exactly once. */
START_TEST(store_pg_rollups_two_servers)
{
    static struct spec sp[RW_EVENTS];
    make_specs(sp, RW_EVENTS, 0x5eed);
    struct tlm__store *one = open_store(), *two = open_store();
    /* Ids 0..1999 from one, 1000..2999 from two (1000 in common), and a
     * third thread replaying 0..1499 on two; one and two compact. */
    struct rollup_worker w[3] = {{one, sp, 0, 2000, true, 0},
        {two, sp + 1000, 1000, 2000, true, 0}, {two, sp, 0, 1500, false, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, rollup_work, &w[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    uint64_t f = 0;
    ck_assert_int_eq(
        tlm__store_rollup_compact(one, D0 + 4 * DAY, D0 + 2 * DAY, &f), 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups WHERE res = 60000"
                            " OR (res = 3600000 AND t_ms < 1767225600000"
                            " + 2 * 86400000)"),
        0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), RW_EVENTS);
    ck_assert_double_eq_tol(
        scalar_double("SELECT sum(requests + other) FROM rollups"),
        weight_of(sp, RW_EVENTS), 1e-6);
    ck_assert_int_eq(scalar("SELECT count(*) FROM rollups WHERE"
                            " abs(requests - COALESCE((SELECT sum(c) FROM"
                            " unnest(hcnt) c), 0)) > 1e-6"),
        0);
    struct tlm__dash_query q = {0, D0 + 4 * DAY, "production", 100, NULL, NULL};
    struct tlm__dash_result r;
    double want = 0;
    for (size_t i = 0; i < RW_EVENTS; i++)
        want += sp[i].env == NULL ? 1.0 / sp[i].sample_rate : 0;
    ck_assert_int_eq(tlm__store_dashboard(one, &q, &r), 0);
    ck_assert_double_eq_tol(r.events, want, 1e-6);
    tlm__dash_result_free(&r);
    tlm__store_close(one);
    tlm__store_close(two);
}
END_TEST

static void *
open_in_thread(void *arg)
{
    struct tlm__store **st = arg;
    *st = open_store();
    return NULL;
}

/* A database at version 4 (events, no rollups: the schema and the
 * writes of the previous server) upgraded by two servers at once: the
 * rollups are backfilled once, tiers read from the payloads, and the
 * dashboard is SQLite's for the same events. */
START_TEST(store_pg_migration_backfills_rollups)
{
    enum { N = 1200 };
    static struct spec sp[N];
    char path[160];
    size_t a, d;
    make_specs(sp, N, 0xfeed);
    snprintf(path, sizeof(path), "sqlite:%s/t.db", sqlite_dir);
    tlm__pg_schema_limit = 4;
    no_rollups = true;
    struct tlm__store *st = open_store(), *lite = open_url(path);
    ck_assert_int_eq(scalar("SELECT MAX(version) FROM schema_version"), 4);
    ck_assert_int_eq(scalar("SELECT (to_regclass('rollups') IS NULL)::int"), 1);
    for (int k = 0; k < 3; k++)
        insert(st, sp + k * 400, 400, k * 400, &a, &d);
    tlm__store_close(st);
    tlm__pg_schema_limit = 0;
    no_rollups = false;
    for (int k = 0; k < 3; k++)
        insert(lite, sp + k * 400, 400, k * 400, &a, &d);
    struct tlm__store *two[2] = {NULL, NULL};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(
            pthread_create(&th[i], NULL, open_in_thread, &two[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(scalar("SELECT count(*) FROM schema_version"), SCHEMA_NOW);
    ck_assert_double_eq_tol(
        scalar_double("SELECT sum(requests + other) FROM rollups"),
        weight_of(sp, N), 1e-6);
    for (size_t i = 0; i < N_ROLLUP_QUERIES; i++) {
        struct tlm__dash_result x, y;
        char what[32];
        snprintf(what, sizeof(what), "query %zu", i);
        ck_assert_int_eq(
            tlm__store_dashboard(two[i % 2], &rollup_queries[i], &x), 0);
        ck_assert_int_eq(tlm__store_dashboard(lite, &rollup_queries[i], &y), 0);
        assert_same_dashboard(&x, &y, what);
        if (rollup_queries[i].tier == NULL) /* tiers from the payloads */
            ck_assert_uint_gt(x.n_tiers, 1);
        tlm__dash_result_free(&x);
        tlm__dash_result_free(&y);
    }
    tlm__store_close(two[0]);
    tlm__store_close(two[1]);
    tlm__store_close(lite);
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
    TCase *fb = tcase_create("store_pg_feedback");
    tcase_add_checked_fixture(fb, setup, teardown);
    tcase_set_timeout(fb, 60);
    tcase_add_test(fb, store_pg_feedback_insert_get_replay);
    tcase_add_test(fb, store_pg_feedback_list_filters_and_cursor);
    tcase_add_test(fb, store_pg_feedback_summary);
    tcase_add_test(fb, store_pg_fr_insert_get_history);
    tcase_add_test(fb, store_pg_fr_list_sorts_and_pages);
    tcase_add_test(fb, store_pg_fr_votes);
    tcase_add_test(fb, store_pg_fr_merge_moves_votes);
    tcase_add_test(fb, store_pg_fr_status_notifies_voters);
    tcase_add_test(fb, store_pg_outbox_claim_and_record);
    tcase_add_test(fb, store_pg_outbox_claim_two_servers);
    tcase_add_test(fb, store_pg_fr_comments);
    tcase_add_test(fb, store_pg_feedback_matches_sqlite);
    tcase_add_test(fb, store_pg_fr_concurrent_votes);
    suite_add_tcase(s, fb);
    TCase *er = tcase_create("store_pg_errors");
    tcase_add_checked_fixture(er, setup, teardown);
    tcase_set_timeout(er, 60);
    tcase_add_test(er, store_pg_errors_group_counts);
    tcase_add_test(er, store_pg_errors_alert_rule);
    tcase_add_test(er, store_pg_errors_list_sorts_filters_pages);
    tcase_add_test(er, store_pg_errors_match_sqlite);
    tcase_add_test(er, store_pg_errors_two_servers);
    suite_add_tcase(s, er);
    TCase *ru = tcase_create("store_pg_rollups");
    tcase_add_checked_fixture(ru, setup, teardown);
    tcase_set_timeout(ru, 120);
    tcase_add_test(ru, store_pg_rollups_count_duplicates_once);
    tcase_add_test(ru, store_pg_rollup_compaction_folds);
    tcase_add_test(ru, store_pg_rollups_two_servers);
    tcase_add_test(ru, store_pg_migration_backfills_rollups);
    suite_add_tcase(s, ru);
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
