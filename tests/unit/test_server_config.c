/* Check suite for server/config.c, server/config_file.c and
 * server/config_analytics.c: flag parsing, precedence (flags > environment
 * > file > defaults) and errors that name the flag or key at fault. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void
setup(void)
{
    unsetenv("TELEMETRY_API_KEYS");
    unsetenv("TELEMETRY_ADMIN_TOKEN");
    snprintf(path, sizeof(path), "/tmp/tlm-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void
teardown(void)
{
    unlink(path);
}

static void
write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static enum tlm__config_outcome
load(struct tlm__server_config *c, char *err, size_t n, char **args)
{
    int argc = 0;
    while (args[argc] != NULL)
        argc++;
    return tlm__server_config_load(c, argc, args, err, n);
}

START_TEST(config_defaults_and_flags)
{
    struct tlm__server_config c;
    char err[256];
    char *a[] = {"telemetry-server", "--api-key", "k1,k2", "--api-key", "k3",
        "--admin-token", "adm", "--listen", "[::1]:0", "--fault", "503:3:1",
        NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_str_eq(c.host, "::1");
    ck_assert_uint_eq(c.port, 0);
    ck_assert_str_eq(c.db_url, "sqlite:telemetry.db");
    ck_assert_uint_eq(c.n_api_keys, 3);
    ck_assert_str_eq(c.api_keys[2].secret, "k3");
    ck_assert_uint_eq(c.max_body_bytes, 1048576);
    ck_assert_uint_eq(c.max_inflated_bytes, 8388608);
    ck_assert_int_eq(c.fault_status, 503);
    ck_assert_uint_eq(c.fault_count, 3);
    ck_assert_int_eq(c.fault_retry_after, 1);
    tlm__server_config_free(&c);
}
END_TEST

static const struct {
    const char *flag;
    const char *value;
} bad_flags[] = {
    {"--listen", "nocolon"},
    {"--listen", "h:70000"},
    {"--listen", "h:8x"},
    {"--max-body-bytes", "0"},
    {"--max-body-bytes", "-5"},
    {"--max-inflated-bytes", "1k"},
    {"--fault", "503"},
    {"--fault", "200:1"},
    {"--fault", "503:x"},
    {"--threads", "0"},
    {"--admin-token", "has space"},
    {"--api-key", "a,,b"},
    {"--max-event-bytes", "10"},
    {"--max-batch-events", "0"},
    {"--retention-days", "x"},
    {"--max-header-bytes", "100"},
    {"--max-connections", "0"},
    {"--connection-timeout", "0"},
    {"--max-connections-per-ip", "-1"},
    {"--max-write-queue", "1e3"},
    {"--drain-timeout", "99999"},
    {"--rate-limit", "100"},
    {"--rate-limit", "1:0"},
    {"--log-level", "loud"},
};

START_TEST(config_bad_flag_named)
{
    struct tlm__server_config c;
    char err[256];
    char *a[] = {"telemetry-server", "--api-key", "k",
        (char *)bad_flags[_i].flag, (char *)bad_flags[_i].value, NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_ERROR);
    ck_assert_msg(strstr(err, bad_flags[_i].flag) != NULL, "%s %s: %s",
        bad_flags[_i].flag, bad_flags[_i].value, err);
}
END_TEST

/* No key in the options is not an error here: the database may hold keys
 * (main refuses to start with none at all; tests/integration/test_keys.c). */
START_TEST(config_requires_key_and_distinct_token)
{
    struct tlm__server_config c;
    char err[256];
    char *none[] = {"telemetry-server", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), none), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.n_api_keys, 0);
    tlm__server_config_free(&c);
    char *same[]
        = {"telemetry-server", "--api-key", "x", "--admin-token", "x", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), same), TLM_CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "must differ"));
    char *same_hashed[] = {"telemetry-server", "--api-key", "y;tier=pro,x",
        "--admin-token", "x", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), same_hashed), TLM_CONFIG_ERROR);
    char *stray[] = {"telemetry-server", "--api-key", "x", "extra", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), stray), TLM_CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "extra"));
}
END_TEST

