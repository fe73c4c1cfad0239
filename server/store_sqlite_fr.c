/* SQLite backend, feature requests: rows, votes (one per user, counted on
 * the row in the same transaction), status history, merges, comments and
 * the per-voter notifications of a status change. Lists page by keyset
 * cursors "k1.k2.seq" over (sort key, tie-break, seq), so a page never
 * repeats or skips a row that did not move. */
#include "store_sqlite.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEEK_MS (7LL * 24 * 3600 * 1000)
#define MERGE_HOPS 8

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

static char *
column_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t != NULL ? strdup((const char *)t) : NULL;
}

static int
history_put(sqlite3 *db, const char *id, const char *status,
    const char *previous, const char *reason, int64_t at_ms)
{
    sqlite3_stmt *s = prep(db,
        "INSERT INTO fr_history(request_id, status, previous_status, reason,"
        " at_ms) VALUES(?1, ?2, ?3, ?4, ?5)");
    int rc;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
    bind_opt(s, 3, previous);
    bind_opt(s, 4, reason);
    sqlite3_bind_int64(s, 5, at_ms);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

int
tlm__sqlite_fr_insert(struct tlm__store *base, const struct tlm__fr *r,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX])
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    if (exec(st->wdb, "BEGIN IMMEDIATE") != 0)
        goto out;
    if (idem_key != NULL) {
        int f = tlm__sqlite_idem_find(
            st->wdb, r->organization, idem_key, existing_id);
        if (f < 0)
            goto rollback;
        if (f == 0) {
            rc = TLM_FR_REPLAY;
            goto rollback;
        }
        if (tlm__sqlite_idem_put(st->wdb, r->organization, idem_key,
                "feature_request", r->id, r->created_ms)
            != 0)
            goto rollback;
    }
    s = prep(st->wdb,
        "INSERT INTO feature_requests(id, organization, title, description,"
        " use_case, status, user_id, created_ms, updated_ms)"
        " VALUES(?1, ?2, ?3, ?4, ?5, 'submitted', ?6, ?7, ?7)");
    if (s == NULL)
        goto rollback;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->organization, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(
        s, 4, r->description ? r->description : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->use_case ? r->use_case : "", -1, SQLITE_STATIC);
    bind_opt(s, 6, r->user_id);
    sqlite3_bind_int64(s, 7, r->created_ms);
    if (sqlite3_step(s) != SQLITE_DONE
        || history_put(st->wdb, r->id, "submitted", NULL, NULL, r->created_ms)
            != 0
        || exec(st->wdb, "COMMIT") != 0)
        goto rollback;
    rc = 0;
    goto out;
rollback:
    if (rc < 0)
        log_error(st->wdb, "feature request insert");
    exec(st->wdb, "ROLLBACK");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

#define FR_COLS                                                                \
    "id, organization, title, description, use_case, status, merged_into,"     \
    " user_id, votes, comments, created_ms, updated_ms, seq"

/* One row of FR_COLS (plus recent votes at column 13 when present). */
static int
read_fr(sqlite3_stmt *s, struct tlm__fr *r, int64_t *seq)
{
    const unsigned char *id = sqlite3_column_text(s, 0);
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id ? (const char *)id : "");
    r->organization = column_dup(s, 1);
    r->title = column_dup(s, 2);
    r->description = column_dup(s, 3);
    r->use_case = column_dup(s, 4);
    r->status = column_dup(s, 5);
    r->merged_into = column_dup(s, 6);
    r->user_id = column_dup(s, 7);
    r->votes = sqlite3_column_int64(s, 8);
    r->comments = sqlite3_column_int64(s, 9);
    r->created_ms = sqlite3_column_int64(s, 10);
    r->updated_ms = sqlite3_column_int64(s, 11);
    if (seq != NULL)
        *seq = sqlite3_column_int64(s, 12);
    if (sqlite3_column_count(s) > 13)
        r->recent_votes = sqlite3_column_int64(s, 13);
    if (r->organization == NULL || r->title == NULL || r->status == NULL) {
        tlm__fr_clear(r);
        return -1;
    }
    return 0;
}

