/* PostgreSQL backend, error groups: the same outcomes as
 * store_sqlite_errors.c for the same calls (the alert rule is documented
 * there and in docs/http-api.md, "Impact and alerts"). A batch's error
 * events update their groups inside the batch's own transaction
 * (tlm__pg_errors_apply, from store_pg_write.c), from its non-duplicate
 * events only, in a fixed number of statements per batch (its events are
 * aggregated per group and sent as arrays). Several servers may share the
 * database, so: a batch's groups are upserted in sorted id order (two
 * batches lock shared groups in one order and cannot deadlock; the
 * per-group tables are written only by a transaction holding its group's
 * row lock), and the alert rule reads its groups FOR UPDATE, so that of
 * two servers the second sees the level the first alerted and does not
 * alert again. Results are read in text format. */
#include "store_pg.h"
#include "store_pg_arr.h"

#include "rfc3339.h"
#include "uuid.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)
#define MAX_ALERTS 50

static const struct tlm__alert_policy default_policy = {
    .thresholds = {1000, 100, 10, 1},
    .window_ms = 3600 * 1000,
    .webhook = false,
};

static int
oom(char *err, size_t n)
{
    snprintf(err, n, "out of memory");
    return -1;
}

static double
get_double(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtod(PQgetvalue(r, row, col), NULL);
}

static bool
get_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static void
copy_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    snprintf(out, size, "%s",
        PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* ---- the batch's groups ----------------------------------------------- */

/* One group touched by a batch: its events' sums, and the batch index of
 * its first event (whose attributes a new group takes, as SQLite's first
 * INSERT does). */
struct touched {
    const char *id;
    size_t first;
    double events;
    int64_t first_ms;
    int64_t last_ms;
    int max_severity;
    /* The alert rule's reading: the level alerted so far, the impact now
     * and the window's events and users at it. */
    int last_alert;
    bool ignored;
    int impact;
    double window_events;
    double window_users;
};

static double
weight(const struct tlm__event *ev)
{
    return ev->sample_rate > 0 ? 1.0 / ev->sample_rate : 1.0;
}

/* qsort has no context argument: the events of the sort in progress. */
static _Thread_local const struct tlm__store_event *sort_events;

/* Batch indexes by group id, then batch order. */
static int
cmp_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(
        sort_events[x].error->group_id, sort_events[y].error->group_id);
    if (c != 0)
        return c;
    return (x > y) - (x < y);
}

static int
cmp_first(const void *a, const void *b)
{
    const struct touched *x = *(struct touched *const *)a;
    const struct touched *y = *(struct touched *const *)b;
    return (x->first > y->first) - (x->first < y->first);
}

/* The groups of the indexed events, in group id order. */
static size_t
collect(const struct tlm__store_event *ev, size_t *idx, size_t n,
    struct touched *out)
{
    size_t k = 0;
    sort_events = ev;
    qsort(idx, n, sizeof(*idx), cmp_index);
    sort_events = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct tlm__store_event *se = &ev[idx[i]];
        struct touched *t = k > 0 ? &out[k - 1] : NULL;
        if (t == NULL || strcmp(t->id, se->error->group_id) != 0) {
            t = &out[k++];
            t->id = se->error->group_id;
            t->first = idx[i];
            t->events = 0;
            t->first_ms = t->last_ms = se->ev.ts_ms;
            t->max_severity = se->error->severity;
        }
        t->events += weight(&se->ev);
        if (se->ev.ts_ms < t->first_ms)
            t->first_ms = se->ev.ts_ms;
        if (se->ev.ts_ms > t->last_ms)
            t->last_ms = se->ev.ts_ms;
        if (se->error->severity > t->max_severity)
            t->max_severity = se->error->severity;
    }
    return k;
}

/* Upserts the batch's groups in one statement, in id order: the row
 * locks of two batches sharing groups are taken in one order. A resolved
 * group that gets an event newer than its resolution is open again,
 * marked regressed, and may alert again. A new group takes the attributes
 * of the batch's first event of it. */
