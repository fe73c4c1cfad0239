/*
 * test_uninit.c - the whole public API (include/telemetry.h) with arguments
 * no caller should pass: NULL handles, strings and out-pointers, a closed
 * client, 10 MiB strings, invalid UTF-8 and control characters, versioned
 * structs of the wrong size. Each call must return its documented error or
 * be a no-op; nothing may crash or leak (run it under valgrind and ASan).
 *
 * Only the public header is used. Clients point at a loopback port that was
 * just bound and released, so every connection is refused at once, and
 * their deadlines are short.
 */
#include "telemetry.h"

#include <arpa/inet.h>
#include <check.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HUGE_LEN ((size_t)10 << 20) /* 10 MiB */

static char dead_url[64];

/* A port nobody listens on: bind port 0, read the port back, release it. */
static void
find_dead_endpoint(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%u",
        (unsigned)ntohs(sa.sin_port));
}

static void
setup(void)
{
    unsetenv("DO_NOT_TRACK");
    unsetenv("TELEMETRY_OPTOUT");
    unsetenv("TELEMETRY_DEBUG");
    find_dead_endpoint();
}

/* Options for a client that sends nowhere and gives up quickly. */
static tlm_options *
dead_options(void)
{
    tlm_options *o = tlm_options_new();

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_endpoint(o, dead_url), 0);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 3600000), 0);
    ck_assert_int_eq(tlm_options_set_max_queue_events(o, 64), 0);
    ck_assert_int_eq(tlm_options_set_shutdown_timeout_ms(o, 200), 0);
    ck_assert_int_eq(tlm_options_set_connect_timeout_ms(o, 200), 0);
    ck_assert_int_eq(tlm_options_set_transfer_timeout_ms(o, 500), 0);
    ck_assert_int_eq(tlm_options_set_max_retries(o, 0), 0);
    return o;
}

static tlm_client *
dead_client_with(tlm_options *o)
{
    tlm_client *c = NULL;

    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    ck_assert_ptr_nonnull(c);
    return c;
}

static tlm_client *
dead_client(void)
{
    tlm_options *o = dead_options();
    tlm_client *c = dead_client_with(o);

    tlm_options_free(o);
    return c;
}

static tlm_stats
stats_of(const tlm_client *c)
{
    tlm_stats s;

    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_stats(c, &s), 0);
    return s;
}

/* Every enqueued event is accounted for once the client is closed.
 * dropped_disabled counts both events purged from the queue and calls
 * refused while disabled (never enqueued): the caller says how many of the
 * latter it made. */
static void
assert_settled_but(const tlm_client *c, uint64_t refused_disabled)
{
    tlm_stats s = stats_of(c);
    uint64_t settled = s.sent + s.rejected + s.dropped_before_send
        + s.dropped_http + s.dropped_retries + s.dropped_oversize
        + s.dropped_shutdown + s.dropped_disabled + s.dropped_nomem;

    ck_assert_uint_ge(s.dropped_disabled, refused_disabled);
    settled -= refused_disabled;

    ck_assert_uint_eq(s.queue_depth, 0);
    ck_assert_uint_eq(s.inflight_events, 0);
    ck_assert_msg(settled == s.enqueued,
        "enqueued %llu but settled %llu (oversize %llu, shutdown %llu, "
        "retries %llu)",
        (unsigned long long)s.enqueued, (unsigned long long)settled,
        (unsigned long long)s.dropped_oversize,
        (unsigned long long)s.dropped_shutdown,
        (unsigned long long)s.dropped_retries);
}

static void
assert_all_settled(const tlm_client *c)
{
    assert_settled_but(c, 0);
}

static int
is_one_of(int rc, int a, int b)
{
    return rc == a || rc == b;
}

/* A NUL-terminated string of `len` bytes: `prefix` then `fill` bytes. */
static char *
huge_string(const char *prefix, char fill, size_t len)
{
    size_t p = strlen(prefix);
    char *s = malloc(len + 1);

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_ge(len, p);
    memcpy(s, prefix, p);
    memset(s + p, fill, len - p);
    s[len] = '\0';
    return s;
}

/* A JSON object of about `len` bytes: {"k":"aaaa..."}. */
static char *
huge_json_object(size_t len)
{
    char *s = huge_string("{\"k\":\"", 'a', len);

    s[len - 2] = '"';
    s[len - 1] = '}';
    return s;
}

/* Byte strings no caller should send: invalid UTF-8 of every kind and
 * control characters (including the ones that end HTTP header lines). */
static const char *const bad_strings[] = {
    "\xff\xfe\xfd",
    "\xc0\x80", /* overlong NUL */
    "\xed\xa0\x80", /* UTF-16 surrogate */
    "\xf4\x90\x80\x80", /* above U+10FFFF */
    "\xe2\x82", /* truncated sequence */
    "\x80\x80\x80", /* lone continuation bytes */
    "a\x01\x02\x1b[31m\x7f",
    "line\r\nX-Injected: 1",
    "tab\there\vform\ffeed\b",
    "\"\\\"}{][,:",
    "%s%n%p%x",
};
#define N_BAD (sizeof(bad_strings) / sizeof(bad_strings[0]))

/* ---- static functions ------------------------------------------------- */

START_TEST(uninit_version_and_strerror)
{
    static const int codes[] = {0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11,
        1, 42, -1000, INT_MIN, INT_MAX};
    size_t i;

    ck_assert_ptr_nonnull(tlm_version());
    ck_assert_str_eq(tlm_version(), TLM_VERSION_STRING);
    ck_assert_uint_eq(tlm_version_num(), TLM_VERSION_NUM);
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *msg = tlm_strerror(codes[i]);

        ck_assert_ptr_nonnull(msg);
        ck_assert_uint_gt(strlen(msg), 0);
    }
}
END_TEST

/* ---- options ---------------------------------------------------------- */

