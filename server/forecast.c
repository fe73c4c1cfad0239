/* Forecasting one series: damped additive Holt-Winters fitted by a grid
 * search on the one-step in-sample error, seasonal naive or flat when the
 * history is too short. Pure and reentrant; allocates only scratch and the
 * result. */
#include "forecast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Z80 1.2815515655446004 /* standard normal quantile of 0.9 */
#define PHI 0.98 /* trend damping */
#define MAX_HORIZON 1000000
#define MAD_TO_SD 1.4826

static const double alphas[] = {0.05, 0.1, 0.2, 0.3, 0.5, 0.8};
static const double betas[] = {0, 0.01, 0.05, 0.1};
static const double gammas[] = {0.05, 0.1, 0.2, 0.4};

struct hw {
    double a, b, g;
    double level, trend;
    double *season; /* [period] */
};

static bool
valid(const struct tlm__series *s, size_t i)
{
    return !(s->missing && s->missing[i]) && isfinite(s->v[i]);
}

/* Mean of the valid points of season c; false when it has none. */
static bool
season_mean(const struct tlm__series *s, size_t p, size_t c, double *mean)
{
    double sum = 0;
    size_t m = 0;
    for (size_t j = c * p; j < (c + 1) * p; j++)
        if (valid(s, j)) {
            sum += s->v[j];
            m++;
        }
    if (m == 0)
        return false;
    *mean = sum / (double)m;
    return true;
}

/* Initial state, classical decomposition over every full season: level and
 * trend from the first two seasons' means, season indices from the
 * deviations from each season's mean averaged over all full seasons (less
 * noise than one season's). */
static bool
hw_init(const struct tlm__series *s, size_t p, struct hw *h, double *means)
{
    size_t seasons = s->n / p;
    for (size_t c = 0; c < seasons; c++)
        if (!season_mean(s, p, c, &means[c]))
            return false;
    h->trend = (means[1] - means[0]) / (double)p;
    /* means[0] is the level in the middle of season 0; the state is at
     * t = -1. */
    h->level = means[0] - h->trend * ((double)(p - 1) / 2 + 1);
    for (size_t j = 0; j < p; j++) {
        double sum = 0;
        size_t m = 0;
        for (size_t c = 0; c < seasons; c++)
            if (valid(s, c * p + j)) {
                /* The season's mean, corrected for the trend within it. */
                double mid = (double)j - (double)(p - 1) / 2;
                sum += s->v[c * p + j] - (means[c] + h->trend * mid);
                m++;
            }
        h->season[j] = m ? sum / (double)m : 0;
    }
    return true;
}

/* Runs the filter over s; stores one-step residuals after the first season
 * in res (when not NULL) and returns their sum of squares. */
static double
hw_run(const struct tlm__series *s, size_t p, struct hw *h, double *res,
    size_t *nres)
{
    double sse = 0;
    size_t m = 0;
    for (size_t t = 0; t < s->n; t++) {
        double *si = &h->season[t % p];
        double yhat = h->level + PHI * h->trend + *si;
        double x = yhat;
        if (valid(s, t)) {
            x = s->v[t];
            if (t >= p) {
                double e = x - yhat;
                sse += e * e;
                if (res)
                    res[m++] = e;
            }
        }
        double prev = h->level;
        h->level = h->a * (x - *si) + (1 - h->a) * (prev + PHI * h->trend);
        h->trend = h->b * (h->level - prev) + (1 - h->b) * PHI * h->trend;
        *si = h->g * (x - h->level) + (1 - h->g) * *si;
    }
    if (nres)
        *nres = m;
    return sse;
}

/* The q-quantile (lower) of v[0..n) by selection; reorders v; 0 when n is
 * 0. */
static double
quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    return tlm__nth_select(v, n, (size_t)(q * (double)(n - 1)));
}

/* Wirth's selection, as in anomaly.c, for the residuals' median. */
static double
robust_sd(double *v, size_t n)
{
    if (n == 0)
        return 0;
    double *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return NAN;
    double med;
    double sd = tlm__mad_scale(v, tmp, n, &med);
    free(tmp);
    return sd;
}

