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

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <telemetry.h>
#include <unistd.h>

static char spool[64];

/* Warnings the clients logged: batches the spool could not take, and
 * damaged records skipped at replay. */
static atomic_int warn_not_spooled, warn_skipped;

static void
count_warnings(tlm_log_level level, const char *message, void *data)
{
    (void)data;
    if (level != TLM_LOG_WARN)
        return;
    if (strstr(message, "not spooled") != NULL)
        atomic_fetch_add(&warn_not_spooled, 1);
    if (strstr(message, "torn or corrupt record") != NULL)
        atomic_fetch_add(&warn_skipped, 1);
}

static void
setup(void)
{
    atomic_store(&warn_not_spooled, 0);
    atomic_store(&warn_skipped, 0);
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
    ck_assert_int_eq(tlm_options_set_logger(o, count_warnings, NULL), 0);
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
    /* Every replayed event was acknowledged, those the server already had
     * as duplicates (`before` is only a lower bound: a batch of the killed
     * process may still be committing when it is read). */
    ck_assert_int_le(before, N);
    ck_assert_uint_eq(s.sent, s.replayed);
    ck_assert_uint_le(s.duplicates, s.replayed);
    ck_assert_uint_ge(s.replayed + (uint64_t)before, N);
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
    usleep(5000 * 1000); /* refused connections, retries backing off */
    const char *const extra[] = {"--listen", listen, NULL};
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, extra), 0);
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    report("server down 5 s at start", N, &srv, c);
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

/* A spool client with batches of per events and a transfer timeout. */
static tlm_client *
spool_client_with(const char *url, uint32_t per, uint32_t transfer_ms)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 50), 0);
    ck_assert_int_eq(tlm_options_set_max_batch_events(o, per), 0);
    ck_assert_int_eq(tlm_options_set_transfer_timeout_ms(o, transfer_ms), 0);
    ck_assert_int_eq(tlm_options_set_spool_dir(o, spool), 0);
    ck_assert_int_eq(tlm_options_set_logger(o, count_warnings, NULL), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

/* The first segment file of the spool, or "" when there is none. */
static void
first_segment(char *out, size_t size)
{
    DIR *d = opendir(spool);
    struct dirent *e;
    out[0] = '\0';
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".seg") == 0) {
            snprintf(out, size, "%s/%s", spool, e->d_name);
            break;
        }
    }
    closedir(d);
}

/* A server that accepts and never answers, past the transfer timeout, then
 * the process's deadline: nothing is lost (all spooled), close returns,
 * and the next process delivers exactly N. */
