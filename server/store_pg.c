/* PostgreSQL backend: the connection pool (reconnecting once when the
 * database restarted), the schema and its migrations, keys and readiness.
 * Must never put a value into SQL text (every value is a bound parameter)
 * and never print the URL's password: every message goes through redact. */
#include "store_pg.h"
#include "store_pg_reports.h"

#include "rfc3339.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest a readiness probe waits, connecting included. */
#define PING_DEADLINE_MS 3000

/* Migration steps: step i brings the schema from version i to i + 1.
 * Append new steps; never edit a released one. Events are partitioned by
 * UTC day on ts_ms; their key is (id, ts_ms) because a unique key of a
 * partitioned table must contain the partition key (see the dedupe note in
 * docs/operations.md). seq orders /admin/events across partitions. */
static const char *const migrations[] = {
    /* 1: events, rejected rows, batch headers, keys. */
    ("CREATE SEQUENCE events_seq;"
     "CREATE TABLE events ("
     " id uuid NOT NULL,"
     " type text NOT NULL,"
     " ts_ms bigint NOT NULL,"
     " received_ms bigint NOT NULL,"
     " environment text NOT NULL,"
     " endpoint text,"
     " status integer,"
     " response_time_ms double precision,"
     " sample_rate double precision NOT NULL,"
     " payload text NOT NULL,"
     " seq bigint NOT NULL DEFAULT nextval('events_seq'),"
     " PRIMARY KEY (id, ts_ms)"
     ") PARTITION BY RANGE (ts_ms);"
     "ALTER SEQUENCE events_seq OWNED BY events.seq;"
     "CREATE INDEX events_env_ts ON events (environment, ts_ms);"
     "CREATE INDEX events_seq_idx ON events (seq);"
     "CREATE TABLE bad_rows ("
     " received_ms bigint NOT NULL,"
     " batch_id text,"
     " reason text NOT NULL,"
     " raw bytea NOT NULL);"
     "CREATE INDEX bad_rows_received ON bad_rows (received_ms);"
     "CREATE TABLE batches ("
     " batch_id text UNIQUE,"
     " received_ms bigint NOT NULL,"
     " sent_at text,"
     " sdk_name text,"
     " sdk_version text,"
     " sdk_binding text,"
     " client_stats text,"
     " event_count bigint NOT NULL,"
     " privacy text,"
     " unanonymized boolean NOT NULL,"
     " unscrubbed boolean NOT NULL,"
     " key_id text,"
     " scrubbed bigint NOT NULL DEFAULT 0);"
     "CREATE INDEX batches_received ON batches (received_ms);"
     "CREATE TABLE api_keys ("
     " id text PRIMARY KEY,"
     " hash bytea NOT NULL UNIQUE,"
     " name text NOT NULL,"
     " organization text,"
     " access_tier text,"
     " environment text,"
     " admin boolean NOT NULL,"
     " created_ms bigint NOT NULL,"
     " revoked_ms bigint);"
     /* What SQLite's json_extract(privacy, '$.F') = 0 tests, computed once
      * per batch: F is false or a number equal to 0; anything unparsable
      * is "not said". */
     "CREATE FUNCTION tlm_privacy_off(doc text, field text) RETURNS boolean"
     " LANGUAGE plpgsql IMMUTABLE AS $$"
     " DECLARE v json;"
     " BEGIN"
     "  IF doc IS NULL THEN RETURN false; END IF;"
     "  v := doc::json -> field;"
     "  RETURN CASE json_typeof(v)"
     "   WHEN 'boolean' THEN v::text = 'false'"
     "   WHEN 'number' THEN v::text::numeric = 0"
     "   ELSE false END;"
     " EXCEPTION WHEN OTHERS THEN RETURN false;"
     " END $$;"),
    /* 2: feedback, feature requests (votes, history, comments,
     * notifications), idempotency keys, the webhook outbox and its
     * delivery log; publishable keys. The tables of SQLite's step 5. */
    ("ALTER TABLE api_keys ADD COLUMN publishable boolean NOT NULL"
     " DEFAULT false;"
     "ALTER TABLE api_keys ADD COLUMN origins text NOT NULL DEFAULT '';"
     "CREATE TABLE feedback ("
     " seq bigserial PRIMARY KEY,"
     " id text NOT NULL UNIQUE,"
     " organization text NOT NULL,"
     " type text NOT NULL,"
     " category text NOT NULL,"
     " sentiment double precision NOT NULL,"
     " rating bigint,"
     " feature text,"
     " endpoint text,"
     " environment text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " doc text NOT NULL);"
     "CREATE INDEX feedback_created ON feedback (created_ms);"
     "CREATE TABLE idempotency ("
     " organization text NOT NULL,"
     " key text NOT NULL,"
     " kind text NOT NULL,"
     " resource_id text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " PRIMARY KEY (organization, key));"
     "CREATE TABLE feature_requests ("
     " seq bigserial PRIMARY KEY,"
     " id text NOT NULL UNIQUE,"
     " organization text NOT NULL,"
     " title text NOT NULL,"
     " description text NOT NULL,"
     " use_case text NOT NULL,"
     " status text NOT NULL,"
     " merged_into text,"
     " user_id text,"
     " votes bigint NOT NULL DEFAULT 0,"
     " comments bigint NOT NULL DEFAULT 0,"
     " created_ms bigint NOT NULL,"
     " updated_ms bigint NOT NULL);"
     "CREATE INDEX feature_requests_org ON feature_requests (organization,"
     " created_ms);"
     "CREATE TABLE fr_votes ("
     " request_id text NOT NULL,"
     " user_id text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " PRIMARY KEY (request_id, user_id));"
     "CREATE INDEX fr_votes_time ON fr_votes (created_ms);"
     "CREATE TABLE fr_history ("
     " seq bigserial PRIMARY KEY,"
     " request_id text NOT NULL,"
     " status text NOT NULL,"
     " previous_status text,"
     " reason text,"
     " at_ms bigint NOT NULL);"
     "CREATE INDEX fr_history_request ON fr_history (request_id, seq);"
     "CREATE TABLE fr_comments ("
     " seq bigserial PRIMARY KEY,"
     " id text NOT NULL UNIQUE,"
     " request_id text NOT NULL,"
     " body text NOT NULL,"
     " author text,"
     " user_id text,"
     " created_ms bigint NOT NULL);"
     "CREATE INDEX fr_comments_request ON fr_comments (request_id, seq);"
     "CREATE TABLE notifications ("
     " seq bigserial PRIMARY KEY,"
     " request_id text NOT NULL,"
     " user_id text NOT NULL,"
     " status text NOT NULL,"
     " previous_status text,"
     " created_ms bigint NOT NULL,"
     " delivery_id text);"
     "CREATE TABLE outbox ("
     " id text PRIMARY KEY,"
     " type text NOT NULL,"
     " body text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " next_attempt_ms bigint NOT NULL,"
     " lease_until_ms bigint NOT NULL DEFAULT 0,"
     " attempts bigint NOT NULL DEFAULT 0,"
     " state text NOT NULL DEFAULT 'pending');"
     "CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);"
     "CREATE TABLE deliveries ("
     " seq bigserial PRIMARY KEY,"
     " delivery_id text NOT NULL,"
     " type text NOT NULL,"
     " attempt bigint NOT NULL,"
     " http_status bigint,"
     " error text,"
     " at_ms bigint NOT NULL,"
     " delivered boolean NOT NULL,"
     " gave_up boolean NOT NULL,"
     " next_attempt_ms bigint);"),
    /* 3: error groups, their per-minute counts, users, endpoints and
     * alerts; each error event names its group (added on the parent, the
     * column reaches every day partition). The tables of SQLite's step 6. */
    ("ALTER TABLE events ADD COLUMN group_id text;"
     "CREATE INDEX events_group ON events (group_id, ts_ms)"
     " WHERE group_id IS NOT NULL;"
     "CREATE TABLE error_groups ("
     " id text PRIMARY KEY,"
     " fingerprint text NOT NULL,"
     " environment text NOT NULL,"
     " grouping_version integer NOT NULL,"
     " custom boolean NOT NULL DEFAULT false,"
     " error_code text,"
     " title text NOT NULL,"
     " culprit text NOT NULL,"
     " status text NOT NULL DEFAULT 'unresolved',"
     " impact integer NOT NULL DEFAULT -1,"
     " max_severity integer NOT NULL,"
     " last_alert_level integer NOT NULL DEFAULT -1,"
     " regressed boolean NOT NULL DEFAULT false,"
     " events double precision NOT NULL DEFAULT 0,"
     " first_seen_ms bigint NOT NULL,"
     " last_seen_ms bigint NOT NULL,"
     " resolved_ms bigint);"
     "CREATE TABLE error_group_minutes ("
     " group_id text NOT NULL,"
     " minute bigint NOT NULL,"
     " severity integer NOT NULL,"
     " events double precision NOT NULL,"
     " PRIMARY KEY (group_id, minute, severity));"
     "CREATE TABLE error_group_users ("
     " group_id text NOT NULL,"
     " user_id text NOT NULL,"
     " severity integer NOT NULL,"
     " last_seen_ms bigint NOT NULL,"
     " PRIMARY KEY (group_id, user_id, severity));"
     "CREATE TABLE error_group_endpoints ("
     " group_id text NOT NULL,"
     " endpoint text NOT NULL,"
     " events double precision NOT NULL,"
     " PRIMARY KEY (group_id, endpoint));"
     "CREATE TABLE error_alerts ("
     " seq bigserial PRIMARY KEY,"
     " group_id text NOT NULL,"
     " level integer NOT NULL,"
     " events double precision NOT NULL,"
     " users double precision NOT NULL,"
     " window_ms bigint NOT NULL,"
     " created_ms bigint NOT NULL,"
     " delivery_id text);"
     "CREATE INDEX error_alerts_created ON error_alerts (created_ms);"
     "CREATE INDEX error_alerts_group ON error_alerts (group_id, seq);"),
    /* 4: common workflows (SQLite's step 7). */
    ("CREATE TABLE user_paths ("
     " environment text NOT NULL,"
     " user_id text NOT NULL,"
     " prev text,"
     " last text,"
     " last_ts_ms bigint NOT NULL,"
     " PRIMARY KEY (environment, user_id));"
     "CREATE TABLE workflow_counts ("
     " day_ms bigint NOT NULL,"
     " environment text NOT NULL,"
     " kind integer NOT NULL,"
     " a text NOT NULL,"
     " b text NOT NULL,"
     " c text NOT NULL,"
     " count double precision NOT NULL,"
     " PRIMARY KEY (day_ms, environment, kind, a, b, c));"),
    /* 5: analytics rollups (SQLite's step 8): per res-wide bucket x
     * environment x endpoint x status class x tier, the latency histogram
     * as parallel arrays (bucket index, weight) that SQL merges; keyed by
     * time first, as the dashboard reads a range. migrate() then folds the
     * events already stored (tlm__pg_rollup_backfill). tlm_client_stats:
     * the SDK health counters of a batch's client_stats (NULL when it is
     * no JSON object; a field that is no number is NULL). */
    ("CREATE TABLE rollups ("
     " res bigint NOT NULL,"
     " t_ms bigint NOT NULL,"
     " environment text NOT NULL,"
     " endpoint text NOT NULL,"
     " status_class integer NOT NULL,"
     " tier text NOT NULL,"
     " requests double precision NOT NULL,"
     " errors double precision NOT NULL,"
     " other double precision NOT NULL,"
     " hidx integer[],"
     " hcnt double precision[],"
     " PRIMARY KEY (t_ms, environment, endpoint, status_class, tier, res));"
     "CREATE FUNCTION tlm_client_stats(doc text)"
     " RETURNS double precision[] LANGUAGE plpgsql IMMUTABLE AS $$"
     " DECLARE j json; r double precision[] := '{NULL,NULL,NULL}';"
     " BEGIN"
     "  IF doc IS NULL THEN RETURN NULL; END IF;"
     "  BEGIN"
     "   j := doc::json;"
     "   IF json_typeof(j) <> 'object' THEN RETURN NULL; END IF;"
     "   FOR i IN 1..3 LOOP"
     "    IF json_typeof(j -> (ARRAY['dropped', 'retried', 'spooled'])[i])"
     "     = 'number' THEN"
     "     r[i] := (j ->> (ARRAY['dropped', 'retried', 'spooled'])[i])"
     "      ::double precision;"
     "    END IF;"
     "   END LOOP;"
     "   RETURN r;"
     "  EXCEPTION WHEN OTHERS THEN RETURN NULL;"
     "  END;"
     " END $$;"),
    tlm__pg_reports_migration, /* report runs (store_pg_reports.c) */
};