START_TEST(config_precedence_flags_env_file)
{
    struct tlm__server_config c;
    char err[256];
    write_file("{\"server\": {\"listen\": \"0.0.0.0:9000\", \"db\": "
               "\"sqlite:/tmp/f.db\", \"api_keys\": [\"file-key\"], "
               "\"admin_token\": \"file-token\", \"max_body_bytes\": 2048}}");
    char *a[] = {"telemetry-server", "--config", path, NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_str_eq(c.host, "0.0.0.0");
    ck_assert_uint_eq(c.port, 9000);
    ck_assert_str_eq(c.api_keys[0].secret, "file-key");
    ck_assert_str_eq(c.admin_token, "file-token");
    ck_assert_uint_eq(c.max_body_bytes, 2048);
    tlm__server_config_free(&c);

    setenv("TELEMETRY_API_KEYS", "env-1,env-2", 1);
    setenv("TELEMETRY_ADMIN_TOKEN", "env-token", 1);
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.n_api_keys, 2);
    ck_assert_str_eq(c.api_keys[1].secret, "env-2");
    ck_assert_str_eq(c.admin_token, "env-token");
    tlm__server_config_free(&c);

    char *b[] = {"telemetry-server", "--config", path, "--api-key", "flag",
        "--listen", "127.0.0.1:1", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), b), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.n_api_keys, 1);
    ck_assert_str_eq(c.api_keys[0].secret, "flag");
    ck_assert_uint_eq(c.port, 1);
    tlm__server_config_free(&c);
}
END_TEST

START_TEST(config_file_bad_value_names_key)
{
    static const struct {
        const char *doc;
        const char *key;
    } cases[] = {
        {"{\"server\": {\"listen\": 8080}}", "server.listen"},
        {"{\"server\": {\"api_keys\": \"k\"}}", "server.api_keys"},
        {"{\"server\": {\"api_keys\": [1]}}", "server.api_keys"},
        {"{\"server\": {\"max_body_bytes\": 1.5}}", "server.max_body_bytes"},
        {"{\"server\": {\"admin_token\": false}}", "server.admin_token"},
        {"{\"server\": []}", "server"},
        {"[1, 2]", "expected a JSON object"},
        {"{\"server\": ", "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tlm__server_config c;
        char err[256];
        char *a[]
            = {"telemetry-server", "--api-key", "k", "--config", path, NULL};
        write_file(cases[i].doc);
        ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_ERROR);
        ck_assert_msg(
            strstr(err, cases[i].key) != NULL, "%s: %s", cases[i].doc, err);
    }
}
END_TEST

START_TEST(config_ops_defaults)
{
    struct tlm__server_config c;
    char err[256];
    char *a[] = {"telemetry-server", "--api-key", "k", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.max_event_bytes, 65536);
    ck_assert_uint_eq(c.max_batch_events, 1000);
    ck_assert_uint_eq(c.max_future_s, 86400);
    ck_assert_uint_eq(c.retention_days, 30);
    ck_assert_uint_eq(c.max_header_bytes, 32768);
    ck_assert_uint_eq(c.max_connections, 1000);
    ck_assert_uint_eq(c.connection_timeout_s, 30);
    ck_assert_uint_eq(c.max_connections_per_ip, 64);
    ck_assert_int_eq(c.max_write_queue, -1);
    ck_assert_int_eq(c.log_level, TLM_LOG_INFO);
    ck_assert_ptr_null(c.log_file);
    ck_assert_uint_eq(c.drain_timeout_s, 10);
    ck_assert(
        tlm__rate_for_tier(c.tiers, c.n_tiers, NULL).events_per_second == 0);
    tlm__server_config_free(&c);
}
END_TEST

START_TEST(config_ops_flags_override_file)
{
    struct tlm__server_config c;
    char err[256];
    write_file("{\"server\": {\"api_keys\": [\"k\"], \"max_batch_events\": 5, "
               "\"retention_days\": 7, \"connection_timeout_seconds\": 5, "
               "\"log_level\": \"debug\", \"log_file\": \"/tmp/f.log\", "
               "\"rate_limits\": {\"default\": {\"events_per_second\": 10, "
               "\"burst\": 20}, \"free\": {\"events_per_second\": 1}}}}");
    char *a[] = {"telemetry-server", "--config", path, NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.max_batch_events, 5);
    ck_assert_uint_eq(c.retention_days, 7);
    ck_assert_uint_eq(c.connection_timeout_s, 5);
    ck_assert_int_eq(c.log_level, TLM_LOG_DEBUG);
    ck_assert_str_eq(c.log_file, "/tmp/f.log");
    ck_assert_uint_eq(c.n_tiers, 2);
    ck_assert(
        tlm__rate_for_tier(c.tiers, c.n_tiers, NULL).events_per_second == 10);
    ck_assert(tlm__rate_for_tier(c.tiers, c.n_tiers, NULL).burst == 20);
    tlm__server_config_free(&c);

    char *b[] = {"telemetry-server", "--config", path, "--max-batch-events",
        "9", "--rate-limit", "100:300", "--log-level", "warn",
        "--max-write-queue", "0", "--retention-days", "0", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), b), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.max_batch_events, 9);
    ck_assert(
        tlm__rate_for_tier(c.tiers, c.n_tiers, NULL).events_per_second == 100);
    ck_assert(tlm__rate_for_tier(c.tiers, c.n_tiers, NULL).burst == 300);
    ck_assert_int_eq(c.log_level, TLM_LOG_WARN);
    ck_assert_int_eq(c.max_write_queue, 0);
    ck_assert_uint_eq(c.retention_days, 0);
    tlm__server_config_free(&c);
}
END_TEST

