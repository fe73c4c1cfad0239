/* Check suite for server/report_schedule.c and server/report_run.c: the
 * UTC slot arithmetic (hourly, daily, weekly; month, year and leap-day
 * boundaries; before 1970), missed slots run once, and the scheduler
 * against a real SQLite store: a slot is run once, not again after a
 * restart, stored in every format and readable back. */
#include "report_schedule.h"

#include "report.h"
#include "rfc3339.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOUR 3600000LL
#define DAY (24 * HOUR)

static int64_t
t(const char *s)
{
    int64_t ms = 0;
    ck_assert_int_eq(tlm__rfc3339_parse(s, strlen(s), &ms), 0);
    return ms;
}

static struct tlm__report_schedule
sched(enum tlm__schedule_every every, const char *at, int weekday)
{
    struct tlm__report_schedule s = {every, 0, weekday, TLM_REPORT_FMT_JSON};
    if (at != NULL)
        s.at_minute = ((at[0] - '0') * 10 + (at[1] - '0')) * 60
            + (at[3] - '0') * 10 + (at[4] - '0');
    return s;
}

START_TEST(schedule_hourly)
{
    struct tlm__report_schedule s = sched(TLM_SCHEDULE_HOURLY, NULL, 0);
    ck_assert_int_eq(tlm__schedule_period_ms(&s), HOUR);
    ck_assert_int_eq(tlm__schedule_latest(&s, t("2026-12-05T10:20:00Z")),
        t("2026-12-05T10:00:00Z"));
    ck_assert_int_eq(tlm__schedule_latest(&s, t("2026-12-05T10:00:00Z")),
        t("2026-12-05T10:00:00Z"));
    ck_assert_int_eq(tlm__schedule_next(&s, t("2026-12-05T10:00:00Z")),
        t("2026-12-05T11:00:00Z"));
    ck_assert_int_eq(tlm__schedule_next(&s, t("2026-12-31T23:59:59.999Z")),
        t("2027-01-01T00:00:00Z"));
    /* Before the epoch the floor still goes down. */
    ck_assert_int_eq(tlm__schedule_latest(&s, -1), -HOUR);
    ck_assert_int_eq(tlm__schedule_latest(&s, 0), 0);
}
END_TEST

START_TEST(schedule_daily)
{
    struct tlm__report_schedule s = sched(TLM_SCHEDULE_DAILY, "06:30", 0);
    ck_assert_int_eq(tlm__schedule_period_ms(&s), DAY);
    ck_assert_int_eq(tlm__schedule_latest(&s, t("2026-12-05T03:46:00Z")),
        t("2026-12-04T06:30:00Z"));
    ck_assert_int_eq(tlm__schedule_latest(&s, t("2026-12-05T06:30:00Z")),
        t("2026-12-05T06:30:00Z"));
    ck_assert_int_eq(tlm__schedule_next(&s, t("2026-12-05T06:30:00Z")),
        t("2026-12-06T06:30:00Z"));
    /* Month, year and leap-day boundaries. */
    ck_assert_int_eq(tlm__schedule_latest(&s, t("2026-12-01T00:00:00Z")),
        t("2026-11-30T06:30:00Z"));
    ck_assert_int_eq(tlm__schedule_latest(&s, t("2027-01-01T06:29:59Z")),
        t("2026-12-31T06:30:00Z"));
    ck_assert_int_eq(tlm__schedule_next(&s, t("2028-02-28T07:00:00Z")),
        t("2028-02-29T06:30:00Z"));
    ck_assert_int_eq(tlm__schedule_next(&s, t("2028-02-29T07:00:00Z")),
        t("2028-03-01T06:30:00Z"));
    struct tlm__report_schedule late = sched(TLM_SCHEDULE_DAILY, "23:59", 0);
    ck_assert_int_eq(tlm__schedule_latest(&late, t("2027-01-01T00:10:00Z")),
        t("2026-12-31T23:59:00Z"));
    ck_assert_int_eq(tlm__schedule_latest(&late, -1), -60000);
}
END_TEST

