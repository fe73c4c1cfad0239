/*
 * bench_dashboard.c - the analytics dashboard over a month of traffic on
 * SQLite: loads N request events (default 10 million; 50 endpoints, 3
 * tiers, 2 environments, 30 days ending now) through the store's
 * insert_batch with prepared events, 1000 per batch, as ingest does after
 * parsing; folds old rollups as the maintenance thread would; then times
 * the dashboard for the 30-day window (median of 5), both the store query
 * and the whole JSON. Before the load, it measures what the rollup writer
 * costs ingest: the same batches into two fresh databases, alternating,
 * one with the writer and one without, as a ratio of events/s.
 *
 * usage: bench-dashboard [EVENTS] [DIR]   (DIR default /tmp; files are
 * DIR/bench-dash*.db, removed first)
 *        bench-dashboard query [DIR]      (times the dashboard again on the
 * DIR/bench-dash.db a previous run left)
 *
 * Benchmark code: prints figures, asserts nothing.
 */
#include "analytics.h"
#include "rollup.h"
#include "store.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000
#define N_ENDPOINTS 50
#define SPAN_MS (30LL * 24 * 3600 * 1000)

static const char *const tiers[] = {"free", "pro", "enterprise"};
static const char *const envs[] = {"production", "sandbox"};
static char endpoints[N_ENDPOINTS][48];

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static double
unif(void)
{
    return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

struct gen {
    struct tlm__store_event ev[BATCH];
    char payload[BATCH][200];
    uint64_t next_id;
};

/* Batch k of n_batches: time-ordered (ingest sees recent events), each
 * batch a slice of the 30 days; endpoints skewed (endpoint i has weight
 * ~1/(i+1)), 90% production. */
static void
make_batch(struct gen *g, size_t k, size_t n_batches, int64_t t0)
{
    int64_t slice = SPAN_MS / (int64_t)n_batches;
    for (size_t i = 0; i < BATCH; i++) {
        struct tlm__store_event *se = &g->ev[i];
        struct tlm__event *e = &se->ev;
        uint64_t id = g->next_id++;
        size_t ep = (size_t)(pow(N_ENDPOINTS + 1, unif())) - 1;
        double u = unif();
        memset(se, 0, sizeof(*se));
        snprintf(e->id, sizeof(e->id), "0190c000-%04x-7%03x-8000-%012llx",
            (unsigned)((id >> 48) & 0xffff), (unsigned)((id >> 36) & 0xfff),
            (unsigned long long)(id & 0xffffffffffffull));
        e->type = TLM_EVENT_REQUEST;
        e->ts_ms = t0 + (int64_t)k * slice + (int64_t)(unif() * (double)slice);
        e->environment = envs[unif() < 0.9 ? 0 : 1];
        e->sample_rate = 1;
        e->endpoint = endpoints[ep < N_ENDPOINTS ? ep : N_ENDPOINTS - 1];
        e->access_tier = tiers[rnd() % 3];
        e->has_status = true;
        e->status = u < 0.01 ? 503 : u < 0.05 ? 404 : 200;
        e->has_response_time = true;
        e->response_time_ms
            = exp(3.0 + 0.8 * sqrt(-2 * log(unif())) * cos(2 * M_PI * unif()));
        int len = snprintf(g->payload[i], sizeof(g->payload[i]),
            "{\"type\":\"request\",\"id\":\"%s\",\"endpoint\":\"%s\","
            "\"status\":%d,\"access_tier\":\"%s\"}",
            e->id, e->endpoint, e->status, e->access_tier);
        se->payload = g->payload[i];
        se->payload_len = (size_t)len;
    }
}

static struct tlm__store *
open_db(const char *dir, const char *name, bool fresh)
{
    char path[512], url[560], err[256];
    struct tlm__store *st = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    for (const char *sfx = fresh ? "" : NULL; sfx != NULL; sfx = *sfx == '\0'
             ? "-wal"
             : *sfx == '-' && sfx[1] == 'w' ? "-shm"
                                            : NULL) {
        char f[600];
        snprintf(f, sizeof(f), "%s%s", path, sfx);
        unlink(f);
    }
    snprintf(url, sizeof(url), "sqlite:%s", path);
    if (tlm__store_open(url, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-dashboard: %s\n", err);
        exit(1);
    }
    return st;
}

static double
insert(struct tlm__store *st, struct gen *g, bool rollups)
{
    struct tlm__store_batch b = {.received_ms = wall_ms(),
        .events = g->ev,
        .n_events = BATCH,
        .skip_rollups = !rollups};
    size_t acc, dup;
    b.meta.event_count = BATCH;
    double t = now_s();
    if (tlm__store_insert_batch(st, &b, &acc, &dup) != 0 || acc != BATCH) {
        fprintf(stderr, "bench-dashboard: insert failed\n");
        exit(1);
    }
    return now_s() - t;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median5(double *v)
{
    qsort(v, 5, sizeof(*v), cmp_d);
    return v[2];
}

/* The dashboard for the 30-day window ending now: the store query and
 * the whole JSON, median of 5 each. */
static void
time_dashboard(struct tlm__store *st, int64_t now)
{
    struct tlm__dash_query q = {.from_ms = now - SPAN_MS,
        .to_ms = now + 1,
        .environment = "production",
        .max_endpoints = TLM_DASH_MAX_ENDPOINTS};
    struct tlm__dash_result *r = malloc(sizeof(*r));
    double store_s[5], json_s[5], t;
    char from[32], to[32];
    snprintf(from, sizeof(from), "%lld", (long long)q.from_ms);
    snprintf(to, sizeof(to), "%lld", (long long)q.to_ms);
    for (int i = 0; i < 5; i++) {
        t = now_s();
        if (tlm__store_dashboard(st, &q, r) != 0)
            exit(1);
        store_s[i] = now_s() - t;
        if (i == 0)
            printf("dashboard: %.0f events, %zu endpoints, %zu points, top "
                   "p95 %.2f ms\n",
                r->events, r->n_endpoints, r->n_points,
                r->n_endpoints > 0 ? r->endpoints[0].p95_ms : 0);
        tlm__dash_result_free(r);
        char *json = NULL;
        t = now_s();
        int status
            = tlm__analytics_dashboard(st, from, to, "production", now, &json);
        json_s[i] = now_s() - t;
        if (status != 200)
            fprintf(stderr, "dashboard JSON: %d %s\n", status, json);
        free(json);
    }
    printf("dashboard, 30-day window: store query %.1f ms, whole JSON %.1f ms "
           "(median of 5)\n",
        median5(store_s) * 1000, median5(json_s) * 1000);
    free(r);
}

int
main(int argc, char **argv)
{
    size_t n_events = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    const char *mode = argc > 1 ? argv[1] : "";
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    size_t n_batches = n_events / BATCH, ratio_batches = 200;
    struct gen *g = calloc(1, sizeof(*g));
    int64_t now = wall_ms(), t0 = now - SPAN_MS;
    double with = 0, without = 0, load;
    if (g == NULL || (n_batches == 0 && strcmp(mode, "query") != 0))
        return 1;
    for (int i = 0; i < N_ENDPOINTS; i++)
        snprintf(
            endpoints[i], sizeof(endpoints[i]), "/v1/resource-%02d/{id}", i);

    /* 1. What the rollup writer costs: the same batches, alternating. */
    if (strcmp(mode, "query") == 0) {
        struct tlm__store *st = open_db(dir, "bench-dash.db", false);
        time_dashboard(st, now);
        tlm__store_close(st);
        free(g);
        return 0;
    }
    struct tlm__store *a = open_db(dir, "bench-dash-with.db", true);
    struct tlm__store *b = open_db(dir, "bench-dash-without.db", true);
    for (size_t k = 0; k < ratio_batches; k++) {
        make_batch(g, k, ratio_batches, t0);
        if (k % 2 == 0) {
            with += insert(a, g, true);
            without += insert(b, g, false);
        } else {
            without += insert(b, g, false);
            with += insert(a, g, true);
        }
    }
    /* A store applying the analytics behind a cursor (SQLite) finishes
     * them here: the with-rollups time includes them. */
    double t_sync = now_s();
    tlm__store_analytics_sync(a);
    with += now_s() - t_sync;
    tlm__store_close(a);
    tlm__store_close(b);
    printf("ingest, %zu events each: with rollups %.0f events/s, without "
           "%.0f events/s, ratio %.3f\n",
        ratio_batches * BATCH, ratio_batches * BATCH / with,
        ratio_batches * BATCH / without,
        (ratio_batches * BATCH / with) / (ratio_batches * BATCH / without));
    fflush(stdout);

    /* 2. The month. */
    struct tlm__store *st = open_db(dir, "bench-dash.db", true);
    g->next_id = 1ull << 40;
    load = 0;
    for (size_t k = 0; k < n_batches; k++) {
        make_batch(g, k, n_batches, t0);
        load += insert(st, g, true);
        if ((k + 1) % 1000 == 0) {
            fprintf(stderr, "\r%zu events, %.0f events/s", (k + 1) * BATCH,
                (double)(k + 1) * BATCH / load);
        }
    }
    fprintf(stderr, "\n");
    double t_apply = now_s();
    tlm__store_analytics_sync(st);
    load += now_s() - t_apply;
    printf("loaded %zu events with rollups in %.1f s (%.0f events/s)\n",
        n_batches * BATCH, load, n_batches * BATCH / load);

    uint64_t folded = 0;
    double t = now_s();
    int rc = tlm__store_rollup_compact(
        st, now - 48 * 3600 * 1000LL, now - 60 * 24 * 3600 * 1000LL, &folded);
    printf("compaction (minutes before 48 h into hours): rc %d, %llu rows "
           "folded in %.1f s\n",
        rc, (unsigned long long)folded, now_s() - t);

    time_dashboard(st, now);
    tlm__store_close(st);
    free(g);
    return 0;
}
