/* The feedback and feature-request routes' shared shapes: one call's
 * context (who, which organization, the parsed body) and the answer
 * helpers (api_route.c), and the handlers (feedback_route.c,
 * feature_route.c). Never included outside those files. */
#ifndef TLM_SERVER_API_H
#define TLM_SERVER_API_H

#include "auth.h"
#include "config_feedback.h"
#include "metrics.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdbool.h>

enum tlm__api_route {
    TLM_API_FEEDBACK_CREATE,
    TLM_API_FEEDBACK_GET,
    TLM_API_FR_LIST,
    TLM_API_FR_CREATE,
    TLM_API_FR_GET,
    TLM_API_FR_VOTE,
    TLM_API_FR_UNVOTE,
    TLM_API_FR_COMMENTS,
    TLM_API_FR_COMMENT,
    TLM_API_ADMIN_FEEDBACK,
    TLM_API_ADMIN_FR_LIST,
    TLM_API_ADMIN_FR_STATUS,
    TLM_API_ADMIN_FR_MERGE,
    TLM_API_ADMIN_DELIVERIES,
    TLM_API_ADMIN_ERRORS,
    TLM_API_ADMIN_ERROR,
    TLM_API_ADMIN_ERROR_STATUS,
    TLM_API_ADMIN_REPORTS,
    TLM_API_ADMIN_REPORT,
    TLM_API_ADMIN_REPORT_RUN,
    TLM_API_ADMIN_REPORT_RUN_NOW,
    TLM_API_ADMIN_ANOMALIES,
    TLM_API_ADMIN_FORECAST,
};

/* Limits of what a submission may hold (documented in http-api.md). */
#define TLM_FEEDBACK_CONTENT_MAX 10000
#define TLM_FEEDBACK_CONTEXT_MAX (16 * 1024)
#define TLM_FEEDBACK_CONTEXT_DEPTH 8
#define TLM_TARGET_MAX 200
#define TLM_USER_ID_MAX 128
#define TLM_FR_TITLE_MAX 200
#define TLM_FR_TEXT_MAX 10000
#define TLM_COMMENT_MAX 5000
#define TLM_LIST_MAX 100

struct tlm__webhook;
struct tlm__analytics_config;

struct tlm__api {
    struct tlm__store *store;
    const struct tlm__feedback_config *cfg; /* NULL: defaults */
    const struct tlm__categories *categories; /* NULL: the default set */
    struct tlm__webhook *webhook; /* NULL: none configured */
    struct tlm__metrics *metrics;
    /* Saved reports (borrowed; NULL: none). */
    const struct tlm__analytics_config *analytics;
};

struct tlm__api_call {
    struct MHD_Connection *c;
    const struct tlm__api *api;
    enum tlm__api_route route;
    const char *id; /* the path's {id}, "" when none */
    const char *id2; /* the path's second {id}, "" when none */
    const char *origin; /* echoed in Access-Control-Allow-Origin, or "" */
    bool admin; /* admin token or key: every organization */
    const struct tlm__key *key; /* NULL for the admin token */
    const char *organization; /* the key's; NULL for admin */
    const char *environment; /* the key's, NULL when it sets none */
    const char *idem_key; /* Idempotency-Key, or NULL */
    cJSON *body; /* the request's JSON object, or NULL */
};

/* Answers doc (taken, may be NULL: 500) with the CORS headers. */
enum MHD_Result tlm__api_reply(
    struct tlm__api_call *call, unsigned status, cJSON *doc);
enum MHD_Result tlm__api_reply_ex(struct tlm__api_call *call, unsigned status,
    cJSON *doc, const char *extra_name, const char *extra_value);
/* {"error": msg, "field": field (when not NULL)}. */
enum MHD_Result tlm__api_error(struct tlm__api_call *call, unsigned status,
    const char *msg, const char *field);
enum MHD_Result tlm__api_store_error(struct tlm__api_call *call);
const char *tlm__api_arg(const struct tlm__api_call *call, const char *name);
int64_t tlm__api_now_ms(void);

/* Runs the handler of call->route. */
enum MHD_Result tlm__api_dispatch(struct tlm__api_call *call);

/* feedback_route.c */
enum MHD_Result tlm__feedback_create(struct tlm__api_call *call);
enum MHD_Result tlm__feedback_get(struct tlm__api_call *call);
enum MHD_Result tlm__feedback_admin_list(struct tlm__api_call *call);
enum MHD_Result tlm__deliveries_list(struct tlm__api_call *call);

/* feature_route.c */
enum MHD_Result tlm__fr_create(struct tlm__api_call *call);
enum MHD_Result tlm__fr_list(struct tlm__api_call *call);
enum MHD_Result tlm__fr_get(struct tlm__api_call *call);
enum MHD_Result tlm__fr_vote(struct tlm__api_call *call, bool add);
enum MHD_Result tlm__fr_comments(struct tlm__api_call *call);
enum MHD_Result tlm__fr_comment(struct tlm__api_call *call);
enum MHD_Result tlm__fr_status(struct tlm__api_call *call);
enum MHD_Result tlm__fr_merge(struct tlm__api_call *call);

/* error_route.c */
enum MHD_Result tlm__errors_list(struct tlm__api_call *call);
enum MHD_Result tlm__errors_get(struct tlm__api_call *call);
enum MHD_Result tlm__errors_status(struct tlm__api_call *call);
cJSON *tlm__error_group_json(const struct tlm__error_group *g);
cJSON *tlm__alert_json(const struct tlm__group_alert *a);

/* Shared by both: a string member of o, NULL when absent or null; *bad
 * set when present with another type or over max bytes (or empty while
 * required). */
const char *tlm__api_string(
    const cJSON *o, const char *name, size_t max, bool required, bool *bad);
/* An RFC 3339 text of ms (static per thread). */
const char *tlm__api_time(int64_t ms);

/* report_route.c */
enum MHD_Result tlm__reports_list(struct tlm__api_call *call);
enum MHD_Result tlm__report_get(struct tlm__api_call *call);
enum MHD_Result tlm__report_run_get(struct tlm__api_call *call);
enum MHD_Result tlm__report_run_now(struct tlm__api_call *call);

/* insights_route.c */
enum MHD_Result tlm__insights_anomalies_route(struct tlm__api_call *call);
enum MHD_Result tlm__insights_forecast_route(struct tlm__api_call *call);

#endif
