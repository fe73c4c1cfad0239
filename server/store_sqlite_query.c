/* SQLite backend, read side: the dashboard (request figures from the
 * analytics rollups, store_sqlite_rollup.c; privacy figures from the batch
 * headers) and the event listing on the reader connection. Must never
 * write, and the dashboard never scans the events table. */
#include "store_sqlite.h"

#include "store_sqlite_rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN_RANGE "environment = ?1 AND ts_ms >= ?2 AND ts_ms < ?3"

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

int
tlm__sqlite_dashboard(struct tlm__store *base, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    /* On a failure (logged: a full disk) the figures are those applied. */
    tlm__sqlite_analytics_sync(st);
    pthread_mutex_lock(&st->rlock);
    /* One read transaction: all figures come from the same snapshot. */
    if (sqlite3_exec(st->rdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    if (tlm__sqlite_rollup_dashboard(st->rdb, q, out) != 0
        || query_sdk(st, q, out) != 0 || query_scrubs(st, q, out) != 0)
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
