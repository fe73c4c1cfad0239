/* PostgreSQL backend, read side: the dashboard (one snapshot: the rollups
 * of store_pg_rollup.c plus the batch headers' privacy and scrub counts)
 * and the event listing, with the same results as the SQLite backend for
 * the same rows. Must never write, and never scan raw events for an
 * aggregate: the dashboard reads rollup rows only. */
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const struct tlm__dash_query *q, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    range_params(&p, q);
    PGresult *r = tlm__pg_exec(c->pg, sql, &p, true);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n);
    return NULL;
}

static int
query_sdk(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    PGresult *r = range_query(st, c, sdk_sql, q, err, n);
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
    PGresult *r = range_query(st, c, scrubs_sql, q, err, n);
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
    if (tlm__pg_rollup_dashboard(st, c, q, out, err, n) != 0
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
