/* Fuzz target: the request parsing of the routes added after
 * fuzz_http_parsing (issue 3): feedback, feature requests (list query,
 * cursor, votes, comments, admin status moves and merges), error groups,
 * reports, the dashboard's tier/endpoint filters and workflows, the portal
 * and the /admin/ page. Requests go through the server's own entry points
 * (tlm__api_begin, tlm__batch_upload, tlm__api_finish,
 * tlm__analytics_dashboard_filtered, tlm__portal_*, tlm__admin_page_*) with
 * no socket: this file defines the
 * few libmicrohttpd functions those call (MHD_lookup_connection_value and
 * the response calls), over a fake connection holding the request's
 * headers and decoded query arguments and recording the one answer. The
 * store is the real SQLite backend on a shared in-memory database
 * ("file:fuzz_routes?mode=memory&cache=shared"), emptied and re-seeded
 * before each input (feature requests fr-open, fr-planned, fr-done,
 * fr-other; comments, votes, feedback, deliveries, error groups eg-1,
 * eg-2): no file, no network, the same answer for the same input.
 *
 * Input: byte 0 picks the mode (modulo 13), byte 1 the variant, bytes 2-3
 * a little-endian mask of which fields are present; the rest is split at
 * NUL bytes into the mode's fields (field 0 is the path's {id} or path
 * part, then the query arguments listed below, in order) and whatever
 * follows the last field is the body (it may hold NUL bytes).
 * Variant bits: 0-1 the caller (admin token, ingestion key of "acme",
 * publishable key of "acme" from an allowed Origin, ingestion key of
 * "other" in sandbox); 2 Idempotency-Key "idem-1" (a create is then sent
 * twice: the second must replay the first); 3 gzip-declared body; 4-5 the
 * route alternative; 6-7 the seeded id used when field 0 is absent.
 *   0  POST /feedback (body) | GET /feedback/{id}
 *   1  GET /feature-requests | GET /admin/feature-requests:
 *      sort, status, limit, cursor, organization
 *   2  POST /feature-requests (body) | GET /feature-requests/{id}
 *   3  PUT | DELETE /feature-requests/{id}/vote: user_id; body
 *   4  GET | POST /feature-requests/{id}/comments: limit, cursor; body
 *   5  PUT /admin/feature-requests/{id}/status | POST .../merge: body
 *   6  GET /admin/feedback | /admin/webhooks/deliveries: limit, cursor,
 *      min_sentiment, max_sentiment, from, to, organization, type,
 *      category, feature, endpoint, environment
 *   7  GET /admin/errors | /admin/errors/{id} | PUT /admin/errors/{id}/status:
 *      sort, impact, status, limit, cursor, environment, endpoint; body
 *   8  GET /admin/analytics/reports/{id} | /admin/analytics/reports:
 *      format, from, to, environment, tier, endpoint
 *   9  GET /admin/analytics/dashboard's parser and document
 *      (tlm__analytics_dashboard_filtered at a fixed now): from, to,
 *      environment, tier, endpoint
 *  10  /portal{field 0} (GET, HEAD or POST): If-None-Match, key; and
 *      tlm__portal_find, tlm__portal_csp(field 3)
 *  11  /admin/{field 0} (GET, HEAD or POST): If-None-Match
 *  12  any request: method, url, Authorization, Origin, Host,
 *      Sec-Fetch-Site, Content-Encoding, Content-Length, Idempotency-Key,
 *      then up to 7 "name=value" query arguments; body
 * Invariants: exactly one answer per request; a known status and never a
 * 5xx (a store failure caused by a parsed value is a bug); every answered
 * header value free of CR/LF; a JSON answer is JSON, an error one has a
 * non-empty "error" and a "field" naming the start of that message (a
 * 400 without a field is about the body or a header); accepted values are
 * within the documented limits (feedback document, page sizes, statuses);
 * a next_cursor handed out is accepted back (and moves past the page); an
 * idempotent create replays; a report has its format's type and
 * attachment name; the portal's CSP holds no line break. */
#include "fuzz_common.h"
#include "admin_page.h"
#include "analytics.h"
#include "api.h"
#include "auth.h"
#include "categorize.h"
#include "http_internal.h"
#include "portal.h"
#include "report.h"
#include "store.h"
#include "store_feedback.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <strings.h>

#define DB_URI "file:fuzz_routes?mode=memory&cache=shared"
#define MAX_KV 24
#define N_MODES 13
#define NOW_MS 1764878462345LL /* 2025-12-04T20:01:02.345Z */

/* ---- a fake libmicrohttpd connection and response ------------------------
 * The server's code under test calls only these MHD functions on a request
 * path; defining them here (the executable's definitions win over the
 * shared library's) answers into the fake connection. */

struct kv {
    const char *name;
    const char *value;
};

struct MHD_Response {
    char *data;
    size_t size;
    struct kv h[MAX_KV];
    size_t nh;
};

struct MHD_Connection {
    struct kv hdr[MAX_KV];
    size_t n_hdr;
    struct kv arg[MAX_KV];
    size_t n_arg;
    /* the answer */
    int queued;
    unsigned status;
    char *body; /* NUL-terminated copy */
    size_t len;
    struct kv rh[MAX_KV]; /* strdup'ed */
    size_t n_rh;
};

const char *
MHD_lookup_connection_value(
    struct MHD_Connection *c, enum MHD_ValueKind kind, const char *key)
{
    FUZZ_CHECK(c != NULL && key != NULL, "lookup without a connection");
    if (kind & MHD_HEADER_KIND) {
        for (size_t i = 0; i < c->n_hdr; i++)
            if (strcasecmp(c->hdr[i].name, key) == 0)
                return c->hdr[i].value;
    }
    if (kind & MHD_GET_ARGUMENT_KIND) {
        for (size_t i = 0; i < c->n_arg; i++)
            if (strcmp(c->arg[i].name, key) == 0)
                return c->arg[i].value;
    }
    return NULL;
}

