/* Check suite for server/webhook.c: deliveries to a real local receiver
 * (libmicrohttpd on 127.0.0.1, port 0) through an in-memory outbox:
 * signed and complete headers, retries, giving up, a receiver down or
 * stalling, poke, parallel deliveries; plus the pure helpers (signature,
 * backoff schedule, delivery documents). Counts and order, never durations. */
#include "webhook.h"

#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SECRET "whsec_test"
#define MAX_REQS 64
#define MAX_ENTRIES 32
#define MAX_RECS 128

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Polls cond(arg) until true; a guard against hangs, not a timing check. */
static void
wait_for(bool (*cond)(void *), void *arg, const char *what)
{
    int64_t deadline = now_ms() + 30000;

    while (!cond(arg)) {
        ck_assert_msg(now_ms() < deadline, "never happened: %s", what);
        nap();
    }
}

/* --- the in-memory outbox --------------------------------------------- */

enum { PENDING, DELIVERED, FAILED };

struct entry {
    char id[40], type[48];
    char *body;
    unsigned attempts;
    int64_t next_attempt, lease_until;
    int state;
};

struct rec {
    char id[40];
    unsigned attempt;
    long status;
    char error[64];
    bool has_error, delivered, gave_up;
    int64_t at, next;
};

struct outbox {
    pthread_mutex_t mu;
    struct entry e[MAX_ENTRIES];
    size_t n;
    struct rec r[MAX_RECS];
    size_t nr;
};

static struct outbox ob;

static void
ob_add(const char *id, const char *type, const char *body)
{
    pthread_mutex_lock(&ob.mu);
    ck_assert_uint_lt(ob.n, MAX_ENTRIES);
    struct entry *e = &ob.e[ob.n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->type, sizeof(e->type), "%s", type);
    e->body = strdup(body);
    pthread_mutex_unlock(&ob.mu);
}

static int
ob_claim(void *ctx, int64_t now, int64_t lease, size_t max,
    struct tlm__delivery **out, size_t *n)
{
    struct outbox *o = ctx;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&o->mu);
    struct tlm__delivery *d = calloc(max, sizeof(*d));
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < o->n && k < max; i++) {
        struct entry *e = &o->e[i];
        if (e->state != PENDING || e->next_attempt > now
            || e->lease_until > now)
            continue;
        e->lease_until = now + lease;
        memcpy(d[k].id, e->id, sizeof(d[k].id));
        memcpy(d[k].type, e->type, sizeof(d[k].type));
        d[k].body = strdup(e->body);
        d[k].body_len = strlen(e->body);
        d[k].attempts = e->attempts;
        k++;
    }
    pthread_mutex_unlock(&o->mu);
    if (k == 0)
        free(d);
    else
        *out = d;
    *n = k;
    return 0;
}

static int
ob_record(void *ctx, const struct tlm__delivery_result *r)
{
    struct outbox *o = ctx;

    pthread_mutex_lock(&o->mu);
    ck_assert_uint_lt(o->nr, MAX_RECS);
    struct rec *x = &o->r[o->nr++];
    snprintf(x->id, sizeof(x->id), "%s", r->id);
    x->attempt = r->attempt;
    x->status = r->http_status;
    x->has_error = r->error != NULL;
    snprintf(x->error, sizeof(x->error), "%s", r->error ? r->error : "");
    x->delivered = r->delivered;
    x->gave_up = r->gave_up;
    x->at = r->at_ms;
    x->next = r->next_attempt_ms;
    for (size_t i = 0; i < o->n; i++) {
        struct entry *e = &o->e[i];
        if (strcmp(e->id, r->id) != 0)
            continue;
        e->attempts = r->attempt;
        e->lease_until = 0;
        if (r->delivered)
            e->state = DELIVERED;
        else if (r->gave_up)
            e->state = FAILED;
        else
            e->next_attempt = r->next_attempt_ms;
    }
    pthread_mutex_unlock(&o->mu);
    return 0;
}

static size_t
ob_records(void)
{
    pthread_mutex_lock(&ob.mu);
    size_t n = ob.nr;
    pthread_mutex_unlock(&ob.mu);
    return n;
}

static int
ob_state(size_t i)
{
    pthread_mutex_lock(&ob.mu);
    int s = ob.e[i].state;
    pthread_mutex_unlock(&ob.mu);
    return s;
}

