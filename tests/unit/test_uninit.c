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
#include "rm_rf.h"
#include "telemetry.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
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

/* Close and free called from the client's own callback (the worker
 * thread): refused (TLM_EINVAL) and ignored, never an abort; the client
 * still works and is freed from the main thread. */
static tlm_client *self_client;
static atomic_int self_calls, self_close_rc;

static tlm_hook_result
free_self_hook(tlm_event *ev, void *data)
{
    (void)ev;
    (void)data;
    atomic_store(&self_close_rc, tlm_client_close(self_client, 0));
    tlm_client_free(self_client); /* ignored: logged */
    atomic_fetch_add(&self_calls, 1);
    return TLM_HOOK_KEEP;
}

START_TEST(uninit_free_from_own_callback)
{
    tlm_options *o = dead_options();

    atomic_store(&self_calls, 0);
    atomic_store(&self_close_rc, 1);
    ck_assert_int_eq(tlm_options_set_before_send(o, free_self_hook, NULL), 0);
    ck_assert_int_eq(tlm_client_new(&self_client, o), 0);
    tlm_options_free(o);
    ck_assert_int_eq(
        tlm_track_request_simple(self_client, "/x", "GET", 200, 1.0, "u"), 0);
    (void)tlm_client_flush(self_client, 300);
    ck_assert_int_eq(atomic_load(&self_calls), 1);
    ck_assert_int_eq(atomic_load(&self_close_rc), TLM_EINVAL);
    /* Still open and usable. */
    ck_assert_int_eq(tlm_client_is_enabled(self_client), 1);
    ck_assert_int_eq(
        tlm_track_request_simple(self_client, "/y", "GET", 200, 1.0, "u"), 0);
    tlm_client_free(self_client);
    self_client = NULL;
}
END_TEST

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

/* ---- privacy, sampling, state, consent and spool options -------------- */

/* What a string option answers for s (docs/c-api.md, "Setters"): at most
 * 8192 bytes, no byte below 0x20 nor 0x7f; UTF-8 validity is not checked,
 * so invalid UTF-8 without control characters is stored as given. */
static int
string_option_expect(const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return TLM_EINVAL;
    return strlen(s) > 8192 || *s == '\0' ? TLM_EINVAL : 0;
}

