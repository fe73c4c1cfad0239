/* Backend selection from a --db URL and the thin dispatch over the store
 * vtable. Owns no data; must never contain backend-specific code. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
tlm__store_open(
    const char *url, struct tlm__store **out, char *err, size_t err_size)
{
    *out = NULL;
    if (url != NULL && strncmp(url, "sqlite:", 7) == 0) {
        if (url[7] == '\0') {
            snprintf(err, err_size, "--db: sqlite: needs a file path");
            return -1;
        }
        return tlm__store_sqlite_open(url + 7, out, err, err_size);
    }
    if (url != NULL
        && (strncmp(url, "postgresql://", 13) == 0
            || strncmp(url, "postgres://", 11) == 0)) {
        return tlm__store_pg_open(url, out, err, err_size);
    }
    snprintf(err, err_size,
        "--db: expected sqlite:PATH or postgresql://..., got \"%s\"",
        url != NULL ? url : "");
    return -1;
}

int
tlm__store_insert_batch(struct tlm__store *st, struct tlm__store_batch *b,
    size_t *accepted, size_t *duplicates)
{
    return st->ops->insert_batch(st, b, accepted, duplicates);
}

int
tlm__store_dashboard(struct tlm__store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    return st->ops->dashboard(st, q, out);
}

int
tlm__store_list_events(struct tlm__store *st, const struct tlm__events_query *q,
    tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor)
{
    return st->ops->list_events(st, q, visit, ctx, next_cursor);
}

int
tlm__store_key_insert(struct tlm__store *st, const struct tlm__key_row *k)
{
    return st->ops->key_insert(st, k);
}

int
tlm__store_key_list(
    struct tlm__store *st, struct tlm__key_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    return st->ops->key_list(st, rows, n);
}

int
tlm__store_key_revoke(struct tlm__store *st, const char *id, int64_t now_ms)
{
    return st->ops->key_revoke(st, id, now_ms);
}

int
tlm__store_purge(struct tlm__store *st, int64_t before_ms, uint64_t *removed)
{
    *removed = 0;
    return st->ops->purge(st, before_ms, removed);
}

int
tlm__store_ping(struct tlm__store *st)
{
    return st->ops->ping(st);
}

int
tlm__store_report_run_insert(struct tlm__store *st,
    const struct tlm__report_run *run, const struct tlm__outbox_item *out)
{
    if (st->ops->report_run_insert == NULL)
        return -1;
    return st->ops->report_run_insert(st, run, out);
}

int
tlm__store_report_run_exists(
    struct tlm__store *st, const char *report_id, int64_t scheduled_ms)
{
    if (st->ops->report_run_exists == NULL)
        return -1;
    return st->ops->report_run_exists(st, report_id, scheduled_ms);
}

int
tlm__store_report_runs_list(struct tlm__store *st, const char *report_id,
    size_t limit, struct tlm__report_run_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (st->ops->report_runs_list == NULL)
        return 0;
    return st->ops->report_runs_list(st, report_id, limit, rows, n);
}

int
tlm__store_report_run_get(struct tlm__store *st, const char *report_id,
    const char *run_id, const char *format, struct tlm__report_blob *out)
{
    memset(out, 0, sizeof(*out));
    if (st->ops->report_run_get == NULL)
        return 1;
    return st->ops->report_run_get(st, report_id, run_id, format, out);
}

int
tlm__store_rollup_purge(
    struct tlm__store *st, int64_t before_ms, uint64_t *removed)
{
    *removed = 0;
    if (st->ops->rollup_purge == NULL)
        return 1;
    return st->ops->rollup_purge(st, before_ms, removed);
}

int
tlm__store_analytics_sync(struct tlm__store *st)
{
    return st->ops->analytics_sync != NULL ? st->ops->analytics_sync(st) : 0;
}

void
tlm__store_close(struct tlm__store *st)
{
    if (st != NULL)
        st->ops->close(st);
}

void
tlm__dash_result_free(struct tlm__dash_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_endpoints; i++)
        free(r->endpoints[i].endpoint);
    free(r->endpoints);
    for (size_t i = 0; i < r->n_scrub_keys; i++)
        free(r->scrub_keys[i].key_id);
    free(r->scrub_keys);
    memset(r, 0, sizeof(*r));
}
