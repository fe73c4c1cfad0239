/* Anomalies and forecasts over rollup series (insights.h). The series of
 * one endpoint is the store's dashboard timeseries with that endpoint as
 * its filter, so both stores answer it from their rollups. Pure
 * computation around the store: no HTTP here (insights_route.c). */
#include "insights.h"

#include "anomaly.h"
#include "forecast.h"
#include "json_util.h"
#include "rfc3339.h"
#include "rollup.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_HISTORY_MS (6 * TLM_ROLLUP_HOUR_MS)
#define HOUR_HISTORY_MS (14 * TLM_ROLLUP_DAY_MS)
/* The builder answers hour buckets up to 60 days (rollup.c). */
#define HOUR_SCAN_MAX_MS (60 * TLM_ROLLUP_DAY_MS - TLM_ROLLUP_HOUR_MS)
#define FORECAST_HISTORY_MS (28 * TLM_ROLLUP_DAY_MS)
#define WEEK_HOURS 168
#define DAY_HOURS 24

static int64_t
floor_to(int64_t t, int64_t step)
{
    int64_t r = t % step;
    return r < 0 ? t - r - step : t - r;
}

static cJSON *
time_item(int64_t ms)
{
    char buf[TLM_RFC3339_BUF];
    tlm__rfc3339_format(ms, buf, sizeof(buf));
    return cJSON_CreateString(buf);
}

static bool
add_time(cJSON *o, const char *name, int64_t ms)
{
    cJSON *t = time_item(ms);
    return t != NULL && cJSON_AddItemToObject(o, name, t);
}

/* A finite number rounded to 3 decimals (JSON has no NaN). */
static double
num(double v)
{
    return isfinite(v) ? round(v * 1000) / 1000 : 0;
}

/* The names of the top endpoints of q's window, or q->endpoint alone.
 * *names is malloc'ed, each string too. */
