/*
 * test_durability.c - the spool against the real telemetry-server: events
 * tracked while the server is unreachable stay on disk at close and are
 * delivered exactly once by the next process; a process SIGKILLed in the
 * middle of a flood loses nothing it had spooled, and the next
 * process's replay is deduplicated to exactly N on the server; opting out
 * purges the spool. Each scenario prints sent / received / duplicated.
 */
#include "fixture.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <telemetry.h>
#include <unistd.h>

static char spool[64];

static void
setup(void)
{
    snprintf(spool, sizeof(spool), "/tmp/tlm-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(spool));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
    ck_assert_int_eq(system(cmd), 0);
}

static tlm_client *
spool_client(const char *url)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 50), 0);
    ck_assert_int_eq(tlm_options_set_spool_dir(o, spool), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

static void
track_n(tlm_client *c, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(
            tlm_track_request_simple(c, "/v1/durable", "GET", 200, 3.0, "u"),
            0);
}

static tlm_stats
stats_of(tlm_client *c)
{
    tlm_stats s;
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    return s;
}

/* Files of ours left in the spool directory. */
static int
spool_files(void)
{
    int n = 0;
    DIR *d = opendir(spool);
    struct dirent *e;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "tlm-spool.", 10) == 0;
    closedir(d);
    return n;
}

START_TEST(unreachable_server_then_next_process_delivers)
{
    enum { N = 1200 };
    char dead[64];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
    tlm_client *c = spool_client(dead);
    track_n(c, N);
    /* Nothing can be sent: at the deadline every event is on disk. */
    ck_assert_int_eq(tlm_client_close(c, 1500), 0);
    tlm_stats s = stats_of(c);
    ck_assert_uint_eq(s.spooled, N);
    ck_assert_uint_eq(s.spool_kept, N);
    ck_assert_uint_eq(s.dropped_shutdown, 0);
    ck_assert_uint_eq(s.sent, 0);
    tlm_client_free(c);
    ck_assert_int_gt(spool_files(), 0);

    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = spool_client(srv.url);
    ck_assert_int_eq(tlm_client_flush(c, 30000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.replayed, N);
    ck_assert_uint_eq(s.sent, N);
    ck_assert_uint_eq(s.duplicates, 0);
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    tlm_client_free(c);
    ck_assert_int_eq(tlm_test_total_events(&srv), N);
    ck_assert_int_eq(spool_files(), 0); /* all acked: nothing left */
    printf("durability: unreachable server: sent %d, received %ld, "
           "duplicates 0\n",
        N, tlm_test_total_events(&srv));
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(sigkill_mid_flood_then_exactly_once)
{
    enum { N = 5000 };
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tlm_client *c = spool_client(srv.url);
        for (int i = 0; i < N; i++)
            if (tlm_track_request_simple(c, "/v1/durable", "GET", 200, 3.0, "u")
                != 0)
                _exit(3);
        /* Every event is durable once spooled (stats.spooled); then die,
         * with part of it sent and acked and part not. */
        for (int i = 0; i < 2000; i++) {
            tlm_stats s;
            tlm_stats_init(&s);
            (void)tlm_client_stats(c, &s);
            if (s.spooled == N)
                break;
            usleep(5000);
        }
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    long before = tlm_test_total_events(&srv);
    tlm_client *c = spool_client(srv.url);
    ck_assert_int_eq(tlm_client_flush(c, 30000), 0);
    tlm_stats s = stats_of(c);
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    tlm_client_free(c);
    long after = tlm_test_total_events(&srv);
    ck_assert_int_eq(after, N);
    ck_assert_uint_eq(s.replayed + (uint64_t)before >= N, 1);
    printf("durability: SIGKILL mid-flood: sent %d, received %ld (%ld before "
           "the kill), replayed %llu, duplicates %llu\n",
        N, after, before, (unsigned long long)s.replayed,
        (unsigned long long)s.duplicates);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(opt_out_purges_the_spool)
{
    char dead[64];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
    tlm_client *c = spool_client(dead);
    track_n(c, 300);
    ck_assert_int_eq(tlm_client_flush(c, 300), TLM_ETIMEDOUT);
    ck_assert_int_gt(spool_files(), 0);
    tlm_stats s = stats_of(c);
    ck_assert_uint_eq(s.spooled, 300);
    ck_assert_int_eq(tlm_client_set_enabled(c, 0), 0);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    tlm_client_free(c);
    /* Purged: no record left to send by anyone. */
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = spool_client(srv.url);
    ck_assert_int_eq(tlm_client_flush(c, 5000), 0);
    ck_assert_uint_eq(stats_of(c).replayed, 0);
    tlm_client_free(c);
    ck_assert_int_eq(tlm_test_total_events(&srv), 0);
    tlm_test_server_stop(&srv);
}
END_TEST

static Suite *
durability_suite(void)
{
    Suite *s = suite_create("durability");
    TCase *tc = tcase_create("spool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, unreachable_server_then_next_process_delivers);
    tcase_add_test(tc, sigkill_mid_flood_then_exactly_once);
    tcase_add_test(tc, opt_out_purges_the_spool);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(durability_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
