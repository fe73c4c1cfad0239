/* Private to the SQLite backend: stored report runs
 * (store_sqlite_reports.c). Nothing outside store_sqlite*.c includes it. */
#ifndef TLM_SERVER_STORE_SQLITE_REPORTS_H
#define TLM_SERVER_STORE_SQLITE_REPORTS_H

#include "store.h"

/* Migration 9's text: the report_runs table. */
extern const char tlm__sqlite_reports_migration[];

int tlm__sqlite_report_run_insert(struct tlm__store *base,
    const struct tlm__report_run *run, const struct tlm__outbox_item *out);
int tlm__sqlite_report_run_exists(
    struct tlm__store *base, const char *report_id, int64_t scheduled_ms);
int tlm__sqlite_report_runs_list(struct tlm__store *base, const char *report_id,
    size_t limit, struct tlm__report_run_row **rows, size_t *n);
int tlm__sqlite_report_run_get(struct tlm__store *base, const char *report_id,
    const char *run_id, const char *format, struct tlm__report_blob *out);
/* store_sqlite_rollup.c: rollup rows before before_ms deleted. */
int tlm__sqlite_rollup_purge(
    struct tlm__store *base, int64_t before_ms, uint64_t *removed);

#endif
