/* PostgreSQL backend, write side: day partitions of events (created on
 * demand, dropped by retention), batch writes in one transaction with
 * exact per-event duplicate flags. Must never create or drop a partition
 * inside a batch's transaction (DDL there could deadlock with another
 * server's batch), and never build SQL text from anything but numbers. */
#include "store_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per INSERT statement: the whole batch (the server caps batches at
 * max_batch_events, 1000 by default). Measured against 64 rows per
 * statement on bench-store-pg's batches of 500: see bench/README.md. */
#ifndef TLM_PG_CHUNK_ROWS
#define TLM_PG_CHUNK_ROWS 1000
#endif
#define CHUNK_ROWS ((size_t)TLM_PG_CHUNK_ROWS)

/* Statements prepared on each connection at first use. The events insert
 * takes one array per column and stores a chunk in one statement, in
 * (id, ts_ms) order, so that concurrent batches sharing ids take their
 * row locks in one order and cannot deadlock; copies of one id in a chunk
 * keep their batch order, so the first copy is the one stored. */
enum { ST_EVENTS, ST_BATCH, ST_BAD, N_STMTS };
static const char *const stmt_names[N_STMTS]
    = {"tlm_ins_events", "tlm_ins_batch", "tlm_ins_bad"};
static const char *const stmt_sql[N_STMTS] = {
    ("INSERT INTO events (id, type, ts_ms, received_ms, environment,"
     " endpoint, status, response_time_ms, sample_rate, payload)"
     " SELECT u.id, u.type, u.ts, $4, u.env, u.ep, u.st, u.rt, u.sr, u.pl"
     " FROM unnest($1, $2, $3, $5, $6, $7, $8, $9, $10) WITH ORDINALITY"
     " AS u(id, type, ts, env, ep, st, rt, sr, pl, ord)"
     " ORDER BY u.id, u.ts, u.ord"
     " ON CONFLICT (id, ts_ms) DO NOTHING RETURNING id, ts_ms"),
    ("INSERT INTO batches (batch_id, received_ms, sent_at, sdk_name,"
     " sdk_version, sdk_binding, client_stats, event_count, privacy,"
     " unanonymized, unscrubbed, key_id, scrubbed) VALUES ($1, $2, $3, $4,"
     " $5, $6, $7, $8, $9, tlm_privacy_off($9, 'anonymized'),"
     " tlm_privacy_off($9, 'scrubbed'), $10, $11)"
     " ON CONFLICT (batch_id) DO NOTHING"),
    ("INSERT INTO bad_rows (received_ms, batch_id, reason, raw)"
     " SELECT $1, $2, u.r, u.w FROM unnest($3, $4) AS u(r, w)"),
};

/* The connection buffers: one per array column of the events insert, then
 * the ids' 16 bytes per event (to match RETURNING rows). */
enum { B_ID, B_TYPE, B_TS, B_ENV, B_EP, B_ST, B_RT, B_SR, B_PL, B_KEYS };

