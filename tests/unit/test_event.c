/*
 * test_event.c - the event view of the before-send hook (lib/event.c):
 * tlm_event_get_string / get_number / set_string, directly on an event
 * built from a hand-filled slot, and through a hook on a real client.
 */
#include "client.h"

#include <check.h>
#include <errno.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEAD_ENDPOINT "http://127.0.0.1:1"

/* Fills a slot's strings the way client.c does. */
static void
slot_fill(tlm__slot *s, const char *const v[TLM__NFIELDS])
{
    size_t total = 0, off = 0;
    char *base = s->data;
    int i;

    for (i = 0; i < TLM__NFIELDS; i++) {
        s->len[i] = v[i] ? (uint32_t)strlen(v[i]) : UINT32_MAX;
        total += v[i] ? s->len[i] + 1 : 0;
    }
    s->overflow = NULL;
    if (total > TLM__SLOT_INLINE) {
        base = tlm__malloc(total);
        ck_assert_ptr_nonnull(base);
        s->overflow = base;
    }
    for (i = 0; i < TLM__NFIELDS; i++) {
        if (v[i] == NULL)
            continue;
        memcpy(base + off, v[i], s->len[i] + 1);
        off += s->len[i] + 1;
    }
}

static const char *const names[TLM__NFIELDS] = {"endpoint", "method", "user_id",
    "organization_id", "access_tier", "request_details"};

static const char *const full[TLM__NFIELDS] = {"/v1/users/{id}", "PATCH",
    "user-1", "org-9", "pro", "{\"fields\":[\"name\"]}"};

static void
slot_full(tlm__slot *s)
{
    memset(s, 0, sizeof(*s));
    s->type = TLM__EV_REQUEST;
    s->status = 404;
    s->ts_ms = 1700000000123LL;
    s->response_time_ms = 87.25;
    slot_fill(s, full);
}

START_TEST(event_reads_fields)
{
    tlm__slot s;
    tlm_event ev;
    int i;

    slot_full(&s);
    tlm__event_from_slot(&ev, &s);
    ck_assert_str_eq(tlm_event_get_string(&ev, "type"), "request");
    for (i = 0; i < TLM__NFIELDS; i++)
        ck_assert_str_eq(tlm_event_get_string(&ev, names[i]), full[i]);
    ck_assert_double_eq(tlm_event_get_number(&ev, "response_status"), 404);
    ck_assert_double_eq(tlm_event_get_number(&ev, "response_time"), 87.25);
    ck_assert_double_eq(tlm_event_get_number(&ev, "sample_rate"), 1.0);
    ck_assert_int_eq(ev.ts_ms, 1700000000123LL);
    /* Unknown names and NULL arguments. */
    ck_assert_ptr_null(tlm_event_get_string(&ev, "status"));
    ck_assert_ptr_null(tlm_event_get_string(&ev, "Endpoint"));
    ck_assert_ptr_null(tlm_event_get_string(&ev, ""));
    ck_assert_ptr_null(tlm_event_get_string(&ev, NULL));
    ck_assert_ptr_null(tlm_event_get_string(NULL, "endpoint"));
    ck_assert_double_eq(tlm_event_get_number(&ev, "endpoint"), 0.0);
    ck_assert_double_eq(tlm_event_get_number(&ev, "nope"), 0.0);
    ck_assert_double_eq(tlm_event_get_number(&ev, NULL), 0.0);
    ck_assert_double_eq(tlm_event_get_number(NULL, "response_time"), 0.0);
    tlm__event_clear(&ev);
}
END_TEST

START_TEST(event_absent_fields_null)
{
    const char *v[TLM__NFIELDS] = {"/only", NULL, NULL, NULL, NULL, NULL};
    tlm__slot s;
    tlm_event ev;
    int i;

    memset(&s, 0, sizeof(s));
    s.type = TLM__EV_REQUEST;
    slot_fill(&s, v);
    tlm__event_from_slot(&ev, &s);
    ck_assert_str_eq(tlm_event_get_string(&ev, "endpoint"), "/only");
    for (i = 1; i < TLM__NFIELDS; i++)
        ck_assert_ptr_null(tlm_event_get_string(&ev, names[i]));
    tlm__event_clear(&ev);
}
END_TEST

