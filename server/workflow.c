/* Common workflows, backend-independent part: a batch's request events
 * grouped by (environment, user) in time order, and each user's walk
 * through them cut into sessions by 30 minutes of silence, producing the
 * counts a store adds up (sessions, endpoint pairs, endpoint triples per
 * UTC day). The per-user state between batches (last two endpoints, last
 * time) comes from and goes back to the store. */
#include "workflow.h"

#include "str_cmp.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

static int
by_user_then_time(const void *a, const void *b, void *interned)
{
    const struct tlm__store_event *x
        = *(const struct tlm__store_event *const *)a;
    const struct tlm__store_event *y
        = *(const struct tlm__store_event *const *)b;
    bool in = *(const bool *)interned;
    int c = tlm__str_order(x->ev.environment, y->ev.environment, in);
    if (c == 0)
        c = tlm__str_order(x->ev.user_id, y->ev.user_id, in);
    if (c == 0)
        c = x->ev.ts_ms < y->ev.ts_ms ? -1 : x->ev.ts_ms > y->ev.ts_ms;
    return c;
}

size_t
tlm__workflow_events(
    const struct tlm__store_batch *b, const struct tlm__store_event **out)
{
    size_t n = 0;
    bool interned = b->interned;
    for (size_t i = 0; i < b->n_events; i++) {
        const struct tlm__store_event *se = &b->events[i];
        if (se->duplicate || se->ev.type != TLM_EVENT_REQUEST
            || se->ev.user_id == NULL || se->ev.endpoint == NULL)
            continue;
        out[n++] = se;
    }
    qsort_r(out, n, sizeof(*out), by_user_then_time, &interned);
    return n;
}

/* The "" of unused key parts: one pointer, so interned keys group. */
static const char empty[] = "";

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
by_key(const void *x, const void *y, void *interned)
{
    const struct tlm__workflow_count *a = x, *b = y;
    bool in = *(const bool *)interned;
    int c;
    if (a->day_ms != b->day_ms)
        return a->day_ms < b->day_ms ? -1 : 1;
    if ((c = tlm__str_order(a->environment, b->environment, in)) != 0)
        return c;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    if ((c = tlm__str_order(a->a, b->a, in)) != 0)
        return c;
    if ((c = tlm__str_order(a->b, b->b, in)) != 0)
        return c;
    return tlm__str_order(a->c, b->c, in);
}

static uint64_t
key_hash(const struct tlm__workflow_count *w)
{
    uint64_t h = tlm__hash_mix(0, (uint64_t)w->day_ms);
    h = tlm__hash_mix(h, (uint64_t)(uintptr_t)w->environment);
    h = tlm__hash_mix(h, (uint64_t)w->kind);
    h = tlm__hash_mix(h, (uint64_t)(uintptr_t)w->a);
    h = tlm__hash_mix(h, (uint64_t)(uintptr_t)w->b);
    return tlm__hash_mix(h, (uint64_t)(uintptr_t)w->c);
}

/* Interned keys: merged through a hash of their pointers in one pass,
 * first occurrences kept in order (no sort: the order of the upserts does
 * not matter to one SQLite writer). -1 when out of memory. */
static int
merge_interned(struct tlm__workflow_counts *c)
{
    size_t n_slots = tlm__hash_slots(c->n), out = 0;
    size_t *slots = calloc(n_slots, sizeof(*slots)); /* index + 1 */
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        const struct tlm__workflow_count *w = &c->items[i];
        size_t j = key_hash(w) & (n_slots - 1);
        for (; slots[j] != 0; j = (j + 1) & (n_slots - 1)) {
            struct tlm__workflow_count *x = &c->items[slots[j] - 1];
            if (x->day_ms == w->day_ms && x->kind == w->kind
                && x->environment == w->environment && x->a == w->a
                && x->b == w->b && x->c == w->c) {
                x->count += w->count;
                break;
            }
        }
        if (slots[j] == 0) {
            c->items[out] = *w;
            slots[j] = ++out;
        }
    }
    free(slots);
    c->n = out;
    return 0;
}

void
tlm__workflow_counts_merge(struct tlm__workflow_counts *c)
{
    size_t out = 0;
    bool interned = c->interned;
    if (c->n < 2 || (interned && merge_interned(c) == 0))
        return;
    qsort_r(c->items, c->n, sizeof(*c->items), by_key, &interned);
    for (size_t i = 1; i < c->n; i++) {
        if (by_key(&c->items[out], &c->items[i], &interned) == 0)
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
            count(out, e->ts_ms, 1, empty, empty, empty);
            st->prev = NULL;
            st->last = NULL;
        }
        if (st->last != NULL)
            count(out, e->ts_ms, 2, st->last, e->endpoint, empty);
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