/* The version whose step is followed by tlm__pg_rollup_backfill. */
#define ROLLUP_VERSION 5

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int tlm__pg_schema_limit;
const int tlm__pg_schema_version = SCHEMA_VERSION;

/* ---- parameters ------------------------------------------------------- */

void
tlm__pg_put_be(unsigned char *out, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

int64_t
tlm__pg_get_int8(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return (int64_t)v;
}

void
tlm__pg_bytes(struct tlm__pg_params *p, Oid type, const void *v, int len)
{
    p->types[p->n] = type;
    p->values[p->n] = v;
    p->lengths[p->n] = v != NULL ? len : 0;
    p->formats[p->n] = 1;
    p->n++;
}

void
tlm__pg_text(struct tlm__pg_params *p, const char *s, size_t len)
{
    tlm__pg_bytes(p, TLM_PG_TEXT, s, (int)len);
}

void
tlm__pg_cstr(struct tlm__pg_params *p, const char *s)
{
    tlm__pg_text(p, s, s != NULL ? strlen(s) : 0);
}

void
tlm__pg_int8(struct tlm__pg_params *p, int64_t v)
{
    tlm__pg_put_be(p->scalars[p->n], (uint64_t)v, 8);
    tlm__pg_bytes(p, TLM_PG_INT8, p->scalars[p->n], 8);
}

void
tlm__pg_bool(struct tlm__pg_params *p, bool v)
{
    p->scalars[p->n][0] = v ? 1 : 0;
    tlm__pg_bytes(p, TLM_PG_BOOL, p->scalars[p->n], 1);
}

void
tlm__pg_float8(struct tlm__pg_params *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    tlm__pg_put_be(p->scalars[p->n], bits, 8);
    tlm__pg_bytes(p, TLM_PG_FLOAT8, p->scalars[p->n], 8);
}

PGresult *
tlm__pg_exec(
    PGconn *pg, const char *sql, const struct tlm__pg_params *p, bool binary)
{
    static const struct tlm__pg_params none;
    if (p == NULL)
        p = &none;
    return PQexecParams(pg, sql, p->n, p->types, p->values, p->lengths,
        p->formats, binary ? 1 : 0);
}

/* ---- messages without the password ------------------------------------ */

/* Replaces every copy of a secret in msg by "***". */
static void
redact(const struct tlm__pg_store *st, char *msg, size_t size)
{
    for (size_t k = 0; k < sizeof(st->secrets) / sizeof(st->secrets[0]); k++) {
        const char *s = st->secrets[k];
        size_t n = s != NULL ? strlen(s) : 0;
        char *hit = n > 0 ? strstr(msg, s) : NULL;
        while (hit != NULL) {
            size_t at = (size_t)(hit - msg), tail = strlen(hit + n);
            if (at + 3 + tail >= size)
                tail = size - at - 4;
            memmove(hit + 3, hit + n, tail);
            memcpy(hit, "***", 3);
            hit[3 + tail] = '\0';
            hit = strstr(hit + 3, s);
        }
    }
}

void
tlm__pg_fail(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const PGresult *r, char *err, size_t err_size)
{
    const char *code
        = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *m = r != NULL ? PQresultErrorMessage(r) : NULL;
    if (m == NULL || m[0] == '\0')
        m = c != NULL && c->pg != NULL ? PQerrorMessage(c->pg) : "";
    if (c != NULL)
        snprintf(
            c->sqlstate, sizeof(c->sqlstate), "%s", code != NULL ? code : "");
    snprintf(err, err_size, "%s", m[0] != '\0' ? m : "out of memory");
    for (char *p = err; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    }
    for (size_t n = strlen(err); n > 0 && err[n - 1] == ' '; n--)
        err[n - 1] = '\0';
    redact(st, err, err_size);
}

bool
tlm__pg_expect(struct tlm__pg_store *st, struct tlm__pg_conn *c, PGresult *r,
    ExecStatusType want, char *err, size_t err_size)
{
    bool ok = r != NULL && PQresultStatus(r) == want;
    if (!ok)
        tlm__pg_fail(st, c, r, err, err_size);
    PQclear(r);
    return ok;
}

int
tlm__pg_command(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *sql, char *err, size_t err_size)
{
    PGresult *r = PQexec(c->pg, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        PQclear(r);
        return 0;
    }
    return tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, err_size) ? 0 : -1;
}

