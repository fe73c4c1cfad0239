/* The HTTP front: the libmicrohttpd daemon (thread pool + epoll), routing,
 * authentication, connection limits, rate limiting, the bounded write queue,
 * metrics, request logs, draining and fault injection. Must never hold more
 * than max_body_bytes of one request body and never call the store for a
 * request that failed authentication. */
#ifndef TLM_SERVER_HTTP_H
#define TLM_SERVER_HTTP_H

#include "auth.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct tlm__webhook;
struct tlm__analytics_config;

struct tlm__http_options {
    const char *host;
    uint16_t port; /* 0: any free port */
    unsigned threads;
    size_t max_body_bytes;
    size_t max_inflated_bytes;
    /* Per-event and per-batch limits; 0 takes ingest.h's defaults, a
     * negative time window disables that check. */
    size_t max_event_bytes;
    size_t max_batch_events;
    int64_t max_future_ms;
    int64_t max_age_ms;
    /* JSON nesting of a batch or API body, 1..TLM_JSON_SCAN_MAX_DEPTH; 0
     * takes the maximum. */
    unsigned max_json_depth;
    /* Connection limits; 0 takes the default named. */
    size_t max_header_bytes; /* per-connection memory: 32 KiB */
    unsigned max_connections; /* 1000 in all */
    unsigned connection_timeout_s; /* 30 s idle */
    unsigned max_connections_per_ip; /* 0 here means no cap */
    long max_write_queue; /* batches waiting for the store; <0: 2 x threads */
    struct tlm__log *log; /* borrowed; NULL: no logs */
    /* The keyring (borrowed; must outlive the server): who may call what,
     * and each ingestion key's rate limit and attributes. */
    struct tlm__auth *auth;
    struct tlm__store *store; /* borrowed; must outlive the server */
    /* Feedback and feature requests: their settings and the webhook to
     * poke (both borrowed, may be NULL: defaults, no webhook). */
    const struct tlm__feedback_config *feedback;
    const struct tlm__categories *categories; /* NULL: the default set */
    struct tlm__webhook *webhook;
    /* The analytics section: saved reports, the live dashboard's settings
     * (borrowed; NULL: the defaults, no saved reports). */
    const struct tlm__analytics_config *analytics;
    /* error_tracking's alert rule (borrowed; NULL: the defaults). */
    const struct tlm__alert_policy *alerts;
    int fault_status; /* 0: none */
    unsigned long fault_count;
    long fault_retry_after; /* -1: no Retry-After */
    /* Tests only: called by a batch holding its write-queue place, just
     * before its store write (a stand-in for a slow disk). */
    void (*test_store_hook)(void *ctx);
    void *test_store_ctx;
};

struct tlm__http_server;

/* Binds, listens and starts serving. Returns 0 and *out, or -1 with a
 * message naming the address (e.g. "address already in use"). */
int tlm__http_start(const struct tlm__http_options *o,
    struct tlm__http_server **out, char *err, size_t err_size);

struct tlm__metrics;

/* The server's counters, for jobs outside the HTTP front to add to. */
struct tlm__metrics *tlm__http_metrics(struct tlm__http_server *s);

/* The port actually bound (the real one when 0 was asked for). */
uint16_t tlm__http_port(const struct tlm__http_server *s);

/* Stops accepting new connections (MHD_quiesce_daemon) and waits until no
 * request is in flight or timeout_ms passed. Returns the number of
 * requests still in flight (0: drained). Call at most once, then stop. */
unsigned long tlm__http_drain(struct tlm__http_server *s, unsigned timeout_ms);

/* Stops serving (closing any remaining connection) and frees s. */
void tlm__http_stop(struct tlm__http_server *s);

/* Queues a JSON response, taking ownership of body (malloc'ed; NULL makes
 * a 500). For use by route handlers. */
enum MHD_Result tlm__http_reply(
    struct MHD_Connection *c, unsigned status, char *body);

/* Queues {"error": msg} with status. */
enum MHD_Result tlm__http_error(
    struct MHD_Connection *c, unsigned status, const char *msg);

#endif
