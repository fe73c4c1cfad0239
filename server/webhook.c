/* Webhook delivery: the delivery thread (one libcurl multi handle, at most
 * TLM_WEBHOOK_PARALLEL attempts in flight, keep-alive connections kept in
 * the multi's cache), request signing and the delivery documents. Only the
 * delivery thread touches the multi's transfers and calls the outbox; other
 * threads only set flags and wake it. Never logs the URL or the secret. */
#include "webhook.h"

#include "config.h"
#include "rfc3339.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USER_AGENT "telemetry-server/" TLM_SERVER_VERSION
/* Longest header line we build: the 48-byte type or the signature. */
#define HEADER_MAX 128

struct slot {
    CURL *easy;
    struct curl_slist *headers;
    struct tlm__delivery d;
    bool busy;
};

struct tlm__webhook {
    char *url;
    char *secret;
    unsigned max_attempts, base_delay_ms, max_delay_ms, timeout_ms, poll_ms;
    struct tlm__outbox outbox;
    struct tlm__log *log;
    CURLM *multi;
    pthread_t thread;
    atomic_bool stopping;
    atomic_bool poked;
    atomic_uint_fast64_t delivered, failed, attempts;
    /* Delivery thread only from here on. */
    struct slot slots[TLM_WEBHOOK_PARALLEL];
    size_t inflight;
    int64_t next_claim;
    bool claim_failing;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void
global_init_once(void)
{
    /* Never paired with curl_global_cleanup(): other code may use curl. */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- pure helpers ------------------------------------------------------ */

static void
to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int
tlm__webhook_sign(const char *secret, const char *ts, const char *body,
    size_t len, char hex[65])
{
    unsigned char k[64] = {0}, pad[64], inner[32], mac[32];
    unsigned int klen = 0;
    size_t slen = secret != NULL ? strlen(secret) : 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL;

    hex[0] = '\0';
    if (ok && slen > sizeof(k))
        ok = EVP_Digest(secret, slen, k, &klen, EVP_sha256(), NULL);
    else if (ok && slen > 0)
        memcpy(k, secret, slen);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex(md, EVP_sha256(), NULL)
        && EVP_DigestUpdate(md, pad, 64) && EVP_DigestUpdate(md, ts, strlen(ts))
        && EVP_DigestUpdate(md, ".", 1) && EVP_DigestUpdate(md, body, len)
        && EVP_DigestFinal_ex(md, inner, NULL);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(md, EVP_sha256(), NULL)
        && EVP_DigestUpdate(md, pad, 64)
        && EVP_DigestUpdate(md, inner, sizeof(inner))
        && EVP_DigestFinal_ex(md, mac, NULL);
    EVP_MD_CTX_free(md);
    memset(k, 0, sizeof(k));
    memset(pad, 0, sizeof(pad));
    if (!ok)
        return -1;
    to_hex(mac, sizeof(mac), hex);
    return 0;
}

int64_t
tlm__webhook_backoff_ms(unsigned base_ms, unsigned max_ms, unsigned failed)
{
    int64_t d = base_ms;

    for (unsigned i = 1; i < failed && d < (int64_t)max_ms; i++)
        d *= 2;
    return d < (int64_t)max_ms ? d : (int64_t)max_ms;
}

/* A short, fixed reason for a transfer that got no usable answer. */
static const char *
curl_reason(CURLcode rc, long os_errno)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_CONNECT:
        return os_errno == ECONNREFUSED ? "connection refused"
                                        : "could not connect";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "could not resolve host";
    case CURLE_GOT_NOTHING:
        return "empty reply";
    case CURLE_SEND_ERROR:
        return "send failed";
    case CURLE_RECV_ERROR:
        return "receive failed";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return "TLS error";
    case CURLE_OUT_OF_MEMORY:
        return "out of memory";
    default:
        return curl_easy_strerror(rc);
    }
}

/* --- the delivery thread ------------------------------------------------ */

static void
slot_release(struct tlm__webhook *w, struct slot *s)
{
    if (s->easy != NULL) {
        curl_multi_remove_handle(w->multi, s->easy);
        curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->headers);
    free(s->d.body);
    memset(s, 0, sizeof(*s));
    w->inflight--;
}

