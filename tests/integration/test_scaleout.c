/*
 * test_scaleout.c - two telemetry-server processes on ONE PostgreSQL
 * database, as behind a load balancer: batches from several threads land
 * on either server, the same event ids go to both and whole batches are
 * replayed, and the receipts and both dashboards still count every event
 * exactly once. Also: two servers starting at the same moment on an empty
 * database (the migration race), and a server whose database sessions were
 * all ended (a database restart) answering the next batch without a
 * restart of its own.
 *
 * Needs TLM_TEST_PG_URL (scripts/pg start DIR prints one); exits 77
 * (skipped) without it. Test code only.
 */
#include "fixture.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define PER_BATCH 100
#define BATCHES 15 /* per thread: ids t*500 .. t*500 + 1499 */
#define REPLAYS 3 /* the first batches again, to the other server */
#define DISTINCT (500 * (THREADS - 1) + PER_BATCH * BATCHES)

static int64_t base_ms; /* every event's timestamp derives from its id */

/* The body of batch number k of thread t (ids first .. first + n - 1):
 * two UTC days of timestamps, so that both servers create partitions. */
static char *
batch_body(int t, int k, int first, int n)
{
    size_t cap = 128 + (size_t)n * 256, len;
    char *b = malloc(cap);

    ck_assert_ptr_nonnull(b);
    len = (size_t)snprintf(
        b, cap, "{\"batch_id\":\"scaleout-%d-%d\",\"events\":[", t, k);
    for (int i = 0; i < n; i++) {
        int id = first + i;
        int64_t ms = base_ms - (id % 2) * 86400000LL - id * 7LL;
        time_t sec = (time_t)(ms / 1000);
        struct tm tm;
        char ts[40];

        gmtime_r(&sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        len += (size_t)snprintf(b + len, cap - len,
            "%s{\"type\":\"request\",\"id\":"
            "\"0190a000-0000-7000-8000-%012d\",\"timestamp\":\"%s.%03dZ\","
            "\"endpoint\":\"/v1/scale/%d\",\"response_status\":%d,"
            "\"response_time\":%d}",
            i > 0 ? "," : "", id, ts, (int)(ms % 1000), id % 5,
            id % 10 == 0 ? 503 : 200, id % 97);
    }
    snprintf(b + len, cap - len, "]}");
    return b;
}

/* POSTs body to s's /v1/batch; the status, the receipt's counts. */
static long
post(CURL *e, const tlm_test_server *s, const char *body, long *accepted,
    long *dups)
{
    char out[8192];
    long status = tlm_test_http(
        s, e, "/v1/batch", TLM_TEST_API_KEY, body, out, sizeof(out));
    cJSON *r = cJSON_Parse(out);
    cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "accepted");
    cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "duplicates");
    cJSON *rej = cJSON_GetObjectItemCaseSensitive(r, "rejected");
    *accepted = cJSON_IsNumber(a) ? (long)a->valuedouble : -1;
    *dups = cJSON_IsNumber(d) ? (long)d->valuedouble : -1;
    if (status == 200 && cJSON_GetArraySize(rej) != 0)
        status = -1; /* no event of these batches may be refused */
    cJSON_Delete(r);
    return status;
}

struct sender {
    int t;
    const tlm_test_server *srv[2];
    long accepted;
    long dups;
    int failures;
};

static void
send_one(struct sender *w, CURL *e, int k, int to)
{
    char *body = batch_body(w->t, k, w->t * 500 + k * PER_BATCH, PER_BATCH);
    long a = 0, d = 0;

    if (post(e, w->srv[to], body, &a, &d) == 200 && a + d == PER_BATCH) {
        w->accepted += a;
        w->dups += d;
    } else {
        w->failures++;
    }
    free(body);
}

/* Batches alternate between the servers (thread t starts on t % 2); then
 * the first REPLAYS go again, whole, to the server that did not get them. */
static void *
sender_main(void *arg)
{
    struct sender *w = arg;
    CURL *e = curl_easy_init();

    for (int k = 0; k < BATCHES; k++)
        send_one(w, e, k, (w->t + k) % 2);
    for (int k = 0; k < REPLAYS; k++)
        send_one(w, e, k, (w->t + k + 1) % 2);
    curl_easy_cleanup(e);
    return NULL;
}

/* Count of GET /admin/events pages' items, following next_cursor. */
static long
listed_events(const tlm_test_server *s)
{
    char path[128] = "/admin/events?limit=1000";
    long n = 0;

    for (int page = 0; page < 100; page++) {
        cJSON *j = tlm_test_get_json(s, path, NULL);
        cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
        cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next_cursor");
        ck_assert_msg(cJSON_IsArray(items), "no items from /admin/events");
        n += cJSON_GetArraySize(items);
        int more = cJSON_IsNumber(next) && next->valuedouble > 0;
        if (more)
            snprintf(path, sizeof(path), "/admin/events?limit=1000&after=%lld",
                (long long)next->valuedouble);
        else if (cJSON_IsString(next) && next->valuestring[0] != '\0') {
            snprintf(path, sizeof(path), "/admin/events?limit=1000&after=%s",
                next->valuestring);
            more = 1;
        }
        cJSON_Delete(j);
        if (!more)
            break;
    }
    return n;
}