/* The password as written in the URL's user info or password= parameter
 * (libpq may echo a malformed one), kept only to redact it. */
static char *
raw_secret(const char *url, bool query)
{
    const char *p = strstr(url, "://"), *end, *at = NULL, *colon;
    if (p == NULL)
        return NULL;
    p += 3;
    if (query) {
        p = strstr(p, "password=");
        if (p == NULL)
            return NULL;
        p += 9;
        end = p + strcspn(p, "&");
        return end > p ? strndup(p, (size_t)(end - p)) : NULL;
    }
    end = p + strcspn(p, "/?");
    for (const char *q = p; q < end; q++) {
        if (*q == '@')
            at = q;
    }
    colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (colon == NULL || at - colon <= 1)
        return NULL;
    return strndup(colon + 1, (size_t)(at - colon - 1));
}

/* Checks url and makes the display form postgresql://user@host:port/db. */
static int
parse_url(struct tlm__pg_store *st, char *err, size_t err_size)
{
    char *msg = NULL;
    const char *user = "", *host = "", *port = "", *db = "";
    st->secrets[0] = raw_secret(st->url, false);
    st->secrets[1] = raw_secret(st->url, true);
    PQconninfoOption *opts = PQconninfoParse(st->url, &msg);
    if (opts == NULL) {
        snprintf(err, err_size, "postgresql: invalid connection URL: %s",
            msg != NULL ? msg : "out of memory");
        PQfreemem(msg);
        for (char *p = err; *p != '\0'; p++) {
            if (*p == '\n')
                *p = ' ';
        }
        redact(st, err, err_size);
        return -1;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        const char *v = o->val != NULL ? o->val : "";
        if (strcmp(o->keyword, "user") == 0)
            user = v;
        else if (strcmp(o->keyword, "host") == 0 && v[0] != '\0')
            host = v;
        else if (strcmp(o->keyword, "hostaddr") == 0 && host[0] == '\0')
            host = v;
        else if (strcmp(o->keyword, "port") == 0)
            port = v;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = v;
        else if (strcmp(o->keyword, "password") == 0 && v[0] != '\0')
            st->secrets[2] = strdup(v);
    }
    snprintf(st->display, sizeof(st->display), "postgresql://%s%s%s%s%s/%s",
        user, user[0] != '\0' ? "@" : "", host, port[0] != '\0' ? ":" : "",
        port, db);
    redact(st, st->display, sizeof(st->display));
    PQconninfoFree(opts);
    return 0;
}

