/* When saved reports are due: UTC slot arithmetic (no time zones, no DST:
 * an hour, a day and a week are fixed lengths) and the scheduler the
 * maintenance thread ticks. Never renders or stores anything itself: a
 * due slot goes to tlm__report_run (report_run.c). */
#include "report_schedule.h"

#include "rfc3339.h"

#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define WEEK_MS (7 * DAY_MS)

/* floor(a / b) for b > 0, whatever a's sign. */
static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

int64_t
tlm__schedule_period_ms(const struct tlm__report_schedule *s)
{
    switch (s->every) {
    case TLM_SCHEDULE_HOURLY:
        return HOUR_MS;
    case TLM_SCHEDULE_DAILY:
        return DAY_MS;
    case TLM_SCHEDULE_WEEKLY:
        return WEEK_MS;
    case TLM_SCHEDULE_NONE:
        break;
    }
    return 0;
}

int64_t
tlm__schedule_latest(const struct tlm__report_schedule *s, int64_t now_ms)
{
    int64_t day = floor_div(now_ms, DAY_MS);
    int64_t at = (int64_t)s->at_minute * 60000;
    int64_t slot;
    switch (s->every) {
    case TLM_SCHEDULE_HOURLY:
        return floor_div(now_ms, HOUR_MS) * HOUR_MS;
    case TLM_SCHEDULE_DAILY:
        slot = day * DAY_MS + at;
        return slot > now_ms ? slot - DAY_MS : slot;
    case TLM_SCHEDULE_WEEKLY: {
        /* 1970-01-01 was a Thursday: weekday 3 counting Monday as 0. */
        int64_t today = ((day + 3) % 7 + 7) % 7;
        int64_t back = ((today - s->weekday) % 7 + 7) % 7;
        slot = (day - back) * DAY_MS + at;
        return slot > now_ms ? slot - WEEK_MS : slot;
    }
    case TLM_SCHEDULE_NONE:
        break;
    }
    return 0;
}

int64_t
tlm__schedule_next(const struct tlm__report_schedule *s, int64_t now_ms)
{
    int64_t period = tlm__schedule_period_ms(s);
    return period > 0 ? tlm__schedule_latest(s, now_ms) + period : 0;
}

int64_t
tlm__schedule_due(
    const struct tlm__report_schedule *s, int64_t now_ms, int64_t last_run)
{
    int64_t latest;
    if (s->every == TLM_SCHEDULE_NONE)
        return 0;
    latest = tlm__schedule_latest(s, now_ms);
    return latest > last_run ? latest : 0;
}

/* ---- the scheduler ---- */

struct tlm__report_scheduler {
    struct tlm__report_runner rn;
    int64_t *last; /* per saved report: the latest slot known run */
};

int
tlm__report_scheduler_new(
    const struct tlm__report_runner *rn, struct tlm__report_scheduler **out)
{
    struct tlm__report_scheduler *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL)
        return -1;
    s->rn = *rn;
    s->last = calloc(rn->cfg->n_reports + 1, sizeof(*s->last));
    if (s->last == NULL) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void
tlm__report_scheduler_free(struct tlm__report_scheduler *s)
{
    if (s == NULL)
        return;
    free(s->last);
    free(s);
}

static void
log_run(struct tlm__log *lg, const struct tlm__saved_report *r, int64_t slot,
    int rc, const char *run_id, int64_t took_ms)
{
    char at[TLM_RFC3339_BUF];
    tlm__rfc3339_format(slot, at, sizeof(at));
    struct tlm__log_field f[] = {
        {"report", r->id, 0},
        {"scheduled_for", at, 0},
        {"run_id", rc == 0 ? run_id : "", 0},
        {"duration_ms", NULL, (long long)took_ms},
    };
    tlm__log_write(lg,
        rc < 0        ? TLM_LOG_ERROR
            : rc == 1 ? TLM_LOG_DEBUG
                      : TLM_LOG_INFO,
        rc == 0       ? "scheduled report run"
            : rc == 1 ? "scheduled report already run"
                      : "scheduled report run failed",
        f, 4);
}

size_t
tlm__report_scheduler_tick(struct tlm__report_scheduler *s, int64_t now_ms)
{
    const struct tlm__analytics_config *cfg = s->rn.cfg;
    size_t runs = 0;
    if (!cfg->scheduled_reports)
        return 0;
    for (size_t i = 0; i < cfg->n_reports; i++) {
        const struct tlm__saved_report *r = &cfg->reports[i];
        int64_t slot = tlm__schedule_due(&r->schedule, now_ms, s->last[i]);
        char run_id[TLM_FB_ID_MAX] = "";
        int64_t started = tlm__now_ms();
        int rc;
        if (slot == 0)
            continue;
        /* Cheap check first: another server (or this one before a
         * restart) may have run the slot; the insert decides anyway. */
        rc = tlm__store_report_run_exists(s->rn.store, r->id, slot);
        if (rc == 1)
            rc = tlm__report_run(&s->rn, r, slot, r->schedule.formats,
                "schedule", now_ms, run_id);
        else if (rc == 0)
            rc = 1;
        if (rc >= 0)
            s->last[i] = slot; /* a failure is retried at the next tick */
        log_run(s->rn.log, r, slot, rc, run_id, tlm__now_ms() - started);
        runs += rc == 0;
    }
    return runs;
}

int64_t
tlm__report_scheduler_next(
    const struct tlm__report_scheduler *s, int64_t now_ms)
{
    const struct tlm__analytics_config *cfg = s->rn.cfg;
    int64_t next = 0;
    if (!cfg->scheduled_reports)
        return 0;
    for (size_t i = 0; i < cfg->n_reports; i++) {
        int64_t t = tlm__schedule_next(&cfg->reports[i].schedule, now_ms);
        if (t > 0 && (next == 0 || t < next))
            next = t;
    }
    return next;
}
