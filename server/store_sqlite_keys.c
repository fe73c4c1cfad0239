/* SQLite backend, the maintenance side: the api_keys table, retention
 * purges and the readiness probe. Writes go through the writer connection
 * under its lock, each in its own short transaction, so none of them holds
 * up ingestion for long; a purge releases the lock between chunks. */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows of the events table one purge transaction looks at. */
#define PURGE_CHUNK 4096
#define CHUNK_TEXT "4096" /* PURGE_CHUNK in SQL */
/* An event is stamped at most this long after its arrival (the ingest
 * window's default); past it, the rows in seq order are too young. */
#define PURGE_SLACK_MS (2LL * 24 * 3600 * 1000)

static void
log_error(sqlite3 *db, const char *what)
{
    fprintf(stderr, "telemetry-server: sqlite %s failed: %s\n", what,
        sqlite3_errmsg(db));
}

int
tlm__sqlite_key_insert(struct tlm__store *base, const struct tlm__key_row *k)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    if (sqlite3_prepare_v2(st->wdb,
            "INSERT INTO api_keys(id, hash, name, organization, access_tier,"
            " environment, admin, created_ms, revoked_ms, publishable,"
            " origins)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10)",
            -1, &s, NULL)
        == SQLITE_OK) {
        sqlite3_bind_text(s, 1, k->id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, k->hash, 32, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, k->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, k->organization, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, k->access_tier, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, k->environment, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 7, k->admin ? 1 : 0);
        sqlite3_bind_int64(s, 8, k->created_ms);
        sqlite3_bind_int(s, 9, k->publishable ? 1 : 0);
        sqlite3_bind_text(s, 10, k->origins, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    }
    if (rc != 0)
        log_error(st->wdb, "key insert");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

static void
column_text(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

/* One row of the key query into r; -1 when the hash is not 32 bytes. */
static int
read_key(sqlite3_stmt *s, struct tlm__key_row *r)
{
    memset(r, 0, sizeof(*r));
    column_text(s, 0, r->id, sizeof(r->id));
    if (sqlite3_column_bytes(s, 1) != 32)
        return -1;
    memcpy(r->hash, sqlite3_column_blob(s, 1), 32);
    column_text(s, 2, r->name, sizeof(r->name));
    column_text(s, 3, r->organization, sizeof(r->organization));
    column_text(s, 4, r->access_tier, sizeof(r->access_tier));
    column_text(s, 5, r->environment, sizeof(r->environment));
    r->admin = sqlite3_column_int(s, 6) != 0;
    r->created_ms = sqlite3_column_int64(s, 7);
    r->revoked_ms = sqlite3_column_int64(s, 8);
    r->publishable = sqlite3_column_int(s, 9) != 0;
    column_text(s, 10, r->origins, sizeof(r->origins));
    return 0;
}

int
tlm__sqlite_key_list(
    struct tlm__store *base, struct tlm__key_row **rows, size_t *n)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    struct tlm__key_row *out = NULL;
    size_t len = 0, cap = 0;
    int rc = -1, step;
    pthread_mutex_lock(&st->rlock);
    if (sqlite3_prepare_v2(st->rdb,
            "SELECT id, hash, name, organization, access_tier, environment,"
            " admin, created_ms, COALESCE(revoked_ms, 0), publishable,"
            " origins FROM api_keys"
            " ORDER BY created_ms, id",
            -1, &s, NULL)
        != SQLITE_OK)
        goto out;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 16;
            struct tlm__key_row *p = realloc(out, ncap * sizeof(*out));
            if (p == NULL)
                goto out;
            out = p;
            cap = ncap;
        }
        if (read_key(s, &out[len]) == 0)
            len++;
    }
    rc = step == SQLITE_DONE ? 0 : -1;
out:
    if (rc != 0) {
        log_error(st->rdb, "key list");
        free(out);
        out = NULL;
        len = 0;
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    *rows = out;
    *n = len;
    return rc;
}

int
tlm__sqlite_key_revoke(struct tlm__store *base, const char *id, int64_t now_ms)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    if (sqlite3_prepare_v2(st->wdb,
            "UPDATE api_keys SET revoked_ms = ?2"
            " WHERE id = ?1 AND revoked_ms IS NULL",
            -1, &s, NULL)
        == SQLITE_OK) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, now_ms);
        if (sqlite3_step(s) == SQLITE_DONE)
            rc = sqlite3_changes(st->wdb) > 0 ? 0 : 1;
    }
    if (rc < 0)
        log_error(st->wdb, "key revoke");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