/* rc must be TLM_EINVAL and the object's last error must name `what`. */
#define ASSERT_EINVAL_NAMED(o, call, what)                                     \
    do {                                                                       \
        int rc_ = (call);                                                      \
        ck_assert_msg(rc_ == TLM_EINVAL, "%s: %d", #call, rc_);                \
        ck_assert_msg(strstr(tlm_options_last_error(o), (what)) != NULL,       \
            "%s: last error '%s' does not name %s", #call,                     \
            tlm_options_last_error(o), (what));                                \
    } while (0)

typedef int (*string_setter)(tlm_options *, const char *);

/* The optional string options of the privacy and spool layers: NULL
 * restores the default, "" is refused. */
static const struct {
    const char *key;
    string_setter set;
} optional_strings[] = {
    {"anonymization_salt", tlm_options_set_anonymization_salt},
    {"request_details_allowlist", tlm_options_set_details_allowlist},
    {"state_dir", tlm_options_set_state_dir},
    {"spool_dir", tlm_options_set_spool_dir},
};
#define N_OPTIONAL_STRINGS                                                     \
    (sizeof(optional_strings) / sizeof(optional_strings[0]))

/* Rates documented as "in (0, 1]". */
static const double bad_rates[] = {0.0, -0.0, -1.0, -DBL_MIN, 1.0000001, 2.0,
    DBL_MAX, NAN, INFINITY, -INFINITY};
static const double good_rates[] = {DBL_MIN, 0.001, 0.5, 1.0};
#define N_BAD_RATES (sizeof(bad_rates) / sizeof(bad_rates[0]))
#define N_GOOD_RATES (sizeof(good_rates) / sizeof(good_rates[0]))

START_TEST(uninit_privacy_options_null_handle)
{
    size_t i;

    for (i = 0; i < N_OPTIONAL_STRINGS; i++) {
        ck_assert_int_eq(optional_strings[i].set(NULL, "x"), TLM_EINVAL);
        ck_assert_int_eq(optional_strings[i].set(NULL, NULL), TLM_EINVAL);
    }
    ck_assert_int_eq(
        tlm_options_set_anonymization_salt(NULL, "salt"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_anonymization(NULL, 1, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_anonymization(NULL, 0, 1), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_scrubbing(NULL, 1), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_scrubbing(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_add_scrub_pattern(NULL, "n", "[0-9]+"), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_add_scrub_pattern(NULL, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_details_allowlist(NULL, "method"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_sampling_rate(NULL, 0.5), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_sampling_rate(NULL, NAN), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_sampling_override(NULL, "/a", 0.5), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_sampling_override(NULL, NULL, 0.5), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_sampling_mode(NULL, TLM_SAMPLE_BY_USER), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_state_dir(NULL, "/tmp"), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_require_consent(NULL, 1), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_require_consent(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_spool_dir(NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_spool_max_bytes(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_spool_fsync(NULL, -1), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_options_set_error_sampling_rate(NULL, NAN), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_stack_frames(NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm_options_set_max_stack_bytes(NULL, 0), TLM_EINVAL);
}
END_TEST

START_TEST(uninit_privacy_options_strings)
{
    char *limit = huge_string("", 's', 8192);
    char *over = huge_string("", 's', 8193);
    tlm_options *o = tlm_options_new();
    size_t i, j;
    int rc;

    ck_assert_ptr_nonnull(o);
    for (i = 0; i < N_OPTIONAL_STRINGS; i++) {
        const char *key = optional_strings[i].key;
        string_setter set = optional_strings[i].set;

        ck_assert_int_eq(set(o, NULL), 0);
        ASSERT_EINVAL_NAMED(o, set(o, ""), key);
        ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "non-empty"));
        ck_assert_int_eq(set(o, limit), 0);
        ASSERT_EINVAL_NAMED(o, set(o, over), key);
        ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), "8192"));
        for (j = 0; j < N_BAD; j++) {
            rc = set(o, bad_strings[j]);
            ck_assert_msg(rc == string_option_expect(bad_strings[j]),
                "%s, string %zu: %d", key, j, rc);
            if (rc != 0)
                ck_assert_ptr_nonnull(strstr(tlm_options_last_error(o), key));
        }
        ck_assert_int_eq(set(o, NULL), 0); /* frees the last copy */
    }
    /* The endpoint of a sampling override is a string option too. */
    ck_assert_int_eq(tlm_options_set_sampling_override(o, limit, 0.5), 0);
    ASSERT_EINVAL_NAMED(o, tlm_options_set_sampling_override(o, over, 0.5),
        "sampling_overrides");
    for (j = 0; j < N_BAD; j++) {
        rc = tlm_options_set_sampling_override(o, bad_strings[j], 0.5);
        ck_assert_msg(rc == string_option_expect(bad_strings[j]),
            "override, string %zu: %d", j, rc);
    }
    tlm_options_free(o);
    free(limit);
    free(over);
}
END_TEST

START_TEST(uninit_privacy_options_out_of_range)
{
    tlm_options *o = tlm_options_new();
    size_t i;

    ck_assert_ptr_nonnull(o);
    /* Anonymization off needs the acknowledgement; any non-zero is on. */
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_anonymization(o, 0, 0), "acknowledged");
    ck_assert_int_eq(tlm_options_set_anonymization(o, 0, 1), 0);
    ck_assert_int_eq(tlm_options_set_anonymization(o, 0, INT_MIN), 0);
    ck_assert_int_eq(tlm_options_set_anonymization(o, INT_MIN, 0), 0);
    ck_assert_int_eq(tlm_options_set_anonymization(o, 1, 0), 0);
    ck_assert_int_eq(tlm_options_set_scrubbing(o, 0), 0);
    ck_assert_int_eq(tlm_options_set_scrubbing(o, INT_MIN), 0);
    ck_assert_int_eq(tlm_options_set_scrubbing(o, 1), 0);
    ck_assert_int_eq(tlm_options_set_require_consent(o, INT_MAX), 0);
    ck_assert_int_eq(tlm_options_set_require_consent(o, 0), 0);
    /* Rates: (0, 1], NaN and infinities refused. */
    for (i = 0; i < N_BAD_RATES; i++) {
        ASSERT_EINVAL_NAMED(
            o, tlm_options_set_sampling_rate(o, bad_rates[i]), "sampling_rate");
        ASSERT_EINVAL_NAMED(o,
            tlm_options_set_error_sampling_rate(o, bad_rates[i]),
            "error_sampling_rate");
        ASSERT_EINVAL_NAMED(o,
            tlm_options_set_sampling_override(o, "/v1/x", bad_rates[i]),
            "sampling_overrides");
    }
    for (i = 0; i < N_GOOD_RATES; i++) {
        ck_assert_int_eq(tlm_options_set_sampling_rate(o, good_rates[i]), 0);
        ck_assert_int_eq(
            tlm_options_set_error_sampling_rate(o, good_rates[i]), 0);
        ck_assert_int_eq(
            tlm_options_set_sampling_override(o, "/v1/x", good_rates[i]), 0);
    }
    ASSERT_EINVAL_NAMED(o, tlm_options_set_sampling_override(o, NULL, 0.5),
        "sampling_overrides");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_sampling_override(o, "", 0.5), "sampling_overrides");
    /* Sampling modes and fsync policies are closed sets. */
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_sampling_mode(o, -1), "sampling_mode");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_sampling_mode(o, 2), "sampling_mode");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_sampling_mode(o, INT_MIN), "sampling_mode");
    ck_assert_int_eq(tlm_options_set_sampling_mode(o, TLM_SAMPLE_BY_USER), 0);
    ck_assert_int_eq(tlm_options_set_sampling_mode(o, TLM_SAMPLE_RANDOM), 0);
    ASSERT_EINVAL_NAMED(o, tlm_options_set_spool_fsync(o, -1), "spool_fsync");
    ASSERT_EINVAL_NAMED(o, tlm_options_set_spool_fsync(o, 3), "spool_fsync");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_spool_fsync(o, INT_MAX), "spool_fsync");
    ck_assert_int_eq(tlm_options_set_spool_fsync(o, TLM_FSYNC_ALWAYS), 0);
    ck_assert_int_eq(tlm_options_set_spool_fsync(o, TLM_FSYNC_NEVER), 0);
    ck_assert_int_eq(tlm_options_set_spool_fsync(o, TLM_FSYNC_BATCH), 0);
    /* Spool cap: 4096 bytes .. 1 TiB. */
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_spool_max_bytes(o, 0), "spool_max_bytes");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_spool_max_bytes(o, 4095), "spool_max_bytes");
    ASSERT_EINVAL_NAMED(o,
        tlm_options_set_spool_max_bytes(o, ((uint64_t)1 << 40) + 1),
        "spool_max_bytes");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_spool_max_bytes(o, UINT64_MAX), "spool_max_bytes");
    ck_assert_int_eq(tlm_options_set_spool_max_bytes(o, 4096), 0);
    ck_assert_int_eq(tlm_options_set_spool_max_bytes(o, (uint64_t)1 << 40), 0);
    /* Stack caps: frames 1 .. 256, bytes 1024 .. 65536. */
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_max_stack_frames(o, 0), "max_stack_frames");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_max_stack_frames(o, 257), "max_stack_frames");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_max_stack_frames(o, UINT32_MAX), "max_stack_frames");
    ck_assert_int_eq(tlm_options_set_max_stack_frames(o, 1), 0);
    ck_assert_int_eq(tlm_options_set_max_stack_frames(o, 256), 0);
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_max_stack_bytes(o, 0), "max_stack_bytes");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_max_stack_bytes(o, 1023), "max_stack_bytes");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_max_stack_bytes(o, 65537), "max_stack_bytes");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_set_max_stack_bytes(o, UINT32_MAX), "max_stack_bytes");
    ck_assert_int_eq(tlm_options_set_max_stack_bytes(o, 1024), 0);
    ck_assert_int_eq(tlm_options_set_max_stack_bytes(o, 65536), 0);
    tlm_options_free(o);
}
END_TEST

