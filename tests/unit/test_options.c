/*
 * test_options.c - the tlm_options object (lib/options.c): defaults, the
 * typed setters' ranges and error reporting, string ownership.
 *
 * Defaults and values are read through the struct in internal.h.
 */
#include "internal.h"

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static tlm_options *
new_opts(void)
{
    tlm_options *o = tlm_options_new();

    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(options_defaults)
{
    tlm_options *o = new_opts();

    ck_assert_str_eq(o->endpoint, "http://127.0.0.1:8080");
    ck_assert_str_eq(o->environment, "production");
    ck_assert_str_eq(o->binding, "c");
    ck_assert_ptr_null(o->api_key);
    ck_assert_ptr_null(o->access_tier);
    ck_assert_ptr_null(o->ca_bundle);
    ck_assert_uint_eq(o->flush_interval_ms, 1000);
    ck_assert_uint_eq(o->max_batch_events, 500);
    ck_assert_uint_eq(o->max_batch_bytes, 512 * 1024);
    ck_assert_uint_eq(o->max_queue_events, 131072);
    ck_assert_uint_eq(o->shutdown_timeout_ms, 2000);
    ck_assert_uint_eq(o->connect_timeout_ms, 5000);
    ck_assert_uint_eq(o->transfer_timeout_ms, 30000);
    ck_assert_uint_eq(o->max_inflight, 4);
    ck_assert_uint_eq(o->max_retries, 20);
    ck_assert_int_eq(o->compression, 1);
    ck_assert_int_eq(o->enabled, 1);
    ck_assert_ptr_null(o->logger);
    ck_assert_ptr_null(o->before_send);
    ck_assert_str_eq(tlm_options_last_error(o), "");
    ck_assert_str_eq(tlm_options_warnings(o), "");
    tlm_options_free(o);
}
END_TEST

/* ---- integer setters --------------------------------------------------- */

typedef int (*u32_setter)(tlm_options *, uint32_t);

static const struct u32_case {
    const char *name;
    u32_setter set;
    size_t off;
    uint32_t lo, hi;
} u32_cases[] = {
    {"flush_interval_ms", tlm_options_set_flush_interval_ms,
        offsetof(tlm_options, flush_interval_ms), 10, 3600000},
    {"max_batch_events", tlm_options_set_max_batch_events,
        offsetof(tlm_options, max_batch_events), 1, 10000},
    {"max_queue_events", tlm_options_set_max_queue_events,
        offsetof(tlm_options, max_queue_events), 16, 16777216},
    {"shutdown_timeout_ms", tlm_options_set_shutdown_timeout_ms,
        offsetof(tlm_options, shutdown_timeout_ms), 0, 3600000},
    {"connect_timeout_ms", tlm_options_set_connect_timeout_ms,
        offsetof(tlm_options, connect_timeout_ms), 1, 600000},
    {"transfer_timeout_ms", tlm_options_set_transfer_timeout_ms,
        offsetof(tlm_options, transfer_timeout_ms), 1, 3600000},
    {"max_inflight", tlm_options_set_max_inflight,
        offsetof(tlm_options, max_inflight), 1, 64},
    {"max_retries", tlm_options_set_max_retries,
        offsetof(tlm_options, max_retries), 0, 1000},
};

static uint32_t
u32_at(const tlm_options *o, size_t off)
{
    uint32_t v;

    memcpy(&v, (const char *)o + off, sizeof(v));
    return v;
}

/* `v` is refused: TLM_EINVAL, value unchanged, last_error names the key. */
static void
expect_refused(tlm_options *o, const struct u32_case *c, uint32_t v)
{
    uint32_t before = u32_at(o, c->off);
    int rc;

    o->last_error[0] = '\0';
    rc = c->set(o, v);
    ck_assert_msg(rc == TLM_EINVAL, "%s = %u: rc %d", c->name, v, rc);
    ck_assert_msg(
        u32_at(o, c->off) == before, "%s changed by refused %u", c->name, v);
    ck_assert_msg(strstr(tlm_options_last_error(o), c->name) != NULL,
        "%s: last_error \"%s\"", c->name, tlm_options_last_error(o));
}

static void
expect_accepted(tlm_options *o, const struct u32_case *c, uint32_t v)
{
    int rc = c->set(o, v);

    ck_assert_msg(rc == 0, "%s = %u: rc %d", c->name, v, rc);
    ck_assert_msg(u32_at(o, c->off) == v, "%s: stored %u, set %u", c->name,
        u32_at(o, c->off), v);
}

START_TEST(options_u32_ranges)
{
    const struct u32_case *c = &u32_cases[_i];
    tlm_options *o = new_opts();
    uint32_t mid = c->lo + (c->hi - c->lo) / 2;

    expect_accepted(o, c, c->lo);
    expect_accepted(o, c, c->hi);
    expect_accepted(o, c, mid);
    if (c->lo > 0)
        expect_refused(o, c, c->lo - 1);
    expect_refused(o, c, c->hi + 1);
    expect_refused(o, c, UINT32_MAX);
    ck_assert_uint_eq(u32_at(o, c->off), mid);
    tlm_options_free(o);
}
END_TEST

START_TEST(options_max_batch_bytes_range)
{
    tlm_options *o = new_opts();
    const size_t lo = 1024, hi = (size_t)64 << 20;
    const size_t bad[] = {0, lo - 1, hi + 1, (size_t)UINT32_MAX,
        (size_t)UINT32_MAX + 1 + 2048, SIZE_MAX};
    size_t i;

    ck_assert_int_eq(tlm_options_set_max_batch_bytes(o, lo), 0);
    ck_assert_uint_eq(o->max_batch_bytes, lo);
    ck_assert_int_eq(tlm_options_set_max_batch_bytes(o, hi), 0);
    ck_assert_uint_eq(o->max_batch_bytes, hi);
    ck_assert_int_eq(tlm_options_set_max_batch_bytes(o, 65536), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o->last_error[0] = '\0';
        ck_assert_int_eq(
            tlm_options_set_max_batch_bytes(o, bad[i]), TLM_EINVAL);
        ck_assert_uint_eq(o->max_batch_bytes, 65536);
        ck_assert_ptr_nonnull(
            strstr(tlm_options_last_error(o), "max_batch_bytes"));
    }
    tlm_options_free(o);
}
END_TEST

START_TEST(options_null_object)
{
    size_t i;

    for (i = 0; i < sizeof(u32_cases) / sizeof(u32_cases[0]); i++)
        ck_assert_int_eq(u32_cases[i].set(NULL, u32_cases[i].lo), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_batch_bytes(NULL, 4096), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_endpoint(NULL, "http://127.0.0.1:1"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_api_key(NULL, "k"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_environment(NULL, "sandbox"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_access_tier(NULL, "free"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_binding(NULL, "python"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_ca_bundle(NULL, "/x.pem"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_compression(NULL, 1), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_enabled(NULL, 1), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_logger(NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_before_send(NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_string(NULL, "{}"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_file(NULL, "/dev/null"), TLM_EINVAL);
    ck_assert_ptr_nonnull(tlm_options_last_error(NULL));
    ck_assert_ptr_nonnull(tlm_options_warnings(NULL));
}
END_TEST

START_TEST(options_free_null)
{
    tlm_options_free(NULL);
}
END_TEST

/* ---- string setters ---------------------------------------------------- */

START_TEST(options_strings_copied)
{
    tlm_options *o = new_opts();
    char ep[] = "https://telemetry.example.com:8443";
    char key[] = "key-123";
    char env[] = "sandbox";
    char tier[] = "free";
    char binding[] = "python";
    char ca[] = "/etc/ssl/ca.pem";

    ck_assert_int_eq(tlm_options_set_endpoint(o, ep), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, key), 0);
    ck_assert_int_eq(tlm_options_set_environment(o, env), 0);
    ck_assert_int_eq(tlm_options_set_access_tier(o, tier), 0);
    ck_assert_int_eq(tlm_options_set_binding(o, binding), 0);
    ck_assert_int_eq(tlm_options_set_ca_bundle(o, ca), 0);
    ck_assert_ptr_ne(o->endpoint, ep);
    ck_assert_ptr_ne(o->api_key, key);
    ck_assert_ptr_ne(o->environment, env);
    ck_assert_ptr_ne(o->access_tier, tier);
    ck_assert_ptr_ne(o->binding, binding);
    ck_assert_ptr_ne(o->ca_bundle, ca);
    memset(ep, 'X', sizeof(ep) - 1);
    memset(key, 'X', sizeof(key) - 1);
    memset(env, 'X', sizeof(env) - 1);
    memset(tier, 'X', sizeof(tier) - 1);
    memset(binding, 'X', sizeof(binding) - 1);
    memset(ca, 'X', sizeof(ca) - 1);
    ck_assert_str_eq(o->endpoint, "https://telemetry.example.com:8443");
    ck_assert_str_eq(o->api_key, "key-123");
    ck_assert_str_eq(o->environment, "sandbox");
    ck_assert_str_eq(o->access_tier, "free");
    ck_assert_str_eq(o->binding, "python");
    ck_assert_str_eq(o->ca_bundle, "/etc/ssl/ca.pem");
    tlm_options_free(o);
}
END_TEST

START_TEST(options_endpoint_scheme)
{
    static const char *const bad[] = {
        "ftp://example.com",
        "127.0.0.1:8080",
        "example.com",
        "",
        "http:/x",
        "httpx://x",
        "http://",
        "https://",
        "http:///path",
        NULL,
    };
    tlm_options *o = new_opts();
    size_t i;

    ck_assert_int_eq(tlm_options_set_endpoint(o, "http://10.0.0.1:9"), 0);
    ck_assert_str_eq(o->endpoint, "http://10.0.0.1:9");
    ck_assert_int_eq(tlm_options_set_endpoint(o, "https://t.example"), 0);
    ck_assert_str_eq(o->endpoint, "https://t.example");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o->last_error[0] = '\0';
        ck_assert_msg(tlm_options_set_endpoint(o, bad[i]) == TLM_EINVAL,
            "endpoint \"%s\" accepted", bad[i] ? bad[i] : "(null)");
        ck_assert_str_eq(o->endpoint, "https://t.example");
        ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "endpoint"));
    }
    tlm_options_free(o);
}
END_TEST

START_TEST(options_environment_values)
{
    static const char *const bad[]
        = {"staging", "Sandbox", "PRODUCTION", "", "sandbox ", NULL};
    tlm_options *o = new_opts();
    size_t i;

    ck_assert_int_eq(tlm_options_set_environment(o, "sandbox"), 0);
    ck_assert_str_eq(o->environment, "sandbox");
    ck_assert_int_eq(tlm_options_set_environment(o, "production"), 0);
    ck_assert_str_eq(o->environment, "production");
    ck_assert_int_eq(tlm_options_set_environment(o, "sandbox"), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o->last_error[0] = '\0';
        ck_assert_msg(tlm_options_set_environment(o, bad[i]) == TLM_EINVAL,
            "environment \"%s\" accepted", bad[i] ? bad[i] : "(null)");
        ck_assert_str_eq(o->environment, "sandbox");
        ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "environment"));
    }
    tlm_options_free(o);
}
END_TEST

START_TEST(options_optional_strings)
{
    tlm_options *o = new_opts();

    /* api_key, access_tier, ca_bundle: NULL unsets, "" is refused. */
    ck_assert_int_eq(tlm_options_set_api_key(o, "k"), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, ""), TLM_EINVAL);
    ck_assert_str_eq(o->api_key, "k");
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "api_key"));
    ck_assert_int_eq(tlm_options_set_api_key(o, NULL), 0);
    ck_assert_ptr_null(o->api_key);

    ck_assert_int_eq(tlm_options_set_access_tier(o, "pro"), 0);
    ck_assert_int_eq(tlm_options_set_access_tier(o, ""), TLM_EINVAL);
    ck_assert_str_eq(o->access_tier, "pro");
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "access_tier"));
    ck_assert_int_eq(tlm_options_set_access_tier(o, NULL), 0);
    ck_assert_ptr_null(o->access_tier);

    ck_assert_int_eq(tlm_options_set_ca_bundle(o, "/ca.pem"), 0);
    ck_assert_int_eq(tlm_options_set_ca_bundle(o, ""), TLM_EINVAL);
    ck_assert_str_eq(o->ca_bundle, "/ca.pem");
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "ca_bundle"));
    ck_assert_int_eq(tlm_options_set_ca_bundle(o, NULL), 0);
    ck_assert_ptr_null(o->ca_bundle);

    /* binding is required. */
    ck_assert_int_eq(tlm_options_set_binding(o, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_binding(o, ""), TLM_EINVAL);
    ck_assert_str_eq(o->binding, "c");
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "binding"));
    tlm_options_free(o);
}
END_TEST

