/* PostgreSQL backend, feature requests: rows, votes (one per user, counted
 * on the row in the same transaction), status history, merges, comments
 * and the per-voter notifications of a status change; the same outcomes as
 * store_sqlite_fr.c for the same calls. Several servers may share the
 * database: a vote, a status change and a comment lock the request row
 * (SELECT ... FOR UPDATE) first, so they apply one after the other. Lists
 * page by keyset cursors "k1.k2.seq" over (sort key, tie-break, seq). */
#include "store_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEEK_MS (7LL * 24 * 3600 * 1000)
#define MERGE_HOPS 8

static int
oom(char *err, size_t n)
{
    snprintf(err, n, "out of memory");
    return -1;
}

/* A deadlock between two servers' row locks (or a serialization failure)
 * runs the whole transaction once more. */
static int
again_if_deadlock(const struct tlm__pg_conn *c, int rc, bool *retry)
{
    if (rc < 0
        && (strcmp(c->sqlstate, "40P01") == 0
            || strcmp(c->sqlstate, "40001") == 0))
        *retry = true;
    return rc;
}

static int
history_put(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *id,
    const char *status, const char *previous, const char *reason, int64_t at_ms,
    char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, id);
    tlm__pg_cstr(&p, status);
    tlm__pg_cstr(&p, previous);
    tlm__pg_cstr(&p, reason);
    tlm__pg_int8(&p, at_ms);
    return tlm__pg_changes(st, c,
               "INSERT INTO fr_history (request_id, status, previous_status,"
               " reason, at_ms) VALUES ($1, $2, $3, $4, $5)",
               &p, err, n)
            == 1
        ? 0
        : -1;
}

/* ---- insert ----------------------------------------------------------- */

struct insert_arg {
    const struct tlm__fr *r;
    const char *idem_key;
    char *existing_id;
};

static int
op_fr_insert(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct insert_arg *a = arg;
    const struct tlm__fr *r = a->r;
    struct tlm__pg_params p = {0};
    (void)retry;
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    if (a->idem_key != NULL) {
        int f = tlm__pg_idem_claim(st, c, r->organization, a->idem_key,
            "feature_request", r->id, r->created_ms, a->existing_id, err, n);
        if (f != 0)
            return f < 0 ? -1 : TLM_FR_REPLAY; /* rolled back */
    }
    tlm__pg_cstr(&p, r->id);
    tlm__pg_cstr(&p, r->organization);
    tlm__pg_cstr(&p, r->title);
    tlm__pg_cstr(&p, r->description != NULL ? r->description : "");
    tlm__pg_cstr(&p, r->use_case != NULL ? r->use_case : "");
    tlm__pg_cstr(&p, r->user_id);
    tlm__pg_int8(&p, r->created_ms);
    if (tlm__pg_changes(st, c,
            "INSERT INTO feature_requests (id, organization, title,"
            " description, use_case, status, user_id, created_ms, updated_ms)"
            " VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $7, $7)",
            &p, err, n)
            != 1
        || history_put(
               st, c, r->id, "submitted", NULL, NULL, r->created_ms, err, n)
            != 0)
        return -1;
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

int
tlm__pg_fr_insert(struct tlm__store *base, const struct tlm__fr *r,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX])
{
    struct insert_arg a = {r, idem_key, existing_id};
    return tlm__pg_run((struct tlm__pg_store *)base, "feature request insert",
        op_fr_insert, &a);
}

/* ---- reads ------------------------------------------------------------ */

#define FR_COLS                                                                \
    "id, organization, title, description, use_case, status, merged_into,"     \
    " user_id, votes, comments, created_ms, updated_ms, seq"

/* Row i of FR_COLS (plus recent votes at column 13 when present). */
static int
read_fr(const PGresult *res, int i, struct tlm__fr *r, int64_t *seq)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, i, 0));
    r->organization = tlm__pg_dup(res, i, 1);
    r->title = tlm__pg_dup(res, i, 2);
    r->description = tlm__pg_dup(res, i, 3);
    r->use_case = tlm__pg_dup(res, i, 4);
    r->status = tlm__pg_dup(res, i, 5);
    r->merged_into = tlm__pg_dup(res, i, 6);
    r->user_id = tlm__pg_dup(res, i, 7);
    r->votes = tlm__pg_int(res, i, 8);
    r->comments = tlm__pg_int(res, i, 9);
    r->created_ms = tlm__pg_int(res, i, 10);
    r->updated_ms = tlm__pg_int(res, i, 11);
    if (seq != NULL)
        *seq = tlm__pg_int(res, i, 12);
    if (PQnfields(res) > 13)
        r->recent_votes = tlm__pg_int(res, i, 13);
    if (r->organization == NULL || r->title == NULL || r->status == NULL) {
        tlm__fr_clear(r);
        return -1;
    }
    return 0;
}

