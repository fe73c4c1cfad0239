/* Common workflows, backend-independent part: a batch's request events
 * grouped by (environment, user) in time order, and each user's walk
 * through them cut into sessions by 30 minutes of silence, producing the
 * counts a store adds up (sessions, endpoint pairs, endpoint triples per
 * UTC day). The per-user state between batches (last two endpoints, last
 * time) comes from and goes back to the store. */
#include "workflow.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

static int
by_user_then_time(const void *a, const void *b)
{
    const struct tlm__store_event *x
        = *(const struct tlm__store_event *const *)a;
    const struct tlm__store_event *y
        = *(const struct tlm__store_event *const *)b;
    int c = strcmp(x->ev.environment, y->ev.environment);
    if (c == 0)
        c = strcmp(x->ev.user_id, y->ev.user_id);
    if (c == 0)
        c = x->ev.ts_ms < y->ev.ts_ms ? -1 : x->ev.ts_ms > y->ev.ts_ms;
    return c;
}

size_t
tlm__workflow_events(
    const struct tlm__store_batch *b, const struct tlm__store_event **out)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_events; i++) {
        const struct tlm__store_event *se = &b->events[i];
        if (se->duplicate || se->ev.type != TLM_EVENT_REQUEST
            || se->ev.user_id == NULL || se->ev.endpoint == NULL)
            continue;
        out[n++] = se;
    }
    qsort(out, n, sizeof(*out), by_user_then_time);
    return n;
}

/* Appends one count; equal keys are merged once the batch is walked
 * (tlm__workflow_counts_merge): a search here made a batch quadratic. */
static void
count(struct tlm__workflow_counts *c, int64_t ts, int kind, const char *a,
    const char *b, const char *x)
{
    struct tlm__workflow_count *w;
    int64_t day = ts - (ts % DAY_MS + DAY_MS) % DAY_MS;
    if (c->n == c->cap)
        return; /* sized for the batch: cannot happen */
    w = &c->items[c->n++];
    w->kind = kind;
    w->day_ms = day;
    w->environment = c->environment;
    w->a = a;
    w->b = b;
    w->c = x;
    w->count = 1;
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

void
tlm__workflow_counts_merge(struct tlm__workflow_counts *c)
{
    size_t out = 0;
    if (c->n < 2)
        return;
    qsort(c->items, c->n, sizeof(*c->items), by_key);
    for (size_t i = 1; i < c->n; i++) {
        if (by_key(&c->items[out], &c->items[i]) == 0)
            c->items[out].count += c->items[i].count;
        else
            c->items[++out] = c->items[i];
    }
    c->n = out + 1;
}

void
tlm__workflow_walk(struct tlm__workflow_state *st,
    const struct tlm__store_event *const *ev, size_t n,
    struct tlm__workflow_counts *out)
{
    out->environment = ev[0]->ev.environment;
    for (size_t i = 0; i < n; i++) {
        const struct tlm__event *e = &ev[i]->ev;
        if (e->ts_ms < st->last_ts_ms)
            continue; /* older than what the user did since: ignored */
        if (st->last == NULL
            || e->ts_ms - st->last_ts_ms > TLM_SESSION_GAP_MS) {
            count(out, e->ts_ms, 1, "", "", "");
            st->prev = NULL;
            st->last = NULL;
        }
        if (st->last != NULL)
            count(out, e->ts_ms, 2, st->last, e->endpoint, "");
        if (st->prev != NULL && st->last != NULL)
            count(out, e->ts_ms, 3, st->prev, st->last, e->endpoint);
        st->prev = st->last;
        st->last = e->endpoint;
        st->last_ts_ms = e->ts_ms;
    }
}

static void
free_seqs(struct tlm__workflow_seq *s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        for (int k = 0; k < 3; k++)
            free(s[i].step[k]);
    }
    free(s);
}

void
tlm__workflow_result_free(struct tlm__workflow_result *r)
{
    if (r == NULL)
        return;
    free_seqs(r->pairs, r->n_pairs);
    free_seqs(r->triples, r->n_triples);
    memset(r, 0, sizeof(*r));
}