/* ---- connections ------------------------------------------------------ */

/* Server NOTICEs ("relation already exists, skipping") are expected; only
 * warnings reach stderr. */
static void
on_notice(void *arg, const PGresult *r)
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    (void)arg;
    if (sev != NULL && strcmp(sev, "WARNING") == 0)
        fprintf(stderr, "telemetry-server: postgresql: %s",
            PQresultErrorMessage(r));
}

/* Our defaults come before the URL (dbname, expanded), so that the URL's
 * own settings win. */
static PGconn *
connect_params(struct tlm__pg_store *st, bool async)
{
    const char *kw[] = {"fallback_application_name", "connect_timeout",
        "client_encoding", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "dbname", NULL};
    const char *val[]
        = {"telemetry-server", "5", "UTF8", "30", "10", "3", st->url, NULL};
    PGconn *pg = async ? PQconnectStartParams(kw, val, 1)
                       : PQconnectdbParams(kw, val, 1);
    if (pg != NULL)
        PQsetNoticeReceiver(pg, on_notice, NULL);
    return pg;
}

static void
connect_failed(
    struct tlm__pg_store *st, struct tlm__pg_conn *c, char *err, size_t n)
{
    char why[TLM_PG_ERR];
    tlm__pg_fail(st, c, NULL, why, sizeof(why));
    snprintf(err, n, "postgresql: could not connect to %.200s: %.250s",
        st->display, why);
    PQfinish(c->pg);
    c->pg = NULL;
}

