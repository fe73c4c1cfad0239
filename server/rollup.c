/* Rollup keys and aggregation (rollup.h): a batch's events folded per
 * minute key before the store writes them, and the dashboard computed in
 * one pass over rollup rows. Never touches a database or the network. */
#include "rollup.h"

#include "str_cmp.h"

#include <stdlib.h>
#include <string.h>

static const char *
str_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static int
status_class(const struct tlm__event *ev)
{
    if (!ev->has_status || ev->status < 100 || ev->status > 599)
        return 0;
    return ev->status / 100;
}

/* The dashboard's rule, as its SQL had it: error events, and requests
 * with status >= 500 or 0 (no response). */
static bool
is_error(const struct tlm__event *ev)
{
    return ev->type == TLM_EVENT_ERROR
        || (ev->has_status && (ev->status >= 500 || ev->status == 0));
}

static int64_t
floor_to(int64_t t, int64_t step)
{
    int64_t r = t % step;
    return r < 0 ? t - r - step : t - r;
}

struct keyed {
    int64_t t_ms;
    const char *env, *endpoint, *tier;
    int cls;
    size_t i; /* the event */
};

/* Interned strings (b->interned) are ordered by address. */
static int
cmp_keyed(const void *a, const void *b, void *interned)
{
    const struct keyed *x = a, *y = b;
    bool in = *(const bool *)interned;
    int c;
    if (x->t_ms != y->t_ms)
        return x->t_ms < y->t_ms ? -1 : 1;
    if ((c = tlm__str_order(x->env, y->env, in)) != 0)
        return c;
    if ((c = tlm__str_order(x->endpoint, y->endpoint, in)) != 0)
        return c;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1;
    return tlm__str_order(x->tier, y->tier, in);
}

static bool
same_key(const struct keyed *x, const struct keyed *y, bool interned)
{
    return cmp_keyed(x, y, &interned) == 0;
}

static int
add_event(struct tlm__rollup_row *r, const struct tlm__event *ev)
{
    double w = ev->sample_rate > 0 ? 1.0 / ev->sample_rate : 1.0;
    if (ev->type == TLM_EVENT_REQUEST) {
        r->requests += w;
        if (ev->has_response_time
                ? tlm__hist_record(&r->hist, ev->response_time_ms, w) != 0
                : tlm__hist_record_null(&r->hist, w) != 0)
            return -1;
    } else {
        r->other += w;
    }
    if (is_error(ev))
        r->errors += w;
    return 0;
}

static uint64_t
row_hash(const struct keyed *k)
{
    uint64_t h = tlm__hash_mix(0, (uint64_t)k->t_ms);
    h = tlm__hash_mix(h, (uint64_t)(uintptr_t)k->env);
    h = tlm__hash_mix(h, (uint64_t)(uintptr_t)k->endpoint);
    h = tlm__hash_mix(h, (uint64_t)k->cls);
    return tlm__hash_mix(h, (uint64_t)(uintptr_t)k->tier);
}

/* Interned strings: rows found through a hash of the key's pointers, in
 * one pass and first-seen order (each row is its own upsert, so order
 * does not matter). -1 when out of memory. */
static int
collect_interned(const struct tlm__store_batch *b, struct tlm__rollup_set *out)
{
    size_t n_slots = tlm__hash_slots(b->n_events);
    size_t *slots = calloc(n_slots, sizeof(*slots)); /* row + 1 */
    int rc = -1;
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < b->n_events; i++) {
        const struct tlm__event *ev = &b->events[i].ev;
        if (b->events[i].duplicate)
            continue;
        struct keyed k = {floor_to(ev->ts_ms, TLM_ROLLUP_MINUTE_MS),
            str_or_empty(ev->environment), str_or_empty(ev->endpoint),
            str_or_empty(ev->access_tier), status_class(ev), i};
        size_t j = row_hash(&k) & (n_slots - 1);
        struct tlm__rollup_row *r = NULL;
        for (; slots[j] != 0; j = (j + 1) & (n_slots - 1)) {
            struct tlm__rollup_row *x = &out->rows[slots[j] - 1];
            if (x->t_ms == k.t_ms && x->environment == k.env
                && x->endpoint == k.endpoint && x->tier == k.tier
                && x->status_class == k.cls) {
                r = x;
                break;
            }
        }
        if (r == NULL) {
            r = &out->rows[out->n++];
            r->t_ms = k.t_ms;
            r->environment = k.env;
            r->endpoint = k.endpoint;
            r->tier = k.tier;
            r->status_class = k.cls;
            slots[j] = out->n;
        }
        if (add_event(r, ev) != 0)
            goto out;
    }
    rc = 0;
