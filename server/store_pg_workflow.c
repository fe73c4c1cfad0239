/* PostgreSQL backend, common workflows: as store_sqlite_workflow.c, in the
 * batch's transaction. Users are walked, and their user_paths rows locked,
 * in (environment, user) order and the day counts upserted in key order,
 * so two servers writing overlapping batches never deadlock. */
#include "store_pg.h"

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

static int
by_key(const void *x, const void *y)
{
    const struct tlm__workflow_count *a = x, *b = y;
    int c;
    if (a->day_ms != b->day_ms)
        return a->day_ms < b->day_ms ? -1 : 1;
    if ((c = strcmp(a->environment, b->environment)) != 0)
        return c;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    if ((c = strcmp(a->a, b->a)) != 0)
        return c;
    if ((c = strcmp(a->b, b->b)) != 0)
        return c;
    return strcmp(a->c, b->c);
}

/* One user's run ev[0..k): load (locked), walk, store. */
static int
walk_user(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_event *const *ev, size_t k,
    struct tlm__workflow_counts *counts, char **owned, size_t *n_owned,
    char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    struct tlm__workflow_state s = {0};
    tlm__pg_cstr(&p, ev[0]->ev.environment);
    tlm__pg_cstr(&p, ev[0]->ev.user_id);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT prev, last, last_ts_ms FROM user_paths"
        " WHERE environment = $1 AND user_id = $2 FOR UPDATE",
        &p, err, n);
    if (r == NULL)
        return -1;
    if (PQntuples(r) > 0) {
        owned[*n_owned] = tlm__pg_dup(r, 0, 0);
        s.prev = owned[(*n_owned)++];
        owned[*n_owned] = tlm__pg_dup(r, 0, 1);
        s.last = owned[(*n_owned)++];
        s.last_ts_ms = tlm__pg_int(r, 0, 2);
    }
    PQclear(r);
    tlm__workflow_walk(&s, ev, k, counts);
    struct tlm__pg_params q = {0};
    tlm__pg_cstr(&q, ev[0]->ev.environment);
    tlm__pg_cstr(&q, ev[0]->ev.user_id);
    tlm__pg_cstr(&q, s.prev);
    tlm__pg_cstr(&q, s.last);
    tlm__pg_int8(&q, s.last_ts_ms);
    return tlm__pg_changes(st, c,
               "INSERT INTO user_paths(environment, user_id, prev, last,"
               " last_ts_ms) VALUES($1, $2, $3, $4, $5)"
               " ON CONFLICT (environment, user_id) DO UPDATE SET"
               " prev = excluded.prev, last = excluded.last,"
               " last_ts_ms = excluded.last_ts_ms",
               &q, err, n)
            < 0
        ? -1
        : 0;
}

int
tlm__pg_workflow_apply(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, char *err, size_t n)
{
    const struct tlm__store_event **ev = NULL;
    struct tlm__workflow_counts counts = {0};
    char **owned = NULL;
    size_t n_owned = 0, m;
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
    owned = calloc(2 * m, sizeof(*owned));
    if (counts.items == NULL || owned == NULL) {
        rc = oom(err, n);
        goto out;
    }
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && same_user(ev[i], ev[j]))
            j++;
        if (walk_user(st, c, ev + i, j - i, &counts, owned, &n_owned, err, n)
            != 0)
            goto out;
        i = j;
    }
    qsort(counts.items, counts.n, sizeof(*counts.items), by_key);
    for (size_t k = 0; k < counts.n; k++) {
        const struct tlm__workflow_count *w = &counts.items[k];
        struct tlm__pg_params p = {0};
        tlm__pg_int8(&p, w->day_ms);
        tlm__pg_cstr(&p, w->environment);
        tlm__pg_int8(&p, w->kind);
        tlm__pg_cstr(&p, w->a);
        tlm__pg_cstr(&p, w->b);
        tlm__pg_cstr(&p, w->c);
        tlm__pg_float8(&p, w->count);
        if (tlm__pg_changes(st, c,
                "INSERT INTO workflow_counts(day_ms, environment, kind, a, b,"
                " c, count) VALUES($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (day_ms, environment, kind, a, b, c) DO UPDATE"
                " SET count = workflow_counts.count + excluded.count",
                &p, err, n)
            < 0)
            goto out;
    }
    rc = 0;
out:
    for (size_t k = 0; k < n_owned; k++)
        free(owned[k]);
    free(owned);
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