struct MHD_Response *
MHD_create_response_from_buffer(
    size_t size, void *buffer, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = calloc(1, sizeof(*r));
    FUZZ_CHECK(r != NULL, "calloc");
    r->data = fuzz_strndup(buffer, size);
    r->size = size;
    if (mode == MHD_RESPMEM_MUST_FREE)
        free(buffer);
    return r;
}

enum MHD_Result
MHD_add_response_header(
    struct MHD_Response *r, const char *name, const char *value)
{
    FUZZ_CHECK(name != NULL && value != NULL, "NULL header");
    FUZZ_CHECK(
        strpbrk(value, "\r\n") == NULL, "line break in %s: [%s]", name, value);
    FUZZ_CHECK(r->nh < MAX_KV, "too many headers");
    r->h[r->nh].name = strdup(name);
    r->h[r->nh].value = strdup(value);
    r->nh++;
    return MHD_YES;
}

enum MHD_Result
MHD_queue_response(
    struct MHD_Connection *c, unsigned int status, struct MHD_Response *r)
{
    FUZZ_CHECK(
        c->queued == 0, "a second answer (%u after %u)", status, c->status);
    c->queued = 1;
    c->status = status;
    c->body = fuzz_strndup((const uint8_t *)r->data, r->size);
    c->len = r->size;
    for (size_t i = 0; i < r->nh; i++) {
        c->rh[i].name = strdup(r->h[i].name);
        c->rh[i].value = strdup(r->h[i].value);
    }
    c->n_rh = r->nh;
    return MHD_YES;
}

void
MHD_destroy_response(struct MHD_Response *r)
{
    for (size_t i = 0; i < r->nh; i++) {
        free((char *)r->h[i].name);
        free((char *)r->h[i].value);
    }
    free(r->data);
    free(r);
}

static void
conn_reset_answer(struct MHD_Connection *c)
{
    for (size_t i = 0; i < c->n_rh; i++) {
        free((char *)c->rh[i].name);
        free((char *)c->rh[i].value);
    }
    free(c->body);
    c->body = NULL;
    c->len = 0;
    c->n_rh = 0;
    c->queued = 0;
    c->status = 0;
}

static const char *
answer_header(const struct MHD_Connection *c, const char *name)
{
    for (size_t i = 0; i < c->n_rh; i++)
        if (strcasecmp(c->rh[i].name, name) == 0)
            return c->rh[i].value;
    return NULL;
}

static void
add_kv(struct kv *t, size_t *n, const char *name, const char *value)
{
    if (value == NULL || *n == MAX_KV)
        return;
    t[*n].name = name;
    t[*n].value = value;
    (*n)++;
}

static void
set_arg(struct MHD_Connection *c, const char *name, const char *value)
{
    for (size_t i = 0; i < c->n_arg; i++) {
        if (strcmp(c->arg[i].name, name) == 0) {
            c->arg[i].value = value;
            return;
        }
    }
    add_kv(c->arg, &c->n_arg, name, value);
}

/* ---- the server: keyring, store, seeds ----------------------------------- */

static struct tlm__store *store;
static sqlite3 *db;
static struct tlm__auth *keyring;
static struct tlm__categories *categories;
static struct tlm__http_server srv;

#define ADMIN_TOKEN "fuzz-admin-token"

static const struct {
    const char *secret, *org, *env, *origins;
    bool publishable;
} keys[] = {
    {"tk_acme", "acme", "", "", false},
    {"pk_acme", "acme", "", "https://app.example,http://localhost:8080", true},
    {"tk_other", "other", "sandbox", "", false},
};

static const char *const seed_sql
    = "DELETE FROM feedback; DELETE FROM idempotency;"
      "DELETE FROM feature_requests; DELETE FROM fr_votes;"
      "DELETE FROM fr_history; DELETE FROM fr_comments;"
      "DELETE FROM notifications; DELETE FROM outbox; DELETE FROM deliveries;"
      "DELETE FROM error_groups; DELETE FROM error_group_minutes;"
      "DELETE FROM error_group_users; DELETE FROM error_group_endpoints;"
      "DELETE FROM error_alerts;"
      "INSERT INTO feature_requests(seq, id, organization, title, description,"
      " use_case, status, merged_into, user_id, votes, comments, created_ms,"
      " updated_ms) VALUES"
      " (1, 'fr-open', 'acme', 'Dark mode', 'Please', '', 'submitted', NULL,"
      "  'u1', 2, 3, 1764800000000, 1764800000000),"
      " (2, 'fr-planned', 'acme', 'Export', '', 'CSV', 'planned', NULL,"
      "  NULL, 1, 0, 1764800001000, 1764800001000),"
      " (3, 'fr-done', 'acme', 'SSO', '', '', 'completed', NULL, 'u2', 0, 0,"
      "  1764800002000, 1764800002000),"
      " (4, 'fr-other', 'other', 'Other org', '', '', 'under_review', NULL,"
      "  NULL, 0, 0, 1764800003000, 1764800003000);"
      "INSERT INTO fr_history(request_id, status, previous_status, reason,"
      " at_ms) VALUES ('fr-open', 'submitted', NULL, NULL, 1764800000000),"
      " ('fr-done', 'completed', 'in_progress', 'shipped', 1764800002000);"
      "INSERT INTO fr_votes(request_id, user_id, created_ms) VALUES"
      " ('fr-open', 'u1', 1764800000000), ('fr-open', 'u2', 1764800000001),"
      " ('fr-planned', 'u1', 1764800000002);"
      "INSERT INTO fr_comments(seq, id, request_id, body, author, user_id,"
      " created_ms) VALUES (1, 'c-1', 'fr-open', 'yes', 'ann', 'u1',"
      " 1764800000000), (2, 'c-2', 'fr-open', 'please', NULL, NULL,"
      " 1764800000001), (3, 'c-3', 'fr-open', '+1', NULL, 'u3',"
      " 1764800000002);"
      "INSERT INTO feedback(seq, id, organization, type, category, sentiment,"
      " rating, feature, endpoint, environment, created_ms, doc) VALUES"
      " (1, 'fb-1', 'acme', 'rating', 'ux', 0.5, 5, 'search', '/v1/search',"
      "  'production', 1764800000000, '{\"id\":\"fb-1\"}'),"
      " (2, 'fb-2', 'acme', 'issue', 'bug', -0.8, NULL, NULL, NULL,"
      "  'sandbox', 1764800000001, '{\"id\":\"fb-2\"}'),"
      " (3, 'fb-3', 'other', 'general', 'other', 0, NULL, NULL, NULL,"
      "  'production', 1764800000002, '{\"id\":\"fb-3\"}');"
      "INSERT INTO deliveries(seq, delivery_id, type, attempt, http_status,"
      " error, at_ms, delivered, gave_up, next_attempt_ms) VALUES"
      " (1, 'd-1', 'feedback.issue', 1, 500, 'HTTP 500', 1764800000000, 0, 0,"
      "  1764800060000), (2, 'd-1', 'feedback.issue', 2, 200, NULL,"
      "  1764800060000, 1, 0, NULL);"
      "INSERT INTO error_groups(id, fingerprint, environment,"
      " grouping_version, error_code, title, culprit, status, impact,"
      " max_severity, events, first_seen_ms, last_seen_ms) VALUES"
      " ('eg-1', 'f1', 'production', 1, 'E1', 'TypeError: x', 'GET /v1/a',"
      "  'unresolved', 2, 2, 5, 1764800000000, 1764870000000),"
      " ('eg-2', 'f2', 'sandbox', 1, NULL, 'Timeout', 'POST /v1/b',"
      "  'resolved', 0, 1, 1, 1764800000000, 1764800000000);"
      "INSERT INTO error_group_minutes(group_id, minute, severity, events)"
      " VALUES ('eg-1', 1764870000000, 2, 5);"
      "INSERT INTO error_group_endpoints(group_id, endpoint, events) VALUES"
      " ('eg-1', '/v1/a', 5);";

