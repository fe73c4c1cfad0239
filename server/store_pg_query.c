/* PostgreSQL backend, read side: dashboard aggregates (one snapshot) and
 * the event listing, with the same results as store_sqlite_query.c for
 * the same rows. Must never write, and never fetch raw events to compute
 * an aggregate in C: sums and percentiles run in the database. */
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weighted counts: every event stands for 1/sample_rate events. "Errors" are
 * request events with status >= 500 or 0 (no response: a failed call) plus
 * error events. As SQLite orders NULL first, so do the percentiles: a
 * request without a latency still weighs in the ranks. Endpoint names sort
 * by bytes (COLLATE "C"), as SQLite's BINARY collation does. */
#define WEIGHT "1.0 / sample_rate"
#define IS_ERROR "(type = 'error' OR status >= 500 OR status = 0)"
#define IN_RANGE "environment = $1 AND ts_ms >= $2 AND ts_ms < $3"

static const char totals_sql[]
    = "SELECT COALESCE(SUM(" WEIGHT "), 0),"
      " COALESCE(SUM(CASE WHEN " IS_ERROR " THEN " WEIGHT " END), 0)"
      " FROM events WHERE " IN_RANGE;

static const char endpoints_sql[]
    = "SELECT endpoint,"
      " COALESCE(SUM(CASE WHEN type = 'request' THEN " WEIGHT " END), 0) AS r,"
      " COALESCE(SUM(CASE WHEN " IS_ERROR " THEN " WEIGHT " END), 0) AS e"
      " FROM events WHERE " IN_RANGE " AND endpoint IS NOT NULL"
      " GROUP BY endpoint"
      " ORDER BY r DESC, e DESC, endpoint COLLATE \"C\" ASC LIMIT $4";

/* Weighted nearest-rank percentiles of every endpoint in one pass: the
 * smallest latency whose cumulative weight reaches p * total, less a slack
 * that absorbs rounding in the running sum. */
static const char latency_sql[]
    = "SELECT endpoint,"
      " MIN(CASE WHEN cum >= tot * (0.50 - 1e-9) THEN rt END),"
      " MIN(CASE WHEN cum >= tot * (0.95 - 1e-9) THEN rt END),"
      " MIN(CASE WHEN cum >= tot * (0.99 - 1e-9) THEN rt END)"
      " FROM (SELECT endpoint, response_time_ms AS rt,"
      " SUM(" WEIGHT ") OVER (PARTITION BY endpoint"
      " ORDER BY response_time_ms NULLS FIRST"
      " ROWS UNBOUNDED PRECEDING) AS cum,"
      " SUM(" WEIGHT ") OVER (PARTITION BY endpoint) AS tot"
      " FROM events WHERE " IN_RANGE " AND endpoint IS NOT NULL"
      " AND type = 'request') s"
      " GROUP BY endpoint";

/* $1 (the environment) is bound but unused: batches carry none. The two
 * flags were computed from the privacy block when the batch was stored. */
static const char sdk_sql[]
    = "SELECT COUNT(*)::float8,"
      " COALESCE(SUM(CASE WHEN unanonymized THEN 1 ELSE 0 END), 0)::float8,"
      " COALESCE(SUM(CASE WHEN unscrubbed THEN 1 ELSE 0 END), 0)::float8"
      " FROM batches WHERE $1::text IS NOT NULL AND received_ms >= $2"
      " AND received_ms < $3";

/* $1 is bound but unused here too; key_id sorts as text. */
static const char scrubs_sql[]
    = "SELECT COALESCE(key_id, ''), COUNT(*)::float8, SUM(scrubbed)::float8"
      " FROM batches WHERE $1::text IS NOT NULL AND received_ms >= $2"
      " AND received_ms < $3 AND scrubbed > 0 GROUP BY key_id"
      " ORDER BY 3 DESC, COALESCE(key_id, '') COLLATE \"C\" ASC";

static const char list_sql[]
    = "SELECT seq, payload FROM events WHERE seq < $1"
      " AND ($2::text IS NULL OR type = $2) ORDER BY seq DESC LIMIT $3";

