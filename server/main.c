/* telemetry-server entry point: options, logs, store, HTTP daemon, the
 * "listening on" line, SIGHUP log reopening and a draining stop on
 * SIGINT/SIGTERM. Must never exit with a zero status after a failed start,
 * nor leave the database open or a request unanswered on a clean stop. */
#include "auth.h"
#include "config.h"
#include "http.h"
#include "json_arena.h"
#include "keys_cmd.h"
#include "log.h"
#include "categorize.h"
#include "maintenance.h"
#include "report.h"
#include "webhook_store.h"
#include "store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
write_port_file(const char *path, uint16_t port)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = fprintf(f, "%u\n", (unsigned)port) > 0;
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* Blocks SIGINT/SIGTERM/SIGHUP in every thread (MHD's inherit the mask) so
 * that only sigwait() in main receives them. */
static void
block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void
fill_limits(struct tlm__http_options *h, const struct tlm__server_config *c)
{
    h->max_body_bytes = c->max_body_bytes;
    h->max_inflated_bytes = c->max_inflated_bytes;
    h->max_event_bytes = c->max_event_bytes;
    h->max_batch_events = c->max_batch_events;
    h->max_json_depth = c->max_json_depth;
    /* 0 disables a window in the config, a negative value in ingest. */
    h->max_future_ms
        = c->max_future_s > 0 ? (int64_t)c->max_future_s * 1000 : -1;
    h->max_age_ms = c->retention_days > 0
        ? (int64_t)c->retention_days * 24 * 3600 * 1000
        : -1;
    h->max_header_bytes = c->max_header_bytes;
    h->max_connections = c->max_connections;
    h->connection_timeout_s = c->connection_timeout_s;
    h->max_connections_per_ip = c->max_connections_per_ip;
    h->max_write_queue = c->max_write_queue;
}

static void
fill_http_options(struct tlm__http_options *h,
    const struct tlm__server_config *c, struct tlm__store *st,
    struct tlm__auth *auth, struct tlm__log *lg)
{
    memset(h, 0, sizeof(*h));
    h->host = c->host;
    h->port = c->port;
    h->threads = c->threads;
    fill_limits(h, c);
    h->log = lg;
    h->auth = auth;
    h->store = st;
    h->fault_status = c->fault_status;
    h->fault_count = c->fault_count;
    h->fault_retry_after = c->fault_retry_after;
}

/* The keyring: configured keys, then the database's. A server without
 * any ingestion key could only refuse every batch: that is a start error. */
static int
load_keys(const struct tlm__server_config *c, struct tlm__store *st,
    struct tlm__log *lg, struct tlm__auth **out, char *err, size_t n)
{
    size_t ingest = 0, admin = 0;
    if (tlm__auth_new(c->tiers, c->n_tiers, out) != 0
        || tlm__auth_add_config(
               *out, c->api_keys, c->n_api_keys, c->admin_token)
            != 0) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    if (tlm__maint_sync_keys(st, *out, lg, NULL) != 0) {
        snprintf(err, n, "cannot read the database's API keys");
        return -1;
    }
    tlm__auth_count(*out, &ingest, &admin);
    if (ingest == 0) {
        snprintf(err, n,
            "no ingestion key: give --api-key, TELEMETRY_API_KEYS or "
            "server.api_keys, or create one with `telemetry-server keys "
            "create`");
        return -1;
    }
    return 0;
}

static void
announce(const struct tlm__server_config *c, uint16_t port, struct tlm__log *lg)
{
    int v6 = strchr(c->host, ':') != NULL;
    printf("telemetry-server: listening on http://%s%s%s:%u\n", v6 ? "[" : "",
        c->host, v6 ? "]" : "", (unsigned)port);
    fflush(stdout);
    struct tlm__log_field f[] = {
        {"host", c->host, 0},
        {"port", NULL, port},
        {"version", TLM_SERVER_VERSION, 0},
    };
    tlm__log_write(lg, TLM_LOG_INFO, "listening", f, 3);
}

/* Waits for SIGINT/SIGTERM, reopening the log file and re-reading the
 * database's keys on each SIGHUP. */
static int
wait_for_stop(sigset_t *set, struct tlm__log *lg, struct tlm__maint *mt)
{
    int sig = 0;
    for (;;) {
        if (sigwait(set, &sig) != 0)
            return 0;
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        tlm__maint_poke(mt);
        if (tlm__log_reopen(lg) != 0)
            tlm__log_write(
                lg, TLM_LOG_ERROR, "cannot reopen the log file", NULL, 0);
        else
            tlm__log_write(lg, TLM_LOG_INFO, "log file reopened", NULL, 0);
    }
}

/* Stops taking connections, lets in-flight requests finish (each batch
 * commits before it is answered) up to the drain timeout. */
static void
drain(struct tlm__http_server *http, const struct tlm__server_config *c,
    int sig, struct tlm__log *lg)
{
    struct tlm__log_field f[] = {
        {"signal", sig == SIGINT ? "SIGINT" : "SIGTERM", 0},
        {"timeout_s", NULL, c->drain_timeout_s},
    };
    tlm__log_write(lg, TLM_LOG_INFO, "draining", f, 2);
    unsigned long left = tlm__http_drain(http, c->drain_timeout_s * 1000u);
    struct tlm__log_field g[] = {{"abandoned_requests", NULL, (long long)left}};
    tlm__log_write(
        lg, left == 0 ? TLM_LOG_INFO : TLM_LOG_WARN, "drained", g, 1);
}

/* The default categories when the config names none, and the webhook's
 * delivery thread when feedback.webhook_url is set. */
static int
start_feedback(const struct tlm__server_config *cfg, struct tlm__store *store,
    struct tlm__log *lg, struct tlm__categories **categories,
    struct tlm__webhook **webhook, char *err, size_t err_size)
{
    if (cfg->feedback.categories == NULL) {
        *categories = tlm__categories_default();
        if (*categories == NULL) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
    }
    if (cfg->feedback.webhook_url == NULL)
        return 0;
    struct tlm__webhook_options wo = {
        .url = cfg->feedback.webhook_url,
        .secret = cfg->feedback.webhook_secret,
        .max_attempts = cfg->feedback.webhook_max_attempts,
        .base_delay_ms = cfg->feedback.webhook_base_delay_ms,
        .log = lg,
    };
    tlm__webhook_store_outbox(store, &wo.outbox);
    return tlm__webhook_start(&wo, webhook, err, err_size);
}

int
main(int argc, char **argv)
{
    struct tlm__server_config cfg;
    struct tlm__http_options hopt;
    struct tlm__store *store = NULL;
    struct tlm__http_server *http = NULL;
    struct tlm__log *lg = NULL;
    struct tlm__auth *auth = NULL;
    struct tlm__maint *maint = NULL;
    struct tlm__categories *categories = NULL;
    struct tlm__webhook *webhook = NULL;
    char err[512] = "";
    sigset_t set;
    int sig;
    int rc = EXIT_FAILURE;

    if (argc > 1 && strcmp(argv[1], "keys") == 0)
        return tlm__keys_main(argc - 1, argv + 1);
    switch (tlm__server_config_load(&cfg, argc, argv, err, sizeof(err))) {
    case TLM_CONFIG_EXIT:
        return EXIT_SUCCESS;
    case TLM_CONFIG_ERROR:
        fprintf(stderr, "telemetry-server: %s\n", err);
        return 2;
    case TLM_CONFIG_RUN:
        break;
    }
    if (tlm__log_open(cfg.log_file, cfg.log_level, &lg, err, sizeof(err))
        != 0) {
        fprintf(stderr, "telemetry-server: %s\n", err);
        tlm__server_config_free(&cfg);
        return 2;
    }
    if (cfg.admin_token == NULL)
        tlm__log_write(lg, TLM_LOG_WARN,
            "no admin token: /admin/ routes will answer 401", NULL, 0);
    tlm__json_arena_install(); /* before any thread uses cJSON */
    block_signals(&set);
    if (tlm__store_open(cfg.db_url, &store, err, sizeof(err)) != 0
        || load_keys(&cfg, store, lg, &auth, err, sizeof(err)) != 0)
        goto out;
    fill_http_options(&hopt, &cfg, store, auth, lg);
    if (start_feedback(&cfg, store, lg, &categories, &webhook, err, sizeof(err))
        != 0)
        goto out;
    hopt.feedback = &cfg.feedback;
    hopt.categories = cfg.feedback.categories != NULL ? cfg.feedback.categories
                                                      : categories;
    hopt.webhook = webhook;
    cfg.alerts.webhook = webhook != NULL;
    hopt.alerts = &cfg.alerts;
    hopt.analytics = &cfg.analytics;
    if (tlm__http_start(&hopt, &http, err, sizeof(err)) != 0)
        goto out;
    struct tlm__maint_options mo = {
        .store = store,
        .auth = auth,
        .log = lg,
        .metrics = tlm__http_metrics(http),
        .keys_refresh_s = cfg.keys_refresh_s,
        .retention_days = cfg.retention_days,
        .analytics = &cfg.analytics,
    };
    size_t ingest_keys, admin_keys; /* the gauge, from the keys just read */
    tlm__auth_count(auth, &ingest_keys, &admin_keys);
    atomic_store(&mo.metrics->keys_active, (long)ingest_keys);
    if (tlm__maint_start(&mo, &maint) != 0) {
        snprintf(err, sizeof(err), "cannot start the maintenance thread");
        goto out;
    }
    if (cfg.port_file != NULL
        && write_port_file(cfg.port_file, tlm__http_port(http)) != 0) {
        snprintf(
            err, sizeof(err), "--port-file: cannot write %s", cfg.port_file);
        goto out;
    }
    announce(&cfg, tlm__http_port(http), lg);
    sig = wait_for_stop(&set, lg, maint);
    drain(http, &cfg, sig, lg);
    rc = EXIT_SUCCESS;
out:
    if (rc != EXIT_SUCCESS) {
        struct tlm__log_field f[] = {{"error", err, 0}};
        tlm__log_write(lg, TLM_LOG_ERROR, "cannot start", f, 1);
    }
    tlm__maint_stop(maint);
    tlm__http_stop(http);
    tlm__report_release(); /* cairo's and fontconfig's caches, once */
    tlm__webhook_stop(webhook); /* after the handlers that poke it */
    tlm__categories_free(categories);
    tlm__store_close(store);
    tlm__auth_free(auth);
    if (rc == EXIT_SUCCESS)
        tlm__log_write(lg, TLM_LOG_INFO, "stopped", NULL, 0);
    tlm__log_close(lg);
    tlm__server_config_free(&cfg);
    return rc;
}
