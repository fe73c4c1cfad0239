/* Dashboard route: validates the range and environment, asks the store for
 * weighted aggregates and renders them. Counts are estimates (each event
 * weighs 1/sample_rate) rounded to integers only at output. */
#include "analytics.h"

#include "api.h"
#include "config_analytics.h"

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

#define TIER_MAX 256
#define ENDPOINT_MAX 1024

int
tlm__analytics_parse_query(const char *from, const char *to, const char *env,
    int64_t now, struct tlm__dash_query *q, const char **err)
{
    /* to is exclusive: by default it ends just after the current
     * millisecond, so what arrived in it is counted. */
    q->to_ms = now + 1;
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
    if (q->tier != NULL && strlen(q->tier) > TIER_MAX) {
        *err = "tier: at most 256 bytes";
        return -1;
    }
    if (q->endpoint != NULL
        && (q->endpoint[0] == '\0' || strlen(q->endpoint) > ENDPOINT_MAX)) {
        *err = "endpoint: 1..1024 bytes";
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
        || cJSON_AddStringToObject(o, "environment", q->environment) == NULL
        || (q->tier != NULL ? cJSON_AddStringToObject(o, "tier", q->tier)
                            : cJSON_AddNullToObject(o, "tier"))
            == NULL
        || (q->endpoint != NULL
                   ? cJSON_AddStringToObject(o, "endpoint", q->endpoint)
                   : cJSON_AddNullToObject(o, "endpoint"))
            == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *
group_json(const struct tlm__feedback_group *g, const char *key)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, key, g->name) == NULL
        || cJSON_AddNumberToObject(o, "count", g->count) == NULL
        || cJSON_AddNumberToObject(
               o, "mean_sentiment", round(g->mean_sentiment * 1000) / 1000)
            == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Feedback volume, sentiment, categories, targets (the feature or
 * endpoint a feedback names) and weekly trends per category. */
static cJSON *
feedback_json(const struct tlm__feedback_summary *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *s, *a;
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "volume", f->total);
    cJSON_AddNumberToObject(
        o, "mean_sentiment", round(f->mean_sentiment * 1000) / 1000);
    s = cJSON_AddObjectToObject(o, "sentiment");
    if (s != NULL) {
        cJSON_AddNumberToObject(s, "negative", f->negative);
        cJSON_AddNumberToObject(s, "neutral", f->neutral);
        cJSON_AddNumberToObject(s, "positive", f->positive);
    }
    a = cJSON_AddArrayToObject(o, "categories");
    for (size_t i = 0; a != NULL && i < f->n_categories; i++)
        cJSON_AddItemToArray(a, group_json(&f->categories[i], "category"));
    a = cJSON_AddArrayToObject(o, "targets");
    for (size_t i = 0; a != NULL && i < f->n_targets; i++)
        cJSON_AddItemToArray(a, group_json(&f->targets[i], "target"));
    a = cJSON_AddArrayToObject(o, "trends");
    for (size_t i = 0; a != NULL && i < f->n_trends; i++) {
        const struct tlm__feedback_trend *t = &f->trends[i];
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            break;
        cJSON_AddStringToObject(e, "week", t->week);
        cJSON_AddStringToObject(e, "category", t->category);
        cJSON_AddNumberToObject(e, "count", t->count);
        cJSON_AddNumberToObject(
            e, "mean_sentiment", round(t->mean_sentiment * 1000) / 1000);
        cJSON_AddItemToArray(a, e);
    }
    return o;
}

/* The top error groups by priority and the alerts raised in the range:
 * best effort, null when the store cannot answer. */