static int
read_history(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *id,
    struct tlm__fr_history **out, size_t *len, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, id);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT status, previous_status, reason, at_ms FROM fr_history"
        " WHERE request_id = $1 ORDER BY seq",
        &p, err, n);
    int rows, rc = 0;
    if (r == NULL)
        return -1;
    rows = PQntuples(r);
    if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL)
        rc = oom(err, n);
    for (int i = 0; rc == 0 && i < rows; i++) {
        struct tlm__fr_history *h = &(*out)[*len];
        h->status = tlm__pg_dup(r, i, 0);
        h->previous_status = tlm__pg_dup(r, i, 1);
        h->reason = tlm__pg_dup(r, i, 2);
        h->at_ms = tlm__pg_int(r, i, 3);
        (*len)++;
        if (h->status == NULL)
            rc = oom(err, n);
    }
    PQclear(r);
    return rc;
}

struct get_arg {
    const char *id;
    const char *organization;
    struct tlm__fr *out;
    struct tlm__fr_history **history;
    size_t *n_history;
};

static int
op_fr_get(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct get_arg *a = arg;
    struct tlm__pg_params p = {0};
    int rc;
    (void)retry;
    /* One snapshot: the row and its history agree. */
    if (tlm__pg_command(
            st, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, n)
        != 0)
        return -1;
    tlm__pg_cstr(&p, a->id);
    tlm__pg_cstr(&p, a->organization);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT " FR_COLS " FROM feature_requests WHERE id = $1"
        " AND ($2::text IS NULL OR organization = $2)",
        &p, err, n);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return TLM_FR_NOT_FOUND;
    }
    rc = read_fr(r, 0, a->out, NULL) == 0 ? 0 : oom(err, n);
    PQclear(r);
    if (rc == 0 && a->history != NULL
        && read_history(st, c, a->id, a->history, a->n_history, err, n) != 0) {
        tlm__fr_clear(a->out);
        tlm__fr_history_free(*a->history, *a->n_history);
        *a->history = NULL;
        *a->n_history = 0;
        rc = -1;
    }
    if (rc == 0 && tlm__pg_command(st, c, "COMMIT", err, n) != 0) {
        tlm__fr_clear(a->out);
        if (a->history != NULL) {
            tlm__fr_history_free(*a->history, *a->n_history);
            *a->history = NULL;
            *a->n_history = 0;
        }
        rc = -1;
    }
    return rc;
}

int
tlm__pg_fr_get(struct tlm__store *base, const char *id,
    const char *organization, struct tlm__fr *out,
    struct tlm__fr_history **history, size_t *n_history)
{
    struct get_arg a = {id, organization, out, history, n_history};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "feature request get", op_fr_get, &a);
}

/* ",a,b," for strpos() matching, or NULL for any status. */
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

/* k1, k2 per sort: votes (votes, 0), recent (0, 0: seq alone), trending
 * (votes of the last 7 days, votes). */
static const char list_sql[]
    = "SELECT " FR_COLS ", recent, k1, k2 FROM ("
      " SELECT " FR_COLS ", recent,"
      "  CASE $3 WHEN 0 THEN votes WHEN 1 THEN 0 ELSE recent END AS k1,"
      "  CASE $3 WHEN 2 THEN votes ELSE 0 END AS k2 FROM ("
      "   SELECT f.*, (SELECT COUNT(*) FROM fr_votes v"
      "    WHERE v.request_id = f.id AND v.created_ms >= $4) AS recent"
      "   FROM feature_requests f WHERE ($1::text IS NULL"
      "   OR organization = $1) AND ($2::text IS NULL"
      "   OR strpos($2, ',' || status || ',') > 0)) a) b"
      " WHERE NOT $5 OR (k1, k2, seq) < ($6, $7, $8)"
      " ORDER BY k1 DESC, k2 DESC, seq DESC LIMIT $9";

