/* SQLite backend, common workflows: each batch's request events walk
 * their users' paths (workflow.c) from the user_paths table, inside the
 * batch's write transaction, and add to the per-day workflow_counts; the
 * dashboard reads the counts (never raw events). */
#include "store_sqlite.h"

#include "workflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_SEQUENCES 10

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

static char *
column_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t != NULL ? strdup((const char *)t) : NULL;
}

static bool
same_user(const struct tlm__store_event *a, const struct tlm__store_event *b)
{
    return strcmp(a->ev.environment, b->ev.environment) == 0
        && strcmp(a->ev.user_id, b->ev.user_id) == 0;
}

/* Users read and written per statement: one statement per CHUNK users
 * instead of two per user keeps a batch of 500 new users near the cost
 * of its event inserts. */
#define CHUNK 64

/* One user's events in the sorted array and the state they start from. */
struct run {
    size_t first, n;
    struct tlm__workflow_state st;
    char *prev, *last; /* the loaded state's strings (owned) */
};

static int
cmp_user(const char *env, const char *user, const struct tlm__store_event *e)
{
    int c = strcmp(env, e->ev.environment);
    return c != 0 ? c : strcmp(user, e->ev.user_id);
}

/* "PREFIX(?,?),(?,?)...SUFFIX" with n groups of `group` parameters. */
static char *
chunk_sql(const char *prefix, const char *group, size_t n, const char *suffix)
{
    size_t len = strlen(prefix) + n * (strlen(group) + 1) + strlen(suffix) + 1;
    char *sql = malloc(len);
    if (sql == NULL)
        return NULL;
    strcpy(sql, prefix);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(sql, ",");
        strcat(sql, group);
    }
    strcat(sql, suffix);
    return sql;
}

/* The statement for n groups: prepared once per connection for a full
 * chunk (most of a batch), for this call otherwise. Give it back with
 * chunk_done. */
static sqlite3_stmt *
chunk_stmt(sqlite3 *db, const char *prefix, const char *group, size_t n,
    const char *suffix)
{
    char *sql = chunk_sql(prefix, group, n, suffix);
    sqlite3_stmt *s = NULL;
    if (sql == NULL)
        return NULL;
    if (n == CHUNK)
        s = tlm__sqlite_cached(db, sql);
    else if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        s = NULL;
    }
    free(sql);
    return s;
}

static void
chunk_done(sqlite3_stmt *s, size_t n)
{
    if (s != NULL && n == CHUNK) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    } else {
        sqlite3_finalize(s);
    }
}

/* Loads the states of runs r[0..n) (one environment, sorted by user):
 * one lookup of the primary key per user. */
