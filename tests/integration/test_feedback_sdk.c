/*
 * test_feedback_sdk.c - the SDK's feedback and feature-request calls
 * against the real telemetry-server: async callbacks and the blocking
 * form, the server's validation surfacing as TLM_EREJECTED, a submission
 * made offline delivered exactly once by the next process through the
 * spool, a lost reply resent and stored once, votes, lists, opt-out, the
 * privacy layer on what is stored, close answering what is pending, an
 * allocation-failure sweep over one submission, and telemetry-cli's
 * subcommands end to end.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <telemetry.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char spool[64];

static void
setup(void)
{
    unsetenv("DO_NOT_TRACK");
    unsetenv("TELEMETRY_OPTOUT");
    unsetenv("TELEMETRY_DEBUG");
    snprintf(spool, sizeof(spool), "/tmp/tlm-fbk-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(spool));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
    ck_assert_int_eq(system(cmd), 0);
}

static tlm_client *
client_for(const char *url, const char *spool_dir)
{
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_connect_timeout_ms(o, 2000), 0);
    ck_assert_int_eq(tlm_options_set_anonymization_salt(o, "fbk-salt"), 0);
    if (spool_dir != NULL)
        ck_assert_int_eq(tlm_options_set_spool_dir(o, spool_dir), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    return c;
}

static void
dead_url(char *url, size_t n)
{
    snprintf(url, n, "http://127.0.0.1:%d", tlm_test_dead_port());
}

/* Items of the admin feedback listing whose content contains `marker`. */
static int
stored_with(const tlm_test_server *srv, const char *marker, char *id_out)
{
    long status = 0;
    cJSON *root = tlm_test_get_json(srv, "/admin/feedback?limit=100", &status);
    cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items"), *it;
    int n = 0;
    ck_assert_msg(status == 200, "GET /admin/feedback: %ld", status);
    cJSON_ArrayForEach(it, items)
    {
        cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsString(content)
            && strstr(content->valuestring, marker) != NULL) {
            n++;
            if (id_out != NULL && cJSON_IsString(id))
                snprintf(id_out, 64, "%s", id->valuestring);
        }
    }
    cJSON_Delete(root);
    return n;
}

/* ---- an async answer, waited for by the test ---------------------------- */

struct answer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int rc;
    int status;
    int spooled;
    char id[64];
    char body[4096];
    int wait_rc; /* a *_wait called from the callback */
    tlm_client *client;
};

static void
answer_init(struct answer *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
}

static void
on_answer(int rc, const tlm_response *r, void *ud)
{
    struct answer *a = ud;
    pthread_mutex_lock(&a->mu);
    a->calls++;
    a->rc = rc;
    a->status = r->status;
    a->spooled = r->spooled;
    ck_assert_uint_ge(r->size, sizeof(size_t));
    if (r->id != NULL)
        snprintf(a->id, sizeof(a->id), "%s", r->id);
    if (r->body != NULL) {
        ck_assert_uint_eq(strlen(r->body), r->body_len);
        snprintf(a->body, sizeof(a->body), "%s", r->body);
    }
    if (a->client != NULL) {
        tlm_reply reply;
        tlm_feedback f = TLM_FEEDBACK_INIT;
        tlm_reply_init(&reply);
        f.type = TLM_FEEDBACK_GENERAL;
        f.content = "from a callback";
        a->wait_rc = tlm_feedback_submit_wait(a->client, &f, 1000, &reply);
        tlm_reply_free(&reply);
    }
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void
answer_wait(struct answer *a)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    pthread_mutex_lock(&a->mu);
    while (a->calls == 0)
        ck_assert_int_eq(pthread_cond_timedwait(&a->cv, &a->mu, &dl), 0);
    pthread_mutex_unlock(&a->mu);
}

/* ---- cases --------------------------------------------------------------- */

