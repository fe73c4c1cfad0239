/* Dispatch of the feedback side of the store vtable, and the helpers that
 * free what its operations return. Owns no data; no backend code. A
 * backend without an operation answers -1 (an error), never crashes. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

const char *const tlm__fr_statuses[6] = {"submitted", "under_review", "planned",
    "in_progress", "completed", "declined"};

int
tlm__fr_status_index(const char *status)
{
    for (int i = 0; status != NULL && i < 6; i++) {
        if (strcmp(status, tlm__fr_statuses[i]) == 0)
            return i;
    }
    return -1;
}

void
tlm__fr_clear(struct tlm__fr *r)
{
    if (r == NULL)
        return;
    free(r->organization);
    free(r->title);
    free(r->description);
    free(r->use_case);
    free(r->status);
    free(r->merged_into);
    free(r->user_id);
    memset(r, 0, sizeof(*r));
}

void
tlm__fr_history_free(struct tlm__fr_history *h, size_t n)
{
    for (size_t i = 0; h != NULL && i < n; i++) {
        free(h[i].status);
        free(h[i].previous_status);
        free(h[i].reason);
    }
    free(h);
}

void
tlm__fr_comments_free(struct tlm__fr_comment *c, size_t n)
{
    for (size_t i = 0; c != NULL && i < n; i++) {
        free(c[i].body);
        free(c[i].author);
        free(c[i].user_id);
    }
    free(c);
}

void
tlm__feedback_summary_free(struct tlm__feedback_summary *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_categories; i++)
        free(s->categories[i].name);
    free(s->categories);
    for (size_t i = 0; i < s->n_targets; i++)
        free(s->targets[i].name);
    free(s->targets);
    for (size_t i = 0; i < s->n_trends; i++)
        free(s->trends[i].category);
    free(s->trends);
    memset(s, 0, sizeof(*s));
}

void
tlm__outbox_rows_free(struct tlm__outbox_row *r, size_t n)
{
    for (size_t i = 0; r != NULL && i < n; i++)
        free(r[i].body);
    free(r);
}

#define CALL(op, ...) (st->ops->op != NULL ? st->ops->op(st, __VA_ARGS__) : -1)

int
tlm__store_feedback_insert(struct tlm__store *st,
    const struct tlm__feedback_row *r, const char *idem_key,
    const struct tlm__outbox_item *out, size_t n_out, char **existing)
{
    *existing = NULL;
    return CALL(feedback_insert, r, idem_key, out, n_out, existing);
}

int
tlm__store_feedback_get(
    struct tlm__store *st, const char *id, const char *organization, char **doc)
{
    *doc = NULL;
    return CALL(feedback_get, id, organization, doc);
}

int
tlm__store_feedback_list(struct tlm__store *st,
    const struct tlm__feedback_query *q, tlm__event_visit_fn visit, void *ctx,
    int64_t *next_cursor)
{
    *next_cursor = 0;
    return CALL(feedback_list, q, visit, ctx, next_cursor);
}

int
tlm__store_feedback_summary(struct tlm__store *st, int64_t from_ms,
    int64_t to_ms, const char *environment, struct tlm__feedback_summary *out)
{
    memset(out, 0, sizeof(*out));
    return CALL(feedback_summary, from_ms, to_ms, environment, out);
}

int
tlm__store_fr_insert(struct tlm__store *st, const struct tlm__fr *r,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX])
{
    existing_id[0] = '\0';
    return CALL(fr_insert, r, idem_key, existing_id);
}

int
tlm__store_fr_get(struct tlm__store *st, const char *id,
    const char *organization, struct tlm__fr *out,
    struct tlm__fr_history **history, size_t *n_history)
{
    memset(out, 0, sizeof(*out));
    if (history != NULL) {
        *history = NULL;
        *n_history = 0;
    }
    return CALL(fr_get, id, organization, out, history, n_history);
}

int
tlm__store_fr_list(struct tlm__store *st, const struct tlm__fr_query *q,
    struct tlm__fr **rows, size_t *n, char **next_cursor)
{
    *rows = NULL;
    *n = 0;
    *next_cursor = NULL;
    return CALL(fr_list, q, rows, n, next_cursor);
}

int
tlm__store_fr_vote(struct tlm__store *st, const char *id,
    const char *organization, const char *user_id, bool add, int64_t now_ms,
    struct tlm__fr_vote_result *res)
{
    memset(res, 0, sizeof(*res));
    return CALL(fr_vote, id, organization, user_id, add, now_ms, res);
}

int
tlm__store_fr_set_status(
    struct tlm__store *st, const struct tlm__fr_status_change *ch)
{
    return CALL(fr_set_status, ch);
}

int
tlm__store_fr_comment_insert(struct tlm__store *st, const char *request_id,
    const char *organization, const struct tlm__fr_comment *c,
    const char *idem_key, char existing_id[TLM_FB_ID_MAX])
{
    existing_id[0] = '\0';
    return CALL(
        fr_comment_insert, request_id, organization, c, idem_key, existing_id);
}

int
tlm__store_fr_comment_list(struct tlm__store *st, const char *request_id,
    const char *organization, int64_t after, size_t limit,
    struct tlm__fr_comment **rows, size_t *n, int64_t *next_cursor)
{
    *rows = NULL;
    *n = 0;
    *next_cursor = 0;
    return CALL(fr_comment_list, request_id, organization, after, limit, rows,
        n, next_cursor);
}

int
tlm__store_outbox_claim(struct tlm__store *st, int64_t now_ms, int64_t lease_ms,
    size_t max, struct tlm__outbox_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    return CALL(outbox_claim, now_ms, lease_ms, max, rows, n);
}

int
tlm__store_outbox_record(
    struct tlm__store *st, const struct tlm__outbox_attempt *a)
{
    return CALL(outbox_record, a);
}

int
tlm__store_deliveries_list(struct tlm__store *st, size_t limit, int64_t before,
    tlm__event_visit_fn visit, void *ctx, int64_t *next_cursor)
{
    *next_cursor = 0;
    return CALL(deliveries_list, limit, before, visit, ctx, next_cursor);
}
