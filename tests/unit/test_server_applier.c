/* Check suite for the SQLite analytics applier (store_sqlite_applier.c):
 * rollups and workflows follow the events behind a cursor, off the ingest
 * transaction. Every test checks exact figures: across many apply
 * transactions, after a process killed with events unapplied, after the
 * analytics were lost and rebuilt from the cursor, with two store handles
 * (two processes) writing one file, when a purge meets events not yet
 * applied, after a batch rolled back halfway, and when the applier cannot
 * write. */
#define SQLITE_FIXTURE_PREFIX "tlm-applier"
#include "sqlite_fixture.h"
#include "store.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define T0 1796428800000LL /* a UTC midnight */
#define N_USERS 10
#define N_EPS 4
#define BATCH 500

static const char *const eps[N_EPS] = {"/e0", "/e1", "/e2", "/e3"};

/* Event k (0-based): user k % N_USERS, its (k / N_USERS)-th step, on
 * endpoint step % N_EPS, one second per step: one session per user, and
 * every user walks e0 -> e1 -> e2 -> e3 -> e0 ... Every 10th event is a
 * 500 (an error), status 200 otherwise; latency 10 ms. */
static void
make_event(long k, struct tlm__store_event *se, char user[16])
{
    struct tlm__event *e = &se->ev;
    long step = k / N_USERS;
    memset(se, 0, sizeof(*se));
    snprintf(e->id, sizeof(e->id), "0190d000-0000-7000-8000-%012ld", k);
    snprintf(user, 16, "u%ld", k % N_USERS);
    e->type = TLM_EVENT_REQUEST;
    e->ts_ms = T0 + step * 1000;
    e->environment = "production";
    e->sample_rate = 1;
    e->endpoint = eps[step % N_EPS];
    e->user_id = user;
    e->access_tier = "free";
    e->has_status = true;
    e->status = k % 10 == 9 ? 500 : 200;
    e->has_response_time = true;
    e->response_time_ms = 10;
    e->severity = -1;
    se->payload = "{}";
    se->payload_len = 2;
}

/* Stores events [first, first + n) in batches of BATCH. */
static void
ingest(struct tlm__store *st, long first, long n)
{
    struct tlm__store_event *ev = calloc(BATCH, sizeof(*ev));
    char(*users)[16] = calloc(BATCH, 16);
    for (long done = 0; done < n;) {
        long m = n - done < BATCH ? n - done : BATCH;
        size_t acc = 0, dup = 0;
        for (long i = 0; i < m; i++)
            make_event(first + done + i, &ev[i], users[i]);
        struct tlm__store_batch b
            = {.received_ms = T0, .events = ev, .n_events = (size_t)m};
        b.meta.event_count = (size_t)m;
        ck_assert_int_eq(tlm__store_insert_batch(st, &b, &acc, &dup), 0);
        done += m;
    }
    free(ev);
    free(users);
}

/* The dashboard and the workflows of events [0, n) are exactly what they
 * must be: n requests, n / 10 errors; one session per user; each user's
 * transitions spread over the N_EPS pairs of the cycle. */
static void
check_exact(struct tlm__store *st, long n)
{
    struct tlm__dash_result *r = calloc(1, sizeof(*r));
    struct tlm__workflow_result w;
    struct tlm__dash_query q = {.from_ms = T0,
        .to_ms = T0 + 86400000LL,
        .environment = "production",
        .max_endpoints = 10};
    double pairs = 0, want_pairs = 0;
    ck_assert_int_eq(tlm__store_dashboard(st, &q, r), 0);
    ck_assert_msg(
        r->events == (double)n, "events %.0f, want %ld", r->events, n);
    ck_assert_msg(r->errors == (double)(n / 10), "errors %.0f, want %ld",
        r->errors, n / 10);
    ck_assert_uint_eq(r->n_endpoints, N_EPS);
    tlm__dash_result_free(r);
    free(r);

    ck_assert_int_eq(
        tlm__store_workflows(st, T0, T0 + 86400000LL, "production", &w), 0);
    ck_assert_msg(w.sessions == N_USERS, "sessions %.0f", w.sessions);
    ck_assert_uint_eq(w.n_pairs, N_EPS);
    for (size_t i = 0; i < w.n_pairs; i++) {
        pairs += w.pairs[i].count;
        ck_assert(w.pairs[i].probability == 1.0); /* a cycle: one way on */
    }
    for (long u = 0; u < N_USERS; u++) { /* steps of user u, minus one */
        long steps = n / N_USERS + (u < n % N_USERS);
        want_pairs += steps > 0 ? (double)(steps - 1) : 0;
    }
    ck_assert_msg(
        pairs == want_pairs, "pairs %.0f, want %.0f", pairs, want_pairs);
    tlm__workflow_result_free(&w);
}

