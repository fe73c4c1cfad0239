/* Anomaly detection on one evenly spaced metric series (volume, error rate
 * or p95 of an endpoint): a robust baseline per point and a sustained-for
 * rule. Pure: no I/O, no global state, never keeps a pointer to its input.
 * The algorithm, its defaults and its measured quality: docs/anomalies.md. */
#ifndef TLM_SERVER_ANOMALY_H
#define TLM_SERVER_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tlm__metric {
    TLM_METRIC_VOLUME,
    TLM_METRIC_ERROR_RATE,
    TLM_METRIC_P95,
};

/* v[i] is the value of [start_ms + i * step_ms, start_ms + (i + 1) *
 * step_ms). A point is missing when missing != NULL && missing[i], or when
 * v[i] is NaN or infinite: missing points are never tested, never enter a
 * baseline, and neither extend nor break a run of outside points. Borrowed:
 * the functions below read it during the call only. */
struct tlm__series {
    int64_t start_ms;
    int64_t step_ms;
    const double *v;
    size_t n;
    const bool *missing; /* may be NULL */
    /* Requests behind each point (may be NULL). For TLM_METRIC_ERROR_RATE
     * the band is never narrower than k binomial standard deviations,
     * sqrt(p (1 - p) / count) with p = max(expected, 1 / count): without
     * it a minute with 2 errors in 30 requests looks like a burst. */
    const double *count;
};

struct tlm__anomaly_options {
    /* Trailing window in points (e.g. 14 days of hours, 2 hours of minutes).
     * The window ends `sustained` points before the tested point, so that a
     * slow creep is measured against a baseline that lags it. Also the
     * seasonal lookback: up to baseline_points / (points per day) previous
     * days. */
    size_t baseline_points;
    /* Band = expected +- max(k * scale, min_abs_change, min_rel_change *
     * |expected|); scale = 1.4826 * MAD (a standard deviation for Gaussian
     * noise) or the EW standard deviation. */
    double k;
    /* Consecutive outside points that start an anomaly, and consecutive
     * inside points that end it. */
    size_t sustained;
    /* Compare a point with the same time of day of previous days of the
     * same kind (weekday or weekend, UTC): once there are 3 days of
     * history and at least 2 such days within the lookback. Its scale is
     * the larger of those days' MAD and the pooled day-over-day noise of
     * the trailing window. Needs a step that divides a day. */
    bool seasonal;
    /* Short histories (fewer than baseline_points / 2 points in the window):
     * EWMA and EW variance with this smoothing factor, in (0, 1]. */
    double ewma_alpha;
    /* Deviations smaller than this (in the series' unit) never count. */
    double min_abs_change;
    /* Nor deviations smaller than this fraction of the expected value. */
    double min_rel_change;
    /* Slow-creep rule, 0 = off: a point also counts as outside when the
     * median of the last creep_points points leaves a band narrowed by
     * 1.2533 / sqrt(creep_points) (the noise of that median) and by
     * more than creep_min_rel * |expected| (normal drift over the lag
     * between the window and now must not fire). Trailing-window baseline
     * only. Catches a latency rise too slow for the point test. */
    size_t creep_points;
    double creep_min_rel;
};

/* One anomaly. expected, low, high and observed are taken at the most
 * extreme point of the anomaly (the largest |observed - expected| relative
 * to the band's half width). */
struct tlm__anomaly {
    int64_t start_ms; /* first point of the run that fired */
    int64_t end_ms; /* exclusive: end of the last outside point's step */
    enum tlm__metric metric;
    double expected;
    double low;
    double high;
    double observed;
    /* |observed - expected| / half width of the band: > 1; see
     * severity_label for the scale. */
    double severity;
    /* "low" (< 1.5), "medium" (< 2.5), "high" (< 5) or "critical": static
     * strings. */
    const char *severity_label;
    size_t points_outside; /* outside points between start and end */
    bool ongoing; /* still outside at the end of the series */
};

/* Defaults for a metric at a step: k 3.5, sustained 3, seasonal, alpha 0.1,
 * baseline 14 days when step_ms >= 1 hour, else 120 points (2 hours of
 * minutes; 240 for p95); creep_points 15 for p95, else 0; creep_min_rel 0.2;
 * min_abs_change 3 requests (volume), 0.01 (error rate as a fraction), 5 (p95
 * in ms); min_rel_change 0.1 (volume, p95), 0 (error rate). Thread-safe. */
void tlm__anomaly_options_default(
    struct tlm__anomaly_options *o, enum tlm__metric m, int64_t step_ms);

/* Detects anomalies in s for metric m, in time order. o NULL = defaults
 * for m and s->step_ms. On success *out is malloc'ed (the caller free()s
 * it; NULL when *n is 0) and 0 is returned. Returns -1 (and sets nothing)
 * on bad arguments (s or out or n NULL, step_ms <= 0, times that overflow,
 * v NULL with n > 0,
 * k or alpha out of range, sustained or baseline_points 0) or when out of
 * memory. Memory O(n + baseline_points), time O(n * baseline_points).
 * Thread-safe: no shared state. */
int tlm__anomalies_detect(const struct tlm__series *s, enum tlm__metric m,
    const struct tlm__anomaly_options *o, struct tlm__anomaly **out, size_t *n);

/* True when every step start of s and `extra` steps after it fits in an
 * int64_t (step_ms > 0). */
bool tlm__series_times_ok(const struct tlm__series *s, size_t extra);

/* "volume", "error_rate", "p95" (static strings). */
const char *tlm__metric_name(enum tlm__metric m);

/* The k-th smallest (0-based) of v[0..n), reordering v; NaN when k >= n.
 * Shared with forecast.c. */
double tlm__nth_select(double *v, size_t n, size_t k);
/* For the tests: the median of v[0..n) (reorders v; NaN when n is 0). */
double tlm__median_select(double *v, size_t n);
/* For the tests: 1.4826 * MAD of v[0..n) around its median, using tmp[n]
 * as scratch (v is reordered; 0 for a constant input, NaN when n is 0). */
double tlm__mad_scale(double *v, double *tmp, size_t n, double *median);

#endif