START_TEST(schedule_weekly)
{
    /* 2026-12-05 is a Saturday, 2026-11-30 and 2026-12-07 Mondays. */
    struct tlm__report_schedule mon = sched(TLM_SCHEDULE_WEEKLY, "06:30", 0);
    ck_assert_int_eq(tlm__schedule_period_ms(&mon), 7 * DAY);
    ck_assert_int_eq(tlm__schedule_latest(&mon, t("2026-12-05T03:46:00Z")),
        t("2026-11-30T06:30:00Z"));
    ck_assert_int_eq(tlm__schedule_next(&mon, t("2026-12-05T03:46:00Z")),
        t("2026-12-07T06:30:00Z"));
    /* On the day, before and at the time. */
    ck_assert_int_eq(tlm__schedule_latest(&mon, t("2026-12-07T06:29:00Z")),
        t("2026-11-30T06:30:00Z"));
    ck_assert_int_eq(tlm__schedule_latest(&mon, t("2026-12-07T06:30:00Z")),
        t("2026-12-07T06:30:00Z"));
    /* Across the year: 2027-01-01 is a Friday, 2026-12-30 a Wednesday. */
    struct tlm__report_schedule wed = sched(TLM_SCHEDULE_WEEKLY, "12:00", 2);
    ck_assert_int_eq(tlm__schedule_latest(&wed, t("2027-01-01T00:00:00Z")),
        t("2026-12-30T12:00:00Z"));
    /* Sunday, and 1970-01-01 (a Thursday) itself. */
    struct tlm__report_schedule sun = sched(TLM_SCHEDULE_WEEKLY, "00:00", 6);
    ck_assert_int_eq(tlm__schedule_next(&sun, t("2026-12-05T23:59:59Z")),
        t("2026-12-06T00:00:00Z"));
    struct tlm__report_schedule thu = sched(TLM_SCHEDULE_WEEKLY, "00:00", 3);
    ck_assert_int_eq(tlm__schedule_latest(&thu, 0), 0);
    ck_assert_int_eq(tlm__schedule_latest(&thu, -1), -7 * DAY);
}
END_TEST

START_TEST(schedule_due_runs_only_the_latest_missed_slot)
{
    struct tlm__report_schedule s = sched(TLM_SCHEDULE_HOURLY, NULL, 0);
    struct tlm__report_schedule none = sched(TLM_SCHEDULE_NONE, NULL, 0);
    int64_t now = t("2026-12-05T10:20:00Z");
    /* Never run: the slot just passed. Down for five hours: only the
     * latest slot, not five. Already run: nothing. */
    ck_assert_int_eq(tlm__schedule_due(&s, now, 0), t("2026-12-05T10:00:00Z"));
    ck_assert_int_eq(tlm__schedule_due(&s, now, t("2026-12-05T05:00:00Z")),
        t("2026-12-05T10:00:00Z"));
    ck_assert_int_eq(tlm__schedule_due(&s, now, t("2026-12-05T10:00:00Z")), 0);
    ck_assert_int_eq(tlm__schedule_due(&none, now, 0), 0);
    ck_assert_int_eq(tlm__schedule_next(&none, now), 0);
}
END_TEST

/* ---- the scheduler on a real store ---- */

static char dbpath[64];
static struct tlm__store *st;

static void
store_setup(void)
{
    char err[256];
    snprintf(dbpath, sizeof(dbpath), "/tmp/tlm-sched-XXXXXX");
    int fd = mkstemp(dbpath);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(dbpath);
    ck_assert_int_eq(tlm__store_sqlite_open(dbpath, &st, err, sizeof(err)), 0);
}

static void
store_teardown(void)
{
    char p[80];
    /* Runs render PDFs: cairo's and fontconfig's process caches go with
     * each case (Check forks one process per case), so LSan sees none. */
    tlm__report_release();
    tlm__store_close(st);
    unlink(dbpath);
    snprintf(p, sizeof(p), "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", dbpath);
    unlink(p);
}

static void
one_report(struct tlm__analytics_config *a, struct tlm__saved_report *r)
{
    tlm__analytics_config_defaults(a);
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "hourly-usage");
    r->base = "usage-summary";
    r->window_ms = HOUR;
    r->schedule = sched(TLM_SCHEDULE_HOURLY, NULL, 0);
    r->schedule.formats = TLM_REPORT_FMT_ALL;
    a->reports = r;
    a->n_reports = 1;
    a->scheduled_reports = true;
}

