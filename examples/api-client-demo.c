/*
 * api-client-demo.c - a simulated REST API client library (users, payments,
 * search) instrumented with libtelemetry. Threads make simulated calls with
 * realistic endpoints, statuses and latencies; nothing sleeps, nothing but
 * the SDK talks to the network. Deterministic for a given --seed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"
#include "telemetry.h"

#define DEMO_USERS 200
#define DEMO_ORGS 40
#define DEMO_MAX_THREADS 256
#define ZIPF_EXPONENT 1.1

/* One operation of the simulated API; the table order is its popularity. */
struct endpoint_spec {
    const char *path;
    const char *method;
    const char *sdk_method; /* the client library function that calls it */
    double median_ms;
    double sigma; /* of log(latency): the spread */
    double p_5xx;
};

static const struct endpoint_spec ENDPOINTS[] = {
    {"/v1/users/{id}", "GET", "users.get", 38.0, 0.45, 0.006},
    {"/v1/search", "GET", "search.query", 120.0, 0.60, 0.020},
    {"/v1/auth/token", "POST", "auth.token", 25.0, 0.35, 0.004},
    {"/v1/payments", "POST", "payments.create", 180.0, 0.50, 0.025},
    {"/v1/payments/{id}", "GET", "payments.get", 42.0, 0.40, 0.008},
    {"/v1/users", "GET", "users.list", 65.0, 0.50, 0.010},
    {"/v1/payments", "GET", "payments.list", 90.0, 0.55, 0.012},
    {"/v1/users/{id}", "PATCH", "users.update", 70.0, 0.45, 0.010},
    {"/v1/customers/{id}/payment_methods", "GET", "customers.methods", 55.0,
        0.45, 0.010},
    {"/v1/invoices", "GET", "invoices.list", 110.0, 0.55, 0.015},
    {"/v1/payments/{id}/capture", "POST", "payments.capture", 160.0, 0.50,
        0.030},
    {"/v1/users", "POST", "users.create", 95.0, 0.45, 0.012},
    {"/v1/refunds", "POST", "refunds.create", 220.0, 0.55, 0.030},
    {"/v1/reports/usage", "GET", "reports.usage", 850.0, 0.70, 0.035},
    {"/v1/users/{id}", "DELETE", "users.delete", 55.0, 0.40, 0.008},
};

#define N_ENDPOINTS (sizeof(ENDPOINTS) / sizeof(ENDPOINTS[0]))

struct demo_args {
    const char *endpoint;
    const char *api_key;
    const char *config;
    const char *environment;
    uint32_t events;
    uint32_t threads;
    uint32_t timeout_ms;
    uint32_t queue_events; /* 0: the demo's default */
    uint64_t seed;
};

struct worker {
    pthread_t thread;
    tlm_client *client;
    const double *cumulative; /* Zipf CDF over ENDPOINTS */
    uint64_t rng;
    uint32_t calls;
    uint64_t ok;
    uint64_t full;
    uint64_t disabled;
    uint64_t failed;
};

static void
usage(FILE *out)
{
    fprintf(out,
        "usage: api-client-demo --endpoint URL --api-key KEY [--events N]\n"
        "           [--threads T] [--env sandbox|production] [--config FILE]\n"
        "           [--seed S] [--timeout-ms MS] [--queue-events N]\n"
        "\n"
        "Simulates an API client library making N calls (default 10000)\n"
        "from T threads (default 4) and reports them through libtelemetry,\n"
        "then closes the client within --timeout-ms (default 10000) and\n"
        "prints its stats. --endpoint and --api-key may come from --config.\n"
        "Exit status: 0 all delivered, 1 something lost or the client\n"
        "failed, 2 bad usage.\n");
}

/* splitmix64: tiny, seedable, good enough for a simulation. */
static uint64_t
rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double
rng_unit(uint64_t *state)
{
    return ((double)(rng_next(state) >> 11) + 0.5) / 9007199254740992.0;
}

