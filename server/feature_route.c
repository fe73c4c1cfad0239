/* The feature-request routes: submit, list (votes, recent, trending;
 * status filter; keyset cursors), one request with its status history,
 * votes (one per user, idempotent, closed once completed or declined,
 * following merges), comments, and the admin workflow: status changes
 * along submitted -> under_review -> planned -> in_progress -> completed,
 * declined from any open state, reopening with a reason, and merges. A
 * status change records a notification per voter and, with a webhook,
 * queues one delivery per voter in the same transaction. */
#include "api.h"

#include "json_util.h"
#include "uuid.h"
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_SUBMITTED 0
#define STATUS_UNDER_REVIEW 1
#define STATUS_COMPLETED 4
#define STATUS_DECLINED 5

static bool
closed(const char *status)
{
    int i = tlm__fr_status_index(status);
    return i == STATUS_COMPLETED || i == STATUS_DECLINED;
}

static void
add_opt(cJSON *o, const char *name, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *
fr_json(const struct tlm__fr *r, const struct tlm__fr_history *h, size_t nh)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "id", r->id);
    add_opt(o, "title", r->title);
    cJSON_AddStringToObject(
        o, "description", r->description ? r->description : "");
    cJSON_AddStringToObject(o, "use_case", r->use_case ? r->use_case : "");
    add_opt(o, "status", r->status);
    cJSON_AddNumberToObject(o, "votes", (double)r->votes);
    cJSON_AddNumberToObject(o, "comments", (double)r->comments);
    cJSON_AddBoolToObject(o, "voting_open", !closed(r->status));
    add_opt(o, "merged_into", r->merged_into);
    cJSON_AddStringToObject(
        o, "organization", r->organization ? r->organization : "");
    cJSON_AddStringToObject(o, "created_at", tlm__api_time(r->created_ms));
    cJSON_AddStringToObject(o, "updated_at", tlm__api_time(r->updated_ms));
    if (h != NULL) {
        cJSON *a = cJSON_AddArrayToObject(o, "status_history");
        for (size_t i = 0; a != NULL && i < nh; i++) {
            cJSON *e = cJSON_CreateObject();
            add_opt(e, "status", h[i].status);
            add_opt(e, "previous_status", h[i].previous_status);
            add_opt(e, "reason", h[i].reason);
            cJSON_AddStringToObject(e, "at", tlm__api_time(h[i].at_ms));
            cJSON_AddItemToArray(a, e);
        }
    }
    return o;
}

/* Answers the request id with its history (status 200 or 201). */
static enum MHD_Result
answer_request(struct tlm__api_call *call, const char *id, unsigned status,
    const char *extra_name, const char *extra_value)
{
    struct tlm__fr r;
    struct tlm__fr_history *h = NULL;
    size_t nh = 0;
    int st = tlm__store_fr_get(
        call->api->store, id, call->organization, &r, &h, &nh);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such feature request", NULL);
    if (st != 0)
        return tlm__api_store_error(call);
    cJSON *o = fr_json(&r, h, nh);
    tlm__fr_clear(&r);
    tlm__fr_history_free(h, nh);
    return tlm__api_reply_ex(call, status, o, extra_name, extra_value);
}

static const char *
text_field(struct tlm__api_call *call, const char *name, size_t max,
    bool required, enum MHD_Result *rc, bool *failed)
{
    bool bad = false;
    const char *v = tlm__api_string(call->body, name, max, required, &bad);
    if (bad) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s: %s%zu bytes of text", name,
            required ? "required, 1.." : "at most ", max);
        *rc = tlm__api_error(call, MHD_HTTP_BAD_REQUEST, msg, name);
        *failed = true;
    }
    return v;
}

enum MHD_Result
tlm__fr_create(struct tlm__api_call *call)
{
    struct tlm__fr r;
    enum MHD_Result rc;
    bool failed = false;
    char existing[TLM_FB_ID_MAX];
    if (call->body == NULL)
        return tlm__api_error(
            call, MHD_HTTP_BAD_REQUEST, "body: expected a JSON object", NULL);
    memset(&r, 0, sizeof(r));
    const char *title
        = text_field(call, "title", TLM_FR_TITLE_MAX, true, &rc, &failed);
    if (failed)
        return rc;
    const char *desc
        = text_field(call, "description", TLM_FR_TEXT_MAX, false, &rc, &failed);
    if (failed)
        return rc;
    const char *use
        = text_field(call, "use_case", TLM_FR_TEXT_MAX, false, &rc, &failed);
    if (failed)
        return rc;
    const char *user
        = text_field(call, "user_id", TLM_USER_ID_MAX, false, &rc, &failed);
    if (failed)
        return rc;
    tlm__uuid7(r.id);
    r.organization = (char *)(call->organization ? call->organization : "");
    r.title = (char *)title;
    r.description = (char *)desc;
    r.use_case = (char *)use;
    r.user_id = (char *)user;
    r.created_ms = tlm__api_now_ms();
    int st
        = tlm__store_fr_insert(call->api->store, &r, call->idem_key, existing);
    if (st == TLM_FR_REPLAY)
        return answer_request(
            call, existing, MHD_HTTP_OK, "Idempotent-Replayed", "true");
    if (st != 0)
        return tlm__api_store_error(call);
    return answer_request(call, r.id, MHD_HTTP_CREATED, NULL, NULL);
}