START_TEST(scheduler_runs_a_slot_once)
{
    struct tlm__analytics_config a;
    struct tlm__saved_report r;
    struct tlm__report_scheduler *s = NULL;
    struct tlm__report_run_row *rows = NULL;
    size_t n = 0;
    int64_t now = t("2026-12-05T10:20:00Z");
    one_report(&a, &r);
    struct tlm__report_runner rn = {st, &a, NULL};
    ck_assert_int_eq(tlm__report_scheduler_new(&rn, &s), 0);
    ck_assert_uint_eq(tlm__report_scheduler_tick(s, now), 1);
    ck_assert_uint_eq(tlm__report_scheduler_tick(s, now + 60000), 0);
    ck_assert_int_eq(
        tlm__report_scheduler_next(s, now), t("2026-12-05T11:00:00Z"));
    tlm__report_scheduler_free(s);
    /* A restart (or a second server) finds the slot run in the store. */
    ck_assert_int_eq(tlm__report_scheduler_new(&rn, &s), 0);
    ck_assert_uint_eq(tlm__report_scheduler_tick(s, now), 0);
    ck_assert_uint_eq(tlm__report_scheduler_tick(s, now + HOUR), 1);
    tlm__report_scheduler_free(s);

    ck_assert_int_eq(tlm__store_report_runs_list(st, r.id, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(rows[0].scheduled_ms, t("2026-12-05T11:00:00Z"));
    ck_assert_int_eq(rows[1].scheduled_ms, t("2026-12-05T10:00:00Z"));
    ck_assert_int_eq(rows[1].from_ms, t("2026-12-05T09:00:00Z"));
    ck_assert_int_eq(rows[1].to_ms, t("2026-12-05T10:00:00Z"));
    ck_assert_uint_eq(rows[1].formats, TLM_REPORT_FMT_ALL);
    ck_assert_str_eq(rows[1].trigger, "schedule");

    struct tlm__report_blob b;
    ck_assert_int_eq(
        tlm__store_report_run_get(st, r.id, rows[1].run_id, "json", &b), 0);
    ck_assert_str_eq(b.content_type, "application/json");
    cJSON *model = cJSON_Parse((const char *)b.body);
    ck_assert_ptr_nonnull(model);
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(model, "id")), "hourly-usage");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(model, "report")),
        "usage-summary");
    const cJSON *w = cJSON_GetObjectItem(model, "window");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(w, "from")),
        "2026-12-05T09:00:00.000Z");
    cJSON_Delete(model);
    free(b.body);
    ck_assert_int_eq(
        tlm__store_report_run_get(st, r.id, rows[1].run_id, "pdf", &b), 0);
    ck_assert_uint_gt(b.len, 4);
    ck_assert_int_eq(memcmp(b.body, "%PDF", 4), 0);
    free(b.body);
    ck_assert_int_eq(
        tlm__store_report_run_get(st, "other", rows[1].run_id, "pdf", &b), 1);
    free(rows);
}
END_TEST

START_TEST(scheduler_claim_is_exclusive)
{
    struct tlm__analytics_config a;
    struct tlm__saved_report r;
    char id1[TLM_FB_ID_MAX], id2[TLM_FB_ID_MAX];
    int64_t slot = t("2026-12-05T10:00:00Z");
    one_report(&a, &r);
    a.deliver = true; /* the delivery goes in with the claim */
    struct tlm__report_runner rn = {st, &a, NULL};
    ck_assert_int_eq(tlm__store_report_run_exists(st, r.id, slot), 1);
    ck_assert_int_eq(tlm__report_run(&rn, &r, slot, TLM_REPORT_FMT_CSV,
                         "schedule", slot, id1),
        0);
    ck_assert_int_eq(tlm__store_report_run_exists(st, r.id, slot), 0);
    /* A second server rendering the same slot stores nothing. */
    ck_assert_int_eq(tlm__report_run(&rn, &r, slot, TLM_REPORT_FMT_CSV,
                         "schedule", slot, id2),
        1);
    ck_assert_str_eq(id2, "");
    struct tlm__outbox_row *rows = NULL;
    size_t n = 0;
    ck_assert_int_eq(
        tlm__store_outbox_claim(st, slot + 1000, 60000, 10, &rows, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rows[0].type, TLM_WEBHOOK_REPORT_GENERATED);
    cJSON *doc = cJSON_Parse(rows[0].body);
    ck_assert_ptr_nonnull(doc);
    const cJSON *run = cJSON_GetObjectItem(doc, "run");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(run, "id")), id1);
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(run, "scheduled_for")),
        "2026-12-05T10:00:00.000Z");
    const cJSON *f = cJSON_GetObjectItem(run, "formats");
    ck_assert_ptr_null(cJSON_GetObjectItem(f, "json"));
    ck_assert_ptr_nonnull(
        strstr(cJSON_GetStringValue(cJSON_GetObjectItem(f, "csv")), id1));
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(doc, "content")));
    cJSON_Delete(doc);
    tlm__outbox_rows_free(rows, n);
}
END_TEST

START_TEST(scheduler_disabled_runs_nothing)
{
    struct tlm__analytics_config a;
    struct tlm__saved_report r;
    struct tlm__report_scheduler *s = NULL;
    one_report(&a, &r);
    a.scheduled_reports = false;
    struct tlm__report_runner rn = {st, &a, NULL};
    ck_assert_int_eq(tlm__report_scheduler_new(&rn, &s), 0);
    ck_assert_uint_eq(
        tlm__report_scheduler_tick(s, t("2026-12-05T10:20:00Z")), 0);
    ck_assert_int_eq(tlm__report_scheduler_next(s, 0), 0);
    tlm__report_scheduler_free(s);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_report_schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, schedule_hourly);
    tcase_add_test(tc, schedule_daily);
    tcase_add_test(tc, schedule_weekly);
    tcase_add_test(tc, schedule_due_runs_only_the_latest_missed_slot);
    suite_add_tcase(s, tc);
    tc = tcase_create("scheduler");
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scheduler_runs_a_slot_once);
    tcase_add_test(tc, scheduler_claim_is_exclusive);
    tcase_add_test(tc, scheduler_disabled_runs_nothing);
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
    tlm__report_release();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
