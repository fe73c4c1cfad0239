/* Forecast of one evenly spaced series (request volume of an endpoint):
 * damped additive Holt-Winters with at least two full seasons, seasonal
 * naive with one, a flat median with less; a prediction band from the
 * in-sample residuals. Pure: no I/O, no global state. See
 * docs/anomalies.md. */
#ifndef TLM_SERVER_FORECAST_H
#define TLM_SERVER_FORECAST_H

#include "anomaly.h"

#include <stddef.h>
#include <stdint.h>

/* Two-sided probability of the band: an 80% prediction interval. */
#define TLM__FORECAST_BAND 0.80

struct tlm__forecast_point {
    int64_t t_ms; /* start of the forecast step */
    double expected, low, high;
};

enum tlm__forecast_method {
    TLM__FORECAST_NONE, /* no valid point: nothing forecast */
    TLM__FORECAST_FLAT, /* fewer than one full season */
    TLM__FORECAST_SEASONAL_NAIVE, /* one full season */
    TLM__FORECAST_HOLT_WINTERS, /* two full seasons or more */
};

/* What tlm__forecast_ex chose, for the tests and the dashboard. */
struct tlm__forecast_info {
    enum tlm__forecast_method method;
    double alpha, beta, gamma, phi; /* Holt-Winters only */
    double sigma; /* robust SD of the one-step in-sample residuals */
};

/* The next `horizon` points after s (s->start_ms + (s->n + h) * step_ms,
 * h = 0..horizon-1), with the season `period` in points (168 for a week of
 * hours, 24 for a day). Missing points (flag, NaN or inf) are imputed with
 * the model's own one-step forecast. When every valid input is >= 0, the
 * expected value and the band are clamped at 0. On success *out is
 * malloc'ed (the caller free()s it; NULL when *n is 0: horizon 0 or no
 * valid point) and 0 is returned; -1 on bad arguments (NULL pointers,
 * step_ms <= 0, times that overflow int64, period 0, v NULL with n > 0, horizon
 * > 10^6) or out of memory. Time O(n * 96 + horizon), memory O(n + period +
 * horizon). Thread-safe. */
int tlm__forecast(const struct tlm__series *s, size_t period, size_t horizon,
    struct tlm__forecast_point **out, size_t *n);

/* Same, and fills *info (may be NULL). */
int tlm__forecast_ex(const struct tlm__series *s, size_t period, size_t horizon,
    struct tlm__forecast_point **out, size_t *n,
    struct tlm__forecast_info *info);

#endif
