/* The config document's `analytics` section for the server: retention,
 * rollup compaction, the live dashboard and saved (scheduled) reports.
 * Unknown keys are reported and ignored; bad values are refused, naming
 * the key (and reports[i].field). Never reads the clock or the store. */
#include "config_analytics.h"

#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define MAX_WINDOW_HOURS (90LL * 24)

static const char *const weekdays[7] = {"monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday"};

void
tlm__analytics_config_defaults(struct tlm__analytics_config *a)
{
    memset(a, 0, sizeof(*a));
    a->minute_retention_hours = TLM_DEFAULT_MINUTE_RETENTION_HOURS;
    a->hour_retention_days = TLM_DEFAULT_HOUR_RETENTION_DAYS;
    a->real_time_dashboard = true;
    a->dashboard_refresh_s = TLM_DEFAULT_DASHBOARD_REFRESH_S;
}

static void
saved_free(struct tlm__saved_report *r)
{
    free(r->title);
    free(r->environment);
    free(r->tier);
    free(r->endpoint);
}

void
tlm__analytics_config_free(struct tlm__analytics_config *a)
{
    for (size_t i = 0; i < a->n_reports; i++)
        saved_free(&a->reports[i]);
    free(a->reports);
    a->reports = NULL;
    a->n_reports = 0;
}

const char *
tlm__report_format_name(unsigned bit)
{
    switch (bit) {
    case TLM_REPORT_FMT_JSON:
        return "json";
    case TLM_REPORT_FMT_CSV:
        return "csv";
    case TLM_REPORT_FMT_PDF:
        return "pdf";
    default:
        return NULL;
    }
}

unsigned
tlm__report_format_bit(const char *name)
{
    for (unsigned bit = 1; bit <= TLM_REPORT_FMT_PDF; bit <<= 1) {
        if (name != NULL && strcmp(name, tlm__report_format_name(bit)) == 0)
            return bit;
    }
    return 0;
}

const struct tlm__saved_report *
tlm__analytics_report_find(
    const struct tlm__analytics_config *a, const char *id)
{
    for (size_t i = 0; a != NULL && id != NULL && i < a->n_reports; i++) {
        if (strcmp(a->reports[i].id, id) == 0)
            return &a->reports[i];
    }
    return NULL;
}

static int
bad(char *err, size_t n, const char *key, const char *expect)
{
    snprintf(err, n, "config: analytics.%s: expected %s", key, expect);
    return -1;
}

static int
bad_at(char *err, size_t n, size_t i, const char *key, const char *expect)
{
    snprintf(err, n, "config: analytics.reports[%zu].%s: expected %s", i, key,
        expect);
    return -1;
}

static bool
is_uint(const cJSON *v, double min, double max)
{
    return cJSON_IsNumber(v) && v->valuedouble >= min && v->valuedouble <= max
        && v->valuedouble == (double)(unsigned long)v->valuedouble;
}

/* "Nh" or "Nd", 1 h .. 90 d. */
static int
parse_window(const char *s, int64_t *ms)
{
    char *end = NULL;
    long long v;
    if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 8)
        return -1;
    v = strtoll(s, &end, 10);
    if (end == NULL || end[0] == '\0' || end[1] != '\0')
        return -1;
    if (*end == 'd')
        v *= 24;
    else if (*end != 'h')
        return -1;
    if (v < 1 || v > MAX_WINDOW_HOURS)
        return -1;
    *ms = v * HOUR_MS;
    return 0;
}

/* "HH:MM", 00:00 .. 23:59. */
static int
parse_at(const char *s, int *minute)
{
    if (s == NULL || strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++) {
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    }
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return -1;
    *minute = h * 60 + m;
    return 0;
}

static bool
id_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len >= TLM_REPORT_ID_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

static int
dup_string(char **dst, const cJSON *v, size_t i, size_t min, size_t max,
    char *err, size_t n)
{
    char expect[64];
    snprintf(expect, sizeof(expect), "a string of %zu..%zu bytes", min, max);
    if (!cJSON_IsString(v) || strlen(v->valuestring) < min
        || strlen(v->valuestring) > max)
        return bad_at(err, n, i, v->string, expect);
    free(*dst);
    *dst = strdup(v->valuestring);
    return *dst != NULL ? 0 : -1;
}

static int
apply_formats(struct tlm__report_schedule *s, const cJSON *v, size_t i,
    char *err, size_t n)
{
    const cJSON *f;
    const char *expect
        = "a non-empty array of \"json\", \"csv\", \"pdf\" (schedule.formats)";
    s->formats = 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return bad_at(err, n, i, "schedule.formats", expect);
    cJSON_ArrayForEach(f, v)
    {
        unsigned bit
            = cJSON_IsString(f) ? tlm__report_format_bit(f->valuestring) : 0;
        if (bit == 0)
            return bad_at(err, n, i, "schedule.formats", expect);
        s->formats |= bit;
    }
    return 0;
}