static int
read_history(
    sqlite3 *db, const char *id, struct tlm__fr_history **out, size_t *n)
{
    sqlite3_stmt *s = prep(db,
        "SELECT status, previous_status, reason, at_ms FROM fr_history"
        " WHERE request_id = ?1 ORDER BY seq");
    size_t cap = 0;
    int step;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 8;
            struct tlm__fr_history *p = realloc(*out, ncap * sizeof(*p));
            if (p == NULL)
                break;
            *out = p;
            cap = ncap;
        }
        struct tlm__fr_history *h = &(*out)[*n];
        h->status = column_dup(s, 0);
        h->previous_status = column_dup(s, 1);
        h->reason = column_dup(s, 2);
        h->at_ms = sqlite3_column_int64(s, 3);
        (*n)++;
        if (h->status == NULL)
            break;
    }
    sqlite3_finalize(s);
    return step == SQLITE_DONE ? 0 : -1;
}

int
tlm__sqlite_fr_get(struct tlm__store *base, const char *id,
    const char *organization, struct tlm__fr *out,
    struct tlm__fr_history **history, size_t *n_history)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s;
    int rc = -1, step;
    pthread_mutex_lock(&st->rlock);
    s = prep(st->rdb,
        "SELECT " FR_COLS " FROM feature_requests WHERE id = ?1"
        " AND (?2 IS NULL OR organization = ?2)");
    if (s == NULL)
        goto out;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    bind_opt(s, 2, organization);
    step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = TLM_FR_NOT_FOUND;
    } else if (step == SQLITE_ROW && read_fr(s, out, NULL) == 0) {
        rc = 0;
        if (history != NULL
            && read_history(st->rdb, id, history, n_history) != 0) {
            tlm__fr_clear(out);
            tlm__fr_history_free(*history, *n_history);
            *history = NULL;
            *n_history = 0;
            rc = -1;
        }
    }
out:
    if (rc < 0)
        log_error(st->rdb, "feature request get");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

/* ",a,b," for instr() matching, or NULL for any status. */
static char *
status_set(const struct tlm__fr_query *q)
{
    size_t len = 2;
    char *s;
    if (q->statuses == NULL || q->n_statuses == 0)
        return NULL;
    for (size_t i = 0; i < q->n_statuses; i++)
        len += strlen(q->statuses[i]) + 1;
    s = malloc(len);
    if (s == NULL)
        return NULL;
    strcpy(s, ",");
    for (size_t i = 0; i < q->n_statuses; i++) {
        strcat(s, q->statuses[i]);
        strcat(s, ",");
    }
    return s;
}

