/* libmicrohttpd daemon and request dispatch. Owns the listening socket (bound
 * here so "address in use" is reported precisely), per-request state, and
 * the fault-injection counter. Must never buffer a body past its cap. */
#include "http.h"

#include "ingest.h"
#include "config.h"
#include "json_util.h"
#include "rfc3339.h"
#include "analytics.h"
#include "event_list.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tlm__http_server {
    struct MHD_Daemon *daemon;
    struct tlm__http_options opt;
    atomic_ulong faults_left;
    uint16_t port;
};

enum route {
    ROUTE_BATCH,
    ROUTE_HEALTHZ,
    ROUTE_DASHBOARD,
    ROUTE_EVENTS,
    ROUTE_NONE,
};

static const struct {
    const char *path;
    const char *method;
    enum route route;
} routes[] = {
    {"/v1/batch", "POST", ROUTE_BATCH},
    {"/healthz", "GET", ROUTE_HEALTHZ},
    {"/admin/analytics/dashboard", "GET", ROUTE_DASHBOARD},
    {"/admin/events", "GET", ROUTE_EVENTS},
};

/* State of one request between access-handler calls. Answers are given on
 * the last call when possible: answering on the first one makes
 * libmicrohttpd close the connection instead of keeping it alive. */
struct request {
    enum route route;
    char *body;
    size_t len;
    size_t cap;
    enum tlm__encoding enc;
    bool too_large; /* cap crossed: the rest of the body is discarded */
    bool fault; /* answer with the injected fault status */
};

static enum MHD_Result
queue(struct MHD_Connection *c, unsigned status, char *body,
    const char *extra_name, const char *extra_value)
{
    struct MHD_Response *r;
    enum MHD_Result rc;
    if (body == NULL) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r = MHD_create_response_from_buffer(
            sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(
            strlen(body), body, MHD_RESPMEM_MUST_FREE);
        if (r == NULL)
            free(body);
    }
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(
        r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (extra_name != NULL)
        MHD_add_response_header(r, extra_name, extra_value);
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result
tlm__http_reply(struct MHD_Connection *c, unsigned status, char *body)
{
    return queue(c, status, body, NULL, NULL);
}

enum MHD_Result
tlm__http_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return queue(c, status, tlm__json_error_body(msg), NULL, NULL);
}

static enum route
find_route(const char *url, const char *method, const char **allow)
{
    *allow = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        *allow = routes[i].method;
        if (strcmp(method, routes[i].method) == 0
            || (strcmp(routes[i].method, "GET") == 0
                && strcmp(method, "HEAD") == 0))
            return routes[i].route;
        return ROUTE_NONE;
    }
    return ROUTE_NONE;
}

static enum tlm__principal
principal(const struct tlm__http_server *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    return tlm__auth_classify(&s->opt.auth, h);
}

static enum MHD_Result
serve_admin(
    struct tlm__http_server *s, struct MHD_Connection *c, enum route route)
{
    enum tlm__principal who = principal(s, c);
    if (who == TLM_PRINCIPAL_NONE)
        return tlm__http_error(
            c, MHD_HTTP_UNAUTHORIZED, "missing or invalid admin token");
    if (who != TLM_PRINCIPAL_ADMIN)
        return tlm__http_error(
            c, MHD_HTTP_FORBIDDEN, "this route needs the admin token");
    if (route == ROUTE_DASHBOARD)
        return tlm__analytics_handle(c, s->opt.store);
    return tlm__event_list_handle(c, s->opt.store);
}

/* Takes one injected fault if any are left. */
static bool
take_fault(struct tlm__http_server *s)
{
    unsigned long left = atomic_load(&s->faults_left);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&s->faults_left, &left, left - 1))
            return true;
    }
    return false;
}

static enum MHD_Result
too_large(struct MHD_Connection *c)
{
    /* The rest of the body stays unread: the connection cannot be reused. */
    return queue(c, MHD_HTTP_CONTENT_TOO_LARGE,
        tlm__json_error_body("body: larger than the wire limit"),
        MHD_HTTP_HEADER_CONNECTION, "close");
}

