/* GET /admin/analytics/reports and /admin/analytics/reports/{id}: the
 * list of reports (built-in and saved, with the saved ones' last runs),
 * and one report built from the dashboard document with the same filters
 * (a saved one's by default), answered as JSON, CSV or PDF; a stored run,
 * and POST .../{id}/run. Admin only (the route table says so); reads the
 * store only through the dashboard and the report runs. */
#include "analytics.h"
#include "api.h"
#include "http_internal.h"
#include "report.h"
#include "report_schedule.h"
#include "rfc3339.h"
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS_LISTED 10

static cJSON *
builtin_json(const struct tlm__report_info *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "id", r->id) == NULL
        || cJSON_AddStringToObject(o, "title", r->title) == NULL
        || cJSON_AddStringToObject(o, "description", r->description) == NULL
        || cJSON_AddBoolToObject(o, "builtin", 1) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int
add_opt_string(cJSON *o, const char *name, const char *v)
{
    cJSON *item = v != NULL ? cJSON_CreateString(v) : cJSON_CreateNull();
    if (item == NULL || !cJSON_AddItemToObject(o, name, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static cJSON *
formats_json(unsigned formats)
{
    cJSON *a = cJSON_CreateArray();
    for (unsigned bit = 1; a != NULL && bit <= TLM_REPORT_FMT_PDF; bit <<= 1) {
        cJSON *f;
        if ((formats & bit) == 0)
            continue;
        f = cJSON_CreateString(tlm__report_format_name(bit));
        if (f == NULL || !cJSON_AddItemToArray(a, f)) {
            cJSON_Delete(f);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static const char *const weekday_names[7] = {"monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday"};
static const char *const every_names[4] = {"", "hourly", "daily", "weekly"};

static cJSON *
schedule_json(const struct tlm__report_schedule *s)
{
    char at[8];
    cJSON *o;
    if (s->every == TLM_SCHEDULE_NONE)
        return cJSON_CreateNull();
    o = cJSON_CreateObject();
    snprintf(
        at, sizeof(at), "%02d:%02d", s->at_minute / 60 % 24, s->at_minute % 60);
    if (o == NULL
        || cJSON_AddStringToObject(o, "every", every_names[s->every]) == NULL
        || add_opt_string(o, "at", s->every == TLM_SCHEDULE_HOURLY ? NULL : at)
            != 0
        || add_opt_string(o, "weekday",
               s->every == TLM_SCHEDULE_WEEKLY ? weekday_names[s->weekday]
                                               : NULL)
            != 0
        || !cJSON_AddItemToObject(o, "formats", formats_json(s->formats))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *
run_row_json(const char *report_id, const struct tlm__report_run_row *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *urls = NULL;
    char url[256];
    if (o == NULL || cJSON_AddStringToObject(o, "id", r->run_id) == NULL
        || cJSON_AddStringToObject(o, "trigger", r->trigger) == NULL
        || cJSON_AddStringToObject(
               o, "scheduled_for", tlm__api_time(r->scheduled_ms))
            == NULL
        || cJSON_AddStringToObject(
               o, "generated_at", tlm__api_time(r->generated_ms))
            == NULL
        || cJSON_AddStringToObject(o, "from", tlm__api_time(r->from_ms)) == NULL
        || cJSON_AddStringToObject(o, "to", tlm__api_time(r->to_ms)) == NULL
        || !cJSON_AddItemToObject(o, "formats", formats_json(r->formats))
        || (urls = cJSON_AddObjectToObject(o, "urls")) == NULL)
        goto fail;
    for (unsigned bit = 1; bit <= TLM_REPORT_FMT_PDF; bit <<= 1) {
        if ((r->formats & bit) == 0)
            continue;
        snprintf(url, sizeof(url),
            "/admin/analytics/reports/%s/runs/%s?format=%s", report_id,
            r->run_id, tlm__report_format_name(bit));
        if (cJSON_AddStringToObject(urls, tlm__report_format_name(bit), url)
            == NULL)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* The saved report's last runs; an unreadable store lists none. */
static int
add_runs(cJSON *o, struct tlm__store *st, const char *id)
{
    struct tlm__report_run_row *rows = NULL;
    size_t n = 0;
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    int rc = runs != NULL ? 0 : -1;
    if (rc == 0
        && tlm__store_report_runs_list(st, id, RUNS_LISTED, &rows, &n) != 0)
        n = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cJSON *r = run_row_json(id, &rows[i]);
        if (r == NULL || !cJSON_AddItemToArray(runs, r)) {
            cJSON_Delete(r);
            rc = -1;
        }
    }
    free(rows);
    return rc;
}

static cJSON *
saved_json(const struct tlm__api_call *call, const struct tlm__saved_report *r,
    int64_t now_ms)
{
    const struct tlm__analytics_config *a = call->api->analytics;
    cJSON *o = cJSON_CreateObject();
    cJSON *f = NULL;
    const struct tlm__report_info *base = tlm__report_find(r->base);
    bool on = a->scheduled_reports && r->schedule.every != TLM_SCHEDULE_NONE;
    if (o == NULL || cJSON_AddStringToObject(o, "id", r->id) == NULL
        || cJSON_AddStringToObject(
               o, "title", r->title != NULL ? r->title : base->title)
            == NULL
        || cJSON_AddStringToObject(o, "description", base->description) == NULL
        || cJSON_AddBoolToObject(o, "builtin", 0) == NULL
        || cJSON_AddStringToObject(o, "report", r->base) == NULL
        || cJSON_AddNumberToObject(
               o, "window_hours", (double)(r->window_ms / 3600000))
            == NULL
        || (f = cJSON_AddObjectToObject(o, "filters")) == NULL
        || add_opt_string(f, "environment", r->environment) != 0
        || add_opt_string(f, "tier", r->tier) != 0
        || add_opt_string(f, "endpoint", r->endpoint) != 0
        || !cJSON_AddItemToObject(o, "schedule", schedule_json(&r->schedule))
        || add_opt_string(o, "next_run_at",
               on ? tlm__api_time(tlm__schedule_next(&r->schedule, now_ms))
                  : NULL)
            != 0
        || add_runs(o, call->api->store, r->id) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

enum MHD_Result
tlm__reports_list(struct tlm__api_call *call)
{
    size_t n;
    const struct tlm__report_info *r = tlm__report_builtins(&n);
    const struct tlm__analytics_config *a = call->api->analytics;
    int64_t now = tlm__api_now_ms();
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(doc, "items");
    bool ok = items != NULL
        && cJSON_AddBoolToObject(doc, "scheduled_reports_enabled",
               a != NULL && a->scheduled_reports)
            != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *o = builtin_json(&r[i]);
        ok = o != NULL && cJSON_AddItemToArray(items, o);
        if (!ok)
            cJSON_Delete(o);
    }
    for (size_t i = 0; ok && a != NULL && i < a->n_reports; i++) {
        cJSON *o = saved_json(call, &a->reports[i], now);
        ok = o != NULL && cJSON_AddItemToArray(items, o);
        if (!ok)
            cJSON_Delete(o);
    }
    if (!ok) {
        cJSON_Delete(doc);
        return tlm__api_reply(call, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    return tlm__api_reply(call, MHD_HTTP_OK, doc);
}

/* The attachment's file name: <id>-<YYYY-MM-DD of the window's start>. */
static void
disposition(
    const cJSON *model, const char *id, const char *ext, char *out, size_t size)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(model, "window");
    const char *from
        = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "from"));
    char date[11] = "undated";
    if (from != NULL && strlen(from) >= 10
        && strspn(from, "0123456789-") >= 10) {
        memcpy(date, from, 10);
        date[10] = '\0';
    }
    snprintf(out, size, "attachment; filename=\"%s-%s.%s\"", id, date, ext);
}

static enum MHD_Result
answer(struct tlm__api_call *call, void *body, size_t len, const char *type,
    const char *disp)
{
    const char *h[10];
    size_t n = 0;
    if (call->origin != NULL && call->origin[0] != '\0') {
        h[n++] = "Access-Control-Allow-Origin";
        h[n++] = call->origin;
    }
    h[n++] = "Cache-Control";
    h[n++] = "no-store";
    h[n++] = "Content-Disposition";
    h[n++] = disp;
    h[n++] = "X-Content-Type-Options";
    h[n++] = "nosniff";
    h[n] = NULL;
    return tlm__http_queue_bytes(call->c, MHD_HTTP_OK, body, len, type, h);
}

static enum MHD_Result
render(struct tlm__api_call *call, const cJSON *model, const char *id,
    const char *format)
{
    char disp[160];
    unsigned char *body = NULL;
    size_t len = 0;
    const char *type = NULL;
    if (tlm__report_render(model, format, &body, &len, &type) != 0)
        return tlm__api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR,
            strcmp(format, "pdf") == 0 ? "report: the PDF could not be made"
                                       : "out of memory",
            NULL);
    disposition(model, id, format, disp, sizeof(disp));
    return answer(call, body, len, type, disp);
}

static bool
format_valid(const char *format)
{
    return strcmp(format, "json") == 0 || strcmp(format, "csv") == 0
        || strcmp(format, "pdf") == 0;
}

/* A saved report: the built-in it names, with its window and filters
 * unless the query gives them. */
static enum MHD_Result
saved_get(struct tlm__api_call *call, const struct tlm__saved_report *r,
    const char *format)
{
    cJSON *model = NULL;
    char *error = NULL;
    enum MHD_Result rc;
    int status = tlm__saved_report_model(call->api->store, r,
        tlm__api_arg(call, "from"), tlm__api_arg(call, "to"),
        tlm__api_arg(call, "environment"), tlm__api_arg(call, "tier"),
        tlm__api_arg(call, "endpoint"), tlm__api_now_ms(), &model, &error);
    if (status != MHD_HTTP_OK) {
        cJSON *e = error != NULL ? cJSON_Parse(error) : NULL;
        free(error);
        return tlm__api_reply(call, (unsigned)status, e);
    }
    rc = render(call, model, r->id, format);
    cJSON_Delete(model);
    return rc;
}

enum MHD_Result
tlm__report_get(struct tlm__api_call *call)
{
    const struct tlm__report_info *info = tlm__report_find(call->id);
    const struct tlm__saved_report *saved
        = tlm__analytics_report_find(call->api->analytics, call->id);
    const char *format = tlm__api_arg(call, "format");
    struct tlm__report_filters f = {
        .tier = tlm__api_arg(call, "tier"),
        .endpoint = tlm__api_arg(call, "endpoint"),
    };
    char *json = NULL;
    cJSON *dash, *model;
    enum MHD_Result rc;
    if (info == NULL && saved == NULL)
        return tlm__api_error(call, MHD_HTTP_NOT_FOUND,
            "report_id: no such report (GET /admin/analytics/reports lists "
            "them)",
            "report_id");
    if (format == NULL)
        format = "json";
    if (!format_valid(format))
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "format: expected json, csv or pdf", "format");
    if (info == NULL)
        return saved_get(call, saved, format);
    /* The dashboard checks the window and every filter. */
    int status = tlm__analytics_dashboard_filtered(call->api->store,
        tlm__api_arg(call, "from"), tlm__api_arg(call, "to"),
        tlm__api_arg(call, "environment"), f.tier, f.endpoint,
        tlm__api_now_ms(), &json);
    dash = json != NULL ? cJSON_Parse(json) : NULL;
    free(json);
    if (status != MHD_HTTP_OK)
        return tlm__api_reply(call, (unsigned)status, dash);
    model = dash != NULL ? tlm__report_build(info, dash, &f) : NULL;
    cJSON_Delete(dash);
    if (model == NULL)
        return tlm__api_error(
            call, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
    rc = render(call, model, info->id, format);
    cJSON_Delete(model);
    return rc;
}

/* GET /admin/analytics/reports/{report_id}/runs/{run_id}?format= */
enum MHD_Result
tlm__report_run_get(struct tlm__api_call *call)
{
    const char *format = tlm__api_arg(call, "format");
    struct tlm__report_blob b;
    char disp[160], date[TLM_RFC3339_BUF];
    if (format == NULL)
        format = "json";
    if (!format_valid(format))
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "format: expected json, csv or pdf", "format");
    int rc = tlm__store_report_run_get(
        call->api->store, call->id, call->id2, format, &b);
    if (rc < 0)
        return tlm__api_store_error(call);
    if (rc > 0)
        return tlm__api_error(call, MHD_HTTP_NOT_FOUND,
            "run_id: no such run of this report in this format (GET "
            "/admin/analytics/reports lists the runs)",
            "run_id");
    tlm__rfc3339_format(b.from_ms, date, sizeof(date));
    date[10] = '\0';
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s-%s.%s\"", call->id,
        date, format);
    return answer(call, b.body, b.len, b.content_type, disp);
}

/* POST /admin/analytics/reports/{report_id}/run: runs a saved report now
 * (window ending now), stores and delivers it as a scheduled run would.
 * Body (optional): {"formats": ["json", "csv", "pdf"]}; default: the
 * schedule's formats, or JSON. */
enum MHD_Result
tlm__report_run_now(struct tlm__api_call *call)
{
    const struct tlm__saved_report *r
        = tlm__analytics_report_find(call->api->analytics, call->id);
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(call->body, "formats");
    unsigned formats = 0;
    const cJSON *it;
    char run_id[TLM_FB_ID_MAX];
    if (r == NULL)
        return tlm__api_error(call, MHD_HTTP_NOT_FOUND,
            "report_id: no such saved report (analytics.reports in the "
            "config)",
            "report_id");
    if (fs != NULL && (!cJSON_IsArray(fs) || cJSON_GetArraySize(fs) == 0))
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "formats: expected a non-empty array of \"json\", \"csv\", "
            "\"pdf\"",
            "formats");
    cJSON_ArrayForEach(it, fs)
    {
        unsigned bit = tlm__report_format_bit(cJSON_GetStringValue(it));
        if (bit == 0)
            return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
                "formats: expected a non-empty array of \"json\", \"csv\", "
                "\"pdf\"",
                "formats");
        formats |= bit;
    }
    if (formats == 0)
        formats = r->schedule.formats != 0 ? r->schedule.formats
                                           : TLM_REPORT_FMT_JSON;
    struct tlm__report_runner rn
        = {call->api->store, call->api->analytics, NULL};
    int64_t now = tlm__api_now_ms();
    int rc = tlm__report_run(&rn, r, now, formats, "manual", now, run_id);
    if (rc == 1)
        return tlm__api_error(call, MHD_HTTP_CONFLICT,
            "a run of this report for this instant exists; retry", NULL);
    if (rc != 0)
        return tlm__api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR,
            "report: the run could not be made or stored", NULL);
    if (call->api->webhook != NULL && call->api->analytics->deliver)
        tlm__webhook_poke(call->api->webhook);
    struct tlm__report_run_row row = {
        .scheduled_ms = now,
        .generated_ms = now,
        .from_ms = now - r->window_ms,
        .to_ms = now,
        .formats = formats,
    };
    memcpy(row.run_id, run_id, sizeof(row.run_id));
    snprintf(row.trigger, sizeof(row.trigger), "manual");
    /* generated_at as stored may be a few ms later: list it to read it. */
    return tlm__api_reply(call, MHD_HTTP_CREATED, run_row_json(r->id, &row));
}
