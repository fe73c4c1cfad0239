/* Check suite for server/ingest.c and server/inflate.c: batch decoding,
 * per-event validation receipts, dedupe, and the inflate cap, against a real
 * SQLite store in a temporary directory. */
#include "ingest.h"
#include "inflate.h"
#include "json_arena.h"
#include "scrub.h"
#include "scrub_pass.h"
#include "store.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

/* Arrival time of every batch: just after the events' timestamps, so the
 * timestamp window (24 h ahead, 30 days back) admits them. */
#define RECEIVED_MS 1796414463000LL /* 2026-12-04T20:01:03Z */

static char dir[64];
static char db_path[128];
static struct tlm__store *store;

static void
setup(void)
{
    char err[256];
    tlm__json_arena_install(); /* as main() does: events decode in arenas */
    snprintf(dir, sizeof(dir), "/tmp/tlm-ingest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "sqlite:%s/t.db", dir);
    ck_assert_int_eq(tlm__store_open(db_path, &store, err, sizeof(err)), 0);
}

static void
teardown(void)
{
    char cmd[128];
    tlm__store_close(store);
    store = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char base_event[]
    = "{\"type\":\"request\",\"id\":\"0190a000-0000-7000-8000-%012d\","
      "\"timestamp\":\"2026-12-04T20:01:02.345Z\",\"environment\":"
      "\"production\",\"sample_rate\":1.0,\"endpoint\":\"/v1/users/{id}\","
      "\"method\":\"GET\",\"response_status\":200,\"response_time\":12.5,"
      "\"user_id\":\"u\",\"organization_id\":\"o\",\"access_tier\":\"free\","
      "\"request_details\":{},\"client_info\":{\"sdk\":\"libtelemetry\"}}";

static cJSON *
event(int n)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), base_event, n);
    cJSON *e = cJSON_Parse(buf);
    ck_assert_ptr_nonnull(e);
    return e;
}

/* Wraps events (taken over) in a batch and returns its text. */
static char *
batch_text(cJSON *events)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(
        root, "batch_id", "0190a000-0000-7000-8000-00000000b001");
    cJSON_AddStringToObject(root, "sent_at", "2026-12-04T20:01:03.000Z");
    cJSON *sdk = cJSON_AddObjectToObject(root, "sdk");
    cJSON_AddStringToObject(sdk, "name", "libtelemetry");
    cJSON_AddStringToObject(sdk, "version", "0.1.0");
    cJSON_AddStringToObject(sdk, "binding", "c");
    cJSON_AddObjectToObject(root, "client_stats");
    cJSON_AddItemToObject(root, "events", events);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

static cJSON *
events_n(int first, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, event(first + i));
    return arr;
}

/* Ingests identity text; returns the status and the parsed response. */
static int
ingest_text(const char *text, cJSON **resp)
{
    char *out = NULL;
    struct tlm__ingest_limits lim = {8u << 20};
    int status = tlm__ingest_body(store, text, strlen(text),
        TLM_ENCODING_IDENTITY, &lim, RECEIVED_MS, &out);
    ck_assert_ptr_nonnull(out);
    *resp = cJSON_Parse(out);
    ck_assert_ptr_nonnull(*resp);
    free(out);
    return status;
}

static int
num(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsNumber(it), "missing number %s", k);
    return it->valueint;
}

static int
count_rows(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int n = -1;
    char path[160];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static unsigned char *
gzip_bytes(const void *in, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(
        deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
        Z_OK);
    size_t cap = deflateBound(&zs, len);
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static int
under_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 1;
#else
    return 0;
#endif
#else
    return 0;
#endif
}

START_TEST(ingest_valid_batch_accepted)
{
    cJSON *resp;
    char *text = batch_text(events_n(1, 3));
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 3);
    ck_assert_int_eq(num(resp, "duplicates"), 0);
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(resp, "rejected")), 0);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events"), 3);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM batches WHERE "
                                "sdk_name = 'libtelemetry' AND "
                                "event_count = 3"),
        1);
    cJSON_Delete(resp);
    free(text);
}
END_TEST

