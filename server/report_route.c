/* GET /admin/analytics/reports and /admin/analytics/reports/{id}: the
 * list of reports, and one report built from the dashboard document with
 * the same filters, answered as JSON, CSV or PDF. Admin only (the route
 * table says so); never reads the store except through the dashboard. */
#include "analytics.h"
#include "api.h"
#include "http_internal.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result
tlm__reports_list(struct tlm__api_call *call)
{
    size_t n;
    const struct tlm__report_info *r = tlm__report_builtins(&n);
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(doc, "items");
    for (size_t i = 0; items != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(items, o)
            || cJSON_AddStringToObject(o, "id", r[i].id) == NULL
            || cJSON_AddStringToObject(o, "title", r[i].title) == NULL
            || cJSON_AddStringToObject(o, "description", r[i].description)
                == NULL
            || cJSON_AddBoolToObject(o, "builtin", 1) == NULL) {
            cJSON_Delete(doc);
            return tlm__api_reply(call, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
        }
    }
    return tlm__api_reply(call, MHD_HTTP_OK, items != NULL ? doc : NULL);
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
    if (strcmp(format, "pdf") == 0) {
        unsigned char *pdf = NULL;
        size_t len = 0;
        if (tlm__report_pdf(model, &pdf, &len) != 0)
            return tlm__api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR,
                "report: the PDF could not be made", NULL);
        disposition(model, id, "pdf", disp, sizeof(disp));
        return answer(call, pdf, len, "application/pdf", disp);
    }
    char *text = strcmp(format, "csv") == 0 ? tlm__report_csv(model)
                                            : cJSON_PrintUnformatted(model);
    if (text == NULL)
        return tlm__api_error(
            call, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
    disposition(model, id, format, disp, sizeof(disp));
    return answer(call, text, strlen(text),
        strcmp(format, "csv") == 0 ? "text/csv; charset=utf-8"
                                   : "application/json",
        disp);
}

enum MHD_Result
tlm__report_get(struct tlm__api_call *call)
{
    const struct tlm__report_info *info = tlm__report_find(call->id);
    const char *format = tlm__api_arg(call, "format");
    struct tlm__report_filters f = {
        .tier = tlm__api_arg(call, "tier"),
        .endpoint = tlm__api_arg(call, "endpoint"),
    };
    char *json = NULL;
    cJSON *dash, *model;
    enum MHD_Result rc;
    if (info == NULL)
        return tlm__api_error(call, MHD_HTTP_NOT_FOUND,
            "report_id: no such report (GET /admin/analytics/reports lists "
            "them)",
            "report_id");
    if (format == NULL)
        format = "json";
    if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0
        && strcmp(format, "pdf") != 0)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "format: expected json, csv or pdf", "format");
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