out:
    free(slots);
    return rc;
}

int
tlm__rollup_collect(
    const struct tlm__store_batch *b, struct tlm__rollup_set *out)
{
    struct keyed *k = NULL;
    size_t n = 0;
    bool interned = b->interned;
    int rc = -1;
    out->rows = NULL;
    out->n = 0;
    if (b->n_events == 0)
        return 0;
    out->rows = calloc(b->n_events, sizeof(*out->rows));
    if (out->rows == NULL)
        goto out;
    if (interned) {
        rc = collect_interned(b, out);
        goto out;
    }
    k = malloc(b->n_events * sizeof(*k));
    if (k == NULL)
        goto out;
    for (size_t i = 0; i < b->n_events; i++) {
        const struct tlm__event *ev = &b->events[i].ev;
        if (b->events[i].duplicate)
            continue;
        k[n] = (struct keyed) {floor_to(ev->ts_ms, TLM_ROLLUP_MINUTE_MS),
            str_or_empty(ev->environment), str_or_empty(ev->endpoint),
            str_or_empty(ev->access_tier), status_class(ev), i};
        n++;
    }
    if (n > 1)
        qsort_r(k, n, sizeof(*k), cmp_keyed, &interned);
    for (size_t i = 0; i < n; i++) {
        struct tlm__rollup_row *r;
        if (i == 0 || !same_key(&k[i - 1], &k[i], interned)) {
            r = &out->rows[out->n++];
            r->t_ms = k[i].t_ms;
            r->environment = k[i].env;
            r->endpoint = k[i].endpoint;
            r->tier = k[i].tier;
            r->status_class = k[i].cls;
        }
        r = &out->rows[out->n - 1];
        if (add_event(r, &b->events[k[i].i].ev) != 0)
            goto out;
    }
    rc = 0;
out:
    free(k);
    if (rc != 0)
        tlm__rollup_set_free(out);
    return rc;
}

void
tlm__rollup_set_free(struct tlm__rollup_set *s)
{
    for (size_t i = 0; s->rows != NULL && i < s->n; i++)
        tlm__hist_free(&s->rows[i].hist);
    free(s->rows);
    s->rows = NULL;
    s->n = 0;
}

/* ---- the dashboard ---- */

/* Latencies accumulate densely (one float per slot, allocated on first
 * use): adding a row's buckets is then an indexed add, which is what
 * keeps a month of hourly rows well under the dashboard's budget. Floats
 * carry 24 bits, ample for ranking. */
struct dense {
    float *cnt;
};

struct ep_acc {
    char *name;
    double requests, errors, previous;
    double spark[TLM_DASH_SPARK];
    struct dense hist;
};

struct point_acc {
    double requests, errors;
    struct dense hist;
};

struct tlm__dash_builder {
    struct tlm__dash_query q;
    int64_t cur_from; /* q.from_ms down to the minute */
    int64_t prev_from;
    int64_t len;
    int64_t bucket_ms;
    int64_t first_point;
    size_t n_points;
    struct point_acc *points;
    struct ep_acc *eps;
    size_t n_eps, cap_eps;
    size_t *slots; /* open addressing over eps: index + 1, 0 empty */
    size_t last_ep; /* the last endpoint looked up: index + 1, 0 none */
    size_t n_slots;
    double events, errors, requests, all_events;
    struct tlm__dash_group tiers[TLM_DASH_MAX_TIERS];
    size_t n_tiers;
    struct tlm__dash_group envs[TLM_DASH_MAX_ENVS];
    size_t n_envs;
    uint16_t idx[TLM_HIST_SLOTS];
    double cnt[TLM_HIST_SLOTS];
};

/* Minute points up to 12 hours, hours up to 60 days, then days (widened
 * so a window never has more than TLM_DASH_MAX_POINTS). */