START_TEST(scaleout_two_servers_count_each_event_once)
{
    tlm_test_server a, b;
    struct sender w[THREADS];
    pthread_t th[THREADS];
    long accepted = 0, dups = 0;

    ck_assert_int_eq(tlm_test_server_start(&a, NULL), 0);
    const char *same[] = {"--db", a.db, NULL};
    ck_assert_int_eq(tlm_test_server_start(&b, same), 0);
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct sender) {t, {&a, &b}, 0, 0, 0};
        ck_assert_int_eq(pthread_create(&th[t], NULL, sender_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(w[t].failures, 0);
        accepted += w[t].accepted;
        dups += w[t].dups;
    }
    ck_assert_int_eq(
        accepted + dups, (long)THREADS * (BATCHES + REPLAYS) * PER_BATCH);
    ck_assert_int_eq(accepted, DISTINCT);
    ck_assert_int_eq(tlm_test_total_events(&a), DISTINCT);
    ck_assert_int_eq(tlm_test_total_events(&b), DISTINCT);
    ck_assert_int_eq(listed_events(&b), DISTINCT);
    tlm_test_server_stop(&b);
    tlm_test_server_stop(&a);
}
END_TEST

/* The base URL with its database replaced by name. */
static void
url_for(const char *name, char *out, size_t size)
{
    const char *base = getenv("TLM_TEST_PG_URL"), *p = strstr(base, "://");
    const char *query = strchr(base, '?');
    const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;

    if (slash == NULL || (query != NULL && query < slash))
        slash = query != NULL ? query : base + strlen(base);
    snprintf(out, size, "%.*s/%s%s", (int)(slash - base), base, name,
        query != NULL ? query : "");
}

static void
quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* The first value of sql on database db (NULL: the base one). */
static long
pg_value(const char *db, const char *sql)
{
    char u[512];
    long v = -1;

    if (db != NULL)
        url_for(db, u, sizeof(u));
    PGconn *pg = PQconnectdb(db != NULL ? u : getenv("TLM_TEST_PG_URL"));
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    PQsetNoticeProcessor(pg, quiet, NULL);
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK
            || PQresultStatus(r) == PGRES_COMMAND_OK,
        "%s: %s", sql, PQerrorMessage(pg));
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(pg);
    return v;
}

struct starter {
    tlm_test_server s;
    const char *const *extra;
    int rc;
};

static void *
start_main(void *arg)
{
    struct starter *st = arg;

    st->rc = tlm_test_server_start(&st->s, st->extra);
    return NULL;
}

/* Two servers start together on an empty database, three times: both come
 * up, each migration step is recorded once, both store and count. */
START_TEST(scaleout_servers_starting_together_migrate_once)
{
    for (int round = 0; round < 3; round++) {
        char name[64], sql[160], url[512];
        struct starter st[2];
        pthread_t th[2];
        long a = 0, d = 0;

        snprintf(name, sizeof(name), "tlm_race_%d_%d", (int)getpid(), round);
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
        pg_value(NULL, sql);
        url_for(name, url, sizeof(url));
        const char *extra[] = {"--db", url, NULL};
        for (int i = 0; i < 2; i++) {
            st[i].extra = extra;
            ck_assert_int_eq(
                pthread_create(&th[i], NULL, start_main, &st[i]), 0);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        ck_assert_int_eq(st[0].rc, 0);
        ck_assert_int_eq(st[1].rc, 0);
        long steps = pg_value(name, "SELECT MAX(version) FROM schema_version");
        ck_assert_int_ge(steps, 1);
        ck_assert_int_eq(
            pg_value(name, "SELECT count(*) FROM schema_version"), steps);
        CURL *e = curl_easy_init();
        char *body = batch_body(90 + round, 0, 100000, 10);
        ck_assert_int_eq(post(e, &st[0].s, body, &a, &d), 200);
        ck_assert_int_eq(a, 10);
        ck_assert_int_eq(post(e, &st[1].s, body, &a, &d), 200);
        ck_assert_int_eq(d, 10);
        free(body);
        curl_easy_cleanup(e);
        ck_assert_int_eq(tlm_test_total_events(&st[1].s), 10);
        tlm_test_server_stop(&st[0].s);
        tlm_test_server_stop(&st[1].s);
        snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", name);
        pg_value(NULL, sql);
    }
}
END_TEST

/* Every session of the server's database ended (what a database restart
 * does to its clients): the next batch and /readyz still succeed. */
START_TEST(scaleout_survives_database_restart)
{
    tlm_test_server s;
    char sql[256];
    long a = 0, d = 0, status = 0;
    CURL *e = curl_easy_init();

    ck_assert_int_eq(tlm_test_server_start(&s, NULL), 0);
    char *first = batch_body(70, 0, 200000, 20);
    char *second = batch_body(70, 1, 200020, 20);
    ck_assert_int_eq(post(e, &s, first, &a, &d), 200);
    cJSON_Delete(tlm_test_get_json(&s, "/readyz", &status));
    ck_assert_int_eq(status, 200);
    snprintf(sql, sizeof(sql),
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = '%s'",
        s.pg_db);
    ck_assert_int_ge(pg_value(NULL, sql), 1);
    usleep(200 * 1000);
    ck_assert_int_eq(post(e, &s, second, &a, &d), 200);
    ck_assert_int_eq(a, 20);
    status = 0;
    cJSON_Delete(tlm_test_get_json(&s, "/readyz", &status));
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(tlm_test_total_events(&s), 40);
    free(first);
    free(second);
    curl_easy_cleanup(e);
    tlm_test_server_stop(&s);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("scaleout");
    TCase *tc = tcase_create("scaleout");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, scaleout_two_servers_count_each_event_once);
    tcase_add_test(tc, scaleout_servers_starting_together_migrate_once);
    tcase_add_test(tc, scaleout_survives_database_restart);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    const char *url = getenv("TLM_TEST_PG_URL");

    if (url == NULL || url[0] == '\0') {
        printf("TLM_TEST_PG_URL is not set (scripts/pg start DIR): skipped\n");
        return 77;
    }
    base_ms = (int64_t)time(NULL) * 1000 - 3600 * 1000;
    curl_global_init(CURL_GLOBAL_ALL);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
