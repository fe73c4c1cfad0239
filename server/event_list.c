/* Event listing route: query validation, cursor encoding and the page JSON.
 * The cursor is the store's position of the last item, written as "e" plus
 * decimal digits; clients must treat it as opaque. */
#include "event_list.h"

#include "config.h"
#include "http.h"
#include "json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
visit(void *ctx, const char *payload, size_t len)
{
    cJSON *items = ctx;
    /* The store hands NUL-terminated text; cJSON copies it. */
    cJSON *raw = cJSON_CreateRaw(payload);
    (void)len;
    if (raw == NULL)
        return -1;
    return cJSON_AddItemToArray(items, raw) ? 0 : -1;
}

static int
parse_args(const char *type, const char *limit, const char *after,
    struct tlm__events_query *q, const char **err)
{
    unsigned long v;
    memset(q, 0, sizeof(*q));
    q->limit = TLM_EVENTS_DEFAULT_LIMIT;
    if (type != NULL && type[0] != '\0') {
        if (strcmp(type, "request") != 0 && strcmp(type, "error") != 0) {
            *err = "type: expected \"request\" or \"error\"";
            return -1;
        }
        q->type = type;
    }
    if (limit != NULL) {
        if (tlm__parse_ulong(limit, 1, TLM_EVENTS_MAX_LIMIT, &v) != 0) {
            *err = "limit: expected integer 1..1000";
            return -1;
        }
        q->limit = v;
    }
    if (after != NULL && after[0] != '\0') {
        if (after[0] != 'e'
            || tlm__parse_ulong(after + 1, 1, (unsigned long)INT64_MAX, &v)
                != 0) {
            *err = "after: expected a next_cursor value";
            return -1;
        }
        q->before = (int64_t)v;
    }
    return 0;
}

static char *
render_page(cJSON *root, int64_t next)
{
    char cursor[24];
    if (next > 0) {
        snprintf(cursor, sizeof(cursor), "e%lld", (long long)next);
        if (cJSON_AddStringToObject(root, "next_cursor", cursor) == NULL)
            goto fail;
    } else if (cJSON_AddNullToObject(root, "next_cursor") == NULL) {
        goto fail;
    }
    return tlm__json_finish(root);
fail:
    cJSON_Delete(root);
    return NULL;
}

int
tlm__event_list(struct tlm__store *st, const char *type, const char *limit,
    const char *after, char **json)
{
    struct tlm__events_query q;
    const char *err = NULL;
    int64_t next = 0;
    cJSON *root = NULL, *items;

    *json = NULL;
    if (parse_args(type, limit, after, &q, &err) != 0) {
        *json = tlm__json_error_body(err);
        return 400;
    }
    root = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(root, "items");
    if (items == NULL) {
        cJSON_Delete(root);
        return 500;
    }
    if (tlm__store_list_events(st, &q, visit, items, &next) != 0) {
        cJSON_Delete(root);
        *json = tlm__json_error_body("storage failure");
        return 500;
    }
    *json = render_page(root, next);
    return 200;
}

enum MHD_Result
tlm__event_list_handle(struct MHD_Connection *c, struct tlm__store *st)
{
    char *json = NULL;
    int status = tlm__event_list(st,
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "type"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"),
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after"), &json);
    return tlm__http_reply(c, (unsigned)status, json);
}
