/*
 * fixture.c - process and HTTP plumbing for the integration suites.
 *
 * Test code only. Every wait is bounded so a broken server fails the test
 * instead of hanging it.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int
read_port(const char *path)
{
    char buf[32] = {0};
    FILE *f = fopen(path, "r");
    long v;

    if (f == NULL)
        return -1;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    v = strtol(buf, NULL, 10);
    return v > 0 && v < 65536 ? (int)v : -1;
}

/* ---- PostgreSQL mode -------------------------------------------------- */

static int
pg_mode(void)
{
    const char *b = getenv("TLM_TEST_DB_BACKEND");

    return b != NULL && strcmp(b, "postgresql") == 0;
}

static const char *
pg_base(void)
{
    const char *u = getenv("TLM_TEST_PG_URL");

    return u != NULL && u[0] != '\0' ? u : NULL;
}

/* A PostgreSQL copy of a suite without a database to use is skipped. */
__attribute__((constructor)) static void
pg_or_skip(void)
{
    if (pg_mode() && pg_base() == NULL) {
        printf("TLM_TEST_DB_BACKEND=postgresql without TLM_TEST_PG_URL:"
               " skipped\n");
        fflush(stdout);
        _exit(77);
    }
}

/* The base URL with its database replaced by name. */
static void
pg_url_for(const char *name, char *out, size_t size)
{
    const char *base = pg_base(), *p = strstr(base, "://");
    const char *query = strchr(base, '?');
    const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;

    if (slash == NULL || (query != NULL && query < slash))
        slash = query != NULL ? query : base + strlen(base);
    snprintf(out, size, "%.*s/%s%s", (int)(slash - base), base, name,
        query != NULL ? query : "");
}

static void
pg_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Runs one statement (made of numbers and fixed words) on the base
 * database; 0 or -1. */
static int
pg_admin(const char *sql)
{
    PGconn *pg = PQconnectdb(pg_base());
    PGresult *r;
    int rc = -1;

    if (PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, pg_quiet, NULL);
        r = PQexec(pg, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc != 0)
            fprintf(stderr, "fixture: %s: %s", sql, PQerrorMessage(pg));
        PQclear(r);
    } else {
        fprintf(stderr, "fixture: %s", PQerrorMessage(pg));
    }
    PQfinish(pg);
    return rc;
}

/* Servers of this process with a database of their own, by directory. */
static struct {
    char dir[256];
    char db[512];
} pg_live[16];