static cJSON *
errors_json(struct tlm__store *st, const struct tlm__dash_query *q)
{
    struct tlm__group_query gq = {
        .environment = q->environment,
        .impact = -1,
        .sort = TLM_GROUP_SORT_PRIORITY,
        .limit = 5,
        .now_ms = q->to_ms,
    };
    struct tlm__error_group *groups = NULL;
    struct tlm__alert_row *alerts = NULL;
    size_t ng = 0, na = 0;
    bool more;
    cJSON *o, *a;
    if (tlm__store_error_groups_list(st, &gq, &groups, &ng, &more) != 0)
        return cJSON_CreateNull();
    if (tlm__store_alerts_recent(
            st, q->from_ms, q->to_ms, q->environment, 20, &alerts, &na)
        != 0) {
        tlm__error_groups_free(groups, ng);
        return cJSON_CreateNull();
    }
    o = cJSON_CreateObject();
    a = cJSON_AddArrayToObject(o, "top_groups");
    for (size_t i = 0; a != NULL && i < ng; i++)
        cJSON_AddItemToArray(a, tlm__error_group_json(&groups[i]));
    a = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; a != NULL && i < na; i++) {
        cJSON *x = tlm__alert_json(&alerts[i].alert);
        if (x == NULL)
            continue;
        cJSON_AddStringToObject(x, "group_id", alerts[i].group_id);
        cJSON_AddStringToObject(x, "title", alerts[i].title);
        cJSON_AddItemToArray(a, x);
    }
    tlm__error_groups_free(groups, ng);
    tlm__alert_rows_free(alerts, na);
    return o;
}

static cJSON *
sequences_json(const struct tlm__workflow_seq *s, size_t n, int len, bool p)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON *steps = cJSON_AddArrayToObject(o, "sequence");
        for (int k = 0; k < len; k++)
            cJSON_AddItemToArray(steps,
                cJSON_CreateString(s[i].step[k] != NULL ? s[i].step[k] : ""));
        cJSON_AddNumberToObject(o, "count", s[i].count);
        if (p)
            cJSON_AddNumberToObject(
                o, "probability", round(s[i].probability * 10000) / 10000);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* Sessions (30 minutes of silence end one) and the most frequent endpoint
 * pairs (with the transition probability) and triples, over the whole
 * days the range touches; null when the store cannot answer. */
static cJSON *
workflows_json(struct tlm__store *st, const struct tlm__dash_query *q)
{
    struct tlm__workflow_result w;
    if (tlm__store_workflows(st, q->from_ms, q->to_ms, q->environment, &w) != 0)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sessions", w.sessions);
    cJSON_AddItemToObject(
        o, "sequences2", sequences_json(w.pairs, w.n_pairs, 2, false));
    cJSON_AddItemToObject(
        o, "sequences3", sequences_json(w.triples, w.n_triples, 3, false));
    cJSON *t = sequences_json(w.pairs, w.n_pairs, 2, true);
    cJSON *e;
    cJSON_ArrayForEach(e, t)
    {
        cJSON *seq = cJSON_DetachItemFromObject(e, "sequence");
        cJSON_AddItemToObject(
            e, "from", cJSON_Duplicate(cJSON_GetArrayItem(seq, 0), true));
        cJSON_AddItemToObject(
            e, "to", cJSON_Duplicate(cJSON_GetArrayItem(seq, 1), true));
        cJSON_Delete(seq);
    }
    cJSON_AddItemToObject(o, "transitions", t);
    tlm__workflow_result_free(&w);
    return o;
}

static cJSON *
requests_json(const struct tlm__feedback_summary *f)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "new", f->requests_new);
    cJSON_AddNumberToObject(o, "votes", f->votes);
    cJSON_AddNumberToObject(o, "status_changes", f->status_changes);
    return o;
}

