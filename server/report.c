/* The built-in reports' models: which sections of the dashboard document
 * each report takes, as tables and charts. Works on the JSON document
 * alone and tolerates missing or null sections (empty tables), so a
 * dashboard that gains sections never breaks a report. */
#include "report.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHART_MAX_BARS 12

static const struct tlm__report_info builtins[] = {
    {"usage-summary", "Usage summary",
        "Requests, share and errors per endpoint; totals, tiers and "
        "environments when the dashboard has them."},
    {"endpoint-performance", "Endpoint performance",
        "Per endpoint: requests, errors, error rate and latency "
        "percentiles (p50, p95, p99)."},
    {"errors", "Errors",
        "Top error groups by priority and the alerts raised in the window."},
    {"feedback", "Feedback",
        "Feedback volume, sentiment, categories, targets and weekly trends."},
    {"feature-requests", "Feature requests",
        "New feature requests, votes and status changes in the window."},
};

const struct tlm__report_info *
tlm__report_builtins(size_t *n)
{
    *n = sizeof(builtins) / sizeof(builtins[0]);
    return builtins;
}

const struct tlm__report_info *
tlm__report_find(const char *id)
{
    for (size_t i = 0; id != NULL && i < sizeof(builtins) / sizeof(builtins[0]);
         i++) {
        if (strcmp(builtins[i].id, id) == 0)
            return &builtins[i];
    }
    return NULL;
}

const char *
tlm__report_cell_text(const cJSON *cell, char *buf, size_t size)
{
    if (cJSON_IsString(cell))
        return cell->valuestring;
    if (cJSON_IsBool(cell))
        return cJSON_IsTrue(cell) ? "true" : "false";
    if (!cJSON_IsNumber(cell) || !isfinite(cell->valuedouble)) {
        snprintf(buf, size, "%s", "");
        return buf;
    }
    double v = cell->valuedouble;
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%lld", (long long)v);
        return buf;
    }
    /* As cJSON prints numbers: the shortest of 15 or 17 digits that reads
     * back as the same double, so CSV and JSON agree exactly. */
    snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, size, "%.17g", v);
    return buf;
}

/* The model under construction: ok turns false at the first failed
 * allocation and every later call is a no-op. */
struct builder {
    cJSON *model;
    cJSON *tables;
    cJSON *charts;
    bool ok;
};

static cJSON *
check(struct builder *b, cJSON *item)
{
    if (item == NULL)
        b->ok = false;
    return item;
}

/* A copy of o[key] as a cell: numbers, strings and booleans as they are,
 * anything else null. */
static cJSON *
cell(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v))
        return cJSON_CreateNumber(v->valuedouble);
    if (cJSON_IsString(v))
        return cJSON_CreateString(v->valuestring);
    if (cJSON_IsBool(v))
        return cJSON_CreateBool(cJSON_IsTrue(v));
    return cJSON_CreateNull();
}

static void
push(struct builder *b, cJSON *array, cJSON *item)
{
    if (item == NULL || array == NULL || !cJSON_AddItemToArray(array, item)) {
        cJSON_Delete(item);
        b->ok = false;
    }
}

static void
put(struct builder *b, cJSON *o, const char *key, cJSON *item)
{
    if (item == NULL || o == NULL || !cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        b->ok = false;
    }
}

/* Adds a table with these columns (NULL-terminated); returns its rows. */
static cJSON *
table(struct builder *b, const char *name, const char *const *columns)
{
    cJSON *t = cJSON_CreateObject();
    cJSON *cols;
    push(b, b->tables, t);
    if (!b->ok)
        return NULL;
    check(b, cJSON_AddStringToObject(t, "name", name));
    cols = check(b, cJSON_AddArrayToObject(t, "columns"));
    for (size_t i = 0; cols != NULL && columns[i] != NULL; i++)
        push(b, cols, cJSON_CreateString(columns[i]));
    return check(b, cJSON_AddArrayToObject(t, "rows"));
}

/* One row of o's members named by columns. */
static void
row_of(
    struct builder *b, cJSON *rows, const cJSON *o, const char *const *columns)
{
    cJSON *r = cJSON_CreateArray();
    push(b, rows, r);
    for (size_t i = 0; b->ok && columns[i] != NULL; i++)
        push(b, r, cell(o, columns[i]));
}

