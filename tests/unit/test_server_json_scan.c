/* Check suite for server/json_scan.c and server/json_arena.c: strict JSON
 * acceptance and rejection, member and element slices, bad-text flags, the
 * depth limit, and cJSON trees built in an arena. */
#include "json_arena.h"
#include "json_scan.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"events", "batch_id", "sdk"};
#define N_KEYS 3

static struct tlm__json_scan sc;
static struct tlm__json_slice values[N_KEYS];

static void
setup(void)
{
    memset(&sc, 0, sizeof(sc));
    sc.keys = keys;
    sc.n_keys = N_KEYS;
    sc.list_key = 0;
    sc.values = values;
}

static void
teardown(void)
{
    tlm__json_scan_free(&sc);
}

static enum tlm__json_scan_status
scan(const char *text)
{
    return tlm__json_scan(&sc, text, strlen(text));
}

static void
assert_slice(const struct tlm__json_slice *v, const char *want)
{
    ck_assert_ptr_nonnull(v->p);
    ck_assert_uint_eq(v->len, strlen(want));
    ck_assert_msg(
        memcmp(v->p, want, v->len) == 0, "got %.*s", (int)v->len, v->p);
}

static const char *const valid_docs[] = {
    "{}",
    " \t\r\n{ } \n",
    "{\"a\":[1,-0,0.5,-1.25e+10,1E-3,2e9,true,false,null,\"x\",{},[]]}",
    "{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"}",
    "{\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
    "{\"a\":{\"b\":{\"c\":[[[{}]]]}}}",
    "{\"events\":[],\"events\":5}",
};

START_TEST(json_scan_accepts_valid)
{
    ck_assert_int_eq(scan(valid_docs[_i]), TLM_JSON_SCAN_OK);
}
END_TEST

static const char *const malformed_docs[] = {
    "",
    "   ",
    "{",
    "{\"a\"}",
    "{\"a\":}",
    "{\"a\":1,}",
    "{,}",
    "{\"a\":[1,]}",
    "{\"a\":[1 2]}",
    "{\"a\":01}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":1e}",
    "{\"a\":+1}",
    "{\"a\":-}",
    "{\"a\":tru}",
    "{\"a\":truex}",
    "{\"a\":NaN}",
    "{\"a\":\"unterminated}",
    "{\"a\":\"bad \\x escape\"}",
    "{\"a\":\"short \\u12\"}",
    "{\"a\":\"ctl \x01\"}",
    "{\"a\":\"tab \t\"}",
    "{'a':1}",
    "{a:1}",
    "{\"a\":1}}",
    "{\"a\":1} x",
    "{\"a\":1}{}",
    "{\"a\":[}",
    "{\"a\":{]}",
    "{\"bad\xff\":1}",
    "{\"a\":\"\xc3\"}",
    "{\"batch_id\":\"\\ud800\"}",
};

START_TEST(json_scan_rejects_malformed)
{
    ck_assert_msg(scan(malformed_docs[_i]) == TLM_JSON_SCAN_MALFORMED,
        "accepted: %s", malformed_docs[_i]);
}
END_TEST

START_TEST(json_scan_root_must_be_object)
{
    ck_assert_int_eq(scan("[1]"), TLM_JSON_SCAN_NOT_OBJECT);
    ck_assert_int_eq(scan("\"x\""), TLM_JSON_SCAN_NOT_OBJECT);
    ck_assert_int_eq(scan("42"), TLM_JSON_SCAN_NOT_OBJECT);
}
END_TEST

START_TEST(json_scan_input_not_terminated)
{
    /* The length, not a NUL, ends the input: a cut value is malformed. */
    const char text[] = "{\"a\":12345}";
    ck_assert_int_eq(tlm__json_scan(&sc, text, 8), TLM_JSON_SCAN_MALFORMED);
    ck_assert_int_eq(
        tlm__json_scan(&sc, "{\"a\":\"x\\", 8), TLM_JSON_SCAN_MALFORMED);
    ck_assert_int_eq(
        tlm__json_scan(&sc, "{\"a\":\"x\\u00", 11), TLM_JSON_SCAN_MALFORMED);
}
END_TEST

START_TEST(json_scan_finds_members_and_elements)
{
    ck_assert_int_eq(scan("{\"batch_id\" : \"b1\", \"x\":{\"events\":[9]},"
                          "\"events\": [ {\"a\": [1, {\"b\":2}]} ,\"s\" , 3 ,"
                          "null,[]], \"sdk\":{\"name\":\"n\"}}"),
        TLM_JSON_SCAN_OK);
    assert_slice(&values[1], "\"b1\"");
    assert_slice(&values[2], "{\"name\":\"n\"}");
    assert_slice(&values[0], "[ {\"a\": [1, {\"b\":2}]} ,\"s\" , 3 ,null,[]]");
    ck_assert_uint_eq(sc.n_elems, 5);
    const char *want[]
        = {"{\"a\": [1, {\"b\":2}]}", "\"s\"", "3", "null", "[]"};
    for (size_t i = 0; i < 5; i++) {
        struct tlm__json_slice s = {sc.elems[i].p, sc.elems[i].len};
        assert_slice(&s, want[i]);
        ck_assert(!sc.elems[i].bad_text);
    }
}
END_TEST

START_TEST(json_scan_first_member_wins)
{
    ck_assert_int_eq(scan("{\"events\":[1,2],\"events\":[3],\"sdk\":null}"),
        TLM_JSON_SCAN_OK);
    assert_slice(&values[0], "[1,2]");
    assert_slice(&values[2], "null");
    ck_assert_ptr_null(values[1].p);
    ck_assert_uint_eq(sc.n_elems, 2);
}
END_TEST

