/*
 * feedback.c - the public feedback and feature-request calls: argument
 * checks and copies (caller threads), and the request bodies with the
 * privacy layer applied (worker thread, tlm__api_build).
 *
 * The caller-side half never blocks on I/O and allocates one block per
 * call; what reaches the network is built on the worker, where the
 * anonymization key and the scrubber's buffers live.
 */
#include "client.h"
#include "scrub.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* Feature requests and votes reuse the feedback's input slots. */
enum {
    IN_TITLE = TLM__API_IN_CONTENT,
    IN_DESCRIPTION = TLM__API_IN_CATEGORY,
    IN_USE_CASE = TLM__API_IN_CONTEXT,
    IN_ID = TLM__API_IN_CONTENT
};

#define MAX_ID_LEN 128

static const char *const type_names[]
    = {NULL, "issue", "suggestion", "rating", "general"};

void
tlm_feedback_init(tlm_feedback *f)
{
    if (f == NULL)
        return;
    memset(f, 0, sizeof(*f));
    f->size = sizeof(*f);
}

void
tlm_feature_request_init(tlm_feature_request *r)
{
    if (r == NULL)
        return;
    memset(r, 0, sizeof(*r));
    r->size = sizeof(*r);
}

void
tlm_feature_query_init(tlm_feature_query *q)
{
    if (q == NULL)
        return;
    memset(q, 0, sizeof(*q));
    q->size = sizeof(*q);
}

void
tlm_reply_init(tlm_reply *r)
{
    if (r == NULL)
        return;
    memset(r, 0, sizeof(*r));
    r->size = sizeof(*r);
}

void
tlm_reply_free(tlm_reply *r)
{
    size_t size;

    if (r == NULL)
        return;
    size = r->size;
    free(r->body);
    free(r->id);
    memset(r, 0, sizeof(*r));
    r->size = size;
}

/* ---- caller side ----------------------------------------------------------
 */

/* With `wait`, out must be a tlm_reply of this version; it is zeroed so
 * that every error path leaves it safe to tlm_reply_free(). */
static int
prep_reply(tlm_reply *out, bool wait)
{
    if (!wait)
        return 0;
    if (out == NULL || out->size != sizeof(*out))
        return TLM_EINVAL;
    tlm_reply_init(out);
    return 0;
}

/* A call with copies of `src[0..TLM__API_NIN)` (NULL: absent) in one
 * block, allocated with the client's allocator. */
static tlm__api *
api_new(tlm_client *c, tlm__api_kind kind, const char *const *src)
{
    tlm__alloc_scope scope;
    size_t total = 0, len[TLM__API_NIN], off = 0;
    tlm__api *a;
    int i;

    for (i = 0; i < TLM__API_NIN; i++) {
        len[i] = src[i] != NULL ? strlen(src[i]) : 0;
        total += src[i] != NULL ? len[i] + 1 : 0;
    }
    tlm__alloc_enter(&scope, &c->opts.allocator);
    a = tlm__calloc(1, sizeof(*a));
    if (a != NULL && total > 0) {
        a->inbuf = tlm__malloc(total);
        if (a->inbuf == NULL) {
            tlm__free(a);
            a = NULL;
        }
    }
    tlm__alloc_leave(&scope);
    if (a == NULL)
        return NULL;
    a->kind = kind;
    for (i = 0; i < TLM__API_NIN; i++) {
        if (src[i] == NULL)
            continue;
        memcpy(a->inbuf + off, src[i], len[i] + 1);
        a->in[i] = a->inbuf + off;
        off += len[i] + 1;
    }
    return a;
}

static bool
nonempty(const char *s)
{
    return s != NULL && s[strspn(s, " \t\r\n")] != '\0';
}

static bool
json_object_text(const char *s)
{
    cJSON *root = cJSON_Parse(s);
    bool ok = cJSON_IsObject(root);

    cJSON_Delete(root);
    return ok;
}