int
tlm__sqlite_fr_list(struct tlm__store *base, const struct tlm__fr_query *q,
    struct tlm__fr **rows, size_t *n, char **next_cursor)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    struct tlm__fr *out = NULL;
    int64_t c1 = 0, c2 = 0, cseq = 0, k1 = 0, k2 = 0, seq = 0;
    bool has_cursor = false;
    char *set = status_set(q);
    size_t len = 0;
    int rc = -1, step;

    if (q->n_statuses > 0 && set == NULL)
        return -1;
    if (q->cursor != NULL) {
        if (sscanf(
                q->cursor, "%" SCNd64 ".%" SCNd64 ".%" SCNd64, &c1, &c2, &cseq)
            != 3) {
            free(set);
            return TLM_FR_CONFLICT; /* a malformed cursor */
        }
        has_cursor = true;
    }
    out = calloc(q->limit > 0 ? q->limit : 1, sizeof(*out));
    if (out == NULL) {
        free(set);
        return -1;
    }
    pthread_mutex_lock(&st->rlock);
    s = prep(st->rdb,
        "SELECT " FR_COLS ", recent, k1, k2 FROM ("
        " SELECT " FR_COLS ", recent,"
        "  CASE ?3 WHEN 0 THEN votes WHEN 1 THEN 0 ELSE recent END AS k1,"
        "  CASE ?3 WHEN 2 THEN votes ELSE 0 END AS k2 FROM ("
        "   SELECT f.*, (SELECT COUNT(*) FROM fr_votes v"
        "    WHERE v.request_id = f.id AND v.created_ms >= ?4) AS recent"
        "   FROM feature_requests f WHERE (?1 IS NULL OR organization = ?1)"
        "   AND (?2 IS NULL OR instr(?2, ',' || status || ',') > 0)))"
        " WHERE ?5 = 0 OR (k1, k2, seq) < (?6, ?7, ?8)"
        " ORDER BY k1 DESC, k2 DESC, seq DESC LIMIT ?9");
    if (s == NULL)
        goto out;
    bind_opt(s, 1, q->organization);
    bind_opt(s, 2, set);
    sqlite3_bind_int(s, 3, (int)q->sort);
    sqlite3_bind_int64(s, 4, q->now_ms - WEEK_MS);
    sqlite3_bind_int(s, 5, has_cursor ? 1 : 0);
    sqlite3_bind_int64(s, 6, c1);
    sqlite3_bind_int64(s, 7, c2);
    sqlite3_bind_int64(s, 8, cseq);
    sqlite3_bind_int64(s, 9, (int64_t)q->limit + 1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == q->limit) {
            char buf[80];
            snprintf(buf, sizeof(buf), "%" PRId64 ".%" PRId64 ".%" PRId64, k1,
                k2, seq);
            *next_cursor = strdup(buf);
            if (*next_cursor == NULL)
                goto out;
            break;
        }
        if (read_fr(s, &out[len], &seq) != 0)
            goto out;
        k1 = sqlite3_column_int64(s, 14);
        k2 = sqlite3_column_int64(s, 15);
        len++;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
out:
    if (rc != 0) {
        log_error(st->rdb, "feature request list");
        for (size_t i = 0; i < len; i++)
            tlm__fr_clear(&out[i]);
        free(out);
        out = NULL;
        len = 0;
        free(*next_cursor);
        *next_cursor = NULL;
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    free(set);
    *rows = out;
    *n = len;
    return rc;
}

/* Follows merged_into from id (in org) to the request that takes votes:
 * its id and status. 0, TLM_FR_NOT_FOUND or -1. */
static int
resolve(sqlite3 *db, const char *id, const char *org, char out[TLM_FB_ID_MAX],
    char *status, size_t status_size)
{
    sqlite3_stmt *s = prep(db,
        "SELECT status, merged_into FROM feature_requests WHERE id = ?1"
        " AND (?2 IS NULL OR organization = ?2)");
    int rc = TLM_FR_NOT_FOUND;
    if (s == NULL)
        return -1;
    snprintf(out, TLM_FB_ID_MAX, "%s", id);
    for (int hop = 0; hop < MERGE_HOPS; hop++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, out, -1, SQLITE_TRANSIENT);
        bind_opt(s, 2, org);
        int step = sqlite3_step(s);
        if (step != SQLITE_ROW) {
            rc = step == SQLITE_DONE ? TLM_FR_NOT_FOUND : -1;
            break;
        }
        const unsigned char *st = sqlite3_column_text(s, 0);
        const unsigned char *into = sqlite3_column_text(s, 1);
        snprintf(status, status_size, "%s", st ? (const char *)st : "");
        rc = 0;
        if (into == NULL)
            break;
        snprintf(out, TLM_FB_ID_MAX, "%s", (const char *)into);
    }
    sqlite3_finalize(s);
    return rc;
}

