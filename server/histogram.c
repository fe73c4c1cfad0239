/* Log-linear latency histograms (histogram.h). Chosen over t-digest and
 * DDSketch: merging is exact addition (associative and commutative, so
 * rollups compact in any order), the relative error bound is fixed by
 * construction (<= 1/128 at the bucket midpoint, under the 2% the
 * dashboard promises), and the code is small. Never does I/O. */
#include "histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUB (1u << TLM_HIST_SUB_BITS)
#define UNITS_PER_MS 10000.0
#define MAX_UNITS                                                              \
    ((((uint64_t)1) << (TLM_HIST_MAX_SHIFT + TLM_HIST_SUB_BITS + 1)) - 1)
#define COUNT_SCALE 1024.0
#define MAX_SCALED 9007199254740992.0 /* 2^53 */

void
tlm__hist_free(struct tlm__hist *h)
{
    free(h->idx);
    free(h->cnt);
    memset(h, 0, sizeof(*h));
}

void
tlm__hist_clear(struct tlm__hist *h)
{
    h->n = 0;
}

static unsigned
bucket_of_units(uint64_t v)
{
    unsigned e, shift;
    if (v >= MAX_UNITS)
        v = MAX_UNITS;
    if (v < 2 * SUB)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);
    shift = e - TLM_HIST_SUB_BITS;
    return (shift << TLM_HIST_SUB_BITS) + (unsigned)(v >> shift);
}

unsigned
tlm__hist_bucket(double ms)
{
    double u;
    if (!(ms > 0))
        return 0;
    u = ms * UNITS_PER_MS + 0.5;
    if (u >= (double)MAX_UNITS)
        return bucket_of_units(MAX_UNITS);
    return bucket_of_units((uint64_t)u);
}

double
tlm__hist_value(unsigned b)
{
    unsigned shift;
    uint64_t lo;
    if (b < 2 * SUB)
        return b / UNITS_PER_MS;
    shift = (b >> TLM_HIST_SUB_BITS) - 1;
    lo = (uint64_t)(b - (shift << TLM_HIST_SUB_BITS)) << shift;
    return ((double)lo + ((double)(1ull << shift) - 1) / 2) / UNITS_PER_MS;
}

static int
reserve(struct tlm__hist *h, size_t need)
{
    size_t cap;
    uint16_t *i;
    double *c;
    if (need <= h->cap)
        return 0;
    cap = h->cap == 0 ? 8 : h->cap;
    while (cap < need)
        cap *= 2;
    i = realloc(h->idx, cap * sizeof(*i));
    if (i == NULL)
        return -1;
    h->idx = i;
    c = realloc(h->cnt, cap * sizeof(*c));
    if (c == NULL)
        return -1;
    h->cnt = c;
    h->cap = cap;
    return 0;
}

/* Adds w to bucket b, keeping the index order. */
static int
add_bucket(struct tlm__hist *h, unsigned b, double w)
{
    size_t lo = 0, hi = h->n;
    if (h->n > 0 && h->idx[h->n - 1] < b) {
        lo = h->n; /* the common case when merging in order */
    } else {
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (h->idx[mid] < b)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < h->n && h->idx[lo] == b) {
            h->cnt[lo] += w;
            return 0;
        }
    }
    if (reserve(h, h->n + 1) != 0)
        return -1;
    memmove(h->idx + lo + 1, h->idx + lo, (h->n - lo) * sizeof(*h->idx));
    memmove(h->cnt + lo + 1, h->cnt + lo, (h->n - lo) * sizeof(*h->cnt));
    h->idx[lo] = (uint16_t)b;
    h->cnt[lo] = w;
    h->n++;
    return 0;
}

int
tlm__hist_record(struct tlm__hist *h, double ms, double weight)
{
    if (!(weight > 0))
        return 0;
    return add_bucket(h, tlm__hist_bucket(ms), weight);
}

int
tlm__hist_merge(struct tlm__hist *dst, const struct tlm__hist *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (add_bucket(dst, src->idx[i], src->cnt[i]) != 0)
            return -1;
    }
    return 0;
}

int
tlm__hist_record_null(struct tlm__hist *h, double weight)
{
    if (!(weight > 0))
        return 0;
    return add_bucket(h, TLM_HIST_NULL, weight);
}

double
tlm__hist_total(const struct tlm__hist *h)
{
    double t = 0;
    for (size_t i = 0; i < h->n; i++)
        t += h->cnt[i];
    return t;
}

/* The slack absorbs rounding in sums of 1/sample_rate, as the SQL
 * nearest-rank query did. */
