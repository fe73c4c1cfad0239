/* One thread sleeping on a condition variable between jobs: a key sync
 * every keys_refresh_s (and when poked), a purge, a rollup compaction and
 * the rollup retention every purge_interval_s, and the saved reports'
 * schedules when each slot falls due. Each job reports through the log
 * and the metrics only. */
#include "maintenance.h"

#include "report_schedule.h"
#include "rfc3339.h"
#include "rollup.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PURGE_INTERVAL_S 3600u
#define DAY_MS (24LL * 3600 * 1000)
/* Longest sleep while reports are scheduled: the wall clock may be set
 * while we wait on the monotonic one. */
#define SCHEDULE_RECHECK_S 60

struct tlm__maint {
    struct tlm__maint_options o;
    struct tlm__analytics_config defaults; /* when o.analytics is NULL */
    const struct tlm__analytics_config *a;
    struct tlm__report_scheduler *sched; /* NULL: no scheduled reports */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool poked;
};

int
tlm__maint_sync_keys(struct tlm__store *st, struct tlm__auth *a,
    struct tlm__log *lg, struct tlm__metrics *m)
{
    struct tlm__key_row *rows = NULL;
    size_t n = 0, added = 0, revoked = 0, ingest = 0, admin = 0;
    int rc = tlm__store_key_list(st, &rows, &n);
    if (rc == 0)
        rc = tlm__auth_sync(a, rows, n, &added, &revoked);
    free(rows);
    if (rc != 0) {
        if (m != NULL)
            atomic_fetch_add(&m->key_syncs_failed, 1);
        tlm__log_write(lg, TLM_LOG_ERROR,
            "cannot re-read the database's keys; the previous ones stay in "
            "force",
            NULL, 0);
        return -1;
    }
    tlm__auth_count(a, &ingest, &admin);
    if (m != NULL)
        atomic_store(&m->keys_active, (long)ingest);
    if (added > 0 || revoked > 0) {
        struct tlm__log_field f[] = {
            {"added", NULL, (long long)added},
            {"revoked", NULL, (long long)revoked},
            {"ingestion_keys", NULL, (long long)ingest},
            {"admin_keys", NULL, (long long)admin},
        };
        tlm__log_write(lg, TLM_LOG_INFO, "keys changed", f, 4);
    }
    return 0;
}

static void
purge(struct tlm__maint *mt)
{
    int64_t before = tlm__now_ms() - (int64_t)mt->o.retention_days * DAY_MS;
    uint64_t removed = 0;
    int rc = tlm__store_purge(mt->o.store, before, &removed);
    char at[TLM_RFC3339_BUF];
    tlm__rfc3339_format(before, at, sizeof(at));
    struct tlm__log_field f[] = {
        {"before", at, 0},
        {"events_removed", NULL, (long long)removed},
    };
    if (mt->o.metrics != NULL && rc == 0)
        atomic_fetch_add(&mt->o.metrics->events_purged, removed);
    tlm__log_write(mt->o.log, rc == 0 ? TLM_LOG_INFO : TLM_LOG_ERROR,
        rc == 0 ? "retention purge" : "retention purge failed", f, 2);
}

static void
compact_rollups(struct tlm__maint *mt)
{
    int64_t now = tlm__now_ms();
    long long minute_h = mt->a->minute_retention_hours;
    long long hour_d = mt->a->hour_retention_days;
    uint64_t folded = 0;
    int rc = tlm__store_rollup_compact(mt->o.store,
        now - minute_h * 3600 * 1000LL, now - hour_d * DAY_MS, &folded);
    if (rc == 1)
        return; /* a store without rollups */
    struct tlm__log_field f[] = {
        {"rows_folded", NULL, (long long)folded},
        {"minute_retention_hours", NULL, minute_h},
        {"hour_retention_days", NULL, hour_d},
    };
    tlm__log_write(mt->o.log, rc == 0 ? TLM_LOG_INFO : TLM_LOG_ERROR,
        rc == 0 ? "rollup compaction" : "rollup compaction failed", f, 3);
}

/* analytics.rollup_retention_days: never shorter than the raw events'
 * retention (a --retention-days flag may have raised it past the file's
 * check), so the dashboard never loses rollups of events still stored. */
static void
purge_rollups(struct tlm__maint *mt)
{
    unsigned long days = mt->a->rollup_retention_days;
    uint64_t removed = 0;
    if (days == 0)
        return;
    if (mt->o.retention_days == 0)
        return; /* raw events kept forever: so are their rollups */
    if (days < mt->o.retention_days)
        days = mt->o.retention_days;
    int64_t before = tlm__now_ms() - (int64_t)days * DAY_MS;
    int rc = tlm__store_rollup_purge(mt->o.store, before, &removed);
    if (rc == 1)
        return; /* a store without rollup retention */
    char at[TLM_RFC3339_BUF];
    tlm__rfc3339_format(before, at, sizeof(at));
    struct tlm__log_field f[] = {
        {"before", at, 0},
        {"rollup_rows_removed", NULL, (long long)removed},
    };
    tlm__log_write(mt->o.log, rc == 0 ? TLM_LOG_INFO : TLM_LOG_ERROR,
        rc == 0 ? "rollup retention" : "rollup retention failed", f, 2);
}

