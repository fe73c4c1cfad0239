/*
 * test_errors.c - error events (lib/error.c, lib/error_sanitize.c): the
 * stack trace sanitizer, the JSON of an error event, and what a client
 * does with tlm_capture_error (checked through the before-send hook, which
 * sees the event after the privacy layer; it drops everything, so nothing
 * is sent and no server is needed).
 */
#include "client.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static char *
sanitize(const char *in, uint32_t frames, size_t bytes, const char *home)
{
    tlm__buf b = {0};

    ck_assert(tlm__stack_sanitize(in, strlen(in), frames, bytes, home, &b));
    ck_assert_ptr_nonnull(b.data);
    return b.data; /* libc malloc: no allocator set */
}

START_TEST(errors_sanitize_glibc_frames)
{
    char *s = sanitize("/usr/lib/x86_64-linux-gnu/libc.so.6(__libc_start_main"
                       "+0x8a) [0x7f3a1c02724a]\n"
                       "./build/app(handler+0x1d) [0x55d1c3a0b2c1]\n"
                       "/opt/x/libfoo.so(+0x1234) [0x7f00]\n",
        64, 16384, NULL);

    ck_assert_str_eq(
        s, "libc.so.6(__libc_start_main)\n./build/app(handler)\nlibfoo.so()");
    free(s);
}
END_TEST

START_TEST(errors_sanitize_bare_addresses_and_gdb)
{
    char *s = sanitize("#3  0x00007ffff7a2d840 in main () at /src/proj/x.c:42\n"
                       "value 0x10 at 0xdeadbeefcafe",
        64, 16384, NULL);

    /* Short hex values are data; long ones are addresses. */
    ck_assert_str_eq(s, "#3   in main () at x.c:42\nvalue 0x10 at");
    free(s);
}
END_TEST

START_TEST(errors_sanitize_home_dirs)
{
    char *s = sanitize("at /home/alice/proj/src/app.c:12\n"
                       "at /Users/bob/p/q.py:3\n"
                       "at /root/r.c:1\n"
                       "at /opt/me/work/s.c:7\n"
                       "see https://example.com/a/b.html\n",
        64, 16384, "/opt/me");

    ck_assert_str_eq(s,
        "at ~/proj/src/app.c:12\nat ~/p/q.py:3\nat ~/r.c:1\nat ~/work/s.c:7\n"
        "see https://example.com/a/b.html");
    ck_assert_ptr_null(strstr(s, "alice"));
    free(s);
}
END_TEST

START_TEST(errors_sanitize_frame_cap)
{
    tlm__buf in = {0};
    char *s, *last;
    int i, lines = 0;

    for (i = 0; i < 100; i++)
        tlm__buf_printf(&in, "f%d() [0x7f0000000%03d]\n\n", i, i);
    s = sanitize(in.data, 64, 16384, NULL);
    for (i = 0; s[i]; i++)
        lines += s[i] == '\n';
    ck_assert_int_eq(lines, 64); /* 64 frames and the note */
    last = strrchr(s, '\n') + 1;
    ck_assert_str_eq(last, "[36 more frames]");
    ck_assert_ptr_null(strstr(s, "0x"));
    free(s);
    tlm__buf_free(&in);
}
END_TEST

START_TEST(errors_sanitize_byte_cap)
{
    char *big = malloc(200000), *s;
    size_t i;

    for (i = 0; i < 199999; i++)
        big[i] = i % 50 == 49 ? '\n' : 'a';
    big[199999] = '\0';
    s = sanitize(big, 256, 1024, NULL);
    ck_assert_uint_le(strlen(s), 1024);
    ck_assert_str_eq(strrchr(s, '\n') + 1, "[truncated]");
    free(s);
    /* One line longer than the budget: cut, never more than the cap. */
    memset(big, 'b', 199999);
    s = sanitize(big, 64, 1024, NULL);
    ck_assert_uint_le(strlen(s), 1024);
    free(s);
    free(big);
}
END_TEST

START_TEST(errors_utf8_cut)
{
    const char *s = "ab\xc3\xa9"; /* "abé" */

    ck_assert_uint_eq(tlm__utf8_cut(s, 4, 3), 2);
    ck_assert_uint_eq(tlm__utf8_cut(s, 4, 4), 4);
    ck_assert_uint_eq(tlm__utf8_cut(s, 4, 100), 4);
}
END_TEST