static void
log_result(struct tlm__webhook *w, const struct tlm__delivery_result *r)
{
    enum tlm__log_level level = r->delivered ? TLM_LOG_INFO
        : r->gave_up                         ? TLM_LOG_ERROR
                                             : TLM_LOG_WARN;
    const char *msg = r->delivered ? "webhook delivered"
        : r->gave_up               ? "webhook delivery failed, giving up"
                                   : "webhook attempt failed, will retry";
    struct tlm__log_field f[] = {
        {"delivery", r->id, 0},
        {"event", r->type, 0},
        {"attempt", NULL, r->attempt},
        {"http_status", NULL, r->http_status},
        {"error", r->error != NULL ? r->error : "", 0},
    };

    if (tlm__log_enabled(w->log, level))
        tlm__log_write(w->log, level, msg, f, r->error != NULL ? 5 : 4);
}

/* Records the outcome of s's attempt (rc: the transfer's result) and
 * frees the slot. why: the reason when no request was made (then closed
 * for good), else NULL. */
static void
finish(struct tlm__webhook *w, struct slot *s, CURLcode rc, const char *why)
{
    struct tlm__delivery_result r = {0};
    char reason[32];
    long status = 0;
    curl_off_t retry_after = 0;
    long os_errno = 0;

    if (s->easy != NULL) {
        curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &os_errno);
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &retry_after);
    }
    r.id = s->d.id;
    r.type = s->d.type;
    r.attempt = s->d.attempts + 1;
    r.http_status = status;
    r.at_ms = tlm__now_ms();
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        r.delivered = true;
    } else if (rc == CURLE_OK) {
        snprintf(reason, sizeof(reason), "HTTP %ld", status);
        r.error = reason;
    } else {
        r.error = why != NULL ? why : curl_reason(rc, os_errno);
    }
    if (!r.delivered)
        r.gave_up = why != NULL || r.attempt >= w->max_attempts;
    if (!r.delivered && !r.gave_up) {
        int64_t d = tlm__webhook_backoff_ms(
            w->base_delay_ms, w->max_delay_ms, r.attempt);
        /* A receiver that says when to come back is believed, within the
         * cap. */
        if ((status == 429 || status == 503) && retry_after > 0) {
            int64_t ra = retry_after > (curl_off_t)w->max_delay_ms / 1000
                ? (int64_t)w->max_delay_ms
                : (int64_t)retry_after * 1000;
            d = ra > d ? ra : d;
        }
        r.next_attempt_ms = r.at_ms + d;
        if (r.next_attempt_ms < w->next_claim)
            w->next_claim = r.next_attempt_ms;
    }
    atomic_fetch_add(&w->attempts, 1);
    if (r.delivered)
        atomic_fetch_add(&w->delivered, 1);
    else if (r.gave_up)
        atomic_fetch_add(&w->failed, 1);
    log_result(w, &r);
    if (w->outbox.record(w->outbox.ctx, &r) != 0)
        tlm__log_write(w->log, TLM_LOG_ERROR,
            "webhook: recording an attempt failed; retried after its lease",
            (struct tlm__log_field[]) {{"delivery", r.id, 0}}, 1);
    slot_release(w, s);
}

/* Ids and types go into header lines: printable ASCII only. */
static bool
header_safe(const char *s, size_t size)
{
    size_t n = strnlen(s, size);

    if (n == 0 || n == size)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

static int
add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[HEADER_MAX];
    struct curl_slist *l;

    snprintf(line, sizeof(line), "%s: %s", name, value);
    l = curl_slist_append(*list, line);
    if (l == NULL)
        return -1;
    *list = l;
    return 0;
}