/* 30000 events: several apply transactions, each merging many batches;
 * the figures are those of the events, once each. */
START_TEST(applier_many_batches_exact)
{
    struct tlm__store *st = open_store();
    ingest(st, 0, 30000);
    check_exact(st, 30000);
    /* A resend of everything changes nothing. */
    ingest(st, 0, 30000);
    check_exact(st, 30000);
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT seq FROM analytics_cursor"),
        scalar("SELECT MAX(seq) FROM events"));
}
END_TEST

/* A process killed after storing events the applier had not reached:
 * the next one applies exactly those. */
START_TEST(applier_sigkill_then_restart_exact)
{
    pid_t pid = fork();
    int status = 0;
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct tlm__store *st = NULL;
        char err[256];
        if (tlm__store_open(url, &st, err, sizeof(err)) != 0)
            _exit(2);
        ingest(st, 0, 12000);
        ingest(st, 12000, 700); /* below the wake-up: left for later */
        kill(getpid(), SIGKILL);
        _exit(3);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 12700);
    /* What the kill left (logged: the thread may have won the race). */
    long long behind = scalar("SELECT MAX(seq) FROM events")
        - scalar("SELECT seq FROM analytics_cursor");
    fprintf(
        stderr, "applier_sigkill: %lld events unapplied at the kill\n", behind);
    struct tlm__store *st = open_store();
    check_exact(st, 12700);
    ingest(st, 12700, 300);
    check_exact(st, 13000);
    tlm__store_close(st);
}
END_TEST

/* Analytics rows lost and the cursor back at 0 (a database restored
 * from events alone): the next open rebuilds them exactly, once. */
START_TEST(applier_rebuilds_from_cursor)
{
    struct tlm__store *st = open_store();
    ingest(st, 0, 9000);
    tlm__store_close(st);
    exec_file("DELETE FROM rollups; DELETE FROM workflow_counts;"
              " DELETE FROM user_paths; UPDATE analytics_cursor SET seq = 0;");
    st = open_store();
    check_exact(st, 9000);
    tlm__store_close(st);
    st = open_store();
    check_exact(st, 9000);
    tlm__store_close(st);
    ck_assert_int_eq(scalar("SELECT seq FROM analytics_cursor"), 9000);
}
END_TEST

struct writer {
    struct tlm__store *st;
    long first, n;
};

static void *
write_range(void *arg)
{
    struct writer *w = arg;
    ingest(w->st, w->first, w->n);
    return NULL;
}

/* Two handles on one file (a server and `telemetry-server keys`, or two
 * processes) each with its own applier: no event applied twice. */
START_TEST(applier_two_handles_one_file)
{
    struct tlm__store *a = open_store();
    struct tlm__store *b = open_store();
    pthread_t t[2];
    /* Interleaved ranges of whole users' steps: 20 batches each. */
    struct writer w[2] = {{a, 0, 10000}, {b, 10000, 10000}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, write_range, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    struct tlm__dash_result *r = calloc(1, sizeof(*r));
    struct tlm__dash_query q = {.from_ms = T0,
        .to_ms = T0 + 86400000LL,
        .environment = "production",
        .max_endpoints = 10};
    ck_assert_int_eq(tlm__store_dashboard(b, &q, r), 0);
    ck_assert_msg(r->events == 20000, "events %.0f", r->events);
    ck_assert_msg(r->errors == 2000, "errors %.0f", r->errors);
    tlm__dash_result_free(r);
    tlm__store_close(a);
    ck_assert_int_eq(tlm__store_dashboard(b, &q, r), 0);
    ck_assert_msg(r->events == 20000, "events %.0f", r->events);
    tlm__dash_result_free(r);
    free(r);
    tlm__store_close(b);
    ck_assert_int_eq(scalar("SELECT seq FROM analytics_cursor"), 20000);
    ck_assert_int_eq(scalar("SELECT CAST(SUM(requests) AS INTEGER)"
                            " FROM rollups"),
        20000);
}
END_TEST

/* Retention purges events the applier has not reached: they reach the
 * rollups first (rollups outlive events), so the dashboard keeps them.
 * The newest event stays, so the next one gets a seq past the cursor and
 * is counted too. */
START_TEST(applier_purge_applies_first)
{
    struct tlm__store *st = open_store();
    uint64_t removed = 0;
    ingest(st, 0, 1000); /* below the wake-up: still unapplied */
    ck_assert_int_eq(tlm__store_purge(st, T0 + 86400000LL, &removed), 0);
    ck_assert_uint_eq(removed, 999);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 1);
    ck_assert_int_eq(scalar("SELECT seq FROM events"), 1000);
    check_exact(st, 1000);
    ingest(st, 1000, 500);
    check_exact(st, 1500);
    ck_assert_int_eq(scalar("SELECT MIN(seq) FROM events"), 1000);
    tlm__store_close(st);
}
END_TEST

