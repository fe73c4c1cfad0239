/* Anomaly detection: per point a robust baseline (seasonal median of the
 * same time of day, a trailing median and MAD, or an EWMA for short
 * histories), then a sustained-for rule over the outside points. Pure and
 * reentrant; allocates only scratch and the result. Never divides by a
 * scale that can be 0: the band has a floor. */
#include "anomaly.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAD_TO_SD 1.4826
#define DAY_MS (24 * 3600 * 1000LL)
#define SEASONAL_MIN_DAYS 3 /* history before the seasonal baseline */
#define SEASONAL_MIN_SAMPLES 2
#define POOLED_MIN_PAIRS 8
#define EWMA_MIN_POINTS 8

const char *
tlm__metric_name(enum tlm__metric m)
{
    switch (m) {
    case TLM_METRIC_VOLUME:
        return "volume";
    case TLM_METRIC_ERROR_RATE:
        return "error_rate";
    case TLM_METRIC_P95:
        return "p95";
    }
    return "unknown";
}

void
tlm__anomaly_options_default(
    struct tlm__anomaly_options *o, enum tlm__metric m, int64_t step_ms)
{
    memset(o, 0, sizeof *o);
    o->k = 3.5;
    o->sustained = 3;
    o->seasonal = true;
    o->ewma_alpha = 0.1;
    if (step_ms >= 3600 * 1000LL)
        o->baseline_points = (size_t)(14 * DAY_MS / step_ms);
    else
        o->baseline_points = 120;
    if (m == TLM_METRIC_P95 && step_ms < 3600 * 1000LL)
        o->baseline_points = 240;
    if (o->baseline_points < 8)
        o->baseline_points = 8;
    o->creep_points = m == TLM_METRIC_P95 ? 15 : 0;
    o->creep_min_rel = 0.2;
    switch (m) {
    case TLM_METRIC_VOLUME:
        o->min_abs_change = 3;
        o->min_rel_change = 0.1;
        break;
    case TLM_METRIC_ERROR_RATE:
        o->min_abs_change = 0.01;
        o->min_rel_change = 0;
        break;
    case TLM_METRIC_P95:
        o->min_abs_change = 5;
        o->min_rel_change = 0.1;
        break;
    }
}

/* Wirth's selection: the k-th smallest of v[0..n), reordering v so that
 * v[0..k) <= v[k] <= v[k+1..n). O(n) expected, no allocation. */
static double
select_kth(double *v, size_t n, size_t kk)
{
    ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, k = (ptrdiff_t)kk;
    while (l < r) {
        double x = v[k];
        ptrdiff_t i = l, j = r;
        do {
            while (v[i] < x)
                i++;
            while (x < v[j])
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < k)
            l = i;
        if (k < i)
            r = j;
    }
    return v[k];
}

double
tlm__nth_select(double *v, size_t n, size_t k)
{
    return n == 0 || k >= n ? NAN : select_kth(v, n, k);
}

double
tlm__median_select(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double hi = select_kth(v, n, n / 2);
    if (n % 2)
        return hi;
    /* After selection v[0..n/2) holds the smaller half: its maximum. */
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo)
            lo = v[i];
    return lo + (hi - lo) / 2;
}

double
tlm__mad_scale(double *v, double *tmp, size_t n, double *median)
{
    double med = tlm__median_select(v, n);
    if (median)
        *median = med;
    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(v[i] - med);
    return MAD_TO_SD * tlm__median_select(tmp, n);
}

struct detector {
    const struct tlm__series *s;
    const struct tlm__anomaly_options *o;
    enum tlm__metric metric;
    size_t per_day; /* points per day, 0 when the step does not divide it */
    size_t lookback_days;
    bool *outlier; /* excluded from later baselines */
    double *buf, *tmp;
    double ew_mean, ew_var;
    size_t ew_count;
};

struct baseline {
    double expected;
    double half; /* half width of the band, > 0 */
    double scale; /* before the floors */
    bool window; /* from the trailing window (the creep rule's base) */
};

static bool
valid(const struct tlm__series *s, size_t i)
{
    return !(s->missing && s->missing[i]) && isfinite(s->v[i]);
}

static bool
usable(const struct detector *d, size_t i)
{
    return valid(d->s, i) && !d->outlier[i];
}