static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* Starts the attempt held by s; on failure records it as failed. */
static void
begin(struct tlm__webhook *w, struct slot *s)
{
    char ts[24], sig[72], hex[65];
    CURL *e;
    int bad = 0;

    if (!header_safe(s->d.id, sizeof(s->d.id))
        || !header_safe(s->d.type, sizeof(s->d.type)) || s->d.body == NULL) {
        finish(w, s, CURLE_BAD_FUNCTION_ARGUMENT, "invalid delivery");
        return;
    }
    snprintf(ts, sizeof(ts), "%" PRId64, tlm__now_ms() / 1000);
    bad |= add_header(&s->headers, "Content-Type", "application/json");
    bad |= add_header(&s->headers, "Expect", "");
    bad |= add_header(&s->headers, "X-Telemetry-Event", s->d.type);
    bad |= add_header(&s->headers, "X-Telemetry-Delivery", s->d.id);
    bad |= add_header(&s->headers, "X-Telemetry-Timestamp", ts);
    if (w->secret != NULL) {
        bad |= tlm__webhook_sign(w->secret, ts, s->d.body, s->d.body_len, hex);
        snprintf(sig, sizeof(sig), "sha256=%s", hex);
        bad |= add_header(&s->headers, "X-Telemetry-Signature", sig);
    }
    e = bad == 0 ? curl_easy_init() : NULL;
    if (e == NULL) {
        finish(w, s, CURLE_OUT_OF_MEMORY, NULL);
        return;
    }
    s->easy = e;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)s);
    curl_easy_setopt(e, CURLOPT_URL, w->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->d.body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->d.body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* The answer's body is not kept: the status says it all. */
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    if (curl_multi_add_handle(w->multi, e) != CURLM_OK)
        finish(w, s, CURLE_OUT_OF_MEMORY, NULL);
}

static void
claim_some(struct tlm__webhook *w, int64_t now)
{
    size_t want = TLM_WEBHOOK_PARALLEL - w->inflight, n = 0, i, k = 0;
    struct tlm__delivery *got = NULL;
    int64_t lease = 2 * (int64_t)w->timeout_ms + 30000;

    if (w->outbox.claim(w->outbox.ctx, now, lease, want, &got, &n) != 0) {
        if (!w->claim_failing)
            tlm__log_write(w->log, TLM_LOG_WARN,
                "webhook: claiming deliveries failed; polling on", NULL, 0);
        w->claim_failing = true;
        w->next_claim = now + w->poll_ms;
        return;
    }
    w->claim_failing = false;
    if (got == NULL)
        n = 0;
    /* All asked for were due: more may be, claim again once slots free. */
    w->next_claim = n >= want ? now : now + w->poll_ms;
    for (i = 0; i < n; i++) {
        if (i >= want) { /* an outbox bug: those come back after the lease */
            free(got[i].body);
            continue;
        }
        while (w->slots[k].busy)
            k++;
        w->slots[k].d = got[i];
        w->slots[k].d.id[sizeof(got[i].id) - 1] = '\0';
        w->slots[k].d.type[sizeof(got[i].type) - 1] = '\0';
        w->slots[k].busy = true;
        w->inflight++;
        begin(w, &w->slots[k]);
    }
    free(got);
}

static void
reap(struct tlm__webhook *w)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        struct slot *s = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        finish(w, s, m->data.result, NULL);
    }
}

static void *
run(void *arg)
{
    struct tlm__webhook *w = arg;
    int running;

    w->next_claim = tlm__now_ms();
    while (!atomic_load(&w->stopping)) {
        int64_t now = tlm__now_ms(), wait;
        if (atomic_exchange(&w->poked, false))
            w->next_claim = now;
        if (w->inflight < TLM_WEBHOOK_PARALLEL && now >= w->next_claim)
            claim_some(w, now);
        curl_multi_perform(w->multi, &running);
        reap(w);
        now = tlm__now_ms();
        if (w->inflight >= TLM_WEBHOOK_PARALLEL)
            wait = w->poll_ms; /* curl shortens it to its own timeouts */
        else
            wait = w->next_claim - now;
        if (wait > (int64_t)w->poll_ms)
            wait = w->poll_ms;
        if (wait > 0)
            curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
    }
    for (size_t i = 0; i < TLM_WEBHOOK_PARALLEL; i++)
        if (w->slots[i].busy)
            slot_release(w, &w->slots[i]);
    return NULL;
}

/* --- lifecycle ----------------------------------------------------------- */

static void
webhook_free(struct tlm__webhook *w)
{
    if (w == NULL)
        return;
    if (w->multi != NULL)
        curl_multi_cleanup(w->multi);
    free(w->url);
    if (w->secret != NULL)
        memset(w->secret, 0, strlen(w->secret));
    free(w->secret);
    free(w);
}

