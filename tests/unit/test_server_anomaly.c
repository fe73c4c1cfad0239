/* Check suite for server/anomaly.c and server/forecast.c: median and MAD,
 * the sustained-for rule, missing and non-finite points, degenerate series,
 * then an evaluation on generated traffic with planted anomalies (precision
 * and recall printed per kind, asserted overall) and the forecast's MAPE and
 * band coverage on seasonal data (printed, asserted). */
#include "anomaly.h"
#include "forecast.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600 * 1000LL)
#define MIN_MS (60 * 1000LL)
#define MONDAY_MS 1767571200000LL /* 2026-01-05T00:00:00Z, a Monday */

/* --- a deterministic generator ------------------------------------------ */

struct rng {
    uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
rng_unit(struct rng *r) /* (0, 1) */
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double
rng_normal(struct rng *r)
{
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static double
rng_poisson(struct rng *r, double lambda)
{
    if (lambda <= 0)
        return 0;
    if (lambda > 50) {
        double x = floor(lambda + sqrt(lambda) * rng_normal(r) + 0.5);
        return x < 0 ? 0 : x;
    }
    double l = exp(-lambda), p = 1;
    int k = 0;
    do {
        k++;
        p *= rng_unit(r);
    } while (p > l);
    return k - 1;
}

static size_t
detect_counted(const double *v, const bool *missing, const double *count,
    size_t n, int64_t step, enum tlm__metric m, struct tlm__anomaly **out)
{
    struct tlm__series s = {MONDAY_MS, step, v, n, missing, count};
    size_t na = 99;
    ck_assert_int_eq(tlm__anomalies_detect(&s, m, NULL, out, &na), 0);
    ck_assert(na == 0 || *out != NULL);
    return na;
}

static size_t
detect(const double *v, const bool *missing, size_t n, int64_t step,
    enum tlm__metric m, struct tlm__anomaly **out)
{
    return detect_counted(v, missing, NULL, n, step, m, out);
}

/* --- median, MAD --------------------------------------------------------- */

START_TEST(anomaly_median_and_mad)
{
    double tmp[8], med;
    double a[] = {5, 1, 4, 2, 3};
    ck_assert(tlm__median_select(a, 5) == 3);
    double b[] = {4, 1, 3, 2};
    ck_assert(tlm__median_select(b, 4) == 2.5);
    double c[] = {7, 7, 7, 7, 7, 7};
    ck_assert(tlm__median_select(c, 6) == 7);
    double d[] = {1, 2, 3, 4, 100};
    ck_assert_double_eq_tol(tlm__mad_scale(d, tmp, 5, &med), 1.4826, 1e-12);
    ck_assert(med == 3);
    double e[] = {2, 2, 2, 2};
    ck_assert(tlm__mad_scale(e, tmp, 4, &med) == 0);
    ck_assert(isnan(tlm__median_select(e, 0)));
    double f[] = {9};
    ck_assert(tlm__median_select(f, 1) == 9);
    /* Many duplicates and a reversed order: against sorting. */
    double g[101];
    for (int i = 0; i < 101; i++)
        g[i] = (double)((100 - i) % 7);
    ck_assert(tlm__median_select(g, 101) == 3);
}
END_TEST

/* A flat series with noise-free value 100 and a few planted values. */
static void
flat(double *v, size_t n, double x)
{
    for (size_t i = 0; i < n; i++)
        v[i] = x + (double)(i % 5) - 2; /* MAD > 0: a small wobble */
}

START_TEST(anomaly_sustained_rule)
{
    double v[200];
    struct tlm__anomaly *a = NULL;
    flat(v, 200, 100);
    /* One and two outside points: never an anomaly. */
    v[100] = 500;
    v[150] = 500;
    v[151] = 500;
    ck_assert_uint_eq(detect(v, NULL, 200, MIN_MS, TLM_METRIC_VOLUME, &a), 0);
    ck_assert_ptr_null(a);
    /* Three: one anomaly from the first of the run to the last outside
     * point, ended by three inside points. */
    flat(v, 200, 100);
    v[130] = v[131] = v[132] = 400;
    v[133] = 100;
    v[134] = 700;
    size_t n = detect(v, NULL, 200, MIN_MS, TLM_METRIC_VOLUME, &a);
    ck_assert_uint_eq(n, 1);
    ck_assert(a[0].start_ms == MONDAY_MS + 130 * MIN_MS);
    ck_assert(a[0].end_ms == MONDAY_MS + 135 * MIN_MS);
    ck_assert(a[0].observed == 700);
    ck_assert_uint_eq(a[0].points_outside, 4);
    ck_assert(a[0].low < a[0].expected && a[0].expected < a[0].high);
    ck_assert(a[0].high < 700 && a[0].severity > 1);
    ck_assert(!a[0].ongoing);
    ck_assert_str_eq(a[0].severity_label, "critical");
    ck_assert_int_eq(a[0].metric, TLM_METRIC_VOLUME);
    free(a);
    /* Still outside at the end: ongoing. A drop fires too. */
    flat(v, 200, 100);
    for (int i = 195; i < 200; i++)
        v[i] = 10;
    ck_assert_uint_eq(detect(v, NULL, 200, MIN_MS, TLM_METRIC_VOLUME, &a), 1);
    ck_assert(a[0].ongoing && a[0].observed == 10);
    ck_assert(a[0].start_ms == MONDAY_MS + 195 * MIN_MS);
    free(a);
}
END_TEST

START_TEST(anomaly_missing_and_nonfinite_points)
{
    double v[200];
    bool miss[200] = {false};
    struct tlm__anomaly *a = NULL;
    flat(v, 200, 100);
    /* Missing points neither break nor extend a run: 3 outside points
     * with a gap, a NaN and an inf between them still fire once. */
    v[120] = 400;
    miss[121] = true;
    v[121] = 1e300;
    v[122] = NAN;
    v[123] = 400;
    v[124] = INFINITY;
    v[125] = 400;
    size_t n = detect(v, miss, 200, MIN_MS, TLM_METRIC_VOLUME, &a);
    ck_assert_uint_eq(n, 1);
    ck_assert(a[0].start_ms == MONDAY_MS + 120 * MIN_MS);
    ck_assert(isfinite(a[0].expected) && isfinite(a[0].severity));
    ck_assert_uint_eq(a[0].points_outside, 3);
    free(a);
    /* All missing, and all NaN: nothing. */
    for (int i = 0; i < 200; i++) {
        miss[i] = true;
        v[i] = -INFINITY;
    }
    ck_assert_uint_eq(detect(v, miss, 200, MIN_MS, TLM_METRIC_P95, &a), 0);
    ck_assert_uint_eq(detect(v, NULL, 200, MIN_MS, TLM_METRIC_P95, &a), 0);
    /* Half the points missing at random: a clean series stays clean. */
    struct rng r = {7};
    for (int i = 0; i < 200; i++) {
        v[i] = 200 + 5 * rng_normal(&r);
        miss[i] = rng_unit(&r) < 0.5;
    }
    ck_assert_uint_eq(detect(v, miss, 200, MIN_MS, TLM_METRIC_P95, &a), 0);
}
END_TEST

START_TEST(anomaly_constant_series)
{
    double v[300];
    struct tlm__anomaly *a = NULL;
    for (int i = 0; i < 300; i++)
        v[i] = 42;
    ck_assert_uint_eq(detect(v, NULL, 300, MIN_MS, TLM_METRIC_VOLUME, &a), 0);
    for (int i = 0; i < 300; i++)
        v[i] = 0;
    ck_assert_uint_eq(
        detect(v, NULL, 300, HOUR_MS, TLM_METRIC_ERROR_RATE, &a), 0);
    /* MAD 0: the band is the min_abs_change/min_rel_change floor, and the
     * severity stays finite. */
    for (int i = 0; i < 300; i++)
        v[i] = 42;
    v[200] = v[201] = v[202] = v[203] = 142;
    ck_assert_uint_eq(detect(v, NULL, 300, MIN_MS, TLM_METRIC_VOLUME, &a), 1);
    ck_assert(isfinite(a[0].severity) && a[0].severity > 1);
    ck_assert(a[0].expected == 42 && a[0].high > 42);
    free(a);
    /* Options without any floor on a constant series: still no division
     * by zero, a tiny change fires. */
    struct tlm__anomaly_options o;
    tlm__anomaly_options_default(&o, TLM_METRIC_P95, MIN_MS);
    o.min_abs_change = 0;
    o.min_rel_change = 0;
    v[200] = v[201] = v[202] = v[203] = 42.5;
    struct tlm__series s = {.start_ms = 0, .step_ms = MIN_MS, .v = v, .n = 300};
    size_t n = 0;
    ck_assert_int_eq(tlm__anomalies_detect(&s, TLM_METRIC_P95, &o, &a, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert(isfinite(a[0].severity));
    free(a);
}
END_TEST

START_TEST(anomaly_tiny_series_and_bad_args)
{
    struct tlm__anomaly *a = (void *)1;
    size_t n = 99;
    double v[1] = {5};
    struct tlm__series s
        = {.start_ms = 0, .step_ms = MIN_MS, .v = NULL, .n = 0};
    ck_assert_int_eq(
        tlm__anomalies_detect(&s, TLM_METRIC_P95, NULL, &a, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(a);
    s.v = v;
    s.n = 1;
    ck_assert_int_eq(
        tlm__anomalies_detect(&s, TLM_METRIC_P95, NULL, &a, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* Bad arguments. */
    ck_assert_int_eq(tlm__anomalies_detect(NULL, 0, NULL, &a, &n), -1);
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, NULL, NULL, &n), -1);
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, NULL, &a, NULL), -1);
    s.step_ms = 0;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, NULL, &a, &n), -1);
    s.step_ms = INT64_MAX;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, NULL, &a, &n), -1);
    s.step_ms = MIN_MS;
    s.start_ms = INT64_MAX - MIN_MS;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, NULL, &a, &n), -1);
    s.start_ms = 0;
    s.v = NULL;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, NULL, &a, &n), -1);
    s.v = v;
    struct tlm__anomaly_options o;
    tlm__anomaly_options_default(&o, TLM_METRIC_VOLUME, MIN_MS);
    o.k = NAN;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, &o, &a, &n), -1);
    tlm__anomaly_options_default(&o, TLM_METRIC_VOLUME, MIN_MS);
    o.sustained = 0;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, &o, &a, &n), -1);
    tlm__anomaly_options_default(&o, TLM_METRIC_VOLUME, MIN_MS);
    o.ewma_alpha = 1.5;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, &o, &a, &n), -1);
    tlm__anomaly_options_default(&o, TLM_METRIC_VOLUME, MIN_MS);
    o.min_abs_change = -1;
    ck_assert_int_eq(tlm__anomalies_detect(&s, 0, &o, &a, &n), -1);
    ck_assert_str_eq(tlm__metric_name(TLM_METRIC_ERROR_RATE), "error_rate");
    tlm__anomaly_options_default(&o, TLM_METRIC_VOLUME, HOUR_MS);
    ck_assert_uint_eq(o.baseline_points, 14 * 24);
    ck_assert(o.k == 3.5 && o.sustained == 3 && o.seasonal);
}
END_TEST