START_TEST(uninit_options_null_handle)
{
    ck_assert_int_eq(tlm_options_set_endpoint(NULL, dead_url), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_api_key(NULL, "k"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_spool_dir(NULL, "/tmp"), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_spool_max_bytes(NULL, 1 << 20), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_spool_fsync(NULL, TLM_FSYNC_NEVER), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(NULL, 1000), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_batch_events(NULL, 10), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_batch_bytes(NULL, 4096), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_queue_events(NULL, 64), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_shutdown_timeout_ms(NULL, 100), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_environment(NULL, "sandbox"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_access_tier(NULL, "free"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_binding(NULL, "py"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_ca_bundle(NULL, "/x"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_connect_timeout_ms(NULL, 100), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_transfer_timeout_ms(NULL, 100), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_inflight(NULL, 2), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_retries(NULL, 2), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_compression(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_enabled(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_logger(NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_before_send(NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_allocator(NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_string(NULL, "{}"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_string(NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_file(NULL, "/dev/null"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_file(NULL, NULL), TLM_EINVAL);
    /* Readers of a NULL object answer "" (never NULL: callers print them). */
    ck_assert_ptr_nonnull(tlm_options_last_error(NULL));
    ck_assert_str_eq(tlm_options_last_error(NULL), "");
    ck_assert_ptr_nonnull(tlm_options_warnings(NULL));
    ck_assert_str_eq(tlm_options_warnings(NULL), "");
    tlm_options_free(NULL);
}
END_TEST

START_TEST(uninit_options_null_values)
{
    tlm_options *o = tlm_options_new();

    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(tlm_options_last_error(o), "");
    /* Required strings refuse NULL and "", and say why. */
    ck_assert_int_eq(tlm_options_set_endpoint(o, NULL), TLM_EINVAL);
    ck_assert_str_ne(tlm_options_last_error(o), "");
    ck_assert_int_eq(tlm_options_set_endpoint(o, ""), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_environment(o, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_environment(o, ""), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_binding(o, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_binding(o, ""), TLM_EINVAL);
    /* Optional strings: NULL clears, "" is refused. */
    ck_assert_int_eq(tlm_options_set_api_key(o, NULL), 0);
    ck_assert_int_eq(tlm_options_set_api_key(o, ""), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_access_tier(o, NULL), 0);
    ck_assert_int_eq(tlm_options_set_access_tier(o, ""), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_ca_bundle(o, NULL), 0);
    ck_assert_int_eq(tlm_options_set_ca_bundle(o, ""), TLM_EINVAL);
    /* NULL callbacks restore the defaults, whatever the userdata. */
    ck_assert_int_eq(tlm_options_set_logger(o, NULL, (void *)o), 0);
    ck_assert_int_eq(tlm_options_set_before_send(o, NULL, (void *)o), 0);
    ck_assert_int_eq(tlm_options_load_string(o, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_load_file(o, NULL), TLM_EINVAL);
    ck_assert_ptr_nonnull(tlm_options_warnings(o));
    tlm_options_free(o);
}
END_TEST

START_TEST(uninit_options_out_of_range)
{
    tlm_options *o = tlm_options_new();

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_set_flush_interval_ms(o, 0), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_flush_interval_ms(o, UINT32_MAX), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_batch_events(o, 0), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_max_batch_events(o, UINT32_MAX), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_batch_bytes(o, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_batch_bytes(o, SIZE_MAX), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_max_batch_bytes(o, (size_t)UINT32_MAX + 2048),
        TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_queue_events(o, 0), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_max_queue_events(o, UINT32_MAX), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_shutdown_timeout_ms(o, UINT32_MAX), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_connect_timeout_ms(o, 0), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_transfer_timeout_ms(o, UINT32_MAX), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_inflight(o, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_inflight(o, UINT32_MAX), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_retries(o, UINT32_MAX), TLM_EINVAL);
    ck_assert_str_ne(tlm_options_last_error(o), "");
    /* Any non-zero int is "on". */
    ck_assert_int_eq(tlm_options_set_compression(o, INT_MIN), 0);
    ck_assert_int_eq(tlm_options_set_enabled(o, -1), 0);
    tlm_options_free(o);
}
END_TEST

static void *
t_malloc(size_t n, void *ud)
{
    (void)ud;
    return malloc(n);
}

static void *
t_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    return realloc(p, n);
}

static void
t_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

START_TEST(uninit_options_allocator_wrong)
{
    static const size_t sizes[] = {
        0, 1, sizeof(tlm_allocator) - 1, sizeof(tlm_allocator) + 1, SIZE_MAX};
    tlm_options *o = tlm_options_new();
    tlm_allocator a;
    tlm_client *c;
    size_t i;

    ck_assert_ptr_nonnull(o);
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.malloc_fn = t_malloc;
    a.realloc_fn = t_realloc;
    a.free_fn = t_free;
    ck_assert_int_eq(tlm_options_set_allocator(NULL, &a), TLM_EINVAL);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        a.size = sizes[i];
        ck_assert_msg(tlm_options_set_allocator(o, &a) == TLM_EINVAL,
            "allocator size %zu accepted", sizes[i]);
    }
    a.size = sizeof(a);
    a.malloc_fn = NULL;
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), TLM_EINVAL);
    a.malloc_fn = t_malloc;
    a.realloc_fn = NULL;
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), TLM_EINVAL);
    a.realloc_fn = t_realloc;
    a.free_fn = NULL;
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), TLM_EINVAL);
    ck_assert_str_ne(tlm_options_last_error(o), "");
    /* A valid one, replaced by NULL (the default): both accepted, and a
     * client still works on the result. */
    a.free_fn = t_free;
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), 0);
    ck_assert_int_eq(tlm_options_set_allocator(o, NULL), 0);
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), 0);
    memset(&a, 0, sizeof(a)); /* copied: the caller's struct may go */
    ck_assert_int_eq(tlm_options_set_endpoint(o, dead_url), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/a", NULL, 200, 1.0, NULL), 0);
    ck_assert(is_one_of(tlm_client_close(c, 500), 0, TLM_ETIMEDOUT));
    tlm_client_free(c);
}
END_TEST

/* An allocator that returns what C's malloc promises and no more: memory
 * aligned for max_align_t (16 bytes here), and deliberately never to 32 or
 * 64. The library must not need more (UBSan checks every member access in
 * the asan run of scripts/test). */
#define A16_HDR 16

static void *
a16_malloc(size_t n, void *ud)
{
    char *raw = malloc(n + 64 + 64 + A16_HDR);
    uintptr_t base;
    char *p;

    (void)ud;
    if (raw == NULL)
        return NULL;
    base = ((uintptr_t)raw + 63) & ~(uintptr_t)63;
    p = (char *)base + 64 + A16_HDR; /* 16 mod 64 */
    memcpy(p - A16_HDR, &raw, sizeof(raw));
    memcpy(p - sizeof(size_t), &n, sizeof(n));
    return p;
}

static void
a16_free(void *p, void *ud)
{
    char *raw;

    (void)ud;
    if (p == NULL)
        return;
    memcpy(&raw, (char *)p - A16_HDR, sizeof(raw));
    free(raw);
}

static void *
a16_realloc(void *p, size_t n, void *ud)
{
    size_t old;
    void *q;

    if (p == NULL)
        return a16_malloc(n, ud);
    memcpy(&old, (char *)p - sizeof(size_t), sizeof(old));
    q = a16_malloc(n, ud);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    a16_free(p, ud);
    return q;
}

START_TEST(uninit_allocator_malloc_alignment)
{
    tlm_allocator a;
    tlm_options *o = dead_options();
    tlm_client *c;
    int i;

    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.malloc_fn = a16_malloc;
    a.realloc_fn = a16_realloc;
    a.free_fn = a16_free;
    ck_assert_int_eq(tlm_options_set_allocator(o, &a), 0);
    c = dead_client_with(o);
    tlm_options_free(o);
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(
            tlm_track_request_simple(c, "/v1/x", "GET", 200, 1.0, "u"), 0);
    ck_assert(is_one_of(tlm_client_flush(c, 1000), 0, TLM_ETIMEDOUT));
    ck_assert(is_one_of(tlm_client_close(c, 1000), 0, TLM_ETIMEDOUT));
    assert_all_settled(c);
    tlm_client_free(c);
}
END_TEST

START_TEST(uninit_options_huge_strings)
{
    char *url = huge_string("http://127.0.0.1:1/", 'a', HUGE_LEN);
    char *big = huge_string("", 'k', HUGE_LEN);
    char *doc;
    tlm_options *o = tlm_options_new();
    int rc;

    ck_assert_ptr_nonnull(o);
    /* No length limit is documented: a copy or a refusal, never a crash. */
    rc = tlm_options_set_endpoint(o, url);
    ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "set_endpoint: %d", rc);
    rc = tlm_options_set_api_key(o, big);
    ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "set_api_key: %d", rc);
    rc = tlm_options_set_access_tier(o, big);
    ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "set_access_tier: %d", rc);
    rc = tlm_options_set_binding(o, big);
    ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "set_binding: %d", rc);
    rc = tlm_options_set_ca_bundle(o, big);
    ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "set_ca_bundle: %d", rc);
    ck_assert_int_eq(tlm_options_set_environment(o, big), TLM_EINVAL);
    /* Setting them again frees the previous copies (valgrind checks). */
    rc = tlm_options_set_api_key(o, big);
    ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "set_api_key: %d", rc);

    /* A 10 MiB document: a huge value, then huge garbage, then nesting
     * deeper than any parser should recurse. */
    doc = huge_string("{\"telemetry\":{\"api_key\":\"", 'k', HUGE_LEN);
    memcpy(doc + HUGE_LEN - 3, "\"}}", 3);
    rc = tlm_options_load_string(o, doc);
    ck_assert_msg(is_one_of(rc, 0, TLM_ECONFIG), "load huge value: %d", rc);
    free(doc);
    doc = huge_string("", '\x01', HUGE_LEN);
    ck_assert_int_eq(tlm_options_load_string(o, doc), TLM_ECONFIG);
    ck_assert_str_ne(tlm_options_last_error(o), "");
    free(doc);
    doc = huge_string("", '[', HUGE_LEN);
    ck_assert_int_eq(tlm_options_load_string(o, doc), TLM_ECONFIG);
    free(doc);
    doc = huge_string("{\"telemetry\":{\"", 'u', HUGE_LEN);
    memcpy(doc + HUGE_LEN - 6, "\":1}}", 5);
    doc[HUGE_LEN - 1] = '\0';
    rc = tlm_options_load_string(o, doc);
    ck_assert_msg(is_one_of(rc, 0, TLM_ECONFIG), "load huge key: %d", rc);
    ck_assert_ptr_nonnull(tlm_options_warnings(o));
    free(doc);

    /* A path far beyond PATH_MAX is unreadable, not a crash. */
    ck_assert_int_eq(tlm_options_load_file(o, big), TLM_EIO);
    ck_assert_ptr_nonnull(tlm_options_last_error(o));
    tlm_options_free(o);
    free(url);
    free(big);
}
END_TEST

