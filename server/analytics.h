/* GET /admin/analytics/dashboard: query-string parsing and the dashboard
 * JSON. Must never answer from anything but the store's snapshot, and never
 * present an estimate as more precise than an integer count. */
#ifndef TLM_SERVER_ANALYTICS_H
#define TLM_SERVER_ANALYTICS_H

#include "store.h"

#include <microhttpd.h>
#include <stdint.h>

#define TLM_DASH_MAX_ENDPOINTS 1000
#define TLM_DASH_DEFAULT_SPAN_MS (24 * 3600 * 1000LL)

/* Parses "from"/"to" values: RFC 3339 or epoch milliseconds. */
int tlm__analytics_parse_time(const char *s, int64_t *ms);

/* Fills q's window and environment from the raw query values (NULL =
 * absent: the last 24 hours before now_ms, production) and checks q's tier
 * and endpoint (set by the caller). Returns 0, or -1 with *err (static)
 * naming the bad parameter. */
int tlm__analytics_parse_query(const char *from, const char *to,
    const char *env, int64_t now, struct tlm__dash_query *q, const char **err);

/* Builds the dashboard for the raw query values (NULL = absent) at now_ms.
 * Returns the HTTP status (200, 400, 500) and the malloc'ed JSON body. */
int tlm__analytics_dashboard(struct tlm__store *st, const char *from,
    const char *to, const char *environment, int64_t now_ms, char **json);
/* The same with the tier and endpoint filters (NULL = every one). */
int tlm__analytics_dashboard_filtered(struct tlm__store *st, const char *from,
    const char *to, const char *environment, const char *tier,
    const char *endpoint, int64_t now_ms, char **json);

struct tlm__analytics_config;

/* The route; a (NULL: the defaults) gives the "real_time" member. */
enum MHD_Result tlm__analytics_handle(struct MHD_Connection *c,
    struct tlm__store *st, const struct tlm__analytics_config *a);

#endif
