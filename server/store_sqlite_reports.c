/* SQLite backend, stored report runs: the table (migration 9), claiming a
 * run by inserting its rows (the primary key makes a second claim of the
 * same slot fail, so one server of many delivers it), listing and reading
 * them back. Writes only on the writer connection under the writer lock. */
#include "store_sqlite_reports.h"

#include "config_analytics.h"
#include "store_sqlite.h"
#include "store_sqlite_rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char tlm__sqlite_reports_migration[]
    = "CREATE TABLE report_runs ("
      " report_id TEXT NOT NULL,"
      " scheduled_ms INTEGER NOT NULL,"
      " format TEXT NOT NULL,"
      " run_id TEXT NOT NULL,"
      " trigger TEXT NOT NULL,"
      " generated_ms INTEGER NOT NULL,"
      " from_ms INTEGER NOT NULL,"
      " to_ms INTEGER NOT NULL,"
      " content_type TEXT NOT NULL,"
      " body BLOB NOT NULL,"
      " PRIMARY KEY(report_id, scheduled_ms, format));"
      "CREATE INDEX report_runs_run ON report_runs(run_id);";

static void
log_error(sqlite3 *db, const char *what)
{
    fprintf(stderr, "telemetry-server: sqlite %s failed: %s\n", what,
        sqlite3_errmsg(db));
}

static int
insert_part(sqlite3 *db, const struct tlm__report_run *run,
    const struct tlm__report_part *p)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
            "INSERT INTO report_runs(report_id, scheduled_ms, format, run_id,"
            " trigger, generated_ms, from_ms, to_ms, content_type, body)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            " ON CONFLICT DO NOTHING",
            -1, &s, NULL)
        != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, run->report_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, run->scheduled_ms);
    sqlite3_bind_text(s, 3, p->format, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, run->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, run->trigger, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, run->generated_ms);
    sqlite3_bind_int64(s, 7, run->from_ms);
    sqlite3_bind_int64(s, 8, run->to_ms);
    sqlite3_bind_text(s, 9, p->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 10, p->body, p->len, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_DONE)
        rc = sqlite3_changes(db) == 1 ? 0 : 1;
    sqlite3_finalize(s);
    return rc;
}

