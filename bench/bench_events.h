/*
 * bench_events.h - the realistic request events both store benchmarks
 * write (bench-store on SQLite, bench-store-pg on PostgreSQL): the same
 * rows, typed fields and JSON payloads, from a fixed seed.
 *
 * Benchmark code only; every function is static (one translation unit
 * plus this header), and nothing here is timed.
 */
#ifndef TLM_BENCH_EVENTS_H
#define TLM_BENCH_EVENTS_H

#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const routes[] = {
    "/v1/users/{user_id}",
    "/v1/search",
    "/v1/organizations/{org_id}/projects",
    "/v2/models/{model}/completions",
    "/v1/users/{user_id}/api-keys",
    "/v1/organizations/{org_id}/projects/{project_id}",
    "/v1/organizations/{org_id}/projects/{project_id}/deployments",
    "/v1/invoices/{invoice_id}",
    "/v1/invoices",
    "/v1/webhooks/{webhook_id}/deliveries",
    "/v1/webhooks",
    "/v1/files",
    "/v1/files/{file_id}/content",
    "/v1/audit-logs",
    "/v1/batch-jobs/{job_id}",
    "/v1/regions",
};
static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
static const char *const tiers[] = {"free", "free", "pro", "enterprise"};
static const int statuses[] = {200, 200, 200, 200, 200, 200, 201, 201, 204, 200,
    200, 200, 404, 429, 500, 503};

static struct tlm__store_event *events;
static char *text; /* every payload, back to back */
static char (*users)[72];
static char (*orgs)[16];
static size_t n_events;

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

/* A UUIDv7 for ms with random tail bits, lower-case canonical form. */
static void
uuid7(uint64_t *seed, int64_t ms, char out[TLM_EVENT_ID_LEN + 1])
{
    uint64_t hi = ((uint64_t)ms << 16) | 0x7000u | (xorshift(seed) & 0xfffu);
    uint64_t lo
        = (xorshift(seed) & 0x3fffffffffffffffull) | 0x8000000000000000ull;

    snprintf(out, TLM_EVENT_ID_LEN + 1, "%08x-%04x-%04x-%04x-%012llx",
        (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xffffu,
        (unsigned)hi & 0xffffu, (unsigned)(lo >> 48),
        (unsigned long long)(lo & 0xffffffffffffull));
}

/* Who sends: an SDK's batch comes from one client process, so it carries
 * a few users, drawn from a population. users_per_batch users per 500
 * events out of USER_POPULATION; 0: a different user on every event (the
 * worst case for the server's per-user workflow state). */
#define USER_POPULATION 20000u
static unsigned users_per_batch = 4;

static uint64_t
splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* n realistic request events (as lib/encode.c writes them, ~470 bytes of
 * JSON each), 100 per millisecond from t0 (epoch ms), typed fields filled
 * as the server's validation would. */
static int
make_events(size_t n, int64_t t0)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t cap = n * 640, off = 0;

    events = calloc(n, sizeof(*events));
    text = malloc(cap);
    users = calloc(n, sizeof(*users));
    orgs = calloc(n, sizeof(*orgs));
    if (events == NULL || text == NULL || users == NULL || orgs == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct tlm__event *e = &events[i].ev;
        uint64_t x = xorshift(&seed);
        int64_t ms = t0 + (int64_t)(i / 100);
        e->type = TLM_EVENT_REQUEST;
        uuid7(&seed, ms, e->id);
        e->ts_ms = ms;
        e->environment = "production";
        e->sample_rate = 1.0;
        e->endpoint = routes[x % 16];
        e->method = methods[(x >> 4) % 4];
        e->has_status = true;
        e->status = statuses[(x >> 8) % 16];
        e->has_response_time = true;
        e->response_time_ms = (double)((x >> 12) % 900000) / 1000.0;
        if (users_per_batch == 0) {
            snprintf(users[i], sizeof(users[i]), "u%016llx%016llx%016llx%08x",
                (unsigned long long)xorshift(&seed),
                (unsigned long long)xorshift(&seed),
                (unsigned long long)xorshift(&seed), (unsigned)(x >> 40));
        } else {
            uint64_t u
                = splitmix((i / 500) * users_per_batch + i % users_per_batch)
                % USER_POPULATION;
            snprintf(users[i], sizeof(users[i]), "u%016llx%016llx%016llx%08x",
                (unsigned long long)splitmix(u),
                (unsigned long long)splitmix(u + 1),
                (unsigned long long)splitmix(u + 2), (unsigned)u);
        }
        snprintf(orgs[i], sizeof(orgs[i]), "org-%u", (unsigned)(x >> 32) % 250);
        e->user_id = users[i];
        e->organization_id = orgs[i];
        e->access_tier = tiers[(x >> 20) % 4];
        char ts[32];
        time_t sec = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        int len = snprintf(text + off, cap - off,
            "{\"type\":\"request\",\"id\":\"%s\",\"timestamp\":"
            "\"%s.%03dZ\",\"environment\":\"production\","
            "\"sample_rate\":1,\"endpoint\":\"%s\",\"method\":\"%s\","
            "\"response_status\":%d,\"response_time\":%.3f,\"user_id\":"
            "\"%s\",\"organization_id\":\"%s\",\"access_tier\":\"%s\"%s,"
            "\"client_info\":{\"sdk\":\"libtelemetry\",\"sdk_version\":"
            "\"0.1.0\",\"os\":\"linux\",\"arch\":\"x86_64\"}}",
            e->id, ts, (int)(ms % 1000), e->endpoint, e->method, e->status,
            e->response_time_ms, e->user_id, e->organization_id, e->access_tier,
            (x >> 24) % 4 == 0 ? ",\"request_details\":{\"page_size\":50,"
                                 "\"sort\":\"created_at\"}"
                               : "");
        if (len < 0 || (size_t)len >= cap - off)
            return -1;
        events[i].payload = text + off;
        events[i].payload_len = (size_t)len;
        off += (size_t)len;
    }
    n_events = n;
    return 0;
}

#endif /* TLM_BENCH_EVENTS_H */
