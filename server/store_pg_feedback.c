/* PostgreSQL backend, feedback: rows with their answer document,
 * idempotency keys, the weekly summary for the dashboard, and the webhook
 * outbox with its delivery log; the same outcomes as
 * store_sqlite_feedback.c for the same calls. Every write runs in one
 * transaction on one pooled connection; several servers may share the
 * database, so keys are claimed with ON CONFLICT and the outbox is leased
 * with FOR UPDATE SKIP LOCKED. Results are read in text format. */
#include "store_pg.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers shared with store_pg_fr.c -------------------------------- */

PGresult *
tlm__pg_rows(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *sql,
    const struct tlm__pg_params *p, char *err, size_t n)
{
    PGresult *r = tlm__pg_exec(c->pg, sql, p, false);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n);
    return NULL;
}

int64_t
tlm__pg_changes(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *sql, const struct tlm__pg_params *p, char *err, size_t n)
{
    PGresult *r = tlm__pg_exec(c->pg, sql, p, false);
    int64_t changed = -1;
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        changed = strtoll(PQcmdTuples(r), NULL, 10);
    if (!tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n))
        return -1;
    return changed;
}

char *
tlm__pg_dup(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return strdup(PQgetvalue(r, row, col));
}

int64_t
tlm__pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double
get_double(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtod(PQgetvalue(r, row, col), NULL);
}

static void
copy_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    snprintf(out, size, "%s",
        PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static int
oom(char *err, size_t n)
{
    snprintf(err, n, "out of memory");
    return -1;
}

int
tlm__pg_idem_claim(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *org, const char *key, const char *kind, const char *id,
    int64_t now_ms, char prior[TLM_FB_ID_MAX], char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, org);
    tlm__pg_cstr(&p, key);
    tlm__pg_cstr(&p, kind);
    tlm__pg_cstr(&p, id);
    tlm__pg_int8(&p, now_ms);
    /* A concurrent claim of the same key waits for ours (or we for it)
     * on the primary key: exactly one transaction inserts. */
    int64_t changed = tlm__pg_changes(st, c,
        "INSERT INTO idempotency (organization, key, kind, resource_id,"
        " created_ms) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (organization, key) DO NOTHING",
        &p, err, n);
    if (changed < 0)
        return -1;
    if (changed == 1)
        return 0;
    p.n = 2;
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT resource_id FROM idempotency"
        " WHERE organization = $1 AND key = $2",
        &p, err, n);
    if (r == NULL)
        return -1;
    int rc = -1;
    if (PQntuples(r) == 1) {
        copy_text(r, 0, 0, prior, TLM_FB_ID_MAX);
        rc = 1;
    } else {
        snprintf(err, n, "idempotency key vanished");
    }
    PQclear(r);
    return rc;
}

int
tlm__pg_outbox_put(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__outbox_item *it, int64_t now_ms, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, it->id);
    tlm__pg_cstr(&p, it->type);
    tlm__pg_text(&p, it->body, it->body_len);
    tlm__pg_int8(&p, now_ms);
    return tlm__pg_changes(st, c,
               "INSERT INTO outbox (id, type, body, created_ms,"
               " next_attempt_ms) VALUES ($1, $2, $3, $4, $4)",
               &p, err, n)
            == 1
        ? 0
        : -1;
}

/* ---- feedback --------------------------------------------------------- */

/* The stored document of feedback id: 0, 1 (none) or -1. */
static int
doc_of(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *id,
    const char *org, char **doc, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, id);
    tlm__pg_cstr(&p, org);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT doc FROM feedback WHERE id = $1"
        " AND ($2::text IS NULL OR organization = $2)",
        &p, err, n);
    int rc = 1;
    if (r == NULL)
        return -1;
    if (PQntuples(r) > 0) {
        *doc = tlm__pg_dup(r, 0, 0);
        rc = *doc != NULL ? 0 : oom(err, n);
    }
    PQclear(r);
    return rc;
}

