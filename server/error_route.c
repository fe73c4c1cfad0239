/* The error-group routes (admin only): GET /admin/errors (sorted by
 * priority = (severity + 1) x events in the last 24 hours, or by recency or
 * volume; filters endpoint, impact, environment, status), GET
 * /admin/errors/{id} (the group, its last hour minute by minute, its
 * newest events and its alerts) and PUT /admin/errors/{id}/status
 * (resolved, ignored, unresolved). */
#include "api.h"

#include "json_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double
round3(double v)
{
    return round(v * 1000) / 1000;
}

cJSON *
tlm__error_group_json(const struct tlm__error_group *g)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "id", g->id);
    cJSON_AddStringToObject(o, "fingerprint", g->fingerprint);
    cJSON_AddNumberToObject(o, "grouping_version", g->grouping_version);
    cJSON_AddBoolToObject(o, "custom_fingerprint", g->custom);
    cJSON_AddStringToObject(o, "title", g->title);
    cJSON_AddStringToObject(o, "culprit", g->culprit ? g->culprit : "");
    if (g->error_code != NULL)
        cJSON_AddStringToObject(o, "error_code", g->error_code);
    else
        cJSON_AddNullToObject(o, "error_code");
    cJSON_AddStringToObject(o, "environment", g->environment);
    cJSON_AddStringToObject(o, "status", g->status);
    cJSON_AddBoolToObject(o, "regressed", g->regressed);
    cJSON_AddStringToObject(o, "impact", tlm__severity_name(g->impact));
    cJSON_AddStringToObject(
        o, "max_severity", tlm__severity_name(g->max_severity));
    cJSON_AddNumberToObject(o, "events", round3(g->events));
    cJSON_AddNumberToObject(o, "events_24h", round3(g->events_24h));
    cJSON_AddNumberToObject(o, "users_affected", g->users);
    cJSON_AddNumberToObject(o, "priority", round3(g->priority));
    cJSON_AddStringToObject(o, "first_seen", tlm__api_time(g->first_seen_ms));
    cJSON_AddStringToObject(o, "last_seen", tlm__api_time(g->last_seen_ms));
    if (g->resolved_ms > 0)
        cJSON_AddStringToObject(
            o, "resolved_at", tlm__api_time(g->resolved_ms));
    else
        cJSON_AddNullToObject(o, "resolved_at");
    cJSON *e = cJSON_AddArrayToObject(o, "endpoints");
    for (size_t i = 0; e != NULL && i < g->n_endpoints; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "endpoint", g->endpoints[i].endpoint);
        cJSON_AddNumberToObject(x, "events", round3(g->endpoints[i].events));
        cJSON_AddItemToArray(e, x);
    }
    return o;
}

cJSON *
tlm__alert_json(const struct tlm__group_alert *a)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "impact", tlm__severity_name(a->level));
    cJSON_AddNumberToObject(o, "events_in_window", round3(a->events));
    cJSON_AddNumberToObject(o, "users_in_window", a->users);
    cJSON_AddNumberToObject(
        o, "window_minutes", (double)(a->window_ms / 60000));
    cJSON_AddStringToObject(o, "created_at", tlm__api_time(a->created_ms));
    if (a->delivery_id[0] != '\0')
        cJSON_AddStringToObject(o, "delivery_id", a->delivery_id);
    else
        cJSON_AddNullToObject(o, "delivery_id");
    return o;
}