struct list_arg {
    const struct tlm__fr_query *q;
    const char *set;
    bool has_cursor;
    int64_t c1, c2, cseq;
    struct tlm__fr *rows;
    size_t n;
    char *next_cursor;
};

static void
list_reset(struct list_arg *a)
{
    for (size_t i = 0; i < a->n; i++)
        tlm__fr_clear(&a->rows[i]);
    a->n = 0;
    free(a->next_cursor);
    a->next_cursor = NULL;
}

static int
op_fr_list(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct list_arg *a = arg;
    const struct tlm__fr_query *q = a->q;
    struct tlm__pg_params p = {0};
    int64_t k1 = 0, k2 = 0, seq = 0;
    int rc = 0;
    (void)retry;
    list_reset(a);
    tlm__pg_cstr(&p, q->organization);
    tlm__pg_cstr(&p, a->set);
    tlm__pg_int8(&p, (int64_t)q->sort);
    tlm__pg_int8(&p, q->now_ms - WEEK_MS);
    tlm__pg_bool(&p, a->has_cursor);
    tlm__pg_int8(&p, a->c1);
    tlm__pg_int8(&p, a->c2);
    tlm__pg_int8(&p, a->cseq);
    tlm__pg_int8(&p, (int64_t)q->limit + 1);
    PGresult *r = tlm__pg_rows(st, c, list_sql, &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        if (a->n == q->limit) {
            char buf[80];
            snprintf(buf, sizeof(buf), "%" PRId64 ".%" PRId64 ".%" PRId64, k1,
                k2, seq);
            a->next_cursor = strdup(buf);
            if (a->next_cursor == NULL)
                rc = oom(err, n);
            break;
        }
        if (read_fr(r, i, &a->rows[a->n], &seq) != 0) {
            rc = oom(err, n);
            break;
        }
        k1 = tlm__pg_int(r, i, 14);
        k2 = tlm__pg_int(r, i, 15);
        a->n++;
    }
    PQclear(r);
    return rc;
}

int
tlm__pg_fr_list(struct tlm__store *base, const struct tlm__fr_query *q,
    struct tlm__fr **rows, size_t *n, char **next_cursor)
{
    struct list_arg a = {.q = q};
    int rc;
    if (q->cursor != NULL) {
        if (sscanf(q->cursor, "%" SCNd64 ".%" SCNd64 ".%" SCNd64, &a.c1, &a.c2,
                &a.cseq)
            != 3)
            return TLM_FR_CONFLICT; /* a malformed cursor */
        a.has_cursor = true;
    }
    char *set = status_set(q);
    if (q->n_statuses > 0 && set == NULL)
        return -1;
    a.set = set;
    a.rows = calloc(q->limit > 0 ? q->limit : 1, sizeof(*a.rows));
    if (a.rows == NULL) {
        free(set);
        return -1;
    }
    rc = tlm__pg_run(
        (struct tlm__pg_store *)base, "feature request list", op_fr_list, &a);
    free(set);
    if (rc != 0) {
        list_reset(&a);
        free(a.rows);
        a.rows = NULL;
    }
    *rows = a.rows;
    *n = a.n;
    *next_cursor = a.next_cursor;
    return rc;
}

/* ---- votes ------------------------------------------------------------ */

/* Follows merged_into from id (in org) to the request that takes votes,
 * locking every row on the way: its id and status. 0, TLM_FR_NOT_FOUND or
 * -1. */
static int
resolve(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *id,
    const char *org, char out[TLM_FB_ID_MAX], char *status, size_t status_size,
    char *err, size_t n)
{
    int rc = TLM_FR_NOT_FOUND;
    snprintf(out, TLM_FB_ID_MAX, "%s", id);
    for (int hop = 0; hop < MERGE_HOPS; hop++) {
        struct tlm__pg_params p = {0};
        tlm__pg_cstr(&p, out);
        tlm__pg_cstr(&p, org);
        PGresult *r = tlm__pg_rows(st, c,
            "SELECT status, merged_into FROM feature_requests WHERE id = $1"
            " AND ($2::text IS NULL OR organization = $2) FOR UPDATE",
            &p, err, n);
        if (r == NULL)
            return -1;
        if (PQntuples(r) == 0) {
            PQclear(r);
            return TLM_FR_NOT_FOUND;
        }
        snprintf(status, status_size, "%s", PQgetvalue(r, 0, 0));
        rc = 0;
        bool last = PQgetisnull(r, 0, 1);
        if (!last)
            snprintf(out, TLM_FB_ID_MAX, "%s", PQgetvalue(r, 0, 1));
        PQclear(r);
        if (last)
            break;
    }
    return rc;
}

