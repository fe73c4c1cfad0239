/* Fuzz target: the whole POST /v1/batch decode path as the server runs it
 * (tlm__ingest_body: capped inflate, tlm__json_scan, per-event cJSON decode
 * in the thread's arena, tlm__event_validate, receipt), in front of an
 * in-memory store that implements the store vtable (deduplication on id
 * within the batch, like SQLite's INSERT OR IGNORE).
 *
 * Input: byte 0 selects the mode, the rest is the body.
 *   bit 0   0: Content-Encoding identity, the rest is the JSON body.
 *           1: gzip: the rest is sent as raw gzip bytes (malformed gzip),
 *              AND the rest is gzip'ed here and sent (deep JSON behind a
 *              valid gzip stream); the latter must answer exactly what the
 *              identity body does.
 *   bit 1   the store fails (the 500 path).
 *   bit 2-3 the inflated-size cap: 8 MiB (the default), 64 B, 1 KiB, 16 KiB.
 *   bit 4   gzip the rest as two members (RFC 1952 multi-member).
 *
 * Invariants: the status is 200/400/413/500 with a strict-JSON body; a
 * receipt's accepted + duplicates + rejected equals the number of elements
 * of "events" (counted again with cJSON), accepted + duplicates equals the
 * rows the store got, rejections are in index order with a reason; every
 * stored row holds a canonical lower-case id, a sample rate in (0, 1] and,
 * for requests, a status 0 or 100..599; a gzip'ed body decodes to exactly
 * its input. */
#include "fuzz_common.h"
#include "inflate.h"
#include "ingest.h"
#include "json_arena.h"
#include "json_scan.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <zlib.h>

#define DEFAULT_CAP (8u * 1024u * 1024u)

struct mem_store {
    struct tlm__store base;
    bool fail;
    bool called;
    size_t n_events;
    size_t n_bad;
    size_t event_count;
};

static bool
id_ok(const char *id)
{
    if (!tlm__event_uuid_valid(id, strlen(id)))
        return false;
    for (const char *p = id; *p != '\0'; p++) {
        if (isupper((unsigned char)*p))
            return false;
    }
    return true;
}

static void
check_row(const struct tlm__store_event *se)
{
    const struct tlm__event *ev = &se->ev;
    FUZZ_CHECK(ev->type == TLM_EVENT_REQUEST || ev->type == TLM_EVENT_ERROR,
        "type %d", (int)ev->type);
    FUZZ_CHECK(id_ok(ev->id), "stored id [%s]", ev->id);
    FUZZ_CHECK(ev->sample_rate > 0.0 && ev->sample_rate <= 1.0,
        "sample_rate %g", ev->sample_rate);
    FUZZ_CHECK(ev->environment != NULL
            && (strcmp(ev->environment, "production") == 0
                || strcmp(ev->environment, "sandbox") == 0),
        "environment");
    if (ev->type == TLM_EVENT_REQUEST) {
        FUZZ_CHECK(ev->has_status
                && (ev->status == 0
                    || (ev->status >= 100 && ev->status <= 599)),
            "status %d", ev->status);
        FUZZ_CHECK(ev->has_response_time && isfinite(ev->response_time_ms)
                && ev->response_time_ms >= 0,
            "response_time");
        FUZZ_CHECK(ev->endpoint != NULL && ev->endpoint[0] != '\0'
                && strlen(ev->endpoint) <= TLM_EVENT_MAX_ENDPOINT,
            "endpoint");
    } else {
        FUZZ_CHECK(ev->error_message != NULL, "error_message");
    }
    FUZZ_CHECK(se->payload != NULL && se->payload_len >= 2
            && se->payload[0] == '{' && se->payload[se->payload_len - 1] == '}',
        "payload is not the object's text");
}

static int
mem_insert(struct tlm__store *st, struct tlm__store_batch *b, size_t *accepted,
    size_t *duplicates)
{
    struct mem_store *m = (struct mem_store *)st;
    m->called = true;
    m->n_events = b->n_events;
    m->n_bad = b->n_bad;
    m->event_count = b->meta.event_count;
    FUZZ_CHECK(b->n_events + b->n_bad == b->meta.event_count,
        "rows %zu + bad %zu != events %zu", b->n_events, b->n_bad,
        b->meta.event_count);
    FUZZ_CHECK(b->meta.batch_id == NULL || strlen(b->meta.batch_id) <= 256,
        "batch_id too long");
    FUZZ_CHECK(b->meta.sent_at == NULL || strlen(b->meta.sent_at) <= 256,
        "sent_at too long");
    for (size_t i = 0; i < b->n_bad; i++) {
        FUZZ_CHECK(b->bad[i].reason != NULL && b->bad[i].reason[0] != '\0',
            "bad row without a reason");
        FUZZ_CHECK(b->bad[i].raw != NULL && b->bad[i].raw_len > 0, "bad raw");
    }
    *accepted = *duplicates = 0;
    if (m->fail)
        return -1;
    for (size_t i = 0; i < b->n_events; i++) {
        check_row(&b->events[i]);
        b->events[i].duplicate = false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(b->events[j].ev.id, b->events[i].ev.id) == 0) {
                b->events[i].duplicate = true;
                break;
            }
        }
        if (b->events[i].duplicate)
            (*duplicates)++;
        else
            (*accepted)++;
    }
    return 0;
}

