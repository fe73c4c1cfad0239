/* SQLite backend, read side: dashboard aggregates and the event listing on
 * the reader connection. Must never write, and never materialize a table in
 * memory: aggregates stream, percentiles go through SQLite's sorter. */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weighted counts: every event stands for 1/sample_rate events. "Errors" are
 * request events with status >= 500 or 0 (no response: a failed call) plus
 * error events. */
#define WEIGHT "1.0 / sample_rate"
#define IS_ERROR "(type = 'error' OR status >= 500 OR status = 0)"
#define IN_RANGE "environment = ?1 AND ts_ms >= ?2 AND ts_ms < ?3"

static const char totals_sql[]
    = "SELECT COALESCE(SUM(" WEIGHT "), 0),"
      " COALESCE(SUM(CASE WHEN " IS_ERROR " THEN " WEIGHT " END), 0)"
      " FROM events WHERE " IN_RANGE;

static const char endpoints_sql[]
    = "SELECT endpoint,"
      " COALESCE(SUM(CASE WHEN type = 'request' THEN " WEIGHT " END), 0) AS r,"
      " COALESCE(SUM(CASE WHEN " IS_ERROR " THEN " WEIGHT " END), 0) AS e"
      " FROM events WHERE " IN_RANGE " AND endpoint IS NOT NULL"
      " GROUP BY endpoint ORDER BY r DESC, e DESC, endpoint ASC LIMIT ?4";

/* Weighted nearest-rank percentiles of every endpoint in one pass over the
 * (environment, ts_ms) range: the smallest latency whose cumulative weight
 * reaches p * total (less a slack that absorbs rounding in the running sum
 * of 1/sample_rate). One sort of the range's request rows, instead of one
 * index range per endpoint: the write path keeps no endpoint index. */
static const char latency_sql[]
    = "SELECT endpoint,"
      " MIN(CASE WHEN cum >= tot * (0.50 - 1e-9) THEN rt END),"
      " MIN(CASE WHEN cum >= tot * (0.95 - 1e-9) THEN rt END),"
      " MIN(CASE WHEN cum >= tot * (0.99 - 1e-9) THEN rt END)"
      " FROM (SELECT endpoint, response_time_ms AS rt,"
      " SUM(" WEIGHT ") OVER (PARTITION BY endpoint ORDER BY response_time_ms"
      " ROWS UNBOUNDED PRECEDING) AS cum,"
      " SUM(" WEIGHT ") OVER (PARTITION BY endpoint) AS tot"
      " FROM events WHERE " IN_RANGE " AND endpoint IS NOT NULL"
      " AND type = 'request')"
      " GROUP BY endpoint";

/* ?1 (the environment) is bound but unused: batches carry none. */
static const char sdk_sql[]
    = "SELECT COUNT(*),"
      " COALESCE(SUM(CASE WHEN json_valid(privacy) THEN"
      " json_extract(privacy, '$.anonymized') = 0 ELSE 0 END), 0),"
      " COALESCE(SUM(CASE WHEN json_valid(privacy) THEN"
      " json_extract(privacy, '$.scrubbed') = 0 ELSE 0 END), 0)"
      " FROM batches WHERE ?1 IS NOT NULL AND received_ms >= ?2"
      " AND received_ms < ?3";

/* ?1 is bound but unused here too. */
static const char scrubs_sql[]
    = "SELECT COALESCE(key_id, ''), COUNT(*), SUM(scrubbed) FROM batches"
      " WHERE ?1 IS NOT NULL AND received_ms >= ?2 AND received_ms < ?3"
      " AND scrubbed > 0 GROUP BY key_id ORDER BY 3 DESC, 1 ASC";

static const char list_sql[]
    = "SELECT seq, payload FROM events WHERE seq < ?1"
      " AND (?2 IS NULL OR type = ?2) ORDER BY seq DESC LIMIT ?3";