START_TEST(options_flags)
{
    tlm_options *o = new_opts();

    ck_assert_int_eq(tlm_options_set_compression(o, 0), 0);
    ck_assert_int_eq(o->compression, 0);
    ck_assert_int_eq(tlm_options_set_compression(o, 7), 0);
    ck_assert_int_eq(o->compression, 1);
    ck_assert_int_eq(tlm_options_set_enabled(o, 0), 0);
    ck_assert_int_eq(o->enabled, 0);
    ck_assert_int_eq(tlm_options_set_enabled(o, -1), 0);
    ck_assert_int_eq(o->enabled, 1);
    tlm_options_free(o);
}
END_TEST

static void
dummy_log(tlm_log_level level, const char *message, void *userdata)
{
    (void)level;
    (void)message;
    (void)userdata;
}

static tlm_hook_result
dummy_hook(tlm_event *event, void *userdata)
{
    (void)event;
    (void)userdata;
    return TLM_HOOK_KEEP;
}

START_TEST(options_callbacks)
{
    tlm_options *o = new_opts();
    int token;

    ck_assert_int_eq(tlm_options_set_logger(o, dummy_log, &token), 0);
    ck_assert_ptr_eq((void *)o->logger, (void *)dummy_log);
    ck_assert_ptr_eq(o->logger_data, &token);
    ck_assert_int_eq(tlm_options_set_logger(o, NULL, &token), 0);
    ck_assert_ptr_null((void *)o->logger);
    ck_assert_ptr_null(o->logger_data);

    ck_assert_int_eq(tlm_options_set_before_send(o, dummy_hook, &token), 0);
    ck_assert_ptr_eq((void *)o->before_send, (void *)dummy_hook);
    ck_assert_ptr_eq(o->before_send_data, &token);
    ck_assert_int_eq(tlm_options_set_before_send(o, NULL, &token), 0);
    ck_assert_ptr_null((void *)o->before_send);
    ck_assert_ptr_null(o->before_send_data);
    tlm_options_free(o);
}
END_TEST