struct fb_insert_arg {
    const struct tlm__feedback_row *r;
    const char *idem_key;
    const struct tlm__outbox_item *out;
    size_t n_out;
    char **existing;
};

static int
op_feedback_insert(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct fb_insert_arg *a = arg;
    const struct tlm__feedback_row *r = a->r;
    struct tlm__pg_params p = {0};
    char prior[TLM_FB_ID_MAX];
    (void)retry;
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    if (a->idem_key != NULL) {
        int f = tlm__pg_idem_claim(st, c, r->organization, a->idem_key,
            "feedback", r->id, r->created_ms, prior, err, n);
        if (f < 0)
            return -1;
        if (f == 1) {
            /* Nothing written: tlm__pg_run rolls the claim back. */
            int d = doc_of(st, c, prior, NULL, a->existing, err, n);
            if (d == 1)
                snprintf(
                    err, n, "feedback %s of an idempotency key is gone", prior);
            return d == 0 ? TLM_FR_REPLAY : -1;
        }
    }
    tlm__pg_cstr(&p, r->id);
    tlm__pg_cstr(&p, r->organization);
    tlm__pg_cstr(&p, r->feedback_type);
    tlm__pg_cstr(&p, r->category);
    tlm__pg_float8(&p, r->sentiment);
    if (r->rating > 0)
        tlm__pg_int8(&p, r->rating);
    else
        tlm__pg_bytes(&p, TLM_PG_INT8, NULL, 0);
    tlm__pg_cstr(&p, r->feature);
    tlm__pg_cstr(&p, r->endpoint);
    tlm__pg_cstr(&p, r->environment);
    tlm__pg_int8(&p, r->created_ms);
    tlm__pg_text(&p, r->doc, r->doc_len);
    if (tlm__pg_changes(st, c,
            "INSERT INTO feedback (id, organization, type, category,"
            " sentiment, rating, feature, endpoint, environment, created_ms,"
            " doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &p, err, n)
        != 1)
        return -1;
    for (size_t i = 0; i < a->n_out; i++) {
        if (tlm__pg_outbox_put(st, c, &a->out[i], r->created_ms, err, n) != 0)
            return -1;
    }
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

int
tlm__pg_feedback_insert(struct tlm__store *base,
    const struct tlm__feedback_row *r, const char *idem_key,
    const struct tlm__outbox_item *out, size_t n_out, char **existing)
{
    struct fb_insert_arg a = {r, idem_key, out, n_out, existing};
    return tlm__pg_run((struct tlm__pg_store *)base, "feedback insert",
        op_feedback_insert, &a);
}

struct fb_get_arg {
    const char *id;
    const char *organization;
    char **doc;
};

static int
op_feedback_get(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct fb_get_arg *a = arg;
    (void)retry;
    return doc_of(st, c, a->id, a->organization, a->doc, err, n);
}

int
tlm__pg_feedback_get(struct tlm__store *base, const char *id,
    const char *organization, char **doc)
{
    struct fb_get_arg a = {id, organization, doc};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "feedback get", op_feedback_get, &a);
}

struct fb_list_arg {
    const struct tlm__feedback_query *q;
    tlm__event_visit_fn visit;
    void *ctx;
    int64_t *next_cursor;
};

/* Visits run once the whole page arrived, so a query run twice (after a
 * reconnect) never visits a row twice. */
static int
op_feedback_list(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct fb_list_arg *a = arg;
    const struct tlm__feedback_query *q = a->q;
    struct tlm__pg_params p = {0};
    size_t seen = 0;
    int64_t last = 0;
    (void)retry;
    tlm__pg_cstr(&p, q->organization);
    tlm__pg_cstr(&p, q->type);
    tlm__pg_cstr(&p, q->category);
    tlm__pg_cstr(&p, q->feature);
    tlm__pg_cstr(&p, q->endpoint);
    tlm__pg_cstr(&p, q->environment);
    if (q->has_min_sentiment)
        tlm__pg_float8(&p, q->min_sentiment);
    else
        tlm__pg_bytes(&p, TLM_PG_FLOAT8, NULL, 0);
    if (q->has_max_sentiment)
        tlm__pg_float8(&p, q->max_sentiment);
    else
        tlm__pg_bytes(&p, TLM_PG_FLOAT8, NULL, 0);
    tlm__pg_int8(&p, q->from_ms);
    tlm__pg_int8(&p, q->to_ms);
    tlm__pg_int8(&p, q->before);
    tlm__pg_int8(&p, (int64_t)q->limit + 1);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT seq, doc FROM feedback WHERE"
        " ($1::text IS NULL OR organization = $1)"
        " AND ($2::text IS NULL OR type = $2)"
        " AND ($3::text IS NULL OR category = $3)"
        " AND ($4::text IS NULL OR feature = $4)"
        " AND ($5::text IS NULL OR endpoint = $5)"
        " AND ($6::text IS NULL OR environment = $6)"
        " AND ($7::float8 IS NULL OR sentiment >= $7)"
        " AND ($8::float8 IS NULL OR sentiment <= $8)"
        " AND ($9 = 0 OR created_ms >= $9) AND ($10 = 0 OR created_ms < $10)"
        " AND ($11 = 0 OR seq < $11)"
        " ORDER BY seq DESC LIMIT $12",
        &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        if (seen == q->limit) {
            *a->next_cursor = last;
            break;
        }
        last = tlm__pg_int(r, i, 0);
        if (a->visit(a->ctx, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1))
            != 0)
            break;
        seen++;
    }
    PQclear(r);
    return 0;
}

