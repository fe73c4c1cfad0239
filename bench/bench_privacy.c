/*
 * bench_privacy.c - what the privacy layer costs the worker per event:
 * anonymization, scrubbing and minimization, then encoding, against
 * encoding alone, measured in the same run.
 *
 * Benchmark only: prints figures, asserts nothing.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 5
#define EVENTS 20000

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* A slot as tlm_track_request would fill it. */
static void
fill(tlm__slot *s, const char *details, int i)
{
    char user[32], org[32];
    const char *f[TLM__NFIELDS];
    size_t off = 0, total = 0, k;
    char *base;

    snprintf(user, sizeof(user), "user-%d", i % 3000);
    snprintf(org, sizeof(org), "org-%d", i % 250);
    f[TLM__FIELD_ENDPOINT] = "/v1/users/12345/orders";
    f[TLM__FIELD_METHOD] = "GET";
    f[TLM__FIELD_USER_ID] = user;
    f[TLM__FIELD_ORG_ID] = org;
    f[TLM__FIELD_TIER] = "pro";
    f[TLM__FIELD_DETAILS] = details;
    memset(s, 0, sizeof(*s));
    for (k = 0; k < TLM__NFIELDS; k++)
        total += strlen(f[k]) + 1;
    base = malloc(total);
    for (k = 0; k < TLM__NFIELDS; k++) {
        s->len[k] = (uint32_t)strlen(f[k]);
        memcpy(base + off, f[k], s->len[k] + 1);
        off += s->len[k] + 1;
    }
    s->overflow = base;
    s->type = TLM__EV_REQUEST;
    s->status = 200;
    s->response_time_ms = 12.5;
    s->ts_ms = 1796415600000LL + i;
    s->sample_rate = 1.0f;
}

/* ns per event of (privacy +) encoding over `n` slots. */
static double
run(tlm__privacy *p, const tlm_options *o, tlm__slot *slots, int n,
    bool privacy)
{
    tlm__buf out = {0};
    tlm_event ev;
    double t0 = now_ns();
    int i;

    for (i = 0; i < n; i++) {
        tlm__event_from_slot(&ev, &slots[i]);
        memcpy(ev.id, "018f0000-0000-7000-8000-000000000000", 37);
        ev.environment = "production";
        if (privacy)
            (void)tlm__privacy_apply(p, o, &ev);
        out.len = 0;
        (void)tlm__encode_event(&out, &ev, "{\"sdk\":\"libtelemetry\"}");
        tlm__event_clear(&ev);
    }
    tlm__buf_free(&out);
    return (now_ns() - t0) / n;
}

static void
measure(const char *label, const char *details)
{
    tlm_options *o = tlm_options_new();
    tlm__slot *slots = calloc(EVENTS, sizeof(*slots));
    double base[ROUNDS], priv[ROUNDS];
    tlm__privacy p;
    int i, r;

    if (o == NULL || slots == NULL
        || tlm_options_set_anonymization_salt(o, "bench-salt") != 0
        || tlm_options_set_details_allowlist(o, "method,path,stack,note") != 0
        || tlm__privacy_init(&p, o) != 0) {
        fprintf(stderr, "bench-privacy: setup failed\n");
        exit(1);
    }
    for (i = 0; i < EVENTS; i++)
        fill(&slots[i], details, i);
    for (r = 0; r < ROUNDS; r++) {
        base[r] = run(&p, o, slots, EVENTS, false);
        priv[r] = run(&p, o, slots, EVENTS, true);
    }
    qsort(base, ROUNDS, sizeof(double), cmp);
    qsort(priv, ROUNDS, sizeof(double), cmp);
    printf("%-28s encode only %8.0f ns   privacy + encode %8.0f ns   "
           "privacy alone %8.0f ns\n",
        label, base[ROUNDS / 2], priv[ROUNDS / 2],
        priv[ROUNDS / 2] - base[ROUNDS / 2]);
    for (i = 0; i < EVENTS; i++)
        free(slots[i].overflow);
    free(slots);
    tlm__privacy_destroy(&p);
    tlm_options_free(o);
}

int
main(void)
{
    static char stack[4096];
    char *details = malloc(4096 + 64);
    size_t n = 0;
    int i;

    /* A 2 KiB stack trace with home directories, as errors carry. */
    for (i = 0; n < 2000; i++)
        n += (size_t)snprintf(stack + n, sizeof(stack) - n,
            "  at handler_%d (/home/alice/src/app/module_%d.c:%d)\\n", i, i,
            i * 7);
    snprintf(
        details, 4096 + 64, "{\"method\":\"GET\",\"stack\":\"%s\"}", stack);
    printf("bench-privacy: median of %d rounds x %d events, worker side\n",
        ROUNDS, EVENTS);
    measure("typical event",
        "{\"method\":\"GET\",\"path\":\"/v1/users/"
        "12345\",\"note\":\"by jane@example.com\"}");
    measure("event with 2 KiB stack", details);
    free(details);
    return 0;
}
