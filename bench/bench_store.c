/*
 * bench_store.c - the SQLite store's write path against a baseline in the
 * same run: (a) the same rows (id + payload) inserted by a plain prepared
 * statement loop in one transaction into a minimal table with the same
 * unique index on id, (b) the server's store API (tlm__store_insert_batch)
 * inserting the same rows as batches of 500, one transaction each, (c) the
 * real telemetry-server --db sqlite:... fed the same events as gzip batches
 * of 500 by the loopback load generator of bench_loadgen.h.
 *
 * Prints figures only; it asserts nothing about time. Each run uses a fresh
 * database file under --dir; the files are removed afterwards.
 */
#include "bench_common.h"
#include "bench_events.h"
#include "bench_loadgen.h"
#include "store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/stat.h>

static void
remove_db(const char *path)
{
    char p[600];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static double
db_bytes(const char *path)
{
    char p[600];
    const char *sfx[] = {"", "-wal"};
    double total = 0;
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        if (stat(p, &sb) == 0)
            total += (double)sb.st_size;
    }
    return total;
}

static int
must(sqlite3 *db, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    fprintf(stderr, "bench-store: %s: %s\n", what, sqlite3_errmsg(db));
    return -1;
}

/* (a) The baseline: same pragmas as the store, minimal table, one prepared
 * INSERT stepped per row, one transaction. Returns seconds or -1. */
