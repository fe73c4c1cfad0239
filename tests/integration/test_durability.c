/*
 * test_durability.c - the spool against the real telemetry-server: events
 * tracked while the server is unreachable stay on disk at close and are
 * delivered exactly once by the next process; a process SIGKILLed in the
 * middle of a flood loses nothing it had spooled, and the next
 * process's replay is deduplicated to exactly N on the server; opting out
 * purges the spool; and without a spool, retries alone deliver exactly once
 * through a server down at start, a server restarted in the middle of a
 * flood, and a server answering 503, 429 (with Retry-After) and 500 for a
 * while. Each scenario prints sent / received / duplicated.
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

/* The fault scenarios without a spool: retries alone must deliver every
 * event exactly once. */
static tlm_client *
plain_client(const char *url)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 50), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

static void
report(
    const char *scenario, int sent, const tlm_test_server *srv, tlm_client *c)
{
    tlm_stats s = stats_of(c);
    long got = tlm_test_total_events(srv);
    printf("durability: %s: sent %d, received %ld, duplicates %llu, "
           "retried %llu\n",
        scenario, sent, got, (unsigned long long)s.duplicates,
        (unsigned long long)s.retried);
    ck_assert_int_eq(got, sent);
    ck_assert_uint_eq(s.sent, (uint64_t)sent);
}

START_TEST(server_down_at_start_up_later)
{
    enum { N = 2000 };
    int port = tlm_test_dead_port();
    char url[64], listen[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    tlm_client *c = plain_client(url);
    track_n(c, N);
    usleep(2000 * 1000); /* refused connections, retries backing off */
    const char *const extra[] = {"--listen", listen, NULL};
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, extra), 0);
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    report("server down 2 s at start", N, &srv, c);
    ck_assert_uint_gt(stats_of(c).retried, 0);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(server_restarted_mid_flood)
{
    enum { N = 6000 };
    tlm_test_server a, b;
    char listen[64], db[sizeof(a.db)];
    ck_assert_int_eq(tlm_test_server_start(&a, NULL), 0);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", a.port);
    snprintf(db, sizeof(db), "%s", a.db);
    tlm_client *c = plain_client(a.url);
    track_n(c, N / 2);
    usleep(100 * 1000);
    kill(a.pid, SIGTERM); /* drains, then exits; the database stays */
    ck_assert_int_eq(waitpid(a.pid, NULL, 0), a.pid);
    a.pid = 0;
    track_n(c, N / 2); /* while nobody listens */
    usleep(500 * 1000);
    const char *const extra[] = {"--listen", listen, "--db", db, NULL};
    ck_assert_int_eq(tlm_test_server_start(&b, extra), 0);
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    report("server restarted mid-flood", N, &b, c);
    tlm_client_free(c);
    tlm_test_server_stop(&b);
    tlm_test_server_stop(&a);
}
END_TEST

START_TEST(server_answers_errors_for_a_while)
{
    static const char *const faults[] = {"503:4:1", "429:3:1", "500:4"};
    for (size_t k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
        enum { N = 1500 };
        char name[64];
        const char *const extra[] = {"--fault", faults[k], NULL};
        tlm_test_server srv;
        ck_assert_int_eq(tlm_test_server_start(&srv, extra), 0);
        tlm_client *c = plain_client(srv.url);
        track_n(c, N);
        ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
        snprintf(name, sizeof(name), "server answering %s", faults[k]);
        report(name, N, &srv, c);
        ck_assert_uint_gt(stats_of(c).retried, 0);
        tlm_client_free(c);
        tlm_test_server_stop(&srv);
    }
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
    tcase_add_test(tc, server_down_at_start_up_later);
    tcase_add_test(tc, server_restarted_mid_flood);
    tcase_add_test(tc, server_answers_errors_for_a_while);
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