static int
top_endpoints(struct tlm__store *st, const struct tlm__dash_query *q,
    size_t top, char ***names, size_t *n)
{
    struct tlm__dash_query tq = *q;
    struct tlm__dash_result *r;
    int rc = -1;
    *names = NULL;
    *n = 0;
    if (q->endpoint != NULL) {
        *names = calloc(1, sizeof(**names));
        if (*names == NULL || ((*names)[0] = strdup(q->endpoint)) == NULL)
            goto fail;
        *n = 1;
        return 0;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    tq.max_endpoints = top;
    if (tlm__store_dashboard(st, &tq, r) == 0) {
        *names = calloc(r->n_endpoints + 1, sizeof(**names));
        rc = *names != NULL ? 0 : -1;
        for (size_t i = 0; rc == 0 && i < r->n_endpoints && i < top; i++) {
            if (r->endpoints[i].requests <= 0)
                continue;
            (*names)[*n] = strdup(r->endpoints[i].endpoint);
            if ((*names)[*n] == NULL)
                rc = -1;
            else
                (*n)++;
        }
        tlm__dash_result_free(r);
    }
    free(r);
    if (rc == 0)
        return 0;
fail:
    for (size_t i = 0; *names != NULL && i < *n; i++)
        free((*names)[i]);
    free(*names);
    *names = NULL;
    *n = 0;
    return -1;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

/* One endpoint's timeseries over [from, to) into r (heap: about 70 KB). */
static int
series_of(struct tlm__store *st, const struct tlm__dash_query *q,
    const char *endpoint, int64_t from, int64_t to, struct tlm__dash_result *r)
{
    struct tlm__dash_query sq = *q;
    sq.endpoint = endpoint;
    sq.from_ms = from;
    sq.to_ms = to;
    sq.max_endpoints = 1;
    memset(r, 0, sizeof(*r));
    return tlm__store_dashboard(st, &sq, r);
}

/* The points of r as three metric arrays; points before the endpoint's
 * first request are missing (a new endpoint is not a spike). */
struct metric_arrays {
    double *vol, *rate, *p95, *count;
    bool *miss_vol, *miss_rate, *miss_p95;
    size_t n;
};

static void
arrays_free(struct metric_arrays *a)
{
    free(a->vol);
    free(a->rate);
    free(a->p95);
    free(a->count);
    free(a->miss_vol);
    free(a->miss_rate);
    free(a->miss_p95);
}

static int
arrays_fill(const struct tlm__dash_result *r, struct metric_arrays *a)
{
    size_t n = r->n_points;
    bool seen = false;
    memset(a, 0, sizeof(*a));
    a->n = n;
    if (n == 0)
        return 0;
    a->vol = calloc(n, sizeof(double));
    a->rate = calloc(n, sizeof(double));
    a->p95 = calloc(n, sizeof(double));
    a->count = calloc(n, sizeof(double));
    a->miss_vol = calloc(n, sizeof(bool));
    a->miss_rate = calloc(n, sizeof(bool));
    a->miss_p95 = calloc(n, sizeof(bool));
    if (a->vol == NULL || a->rate == NULL || a->p95 == NULL || a->count == NULL
        || a->miss_vol == NULL || a->miss_rate == NULL || a->miss_p95 == NULL) {
        arrays_free(a);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct tlm__dash_point *p = &r->points[i];
        seen = seen || p->requests > 0;
        a->vol[i] = p->requests;
        a->count[i] = p->requests;
        a->miss_vol[i] = !seen;
        a->miss_rate[i] = p->requests <= 0;
        a->rate[i] = p->requests > 0 ? p->errors / p->requests : 0;
        a->miss_p95[i] = !p->has_p95;
        a->p95[i] = p->has_p95 ? p->p95_ms : 0;
    }
    return 0;
}

static cJSON *
anomaly_json(const char *endpoint, const struct tlm__anomaly *x)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "endpoint", endpoint) == NULL
        || cJSON_AddStringToObject(o, "metric", tlm__metric_name(x->metric))
            == NULL
        || !add_time(o, "start", x->start_ms) || !add_time(o, "end", x->end_ms)
        || cJSON_AddNumberToObject(o, "expected", num(x->expected)) == NULL
        || cJSON_AddNumberToObject(o, "low", num(x->low)) == NULL
        || cJSON_AddNumberToObject(o, "high", num(x->high)) == NULL
        || cJSON_AddNumberToObject(o, "observed", num(x->observed)) == NULL
        || cJSON_AddNumberToObject(o, "severity", num(x->severity)) == NULL
        || cJSON_AddStringToObject(o, "severity_label", x->severity_label)
            == NULL
        || cJSON_AddNumberToObject(
               o, "points_outside", (double)x->points_outside)
            == NULL
        || cJSON_AddBoolToObject(o, "ongoing", x->ongoing) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Detects each metric of one endpoint's series and appends the anomalies
 * that end after from_ms to list. */
static int
detect_endpoint(const char *endpoint, const struct tlm__dash_result *r,
    int64_t from_ms, cJSON *list)
{
    struct metric_arrays a;
    int rc = 0;
    if (arrays_fill(r, &a) != 0)
        return -1;
    const struct {
        enum tlm__metric m;
        const double *v;
        const bool *miss;
    } metrics[] = {
        {TLM_METRIC_VOLUME, a.vol, a.miss_vol},
        {TLM_METRIC_ERROR_RATE, a.rate, a.miss_rate},
        {TLM_METRIC_P95, a.p95, a.miss_p95},
    };
    for (size_t k = 0; rc == 0 && a.n > 0 && k < 3; k++) {
        struct tlm__series s = {
            .start_ms = r->points[0].t_ms,
            .step_ms = r->bucket_ms,
            .v = metrics[k].v,
            .n = a.n,
            .missing = metrics[k].miss,
            .count = a.count,
        };
        struct tlm__anomaly *found = NULL;
        size_t n = 0;
        if (tlm__anomalies_detect(&s, metrics[k].m, NULL, &found, &n) != 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (found[i].end_ms <= from_ms)
                continue;
            cJSON *o = anomaly_json(endpoint, &found[i]);
            if (o == NULL || !cJSON_AddItemToArray(list, o)) {
                cJSON_Delete(o);
                rc = -1;
            }
        }
        free(found);
    }
    arrays_free(&a);
    return rc;
}

static int
by_severity(const void *x, const void *y)
{
    const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
    double sa = cJSON_GetObjectItemCaseSensitive(a, "severity")->valuedouble;
    double sb = cJSON_GetObjectItemCaseSensitive(b, "severity")->valuedouble;
    return (sa < sb) - (sa > sb);
}

/* Re-links list's items most severe first. */
static int
sort_by_severity(cJSON *list)
{
    int n = cJSON_GetArraySize(list);
    cJSON **items;
    if (n < 2)
        return 0;
    items = malloc((size_t)n * sizeof(*items));
    if (items == NULL)
        return -1;
    for (int i = n - 1; i >= 0; i--)
        items[i] = cJSON_DetachItemFromArray(list, i);
    qsort(items, (size_t)n, sizeof(*items), by_severity);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(list, items[i]);
    free(items);
    return 0;
}

/* The scan range and resolution for the anomalies of [from, to). */
static void
anomaly_scan(const struct tlm__dash_query *q, int64_t *from, int64_t *step)
{
    int64_t len = q->to_ms - q->from_ms;
    if (len <= TLM_INSIGHTS_MINUTE_SPAN_MS) {
        int64_t room = TLM_INSIGHTS_MINUTE_SPAN_MS - len;
        *from = q->from_ms
            - (room < MINUTE_HISTORY_MS ? room : MINUTE_HISTORY_MS);
        *step = TLM_ROLLUP_MINUTE_MS;
        return;
    }
    *from = q->from_ms - HOUR_HISTORY_MS;
    if (q->to_ms - *from > HOUR_SCAN_MAX_MS)
        *from = q->to_ms - HOUR_SCAN_MAX_MS;
    *step = TLM_ROLLUP_HOUR_MS;
}

static cJSON *
header(const struct tlm__dash_query *q, int64_t scan_from, int64_t step)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL || !add_time(root, "from", q->from_ms)
        || !add_time(root, "to", q->to_ms)
        || cJSON_AddStringToObject(root, "environment", q->environment) == NULL
        || (q->tier != NULL
            && cJSON_AddStringToObject(root, "tier", q->tier) == NULL)
        || !add_time(root, "history_from", scan_from)
        || cJSON_AddNumberToObject(root, "step_ms", (double)step) == NULL) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int