START_TEST(uninit_options_bad_bytes)
{
    tlm_options *o = tlm_options_new();
    char url[128], doc[256];
    size_t i;
    int rc;

    ck_assert_ptr_nonnull(o);
    for (i = 0; i < N_BAD; i++) {
        const char *bad = bad_strings[i];

        snprintf(url, sizeof(url), "http://%s/", bad);
        rc = tlm_options_set_endpoint(o, url);
        ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "endpoint %zu: %d", i, rc);
        rc = tlm_options_set_api_key(o, bad);
        ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "api_key %zu: %d", i, rc);
        rc = tlm_options_set_access_tier(o, bad);
        ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "tier %zu: %d", i, rc);
        rc = tlm_options_set_binding(o, bad);
        ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "binding %zu: %d", i, rc);
        rc = tlm_options_set_ca_bundle(o, bad);
        ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "ca %zu: %d", i, rc);
        ck_assert_int_eq(tlm_options_set_environment(o, bad), TLM_EINVAL);
        rc = tlm_options_load_file(o, bad);
        ck_assert_msg(
            is_one_of(rc, TLM_EIO, TLM_ECONFIG), "file %zu: %d", i, rc);
        /* Raw bytes inside a JSON document (not valid JSON for the control
         * characters, merely odd for the rest). */
        snprintf(
            doc, sizeof(doc), "{\"telemetry\":{\"access_tier\":\"%s\"}}", bad);
        rc = tlm_options_load_string(o, doc);
        ck_assert_msg(is_one_of(rc, 0, TLM_ECONFIG), "doc %zu: %d", i, rc);
        snprintf(doc, sizeof(doc), "{\"%s\":{\"%s\":1}}", bad, bad);
        rc = tlm_options_load_string(o, doc);
        ck_assert_msg(is_one_of(rc, 0, TLM_ECONFIG), "keys %zu: %d", i, rc);
        ck_assert_ptr_nonnull(tlm_options_warnings(o));
        ck_assert_ptr_nonnull(tlm_options_last_error(o));
    }
    /* Escaped control characters and NUL in keys and values are valid
     * JSON: unknown keys are warnings, not errors. */
    rc = tlm_options_load_string(o,
        "{\"telemetry\":{\"\\u0000\\u0001\\n\":1,"
        "\"access_tier\":\"a\\u0000b\"},\"\\r\\n\":{}}");
    ck_assert_msg(is_one_of(rc, 0, TLM_ECONFIG), "escapes: %d", rc);
    ck_assert_ptr_nonnull(tlm_options_warnings(o));
    tlm_options_free(o);
}
END_TEST