START_TEST(event_overflow_fields)
{
    char endpoint[400], details[300];
    const char *v[TLM__NFIELDS];
    tlm__slot s;
    tlm_event ev;
    int i;

    memset(endpoint, 'p', sizeof(endpoint) - 1);
    endpoint[0] = '/';
    endpoint[sizeof(endpoint) - 1] = '\0';
    snprintf(details, sizeof(details), "{\"q\":\"%0250d\"}", 1);
    v[0] = endpoint;
    v[1] = "GET";
    v[2] = NULL;
    v[3] = "org";
    v[4] = NULL;
    v[5] = details;
    memset(&s, 0, sizeof(s));
    s.type = TLM__EV_REQUEST;
    slot_fill(&s, v);
    ck_assert_ptr_nonnull(s.overflow);
    tlm__event_from_slot(&ev, &s);
    for (i = 0; i < TLM__NFIELDS; i++)
        ck_assert_pstr_eq(tlm_event_get_string(&ev, names[i]), v[i]);
    tlm__event_clear(&ev);
    tlm__free(s.overflow);
}
END_TEST

START_TEST(event_set_replaces_with_copy)
{
    tlm__slot s;
    tlm_event ev;
    char value[] = "replaced-value";
    const char *got;
    int i;

    slot_full(&s);
    tlm__event_from_slot(&ev, &s);
    for (i = 0; i < TLM__NFIELDS; i++) {
        snprintf(value, sizeof(value), "new-%d", i);
        ck_assert_int_eq(tlm_event_set_string(&ev, names[i], value), 0);
        got = tlm_event_get_string(&ev, names[i]);
        ck_assert_ptr_ne(got, value); /* an owned copy */
        memset(value, 'X', sizeof(value) - 1);
        snprintf(value, sizeof(value), "new-%d", i);
        ck_assert_str_eq(got, value);
    }
    /* Setting twice replaces (the first copy is freed: valgrind). */
    ck_assert_int_eq(tlm_event_set_string(&ev, "user_id", "second"), 0);
    ck_assert_int_eq(tlm_event_set_string(&ev, "user_id", "third"), 0);
    ck_assert_str_eq(tlm_event_get_string(&ev, "user_id"), "third");
    /* The slot itself is untouched. */
    for (i = 0; i < TLM__NFIELDS; i++)
        ck_assert_str_eq(tlm__slot_field(&s, i), full[i]);
    tlm__event_clear(&ev);
    for (i = 0; i < TLM__NFIELDS; i++)
        ck_assert_ptr_null(ev.owned[i]);
}
END_TEST

START_TEST(event_set_null_removes_optional)
{
    tlm__slot s;
    tlm_event ev;
    int i;

    slot_full(&s);
    tlm__event_from_slot(&ev, &s);
    ck_assert_int_eq(tlm_event_set_string(&ev, "method", "PUT"), 0);
    for (i = 1; i < TLM__NFIELDS; i++) {
        ck_assert_int_eq(tlm_event_set_string(&ev, names[i], NULL), 0);
        ck_assert_ptr_null(tlm_event_get_string(&ev, names[i]));
    }
    ck_assert_str_eq(tlm_event_get_string(&ev, "endpoint"), full[0]);
    tlm__event_clear(&ev);
}
END_TEST

