/* PostgreSQL backend, stored report runs: the table (one migration step),
 * claiming a run by inserting its rows (the primary key makes a second
 * claim of the same slot insert nothing, so one server of many delivers
 * it), listing and reading them back. Bound parameters only. */
#include "store_pg_reports.h"

#include "config_analytics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char tlm__pg_reports_migration[]
    = "CREATE TABLE report_runs ("
      " report_id text NOT NULL,"
      " scheduled_ms bigint NOT NULL,"
      " format text NOT NULL,"
      " run_id text NOT NULL,"
      " trigger text NOT NULL,"
      " generated_ms bigint NOT NULL,"
      " from_ms bigint NOT NULL,"
      " to_ms bigint NOT NULL,"
      " content_type text NOT NULL,"
      " body bytea NOT NULL,"
      " PRIMARY KEY (report_id, scheduled_ms, format));"
      "CREATE INDEX report_runs_run ON report_runs (run_id);";

struct insert_arg {
    const struct tlm__report_run *run;
    const struct tlm__outbox_item *out;
};

static int64_t
insert_part(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__report_run *run, const struct tlm__report_part *part,
    char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, run->report_id);
    tlm__pg_int8(&p, run->scheduled_ms);
    tlm__pg_cstr(&p, part->format);
    tlm__pg_cstr(&p, run->run_id);
    tlm__pg_cstr(&p, run->trigger);
    tlm__pg_int8(&p, run->generated_ms);
    tlm__pg_int8(&p, run->from_ms);
    tlm__pg_int8(&p, run->to_ms);
    tlm__pg_cstr(&p, part->content_type);
    tlm__pg_bytes(&p, TLM_PG_BYTEA, part->body, (int)part->len);
    return tlm__pg_changes(st, c,
        "INSERT INTO report_runs (report_id, scheduled_ms, format, run_id,"
        " trigger, generated_ms, from_ms, to_ms, content_type, body)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT DO NOTHING",
        &p, err, n);
}

/* A slot claimed before inserts nothing: 1, and tlm__pg_run rolls back
 * the transaction left open. */
static int
op_insert(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct insert_arg *a = arg;
    (void)retry;
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    for (size_t i = 0; i < a->run->n_parts; i++) {
        int64_t changed = insert_part(st, c, a->run, &a->run->parts[i], err, n);
        if (changed < 0)
            return -1;
        if (changed == 0)
            return 1;
    }
    if (a->out != NULL
        && tlm__pg_outbox_put(st, c, a->out, a->run->generated_ms, err, n) != 0)
        return -1;
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

int
tlm__pg_report_run_insert(struct tlm__store *base,
    const struct tlm__report_run *run, const struct tlm__outbox_item *out)
{
    struct insert_arg a = {run, out};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "report run insert", op_insert, &a);
}

struct exists_arg {
    const char *report_id;
    int64_t scheduled_ms;
};

static int
op_exists(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct exists_arg *a = arg;
    struct tlm__pg_params p = {0};
    PGresult *r;
    int rc;
    (void)retry;
    tlm__pg_cstr(&p, a->report_id);
    tlm__pg_int8(&p, a->scheduled_ms);
    r = tlm__pg_rows(st, c,
        "SELECT 1 FROM report_runs WHERE report_id = $1"
        " AND scheduled_ms = $2 LIMIT 1",
        &p, err, n);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) > 0 ? 0 : 1;
    PQclear(r);
    return rc;
}

int
tlm__pg_report_run_exists(
    struct tlm__store *base, const char *report_id, int64_t scheduled_ms)
{
    struct exists_arg a = {report_id, scheduled_ms};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "report run lookup", op_exists, &a);
}

struct list_arg {
    const char *report_id;
    size_t limit;
    struct tlm__report_run_row *rows;
    size_t n;
};

static void
copy_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    snprintf(out, size, "%s",
        PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Rows come one per format, a run's together: merged into one row. */
static void
add_rows(struct list_arg *a, const PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        const char *run_id = PQgetvalue(r, i, 0);
        unsigned bit = tlm__report_format_bit(PQgetvalue(r, i, 6));
        if (a->n > 0 && strcmp(a->rows[a->n - 1].run_id, run_id) == 0) {
            a->rows[a->n - 1].formats |= bit;
            continue;
        }
        if (a->n == a->limit)
            return;
        struct tlm__report_run_row *w = &a->rows[a->n++];
        memset(w, 0, sizeof(*w));
        copy_text(r, i, 0, w->run_id, sizeof(w->run_id));
        copy_text(r, i, 1, w->trigger, sizeof(w->trigger));
        w->scheduled_ms = tlm__pg_int(r, i, 2);
        w->generated_ms = tlm__pg_int(r, i, 3);
        w->from_ms = tlm__pg_int(r, i, 4);
        w->to_ms = tlm__pg_int(r, i, 5);
        w->formats = bit;
    }
}