bool
tlm__hist_quantile(const struct tlm__hist *h, double q, double *ms)
{
    double tot = tlm__hist_total(h), cum = 0;
    size_t n = h->n;
    if (n > 0 && h->idx[n - 1] == TLM_HIST_NULL)
        cum = h->cnt[--n]; /* the no-latency slot ranks first */
    if (n == 0 || !(tot > 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        cum += h->cnt[i];
        if (cum >= tot * (q - 1e-9)) {
            *ms = tlm__hist_value(h->idx[i]);
            return true;
        }
    }
    *ms = tlm__hist_value(h->idx[n - 1]);
    return true;
}

static size_t
put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static int
get_varint(const unsigned char *p, size_t len, size_t *off, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        unsigned char c;
        if (*off >= len)
            return -1;
        c = p[(*off)++];
        r |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static uint64_t
scaled(double c)
{
    double s = floor(c * COUNT_SCALE + 0.5);
    if (!(s > 0))
        return 0;
    return s >= MAX_SCALED ? (uint64_t)MAX_SCALED : (uint64_t)s;
}

int
tlm__hist_encode(const struct tlm__hist *h, unsigned char **out, size_t *len)
{
    unsigned char *p = malloc(1 + 10 + h->n * (3 + 10));
    size_t off = 0, n = 0;
    unsigned prev = 0;
    *out = NULL;
    *len = 0;
    if (p == NULL)
        return -1;
    for (size_t i = 0; i < h->n; i++)
        n += scaled(h->cnt[i]) > 0;
    p[off++] = TLM_HIST_BLOB_VERSION;
    off += put_varint(p + off, n);
    for (size_t i = 0; i < h->n; i++) {
        uint64_t c = scaled(h->cnt[i]);
        if (c == 0)
            continue;
        off += put_varint(p + off, h->idx[i] - prev);
        off += put_varint(p + off, c);
        prev = h->idx[i];
    }
    *out = p;
    *len = off;
    return 0;
}

int
tlm__hist_decode(const unsigned char *p, size_t len, uint16_t *idx, double *cnt,
    size_t *n_out)
{
    size_t off = 0;
    uint64_t n, d, c, b = 0;
    *n_out = 0;
    if (p == NULL || len < 2 || p[off++] != TLM_HIST_BLOB_VERSION
        || get_varint(p, len, &off, &n) != 0 || n > TLM_HIST_SLOTS)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        if (get_varint(p, len, &off, &d) != 0
            || get_varint(p, len, &off, &c) != 0 || (i > 0 && d == 0)
            || d >= TLM_HIST_SLOTS || c == 0 || c > (uint64_t)MAX_SCALED)
            return -1;
        b += d;
        if (b >= TLM_HIST_SLOTS)
            return -1;
        idx[i] = (uint16_t)b;
        cnt[i] = (double)c / COUNT_SCALE;
    }
    if (off != len)
        return -1;
    *n_out = (size_t)n;
    return 0;
}

int
tlm__hist_add_buckets(
    struct tlm__hist *h, const uint16_t *idx, const double *cnt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (add_bucket(h, idx[i], cnt[i]) != 0)
            return -1;
    }
    return 0;
}

int
tlm__hist_merge_blob(struct tlm__hist *h, const unsigned char *blob, size_t len)
{
    uint16_t idx[TLM_HIST_SLOTS];
    double cnt[TLM_HIST_SLOTS];
    size_t n;
    if (tlm__hist_decode(blob, len, idx, cnt, &n) != 0)
        return -1;
    return tlm__hist_add_buckets(h, idx, cnt, n);
}

void
tlm__hist_dense_clear(struct tlm__hist_dense *d)
{
    memset(d, 0, sizeof(*d));
}

int
tlm__hist_dense_add_blob(
    struct tlm__hist_dense *d, const unsigned char *blob, size_t len)
{
    uint16_t idx[TLM_HIST_SLOTS];
    double cnt[TLM_HIST_SLOTS];
    size_t n;
    if (tlm__hist_decode(blob, len, idx, cnt, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        d->cnt[idx[i]] += cnt[i];
        d->total += cnt[i];
    }
    return 0;
}

bool
tlm__hist_dense_quantile(const struct tlm__hist_dense *d, double q, double *ms)
{
    double cum = d->cnt[TLM_HIST_NULL];
    unsigned last = 0;
    if (!(d->total > cum))
        return false;
    for (unsigned b = 0; b < TLM_HIST_BUCKETS; b++) {
        if (d->cnt[b] <= 0)
            continue;
        cum += d->cnt[b];
        last = b;
        if (cum >= d->total * (q - 1e-9)) {
            *ms = tlm__hist_value(b);
            return true;
        }
    }
    *ms = tlm__hist_value(last);
    return true;
}
