/* Check suite for server/histogram.c: percentile error against exact
 * weighted nearest-rank on random distributions, merge associativity, the
 * blob round trip and malformed blobs. */
#include "histogram.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 88172645463325252ull;

static double
uniform(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return ((double)(seed >> 11) + 0.5) / 9007199254740992.0;
}

static double
normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
exact(const double *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n - 1e-9);
    return sorted[rank == 0 ? 0 : rank - 1];
}

enum dist { LOGNORMAL, BIMODAL, CONSTANT };

static void
check_dist(enum dist d)
{
    enum { N = 20000 };
    static double v[N];
    struct tlm__hist h = TLM_HIST_INIT;
    const double qs[] = {0.5, 0.95, 0.99};
    for (size_t i = 0; i < N; i++) {
        if (d == LOGNORMAL)
            v[i] = exp(3 + 1.5 * normal());
        else if (d == BIMODAL)
            v[i] = uniform() < 0.8 ? 5 + normal() * 0.5 + 1
                                   : 900 + normal() * 50;
        else
            v[i] = 42.5;
        if (v[i] < 0.01)
            v[i] = 0.01;
        ck_assert_int_eq(tlm__hist_record(&h, v[i], 1), 0);
    }
    qsort(v, N, sizeof(v[0]), cmp_double);
    for (size_t k = 0; k < 3; k++) {
        double got, want = exact(v, N, qs[k]);
        ck_assert(tlm__hist_quantile(&h, qs[k], &got));
        ck_assert_msg(fabs(got - want) <= 0.02 * want, "dist %d q %g: %g vs %g",
            (int)d, qs[k], got, want);
    }
    ck_assert_double_eq_tol(tlm__hist_total(&h), N, 1e-6);
    tlm__hist_free(&h);
}

START_TEST(histogram_percentiles_within_two_percent)
{
    check_dist(LOGNORMAL);
    check_dist(BIMODAL);
    check_dist(CONSTANT);
}
END_TEST

START_TEST(histogram_bucket_error_bound)
{
    /* Every value from 0.01 ms to 10 minutes lands in a bucket whose
     * representative is within 1% of it. */
    for (double ms = 0.01; ms <= 600000; ms *= 1.0137) {
        double r = tlm__hist_value(tlm__hist_bucket(ms));
        ck_assert_msg(fabs(r - ms) <= 0.01 * ms, "%g -> %g", ms, r);
    }
    ck_assert_uint_eq(tlm__hist_bucket(-5), 0);
    ck_assert_uint_eq(tlm__hist_bucket(NAN), 0);
    ck_assert_uint_lt(tlm__hist_bucket(1e12), TLM_HIST_BUCKETS);
}
END_TEST

static void
fill(struct tlm__hist *h, int n, double scale)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(
            tlm__hist_record(h, scale * exp(normal()), 1 / (0.1 + uniform())),
            0);
}

static bool
same(const struct tlm__hist *a, const struct tlm__hist *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (a->idx[i] != b->idx[i] || fabs(a->cnt[i] - b->cnt[i]) > 1e-9)
            return false;
    }
    return true;
}

START_TEST(histogram_merge_associative)
{
    struct tlm__hist a = TLM_HIST_INIT, b = TLM_HIST_INIT, c = TLM_HIST_INIT;
    struct tlm__hist l = TLM_HIST_INIT, r = TLM_HIST_INIT, bc = TLM_HIST_INIT;
    fill(&a, 500, 10);
    fill(&b, 300, 200);
    fill(&c, 700, 3);
    /* (a + b) + c */
    ck_assert_int_eq(tlm__hist_merge(&l, &a), 0);
    ck_assert_int_eq(tlm__hist_merge(&l, &b), 0);
    ck_assert_int_eq(tlm__hist_merge(&l, &c), 0);
    /* a + (b + c), in the other order */
    ck_assert_int_eq(tlm__hist_merge(&bc, &c), 0);
    ck_assert_int_eq(tlm__hist_merge(&bc, &b), 0);
    ck_assert_int_eq(tlm__hist_merge(&r, &bc), 0);
    ck_assert_int_eq(tlm__hist_merge(&r, &a), 0);
    ck_assert(same(&l, &r));
    ck_assert_double_eq_tol(tlm__hist_total(&l),
        tlm__hist_total(&a) + tlm__hist_total(&b) + tlm__hist_total(&c), 1e-6);
    tlm__hist_free(&a);
    tlm__hist_free(&b);
    tlm__hist_free(&c);
    tlm__hist_free(&l);
    tlm__hist_free(&r);
    tlm__hist_free(&bc);
}
END_TEST