START_TEST(uninit_scrub_patterns)
{
    static const char *const bad_names[]
        = {"", "Upper", "a-b", "a b", "a.b", "\xc3\xa9", "tab\t", "\xff"};
    static const char *const bad_regexes[] = {"(", "[z-a]", "a{2,1}", "\\"};
    char name[40];
    char *huge;
    tlm_options *o = tlm_options_new();
    size_t i;
    int rc;

    ck_assert_ptr_nonnull(o);
    ASSERT_EINVAL_NAMED(
        o, tlm_options_add_scrub_pattern(o, NULL, "x"), "scrub_patterns");
    ASSERT_EINVAL_NAMED(
        o, tlm_options_add_scrub_pattern(o, "n", NULL), "scrub_patterns");
    for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        ck_assert_msg(
            tlm_options_add_scrub_pattern(o, bad_names[i], "x") == TLM_EINVAL,
            "name %zu accepted", i);
    /* Names are 1..31 characters. */
    memset(name, 'n', sizeof(name));
    name[32] = '\0';
    ck_assert_int_eq(tlm_options_add_scrub_pattern(o, name, "x"), TLM_EINVAL);
    name[31] = '\0';
    ck_assert_int_eq(tlm_options_add_scrub_pattern(o, name, "x"), 0);
    /* A pattern that does not compile: TLM_EINVAL, the regex error named. */
    for (i = 0; i < sizeof(bad_regexes) / sizeof(bad_regexes[0]); i++) {
        ASSERT_EINVAL_NAMED(o,
            tlm_options_add_scrub_pattern(o, "re", bad_regexes[i]),
            "scrub_patterns.re");
    }
    /* A huge name is no name. A pattern is at most 8192 bytes (glibc's
     * regcomp needs about 2 GB and 25 s for 10 MiB). */
    huge = huge_string("", 'n', HUGE_LEN);
    ck_assert_int_eq(tlm_options_add_scrub_pattern(o, huge, "x"), TLM_EINVAL);
    huge[(size_t)64 << 10] = '\0';
    ASSERT_EINVAL_NAMED(o, tlm_options_add_scrub_pattern(o, "long", huge),
        "scrub_patterns.long: longer than 8192 bytes");
    huge[8193] = '\0';
    ASSERT_EINVAL_NAMED(o, tlm_options_add_scrub_pattern(o, "long", huge),
        "scrub_patterns.long");
    huge[8192] = '\0';
    ck_assert_int_eq(tlm_options_add_scrub_pattern(o, "long", huge), 0);
    free(huge);
    /* Odd bytes in a pattern: it compiles (bytes match bytes) or not. */
    for (i = 0; i < N_BAD; i++) {
        rc = tlm_options_add_scrub_pattern(o, "odd", bad_strings[i]);
        ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "pattern %zu: %d", i, rc);
    }
    tlm_options_free(o);

    /* At most 64 patterns. */
    o = tlm_options_new();
    ck_assert_ptr_nonnull(o);
    for (i = 0; i < 64; i++) {
        snprintf(name, sizeof(name), "p%zu", i);
        ck_assert_int_eq(tlm_options_add_scrub_pattern(o, name, "[0-9]{6}"), 0);
    }
    ASSERT_EINVAL_NAMED(o, tlm_options_add_scrub_pattern(o, "p64", "x"), "64");
    tlm_options_free(o);

    /* At most 256 sampling overrides; an existing one is still updated. */
    o = tlm_options_new();
    ck_assert_ptr_nonnull(o);
    for (i = 0; i < 256; i++) {
        snprintf(name, sizeof(name), "/v1/e%zu", i);
        ck_assert_int_eq(tlm_options_set_sampling_override(o, name, 0.5), 0);
    }
    ASSERT_EINVAL_NAMED(o, tlm_options_set_sampling_override(o, "/v1/new", 0.5),
        "sampling_overrides");
    ck_assert_int_eq(tlm_options_set_sampling_override(o, "/v1/e0", 0.25), 0);
    tlm_options_free(o);
}
END_TEST

