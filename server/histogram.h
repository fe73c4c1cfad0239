/* Latency histograms for the analytics rollups: log-linear buckets
 * (HDR-style), sample-weighted counts, exact merge by addition and a
 * compact sparse blob. Pure data structure: no I/O, no locking. */
#ifndef TLM_SERVER_HISTOGRAM_H
#define TLM_SERVER_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values are recorded in units of 0.1 us. Below 128 units every unit has
 * its own bucket; above, each power of two [2^e, 2^(e+1)) is cut into 64
 * equal sub-buckets, so a bucket is at most 1/64 of its lower bound wide
 * and its midpoint is within 1/128 (0.8%) of any value in it. The top
 * bucket ends at 2^34 units (about 28 minutes); larger values clamp. */
#define TLM_HIST_SUB_BITS 6
#define TLM_HIST_MAX_SHIFT 27
#define TLM_HIST_BUCKETS ((TLM_HIST_MAX_SHIFT + 2) << TLM_HIST_SUB_BITS)
#define TLM_HIST_BLOB_VERSION 1
/* One more index past the values: requests without a latency. They weigh
 * in the ranks below every value (as SQL sorts NULL first) but are never a
 * percentile's answer. */
#define TLM_HIST_NULL TLM_HIST_BUCKETS
#define TLM_HIST_SLOTS (TLM_HIST_BUCKETS + 1)

/* A sparse histogram: the non-zero buckets in increasing index order. */
struct tlm__hist {
    uint16_t *idx;
    double *cnt;
    size_t n;
    size_t cap;
};

#define TLM_HIST_INIT                                                          \
    {                                                                          \
        NULL, NULL, 0, 0                                                       \
    }

void tlm__hist_free(struct tlm__hist *h);
void tlm__hist_clear(struct tlm__hist *h);

/* The bucket of a latency in milliseconds (negative and NaN count as 0),
 * and the value a bucket stands for (its midpoint, exact below 128). */
unsigned tlm__hist_bucket(double ms);
double tlm__hist_value(unsigned bucket);

/* Adds weight to the bucket of ms. Returns 0 or -1 (out of memory). */
int tlm__hist_record(struct tlm__hist *h, double ms, double weight);
/* Adds weight to the no-latency slot. Returns 0 or -1. */
int tlm__hist_record_null(struct tlm__hist *h, double weight);
/* dst += src, bucket by bucket. Returns 0 or -1. */
int tlm__hist_merge(struct tlm__hist *dst, const struct tlm__hist *src);

double tlm__hist_total(const struct tlm__hist *h);

/* Weighted nearest-rank: the value of the first bucket whose cumulative
 * weight (no-latency slot first) reaches q * total. false when no bucket
 * holds a value. */
bool tlm__hist_quantile(const struct tlm__hist *h, double q, double *ms);

/* Blob: version byte, varint bucket count, then per bucket a varint index
 * delta (the first absolute) and a varint count in 1/1024ths. *out is
 * malloc'ed. Returns 0 or -1. */
int tlm__hist_encode(
    const struct tlm__hist *h, unsigned char **out, size_t *len);
/* Decodes a blob into idx/cnt (room for TLM_HIST_SLOTS each), in
 * increasing index order. Returns 0, or -1 for a malformed blob. */
int tlm__hist_decode(const unsigned char *blob, size_t len, uint16_t *idx,
    double *cnt, size_t *n);
/* Adds n decoded buckets (increasing index order) to h. Returns 0 or -1. */
int tlm__hist_add_buckets(
    struct tlm__hist *h, const uint16_t *idx, const double *cnt, size_t n);
/* Merges a blob into h. Returns 0, or -1 for a malformed blob (h is then
 * unchanged) or out of memory. */
int tlm__hist_merge_blob(
    struct tlm__hist *h, const unsigned char *blob, size_t len);

/* A dense accumulator for merging many blobs (the dashboard): one double
 * per bucket, no allocation per merge. */
struct tlm__hist_dense {
    double cnt[TLM_HIST_SLOTS];
    double total;
};

void tlm__hist_dense_clear(struct tlm__hist_dense *d);
int tlm__hist_dense_add_blob(
    struct tlm__hist_dense *d, const unsigned char *blob, size_t len);
bool tlm__hist_dense_quantile(
    const struct tlm__hist_dense *d, double q, double *ms);

#endif