START_TEST(errors_encode_json)
{
    tlm_event ev;
    tlm__buf b = {0};
    cJSON *o, *fp;
    static const char fps[] = "db\0timeout";

    memset(&ev, 0, sizeof(ev));
    ev.type = TLM__EV_ERROR;
    strcpy(ev.id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    ev.ts_ms = 1700000000000;
    ev.sample_rate = 1.0;
    ev.environment = "sandbox";
    ev.field[TLM__FIELD_ENDPOINT] = "/v1/users/{id}";
    ev.field[TLM__FIELD_USER_ID] = "0123456789abcdef0123456789abcdef";
    ev.field[TLM__FIELD_DETAILS] = "{\"method\":\"GET\"}";
    ev.efield[TLM__EFIELD_CODE] = "ETIMEDOUT";
    ev.efield[TLM__EFIELD_MESSAGE] = "timed out \"x\"";
    ev.efield[TLM__EFIELD_STACK] = "a()\nb()";
    ev.efield[TLM__EFIELD_IMPACT] = "high";
    ev.efield[TLM__EFIELD_FINGERPRINT] = fps;
    ev.n_fingerprint = 2;
    for (int i = 0; i < TLM__EFIELD_FINGERPRINT; i++)
        ev.efield_len[i] = (uint32_t)strlen(ev.efield[i]);
    strcpy(ev.request_id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c");
    ck_assert_int_eq(tlm__encode_event(&b, &ev, "{\"sdk\":\"x\"}"), 0);
    o = cJSON_Parse(b.data);
    ck_assert_msg(o != NULL, "not JSON: %s", b.data);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "error");
    ck_assert_str_eq(
        cJSON_GetObjectItem(o, "environment")->valuestring, "sandbox");
    ck_assert(cJSON_GetObjectItem(o, "sample_rate")->valuedouble == 1.0);
    ck_assert_str_eq(
        cJSON_GetObjectItem(o, "error_code")->valuestring, "ETIMEDOUT");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "error_message")->valuestring,
        "timed out \"x\"");
    ck_assert_str_eq(
        cJSON_GetObjectItem(o, "stack_trace")->valuestring, "a()\nb()");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "impact")->valuestring, "high");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring,
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c");
    fp = cJSON_GetObjectItem(o, "fingerprint");
    ck_assert(cJSON_IsArray(fp));
    ck_assert_int_eq(cJSON_GetArraySize(fp), 2);
    ck_assert_str_eq(cJSON_GetArrayItem(fp, 1)->valuestring, "timeout");
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(o, "request_details")));
    ck_assert_ptr_null(cJSON_GetObjectItem(o, "response_status"));
    ck_assert_ptr_null(cJSON_GetObjectItem(o, "response_time"));
    cJSON_Delete(o);
    /* One part: a plain string. */
    ev.n_fingerprint = 1;
    b.len = 0;
    ck_assert_int_eq(tlm__encode_event(&b, &ev, NULL), 0);
    o = cJSON_Parse(b.data);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "fingerprint")->valuestring, "db");
    cJSON_Delete(o);
    tlm__buf_free(&b);
}
END_TEST

/* ---- through a client ---------------------------------------------------- */

#define MAX_SEEN 64

typedef struct seen {
    pthread_mutex_t mu;
    int n;
    char *type[MAX_SEEN], *message[MAX_SEEN], *stack[MAX_SEEN];
    char *user[MAX_SEEN], *code[MAX_SEEN], *request_id[MAX_SEEN];
    double rate[MAX_SEEN];
} seen;

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static tlm_hook_result
record(tlm_event *ev, void *ud)
{
    seen *s = ud;

    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_SEEN) {
        s->type[s->n] = dup_or_null(tlm_event_get_string(ev, "type"));
        s->message[s->n]
            = dup_or_null(tlm_event_get_string(ev, "error_message"));
        s->stack[s->n] = dup_or_null(tlm_event_get_string(ev, "stack_trace"));
        s->user[s->n] = dup_or_null(tlm_event_get_string(ev, "user_id"));
        s->code[s->n] = dup_or_null(tlm_event_get_string(ev, "error_code"));
        s->request_id[s->n]
            = dup_or_null(tlm_event_get_string(ev, "request_id"));
        s->rate[s->n] = tlm_event_get_number(ev, "sample_rate");
    }
    s->n++;
    pthread_mutex_unlock(&s->mu);
    return TLM_HOOK_DROP;
}

static void
seen_free(seen *s)
{
    for (int i = 0; i < s->n && i < MAX_SEEN; i++) {
        free(s->type[i]);
        free(s->message[i]);
        free(s->stack[i]);
        free(s->user[i]);
        free(s->code[i]);
        free(s->request_id[i]);
    }
    pthread_mutex_destroy(&s->mu);
}

