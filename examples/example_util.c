/*
 * example_util.c - helpers shared by the example programs: strict number
 * parsing for flags, printing a client's stats, a monotonic clock.
 * Never exits or prints errors itself: callers decide what a failure means.
 */
#include "example_util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct stat_field {
    const char *name;
    size_t offset;
};

#define STAT_FIELD(f)                                                          \
    {                                                                          \
#f, offsetof(tlm_stats, f)                                             \
    }

/* In the header's order, so the output reads like the struct. */
static const struct stat_field STAT_FIELDS[] = {
    STAT_FIELD(enqueued),
    STAT_FIELD(sent),
    STAT_FIELD(duplicates),
    STAT_FIELD(rejected),
    STAT_FIELD(dropped_queue_full),
    STAT_FIELD(dropped_disabled),
    STAT_FIELD(dropped_before_send),
    STAT_FIELD(dropped_http),
    STAT_FIELD(dropped_retries),
    STAT_FIELD(dropped_oversize),
    STAT_FIELD(dropped_shutdown),
    STAT_FIELD(retried),
    STAT_FIELD(batches),
    STAT_FIELD(requests),
    STAT_FIELD(bytes_raw),
    STAT_FIELD(bytes_compressed),
    STAT_FIELD(queue_depth),
    STAT_FIELD(inflight_events),
};

int
ex_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t value = 0;

    if (ex_parse_u64(text, &value) != 0 || value < min || value > max)
        return -1;
    *out = (uint32_t)value;
    return 0;
}

int
ex_parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    unsigned long long value;

    /* strtoull accepts "-1" and leading blanks; a flag value must not. */
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *out = (uint64_t)value;
    return 0;
}

void
ex_print_stats(FILE *out, const tlm_stats *stats)
{
    const unsigned char *base = (const unsigned char *)stats;
    size_t i;

    for (i = 0; i < sizeof(STAT_FIELDS) / sizeof(STAT_FIELDS[0]); i++) {
        uint64_t value;

        if (STAT_FIELDS[i].offset + sizeof(value) > stats->size)
            break;
        memcpy(&value, base + STAT_FIELDS[i].offset, sizeof(value));
        fprintf(out, "%s: %" PRIu64 "\n", STAT_FIELDS[i].name, value);
    }
}

uint64_t
ex_stats_lost(const tlm_stats *stats)
{
    return stats->rejected + stats->dropped_queue_full
        + stats->dropped_before_send + stats->dropped_http
        + stats->dropped_retries + stats->dropped_oversize
        + stats->dropped_shutdown;
}

static int
report_opt(
    const struct ex_client_args *a, tlm_options *opts, const char *what, int rc)
{
    const char *detail = tlm_options_last_error(opts);

    if (rc != 0)
        fprintf(stderr, "%s: %s: %s%s%s\n", a->prog, what, tlm_strerror(rc),
            detail[0] != '\0' ? ": " : "", detail);
    return rc;
}

static int
load_config(const struct ex_client_args *a, tlm_options *opts)
{
    int rc = report_opt(
        a, opts, a->config, tlm_options_load_file(opts, a->config));

    if (rc == 0 && tlm_options_warnings(opts)[0] != '\0')
        fprintf(stderr, "%s: %s: %s\n", a->prog, a->config,
            tlm_options_warnings(opts));
    return rc;
}

static int
apply_options(const struct ex_client_args *a, tlm_options *opts)
{
    int rc = 0;

    if (a->default_queue_events != 0)
        rc = report_opt(a, opts, "queue size",
            tlm_options_set_max_queue_events(opts, a->default_queue_events));
    if (rc == 0 && a->config != NULL)
        rc = load_config(a, opts);
    if (rc == 0 && a->queue_events != 0)
        rc = report_opt(a, opts, "--queue-events",
            tlm_options_set_max_queue_events(opts, a->queue_events));
    if (rc == 0 && a->endpoint != NULL)
        rc = report_opt(
            a, opts, "--endpoint", tlm_options_set_endpoint(opts, a->endpoint));
    if (rc == 0 && a->api_key != NULL)
        rc = report_opt(
            a, opts, "--api-key", tlm_options_set_api_key(opts, a->api_key));
    if (rc == 0 && a->environment != NULL)
        rc = report_opt(a, opts, "--env",
            tlm_options_set_environment(opts, a->environment));
    if (rc == 0 && a->binding != NULL)
        rc = report_opt(
            a, opts, "binding", tlm_options_set_binding(opts, a->binding));
    return rc;
}

int
ex_client_create(const struct ex_client_args *args, tlm_client **out)
{
    tlm_options *opts = tlm_options_new();
    int rc = TLM_ENOMEM;

    *out = NULL;
    if (opts == NULL) {
        fprintf(stderr, "%s: out of memory\n", args->prog);
        goto out;
    }
    rc = apply_options(args, opts);
    if (rc != 0)
        goto out;
    rc = tlm_client_new(out, opts);
    if (rc != 0)
        fprintf(stderr, "%s: cannot create the client: %s\n", args->prog,
            tlm_strerror(rc));
out:
    tlm_options_free(opts);
    return rc;
}

double
ex_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
