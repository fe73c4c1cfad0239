/* The storage interface's error-tracking side: what ingest computes for
 * each error event (its group), the alert policy a batch is stored under,
 * and the groups, minutes, samples and alerts the admin routes read. Types
 * only; the operations are in struct tlm__store_ops (store.h). Groups are
 * updated in the batch's own transaction, from its non-duplicate events
 * only, so replays never count twice. */
#ifndef TLM_SERVER_STORE_ERRORS_H
#define TLM_SERVER_STORE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLM_GROUP_ID_MAX 33 /* 32 hex digits and the NUL */
#define TLM_SEVERITIES 4 /* low, medium, high, critical */
#define TLM_GROUP_MINUTES 60 /* per-minute counts a group's page shows */
#define TLM_GROUP_SAMPLES 5

/* An error event's group, computed at ingest (error_group.h). Strings are
 * borrowed for the duration of the store call. */
struct tlm__error_info {
    char group_id[TLM_GROUP_ID_MAX]; /* of (fingerprint, environment) */
    char fingerprint[TLM_GROUP_ID_MAX];
    const char *title;
    const char *culprit;
    int grouping_version;
    int severity; /* the event's impact, 0 low .. 3 critical */
    bool custom; /* the caller's fingerprint */
};

/* error_tracking.alert_thresholds and the window they count over. */
struct tlm__alert_policy {
    double thresholds[TLM_SEVERITIES]; /* low, medium, high, critical */
    int64_t window_ms;
    bool webhook; /* queue an "error.alert" delivery with each alert */
};

struct tlm__group_endpoint {
    char *endpoint;
    double events;
};

struct tlm__error_group {
    char id[TLM_GROUP_ID_MAX];
    char fingerprint[TLM_GROUP_ID_MAX];
    char *environment;
    char *title;
    char *culprit;
    char *error_code;
    char *status; /* unresolved, resolved, ignored */
    int impact; /* -1: no threshold crossed yet */
    int max_severity;
    int grouping_version;
    bool custom;
    bool regressed; /* came back after being resolved */
    double events; /* weighted by 1/sample_rate, all time */
    double events_24h;
    double users; /* distinct users affected, all time */
    double priority; /* (impact + 1) x events in the last 24 hours */
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    int64_t resolved_ms; /* 0: never */
    struct tlm__group_endpoint *endpoints; /* most first, at most 5 */
    size_t n_endpoints;
};

enum tlm__group_sort {
    TLM_GROUP_SORT_PRIORITY,
    TLM_GROUP_SORT_RECENT,
    TLM_GROUP_SORT_EVENTS
};

struct tlm__group_query {
    const char *environment; /* NULL: all */
    const char *endpoint;
    int impact; /* -1: any; else groups at this impact */
    const char *status; /* NULL: unresolved and resolved, not ignored */
    enum tlm__group_sort sort;
    size_t limit;
    size_t offset; /* the cursor */
    int64_t now_ms;
};

struct tlm__group_minute {
    int64_t minute_ms;
    double events;
};

struct tlm__group_alert {
    int level;
    double events; /* in the window, at or above the level */
    double users;
    int64_t window_ms;
    int64_t created_ms;
    char delivery_id[40]; /* "" without a webhook */
};

/* One group's page: the group, its last TLM_GROUP_MINUTES minutes, its
 * newest TLM_GROUP_SAMPLES events as stored, its alerts (newest first). */
struct tlm__group_detail {
    struct tlm__error_group group;
    struct tlm__group_minute *minutes;
    size_t n_minutes;
    char **samples;
    size_t n_samples;
    struct tlm__group_alert *alerts;
    size_t n_alerts;
};

/* An alert as the dashboard lists it. */
struct tlm__alert_row {
    char group_id[TLM_GROUP_ID_MAX];
    char *title;
    char *environment;
    struct tlm__group_alert alert;
};

void tlm__error_group_clear(struct tlm__error_group *g);
void tlm__error_groups_free(struct tlm__error_group *g, size_t n);
void tlm__group_detail_free(struct tlm__group_detail *d);
void tlm__alert_rows_free(struct tlm__alert_row *a, size_t n);

/* "low" .. "critical", or "none" for -1. */
const char *tlm__severity_name(int level);
int tlm__severity_parse(const char *name);

#endif
