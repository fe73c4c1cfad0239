/*
 * test_commands.c - the two commands against the real telemetry-server:
 * `telemetry-cli send` (JSON lines on stdin) and `api-client-demo`
 * deliver what they say, and their exit status tells the truth.
 *
 * The binaries come from TLM_CLI and TLM_DEMO (set by meson). Test code:
 * runs child processes with every wait bounded; no time is asserted.
 */
#include "fixture.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX 65536

/* Runs argv with `input` on stdin, stdout captured into out (NUL-
 * terminated, truncated to OUT_MAX); stderr is inherited (the test log).
 * Returns the exit status, or -1 if it did not exit normally within
 * ~120 s (then it is killed). */
static int
run(char *const argv[], const char *input, char *out)
{
    int in[2], o[2], status = 0, rounds;
    size_t used = 0, len = input != NULL ? strlen(input) : 0;
    pid_t pid;

    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(o), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(o[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(o[0]);
        close(o[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    /* The input is small (a few KB): it fits the pipe buffer. */
    if (len > 0)
        ck_assert_int_eq(write(in[1], input, len), (ssize_t)len);
    close(in[1]);
    fcntl(o[0], F_SETFL, O_NONBLOCK);
    for (rounds = 0; rounds < 1200; rounds++) {
        struct timespec ts = {0, 100 * 1000000L};
        ssize_t n = read(o[0], out + used, OUT_MAX - 1 - used);

        if (n > 0) {
            used += (size_t)n;
            continue;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            while ((n = read(o[0], out + used, OUT_MAX - 1 - used)) > 0)
                used += (size_t)n;
            break;
        }
        nanosleep(&ts, NULL);
    }
    out[used] = '\0';
    close(o[0]);
    if (rounds == 1200) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The number after "name: " at the start of a line of out, or -1. */
static long
field(const char *out, const char *name)
{
    size_t n = strlen(name);
    const char *p = out;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, name, n) == 0 && p[n] == ':')
            return strtol(p + n + 1, NULL, 10);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

static const char *
binary(const char *var)
{
    const char *v = getenv(var);

    ck_assert_msg(v != NULL && access(v, X_OK) == 0, "%s not set", var);
    return v;
}

static void
child_env(void)
{
    unsetenv("DO_NOT_TRACK");
    unsetenv("TELEMETRY_OPTOUT");
    unsetenv("TELEMETRY_DEBUG");
    unsetenv("TELEMETRY_ENDPOINT");
    unsetenv("TELEMETRY_API_KEY");
    unsetenv("http_proxy");
}

/* K lines: 40 valid events (all accepted keys used), one line that is not
 * JSON, one without an endpoint, one with a bad status, and a blank line
 * (ignored). Exit status 1 (bad lines), the 40 valid events stored. */
START_TEST(commands_cli_send_delivers_valid_lines)
{
    enum { VALID = 40 };
    tlm_test_server srv;
    static char out[OUT_MAX];
    char input[16384], url[64];
    size_t len = 0;
    int i, rc;
    char *argv[] = {(char *)binary("TLM_CLI"), "--endpoint", url, "--api-key",
        TLM_TEST_API_KEY, "send", NULL};

    child_env();
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    snprintf(url, sizeof(url), "%s", srv.url);
    for (i = 0; i < VALID; i++) {
        len += (size_t)snprintf(input + len, sizeof(input) - len,
            "{\"type\":\"request\",\"endpoint\":\"/v1/cli/%d\","
            "\"method\":\"GET\",\"response_status\":%d,"
            "\"response_time\":%d.5,\"user_id\":\"u%d\","
            "\"organization_id\":\"org-1\",\"access_tier\":\"pro\","
            "\"request_details\":{\"retry_count\":%d}}\n",
            i % 7, i % 10 == 0 ? 500 : 200, i, i, i % 3);
        if (i == 10)
            len += (size_t)snprintf(
                input + len, sizeof(input) - len, "this is not json\n");
        if (i == 20)
            len += (size_t)snprintf(input + len, sizeof(input) - len,
                "{\"method\":\"GET\",\"response_status\":200}\n\n");
        if (i == 30)
            len += (size_t)snprintf(input + len, sizeof(input) - len,
                "{\"endpoint\":\"/v1/x\",\"response_status\":\"ok\"}\n");
    }
    rc = run(argv, input, out);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(tlm_test_total_events(&srv), VALID);

    /* Only valid lines: exit status 0, all of them stored. */
    len = 0;
    for (i = 0; i < VALID; i++)
        len += (size_t)snprintf(input + len, sizeof(input) - len,
            "{\"endpoint\":\"/v1/cli/ok\",\"response_status\":200}\n");
    rc = run(argv, input, out);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(tlm_test_total_events(&srv), 2 * VALID);
    tlm_test_server_stop(&srv);
}
END_TEST

/* A wrong API key: the server refuses the batch (401, not retried),
 * nothing is stored, and send exits 1 (the event was lost; send does not
 * use 3, which is for the single-request commands). */
START_TEST(commands_cli_send_refused_key_fails)
{
    tlm_test_server srv;
    static char out[OUT_MAX];
    char url[64];
    char *argv[] = {(char *)binary("TLM_CLI"), "--endpoint", url, "--api-key",
        "not-a-key", "send", NULL};
    int rc;

    child_env();
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    snprintf(url, sizeof(url), "%s", srv.url);
    rc = run(argv, "{\"endpoint\":\"/v1/x\"}\n", out);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(tlm_test_total_events(&srv), 0);
    tlm_test_server_stop(&srv);
}
END_TEST

/* api-client-demo --events N --threads 2: exit 0, the server holds N
 * events, and the printed stats agree with it. */
START_TEST(commands_demo_delivers_all_events)
{
    enum { N = 3000 };
    tlm_test_server srv;
    static char out[OUT_MAX];
    char url[64], n[16];
    char *argv[] = {(char *)binary("TLM_DEMO"), "--endpoint", url, "--api-key",
        TLM_TEST_API_KEY, "--events", n, "--threads", "2", NULL};
    int rc;

    child_env();
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    snprintf(url, sizeof(url), "%s", srv.url);
    snprintf(n, sizeof(n), "%d", N);
    rc = run(argv, NULL, out);
    printf("%s", out);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(tlm_test_total_events(&srv), N);
    ck_assert_int_eq(field(out, "calls_tracked"), N);
    ck_assert_int_eq(field(out, "enqueued"), N);
    ck_assert_int_eq(field(out, "sent"), N);
    ck_assert_int_eq(field(out, "duplicates"), 0);
    ck_assert_int_eq(field(out, "events_lost"), 0);
    ck_assert_int_eq(field(out, "calls_queue_full"), 0);
    ck_assert_ptr_nonnull(strstr(out, "\nclose: ok\n"));
    tlm_test_server_stop(&srv);
}
END_TEST

static Suite *
commands_suite(void)
{
    Suite *s = suite_create("commands");
    TCase *tc = tcase_create("commands");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, commands_cli_send_delivers_valid_lines);
    tcase_add_test(tc, commands_cli_send_refused_key_fails);
    tcase_add_test(tc, commands_demo_delivers_all_events);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(commands_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
