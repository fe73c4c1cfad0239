/*
 * bench_spool.c - what the spool's fsync policies cost per batch: append
 * (and ack) of a realistic gzip body of 500 events with fsync always /
 * batch / never, against plain write() of the same bytes, and write() plus
 * fdatasync(), measured in the same run on the same file system.
 *
 * Benchmark only: prints figures, asserts nothing. Works in a fresh
 * directory under --dir and removes it.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define EVENTS 500
#define SEGMENT ((size_t)4 << 20)
#define MAXRUNS 15

enum { M_WRITE, M_WRITE_SYNC, M_NEVER, M_BATCH, M_ALWAYS, NMODES };
static const char *const mode_name[NMODES] = {"write() baseline",
    "write()+fdatasync", "spool never", "spool batch", "spool always"};

typedef struct result {
    double append_med, append_p99, ack_med, total_med;
    uint64_t fsyncs;
} result;

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
pct(double *v, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);

    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[i];
}

/* splitmix64: a stand-in for the SDK's keyed hash of an id. */
static uint64_t
mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* A batch body as lib/encode.c and lib/transport.c make it: 500 request
 * events from 3000 users in 250 organizations, ids anonymized to 32 hex
 * digits, UUIDv7 event ids, gzip level 1. */
static int
make_body(char **body, size_t *len, size_t *raw_len)
{
    static const char *const routes[] = {"/v1/users/{user_id}", "/v1/search",
        "/v1/organizations/{org_id}/projects", "/v2/models/{model}/completions",
        "/v1/invoices/{invoice_id}", "/v1/webhooks/{webhook_id}/deliveries",
        "/v1/files", "/v1/regions"};
    static const int status[] = {200, 200, 200, 201, 204, 404, 429, 500};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    tlm__buf b = {0};
    char one[1024];
    int i, rc, ev;

    tlm__buf_puts(&b,
        "{\"batch_id\":\"0190a5b2-7c3e-7abc-8def-0123456789ab\","
        "\"sent_at\":\"2026-12-04T22:00:00.000Z\",\"sdk\":{"
        "\"name\":\"libtelemetry\",\"version\":\"0.1.0\"},"
        "\"events\":[");
    for (i = 0; i < EVENTS; i++) {
        uint64_t x = xorshift(&seed), user = x % 3000, org = user % 250;
        /* snprintf, not tlm__buf_printf, which stops at 255 bytes. */
        ev = snprintf(one, sizeof(one),
            "%s{\"type\":\"request\",\"id\":\"0190a5b2-%04x-7%03x-8%03x-"
            "%012llx\",\"timestamp\":\"2026-12-04T21:59:%02d.%03dZ\","
            "\"environment\":\"production\",\"endpoint\":\"%s\","
            "\"method\":\"GET\",\"response_status\":%d,"
            "\"response_time\":%.3f,\"user_id\":\"%016llx%016llx\","
            "\"organization_id\":\"%016llx%016llx\",\"access_tier\":\"pro\"%s"
            "%.0llx%s,\"client_info\":{\"sdk\":\"libtelemetry\","
            "\"sdk_version\":\"0.1.0\",\"os\":\"linux\"}}",
            i ? "," : "", (unsigned)(x & 0xffff), (unsigned)(x >> 16) & 0xfff,
            (unsigned)(x >> 28) & 0xfff,
            (unsigned long long)(xorshift(&seed) & 0xffffffffffffull), i % 60,
            (int)(x >> 40) % 1000, routes[x % 8], status[(x >> 3) % 8],
            (double)((x >> 20) % 900000) / 1000.0,
            (unsigned long long)mix(user), (unsigned long long)mix(user + 7),
            (unsigned long long)mix(org + 100000),
            (unsigned long long)mix(org + 200000),
            (x >> 50) % 4 ? ""
                          : ",\"request_details\":{\"page_size\":50,"
                            "\"cursor\":\"",
            (x >> 50) % 4 ? 0ull : (unsigned long long)xorshift(&seed),
            (x >> 50) % 4 ? "" : "\"}");
        if (ev < 0 || (size_t)ev >= sizeof(one))
            return -1;
        tlm__buf_append(&b, one, (size_t)ev);
    }
    tlm__buf_puts(&b, "]}");
    if (b.failed)
        return -1;
    *raw_len = b.len;
    rc = tlm__gzip(b.data, b.len, 1, body, len);
    tlm__buf_free(&b);
    return rc;
}

static void
rm_dir(const char *dir)
{
    char cmd[4400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-spool: could not remove %s\n", dir);
}

/* Plain write() of the same bytes (record header and key included),
 * segment files rolled at 4 MiB like the spool's; with `sync`, one
 * fdatasync() per batch. */
static int
run_write(
    const char *dir, const char *body, size_t len, int n, bool sync, result *r)
{
    static char buf[1 << 20];
    double *t = calloc((size_t)n, sizeof(double));
    size_t rec = 40 + 36 + len, off = SEGMENT;
    char path[4400];
    int i, fd = -1, seg = 0;

    if (t == NULL || rec > sizeof(buf))
        return -1;
    memset(buf, 'h', 76);
    memcpy(buf + 76, body, len);
    for (i = 0; i < n; i++) {
        if (off + rec > SEGMENT) {
            if (fd >= 0)
                close(fd);
            snprintf(path, sizeof(path), "%s/plain.%d", dir, seg++);
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0)
                return -1;
            off = 0;
        }
        double t0 = now_ns();
        if (write(fd, buf, rec) != (ssize_t)rec || (sync && fdatasync(fd)))
            return -1;
        t[i] = now_ns() - t0;
        off += rec;
    }
    close(fd);
    memset(r, 0, sizeof(*r));
    r->append_med = pct(t, n, 0.5);
    r->append_p99 = pct(t, n, 0.99);
    r->total_med = r->append_med;
    r->fsyncs = sync ? (uint64_t)n : 0;
    free(t);
    return 0;
}