/* Saturday or Sunday (UTC) for the step starting at point i. */
static bool
weekend(const struct tlm__series *s, size_t i)
{
    int64_t t = s->start_ms + (int64_t)i * s->step_ms;
    int64_t day = t / DAY_MS - (t % DAY_MS < 0);
    int64_t dow = ((day % 7) + 7 + 4) % 7; /* 1970-01-01 was a Thursday */
    return dow == 0 || dow == 6;
}

/* Noise of one point around its seasonal expectation, pooled over the
 * trailing window: day-over-day differences of same-kind days. */
static double
pooled_noise(struct detector *d, size_t i)
{
    size_t w = d->o->baseline_points, p = d->per_day, m = 0;
    size_t lo = i > w ? i - w : 0;
    if (lo < p)
        lo = p;
    for (size_t j = lo; j < i; j++) {
        if (!valid(d->s, j) || !valid(d->s, j - p)
            || weekend(d->s, j) != weekend(d->s, j - p))
            continue;
        d->buf[m++] = fabs(d->s->v[j] - d->s->v[j - p]);
    }
    if (m < POOLED_MIN_PAIRS)
        return 0;
    return MAD_TO_SD * tlm__median_select(d->buf, m) / sqrt(2.0);
}

static bool
seasonal_baseline(struct detector *d, size_t i, double *exp, double *scale)
{
    size_t p = d->per_day, m = 0;
    if (!d->o->seasonal || p < 2 || i < SEASONAL_MIN_DAYS * p)
        return false;
    bool we = weekend(d->s, i);
    for (size_t k = 1; k <= d->lookback_days && k * p <= i; k++) {
        size_t j = i - k * p;
        /* Outliers stay in: the median of several days shrugs off one
         * bad day, and a peak that fired on the first days (before there
         * was a seasonal baseline) is the season, not an anomaly. */
        if (valid(d->s, j) && weekend(d->s, j) == we)
            d->buf[m++] = d->s->v[j];
    }
    if (m < SEASONAL_MIN_SAMPLES)
        return false;
    double mad = tlm__mad_scale(d->buf, d->tmp, m, exp);
    double pooled = pooled_noise(d, i);
    *scale = mad > pooled ? mad : pooled;
    return true;
}

/* The last baseline_points usable points ending `sustained` points before
 * i, looking back at most two windows: the points of an ongoing anomaly are
 * skipped, so the baseline keeps the level from before it. */
static bool
window_baseline(struct detector *d, size_t i, double *exp, double *scale)
{
    size_t w = d->o->baseline_points, lag = d->o->sustained, m = 0;
    size_t hi = i > lag ? i - lag : 0;
    size_t lo = hi > 2 * w ? hi - 2 * w : 0;
    for (size_t j = hi; j > lo && m < w; j--)
        if (usable(d, j - 1))
            d->buf[m++] = d->s->v[j - 1];
    if (m < w / 2 || m < 3)
        return false;
    *scale = tlm__mad_scale(d->buf, d->tmp, m, exp);
    return true;
}

static bool
ewma_baseline(const struct detector *d, double *exp, double *scale)
{
    if (d->ew_count < EWMA_MIN_POINTS)
        return false;
    /* The variance starts at 0: correct its bias like Adam's moments. */
    double corr = 1 - pow(1 - d->o->ewma_alpha, (double)d->ew_count - 1);
    *exp = d->ew_mean;
    *scale = corr > 0 ? sqrt(d->ew_var / corr) : 0;
    return true;
}

static double
band_half(const struct tlm__anomaly_options *o, double exp, double scale)
{
    double h = o->k * scale;
    if (h < o->min_abs_change)
        h = o->min_abs_change;
    if (h < o->min_rel_change * fabs(exp))
        h = o->min_rel_change * fabs(exp);
    double floor = 1e-9 * (fabs(exp) > 1 ? fabs(exp) : 1);
    return h > floor ? h : floor;
}

static bool
baseline_at(struct detector *d, size_t i, struct baseline *b)
{
    double exp = 0, scale = 0;
    b->window = false;
    if (!seasonal_baseline(d, i, &exp, &scale)) {
        b->window = window_baseline(d, i, &exp, &scale);
        if (!b->window && !ewma_baseline(d, &exp, &scale))
            return false;
    }
    b->expected = exp;
    b->scale = scale;
    b->half = band_half(d->o, exp, scale);
    double c = d->s->count ? d->s->count[i] : 0;
    if (d->metric == TLM_METRIC_ERROR_RATE && isfinite(c) && c > 0) {
        double p = exp > 1 / c ? exp : 1 / c;
        p = p > 1 ? 1 : p;
        double h = d->o->k * sqrt(p * (1 - p) / c);
        b->half = h > b->half ? h : b->half;
    }
    return true;
}

