/*
 * bench_e2e.c - end-to-end delivery to a real telemetry-server: one producer
 * thread, closed loop (it slows down when the queue backs up instead of
 * dropping), for a fixed time; then close and read the client's counters.
 *
 * Prints figures only; it asserts nothing about time. bench/run-e2e.sh
 * starts the server and checks its count against ours.
 */
#include "bench_common.h"
#include "telemetry.h"

#include <stdbool.h>

#define NREQ 4096 /* distinct prepared events, cycled through */

static tlm_request reqs[NREQ];
static char ids[NREQ][2][24];

typedef struct route {
    const char *endpoint;
    const char *method;
    double median_ms;
    int weight;
} route;

/* A plausible API: a few hot routes, a long tail. */
static const route routes[] = {
    {"/v1/users/{user_id}", "GET", 18, 120},
    {"/v1/search", "GET", 95, 90},
    {"/v1/organizations/{org_id}/projects", "GET", 40, 60},
    {"/v2/models/{model}/completions", "POST", 850, 55},
    {"/v1/users/{user_id}/api-keys", "GET", 22, 30},
    {"/v1/organizations/{org_id}/projects/{project_id}", "PATCH", 60, 20},
    {"/v1/organizations/{org_id}/projects/{project_id}/deployments", "POST",
        240, 15},
    {"/v1/invoices/{invoice_id}", "GET", 35, 12},
    {"/v1/invoices", "GET", 70, 10},
    {"/v1/webhooks/{webhook_id}/deliveries", "GET", 45, 8},
    {"/v1/webhooks", "POST", 55, 4},
    {"/v1/files", "POST", 420, 6},
    {"/v1/files/{file_id}/content", "GET", 180, 9},
    {"/v1/audit-logs", "GET", 130, 3},
    {"/v1/users/{user_id}", "DELETE", 50, 1},
    {"/v1/batch-jobs/{job_id}", "GET", 25, 7},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const tiers[] = {"free", "free", "pro", "enterprise"};
static const char *const details[] = {
    "{\"page_size\":50,\"sort\":\"created_at\"}",
    "{\"q\":\"status:active\",\"limit\":20}",
    "{\"model\":\"small\",\"max_tokens\":256,\"stream\":false}",
};

static uint64_t
xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static void
make_requests(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int total = 0, i, pick;
    size_t k;

    for (k = 0; k < NROUTES; k++)
        total += routes[k].weight;
    for (i = 0; i < NREQ; i++) {
        tlm_request *r = &reqs[i];
        uint64_t x = xorshift(&seed);
        unsigned user = (unsigned)(x % 3000), org = user % 250;
        double u = (double)(xorshift(&seed) >> 11) / 9007199254740992.0;
        int st = (int)(xorshift(&seed) % 1000);

        pick = (int)(xorshift(&seed) % (uint64_t)total);
        for (k = 0; k < NROUTES - 1 && pick >= routes[k].weight; k++)
            pick -= routes[k].weight;
        snprintf(ids[i][0], sizeof(ids[i][0]), "usr_%07u", user * 7919u);
        snprintf(ids[i][1], sizeof(ids[i][1]), "org_%05u", org * 131u);
        tlm_request_init(r);
        r->endpoint = routes[k].endpoint;
        r->method = routes[k].method;
        r->response_status = st < 930 ? 200
            : st < 950                ? 404
            : st < 965                ? 400
            : st < 975                ? 401
            : st < 985                ? 429
            : st < 995                ? 500
                                      : 503;
        /* Roughly log-normal around the route's median. */
        r->response_time_ms = routes[k].median_ms * (0.35 + 1.3 * u * u * u)
            * (1.0 + (double)(x >> 60) / 8.0);
        r->user_id = ids[i][0];
        r->organization_id = ids[i][1];
        r->access_tier = tiers[org % 4];
        r->request_details = i % 4 == 0 ? details[i % 3] : NULL;
    }
}

typedef struct options {
    const char *endpoint;
    const char *api_key;
    uint32_t seconds;
    uint32_t batch, inflight, queue;
} options;

static void
sleep_us(long us)
{
    struct timespec d = {us / 1000000, (us % 1000000) * 1000L};

    nanosleep(&d, NULL);
}

static int
client_open(const options *o, tlm_client **out)
{
    tlm_options *t = tlm_options_new();
    int rc;

    if (t == NULL)
        return TLM_ENOMEM;
    rc = tlm_options_set_endpoint(t, o->endpoint);
    if (rc == 0)
        rc = tlm_options_set_api_key(t, o->api_key);
    if (rc == 0 && o->batch)
        rc = tlm_options_set_max_batch_events(t, o->batch);
    if (rc == 0 && o->inflight)
        rc = tlm_options_set_max_inflight(t, o->inflight);
    if (rc == 0 && o->queue)
        rc = tlm_options_set_max_queue_events(t, o->queue);
    if (rc == 0)
        rc = tlm_client_new(out, t);
    tlm_options_free(t);
    return rc;
}

static uint64_t
queue_depth(tlm_client *c)
{
    tlm_stats s;

    tlm_stats_init(&s);
    (void)tlm_client_stats(c, &s);
    return s.queue_depth;
}

static int
parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (s == NULL)
        return -1;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v == 0 || v > 16777216ul)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int
