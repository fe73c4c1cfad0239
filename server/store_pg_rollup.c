/* PostgreSQL backend, analytics rollups (as store_sqlite_rollup.c): the
 * upsert in a batch's transaction, the backfill of migration 5,
 * compaction into hours and days, and the dashboard's read. Histograms
 * are two parallel arrays (bucket index, weight) that SQL merges itself,
 * so the database needs no C function. The dashboard never reads events.
 * Writers and compaction lock rollup rows in key order (byte order of the
 * names), so servers sharing the database do not deadlock on them. */
#include "store_pg.h"
#include "store_pg_arr.h"

#include "rollup.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events read per statement by the backfill. */
#define BACKFILL_CHUNK 20000

#define KEY "t_ms, environment, endpoint, status_class, tier, res"
#define KEY_ORDER                                                              \
    "t_ms, environment COLLATE \"C\", endpoint COLLATE \"C\","                 \
    " status_class, tier COLLATE \"C\""
#define COLS                                                                   \
    "res, t_ms, environment, endpoint, status_class, tier, requests, errors,"  \
    " other, hidx, hcnt"
/* Two sparse histograms merged bucket by bucket, in index order. */
#define MERGE                                                                  \
    " ON CONFLICT (" KEY ") DO UPDATE SET"                                     \
    " requests = r.requests + excluded.requests,"                              \
    " errors = r.errors + excluded.errors,"                                    \
    " other = r.other + excluded.other,"                                       \
    " (hidx, hcnt) = (SELECT array_agg(i ORDER BY i), array_agg(c ORDER BY i)" \
    " FROM (SELECT i, sum(c) AS c FROM (SELECT * FROM unnest(r.hidx, r.hcnt)"  \
    " UNION ALL SELECT * FROM unnest(excluded.hidx, excluded.hcnt)) x(i, c)"   \
    " WHERE i IS NOT NULL GROUP BY i) g)"

/* $1..$8: one array per column of the minute rows, in key order; $9..$11
 * the histograms flattened as (row ordinal, bucket, weight). One
 * statement; rows that exist are merged by MERGE. Measured against
 * locking the existing rows first and adding to them in C (two
 * statements): pgbench alone favoured that (2 against 6.5 ms for 144 rows
 * of 30 buckets), but through the store (bench-store-pg, 100 000 events,
 * 3 interleaved runs each) the ratio of throughput with rollups to
 * without was 0.55 (median) here against 0.52 there: a hot row carries
 * hundreds of buckets, which that path reads and writes back whole. */
static const char upsert_sql[]
    = "WITH h AS (SELECT o, array_agg(i ORDER BY i) AS hidx,"
      " array_agg(c ORDER BY i) AS hcnt"
      " FROM unnest($9::int4[], $10::int4[], $11::float8[]) AS x(o, i, c)"
      " GROUP BY o)"
      " INSERT INTO rollups AS r (" COLS ")"
      " SELECT 60000, u.t, u.env, u.ep, u.cls, u.tier, u.req, u.err, u.oth,"
      " h.hidx, h.hcnt FROM unnest($1::int8[], $2::text[], $3::text[],"
      " $4::int4[], $5::text[], $6::float8[], $7::float8[], $8::float8[])"
      " WITH ORDINALITY AS u(t, env, ep, cls, tier, req, err, oth, o)"
      " LEFT JOIN h ON h.o = u.o ORDER BY u.o" MERGE;

#define UPSERT_NAME "tlm_rollup_upsert"
#define N_UPSERT 11

static int
oom(char *err, size_t n)
{
    snprintf(err, n, "out of memory");
    return -1;
}

/* ---- the write path ---- */