/* PQexecPrepared of statement id, preparing it on this session first. */
static PGresult *
exec_stmt(
    struct tlm__pg_conn *c, int id, const struct tlm__pg_params *p, bool binary)
{
    if (!(c->prepared & (1u << id))) {
        PGresult *r
            = PQprepare(c->pg, stmt_names[id], stmt_sql[id], p->n, p->types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return r;
        PQclear(r);
        c->prepared |= 1u << id;
    }
    return PQexecPrepared(c->pg, stmt_names[id], p->n, p->values, p->lengths,
        p->formats, binary ? 1 : 0);
}

/* ---- day partitions --------------------------------------------------- */

static int64_t
day_of(int64_t ms)
{
    return ms >= 0 ? ms / TLM_PG_DAY_MS
                   : -((-ms + TLM_PG_DAY_MS - 1) / TLM_PG_DAY_MS);
}

/* Days since 1970-01-01 <-> civil date (H. Hinnant's algorithms). */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* events_YYYYMMDD; a day outside years 0..9999 (a timestamp with an
 * offset at the calendar's edge) is events_dN with N = day + 10^7 > 0. */
#define DAY_BIAS ((int64_t)10000000)

static void
partition_name(int64_t day, char *out, size_t size)
{
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    if (y >= 0 && y <= 9999)
        snprintf(out, size, "events_%04d%02d%02d", (int)y, m, d);
    else
        snprintf(out, size, "events_d%" PRId64, day + DAY_BIAS);
}

/* The day of a partition name this backend made; -1 for any other. */
static int
partition_day(const char *name, int64_t *day)
{
    size_t n;
    if (strncmp(name, "events_", 7) != 0)
        return -1;
    name += 7;
    if (name[0] == 'd') {
        n = strlen(name + 1);
        if (n == 0 || n > 12 || strspn(name + 1, "0123456789") != n)
            return -1;
        *day = strtoll(name + 1, NULL, 10) - DAY_BIAS;
        return 0;
    }
    if (strlen(name) != 8 || strspn(name, "0123456789") != 8)
        return -1;
    long v = strtol(name, NULL, 10);
    int m = (int)(v / 100 % 100), d = (int)(v % 100);
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *day = days_from_civil(v / 10000, m, d);
    return 0;
}

static bool
day_known(struct tlm__pg_store *st, int64_t day)
{
    bool hit = false;
    pthread_mutex_lock(&st->days_lock);
    for (size_t i = 0; i < st->n_days && !hit; i++)
        hit = st->days[i] == day;
    pthread_mutex_unlock(&st->days_lock);
    return hit;
}

/* Adds day to the cache (known) or removes it. */
static void
day_remember(struct tlm__pg_store *st, int64_t day, bool known)
{
    pthread_mutex_lock(&st->days_lock);
    for (size_t i = 0; i < st->n_days; i++) {
        if (st->days[i] == day) {
            if (!known)
                st->days[i] = st->days[--st->n_days];
            goto out;
        }
    }
    if (known && st->n_days == st->cap_days) {
        size_t cap = st->cap_days == 0 ? 64 : 2 * st->cap_days;
        int64_t *p = realloc(st->days, cap * sizeof(*p));
        if (p == NULL)
            goto out; /* not cached: created (IF NOT EXISTS) next time */
        st->days = p;
        st->cap_days = cap;
    }
    if (known)
        st->days[st->n_days++] = day;
out:
    pthread_mutex_unlock(&st->days_lock);
}

void
tlm__pg_days_forget(struct tlm__pg_store *st)
{
    pthread_mutex_lock(&st->days_lock);
    st->n_days = 0;
    pthread_mutex_unlock(&st->days_lock);
}

/* Creates day's partition unless it exists, in its own short transaction
 * (one simple query) holding the partition lock: of two servers racing,
 * the second finds the table. */
static int
create_partition(struct tlm__pg_store *st, struct tlm__pg_conn *c, int64_t day,
    char *err, size_t n)
{
    char name[40], sql[256];
    partition_name(day, name, sizeof(name));
    snprintf(sql, sizeof(sql),
        "SELECT pg_advisory_xact_lock(%d);"
        " CREATE TABLE IF NOT EXISTS %s PARTITION OF events"
        " FOR VALUES FROM (%" PRId64 ") TO (%" PRId64 ")",
        TLM_PG_LOCK_PARTITIONS, name, day * TLM_PG_DAY_MS,
        (day + 1) * TLM_PG_DAY_MS);
    /* 42P17: a partition the operator made covers the day already. */
    if (!tlm__pg_expect(st, c, PQexec(c->pg, sql), PGRES_COMMAND_OK, err, n)
        && strcmp(c->sqlstate, "42P17") != 0)
        return -1;
    day_remember(st, day, true);
    return 0;
}

static int
ensure_days(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, char *err, size_t n)
{
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < b->n_events; i++) {
        int64_t day = day_of(b->events[i].ev.ts_ms);
        if (day == last)
            continue;
        last = day;
        if (!day_known(st, day) && create_partition(st, c, day, err, n) != 0)
            return -1;
    }
    return 0;
}

/* ---- array parameters ------------------------------------------------- */

static int
buf_reserve(struct tlm__pg_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap == 0 ? 4096 : b->cap;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void
tlm__pg_conn_free_bufs(struct tlm__pg_conn *c)
{
    for (size_t i = 0; i < TLM_PG_BUFS; i++) {
        free(c->bufs[i].p);
        memset(&c->bufs[i], 0, sizeof(c->bufs[i]));
    }
}

static void
buf_u32(struct tlm__pg_buf *b, uint32_t v)
{
    tlm__pg_put_be((unsigned char *)b->p + b->len, v, 4);
    b->len += 4;
}

/* Starts a one-dimensional binary array of n elements of type elem; the
 * caller reserved room. Elements follow as (int32 length or -1, bytes). */
static void
array_begin(struct tlm__pg_buf *b, Oid elem, size_t n)
{
    b->len = 0;
    buf_u32(b, 1); /* dimensions */
    buf_u32(b, 1); /* may hold NULLs */
    buf_u32(b, elem);
    buf_u32(b, (uint32_t)n);
    buf_u32(b, 1); /* lower bound */
}

static void
array_elem(struct tlm__pg_buf *b, const void *v, size_t len)
{
    if (v == NULL) {
        buf_u32(b, 0xffffffffu);
        return;
    }
    buf_u32(b, (uint32_t)len);
    memcpy(b->p + b->len, v, len);
    b->len += len;
}

static size_t
slen(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

static void
put_double(unsigned char out[8], double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    tlm__pg_put_be(out, bits, 8);
}

/* Fills the column arrays of ev[0..n) into c's buffers, and the ids'
 * bytes into B_KEYS. Returns -1 when out of memory or an id is no UUID. */
static int
build_arrays(
    struct tlm__pg_conn *c, const struct tlm__store_event *ev, size_t n)
{
    static const Oid elem[]
        = {TLM_PG_UUID, TLM_PG_TEXT, TLM_PG_INT8, TLM_PG_TEXT, TLM_PG_TEXT,
            TLM_PG_INT4, TLM_PG_FLOAT8, TLM_PG_FLOAT8, TLM_PG_TEXT};
    struct tlm__pg_buf *b = c->bufs;
    size_t env = 0, ep = 0, pl = 0;
    for (size_t i = 0; i < n; i++) {
        env += slen(ev[i].ev.environment);
        ep += slen(ev[i].ev.endpoint);
        pl += ev[i].payload_len;
    }
    const size_t need[] = {20 * n, 11 * n, 12 * n, env + 4 * n, ep + 4 * n,
        8 * n, 12 * n, 12 * n, pl + 4 * n, 16 * n};
    for (int k = B_ID; k <= B_KEYS; k++) {
        b[k].len = 0;
        if (buf_reserve(&b[k], need[k] + 20) != 0)
            return -1;
    }
    for (int k = B_ID; k <= B_PL; k++)
        array_begin(&b[k], elem[k], n);
    for (size_t i = 0; i < n; i++) {
        const struct tlm__event *e = &ev[i].ev;
        unsigned char *key = (unsigned char *)b[B_KEYS].p + 16 * i;
        unsigned char num[8];
        bool req = e->type == TLM_EVENT_REQUEST;
        if (tlm__uuid_bytes(e->id, TLM_EVENT_ID_LEN, key) != 0)
            return -1;
        array_elem(&b[B_ID], key, 16);
        array_elem(&b[B_TYPE], req ? "request" : "error", req ? 7 : 5);
        tlm__pg_put_be(num, (uint64_t)e->ts_ms, 8);
        array_elem(&b[B_TS], num, 8);
        array_elem(&b[B_ENV], e->environment, slen(e->environment));
        array_elem(&b[B_EP], e->endpoint, slen(e->endpoint));
        tlm__pg_put_be(num, (uint32_t)e->status, 4);
        array_elem(&b[B_ST], e->has_status ? num : NULL, 4);
        put_double(num, e->response_time_ms);
        array_elem(&b[B_RT], e->has_response_time ? num : NULL, 8);
        put_double(num, e->sample_rate);
        array_elem(&b[B_SR], num, 8);
        array_elem(&b[B_PL], ev[i].payload, ev[i].payload_len);
    }
    b[B_KEYS].len = 16 * n;
    return 0;
}

/* ---- batch writes ----------------------------------------------------- */

struct row_key {
    unsigned char id[16];
    int64_t ts;
    size_t index;
};

static int
cmp_key(const void *a, const void *b)
{
    const struct row_key *x = a, *y = b;
    int c = memcmp(x->id, y->id, 16);
    if (c != 0)
        return c;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Marks the events RETURNING did not name as duplicates. The statement
 * stores at most one row per (id, ts_ms), the first copy in batch order,
 * so each returned row clears the lowest index with its key. */
static int
mark_duplicates(const struct tlm__pg_conn *c, struct tlm__store_event *ev,
    size_t n, const PGresult *r)
{
    size_t rows = (size_t)PQntuples(r);
    for (size_t i = 0; i < n; i++)
        ev[i].duplicate = rows != n;
    if (rows == n || rows == 0)
        return 0;
    struct row_key *k = malloc(n * sizeof(*k));
    if (k == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        memcpy(k[i].id, c->bufs[B_KEYS].p + 16 * i, 16);
        k[i].ts = ev[i].ev.ts_ms;
        k[i].index = i;
    }
    qsort(k, n, sizeof(*k), cmp_key);
    for (int j = 0; j < (int)rows; j++) {
        struct row_key want = {.index = 0};
        if (PQgetlength(r, j, 0) != 16 || PQgetlength(r, j, 1) != 8)
            continue;
        memcpy(want.id, PQgetvalue(r, j, 0), 16);
        want.ts = tlm__pg_get_int8(PQgetvalue(r, j, 1));
        size_t lo = 0, hi = n;
        while (lo < hi) { /* the first entry >= want */
            size_t mid = lo + (hi - lo) / 2;
            if (cmp_key(&k[mid], &want) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && memcmp(k[lo].id, want.id, 16) == 0 && k[lo].ts == want.ts)
            ev[k[lo].index].duplicate = false;
    }
    free(k);
    return 0;
}

static int
insert_chunk(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    int64_t received_ms, struct tlm__store_event *ev, size_t count, char *err,
    size_t n)
{
    static const Oid types[]
        = {TLM_PG_UUID_ARRAY, TLM_PG_TEXT_ARRAY, TLM_PG_INT8_ARRAY,
            TLM_PG_TEXT_ARRAY, TLM_PG_TEXT_ARRAY, TLM_PG_INT4_ARRAY,
            TLM_PG_FLOAT8_ARRAY, TLM_PG_FLOAT8_ARRAY, TLM_PG_TEXT_ARRAY};
    struct tlm__pg_params p = {0};
    if (build_arrays(c, ev, count) != 0) {
        snprintf(err, n, "out of memory, or an event id is not a UUID");
        return -1;
    }
    for (int k = B_ID; k <= B_PL; k++) {
        if (k == B_ENV) /* $4: the batch's arrival time */
            tlm__pg_int8(&p, received_ms);
        tlm__pg_bytes(&p, types[k], c->bufs[k].p, (int)c->bufs[k].len);
    }
    PGresult *r = exec_stmt(c, ST_EVENTS, &p, true);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        tlm__pg_fail(st, c, r, err, n);
    else if (mark_duplicates(c, ev, count, r) != 0)
        snprintf(err, n, "out of memory");
    else
        rc = 0;
    PQclear(r);
    return rc;
}

static int
insert_events(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    struct tlm__store_batch *b, char *err, size_t n)
{
    for (size_t done = 0; done < b->n_events; done += CHUNK_ROWS) {
        size_t k = b->n_events - done;
        if (insert_chunk(st, c, b->received_ms, b->events + done,
                k < CHUNK_ROWS ? k : CHUNK_ROWS, err, n)
            != 0)
            return -1;
    }
    return 0;
}

/* The header first: a batch_id seen before is a resend, whose bad rows are
 * already stored (its events dedupe on their own keys). */
static int
insert_header(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, bool *resend, char *err, size_t n)
{
    const struct tlm__batch_meta *m = &b->meta;
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, m->batch_id);
    tlm__pg_int8(&p, b->received_ms);
    tlm__pg_cstr(&p, m->sent_at);
    tlm__pg_cstr(&p, m->sdk_name);
    tlm__pg_cstr(&p, m->sdk_version);
    tlm__pg_cstr(&p, m->sdk_binding);
    tlm__pg_text(&p, m->client_stats, m->client_stats_len);
    tlm__pg_int8(&p, (int64_t)m->event_count);
    tlm__pg_text(&p, m->privacy, m->privacy_len);
    tlm__pg_cstr(&p, m->key_id);
    tlm__pg_int8(&p, (int64_t)m->scrubbed);
    PGresult *r = exec_stmt(c, ST_BATCH, &p, false);
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        *resend = strcmp(PQcmdTuples(r), "0") == 0;
    return tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n) ? 0 : -1;
}

static int
insert_bad(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, char *err, size_t n)
{
    struct tlm__pg_buf *reason = &c->bufs[B_TYPE], *raw = &c->bufs[B_PL];
    size_t rl = 0, wl = 0;
    for (size_t i = 0; i < b->n_bad; i++) {
        rl += slen(b->bad[i].reason) + 4;
        wl += b->bad[i].raw_len + 4;
    }
    reason->len = raw->len = 0;
    if (buf_reserve(reason, rl + 20) != 0 || buf_reserve(raw, wl + 20) != 0) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    array_begin(reason, TLM_PG_TEXT, b->n_bad);
    array_begin(raw, TLM_PG_BYTEA, b->n_bad);
    for (size_t i = 0; i < b->n_bad; i++) {
        const struct tlm__bad_row *w = &b->bad[i];
        const char *why = w->reason != NULL ? w->reason : "";
        array_elem(reason, why, strlen(why));
        array_elem(
            raw, w->raw != NULL ? w->raw : "", w->raw != NULL ? w->raw_len : 0);
    }
    struct tlm__pg_params p = {0};
    tlm__pg_int8(&p, b->received_ms);
    tlm__pg_cstr(&p, b->meta.batch_id);
    tlm__pg_bytes(&p, TLM_PG_TEXT_ARRAY, reason->p, (int)reason->len);
    tlm__pg_bytes(&p, TLM_PG_BYTEA_ARRAY, raw->p, (int)raw->len);
    PGresult *r = exec_stmt(c, ST_BAD, &p, false);
    return tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n) ? 0 : -1;
}

/* Whether a failed batch deserves a second run: 23514, no partition for a
 * row (another server purged a day this one had cached: the cache is
 * dropped and the day created again), or 40P01 / 40001, a deadlock or
 * serialisation failure. */
static bool
worth_retry(struct tlm__pg_store *st, const struct tlm__pg_conn *c)
{
    if (strcmp(c->sqlstate, "23514") == 0) {
        tlm__pg_days_forget(st);
        return true;
    }
    return strcmp(c->sqlstate, "40P01") == 0
        || strcmp(c->sqlstate, "40001") == 0;
}

struct insert_arg {
    struct tlm__store_batch *b;
    size_t *accepted;
    size_t *duplicates;
};

static int
op_insert(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct insert_arg *a = arg;
    struct tlm__store_batch *b = a->b;
    bool resend = false;
    *a->accepted = 0;
    *a->duplicates = 0;
    if (ensure_days(st, c, b, err, n) != 0
        || tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    if (insert_header(st, c, b, &resend, err, n) != 0
        || insert_events(st, c, b, err, n) != 0
        || (!resend && b->n_bad > 0 && insert_bad(st, c, b, err, n) != 0)
        || tlm__pg_errors_apply(st, c, b, err, n) != 0
        || tlm__pg_workflow_apply(st, c, b, err, n) != 0
        || tlm__pg_rollup_apply(st, c, b, err, n) != 0
        || tlm__pg_command(st, c, "COMMIT", err, n) != 0) {
        *retry = worth_retry(st, c);
        return -1;
    }
    for (size_t i = 0; i < b->n_events; i++) {
        if (b->events[i].duplicate)
            (*a->duplicates)++;
        else
            (*a->accepted)++;
    }
    return 0;
}

int
tlm__pg_insert_batch(struct tlm__store *base, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates)
{
    struct insert_arg a = {b, accepted, duplicates};
    int rc = tlm__pg_run((struct tlm__pg_store *)base, "write", op_insert, &a);
    if (rc != 0) {
        *accepted = 0;
        *duplicates = 0;
    }
    return rc;
}

/* ---- retention -------------------------------------------------------- */

/* Drops day's partition (counting its rows first) under the partition
 * lock; one that another server dropped meanwhile counts nothing. */
static int
drop_day(struct tlm__pg_store *st, struct tlm__pg_conn *c, int64_t day,
    uint64_t *removed, char *err, size_t n)
{
    char name[40], sql[128];
    uint64_t rows = 0;
    struct tlm__pg_params p = {0};
    partition_name(day, name, sizeof(name));
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)",
        TLM_PG_LOCK_PARTITIONS);
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0
        || tlm__pg_command(st, c, sql, err, n) != 0)
        return -1;
    tlm__pg_cstr(&p, name);
    PGresult *r
        = tlm__pg_exec(c->pg, "SELECT to_regclass($1) IS NOT NULL", &p, false);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
        && PQgetvalue(r, 0, 0)[0] == 't';
    if (!tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n))
        return -1;
    if (exists) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", name);
        r = PQexec(c->pg, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            rows = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        if (!tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n))
            return -1;
        snprintf(sql, sizeof(sql), "DROP TABLE %s", name);
        if (tlm__pg_command(st, c, sql, err, n) != 0)
            return -1;
    }
    if (tlm__pg_command(st, c, "COMMIT", err, n) != 0)
        return -1;
    day_remember(st, day, false);
    *removed += rows;
    return 0;
}

