/*
 * test_config.c - the JSON configuration document (lib/config.c):
 * tlm_options_load_string / tlm_options_load_file, all-or-nothing errors
 * naming the key, warnings for unknown and later keys.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char full_doc[]
    = "{\n"
      "  \"telemetry\": {\n"
      "    \"endpoint\": \"https://t.example:8443\",\n"
      "    \"api_key\": \"secret-key\",\n"
      "    \"environment\": \"sandbox\",\n"
      "    \"access_tier\": \"pro\",\n"
      "    \"ca_bundle\": \"/etc/ssl/ca.pem\",\n"
      "    \"flush_interval_ms\": 250,\n"
      "    \"max_batch_events\": 123,\n"
      "    \"max_batch_bytes\": 65536,\n"
      "    \"max_queue_events\": 4096,\n"
      "    \"shutdown_timeout_ms\": 750,\n"
      "    \"connect_timeout_ms\": 1500,\n"
      "    \"transfer_timeout_ms\": 9000,\n"
      "    \"max_inflight\": 7,\n"
      "    \"max_retries\": 3,\n"
      "    \"compression\": false,\n"
      "    \"enabled\": false\n"
      "  },\n"
      "  \"feedback\": {\"enabled\": true, \"max_length\": 5000},\n"
      "  \"error_tracking\": {\"enabled\": true, \"alert_threshold\": 10},\n"
      "  \"feature_requests\": {\"enabled\": true, \"votes\": [1, 2]},\n"
      "  \"analytics\": {\"retention_days\": 90},\n"
      "  \"server\": {\"listen\": \"127.0.0.1:8080\", \"db\": null}\n"
      "}\n";

static tlm_options *
new_opts(void)
{
    tlm_options *o = tlm_options_new();

    ck_assert_ptr_nonnull(o);
    return o;
}

static void
check_full_doc_applied(const tlm_options *o)
{
    ck_assert_str_eq(o->endpoint, "https://t.example:8443");
    ck_assert_str_eq(o->api_key, "secret-key");
    ck_assert_str_eq(o->environment, "sandbox");
    ck_assert_str_eq(o->access_tier, "pro");
    ck_assert_str_eq(o->ca_bundle, "/etc/ssl/ca.pem");
    ck_assert_uint_eq(o->flush_interval_ms, 250);
    ck_assert_uint_eq(o->max_batch_events, 123);
    ck_assert_uint_eq(o->max_batch_bytes, 65536);
    ck_assert_uint_eq(o->max_queue_events, 4096);
    ck_assert_uint_eq(o->shutdown_timeout_ms, 750);
    ck_assert_uint_eq(o->connect_timeout_ms, 1500);
    ck_assert_uint_eq(o->transfer_timeout_ms, 9000);
    ck_assert_uint_eq(o->max_inflight, 7);
    ck_assert_uint_eq(o->max_retries, 3);
    ck_assert_int_eq(o->compression, 0);
    ck_assert_int_eq(o->enabled, 0);
}

START_TEST(config_full_document_applies)
{
    tlm_options *o = new_opts();

    ck_assert_int_eq(tlm_options_load_string(o, full_doc), 0);
    check_full_doc_applied(o);
    /* Every key is known and the other sections are the server's. */
    ck_assert_str_eq(tlm_options_warnings(o), "");
    ck_assert_str_eq(tlm_options_last_error(o), "");
    tlm_options_free(o);
}
END_TEST

START_TEST(config_absent_keys_keep_values)
{
    tlm_options *o = new_opts();

    ck_assert_int_eq(tlm_options_set_max_retries(o, 42), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, "old"), 0);
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"max_inflight\":9,"
                         "\"api_key\":\"new\"}}"),
        0);
    ck_assert_uint_eq(o->max_inflight, 9);
    ck_assert_str_eq(o->api_key, "new");
    ck_assert_uint_eq(o->max_retries, 42); /* not in the document */
    ck_assert_uint_eq(o->flush_interval_ms, 1000);
    ck_assert_str_eq(o->endpoint, "http://127.0.0.1:8080");
    /* null unsets an optional string. */
    ck_assert_int_eq(
        tlm_options_load_string(o, "{\"telemetry\":{\"api_key\":null}}"), 0);
    ck_assert_ptr_null(o->api_key);
    /* No telemetry section at all is fine. */
    ck_assert_int_eq(tlm_options_load_string(o, "{}"), 0);
    ck_assert_uint_eq(o->max_inflight, 9);
    tlm_options_free(o);
}
END_TEST

