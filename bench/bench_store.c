/*
 * bench_store.c - the SQLite store's write path against a baseline in the
 * same run: (a) the same rows (id + payload) inserted by a plain prepared
 * statement loop in one transaction into a minimal table with the same
 * unique index on id, (b) the server's store API (tlm__store_insert_batch)
 * inserting the same rows as batches of 500, one transaction each.
 *
 * Prints figures only; it asserts nothing about time. Each run uses a fresh
 * database file under --dir; the files are removed afterwards.
 */
#include "bench_common.h"
#include "store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/stat.h>

#define BATCH 500

static const char *const routes[] = {
    "/v1/users/{user_id}",
    "/v1/search",
    "/v1/organizations/{org_id}/projects",
    "/v2/models/{model}/completions",
    "/v1/users/{user_id}/api-keys",
    "/v1/organizations/{org_id}/projects/{project_id}",
    "/v1/organizations/{org_id}/projects/{project_id}/deployments",
    "/v1/invoices/{invoice_id}",
    "/v1/invoices",
    "/v1/webhooks/{webhook_id}/deliveries",
    "/v1/webhooks",
    "/v1/files",
    "/v1/files/{file_id}/content",
    "/v1/audit-logs",
    "/v1/batch-jobs/{job_id}",
    "/v1/regions",
};
static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
static const char *const tiers[] = {"free", "free", "pro", "enterprise"};
static const int statuses[] = {200, 200, 200, 200, 200, 200, 201, 201, 204, 200,
    200, 200, 404, 429, 500, 503};

static struct tlm__store_event *events;
static char *text; /* every payload, back to back */
static char (*users)[72];
static char (*orgs)[16];
static size_t n_events;

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

/* A UUIDv7 for ms with random tail bits, lower-case canonical form. */
static void
uuid7(uint64_t *seed, int64_t ms, char out[TLM_EVENT_ID_LEN + 1])
{
    uint64_t hi = ((uint64_t)ms << 16) | 0x7000u | (xorshift(seed) & 0xfffu);
    uint64_t lo
        = (xorshift(seed) & 0x3fffffffffffffffull) | 0x8000000000000000ull;

    snprintf(out, TLM_EVENT_ID_LEN + 1, "%08x-%04x-%04x-%04x-%012llx",
        (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xffffu,
        (unsigned)hi & 0xffffu, (unsigned)(lo >> 48),
        (unsigned long long)(lo & 0xffffffffffffull));
}

/* n realistic request events (as lib/encode.c writes them, ~470 bytes of
 * JSON each), 100 per millisecond, typed fields filled as the server's
 * validation would. */
static int
make_events(size_t n)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int64_t t0 = 1767225600000; /* 2026-01-01 */
    size_t cap = n * 640, off = 0;

    events = calloc(n, sizeof(*events));
    text = malloc(cap);
    users = calloc(n, sizeof(*users));
    orgs = calloc(n, sizeof(*orgs));
    if (events == NULL || text == NULL || users == NULL || orgs == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct tlm__event *e = &events[i].ev;
        uint64_t x = xorshift(&seed);
        int64_t ms = t0 + (int64_t)(i / 100);
        e->type = TLM_EVENT_REQUEST;
        uuid7(&seed, ms, e->id);
        e->ts_ms = ms;
        e->environment = "production";
        e->sample_rate = 1.0;
        e->endpoint = routes[x % 16];
        e->method = methods[(x >> 4) % 4];
        e->has_status = true;
        e->status = statuses[(x >> 8) % 16];
        e->has_response_time = true;
        e->response_time_ms = (double)((x >> 12) % 900000) / 1000.0;
        snprintf(users[i], sizeof(users[i]), "u%016llx%016llx%016llx%08x",
            (unsigned long long)xorshift(&seed),
            (unsigned long long)xorshift(&seed),
            (unsigned long long)xorshift(&seed), (unsigned)(x >> 40));
        snprintf(orgs[i], sizeof(orgs[i]), "org-%u", (unsigned)(x >> 32) % 250);
        e->user_id = users[i];
        e->organization_id = orgs[i];
        e->access_tier = tiers[(x >> 20) % 4];
        int len = snprintf(text + off, cap - off,
            "{\"type\":\"request\",\"id\":\"%s\",\"timestamp\":"
            "\"2026-01-01T00:00:00.000Z\",\"environment\":\"production\","
            "\"sample_rate\":1,\"endpoint\":\"%s\",\"method\":\"%s\","
            "\"response_status\":%d,\"response_time\":%.3f,\"user_id\":"
            "\"%s\",\"organization_id\":\"%s\",\"access_tier\":\"%s\"%s,"
            "\"client_info\":{\"sdk\":\"libtelemetry\",\"sdk_version\":"
            "\"0.1.0\",\"os\":\"linux\",\"arch\":\"x86_64\"}}",
            e->id, e->endpoint, e->method, e->status, e->response_time_ms,
            e->user_id, e->organization_id, e->access_tier,
            (x >> 24) % 4 == 0 ? ",\"request_details\":{\"page_size\":50,"
                                 "\"sort\":\"created_at\"}"
                               : "");
        if (len < 0 || (size_t)len >= cap - off)
            return -1;
        events[i].payload = text + off;
        events[i].payload_len = (size_t)len;
        off += (size_t)len;
    }
    n_events = n;
    return 0;
}

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