START_TEST(event_set_refused)
{
    static const char *const readonly[] = {
        "type", "id", "bogus", "", "Method", "response_status", "sample_rate"};
    tlm__slot s;
    tlm_event ev;
    size_t i;

    slot_full(&s);
    tlm__event_from_slot(&ev, &s);
    snprintf(
        ev.id, sizeof(ev.id), "%s", "018bcfe5-6b7b-7c3d-9e2f-0123456789ab");
    /* endpoint is required: it can be replaced, not cleared. */
    ck_assert_int_eq(tlm_event_set_string(&ev, "endpoint", NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_event_set_string(&ev, "endpoint", ""), TLM_EINVAL);
    ck_assert_str_eq(tlm_event_get_string(&ev, "endpoint"), full[0]);
    for (i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++)
        ck_assert_msg(tlm_event_set_string(&ev, readonly[i], "x") == TLM_EINVAL,
            "set \"%s\" accepted", readonly[i]);
    ck_assert_str_eq(tlm_event_get_string(&ev, "type"), "request");
    ck_assert_str_eq(tlm_event_get_string(&ev, "id"),
        "018bcfe5-6b7b-7c3d-9e2f-0123456789ab");
    ck_assert_int_eq(tlm_event_set_string(&ev, NULL, "x"), TLM_EINVAL);
    ck_assert_int_eq(tlm_event_set_string(NULL, "method", "x"), TLM_EINVAL);
    for (i = 0; i < TLM__NFIELDS; i++)
        ck_assert_str_eq(tlm_event_get_string(&ev, names[i]), full[i]);
    tlm__event_clear(&ev);
}
END_TEST

START_TEST(event_set_environment)
{
    tlm__slot s;
    tlm_event ev;

    /* telemetry.h: every field tlm_event_get_string reads may be set,
     * except "type" and "id"; "environment" takes sandbox|production. */
    slot_full(&s);
    tlm__event_from_slot(&ev, &s);
    ev.environment = "production";
    ck_assert_int_eq(tlm_event_set_string(&ev, "environment", "sandbox"), 0);
    ck_assert_str_eq(tlm_event_get_string(&ev, "environment"), "sandbox");
    /* Only the two environments; not removable. */
    ck_assert_int_eq(
        tlm_event_set_string(&ev, "environment", "staging"), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_event_set_string(&ev, "environment", NULL), TLM_EINVAL);
    ck_assert_str_eq(tlm_event_get_string(&ev, "environment"), "sandbox");
    tlm__event_clear(&ev);
}
END_TEST

/* ---- through a hook on a real client ----------------------------------- */

#define MAX_SEEN 8

struct seen {
    char field[TLM__NFIELDS][512];
    int present[TLM__NFIELDS];
    char type[16], id[40], environment[16];
    double status, time, rate;
    int rc_set_user, rc_clear_endpoint, rc_set_type, rc_set_id, rc_unknown;
    char user_after[32];
};

struct hook_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int drop_prefix_len; /* drop events whose endpoint starts with "/drop" */
    int drop_all;
    struct seen seen[MAX_SEEN];
};

static void
copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "(null)");
}