static int
upsert_groups(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct tlm__store_event *ev, const struct touched *t, size_t n_t,
    char *err, size_t n)
{
    enum {
        G_ID,
        G_FP,
        G_ENV,
        G_VER,
        G_CUSTOM,
        G_CODE,
        G_TITLE,
        G_CULPRIT,
        G_SEV,
        G_EVENTS,
        G_FIRST,
        G_LAST,
        N_G
    };
    static const Oid elem[N_G] = {TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_TEXT,
        TLM_PG_INT4, TLM_PG_BOOL, TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_TEXT,
        TLM_PG_INT4, TLM_PG_FLOAT8, TLM_PG_INT8, TLM_PG_INT8};
    static const Oid type[N_G]
        = {TLM_PG_TEXT_ARRAY, TLM_PG_TEXT_ARRAY, TLM_PG_TEXT_ARRAY,
            TLM_PG_INT4_ARRAY, TLM_PG_BOOL_ARRAY, TLM_PG_TEXT_ARRAY,
            TLM_PG_TEXT_ARRAY, TLM_PG_TEXT_ARRAY, TLM_PG_INT4_ARRAY,
            TLM_PG_FLOAT8_ARRAY, TLM_PG_INT8_ARRAY, TLM_PG_INT8_ARRAY};
    struct arr a[N_G] = {{0}};
    struct tlm__pg_params p = {0};
    int rc = -1;
    for (int k = 0; k < N_G; k++)
        arr_begin(&a[k], elem[k], n_t);
    for (size_t i = 0; i < n_t; i++) {
        const struct tlm__store_event *se = &ev[t[i].first];
        const struct tlm__error_info *e = se->error;
        unsigned char custom = e->custom ? 1 : 0;
        arr_str(&a[G_ID], t[i].id);
        arr_str(&a[G_FP], e->fingerprint);
        arr_str(
            &a[G_ENV], se->ev.environment != NULL ? se->ev.environment : "");
        arr_int(&a[G_VER], (uint32_t)e->grouping_version, 4);
        arr_elem(&a[G_CUSTOM], &custom, 1);
        arr_str(&a[G_CODE], se->ev.error_code);
        arr_str(&a[G_TITLE], e->title != NULL ? e->title : "");
        arr_str(&a[G_CULPRIT], e->culprit != NULL ? e->culprit : "");
        arr_int(&a[G_SEV], (uint32_t)t[i].max_severity, 4);
        arr_double(&a[G_EVENTS], t[i].events);
        arr_int(&a[G_FIRST], (uint64_t)t[i].first_ms, 8);
        arr_int(&a[G_LAST], (uint64_t)t[i].last_ms, 8);
    }
    for (int k = 0; k < N_G; k++) {
        if (a[k].failed) {
            oom(err, n);
            goto out;
        }
        tlm__pg_bytes(&p, type[k], a[k].p, (int)a[k].len);
    }
    if (tlm__pg_changes(st, c,
            "INSERT INTO error_groups AS g (id, fingerprint, environment,"
            " grouping_version, custom, error_code, title, culprit,"
            " max_severity, events, first_seen_ms, last_seen_ms)"
            " SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
            " $11, $12) AS u(id, fp, env, ver, custom, code, title, culprit,"
            " sev, events, first_ms, last_ms) ORDER BY u.id COLLATE \"C\""
            " ON CONFLICT (id) DO UPDATE SET"
            " events = g.events + excluded.events,"
            " first_seen_ms = LEAST(g.first_seen_ms, excluded.first_seen_ms),"
            " last_seen_ms = GREATEST(g.last_seen_ms, excluded.last_seen_ms),"
            " max_severity = GREATEST(g.max_severity, excluded.max_severity),"
            " regressed = CASE WHEN g.status = 'resolved' AND"
            "  excluded.last_seen_ms > g.resolved_ms THEN true"
            "  ELSE g.regressed END,"
            " last_alert_level = CASE WHEN g.status = 'resolved' AND"
            "  excluded.last_seen_ms > g.resolved_ms THEN -1"
            "  ELSE g.last_alert_level END,"
            " status = CASE WHEN g.status = 'resolved' AND"
            "  excluded.last_seen_ms > g.resolved_ms THEN 'unresolved'"
            "  ELSE g.status END",
            &p, err, n)
        == (int64_t)n_t)
        rc = 0;
    else if (err[0] == '\0')
        snprintf(err, n, "error groups: not every group was stored");
out:
    for (int k = 0; k < N_G; k++)
        free(a[k].p);
    return rc;
}

enum { A_GROUP, A_TS, A_SEV, A_W, A_USER, A_EP, A_ID, N_ARRS };

/* Per-event columns of the indexed events, in group id order. */
static int
build_event_arrays(const struct tlm__store_event *ev, const size_t *idx,
    size_t n, struct arr *a)
{
    static const Oid elem[N_ARRS] = {TLM_PG_TEXT, TLM_PG_INT8, TLM_PG_INT4,
        TLM_PG_FLOAT8, TLM_PG_TEXT, TLM_PG_TEXT, TLM_PG_UUID};
    for (int k = 0; k < N_ARRS; k++)
        arr_begin(&a[k], elem[k], n);
    for (size_t i = 0; i < n; i++) {
        const struct tlm__store_event *se = &ev[idx[i]];
        unsigned char id[16];
        arr_str(&a[A_GROUP], se->error->group_id);
        arr_int(&a[A_TS], (uint64_t)se->ev.ts_ms, 8);
        arr_int(&a[A_SEV], (uint32_t)se->error->severity, 4);
        arr_double(&a[A_W], weight(&se->ev));
        arr_str(&a[A_USER], se->ev.user_id);
        arr_str(&a[A_EP], se->ev.endpoint);
        if (tlm__uuid_bytes(se->ev.id, strlen(se->ev.id), id) == 0)
            arr_elem(&a[A_ID], id, 16);
        else
            arr_elem(&a[A_ID], NULL, 0); /* tags nothing */
    }
    for (int k = 0; k < N_ARRS; k++) {
        if (a[k].failed)
            return -1;
    }
    return 0;
}

