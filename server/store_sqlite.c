/* SQLite backend: opening (WAL, synchronous=NORMAL, busy_timeout), the
 * schema and its migration runner, and batch writes in one transaction.
 * Must never run a statement it did not prepare with bound parameters
 * (DDL and pragmas are constant text) nor write outside the writer lock. */
#include "store_sqlite.h"

#include "rfc3339.h"
#include "store_sqlite_reports.h"
#include "store_sqlite_rollup.h"

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
    /* 2: the write path's schema. Ids as 16-byte blobs, only the columns
     * the queries read (the rest stays in the payload), an explicit seq
     * (the old rowid, so /admin/events cursors survive the upgrade). */
    "CREATE TABLE events_v2 ("
    " seq INTEGER PRIMARY KEY,"
    " id BLOB NOT NULL UNIQUE,"
    " type TEXT NOT NULL,"
    " ts_ms INTEGER NOT NULL,"
    " received_ms INTEGER NOT NULL,"
    " environment TEXT NOT NULL,"
    " endpoint TEXT,"
    " status INTEGER,"
    " response_time_ms REAL,"
    " sample_rate REAL NOT NULL,"
    " payload TEXT NOT NULL);"
    "INSERT INTO events_v2(seq, id, type, ts_ms, received_ms, environment,"
    " endpoint, status, response_time_ms, sample_rate, payload)"
    " SELECT rowid, tlm_uuid_blob(id), type, ts_ms, received_ms, environment,"
    " endpoint, status, response_time_ms, sample_rate, payload"
    " FROM events ORDER BY rowid;"
    "DROP TABLE events;"
    "ALTER TABLE events_v2 RENAME TO events;"
    "CREATE INDEX events_env_ts ON events(environment, ts_ms);",
    /* 3: the SDK's privacy block per batch, for the dashboard. */
    ("ALTER TABLE batches ADD COLUMN privacy TEXT;"
     "CREATE INDEX batches_received ON batches(received_ms);"),
    /* 4: keys managed with `telemetry-server keys`, stored as the SHA-256
     * of their secret; per batch, the key it came with and what the
     * server's privacy pass replaced in it. */
    ("CREATE TABLE api_keys ("
     " id TEXT PRIMARY KEY,"
     " hash BLOB NOT NULL UNIQUE,"
     " name TEXT NOT NULL DEFAULT '',"
     " organization TEXT NOT NULL DEFAULT '',"
     " access_tier TEXT NOT NULL DEFAULT '',"
     " environment TEXT NOT NULL DEFAULT '',"
     " admin INTEGER NOT NULL DEFAULT 0,"
     " created_ms INTEGER NOT NULL,"
     " revoked_ms INTEGER);"
     "ALTER TABLE batches ADD COLUMN key_id TEXT;"
     "ALTER TABLE batches ADD COLUMN scrubbed INTEGER NOT NULL DEFAULT 0;"),
    /* 5: feedback, feature requests (votes, history, comments,
     * notifications), idempotency keys, the webhook outbox and its
     * delivery log; publishable keys. */
    ("ALTER TABLE api_keys ADD COLUMN publishable INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE api_keys ADD COLUMN origins TEXT NOT NULL DEFAULT '';"
     "CREATE TABLE feedback ("
     " seq INTEGER PRIMARY KEY,"
     " id TEXT NOT NULL UNIQUE,"
     " organization TEXT NOT NULL,"
     " type TEXT NOT NULL,"
     " category TEXT NOT NULL,"
     " sentiment REAL NOT NULL,"
     " rating INTEGER,"
     " feature TEXT,"
     " endpoint TEXT,"
     " environment TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " doc TEXT NOT NULL);"
     "CREATE INDEX feedback_created ON feedback(created_ms);"
     "CREATE TABLE idempotency ("
     " organization TEXT NOT NULL,"
     " key TEXT NOT NULL,"
     " kind TEXT NOT NULL,"
     " resource_id TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " PRIMARY KEY(organization, key));"
     "CREATE TABLE feature_requests ("
     " seq INTEGER PRIMARY KEY,"
     " id TEXT NOT NULL UNIQUE,"
     " organization TEXT NOT NULL,"
     " title TEXT NOT NULL,"
     " description TEXT NOT NULL,"
     " use_case TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " merged_into TEXT,"
     " user_id TEXT,"
     " votes INTEGER NOT NULL DEFAULT 0,"
     " comments INTEGER NOT NULL DEFAULT 0,"
     " created_ms INTEGER NOT NULL,"
     " updated_ms INTEGER NOT NULL);"
     "CREATE INDEX feature_requests_org ON feature_requests(organization,"
     " created_ms);"
     "CREATE TABLE fr_votes ("
     " request_id TEXT NOT NULL,"
     " user_id TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " PRIMARY KEY(request_id, user_id)) WITHOUT ROWID;"
     "CREATE INDEX fr_votes_time ON fr_votes(created_ms);"
     "CREATE TABLE fr_history ("
     " seq INTEGER PRIMARY KEY,"
     " request_id TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " previous_status TEXT,"
     " reason TEXT,"
     " at_ms INTEGER NOT NULL);"
     "CREATE INDEX fr_history_request ON fr_history(request_id, seq);"
     "CREATE TABLE fr_comments ("
     " seq INTEGER PRIMARY KEY,"
     " id TEXT NOT NULL UNIQUE,"
     " request_id TEXT NOT NULL,"
     " body TEXT NOT NULL,"
     " author TEXT,"
     " user_id TEXT,"
     " created_ms INTEGER NOT NULL);"
     "CREATE INDEX fr_comments_request ON fr_comments(request_id, seq);"
     "CREATE TABLE notifications ("
     " seq INTEGER PRIMARY KEY,"
     " request_id TEXT NOT NULL,"
     " user_id TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " previous_status TEXT,"
     " created_ms INTEGER NOT NULL,"
     " delivery_id TEXT);"
     "CREATE TABLE outbox ("
     " id TEXT PRIMARY KEY,"
     " type TEXT NOT NULL,"
     " body TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " next_attempt_ms INTEGER NOT NULL,"
     " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " state TEXT NOT NULL DEFAULT 'pending');"
     "CREATE INDEX outbox_due ON outbox(state, next_attempt_ms);"
     "CREATE TABLE deliveries ("
     " seq INTEGER PRIMARY KEY,"
     " delivery_id TEXT NOT NULL,"
     " type TEXT NOT NULL,"
     " attempt INTEGER NOT NULL,"
     " http_status INTEGER,"
     " error TEXT,"
     " at_ms INTEGER NOT NULL,"
     " delivered INTEGER NOT NULL,"
     " gave_up INTEGER NOT NULL,"
     " next_attempt_ms INTEGER);"),
    /* 6: error groups, their per-minute counts, users, endpoints and
     * alerts; each error event names its group. */
    ("ALTER TABLE events ADD COLUMN group_id TEXT;"
     "CREATE INDEX events_group ON events(group_id, ts_ms)"
     " WHERE group_id IS NOT NULL;"
     "CREATE TABLE error_groups ("
     " id TEXT PRIMARY KEY,"
     " fingerprint TEXT NOT NULL,"
     " environment TEXT NOT NULL,"
     " grouping_version INTEGER NOT NULL,"
     " custom INTEGER NOT NULL DEFAULT 0,"
     " error_code TEXT,"
     " title TEXT NOT NULL,"
     " culprit TEXT NOT NULL,"
     " status TEXT NOT NULL DEFAULT 'unresolved',"
     " impact INTEGER NOT NULL DEFAULT -1,"
     " max_severity INTEGER NOT NULL,"
     " last_alert_level INTEGER NOT NULL DEFAULT -1,"
     " regressed INTEGER NOT NULL DEFAULT 0,"
     " events REAL NOT NULL DEFAULT 0,"
     " first_seen_ms INTEGER NOT NULL,"
     " last_seen_ms INTEGER NOT NULL,"
     " resolved_ms INTEGER);"
     "CREATE TABLE error_group_minutes ("
     " group_id TEXT NOT NULL,"
     " minute INTEGER NOT NULL,"
     " severity INTEGER NOT NULL,"
     " events REAL NOT NULL,"
     " PRIMARY KEY(group_id, minute, severity)) WITHOUT ROWID;"
     "CREATE TABLE error_group_users ("
     " group_id TEXT NOT NULL,"
     " user_id TEXT NOT NULL,"
     " severity INTEGER NOT NULL,"
     " last_seen_ms INTEGER NOT NULL,"
     " PRIMARY KEY(group_id, user_id, severity)) WITHOUT ROWID;"
     "CREATE TABLE error_group_endpoints ("
     " group_id TEXT NOT NULL,"
     " endpoint TEXT NOT NULL,"
     " events REAL NOT NULL,"
     " PRIMARY KEY(group_id, endpoint)) WITHOUT ROWID;"
     "CREATE TABLE error_alerts ("
     " seq INTEGER PRIMARY KEY,"
     " group_id TEXT NOT NULL,"
     " level INTEGER NOT NULL,"
     " events REAL NOT NULL,"
     " users REAL NOT NULL,"
     " window_ms INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " delivery_id TEXT);"
     "CREATE INDEX error_alerts_created ON error_alerts(created_ms);"
     "CREATE INDEX error_alerts_group ON error_alerts(group_id, seq);"),
    /* 7: common workflows: each user's last two endpoints, and sessions,
     * endpoint pairs and triples counted per day. */
    ("CREATE TABLE user_paths ("
     " environment TEXT NOT NULL,"
     " user_id TEXT NOT NULL,"
     " prev TEXT,"
     " last TEXT,"
     " last_ts_ms INTEGER NOT NULL,"
     " PRIMARY KEY(environment, user_id)) WITHOUT ROWID;"
     "CREATE TABLE workflow_counts ("
     " day_ms INTEGER NOT NULL,"
     " environment TEXT NOT NULL,"
     " kind INTEGER NOT NULL,"
     " a TEXT NOT NULL,"
     " b TEXT NOT NULL,"
     " c TEXT NOT NULL,"
     " count REAL NOT NULL,"
     " PRIMARY KEY(day_ms, environment, kind, a, b, c)) WITHOUT ROWID;"),
    /* 8: analytics rollups, backfilled from the events already stored
     * (store_sqlite_rollup.c). */
    tlm__sqlite_rollup_migration,
    /* 9: stored runs of saved reports (store_sqlite_reports.c). */
    tlm__sqlite_reports_migration,
    /* 10: analytics applied behind a cursor, off the ingest transaction
     * (store_sqlite_applier.c); the columns it reads instead of parsing
     * payloads. Everything stored before is already in the analytics. */
    ("ALTER TABLE events ADD COLUMN user_id TEXT;"
     "ALTER TABLE events ADD COLUMN access_tier TEXT;"
     "CREATE TABLE analytics_cursor ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " seq INTEGER NOT NULL);"
     "INSERT INTO analytics_cursor(id, seq)"
     " SELECT 1, COALESCE(MAX(seq), 0) FROM events;"),
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define EVENT_COLS 12
#define EVENT_INSERT_HEAD                                                      \
    "INSERT INTO events(id, type, ts_ms, received_ms, environment, "           \
    "endpoint, status, response_time_ms, sample_rate, payload, user_id, "      \
    "access_tier) VALUES"

