/* SQLite backend, error groups: the per-group counters a batch updates in
 * its own transaction (events, per-minute counts by severity, users,
 * endpoints, the events' group_id), the alert rule evaluated after them,
 * and the reads of the admin routes. The alert rule (docs/http-api.md,
 * "Impact and alerts"): level L is crossed when, over the window, the
 * group's events of severity >= L plus its distinct users affected by them
 * reach threshold[L]; the group's impact is the highest level crossed; an
 * alert is recorded when the impact rises above the highest level already
 * alerted since the group was opened (or reopened by a regression). */
#include "store_sqlite.h"

#include "rfc3339.h"
#include "uuid.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

static const struct tlm__alert_policy default_policy = {
    .thresholds = {1000, 100, 10, 1},
    .window_ms = 3600 * 1000,
    .webhook = false,
};

static void
log_error(sqlite3 *db, const char *what)
{
    fprintf(stderr, "telemetry-server: sqlite %s failed: %s\n", what,
        sqlite3_errmsg(db));
}

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

static void
bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static char *
column_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t != NULL ? strdup((const char *)t) : NULL;
}

static int
step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

struct group_stmts {
    sqlite3_stmt *group, *minute, *user, *endpoint, *tag;
};

static void
finalize_all(struct group_stmts *g)
{
    sqlite3_finalize(g->group);
    sqlite3_finalize(g->minute);
    sqlite3_finalize(g->user);
    sqlite3_finalize(g->endpoint);
    sqlite3_finalize(g->tag);
}

static int
prepare_all(sqlite3 *db, struct group_stmts *g)
{
    /* A resolved group that gets an event newer than its resolution is
     * open again, marked regressed, and may alert again. */
    g->group = prep(db,
        "INSERT INTO error_groups(id, fingerprint, environment,"
        " grouping_version, custom, error_code, title, culprit, max_severity,"
        " events, first_seen_ms, last_seen_ms)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"
        " ON CONFLICT(id) DO UPDATE SET events = events + excluded.events,"
        " first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),"
        " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),"
        " max_severity = max(max_severity, excluded.max_severity),"
        " regressed = CASE WHEN status = 'resolved' AND excluded.last_seen_ms"
        "  > resolved_ms THEN 1 ELSE regressed END,"
        " last_alert_level = CASE WHEN status = 'resolved' AND"
        "  excluded.last_seen_ms > resolved_ms THEN -1 ELSE last_alert_level"
        "  END,"
        " status = CASE WHEN status = 'resolved' AND excluded.last_seen_ms >"
        "  resolved_ms THEN 'unresolved' ELSE status END");
    g->minute = prep(db,
        "INSERT INTO error_group_minutes(group_id, minute, severity, events)"
        " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(group_id, minute, severity)"
        " DO UPDATE SET events = events + excluded.events");
    g->user = prep(db,
        "INSERT INTO error_group_users(group_id, user_id, severity,"
        " last_seen_ms) VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(group_id, user_id, severity) DO UPDATE SET"
        " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)");
    g->endpoint = prep(db,
        "INSERT INTO error_group_endpoints(group_id, endpoint, events)"
        " VALUES(?1, ?2, ?3) ON CONFLICT(group_id, endpoint)"
        " DO UPDATE SET events = events + excluded.events");
    g->tag = prep(db, "UPDATE events SET group_id = ?1 WHERE id = ?2");
    return g->group && g->minute && g->user && g->endpoint && g->tag ? 0 : -1;
}

