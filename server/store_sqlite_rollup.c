/* SQLite backend, analytics rollups: the table (migration 8 and its
 * backfill), the upsert of a run of events (by the analytics applier,
 * store_sqlite_applier.c), compaction into hours and days, and the
 * dashboard read. The dashboard never reads the events table. Writes run
 * only on the writer connection with the writer lock held. */
#include "store_sqlite_rollup.h"

#include "rollup.h"
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLLUP_COLS                                                            \
    "res, t_ms, environment, endpoint, status_class, tier, requests, "         \
    "errors, other, hist"
#define ROLLUP_UPSERT                                                          \
    " ON CONFLICT(t_ms, environment, endpoint, status_class, tier, res)"       \
    " DO UPDATE SET requests = requests + excluded.requests,"                  \
    " errors = errors + excluded.errors, other = other + excluded.other,"      \
    " hist = tlm_hist_merge(hist, excluded.hist)"
#define FLOOR_MIN "(ts_ms - ((ts_ms % 60000) + 60000) % 60000)"

/* Rows keyed by bucket start first: the dashboard reads a time range. The
 * backfill folds every stored event, so an upgraded database keeps its
 * dashboard. */
const char tlm__sqlite_rollup_migration[]
    = "CREATE TABLE rollups ("
      " t_ms INTEGER NOT NULL,"
      " environment TEXT NOT NULL,"
      " endpoint TEXT NOT NULL,"
      " status_class INTEGER NOT NULL,"
      " tier TEXT NOT NULL,"
      " res INTEGER NOT NULL,"
      " requests REAL NOT NULL,"
      " errors REAL NOT NULL,"
      " other REAL NOT NULL,"
      " hist BLOB,"
      " PRIMARY KEY(t_ms, environment, endpoint, status_class, tier, res))"
      " WITHOUT ROWID;"
      "INSERT INTO rollups(" ROLLUP_COLS ")"
      " SELECT 60000, " FLOOR_MIN ", environment, COALESCE(endpoint, ''),"
      " CASE WHEN status BETWEEN 100 AND 599 THEN status / 100 ELSE 0 END,"
      " COALESCE(CASE WHEN json_valid(payload) THEN"
      " CAST(json_extract(payload, '$.access_tier') AS TEXT) END, ''),"
      " SUM(CASE WHEN type = 'request' THEN 1.0 / sample_rate ELSE 0 END),"
      " SUM(CASE WHEN type = 'error' OR status >= 500 OR status = 0"
      " THEN 1.0 / sample_rate ELSE 0 END),"
      " SUM(CASE WHEN type = 'request' THEN 0 ELSE 1.0 / sample_rate END),"
      " tlm_hist_agg(response_time_ms,"
      " CASE WHEN type = 'request' THEN 1.0 / sample_rate END)"
      " FROM events GROUP BY 2, 3, 4, 5, 6;";

static const char upsert_sql[] = "INSERT INTO rollups(" ROLLUP_COLS
                                 ") VALUES(60000, ?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                                 " ?8, ?9)" ROLLUP_UPSERT;

/* ---- SQL functions over histogram blobs ---- */

static void
result_hist(sqlite3_context *ctx, const struct tlm__hist *h)
{
    unsigned char *blob;
    size_t len;
    if (h->n == 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if (tlm__hist_encode(h, &blob, &len) != 0) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_blob(ctx, blob, (int)len, free);
}

static int
merge_value(struct tlm__hist *h, sqlite3_value *v)
{
    if (sqlite3_value_type(v) == SQLITE_NULL)
        return 0;
    return tlm__hist_merge_blob(
        h, sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v));
}

static void
fn_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct tlm__hist h = TLM_HIST_INIT;
    (void)argc;
    if (merge_value(&h, argv[0]) != 0 || merge_value(&h, argv[1]) != 0)
        sqlite3_result_error(ctx, "tlm_hist_merge: malformed histogram", -1);
    else
        result_hist(ctx, &h);
    tlm__hist_free(&h);
}

/* Aggregate state: a pointer to a heap histogram (sqlite zeroes it). */
static struct tlm__hist *
agg_state(sqlite3_context *ctx, bool create)
{
    struct tlm__hist **p
        = sqlite3_aggregate_context(ctx, create ? sizeof(*p) : 0);
    if (p == NULL)
        return NULL;
    if (*p == NULL && create)
        *p = calloc(1, sizeof(**p));
    return *p;
}

static void
fn_merge_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct tlm__hist *h = agg_state(ctx, true);
    (void)argc;
    if (h == NULL)
        sqlite3_result_error_nomem(ctx);
    else if (merge_value(h, argv[0]) != 0)
        sqlite3_result_error(
            ctx, "tlm_hist_merge_agg: malformed histogram", -1);
}

