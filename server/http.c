/* libmicrohttpd daemon, request dispatch and the operations routes. Owns the
 * listening socket (bound here so "address in use" is reported precisely),
 * per-request state, and this server's metrics, rate limiter and write
 * queue; counts and logs every answer and drains on stop. */
#include "http_internal.h"

#include "admin_page.h"
#include "ingest.h"
#include "config.h"
#include "json_util.h"
#include "rfc3339.h"
#include "analytics.h"
#include "event_list.h"
#include "metrics.h"
#include "webhook.h"
#include "write_queue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_HEADER_BYTES (32u * 1024u)
#define DEFAULT_MAX_CONNECTIONS 1000u
#define DEFAULT_CONNECTION_TIMEOUT_S 30u

static const struct {
    const char *path;
    const char *method;
    enum route route;
} routes[] = {
    {"/v1/batch", "POST", ROUTE_BATCH},
    {"/healthz", "GET", ROUTE_HEALTHZ},
    {"/readyz", "GET", ROUTE_READYZ},
    {"/metrics", "GET", ROUTE_METRICS},
    {"/admin/analytics/dashboard", "GET", ROUTE_DASHBOARD},
    {"/admin/events", "GET", ROUTE_EVENTS},
};

/* The status of the response queued by the current handler call on this
 * thread, read back by on_request to count and log it (handlers in other
 * files answer through tlm__http_reply, which sets it too). */
static _Thread_local unsigned queued_status;

static enum MHD_Result
queue_typed(struct MHD_Connection *c, unsigned status, char *body,
    const char *type, const char *extra_name, const char *extra_value)
{
    const char *h[] = {extra_name, extra_value, NULL};
    return tlm__http_queue_headers(
        c, status, body, type, extra_name != NULL ? h : h + 2);
}

enum MHD_Result
tlm__http_queue_headers(struct MHD_Connection *c, unsigned status, char *body,
    const char *type, const char *const *headers)
{
    return tlm__http_queue_bytes(
        c, status, body, body != NULL ? strlen(body) : 0, type, headers);
}

enum MHD_Result
tlm__http_queue_bytes(struct MHD_Connection *c, unsigned status, void *body,
    size_t len, const char *type, const char *const *headers)
{
    struct MHD_Response *r;
    enum MHD_Result rc;
    if (body == NULL) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r = MHD_create_response_from_buffer(
            sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (r == NULL)
            free(body);
    }
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
        body == NULL ? "application/json" : type);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        MHD_add_response_header(r, headers[i], headers[i + 1]);
    rc = MHD_queue_response(c, status, r);
    if (rc == MHD_YES)
        queued_status = status;
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result
tlm__http_queue(struct MHD_Connection *c, unsigned status, char *body,
    const char *extra_name, const char *extra_value)
{
    return queue_typed(
        c, status, body, "application/json", extra_name, extra_value);
}

enum MHD_Result
tlm__http_reply(struct MHD_Connection *c, unsigned status, char *body)
{
    return tlm__http_queue(c, status, body, NULL, NULL);
}

enum MHD_Result
tlm__http_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return tlm__http_queue(c, status, tlm__json_error_body(msg), NULL, NULL);
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
    return tlm__auth_classify(s->opt.auth, h, NULL);
}

static enum MHD_Result
serve_admin(
    struct tlm__http_server *s, struct MHD_Connection *c, enum route route)
{
    enum tlm__principal who = principal(s, c);
    if (who == TLM_PRINCIPAL_NONE)
        return tlm__http_error(c, MHD_HTTP_UNAUTHORIZED,
            "missing or invalid admin token or admin key");
    if (who != TLM_PRINCIPAL_ADMIN)
        return tlm__http_error(c, MHD_HTTP_FORBIDDEN,
            "this route needs the admin token or an admin key; ingestion "
            "keys are write-only");
    if (route == ROUTE_DASHBOARD)
        return tlm__analytics_handle(c, s->opt.store, s->opt.analytics);
    return tlm__event_list_handle(c, s->opt.store);
}

/* Ready when the database answers a trivial read through the store API. */
static enum MHD_Result
serve_readyz(struct tlm__http_server *s, struct MHD_Connection *c)
{
    if (tlm__store_ping(s->opt.store) != 0)
        return tlm__http_error(
            c, MHD_HTTP_SERVICE_UNAVAILABLE, "database: not answering");
    return tlm__http_reply(c, MHD_HTTP_OK, strdup("{\"status\":\"ready\"}"));
}