static PGresult *
exec_upsert(struct tlm__pg_conn *c, const struct tlm__pg_params *p)
{
    if (!(c->prepared & TLM_PG_PREP_ROLLUP)) {
        PGresult *r = PQprepare(c->pg, UPSERT_NAME, upsert_sql, p->n, p->types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return r;
        PQclear(r);
        c->prepared |= TLM_PG_PREP_ROLLUP;
    }
    return PQexecPrepared(
        c->pg, UPSERT_NAME, p->n, p->values, p->lengths, p->formats, 0);
}

/* Adds the rows of s (unique keys, sorted by tlm__rollup_collect) to the
 * minute rollups in one statement. */
static int
upsert(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__rollup_set *s, char *err, size_t en)
{
    enum { T, ENV, EP, CLS, TIER, REQ, ERRS, OTH, HO, HI, HC };
    static const Oid elem[N_UPSERT] = {TLM_PG_INT8, TLM_PG_TEXT, TLM_PG_TEXT,
        TLM_PG_INT4, TLM_PG_TEXT, TLM_PG_FLOAT8, TLM_PG_FLOAT8, TLM_PG_FLOAT8,
        TLM_PG_INT4, TLM_PG_INT4, TLM_PG_FLOAT8};
    static const Oid type[N_UPSERT] = {TLM_PG_INT8_ARRAY, TLM_PG_TEXT_ARRAY,
        TLM_PG_TEXT_ARRAY, TLM_PG_INT4_ARRAY, TLM_PG_TEXT_ARRAY,
        TLM_PG_FLOAT8_ARRAY, TLM_PG_FLOAT8_ARRAY, TLM_PG_FLOAT8_ARRAY,
        TLM_PG_INT4_ARRAY, TLM_PG_INT4_ARRAY, TLM_PG_FLOAT8_ARRAY};
    struct arr a[N_UPSERT] = {{0}};
    struct tlm__pg_params p = {0};
    size_t nb = 0;
    bool failed = false;
    int rc = -1;
    for (size_t i = 0; i < s->n; i++)
        nb += s->rows[i].hist.n;
    for (int k = 0; k < N_UPSERT; k++)
        arr_begin(&a[k], elem[k], k < HO ? s->n : nb);
    for (size_t i = 0; i < s->n; i++) {
        const struct tlm__rollup_row *r = &s->rows[i];
        arr_int(&a[T], (uint64_t)r->t_ms, 8);
        arr_str(&a[ENV], r->environment);
        arr_str(&a[EP], r->endpoint);
        arr_int(&a[CLS], (uint32_t)r->status_class, 4);
        arr_str(&a[TIER], r->tier);
        arr_double(&a[REQ], r->requests);
        arr_double(&a[ERRS], r->errors);
        arr_double(&a[OTH], r->other);
        for (size_t j = 0; j < r->hist.n; j++) {
            arr_int(&a[HO], (uint32_t)(i + 1), 4);
            arr_int(&a[HI], r->hist.idx[j], 4);
            arr_double(&a[HC], r->hist.cnt[j]);
        }
    }
    for (int k = 0; k < N_UPSERT; k++) {
        failed = failed || a[k].failed;
        array_param(&p, &a[k], type[k]);
    }
    if (failed)
        rc = oom(err, en);
    else if (tlm__pg_expect(
                 st, c, exec_upsert(c, &p), PGRES_COMMAND_OK, err, en))
        rc = 0;
    for (int k = 0; k < N_UPSERT; k++)
        free(a[k].p);
    return rc;
}

int
tlm__pg_rollup_apply(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_batch *b, char *err, size_t n)
{
    struct tlm__rollup_set set;
    int rc = 0;
    if (b->skip_rollups)
        return 0;
    if (tlm__rollup_collect(b, &set) != 0)
        return oom(err, n);
    if (set.n > 0)
        rc = upsert(st, c, &set, err, n);
    tlm__rollup_set_free(&set);
    return rc;
}

/* ---- migration 5: rollups of the events already stored ---- */

/* The payload's access_tier when it is a string (as the ingest reads it);
 * NULL otherwise. Malloc'ed. */
static char *
payload_tier(const char *payload, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength(payload, len);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "access_tier");
    char *s = cJSON_IsString(t) ? strdup(t->valuestring) : NULL;
    cJSON_Delete(doc);
    return s;
}

/* Folds one chunk of events (text columns: ts_ms, environment, endpoint,
 * status, type, sample_rate, response_time_ms, payload) into the rollups. */
