/* GET /admin/events: the stored events, newest first, with an opaque cursor.
 * Must never return more than TLM_EVENTS_MAX_LIMIT items per page nor
 * re-encode stored payloads (they are emitted as stored). */
#ifndef TLM_SERVER_EVENT_LIST_H
#define TLM_SERVER_EVENT_LIST_H

#include "store.h"

#include <microhttpd.h>

#define TLM_EVENTS_DEFAULT_LIMIT 100
#define TLM_EVENTS_MAX_LIMIT 1000

/* Builds one page for the raw query values (NULL = absent). Returns the HTTP
 * status (200, 400, 500) and the malloc'ed JSON body. */
int tlm__event_list(struct tlm__store *st, const char *type, const char *limit,
    const char *after, char **json);

enum MHD_Result tlm__event_list_handle(
    struct MHD_Connection *c, struct tlm__store *st);

#endif
