/*
 * bench_store_pg.c - the PostgreSQL store's write path, three ways in the
 * same run, each on a fresh database of the server --pg names:
 *   (a) baseline: the same rows (id uuid primary key, payload text) by a
 *       plain prepared INSERT per row over libpq, in one transaction;
 *   (b) store: tlm__store_insert_batch, batches of 500, one transaction
 *       each (then the same batches again: all duplicates); and the same
 *       on another fresh database without the analytics rollups
 *       (skip_rollups), so their cost is a ratio within one run;
 *   (c) server: the real telemetry-server --db postgresql://..., fed the
 *       same events as gzip batches of 500 by the loopback load generator
 *       of bench_loadgen.h over N keep-alive connections, as fast as the
 *       receipts come back; every receipt and the dashboard's total are
 *       checked.
 *
 * --dashboard N instead: N request events over the 30 days ending now
 * (50 endpoints, skewed; 3 tiers; 90% production) through the store in
 * batches of 1000, one compaction pass as the maintenance thread runs it
 * (minutes older than 48 h into hours), then the dashboard's store query
 * for the 30-day production window, median of 5 (bench-dashboard's load,
 * on PostgreSQL).
 *
 * Prints figures only; it asserts nothing about time. Needs a PostgreSQL
 * it may create databases on (scripts/pg start DIR prints a URL).
 */
#include "bench_common.h"
#include "bench_events.h"
#include "bench_loadgen.h"
#include "rollup.h"
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
 * whole set again (all duplicates), timed apart; rollups false skips the
 * analytics rollups (the baseline of their cost). */
static double
run_store(const char *url, bool rollups, double *p99_ms, double *dup_secs)
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
                .n_events = n,
                .skip_rollups = !rollups};
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

/* ---- --dashboard N: a month of rollups, the dashboard's query ---- */

#define DASH_BATCH 1000
#define DASH_ENDPOINTS 50
#define DASH_SPAN_MS (30LL * 24 * 3600 * 1000)

static int64_t
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
unit(uint64_t *seed)
{
    return ((double)(xorshift(seed) >> 11) + 0.5) / 9007199254740992.0;
}

/* Batch k of nb: a time-ordered slice of the month; endpoint i drawn with
 * a skew towards the first ones, latencies 5..~500 ms (a cubic tail). */
static void
dash_batch(struct tlm__store_event *ev, char (*payload)[160], size_t k,
    size_t nb, int64_t t0, uint64_t *seed)
{
    static char names[DASH_ENDPOINTS][40];
    static const char *const dash_tiers[] = {"free", "pro", "enterprise"};
    int64_t slice = DASH_SPAN_MS / (int64_t)nb;
    if (names[0][0] == '\0') {
        for (int i = 0; i < DASH_ENDPOINTS; i++)
            snprintf(names[i], sizeof(names[i]), "/v1/resource-%02d/{id}", i);
    }
    for (size_t i = 0; i < DASH_BATCH; i++) {
        struct tlm__event *e = &ev[i].ev;
        uint64_t id = k * DASH_BATCH + i;
        double u = unit(seed), v = unit(seed);
        memset(&ev[i], 0, sizeof(ev[i]));
        snprintf(e->id, sizeof(e->id), "0190d000-%04x-7%03x-8000-%012llx",
            (unsigned)((id >> 48) & 0xffff), (unsigned)((id >> 36) & 0xfff),
            (unsigned long long)(id & 0xffffffffffffull));
        e->type = TLM_EVENT_REQUEST;
        e->ts_ms = t0 + (int64_t)k * slice + (int64_t)(v * (double)slice);
        e->environment = unit(seed) < 0.9 ? "production" : "sandbox";
        e->sample_rate = 1;
        e->endpoint = names[(size_t)(DASH_ENDPOINTS * u * u)];
        e->access_tier = dash_tiers[xorshift(seed) % 3];
        e->has_status = true;
        u = unit(seed);
        e->status = u < 0.01 ? 503 : u < 0.05 ? 404 : 200;
        e->has_response_time = true;
        v = unit(seed);
        e->response_time_ms = 5 + 500 * v * v * v;
        int len = snprintf(payload[i], sizeof(payload[i]),
            "{\"type\":\"request\",\"id\":\"%s\",\"endpoint\":\"%s\","
            "\"access_tier\":\"%s\"}",
            e->id, e->endpoint, e->access_tier);
        ev[i].payload = payload[i];
        ev[i].payload_len = (size_t)len;
    }
}