static void
fn_agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct tlm__hist *h = agg_state(ctx, true);
    (void)argc;
    if (h == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return; /* not a request */
    if ((sqlite3_value_type(argv[0]) == SQLITE_NULL
                ? tlm__hist_record_null(h, sqlite3_value_double(argv[1]))
                : tlm__hist_record(h, sqlite3_value_double(argv[0]),
                    sqlite3_value_double(argv[1])))
        != 0)
        sqlite3_result_error_nomem(ctx);
}

static void
fn_final(sqlite3_context *ctx)
{
    struct tlm__hist *h = agg_state(ctx, false);
    if (h == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    result_hist(ctx, h);
    tlm__hist_free(h);
    free(h);
}

int
tlm__sqlite_rollup_functions(sqlite3 *db)
{
    int f = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    if (sqlite3_create_function(
            db, "tlm_hist_merge", 2, f, NULL, fn_merge, NULL, NULL)
            != SQLITE_OK
        || sqlite3_create_function(db, "tlm_hist_merge_agg", 1, f, NULL, NULL,
               fn_merge_step, fn_final)
            != SQLITE_OK
        || sqlite3_create_function(
               db, "tlm_hist_agg", 2, f, NULL, NULL, fn_agg_step, fn_final)
            != SQLITE_OK)
        return -1;
    return 0;
}

/* ---- the write path ---- */

void
tlm__sqlite_rollup_finalize(sqlite3 *db)
{
    sqlite3_stmt *s = NULL, *next;
    if (db == NULL)
        return;
    for (s = sqlite3_next_stmt(db, NULL); s != NULL; s = next) {
        next = sqlite3_next_stmt(db, s);
        if (sqlite3_sql(s) != NULL && strcmp(sqlite3_sql(s), upsert_sql) == 0)
            sqlite3_finalize(s);
    }
}

static int
upsert(sqlite3_stmt *s, const struct tlm__rollup_row *r)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc;
    if (r->hist.n > 0 && tlm__hist_encode(&r->hist, &blob, &len) != 0)
        return -1;
    sqlite3_bind_int64(s, 1, r->t_ms);
    sqlite3_bind_text(s, 2, r->environment, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, r->status_class);
    sqlite3_bind_text(s, 5, r->tier, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 6, r->requests);
    sqlite3_bind_double(s, 7, r->errors);
    sqlite3_bind_double(s, 8, r->other);
    if (blob != NULL)
        sqlite3_bind_blob(s, 9, blob, (int)len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 9);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    free(blob);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
tlm__sqlite_rollup_write(sqlite3 *db, const struct tlm__rollup_set *set)
{
    sqlite3_stmt *s;
    int rc = 0;
    if (set->n == 0)
        return 0;
    s = tlm__sqlite_cached(db, upsert_sql);
    if (s == NULL)
        return -1;
    for (size_t i = 0; rc == 0 && i < set->n; i++)
        rc = upsert(s, &set->rows[i]);
    return rc;
}

/* ---- compaction ---- */

static int
fold(sqlite3 *db, int64_t from_res, int64_t to_res, int64_t cut,
    uint64_t *folded)
{
    static const char ins[]
        = "INSERT INTO rollups(" ROLLUP_COLS ")"
          " SELECT ?2, t_ms - t_ms % ?2, environment, endpoint, status_class,"
          " tier, SUM(requests), SUM(errors), SUM(other),"
          " tlm_hist_merge_agg(hist) FROM rollups"
          " WHERE t_ms < ?3 AND res = ?1"
          " GROUP BY 2, 3, 4, 5, 6" ROLLUP_UPSERT;
    static const char del[]
        = "DELETE FROM rollups WHERE t_ms < ?3 AND res = ?1 AND ?2 > 0";
    const char *sql[] = {ins, del};
    int rc = 0;
    cut -= cut % to_res;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db, sql[i], -1, &s, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_int64(s, 1, from_res);
        sqlite3_bind_int64(s, 2, to_res);
        sqlite3_bind_int64(s, 3, cut);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
        if (rc == 0 && i == 1)
            *folded += (uint64_t)sqlite3_changes(db);
        sqlite3_finalize(s);
    }
    return rc;
}

int
tlm__sqlite_rollup_compact(sqlite3 *db, int64_t minute_before_ms,
    int64_t hour_before_ms, uint64_t *folded)
{
    *folded = 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (fold(db, TLM_ROLLUP_MINUTE_MS, TLM_ROLLUP_HOUR_MS, minute_before_ms,
            folded)
            != 0
        || fold(db, TLM_ROLLUP_HOUR_MS, TLM_ROLLUP_DAY_MS, hour_before_ms,
               folded)
            != 0
        || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        *folded = 0;
        return -1;
    }
    return 0;
}