int
tlm__pg_feedback_list(struct tlm__store *base,
    const struct tlm__feedback_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor)
{
    struct fb_list_arg a = {q, visit, ctx, next_cursor};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "feedback list", op_feedback_list, &a);
}

/* ---- summary ---------------------------------------------------------- */

/* Names sort by bytes (COLLATE "C"), as SQLite's BINARY collation does. */
#define RANGE                                                                  \
    " created_ms >= $1 AND created_ms < $2"                                    \
    " AND ($3::text IS NULL OR environment = $3)"

static const char totals_sql[]
    = "SELECT COUNT(*), COALESCE(AVG(sentiment), 0),"
      " COUNT(*) FILTER (WHERE sentiment < -0.05),"
      " COUNT(*) FILTER (WHERE sentiment >= -0.05 AND sentiment <= 0.05),"
      " COUNT(*) FILTER (WHERE sentiment > 0.05)"
      " FROM feedback WHERE" RANGE;

static const char categories_sql[]
    = "SELECT category, COUNT(*) AS n, AVG(sentiment) FROM feedback"
      " WHERE" RANGE " GROUP BY category"
      " ORDER BY n DESC, category COLLATE \"C\"";

static const char targets_sql[]
    = "SELECT t, COUNT(*) AS n, AVG(sentiment) FROM ("
      " SELECT 'feature:' || feature AS t, sentiment FROM feedback"
      "  WHERE feature IS NOT NULL AND" RANGE " UNION ALL"
      " SELECT 'endpoint:' || endpoint, sentiment FROM feedback"
      "  WHERE endpoint IS NOT NULL AND" RANGE
      ") s GROUP BY t ORDER BY n DESC, t COLLATE \"C\" LIMIT 20";

/* The Monday of the ISO week, in UTC. */
static const char trends_sql[]
    = "SELECT to_char(date_trunc('week', to_timestamp(created_ms / 1000.0)"
      " AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week, category, COUNT(*),"
      " AVG(sentiment) FROM feedback WHERE" RANGE
      " GROUP BY week, category ORDER BY week, category COLLATE \"C\"";

/* Feature requests have no environment of their own ($3 unused). */
static const char requests_sql[]
    = "SELECT (SELECT COUNT(*) FROM feature_requests"
      "  WHERE created_ms >= $1 AND created_ms < $2),"
      " (SELECT COUNT(*) FROM fr_votes"
      "  WHERE created_ms >= $1 AND created_ms < $2),"
      " (SELECT COUNT(*) FROM fr_history WHERE previous_status IS NOT NULL"
      "  AND at_ms >= $1 AND at_ms < $2)";

