/*
 * test_privacy.c - the privacy layer: keyed-hash anonymization, the state
 * directory, request_details minimization, sampling, consent, opt-out and
 * TELEMETRY_DEBUG.
 *
 * No server: clients point at loopback sockets the test owns, so it can
 * prove that nothing was sent.
 */
#include "client.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
hmac_hex(const char *key, const char *id, char out[33])
{
    unsigned char mac[32];
    unsigned int len = 0;
    int i;

    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)id,
        strlen(id), mac, &len);
    for (i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return out;
}

static tlm_options *
opts_with(const char *salt)
{
    tlm_options *o = tlm_options_new();

    ck_assert_ptr_nonnull(o);
    if (salt != NULL)
        ck_assert_int_eq(tlm_options_set_anonymization_salt(o, salt), 0);
    return o;
}

START_TEST(privacy_hmac_matches_openssl)
{
    tlm_options *o = opts_with("project-salt");
    tlm__privacy p;
    char got[33], want[33], id[200];
    int i;

    ck_assert_int_eq(tlm__privacy_init(&p, o), 0);
    for (i = 0; i < 2000; i++) {
        /* Short ids repeat (cache hits), long ones bypass the cache. */
        if (i % 2)
            snprintf(id, sizeof(id), "user-%d", i % 37);
        else
            snprintf(id, sizeof(id), "%0150d-long-organization-id", i);
        ck_assert_ptr_nonnull(tlm__privacy_anonymize(&p, id, got));
        ck_assert_str_eq(got, hmac_hex("project-salt", id, want));
    }
    tlm__privacy_destroy(&p);
    tlm_options_free(o);
}
END_TEST

START_TEST(privacy_same_salt_same_id_no_salt_differs)
{
    tlm_options *a = opts_with("s1"), *b = opts_with("s1"),
                *n = opts_with(NULL);
    tlm__privacy pa, pb, pn, pn2;
    char x[33], y[33], z[33], w[33];

    ck_assert_int_eq(tlm__privacy_init(&pa, a), 0);
    ck_assert_int_eq(tlm__privacy_init(&pb, b), 0);
    ck_assert_int_eq(tlm__privacy_init(&pn, n), 0);
    ck_assert_int_eq(tlm__privacy_init(&pn2, n), 0);
    tlm__privacy_anonymize(&pa, "alice", x);
    tlm__privacy_anonymize(&pb, "alice", y);
    ck_assert_str_eq(x, y);
    ck_assert_uint_eq(strlen(x), 32);
    /* Without a salt: random per process (here per state), never a plain
     * unsalted hash that anyone could recompute. */
    tlm__privacy_anonymize(&pn, "alice", z);
    tlm__privacy_anonymize(&pn2, "alice", w);
    ck_assert_str_ne(z, w);
    ck_assert_str_ne(z, x);
    tlm__privacy_destroy(&pa);
    tlm__privacy_destroy(&pb);
    tlm__privacy_destroy(&pn);
    tlm__privacy_destroy(&pn2);
    tlm_options_free(a);
    tlm_options_free(b);
    tlm_options_free(n);
}
END_TEST