int
tlm__sqlite_prepare_queries(struct sqlite_store *st, char *err, size_t err_size)
{
    struct {
        const char *sql;
        sqlite3_stmt **stmt;
    } q[] = {
        {totals_sql, &st->q_totals},
        {endpoints_sql, &st->q_endpoints},
        {latency_sql, &st->q_latency},
        {list_sql, &st->q_list},
        {sdk_sql, &st->q_sdk},
        {scrubs_sql, &st->q_scrubs},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        if (sqlite3_prepare_v3(st->rdb, q[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                q[i].stmt, NULL)
            != SQLITE_OK) {
            snprintf(err, err_size, "sqlite: %s", sqlite3_errmsg(st->rdb));
            return -1;
        }
    }
    return 0;
}

void
tlm__sqlite_finalize_queries(struct sqlite_store *st)
{
    sqlite3_finalize(st->q_totals);
    sqlite3_finalize(st->q_endpoints);
    sqlite3_finalize(st->q_latency);
    sqlite3_finalize(st->q_list);
    sqlite3_finalize(st->q_sdk);
    sqlite3_finalize(st->q_scrubs);
}

static void
bind_range(sqlite3_stmt *s, const struct tlm__dash_query *q)
{
    sqlite3_bind_text(s, 1, q->environment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, q->from_ms);
    sqlite3_bind_int64(s, 3, q->to_ms);
}

static int
query_totals(struct sqlite_store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    sqlite3_stmt *s = st->q_totals;
    int rc = -1;
    bind_range(s, q);
    if (sqlite3_step(s) != SQLITE_ROW)
        goto out;
    out->events = sqlite3_column_double(s, 0);
    out->errors = sqlite3_column_double(s, 1);
    rc = 0;
out:
    sqlite3_reset(s);
    return rc;
}

static int
query_sdk(struct sqlite_store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    sqlite3_stmt *s = st->q_sdk;
    int rc = -1;
    bind_range(s, q);
    if (sqlite3_step(s) != SQLITE_ROW)
        goto out;
    out->batches = sqlite3_column_double(s, 0);
    out->unanonymized_batches = sqlite3_column_double(s, 1);
    out->unscrubbed_batches = sqlite3_column_double(s, 2);
    rc = 0;
out:
    sqlite3_reset(s);
    return rc;
}

/* Every key's row is summed; the first TLM_DASH_MAX_SCRUB_KEYS are kept. */
static int
query_scrubs(struct sqlite_store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    sqlite3_stmt *s = st->q_scrubs;
    int rc = -1, step;
    bind_range(s, q);
    out->scrub_keys = calloc(TLM_DASH_MAX_SCRUB_KEYS, sizeof(*out->scrub_keys));
    if (out->scrub_keys == NULL)
        goto out;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        out->server_scrubbed += sqlite3_column_double(s, 2);
        if (out->n_scrub_keys == TLM_DASH_MAX_SCRUB_KEYS)
            continue;
        struct tlm__dash_key_scrubs *k = &out->scrub_keys[out->n_scrub_keys];
        k->key_id = strdup((const char *)sqlite3_column_text(s, 0));
        if (k->key_id == NULL)
            goto out;
        k->batches = sqlite3_column_double(s, 1);
        k->replacements = sqlite3_column_double(s, 2);
        out->n_scrub_keys++;
    }
    rc = step == SQLITE_DONE ? 0 : -1;
out:
    sqlite3_reset(s);
    return rc;
}

static int
add_endpoint(struct tlm__dash_result *out, size_t *cap, sqlite3_stmt *s)
{
    if (out->n_endpoints == *cap) {
        size_t ncap = *cap == 0 ? 16 : *cap * 2;
        void *p = realloc(out->endpoints, ncap * sizeof(*out->endpoints));
        if (p == NULL)
            return -1;
        out->endpoints = p;
        *cap = ncap;
    }
    struct tlm__dash_endpoint *e = &out->endpoints[out->n_endpoints];
    memset(e, 0, sizeof(*e));
    const unsigned char *name = sqlite3_column_text(s, 0);
    e->endpoint = strdup(name != NULL ? (const char *)name : "");
    if (e->endpoint == NULL)
        return -1;
    e->requests = sqlite3_column_double(s, 1);
    e->errors = sqlite3_column_double(s, 2);
    out->n_endpoints++;
    return 0;
}

