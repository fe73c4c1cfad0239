/* The storage interface: every backend (SQLite now, PostgreSQL later) is a
 * vtable behind struct tlm__store. Callers never see SQL or a backend type;
 * backends never see HTTP or JSON parsing. All operations are thread-safe. */
#ifndef TLM_SERVER_STORE_H
#define TLM_SERVER_STORE_H

#include "event.h"
#include "store_errors.h"
#include "store_feedback.h"
#include "store_workflow.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Batch header as received; every string may be NULL. */
struct tlm__batch_meta {
    const char *batch_id;
    const char *sent_at;
    const char *sdk_name;
    const char *sdk_version;
    const char *sdk_binding;
    const char *client_stats; /* JSON text as received, not terminated */
    size_t client_stats_len;
    const char *privacy; /* the SDK's privacy block, as received, or NULL */
    size_t privacy_len;
    size_t event_count; /* events in the batch, valid or not */
    const char *key_id; /* public id of the ingestion key that sent it */
    size_t scrubbed; /* replacements the server's privacy pass made */
};

struct tlm__store_event {
    struct tlm__event ev;
    /* The event's JSON text as received (not NUL-terminated); it must stay
     * valid until insert_batch returns, which binds it without a copy. */
    const char *payload;
    size_t payload_len;
    bool duplicate; /* set by insert: the id was already stored */
    /* Error events: the group it belongs to (NULL for requests). */
    const struct tlm__error_info *error;
};

struct tlm__bad_row {
    const char *reason;
    const char *raw; /* JSON text of the rejected item, as received */
    size_t raw_len;
};

/* Everything one POST /v1/batch writes, in one transaction. */
struct tlm__store_batch {
    int64_t received_ms;
    struct tlm__batch_meta meta;
    struct tlm__store_event *events;
    size_t n_events;
    struct tlm__bad_row *bad;
    size_t n_bad;
    /* Error groups are updated with the events; alerts are raised under
     * this policy (NULL: the defaults) and counted in alerts_raised. */
    const struct tlm__alert_policy *alerts;
    size_t alerts_raised;
    /* Set by the SQLite analytics applier on the events it read back: equal
     * strings are the same pointer (str_cmp.h), so the rollup and workflow
     * sorts group by address instead of comparing text. */
    bool interned;
    /* Benchmarks only: store the batch without updating the analytics
     * rollups (the baseline that measures what they cost). On SQLite it
     * moves the analytics cursor past every event stored, so set it on
     * all of a store's batches or none. */
    bool skip_rollups;
};

struct tlm__dash_query {
    int64_t from_ms; /* inclusive */
    int64_t to_ms; /* exclusive */
    const char *environment;
    size_t max_endpoints;
    const char *tier; /* NULL: every access tier; "" those without one */
    const char *endpoint; /* NULL: every endpoint */
};

#define TLM_DASH_SPARK 24 /* sparkline buckets over the window */
#define TLM_DASH_MAX_POINTS 1500
#define TLM_DASH_MAX_TIERS 32
#define TLM_DASH_MAX_ENVS 8
#define TLM_DASH_MAX_SDKS 32
#define TLM_DASH_NAME_MAX 257 /* tiers and SDK versions: 256 bytes + NUL */

/* Weighted (1/sample_rate) estimates; percentiles are weighted nearest-rank
 * over request events, has_latency false when there are none. */
struct tlm__dash_endpoint {
    char *endpoint;
    double requests;
    double errors;
    bool has_latency;
    double p50_ms;
    double p95_ms;
    double p99_ms;
    /* Rollup-backed figures: share of the window's requests, requests in
     * the previous window of equal length and their ratio (has_trend
     * false when the previous window had none), TLM_DASH_SPARK buckets. */
    double share;
    double previous_requests;
    bool has_trend;
    double trend;
    double sparkline[TLM_DASH_SPARK];
};

struct tlm__dash_point {
    int64_t t_ms;
    double requests;
    double errors;
    bool has_p95;
    double p95_ms;
};

/* Requests and errors per access tier ("" for none) or environment. */
struct tlm__dash_group {
    char name[TLM_DASH_NAME_MAX];
    double requests;
    double errors;
};

/* What the SDKs' client_stats said, per SDK version: batches, and the
 * highest cumulative dropped / retried / spooled counter reported. */