static int
feedback_call(tlm_client *c, const tlm_feedback *f, tlm_response_fn cb,
    void *ud, uint32_t timeout_ms, tlm_reply *out, bool wait)
{
    const char *in[TLM__API_NIN] = {NULL};
    tlm__api *a;
    int rc = prep_reply(out, wait);

    if (rc != 0 || c == NULL || f == NULL || f->size != sizeof(*f)
        || f->type < TLM_FEEDBACK_ISSUE || f->type > TLM_FEEDBACK_GENERAL
        || !nonempty(f->content) || f->rating < 0 || f->rating > 5
        || (f->context_json != NULL && !json_object_text(f->context_json)))
        return TLM_EINVAL;
    in[TLM__API_IN_CONTENT] = f->content;
    in[TLM__API_IN_CATEGORY] = f->category;
    in[TLM__API_IN_CONTEXT] = f->context_json;
    in[TLM__API_IN_FEATURE] = f->feature;
    in[TLM__API_IN_ENDPOINT] = f->endpoint;
    in[TLM__API_IN_USER] = f->user_id;
    in[TLM__API_IN_SUMMARY] = f->summary;
    in[TLM__API_IN_STEPS] = f->steps_to_reproduce;
    in[TLM__API_IN_EXPECTED] = f->expected;
    in[TLM__API_IN_ACTUAL] = f->actual;
    a = api_new(c, TLM__API_FEEDBACK, in);
    if (a == NULL)
        return TLM_ENOMEM;
    a->type = f->type;
    a->rating = f->rating;
    a->method = "POST";
    return tlm__api_submit(c, a, cb, ud, timeout_ms, out, wait);
}

int
tlm_feedback_submit(
    tlm_client *c, const tlm_feedback *f, tlm_response_fn cb, void *ud)
{
    return feedback_call(c, f, cb, ud, 0, NULL, false);
}

int
tlm_feedback_submit_wait(
    tlm_client *c, const tlm_feedback *f, uint32_t timeout_ms, tlm_reply *out)
{
    return feedback_call(c, f, NULL, NULL, timeout_ms, out, true);
}

static int
feature_call(tlm_client *c, const tlm_feature_request *r, tlm_response_fn cb,
    void *ud, uint32_t timeout_ms, tlm_reply *out, bool wait)
{
    const char *in[TLM__API_NIN] = {NULL};
    tlm__api *a;
    int rc = prep_reply(out, wait);

    if (rc != 0 || c == NULL || r == NULL || r->size != sizeof(*r)
        || !nonempty(r->title))
        return TLM_EINVAL;
    in[IN_TITLE] = r->title;
    in[IN_DESCRIPTION] = r->description;
    in[IN_USE_CASE] = r->use_case;
    in[TLM__API_IN_USER] = r->user_id;
    a = api_new(c, TLM__API_FEATURE, in);
    if (a == NULL)
        return TLM_ENOMEM;
    a->method = "POST";
    return tlm__api_submit(c, a, cb, ud, timeout_ms, out, wait);
}

int
tlm_feature_request_submit(
    tlm_client *c, const tlm_feature_request *r, tlm_response_fn cb, void *ud)
{
    return feature_call(c, r, cb, ud, 0, NULL, false);
}

int
tlm_feature_request_submit_wait(tlm_client *c, const tlm_feature_request *r,
    uint32_t timeout_ms, tlm_reply *out)
{
    return feature_call(c, r, NULL, NULL, timeout_ms, out, true);
}

static bool
valid_id(const char *id)
{
    size_t n = id != NULL ? strnlen(id, MAX_ID_LEN + 1) : 0;

    return n > 0 && n <= MAX_ID_LEN;
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static void
url_escape(tlm__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char esc[3] = {'%', 0, 0};
    unsigned char ch;

    for (; *s != '\0'; s++) {
        ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'
            || ch == '~') {
            tlm__buf_append(b, s, 1);
            continue;
        }
        esc[1] = hex[ch >> 4];
        esc[2] = hex[ch & 15];
        tlm__buf_append(b, esc, 3);
    }
}

