/*
 * example_util.h - helpers shared by the example programs (strict flag
 * parsing, stats printing, a monotonic clock). Not part of libtelemetry's
 * API; never exits the process, callers decide what an error means.
 */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "telemetry.h"

/* How an example builds its client; NULL strings are left at the default. */
struct ex_client_args {
    const char *prog; /* prefix of error messages */
    const char *endpoint;
    const char *api_key;
    const char *config; /* a JSON configuration file */
    const char *environment;
    const char *binding;
    uint32_t default_queue_events; /* before the config file; 0: none */
    uint32_t queue_events; /* after the config file; 0: none */
};

/*
 * Creates a client from the program's defaults, then the config file, then
 * the flags (the last one wins). Prints what went wrong on stderr.
 * Returns 0 and sets *out, or a TLM_E* code.
 */
int ex_client_create(const struct ex_client_args *args, tlm_client **out);

/* Parses a decimal integer in [min, max]; 0 on success, -1 otherwise. */
int ex_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);

/* Parses a decimal unsigned 64-bit integer; 0 on success, -1 otherwise. */
int ex_parse_u64(const char *text, uint64_t *out);

/* Prints every tlm_stats counter as one `name: value` line. */
void ex_print_stats(FILE *out, const tlm_stats *stats);

/* Events that left the pipeline without being delivered, any reason. */
uint64_t ex_stats_lost(const tlm_stats *stats);

/* Milliseconds on the monotonic clock. */
double ex_now_ms(void);

#endif /* EXAMPLE_UTIL_H */
