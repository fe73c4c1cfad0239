/* SQLite backend, the analytics applier. Rollups and common workflows are
 * derived from the events table behind a cursor (analytics_cursor.seq)
 * instead of inside each batch's ingest transaction. One thread per store
 * folds the events stored past the cursor a window of up to APPLY_MAX at a
 * time, where the same rollup row or workflow pair of many batches becomes
 * one upsert. A window is applied in two steps:
 *
 * 1. without the writer lock, on a read connection of its own, in one read
 *    transaction: read the cursor, the window's events and their users'
 *    path states; walk the paths, aggregate the rollups;
 * 2. with the writer lock, in one write transaction: check that the cursor
 *    has not moved (another process applied first: the window is dropped
 *    and read again), write the rows, move the cursor.
 *
 * So ingestion waits only for the writes, and the reading and computing
 * run beside it. The cursor moves in the transaction that writes the rows
 * it covers: after a crash the next process applies exactly the events
 * past it, none twice, none lost, and two processes on one file (a server
 * and `telemetry-server keys`) never apply an event twice.
 *
 * Readers of the analytics call tlm__sqlite_analytics_sync first: what
 * they read then includes every event committed before the call. Error
 * groups stay in the ingest transaction (alerts are raised there). */
#include "store_sqlite.h"

#include "store_sqlite_rollup.h"
#include "str_cmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Events per window: more merge into fewer upserts, and the writer lock
 * is held for one window's writes, which bounds how long an ingest batch
 * can wait behind the applier. */
#define APPLY_MAX 65536
/* Distinct strings (in practice users) past which a window stops
 * growing: each user is a row to write under the writer lock, so when
 * every event comes from a new user, windows shrink to keep that write
 * short (the ingest p99). */
#define APPLY_MAX_STRINGS 4096
/* Unapplied events that wake the thread after a commit. */
#define APPLY_WAKE 32768
/* Unapplied events past which the ingest path applies a window itself
 * before answering: a thread starved of CPU or of the writer lock cannot
 * let the lag grow without bound. */
#define APPLY_LAG_MAX (4 * APPLY_MAX)
/* The thread's idle period: what a quiet store leaves unapplied (readers
 * never see it: they sync) is applied within this. */
#define APPLY_IDLE_MS 250

static const char cursor_sql[]
    = "SELECT seq, (SELECT COALESCE(MAX(seq), 0) FROM events)"
      " FROM analytics_cursor WHERE id = 1";
static const char rows_sql[]
    = "SELECT seq, type, ts_ms, environment, endpoint, status,"
      " response_time_ms, sample_rate, user_id, access_tier FROM events"
      " WHERE seq > ?1 AND seq <= ?3 ORDER BY seq LIMIT ?2";
static const char move_sql[] = "UPDATE analytics_cursor SET seq = ?1"
                               " WHERE id = 1";

/* The strings of a window's events, interned: one copy per distinct
 * string (the few endpoints, tiers and environments, the users of the
 * window) in blocks that never move, so that grouping the events compares
 * and hashes pointers (str_cmp.h). */
struct arena {
    char **blocks;
    size_t n_blocks;
    size_t used; /* in the last block */
    const char **slots; /* open addressing: interned strings or NULL */
    size_t n_slots, n_used;
};

#define ARENA_BLOCK (64 * 1024)

static char *
arena_alloc(struct arena *a, size_t need)
{
    if (a->n_blocks == 0 || a->used + need > ARENA_BLOCK) {
        size_t size = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        char **b = realloc(a->blocks, (a->n_blocks + 1) * sizeof(*b));
        if (b == NULL)
            return NULL;
        a->blocks = b;
        if ((b[a->n_blocks] = malloc(size)) == NULL)
            return NULL;
        a->n_blocks++;
        a->used = 0;
    }
    char *p = a->blocks[a->n_blocks - 1] + a->used;
    a->used += need > ARENA_BLOCK ? ARENA_BLOCK : need;
    return p;
}