/* The key becomes the line "Authorization: Bearer <key>": a CR or LF in it
 * would end that header and start another one of the caller's choosing
 * (libcurl sends header lines verbatim). Such a key is out of range. */
START_TEST(uninit_options_api_key_header_injection)
{
    static const char *const keys[]
        = {"k\r\nX-Injected: 1", "k\n", "k\r", "k\x01", "\x7f"};
    tlm_options *o = tlm_options_new();
    size_t i;

    ck_assert_ptr_nonnull(o);
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        ck_assert_msg(tlm_options_set_api_key(o, keys[i]) == TLM_EINVAL,
            "api key %zu with a control character accepted", i);
    ck_assert_msg(tlm_options_load_string(
                      o, "{\"telemetry\":{\"api_key\":\"k\\r\\nX: 1\"}}")
            == TLM_ECONFIG,
        "api key with CR LF accepted from a document");
    tlm_options_free(o);
}
END_TEST

START_TEST(uninit_options_load_file_odd_paths)
{
    tlm_options *o = tlm_options_new();
    int rc;

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tlm_options_load_file(o, ""), TLM_EIO);
    ck_assert_int_eq(
        tlm_options_load_file(o, "/nonexistent/telemetry.json"), TLM_EIO);
    ck_assert_str_ne(tlm_options_last_error(o), "");
    /* A device is not a configuration file (it may never end). */
    ck_assert_int_eq(tlm_options_load_file(o, "/dev/null"), TLM_EIO);
    ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "regular"));
    /* A directory is unreadable: TLM_EIO, as documented. */
    rc = tlm_options_load_file(o, "/");
    ck_assert_msg(rc == TLM_EIO, "load_file(\"/\") = %d (%s): %s", rc,
        tlm_strerror(rc), tlm_options_last_error(o));
    tlm_options_free(o);
}
END_TEST

/* ---- client lifecycle ------------------------------------------------- */

START_TEST(uninit_client_new_args)
{
    tlm_options *o = dead_options();
    tlm_client *c = NULL;

    ck_assert_int_eq(tlm_client_new(NULL, o), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_new(NULL, NULL), TLM_EINVAL);
    /* NULL options mean all defaults; nothing queued, so nothing is sent
     * to the default endpoint. */
    ck_assert_int_eq(tlm_client_new(&c, NULL), 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tlm_client_close(c, 1000), 0);
    tlm_client_free(c);
    c = NULL;
    /* The options are copied: freeing them at once is fine. */
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/a", "GET", 200, 1.0, "u"), 0);
    tlm_client_free(c); /* closes with the shutdown timeout */
}
END_TEST