static int64_t
run_text2(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t c)
{
    sqlite3_stmt *s = prep(db, sql);
    int64_t rc = -1;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) >= 2)
        bind_opt(s, 2, b);
    if (sqlite3_bind_parameter_count(s) >= 3)
        sqlite3_bind_int64(s, 3, c);
    if (sqlite3_step(s) == SQLITE_DONE)
        rc = sqlite3_changes64(db);
    sqlite3_finalize(s);
    return rc;
}

static bool
closed(const char *status)
{
    return strcmp(status, "completed") == 0 || strcmp(status, "declined") == 0;
}

int
tlm__sqlite_fr_vote(struct tlm__store *base, const char *id,
    const char *organization, const char *user_id, bool add, int64_t now_ms,
    struct tlm__fr_vote_result *res)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    int64_t changed;
    pthread_mutex_lock(&st->wlock);
    if (exec(st->wdb, "BEGIN IMMEDIATE") != 0)
        goto out;
    rc = resolve(
        st->wdb, id, organization, res->id, res->status, sizeof(res->status));
    if (rc != 0)
        goto rollback;
    if (closed(res->status)) {
        rc = TLM_FR_CLOSED;
        goto rollback;
    }
    rc = -1;
    changed = run_text2(st->wdb,
        add ? "INSERT OR IGNORE INTO fr_votes(request_id, user_id,"
              " created_ms) VALUES(?1, ?2, ?3)"
            : "DELETE FROM fr_votes WHERE request_id = ?1 AND user_id = ?2",
        res->id, user_id, now_ms);
    if (changed < 0)
        goto rollback;
    if (changed > 0
        && run_text2(st->wdb,
               add ? "UPDATE feature_requests SET votes = votes + 1"
                     " WHERE id = ?1"
                   : "UPDATE feature_requests SET votes = votes - 1"
                     " WHERE id = ?1",
               res->id, NULL, 0)
            != 1)
        goto rollback;
    s = prep(st->wdb, "SELECT votes FROM feature_requests WHERE id = ?1");
    if (s == NULL)
        goto rollback;
    sqlite3_bind_text(s, 1, res->id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW)
        goto rollback;
    res->votes = sqlite3_column_int64(s, 0);
    res->voted = add;
    if (exec(st->wdb, "COMMIT") != 0)
        goto rollback;
    rc = 0;
    goto out;
rollback:
    if (rc < 0)
        log_error(st->wdb, "vote");
    exec(st->wdb, "ROLLBACK");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

/* The voters of id, for notifications; *users malloc'ed strings. */
static int
voters(sqlite3 *db, const char *id, char ***users, size_t *n)
{
    sqlite3_stmt *s = prep(db,
        "SELECT user_id FROM fr_votes WHERE request_id = ?1"
        " ORDER BY created_ms, user_id");
    size_t cap = 0;
    int step;
    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 16;
            char **p = realloc(*users, ncap * sizeof(*p));
            if (p == NULL)
                break;
            *users = p;
            cap = ncap;
        }
        (*users)[*n] = column_dup(s, 0);
        if ((*users)[*n] == NULL)
            break;
        (*n)++;
    }
    sqlite3_finalize(s);
    return step == SQLITE_DONE ? 0 : -1;
}

static int
notify_voters(
    sqlite3 *db, const struct tlm__fr_status_change *ch, const char *previous)
{
    char **users = NULL;
    size_t n = 0;
    int rc = voters(db, ch->id, &users, &n);
    sqlite3_stmt *s = prep(db,
        "INSERT INTO notifications(request_id, user_id, status,"
        " previous_status, created_ms, delivery_id)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (s == NULL)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct tlm__outbox_item it = {.type = "feature_request.status_changed"};
        char *body = NULL;
        if (ch->notify != NULL) {
            body = ch->notify(ch->notify_ctx, users[i], it.id);
            if (body != NULL) {
                it.body = body;
                it.body_len = strlen(body);
                rc = tlm__sqlite_outbox_put(db, &it, ch->now_ms);
            }
        }
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, ch->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, users[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, ch->to, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, previous, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, ch->now_ms);
        bind_opt(s, 6, body != NULL ? it.id : NULL);
        if (rc == 0 && sqlite3_step(s) != SQLITE_DONE)
            rc = -1;
        free(body);
    }
    sqlite3_finalize(s);
    for (size_t i = 0; i < n; i++)
        free(users[i]);
    free(users);
    return rc;
}