/* ---- all-or-nothing on bad values -------------------------------------- */

/* A deep snapshot of everything but last_error. */
typedef struct snapshot {
    tlm_options o;
    char *warnings;
} snapshot;

static void
snap_take(snapshot *s, const tlm_options *o)
{
    ck_assert_int_eq(tlm__options_copy(&s->o, o), 0);
    s->warnings = strdup(tlm_options_warnings(o));
    ck_assert_ptr_nonnull(s->warnings);
}

static void
snap_free(snapshot *s)
{
    tlm__options_clear(&s->o);
    free(s->warnings);
}

static void
snap_check(const snapshot *s, const tlm_options *o, const char *what)
{
    const tlm_options *a = &s->o;

#define SAME_STR(f)                                                            \
    ck_assert_msg((a->f == NULL && o->f == NULL)                               \
            || (a->f != NULL && o->f != NULL && strcmp(a->f, o->f) == 0),      \
        "%s: " #f " changed", what)
#define SAME(f) ck_assert_msg(a->f == o->f, "%s: " #f " changed", what)
    SAME_STR(endpoint);
    SAME_STR(api_key);
    SAME_STR(environment);
    SAME_STR(access_tier);
    SAME_STR(binding);
    SAME_STR(ca_bundle);
    SAME(flush_interval_ms);
    SAME(max_batch_events);
    SAME(max_batch_bytes);
    SAME(max_queue_events);
    SAME(shutdown_timeout_ms);
    SAME(connect_timeout_ms);
    SAME(transfer_timeout_ms);
    SAME(max_inflight);
    SAME(max_retries);
    SAME(compression);
    SAME(enabled);
    SAME(logger);
    SAME(logger_data);
    SAME(before_send);
    SAME(before_send_data);
#undef SAME
#undef SAME_STR
    ck_assert_msg(strcmp(s->warnings, tlm_options_warnings(o)) == 0,
        "%s: warnings changed to \"%s\"", what, tlm_options_warnings(o));
}

static const struct bad_value {
    const char *key;
    const char *json; /* the value as JSON text */
} bad_values[] = {
    {"flush_interval_ms", "\"1000\""},
    {"flush_interval_ms", "-1"},
    {"flush_interval_ms", "10.5"},
    {"flush_interval_ms", "9"},
    {"flush_interval_ms", "3600001"},
    {"flush_interval_ms", "true"},
    {"flush_interval_ms", "null"},
    {"flush_interval_ms", "{}"},
    {"flush_interval_ms", "[100]"},
    {"flush_interval_ms", "1e20"},
    {"flush_interval_ms", "4294967296"},
    {"max_batch_events", "0"},
    {"max_batch_events", "10001"},
    {"max_batch_events", "\"x\""},
    {"max_batch_bytes", "1023"},
    {"max_batch_bytes", "67108865"},
    {"max_batch_bytes", "-65536"},
    {"max_queue_events", "15"},
    {"max_queue_events", "16777217"},
    {"shutdown_timeout_ms", "-5"},
    {"shutdown_timeout_ms", "3600001"},
    {"connect_timeout_ms", "0"},
    {"connect_timeout_ms", "600001"},
    {"transfer_timeout_ms", "0"},
    {"transfer_timeout_ms", "0.5"},
    {"max_inflight", "0"},
    {"max_inflight", "65"},
    {"max_retries", "1001"},
    {"max_retries", "2.5"},
    {"compression", "1"},
    {"compression", "\"true\""},
    {"compression", "null"},
    {"enabled", "0"},
    {"enabled", "\"yes\""},
    {"endpoint", "42"},
    {"endpoint", "\"ftp://x\""},
    {"endpoint", "\"\""},
    {"endpoint", "true"},
    {"endpoint", "null"},
    {"endpoint", "{\"url\":\"http://x\"}"},
    {"environment", "\"staging\""},
    {"environment", "1"},
    {"environment", "null"},
    {"api_key", "5"},
    {"api_key", "\"\""},
    {"access_tier", "[]"},
    {"access_tier", "false"},
    {"ca_bundle", "{}"},
};

START_TEST(config_bad_value_rejected)
{
    const struct bad_value *bv = &bad_values[_i];
    tlm_options *o = new_opts();
    char doc[512], want[64], what[128];
    snapshot before;

    /* Earlier state: a loaded document with a warning, and set values. */
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"old_key\":1,"
                         "\"max_retries\":7}}"),
        0);
    ck_assert_int_eq(tlm_options_set_api_key(o, "kept"), 0);
    snap_take(&before, o);
    /* Valid keys and an unknown key come before the bad one: none of them
     * may be applied, and no warning may be added. */
    snprintf(doc, sizeof(doc),
        "{\"telemetry\":{\"flush_interval_ms\":20,\"api_key\":\"new\","
        "\"environment\":\"sandbox\",\"compression\":false,"
        "\"zzz_unknown\":1,\"%s\":%s}}",
        bv->key, bv->json);
    snprintf(what, sizeof(what), "%s = %s", bv->key, bv->json);
    ck_assert_msg(tlm_options_load_string(o, doc) == TLM_ECONFIG,
        "%s: not TLM_ECONFIG", what);
    snprintf(want, sizeof(want), "telemetry.%s:", bv->key);
    ck_assert_msg(strncmp(tlm_options_last_error(o), want, strlen(want)) == 0,
        "%s: last_error \"%s\"", what, tlm_options_last_error(o));
    snap_check(&before, o, what);
    snap_free(&before);
    tlm_options_free(o);
}
END_TEST