struct summary_arg {
    int64_t from_ms, to_ms;
    const char *environment;
    struct tlm__feedback_summary *out;
};

static PGresult *
summary_query(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *sql,
    const struct summary_arg *a, bool env, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_int8(&p, a->from_ms);
    tlm__pg_int8(&p, a->to_ms);
    if (env)
        tlm__pg_cstr(&p, a->environment);
    return tlm__pg_rows(st, c, sql, &p, err, n);
}

/* Rows of (name, count, mean) into a new array. */
static int
read_groups(const PGresult *r, struct tlm__feedback_group **groups, size_t *len,
    char *err, size_t n)
{
    int rows = PQntuples(r);
    if (rows == 0)
        return 0;
    *groups = calloc((size_t)rows, sizeof(**groups));
    if (*groups == NULL)
        return oom(err, n);
    for (int i = 0; i < rows; i++) {
        struct tlm__feedback_group *g = &(*groups)[*len];
        g->name = tlm__pg_dup(r, i, 0);
        if (g->name == NULL)
            return oom(err, n);
        g->count = get_double(r, i, 1);
        g->mean_sentiment = get_double(r, i, 2);
        (*len)++;
    }
    return 0;
}

static int
read_trends(
    const PGresult *r, struct tlm__feedback_summary *out, char *err, size_t n)
{
    int rows = PQntuples(r);
    if (rows == 0)
        return 0;
    out->trends = calloc((size_t)rows, sizeof(*out->trends));
    if (out->trends == NULL)
        return oom(err, n);
    for (int i = 0; i < rows; i++) {
        struct tlm__feedback_trend *t = &out->trends[out->n_trends];
        copy_text(r, i, 0, t->week, sizeof(t->week));
        t->category = tlm__pg_dup(r, i, 1);
        if (t->category == NULL)
            return oom(err, n);
        t->count = get_double(r, i, 2);
        t->mean_sentiment = get_double(r, i, 3);
        out->n_trends++;
    }
    return 0;
}