static int
backfill_chunk(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const PGresult *r, char *err, size_t n)
{
    size_t rows = (size_t)PQntuples(r);
    struct tlm__store_event *ev = calloc(rows, sizeof(*ev));
    char **tiers = calloc(rows, sizeof(*tiers));
    struct tlm__rollup_set set = {0};
    int rc = -1;
    if (ev == NULL || tiers == NULL) {
        rc = oom(err, n);
        goto out;
    }
    for (size_t i = 0; i < rows; i++) {
        struct tlm__event *e = &ev[i].ev;
        int row = (int)i;
        e->ts_ms = strtoll(PQgetvalue(r, row, 0), NULL, 10);
        e->environment = PQgetvalue(r, row, 1);
        e->endpoint = PQgetisnull(r, row, 2) ? NULL : PQgetvalue(r, row, 2);
        e->has_status = !PQgetisnull(r, row, 3);
        e->status = (int)strtol(PQgetvalue(r, row, 3), NULL, 10);
        e->type = strcmp(PQgetvalue(r, row, 4), "error") == 0
            ? TLM_EVENT_ERROR
            : TLM_EVENT_REQUEST;
        e->sample_rate = strtod(PQgetvalue(r, row, 5), NULL);
        e->has_response_time = !PQgetisnull(r, row, 6);
        e->response_time_ms = strtod(PQgetvalue(r, row, 6), NULL);
        tiers[i] = payload_tier(
            PQgetvalue(r, row, 7), (size_t)PQgetlength(r, row, 7));
        e->access_tier = tiers[i];
    }
    struct tlm__store_batch b = {.events = ev, .n_events = rows};
    if (tlm__rollup_collect(&b, &set) != 0)
        rc = oom(err, n);
    else
        rc = set.n > 0 ? upsert(st, c, &set, err, n) : 0;
out:
    tlm__rollup_set_free(&set);
    for (size_t i = 0; tiers != NULL && i < rows; i++)
        free(tiers[i]);
    free(tiers);
    free(ev);
    return rc;
}

/* Runs in migrate()'s transaction, under the migration lock: of two
 * servers upgrading together, the second finds version 5 and skips it. */
int
tlm__pg_rollup_backfill(
    struct tlm__pg_store *st, struct tlm__pg_conn *c, char *err, size_t n)
{
    char fetch[64];
    if (tlm__pg_command(st, c,
            "DECLARE tlm_backfill NO SCROLL CURSOR FOR"
            " SELECT ts_ms, environment, endpoint, status, type,"
            " sample_rate, response_time_ms, payload FROM events",
            err, n)
        != 0)
        return -1;
    snprintf(
        fetch, sizeof(fetch), "FETCH %d FROM tlm_backfill", BACKFILL_CHUNK);
    for (;;) {
        PGresult *r = PQexec(c->pg, fetch);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            return tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n) ? 0 : -1;
        int rows = PQntuples(r);
        int rc = rows > 0 ? backfill_chunk(st, c, r, err, n) : 0;
        PQclear(r);
        if (rc != 0)
            return -1;
        if (rows < BACKFILL_CHUNK)
            break;
    }
    return tlm__pg_command(st, c, "CLOSE tlm_backfill", err, n);
}

/* ---- compaction ---- */

/* Rows of resolution $1 before $3 go into rows of resolution $2: locked
 * in key order first (a batch upserting the same minute rows locks them
 * in that order too), deleted, summed and merged into the coarser rows.
 * Answers (rows deleted, rows written). */
static const char fold_sql[]
    = "WITH l AS (SELECT t_ms, environment, endpoint, status_class, tier"
      " FROM rollups WHERE res = $1 AND t_ms < $3"
      " ORDER BY " KEY_ORDER " FOR UPDATE),"
      " d AS (DELETE FROM rollups o USING l WHERE o.res = $1"
      " AND o.t_ms = l.t_ms AND o.environment = l.environment"
      " AND o.endpoint = l.endpoint AND o.status_class = l.status_class"
      " AND o.tier = l.tier"
      " RETURNING o.t_ms - ((o.t_ms % $2) + $2) % $2 AS t, o.environment,"
      " o.endpoint, o.status_class, o.tier, o.requests, o.errors, o.other,"
      " o.hidx, o.hcnt),"
      " s AS (SELECT t, environment, endpoint, status_class, tier,"
      " sum(requests) AS req, sum(errors) AS err, sum(other) AS oth"
      " FROM d GROUP BY 1, 2, 3, 4, 5),"
      " b AS (SELECT t, environment, endpoint, status_class, tier, x.i,"
      " sum(x.c) AS c FROM d, unnest(d.hidx, d.hcnt) AS x(i, c)"
      " WHERE x.i IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6),"
      " h AS (SELECT t, environment, endpoint, status_class, tier,"
      " array_agg(i ORDER BY i) AS hidx, array_agg(c ORDER BY i) AS hcnt"
      " FROM b GROUP BY 1, 2, 3, 4, 5),"
      " ins AS (INSERT INTO rollups AS r (" COLS ")"
      " SELECT $2, s.t, s.environment, s.endpoint, s.status_class, s.tier,"
      " s.req, s.err, s.oth, h.hidx, h.hcnt FROM s LEFT JOIN h"
      " USING (t, environment, endpoint, status_class, tier)"
      " ORDER BY s.t, s.environment COLLATE \"C\", s.endpoint COLLATE \"C\","
      " s.status_class, s.tier COLLATE \"C\"" MERGE " RETURNING 1)"
      " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM ins)";