static bool
closed(const char *status)
{
    return strcmp(status, "completed") == 0 || strcmp(status, "declined") == 0;
}

struct vote_arg {
    const char *id;
    const char *organization;
    const char *user_id;
    bool add;
    int64_t now_ms;
    struct tlm__fr_vote_result *res;
};

static int
vote(struct tlm__pg_store *st, struct tlm__pg_conn *c, struct vote_arg *a,
    char *err, size_t n)
{
    struct tlm__fr_vote_result *res = a->res;
    struct tlm__pg_params p = {0}, q = {0};
    int rc;
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    rc = resolve(st, c, a->id, a->organization, res->id, res->status,
        sizeof(res->status), err, n);
    if (rc != 0)
        return rc;
    if (closed(res->status))
        return TLM_FR_CLOSED;
    tlm__pg_cstr(&p, res->id);
    tlm__pg_cstr(&p, a->user_id);
    if (a->add)
        tlm__pg_int8(&p, a->now_ms);
    int64_t changed = tlm__pg_changes(st, c,
        a->add ? "INSERT INTO fr_votes (request_id, user_id, created_ms)"
                 " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
               : "DELETE FROM fr_votes WHERE request_id = $1 AND user_id = $2",
        &p, err, n);
    if (changed < 0)
        return -1;
    tlm__pg_cstr(&q, res->id);
    if (changed > 0
        && tlm__pg_changes(st, c,
               a->add ? "UPDATE feature_requests SET votes = votes + 1"
                        " WHERE id = $1"
                      : "UPDATE feature_requests SET votes = votes - 1"
                        " WHERE id = $1",
               &q, err, n)
            != 1)
        return -1;
    PGresult *r = tlm__pg_rows(
        st, c, "SELECT votes FROM feature_requests WHERE id = $1", &q, err, n);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1 ? 0 : -1;
    if (rc == 0)
        res->votes = tlm__pg_int(r, 0, 0);
    else
        snprintf(err, n, "feature request %s vanished", res->id);
    PQclear(r);
    if (rc != 0)
        return -1;
    res->voted = a->add;
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

static int
op_fr_vote(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    return again_if_deadlock(c, vote(st, c, arg, err, n), retry);
}

int
tlm__pg_fr_vote(struct tlm__store *base, const char *id,
    const char *organization, const char *user_id, bool add, int64_t now_ms,
    struct tlm__fr_vote_result *res)
{
    struct vote_arg a = {id, organization, user_id, add, now_ms, res};
    return tlm__pg_run((struct tlm__pg_store *)base, "vote", op_fr_vote, &a);
}

/* ---- status ----------------------------------------------------------- */

/* A notifications row per voter (oldest vote first) and, when the change
 * has a notify callback, an outbox delivery per voter it builds one for. */
static int
notify_voters(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__fr_status_change *ch, const char *previous, char *err,
    size_t n)
{
    struct tlm__pg_params p = {0};
    int rc = 0;
    tlm__pg_cstr(&p, ch->id);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT user_id FROM fr_votes WHERE request_id = $1"
        " ORDER BY created_ms, user_id COLLATE \"C\"",
        &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *user = PQgetvalue(r, i, 0);
        struct tlm__outbox_item it = {.type = "feature_request.status_changed"};
        struct tlm__pg_params q = {0};
        char *body = NULL;
        if (ch->notify != NULL) {
            body = ch->notify(ch->notify_ctx, user, it.id);
            if (body != NULL) {
                it.body = body;
                it.body_len = strlen(body);
                rc = tlm__pg_outbox_put(st, c, &it, ch->now_ms, err, n);
            }
        }
        tlm__pg_cstr(&q, ch->id);
        tlm__pg_cstr(&q, user);
        tlm__pg_cstr(&q, ch->to);
        tlm__pg_cstr(&q, previous);
        tlm__pg_int8(&q, ch->now_ms);
        tlm__pg_cstr(&q, body != NULL ? it.id : NULL);
        if (rc == 0
            && tlm__pg_changes(st, c,
                   "INSERT INTO notifications (request_id, user_id, status,"
                   " previous_status, created_ms, delivery_id)"
                   " VALUES ($1, $2, $3, $4, $5, $6)",
                   &q, err, n)
                != 1)
            rc = -1;
        free(body);
    }
    PQclear(r);
    return rc;
}

