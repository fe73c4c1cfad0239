/*
 * bench_store_pg.c - the PostgreSQL store's write path, three ways in the
 * same run, each on a fresh database of the server --pg names:
 *   (a) baseline: the same rows (id uuid primary key, payload text) by a
 *       plain prepared INSERT per row over libpq, in one transaction;
 *   (b) store: tlm__store_insert_batch, batches of 500, one transaction
 *       each (then the same batches again: all duplicates);
 *   (c) server: the real telemetry-server --db postgresql://..., fed the
 *       same events as gzip batches of 500 by the loopback load generator
 *       of bench_loadgen.h over N keep-alive connections, as fast as the
 *       receipts come back; every receipt and the dashboard's total are
 *       checked.
 *
 * Prints figures only; it asserts nothing about time. Needs a PostgreSQL
 * it may create databases on (scripts/pg start DIR prints a URL).
 */
#include "bench_common.h"
#include "bench_events.h"
#include "bench_loadgen.h"
#include "store.h"

#include <libpq-fe.h>

static const char *base_url;

/* base_url with its database replaced by name. */
static void
url_for(const char *name, char *out, size_t size)
{
    const char *p = strstr(base_url, "://");
    const char *query = strchr(base_url, '?');
    const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;

    if (slash == NULL || (query != NULL && query < slash))
        slash = query != NULL ? query : base_url + strlen(base_url);
    snprintf(out, size, "%.*s/%s%s", (int)(slash - base_url), base_url, name,
        query != NULL ? query : "");
}

static void
quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Runs one statement on the base database (fixed text and numbers only). */
static int
admin(const char *sql)
{
    PGconn *pg = PQconnectdb(base_url);
    int rc = -1;

    if (PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, quiet, NULL);
        PGresult *r = PQexec(pg, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        PQclear(r);
    }
    if (rc != 0)
        fprintf(stderr, "bench-store-pg: %s: %s", sql, PQerrorMessage(pg));
    PQfinish(pg);
    return rc;
}

/* A fresh database; its URL goes to url. */
static int
fresh_db(const char *name, char *url, size_t size)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin(sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    url_for(name, url, size);
    return admin(sql);
}

static void
drop_db(const char *name)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin(sql);
}

/* (a) One prepared INSERT stepped per row, one transaction. */
static double
run_baseline(const char *url, double *cpu)
{
    PGconn *pg = PQconnectdb(url);
    PGresult *r;
    double secs = -1, t0 = 0;
    Oid types[2] = {2950, 25}; /* uuid, text */

    if (PQstatus(pg) != CONNECTION_OK)
        goto out;
    r = PQexec(pg,
        "CREATE TABLE events (id uuid PRIMARY KEY,"
        " payload text NOT NULL)");
    PQclear(r);
    r = PQprepare(pg, "ins", "INSERT INTO events (id, payload) VALUES ($1, $2)",
        2, types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        goto out;
    }
    PQclear(r);
    t0 = now_s();
    *cpu = bench_cpu_seconds(RUSAGE_SELF);
    PQclear(PQexec(pg, "BEGIN"));
    for (size_t i = 0; i < n_events; i++) {
        const char *v[2] = {events[i].ev.id, events[i].payload};
        int len[2] = {0, (int)events[i].payload_len}, fmt[2] = {0, 1};
        r = PQexecPrepared(pg, "ins", 2, v, len, fmt, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            goto out;
    }
    r = PQexec(pg, "COMMIT");
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        secs = now_s() - t0;
        *cpu = bench_cpu_seconds(RUSAGE_SELF) - *cpu;
    }
    PQclear(r);
out:
    if (secs < 0)
        fprintf(stderr, "bench-store-pg: baseline: %s", PQerrorMessage(pg));
    PQfinish(pg);
    return secs;
}

/* (b) The store API: batches of BATCH, every receipt checked, then the
 * whole set again (all duplicates), timed apart. */