static int
load_states(
    sqlite3 *db, const struct tlm__store_event **ev, struct run *r, size_t n)
{
    sqlite3_stmt *s = chunk_stmt(db,
        "SELECT environment, user_id, prev, last,"
        " last_ts_ms FROM user_paths WHERE"
        " environment = ?1 AND user_id IN (",
        "?", n, ")");
    int rc = -1, step;
    if (s == NULL)
        goto out;
    sqlite3_bind_text(s, 1, ev[r[0].first]->ev.environment, -1, SQLITE_STATIC);
    for (size_t i = 0; i < n; i++)
        sqlite3_bind_text(
            s, (int)i + 2, ev[r[i].first]->ev.user_id, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *env = (const char *)sqlite3_column_text(s, 0);
        const char *user = (const char *)sqlite3_column_text(s, 1);
        size_t lo = 0, hi = n;
        while (lo < hi) { /* binary search: the runs are sorted */
            size_t mid = (lo + hi) / 2;
            int c = cmp_user(env, user, ev[r[mid].first]);
            if (c == 0) {
                lo = mid;
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
        if (lo >= n || cmp_user(env, user, ev[r[lo].first]) != 0)
            continue;
        struct run *x = &r[lo];
        x->prev = column_dup(s, 2);
        x->last = column_dup(s, 3);
        x->st.prev = x->prev;
        x->st.last = x->last;
        x->st.last_ts_ms = sqlite3_column_int64(s, 4);
    }
    rc = step == SQLITE_DONE ? 0 : -1;
out:
    chunk_done(s, n);
    return rc;
}

static void
bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static int
store_states(sqlite3 *db, const struct tlm__store_event **ev,
    const struct run *r, size_t n)
{
    sqlite3_stmt *s = chunk_stmt(db,
        "INSERT INTO user_paths(environment, user_id, prev,"
        " last, last_ts_ms) VALUES ",
        "(?,?,?,?,?)", n,
        " ON CONFLICT(environment, user_id) DO UPDATE SET"
        " prev = excluded.prev, last = excluded.last,"
        " last_ts_ms = excluded.last_ts_ms");
    int rc = -1;
    if (s == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct tlm__event *e = &ev[r[i].first]->ev;
        int k = (int)(5 * i);
        sqlite3_bind_text(s, k + 1, e->environment, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, k + 2, e->user_id, -1, SQLITE_STATIC);
        bind_opt(s, k + 3, r[i].st.prev);
        bind_opt(s, k + 4, r[i].st.last);
        sqlite3_bind_int64(s, k + 5, r[i].st.last_ts_ms);
    }
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
out:
    chunk_done(s, n);
    return rc;
}

static int
store_counts(sqlite3 *db, const struct tlm__workflow_count *w, size_t n)
{
    sqlite3_stmt *s = chunk_stmt(db,
        "INSERT INTO workflow_counts(day_ms, environment,"
        " kind, a, b, c, count) VALUES ",
        "(?,?,?,?,?,?,?)", n,
        " ON CONFLICT(day_ms, environment, kind, a, b, c) DO UPDATE SET"
        " count = count + excluded.count");
    int rc = -1;
    if (s == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int k = (int)(7 * i);
        sqlite3_bind_int64(s, k + 1, w[i].day_ms);
        sqlite3_bind_text(s, k + 2, w[i].environment, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, k + 3, w[i].kind);
        sqlite3_bind_text(s, k + 4, w[i].a, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, k + 5, w[i].b, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, k + 6, w[i].c, -1, SQLITE_STATIC);
        sqlite3_bind_double(s, k + 7, w[i].count);
    }
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
out:
    chunk_done(s, n);
    return rc;
}

int
tlm__sqlite_workflow_apply(sqlite3 *db, const struct tlm__store_batch *b)
{
    const struct tlm__store_event **ev = NULL;
    struct tlm__workflow_counts counts = {0};
    struct run *runs = NULL;
    size_t n, n_runs = 0;
    int rc = -1;

    if (b->n_events == 0)
        return 0;
    ev = calloc(b->n_events, sizeof(*ev));
    if (ev == NULL)
        return -1;
    n = tlm__workflow_events(b, ev);
    if (n == 0) {
        free(ev);
        return 0;
    }
    counts.cap = 3 * n;
    counts.items = calloc(counts.cap, sizeof(*counts.items));
    runs = calloc(n, sizeof(*runs));
    if (counts.items == NULL || runs == NULL)
        goto out;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_user(ev[i], ev[j]))
            j++;
        runs[n_runs].first = i;
        runs[n_runs++].n = j - i;
        i = j;
    }
    for (size_t k = 0, c; k < n_runs; k += c) {
        /* A chunk: up to CHUNK users of one environment. */
        for (c = 1; c < CHUNK && k + c < n_runs
             && strcmp(ev[runs[k].first]->ev.environment,
                    ev[runs[k + c].first]->ev.environment)
                 == 0;
             c++)
            ;
        if (load_states(db, ev, runs + k, c) != 0)
            goto out;
        for (size_t i = k; i < k + c; i++)
            tlm__workflow_walk(
                &runs[i].st, ev + runs[i].first, runs[i].n, &counts);
        if (store_states(db, ev, runs + k, c) != 0)
            goto out;
    }
    tlm__workflow_counts_merge(&counts);
    for (size_t k = 0; k < counts.n; k += CHUNK) {
        size_t c = counts.n - k < CHUNK ? counts.n - k : CHUNK;
        if (store_counts(db, counts.items + k, c) != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "telemetry-server: sqlite workflows failed: %s\n",
            sqlite3_errmsg(db));
    for (size_t i = 0; runs != NULL && i < n_runs; i++) {
        free(runs[i].prev);
        free(runs[i].last);
    }
    free(runs);
    free(counts.items);
    free(ev);
    return rc;
}

static int
read_sequences(sqlite3_stmt *s, struct tlm__workflow_seq **out, size_t *n)
{
    int step;
    *out = calloc(TOP_SEQUENCES, sizeof(**out));
    if (*out == NULL)
        return -1;
    while ((step = sqlite3_step(s)) == SQLITE_ROW && *n < TOP_SEQUENCES) {
        struct tlm__workflow_seq *q = &(*out)[*n];
        for (int i = 0; i < 3; i++)
            q->step[i] = column_dup(s, i);
        q->count = sqlite3_column_double(s, 3);
        q->probability = sqlite3_column_double(s, 4);
        (*n)++;
    }
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : -1;
}

int
tlm__sqlite_workflows(struct tlm__store *base, int64_t from_ms, int64_t to_ms,
    const char *environment, struct tlm__workflow_result *out)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s = NULL, *p2 = NULL, *p3 = NULL;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&st->rlock);
    sqlite3_exec(st->rdb, "BEGIN", NULL, NULL, NULL);
    /* Whole days overlapping the window: counts are kept per day. */