static double
rng_normal(uint64_t *state)
{
    double u1 = rng_unit(state);
    double u2 = rng_unit(state);

    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void
zipf_cdf(double *cumulative, size_t n)
{
    double total = 0.0;
    size_t i;

    for (i = 0; i < n; i++) {
        total += 1.0 / pow((double)(i + 1), ZIPF_EXPONENT);
        cumulative[i] = total;
    }
    for (i = 0; i < n; i++)
        cumulative[i] /= total;
}

static const struct endpoint_spec *
pick_endpoint(struct worker *w)
{
    double r = rng_unit(&w->rng);
    size_t i;

    for (i = 0; i < N_ENDPOINTS - 1; i++) {
        if (r < w->cumulative[i])
            break;
    }
    return &ENDPOINTS[i];
}

static int
success_status(const struct endpoint_spec *ep)
{
    if (strcmp(ep->method, "DELETE") == 0)
        return 204;
    if (strcmp(ep->method, "POST") == 0 && strstr(ep->path, "{id}") == NULL)
        return 201;
    return 200;
}

/* Mostly 2xx, some 4xx, the endpoint's share of 5xx, occasional 429. */
static int
pick_status(struct worker *w, const struct endpoint_spec *ep)
{
    static const int client_errors[] = {400, 401, 403, 404, 404, 404, 409, 422};
    static const int server_errors[] = {500, 500, 502, 503, 504};
    double r = rng_unit(&w->rng);

    if (r < 0.001)
        return 0; /* network error: no response at all */
    r -= 0.001;
    if (r < ep->p_5xx)
        return server_errors[rng_next(&w->rng) % 5];
    r -= ep->p_5xx;
    if (r < 0.006)
        return 429;
    r -= 0.006;
    if (r < 0.045)
        return client_errors[rng_next(&w->rng) % 8];
    return success_status(ep);
}

/* Log-normal around the endpoint's median, shaped by the outcome. */
static double
pick_latency(struct worker *w, const struct endpoint_spec *ep, int status)
{
    double ms = ep->median_ms * exp(ep->sigma * rng_normal(&w->rng));

    if (status == 0 || status == 504)
        ms = 10000.0 + ms; /* the client's own timeout fired */
    else if (status == 429)
        ms = 3.0 + ms * 0.05; /* rejected at the edge */
    else if (status >= 400 && status < 500)
        ms *= 0.6; /* validation fails before the real work */
    return ms;
}

/* Heavy users make most calls: user i with weight ~ u^2. */
static void
pick_user(struct worker *w, char *user, size_t user_len, char *org,
    size_t org_len, const char **tier)
{
    double u = rng_unit(&w->rng);
    unsigned user_ix = (unsigned)(u * u * DEMO_USERS) % DEMO_USERS;
    unsigned org_ix = (user_ix * 7u + 3u) % DEMO_ORGS;

    snprintf(user, user_len, "usr_%04u", user_ix);
    snprintf(org, org_len, "org_%02u", org_ix);
    if (org_ix % 10u == 0)
        *tier = "enterprise";
    else if (org_ix % 3u == 0)
        *tier = "pro";
    else
        *tier = "free";
}

static void
count_result(struct worker *w, int rc)
{
    if (rc == 0)
        w->ok++;
    else if (rc == TLM_EFULL)
        w->full++;
    else if (rc == TLM_EDISABLED)
        w->disabled++;
    else
        w->failed++;
}

static void
simulate_call(struct worker *w)
{
    tlm_request req = TLM_REQUEST_INIT;
    const struct endpoint_spec *ep = pick_endpoint(w);
    char user[16], org[16], details[160];
    const char *tier = NULL;
    unsigned page_size = 10u * (unsigned)(1 + rng_next(&w->rng) % 10);

    pick_user(w, user, sizeof(user), org, sizeof(org), &tier);
    req.endpoint = ep->path;
    req.method = ep->method;
    req.response_status = pick_status(w, ep);
    req.response_time_ms = pick_latency(w, ep, req.response_status);
    req.user_id = user;
    req.organization_id = org;
    req.access_tier = tier;
    snprintf(details, sizeof(details),
        "{\"sdk_method\":\"%s\",\"sdk_version\":\"2.4.1\","
        "\"page_size\":%u,\"attempt\":1}",
        ep->sdk_method, page_size);
    req.request_details = details;
    count_result(w, tlm_track_request(w->client, &req));
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    uint32_t i;

    for (i = 0; i < w->calls; i++)
        simulate_call(w);
    return NULL;
}

static int
parse_flag(struct demo_args *a, int opt, const char *val)
{
    switch (opt) {
    case 'e':
        a->endpoint = val;
        return 0;
    case 'k':
        a->api_key = val;
        return 0;
    case 'c':
        a->config = val;
        return 0;
    case 'E':
        a->environment = val;
        return (strcmp(val, "sandbox") == 0 || strcmp(val, "production") == 0)
            ? 0
            : -1;
    case 'n':
        return ex_parse_u32(val, 1, 1000000000u, &a->events);
    case 't':
        return ex_parse_u32(val, 1, DEMO_MAX_THREADS, &a->threads);
    case 'T':
        return ex_parse_u32(val, 1, 3600000u, &a->timeout_ms);
    case 'q':
        return ex_parse_u32(val, 16, 16777216u, &a->queue_events);
    case 's':
        return ex_parse_u64(val, &a->seed);
    default:
        return -1;
    }
}

/* 0: run; 1: --help was printed; 2: usage error (message printed). */
static int
parse_args(int argc, char **argv, struct demo_args *a)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"api-key", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"env", required_argument, NULL, 'E'},
        {"events", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"queue-events", required_argument, NULL, 'q'},
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    int ix = 0;

    while ((opt = getopt_long(argc, argv, "h", longopts, &ix)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 1;
        }
        if (opt == '?' || parse_flag(a, opt, optarg) != 0) {
            if (opt != '?')
                fprintf(stderr, "api-client-demo: bad value '%s' for --%s\n",
                    optarg, longopts[ix].name);
            goto bad;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "api-client-demo: unexpected argument '%s'\n",
            argv[optind]);
        goto bad;
    }
    if (a->config == NULL && (a->endpoint == NULL || a->api_key == NULL)) {
        fprintf(stderr,
            "api-client-demo: --endpoint and --api-key are "
            "required (or a --config that sets them)\n");
        goto bad;
    }
    return 0;
