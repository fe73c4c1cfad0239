/* Fuzz target: the request parsing of every server route that needs no
 * socket, and the server's configuration parsers. Byte 0 picks the parser
 * (modulo 8); the rest is its input. Fields of a query are separated by NUL
 * bytes (libmicrohttpd hands the route decoded, NUL-terminated values);
 * a field that is not there is absent (NULL).
 *   0  GET /admin/analytics/dashboard: from, to, environment
 *      (tlm__analytics_dashboard over an in-memory store)
 *   1  GET /admin/events: type, limit, after (tlm__event_list), and the
 *      returned next_cursor must be accepted back as `after`
 *   2  RFC 3339 (tlm__rfc3339_parse, exact length, no terminator) and the
 *      from/to parser (tlm__analytics_parse_time)
 *   3  Authorization header (tlm__auth_classify) against a reference
 *   4  Content-Encoding header (tlm__encoding_parse)
 *   5  --config FILE: the document through tlm__server_config_load
 *      (read from a memfd, no file is written)
 *   6  the command line: argv = the NUL-separated fields
 *   7  --listen, --fault and integer flag values
 * Byte 1 of modes 0, 1 and 6 is a mask of which fields are present. */
#include "fuzz_common.h"
#include "analytics.h"
#include "auth.h"
#include "config.h"
#include "event_list.h"
#include "inflate.h"
#include "json_scan.h"
#include "rfc3339.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOW_MS 1764878462345LL /* 2025-12-04T20:01:02.345Z */
#define MAX_FIELDS 24

/* ---- an in-memory store for the query routes ---------------------------- */

struct mem_store {
    struct tlm__store base;
    bool called;
    struct tlm__dash_query dq;
    struct tlm__events_query eq;
};

static int
mem_insert(
    struct tlm__store *st, struct tlm__store_batch *b, size_t *a, size_t *d)
{
    (void)st;
    (void)b;
    *a = *d = 0;
    return -1;
}

static int
mem_dashboard(struct tlm__store *st, const struct tlm__dash_query *q,
    struct tlm__dash_result *out)
{
    struct mem_store *m = (struct mem_store *)st;
    m->called = true;
    m->dq = *q;
    memset(out, 0, sizeof(*out));
    out->events = 3;
    out->errors = 1;
    out->endpoints = calloc(2, sizeof(*out->endpoints));
    FUZZ_CHECK(out->endpoints != NULL, "calloc");
    out->n_endpoints = 2;
    out->endpoints[0].endpoint = strdup("/v1/users/{id}");
    out->endpoints[0].requests = 2.5;
    out->endpoints[0].errors = 1;
    out->endpoints[0].has_latency = true;
    out->endpoints[0].p50_ms = 1.5;
    out->endpoints[0].p95_ms = 20;
    out->endpoints[0].p99_ms = 1e300;
    out->endpoints[1].endpoint = strdup("/\"quoted\"\\\n");
    out->endpoints[1].requests = 0;
    return 0;
}

static int
mem_list(struct tlm__store *st, const struct tlm__events_query *q,
    tlm__event_visit_fn visit, void *ctx, int64_t *next)
{
    struct mem_store *m = (struct mem_store *)st;
    m->called = true;
    m->eq = *q;
    FUZZ_CHECK(visit(ctx, "{\"type\":\"request\"}", 18) == 0, "visit");
    /* The cursor of the last item: below the one asked for. */
    *next = q->before > 1 ? q->before - 1 : (q->before == 0 ? INT64_MAX : 0);
    return 0;
}

static void
mem_close(struct tlm__store *st)
{
    (void)st;
}

static int
mem_ping(struct tlm__store *st)
{
    (void)st;
    return 0;
}

static const struct tlm__store_ops mem_ops = {
    .name = "fuzz-memory",
    .insert_batch = mem_insert,
    .dashboard = mem_dashboard,
    .list_events = mem_list,
    .ping = mem_ping,
    .close = mem_close,
};

/* ---- helpers ------------------------------------------------------------- */

/* Splits a NUL-terminated copy of d[0..n) at NUL bytes into fields;
 * field i is present only if bit i of mask is set. */
