/*
 * bench_track.c - caller-thread cost of tlm_track_request(), measured in the
 * same run against an empty function called the same way, with 1 and 2
 * producer threads; plus a 100k-event burst with the default options.
 *
 * Prints figures only; it asserts nothing about time.
 */
#include "bench_common.h"
#include "telemetry.h"

#include <pthread.h>
#include <stdbool.h>

#define NREQ 256 /* distinct prepared events, cycled through */

typedef int (*track_fn)(tlm_client *c, const tlm_request *r);

/* The baseline: what the call itself costs (indirect call, arguments,
 * return value check), with nothing done inside. */
__attribute__((noinline)) static int
empty_track(tlm_client *c, const tlm_request *r)
{
    __asm__ volatile("" : : "r"(c), "r"(r) : "memory");
    return 0;
}

enum { DATA_PLAIN = 0, DATA_DETAILS, DATA_BIG, NDATA };

typedef struct variant {
    const char *name;
    track_fn fn;
    int data;
} variant;

static const variant variants[] = {
    {"baseline (empty fn)", empty_track, DATA_PLAIN},
    {"track, details NULL", tlm_track_request, DATA_PLAIN},
    {"track, details 62 B", tlm_track_request, DATA_DETAILS},
    {"track, details 300 B", tlm_track_request, DATA_BIG},
};
#define NVARIANTS (int)(sizeof(variants) / sizeof(variants[0]))

static tlm_request reqs[NDATA][NREQ];
static char user_ids[NREQ][24];
static char org_ids[NREQ][16];
static char big_details[320];

static const char *const endpoints[] = {
    "/v1/users/{user_id}",
    "/v1/users/{user_id}/api-keys",
    "/v1/organizations/{org_id}/projects",
    "/v1/organizations/{org_id}/projects/{project_id}/deployments",
    "/v1/search",
    "/v1/invoices/{invoice_id}",
    "/v2/models/{model}/completions",
    "/v1/webhooks/{webhook_id}/deliveries",
};
static const char *const methods[]
    = {"GET", "GET", "POST", "GET", "PUT", "GET", "POST", "DELETE"};
static const int statuses[] = {200, 200, 200, 201, 200, 404, 200, 429, 200, 500,
    200, 204, 200, 400, 200, 200};
static const char *const tiers[] = {"free", "pro", "enterprise", "pro"};

static void
make_requests(void)
{
    size_t i, d;

    memset(big_details, 0, sizeof(big_details));
    snprintf(big_details, sizeof(big_details), "{\"query\":\"");
    for (i = strlen(big_details); i < 290; i++)
        big_details[i] = (char)('a' + i % 26);
    snprintf(big_details + 290, sizeof(big_details) - 290, "\"}");
    for (i = 0; i < NREQ; i++) {
        snprintf(user_ids[i], sizeof(user_ids[i]), "usr_%08zx%04zx",
            (i * 2654435761u) & 0xffffffffu, i);
        snprintf(org_ids[i], sizeof(org_ids[i]), "org_%06zx",
            (i * 40503u) & 0xffffffu);
        for (d = 0; d < NDATA; d++) {
            tlm_request *r = &reqs[d][i];

            tlm_request_init(r);
            r->endpoint = endpoints[i % 8];
            r->method = methods[i % 8];
            r->response_status = statuses[i % 16];
            r->response_time_ms = 3.0 + (double)((i * 37) % 400) * 0.73;
            r->user_id = user_ids[i];
            r->organization_id = org_ids[i];
            r->access_tier = tiers[i % 4];
            if (d == DATA_DETAILS)
                r->request_details = "{\"page_size\":50,\"sort\":\"created_at"
                                     "\",\"filter\":\"status:active\"}";
            else if (d == DATA_BIG)
                r->request_details = big_details;
        }
    }
}

/* ---- one measured run ----------------------------------------------------
 */
typedef struct job {
    tlm_client *c;
    track_fn fn;
    const tlm_request *reqs;
    uint32_t n_batched; /* calls timed in groups of `batch` */
    uint32_t n_single; /* calls timed one by one */
    uint32_t batch;
    double ns_per_tick;
    pthread_barrier_t *barrier;
    double *batch_ns; /* per call, one sample per group */
    double *single_ns; /* per call */
    uint64_t t_begin, t_end; /* CLOCK_MONOTONIC around the batched phase */
    uint64_t allocs, errors;
} job;