static int
grow_slots(struct arena *a)
{
    size_t n = a->n_slots != 0 ? 2 * a->n_slots : 1024;
    const char **slots = calloc(n, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < a->n_slots; i++) {
        const char *s = a->slots[i];
        if (s == NULL)
            continue;
        size_t j = tlm__hash_bytes(s, strlen(s)) & (n - 1);
        while (slots[j] != NULL)
            j = (j + 1) & (n - 1);
        slots[j] = s;
    }
    free(a->slots);
    a->slots = slots;
    a->n_slots = n;
    return 0;
}

/* The interned copy of s[0..len), or NULL when out of memory. */
static const char *
intern(struct arena *a, const unsigned char *s, size_t len)
{
    len = strnlen((const char *)s, len); /* a C string, as it was bound */
    if (2 * (a->n_used + 1) > a->n_slots && grow_slots(a) != 0)
        return NULL;
    size_t mask = a->n_slots - 1;
    size_t j = tlm__hash_bytes(s, len) & mask;
    for (; a->slots[j] != NULL; j = (j + 1) & mask) {
        const char *t = a->slots[j];
        if (strncmp(t, (const char *)s, len) == 0 && t[len] == '\0')
            return t;
    }
    char *d = arena_alloc(a, len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    a->slots[j] = d;
    a->n_used++;
    return d;
}

static const char *
intern_cb(void *ctx, const unsigned char *s, size_t len)
{
    return intern(ctx, s, len);
}

static void
arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n_blocks; i++)
        free(a->blocks[i]);
    free(a->blocks);
    free(a->slots);
}

/* The cursor and the last stored seq, on db (inside the caller's
 * transaction). */