enum MHD_Result
tlm__fr_get(struct tlm__api_call *call)
{
    return answer_request(call, call->id, MHD_HTTP_OK, NULL, NULL);
}

enum MHD_Result
tlm__fr_list(struct tlm__api_call *call)
{
    struct tlm__fr_query q;
    const char *statuses[6];
    char buf[128];
    const char *sort = tlm__api_arg(call, "sort");
    const char *status = tlm__api_arg(call, "status");
    const char *limit = tlm__api_arg(call, "limit");
    struct tlm__fr *rows = NULL;
    size_t n = 0;
    char *next = NULL;
    unsigned long lim = 20;

    memset(&q, 0, sizeof(q));
    if (sort == NULL || strcmp(sort, "votes") == 0)
        q.sort = TLM_FR_SORT_VOTES;
    else if (strcmp(sort, "recent") == 0)
        q.sort = TLM_FR_SORT_RECENT;
    else if (strcmp(sort, "trending") == 0)
        q.sort = TLM_FR_SORT_TRENDING;
    else
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "sort: expected votes, recent or trending", "sort");
    if (status != NULL) {
        if (strlen(status) >= sizeof(buf))
            return tlm__api_error(
                call, MHD_HTTP_BAD_REQUEST, "status: too long", "status");
        snprintf(buf, sizeof(buf), "%s", status);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t != NULL;
             t = strtok_r(NULL, ",", &save)) {
            int i = tlm__fr_status_index(t);
            if (i < 0 || q.n_statuses == 6)
                return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
                    "status: expected a comma-separated list of submitted, "
                    "under_review, planned, in_progress, completed, declined",
                    "status");
            statuses[q.n_statuses++] = tlm__fr_statuses[i];
        }
        q.statuses = statuses;
    }
    if (limit != NULL && tlm__parse_ulong(limit, 1, TLM_LIST_MAX, &lim) != 0)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "limit: expected an integer 1..100", "limit");
    q.limit = lim;
    q.now_ms = tlm__api_now_ms();
    q.cursor = tlm__api_arg(call, "cursor");
    q.organization
        = call->admin ? tlm__api_arg(call, "organization") : call->organization;
    int st = tlm__store_fr_list(call->api->store, &q, &rows, &n, &next);
    if (st == TLM_FR_CONFLICT)
        return tlm__api_error(
            call, MHD_HTTP_BAD_REQUEST, "cursor: not a cursor", "cursor");
    if (st != 0)
        return tlm__api_store_error(call);
    cJSON *o = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (size_t i = 0; i < n; i++) {
        cJSON *it = fr_json(&rows[i], NULL, 0);
        if (it != NULL && q.sort == TLM_FR_SORT_TRENDING)
            cJSON_AddNumberToObject(
                it, "recent_votes", (double)rows[i].recent_votes);
        cJSON_AddItemToArray(items, it);
        tlm__fr_clear(&rows[i]);
    }
    free(rows);
    add_opt(o, "next_cursor", next);
    free(next);
    return tlm__api_reply(call, MHD_HTTP_OK, o);
}

enum MHD_Result
tlm__fr_vote(struct tlm__api_call *call, bool add)
{
    struct tlm__fr_vote_result res;
    bool bad = false;
    const char *user
        = tlm__api_string(call->body, "user_id", TLM_USER_ID_MAX, true, &bad);
    if (user == NULL && !add) {
        bad = false;
        user = tlm__api_arg(call, "user_id");
        if (user == NULL || user[0] == '\0' || strlen(user) > TLM_USER_ID_MAX)
            bad = true;
    }
    if (bad || user == NULL)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "user_id: required, 1..128 bytes (the voter's anonymized id)",
            "user_id");
    if (call->api->cfg != NULL && call->api->cfg->voting_disabled)
        return tlm__api_error(call, MHD_HTTP_CONFLICT,
            "voting is disabled (feature_requests.voting_enabled)", NULL);
    int st = tlm__store_fr_vote(call->api->store, call->id, call->organization,
        user, add, tlm__api_now_ms(), &res);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such feature request", NULL);
    if (st == TLM_FR_CLOSED) {
        char msg[96];
        snprintf(msg, sizeof(msg), "voting is closed: the request is %s",
            res.status);
        return tlm__api_error(call, MHD_HTTP_CONFLICT, msg, NULL);
    }
    if (st != 0)
        return tlm__api_store_error(call);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", res.id);
    cJSON_AddNumberToObject(o, "votes", (double)res.votes);
    cJSON_AddBoolToObject(o, "voted", res.voted);
    return tlm__api_reply(call, MHD_HTTP_OK, o);
}

