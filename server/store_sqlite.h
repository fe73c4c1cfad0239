/* Private to the SQLite backend: the connection pair and its cached
 * statements, shared by store_sqlite.c (schema, writes) and
 * store_sqlite_query.c (reads). Nothing outside store_sqlite*.c includes it. */
#ifndef TLM_SERVER_STORE_SQLITE_H
#define TLM_SERVER_STORE_SQLITE_H

#include "store.h"

#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>

/* One writer connection and one reader connection, each behind its own
 * mutex: SQLite allows one writer at a time anyway, so a single serialized
 * writer never meets SQLITE_BUSY from ourselves, while WAL lets the reader
 * run dashboards concurrently with ingestion. */
#define N_CHUNKS 4

struct sqlite_store {
    struct tlm__store base;

    pthread_mutex_t wlock;
    sqlite3 *wdb;
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    sqlite3_stmt *ins_events[N_CHUNKS]; /* multi-row INSERTs, by size */
    sqlite3_stmt *find_row;
    sqlite3_stmt *ins_bad;
    sqlite3_stmt *ins_batch;

    /* The checkpoint thread and its own connection (store_sqlite.c). */
    pthread_t ckpt_thread;
    bool ckpt_started;
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_cond;
    bool ckpt_wanted;
    bool ckpt_stop;
    int ckpt_frames; /* WAL pages that ask for a checkpoint */
    sqlite3 *cdb;

    /* The analytics applier (store_sqlite_applier.c): its thread, its read
     * connection, apply_run held by whoever applies a window (lock order:
     * apply_run, then wlock). The two seqs are this process's view, read
     * and written with wlock held: the last event stored and the cursor
     * as last seen. */
    pthread_t apply_thread;
    bool apply_started;
    sqlite3 *adb;
    pthread_mutex_t apply_run;
    pthread_mutex_t apply_lock;
    pthread_cond_t apply_cond;
    bool apply_wanted;
    bool apply_stop;
    int64_t stored_seq;
    int64_t applied_seq;
    /* Committed batches handed to the applier (apply_lock). */
    struct tlm__sqlite_handoff *handoff_head, *handoff_tail;
    size_t handoff_events;

    pthread_mutex_t rlock;
    sqlite3 *rdb;
    sqlite3_stmt *q_totals;
    sqlite3_stmt *q_endpoints;
    sqlite3_stmt *q_latency;
    sqlite3_stmt *q_list;
    sqlite3_stmt *q_sdk;
    sqlite3_stmt *q_scrubs;
};

/* Prepares the reader statements on st->rdb. Returns 0 or -1 (err set). */
int tlm__sqlite_prepare_queries(
    struct sqlite_store *st, char *err, size_t err_size);
void tlm__sqlite_finalize_queries(struct sqlite_store *st);

int tlm__sqlite_dashboard(struct tlm__store *base,
    const struct tlm__dash_query *q, struct tlm__dash_result *out);
int tlm__sqlite_list_events(struct tlm__store *base,
    const struct tlm__events_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor);

/* store_sqlite_keys.c: keys, retention and readiness. */
int tlm__sqlite_key_insert(
    struct tlm__store *base, const struct tlm__key_row *k);
int tlm__sqlite_key_list(
    struct tlm__store *base, struct tlm__key_row **rows, size_t *n);
int tlm__sqlite_key_revoke(
    struct tlm__store *base, const char *id, int64_t now_ms);
int tlm__sqlite_purge(
    struct tlm__store *base, int64_t before_ms, uint64_t *removed);
int tlm__sqlite_ping(struct tlm__store *base);

/* store_sqlite_feedback.c: feedback, idempotency keys, the outbox. */
int tlm__sqlite_feedback_insert(struct tlm__store *base,
    const struct tlm__feedback_row *r, const char *idem_key,
    const struct tlm__outbox_item *out, size_t n_out, char **existing);
int tlm__sqlite_feedback_get(struct tlm__store *base, const char *id,
    const char *organization, char **doc);
int tlm__sqlite_feedback_list(struct tlm__store *base,
    const struct tlm__feedback_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor);
int tlm__sqlite_feedback_summary(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, struct tlm__feedback_summary *out);
int tlm__sqlite_outbox_claim(struct tlm__store *base, int64_t now_ms,
    int64_t lease_ms, size_t max, struct tlm__outbox_row **rows, size_t *n);
int tlm__sqlite_outbox_record(
    struct tlm__store *base, const struct tlm__outbox_attempt *a);
int tlm__sqlite_deliveries_list(struct tlm__store *base, size_t limit,
    int64_t before, tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor);
/* Inside a write transaction: the resource an idempotency key already
 * names (0, id set), none (1), or -1. */
int tlm__sqlite_idem_find(
    sqlite3 *db, const char *org, const char *key, char id[TLM_FB_ID_MAX]);
int tlm__sqlite_idem_put(sqlite3 *db, const char *org, const char *key,
    const char *kind, const char *id, int64_t now_ms);
int tlm__sqlite_outbox_put(
    sqlite3 *db, const struct tlm__outbox_item *it, int64_t now_ms);

/* store_sqlite_errors.c: error groups. errors_apply runs inside a batch's
 * write transaction (the writer lock held). */
int tlm__sqlite_errors_apply(sqlite3 *db, struct tlm__store_batch *b);

