/* SQLite backend, common workflows: the request events of each window the
 * analytics applier folds (store_sqlite_applier.c, many batches at once)
 * walk their users' paths (workflow.c) from the states in user_paths, read
 * on the applier's own connection; the new states and the per-day
 * workflow_counts are then written in the applier's write transaction.
 * The dashboard reads the counts (never raw events). */
#include "store_sqlite.h"

#include "str_cmp.h"
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
    return tlm__str_cmp(a->ev.environment, b->ev.environment) == 0
        && tlm__str_cmp(a->ev.user_id, b->ev.user_id) == 0;
}

/* Users read and written per statement: one statement per CHUNK users
 * instead of two per user keeps a batch of 500 new users near the cost
 * of its event inserts. */
#define CHUNK 64

/* One user's events in the sorted array and the state they start from. */
struct run {
    size_t first, n;
    struct tlm__workflow_state st; /* strings interned */
};

/* The order of tlm__workflow_events on interned strings (by address). */
static int
cmp_user(const char *env, const char *user, const struct tlm__store_event *e)
{
    int c = tlm__str_order(env, e->ev.environment, true);
    return c != 0 ? c : tlm__str_order(user, e->ev.user_id, true);
}

/* A loaded string, interned like the events' (NULL for SQL NULL). */
static const char *
loaded(sqlite3_stmt *s, int i, const struct tlm__sqlite_interner *in, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    const char *r;
    if (t == NULL)
        return NULL;
    r = in->intern(in->ctx, t, (size_t)sqlite3_column_bytes(s, i));
    if (r == NULL)
        *oom = true;
    return r;
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
 * one lookup of the primary key per user, the strings interned. */
static int
load_states(sqlite3 *db, const struct tlm__store_event **ev, struct run *r,
    size_t n, const struct tlm__sqlite_interner *in)
{
    bool oom = false;
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
    while (!oom && (step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *env = loaded(s, 0, in, &oom);
        const char *user = loaded(s, 1, in, &oom);
        size_t lo = 0, hi = n;
        if (env == NULL || user == NULL)
            continue;
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
        x->st.prev = loaded(s, 2, in, &oom);
        x->st.last = loaded(s, 3, in, &oom);
        x->st.last_ts_ms = sqlite3_column_int64(s, 4);
    }
    rc = !oom && step == SQLITE_DONE ? 0 : -1;
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

struct tlm__sqlite_wf_plan {
    const struct tlm__store_event **ev; /* sorted by user, then time */
    struct run *runs; /* one per user, its state after the walk */
    size_t n_runs;
    struct tlm__workflow_counts counts; /* merged */
};

void
tlm__sqlite_workflow_plan_free(struct tlm__sqlite_wf_plan *p)
{
    if (p == NULL)
        return;
    free(p->runs);
    free(p->counts.items);
    free(p->ev);
    free(p);
}

int
tlm__sqlite_workflow_plan(sqlite3 *db, const struct tlm__store_batch *b,
    const struct tlm__sqlite_interner *in, struct tlm__sqlite_wf_plan **out)
{
    struct tlm__sqlite_wf_plan *p = calloc(1, sizeof(*p));
    size_t n;
    int rc = -1;

    *out = NULL;
    if (p == NULL || !b->interned || in == NULL) {
        free(p);
        return -1;
    }
    if (b->n_events == 0) {
        *out = p;
        return 0;
    }
    p->ev = calloc(b->n_events, sizeof(*p->ev));
    if (p->ev == NULL)
        goto out;
    n = tlm__workflow_events(b, p->ev);
    p->counts.cap = 3 * n;
    p->counts.interned = true;
    p->counts.items = calloc(p->counts.cap + 1, sizeof(*p->counts.items));
    p->runs = calloc(n + 1, sizeof(*p->runs));
    if (p->counts.items == NULL || p->runs == NULL)
        goto out;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_user(p->ev[i], p->ev[j]))
            j++;
        p->runs[p->n_runs].first = i;
        p->runs[p->n_runs++].n = j - i;
        i = j;
    }
    for (size_t k = 0, c; k < p->n_runs; k += c) {
        /* A chunk: up to CHUNK users of one environment. */
        for (c = 1; c < CHUNK && k + c < p->n_runs
             && tlm__str_cmp(p->ev[p->runs[k].first]->ev.environment,
                    p->ev[p->runs[k + c].first]->ev.environment)
                 == 0;
             c++)
            ;
        if (load_states(db, p->ev, p->runs + k, c, in) != 0)
            goto out;
        for (size_t i = k; i < k + c; i++)
            tlm__workflow_walk(&p->runs[i].st, p->ev + p->runs[i].first,
                p->runs[i].n, &p->counts);
    }
    tlm__workflow_counts_merge(&p->counts);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "telemetry-server: sqlite workflows failed: %s\n",
            sqlite3_errmsg(db));
        tlm__sqlite_workflow_plan_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int
tlm__sqlite_workflow_write(sqlite3 *db, const struct tlm__sqlite_wf_plan *p)
{
    for (size_t k = 0; k < p->n_runs; k += CHUNK) {
        size_t c = p->n_runs - k < CHUNK ? p->n_runs - k : CHUNK;
        if (store_states(db, p->ev, p->runs + k, c) != 0)
            goto fail;
    }
    for (size_t k = 0; k < p->counts.n; k += CHUNK) {
        size_t c = p->counts.n - k < CHUNK ? p->counts.n - k : CHUNK;
        if (store_counts(db, p->counts.items + k, c) != 0)
            goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "telemetry-server: sqlite workflows failed: %s\n",
        sqlite3_errmsg(db));
    return -1;
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
    /* On a failure (logged: a full disk) the figures are those applied. */
    tlm__sqlite_analytics_sync(st);
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