static int
op_list(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct list_arg *a = arg;
    struct tlm__pg_params p = {0};
    PGresult *r;
    (void)retry;
    a->n = 0;
    tlm__pg_cstr(&p, a->report_id);
    tlm__pg_int8(&p, (int64_t)a->limit * 3);
    r = tlm__pg_rows(st, c,
        "SELECT run_id, trigger, scheduled_ms, generated_ms, from_ms, to_ms,"
        " format FROM report_runs WHERE report_id = $1"
        " ORDER BY scheduled_ms DESC, run_id, format LIMIT $2",
        &p, err, n);
    if (r == NULL)
        return -1;
    add_rows(a, r);
    PQclear(r);
    return 0;
}

int
tlm__pg_report_runs_list(struct tlm__store *base, const char *report_id,
    size_t limit, struct tlm__report_run_row **rows, size_t *n)
{
    struct list_arg a = {report_id, limit, NULL, 0};
    int rc;
    *rows = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    a.rows = calloc(limit, sizeof(*a.rows));
    if (a.rows == NULL)
        return -1;
    rc = tlm__pg_run(
        (struct tlm__pg_store *)base, "report runs list", op_list, &a);
    if (rc != 0) {
        free(a.rows);
        return rc;
    }
    *rows = a.rows;
    *n = a.n;
    return 0;
}

struct get_arg {
    const char *report_id;
    const char *run_id;
    const char *format;
    struct tlm__report_blob *out;
};

/* Read in binary: the body's bytes as stored, not bytea's hex text. */
static int
op_get(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg, bool *retry,
    char *err, size_t n)
{
    struct get_arg *a = arg;
    struct tlm__pg_params p = {0};
    PGresult *r;
    int rc = -1;
    (void)retry;
    tlm__pg_cstr(&p, a->run_id);
    tlm__pg_cstr(&p, a->report_id);
    tlm__pg_cstr(&p, a->format);
    r = tlm__pg_exec(c->pg,
        "SELECT content_type, from_ms, body FROM report_runs"
        " WHERE run_id = $1 AND report_id = $2 AND format = $3",
        &p, true);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n);
        return -1;
    }
    if (PQntuples(r) == 0) {
        rc = 1;
        goto out;
    }
    snprintf(a->out->content_type, sizeof(a->out->content_type), "%.*s",
        PQgetlength(r, 0, 0), PQgetvalue(r, 0, 0));
    a->out->from_ms = tlm__pg_get_int8(PQgetvalue(r, 0, 1));
    a->out->len = (size_t)PQgetlength(r, 0, 2);
    a->out->body = malloc(a->out->len + 1);
    if (a->out->body == NULL) {
        snprintf(err, n, "out of memory");
        goto out;
    }
    memcpy(a->out->body, PQgetvalue(r, 0, 2), a->out->len);
    a->out->body[a->out->len] = '\0';
    rc = 0;
out:
    PQclear(r);
    return rc;
}

int
tlm__pg_report_run_get(struct tlm__store *base, const char *report_id,
    const char *run_id, const char *format, struct tlm__report_blob *out)
{
    struct get_arg a = {report_id, run_id, format, out};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "report run get", op_get, &a);
}

/* ---- rollup retention ---- */

struct rollup_purge_arg {
    int64_t before_ms;
    uint64_t *removed;
};

static int
op_rollup_purge(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct rollup_purge_arg *a = arg;
    struct tlm__pg_params p = {0};
    char lock[64];
    int64_t changed;
    (void)retry;
    /* Under the compaction's lock: both delete and upsert rollup rows, in
     * different orders. */
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d)",
        TLM_PG_LOCK_ROLLUPS);
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    if (tlm__pg_command(st, c, lock, err, n) != 0)
        return -1; /* tlm__pg_run rolls back */
    tlm__pg_int8(&p, a->before_ms);
    changed = tlm__pg_changes(
        st, c, "DELETE FROM rollups WHERE t_ms < $1", &p, err, n);
    if (changed < 0 || tlm__pg_command(st, c, "COMMIT", err, n) != 0)
        return -1;
    *a->removed = (uint64_t)changed;
    return 0;
}

int
tlm__pg_rollup_purge(
    struct tlm__store *base, int64_t before_ms, uint64_t *removed)
{
    struct rollup_purge_arg a = {before_ms, removed};
    *removed = 0;
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "rollup purge", op_rollup_purge, &a);
}
