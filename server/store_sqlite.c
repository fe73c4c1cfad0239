/* SQLite backend: opening (WAL, synchronous=NORMAL, busy_timeout), the
 * schema and its migration runner, and batch writes in one transaction.
 * Must never run a statement it did not prepare with bound parameters
 * (DDL and pragmas are constant text) nor write outside the writer lock. */
#include "store_sqlite.h"

#include "rfc3339.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Migration steps: step i brings the schema from version i to i + 1.
 * Append new steps; never edit a released one. */
static const char *const migrations[] = {
    /* 1: events, rejected rows and batch headers. */
    "CREATE TABLE events ("
    " id TEXT NOT NULL UNIQUE,"
    " type TEXT NOT NULL,"
    " ts_ms INTEGER NOT NULL,"
    " received_ms INTEGER NOT NULL,"
    " environment TEXT NOT NULL,"
    " endpoint TEXT,"
    " method TEXT,"
    " status INTEGER,"
    " response_time_ms REAL,"
    " user_id TEXT,"
    " organization_id TEXT,"
    " access_tier TEXT,"
    " sample_rate REAL NOT NULL,"
    " error_code TEXT,"
    " error_message TEXT,"
    " payload TEXT NOT NULL);"
    "CREATE INDEX events_env_ts ON events(environment, ts_ms);"
    "CREATE INDEX events_endpoint_ts ON events(endpoint, ts_ms);"
    "CREATE TABLE bad_rows ("
    " received_ms INTEGER NOT NULL,"
    " batch_id TEXT,"
    " reason TEXT NOT NULL,"
    " raw TEXT NOT NULL);"
    "CREATE TABLE batches ("
    " batch_id TEXT UNIQUE,"
    " received_ms INTEGER NOT NULL,"
    " sent_at TEXT,"
    " sdk_name TEXT,"
    " sdk_version TEXT,"
    " sdk_binding TEXT,"
    " client_stats TEXT,"
    " event_count INTEGER NOT NULL);",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int
exec(sqlite3 *db, const char *sql, char *err, size_t err_size)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, err_size, "sqlite: %s", msg != NULL ? msg : "error");
    sqlite3_free(msg);
    return -1;
}

static int
read_version(sqlite3 *db, int *version, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
            "SELECT COALESCE(MAX(version), 0) FROM "
            "schema_version",
            -1, &s, NULL)
        != SQLITE_OK)
        goto out;
    if (sqlite3_step(s) != SQLITE_ROW)
        goto out;
    *version = sqlite3_column_int(s, 0);
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, err_size, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

static int
record_version(sqlite3 *db, int version, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
            "INSERT INTO schema_version(version, applied_ms) "
            "VALUES(?1, ?2)",
            -1, &s, NULL)
        != SQLITE_OK)
        goto out;
    sqlite3_bind_int(s, 1, version);
    sqlite3_bind_int64(s, 2, tlm__now_ms());
    if (sqlite3_step(s) != SQLITE_DONE)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, err_size, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* Brings the schema to SCHEMA_VERSION in one IMMEDIATE transaction, so two
 * servers starting on one file cannot both apply a step. */
static int
migrate(sqlite3 *db, char *err, size_t err_size)
{
    int version = 0;
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE", err, err_size) != 0)
        return -1;
    if (exec(db,
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER NOT NULL PRIMARY KEY,"
            " applied_ms INTEGER NOT NULL)",
            err, err_size)
            != 0
        || read_version(db, &version, err, err_size) != 0)
        goto out;
    if (version > SCHEMA_VERSION) {
        snprintf(err, err_size,
            "database schema version %d is newer than this server "
            "(%d)",
            version, SCHEMA_VERSION);
        goto out;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        if (exec(db, migrations[v], err, err_size) != 0
            || record_version(db, v + 1, err, err_size) != 0)
            goto out;
    }
    rc = exec(db, "COMMIT", err, err_size);
out:
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int
prepare(
    sqlite3 *db, const char *sql, sqlite3_stmt **s, char *err, size_t err_size)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL)
        == SQLITE_OK)
        return 0;
    snprintf(err, err_size, "sqlite: %s", sqlite3_errmsg(db));
    return -1;
}

