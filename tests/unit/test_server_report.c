/* Check suite for server/report*.c: the built-in reports' models cut from a
 * fixed dashboard document (every section, written by hand after the shape
 * GET /admin/analytics/dashboard answers), RFC 4180 CSV escaping and the
 * main table, and the PDF (header, trailer, metadata, paging). */
#include "report.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char dashboard[]
    = "{\"range\":{\"from\":\"2026-12-04T02:00:00.000Z\","
      "\"to\":\"2026-12-05T02:00:00.000Z\",\"environment\":\"production\"},"
      "\"totals\":{\"events\":7,\"errors\":2,\"feedback\":3,"
      "\"feature_requests\":1},"
      "\"feedback\":{\"volume\":3,\"mean_sentiment\":-0.2,"
      "\"sentiment\":{\"negative\":2,\"neutral\":0,\"positive\":1},"
      "\"categories\":[{\"category\":\"performance\",\"count\":2,"
      "\"mean_sentiment\":-0.461},{\"category\":\"ui\",\"count\":1,"
      "\"mean_sentiment\":0.5}],"
      "\"targets\":[{\"target\":\"feature:dashboard\",\"count\":1,"
      "\"mean_sentiment\":-0.461}],"
      "\"trends\":[{\"week\":\"2026-11-30\",\"category\":\"performance\","
      "\"count\":2,\"mean_sentiment\":-0.461}]},"
      "\"feature_requests\":{\"new\":1,\"votes\":4,\"status_changes\":2},"
      "\"errors\":{\"top_groups\":[{\"id\":\"g1\",\"title\":\"E_FAIL: boom, "
      "<str> thing\",\"status\":\"unresolved\",\"impact\":\"none\","
      "\"events\":3,\"events_24h\":3,\"users_affected\":1,"
      "\"first_seen\":\"2026-12-05T01:00:00.000Z\","
      "\"last_seen\":\"2026-12-05T01:30:00.000Z\"},{\"id\":\"g2\","
      "\"title\":\"E_IO: disk\",\"status\":\"resolved\",\"impact\":\"low\","
      "\"events\":5,\"events_24h\":1,\"users_affected\":2,"
      "\"first_seen\":\"2026-12-04T03:00:00.000Z\","
      "\"last_seen\":\"2026-12-04T04:00:00.000Z\"}],"
      "\"alerts\":[{\"level\":\"high\",\"group_id\":\"g1\","
      "\"title\":\"E_FAIL\"}]},"
      "\"sdk\":{\"batches\":2},"
      "\"tiers\":[{\"tier\":\"free\",\"requests\":4},"
      "{\"tier\":\"pro\",\"requests\":2}],"
      "\"time_series\":[{\"t\":\"2026-12-05T00:00:00Z\",\"requests\":2},"
      "{\"t\":\"2026-12-05T01:00:00Z\",\"requests\":4}],"
      "\"endpoints\":[{\"endpoint\":\"GET /v1/items\",\"requests\":5,"
      "\"errors\":1,\"error_rate\":0.2,\"p50_ms\":12,\"p95_ms\":14.5,"
      "\"p99_ms\":14.5},{\"endpoint\":\"POST /v1/upload\",\"requests\":1,"
      "\"errors\":1,\"error_rate\":1,\"p50_ms\":120,\"p95_ms\":120,"
      "\"p99_ms\":120}]}";

static cJSON *
build(
    const char *id, const char *dash_text, const struct tlm__report_filters *f)
{
    cJSON *dash = cJSON_Parse(dash_text);
    ck_assert_ptr_nonnull(dash);
    const struct tlm__report_info *info = tlm__report_find(id);
    ck_assert_ptr_nonnull(info);
    cJSON *m = tlm__report_build(info, dash, f);
    cJSON_Delete(dash);
    ck_assert_ptr_nonnull(m);
    return m;
}

static const cJSON *
get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const cJSON *
table_named(const cJSON *model, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, get(model, "tables"))
    {
        if (strcmp(cJSON_GetStringValue(get(t, "name")), name) == 0)
            return t;
    }
    ck_abort_msg("no table %s", name);
    return NULL;
}

/* The text of cell [row][col] of table t as the CSV would show it. */
static const char *
at(const cJSON *t, int row, int col, char *buf)
{
    const cJSON *r = cJSON_GetArrayItem(get(t, "rows"), row);
    ck_assert_ptr_nonnull(r);
    return tlm__report_cell_text(cJSON_GetArrayItem(r, col), buf, 64);
}

