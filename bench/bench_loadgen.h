/*
 * bench_loadgen.h - the loopback load generator both store benchmarks drive
 * the real telemetry-server with (bench-store on SQLite, bench-store-pg on
 * PostgreSQL): the server started on port 0, the events of bench_events.h
 * as gzip batches of BATCH over 1..LOADGEN_MAX_CONNS keep-alive connections,
 * every receipt and the dashboard's total checked, the server's CPU read
 * from /proc, per-batch latencies kept for the p99.
 *
 * Benchmark code only; every function is static (one translation unit plus
 * this header). It prints errors, never figures, and asserts nothing about
 * time. The includer calls curl_global_init() first.
 */
#ifndef TLM_BENCH_LOADGEN_H
#define TLM_BENCH_LOADGEN_H

#include "bench_common.h"
#include "bench_events.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <zlib.h>

#define BATCH 500 /* events per request, as the SDK's default batch */
#define LOADGEN_MAX_CONNS 8

static double
now_s(void)
{
    return (double)bench_mono_ns() / 1e9;
}

struct body {
    unsigned char *gz;
    size_t len;
};

static struct body *bodies;
static size_t n_bodies;

/* Gzip (level 1, as the SDK) of each batch's JSON, built once. */
static int
make_bodies(void)
{
    size_t nb = (n_events + BATCH - 1) / BATCH;
    size_t cap = BATCH * 700 + 512;
    char *json = malloc(cap);

    bodies = calloc(nb, sizeof(*bodies));
    if (json == NULL || bodies == NULL)
        return -1;
    for (size_t k = 0; k < nb; k++) {
        size_t first = k * BATCH, len;
        size_t n = n_events - first < BATCH ? n_events - first : BATCH;
        len = (size_t)snprintf(json, cap,
            "{\"batch_id\":\"%.24s%012zx\",\"sent_at\":"
            "\"2026-01-01T00:00:00Z\",\"sdk\":{\"name\":\"libtelemetry\","
            "\"version\":\"0.1.0\",\"binding\":\"c\"},\"client_stats\":"
            "{\"enqueued\":%zu},\"privacy\":{\"anonymized\":true,"
            "\"scrubbed\":true},\"events\":[",
            "0190a000-0000-7000-8000-", k, n);
        for (size_t i = first; i < first + n; i++) {
            if (len + events[i].payload_len + 4 > cap)
                return -1;
            if (i > first)
                json[len++] = ',';
            memcpy(json + len, events[i].payload, events[i].payload_len);
            len += events[i].payload_len;
        }
        json[len++] = ']';
        json[len++] = '}';
        z_stream z = {0};
        if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
            != Z_OK)
            return -1;
        bodies[k].gz = malloc(deflateBound(&z, len));
        z.next_in = (unsigned char *)json;
        z.avail_in = (unsigned)len;
        z.next_out = bodies[k].gz;
        z.avail_out = (unsigned)deflateBound(&z, len);
        if (bodies[k].gz == NULL || deflate(&z, Z_FINISH) != Z_STREAM_END)
            return -1;
        bodies[k].len = z.total_out;
        deflateEnd(&z);
    }
    n_bodies = nb;
    free(json);
    return 0;
}

static size_t
sink(char *data, size_t size, size_t nmemb, void *userp)
{
    char *buf = userp;
    size_t n = size * nmemb, used = strlen(buf), room = 4095 - used;

    /* Keeps the first 4 KiB (where "totals" is): a dashboard with its
     * timeseries is larger, and may arrive in one chunk. */
    if (room > 0) {
        memcpy(buf + used, data, n < room ? n : room);
        buf[used + (n < room ? n : room)] = '\0';
    }
    return n;
}

struct conn {
    const char *url;
    int index, of;
    double *lat; /* per batch, ms */
    int bad;
};

/* Sends batches index, index + of, ... over one keep-alive connection. */
static void *
conn_main(void *arg)
{
    struct conn *c = arg;
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    char out[4096];
    char want[64];

    h = curl_slist_append(h, "Authorization: Bearer k");
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Content-Encoding: gzip");
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)out);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 120000L);
    for (size_t k = (size_t)c->index; k < n_bodies; k += (size_t)c->of) {
        long status = 0;
        size_t n = n_events - k * BATCH < BATCH ? n_events - k * BATCH : BATCH;
        out[0] = '\0';
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, bodies[k].gz);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)bodies[k].len);
        double b0 = now_s();
        if (curl_easy_perform(e) == CURLE_OK)
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        c->lat[k] = (now_s() - b0) * 1e3;
        snprintf(want, sizeof(want), "\"accepted\":%zu,\"duplicates\":0", n);
        if (status != 200 || strstr(out, want) == NULL) {
            if (c->bad++ == 0)
                fprintf(stderr, "%s: batch %zu: %ld %s\n",
                    program_invocation_short_name, k, status, out);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return NULL;
}