struct tlm__dash_sdk_health {
    char sdk_version[TLM_DASH_NAME_MAX];
    double batches;
    double dropped;
    double retried;
    double spooled;
};

/* What the server's privacy pass replaced in the batches of one key. */
struct tlm__dash_key_scrubs {
    char *key_id; /* "" for batches stored without a key id */
    double batches; /* batches of this key with a replacement */
    double replacements;
};

#define TLM_DASH_MAX_SCRUB_KEYS 20

struct tlm__dash_result {
    double events;
    double errors;
    /* Batches received in the range, and those whose SDK said it did not
     * anonymize ids or scrub strings (the batch's privacy block). */
    double batches;
    double unanonymized_batches;
    double unscrubbed_batches;
    /* Keys whose batches the server had to scrub, most replacements first,
     * at most TLM_DASH_MAX_SCRUB_KEYS; server_scrubbed sums all keys. */
    double server_scrubbed;
    struct tlm__dash_key_scrubs *scrub_keys;
    size_t n_scrub_keys;
    struct tlm__dash_endpoint *endpoints;
    size_t n_endpoints;
    /* Read from the rollups (fixed arrays: the result owns no more heap
     * than the fields above). rollups false: a backend without them. */
    bool rollups;
    int64_t bucket_ms;
    struct tlm__dash_point points[TLM_DASH_MAX_POINTS];
    size_t n_points;
    struct tlm__dash_group tiers[TLM_DASH_MAX_TIERS];
    size_t n_tiers;
    /* Every environment, whatever the query's environment filter. */
    struct tlm__dash_group envs[TLM_DASH_MAX_ENVS];
    size_t n_envs;
    struct tlm__dash_sdk_health sdks[TLM_DASH_MAX_SDKS];
    size_t n_sdks;
    double events_per_s; /* every environment's events over the window */
    double store_bytes; /* the database's size; 0 when unknown */
};

struct tlm__events_query {
    const char *type; /* "request", "error" or NULL for all */
    int64_t before; /* only rows with a cursor below this; 0 = newest */
    size_t limit;
};

/* Called once per listed event, newest first, with the store lock held: it
 * must not call back into the store. Returns 0 to continue, -1 to abort. */
typedef int (*tlm__event_visit_fn)(void *ctx, const char *payload, size_t len);

#define TLM_KEY_ID_MAX 32
#define TLM_KEY_ATTR_MAX 128
#define TLM_KEY_ENV_MAX 16
#define TLM_KEY_ORIGINS_MAX 512

/* One ingestion or admin key of the api_keys table. The secret itself is
 * never stored: hash is its SHA-256. Strings are NUL-terminated; an empty
 * organization, access_tier or environment means "not set". */
struct tlm__key_row {
    char id[TLM_KEY_ID_MAX]; /* public id, what `keys list` shows */
    unsigned char hash[32];
    char name[TLM_KEY_ATTR_MAX];
    char organization[TLM_KEY_ATTR_MAX];
    char access_tier[TLM_KEY_ATTR_MAX];
    char environment[TLM_KEY_ENV_MAX]; /* "production", "sandbox" or "" */
    bool admin; /* admin key (every /admin/ route) rather than ingestion */
    /* A publishable key: browser-safe, submit-only (feedback, feature
     * requests, votes, comments), accepted only from origins, a
     * comma-separated list of "scheme://host[:port]". */
    bool publishable;
    char origins[TLM_KEY_ORIGINS_MAX];
    int64_t created_ms;
    int64_t revoked_ms; /* 0: active */
};

/* One run of a saved report: each format's rendering, stored under
 * (report_id, scheduled_ms, format). Strings and bodies are borrowed. */
struct tlm__report_part {
    const char *format; /* "json", "csv", "pdf" */
    const char *content_type;
    const unsigned char *body;
    size_t len;
};

struct tlm__report_run {
    char run_id[TLM_FB_ID_MAX];
    const char *report_id;
    const char *trigger; /* "schedule" or "manual" */
    int64_t scheduled_ms;
    int64_t generated_ms;
    int64_t from_ms; /* the window, to exclusive */
    int64_t to_ms;
    const struct tlm__report_part *parts;
    size_t n_parts;
};