/* One field change each, and the field the reason must name. */
static const struct {
    const char *field;
    const char *value; /* JSON text; NULL removes the field */
    const char *reason_prefix;
} invalid[] = {
    {"type", "\"metric\"", "type: unknown event type"},
    {"type", NULL, "type:"},
    {"id", "\"0190a000-0000-7000-8000\"", "id:"},
    {"id", "\"0190a000x0000-7000-8000-000000000001\"", "id:"},
    {"id", "42", "id:"},
    {"timestamp", "\"2026-13-04T20:01:02Z\"", "timestamp:"},
    {"timestamp", "\"2026-02-30T20:01:02Z\"", "timestamp:"},
    {"timestamp", "\"yesterday\"", "timestamp:"},
    {"timestamp", NULL, "timestamp:"},
    {"endpoint", NULL, "endpoint:"},
    {"endpoint", "\"\"", "endpoint:"},
    {"endpoint", "7", "endpoint:"},
    {"response_status", "\"200\"",
        "response_status: expected integer 0 (no response) or 100..599"},
    {"response_status", "99", "response_status:"},
    {"response_status", "1", "response_status:"},
    {"response_status", "-1", "response_status:"},
    {"response_status", "0.5", "response_status:"},
    {"response_status", "600", "response_status:"},
    {"response_status", "200.5", "response_status:"},
    {"response_status", NULL, "response_status:"},
    {"response_time", "-1", "response_time:"},
    {"response_time", "\"fast\"", "response_time:"},
    {"response_time", NULL, "response_time:"},
    {"sample_rate", "0", "sample_rate:"},
    {"sample_rate", "1.5", "sample_rate:"},
    {"environment", "\"staging\"", "environment:"},
    {"method", "3", "method:"},
    {"user_id", "{}", "user_id:"},
    {"organization_id", "[]", "organization_id:"},
    {"access_tier", "true", "access_tier:"},
    {"request_details", "\"x\"", "request_details:"},
    {"client_info", "1", "client_info:"},
    {"response_time", "1e400", "response_time:"},
    {"sample_rate", "\"1\"", "sample_rate:"},
};

START_TEST(ingest_rejects_each_invalid_field)
{
    cJSON *e = event(_i + 1);
    if (invalid[_i].value == NULL)
        cJSON_DeleteItemFromObject(e, invalid[_i].field);
    else
        cJSON_ReplaceItemInObject(
            e, invalid[_i].field, cJSON_Parse(invalid[_i].value));
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, event(100)); /* a valid neighbour */
    cJSON_AddItemToArray(arr, e);
    char *text = batch_text(arr);
    cJSON *resp;
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 1);
    cJSON *rej = cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "rejected"), 0);
    ck_assert_ptr_nonnull(rej);
    ck_assert_int_eq(num(rej, "index"), 1);
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(rej, "error"));
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strncmp(why, invalid[_i].reason_prefix,
                      strlen(invalid[_i].reason_prefix))
            == 0,
        "%s=%s: got \"%s\"", invalid[_i].field,
        invalid[_i].value ? invalid[_i].value : "(absent)", why);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM bad_rows"), 1);
    cJSON_Delete(resp);
    free(text);
}
END_TEST

START_TEST(ingest_error_event_rules)
{
    const char *ok = "{\"events\":[{\"type\":\"error\",\"id\":"
                     "\"0190a000-0000-7000-8000-0000000000e1\",\"timestamp\":"
                     "\"2026-12-04T20:01:02.345+01:00\",\"error_message\":"
                     "\"boom\",\"error_code\":\"E42\"},{\"type\":\"error\","
                     "\"id\":\"0190a000-0000-7000-8000-0000000000e2\","
                     "\"timestamp\":\"2026-12-04T20:01:02Z\"}]}";
    cJSON *resp;
    ck_assert_int_eq(ingest_text(ok, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 1);
    cJSON *rej = cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "rejected"), 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rej, "id")),
        "0190a000-0000-7000-8000-0000000000e2");
    ck_assert_ptr_nonnull(
        strstr(cJSON_GetStringValue(cJSON_GetObjectItem(rej, "error")),
            "error_message:"));
    cJSON_Delete(resp);
}
END_TEST