/* A batch that fails halfway (its first rows inserted, then a statement
 * refused) moves nothing: the analytics count only what was committed. */
START_TEST(applier_counts_only_committed)
{
    struct tlm__store *st = open_store();
    struct tlm__store_event *ev = calloc(BATCH, sizeof(*ev));
    char(*users)[16] = calloc(BATCH, 16);
    size_t acc = 0, dup = 0;
    ingest(st, 0, BATCH);
    /* Events 990..999 (step 99) are refused: the rows before them in the
     * batch 500..999 are inserted, then rolled back. */
    exec_file("CREATE TRIGGER refuse BEFORE INSERT ON events"
              " WHEN NEW.ts_ms = 1796428899000 BEGIN"
              " SELECT RAISE(ABORT, 'refused'); END;");
    for (long i = 0; i < BATCH; i++)
        make_event(BATCH + i, &ev[i], users[i]);
    struct tlm__store_batch b
        = {.received_ms = T0, .events = ev, .n_events = BATCH};
    ck_assert_int_ne(tlm__store_insert_batch(st, &b, &acc, &dup), 0);
    exec_file("DROP TRIGGER refuse;");
    check_exact(st, BATCH);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), BATCH);
    /* The same batch again, now accepted, counts once. */
    ck_assert_int_eq(tlm__store_insert_batch(st, &b, &acc, &dup), 0);
    ck_assert_uint_eq(acc, BATCH);
    check_exact(st, 2 * BATCH);
    free(ev);
    free(users);
    tlm__store_close(st);
}
END_TEST

/* The applier cannot write (a trigger stands in for a full disk): the
 * events stay stored and unapplied, the dashboard answers with what was
 * applied, retention refuses to purge them; once writes work again the
 * figures are exact. */
START_TEST(applier_write_failure_loses_nothing)
{
    struct tlm__store *st = open_store();
    struct tlm__dash_result *r = calloc(1, sizeof(*r));
    struct tlm__dash_query q = {.from_ms = T0,
        .to_ms = T0 + 86400000LL,
        .environment = "production",
        .max_endpoints = 10};
    uint64_t removed = 0;
    ingest(st, 0, 2000);
    check_exact(st, 2000);
    exec_file("CREATE TRIGGER full BEFORE INSERT ON rollups BEGIN"
              " SELECT RAISE(ABORT, 'database or disk is full'); END;");
    ingest(st, 2000, 1000);
    ck_assert_int_ne(tlm__store_analytics_sync(st), 0);
    ck_assert_int_eq(tlm__store_dashboard(st, &q, r), 0);
    ck_assert_msg(r->events == 2000, "events %.0f", r->events);
    tlm__dash_result_free(r);
    ck_assert_int_ne(tlm__store_purge(st, T0 + 86400000LL, &removed), 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 3000);
    ck_assert_int_eq(scalar("SELECT seq FROM analytics_cursor"), 2000);
    exec_file("DROP TRIGGER full;");
    ck_assert_int_eq(tlm__store_analytics_sync(st), 0);
    check_exact(st, 3000);
    free(r);
    tlm__store_close(st);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_applier");
    TCase *tc = tcase_create("applier");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, applier_many_batches_exact);
    tcase_add_test(tc, applier_sigkill_then_restart_exact);
    tcase_add_test(tc, applier_rebuilds_from_cursor);
    tcase_add_test(tc, applier_two_handles_one_file);
    tcase_add_test(tc, applier_purge_applies_first);
    tcase_add_test(tc, applier_counts_only_committed);
    tcase_add_test(tc, applier_write_failure_loses_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
