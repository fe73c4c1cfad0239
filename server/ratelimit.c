/* Token buckets refilled lazily from a monotonic clock on each take, so no
 * timer thread exists and an idle key costs nothing. Owns its buckets;
 * refuses without taking, so a refused batch never drains a key further. */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tlm__ratelimit {
    struct tlm__bucket *buckets;
    size_t n;
};

int
tlm__ratelimit_new(const struct tlm__rate_rule *rules, size_t n_keys,
    struct tlm__ratelimit **out)
{
    struct tlm__ratelimit *rl = calloc(1, sizeof(*rl));
    *out = NULL;
    if (rl == NULL)
        return -1;
    rl->buckets = calloc(n_keys > 0 ? n_keys : 1, sizeof(*rl->buckets));
    if (rl->buckets == NULL) {
        free(rl);
        return -1;
    }
    for (size_t i = 0; i < n_keys; i++)
        tlm__bucket_init(&rl->buckets[i], rules[i]);
    rl->n = n_keys;
    *out = rl;
    return 0;
}

void
tlm__ratelimit_free(struct tlm__ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < rl->n; i++)
        tlm__bucket_destroy(&rl->buckets[i]);
    free(rl->buckets);
    free(rl);
}

static void
refill(struct tlm__bucket *b, int64_t now_us)
{
    if (b->started && now_us > b->last_us) {
        double earned
            = (double)(now_us - b->last_us) / 1e6 * b->rule.events_per_second;
        b->tokens = fmin(b->rule.burst, b->tokens + earned);
    }
    if (!b->started || now_us > b->last_us)
        b->last_us = now_us;
    b->started = true;
}

void
tlm__bucket_init(struct tlm__bucket *b, struct tlm__rate_rule rule)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    b->rule = rule;
    if (b->rule.events_per_second > 0 && b->rule.burst < 1)
        b->rule.burst = 1;
    b->tokens = b->rule.burst;
}

void
tlm__bucket_destroy(struct tlm__bucket *b)
{
    pthread_mutex_destroy(&b->lock);
}

enum tlm__rate_outcome
tlm__bucket_take(
    struct tlm__bucket *b, double cost, int64_t now_us, long *retry_after_s)
{
    enum tlm__rate_outcome rc = TLM_RATE_OK;
    *retry_after_s = 0;
    if (b == NULL || !(b->rule.events_per_second > 0))
        return TLM_RATE_OK;
    if (cost > b->rule.burst)
        return TLM_RATE_TOO_BIG;
    pthread_mutex_lock(&b->lock);
    refill(b, now_us);
    if (b->tokens >= cost) {
        b->tokens -= cost;
    } else {
        double wait = (cost - b->tokens) / b->rule.events_per_second;
        double secs = ceil(wait);
        *retry_after_s = secs < 1 ? 1 : (long)fmin(secs, 86400.0);
        rc = TLM_RATE_LIMITED;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

enum tlm__rate_outcome
tlm__ratelimit_take(struct tlm__ratelimit *rl, size_t key, double cost,
    int64_t now_us, long *retry_after_s)
{
    *retry_after_s = 0;
    if (rl == NULL || key >= rl->n)
        return TLM_RATE_OK;
    return tlm__bucket_take(&rl->buckets[key], cost, now_us, retry_after_s);
}

struct tlm__rate_rule
tlm__ratelimit_rule(const struct tlm__ratelimit *rl, size_t key)
{
    struct tlm__rate_rule none = {0, 0};
    if (rl == NULL || key >= rl->n)
        return none;
    return rl->buckets[key].rule;
}

int64_t
tlm__ratelimit_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
