/* The server's settings from the config document's `analytics` section
 * (config_analytics.c): retention of raw events and rollups, the live
 * dashboard, and saved reports with their schedules. Parsing only: never
 * touches the store or the clock. */
#ifndef TLM_SERVER_CONFIG_ANALYTICS_H
#define TLM_SERVER_CONFIG_ANALYTICS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A saved report's id: [a-z0-9-]{1,63} (the route's {id} segment holds
 * at most 63 bytes) and its NUL. */
#define TLM_REPORT_ID_MAX 64
#define TLM_SAVED_REPORTS_MAX 100

#define TLM_DEFAULT_MINUTE_RETENTION_HOURS 48u
#define TLM_DEFAULT_HOUR_RETENTION_DAYS 60u
#define TLM_DEFAULT_DASHBOARD_REFRESH_S 30u

/* Formats of a run, as a bit set. */
#define TLM_REPORT_FMT_JSON 1u
#define TLM_REPORT_FMT_CSV 2u
#define TLM_REPORT_FMT_PDF 4u
#define TLM_REPORT_FMT_ALL 7u

enum tlm__schedule_every {
    TLM_SCHEDULE_NONE = 0,
    TLM_SCHEDULE_HOURLY,
    TLM_SCHEDULE_DAILY,
    TLM_SCHEDULE_WEEKLY,
};

/* When a saved report runs, in UTC. at_minute: minutes after midnight
 * (daily, weekly); weekday: 0 Monday .. 6 Sunday (weekly). */
struct tlm__report_schedule {
    enum tlm__schedule_every every;
    int at_minute;
    int weekday;
    unsigned formats; /* TLM_REPORT_FMT_* bits; JSON by default */
};

/* One entry of analytics.reports. Strings are owned (NULL: no filter);
 * base is the built-in report's id (static storage). */
struct tlm__saved_report {
    char id[TLM_REPORT_ID_MAX];
    char *title;
    const char *base;
    int64_t window_ms; /* 1 h .. 90 d, 24 h by default */
    char *environment;
    char *tier;
    char *endpoint;
    struct tlm__report_schedule schedule;
};

struct tlm__analytics_config {
    /* analytics.retention_period_days, when the document sets it (the
     * server section's retention_days, then --retention-days, win). */
    bool retention_set;
    unsigned long retention_period_days;
    unsigned minute_retention_hours; /* 48 */
    unsigned hour_retention_days; /* 60 */
    unsigned long rollup_retention_days; /* 0: forever */
    bool real_time_dashboard; /* true */
    unsigned dashboard_refresh_s; /* 30, 5..3600 */
    bool scheduled_reports; /* false */
    struct tlm__saved_report *reports;
    size_t n_reports;
    /* Runs are delivered to the webhook (feedback.webhook_url is set);
     * filled in by the config loader, not by the section. */
    bool deliver;
};

void tlm__analytics_config_defaults(struct tlm__analytics_config *a);
void tlm__analytics_config_free(struct tlm__analytics_config *a);

/* Applies root's `analytics` section (root: the whole document); path
 * names the file in warnings about unknown keys. Returns 0, or -1 with
 * "config: analytics.KEY: expected ..." in err. */
int tlm__analytics_config_apply(struct tlm__analytics_config *a,
    const cJSON *root, const char *path, char *err, size_t err_size);

/* The saved report id, or NULL. */
const struct tlm__saved_report *tlm__analytics_report_find(
    const struct tlm__analytics_config *a, const char *id);

/* "json", "csv", "pdf" for one TLM_REPORT_FMT_* bit; NULL otherwise. */
const char *tlm__report_format_name(unsigned bit);
/* The bit of a format name, 0 when unknown. */
unsigned tlm__report_format_bit(const char *name);

#endif