static tlm_client *
client_with_hook(seen *s, double sampling, int consent)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_int_eq(tlm_options_set_endpoint(o, "http://127.0.0.1:1"), 0);
    ck_assert_int_eq(tlm_options_set_before_send(o, record, s), 0);
    ck_assert_int_eq(tlm_options_set_sampling_rate(o, sampling), 0);
    ck_assert_int_eq(tlm_options_set_require_consent(o, consent), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

START_TEST(errors_capture_scrubbed_and_sanitized)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    seen s;
    tlm_client *c = client_with_hook(&s, 1.0, 0);

    e.error_message = "login failed for alice@example.com";
    e.error_code = "E_AUTH";
    e.user_id = "user-42";
    e.stack_trace = "/home/alice/app/auth.c(check+0x10) [0x55aa00112233]\n"
                    "token=abcdef0123456789abcdef at main()";
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.type[0], "error");
    ck_assert_str_eq(s.message[0], "login failed for [email]");
    ck_assert_ptr_nonnull(s.stack[0]);
    ck_assert_ptr_null(strstr(s.stack[0], "0x"));
    ck_assert_ptr_null(strstr(s.stack[0], "alice"));
    ck_assert_ptr_null(strstr(s.stack[0], "abcdef0123456789"));
    ck_assert_ptr_nonnull(strstr(s.stack[0], "~/app/auth.c(check)"));
    ck_assert_str_eq(s.code[0], "E_AUTH");
    ck_assert_uint_eq(strlen(s.user[0]), 32); /* anonymized */
    ck_assert_ptr_null(s.request_id[0]);
    tlm_stats st;
    tlm_stats_init(&st);
    ck_assert_int_eq(tlm_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.errors_captured, 1);
    ck_assert_uint_eq(st.errors_dropped, 1); /* the hook dropped it */
    ck_assert_uint_eq(st.errors_pending, 0);
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

/* Not static, not inlined: dladdr names exported symbols (-rdynamic). */
__attribute__((noinline)) int
errors_test_nested_frame(tlm_client *c)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    int rc;

    e.error_message = "captured";
    e.capture_stack = 1;
    rc = tlm_capture_error(c, &e);
    __asm__ volatile("" ::: "memory"); /* no tail call */
    return rc;
}