/* Opens c unless it is up; a broken session is replaced. */
static int
connect_slot(
    struct tlm__pg_store *st, struct tlm__pg_conn *c, char *err, size_t n)
{
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    PQfinish(c->pg);
    c->prepared = 0;
    c->pg = connect_params(st, false);
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    connect_failed(st, c, err, n);
    return -1;
}

/* A free connection, preferring one already open. */
static struct tlm__pg_conn *
acquire(struct tlm__pg_store *st)
{
    struct tlm__pg_conn *c = NULL;
    pthread_mutex_lock(&st->pool_lock);
    while (c == NULL) {
        for (size_t i = 0; i < TLM_PG_POOL; i++) {
            struct tlm__pg_conn *k = &st->conns[i];
            if (!k->busy && (c == NULL || (c->pg == NULL && k->pg != NULL)))
                c = k;
        }
        if (c == NULL)
            pthread_cond_wait(&st->pool_cond, &st->pool_lock);
    }
    c->busy = true;
    pthread_mutex_unlock(&st->pool_lock);
    return c;
}

static void
release(struct tlm__pg_store *st, struct tlm__pg_conn *c)
{
    pthread_mutex_lock(&st->pool_lock);
    c->busy = false;
    pthread_cond_signal(&st->pool_cond);
    pthread_mutex_unlock(&st->pool_lock);
}

int
tlm__pg_run(
    struct tlm__pg_store *st, const char *what, tlm__pg_op op, void *arg)
{
    char err[TLM_PG_ERR] = "";
    struct tlm__pg_conn *c = acquire(st);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool retry = false;
        err[0] = '\0';
        c->sqlstate[0] = '\0';
        if (connect_slot(st, c, err, sizeof(err)) != 0)
            break;
        rc = op(st, c, arg, &retry, err, sizeof(err));
        if (rc == 0)
            break;
        if (PQstatus(c->pg) == CONNECTION_BAD)
            retry = true; /* the database restarted: reconnect once */
        else if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            PQclear(PQexec(c->pg, "ROLLBACK"));
        if (!retry)
            break;
    }
    if (rc != 0 && err[0] != '\0')
        fprintf(
            stderr, "telemetry-server: postgresql %s failed: %s\n", what, err);
    release(st, c);
    return rc;
}

/* ---- schema ----------------------------------------------------------- */

static int
read_version(struct tlm__pg_store *st, struct tlm__pg_conn *c, int *version,
    char *err, size_t n)
{
    PGresult *r = PQexec(c->pg,
        "SELECT COALESCE(MAX(version), 0)"
        " FROM schema_version");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        *version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    return tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n) ? 0 : -1;
}

