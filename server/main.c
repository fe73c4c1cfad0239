/* telemetry-server entry point: options, store, HTTP daemon, the "listening
 * on" line, and an orderly stop on SIGINT/SIGTERM. Must never exit with a
 * zero status after a failed start, nor leave the database open on stop. */
#include "config.h"
#include "http.h"
#include "json_arena.h"
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

/* Blocks SIGINT/SIGTERM in every thread (MHD's inherit the mask) so that
 * only sigwait() in main receives them. */
static void
block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void
fill_http_options(struct tlm__http_options *h,
    const struct tlm__server_config *c, struct tlm__store *st)
{
    memset(h, 0, sizeof(*h));
    h->host = c->host;
    h->port = c->port;
    h->threads = c->threads;
    h->max_body_bytes = c->max_body_bytes;
    h->max_inflated_bytes = c->max_inflated_bytes;
    h->auth.api_keys = c->api_keys;
    h->auth.n_api_keys = c->n_api_keys;
    h->auth.admin_token = c->admin_token;
    h->store = st;
    h->fault_status = c->fault_status;
    h->fault_count = c->fault_count;
    h->fault_retry_after = c->fault_retry_after;
}

static void
announce(const struct tlm__server_config *c, uint16_t port)
{
    int v6 = strchr(c->host, ':') != NULL;
    printf("telemetry-server: listening on http://%s%s%s:%u\n", v6 ? "[" : "",
        c->host, v6 ? "]" : "", (unsigned)port);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    struct tlm__server_config cfg;
    struct tlm__http_options hopt;
    struct tlm__store *store = NULL;
    struct tlm__http_server *http = NULL;
    char err[512] = "";
    sigset_t set;
    int sig = 0;
    int rc = EXIT_FAILURE;

    switch (tlm__server_config_load(&cfg, argc, argv, err, sizeof(err))) {
    case TLM_CONFIG_EXIT:
        return EXIT_SUCCESS;
    case TLM_CONFIG_ERROR:
        fprintf(stderr, "telemetry-server: %s\n", err);
        return 2;
    case TLM_CONFIG_RUN:
        break;
    }
    if (cfg.admin_token == NULL)
        fprintf(stderr,
            "telemetry-server: no admin token: /admin/ routes "
            "will answer 401\n");
    tlm__json_arena_install(); /* before any thread uses cJSON */
    block_signals(&set);
    if (tlm__store_open(cfg.db_url, &store, err, sizeof(err)) != 0)
        goto out;
    fill_http_options(&hopt, &cfg, store);
    if (tlm__http_start(&hopt, &http, err, sizeof(err)) != 0)
        goto out;
    if (cfg.port_file != NULL
        && write_port_file(cfg.port_file, tlm__http_port(http)) != 0) {
        snprintf(
            err, sizeof(err), "--port-file: cannot write %s", cfg.port_file);
        goto out;
    }
    announce(&cfg, tlm__http_port(http));
    while (sig != SIGINT && sig != SIGTERM) {
        if (sigwait(&set, &sig) != 0)
            break;
    }
    rc = EXIT_SUCCESS;
out:
    if (rc != EXIT_SUCCESS)
        fprintf(stderr, "telemetry-server: %s\n", err);
    tlm__http_stop(http);
    tlm__store_close(store);
    tlm__server_config_free(&cfg);
    return rc;
}