static void
server_free(void)
{
    tlm__report_release();
    tlm__store_close(store);
    sqlite3_close(db);
    tlm__auth_free(keyring);
    tlm__categories_free(categories);
}

static void
server_init(void)
{
    char err[256];
    struct tlm__key_row rows[3];
    size_t added = 0, revoked = 0;
    /* The URI names a shared in-memory database: the store's writer and
     * reader connections and the seeding one below all see it. */
    sqlite3_shutdown();
    FUZZ_CHECK(sqlite3_config(SQLITE_CONFIG_URI, 1) == SQLITE_OK, "URI");
    FUZZ_CHECK(
        sqlite3_open_v2(DB_URI, &db,
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL)
            == SQLITE_OK,
        "open %s", DB_URI);
    FUZZ_CHECK(tlm__store_open("sqlite:" DB_URI, &store, err, sizeof(err)) == 0,
        "store: %s", err);
    FUZZ_CHECK(tlm__auth_new(NULL, 0, &keyring) == 0
            && tlm__auth_add_config(keyring, NULL, 0, ADMIN_TOKEN) == 0,
        "keyring");
    memset(rows, 0, sizeof(rows));
    for (size_t i = 0; i < 3; i++) {
        snprintf(rows[i].id, sizeof(rows[i].id), "key-%zu", i);
        SHA256((const unsigned char *)keys[i].secret, strlen(keys[i].secret),
            rows[i].hash);
        snprintf(rows[i].organization, sizeof(rows[i].organization), "%s",
            keys[i].org);
        snprintf(rows[i].environment, sizeof(rows[i].environment), "%s",
            keys[i].env);
        rows[i].publishable = keys[i].publishable;
        snprintf(
            rows[i].origins, sizeof(rows[i].origins), "%s", keys[i].origins);
    }
    FUZZ_CHECK(
        tlm__auth_sync(keyring, rows, 3, &added, &revoked) == 0 && added == 3,
        "keys");
    memset(&srv, 0, sizeof(srv));
    srv.opt.auth = keyring;
    srv.opt.store = store;
    srv.opt.max_body_bytes = 32768;
    srv.opt.max_inflated_bytes = 65536;
    /* As main.c: the default set when the config names none. */
    categories = tlm__categories_default();
    FUZZ_CHECK(categories != NULL, "categories");
    srv.opt.categories = categories;
    atexit(server_free);
}

static void
reseed(void)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, seed_sql, NULL, NULL, &msg);
    FUZZ_CHECK(rc == SQLITE_OK, "seed: %s", msg != NULL ? msg : "?");
}

/* ---- one request --------------------------------------------------------- */

struct request {
    const char *method;
    char url[512];
    const char *body;
    size_t body_len;
    struct MHD_Connection c;
};

