/* PostgreSQL backend, common workflows: as store_sqlite_workflow.c, in the
 * batch's transaction. Users are walked, and their user_paths rows locked,
 * in (environment, user) order and the day counts upserted in key order,
 * so two servers writing overlapping batches never deadlock. */
#include "store_pg.h"
#include "store_pg_arr.h"

#include "workflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_SEQUENCES 10

static int
oom(char *err, size_t n)
{
    snprintf(err, n, "out of memory");
    return -1;
}

static bool
same_user(const struct tlm__store_event *a, const struct tlm__store_event *b)
{
    return strcmp(a->ev.environment, b->ev.environment) == 0
        && strcmp(a->ev.user_id, b->ev.user_id) == 0;
}

/* One user's events in the sorted array and the state they start from. */
struct run {
    size_t first, n;
    struct tlm__workflow_state st;
    char *prev, *last; /* the loaded state's strings (owned) */
};

/* Loads (and locks, in user order) the states of runs r[0..n), all of one
 * environment, in one statement. */
static int
load_states(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_event **ev, struct run *r, size_t n, char *err,
    size_t en)
{
    struct arr users = {0};
    struct tlm__pg_params p = {0};
    int rc = -1;
    arr_begin(&users, TLM_PG_TEXT, n);
    for (size_t i = 0; i < n; i++)
        arr_str(&users, ev[r[i].first]->ev.user_id);
    if (users.failed) {
        free(users.p);
        return oom(err, en);
    }
    tlm__pg_cstr(&p, ev[r[0].first]->ev.environment);
    array_param(&p, &users, TLM_PG_TEXT_ARRAY);
    PGresult *res = tlm__pg_rows(st, c,
        "SELECT user_id, prev, last, last_ts_ms FROM user_paths"
        " WHERE environment = $1 AND user_id = ANY($2)"
        " ORDER BY user_id COLLATE \"C\" FOR UPDATE",
        &p, err, en);
    free(users.p);
    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *user = PQgetvalue(res, i, 0);
        size_t lo = 0, hi = n;
        while (lo < hi) { /* the runs are sorted by user (byte order) */
            size_t mid = (lo + hi) / 2;
            int cmp = strcmp(user, ev[r[mid].first]->ev.user_id);
            if (cmp == 0) {
                lo = mid;
                break;
            }
            if (cmp < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
        if (lo >= n || strcmp(user, ev[r[lo].first]->ev.user_id) != 0)
            continue;
        r[lo].prev = tlm__pg_dup(res, i, 1);
        r[lo].last = tlm__pg_dup(res, i, 2);
        r[lo].st.prev = r[lo].prev;
        r[lo].st.last = r[lo].last;
        r[lo].st.last_ts_ms = tlm__pg_int(res, i, 3);
    }
    rc = 0;
    PQclear(res);
    return rc;
}

/* Writes every run's state back in one statement (rows in key order). */
static int
store_states(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_event **ev, const struct run *r, size_t n,
    char *err, size_t en)
{
    struct arr a[5] = {{0}};
    static const Oid elem[5]
        = {TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_INT8};
    static const Oid type[5] = {TLM_PG_TEXT_ARRAY, TLM_PG_TEXT_ARRAY,
        TLM_PG_TEXT_ARRAY, TLM_PG_TEXT_ARRAY, TLM_PG_INT8_ARRAY};
    struct tlm__pg_params p = {0};
    bool failed = false;
    int rc = -1;
    for (int k = 0; k < 5; k++)
        arr_begin(&a[k], elem[k], n);
    for (size_t i = 0; i < n; i++) {
        arr_str(&a[0], ev[r[i].first]->ev.environment);
        arr_str(&a[1], ev[r[i].first]->ev.user_id);
        arr_str(&a[2], r[i].st.prev);
        arr_str(&a[3], r[i].st.last);
        arr_int(&a[4], (uint64_t)r[i].st.last_ts_ms, 8);
    }
    for (int k = 0; k < 5; k++) {
        failed = failed || a[k].failed;
        array_param(&p, &a[k], type[k]);
    }
    if (failed)
        rc = oom(err, en);
    else if (tlm__pg_changes(st, c,
                 "INSERT INTO user_paths(environment, user_id, prev, last,"
                 " last_ts_ms) SELECT * FROM unnest($1, $2, $3, $4, $5)"
                 " ON CONFLICT (environment, user_id) DO UPDATE SET"
                 " prev = excluded.prev, last = excluded.last,"
                 " last_ts_ms = excluded.last_ts_ms",
                 &p, err, en)
        >= 0)
        rc = 0;
    for (int k = 0; k < 5; k++)
        free(a[k].p);
    return rc;
}

/* Adds the day counts (unique keys, in key order) in one statement. */
static int
store_counts(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__workflow_count *w, size_t n, char *err, size_t en)
{
    struct arr a[7] = {{0}};
    static const Oid elem[7] = {TLM_PG_INT8, TLM_PG_TEXT, TLM_PG_INT4,
        TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_FLOAT8};
    static const Oid type[7] = {TLM_PG_INT8_ARRAY, TLM_PG_TEXT_ARRAY,
        TLM_PG_INT4_ARRAY, TLM_PG_TEXT_ARRAY, TLM_PG_TEXT_ARRAY,
        TLM_PG_TEXT_ARRAY, TLM_PG_FLOAT8_ARRAY};
    struct tlm__pg_params p = {0};
    bool failed = false;
    int rc = -1;
    for (int k = 0; k < 7; k++)
        arr_begin(&a[k], elem[k], n);
    for (size_t i = 0; i < n; i++) {
        arr_int(&a[0], (uint64_t)w[i].day_ms, 8);
        arr_str(&a[1], w[i].environment);
        arr_int(&a[2], (uint64_t)(uint32_t)w[i].kind, 4);
        arr_str(&a[3], w[i].a);
        arr_str(&a[4], w[i].b);
        arr_str(&a[5], w[i].c);
        arr_double(&a[6], w[i].count);
    }
    for (int k = 0; k < 7; k++) {
        failed = failed || a[k].failed;
        array_param(&p, &a[k], type[k]);
    }
    if (failed)
        rc = oom(err, en);
    else if (tlm__pg_changes(st, c,
                 "INSERT INTO workflow_counts(day_ms, environment, kind, a,"
                 " b, c, count) SELECT * FROM unnest($1, $2, $3, $4, $5, $6,"
                 " $7) ON CONFLICT (day_ms, environment, kind, a, b, c) DO"
                 " UPDATE SET count = workflow_counts.count + excluded.count",
                 &p, err, en)
        >= 0)
        rc = 0;
    for (int k = 0; k < 7; k++)
        free(a[k].p);
    return rc;
}

int
tlm__pg_workflow_apply(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, char *err, size_t n)
{
    const struct tlm__store_event **ev = NULL;
    struct tlm__workflow_counts counts = {0};
    struct run *runs = NULL;
    size_t m, n_runs = 0;
    int rc = -1;

    if (b->n_events == 0)
        return 0;
    ev = calloc(b->n_events, sizeof(*ev));
    if (ev == NULL)
        return oom(err, n);
    m = tlm__workflow_events(b, ev);
    if (m == 0) {
        free(ev);
        return 0;
    }
    counts.cap = 3 * m;
    counts.items = calloc(counts.cap, sizeof(*counts.items));
    runs = calloc(m, sizeof(*runs));
    if (counts.items == NULL || runs == NULL) {
        rc = oom(err, n);
        goto out;
    }
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && same_user(ev[i], ev[j]))
            j++;
        runs[n_runs].first = i;
        runs[n_runs++].n = j - i;
        i = j;
    }
    for (size_t k = 0, e; k < n_runs; k = e) {
        for (e = k + 1; e < n_runs
             && strcmp(ev[runs[k].first]->ev.environment,
                    ev[runs[e].first]->ev.environment)
                 == 0;
             e++)
            ;
        if (load_states(st, c, ev, runs + k, e - k, err, n) != 0)
            goto out;
    }
    for (size_t i = 0; i < n_runs; i++)
        tlm__workflow_walk(&runs[i].st, ev + runs[i].first, runs[i].n, &counts);
    if (store_states(st, c, ev, runs, n_runs, err, n) != 0)
        goto out;
    tlm__workflow_counts_merge(&counts);
    if (counts.n > 0
        && store_counts(st, c, counts.items, counts.n, err, n) != 0)
        goto out;
    rc = 0;