static size_t
split(char *buf, size_t n, unsigned mask, const char **f, size_t max)
{
    size_t k = 0;
    const char *p = buf;
    for (size_t i = 0; k < max; i++) {
        if (buf + i == buf + n || buf[i] == '\0') {
            f[k] = (mask >> (k % 8)) & 1 ? p : NULL;
            k++;
            p = buf + i + 1;
            if (i == n)
                break;
        }
    }
    for (size_t i = k; i < max; i++)
        f[i] = NULL;
    return k;
}

static void
check_body(int status, const char *json)
{
    static const char *const keys[] = {"error"};
    struct tlm__json_slice v[1];
    struct tlm__json_scan s;
    FUZZ_CHECK(json != NULL, "no body for %d", status);
    memset(&s, 0, sizeof(s));
    s.keys = keys;
    s.n_keys = 1;
    s.list_key = 1;
    s.values = v;
    FUZZ_CHECK(tlm__json_scan(&s, json, strlen(json)) == TLM_JSON_SCAN_OK,
        "body is not strict JSON: %s", json);
    tlm__json_scan_free(&s);
    FUZZ_CHECK(status == 200 || status == 400, "status %d", status);
    FUZZ_CHECK((status == 400) == (v[0].p != NULL), "error member vs %d: %s",
        status, json);
}

/* ---- 0: dashboard query ------------------------------------------------- */

static void
fuzz_dashboard(const char **f)
{
    struct mem_store m;
    char *json = NULL;
    memset(&m, 0, sizeof(m));
    m.base.ops = &mem_ops;
    int status
        = tlm__analytics_dashboard(&m.base, f[0], f[1], f[2], NOW_MS, &json);
    check_body(status, json);
    FUZZ_CHECK(m.called == (status == 200), "store call vs status");
    if (status == 200) {
        FUZZ_CHECK(m.dq.from_ms < m.dq.to_ms, "empty range accepted");
        FUZZ_CHECK(strcmp(m.dq.environment, "production") == 0
                || strcmp(m.dq.environment, "sandbox") == 0,
            "environment");
        FUZZ_CHECK(m.dq.max_endpoints == TLM_DASH_MAX_ENDPOINTS, "max");
    }
    free(json);
}

/* ---- 1: event list query ------------------------------------------------ */

static void
fuzz_events(const char **f)
{
    struct mem_store m;
    char *json = NULL;
    memset(&m, 0, sizeof(m));
    m.base.ops = &mem_ops;
    int status = tlm__event_list(&m.base, f[0], f[1], f[2], &json);
    check_body(status, json);
    FUZZ_CHECK(m.called == (status == 200), "store call vs status");
    if (status != 200) {
        free(json);
        return;
    }
    FUZZ_CHECK(m.eq.limit >= 1 && m.eq.limit <= TLM_EVENTS_MAX_LIMIT,
        "limit %zu", m.eq.limit);
    FUZZ_CHECK(m.eq.type == NULL || strcmp(m.eq.type, "request") == 0
            || strcmp(m.eq.type, "error") == 0,
        "type");
    FUZZ_CHECK(m.eq.before >= 0, "before %lld", (long long)m.eq.before);
    cJSON *r = cJSON_Parse(json);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r, "items");
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(r, "next_cursor");
    FUZZ_CHECK(cJSON_IsArray(items) && cJSON_GetArraySize(items) == 1,
        "items: %s", json);
    FUZZ_CHECK(cJSON_IsString(cur) || cJSON_IsNull(cur), "next_cursor");
    if (cJSON_IsString(cur)) {
        /* A cursor the server hands out must be accepted back. */
        char *again = NULL;
        int64_t prev = m.eq.before;
        memset(&m, 0, sizeof(m));
        m.base.ops = &mem_ops;
        int st2
            = tlm__event_list(&m.base, NULL, NULL, cur->valuestring, &again);
        FUZZ_CHECK(st2 == 200, "own cursor %s refused: %s", cur->valuestring,
            again ? again : "(null)");
        FUZZ_CHECK(m.eq.before > 0 && (prev == 0 || m.eq.before < prev),
            "cursor does not move back");
        free(again);
    }
    cJSON_Delete(r);
    free(json);
}