/* Minutes by severity, users, endpoints and the events' group_id, each in
 * one statement over the batch's arrays, in key order. */
static int
apply_rows(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct arr *a, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    array_param(&p, &a[A_GROUP], TLM_PG_TEXT_ARRAY);
    array_param(&p, &a[A_TS], TLM_PG_INT8_ARRAY);
    array_param(&p, &a[A_SEV], TLM_PG_INT4_ARRAY);
    array_param(&p, &a[A_W], TLM_PG_FLOAT8_ARRAY);
    if (tlm__pg_changes(st, c,
            "INSERT INTO error_group_minutes AS m (group_id, minute, severity,"
            " events) SELECT u.g, u.ts / 60000 * 60000, u.sev, sum(u.w)"
            " FROM unnest($1, $2, $3, $4) AS u(g, ts, sev, w)"
            " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            " ON CONFLICT (group_id, minute, severity)"
            " DO UPDATE SET events = m.events + excluded.events",
            &p, err, n)
        < 0)
        return -1;
    p.n = 0;
    array_param(&p, &a[A_GROUP], TLM_PG_TEXT_ARRAY);
    array_param(&p, &a[A_TS], TLM_PG_INT8_ARRAY);
    array_param(&p, &a[A_SEV], TLM_PG_INT4_ARRAY);
    array_param(&p, &a[A_USER], TLM_PG_TEXT_ARRAY);
    if (tlm__pg_changes(st, c,
            "INSERT INTO error_group_users AS x (group_id, user_id, severity,"
            " last_seen_ms) SELECT u.g, u.usr, u.sev, max(u.ts)"
            " FROM unnest($1, $2, $3, $4) AS u(g, ts, sev, usr)"
            " WHERE u.usr IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            " ON CONFLICT (group_id, user_id, severity) DO UPDATE SET"
            " last_seen_ms = GREATEST(x.last_seen_ms, excluded.last_seen_ms)",
            &p, err, n)
        < 0)
        return -1;
    p.n = 0;
    array_param(&p, &a[A_GROUP], TLM_PG_TEXT_ARRAY);
    array_param(&p, &a[A_W], TLM_PG_FLOAT8_ARRAY);
    array_param(&p, &a[A_EP], TLM_PG_TEXT_ARRAY);
    if (tlm__pg_changes(st, c,
            "INSERT INTO error_group_endpoints AS x (group_id, endpoint,"
            " events) SELECT u.g, u.ep, sum(u.w)"
            " FROM unnest($1, $2, $3) AS u(g, w, ep)"
            " WHERE u.ep IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
            " ON CONFLICT (group_id, endpoint)"
            " DO UPDATE SET events = x.events + excluded.events",
            &p, err, n)
        < 0)
        return -1;
    p.n = 0;
    array_param(&p, &a[A_GROUP], TLM_PG_TEXT_ARRAY);
    array_param(&p, &a[A_TS], TLM_PG_INT8_ARRAY);
    array_param(&p, &a[A_ID], TLM_PG_UUID_ARRAY);
    return tlm__pg_changes(st, c,
               "UPDATE events AS e SET group_id = u.g"
               " FROM unnest($1, $2, $3) AS u(g, ts, id)"
               " WHERE e.id = u.id AND e.ts_ms = u.ts",
               &p, err, n)
            < 0
        ? -1
        : 0;
}

/* The "error.alert" webhook document, as store_sqlite_errors.c makes it;
 * NULL with err set on failure. */
static char *
alert_doc(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *group_id, const char *delivery_id, int level, double events,
    double users, int64_t window_ms, int64_t now, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    char t[TLM_RFC3339_BUF];
    char *text = NULL;
    tlm__pg_cstr(&p, group_id);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT title, culprit, environment, error_code, first_seen_ms,"
        " last_seen_ms, events, regressed FROM error_groups WHERE id = $1",
        &p, err, n);
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 1) {
        cJSON *o = cJSON_CreateObject();
        cJSON *g = cJSON_AddObjectToObject(o, "group");
        cJSON_AddStringToObject(o, "type", "error.alert");
        cJSON_AddStringToObject(o, "delivery_id", delivery_id);
        tlm__rfc3339_format(now, t, sizeof(t));
        cJSON_AddStringToObject(o, "created_at", t);
        cJSON_AddStringToObject(o, "impact", tlm__severity_name(level));
        cJSON_AddNumberToObject(o, "events_in_window", events);
        cJSON_AddNumberToObject(o, "users_in_window", users);
        cJSON_AddNumberToObject(
            o, "window_minutes", (double)(window_ms / 60000));
        cJSON_AddStringToObject(g, "id", group_id);
        cJSON_AddStringToObject(g, "title", PQgetvalue(r, 0, 0));
        cJSON_AddStringToObject(g, "culprit", PQgetvalue(r, 0, 1));
        cJSON_AddStringToObject(g, "environment", PQgetvalue(r, 0, 2));
        if (PQgetisnull(r, 0, 3))
            cJSON_AddNullToObject(g, "error_code");
        else
            cJSON_AddStringToObject(g, "error_code", PQgetvalue(r, 0, 3));
        tlm__rfc3339_format(tlm__pg_int(r, 0, 4), t, sizeof(t));
        cJSON_AddStringToObject(g, "first_seen", t);
        tlm__rfc3339_format(tlm__pg_int(r, 0, 5), t, sizeof(t));
        cJSON_AddStringToObject(g, "last_seen", t);
        cJSON_AddNumberToObject(g, "events", get_double(r, 0, 6));
        cJSON_AddBoolToObject(g, "regressed", get_bool(r, 0, 7));
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    PQclear(r);
    if (text == NULL)
        snprintf(err, n, "error alert document: no group or no memory");
    return text;
}

