/* POST /feedback, GET /feedback/{id}, GET /admin/feedback and the webhook
 * delivery log: validation (each refusal names its field), the server's
 * privacy pass over the submission, sentiment and category, the stored
 * answer document, and the webhook delivery for issues and strongly
 * negative feedback, written in the same transaction as the feedback. */
#include "api.h"

#include "analytics.h"
#include "categorize.h"
#include "json_util.h"
#include "sentiment.h"
#include "uuid.h"
#include "webhook.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const feedback_types[]
    = {"issue", "suggestion", "rating", "general"};

static const char *const issue_parts[]
    = {"summary", "steps_to_reproduce", "expected", "actual"};

static bool
blank(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    }
    return true;
}

static int
depth(const cJSON *o)
{
    int d = 0;
    for (const cJSON *v = o != NULL ? o->child : NULL; v != NULL; v = v->next) {
        int k = depth(v);
        if (k > d)
            d = k;
    }
    return cJSON_IsObject(o) || cJSON_IsArray(o) ? d + 1 : 0;
}

/* Checks the issue template; the missing parts' names go to missing. */
static bool
issue_complete(const cJSON *issue, cJSON *missing)
{
    bool ok = true;
    for (size_t i = 0; i < 4; i++) {
        const cJSON *v = cJSON_IsObject(issue)
            ? cJSON_GetObjectItemCaseSensitive(issue, issue_parts[i])
            : NULL;
        if (!cJSON_IsString(v) || blank(v->valuestring)
            || strlen(v->valuestring) > TLM_FEEDBACK_CONTENT_MAX) {
            cJSON_AddItemToArray(missing, cJSON_CreateString(issue_parts[i]));
            ok = false;
        }
    }
    return ok;
}

static enum MHD_Result
missing_parts(struct tlm__api_call *call, cJSON *missing)
{
    char msg[160] = "issue report is missing: ";
    const cJSON *v;
    bool first = true;
    cJSON_ArrayForEach(v, missing)
    {
        size_t used = strlen(msg);
        snprintf(msg + used, sizeof(msg) - used, "%s%s", first ? "" : ", ",
            v->valuestring);
        first = false;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddStringToObject(o, "field", "issue");
    cJSON_AddItemToObject(o, "missing", missing);
    return tlm__api_reply(call, MHD_HTTP_BAD_REQUEST, o);
}

struct submission {
    const char *type;
    const char *content;
    const char *category;
    const char *feature;
    const char *endpoint;
    const char *user_id;
    const char *environment;
    int rating;
    const cJSON *context;
    const cJSON *issue;
    const cJSON *sdk;
};

/* Validates the body into sub; answers and returns false on a refusal. */
static bool
validate(
    struct tlm__api_call *call, struct submission *sub, enum MHD_Result *rc)
{
    const cJSON *b = call->body;
    const cJSON *v;
    bool bad = false;
    const char *field = NULL, *msg = NULL;
    memset(sub, 0, sizeof(*sub));
    if (b == NULL) {
        *rc = tlm__api_error(
            call, MHD_HTTP_BAD_REQUEST, "body: expected a JSON object", NULL);
        return false;
    }
    sub->type = tlm__api_string(b, "feedback_type", 32, true, &bad);
    bool known = false;
    for (size_t i = 0; sub->type != NULL && i < 4; i++)
        known = known || strcmp(sub->type, feedback_types[i]) == 0;
    if (!known) {
        field = "feedback_type";
        msg = "feedback_type: expected issue, suggestion, rating or general";
        goto refuse;
    }
    bad = false;
    sub->content
        = tlm__api_string(b, "content", TLM_FEEDBACK_CONTENT_MAX, true, &bad);
    if (bad || blank(sub->content)) {
        field = "content";
        msg = "content: required, 1..10000 bytes of text";
        goto refuse;
    }
    sub->category = tlm__api_string(b, "category", 64, false, &bad);
    if (bad
        || (sub->category != NULL
            && !tlm__categories_has(call->api->categories, sub->category))) {
        field = "category";
        msg = "category: not one of the configured categories "
              "(feedback.categories)";
        goto refuse;
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "rating");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)
            || v->valuedouble < 1 || v->valuedouble > 5) {
            field = "rating";
            msg = "rating: expected an integer 1..5";
            goto refuse;
        }
        sub->rating = (int)v->valuedouble;
    } else if (strcmp(sub->type, "rating") == 0) {
        field = "rating";
        msg = "rating: required (1..5) for feedback_type rating";
        goto refuse;
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "context");
    if (v != NULL && !cJSON_IsNull(v)) {
        char *text = cJSON_PrintUnformatted(v);
        size_t n = text != NULL ? strlen(text) : SIZE_MAX;
        free(text);
        if (!cJSON_IsObject(v) || n > TLM_FEEDBACK_CONTEXT_MAX
            || depth(v) > TLM_FEEDBACK_CONTEXT_DEPTH) {
            field = "context";
            msg = "context: expected a JSON object of at most 16 KiB and "
                  "depth 8";
            goto refuse;
        }
        sub->context = v;
    }
    sub->feature = tlm__api_string(b, "feature", TLM_TARGET_MAX, false, &bad);
    if (bad) {
        field = "feature";
        msg = "feature: expected a string of at most 200 bytes";
        goto refuse;
    }
    sub->endpoint = tlm__api_string(b, "endpoint", TLM_TARGET_MAX, false, &bad);
    if (bad) {
        field = "endpoint";
        msg = "endpoint: expected a string of at most 200 bytes";
        goto refuse;
    }
    sub->user_id = tlm__api_string(b, "user_id", TLM_USER_ID_MAX, false, &bad);
    if (bad) {
        field = "user_id";
        msg = "user_id: expected a string of at most 128 bytes";
        goto refuse;
    }
    sub->environment = tlm__api_string(b, "environment", 16, false, &bad);
    if (bad
        || (sub->environment != NULL
            && strcmp(sub->environment, "production") != 0
            && strcmp(sub->environment, "sandbox") != 0)) {
        field = "environment";
        msg = "environment: expected production or sandbox";
        goto refuse;
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "sdk");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsObject(v) || depth(v) > 1) {
            field = "sdk";
            msg = "sdk: expected an object of strings";
            goto refuse;
        }
        sub->sdk = v;
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "issue");
    if (strcmp(sub->type, "issue") == 0) {
        cJSON *missing = cJSON_CreateArray();
        if (!issue_complete(v, missing)) {
            *rc = missing_parts(call, missing);
            return false;
        }
        cJSON_Delete(missing);
        sub->issue = v;
    } else if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsObject(v)) {
        field = "issue";
        msg = "issue: expected an object";
        goto refuse;
    } else if (cJSON_IsObject(v)) {
        sub->issue = v;
    }
    return true;
