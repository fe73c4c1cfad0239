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

int
tlm_test_server_start(tlm_test_server *s, const char *const *extra)
{
    const char *bin = getenv("TLM_SERVER");
    char db[320], portfile[320];
    const char *argv[32];
    int argc = 0, i;

    memset(s, 0, sizeof(*s));
    if (bin == NULL)
        bin = "server/telemetry-server";
    snprintf(s->dir, sizeof(s->dir), "/tmp/tlm-itest-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return -1;
    snprintf(db, sizeof(db), "sqlite:%s/events.db", s->dir);
    snprintf(portfile, sizeof(portfile), "%s/port", s->dir);
    argv[argc++] = bin;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--db";
    argv[argc++] = db;
    argv[argc++] = "--api-key";
    argv[argc++] = TLM_TEST_API_KEY;
    argv[argc++] = "--admin-token";
    argv[argc++] = TLM_TEST_ADMIN;
    argv[argc++] = "--port-file";
    argv[argc++] = portfile;
    for (i = 0; extra != NULL && extra[i] != NULL && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
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
