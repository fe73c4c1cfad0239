/* Private to the PostgreSQL backend: stored report runs
 * (store_pg_reports.c). Nothing outside store_pg*.c includes it. */
#ifndef TLM_SERVER_STORE_PG_REPORTS_H
#define TLM_SERVER_STORE_PG_REPORTS_H

#include "store_pg.h"

/* The migration step that creates the report_runs table. */
extern const char tlm__pg_reports_migration[];

int tlm__pg_report_run_insert(struct tlm__store *base,
    const struct tlm__report_run *run, const struct tlm__outbox_item *out);
int tlm__pg_report_run_exists(
    struct tlm__store *base, const char *report_id, int64_t scheduled_ms);
int tlm__pg_report_runs_list(struct tlm__store *base, const char *report_id,
    size_t limit, struct tlm__report_run_row **rows, size_t *n);
int tlm__pg_report_run_get(struct tlm__store *base, const char *report_id,
    const char *run_id, const char *format, struct tlm__report_blob *out);

/* Rollup retention: deletes rollup rows (any resolution) starting before
 * before_ms (the rollups table of the rollup migration). */
int tlm__pg_rollup_purge(
    struct tlm__store *base, int64_t before_ms, uint64_t *removed);

#endif