refuse:
    *rc = tlm__api_error(call, MHD_HTTP_BAD_REQUEST, msg, field);
    return false;
}

/* Lexicon sentiment of the text; a rating pulls it halfway to its own
 * (1 -> -1, 3 -> 0, 5 -> 1). */
static double
score(const struct tlm__api *api, const struct submission *sub)
{
    double s = 0;
    if (api->cfg == NULL || api->cfg->sentiment_enabled) {
        s = tlm__sentiment(sub->content, strlen(sub->content));
        if (sub->issue != NULL) {
            const cJSON *a
                = cJSON_GetObjectItemCaseSensitive(sub->issue, "actual");
            if (cJSON_IsString(a))
                s = (2 * s
                        + tlm__sentiment(
                            a->valuestring, strlen(a->valuestring)))
                    / 3;
        }
    }
    if (sub->rating > 0)
        s = (s + (sub->rating - 3) / 2.0) / 2;
    if (s > 1)
        s = 1;
    if (s < -1)
        s = -1;
    return round(s * 1000) / 1000;
}

static void
add_opt_string(cJSON *o, const char *name, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void
add_copy(cJSON *o, const char *name, const cJSON *v)
{
    cJSON *c = v != NULL ? cJSON_Duplicate(v, true) : NULL;
    if (c != NULL)
        cJSON_AddItemToObject(o, name, c);
    else
        cJSON_AddNullToObject(o, name);
}

enum MHD_Result
tlm__feedback_create(struct tlm__api_call *call)
{
    const struct tlm__api *api = call->api;
    struct submission sub;
    struct tlm__feedback_row row;
    struct tlm__outbox_item item;
    enum MHD_Result rc;
    char *text = NULL, *existing = NULL, *issue_doc = NULL;
    cJSON *doc = NULL;
    int st;

    /* The body was scrubbed by tlm__api_finish: what is validated,
     * scored and stored is the scrubbed text. */
    if (!validate(call, &sub, &rc))
        return rc;
    memset(&row, 0, sizeof(row));
    tlm__uuid7(row.id);
    row.organization = call->organization != NULL ? call->organization : "";
    row.feedback_type = sub.type;
    row.sentiment = score(api, &sub);
    row.rating = sub.rating;
    row.feature = sub.feature;
    row.endpoint = sub.endpoint;
    row.environment = call->environment != NULL ? call->environment
        : sub.environment != NULL               ? sub.environment
                                                : "production";
    row.created_ms = tlm__api_now_ms();
    const char *source = "submitter";
    row.category = sub.category;
    if (row.category == NULL) {
        source = "auto";
        row.category = api->cfg == NULL || api->cfg->categorization_enabled
            ? tlm__categorize(
                api->categories, sub.content, strlen(sub.content), NULL)
            : "other";
    }

    doc = cJSON_CreateObject();
    if (doc == NULL)
        goto nomem;
    cJSON_AddStringToObject(doc, "id", row.id);
    cJSON_AddStringToObject(doc, "feedback_type", sub.type);
    cJSON_AddStringToObject(doc, "content", sub.content);
    cJSON_AddStringToObject(doc, "category", row.category);
    cJSON_AddStringToObject(doc, "category_source", source);
    cJSON_AddNumberToObject(doc, "sentiment", row.sentiment);
    cJSON_AddStringToObject(doc, "sentiment_label",
        tlm__sentiment_class_name(tlm__sentiment_classify(row.sentiment)));
    if (sub.rating > 0)
        cJSON_AddNumberToObject(doc, "rating", sub.rating);
    else
        cJSON_AddNullToObject(doc, "rating");
    add_opt_string(doc, "feature", sub.feature);
    add_opt_string(doc, "endpoint", sub.endpoint);
    add_copy(doc, "context", sub.context);
    add_copy(doc, "issue", sub.issue);
    add_copy(doc, "sdk", sub.sdk);
    add_opt_string(doc, "user_id", sub.user_id);
    cJSON_AddStringToObject(doc, "organization", row.organization);
    cJSON_AddStringToObject(doc, "environment", row.environment);
    cJSON_AddStringToObject(doc, "created_at", tlm__api_time(row.created_ms));
    text = cJSON_PrintUnformatted(doc);
    if (text == NULL)
        goto nomem;
    row.doc = text;
    row.doc_len = strlen(text);

    /* Issues and strongly negative feedback go to the issue tracker. */
    size_t n_items = 0;
    bool negative = row.sentiment
        <= (api->cfg != NULL ? api->cfg->negative_threshold : -0.5);
    bool is_issue = strcmp(sub.type, "issue") == 0;
    if (api->webhook != NULL && (is_issue || negative)) {
        memset(&item, 0, sizeof(item));
        tlm__uuid7(item.id);
        item.type = is_issue ? TLM_WEBHOOK_FEEDBACK_ISSUE
                             : TLM_WEBHOOK_FEEDBACK_NEGATIVE;
        issue_doc = tlm__webhook_issue_doc(doc, item.type, item.id, NULL);
        if (issue_doc == NULL)
            goto nomem;
        item.body = issue_doc;
        item.body_len = strlen(issue_doc);
        n_items = 1;
    }
    st = tlm__store_feedback_insert(
        api->store, &row, call->idem_key, &item, n_items, &existing);
    if (st == TLM_FR_REPLAY) {
        cJSON *old = cJSON_Parse(existing);
        rc = tlm__api_reply_ex(
            call, MHD_HTTP_OK, old, "Idempotent-Replayed", "true");
    } else if (st != 0) {
        rc = tlm__api_store_error(call);
    } else {
        if (n_items > 0)
            tlm__webhook_poke(api->webhook);
        rc = tlm__api_reply(call, MHD_HTTP_CREATED, doc);
        doc = NULL;
    }
    goto out;
nomem:
    rc = tlm__api_error(
        call, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL);
out:
    cJSON_Delete(doc);
    free(text);
    free(existing);
    free(issue_doc);
    return rc;
}

enum MHD_Result
tlm__feedback_get(struct tlm__api_call *call)
{
    char *doc = NULL;
    int st = tlm__store_feedback_get(
        call->api->store, call->id, call->organization, &doc);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such feedback", NULL);
    if (st != 0)
        return tlm__api_store_error(call);
    cJSON *o = cJSON_Parse(doc);
    free(doc);
    return tlm__api_reply(call, MHD_HTTP_OK, o);
}

struct list_ctx {
    cJSON *items;
};

static int
add_item(void *ctx, const char *payload, size_t len)
{
    struct list_ctx *l = ctx;
    cJSON *o = cJSON_ParseWithLength(payload, len);
    if (o == NULL)
        return -1;
    cJSON_AddItemToArray(l->items, o);
    return 0;
}

/* limit= 1..100 (default def) and cursor= (a positive integer). */
static bool
page_args(struct tlm__api_call *call, size_t def, size_t *limit,
    int64_t *cursor, enum MHD_Result *rc)
{
    const char *l = tlm__api_arg(call, "limit");
    const char *c = tlm__api_arg(call, "cursor");
    unsigned long v;
    *limit = def;
    *cursor = 0;
    if (l != NULL) {
        if (tlm__parse_ulong(l, 1, TLM_LIST_MAX, &v) != 0) {
            *rc = tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
                "limit: expected an integer 1..100", "limit");
            return false;
        }
        *limit = v;
    }
    if (c != NULL) {
        if (tlm__parse_ulong(c, 1, (unsigned long)INT64_MAX, &v) != 0) {
            *rc = tlm__api_error(
                call, MHD_HTTP_BAD_REQUEST, "cursor: not a cursor", "cursor");
            return false;
        }
        *cursor = (int64_t)v;
    }
    return true;
}