/* Moves the votes of dup to into (one per user) and recounts both. */
static int
move_votes(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *dup,
    const char *into, char *err, size_t n)
{
    struct tlm__pg_params p = {0}, one = {0};
    tlm__pg_cstr(&p, dup);
    tlm__pg_cstr(&p, into);
    tlm__pg_cstr(&one, dup);
    if (tlm__pg_changes(st, c,
            "INSERT INTO fr_votes (request_id, user_id, created_ms)"
            " SELECT $2, user_id, created_ms FROM fr_votes"
            " WHERE request_id = $1 ON CONFLICT DO NOTHING",
            &p, err, n)
            < 0
        || tlm__pg_changes(st, c, "DELETE FROM fr_votes WHERE request_id = $1",
               &one, err, n)
            < 0
        || tlm__pg_changes(st, c,
               "UPDATE feature_requests SET votes = (SELECT COUNT(*) FROM"
               " fr_votes WHERE request_id = feature_requests.id)"
               " WHERE id IN ($1, $2)",
               &p, err, n)
            < 0)
        return -1;
    return 0;
}

static int
set_status(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__fr_status_change *ch, char *err, size_t n)
{
    struct tlm__pg_params p = {0}, u = {0};
    char current[24], target[TLM_FB_ID_MAX], tstatus[24];
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    tlm__pg_cstr(&p, ch->id);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT status FROM feature_requests WHERE id = $1 FOR UPDATE", &p, err,
        n);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return TLM_FR_NOT_FOUND;
    }
    snprintf(current, sizeof(current), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (ch->from != NULL && strcmp(current, ch->from) != 0)
        return TLM_FR_CONFLICT;
    if (ch->merged_into != NULL) {
        int rc = resolve(st, c, ch->merged_into, NULL, target, tstatus,
            sizeof(tstatus), err, n);
        if (rc != 0)
            return rc;
        if (strcmp(target, ch->id) == 0)
            return TLM_FR_CONFLICT;
    }
    /* Voters hear of it before a merge moves them. */
    if ((ch->record_notifications || ch->notify != NULL)
        && notify_voters(st, c, ch, current, err, n) != 0)
        return -1;
    if (ch->merged_into != NULL
        && move_votes(st, c, ch->id, target, err, n) != 0)
        return -1;
    tlm__pg_cstr(&u, ch->id);
    tlm__pg_cstr(&u, ch->to);
    tlm__pg_int8(&u, ch->now_ms);
    tlm__pg_cstr(&u, ch->merged_into != NULL ? target : NULL);
    if (tlm__pg_changes(st, c,
            "UPDATE feature_requests SET status = $2, updated_ms = $3,"
            " merged_into = COALESCE($4, merged_into) WHERE id = $1",
            &u, err, n)
            < 0
        || history_put(
               st, c, ch->id, ch->to, current, ch->reason, ch->now_ms, err, n)
            != 0)
        return -1;
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

static int
op_fr_set_status(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    return again_if_deadlock(c, set_status(st, c, arg, err, n), retry);
}

int
tlm__pg_fr_set_status(
    struct tlm__store *base, const struct tlm__fr_status_change *ch)
{
    return tlm__pg_run((struct tlm__pg_store *)base, "feature request status",
        op_fr_set_status, (void *)ch);
}

/* ---- comments --------------------------------------------------------- */

struct comment_arg {
    const char *request_id;
    const char *organization;
    const struct tlm__fr_comment *c;
    const char *idem_key;
    char *existing_id;
};

static int
comment_insert(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    struct comment_arg *a, char *err, size_t n)
{
    struct tlm__pg_params p = {0}, q = {0}, one = {0};
    char org[TLM_KEY_ATTR_MAX];
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    tlm__pg_cstr(&p, a->request_id);
    tlm__pg_cstr(&p, a->organization);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT organization FROM feature_requests WHERE id = $1"
        " AND ($2::text IS NULL OR organization = $2) FOR UPDATE",
        &p, err, n);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return TLM_FR_NOT_FOUND;
    }
    snprintf(org, sizeof(org), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (a->idem_key != NULL) {
        int f = tlm__pg_idem_claim(st, c, org, a->idem_key, "comment", a->c->id,
            a->c->created_ms, a->existing_id, err, n);
        if (f != 0)
            return f < 0 ? -1 : TLM_FR_REPLAY;
    }
    tlm__pg_cstr(&q, a->c->id);
    tlm__pg_cstr(&q, a->request_id);
    tlm__pg_cstr(&q, a->c->body);
    tlm__pg_cstr(&q, a->c->author);
    tlm__pg_cstr(&q, a->c->user_id);
    tlm__pg_int8(&q, a->c->created_ms);
    tlm__pg_cstr(&one, a->request_id);
    if (tlm__pg_changes(st, c,
            "INSERT INTO fr_comments (id, request_id, body, author, user_id,"
            " created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            &q, err, n)
            != 1
        || tlm__pg_changes(st, c,
               "UPDATE feature_requests SET comments = comments + 1"
               " WHERE id = $1",
               &one, err, n)
            != 1)
        return -1;
    return tlm__pg_command(st, c, "COMMIT", err, n);
}

static int
op_comment_insert(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    return again_if_deadlock(c, comment_insert(st, c, arg, err, n), retry);
}

int
tlm__pg_fr_comment_insert(struct tlm__store *base, const char *request_id,
    const char *organization, const struct tlm__fr_comment *c,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX])
{
    struct comment_arg a = {request_id, organization, c, idem_key, existing_id};
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "comment insert", op_comment_insert, &a);
}