/* A writer statement prepared once per connection (persistent), found again
 * among db's statements by its text: the caller resets it after use. NULL
 * when it does not prepare. Every statement left on a connection is
 * finalized when the store closes. */
sqlite3_stmt *tlm__sqlite_cached(sqlite3 *db, const char *sql);
/* A connection to path with the store's settings (no SQLite mutex: each
 * connection is used under its own lock; 5 s busy timeout). err names
 * the file on failure. */
int tlm__sqlite_open_conn(
    const char *path, int flags, sqlite3 **db, char *err, size_t err_size);
/* Finalizes every statement left on db (NULL: nothing). */
void tlm__sqlite_finalize_all(sqlite3 *db);
int tlm__sqlite_error_groups_list(struct tlm__store *base,
    const struct tlm__group_query *q, struct tlm__error_group **rows, size_t *n,
    bool *more);
int tlm__sqlite_error_group_get(struct tlm__store *base, const char *id,
    int64_t now_ms, struct tlm__group_detail *out);
int tlm__sqlite_error_group_set_status(struct tlm__store *base, const char *id,
    const char *status, int64_t now_ms);
int tlm__sqlite_alerts_recent(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, size_t limit,
    struct tlm__alert_row **rows, size_t *n);

/* store_sqlite_applier.c: rollups and workflows follow the events behind
 * the analytics cursor. start opens the applier's read connection, reads
 * the cursor and starts the thread; stop joins it, applies what is left
 * and closes the connection (safe when never started). */
int tlm__sqlite_applier_start(
    struct sqlite_store *st, const char *path, char *err, size_t err_size);
void tlm__sqlite_applier_stop(struct sqlite_store *st);
void tlm__sqlite_applier_close(struct sqlite_store *st);
/* After a batch commits, wlock held: wakes the thread once enough events
 * wait. True when the thread is too far behind: the caller then calls
 * catch_up, after releasing wlock, before it answers. */
bool tlm__sqlite_applier_note(struct sqlite_store *st);
void tlm__sqlite_applier_catch_up(struct sqlite_store *st);
/* After a batch commits, wlock held: hands its n_new stored events (seqs
 * first_seq ..) to the applier in memory, so it need not read them back.
 * Best effort: when the queue is full or memory short, it reads them. */
void tlm__sqlite_applier_handoff(struct sqlite_store *st,
    const struct tlm__store_batch *b, int64_t first_seq, size_t n_new);
/* Before reading the analytics: applies every event committed so far.
 * Takes apply_run and wlock itself (never call it holding wlock or
 * rlock). -1 (logged) when a window could not be read or written: the
 * dashboard then shows what was applied, the purge of events stops. */
int tlm__sqlite_analytics_sync(struct sqlite_store *st);
/* Inside a batch's write transaction (benchmarks, skip_rollups): moves
 * the cursor past every event stored, so none of them is applied. */
int tlm__sqlite_analytics_skip(struct sqlite_store *st);

/* store_sqlite_workflow.c: common workflows over a run of stored events,
 * in two steps so that the writer lock covers only the writes: plan reads
 * the users' states on a read connection (in the caller's read
 * transaction) and walks the events; write stores the new states and the
 * counts inside the applier's write transaction. b's strings must outlive
 * the plan. */
struct tlm__sqlite_wf_plan;
/* Interns s[0..len) into storage that outlives the plan; NULL when out of
 * memory. The plan needs b->interned and interns the states it reads. */
struct tlm__sqlite_interner {
    const char *(*intern)(void *ctx, const unsigned char *s, size_t len);
    void *ctx;
};
int tlm__sqlite_workflow_plan(sqlite3 *db, const struct tlm__store_batch *b,
    const struct tlm__sqlite_interner *in, struct tlm__sqlite_wf_plan **out);
int tlm__sqlite_workflow_write(
    sqlite3 *db, const struct tlm__sqlite_wf_plan *p);
void tlm__sqlite_workflow_plan_free(struct tlm__sqlite_wf_plan *p);
int tlm__sqlite_workflows(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, struct tlm__workflow_result *out);

/* store_sqlite_fr.c: feature requests. */
int tlm__sqlite_fr_insert(struct tlm__store *base, const struct tlm__fr *r,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX]);
int tlm__sqlite_fr_get(struct tlm__store *base, const char *id,
    const char *organization, struct tlm__fr *out,
    struct tlm__fr_history **history, size_t *n_history);
int tlm__sqlite_fr_list(struct tlm__store *base, const struct tlm__fr_query *q,
    struct tlm__fr **rows, size_t *n, char **next_cursor);
int tlm__sqlite_fr_vote(struct tlm__store *base, const char *id,
    const char *organization, const char *user_id, bool add, int64_t now_ms,
    struct tlm__fr_vote_result *res);
int tlm__sqlite_fr_set_status(
    struct tlm__store *base, const struct tlm__fr_status_change *ch);
int tlm__sqlite_fr_comment_insert(struct tlm__store *base,
    const char *request_id, const char *organization,
    const struct tlm__fr_comment *c, const char *idem_key,
    char existing_id[TLM_FB_ID_MAX]);
int tlm__sqlite_fr_comment_list(struct tlm__store *base, const char *request_id,
    const char *organization, int64_t after, size_t limit,
    struct tlm__fr_comment **rows, size_t *n, int64_t *next_cursor);

#endif