static const struct kv *
kv_find(const struct kv *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* Checks what every answer must be; returns the parsed JSON body (or
 * NULL when the answer is not JSON). TLM_FUZZ_VERBOSE prints each. */
static cJSON *
check_answer(const struct MHD_Connection *c)
{
    if (getenv("TLM_FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "  -> %u %.200s\n", c->status, c->body);
    static const unsigned known[] = {200, 201, 204, 301, 304, 308, 400, 401,
        403, 404, 405, 409, 413, 415, 429};
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        ok = ok || c->status == known[i];
    FUZZ_CHECK(ok, "status %u: %s", c->status, c->body);
    const char *type = answer_header(c, "Content-Type");
    FUZZ_CHECK(type != NULL, "no Content-Type (%u)", c->status);
    if (strncmp(type, "application/json", 16) != 0) {
        FUZZ_CHECK(
            c->status < 400, "a %u error answered as %s", c->status, type);
        return NULL;
    }
    cJSON *doc = cJSON_ParseWithLength(c->body, c->len);
    FUZZ_CHECK(doc != NULL, "not JSON (%u): %s", c->status, c->body);
    if (c->status >= 400) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, "field");
        FUZZ_CHECK(cJSON_IsString(e) && e->valuestring[0] != '\0',
            "an error without a message: %s", c->body);
        if (f != NULL) {
            FUZZ_CHECK(cJSON_IsString(f) && f->valuestring[0] != '\0'
                    && strncmp(e->valuestring, f->valuestring,
                           strlen(f->valuestring))
                        == 0,
                "field does not name the message: %s", c->body);
        } else if (c->status == 400) {
            FUZZ_CHECK(strncmp(e->valuestring, "body: ", 6) == 0
                    || strncmp(e->valuestring, "from", 4) == 0
                    || strncmp(e->valuestring, "to", 2) == 0
                    || strncmp(e->valuestring, "environment", 11) == 0
                    || strncmp(e->valuestring, "tier", 4) == 0
                    || strncmp(e->valuestring, "endpoint", 8) == 0,
                "a 400 naming no field: %s", c->body);
        }
    }
    return doc;
}

/* Runs r through the API front as libmicrohttpd would: the first call, the
 * body, the last call. Returns the answer's JSON (or NULL). */
static cJSON *
api_request(struct request *r)
{
    struct MHD_Connection *c = &r->c;
    void *cls = NULL;
    bool matched = false;
    conn_reset_answer(c);
    tlm__api_begin(&srv, c, r->url, r->method, &cls, &matched);
    if (!matched) {
        FUZZ_CHECK(c->queued == 0 && cls == NULL, "unmatched but answered");
        return NULL;
    }
    if (cls == NULL) {
        FUZZ_CHECK(c->queued == 1, "refused without an answer: %s", r->url);
        return check_answer(c);
    }
    FUZZ_CHECK(c->queued == 0, "answered on the first call");
    struct tlm__http_request *rq = cls;
    if (r->body_len > 0) {
        size_t n = r->body_len;
        tlm__batch_upload(&srv, rq, r->body, &n);
        FUZZ_CHECK(n == 0, "body not consumed");
    }
    tlm__api_finish(&srv, c, rq);
    free(rq->body);
    free(rq);
    atomic_fetch_sub(&srv.in_flight, 1);
    FUZZ_CHECK(c->queued == 1, "no answer for %s %s", r->method, r->url);
    return check_answer(c);
}

/* ---- input carving ------------------------------------------------------- */

struct input {
    unsigned mode, variant;
    unsigned mask;
    const char *f[MAX_KV];
    size_t n_f;
    const char *body;
    size_t body_len;
};

/* Splits buf (n bytes, NUL-terminated) into want fields; the rest after
 * the last one is the body. */
static void
carve(struct input *in, char *buf, size_t n, size_t want)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n && k < want; i++) {
        if (i == n || buf[i] == '\0') {
            in->f[k] = (in->mask >> k) & 1 ? buf + start : NULL;
            k++;
            start = i + 1;
        }
    }
    in->n_f = want;
    for (; k < want; k++)
        in->f[k] = NULL;
    in->body = start < n ? buf + start : NULL;
    in->body_len = start < n ? n - start : 0;
}

static const char *const seeded_fr[]
    = {"fr-open", "fr-planned", "fr-done", "fr-other"};
static const char *const seeded_eg[] = {"eg-1", "eg-2", "eg-9", "eg-1"};
static const char *const seeded_fb[] = {"fb-1", "fb-2", "fb-3", "nope"};

static void
set_caller(struct request *r, unsigned variant)
{
    static const char *const auth[] = {("Bearer " ADMIN_TOKEN),
        "Bearer tk_acme", "Bearer pk_acme", "Bearer tk_other"};
    struct MHD_Connection *c = &r->c;
    add_kv(c->hdr, &c->n_hdr, "Authorization", auth[variant & 3]);
    if ((variant & 3) == 2)
        add_kv(c->hdr, &c->n_hdr, "Origin", "https://app.example");
    if (variant & 4)
        add_kv(c->hdr, &c->n_hdr, "Idempotency-Key", "idem-1");
    if (variant & 8)
        add_kv(c->hdr, &c->n_hdr, "Content-Encoding", "gzip");
}

static const char *
org_of(unsigned variant)
{
    static const char *const orgs[] = {NULL, "acme", "acme", "other"};
    return orgs[variant & 3];
}

static const char *
id_or(const struct input *in, const char *const *seeded)
{
    return in->f[0] != NULL ? in->f[0] : seeded[(in->variant >> 6) & 3];
}

static void
set_args(struct request *r, const struct input *in, const char *const *names,
    size_t n)
{
    for (size_t i = 0; i < n && i + 1 < in->n_f; i++)
        add_kv(r->c.arg, &r->c.n_arg, names[i], in->f[i + 1]);
}

static void
url_printf(struct request *r, const char *fmt, const char *id)
{
    snprintf(r->url, sizeof(r->url), fmt, id);
}

/* s for a message: "(null)" when NULL. */
static const char *
shown(const char *s)
{
    return s != NULL ? s : "(null)";
}

static double
num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    FUZZ_CHECK(cJSON_IsNumber(v), "%s is not a number", name);
    return v->valuedouble;
}

static size_t
str_len(const cJSON *o, const char *name, bool nullable)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (nullable && cJSON_IsNull(v))
        return 0;
    FUZZ_CHECK(cJSON_IsString(v), "%s is not a string", name);
    return strlen(v->valuestring);
}

static bool
is_one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

/* A page's items and its cursor: at most limit items; a cursor is handed
 * back with the same query and must be accepted. */
static void
check_page(struct request *r, cJSON *doc, size_t limit, const char *key)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(doc, "next_cursor");
    FUZZ_CHECK(cJSON_IsArray(items), "items");
    FUZZ_CHECK((size_t)cJSON_GetArraySize(items) <= limit, "%d items > %zu",
        cJSON_GetArraySize(items), limit);
    FUZZ_CHECK(cJSON_IsNull(next) || cJSON_IsString(next), "next_cursor");
    if (!cJSON_IsString(next))
        return;
    char *cur = strdup(next->valuestring);
    char *first = key != NULL ? cJSON_PrintUnformatted(items) : NULL;
    set_arg(&r->c, "cursor", cur);
    cJSON *again = api_request(r);
    FUZZ_CHECK(r->c.status == 200, "own cursor %s refused: %s", cur, r->c.body);
    if (key != NULL) {
        /* The next page holds none of the first page's items. */
        const cJSON *it;
        cJSON *firsts = cJSON_Parse(first);
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(again, "items"))
        {
            const char *id = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(it, key));
            const cJSON *o;
            cJSON_ArrayForEach(o, firsts)
            {
                const char *id0 = cJSON_GetStringValue(
                    cJSON_GetObjectItemCaseSensitive(o, key));
                FUZZ_CHECK(id == NULL || id0 == NULL || strcmp(id, id0) != 0,
                    "%s %s on two pages", key, id);
            }
        }
        cJSON_Delete(firsts);
    }
    cJSON_Delete(again);
    free(first);
    free(cur);
}

