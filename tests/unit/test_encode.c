/*
 * test_encode.c - JSON serialization of events and gzip (lib/encode.c).
 *
 * Every output is checked by parsing it back with cJSON (and inflating with
 * zlib), not by comparing with a stored string alone.
 */
#include "internal.h"
#include "utf8_ref.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* tlm__buf_json_string of (s, n); the caller frees *b. */
static void
json_of(tlm__buf *b, const char *s, size_t n)
{
    memset(b, 0, sizeof(*b));
    tlm__buf_json_string(b, s, n);
    ck_assert(!b->failed);
    ck_assert_ptr_nonnull(b->data);
    ck_assert_uint_eq(strlen(b->data), b->len);
}

/* Parses a JSON string literal; returns its value (caller frees). */
static char *
parse_string(const tlm__buf *b)
{
    cJSON *v = cJSON_ParseWithLength(b->data, b->len);
    char *out;

    ck_assert_msg(v != NULL, "not JSON: %s", b->data);
    ck_assert_msg(cJSON_IsString(v), "not a JSON string: %s", b->data);
    out = strdup(v->valuestring);
    cJSON_Delete(v);
    return out;
}

START_TEST(encode_escapes_quote_backslash)
{
    static const char in[] = "a\"b\\c/d";
    tlm__buf b;
    char *back;

    json_of(&b, in, strlen(in));
    ck_assert_str_eq(b.data, "\"a\\\"b\\\\c/d\"");
    back = parse_string(&b);
    ck_assert_str_eq(back, in);
    free(back);
    tlm__buf_free(&b);
}
END_TEST

START_TEST(encode_escapes_control_chars)
{
    tlm__buf b;
    char in[4], want[16], *back;
    int c;

    for (c = 1; c < 0x20; c++) {
        in[0] = 'x';
        in[1] = (char)c;
        in[2] = 'y';
        in[3] = '\0';
        json_of(&b, in, 3);
        if (c == '\n')
            snprintf(want, sizeof(want), "\"x\\ny\"");
        else if (c == '\t')
            snprintf(want, sizeof(want), "\"x\\ty\"");
        else if (c == '\r')
            snprintf(want, sizeof(want), "\"x\\ry\"");
        else
            snprintf(want, sizeof(want), "\"x\\u%04xy\"", c);
        ck_assert_msg(strcmp(b.data, want) == 0, "0x%02x: %s", c, b.data);
        back = parse_string(&b);
        ck_assert_msg(strcmp(back, in) == 0, "0x%02x does not round-trip", c);
        free(back);
        tlm__buf_free(&b);
    }
    /* NUL inside the given length is escaped, not a terminator. */
    json_of(&b, "a\0b", 3);
    ck_assert_str_eq(b.data, "\"a\\u0000b\"");
    tlm__buf_free(&b);
    /* DEL is not a control character for JSON. */
    json_of(&b, "\x7f", 1);
    ck_assert_str_eq(b.data, "\"\x7f\"");
    tlm__buf_free(&b);
}
END_TEST

START_TEST(encode_length_respected)
{
    tlm__buf b;

    json_of(&b, "abcdef", 3);
    ck_assert_str_eq(b.data, "\"abc\"");
    tlm__buf_free(&b);
    json_of(&b, "", 0);
    ck_assert_str_eq(b.data, "\"\"");
    tlm__buf_free(&b);
    /* A multi-byte character cut by n is invalid, not read past n. */
    json_of(&b, "\xc3\xa9", 1);
    ck_assert_str_eq(b.data, "\"\xef\xbf\xbd\"");
    tlm__buf_free(&b);
}
END_TEST

START_TEST(encode_utf8_passthrough)
{
    static const char *const ok[] = {
        "h\xc3\xa9llo", /* é */
        "\xe2\x82\xac 10", /* € */
        "\xe2\x9c\x93", /* ✓ */
        "\xf0\x9d\x84\x9e", /* U+1D11E */
        "\xf0\x9f\x98\x80", /* U+1F600 */
        "\xc2\x80", /* U+0080, smallest 2-byte */
        "\xe0\xa0\x80", /* U+0800, smallest 3-byte */
        "\xed\x9f\xbf", /* U+D7FF, below the surrogates */
        "\xee\x80\x80", /* U+E000, above the surrogates */
        "\xef\xbf\xbf", /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000, smallest 4-byte */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
    };
    tlm__buf b;
    char *back;
    size_t i, n;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        n = strlen(ok[i]);
        json_of(&b, ok[i], n);
        ck_assert_uint_eq(b.len, n + 2);
        ck_assert_msg(
            memcmp(b.data + 1, ok[i], n) == 0, "case %zu was altered", i);
        back = parse_string(&b);
        ck_assert_str_eq(back, ok[i]);
        free(back);
        tlm__buf_free(&b);
    }
}
END_TEST