struct comment_list_arg {
    const char *request_id;
    const char *organization;
    int64_t after;
    size_t limit;
    struct tlm__fr_comment *rows;
    size_t n;
    int64_t *next_cursor;
};

static int
op_comment_list(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct comment_list_arg *a = arg;
    struct tlm__pg_params p = {0}, q = {0};
    int64_t last = 0;
    int rc = 0;
    (void)retry;
    for (size_t i = 0; i < a->n; i++) {
        free(a->rows[i].body);
        free(a->rows[i].author);
        free(a->rows[i].user_id);
    }
    memset(a->rows, 0, (a->limit > 0 ? a->limit : 1) * sizeof(*a->rows));
    a->n = 0;
    tlm__pg_cstr(&p, a->request_id);
    tlm__pg_cstr(&p, a->organization);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT 1 FROM feature_requests WHERE id = $1"
        " AND ($2::text IS NULL OR organization = $2)",
        &p, err, n);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) > 0 ? 0 : TLM_FR_NOT_FOUND;
    PQclear(r);
    if (rc != 0)
        return rc;
    tlm__pg_cstr(&q, a->request_id);
    tlm__pg_int8(&q, a->after);
    tlm__pg_int8(&q, (int64_t)a->limit + 1);
    r = tlm__pg_rows(st, c,
        "SELECT seq, id, body, author, user_id, created_ms FROM fr_comments"
        " WHERE request_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        &q, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        if (a->n == a->limit) {
            *a->next_cursor = last;
            break;
        }
        struct tlm__fr_comment *cm = &a->rows[a->n];
        last = tlm__pg_int(r, i, 0);
        snprintf(cm->id, sizeof(cm->id), "%s", PQgetvalue(r, i, 1));
        cm->body = tlm__pg_dup(r, i, 2);
        cm->author = tlm__pg_dup(r, i, 3);
        cm->user_id = tlm__pg_dup(r, i, 4);
        cm->created_ms = tlm__pg_int(r, i, 5);
        a->n++;
        if (cm->body == NULL) {
            rc = oom(err, n);
            break;
        }
    }
    PQclear(r);
    return rc;
}

int
tlm__pg_fr_comment_list(struct tlm__store *base, const char *request_id,
    const char *organization, int64_t after, size_t limit,
    struct tlm__fr_comment **rows, size_t *n, int64_t *next_cursor)
{
    struct comment_list_arg a
        = {request_id, organization, after, limit, NULL, 0, next_cursor};
    int rc;
    a.rows = calloc(limit > 0 ? limit : 1, sizeof(*a.rows));
    if (a.rows == NULL)
        return -1;
    rc = tlm__pg_run(
        (struct tlm__pg_store *)base, "comment list", op_comment_list, &a);
    if (rc != 0) {
        tlm__fr_comments_free(a.rows, a.n);
        a.rows = NULL;
        a.n = 0;
    }
    *rows = a.rows;
    *n = a.n;
    return rc;
}
