/* The feedback, feature-request and portal routes over HTTP: matching
 * paths with an {id}, who may call what (ingestion, publishable and admin
 * credentials, the publishable key's origins), CORS, the body (under the
 * wire cap, gzip inflated under the decompressed cap, parsed as a JSON
 * object), the per-key rate limit, then the handler (feedback_route.c,
 * feature_route.c, portal.c). Never calls a handler for a request that
 * failed authentication. */
#include "api.h"
#include "http_internal.h"

#include "json_scan.h"
#include "json_util.h"
#include "portal.h"
#include "scrub_pass.h"
#include "rfc3339.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum who_may {
    MAY_ADMIN = 1, /* admin only */
    MAY_INGEST = 2, /* ingestion keys and admin */
    MAY_PUBLIC = 3, /* publishable keys too */
    MAY_ANYONE = 4, /* no credentials (the portal's files) */
};

static const struct {
    const char *method;
    const char *pattern; /* "*" stands for one path segment: the id */
    enum tlm__api_route route;
    enum who_may who;
} table[] = {
    {"POST", "/feedback", TLM_API_FEEDBACK_CREATE, MAY_PUBLIC},
    {"GET", "/feedback/*", TLM_API_FEEDBACK_GET, MAY_INGEST},
    {"GET", "/feature-requests", TLM_API_FR_LIST, MAY_PUBLIC},
    {"POST", "/feature-requests", TLM_API_FR_CREATE, MAY_PUBLIC},
    {"GET", "/feature-requests/*", TLM_API_FR_GET, MAY_PUBLIC},
    {"PUT", "/feature-requests/*/vote", TLM_API_FR_VOTE, MAY_PUBLIC},
    {"DELETE", "/feature-requests/*/vote", TLM_API_FR_UNVOTE, MAY_PUBLIC},
    {"GET", "/feature-requests/*/comments", TLM_API_FR_COMMENTS, MAY_PUBLIC},
    {"POST", "/feature-requests/*/comments", TLM_API_FR_COMMENT, MAY_PUBLIC},
    {"GET", "/admin/feedback", TLM_API_ADMIN_FEEDBACK, MAY_ADMIN},
    {"GET", "/admin/feature-requests", TLM_API_ADMIN_FR_LIST, MAY_ADMIN},
    {"PUT", "/admin/feature-requests/*/status", TLM_API_ADMIN_FR_STATUS,
        MAY_ADMIN},
    {"POST", "/admin/feature-requests/*/merge", TLM_API_ADMIN_FR_MERGE,
        MAY_ADMIN},
    {"GET", "/admin/webhooks/deliveries", TLM_API_ADMIN_DELIVERIES, MAY_ADMIN},
    {"GET", "/admin/errors", TLM_API_ADMIN_ERRORS, MAY_ADMIN},
    {"GET", "/admin/errors/*", TLM_API_ADMIN_ERROR, MAY_ADMIN},
    {"PUT", "/admin/errors/*/status", TLM_API_ADMIN_ERROR_STATUS, MAY_ADMIN},
    {"GET", "/admin/analytics/reports", TLM_API_ADMIN_REPORTS, MAY_ADMIN},
    {"GET", "/admin/analytics/reports/*", TLM_API_ADMIN_REPORT, MAY_ADMIN},
    {"GET", "/admin/analytics/reports/*/runs/*", TLM_API_ADMIN_REPORT_RUN,
        MAY_ADMIN},
    {"POST", "/admin/analytics/reports/*/run", TLM_API_ADMIN_REPORT_RUN_NOW,
        MAY_ADMIN},
    {"GET", "/admin/analytics/anomalies", TLM_API_ADMIN_ANOMALIES, MAY_ADMIN},
    {"GET", "/admin/analytics/forecast", TLM_API_ADMIN_FORECAST, MAY_ADMIN},
};

/* Matches url against pattern; the "*" segments (1..63 bytes of
 * [A-Za-z0-9_-]) are copied to id, then id2. */
static bool
match(const char *pattern, const char *url, char id[64], char id2[64])
{
    int stars = 0;
    while (*pattern != '\0') {
        if (*pattern == '*') {
            char *dst = stars++ == 0 ? id : id2;
            size_t n = 0;
            while (url[n] != '\0' && url[n] != '/') {
                if (!isalnum((unsigned char)url[n]) && url[n] != '-'
                    && url[n] != '_')
                    return false;
                n++;
            }
            if (n == 0 || n >= 64)
                return false;
            memcpy(dst, url, n);
            dst[n] = '\0';
            url += n;
            pattern++;
            continue;
        }
        if (*pattern++ != *url++)
            return false;
    }
    return *url == '\0';
}