static int
record_alert(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const char *group_id, const struct tlm__alert_policy *pol, int level,
    double events, double users, int64_t now, char *err, size_t n)
{
    char did[40] = "";
    struct tlm__pg_params p = {0};
    if (pol->webhook)
        tlm__uuid7(did);
    tlm__pg_cstr(&p, group_id);
    tlm__pg_int8(&p, level);
    tlm__pg_float8(&p, events);
    tlm__pg_float8(&p, users);
    tlm__pg_int8(&p, pol->window_ms);
    tlm__pg_int8(&p, now);
    tlm__pg_cstr(&p, did[0] != '\0' ? did : NULL);
    if (tlm__pg_changes(st, c,
            "INSERT INTO error_alerts (group_id, level, events, users,"
            " window_ms, created_ms, delivery_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &p, err, n)
        != 1)
        return -1;
    if (!pol->webhook)
        return 0;
    struct tlm__outbox_item it = {.type = "error.alert"};
    char *body = alert_doc(st, c, group_id, did, level, events, users,
        pol->window_ms, now, err, n);
    if (body == NULL)
        return -1;
    memcpy(it.id, did, sizeof(did));
    it.body = body;
    it.body_len = strlen(body);
    int rc = tlm__pg_outbox_put(st, c, &it, now, err, n);
    free(body);
    return rc;
}

/* Reads the alert rule for the groups t[0..n_t) (in id order) at now:
 * locks their rows (FOR UPDATE, in id order), then their events and
 * distinct users of severity >= each level in the window; fills each
 * one's last_alert, ignored, impact and window counts. */
static int
evaluate(struct tlm__pg_store *st, struct tlm__pg_conn *c, struct touched *t,
    size_t n_t, const struct tlm__alert_policy *pol, int64_t now, char *err,
    size_t n)
{
    struct arr ids = {0};
    struct tlm__pg_params p = {0};
    int64_t from = now - pol->window_ms;
    int rc = -1;
    PGresult *r = NULL;
    arr_begin(&ids, TLM_PG_TEXT, n_t);
    for (size_t i = 0; i < n_t; i++) {
        arr_str(&ids, t[i].id);
        t[i].last_alert = -1;
        t[i].ignored = false;
        t[i].impact = -1;
        t[i].window_events = t[i].window_users = 0;
    }
    if (ids.failed) {
        oom(err, n);
        goto out;
    }
    tlm__pg_bytes(&p, TLM_PG_TEXT_ARRAY, ids.p, (int)ids.len);
    r = tlm__pg_rows(st, c,
        "SELECT u.k, g.last_alert_level, g.status = 'ignored'"
        " FROM unnest($1) WITH ORDINALITY AS u(id, k)"
        " JOIN error_groups g ON g.id = u.id"
        " ORDER BY u.id COLLATE \"C\" FOR UPDATE OF g",
        &p, err, n);
    if (r == NULL)
        goto out;
    if ((size_t)PQntuples(r) != n_t) {
        snprintf(err, n, "error groups: a group vanished");
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t k = tlm__pg_int(r, i, 0) - 1;
        if (k < 0 || (size_t)k >= n_t)
            continue;
        t[k].last_alert = (int)tlm__pg_int(r, i, 1);
        t[k].ignored = get_bool(r, i, 2);
    }
    PQclear(r);
    /* Highest level first: a group's impact is the first one crossed. */
    tlm__pg_int8(&p, from / 60000 * 60000);
    tlm__pg_int8(&p, from);
    r = tlm__pg_rows(st, c,
        "SELECT u.k, l.level,"
        " (SELECT COALESCE(SUM(m.events), 0) FROM error_group_minutes m"
        "  WHERE m.group_id = u.id AND m.minute >= $2"
        "  AND m.severity >= l.level),"
        " (SELECT COUNT(DISTINCT x.user_id) FROM error_group_users x"
        "  WHERE x.group_id = u.id AND x.last_seen_ms >= $3"
        "  AND x.severity >= l.level)"
        " FROM unnest($1) WITH ORDINALITY AS u(id, k)"
        " CROSS JOIN generate_series(" /* TLM_SEVERITIES - 1 */ "3, 0, -1)"
        " AS l(level) ORDER BY u.k, l.level DESC",
        &p, err, n);
    if (r == NULL)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t k = tlm__pg_int(r, i, 0) - 1;
        int level = (int)tlm__pg_int(r, i, 1);
        double e = get_double(r, i, 2), u = get_double(r, i, 3);
        if (k < 0 || (size_t)k >= n_t || level < 0 || level >= TLM_SEVERITIES
            || t[k].impact >= 0)
            continue;
        if (e + u >= pol->thresholds[level]) {
            t[k].impact = level;
            t[k].window_events = e;
            t[k].window_users = u;
        }
    }
    rc = 0;
out:
    PQclear(r);
    free(ids.p);
    return rc;
}