START_TEST(ingest_gzip_decoded)
{
    char *text = batch_text(events_n(1, 50));
    size_t glen;
    unsigned char *gz = gzip_bytes(text, strlen(text), &glen);
    struct tlm__ingest_limits lim = {8u << 20};
    char *out = NULL;
    ck_assert_int_eq(tlm__ingest_body(store, gz, glen, TLM_ENCODING_GZIP, &lim,
                         RECEIVED_MS, &out),
        200);
    ck_assert_ptr_nonnull(strstr(out, "\"accepted\":50"));
    free(out);
    free(gz);
    free(text);
}
END_TEST

START_TEST(ingest_gzip_multi_member)
{
    size_t l1, l2;
    unsigned char *a = gzip_bytes("{\"events\":", 10, &l1);
    unsigned char *b = gzip_bytes("[]}", 3, &l2);
    unsigned char *both = malloc(l1 + l2);
    memcpy(both, a, l1);
    memcpy(both + l1, b, l2);
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(
        tlm__inflate_capped(both, l1 + l2, TLM_ENCODING_GZIP, 100, &out, &len),
        TLM_DECODE_OK);
    ck_assert_str_eq(out, "{\"events\":[]}");
    free(out);
    free(both);
    free(a);
    free(b);
}
END_TEST

/* 256 MiB of zeros in ~250 KiB: under an address-space limit far below the
 * inflated size, the decoder must still answer TOO_LARGE, not run out. */
START_TEST(ingest_gzip_bomb_hits_cap)
{
    size_t zlen = 1u << 20, glen = 0;
    unsigned char *zeros = calloc(1, zlen);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(
        deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
        Z_OK);
    size_t gcap = 1u << 20;
    unsigned char *gz = malloc(gcap);
    zs.next_out = gz;
    zs.avail_out = (uInt)gcap;
    for (int i = 0; i < 256; i++) {
        zs.next_in = zeros;
        zs.avail_in = (uInt)zlen;
        ck_assert_int_eq(deflate(&zs, i == 255 ? Z_FINISH : Z_NO_FLUSH),
            i == 255 ? Z_STREAM_END : Z_OK);
    }
    glen = zs.total_out;
    deflateEnd(&zs);
    free(zeros);
    ck_assert_uint_lt(glen, 1u << 20);

    struct rlimit rl = {64u << 20, 64u << 20}; /* well below 256 MiB */
    struct rlimit cur;
    getrlimit(RLIMIT_DATA, &cur);
    /* ASan and TSan reserve terabytes of shadow memory: under them, the
     * cap is checked by the result alone, not by the memory limit. */
    if (!under_sanitizer())
        ck_assert_int_eq(setrlimit(RLIMIT_DATA, &rl), 0);
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(
        tlm__inflate_capped(gz, glen, TLM_ENCODING_GZIP, 8u << 20, &out, &len),
        TLM_DECODE_TOO_LARGE);
    ck_assert_ptr_null(out);
    setrlimit(RLIMIT_DATA, &cur);

    struct tlm__ingest_limits lim = {8u << 20};
    char *resp = NULL;
    ck_assert_int_eq(tlm__ingest_body(store, gz, glen, TLM_ENCODING_GZIP, &lim,
                         RECEIVED_MS, &resp),
        413);
    free(resp);
    free(gz);
}
END_TEST

START_TEST(ingest_inflate_exact_cap)
{
    char *out = NULL;
    size_t len = 0, glen;
    unsigned char *gz = gzip_bytes("0123456789", 10, &glen);
    ck_assert_int_eq(
        tlm__inflate_capped(gz, glen, TLM_ENCODING_GZIP, 10, &out, &len),
        TLM_DECODE_OK);
    ck_assert_uint_eq(len, 10);
    free(out);
    ck_assert_int_eq(
        tlm__inflate_capped(gz, glen, TLM_ENCODING_GZIP, 9, &out, &len),
        TLM_DECODE_TOO_LARGE);
    ck_assert_int_eq(tlm__inflate_capped("0123456789", 10,
                         TLM_ENCODING_IDENTITY, 9, &out, &len),
        TLM_DECODE_TOO_LARGE);
    free(gz);
}
END_TEST