static int
op_summary(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct summary_arg *a = arg;
    struct tlm__feedback_summary *out = a->out;
    PGresult *r;
    int rc = 0;
    (void)retry;
    tlm__feedback_summary_free(out);
    /* One snapshot: all figures describe the same rows. */
    if (tlm__pg_command(
            st, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, n)
        != 0)
        return -1;
    if ((r = summary_query(st, c, totals_sql, a, true, err, n)) == NULL)
        return -1;
    if (PQntuples(r) == 1) {
        out->total = get_double(r, 0, 0);
        out->mean_sentiment = get_double(r, 0, 1);
        out->negative = get_double(r, 0, 2);
        out->neutral = get_double(r, 0, 3);
        out->positive = get_double(r, 0, 4);
    }
    PQclear(r);
    if ((r = summary_query(st, c, categories_sql, a, true, err, n)) == NULL)
        return -1;
    rc = read_groups(r, &out->categories, &out->n_categories, err, n);
    PQclear(r);
    if (rc != 0
        || (r = summary_query(st, c, targets_sql, a, true, err, n)) == NULL)
        return -1;
    rc = read_groups(r, &out->targets, &out->n_targets, err, n);
    PQclear(r);
    if (rc != 0
        || (r = summary_query(st, c, trends_sql, a, true, err, n)) == NULL)
        return -1;
    rc = read_trends(r, out, err, n);
    PQclear(r);
    if (rc != 0
        || (r = summary_query(st, c, requests_sql, a, false, err, n)) == NULL)
        return -1;
    if (PQntuples(r) == 1) {
        out->requests_new = get_double(r, 0, 0);
        out->votes = get_double(r, 0, 1);
        out->status_changes = get_double(r, 0, 2);
    }
    PQclear(r);
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

int
tlm__pg_feedback_summary(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, struct tlm__feedback_summary *out)
{
    struct summary_arg a = {from_ms, to_ms, environment, out};
    int rc = tlm__pg_run(
        (struct tlm__pg_store *)base, "feedback summary", op_summary, &a);
    if (rc != 0)
        tlm__feedback_summary_free(out);
    return rc;
}

/* ---- outbox ----------------------------------------------------------- */

struct claim_arg {
    int64_t now_ms, lease_ms;
    size_t max;
    struct tlm__outbox_row *rows;
    size_t n;
};

/* Due deliveries that no other server holds: SKIP LOCKED passes over rows
 * a concurrent claim is leasing, and the lease keeps them from the next
 * claims until it ends (or the attempt is recorded). */
static int
op_outbox_claim(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct claim_arg *a = arg;
    struct tlm__pg_params p = {0};
    (void)retry;
    tlm__outbox_rows_free(a->rows, a->n);
    a->n = 0;
    a->rows = calloc(a->max, sizeof(*a->rows));
    if (a->rows == NULL)
        return oom(err, n);
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    tlm__pg_int8(&p, a->now_ms);
    tlm__pg_int8(&p, (int64_t)a->max);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT id, type, body, attempts FROM outbox"
        " WHERE state = 'pending' AND next_attempt_ms <= $1"
        " AND lease_until_ms <= $1 ORDER BY next_attempt_ms LIMIT $2"
        " FOR UPDATE SKIP LOCKED",
        &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r) && a->n < a->max; i++) {
        struct tlm__outbox_row *o = &a->rows[a->n];
        copy_text(r, i, 0, o->id, sizeof(o->id));
        copy_text(r, i, 1, o->type, sizeof(o->type));
        o->body = tlm__pg_dup(r, i, 2);
        if (o->body == NULL) {
            PQclear(r);
            return oom(err, n);
        }
        o->body_len = strlen(o->body);
        o->attempts = (unsigned)tlm__pg_int(r, i, 3);
        a->n++;
    }
    PQclear(r);
    for (size_t i = 0; i < a->n; i++) {
        struct tlm__pg_params u = {0};
        tlm__pg_cstr(&u, a->rows[i].id);
        tlm__pg_int8(&u, a->now_ms + a->lease_ms);
        if (tlm__pg_changes(st, c,
                "UPDATE outbox SET lease_until_ms = $2 WHERE id = $1", &u, err,
                n)
            < 0)
            return -1;
    }
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

int
tlm__pg_outbox_claim(struct tlm__store *base, int64_t now_ms, int64_t lease_ms,
    size_t max, struct tlm__outbox_row **rows, size_t *n)
{
    struct claim_arg a = {now_ms, lease_ms, max, NULL, 0};
    int rc;
    if (max == 0)
        return 0;
    rc = tlm__pg_run(
        (struct tlm__pg_store *)base, "outbox claim", op_outbox_claim, &a);
    if (rc != 0 || a.n == 0) {
        tlm__outbox_rows_free(a.rows, a.n);
        a.rows = NULL;
        a.n = 0;
    }
    *rows = a.rows;
    *n = a.n;
    return rc;
}

