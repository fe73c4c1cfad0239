/* Check suite for server/log.c: every line is one JSON object with ts,
 * level and msg whatever the input, levels filter, SIGHUP-style reopen
 * follows a rotated file. */
#include "log.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[128];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tlm-log-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/server.log", dir);
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Parses every line of file p; returns how many, each checked. */
static int
check_lines(const char *p, cJSON **last)
{
    static char line[16384];
    FILE *f = fopen(p, "r");
    int n = 0;
    ck_assert_ptr_nonnull(f);
    *last = NULL;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        ck_assert_msg(len > 0 && line[len - 1] == '\n', "unterminated line");
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(cJSON_IsObject(o), "not JSON: %s", line);
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "ts")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "level")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "msg")));
        cJSON_Delete(*last);
        *last = o;
        n++;
    }
    fclose(f);
    return n;
}

START_TEST(log_lines_are_json_with_fields)
{
    struct tlm__log *lg;
    char err[128];
    cJSON *last;
    ck_assert_int_eq(tlm__log_open(path, TLM_LOG_DEBUG, &lg, err, 128), 0);
    struct tlm__log_field f[] = {
        {"path", "/v1/\"batch\"\\\n\t\x01", 0},
        {"status", NULL, 503},
    };
    tlm__log_write(lg, TLM_LOG_WARN, "request", f, 2);
    tlm__log_close(lg);
    ck_assert_int_eq(check_lines(path, &last), 1);
    ck_assert_str_eq(cJSON_GetObjectItem(last, "level")->valuestring, "warn");
    ck_assert_str_eq(cJSON_GetObjectItem(last, "msg")->valuestring, "request");
    ck_assert_str_eq(cJSON_GetObjectItem(last, "path")->valuestring,
        "/v1/\"batch\"\\\n\t\x01");
    ck_assert_int_eq(cJSON_GetObjectItem(last, "status")->valueint, 503);
    cJSON_Delete(last);
}
END_TEST

START_TEST(log_oversized_values_keep_the_line_valid)
{
    static char big[10000];
    struct tlm__log *lg;
    char err[128];
    cJSON *last;
    memset(big, '"', sizeof(big) - 1);
    ck_assert_int_eq(tlm__log_open(path, TLM_LOG_DEBUG, &lg, err, 128), 0);
    struct tlm__log_field f[] = {{"big", big, 0}, {"n", NULL, 7}};
    tlm__log_write(lg, TLM_LOG_INFO, big, f, 2);
    tlm__log_write(lg, TLM_LOG_INFO, "short", f, 2);
    tlm__log_close(lg);
    ck_assert_int_eq(check_lines(path, &last), 2);
    ck_assert_int_eq(cJSON_GetObjectItem(last, "n")->valueint, 7);
    cJSON_Delete(last);
}
END_TEST

START_TEST(log_level_filters)
{
    struct tlm__log *lg;
    enum tlm__log_level lv;
    char err[128];
    cJSON *last;
    ck_assert_int_eq(tlm__log_level_parse("warn", &lv), 0);
    ck_assert_int_eq(tlm__log_level_parse("loud", &lv), -1);
    ck_assert_int_eq(tlm__log_open(path, TLM_LOG_WARN, &lg, err, 128), 0);
    ck_assert(!tlm__log_enabled(lg, TLM_LOG_INFO));
    tlm__log_write(lg, TLM_LOG_DEBUG, "d", NULL, 0);
    tlm__log_write(lg, TLM_LOG_INFO, "i", NULL, 0);
    tlm__log_write(lg, TLM_LOG_ERROR, "e", NULL, 0);
    tlm__log_close(lg);
    ck_assert_int_eq(check_lines(path, &last), 1);
    ck_assert_str_eq(cJSON_GetObjectItem(last, "msg")->valuestring, "e");
    cJSON_Delete(last);
    tlm__log_write(NULL, TLM_LOG_ERROR, "nowhere", NULL, 0);
}
END_TEST

START_TEST(log_reopen_follows_rotation)
{
    struct tlm__log *lg;
    char err[128], rotated[160];
    cJSON *last;
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    ck_assert_int_eq(tlm__log_open(path, TLM_LOG_INFO, &lg, err, 128), 0);
    tlm__log_write(lg, TLM_LOG_INFO, "before", NULL, 0);
    ck_assert_int_eq(rename(path, rotated), 0);
    tlm__log_write(lg, TLM_LOG_INFO, "still old", NULL, 0);
    ck_assert_int_eq(tlm__log_reopen(lg), 0);
    tlm__log_write(lg, TLM_LOG_INFO, "after", NULL, 0);
    tlm__log_close(lg);
    ck_assert_int_eq(check_lines(rotated, &last), 2);
    cJSON_Delete(last);
    ck_assert_int_eq(check_lines(path, &last), 1);
    ck_assert_str_eq(cJSON_GetObjectItem(last, "msg")->valuestring, "after");
    cJSON_Delete(last);
}
END_TEST

START_TEST(log_open_failure_named)
{
    struct tlm__log *lg = (struct tlm__log *)1;
    char err[256] = "";
    ck_assert_int_eq(tlm__log_open("/nonexistent/dir/x.log", TLM_LOG_INFO, &lg,
                         err, sizeof(err)),
        -1);
    ck_assert_ptr_null(lg);
    ck_assert_ptr_nonnull(strstr(err, "--log-file"));
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, log_lines_are_json_with_fields);
    tcase_add_test(tc, log_oversized_values_keep_the_line_valid);
    tcase_add_test(tc, log_level_filters);
    tcase_add_test(tc, log_reopen_follows_rotation);
    tcase_add_test(tc, log_open_failure_named);
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