START_TEST(feedback_sdk_async_callback)
{
    tlm_test_server srv;
    struct answer a;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    tlm_client *c = client_for(srv.url, NULL);
    answer_init(&a);
    f.type = TLM_FEEDBACK_SUGGESTION;
    f.content = "I love the new pagination, but bulk export is slow "
                "[async-1]";
    f.feature = "bulk export";
    f.context_json = "{\"plan\":\"pro\",\"page\":3}";
    f.user_id = "alice";
    ck_assert_int_eq(tlm_feedback_submit(c, &f, on_answer, &a), 0);
    answer_wait(&a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(a.status, 201);
    ck_assert_int_eq(a.spooled, 0);
    ck_assert_int_eq(strlen(a.id), 36);
    ck_assert_ptr_nonnull(strstr(a.body, "\"sentiment\""));
    ck_assert_ptr_nonnull(strstr(a.body, "bulk export"));
    /* user_id went out anonymized, never raw. */
    ck_assert_ptr_null(strstr(a.body, "alice"));
    ck_assert_int_eq(tlm_client_close(c, 5000), 0);
    ck_assert_int_eq(a.calls, 1); /* exactly once, also after close */
    tlm_client_free(c);
    ck_assert_int_eq(stored_with(&srv, "[async-1]", NULL), 1);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(feedback_sdk_blocking_issue_and_get)
{
    tlm_test_server srv;
    tlm_reply r, g;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    tlm_client *c = client_for(srv.url, NULL);
    tlm_reply_init(&r);
    tlm_reply_init(&g);
    f.type = TLM_FEEDBACK_ISSUE;
    f.content = "Listing crashes for bob@example.com [issue-1]";
    f.endpoint = "/v1/users/123456/items";
    f.summary = "GET items returns 500";
    f.steps_to_reproduce = "1. call list with page=2";
    f.expected = "a page of items";
    f.actual = "HTTP 500";
    f.rating = 2;
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 30000, &r), 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_nonnull(r.id);
    ck_assert_ptr_nonnull(r.body);
    ck_assert_uint_eq(strlen(r.body), r.body_len);
    ck_assert_int_eq(tlm_feedback_get_wait(c, r.id, 30000, &g), 0);
    ck_assert_int_eq(g.status, 200);
    ck_assert_str_eq(g.id, r.id);
    /* The scrubber ran before it left the process: no e-mail, the id in
     * the endpoint templated; the SDK filled in the template's rest. */
    ck_assert_ptr_null(strstr(g.body, "bob@example.com"));
    ck_assert_ptr_nonnull(strstr(g.body, "[email]"));
    ck_assert_ptr_null(strstr(g.body, "123456"));
    ck_assert_ptr_nonnull(strstr(g.body, "\"summary\""));
    ck_assert_ptr_nonnull(strstr(g.body, "\"version\":\"" TLM_VERSION_STRING));
    tlm_reply_free(&g);
    /* An unknown id: refused with the server's 404. */
    ck_assert_int_eq(tlm_feedback_get_wait(
                         c, "00000000-0000-4000-8000-000000000000", 30000, &g),
        TLM_EREJECTED);
    ck_assert_int_eq(g.status, 404);
    ck_assert_ptr_nonnull(g.body);
    tlm_reply_free(&g);
    tlm_reply_free(&r);
    ck_assert_ptr_null(r.body);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(feedback_sdk_validation_rejected)
{
    tlm_test_server srv;
    tlm_reply r;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    tlm_client *c = client_for(srv.url, NULL);
    tlm_reply_init(&r);
    /* Structure is checked at the call: nothing is sent. */
    f.type = 9;
    f.content = "x";
    ck_assert_int_eq(tlm_feedback_submit(c, &f, on_answer, NULL), TLM_EINVAL);
    f.type = TLM_FEEDBACK_GENERAL;
    f.context_json = "[1,2]";
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 1000, &r), TLM_EINVAL);
    f.context_json = NULL;
    f.rating = 6;
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 1000, &r), TLM_EINVAL);
    /* The server's rules come back with its reason. */
    f.type = TLM_FEEDBACK_ISSUE;
    f.rating = 0;
    f.content = "it breaks [invalid-1]";
    f.summary = "breaks";
    f.actual = "a crash";
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 30000, &r), TLM_EREJECTED);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(r.body);
    ck_assert_ptr_nonnull(strstr(r.body, "steps_to_reproduce"));
    ck_assert_ptr_nonnull(strstr(r.body, "expected"));
    tlm_reply_free(&r);
    f.type = TLM_FEEDBACK_RATING; /* a rating without one */
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 30000, &r), TLM_EREJECTED);
    ck_assert_int_eq(r.status, 400);
    tlm_reply_free(&r);
    tlm_client_free(c);
    ck_assert_int_eq(stored_with(&srv, "[invalid-1]", NULL), 0);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(feedback_sdk_offline_spool_exactly_once)
{
    tlm_test_server srv;
    tlm_reply r;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
    struct answer a;
    char url[64];
    dead_url(url, sizeof(url));
    tlm_client *c = client_for(url, spool);
    tlm_reply_init(&r);
    answer_init(&a);
    f.type = TLM_FEEDBACK_GENERAL;
    f.content = "written on a plane [offline-1]";
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 30000, &r), 0);
    ck_assert_int_eq(r.spooled, 1);
    ck_assert_ptr_null(r.id);
    tlm_reply_free(&r);
    fr.title = "Offline mode [offline-1]";
    ck_assert_int_eq(tlm_feature_request_submit(c, &fr, on_answer, &a), 0);
    answer_wait(&a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(a.spooled, 1);
    /* Reads are never spooled: they fail. */
    ck_assert_int_eq(
        tlm_feedback_get_wait(c, "abc", 30000, &r), TLM_EUNAVAILABLE);
    ck_assert_int_eq(r.spooled, 0);
    tlm_reply_free(&r);
    tlm_client_close(c, 0);
    tlm_client_free(c);
    ck_assert_int_eq(a.calls, 1);

    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    for (int life = 0; life < 2; life++) {
        c = client_for(srv.url, spool);
        ck_assert_int_eq(tlm_client_flush(c, 30000), 0);
        ck_assert_int_eq(tlm_client_close(c, 5000), 0);
        tlm_client_free(c);
        /* Exactly once, and the second process finds nothing left. */
        ck_assert_int_eq(stored_with(&srv, "[offline-1]", NULL), 1);
    }
    c = client_for(srv.url, NULL);
    tlm_feature_query q = TLM_FEATURE_QUERY_INIT;
    q.sort = "recent";
    ck_assert_int_eq(tlm_feature_requests_list_wait(c, &q, 30000, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.body, "Offline mode [offline-1]"));
    ck_assert_ptr_null(
        strstr(strstr(r.body, "[offline-1]") + 1, "[offline-1]"));
    tlm_reply_free(&r);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

/* ---- a proxy that loses the first reply --------------------------------- */

struct proxy {
    int lfd, port, target;
    atomic_int breaks, stop;
    pthread_t th;
};

static int
connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Relays one connection; with `cut`, the server's reply is replaced by a
 * TCP reset: the server stored it, the client never hears so. */
static void
relay(struct proxy *p, int cfd, bool cut)
{
    char buf[16384];
    int sfd = connect_to(p->target);
    struct pollfd fds[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    while (sfd >= 0 && !atomic_load(&p->stop)) {
        if (poll(fds, 2, 100) <= 0)
            continue;
        if (fds[0].revents != 0) {
            ssize_t n = read(cfd, buf, sizeof(buf));
            if (n <= 0 || write(sfd, buf, (size_t)n) != n)
                break;
        }
        if (fds[1].revents != 0) {
            ssize_t n = read(sfd, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (cut) {
                struct linger l = {1, 0};
                setsockopt(cfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
                break;
            }
            if (write(cfd, buf, (size_t)n) != n)
                break;
        }
    }
    if (sfd >= 0)
        close(sfd);
    close(cfd);
}

static void *
proxy_main(void *arg)
{
    struct proxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd pf = {p->lfd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd >= 0) /* one connection at a time is enough here */
            relay(p, cfd, atomic_fetch_sub(&p->breaks, 1) > 0);
    }
    return NULL;
}

static void
proxy_start(struct proxy *p, int target, int breaks)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(p->lfd, 0);
    ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(p->lfd, 16), 0);
    ck_assert_int_eq(getsockname(p->lfd, (struct sockaddr *)&sa, &len), 0);
    p->port = ntohs(sa.sin_port);
    p->target = target;
    atomic_init(&p->breaks, breaks);
    atomic_init(&p->stop, 0);
    ck_assert_int_eq(pthread_create(&p->th, NULL, proxy_main, p), 0);
}

static void
proxy_stop(struct proxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    close(p->lfd);
}

START_TEST(feedback_sdk_lost_reply_stored_once)
{
    tlm_test_server srv;
    struct proxy p;
    tlm_reply r;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    char url[64], stored[64] = "";
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    proxy_start(&p, srv.port, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
    tlm_client *c = client_for(url, NULL);
    tlm_reply_init(&r);
    f.type = TLM_FEEDBACK_GENERAL;
    f.content = "the reply to this gets lost [lost-1]";
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 60000, &r), 0);
    /* The retry carried the same Idempotency-Key: the server answered
     * with the resource it already had. */
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(r.id);
    ck_assert_int_eq(stored_with(&srv, "[lost-1]", stored), 1);
    ck_assert_str_eq(stored, r.id);
    tlm_reply_free(&r);
    tlm_client_free(c);
    proxy_stop(&p);
    tlm_test_server_stop(&srv);
}
END_TEST

