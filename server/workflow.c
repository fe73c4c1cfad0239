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

static void
count(struct tlm__workflow_counts *c, int64_t ts, int kind, const char *a,
    const char *b, const char *x)
{
    struct tlm__workflow_count *w;
    int64_t day = ts - (ts % DAY_MS + DAY_MS) % DAY_MS;
    for (size_t i = 0; i < c->n; i++) {
        w = &c->items[i];
        if (w->kind == kind && w->day_ms == day
            && strcmp(w->environment, c->environment) == 0
            && strcmp(w->a, a) == 0 && strcmp(w->b, b) == 0
            && strcmp(w->c, x) == 0) {
            w->count++;
            return;
        }
    }
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