static int
record_version(struct tlm__pg_store *st, struct tlm__pg_conn *c, int version,
    char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_int8(&p, version);
    tlm__pg_int8(&p, tlm__now_ms());
    PGresult *r = tlm__pg_exec(c->pg,
        "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)", &p,
        false);
    return tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n) ? 0 : -1;
}

/* Brings the schema to SCHEMA_VERSION in one transaction holding the
 * migration lock, so that of two servers starting together the second
 * waits, then finds the schema current: each step is applied once. */
static int
migrate(struct tlm__pg_store *st, struct tlm__pg_conn *c, char *err, size_t n)
{
    char lock[64];
    int version = 0, rc = -1, target = SCHEMA_VERSION;
    if (tlm__pg_schema_limit > 0 && tlm__pg_schema_limit < SCHEMA_VERSION)
        target = tlm__pg_schema_limit;
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d)",
        TLM_PG_LOCK_MIGRATE);
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    if (tlm__pg_command(st, c, lock, err, n) != 0
        || tlm__pg_command(st, c,
               "CREATE TABLE IF NOT EXISTS schema_version ("
               " version integer PRIMARY KEY,"
               " applied_ms bigint NOT NULL)",
               err, n)
            != 0
        || read_version(st, c, &version, err, n) != 0)
        goto out;
    if (version > SCHEMA_VERSION) {
        snprintf(err, n,
            "database schema version %d is newer than this server (%d)",
            version, SCHEMA_VERSION);
        goto out;
    }
    for (int v = version; v < target; v++) {
        if (tlm__pg_command(st, c, migrations[v], err, n) != 0
            || (v + 1 == ROLLUP_VERSION
                && tlm__pg_rollup_backfill(st, c, err, n) != 0)
            || record_version(st, c, v + 1, err, n) != 0)
            goto out;
    }
    rc = tlm__pg_command(st, c, "COMMIT", err, n);
out:
    if (rc != 0)
        PQclear(PQexec(c->pg, "ROLLBACK"));
    return rc;
}

/* ---- keys ------------------------------------------------------------- */

static const char *
or_null(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

/* An id or hash that exists fails without a log line (err left ""). */
static int
op_key_insert(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    const struct tlm__key_row *k = arg;
    struct tlm__pg_params p = {0};
    (void)retry;
    tlm__pg_cstr(&p, k->id);
    tlm__pg_bytes(&p, TLM_PG_BYTEA, k->hash, (int)sizeof(k->hash));
    tlm__pg_cstr(&p, k->name);
    tlm__pg_cstr(&p, or_null(k->organization));
    tlm__pg_cstr(&p, or_null(k->access_tier));
    tlm__pg_cstr(&p, or_null(k->environment));
    tlm__pg_bool(&p, k->admin);
    tlm__pg_int8(&p, k->created_ms);
    if (k->revoked_ms != 0)
        tlm__pg_int8(&p, k->revoked_ms);
    else
        tlm__pg_bytes(&p, TLM_PG_INT8, NULL, 0);
    tlm__pg_bool(&p, k->publishable);
    tlm__pg_cstr(&p, k->origins);
    PGresult *r = tlm__pg_exec(c->pg,
        "INSERT INTO api_keys (id, hash, name, organization, access_tier,"
        " environment, admin, created_ms, revoked_ms, publishable, origins)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING",
        &p, false);
    bool stored = PQresultStatus(r) == PGRES_COMMAND_OK
        && strcmp(PQcmdTuples(r), "1") == 0;
    if (!tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n))
        return -1;
    return stored ? 0 : -1;
}

static int
pg_key_insert(struct tlm__store *base, const struct tlm__key_row *k)
{
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "key insert", op_key_insert, (void *)k);
}

/* Copies binary text column col of row i into out[0..size), cut short. */
static void
get_text(const PGresult *r, int i, int col, char *out, size_t size)
{
    size_t len = PQgetisnull(r, i, col) ? 0 : (size_t)PQgetlength(r, i, col);
    if (len >= size)
        len = size - 1;
    memcpy(out, PQgetvalue(r, i, col), len);
    out[len] = '\0';
}

struct key_list_arg {
    struct tlm__key_row **rows;
    size_t *n;
};

