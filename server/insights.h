/* Anomalies and forecasts of the busiest endpoints, computed from the
 * rollups' series (the store's dashboard query with an endpoint filter:
 * never raw events) by anomaly.c and forecast.c. Answers
 * GET /admin/analytics/anomalies and GET /admin/analytics/forecast
 * (docs/anomalies.md, docs/http-api.md). */
#ifndef TLM_SERVER_INSIGHTS_H
#define TLM_SERVER_INSIGHTS_H

#include "store.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define TLM_INSIGHTS_DEFAULT_TOP 5
#define TLM_INSIGHTS_MAX_TOP 20
#define TLM_INSIGHTS_DEFAULT_DAYS 7
#define TLM_INSIGHTS_MAX_DAYS 14
/* Windows up to this long are checked minute by minute (with up to 6
 * hours of history before them), longer ones hour by hour (with 14 days). */
#define TLM_INSIGHTS_MINUTE_SPAN_MS (12 * 3600 * 1000LL)

/* Anomalies of volume, error rate and p95 of the top endpoints of q's
 * window (or of q->endpoint alone) that overlap the window. *out is the
 * response document (caller deletes), or NULL with *err (a static string)
 * on failure. Returns the HTTP status: 200 or 500. */
int tlm__insights_anomalies(struct tlm__store *st,
    const struct tlm__dash_query *q, size_t top, cJSON **out, const char **err);

/* Hourly request volume of the next `days` days for the top endpoints
 * of q's window (or q->endpoint alone), from up to 28 days of whole hours
 * before q->to_ms, with an 80% band. Same returns. */
int tlm__insights_forecast(struct tlm__store *st,
    const struct tlm__dash_query *q, size_t top, size_t days, cJSON **out,
    const char **err);

#endif