/* A stored run as listed: formats as TLM_REPORT_FMT_* bits. */
struct tlm__report_run_row {
    char run_id[TLM_FB_ID_MAX];
    char trigger[16];
    int64_t scheduled_ms;
    int64_t generated_ms;
    int64_t from_ms;
    int64_t to_ms;
    unsigned formats;
};

/* One stored format of a run; body malloc'ed (the caller frees it). */
struct tlm__report_blob {
    char content_type[64];
    int64_t from_ms;
    unsigned char *body;
    size_t len;
};

struct tlm__store;

struct tlm__store_ops {
    const char *name;
    int (*insert_batch)(struct tlm__store *st, struct tlm__store_batch *b,
        size_t *accepted, size_t *duplicates);
    int (*dashboard)(struct tlm__store *st, const struct tlm__dash_query *q,
        struct tlm__dash_result *out);
    int (*list_events)(struct tlm__store *st, const struct tlm__events_query *q,
        tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor);
    /* Keys: insert (-1 when the id or hash exists), list every row (active
     * and revoked, oldest first; *rows malloc'ed, NULL when none), revoke
     * (0 done, 1 no active key with that id, -1 error). */
    int (*key_insert)(struct tlm__store *st, const struct tlm__key_row *k);
    int (*key_list)(
        struct tlm__store *st, struct tlm__key_row **rows, size_t *n);
    int (*key_revoke)(struct tlm__store *st, const char *id, int64_t now_ms);
    /* Retention: removes events whose timestamp is before before_ms (a
     * backend may keep a whole day more: PostgreSQL drops day partitions
     * entirely before it); *removed counts what went, when it can know. */
    int (*purge)(struct tlm__store *st, int64_t before_ms, uint64_t *removed);
    /* Readiness: 0 when the database answers a trivial query now. */
    int (*ping)(struct tlm__store *st);

    /* Feedback and feature requests (store_feedback.h). organization NULL
     * means any (admin); a row of another organization is not found.
     * Results: 0 (TLM_FR_OK) or an enum tlm__fr_outcome, -1 on error. */
    int (*feedback_insert)(struct tlm__store *st,
        const struct tlm__feedback_row *r, const char *idem_key,
        const struct tlm__outbox_item *out, size_t n_out, char **existing);
    int (*feedback_get)(struct tlm__store *st, const char *id,
        const char *organization, char **doc);
    int (*feedback_list)(struct tlm__store *st,
        const struct tlm__feedback_query *q, tlm__event_visit_fn visit,
        void *ctx, int64_t *next_cursor);
    int (*feedback_summary)(struct tlm__store *st, int64_t from_ms,
        int64_t to_ms, const char *environment,
        struct tlm__feedback_summary *out);
    int (*fr_insert)(struct tlm__store *st, const struct tlm__fr *r,
        const char *idem_key, char existing_id[TLM_FB_ID_MAX]);
    int (*fr_get)(struct tlm__store *st, const char *id,
        const char *organization, struct tlm__fr *out,
        struct tlm__fr_history **history, size_t *n_history);
    int (*fr_list)(struct tlm__store *st, const struct tlm__fr_query *q,
        struct tlm__fr **rows, size_t *n, char **next_cursor);
    int (*fr_vote)(struct tlm__store *st, const char *id,
        const char *organization, const char *user_id, bool add, int64_t now_ms,
        struct tlm__fr_vote_result *res);
    int (*fr_set_status)(
        struct tlm__store *st, const struct tlm__fr_status_change *ch);
    int (*fr_comment_insert)(struct tlm__store *st, const char *request_id,
        const char *organization, const struct tlm__fr_comment *c,
        const char *idem_key, char existing_id[TLM_FB_ID_MAX]);
    int (*fr_comment_list)(struct tlm__store *st, const char *request_id,
        const char *organization, int64_t after, size_t limit,
        struct tlm__fr_comment **rows, size_t *n, int64_t *next_cursor);
    /* The webhook outbox: claim due deliveries (leasing them), record
     * one attempt (the delivery log) and reschedule or close it, list the
     * log newest first as JSON objects. */
    int (*outbox_claim)(struct tlm__store *st, int64_t now_ms, int64_t lease_ms,
        size_t max, struct tlm__outbox_row **rows, size_t *n);
    int (*outbox_record)(
        struct tlm__store *st, const struct tlm__outbox_attempt *a);
    int (*deliveries_list)(struct tlm__store *st, size_t limit, int64_t before,
        tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor);

