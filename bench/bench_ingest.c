/*
 * bench_ingest.c - what the server's second privacy pass (server/scrub_pass.c)
 * costs per event, against the same ingest without it in the same run:
 * tlm__ingest_json_with() over batches of 500 realistic request events into
 * a fresh SQLite store, process CPU per event, the pass on and off
 * interleaved. Two event sets: "repeated" (endpoint templates, paths and
 * content types drawn from a small set, as real SDK traffic is) and
 * "unique" (every string different: the per-thread clean-string cache
 * never hits, the scrubber's full cost shows).
 *
 * Prints figures only; asserts nothing about time.
 */
#include "ingest.h"
#include "json_arena.h"
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 500
#define RECEIVED_MS 1796414463000LL

static const char *const routes[] = {
    "/v1/users/{user_id}",
    "/v1/organizations/{org_id}/projects/{project_id}/deployments",
    "/v1/search",
    "/v1/invoices/{invoice_id}",
    "/v1/webhooks/{webhook_id}/deliveries",
    "/v1/files/{file_id}/content",
};

static double
cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Batch b of n_batches as JSON text; unique: every string differs. */
static char *
make_batch(int b, bool unique, size_t *len)
{
    size_t cap = BATCH * 800 + 64, off = 0;
    char *t = malloc(cap);
    if (t == NULL)
        return NULL;
    off += (size_t)snprintf(t, cap, "{\"batch_id\":\"b%d\",\"events\":[", b);
    for (int i = 0; i < BATCH; i++) {
        int n = b * BATCH + i;
        char path[128];
        if (unique)
            snprintf(path, sizeof(path), "/v1/things%d/{id}/parts%d", n, n % 7);
        else
            snprintf(path, sizeof(path), "%s",
                routes[n % (int)(sizeof(routes) / sizeof(routes[0]))]);
        off += (size_t)snprintf(t + off, cap - off,
            "%s{\"type\":\"request\",\"id\":"
            "\"0190a000-0000-7000-8000-%012d\","
            "\"timestamp\":\"2026-12-04T20:01:02.345Z\","
            "\"environment\":\"production\",\"sample_rate\":1,"
            "\"endpoint\":\"%s\",\"method\":\"GET\",\"response_status\":200,"
            "\"response_time\":12.5,"
            "\"user_id\":\"3f9a0c1b2d4e5f60718293a4b5c6d7e8\","
            "\"organization_id\":\"a1b2c3d4e5f60718\",\"access_tier\":\"pro\","
            "\"request_details\":{\"method\":\"GET\",\"path\":\"%s\","
            "\"query_keys\":[\"page\",\"limit\"],\"content_length\":123,"
            "\"content_type\":\"application/json%s%d\"},"
            "\"client_info\":{\"sdk\":\"libtelemetry\",\"version\":\"0.1.0\","
            "\"os\":\"linux\",\"arch\":\"x86_64\"}}",
            i > 0 ? "," : "", n, path, path, unique ? "; v=" : "",
            unique ? n : 0);
    }
    off += (size_t)snprintf(t + off, cap - off, "]}");
    *len = off;
    return t;
}

/* CPU seconds per event to ingest every batch into a fresh store. */
static double
run(char **bodies, const size_t *lens, int n, bool scrub, const char *dir)
{
    char url[600], err[256], cmd[700];
    struct tlm__store *st = NULL;
    struct tlm__ingest_policy p
        = {.max_future_ms = -1, .max_age_ms = -1, .no_scrub = !scrub};
    snprintf(cmd, sizeof(cmd), "rm -f '%s'/ingest.db*", dir);
    if (system(cmd) != 0)
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/ingest.db", dir);
    if (tlm__store_open(url, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-ingest: %s\n", err);
        return -1;
    }
    double t0 = cpu_now();
    for (int b = 0; b < n; b++) {
        char *out = NULL;
        int status = tlm__ingest_json_with(
            st, bodies[b], lens[b], &p, RECEIVED_MS, &out);
        free(out);
        if (status != 200) {
            fprintf(stderr, "bench-ingest: status %d\n", status);
            tlm__store_close(st);
            return -1;
        }
    }
    double secs = cpu_now() - t0;
    tlm__store_close(st);
    return secs / ((double)n * BATCH);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    int n = 200, repeats = 5;
    char dir[] = "/tmp/tlm-bench-ingest-XXXXXX";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batches") == 0)
            n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeats") == 0)
            repeats = atoi(argv[i + 1]);
    }
    if (n < 1 || repeats < 1 || repeats > 99 || mkdtemp(dir) == NULL)
        return 2;
    tlm__json_arena_install();
    printf("%d batches of %d events, %d runs each, pass off/on interleaved\n",
        n, BATCH, repeats);
    printf("%-9s %12s %12s %12s\n", "events", "off us/ev", "on us/ev",
        "pass us/ev");
    for (int unique = 0; unique < 2; unique++) {
        char **bodies = calloc((size_t)n, sizeof(*bodies));
        size_t *lens = calloc((size_t)n, sizeof(*lens));
        double off[99], on[99];
        for (int b = 0; b < n; b++)
            bodies[b] = make_batch(b, unique, &lens[b]);
        for (int r = 0; r < repeats; r++) {
            off[r] = run(bodies, lens, n, false, dir);
            on[r] = run(bodies, lens, n, true, dir);
            if (off[r] < 0 || on[r] < 0)
                return 1;
        }
        qsort(off, (size_t)repeats, sizeof(double), cmp_double);
        qsort(on, (size_t)repeats, sizeof(double), cmp_double);
        printf("%-9s %12.2f %12.2f %12.2f   (%zu B of JSON per event)\n",
            unique ? "unique" : "repeated", off[repeats / 2] * 1e6,
            on[repeats / 2] * 1e6, (on[repeats / 2] - off[repeats / 2]) * 1e6,
            lens[0] / BATCH);
        for (int b = 0; b < n; b++)
            free(bodies[b]);
        free(bodies);
        free(lens);
    }
    char cmd[100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