static int
op_outbox_record(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    const struct tlm__outbox_attempt *a = arg;
    struct tlm__pg_params p = {0}, u = {0};
    (void)retry;
    tlm__pg_cstr(&p, a->id);
    tlm__pg_int8(&p, a->attempt);
    if (a->http_status > 0)
        tlm__pg_int8(&p, a->http_status);
    else
        tlm__pg_bytes(&p, TLM_PG_INT8, NULL, 0);
    tlm__pg_cstr(&p, a->error);
    tlm__pg_int8(&p, a->at_ms);
    tlm__pg_bool(&p, a->delivered);
    tlm__pg_bool(&p, a->gave_up);
    if (!a->delivered && !a->gave_up)
        tlm__pg_int8(&p, a->next_attempt_ms);
    else
        tlm__pg_bytes(&p, TLM_PG_INT8, NULL, 0);
    tlm__pg_cstr(&u, a->id);
    tlm__pg_int8(&u, a->attempt);
    tlm__pg_int8(&u, a->next_attempt_ms);
    tlm__pg_cstr(&u,
        a->delivered     ? "delivered"
            : a->gave_up ? "failed"
                         : "pending");
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0
        || tlm__pg_changes(st, c,
               "INSERT INTO deliveries (delivery_id, type, attempt,"
               " http_status, error, at_ms, delivered, gave_up,"
               " next_attempt_ms)"
               " SELECT $1, type, $2, $3, $4, $5, $6, $7, $8 FROM outbox"
               " WHERE id = $1",
               &p, err, n)
            < 0
        || tlm__pg_changes(st, c,
               "UPDATE outbox SET attempts = $2, lease_until_ms = 0,"
               " next_attempt_ms = $3, state = $4 WHERE id = $1",
               &u, err, n)
            < 0)
        return -1;
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

int
tlm__pg_outbox_record(
    struct tlm__store *base, const struct tlm__outbox_attempt *a)
{
    return tlm__pg_run((struct tlm__pg_store *)base, "outbox record",
        op_outbox_record, (void *)a);
}

struct deliveries_arg {
    size_t limit;
    int64_t before;
    tlm__event_visit_fn visit;
    void *ctx;
    int64_t *next_cursor;
};

/* One delivery log row as the JSON object the admin API lists. */
static char *
delivery_json(const PGresult *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    char *text;
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "delivery_id", PQgetvalue(r, i, 1));
    cJSON_AddStringToObject(o, "type", PQgetvalue(r, i, 2));
    cJSON_AddNumberToObject(o, "attempt", (double)tlm__pg_int(r, i, 3));
    if (PQgetisnull(r, i, 4))
        cJSON_AddNullToObject(o, "http_status");
    else
        cJSON_AddNumberToObject(o, "http_status", (double)tlm__pg_int(r, i, 4));
    if (PQgetisnull(r, i, 5))
        cJSON_AddNullToObject(o, "error");
    else
        cJSON_AddStringToObject(o, "error", PQgetvalue(r, i, 5));
    cJSON_AddNumberToObject(o, "at_ms", (double)tlm__pg_int(r, i, 6));
    cJSON_AddBoolToObject(o, "delivered", PQgetvalue(r, i, 7)[0] == 't');
    cJSON_AddBoolToObject(o, "gave_up", PQgetvalue(r, i, 8)[0] == 't');
    if (PQgetisnull(r, i, 9))
        cJSON_AddNullToObject(o, "next_attempt_ms");
    else
        cJSON_AddNumberToObject(
            o, "next_attempt_ms", (double)tlm__pg_int(r, i, 9));
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int
op_deliveries(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct deliveries_arg *a = arg;
    struct tlm__pg_params p = {0};
    size_t seen = 0;
    int64_t last = 0;
    (void)retry;
    tlm__pg_int8(&p, a->before);
    tlm__pg_int8(&p, (int64_t)a->limit + 1);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT seq, delivery_id, type, attempt, http_status, error, at_ms,"
        " delivered, gave_up, next_attempt_ms FROM deliveries"
        " WHERE ($1 = 0 OR seq < $1) ORDER BY seq DESC LIMIT $2",
        &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        if (seen == a->limit) {
            *a->next_cursor = last;
            break;
        }
        last = tlm__pg_int(r, i, 0);
        char *text = delivery_json(r, i);
        int v = text != NULL ? a->visit(a->ctx, text, strlen(text)) : -1;
        free(text);
        if (v != 0)
            break;
        seen++;
    }
    PQclear(r);
    return 0;
}

int
tlm__pg_deliveries_list(struct tlm__store *base, size_t limit, int64_t before,
    tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor)
{
    struct deliveries_arg a = {limit, before, visit, ctx, next_cursor};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "deliveries list", op_deliveries, &a);
}