static void
ewma_update(struct detector *d, double x)
{
    double a = d->o->ewma_alpha;
    if (d->ew_count++ == 0) {
        d->ew_mean = x;
        d->ew_var = 0;
        return;
    }
    double dev = x - d->ew_mean, e, s;
    /* Huber-clip outliers so that one spike does not drag the baseline. */
    if (ewma_baseline(d, &e, &s)) {
        double h = band_half(d->o, e, s);
        if (dev > h)
            dev = h;
        else if (dev < -h)
            dev = -h;
    }
    d->ew_mean += a * dev;
    d->ew_var = (1 - a) * (d->ew_var + a * dev * dev);
}

/* The slow-creep rule: the median of the last creep_points valid points
 * (outliers included: a creep is made of them) against a band narrowed to
 * that median's noise. Sets *level and *half when it fires. */
static bool
creep_outside(struct detector *d, size_t i, const struct baseline *b,
    double *level, double *half)
{
    size_t m = d->o->creep_points, k = 0;
    if (m < 2 || !b->window)
        return false;
    for (size_t j = i + 1; j > 0 && k < m; j--)
        if (valid(d->s, j - 1))
            d->buf[k++] = d->s->v[j - 1];
    if (k < m)
        return false;
    *level = tlm__median_select(d->buf, k);
    double narrow = 1.2533 / sqrt((double)m);
    *half = band_half(d->o, b->expected, b->scale * narrow);
    if (*half < d->o->creep_min_rel * fabs(b->expected))
        *half = d->o->creep_min_rel * fabs(b->expected);
    return fabs(*level - b->expected) > *half;
}

/* The anomaly being built: from the first outside point of a run. */
struct run {
    size_t start, last_out, outside, inside;
    double worst, expected, half, observed;
    double start_expected; /* the normal level before the run */
    double start_half;
};

/* The last anomaly that closed: for two windows after it, a return to the
 * level it left (within the wider of its band and the current one) is not
 * a new anomaly in the other direction, though the baseline has moved. */
struct echo {
    bool have;
    size_t end;
    double expected, half;
    int dir;
};

static bool
is_echo(const struct echo *e, size_t i, size_t window, double x,
    const struct baseline *b)
{
    if (!e->have || i - e->end > 2 * window)
        return false;
    int dir = x > b->expected ? 1 : -1;
    double half = e->half > b->half ? e->half : b->half;
    return dir == -e->dir && fabs(x - e->expected) <= half;
}

static const char *
severity_label(double r)
{
    if (r < 1.5)
        return "low";
    if (r < 2.5)
        return "medium";
    if (r < 5)
        return "high";
    return "critical";
}

static void
run_track(struct run *r, size_t i, double x, const struct baseline *b)
{
    double sev = fabs(x - b->expected) / b->half;
    r->last_out = i;
    r->outside++;
    r->inside = 0;
    if (sev > r->worst) {
        r->worst = sev;
        r->expected = b->expected;
        r->half = b->half;
        r->observed = x;
    }
}

struct out_list {
    struct tlm__anomaly *v;
    size_t n, cap;
};

static int
emit(struct out_list *l, const struct detector *d, enum tlm__metric m,
    const struct run *r, bool ongoing)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct tlm__anomaly *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    const struct tlm__series *s = d->s;
    struct tlm__anomaly *a = &l->v[l->n++];
    a->start_ms = s->start_ms + (int64_t)r->start * s->step_ms;
    a->end_ms = s->start_ms + (int64_t)(r->last_out + 1) * s->step_ms;
    a->metric = m;
    a->expected = r->expected;
    a->low = r->expected - r->half;
    a->high = r->expected + r->half;
    a->observed = r->observed;
    a->severity = r->worst;
    a->severity_label = severity_label(r->worst);
    a->points_outside = r->outside;
    a->ongoing = ongoing;
    return 0;
}

static bool
options_ok(const struct tlm__anomaly_options *o)
{
    return isfinite(o->k) && o->k > 0 && o->sustained > 0
        && o->baseline_points > 0 && isfinite(o->ewma_alpha)
        && o->ewma_alpha > 0 && o->ewma_alpha <= 1
        && isfinite(o->min_abs_change) && o->min_abs_change >= 0
        && isfinite(o->min_rel_change) && o->min_rel_change >= 0
        && isfinite(o->creep_min_rel) && o->creep_min_rel >= 0;
}