static size_t
limit_of(const struct request *r, size_t def)
{
    const struct kv *l = kv_find(r->c.arg, r->c.n_arg, "limit");
    return l != NULL ? strtoul(l->value, NULL, 10) : def;
}

/* ---- 0, 2: creates (feedback, feature requests) -------------------------- */

static void
check_feedback_doc(const cJSON *d, unsigned variant)
{
    static const char *const types[]
        = {"issue", "suggestion", "rating", "general"};
    static const char *const envs[] = {"production", "sandbox"};
    const char *type = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(d, "feedback_type"));
    FUZZ_CHECK(is_one_of(type, types, 4), "feedback_type");
    size_t n = str_len(d, "content", false);
    FUZZ_CHECK(n >= 1 && n <= TLM_FEEDBACK_CONTENT_MAX, "content %zu", n);
    FUZZ_CHECK(tlm__categories_has(categories,
                   cJSON_GetStringValue(
                       cJSON_GetObjectItemCaseSensitive(d, "category"))),
        "category");
    double s = num(d, "sentiment");
    FUZZ_CHECK(s >= -1 && s <= 1, "sentiment %g", s);
    const cJSON *rating = cJSON_GetObjectItemCaseSensitive(d, "rating");
    if (!cJSON_IsNull(rating)) {
        double v = num(d, "rating");
        FUZZ_CHECK(v >= 1 && v <= 5 && v == floor(v), "rating %g", v);
    } else {
        FUZZ_CHECK(strcmp(type, "rating") != 0, "rating without a rating");
    }
    FUZZ_CHECK(str_len(d, "feature", true) <= TLM_TARGET_MAX, "feature");
    FUZZ_CHECK(str_len(d, "endpoint", true) <= TLM_TARGET_MAX, "endpoint");
    FUZZ_CHECK(str_len(d, "user_id", true) <= TLM_USER_ID_MAX, "user_id");
    const char *env = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(d, "environment"));
    FUZZ_CHECK(is_one_of(env, envs, 2), "environment");
    if ((variant & 3) == 3)
        FUZZ_CHECK(strcmp(env, "sandbox") == 0, "the key's environment");
    const char *org = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(d, "organization"));
    FUZZ_CHECK(
        org != NULL && strcmp(org, org_of(variant) ? org_of(variant) : "") == 0,
        "organization %s", shown(org));
    if (strcmp(type, "issue") == 0) {
        const cJSON *is = cJSON_GetObjectItemCaseSensitive(d, "issue");
        FUZZ_CHECK(cJSON_IsObject(is), "issue");
    }
}

static void
check_fr_doc(const cJSON *d, const char *org)
{
    size_t t = str_len(d, "title", false);
    FUZZ_CHECK(t >= 1 && t <= TLM_FR_TITLE_MAX, "title %zu", t);
    FUZZ_CHECK(str_len(d, "description", false) <= TLM_FR_TEXT_MAX, "desc");
    FUZZ_CHECK(str_len(d, "use_case", false) <= TLM_FR_TEXT_MAX, "use_case");
    FUZZ_CHECK(tlm__fr_status_index(cJSON_GetStringValue(
                   cJSON_GetObjectItemCaseSensitive(d, "status")))
            >= 0,
        "status");
    FUZZ_CHECK(num(d, "votes") >= 0 && num(d, "comments") >= 0, "counts");
    if (org != NULL) {
        const char *o = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(d, "organization"));
        FUZZ_CHECK(
            o != NULL && strcmp(o, org) == 0, "organization %s", shown(o));
    }
}

/* A create sent twice with one Idempotency-Key: the second replays. */
static void
check_replay(struct request *r, const cJSON *first)
{
    if (r->c.status != 201
        || kv_find(r->c.hdr, r->c.n_hdr, "Idempotency-Key") == NULL)
        return;
    const char *id1
        = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "id"));
    FUZZ_CHECK(id1 != NULL, "201 without an id");
    char *id = strdup(id1);
    cJSON *again = api_request(r);
    const char *rep = answer_header(&r->c, "Idempotent-Replayed");
    FUZZ_CHECK(r->c.status == 200 && rep != NULL && strcmp(rep, "true") == 0,
        "no replay: %u %s", r->c.status, r->c.body);
    const char *id2
        = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(again, "id"));
    FUZZ_CHECK(id2 != NULL && strcmp(id, id2) == 0, "replayed %s as %s", id,
        shown(id2));
    cJSON_Delete(again);
    free(id);
}

static void
mode_feedback(struct request *r, const struct input *in)
{
    if ((in->variant >> 4) & 1) {
        r->method = "GET";
        url_printf(r, "/feedback/%s", id_or(in, seeded_fb));
        cJSON_Delete(api_request(r));
        return;
    }
    r->method = "POST";
    url_printf(r, "/feedback", "");
    cJSON *doc = api_request(r);
    if (r->c.status == 201)
        check_feedback_doc(doc, in->variant);
    check_replay(r, doc);
    cJSON_Delete(doc);
}

static void
mode_fr_create(struct request *r, const struct input *in)
{
    if ((in->variant >> 4) & 1) {
        r->method = "GET";
        url_printf(r, "/feature-requests/%s", id_or(in, seeded_fr));
        cJSON *doc = api_request(r);
        if (r->c.status == 200)
            check_fr_doc(doc, org_of(in->variant));
        cJSON_Delete(doc);
        return;
    }
    r->method = "POST";
    url_printf(r, "/feature-requests", "");
    cJSON *doc = api_request(r);
    if (r->c.status == 201) {
        check_fr_doc(doc, org_of(in->variant) ? org_of(in->variant) : "");
        FUZZ_CHECK(strcmp(cJSON_GetStringValue(
                              cJSON_GetObjectItemCaseSensitive(doc, "status")),
                       "submitted")
                == 0,
            "a new request is submitted");
    }
    check_replay(r, doc);
    cJSON_Delete(doc);
}