static int
votes_of(const tlm_reply *r)
{
    cJSON *root = cJSON_Parse(r->body);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "votes");
    int n = cJSON_IsNumber(v) ? v->valueint : -1;
    cJSON_Delete(root);
    return n;
}

START_TEST(feedback_sdk_feature_vote_list)
{
    tlm_test_server srv;
    tlm_reply r;
    tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
    tlm_feature_query q = TLM_FEATURE_QUERY_INIT;
    char id[64];
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    tlm_client *c = client_for(srv.url, NULL);
    tlm_reply_init(&r);
    fr.title = "Webhooks for quota alerts";
    fr.description = "Tell me before I hit 429";
    fr.use_case = "CI pipelines";
    fr.user_id = "carol";
    ck_assert_int_eq(tlm_feature_request_submit_wait(c, &fr, 30000, &r), 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_nonnull(r.id);
    snprintf(id, sizeof(id), "%s", r.id);
    tlm_reply_free(&r);
    ck_assert_int_eq(tlm_feature_request_vote_wait(c, id, "u1", 30000, &r), 0);
    ck_assert_int_eq(votes_of(&r), 1);
    ck_assert_str_eq(r.id, id);
    tlm_reply_free(&r);
    /* Voting again changes nothing; another user counts. */
    ck_assert_int_eq(tlm_feature_request_vote_wait(c, id, "u1", 30000, &r), 0);
    ck_assert_int_eq(votes_of(&r), 1);
    tlm_reply_free(&r);
    ck_assert_int_eq(tlm_feature_request_vote_wait(c, id, "u2", 30000, &r), 0);
    ck_assert_int_eq(votes_of(&r), 2);
    tlm_reply_free(&r);
    ck_assert_int_eq(
        tlm_feature_request_unvote_wait(c, id, "u1", 30000, &r), 0);
    ck_assert_int_eq(votes_of(&r), 1);
    tlm_reply_free(&r);
    q.sort = "votes";
    q.status = "submitted";
    q.limit = 5;
    ck_assert_int_eq(tlm_feature_requests_list_wait(c, &q, 30000, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, id));
    ck_assert_ptr_nonnull(strstr(r.body, "\"next_cursor\""));
    tlm_reply_free(&r);
    ck_assert_int_eq(tlm_feature_requests_list_wait(c, NULL, 30000, &r), 0);
    tlm_reply_free(&r);
    /* An unknown id, an unknown status: the server's 404 and 400. */
    ck_assert_int_eq(
        tlm_feature_request_vote_wait(
            c, "00000000-0000-4000-8000-000000000000", "u1", 30000, &r),
        TLM_EREJECTED);
    ck_assert_int_eq(r.status, 404);
    tlm_reply_free(&r);
    q.status = "sleeping";
    ck_assert_int_eq(
        tlm_feature_requests_list_wait(c, &q, 30000, &r), TLM_EREJECTED);
    ck_assert_int_eq(r.status, 400);
    tlm_reply_free(&r);
    q.sort = "loudest";
    ck_assert_int_eq(
        tlm_feature_requests_list_wait(c, &q, 30000, &r), TLM_EINVAL);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(feedback_sdk_opt_out_sends_nothing)
{
    tlm_test_server srv;
    struct answer a;
    tlm_reply r;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    answer_init(&a);
    tlm_reply_init(&r);
    f.type = TLM_FEEDBACK_GENERAL;
    f.content = "should never arrive [optout-1]";
    setenv("DO_NOT_TRACK", "1", 1);
    tlm_client *c = client_for(srv.url, spool);
    ck_assert_int_eq(tlm_feedback_submit(c, &f, on_answer, &a), TLM_EDISABLED);
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 1000, &r), TLM_EDISABLED);
    ck_assert_int_eq(
        tlm_feature_requests_list_wait(c, NULL, 1000, &r), TLM_EDISABLED);
    tlm_client_free(c);
    unsetenv("DO_NOT_TRACK");
    c = client_for(srv.url, spool);
    ck_assert_int_eq(tlm_client_set_enabled(c, 0), 0);
    ck_assert_int_eq(
        tlm_feature_request_vote(c, "x", "u", on_answer, &a), TLM_EDISABLED);
    tlm_client_free(c);
    ck_assert_int_eq(a.calls, 0); /* a refused call is never called back */
    ck_assert_int_eq(stored_with(&srv, "[optout-1]", NULL), 0);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(feedback_sdk_close_answers_pending)
{
    struct answer a, b;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    char url[64];
    dead_url(url, sizeof(url));
    answer_init(&a);
    answer_init(&b);
    tlm_client *c = client_for(url, NULL);
    f.type = TLM_FEEDBACK_GENERAL;
    f.content = "nobody listens";
    ck_assert_int_eq(tlm_feedback_submit(c, &f, on_answer, &a), 0);
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), 0);
    /* Retrying until close's deadline, then told so, exactly once. */
    ck_assert_int_eq(tlm_client_flush(c, 100), TLM_ETIMEDOUT);
    ck_assert_int_eq(tlm_client_close(c, 200), 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.rc, TLM_ETIMEDOUT);
    ck_assert_int_eq(a.spooled, 0);
    ck_assert_int_eq(tlm_feedback_submit(c, &f, on_answer, &b), TLM_ECLOSED);
    tlm_client_free(c);
    ck_assert_int_eq(b.calls, 0);
}
END_TEST