enum tlm__metrics_route
tlm__api_metric_route(const char *url)
{
    if (strncmp(url, "/feedback", 9) == 0 && (url[9] == '\0' || url[9] == '/'))
        return TLM_ROUTE_FEEDBACK;
    if (strncmp(url, "/feature-requests", 17) == 0
        && (url[17] == '\0' || url[17] == '/'))
        return TLM_ROUTE_FEATURE_REQUESTS;
    if (strncmp(url, "/portal/", 8) == 0 || strcmp(url, "/portal") == 0)
        return TLM_ROUTE_PORTAL;
    if (strncmp(url, "/admin/", 7) == 0)
        return TLM_ROUTE_ADMIN_API;
    return TLM_ROUTE_OTHER;
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* The server's own origin as the browser sees it: the portal's page calls
 * the API from there. */
static bool
same_origin(struct MHD_Connection *c, const char *origin)
{
    const char *host = header(c, MHD_HTTP_HEADER_HOST);
    if (host == NULL)
        return false;
    if (strncmp(origin, "http://", 7) == 0)
        return strcmp(origin + 7, host) == 0;
    if (strncmp(origin, "https://", 8) == 0)
        return strcmp(origin + 8, host) == 0;
    return false;
}

static enum MHD_Result
preflight(struct MHD_Connection *c)
{
    const char *origin = header(c, "Origin");
    const char *h[] = {"Access-Control-Allow-Origin",
        origin != NULL ? origin : "null", "Access-Control-Allow-Methods",
        "GET, POST, PUT, DELETE", "Access-Control-Allow-Headers",
        "Authorization, Content-Type, Idempotency-Key",
        "Access-Control-Max-Age", "600", "Vary", "Origin", NULL};
    return tlm__http_queue_headers(
        c, MHD_HTTP_NO_CONTENT, strdup(""), "text/plain", h);
}

static bool
is_public_path(const char *url)
{
    char id[64], id2[64];
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].who == MAY_PUBLIC && match(table[i].pattern, url, id, id2))
            return true;
    }
    return false;
}

/* The frame-ancestors the portal's page may be embedded under. */
static void
portal_ancestors(struct tlm__http_server *s, struct MHD_Connection *c,
    char *out, size_t size)
{
    const char *key
        = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    const struct tlm__key *k = NULL;
    char auth[600];
    snprintf(out, size, "'none'");
    if (key == NULL || strlen(key) > 512)
        return;
    snprintf(auth, sizeof(auth), "Bearer %s", key);
    if (tlm__auth_classify(s->opt.auth, auth, &k) != TLM_PRINCIPAL_PUBLISHABLE
        || k == NULL || k->origins[0] == '\0')
        return;
    snprintf(out, size, "'self'");
    for (const char *p = k->origins; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        size_t used = strlen(out);
        if (used + len + 2 < size)
            snprintf(out + used, size - used, " %.*s", (int)len, p);
        if (end == NULL)
            break;
        p = end + 1;
    }
}