static int64_t
floor_to(int64_t t, int64_t step)
{
    int64_t r = t % step;
    return r < 0 ? t - r - step : t - r;
}

static int
fold(struct tlm__pg_store *st, struct tlm__pg_conn *c, int64_t from_res,
    int64_t to_res, int64_t cut, uint64_t *folded, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_int8(&p, from_res);
    tlm__pg_int8(&p, to_res);
    tlm__pg_int8(&p, floor_to(cut, to_res));
    PGresult *r = tlm__pg_rows(st, c, fold_sql, &p, err, n);
    if (r == NULL)
        return -1;
    *folded += (uint64_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

struct compact_arg {
    int64_t minute_before, hour_before;
    uint64_t *folded;
};

/* One transaction holding the rollup lock: two servers compacting at once
 * take turns, and the second finds little or nothing left to fold. */
static int
op_compact(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct compact_arg *a = arg;
    char lock[64];
    *a->folded = 0;
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d)",
        TLM_PG_LOCK_ROLLUPS);
    if (tlm__pg_command(st, c, "BEGIN", err, n) != 0)
        return -1;
    if (tlm__pg_command(st, c, lock, err, n) != 0
        || fold(st, c, TLM_ROLLUP_MINUTE_MS, TLM_ROLLUP_HOUR_MS,
               a->minute_before, a->folded, err, n)
            != 0
        || fold(st, c, TLM_ROLLUP_HOUR_MS, TLM_ROLLUP_DAY_MS, a->hour_before,
               a->folded, err, n)
            != 0
        || tlm__pg_command(st, c, "COMMIT", err, n) != 0) {
        *a->folded = 0;
        *retry = strcmp(c->sqlstate, "40P01") == 0;
        return -1;
    }
    return 0;
}

int
tlm__pg_rollup_compact(struct tlm__store *base, int64_t minute_before_ms,
    int64_t hour_before_ms, uint64_t *folded)
{
    struct compact_arg a = {minute_before_ms, hour_before_ms, folded};
    int rc = tlm__pg_run(
        (struct tlm__pg_store *)base, "rollup compaction", op_compact, &a);
    if (rc != 0)
        *folded = 0;
    return rc;
}

/* ---- the dashboard ---- */

/* What the dashboard builder needs, read in three parts so that only the
 * rows it ranks carry their histograms: the current window's rows of the
 * environment asked for ($5; NULL: every one); the previous window's
 * requests per endpoint (only trends need them); and the current window's
 * other environments, per environment (the environments section and the
 * overall rate). $1..$2: the range, $3 endpoint, $4 tier (NULL: any). */
#define FILTERS                                                                \
    " AND ($3::text IS NULL OR endpoint = $3)"                                 \
    " AND ($4::text IS NULL OR tier = $4)"
static const char rows_sql[]
    = "SELECT t_ms, environment, endpoint, tier, requests, errors, other,"
      " hidx, hcnt FROM rollups WHERE t_ms >= $1 AND t_ms < $2" FILTERS
      " AND ($5::text IS NULL OR environment = $5)";
static const char previous_sql[]
    = "SELECT endpoint, sum(requests) FROM rollups"
      " WHERE t_ms >= $1 AND t_ms < $2" FILTERS
      " AND ($5::text IS NULL OR environment = $5) AND endpoint <> ''"
      " GROUP BY endpoint";