/* A two-column (metric, value) row. */
static void
metric_row(struct builder *b, cJSON *rows, const cJSON *o, const char *key)
{
    cJSON *r = cJSON_CreateArray();
    push(b, rows, r);
    if (b->ok)
        push(b, r, cJSON_CreateString(key));
    if (b->ok)
        push(b, r, cell(o, key));
}

static void
table_of(struct builder *b, const char *name, const cJSON *items,
    const char *const *columns)
{
    cJSON *rows = table(b, name, columns);
    const cJSON *o;
    cJSON_ArrayForEach(o, items)
    {
        if (b->ok && cJSON_IsObject(o))
            row_of(b, rows, o, columns);
    }
}

/* A table of an array of flat objects whose shape this file does not know
 * yet (sections the dashboard may gain): the first object's scalar
 * members are the columns. */
static void
table_generic(struct builder *b, const char *name, const cJSON *items)
{
    const char *cols[16];
    size_t n = 0;
    const cJSON *first = cJSON_GetArrayItem(items, 0);
    const cJSON *m;
    if (!cJSON_IsObject(first))
        return;
    cJSON_ArrayForEach(m, first)
    {
        if (n + 1 < sizeof(cols) / sizeof(cols[0])
            && (cJSON_IsNumber(m) || cJSON_IsString(m) || cJSON_IsBool(m)
                || cJSON_IsNull(m)))
            cols[n++] = m->string;
    }
    cols[n] = NULL;
    if (n > 0)
        table_of(b, name, items, cols);
}

struct bar {
    const char *label;
    double value;
};

static int
bar_cmp(const void *a, const void *b)
{
    double x = ((const struct bar *)a)->value;
    double y = ((const struct bar *)b)->value;
    return x < y ? 1 : x > y ? -1 : 0;
}

static cJSON *
chart(struct builder *b, const char *title, const char *kind, cJSON **labels,
    cJSON **values)
{
    cJSON *c = cJSON_CreateObject();
    push(b, b->charts, c);
    if (!b->ok)
        return NULL;
    check(b, cJSON_AddStringToObject(c, "title", title));
    check(b, cJSON_AddStringToObject(c, "kind", kind));
    *labels = check(b, cJSON_AddArrayToObject(c, "labels"));
    *values = check(b, cJSON_AddArrayToObject(c, "values"));
    return b->ok ? c : NULL;
}

/* A bar chart of items' value_key by label_key, the largest first, at
 * most CHART_MAX_BARS; items without a number are left out. */
static void
bar_chart(struct builder *b, const char *title, const cJSON *items,
    const char *label_key, const char *value_key)
{
    struct bar bars[64] = {{0}};
    size_t n = 0;
    const cJSON *o;
    cJSON *labels, *values;
    cJSON_ArrayForEach(o, items)
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, label_key);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, value_key);
        if (n < sizeof(bars) / sizeof(bars[0]) && cJSON_IsString(l)
            && cJSON_IsNumber(v))
            bars[n++] = (struct bar) {l->valuestring, v->valuedouble};
    }
    if (n > 1)
        qsort(bars, n, sizeof(bars[0]), bar_cmp);
    if (chart(b, title, "bar", &labels, &values) == NULL)
        return;
    for (size_t i = 0; b->ok && i < n && i < CHART_MAX_BARS; i++) {
        push(b, labels, cJSON_CreateString(bars[i].label));
        push(b, values, cJSON_CreateNumber(bars[i].value));
    }
}

/* The dashboard's request time series when it has one (a "time_series"
 * or "timeseries" array of objects with a time text and a "requests",
 * "count" or "events" number): a line chart. */
static void
series_chart(struct builder *b, const cJSON *dash)
{
    static const char *const value_keys[] = {"requests", "count", "events"};
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(dash, "time_series");
    const cJSON *o;
    cJSON *labels, *values;
    if (!cJSON_IsArray(ts))
        ts = cJSON_GetObjectItemCaseSensitive(dash, "timeseries");
    if (!cJSON_IsArray(ts) || cJSON_GetArraySize(ts) < 2)
        return;
    if (chart(b, "Requests over time", "line", &labels, &values) == NULL)
        return;
    cJSON_ArrayForEach(o, ts)
    {
        const cJSON *label = NULL, *value = NULL, *m;
        cJSON_ArrayForEach(m, o)
        {
            if (label == NULL && cJSON_IsString(m))
                label = m;
        }
        for (size_t k = 0; value == NULL && k < 3; k++) {
            value = cJSON_GetObjectItemCaseSensitive(o, value_keys[k]);
            if (!cJSON_IsNumber(value))
                value = NULL;
        }
        if (label == NULL || value == NULL || !b->ok)
            continue;
        push(b, labels, cJSON_CreateString(label->valuestring));
        push(b, values, cJSON_CreateNumber(value->valuedouble));
    }
}

