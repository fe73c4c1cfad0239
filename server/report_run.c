/* A saved report's model and one run of it: the built-in report cut from
 * the dashboard with the saved window and filters, rendered in each
 * format, stored with its report.generated delivery in one transaction.
 * Runs on the maintenance thread or an HTTP thread; keeps no state. */
#include "report_schedule.h"

#include "analytics.h"
#include "json_util.h"
#include "report.h"
#include "rfc3339.h"
#include "uuid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 256

/* The saved report's id and title over the built-in's. */
static int
relabel(cJSON *model, const struct tlm__saved_report *r)
{
    const char *title = r->title;
    if (title == NULL)
        title = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(model, "title"));
    cJSON *id = cJSON_CreateString(r->id);
    cJSON *t = cJSON_CreateString(title != NULL ? title : r->id);
    cJSON *base = cJSON_CreateString(r->base);
    if (id == NULL || t == NULL || base == NULL
        || !cJSON_ReplaceItemInObjectCaseSensitive(model, "id", id)) {
        cJSON_Delete(id);
        cJSON_Delete(t);
        cJSON_Delete(base);
        return -1;
    }
    if (!cJSON_ReplaceItemInObjectCaseSensitive(model, "title", t))
        cJSON_Delete(t);
    if (!cJSON_AddItemToObject(model, "report", base)) {
        cJSON_Delete(base);
        return -1;
    }
    return 0;
}

int
tlm__saved_report_model(struct tlm__store *st,
    const struct tlm__saved_report *r, const char *from, const char *to,
    const char *environment, const char *tier, const char *endpoint,
    int64_t now_ms, cJSON **model, char **error)
{
    char from_buf[32], to_buf[32];
    int64_t to_ms = now_ms;
    char *json = NULL;
    cJSON *dash;
    *model = NULL;
    *error = NULL;
    /* The saved window ends at `to` (now by default); a given `from`
     * overrides its length. A bad `to` goes to the dashboard as is, for
     * its own message. */
    if (to == NULL) {
        snprintf(to_buf, sizeof(to_buf), "%" PRId64, now_ms);
        to = to_buf;
    } else if (tlm__analytics_parse_time(to, &to_ms) != 0) {
        to_ms = INT64_MIN;
    }
    if (from == NULL && to_ms != INT64_MIN) {
        snprintf(from_buf, sizeof(from_buf), "%" PRId64, to_ms - r->window_ms);
        from = from_buf;
    }
    struct tlm__report_filters f = {
        .tier = tier != NULL ? tier : r->tier,
        .endpoint = endpoint != NULL ? endpoint : r->endpoint,
    };
    int status = tlm__analytics_dashboard_filtered(st, from, to,
        environment != NULL ? environment : r->environment, f.tier, f.endpoint,
        now_ms, &json);
    if (status != 200) {
        *error = json;
        return status;
    }
    dash = json != NULL ? cJSON_Parse(json) : NULL;
    free(json);
    *model = dash != NULL
        ? tlm__report_build(tlm__report_find(r->base), dash, &f)
        : NULL;
    cJSON_Delete(dash);
    if (*model != NULL && relabel(*model, r) != 0) {
        cJSON_Delete(*model);
        *model = NULL;
    }
    if (*model == NULL) {
        *error = tlm__json_error_body("out of memory");
        return 500;
    }
    return 200;
}

int
tlm__report_render(const cJSON *model, const char *format, unsigned char **body,
    size_t *len, const char **content_type)
{
    char *text;
    *body = NULL;
    *len = 0;
    if (strcmp(format, "pdf") == 0) {
        *content_type = "application/pdf";
        return tlm__report_pdf(model, body, len);
    }
    if (strcmp(format, "csv") == 0) {
        *content_type = "text/csv; charset=utf-8";
        text = tlm__report_csv(model);
    } else {
        *content_type = "application/json";
        text = cJSON_PrintUnformatted(model);
    }
    if (text == NULL)
        return -1;
    *body = (unsigned char *)text;
    *len = strlen(text);
    return 0;
}

static int
add_time(cJSON *o, const char *name, int64_t ms)
{
    char t[TLM_RFC3339_BUF];
    tlm__rfc3339_format(ms, t, sizeof(t));
    return cJSON_AddStringToObject(o, name, t) != NULL ? 0 : -1;
}