/* First call for POST /v1/batch: everything decidable from the headers. */
static enum MHD_Result
begin_batch(
    struct tlm__http_server *s, struct MHD_Connection *c, void **con_cls)
{
    const char *enc_h, *len_h;
    unsigned long declared = 0;
    struct request *rq;

    if (principal(s, c) != TLM_PRINCIPAL_INGEST)
        return tlm__http_error(
            c, MHD_HTTP_UNAUTHORIZED, "missing or invalid API key");
    enc_h = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (tlm__encoding_parse(enc_h) == TLM_ENCODING_UNSUPPORTED)
        return tlm__http_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding: expected gzip or identity");
    len_h = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (len_h != NULL
        && (tlm__parse_ulong(len_h, 0, ULONG_MAX, &declared) != 0
            || declared > s->opt.max_body_bytes))
        return too_large(c);
    rq = calloc(1, sizeof(*rq));
    if (rq == NULL)
        return MHD_NO;
    rq->route = ROUTE_BATCH;
    rq->enc = tlm__encoding_parse(enc_h);
    rq->fault = take_fault(s);
    if (declared > 0 && !rq->fault) {
        rq->body = malloc(declared);
        if (rq->body == NULL) {
            free(rq);
            return MHD_NO;
        }
        rq->cap = declared;
    }
    *con_cls = rq;
    return MHD_YES;
}

