/* Private to the PostgreSQL backend: the connection pool, the parameter
 * builder and the retry wrapper shared by store_pg.c (connections, schema,
 * keys, readiness), store_pg_write.c (day partitions, batch writes,
 * retention), store_pg_query.c (reads) and store_pg_feedback.c /
 * store_pg_fr.c (feedback, feature requests, the webhook outbox),
 * store_pg_errors.c (error groups and alerts) and store_pg_rollup.c
 * (analytics rollups). Nothing
 * outside store_pg*.c includes it. */
#ifndef TLM_SERVER_STORE_PG_H
#define TLM_SERVER_STORE_PG_H

#include "store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connections per server. PostgreSQL runs writers concurrently (row
 * locks, not a database lock), so the pool lets several HTTP threads store
 * batches at once while a dashboard reads; a thread that finds every
 * connection busy waits for one. */
#define TLM_PG_POOL 4
#define TLM_PG_MAX_PARAMS 12
#define TLM_PG_ERR 512
#define TLM_PG_DAY_MS ((int64_t)86400000)

/* pg_advisory_xact_lock keys ("tlm" + a number): concurrent servers
 * serialise exactly on migrations and on partition DDL. */
#define TLM_PG_LOCK_MIGRATE 0x746c6d01
#define TLM_PG_LOCK_PARTITIONS 0x746c6d02
#define TLM_PG_LOCK_ROLLUPS 0x746c6d03 /* rollup compaction */

/* Growable byte buffer (binary array parameters). */
struct tlm__pg_buf {
    char *p;
    size_t len;
    size_t cap;
};

#define TLM_PG_BUFS 10

/* Bit of tlm__pg_conn.prepared for the rollup upsert (store_pg_rollup.c);
 * the low bits are store_pg_write.c's statements. */
#define TLM_PG_PREP_ROLLUP (1u << 16)

/* One pooled connection. prepared: bit i set once the write statement i is
 * prepared on this session (cleared by a reconnect). bufs: the insert's
 * array parameters, kept between batches so that they are not
 * reallocated. sqlstate: of the last failure, "" if none. */
struct tlm__pg_conn {
    PGconn *pg;
    bool busy;
    unsigned prepared;
    char sqlstate[6];
    struct tlm__pg_buf bufs[TLM_PG_BUFS];
};

struct tlm__pg_store {
    struct tlm__store base;
    char *url; /* the --db URL: may hold a password, never printed */
    char display[256]; /* postgresql://user@host:port/db, for messages */
    char *secrets[3]; /* the password as written and decoded, to redact */

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct tlm__pg_conn conns[TLM_PG_POOL];

    pthread_mutex_t ping_lock; /* ping has its own connection */
    struct tlm__pg_conn ping;

    /* UTC days (ms / TLM_PG_DAY_MS, floored) whose events partition is
     * known to exist, so that a batch creates none in the common case. */
    pthread_mutex_t days_lock;
    int64_t *days;
    size_t n_days;
    size_t cap_days;
};

/* Parameters of one statement, all sent in binary format (text as its
 * bytes, integers big-endian), so no value is ever formatted into SQL and
 * slices need no terminating NUL. Values are borrowed: they must outlive
 * the call that sends them. */
struct tlm__pg_params {
    int n;
    const char *values[TLM_PG_MAX_PARAMS];
    int lengths[TLM_PG_MAX_PARAMS];
    int formats[TLM_PG_MAX_PARAMS];
    Oid types[TLM_PG_MAX_PARAMS];
    unsigned char scalars[TLM_PG_MAX_PARAMS][8];
};

/* Type OIDs (pg_type.h is a server header). */
#define TLM_PG_BOOL 16
#define TLM_PG_BYTEA 17
#define TLM_PG_INT8 20
#define TLM_PG_INT4 23
#define TLM_PG_TEXT 25
#define TLM_PG_FLOAT8 701
#define TLM_PG_UUID 2950
#define TLM_PG_BOOL_ARRAY 1000
#define TLM_PG_BYTEA_ARRAY 1001
#define TLM_PG_INT4_ARRAY 1007
#define TLM_PG_TEXT_ARRAY 1009
#define TLM_PG_INT8_ARRAY 1016
#define TLM_PG_FLOAT8_ARRAY 1022
#define TLM_PG_UUID_ARRAY 2951