static void
assert_field(const char *in, const char *want)
{
    char *got = tlm__report_csv_field(in);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(report_csv_escapes_fields)
{
    assert_field("plain", "plain");
    assert_field("", "");
    assert_field("a,b", "\"a,b\"");
    assert_field("say \"hi\"", "\"say \"\"hi\"\"\"");
    assert_field("line\r\nbreak", "\"line\r\nbreak\"");
    assert_field("cr\ronly", "\"cr\ronly\"");
    assert_field("lf\nonly", "\"lf\nonly\"");
    assert_field("caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93");
    /* Spreadsheet formulas in client text are defused. */
    assert_field("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_field("@cmd", "'@cmd");
}
END_TEST

START_TEST(report_csv_main_table_rfc4180)
{
    cJSON *m = build("usage-summary", dashboard, NULL);
    char *csv = tlm__report_csv(m);
    ck_assert_ptr_nonnull(csv);
    ck_assert_str_eq(csv,
        "endpoint,requests,share,errors,error_rate\r\n"
        "GET /v1/items,5,0.8333,1,0.2\r\n"
        "POST /v1/upload,1,0.1667,1,1\r\n");
    free(csv);
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_csv_quotes_and_nulls_in_rows)
{
    cJSON *m = build("errors", dashboard, NULL);
    char *csv = tlm__report_csv(m);
    ck_assert_ptr_nonnull(csv);
    ck_assert_ptr_nonnull(strstr(csv,
        "id,title,status,impact,events,events_24h,users_affected,"
        "first_seen,last_seen\r\n"));
    ck_assert_ptr_nonnull(strstr(csv, "g1,\"E_FAIL: boom, <str> thing\","));
    cJSON_Delete(m);
    free(csv);
    m = build("endpoint-performance",
        "{\"endpoints\":[{\"endpoint\":\"GET /x\",\"requests\":0,"
        "\"errors\":0,\"error_rate\":null,\"p50_ms\":null,\"p95_ms\":null,"
        "\"p99_ms\":null}]}",
        NULL);
    csv = tlm__report_csv(m);
    ck_assert_str_eq(csv,
        "endpoint,requests,errors,error_rate,p50_ms,p95_ms,p99_ms\r\n"
        "GET /x,0,0,,,,\r\n");
    free(csv);
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_model_usage_summary)
{
    char b[64];
    cJSON *m = build("usage-summary", dashboard, NULL);
    ck_assert_str_eq(cJSON_GetStringValue(get(m, "title")), "Usage summary");
    const cJSON *w = get(m, "window");
    ck_assert_str_eq(
        cJSON_GetStringValue(get(w, "from")), "2026-12-04T02:00:00.000Z");
    ck_assert_str_eq(cJSON_GetStringValue(get(w, "environment")), "production");
    const cJSON *t = cJSON_GetArrayItem(get(m, "tables"), 0);
    ck_assert_str_eq(cJSON_GetStringValue(get(t, "name")), "endpoints");
    ck_assert_str_eq(at(t, 0, 0, b), "GET /v1/items");
    ck_assert_str_eq(at(t, 0, 1, b), "5");
    t = table_named(m, "totals");
    ck_assert_str_eq(at(t, 0, 0, b), "events");
    ck_assert_str_eq(at(t, 0, 1, b), "7");
    ck_assert_str_eq(at(t, 3, 1, b), "1");
    t = table_named(m, "tiers");
    ck_assert_str_eq(at(t, 1, 0, b), "pro");
    ck_assert_str_eq(at(t, 1, 1, b), "2");
    const cJSON *charts = get(m, "charts");
    ck_assert_int_eq(cJSON_GetArraySize(charts), 2);
    const cJSON *c = cJSON_GetArrayItem(charts, 0);
    ck_assert_str_eq(cJSON_GetStringValue(get(c, "kind")), "bar");
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetArrayItem(get(c, "labels"), 0)),
        "GET /v1/items");
    c = cJSON_GetArrayItem(charts, 1);
    ck_assert_str_eq(cJSON_GetStringValue(get(c, "kind")), "line");
    ck_assert_int_eq(cJSON_GetArraySize(get(c, "values")), 2);
    ck_assert_double_eq(
        cJSON_GetArrayItem(get(c, "values"), 1)->valuedouble, 4);
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_model_endpoint_performance)
{
    char b[64];
    cJSON *m = build("endpoint-performance", dashboard, NULL);
    const cJSON *t = cJSON_GetArrayItem(get(m, "tables"), 0);
    ck_assert_int_eq(cJSON_GetArraySize(get(t, "columns")), 7);
    ck_assert_str_eq(at(t, 0, 5, b), "14.5");
    ck_assert_str_eq(at(t, 1, 3, b), "1");
    /* p95 bars, the slowest first. */
    const cJSON *c = cJSON_GetArrayItem(get(m, "charts"), 0);
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetArrayItem(get(c, "labels"), 0)),
        "POST /v1/upload");
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_model_errors)
{
    char b[64];
    cJSON *m = build("errors", dashboard, NULL);
    const cJSON *t = cJSON_GetArrayItem(get(m, "tables"), 0);
    ck_assert_str_eq(cJSON_GetStringValue(get(t, "name")), "error_groups");
    ck_assert_int_eq(cJSON_GetArraySize(get(t, "rows")), 2);
    ck_assert_str_eq(at(t, 1, 4, b), "5");
    t = table_named(m, "alerts");
    ck_assert_str_eq(at(t, 0, 0, b), "high");
    const cJSON *c = cJSON_GetArrayItem(get(m, "charts"), 0);
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetArrayItem(get(c, "labels"), 0)),
        "E_IO: disk");
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_model_feedback)
{
    char b[64];
    cJSON *m = build("feedback", dashboard, NULL);
    const cJSON *t = cJSON_GetArrayItem(get(m, "tables"), 0);
    ck_assert_str_eq(cJSON_GetStringValue(get(t, "name")), "categories");
    ck_assert_str_eq(at(t, 0, 0, b), "performance");
    ck_assert_str_eq(at(t, 0, 2, b), "-0.461");
    t = table_named(m, "sentiment");
    ck_assert_str_eq(at(t, 2, 0, b), "positive");
    ck_assert_str_eq(at(t, 2, 1, b), "1");
    t = table_named(m, "summary");
    ck_assert_str_eq(at(t, 0, 1, b), "3");
    ck_assert_int_eq(
        cJSON_GetArraySize(get(table_named(m, "trends"), "rows")), 1);
    ck_assert_int_eq(cJSON_GetArraySize(get(m, "charts")), 2);
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_model_feature_requests)
{
    char b[64];
    cJSON *m = build("feature-requests", dashboard, NULL);
    const cJSON *t = cJSON_GetArrayItem(get(m, "tables"), 0);
    ck_assert_str_eq(at(t, 1, 0, b), "votes");
    ck_assert_str_eq(at(t, 1, 1, b), "4");
    ck_assert_str_eq(at(t, 2, 1, b), "2");
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_model_tolerates_missing_sections)
{
    size_t n;
    const struct tlm__report_info *r = tlm__report_builtins(&n);
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        cJSON *m = build(r[i].id,
            "{\"feedback\":null,\"errors\":null,\"feature_requests\":null}",
            NULL);
        ck_assert_int_ge(cJSON_GetArraySize(get(m, "tables")), 1);
        char *csv = tlm__report_csv(m);
        ck_assert_ptr_nonnull(csv);
        unsigned char *pdf = NULL;
        size_t len = 0;
        ck_assert_int_eq(tlm__report_pdf(m, &pdf, &len), 0);
        free(pdf);
        free(csv);
        cJSON_Delete(m);
    }
    ck_assert_ptr_null(tlm__report_find("nope"));
    ck_assert_ptr_null(tlm__report_find(NULL));
}
END_TEST