/* 0 stored, 1 the slot was claimed before (rolled back), -1 error. */
int
tlm__sqlite_report_run_insert(struct tlm__store *base,
    const struct tlm__report_run *run, const struct tlm__outbox_item *out)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    if (sqlite3_exec(st->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL)
        != SQLITE_OK) {
        log_error(st->wdb, "report run insert");
        pthread_mutex_unlock(&st->wlock);
        return -1;
    }
    rc = 0;
    for (size_t i = 0; rc == 0 && i < run->n_parts; i++)
        rc = insert_part(st->wdb, run, &run->parts[i]);
    if (rc == 0 && out != NULL
        && tlm__sqlite_outbox_put(st->wdb, out, run->generated_ms) != 0)
        rc = -1;
    if (rc == 0
        && sqlite3_exec(st->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    if (rc != 0) {
        if (rc < 0)
            log_error(st->wdb, "report run insert");
        sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

/* On the writer connection: a scheduler about to claim a slot must see
 * the latest commit (the reader's snapshot may be older). */
int
tlm__sqlite_report_run_exists(
    struct tlm__store *base, const char *report_id, int64_t scheduled_ms)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    if (sqlite3_prepare_v2(st->wdb,
            "SELECT 1 FROM report_runs WHERE report_id = ?1"
            " AND scheduled_ms = ?2 LIMIT 1",
            -1, &s, NULL)
        == SQLITE_OK) {
        sqlite3_bind_text(s, 1, report_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, scheduled_ms);
        int step = sqlite3_step(s);
        rc = step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? 1 : -1;
    }
    if (rc < 0)
        log_error(st->wdb, "report run lookup");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

static void
copy_text(sqlite3_stmt *s, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, size, "%s", t != NULL ? (const char *)t : "");
}

/* Rows come one per format, a run's together: merged into one row. */
static int
add_row(
    sqlite3_stmt *s, struct tlm__report_run_row *rows, size_t *n, size_t limit)
{
    char run_id[TLM_FB_ID_MAX], format[8];
    copy_text(s, 0, run_id, sizeof(run_id));
    copy_text(s, 6, format, sizeof(format));
    if (*n > 0 && strcmp(rows[*n - 1].run_id, run_id) == 0) {
        rows[*n - 1].formats |= tlm__report_format_bit(format);
        return 0;
    }
    if (*n == limit)
        return 1;
    struct tlm__report_run_row *r = &rows[(*n)++];
    memset(r, 0, sizeof(*r));
    snprintf(r->run_id, sizeof(r->run_id), "%s", run_id);
    copy_text(s, 1, r->trigger, sizeof(r->trigger));
    r->scheduled_ms = sqlite3_column_int64(s, 2);
    r->generated_ms = sqlite3_column_int64(s, 3);
    r->from_ms = sqlite3_column_int64(s, 4);
    r->to_ms = sqlite3_column_int64(s, 5);
    r->formats = tlm__report_format_bit(format);
    return 0;
}

int
tlm__sqlite_report_runs_list(struct tlm__store *base, const char *report_id,
    size_t limit, struct tlm__report_run_row **rows, size_t *n)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1, step = SQLITE_DONE;
    *rows = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    *rows = calloc(limit, sizeof(**rows));
    if (*rows == NULL)
        return -1;
    pthread_mutex_lock(&st->rlock);
    if (sqlite3_prepare_v2(st->rdb,
            "SELECT run_id, trigger, scheduled_ms, generated_ms, from_ms,"
            " to_ms, format FROM report_runs WHERE report_id = ?1"
            " ORDER BY scheduled_ms DESC, run_id, format LIMIT ?2",
            -1, &s, NULL)
        != SQLITE_OK)
        goto out;
    sqlite3_bind_text(s, 1, report_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit * 3);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (add_row(s, *rows, n, limit) != 0)
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
out:
    if (rc != 0) {
        log_error(st->rdb, "report runs list");
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

int
tlm__sqlite_report_run_get(struct tlm__store *base, const char *report_id,
    const char *run_id, const char *format, struct tlm__report_blob *out)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1, step;
    pthread_mutex_lock(&st->rlock);
    if (sqlite3_prepare_v2(st->rdb,
            "SELECT content_type, from_ms, body FROM report_runs"
            " WHERE run_id = ?1 AND report_id = ?2 AND format = ?3",
            -1, &s, NULL)
        != SQLITE_OK)
        goto out;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, report_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, format, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = 1;
        goto out;
    }
    if (step != SQLITE_ROW)
        goto out;
    copy_text(s, 0, out->content_type, sizeof(out->content_type));
    out->from_ms = sqlite3_column_int64(s, 1);
    out->len = (size_t)sqlite3_column_bytes(s, 2);
    out->body = malloc(out->len + 1);
    if (out->body == NULL)
        goto out;
    if (out->len > 0)
        memcpy(out->body, sqlite3_column_blob(s, 2), out->len);
    out->body[out->len] = '\0';
    rc = 0;
out:
    if (rc < 0)
        log_error(st->rdb, "report run get");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

int
tlm__sqlite_rollup_purge(
    struct tlm__store *base, int64_t before_ms, uint64_t *removed)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc;
    if (tlm__sqlite_analytics_sync(st) != 0)
        return -1;
    pthread_mutex_lock(&st->wlock);
    rc = tlm__sqlite_rollup_delete(st->wdb, before_ms, removed);
    if (rc != 0)
        log_error(st->wdb, "rollup purge");
    pthread_mutex_unlock(&st->wlock);
    return rc;
}