static int
vote_call(tlm_client *c, const char *id, const char *user_id, bool withdraw,
    tlm_response_fn cb, void *ud, uint32_t timeout_ms, tlm_reply *out,
    bool wait)
{
    const char *in[TLM__API_NIN] = {NULL};
    tlm__api *a;
    int rc = prep_reply(out, wait);

    if (rc != 0 || c == NULL || !valid_id(id) || !nonempty(user_id))
        return TLM_EINVAL;
    in[IN_ID] = id;
    in[TLM__API_IN_USER] = user_id;
    a = api_new(c, withdraw ? TLM__API_UNVOTE : TLM__API_VOTE, in);
    if (a == NULL)
        return TLM_ENOMEM;
    a->method = withdraw ? "DELETE" : "PUT";
    return tlm__api_submit(c, a, cb, ud, timeout_ms, out, wait);
}

int
tlm_feature_request_vote(tlm_client *c, const char *id, const char *user_id,
    tlm_response_fn cb, void *ud)
{
    return vote_call(c, id, user_id, false, cb, ud, 0, NULL, false);
}

int
tlm_feature_request_vote_wait(tlm_client *c, const char *id,
    const char *user_id, uint32_t timeout_ms, tlm_reply *out)
{
    return vote_call(c, id, user_id, false, NULL, NULL, timeout_ms, out, true);
}

int
tlm_feature_request_unvote(tlm_client *c, const char *id, const char *user_id,
    tlm_response_fn cb, void *ud)
{
    return vote_call(c, id, user_id, true, cb, ud, 0, NULL, false);
}

int
tlm_feature_request_unvote_wait(tlm_client *c, const char *id,
    const char *user_id, uint32_t timeout_ms, tlm_reply *out)
{
    return vote_call(c, id, user_id, true, NULL, NULL, timeout_ms, out, true);
}

/* A GET of `path` (taken over, also on error). */
static int
read_call(tlm_client *c, tlm__buf *path, tlm_response_fn cb, void *ud,
    uint32_t timeout_ms, tlm_reply *out, bool wait)
{
    const char *in[TLM__API_NIN] = {NULL};
    tlm__alloc_scope scope;
    tlm__api *a = NULL;

    if (!path->failed)
        a = api_new(c, TLM__API_READ, in);
    if (a == NULL) {
        tlm__alloc_enter(&scope, &c->opts.allocator);
        tlm__buf_free(path);
        tlm__alloc_leave(&scope);
        return TLM_ENOMEM;
    }
    a->method = "GET";
    a->path = path->data;
    a->built = true;
    return tlm__api_submit(c, a, cb, ud, timeout_ms, out, wait);
}

static int
get_call(tlm_client *c, const char *id, tlm_response_fn cb, void *ud,
    uint32_t timeout_ms, tlm_reply *out, bool wait)
{
    tlm__alloc_scope scope;
    tlm__buf path = {0};
    int rc = prep_reply(out, wait);

    if (rc != 0 || c == NULL || !valid_id(id))
        return TLM_EINVAL;
    tlm__alloc_enter(&scope, &c->opts.allocator);
    tlm__buf_puts(&path, "/feedback/");
    url_escape(&path, id);
    tlm__alloc_leave(&scope);
    return read_call(c, &path, cb, ud, timeout_ms, out, wait);
}

int
tlm_feedback_get(tlm_client *c, const char *id, tlm_response_fn cb, void *ud)
{
    return get_call(c, id, cb, ud, 0, NULL, false);
}

int
tlm_feedback_get_wait(
    tlm_client *c, const char *id, uint32_t timeout_ms, tlm_reply *out)
{
    return get_call(c, id, NULL, NULL, timeout_ms, out, true);
}

static bool
valid_query(const tlm_feature_query *q)
{
    if (q->size != sizeof(*q) || q->limit > 100)
        return false;
    return q->sort == NULL || strcmp(q->sort, "votes") == 0
        || strcmp(q->sort, "recent") == 0 || strcmp(q->sort, "trending") == 0;
}