static bool
all_closed(void *arg)
{
    (void)arg;
    bool done = true;
    pthread_mutex_lock(&ob.mu);
    for (size_t i = 0; i < ob.n; i++)
        done = done && ob.e[i].state != PENDING;
    pthread_mutex_unlock(&ob.mu);
    return done;
}

/* --- the receiver ------------------------------------------------------ */

struct req {
    char event[64], delivery[64], ts[32], sig[128], ctype[64], ua[64];
    bool has_sig, sig_ok;
    size_t len;
    char *body;
};

struct receiver {
    struct MHD_Daemon *d;
    unsigned port;
    pthread_mutex_t mu;
    int statuses[8]; /* answered in order; the last one from then on */
    size_t nstatuses;
    const char *retry_after; /* sent with 503 when set */
    struct req reqs[MAX_REQS];
    size_t n;
};

static struct receiver rx;

struct upload {
    char *p;
    size_t len;
};

static void
copy_header(struct MHD_Connection *c, const char *name, char *dst, size_t n)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(dst, n, "%s", v != NULL ? v : "");
}

/* What a receiver does: HMAC over timestamp "." raw body, compared. */
static bool
verify(const char *ts, const char *body, size_t len, const char *sig)
{
    unsigned char mac[32];
    unsigned int mlen = 0;
    char hex[65];
    size_t tl = strlen(ts);
    char *msg = malloc(tl + 1 + len);

    ck_assert_ptr_nonnull(msg);
    memcpy(msg, ts, tl);
    msg[tl] = '.';
    memcpy(msg + tl + 1, body, len);
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)msg,
        tl + 1 + len, mac, &mlen);
    free(msg);
    for (unsigned i = 0; i < mlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return strncmp(sig, "sha256=", 7) == 0 && strcmp(sig + 7, hex) == 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **con_cls)
{
    struct upload *u = *con_cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int status;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    if (u == NULL) {
        u = calloc(1, sizeof(*u));
        *con_cls = u;
        return u != NULL ? MHD_YES : MHD_NO;
    }
    if (*size > 0) {
        char *p = realloc(u->p, u->len + *size + 1);
        if (p == NULL)
            return MHD_NO;
        memcpy(p + u->len, data, *size);
        u->p = p;
        u->len += *size;
        u->p[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&rx.mu);
    if (rx.n < MAX_REQS) {
        struct req *r = &rx.reqs[rx.n];
        copy_header(c, "X-Telemetry-Event", r->event, sizeof(r->event));
        copy_header(
            c, "X-Telemetry-Delivery", r->delivery, sizeof(r->delivery));
        copy_header(c, "X-Telemetry-Timestamp", r->ts, sizeof(r->ts));
        copy_header(c, "X-Telemetry-Signature", r->sig, sizeof(r->sig));
        copy_header(c, "Content-Type", r->ctype, sizeof(r->ctype));
        copy_header(c, "User-Agent", r->ua, sizeof(r->ua));
        r->has_sig = MHD_lookup_connection_value(
                         c, MHD_HEADER_KIND, "X-Telemetry-Signature")
            != NULL;
        r->body = u->p != NULL ? u->p : strdup("");
        r->len = u->len;
        u->p = NULL;
        r->sig_ok = verify(r->ts, r->body, r->len, r->sig);
    }
    status = rx.statuses[rx.n < rx.nstatuses ? rx.n : rx.nstatuses - 1];
    rx.n++;
    pthread_mutex_unlock(&rx.mu);
    resp = MHD_create_response_from_buffer(
        2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
    if (status == 503 && rx.retry_after != NULL)
        MHD_add_response_header(resp, "Retry-After", rx.retry_after);
    ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    struct upload *u = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (u != NULL) {
        free(u->p);
        free(u);
        *con_cls = NULL;
    }
}

static void
rx_start(const int *statuses, size_t n)
{
    struct sockaddr_in sa = {0};

    memcpy(rx.statuses, statuses, n * sizeof(*statuses));
    rx.nstatuses = n;
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rx.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
        on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(rx.d);
    rx.port = MHD_get_daemon_info(rx.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    ck_assert_uint_gt(rx.port, 0);
}

static size_t
rx_count(void)
{
    pthread_mutex_lock(&rx.mu);
    size_t n = rx.n;
    pthread_mutex_unlock(&rx.mu);
    return n;
}

/* --- a receiver that accepts and never answers ------------------------ */

struct staller {
    int lfd;
    unsigned port;
    pthread_t thread;
    pthread_mutex_t mu;
    int fds[16];
    size_t n;
};

static struct staller st;

static void *
stall_run(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(st.lfd, NULL, NULL);
        if (fd < 0)
            return NULL; /* shut down */
        pthread_mutex_lock(&st.mu);
        if (st.n < 16)
            st.fds[st.n++] = fd;
        else
            close(fd);
        pthread_mutex_unlock(&st.mu);
    }
}

/* A bound loopback socket: listening (stall) or closed (port refused). */
static int
loopback_socket(unsigned *port)
{
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static size_t
stall_count(void)
{
    pthread_mutex_lock(&st.mu);
    size_t n = st.n;
    pthread_mutex_unlock(&st.mu);
    return n;
}

/* --- fixture ---------------------------------------------------------- */

static struct tlm__webhook_options opts;
static char url[64];

static void
setup(void)
{
    memset(&ob, 0, sizeof(ob));
    memset(&rx, 0, sizeof(rx));
    memset(&st, 0, sizeof(st));
    st.lfd = -1;
    pthread_mutex_init(&ob.mu, NULL);
    pthread_mutex_init(&rx.mu, NULL);
    pthread_mutex_init(&st.mu, NULL);
    memset(&opts, 0, sizeof(opts));
    opts.url = url;
    opts.secret = SECRET;
    opts.max_attempts = 8;
    opts.base_delay_ms = 20;
    opts.max_delay_ms = 80;
    opts.timeout_ms = 5000;
    opts.poll_ms = 10;
    opts.outbox.claim = ob_claim;
    opts.outbox.record = ob_record;
    opts.outbox.ctx = &ob;
}

static void
teardown(void)
{
    if (rx.d != NULL)
        MHD_stop_daemon(rx.d);
    for (size_t i = 0; i < rx.n && i < MAX_REQS; i++)
        free(rx.reqs[i].body);
    if (st.lfd >= 0) {
        shutdown(st.lfd, SHUT_RDWR);
        pthread_join(st.thread, NULL);
        close(st.lfd);
        for (size_t i = 0; i < st.n; i++)
            close(st.fds[i]);
    }
    for (size_t i = 0; i < ob.n; i++)
        free(ob.e[i].body);
}

static struct tlm__webhook *
start(void)
{
    struct tlm__webhook *w = NULL;
    char err[256] = "";

    ck_assert_msg(
        tlm__webhook_start(&opts, &w, err, sizeof(err)) == 0, "start: %s", err);
    ck_assert_ptr_nonnull(w);
    return w;
}

/* --- deliveries -------------------------------------------------------- */

START_TEST(webhook_delivers_signed_with_all_headers)
{
    static const int ok[] = {200};
    const char *body = "{\"type\":\"feedback.issue\",\"x\":\"caf\xc3\xa9\"}";
    uint64_t delivered, failed, attempts;

    rx_start(ok, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", rx.port);
    ob_add("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "feedback.issue", body);
    struct tlm__webhook *w = start();
    wait_for(all_closed, NULL, "delivered");
    tlm__webhook_stats(w, &delivered, &failed, &attempts);
    tlm__webhook_stop(w);

    ck_assert_uint_eq(rx_count(), 1);
    struct req *r = &rx.reqs[0];
    ck_assert_str_eq(r->event, "feedback.issue");
    ck_assert_str_eq(r->delivery, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    ck_assert_str_eq(r->ctype, "application/json");
    ck_assert_str_eq(r->ua, "telemetry-server/0.1.0");
    ck_assert_uint_gt(strlen(r->ts), 8);
    ck_assert_uint_eq(strspn(r->ts, "0123456789"), strlen(r->ts));
    ck_assert_msg(r->sig_ok, "signature %s does not verify", r->sig);
    ck_assert_uint_eq(r->len, strlen(body));
    ck_assert_str_eq(r->body, body);

    ck_assert_uint_eq(ob.nr, 1);
    ck_assert_uint_eq(ob.r[0].attempt, 1);
    ck_assert_int_eq(ob.r[0].status, 200);
    ck_assert(ob.r[0].delivered);
    ck_assert(!ob.r[0].has_error);
    ck_assert_int_eq(ob.e[0].state, DELIVERED);
    ck_assert_uint_eq(delivered, 1);
    ck_assert_uint_eq(failed, 0);
    ck_assert_uint_eq(attempts, 1);
}
END_TEST

START_TEST(webhook_retries_until_2xx)
{
    static const int script[] = {500, 500, 200};

    char path[] = "/tmp/tlm-webhook-log-XXXXXX", text[8192] = "", err[128];
    struct tlm__log *lg;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(
        tlm__log_open(path, TLM_LOG_DEBUG, &lg, err, sizeof(err)), 0);
    opts.log = lg;
    rx_start(script, 3);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook-token-123", rx.port);
    ob_add("d-retry", "feedback.negative", "{\"n\":1}");
    struct tlm__webhook *w = start();
    wait_for(all_closed, NULL, "delivered after retries");
    tlm__webhook_stop(w);
    tlm__log_close(lg);
    ck_assert_int_gt(read(fd, text, sizeof(text) - 1), 0);
    close(fd);
    unlink(path);
    /* Each attempt is logged; neither the secret nor the URL ever is. */
    ck_assert_ptr_nonnull(strstr(text, "webhook attempt failed"));
    ck_assert_ptr_nonnull(strstr(text, "webhook delivered"));
    ck_assert_ptr_nonnull(strstr(text, "d-retry"));
    ck_assert_ptr_null(strstr(text, SECRET));
    ck_assert_ptr_null(strstr(text, "hook-token"));

    ck_assert_int_eq(ob_state(0), DELIVERED);
    ck_assert_uint_eq(rx_count(), 3);
    ck_assert_uint_eq(ob.nr, 3);
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_str_eq(ob.r[i].id, "d-retry");
        ck_assert_uint_eq(ob.r[i].attempt, i + 1);
        ck_assert_str_eq(rx.reqs[i].delivery, "d-retry");
        ck_assert(rx.reqs[i].sig_ok);
    }
    for (unsigned i = 0; i < 2; i++) {
        ck_assert_int_eq(ob.r[i].status, 500);
        ck_assert_str_eq(ob.r[i].error, "HTTP 500");
        ck_assert(!ob.r[i].delivered && !ob.r[i].gave_up);
        /* The schedule: 20 ms, then 40 ms after the attempt. */
        ck_assert_int_eq(ob.r[i].next - ob.r[i].at, 20 << i);
    }
    ck_assert(ob.r[2].delivered);
    ck_assert_int_eq(ob.r[2].status, 200);
    ck_assert(!ob.r[2].has_error);
}
END_TEST

START_TEST(webhook_gives_up_after_max_attempts)
{
    static const int fail[] = {500};
    uint64_t delivered, failed, attempts;

    rx_start(fail, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", rx.port);
    opts.max_attempts = 5;
    ob_add("d-fail", "feedback.issue", "{}");
    struct tlm__webhook *w = start();
    wait_for(all_closed, NULL, "given up");
    tlm__webhook_stats(w, &delivered, &failed, &attempts);
    tlm__webhook_stop(w);

    ck_assert_int_eq(ob.e[0].state, FAILED);
    ck_assert_uint_eq(ob.nr, 5);
    ck_assert_uint_eq(rx_count(), 5);
    for (unsigned i = 0; i < 5; i++) {
        ck_assert_uint_eq(ob.r[i].attempt, i + 1);
        ck_assert_str_eq(ob.r[i].error, "HTTP 500");
        ck_assert(!ob.r[i].delivered);
        ck_assert(ob.r[i].gave_up == (i == 4));
    }
    ck_assert_int_eq(ob.r[4].next, 0);
    ck_assert_uint_eq(delivered, 0);
    ck_assert_uint_eq(failed, 1);
    ck_assert_uint_eq(attempts, 5);
}
END_TEST

START_TEST(webhook_receiver_down_is_retried)
{
    unsigned port;
    int fd = loopback_socket(&port);

    close(fd); /* nothing listens there now: connection refused */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
    opts.max_attempts = 3;
    ob_add("d-down", "feature_request.status_changed", "{}");
    struct tlm__webhook *w = start();
    wait_for(all_closed, NULL, "given up on a closed port");
    tlm__webhook_stop(w);

    ck_assert_uint_eq(ob.nr, 3);
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_uint_eq(ob.r[i].attempt, i + 1);
        ck_assert_int_eq(ob.r[i].status, 0);
        ck_assert_str_eq(ob.r[i].error, "connection refused");
        ck_assert(ob.r[i].gave_up == (i == 2));
    }
}
END_TEST

static bool
stalled_twice(void *arg)
{
    (void)arg;
    return ob_records() >= 1 && stall_count() >= 2;
}

START_TEST(webhook_stalled_receiver_times_out_and_stop_is_prompt)
{
    st.lfd = loopback_socket(&st.port);
    ck_assert_int_eq(listen(st.lfd, 16), 0);
    ck_assert_int_eq(pthread_create(&st.thread, NULL, stall_run, NULL), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", st.port);
    opts.timeout_ms = 300;
    opts.max_attempts = 8;
    ob_add("d-stall", "feedback.issue", "{}");
    struct tlm__webhook *w = start();
    /* The first attempt timed out and the second one is in flight. */
    wait_for(stalled_twice, NULL, "a timeout, then a second attempt");
    tlm__webhook_stop(w);

    size_t n = ob_records();
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_lt(n, stall_count()); /* the last one was abandoned */
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(ob.r[i].error, "timeout");
        ck_assert_int_eq(ob.r[i].status, 0);
        ck_assert(!ob.r[i].gave_up);
    }
    /* Abandoned, unrecorded: still pending and leased. */
    ck_assert_int_eq(ob.e[0].state, PENDING);
    ck_assert_int_gt(ob.e[0].lease_until, ob.r[n - 1].at);
}
END_TEST

START_TEST(webhook_poke_claims_at_once_unsigned_without_secret)
{
    static const int ok[] = {200};

    rx_start(ok, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", rx.port);
    opts.poll_ms = 600000; /* without the poke: ten minutes */
    opts.secret = NULL;
    struct tlm__webhook *w = start();
    ob_add("d-poke", "feedback.issue", "{}");
    tlm__webhook_poke(w);
    wait_for(all_closed, NULL, "delivered after a poke");
    tlm__webhook_stop(w);
    ck_assert_uint_eq(rx_count(), 1);
    ck_assert(!rx.reqs[0].has_sig);
    ck_assert_str_eq(rx.reqs[0].delivery, "d-poke");
}
END_TEST

START_TEST(webhook_many_deliveries_each_once)
{
    static const int ok[] = {200};
    uint64_t delivered, attempts;
    char id[40], body[64];

    rx_start(ok, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", rx.port);
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "d-%02d", i);
        snprintf(body, sizeof(body), "{\"i\":%d}", i);
        ob_add(id, "feature_request.status_changed", body);
    }
    struct tlm__webhook *w = start();
    wait_for(all_closed, NULL, "all delivered");
    tlm__webhook_stats(w, &delivered, NULL, &attempts);
    tlm__webhook_stop(w);
    ck_assert_uint_eq(delivered, 30);
    ck_assert_uint_eq(attempts, 30);
    ck_assert_uint_eq(rx_count(), 30);
    for (int i = 0; i < 30; i++) {
        int seen = 0;
        snprintf(id, sizeof(id), "d-%02d", i);
        snprintf(body, sizeof(body), "{\"i\":%d}", i);
        for (size_t k = 0; k < 30; k++)
            if (strcmp(rx.reqs[k].delivery, id) == 0) {
                seen++;
                ck_assert_str_eq(rx.reqs[k].body, body);
                ck_assert(rx.reqs[k].sig_ok);
            }
        ck_assert_int_eq(seen, 1);
    }
}
END_TEST

START_TEST(webhook_retry_after_is_honoured)
{
    static const int script[] = {503, 200};

    rx_start(script, 2);
    rx.retry_after = "1";
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", rx.port);
    opts.max_delay_ms = 60000;
    ob_add("d-503", "feedback.issue", "{}");
    struct tlm__webhook *w = start();
    wait_for(all_closed, NULL, "delivered after Retry-After");
    tlm__webhook_stop(w);
    ck_assert_uint_eq(ob.nr, 2);
    ck_assert_str_eq(ob.r[0].error, "HTTP 503");
    ck_assert_int_eq(ob.r[0].next - ob.r[0].at, 1000); /* not 20 */
    ck_assert(ob.r[1].delivered);
}
END_TEST

START_TEST(webhook_invalid_delivery_is_closed_unsent)
{
    static const int ok[] = {200};

    rx_start(ok, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", rx.port);
    ob_add("bad\r\nX-Injected: 1", "feedback.issue", "{}");
    ob_add("d-good", "feedback.issue", "{}");
    struct tlm__webhook *w = start();
    wait_for(all_closed, NULL, "both closed");
    tlm__webhook_stop(w);
    ck_assert_int_eq(ob.e[0].state, FAILED);
    ck_assert_int_eq(ob.e[1].state, DELIVERED);
    ck_assert_uint_eq(rx_count(), 1);
    ck_assert_str_eq(rx.reqs[0].delivery, "d-good");
}
END_TEST

START_TEST(webhook_start_refuses_bad_url)
{
    static const char *bad[] = {NULL, "", "ftp://x/", "http://", "localhost"};
    struct tlm__webhook *w = (struct tlm__webhook *)1;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        opts.url = bad[i];
        err[0] = '\0';
        ck_assert_int_eq(tlm__webhook_start(&opts, &w, err, sizeof(err)), -1);
        ck_assert_ptr_null(w);
        ck_assert_ptr_nonnull(strstr(err, "feedback.webhook_url"));
    }
    uint64_t attempts = 1;
    tlm__webhook_stop(NULL);
    tlm__webhook_poke(NULL);
    tlm__webhook_stats(NULL, NULL, NULL, &attempts);
    ck_assert_uint_eq(attempts, 0);
}
END_TEST

/* --- pure helpers ------------------------------------------------------ */

START_TEST(webhook_backoff_doubles_and_caps)
{
    static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000,
        128000, 256000, 300000, 300000};

    for (unsigned i = 0; i < sizeof(want) / sizeof(*want); i++)
        ck_assert_int_eq(tlm__webhook_backoff_ms(1000, 300000, i + 1), want[i]);
    ck_assert_int_eq(tlm__webhook_backoff_ms(1000, 300000, 0), 1000);
    ck_assert_int_eq(
        tlm__webhook_backoff_ms(1000, 300000, 4000000000u), 300000);
    ck_assert_int_eq(tlm__webhook_backoff_ms(20, 100, 1), 20);
    ck_assert_int_eq(tlm__webhook_backoff_ms(20, 100, 3), 80);
    ck_assert_int_eq(tlm__webhook_backoff_ms(20, 100, 4), 100);
    ck_assert_int_eq(tlm__webhook_backoff_ms(500, 100, 1), 100);
}
END_TEST

START_TEST(webhook_sign_known_vectors)
{
    char hex[65];
    char long_key[81];
    const char *body = "{\"a\":1}";

    /* printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac KEY */
    ck_assert_int_eq(
        tlm__webhook_sign("whsec_test", "1700000000", body, 7, hex), 0);
    ck_assert_str_eq(hex,
        "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
    memset(long_key, 'k', 80); /* longer than a block: hashed first */
    long_key[80] = '\0';
    ck_assert_int_eq(
        tlm__webhook_sign(long_key, "1700000000", body, 7, hex), 0);
    ck_assert_str_eq(hex,
        "8d1e18e5170df0cd4bb2fb75712f73ed1804ef04c573b44953ed8f839e957bc3");
}
END_TEST

static const char *feedback_json
    = "{\"id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\","
      "\"feedback_type\":\"issue\",\"content\":\"Export times out\","
      "\"category\":\"performance\",\"category_source\":\"auto\","
      "\"sentiment\":-0.62,\"rating\":2,\"feature\":\"bulk export\","
      "\"endpoint\":\"GET /v1/items/{id}\",\"context\":{\"page\":3},"
      "\"issue\":{\"summary\":\"Bulk export times out\","
      "\"steps_to_reproduce\":\"1. export 10k items\\n2. wait\","
      "\"expected\":\"a CSV\",\"actual\":\"504 after 30 s\"},"
      "\"sdk\":{\"name\":\"libtelemetry\",\"version\":\"0.1.0\","
      "\"binding\":\"python\",\"os\":\"linux x86_64\"},"
      "\"environment\":\"production\","
      "\"created_at\":\"2026-12-05T10:00:00.000Z\"}";

static const char *
jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsString(v), "no string %s", k);
    return v->valuestring;
}

START_TEST(webhook_issue_doc_from_feedback)
{
    cJSON *fb = cJSON_Parse(feedback_json);
    char *text = tlm__webhook_issue_doc(fb, "feedback.issue", "d-1", NULL);
    cJSON *doc = cJSON_Parse(text);

    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(jstr(doc, "type"), "feedback.issue");
    ck_assert_str_eq(jstr(doc, "delivery_id"), "d-1");
    ck_assert_str_eq(jstr(doc, "created_at"), "2026-12-05T10:00:00.000Z");
    ck_assert(cJSON_Compare(cJSON_GetObjectItem(doc, "feedback"), fb, 1));
    cJSON *issue = cJSON_GetObjectItem(doc, "issue");
    ck_assert_str_eq(jstr(issue, "title"), "Bulk export times out");
    const char *md = jstr(issue, "body");
    static const char *parts[] = {"### Summary\n\nBulk export times out",
        "### Steps to reproduce\n\n1. export 10k items\n2. wait",
        "### Expected\n\na CSV", "### Actual\n\n504 after 30 s",
        "### Feedback\n\nExport times out",
        "- **Endpoint:** `GET /v1/items/{id}`",
        "- **SDK:** libtelemetry 0.1.0 (python)", "- **OS:** linux x86_64",
        "- **Category:** performance (auto)", "- **Rating:** 2/5",
        "- **Sentiment:** -0.62", "- **Feature:** bulk export"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++)
        ck_assert_msg(
            strstr(md, parts[i]) != NULL, "missing %s in\n%s", parts[i], md);
    ck_assert(strstr(md, "### Steps") < strstr(md, "### Actual"));
    cJSON *labels = cJSON_GetObjectItem(issue, "labels");
    ck_assert_int_eq(cJSON_GetArraySize(labels), 3);
    ck_assert_str_eq(cJSON_GetArrayItem(labels, 0)->valuestring, "performance");
    ck_assert_str_eq(
        cJSON_GetArrayItem(labels, 1)->valuestring, "feedback:issue");
    ck_assert_str_eq(
        cJSON_GetArrayItem(labels, 2)->valuestring, "sentiment:negative");
    cJSON_Delete(doc);
    free(text);

    ck_assert_ptr_null(
        tlm__webhook_issue_doc(fb, "feedback.other", NULL, NULL));
    ck_assert_ptr_null(tlm__webhook_issue_doc(
        cJSON_GetObjectItem(fb, "content"), "feedback.issue", NULL, NULL));
    cJSON_Delete(fb);
}
END_TEST

START_TEST(webhook_negative_doc_title_cut_at_char)
{
    char content[400] = "";
    cJSON *fb = cJSON_CreateObject();

    /* 2-byte characters: a cut at 100 bytes must not split one. */
    strcat(content, "x");
    for (int i = 0; i < 150; i++)
        strcat(content, "\xc3\xa9");
    strcat(content, "\nsecond line");
    cJSON_AddStringToObject(fb, "feedback_type", "general");
    cJSON_AddStringToObject(fb, "content", content);
    cJSON_AddNumberToObject(fb, "sentiment", -0.8);
    cJSON_AddNullToObject(fb, "category");
    char *text = tlm__webhook_issue_doc(fb, "feedback.negative", NULL, "T");
    cJSON *doc = cJSON_Parse(text);
    ck_assert_ptr_nonnull(doc);
    ck_assert_ptr_null(cJSON_GetObjectItem(doc, "delivery_id"));
    ck_assert_str_eq(jstr(doc, "created_at"), "T");
    cJSON *issue = cJSON_GetObjectItem(doc, "issue");
    const char *title = jstr(issue, "title");
    ck_assert_int_eq(strncmp(title, "Negative feedback: x\xc3\xa9", 22), 0);
    size_t tl = strlen(title);
    ck_assert_str_eq(title + tl - 3, "\xe2\x80\xa6");
    ck_assert_uint_eq(tl, strlen("Negative feedback: ") + 1 + 98 + 3);
    ck_assert_ptr_null(strstr(title, "second"));
    ck_assert_ptr_nonnull(strstr(jstr(issue, "body"), "### Feedback\n\nx"));
    cJSON *labels = cJSON_GetObjectItem(issue, "labels");
    ck_assert_int_eq(cJSON_GetArraySize(labels), 2);
    ck_assert_str_eq(
        cJSON_GetArrayItem(labels, 1)->valuestring, "sentiment:negative");
    cJSON_Delete(doc);
    free(text);
    cJSON_Delete(fb);
}
END_TEST

START_TEST(webhook_status_doc_fields)
{
    cJSON *fr = cJSON_Parse("{\"id\":\"fr-1\",\"title\":\"Dark mode\","
                            "\"status\":\"planned\",\"votes\":12,"
                            "\"updated_at\":\"2026-12-05T11:00:00.000Z\"}");
    char *text = tlm__webhook_status_doc(
        fr, "under_review", "Q1 roadmap", "u-7", "d-9", NULL);
    cJSON *doc = cJSON_Parse(text);

    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(jstr(doc, "type"), "feature_request.status_changed");
    ck_assert_str_eq(jstr(doc, "delivery_id"), "d-9");
    ck_assert_str_eq(jstr(doc, "created_at"), "2026-12-05T11:00:00.000Z");
    ck_assert_str_eq(jstr(doc, "user_id"), "u-7");
    cJSON *o = cJSON_GetObjectItem(doc, "feature_request");
    ck_assert_str_eq(jstr(o, "id"), "fr-1");
    ck_assert_str_eq(jstr(o, "title"), "Dark mode");
    ck_assert_str_eq(jstr(o, "status"), "planned");
    ck_assert_str_eq(jstr(o, "previous_status"), "under_review");
    ck_assert_str_eq(jstr(o, "reason"), "Q1 roadmap");
    ck_assert_int_eq(cJSON_GetObjectItem(o, "votes")->valueint, 12);
    cJSON_Delete(doc);
    free(text);

    text = tlm__webhook_status_doc(fr, NULL, NULL, NULL, NULL, "T");
    doc = cJSON_Parse(text);
    o = cJSON_GetObjectItem(doc, "feature_request");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "previous_status")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "reason")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "user_id")));
    cJSON_Delete(doc);
    free(text);
    cJSON_Delete(fr);
}
END_TEST