static const cJSON *
section(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static void
usage_summary(struct builder *b, const cJSON *dash)
{
    static const char *const cols[]
        = {"endpoint", "requests", "share", "errors", "error_rate", NULL};
    static const char *const totals[]
        = {"events", "errors", "feedback", "feature_requests"};
    const cJSON *eps = section(dash, "endpoints");
    const cJSON *o;
    double sum = 0;
    cJSON *rows = table(b, "endpoints", cols);
    cJSON_ArrayForEach(o, eps)
    {
        const cJSON *r = section(o, "requests");
        sum += cJSON_IsNumber(r) ? r->valuedouble : 0;
    }
    cJSON_ArrayForEach(o, eps)
    {
        /* share: the dashboard's when it has one, else of the requests
         * listed, four decimals like the error rates. */
        const cJSON *sh = section(o, "share");
        const cJSON *r = section(o, "requests");
        cJSON *row = cJSON_CreateArray();
        push(b, rows, row);
        if (!b->ok)
            break;
        push(b, row, cell(o, "endpoint"));
        push(b, row, cell(o, "requests"));
        if (cJSON_IsNumber(sh))
            push(b, row, cJSON_CreateNumber(sh->valuedouble));
        else if (sum > 0 && cJSON_IsNumber(r))
            push(b, row,
                cJSON_CreateNumber(
                    floor(r->valuedouble / sum * 10000 + 0.5) / 10000));
        else
            push(b, row, cJSON_CreateNull());
        push(b, row, cell(o, "errors"));
        push(b, row, cell(o, "error_rate"));
    }
    rows = table(b, "totals", (const char *const[]) {"metric", "value", NULL});
    for (size_t i = 0; b->ok && i < sizeof(totals) / sizeof(totals[0]); i++)
        metric_row(b, rows, section(dash, "totals"), totals[i]);
    if (cJSON_IsArray(section(dash, "tiers")))
        table_generic(b, "tiers", section(dash, "tiers"));
    if (cJSON_IsArray(section(dash, "environments")))
        table_generic(b, "environments", section(dash, "environments"));
    bar_chart(b, "Requests per endpoint", eps, "endpoint", "requests");
    series_chart(b, dash);
}

static void
endpoint_performance(struct builder *b, const cJSON *dash)
{
    static const char *const cols[] = {"endpoint", "requests", "errors",
        "error_rate", "p50_ms", "p95_ms", "p99_ms", NULL};
    static const char *const with_trend[] = {"endpoint", "requests", "trend",
        "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms", NULL};
    const cJSON *eps = section(dash, "endpoints");
    bool trend = section(cJSON_GetArrayItem(eps, 0), "trend") != NULL;
    table_of(b, "endpoints", eps, trend ? with_trend : cols);
    bar_chart(b, "p95 latency per endpoint (ms)", eps, "endpoint", "p95_ms");
    bar_chart(b, "Requests per endpoint", eps, "endpoint", "requests");
}

static void
errors(struct builder *b, const cJSON *dash)
{
    static const char *const cols[]
        = {"id", "title", "status", "impact", "events", "events_24h",
            "users_affected", "first_seen", "last_seen", NULL};
    const cJSON *e = section(dash, "errors");
    const cJSON *groups = section(e, "top_groups");
    const cJSON *alerts = section(e, "alerts");
    table_of(b, "error_groups", groups, cols);
    if (cJSON_GetArraySize(alerts) > 0)
        table_generic(b, "alerts", alerts);
    else
        table(b, "alerts",
            (const char *const[]) {"group_id", "title", "level", NULL});
    bar_chart(b, "Events per error group", groups, "title", "events");
}

static void
feedback(struct builder *b, const cJSON *dash)
{
    static const char *const groups[]
        = {"category", "count", "mean_sentiment", NULL};
    static const char *const targets[]
        = {"target", "count", "mean_sentiment", NULL};
    static const char *const trends[]
        = {"week", "category", "count", "mean_sentiment", NULL};
    static const char *const labels[] = {"negative", "neutral", "positive"};
    const cJSON *f = section(dash, "feedback");
    const cJSON *sent = section(f, "sentiment");
    cJSON *rows, *l, *v;
    table_of(b, "categories", section(f, "categories"), groups);
    rows = table(b, "summary", (const char *const[]) {"metric", "value", NULL});
    if (b->ok)
        metric_row(b, rows, f, "volume");
    if (b->ok)
        metric_row(b, rows, f, "mean_sentiment");
    rows = table(
        b, "sentiment", (const char *const[]) {"sentiment", "count", NULL});
    for (size_t i = 0; b->ok && i < 3; i++)
        metric_row(b, rows, sent, labels[i]);
    table_of(b, "targets", section(f, "targets"), targets);
    table_of(b, "trends", section(f, "trends"), trends);
    bar_chart(b, "Feedback per category", section(f, "categories"), "category",
        "count");
    if (chart(b, "Feedback by sentiment", "bar", &l, &v) == NULL)
        return;
    for (size_t i = 0; b->ok && i < 3; i++) {
        const cJSON *n = section(sent, labels[i]);
        push(b, l, cJSON_CreateString(labels[i]));
        push(b, v, cJSON_CreateNumber(cJSON_IsNumber(n) ? n->valuedouble : 0));
    }
}

static void
feature_requests(struct builder *b, const cJSON *dash)
{
    static const char *const keys[] = {"new", "votes", "status_changes"};
    const cJSON *fr = section(dash, "feature_requests");
    cJSON *rows, *l, *v;
    rows = table(b, "summary", (const char *const[]) {"metric", "value", NULL});
    for (size_t i = 0; b->ok && i < 3; i++)
        metric_row(b, rows, fr, keys[i]);
    if (cJSON_IsArray(section(fr, "top")))
        table_generic(b, "top", section(fr, "top"));
    if (chart(b, "Feature requests in the window", "bar", &l, &v) == NULL)
        return;
    for (size_t i = 0; b->ok && i < 3; i++) {
        const cJSON *n = section(fr, keys[i]);
        push(b, l, cJSON_CreateString(keys[i]));
        push(b, v, cJSON_CreateNumber(cJSON_IsNumber(n) ? n->valuedouble : 0));
    }
}

/* The window: the dashboard's range, and the tier and endpoint filters;
 * those the dashboard's range does not echo were not applied, and are
 * listed as such rather than silently dropped. */
static void
window(
    struct builder *b, const cJSON *dash, const struct tlm__report_filters *f)
{
    const cJSON *range = section(dash, "range");
    cJSON *w = check(b, cJSON_AddObjectToObject(b->model, "window"));
    cJSON *unapplied = NULL;
    const char *names[] = {"tier", "endpoint"};
    const char *values[]
        = {f != NULL ? f->tier : NULL, f != NULL ? f->endpoint : NULL};
    if (w == NULL)
        return;
    put(b, w, "from", cell(range, "from"));
    put(b, w, "to", cell(range, "to"));
    put(b, w, "environment", cell(range, "environment"));
    for (size_t i = 0; b->ok && i < 2; i++) {
        put(b, w, names[i],
            values[i] != NULL ? cJSON_CreateString(values[i])
                              : cJSON_CreateNull());
        if (values[i] == NULL || section(range, names[i]) != NULL)
            continue;
        if (unapplied == NULL)
            unapplied = check(b, cJSON_AddArrayToObject(w, "not_applied"));
        push(b, unapplied, cJSON_CreateString(names[i]));
    }
}

cJSON *
tlm__report_build(const struct tlm__report_info *info, const cJSON *dash,
    const struct tlm__report_filters *filters)
{
    struct builder b = {.model = cJSON_CreateObject(), .ok = true};
    if (b.model == NULL || info == NULL)
        goto fail;
    check(&b, cJSON_AddStringToObject(b.model, "id", info->id));
    check(&b, cJSON_AddStringToObject(b.model, "title", info->title));
    window(&b, dash, filters);
    b.tables = check(&b, cJSON_AddArrayToObject(b.model, "tables"));
    b.charts = check(&b, cJSON_AddArrayToObject(b.model, "charts"));
    if (!b.ok)
        goto fail;
    if (strcmp(info->id, "usage-summary") == 0)
        usage_summary(&b, dash);
    else if (strcmp(info->id, "endpoint-performance") == 0)
        endpoint_performance(&b, dash);
    else if (strcmp(info->id, "errors") == 0)
        errors(&b, dash);
    else if (strcmp(info->id, "feedback") == 0)
        feedback(&b, dash);
    else
        feature_requests(&b, dash);
    if (!b.ok)
        goto fail;
    return b.model;
fail:
    cJSON_Delete(b.model);
    return NULL;
}