static int
prepare_writes(struct sqlite_store *st, char *err, size_t n)
{
    sqlite3 *db = st->wdb;
    if (prepare(db, "BEGIN IMMEDIATE", &st->begin, err, n) != 0
        || prepare(db, "COMMIT", &st->commit, err, n) != 0
        || prepare(db, "ROLLBACK", &st->rollback, err, n) != 0)
        return -1;
    if (prepare(db,
            "INSERT INTO events(id, type, ts_ms, received_ms, "
            "environment, endpoint, method, status, response_time_ms, "
            "user_id, organization_id, access_tier, sample_rate, "
            "error_code, error_message, payload) VALUES(?1, ?2, ?3, ?4, "
            "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) "
            "ON CONFLICT(id) DO NOTHING",
            &st->ins_event, err, n)
        != 0)
        return -1;
    if (prepare(db,
            "INSERT INTO bad_rows(received_ms, batch_id, reason, raw) "
            "VALUES(?1, ?2, ?3, ?4)",
            &st->ins_bad, err, n)
        != 0)
        return -1;
    return prepare(db,
        "INSERT INTO batches(batch_id, received_ms, sent_at, "
        "sdk_name, sdk_version, sdk_binding, client_stats, "
        "event_count) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(batch_id) DO NOTHING",
        &st->ins_batch, err, n);
}

static int
open_conn(const char *path, int flags, sqlite3 **db, char *err, size_t err_size)
{
    if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK) {
        snprintf(err, err_size, "cannot open database %s: %s", path,
            *db != NULL ? sqlite3_errmsg(*db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(*db, 5000);
    return 0;
}

static int
setup_writer(
    struct sqlite_store *st, const char *path, char *err, size_t err_size)
{
    if (open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st->wdb,
            err, err_size)
        != 0)
        return -1;
    if (exec(st->wdb,
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            " PRAGMA cache_size=-16384;",
            err, err_size)
        != 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, err_size, "cannot use database %s: %s", path, why);
        return -1;
    }
    if (migrate(st->wdb, err, err_size) != 0
        || prepare_writes(st, err, err_size) != 0)
        return -1;
    return 0;
}

static int sqlite_insert_batch(struct tlm__store *base,
    struct tlm__store_batch *b, size_t *accepted, size_t *duplicates);
static void sqlite_close(struct tlm__store *base);

static const struct tlm__store_ops sqlite_ops = {
    .name = "sqlite",
    .insert_batch = sqlite_insert_batch,
    .dashboard = tlm__sqlite_dashboard,
    .list_events = tlm__sqlite_list_events,
    .close = sqlite_close,
};

int
tlm__store_sqlite_open(
    const char *path, struct tlm__store **out, char *err, size_t err_size)
{
    struct sqlite_store *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    st->base.ops = &sqlite_ops;
    pthread_mutex_init(&st->wlock, NULL);
    pthread_mutex_init(&st->rlock, NULL);
    if (setup_writer(st, path, err, err_size) != 0)
        goto fail;
    if (open_conn(path, SQLITE_OPEN_READONLY, &st->rdb, err, err_size) != 0
        || tlm__sqlite_prepare_queries(st, err, err_size) != 0)
        goto fail;
    *out = &st->base;
    return 0;
fail:
    sqlite_close(&st->base);
    return -1;
}

static void
sqlite_close(struct tlm__store *base)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *w[] = {st->begin, st->commit, st->rollback, st->ins_event,
        st->ins_bad, st->ins_batch};
    tlm__sqlite_finalize_queries(st);
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        sqlite3_finalize(w[i]);
    sqlite3_close(st->rdb);
    sqlite3_close(st->wdb);
    pthread_mutex_destroy(&st->wlock);
    pthread_mutex_destroy(&st->rlock);
    free(st);
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Binds len bytes without a copy: the caller keeps them alive until the
 * statement is reset. NULL binds SQL NULL. */