static int64_t
choose_bucket(int64_t len)
{
    int64_t b = len <= 12 * TLM_ROLLUP_HOUR_MS ? TLM_ROLLUP_MINUTE_MS
        : len <= 60 * TLM_ROLLUP_DAY_MS        ? TLM_ROLLUP_HOUR_MS
                                               : TLM_ROLLUP_DAY_MS;
    while (len / b >= TLM_DASH_MAX_POINTS)
        b *= 2;
    return b;
}

int
tlm__dash_builder_new(const struct tlm__dash_query *q,
    struct tlm__dash_builder **out, int64_t *scan_from)
{
    struct tlm__dash_builder *b = calloc(1, sizeof(*b));
    *out = NULL;
    if (b == NULL)
        return -1;
    b->q = *q;
    b->cur_from = floor_to(q->from_ms, TLM_ROLLUP_MINUTE_MS);
    b->len = q->to_ms - b->cur_from;
    if (b->len < 1)
        b->len = 1;
    b->prev_from = floor_to(b->cur_from - b->len, TLM_ROLLUP_MINUTE_MS);
    b->bucket_ms = choose_bucket(b->len);
    b->first_point = floor_to(b->cur_from, b->bucket_ms);
    b->n_points = (size_t)((q->to_ms - 1 - b->first_point) / b->bucket_ms + 1);
    if (b->n_points > TLM_DASH_MAX_POINTS)
        b->n_points = TLM_DASH_MAX_POINTS;
    b->points = calloc(b->n_points, sizeof(*b->points));
    b->n_slots = 64;
    b->slots = calloc(b->n_slots, sizeof(*b->slots));
    if (b->points == NULL || b->slots == NULL) {
        tlm__dash_builder_free(b);
        return -1;
    }
    *scan_from = b->prev_from;
    *out = b;
    return 0;
}

void
tlm__dash_builder_free(struct tlm__dash_builder *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_eps; i++) {
        free(b->eps[i].name);
        free(b->eps[i].hist.cnt);
    }
    free(b->eps);
    for (size_t i = 0; b->points != NULL && i < b->n_points; i++)
        free(b->points[i].hist.cnt);
    free(b->points);
    free(b->slots);
    free(b);
}

static int
grow_slots(struct tlm__dash_builder *b)
{
    size_t n = b->n_slots * 2;
    size_t *s = calloc(n, sizeof(*s));
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < b->n_eps; i++) {
        size_t h
            = (size_t)tlm__hash_bytes(b->eps[i].name, strlen(b->eps[i].name))
            & (n - 1);
        while (s[h] != 0)
            h = (h + 1) & (n - 1);
        s[h] = i + 1;
    }
    free(b->slots);
    b->slots = s;
    b->n_slots = n;
    return 0;
}

static struct ep_acc *
endpoint_acc(struct tlm__dash_builder *b, const char *name)
{
    size_t h;
    struct ep_acc *e;
    /* Rows come in key order: runs of one endpoint are common. */
    if (b->last_ep != 0 && strcmp(b->eps[b->last_ep - 1].name, name) == 0)
        return &b->eps[b->last_ep - 1];
    h = (size_t)tlm__hash_bytes(name, strlen(name)) & (b->n_slots - 1);
    while (b->slots[h] != 0) {
        e = &b->eps[b->slots[h] - 1];
        if (strcmp(e->name, name) == 0) {
            b->last_ep = b->slots[h];
            return e;
        }
        h = (h + 1) & (b->n_slots - 1);
    }
    if (b->n_eps == b->cap_eps) {
        size_t cap = b->cap_eps == 0 ? 32 : b->cap_eps * 2;
        void *p = realloc(b->eps, cap * sizeof(*b->eps));
        if (p == NULL)
            return NULL;
        b->eps = p;
        b->cap_eps = cap;
    }
    e = &b->eps[b->n_eps];
    memset(e, 0, sizeof(*e));
    e->name = strdup(name);
    if (e->name == NULL)
        return NULL;
    b->slots[h] = ++b->n_eps;
    b->last_ep = b->n_eps;
    if (b->n_eps * 2 > b->n_slots && grow_slots(b) != 0)
        return NULL;
    return e;
}

