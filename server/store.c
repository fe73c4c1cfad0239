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
        snprintf(err, err_size,
            "--db: the PostgreSQL store is not available in this build");
        return -1;
    }
    snprintf(err, err_size, "--db: expected sqlite:PATH, got \"%s\"",
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
    memset(r, 0, sizeof(*r));
}