bad:
    usage(stderr);
    return 2;
}

static int
create_client(const struct demo_args *a, tlm_client **out)
{
    struct ex_client_args ca = {
        .prog = "api-client-demo",
        .endpoint = a->endpoint,
        .api_key = a->api_key,
        .config = a->config,
        .environment = a->environment,
        .binding = "api-client-demo",
        /* The simulation has no think time: let the queue hold a run. */
        .default_queue_events = 65536,
        .queue_events = a->queue_events,
    };

    return ex_client_create(&ca, out);
}

/* Splits the calls over the threads; returns how many threads started. */
static uint32_t
start_workers(struct worker *workers, const struct demo_args *a,
    tlm_client *client, const double *cdf)
{
    uint32_t i;

    for (i = 0; i < a->threads; i++) {
        struct worker *w = &workers[i];

        w->client = client;
        w->cumulative = cdf;
        w->rng = a->seed ^ (0xd1b54a32d192ed03ULL * (i + 1));
        w->calls = a->events / a->threads + (i < a->events % a->threads);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "api-client-demo: cannot start thread %u\n", i);
            break;
        }
    }
    return i;
}

static void
print_report(tlm_client *client, const struct worker *workers, uint32_t started,
    int close_rc, double wall_ms)
{
    tlm_stats stats;
    uint64_t ok = 0, full = 0, disabled = 0, failed = 0;
    uint32_t i;

    for (i = 0; i < started; i++) {
        ok += workers[i].ok;
        full += workers[i].full;
        disabled += workers[i].disabled;
        failed += workers[i].failed;
    }
    tlm_stats_init(&stats);
    if (tlm_client_stats(client, &stats) == 0)
        ex_print_stats(stdout, &stats);
    printf("calls_tracked: %" PRIu64 "\n", ok);
    printf("calls_queue_full: %" PRIu64 "\n", full);
    printf("calls_disabled: %" PRIu64 "\n", disabled);
    printf("calls_failed: %" PRIu64 "\n", failed);
    printf("events_lost: %" PRIu64 "\n", ex_stats_lost(&stats));
    printf("close: %s\n", close_rc == 0 ? "ok" : tlm_strerror(close_rc));
    printf("wall_ms: %.1f\n", wall_ms);
    /* Throughput of the whole pipeline: delivered events per second. */
    printf("events_per_s: %.0f\n",
        wall_ms > 0.0 ? (double)stats.sent * 1000.0 / wall_ms : 0.0);
}

static int
run(const struct demo_args *a, tlm_client *client)
{
    struct worker *workers = calloc(a->threads, sizeof(*workers));
    double cdf[N_ENDPOINTS];
    double start;
    uint32_t started, i;
    int close_rc;

    if (workers == NULL) {
        fprintf(stderr, "api-client-demo: out of memory\n");
        return 1;
    }
    zipf_cdf(cdf, N_ENDPOINTS);
    printf("api-client-demo: %" PRIu32 " simulated calls from %" PRIu32
           " threads (seed %" PRIu64 ", libtelemetry %s)\n",
        a->events, a->threads, a->seed, tlm_version());
    fflush(stdout);
    start = ex_now_ms();
    started = start_workers(workers, a, client, cdf);
    for (i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    close_rc = tlm_client_close(client, a->timeout_ms);
    print_report(client, workers, started, close_rc, ex_now_ms() - start);
    free(workers);
    return (started == a->threads && close_rc == 0) ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct demo_args args = {
        .events = 10000,
        .threads = 4,
        .timeout_ms = 10000,
        .seed = 42,
    };
    tlm_client *client = NULL;
    int status = parse_args(argc, argv, &args);

    if (status != 0) {
        status = status == 1 ? 0 : 2;
        goto out;
    }
    if (create_client(&args, &client) != 0) {
        status = 1;
        goto out;
    }
    status = run(&args, client);
    if (status == 0) {
        tlm_stats stats;

        tlm_stats_init(&stats);
        if (tlm_client_stats(client, &stats) == 0 && ex_stats_lost(&stats) != 0)
            status = 1;
    }
out:
    tlm_client_free(client);
    return status;
}