/* A fresh directory under $TMPDIR (or /tmp). */
static void
make_temp_dir(char *out, size_t n)
{
    const char *t = getenv("TMPDIR");

    snprintf(out, n, "%s/tlm-uninit-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

static void
make_file(const char *path)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Directories that the setters accept but a client cannot use: the spool's
 * is documented to fail tlm_client_new() with TLM_EIO; the state
 * directory's (needed for the salt when none is set) fails it the same
 * way. Invalid UTF-8 in a path is just bytes to the file system. */
START_TEST(uninit_unusable_dirs)
{
    char dir[256], file[300], path[400];
    char *long_path;
    tlm_options *o;
    tlm_client *c;
    size_t n;

    make_temp_dir(dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/file", dir);
    make_file(file);
    snprintf(path, sizeof(path), "%s/spool", file); /* under a file */

    o = dead_options();
    ck_assert_int_eq(tlm_options_set_spool_dir(o, path), 0);
    c = NULL;
    ck_assert_int_eq(tlm_client_new(&c, o), TLM_EIO);
    ck_assert_ptr_null(c);
    /* 8192 bytes is a valid option and no valid path. */
    n = strlen(dir);
    long_path = huge_string(dir, 'd', 8192);
    long_path[n] = '/';
    ck_assert_int_eq(tlm_options_set_spool_dir(o, long_path), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), TLM_EIO);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(tlm_options_set_spool_dir(o, NULL), 0);
    ck_assert_int_eq(tlm_options_set_state_dir(o, path), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), TLM_EIO);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(tlm_options_set_state_dir(o, long_path), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), TLM_EIO);
    ck_assert_ptr_null(c);
    free(long_path);

    /* Invalid UTF-8 names are fine directories. */
    snprintf(path, sizeof(path), "%s/\xff\xfe state", dir);
    ck_assert_int_eq(tlm_options_set_state_dir(o, path), 0);
    snprintf(path, sizeof(path), "%s/\xc0\x80 spool", dir);
    ck_assert_int_eq(tlm_options_set_spool_dir(o, path), 0);
    ck_assert_int_eq(tlm_client_new(&c, o), 0);
    tlm_options_free(o);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/v1/x", "GET", 200, 1.0, "u"), 0);
    ck_assert(is_one_of(tlm_client_close(c, 500), 0, TLM_ETIMEDOUT));
    tlm_client_free(c);
    rm_rf(dir);
}
END_TEST