/* Fails cJSON's allocation number fail_at (0: never). */
static long alloc_n, fail_at;

static void *
failing_malloc(size_t n)
{
    if (++alloc_n == fail_at)
        return NULL;
    return malloc(n);
}

START_TEST(webhook_docs_survive_allocation_failures)
{
    cJSON *fb = cJSON_Parse(feedback_json);
    cJSON *fr = cJSON_Parse("{\"id\":\"fr-1\",\"title\":\"t\","
                            "\"status\":\"planned\",\"votes\":1}");
    cJSON_Hooks hooks = {failing_malloc, free};
    int ok_issue = 0, ok_status = 0;
    char *full_a = tlm__webhook_issue_doc(fb, "feedback.issue", "d", NULL);
    char *full_b
        = tlm__webhook_status_doc(fr, "submitted", "r", "u", "d", NULL);

    cJSON_InitHooks(&hooks);
    for (fail_at = 1; fail_at < 400; fail_at++) {
        alloc_n = 0;
        char *a = tlm__webhook_issue_doc(fb, "feedback.issue", "d", NULL);
        alloc_n = 0;
        char *b = tlm__webhook_status_doc(fr, "submitted", "r", "u", "d", NULL);
        /* Whole or nothing, never a partial document. */
        ck_assert(a == NULL || strcmp(a, full_a) == 0);
        ck_assert(b == NULL || strcmp(b, full_b) == 0);
        ok_issue += a != NULL;
        ok_status += b != NULL;
        free(a);
        free(b);
    }
    cJSON_InitHooks(NULL);
    /* Once fail_at is past every allocation, both succeed. */
    ck_assert_int_gt(ok_issue, 0);
    ck_assert_int_gt(ok_status, 0);
    free(full_a);
    free(full_b);
    cJSON_Delete(fb);
    cJSON_Delete(fr);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_webhook");
    TCase *tc = tcase_create("delivery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, webhook_delivers_signed_with_all_headers);
    tcase_add_test(tc, webhook_retries_until_2xx);
    tcase_add_test(tc, webhook_gives_up_after_max_attempts);
    tcase_add_test(tc, webhook_receiver_down_is_retried);
    tcase_add_test(tc, webhook_stalled_receiver_times_out_and_stop_is_prompt);
    tcase_add_test(tc, webhook_poke_claims_at_once_unsigned_without_secret);
    tcase_add_test(tc, webhook_many_deliveries_each_once);
    tcase_add_test(tc, webhook_retry_after_is_honoured);
    tcase_add_test(tc, webhook_invalid_delivery_is_closed_unsent);
    tcase_add_test(tc, webhook_start_refuses_bad_url);
    suite_add_tcase(s, tc);

    TCase *pure = tcase_create("pure");
    tcase_set_timeout(pure, 60);
    tcase_add_test(pure, webhook_backoff_doubles_and_caps);
    tcase_add_test(pure, webhook_sign_known_vectors);
    tcase_add_test(pure, webhook_issue_doc_from_feedback);
    tcase_add_test(pure, webhook_negative_doc_title_cut_at_char);
    tcase_add_test(pure, webhook_status_doc_fields);
    tcase_add_test(pure, webhook_docs_survive_allocation_failures);
    suite_add_tcase(s, pure);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