START_TEST(report_window_lists_unapplied_filters)
{
    struct tlm__report_filters f = {.tier = "pro", .endpoint = NULL};
    cJSON *m = build("usage-summary", dashboard, &f);
    const cJSON *w = get(m, "window");
    ck_assert_str_eq(cJSON_GetStringValue(get(w, "tier")), "pro");
    ck_assert(cJSON_IsNull(get(w, "endpoint")));
    ck_assert_int_eq(cJSON_GetArraySize(get(w, "not_applied")), 1);
    cJSON_Delete(m);
    /* A dashboard that echoes the filter applied it. */
    m = build("usage-summary", "{\"range\":{\"tier\":\"pro\"}}", &f);
    ck_assert_ptr_null(get(get(m, "window"), "not_applied"));
    cJSON_Delete(m);
}
END_TEST

static int
count(const unsigned char *p, size_t len, const char *needle)
{
    int n = 0;
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= len; i++)
        n += memcmp(p + i, needle, k) == 0;
    return n;
}

/* Page objects: "/Type /Page" but not "/Type /Pages". */
static int
pages(const unsigned char *p, size_t len)
{
    return count(p, len, "/Type /Page") - count(p, len, "/Type /Pages");
}

START_TEST(report_pdf_header_trailer_and_title)
{
    cJSON *m = build("usage-summary", dashboard, NULL);
    unsigned char *pdf = NULL;
    size_t len = 0;
    ck_assert_int_eq(tlm__report_pdf(m, &pdf, &len), 0);
    ck_assert_uint_gt(len, 1000);
    ck_assert_int_eq(memcmp(pdf, "%PDF-", 5), 0);
    /* Content streams are deflated (cairo 1.16 has no switch for that):
     * the title is checked in the uncompressed Info dictionary. */
    ck_assert_int_eq(count(pdf, len, "/Title (Usage summary)"), 1);
    ck_assert_int_eq(count(pdf, len, "/Creator (telemetry-server)"), 1);
    ck_assert_int_eq(count(pdf + len - 7, 7, "%%EOF"), 1);
    ck_assert_int_eq(pages(pdf, len), 1);
    free(pdf);
    cJSON_Delete(m);
}
END_TEST