START_TEST(ingest_malformed_gzip)
{
    struct tlm__ingest_limits lim = {8u << 20};
    char *resp = NULL;
    ck_assert_int_eq(tlm__ingest_body(store, "not gzip at all", 15,
                         TLM_ENCODING_GZIP, &lim, RECEIVED_MS, &resp),
        400);
    ck_assert_ptr_nonnull(strstr(resp, "gzip"));
    free(resp);
}
END_TEST

START_TEST(ingest_truncated_gzip)
{
    char *text = batch_text(events_n(1, 5));
    size_t glen;
    unsigned char *gz = gzip_bytes(text, strlen(text), &glen);
    char *out = NULL;
    size_t len = 0;
    /* Cut in the deflate data, and cut only the 8-byte trailer. */
    ck_assert_int_eq(tlm__inflate_capped(
                         gz, glen / 2, TLM_ENCODING_GZIP, 1u << 20, &out, &len),
        TLM_DECODE_MALFORMED);
    ck_assert_int_eq(tlm__inflate_capped(
                         gz, glen - 4, TLM_ENCODING_GZIP, 1u << 20, &out, &len),
        TLM_DECODE_MALFORMED);
    unsigned char *padded = malloc(glen + 3);
    memcpy(padded, gz, glen);
    memcpy(padded + glen, "xyz", 3);
    ck_assert_int_eq(tlm__inflate_capped(padded, glen + 3, TLM_ENCODING_GZIP,
                         1u << 20, &out, &len),
        TLM_DECODE_MALFORMED);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events"), 0);
    free(padded);
    free(gz);
    free(text);
}
END_TEST

START_TEST(ingest_malformed_json_and_missing_events)
{
    cJSON *resp;
    ck_assert_int_eq(ingest_text("{\"events\": [", &resp), 400);
    cJSON_Delete(resp);
    ck_assert_int_eq(ingest_text("{\"batch_id\": \"x\"}", &resp), 400);
    ck_assert_ptr_nonnull(strstr(
        cJSON_GetStringValue(cJSON_GetObjectItem(resp, "error")), "events"));
    cJSON_Delete(resp);
    ck_assert_int_eq(ingest_text("{\"events\": {}}", &resp), 400);
    cJSON_Delete(resp);
    ck_assert_int_eq(ingest_text("{\"events\": [], \"sdk\": 3}", &resp), 400);
    cJSON_Delete(resp);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM batches"), 0);
}
END_TEST

START_TEST(ingest_duplicates_within_batch)
{
    cJSON *arr = events_n(1, 2);
    cJSON_AddItemToArray(arr, event(1));
    cJSON_AddItemToArray(arr, event(2));
    char *text = batch_text(arr);
    cJSON *resp;
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 2);
    ck_assert_int_eq(num(resp, "duplicates"), 2);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events"), 2);
    cJSON_Delete(resp);
    free(text);
}
END_TEST

START_TEST(ingest_duplicates_across_batches)
{
    char *t1 = batch_text(events_n(1, 3));
    char *t2 = batch_text(events_n(2, 3)); /* 2, 3 seen; 4 new */
    cJSON *resp;
    ck_assert_int_eq(ingest_text(t1, &resp), 200);
    cJSON_Delete(resp);
    ck_assert_int_eq(ingest_text(t2, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 1);
    ck_assert_int_eq(num(resp, "duplicates"), 2);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events"), 4);
    cJSON_Delete(resp);
    free(t1);
    free(t2);
}
END_TEST

START_TEST(ingest_resent_batch_records_bad_rows_once)
{
    cJSON *arr = events_n(1, 1);
    cJSON_AddItemToArray(arr, cJSON_CreateString("not an event"));
    char *text = batch_text(arr);
    cJSON *resp;
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    cJSON_Delete(resp);
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    ck_assert_int_eq(num(resp, "duplicates"), 1);
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(resp, "rejected")), 1);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM bad_rows"), 1);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM batches"), 1);
    cJSON_Delete(resp);
    free(text);
}
END_TEST

/* The SDK reports a call that got no HTTP response (network error) as
 * response_status 0 (telemetry.h); the bounds 100 and 599 stay valid. */