static bool
url_ok(const char *url)
{
    return url != NULL
        && ((strncasecmp(url, "http://", 7) == 0 && url[7] != '\0')
            || (strncasecmp(url, "https://", 8) == 0 && url[8] != '\0'));
}

#define OR_DEFAULT(v, d) ((v) != 0 ? (v) : (d))

int
tlm__webhook_start(const struct tlm__webhook_options *o,
    struct tlm__webhook **out, char *err, size_t err_size)
{
    struct tlm__webhook *w = NULL;

    *out = NULL;
    if (!url_ok(o->url)) {
        snprintf(err, err_size,
            "feedback.webhook_url: expected an http:// or https:// URL");
        return -1;
    }
    if (o->outbox.claim == NULL || o->outbox.record == NULL) {
        snprintf(err, err_size, "webhook: no outbox");
        return -1;
    }
    pthread_once(&global_once, global_init_once);
    w = calloc(1, sizeof(*w));
    if (w == NULL || global_rc != CURLE_OK)
        goto fail;
    w->url = strdup(o->url);
    if (o->secret != NULL && o->secret[0] != '\0')
        w->secret = strdup(o->secret);
    w->max_attempts
        = OR_DEFAULT(o->max_attempts, TLM_WEBHOOK_DEFAULT_MAX_ATTEMPTS);
    w->base_delay_ms
        = OR_DEFAULT(o->base_delay_ms, TLM_WEBHOOK_DEFAULT_BASE_DELAY_MS);
    w->max_delay_ms
        = OR_DEFAULT(o->max_delay_ms, TLM_WEBHOOK_DEFAULT_MAX_DELAY_MS);
    w->timeout_ms = OR_DEFAULT(o->timeout_ms, TLM_WEBHOOK_DEFAULT_TIMEOUT_MS);
    w->poll_ms = OR_DEFAULT(o->poll_ms, TLM_WEBHOOK_DEFAULT_POLL_MS);
    w->outbox = o->outbox;
    w->log = o->log;
    w->multi = curl_multi_init();
    if (w->url == NULL || w->multi == NULL
        || (o->secret != NULL && o->secret[0] != '\0' && w->secret == NULL))
        goto fail;
    atomic_init(&w->stopping, false);
    atomic_init(&w->poked, false);
    atomic_init(&w->delivered, 0);
    atomic_init(&w->failed, 0);
    atomic_init(&w->attempts, 0);
    if (pthread_create(&w->thread, NULL, run, w) != 0)
        goto fail;
    if (w->secret == NULL)
        tlm__log_write(w->log, TLM_LOG_WARN,
            "webhook: no feedback.webhook_secret, deliveries are unsigned",
            NULL, 0);
    *out = w;
    return 0;
fail:
    webhook_free(w);
    snprintf(err, err_size, "webhook: cannot start (out of memory)");
    return -1;
}

void
tlm__webhook_poke(struct tlm__webhook *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->poked, true);
    curl_multi_wakeup(w->multi);
}

void
tlm__webhook_stop(struct tlm__webhook *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stopping, true);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    webhook_free(w);
}

void
tlm__webhook_stats(const struct tlm__webhook *w, uint64_t *delivered,
    uint64_t *failed, uint64_t *attempts)
{
    if (delivered != NULL)
        *delivered = w != NULL ? atomic_load(&w->delivered) : 0;
    if (failed != NULL)
        *failed = w != NULL ? atomic_load(&w->failed) : 0;
    if (attempts != NULL)
        *attempts = w != NULL ? atomic_load(&w->attempts) : 0;
}

/* --- delivery documents -------------------------------------------------- */

/* A growing string; oom sticks once an append fails. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* s on one line: CR, LF and tabs become spaces. */
static void
sb_inline(struct sbuf *b, const char *s)
{
    for (; *s != '\0'; s++)
        sb_add(b, (*s == '\n' || *s == '\r' || *s == '\t') ? " " : s, 1);
}

/* A non-empty string member, else NULL. */
static const char *
str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring
                                                          : NULL;
}

static void
section(struct sbuf *b, const char *title, const char *text)
{
    if (text == NULL)
        return;
    if (b->len > 0)
        sb_str(b, "\n");
    sb_str(b, "### ");
    sb_str(b, title);
    sb_str(b, "\n\n");
    sb_str(b, text);
    sb_str(b, "\n");
}