parse_args(int argc, char **argv, options *o)
{
    int i;

    for (i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            return -1;
        if (strcmp(a, "--endpoint") == 0)
            o->endpoint = v;
        else if (strcmp(a, "--api-key") == 0)
            o->api_key = v;
        else if (strcmp(a, "--seconds") == 0 && parse_u32(v, &o->seconds) == 0)
            ;
        else if (strcmp(a, "--batch") == 0 && parse_u32(v, &o->batch) == 0)
            ;
        else if (strcmp(a, "--inflight") == 0
            && parse_u32(v, &o->inflight) == 0)
            ;
        else if (strcmp(a, "--queue") == 0 && parse_u32(v, &o->queue) == 0)
            ;
        else
            return -1;
    }
    return o->endpoint != NULL && o->api_key != NULL ? 0 : -1;
}

/* Produces for o->seconds; returns the number of TLM_EFULL retries, or -1
 * on an unexpected error. The queue is kept below 3/4 full by pausing, so
 * TLM_EFULL is a fallback, not the pacing mechanism. */
static int64_t
produce(tlm_client *c, const options *o, uint64_t *pauses)
{
    uint64_t start = bench_mono_ns(), now = start, next_report = start;
    uint64_t deadline = start + (uint64_t)o->seconds * 1000000000u;
    uint64_t high = (o->queue ? o->queue : 131072) / 4 * 3, i = 0;
    int64_t efull = 0;
    tlm_stats s;
    int rc;

    while (now < deadline) {
        rc = tlm_track_request(c, &reqs[i & (NREQ - 1)]);
        if (rc == TLM_EFULL) {
            efull++;
            sleep_us(50);
            continue; /* retry the same event: nothing is lost */
        }
        if (rc != 0) {
            fprintf(stderr, "tlm_track_request: %s\n", tlm_strerror(rc));
            return -1;
        }
        if (++i % 1024 != 0)
            continue;
        now = bench_mono_ns();
        while (queue_depth(c) > high) {
            (*pauses)++;
            sleep_us(1000);
        }
        if (now >= next_report) {
            tlm_stats_init(&s);
            (void)tlm_client_stats(c, &s);
            fprintf(stderr,
                "  t=%5.1fs enqueued %9llu sent %9llu queue %6llu "
                "inflight %5llu\n",
                (now - start) / 1e9, (unsigned long long)s.enqueued,
                (unsigned long long)s.sent, (unsigned long long)s.queue_depth,
                (unsigned long long)s.inflight_events);
            next_report += 5000000000u;
        }
    }
    return efull;
}