START_TEST(encode_invalid_utf8_replaced)
{
    static const char *const bad[] = {
        "\x80", /* lone continuation */
        "\xbf\xbf", /* continuations only */
        "\xc0\xaf", /* overlong '/' */
        "\xc1\xbf", /* overlong */
        "\xe0\x80\xaf", /* overlong 3-byte */
        "\xe0\x9f\xbf", /* overlong 3-byte (U+07FF) */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte (U+FFFF) */
        "\xed\xa0\x80", /* U+D800, high surrogate */
        "\xed\xbf\xbf", /* U+DFFF, low surrogate */
        "\xed\xa0\xbd\xed\xb8\x80", /* CESU-8 surrogate pair */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* invalid lead */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\xfe", /* never valid */
        "\xff", "\xc3", /* truncated at the end */
        "\xe2\x82", /* truncated 3-byte */
        "\xf0\x9f\x98", /* truncated 4-byte */
        "\xe2\x82(", /* truncated, followed by ASCII */
        "\xc3(", /* lead followed by ASCII */
    };
    tlm__buf b;
    char in[32], *back;
    const char *mid;
    size_t i, n, k, mlen;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = (size_t)snprintf(in, sizeof(in), "a%sz", bad[i]);
        json_of(&b, in, n);
        ck_assert_msg(utf8_valid((const unsigned char *)b.data, b.len),
            "case %zu: output is not valid UTF-8", i);
        back = parse_string(&b);
        ck_assert_msg(utf8_valid((const unsigned char *)back, strlen(back)),
            "case %zu: value is not valid UTF-8", i);
        /* The ASCII around it survives; the bad bytes became U+FFFD (and
         * the ASCII that followed a truncated sequence is kept). */
        ck_assert_msg(back[0] == 'a' && back[strlen(back) - 1] == 'z',
            "case %zu: context lost: %s", i, back);
        mid = back + 1;
        mlen = strlen(back) - 2;
        ck_assert_msg(strstr(mid, "\xef\xbf\xbd") != NULL,
            "case %zu: no U+FFFD in %s", i, b.data);
        for (k = 0; k < mlen;) {
            if (memcmp(mid + k, "\xef\xbf\xbd", 3) == 0)
                k += 3;
            else if (mid[k] == '(')
                k++;
            else
                ck_abort_msg("case %zu: unexpected byte 0x%02x kept", i,
                    (unsigned char)mid[k]);
        }
        free(back);
        tlm__buf_free(&b);
    }
}
END_TEST