static void
query_param(tlm__buf *b, const char *key, const char *value, char *sep)
{
    if (value == NULL || value[0] == '\0')
        return;
    tlm__buf_append(b, sep, 1);
    *sep = '&';
    tlm__buf_puts(b, key);
    tlm__buf_append(b, "=", 1);
    url_escape(b, value);
}

static int
list_call(tlm_client *c, const tlm_feature_query *q, tlm_response_fn cb,
    void *ud, uint32_t timeout_ms, tlm_reply *out, bool wait)
{
    tlm_feature_query defaults;
    tlm__alloc_scope scope;
    tlm__buf path = {0};
    char sep = '?', limit[16];
    int rc = prep_reply(out, wait);

    if (q == NULL) {
        tlm_feature_query_init(&defaults);
        q = &defaults;
    }
    if (rc != 0 || c == NULL || !valid_query(q))
        return TLM_EINVAL;
    snprintf(limit, sizeof(limit), "%u", (unsigned)q->limit);
    tlm__alloc_enter(&scope, &c->opts.allocator);
    tlm__buf_puts(&path, "/feature-requests");
    query_param(&path, "sort", q->sort, &sep);
    query_param(&path, "status", q->status, &sep);
    query_param(&path, "limit", q->limit > 0 ? limit : NULL, &sep);
    query_param(&path, "cursor", q->cursor, &sep);
    tlm__alloc_leave(&scope);
    return read_call(c, &path, cb, ud, timeout_ms, out, wait);
}

int
tlm_feature_requests_list(
    tlm_client *c, const tlm_feature_query *q, tlm_response_fn cb, void *ud)
{
    return list_call(c, q, cb, ud, 0, NULL, false);
}

int
tlm_feature_requests_list_wait(tlm_client *c, const tlm_feature_query *q,
    uint32_t timeout_ms, tlm_reply *out)
{
    return list_call(c, q, NULL, NULL, timeout_ms, out, true);
}

/* ---- bodies (worker) ------------------------------------------------------
 */

/* `in` through the scrubber (as a path, or as free text) and the custom
 * patterns, as the error messages of events are: the result is borrowed
 * from the privacy layer's buffers until the next call; NULL when out of
 * memory. */
static const char *
scrub_text(tlm_client *c, const char *in, bool path)
{
    tlm__privacy *p = &c->priv;
    const char *s;
    int rc;

    if (!c->opts.scrub)
        return in;
    p->scrub.len = 0;
    p->scrub.failed = false;
    rc = path
        ? tlm__scrub_path(in, strlen(in), TLM__SCRUB_ALL, &p->scrub, NULL)
        : tlm__scrub_string(in, strlen(in), TLM__SCRUB_ALL, &p->scrub, NULL);
    if (rc != 0)
        return NULL;
    s = p->scrub.data != NULL ? p->scrub.data : "";
    if (p->n_custom > 0) {
        if (tlm__custom_apply(p->custom, p->n_custom, s, &p->scrub3, &p->scrub2)
            != 0)
            return NULL;
        s = p->scrub2.data != NULL ? p->scrub2.data : "";
    }
    return s;
}

/* scrub_text() appended to b as a JSON string. */
static int
put_scrubbed(tlm_client *c, tlm__buf *b, const char *in, bool path)
{
    const char *s = scrub_text(c, in, path);

    if (s == NULL)
        return TLM_ENOMEM;
    tlm__buf_json_string(b, s, strlen(s));
    return 0;
}

/* ,"key":"scrubbed value" when value is not NULL. */
static int
put_field(
    tlm_client *c, tlm__buf *b, const char *key, const char *value, bool path)
{
    if (value == NULL)
        return 0;
    tlm__buf_puts(b, ",\"");
    tlm__buf_puts(b, key);
    tlm__buf_puts(b, "\":");
    return put_scrubbed(c, b, value, path);
}