static void *
job_main(void *arg)
{
    job *j = arg;
    track_fn fn = j->fn;
    uint32_t i = 0, b, k, nb = j->n_batched / j->batch;
    uint64_t t0, t1, errors = 0;
    int rc;

    pthread_barrier_wait(j->barrier);
    bench_allocs = 0;
    bench_counting = 1;
    j->t_begin = bench_mono_ns();
    for (b = 0; b < nb; b++) {
        t0 = bench_ticks();
        for (k = 0; k < j->batch; k++) {
            rc = fn(j->c, &j->reqs[i++ & (NREQ - 1)]);
            errors += rc != 0;
        }
        t1 = bench_ticks();
        j->batch_ns[b] = (double)(t1 - t0) * j->ns_per_tick / j->batch;
    }
    j->t_end = bench_mono_ns();
    bench_counting = 0;
    pthread_barrier_wait(j->barrier);
    bench_counting = 1;
    for (k = 0; k < j->n_single; k++) {
        t0 = bench_ticks();
        rc = fn(j->c, &j->reqs[i++ & (NREQ - 1)]);
        t1 = bench_ticks();
        errors += rc != 0;
        j->single_ns[k] = (double)(t1 - t0) * j->ns_per_tick;
    }
    bench_counting = 0;
    j->allocs = bench_allocs;
    j->errors = errors;
    return NULL;
}

typedef struct result {
    double mean, med, p99; /* batched: per call */
    double s_med, s_p99, s_p999, s_max; /* one call at a time */
    double mev_s; /* calls per second, all threads, batched phase */
    double allocs_per_ev;
    uint64_t errors, dropped;
} result;

typedef struct config {
    const char *endpoint;
    const char *api_key;
    uint32_t events; /* batched calls per thread and run */
    uint32_t batch;
    int repeats;
    bool cold;
    uint32_t burst_events;
    const char *spool_dir; /* --spool DIR: the burst with a spool */
    double ns_per_tick;
} config;

static uint64_t
dropped_total(tlm_client *c)
{
    tlm_stats s;

    tlm_stats_init(&s);
    (void)tlm_client_stats(c, &s);
    return s.dropped_queue_full + s.dropped_oversize + s.dropped_disabled;
}

static int
run_jobs(const config *cfg, tlm_client *c, const variant *v, int nthreads,
    result *res)
{
    pthread_barrier_t barrier;
    pthread_t tid[2];
    job jobs[2];
    size_t nb = cfg->events / cfg->batch, ns = cfg->events / 4;
    double *bs = calloc(nb * 2, sizeof(double));
    double *ss = calloc(ns * 2, sizeof(double));
    uint64_t begin = UINT64_MAX, end = 0, allocs = 0, d0;
    int t;

    if (bs == NULL || ss == NULL)
        return -1;
    memset(res, 0, sizeof(*res));
    pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
    d0 = dropped_total(c);
    for (t = 0; t < nthreads; t++) {
        jobs[t] = (job) {.c = c,
            .fn = v->fn,
            .reqs = reqs[v->data],
            .n_batched = (uint32_t)(nb * cfg->batch),
            .n_single = (uint32_t)ns,
            .batch = cfg->batch,
            .ns_per_tick = cfg->ns_per_tick,
            .barrier = &barrier,
            .batch_ns = bs + (size_t)t * nb,
            .single_ns = ss + (size_t)t * ns};
        pthread_create(&tid[t], NULL, job_main, &jobs[t]);
    }
    for (t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        begin = jobs[t].t_begin < begin ? jobs[t].t_begin : begin;
        end = jobs[t].t_end > end ? jobs[t].t_end : end;
        allocs += jobs[t].allocs;
        res->errors += jobs[t].errors;
    }
    pthread_barrier_destroy(&barrier);
    res->dropped = dropped_total(c) - d0;
    for (t = 0; t < (int)(nb * (size_t)nthreads); t++)
        res->mean += bs[t];
    res->mean /= (double)(nb * (size_t)nthreads);
    res->med = bench_quantile(bs, nb * (size_t)nthreads, 0.5);
    res->p99 = bench_quantile(bs, nb * (size_t)nthreads, 0.99);
    res->s_med = bench_quantile(ss, ns * (size_t)nthreads, 0.5);
    res->s_p99 = bench_quantile(ss, ns * (size_t)nthreads, 0.99);
    res->s_p999 = bench_quantile(ss, ns * (size_t)nthreads, 0.999);
    res->s_max = ss[ns * (size_t)nthreads - 1];
    res->mev_s = (double)(nb * cfg->batch) * nthreads / ((end - begin) / 1e3);
    res->allocs_per_ev
        = (double)allocs / ((double)(nb * cfg->batch + ns) * nthreads);
    free(bs);
    free(ss);
    return 0;
}