/* ---- the dashboard ---- */

static const char rows_sql[]
    = "SELECT t_ms, environment, endpoint, tier, requests, errors, other, hist"
      " FROM rollups WHERE t_ms >= ?1 AND t_ms < ?2"
      " AND (?3 IS NULL OR endpoint = ?3) AND (?4 IS NULL OR tier = ?4)";

static const char sdk_health_sql[]
    = "SELECT COALESCE(sdk_version, ''), COUNT(*),"
      " MAX(CASE WHEN json_valid(client_stats) THEN"
      " json_extract(client_stats, '$.dropped') END),"
      " MAX(CASE WHEN json_valid(client_stats) THEN"
      " json_extract(client_stats, '$.retried') END),"
      " MAX(CASE WHEN json_valid(client_stats) THEN"
      " json_extract(client_stats, '$.spooled') END)"
      " FROM batches WHERE received_ms >= ?1 AND received_ms < ?2"
      " GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT ?3";

static const char size_sql[] = "SELECT page_count * page_size FROM"
                               " pragma_page_count(), pragma_page_size()";

static void
bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t != NULL ? (const char *)t : "";
}

static int
scan_rows(sqlite3 *rdb, const struct tlm__dash_query *q,
    struct tlm__dash_builder *b, int64_t from)
{
    sqlite3_stmt *s = NULL;
    int step, rc = -1;
    if (sqlite3_prepare_v2(rdb, rows_sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, q->to_ms);
    bind_opt(s, 3, q->endpoint);
    bind_opt(s, 4, q->tier);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct tlm__rollup_in r = {
            .t_ms = sqlite3_column_int64(s, 0),
            .environment = col_text(s, 1),
            .endpoint = col_text(s, 2),
            .tier = col_text(s, 3),
            .requests = sqlite3_column_double(s, 4),
            .errors = sqlite3_column_double(s, 5),
            .other = sqlite3_column_double(s, 6),
        };
        r.hist = sqlite3_column_blob(s, 7);
        r.hist_len = (size_t)sqlite3_column_bytes(s, 7);
        if (tlm__dash_builder_add(b, &r) != 0)
            goto out;
    }
    rc = step == SQLITE_DONE ? 0 : -1;
out:
    sqlite3_finalize(s);
    return rc;
}

static void
copy_name(char *dst, const char *src)
{
    snprintf(dst, TLM_DASH_NAME_MAX, "%s", src);
}

static int
query_sdk_health(
    sqlite3 *rdb, const struct tlm__dash_query *q, struct tlm__dash_result *out)
{
    sqlite3_stmt *s = NULL;
    int step;
    if (sqlite3_prepare_v2(rdb, sdk_health_sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, q->from_ms);
    sqlite3_bind_int64(s, 2, q->to_ms);
    sqlite3_bind_int(s, 3, TLM_DASH_MAX_SDKS);
    while ((step = sqlite3_step(s)) == SQLITE_ROW
        && out->n_sdks < TLM_DASH_MAX_SDKS) {
        struct tlm__dash_sdk_health *h = &out->sdks[out->n_sdks++];
        copy_name(h->sdk_version, col_text(s, 0));
        h->batches = sqlite3_column_double(s, 1);
        h->dropped = sqlite3_column_double(s, 2);
        h->retried = sqlite3_column_double(s, 3);
        h->spooled = sqlite3_column_double(s, 4);
    }
    sqlite3_finalize(s);
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : -1;
}

static void
query_size(sqlite3 *rdb, struct tlm__dash_result *out)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(rdb, size_sql, -1, &s, NULL) == SQLITE_OK
        && sqlite3_step(s) == SQLITE_ROW)
        out->store_bytes = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
}

int
tlm__sqlite_rollup_dashboard(
    sqlite3 *rdb, const struct tlm__dash_query *q, struct tlm__dash_result *out)
{
    struct tlm__dash_builder *b = NULL;
    int64_t from;
    int rc = -1;
    if (tlm__dash_builder_new(q, &b, &from) != 0)
        return -1;
    if (scan_rows(rdb, q, b, from) != 0 || tlm__dash_builder_finish(b, out) != 0
        || query_sdk_health(rdb, q, out) != 0)
        goto out;
    query_size(rdb, out);
    rc = 0;
out:
    tlm__dash_builder_free(b);
    return rc;
}

/* ---- retention ---- */

int
tlm__sqlite_rollup_delete(sqlite3 *db, int64_t before_ms, uint64_t *removed)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    *removed = 0;
    if (sqlite3_prepare_v2(
            db, "DELETE FROM rollups WHERE t_ms < ?1", -1, &s, NULL)
        != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, before_ms);
    if (sqlite3_step(s) == SQLITE_DONE) {
        *removed = (uint64_t)sqlite3_changes(db);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}