START_TEST(config_not_an_object)
{
    static const char *const docs[] = {
        "{\"telemetry\": 5}",
        "{\"telemetry\": [1]}",
        "{\"telemetry\": \"x\"}",
        "{\"telemetry\": null}",
    };
    static const char *const roots[]
        = {"[1, 2]", "42", "\"telemetry\"", "null"};
    tlm_options *o = new_opts();
    snapshot before;
    size_t i;

    snap_take(&before, o);
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        ck_assert_int_eq(tlm_options_load_string(o, docs[i]), TLM_ECONFIG);
        ck_assert_msg(strncmp(tlm_options_last_error(o), "telemetry", 9) == 0,
            "%s: last_error \"%s\"", docs[i], tlm_options_last_error(o));
        snap_check(&before, o, docs[i]);
    }
    for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        o->last_error[0] = '\0';
        ck_assert_int_eq(tlm_options_load_string(o, roots[i]), TLM_ECONFIG);
        ck_assert_str_ne(tlm_options_last_error(o), "");
        snap_check(&before, o, roots[i]);
    }
    snap_free(&before);
    tlm_options_free(o);
}
END_TEST

START_TEST(config_invalid_json)
{
    tlm_options *o = new_opts();
    snapshot before;

    ck_assert_int_eq(tlm_options_set_max_inflight(o, 3), 0);
    snap_take(&before, o);
    /* The 'x' at byte 14 is where the document stops being JSON. */
    ck_assert_int_eq(
        tlm_options_load_string(o, "{\"telemetry\": x}"), TLM_ECONFIG);
    ck_assert_ptr_nonnull(
        strstr(tlm_options_last_error(o), "not valid JSON near byte 14"));
    snap_check(&before, o, "invalid JSON");
    ck_assert_int_eq(tlm_options_load_string(o, ""), TLM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "not valid JSON"));
    ck_assert_int_eq(
        tlm_options_load_string(o, "{\"telemetry\":{\"max_inflight\":9"),
        TLM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "not valid JSON"));
    snap_check(&before, o, "truncated JSON");
    ck_assert_int_eq(tlm_options_load_string(o, NULL), TLM_EINVAL);
    snap_free(&before);
    tlm_options_free(o);
}
END_TEST