static int
apply_every(struct tlm__report_schedule *s, const cJSON *v, size_t i, char *err,
    size_t n)
{
    const char *e = cJSON_GetStringValue(v);
    if (e != NULL && strcmp(e, "hourly") == 0)
        s->every = TLM_SCHEDULE_HOURLY;
    else if (e != NULL && strcmp(e, "daily") == 0)
        s->every = TLM_SCHEDULE_DAILY;
    else if (e != NULL && strcmp(e, "weekly") == 0)
        s->every = TLM_SCHEDULE_WEEKLY;
    else
        return bad_at(
            err, n, i, "schedule.every", "\"hourly\", \"daily\" or \"weekly\"");
    return 0;
}

static int
apply_schedule(struct tlm__report_schedule *s, const cJSON *o, size_t i,
    const char *path, char *err, size_t n)
{
    const cJSON *v;
    bool has_at = false, has_day = false;
    if (!cJSON_IsObject(o))
        return bad_at(err, n, i, "schedule", "an object {\"every\", ...}");
    s->formats = TLM_REPORT_FMT_JSON;
    cJSON_ArrayForEach(v, o)
    {
        const char *k = v->string;
        if (strcmp(k, "every") == 0) {
            if (apply_every(s, v, i, err, n) != 0)
                return -1;
        } else if (strcmp(k, "at") == 0) {
            if (parse_at(cJSON_GetStringValue(v), &s->at_minute) != 0)
                return bad_at(
                    err, n, i, "schedule.at", "\"HH:MM\" (UTC, 00:00..23:59)");
            has_at = true;
        } else if (strcmp(k, "weekday") == 0) {
            const char *d = cJSON_GetStringValue(v);
            s->weekday = -1;
            for (int w = 0; d != NULL && w < 7; w++) {
                if (strcmp(d, weekdays[w]) == 0)
                    s->weekday = w;
            }
            if (s->weekday < 0)
                return bad_at(err, n, i, "schedule.weekday",
                    "a day name, \"monday\" .. \"sunday\"");
            has_day = true;
        } else if (strcmp(k, "formats") == 0) {
            if (apply_formats(s, v, i, err, n) != 0)
                return -1;
        } else {
            fprintf(stderr,
                "telemetry-server: %s: unknown key "
                "analytics.reports[%zu].schedule.%s (ignored)\n",
                path, i, k);
        }
    }
    if (s->every == TLM_SCHEDULE_NONE)
        return bad_at(
            err, n, i, "schedule.every", "\"hourly\", \"daily\" or \"weekly\"");
    if (has_at && s->every == TLM_SCHEDULE_HOURLY)
        return bad_at(err, n, i, "schedule.at",
            "no \"at\" with \"every\": \"hourly\" (runs on the hour)");
    if (s->every == TLM_SCHEDULE_WEEKLY && !has_day)
        return bad_at(err, n, i, "schedule.weekday",
            "a day name with \"every\": \"weekly\"");
    if (has_day && s->every != TLM_SCHEDULE_WEEKLY)
        return bad_at(err, n, i, "schedule.weekday",
            "a weekday only with \"every\": \"weekly\"");
    return 0;
}

static int
apply_report_key(struct tlm__saved_report *r, const cJSON *v, size_t i,
    const char *path, char *err, size_t n)
{
    const char *k = v->string;
    if (strcmp(k, "id") == 0) {
        const char *s = cJSON_GetStringValue(v);
        if (s == NULL || !id_valid(s))
            return bad_at(err, n, i, k, "an id of 1..63 of [a-z0-9-]");
        if (tlm__report_find(s) != NULL)
            return bad_at(
                err, n, i, k, "an id that is not a built-in report's");
        snprintf(r->id, sizeof(r->id), "%s", s);
    } else if (strcmp(k, "title") == 0) {
        return dup_string(&r->title, v, i, 1, 200, err, n);
    } else if (strcmp(k, "report") == 0) {
        const struct tlm__report_info *b
            = tlm__report_find(cJSON_GetStringValue(v));
        if (b == NULL)
            return bad_at(err, n, i, k,
                "a built-in report: usage-summary, endpoint-performance, "
                "errors, feedback or feature-requests");
        r->base = b->id;
    } else if (strcmp(k, "window") == 0) {
        if (parse_window(cJSON_GetStringValue(v), &r->window_ms) != 0)
            return bad_at(err, n, i, k, "\"1h\" .. \"90d\" (hours or days)");
    } else if (strcmp(k, "environment") == 0) {
        const char *s = cJSON_GetStringValue(v);
        if (s == NULL
            || (strcmp(s, "production") != 0 && strcmp(s, "sandbox") != 0))
            return bad_at(err, n, i, k, "\"production\" or \"sandbox\"");
        return dup_string(&r->environment, v, i, 1, 16, err, n);
    } else if (strcmp(k, "tier") == 0) {
        return dup_string(&r->tier, v, i, 0, 256, err, n);
    } else if (strcmp(k, "endpoint") == 0) {
        return dup_string(&r->endpoint, v, i, 1, 1024, err, n);
    } else if (strcmp(k, "schedule") == 0) {
        return apply_schedule(&r->schedule, v, i, path, err, n);
    } else {
        fprintf(stderr,
            "telemetry-server: %s: unknown key analytics.reports[%zu].%s "
            "(ignored)\n",
            path, i, k);
    }
    return 0;
}

