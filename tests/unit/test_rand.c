/*
 * test_rand.c - the PRNG and UUID generation (lib/rand.c): UUIDv7 text
 * format, version and variant, time ordering and uniqueness.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* TLM_TEST_SCALE=small (set by scripts/test for the sanitizer and valgrind
 * runs, which are 10-50x slower): fewer iterations, same checks. */
static int
scale_small(void)
{
    const char *v = getenv("TLM_TEST_SCALE");

    return v != NULL && strcmp(v, "small") == 0;
}

static int
is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static uint64_t
hex_value(const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v * 16 + (uint64_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return v;
}

/* 8-4-4-4-12 lowercase hex, NUL at 36, version and RFC 4122 variant. */
static void
check_uuid(const char *id, char version)
{
    int i;

    ck_assert_uint_eq(strlen(id), 36);
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            ck_assert_msg(id[i] == '-', "%s: no '-' at %d", id, i);
        else
            ck_assert_msg(is_lower_hex(id[i]), "%s: bad char at %d", id, i);
    }
    ck_assert_msg(id[14] == version, "%s: version %c", id, id[14]);
    ck_assert_msg(strchr("89ab", id[19]) != NULL, "%s: variant %c", id, id[19]);
}

/* The 48-bit millisecond timestamp of a UUIDv7. */
static uint64_t
uuid7_ms(const char *id)
{
    char hex[12];

    memcpy(hex, id, 8);
    memcpy(hex + 8, id + 9, 4);
    return hex_value(hex, 12);
}

START_TEST(rand_uuid7_format)
{
    tlm__rng rng;
    char id[37];
    int i;

    tlm__rng_seed(&rng);
    for (i = 0; i < 10000; i++) {
        memset(id, 'X', sizeof(id));
        tlm__uuid7(&rng, 1700000000123LL + i, id);
        check_uuid(id, '7');
    }
}
END_TEST

START_TEST(rand_uuid7_timestamp)
{
    static const int64_t ms[]
        = {0, 1, 255, 256, 1700000000123LL, 0x0123456789abLL, 0xffffffffffffLL};
    tlm__rng rng;
    char id[37];
    size_t i;

    tlm__rng_seed(&rng);
    for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        tlm__uuid7(&rng, ms[i], id);
        check_uuid(id, '7');
        ck_assert_uint_eq(uuid7_ms(id), (uint64_t)ms[i]);
    }
    tlm__uuid7(&rng, 0x0123456789abLL, id);
    ck_assert_int_eq(strncmp(id, "01234567-89ab-7", 15), 0);
}
END_TEST

START_TEST(rand_uuid7_time_ordered)
{
    tlm__rng rng;
    char a[37], b[37];
    int64_t t = 1700000000000LL;
    int i;

    tlm__rng_seed(&rng);
    /* Ids of a later millisecond sort after, across digit and byte
     * boundaries and whatever the random bits. */
    for (i = 0; i < 100000; i++) {
        int64_t step = 1 + (int64_t)(tlm__rng_next(&rng) % 5000);
        tlm__uuid7(&rng, t, a);
        tlm__uuid7(&rng, t + step, b);
        ck_assert_msg(strcmp(a, b) < 0, "%s !< %s", a, b);
        t += step;
    }
    tlm__uuid7(&rng, 0xff, a);
    tlm__uuid7(&rng, 0x100, b);
    ck_assert_int_lt(strcmp(a, b), 0);
    tlm__uuid7(&rng, 0xffffffffffLL, a);
    tlm__uuid7(&rng, 0x10000000000LL, b);
    ck_assert_int_lt(strcmp(a, b), 0);
}
END_TEST

/* An id as two numbers, for a fast sort. */
typedef struct id128 {
    uint64_t hi, lo;
} id128;

static int
cmp_id128(const void *pa, const void *pb)
{
    const id128 *a = pa, *b = pb;

    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return 0;
}

START_TEST(rand_uuid7_unique_1m)
{
    const size_t N = scale_small() ? 100000 : 1000000;
    id128 *ids = malloc(N * sizeof(*ids));
    tlm__rng rng;
    char id[37], hex[32];
    size_t i;

    ck_assert_ptr_nonnull(ids);
    tlm__rng_seed(&rng);
    /* All in the same millisecond: only the 74 random bits tell them
     * apart, the worst case for a busy worker. */
    for (i = 0; i < N; i++) {
        tlm__uuid7(&rng, 1700000000000LL, id);
        memcpy(hex, id, 8);
        memcpy(hex + 8, id + 9, 4);
        memcpy(hex + 12, id + 14, 4);
        memcpy(hex + 16, id + 19, 4);
        memcpy(hex + 20, id + 24, 12);
        ids[i].hi = hex_value(hex, 16);
        ids[i].lo = hex_value(hex + 16, 16);
    }
    check_uuid(id, '7');
    qsort(ids, N, sizeof(*ids), cmp_id128);
    for (i = 1; i < N; i++)
        ck_assert_msg(cmp_id128(&ids[i - 1], &ids[i]) != 0,
            "duplicate id after %zu ids", i);
    free(ids);
}
END_TEST

START_TEST(rand_uuid4_format)
{
    tlm__rng rng;
    char a[37], b[37];
    int i;

    tlm__rng_seed(&rng);
    for (i = 0; i < 10000; i++) {
        tlm__uuid4(&rng, a);
        check_uuid(a, '4');
        tlm__uuid4(&rng, b);
        ck_assert_str_ne(a, b);
    }
}
END_TEST

START_TEST(rand_double_range)
{
    tlm__rng rng;
    double d, lo = 1.0, hi = 0.0, sum = 0.0;
    int i, n = 100000;

    tlm__rng_seed(&rng);
    for (i = 0; i < n; i++) {
        d = tlm__rng_double(&rng);
        ck_assert(d >= 0.0 && d < 1.0);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += d;
    }
    /* Spread over the interval (bounds that fail only if broken). */
    ck_assert(lo < 0.01);
    ck_assert(hi > 0.99);
    ck_assert(sum / n > 0.45 && sum / n < 0.55);
}
END_TEST

START_TEST(rand_seeds_differ)
{
    tlm__rng a, b;
    int same = 0, i;

    tlm__rng_seed(&a);
    tlm__rng_seed(&b);
    for (i = 0; i < 4; i++)
        same += tlm__rng_next(&a) == tlm__rng_next(&b);
    ck_assert_int_lt(same, 4);
}
END_TEST

static Suite *
rand_suite(void)
{
    Suite *s = suite_create("rand");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, rand_uuid7_format);
    tcase_add_test(tc, rand_uuid7_timestamp);
    tcase_add_test(tc, rand_uuid7_time_ordered);
    tcase_add_test(tc, rand_uuid7_unique_1m);
    tcase_add_test(tc, rand_uuid4_format);
    tcase_add_test(tc, rand_double_range);
    tcase_add_test(tc, rand_seeds_differ);
    tcase_set_timeout(tc, 300); /* the 1M-id case under valgrind */
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(rand_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