START_TEST(ingest_status_zero_accepted)
{
    cJSON *arr = cJSON_CreateArray();
    int statuses[] = {0, 100, 599};
    for (int i = 0; i < 3; i++) {
        cJSON *e = event(i + 1);
        cJSON_ReplaceItemInObject(
            e, "response_status", cJSON_CreateNumber(statuses[i]));
        cJSON_AddItemToArray(arr, e);
    }
    char *text = batch_text(arr);
    cJSON *resp;
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 3);
    ck_assert_int_eq(
        count_rows("SELECT count(*) FROM events WHERE status = 0"), 1);
    cJSON_Delete(resp);
    free(text);
}
END_TEST

static int
text_rows(const char *sql, const char *want)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int n = 0;
    char path[160];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *got = (const char *)sqlite3_column_text(s, 0);
        ck_assert_msg(got != NULL && strcmp(got, want) == 0, "stored %s", got);
        n++;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* tlm__scrub_event on its own: what it leaves alone, nested strings, and
 * the clean-string cache never hiding a dirty string seen twice. */
START_TEST(scrub_event_walks_and_caches_only_clean_strings)
{
    struct tlm__scrub_tally t;
    memset(&t, 0, sizeof(t));
    for (int round = 0; round < 3; round++) {
        cJSON *e = cJSON_Parse(
            "{\"id\":\"a@b.co\",\"user_id\":\"x@y.co\",\"endpoint\":"
            "\"/v1/items/{id}\",\"error_message\":\"mail x@y.co\","
            "\"request_details\":{\"list\":[\"ok\",\"10.0.0.1\"]},"
            "\"client_info\":{\"host\":\"z@w.co\"}}");
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(tlm__scrub_event(e, &t), 2);
        char *p = cJSON_PrintUnformatted(e);
        ck_assert_str_eq(p,
            "{\"id\":\"a@b.co\",\"user_id\":\"x@y.co\",\"endpoint\":"
            "\"/v1/items/{id}\",\"error_message\":\"mail [email]\","
            "\"request_details\":{\"list\":[\"ok\",\"[ip]\"]},"
            "\"client_info\":{\"host\":\"z@w.co\"}}");
        free(p);
        cJSON_Delete(e);
    }
    ck_assert_uint_eq(t.total, 6);
    ck_assert_uint_eq(t.by_kind[TLM__SCRUB_EMAIL], 3);
    ck_assert_uint_eq(t.by_kind[TLM__SCRUB_IP], 3);
    ck_assert_str_eq(tlm__scrub_kind_name(TLM__SCRUB_EMAIL), "email");
}
END_TEST

/* The second privacy pass: PII an SDK let through is replaced before it is
 * stored (payload and bad rows), identity fields are left alone, clean
 * events stay byte for byte, the batch records how many replacements it
 * needed and which key sent it, and the dashboard names that key. */