/* Short history (fewer than baseline_points / 2): the EWMA baseline. */
START_TEST(anomaly_short_history_ewma)
{
    double v[50];
    struct tlm__anomaly *a = NULL;
    struct rng r = {3};
    for (int i = 0; i < 50; i++)
        v[i] = 100 + 3 * rng_normal(&r);
    ck_assert_uint_eq(detect(v, NULL, 50, MIN_MS, TLM_METRIC_P95, &a), 0);
    v[30] = v[31] = v[32] = v[33] = 300;
    ck_assert_uint_eq(detect(v, NULL, 50, MIN_MS, TLM_METRIC_P95, &a), 1);
    ck_assert(a[0].start_ms == MONDAY_MS + 30 * MIN_MS);
    ck_assert(fabs(a[0].expected - 100) < 10);
    free(a);
}
END_TEST

/* A latency creep too slow for the point test: 200 ms rising 0.5 ms a
 * minute for 3 hours. The slow-creep rule (median of 15 points against the
 * lagged window) fires, with the level as the observed value. */
START_TEST(anomaly_slow_creep)
{
    enum { N = 600 };
    double v[N];
    struct tlm__anomaly *a = NULL;
    struct rng r = {5};
    for (int i = 0; i < N; i++)
        v[i] = 200 * (1 + 0.08 * rng_normal(&r));
    ck_assert_uint_eq(detect(v, NULL, N, MIN_MS, TLM_METRIC_P95, &a), 0);
    for (int i = 300; i < 480; i++)
        v[i] += 0.5 * (i - 300);
    size_t n = detect(v, NULL, N, MIN_MS, TLM_METRIC_P95, &a);
    ck_assert_uint_ge(n, 1);
    ck_assert(a[0].start_ms > MONDAY_MS + 300 * MIN_MS);
    ck_assert(a[0].start_ms < MONDAY_MS + 480 * MIN_MS);
    ck_assert(a[0].observed > a[0].high);
    free(a);
    /* Without the rule the point test alone misses it. */
    struct tlm__anomaly_options o;
    tlm__anomaly_options_default(&o, TLM_METRIC_P95, MIN_MS);
    o.creep_points = 0;
    struct tlm__series s
        = {.start_ms = MONDAY_MS, .step_ms = MIN_MS, .v = v, .n = N};
    ck_assert_int_eq(tlm__anomalies_detect(&s, TLM_METRIC_P95, &o, &a, &n), 0);
    free(a);
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* A long outage: the baseline keeps the old level for one window, then
 * accepts the new one; the return to the old level afterwards is not a
 * second anomaly. */
START_TEST(anomaly_long_drop_recovery_is_not_an_echo)
{
    enum { N = 900 };
    double v[N];
    struct tlm__anomaly *a = NULL;
    struct rng r = {9};
    for (int i = 0; i < N; i++)
        v[i] = rng_poisson(&r, i >= 300 && i < 600 ? 30 : 100);
    size_t n = detect(v, NULL, N, MIN_MS, TLM_METRIC_VOLUME, &a);
    ck_assert_uint_eq(n, 1);
    ck_assert(a[0].start_ms == MONDAY_MS + 300 * MIN_MS);
    ck_assert(a[0].observed < a[0].low && !a[0].ongoing);
    free(a);
}
END_TEST

/* Hourly: a daily noon peak is normal; the same height at 3 am is not. */
START_TEST(anomaly_seasonal_hour_of_day)
{
    enum { N = 24 * 21 };
    double v[N];
    struct tlm__anomaly *a = NULL;
    struct rng r = {11};
    for (int i = 0; i < N; i++) {
        int h = i % 24;
        v[i] = 100 + (h >= 11 && h <= 13 ? 400 : 0) + 5 * rng_normal(&r);
    }
    /* The first days have no seasonal baseline yet (3 days of history, and
     * 2 earlier weekend days for a weekend day): their noon peaks may
     * fire, none after the first week may. */
    size_t n = detect(v, NULL, N, HOUR_MS, TLM_METRIC_VOLUME, &a);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(a[i].start_ms < MONDAY_MS + 7 * 24 * HOUR_MS, "at %lld",
            (long long)((a[i].start_ms - MONDAY_MS) / HOUR_MS));
    free(a);
    int at = 24 * 16 + 3; /* a Wednesday, 03:00 */
    v[at] = v[at + 1] = v[at + 2] = 500;
    ck_assert_uint_eq(
        detect(v, NULL, N, HOUR_MS, TLM_METRIC_VOLUME, &a), n + 1);
    ck_assert(a[n].start_ms == MONDAY_MS + at * HOUR_MS);
    ck_assert(a[n].expected < 150);
    free(a);
}
END_TEST

/* --- evaluation on generated traffic -------------------------------------- */

enum kind { SPIKE, DROP, CREEP, BURST, NKINDS };
static const char *const kind_names[] = {"spike", "drop", "creep", "burst"};

struct plant {
    enum kind kind;
    size_t from, to; /* points [from, to) */
    double mag;
    bool significant;
};

struct traffic {
    size_t n;
    int64_t step;
    double *vol, *err, *p95;
    bool *miss_err, *miss_p95;
};

/* Significant and too-small magnitudes per kind: volume factor (spike,
 * drop), final p95 factor (creep), added error probability (burst). */
static const double big[NKINDS][3]
    = {{2.0, 3.0, 5.0}, {0.0, 0.2, 0.45}, {1.6, 2.0, 3.0}, {0.05, 0.1, 0.3}};
static const double small_mag[NKINDS] = {1.04, 0.96, 1.03, 0.002};

static double
plant_factor(const struct plant *p, size_t i, enum kind k)
{
    if (p->kind != k || i < p->from || i >= p->to)
        return k == BURST ? 0 : 1;
    if (k == CREEP) /* a linear rise, then the fix */
        return 1
            + (p->mag - 1) * (double)(i - p->from + 1)
            / (double)(p->to - p->from);
    return p->mag;
}

/* Hourly (step 1 h) or per minute: daily cycle peaking at 14:00 UTC,
 * weekends at 55%, Poisson counts, binomial-ish errors, a p95 that grows
 * with load and is noisier on few requests. */
static void
gen(struct traffic *t, struct rng *r, size_t n, int64_t step, double base,
    const struct plant *pl, size_t npl)
{
    t->n = n;
    t->step = step;
    t->vol = calloc(n, sizeof(double));
    t->err = calloc(n, sizeof(double));
    t->p95 = calloc(n, sizeof(double));
    t->miss_err = calloc(n, sizeof(bool));
    t->miss_p95 = calloc(n, sizeof(bool));
    double perr = 0.005 + 0.015 * rng_unit(r);
    double lat = 80 + 300 * rng_unit(r);
    for (size_t i = 0; i < n; i++) {
        int64_t ts = MONDAY_MS + (int64_t)i * step;
        double hour = (double)(ts % (24 * HOUR_MS)) / (double)HOUR_MS;
        int dow = (int)((ts / (24 * HOUR_MS) + 4) % 7);
        double load = 1 + 0.6 * cos(6.283185307179586 * (hour - 14) / 24);
        if (dow == 0 || dow == 6)
            load *= 0.55;
        double lambda = base * load, pe = perr, pf = 1;
        for (size_t k = 0; k < npl; k++) {
            lambda *= plant_factor(&pl[k], i, SPIKE);
            lambda *= plant_factor(&pl[k], i, DROP);
            pf *= plant_factor(&pl[k], i, CREEP);
            pe += plant_factor(&pl[k], i, BURST);
        }
        double c = rng_poisson(r, lambda);
        t->vol[i] = c;
        if (rng_unit(r) < 0.003) { /* a lost rollup row */
            t->vol[i] = NAN;
            t->miss_err[i] = t->miss_p95[i] = true;
            continue;
        }
        t->miss_err[i] = t->miss_p95[i] = c < 1;
        t->err[i] = c < 1 ? 0 : rng_poisson(r, c * pe) / c;
        if (t->err[i] > 1)
            t->err[i] = 1;
        double sd = 0.6 / sqrt(c + 1) + 0.02;
        t->p95[i] = lat * (1 + 0.15 * load) * pf * exp(sd * rng_normal(r));
    }
}

static void
traffic_free(struct traffic *t)
{
    free(t->vol);
    free(t->err);
    free(t->p95);
    free(t->miss_err);
    free(t->miss_p95);
}

struct score {
    int planted[NKINDS], found[NKINDS]; /* significant, for recall */
    int tp[NKINDS], fp[NKINDS]; /* detections */
    int small_planted, small_fired, clean_series, clean_fired;
};

static enum tlm__metric
kind_metric(enum kind k)
{
    return k == CREEP ? TLM_METRIC_P95
        : k == BURST  ? TLM_METRIC_ERROR_RATE
                      : TLM_METRIC_VOLUME;
}

static bool
overlaps(const struct tlm__anomaly *a, const struct plant *p, int64_t step)
{
    int64_t from = MONDAY_MS + (int64_t)p->from * step;
    int64_t to = MONDAY_MS + (int64_t)p->to * step;
    return a->start_ms < to && a->end_ms > from;
}

/* Scores one metric of one series against its plants. */
static void
score_metric(struct score *sc, const struct traffic *t, enum tlm__metric m,
    const struct plant *pl, size_t npl, bool clean)
{
    const double *v = m == TLM_METRIC_VOLUME ? t->vol
        : m == TLM_METRIC_P95                ? t->p95
                                             : t->err;
    const bool *miss = m == TLM_METRIC_VOLUME ? NULL
        : m == TLM_METRIC_P95                 ? t->miss_p95
                                              : t->miss_err;
    struct tlm__anomaly *a = NULL;
    size_t na = detect_counted(v, miss, t->vol, t->n, t->step, m, &a);
    if (clean && na > 0)
        sc->clean_fired++;
    for (size_t k = 0; k < npl; k++) {
        if (kind_metric(pl[k].kind) != m)
            continue;
        bool hit = false;
        for (size_t j = 0; j < na; j++)
            hit = hit || overlaps(&a[j], &pl[k], t->step);
        if (!hit && pl[k].significant && getenv("TLM_ANOMALY_VERBOSE"))
            printf("  miss %s step=%lld at %zu..%zu mag %.3g\n",
                kind_names[pl[k].kind], (long long)t->step, pl[k].from,
                pl[k].to, pl[k].mag);
        if (pl[k].significant) {
            sc->planted[pl[k].kind]++;
            sc->found[pl[k].kind] += hit;
        } else {
            sc->small_planted++;
            sc->small_fired += hit;
        }
    }
    for (size_t j = 0; j < na; j++) {
        int kind = -1;
        for (size_t k = 0; k < npl; k++)
            if (pl[k].significant && kind_metric(pl[k].kind) == m
                && overlaps(&a[j], &pl[k], t->step))
                kind = (int)pl[k].kind;
        if (kind >= 0) {
            sc->tp[kind]++;
            continue;
        }
        /* A false positive, charged to the kind it looks like. */
        if (m == TLM_METRIC_VOLUME)
            kind = a[j].observed > a[j].expected ? SPIKE : DROP;
        else
            kind = m == TLM_METRIC_P95 ? CREEP : BURST;
        sc->fp[kind]++;
        if (getenv("TLM_ANOMALY_VERBOSE"))
            printf("  fp %s step=%lld at %lld..%lld obs %.4g exp %.4g\n",
                tlm__metric_name(m), (long long)t->step,
                (long long)((a[j].start_ms - MONDAY_MS) / t->step),
                (long long)((a[j].end_ms - MONDAY_MS) / t->step), a[j].observed,
                a[j].expected);
    }
    free(a);
}

/* One seed: 16 hourly series (21 days) and 16 per-minute series (2 days),
 * each with one significant and one too-small anomaly of the same kind,
 * plus 4 clean series of each step. */
static void
eval_seed(uint64_t seed, struct score *sc)
{
    struct rng r = {seed};
    for (int step_kind = 0; step_kind < 2; step_kind++) {
        bool hourly = step_kind == 0;
        size_t n = hourly ? 24 * 21 : 60 * 48;
        int64_t step = hourly ? HOUR_MS : MIN_MS;
        for (int sidx = 0; sidx < 20; sidx++) {
            struct plant pl[2];
            size_t npl = 0;
            bool clean = sidx >= 16;
            double base
                = hourly ? 150 + 3000 * rng_unit(&r) : 20 + 150 * rng_unit(&r);
            if (!clean) {
                enum kind k = (enum kind)(sidx % NKINDS);
                size_t len, from, gap;
                if (hourly) {
                    len = k == CREEP ? 8 + rng_next(&r) % 6
                                     : 3 + rng_next(&r) % 5;
                    from = 24 * 8 + rng_next(&r) % (24 * 5);
                    gap = 24 * 3 + rng_next(&r) % 24;
                } else {
                    len = k == CREEP ? 120 + rng_next(&r) % 120
                                     : 10 + rng_next(&r) % 40;
                    from = 180 + rng_next(&r) % (60 * 18);
                    gap = 60 * 6 + rng_next(&r) % 600;
                }
                pl[0] = (struct plant) {
                    k, from, from + len, big[k][rng_next(&r) % 3], true};
                pl[1] = (struct plant) {k, from + len + gap,
                    from + 2 * len + gap, small_mag[k], false};
                npl = 2;
            }
            struct traffic t;
            gen(&t, &r, n, step, base, pl, npl);
            sc->clean_series += clean;
            bool fired_before = false;
            int clean_before = sc->clean_fired;
            score_metric(sc, &t, TLM_METRIC_VOLUME, pl, npl, clean);
            score_metric(sc, &t, TLM_METRIC_ERROR_RATE, pl, npl, clean);
            score_metric(sc, &t, TLM_METRIC_P95, pl, npl, clean);
            fired_before = sc->clean_fired > clean_before;
            /* A clean series counts once, however many metrics fired. */
            if (fired_before)
                sc->clean_fired = clean_before + 1;
            traffic_free(&t);
        }
    }
}

static double
ratio(int a, int b)
{
    return b ? (double)a / b : 1;
}

static void
report(const char *label, const struct score *sc, double *prec, double *rec)
{
    int tp = 0, fp = 0, planted = 0, found = 0;
    printf("anomaly eval (%s):\n", label);
    for (int k = 0; k < NKINDS; k++) {
        printf("  %-6s planted %3d found %3d recall %.3f | detections tp %3d "
               "fp %3d precision %.3f\n",
            kind_names[k], sc->planted[k], sc->found[k],
            ratio(sc->found[k], sc->planted[k]), sc->tp[k], sc->fp[k],
            ratio(sc->tp[k], sc->tp[k] + sc->fp[k]));
        tp += sc->tp[k];
        fp += sc->fp[k];
        planted += sc->planted[k];
        found += sc->found[k];
    }
    *prec = ratio(tp, tp + fp);
    *rec = ratio(found, planted);
    printf("  overall planted %d found %d recall %.3f | tp %d fp %d precision "
           "%.3f\n  too-small planted %d fired %d; clean series %d fired %d\n",
        planted, found, *rec, tp, fp, *prec, sc->small_planted, sc->small_fired,
        sc->clean_series, sc->clean_fired);
}

/* Seeds 1-3 were used to choose the defaults; 101-104 were not. */
static const uint64_t tune_seeds[] = {1, 2, 3};
static const uint64_t eval_seeds[] = {101, 102, 103, 104};

START_TEST(anomaly_eval_planted)
{
    struct score tune = {0}, eval = {0};
    double p, r;
    /* Under valgrind (TLM_TEST_SCALE=small) only the asserted seeds. */
    const char *scale = getenv("TLM_TEST_SCALE");
    if (!scale || strcmp(scale, "small") != 0) {
        for (size_t i = 0; i < sizeof tune_seeds / sizeof *tune_seeds; i++)
            eval_seed(tune_seeds[i], &tune);
        report("tuning seeds 1-3", &tune, &p, &r);
    }
    for (size_t i = 0; i < sizeof eval_seeds / sizeof *eval_seeds; i++)
        eval_seed(eval_seeds[i], &eval);
    report("held-out seeds 101-104", &eval, &p, &r);
    ck_assert_msg(p >= 0.9, "precision %.3f", p);
    ck_assert_msg(r >= 0.85, "recall %.3f", r);
    int planted = eval.small_planted;
    for (int k = 0; k < NKINDS; k++)
        planted += eval.planted[k];
    ck_assert_int_ge(planted, 40);
    /* Too small to matter: at most one in ten may fire. */
    ck_assert_int_le(eval.small_fired * 10, eval.small_planted);
}
END_TEST

/* --- forecast ------------------------------------------------------------- */

START_TEST(forecast_degenerate_inputs)
{
    struct tlm__forecast_point *f = (void *)1;
    struct tlm__forecast_info info;
    size_t n = 9;
    double v[30];
    struct tlm__series s
        = {.start_ms = 0, .step_ms = HOUR_MS, .v = NULL, .n = 0};
    ck_assert_int_eq(tlm__forecast_ex(&s, 24, 10, &f, &n, &info), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(info.method, TLM__FORECAST_NONE);
    /* One point: flat, zero-width band. */
    v[0] = 7;
    s.v = v;
    s.n = 1;
    ck_assert_int_eq(tlm__forecast_ex(&s, 24, 3, &f, &n, &info), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(info.method, TLM__FORECAST_FLAT);
    ck_assert(f[0].expected == 7 && f[2].low == 7 && f[2].high == 7);
    ck_assert(f[0].t_ms == HOUR_MS && f[2].t_ms == 3 * HOUR_MS);
    free(f);
    /* NaN and inf are ignored; all invalid: nothing. */
    for (int i = 0; i < 30; i++)
        v[i] = i % 3 ? NAN : INFINITY;
    s.n = 30;
    ck_assert_int_eq(tlm__forecast(&s, 24, 5, &f, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* One season: seasonal naive repeats it. */
    for (int i = 0; i < 30; i++)
        v[i] = i % 24 == 5 ? NAN : (double)(i % 24);
    ck_assert_int_eq(tlm__forecast_ex(&s, 24, 24, &f, &n, &info), 0);
    ck_assert_int_eq(info.method, TLM__FORECAST_SEASONAL_NAIVE);
    ck_assert(f[0].expected == 6 && f[23].expected != 5);
    ck_assert(f[18].expected == 0 && f[1].expected == 7);
    /* v[29] = NaN at phase 5: the median stands in (no valid phase 5). */
    ck_assert(isfinite(f[23].expected));
    free(f);
    /* Bad arguments, horizon 0. */
    ck_assert_int_eq(tlm__forecast(&s, 0, 5, &f, &n), -1);
    ck_assert_int_eq(tlm__forecast(NULL, 24, 5, &f, &n), -1);
    ck_assert_int_eq(tlm__forecast(&s, 24, 5, NULL, &n), -1);
    s.step_ms = -1;
    ck_assert_int_eq(tlm__forecast(&s, 24, 5, &f, &n), -1);
    s.step_ms = INT64_MAX / 32;
    ck_assert_int_eq(tlm__forecast(&s, 24, 5, &f, &n), -1);
    s.step_ms = HOUR_MS;
    ck_assert_int_eq(tlm__forecast(&s, 24, 2000000, &f, &n), -1);
    s.step_ms = HOUR_MS;
    ck_assert_int_eq(tlm__forecast(&s, 24, 0, &f, &n), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(forecast_constant_series)
{
    double v[24 * 14];
    struct tlm__forecast_point *f;
    struct tlm__forecast_info info;
    size_t n;
    for (size_t i = 0; i < 24 * 14; i++)
        v[i] = 50;
    struct tlm__series s
        = {.start_ms = 0, .step_ms = HOUR_MS, .v = v, .n = 24 * 14};
    ck_assert_int_eq(tlm__forecast_ex(&s, 24, 48, &f, &n, &info), 0);
    ck_assert_int_eq(info.method, TLM__FORECAST_HOLT_WINTERS);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(f[i].expected, 50, 1e-6);
    ck_assert(info.sigma == 0);
    free(f);
}
END_TEST

/* Four weeks of hourly volume (daily cycle, weekends at 55%, Poisson noise)
 * then the next 7 days against what the generator draws. The bound: the
 * forecast cannot beat the Poisson noise of the truth itself (the oracle
 * MAPE of the true rate), and we allow it 4 percentage points more for
 * estimating 168 hour-of-week indices from 4 noisy weeks. */
START_TEST(forecast_weekly_mape_and_coverage)
{
    enum { HIST = 24 * 28, H = 24 * 7 };
    double mape_sum = 0, oracle_sum = 0, cover_sum = 0;
    const uint64_t seeds[] = {201, 202, 203};
    for (size_t si = 0; si < 3; si++) {
        struct rng r = {seeds[si]};
        static double v[HIST + H], lam[HIST + H];
        double base = 300 + 1000 * rng_unit(&r);
        for (size_t i = 0; i < HIST + H; i++) {
            int64_t ts = MONDAY_MS + (int64_t)i * HOUR_MS;
            double hour = (double)(ts % (24 * HOUR_MS)) / (double)HOUR_MS;
            int dow = (int)((ts / (24 * HOUR_MS) + 4) % 7);
            double load = 1 + 0.6 * cos(6.283185307179586 * (hour - 14) / 24);
            lam[i] = base * load * (dow == 0 || dow == 6 ? 0.55 : 1)
                * (1 + 0.0001 * (double)i); /* 1.7% a week */
            v[i] = rng_poisson(&r, lam[i]);
        }
        struct tlm__series s
            = {.start_ms = MONDAY_MS, .step_ms = HOUR_MS, .v = v, .n = HIST};
        struct tlm__forecast_point *f;
        struct tlm__forecast_info info;
        size_t n;
        ck_assert_int_eq(tlm__forecast_ex(&s, 168, H, &f, &n, &info), 0);
        ck_assert_uint_eq(n, H);
        ck_assert_int_eq(info.method, TLM__FORECAST_HOLT_WINTERS);
        double mape = 0, oracle = 0;
        int cover = 0;
        for (size_t k = 0; k < H; k++) {
            double truth = v[HIST + k];
            mape += fabs(f[k].expected - truth) / truth;
            oracle += fabs(lam[HIST + k] - truth) / truth;
            cover += truth >= f[k].low && truth <= f[k].high;
            ck_assert(f[k].low <= f[k].expected && f[k].expected <= f[k].high);
        }
        mape /= H;
        oracle /= H;
        printf("forecast seed %llu: alpha %.2f beta %.2f gamma %.2f sigma "
               "%.1f MAPE %.4f (oracle %.4f) 80%% band coverage %.3f\n",
            (unsigned long long)seeds[si], info.alpha, info.beta, info.gamma,
            info.sigma, mape, oracle, (double)cover / H);
        mape_sum += mape;
        oracle_sum += oracle;
        cover_sum += (double)cover / H;
        free(f);
    }
    double mape = mape_sum / 3, oracle = oracle_sum / 3, cover = cover_sum / 3;
    printf("forecast: mean MAPE %.4f, oracle %.4f, coverage %.3f\n", mape,
        oracle, cover);
    ck_assert_msg(mape <= oracle + 0.04, "MAPE %.4f oracle %.4f", mape, oracle);
    ck_assert_msg(cover >= 0.7, "coverage %.3f", cover);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_anomaly");
    TCase *tc = tcase_create("anomaly");
    tcase_add_test(tc, anomaly_median_and_mad);
    tcase_add_test(tc, anomaly_sustained_rule);
    tcase_add_test(tc, anomaly_missing_and_nonfinite_points);
    tcase_add_test(tc, anomaly_constant_series);
    tcase_add_test(tc, anomaly_tiny_series_and_bad_args);
    tcase_add_test(tc, anomaly_short_history_ewma);
    tcase_add_test(tc, anomaly_seasonal_hour_of_day);
    tcase_add_test(tc, anomaly_slow_creep);
    tcase_add_test(tc, anomaly_long_drop_recovery_is_not_an_echo);
    suite_add_tcase(s, tc);
    tc = tcase_create("anomaly_eval");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, anomaly_eval_planted);
    suite_add_tcase(s, tc);
    tc = tcase_create("forecast");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, forecast_degenerate_inputs);
    tcase_add_test(tc, forecast_constant_series);
    tcase_add_test(tc, forecast_weekly_mape_and_coverage);
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
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