START_TEST(json_scan_escaped_key_matches)
{
    ck_assert_int_eq(
        scan("{\"\\u0065vents\":[{}],\"sd\\u006b\":1}"), TLM_JSON_SCAN_OK);
    ck_assert_uint_eq(sc.n_elems, 1);
    assert_slice(&values[2], "1");
    ck_assert(tlm__json_key_eq("a\\tb", 4, "a\tb"));
    ck_assert(!tlm__json_key_eq("event", 5, "events"));
    ck_assert(!tlm__json_key_eq("eventss", 7, "events"));
    ck_assert(!tlm__json_key_eq("\\u00e9", 6, "e"));
}
END_TEST

START_TEST(json_scan_flags_bad_text_per_element)
{
    ck_assert_int_eq(scan("{\"events\":[{\"a\":\"ok\"},{\"a\":\"\xff\"},"
                          "{\"\\udc00\":1},\"\\ud83d\\u0041\",\"\\ud83d\","
                          "\"\\ud83d\\ude00\"]}"),
        TLM_JSON_SCAN_OK);
    ck_assert_uint_eq(sc.n_elems, 6);
    ck_assert(!sc.elems[0].bad_text);
    ck_assert(sc.elems[1].bad_text);
    ck_assert(sc.elems[2].bad_text);
    ck_assert(sc.elems[3].bad_text);
    ck_assert(sc.elems[4].bad_text);
    ck_assert(!sc.elems[5].bad_text);
    /* Outside the listed array, bad text spoils the document. */
    ck_assert_int_eq(
        scan("{\"x\":[\"\xff\"],\"events\":[]}"), TLM_JSON_SCAN_MALFORMED);
}
END_TEST

static char *
nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 16);
    size_t n = 0;
    s[n++] = '{';
    memcpy(s + n, "\"a\":", 4);
    n += 4;
    for (int i = 1; i < depth; i++)
        s[n++] = '[';
    for (int i = 1; i < depth; i++)
        s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

START_TEST(json_scan_depth_limit)
{
    char *ok = nested(TLM_JSON_SCAN_MAX_DEPTH);
    char *deep = nested(TLM_JSON_SCAN_MAX_DEPTH + 1);
    char *huge = nested(100000);
    ck_assert_int_eq(scan(ok), TLM_JSON_SCAN_OK);
    ck_assert_int_eq(scan(deep), TLM_JSON_SCAN_TOO_DEEP);
    ck_assert_int_eq(scan(huge), TLM_JSON_SCAN_TOO_DEEP);
    free(ok);
    free(deep);
    free(huge);
}
END_TEST

START_TEST(json_scan_many_elements)
{
    size_t n = 5000;
    char *s = malloc(n * 3 + 32);
    size_t len = (size_t)snprintf(s, 32, "{\"events\":[");
    for (size_t i = 0; i < n; i++) {
        memcpy(s + len, i ? ",{}" : "{}", i ? 3 : 2);
        len += i ? 3 : 2;
    }
    memcpy(s + len, "]}", 2);
    len += 2;
    ck_assert_int_eq(tlm__json_scan(&sc, s, len), TLM_JSON_SCAN_OK);
    ck_assert_uint_eq(sc.n_elems, n);
    ck_assert_uint_eq(sc.elems[n - 1].len, 2);
    /* A second scan with the same struct starts over. */
    ck_assert_int_eq(scan("{\"events\":[1]}"), TLM_JSON_SCAN_OK);
    ck_assert_uint_eq(sc.n_elems, 1);
    free(s);
}
END_TEST

START_TEST(json_arena_holds_trees)
{
    struct tlm__json_arena a = {0};
    const char *text = "{\"a\":[1,2,{\"b\":\"cc\"}],\"d\":\"e\"}";
    tlm__json_arena_install();
    ck_assert(tlm__json_arena_enter(&a));
    cJSON *t[200];
    for (int i = 0; i < 200; i++)
        t[i] = cJSON_Parse(text);
    ck_assert_ptr_null(cJSON_Parse("{\"a\":")); /* freed into the arena */
    tlm__json_arena_leave();
    for (int i = 0; i < 200; i++) {
        ck_assert_ptr_nonnull(t[i]);
        ck_assert_str_eq(cJSON_GetObjectItem(t[i], "d")->valuestring, "e");
    }
    /* Outside the arena cJSON allocates and frees with malloc as usual. */
    cJSON *m = cJSON_Parse(text);
    char *p = cJSON_PrintUnformatted(m);
    ck_assert_str_eq(p, text);
    free(p);
    cJSON_Delete(m);
    tlm__json_arena_free(&a);
    ck_assert_ptr_null(a.head);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_json_scan");
    TCase *tc = tcase_create("json_scan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, json_scan_accepts_valid, 0,
        (int)(sizeof(valid_docs) / sizeof(valid_docs[0])));
    tcase_add_loop_test(tc, json_scan_rejects_malformed, 0,
        (int)(sizeof(malformed_docs) / sizeof(malformed_docs[0])));
    tcase_add_test(tc, json_scan_root_must_be_object);
    tcase_add_test(tc, json_scan_input_not_terminated);
    tcase_add_test(tc, json_scan_finds_members_and_elements);
    tcase_add_test(tc, json_scan_first_member_wins);
    tcase_add_test(tc, json_scan_escaped_key_matches);
    tcase_add_test(tc, json_scan_flags_bad_text_per_element);
    tcase_add_test(tc, json_scan_depth_limit);
    tcase_add_test(tc, json_scan_many_elements);
    tcase_add_test(tc, json_arena_holds_trees);
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