static cJSON *
comment_json(const struct tlm__fr_comment *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", c->id);
    add_opt(o, "body", c->body);
    add_opt(o, "author", c->author);
    cJSON_AddStringToObject(o, "created_at", tlm__api_time(c->created_ms));
    return o;
}

enum MHD_Result
tlm__fr_comment(struct tlm__api_call *call)
{
    struct tlm__fr_comment c;
    enum MHD_Result rc;
    bool failed = false;
    char existing[TLM_FB_ID_MAX];
    if (call->body == NULL)
        return tlm__api_error(
            call, MHD_HTTP_BAD_REQUEST, "body: expected a JSON object", NULL);
    memset(&c, 0, sizeof(c));
    c.body
        = (char *)text_field(call, "body", TLM_COMMENT_MAX, true, &rc, &failed);
    if (failed)
        return rc;
    c.author = (char *)text_field(call, "author", 128, false, &rc, &failed);
    if (failed)
        return rc;
    c.user_id = (char *)text_field(
        call, "user_id", TLM_USER_ID_MAX, false, &rc, &failed);
    if (failed)
        return rc;
    tlm__uuid7(c.id);
    c.created_ms = tlm__api_now_ms();
    int st = tlm__store_fr_comment_insert(call->api->store, call->id,
        call->organization, &c, call->idem_key, existing);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such feature request", NULL);
    if (st == TLM_FR_REPLAY) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", existing);
        return tlm__api_reply_ex(
            call, MHD_HTTP_OK, o, "Idempotent-Replayed", "true");
    }
    if (st != 0)
        return tlm__api_store_error(call);
    return tlm__api_reply(call, MHD_HTTP_CREATED, comment_json(&c));
}

enum MHD_Result
tlm__fr_comments(struct tlm__api_call *call)
{
    struct tlm__fr_comment *rows = NULL;
    size_t n = 0;
    int64_t next = 0;
    unsigned long lim = 50, after = 0;
    const char *l = tlm__api_arg(call, "limit");
    const char *c = tlm__api_arg(call, "cursor");
    if (l != NULL && tlm__parse_ulong(l, 1, TLM_LIST_MAX, &lim) != 0)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "limit: expected an integer 1..100", "limit");
    if (c != NULL
        && tlm__parse_ulong(c, 1, (unsigned long)INT64_MAX, &after) != 0)
        return tlm__api_error(
            call, MHD_HTTP_BAD_REQUEST, "cursor: not a cursor", "cursor");
    int st = tlm__store_fr_comment_list(call->api->store, call->id,
        call->organization, (int64_t)after, lim, &rows, &n, &next);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such feature request", NULL);
    if (st != 0)
        return tlm__api_store_error(call);
    cJSON *o = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, comment_json(&rows[i]));
    tlm__fr_comments_free(rows, n);
    if (next > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)next);
        cJSON_AddStringToObject(o, "next_cursor", buf);
    } else {
        cJSON_AddNullToObject(o, "next_cursor");
    }
    return tlm__api_reply(call, MHD_HTTP_OK, o);
}

/* The moves the workflow allows from status from (names into out). */
static size_t
allowed_moves(int from, const char *out[6])
{
    size_t n = 0;
    if (from == STATUS_COMPLETED || from == STATUS_DECLINED) {
        out[n++] = tlm__fr_statuses[STATUS_UNDER_REVIEW];
        return n;
    }
    for (int i = from + 1; i <= STATUS_DECLINED; i++)
        out[n++] = tlm__fr_statuses[i];
    return n;
}

struct notify_ctx {
    cJSON *fr; /* the request as it will be after the change */
    const char *previous;
    const char *reason;
};

static char *
notify_voter(void *ctx, const char *user_id, char delivery_id[TLM_FB_ID_MAX])
{
    struct notify_ctx *n = ctx;
    tlm__uuid7(delivery_id);
    return tlm__webhook_status_doc(
        n->fr, n->previous, n->reason, user_id, delivery_id, NULL);
}

