/* SQLite backend, feedback: rows with their answer document, idempotency
 * keys, the weekly summary for the dashboard, and the webhook outbox with
 * its delivery log. Writes run on the writer connection under its lock in
 * one IMMEDIATE transaction each; reads on the reader connection. */
#include "store_sqlite.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_TARGETS 20

static void
log_error(sqlite3 *db, const char *what)
{
    fprintf(stderr, "telemetry-server: sqlite %s failed: %s\n", what,
        sqlite3_errmsg(db));
}

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

static void
bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static int
exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int
tlm__sqlite_idem_find(
    sqlite3 *db, const char *org, const char *key, char id[TLM_FB_ID_MAX])
{
    sqlite3_stmt *s = prep(db,
        "SELECT resource_id FROM idempotency"
        " WHERE organization = ?1 AND key = ?2");
    int rc = -1, step;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(id, TLM_FB_ID_MAX, "%s", t != NULL ? (const char *)t : "");
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    }
    sqlite3_finalize(s);
    return rc;
}

int
tlm__sqlite_idem_put(sqlite3 *db, const char *org, const char *key,
    const char *kind, const char *id, int64_t now_ms)
{
    sqlite3_stmt *s = prep(db,
        "INSERT INTO idempotency(organization, key, kind, resource_id,"
        " created_ms) VALUES(?1, ?2, ?3, ?4, ?5)");
    int rc = -1;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now_ms);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

int
tlm__sqlite_outbox_put(
    sqlite3 *db, const struct tlm__outbox_item *it, int64_t now_ms)
{
    sqlite3_stmt *s = prep(db,
        "INSERT INTO outbox(id, type, body, created_ms, next_attempt_ms)"
        " VALUES(?1, ?2, ?3, ?4, ?4)");
    int rc;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, it->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, it->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, it->body, (int)it->body_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now_ms);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

static char *
column_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t != NULL ? strdup((const char *)t) : NULL;
}

/* The stored document of feedback id; 0, 1 (none) or -1. */
static int
doc_of(sqlite3 *db, const char *id, const char *org, char **doc)
{
    sqlite3_stmt *s = prep(db,
        "SELECT doc FROM feedback WHERE id = ?1"
        " AND (?2 IS NULL OR organization = ?2)");
    int rc = -1, step;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    bind_opt(s, 2, org);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *doc = column_dup(s, 0);
        rc = *doc != NULL ? 0 : -1;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    }
    sqlite3_finalize(s);
    return rc;
}