static enum MHD_Result
list_answer(struct tlm__api_call *call, cJSON *items, int64_t next)
{
    cJSON *o = cJSON_CreateObject();
    char buf[24];
    cJSON_AddItemToObject(o, "items", items);
    if (next > 0) {
        snprintf(buf, sizeof(buf), "%lld", (long long)next);
        cJSON_AddStringToObject(o, "next_cursor", buf);
    } else {
        cJSON_AddNullToObject(o, "next_cursor");
    }
    return tlm__api_reply(call, MHD_HTTP_OK, o);
}

static bool
number_arg(struct tlm__api_call *call, const char *name, bool *has, double *v,
    enum MHD_Result *rc)
{
    const char *s = tlm__api_arg(call, name);
    char *end;
    *has = false;
    if (s == NULL)
        return true;
    *v = strtod(s, &end);
    /* Written so that NaN ("nan") fails too. */
    if (end == s || *end != '\0' || !(*v >= -1 && *v <= 1)) {
        char msg[80];
        snprintf(msg, sizeof(msg), "%s: expected a number -1..1", name);
        *rc = tlm__api_error(call, MHD_HTTP_BAD_REQUEST, msg, name);
        return false;
    }
    *has = true;
    return true;
}

static bool
time_arg(struct tlm__api_call *call, const char *name, int64_t *ms,
    enum MHD_Result *rc)
{
    const char *s = tlm__api_arg(call, name);
    *ms = 0;
    if (s == NULL || tlm__analytics_parse_time(s, ms) == 0)
        return true;
    char msg[96];
    snprintf(msg, sizeof(msg),
        "%s: expected an RFC 3339 timestamp or epoch milliseconds", name);
    *rc = tlm__api_error(call, MHD_HTTP_BAD_REQUEST, msg, name);
    return false;
}