out:
    for (size_t i = 0; runs != NULL && i < n_runs; i++) {
        free(runs[i].prev);
        free(runs[i].last);
    }
    free(runs);
    free(counts.items);
    free(ev);
    return rc;
}

struct wf_arg {
    int64_t from_ms, to_ms;
    const char *environment;
    struct tlm__workflow_result *out;
};

static int
read_sequences(PGresult *r, struct tlm__workflow_seq **out, size_t *n,
    char *err, size_t en)
{
    *out = calloc(TOP_SEQUENCES, sizeof(**out));
    if (*out == NULL)
        return oom(err, en);
    for (int i = 0; i < PQntuples(r) && *n < TOP_SEQUENCES; i++) {
        struct tlm__workflow_seq *q = &(*out)[(*n)++];
        for (int k = 0; k < 3; k++)
            q->step[k] = tlm__pg_dup(r, i, k);
        q->count = strtod(PQgetvalue(r, i, 3), NULL);
        q->probability = strtod(PQgetvalue(r, i, 4), NULL);
    }
    return 0;
}

#define DAYS                                                                   \
    " day_ms >= $1 - 86400000 + 1 AND day_ms < $2"                             \
    " AND ($3::text IS NULL OR environment = $3)"

static int
op_workflows(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct wf_arg *a = arg;
    struct tlm__pg_params p = {0};
    PGresult *r;
    int rc = -1;
    (void)retry;
    tlm__pg_int8(&p, a->from_ms);
    tlm__pg_int8(&p, a->to_ms);
    tlm__pg_cstr(&p, a->environment);
    r = tlm__pg_rows(st, c,
        "SELECT COALESCE(SUM(count), 0) FROM workflow_counts"
        " WHERE kind = 1 AND" DAYS,
        &p, err, n);
    if (r == NULL)
        return -1;
    a->out->sessions = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    r = tlm__pg_rows(st, c,
        "WITH t AS (SELECT a, b, SUM(count) AS n FROM workflow_counts"
        " WHERE kind = 2 AND" DAYS " GROUP BY a, b)"
        " SELECT a, b, '', n, n / (SELECT SUM(n) FROM t t2 WHERE t2.a = t.a)"
        " FROM t ORDER BY n DESC, a COLLATE \"C\", b COLLATE \"C\" LIMIT 10",
        &p, err, n);
    if (r == NULL)
        goto out;
    rc = read_sequences(r, &a->out->pairs, &a->out->n_pairs, err, n);
    PQclear(r);
    if (rc != 0)
        goto out;
    rc = -1;
    r = tlm__pg_rows(st, c,
        "SELECT a, b, c, SUM(count) AS n, 0 FROM workflow_counts"
        " WHERE kind = 3 AND" DAYS " GROUP BY a, b, c ORDER BY n DESC,"
        " a COLLATE \"C\", b COLLATE \"C\", c COLLATE \"C\" LIMIT 10",
        &p, err, n);
    if (r == NULL)
        goto out;
    rc = read_sequences(r, &a->out->triples, &a->out->n_triples, err, n);
    PQclear(r);
out:
    if (rc != 0)
        tlm__workflow_result_free(a->out);
    return rc;
}

int
tlm__pg_workflows(struct tlm__store *base, int64_t from_ms, int64_t to_ms,
    const char *environment, struct tlm__workflow_result *out)
{
    struct wf_arg a = {from_ms, to_ms, environment, out};
    memset(out, 0, sizeof(*out));
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "workflows", op_workflows, &a);
}
