/*
 * test_backoff.c - the retry policy (lib/backoff.c): full-jitter delays with
 * a cap, Retry-After, and which HTTP outcomes retry, split or drop.
 */
#include "internal.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

/* The largest u the worker can pass: tlm__rng_double() < 1. */
#define U_MAX (1.0 - 0x1.0p-53)

static uint64_t
ceiling_of(uint32_t attempt)
{
    uint64_t c = TLM__BACKOFF_BASE_MS;
    uint32_t i;

    for (i = 1; i < attempt && c < TLM__BACKOFF_CAP_MS; i++)
        c *= 2;
    return c < TLM__BACKOFF_CAP_MS ? c : TLM__BACKOFF_CAP_MS;
}

START_TEST(backoff_constants)
{
    ck_assert_int_eq(TLM__BACKOFF_BASE_MS, 500);
    ck_assert_int_eq(TLM__BACKOFF_CAP_MS, 60000);
    ck_assert_uint_eq(ceiling_of(1), 500);
    ck_assert_uint_eq(ceiling_of(2), 1000);
    ck_assert_uint_eq(ceiling_of(7), 32000);
    ck_assert_uint_eq(ceiling_of(8), 60000);
}
END_TEST

START_TEST(backoff_first_attempt_bounds)
{
    uint64_t d, prev = 0;
    int i;

    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, 0), 0);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, U_MAX, 0), 500);
    for (i = 0; i < 1000; i++) {
        d = tlm__backoff_delay_ms(1, i / 1000.0, 0);
        ck_assert_uint_le(d, 500);
        ck_assert_uint_ge(d, prev); /* non-decreasing in u */
        prev = d;
    }
    /* Half way is about half the ceiling: the jitter spans the range. */
    d = tlm__backoff_delay_ms(1, 0.5, 0);
    ck_assert_uint_ge(d, 240);
    ck_assert_uint_le(d, 260);
}
END_TEST

START_TEST(backoff_ceiling_doubles_then_caps)
{
    uint32_t n;
    uint64_t c, d, prev_top = 0;
    int i;

    for (n = 1; n <= 40; n++) {
        c = ceiling_of(n);
        ck_assert_uint_eq(tlm__backoff_delay_ms(n, 0.0, 0), 0);
        ck_assert_msg(tlm__backoff_delay_ms(n, U_MAX, 0) == c,
            "attempt %u: top %llu, want %llu", n,
            (unsigned long long)tlm__backoff_delay_ms(n, U_MAX, 0),
            (unsigned long long)c);
        for (i = 0; i < 200; i++) {
            d = tlm__backoff_delay_ms(n, i / 200.0, 0);
            ck_assert_uint_le(d, c);
        }
        ck_assert_uint_ge(tlm__backoff_delay_ms(n, U_MAX, 0), prev_top);
        prev_top = tlm__backoff_delay_ms(n, U_MAX, 0);
    }
}
END_TEST

START_TEST(backoff_large_attempts_capped)
{
    static const uint32_t big[]
        = {9, 20, 64, 65, 100, 1000, 1u << 31, UINT32_MAX};
    size_t i;

    for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        ck_assert_uint_eq(tlm__backoff_delay_ms(big[i], U_MAX, 0), 60000);
        ck_assert_uint_eq(tlm__backoff_delay_ms(big[i], 0.0, 0), 0);
        ck_assert_uint_le(tlm__backoff_delay_ms(big[i], 0.999, 0), 60000);
    }
}
END_TEST

START_TEST(backoff_u_out_of_range_stays_bounded)
{
    /* u is documented as [0, 1); anything else must not exceed the cap. */
    static const double odd[] = {1.0, 1.5, 1e9, -0.5, -1e9};
    size_t i;

    for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        ck_assert_uint_le(tlm__backoff_delay_ms(1, odd[i], 0), 500);
        ck_assert_uint_le(tlm__backoff_delay_ms(30, odd[i], 0), 60000);
    }
}
END_TEST

START_TEST(backoff_retry_after)
{
    /* Raises a small jittered delay to the server's value. */
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, 5), 5000);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, U_MAX, 1), 1000);
    ck_assert_uint_eq(tlm__backoff_delay_ms(3, 0.2, 120), 120000);
    /* Never lowers the jittered delay. */
    ck_assert_uint_eq(tlm__backoff_delay_ms(20, U_MAX, 1), 60000);
    ck_assert_uint_ge(
        tlm__backoff_delay_ms(20, 0.9, 2), tlm__backoff_delay_ms(20, 0.9, 0));
    /* Capped at one hour. */
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, 3600), 3600000);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, 3601), 3600000);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, U_MAX, 86400), 3600000);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, LONG_MAX), 3600000);
    /* Zero or negative: no Retry-After. */
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, 0), 0);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, -5), 0);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, 0.0, LONG_MIN), 0);
    ck_assert_uint_eq(tlm__backoff_delay_ms(1, U_MAX, -1), 500);
}
END_TEST

START_TEST(backoff_classify)
{
    static const struct {
        int ok;
        long status;
        tlm__outcome want;
    } cases[] = {
        {0, 0, TLM__OUT_RETRY}, /* refused, reset, timed out */
        {0, 200, TLM__OUT_RETRY}, /* transfer failed after the status */
        {0, 400, TLM__OUT_RETRY},
        {1, 200, TLM__OUT_OK},
        {1, 201, TLM__OUT_OK},
        {1, 202, TLM__OUT_OK},
        {1, 204, TLM__OUT_OK},
        {1, 299, TLM__OUT_OK},
        {1, 400, TLM__OUT_DROP},
        {1, 401, TLM__OUT_DROP},
        {1, 403, TLM__OUT_DROP},
        {1, 404, TLM__OUT_DROP},
        {1, 415, TLM__OUT_DROP},
        {1, 422, TLM__OUT_DROP},
        {1, 408, TLM__OUT_RETRY},
        {1, 413, TLM__OUT_SPLIT},
        {1, 429, TLM__OUT_RETRY},
        {1, 500, TLM__OUT_RETRY},
        {1, 502, TLM__OUT_RETRY},
        {1, 503, TLM__OUT_RETRY},
        {1, 504, TLM__OUT_RETRY},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(tlm__backoff_classify(cases[i].ok, cases[i].status)
                == cases[i].want,
            "transfer_ok=%d status=%ld: got %d, want %d", cases[i].ok,
            cases[i].status,
            (int)tlm__backoff_classify(cases[i].ok, cases[i].status),
            (int)cases[i].want);
}
END_TEST

static Suite *
backoff_suite(void)
{
    Suite *s = suite_create("backoff");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, backoff_constants);
    tcase_add_test(tc, backoff_first_attempt_bounds);
    tcase_add_test(tc, backoff_ceiling_doubles_then_caps);
    tcase_add_test(tc, backoff_large_attempts_capped);
    tcase_add_test(tc, backoff_u_out_of_range_stays_bounded);
    tcase_add_test(tc, backoff_retry_after);
    tcase_add_test(tc, backoff_classify);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(backoff_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