/* "- **name:** value", value on one line; code: as a code span when the
 * value holds no backtick. */
static void
item(struct sbuf *b, const char *name, const char *value, bool code)
{
    if (value == NULL)
        return;
    code = code && strchr(value, '`') == NULL;
    sb_str(b, "- **");
    sb_str(b, name);
    sb_str(b, ":** ");
    sb_str(b, code ? "`" : "");
    sb_inline(b, value);
    sb_str(b, code ? "`\n" : "\n");
}

static void
details(struct sbuf *b, const cJSON *fb)
{
    const cJSON *sdk = cJSON_GetObjectItemCaseSensitive(fb, "sdk");
    const cJSON *v;
    char num[32], sdk_text[512];
    const char *cat = str_of(fb, "category");

    sb_str(b, "\n### Details\n\n");
    item(b, "Type", str_of(fb, "feedback_type"), false);
    item(b, "Endpoint", str_of(fb, "endpoint"), true);
    item(b, "Feature", str_of(fb, "feature"), false);
    if (cat != NULL) {
        const char *src = str_of(fb, "category_source");
        sb_str(b, "- **Category:** ");
        sb_inline(b, cat);
        sb_str(b, src != NULL && strcmp(src, "auto") == 0 ? " (auto)\n" : "\n");
    }
    v = cJSON_GetObjectItemCaseSensitive(fb, "rating");
    if (cJSON_IsNumber(v)) {
        snprintf(num, sizeof(num), "%d/5", v->valueint);
        item(b, "Rating", num, false);
    }
    v = cJSON_GetObjectItemCaseSensitive(fb, "sentiment");
    if (cJSON_IsNumber(v)) {
        snprintf(num, sizeof(num), "%.2f", v->valuedouble);
        item(b, "Sentiment", num, false);
    }
    if (cJSON_IsObject(sdk)) {
        const char *name = str_of(sdk, "name"), *ver = str_of(sdk, "version");
        const char *bind = str_of(sdk, "binding");
        if (name != NULL || ver != NULL) {
            snprintf(sdk_text, sizeof(sdk_text), "%s%s%s%s%s%s",
                name != NULL ? name : "", name != NULL && ver ? " " : "",
                ver != NULL ? ver : "", bind != NULL ? " (" : "",
                bind != NULL ? bind : "", bind != NULL ? ")" : "");
            item(b, "SDK", sdk_text, false);
        }
        item(b, "OS", str_of(sdk, "os"), false);
    }
    item(b, "Environment", str_of(fb, "environment"), false);
    item(b, "Feedback id", str_of(fb, "id"), true);
    item(b, "Submitted", str_of(fb, "created_at"), false);
}

/* The first line of s, at most max bytes cut at a UTF-8 boundary, with an
 * ellipsis when cut. */
static void
title_of(struct sbuf *b, const char *s, size_t max)
{
    size_t n = strcspn(s, "\r\n");

    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n <= max) {
        sb_add(b, s, n);
        return;
    }
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    sb_add(b, s, n);
    sb_str(b, "\xe2\x80\xa6");
}