static double
run_store(const char *url, double *p99_ms, double *dup_secs)
{
    char err[512] = "";
    struct tlm__store *st = NULL;
    size_t nb = (n_events + BATCH - 1) / BATCH;
    double *lat = calloc(nb, sizeof(*lat)), secs = -1;

    if (lat == NULL || tlm__store_open(url, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-store-pg: open: %s\n", err);
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        double t0 = now_s();
        for (size_t k = 0; k < nb; k++) {
            size_t first = k * BATCH;
            size_t n = n_events - first < BATCH ? n_events - first : BATCH;
            struct tlm__store_batch b = {.received_ms = events[first].ev.ts_ms,
                .events = events + first,
                .n_events = n};
            size_t acc = 0, dup = 0;
            b.meta.event_count = n;
            double b0 = now_s();
            if (tlm__store_insert_batch(st, &b, &acc, &dup) != 0)
                goto out;
            lat[k] = (now_s() - b0) * 1e3;
            if (acc != (pass == 0 ? n : 0) || dup != (pass == 0 ? 0 : n)) {
                fprintf(stderr, "bench-store-pg: receipt %zu/%zu\n", acc, dup);
                goto out;
            }
        }
        if (pass == 0) {
            secs = now_s() - t0;
            *p99_ms = bench_quantile(lat, nb, 0.99);
        } else {
            *dup_secs = now_s() - t0;
        }
    }
out:
    tlm__store_close(st);
    free(lat);
    return secs;
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: bench-store-pg [--pg URL] [--server PATH] [--events N]\n"
        "                      [--repeats N] [--connections N]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    size_t n = 200000;
    int repeats = 3, conns = 1;
    char server[512], db[512], name[64];
    char dir[] = "/tmp/bench-store-pg-XXXXXX";

    base_url = getenv("TLM_TEST_PG_URL");
    default_server(server, sizeof(server));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc)
            base_url = argv[++i];
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            snprintf(server, sizeof(server), "%s", argv[++i]);
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
            conns = (int)strtol(argv[++i], NULL, 10);
        else
            usage();
    }
    if (base_url == NULL || n == 0 || repeats < 1 || repeats > 99 || conns < 1
        || conns > LOADGEN_MAX_CONNS)
        usage();
    /* Timestamps an hour old: inside the server's ingestion window. */
    if (make_events(n, (int64_t)time(NULL) * 1000 - 3600 * 1000) != 0
        || make_bodies() != 0 || mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench-store-pg: out of memory\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(name, sizeof(name), "bench_store_pg_%d", (int)getpid());
    printf("# %zu events (%.0f B of JSON each), batches of %d, libpq %d,"
           " %d connection(s) to the server\n",
        n,
        (double)(events[n - 1].payload + events[n - 1].payload_len - text)
            / (double)n,
        BATCH, PQlibVersion(), conns);
    printf("%-4s %9s %9s %6s %9s %6s %8s %8s %9s %8s %8s\n", "run", "base_ev/s",
        "store_ev/s", "x_base", "srv_ev/s", "x_base", "st_p99", "srv_p99",
        "dups_ev/s", "base_us", "srv_us");
    double *base = calloc((size_t)repeats, sizeof(double));
    double *store = calloc((size_t)repeats, sizeof(double));
    double *srv = calloc((size_t)repeats, sizeof(double));
    double *sp99 = calloc((size_t)repeats, sizeof(double));
    double *vp99 = calloc((size_t)repeats, sizeof(double));
    if (base == NULL || store == NULL || srv == NULL || sp99 == NULL
        || vp99 == NULL)
        return 1;
    int rc = 0;
    for (int r = 0; r < repeats && rc == 0; r++) {
        double bc = 0, dups = 0, cpu = 0, tb, ts, tv;
        tb = fresh_db(name, db, sizeof(db)) == 0 ? run_baseline(db, &bc) : -1;
        ts = fresh_db(name, db, sizeof(db)) == 0
            ? run_store(db, &sp99[r], &dups)
            : -1;
        tv = fresh_db(name, db, sizeof(db)) == 0
            ? run_server(server, db, dir, conns, &vp99[r], &cpu)
            : -1;
        if (tb <= 0 || ts <= 0 || tv <= 0) {
            rc = 1;
            break;
        }
        base[r] = (double)n / tb;
        store[r] = (double)n / ts;
        srv[r] = (double)n / tv;
        printf("%-4d %9.0f %9.0f %6.2f %9.0f %6.2f %8.1f %8.1f %9.0f %8.2f "
               "%8.2f\n",
            r + 1, base[r], store[r], store[r] / base[r], srv[r],
            srv[r] / base[r], sp99[r], vp99[r], (double)n / dups,
            bc * 1e6 / (double)n, cpu);
        fflush(stdout);
    }
    drop_db(name);
    if (rc == 0) {
        double mb = bench_quantile(base, (size_t)repeats, 0.5);
        double ms = bench_quantile(store, (size_t)repeats, 0.5);
        double mv = bench_quantile(srv, (size_t)repeats, 0.5);
        printf("median %6.0f %9.0f %6.2f %9.0f %6.2f %8.1f %8.1f\n", mb, ms,
            ms / mb, mv, mv / mb, bench_quantile(sp99, (size_t)repeats, 0.5),
            bench_quantile(vp99, (size_t)repeats, 0.5));
    }
    remove_dir(dir);
    curl_global_cleanup();
    return rc;
}