static double
run_baseline(const char *path, double *bytes, double *cpu)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    double secs = -1, t0;

    remove_db(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        goto out;
    if (must(db,
            sqlite3_exec(db,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "CREATE TABLE events(id TEXT NOT NULL UNIQUE,"
                " payload TEXT NOT NULL)",
                NULL, NULL, NULL),
            "schema")
        != 0)
        goto out;
    if (must(db,
            sqlite3_prepare_v2(db,
                "INSERT INTO events(id, payload) VALUES(?1, ?2)", -1, &s, NULL),
            "prepare")
        != 0)
        goto out;
    t0 = (double)bench_mono_ns() / 1e9;
    *cpu = bench_cpu_seconds(RUSAGE_SELF);
    if (must(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin") != 0)
        goto out;
    for (size_t i = 0; i < n_events; i++) {
        sqlite3_bind_text(
            s, 1, events[i].ev.id, TLM_EVENT_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_text(
            s, 2, events[i].payload, (int)events[i].payload_len, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (must(db, rc, "insert") != 0)
            goto out;
    }
    if (must(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit") != 0)
        goto out;
    secs = (double)bench_mono_ns() / 1e9 - t0;
    *cpu = bench_cpu_seconds(RUSAGE_SELF) - *cpu;
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (secs > 0)
        *bytes = db_bytes(path);
    remove_db(path);
    return secs;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The analytics applier alone: its rows dropped and its cursor put back
 * to 0, then one tlm__store_analytics_sync folds the whole set again.
 * Returns seconds (-1 on failure), *cpu the process CPU seconds. */
static double
refold(struct tlm__store *st, const char *path, double *cpu)
{
    sqlite3 *db = NULL;
    double t0, c0;
    if (sqlite3_open(path, &db) != SQLITE_OK
        || must(db,
               sqlite3_exec(db,
                   "DELETE FROM rollups; DELETE FROM workflow_counts;"
                   " DELETE FROM user_paths;"
                   " UPDATE analytics_cursor SET seq = 0;",
                   NULL, NULL, NULL),
               "refold")
            != 0) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_close(db);
    t0 = (double)bench_mono_ns() / 1e9;
    c0 = bench_cpu_seconds(RUSAGE_SELF);
    if (tlm__store_analytics_sync(st) != 0)
        return -1;
    *cpu = bench_cpu_seconds(RUSAGE_SELF) - c0;
    return (double)bench_mono_ns() / 1e9 - t0;
}

/* (b) The store API: batches of BATCH, one transaction each, every receipt
 * checked (all accepted), then the whole set again (all duplicates, timed
 * separately). *apply_secs: what the analytics applier still had to do
 * when the last batch returned (tlm__store_analytics_sync right after it);
 * *fold_secs and *fold_cpu: the applier folding the whole set alone
 * (refold). Closing (the final checkpoint) is timed apart as well. */
static double
run_store(const char *path, double *bytes, double *cpu, double *p99_ms,
    double *dup_secs, double *apply_secs, double *fold_secs, double *fold_cpu,
    double *close_secs)
{
    char url[600], err[256] = "";
    struct tlm__store *st = NULL;
    size_t nb = (n_events + BATCH - 1) / BATCH;
    double *lat = calloc(nb, sizeof(*lat));
    double secs = -1, t0;

    remove_db(path);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    if (lat == NULL || tlm__store_open(url, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-store: open: %s\n", err);
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        t0 = (double)bench_mono_ns() / 1e9;
        double c0 = bench_cpu_seconds(RUSAGE_SELF);
        for (size_t k = 0; k < nb; k++) {
            size_t first = k * BATCH;
            size_t n = n_events - first < BATCH ? n_events - first : BATCH;
            struct tlm__store_batch b = {
                .received_ms = events[first].ev.ts_ms,
                .events = events + first,
                .n_events = n,
            };
            size_t acc = 0, dup = 0;
            b.meta.event_count = n;
            double b0 = (double)bench_mono_ns();
            if (tlm__store_insert_batch(st, &b, &acc, &dup) != 0)
                goto out;
            lat[k] = ((double)bench_mono_ns() - b0) / 1e6;
            if (acc != (pass == 0 ? n : 0) || dup != (pass == 0 ? 0 : n)) {
                fprintf(stderr, "bench-store: receipt %zu/%zu, expected %s\n",
                    acc, dup, pass == 0 ? "all accepted" : "all duplicates");
                goto out;
            }
        }
        double el = (double)bench_mono_ns() / 1e9 - t0;
        if (pass == 0) {
            secs = el;
            if (tlm__store_analytics_sync(st) != 0)
                goto out;
            *apply_secs = (double)bench_mono_ns() / 1e9 - t0 - el;
            *cpu = bench_cpu_seconds(RUSAGE_SELF) - c0;
            qsort(lat, nb, sizeof(*lat), cmp_double);
            *p99_ms = lat[(size_t)(0.99 * (double)(nb - 1) + 0.5)];
        } else {
            *dup_secs = el;
        }
    }
    if ((*fold_secs = refold(st, path, fold_cpu)) <= 0)
        goto out;
    t0 = (double)bench_mono_ns() / 1e9;
    tlm__store_close(st);
    st = NULL;
    *close_secs = (double)bench_mono_ns() / 1e9 - t0;
    *bytes = db_bytes(path);
out:
    if (st != NULL) {
        secs = -1;
        tlm__store_close(st);
    }
    free(lat);
    remove_db(path);
    return secs;
}

/* The figures of one run, one column each; the server's four repeat per
 * connection count. */
enum {
    C_BASE,
    C_STORE,
    C_RATIO,
    C_BASE_US,
    C_STORE_US,
    C_BASE_B,
    C_STORE_B,
    C_DUPS,
    C_P99,
    C_APPLIED,
    C_FOLD,
    C_FOLD_US,
    C_CLOSE,
    C_SRV
};
enum { S_EVS, S_RATIO, S_P99, S_US, S_APPLIED, S_N };
#define MAX_CONN_COLS 2
#define N_COLS (C_SRV + S_N * MAX_CONN_COLS)

/* A server column is headed name, connection count, suffix ("srv2_ev/s"). */
struct col {
    const char *name, *suffix;
    int width, prec;
};

static const struct col cols[C_SRV + S_N] = {
    {"base_ev/s", NULL, 10, 0},
    {"store_ev/s", NULL, 10, 0},
    {"ratio", NULL, 6, 2},
    {"base_us", NULL, 8, 2},
    {"store_us", NULL, 8, 2},
    {"base_B", NULL, 8, 0},
    {"store_B", NULL, 8, 0},
    {"dups_ev/s", NULL, 10, 0},
    {"p99_ms", NULL, 7, 2},
    {"appl_ev/s", NULL, 10, 0},
    {"fold_ev/s", NULL, 10, 0},
    {"fold_us", NULL, 7, 2},
    {"close_s", NULL, 7, 3},
    {"srv", "_ev/s", 10, 0},
    {"x_base", NULL, 6, 2},
    {"s", "_p99", 7, 2},
    {"s", "_us", 6, 2},
    {"s", "_appl", 8, 0},
};

static void
print_row(const char *label, const double *v, int n_conns)
{
    printf("%-6s", label);
    for (int i = 0; i < C_SRV + S_N * n_conns; i++) {
        const struct col *c = &cols[i < C_SRV ? i : C_SRV + (i - C_SRV) % S_N];
        printf(" %*.*f", c->width, c->prec, v[i]);
    }
    printf("\n");
    fflush(stdout);
}

static void
print_header(const int *conns, int n_conns)
{
    char name[32];

    printf("%-6s", "run");
    for (int i = 0; i < C_SRV + S_N * n_conns; i++) {
        const struct col *c = &cols[i < C_SRV ? i : C_SRV + (i - C_SRV) % S_N];
        if (c->suffix != NULL)
            snprintf(name, sizeof(name), "%s%d%s", c->name,
                conns[(i - C_SRV) / S_N], c->suffix);
        printf(" %*s", c->width, c->suffix != NULL ? name : c->name);
    }
    printf("\n");
}

/* One repeat: baseline, store, then the server once per connection count,
 * each on a fresh file. Fills v[] as the columns above; -1 on a failure. */
static int
run_once(const char *path, const char *server, const char *dir,
    const int *conns, int n_conns, double *v)
{
    double n = (double)n_events;
    double bb = 0, sb = 0, dups = 0, bc = 0, sc = 0, apply = 0, fold = 0;
    double fold_cpu = 0;
    double tb = run_baseline(path, &bb, &bc);
    double ts = run_store(path, &sb, &sc, &v[C_P99], &dups, &apply, &fold,
        &fold_cpu, &v[C_CLOSE]);
    char db[600], file[560];

    if (tb <= 0 || ts <= 0)
        return -1;
    v[C_BASE] = n / tb;
    v[C_STORE] = n / ts;
    v[C_RATIO] = tb / ts;
    v[C_BASE_US] = bc * 1e6 / n;
    v[C_STORE_US] = sc * 1e6 / n;
    v[C_BASE_B] = bb / n;
    v[C_STORE_B] = sb / n;
    v[C_DUPS] = n / dups;
    v[C_APPLIED] = n / (ts + apply);
    v[C_FOLD] = n / fold;
    v[C_FOLD_US] = fold_cpu * 1e6 / n;
    snprintf(file, sizeof(file), "%s/server.db", dir);
    snprintf(db, sizeof(db), "sqlite:%s", file);
    for (int j = 0; j < n_conns; j++) {
        double *s = &v[C_SRV + S_N * j];
        remove_db(file);
        double catchup = 0;
        double tv = run_server(
            server, db, dir, conns[j], &s[S_P99], &s[S_US], &catchup);
        remove_db(file);
        if (tv <= 0)
            return -1;
        s[S_EVS] = n / tv;
        s[S_APPLIED] = n / (tv + catchup);
        s[S_RATIO] = s[S_EVS] / v[C_BASE];
    }
    return 0;
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: bench-store [--events N] [--repeats N] [--dir DIR]\n"
        "                   [--server PATH] [--connections N]\n"
        "                   [--users-per-batch N (default 4; 0: one per "
        "event)]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    size_t n = 200000;
    int repeats = 3, conns[MAX_CONN_COLS] = {1, 2}, n_conns = 2;
    const char *dir = "/tmp";
    char path[512], server[512], work[512];
    static double v[99][N_COLS], col[99];

    default_server(server, sizeof(server));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--users-per-batch") == 0 && i + 1 < argc)
            users_per_batch = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            snprintf(server, sizeof(server), "%s", argv[++i]);
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc) {
            conns[0] = (int)strtol(argv[++i], NULL, 10);
            n_conns = 1;
        } else
            usage();
    }
    if (n == 0 || repeats < 1 || repeats > 99 || conns[0] < 1
        || conns[0] > LOADGEN_MAX_CONNS)
        usage();
    snprintf(path, sizeof(path), "%s/bench-store-%d.db", dir, (int)getpid());
    snprintf(work, sizeof(work), "%s/bench-store-XXXXXX", dir);
    /* Timestamps an hour old: inside the server's ingestion window. */
    if (make_events(n, (int64_t)time(NULL) * 1000 - 3600 * 1000) != 0
        || make_bodies() != 0 || mkdtemp(work) == NULL) {
        fprintf(stderr, "bench-store: out of memory or no %s\n", work);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    printf("# %zu events (%.0f B of JSON each), batches of %d, SQLite %s\n", n,
        (double)(events[n - 1].payload + events[n - 1].payload_len - text)
            / (double)n,
        BATCH, sqlite3_libversion());
    print_header(conns, n_conns);
    int rc = 0;
    for (int r = 0; r < repeats && rc == 0; r++) {
        char label[8];
        rc = run_once(path, server, work, conns, n_conns, v[r]);
        snprintf(label, sizeof(label), "%d", r + 1);
        if (rc == 0)
            print_row(label, v[r], n_conns);
    }
    if (rc == 0) {
        double med[N_COLS];
        for (int i = 0; i < N_COLS; i++) {
            for (int r = 0; r < repeats; r++)
                col[r] = v[r][i];
            med[i] = bench_quantile(col, (size_t)repeats, 0.5);
        }
        print_row("median", med, n_conns);
    }
    remove_dir(work);
    curl_global_cleanup();
    return rc == 0 ? 0 : 1;
}