tlm__insights_anomalies(struct tlm__store *st, const struct tlm__dash_query *q,
    size_t top, cJSON **out, const char **err)
{
    struct tlm__dash_result *r = NULL;
    cJSON *root = NULL, *list, *checked;
    char **names = NULL;
    size_t n = 0;
    int64_t from, step, to;
    *out = NULL;
    *err = "out of memory";
    anomaly_scan(q, &from, &step);
    /* Whole steps only: a step still filling would look like a drop. */
    to = floor_to(q->to_ms, step);
    if (to <= q->from_ms)
        to = q->to_ms;
    root = header(q, from, step);
    if (root == NULL)
        return 500;
    checked = cJSON_AddArrayToObject(root, "endpoints_checked");
    list = cJSON_AddArrayToObject(root, "anomalies");
    r = malloc(sizeof(*r));
    if (checked == NULL || list == NULL || r == NULL)
        goto fail;
    if (top_endpoints(st, q, top, &names, &n) != 0) {
        *err = "storage failure";
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (series_of(st, q, names[i], from, to, r) != 0) {
            tlm__dash_result_free(r);
            *err = "storage failure";
            goto fail;
        }
        int rc = detect_endpoint(names[i], r, q->from_ms, list);
        tlm__dash_result_free(r);
        if (rc != 0)
            goto fail;
        cJSON *s = cJSON_CreateString(names[i]);
        if (s == NULL || !cJSON_AddItemToArray(checked, s)) {
            cJSON_Delete(s);
            goto fail;
        }
    }
    if (sort_by_severity(list) != 0)
        goto fail;
    free_names(names, n);
    free(r);
    *out = root;
    *err = NULL;
    return 200;
fail:
    free_names(names, n);
    free(r);
    cJSON_Delete(root);
    return 500;
}