enum MHD_Result
tlm__api_begin(struct tlm__http_server *s, struct MHD_Connection *c,
    const char *url, const char *method, void **con_cls, bool *matched)
{
    const struct tlm__key *key = NULL;
    const char *allow = NULL;
    char id[64] = "", id2[64] = "";
    size_t i;
    struct tlm__http_request *rq;

    *matched = true;
    if (strncmp(url, "/portal/", 8) == 0 || strcmp(url, "/portal") == 0) {
        char anc[TLM_KEY_ORIGINS_MAX + 64];
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return tlm__http_queue(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                tlm__json_error_body("method not allowed"),
                MHD_HTTP_HEADER_ALLOW, "GET");
        portal_ancestors(s, c, anc, sizeof(anc));
        return tlm__portal_serve(c, url, anc);
    }
    if (strcmp(method, "OPTIONS") == 0 && is_public_path(url))
        return preflight(c);
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (!match(table[i].pattern, url, id, id2))
            continue;
        allow = table[i].method;
        if (strcmp(method, table[i].method) == 0)
            break;
    }
    if (i == sizeof(table) / sizeof(table[0])) {
        if (allow == NULL) {
            *matched = false;
            return MHD_NO;
        }
        return tlm__http_queue(c, MHD_HTTP_METHOD_NOT_ALLOWED,
            tlm__json_error_body("method not allowed"), MHD_HTTP_HEADER_ALLOW,
            allow);
    }

    enum tlm__principal who = tlm__auth_classify(
        s->opt.auth, header(c, MHD_HTTP_HEADER_AUTHORIZATION), &key);
    const char *origin = header(c, "Origin");
    char allowed_origin[256] = "";
    if (who == TLM_PRINCIPAL_NONE)
        return tlm__http_error(c, MHD_HTTP_UNAUTHORIZED,
            table[i].who == MAY_ADMIN
                ? "missing or invalid admin token or admin key"
                : "missing or invalid API key");
    if (table[i].who == MAY_ADMIN && who != TLM_PRINCIPAL_ADMIN)
        return tlm__http_error(c, MHD_HTTP_FORBIDDEN,
            "this route needs the admin token or an admin key");
    if (who == TLM_PRINCIPAL_PUBLISHABLE) {
        if (table[i].who != MAY_PUBLIC)
            return tlm__http_error(c, MHD_HTTP_FORBIDDEN,
                "publishable keys may only submit feedback, feature "
                "requests, votes and comments, and read feature requests");
        /* Browsers send Origin on every cross-origin request; a same-origin
         * GET (the portal page's own) has none but says so in
         * Sec-Fetch-Site. A non-browser client can fake either: the key is
         * submit-only because it is public anyway. */
        const char *site = header(c, "Sec-Fetch-Site");
        bool own_page = origin == NULL && site != NULL
            && strcmp(site, "same-origin") == 0;
        if (!own_page
            && (origin == NULL
                || (!tlm__auth_origin_allowed(key, origin)
                    && !same_origin(c, origin))))
            return tlm__http_error(c, MHD_HTTP_FORBIDDEN,
                "this publishable key is not allowed from this origin "
                "(keys create --origin)");
    }
    if (origin != NULL && strlen(origin) < sizeof(allowed_origin)
        && (who != TLM_PRINCIPAL_PUBLISHABLE
            || tlm__auth_origin_allowed(key, origin)))
        snprintf(allowed_origin, sizeof(allowed_origin), "%s", origin);
    if (key != NULL && who != TLM_PRINCIPAL_ADMIN) {
        long retry = 0;
        struct tlm__bucket *b = (struct tlm__bucket *)&key->bucket;
        if (tlm__bucket_take(b, 1.0, tlm__ratelimit_now_us(), &retry)
            != TLM_RATE_OK) {
            char ra[24];
            atomic_fetch_add(&s->metrics.rate_limited, 1);
            snprintf(ra, sizeof(ra), "%ld", retry > 0 ? retry : 1);
            return tlm__http_queue(c, MHD_HTTP_TOO_MANY_REQUESTS,
                tlm__json_error_body("rate limit: retry later"),
                MHD_HTTP_HEADER_RETRY_AFTER, ra);
        }
    }
    const char *enc_h = header(c, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (tlm__encoding_parse(enc_h) == TLM_ENCODING_UNSUPPORTED)
        return tlm__http_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding: expected gzip or identity");
    const char *len_h = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long declared = 0;
    if (len_h != NULL
        && (tlm__parse_ulong(len_h, 0, ULONG_MAX, &declared) != 0
            || declared > s->opt.max_body_bytes))
        return tlm__http_queue(c, MHD_HTTP_CONTENT_TOO_LARGE,
            tlm__json_error_body(
                "body: larger than the wire limit (max_body_bytes)"),
            MHD_HTTP_HEADER_CONNECTION, "close");
    rq = calloc(1, sizeof(*rq));
    if (rq == NULL)
        return MHD_NO;
    rq->route = ROUTE_API;
    rq->api_route = table[i].route;
    rq->key = key;
    rq->principal = who;
    rq->enc = tlm__encoding_parse(enc_h);
    snprintf(rq->api_id, sizeof(rq->api_id), "%s", id);
    snprintf(rq->api_id2, sizeof(rq->api_id2), "%s", id2);
    snprintf(rq->origin, sizeof(rq->origin), "%s", allowed_origin);
    *con_cls = rq;
    atomic_fetch_add(&s->in_flight, 1);
    return MHD_YES;
}

int64_t
tlm__api_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum MHD_Result
tlm__api_reply_ex(struct tlm__api_call *call, unsigned status, cJSON *doc,
    const char *extra_name, const char *extra_value)
{
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    const char *h[12];
    size_t n = 0;
    cJSON_Delete(doc);
    if (call->origin != NULL && call->origin[0] != '\0') {
        h[n++] = "Access-Control-Allow-Origin";
        h[n++] = call->origin;
        h[n++] = "Vary";
        h[n++] = "Origin";
    }
    h[n++] = "Cache-Control";
    h[n++] = "no-store";
    if (extra_name != NULL) {
        h[n++] = extra_name;
        h[n++] = extra_value;
    }
    h[n] = NULL;
    return tlm__http_queue_headers(
        call->c, status, text, "application/json", h);
}