START_TEST(encode_buf_grows)
{
    tlm__buf b = {0};
    char piece[8];
    int i;

    for (i = 0; i < 100000; i++) {
        snprintf(piece, sizeof(piece), "%05d,", i % 100000);
        tlm__buf_puts(&b, piece);
    }
    ck_assert(!b.failed);
    ck_assert_uint_eq(b.len, 600000);
    ck_assert_uint_eq(strlen(b.data), b.len);
    ck_assert_int_eq(memcmp(b.data, "00000,00001,", 12), 0);
    ck_assert_int_eq(memcmp(b.data + b.len - 6, "99999,", 6), 0);
    tlm__buf_printf(&b, "[%d|%s]", 42, "x");
    ck_assert_str_eq(b.data + 600000, "[42|x]");
    tlm__buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

/* ---- events ------------------------------------------------------------- */

static const char client_info[]
    = "{\"sdk\":\"libtelemetry\",\"sdk_version\":\"0.1.0\",\"binding\":\"c\","
      "\"os\":\"Linux\",\"arch\":\"x86_64\"}";

static void
full_event(tlm_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = TLM__EV_REQUEST;
    snprintf(
        ev->id, sizeof(ev->id), "%s", "018bcfe5-6b7b-7c3d-9e2f-0123456789ab");
    ev->ts_ms = 1700000000123LL; /* 2023-11-14T22:13:20.123Z */
    ev->status = 201;
    ev->response_time_ms = 12.5;
    ev->sample_rate = 1.0;
    ev->environment = "sandbox";
    ev->field[TLM__FIELD_ENDPOINT] = "/v1/users/{id}";
    ev->field[TLM__FIELD_METHOD] = "POST";
    ev->field[TLM__FIELD_USER_ID] = "user-\"7\"";
    ev->field[TLM__FIELD_ORG_ID] = "org-1";
    ev->field[TLM__FIELD_TIER] = "pro";
    ev->field[TLM__FIELD_DETAILS]
        = "{ \"params\": {\"limit\": 10}, \"tags\": [\"a\", \"b\"] }";
}

/* Encodes ev, checks the return code, parses the object. */
static cJSON *
encode_parse(const tlm_event *ev, const char *ci, int want_rc)
{
    tlm__buf b = {0};
    cJSON *root;
    int rc = tlm__encode_event(&b, ev, ci);

    ck_assert_int_eq(rc, want_rc);
    ck_assert(!b.failed);
    root = cJSON_ParseWithLength(b.data, b.len);
    ck_assert_msg(root != NULL, "not JSON: %s", b.data);
    ck_assert_msg(cJSON_IsObject(root), "not an object: %s", b.data);
    ck_assert_msg(utf8_valid((const unsigned char *)b.data, b.len),
        "not UTF-8: %s", b.data);
    tlm__buf_free(&b);
    return root;
}

static const char *
str_item(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    ck_assert_msg(cJSON_IsString(v), "\"%s\" is not a string", key);
    return v->valuestring;
}

static double
num_item(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    ck_assert_msg(cJSON_IsNumber(v), "\"%s\" is not a number", key);
    return v->valuedouble;
}

START_TEST(encode_event_all_fields)
{
    tlm_event ev;
    cJSON *root, *d, *p, *t, *ci;

    full_event(&ev);
    root = encode_parse(&ev, client_info, 0);
    ck_assert_int_eq(cJSON_GetArraySize(root), 14);
    ck_assert_str_eq(str_item(root, "type"), "request");
    ck_assert_str_eq(
        str_item(root, "id"), "018bcfe5-6b7b-7c3d-9e2f-0123456789ab");
    ck_assert_str_eq(str_item(root, "timestamp"), "2023-11-14T22:13:20.123Z");
    ck_assert_str_eq(str_item(root, "environment"), "sandbox");
    ck_assert_double_eq(num_item(root, "sample_rate"), 1.0);
    ck_assert_str_eq(str_item(root, "endpoint"), "/v1/users/{id}");
    ck_assert_str_eq(str_item(root, "method"), "POST");
    ck_assert_double_eq(num_item(root, "response_status"), 201);
    ck_assert_double_eq(num_item(root, "response_time"), 12.5);
    ck_assert_str_eq(str_item(root, "user_id"), "user-\"7\"");
    ck_assert_str_eq(str_item(root, "organization_id"), "org-1");
    ck_assert_str_eq(str_item(root, "access_tier"), "pro");
    d = cJSON_GetObjectItemCaseSensitive(root, "request_details");
    ck_assert(cJSON_IsObject(d));
    p = cJSON_GetObjectItemCaseSensitive(d, "params");
    ck_assert(cJSON_IsObject(p));
    ck_assert_double_eq(num_item(p, "limit"), 10);
    t = cJSON_GetObjectItemCaseSensitive(d, "tags");
    ck_assert(cJSON_IsArray(t));
    ck_assert_int_eq(cJSON_GetArraySize(t), 2);
    ck_assert_str_eq(cJSON_GetArrayItem(t, 1)->valuestring, "b");
    ci = cJSON_GetObjectItemCaseSensitive(root, "client_info");
    ck_assert(cJSON_IsObject(ci));
    ck_assert_str_eq(str_item(ci, "sdk"), "libtelemetry");
    ck_assert_str_eq(str_item(ci, "arch"), "x86_64");
    cJSON_Delete(root);
}
END_TEST

START_TEST(encode_event_numbers)
{
    tlm_event ev;
    cJSON *root;

    full_event(&ev);
    ev.status = 0; /* network error */
    ev.response_time_ms = 0.0;
    ev.sample_rate = 0.25;
    ev.ts_ms = 0;
    root = encode_parse(&ev, NULL, 0);
    ck_assert_double_eq(num_item(root, "response_status"), 0);
    ck_assert_double_eq(num_item(root, "response_time"), 0.0);
    ck_assert_double_eq(num_item(root, "sample_rate"), 0.25);
    ck_assert_str_eq(str_item(root, "timestamp"), "1970-01-01T00:00:00.000Z");
    cJSON_Delete(root);

    ev.status = 503;
    ev.response_time_ms = 1234.567;
    ev.ts_ms = 1709251199999LL; /* leap day */
    root = encode_parse(&ev, NULL, 0);
    ck_assert_double_eq(num_item(root, "response_status"), 503);
    ck_assert_double_eq_tol(num_item(root, "response_time"), 1234.567, 1e-9);
    ck_assert_str_eq(str_item(root, "timestamp"), "2024-02-29T23:59:59.999Z");
    cJSON_Delete(root);
}
END_TEST

/* tlm_track_request() accepts any finite latency >= 0: the encoder must
 * write it as a JSON number carrying its value. */
START_TEST(encode_event_huge_latency)
{
    tlm_event ev;
    cJSON *root;

    full_event(&ev);
    ev.response_time_ms = 1e300;
    root = encode_parse(&ev, client_info, 0);
    ck_assert_double_eq_tol(num_item(root, "response_time") / 1e300, 1.0, 1e-9);
    ck_assert(
        cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "client_info")));
    cJSON_Delete(root);
}
END_TEST