/* Prints "res rows" per resolution of the rollups table. */
static void
print_rollup_rows(const char *url)
{
    PGconn *pg = PQconnectdb(url);
    PGresult *r = PQexec(
        pg, "SELECT res, count(*) FROM rollups GROUP BY res ORDER BY res");
    printf("rollup rows:");
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r);
         i++)
        printf(" %s ms: %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    printf("\n");
    PQclear(r);
    PQfinish(pg);
}

static int
run_dashboard(const char *name, size_t n)
{
    char url[512], err[512] = "";
    struct tlm__store *st = NULL;
    struct tlm__store_event *ev = calloc(DASH_BATCH, sizeof(*ev));
    char(*payload)[160] = calloc(DASH_BATCH, sizeof(*payload));
    size_t nb = n / DASH_BATCH;
    int64_t now = wall_ms(), t0 = now - DASH_SPAN_MS;
    uint64_t seed = 0x9e3779b97f4a7c15ull, folded = 0;
    double load = 0, t, q_s[5];
    struct tlm__dash_result *res = malloc(sizeof(*res));
    int rc = 1;

    if (ev == NULL || payload == NULL || res == NULL || nb == 0
        || fresh_db(name, url, sizeof(url)) != 0
        || tlm__store_open(url, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-store-pg: dashboard: %s\n", err);
        goto out;
    }
    for (size_t k = 0; k < nb; k++) {
        size_t acc = 0, dup = 0;
        dash_batch(ev, payload, k, nb, t0, &seed);
        struct tlm__store_batch b
            = {.received_ms = now, .events = ev, .n_events = DASH_BATCH};
        b.meta.event_count = DASH_BATCH;
        t = now_s();
        if (tlm__store_insert_batch(st, &b, &acc, &dup) != 0
            || acc != DASH_BATCH)
            goto out;
        load += now_s() - t;
    }
    printf("loaded %zu events with rollups in %.1f s (%.0f events/s)\n",
        nb * DASH_BATCH, load, (double)(nb * DASH_BATCH) / load);
    print_rollup_rows(url);
    t = now_s();
    if (tlm__store_rollup_compact(st, now - 48 * 3600 * 1000LL,
            now - 60 * 24 * 3600 * 1000LL, &folded)
        != 0)
        goto out;
    printf("compaction (minutes before 48 h into hours): %llu rows folded in"
           " %.1f s\n",
        (unsigned long long)folded, now_s() - t);
    print_rollup_rows(url);
    /* 30 days (the previous window is empty), then the last 15 (its
     * previous window holds the 15 days before). */
    for (int days = 30; days >= 15; days -= 15) {
        struct tlm__dash_query q = {.from_ms = now - days * 86400000LL,
            .to_ms = now + 1,
            .environment = "production",
            .max_endpoints = 100};
        for (int i = 0; i < 5; i++) {
            t = now_s();
            if (tlm__store_dashboard(st, &q, res) != 0)
                goto out;
            q_s[i] = now_s() - t;
            if (i == 0)
                printf("dashboard: %.0f events, %zu endpoints, %zu points,"
                       " top p95 %.2f ms\n",
                    res->events, res->n_endpoints, res->n_points,
                    res->n_endpoints > 0 ? res->endpoints[0].p95_ms : 0);
            tlm__dash_result_free(res);
        }
        printf("dashboard, %d-day window: store query %.1f ms (median of 5;"
               " min %.1f, max %.1f)\n",
            days, bench_quantile(q_s, 5, 0.5) * 1e3,
            bench_quantile(q_s, 5, 0) * 1e3, bench_quantile(q_s, 5, 1) * 1e3);
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "bench-store-pg: dashboard run failed\n");
    tlm__store_close(st);
    drop_db(name);
    free(res);
    free(payload);
    free(ev);
    return rc;
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: bench-store-pg [--pg URL] [--server PATH] [--events N]\n"
        "                      [--repeats N] [--connections N]\n"
        "                      [--users-per-batch N]\n"
        "       bench-store-pg [--pg URL] --dashboard N\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    size_t n = 200000, dash = 0;
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
        else if (strcmp(argv[i], "--users-per-batch") == 0 && i + 1 < argc)
            users_per_batch = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
            conns = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dashboard") == 0 && i + 1 < argc)
            dash = strtoul(argv[++i], NULL, 10);
        else
            usage();
    }
    if (base_url == NULL || n == 0 || repeats < 1 || repeats > 99 || conns < 1
        || conns > LOADGEN_MAX_CONNS)
        usage();
    snprintf(name, sizeof(name), "bench_store_pg_%d", (int)getpid());
    if (dash > 0)
        return run_dashboard(name, dash);
    /* Timestamps an hour old: inside the server's ingestion window. */
    if (make_events(n, (int64_t)time(NULL) * 1000 - 3600 * 1000) != 0
        || make_bodies() != 0 || mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench-store-pg: out of memory\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    printf("# %zu events (%.0f B of JSON each), batches of %d, libpq %d,"
           " %d connection(s) to the server\n",
        n,
        (double)(events[n - 1].payload + events[n - 1].payload_len - text)
            / (double)n,
        BATCH, PQlibVersion(), conns);
    printf("%-4s %9s %9s %6s %9s %6s %8s %8s %9s %8s %8s %9s %6s\n", "run",
        "base_ev/s", "store_ev/s", "x_base", "srv_ev/s", "x_base", "st_p99",
        "srv_p99", "dups_ev/s", "base_us", "srv_us", "noroll/s", "x_roll");
    double *base = calloc((size_t)repeats, sizeof(double));
    double *store = calloc((size_t)repeats, sizeof(double));
    double *srv = calloc((size_t)repeats, sizeof(double));
    double *sp99 = calloc((size_t)repeats, sizeof(double));
    double *vp99 = calloc((size_t)repeats, sizeof(double));
    double *noroll = calloc((size_t)repeats, sizeof(double));
    if (base == NULL || store == NULL || srv == NULL || sp99 == NULL
        || vp99 == NULL || noroll == NULL)
        return 1;
    int rc = 0;
    for (int r = 0; r < repeats && rc == 0; r++) {
        double bc = 0, dups = 0, cpu = 0, catchup = 0, np99 = 0, ndups = 0, tb,
               ts = -1;
        double tn = -1;
        double tv;
        tb = fresh_db(name, db, sizeof(db)) == 0 ? run_baseline(db, &bc) : -1;
        /* With and without rollups, in alternating order. */
        for (int k = 0; k < 2; k++) {
            bool with = (k + r) % 2 == 0;
            double t = fresh_db(name, db, sizeof(db)) == 0 ? run_store(db, with,
                           with ? &sp99[r] : &np99, with ? &dups : &ndups)
                                                           : -1;
            if (with)
                ts = t;
            else
                tn = t;
        }
        tv = fresh_db(name, db, sizeof(db)) == 0
            ? run_server(server, db, dir, conns, &vp99[r], &cpu, &catchup)
            : -1;
        if (tb <= 0 || ts <= 0 || tn <= 0 || tv <= 0) {
            rc = 1;
            break;
        }
        base[r] = (double)n / tb;
        store[r] = (double)n / ts;
        srv[r] = (double)n / tv;
        noroll[r] = (double)n / tn;
        printf("%-4d %9.0f %9.0f %6.2f %9.0f %6.2f %8.1f %8.1f %9.0f %8.2f "
               "%8.2f %9.0f %6.2f\n",
            r + 1, base[r], store[r], store[r] / base[r], srv[r],
            srv[r] / base[r], sp99[r], vp99[r], (double)n / dups,
            bc * 1e6 / (double)n, cpu, noroll[r], store[r] / noroll[r]);
        fflush(stdout);
    }
    drop_db(name);
    if (rc == 0) {
        double mb = bench_quantile(base, (size_t)repeats, 0.5);
        double ms = bench_quantile(store, (size_t)repeats, 0.5);
        double mv = bench_quantile(srv, (size_t)repeats, 0.5);
        double mn = bench_quantile(noroll, (size_t)repeats, 0.5);
        printf("median %6.0f %9.0f %6.2f %9.0f %6.2f %8.1f %8.1f %9s %8s %8s"
               " %9.0f %6.2f\n",
            mb, ms, ms / mb, mv, mv / mb,
            bench_quantile(sp99, (size_t)repeats, 0.5),
            bench_quantile(vp99, (size_t)repeats, 0.5), "", "", "", mn,
            ms / mn);
    }
    remove_dir(dir);
    curl_global_cleanup();
    return rc;
}