enum MHD_Result
tlm__api_reply(struct tlm__api_call *call, unsigned status, cJSON *doc)
{
    return tlm__api_reply_ex(call, status, doc, NULL, NULL);
}

enum MHD_Result
tlm__api_error(struct tlm__api_call *call, unsigned status, const char *msg,
    const char *field)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL) {
        cJSON_AddStringToObject(o, "error", msg);
        if (field != NULL)
            cJSON_AddStringToObject(o, "field", field);
    }
    return tlm__api_reply(call, status, o);
}

enum MHD_Result
tlm__api_store_error(struct tlm__api_call *call)
{
    return tlm__api_error(call, MHD_HTTP_SERVICE_UNAVAILABLE,
        "database: the write or read failed; retry later", NULL);
}

const char *
tlm__api_arg(const struct tlm__api_call *call, const char *name)
{
    return MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, name);
}

/* Parses the body: a JSON object or nothing (*msg set on failure). */
static cJSON *
parse_body(struct tlm__http_server *s, struct tlm__http_request *rq,
    const char **msg, unsigned *status)
{
    char *plain = NULL;
    size_t plain_len = 0;
    cJSON *doc;
    *status = MHD_HTTP_BAD_REQUEST;
    if (rq->too_large) {
        *status = MHD_HTTP_CONTENT_TOO_LARGE;
        *msg = "body: larger than the wire limit (max_body_bytes)";
        return NULL;
    }
    if (rq->len == 0)
        return NULL;
    switch (tlm__inflate_capped(rq->body, rq->len, rq->enc,
        s->opt.max_inflated_bytes, &plain, &plain_len)) {
    case TLM_DECODE_OK:
        break;
    case TLM_DECODE_TOO_LARGE:
        *status = MHD_HTTP_CONTENT_TOO_LARGE;
        *msg = "body: larger than the decompressed limit "
               "(max_inflated_bytes)";
        return NULL;
    case TLM_DECODE_NOMEM:
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        *msg = "out of memory";
        return NULL;
    default:
        *msg = "body: malformed gzip";
        return NULL;
    }
    const char *text = plain != NULL ? plain : rq->body;
    size_t text_len = plain != NULL ? plain_len : rq->len;
    unsigned max_depth = s->opt.max_json_depth > 0
            && s->opt.max_json_depth < TLM_JSON_SCAN_MAX_DEPTH
        ? s->opt.max_json_depth
        : TLM_JSON_SCAN_MAX_DEPTH;
    if (tlm__json_too_deep(text, text_len, max_depth)) {
        static _Thread_local char deep[80];
        free(plain);
        snprintf(deep, sizeof(deep),
            "body: JSON nested deeper than %u levels (max_json_depth)",
            max_depth);
        *msg = deep;
        return NULL;
    }
    doc = cJSON_ParseWithLength(text, text_len);
    free(plain);
    if (doc == NULL || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        *msg = "body: expected a JSON object";
        return NULL;
    }
    return doc;
}

/* Idempotency-Key: 1..128 printable ASCII; *bad when present but not. */
static const char *
idem_key(struct MHD_Connection *c, bool *bad)
{
    const char *k = header(c, "Idempotency-Key");
    *bad = false;
    if (k == NULL)
        return NULL;
    size_t n = strlen(k);
    if (n == 0 || n > TLM_IDEM_KEY_MAX) {
        *bad = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '!' || k[i] > '~') {
            *bad = true;
            return NULL;
        }
    }
    return k;
}

enum MHD_Result
tlm__api_finish(struct tlm__http_server *s, struct MHD_Connection *c,
    struct tlm__http_request *rq)
{
    struct tlm__api api = {
        .store = s->opt.store,
        .cfg = s->opt.feedback,
        .categories = s->opt.categories,
        .webhook = s->opt.webhook,
        .metrics = &s->metrics,
        .analytics = s->opt.analytics,
    };
    struct tlm__api_call call = {
        .c = c,
        .api = &api,
        .route = (enum tlm__api_route)rq->api_route,
        .id = rq->api_id,
        .id2 = rq->api_id2,
        .origin = rq->origin,
        .admin = rq->principal == TLM_PRINCIPAL_ADMIN,
        .key = rq->key,
    };
    const char *msg = NULL;
    unsigned status;
    bool bad_key;
    enum MHD_Result rc;

