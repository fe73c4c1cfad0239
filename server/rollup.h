/* Analytics rollups shared by both stores: the key of a rollup row, a
 * batch's events aggregated per key (so each key is written once per
 * batch), and the dashboard built from rollup rows in one pass. Pure
 * computation: the stores do the SQL. */
#ifndef TLM_SERVER_ROLLUP_H
#define TLM_SERVER_ROLLUP_H

#include "histogram.h"
#include "store.h"

#include <stdint.h>

#define TLM_ROLLUP_MINUTE_MS 60000LL
#define TLM_ROLLUP_HOUR_MS 3600000LL
#define TLM_ROLLUP_DAY_MS 86400000LL

/* One rollup row: per res-wide bucket starting at t_ms x environment x
 * endpoint ("" for none) x status class (status / 100; 0 for no response
 * or no status) x access tier ("" for none). requests and other (error
 * events) are sample-weighted counts; errors follows the dashboard's rule
 * (request status >= 500 or 0, and every error event); hist holds request
 * latencies. Strings are borrowed from the batch. */
struct tlm__rollup_row {
    int64_t t_ms;
    const char *environment;
    const char *endpoint;
    int status_class;
    const char *tier;
    double requests;
    double errors;
    double other;
    struct tlm__hist hist;
};

struct tlm__rollup_set {
    struct tlm__rollup_row *rows;
    size_t n;
};

/* Aggregates b's non-duplicate events into minute rows, in key order
 * (first-seen order when b->interned: grouped by pointer). Returns 0 or
 * -1 (out of memory; out is then empty). */
int tlm__rollup_collect(
    const struct tlm__store_batch *b, struct tlm__rollup_set *out);
void tlm__rollup_set_free(struct tlm__rollup_set *s);

/* What a store reads back for the dashboard: one row of any resolution. */
struct tlm__rollup_in {
    int64_t t_ms;
    const char *environment;
    const char *endpoint;
    const char *tier;
    double requests;
    double errors;
    double other;
    const unsigned char *hist;
    size_t hist_len;
    /* When hist is NULL: the histogram already decoded (PostgreSQL keeps
     * it as two arrays), n_buckets (at most TLM_HIST_SLOTS) pairs of a
     * bucket index below TLM_HIST_SLOTS and its weight. */
    const uint16_t *idx;
    const double *cnt;
    size_t n_buckets;
};

/* The rows a dashboard needs start at *scan_from (the previous window of
 * equal length) and end before q->to_ms; every environment. */
struct tlm__dash_builder;

int tlm__dash_builder_new(const struct tlm__dash_query *q,
    struct tlm__dash_builder **out, int64_t *scan_from);
/* -1: out of memory or a malformed histogram blob. */
int tlm__dash_builder_add(
    struct tlm__dash_builder *b, const struct tlm__rollup_in *row);
/* Fills out's totals, endpoints, timeseries, tiers, environments and
 * events_per_s (sdks and store_bytes are the store's). Returns 0 or -1. */
int tlm__dash_builder_finish(
    struct tlm__dash_builder *b, struct tlm__dash_result *out);
void tlm__dash_builder_free(struct tlm__dash_builder *b);

/* Folds minute rows older than minute_before_ms into hourly rows and
 * hourly rows older than hour_before_ms into daily rows (both aligned
 * down to whole hours / days). *folded counts the rows removed. 1 when
 * the store keeps no rollups. */
int tlm__store_rollup_compact(struct tlm__store *st, int64_t minute_before_ms,
    int64_t hour_before_ms, uint64_t *folded);

#endif