/* Moves request call->id to status to (merged into into when not NULL). */
static enum MHD_Result
change_status(struct tlm__api_call *call, const char *to, const char *reason,
    const char *into)
{
    const struct tlm__api *api = call->api;
    struct tlm__fr cur;
    struct tlm__fr_status_change ch;
    struct notify_ctx nc;
    const char *moves[6];
    int st = tlm__store_fr_get(api->store, call->id, NULL, &cur, NULL, NULL);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such feature request", NULL);
    if (st != 0)
        return tlm__api_store_error(call);
    int from = tlm__fr_status_index(cur.status);
    int target = tlm__fr_status_index(to);
    size_t n = allowed_moves(from, moves);
    bool ok = false;
    for (size_t i = 0; i < n; i++)
        ok = ok || strcmp(moves[i], to) == 0;
    if (into != NULL && closed(cur.status))
        ok = false;
    if (!ok) {
        char msg[160];
        cJSON *o = cJSON_CreateObject();
        snprintf(
            msg, sizeof(msg), "status: %s cannot move to %s", cur.status, to);
        cJSON_AddStringToObject(o, "error", msg);
        cJSON_AddStringToObject(o, "field", "status");
        cJSON *a = cJSON_AddArrayToObject(o, "allowed");
        for (size_t i = 0; into == NULL && i < n; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(moves[i]));
        tlm__fr_clear(&cur);
        return tlm__api_reply(call, MHD_HTTP_CONFLICT, o);
    }
    if (closed(cur.status) && (reason == NULL || reason[0] == '\0')) {
        tlm__fr_clear(&cur);
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "reason: required to reopen a completed or declined request",
            "reason");
    }
    (void)target;
    free(cur.status);
    cur.status = strdup(to);
    nc.fr = fr_json(&cur, NULL, 0);
    nc.previous = tlm__fr_statuses[from];
    nc.reason = reason;
    memset(&ch, 0, sizeof(ch));
    ch.id = call->id;
    ch.from = tlm__fr_statuses[from];
    ch.to = to;
    ch.reason = reason;
    ch.merged_into = into;
    ch.now_ms = tlm__api_now_ms();
    ch.record_notifications
        = api->cfg == NULL || api->cfg->notification_enabled;
    if (api->webhook != NULL && ch.record_notifications && nc.fr != NULL) {
        ch.notify = notify_voter;
        ch.notify_ctx = &nc;
    }
    st = tlm__store_fr_set_status(api->store, &ch);
    cJSON_Delete(nc.fr);
    tlm__fr_clear(&cur);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(call, MHD_HTTP_NOT_FOUND,
            into != NULL ? "into: no such feature request"
                         : "no such feature request",
            into != NULL ? "into" : NULL);
    if (st == TLM_FR_CONFLICT)
        return tlm__api_error(call, MHD_HTTP_CONFLICT,
            into != NULL ? "into: cannot merge a request into itself"
                         : "status: changed meanwhile; read it and retry",
            into != NULL ? "into" : "status");
    if (st != 0)
        return tlm__api_store_error(call);
    if (ch.notify != NULL)
        tlm__webhook_poke(api->webhook);
    return answer_request(call, call->id, MHD_HTTP_OK, NULL, NULL);
}

enum MHD_Result
tlm__fr_status(struct tlm__api_call *call)
{
    bool bad = false;
    const char *to = tlm__api_string(call->body, "status", 32, true, &bad);
    if (bad || tlm__fr_status_index(to) < 0)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "status: expected submitted, under_review, planned, in_progress, "
            "completed or declined",
            "status");
    const char *reason
        = tlm__api_string(call->body, "reason", 2000, false, &bad);
    if (bad)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "reason: at most 2000 bytes of text", "reason");
    return change_status(call, to, reason, NULL);
}

enum MHD_Result
tlm__fr_merge(struct tlm__api_call *call)
{
    bool bad = false;
    char reason[160];
    const char *into = tlm__api_string(call->body, "into", 63, true, &bad);
    if (bad)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "into: required, the id of the request to merge into", "into");
    const char *r = tlm__api_string(call->body, "reason", 2000, false, &bad);
    if (bad)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "reason: at most 2000 bytes of text", "reason");
    if (strcmp(into, call->id) == 0)
        return tlm__api_error(call, MHD_HTTP_CONFLICT,
            "into: cannot merge a request into itself", "into");
    if (r == NULL) {
        snprintf(reason, sizeof(reason), "duplicate of %s", into);
        r = reason;
    }
    return change_status(call, "declined", r, into);
}
