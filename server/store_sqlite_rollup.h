/* Private to the SQLite backend: analytics rollups (store_sqlite_rollup.c).
 * Nothing outside store_sqlite*.c includes it. */
#ifndef TLM_SERVER_STORE_SQLITE_ROLLUP_H
#define TLM_SERVER_STORE_SQLITE_ROLLUP_H

#include "rollup.h"
#include "store.h"

#include <sqlite3.h>

/* Migration 8's text: the rollups table and its backfill from events
 * (needs the functions below on the connection that migrates). */
extern const char tlm__sqlite_rollup_migration[];

/* tlm_hist_merge(a, b), tlm_hist_merge_agg(blob) and
 * tlm_hist_agg(ms, weight) (rows with a NULL weight skipped, a NULL ms
 * counted as a request without latency) on db. Returns 0 or -1. */
int tlm__sqlite_rollup_functions(sqlite3 *db);

/* Inside the analytics applier's write transaction (writer lock held):
 * adds the rows of set (tlm__rollup_collect, computed before taking the
 * lock) to the minute rollups. Returns 0 or -1. */
int tlm__sqlite_rollup_write(sqlite3 *db, const struct tlm__rollup_set *set);

/* Finalizes the writer statements this file cached on db. */
void tlm__sqlite_rollup_finalize(sqlite3 *db);

/* The dashboard from rollups on the reader connection, inside the
 * caller's read transaction: fills everything but the privacy figures. */
int tlm__sqlite_rollup_dashboard(sqlite3 *rdb, const struct tlm__dash_query *q,
    struct tlm__dash_result *out);

/* One compaction pass on the writer connection, in its own transaction
 * (the caller holds the writer lock). */
int tlm__sqlite_rollup_compact(sqlite3 *db, int64_t minute_before_ms,
    int64_t hour_before_ms, uint64_t *folded);

/* Rollup retention: deletes the rows (any resolution) whose bucket starts
 * before before_ms, on the writer connection (writer lock held). */
int tlm__sqlite_rollup_delete(
    sqlite3 *db, int64_t before_ms, uint64_t *removed);

#endif