START_TEST(config_trailing_garbage_rejected)
{
    tlm_options *o = new_opts();

    /* One JSON value followed by more text is not a JSON document. */
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"max_inflight\":9}} "
                         "{\"telemetry\":{\"max_inflight\":10}}"),
        TLM_ECONFIG);
    ck_assert_uint_eq(o->max_inflight, 4);
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "not valid JSON"));
    tlm_options_free(o);
}
END_TEST

static int
count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(config_unknown_keys_warn)
{
    tlm_options *o = new_opts();
    const char *w;

    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"flush_intervall_ms\":20,"
                         "\"max_inflight\":5},"
                         "\"telemetri\":{\"a\":1},"
                         "\"feedback\":{\"whatever\":1}}"),
        0);
    ck_assert_uint_eq(o->max_inflight, 5);
    w = tlm_options_warnings(o);
    ck_assert_ptr_nonnull(strstr(w, "telemetry.flush_intervall_ms"));
    ck_assert_ptr_nonnull(strstr(w, "telemetri"));
    ck_assert_ptr_null(strstr(w, "feedback")); /* a known section */
    ck_assert_ptr_null(strstr(w, "max_inflight"));
    ck_assert_int_eq(count_lines(w), 2);
    ck_assert_str_eq(tlm_options_last_error(o), "");
    /* Warnings are those of the last load. */
    ck_assert_int_eq(
        tlm_options_load_string(o, "{\"telemetry\":{\"max_inflight\":6}}"), 0);
    ck_assert_str_eq(tlm_options_warnings(o), "");
    tlm_options_free(o);
}
END_TEST

START_TEST(config_later_keys_not_supported)
{
    static const char *const later[] = {
        "retention_period_days",
    };
    tlm_options *o = new_opts();
    char doc[256], want[64];
    size_t i;

    for (i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        snprintf(doc, sizeof(doc),
            "{\"telemetry\":{\"%s\":\"x\",\"max_retries\":%zu}}", later[i], i);
        ck_assert_int_eq(tlm_options_load_string(o, doc), 0);
        ck_assert_uint_eq(o->max_retries, i);
        snprintf(want, sizeof(want), "telemetry.%s: not supported", later[i]);
        ck_assert_msg(strstr(tlm_options_warnings(o), want) != NULL,
            "%s: warnings \"%s\"", later[i], tlm_options_warnings(o));
        ck_assert_int_eq(count_lines(tlm_options_warnings(o)), 1);
    }
    tlm_options_free(o);
}
END_TEST

START_TEST(config_load_file_missing)
{
    static const char path[] = "/nonexistent-dir/telemetry-config.json";
    tlm_options *o = new_opts();
    snapshot before;

    snap_take(&before, o);
    ck_assert_int_eq(tlm_options_load_file(o, path), TLM_EIO);
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), path));
    snap_check(&before, o, "missing file");
    ck_assert_int_eq(tlm_options_load_file(o, NULL), TLM_EINVAL);
    snap_free(&before);
    tlm_options_free(o);
}
END_TEST

