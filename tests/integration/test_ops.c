/*
 * test_ops.c - the real telemetry-server binary as an operator runs it:
 * SIGTERM drains a request in flight and commits it before exit 0, the
 * log file holds one JSON object per line and SIGHUP reopens it, and
 * /readyz and /metrics answer over the network.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char logdir[64], logpath[128];

static void
setup(void)
{
    snprintf(logdir, sizeof(logdir), "/tmp/tlm-ops-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(logdir));
    snprintf(logpath, sizeof(logpath), "%s/server.log", logdir);
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", logdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A batch of n request events numbered from first, timestamped now. */
static char *
batch(int first, int n)
{
    char *b = tlm_test_batch('a', first, n, "/v1/ops", NULL);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* A request through libcurl; the status, and the body in out (64 KiB). */
static long
request(const tlm_test_server *s, const char *path, const char *body, char *out)
{
    return tlm_test_http(s, NULL, path, TLM_TEST_API_KEY, body, out, 65536);
}

static int
connect_port(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {20, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Checks every line of the log parses as a JSON object with ts, level and
 * msg; returns how many lines have msg == want (NULL: all lines). */
static int
log_count(const char *path, const char *want)
{
    static char line[16384];
    FILE *f = fopen(path, "r");
    int n = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(cJSON_IsObject(o), "log line is not JSON: %s", line);
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "ts")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "level")));
        cJSON *msg = cJSON_GetObjectItem(o, "msg");
        ck_assert(cJSON_IsString(msg));
        if (want == NULL || strcmp(msg->valuestring, want) == 0)
            n++;
        cJSON_Delete(o);
    }
    fclose(f);
    return n;
}

START_TEST(ops_sigterm_drains_in_flight_and_commits)
{
    const char *extra[] = {"--log-file", logpath, "--log-level", "debug", NULL};
    tlm_test_server s, again;
    static char out[65536];
    char head[256], db[320];
    int status = -1;
    ck_assert_int_eq(tlm_test_server_start(&s, extra), 0);
    char *first = batch(1, 20), *late = batch(100, 7);
    ck_assert_int_eq(request(&s, "/v1/batch", first, out), 200);
    ck_assert_int_eq(request(&s, "/readyz", NULL, out), 200);
    ck_assert_int_eq(request(&s, "/metrics", NULL, out), 200);
    ck_assert_ptr_nonnull(
        strstr(out, "telemetry_events_total{result=\"accepted\"} 20\n"));

    /* A batch in flight: headers and half its body, then SIGTERM. */
    size_t len = strlen(late), half = len / 2;
    int fd = connect_port(s.port);
    int n = snprintf(head, sizeof(head),
        "POST /v1/batch HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
        "%s\r\nContent-Length: %zu\r\n\r\n",
        TLM_TEST_API_KEY, len);
    ck_assert_int_eq(write(fd, head, (size_t)n), n);
    ck_assert_int_eq(write(fd, late, half), (ssize_t)half);
    usleep(300 * 1000);
    ck_assert_int_eq(kill(s.pid, SIGTERM), 0);
    usleep(300 * 1000);
    ck_assert_int_eq(write(fd, late + half, len - half), (ssize_t)(len - half));
    ssize_t got = read(fd, out, 4096);
    ck_assert_int_gt(got, 0);
    out[got] = '\0';
    ck_assert_msg(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
    close(fd);

    ck_assert_int_eq(waitpid(s.pid, &status, 0), s.pid);
    s.pid = 0;
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);

    /* Both batches are in the database. */
    snprintf(db, sizeof(db), "sqlite:%s/events.db", s.dir);
    const char *reopen[] = {"--db", db, NULL};
    ck_assert_int_eq(tlm_test_server_start(&again, reopen), 0);
    ck_assert_int_eq(tlm_test_total_events(&again), 27);
    tlm_test_server_stop(&again);
    tlm_test_server_stop(&s);

    ck_assert_int_gt(log_count(logpath, NULL), 0);
    ck_assert_int_eq(log_count(logpath, "listening"), 1);
    ck_assert_int_eq(log_count(logpath, "draining"), 1);
    ck_assert_int_eq(log_count(logpath, "stopped"), 1);
    ck_assert_int_ge(log_count(logpath, "request"), 4);
    free(first);
    free(late);
}
END_TEST

START_TEST(ops_sighup_reopens_log_file)
{
    const char *extra[] = {"--log-file", logpath, "--log-level", "debug", NULL};
    tlm_test_server s;
    static char out[65536];
    char rotated[160];
    struct stat st;
    int i;
    snprintf(rotated, sizeof(rotated), "%s.1", logpath);
    ck_assert_int_eq(tlm_test_server_start(&s, extra), 0);
    ck_assert_int_eq(rename(logpath, rotated), 0);
    ck_assert_int_eq(kill(s.pid, SIGHUP), 0);
    for (i = 0; i < 200 && stat(logpath, &st) != 0; i++)
        usleep(50 * 1000);
    ck_assert_int_eq(stat(logpath, &st), 0);
    ck_assert_int_eq(request(&s, "/healthz", NULL, out), 200);
    tlm_test_server_stop(&s);
    ck_assert_int_eq(log_count(rotated, "listening"), 1);
    ck_assert_int_eq(log_count(logpath, "log file reopened"), 1);
    ck_assert_int_ge(log_count(logpath, "request"), 1);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ops_sigterm_drains_in_flight_and_commits);
    tcase_add_test(tc, ops_sighup_reopens_log_file);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