/* The forecast of one endpoint from r's hourly points, appended to list. */
static int
forecast_endpoint(const char *endpoint, const struct tlm__dash_result *r,
    size_t horizon, cJSON *list)
{
    struct metric_arrays a;
    struct tlm__forecast_point *fp = NULL;
    struct tlm__forecast_info info = {0};
    size_t first = 0, n = 0;
    cJSON *o = NULL, *pts;
    int rc = -1;
    if (arrays_fill(r, &a) != 0)
        return -1;
    while (first < a.n && a.miss_vol[first])
        first++; /* the series starts with the endpoint's first request */
    size_t len = a.n - first;
    struct tlm__series s = {
        .start_ms = len > 0 ? r->points[first].t_ms : r->points[0].t_ms,
        .step_ms = r->bucket_ms,
        .v = len > 0 ? a.vol + first : a.vol,
        .n = len,
    };
    if (len > 0
        && tlm__forecast_ex(&s, len >= 2 * WEEK_HOURS ? WEEK_HOURS : DAY_HOURS,
               horizon, &fp, &n, &info)
            != 0)
        goto out;
    static const char *const methods[] = {
        [TLM__FORECAST_NONE] = "none",
        [TLM__FORECAST_FLAT] = "flat",
        [TLM__FORECAST_SEASONAL_NAIVE] = "seasonal_naive",
        [TLM__FORECAST_HOLT_WINTERS] = "holt_winters",
    };
    o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "endpoint", endpoint) == NULL
        || cJSON_AddStringToObject(o, "method", methods[info.method]) == NULL
        || cJSON_AddNumberToObject(o, "history_hours", (double)len) == NULL
        || cJSON_AddNumberToObject(o, "band", TLM__FORECAST_BAND) == NULL
        || (pts = cJSON_AddArrayToObject(o, "points")) == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        cJSON *p = cJSON_CreateObject();
        if (p == NULL || !cJSON_AddItemToArray(pts, p)) {
            cJSON_Delete(p);
            goto out;
        }
        if (!add_time(p, "t", fp[i].t_ms)
            || cJSON_AddNumberToObject(p, "expected", num(fp[i].expected))
                == NULL
            || cJSON_AddNumberToObject(p, "low", num(fp[i].low)) == NULL
            || cJSON_AddNumberToObject(p, "high", num(fp[i].high)) == NULL)
            goto out;
    }
    if (cJSON_AddItemToArray(list, o)) {
        o = NULL;
        rc = 0;
    }
out:
    cJSON_Delete(o);
    free(fp);
    arrays_free(&a);
    return rc;
}

int
tlm__insights_forecast(struct tlm__store *st, const struct tlm__dash_query *q,
    size_t top, size_t days, cJSON **out, const char **err)
{
    struct tlm__dash_result *r = NULL;
    cJSON *root = NULL, *list;
    char **names = NULL;
    size_t n = 0;
    /* Whole hours only: the current one would look like a drop. */
    int64_t to = floor_to(q->to_ms, TLM_ROLLUP_HOUR_MS);
    int64_t from = to - FORECAST_HISTORY_MS;
    *out = NULL;
    *err = "out of memory";
    root = header(q, from, TLM_ROLLUP_HOUR_MS);
    if (root == NULL
        || cJSON_AddNumberToObject(root, "horizon_hours", (double)(days * 24))
            == NULL
        || (list = cJSON_AddArrayToObject(root, "endpoints")) == NULL
        || (r = malloc(sizeof(*r))) == NULL)
        goto fail;
    if (top_endpoints(st, q, top, &names, &n) != 0) {
        *err = "storage failure";
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (series_of(st, q, names[i], from, to, r) != 0) {
            tlm__dash_result_free(r);
            *err = "storage failure";
            goto fail;
        }
        int rc = r->bucket_ms == TLM_ROLLUP_HOUR_MS
            ? forecast_endpoint(names[i], r, days * 24, list)
            : -1;
        tlm__dash_result_free(r);
        if (rc != 0)
            goto fail;
    }
    free_names(names, n);
    free(r);
    *out = root;
    *err = NULL;
    return 200;
fail:
    free_names(names, n);
    free(r);
    cJSON_Delete(root);
    return 500;
}