static int
holt_winters(const struct tlm__series *s, size_t p, size_t horizon,
    struct tlm__forecast_point *f, struct tlm__forecast_info *info)
{
    struct hw best = {0}, h = {0};
    double best_sse = INFINITY;
    double *init = malloc(p * sizeof *init);
    h.season = malloc(p * sizeof *h.season);
    double *res = malloc(s->n * sizeof *res);
    int rc = -1;
    if (!init || !h.season || !res)
        goto out;
    /* res doubles as the seasons' means (n / p <= n entries). */
    if (!hw_init(s, p, &h, res))
        goto out;
    double level0 = h.level, trend0 = h.trend;
    memcpy(init, h.season, p * sizeof *init);
    for (size_t i = 0; i < sizeof alphas / sizeof *alphas; i++)
        for (size_t j = 0; j < sizeof betas / sizeof *betas; j++)
            for (size_t k = 0; k < sizeof gammas / sizeof *gammas; k++) {
                h.a = alphas[i];
                h.b = betas[j];
                h.g = gammas[k];
                h.level = level0;
                h.trend = trend0;
                memcpy(h.season, init, p * sizeof *init);
                double sse = hw_run(s, p, &h, NULL, NULL);
                if (sse < best_sse) {
                    best_sse = sse;
                    best.a = h.a;
                    best.b = h.b;
                    best.g = h.g;
                }
            }
    h.a = best.a;
    h.b = best.b;
    h.g = best.g;
    h.level = level0;
    h.trend = trend0;
    memcpy(h.season, init, p * sizeof *init);
    size_t nres = 0;
    hw_run(s, p, &h, res, &nres);
    /* The band's unit: the 80% quantile of |one-step residual|, which keeps
     * the in-sample coverage right when the noise varies over the season
     * (Poisson counts are noisier at the peak); sigma is reported. */
    for (size_t i = 0; i < nres; i++)
        res[i] = fabs(res[i]);
    double q = 0;
    if (nres > 0) {
        double *tmp = malloc(nres * sizeof *tmp);
        if (!tmp)
            goto out;
        memcpy(tmp, res, nres * sizeof *tmp);
        q = quantile(tmp, nres, TLM__FORECAST_BAND);
        free(tmp);
    }
    double sigma = MAD_TO_SD * quantile(res, nres, 0.5);
    double damp = 0, var = 0;
    for (size_t k = 1; k <= horizon; k++) {
        damp += pow(PHI, (double)k);
        /* h-step variance of the additive model: sigma^2 (1 + sum c_j^2),
         * c_j = alpha (1 + j beta) + gamma [j multiple of the period]. */
        if (k > 1) {
            double j = (double)(k - 1);
            double c = h.a * (1 + j * h.b) + ((k - 1) % p == 0 ? h.g : 0);
            var += c * c;
        }
        double e = h.level + damp * h.trend + h.season[(s->n + k - 1) % p];
        double w = q * sqrt(1 + var);
        f[k - 1].expected = e;
        f[k - 1].low = e - w;
        f[k - 1].high = e + w;
    }
    info->method = TLM__FORECAST_HOLT_WINTERS;
    info->alpha = h.a;
    info->beta = h.b;
    info->gamma = h.g;
    info->phi = PHI;
    info->sigma = sigma;
    rc = 0;
out:
    free(init);
    free(h.season);
    free(res);
    return rc;
}

/* The last valid value at phase q (0..p-1) counting seasons back from the
 * end; false when none. */
static bool
last_at_phase(const struct tlm__series *s, size_t p, size_t q, double *x)
{
    size_t base = s->n - s->n % p; /* first index of the partial season */
    for (size_t c = base / p; c > 0; c--) {
        size_t j = (c - 1) * p + q;
        /* A point of the partial season is more recent when it exists. */
        if (j + p < s->n && valid(s, j + p)) {
            *x = s->v[j + p];
            return true;
        }
        if (valid(s, j)) {
            *x = s->v[j];
            return true;
        }
    }
    return false;
}

