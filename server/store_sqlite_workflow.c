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

int
tlm__sqlite_workflow_apply(sqlite3 *db, const struct tlm__store_batch *b)
{
    const struct tlm__store_event **ev = NULL;
    struct tlm__workflow_counts counts = {0};
    sqlite3_stmt *get = NULL, *put = NULL, *add = NULL;
    char **owned = NULL; /* the loaded state strings, freed at the end */
    size_t n_owned = 0, n;
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
    owned = calloc(2 * n, sizeof(*owned));
    get = prep(db,
        "SELECT prev, last, last_ts_ms FROM user_paths"
        " WHERE environment = ?1 AND user_id = ?2");
    put = prep(db,
        "INSERT INTO user_paths(environment, user_id, prev, last, last_ts_ms)"
        " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(environment, user_id) DO"
        " UPDATE SET prev = excluded.prev, last = excluded.last,"
        " last_ts_ms = excluded.last_ts_ms");
    add = prep(db,
        "INSERT INTO workflow_counts(day_ms, environment, kind, a, b, c,"
        " count) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT(day_ms, environment, kind, a, b, c) DO UPDATE SET"
        " count = count + excluded.count");
    if (counts.items == NULL || owned == NULL || get == NULL || put == NULL
        || add == NULL)
        goto out;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        struct tlm__workflow_state st = {0};
        while (j < n && same_user(ev[i], ev[j]))
            j++;
        sqlite3_bind_text(get, 1, ev[i]->ev.environment, -1, SQLITE_STATIC);
        sqlite3_bind_text(get, 2, ev[i]->ev.user_id, -1, SQLITE_STATIC);
        int step = sqlite3_step(get);
        if (step == SQLITE_ROW) {
            owned[n_owned] = column_dup(get, 0);
            st.prev = owned[n_owned++];
            owned[n_owned] = column_dup(get, 1);
            st.last = owned[n_owned++];
            st.last_ts_ms = sqlite3_column_int64(get, 2);
        }
        sqlite3_reset(get);
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            goto out;
        tlm__workflow_walk(&st, ev + i, j - i, &counts);
        sqlite3_bind_text(put, 1, ev[i]->ev.environment, -1, SQLITE_STATIC);
        sqlite3_bind_text(put, 2, ev[i]->ev.user_id, -1, SQLITE_STATIC);
        if (st.prev != NULL)
            sqlite3_bind_text(put, 3, st.prev, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(put, 3);
        if (st.last != NULL)
            sqlite3_bind_text(put, 4, st.last, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(put, 4);
        sqlite3_bind_int64(put, 5, st.last_ts_ms);
        step = sqlite3_step(put);
        sqlite3_reset(put);
        sqlite3_clear_bindings(put);
        if (step != SQLITE_DONE)
            goto out;
        i = j;
    }
    for (size_t k = 0; k < counts.n; k++) {
        const struct tlm__workflow_count *w = &counts.items[k];
        sqlite3_bind_int64(add, 1, w->day_ms);
        sqlite3_bind_text(add, 2, w->environment, -1, SQLITE_STATIC);
        sqlite3_bind_int(add, 3, w->kind);
        sqlite3_bind_text(add, 4, w->a, -1, SQLITE_STATIC);
        sqlite3_bind_text(add, 5, w->b, -1, SQLITE_STATIC);
        sqlite3_bind_text(add, 6, w->c, -1, SQLITE_STATIC);
        sqlite3_bind_double(add, 7, w->count);
        int step = sqlite3_step(add);
        sqlite3_reset(add);
        if (step != SQLITE_DONE)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "telemetry-server: sqlite workflows failed: %s\n",
            sqlite3_errmsg(db));
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    sqlite3_finalize(add);
    for (size_t k = 0; k < n_owned; k++)
        free(owned[k]);
    free(owned);
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