static struct tlm__dash_group *
group_acc(struct tlm__dash_group *g, size_t *n, size_t max, const char *name)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(g[i].name, name) == 0)
            return &g[i];
    }
    if (*n == max || strlen(name) >= TLM_DASH_NAME_MAX)
        return NULL; /* past the cap: left out */
    memset(&g[*n], 0, sizeof(g[*n]));
    memcpy(g[*n].name, name, strlen(name) + 1);
    return &g[(*n)++];
}

static int
dense_add(struct dense *d, const uint16_t *idx, const double *cnt, size_t n)
{
    if (n == 0)
        return 0;
    if (d->cnt == NULL) {
        d->cnt = calloc(TLM_HIST_SLOTS, sizeof(*d->cnt));
        if (d->cnt == NULL)
            return -1;
    }
    for (size_t i = 0; i < n; i++)
        d->cnt[idx[i]] += (float)cnt[i];
    return 0;
}

/* Weighted nearest-rank over a dense histogram, the no-latency slot
 * ranking first (as tlm__hist_quantile). */
static bool
dense_quantile(const struct dense *d, double q, double *ms)
{
    double tot = 0, cum;
    unsigned last = TLM_HIST_BUCKETS;
    if (d->cnt == NULL)
        return false;
    for (unsigned i = 0; i < TLM_HIST_SLOTS; i++)
        tot += d->cnt[i];
    cum = d->cnt[TLM_HIST_NULL];
    if (!(tot > cum))
        return false;
    for (unsigned i = 0; i < TLM_HIST_BUCKETS; i++) {
        if (d->cnt[i] <= 0)
            continue;
        cum += d->cnt[i];
        last = i;
        if (cum >= tot * (q - 1e-7)) {
            *ms = tlm__hist_value(i);
            return true;
        }
    }
    *ms = tlm__hist_value(last);
    return true;
}

static bool
matches(const char *filter, const char *v)
{
    return filter == NULL || strcmp(filter, v) == 0;
}

static int
add_current(struct tlm__dash_builder *b, const struct tlm__rollup_in *r)
{
    struct tlm__dash_group *g;
    size_t nb = 0;
    bool has_hist = r->hist != NULL && r->hist_len > 0;
    const uint16_t *idx = b->idx;
    const double *cnt = b->cnt;
    b->events += r->requests + r->other;
    b->errors += r->errors;
    b->requests += r->requests;
    g = group_acc(b->tiers, &b->n_tiers, TLM_DASH_MAX_TIERS, r->tier);
    if (g != NULL) {
        g->requests += r->requests;
        g->errors += r->errors;
    }
    if (has_hist
        && tlm__hist_decode(r->hist, r->hist_len, b->idx, b->cnt, &nb) != 0)
        return -1;
    if (r->hist == NULL && r->idx != NULL) {
        if (r->n_buckets > TLM_HIST_SLOTS)
            return -1;
        idx = r->idx;
        cnt = r->cnt;
        nb = r->n_buckets;
    }
    int64_t pi = (r->t_ms - b->first_point) / b->bucket_ms;
    if (pi >= 0 && (size_t)pi < b->n_points) {
        struct point_acc *p = &b->points[pi];
        p->requests += r->requests;
        p->errors += r->errors;
        if (dense_add(&p->hist, idx, cnt, nb) != 0)
            return -1;
    }
    if (r->endpoint[0] == '\0')
        return 0;
    struct ep_acc *e = endpoint_acc(b, r->endpoint);
    if (e == NULL)
        return -1;
    e->requests += r->requests;
    e->errors += r->errors;
    int64_t si = (r->t_ms - b->cur_from) * TLM_DASH_SPARK / b->len;
    if (si >= 0 && si < TLM_DASH_SPARK)
        e->spark[si] += r->requests;
    return dense_add(&e->hist, idx, cnt, nb);
}

int
tlm__dash_builder_add(
    struct tlm__dash_builder *b, const struct tlm__rollup_in *r)
{
    bool current = r->t_ms >= b->cur_from;
    if (r->t_ms < b->prev_from || r->t_ms >= b->q.to_ms)
        return 0;
    if (!matches(b->q.tier, r->tier) || !matches(b->q.endpoint, r->endpoint))
        return 0;
    if (current) {
        struct tlm__dash_group *g
            = group_acc(b->envs, &b->n_envs, TLM_DASH_MAX_ENVS, r->environment);
        if (g != NULL) {
            g->requests += r->requests;
            g->errors += r->errors;
        }
        b->all_events += r->requests + r->other;
    }
    if (!matches(b->q.environment, r->environment))
        return 0;
    if (current)
        return add_current(b, r);
    if (r->endpoint[0] == '\0')
        return 0;
    struct ep_acc *e = endpoint_acc(b, r->endpoint);
    if (e == NULL)
        return -1;
    e->previous += r->requests;
    return 0;
}