static int
simple(const struct tlm__series *s, size_t p, size_t horizon,
    struct tlm__forecast_point *f, struct tlm__forecast_info *info)
{
    double *v = malloc(s->n * sizeof *v), med = 0, sigma = 0;
    size_t m = 0;
    if (!v)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        if (valid(s, i))
            v[m++] = s->v[i];
    if (m == 0) {
        free(v);
        info->method = TLM__FORECAST_NONE;
        return 0;
    }
    bool naive = s->n >= p;
    if (naive) {
        /* Seasonal naive: the residuals are the lag-p differences. */
        size_t k = 0;
        for (size_t i = p; i < s->n; i++)
            if (valid(s, i) && valid(s, i - p))
                v[k++] = s->v[i] - s->v[i - p];
        if (k < 8) { /* too few: lag-1 differences of the season */
            k = 0;
            for (size_t i = 1; i < s->n; i++)
                if (valid(s, i) && valid(s, i - 1))
                    v[k++] = s->v[i] - s->v[i - 1];
        }
        sigma = k ? robust_sd(v, k) : 0;
        m = 0;
        for (size_t i = 0; i < s->n; i++)
            if (valid(s, i))
                v[m++] = s->v[i];
    }
    double *tmp = malloc(m * sizeof *tmp);
    if (!tmp || isnan(sigma)) {
        free(v);
        free(tmp);
        return -1;
    }
    double mad = tlm__mad_scale(v, tmp, m, &med);
    free(v);
    free(tmp);
    if (!naive)
        sigma = mad;
    for (size_t k = 0; k < horizon; k++) {
        double e = med, w;
        if (naive) {
            if (!last_at_phase(s, p, (s->n + k) % p, &e))
                e = med;
            w = Z80 * sigma * sqrt((double)(k / p + 1));
        } else {
            w = Z80 * sigma * sqrt(1 + 1.0 / (double)m);
        }
        f[k].expected = e;
        f[k].low = e - w;
        f[k].high = e + w;
    }
    info->method = naive ? TLM__FORECAST_SEASONAL_NAIVE : TLM__FORECAST_FLAT;
    info->sigma = sigma;
    return 0;
}

int
tlm__forecast_ex(const struct tlm__series *s, size_t period, size_t horizon,
    struct tlm__forecast_point **out, size_t *n,
    struct tlm__forecast_info *info)
{
    struct tlm__forecast_info scratch;
    struct tlm__forecast_point *f = NULL;
    if (!s || !out || !n || period == 0 || (s->n > 0 && !s->v)
        || horizon > MAX_HORIZON || !tlm__series_times_ok(s, horizon))
        return -1;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    bool nonneg = true;
    size_t valid_n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (valid(s, i)) {
            valid_n++;
            nonneg = nonneg && s->v[i] >= 0;
        }
    if (horizon == 0 || valid_n == 0) {
        *out = NULL;
        *n = 0;
        return 0;
    }
    f = calloc(horizon, sizeof *f);
    if (!f)
        return -1;
    int rc = -1;
    if (s->n >= 2 * period && period >= 2)
        rc = holt_winters(s, period, horizon, f, info);
    if (rc < 0 && info->method == TLM__FORECAST_NONE)
        rc = simple(s, period, horizon, f, info);
    if (rc < 0) {
        free(f);
        return -1;
    }
    for (size_t k = 0; k < horizon; k++) {
        f[k].t_ms = s->start_ms + (int64_t)(s->n + k) * s->step_ms;
        if (nonneg) {
            f[k].expected = f[k].expected < 0 ? 0 : f[k].expected;
            f[k].low = f[k].low < 0 ? 0 : f[k].low;
            f[k].high = f[k].high < 0 ? 0 : f[k].high;
        }
    }
    *out = f;
    *n = horizon;
    return 0;
}

int
tlm__forecast(const struct tlm__series *s, size_t period, size_t horizon,
    struct tlm__forecast_point **out, size_t *n)
{
    return tlm__forecast_ex(s, period, horizon, out, n, NULL);
}