static int
op_key_list(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct key_list_arg *a = arg;
    (void)retry;
    PGresult *r = tlm__pg_exec(c->pg,
        "SELECT id, hash, name, COALESCE(organization, ''),"
        " COALESCE(access_tier, ''), COALESCE(environment, ''), admin,"
        " created_ms, COALESCE(revoked_ms, 0), publishable, origins"
        " FROM api_keys"
        " ORDER BY created_ms, id",
        NULL, true);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0)
        return tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n) ? 0 : -1;
    size_t rows = (size_t)PQntuples(r);
    struct tlm__key_row *k = calloc(rows, sizeof(*k));
    if (k == NULL) {
        PQclear(r);
        snprintf(err, n, "out of memory");
        return -1;
    }
    for (int i = 0; i < (int)rows; i++) {
        get_text(r, i, 0, k[i].id, sizeof(k[i].id));
        if (PQgetlength(r, i, 1) == (int)sizeof(k[i].hash))
            memcpy(k[i].hash, PQgetvalue(r, i, 1), sizeof(k[i].hash));
        get_text(r, i, 2, k[i].name, sizeof(k[i].name));
        get_text(r, i, 3, k[i].organization, sizeof(k[i].organization));
        get_text(r, i, 4, k[i].access_tier, sizeof(k[i].access_tier));
        get_text(r, i, 5, k[i].environment, sizeof(k[i].environment));
        k[i].admin = PQgetvalue(r, i, 6)[0] != 0;
        k[i].created_ms = tlm__pg_get_int8(PQgetvalue(r, i, 7));
        k[i].revoked_ms = tlm__pg_get_int8(PQgetvalue(r, i, 8));
        k[i].publishable = PQgetvalue(r, i, 9)[0] != 0;
        get_text(r, i, 10, k[i].origins, sizeof(k[i].origins));
    }
    PQclear(r);
    *a->rows = k;
    *a->n = rows;
    return 0;
}

static int
pg_key_list(struct tlm__store *base, struct tlm__key_row **rows, size_t *n)
{
    struct key_list_arg a = {rows, n};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "key list", op_key_list, &a);
}

struct key_revoke_arg {
    const char *id;
    int64_t now_ms;
    int result;
};

static int
op_key_revoke(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct key_revoke_arg *a = arg;
    struct tlm__pg_params p = {0};
    (void)retry;
    tlm__pg_cstr(&p, a->id);
    tlm__pg_int8(&p, a->now_ms);
    PGresult *r = tlm__pg_exec(c->pg,
        "UPDATE api_keys SET revoked_ms = $2"
        " WHERE id = $1 AND revoked_ms IS NULL",
        &p, false);
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        a->result = strcmp(PQcmdTuples(r), "0") == 0 ? 1 : 0;
    return tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n) ? 0 : -1;
}

static int
pg_key_revoke(struct tlm__store *base, const char *id, int64_t now_ms)
{
    struct key_revoke_arg a = {id, now_ms, -1};
    if (tlm__pg_run(
            (struct tlm__pg_store *)base, "key revoke", op_key_revoke, &a)
        != 0)
        return -1;
    return a.result;
}

/* ---- readiness -------------------------------------------------------- */

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for pg's socket to be ready for events: 1, or 0 at the deadline,
 * -1 on error. */