static void
pg_drop(tlm_test_server *s)
{
    char sql[128];

    if (s->pg_db[0] == '\0')
        return;
    snprintf(
        sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", s->pg_db);
    pg_admin(sql);
    for (size_t i = 0; i < sizeof(pg_live) / sizeof(pg_live[0]); i++) {
        if (strcmp(pg_live[i].dir, s->dir) == 0)
            pg_live[i].dir[0] = '\0';
    }
    s->pg_db[0] = '\0';
}

static int
pg_create(tlm_test_server *s)
{
    static int counter;
    char sql[128];

    snprintf(
        s->pg_db, sizeof(s->pg_db), "tlm_it_%d_%d", (int)getpid(), counter++);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", s->pg_db);
    if (pg_admin(sql) != 0) {
        s->pg_db[0] = '\0';
        return -1;
    }
    pg_url_for(s->pg_db, s->db, sizeof(s->db));
    for (size_t i = 0; i < sizeof(pg_live) / sizeof(pg_live[0]); i++) {
        if (pg_live[i].dir[0] == '\0') {
            snprintf(pg_live[i].dir, sizeof(pg_live[i].dir), "%s", s->dir);
            snprintf(pg_live[i].db, sizeof(pg_live[i].db), "%s", s->db);
            break;
        }
    }
    return 0;
}

/* The database an extra --db names: a PostgreSQL URL itself, or that of
 * the server whose SQLite file arg names; NULL for any other. */
static const char *
pg_alias(const char *arg)
{
    char want[300];

    if (strncmp(arg, "postgresql://", 13) == 0
        || strncmp(arg, "postgres://", 11) == 0)
        return arg; /* a database the test made itself */
    for (size_t i = 0; i < sizeof(pg_live) / sizeof(pg_live[0]); i++) {
        if (pg_live[i].dir[0] == '\0')
            continue;
        snprintf(want, sizeof(want), "sqlite:%.255s/events.db", pg_live[i].dir);
        if (strcmp(arg, want) == 0)
            return pg_live[i].db;
    }
    return NULL;
}

/* ---- the server process ----------------------------------------------- */

int
tlm_test_server_start(tlm_test_server *s, const char *const *extra)
{
    const char *bin = getenv("TLM_SERVER");
    char db[320], portfile[320];
    const char *argv[32];
    int argc = 0, i, alias = 0;

    memset(s, 0, sizeof(*s));
    if (bin == NULL)
        bin = "server/telemetry-server";
    snprintf(s->dir, sizeof(s->dir), "/tmp/tlm-itest-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return -1;
    snprintf(db, sizeof(db), "sqlite:%s/events.db", s->dir);
    snprintf(s->db, sizeof(s->db), "%s", db);
    for (i = 0; pg_mode() && extra != NULL && extra[i] != NULL; i++) {
        if (strcmp(extra[i], "--db") == 0 && extra[i + 1] != NULL
            && pg_alias(extra[i + 1]) != NULL) {
            snprintf(s->db, sizeof(s->db), "%s", pg_alias(extra[i + 1]));
            alias = 1; /* that server's database, not a new one */
        }
    }
    if (pg_mode() && !alias && pg_create(s) != 0)
        return -1;
    snprintf(portfile, sizeof(portfile), "%s/port", s->dir);
    argv[argc++] = bin;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--db";
    argv[argc++] = s->db;
    argv[argc++] = "--api-key";
    argv[argc++] = TLM_TEST_API_KEY;
    argv[argc++] = "--admin-token";
    argv[argc++] = TLM_TEST_ADMIN;
    argv[argc++] = "--port-file";
    argv[argc++] = portfile;
    for (i = 0; extra != NULL && extra[i] != NULL && argc < 30; i++)
        argv[argc++] = alias && i > 0 && strcmp(extra[i - 1], "--db") == 0
            ? s->db
            : extra[i];
    argv[argc] = NULL;
    s->pid = fork();
    if (s->pid < 0) {
        pg_drop(s);
        return -1;
    }
    if (s->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (i = 0; i < 200; i++) { /* up to 10 s */
        s->port = read_port(portfile);
        if (s->port > 0)
            break;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            pg_drop(s);
            return -1;
        }
        sleep_ms(50);
    }
    if (s->port <= 0)
        return -1;
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    return 0;
}

void
tlm_test_server_stop(tlm_test_server *s)
{
    char cmd[300];
    int i;

    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        for (i = 0; i < 100 && waitpid(s->pid, NULL, WNOHANG) == 0; i++)
            sleep_ms(50);
        if (i == 100) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        s->pid = 0;
    }
    pg_drop(s);
    if (s->dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", s->dir);
        s->dir[0] = '\0';
    }
}

static size_t
on_data(char *data, size_t size, size_t nmemb, void *userp)
{
    char **buf = userp;
    size_t old = *buf ? strlen(*buf) : 0, n = size * nmemb;
    char *grown = realloc(*buf, old + n + 1);

    if (grown == NULL)
        return 0;
    memcpy(grown + old, data, n);
    grown[old + n] = '\0';
    *buf = grown;
    return n;
}

cJSON *
tlm_test_get_json(const tlm_test_server *s, const char *path, long *status)
{
    char url[512];
    char *body = NULL;
    struct curl_slist *h = NULL;
    CURL *e = curl_easy_init();
    cJSON *json = NULL;

    if (e == NULL)
        return NULL;
    snprintf(url, sizeof(url), "%s%s", s->url, path);
    h = curl_slist_append(h, "Authorization: Bearer " TLM_TEST_ADMIN);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* tests set http_proxy */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(e) == CURLE_OK && body != NULL) {
        json = cJSON_Parse(body);
        if (status != NULL)
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    free(body);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return json;
}

struct text_sink {
    char *out;
    size_t size;
    size_t used;
};

static size_t
to_text(char *data, size_t size, size_t nmemb, void *userp)
{
    struct text_sink *t = userp;
    size_t n = size * nmemb;
    size_t room = t->size - 1 - t->used;
    size_t k = n < room ? n : room;
    memcpy(t->out + t->used, data, k);
    t->used += k;
    t->out[t->used] = '\0';
    return n;
}

long
tlm_test_http(const tlm_test_server *s, void *handle, const char *path,
    const char *secret, const char *body, char *out, size_t size)
{
    char url[512], auth[600];
    long status = 0;
    struct curl_slist *h = NULL;
    struct text_sink t = {out, size, 0};
    CURL *e = handle != NULL ? handle : curl_easy_init();
    if (e == NULL || size == 0)
        return 0;
    out[0] = '\0';
    snprintf(url, sizeof(url), "%s%s", s->url, path);
    if (secret != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", secret);
        h = curl_slist_append(h, auth);
    }
    if (body != NULL)
        h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (body != NULL)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, to_text);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* tests set http_proxy */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (handle == NULL)
        curl_easy_cleanup(e);
    return status;
}

char *
tlm_test_batch(
    char group, int first, int n, const char *endpoint, const char *environment)
{
    char ts[32], env[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    size_t cap = 64 + (size_t)n * 320, len;
    char *b = malloc(cap);
    if (b == NULL)
        return NULL;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (environment != NULL)
        snprintf(env, sizeof(env), "\"environment\":\"%s\",", environment);
    len = (size_t)snprintf(b, cap, "{\"events\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(b + len, cap - len,
            "%s{\"type\":\"request\",\"id\":"
            "\"0190%c000-0000-7000-8000-%012d\",\"timestamp\":\"%s\","
            "%s\"endpoint\":\"%s\",\"response_status\":200,"
            "\"response_time\":5}",
            i > 0 ? "," : "", group, first + i, ts, env, endpoint);
    snprintf(b + len, cap - len, "]}");
    return b;
}

long
tlm_test_total_events(const tlm_test_server *s)
{
    cJSON *d = tlm_test_get_json(
        s, "/admin/analytics/dashboard?from=0&to=4102444800000", NULL);
    cJSON *totals = cJSON_GetObjectItemCaseSensitive(d, "totals");
    cJSON *events = cJSON_GetObjectItemCaseSensitive(totals, "events");
    long n = cJSON_IsNumber(events) ? (long)events->valuedouble : -1;

    cJSON_Delete(d);
    return n;
}

static int
bound_socket(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0
        || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int
tlm_test_dead_port(void)
{
    int port = 0, fd = bound_socket(&port);

    /* Bound but never listening: connections are refused. */
    if (fd >= 0)
        close(fd);
    return port;
}

int
tlm_test_stall_server(int *port)
{
    int fd = bound_socket(port);

    /* Listening, never accepting: the kernel completes the handshake and
     * the request then waits forever for an answer. */
    if (fd >= 0 && listen(fd, 64) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