static bool
alerts(const struct touched *t)
{
    return t->impact > t->last_alert && !t->ignored;
}

/* Records each group's impact and the level it alerted at. */
static int
record_impacts(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    const struct touched *t, size_t n_t, char *err, size_t n)
{
    struct arr a[3] = {{0}};
    struct tlm__pg_params p = {0};
    int rc = -1;
    arr_begin(&a[0], TLM_PG_TEXT, n_t);
    arr_begin(&a[1], TLM_PG_INT4, n_t);
    arr_begin(&a[2], TLM_PG_INT4, n_t);
    for (size_t i = 0; i < n_t; i++) {
        arr_str(&a[0], t[i].id);
        arr_int(&a[1], (uint32_t)t[i].impact, 4);
        arr_int(&a[2],
            (uint32_t)(alerts(&t[i]) ? t[i].impact : t[i].last_alert), 4);
    }
    if (a[0].failed || a[1].failed || a[2].failed) {
        oom(err, n);
        goto out;
    }
    tlm__pg_bytes(&p, TLM_PG_TEXT_ARRAY, a[0].p, (int)a[0].len);
    tlm__pg_bytes(&p, TLM_PG_INT4_ARRAY, a[1].p, (int)a[1].len);
    tlm__pg_bytes(&p, TLM_PG_INT4_ARRAY, a[2].p, (int)a[2].len);
    if (tlm__pg_changes(st, c,
            "UPDATE error_groups AS g SET"
            " impact = GREATEST(g.impact, u.impact), last_alert_level = u.last"
            " FROM unnest($1, $2, $3) AS u(id, impact, last)"
            " WHERE g.id = u.id",
            &p, err, n)
        >= 0)
        rc = 0;
out:
    for (int k = 0; k < 3; k++)
        free(a[k].p);
    return rc;
}

int
tlm__pg_errors_apply(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    struct tlm__store_batch *b, char *err, size_t n)
{
    const struct tlm__alert_policy *pol
        = b->alerts != NULL ? b->alerts : &default_policy;
    size_t *idx = NULL, n_idx = 0, n_touched = 0;
    struct touched *touched = NULL, **order = NULL;
    struct arr a[N_ARRS] = {{0}};
    int rc = -1;

    b->alerts_raised = 0;
    for (size_t i = 0; i < b->n_events; i++) {
        if (b->events[i].error != NULL && !b->events[i].duplicate)
            n_idx++;
    }
    if (n_idx == 0)
        return 0;
    idx = calloc(n_idx, sizeof(*idx));
    touched = calloc(n_idx, sizeof(*touched));
    order = calloc(n_idx, sizeof(*order));
    if (idx == NULL || touched == NULL || order == NULL) {
        oom(err, n);
        goto out;
    }
    n_idx = 0;
    for (size_t i = 0; i < b->n_events; i++) {
        if (b->events[i].error != NULL && !b->events[i].duplicate)
            idx[n_idx++] = i;
    }
    n_touched = collect(b->events, idx, n_idx, touched);
    if (upsert_groups(st, c, b->events, touched, n_touched, err, n) != 0)
        goto out;
    if (build_event_arrays(b->events, idx, n_idx, a) != 0) {
        oom(err, n);
        goto out;
    }
    if (apply_rows(st, c, a, err, n) != 0
        || evaluate(st, c, touched, n_touched, pol, b->received_ms, err, n) != 0
        || record_impacts(st, c, touched, n_touched, err, n) != 0)
        goto out;
    /* Alerts in the order the batch first named their groups, as SQLite
     * records them. */
    for (size_t k = 0; k < n_touched; k++)
        order[k] = &touched[k];
    qsort(order, n_touched, sizeof(*order), cmp_first);
    for (size_t k = 0; k < n_touched; k++) {
        const struct touched *t = order[k];
        if (!alerts(t))
            continue;
        if (record_alert(st, c, t->id, pol, t->impact, t->window_events,
                t->window_users, b->received_ms, err, n)
            != 0)
            goto out;
        b->alerts_raised++;
    }
    rc = 0;
out:
    for (int k = 0; k < N_ARRS; k++)
        free(a[k].p);
    free(idx);
    free(touched);
    free(order);
    return rc;
}

/* ---- reads ------------------------------------------------------------ */