/* Runs the due slots; the next wake-up, in seconds from now. */
static unsigned
run_schedules(struct tlm__maint *mt)
{
    int64_t now = tlm__now_ms();
    tlm__report_scheduler_tick(mt->sched, now);
    now = tlm__now_ms();
    int64_t next = tlm__report_scheduler_next(mt->sched, now);
    int64_t wait_s = next > now ? (next - now) / 1000 + 1 : 1;
    return wait_s < SCHEDULE_RECHECK_S ? (unsigned)wait_s : SCHEDULE_RECHECK_S;
}

static struct timespec
deadline_in(unsigned s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)s;
    return ts;
}

static bool
before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec
        || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *
run(void *arg)
{
    struct tlm__maint *mt = arg;
    unsigned every = mt->o.purge_interval_s > 0 ? mt->o.purge_interval_s
                                                : DEFAULT_PURGE_INTERVAL_S;
    struct timespec next_purge = deadline_in(0);
    struct timespec next_compact = deadline_in(0);
    struct timespec next_sync = deadline_in(mt->o.keys_refresh_s);
    struct timespec next_sched = deadline_in(0);
    pthread_mutex_lock(&mt->lock);
    while (!mt->stop) {
        struct timespec now = deadline_in(0);
        bool do_purge = mt->o.retention_days > 0 && !before(&now, &next_purge);
        bool do_compact = !before(&now, &next_compact);
        bool do_sync = mt->poked
            || (mt->o.keys_refresh_s > 0 && !before(&now, &next_sync));
        bool do_sched = mt->sched != NULL && !before(&now, &next_sched);
        if (do_purge || do_sync || do_compact || do_sched) {
            mt->poked = false;
            pthread_mutex_unlock(&mt->lock);
            if (do_sync) {
                tlm__maint_sync_keys(
                    mt->o.store, mt->o.auth, mt->o.log, mt->o.metrics);
                next_sync = deadline_in(mt->o.keys_refresh_s);
            }
            if (do_purge) {
                purge(mt);
                next_purge = deadline_in(every);
            }
            if (do_compact) {
                compact_rollups(mt);
                purge_rollups(mt);
                next_compact = deadline_in(every);
            }
            if (do_sched)
                next_sched = deadline_in(run_schedules(mt));
            pthread_mutex_lock(&mt->lock);
            continue;
        }
        struct timespec wake = next_compact;
        if (mt->o.retention_days > 0 && before(&next_purge, &wake))
            wake = next_purge;
        if (mt->o.keys_refresh_s > 0 && before(&next_sync, &wake))
            wake = next_sync;
        if (mt->sched != NULL && before(&next_sched, &wake))
            wake = next_sched;
        pthread_cond_timedwait(&mt->cond, &mt->lock, &wake);
    }
    pthread_mutex_unlock(&mt->lock);
    return NULL;
}

int
tlm__maint_start(const struct tlm__maint_options *o, struct tlm__maint **out)
{
    struct tlm__maint *mt = calloc(1, sizeof(*mt));
    pthread_condattr_t ca;
    *out = NULL;
    if (mt == NULL)
        return -1;
    mt->o = *o;
    tlm__analytics_config_defaults(&mt->defaults);
    mt->a = o->analytics != NULL ? o->analytics : &mt->defaults;
    if (mt->a->scheduled_reports && mt->a->n_reports > 0) {
        struct tlm__report_runner rn = {o->store, mt->a, o->log};
        if (tlm__report_scheduler_new(&rn, &mt->sched) != 0) {
            free(mt);
            return -1;
        }
    }
    pthread_mutex_init(&mt->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&mt->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&mt->thread, NULL, run, mt) != 0) {
        pthread_cond_destroy(&mt->cond);
        pthread_mutex_destroy(&mt->lock);
        tlm__report_scheduler_free(mt->sched);
        free(mt);
        return -1;
    }
    *out = mt;
    return 0;
}

void
tlm__maint_poke(struct tlm__maint *mt)
{
    if (mt == NULL)
        return;
    pthread_mutex_lock(&mt->lock);
    mt->poked = true;
    pthread_cond_signal(&mt->cond);
    pthread_mutex_unlock(&mt->lock);
}

void
tlm__maint_stop(struct tlm__maint *mt)
{
    if (mt == NULL)
        return;
    pthread_mutex_lock(&mt->lock);
    mt->stop = true;
    pthread_cond_signal(&mt->cond);
    pthread_mutex_unlock(&mt->lock);
    pthread_join(mt->thread, NULL);
    pthread_cond_destroy(&mt->cond);
    pthread_mutex_destroy(&mt->lock);
    tlm__report_scheduler_free(mt->sched);
    free(mt);
}