/* ---- 2: timestamps ------------------------------------------------------- */

static bool
leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static void
fuzz_time(const uint8_t *d, size_t n)
{
    char *exact = fuzz_memdup(d, n);
    int64_t ms = 0;
    if (tlm__rfc3339_parse(exact, n, &ms) == 0) {
        /* Shape: the fixed positions hold what the grammar says. */
        FUZZ_CHECK(n >= 20, "accepted %zu bytes", n);
        for (size_t i = 0; i < 19; i++) {
            bool sep = i == 4 || i == 7 || i == 10 || i == 13 || i == 16;
            FUZZ_CHECK(sep || isdigit(d[i]), "non-digit at %zu", i);
        }
        unsigned y = (d[0] - '0') * 1000u + (d[1] - '0') * 100u
            + (d[2] - '0') * 10u + (d[3] - '0');
        unsigned mo = (d[5] - '0') * 10u + (d[6] - '0');
        unsigned day = (d[8] - '0') * 10u + (d[9] - '0');
        unsigned h = (d[11] - '0') * 10u + (d[12] - '0');
        unsigned mi = (d[14] - '0') * 10u + (d[15] - '0');
        unsigned sec = (d[17] - '0') * 10u + (d[18] - '0');
        static const unsigned dim[12]
            = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        FUZZ_CHECK(mo >= 1 && mo <= 12, "month %u", mo);
        FUZZ_CHECK(day >= 1 && day <= dim[mo - 1] + (mo == 2 && leap(y)),
            "day %u of %u-%u", day, y, mo);
        FUZZ_CHECK(h <= 23 && mi <= 59 && sec <= 60, "time");
        bool utc = d[n - 1] == 'Z' || d[n - 1] == 'z';
        /* Back to text: a UTC time with no leap second reads the same. */
        char buf[TLM_RFC3339_BUF];
        if (tlm__rfc3339_format(ms, buf, sizeof(buf)) == 0) {
            int64_t again = 0;
            FUZZ_CHECK(tlm__rfc3339_parse(buf, strlen(buf), &again) == 0
                    && again == ms,
                "format/parse round trip of %lld: %s", (long long)ms, buf);
            if (utc && sec != 60) {
                FUZZ_CHECK(
                    memcmp(buf, d, 10) == 0 && memcmp(buf + 11, d + 11, 8) == 0,
                    "%.*s reads as %s", (int)n, (const char *)d, buf);
            }
        } else {
            FUZZ_CHECK(!utc, "a UTC year 0..9999 does not format back");
        }
    }
    free(exact);
    char *s = fuzz_strndup(d, n);
    int64_t t = 0;
    if (tlm__analytics_parse_time(s, &t) == 0 && n > 0 && n <= 15
        && strspn(s, "0123456789") == n) {
        FUZZ_CHECK(t == strtoll(s, NULL, 10), "epoch ms");
    }
    free(s);
}

/* ---- 3: Authorization ---------------------------------------------------- */

static enum tlm__principal
reference_classify(
    const char *h, char *const *keys, size_t nk, const char *admin)
{
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return TLM_PRINCIPAL_NONE;
    h += 7;
    while (*h == ' ')
        h++;
    /* The token is the whole rest of the value, trailing blanks aside. */
    size_t len = strlen(h);
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (len == 0 || len > 512)
        return TLM_PRINCIPAL_NONE;
    if (admin != NULL && strlen(admin) == len && memcmp(h, admin, len) == 0)
        return TLM_PRINCIPAL_ADMIN;
    for (size_t i = 0; i < nk; i++) {
        if (strlen(keys[i]) == len && memcmp(h, keys[i], len) == 0)
            return TLM_PRINCIPAL_INGEST;
    }
    return TLM_PRINCIPAL_NONE;
}

