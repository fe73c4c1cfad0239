/* Common workflows (workflow.c): sessions split by 30 minutes of silence
 * and the endpoint pairs and triples users walk through, counted per UTC
 * day and environment. Pure; the stores keep the per-user state and the
 * counts (store_sqlite_workflow.c, store_pg_workflow.c). Counts are of
 * stored events, not weighted by 1/sample_rate: a sampled-out event is a
 * hole in a path, so sessions are exact only without request sampling. */
#ifndef TLM_SERVER_WORKFLOW_H
#define TLM_SERVER_WORKFLOW_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

#define TLM_SESSION_GAP_MS (30LL * 60 * 1000)

/* One user's position between batches; strings borrowed. */
struct tlm__workflow_state {
    const char *prev; /* the endpoint before last, or NULL */
    const char *last; /* the last endpoint, or NULL: no session open */
    int64_t last_ts_ms;
};

/* kind 1: a session started (a, b, c ""); 2: a -> b; 3: a -> b -> c. */
struct tlm__workflow_count {
    int kind;
    int64_t day_ms;
    const char *environment;
    const char *a, *b, *c;
    double count;
};

struct tlm__workflow_counts {
    struct tlm__workflow_count *items; /* room for cap */
    size_t n, cap;
    const char *environment; /* of the user being walked */
    /* Every string is interned (the batch's interned, and the states'
     * strings too): keys are sorted by address, not by text. */
    bool interned;
};

/* Merges c's items of equal keys, adding their counts: each key once, as
 * one upsert statement needs. Sorted by key (day, environment, kind, a,
 * b, c: the order two servers must take row locks in); interned keys are
 * merged through a hash instead, left in first-seen order. */
void tlm__workflow_counts_merge(struct tlm__workflow_counts *c);

/* The batch's non-duplicate request events with a user and an endpoint,
 * sorted by environment, user and time (strings by address when
 * b->interned), into out (room for n_events). Returns how many. */
size_t tlm__workflow_events(
    const struct tlm__store_batch *b, const struct tlm__store_event **out);

/* Walks one user's events ev[0..n) (same environment and user, in time
 * order) from state st, adding to out and leaving st at the end. */
void tlm__workflow_walk(struct tlm__workflow_state *st,
    const struct tlm__store_event *const *ev, size_t n,
    struct tlm__workflow_counts *out);

#endif