#define GROUP_COLS                                                             \
    "g.id, g.fingerprint, g.environment, g.title, g.culprit, g.error_code,"    \
    " g.status, g.impact, g.max_severity, g.grouping_version, g.custom,"       \
    " g.regressed, g.events, g.first_seen_ms, g.last_seen_ms,"                 \
    " COALESCE(g.resolved_ms, 0) AS resolved,"                                 \
    " (SELECT COALESCE(SUM(m.events), 0) FROM error_group_minutes m"           \
    "  WHERE m.group_id = g.id AND m.minute >= $1) AS e24,"                    \
    " (SELECT COUNT(DISTINCT u.user_id) FROM error_group_users u"              \
    "  WHERE u.group_id = g.id) AS users"

static int
read_group(const PGresult *r, int i, struct tlm__error_group *g)
{
    memset(g, 0, sizeof(*g));
    copy_text(r, i, 0, g->id, sizeof(g->id));
    copy_text(r, i, 1, g->fingerprint, sizeof(g->fingerprint));
    g->environment = tlm__pg_dup(r, i, 2);
    g->title = tlm__pg_dup(r, i, 3);
    g->culprit = tlm__pg_dup(r, i, 4);
    g->error_code = tlm__pg_dup(r, i, 5);
    g->status = tlm__pg_dup(r, i, 6);
    g->impact = (int)tlm__pg_int(r, i, 7);
    g->max_severity = (int)tlm__pg_int(r, i, 8);
    g->grouping_version = (int)tlm__pg_int(r, i, 9);
    g->custom = get_bool(r, i, 10);
    g->regressed = get_bool(r, i, 11);
    g->events = get_double(r, i, 12);
    g->first_seen_ms = tlm__pg_int(r, i, 13);
    g->last_seen_ms = tlm__pg_int(r, i, 14);
    g->resolved_ms = tlm__pg_int(r, i, 15);
    g->events_24h = get_double(r, i, 16);
    g->users = get_double(r, i, 17);
    int sev = g->impact > g->max_severity ? g->impact : g->max_severity;
    g->priority = (sev + 1) * g->events_24h;
    if (g->environment == NULL || g->title == NULL || g->culprit == NULL
        || g->status == NULL)
        return -1;
    return 0;
}

static int
read_endpoints(struct tlm__pg_store *st, struct tlm__pg_conn *c,
    struct tlm__error_group *g, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    tlm__pg_cstr(&p, g->id);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT endpoint, events FROM error_group_endpoints"
        " WHERE group_id = $1 ORDER BY events DESC, endpoint COLLATE \"C\""
        " LIMIT 5",
        &p, err, n);
    if (r == NULL)
        return -1;
    g->endpoints = calloc(5, sizeof(*g->endpoints));
    if (g->endpoints == NULL) {
        PQclear(r);
        return oom(err, n);
    }
    for (int i = 0; i < PQntuples(r) && g->n_endpoints < 5; i++) {
        struct tlm__group_endpoint *e = &g->endpoints[g->n_endpoints++];
        e->endpoint = tlm__pg_dup(r, i, 0);
        e->events = get_double(r, i, 1);
        if (e->endpoint == NULL) {
            PQclear(r);
            return oom(err, n);
        }
    }
    PQclear(r);
    return 0;
}

struct list_arg {
    const struct tlm__group_query *q;
    struct tlm__error_group **rows;
    size_t *n;
    bool *more;
};