#define DAYS                                                                   \
    " day_ms >= ?1 - 86400000 + 1 AND day_ms < ?2"                             \
    " AND (?3 IS NULL OR environment = ?3)"
    s = prep(st->rdb,
        "SELECT COALESCE(SUM(count), 0) FROM workflow_counts WHERE kind = 1"
        " AND" DAYS);
    /* A transition's probability: its share of the moves out of its
     * first endpoint. */
    p2 = prep(st->rdb,
        "WITH t AS (SELECT a, b, SUM(count) AS n FROM workflow_counts"
        " WHERE kind = 2 AND" DAYS " GROUP BY a, b)"
        " SELECT a, b, '', n, n / (SELECT SUM(n) FROM t t2 WHERE t2.a = t.a)"
        " FROM t ORDER BY n DESC, a, b LIMIT 10");
    p3 = prep(st->rdb,
        "SELECT a, b, c, SUM(count) AS n, 0 FROM workflow_counts"
        " WHERE kind = 3 AND" DAYS " GROUP BY a, b, c"
        " ORDER BY n DESC, a, b, c LIMIT 10");
#undef DAYS
    if (s == NULL || p2 == NULL || p3 == NULL)
        goto out;
    sqlite3_stmt *all[] = {s, p2, p3};
    for (int i = 0; i < 3; i++) {
        sqlite3_bind_int64(all[i], 1, from_ms);
        sqlite3_bind_int64(all[i], 2, to_ms);
        if (environment != NULL)
            sqlite3_bind_text(all[i], 3, environment, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(s) != SQLITE_ROW)
        goto out;
    out->sessions = sqlite3_column_double(s, 0);
    if (read_sequences(p2, &out->pairs, &out->n_pairs) != 0
        || read_sequences(p3, &out->triples, &out->n_triples) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "telemetry-server: sqlite workflows failed: %s\n",
            sqlite3_errmsg(st->rdb));
        tlm__workflow_result_free(out);
    }
    sqlite3_finalize(s);
    sqlite3_finalize(p2);
    sqlite3_finalize(p3);
    sqlite3_exec(st->rdb, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}
