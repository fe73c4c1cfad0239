/*
 * test_keys.c - API keys as an operator manages them: `telemetry-server keys
 * create|list|revoke` against the database of a running server, which picks
 * up new and revoked keys at its refresh (and on SIGHUP); the key's
 * environment wins over what its events claim; admin keys, ingestion keys
 * and no key on the admin and ingest routes (403 / 401); the secret never
 * reaches the database; a server with no key at all refuses to start.
 */
#include "fixture.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *
server_bin(void)
{
    const char *bin = getenv("TLM_SERVER");
    return bin != NULL ? bin : "server/telemetry-server";
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs `telemetry-server keys ARGS...` (NULL-terminated after db); its
 * exit status, stdout in out (up to size bytes). */
static int
keys_cmd(const char *db, char *out, size_t size, ...)
{
    const char *argv[24];
    int argc = 0, pipefd[2], status = 0;
    size_t used = 0;
    va_list ap;
    argv[argc++] = server_bin();
    argv[argc++] = "keys";
    va_start(ap, size);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 20;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc++] = "--db";
    argv[argc++] = db;
    argv[argc] = NULL;
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (ssize_t n; used + 1 < size
         && (n = read(pipefd[0], out + used, size - used - 1)) > 0;)
        used += (size_t)n;
    out[used] = '\0';
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A request with "Authorization: Bearer <secret>" (NULL: none). */
static long
call(const tlm_test_server *s, const char *path, const char *secret,
    const char *body, char *out)
{
    return tlm_test_http(s, NULL, path, secret, body, out, 8192);
}

/* n request events from id first, claiming environment env, now. */
static char *
batch(int first, int n, const char *env)
{
    char *b = tlm_test_batch('b', first, n, "/v1/keys", env);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* Sends until the answer is want (a key change lands at the next refresh);
 * the last status. */
static long
post_until(const tlm_test_server *s, const char *secret, const char *body,
    long want, char *out)
{
    long st = 0;
    for (int i = 0;
         i < 100 && (st = call(s, "/v1/batch", secret, body, out)) != want; i++)
        sleep_ms(100);
    return st;
}

static double
env_total(const tlm_test_server *s, const char *env)
{
    char path[160];
    snprintf(path, sizeof(path),
        "/admin/analytics/dashboard?from=0&to=4102444800000&environment=%s",
        env);
    cJSON *d = tlm_test_get_json(s, path, NULL);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "totals");
    cJSON *ev = cJSON_GetObjectItemCaseSensitive(t, "events");
    double n = cJSON_IsNumber(ev) ? ev->valuedouble : -1;
    cJSON_Delete(d);
    return n;
}

/* A whole file, malloc'ed; NULL when absent. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(data);
    *len = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

static void
trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

START_TEST(keys_created_used_and_revoked_while_running)
{
    tlm_test_server s;
    static const char *const extra[] = {"--keys-refresh", "1", NULL};
    char sandbox[256], out[8192], list[8192];
    ck_assert_int_eq(tlm_test_server_start(&s, extra), 0);

    /* A sandbox key, created while the server runs. */
    ck_assert_int_eq(keys_cmd(s.db, sandbox, sizeof(sandbox), "create",
                         "--organization", "acme", "--tier", "pro",
                         "--environment", "sandbox", "--name", "CI", NULL),
        0);
    trim(sandbox);
    ck_assert_msg(strncmp(sandbox, "tlm_", 4) == 0 && strlen(sandbox) > 40,
        "secret [%s]", sandbox);

    /* Its events claim production; the key says sandbox, and wins. */
    char *b = batch(1, 5, "production");
    ck_assert_int_eq(post_until(&s, sandbox, b, 200, out), 200);
    ck_assert_ptr_nonnull(strstr(out, "\"accepted\":5"));
    free(b);
    ck_assert(env_total(&s, "sandbox") == 5);
    ck_assert(env_total(&s, "production") == 0);
    /* The fixture's configured key has no environment: claims stand. */
    b = batch(100, 2, "production");
    ck_assert_int_eq(call(&s, "/v1/batch", TLM_TEST_API_KEY, b, out), 200);
    free(b);
    ck_assert(env_total(&s, "production") == 2);
    ck_assert_int_eq(call(&s, "/metrics", NULL, NULL, out), 200);
    ck_assert_ptr_nonnull(
        strstr(out, "\ntelemetry_events_environment_overridden_total 5\n"));
    ck_assert_ptr_nonnull(strstr(out, "\ntelemetry_keys_active 2\n"));

    /* The server's privacy pass scrubs what this key's client let through
     * and the dashboard names the key (both backends: keys_pg). */
    char dirty[1024];
    snprintf(dirty, sizeof(dirty),
        "{\"events\":[{\"type\":\"error\",\"id\":"
        "\"0190b000-0000-7000-8000-0000000009%02d\",\"timestamp\":\"%.20s\","
        "\"error_message\":\"no mailbox bob@example.com\"}]}",
        1, strstr(b = batch(900, 1, "sandbox"), "\"timestamp\":\"") + 13);
    free(b);
    ck_assert_int_eq(call(&s, "/v1/batch", sandbox, dirty, out), 200);
    cJSON *dash = tlm_test_get_json(&s,
        "/admin/analytics/dashboard?from=0&to=4102444800000&environment="
        "sandbox",
        NULL);
    cJSON *sdk = cJSON_GetObjectItem(dash, "sdk");
    ck_assert(cJSON_GetObjectItem(sdk, "server_scrubbed")->valuedouble == 1);
    cJSON *by_key = cJSON_GetObjectItem(sdk, "scrubbed_by_key");
    ck_assert_int_eq(cJSON_GetArraySize(by_key), 1);
    ck_assert_ptr_nonnull(strstr(sandbox,
        cJSON_GetObjectItem(cJSON_GetArrayItem(by_key, 0), "key_id")
            ->valuestring));
    cJSON_Delete(dash);
    cJSON *evs = tlm_test_get_json(&s, "/admin/events?type=error", NULL);
    char *evtext = cJSON_PrintUnformatted(evs);
    ck_assert_ptr_null(strstr(evtext, "bob@example.com"));
    ck_assert_ptr_nonnull(strstr(evtext, "no mailbox [email]"));
    free(evtext);
    cJSON_Delete(evs);

    /* An ingestion key is write-only: 403 on admin routes; nothing: 401. */
    ck_assert_int_eq(call(&s, "/admin/events", sandbox, NULL, out), 403);
    ck_assert_int_eq(call(&s, "/admin/events", NULL, NULL, out), 401);
    ck_assert_int_eq(call(&s, "/admin/events", "tlm_nope", NULL, out), 401);

    /* An admin key reads admin routes and cannot send. */
    char admin[256];
    ck_assert_int_eq(
        keys_cmd(s.db, admin, sizeof(admin), "create", "--admin", NULL), 0);
    trim(admin);
    b = batch(200, 1, "production");
    for (int i = 0;
         i < 100 && call(&s, "/admin/events", admin, NULL, out) != 200; i++)
        sleep_ms(100);
    ck_assert_int_eq(call(&s, "/admin/events", admin, NULL, out), 200);
    ck_assert_int_eq(call(&s, "/v1/batch", admin, b, out), 403);

    /* The listing shows attributes, never a secret. */
    ck_assert_int_eq(
        keys_cmd(s.db, list, sizeof(list), "list", "--json", NULL), 0);
    ck_assert_ptr_null(strstr(list, sandbox));
    ck_assert_ptr_null(strstr(list, admin));
    cJSON *arr = cJSON_Parse(list);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
    cJSON *k0 = cJSON_GetArrayItem(arr, 0);
    const char *id = cJSON_GetObjectItem(k0, "id")->valuestring;
    ck_assert_str_eq(
        cJSON_GetObjectItem(k0, "organization")->valuestring, "acme");
    ck_assert_str_eq(
        cJSON_GetObjectItem(k0, "access_tier")->valuestring, "pro");
    ck_assert_str_eq(
        cJSON_GetObjectItem(k0, "environment")->valuestring, "sandbox");
    ck_assert_str_eq(cJSON_GetObjectItem(k0, "role")->valuestring, "ingest");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(k0, "revoked_at")));
    ck_assert_ptr_nonnull(strstr(sandbox, id)); /* tlm_<id>_... */

    /* Revoked: refused at the next refresh; revoking twice says so. */
    char idcopy[64];
    snprintf(idcopy, sizeof(idcopy), "%s", id);
    cJSON_Delete(arr);
    ck_assert_int_eq(
        keys_cmd(s.db, out, sizeof(out), "revoke", idcopy, NULL), 0);
    ck_assert_int_eq(post_until(&s, sandbox, b, 401, out), 401);
    ck_assert_int_eq(
        keys_cmd(s.db, out, sizeof(out), "revoke", idcopy, NULL), 1);
    ck_assert_int_eq(keys_cmd(s.db, out, sizeof(out), "revoke", NULL), 2);
    ck_assert_int_eq(keys_cmd(s.db, out, sizeof(out), "rotate", NULL), 2);
    free(b);
    tlm_test_server_stop(&s);
}
END_TEST