START_TEST(stalled_server_then_next_process)
{
    enum { N = 900 };
    int port;
    char url[64];
    int fd = tlm_test_stall_server(&port);
    ck_assert_int_ge(fd, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    tlm_client *c = spool_client_with(url, 300, 300);
    track_n(c, N);
    ck_assert_int_eq(tlm_client_close(c, 1500), 0);
    tlm_stats s = stats_of(c);
    ck_assert_uint_eq(s.spool_kept, N);
    ck_assert_uint_eq(s.dropped_shutdown, 0);
    tlm_client_free(c);
    close(fd);
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = spool_client_with(srv.url, 300, 10000);
    ck_assert_int_eq(tlm_client_flush(c, 30000), 0);
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    report("server stalling past the transfer timeout, then a new process", N,
        &srv, c);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

/* Close with the server down and far more events than the worker holds in
 * batches (2 x max_inflight): the whole queue is sealed and spooled, none
 * dropped, and the next process delivers every one. */
START_TEST(close_spools_the_whole_queue)
{
    enum { N = 20000 };
    char dead[64];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
    tlm_client *c = spool_client_with(dead, 500, 1000);
    track_n(c, N);
    ck_assert_int_eq(tlm_client_close(c, 10000), 0);
    tlm_stats s = stats_of(c);
    ck_assert_uint_eq(s.spooled, N);
    ck_assert_uint_eq(s.spool_kept, N);
    ck_assert_uint_eq(s.dropped_shutdown, 0);
    tlm_client_free(c);
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = spool_client_with(srv.url, 500, 10000);
    ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.replayed, N);
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    report("server down at close, whole queue spooled, then a new process", N,
        &srv, c);
    ck_assert_int_eq(tlm_test_total_events(&srv), N);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

/* A server that never answers and a transfer timeout far beyond close's
 * deadline: close aborts the transfers in flight at its deadline, returns,
 * and keeps their batches in the spool; the next process delivers N. */
START_TEST(close_aborts_stalled_transfers_into_the_spool)
{
    enum { N = 900 };
    int port;
    char url[64];
    int fd = tlm_test_stall_server(&port);
    ck_assert_int_ge(fd, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    tlm_client *c = spool_client_with(url, 300, 600000);
    track_n(c, N);
    ck_assert_int_eq(tlm_client_flush(c, 300), TLM_ETIMEDOUT);
    tlm_stats s = stats_of(c);
    ck_assert_uint_gt(s.inflight_events, 0); /* stalled mid-request */
    ck_assert_int_eq(tlm_client_close(c, 1000), 0);
    s = stats_of(c);
    ck_assert_uint_eq(s.spool_kept, N);
    ck_assert_uint_eq(s.dropped_shutdown, 0);
    ck_assert_uint_eq(s.sent, 0);
    tlm_client_free(c);
    close(fd);
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = spool_client_with(srv.url, 300, 10000);
    ck_assert_int_eq(tlm_client_flush(c, 30000), 0);
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    report("close aborting transfers to a stalled server, then a new process",
        N, &srv, c);
    ck_assert_int_eq(tlm_test_total_events(&srv), N);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

/* A corrupted and truncated spool at start: the damaged records are
 * skipped (never sent as garbage), the other is delivered. 3 batches of
 * 400; the segment's last 50 bytes cut (a torn write), one byte in its
 * middle flipped (the second record), garbage appended. */
START_TEST(corrupt_spool_at_start)
{
    enum { N = 1200, PER = 400 };
    char dead[64], seg[600];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
    tlm_client *c = spool_client_with(dead, PER, 1000);
    track_n(c, N);
    ck_assert_int_eq(tlm_client_close(c, 1000), 0);
    ck_assert_uint_eq(stats_of(c).spool_kept, N);
    tlm_client_free(c);
    first_segment(seg, sizeof(seg));
    ck_assert(seg[0] != '\0');
    FILE *f = fopen(seg, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f) - 50;
    ck_assert_int_eq(ftruncate(fileno(f), size), 0);
    fseek(f, size / 2, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(byte ^ 0x5a, f);
    fseek(f, 0, SEEK_END);
    fputs("TLSP garbage after the last record", f);
    fclose(f);

    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    c = spool_client_with(srv.url, PER, 10000);
    ck_assert_int_eq(tlm_client_flush(c, 30000), 0);
    tlm_stats st = stats_of(c);
    long got = tlm_test_total_events(&srv);
    printf("durability: corrupt and truncated spool at start: %d spooled, "
           "%ld received, %llu replayed (a torn and a corrupt %d-event "
           "record skipped)\n",
        N, got, (unsigned long long)st.replayed, PER);
    ck_assert_int_eq(got, N - 2 * PER);
    ck_assert_uint_eq(st.replayed, N - 2 * PER);
    ck_assert_int_ge(atomic_load(&warn_skipped), 1); /* logged, not silent */
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

/* The spool on a 192 KiB tmpfs that fills while the server is down (a
 * private mount: needs root, otherwise skipped): writes fail cleanly and
 * are counted, what was spooled is delivered exactly once by the next
 * client, nothing crashes. */
START_TEST(spool_on_a_filesystem_that_fills)
{
    tlm_test_server srv;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char dead[64];
        if (unshare(CLONE_NEWNS) != 0
            || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0
            || mount("tmpfs", spool, "tmpfs", 0, "size=192k") != 0)
            _exit(77);
        snprintf(
            dead, sizeof(dead), "http://127.0.0.1:%d", tlm_test_dead_port());
        tlm_client *c = spool_client_with(dead, 500, 1000);
        for (int i = 0; i < 20000; i++) {
            char ep[64];
            snprintf(ep, sizeof(ep), "/v1/fill/%d/%x", i % 97, i * 7919);
            if (tlm_track_request_simple(c, ep, "POST", 201, 9.0, "u") != 0)
                _exit(2);
        }
        /* Close seals the whole queue into batches for the spool: far more
         * than 192 KiB, so the disk fills part way. */
        (void)tlm_client_close(c, 3000);
        tlm_stats a = stats_of(c);
        tlm_client_free(c);
        if (a.spooled == 0 || a.spooled >= 20000 || a.spool_kept != a.spooled)
            _exit(3); /* the disk must have filled, and kept all it took */
        if (a.spool_kept + a.dropped_shutdown != 20000)
            _exit(6); /* every event spooled or counted as dropped */
        if (atomic_load(&warn_not_spooled) == 0)
            _exit(7); /* the failed writes were logged */
        c = spool_client_with(srv.url, 500, 10000);
        if (tlm_client_flush(c, 30000) != 0)
            _exit(4);
        tlm_stats b = stats_of(c);
        tlm_client_free(c);
        long got = tlm_test_total_events(&srv);
        printf("durability: spool on a 192 KiB tmpfs: 20000 tracked, %llu "
               "spooled, %llu not (dropped at close), %ld received\n",
            (unsigned long long)a.spooled,
            (unsigned long long)a.dropped_shutdown, got);
        fflush(stdout);
        _exit(b.replayed == a.spooled && got == (long)a.spooled ? 0 : 5);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    tlm_test_server_stop(&srv);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        fprintf(stderr,
            "spool_on_a_filesystem_that_fills: no private tmpfs "
            "mount (not root?): skipped\n");
        return;
    }
    ck_assert_msg(
        WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
}
END_TEST

/* ---- a loopback proxy that breaks connections --------------------------
 * The first `breaks` connections are cut with a TCP reset: in mode
 * MID_BODY after the first bytes of the request (the server never sees
 * it), in mode LOST_REPLY after the server's reply came back (the server
 * stored the batch; the client never hears so). Later connections are
 * relayed both ways. */
enum break_mode { MID_BODY, LOST_REPLY };

struct proxy {
    int lfd;
    int port;
    int target;
    enum break_mode mode;
    atomic_int breaks;
    atomic_int stop;
    pthread_t th;
};

struct pipe_job {
    struct proxy *p;
    int cfd;
    bool cut;
};

static void
reset_close(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

static int
connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void *
pipe_main(void *arg)
{
    struct pipe_job *j = arg;
    char buf[16384];
    int sfd = -1;
    if (j->cut && j->p->mode == MID_BODY) {
        (void)read(j->cfd, buf, 1000); /* part of the request, then RST */
        reset_close(j->cfd);
        free(j);
        return NULL;
    }
    sfd = connect_to(j->p->target);
    struct pollfd fds[2] = {{j->cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    while (sfd >= 0 && !atomic_load(&j->p->stop)) {
        if (poll(fds, 2, 100) <= 0)
            continue;
        if (fds[0].revents != 0) {
            ssize_t n = read(j->cfd, buf, sizeof(buf));
            if (n <= 0 || write(sfd, buf, (size_t)n) != n)
                break;
        }
        if (fds[1].revents != 0) {
            ssize_t n = read(sfd, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (j->cut) { /* the reply is lost on its way back */
                reset_close(j->cfd);
                close(sfd);
                free(j);
                return NULL;
            }
            if (write(j->cfd, buf, (size_t)n) != n)
                break;
        }
    }
    if (sfd >= 0)
        close(sfd);
    close(j->cfd);
    free(j);
    return NULL;
}

static void *
proxy_main(void *arg)
{
    struct proxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd pf = {p->lfd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        struct pipe_job *j = malloc(sizeof(*j));
        pthread_t t;
        j->p = p;
        j->cfd = cfd;
        j->cut = atomic_fetch_sub(&p->breaks, 1) > 0;
        if (pthread_create(&t, NULL, pipe_main, j) == 0)
            pthread_detach(t);
    }
    return NULL;
}

static void
proxy_start(struct proxy *p, int target, enum break_mode mode, int breaks)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(p->lfd, 0);
    ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(p->lfd, 64), 0);
    ck_assert_int_eq(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    p->target = target;
    p->mode = mode;
    atomic_init(&p->breaks, breaks);
    atomic_init(&p->stop, 0);
    ck_assert_int_eq(pthread_create(&p->th, NULL, proxy_main, p), 0);
}

static void
proxy_stop(struct proxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    close(p->lfd);
}

START_TEST(connections_reset_mid_body_and_replies_lost)
{
    enum { N = 3000 };
    static const enum break_mode modes[] = {MID_BODY, LOST_REPLY};
    static const char *const names[] = {"connections reset mid-body",
        "replies lost (reset after the "
        "server stored the batch)"};
    for (int m = 0; m < 2; m++) {
        tlm_test_server srv;
        struct proxy p;
        char url[64];
        ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
        proxy_start(&p, srv.port, modes[m], 3);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
        tlm_client *c = plain_client(url);
        track_n(c, N);
        ck_assert_int_eq(tlm_client_flush(c, 60000), 0);
        report(names[m], N, &srv, c);
        tlm_stats s = stats_of(c);
        ck_assert_uint_gt(s.retried, 0);
        if (modes[m] == LOST_REPLY)
            ck_assert_uint_gt(s.duplicates, 0); /* resent, stored once */
        tlm_client_free(c);
        proxy_stop(&p);
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
    tcase_add_test(tc, stalled_server_then_next_process);
    tcase_add_test(tc, close_spools_the_whole_queue);
    tcase_add_test(tc, close_aborts_stalled_transfers_into_the_spool);
    tcase_add_test(tc, corrupt_spool_at_start);
    tcase_add_test(tc, spool_on_a_filesystem_that_fills);
    tcase_add_test(tc, connections_reset_mid_body_and_replies_lost);
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
