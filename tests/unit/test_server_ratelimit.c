/* Check suite for server/ratelimit.c: token buckets driven by an explicit
 * clock, so every refill and Retry-After value is exact. */
#include "ratelimit.h"

#include <check.h>
#include <stdlib.h>

#define SEC 1000000LL

static struct tlm__ratelimit *
limiter(double eps, double burst)
{
    struct tlm__rate_rule rules[2] = {{eps, burst}, {eps, burst}};
    struct tlm__ratelimit *rl = NULL;
    ck_assert_int_eq(tlm__ratelimit_new(rules, 2, &rl), 0);
    return rl;
}

START_TEST(ratelimit_burst_then_refuse)
{
    struct tlm__ratelimit *rl = limiter(10, 20);
    long ra = -1;
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 20, 0, &ra), TLM_RATE_OK);
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 1, 0, &ra), TLM_RATE_LIMITED);
    ck_assert_int_eq(ra, 1);
    /* 0.1 s later one token is back. */
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 1, SEC / 10, &ra), TLM_RATE_OK);
    ck_assert_int_eq(
        tlm__ratelimit_take(rl, 0, 15, SEC / 10, &ra), TLM_RATE_LIMITED);
    ck_assert_int_eq(ra, 2); /* 15 tokens at 10/s: 1.5 s, rounded up */
    tlm__ratelimit_free(rl);
}
END_TEST

START_TEST(ratelimit_refused_takes_nothing)
{
    struct tlm__ratelimit *rl = limiter(1, 10);
    long ra;
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 6, 0, &ra), TLM_RATE_OK);
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 5, 0, &ra), TLM_RATE_LIMITED);
    ck_assert_int_eq(ra, 1);
    /* The refusal left the 4 tokens in place. */
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 4, 0, &ra), TLM_RATE_OK);
    tlm__ratelimit_free(rl);
}
END_TEST

START_TEST(ratelimit_refill_caps_at_burst)
{
    struct tlm__ratelimit *rl = limiter(100, 50);
    long ra;
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 50, 0, &ra), TLM_RATE_OK);
    ck_assert_int_eq(
        tlm__ratelimit_take(rl, 0, 50, 3600 * SEC, &ra), TLM_RATE_OK);
    ck_assert_int_eq(
        tlm__ratelimit_take(rl, 0, 1, 3600 * SEC, &ra), TLM_RATE_LIMITED);
    tlm__ratelimit_free(rl);
}
END_TEST

START_TEST(ratelimit_cost_over_burst_never_admissible)
{
    struct tlm__ratelimit *rl = limiter(100, 50);
    long ra;
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 51, 0, &ra), TLM_RATE_TOO_BIG);
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 50, 0, &ra), TLM_RATE_OK);
    tlm__ratelimit_free(rl);
}
END_TEST

START_TEST(ratelimit_keys_independent)
{
    struct tlm__ratelimit *rl = limiter(1, 5);
    long ra;
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 5, 0, &ra), TLM_RATE_OK);
    ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 1, 0, &ra), TLM_RATE_LIMITED);
    ck_assert_int_eq(tlm__ratelimit_take(rl, 1, 5, 0, &ra), TLM_RATE_OK);
    /* Out-of-range keys are not limited (and do not crash). */
    ck_assert_int_eq(tlm__ratelimit_take(rl, 7, 1e6, 0, &ra), TLM_RATE_OK);
    tlm__ratelimit_free(rl);
}
END_TEST

START_TEST(ratelimit_zero_rate_is_unlimited)
{
    struct tlm__ratelimit *rl = limiter(0, 0);
    long ra;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(tlm__ratelimit_take(rl, 0, 1000, 0, &ra), TLM_RATE_OK);
    tlm__ratelimit_free(rl);
    tlm__ratelimit_free(NULL);
}
END_TEST

START_TEST(ratelimit_clock_going_back_earns_nothing)
{
    struct tlm__ratelimit *rl = limiter(10, 10);
    long ra;
    ck_assert_int_eq(
        tlm__ratelimit_take(rl, 0, 10, 10 * SEC, &ra), TLM_RATE_OK);
    ck_assert_int_eq(
        tlm__ratelimit_take(rl, 0, 1, 5 * SEC, &ra), TLM_RATE_LIMITED);
    ck_assert_int_eq(
        tlm__ratelimit_take(rl, 0, 1, 10 * SEC + SEC / 10, &ra), TLM_RATE_OK);
    tlm__ratelimit_free(rl);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_ratelimit");
    TCase *tc = tcase_create("ratelimit");
    tcase_add_test(tc, ratelimit_burst_then_refuse);
    tcase_add_test(tc, ratelimit_refused_takes_nothing);
    tcase_add_test(tc, ratelimit_refill_caps_at_burst);
    tcase_add_test(tc, ratelimit_cost_over_burst_never_admissible);
    tcase_add_test(tc, ratelimit_keys_independent);
    tcase_add_test(tc, ratelimit_zero_rate_is_unlimited);
    tcase_add_test(tc, ratelimit_clock_going_back_earns_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