static int
apply_reports(struct tlm__analytics_config *a, const cJSON *arr,
    const char *path, char *err, size_t n)
{
    const cJSON *o;
    size_t count = 0;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > TLM_SAVED_REPORTS_MAX)
        return bad(err, n, "reports", "an array of at most 100 reports");
    tlm__analytics_config_free(a);
    a->reports
        = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*a->reports));
    if (a->reports == NULL)
        return -1;
    cJSON_ArrayForEach(o, arr)
    {
        struct tlm__saved_report *r = &a->reports[count];
        const cJSON *v;
        size_t i = count++;
        a->n_reports = count;
        r->window_ms = 24 * HOUR_MS;
        if (!cJSON_IsObject(o))
            return bad_at(
                err, n, i, "id", "an object {\"id\", \"report\", ...}");
        cJSON_ArrayForEach(v, o)
        {
            if (apply_report_key(r, v, i, path, err, n) != 0)
                return -1;
        }
        if (r->id[0] == '\0')
            return bad_at(err, n, i, "id", "an id of 1..63 of [a-z0-9-]");
        if (r->base == NULL)
            return bad_at(err, n, i, "report", "a built-in report's id");
        if (tlm__analytics_report_find(a, r->id) != r)
            return bad_at(err, n, i, "id", "an id no other report has");
    }
    return 0;
}

static int
apply_bool(bool *dst, const cJSON *v, char *err, size_t n)
{
    if (!cJSON_IsBool(v))
        return bad(err, n, v->string, "true or false");
    *dst = cJSON_IsTrue(v);
    return 0;
}

static int
apply_key(struct tlm__analytics_config *a, const cJSON *v, const char *path,
    char *err, size_t n)
{
    const char *k = v->string;
    if (strcmp(k, "retention_period_days") == 0) {
        if (!is_uint(v, 0, 36500))
            return bad(err, n, k, "an integer 0..36500 (0: keep forever)");
        a->retention_period_days = (unsigned long)v->valuedouble;
        a->retention_set = true;
    } else if (strcmp(k, "rollup_minute_retention_hours") == 0) {
        if (!is_uint(v, 1, 24 * 366))
            return bad(err, n, k, "an integer 1..8784");
        a->minute_retention_hours = (unsigned)v->valuedouble;
    } else if (strcmp(k, "rollup_hour_retention_days") == 0) {
        if (!is_uint(v, 1, 36500))
            return bad(err, n, k, "an integer 1..36500");
        a->hour_retention_days = (unsigned)v->valuedouble;
    } else if (strcmp(k, "rollup_retention_days") == 0) {
        if (!is_uint(v, 0, 36500))
            return bad(err, n, k, "an integer 0..36500 (0: keep forever)");
        a->rollup_retention_days = (unsigned long)v->valuedouble;
    } else if (strcmp(k, "real_time_dashboard_enabled") == 0) {
        return apply_bool(&a->real_time_dashboard, v, err, n);
    } else if (strcmp(k, "dashboard_refresh_seconds") == 0) {
        if (!is_uint(v, 5, 3600))
            return bad(err, n, k, "an integer 5..3600");
        a->dashboard_refresh_s = (unsigned)v->valuedouble;
    } else if (strcmp(k, "scheduled_reports_enabled") == 0) {
        return apply_bool(&a->scheduled_reports, v, err, n);
    } else if (strcmp(k, "reports") == 0) {
        return apply_reports(a, v, path, err, n);
    } else {
        fprintf(stderr,
            "telemetry-server: %s: unknown key analytics.%s (ignored)\n", path,
            k);
    }
    return 0;
}

int
tlm__analytics_config_apply(struct tlm__analytics_config *a, const cJSON *root,
    const char *path, char *err, size_t err_size)
{
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "analytics");
    const cJSON *v;
    if (sec == NULL)
        return 0;
    if (!cJSON_IsObject(sec)) {
        snprintf(err, err_size, "config: analytics: expected object");
        return -1;
    }
    cJSON_ArrayForEach(v, sec)
    {
        if (apply_key(a, v, path, err, err_size) != 0)
            return -1;
    }
    /* Hours fold into days only after minutes folded into hours. */
    if ((uint64_t)a->hour_retention_days * 24 < a->minute_retention_hours)
        return bad(err, err_size, "rollup_hour_retention_days",
            "at least rollup_minute_retention_hours / 24");
    if (a->rollup_retention_days > 0 && a->retention_set
        && a->retention_period_days > 0
        && a->rollup_retention_days < a->retention_period_days)
        return bad(err, err_size, "rollup_retention_days",
            "0 (forever) or at least retention_period_days (rollups outlive "
            "the raw events)");
    return 0;
}