struct purge_arg {
    int64_t before_ms;
    uint64_t *removed;
};

/* Whole day partitions ending at or before before_ms go (never a DELETE
 * over events); bad rows and batch headers older than it are deleted. */
static int
op_purge(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct purge_arg *a = arg;
    struct tlm__pg_params p = {0};
    int64_t *days = NULL;
    size_t n_days = 0;
    int rc = -1;
    (void)retry;
    PGresult *r = PQexec(c->pg,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
        " ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        days = calloc((size_t)PQntuples(r), sizeof(*days));
        if (days == NULL) {
            PQclear(r);
            snprintf(err, n, "out of memory");
            return -1;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            int64_t day;
            if (partition_day(PQgetvalue(r, i, 0), &day) == 0
                && (day + 1) * TLM_PG_DAY_MS <= a->before_ms)
                days[n_days++] = day;
        }
    }
    if (!tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n))
        goto out;
    for (size_t i = 0; i < n_days; i++) {
        if (drop_day(st, c, days[i], a->removed, err, n) != 0)
            goto out;
    }
    tlm__pg_int8(&p, a->before_ms);
    r = tlm__pg_exec(
        c->pg, "DELETE FROM bad_rows WHERE received_ms < $1", &p, false);
    if (!tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n))
        goto out;
    r = tlm__pg_exec(
        c->pg, "DELETE FROM batches WHERE received_ms < $1", &p, false);
    if (!tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n))
        goto out;
    /* Error groups keep their totals; their minute counts and users go
     * with the events they came from. */
    r = tlm__pg_exec(
        c->pg, "DELETE FROM error_group_minutes WHERE minute < $1", &p, false);
    if (!tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n))
        goto out;
    r = tlm__pg_exec(c->pg,
        "DELETE FROM error_group_users WHERE last_seen_ms < $1", &p, false);
    if (!tlm__pg_expect(st, c, r, PGRES_COMMAND_OK, err, n))
        goto out;
    rc = 0;
out:
    free(days);
    return rc;
}

int
tlm__pg_purge(struct tlm__store *base, int64_t before_ms, uint64_t *removed)
{
    struct purge_arg a = {before_ms, removed};
    return tlm__pg_run((struct tlm__pg_store *)base, "purge", op_purge, &a);
}