static const char envs_sql[]
    = "SELECT environment, sum(requests), sum(errors), sum(other)"
      " FROM rollups WHERE t_ms >= $1 AND t_ms < $2" FILTERS
      " AND $5::text IS NOT NULL AND environment <> $5 GROUP BY environment";

/* Per SDK version, as SQLite's: batches and the highest counters its
 * client_stats reported (tlm_client_stats: NULL for anything but a JSON
 * object with numbers). */
static const char sdk_health_sql[]
    = "SELECT v, count(*)::float8, max(s[1]), max(s[2]), max(s[3])"
      " FROM (SELECT COALESCE(sdk_version, '') AS v,"
      " tlm_client_stats(client_stats) AS s FROM batches"
      " WHERE received_ms >= $1 AND received_ms < $2) x"
      " GROUP BY v ORDER BY 2 DESC, v COLLATE \"C\" ASC LIMIT $3";

static uint32_t
get_u32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8
        | u[3];
}

static double
get_f8(const char *p)
{
    uint64_t bits = (uint64_t)tlm__pg_get_int8(p);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static double
col_double(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    return get_f8(PQgetvalue(r, row, col));
}

/* The elements of a binary one-dimensional array of fixed width w with
 * no NULL: *n of them at *data, each (int32 length, w bytes). NULL and
 * empty arrays have none. Returns 0, or -1 when malformed. */
static int
array_elems(
    const PGresult *r, int row, int col, size_t w, size_t *n, const char **data)
{
    const char *p = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);
    *n = 0;
    if (PQgetisnull(r, row, col))
        return 0;
    if (len < 12)
        return -1;
    if (get_u32(p) == 0)
        return 0;
    if (get_u32(p) != 1 || len < 20)
        return -1;
    *n = get_u32(p + 12);
    *data = p + 20;
    return len - 20 == *n * (4 + w) ? 0 : -1;
}

/* Decodes a row's (hidx, hcnt) into idx/cnt (TLM_HIST_SLOTS each). */
static int
decode_hist(
    const PGresult *r, int row, int col, uint16_t *idx, double *cnt, size_t *n)
{
    const char *pi = NULL, *pc = NULL;
    size_t ni, nc;
    if (array_elems(r, row, col, 4, &ni, &pi) != 0
        || array_elems(r, row, col + 1, 8, &nc, &pc) != 0 || ni != nc
        || ni > TLM_HIST_SLOTS)
        return -1;
    for (size_t k = 0; k < ni; k++) {
        uint32_t v = get_u32(pi + 8 * k + 4);
        if (get_u32(pi + 8 * k) != 4 || get_u32(pc + 12 * k) != 8
            || v >= TLM_HIST_SLOTS)
            return -1;
        idx[k] = (uint16_t)v;
        cnt[k] = get_f8(pc + 12 * k + 4);
    }
    *n = ni;
    return 0;
}

/* Runs one of the three reads for [from, to) in binary. */
static PGresult *
read_part(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *sql,
    const struct tlm__dash_query *q, int64_t from, int64_t to, char *err,
    size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_int8(&p, from);
    tlm__pg_int8(&p, to);
    tlm__pg_cstr(&p, q->endpoint);
    tlm__pg_cstr(&p, q->tier);
    tlm__pg_cstr(&p, q->environment);
    PGresult *r = tlm__pg_exec(c->pg, sql, &p, true);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    tlm__pg_fail(st, c, r, err, n);
    PQclear(r);
    return NULL;
}