/* bin --db db on 127.0.0.1:0; its port file and log go into dir. */
static pid_t
start_server(const char *bin, const char *db, const char *dir, int *port)
{
    char portfile[600], log[600];
    pid_t pid;

    snprintf(portfile, sizeof(portfile), "%s/port", dir);
    snprintf(log, sizeof(log), "%s/server.log", dir);
    unlink(portfile);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(bin, bin, "--listen", "127.0.0.1:0", "--db", db, "--api-key", "k",
            "--admin-token", "a", "--port-file", portfile, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 400; i++) {
        FILE *f = fopen(portfile, "r");
        if (f != NULL) {
            int ok = fscanf(f, "%d", port) == 1;
            fclose(f);
            if (ok && *port > 0)
                return pid;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        usleep(25000);
    }
    fprintf(stderr, "%s: the server did not start (see %s)\n",
        program_invocation_short_name, log);
    return -1;
}

/* The dashboard's totals.events, -1 if unreadable. */
static long
dashboard_total(int port)
{
    char url[160], out[4096] = "";
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer a");
    long v = -1;

    snprintf(url, sizeof(url),
        "http://127.0.0.1:%d/admin/analytics/dashboard?from=0&to=4102444800000",
        port);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)out);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(e) == CURLE_OK) {
        const char *p = strstr(out, "\"events\":");
        if (p != NULL)
            v = strtol(p + 9, NULL, 10);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return v;
}

/* CPU seconds (user + system) of process pid so far. */
static double
proc_cpu(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* fields after the command name */
    if (p == NULL
        || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st)
            != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Starts bin on db, sends every body over conns connections, checks the
 * receipts and the dashboard's total, stops the server. Returns the wall
 * seconds of the sending (-1 on any failure); *p99_ms is the batch p99,
 * *cpu_us the server's CPU per event (the analytics caught up included),
 * *catchup_s how long the first dashboard took right after the last batch
 * (a store applying analytics behind a cursor finishes them then). */
static double
run_server(const char *bin, const char *db, const char *dir, int conns,
    double *p99_ms, double *cpu_us, double *catchup_s)
{
    char url[128];
    int port = 0, bad = 0;
    double secs = -1;
    double *lat = calloc(n_bodies, sizeof(*lat));
    struct conn c[LOADGEN_MAX_CONNS];
    pthread_t th[LOADGEN_MAX_CONNS];
    pid_t pid = start_server(bin, db, dir, &port);

    if (pid < 0 || lat == NULL || conns < 1 || conns > LOADGEN_MAX_CONNS)
        goto out;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/batch", port);
    double t0 = now_s();
    for (int i = 0; i < conns; i++) {
        c[i] = (struct conn) {url, i, conns, lat, 0};
        pthread_create(&th[i], NULL, conn_main, &c[i]);
    }
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        bad += c[i].bad;
    }
    secs = now_s() - t0;
    *p99_ms = bench_quantile(lat, n_bodies, 0.99);
    long total = dashboard_total(port);
    *catchup_s = now_s() - t0 - secs;
    *cpu_us = proc_cpu(pid) * 1e6 / (double)n_events;
    if (bad != 0 || total != (long)n_events) {
        fprintf(stderr, "%s: %d bad receipts, dashboard %ld\n",
            program_invocation_short_name, bad, total);
        secs = -1;
    }
out:
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    free(lat);
    return secs;
}

/* telemetry-server beside this program's build directory. */
static void
default_server(char *out, size_t size)
{
    char self[400];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0'; /* .../bench */
    snprintf(out, size, "%s/../server/telemetry-server", self);
}

/* Removes the work directory dir (from mkdtemp) and all it holds. */
static void
remove_dir(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: could not remove %s\n",
            program_invocation_short_name, dir);
}

#endif /* TLM_BENCH_LOADGEN_H */