/* Moves the votes of dup to into (one per user) and recounts both. */
static int
move_votes(sqlite3 *db, const char *dup, const char *into)
{
    if (run_text2(db,
            "INSERT OR IGNORE INTO fr_votes(request_id, user_id, created_ms)"
            " SELECT ?2, user_id, created_ms FROM fr_votes"
            " WHERE request_id = ?1",
            dup, into, 0)
            < 0
        || run_text2(
               db, "DELETE FROM fr_votes WHERE request_id = ?1", dup, NULL, 0)
            < 0)
        return -1;
    return run_text2(db,
               "UPDATE feature_requests SET votes = (SELECT COUNT(*) FROM"
               " fr_votes WHERE request_id = feature_requests.id)"
               " WHERE id IN (?1, ?2)",
               dup, into, 0)
            < 0
        ? -1
        : 0;
}

int
tlm__sqlite_fr_set_status(
    struct tlm__store *base, const struct tlm__fr_status_change *ch)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    char current[24], target[TLM_FB_ID_MAX], tstatus[24];
    int rc = -1, step;
    pthread_mutex_lock(&st->wlock);
    if (exec(st->wdb, "BEGIN IMMEDIATE") != 0)
        goto out;
    s = prep(st->wdb, "SELECT status FROM feature_requests WHERE id = ?1");
    if (s == NULL)
        goto rollback;
    sqlite3_bind_text(s, 1, ch->id, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? TLM_FR_NOT_FOUND : -1;
        goto rollback;
    }
    snprintf(current, sizeof(current), "%s",
        (const char *)sqlite3_column_text(s, 0));
    if (ch->from != NULL && strcmp(current, ch->from) != 0) {
        rc = TLM_FR_CONFLICT;
        goto rollback;
    }
    if (ch->merged_into != NULL) {
        int r = resolve(
            st->wdb, ch->merged_into, NULL, target, tstatus, sizeof(tstatus));
        if (r != 0 || strcmp(target, ch->id) == 0) {
            rc = r != 0 ? r : TLM_FR_CONFLICT;
            goto rollback;
        }
    }
    /* Voters hear of it before a merge moves them. */
    if ((ch->record_notifications || ch->notify != NULL)
        && notify_voters(st->wdb, ch, current) != 0)
        goto rollback;
    if (ch->merged_into != NULL && move_votes(st->wdb, ch->id, target) != 0)
        goto rollback;
    sqlite3_finalize(s);
    s = prep(st->wdb,
        "UPDATE feature_requests SET status = ?2, updated_ms = ?3,"
        " merged_into = COALESCE(?4, merged_into) WHERE id = ?1");
    if (s == NULL)
        goto rollback;
    sqlite3_bind_text(s, 1, ch->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, ch->to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, ch->now_ms);
    bind_opt(s, 4, ch->merged_into != NULL ? target : NULL);
    if (sqlite3_step(s) != SQLITE_DONE
        || history_put(st->wdb, ch->id, ch->to, current, ch->reason, ch->now_ms)
            != 0
        || exec(st->wdb, "COMMIT") != 0)
        goto rollback;
    rc = 0;
    goto out;
rollback:
    if (rc < 0)
        log_error(st->wdb, "feature request status");
    exec(st->wdb, "ROLLBACK");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