static enum MHD_Result
serve_metrics(struct tlm__http_server *s, struct MHD_Connection *c)
{
    char *text;
    atomic_store(
        &s->metrics.write_queue_depth, tlm__write_queue_depth(&s->write_queue));
    text = tlm__metrics_render(&s->metrics);
    return queue_typed(c, MHD_HTTP_OK, text,
        "text/plain; version=0.0.4; charset=utf-8", NULL, NULL);
}

static enum MHD_Result
begin(struct tlm__http_server *s, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
    const char *allow;
    bool matched = false;
    enum route route = find_route(url, method, &allow);
    /* The dashboard page's static shell is public; its data is not. */
    if (tlm__admin_page_match(url))
        return tlm__admin_page_serve(c, url, method);
    if (route == ROUTE_NONE && allow == NULL) {
        enum MHD_Result rc
            = tlm__api_begin(s, c, url, method, con_cls, &matched);
        if (matched)
            return rc;
    }
    if (route == ROUTE_NONE && allow == NULL)
        return tlm__http_error(c, MHD_HTTP_NOT_FOUND, "no such route");
    if (route == ROUTE_NONE)
        return tlm__http_queue(c, MHD_HTTP_METHOD_NOT_ALLOWED,
            tlm__json_error_body("method not allowed"), MHD_HTTP_HEADER_ALLOW,
            allow);
    if (route == ROUTE_BATCH)
        return tlm__batch_begin(s, c, con_cls);
    struct tlm__http_request *rq = calloc(1, sizeof(*rq));
    if (rq == NULL)
        return MHD_NO;
    rq->route = route;
    *con_cls = rq;
    atomic_fetch_add(&s->in_flight, 1);
    return MHD_YES;
}

static enum MHD_Result
finish(struct tlm__http_server *s, struct MHD_Connection *c,
    struct tlm__http_request *rq)
{
    switch (rq->route) {
    case ROUTE_BATCH:
        return tlm__batch_finish(s, c, rq);
    case ROUTE_API:
        return tlm__api_finish(s, c, rq);
    case ROUTE_HEALTHZ:
        return tlm__http_reply(c, MHD_HTTP_OK, strdup("{\"status\":\"ok\"}"));
    case ROUTE_READYZ:
        return serve_readyz(s, c);
    case ROUTE_METRICS:
        return serve_metrics(s, c);
    default:
        return serve_admin(s, c, rq->route);
    }
}

/* The route a request is counted under, whatever its method. */
static enum route
metric_route(const char *url)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(url, routes[i].path) == 0)
            return routes[i].route;
    }
    return (enum route)tlm__api_metric_route(url);
}

static void
client_address(struct MHD_Connection *c, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci
        = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
    snprintf(buf, size, "?");
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET,
            &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
            (socklen_t)size);
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6,
            &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
            (socklen_t)size);
}

/* Counts an answered request and logs it: debug for every request, warn
 * for refusals that signal load (429, 503), error for 5xx. */
static void
account(struct tlm__http_server *s, struct MHD_Connection *c,
    const char *method, const char *url, unsigned status)
{
    enum tlm__log_level level = TLM_LOG_DEBUG;
    char addr[INET6_ADDRSTRLEN + 1];
    tlm__metrics_request(
        &s->metrics, (enum tlm__metrics_route)metric_route(url), status);
    if (status == MHD_HTTP_TOO_MANY_REQUESTS
        || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        level = TLM_LOG_WARN;
    else if (status >= 500)
        level = TLM_LOG_ERROR;
    if (!tlm__log_enabled(s->opt.log, level))
        return;
    client_address(c, addr, sizeof(addr));
    struct tlm__log_field f[] = {
        {"method", method, 0},
        {"path", url, 0},
        {"status", NULL, status},
        {"remote", addr, 0},
    };
    tlm__log_write(s->opt.log, level, "request", f, sizeof(f) / sizeof(f[0]));
}

static enum MHD_Result
dispatch(struct tlm__http_server *s, struct MHD_Connection *c, const char *url,
    const char *method, const char *upload_data, size_t *upload_data_size,
    void **con_cls)
{
    struct tlm__http_request *rq = *con_cls;
    if (rq == NULL)
        return begin(s, c, url, method, con_cls);
    if (*upload_data_size > 0 && rq->route != ROUTE_BATCH
        && rq->route != ROUTE_API) {
        *upload_data_size = 0; /* GET routes ignore any body */
        return MHD_YES;
    }
    if (*upload_data_size > 0)
        return tlm__batch_upload(s, rq, upload_data, upload_data_size);
    return finish(s, c, rq);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    struct tlm__http_server *s = cls;
    enum MHD_Result rc;
    (void)version;
    queued_status = 0;
    rc = dispatch(s, c, url, method, upload_data, upload_data_size, con_cls);
    if (queued_status != 0)
        account(s, c, method, url, queued_status);
    return rc;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    struct tlm__http_server *s = cls;
    struct tlm__http_request *rq = *con_cls;
    (void)c;
    (void)toe;
    if (rq != NULL) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
        atomic_fetch_sub(&s->in_flight, 1);
    }
}