/* ,"user_id":"<anonymized>"; left out if it cannot be anonymized. */
static void
put_user(tlm_client *c, tlm__buf *b, const char *user_id)
{
    char anon[33];
    const char *v = user_id;

    if (user_id == NULL)
        return;
    if (c->opts.anonymize)
        v = tlm__privacy_anonymize(&c->priv, user_id, anon);
    if (v == NULL)
        return; /* never the raw id */
    tlm__buf_puts(b, ",\"user_id\":");
    tlm__buf_json_string(b, v, strlen(v));
}

/* Every string value below `node` scrubbed in place. */
static int
scrub_json(tlm_client *c, cJSON *node)
{
    const char *s;
    cJSON *item;
    int rc;

    cJSON_ArrayForEach(item, node)
    {
        if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
            rc = scrub_json(c, item);
            if (rc != 0)
                return rc;
            continue;
        }
        if (!cJSON_IsString(item))
            continue;
        s = scrub_text(c, item->valuestring, false);
        if (s == NULL)
            return TLM_ENOMEM;
        if (strcmp(s, item->valuestring) != 0
            && cJSON_SetValuestring(item, s) == NULL)
            return TLM_ENOMEM;
    }
    return 0;
}

static int
put_context(tlm_client *c, tlm__buf *b, const char *text)
{
    cJSON *root;
    char *printed = NULL;
    int rc = 0;

    if (text == NULL)
        return 0;
    root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        rc = TLM_EINVAL; /* checked at the call: not reached */
        goto out;
    }
    if (c->opts.scrub)
        rc = scrub_json(c, root);
    if (rc == 0) {
        printed = cJSON_PrintUnformatted(root);
        rc = printed != NULL ? 0 : TLM_ENOMEM;
    }
    if (rc == 0) {
        tlm__buf_puts(b, ",\"context\":");
        tlm__buf_puts(b, printed);
    }
out:
    cJSON_free(printed);
    cJSON_Delete(root);
    return rc;
}

/* "sdk": what the issue template's environment part needs. */
static void
put_sdk(tlm_client *c, tlm__buf *b, char *os, size_t os_size)
{
    struct utsname u;

    if (uname(&u) == 0)
        snprintf(os, os_size, "%s %s", u.sysname, u.release);
    else
        snprintf(os, os_size, "unknown");
    tlm__buf_puts(b,
        ",\"sdk\":{\"name\":\"" TLM__SDK_NAME
        "\",\"version\":\"" TLM_VERSION_STRING "\",\"binding\":");
    tlm__buf_json_string(b, c->opts.binding, strlen(c->opts.binding));
    tlm__buf_puts(b, ",\"os\":");
    tlm__buf_json_string(b, os, strlen(os));
    tlm__buf_puts(b, "}");
}

static int
put_issue(tlm_client *c, tlm__buf *b, const tlm__api *a, const char *os)
{
    static const struct {
        int in;
        const char *key;
    } parts[] = {
        {TLM__API_IN_SUMMARY, "summary"},
        {TLM__API_IN_STEPS, "steps_to_reproduce"},
        {TLM__API_IN_EXPECTED, "expected"},
        {TLM__API_IN_ACTUAL, "actual"},
        {TLM__API_IN_ENDPOINT, "endpoint"},
    };
    size_t i;
    int rc;

    tlm__buf_puts(
        b, ",\"issue\":{\"sdk_version\":\"" TLM_VERSION_STRING "\",\"os\":");
    tlm__buf_json_string(b, os, strlen(os));
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        rc = put_field(c, b, parts[i].key, a->in[parts[i].in],
            parts[i].in == TLM__API_IN_ENDPOINT);
        if (rc != 0)
            return rc;
    }
    tlm__buf_puts(b, "}");
    return 0;
}