static int
mem_dashboard(struct tlm__store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    (void)st;
    (void)q;
    (void)out;
    return -1;
}

static int
mem_list(struct tlm__store *st, const struct tlm__events_query *q,
    tlm__event_visit_fn visit, void *ctx, int64_t *next)
{
    (void)st;
    (void)q;
    (void)visit;
    (void)ctx;
    (void)next;
    return -1;
}

static void
mem_close(struct tlm__store *st)
{
    (void)st;
}

static int
mem_ping(struct tlm__store *st)
{
    (void)st;
    return 0;
}

static const struct tlm__store_ops mem_ops = {
    .name = "fuzz-memory",
    .insert_batch = mem_insert,
    .dashboard = mem_dashboard,
    .list_events = mem_list,
    .ping = mem_ping,
    .close = mem_close,
};

/* The body must be strict JSON: the server's own scanner says so. */
static void
check_strict_json(const char *body)
{
    static const char *const keys[] = {"error"};
    struct tlm__json_slice values[1];
    struct tlm__json_scan s;
    memset(&s, 0, sizeof(s));
    s.keys = keys;
    s.n_keys = 1;
    s.list_key = 1;
    s.values = values;
    enum tlm__json_scan_status rc = tlm__json_scan(&s, body, strlen(body));
    FUZZ_CHECK(rc == TLM_JSON_SCAN_OK, "response is not strict JSON (%d): %s",
        (int)rc, body);
    tlm__json_scan_free(&s);
}

/* Elements of the first "events" member of json, or -1 if cJSON cannot
 * tell (it failed on one of its limits, e.g. a number over 63 chars). */
static long
count_events(const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    long n = -1;
    if (root == NULL)
        return -1;
    cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "events");
    if (cJSON_IsArray(ev))
        n = cJSON_GetArraySize(ev);
    cJSON_Delete(root);
    return n;
}

static void
check_receipt(const struct mem_store *m, const char *response, const char *json,
    size_t json_len, bool have_json)
{
    cJSON *r = cJSON_Parse(response);
    FUZZ_CHECK(r != NULL, "receipt does not parse: %s", response);
    cJSON *acc = cJSON_GetObjectItemCaseSensitive(r, "accepted");
    cJSON *dup = cJSON_GetObjectItemCaseSensitive(r, "duplicates");
    cJSON *rej = cJSON_GetObjectItemCaseSensitive(r, "rejected");
    FUZZ_CHECK(cJSON_IsNumber(acc) && cJSON_IsNumber(dup) && cJSON_IsArray(rej),
        "receipt shape: %s", response);
    size_t a = (size_t)acc->valuedouble, d = (size_t)dup->valuedouble;
    size_t n_rej = (size_t)cJSON_GetArraySize(rej);
    FUZZ_CHECK(m->called, "200 without a store call");
    FUZZ_CHECK(a + d == m->n_events, "accepted %zu + duplicates %zu != %zu", a,
        d, m->n_events);
    FUZZ_CHECK(
        n_rej == m->n_bad, "rejected %zu != bad rows %zu", n_rej, m->n_bad);
    FUZZ_CHECK(a + d + n_rej == m->event_count,
        "accepted + duplicates + rejected != events found");
    if (have_json) {
        long n = count_events(json, json_len);
        FUZZ_CHECK(n < 0 || (size_t)n == m->event_count,
            "cJSON counts %ld events, the server %zu", n, m->event_count);
    }
    double last = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, rej)
    {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(it, "index");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "error");
        FUZZ_CHECK(cJSON_IsNumber(idx) && idx->valuedouble > last
                && idx->valuedouble < (double)m->event_count,
            "rejection index");
        last = idx->valuedouble;
        FUZZ_CHECK(cJSON_IsString(id) || cJSON_IsNull(id), "rejection id");
        FUZZ_CHECK(
            cJSON_IsString(e) && e->valuestring[0] != '\0', "rejection error");
    }
    cJSON_Delete(r);
}

/* Runs one body; checks the answer; returns the status and the response
 * (caller frees). json is the decoded text when the caller knows it. */