START_TEST(ingest_server_scrubs_what_the_sdk_did_not)
{
    static const char dirty[]
        = "{\"type\":\"error\",\"id\":\"0190a000-0000-7000-8000-000000000031\","
          "\"timestamp\":\"2026-12-04T20:01:02.345Z\","
          "\"endpoint\":\"/v1/users/12345?email=bob@example.com\","
          "\"error_message\":\"cannot mail alice@example.com from 10.1.2.3\","
          "\"stack_trace\":\"at /home/alice/app/main.c:12\","
          "\"user_id\":\"carol@example.com\","
          "\"request_details\":{\"note\":\"card 4111 1111 1111 1111\"}}";
    char clean[1024], text[4096];
    snprintf(clean, sizeof(clean), base_event, 32);
    snprintf(text, sizeof(text),
        "{\"batch_id\":\"b-scrub\",\"events\":[%s,%s,"
        "{\"type\":\"request\",\"note\":\"dave@example.com\"}]}",
        dirty, clean);
    struct tlm__ingest_policy pol
        = {.max_future_ms = -1, .max_age_ms = -1, .key_id = "k-dirty"};
    char *out = NULL;
    int status = tlm__ingest_json_with(
        store, text, strlen(text), &pol, RECEIVED_MS, &out);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(out, "\"accepted\":2"));
    free(out);
    /* The dirty event, re-printed with placeholders. */
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events WHERE payload"
                                " LIKE '%example.com%' AND payload NOT LIKE"
                                " '%carol@example.com%'"),
        0);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events WHERE payload LIKE"
                                " '%cannot mail [email] from [ip]%' AND payload"
                                " LIKE '%at ~/app/main.c:12%' AND payload LIKE"
                                " '%/v1/users/{id}?email=%' AND payload LIKE"
                                " '%card [card]%'"),
        1);
    /* user_id is the anonymization's business, not the scrubber's. */
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events WHERE payload"
                                " LIKE '%\"user_id\":\"carol@example.com\"%'"),
        1);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM events WHERE endpoint"
                                " = '/v1/users/{id}?email='"),
        1);
    /* The clean event is stored as received. */
    ck_assert_int_eq(text_rows("SELECT payload FROM events WHERE payload LIKE"
                               " '%000000000032%'",
                         clean),
        1);
    /* The bad row is kept, scrubbed. */
    ck_assert_int_eq(count_rows("SELECT count(*) FROM bad_rows WHERE raw LIKE"
                                " '%\"note\":\"[email]\"%'"),
        1);
    /* 6 replacements: email, ip, home, query, card and the bad row's email
     * (the path id is templating, not a detector count). */
    int scrubbed
        = count_rows("SELECT scrubbed FROM batches WHERE key_id = 'k-dirty'");
    ck_assert_int_ge(scrubbed, 6);
    struct tlm__dash_query q = {.from_ms = 0,
        .to_ms = 4102444800000LL,
        .environment = "production",
        .max_endpoints = 10};
    struct tlm__dash_result r;
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(tlm__store_dashboard(store, &q, &r), 0);
    ck_assert_uint_eq(r.n_scrub_keys, 1);
    ck_assert_str_eq(r.scrub_keys[0].key_id, "k-dirty");
    ck_assert(r.scrub_keys[0].replacements == scrubbed);
    ck_assert(r.server_scrubbed == scrubbed);
    tlm__dash_result_free(&r);
}
END_TEST

/* Payloads, bad rows and client_stats are the received text, byte for
 * byte, whitespace and key order included. */
START_TEST(ingest_payload_stored_verbatim)
{
    char ev[1024];
    snprintf(ev, sizeof(ev), base_event, 7);
    char text[4096];
    snprintf(text, sizeof(text),
        "{ \"client_stats\" : { \"sent\" : 1 } ,\n\"events\": [ %s ,"
        "\n  {\"type\": \"request\", \"id\": 5} ] }",
        ev);
    cJSON *resp;
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 1);
    ck_assert_int_eq(text_rows("SELECT payload FROM events", ev), 1);
    ck_assert_int_eq(text_rows("SELECT raw FROM bad_rows",
                         "{\"type\": \"request\", \"id\": 5}"),
        1);
    ck_assert_int_eq(
        text_rows("SELECT client_stats FROM batches", "{ \"sent\" : 1 }"), 1);
    cJSON_Delete(resp);
}
END_TEST

/* Events that are JSON but not decodable text are refused one by one. */
START_TEST(ingest_bad_text_rejected_alone)
{
    char ev[1024];
    snprintf(ev, sizeof(ev), base_event, 1);
    char text[4096];
    snprintf(text, sizeof(text),
        "{\"events\":[%s,{\"type\":\"request\",\"endpoint\":\"\xff\"},"
        "{\"type\":\"\\ud800\"},"
        "{\"type\":\"\\udc00\\ud800\"}]}",
        ev);
    cJSON *resp;
    ck_assert_int_eq(ingest_text(text, &resp), 200);
    ck_assert_int_eq(num(resp, "accepted"), 1);
    cJSON *rej = cJSON_GetObjectItem(resp, "rejected");
    ck_assert_int_eq(cJSON_GetArraySize(rej), 3);
    for (int i = 0; i < 3; i++) {
        cJSON *r = cJSON_GetArrayItem(rej, i);
        ck_assert_int_eq(num(r, "index"), i + 1);
        const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(r, "error"));
        ck_assert_msg(strncmp(why, "event:", 6) == 0, "%d: %s", i, why);
    }
    ck_assert_int_eq(count_rows("SELECT count(*) FROM bad_rows"), 3);
    cJSON_Delete(resp);
}
END_TEST