static void
fuzz_auth(const uint8_t *d, size_t n)
{
    static char k1[] = "tk_live_example", k2[] = "k", k3[] = "tk_live_exampl";
    static char *const keys[] = {k1, k2, k3};
    static struct tlm__auth *a, *none;
    char *h = fuzz_strndup(d, n);
    if (a == NULL) {
        struct tlm__server_config c;
        char err[128];
        memset(&c, 0, sizeof(c));
        FUZZ_CHECK(tlm__api_keys_set_csv(&c, "tk_live_example,k,tk_live_exampl",
                       "fuzz", err, sizeof(err))
                == 0,
            "keys");
        FUZZ_CHECK(tlm__auth_new(NULL, 0, &a) == 0
                && tlm__auth_add_config(
                       a, c.api_keys, c.n_api_keys, "admin-token")
                    == 0
                && tlm__auth_new(NULL, 0, &none) == 0,
            "keyring");
        tlm__api_keys_free(&c);
    }
    enum tlm__principal got = tlm__auth_classify(a, h, NULL);
    enum tlm__principal want = reference_classify(h, keys, 3, "admin-token");
    /* Was finding "auth-truncation" ("Bearer KEY<512 blanks>JUNK"
     * authenticated as KEY), fixed in server/auth.c: no skip any more. */
    FUZZ_CHECK(
        got == want, "classify [%s]: %d, expected %d", h, (int)got, (int)want);
    FUZZ_CHECK(tlm__auth_classify(none, h, NULL) == TLM_PRINCIPAL_NONE,
        "a principal without secrets");
    free(h);
}

/* ---- 4: Content-Encoding ------------------------------------------------- */

static void
fuzz_encoding(const uint8_t *d, size_t n)
{
    char *h = fuzz_strndup(d, n);
    enum tlm__encoding e = tlm__encoding_parse(h);
    enum tlm__encoding want = TLM_ENCODING_UNSUPPORTED;
    if (h[0] == '\0' || strcasecmp(h, "identity") == 0)
        want = TLM_ENCODING_IDENTITY;
    else if (strcasecmp(h, "gzip") == 0 || strcasecmp(h, "x-gzip") == 0)
        want = TLM_ENCODING_GZIP;
    FUZZ_CHECK(e == want, "encoding [%s] %d", h, (int)e);
    free(h);
}

/* ---- 5, 6: server configuration ----------------------------------------- */

static bool
secret_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 512)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~' || s[i] == ',' || s[i] == ';')
            return false;
    }
    return true;
}

/* glibc's getopt keeps a pointer into the previous argv unless optind is
 * set to 0 (tlm__server_config_load sets it to 1): start each run clean. */
static void
reset_getopt(void)
{
    static char prog[] = "fuzz";
    static char *argv[] = {prog, NULL};
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    while (getopt_long(1, argv, "", none, NULL) != -1)
        ;
}

static void
load_config(int argc, char **argv)
{
    struct tlm__server_config c;
    char err[512];
    unsetenv("TELEMETRY_API_KEYS");
    unsetenv("TELEMETRY_ADMIN_TOKEN");
    reset_getopt();
    enum tlm__config_outcome o
        = tlm__server_config_load(&c, argc, argv, err, sizeof(err));
    reset_getopt();
    FUZZ_CHECK(
        o == TLM_CONFIG_RUN || o == TLM_CONFIG_EXIT || o == TLM_CONFIG_ERROR,
        "outcome %d", (int)o);
    FUZZ_CHECK(strlen(err) < sizeof(err), "err");
    if (o == TLM_CONFIG_ERROR)
        FUZZ_CHECK(err[0] != '\0', "an error without a message");
    if (o != TLM_CONFIG_RUN)
        return;
    for (size_t i = 0; i < c.n_api_keys; i++) {
        const char *k = c.api_keys[i].secret;
        FUZZ_CHECK(k == NULL || secret_ok(k), "bad key [%s]", k);
        FUZZ_CHECK(
            c.admin_token == NULL || k == NULL || strcmp(c.admin_token, k) != 0,
            "admin token equals a key");
    }
    FUZZ_CHECK(c.admin_token == NULL || secret_ok(c.admin_token), "token");
    FUZZ_CHECK(c.host[0] != '\0' && strlen(c.host) < TLM_HOST_MAX, "host");
    FUZZ_CHECK(c.db_url != NULL, "db");
    FUZZ_CHECK(c.max_body_bytes >= 1 && c.max_body_bytes <= (1u << 30)
            && c.max_inflated_bytes >= 1 && c.max_inflated_bytes <= (1u << 30),
        "sizes");
    FUZZ_CHECK(c.threads >= 1 && c.threads <= 256, "threads");
    FUZZ_CHECK(
        c.fault_status == 0 || (c.fault_status >= 400 && c.fault_status <= 599),
        "fault");
    tlm__server_config_free(&c);
}