void tlm__pg_text(struct tlm__pg_params *p, const char *s, size_t len);
void tlm__pg_cstr(struct tlm__pg_params *p, const char *s); /* NULL: NULL */
void tlm__pg_int8(struct tlm__pg_params *p, int64_t v);
void tlm__pg_bool(struct tlm__pg_params *p, bool v);
void tlm__pg_bytes(struct tlm__pg_params *p, Oid type, const void *v, int len);
void tlm__pg_put_be(unsigned char *out, uint64_t v, int bytes);
int64_t tlm__pg_get_int8(const char *p); /* a binary int8 result */

/* PQexecParams with p (NULL: none); text results unless binary. */
PGresult *tlm__pg_exec(
    PGconn *pg, const char *sql, const struct tlm__pg_params *p, bool binary);

/* Runs sql on c; true when its result has status want. On failure, err
 * holds the message and c->sqlstate the code. The result is cleared. */
bool tlm__pg_expect(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    PGresult *r, ExecStatusType want, char *err, size_t err_size);
int tlm__pg_command(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *sql, char *err, size_t err_size);

/* Puts libpq's message for r (or c's connection) into err on one line,
 * the URL's password replaced by ***, and r's SQLSTATE into c. */
void tlm__pg_fail(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const PGresult *r, char *err, size_t err_size);

/* An operation on one pooled connection: returns 0, or -1 with a message
 * in err ("" for a failure that is not the database's, which is not
 * logged). Setting *retry asks for one more run (once) on the same
 * connection even though it is still up. */
typedef int (*tlm__pg_op)(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    void *arg, bool *retry, char *err, size_t err_size);

/* Runs op on a pooled connection, rolling back what it left open; when
 * the connection turns out broken (the database restarted) it reconnects
 * and runs op once more. Failures are logged to stderr as
 * "telemetry-server: postgresql WHAT failed: ...". Returns op's result. */
int tlm__pg_run(
    struct tlm__pg_store *st, const char *what, tlm__pg_op op, void *arg);

/* Tests only: when above 0, a store migrates its schema no further than
 * this version (to make a database as an older server left it). */
extern int tlm__pg_schema_limit;
/* The version this server migrates to (the number of steps). */
extern const int tlm__pg_schema_version;

/* Write side (store_pg_write.c). */
void tlm__pg_days_forget(struct tlm__pg_store *st);
int tlm__pg_insert_batch(struct tlm__store *base, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates);
int tlm__pg_purge(
    struct tlm__store *base, int64_t before_ms, uint64_t *removed);
void tlm__pg_conn_free_bufs(struct tlm__pg_conn *c);

/* Feedback side (store_pg_feedback.c, store_pg_fr.c). Results are read
 * in text format. tlm__pg_rows runs sql and returns its result when it has
 * rows status (NULL and err set otherwise); tlm__pg_changes runs a command
 * and returns the rows it touched, or -1 with err set. */
void tlm__pg_float8(struct tlm__pg_params *p, double v);
PGresult *tlm__pg_rows(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *sql, const struct tlm__pg_params *p, char *err, size_t n);
int64_t tlm__pg_changes(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *sql, const struct tlm__pg_params *p, char *err, size_t n);
/* A malloc'ed copy of a text column, NULL when it is NULL (or no memory). */
char *tlm__pg_dup(const PGresult *r, int row, int col);
int64_t tlm__pg_int(const PGresult *r, int row, int col); /* NULL: 0 */
/* Claims an idempotency key: 0 when it is new (recorded for id), 1 when
 * it was used before (prior holds its resource), -1 on error. */
int tlm__pg_idem_claim(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *org, const char *key, const char *kind, const char *id,
    int64_t now_ms, char prior[TLM_FB_ID_MAX], char *err, size_t n);
int tlm__pg_outbox_put(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__outbox_item *it, int64_t now_ms, char *err, size_t n);