START_TEST(config_ops_file_bad_values_named)
{
    static const struct {
        const char *doc;
        const char *key;
    } cases[] = {
        {"{\"server\": {\"max_connections\": -1}}", "server.max_connections"},
        {"{\"server\": {\"max_event_bytes\": 1.5}}", "server.max_event_bytes"},
        {"{\"server\": {\"log_level\": \"loud\"}}", "server.log_level"},
        {"{\"server\": {\"log_file\": 3}}", "server.log_file"},
        {"{\"server\": {\"rate_limits\": []}}", "server.rate_limits"},
        {"{\"server\": {\"rate_limits\": {\"free\": {\"burst\": 3}}}}",
            "server.rate_limits.free"},
        {"{\"server\": {\"rate_limits\": {\"free\": {\"events_per_second\": "
         "-2}}}}",
            "server.rate_limits.free"},
        {"{\"server\": {\"rate_limits\": {\"a b\": {\"events_per_second\": "
         "2}}}}",
            "server.rate_limits.a b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tlm__server_config c;
        char err[256];
        char *a[]
            = {"telemetry-server", "--api-key", "k", "--config", path, NULL};
        write_file(cases[i].doc);
        ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_ERROR);
        ck_assert_msg(
            strstr(err, cases[i].key) != NULL, "%s: %s", cases[i].doc, err);
    }
}
END_TEST

START_TEST(config_file_unknown_keys_tolerated)
{
    struct tlm__server_config c;
    char err[256];
    write_file("{\"telemetry\": {\"endpoint\": \"x\"}, \"mystery\": 1, "
               "\"server\": {\"colour\": \"blue\", \"api_keys\": [\"k\"]}}");
    char *a[] = {"telemetry-server", "--config", path, NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.n_api_keys, 1);
    tlm__server_config_free(&c);
    char *missing[]
        = {"telemetry-server", "--config", "/nonexistent.json", NULL};
    ck_assert_int_eq(load(&c, err, sizeof(err), missing), TLM_CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "--config"));
}
END_TEST