static double
get_double(const PGresult *r, int row, int col)
{
    uint64_t bits;
    double v;
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    bits = (uint64_t)tlm__pg_get_int8(PQgetvalue(r, row, col));
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static void
range_params(struct tlm__pg_params *p, const struct tlm__dash_query *q)
{
    tlm__pg_cstr(p, q->environment);
    tlm__pg_int8(p, q->from_ms);
    tlm__pg_int8(p, q->to_ms);
}

/* Runs a range query in binary; NULL (err set) unless it returned rows. */
static PGresult *
range_query(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *sql,
    const struct tlm__dash_query *q, bool limit, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    range_params(&p, q);
    if (limit)
        tlm__pg_int8(&p, (int64_t)q->max_endpoints);
    PGresult *r = tlm__pg_exec(c->pg, sql, &p, true);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n);
    return NULL;
}

static int
query_totals(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    PGresult *r = range_query(st, c, totals_sql, q, false, err, n);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 1) {
        out->events = get_double(r, 0, 0);
        out->errors = get_double(r, 0, 1);
    }
    PQclear(r);
    return 0;
}

static int
query_sdk(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    PGresult *r = range_query(st, c, sdk_sql, q, false, err, n);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 1) {
        out->batches = get_double(r, 0, 0);
        out->unanonymized_batches = get_double(r, 0, 1);
        out->unscrubbed_batches = get_double(r, 0, 2);
    }
    PQclear(r);
    return 0;
}

static char *dup_text(const PGresult *r, int row, int col);

/* Every key's row is summed; the first TLM_DASH_MAX_SCRUB_KEYS are kept. */
static int
query_scrubs(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    PGresult *r = range_query(st, c, scrubs_sql, q, false, err, n);
    int rc = 0;
    if (r == NULL)
        return -1;
    out->scrub_keys = calloc(TLM_DASH_MAX_SCRUB_KEYS, sizeof(*out->scrub_keys));
    if (out->scrub_keys == NULL)
        rc = -1;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        out->server_scrubbed += get_double(r, i, 2);
        if (out->n_scrub_keys == TLM_DASH_MAX_SCRUB_KEYS)
            continue;
        struct tlm__dash_key_scrubs *k = &out->scrub_keys[out->n_scrub_keys];
        k->key_id = dup_text(r, i, 0);
        if (k->key_id == NULL) {
            rc = -1;
            break;
        }
        k->batches = get_double(r, i, 1);
        k->replacements = get_double(r, i, 2);
        out->n_scrub_keys++;
    }
    if (rc != 0)
        snprintf(err, n, "out of memory");
    PQclear(r);
    return rc;
}

/* Copies a binary text column into a new string. */
static char *
dup_text(const PGresult *r, int row, int col)
{
    size_t len = (size_t)PQgetlength(r, row, col);
    char *s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, PQgetvalue(r, row, col), len);
        s[len] = '\0';
    }
    return s;
}

static int
query_endpoints(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    PGresult *r = range_query(st, c, endpoints_sql, q, true, err, n);
    int rows, rc = -1;
    if (r == NULL)
        return -1;
    rows = PQntuples(r);
    if (rows > 0) {
        out->endpoints = calloc((size_t)rows, sizeof(*out->endpoints));
        if (out->endpoints == NULL)
            goto out;
    }
    for (int i = 0; i < rows; i++) {
        struct tlm__dash_endpoint *e = &out->endpoints[i];
        e->endpoint = dup_text(r, i, 0);
        if (e->endpoint == NULL)
            goto out;
        e->requests = get_double(r, i, 1);
        e->errors = get_double(r, i, 2);
        out->n_endpoints++;
    }
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, n, "out of memory");
    PQclear(r);
    return rc;
}

static int
cmp_endpoint(const void *a, const void *b)
{
    const struct tlm__dash_endpoint *const *x = a, *const *y = b;
    return strcmp((*x)->endpoint, (*y)->endpoint);
}