static void
fuzz_config_file(const uint8_t *d, size_t n)
{
    char path[64], prog[] = "telemetry-server", flag[] = "--config";
    int fd = memfd_create("fuzz-config", 0);
    FUZZ_CHECK(fd >= 0, "memfd_create");
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, d + done, n - done);
        FUZZ_CHECK(w > 0, "write to memfd");
        done += (size_t)w;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    char *argv[] = {prog, flag, path, NULL};
    load_config(3, argv);
    close(fd);
}

static void
fuzz_argv(char *buf, size_t n, unsigned mask)
{
    const char *f[MAX_FIELDS];
    char *argv[MAX_FIELDS + 2];
    char prog[] = "telemetry-server";
    int argc = 0;
    size_t k = split(buf, n, 0xff, f, MAX_FIELDS);
    (void)mask;
    argv[argc++] = prog;
    for (size_t i = 0; i < k; i++) {
        /* --config would read a file named by the input: not here (mode 5
         * feeds documents through a memfd). Any abbreviation counts. */
        if (strncmp(f[i], "--c", 3) == 0)
            return;
        argv[argc++] = (char *)f[i];
    }
    argv[argc] = NULL;
    load_config(argc, argv);
}

/* ---- 7: flag values ------------------------------------------------------ */

static void
fuzz_values(const char *s)
{
    char host[TLM_HOST_MAX];
    uint16_t port = 0;
    unsigned long v = 0;
    struct tlm__server_config c;
    memset(host, 'x', sizeof(host));
    if (tlm__listen_parse(s, host, sizeof(host), &port) == 0) {
        FUZZ_CHECK(host[0] != '\0' && strlen(host) < sizeof(host), "host");
        FUZZ_CHECK(strchr(s, ':') != NULL, "no colon");
    }
    memset(&c, 0, sizeof(c));
    if (tlm__fault_parse(s, &c) == 0)
        FUZZ_CHECK(c.fault_status >= 400 && c.fault_status <= 599
                && c.fault_count <= 1000000000UL && c.fault_retry_after >= -1
                && c.fault_retry_after <= 86400,
            "fault values");
    if (tlm__parse_ulong(s, 1, 1000, &v) == 0)
        FUZZ_CHECK(
            v >= 1 && v <= 1000 && s[0] >= '0' && s[0] <= '9', "ulong %lu", v);
    memset(&c, 0, sizeof(c));
    char err[256];
    if (tlm__api_keys_set_csv(&c, s, "fuzz", err, sizeof(err)) == 0) {
        for (size_t i = 0; i < c.n_api_keys; i++)
            FUZZ_CHECK(secret_ok(c.api_keys[i].secret), "csv key");
    }
    tlm__server_config_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *f[MAX_FIELDS];
    if (size < 1)
        return 0;
    unsigned mode = data[0] & 7;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    unsigned mask = 0xff;
    if (mode == 0 || mode == 1) {
        if (n < 1)
            return 0;
        mask = rest[0];
        rest++;
        n--;
    }
    char *buf = fuzz_strndup(rest, n);
    switch (mode) {
    case 0:
        split(buf, n, mask, f, 3);
        fuzz_dashboard(f);
        break;
    case 1:
        split(buf, n, mask, f, 3);
        fuzz_events(f);
        break;
    case 2:
        fuzz_time(rest, n);
        break;
    case 3:
        fuzz_auth(rest, n);
        break;
    case 4:
        fuzz_encoding(rest, n);
        break;
    case 5:
        fuzz_config_file(rest, n);
        break;
    case 6:
        fuzz_argv(buf, n, mask);
        break;
    default:
        fuzz_values(buf);
        break;
    }
    free(buf);
    return 0;
}