static bool
append(struct request *rq, const char *data, size_t n, size_t max)
{
    if (n > max - rq->len)
        return false;
    if (rq->len + n > rq->cap) {
        size_t ncap = rq->cap < 65536 ? 65536 : rq->cap * 2;
        if (ncap < rq->len + n)
            ncap = rq->len + n;
        if (ncap > max)
            ncap = max;
        char *p = realloc(rq->body, ncap);
        if (p == NULL)
            return false;
        rq->body = p;
        rq->cap = ncap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    return true;
}

/* Bytes of an oversized body without Content-Length that are read and
 * dropped, in multiples of the cap, before the connection is cut. */
#define DISCARD_FACTOR 4

/* libmicrohttpd 0.9.75 cannot queue a response in the middle of a body: a
 * body declared too large by Content-Length is refused before any of it is
 * read (begin_batch); a chunked one that crosses the cap is read and dropped
 * (nothing is kept) so it still gets its 413, up to DISCARD_FACTOR times the
 * cap, past which the connection is closed without an answer. */
static enum MHD_Result
upload(struct tlm__http_server *s, struct request *rq, const char *data,
    size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (rq->fault)
        return MHD_YES; /* discard: the answer does not depend on it */
    if (!rq->too_large && append(rq, data, n, s->opt.max_body_bytes))
        return MHD_YES;
    if (!rq->too_large) {
        rq->too_large = true;
        free(rq->body);
        rq->body = NULL;
        rq->cap = 0;
    }
    rq->len += n;
    if (rq->len / DISCARD_FACTOR > s->opt.max_body_bytes)
        return MHD_NO;
    return MHD_YES;
}

static enum MHD_Result
finish_batch(
    struct tlm__http_server *s, struct MHD_Connection *c, struct request *rq)
{
    char *resp = NULL;
    char retry[24];
    int status;
    struct tlm__ingest_limits lim = {s->opt.max_inflated_bytes};

    if (rq->too_large)
        return too_large(c);
    if (rq->fault) {
        if (s->opt.fault_retry_after < 0)
            return tlm__http_error(
                c, (unsigned)s->opt.fault_status, "injected fault (--fault)");
        snprintf(retry, sizeof(retry), "%ld", s->opt.fault_retry_after);
        return queue(c, (unsigned)s->opt.fault_status,
            tlm__json_error_body("injected fault (--fault)"),
            MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }
    status = tlm__ingest_body(
        s->opt.store, rq->body, rq->len, rq->enc, &lim, tlm__now_ms(), &resp);
    return tlm__http_reply(c, (unsigned)status, resp);
}

static enum MHD_Result
begin(struct tlm__http_server *s, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
    const char *allow;
    enum route route = find_route(url, method, &allow);
    if (route == ROUTE_NONE && allow == NULL)
        return tlm__http_error(c, MHD_HTTP_NOT_FOUND, "no such route");
    if (route == ROUTE_NONE)
        return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED,
            tlm__json_error_body("method not allowed"), MHD_HTTP_HEADER_ALLOW,
            allow);
    if (route == ROUTE_BATCH)
        return begin_batch(s, c, con_cls);
    struct request *rq = calloc(1, sizeof(*rq));
    if (rq == NULL)
        return MHD_NO;
    rq->route = route;
    *con_cls = rq;
    return MHD_YES;
}

static enum MHD_Result
finish(struct tlm__http_server *s, struct MHD_Connection *c, struct request *rq)
{
    switch (rq->route) {
    case ROUTE_BATCH:
        return finish_batch(s, c, rq);
    case ROUTE_HEALTHZ:
        return tlm__http_reply(c, MHD_HTTP_OK, strdup("{\"status\":\"ok\"}"));
    default:
        return serve_admin(s, c, rq->route);
    }
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    struct tlm__http_server *s = cls;
    struct request *rq = *con_cls;
    (void)version;
    if (rq == NULL)
        return begin(s, c, url, method, con_cls);
    if (*upload_data_size > 0 && rq->route != ROUTE_BATCH) {
        *upload_data_size = 0; /* GET routes ignore any body */
        return MHD_YES;
    }
    if (*upload_data_size > 0)
        return upload(s, rq, upload_data, upload_data_size);
    return finish(s, c, rq);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (rq != NULL) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* Binds and listens on host:port, trying each resolved address in turn. */
static int
listen_socket(const char *host, uint16_t port, int *fd_out, char *err, size_t n)
{
    struct addrinfo hints, *res = NULL;
    char service[8];
    int fd = -1, last_errno = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(err, n, "--listen %s: %s", host, gai_strerror(gai));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0
            || listen(fd, SOMAXCONN) != 0
            || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, n, "cannot listen on %s:%u: %s", host, (unsigned)port,
            strerror(last_errno));
        return -1;
    }
    *fd_out = fd;
    return 0;
}

static uint16_t
bound_port(struct MHD_Daemon *d, int fd)
{
    const union MHD_DaemonInfo *info
        = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (info != NULL && info->port != 0)
        return info->port;
    /* Fallback for builds that do not read the port of a given socket. */
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int
tlm__http_start(const struct tlm__http_options *o,
    struct tlm__http_server **out, char *err, size_t err_size)
{
    struct tlm__http_server *s = calloc(1, sizeof(*s));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    int fd = -1;
    *out = NULL;
    if (s == NULL)
        return -1;
    s->opt = *o;
    atomic_init(&s->faults_left, o->fault_status != 0 ? o->fault_count : 0);
    if (listen_socket(o->host, o->port, &fd, err, err_size) != 0)
        goto fail;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(o->threads > 0 ? o->threads : 2),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(err, err_size, "cannot start the HTTP daemon on %s:%u",
            o->host, (unsigned)o->port);
        close(fd);
        goto fail;
    }
    s->port = bound_port(s->daemon, fd);
    *out = s;
    return 0;
fail:
    free(s);
    return -1;
}

uint16_t
tlm__http_port(const struct tlm__http_server *s)
{
    return s->port;
}

void
tlm__http_stop(struct tlm__http_server *s)
{
    if (s == NULL)
        return;
    /* With MHD_OPTION_LISTEN_SOCKET the daemon closes the socket itself. */
    MHD_stop_daemon(s->daemon);
    free(s);
}