/* Walks the series once; the sustained-for state machine. */
static int
scan(struct detector *d, enum tlm__metric m, struct out_list *l)
{
    const struct tlm__series *s = d->s;
    size_t sus = d->o->sustained, cap = d->o->baseline_points;
    struct run r = {0};
    struct echo echo = {0};
    bool open = false;
    for (size_t i = 0; i < s->n; i++) {
        if (!valid(s, i))
            continue;
        struct baseline b;
        double x = s->v[i], level, half;
        bool have = baseline_at(d, i, &b);
        bool out = have && fabs(x - b.expected) > b.half;
        if (have && !out && creep_outside(d, i, &b, &level, &half)) {
            out = true;
            x = level; /* reported as observed, with its own band */
            b.half = half;
        }
        if (out && !open && is_echo(&echo, i, cap, x, &b))
            out = false;
        if (out) {
            if (!open && r.outside == 0) {
                memset(&r, 0, sizeof r);
                r.start = i;
                r.start_expected = b.expected;
                r.start_half = b.half;
            }
            run_track(&r, i, x, &b);
            /* An anomaly longer than the window is the new normal. */
            d->outlier[i] = r.outside <= cap;
            if (!open && r.outside >= sus)
                open = true;
        } else if (open) {
            if (++r.inside >= sus) {
                if (emit(l, d, m, &r, false) < 0)
                    return -1;
                echo.have = true;
                echo.end = i;
                echo.expected = r.start_expected;
                echo.half = r.start_half;
                echo.dir = r.observed > r.expected ? 1 : -1;
                open = false;
                r.outside = 0;
            }
        } else {
            r.outside = 0;
        }
        ewma_update(d, s->v[i]);
    }
    if (open && emit(l, d, m, &r, r.inside == 0) < 0)
        return -1;
    return 0;
}

bool
tlm__series_times_ok(const struct tlm__series *s, size_t extra)
{
    if (!s || s->step_ms <= 0 || s->n > SIZE_MAX - extra)
        return false;
    uint64_t steps = (uint64_t)s->n + extra;
    if (steps > (uint64_t)(INT64_MAX / s->step_ms))
        return false;
    int64_t span = (int64_t)steps * s->step_ms;
    return s->start_ms >= 0 ? s->start_ms <= INT64_MAX - span
                            : s->start_ms >= INT64_MIN + span;
}

int
tlm__anomalies_detect(const struct tlm__series *s, enum tlm__metric m,
    const struct tlm__anomaly_options *o, struct tlm__anomaly **out, size_t *n)
{
    struct tlm__anomaly_options def;
    struct detector d = {0};
    struct out_list l = {0};
    int rc = -1;
    if (!s || !out || !n || !tlm__series_times_ok(s, 1) || (s->n > 0 && !s->v))
        return -1;
    if (!o) {
        tlm__anomaly_options_default(&def, m, s->step_ms);
        o = &def;
    }
    if (!options_ok(o))
        return -1;
    d.s = s;
    d.o = o;
    d.metric = m;
    if (DAY_MS % s->step_ms == 0)
        d.per_day = (size_t)(DAY_MS / s->step_ms);
    d.lookback_days = d.per_day ? o->baseline_points / d.per_day : 0;
    if (d.lookback_days < SEASONAL_MIN_DAYS)
        d.lookback_days = SEASONAL_MIN_DAYS;
    size_t scratch = o->baseline_points > d.lookback_days ? o->baseline_points
                                                          : d.lookback_days;
    if (scratch < o->creep_points)
        scratch = o->creep_points;
    if (s->n > 0) {
        d.outlier = calloc(s->n, sizeof *d.outlier);
        d.buf = malloc(scratch * sizeof *d.buf);
        d.tmp = malloc(scratch * sizeof *d.tmp);
        if (!d.outlier || !d.buf || !d.tmp)
            goto out;
        if (scan(&d, m, &l) < 0)
            goto out;
    }
    rc = 0;
out:
    free(d.outlier);
    free(d.buf);
    free(d.tmp);
    if (rc < 0 || l.n == 0) {
        free(l.v);
        l.v = NULL;
        l.n = 0;
    }
    if (rc == 0) {
        *out = l.v;
        *n = l.n;
    }
    return rc;
}