static void
bind_slice(sqlite3_stmt *s, int i, const char *v, size_t len)
{
    if (v == NULL || len > INT_MAX)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, v, (int)len, SQLITE_STATIC);
}

static int
insert_event(sqlite3_stmt *s, int64_t received_ms, struct tlm__store_event *e)
{
    const struct tlm__event *ev = &e->ev;
    sqlite3_bind_text(s, 1, ev->id, TLM_EVENT_ID_LEN, SQLITE_STATIC);
    bind_text(s, 2, ev->type == TLM_EVENT_REQUEST ? "request" : "error");
    sqlite3_bind_int64(s, 3, ev->ts_ms);
    sqlite3_bind_int64(s, 4, received_ms);
    bind_text(s, 5, ev->environment);
    bind_text(s, 6, ev->endpoint);
    bind_text(s, 7, ev->method);
    if (ev->has_status)
        sqlite3_bind_int(s, 8, ev->status);
    else
        sqlite3_bind_null(s, 8);
    if (ev->has_response_time)
        sqlite3_bind_double(s, 9, ev->response_time_ms);
    else
        sqlite3_bind_null(s, 9);
    bind_text(s, 10, ev->user_id);
    bind_text(s, 11, ev->organization_id);
    bind_text(s, 12, ev->access_tier);
    sqlite3_bind_double(s, 13, ev->sample_rate);
    bind_text(s, 14, ev->error_code);
    bind_text(s, 15, ev->error_message);
    bind_slice(s, 16, e->payload, e->payload_len);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return -1;
    e->duplicate = sqlite3_changes(sqlite3_db_handle(s)) == 0;
    return 0;
}

static int
insert_bad(sqlite3_stmt *s, const struct tlm__store_batch *b,
    const struct tlm__bad_row *r)
{
    sqlite3_bind_int64(s, 1, b->received_ms);
    bind_text(s, 2, b->meta.batch_id);
    bind_text(s, 3, r->reason);
    bind_slice(s, 4, r->raw, r->raw_len);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int
insert_header(sqlite3_stmt *s, const struct tlm__store_batch *b)
{
    const struct tlm__batch_meta *m = &b->meta;
    bind_text(s, 1, m->batch_id);
    sqlite3_bind_int64(s, 2, b->received_ms);
    bind_text(s, 3, m->sent_at);
    bind_text(s, 4, m->sdk_name);
    bind_text(s, 5, m->sdk_version);
    bind_text(s, 6, m->sdk_binding);
    bind_slice(s, 7, m->client_stats, m->client_stats_len);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)m->event_count);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int
step_once(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The header goes first: a batch_id seen before means a resend, whose bad
 * rows are already recorded (its events dedupe on their own ids). */
static int
write_batch(struct sqlite_store *st, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates)
{
    bool resend;
    if (insert_header(st->ins_batch, b) != 0)
        return -1;
    resend = sqlite3_changes(st->wdb) == 0;
    for (size_t i = 0; i < b->n_events; i++) {
        if (insert_event(st->ins_event, b->received_ms, &b->events[i]) != 0)
            return -1;
        if (b->events[i].duplicate)
            (*duplicates)++;
        else
            (*accepted)++;
    }
    for (size_t i = 0; i < b->n_bad && !resend; i++) {
        if (insert_bad(st->ins_bad, b, &b->bad[i]) != 0)
            return -1;
    }
    return 0;
}

static int
sqlite_insert_batch(struct tlm__store *base, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc = -1;
    *accepted = 0;
    *duplicates = 0;
    pthread_mutex_lock(&st->wlock);
    if (step_once(st->begin) != 0)
        goto out;
    if (write_batch(st, b, accepted, duplicates) != 0) {
        step_once(st->rollback);
        goto out;
    }
    if (step_once(st->commit) != 0) {
        step_once(st->rollback);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "telemetry-server: sqlite write failed: %s\n",
            sqlite3_errmsg(st->wdb));
        *accepted = 0;
        *duplicates = 0;
    }
    pthread_mutex_unlock(&st->wlock);
    return rc;
}