START_TEST(options_copy_is_deep)
{
    tlm_options *o = new_opts();
    tlm_options copy;

    ck_assert_int_eq(tlm_options_set_api_key(o, "k1"), 0);
    ck_assert_int_eq(tlm_options_set_access_tier(o, "free"), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 250), 0);
    ck_assert_int_eq(tlm__options_copy(&copy, o), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, "k2"), 0);
    ck_assert_int_eq(tlm_options_set_endpoint(o, "http://other:1"), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 999), 0);
    tlm_options_free(o);
    /* The copy owns its strings: still readable after the source is gone. */
    ck_assert_str_eq(copy.api_key, "k1");
    ck_assert_str_eq(copy.access_tier, "free");
    ck_assert_str_eq(copy.endpoint, "http://127.0.0.1:8080");
    ck_assert_str_eq(copy.environment, "production");
    ck_assert_str_eq(copy.binding, "c");
    ck_assert_uint_eq(copy.flush_interval_ms, 250);
    tlm__options_clear(&copy);
}
END_TEST

static Suite *
options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, options_defaults);
    tcase_add_loop_test(tc, options_u32_ranges, 0,
        (int)(sizeof(u32_cases) / sizeof(u32_cases[0])));
    tcase_add_test(tc, options_max_batch_bytes_range);
    tcase_add_test(tc, options_null_object);
    tcase_add_test(tc, options_free_null);
    tcase_add_test(tc, options_strings_copied);
    tcase_add_test(tc, options_endpoint_scheme);
    tcase_add_test(tc, options_environment_values);
    tcase_add_test(tc, options_optional_strings);
    tcase_add_test(tc, options_flags);
    tcase_add_test(tc, options_callbacks);
    tcase_add_test(tc, options_copy_is_deep);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(options_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