int
tlm__sqlite_fr_comment_insert(struct tlm__store *base, const char *request_id,
    const char *organization, const struct tlm__fr_comment *c,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX])
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL;
    char org[TLM_KEY_ATTR_MAX];
    int rc = -1, step;
    pthread_mutex_lock(&st->wlock);
    if (exec(st->wdb, "BEGIN IMMEDIATE") != 0)
        goto out;
    s = prep(st->wdb,
        "SELECT organization FROM feature_requests WHERE id = ?1"
        " AND (?2 IS NULL OR organization = ?2)");
    if (s == NULL)
        goto rollback;
    sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
    bind_opt(s, 2, organization);
    step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? TLM_FR_NOT_FOUND : -1;
        goto rollback;
    }
    snprintf(org, sizeof(org), "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    s = NULL;
    if (idem_key != NULL) {
        int f = tlm__sqlite_idem_find(st->wdb, org, idem_key, existing_id);
        if (f < 0)
            goto rollback;
        if (f == 0) {
            rc = TLM_FR_REPLAY;
            goto rollback;
        }
        if (tlm__sqlite_idem_put(
                st->wdb, org, idem_key, "comment", c->id, c->created_ms)
            != 0)
            goto rollback;
    }
    s = prep(st->wdb,
        "INSERT INTO fr_comments(id, request_id, body, author, user_id,"
        " created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (s == NULL)
        goto rollback;
    sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, c->body, -1, SQLITE_STATIC);
    bind_opt(s, 4, c->author);
    bind_opt(s, 5, c->user_id);
    sqlite3_bind_int64(s, 6, c->created_ms);
    if (sqlite3_step(s) != SQLITE_DONE
        || run_text2(st->wdb,
               "UPDATE feature_requests SET comments = comments + 1"
               " WHERE id = ?1",
               request_id, NULL, 0)
            != 1
        || exec(st->wdb, "COMMIT") != 0)
        goto rollback;
    rc = 0;
    goto out;
rollback:
    if (rc < 0)
        log_error(st->wdb, "comment insert");
    exec(st->wdb, "ROLLBACK");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

int
tlm__sqlite_fr_comment_list(struct tlm__store *base, const char *request_id,
    const char *organization, int64_t after, size_t limit,
    struct tlm__fr_comment **rows, size_t *n, int64_t *next_cursor)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL, *e = NULL;
    struct tlm__fr_comment *out = NULL;
    size_t len = 0;
    int64_t last = 0;
    int rc = -1, step;
    out = calloc(limit > 0 ? limit : 1, sizeof(*out));
    if (out == NULL)
        return -1;
    pthread_mutex_lock(&st->rlock);
    e = prep(st->rdb,
        "SELECT 1 FROM feature_requests WHERE id = ?1"
        " AND (?2 IS NULL OR organization = ?2)");
    s = prep(st->rdb,
        "SELECT seq, id, body, author, user_id, created_ms FROM fr_comments"
        " WHERE request_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    if (e == NULL || s == NULL)
        goto out;
    sqlite3_bind_text(e, 1, request_id, -1, SQLITE_STATIC);
    bind_opt(e, 2, organization);
    step = sqlite3_step(e);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? TLM_FR_NOT_FOUND : -1;
        goto out;
    }
    sqlite3_bind_text(s, 1, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int64(s, 3, (int64_t)limit + 1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == limit) {
            *next_cursor = last;
            break;
        }
        struct tlm__fr_comment *c = &out[len];
        last = sqlite3_column_int64(s, 0);
        const unsigned char *id = sqlite3_column_text(s, 1);
        snprintf(c->id, sizeof(c->id), "%s", id ? (const char *)id : "");
        c->body = column_dup(s, 2);
        c->author = column_dup(s, 3);
        c->user_id = column_dup(s, 4);
        c->created_ms = sqlite3_column_int64(s, 5);
        len++;
        if (c->body == NULL)
            break;
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
out:
    if (rc < 0)
        log_error(st->rdb, "comment list");
    if (rc != 0) {
        tlm__fr_comments_free(out, len);
        out = NULL;
        len = 0;
    }
    sqlite3_finalize(e);
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    *rows = out;
    *n = len;
    return rc;
}