/* (b) The store API: batches of BATCH, one transaction each, every receipt
 * checked (all accepted), then the whole set again (all duplicates, timed
 * separately). Closing (the final checkpoint) is timed apart as well. */
static double
run_store(const char *path, double *bytes, double *cpu, double *p99_ms,
    double *dup_secs, double *close_secs)
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
                .received_ms = 1767225600000,
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
            *cpu = bench_cpu_seconds(RUSAGE_SELF) - c0;
            qsort(lat, nb, sizeof(*lat), cmp_double);
            *p99_ms = lat[(size_t)(0.99 * (double)(nb - 1) + 0.5)];
        } else {
            *dup_secs = el;
        }
    }
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

static void
usage(void)
{
    fprintf(
        stderr, "usage: bench-store [--events N] [--repeats N] [--dir DIR]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    size_t n = 200000;
    int repeats = 3;
    const char *dir = "/tmp";
    char path[512];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else
            usage();
    }
    if (n == 0 || repeats < 1 || repeats > 99)
        usage();
    if (make_events(n) != 0) {
        fprintf(stderr, "bench-store: out of memory\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench-store-%d.db", dir, (int)getpid());
    printf("# %zu events (%.0f B of JSON each), batches of %d, SQLite %s\n", n,
        (double)(events[n - 1].payload + events[n - 1].payload_len - text)
            / (double)n,
        BATCH, sqlite3_libversion());
    printf("%-4s %10s %10s %6s %8s %8s %8s %8s %10s %7s %7s\n", "run",
        "base_ev/s", "store_ev/s", "ratio", "base_us", "store_us", "base_B",
        "store_B", "dups_ev/s", "p99_ms", "close_s");

    double *ratio = calloc((size_t)repeats, sizeof(double));
    double *base = calloc((size_t)repeats, sizeof(double));
    double *store = calloc((size_t)repeats, sizeof(double));
    if (ratio == NULL || base == NULL || store == NULL)
        return 1;
    for (int r = 0; r < repeats; r++) {
        double bb = 0, sb = 0, p99 = 0, dups = 0, cl = 0, bc = 0, sc = 0;
        double tb = run_baseline(path, &bb, &bc);
        double ts = run_store(path, &sb, &sc, &p99, &dups, &cl);
        if (tb <= 0 || ts <= 0)
            return 1;
        base[r] = (double)n / tb;
        store[r] = (double)n / ts;
        ratio[r] = tb / ts;
        printf("%-4d %10.0f %10.0f %6.2f %8.2f %8.2f %8.0f %8.0f %10.0f %7.2f "
               "%7.3f\n",
            r + 1, base[r], store[r], ratio[r], bc * 1e6 / (double)n,
            sc * 1e6 / (double)n, bb / (double)n, sb / (double)n,
            (double)n / dups, p99, cl);
        fflush(stdout);
    }
    printf("median %8.0f %10.0f %6.2f\n",
        bench_quantile(base, (size_t)repeats, 0.5),
        bench_quantile(store, (size_t)repeats, 0.5),
        bench_quantile(ratio, (size_t)repeats, 0.5));
    free(ratio);
    free(base);
    free(store);
    return 0;
}