/* ---- 1: feature-request list --------------------------------------------- */

static void
mode_fr_list(struct request *r, const struct input *in)
{
    static const char *const names[]
        = {"sort", "status", "limit", "cursor", "organization"};
    bool admin = (in->variant >> 4) & 1;
    r->method = "GET";
    url_printf(r, admin ? "/admin/feature-requests" : "/feature-requests", "");
    set_args(r, in, names, 5);
    cJSON *doc = api_request(r);
    if (r->c.status == 200) {
        const struct kv *st = kv_find(r->c.arg, r->c.n_arg, "status");
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "items"))
        {
            check_fr_doc(it, org_of(in->variant));
            const char *s = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(it, "status"));
            /* "status=" or "status=,," filters nothing (all statuses). */
            if (st != NULL && strspn(st->value, ",") != strlen(st->value))
                FUZZ_CHECK(strstr(st->value, s) != NULL,
                    "status %s not asked for (%s)", s, st->value);
        }
        check_page(r, doc, limit_of(r, 20), "id");
    }
    cJSON_Delete(doc);
}

/* ---- 3: votes ------------------------------------------------------------ */

static void
mode_vote(struct request *r, const struct input *in)
{
    static const char *const names[] = {"user_id"};
    bool add = !((in->variant >> 4) & 1);
    r->method = add ? "PUT" : "DELETE";
    url_printf(r, "/feature-requests/%s/vote", id_or(in, seeded_fr));
    set_args(r, in, names, 1);
    cJSON *doc = api_request(r);
    if (r->c.status == 200) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "voted");
        FUZZ_CHECK(cJSON_IsBool(v) && cJSON_IsTrue(v) == add, "voted");
        FUZZ_CHECK(num(doc, "votes") >= (add ? 1 : 0), "votes");
    }
    cJSON_Delete(doc);
}

/* ---- 4: comments --------------------------------------------------------- */

static void
mode_comments(struct request *r, const struct input *in)
{
    static const char *const names[] = {"limit", "cursor"};
    bool post = (in->variant >> 4) & 1;
    r->method = post ? "POST" : "GET";
    url_printf(r, "/feature-requests/%s/comments", id_or(in, seeded_fr));
    set_args(r, in, names, 2);
    cJSON *doc = api_request(r);
    if (!post && r->c.status == 200)
        check_page(r, doc, limit_of(r, 50), "id");
    if (post && r->c.status == 201) {
        size_t n = str_len(doc, "body", false);
        FUZZ_CHECK(n >= 1 && n <= TLM_COMMENT_MAX, "comment %zu", n);
        FUZZ_CHECK(str_len(doc, "author", true) <= 128, "author");
    }
    cJSON_Delete(doc);
}

/* ---- 5: admin status moves and merges ------------------------------------ */

static void
mode_fr_admin(struct request *r, const struct input *in)
{
    bool merge = (in->variant >> 4) & 1;
    r->method = merge ? "POST" : "PUT";
    url_printf(r,
        merge ? "/admin/feature-requests/%s/merge"
              : "/admin/feature-requests/%s/status",
        id_or(in, seeded_fr));
    cJSON *doc = api_request(r);
    if (r->c.status == 200) {
        check_fr_doc(doc, NULL);
        const char *s = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(doc, "status"));
        if (merge) {
            FUZZ_CHECK(strcmp(s, "declined") == 0, "merged but %s", s);
            FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
                           doc, "merged_into")),
                "merged_into");
        } else {
            cJSON *b = cJSON_ParseWithLength(r->body, r->body_len);
            const char *want = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(b, "status"));
            /* The body went through the privacy pass: compare when it
             * parses here as well. */
            FUZZ_CHECK(want == NULL || strcmp(want, s) == 0,
                "asked for %s, got %s", want, s);
            cJSON_Delete(b);
        }
    }
    if (r->c.status == 409 && !merge) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "allowed");
        FUZZ_CHECK(a == NULL || cJSON_IsArray(a), "allowed");
    }
    cJSON_Delete(doc);
}

/* ---- 6: admin feedback and webhook deliveries ---------------------------- */

static void
mode_admin_lists(struct request *r, const struct input *in)
{
    static const char *const names[] = {"limit", "cursor", "min_sentiment",
        "max_sentiment", "from", "to", "organization", "type", "category",
        "feature", "endpoint", "environment"};
    bool deliveries = (in->variant >> 4) & 1;
    r->method = "GET";
    url_printf(
        r, deliveries ? "/admin/webhooks/deliveries" : "/admin/feedback", "");
    set_args(r, in, names, 12);
    cJSON *doc = api_request(r);
    if (r->c.status == 200 && !deliveries) {
        /* An accepted sentiment bound is a number -1..1. */
        for (size_t i = 2; i < 4; i++) {
            const struct kv *a = kv_find(r->c.arg, r->c.n_arg, names[i]);
            double v = a != NULL ? strtod(a->value, NULL) : 0;
            /* Finding "admin-feedback-sentiment-nan": number_arg
             * (server/feedback_route.c) accepts "nan" (NaN compares false
             * with both bounds). */
            if (isnan(v) && fuzz_known("admin-feedback-sentiment-nan"))
                v = 0;
            FUZZ_CHECK(v >= -1 && v <= 1, "%s=%s accepted", names[i], a->value);
        }
    }
    if (r->c.status == 200)
        check_page(r, doc, limit_of(r, 50), deliveries ? NULL : "id");
    cJSON_Delete(doc);
}

/* ---- 7: error groups ----------------------------------------------------- */