START_TEST(config_analytics_defaults_and_values)
{
    struct tlm__server_config c;
    char err[256];
    char *a[] = {"telemetry-server", "--api-key", "k", "--config", path, NULL};
    write_file("{}");
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.analytics.minute_retention_hours, 48);
    ck_assert_uint_eq(c.analytics.hour_retention_days, 60);
    ck_assert_uint_eq(c.analytics.rollup_retention_days, 0);
    ck_assert(c.analytics.real_time_dashboard);
    ck_assert_uint_eq(c.analytics.dashboard_refresh_s, 30);
    ck_assert(!c.analytics.scheduled_reports);
    ck_assert_uint_eq(c.analytics.n_reports, 0);
    tlm__server_config_free(&c);

    write_file("{\"feedback\": {\"webhook_url\": \"http://127.0.0.1:1/h\","
               " \"webhook_secret\": \"s\"},"
               " \"analytics\": {\"retention_period_days\": 90,"
               " \"rollup_minute_retention_hours\": 24,"
               " \"rollup_hour_retention_days\": 30,"
               " \"rollup_retention_days\": 400,"
               " \"real_time_dashboard_enabled\": false,"
               " \"dashboard_refresh_seconds\": 5,"
               " \"scheduled_reports_enabled\": true, \"reports\": ["
               " {\"id\": \"daily-errors\", \"title\": \"Errors\","
               " \"report\": \"errors\", \"window\": \"7d\","
               " \"environment\": \"sandbox\", \"tier\": \"pro\","
               " \"endpoint\": \"GET /x\", \"schedule\": {\"every\": \"daily\","
               " \"at\": \"06:30\", \"formats\": [\"csv\", \"pdf\"]}},"
               " {\"id\": \"w\", \"report\": \"feedback\", \"schedule\":"
               " {\"every\": \"weekly\", \"weekday\": \"sunday\"}},"
               " {\"id\": \"adhoc\", \"report\": \"usage-summary\"}]}}");
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.retention_days, 90); /* retention_period_days */
    ck_assert_uint_eq(c.analytics.minute_retention_hours, 24);
    ck_assert_uint_eq(c.analytics.hour_retention_days, 30);
    ck_assert_uint_eq(c.analytics.rollup_retention_days, 400);
    ck_assert(!c.analytics.real_time_dashboard);
    ck_assert_uint_eq(c.analytics.dashboard_refresh_s, 5);
    ck_assert(c.analytics.scheduled_reports);
    ck_assert(c.analytics.deliver);
    ck_assert_uint_eq(c.analytics.n_reports, 3);
    const struct tlm__saved_report *r
        = tlm__analytics_report_find(&c.analytics, "daily-errors");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->title, "Errors");
    ck_assert_str_eq(r->base, "errors");
    ck_assert_int_eq(r->window_ms, 7 * 24 * 3600000LL);
    ck_assert_str_eq(r->environment, "sandbox");
    ck_assert_str_eq(r->tier, "pro");
    ck_assert_str_eq(r->endpoint, "GET /x");
    ck_assert_int_eq(r->schedule.every, TLM_SCHEDULE_DAILY);
    ck_assert_int_eq(r->schedule.at_minute, 6 * 60 + 30);
    ck_assert_uint_eq(
        r->schedule.formats, TLM_REPORT_FMT_CSV | TLM_REPORT_FMT_PDF);
    r = tlm__analytics_report_find(&c.analytics, "w");
    ck_assert_int_eq(r->schedule.every, TLM_SCHEDULE_WEEKLY);
    ck_assert_int_eq(r->schedule.weekday, 6);
    ck_assert_int_eq(r->schedule.at_minute, 0);
    ck_assert_uint_eq(r->schedule.formats, TLM_REPORT_FMT_JSON);
    ck_assert_int_eq(r->window_ms, 24 * 3600000LL);
    r = tlm__analytics_report_find(&c.analytics, "adhoc");
    ck_assert_int_eq(r->schedule.every, TLM_SCHEDULE_NONE);
    ck_assert_ptr_null(r->title);
    ck_assert_ptr_null(tlm__analytics_report_find(&c.analytics, "errors"));
    tlm__server_config_free(&c);
}
END_TEST

/* server.retention_days wins over analytics.retention_period_days, and
 * --retention-days over both. */
START_TEST(config_analytics_retention_precedence)
{
    struct tlm__server_config c;
    char err[256];
    char *a[] = {"telemetry-server", "--api-key", "k", "--config", path, NULL};
    char *f[] = {"telemetry-server", "--api-key", "k", "--config", path,
        "--retention-days", "7", NULL};
    write_file("{\"analytics\": {\"retention_period_days\": 90},"
               " \"server\": {\"retention_days\": 14}}");
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.retention_days, 14);
    tlm__server_config_free(&c);
    ck_assert_int_eq(load(&c, err, sizeof(err), f), TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.retention_days, 7);
    tlm__server_config_free(&c);
}
END_TEST

static const struct {
    const char *doc;
    const char *key;
} analytics_bad[] = {
    {"{\"analytics\": []}", "analytics: expected object"},
    {"{\"analytics\": {\"retention_period_days\": -1}}",
        "analytics.retention_period_days: expected"},
    {"{\"analytics\": {\"rollup_minute_retention_hours\": 0}}",
        "analytics.rollup_minute_retention_hours: expected"},
    {"{\"analytics\": {\"rollup_hour_retention_days\": 1.5}}",
        "analytics.rollup_hour_retention_days: expected"},
    {"{\"analytics\": {\"rollup_retention_days\": 10,"
     " \"retention_period_days\": 30}}",
        "analytics.rollup_retention_days: expected"},
    {"{\"analytics\": {\"real_time_dashboard_enabled\": 1}}",
        "analytics.real_time_dashboard_enabled: expected true or false"},
    {"{\"analytics\": {\"dashboard_refresh_seconds\": 4}}",
        "analytics.dashboard_refresh_seconds: expected an integer 5..3600"},
    {"{\"analytics\": {\"scheduled_reports_enabled\": \"yes\"}}",
        "analytics.scheduled_reports_enabled: expected"},
    {"{\"analytics\": {\"reports\": {}}}", "analytics.reports: expected"},
    {"{\"analytics\": {\"reports\": [{\"report\": \"errors\"}]}}",
        "analytics.reports[0].id: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"Bad_Id\","
     " \"report\": \"errors\"}]}}",
        "analytics.reports[0].id: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"errors\","
     " \"report\": \"errors\"}]}}",
        "analytics.reports[0].id: expected an id that is not a built-in"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\"},"
     " {\"id\": \"a\", \"report\": \"errors\"}]}}",
        "analytics.reports[1].id: expected an id no other report has"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\"}]}}",
        "analytics.reports[0].report: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"nope\"}]}}",
        "analytics.reports[0].report: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"window\": \"91d\"}]}}",
        "analytics.reports[0].window: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"window\": \"30m\"}]}}",
        "analytics.reports[0].window: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"environment\": \"staging\"}]}}",
        "analytics.reports[0].environment: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"schedule\": {\"every\": \"monthly\"}}]}}",
        "analytics.reports[0].schedule.every: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"schedule\": {\"every\": \"daily\", \"at\": \"24:00\"}}]}}",
        "analytics.reports[0].schedule.at: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"schedule\": {\"every\": \"weekly\"}}]}}",
        "analytics.reports[0].schedule.weekday: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"schedule\": {\"every\": \"hourly\", \"formats\": [\"xls\"]}}]}}",
        "analytics.reports[0].schedule.formats: expected"},
    {"{\"analytics\": {\"reports\": [{\"id\": \"a\", \"report\": \"errors\","
     " \"schedule\": {\"every\": \"hourly\", \"formats\": []}}]}}",
        "analytics.reports[0].schedule.formats: expected"},
};

