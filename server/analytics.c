/* Dashboard route: validates the range and environment, asks the store for
 * weighted aggregates and renders them. Counts are estimates (each event
 * weighs 1/sample_rate) rounded to integers only at output. */
#include "analytics.h"

#include "http.h"
#include "json_util.h"
#include "rfc3339.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
tlm__analytics_parse_time(const char *s, int64_t *ms)
{
    size_t len = strlen(s);
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (len > 0 && i == len && len <= 15) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *ms = v;
        return 0;
    }
    return tlm__rfc3339_parse(s, len, ms);
}

static int
parse_query(const char *from, const char *to, const char *env, int64_t now,
    struct tlm__dash_query *q, const char **err)
{
    q->to_ms = now;
    q->environment = env != NULL ? env : "production";
    q->max_endpoints = TLM_DASH_MAX_ENDPOINTS;
    if (to != NULL && tlm__analytics_parse_time(to, &q->to_ms) != 0) {
        *err = "to: expected RFC 3339 timestamp or epoch milliseconds";
        return -1;
    }
    q->from_ms = q->to_ms - TLM_DASH_DEFAULT_SPAN_MS;
    if (from != NULL && tlm__analytics_parse_time(from, &q->from_ms) != 0) {
        *err = "from: expected RFC 3339 timestamp or epoch milliseconds";
        return -1;
    }
    if (q->from_ms >= q->to_ms) {
        *err = "from: must be before to";
        return -1;
    }
    if (strcmp(q->environment, "production") != 0
        && strcmp(q->environment, "sandbox") != 0) {
        *err = "environment: expected \"production\" or \"sandbox\"";
        return -1;
    }
    return 0;
}

static cJSON *
range_json(const struct tlm__dash_query *q)
{
    char from[TLM_RFC3339_BUF], to[TLM_RFC3339_BUF];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (tlm__rfc3339_format(q->from_ms, from, sizeof(from)) != 0)
        snprintf(from, sizeof(from), "%lld", (long long)q->from_ms);
    if (tlm__rfc3339_format(q->to_ms, to, sizeof(to)) != 0)
        snprintf(to, sizeof(to), "%lld", (long long)q->to_ms);
    if (cJSON_AddStringToObject(o, "from", from) == NULL
        || cJSON_AddStringToObject(o, "to", to) == NULL
        || cJSON_AddStringToObject(o, "environment", q->environment) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *
totals_json(const struct tlm__dash_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL
        || cJSON_AddNumberToObject(
               o, "events", tlm__json_round_count(r->events))
            == NULL
        || cJSON_AddNumberToObject(
               o, "errors", tlm__json_round_count(r->errors))
            == NULL
        || cJSON_AddNumberToObject(o, "feedback", 0) == NULL
        || cJSON_AddNumberToObject(o, "feature_requests", 0) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* What the SDKs said about their privacy layer (the batch privacy blocks):
 * a client sending raw ids or unscrubbed strings shows up here. */
static cJSON *
sdk_json(const struct tlm__dash_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddNumberToObject(o, "batches", r->batches) == NULL
        || cJSON_AddNumberToObject(
               o, "unanonymized_batches", r->unanonymized_batches)
            == NULL
        || cJSON_AddNumberToObject(
               o, "unscrubbed_batches", r->unscrubbed_batches)
            == NULL
        || cJSON_AddNumberToObject(o, "server_scrubbed", r->server_scrubbed)
            == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON *keys = cJSON_AddArrayToObject(o, "scrubbed_by_key");
    for (size_t i = 0; keys != NULL && i < r->n_scrub_keys; i++) {
        const struct tlm__dash_key_scrubs *k = &r->scrub_keys[i];
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddItemToArray(keys, e)
            || cJSON_AddStringToObject(e, "key_id", k->key_id) == NULL
            || cJSON_AddNumberToObject(e, "batches", k->batches) == NULL
            || cJSON_AddNumberToObject(e, "replacements", k->replacements)
                == NULL)
            keys = NULL;
    }
    if (keys == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int
add_latency(cJSON *o, const char *key, bool has, double v)
{
    return (has ? cJSON_AddNumberToObject(o, key, v)
                : cJSON_AddNullToObject(o, key))
            == NULL
        ? -1
        : 0;
}

/* Four decimals: the inputs are estimates, more digits would be noise. */
static double
rate(double errors, double requests)
{
    return floor(errors / requests * 10000 + 0.5) / 10000;
}

static cJSON *
endpoint_json(const struct tlm__dash_endpoint *e)
{
    cJSON *o = cJSON_CreateObject();
    bool has_rate = e->requests > 0;
    if (o == NULL || cJSON_AddStringToObject(o, "endpoint", e->endpoint) == NULL
        || cJSON_AddNumberToObject(
               o, "requests", tlm__json_round_count(e->requests))
            == NULL
        || cJSON_AddNumberToObject(
               o, "errors", tlm__json_round_count(e->errors))
            == NULL
        || add_latency(o, "error_rate", has_rate,
               has_rate ? rate(e->errors, e->requests) : 0)
            != 0
        || add_latency(o, "p50_ms", e->has_latency, e->p50_ms) != 0
        || add_latency(o, "p95_ms", e->has_latency, e->p95_ms) != 0
        || add_latency(o, "p99_ms", e->has_latency, e->p99_ms) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static char *
render(const struct tlm__dash_query *q, const struct tlm__dash_result *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *part = NULL;
    cJSON *arr;
    if (root == NULL)
        return NULL;
    part = range_json(q);
    if (part == NULL || !cJSON_AddItemToObject(root, "range", part))
        goto fail;
    part = NULL; /* owned by root from here on */
    part = totals_json(r);
    if (part == NULL || !cJSON_AddItemToObject(root, "totals", part))
        goto fail;
    part = sdk_json(r);
    if (part == NULL || !cJSON_AddItemToObject(root, "sdk", part))
        goto fail;
    part = NULL;
    arr = cJSON_AddArrayToObject(root, "endpoints");
    if (arr == NULL)
        goto fail;
    for (size_t i = 0; i < r->n_endpoints; i++) {
        part = endpoint_json(&r->endpoints[i]);
        if (part == NULL || !cJSON_AddItemToArray(arr, part))
            goto fail;
        part = NULL;
    }
    return tlm__json_finish(root);
fail:
    cJSON_Delete(part);
    cJSON_Delete(root);
    return NULL;
}

int
tlm__analytics_dashboard(struct tlm__store *st, const char *from,
    const char *to, const char *environment, int64_t now_ms, char **json)
{
    struct tlm__dash_query q;
    struct tlm__dash_result r;
    const char *err = NULL;
    *json = NULL;
    if (parse_query(from, to, environment, now_ms, &q, &err) != 0) {
        *json = tlm__json_error_body(err);
        return 400;
    }
    if (tlm__store_dashboard(st, &q, &r) != 0) {
        *json = tlm__json_error_body("storage failure");
        return 500;
    }
    *json = render(&q, &r);
    tlm__dash_result_free(&r);
    return 200;
}

enum MHD_Result
tlm__analytics_handle(struct MHD_Connection *c, struct tlm__store *st)
{
    char *json = NULL;
    int status = tlm__analytics_dashboard(st,
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "environment"),
        tlm__now_ms(), &json);
    return tlm__http_reply(c, (unsigned)status, json);
}