static const char *const bad_bodies[] = {
    "{\"events\": []} trailing",
    "{\"events\": [{\"type\":\"request\",}]}",
    "{\"events\": [1 2]}",
    "{\"events\": [], \"batch_id\": \"\xff\"}",
    "[{\"events\": []}]",
    ("{\"events\": "
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
    "{\"events\": [], \"batch_id\": 7}",
    "{\"events\": [], \"sent_at\": {}}",
    "{\"events\": [], \"sdk\": {\"name\": 1}}",
    "{\"events\": [], \"client_stats\": []}",
};

START_TEST(ingest_bad_document_is_400)
{
    cJSON *resp;
    ck_assert_int_eq(ingest_text(bad_bodies[_i], &resp), 400);
    ck_assert_ptr_nonnull(
        cJSON_GetStringValue(cJSON_GetObjectItem(resp, "error")));
    cJSON_Delete(resp);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM batches"), 0);
}
END_TEST

START_TEST(ingest_header_strings_decoded)
{
    cJSON *resp;
    ck_assert_int_eq(ingest_text("{\"batch_id\":\"b\\u0031\",\"sdk\":{"
                                 "\"name\":\"n\",\"version\":null},"
                                 "\"sent_at\":null,\"events\":[]}",
                         &resp),
        200);
    cJSON_Delete(resp);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM batches WHERE batch_id = "
                                "'b1' AND sdk_name = 'n' AND sdk_version IS "
                                "NULL AND sent_at IS NULL"),
        1);
}
END_TEST

START_TEST(ingest_encoding_header_parsed)
{
    ck_assert_int_eq(tlm__encoding_parse(NULL), TLM_ENCODING_IDENTITY);
    ck_assert_int_eq(tlm__encoding_parse("identity"), TLM_ENCODING_IDENTITY);
    ck_assert_int_eq(tlm__encoding_parse("GZIP"), TLM_ENCODING_GZIP);
    ck_assert_int_eq(tlm__encoding_parse("br"), TLM_ENCODING_UNSUPPORTED);
    ck_assert_int_eq(tlm__encoding_parse("gzip, br"), TLM_ENCODING_UNSUPPORTED);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_ingest");
    TCase *tc = tcase_create("ingest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ingest_valid_batch_accepted);
    tcase_add_loop_test(tc, ingest_rejects_each_invalid_field, 0,
        (int)(sizeof(invalid) / sizeof(invalid[0])));
    tcase_add_test(tc, ingest_error_event_rules);
    tcase_add_test(tc, ingest_gzip_decoded);
    tcase_add_test(tc, ingest_gzip_multi_member);
    tcase_add_test(tc, ingest_gzip_bomb_hits_cap);
    tcase_add_test(tc, ingest_inflate_exact_cap);
    tcase_add_test(tc, ingest_malformed_gzip);
    tcase_add_test(tc, ingest_truncated_gzip);
    tcase_add_test(tc, ingest_malformed_json_and_missing_events);
    tcase_add_test(tc, ingest_duplicates_within_batch);
    tcase_add_test(tc, ingest_duplicates_across_batches);
    tcase_add_test(tc, ingest_resent_batch_records_bad_rows_once);
    tcase_add_test(tc, ingest_encoding_header_parsed);
    tcase_add_test(tc, ingest_status_zero_accepted);
    tcase_add_test(tc, ingest_payload_stored_verbatim);
    tcase_add_test(tc, ingest_server_scrubs_what_the_sdk_did_not);
    tcase_add_test(tc, scrub_event_walks_and_caches_only_clean_strings);
    tcase_add_test(tc, ingest_bad_text_rejected_alone);
    tcase_add_loop_test(tc, ingest_bad_document_is_400, 0,
        (int)(sizeof(bad_bodies) / sizeof(bad_bodies[0])));
    tcase_add_test(tc, ingest_header_strings_decoded);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