/* libmicrohttpd's own messages (refused connections, protocol errors) as
 * structured log lines. */
static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct tlm__http_server *s = cls;
    char msg[512];
    size_t n;
    if (!tlm__log_enabled(s->opt.log, TLM_LOG_WARN))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    struct tlm__log_field f[] = {{"source", "libmicrohttpd", 0}};
    tlm__log_write(s->opt.log, TLM_LOG_WARN, msg, f, 1);
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

static unsigned
or_default(unsigned v, unsigned def)
{
    return v > 0 ? v : def;
}

static struct MHD_Daemon *
start_daemon(struct tlm__http_server *s, int fd)
{
    const struct tlm__http_options *o = &s->opt;
    unsigned flags
        = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    unsigned threads = o->threads > 0 ? o->threads : 2;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    /* The logger first, so that it also gets messages about the options. */
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT,
        or_default(o->connection_timeout_s, DEFAULT_CONNECTION_TIMEOUT_S),
        MHD_OPTION_CONNECTION_LIMIT,
        or_default(o->max_connections, DEFAULT_MAX_CONNECTIONS),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        o->max_header_bytes > 0 ? o->max_header_bytes
                                : (size_t)DEFAULT_MAX_HEADER_BYTES,
        MHD_OPTION_END);
}

static void
server_free(struct tlm__http_server *s)
{
    free(s);
}

int
tlm__http_start(const struct tlm__http_options *o,
    struct tlm__http_server **out, char *err, size_t err_size)
{
    struct tlm__http_server *s = calloc(1, sizeof(*s));
    unsigned threads = o->threads > 0 ? o->threads : 2;
    int fd = -1;
    *out = NULL;
    if (s == NULL)
        return -1;
    s->opt = *o;
    s->quiesced_fd = -1;
    atomic_init(&s->faults_left, o->fault_status != 0 ? o->fault_count : 0);
    atomic_init(&s->in_flight, 0);
    tlm__metrics_init(&s->metrics);
    s->metrics.webhook = o->webhook;
    s->metrics.webhook_stats = tlm__webhook_stats;
    tlm__write_queue_init(&s->write_queue,
        o->max_write_queue < 0 ? 2 * (long)threads : o->max_write_queue);
    if (listen_socket(o->host, o->port, &fd, err, err_size) != 0)
        goto fail;
    s->daemon = start_daemon(s, fd);
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
    server_free(s);
    return -1;
}

struct tlm__metrics *
tlm__http_metrics(struct tlm__http_server *s)
{
    return s != NULL ? &s->metrics : NULL;
}

uint16_t
tlm__http_port(const struct tlm__http_server *s)
{
    return s->port;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

unsigned long
tlm__http_drain(struct tlm__http_server *s, unsigned timeout_ms)
{
    unsigned long left;
    long waited = 0;
    if (s == NULL)
        return 0;
    if (s->quiesced_fd < 0) {
        int fd = MHD_quiesce_daemon(s->daemon);
        s->quiesced_fd = fd;
        /* Nobody connects any more: new clients get "connection refused"
         * and retry against another instance. */
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
    }
    left = atomic_load(&s->in_flight);
    while (left > 0 && waited < (long)timeout_ms) {
        sleep_ms(10);
        waited += 10;
        left = atomic_load(&s->in_flight);
    }
    return left;
}

void
tlm__http_stop(struct tlm__http_server *s)
{
    if (s == NULL)
        return;
    /* With MHD_OPTION_LISTEN_SOCKET the daemon closes the socket itself,
     * unless quiesce handed it back to us. */
    MHD_stop_daemon(s->daemon);
    if (s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    server_free(s);
}