    if (!call.admin && rq->key != NULL) {
        /* A key without an organization (--api-key) is "default"'s. */
        call.organization = rq->key->organization[0] != '\0'
            ? rq->key->organization
            : "default";
        call.environment
            = rq->key->environment[0] != '\0' ? rq->key->environment : NULL;
    }
    call.idem_key = idem_key(c, &bad_key);
    if (bad_key)
        return tlm__api_error(&call, MHD_HTTP_BAD_REQUEST,
            "Idempotency-Key: 1..128 printable ASCII characters",
            "Idempotency-Key");
    call.body = parse_body(s, rq, &msg, &status);
    if (msg != NULL)
        return tlm__api_error(&call, status, msg, NULL);
    /* The server's privacy pass over every submission (user_id, an
     * anonymized id, is left alone): what is validated, scored and stored
     * is the scrubbed text. */
    struct tlm__scrub_tally tally = {0};
    if (call.body != NULL && tlm__scrub_event(call.body, &tally) < 0) {
        cJSON_Delete(call.body);
        return tlm__api_error(
            &call, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL);
    }
    for (int k = 0; k < TLM_SCRUB_TALLY_KINDS; k++)
        atomic_fetch_add_explicit(
            &s->metrics.scrubbed[k], tally.by_kind[k], memory_order_relaxed);
    rc = tlm__api_dispatch(&call);
    cJSON_Delete(call.body);
    return rc;
}

const char *
tlm__api_string(
    const cJSON *o, const char *name, size_t max, bool required, bool *bad)
{
    const cJSON *v
        = o != NULL ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
    if (v == NULL || cJSON_IsNull(v)) {
        if (required)
            *bad = true;
        return NULL;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) > max
        || (required && v->valuestring[0] == '\0')) {
        *bad = true;
        return NULL;
    }
    return v->valuestring;
}

const char *
tlm__api_time(int64_t ms)
{
    static _Thread_local char buf[TLM_RFC3339_BUF];
    tlm__rfc3339_format(ms, buf, sizeof(buf));
    return buf;
}

enum MHD_Result
tlm__api_dispatch(struct tlm__api_call *call)
{
    switch (call->route) {
    case TLM_API_FEEDBACK_CREATE:
        return tlm__feedback_create(call);
    case TLM_API_FEEDBACK_GET:
        return tlm__feedback_get(call);
    case TLM_API_ADMIN_FEEDBACK:
        return tlm__feedback_admin_list(call);
    case TLM_API_ADMIN_DELIVERIES:
        return tlm__deliveries_list(call);
    case TLM_API_FR_LIST:
    case TLM_API_ADMIN_FR_LIST:
        return tlm__fr_list(call);
    case TLM_API_FR_CREATE:
        return tlm__fr_create(call);
    case TLM_API_FR_GET:
        return tlm__fr_get(call);
    case TLM_API_FR_VOTE:
        return tlm__fr_vote(call, true);
    case TLM_API_FR_UNVOTE:
        return tlm__fr_vote(call, false);
    case TLM_API_FR_COMMENTS:
        return tlm__fr_comments(call);
    case TLM_API_FR_COMMENT:
        return tlm__fr_comment(call);
    case TLM_API_ADMIN_FR_STATUS:
        return tlm__fr_status(call);
    case TLM_API_ADMIN_FR_MERGE:
        return tlm__fr_merge(call);
    case TLM_API_ADMIN_ERRORS:
        return tlm__errors_list(call);
    case TLM_API_ADMIN_ERROR:
        return tlm__errors_get(call);
    case TLM_API_ADMIN_ERROR_STATUS:
        return tlm__errors_status(call);
    case TLM_API_ADMIN_REPORTS:
        return tlm__reports_list(call);
    case TLM_API_ADMIN_REPORT:
        return tlm__report_get(call);
    case TLM_API_ADMIN_REPORT_RUN:
        return tlm__report_run_get(call);
    case TLM_API_ADMIN_REPORT_RUN_NOW:
        return tlm__report_run_now(call);
    case TLM_API_ADMIN_ANOMALIES:
        return tlm__insights_anomalies_route(call);
    case TLM_API_ADMIN_FORECAST:
        return tlm__insights_forecast_route(call);
    }
    return tlm__api_error(call, MHD_HTTP_NOT_FOUND, "no such route", NULL);
}