/* Every enqueued event settled, consent drops and calls refused included. */
static void
assert_settled_consent(const tlm_client *c, uint64_t refused)
{
    tlm_stats s = stats_of(c);
    uint64_t settled = s.sent + s.rejected + s.dropped_before_send
        + s.dropped_http + s.dropped_retries + s.dropped_oversize
        + s.dropped_shutdown + s.dropped_disabled + s.dropped_nomem
        + s.dropped_consent;

    ck_assert_uint_ge(s.dropped_consent + s.dropped_disabled, refused);
    ck_assert_uint_eq(s.queue_depth, 0);
    ck_assert_uint_eq(s.inflight_events, 0);
    ck_assert_msg(settled - refused == s.enqueued,
        "enqueued %llu, settled %llu (consent %llu, shutdown %llu)",
        (unsigned long long)s.enqueued, (unsigned long long)(settled - refused),
        (unsigned long long)s.dropped_consent,
        (unsigned long long)s.dropped_shutdown);
}

START_TEST(uninit_consent_null_and_closed)
{
    static const int bad_consent[] = {-1, 3, INT_MIN, INT_MAX};
    char dir[256], state[300], file[400], word[32];
    tlm_options *o;
    tlm_client *c;
    FILE *f;
    size_t i;

    ck_assert_int_eq(tlm_client_consent(NULL), TLM_CONSENT_UNKNOWN);
    ck_assert_int_eq(
        tlm_client_set_consent(NULL, TLM_CONSENT_GIVEN), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_client_set_consent(NULL, TLM_CONSENT_REVOKED), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_set_consent(NULL, 42), TLM_EINVAL);

    /* Consent not required: GIVEN, and nonsense decisions are refused. */
    c = dead_client();
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_GIVEN);
    for (i = 0; i < sizeof(bad_consent) / sizeof(bad_consent[0]); i++)
        ck_assert_int_eq(tlm_client_set_consent(c, bad_consent[i]), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_GIVEN);
    ck_assert_int_eq(tlm_client_close(c, 200), 0);
    ck_assert_int_eq(
        tlm_client_set_consent(c, TLM_CONSENT_REVOKED), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_set_consent(c, 7), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_GIVEN);
    tlm_client_free(c);

    /* Required, with a state directory that later becomes unwritable. */
    make_temp_dir(dir, sizeof(dir));
    snprintf(state, sizeof(state), "%s/state", dir);
    o = dead_options();
    ck_assert_int_eq(tlm_options_set_anonymization_salt(o, "salt"), 0);
    ck_assert_int_eq(tlm_options_set_state_dir(o, state), 0);
    ck_assert_int_eq(tlm_options_set_require_consent(o, 1), 0);
    c = dead_client_with(o);
    tlm_options_free(o);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_UNKNOWN);
    ck_assert_int_eq(
        tlm_track_request_simple(c, "/v1/x", "GET", 200, 1.0, "u"), 0);
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_REVOKED), 0);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_REVOKED);
    ck_assert_int_eq(tlm_track_request_simple(c, "/v1/x", "GET", 200, 1.0, "u"),
        TLM_EDISABLED);
    ck_assert_int_eq(tlm_client_set_consent(c, 3), TLM_EINVAL);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_REVOKED);
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_GIVEN), 0);
    snprintf(file, sizeof(file), "%s/consent", state);
    f = fopen(file, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(word, sizeof(word), f));
    fclose(f);
    ck_assert_str_eq(word, "given\n");
    /* Not persisted (the directory is now a file): TLM_EIO, and the
     * decision still applies. */
    rm_rf(state);
    make_file(state);
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_REVOKED), TLM_EIO);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_REVOKED);
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_UNKNOWN), TLM_EIO);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_UNKNOWN);
    ck_assert(is_one_of(tlm_client_close(c, 500), 0, TLM_ETIMEDOUT));
    ck_assert_int_eq(tlm_client_set_consent(c, TLM_CONSENT_GIVEN), TLM_ECLOSED);
    ck_assert_int_eq(tlm_client_consent(c), TLM_CONSENT_UNKNOWN);
    assert_settled_consent(c, 1); /* the call refused while revoked */
    tlm_client_free(c);
    rm_rf(dir);
}
END_TEST