enum MHD_Result
tlm__errors_list(struct tlm__api_call *call)
{
    struct tlm__group_query q;
    struct tlm__error_group *rows = NULL;
    size_t n = 0;
    bool more = false;
    unsigned long lim = 50, off = 0;
    const char *sort = tlm__api_arg(call, "sort");
    const char *impact = tlm__api_arg(call, "impact");
    const char *status = tlm__api_arg(call, "status");
    const char *l = tlm__api_arg(call, "limit");
    const char *c = tlm__api_arg(call, "cursor");

    memset(&q, 0, sizeof(q));
    if (sort == NULL || strcmp(sort, "priority") == 0)
        q.sort = TLM_GROUP_SORT_PRIORITY;
    else if (strcmp(sort, "recent") == 0)
        q.sort = TLM_GROUP_SORT_RECENT;
    else if (strcmp(sort, "events") == 0)
        q.sort = TLM_GROUP_SORT_EVENTS;
    else
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "sort: expected priority, recent or events", "sort");
    q.impact = -1;
    if (impact != NULL && (q.impact = tlm__severity_parse(impact)) < 0)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "impact: expected low, medium, high or critical", "impact");
    if (status != NULL && strcmp(status, "unresolved") != 0
        && strcmp(status, "resolved") != 0 && strcmp(status, "ignored") != 0)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "status: expected unresolved, resolved or ignored", "status");
    if (l != NULL && tlm__parse_ulong(l, 1, TLM_LIST_MAX, &lim) != 0)
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "limit: expected an integer 1..100", "limit");
    if (c != NULL && tlm__parse_ulong(c, 0, 1000000, &off) != 0)
        return tlm__api_error(
            call, MHD_HTTP_BAD_REQUEST, "cursor: not a cursor", "cursor");
    q.status = status;
    q.environment = tlm__api_arg(call, "environment");
    q.endpoint = tlm__api_arg(call, "endpoint");
    q.limit = lim;
    q.offset = off;
    q.now_ms = tlm__api_now_ms();
    if (tlm__store_error_groups_list(call->api->store, &q, &rows, &n, &more)
        != 0)
        return tlm__api_store_error(call);
    cJSON *o = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, tlm__error_group_json(&rows[i]));
    tlm__error_groups_free(rows, n);
    if (more) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%lu", off + lim);
        cJSON_AddStringToObject(o, "next_cursor", buf);
    } else {
        cJSON_AddNullToObject(o, "next_cursor");
    }
    return tlm__api_reply(call, MHD_HTTP_OK, o);
}

enum MHD_Result
tlm__errors_get(struct tlm__api_call *call)
{
    struct tlm__group_detail d;
    int64_t now = tlm__api_now_ms();
    int st = tlm__store_error_group_get(call->api->store, call->id, now, &d);
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such error group", NULL);
    if (st != 0)
        return tlm__api_store_error(call);
    cJSON *o = tlm__error_group_json(&d.group);
    cJSON *m = cJSON_AddArrayToObject(o, "minutes");
    for (size_t i = 0; m != NULL && i < d.n_minutes; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(
            x, "minute", tlm__api_time(d.minutes[i].minute_ms));
        cJSON_AddNumberToObject(x, "events", round3(d.minutes[i].events));
        cJSON_AddItemToArray(m, x);
    }
    cJSON *s = cJSON_AddArrayToObject(o, "samples");
    for (size_t i = 0; s != NULL && i < d.n_samples; i++) {
        cJSON *ev = cJSON_Parse(d.samples[i]);
        if (ev != NULL)
            cJSON_AddItemToArray(s, ev);
    }
    cJSON *a = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; a != NULL && i < d.n_alerts; i++)
        cJSON_AddItemToArray(a, tlm__alert_json(&d.alerts[i]));
    tlm__group_detail_free(&d);
    return tlm__api_reply(call, MHD_HTTP_OK, o);
}

enum MHD_Result
tlm__errors_status(struct tlm__api_call *call)
{
    bool bad = false;
    const char *status = tlm__api_string(call->body, "status", 16, true, &bad);
    if (bad
        || (strcmp(status, "resolved") != 0 && strcmp(status, "ignored") != 0
            && strcmp(status, "unresolved") != 0))
        return tlm__api_error(call, MHD_HTTP_BAD_REQUEST,
            "status: expected resolved, ignored or unresolved", "status");
    int st = tlm__store_error_group_set_status(
        call->api->store, call->id, status, tlm__api_now_ms());
    if (st == TLM_FR_NOT_FOUND)
        return tlm__api_error(
            call, MHD_HTTP_NOT_FOUND, "no such error group", NULL);
    if (st != 0)
        return tlm__api_store_error(call);
    return tlm__errors_get(call);
}