START_TEST(errors_capture_stack_names_caller)
{
    seen s;
    tlm_client *c = client_with_hook(&s, 1.0, 0);

    ck_assert_int_eq(errors_test_nested_frame(c), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_nonnull(s.stack[0]);
    ck_assert_msg(strstr(s.stack[0], "errors_test_nested_frame") != NULL,
        "stack: %s", s.stack[0]);
    /* The first frame is the caller's, not the library's. */
    ck_assert_ptr_null(strstr(s.stack[0], "tlm_capture_error"));
    ck_assert_ptr_null(strstr(s.stack[0], "[0x"));
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

START_TEST(errors_never_sampled_out)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    seen s;
    tlm_client *c = client_with_hook(&s, 0.01, 0);
    tlm_stats st;
    int i;

    e.error_message = "boom";
    for (i = 0; i < 50; i++)
        ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    ck_assert_int_eq(s.n, 50);
    for (i = 0; i < 50; i++)
        ck_assert(s.rate[i] == 1.0);
    tlm_stats_init(&st);
    ck_assert_int_eq(tlm_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.errors_sampled_out, 0);
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

START_TEST(errors_sampling_when_configured)
{
    tlm_options *o = tlm_options_new();
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    tlm_client *c = NULL;
    seen s;
    tlm_stats st;
    int i;

    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    ck_assert_int_eq(tlm_options_set_error_sampling_rate(o, 0.0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"error_sampling_rate\":0.001,"
                         "\"max_stack_frames\":8,\"max_stack_bytes\":2048}}"),
        0);
    ck_assert_int_eq(tlm_options_set_before_send(o, record, &s), 0);
    ck_assert_int_eq(tlm_options_set_endpoint(o, "http://127.0.0.1:1"), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    e.error_message = "boom";
    for (i = 0; i < 1000; i++)
        ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    tlm_stats_init(&st);
    ck_assert_int_eq(tlm_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.errors_sampled_out + st.errors_captured, 1000);
    ck_assert_uint_ge(st.errors_sampled_out, 900);
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

START_TEST(errors_request_and_error_joined)
{
    tlm_request r = TLM_REQUEST_INIT;
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    seen s;
    tlm_client *c = client_with_hook(&s, 0.01, 0);

    r.endpoint = "/v1/orders";
    r.response_status = 503;
    r.response_time_ms = 12.5;
    r.user_id = "u1";
    e.error_message = "upstream unavailable";
    ck_assert_int_eq(tlm_track_request_error(c, &r, &e), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    ck_assert_int_eq(s.n, 2); /* the request is not sampled out */
    ck_assert_str_eq(s.type[0], "request");
    ck_assert_str_eq(s.type[1], "error");
    ck_assert_str_eq(s.user[0], s.user[1]);
    ck_assert_ptr_nonnull(s.request_id[1]);
    ck_assert_uint_eq(strlen(s.request_id[1]), 36);
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

START_TEST(errors_invalid_arguments)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    seen s;
    tlm_client *c = client_with_hook(&s, 1.0, 0);
    char big[300];
    const char *bad_utf8[] = {"ok", "\xff\xfe"};
    const char *empty[] = {""};
    const char *nine[9] = {"a", "a", "a", "a", "a", "a", "a", "a", "a"};
    char *details;

    ck_assert_int_eq(tlm_capture_error(NULL, &e), TLM_EINVAL);
    ck_assert_int_eq(tlm_capture_error(c, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL); /* no message */
    e.error_message = "";
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.error_message = "m";
    e.size = 8;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    tlm_error_event_init(&e);
    e.error_message = "m";
    e.impact = 5;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.impact = TLM_IMPACT_CRITICAL;
    e.endpoint = "";
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.endpoint = NULL;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    e.error_code = big;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.error_code = NULL;
    e.fingerprint = bad_utf8;
    e.fingerprint_count = 2;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.fingerprint = empty;
    e.fingerprint_count = 1;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.fingerprint = nine;
    e.fingerprint_count = 9;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.fingerprint = NULL;
    e.fingerprint_count = 1;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.fingerprint_count = 0;
    details = malloc(70000);
    memset(details, ' ', 69999);
    details[69999] = '\0';
    e.request_details = details;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    free(details);
    e.request_details = NULL;
    ck_assert_int_eq(tlm_track_request_error(c, NULL, &e), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    ck_assert_int_eq(s.n, 0);
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

START_TEST(errors_huge_and_invalid_utf8_message)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    seen s;
    tlm_client *c = client_with_hook(&s, 1.0, 0);
    char *huge = malloc(1 << 20);

    memset(huge, 'm', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    e.error_message = huge;
    e.stack_trace = huge;
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    e.error_message = "bad \xff\xc3 bytes";
    e.stack_trace = NULL;
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_le(strlen(s.message[0]), 8192);
    ck_assert_uint_le(strlen(s.stack[0]), 16384);
    ck_assert_ptr_null(strchr(s.message[1], '\xff'));
    ck_assert_ptr_nonnull(strstr(s.message[1], "\xef\xbf\xbd"));
    free(huge);
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

START_TEST(errors_disabled_and_closed)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    seen s;
    tlm_client *c = client_with_hook(&s, 1.0, 0);

    e.error_message = "m";
    ck_assert_int_eq(tlm_client_set_enabled(c, 0), 0);
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EDISABLED);
    ck_assert_int_eq(tlm_client_set_enabled(c, 1), 0);
    ck_assert_int_eq(tlm_client_close(c, 2000), 0);
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_ECLOSED);
    tlm_client_free(c);
    ck_assert_int_eq(s.n, 0);
    seen_free(&s);
}
END_TEST

START_TEST(errors_pending_cap)
{
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    seen s;
    /* Consent unknown: events wait in the queue, unsent. */
    tlm_client *c = client_with_hook(&s, 1.0, 1);
    tlm_stats st;
    int i;

    e.error_message = "waiting";
    for (i = 0; i < TLM__ERR_MAX_PENDING; i++)
        ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EFULL);
    tlm_stats_init(&st);
    ck_assert_int_eq(tlm_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.errors_pending, TLM__ERR_MAX_PENDING);
    ck_assert_uint_eq(st.errors_dropped, 1);
    /* Revoking consent purges them and frees the room. */
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_REVOKED), 0);
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_GIVEN), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    tlm_stats_init(&st);
    ck_assert_int_eq(tlm_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.errors_pending, 0);
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    tlm_client_free(c);
    seen_free(&s);
}
END_TEST

static Suite *
errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *t = tcase_create("sanitize");

    tcase_add_test(t, errors_sanitize_glibc_frames);
    tcase_add_test(t, errors_sanitize_bare_addresses_and_gdb);
    tcase_add_test(t, errors_sanitize_home_dirs);
    tcase_add_test(t, errors_sanitize_frame_cap);
    tcase_add_test(t, errors_sanitize_byte_cap);
    tcase_add_test(t, errors_utf8_cut);
    tcase_add_test(t, errors_encode_json);
    suite_add_tcase(s, t);
    t = tcase_create("client");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, errors_capture_scrubbed_and_sanitized);
    tcase_add_test(t, errors_capture_stack_names_caller);
    tcase_add_test(t, errors_never_sampled_out);
    tcase_add_test(t, errors_sampling_when_configured);
    tcase_add_test(t, errors_request_and_error_joined);
    tcase_add_test(t, errors_invalid_arguments);
    tcase_add_test(t, errors_huge_and_invalid_utf8_message);
    tcase_add_test(t, errors_disabled_and_closed);
    tcase_add_test(t, errors_pending_cap);
    suite_add_tcase(s, t);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(errors_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