START_TEST(uninit_client_null_handle)
{
    tlm_request r = TLM_REQUEST_INIT;
    tlm_stats s;

    r.endpoint = "/v1/x";
    tlm_stats_init(&s);
    ck_assert_int_eq(tlm_client_flush(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_flush(NULL, UINT32_MAX), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_close(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_set_enabled(NULL, 1), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_set_enabled(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_is_enabled(NULL), 0);
    ck_assert_int_eq(tlm_client_stats(NULL, &s), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_stats(NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_track_request(NULL, &r), TLM_EINVAL);
    ck_assert_int_eq(tlm_track_request(NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_track_request_simple(NULL, "/v1/x", "GET", 200, 1.0, "u"),
        TLM_EINVAL);
    ck_assert_int_eq(
        tlm_track_request_simple(NULL, NULL, NULL, 0, 0.0, NULL), TLM_EINVAL);
    tlm_client_free(NULL);
    tlm_stats_init(NULL);
    tlm_request_init(NULL);
    /* Event accessors outside a hook, with nothing to read. */
    ck_assert_ptr_null(tlm_event_get_string(NULL, "endpoint"));
    ck_assert_ptr_null(tlm_event_get_string(NULL, NULL));
    ck_assert(tlm_event_get_number(NULL, "response_time") == 0.0);
    ck_assert(tlm_event_get_number(NULL, NULL) == 0.0);
    ck_assert_int_eq(tlm_event_set_string(NULL, "user_id", "x"), TLM_EINVAL);
    ck_assert_int_eq(tlm_event_set_string(NULL, NULL, NULL), TLM_EINVAL);
}
END_TEST

START_TEST(uninit_client_bad_arguments)
{
    tlm_client *c = dead_client();
    tlm_request r = TLM_REQUEST_INIT;
    tlm_stats s;

    ck_assert_int_eq(tlm_client_stats(c, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_track_request(c, NULL), TLM_EINVAL);
    /* endpoint is required */
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.endpoint = "";
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.endpoint = "/v1/x";
    r.response_time_ms = -1.0;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.response_time_ms = NAN;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.response_time_ms = INFINITY;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    r.response_time_ms = -INFINITY;
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_track_request_simple(c, NULL, "GET", 200, 1.0, "u"), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "", "GET", 200, 1.0, "u"), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/v1/x", "GET", 200, NAN, "u"), TLM_EINVAL);
    /* Nothing refused was counted as enqueued. */
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 0);
    /* Optional fields may be NULL; odd numbers are the caller's business. */
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/v1/x", NULL, 0, 0.0, NULL), 0);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/v1/x", NULL, INT_MIN, DBL_MAX, NULL), 0);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/v1/x", NULL, INT_MAX, -0.0, NULL), 0);
    /* Any non-zero int is "on". */
    ck_assert_int_eq(tlm_client_set_enabled(c, -1), 0);
    ck_assert_int_eq(tlm_client_is_enabled(c), 1);
    ck_assert_int_eq(tlm_client_set_enabled(c, INT_MAX), 0);
    ck_assert_int_eq(tlm_client_is_enabled(c), 1);
    ck_assert_int_eq(tlm_client_set_enabled(c, 0), 0);
    ck_assert_int_eq(tlm_client_is_enabled(c), 0);
    ck_assert_int_eq(tlm_track_request_simple(c, "/v1/x", NULL, 200, 1.0, NULL),
        TLM_EDISABLED);
    ck_assert_int_eq(tlm_client_set_enabled(c, 1), 0);
    /* Deadlines at both ends of the range return, whatever they say. */
    ck_assert(is_one_of(tlm_client_flush(c, 0), 0, TLM_ETIMEDOUT));
    ck_assert(is_one_of(tlm_client_close(c, 1000), 0, TLM_ETIMEDOUT));
    assert_settled_but(c, 1); /* the one call refused while disabled */
    tlm_client_free(c);
}
END_TEST

START_TEST(uninit_client_empty_long_deadlines)
{
    tlm_client *c = dead_client();

    /* Nothing to do: a deadline of 49 days must not be waited for. */
    ck_assert_int_eq(tlm_client_flush(c, UINT32_MAX), 0);
    ck_assert_int_eq(tlm_client_close(c, UINT32_MAX), 0);
    tlm_client_free(c);
}
END_TEST

START_TEST(uninit_errors_null_and_closed)
{
    tlm_client *c = dead_client();
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    tlm_request r = TLM_REQUEST_INIT;
    int rc;

    tlm_error_event_init(NULL);
    ck_assert_int_eq(tlm_capture_error(NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_capture_error(NULL, &e), TLM_EINVAL);
    ck_assert_int_eq(tlm_capture_error(c, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL); /* no message */
    ck_assert_int_eq(tlm_track_request_error(NULL, &r, &e), TLM_EINVAL);
    ck_assert_int_eq(tlm_track_request_error(c, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_error_sampling_rate(NULL, 1.0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_stack_frames(NULL, 8), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_stack_bytes(NULL, 4096), TLM_EINVAL);
    e.error_message = "m";
    r.endpoint = "/v1/x";
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    rc = tlm_client_close(c, 200);
    ck_assert(is_one_of(rc, 0, TLM_ETIMEDOUT));
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_ECLOSED);
    ck_assert_int_eq(tlm_track_request_error(c, &r, &e), TLM_ECLOSED);
    tlm_client_free(c);
}
END_TEST

START_TEST(uninit_closed_client)
{
    tlm_client *c = dead_client();
    tlm_request r = TLM_REQUEST_INIT;
    tlm_stats s;
    int rc;

    r.endpoint = "/v1/x";
    ck_assert_int_eq(tlm_track_request(c, &r), 0);
    rc = tlm_client_close(c, 200);
    ck_assert(is_one_of(rc, 0, TLM_ETIMEDOUT));
    /* Closed, not yet freed: every call answers, nothing is queued. */
    ck_assert_int_eq(tlm_track_request(c, &r), TLM_ECLOSED);
    ck_assert_int_eq(tlm_track_request_simple(c, "/v1/x", "GET", 200, 1.0, "u"),
        TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_flush(c, 0), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_flush(c, 100), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_close(c, 0), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_close(c, 100), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_set_enabled(c, 1), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_set_enabled(c, 0), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_is_enabled(c), 0);
    /* Bad arguments on a closed client: either error is documented. */
    ck_assert(is_one_of(tlm_track_request(c, NULL), TLM_EINVAL, TLM_ECLOSED));
    ck_assert(is_one_of(tlm_track_request_simple(c, NULL, NULL, 0, -1.0, NULL),
        TLM_EINVAL, TLM_ECLOSED));
    ck_assert_int_eq(tlm_client_stats(c, NULL), TLM_EINVAL);
    /* Stats still work and add up. */
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 1);
    assert_all_settled(c);
    tlm_client_free(c);
}
END_TEST

/* ---- versioned structs of the wrong size ------------------------------ */

static int uninit_callback_calls;

static void
uninit_callback(int rc, const tlm_response *r, void *ud)
{
    (void)rc;
    (void)r;
    (void)ud;
    uninit_callback_calls++; /* the worker thread; read after close */
}

/* Every feedback / feature-request call with what no caller should pass:
 * NULL handles and arguments, wrong struct sizes, a closed client. */
static void
assert_feedback_calls_refused(tlm_client *c, int expect)
{
    tlm_feedback f = TLM_FEEDBACK_INIT;
    tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
    tlm_feature_query q = TLM_FEATURE_QUERY_INIT;
    tlm_reply r;

    f.type = TLM_FEEDBACK_GENERAL;
    f.content = "c";
    fr.title = "t";
    tlm_reply_init(&r);
    ck_assert_int_eq(tlm_feedback_submit(c, &f, uninit_callback, NULL), expect);
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), expect);
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 100, &r), expect);
    ck_assert_ptr_null(r.body);
    ck_assert_int_eq(tlm_feedback_get(c, "id", uninit_callback, NULL), expect);
    ck_assert_int_eq(tlm_feedback_get_wait(c, "id", 100, &r), expect);
    ck_assert_int_eq(
        tlm_feature_request_submit(c, &fr, uninit_callback, NULL), expect);
    ck_assert_int_eq(tlm_feature_request_submit_wait(c, &fr, 100, &r), expect);
    ck_assert_int_eq(
        tlm_feature_requests_list(c, &q, uninit_callback, NULL), expect);
    ck_assert_int_eq(tlm_feature_requests_list(c, NULL, NULL, NULL), expect);
    ck_assert_int_eq(tlm_feature_requests_list_wait(c, &q, 100, &r), expect);
    ck_assert_int_eq(
        tlm_feature_request_vote(c, "id", "u", uninit_callback, NULL), expect);
    ck_assert_int_eq(
        tlm_feature_request_vote_wait(c, "id", "u", 100, &r), expect);
    ck_assert_int_eq(
        tlm_feature_request_unvote(c, "id", "u", NULL, NULL), expect);
    ck_assert_int_eq(
        tlm_feature_request_unvote_wait(c, "id", "u", 100, &r), expect);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(r.body);
    ck_assert_ptr_null(r.id);
    tlm_reply_free(&r);
}

