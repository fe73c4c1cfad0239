/* Saved and scheduled reports: when a schedule is due (pure UTC
 * arithmetic, report_schedule.c), and a run: the saved report rendered in
 * each format for its window, stored and handed to the webhook outbox in
 * one transaction (report_run.c). A slot is run by whichever server
 * claims it first in the store; the others discard their rendering. */
#ifndef TLM_SERVER_REPORT_SCHEDULE_H
#define TLM_SERVER_REPORT_SCHEDULE_H

#include "config_analytics.h"
#include "log.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define TLM_WEBHOOK_REPORT_GENERATED "report.generated"

/* The schedule's period: 1 h, 1 d or 7 d; 0 for none. */
int64_t tlm__schedule_period_ms(const struct tlm__report_schedule *s);
/* The latest slot at or before now_ms (UTC, any sign of now_ms); 0 when
 * s has no schedule. */
int64_t tlm__schedule_latest(
    const struct tlm__report_schedule *s, int64_t now_ms);
/* The first slot strictly after now_ms; 0 when s has no schedule. */
int64_t tlm__schedule_next(
    const struct tlm__report_schedule *s, int64_t now_ms);
/* The slot to run at now_ms given the latest slot already run (0: none):
 * the latest slot when it is newer, else 0. Slots missed in between are
 * not caught up: at most one run, the latest. */
int64_t tlm__schedule_due(
    const struct tlm__report_schedule *s, int64_t now_ms, int64_t last_run);

/* What a run needs; everything borrowed. */
struct tlm__report_runner {
    struct tlm__store *store;
    const struct tlm__analytics_config *cfg;
    struct tlm__log *log; /* NULL: silent */
};

/* The model of saved report r for the window [from, to) given as the
 * dashboard's query values (NULL: r's window ending at now_ms), r's
 * filters unless overridden (NULL: r's). Returns the HTTP status; 200 and
 * *model (the caller's), or the status and *error (a JSON error body,
 * malloc'ed). id and title are r's, "report" the built-in's id. */
int tlm__saved_report_model(struct tlm__store *st,
    const struct tlm__saved_report *r, const char *from, const char *to,
    const char *environment, const char *tier, const char *endpoint,
    int64_t now_ms, cJSON **model, char **error);

/* One rendering of model: json, csv or pdf. *body malloc'ed. Returns 0
 * or -1. content_type is static. */
int tlm__report_render(const cJSON *model, const char *format,
    unsigned char **body, size_t *len, const char **content_type);

/* Runs saved report r for the slot scheduled_ms (the window ends there):
 * renders formats (TLM_REPORT_FMT_* bits), stores the run and, when the
 * configuration delivers, its report.generated delivery. trigger:
 * "schedule" or "manual". Returns 0 (run_id set), 1 (the slot was run
 * already, by this server or another: nothing stored), -1. */
int tlm__report_run(const struct tlm__report_runner *rn,
    const struct tlm__saved_report *r, int64_t scheduled_ms, unsigned formats,
    const char *trigger, int64_t now_ms, char run_id[TLM_FB_ID_MAX]);

/* The report.generated body: {"type", "delivery_id", "created_at",
 * "report": {"id", "title", "report"}, "run": {"id", "trigger",
 * "scheduled_for", "generated_at", "window", "formats": {"json": URL,
 * ...}}, "content": model}. URLs are relative to the server. Returns
 * malloc'ed JSON text or NULL. */
char *tlm__report_generated_doc(const struct tlm__saved_report *r,
    const struct tlm__report_run *run, unsigned formats, const cJSON *model,
    const char *delivery_id);

/* The maintenance thread's scheduler: remembers each report's last slot
 * run so that the store is asked only when a new slot falls due. */
struct tlm__report_scheduler;

int tlm__report_scheduler_new(
    const struct tlm__report_runner *rn, struct tlm__report_scheduler **out);
/* Runs what is due at now_ms; returns the number of runs made. */
size_t tlm__report_scheduler_tick(
    struct tlm__report_scheduler *s, int64_t now_ms);
/* The soonest next slot of any scheduled report after now_ms (0: none). */
int64_t tlm__report_scheduler_next(
    const struct tlm__report_scheduler *s, int64_t now_ms);
void tlm__report_scheduler_free(struct tlm__report_scheduler *s);

#endif