/* The database holds SHA-256 digests: the secret's bytes are nowhere in
 * its files. (SQLite only: the file is what an attacker would copy.) */
START_TEST(secrets_never_reach_the_database)
{
    tlm_test_server s;
    char secret[256], path[600];
    ck_assert_int_eq(tlm_test_server_start(&s, NULL), 0);
    if (strncmp(s.db, "sqlite:", 7) != 0) {
        tlm_test_server_stop(&s);
        return;
    }
    ck_assert_int_eq(keys_cmd(s.db, secret, sizeof(secret), "create", NULL), 0);
    trim(secret);
    unsigned char hash[32];
    SHA256((const unsigned char *)secret, strlen(secret), hash);
    bool hash_seen = false;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s%s", s.db + 7, i == 0 ? "" : "-wal");
        size_t len = 0;
        char *data = slurp(path, &len);
        if (data == NULL)
            continue;
        ck_assert_ptr_null(memmem(data, len, secret, strlen(secret)));
        ck_assert_ptr_null(memmem(data, len, secret + 4, 20));
        hash_seen |= memmem(data, len, hash, sizeof(hash)) != NULL;
        free(data);
    }
    ck_assert_msg(hash_seen, "the key's digest is in neither file");
    tlm_test_server_stop(&s);
}
END_TEST

