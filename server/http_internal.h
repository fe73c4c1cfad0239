/* Internals of the HTTP front shared by http.c (daemon, dispatch, operations
 * routes) and batch_route.c (POST /v1/batch): the server and per-request
 * state. Never included outside those two files. */
#ifndef TLM_SERVER_HTTP_INTERNAL_H
#define TLM_SERVER_HTTP_INTERNAL_H

#include "http.h"
#include "inflate.h"
#include "metrics.h"
#include "ratelimit.h"
#include "write_queue.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tlm__http_server {
    struct MHD_Daemon *daemon;
    struct tlm__http_options opt;
    atomic_ulong faults_left;
    atomic_ulong in_flight; /* requests begun and not yet completed */
    struct tlm__metrics metrics;
    struct tlm__write_queue write_queue;
    int quiesced_fd; /* listening socket handed back by quiesce, or -1 */
    uint16_t port;
};

/* Routes are metric labels too (metrics.h), so they share that enum. */
enum route {
    ROUTE_BATCH = TLM_ROUTE_BATCH,
    ROUTE_HEALTHZ = TLM_ROUTE_HEALTHZ,
    ROUTE_READYZ = TLM_ROUTE_READYZ,
    ROUTE_METRICS = TLM_ROUTE_METRICS,
    ROUTE_DASHBOARD = TLM_ROUTE_DASHBOARD,
    ROUTE_EVENTS = TLM_ROUTE_EVENTS,
    ROUTE_API = TLM_ROUTE_FEEDBACK, /* api_route.c: feedback, requests */
    ROUTE_NONE = TLM_ROUTE_OTHER,
};

/* State of one request between access-handler calls. Answers are given on
 * the last call when possible: answering on the first one makes
 * libmicrohttpd close the connection instead of keeping it alive. */
struct tlm__http_request {
    enum route route;
    char *body;
    size_t len;
    size_t cap;
    enum tlm__encoding enc;
    const struct tlm__key *key; /* the ingestion key (batch route) */
    bool too_large; /* cap crossed: the rest of the body is discarded */
    bool fault; /* answer with the injected fault status */
    /* ROUTE_API (api_route.c): which one, its {id}, who called. */
    int api_route;
    char api_id[64];
    char api_id2[64]; /* a second {id} (report runs) */
    int principal;
    char origin[256]; /* the Origin to allow in CORS headers, or "" */
};

/* Queues a JSON response (body as tlm__http_reply) with one extra header
 * when extra_name is not NULL. */
enum MHD_Result tlm__http_queue(struct MHD_Connection *c, unsigned status,
    char *body, const char *extra_name, const char *extra_value);

/* Queues body (as tlm__http_reply) with extra headers: a NULL-terminated
 * array of name, value pairs. */
enum MHD_Result tlm__http_queue_headers(struct MHD_Connection *c,
    unsigned status, char *body, const char *type, const char *const *headers);
/* As tlm__http_queue_headers for a binary body of len bytes (taken). */
enum MHD_Result tlm__http_queue_bytes(struct MHD_Connection *c, unsigned status,
    void *body, size_t len, const char *type, const char *const *headers);

/* Feedback, feature requests, portal (api_route.c): the first call (route
 * match, credentials, origin; *matched false when url is none of its
 * routes) and the last (the answer). Bodies go through tlm__batch_upload. */
enum MHD_Result tlm__api_begin(struct tlm__http_server *s,
    struct MHD_Connection *c, const char *url, const char *method,
    void **con_cls, bool *matched);
enum MHD_Result tlm__api_finish(struct tlm__http_server *s,
    struct MHD_Connection *c, struct tlm__http_request *rq);
enum tlm__metrics_route tlm__api_metric_route(const char *url);

/* POST /v1/batch, one function per access-handler stage: the headers
 * (auth, encoding, declared length), each piece of body, the answer. */
enum MHD_Result tlm__batch_begin(
    struct tlm__http_server *s, struct MHD_Connection *c, void **con_cls);
enum MHD_Result tlm__batch_upload(struct tlm__http_server *s,
    struct tlm__http_request *rq, const char *data, size_t *size);
enum MHD_Result tlm__batch_finish(struct tlm__http_server *s,
    struct MHD_Connection *c, struct tlm__http_request *rq);

#endif