static int
insert_row(sqlite3 *db, const struct tlm__feedback_row *r)
{
    sqlite3_stmt *s = prep(db,
        "INSERT INTO feedback(id, organization, type, category, sentiment,"
        " rating, feature, endpoint, environment, created_ms, doc)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    int rc;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->organization, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->feedback_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->category, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 5, r->sentiment);
    if (r->rating > 0)
        sqlite3_bind_int(s, 6, r->rating);
    else
        sqlite3_bind_null(s, 6);
    bind_opt(s, 7, r->feature);
    bind_opt(s, 8, r->endpoint);
    sqlite3_bind_text(s, 9, r->environment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, r->created_ms);
    sqlite3_bind_text(s, 11, r->doc, (int)r->doc_len, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

int
tlm__sqlite_feedback_insert(struct tlm__store *base,
    const struct tlm__feedback_row *r, const char *idem_key,
    const struct tlm__outbox_item *out, size_t n_out, char **existing)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    char prior[TLM_FB_ID_MAX];
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    if (exec(st->wdb, "BEGIN IMMEDIATE") != 0)
        goto out;
    if (idem_key != NULL) {
        int f
            = tlm__sqlite_idem_find(st->wdb, r->organization, idem_key, prior);
        if (f < 0)
            goto rollback;
        if (f == 0) {
            rc = doc_of(st->wdb, prior, NULL, existing) == 0 ? TLM_FR_REPLAY
                                                             : -1;
            goto rollback; /* nothing written */
        }
        if (tlm__sqlite_idem_put(st->wdb, r->organization, idem_key, "feedback",
                r->id, r->created_ms)
            != 0)
            goto rollback;
    }
    if (insert_row(st->wdb, r) != 0)
        goto rollback;
    for (size_t i = 0; i < n_out; i++) {
        if (tlm__sqlite_outbox_put(st->wdb, &out[i], r->created_ms) != 0)
            goto rollback;
    }
    if (exec(st->wdb, "COMMIT") != 0)
        goto rollback;
    rc = 0;
    goto out;
rollback:
    if (rc < 0)
        log_error(st->wdb, "feedback insert");
    exec(st->wdb, "ROLLBACK");
out:
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

int
tlm__sqlite_feedback_get(struct tlm__store *base, const char *id,
    const char *organization, char **doc)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    int rc;
    pthread_mutex_lock(&st->rlock);
    rc = doc_of(st->rdb, id, organization, doc);
    if (rc < 0)
        log_error(st->rdb, "feedback get");
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

int
tlm__sqlite_feedback_list(struct tlm__store *base,
    const struct tlm__feedback_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s;
    int rc = -1, step;
    size_t n = 0;
    int64_t last = 0;
    pthread_mutex_lock(&st->rlock);
    s = prep(st->rdb,
        "SELECT seq, doc FROM feedback WHERE"
        " (?1 IS NULL OR organization = ?1) AND (?2 IS NULL OR type = ?2)"
        " AND (?3 IS NULL OR category = ?3) AND (?4 IS NULL OR feature = ?4)"
        " AND (?5 IS NULL OR endpoint = ?5)"
        " AND (?6 IS NULL OR environment = ?6)"
        " AND (?7 IS NULL OR sentiment >= ?7)"
        " AND (?8 IS NULL OR sentiment <= ?8)"
        " AND (?9 = 0 OR created_ms >= ?9) AND (?10 = 0 OR created_ms < ?10)"
        " AND (?11 = 0 OR seq < ?11)"
        " ORDER BY seq DESC LIMIT ?12");
    if (s == NULL)
        goto out;
    bind_opt(s, 1, q->organization);
    bind_opt(s, 2, q->type);
    bind_opt(s, 3, q->category);
    bind_opt(s, 4, q->feature);
    bind_opt(s, 5, q->endpoint);
    bind_opt(s, 6, q->environment);
    if (q->has_min_sentiment)
        sqlite3_bind_double(s, 7, q->min_sentiment);
    if (q->has_max_sentiment)
        sqlite3_bind_double(s, 8, q->max_sentiment);
    sqlite3_bind_int64(s, 9, q->from_ms);
    sqlite3_bind_int64(s, 10, q->to_ms);
    sqlite3_bind_int64(s, 11, q->before);
    sqlite3_bind_int64(s, 12, (int64_t)q->limit + 1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == q->limit) {
            *next_cursor = last;
            break;
        }
        last = sqlite3_column_int64(s, 0);
        const char *doc = (const char *)sqlite3_column_text(s, 1);
        if (visit(ctx, doc != NULL ? doc : "{}",
                (size_t)sqlite3_column_bytes(s, 1))
            != 0)
            break;
        n++;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
out:
    if (rc < 0)
        log_error(st->rdb, "feedback list");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

/* Appends rows of (name, count, mean) to *groups. */
static int
read_groups(sqlite3_stmt *s, struct tlm__feedback_group **groups, size_t *n)
{
    int step;
    size_t cap = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 16;
            struct tlm__feedback_group *p
                = realloc(*groups, ncap * sizeof(**groups));
            if (p == NULL)
                return -1;
            *groups = p;
            cap = ncap;
        }
        struct tlm__feedback_group *g = &(*groups)[*n];
        g->name = column_dup(s, 0);
        if (g->name == NULL)
            return -1;
        g->count = sqlite3_column_double(s, 1);
        g->mean_sentiment = sqlite3_column_double(s, 2);
        (*n)++;
    }
    return step == SQLITE_DONE ? 0 : -1;
}

static void
bind_range(sqlite3_stmt *s, int64_t from, int64_t to, const char *env)
{
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    bind_opt(s, 3, env);
}

#define RANGE                                                                  \
    " created_ms >= ?1 AND created_ms < ?2"                                    \
    " AND (?3 IS NULL OR environment = ?3)"

static int
summary_totals(sqlite3 *db, int64_t from, int64_t to, const char *env,
    struct tlm__feedback_summary *out)
{
    sqlite3_stmt *s = prep(db,
        "SELECT COUNT(*), COALESCE(AVG(sentiment), 0),"
        " COALESCE(SUM(sentiment < -0.05), 0),"
        " COALESCE(SUM(sentiment >= -0.05 AND sentiment <= 0.05), 0),"
        " COALESCE(SUM(sentiment > 0.05), 0)"
        " FROM feedback WHERE" RANGE);
    int rc = -1;
    if (s == NULL)
        return -1;
    bind_range(s, from, to, env);
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->total = sqlite3_column_double(s, 0);
        out->mean_sentiment = sqlite3_column_double(s, 1);
        out->negative = sqlite3_column_double(s, 2);
        out->neutral = sqlite3_column_double(s, 3);
        out->positive = sqlite3_column_double(s, 4);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int
summary_trends(sqlite3 *db, int64_t from, int64_t to, const char *env,
    struct tlm__feedback_summary *out)
{
    /* 'weekday 0' moves to the next Sunday (or stays on one): minus six
     * days is the Monday of that ISO week. */
    sqlite3_stmt *s = prep(db,
        "SELECT date(created_ms / 1000, 'unixepoch', 'weekday 0',"
        " '-6 days') AS week, category, COUNT(*), AVG(sentiment)"
        " FROM feedback WHERE" RANGE
        " GROUP BY week, category ORDER BY week, category");
    int step;
    size_t cap = 0;
    if (s == NULL)
        return -1;
    bind_range(s, from, to, env);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n_trends == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 16;
            struct tlm__feedback_trend *p
                = realloc(out->trends, ncap * sizeof(*p));
            if (p == NULL)
                break;
            out->trends = p;
            cap = ncap;
        }
        struct tlm__feedback_trend *t = &out->trends[out->n_trends];
        const unsigned char *w = sqlite3_column_text(s, 0);
        snprintf(
            t->week, sizeof(t->week), "%s", w != NULL ? (const char *)w : "");
        t->category = column_dup(s, 1);
        if (t->category == NULL)
            break;
        t->count = sqlite3_column_double(s, 2);
        t->mean_sentiment = sqlite3_column_double(s, 3);
        out->n_trends++;
    }
    sqlite3_finalize(s);
    return step == SQLITE_DONE ? 0 : -1;
}

static int
summary_requests(sqlite3 *db, int64_t from, int64_t to, const char *env,
    struct tlm__feedback_summary *out)
{
    /* Feature requests have no environment of their own. */
    sqlite3_stmt *s = prep(db,
        "SELECT (SELECT COUNT(*) FROM feature_requests"
        "  WHERE created_ms >= ?1 AND created_ms < ?2),"
        " (SELECT COUNT(*) FROM fr_votes"
        "  WHERE created_ms >= ?1 AND created_ms < ?2),"
        " (SELECT COUNT(*) FROM fr_history WHERE previous_status IS NOT NULL"
        "  AND at_ms >= ?1 AND at_ms < ?2)");
    int rc = -1;
    (void)env;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->requests_new = sqlite3_column_double(s, 0);
        out->votes = sqlite3_column_double(s, 1);
        out->status_changes = sqlite3_column_double(s, 2);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

int
tlm__sqlite_feedback_summary(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, struct tlm__feedback_summary *out)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *cat = NULL, *tgt = NULL;
    int rc = -1;
    pthread_mutex_lock(&st->rlock);
    if (summary_totals(st->rdb, from_ms, to_ms, environment, out) != 0)
        goto out;
    cat = prep(st->rdb,
        "SELECT category, COUNT(*) AS n, AVG(sentiment) FROM feedback"
        " WHERE" RANGE " GROUP BY category ORDER BY n DESC, category");
    tgt = prep(st->rdb,
        "SELECT t, COUNT(*) AS n, AVG(sentiment) FROM ("
        " SELECT 'feature:' || feature AS t, sentiment FROM feedback"
        "  WHERE feature IS NOT NULL AND" RANGE " UNION ALL"
        " SELECT 'endpoint:' || endpoint, sentiment FROM feedback"
        "  WHERE endpoint IS NOT NULL AND" RANGE
        ") GROUP BY t ORDER BY n DESC, t LIMIT 20");
    if (cat == NULL || tgt == NULL)
        goto out;
    bind_range(cat, from_ms, to_ms, environment);
    bind_range(tgt, from_ms, to_ms, environment);
    if (read_groups(cat, &out->categories, &out->n_categories) != 0
        || read_groups(tgt, &out->targets, &out->n_targets) != 0
        || summary_trends(st->rdb, from_ms, to_ms, environment, out) != 0
        || summary_requests(st->rdb, from_ms, to_ms, environment, out) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        log_error(st->rdb, "feedback summary");
        tlm__feedback_summary_free(out);
    }
    sqlite3_finalize(cat);
    sqlite3_finalize(tgt);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

int
tlm__sqlite_outbox_claim(struct tlm__store *base, int64_t now_ms,
    int64_t lease_ms, size_t max, struct tlm__outbox_row **rows, size_t *n)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL, *u = NULL;
    struct tlm__outbox_row *out = NULL;
    size_t len = 0;
    int rc = -1, step;
    if (max == 0)
        return 0;
    out = calloc(max, sizeof(*out));
    if (out == NULL)
        return -1;
    pthread_mutex_lock(&st->wlock);
    if (exec(st->wdb, "BEGIN IMMEDIATE") != 0)
        goto unlock;
    s = prep(st->wdb,
        "SELECT id, type, body, attempts FROM outbox"
        " WHERE state = 'pending' AND next_attempt_ms <= ?1"
        " AND lease_until_ms <= ?1 ORDER BY next_attempt_ms LIMIT ?2");
    u = prep(st->wdb, "UPDATE outbox SET lease_until_ms = ?2 WHERE id = ?1");
    if (s == NULL || u == NULL)
        goto rollback;
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int64(s, 2, (int64_t)max);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct tlm__outbox_row *r = &out[len];
        const unsigned char *id = sqlite3_column_text(s, 0);
        const unsigned char *type = sqlite3_column_text(s, 1);
        snprintf(r->id, sizeof(r->id), "%s", id ? (const char *)id : "");
        snprintf(
            r->type, sizeof(r->type), "%s", type ? (const char *)type : "");
        r->body = column_dup(s, 2);
        if (r->body == NULL)
            goto rollback;
        r->body_len = strlen(r->body);
        r->attempts = (unsigned)sqlite3_column_int(s, 3);
        len++;
    }
    if (step != SQLITE_DONE)
        goto rollback;
    for (size_t i = 0; i < len; i++) {
        sqlite3_reset(u);
        sqlite3_bind_text(u, 1, out[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u, 2, now_ms + lease_ms);
        if (sqlite3_step(u) != SQLITE_DONE)
            goto rollback;
    }
    if (exec(st->wdb, "COMMIT") != 0)
        goto rollback;
    rc = 0;
    goto unlock;
rollback:
    log_error(st->wdb, "outbox claim");
    exec(st->wdb, "ROLLBACK");
unlock:
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    pthread_mutex_unlock(&st->wlock);
    if (rc != 0 || len == 0) {
        tlm__outbox_rows_free(out, len);
        out = NULL;
        len = 0;
    }
    *rows = out;
    *n = len;
    return rc;
}

int
tlm__sqlite_outbox_record(
    struct tlm__store *base, const struct tlm__outbox_attempt *a)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL, *u = NULL;
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    if (exec(st->wdb, "BEGIN IMMEDIATE") != 0)
        goto unlock;
    s = prep(st->wdb,
        "INSERT INTO deliveries(delivery_id, type, attempt, http_status,"
        " error, at_ms, delivered, gave_up, next_attempt_ms)"
        " SELECT ?1, type, ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM outbox"
        " WHERE id = ?1");
    u = prep(st->wdb,
        "UPDATE outbox SET attempts = ?2, lease_until_ms = 0,"
        " next_attempt_ms = ?3, state = ?4 WHERE id = ?1");
    if (s == NULL || u == NULL)
        goto rollback;
    sqlite3_bind_text(s, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)a->attempt);
    if (a->http_status > 0)
        sqlite3_bind_int64(s, 3, a->http_status);
    bind_opt(s, 4, a->error);
    sqlite3_bind_int64(s, 5, a->at_ms);
    sqlite3_bind_int(s, 6, a->delivered ? 1 : 0);
    sqlite3_bind_int(s, 7, a->gave_up ? 1 : 0);
    if (!a->delivered && !a->gave_up)
        sqlite3_bind_int64(s, 8, a->next_attempt_ms);
    sqlite3_bind_text(u, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(u, 2, (int)a->attempt);
    sqlite3_bind_int64(u, 3, a->next_attempt_ms);
    sqlite3_bind_text(u, 4,
        a->delivered     ? "delivered"
            : a->gave_up ? "failed"
                         : "pending",
        -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE || sqlite3_step(u) != SQLITE_DONE
        || exec(st->wdb, "COMMIT") != 0)
        goto rollback;
    rc = 0;
    goto unlock;
rollback:
    log_error(st->wdb, "outbox record");
    exec(st->wdb, "ROLLBACK");
unlock:
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

int
tlm__sqlite_deliveries_list(struct tlm__store *base, size_t limit,
    int64_t before, tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s;
    int rc = -1, step;
    size_t n = 0;
    int64_t last = 0;
    pthread_mutex_lock(&st->rlock);
    s = prep(st->rdb,
        "SELECT seq, delivery_id, type, attempt, http_status, error, at_ms,"
        " delivered, gave_up, next_attempt_ms FROM deliveries"
        " WHERE (?1 = 0 OR seq < ?1) ORDER BY seq DESC LIMIT ?2");
    if (s == NULL)
        goto out;
    sqlite3_bind_int64(s, 1, before);
    sqlite3_bind_int64(s, 2, (int64_t)limit + 1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == limit) {
            *next_cursor = last;
            break;
        }
        last = sqlite3_column_int64(s, 0);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(
            o, "delivery_id", (const char *)sqlite3_column_text(s, 1));
        cJSON_AddStringToObject(
            o, "type", (const char *)sqlite3_column_text(s, 2));
        cJSON_AddNumberToObject(o, "attempt", sqlite3_column_int(s, 3));
        if (sqlite3_column_type(s, 4) == SQLITE_NULL)
            cJSON_AddNullToObject(o, "http_status");
        else
            cJSON_AddNumberToObject(
                o, "http_status", (double)sqlite3_column_int64(s, 4));
        if (sqlite3_column_type(s, 5) == SQLITE_NULL)
            cJSON_AddNullToObject(o, "error");
        else
            cJSON_AddStringToObject(
                o, "error", (const char *)sqlite3_column_text(s, 5));
        cJSON_AddNumberToObject(o, "at_ms", (double)sqlite3_column_int64(s, 6));
        cJSON_AddBoolToObject(o, "delivered", sqlite3_column_int(s, 7));
        cJSON_AddBoolToObject(o, "gave_up", sqlite3_column_int(s, 8));
        if (sqlite3_column_type(s, 9) == SQLITE_NULL)
            cJSON_AddNullToObject(o, "next_attempt_ms");
        else
            cJSON_AddNumberToObject(
                o, "next_attempt_ms", (double)sqlite3_column_int64(s, 9));
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        int v = text != NULL ? visit(ctx, text, strlen(text)) : -1;
        free(text);
        if (v != 0)
            break;
        n++;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
out:
    if (rc < 0)
        log_error(st->rdb, "deliveries list");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}