static tlm_hook_result
record_hook(tlm_event *ev, void *userdata)
{
    struct hook_state *hs = userdata;
    struct seen *sn;
    const char *v;
    int i, keep;

    pthread_mutex_lock(&hs->mu);
    sn = hs->calls < MAX_SEEN ? &hs->seen[hs->calls] : NULL;
    pthread_mutex_unlock(&hs->mu);
    if (sn != NULL) {
        for (i = 0; i < TLM__NFIELDS; i++) {
            v = tlm_event_get_string(ev, names[i]);
            sn->present[i] = v != NULL;
            copy_str(sn->field[i], sizeof(sn->field[i]), v);
        }
        copy_str(sn->type, sizeof(sn->type), tlm_event_get_string(ev, "type"));
        copy_str(sn->id, sizeof(sn->id), tlm_event_get_string(ev, "id"));
        copy_str(sn->environment, sizeof(sn->environment),
            tlm_event_get_string(ev, "environment"));
        sn->status = tlm_event_get_number(ev, "response_status");
        sn->time = tlm_event_get_number(ev, "response_time");
        sn->rate = tlm_event_get_number(ev, "sample_rate");
        sn->rc_set_user = tlm_event_set_string(ev, "user_id", "hooked");
        copy_str(sn->user_after, sizeof(sn->user_after),
            tlm_event_get_string(ev, "user_id"));
        sn->rc_clear_endpoint = tlm_event_set_string(ev, "endpoint", NULL);
        sn->rc_set_type = tlm_event_set_string(ev, "type", "error");
        sn->rc_set_id = tlm_event_set_string(ev, "id", "x");
        sn->rc_unknown = tlm_event_set_string(ev, "no_such_field", "x");
    }
    v = tlm_event_get_string(ev, "endpoint");
    keep = !(hs->drop_all || (v != NULL && strncmp(v, "/drop", 5) == 0));
    pthread_mutex_lock(&hs->mu);
    hs->calls++;
    pthread_cond_broadcast(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
    return keep ? TLM_HOOK_KEEP : TLM_HOOK_DROP;
}

static void
hook_init(struct hook_state *hs)
{
    memset(hs, 0, sizeof(*hs));
    pthread_mutex_init(&hs->mu, NULL);
    pthread_cond_init(&hs->cv, NULL);
}

static void
hook_destroy(struct hook_state *hs)
{
    pthread_cond_destroy(&hs->cv);
    pthread_mutex_destroy(&hs->mu);
}

/* Waits (a safety bound, not a timing assertion) for `n` hook calls. */
static int
hook_wait(struct hook_state *hs, int n)
{
    struct timespec dl;
    int calls;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    pthread_mutex_lock(&hs->mu);
    while (hs->calls < n)
        if (pthread_cond_timedwait(&hs->cv, &hs->mu, &dl) == ETIMEDOUT)
            break;
    calls = hs->calls;
    pthread_mutex_unlock(&hs->mu);
    return calls;
}

/* The expected anonymized id, computed with OpenSSL's own HMAC(). */
static const char *
hmac_hex(const char *id)
{
    static char out[33];
    unsigned char mac[32];
    unsigned int len = 0;
    int i;

    HMAC(EVP_sha256(), "test-salt", 9, (const unsigned char *)id, strlen(id),
        mac, &len);
    for (i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return out;
}

static tlm_client *
hooked_client(struct hook_state *hs)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, DEAD_ENDPOINT), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 3600000), 0);
    ck_assert_int_eq(tlm_options_set_environment(o, "sandbox"), 0);
    ck_assert_int_eq(tlm_options_set_access_tier(o, "free"), 0);
    ck_assert_int_eq(tlm_options_set_before_send(o, record_hook, hs), 0);
    ck_assert_int_eq(tlm_options_set_anonymization_salt(o, "test-salt"), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

static void
optout_off(void)
{
    unsetenv("DO_NOT_TRACK");
    unsetenv("TELEMETRY_OPTOUT");
}

START_TEST(event_hook_sees_request)
{
    struct hook_state hs;
    tlm_client *c;
    tlm_request r = TLM_REQUEST_INIT;
    char long_ep[301];
    struct seen *a, *b;
    int i;

    hook_init(&hs);
    c = hooked_client(&hs);
    r.endpoint = "/v1/items/{id}";
    r.method = "GET";
    r.response_status = 503;
    r.response_time_ms = 12.5;
    r.user_id = "u1";
    r.organization_id = "o1";
    r.request_details = "{\"method\":\"GET\",\"password\":\"hunter2\",\"a\":1}";
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    /* A second one whose strings overflow the slot, with its own tier. */
    memset(long_ep, 'z', sizeof(long_ep) - 1);
    long_ep[0] = '/';
    long_ep[sizeof(long_ep) - 1] = '\0';
    tlm_request_init(&r);
    r.endpoint = long_ep;
    r.access_tier = "enterprise";
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    (void)tlm_client_flush(c, 100); /* wakes the worker: the hook runs */
    ck_assert_int_eq(hook_wait(&hs, 2), 2);
    (void)tlm_client_close(c, 200);

    a = &hs.seen[0];
    ck_assert_str_eq(a->type, "request");
    ck_assert_uint_eq(strlen(a->id), 36);
    ck_assert_int_eq(a->id[14], '7'); /* a UUIDv7 */
    ck_assert_str_eq(a->environment, "sandbox");
    ck_assert_str_eq(a->field[TLM__FIELD_ENDPOINT], "/v1/items/{id}");
    ck_assert_str_eq(a->field[TLM__FIELD_METHOD], "GET");
    /* The hook sees the privacy layer's output: keyed hashes of the ids,
     * and request_details minimized to the allow-list. */
    ck_assert_str_eq(a->field[TLM__FIELD_USER_ID], hmac_hex("u1"));
    ck_assert_str_eq(a->field[TLM__FIELD_ORG_ID], hmac_hex("o1"));
    ck_assert_str_eq(a->field[TLM__FIELD_TIER], "free"); /* the default */
    ck_assert_str_eq(a->field[TLM__FIELD_DETAILS], "{\"method\":\"GET\"}");
    ck_assert_double_eq(a->status, 503);
    ck_assert_double_eq(a->time, 12.5);
    ck_assert_double_eq(a->rate, 1.0);

    b = &hs.seen[1];
    ck_assert_str_eq(b->field[TLM__FIELD_ENDPOINT], long_ep);
    ck_assert_str_eq(b->field[TLM__FIELD_TIER], "enterprise");
    ck_assert_int_eq(b->present[TLM__FIELD_METHOD], 0);
    ck_assert_int_eq(b->present[TLM__FIELD_DETAILS], 0);
    ck_assert_str_ne(a->id, b->id);

    for (i = 0; i < 2; i++) {
        struct seen *sn = &hs.seen[i];
        ck_assert_int_eq(sn->rc_set_user, 0);
        ck_assert_str_eq(sn->user_after, "hooked");
        ck_assert_int_eq(sn->rc_clear_endpoint, TLM_EINVAL);
        ck_assert_int_eq(sn->rc_set_type, TLM_EINVAL);
        ck_assert_int_eq(sn->rc_set_id, TLM_EINVAL);
        ck_assert_int_eq(sn->rc_unknown, TLM_EINVAL);
    }
    tlm_client_free(c);
    hook_destroy(&hs);
}
END_TEST

START_TEST(event_hook_drop_counted)
{
    struct hook_state hs;
    tlm_client *c;
    tlm_stats st;
    int i;

    hook_init(&hs);
    hs.drop_all = 1;
    c = hooked_client(&hs);
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(
            tlm_track_request_simple(c, "/v1/x", "GET", 200, 1.0, NULL), 0);
    /* Everything is dropped by the hook: nothing is left to send, so
     * close finishes without reaching its deadline. */
    ck_assert_int_eq(tlm_client_close(c, 10000), 0);
    ck_assert_int_eq(hook_wait(&hs, 5), 5);
    tlm_stats_init(&st);
    ck_assert_int_eq(tlm_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.enqueued, 5);
    ck_assert_uint_eq(st.dropped_before_send, 5);
    ck_assert_uint_eq(st.dropped_shutdown, 0);
    ck_assert_uint_eq(st.requests, 0);
    tlm_client_free(c);
    hook_destroy(&hs);
}
END_TEST

START_TEST(event_hook_drop_some)
{
    struct hook_state hs;
    tlm_client *c;
    tlm_stats st;

    hook_init(&hs);
    c = hooked_client(&hs);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/drop/1", "GET", 200, 1, 0), 0);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/keep/1", "GET", 200, 1, 0), 0);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/drop/2", "GET", 200, 1, 0), 0);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/keep/2", "GET", 200, 1, 0), 0);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/drop/3", "GET", 200, 1, 0), 0);
    (void)tlm_client_flush(c, 100);
    ck_assert_int_eq(hook_wait(&hs, 5), 5);
    /* The two kept events cannot be delivered: dropped at the deadline. */
    ck_assert_int_eq(tlm_client_close(c, 200), TLM_ETIMEDOUT);
    tlm_stats_init(&st);
    ck_assert_int_eq(tlm_client_stats(c, &st), 0);
    ck_assert_uint_eq(st.enqueued, 5);
    ck_assert_uint_eq(st.dropped_before_send, 3);
    ck_assert_uint_eq(st.dropped_shutdown, 2);
    tlm_client_free(c);
    hook_destroy(&hs);
}
END_TEST

static Suite *
event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("view");
    TCase *hk = tcase_create("hook");

    tcase_add_test(tc, event_reads_fields);
    tcase_add_test(tc, event_absent_fields_null);
    tcase_add_test(tc, event_overflow_fields);
    tcase_add_test(tc, event_set_replaces_with_copy);
    tcase_add_test(tc, event_set_null_removes_optional);
    tcase_add_test(tc, event_set_refused);
    tcase_add_test(tc, event_set_environment);
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(hk, optout_off, NULL);
    tcase_add_test(hk, event_hook_sees_request);
    tcase_add_test(hk, event_hook_drop_counted);
    tcase_add_test(hk, event_hook_drop_some);
    tcase_set_timeout(hk, 60);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, hk);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(event_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
