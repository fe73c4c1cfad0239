/* Dispatch of the error side of the store vtable, and the helpers that
 * free what it returns. No backend code. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

static const char *const severities[TLM_SEVERITIES]
    = {"low", "medium", "high", "critical"};

const char *
tlm__severity_name(int level)
{
    return level >= 0 && level < TLM_SEVERITIES ? severities[level] : "none";
}

int
tlm__severity_parse(const char *name)
{
    for (int i = 0; name != NULL && i < TLM_SEVERITIES; i++) {
        if (strcmp(name, severities[i]) == 0)
            return i;
    }
    return -1;
}

void
tlm__error_group_clear(struct tlm__error_group *g)
{
    if (g == NULL)
        return;
    free(g->environment);
    free(g->title);
    free(g->culprit);
    free(g->error_code);
    free(g->status);
    for (size_t i = 0; i < g->n_endpoints; i++)
        free(g->endpoints[i].endpoint);
    free(g->endpoints);
    memset(g, 0, sizeof(*g));
}

void
tlm__error_groups_free(struct tlm__error_group *g, size_t n)
{
    for (size_t i = 0; g != NULL && i < n; i++)
        tlm__error_group_clear(&g[i]);
    free(g);
}

void
tlm__group_detail_free(struct tlm__group_detail *d)
{
    if (d == NULL)
        return;
    tlm__error_group_clear(&d->group);
    free(d->minutes);
    for (size_t i = 0; i < d->n_samples; i++)
        free(d->samples[i]);
    free(d->samples);
    free(d->alerts);
    memset(d, 0, sizeof(*d));
}

void
tlm__alert_rows_free(struct tlm__alert_row *a, size_t n)
{
    for (size_t i = 0; a != NULL && i < n; i++) {
        free(a[i].title);
        free(a[i].environment);
    }
    free(a);
}

#define CALL(op, ...) (st->ops->op != NULL ? st->ops->op(st, __VA_ARGS__) : -1)

int
tlm__store_error_groups_list(struct tlm__store *st,
    const struct tlm__group_query *q, struct tlm__error_group **rows, size_t *n,
    bool *more)
{
    *rows = NULL;
    *n = 0;
    *more = false;
    return CALL(error_groups_list, q, rows, n, more);
}

int
tlm__store_error_group_get(struct tlm__store *st, const char *id,
    int64_t now_ms, struct tlm__group_detail *out)
{
    memset(out, 0, sizeof(*out));
    return CALL(error_group_get, id, now_ms, out);
}

int
tlm__store_error_group_set_status(
    struct tlm__store *st, const char *id, const char *status, int64_t now_ms)
{
    return CALL(error_group_set_status, id, status, now_ms);
}

int
tlm__store_workflows(struct tlm__store *st, int64_t from_ms, int64_t to_ms,
    const char *environment, struct tlm__workflow_result *out)
{
    memset(out, 0, sizeof(*out));
    return CALL(workflows, from_ms, to_ms, environment, out);
}

int
tlm__store_alerts_recent(struct tlm__store *st, int64_t from_ms, int64_t to_ms,
    const char *environment, size_t limit, struct tlm__alert_row **rows,
    size_t *n)
{
    *rows = NULL;
    *n = 0;
    return CALL(alerts_recent, from_ms, to_ms, environment, limit, rows, n);
}