static int
query_endpoints(struct sqlite_store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    sqlite3_stmt *s = st->q_endpoints;
    size_t cap = 0;
    int rc = -1;
    int step;
    bind_range(s, q);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)q->max_endpoints);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (add_endpoint(out, &cap, s) != 0)
            goto out;
    }
    rc = step == SQLITE_DONE ? 0 : -1;
out:
    sqlite3_reset(s);
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
query_latency(struct sqlite_store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    sqlite3_stmt *s = st->q_latency;
    struct tlm__dash_endpoint **by_name;
    int step = SQLITE_DONE;
    if (out->n_endpoints == 0)
        return 0;
    by_name = malloc(out->n_endpoints * sizeof(*by_name));
    if (by_name == NULL)
        return -1;
    for (size_t i = 0; i < out->n_endpoints; i++)
        by_name[i] = &out->endpoints[i];
    qsort(by_name, out->n_endpoints, sizeof(*by_name), cmp_endpoint);
    bind_range(s, q);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct tlm__dash_endpoint key = {0}, *kp = &key, **hit;
        key.endpoint = (char *)sqlite3_column_text(s, 0);
        if (key.endpoint == NULL || sqlite3_column_type(s, 1) == SQLITE_NULL)
            continue;
        hit = bsearch(
            &kp, by_name, out->n_endpoints, sizeof(*by_name), cmp_endpoint);
        if (hit == NULL || (*hit)->requests <= 0)
            continue;
        (*hit)->has_latency = true;
        (*hit)->p50_ms = sqlite3_column_double(s, 1);
        (*hit)->p95_ms = sqlite3_column_double(s, 2);
        (*hit)->p99_ms = sqlite3_column_double(s, 3);
    }
    sqlite3_reset(s);
    free(by_name);
    return step == SQLITE_DONE ? 0 : -1;
}

int
tlm__sqlite_dashboard(struct tlm__store *base, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&st->rlock);
    /* One read transaction: all figures come from the same snapshot. */
    if (sqlite3_exec(st->rdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    if (query_totals(st, q, out) != 0 || query_endpoints(st, q, out) != 0
        || query_latency(st, q, out) != 0 || query_sdk(st, q, out) != 0
        || query_scrubs(st, q, out) != 0)
        goto end;
    rc = 0;
end:
    sqlite3_exec(st->rdb, "COMMIT", NULL, NULL, NULL);
out:
    if (rc != 0) {
        fprintf(stderr, "telemetry-server: sqlite dashboard failed: %s\n",
            sqlite3_errmsg(st->rdb));
        tlm__dash_result_free(out);
    }
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

int
tlm__sqlite_list_events(struct tlm__store *base,
    const struct tlm__events_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = st->q_list;
    size_t seen = 0;
    int64_t last = 0;
    int rc = -1;
    int step;
    *next_cursor = 0;
    pthread_mutex_lock(&st->rlock);
    sqlite3_bind_int64(s, 1, q->before > 0 ? q->before : INT64_MAX);
    if (q->type != NULL)
        sqlite3_bind_text(s, 2, q->type, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    /* One row past the page tells whether a next page exists. */
    sqlite3_bind_int64(s, 3, (sqlite3_int64)q->limit + 1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (seen == q->limit) {
            *next_cursor = last;
            break;
        }
        last = sqlite3_column_int64(s, 0);
        const char *payload = (const char *)sqlite3_column_text(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        if (payload == NULL) {
            payload = "null";
            len = 4;
        }
        if (visit(ctx, payload, len) != 0)
            goto out;
        seen++;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
out:
    sqlite3_reset(s);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}