/* ---- errors, feedback and feature requests: huge strings, bad bytes --- */

/* The first N_BAD_UTF8 of bad_strings are invalid UTF-8; the others are
 * valid UTF-8 with control characters or syntax in them. */
#define N_BAD_UTF8 6

static atomic_int odd_callbacks;

static void
odd_callback(int rc, const tlm_response *r, void *ud)
{
    (void)r;
    (void)ud;
    /* Never delivered to a dead endpoint; never a success. */
    if (rc == 0)
        atomic_fetch_add(&odd_callbacks, 1000);
    atomic_fetch_add(&odd_callbacks, 1);
}

START_TEST(uninit_errors_huge_and_bad_bytes)
{
    char *big = huge_string("", 'm', HUGE_LEN);
    char *stack = huge_string("", 'f', HUGE_LEN);
    char *over_endpoint = huge_string("/", 'e', 1025);
    char *over_code = huge_string("", 'C', 257);
    char *fp_max = huge_string("", 'p', 256);
    char *fp_over = huge_string("", 'p', 257);
    char *details = huge_json_object(((size_t)64 << 10) + 1);
    const char *parts[9] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    tlm_client *c = dead_client();
    tlm_error_event e;
    tlm_request r = TLM_REQUEST_INIT;
    uint64_t before;
    size_t i;
    int rc, ok = 0;

    /* A stack trace of 10 MiB, one short frame per line. */
    for (i = 15; i < HUGE_LEN; i += 16)
        stack[i] = '\n';
    r.endpoint = "/v1/x";

    /* Cut or sanitized, never refused: a huge message and stack trace. */
    tlm_error_event_init(&e);
    e.error_message = big;
    e.stack_trace = stack;
    rc = tlm_capture_error(c, &e);
    ck_assert_msg(rc == 0, "huge message and stack: %d", rc);
    ok++;
    rc = tlm_track_request_error(c, &r, &e);
    ck_assert_msg(rc == 0, "request + huge error: %d", rc);
    ok++;
    /* Invalid UTF-8 and control characters in the message, the stack and
     * the other strings: sent as U+FFFD and escapes. */
    for (i = 0; i < N_BAD; i++) {
        tlm_error_event_init(&e);
        e.error_message = bad_strings[i];
        e.stack_trace = bad_strings[i];
        e.endpoint = bad_strings[i];
        e.error_code = bad_strings[i];
        e.user_id = bad_strings[i];
        e.organization_id = bad_strings[i];
        rc = tlm_capture_error(c, &e);
        ck_assert_msg(rc == 0, "bad string %zu: %d", i, rc);
        ok++;
    }
    /* Documented limits: endpoint 1024, error_code 256, request_details
     * 64 KiB, fingerprint 1..8 parts of 1..256 bytes of valid UTF-8. */
    tlm_error_event_init(&e);
    e.error_message = "m";
    e.endpoint = over_endpoint;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.endpoint = big;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.endpoint = "";
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.endpoint = NULL;
    e.error_code = over_code;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.error_code = big;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.error_code = NULL;
    e.request_details = details;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.request_details = big;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.request_details = NULL;
    e.impact = -1;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.impact = TLM_IMPACT_CRITICAL + 1;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.impact = TLM_IMPACT_NONE;
    e.error_message = "";
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.error_message = "m";
    e.fingerprint = parts;
    e.fingerprint_count = 9;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.fingerprint_count = SIZE_MAX;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.fingerprint = NULL;
    e.fingerprint_count = 1;
    ck_assert_int_eq(tlm_capture_error(c, &e), TLM_EINVAL);
    e.fingerprint = parts;
    for (i = 0; i < 4; i++) {
        const char *const kinds[] = {big, fp_over, "", NULL};

        parts[1] = kinds[i];
        e.fingerprint_count = 2;
        ck_assert_msg(
            tlm_capture_error(c, &e) == TLM_EINVAL, "fingerprint %zu", i);
        ck_assert_msg(tlm_track_request_error(c, &r, &e) == TLM_EINVAL,
            "request + fingerprint %zu", i);
    }
    for (i = 0; i < N_BAD; i++) {
        parts[1] = bad_strings[i];
        rc = tlm_capture_error(c, &e);
        ck_assert_msg(rc == (i < N_BAD_UTF8 ? TLM_EINVAL : 0),
            "fingerprint part %zu: %d", i, rc);
        ok += rc == 0;
    }
    parts[1] = fp_max;
    e.fingerprint_count = 8;
    ck_assert_int_eq(tlm_capture_error(c, &e), 0);
    ok++;
    /* A refused request+error queued neither. */
    before = stats_of(c).enqueued;
    parts[1] = bad_strings[0];
    ck_assert_int_eq(tlm_track_request_error(c, &r, &e), TLM_EINVAL);
    ck_assert_uint_eq(stats_of(c).enqueued, before);

    ck_assert(is_one_of(tlm_client_close(c, 5000), 0, TLM_ETIMEDOUT));
    ck_assert_uint_eq(stats_of(c).errors_captured, (uint64_t)ok);
    ck_assert_uint_eq(stats_of(c).errors_pending, 0);
    assert_all_settled(c);
    tlm_client_free(c);
    free(big);
    free(stack);
    free(over_endpoint);
    free(over_code);
    free(fp_max);
    free(fp_over);
    free(details);
}
END_TEST