START_TEST(report_pdf_pages_long_tables)
{
    cJSON *dash = cJSON_CreateObject();
    cJSON *eps = cJSON_AddArrayToObject(dash, "endpoints");
    for (int i = 0; i < 300; i++) {
        char name[300];
        cJSON *e = cJSON_CreateObject();
        /* Long names are cut to their cell, never mid-character. */
        snprintf(name, sizeof(name),
            "GET /v1/\xc3\xa9l\xc3\xa9ments/%d/a-very-long-path-segment-that-"
            "cannot-fit-in-its-column-at-all-%0200d",
            i, i);
        cJSON_AddStringToObject(e, "endpoint", name);
        cJSON_AddNumberToObject(e, "requests", 1000 - i);
        cJSON_AddItemToArray(eps, e);
    }
    const struct tlm__report_info *info = tlm__report_find("usage-summary");
    cJSON *m = tlm__report_build(info, dash, NULL);
    cJSON_Delete(dash);
    ck_assert_ptr_nonnull(m);
    unsigned char *pdf = NULL;
    size_t len = 0;
    ck_assert_int_eq(tlm__report_pdf(m, &pdf, &len), 0);
    /* 300 rows of 14 pt plus a chart: at least six A4 pages. */
    ck_assert_int_ge(pages(pdf, len), 6);
    free(pdf);
    cJSON_Delete(m);
}
END_TEST

/* cairo and fontconfig keep font caches for the process (once, not per
 * report): released after each case so that leak checkers see none. */
static void
teardown(void)
{
    tlm__report_release();
}

static Suite *
suite(void)
{
    Suite *s = suite_create("report");
    TCase *model = tcase_create("model");
    tcase_add_checked_fixture(model, NULL, teardown);
    tcase_add_test(model, report_model_usage_summary);
    tcase_add_test(model, report_model_endpoint_performance);
    tcase_add_test(model, report_model_errors);
    tcase_add_test(model, report_model_feedback);
    tcase_add_test(model, report_model_feature_requests);
    tcase_add_test(model, report_model_tolerates_missing_sections);
    tcase_add_test(model, report_window_lists_unapplied_filters);
    suite_add_tcase(s, model);
    TCase *csv = tcase_create("csv");
    tcase_add_test(csv, report_csv_escapes_fields);
    tcase_add_test(csv, report_csv_main_table_rfc4180);
    tcase_add_test(csv, report_csv_quotes_and_nulls_in_rows);
    suite_add_tcase(s, csv);
    TCase *pdf = tcase_create("pdf");
    tcase_add_checked_fixture(pdf, NULL, teardown);
    tcase_set_timeout(pdf, 60);
    tcase_add_test(pdf, report_pdf_header_trailer_and_title);
    tcase_add_test(pdf, report_pdf_pages_long_tables);
    suite_add_tcase(s, pdf);
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