static bool
add_elem(cJSON *a, cJSON *item)
{
    if (item != NULL && cJSON_AddItemToArray(a, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static cJSON *
issue_labels(const cJSON *fb, bool negative)
{
    cJSON *labels = cJSON_CreateArray();
    const char *cat = str_of(fb, "category");
    const char *type = str_of(fb, "feedback_type");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(fb, "sentiment");
    char t[64];
    bool ok = labels != NULL;

    if (ok && cat != NULL)
        ok = add_elem(labels, cJSON_CreateString(cat));
    if (ok && type != NULL) {
        snprintf(t, sizeof(t), "feedback:%s", type);
        ok = add_elem(labels, cJSON_CreateString(t));
    }
    if (ok && (negative || (cJSON_IsNumber(s) && s->valuedouble < 0)))
        ok = add_elem(labels, cJSON_CreateString("sentiment:negative"));
    if (!ok) {
        cJSON_Delete(labels);
        return NULL;
    }
    return labels;
}

/* Adds item to o under key; item is consumed either way. */
static bool
add_owned(cJSON *o, const char *key, cJSON *item)
{
    if (item != NULL && cJSON_AddItemToObject(o, key, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool
add_str_or_null(cJSON *o, const char *key, const char *v)
{
    if (v != NULL)
        return cJSON_AddStringToObject(o, key, v) != NULL;
    return cJSON_AddNullToObject(o, key) != NULL;
}

char *
tlm__webhook_issue_doc(const cJSON *feedback, const char *type,
    const char *delivery_id, const char *created_at)
{
    const cJSON *is = cJSON_GetObjectItemCaseSensitive(feedback, "issue");
    const char *content = str_of(feedback, "content");
    const char *summary = str_of(is, "summary");
    struct sbuf title = {0}, body = {0};
    cJSON *root = NULL, *issue;
    bool negative, ok;
    char *out = NULL;

    if (!cJSON_IsObject(feedback) || type == NULL)
        return NULL;
    negative = strcmp(type, TLM_WEBHOOK_FEEDBACK_NEGATIVE) == 0;
    if (!negative && strcmp(type, TLM_WEBHOOK_FEEDBACK_ISSUE) != 0)
        return NULL;
    if (created_at == NULL)
        created_at = str_of(feedback, "created_at");
    sb_str(&title, negative ? "Negative feedback: " : "");
    title_of(&title, summary != NULL ? summary : content ? content : "", 100);
    if (negative)
        section(&body, "Feedback", content);
    section(&body, "Summary", summary);
    section(&body, "Steps to reproduce", str_of(is, "steps_to_reproduce"));
    section(&body, "Expected", str_of(is, "expected"));
    section(&body, "Actual", str_of(is, "actual"));
    if (!negative
        && (summary == NULL || content == NULL
            || strcmp(summary, content) != 0))
        section(&body, "Feedback", content);
    details(&body, feedback);
    if (title.oom || body.oom)
        goto out;
    root = cJSON_CreateObject();
    ok = cJSON_AddStringToObject(root, "type", type) != NULL
        && (delivery_id == NULL
            || cJSON_AddStringToObject(root, "delivery_id", delivery_id))
        && add_str_or_null(root, "created_at", created_at)
        && add_owned(root, "feedback", cJSON_Duplicate(feedback, 1));
    issue = ok ? cJSON_AddObjectToObject(root, "issue") : NULL;
    ok = issue != NULL && cJSON_AddStringToObject(issue, "title", title.p)
        && cJSON_AddStringToObject(issue, "body", body.p)
        && add_owned(issue, "labels", issue_labels(feedback, negative));
    if (ok)
        out = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    free(title.p);
    free(body.p);
    return out;
}

char *
tlm__webhook_status_doc(const cJSON *fr, const char *previous_status,
    const char *reason, const char *user_id, const char *delivery_id,
    const char *created_at)
{
    cJSON *root, *o;
    const cJSON *votes;
    char *out;
    bool ok;

    if (!cJSON_IsObject(fr))
        return NULL;
    if (created_at == NULL)
        created_at = str_of(fr, "updated_at");
    root = cJSON_CreateObject();
    o = cJSON_CreateObject();
    ok = root != NULL && o != NULL
        && cJSON_AddStringToObject(root, "type", TLM_WEBHOOK_STATUS_CHANGED)
        && (delivery_id == NULL
            || cJSON_AddStringToObject(root, "delivery_id", delivery_id))
        && add_str_or_null(root, "created_at", created_at);
    ok = ok && add_str_or_null(o, "id", str_of(fr, "id"))
        && add_str_or_null(o, "title", str_of(fr, "title"))
        && add_str_or_null(o, "status", str_of(fr, "status"))
        && add_str_or_null(o, "previous_status", previous_status)
        && add_str_or_null(o, "reason", reason);
    votes = cJSON_GetObjectItemCaseSensitive(fr, "votes");
    if (ok && cJSON_IsNumber(votes))
        ok = cJSON_AddNumberToObject(o, "votes", votes->valuedouble) != NULL;
    if (ok)
        ok = add_owned(root, "feature_request", o);
    else
        cJSON_Delete(o);
    ok = ok && add_str_or_null(root, "user_id", user_id);
    out = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return out;
}