START_TEST(encode_event_optional_omitted)
{
    static const char *const absent[] = {"environment", "method", "user_id",
        "organization_id", "access_tier", "request_details", "client_info"};
    tlm_event ev;
    cJSON *root;
    size_t i;

    memset(&ev, 0, sizeof(ev));
    ev.type = TLM__EV_REQUEST;
    snprintf(
        ev.id, sizeof(ev.id), "%s", "018bcfe5-6b7b-7c3d-9e2f-0123456789ab");
    ev.ts_ms = 1700000000000LL;
    ev.status = 200;
    ev.response_time_ms = 3.0;
    ev.sample_rate = 1.0;
    ev.field[TLM__FIELD_ENDPOINT] = "/health";
    root = encode_parse(&ev, NULL, 0);
    for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        ck_assert_msg(!cJSON_HasObjectItem(root, absent[i]),
            "\"%s\" present though absent", absent[i]);
    ck_assert_str_eq(str_item(root, "type"), "request");
    ck_assert_str_eq(str_item(root, "endpoint"), "/health");
    ck_assert_str_eq(str_item(root, "timestamp"), "2023-11-14T22:13:20.000Z");
    ck_assert_double_eq(num_item(root, "response_status"), 200);
    ck_assert_int_eq(cJSON_GetArraySize(root), 7);
    cJSON_Delete(root);
}
END_TEST

START_TEST(encode_event_details_not_object)
{
    static const char *const bad[] = {
        "[1, 2]",
        "\"just a string\"",
        "42",
        "null",
        "not json",
        "{\"unterminated\": ",
        "",
    };
    tlm_event ev;
    cJSON *root;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        full_event(&ev);
        ev.field[TLM__FIELD_DETAILS] = bad[i];
        root = encode_parse(&ev, client_info, TLM_EINVAL);
        ck_assert_msg(!cJSON_HasObjectItem(root, "request_details"),
            "details \"%s\" were kept", bad[i]);
        /* The rest of the event is still there. */
        ck_assert_str_eq(str_item(root, "endpoint"), "/v1/users/{id}");
        ck_assert_str_eq(str_item(root, "access_tier"), "pro");
        ck_assert(cJSON_IsObject(
            cJSON_GetObjectItemCaseSensitive(root, "client_info")));
        ck_assert_int_eq(cJSON_GetArraySize(root), 13);
        cJSON_Delete(root);
    }
}
END_TEST