static int
feedback_body(tlm_client *c, const tlm__api *a, tlm__buf *b)
{
    char os[160];
    int rc;

    tlm__buf_puts(b, "{\"feedback_type\":\"");
    tlm__buf_puts(b, type_names[a->type]);
    tlm__buf_puts(b, "\"");
    rc = put_field(c, b, "content", a->in[TLM__API_IN_CONTENT], false);
    if (rc == 0 && a->in[TLM__API_IN_CATEGORY] != NULL) {
        tlm__buf_puts(b, ",\"category\":");
        tlm__buf_json_string(b, a->in[TLM__API_IN_CATEGORY],
            strlen(a->in[TLM__API_IN_CATEGORY]));
    }
    if (rc == 0 && a->rating > 0)
        tlm__buf_printf(b, ",\"rating\":%d", a->rating);
    if (rc == 0)
        rc = put_context(c, b, a->in[TLM__API_IN_CONTEXT]);
    if (rc == 0)
        rc = put_field(c, b, "feature", a->in[TLM__API_IN_FEATURE], false);
    if (rc == 0)
        rc = put_field(c, b, "endpoint", a->in[TLM__API_IN_ENDPOINT], true);
    put_user(c, b, a->in[TLM__API_IN_USER]);
    tlm__buf_printf(b, ",\"environment\":");
    tlm__buf_json_string(b, c->opts.environment, strlen(c->opts.environment));
    put_sdk(c, b, os, sizeof(os));
    if (rc == 0 && a->type == TLM_FEEDBACK_ISSUE)
        rc = put_issue(c, b, a, os);
    tlm__buf_puts(b, "}");
    return rc;
}

static int
feature_body(tlm_client *c, const tlm__api *a, tlm__buf *b)
{
    int rc;

    tlm__buf_puts(b, "{\"title\":");
    rc = put_scrubbed(c, b, a->in[IN_TITLE], false);
    if (rc == 0)
        rc = put_field(c, b, "description", a->in[IN_DESCRIPTION], false);
    if (rc == 0)
        rc = put_field(c, b, "use_case", a->in[IN_USE_CASE], false);
    put_user(c, b, a->in[TLM__API_IN_USER]);
    tlm__buf_puts(b, "}");
    return rc;
}

/* The vote's path, and its body ({"user_id"}) or query (withdrawal). */
static int
vote_request(tlm_client *c, tlm__api *a, tlm__buf *b, tlm__buf *path)
{
    char anon[33];
    const char *user = a->in[TLM__API_IN_USER];

    if (c->opts.anonymize)
        user = tlm__privacy_anonymize(&c->priv, user, anon);
    if (user == NULL)
        return TLM_ENOMEM; /* never the raw id */
    tlm__buf_puts(path, "/feature-requests/");
    url_escape(path, a->in[IN_ID]);
    tlm__buf_puts(path, "/vote");
    if (a->kind == TLM__API_UNVOTE) {
        tlm__buf_puts(path, "?user_id=");
        url_escape(path, user);
        return 0;
    }
    tlm__buf_puts(b, "{\"user_id\":");
    tlm__buf_json_string(b, user, strlen(user));
    tlm__buf_puts(b, "}");
    return 0;
}

int
tlm__api_build(tlm_client *c, tlm__api *a)
{
    tlm__buf body = {0}, path = {0};
    int rc;

    tlm__uuid4(&c->rng, a->key);
    switch (a->kind) {
    case TLM__API_FEEDBACK:
        tlm__buf_puts(&path, "/feedback");
        rc = feedback_body(c, a, &body);
        break;
    case TLM__API_FEATURE:
        tlm__buf_puts(&path, "/feature-requests");
        rc = feature_body(c, a, &body);
        break;
    case TLM__API_VOTE:
    case TLM__API_UNVOTE:
        rc = vote_request(c, a, &body, &path);
        break;
    default:
        a->key[0] = '\0';
        return 0; /* reads and replays are built already */
    }
    if (rc == 0 && (body.failed || path.failed))
        rc = TLM_ENOMEM;
    if (rc != 0) {
        tlm__buf_free(&body);
        tlm__buf_free(&path);
        return rc;
    }
    a->body = body.data; /* NULL for a withdrawal */
    a->body_len = body.len;
    a->path = path.data;
    return 0;
}