static void
mode_errors(struct request *r, const struct input *in)
{
    static const char *const names[] = {"sort", "impact", "status", "limit",
        "cursor", "environment", "endpoint"};
    static const char *const statuses[] = {"unresolved", "resolved", "ignored"};
    unsigned alt = (in->variant >> 4) & 3;
    if (alt == 0 || alt == 3) {
        r->method = "GET";
        url_printf(r, "/admin/errors", "");
        set_args(r, in, names, 7);
        cJSON *doc = api_request(r);
        if (r->c.status == 200) {
            const cJSON *it;
            const struct kv *st = kv_find(r->c.arg, r->c.n_arg, "status");
            cJSON_ArrayForEach(
                it, cJSON_GetObjectItemCaseSensitive(doc, "items"))
            {
                const char *s = cJSON_GetStringValue(
                    cJSON_GetObjectItemCaseSensitive(it, "status"));
                FUZZ_CHECK(is_one_of(s, statuses, 3), "group status");
                if (st != NULL)
                    FUZZ_CHECK(strcmp(s, st->value) == 0, "status filter");
            }
            check_page(r, doc, limit_of(r, 50), "id");
        }
        cJSON_Delete(doc);
        return;
    }
    r->method = alt == 1 ? "GET" : "PUT";
    url_printf(r, alt == 1 ? "/admin/errors/%s" : "/admin/errors/%s/status",
        id_or(in, seeded_eg));
    cJSON *doc = api_request(r);
    if (r->c.status == 200) {
        const char *s = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(doc, "status"));
        FUZZ_CHECK(is_one_of(s, statuses, 3), "group status %s", s);
    }
    cJSON_Delete(doc);
}

/* ---- 8: reports ---------------------------------------------------------- */

static void
mode_reports(struct request *r, const struct input *in)
{
    static const char *const names[]
        = {"format", "from", "to", "environment", "tier", "endpoint"};
    static const char *const seeded[]
        = {"usage-summary", "endpoint-performance", "errors", "feedback"};
    r->method = "GET";
    if ((in->variant >> 4) & 1) {
        url_printf(r, "/admin/analytics/reports", "");
        cJSON *doc = api_request(r);
        size_t n = 0;
        tlm__report_builtins(&n);
        FUZZ_CHECK(r->c.status != 200
                || (size_t)cJSON_GetArraySize(
                       cJSON_GetObjectItemCaseSensitive(doc, "items"))
                    == n,
            "report list");
        cJSON_Delete(doc);
        return;
    }
    const char *id = id_or(in, seeded);
    url_printf(r, "/admin/analytics/reports/%s", id);
    set_args(r, in, names, 6);
    cJSON *doc = api_request(r);
    if (r->c.status == 200) {
        const struct kv *f = kv_find(r->c.arg, r->c.n_arg, "format");
        const char *fmt = f != NULL ? f->value : "json";
        const char *type = answer_header(&r->c, "Content-Type");
        const char *disp = answer_header(&r->c, "Content-Disposition");
        char want[128];
        FUZZ_CHECK(tlm__report_find(id) != NULL, "unknown report %s", id);
        snprintf(want, sizeof(want), "attachment; filename=\"%s-", id);
        FUZZ_CHECK(disp != NULL && strncmp(disp, want, strlen(want)) == 0,
            "Content-Disposition %s", shown(disp));
        if (strcmp(fmt, "pdf") == 0)
            FUZZ_CHECK(strcmp(type, "application/pdf") == 0 && r->c.len > 4
                    && memcmp(r->c.body, "%PDF", 4) == 0,
                "pdf");
        else if (strcmp(fmt, "csv") == 0)
            FUZZ_CHECK(
                strncmp(type, "text/csv", 8) == 0 && r->c.len > 0, "csv");
        else
            FUZZ_CHECK(
                strcmp(fmt, "json") == 0 && doc != NULL && cJSON_IsObject(doc),
                "format %s", fmt);
    }
    cJSON_Delete(doc);
}

/* ---- 9: dashboard with the newer filters and workflows ------------------- */

static void
mode_dashboard(struct request *r, const struct input *in)
{
    static const char *const names[]
        = {"from", "to", "environment", "tier", "endpoint"};
    static const char *const envs[] = {"production", "sandbox"};
    const char *v[5];
    char *json = NULL;
    /* Field 0 is unused here: the arguments start at field 1. */
    set_args(r, in, names, 5);
    for (size_t i = 0; i < 5; i++) {
        const struct kv *a = kv_find(r->c.arg, r->c.n_arg, names[i]);
        v[i] = a != NULL ? a->value : NULL;
    }
    int status = tlm__analytics_dashboard_filtered(
        store, v[0], v[1], v[2], v[3], v[4], NOW_MS, &json);
    FUZZ_CHECK(json != NULL, "dashboard: no document (%d)", status);
    FUZZ_CHECK(
        status == 200 || status == 400, "dashboard %d: %s", status, json);
    cJSON *doc = cJSON_Parse(json);
    FUZZ_CHECK(cJSON_IsObject(doc), "dashboard: not JSON: %s", json);
    if (status == 400) {
        const char *e = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(doc, "error"));
        FUZZ_CHECK(e != NULL && e[0] != '\0', "dashboard: no error");
    } else {
        /* The window and the filters come back as asked. */
        const cJSON *range = cJSON_GetObjectItemCaseSensitive(doc, "range");
        const char *env = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(range, "environment"));
        FUZZ_CHECK(is_one_of(env, envs, 2), "dashboard environment");
        FUZZ_CHECK(
            v[2] == NULL || strcmp(env, v[2]) == 0, "environment %s", env);
        for (size_t i = 3; i < 5; i++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(range, names[i]);
            FUZZ_CHECK(v[i] == NULL
                    ? cJSON_IsNull(f)
                    : cJSON_IsString(f) && strcmp(f->valuestring, v[i]) == 0,
                "%s [%s] not echoed", names[i], shown(v[i]));
        }
    }
    cJSON_Delete(doc);
    free(json);
}

/* ---- 10, 11: portal and admin page --------------------------------------- */

