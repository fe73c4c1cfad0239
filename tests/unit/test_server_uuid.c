/* Check suite for server/uuid.c: the ids the server makes are canonical
 * version-7 UUIDs (what the stores' id columns and the routes' validators
 * accept), distinct across threads, and ordered by creation time. */
#include "event.h"
#include "uuid.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_THREAD 20000
#define THREADS 4

START_TEST(uuid7_is_canonical_version_7)
{
    char id[TLM_UUID_BUF];
    for (int i = 0; i < 1000; i++) {
        tlm__uuid7(id);
        ck_assert_uint_eq(strlen(id), 36);
        ck_assert_msg(tlm__event_uuid_valid(id, 36), "%s", id);
        ck_assert_int_eq(id[14], '7'); /* the version */
        ck_assert_msg(strchr("89ab", id[19]) != NULL, "variant %s", id);
        for (const char *p = id; *p != '\0'; p++)
            ck_assert_msg(*p == '-' || (*p >= '0' && *p <= '9')
                    || (*p >= 'a' && *p <= 'f'),
                "%s", id);
    }
}
END_TEST

/* The first 48 bits are the Unix time in milliseconds. */
START_TEST(uuid7_carries_the_time)
{
    char id[TLM_UUID_BUF], hex[13];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long before = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    tlm__uuid7(id);
    clock_gettime(CLOCK_REALTIME, &ts);
    long long after = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    memcpy(hex, id, 8);
    memcpy(hex + 8, id + 9, 4);
    hex[12] = '\0';
    long long ms = strtoll(hex, NULL, 16);
    ck_assert_int_ge(ms, before);
    ck_assert_int_le(ms, after);
}
END_TEST

static int
cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void *
make_ids(void *arg)
{
    char(*ids)[TLM_UUID_BUF] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        tlm__uuid7(ids[i]);
    return NULL;
}

/* 80000 ids from 4 threads at once: no two alike. */
START_TEST(uuid7_distinct_across_threads)
{
    char(*ids)[TLM_UUID_BUF] = calloc(THREADS * PER_THREAD, TLM_UUID_BUF);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(
            pthread_create(&t[i], NULL, make_ids, ids + i * PER_THREAD), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    qsort(ids, THREADS * PER_THREAD, TLM_UUID_BUF, cmp_id);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        ck_assert_msg(strcmp(ids[i - 1], ids[i]) != 0, "repeated %s", ids[i]);
    free(ids);
}
END_TEST

/* Ids made 2 ms apart sort in the order they were made. */
START_TEST(uuid7_sorts_by_time)
{
    char a[TLM_UUID_BUF], b[TLM_UUID_BUF];
    struct timespec pause = {0, 2000000};
    tlm__uuid7(a);
    nanosleep(&pause, NULL);
    tlm__uuid7(b);
    ck_assert_msg(strcmp(a, b) < 0, "%s !< %s", a, b);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_uuid");
    TCase *tc = tcase_create("uuid");
    tcase_add_test(tc, uuid7_is_canonical_version_7);
    tcase_add_test(tc, uuid7_carries_the_time);
    tcase_add_test(tc, uuid7_distinct_across_threads);
    tcase_add_test(tc, uuid7_sorts_by_time);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