START_TEST(privacy_state_dir_salt_persists)
{
    char dir[] = "/tmp/tlm-priv-XXXXXX", sub[300], path[400], salt[80];
    tlm_options *o = opts_with(NULL);
    tlm__privacy p1, p2;
    char x[33], y[33];
    struct stat st;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/state", dir);
    ck_assert_int_eq(tlm_options_set_state_dir(o, sub), 0);
    ck_assert_int_eq(tlm__privacy_init(&p1, o), 0);
    ck_assert_int_eq(tlm__privacy_init(&p2, o), 0);
    tlm__privacy_anonymize(&p1, "bob", x);
    tlm__privacy_anonymize(&p2, "bob", y);
    ck_assert_str_eq(x, y); /* the same install: the same ids */
    snprintf(path, sizeof(path), "%s/salt", sub);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(tlm__state_read(sub, "salt", salt, sizeof(salt)), 0);
    ck_assert_uint_eq(strlen(salt), 64);
    ck_assert_str_eq(x, hmac_hex(salt, "bob", y));
    tlm__privacy_destroy(&p1);
    tlm__privacy_destroy(&p2);
    tlm_options_free(o);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

static char *
minimized(const char *in, const char *allow)
{
    cJSON *obj = cJSON_Parse(in);
    char *out;

    ck_assert_ptr_nonnull(obj);
    tlm__privacy_minimize(obj, allow);
    out = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    return out;
}

START_TEST(privacy_minimize_allowlist_and_secrets)
{
    char *out;

    out = minimized("{\"method\":\"GET\",\"path\":\"/v1/x\",\"body\":\"hi\","
                    "\"Authorization\":\"Bearer x\",\"content_length\":3,"
                    "\"retry_count\":1,\"user_email\":\"a@b.c\"}",
        NULL);
    ck_assert_str_eq(out,
        "{\"method\":\"GET\",\"path\":\"/v1/x\","
        "\"content_length\":3,\"retry_count\":1}");
    free(out);
    /* Allow-listed secrets still go, at any depth. */
    out = minimized("{\"Cookie\":\"s=1\",\"headers\":{\"X-Api-Key\":\"k\","
                    "\"Accept\":\"json\",\"list\":[{\"password\":\"p\","
                    "\"ok\":1}]},\"session_id\":\"z\"}",
        "Cookie,headers,session_id");
    ck_assert_str_eq(
        out, "{\"headers\":{\"Accept\":\"json\",\"list\":[{\"ok\":1}]}}");
    free(out);
    out = minimized("{\"a\":1}", " ");
    ck_assert_str_eq(out, "{}");
    free(out);
}
END_TEST

START_TEST(privacy_rate_overrides)
{
    tlm_options *o = opts_with("s");
    tlm__privacy p;
    char ep[64];
    int i;

    ck_assert_int_eq(tlm_options_set_sampling_rate(o, 0.5), 0);
    for (i = 0; i < 40; i++) {
        snprintf(ep, sizeof(ep), "/v1/e%d", i);
        ck_assert_int_eq(
            tlm_options_set_sampling_override(o, ep, 0.01 * (i + 1)), 0);
    }
    ck_assert_int_eq(tlm_options_set_sampling_override(o, "/v1/e3", 1.0), 0);
    ck_assert_int_eq(tlm__privacy_init(&p, o), 0);
    ck_assert(tlm__privacy_rate(&p, o, "/v1/e0") == 0.01);
    ck_assert(tlm__privacy_rate(&p, o, "/v1/e39") == 0.40);
    ck_assert(tlm__privacy_rate(&p, o, "/v1/e3") == 1.0);
    ck_assert(tlm__privacy_rate(&p, o, "/v1/other") == 0.5);
    ck_assert_int_eq(tlm_options_set_sampling_rate(o, 0.0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_sampling_rate(o, 1.5), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_sampling_override(o, "/x", -1), TLM_EINVAL);
    tlm__privacy_destroy(&p);
    tlm_options_free(o);
}
END_TEST

START_TEST(privacy_keep_fractions)
{
    tlm_options *o = opts_with("s");
    tlm__privacy p;
    char user[32];
    int i, kept_random = 0, kept_user = 0, same = 1;

    ck_assert_int_eq(tlm__privacy_init(&p, o), 0);
    for (i = 0; i < 100000; i++) {
        snprintf(user, sizeof(user), "user-%d", i);
        kept_random += tlm__privacy_keep(&p, TLM_SAMPLE_RANDOM, 0.1, user);
        kept_user += tlm__privacy_keep(&p, TLM_SAMPLE_BY_USER, 0.1, user);
        /* A user's events are kept or dropped together. */
        same &= tlm__privacy_keep(&p, TLM_SAMPLE_BY_USER, 0.1, user)
            == tlm__privacy_keep(&p, TLM_SAMPLE_BY_USER, 0.1, user);
    }
    ck_assert(same);
    /* 10% of 100k: binomial sd ~95, so +-1000 is over 10 sd. */
    ck_assert_int_gt(kept_random, 9000);
    ck_assert_int_lt(kept_random, 11000);
    ck_assert_int_gt(kept_user, 9000);
    ck_assert_int_lt(kept_user, 11000);
    tlm__privacy_destroy(&p);
    tlm_options_free(o);
}
END_TEST

START_TEST(privacy_config_keys)
{
    tlm_options *o = tlm_options_new();

    ck_assert_int_eq(
        tlm_options_load_string(o,
            "{\"telemetry\":{\"sampling_rate\":0.25,\"sampling_mode\":\"user\","
            "\"sampling_overrides\":{\"/health\":0.01},"
            "\"request_details_allowlist\":[\"method\",\"path\"],"
            "\"anonymization_salt\":\"abc\",\"scrubbing_enabled\":false,"
            "\"require_consent\":true,\"state_dir\":\"/tmp/x\"}}"),
        0);
    ck_assert(o->sampling_rate == 0.25);
    ck_assert_int_eq(o->sampling_mode, TLM_SAMPLE_BY_USER);
    ck_assert_uint_eq(o->n_overrides, 1);
    ck_assert_str_eq(o->details_allowlist, "method,path");
    ck_assert_str_eq(o->anon_salt, "abc");
    ck_assert_int_eq(o->scrub, 0);
    ck_assert_int_eq(o->require_consent, 1);
    ck_assert_str_eq(tlm_options_warnings(o), "");
    /* Turning anonymization off needs the acknowledgement. */
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"anonymization_enabled\":false}}"),
        TLM_ECONFIG);
    ck_assert_ptr_nonnull(
        strstr(tlm_options_last_error(o), "telemetry.anonymization_enabled"));
    ck_assert_int_eq(o->anonymize, 1);
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"anonymization_enabled\":false,"
                         "\"anonymization_disabled_acknowledged\":true}}"),
        0);
    ck_assert_int_eq(o->anonymize, 0);
    ck_assert_int_eq(
        tlm_options_load_string(o, "{\"telemetry\":{\"sampling_rate\":2}}"),
        TLM_ECONFIG);
    ck_assert_ptr_nonnull(
        strstr(tlm_options_last_error(o), "telemetry.sampling_rate"));
    ck_assert_int_eq(
        tlm_options_load_string(
            o, "{\"telemetry\":{\"sampling_overrides\":{\"/x\":\"a\"}}}"),
        TLM_ECONFIG);
    ck_assert_int_eq(tlm_options_load_string(
                         o, "{\"telemetry\":{\"sampling_mode\":\"often\"}}"),
        TLM_ECONFIG);
    ck_assert(o->sampling_rate == 0.25); /* all or nothing */
    tlm_options_free(o);
}
END_TEST