/* Rows per INSERT statement; a batch is cut greedily into these. */
#define MAX_CHUNK_ROWS 64
static const size_t chunk_rows[N_CHUNKS] = {MAX_CHUNK_ROWS, 16, 4, 1};

/* tlm_uuid_blob(text): what migration 2 stores for a version-1 id. */
static void
sql_uuid_blob(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    unsigned char b[16];
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    (void)argc;
    if (t == NULL
        || tlm__uuid_bytes(t, (size_t)sqlite3_value_bytes(argv[0]), b) != 0) {
        sqlite3_result_error(ctx, "tlm_uuid_blob: not a canonical UUID", -1);
        return;
    }
    sqlite3_result_blob(ctx, b, 16, SQLITE_TRANSIENT);
}

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

/* Builds "INSERT ... VALUES (?,...), ... ON CONFLICT(id) DO NOTHING" for
 * rows rows: one statement step stores a whole chunk of a batch. */
static int
prepare_insert(
    sqlite3 *db, size_t rows, sqlite3_stmt **s, char *err, size_t err_size)
{
    static const char head[] = EVENT_INSERT_HEAD;
    static const char tail[] = " ON CONFLICT(id) DO NOTHING";
    size_t row_len = 2 * EVENT_COLS + 2;
    size_t cap = sizeof(head) + rows * row_len + sizeof(tail);
    char *sql = malloc(cap);
    size_t off = sizeof(head) - 1;
    int rc;
    if (sql == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    memcpy(sql, head, off);
    for (size_t r = 0; r < rows; r++) {
        sql[off++] = r == 0 ? '(' : ',';
        if (r != 0)
            sql[off++] = '(';
        for (int c = 0; c < EVENT_COLS; c++) {
            sql[off++] = '?';
            sql[off++] = c + 1 < EVENT_COLS ? ',' : ')';
        }
    }
    memcpy(sql + off, tail, sizeof(tail));
    rc = prepare(db, sql, s, err, err_size);
    free(sql);
    return rc;
}

static int
prepare_writes(struct sqlite_store *st, char *err, size_t n)
{
    sqlite3 *db = st->wdb;
    if (prepare(db, "BEGIN IMMEDIATE", &st->begin, err, n) != 0
        || prepare(db, "COMMIT", &st->commit, err, n) != 0
        || prepare(db, "ROLLBACK", &st->rollback, err, n) != 0)
        return -1;
    for (size_t k = 0; k < N_CHUNKS; k++) {
        if (prepare_insert(db, chunk_rows[k], &st->ins_events[k], err, n) != 0)
            return -1;
    }
    if (prepare(
            db, "SELECT seq FROM events WHERE id = ?1", &st->find_row, err, n)
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
        "event_count, privacy, key_id, scrubbed) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
        "ON CONFLICT(batch_id) DO NOTHING",
        &st->ins_batch, err, n);
}

int
tlm__sqlite_open_conn(
    const char *path, int flags, sqlite3 **db, char *err, size_t err_size)
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

/* Checkpoints run on their own thread and connection, so that copying WAL
 * frames into the database file and its fsyncs stay off the writer's
 * critical path. The writer's commit hook only asks for one once the WAL
 * holds CKPT_BYTES; the bulk is copied concurrently with new
 * batches, and only the last few frames are copied under the writer lock,
 * so that the next batch restarts the WAL from its beginning (a passive
 * checkpoint racing a busy writer would otherwise never catch up and the
 * WAL would grow without bound). */
#define CKPT_BYTES (32 << 20) /* WAL size that asks for a checkpoint */

static void *
checkpointer(void *arg)
{
    struct sqlite_store *st = arg;
    pthread_setname_np(pthread_self(), "tlm-checkpoint");
    for (;;) {
        int log = 0, done = 0;
        pthread_mutex_lock(&st->ckpt_lock);
        while (!st->ckpt_stop && !st->ckpt_wanted)
            pthread_cond_wait(&st->ckpt_cond, &st->ckpt_lock);
        bool stop = st->ckpt_stop;
        st->ckpt_wanted = false;
        pthread_mutex_unlock(&st->ckpt_lock);
        if (stop)
            break;
        for (int i = 0; i < 4; i++) {
            if (sqlite3_wal_checkpoint_v2(
                    st->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
                    != SQLITE_OK
                || log - done < st->ckpt_frames / 8)
                break;
        }
        pthread_mutex_lock(&st->wlock);
        sqlite3_wal_checkpoint_v2(
            st->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        pthread_mutex_unlock(&st->wlock);
    }
    return NULL;
}

/* Runs on the writer after each commit, writer lock held (SQLite's own
 * autocheckpoint is off: setting this hook replaces it). Past 8 times the
 * threshold (the checkpointer cannot keep up, or a reader pins the WAL),
 * the writer checkpoints itself, as SQLite's autocheckpoint would. */
static int
on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sqlite_store *st = arg;
    if (frames >= 8 * st->ckpt_frames) {
        sqlite3_wal_checkpoint_v2(
            db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (frames >= st->ckpt_frames) {
        pthread_mutex_lock(&st->ckpt_lock);
        st->ckpt_wanted = true;
        pthread_cond_signal(&st->ckpt_cond);
        pthread_mutex_unlock(&st->ckpt_lock);
    }
    return SQLITE_OK;
}

static int
start_checkpointer(
    struct sqlite_store *st, const char *path, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    int page = 4096;
    if (sqlite3_prepare_v2(st->wdb, "PRAGMA page_size", -1, &s, NULL)
            == SQLITE_OK
        && sqlite3_step(s) == SQLITE_ROW)
        page = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    st->ckpt_frames = CKPT_BYTES / (page >= 512 ? page : 4096);
    if (tlm__sqlite_open_conn(
            path, SQLITE_OPEN_READWRITE, &st->cdb, err, err_size)
            != 0
        || exec(st->cdb, "PRAGMA synchronous=NORMAL", err, err_size) != 0)
        return -1;
    if (pthread_create(&st->ckpt_thread, NULL, checkpointer, st) != 0) {
        snprintf(err, err_size, "cannot start the checkpoint thread");
        return -1;
    }
    st->ckpt_started = true;
    sqlite3_wal_hook(st->wdb, on_wal_commit, st);
    return 0;
}

static void
stop_checkpointer(struct sqlite_store *st)
{
    if (st->ckpt_started) {
        pthread_mutex_lock(&st->ckpt_lock);
        st->ckpt_stop = true;
        pthread_cond_signal(&st->ckpt_cond);
        pthread_mutex_unlock(&st->ckpt_lock);
        pthread_join(st->ckpt_thread, NULL);
        st->ckpt_started = false;
    }
    sqlite3_close(st->cdb);
    st->cdb = NULL;
}

static int
setup_writer(
    struct sqlite_store *st, const char *path, char *err, size_t err_size)
{
    if (tlm__sqlite_open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
            &st->wdb, err, err_size)
        != 0)
        return -1;
    /* page_size only takes on a new file (before WAL is set). The WAL file
     * keeps its high-water size after a restart unless limited. temp_store:
     * a multi-row INSERT needs a statement journal, kept in memory. */
    if (exec(st->wdb,
            "PRAGMA page_size=16384; PRAGMA journal_mode=WAL;"
            " PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864;"
            " PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;",
            err, err_size)
        != 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, err_size, "cannot use database %s: %s", path, why);
        return -1;
    }
    if (sqlite3_create_function(st->wdb, "tlm_uuid_blob", 1,
            SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_uuid_blob, NULL, NULL)
        != SQLITE_OK) {
        snprintf(err, err_size, "sqlite: %s", sqlite3_errmsg(st->wdb));
        return -1;
    }
    if (tlm__sqlite_rollup_functions(st->wdb) != 0) {
        snprintf(err, err_size, "sqlite: %s", sqlite3_errmsg(st->wdb));
        return -1;
    }
    if (migrate(st->wdb, err, err_size) != 0
        || prepare_writes(st, err, err_size) != 0)
        return -1;
    return 0;
}

static int sqlite_insert_batch(struct tlm__store *base,
    struct tlm__store_batch *b, size_t *accepted, size_t *duplicates);
static int sqlite_rollup_compact(struct tlm__store *base,
    int64_t minute_before_ms, int64_t hour_before_ms, uint64_t *folded);
static void sqlite_close(struct tlm__store *base);

static int
sqlite_analytics_sync(struct tlm__store *base)
{
    return tlm__sqlite_analytics_sync((struct sqlite_store *)base);
}

static const struct tlm__store_ops sqlite_ops = {
    .name = "sqlite",
    .insert_batch = sqlite_insert_batch,
    .dashboard = tlm__sqlite_dashboard,
    .list_events = tlm__sqlite_list_events,
    .key_insert = tlm__sqlite_key_insert,
    .key_list = tlm__sqlite_key_list,
    .key_revoke = tlm__sqlite_key_revoke,
    .purge = tlm__sqlite_purge,
    .ping = tlm__sqlite_ping,
    .feedback_insert = tlm__sqlite_feedback_insert,
    .feedback_get = tlm__sqlite_feedback_get,
    .feedback_list = tlm__sqlite_feedback_list,
    .feedback_summary = tlm__sqlite_feedback_summary,
    .fr_insert = tlm__sqlite_fr_insert,
    .fr_get = tlm__sqlite_fr_get,
    .fr_list = tlm__sqlite_fr_list,
    .fr_vote = tlm__sqlite_fr_vote,
    .fr_set_status = tlm__sqlite_fr_set_status,
    .fr_comment_insert = tlm__sqlite_fr_comment_insert,
    .fr_comment_list = tlm__sqlite_fr_comment_list,
    .outbox_claim = tlm__sqlite_outbox_claim,
    .outbox_record = tlm__sqlite_outbox_record,
    .deliveries_list = tlm__sqlite_deliveries_list,
    .error_groups_list = tlm__sqlite_error_groups_list,
    .error_group_get = tlm__sqlite_error_group_get,
    .error_group_set_status = tlm__sqlite_error_group_set_status,
    .alerts_recent = tlm__sqlite_alerts_recent,
    .workflows = tlm__sqlite_workflows,
    .rollup_compact = sqlite_rollup_compact,
    .report_run_insert = tlm__sqlite_report_run_insert,
    .report_run_exists = tlm__sqlite_report_run_exists,
    .report_runs_list = tlm__sqlite_report_runs_list,
    .report_run_get = tlm__sqlite_report_run_get,
    .rollup_purge = tlm__sqlite_rollup_purge,
    .analytics_sync = sqlite_analytics_sync,
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
    pthread_mutex_init(&st->ckpt_lock, NULL);
    pthread_cond_init(&st->ckpt_cond, NULL);
    pthread_mutex_init(&st->apply_run, NULL);
    pthread_mutex_init(&st->apply_lock, NULL);
    pthread_cond_init(&st->apply_cond, NULL);
    if (setup_writer(st, path, err, err_size) != 0
        || start_checkpointer(st, path, err, err_size) != 0
        || tlm__sqlite_applier_start(st, path, err, err_size) != 0)
        goto fail;
    if (tlm__sqlite_open_conn(
            path, SQLITE_OPEN_READONLY, &st->rdb, err, err_size)
            != 0
        || tlm__sqlite_prepare_queries(st, err, err_size) != 0)
        goto fail;
    *out = &st->base;
    return 0;
fail:
    sqlite_close(&st->base);
    return -1;
}

sqlite3_stmt *
tlm__sqlite_cached(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    while ((s = sqlite3_next_stmt(db, s)) != NULL) {
        if (sqlite3_sql(s) != NULL && strcmp(sqlite3_sql(s), sql) == 0
            && !sqlite3_stmt_busy(s))
            return s;
    }
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL)
        != SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

void
tlm__sqlite_finalize_all(sqlite3 *db)
{
    sqlite3_stmt *s;
    while (db != NULL && (s = sqlite3_next_stmt(db, NULL)) != NULL)
        sqlite3_finalize(s);
}

static void
sqlite_close(struct tlm__store *base)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *w[] = {st->begin, st->commit, st->rollback, st->find_row,
        st->ins_bad, st->ins_batch, st->ins_events[0], st->ins_events[1],
        st->ins_events[2], st->ins_events[3]};
    tlm__sqlite_applier_stop(st);
    tlm__sqlite_applier_close(st);
    stop_checkpointer(st);
    tlm__sqlite_finalize_queries(st);
    tlm__sqlite_rollup_finalize(st->wdb);
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        sqlite3_finalize(w[i]);
    tlm__sqlite_finalize_all(
        st->wdb); /* the cached ones (tlm__sqlite_cached) */
    tlm__sqlite_finalize_all(st->rdb);
    sqlite3_close(st->rdb);
    /* The last connection to close checkpoints and removes the WAL. */
    sqlite3_close(st->wdb);
    pthread_mutex_destroy(&st->wlock);
    pthread_mutex_destroy(&st->rlock);
    pthread_mutex_destroy(&st->ckpt_lock);
    pthread_cond_destroy(&st->ckpt_cond);
    pthread_mutex_destroy(&st->apply_run);
    pthread_mutex_destroy(&st->apply_lock);
    pthread_cond_destroy(&st->apply_cond);
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

/* Binds one event's columns at parameters base + 1 .. base + EVENT_COLS;
 * its id's 16 bytes go to key (kept alive until the statement is reset). */
static void
bind_event(sqlite3_stmt *s, int base, int64_t received_ms,
    const struct tlm__store_event *e, unsigned char key[16])
{
    const struct tlm__event *ev = &e->ev;
    if (tlm__uuid_bytes(ev->id, TLM_EVENT_ID_LEN, key) == 0)
        sqlite3_bind_blob(s, base + 1, key, 16, SQLITE_STATIC);
    else /* validation guarantees a UUID; NOT NULL makes this fail loudly */
        sqlite3_bind_null(s, base + 1);
    bind_text(s, base + 2, ev->type == TLM_EVENT_REQUEST ? "request" : "error");
    sqlite3_bind_int64(s, base + 3, ev->ts_ms);
    sqlite3_bind_int64(s, base + 4, received_ms);
    bind_text(s, base + 5, ev->environment);
    bind_text(s, base + 6, ev->endpoint);
    if (ev->has_status)
        sqlite3_bind_int(s, base + 7, ev->status);
    else
        sqlite3_bind_null(s, base + 7);
    if (ev->has_response_time)
        sqlite3_bind_double(s, base + 8, ev->response_time_ms);
    else
        sqlite3_bind_null(s, base + 8);
    sqlite3_bind_double(s, base + 9, ev->sample_rate);
    bind_slice(s, base + 10, e->payload, e->payload_len);
    bind_text(s, base + 11, ev->user_id);
    bind_text(s, base + 12, ev->access_tier);
}

/* Marks which of the n events of a chunk were duplicates when the chunk
 * inserted fewer rows than it had. Rows inserted by one statement get
 * consecutive rowids in VALUES order, ending at last_insert_rowid, so an
 * event was stored by this chunk exactly when its id's row has the next
 * expected rowid; an earlier row (stored before, or by an earlier copy of
 * the id in this chunk) makes it a duplicate. */
static int
mark_duplicates(struct sqlite_store *st, struct tlm__store_event *ev, size_t n,
    int64_t inserted)
{
    sqlite3_int64 next = sqlite3_last_insert_rowid(st->wdb) - inserted + 1;
    sqlite3_stmt *s = st->find_row;
    for (size_t i = 0; i < n; i++) {
        unsigned char key[16];
        if (tlm__uuid_bytes(ev[i].ev.id, TLM_EVENT_ID_LEN, key) != 0)
            return -1;
        sqlite3_bind_blob(s, 1, key, 16, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_int64 row = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW)
            return -1;
        ev[i].duplicate = inserted == 0 || row != next;
        if (!ev[i].duplicate)
            next++;
    }
    return 0;
}

/* Inserts events[0..n) with the statement for k rows per step. */
static int
insert_chunk(struct sqlite_store *st, size_t k, int64_t received_ms,
    struct tlm__store_event *ev)
{
    sqlite3_stmt *s = st->ins_events[k];
    size_t n = chunk_rows[k];
    unsigned char keys[MAX_CHUNK_ROWS][16];
    for (size_t i = 0; i < n; i++)
        bind_event(s, (int)i * EVENT_COLS, received_ms, &ev[i], keys[i]);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return -1;
    int64_t inserted = sqlite3_changes(st->wdb);
    if (inserted > 0)
        st->stored_seq = sqlite3_last_insert_rowid(st->wdb);
    if ((size_t)inserted == n) {
        for (size_t i = 0; i < n; i++)
            ev[i].duplicate = false;
        return 0;
    }
    return mark_duplicates(st, ev, n, inserted);
}

static int
insert_events(struct sqlite_store *st, struct tlm__store_batch *b)
{
    size_t done = 0;
    for (size_t k = 0; k < N_CHUNKS; k++) {
        while (b->n_events - done >= chunk_rows[k]) {
            if (insert_chunk(st, k, b->received_ms, b->events + done) != 0)
                return -1;
            done += chunk_rows[k];
        }
    }
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
    bind_slice(s, 9, m->privacy, m->privacy_len);
    bind_text(s, 10, m->key_id);
    sqlite3_bind_int64(s, 11, (sqlite3_int64)m->scrubbed);
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
    if (insert_events(st, b) != 0)
        return -1;
    for (size_t i = 0; i < b->n_events; i++) {
        if (b->events[i].duplicate)
            (*duplicates)++;
        else
            (*accepted)++;
    }
    for (size_t i = 0; i < b->n_bad && !resend; i++) {
        if (insert_bad(st->ins_bad, b, &b->bad[i]) != 0)
            return -1;
    }
    if (tlm__sqlite_errors_apply(st->wdb, b) != 0)
        return -1;
    /* Rollups and workflows follow behind the analytics cursor. */
    return b->skip_rollups ? tlm__sqlite_analytics_skip(st) : 0;
}

static int
sqlite_insert_batch(struct tlm__store *base, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc = -1;
    *accepted = 0;
    *duplicates = 0;
    char why[256] = "";
    bool behind = false;
    pthread_mutex_lock(&st->wlock);
    if (step_once(st->begin) != 0)
        goto out;
    if (write_batch(st, b, accepted, duplicates) != 0
        || step_once(st->commit) != 0) {
        /* The reason, before the rollback replaces it. */
        snprintf(why, sizeof(why), "%s", sqlite3_errmsg(st->wdb));
        step_once(st->rollback);
        goto out;
    }
    rc = 0;
    /* One transaction appending under the writer lock: its new events
     * have consecutive seqs (rowids, the highest plus one), the last of
     * them stored_seq. */
    if (!b->skip_rollups && *accepted > 0)
        tlm__sqlite_applier_handoff(
            st, b, st->stored_seq - (int64_t)*accepted + 1, *accepted);
    behind = tlm__sqlite_applier_note(st);
out:
    if (rc != 0) {
        fprintf(stderr, "telemetry-server: sqlite write failed: %s\n",
            why[0] != '\0' ? why : sqlite3_errmsg(st->wdb));
        *accepted = 0;
        *duplicates = 0;
    }
    pthread_mutex_unlock(&st->wlock);
    if (behind)
        tlm__sqlite_applier_catch_up(st);
    return rc;
}

static int
sqlite_rollup_compact(struct tlm__store *base, int64_t minute_before_ms,
    int64_t hour_before_ms, uint64_t *folded)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc;
    if (tlm__sqlite_analytics_sync(st) != 0)
        return -1;
    pthread_mutex_lock(&st->wlock);
    rc = tlm__sqlite_rollup_compact(
        st->wdb, minute_before_ms, hour_before_ms, folded);
    if (rc != 0)
        fprintf(stderr,
            "telemetry-server: sqlite rollup compaction failed: %s\n",
            sqlite3_errmsg(st->wdb));
    pthread_mutex_unlock(&st->wlock);
    return rc;
}