START_TEST(config_analytics_bad_values_named)
{
    struct tlm__server_config c;
    char err[256];
    char *a[] = {"telemetry-server", "--api-key", "k", "--config", path, NULL};
    write_file(analytics_bad[_i].doc);
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_ERROR);
    ck_assert_msg(strstr(err, analytics_bad[_i].key) != NULL, "%s: %s",
        analytics_bad[_i].doc, err);
}
END_TEST

/* The feedback section: each bad value refused, naming its key (a
 * fraction of a millisecond was once taken and truncated). */
static const struct {
    const char *doc, *key;
} feedback_bad[] = {
    {"{\"feedback\": {\"webhook_retry_base_ms\": 10.5}}",
        "feedback.webhook_retry_base_ms: expected an integer"},
    {"{\"feedback\": {\"webhook_retry_base_ms\": 9}}",
        "feedback.webhook_retry_base_ms: expected an integer"},
    {"{\"feedback\": {\"webhook_retry_base_ms\": \"50\"}}",
        "feedback.webhook_retry_base_ms: expected an integer"},
    {"{\"feedback\": {\"webhook_max_attempts\": 1.5}}",
        "feedback.webhook_max_attempts: expected an integer"},
    {"{\"feedback\": {\"webhook_max_attempts\": 101}}",
        "feedback.webhook_max_attempts: expected an integer"},
    {"{\"feedback\": {\"webhook_url\": \"ftp://x\"}}",
        "feedback.webhook_url: expected an http"},
    {"{\"feedback\": {\"negative_threshold\": 0.5}}",
        "feedback.negative_threshold: expected a number"},
    {"{\"feedback\": {\"sentiment_analysis\": 1}}",
        "feedback.sentiment_analysis: expected true or false"},
};

START_TEST(config_feedback_bad_values_named)
{
    struct tlm__server_config c;
    char err[256];
    char *a[] = {"telemetry-server", "--api-key", "k", "--config", path, NULL};
    write_file(feedback_bad[_i].doc);
    ck_assert_int_eq(load(&c, err, sizeof(err), a), TLM_CONFIG_ERROR);
    ck_assert_msg(strstr(err, feedback_bad[_i].key) != NULL, "%s: %s",
        feedback_bad[_i].doc, err);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, config_defaults_and_flags);
    tcase_add_loop_test(tc, config_bad_flag_named, 0,
        (int)(sizeof(bad_flags) / sizeof(bad_flags[0])));
    tcase_add_test(tc, config_requires_key_and_distinct_token);
    tcase_add_test(tc, config_precedence_flags_env_file);
    tcase_add_test(tc, config_file_bad_value_names_key);
    tcase_add_test(tc, config_file_unknown_keys_tolerated);
    tcase_add_test(tc, config_ops_defaults);
    tcase_add_test(tc, config_ops_flags_override_file);
    tcase_add_test(tc, config_ops_file_bad_values_named);
    tcase_add_test(tc, config_analytics_defaults_and_values);
    tcase_add_test(tc, config_analytics_retention_precedence);
    tcase_add_loop_test(tc, config_analytics_bad_values_named, 0,
        (int)(sizeof(analytics_bad) / sizeof(analytics_bad[0])));
    tcase_add_loop_test(tc, config_feedback_bad_values_named, 0,
        (int)(sizeof(feedback_bad) / sizeof(feedback_bad[0])));
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