int
main(int argc, char **argv)
{
    options o = {.seconds = 30};
    uint64_t t0, t1, t2, pauses = 0;
    double cpu_self0, cpu_prod, cpu_self;
    tlm_client *c = NULL;
    int64_t efull, loss;
    tlm_stats s;
    int rc, close_rc;

    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr,
            "usage: bench-e2e --endpoint URL --api-key KEY "
            "[--seconds N] [--batch N] [--inflight N] "
            "[--queue N]\n");
        return 2;
    }
    make_requests();
    rc = client_open(&o, &c);
    if (rc != 0) {
        fprintf(stderr, "tlm_client_new: %s\n", tlm_strerror(rc));
        return 1;
    }
    cpu_self0 = bench_cpu_seconds(RUSAGE_SELF);
    t0 = bench_mono_ns();
    efull = produce(c, &o, &pauses);
    t1 = bench_mono_ns();
    cpu_prod = bench_cpu_seconds(RUSAGE_THREAD);
    close_rc = tlm_client_close(c, 120000);
    t2 = bench_mono_ns();
    cpu_self = bench_cpu_seconds(RUSAGE_SELF) - cpu_self0;
    tlm_stats_init(&s);
    (void)tlm_client_stats(c, &s);
    tlm_client_free(c);
    if (efull < 0)
        return 1;
    loss = (int64_t)(s.enqueued - s.sent - s.rejected);
    printf("# bench-e2e: 1 producer thread, %u s, endpoint %s\n", o.seconds,
        o.endpoint);
    printf("enqueued             %llu\n", (unsigned long long)s.enqueued);
    printf("sent (acknowledged)  %llu (duplicates %llu)\n",
        (unsigned long long)s.sent, (unsigned long long)s.duplicates);
    printf("rejected             %llu\n", (unsigned long long)s.rejected);
    printf("loss                 %lld (enqueued - sent - rejected)\n",
        (long long)loss);
    printf("dropped (other)      http %llu retries %llu oversize %llu "
           "shutdown %llu\n",
        (unsigned long long)s.dropped_http,
        (unsigned long long)s.dropped_retries,
        (unsigned long long)s.dropped_oversize,
        (unsigned long long)s.dropped_shutdown);
    printf("EFULL retries        %lld (= dropped_queue_full %llu; each "
           "retried, not lost)\n",
        (long long)efull, (unsigned long long)s.dropped_queue_full);
    printf("producer pauses      %llu x 1 ms (queue > 3/4 full)\n",
        (unsigned long long)pauses);
    printf("producing            %.2f s, close drained in %.2f s (%s)\n",
        (t1 - t0) / 1e9, (t2 - t1) / 1e9, tlm_strerror(close_rc));
    printf("delivered            %.0f events/s (sent / %.2f s wall)\n",
        s.sent / ((t2 - t0) / 1e9), (t2 - t0) / 1e9);
    printf("batches              %llu (requests %llu, retried %llu), "
           "%.1f events/batch\n",
        (unsigned long long)s.batches, (unsigned long long)s.requests,
        (unsigned long long)s.retried,
        s.batches ? (double)s.sent / s.batches : 0.0);
    if (s.sent > 0) {
        printf(
            "raw JSON/event       %.1f bytes\n", (double)s.bytes_raw / s.sent);
        printf("on the wire/event    %.1f bytes (gzip body)\n",
            (double)s.bytes_compressed / s.sent);
        printf("compression ratio    %.2f\n",
            s.bytes_compressed ? (double)s.bytes_raw / s.bytes_compressed
                               : 0.0);
        printf("cpu: producer        %.2f s (%.2f us/event)\n", cpu_prod,
            cpu_prod * 1e6 / s.sent);
        printf("cpu: worker (rest)   %.2f s (%.2f us/event)\n",
            cpu_self - cpu_prod, (cpu_self - cpu_prod) * 1e6 / s.sent);
    }
    printf("RESULT enqueued=%llu sent=%llu rejected=%llu loss=%lld\n",
        (unsigned long long)s.enqueued, (unsigned long long)s.sent,
        (unsigned long long)s.rejected, (long long)loss);
    return loss == 0 ? 0 : 3;
}