/* Fills the percentiles of the endpoints already listed in out (found by
 * name through a sorted index); endpoints past max_endpoints come back
 * from the query too and are skipped. */
static int
query_latency(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    struct tlm__dash_endpoint **by_name;
    PGresult *r;
    if (out->n_endpoints == 0)
        return 0;
    by_name = malloc(out->n_endpoints * sizeof(*by_name));
    if (by_name == NULL) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < out->n_endpoints; i++)
        by_name[i] = &out->endpoints[i];
    qsort(by_name, out->n_endpoints, sizeof(*by_name), cmp_endpoint);
    r = range_query(st, c, latency_sql, q, false, err, n);
    for (int i = 0; r != NULL && i < PQntuples(r); i++) {
        char *name = dup_text(r, i, 0);
        struct tlm__dash_endpoint key = {.endpoint = name}, *kp = &key, **hit;
        hit = name == NULL || PQgetisnull(r, i, 1)
            ? NULL
            : bsearch(
                &kp, by_name, out->n_endpoints, sizeof(*by_name), cmp_endpoint);
        free(name);
        if (hit == NULL || (*hit)->requests <= 0)
            continue;
        (*hit)->has_latency = true;
        (*hit)->p50_ms = get_double(r, i, 1);
        (*hit)->p95_ms = get_double(r, i, 2);
        (*hit)->p99_ms = get_double(r, i, 3);
    }
    free(by_name);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

static int
op_dashboard(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    void **a = arg;
    const struct tlm__dash_query *q = a[0];
    struct tlm__dash_result *out = a[1];
    (void)retry;
    tlm__dash_result_free(out);
    /* One snapshot: all figures describe the same rows. */
    if (tlm__pg_command(
            st, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, n)
        != 0)
        return -1;
    if (query_totals(st, c, q, out, err, n) != 0
        || query_endpoints(st, c, q, out, err, n) != 0
        || query_latency(st, c, q, out, err, n) != 0
        || query_sdk(st, c, q, out, err, n) != 0
        || query_scrubs(st, c, q, out, err, n) != 0
        || tlm__pg_command(st, c, "COMMIT", err, n) != 0)
        return -1;
    return 0;
}

int
tlm__pg_dashboard(struct tlm__store *base, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    void *a[2] = {(void *)q, out};
    memset(out, 0, sizeof(*out));
    int rc = tlm__pg_run(
        (struct tlm__pg_store *)base, "dashboard", op_dashboard, a);
    if (rc != 0)
        tlm__dash_result_free(out);
    return rc;
}

struct list_arg {
    const struct tlm__events_query *q;
    tlm__event_visit_fn visit;
    void *ctx;
    int64_t *next_cursor;
};

/* Visits run only once the whole page arrived, so a failed query (and its
 * second run after a reconnect) never visits an event twice. */
static int
op_list(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct list_arg *a = arg;
    struct tlm__pg_params p = {0};
    size_t seen = 0;
    int64_t last = 0;
    int rc = 0;
    (void)retry;
    *a->next_cursor = 0;
    tlm__pg_int8(&p, a->q->before > 0 ? a->q->before : INT64_MAX);
    tlm__pg_cstr(&p, a->q->type);
    /* One row past the page tells whether a next page exists. */
    tlm__pg_int8(&p, (int64_t)a->q->limit + 1);
    PGresult *r = tlm__pg_exec(c->pg, list_sql, &p, true);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n) ? 0 : -1;
    for (int i = 0; i < PQntuples(r); i++) {
        if (seen == a->q->limit) {
            *a->next_cursor = last;
            break;
        }
        last = tlm__pg_get_int8(PQgetvalue(r, i, 0));
        if (a->visit(a->ctx, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1))
            != 0) {
            rc = -1; /* the visitor's own failure: nothing to log */
            break;
        }
        seen++;
    }
    PQclear(r);
    return rc;
}

int
tlm__pg_list_events(struct tlm__store *base, const struct tlm__events_query *q,
    tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor)
{
    struct list_arg a = {q, visit, ctx, next_cursor};
    *next_cursor = 0;
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "event listing", op_list, &a);
}