static int
scan_rows(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_builder *b, int64_t from,
    char *err, size_t n)
{
    uint16_t *idx = malloc(TLM_HIST_SLOTS * sizeof(*idx));
    double *cnt = malloc(TLM_HIST_SLOTS * sizeof(*cnt));
    int64_t cur = floor_to(q->from_ms, TLM_ROLLUP_MINUTE_MS);
    PGresult *r = NULL;
    int rc = -1;
    if (idx == NULL || cnt == NULL) {
        rc = oom(err, n);
        goto out;
    }
    r = read_part(st, c, rows_sql, q, cur, q->to_ms, err, n);
    for (int i = 0; r != NULL && i < PQntuples(r); i++) {
        struct tlm__rollup_in row = {
            .t_ms = tlm__pg_get_int8(PQgetvalue(r, i, 0)),
            .environment = PQgetvalue(r, i, 1),
            .endpoint = PQgetvalue(r, i, 2),
            .tier = PQgetvalue(r, i, 3),
            .requests = col_double(r, i, 4),
            .errors = col_double(r, i, 5),
            .other = col_double(r, i, 6),
            .cnt = cnt,
        };
        if (decode_hist(r, i, 7, idx, cnt, &row.n_buckets) != 0) {
            snprintf(err, n, "rollups: malformed histogram arrays");
            goto out;
        }
        if (row.n_buckets > 0)
            row.idx = idx;
        if (tlm__dash_builder_add(b, &row) != 0) {
            rc = oom(err, n);
            goto out;
        }
    }
    if (r == NULL)
        goto out;
    PQclear(r);
    r = NULL;
    /* The other two parts go in as one row per group, placed where the
     * builder counts them and passing its filters. */
    const char *tier = q->tier != NULL ? q->tier : "";
    r = read_part(st, c, previous_sql, q, from, cur, err, n);
    for (int i = 0; r != NULL && i < PQntuples(r); i++) {
        struct tlm__rollup_in row = {.t_ms = from,
            .environment = q->environment != NULL ? q->environment : "",
            .endpoint = PQgetvalue(r, i, 0),
            .tier = tier,
            .requests = col_double(r, i, 1)};
        if (tlm__dash_builder_add(b, &row) != 0) {
            rc = oom(err, n);
            goto out;
        }
    }
    if (r == NULL)
        goto out;
    PQclear(r);
    r = NULL;
    r = read_part(st, c, envs_sql, q, cur, q->to_ms, err, n);
    for (int i = 0; r != NULL && i < PQntuples(r); i++) {
        struct tlm__rollup_in row = {.t_ms = cur,
            .environment = PQgetvalue(r, i, 0),
            .endpoint = q->endpoint != NULL ? q->endpoint : "",
            .tier = tier,
            .requests = col_double(r, i, 1),
            .errors = col_double(r, i, 2),
            .other = col_double(r, i, 3)};
        if (tlm__dash_builder_add(b, &row) != 0) {
            rc = oom(err, n);
            goto out;
        }
    }
    rc = r != NULL ? 0 : -1;
out:
    PQclear(r);
    free(idx);
    free(cnt);
    return rc;
}

static int
query_sdk_health(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_int8(&p, q->from_ms);
    tlm__pg_int8(&p, q->to_ms);
    tlm__pg_int8(&p, TLM_DASH_MAX_SDKS);
    PGresult *r = tlm__pg_exec(c->pg, sdk_health_sql, &p, true);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n) ? 0 : -1;
    for (int i = 0; i < PQntuples(r) && out->n_sdks < TLM_DASH_MAX_SDKS; i++) {
        struct tlm__dash_sdk_health *h = &out->sdks[out->n_sdks++];
        snprintf(h->sdk_version, sizeof(h->sdk_version), "%.*s",
            PQgetlength(r, i, 0), PQgetvalue(r, i, 0));
        h->batches = col_double(r, i, 1);
        h->dropped = col_double(r, i, 2);
        h->retried = col_double(r, i, 3);
        h->spooled = col_double(r, i, 4);
    }
    PQclear(r);
    return 0;
}

static int
query_size(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    struct tlm__dash_result *out, char *err, size_t n)
{
    PGresult *r = tlm__pg_exec(c->pg,
        "SELECT pg_database_size(current_database())::float8", NULL, true);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        out->store_bytes = col_double(r, 0, 0);
    return tlm__pg_expect(st, c, r, PGRES_TUPLES_OK, err, n) ? 0 : -1;
}

int
tlm__pg_rollup_dashboard(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__dash_query *q, struct tlm__dash_result *out, char *err,
    size_t n)
{
    struct tlm__dash_builder *b = NULL;
    int64_t from;
    int rc = -1;
    if (tlm__dash_builder_new(q, &b, &from) != 0)
        return oom(err, n);
    if (scan_rows(st, c, q, b, from, err, n) != 0)
        goto out;
    if (tlm__dash_builder_finish(b, out) != 0) {
        rc = oom(err, n);
        goto out;
    }
    if (query_sdk_health(st, c, q, out, err, n) != 0
        || query_size(st, c, out, err, n) != 0)
        goto out;
    rc = 0;
out:
    tlm__dash_builder_free(b);
    return rc;
}