static const char *
static_method(unsigned variant)
{
    static const char *const m[] = {"GET", "HEAD", "POST", "GET"};
    return m[(variant >> 4) & 3];
}

static void
mode_portal(struct request *r, const struct input *in)
{
    const char *path = in->f[0] != NULL ? in->f[0] : "/";
    snprintf(r->url, sizeof(r->url), "/portal%s", path);
    r->method = static_method(in->variant);
    add_kv(r->c.hdr, &r->c.n_hdr, "If-None-Match", in->f[1]);
    add_kv(r->c.arg, &r->c.n_arg, "key", in->f[2]);
    cJSON_Delete(api_request(r));
    /* "/portalX" is not the portal's: http.c answers it (404). */
    bool portal
        = strncmp(r->url, "/portal/", 8) == 0 || strcmp(r->url, "/portal") == 0;
    FUZZ_CHECK(r->c.queued == portal, "portal: %d answers for %s", r->c.queued,
        r->url);
    if (r->c.status == 200) {
        const char *csp = answer_header(&r->c, "Content-Security-Policy");
        FUZZ_CHECK(csp != NULL, "portal without a CSP");
    }
    const struct tlm__portal_file *f = tlm__portal_find(r->url);
    if (f != NULL)
        FUZZ_CHECK(
            strchr(f->name, '/') == NULL && f->data != NULL && f->etag != NULL,
            "portal file");
    if (in->f[3] != NULL) {
        char *csp = tlm__portal_csp(in->f[3]);
        FUZZ_CHECK(csp != NULL, "csp: out of memory");
        FUZZ_CHECK(strpbrk(csp, "\r\n") == NULL, "line break in the CSP");
        free(csp);
    }
}

static void
mode_admin_page(struct request *r, const struct input *in)
{
    const char *path = in->f[0] != NULL ? in->f[0] : "";
    snprintf(r->url, sizeof(r->url), "/admin/%s", path);
    r->method = static_method(in->variant);
    add_kv(r->c.hdr, &r->c.n_hdr, "If-None-Match", in->f[1]);
    bool m = tlm__admin_page_match(r->url);
    const struct tlm__portal_file *f = tlm__admin_page_find(r->url);
    /* Any /admin/vendor/ path matches (and may name no file: 404). */
    FUZZ_CHECK(f == NULL || m, "a file for %s but no match", r->url);
    FUZZ_CHECK(!m || f != NULL || strncmp(r->url, "/admin/vendor/", 14) == 0,
        "matched %s but no file", r->url);
    if (!m)
        return;
    conn_reset_answer(&r->c);
    tlm__admin_page_serve(&r->c, r->url, r->method);
    FUZZ_CHECK(r->c.queued == 1, "admin page: no answer");
    cJSON_Delete(check_answer(&r->c));
    FUZZ_CHECK(r->c.status == 200 || r->c.status == 304 || r->c.status == 404
            || r->c.status == 405,
        "admin page %u", r->c.status);
    if (r->c.status == 200)
        FUZZ_CHECK(answer_header(&r->c, "Content-Security-Policy") != NULL,
            "admin page without a CSP");
}

/* ---- 12: any request ----------------------------------------------------- */

static void
mode_raw(struct request *r, const struct input *in)
{
    static const char *const hdrs[]
        = {"Authorization", "Origin", "Host", "Sec-Fetch-Site",
            "Content-Encoding", "Content-Length", "Idempotency-Key"};
    r->method = in->f[0] != NULL ? in->f[0] : "GET";
    snprintf(r->url, sizeof(r->url), "%s", in->f[1] != NULL ? in->f[1] : "/");
    for (size_t i = 0; i < 7; i++) {
        const char *v = in->f[2 + i];
        /* libmicrohttpd never hands a header value with a line break. */
        if (v != NULL && strpbrk(v, "\r\n") == NULL)
            add_kv(r->c.hdr, &r->c.n_hdr, hdrs[i], v);
    }
    for (size_t i = 9; i < 16; i++) {
        char *v = (char *)in->f[i];
        char *eq = v != NULL ? strchr(v, '=') : NULL;
        if (eq == NULL)
            continue;
        *eq = '\0';
        add_kv(r->c.arg, &r->c.n_arg, v, eq + 1);
    }
    cJSON_Delete(api_request(r));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t fields[N_MODES]
        = {1, 6, 1, 2, 3, 1, 13, 8, 7, 6, 4, 2, 16};
    struct input in;
    struct request r;
    if (size < 4)
        return 0;
    if (store == NULL)
        server_init();
    memset(&in, 0, sizeof(in));
    memset(&r, 0, sizeof(r));
    in.mode = data[0] % N_MODES;
    in.variant = data[1];
    in.mask = (unsigned)data[2] | (unsigned)data[3] << 8;
    char *buf = fuzz_strndup(data + 4, size - 4);
    carve(&in, buf, size - 4, fields[in.mode]);
    /* An exact-size copy of the body: overreads are caught. */
    char *body = in.body != NULL
        ? fuzz_memdup((const uint8_t *)in.body, in.body_len)
        : NULL;
    r.body = body;
    r.body_len = in.body_len;
    reseed();
    if (in.mode <= 8)
        set_caller(&r, in.variant);
    switch (in.mode) {
    case 0:
        mode_feedback(&r, &in);
        break;
    case 1:
        mode_fr_list(&r, &in);
        break;
    case 2:
        mode_fr_create(&r, &in);
        break;
    case 3:
        mode_vote(&r, &in);
        break;
    case 4:
        mode_comments(&r, &in);
        break;
    case 5:
        mode_fr_admin(&r, &in);
        break;
    case 6:
        mode_admin_lists(&r, &in);
        break;
    case 7:
        mode_errors(&r, &in);
        break;
    case 8:
        mode_reports(&r, &in);
        break;
    case 9:
        mode_dashboard(&r, &in);
        break;
    case 10:
        mode_portal(&r, &in);
        break;
    case 11:
        mode_admin_page(&r, &in);
        break;
    default:
        mode_raw(&r, &in);
        break;
    }
    conn_reset_answer(&r.c);
    free(body);
    free(buf);
    return 0;
}