START_TEST(histogram_blob_round_trip)
{
    struct tlm__hist a = TLM_HIST_INIT, b = TLM_HIST_INIT;
    struct tlm__hist_dense *d = malloc(sizeof(*d));
    unsigned char *blob;
    size_t len;
    double x, y;
    fill(&a, 1000, 50);
    ck_assert_int_eq(tlm__hist_encode(&a, &blob, &len), 0);
    /* Sparse: a few bytes per non-zero bucket, not per bucket. */
    ck_assert_uint_lt(len, 1 + 3 + a.n * 6);
    ck_assert_int_eq(tlm__hist_merge_blob(&b, blob, len), 0);
    ck_assert_uint_eq(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_uint_eq(a.idx[i], b.idx[i]);
        /* counts are kept in 1/1024ths */
        ck_assert_double_eq_tol(a.cnt[i], b.cnt[i], 1.0 / 1024);
    }
    tlm__hist_dense_clear(d);
    ck_assert_int_eq(tlm__hist_dense_add_blob(d, blob, len), 0);
    ck_assert(tlm__hist_quantile(&a, 0.95, &x));
    ck_assert(tlm__hist_dense_quantile(d, 0.95, &y));
    ck_assert_double_eq_tol(x, y, 1e-9);
    free(blob);
    free(d);
    tlm__hist_free(&a);
    tlm__hist_free(&b);
}
END_TEST

START_TEST(histogram_hostile_blobs_rejected)
{
    struct tlm__hist h = TLM_HIST_INIT;
    unsigned char *blob;
    size_t len;
    const unsigned char bad[][8] = {
        {2, 1, 5, 1}, /* unknown version */
        {1, 2, 5, 1, 0, 1}, /* repeated index (delta 0) */
        {1, 1, 0xff, 0xff, 0x7f, 1}, /* index out of range */
        {1, 1, 5, 0}, /* zero count */
        {1, 3, 5, 1}, /* more buckets announced than present */
        {1, 1, 5, 1, 9}, /* trailing byte */
        {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* truncated varint */
    };
    const size_t lens[] = {4, 6, 6, 4, 4, 5, 8};
    ck_assert_int_eq(tlm__hist_record(&h, 12, 1), 0);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        ck_assert_msg(tlm__hist_merge_blob(&h, bad[i], lens[i]) == -1,
            "blob %zu accepted", i);
    ck_assert_int_eq(tlm__hist_merge_blob(&h, NULL, 0), -1);
    /* Unchanged by the rejected blobs. */
    ck_assert_uint_eq(h.n, 1);
    ck_assert_double_eq_tol(tlm__hist_total(&h), 1, 1e-12);
    /* Every truncation of a valid blob is rejected. */
    fill(&h, 50, 20);
    ck_assert_int_eq(tlm__hist_encode(&h, &blob, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        struct tlm__hist t = TLM_HIST_INIT;
        ck_assert_int_eq(tlm__hist_merge_blob(&t, blob, cut), -1);
        ck_assert_uint_eq(t.n, 0);
        tlm__hist_free(&t);
    }
    free(blob);
    tlm__hist_free(&h);
}
END_TEST

START_TEST(histogram_empty_has_no_quantile)
{
    struct tlm__hist h = TLM_HIST_INIT;
    double x;
    ck_assert(!tlm__hist_quantile(&h, 0.5, &x));
    ck_assert_int_eq(tlm__hist_record(&h, 5, 0), 0);
    ck_assert(!tlm__hist_quantile(&h, 0.5, &x));
    tlm__hist_free(&h);
}
END_TEST

static Suite *
histogram_suite(void)
{
    Suite *s = suite_create("server_histogram");
    TCase *tc = tcase_create("histogram");
    tcase_add_test(tc, histogram_percentiles_within_two_percent);
    tcase_add_test(tc, histogram_bucket_error_bound);
    tcase_add_test(tc, histogram_merge_associative);
    tcase_add_test(tc, histogram_blob_round_trip);
    tcase_add_test(tc, histogram_hostile_blobs_rejected);
    tcase_add_test(tc, histogram_empty_has_no_quantile);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(histogram_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