static void
write_temp(char *path, size_t cap, const char *text)
{
    int fd;
    size_t n = strlen(text);

    snprintf(path, cap, "/tmp/tlm-config-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
    ck_assert_int_eq(close(fd), 0);
}

START_TEST(config_load_file_real)
{
    tlm_options *o = new_opts();
    char path[64];

    write_temp(path, sizeof(path), full_doc);
    ck_assert_int_eq(tlm_options_load_file(o, path), 0);
    unlink(path);
    check_full_doc_applied(o);
    ck_assert_str_eq(tlm_options_warnings(o), "");

    /* A file with a bad value is a TLM_ECONFIG naming the key. */
    write_temp(
        path, sizeof(path), "{\"telemetry\":{\"max_inflight\":\"many\"}}");
    ck_assert_int_eq(tlm_options_load_file(o, path), TLM_ECONFIG);
    unlink(path);
    ck_assert_ptr_nonnull(
        strstr(tlm_options_last_error(o), "telemetry.max_inflight"));
    ck_assert_uint_eq(o->max_inflight, 7);

    /* An empty file is not JSON. */
    write_temp(path, sizeof(path), "");
    ck_assert_int_eq(tlm_options_load_file(o, path), TLM_ECONFIG);
    unlink(path);
    tlm_options_free(o);
}
END_TEST

struct log_capture {
    int calls;
    int warn_calls;
    char text[1024];
};

static void
capture_log(tlm_log_level level, const char *message, void *userdata)
{
    struct log_capture *lc = userdata;
    size_t used = strlen(lc->text);

    lc->calls++;
    if (level == TLM_LOG_WARN)
        lc->warn_calls++;
    snprintf(lc->text + used, sizeof(lc->text) - used, "%s\n", message);
}

START_TEST(config_logger_receives_warnings)
{
    tlm_options *o = new_opts();
    struct log_capture lc;

    memset(&lc, 0, sizeof(lc));
    ck_assert_int_eq(tlm_options_set_logger(o, capture_log, &lc), 0);
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"bogus_key\":1,"
                         "\"retention_period_days\":9},"
                         "\"extra_section\":{}}"),
        0);
    ck_assert_int_eq(lc.calls, 3);
    ck_assert_int_eq(lc.warn_calls, 3);
    ck_assert_ptr_nonnull(strstr(lc.text, "telemetry.bogus_key"));
    ck_assert_ptr_nonnull(strstr(lc.text, "telemetry.retention_period_days"));
    ck_assert_ptr_nonnull(strstr(lc.text, "extra_section"));
    /* The logger stays set after the load. */
    ck_assert_ptr_eq((void *)o->logger, (void *)capture_log);
    ck_assert_ptr_eq(o->logger_data, &lc);
    tlm_options_free(o);
}
END_TEST

START_TEST(config_spool_keys)
{
    tlm_options *o = new_opts();
    ck_assert_int_eq(tlm_options_load_string(o,
                         "{\"telemetry\":{\"spool_dir\":\"/tmp/sp\","
                         "\"spool_max_bytes\":1048576,"
                         "\"spool_fsync\":\"always\"}}"),
        0);
    ck_assert_str_eq(o->spool_dir, "/tmp/sp");
    ck_assert_uint_eq(o->spool_max_bytes, 1048576);
    ck_assert_int_eq(o->spool_fsync, TLM_FSYNC_ALWAYS);
    static const struct {
        const char *doc, *want;
    } bad[] = {
        {"{\"telemetry\":{\"spool_dir\":3}}", "telemetry.spool_dir"},
        {"{\"telemetry\":{\"spool_max_bytes\":100}}",
            "telemetry.spool_max_bytes"},
        {"{\"telemetry\":{\"spool_max_bytes\":1.5}}",
            "telemetry.spool_max_bytes"},
        {"{\"telemetry\":{\"spool_fsync\":\"sometimes\"}}",
            "telemetry.spool_fsync"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(tlm_options_load_string(o, bad[i].doc), TLM_ECONFIG);
        ck_assert_msg(strstr(tlm_options_last_error(o), bad[i].want) != NULL,
            "%s -> %s", bad[i].doc, tlm_options_last_error(o));
    }
    /* All or nothing: the earlier good values stay. */
    ck_assert_int_eq(o->spool_fsync, TLM_FSYNC_ALWAYS);
    ck_assert_int_eq(tlm_options_set_spool_fsync(o, 7), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_spool_max_bytes(o, 4095), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_spool_dir(NULL, "/x"), TLM_EINVAL);
    tlm_options_free(o);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, config_full_document_applies);
    tcase_add_test(tc, config_absent_keys_keep_values);
    tcase_add_loop_test(tc, config_bad_value_rejected, 0,
        (int)(sizeof(bad_values) / sizeof(bad_values[0])));
    tcase_add_test(tc, config_not_an_object);
    tcase_add_test(tc, config_invalid_json);
    tcase_add_test(tc, config_trailing_garbage_rejected);
    tcase_add_test(tc, config_unknown_keys_warn);
    tcase_add_test(tc, config_later_keys_not_supported);
    tcase_add_test(tc, config_spool_keys);
    tcase_add_test(tc, config_load_file_missing);
    tcase_add_test(tc, config_load_file_real);
    tcase_add_test(tc, config_logger_receives_warnings);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