static cJSON *
run_json(const struct tlm__saved_report *r, const struct tlm__report_run *run,
    unsigned formats, const cJSON *model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *urls;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(model, "window");
    char url[URL_MAX];
    if (o == NULL || cJSON_AddStringToObject(o, "id", run->run_id) == NULL
        || cJSON_AddStringToObject(o, "trigger", run->trigger) == NULL
        || add_time(o, "scheduled_for", run->scheduled_ms) != 0
        || add_time(o, "generated_at", run->generated_ms) != 0
        || !cJSON_AddItemToObject(
            o, "window", w != NULL ? cJSON_Duplicate(w, 1) : cJSON_CreateNull())
        || (urls = cJSON_AddObjectToObject(o, "formats")) == NULL)
        goto fail;
    for (unsigned bit = 1; bit <= TLM_REPORT_FMT_PDF; bit <<= 1) {
        if ((formats & bit) == 0)
            continue;
        snprintf(url, sizeof(url),
            "/admin/analytics/reports/%s/runs/%s?format=%s", r->id, run->run_id,
            tlm__report_format_name(bit));
        if (cJSON_AddStringToObject(urls, tlm__report_format_name(bit), url)
            == NULL)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

char *
tlm__report_generated_doc(const struct tlm__saved_report *r,
    const struct tlm__report_run *run, unsigned formats, const cJSON *model,
    const char *delivery_id)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *rep, *part;
    const char *title = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(model, "title"));
    if (root == NULL
        || cJSON_AddStringToObject(root, "type", TLM_WEBHOOK_REPORT_GENERATED)
            == NULL
        || (delivery_id != NULL
            && cJSON_AddStringToObject(root, "delivery_id", delivery_id)
                == NULL)
        || add_time(root, "created_at", run->generated_ms) != 0
        || (rep = cJSON_AddObjectToObject(root, "report")) == NULL
        || cJSON_AddStringToObject(rep, "id", r->id) == NULL
        || cJSON_AddStringToObject(rep, "title", title != NULL ? title : r->id)
            == NULL
        || cJSON_AddStringToObject(rep, "report", r->base) == NULL)
        goto fail;
    part = run_json(r, run, formats, model);
    if (part == NULL || !cJSON_AddItemToObject(root, "run", part)) {
        cJSON_Delete(part);
        goto fail;
    }
    part = cJSON_Duplicate(model, 1);
    if (part == NULL || !cJSON_AddItemToObject(root, "content", part)) {
        cJSON_Delete(part);
        goto fail;
    }
    return tlm__json_finish(root);
fail:
    cJSON_Delete(root);
    return NULL;
}

static int
store_run(const struct tlm__report_runner *rn,
    const struct tlm__saved_report *r, struct tlm__report_run *run,
    unsigned formats, const cJSON *model)
{
    struct tlm__outbox_item item;
    char *doc = NULL;
    int rc;
    if (rn->cfg->deliver) {
        tlm__uuid7(item.id);
        item.type = TLM_WEBHOOK_REPORT_GENERATED;
        doc = tlm__report_generated_doc(r, run, formats, model, item.id);
        if (doc == NULL)
            return -1;
        item.body = doc;
        item.body_len = strlen(doc);
    }
    rc = tlm__store_report_run_insert(
        rn->store, run, rn->cfg->deliver ? &item : NULL);
    free(doc);
    return rc;
}

int
tlm__report_run(const struct tlm__report_runner *rn,
    const struct tlm__saved_report *r, int64_t scheduled_ms, unsigned formats,
    const char *trigger, int64_t now_ms, char run_id[TLM_FB_ID_MAX])
{
    struct tlm__report_part parts[3];
    unsigned char *bodies[3] = {NULL, NULL, NULL};
    struct tlm__report_run run = {
        .report_id = r->id,
        .trigger = trigger,
        .scheduled_ms = scheduled_ms,
        .from_ms = scheduled_ms - r->window_ms,
        .to_ms = scheduled_ms,
        .parts = parts,
    };
    char from[32], to[32];
    char *error = NULL;
    cJSON *model = NULL;
    int rc = -1;
    run_id[0] = '\0';
    snprintf(from, sizeof(from), "%" PRId64, run.from_ms);
    snprintf(to, sizeof(to), "%" PRId64, run.to_ms);
    if (tlm__saved_report_model(
            rn->store, r, from, to, NULL, NULL, NULL, now_ms, &model, &error)
        != 200)
        goto out;
    for (unsigned bit = 1; bit <= TLM_REPORT_FMT_PDF; bit <<= 1) {
        struct tlm__report_part *p = &parts[run.n_parts];
        if ((formats & bit) == 0)
            continue;
        p->format = tlm__report_format_name(bit);
        if (tlm__report_render(model, p->format, &bodies[run.n_parts], &p->len,
                &p->content_type)
            != 0)
            goto out;
        p->body = bodies[run.n_parts++];
    }
    tlm__uuid7(run.run_id);
    run.generated_ms = tlm__now_ms();
    rc = store_run(rn, r, &run, formats, model);
    if (rc == 0)
        memcpy(run_id, run.run_id, TLM_FB_ID_MAX);
out:
    if (rc < 0 && error != NULL) {
        struct tlm__log_field f[] = {{"report", r->id, 0}, {"error", error, 0}};
        tlm__log_write(rn->log, TLM_LOG_ERROR, "report run failed", f, 2);
    }
    for (size_t i = 0; i < 3; i++)
        free(bodies[i]);
    free(error);
    cJSON_Delete(model);
    return rc;
}