START_TEST(sighup_rereads_keys_and_no_key_refuses_to_start)
{
    tlm_test_server s;
    static const char *const extra[] = {"--keys-refresh", "0", NULL};
    char secret[256], out[8192];
    ck_assert_int_eq(tlm_test_server_start(&s, extra), 0);
    ck_assert_int_eq(keys_cmd(s.db, secret, sizeof(secret), "create", NULL), 0);
    trim(secret);
    char *b = batch(300, 1, "production");
    sleep_ms(300);
    ck_assert_int_eq(call(&s, "/v1/batch", secret, b, out), 401);
    kill(s.pid, SIGHUP);
    ck_assert_int_eq(post_until(&s, secret, b, 200, out), 200);
    free(b);
    tlm_test_server_stop(&s);

    /* No configured key and an empty key table: exit 1 with a message. */
    char dir[] = "/tmp/tlm-nokey-XXXXXX", db[128], cmd[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof(db), "sqlite:%s/e.db", dir);
    snprintf(cmd, sizeof(cmd),
        "env -u TELEMETRY_API_KEYS '%s' --listen 127.0.0.1:0 --db '%s'"
        " 2>&1 | grep -q 'no ingestion key'",
        server_bin(), db);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *
keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tcase_create("keys");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, keys_created_used_and_revoked_while_running);
    tcase_add_test(tc, secrets_never_reach_the_database);
    tcase_add_test(tc, sighup_rereads_keys_and_no_key_refuses_to_start);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    SRunner *sr = srunner_create(keys_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