static int
run(const void *body, size_t len, enum tlm__encoding enc, size_t cap,
    bool store_fails, const char *json, size_t json_len, char **response)
{
    struct mem_store m;
    struct tlm__ingest_limits lim;
    memset(&lim, 0, sizeof(lim)); /* zero members: the server's defaults */
    lim.max_inflated_bytes = cap;
    memset(&m, 0, sizeof(m));
    m.base.ops = &mem_ops;
    m.fail = store_fails;
    int status = tlm__ingest_body(
        &m.base, body, len, enc, &lim, 1764878462345LL, response);
    FUZZ_CHECK(*response != NULL, "no response (status %d)", status);
    FUZZ_CHECK(status == 200 || status == 400 || status == 413 || status == 500,
        "status %d", status);
    check_strict_json(*response);
    if (status == 200) {
        FUZZ_CHECK(!store_fails, "200 from a failing store");
        check_receipt(&m, *response, json, json_len, json != NULL);
    } else {
        cJSON *r = cJSON_Parse(*response);
        cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
        FUZZ_CHECK(cJSON_IsString(e) && e->valuestring[0] != '\0',
            "error body: %s", *response);
        cJSON_Delete(r);
        FUZZ_CHECK(status != 500 || store_fails, "500 with a working store: %s",
            *response);
        FUZZ_CHECK(status != 413 || len > 0, "413 for an empty body");
        FUZZ_CHECK(!m.called || status == 500, "store called, then %d", status);
    }
    return status;
}

/* gzip of in (as one member, or two when split), malloc'ed. */
static unsigned char *
gzip(const uint8_t *in, size_t n, bool split, size_t *out_len)
{
    size_t parts = split ? 2 : 1, done = 0, used = 0;
    size_t cap = 64;
    unsigned char *out;
    for (size_t p = 0; p < parts; p++)
        cap += compressBound((uLong)n) + 32;
    out = malloc(cap);
    FUZZ_CHECK(out != NULL, "malloc");
    for (size_t p = 0; p < parts; p++) {
        size_t chunk = p + 1 == parts ? n - done : n / 2;
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        FUZZ_CHECK(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
                       Z_DEFAULT_STRATEGY)
                == Z_OK,
            "deflateInit2");
        zs.next_in = (Bytef *)(uintptr_t)(in + done);
        zs.avail_in = (uInt)chunk;
        zs.next_out = out + used;
        zs.avail_out = (uInt)(cap - used);
        FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate");
        used = cap - zs.avail_out;
        deflateEnd(&zs);
        done += chunk;
    }
    *out_len = used;
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[4] = {DEFAULT_CAP, 64, 1024, 16384};
    static bool installed;
    char *resp_id = NULL, *resp = NULL, *dec = NULL;
    size_t dec_len = 0;
    if (!installed) {
        tlm__json_arena_install(); /* as main() does */
        installed = true;
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    bool gz = mode & 1, store_fails = mode & 2, split = mode & 16;
    size_t cap = caps[(mode >> 2) & 3];
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    char *body = fuzz_memdup(rest, n);

    /* Identity: the rest is the JSON text. */
    int st_id = run(
        body, n, TLM_ENCODING_IDENTITY, cap, store_fails, body, n, &resp_id);
    FUZZ_CHECK(n <= cap || st_id == 413, "over the cap but %d", st_id);
    if (gz) {
        /* The rest as raw gzip bytes: mostly malformed streams. */
        enum tlm__decode_status ds = tlm__inflate_capped(
            body, n, TLM_ENCODING_GZIP, cap, &dec, &dec_len);
        FUZZ_CHECK(ds == TLM_DECODE_OK || ds == TLM_DECODE_TOO_LARGE
                || ds == TLM_DECODE_MALFORMED,
            "inflate status %d", (int)ds);
        if (ds == TLM_DECODE_OK) {
            FUZZ_CHECK(dec != NULL && dec_len <= cap && dec[dec_len] == '\0',
                "inflate output");
        } else {
            FUZZ_CHECK(dec == NULL, "output on failure");
        }
        int st = run(
            body, n, TLM_ENCODING_GZIP, cap, store_fails, dec, dec_len, &resp);
        FUZZ_CHECK(ds != TLM_DECODE_TOO_LARGE || st == 413, "413 expected");
        FUZZ_CHECK(ds != TLM_DECODE_MALFORMED || st == 400, "400 expected");
        free(resp);
        free(dec);
        resp = dec = NULL;

        /* The rest gzip'ed here: same answer as the identity body. */
        size_t zlen;
        unsigned char *z = gzip(rest, n, split, &zlen);
        size_t big_cap = n > cap ? n : cap;
        FUZZ_CHECK(tlm__inflate_capped(
                       z, zlen, TLM_ENCODING_GZIP, big_cap, &dec, &dec_len)
                    == TLM_DECODE_OK
                && dec_len == n && (n == 0 || memcmp(dec, rest, n) == 0),
            "gzip round trip of %zu bytes", n);
        free(dec);
        int st2
            = run(z, zlen, TLM_ENCODING_GZIP, cap, store_fails, body, n, &resp);
        FUZZ_CHECK(st2 == st_id && strcmp(resp, resp_id) == 0,
            "gzip and identity answers differ: %d %s / %d %s", st2, resp, st_id,
            resp_id);
        free(resp);
        free(z);
    }
    free(resp_id);
    free(body);
    return 0;
}