START_TEST(encode_event_hostile_strings)
{
    tlm_event ev;
    cJSON *root;

    full_event(&ev);
    ev.field[TLM__FIELD_ENDPOINT] = "/a\"},\"type\":\"x\\\n\x01\xff";
    ev.field[TLM__FIELD_USER_ID] = "\xed\xa0\x80user";
    ev.field[TLM__FIELD_DETAILS] = "{\"k\":\"\\u0041\xc3\xa9\"}";
    root = encode_parse(&ev, client_info, 0);
    /* Injection attempts stay inside their string. */
    ck_assert_str_eq(str_item(root, "type"), "request");
    ck_assert_str_eq(
        str_item(root, "endpoint"), "/a\"},\"type\":\"x\\\n\x01\xef\xbf\xbd");
    /* One U+FFFD per byte of the surrogate, as Unicode recommends. */
    ck_assert_str_eq(
        str_item(root, "user_id"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbduser");
    ck_assert_str_eq(
        str_item(
            cJSON_GetObjectItemCaseSensitive(root, "request_details"), "k"),
        "A\xc3\xa9");
    cJSON_Delete(root);
}
END_TEST

/* ---- gzip --------------------------------------------------------------- */

/* Inflates a gzip stream; returns the bytes (caller frees) in *out. */
static void
gunzip(const char *in, size_t n, char **out, size_t *out_len, size_t cap)
{
    z_stream zs;
    char *dst = malloc(cap + 1);
    int rc;

    ck_assert_ptr_nonnull(dst);
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)dst;
    zs.avail_out = (uInt)(cap + 1);
    rc = inflate(&zs, Z_FINISH);
    ck_assert_int_eq(rc, Z_STREAM_END);
    ck_assert_uint_eq(zs.avail_in, 0); /* nothing after the gzip member */
    *out_len = zs.total_out;
    inflateEnd(&zs);
    *out = dst;
}

static void
gzip_roundtrip(const char *in, size_t n, int level)
{
    char *z = NULL, *back = NULL;
    size_t zlen = 0, blen = 0;

    ck_assert_int_eq(tlm__gzip(in, n, level, &z, &zlen), 0);
    ck_assert_ptr_nonnull(z);
    ck_assert_uint_ge(zlen, 18); /* header + trailer */
    ck_assert_uint_eq((unsigned char)z[0], 0x1f);
    ck_assert_uint_eq((unsigned char)z[1], 0x8b);
    gunzip(z, zlen, &back, &blen, n);
    ck_assert_uint_eq(blen, n);
    ck_assert(n == 0 || memcmp(back, in, n) == 0);
    free(back);
    tlm__free(z);
}

START_TEST(encode_gzip_empty)
{
    gzip_roundtrip("", 0, 1);
    gzip_roundtrip("", 0, 9);
}
END_TEST

START_TEST(encode_gzip_1mib)
{
    const size_t n = 1 << 20;
    char *text = malloc(n), *noise = malloc(n);
    tlm__rng rng = {{1, 2, 3, 4}};
    size_t i;

    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(noise);
    /* Compressible JSON-like text, and incompressible bytes (the worst
     * case for the output bound). */
    for (i = 0; i < n; i++)
        text[i] = "{\"endpoint\":\"/v1/users\",\"status\":200},"[i % 38];
    for (i = 0; i < n; i += 8) {
        uint64_t r = tlm__rng_next(&rng);
        memcpy(noise + i, &r, 8);
    }
    gzip_roundtrip(text, n, 1);
    gzip_roundtrip(text, n, 6);
    gzip_roundtrip(noise, n, 1);
    gzip_roundtrip(noise, n, 9);
    free(text);
    free(noise);
}
END_TEST

static Suite *
encode_suite(void)
{
    Suite *s = suite_create("encode");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, encode_escapes_quote_backslash);
    tcase_add_test(tc, encode_escapes_control_chars);
    tcase_add_test(tc, encode_length_respected);
    tcase_add_test(tc, encode_utf8_passthrough);
    tcase_add_test(tc, encode_invalid_utf8_replaced);
    tcase_add_test(tc, encode_buf_grows);
    tcase_add_test(tc, encode_event_all_fields);
    tcase_add_test(tc, encode_event_numbers);
    tcase_add_test(tc, encode_event_huge_latency);
    tcase_add_test(tc, encode_event_optional_omitted);
    tcase_add_test(tc, encode_event_details_not_object);
    tcase_add_test(tc, encode_event_hostile_strings);
    tcase_add_test(tc, encode_gzip_empty);
    tcase_add_test(tc, encode_gzip_1mib);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(encode_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