static cJSON *
totals_json(
    const struct tlm__dash_result *r, const struct tlm__feedback_summary *f)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL
        || cJSON_AddNumberToObject(
               o, "events", tlm__json_round_count(r->events))
            == NULL
        || cJSON_AddNumberToObject(
               o, "errors", tlm__json_round_count(r->errors))
            == NULL
        || cJSON_AddNumberToObject(o, "feedback", f != NULL ? f->total : 0)
            == NULL
        || cJSON_AddNumberToObject(
               o, "feature_requests", f != NULL ? f->requests_new : 0)
            == NULL) {
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
    cJSON *health = keys != NULL ? cJSON_AddArrayToObject(o, "health") : NULL;
    for (size_t i = 0; health != NULL && i < r->n_sdks; i++) {
        const struct tlm__dash_sdk_health *h = &r->sdks[i];
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddItemToArray(health, e)
            || cJSON_AddStringToObject(e, "sdk_version", h->sdk_version) == NULL
            || cJSON_AddNumberToObject(e, "batches", h->batches) == NULL
            || cJSON_AddNumberToObject(e, "dropped", h->dropped) == NULL
            || cJSON_AddNumberToObject(e, "retried", h->retried) == NULL
            || cJSON_AddNumberToObject(e, "spooled", h->spooled) == NULL)
            health = NULL;
    }
    if (keys == NULL || health == NULL) {
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

/* The rollup-backed columns of an endpoint: share of requests, trend
 * against the previous window, sparkline. */
static int
endpoint_extra(cJSON *o, const struct tlm__dash_endpoint *e)
{
    cJSON *spark;
    if (cJSON_AddNumberToObject(
            o, "share", floor(e->share * 10000 + 0.5) / 10000)
            == NULL
        || cJSON_AddNumberToObject(o, "previous_requests",
               tlm__json_round_count(e->previous_requests))
            == NULL
        || add_latency(
               o, "trend", e->has_trend, floor(e->trend * 10000 + 0.5) / 10000)
            != 0)
        return -1;
    spark = cJSON_AddArrayToObject(o, "sparkline");
    for (size_t i = 0; spark != NULL && i < TLM_DASH_SPARK; i++) {
        cJSON *n = cJSON_CreateNumber(tlm__json_round_count(e->sparkline[i]));
        if (n == NULL || !cJSON_AddItemToArray(spark, n)) {
            cJSON_Delete(n);
            return -1;
        }
    }
    return spark != NULL ? 0 : -1;
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
        || add_latency(o, "p99_ms", e->has_latency, e->p99_ms) != 0
        || endpoint_extra(o, e) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Three decimals for latencies read from a histogram: finer digits are
 * below its resolution. */
static double
ms3(double v)
{
    return floor(v * 1000 + 0.5) / 1000;
}

static cJSON *
timeseries_json(const struct tlm__dash_result *r)
{
    cJSON *o = cJSON_CreateObject(), *pts;
    if (o == NULL
        || cJSON_AddNumberToObject(o, "bucket_ms", (double)r->bucket_ms) == NULL
        || (pts = cJSON_AddArrayToObject(o, "points")) == NULL)
        goto fail;
    for (size_t i = 0; i < r->n_points; i++) {
        const struct tlm__dash_point *p = &r->points[i];
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddItemToArray(pts, e)
            || cJSON_AddNumberToObject(e, "t", (double)p->t_ms) == NULL
            || cJSON_AddNumberToObject(
                   e, "requests", tlm__json_round_count(p->requests))
                == NULL
            || cJSON_AddNumberToObject(
                   e, "errors", tlm__json_round_count(p->errors))
                == NULL
            || add_latency(e, "p95_ms", p->has_p95, ms3(p->p95_ms)) != 0)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *
groups_json(
    const struct tlm__dash_group *g, size_t n, const char *key, bool with_rate)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        bool has_rate = g[i].requests > 0;
        if (e == NULL || !cJSON_AddItemToArray(a, e)
            || cJSON_AddStringToObject(e, key, g[i].name) == NULL
            || cJSON_AddNumberToObject(
                   e, "requests", tlm__json_round_count(g[i].requests))
                == NULL
            || cJSON_AddNumberToObject(
                   e, "errors", tlm__json_round_count(g[i].errors))
                == NULL
            || (with_rate
                && add_latency(e, "error_rate", has_rate,
                       has_rate ? rate(g[i].errors, g[i].requests) : 0)
                    != 0)) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *
server_json(const struct tlm__dash_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL
        || cJSON_AddNumberToObject(
               o, "events_per_s", floor(r->events_per_s * 1000 + 0.5) / 1000)
            == NULL
        || cJSON_AddNumberToObject(o, "store_bytes", r->store_bytes) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The rollup-backed sections: time series, tiers, environments, the
 * server's own figures. */
static int
add_rollup_sections(cJSON *root, const struct tlm__dash_result *r)
{
    struct {
        const char *key;
        cJSON *v;
    } parts[] = {
        {"timeseries", timeseries_json(r)},
        {"tiers", groups_json(r->tiers, r->n_tiers, "tier", true)},
        {"environments", groups_json(r->envs, r->n_envs, "environment", false)},
        {"server", server_json(r)},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (rc != 0 || parts[i].v == NULL
            || !cJSON_AddItemToObject(root, parts[i].key, parts[i].v)) {
            cJSON_Delete(parts[i].v);
            rc = -1;
        }
    }
    return rc;
}

static char *
render(struct tlm__store *st, const struct tlm__dash_query *q,
    const struct tlm__dash_result *r, const struct tlm__feedback_summary *f)
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
    part = totals_json(r, f);
    if (part == NULL || !cJSON_AddItemToObject(root, "totals", part))
        goto fail;
    if (f != NULL) {
        part = feedback_json(f);
        if (part == NULL || !cJSON_AddItemToObject(root, "feedback", part))
            goto fail;
        part = requests_json(f);
        if (part == NULL
            || !cJSON_AddItemToObject(root, "feature_requests", part))
            goto fail;
    } else if (cJSON_AddNullToObject(root, "feedback") == NULL
        || cJSON_AddNullToObject(root, "feature_requests") == NULL) {
        goto fail;
    }
    part = errors_json(st, q);
    if (part == NULL || !cJSON_AddItemToObject(root, "errors", part))
        goto fail;
    part = workflows_json(st, q);
    if (part == NULL || !cJSON_AddItemToObject(root, "workflows", part))
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
    if (add_rollup_sections(root, r) != 0)
        goto fail;
    return tlm__json_finish(root);
fail:
    cJSON_Delete(part);
    cJSON_Delete(root);
    return NULL;
}

static int
dashboard_with(struct tlm__store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *r, char **json)
{
    struct tlm__feedback_summary f;
    bool has_f;
    if (tlm__store_dashboard(st, q, r) != 0) {
        *json = tlm__json_error_body("storage failure");
        return 500;
    }
    /* The feedback section is best effort: a failure leaves it null. */
    has_f = tlm__store_feedback_summary(
                st, q->from_ms, q->to_ms, q->environment, &f)
        == 0;
    *json = render(st, q, r, has_f ? &f : NULL);
    tlm__dash_result_free(r);
    if (has_f)
        tlm__feedback_summary_free(&f);
    return 200;
}

/* The result (about 70 KB of fixed arrays) lives on the heap, not on an
 * HTTP thread's stack. */
int
tlm__analytics_dashboard_filtered(struct tlm__store *st, const char *from,
    const char *to, const char *environment, const char *tier,
    const char *endpoint, int64_t now_ms, char **json)
{
    struct tlm__dash_query q = {.tier = tier, .endpoint = endpoint};
    struct tlm__dash_result *r;
    const char *err = NULL;
    int status;
    *json = NULL;
    if (tlm__analytics_parse_query(from, to, environment, now_ms, &q, &err)
        != 0) {
        *json = tlm__json_error_body(err);
        return 400;
    }
    r = malloc(sizeof(*r));
    if (r == NULL) {
        *json = tlm__json_error_body("out of memory");
        return 500;
    }
    status = dashboard_with(st, &q, r, json);
    free(r);
    return status;
}

int
tlm__analytics_dashboard(struct tlm__store *st, const char *from,
    const char *to, const char *environment, int64_t now_ms, char **json)
{
    return tlm__analytics_dashboard_filtered(
        st, from, to, environment, NULL, NULL, now_ms, json);
}

/* Appends "real_time": {"enabled", "refresh_seconds"} (the page's live
 * refresh, analytics.real_time_dashboard_enabled) to the document's
 * members; json is an object as tlm__json_finish wrote it. */
static char *
add_real_time(char *json, const struct tlm__analytics_config *a)
{
    char member[96];
    size_t len = json != NULL ? strlen(json) : 0;
    int n = snprintf(member, sizeof(member),
        "%s\"real_time\":{\"enabled\":%s,\"refresh_seconds\":%u}}",
        len > 2 ? "," : "",
        a == NULL || a->real_time_dashboard ? "true" : "false",
        a != NULL ? a->dashboard_refresh_s : TLM_DEFAULT_DASHBOARD_REFRESH_S);
    if (len < 2 || json[len - 1] != '}' || n < 0)
        return json;
    char *out = realloc(json, len + (size_t)n);
    if (out == NULL)
        return json;
    memcpy(out + len - 1, member, (size_t)n + 1);
    return out;
}

enum MHD_Result
tlm__analytics_handle(struct MHD_Connection *c, struct tlm__store *st,
    const struct tlm__analytics_config *a)
{
    char *json = NULL;
    int status = tlm__analytics_dashboard_filtered(st,
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "environment"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tier"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "endpoint"),
        tlm__now_ms(), &json);
    if (status == 200)
        json = add_real_time(json, a);
    return tlm__http_reply(c, (unsigned)status, json);
}