/* A listening socket: it counts the connections a client makes. */
static int
listener(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    ck_assert_int_ge(fd, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int
connections(int fd)
{
    int n = 0, c;

    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        n++;
    }
    return n;
}

static tlm_client *
client_at(int port, tlm_options *o)
{
    char url[64];
    tlm_client *c = NULL;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 10), 0);
    ck_assert_int_eq(tlm_options_set_transfer_timeout_ms(o, 200), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    return c;
}

static void
track(tlm_client *c, int n, int expect)
{
    int i;

    for (i = 0; i < n; i++)
        ck_assert_int_eq(tlm_track_request_simple(
                             c, "/v1/p", "GET", 200, 1.0, "user@example.com"),
            expect);
}

START_TEST(privacy_optout_env_sends_nothing)
{
    int port, fd = listener(&port);
    tlm_options *o = tlm_options_new();
    tlm_client *c;
    tlm_stats s;

    setenv("DO_NOT_TRACK", "1", 1);
    c = client_at(port, o);
    unsetenv("DO_NOT_TRACK");
    track(c, 100, TLM_EDISABLED);
    ck_assert_int_eq(tlm_client_flush(c, 200), 0);
    ck_assert_int_eq(tlm_client_close(c, 200), 0);
    tlm_stats_init(&s);
    tlm_client_stats(c, &s);
    ck_assert_uint_eq(s.dropped_disabled, 100);
    ck_assert_uint_eq(s.requests, 0);
    ck_assert_int_eq(connections(fd), 0);
    tlm_client_free(c);
    tlm_options_free(o);
    close(fd);
}
END_TEST