    /* Error groups (store_errors.h): list (*more when another page
     * exists), one group's page (TLM_FR_NOT_FOUND when none), a status
     * change (resolved, ignored, unresolved), recent alerts. */
    int (*error_groups_list)(struct tlm__store *st,
        const struct tlm__group_query *q, struct tlm__error_group **rows,
        size_t *n, bool *more);
    int (*error_group_get)(struct tlm__store *st, const char *id,
        int64_t now_ms, struct tlm__group_detail *out);
    int (*error_group_set_status)(struct tlm__store *st, const char *id,
        const char *status, int64_t now_ms);
    int (*alerts_recent)(struct tlm__store *st, int64_t from_ms, int64_t to_ms,
        const char *environment, size_t limit, struct tlm__alert_row **rows,
        size_t *n);

    /* Common workflows over the whole UTC days the range touches
     * (store_workflow.h). */
    int (*workflows)(struct tlm__store *st, int64_t from_ms, int64_t to_ms,
        const char *environment, struct tlm__workflow_result *out);
    /* Analytics rollups (rollup.h): fold minute rows before
     * minute_before_ms into hours and hour rows before hour_before_ms
     * into days; NULL for a backend without rollups. */
    int (*rollup_compact)(struct tlm__store *st, int64_t minute_before_ms,
        int64_t hour_before_ms, uint64_t *folded);
    /* Report runs (store_sqlite_reports.c, store_pg_reports.c): insert a
     * run's formats (and its webhook delivery, when out is not NULL) in
     * one transaction; 1 when (report_id, scheduled_ms) was claimed
     * before, nothing written. exists: 0 a run is stored for that slot, 1
     * none. list: the report's last limit runs, newest first (*rows
     * malloc'ed). get: one stored format (0, 1 not found, -1). */
    int (*report_run_insert)(struct tlm__store *st,
        const struct tlm__report_run *run, const struct tlm__outbox_item *out);
    int (*report_run_exists)(
        struct tlm__store *st, const char *report_id, int64_t scheduled_ms);
    int (*report_runs_list)(struct tlm__store *st, const char *report_id,
        size_t limit, struct tlm__report_run_row **rows, size_t *n);
    int (*report_run_get)(struct tlm__store *st, const char *report_id,
        const char *run_id, const char *format, struct tlm__report_blob *out);
    /* Rollup retention: deletes rollup rows (any resolution) starting
     * before before_ms; NULL for a backend without it. */
    int (*rollup_purge)(
        struct tlm__store *st, int64_t before_ms, uint64_t *removed);
    /* Folds every committed event into the analytics now, for a backend
     * that applies them behind a cursor (SQLite); NULL when each batch
     * applies its own. */
    int (*analytics_sync)(struct tlm__store *st);
    void (*close)(struct tlm__store *st);
};

struct tlm__store {
    const struct tlm__store_ops *ops;
};

/* Opens the store named by url ("sqlite:PATH"), creating or migrating its
 * schema. Returns 0 and *out (free with tlm__store_close), or -1 with a
 * message in err. */
int tlm__store_open(
    const char *url, struct tlm__store **out, char *err, size_t err_size);

/* Stores b's valid events (deduplicated on id, marking each duplicate), its
 * bad rows and its header in one transaction. Returns 0 or -1. */
int tlm__store_insert_batch(struct tlm__store *st, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates);

/* Fills *out (free with tlm__dash_result_free). Returns 0 or -1. */
int tlm__store_dashboard(struct tlm__store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out);

/* Lists events newest first; *next_cursor is 0 when no more remain. */
int tlm__store_list_events(struct tlm__store *st,
    const struct tlm__events_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor);

int tlm__store_key_insert(struct tlm__store *st, const struct tlm__key_row *k);
int tlm__store_key_list(
    struct tlm__store *st, struct tlm__key_row **rows, size_t *n);
int tlm__store_key_revoke(
    struct tlm__store *st, const char *id, int64_t now_ms);
int tlm__store_purge(
    struct tlm__store *st, int64_t before_ms, uint64_t *removed);
int tlm__store_ping(struct tlm__store *st);

/* The feedback side (store_feedback.c): the vtable's operations with
 * their outputs cleared first. */
int tlm__store_feedback_insert(struct tlm__store *st,
    const struct tlm__feedback_row *r, const char *idem_key,
    const struct tlm__outbox_item *out, size_t n_out, char **existing);