static int
client_open(const config *cfg, uint32_t queue_events, tlm_client **out)
{
    tlm_options *o = tlm_options_new();
    int rc;

    if (o == NULL)
        return TLM_ENOMEM;
    rc = tlm_options_set_endpoint(o, cfg->endpoint);
    if (rc == 0 && cfg->api_key != NULL)
        rc = tlm_options_set_api_key(o, cfg->api_key);
    if (rc == 0 && queue_events != 0)
        rc = tlm_options_set_max_queue_events(o, queue_events);
    if (rc == 0 && cfg->spool_dir != NULL)
        rc = tlm_options_set_spool_dir(o, cfg->spool_dir);
    if (rc == 0)
        rc = tlm_client_new(out, o);
    tlm_options_free(o);
    return rc;
}

static void
sleep_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&d, NULL);
}

/* Empties the queue through the opt-out purge so the next run starts on an
 * empty queue whose slots have all been touched before. */
static void
queue_reset(tlm_client *c)
{
    tlm_stats s;

    (void)tlm_client_set_enabled(c, 0);
    do {
        sleep_ms(1);
        tlm_stats_init(&s);
        (void)tlm_client_stats(c, &s);
    } while (s.queue_depth > 0);
    (void)tlm_client_set_enabled(c, 1);
}

/* Touches every slot of the queue once (fills it up), then empties it. */
static uint64_t
queue_warm(tlm_client *c)
{
    uint64_t n = 0;

    while (tlm_track_request(c, &reqs[DATA_DETAILS][n & (NREQ - 1)]) == 0)
        n++;
    queue_reset(c);
    return n;
}

static int
bench_latency(const config *cfg)
{
    static result all[8][2][NVARIANTS];
    tlm_client *c;
    int r, t, v, rc;

    printf("# tlm_track_request caller cost; %u calls/thread timed in groups "
           "of %u, %u timed one by one; ns per call\n",
        cfg->events, cfg->batch, cfg->events / 4);
    printf("%-3s %-2s %-22s %8s %8s %8s %8s %8s %9s %9s %7s %7s\n", "run", "T",
        "variant", "grp_med", "grp_p99", "one_med", "one_p99", "one_p999",
        "one_max", "Mcalls/s", "alloc/e", "drops");
    for (r = 0; r < cfg->repeats; r++) {
        for (t = 0; t < 2; t++) {
            c = NULL;
            for (v = 0; v < NVARIANTS; v++) {
                result *x = &all[r][t][v];

                if (c == NULL) {
                    rc = client_open(cfg, 1u << 20, &c);
                    if (rc != 0) {
                        fprintf(
                            stderr, "tlm_client_new: %s\n", tlm_strerror(rc));
                        return 1;
                    }
                    if (!cfg->cold)
                        queue_warm(c);
                }
                if (run_jobs(cfg, c, &variants[v], t + 1, x) != 0)
                    return 1;
                printf("%-3d %-2d %-22s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f "
                       "%9.0f %9.2f %7.3f %7llu\n",
                    r + 1, t + 1, variants[v].name, x->mean, x->med, x->p99,
                    x->s_med, x->s_p99, x->s_p999, x->s_max, x->mev_s,
                    x->allocs_per_ev,
                    (unsigned long long)(x->dropped + x->errors));
                fflush(stdout);
                if (cfg->cold) {
                    /* first touch of every slot: a new queue each time */
                    tlm_client_free(c);
                    c = NULL;
                } else {
                    queue_reset(c);
                }
            }
            tlm_client_free(c);
        }
    }
    if (cfg->repeats != 3)
        return 0;
    printf("\n# median of the 3 runs; x = ratio to the baseline of the same "
           "run and thread count\n");
    printf("%-2s %-22s %8s %8s %6s %8s %8s %8s %9s %7s %6s\n", "T", "variant",
        "grp_mean", "grp_med", "x", "grp_p99", "one_med", "one_p99", "Mcalls/s",
        "alloc/e", "drops");
    for (t = 0; t < 2; t++) {
        for (v = 0; v < NVARIANTS; v++) {
            double ratio[3];
            uint64_t drops = 0;

            for (r = 0; r < 3; r++) {
                ratio[r] = all[r][t][v].med / all[r][t][0].med;
                drops += all[r][t][v].dropped + all[r][t][v].errors;
            }
#define M3(f) bench_median3(all[0][t][v].f, all[1][t][v].f, all[2][t][v].f)
            printf("%-2d %-22s %8.1f %8.1f %6.1f %8.1f %8.1f %8.1f %9.2f "
                   "%7.3f %6llu\n",
                t + 1, variants[v].name, M3(mean), M3(med),
                bench_median3(ratio[0], ratio[1], ratio[2]), M3(p99), M3(s_med),
                M3(s_p99), M3(mev_s), M3(allocs_per_ev),
                (unsigned long long)drops);
#undef M3
        }
    }
    return 0;
}