static int
op_groups_list(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct list_arg *a = arg;
    const struct tlm__group_query *q = a->q;
    struct tlm__pg_params p = {0};
    struct tlm__error_group *out = NULL;
    size_t len = 0;
    int rc = -1;
    (void)retry;
    tlm__pg_int8(&p, (q->now_ms - DAY_MS) / 60000 * 60000);
    tlm__pg_cstr(&p, q->environment);
    tlm__pg_cstr(&p, q->endpoint);
    tlm__pg_int8(&p, q->impact);
    tlm__pg_cstr(&p, q->status);
    tlm__pg_int8(&p, (int64_t)q->sort);
    tlm__pg_int8(&p, (int64_t)q->limit + 1);
    tlm__pg_int8(&p, (int64_t)q->offset);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT * FROM (SELECT " GROUP_COLS " FROM error_groups g WHERE"
        " ($2::text IS NULL OR g.environment = $2)"
        " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM"
        "  error_group_endpoints e WHERE e.group_id = g.id"
        "  AND e.endpoint = $3))"
        " AND ($4 < 0 OR g.impact = $4)"
        " AND (CASE WHEN $5::text IS NULL THEN g.status <> 'ignored'"
        "  ELSE g.status = $5 END)) x"
        " ORDER BY CASE $6 WHEN 0 THEN"
        "  (GREATEST(x.impact, x.max_severity) + 1) * x.e24"
        "  WHEN 1 THEN x.last_seen_ms::double precision"
        "  ELSE x.events END DESC, x.id COLLATE \"C\""
        " LIMIT $7 OFFSET $8",
        &p, err, n);
    if (r == NULL)
        return -1;
    out = calloc(q->limit + 1, sizeof(*out));
    if (out == NULL) {
        PQclear(r);
        return oom(err, n);
    }
    for (int i = 0; i < PQntuples(r); i++) {
        if (len == q->limit) {
            *a->more = true;
            break;
        }
        if (read_group(r, i, &out[len++]) != 0) {
            oom(err, n);
            goto out;
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (read_endpoints(st, c, &out[i], err, n) != 0)
            goto out;
    }
    rc = 0;
out:
    PQclear(r);
    if (rc != 0) {
        tlm__error_groups_free(out, len);
        return -1;
    }
    *a->rows = out;
    *a->n = len;
    return 0;
}

int
tlm__pg_error_groups_list(struct tlm__store *base,
    const struct tlm__group_query *q, struct tlm__error_group **rows, size_t *n,
    bool *more)
{
    struct list_arg a = {q, rows, n, more};
    *rows = NULL;
    *n = 0;
    *more = false;
    return tlm__pg_run(
        (struct tlm__pg_store *)base, "error groups list", op_groups_list, &a);
}

static int
read_detail(struct tlm__pg_store *st, struct tlm__pg_conn *c, const char *id,
    int64_t now, struct tlm__group_detail *d, char *err, size_t n)
{
    struct tlm__pg_params p = {0};
    PGresult *r;
    d->minutes = calloc(TLM_GROUP_MINUTES + 1, sizeof(*d->minutes));
    d->samples = calloc(TLM_GROUP_SAMPLES, sizeof(*d->samples));
    d->alerts = calloc(MAX_ALERTS, sizeof(*d->alerts));
    if (d->minutes == NULL || d->samples == NULL || d->alerts == NULL)
        return oom(err, n);
    tlm__pg_cstr(&p, id);
    tlm__pg_int8(&p, (now - TLM_GROUP_MINUTES * 60000LL) / 60000 * 60000);
    tlm__pg_int8(&p, TLM_GROUP_MINUTES + 1);
    r = tlm__pg_rows(st, c,
        "SELECT minute, SUM(events) FROM error_group_minutes"
        " WHERE group_id = $1 AND minute >= $2 GROUP BY minute"
        " ORDER BY minute LIMIT $3",
        &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r) && d->n_minutes <= TLM_GROUP_MINUTES;
         i++) {
        d->minutes[d->n_minutes].minute_ms = tlm__pg_int(r, i, 0);
        d->minutes[d->n_minutes].events = get_double(r, i, 1);
        d->n_minutes++;
    }
    PQclear(r);
    p.n = 1;
    tlm__pg_int8(&p, TLM_GROUP_SAMPLES);
    r = tlm__pg_rows(st, c,
        "SELECT payload FROM events WHERE group_id = $1"
        " ORDER BY ts_ms DESC, seq DESC LIMIT $2",
        &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r) && d->n_samples < TLM_GROUP_SAMPLES; i++) {
        d->samples[d->n_samples] = tlm__pg_dup(r, i, 0);
        if (d->samples[d->n_samples] == NULL) {
            PQclear(r);
            return oom(err, n);
        }
        d->n_samples++;
    }
    PQclear(r);
    p.n = 1;
    tlm__pg_int8(&p, MAX_ALERTS);
    r = tlm__pg_rows(st, c,
        "SELECT level, events, users, window_ms, created_ms,"
        " COALESCE(delivery_id, '') FROM error_alerts WHERE group_id = $1"
        " ORDER BY seq DESC LIMIT $2",
        &p, err, n);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r) && d->n_alerts < MAX_ALERTS; i++) {
        struct tlm__group_alert *x = &d->alerts[d->n_alerts++];
        x->level = (int)tlm__pg_int(r, i, 0);
        x->events = get_double(r, i, 1);
        x->users = get_double(r, i, 2);
        x->window_ms = tlm__pg_int(r, i, 3);
        x->created_ms = tlm__pg_int(r, i, 4);
        copy_text(r, i, 5, x->delivery_id, sizeof(x->delivery_id));
    }
    PQclear(r);
    return 0;
}

struct get_arg {
    const char *id;
    int64_t now_ms;
    struct tlm__group_detail *out;
    int result;
};

/* One snapshot for the group and its page, as SQLite's read transaction. */
static int
op_group_get(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct get_arg *a = arg;
    struct tlm__pg_params p = {0};
    (void)retry;
    tlm__group_detail_free(a->out);
    a->result = -1;
    if (tlm__pg_command(
            st, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, n)
        != 0)
        return -1;
    tlm__pg_int8(&p, (a->now_ms - DAY_MS) / 60000 * 60000);
    tlm__pg_cstr(&p, a->id);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT " GROUP_COLS " FROM error_groups g WHERE g.id = $2", &p, err,
        n);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        a->result = TLM_FR_NOT_FOUND;
        return tlm__pg_command(st, c, "COMMIT", err, n);
    }
    int rc = read_group(r, 0, &a->out->group) != 0 ? oom(err, n) : 0;
    PQclear(r);
    if (rc != 0 || read_endpoints(st, c, &a->out->group, err, n) != 0
        || read_detail(st, c, a->id, a->now_ms, a->out, err, n) != 0
        || tlm__pg_command(st, c, "COMMIT", err, n) != 0) {
        tlm__group_detail_free(a->out);
        return -1;
    }
    a->result = 0;
    return 0;
}