int tlm__store_feedback_get(struct tlm__store *st, const char *id,
    const char *organization, char **doc);
int tlm__store_feedback_list(struct tlm__store *st,
    const struct tlm__feedback_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor);
int tlm__store_feedback_summary(struct tlm__store *st, int64_t from_ms,
    int64_t to_ms, const char *environment, struct tlm__feedback_summary *out);
int tlm__store_fr_insert(struct tlm__store *st, const struct tlm__fr *r,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX]);
int tlm__store_fr_get(struct tlm__store *st, const char *id,
    const char *organization, struct tlm__fr *out,
    struct tlm__fr_history **history, size_t *n_history);
int tlm__store_fr_list(struct tlm__store *st, const struct tlm__fr_query *q,
    struct tlm__fr **rows, size_t *n, char **next_cursor);
int tlm__store_fr_vote(struct tlm__store *st, const char *id,
    const char *organization, const char *user_id, bool add, int64_t now_ms,
    struct tlm__fr_vote_result *res);
int tlm__store_fr_set_status(
    struct tlm__store *st, const struct tlm__fr_status_change *ch);
int tlm__store_fr_comment_insert(struct tlm__store *st, const char *request_id,
    const char *organization, const struct tlm__fr_comment *c,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX]);
int tlm__store_fr_comment_list(struct tlm__store *st, const char *request_id,
    const char *organization, int64_t after, size_t limit,
    struct tlm__fr_comment **rows, size_t *n, int64_t *next_cursor);
int tlm__store_outbox_claim(struct tlm__store *st, int64_t now_ms,
    int64_t lease_ms, size_t max, struct tlm__outbox_row **rows, size_t *n);
int tlm__store_outbox_record(
    struct tlm__store *st, const struct tlm__outbox_attempt *a);
int tlm__store_deliveries_list(struct tlm__store *st, size_t limit,
    int64_t before, tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor);

/* The error side (store_errors.c), outputs cleared first. */
int tlm__store_error_groups_list(struct tlm__store *st,
    const struct tlm__group_query *q, struct tlm__error_group **rows, size_t *n,
    bool *more);
int tlm__store_error_group_get(struct tlm__store *st, const char *id,
    int64_t now_ms, struct tlm__group_detail *out);
int tlm__store_error_group_set_status(
    struct tlm__store *st, const char *id, const char *status, int64_t now_ms);
int tlm__store_alerts_recent(struct tlm__store *st, int64_t from_ms,
    int64_t to_ms, const char *environment, size_t limit,
    struct tlm__alert_row **rows, size_t *n);

int tlm__store_workflows(struct tlm__store *st, int64_t from_ms, int64_t to_ms,
    const char *environment, struct tlm__workflow_result *out);

/* Report runs, outputs cleared first. A backend without them: insert and
 * exists answer -1, list none, get 1 (not found). */
int tlm__store_report_run_insert(struct tlm__store *st,
    const struct tlm__report_run *run, const struct tlm__outbox_item *out);
int tlm__store_report_run_exists(
    struct tlm__store *st, const char *report_id, int64_t scheduled_ms);
int tlm__store_report_runs_list(struct tlm__store *st, const char *report_id,
    size_t limit, struct tlm__report_run_row **rows, size_t *n);
int tlm__store_report_run_get(struct tlm__store *st, const char *report_id,
    const char *run_id, const char *format, struct tlm__report_blob *out);
/* 1 when the backend keeps no rollups (or cannot purge them yet). */
int tlm__store_rollup_purge(
    struct tlm__store *st, int64_t before_ms, uint64_t *removed);
/* Every event committed so far is in the rollups and workflows when this
 * returns 0 (the analytics reads do it themselves; benchmarks and tools
 * call it to measure or wait for the applier). */
int tlm__store_analytics_sync(struct tlm__store *st);

void tlm__store_close(struct tlm__store *st);
void tlm__dash_result_free(struct tlm__dash_result *r);

/* Backends. */
int tlm__store_sqlite_open(
    const char *path, struct tlm__store **out, char *err, size_t err_size);
/* url is the whole "postgresql://..." or "postgres://..." connection URI. */
int tlm__store_pg_open(
    const char *url, struct tlm__store **out, char *err, size_t err_size);

#endif