enum MHD_Result
tlm__feedback_admin_list(struct tlm__api_call *call)
{
    struct tlm__feedback_query q;
    struct list_ctx l;
    int64_t next = 0;
    enum MHD_Result rc;
    memset(&q, 0, sizeof(q));
    if (!page_args(call, 50, &q.limit, &q.before, &rc)
        || !number_arg(
            call, "min_sentiment", &q.has_min_sentiment, &q.min_sentiment, &rc)
        || !number_arg(
            call, "max_sentiment", &q.has_max_sentiment, &q.max_sentiment, &rc)
        || !time_arg(call, "from", &q.from_ms, &rc)
        || !time_arg(call, "to", &q.to_ms, &rc))
        return rc;
    q.organization = tlm__api_arg(call, "organization");
    q.type = tlm__api_arg(call, "type");
    q.category = tlm__api_arg(call, "category");
    q.feature = tlm__api_arg(call, "feature");
    q.endpoint = tlm__api_arg(call, "endpoint");
    q.environment = tlm__api_arg(call, "environment");
    l.items = cJSON_CreateArray();
    if (l.items == NULL)
        return tlm__api_error(
            call, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL);
    if (tlm__store_feedback_list(call->api->store, &q, add_item, &l, &next)
        != 0) {
        cJSON_Delete(l.items);
        return tlm__api_store_error(call);
    }
    return list_answer(call, l.items, next);
}

enum MHD_Result
tlm__deliveries_list(struct tlm__api_call *call)
{
    struct list_ctx l;
    size_t limit;
    int64_t before, next = 0;
    enum MHD_Result rc;
    if (!page_args(call, 50, &limit, &before, &rc))
        return rc;
    l.items = cJSON_CreateArray();
    if (l.items == NULL)
        return tlm__api_error(
            call, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL);
    if (tlm__store_deliveries_list(
            call->api->store, limit, before, add_item, &l, &next)
        != 0) {
        cJSON_Delete(l.items);
        return tlm__api_store_error(call);
    }
    return list_answer(call, l.items, next);
}