START_TEST(privacy_optout_at_runtime_purges)
{
    int port, fd = listener(&port);
    tlm_options *o = tlm_options_new();
    tlm_client *c;
    tlm_stats s;

    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 3600000), 0);
    c = client_at(port, o);
    /* client_at set a short interval: make the worker idle instead. */
    track(c, 100, 0);
    ck_assert_int_eq(tlm_client_set_enabled(c, 0), 0);
    track(c, 5, TLM_EDISABLED);
    ck_assert_int_eq(tlm_client_close(c, 300), 0);
    tlm_stats_init(&s);
    tlm_client_stats(c, &s);
    ck_assert_uint_eq(s.sent, 0);
    ck_assert_uint_eq(s.enqueued + 5,
        s.dropped_disabled + s.dropped_shutdown + s.dropped_retries);
    tlm_client_free(c);
    tlm_options_free(o);
    close(fd);
}
END_TEST

START_TEST(privacy_consent_holds_then_purges)
{
    char dir[] = "/tmp/tlm-consent-XXXXXX", cmd[300], v[32];
    int port, fd = listener(&port);
    tlm_options *o = tlm_options_new();
    tlm_client *c;
    tlm_stats s;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(tlm_options_set_require_consent(o, 1), 0);
    ck_assert_int_eq(tlm_options_set_state_dir(o, dir), 0);
    c = client_at(port, o);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_UNKNOWN);
    track(c, 50, 0);
    /* Nothing moves without consent: the events wait in the queue. */
    ck_assert_int_eq(tlm_client_flush(c, 300), TLM_ETIMEDOUT);
    tlm_stats_init(&s);
    tlm_client_stats(c, &s);
    ck_assert_uint_eq(s.queue_depth, 50);
    ck_assert_int_eq(connections(fd), 0);
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_REVOKED), 0);
    track(c, 3, TLM_EDISABLED);
    ck_assert_int_eq(tlm_client_close(c, 300), 0);
    tlm_client_stats(c, &s);
    ck_assert_uint_eq(s.dropped_consent, 53);
    ck_assert_uint_eq(s.requests, 0);
    ck_assert_int_eq(connections(fd), 0);
    tlm_client_free(c);
    /* The decision persists: a new client starts revoked. */
    ck_assert_int_eq(tlm__state_read(dir, "consent", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "revoked");
    c = client_at(port, o);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_REVOKED);
    track(c, 1, TLM_EDISABLED);
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_GIVEN), 0);
    track(c, 2, 0);
    /* Given: the events leave (the listener never answers: they wait in
     * transfer, which is what it takes to see a connection). */
    ck_assert_int_eq(tlm_client_flush(c, 300), TLM_ETIMEDOUT);
    ck_assert_int_ge(connections(fd), 1);
    tlm_client_free(c);
    tlm_options_free(o);
    close(fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(privacy_debug_prints_instead_of_sending)
{
    char path[] = "/tmp/tlm-debug-XXXXXX", line[4096];
    int port, fd = listener(&port), out = mkstemp(path), saved, lines = 0;
    tlm_options *o = opts_with("debug-salt");
    tlm_client *c;
    tlm_stats s;
    cJSON *ev;
    FILE *f;

    ck_assert_int_ge(out, 0);
    saved = dup(2);
    dup2(out, 2);
    setenv("TELEMETRY_DEBUG", "1", 1);
    c = client_at(port, o);
    unsetenv("TELEMETRY_DEBUG");
    track(c, 20, 0);
    ck_assert_int_eq(tlm_client_flush(c, 2000), 0);
    ck_assert_int_eq(tlm_client_close(c, 500), 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    tlm_stats_init(&s);
    tlm_client_stats(c, &s);
    ck_assert_uint_eq(s.debug_printed, 20);
    ck_assert_uint_eq(s.requests, 0);
    ck_assert_int_eq(connections(fd), 0);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        ev = cJSON_Parse(line);
        ck_assert_msg(ev != NULL, "not JSON: %s", line);
        /* What is printed is final: the id is already anonymized. */
        ck_assert_uint_eq(
            strlen(cJSON_GetObjectItem(ev, "user_id")->valuestring), 32);
        ck_assert_ptr_null(strstr(line, "example.com"));
        cJSON_Delete(ev);
        lines++;
    }
    fclose(f);
    ck_assert_int_eq(lines, 20);
    tlm_client_free(c);
    tlm_options_free(o);
    unlink(path);
    close(fd);
}
END_TEST

/* The hook sees the scrubbed endpoint and request_details. */
static char seen_endpoint[256], seen_details[512];

static tlm_hook_result
remember(tlm_event *ev, void *ud)
{
    (void)ud;
    snprintf(seen_endpoint, sizeof(seen_endpoint), "%s",
        tlm_event_get_string(ev, "endpoint"));
    snprintf(seen_details, sizeof(seen_details), "%s",
        tlm_event_get_string(ev, "request_details"));
    return TLM_HOOK_DROP;
}

START_TEST(privacy_scrubs_endpoint_and_details)
{
    int port, fd = listener(&port);
    tlm_options *o = opts_with("s");
    tlm_request r = TLM_REQUEST_INIT;
    tlm_client *c;

    ck_assert_int_eq(tlm_options_set_before_send(o, remember, NULL), 0);
    c = client_at(port, o);
    r.endpoint = "/v1/users/123456/orders?email=jane@example.com&page=2";
    r.request_details = "{\"method\":\"POST\","
                        "\"path\":\"/home/alice/upload?token=abc\","
                        "\"content_type\":\"contact jane@example.com\"}";
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    ck_assert_int_eq(tlm_client_flush(c, 2000), 0);
    ck_assert_str_eq(seen_endpoint, "/v1/users/{id}/orders?email=&page=");
    ck_assert_ptr_null(strstr(seen_details, "alice"));
    ck_assert_ptr_null(strstr(seen_details, "jane@"));
    ck_assert_ptr_nonnull(strstr(seen_details, "[email]"));
    ck_assert_ptr_nonnull(strstr(seen_details, "\"method\":\"POST\""));
    tlm_client_free(c);
    tlm_options_free(o);
    close(fd);
}
END_TEST

START_TEST(privacy_custom_scrub_patterns)
{
    int port, fd = listener(&port);
    tlm_options *o = opts_with("s");
    tlm_request r = TLM_REQUEST_INIT;
    tlm_client *c;

    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"scrub_patterns\":{"
                         "\"order\":\"ORD-[0-9]{6}\","
                         "\"tenant\":\"acme|globex\"}}}"),
        0);
    /* A pattern that does not compile names itself. */
    ck_assert_int_eq(
        tlm_options_add_scrub_pattern(o, "bad", "a(b"), TLM_EINVAL);
    ck_assert_ptr_nonnull(
        strstr(tlm_options_last_error(o), "scrub_patterns.bad"));
    ck_assert_int_eq(
        tlm_options_add_scrub_pattern(o, "Bad Name", "x"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_before_send(o, remember, NULL), 0);
    c = client_at(port, o);
    r.endpoint = "/v1/acme/orders/ORD-123456";
    r.request_details = "{\"path\":\"ORD-000001 and ORD-999999 for "
                        "globex\"}";
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    ck_assert_int_eq(tlm_client_flush(c, 2000), 0);
    ck_assert_str_eq(seen_endpoint, "/v1/[tenant]/orders/[order]");
    ck_assert_str_eq(
        seen_details, "{\"path\":\"[order] and [order] for [tenant]\"}");
    tlm_client_free(c);
    tlm_options_free(o);
    close(fd);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("privacy");
    TCase *tc = tcase_create("privacy");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, privacy_hmac_matches_openssl);
    tcase_add_test(tc, privacy_same_salt_same_id_no_salt_differs);
    tcase_add_test(tc, privacy_state_dir_salt_persists);
    tcase_add_test(tc, privacy_minimize_allowlist_and_secrets);
    tcase_add_test(tc, privacy_rate_overrides);
    tcase_add_test(tc, privacy_keep_fractions);
    tcase_add_test(tc, privacy_config_keys);
    tcase_add_test(tc, privacy_optout_env_sends_nothing);
    tcase_add_test(tc, privacy_optout_at_runtime_purges);
    tcase_add_test(tc, privacy_consent_holds_then_purges);
    tcase_add_test(tc, privacy_debug_prints_instead_of_sending);
    tcase_add_test(tc, privacy_scrubs_endpoint_and_details);
    tcase_add_test(tc, privacy_custom_scrub_patterns);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