static int
wait_socket(PGconn *pg, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = PQsocket(pg), .events = events};
    if (pfd.fd < 0)
        return -1;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        int n = poll(&pfd, 1, (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Connects without blocking past the deadline (libpq's connect_timeout
 * applies per address and only to blocking connects). */
static int
ping_connect(struct tlm__pg_store *st, int64_t deadline)
{
    struct tlm__pg_conn *c = &st->ping;
    PostgresPollingStatusType s = PGRES_POLLING_WRITING;
    PQfinish(c->pg);
    c->pg = connect_params(st, true);
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD)
        s = PGRES_POLLING_FAILED;
    while (s != PGRES_POLLING_OK && s != PGRES_POLLING_FAILED) {
        if (wait_socket(
                c->pg, s == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)
            <= 0)
            s = PGRES_POLLING_FAILED;
        else
            s = PQconnectPoll(c->pg);
    }
    if (s == PGRES_POLLING_OK)
        return 0;
    PQfinish(c->pg);
    c->pg = NULL;
    return -1;
}

/* A trivial query answered before the deadline: 0; -1 when it failed,
 * -2 when the deadline passed (the session is then unusable). */
static int
ping_query(PGconn *pg, int64_t deadline)
{
    int rc = 0;
    if (!PQsendQuery(pg, "SET statement_timeout = 2000; SELECT 1"))
        return -1;
    for (;;) {
        while (PQisBusy(pg)) {
            int w = wait_socket(pg, POLLIN, deadline);
            if (w <= 0)
                return -2;
            if (!PQconsumeInput(pg))
                return -1;
        }
        PGresult *r = PQgetResult(pg);
        if (r == NULL)
            return rc;
        if (PQresultStatus(r) != PGRES_COMMAND_OK
            && PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = -1;
        PQclear(r);
    }
}

/* Never waits for the pool (ingestion may hold every connection) nor more
 * than PING_DEADLINE_MS for the database. Failures are not logged: a load
 * balancer polls this. */
static int
pg_ping(struct tlm__store *base)
{
    struct tlm__pg_store *st = (struct tlm__pg_store *)base;
    int64_t deadline = mono_ms() + PING_DEADLINE_MS;
    int rc = -1;
    pthread_mutex_lock(&st->ping_lock);
    for (int attempt = 0; attempt < 2 && rc != 0; attempt++) {
        PGconn *pg = st->ping.pg;
        if ((pg == NULL || PQstatus(pg) != CONNECTION_OK)
            && ping_connect(st, deadline) != 0)
            break;
        rc = ping_query(st->ping.pg, deadline);
        if (rc == 0 || (rc == -1 && PQstatus(st->ping.pg) == CONNECTION_OK))
            break;
        PQfinish(st->ping.pg); /* broken or timed out: reconnect next */
        st->ping.pg = NULL;
        if (rc == -2)
            break;
    }
    pthread_mutex_unlock(&st->ping_lock);
    return rc == 0 ? 0 : -1;
}

/* ---- open and close --------------------------------------------------- */

static void pg_close(struct tlm__store *base);

static const struct tlm__store_ops pg_ops = {
    .name = "postgresql",
    .insert_batch = tlm__pg_insert_batch,
    .dashboard = tlm__pg_dashboard,
    .list_events = tlm__pg_list_events,
    .key_insert = pg_key_insert,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .purge = tlm__pg_purge,
    .ping = pg_ping,
    .feedback_insert = tlm__pg_feedback_insert,
    .feedback_get = tlm__pg_feedback_get,
    .feedback_list = tlm__pg_feedback_list,
    .feedback_summary = tlm__pg_feedback_summary,
    .fr_insert = tlm__pg_fr_insert,
    .fr_get = tlm__pg_fr_get,
    .fr_list = tlm__pg_fr_list,
    .fr_vote = tlm__pg_fr_vote,
    .fr_set_status = tlm__pg_fr_set_status,
    .fr_comment_insert = tlm__pg_fr_comment_insert,
    .fr_comment_list = tlm__pg_fr_comment_list,
    .outbox_claim = tlm__pg_outbox_claim,
    .outbox_record = tlm__pg_outbox_record,
    .deliveries_list = tlm__pg_deliveries_list,
    .error_groups_list = tlm__pg_error_groups_list,
    .error_group_get = tlm__pg_error_group_get,
    .error_group_set_status = tlm__pg_error_group_set_status,
    .alerts_recent = tlm__pg_alerts_recent,
    .workflows = tlm__pg_workflows,
    .rollup_compact = tlm__pg_rollup_compact,
    .report_run_insert = tlm__pg_report_run_insert,
    .report_run_exists = tlm__pg_report_run_exists,
    .report_runs_list = tlm__pg_report_runs_list,
    .report_run_get = tlm__pg_report_run_get,
    .rollup_purge = tlm__pg_rollup_purge,
    .close = pg_close,
};

int
tlm__store_pg_open(
    const char *url, struct tlm__store **out, char *err, size_t err_size)
{
    char why[TLM_PG_ERR];
    struct tlm__pg_store *st = calloc(1, sizeof(*st));
    if (st == NULL || (st->url = strdup(url)) == NULL) {
        free(st);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    st->base.ops = &pg_ops;
    pthread_mutex_init(&st->pool_lock, NULL);
    pthread_cond_init(&st->pool_cond, NULL);
    pthread_mutex_init(&st->ping_lock, NULL);
    pthread_mutex_init(&st->days_lock, NULL);
    if (parse_url(st, err, err_size) != 0
        || connect_slot(st, &st->conns[0], err, err_size) != 0)
        goto fail;
    if (migrate(st, &st->conns[0], why, sizeof(why)) != 0) {
        snprintf(err, err_size, "postgresql: %s: %s", st->display, why);
        goto fail;
    }
    *out = &st->base;
    return 0;
fail:
    pg_close(&st->base);
    return -1;
}

static void
pg_close(struct tlm__store *base)
{
    struct tlm__pg_store *st = (struct tlm__pg_store *)base;
    for (size_t i = 0; i < TLM_PG_POOL; i++) {
        PQfinish(st->conns[i].pg);
        tlm__pg_conn_free_bufs(&st->conns[i]);
    }
    PQfinish(st->ping.pg);
    for (size_t i = 0; i < sizeof(st->secrets) / sizeof(st->secrets[0]); i++)
        free(st->secrets[i]);
    free(st->days);
    free(st->url);
    pthread_mutex_destroy(&st->pool_lock);
    pthread_cond_destroy(&st->pool_cond);
    pthread_mutex_destroy(&st->ping_lock);
    pthread_mutex_destroy(&st->days_lock);
    free(st);
}
