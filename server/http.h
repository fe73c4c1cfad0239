/* The HTTP front: the libmicrohttpd daemon (thread pool + epoll), routing,
 * authentication, request-body accumulation under a hard cap and fault
 * injection. Must never hold more than max_body_bytes of one request body
 * and never call the store for a request that failed authentication. */
#ifndef TLM_SERVER_HTTP_H
#define TLM_SERVER_HTTP_H

#include "auth.h"
#include "store.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct tlm__http_options {
    const char *host;
    uint16_t port; /* 0: any free port */
    unsigned threads;
    size_t max_body_bytes;
    size_t max_inflated_bytes;
    struct tlm__auth auth;
    struct tlm__store *store; /* borrowed; must outlive the server */
    int fault_status; /* 0: none */
    unsigned long fault_count;
    long fault_retry_after; /* -1: no Retry-After */
};

struct tlm__http_server;

/* Binds, listens and starts serving. Returns 0 and *out, or -1 with a
 * message naming the address (e.g. "address already in use"). */
int tlm__http_start(const struct tlm__http_options *o,
    struct tlm__http_server **out, char *err, size_t err_size);

/* The port actually bound (the real one when 0 was asked for). */
uint16_t tlm__http_port(const struct tlm__http_server *s);

/* Stops accepting, finishes in-flight requests' threads and frees s. */
void tlm__http_stop(struct tlm__http_server *s);

/* Queues a JSON response, taking ownership of body (malloc'ed; NULL makes
 * a 500). For use by route handlers. */
enum MHD_Result tlm__http_reply(
    struct MHD_Connection *c, unsigned status, char *body);

/* Queues {"error": msg} with status. */
enum MHD_Result tlm__http_error(
    struct MHD_Connection *c, unsigned status, const char *msg);

#endif
