/* Per-ingestion-key token buckets: each key earns events_per_second tokens
 * up to burst, and a batch costs one token per event. Thread-safe (one
 * short lock per bucket); must never sleep nor block on another key. */
#ifndef TLM_SERVER_RATELIMIT_H
#define TLM_SERVER_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/* The rate of one access tier; events_per_second 0 means unlimited. */
struct tlm__rate_rule {
    double events_per_second;
    double burst; /* bucket size; at least 1 when limited */
};

#include <pthread.h>
#include <stdbool.h>

/* One key's bucket; embed it where the key lives. */
struct tlm__bucket {
    pthread_mutex_t lock;
    struct tlm__rate_rule rule;
    double tokens;
    int64_t last_us;
    bool started; /* last_us is meaningful */
};

struct tlm__ratelimit;

/* One bucket per key, key i limited by rules[i] (copied); buckets start
 * full. Returns 0 and *out, or -1 when out of memory. */
int tlm__ratelimit_new(const struct tlm__rate_rule *rules, size_t n_keys,
    struct tlm__ratelimit **out);

void tlm__ratelimit_free(struct tlm__ratelimit *rl);

/* Outcome of tlm__ratelimit_take. */
enum tlm__rate_outcome {
    TLM_RATE_OK = 0, /* admitted, tokens taken */
    TLM_RATE_LIMITED = 1, /* not now: *retry_after_s says when */
    TLM_RATE_TOO_BIG = 2, /* cost exceeds the burst: never admissible */
};

/* Takes cost tokens from key's bucket at now_us (a monotonic clock in
 * microseconds). When refused, nothing is taken and *retry_after_s is the
 * whole number of seconds (>= 1) until cost tokens will be there. A key
 * index out of range or with an unlimited rule is always admitted. */
enum tlm__rate_outcome tlm__ratelimit_take(struct tlm__ratelimit *rl,
    size_t key, double cost, int64_t now_us, long *retry_after_s);

/* A bucket limited by rule, full. */
void tlm__bucket_init(struct tlm__bucket *b, struct tlm__rate_rule rule);
void tlm__bucket_destroy(struct tlm__bucket *b);

/* tlm__ratelimit_take for one bucket (NULL or unlimited: always OK). */
enum tlm__rate_outcome tlm__bucket_take(
    struct tlm__bucket *b, double cost, int64_t now_us, long *retry_after_s);

/* The rule of key (unlimited for a key out of range or rl NULL). */
struct tlm__rate_rule tlm__ratelimit_rule(
    const struct tlm__ratelimit *rl, size_t key);

/* Monotonic microseconds, for now_us. */
int64_t tlm__ratelimit_now_us(void);

#endif
