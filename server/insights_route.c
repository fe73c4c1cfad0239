/* GET /admin/analytics/anomalies and GET /admin/analytics/forecast: the
 * dashboard's filters (from, to, environment, tier, endpoint) plus `top`
 * (how many of the busiest endpoints, 1..20) and, for the forecast, `days`
 * (1..14). Admin only (api_route.c's table). */
#include "api.h"

#include "analytics.h"
#include "insights.h"

#include <stdlib.h>
#include <string.h>

/* An optional whole number in [lo, hi]; false when present and bad. */
static bool
small_arg(const struct tlm__api_call *call, const char *name, size_t lo,
    size_t hi, size_t *v)
{
    const char *s = tlm__api_arg(call, name);
    char *end = NULL;
    unsigned long n;
    if (s == NULL)
        return true;
    if (*s < '0' || *s > '9')
        return false;
    n = strtoul(s, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        return false;
    *v = (size_t)n;
    return true;
}

/* The parameter an error message of tlm__analytics_parse_query names:
 * the text before its ':' (each is "from: ...", "tier: ...", ...). */
static const char *
field_of(const char *err)
{
    static const char *const names[]
        = {"from", "to", "environment", "tier", "endpoint"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);
        if (strncmp(err, names[i], n) == 0 && err[n] == ':')
            return names[i];
    }
    return NULL;
}

static enum MHD_Result
answer(struct tlm__api_call *call, bool forecast)
{
    struct tlm__dash_query q = {
        .tier = tlm__api_arg(call, "tier"),
        .endpoint = tlm__api_arg(call, "endpoint"),
    };
    size_t top = TLM_INSIGHTS_DEFAULT_TOP, days = TLM_INSIGHTS_DEFAULT_DAYS;
    const char *err = NULL;
    cJSON *doc = NULL;
    int status;
    if (tlm__analytics_parse_query(tlm__api_arg(call, "from"),
            tlm__api_arg(call, "to"), tlm__api_arg(call, "environment"),
            tlm__api_now_ms(), &q, &err)
        != 0)
        return tlm__api_error(call, 400, err, field_of(err));
    if (!small_arg(call, "top", 1, TLM_INSIGHTS_MAX_TOP, &top))
        return tlm__api_error(call, 400, "top: expected 1..20", "top");
    if (forecast && !small_arg(call, "days", 1, TLM_INSIGHTS_MAX_DAYS, &days))
        return tlm__api_error(call, 400, "days: expected 1..14", "days");
    status = forecast
        ? tlm__insights_forecast(call->api->store, &q, top, days, &doc, &err)
        : tlm__insights_anomalies(call->api->store, &q, top, &doc, &err);
    if (status != 200)
        return tlm__api_error(call, (unsigned)status, err, NULL);
    return tlm__api_reply(call, 200, doc);
}

enum MHD_Result
tlm__insights_anomalies_route(struct tlm__api_call *call)
{
    return answer(call, false);
}

enum MHD_Result
tlm__insights_forecast_route(struct tlm__api_call *call)
{
    return answer(call, true);
}