/* n batches appended then acked, as the worker does (append before the
 * send, ack after the 2xx). */
static int
run_spool(const char *dir, tlm__fsync_policy p, const char *body, size_t len,
    int n, result *r)
{
    static const char key[] = "0190a5b2-7c3e-7abc-8def-0123456789ab";
    double *ta = calloc((size_t)n, sizeof(double));
    double *tk = calloc((size_t)n, sizeof(double));
    double *tt = calloc((size_t)n, sizeof(double));
    tlm__spool_options o;
    tlm__spool_stats st;
    tlm__spool *s = NULL;
    char err[256];
    uint64_t id;
    int i, rc = -1;

    memset(&o, 0, sizeof(o));
    o.fsync = p;
    if (ta == NULL || tk == NULL || tt == NULL
        || tlm__spool_open(dir, &o, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-spool: %s\n", err);
        goto out;
    }
    for (i = 0; i < n; i++) {
        double t0 = now_ns(), t1, t2;
        if (tlm__spool_append(s, body, len, EVENTS, key, &id) != 0)
            goto out;
        t1 = now_ns();
        if (tlm__spool_ack(s, id) != 0)
            goto out;
        t2 = now_ns();
        ta[i] = t1 - t0;
        tk[i] = t2 - t1;
        tt[i] = t2 - t0;
    }
    tlm__spool_stats_get(s, &st);
    memset(r, 0, sizeof(*r));
    r->append_med = pct(ta, n, 0.5);
    r->append_p99 = pct(ta, n, 0.99);
    r->ack_med = pct(tk, n, 0.5);
    r->total_med = pct(tt, n, 0.5);
    r->fsyncs = st.fsyncs;
    rc = 0;
out:
    tlm__spool_close(s);
    free(ta);
    free(tk);
    free(tt);
    return rc;
}

static const char *
fs_name(const char *dir)
{
    struct statfs sf;

    if (statfs(dir, &sf) != 0)
        return "?";
    switch ((unsigned long)sf.f_type) {
    case 0xef53:
        return "ext2/3/4";
    case 0x01021994:
        return "tmpfs";
    case 0x58465342:
        return "xfs";
    case 0x9123683e:
        return "btrfs";
    case 0x794c7630:
        return "overlayfs";
    default:
        return "other";
    }
}

int
main(int argc, char **argv)
{
    const char *base = "/tmp";
    int n = 200, runs = 5, i, m, k;
    char dir[4096], sub[4200];
    char *body = NULL;
    size_t len, raw;
    static result res[NMODES][MAXRUNS];
    double v[MAXRUNS];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            base = argv[++i];
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            n = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                "usage: bench-spool [--dir DIR] [--batches N] [--runs R]\n");
            return 2;
        }
    }
    if (n < 1 || runs < 1 || runs > MAXRUNS) {
        fprintf(stderr, "bench-spool: bad --batches or --runs\n");
        return 2;
    }
    if (make_body(&body, &len, &raw) != 0)
        return 1;
    snprintf(dir, sizeof(dir), "%s/bench-spool-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror(dir);
        return 1;
    }
    printf("bench-spool: %d batches of %d events per run, %d runs; body %zu "
           "bytes gzip (%zu raw JSON); %s on %s\n",
        n, EVENTS, runs, len, raw, dir, fs_name(dir));
    for (k = 0; k < runs; k++) {
        for (m = 0; m < NMODES; m++) {
            int rc;
            snprintf(sub, sizeof(sub), "%s/m%d", dir, m);
            if (mkdir(sub, 0700) != 0)
                return 1;
            if (m <= M_WRITE_SYNC)
                rc = run_write(
                    sub, body, len, n, m == M_WRITE_SYNC, &res[m][k]);
            else
                rc = run_spool(sub,
                    m == M_NEVER       ? TLM__FSYNC_NEVER
                        : m == M_BATCH ? TLM__FSYNC_BATCH
                                       : TLM__FSYNC_ALWAYS,
                    body, len, n, &res[m][k]);
            rm_dir(sub);
            if (rc != 0) {
                fprintf(stderr, "bench-spool: %s failed: %s\n", mode_name[m],
                    strerror(errno));
                return 1;
            }
            printf("run %d %-18s append median %9.1f us  p99 %9.1f us  ack "
                   "median %7.1f us  fsyncs/batch %.2f\n",
                k + 1, mode_name[m], res[m][k].append_med / 1e3,
                res[m][k].append_p99 / 1e3, res[m][k].ack_med / 1e3,
                (double)res[m][k].fsyncs / n);
        }
    }
    printf("\nmedian of %d runs        append+ack/batch   x write()   "
           "append p99    MB/s\n",
        runs);
    for (m = 0; m < NMODES; m++) {
        double med, p99, base_med;
        for (k = 0; k < runs; k++)
            v[k] = res[m][k].total_med;
        med = pct(v, runs, 0.5);
        for (k = 0; k < runs; k++)
            v[k] = res[m][k].append_p99;
        p99 = pct(v, runs, 0.5);
        for (k = 0; k < runs; k++)
            v[k] = res[M_WRITE][k].total_med;
        base_med = pct(v, runs, 0.5);
        printf("%-24s %12.1f us %10.1f %11.1f us %7.1f\n", mode_name[m],
            med / 1e3, med / base_med, p99 / 1e3, (double)len / med * 1e3);
    }
    rm_dir(dir);
    tlm__free(body);
    return 0;
}