static int
apply_event(struct group_stmts *g, const struct tlm__store_event *se)
{
    const struct tlm__error_info *e = se->error;
    const struct tlm__event *ev = &se->ev;
    double w = ev->sample_rate > 0 ? 1.0 / ev->sample_rate : 1.0;
    unsigned char id[16];

    sqlite3_bind_text(g->group, 1, e->group_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(g->group, 2, e->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(g->group, 3, ev->environment, -1, SQLITE_STATIC);
    sqlite3_bind_int(g->group, 4, e->grouping_version);
    sqlite3_bind_int(g->group, 5, e->custom ? 1 : 0);
    bind_opt(g->group, 6, ev->error_code);
    sqlite3_bind_text(
        g->group, 7, e->title != NULL ? e->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(
        g->group, 8, e->culprit != NULL ? e->culprit : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(g->group, 9, e->severity);
    sqlite3_bind_double(g->group, 10, w);
    sqlite3_bind_int64(g->group, 11, ev->ts_ms);
    if (step_done(g->group) != 0)
        return -1;
    sqlite3_bind_text(g->minute, 1, e->group_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(g->minute, 2, ev->ts_ms / 60000 * 60000);
    sqlite3_bind_int(g->minute, 3, e->severity);
    sqlite3_bind_double(g->minute, 4, w);
    if (step_done(g->minute) != 0)
        return -1;
    if (ev->user_id != NULL) {
        sqlite3_bind_text(g->user, 1, e->group_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(g->user, 2, ev->user_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(g->user, 3, e->severity);
        sqlite3_bind_int64(g->user, 4, ev->ts_ms);
        if (step_done(g->user) != 0)
            return -1;
    }
    if (ev->endpoint != NULL) {
        sqlite3_bind_text(g->endpoint, 1, e->group_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(g->endpoint, 2, ev->endpoint, -1, SQLITE_STATIC);
        sqlite3_bind_double(g->endpoint, 3, w);
        if (step_done(g->endpoint) != 0)
            return -1;
    }
    if (tlm__uuid_bytes(ev->id, strlen(ev->id), id) != 0)
        return 0;
    sqlite3_bind_text(g->tag, 1, e->group_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(g->tag, 2, id, 16, SQLITE_STATIC);
    return step_done(g->tag);
}

/* The "error.alert" webhook document. */
static char *
alert_doc(sqlite3 *db, const char *group_id, const char *delivery_id, int level,
    double events, double users, int64_t window_ms, int64_t now)
{
    sqlite3_stmt *s = prep(db,
        "SELECT title, culprit, environment, error_code, first_seen_ms,"
        " last_seen_ms, events, regressed FROM error_groups WHERE id = ?1");
    char t[TLM_RFC3339_BUF];
    char *text = NULL;
    if (s == NULL)
        return NULL;
    sqlite3_bind_text(s, 1, group_id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
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
        cJSON_AddStringToObject(
            g, "title", (const char *)sqlite3_column_text(s, 0));
        cJSON_AddStringToObject(
            g, "culprit", (const char *)sqlite3_column_text(s, 1));
        cJSON_AddStringToObject(
            g, "environment", (const char *)sqlite3_column_text(s, 2));
        if (sqlite3_column_type(s, 3) == SQLITE_NULL)
            cJSON_AddNullToObject(g, "error_code");
        else
            cJSON_AddStringToObject(
                g, "error_code", (const char *)sqlite3_column_text(s, 3));
        tlm__rfc3339_format(sqlite3_column_int64(s, 4), t, sizeof(t));
        cJSON_AddStringToObject(g, "first_seen", t);
        tlm__rfc3339_format(sqlite3_column_int64(s, 5), t, sizeof(t));
        cJSON_AddStringToObject(g, "last_seen", t);
        cJSON_AddNumberToObject(g, "events", sqlite3_column_double(s, 6));
        cJSON_AddBoolToObject(g, "regressed", sqlite3_column_int(s, 7));
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    sqlite3_finalize(s);
    return text;
}

/* Evaluates the alert rule for one group at now; records the impact and
 * at most one alert. Returns the alerts raised (0 or 1), or -1. */
static int
evaluate(sqlite3 *db, const char *group_id, const struct tlm__alert_policy *p,
    int64_t now)
{
    sqlite3_stmt *g = prep(
        db, "SELECT last_alert_level, status FROM error_groups WHERE id = ?1");
    sqlite3_stmt *ev = prep(db,
        "SELECT COALESCE(SUM(events), 0) FROM error_group_minutes"
        " WHERE group_id = ?1 AND minute >= ?2 AND severity >= ?3");
    sqlite3_stmt *us = prep(db,
        "SELECT COUNT(DISTINCT user_id) FROM error_group_users"
        " WHERE group_id = ?1 AND last_seen_ms >= ?2 AND severity >= ?3");
    int rc = -1, last = -1, impact = -1;
    double events = 0, users = 0;
    bool ignored = false;
    int64_t from = now - p->window_ms;
    if (g == NULL || ev == NULL || us == NULL)
        goto out;
    sqlite3_bind_text(g, 1, group_id, -1, SQLITE_STATIC);
    if (sqlite3_step(g) != SQLITE_ROW)
        goto out;
    last = sqlite3_column_int(g, 0);
    ignored = strcmp((const char *)sqlite3_column_text(g, 1), "ignored") == 0;
    for (int level = TLM_SEVERITIES - 1; level >= 0 && impact < 0; level--) {
        double e, u;
        sqlite3_reset(ev);
        sqlite3_reset(us);
        sqlite3_bind_text(ev, 1, group_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ev, 2, from / 60000 * 60000);
        sqlite3_bind_int(ev, 3, level);
        sqlite3_bind_text(us, 1, group_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(us, 2, from);
        sqlite3_bind_int(us, 3, level);
        if (sqlite3_step(ev) != SQLITE_ROW || sqlite3_step(us) != SQLITE_ROW)
            goto out;
        e = sqlite3_column_double(ev, 0);
        u = sqlite3_column_double(us, 0);
        if (e + u >= p->thresholds[level]) {
            impact = level;
            events = e;
            users = u;
        }
    }
    sqlite3_finalize(g);
    g = prep(db,
        "UPDATE error_groups SET impact = max(impact, ?2),"
        " last_alert_level = ?3 WHERE id = ?1");
    if (g == NULL)
        goto out;
    bool alert = impact > last && !ignored;
    sqlite3_bind_text(g, 1, group_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(g, 2, impact);
    sqlite3_bind_int(g, 3, alert ? impact : last);
    if (sqlite3_step(g) != SQLITE_DONE)
        goto out;
    rc = 0;
    if (alert) {
        char did[40] = "";
        sqlite3_stmt *a = prep(db,
            "INSERT INTO error_alerts(group_id, level, events, users,"
            " window_ms, created_ms, delivery_id)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (p->webhook)
            tlm__uuid7(did);
        rc = -1;
        if (a != NULL) {
            sqlite3_bind_text(a, 1, group_id, -1, SQLITE_STATIC);
            sqlite3_bind_int(a, 2, impact);
            sqlite3_bind_double(a, 3, events);
            sqlite3_bind_double(a, 4, users);
            sqlite3_bind_int64(a, 5, p->window_ms);
            sqlite3_bind_int64(a, 6, now);
            bind_opt(a, 7, did[0] != '\0' ? did : NULL);
            rc = sqlite3_step(a) == SQLITE_DONE ? 1 : -1;
            sqlite3_finalize(a);
        }
        if (rc == 1 && p->webhook) {
            struct tlm__outbox_item it = {.type = "error.alert"};
            char *body = alert_doc(
                db, group_id, did, impact, events, users, p->window_ms, now);
            memcpy(it.id, did, sizeof(did));
            it.body = body;
            it.body_len = body != NULL ? strlen(body) : 0;
            if (body == NULL || tlm__sqlite_outbox_put(db, &it, now) != 0)
                rc = -1;
            free(body);
        }
    }
out:
    sqlite3_finalize(g);
    sqlite3_finalize(ev);
    sqlite3_finalize(us);
    return rc;
}

int
tlm__sqlite_errors_apply(sqlite3 *db, struct tlm__store_batch *b)
{
    const struct tlm__alert_policy *p
        = b->alerts != NULL ? b->alerts : &default_policy;
    struct group_stmts g = {0};
    const char **touched = NULL;
    size_t n_touched = 0;
    int rc = -1;
    bool any = false;

    b->alerts_raised = 0;
    for (size_t i = 0; i < b->n_events && !any; i++)
        any = b->events[i].error != NULL && !b->events[i].duplicate;
    if (!any)
        return 0;
    touched = calloc(b->n_events, sizeof(*touched));
    if (touched == NULL || prepare_all(db, &g) != 0)
        goto out;
    for (size_t i = 0; i < b->n_events; i++) {
        const struct tlm__store_event *se = &b->events[i];
        bool seen = false;
        if (se->error == NULL || se->duplicate)
            continue;
        if (apply_event(&g, se) != 0)
            goto out;
        for (size_t k = 0; k < n_touched && !seen; k++)
            seen = strcmp(touched[k], se->error->group_id) == 0;
        if (!seen)
            touched[n_touched++] = se->error->group_id;
    }
    for (size_t k = 0; k < n_touched; k++) {
        int r = evaluate(db, touched[k], p, b->received_ms);
        if (r < 0)
            goto out;
        b->alerts_raised += (size_t)r;
    }
    rc = 0;
out:
    if (rc != 0)
        log_error(db, "error groups");
    finalize_all(&g);
    free(touched);
    return rc;
}

#define GROUP_COLS                                                             \
    "g.id, g.fingerprint, g.environment, g.title, g.culprit, g.error_code,"    \
    " g.status, g.impact, g.max_severity, g.grouping_version, g.custom,"       \
    " g.regressed, g.events, g.first_seen_ms, g.last_seen_ms,"                 \
    " COALESCE(g.resolved_ms, 0),"                                             \
    " (SELECT COALESCE(SUM(m.events), 0) FROM error_group_minutes m"           \
    "  WHERE m.group_id = g.id AND m.minute >= ?1) AS e24,"                    \
    " (SELECT COUNT(DISTINCT u.user_id) FROM error_group_users u"              \
    "  WHERE u.group_id = g.id) AS users"

static int
read_group(sqlite3_stmt *s, struct tlm__error_group *g)
{
    const unsigned char *t;
    memset(g, 0, sizeof(*g));
    t = sqlite3_column_text(s, 0);
    snprintf(g->id, sizeof(g->id), "%s", t ? (const char *)t : "");
    t = sqlite3_column_text(s, 1);
    snprintf(
        g->fingerprint, sizeof(g->fingerprint), "%s", t ? (const char *)t : "");
    g->environment = column_dup(s, 2);
    g->title = column_dup(s, 3);
    g->culprit = column_dup(s, 4);
    g->error_code = column_dup(s, 5);
    g->status = column_dup(s, 6);
    g->impact = sqlite3_column_int(s, 7);
    g->max_severity = sqlite3_column_int(s, 8);
    g->grouping_version = sqlite3_column_int(s, 9);
    g->custom = sqlite3_column_int(s, 10) != 0;
    g->regressed = sqlite3_column_int(s, 11) != 0;
    g->events = sqlite3_column_double(s, 12);
    g->first_seen_ms = sqlite3_column_int64(s, 13);
    g->last_seen_ms = sqlite3_column_int64(s, 14);
    g->resolved_ms = sqlite3_column_int64(s, 15);
    g->events_24h = sqlite3_column_double(s, 16);
    g->users = sqlite3_column_double(s, 17);
    int sev = g->impact > g->max_severity ? g->impact : g->max_severity;
    g->priority = (sev + 1) * g->events_24h;
    if (g->environment == NULL || g->title == NULL || g->status == NULL)
        return -1;
    return 0;
}

static int
read_endpoints(sqlite3 *db, struct tlm__error_group *g)
{
    sqlite3_stmt *s = prep(db,
        "SELECT endpoint, events FROM error_group_endpoints"
        " WHERE group_id = ?1 ORDER BY events DESC, endpoint LIMIT 5");
    int step;
    if (s == NULL)
        return -1;
    g->endpoints = calloc(5, sizeof(*g->endpoints));
    if (g->endpoints == NULL) {
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_bind_text(s, 1, g->id, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(s)) == SQLITE_ROW && g->n_endpoints < 5) {
        g->endpoints[g->n_endpoints].endpoint = column_dup(s, 0);
        g->endpoints[g->n_endpoints].events = sqlite3_column_double(s, 1);
        g->n_endpoints++;
    }
    sqlite3_finalize(s);
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : -1;
}

int
tlm__sqlite_error_groups_list(struct tlm__store *base,
    const struct tlm__group_query *q, struct tlm__error_group **rows, size_t *n,
    bool *more)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    struct tlm__error_group *out = calloc(q->limit + 1, sizeof(*out));
    sqlite3_stmt *s = NULL;
    size_t len = 0;
    int rc = -1, step;
    if (out == NULL)
        return -1;
    pthread_mutex_lock(&st->rlock);
    s = prep(st->rdb,
        "SELECT " GROUP_COLS " FROM error_groups g WHERE"
        " (?2 IS NULL OR g.environment = ?2)"
        " AND (?3 IS NULL OR EXISTS (SELECT 1 FROM error_group_endpoints e"
        "  WHERE e.group_id = g.id AND e.endpoint = ?3))"
        " AND (?4 < 0 OR g.impact = ?4)"
        " AND (CASE WHEN ?5 IS NULL THEN g.status != 'ignored'"
        "  ELSE g.status = ?5 END)"
        " ORDER BY CASE ?6 WHEN 0 THEN (max(g.impact, g.max_severity) + 1)"
        "  * e24 WHEN 1 THEN g.last_seen_ms ELSE g.events END DESC, g.id"
        " LIMIT ?7 OFFSET ?8");
    if (s == NULL)
        goto out;
    sqlite3_bind_int64(s, 1, (q->now_ms - DAY_MS) / 60000 * 60000);
    bind_opt(s, 2, q->environment);
    bind_opt(s, 3, q->endpoint);
    sqlite3_bind_int(s, 4, q->impact);
    bind_opt(s, 5, q->status);
    sqlite3_bind_int(s, 6, (int)q->sort);
    sqlite3_bind_int64(s, 7, (int64_t)q->limit + 1);
    sqlite3_bind_int64(s, 8, (int64_t)q->offset);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == q->limit) {
            *more = true;
            break;
        }
        if (read_group(s, &out[len]) != 0) {
            len++;
            goto out;
        }
        len++;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        goto out;
    for (size_t i = 0; i < len; i++) {
        if (read_endpoints(st->rdb, &out[i]) != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        log_error(st->rdb, "error groups list");
        tlm__error_groups_free(out, len);
        out = NULL;
        len = 0;
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    *rows = out;
    *n = len;
    return rc;
}

static int
read_detail(
    sqlite3 *db, const char *id, int64_t now, struct tlm__group_detail *d)
{
    sqlite3_stmt *s = prep(db,
        "SELECT minute, SUM(events) FROM error_group_minutes"
        " WHERE group_id = ?1 AND minute >= ?2 GROUP BY minute ORDER BY"
        " minute");
    sqlite3_stmt *p = prep(db,
        "SELECT payload FROM events WHERE group_id = ?1"
        " ORDER BY ts_ms DESC LIMIT " /* TLM_GROUP_SAMPLES */ "5");
    sqlite3_stmt *a = prep(db,
        "SELECT level, events, users, window_ms, created_ms,"
        " COALESCE(delivery_id, '') FROM error_alerts WHERE group_id = ?1"
        " ORDER BY seq DESC LIMIT 50");
    int rc = -1;
    if (s == NULL || p == NULL || a == NULL)
        goto out;
    d->minutes = calloc(TLM_GROUP_MINUTES + 1, sizeof(*d->minutes));
    d->samples = calloc(TLM_GROUP_SAMPLES, sizeof(*d->samples));
    d->alerts = calloc(50, sizeof(*d->alerts));
    if (d->minutes == NULL || d->samples == NULL || d->alerts == NULL)
        goto out;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(
        s, 2, (now - TLM_GROUP_MINUTES * 60000LL) / 60000 * 60000);
    while (sqlite3_step(s) == SQLITE_ROW && d->n_minutes <= TLM_GROUP_MINUTES) {
        d->minutes[d->n_minutes].minute_ms = sqlite3_column_int64(s, 0);
        d->minutes[d->n_minutes].events = sqlite3_column_double(s, 1);
        d->n_minutes++;
    }
    sqlite3_bind_text(p, 1, id, -1, SQLITE_STATIC);
    while (sqlite3_step(p) == SQLITE_ROW && d->n_samples < TLM_GROUP_SAMPLES) {
        d->samples[d->n_samples] = column_dup(p, 0);
        if (d->samples[d->n_samples] == NULL)
            goto out;
        d->n_samples++;
    }
    sqlite3_bind_text(a, 1, id, -1, SQLITE_STATIC);
    while (sqlite3_step(a) == SQLITE_ROW && d->n_alerts < 50) {
        struct tlm__group_alert *x = &d->alerts[d->n_alerts++];
        x->level = sqlite3_column_int(a, 0);
        x->events = sqlite3_column_double(a, 1);
        x->users = sqlite3_column_double(a, 2);
        x->window_ms = sqlite3_column_int64(a, 3);
        x->created_ms = sqlite3_column_int64(a, 4);
        snprintf(x->delivery_id, sizeof(x->delivery_id), "%s",
            (const char *)sqlite3_column_text(a, 5));
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    sqlite3_finalize(p);
    sqlite3_finalize(a);
    return rc;
}

int
tlm__sqlite_error_group_get(struct tlm__store *base, const char *id,
    int64_t now_ms, struct tlm__group_detail *out)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s;
    int rc = -1, step;
    pthread_mutex_lock(&st->rlock);
    sqlite3_exec(st->rdb, "BEGIN", NULL, NULL, NULL);
    s = prep(
        st->rdb, "SELECT " GROUP_COLS " FROM error_groups g WHERE id = ?2");
    if (s == NULL)
        goto out;
    sqlite3_bind_int64(s, 1, (now_ms - DAY_MS) / 60000 * 60000);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = TLM_FR_NOT_FOUND;
        goto out;
    }
    if (step != SQLITE_ROW || read_group(s, &out->group) != 0
        || read_endpoints(st->rdb, &out->group) != 0
        || read_detail(st->rdb, id, now_ms, out) != 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        log_error(st->rdb, "error group get");
    if (rc != 0)
        tlm__group_detail_free(out);
    sqlite3_finalize(s);
    sqlite3_exec(st->rdb, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&st->rlock);
    return rc;
}

int
tlm__sqlite_error_group_set_status(
    struct tlm__store *base, const char *id, const char *status, int64_t now_ms)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    sqlite3_stmt *s;
    int rc = -1;
    pthread_mutex_lock(&st->wlock);
    s = prep(st->wdb,
        "UPDATE error_groups SET status = ?2,"
        " resolved_ms = CASE WHEN ?2 = 'resolved' THEN ?3 ELSE resolved_ms"
        " END, regressed = CASE WHEN ?2 = 'resolved' THEN 0 ELSE regressed"
        " END WHERE id = ?1");
    if (s != NULL) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now_ms);
        if (sqlite3_step(s) == SQLITE_DONE)
            rc = sqlite3_changes(st->wdb) > 0 ? 0 : TLM_FR_NOT_FOUND;
    }
    if (rc < 0)
        log_error(st->wdb, "error group status");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

int
tlm__sqlite_alerts_recent(struct tlm__store *base, int64_t from_ms,
    int64_t to_ms, const char *environment, size_t limit,
    struct tlm__alert_row **rows, size_t *n)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    struct tlm__alert_row *out = calloc(limit > 0 ? limit : 1, sizeof(*out));
    sqlite3_stmt *s;
    size_t len = 0;
    int rc = -1, step;
    if (out == NULL)
        return -1;
    pthread_mutex_lock(&st->rlock);
    s = prep(st->rdb,
        "SELECT a.group_id, g.title, g.environment, a.level, a.events,"
        " a.users, a.window_ms, a.created_ms, COALESCE(a.delivery_id, '')"
        " FROM error_alerts a JOIN error_groups g ON g.id = a.group_id"
        " WHERE a.created_ms >= ?1 AND a.created_ms < ?2"
        " AND (?3 IS NULL OR g.environment = ?3)"
        " ORDER BY a.seq DESC LIMIT ?4");
    if (s == NULL)
        goto out;
    sqlite3_bind_int64(s, 1, from_ms);
    sqlite3_bind_int64(s, 2, to_ms);
    bind_opt(s, 3, environment);
    sqlite3_bind_int64(s, 4, (int64_t)limit);
    while ((step = sqlite3_step(s)) == SQLITE_ROW && len < limit) {
        struct tlm__alert_row *r = &out[len++];
        snprintf(r->group_id, sizeof(r->group_id), "%s",
            (const char *)sqlite3_column_text(s, 0));
        r->title = column_dup(s, 1);
        r->environment = column_dup(s, 2);
        r->alert.level = sqlite3_column_int(s, 3);
        r->alert.events = sqlite3_column_double(s, 4);
        r->alert.users = sqlite3_column_double(s, 5);
        r->alert.window_ms = sqlite3_column_int64(s, 6);
        r->alert.created_ms = sqlite3_column_int64(s, 7);
        snprintf(r->alert.delivery_id, sizeof(r->alert.delivery_id), "%s",
            (const char *)sqlite3_column_text(s, 8));
        if (r->title == NULL || r->environment == NULL)
            goto out;
    }
    rc = step == SQLITE_DONE || step == SQLITE_ROW ? 0 : -1;
out:
    if (rc != 0) {
        log_error(st->rdb, "alerts");
        tlm__alert_rows_free(out, len);
        out = NULL;
        len = 0;
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    *rows = out;
    *n = len;
    return rc;
}
