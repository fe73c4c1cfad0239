/* The server's periodic jobs on one background thread: re-reading the
 * database's API keys into the keyring, the retention purge, rollup
 * compaction and retention, and scheduled reports. Must
 * never stop serving because a job failed: the previous keys stay in force
 * and a failed purge is retried at the next period. */
#ifndef TLM_SERVER_MAINTENANCE_H
#define TLM_SERVER_MAINTENANCE_H

#include "auth.h"
#include "config_analytics.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#include <stdint.h>

struct tlm__maint_options {
    struct tlm__store *store;
    struct tlm__auth *auth;
    struct tlm__log *log; /* NULL: silent */
    struct tlm__metrics *metrics; /* NULL: not counted */
    unsigned keys_refresh_s; /* 0: only on tlm__maint_poke */
    unsigned long retention_days; /* 0: never purge */
    unsigned purge_interval_s; /* 0: hourly */
    /* Rollup retention and saved reports (borrowed, must outlive the
     * thread); NULL: the defaults, no reports. */
    const struct tlm__analytics_config *analytics;
};

struct tlm__maint;

/* Reads the database's keys into auth once, now. Returns 0 or -1. */
int tlm__maint_sync_keys(struct tlm__store *st, struct tlm__auth *a,
    struct tlm__log *lg, struct tlm__metrics *m);

/* Starts the thread (copying o); the first purge runs at once. Returns 0
 * and *out, or -1. */
int tlm__maint_start(
    const struct tlm__maint_options *o, struct tlm__maint **out);

/* Asks for a key re-read now (SIGHUP). */
void tlm__maint_poke(struct tlm__maint *m);

/* Stops and joins the thread; m may be NULL. */
void tlm__maint_stop(struct tlm__maint *m);

#endif