static int
read_cursor(sqlite3 *db, int64_t *cursor, int64_t *last)
{
    sqlite3_stmt *s = tlm__sqlite_cached(db, cursor_sql);
    int rc;
    if (s == NULL)
        return -1;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *cursor = sqlite3_column_int64(s, 0);
        *last = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int
move_cursor(sqlite3 *db, int64_t seq)
{
    sqlite3_stmt *s = tlm__sqlite_cached(db, move_sql);
    int rc;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, seq);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static const char *
text_col(sqlite3_stmt *s, int i, struct arena *a, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    const char *d;
    if (t == NULL)
        return NULL;
    d = intern(a, t, (size_t)sqlite3_column_bytes(s, i));
    if (d == NULL)
        *oom = true;
    return d;
}

/* Room for more events in b: grows with the lag, not to the maximum. */
static struct tlm__store_event *
next_event(struct tlm__store_batch *b, size_t *cap)
{
    if (b->n_events == *cap) {
        size_t n = *cap != 0 ? 2 * *cap : 4096;
        struct tlm__store_event *e = realloc(b->events, n * sizeof(*e));
        if (e == NULL)
            return NULL;
        b->events = e;
        *cap = n;
    }
    return &b->events[b->n_events++];
}

/* Reads up to limit events of seq in (after, upto] into b (strings in
 * a); *last is the seq of the last one read, left alone when none is. */
static int
read_events(sqlite3 *db, int64_t after, int64_t upto, size_t limit,
    struct tlm__store_batch *b, size_t *cap, struct arena *a, int64_t *last)
{
    sqlite3_stmt *s = tlm__sqlite_cached(db, rows_sql);
    bool oom = false;
    int step = SQLITE_DONE;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
    sqlite3_bind_int64(s, 3, upto);
    while (!oom && a->n_used < APPLY_MAX_STRINGS
        && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct tlm__store_event *e = next_event(b, cap);
        if (e == NULL) {
            oom = true;
            break;
        }
        struct tlm__event *ev = &e->ev;
        const char *type = (const char *)sqlite3_column_text(s, 1);
        memset(e, 0, sizeof(*e));
        *last = sqlite3_column_int64(s, 0);
        ev->type = type != NULL && strcmp(type, "error") == 0
            ? TLM_EVENT_ERROR
            : TLM_EVENT_REQUEST;
        ev->ts_ms = sqlite3_column_int64(s, 2);
        ev->environment = text_col(s, 3, a, &oom);
        ev->endpoint = text_col(s, 4, a, &oom);
        ev->has_status = sqlite3_column_type(s, 5) != SQLITE_NULL;
        ev->status = sqlite3_column_int(s, 5);
        ev->has_response_time = sqlite3_column_type(s, 6) != SQLITE_NULL;
        ev->response_time_ms = sqlite3_column_double(s, 6);
        ev->sample_rate = sqlite3_column_double(s, 7);
        ev->user_id = text_col(s, 8, a, &oom);
        ev->access_tier = text_col(s, 9, a, &oom);
        ev->severity = -1;
        if (ev->environment == NULL) /* NOT NULL in the schema */
            ev->environment = "";
    }
    sqlite3_reset(s);
    return !oom && (step == SQLITE_DONE || step == SQLITE_ROW) ? 0 : -1;
}

/* ---- the handoff: committed batches passed to the applier in memory ----
 *
 * Reading the events back costs the applier more than everything else it
 * does, so the ingest path, right after a batch commits, hands the
 * applier a copy of the fields it needs. A batch's new events have
 * consecutive seqs (one transaction appending under the writer lock), so
 * a handoff covers exactly first_seq .. first_seq + n - 1. The applier
 * takes handoffs that continue its window without a gap and reads
 * anything else from the table: events of another process, a handoff
 * dropped because the queue was full, a restart. */
struct handoff_event {
    enum tlm__event_type type;
    int64_t ts_ms;
    const char *environment, *endpoint, *user_id, *access_tier;
    bool has_status, has_response_time;
    int status;
    double response_time_ms, sample_rate;
};

struct tlm__sqlite_handoff {
    struct tlm__sqlite_handoff *next;
    int64_t first_seq;
    size_t n;
    struct handoff_event ev[]; /* then the strings */
};

/* The queue's bound: past it, batches are read back from the table. */
#define HANDOFF_MAX (2 * APPLY_MAX)

static size_t
str_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static const char *
put_str(char **p, const char *s)
{
    char *d = *p;
    size_t n = str_size(s);
    if (s == NULL)
        return NULL;
    memcpy(d, s, n);
    *p += n;
    return d;
}

void
tlm__sqlite_applier_handoff(struct sqlite_store *st,
    const struct tlm__store_batch *b, int64_t first_seq, size_t n_new)
{
    struct tlm__sqlite_handoff *h;
    size_t strings = 0, k = 0;
    char *p;
    if (n_new == 0 || !st->apply_started)
        return;
    pthread_mutex_lock(&st->apply_lock);
    bool full = st->handoff_events + n_new > HANDOFF_MAX;
    pthread_mutex_unlock(&st->apply_lock);
    if (full)
        return;
    for (size_t i = 0; i < b->n_events; i++) {
        const struct tlm__event *e = &b->events[i].ev;
        if (b->events[i].duplicate)
            continue;
        strings += str_size(e->environment) + str_size(e->endpoint)
            + str_size(e->user_id) + str_size(e->access_tier);
    }
    h = malloc(sizeof(*h) + n_new * sizeof(h->ev[0]) + strings);
    if (h == NULL)
        return; /* read back from the table instead */
    p = (char *)&h->ev[n_new];
    for (size_t i = 0; i < b->n_events && k < n_new; i++) {
        const struct tlm__event *e = &b->events[i].ev;
        if (b->events[i].duplicate)
            continue;
        h->ev[k++] = (struct handoff_event) {e->type, e->ts_ms,
            put_str(&p, e->environment), put_str(&p, e->endpoint),
            put_str(&p, e->user_id), put_str(&p, e->access_tier), e->has_status,
            e->has_response_time, e->status, e->response_time_ms,
            e->sample_rate};
    }
    h->next = NULL;
    h->first_seq = first_seq;
    h->n = k;
    pthread_mutex_lock(&st->apply_lock);
    if (st->handoff_tail != NULL)
        st->handoff_tail->next = h;
    else
        st->handoff_head = h;
    st->handoff_tail = h;
    st->handoff_events += k;
    pthread_mutex_unlock(&st->apply_lock);
}

/* The handoff starting right after pos, taken off the queue, or NULL;
 * handoffs at or before pos (applied already, or cut by a read from the
 * table) are dropped. *next_first: the first seq of the queue's head
 * after that (INT64_MAX when empty). */
static struct tlm__sqlite_handoff *
handoff_take(struct sqlite_store *st, int64_t pos, int64_t *next_first)
{
    struct tlm__sqlite_handoff *h, *got = NULL;
    pthread_mutex_lock(&st->apply_lock);
    while ((h = st->handoff_head) != NULL && h->first_seq <= pos + 1) {
        st->handoff_head = h->next;
        if (h->next == NULL)
            st->handoff_tail = NULL;
        st->handoff_events -= h->n;
        if (h->first_seq == pos + 1) {
            got = h;
            break;
        }
        free(h);
    }
    *next_first
        = st->handoff_head != NULL ? st->handoff_head->first_seq : INT64_MAX;
    pthread_mutex_unlock(&st->apply_lock);
    return got;
}

static void
handoff_free_all(struct sqlite_store *st)
{
    struct tlm__sqlite_handoff *h, *next;
    for (h = st->handoff_head; h != NULL; h = next) {
        next = h->next;
        free(h);
    }
    st->handoff_head = st->handoff_tail = NULL;
    st->handoff_events = 0;
}

static const char *
intern_str(struct arena *a, const char *s, bool *oom)
{
    const char *r;
    if (s == NULL)
        return NULL;
    r = intern(a, (const unsigned char *)s, strlen(s));
    if (r == NULL)
        *oom = true;
    return r;
}

/* Appends h's events to b, their strings interned into a. */
static int
take_events(const struct tlm__sqlite_handoff *h, struct tlm__store_batch *b,
    size_t *cap, struct arena *a)
{
    bool oom = false;
    for (size_t i = 0; i < h->n && !oom; i++) {
        const struct handoff_event *x = &h->ev[i];
        struct tlm__store_event *e = next_event(b, cap);
        if (e == NULL)
            return -1;
        memset(e, 0, sizeof(*e));
        e->ev.type = x->type;
        e->ev.ts_ms = x->ts_ms;
        e->ev.environment = intern_str(a, x->environment, &oom);
        e->ev.endpoint = intern_str(a, x->endpoint, &oom);
        e->ev.user_id = intern_str(a, x->user_id, &oom);
        e->ev.access_tier = intern_str(a, x->access_tier, &oom);
        e->ev.has_status = x->has_status;
        e->ev.status = x->status;
        e->ev.has_response_time = x->has_response_time;
        e->ev.response_time_ms = x->response_time_ms;
        e->ev.sample_rate = x->sample_rate;
        e->ev.severity = -1;
        if (e->ev.environment == NULL)
            e->ev.environment = "";
    }
    return oom ? -1 : 0;
}

/* One window past the cursor, read and computed. */
struct window {
    int64_t base; /* the cursor it starts after */
    int64_t end; /* the last stored seq when it was read */
    int64_t last; /* the seq it moves the cursor to; 0: nothing to do */
    struct tlm__store_batch b;
    size_t cap; /* room in b.events */
    struct arena a;
    struct tlm__rollup_set rollups;
    struct tlm__sqlite_wf_plan *wf;
};

static void
window_free(struct window *w)
{
    tlm__sqlite_workflow_plan_free(w->wf);
    tlm__rollup_set_free(&w->rollups);
    free(w->b.events);
    arena_free(&w->a);
    memset(w, 0, sizeof(*w));
}

/* The window's events, in seq order from the cursor on: handoffs that
 * continue it, the table for the gaps; up to APPLY_MAX (a handoff is
 * taken whole). w->last: where it ends (past purged rows too). */
static int
window_fill(struct sqlite_store *st, struct window *w)
{
    int64_t pos = w->base;
    while (pos < w->end && w->b.n_events < APPLY_MAX
        && w->a.n_used < APPLY_MAX_STRINGS) {
        int64_t next_first;
        struct tlm__sqlite_handoff *h = handoff_take(st, pos, &next_first);
        if (h != NULL) {
            int rc = take_events(h, &w->b, &w->cap, &w->a);
            pos = h->first_seq + (int64_t)h->n - 1;
            free(h);
            if (rc != 0)
                return -1;
            continue;
        }
        int64_t upto = next_first - 1 < w->end ? next_first - 1 : w->end;
        int64_t last = pos;
        if (read_events(st->adb, pos, upto, APPLY_MAX - w->b.n_events, &w->b,
                &w->cap, &w->a, &last)
            != 0)
            return -1;
        /* None read, and not for the string cap: the rows up to upto were
         * purged. */
        if (last > pos)
            pos = last;
        else if (w->a.n_used < APPLY_MAX_STRINGS)
            pos = upto;
    }
    w->last = pos > w->base ? pos : 0;
    return 0;
}

/* Step 1, without the writer lock: one read transaction on adb. */
static int
window_read(struct sqlite_store *st, struct window *w)
{
    sqlite3 *db = st->adb;
    int rc = -1;
    memset(w, 0, sizeof(*w));
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (read_cursor(db, &w->base, &w->end) != 0)
        goto out;
    if (w->end <= w->base) {
        rc = 0;
        goto out;
    }
    if (window_fill(st, w) != 0)
        goto out;
    w->b.interned = true;
    struct tlm__sqlite_interner in = {intern_cb, &w->a};
    if (w->b.n_events > 0
        && tlm__sqlite_workflow_plan(db, &w->b, &in, &w->wf) != 0)
        goto out;
    rc = 0;
out:
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc == 0 && w->b.n_events > 0
        && tlm__rollup_collect(&w->b, &w->rollups) != 0)
        rc = -1;
fail:
    if (rc != 0) {
        fprintf(stderr, "telemetry-server: sqlite analytics read failed: %s\n",
            sqlite3_errmsg(db));
        window_free(w);
    }
    return rc;
}

