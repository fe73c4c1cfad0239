/* The webhook module's outbox (webhook.h) over the store's outbox table
 * (store.h): claimed rows become deliveries, attempts become rows of the
 * delivery log. No state of its own. */
#include "webhook_store.h"

#include <stdlib.h>
#include <string.h>

static int
claim(void *ctx, int64_t now_ms, int64_t lease_ms, size_t max,
    struct tlm__delivery **out, size_t *n)
{
    struct tlm__outbox_row *rows = NULL;
    size_t len = 0;
    *out = NULL;
    *n = 0;
    if (tlm__store_outbox_claim(ctx, now_ms, lease_ms, max, &rows, &len) != 0)
        return -1;
    if (len == 0)
        return 0;
    struct tlm__delivery *d = calloc(len, sizeof(*d));
    if (d == NULL) {
        /* The rows stay leased and come back after the lease. */
        tlm__outbox_rows_free(rows, len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        memcpy(d[i].id, rows[i].id, sizeof(d[i].id));
        memcpy(d[i].type, rows[i].type, sizeof(d[i].type));
        d[i].body = rows[i].body; /* moved */
        d[i].body_len = rows[i].body_len;
        d[i].attempts = rows[i].attempts;
        rows[i].body = NULL;
    }
    tlm__outbox_rows_free(rows, len);
    *out = d;
    *n = len;
    return 0;
}

static int
record(void *ctx, const struct tlm__delivery_result *r)
{
    struct tlm__outbox_attempt a = {
        .id = r->id,
        .attempt = r->attempt,
        .http_status = r->http_status,
        .error = r->error,
        .at_ms = r->at_ms,
        .delivered = r->delivered,
        .gave_up = r->gave_up,
        .next_attempt_ms = r->next_attempt_ms,
    };
    return tlm__store_outbox_record(ctx, &a);
}

void
tlm__webhook_store_outbox(struct tlm__store *st, struct tlm__outbox *out)
{
    out->claim = claim;
    out->record = record;
    out->ctx = st;
}