int
tlm__pg_error_group_get(struct tlm__store *base, const char *id, int64_t now_ms,
    struct tlm__group_detail *out)
{
    struct get_arg a = {id, now_ms, out, -1};
    memset(out, 0, sizeof(*out));
    if (tlm__pg_run(
            (struct tlm__pg_store *)base, "error group get", op_group_get, &a)
        != 0) {
        tlm__group_detail_free(out);
        return -1;
    }
    return a.result;
}

struct status_arg {
    const char *id;
    const char *status;
    int64_t now_ms;
    int result;
};

static int
op_group_status(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct status_arg *a = arg;
    struct tlm__pg_params p = {0};
    (void)retry;
    tlm__pg_cstr(&p, a->id);
    tlm__pg_cstr(&p, a->status);
    tlm__pg_int8(&p, a->now_ms);
    int64_t changed = tlm__pg_changes(st, c,
        "UPDATE error_groups SET status = $2,"
        " resolved_ms = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolved_ms"
        " END, regressed = CASE WHEN $2 = 'resolved' THEN false"
        " ELSE regressed END WHERE id = $1",
        &p, err, n);
    if (changed < 0)
        return -1;
    a->result = changed > 0 ? 0 : TLM_FR_NOT_FOUND;
    return 0;
}

int
tlm__pg_error_group_set_status(
    struct tlm__store *base, const char *id, const char *status, int64_t now_ms)
{
    struct status_arg a = {id, status, now_ms, -1};
    if (tlm__pg_run((struct tlm__pg_store *)base, "error group status",
            op_group_status, &a)
        != 0)
        return -1;
    return a.result;
}

struct alerts_arg {
    int64_t from_ms;
    int64_t to_ms;
    const char *environment;
    size_t limit;
    struct tlm__alert_row **rows;
    size_t *n;
};

static int
op_alerts(struct tlm__pg_store *st, struct tlm__pg_conn *c, void *arg,
    bool *retry, char *err, size_t n)
{
    struct alerts_arg *a = arg;
    struct tlm__pg_params p = {0};
    struct tlm__alert_row *out;
    size_t len = 0;
    (void)retry;
    tlm__pg_int8(&p, a->from_ms);
    tlm__pg_int8(&p, a->to_ms);
    tlm__pg_cstr(&p, a->environment);
    tlm__pg_int8(&p, (int64_t)a->limit);
    PGresult *r = tlm__pg_rows(st, c,
        "SELECT x.group_id, g.title, g.environment, x.level, x.events,"
        " x.users, x.window_ms, x.created_ms, COALESCE(x.delivery_id, '')"
        " FROM error_alerts x JOIN error_groups g ON g.id = x.group_id"
        " WHERE x.created_ms >= $1 AND x.created_ms < $2"
        " AND ($3::text IS NULL OR g.environment = $3)"
        " ORDER BY x.seq DESC LIMIT $4",
        &p, err, n);
    if (r == NULL)
        return -1;
    out = calloc(a->limit > 0 ? a->limit : 1, sizeof(*out));
    if (out == NULL) {
        PQclear(r);
        return oom(err, n);
    }
    for (int i = 0; i < PQntuples(r) && len < a->limit; i++) {
        struct tlm__alert_row *w = &out[len++];
        copy_text(r, i, 0, w->group_id, sizeof(w->group_id));
        w->title = tlm__pg_dup(r, i, 1);
        w->environment = tlm__pg_dup(r, i, 2);
        w->alert.level = (int)tlm__pg_int(r, i, 3);
        w->alert.events = get_double(r, i, 4);
        w->alert.users = get_double(r, i, 5);
        w->alert.window_ms = tlm__pg_int(r, i, 6);
        w->alert.created_ms = tlm__pg_int(r, i, 7);
        copy_text(r, i, 8, w->alert.delivery_id, sizeof(w->alert.delivery_id));
        if (w->title == NULL || w->environment == NULL) {
            PQclear(r);
            tlm__alert_rows_free(out, len);
            return oom(err, n);
        }
    }
    PQclear(r);
    *a->rows = out;
    *a->n = len;
    return 0;
}

int
tlm__pg_alerts_recent(struct tlm__store *base, int64_t from_ms, int64_t to_ms,
    const char *environment, size_t limit, struct tlm__alert_row **rows,
    size_t *n)
{
    struct alerts_arg a = {from_ms, to_ms, environment, limit, rows, n};
    *rows = NULL;
    *n = 0;
    return tlm__pg_run((struct tlm__pg_store *)base, "alerts", op_alerts, &a);
}