/* ---- burst ---------------------------------------------------------------
 */
typedef struct burst_job {
    tlm_client *c;
    uint32_t n;
    pthread_barrier_t *barrier;
    uint64_t t_begin, t_end, errors, allocs;
} burst_job;

static void *
burst_main(void *arg)
{
    burst_job *j = arg;
    uint32_t i;

    pthread_barrier_wait(j->barrier);
    bench_allocs = 0;
    bench_counting = 1;
    j->t_begin = bench_mono_ns();
    for (i = 0; i < j->n; i++)
        j->errors
            += tlm_track_request(j->c, &reqs[DATA_DETAILS][i & (NREQ - 1)])
            != 0;
    j->t_end = bench_mono_ns();
    bench_counting = 0;
    j->allocs = bench_allocs;
    return NULL;
}

static int
bench_burst(const config *cfg)
{
    long rss0 = bench_rss_kib(), max0 = bench_maxrss_kib(), rss1, max1;
    pthread_barrier_t barrier;
    burst_job jobs[2];
    pthread_t tid[2];
    tlm_client *c;
    tlm_stats s;
    uint64_t begin = UINT64_MAX, end = 0, errors = 0, allocs = 0, t0;
    int t, rc, close_rc;
    bool dead = strcmp(cfg->endpoint, "http://127.0.0.1:1") == 0;

    rc = client_open(cfg, 0, &c); /* default options: 131072-event queue */
    if (rc != 0) {
        fprintf(stderr, "tlm_client_new: %s\n", tlm_strerror(rc));
        return 1;
    }
    rss1 = bench_rss_kib();
    max1 = bench_maxrss_kib();
    pthread_barrier_init(&barrier, NULL, 2);
    for (t = 0; t < 2; t++) {
        jobs[t] = (burst_job) {
            .c = c, .n = cfg->burst_events / 2, .barrier = &barrier};
        pthread_create(&tid[t], NULL, burst_main, &jobs[t]);
    }
    for (t = 0; t < 2; t++) {
        pthread_join(tid[t], NULL);
        begin = jobs[t].t_begin < begin ? jobs[t].t_begin : begin;
        end = jobs[t].t_end > end ? jobs[t].t_end : end;
        errors += jobs[t].errors;
        allocs += jobs[t].allocs;
    }
    pthread_barrier_destroy(&barrier);
    tlm_stats_init(&s);
    (void)tlm_client_stats(c, &s);
    printf("# burst: %u events from 2 threads, default options, endpoint %s\n",
        cfg->burst_events, cfg->endpoint);
    printf("wall                 %.2f ms\n", (end - begin) / 1e6);
    printf("ns/event (wall)      %.1f\n",
        (double)(end - begin) / cfg->burst_events);
    for (t = 0; t < 2; t++)
        printf("ns/event thread %d    %.1f\n", t + 1,
            (double)(jobs[t].t_end - jobs[t].t_begin) / jobs[t].n);
    printf("enqueued             %llu\n", (unsigned long long)s.enqueued);
    printf("dropped_queue_full   %llu\n",
        (unsigned long long)s.dropped_queue_full);
    printf("calls != 0           %llu\n", (unsigned long long)errors);
    printf("allocations/event    %.4f\n", (double)allocs / cfg->burst_events);
    printf("rss before client    %ld KiB (peak %ld KiB)\n", rss0, max0);
    printf("rss after new        %ld KiB (peak %ld KiB)\n", rss1, max1);
    printf("rss after burst      %ld KiB (peak %ld KiB)\n", bench_rss_kib(),
        bench_maxrss_kib());
    t0 = bench_mono_ns();
    close_rc = tlm_client_close(c, dead ? 1000 : 60000);
    tlm_stats_init(&s);
    (void)tlm_client_stats(c, &s);
    printf("close                %s in %.0f ms: sent %llu, dropped_shutdown "
           "%llu%s\n",
        tlm_strerror(close_rc), (bench_mono_ns() - t0) / 1e6,
        (unsigned long long)s.sent, (unsigned long long)s.dropped_shutdown,
        dead && cfg->spool_dir == NULL ? " (dead endpoint: expected)" : "");
    if (cfg->spool_dir != NULL)
        printf("spool                %s: spooled %llu, kept %llu\n",
            cfg->spool_dir, (unsigned long long)s.spooled,
            (unsigned long long)s.spool_kept);
    printf("peak rss at end      %ld KiB\n", bench_maxrss_kib());
    tlm_client_free(c);
    return 0;
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: bench-track [--endpoint URL] [--api-key KEY] [--events N]\n"
        "                   [--batch N] [--repeats N] [--cold]\n"
        "       bench-track --burst [--events N] [--endpoint URL] "
        "[--api-key KEY] [--spool DIR]\n");
}