static int
cmp_ep(const void *a, const void *b)
{
    const struct ep_acc *x = a, *y = b;
    if (x->requests != y->requests)
        return x->requests > y->requests ? -1 : 1;
    if (x->errors != y->errors)
        return x->errors > y->errors ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int
cmp_group(const void *a, const void *b)
{
    const struct tlm__dash_group *x = a, *y = b;
    if (x->requests != y->requests)
        return x->requests > y->requests ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void
fill_endpoint(struct tlm__dash_endpoint *o, struct ep_acc *e, double total)
{
    o->requests = e->requests;
    o->errors = e->errors;
    o->share = total > 0 ? e->requests / total : 0;
    o->previous_requests = e->previous;
    o->has_trend = e->previous > 0;
    o->trend = o->has_trend ? e->requests / e->previous : 0;
    memcpy(o->sparkline, e->spark, sizeof(o->sparkline));
    if (e->requests > 0) {
        o->has_latency = dense_quantile(&e->hist, 0.50, &o->p50_ms);
        dense_quantile(&e->hist, 0.95, &o->p95_ms);
        dense_quantile(&e->hist, 0.99, &o->p99_ms);
    }
}

int
tlm__dash_builder_finish(
    struct tlm__dash_builder *b, struct tlm__dash_result *out)
{
    size_t keep = 0;
    out->rollups = true;
    out->events = b->events;
    out->errors = b->errors;
    /* Endpoints seen only in the previous window are not listed. */
    for (size_t i = 0; i < b->n_eps; i++) {
        if (b->eps[i].requests > 0 || b->eps[i].errors > 0)
            b->eps[keep++] = b->eps[i];
        else {
            free(b->eps[i].name);
            free(b->eps[i].hist.cnt);
        }
    }
    b->n_eps = keep;
    if (b->n_eps > 1) /* qsort with a NULL array is undefined */
        qsort(b->eps, b->n_eps, sizeof(*b->eps), cmp_ep);
    size_t n = b->n_eps < b->q.max_endpoints ? b->n_eps : b->q.max_endpoints;
    if (n > 0) {
        out->endpoints = calloc(n, sizeof(*out->endpoints));
        if (out->endpoints == NULL)
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        /* The name moves to the result. */
        out->endpoints[i].endpoint = b->eps[i].name;
        b->eps[i].name = NULL;
        out->n_endpoints++;
        fill_endpoint(&out->endpoints[i], &b->eps[i], b->requests);
    }
    out->bucket_ms = b->bucket_ms;
    out->n_points = b->n_points;
    for (size_t i = 0; i < b->n_points; i++) {
        struct tlm__dash_point *p = &out->points[i];
        p->t_ms = b->first_point + (int64_t)i * b->bucket_ms;
        p->requests = b->points[i].requests;
        p->errors = b->points[i].errors;
        p->has_p95 = dense_quantile(&b->points[i].hist, 0.95, &p->p95_ms);
    }
    if (b->n_tiers > 1)
        qsort(b->tiers, b->n_tiers, sizeof(b->tiers[0]), cmp_group);
    memcpy(out->tiers, b->tiers, b->n_tiers * sizeof(b->tiers[0]));
    out->n_tiers = b->n_tiers;
    if (b->n_envs > 1)
        qsort(b->envs, b->n_envs, sizeof(b->envs[0]), cmp_group);
    memcpy(out->envs, b->envs, b->n_envs * sizeof(b->envs[0]));
    out->n_envs = b->n_envs;
    out->events_per_s = b->all_events / ((double)b->len / 1000.0);
    return 0;
}

int
tlm__store_rollup_compact(struct tlm__store *st, int64_t minute_before_ms,
    int64_t hour_before_ms, uint64_t *folded)
{
    *folded = 0;
    if (st->ops->rollup_compact == NULL)
        return 1;
    return st->ops->rollup_compact(
        st, minute_before_ms, hour_before_ms, folded);
}