/* Step 2, wlock held: one write transaction. *stale when another process
 * moved the cursor since step 1 (nothing written). */
static int
window_write(struct sqlite_store *st, const struct window *w, bool *stale)
{
    int64_t cursor = 0, end = 0;
    *stale = false;
    if (sqlite3_exec(st->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (read_cursor(st->wdb, &cursor, &end) != 0)
        goto fail;
    if (end > st->stored_seq)
        st->stored_seq = end;
    if (cursor != w->base) {
        *stale = true;
        st->applied_seq = cursor;
        sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
        return 0;
    }
    if ((w->wf != NULL && tlm__sqlite_workflow_write(st->wdb, w->wf) != 0)
        || tlm__sqlite_rollup_write(st->wdb, &w->rollups) != 0
        || move_cursor(st->wdb, w->last) != 0)
        goto fail;
    if (sqlite3_exec(st->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    st->applied_seq = w->last;
    return 0;
fail:
    /* The reason first: the rollback replaces it. */
    fprintf(stderr, "telemetry-server: sqlite analytics write failed: %s\n",
        sqlite3_errmsg(st->wdb));
    sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Applies one window, apply_run held (never wlock). *more: a window was
 * applied or dropped as stale, so there may be more to do. */
static int
apply_step(struct sqlite_store *st, bool *more)
{
    struct window w;
    bool stale = false;
    int rc;
    *more = false;
    if (window_read(st, &w) != 0)
        return -1;
    if (w.last == 0) {
        window_free(&w);
        return 0;
    }
    pthread_mutex_lock(&st->wlock);
    rc = window_write(st, &w, &stale);
    pthread_mutex_unlock(&st->wlock);
    window_free(&w);
    *more = rc == 0;
    return rc;
}

int
tlm__sqlite_analytics_sync(struct sqlite_store *st)
{
    int64_t cursor = 0, target = 0;
    bool more = true;
    int rc = 0;
    pthread_mutex_lock(&st->apply_run);
    /* Everything committed before this point; later batches may follow. */
    if (sqlite3_exec(st->adb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK
        || read_cursor(st->adb, &cursor, &target) != 0)
        rc = -1;
    sqlite3_exec(st->adb, "COMMIT", NULL, NULL, NULL);
    while (rc == 0 && more && cursor < target) {
        rc = apply_step(st, &more);
        pthread_mutex_lock(&st->wlock);
        cursor = st->applied_seq;
        pthread_mutex_unlock(&st->wlock);
    }
    pthread_mutex_unlock(&st->apply_run);
    if (rc != 0)
        fprintf(stderr, "telemetry-server: sqlite analytics sync failed\n");
    return rc;
}

int
tlm__sqlite_analytics_skip(struct sqlite_store *st)
{
    int64_t cursor = 0, end = 0;
    if (read_cursor(st->wdb, &cursor, &end) != 0
        || move_cursor(st->wdb, end) != 0)
        return -1;
    st->applied_seq = end;
    return 0;
}

bool
tlm__sqlite_applier_note(struct sqlite_store *st)
{
    int64_t lag = st->stored_seq - st->applied_seq;
    if (lag >= APPLY_WAKE && st->apply_started) {
        pthread_mutex_lock(&st->apply_lock);
        st->apply_wanted = true;
        pthread_cond_signal(&st->apply_cond);
        pthread_mutex_unlock(&st->apply_lock);
    }
    return lag >= APPLY_LAG_MAX;
}

void
tlm__sqlite_applier_catch_up(struct sqlite_store *st)
{
    bool more;
    pthread_mutex_lock(&st->apply_run);
    apply_step(st, &more); /* errors are logged; the thread retries */
    pthread_mutex_unlock(&st->apply_run);
}

static void
deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Sleeps until woken (APPLY_WAKE events wait) or APPLY_IDLE_MS have
 * passed, then applies windows, letting ingest batches take the writer
 * lock in between. A failed apply waits for the next period. */
static void *
applier(void *arg)
{
    struct sqlite_store *st = arg;
    pthread_setname_np(pthread_self(), "tlm-analytics"); /* for top -H */
    for (;;) {
        struct timespec until;
        bool stop;
        deadline_in(&until, APPLY_IDLE_MS);
        pthread_mutex_lock(&st->apply_lock);
        while (!st->apply_stop && !st->apply_wanted) {
            if (pthread_cond_timedwait(&st->apply_cond, &st->apply_lock, &until)
                == ETIMEDOUT)
                break;
        }
        stop = st->apply_stop;
        st->apply_wanted = false;
        pthread_mutex_unlock(&st->apply_lock);
        if (stop)
            break;
        /* Then only while a whole wake-up's worth waits: the batches that
         * arrived during a window wait for the next one, as a small window
         * writes nearly as many rows as a large one. */
        for (int64_t min_lag = 1;; min_lag = APPLY_WAKE) {
            bool more = false, behind;
            pthread_mutex_lock(&st->wlock);
            behind = st->stored_seq - st->applied_seq >= min_lag;
            pthread_mutex_unlock(&st->wlock);
            if (!behind)
                break;
            pthread_mutex_lock(&st->apply_run);
            int rc = apply_step(st, &more);
            pthread_mutex_unlock(&st->apply_run);
            if (rc != 0 || !more)
                break;
        }
    }
    return NULL;
}

int
tlm__sqlite_applier_start(
    struct sqlite_store *st, const char *path, char *err, size_t err_size)
{
    int64_t cursor = 0, end = 0;
    if (tlm__sqlite_open_conn(
            path, SQLITE_OPEN_READONLY, &st->adb, err, err_size)
        != 0)
        return -1;
    pthread_mutex_lock(&st->wlock);
    int rc = read_cursor(st->wdb, &cursor, &end);
    pthread_mutex_unlock(&st->wlock);
    if (rc != 0) {
        snprintf(err, err_size, "sqlite: %s", sqlite3_errmsg(st->wdb));
        return -1;
    }
    /* Events a crashed process left unapplied are applied on the thread's
     * first pass (or by the first reader). */
    st->applied_seq = cursor;
    st->stored_seq = end;
    if (pthread_create(&st->apply_thread, NULL, applier, st) != 0) {
        snprintf(err, err_size, "cannot start the analytics thread");
        return -1;
    }
    st->apply_started = true;
    return 0;
}

void
tlm__sqlite_applier_stop(struct sqlite_store *st)
{
    if (!st->apply_started)
        return;
    pthread_mutex_lock(&st->apply_lock);
    st->apply_stop = true;
    pthread_cond_signal(&st->apply_cond);
    pthread_mutex_unlock(&st->apply_lock);
    pthread_join(st->apply_thread, NULL);
    /* A clean shutdown leaves the analytics complete on disk. */
    tlm__sqlite_analytics_sync(st);
    st->apply_started = false;
    handoff_free_all(st);
}

void
tlm__sqlite_applier_close(struct sqlite_store *st)
{
    tlm__sqlite_finalize_all(st->adb);
    sqlite3_close(st->adb);
    st->adb = NULL;
}