static int
parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (s == NULL)
        return -1;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v == 0 || v > 50000000ul)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int
main(int argc, char **argv)
{
    config cfg = {.endpoint = "http://127.0.0.1:1",
        .events = 200000,
        .batch = 64,
        .repeats = 3,
        .burst_events = 100000};
    bool burst = false;
    uint32_t n;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--burst") == 0) {
            burst = true;
        } else if (strcmp(a, "--cold") == 0) {
            cfg.cold = true;
        } else if (strcmp(a, "--endpoint") == 0 && val != NULL) {
            cfg.endpoint = val;
            i++;
        } else if (strcmp(a, "--spool") == 0 && val != NULL) {
            cfg.spool_dir = val;
            i++;
        } else if (strcmp(a, "--api-key") == 0 && val != NULL) {
            cfg.api_key = val;
            i++;
        } else if (strcmp(a, "--events") == 0 && parse_u32(val, &n) == 0) {
            cfg.events = n;
            cfg.burst_events = n;
            i++;
        } else if (strcmp(a, "--batch") == 0 && parse_u32(val, &n) == 0) {
            cfg.batch = n;
            i++;
        } else if (strcmp(a, "--repeats") == 0 && parse_u32(val, &n) == 0
            && n <= 8) {
            cfg.repeats = (int)n;
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (!burst && (cfg.events < cfg.batch || cfg.events > 400000)) {
        fprintf(stderr,
            "--events: %u..400000 for the latency runs (the "
            "queue holds 1<<20 events)\n",
            cfg.batch);
        return 2;
    }
    make_requests();
    cfg.ns_per_tick = bench_calibrate();
    /* Self-check: the library's allocations must reach our counter. */
    bench_allocs = 0;
    bench_counting = 1;
    tlm_options_free(tlm_options_new());
    bench_counting = 0;
    printf("# libtelemetry %s; %.4f ns/tick; allocation counter self-check: "
           "tlm_options_new made %llu allocation(s)%s\n",
        tlm_version(), cfg.ns_per_tick, (unsigned long long)bench_allocs,
        bench_allocs == 0 ? " -- COUNTER NOT WORKING" : "");
    if (bench_allocs == 0)
        return 1;
    return burst ? bench_burst(&cfg) : bench_latency(&cfg);
}