START_TEST(uninit_feedback_null_and_closed)
{
    tlm_client *c = dead_client();
    tlm_feedback f = TLM_FEEDBACK_INIT;
    tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
    tlm_feature_query q = TLM_FEATURE_QUERY_INIT;
    tlm_reply r, small;
    char *huge;

    uninit_callback_calls = 0;
    assert_feedback_calls_refused(NULL, TLM_EINVAL);
    tlm_feedback_init(NULL);
    tlm_feature_request_init(NULL);
    tlm_feature_query_init(NULL);
    tlm_reply_init(NULL);
    tlm_reply_free(NULL);
    tlm_reply_init(&r);
    tlm_reply_free(&r);
    tlm_reply_free(&r); /* twice: still a no-op */
    ck_assert_uint_eq(r.size, sizeof(r));
    /* NULL arguments and wrong sizes on an open client. */
    ck_assert_int_eq(tlm_feedback_submit(c, NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), TLM_EINVAL);
    f.type = TLM_FEEDBACK_ISSUE;
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), TLM_EINVAL);
    f.content = "   \n";
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), TLM_EINVAL);
    f.content = "c";
    f.rating = -1;
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), TLM_EINVAL);
    f.rating = 0;
    f.context_json = "{\"unterminated\":";
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), TLM_EINVAL);
    f.context_json = NULL;
    f.size = sizeof(f) - 1;
    ck_assert_int_eq(tlm_feedback_submit(c, &f, NULL, NULL), TLM_EINVAL);
    f.size = sizeof(f);
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 100, NULL), TLM_EINVAL);
    small.size = sizeof(small) - 1;
    ck_assert_int_eq(tlm_feedback_submit_wait(c, &f, 100, &small), TLM_EINVAL);
    ck_assert_int_eq(tlm_feedback_get(c, NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_feedback_get(c, "", NULL, NULL), TLM_EINVAL);
    huge = malloc(HUGE_LEN + 1);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'a', HUGE_LEN);
    huge[HUGE_LEN] = '\0';
    ck_assert_int_eq(tlm_feedback_get(c, huge, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_feature_request_vote(c, huge, "u", NULL, NULL), TLM_EINVAL);
    free(huge);
    ck_assert_int_eq(
        tlm_feature_request_submit(c, NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_feature_request_submit(c, &fr, NULL, NULL), TLM_EINVAL);
    fr.title = "t";
    fr.size = 0;
    ck_assert_int_eq(
        tlm_feature_request_submit(c, &fr, NULL, NULL), TLM_EINVAL);
    q.limit = 101;
    ck_assert_int_eq(tlm_feature_requests_list(c, &q, NULL, NULL), TLM_EINVAL);
    q.limit = 0;
    q.sort = "";
    ck_assert_int_eq(tlm_feature_requests_list(c, &q, NULL, NULL), TLM_EINVAL);
    q.sort = NULL;
    q.size = 1;
    ck_assert_int_eq(tlm_feature_requests_list(c, &q, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_feature_request_vote(c, NULL, "u", NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_feature_request_vote(c, "id", NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_feature_request_unvote(c, "id", "", NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(uninit_callback_calls, 0);
    /* Accepted on a dead endpoint, then closed: answered exactly once. */
    ck_assert_int_eq(
        tlm_feedback_get(c, "id \n/?#%", uninit_callback, NULL), 0);
    ck_assert(is_one_of(tlm_client_close(c, 200), 0, TLM_ETIMEDOUT));
    ck_assert_int_eq(uninit_callback_calls, 1);
    assert_feedback_calls_refused(c, TLM_ECLOSED);
    ck_assert_int_eq(uninit_callback_calls, 1);
    tlm_client_free(c);
}
END_TEST

START_TEST(uninit_request_wrong_size)
{
    static const size_t sizes[] = {0, 1, sizeof(size_t),
        sizeof(tlm_request) - 1, sizeof(tlm_request) + 1,
        sizeof(tlm_request) * 2, SIZE_MAX / 2, SIZE_MAX};
    tlm_client *c = dead_client();
    tlm_request r;
    tlm_stats s;
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        tlm_request_init(&r);
        r.endpoint = "/v1/x";
        r.size = sizes[i];
        ck_assert_msg(tlm_track_request(c, &r) == TLM_EINVAL,
            "size %zu accepted", sizes[i]);
    }
    tlm_request_init(&r);
    ck_assert_uint_eq(r.size, sizeof(tlm_request));
    ck_assert_ptr_null(r.endpoint);
    s = stats_of(c);
    ck_assert_uint_eq(s.enqueued, 0);
    tlm_client_free(c);
}
END_TEST

#define CANARY 0xA5

/* tlm_client_stats() with stats->size = `size` into a buffer bigger than
 * tlm_stats; returns its result and the number of bytes it changed past
 * `size` (must be 0). */
static int
stats_into(const tlm_client *c, size_t size, size_t *written_past)
{
    union {
        tlm_stats s;
        unsigned char b[sizeof(tlm_stats) + 64];
    } u;
    size_t i, limit = size < sizeof(tlm_stats) ? size : sizeof(tlm_stats);
    int rc;

    memset(u.b, CANARY, sizeof(u.b));
    u.s.size = size;
    rc = tlm_client_stats(c, &u.s);
    *written_past = 0;
    if (limit < sizeof(size_t))
        limit = sizeof(size_t);
    for (i = limit; i < sizeof(u.b); i++)
        if (u.b[i] != CANARY)
            (*written_past)++;
    if (rc != 0) {
        /* Refused: nothing at all was written. */
        for (i = sizeof(size_t); i < limit; i++)
            if (u.b[i] != CANARY)
                (*written_past)++;
    }
    return rc;
}

START_TEST(uninit_stats_wrong_size)
{
    tlm_client *c = dead_client();
    size_t past, first = offsetof(tlm_stats, enqueued) + sizeof(uint64_t);
    int rc;

    ck_assert_int_eq(
        tlm_track_request_simple(c, "/a", NULL, 200, 1.0, NULL), 0);
    /* Too small to hold even the first counter: refused, untouched. */
    ck_assert_int_eq(stats_into(c, 0, &past), TLM_EINVAL);
    ck_assert_uint_eq(past, 0);
    ck_assert_int_eq(stats_into(c, 1, &past), TLM_EINVAL);
    ck_assert_uint_eq(past, 0);
    ck_assert_int_eq(stats_into(c, sizeof(size_t), &past), TLM_EINVAL);
    ck_assert_uint_eq(past, 0);
    ck_assert_int_eq(stats_into(c, first - 1, &past), TLM_EINVAL);
    ck_assert_uint_eq(past, 0);
    /* An older, smaller struct gets exactly the fields it knows. */
    ck_assert_int_eq(stats_into(c, first, &past), 0);
    ck_assert_uint_eq(past, 0);
    ck_assert_int_eq(
        stats_into(c, offsetof(tlm_stats, dropped_disabled), &past), 0);
    ck_assert_uint_eq(past, 0);
    /* A newer, larger struct (or garbage): only what this version knows is
     * written, never past sizeof(tlm_stats). */
    rc = stats_into(c, sizeof(tlm_stats) + 8, &past);
    ck_assert(is_one_of(rc, 0, TLM_EINVAL));
    ck_assert_uint_eq(past, 0);
    rc = stats_into(c, SIZE_MAX, &past);
    ck_assert(is_one_of(rc, 0, TLM_EINVAL));
    ck_assert_uint_eq(past, 0);
    tlm_client_free(c);
}
END_TEST

/* ---- huge strings and bad bytes through the whole pipeline ------------ */

START_TEST(uninit_track_huge_strings)
{
    char *big = huge_string("/", 'e', HUGE_LEN);
    char *json = huge_json_object(HUGE_LEN);
    tlm_client *c = dead_client();
    tlm_request r = TLM_REQUEST_INIT;
    int rc, i;

    /* One huge field at a time, then all of them in one event. */
    for (i = 0; i < 7; i++) {
        tlm_request_init(&r);
        r.endpoint = i == 0 || i == 6 ? big : "/v1/x";
        r.method = i == 1 || i == 6 ? big : "GET";
        r.user_id = i == 2 || i == 6 ? big : "u";
        r.organization_id = i == 3 || i == 6 ? big : "o";
        r.access_tier = i == 4 || i == 6 ? big : NULL;
        r.request_details = i == 5 || i == 6 ? json : NULL;
        rc = tlm_track_request(c, &r);
        ck_assert_msg(is_one_of(rc, 0, TLM_ENOMEM), "event %d: %d", i, rc);
    }
    rc = tlm_track_request_simple(c, big, big, 200, 1.0, big);
    ck_assert_msg(is_one_of(rc, 0, TLM_ENOMEM), "simple: %d", rc);
    /* The strings were copied: the caller may reuse its buffers at once. */
    memset(big + 1, 'X', HUGE_LEN - 1);
    free(json);
    rc = tlm_client_close(c, 10000);
    ck_assert(is_one_of(rc, 0, TLM_ETIMEDOUT));
    assert_all_settled(c);
    tlm_client_free(c);
    free(big);
}
END_TEST

START_TEST(uninit_track_bad_bytes)
{
    tlm_client *c = dead_client();
    tlm_request r = TLM_REQUEST_INIT;
    char details[128];
    size_t i;
    int rc;

    for (i = 0; i < N_BAD; i++) {
        const char *bad = bad_strings[i];

        snprintf(details, sizeof(details), "{\"k\":\"%s\"}", bad);
        tlm_request_init(&r);
        r.endpoint = bad;
        r.method = bad;
        r.user_id = bad;
        r.organization_id = bad;
        r.access_tier = bad;
        r.request_details = i % 2 ? bad : details;
        rc = tlm_track_request(c, &r);
        ck_assert_msg(rc == 0, "string %zu: %d", i, rc);
        rc = tlm_track_request_simple(c, bad, bad, 200, 1.0, bad);
        ck_assert_msg(rc == 0, "simple %zu: %d", i, rc);
    }
    /* The worker encodes them (as U+FFFD and escapes) and fails to send. */
    ck_assert(is_one_of(tlm_client_flush(c, 2000), 0, TLM_ETIMEDOUT));
    ck_assert(is_one_of(tlm_client_close(c, 2000), 0, TLM_ETIMEDOUT));
    assert_all_settled(c);
    tlm_client_free(c);
}
END_TEST

/* ---- the before-send hook: event accessors with bad arguments --------- */

struct hook_ctx {
    tlm_client *client;
    char *huge;
    atomic_int calls;
    atomic_int failures;
    char first_failure[160];
};

static void
hook_fail(struct hook_ctx *h, const char *what, long got)
{
    if (atomic_fetch_add(&h->failures, 1) == 0)
        snprintf(h->first_failure, sizeof(h->first_failure), "%s: got %ld",
            what, got);
}

#define HOOK_EXPECT(h, cond, what, got)                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            hook_fail((h), (what), (long)(got));                               \
    } while (0)

static tlm_hook_result
abusive_hook(tlm_event *ev, void *userdata)
{
    static const char *const fields[]
        = {"type", "id", "endpoint", "method", "user_id", "organization_id",
            "access_tier", "environment", "request_details", "", "nope",
            "response_status", "ENDPOINT", "endpoint\n"};
    struct hook_ctx *h = userdata;
    size_t i;
    int rc;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = tlm_event_get_string(ev, fields[i]);

        if (v != NULL)
            (void)strlen(v); /* readable and terminated (ASan/valgrind) */
        (void)tlm_event_get_number(ev, fields[i]);
    }
    HOOK_EXPECT(h, tlm_event_get_string(ev, "type") != NULL, "type", 0);
    HOOK_EXPECT(h, tlm_event_get_string(ev, "id") != NULL, "id", 0);
    HOOK_EXPECT(h, tlm_event_get_string(ev, NULL) == NULL, "get NULL", 1);
    HOOK_EXPECT(h, tlm_event_get_number(ev, NULL) == 0.0, "number NULL", 1);
    HOOK_EXPECT(h, tlm_event_get_number(ev, "nope") == 0.0, "number nope", 1);

    rc = tlm_event_set_string(ev, NULL, "x");
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set NULL field", rc);
    rc = tlm_event_set_string(ev, "type", "error");
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set type", rc);
    rc = tlm_event_set_string(ev, "id", "x");
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set id", rc);
    rc = tlm_event_set_string(ev, "nope", "x");
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set unknown", rc);
    rc = tlm_event_set_string(ev, "", "x");
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set empty name", rc);
    rc = tlm_event_set_string(ev, "environment", "staging");
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set environment staging", rc);
    rc = tlm_event_set_string(ev, "environment", NULL);
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set environment NULL", rc);
    rc = tlm_event_set_string(ev, "endpoint", NULL);
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set endpoint NULL", rc);
    rc = tlm_event_set_string(ev, "endpoint", "");
    HOOK_EXPECT(h, rc == TLM_EINVAL, "set endpoint empty", rc);
    /* Valid edits with bad bytes and a huge value, set twice (the first
     * copy must be freed), and an optional field removed. */
    for (i = 0; i < 2; i++) {
        rc = tlm_event_set_string(ev, "method", bad_strings[i]);
        HOOK_EXPECT(h, rc == 0, "set method bad bytes", rc);
        rc = tlm_event_set_string(ev, "request_details", h->huge);
        HOOK_EXPECT(h, is_one_of(rc, 0, TLM_ENOMEM), "set huge details", rc);
        rc = tlm_event_set_string(ev, "user_id", NULL);
        HOOK_EXPECT(h, rc == 0, "remove user_id", rc);
    }
    HOOK_EXPECT(h, tlm_event_get_string(ev, "user_id") == NULL,
        "user_id after removal", 1);
    /* The worker thread may not wait for itself. */
    rc = tlm_client_flush(h->client, 100);
    HOOK_EXPECT(h, rc == TLM_EINVAL, "flush from the hook", rc);
    rc = tlm_client_close(h->client, 100);
    HOOK_EXPECT(h, rc == TLM_EINVAL, "close from the hook", rc);
    atomic_fetch_add(&h->calls, 1);
    return TLM_HOOK_KEEP;
}

START_TEST(uninit_hook_bad_arguments)
{
    struct hook_ctx h;
    tlm_options *o = dead_options();
    tlm_client *c;
    int i;

    memset(&h, 0, sizeof(h));
    atomic_init(&h.calls, 0);
    atomic_init(&h.failures, 0);
    h.huge = huge_json_object(HUGE_LEN);
    ck_assert_int_eq(tlm_options_set_before_send(o, abusive_hook, &h), 0);
    c = dead_client_with(o);
    tlm_options_free(o);
    h.client = c;
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(
            tlm_track_request_simple(c, "/v1/x", "GET", 200, 1.0, "u"), 0);
    /* flush wakes the worker, which runs the hook before sending. */
    ck_assert(is_one_of(tlm_client_flush(c, 5000), 0, TLM_ETIMEDOUT));
    ck_assert(is_one_of(tlm_client_close(c, 5000), 0, TLM_ETIMEDOUT));
    ck_assert_int_eq(atomic_load(&h.calls), 3);
    ck_assert_msg(atomic_load(&h.failures) == 0, "%d failures, first: %s",
        atomic_load(&h.failures), h.first_failure);
    assert_all_settled(c);
    tlm_client_free(c);
    free(h.huge);
}
END_TEST

static Suite *
uninit_suite(void)
{
    Suite *s = suite_create("uninit");
    TCase *tc = tcase_create("core");
    TCase *big = tcase_create("huge");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, uninit_version_and_strerror);
    tcase_add_test(tc, uninit_options_null_handle);
    tcase_add_test(tc, uninit_options_null_values);
    tcase_add_test(tc, uninit_options_out_of_range);
    tcase_add_test(tc, uninit_options_allocator_wrong);
    tcase_add_test(tc, uninit_allocator_malloc_alignment);
    tcase_add_test(tc, uninit_options_bad_bytes);
    tcase_add_test(tc, uninit_options_api_key_header_injection);
    tcase_add_test(tc, uninit_options_load_file_odd_paths);
    tcase_add_test(tc, uninit_client_new_args);
    tcase_add_test(tc, uninit_client_null_handle);
    tcase_add_test(tc, uninit_client_bad_arguments);
    tcase_add_test(tc, uninit_client_empty_long_deadlines);
    tcase_add_test(tc, uninit_closed_client);
    tcase_add_test(tc, uninit_errors_null_and_closed);
    tcase_add_test(tc, uninit_feedback_null_and_closed);
    tcase_add_test(tc, uninit_request_wrong_size);
    tcase_add_test(tc, uninit_stats_wrong_size);
    tcase_add_test(tc, uninit_track_bad_bytes);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    /* 10 MiB strings are slow under valgrind: their own, longer timeout. */
    tcase_add_checked_fixture(big, setup, NULL);
    tcase_add_test(big, uninit_options_huge_strings);
    tcase_add_test(big, uninit_track_huge_strings);
    tcase_add_test(big, uninit_hook_bad_arguments);
    tcase_set_timeout(big, 240);
    suite_add_tcase(s, big);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(uninit_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