int tlm__pg_feedback_insert(struct tlm__store *base,
    const struct tlm__feedback_row *r, const char *idem_key,
    const struct tlm__outbox_item *out, size_t n_out, char **existing);
int tlm__pg_feedback_get(struct tlm__store *base, const char *id,
    const char *organization, char **doc);
int tlm__pg_feedback_list(struct tlm__store *base,
    const struct tlm__feedback_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor);
int tlm__pg_feedback_summary(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, struct tlm__feedback_summary *out);
int tlm__pg_outbox_claim(struct tlm__store *base, int64_t now_ms,
    int64_t lease_ms, size_t max, struct tlm__outbox_row **rows, size_t *n);
int tlm__pg_outbox_record(
    struct tlm__store *base, const struct tlm__outbox_attempt *a);
int tlm__pg_deliveries_list(struct tlm__store *base, size_t limit,
    int64_t before, tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor);
int tlm__pg_fr_insert(struct tlm__store *base, const struct tlm__fr *r,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX]);
int tlm__pg_fr_get(struct tlm__store *base, const char *id,
    const char *organization, struct tlm__fr *out,
    struct tlm__fr_history **history, size_t *n_history);
int tlm__pg_fr_list(struct tlm__store *base, const struct tlm__fr_query *q,
    struct tlm__fr **rows, size_t *n, char **next_cursor);
int tlm__pg_fr_vote(struct tlm__store *base, const char *id,
    const char *organization, const char *user_id, bool add, int64_t now_ms,
    struct tlm__fr_vote_result *res);
int tlm__pg_fr_set_status(
    struct tlm__store *base, const struct tlm__fr_status_change *ch);
int tlm__pg_fr_comment_insert(struct tlm__store *base, const char *request_id,
    const char *organization, const struct tlm__fr_comment *c,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX]);
int tlm__pg_fr_comment_list(struct tlm__store *base, const char *request_id,
    const char *organization, int64_t after, size_t limit,
    struct tlm__fr_comment **rows, size_t *n, int64_t *next_cursor);

/* Error side (store_pg_errors.c): the groups of b's non-duplicate error
 * events and the alert rule, inside the batch's open transaction on c;
 * sets b->alerts_raised. Returns 0, or -1 with err set. */
/* Common workflows (store_pg_workflow.c); apply runs in the batch's
 * transaction. */
int tlm__pg_workflow_apply(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, char *err, size_t n);
int tlm__pg_workflows(struct tlm__store *base, int64_t from_ms, int64_t to_ms,
    const char *environment, struct tlm__workflow_result *out);
int tlm__pg_errors_apply(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    struct tlm__store_batch *b, char *err, size_t n);
int tlm__pg_error_groups_list(struct tlm__store *base,
    const struct tlm__group_query *q, struct tlm__error_group **rows, size_t *n,
    bool *more);
int tlm__pg_error_group_get(struct tlm__store *base, const char *id,
    int64_t now_ms, struct tlm__group_detail *out);
int tlm__pg_error_group_set_status(struct tlm__store *base, const char *id,
    const char *status, int64_t now_ms);
int tlm__pg_alerts_recent(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, size_t limit,
    struct tlm__alert_row **rows, size_t *n);

/* Analytics rollups (store_pg_rollup.c). apply runs in the batch's
 * transaction (nothing when b->skip_rollups), backfill in migrate()'s
 * (migration 5), dashboard in the dashboard's snapshot: it fills what
 * tlm__dash_builder_finish does plus sdks and store_bytes. */
int tlm__pg_rollup_apply(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, char *err, size_t n);
int tlm__pg_rollup_backfill(
    struct tlm__pg_store *st, struct tlm__pg_conn *c, char *err, size_t n);
int tlm__pg_rollup_compact(struct tlm__store *base, int64_t minute_before_ms,
    int64_t hour_before_ms, uint64_t *folded);
int tlm__pg_rollup_dashboard(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n);

/* Read side (store_pg_query.c). */
int tlm__pg_dashboard(struct tlm__store *base, const struct tlm__dash_query *q,
    struct tlm__dash_result *out);
int tlm__pg_list_events(struct tlm__store *base,
    const struct tlm__events_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor);

#endif