START_TEST(feedback_sdk_wait_from_callback_refused)
{
    tlm_test_server srv;
    struct answer a;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    tlm_client *c = client_for(srv.url, NULL);
    answer_init(&a);
    a.client = c;
    f.type = TLM_FEEDBACK_RATING;
    f.rating = 5;
    f.content = "finally, no problems";
    ck_assert_int_eq(tlm_feedback_submit(c, &f, on_answer, &a), 0);
    answer_wait(&a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(a.wait_rc, TLM_EINVAL);
    tlm_client_free(c);
    tlm_test_server_stop(&srv);
}
END_TEST

/* Sampling applies to request events only: with a rate of 0.0001 every
 * feedback still arrives. */
START_TEST(feedback_sdk_never_sampled_out)
{
    tlm_test_server srv;
    tlm_options *o = tlm_options_new();
    tlm_client *c = NULL;
    char content[64];
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    ck_assert_int_eq(tlm_options_set_endpoint(o, srv.url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_sampling_rate(o, 0.0001), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    for (int i = 0; i < 20; i++) {
        tlm_feedback f = TLM_FEEDBACK_INIT;
        tlm_reply r;
        tlm_reply_init(&r);
        snprintf(content, sizeof(content), "sampled? no [sample-%02d]", i);
        f.type = TLM_FEEDBACK_GENERAL;
        f.content = content;
        ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 30000, &r), 0);
        ck_assert_int_eq(r.status, 201);
        tlm_reply_free(&r);
    }
    tlm_client_free(c);
    ck_assert_int_eq(stored_with(&srv, "[sample-", NULL), 20);
    tlm_test_server_stop(&srv);
}
END_TEST

START_TEST(feedback_sdk_debug_prints_instead)
{
    tlm_test_server srv;
    tlm_reply r;
    tlm_feedback f = TLM_FEEDBACK_INIT;
    tlm_stats s;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    setenv("TELEMETRY_DEBUG", "1", 1);
    tlm_client *c = client_for(srv.url, NULL);
    unsetenv("TELEMETRY_DEBUG");
    tlm_reply_init(&r);
    f.type = TLM_FEEDBACK_GENERAL;
    f.content = "printed, not sent [debug-1] by carol@example.com";
    f.context_json = "{\"account\":{\"owner\":\"dave@example.org\"},"
                     "\"note\":\"Authorization: Bearer abcdef0123456789\"}";
    f.user_id = "user-1234";
    /* What would leave the process, printed on stderr: capture it. */
    char path[] = "/tmp/tlm-fb-debug-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    int rc = tlm_feedback_submit_wait(c, &f, 30000, &r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(r.body);
    char printed[8192];
    ssize_t n = pread(fd, printed, sizeof(printed) - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_gt(n, 0);
    printed[n] = '\0';
    /* Scrubbed by the SDK itself (the server never saw it): content,
     * context values and the user id. */
    ck_assert_ptr_nonnull(strstr(printed, "[debug-1]"));
    ck_assert_ptr_null(strstr(printed, "carol@example.com"));
    ck_assert_ptr_null(strstr(printed, "dave@example.org"));
    ck_assert_ptr_null(strstr(printed, "abcdef0123456789"));
    ck_assert_ptr_null(strstr(printed, "user-1234"));
    ck_assert_ptr_nonnull(strstr(printed, "\"owner\""));
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    ck_assert_uint_eq(s.debug_printed, 1);
    tlm_client_free(c);
    ck_assert_int_eq(stored_with(&srv, "[debug-1]", NULL), 0);
    tlm_test_server_stop(&srv);
}
END_TEST

/* ---- allocation failures --------------------------------------------------
 */

struct torture {
    atomic_long count, live;
    long fail_at;
    atomic_int failed;
};

#define HDR 16

static void *
t_malloc(size_t n, void *ud)
{
    struct torture *t = ud;
    if (atomic_fetch_add(&t->count, 1) + 1 == t->fail_at) {
        atomic_store(&t->failed, 1);
        return NULL;
    }
    char *p = malloc(n + HDR);
    if (p == NULL)
        return NULL;
    atomic_fetch_add(&t->live, 1);
    return p + HDR;
}

static void
t_free(void *ptr, void *ud)
{
    struct torture *t = ud;
    if (ptr == NULL)
        return;
    atomic_fetch_sub(&t->live, 1);
    free((char *)ptr - HDR);
}

static void *
t_realloc(void *ptr, size_t n, void *ud)
{
    struct torture *t = ud;
    if (ptr == NULL)
        return t_malloc(n, ud);
    if (atomic_fetch_add(&t->count, 1) + 1 == t->fail_at) {
        atomic_store(&t->failed, 1);
        return NULL;
    }
    char *p = realloc((char *)ptr - HDR, n + HDR);
    return p ? p + HDR : NULL;
}

/* One client life submitting one feedback with allocation `fail_at`
 * failing. Returns 1 if the feedback was stored. */
static int
sweep_life(const tlm_test_server *srv, long fail_at, int *injected)
{
    struct torture t = {0};
    tlm_allocator al = {sizeof(al), t_malloc, t_realloc, t_free, &t};
    tlm_options *o = tlm_options_new();
    tlm_feedback f = TLM_FEEDBACK_INIT;
    tlm_client *c = NULL;
    tlm_reply r;
    int rc, stored = 0;
    t.fail_at = fail_at;
    ck_assert_int_eq(tlm_options_set_endpoint(o, srv->url), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, TLM_TEST_API_KEY), 0);
    ck_assert_int_eq(tlm_options_set_allocator(o, &al), 0);
    ck_assert_int_eq(tlm_options_set_max_retries(o, 3), 0);
    rc = tlm_client_new(&c, o);
    tlm_options_free(o);
    if (rc == 0) {
        tlm_reply_init(&r);
        f.type = TLM_FEEDBACK_ISSUE;
        f.content = "sweep: mail me at sweep@example.com [sweep]";
        f.context_json = "{\"a\":{\"b\":\"token=abcdef0123456789\"}}";
        f.endpoint = "/v1/orders/42";
        f.user_id = "sweeper";
        f.summary = "s";
        f.steps_to_reproduce = "1";
        f.expected = "e";
        f.actual = "a";
        rc = tlm_feedback_submit_wait(c, &f, 30000, &r);
        ck_assert_msg(rc == 0 || rc == TLM_ENOMEM || rc == TLM_EUNAVAILABLE,
            "submit: %d at %ld", rc, fail_at);
        stored = rc == 0 && r.status >= 200 && r.status < 300;
        if (getenv("TLM_SWEEP_VERBOSE"))
            fprintf(stderr, "life %ld: rc %d status %d count %ld\n", fail_at,
                rc, r.status, atomic_load(&t.count));
        tlm_reply_free(&r);
        rc = tlm_client_close(c, 10000);
        ck_assert_msg(rc == 0 || rc == TLM_ETIMEDOUT, "close: %d", rc);
        tlm_client_free(c);
    } else {
        ck_assert_int_eq(rc, TLM_ENOMEM);
    }
    ck_assert_int_eq(atomic_load(&t.live), 0);
    *injected = atomic_load(&t.failed);
    return stored;
}

START_TEST(feedback_sdk_alloc_sweep)
{
    tlm_test_server srv;
    int injected = 1, stored = 0;
    long i;
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    for (i = 1; injected && i < 3000; i++)
        stored += sweep_life(&srv, i, &injected);
    printf("feedback allocation sweep: %ld allocations per life, %d of "
           "%ld lives stored their feedback\n",
        i - 2, stored, i - 1);
    ck_assert_int_eq(injected, 0);
    ck_assert_int_gt(stored, 0);
    /* What was answered 2xx is what the server holds, once each. */
    ck_assert_int_eq(stored_with(&srv, "[sweep]", NULL), stored);
    tlm_test_server_stop(&srv);
}
END_TEST

/* ---- telemetry-cli ------------------------------------------------------- */

static char cli_path[512];

static bool
find_cli(void)
{
    const char *server = getenv("TLM_SERVER");
    char tmp[512];
    if (getenv("TLM_CLI") != NULL) {
        snprintf(cli_path, sizeof(cli_path), "%s", getenv("TLM_CLI"));
    } else if (server != NULL) {
        snprintf(tmp, sizeof(tmp), "%s", server);
        /* BUILD/server/telemetry-server -> BUILD/examples/telemetry-cli */
        snprintf(cli_path, sizeof(cli_path), "%s/../examples/telemetry-cli",
            dirname(tmp));
    }
    return cli_path[0] != '\0' && access(cli_path, X_OK) == 0;
}

/* Runs the CLI with args; its stdout into out. Returns the exit status. */
static int
run_cli(const char *const *args, char *out, size_t size)
{
    char path[128];
    const char *argv[32];
    int argc = 0, st = 0, fd;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    snprintf(path, sizeof(path), "%s/cli-out", spool);
    argv[argc++] = cli_path;
    for (; *args != NULL && argc < 31; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(
        &fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(
        posix_spawn(&pid, cli_path, &fa, NULL, (char *const *)argv, environ),
        0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, out, size - 1) : -1;
    out[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void
json_id(const char *out, char *id, size_t n)
{
    cJSON *root = cJSON_Parse(out);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "id");
    ck_assert_msg(cJSON_IsString(v), "no id in: %s", out);
    snprintf(id, n, "%s", v->valuestring);
    cJSON_Delete(root);
}

START_TEST(feedback_sdk_cli_end_to_end)
{
    tlm_test_server srv;
    char out[65536], id[64], dead[64];
    if (!find_cli()) {
        fprintf(stderr, "telemetry-cli not built: CLI case skipped\n");
        return;
    }
    ck_assert_int_eq(tlm_test_server_start(&srv, NULL), 0);
    setenv("TELEMETRY_ENDPOINT", srv.url, 1);
    setenv("TELEMETRY_API_KEY", TLM_TEST_API_KEY, 1);
    const char *fb[]
        = {"feedback", "--type", "issue", "--content", "the CLI works [cli-1]",
            "--summary", "s", "--steps", "1. run", "--expected", "ok",
            "--actual", "ok", "--target-endpoint", "/v1/items/{id}",
            "--context", "{\"ci\":true}", "--user", "dev", "--json", NULL};
    ck_assert_int_eq(run_cli(fb, out, sizeof(out)), 0);
    json_id(out, id, sizeof(id));
    ck_assert_ptr_nonnull(strstr(out, "\"sentiment\""));
    ck_assert_int_eq(stored_with(&srv, "[cli-1]", NULL), 1);
    const char *human[] = {"feedback", "--type", "general", "--content",
        "plain output [cli-2]", NULL};
    ck_assert_int_eq(run_cli(human, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "feedback "));
    ck_assert_ptr_nonnull(strstr(out, "stored"));
    const char *fr[] = {"feature-request", "--title", "A CLI flag [cli-3]",
        "--description", "d", "--use-case", "u", "--json", NULL};
    ck_assert_int_eq(run_cli(fr, out, sizeof(out)), 0);
    json_id(out, id, sizeof(id));
    const char *vote[] = {"vote", id, "--user", "dev", "--json", NULL};
    ck_assert_int_eq(run_cli(vote, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"votes\":1"));
    const char *unvote[] = {"vote", id, "--user", "dev", "--withdraw", NULL};
    ck_assert_int_eq(run_cli(unvote, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "vote withdrawn"));
    const char *list[] = {"feature-requests", "--sort", "recent", "--limit",
        "10", "--json", NULL};
    ck_assert_int_eq(run_cli(list, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, id));
    const char *table[] = {"feature-requests", NULL};
    ck_assert_int_eq(run_cli(table, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "A CLI flag [cli-3]"));
    /* Refused by the server: 3, its JSON on stdout with --json. */
    const char *bad_issue[] = {"feedback", "--type", "issue", "--content", "x",
        "--summary", "s", "--json", NULL};
    ck_assert_int_eq(run_cli(bad_issue, out, sizeof(out)), 3);
    ck_assert_ptr_nonnull(strstr(out, "missing"));
    const char *bad_vote[]
        = {"vote", "00000000-0000-4000-8000-000000000000", "--user", "u", NULL};
    ck_assert_int_eq(run_cli(bad_vote, out, sizeof(out)), 3);
    /* Bad usage: 2, nothing sent. */
    const char *bad_type[]
        = {"feedback", "--type", "rant", "--content", "x", NULL};
    ck_assert_int_eq(run_cli(bad_type, out, sizeof(out)), 2);
    const char *help[] = {"vote", "--help", NULL};
    ck_assert_int_eq(run_cli(help, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "--withdraw"));
    /* Unreachable without a spool: 1. */
    dead_url(dead, sizeof(dead));
    const char *offline[] = {
        "--endpoint", dead, "--timeout-ms", "3000", "feature-requests", NULL};
    ck_assert_int_eq(run_cli(offline, out, sizeof(out)), 1);
    unsetenv("TELEMETRY_ENDPOINT");
    unsetenv("TELEMETRY_API_KEY");
    tlm_test_server_stop(&srv);
}
END_TEST

static Suite *
feedback_sdk_suite(void)
{
    Suite *s = suite_create("feedback_sdk");
    TCase *tc = tcase_create("feedback_sdk");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, feedback_sdk_async_callback);
    tcase_add_test(tc, feedback_sdk_never_sampled_out);
    tcase_add_test(tc, feedback_sdk_blocking_issue_and_get);
    tcase_add_test(tc, feedback_sdk_validation_rejected);
    tcase_add_test(tc, feedback_sdk_offline_spool_exactly_once);
    tcase_add_test(tc, feedback_sdk_lost_reply_stored_once);
    tcase_add_test(tc, feedback_sdk_feature_vote_list);
    tcase_add_test(tc, feedback_sdk_opt_out_sends_nothing);
    tcase_add_test(tc, feedback_sdk_close_answers_pending);
    tcase_add_test(tc, feedback_sdk_wait_from_callback_refused);
    tcase_add_test(tc, feedback_sdk_debug_prints_instead);
    tcase_add_test(tc, feedback_sdk_cli_end_to_end);
    suite_add_tcase(s, tc);
    TCase *sweep = tcase_create("sweep");
    tcase_set_timeout(sweep, 600);
    tcase_add_test(sweep, feedback_sdk_alloc_sweep);
    suite_add_tcase(s, sweep);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(feedback_sdk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