START_TEST(uninit_feedback_huge_and_bad_bytes)
{
    char *big = huge_string("", 'c', HUGE_LEN);
    char *json = huge_json_object(HUGE_LEN);
    char *deep = huge_string("", '[', HUGE_LEN);
    char ctx[64];
    tlm_client *c = dead_client();
    tlm_feedback f;
    tlm_feature_request fr;
    tlm_feature_query q;
    size_t i;
    int rc, accepted = 0;

    atomic_store(&odd_callbacks, 0);
    /* No byte or length rule in the SDK for these strings (the server
     * judges lengths): a huge or odd one is accepted and answered. */
    for (i = 0; i <= N_BAD; i++) {
        const char *s = i < N_BAD ? bad_strings[i] : big;

        tlm_feedback_init(&f);
        f.type = TLM_FEEDBACK_GENERAL;
        f.content = s;
        f.user_id = s;
        f.category = s;
        f.feature = s;
        f.endpoint = s;
        rc = tlm_feedback_submit(c, &f, odd_callback, NULL);
        ck_assert_msg(rc == 0, "feedback %zu: %d", i, rc);
        accepted++;
        tlm_feature_request_init(&fr);
        fr.title = s;
        fr.description = s;
        fr.use_case = s;
        fr.user_id = s;
        rc = tlm_feature_request_submit(c, &fr, odd_callback, NULL);
        ck_assert_msg(rc == 0, "feature request %zu: %d", i, rc);
        accepted++;
        rc = tlm_feature_request_vote(c, "id", s, odd_callback, NULL);
        ck_assert_msg(rc == 0, "vote %zu: %d", i, rc);
        accepted++;
        rc = tlm_feature_request_unvote(c, "id", s, odd_callback, NULL);
        ck_assert_msg(rc == 0, "unvote %zu: %d", i, rc);
        accepted++;
        tlm_feature_query_init(&q);
        q.status = s;
        q.cursor = s;
        rc = tlm_feature_requests_list(c, &q, odd_callback, NULL);
        ck_assert_msg(rc == 0, "list %zu: %d", i, rc);
        accepted++;
        if (i < N_BAD) { /* ids are 1..128 bytes, escaped in the path */
            rc = tlm_feedback_get(c, s, odd_callback, NULL);
            ck_assert_msg(rc == 0, "get %zu: %d", i, rc);
            accepted++;
        }
    }
    /* context_json must be a JSON object: a huge one is; raw odd bytes and
     * 10 MiB of nesting are not. Invalid UTF-8 inside a JSON string is
     * not a JSON text either, but a lenient parser may take it. */
    tlm_feedback_init(&f);
    f.type = TLM_FEEDBACK_RATING;
    f.rating = 5;
    f.content = "c";
    f.context_json = json;
    ck_assert_int_eq(tlm_feedback_submit(c, &f, odd_callback, NULL), 0);
    accepted++;
    f.context_json = deep;
    ck_assert_int_eq(
        tlm_feedback_submit(c, &f, odd_callback, NULL), TLM_EINVAL);
    f.context_json = big;
    ck_assert_int_eq(
        tlm_feedback_submit(c, &f, odd_callback, NULL), TLM_EINVAL);
    for (i = 0; i < N_BAD; i++) {
        f.context_json = bad_strings[i];
        ck_assert_msg(
            tlm_feedback_submit(c, &f, odd_callback, NULL) == TLM_EINVAL,
            "raw context %zu accepted", i);
    }
    for (i = 0; i < N_BAD_UTF8; i++) {
        snprintf(ctx, sizeof(ctx), "{\"k\":\"%s\"}", bad_strings[i]);
        f.context_json = ctx;
        rc = tlm_feedback_submit(c, &f, odd_callback, NULL);
        ck_assert_msg(is_one_of(rc, 0, TLM_EINVAL), "context %zu: %d", i, rc);
        accepted += rc == 0;
    }
    /* Blank content is refused whatever its length. */
    memset(big, ' ', HUGE_LEN);
    f.context_json = NULL;
    f.content = big;
    ck_assert_int_eq(
        tlm_feedback_submit(c, &f, odd_callback, NULL), TLM_EINVAL);
    tlm_feature_request_init(&fr);
    fr.title = big;
    ck_assert_int_eq(
        tlm_feature_request_submit(c, &fr, odd_callback, NULL), TLM_EINVAL);
    ck_assert_int_eq(
        tlm_feature_request_vote(c, "id", big, odd_callback, NULL), TLM_EINVAL);
    /* The caller's buffers may go at once: everything was copied. */
    free(big);
    free(json);
    free(deep);
    ck_assert(is_one_of(tlm_client_close(c, 10000), 0, TLM_ETIMEDOUT));
    /* Each accepted call answered exactly once, none with success. */
    ck_assert_int_eq(atomic_load(&odd_callbacks), accepted);
    tlm_client_free(c);
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
    tcase_add_test(tc, uninit_privacy_options_null_handle);
    tcase_add_test(tc, uninit_privacy_options_strings);
    tcase_add_test(tc, uninit_privacy_options_out_of_range);
    tcase_add_test(tc, uninit_scrub_patterns);
    tcase_add_test(tc, uninit_unusable_dirs);
    tcase_add_test(tc, uninit_consent_null_and_closed);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    /* 10 MiB strings are slow under valgrind: their own, longer timeout. */
    tcase_add_checked_fixture(big, setup, NULL);
    tcase_add_test(big, uninit_options_huge_strings);
    tcase_add_test(big, uninit_track_huge_strings);
    tcase_add_test(big, uninit_hook_bad_arguments);
    tcase_add_test(big, uninit_free_from_own_callback);
    tcase_add_test(big, uninit_errors_huge_and_bad_bytes);
    tcase_add_test(big, uninit_feedback_huge_and_bad_bytes);
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