/* Runs sql with ?1 = a and ?2 = b (when the statement has them); the
 * number of rows changed, or -1. With the writer lock held. */
static int64_t
run2(sqlite3 *db, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *s = NULL;
    int64_t rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_parameter_count(s) >= 1)
        sqlite3_bind_int64(s, 1, a);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, b);
    if (sqlite3_step(s) == SQLITE_DONE)
        rc = sqlite3_changes64(db);
    sqlite3_finalize(s);
    return rc;
}

/* The smallest seq at or after from, and its received_ms; 0 when none. */
static int64_t
next_seq(sqlite3 *db, int64_t from, int64_t *received_ms)
{
    sqlite3_stmt *s = NULL;
    int64_t seq = 0;
    if (sqlite3_prepare_v2(db,
            "SELECT seq, received_ms FROM events WHERE seq >= ?1"
            " ORDER BY seq LIMIT 1",
            -1, &s, NULL)
        != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, from);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        seq = sqlite3_column_int64(s, 0);
        *received_ms = sqlite3_column_int64(s, 1);
    } else if (step != SQLITE_DONE) {
        seq = -1;
    }
    sqlite3_finalize(s);
    return seq;
}

/* Walks events in seq (arrival) order, one chunk per transaction, deleting
 * those stamped before before_ms, and stops at rows that arrived after
 * before_ms + PURGE_SLACK_MS: no full-table scan under the writer lock.
 * The newest event stays whatever its time: seq is SQLite's rowid (the
 * highest plus one), and deleting the highest would hand its seq to the
 * next event, behind the analytics cursor and /admin/events cursors. */
int
tlm__sqlite_purge(struct tlm__store *base, int64_t before_ms, uint64_t *removed)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int64_t from = 0;
    *removed = 0;
    /* Events leave only once the analytics hold them. */
    if (tlm__sqlite_analytics_sync(st) != 0)
        return -1;
    for (;;) {
        int64_t received = 0, seq, n;
        pthread_mutex_lock(&st->wlock);
        seq = next_seq(st->wdb, from, &received);
        if (seq <= 0 || received > before_ms + PURGE_SLACK_MS) {
            pthread_mutex_unlock(&st->wlock);
            if (seq < 0) {
                log_error(st->wdb, "purge");
                return -1;
            }
            break;
        }
        n = run2(st->wdb,
            "DELETE FROM events WHERE seq >= ?1 AND seq < ?1 + " CHUNK_TEXT
            " AND ts_ms < ?2 AND seq < (SELECT MAX(seq) FROM events)",
            seq, before_ms);
        pthread_mutex_unlock(&st->wlock);
        if (n < 0) {
            log_error(st->wdb, "purge");
            return -1;
        }
        *removed += (uint64_t)n;
        from = seq + PURGE_CHUNK;
    }
    pthread_mutex_lock(&st->wlock);
    int64_t a = run2(
        st->wdb, "DELETE FROM bad_rows WHERE received_ms < ?1", before_ms, 0);
    int64_t b = run2(
        st->wdb, "DELETE FROM batches WHERE received_ms < ?1", before_ms, 0);
    /* Error groups keep their totals; their minute counts and users go
     * with the events they came from. */
    int64_t m = run2(st->wdb,
        "DELETE FROM error_group_minutes WHERE minute < ?1", before_ms, 0);
    int64_t u = run2(st->wdb,
        "DELETE FROM error_group_users WHERE last_seen_ms < ?1", before_ms, 0);
    if (a < 0 || b < 0 || m < 0 || u < 0)
        log_error(st->wdb, "purge");
    pthread_mutex_unlock(&st->wlock);
    return a < 0 || b < 0 || m < 0 || u < 0 ? -1 : 0;
}

int
tlm__sqlite_ping(struct tlm__store *base)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    pthread_mutex_lock(&st->rlock);
    if (sqlite3_prepare_v2(
            st->rdb, "SELECT MAX(version) FROM schema_version", -1, &s, NULL)
        == SQLITE_OK)
        rc = sqlite3_step(s) == SQLITE_ROW ? 0 : -1;
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}
