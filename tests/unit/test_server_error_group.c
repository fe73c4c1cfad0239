/* Check suite for server/error_group.c: one case per parameterization rule
 * and per stack frame format, the caller fingerprint, determinism, bounded
 * work on huge input, invalid UTF-8, and the pairwise precision and recall
 * of the grouping on the labeled corpus tests/data/error_corpus.jsonl
 * (printed for all, dev and held-out events; asserted over all). */
#include "error_group.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
param(const char *msg)
{
    static char out[TLM__ERROR_MESSAGE_MAX + 1];
    size_t n = tlm__error_parameterize(msg, out, sizeof(out));
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

#define ASSERT_PARAM(msg, want) ck_assert_str_eq(param(msg), want)

static const char *
frame(const char *line, bool *in_app)
{
    static char out[256];
    size_t n = tlm__error_normalize_frame(line, out, sizeof(out), in_app);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

#define ASSERT_FRAME(line, want, want_app)                                     \
    do {                                                                       \
        bool app_ = !(want_app);                                               \
        ck_assert_str_eq(frame(line, &app_), want);                            \
        ck_assert_msg(app_ == (want_app), "%s: in_app %d", line, app_);        \
    } while (0)

static struct tlm__error_group_key
key(const char *code, const char *msg, const char *stack)
{
    struct tlm__error_group_key k;
    ck_assert_int_eq(tlm__error_fingerprint(code, msg, stack, NULL, 0, &k), 0);
    ck_assert_uint_eq(strlen(k.fingerprint), 32);
    return k;
}

static bool
valid_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        int n = *u < 0x80     ? 1
            : (*u >> 5) == 6  ? 2
            : (*u >> 4) == 14 ? 3
            : (*u >> 3) == 30 ? 4
                              : 0;
        if (n == 0)
            return false;
        for (int i = 1; i < n; i++)
            if ((u[i] & 0xC0) != 0x80)
                return false;
        u += n;
    }
    return true;
}

/* --- parameterization ---------------------------------------------------- */

START_TEST(error_param_numbers)
{
    ASSERT_PARAM("retry 3 of 5", "retry <num> of <num>");
    ASSERT_PARAM("took 1.25 ms, limit -1", "took <num> ms, limit -<num>");
    ASSERT_PARAM("timeout after 30s", "timeout after <num>s");
    ASSERT_PARAM("wrote 512ms 1.5MB", "wrote <num>ms <num>MB");
    ASSERT_PARAM("version 2.4.1 failed", "version <num> failed");
    ASSERT_PARAM("order #1234, item-77", "order #<num>, item-<num>");
    /* digits inside words stay */
    ASSERT_PARAM("utf8 int64_t sha256 ipv4", "utf8 int64_t sha256 ipv4");
}
END_TEST

START_TEST(error_param_hex_and_ids)
{
    ASSERT_PARAM("bad pointer 0x7ffd5e8a3c10", "bad pointer <hex>");
    ASSERT_PARAM("at 0XDEADbeef.", "at <hex>.");
    ASSERT_PARAM("commit 8f3a2c9b1d7e done", "commit <hex> done");
    ASSERT_PARAM("sha 044ee1ee2f1dfed571b20b4d4f", "sha <hex>");
    ASSERT_PARAM("charge ch_3MmlLrLkdIwHu7ix0snN0B15", "charge ch_<id>");
    /* short hex and words made of hex letters stay */
    ASSERT_PARAM("add deadbeef cafe 8f3a", "add deadbeef cafe 8f3a");
}
END_TEST

START_TEST(error_param_uuid)
{
    ASSERT_PARAM("order 3f2a8c1e-9b4d-4c2a-8e1f-0a1b2c3d4e5f missing",
        "order <uuid> missing");
    ASSERT_PARAM("ID=3F2A8C1E-9B4D-4C2A-8E1F-0A1B2C3D4E5F", "ID=<uuid>");
}
END_TEST

START_TEST(error_param_ip)
{
    ASSERT_PARAM("refused 10.0.3.17:5432", "refused <ip>");
    ASSERT_PARAM("from 192.168.1.1.", "from <ip>.");
    ASSERT_PARAM("to [2001:db8::1]:443 and ::1", "to <ip> and <ip>");
    ASSERT_PARAM("fe80::1%eth0 up", "<ip> up");
    ASSERT_PARAM("2001:db8:0:0:0:0:2:1 x", "<ip> x");
    /* clock times and C++ names are not addresses */
    ASSERT_PARAM("std::vector a::b", "std::vector a::b");
}
END_TEST

START_TEST(error_param_email)
{
    ASSERT_PARAM("user alice@example.com not found", "user <email> not found");
    ASSERT_PARAM("bob.smith+test@corp.acme.co.uk.", "<email>.");
    ASSERT_PARAM("@handle and a@b", "@handle and a@b");
}
END_TEST

START_TEST(error_param_quoted)
{
    ASSERT_PARAM("KeyError: 'user_id'", "KeyError: <str>");
    ASSERT_PARAM("reading \"id\" and `x y`", "reading <str> and <str>");
    ASSERT_PARAM("can't open 'a b', it's ''", "can't open <str>, it's <str>");
    /* unterminated quotes are kept */
    ASSERT_PARAM("it's \"open", "it's \"open");
}
END_TEST

START_TEST(error_param_paths)
{
    ASSERT_PARAM("cannot open /tmp/tlm-8f3a2c/000123.dat: No such file",
        "cannot open <path>: No such file");
    ASSERT_PARAM(
        "see ~/x/y and ./a/b and ../c", "see <path> and <path> and <path>");
    ASSERT_PARAM("load C:\\Users\\bob\\x.dll failed", "load <path> failed");
    ASSERT_PARAM("in src/client.c:42: oops", "in <path>: oops");
    /* words with a slash are not paths */
    ASSERT_PARAM("read/write and/or text/plain HTTP/1.1",
        "read/write and/or text/plain HTTP/<num>");
}
END_TEST

START_TEST(error_param_urls)
{
    ASSERT_PARAM("GET https://api.acme.io/v1/items/8812?x=1 failed",
        "GET https://api.acme.io/<path> failed");
    ASSERT_PARAM("(https://user:pw@api.acme.io:8443/x).",
        "(https://api.acme.io/<path>).");
    ASSERT_PARAM("http://10.0.0.1:80/ up", "http://<ip> up");
    ASSERT_PARAM("http://[::1]:80/a", "http://<ip>/<path>");
}
END_TEST

START_TEST(error_param_time)
{
    ASSERT_PARAM("expired at 2024-05-01T10:22:31Z", "expired at <time>");
    ASSERT_PARAM("at 2024-05-01 10:22:31.123+02:00 ok", "at <time> ok");
    ASSERT_PARAM("on 2024-05-01.", "on <time>.");
    ASSERT_PARAM("at 10:22:31,5 and 10:22", "at <time> and <num>:<num>");
}
END_TEST

START_TEST(error_param_whitespace_and_case)
{
    ASSERT_PARAM(
        "  Connection\t\tREFUSED \n by  peer  ", "Connection REFUSED by peer");
    ASSERT_PARAM("", "");
    ASSERT_PARAM(NULL, "");
    char small[8];
    ck_assert_uint_eq(tlm__error_parameterize("abcdefghijk", small, 8), 7);
    ck_assert_str_eq(small, "abcdefg");
    ck_assert_uint_eq(tlm__error_parameterize("x", NULL, 8), 0);
    ck_assert_uint_eq(tlm__error_parameterize("x", small, 0), 0);
    /* truncation never splits a character */
    ck_assert_uint_eq(tlm__error_parameterize("abcdef\xc3\xa9", small, 8), 6);
}
END_TEST

START_TEST(error_param_invalid_utf8)
{
    ASSERT_PARAM("bad \xff\xfe byte \xc3", "bad ?? byte ?");
    ASSERT_PARAM("ctl \x01\x7f caf\xc3\xa9", "ctl ?? caf\xc3\xa9");
    ASSERT_PARAM("overlong \xc0\xaf \xed\xa0\x80", "overlong ?? ???");
    char buf[4096];
    for (size_t i = 0; i < sizeof(buf) - 1; i++)
        buf[i] = (char)(1 + (i * 7919) % 255);
    buf[sizeof(buf) - 1] = '\0';
    ck_assert(valid_utf8(param(buf)));
}
END_TEST

/* --- frames -------------------------------------------------------------- */

START_TEST(error_frame_glibc)
{
    ASSERT_FRAME(
        "./app(fetch_items+0x1d) [0x55d1c3a2b1c9]", "fetch_items (app)", true);
    ASSERT_FRAME("/usr/lib/x86_64-linux-gnu/libc.so.6(+0x271ca) [0x7f00]",
        "(libc.so.6)", false);
    ASSERT_FRAME("/opt/acme/libacme.so.2(acme_init+0x3) [0x7f00]",
        "acme_init (libacme.so.2)", true);
    ASSERT_FRAME("/usr/local/lib/libtelemetry.so.1(tlm_flush+0x3a) [0x7f]",
        "tlm_flush (libtelemetry.so.1)", false);
}
END_TEST

START_TEST(error_frame_asan_gdb)
{
    ASSERT_FRAME("    #3 0x55d1c3a2b1c9 in fetch_items "
                 "/home/alice/src/client.c:42:7",
        "fetch_items (client.c)", true);
    ASSERT_FRAME("#1 0x7f1 in __libc_start_main "
                 "(/lib/x86_64-linux-gnu/libc.so.6+0x29d90)",
        "__libc_start_main (libc.so.6)", false);
    ASSERT_FRAME("#0 0x4c2f in main (/home/a/app+0x4c2f)", "main (app)", true);
    ASSERT_FRAME("#2 0x55 in acme::Client::fetch(int, char const*) "
                 "/src/client.cc:42:7",
        "acme::Client::fetch (client.cc)", true);
    ASSERT_FRAME("#0 0x7f in __interceptor_memcpy "
                 "../../../../src/libsanitizer/sanitizer_common/x.inc:827",
        "__interceptor_memcpy (x.inc)", false);
    ASSERT_FRAME("#3  0x000055d1c3a2b1c9 in fetch_items (ctx=0x5555, n=3) at "
                 "/home/alice/src/client.c:42",
        "fetch_items (client.c)", true);
    ASSERT_FRAME("#0  fetch_items (ctx=0x0) at client.c:42",
        "fetch_items (client.c)", true);
    ASSERT_FRAME("#1  0x00007ffff7a42 in raise () from /lib64/libc.so.6",
        "raise (libc.so.6)", false);
}
END_TEST

START_TEST(error_frame_python)
{
    ASSERT_FRAME(
        "  File \"/home/alice/app/client.py\", line 42, in fetch_items",
        "fetch_items (client.py)", true);
    ASSERT_FRAME("  File \"/usr/lib/python3.11/json/decoder.py\", line 355, in "
                 "raw_decode",
        "raw_decode (decoder.py)", false);
    ASSERT_FRAME("File \"/v/lib/python3.11/site-packages/requests/models.py\", "
                 "line 9, in json",
        "json (models.py)", false);
    ASSERT_FRAME("File \"<frozen importlib._bootstrap>\", line 1, in _load",
        "_load (<frozen importlib._bootstrap>)", false);
}
END_TEST

START_TEST(error_frame_java_js)
{
    ASSERT_FRAME("\tat com.acme.Client.fetch(Client.java:42)",
        "com.acme.Client.fetch (Client.java)", true);
    ASSERT_FRAME("\tat java.util.HashMap.get(HashMap.java:556)",
        "java.util.HashMap.get (HashMap.java)", false);
    ASSERT_FRAME("at java.base/java.net.Socket.read(Native Method)",
        "java.net.Socket.read", false);
    ASSERT_FRAME(
        "    at fetch_items (client.js:42:7)", "fetch_items (client.js)", true);
    ASSERT_FRAME("    at async Transport.flush (file:///home/a/src/t.mjs:1:2)",
        "Transport.flush (t.mjs)", true);
    ASSERT_FRAME(
        "    at /home/a/src/main.3f2a9c1b.js:1:2", "(main.<hex>.js)", true);
    ASSERT_FRAME("    at x (/home/a/node_modules/undici/index.js:1:2)",
        "x (index.js)", false);
    ASSERT_FRAME("    at process.processTicksAndRejections "
                 "(node:internal/process/task_queues:95:5)",
        "process.processTicksAndRejections (task_queues)", false);
}
END_TEST

START_TEST(error_frame_sdk_and_loose)
{
    ASSERT_FRAME("fetch_items (client.c)", "fetch_items (client.c)", true);
    ASSERT_FRAME(
        "~/src/client.c:42 fetch_items", "fetch_items (client.c)", true);
    ASSERT_FRAME("client.c:42", "(client.c)", true);
    ASSERT_FRAME("fetch_items", "fetch_items", true);
    ASSERT_FRAME(
        "tlm_client_flush (client.c)", "tlm_client_flush (client.c)", false);
    ASSERT_FRAME("C:\\src\\acme\\client.c:42 fetch_items()",
        "fetch_items (client.c)", true);
    ASSERT_FRAME("", "", false);
    ASSERT_FRAME("   ", "", false);
    ASSERT_FRAME("0x1234 #3 +0x10", "", false);
    /* only the first line is read */
    ASSERT_FRAME("a (a.c)\nb (b.c)", "a (a.c)", true);
    ck_assert_uint_eq(tlm__error_normalize_frame("a (a.c)", NULL, 9, NULL), 0);
    ck_assert_uint_eq(
        tlm__error_normalize_frame(NULL, (char[4]) {0}, 4, NULL), 0);
}
END_TEST

/* --- the key ------------------------------------------------------------- */

START_TEST(error_key_variable_parts_group)
{
    struct tlm__error_group_key a = key("ETIMEDOUT",
        "timeout after 30s for alice@example.com at 10.0.0.1:80",
        "#0 0x55d1 in fetch_items /home/alice/src/client.c:42:7\n"
        "#1 0x55d2 in main /home/alice/src/main.c:9:1");
    struct tlm__error_group_key b = key("ETIMEDOUT",
        "timeout after 60s for bob@acme.io at 192.168.7.1:8080",
        "#0 0x77aa in fetch_items /builds/ci-7/src/client.c:47:3\n"
        "#1 0x77ab in main /builds/ci-7/src/main.c:12:1");
    ck_assert_str_eq(a.fingerprint, b.fingerprint);
    ck_assert_str_eq(
        a.title, "ETIMEDOUT: timeout after <num>s for <email> at <ip>");
    ck_assert_str_eq(a.culprit, "fetch_items (client.c)");
    ck_assert(!a.custom);
    /* another function, another code, another message: apart */
    struct tlm__error_group_key c = key("ETIMEDOUT",
        "timeout after 30s for alice@example.com at 10.0.0.1:80",
        "#0 0x55d1 in upload_file /home/alice/src/upload.c:42:7");
    ck_assert_str_ne(a.fingerprint, c.fingerprint);
    ck_assert_str_ne(
        a.fingerprint, key("EIO", "timeout after 30s", NULL).fingerprint);
    ck_assert_str_ne(key(NULL, "connection refused to db", NULL).fingerprint,
        key(NULL, "connection refused to cache", NULL).fingerprint);
}
END_TEST

START_TEST(error_key_in_app_frames)
{
    /* system frames on top are skipped; only the top 3 in-app count */
    const char *s1 = "/lib/x86_64-linux-gnu/libc.so.6(+0x1) [0x7f01]\n"
                     "./app(a+0x1) [0x5501]\n./app(b+0x2) [0x5502]\n"
                     "./app(c+0x3) [0x5503]\n./app(d+0x4) [0x5504]";
    const char *s2 = "/lib/x86_64-linux-gnu/libc.so.6(abort+0x9) [0x7f09]\n"
                     "./app(a+0x9) [0x5509]\n./app(b+0x9) [0x5509]\n"
                     "./app(c+0x9) [0x5509]\n./app(zz+0x9) [0x5509]";
    struct tlm__error_group_key k = key("E", "m", s1);
    ck_assert_str_eq(k.fingerprint, key("E", "m", s2).fingerprint);
    ck_assert_str_eq(k.culprit, "a (app)");
    /* no in-app frame: the top frames as they are */
    k = key("E", "m", "/lib/x86_64-linux-gnu/libc.so.6(abort+0x9) [0x7f09]");
    ck_assert_str_eq(k.culprit, "abort (libc.so.6)");
    /* no stack: code + message */
    k = key("E", "m", NULL);
    ck_assert_str_eq(k.culprit, "");
    ck_assert_str_eq(k.fingerprint, key("E", "m", "").fingerprint);
    ck_assert_str_ne(k.fingerprint, key("E", "m", s1).fingerprint);
}
END_TEST

START_TEST(error_key_python_innermost_last)
{
    const char *tb = "Traceback (most recent call last):\n"
                     "  File \"/a/cli.py\", line 3, in main\n    run()\n"
                     "  File \"/a/client.py\", line 9, in fetch\n    x[1]\n"
                     "IndexError: list index out of range";
    struct tlm__error_group_key k = key("IndexError", "list index", tb);
    ck_assert_str_eq(k.culprit, "fetch (client.py)");
}
END_TEST

START_TEST(error_key_caller_fingerprint)
{
    const char *one[] = {"payment-gateway"};
    const char *two[] = {"upstream", "billing"};
    const char *swapped[] = {"billing", "upstream"};
    const char *joined[] = {"upstreambilling"};
    const char *dflt[] = {TLM__ERROR_FP_DEFAULT, "tenant-a"};
    const char *dflt_b[] = {TLM__ERROR_FP_DEFAULT, "tenant-b"};
    struct tlm__error_group_key a, b;
    ck_assert_int_eq(
        tlm__error_fingerprint("E1", "timeout", NULL, one, 1, &a), 0);
    ck_assert_int_eq(
        tlm__error_fingerprint("E2", "returned 502", "f (f.c)", one, 1, &b), 0);
    ck_assert(a.custom && b.custom);
    ck_assert_str_eq(a.fingerprint, b.fingerprint);
    ck_assert_str_eq(b.title, "E2: returned <num>");
    ck_assert_str_eq(b.culprit, "f (f.c)");
    /* order matters, parts do not run together, custom != default */
    ck_assert_int_eq(tlm__error_fingerprint("E", "m", NULL, two, 2, &a), 0);
    ck_assert_int_eq(tlm__error_fingerprint("E", "m", NULL, swapped, 2, &b), 0);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    ck_assert_int_eq(tlm__error_fingerprint("E", "m", NULL, joined, 1, &b), 0);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    ck_assert_str_ne(a.fingerprint, key("E", "m", NULL).fingerprint);
    /* "{{ default }}" splits the default group */
    ck_assert_int_eq(tlm__error_fingerprint("E", "m 1", NULL, dflt, 2, &a), 0);
    ck_assert_int_eq(tlm__error_fingerprint("E", "m 2", NULL, dflt, 2, &b), 0);
    ck_assert_str_eq(a.fingerprint, b.fingerprint);
    ck_assert_int_eq(
        tlm__error_fingerprint("E", "m 1", NULL, dflt_b, 2, &b), 0);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    /* bad arguments */
    const char *null_part[] = {"a", NULL};
    ck_assert_int_eq(tlm__error_fingerprint("E", "m", NULL, NULL, 0, NULL), -1);
    ck_assert_int_eq(tlm__error_fingerprint("E", "m", NULL, NULL, 1, &a), -1);
    ck_assert_int_eq(
        tlm__error_fingerprint("E", "m", NULL, null_part, 2, &a), -1);
    ck_assert_int_eq(tlm__error_fingerprint(NULL, NULL, NULL, NULL, 0, &a), 0);
    ck_assert_str_eq(a.title, "(no message)");
}
END_TEST

START_TEST(error_key_deterministic)
{
    /* fixed value: a change here is a change of algorithm, which must bump
     * TLM_GROUPING_VERSION */
    struct tlm__error_group_key k
        = key("ETIMEDOUT", "timeout after 30s", "fetch_items (client.c)");
    ck_assert_int_eq(TLM_GROUPING_VERSION, 1);
    for (int i = 0; i < 100; i++)
        ck_assert_str_eq(key("ETIMEDOUT", "timeout after 31s",
                             "~/src/client.c:7 fetch_items")
                             .fingerprint,
            k.fingerprint);
    printf("fingerprint v1 sample: %s\n", k.fingerprint);
    ck_assert_str_eq(k.fingerprint, "3286276ca8e478464c09967d3001578b");
}
END_TEST

START_TEST(error_key_huge_input)
{
    size_t big = 1 << 20;
    char *msg = malloc(big + 1);
    ck_assert_ptr_nonnull(msg);
    for (size_t i = 0; i < big; i++)
        msg[i] = "a1 /x'\"0x@.:["[i % 13];
    msg[big] = '\0';
    size_t lines = 100000;
    char *stack = malloc(lines * 24 + 1);
    ck_assert_ptr_nonnull(stack);
    size_t n = 0;
    for (size_t i = 0; i < lines; i++)
        n += (size_t)snprintf(stack + n, 25, "f%06zu (file%06zu.c)\n", i, i);
    struct tlm__error_group_key k;
    ck_assert_int_eq(tlm__error_fingerprint(msg, msg, stack, NULL, 0, &k), 0);
    ck_assert_str_eq(k.culprit, "f000000 (file000000.c)");
    ck_assert(valid_utf8(k.title));
    /* a Python traceback is read from its end */
    memcpy(stack, "  File \"/a/b.py\", line 1, in g\n", 31);
    ck_assert_int_eq(tlm__error_fingerprint(NULL, msg, stack, NULL, 0, &k), 0);
    /* one huge line */
    memset(stack, 'x', lines * 24);
    stack[lines * 24] = '\0';
    ck_assert_int_eq(tlm__error_fingerprint(NULL, msg, stack, NULL, 0, &k), 0);
    free(msg);
    free(stack);
}
END_TEST

START_TEST(error_key_invalid_utf8)
{
    struct tlm__error_group_key k = key("E\xff\xc3",
        "caf\xc3 \xf4\x90\x80\x80 \xe2\x82", "\xff\xfe (\xc3.c)\n#1 \xc0");
    ck_assert(valid_utf8(k.title));
    ck_assert(valid_utf8(k.culprit));
    /* any bytes, many shapes: never a crash, always valid UTF-8 */
    uint32_t x = 8;
    char buf[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + round % (sizeof(buf) - 1);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245 + 12345;
            buf[i] = (char)(1 + (x >> 16) % 255);
        }
        buf[n] = '\0';
        k = key(buf, buf, buf);
        ck_assert(valid_utf8(k.title));
        ck_assert(valid_utf8(k.culprit));
    }
}
END_TEST

/* --- the labeled corpus -------------------------------------------------- */

struct event {
    char fp[33];
    char *label;
    bool heldout;
};

static FILE *
open_corpus(void)
{
    char path[1024];
    const char *dir = getenv("TLM_TEST_DATA");
    if (dir != NULL) {
        snprintf(path, sizeof(path), "%s/error_corpus.jsonl", dir);
        return fopen(path, "r");
    }
    return fopen("tests/data/error_corpus.jsonl", "r");
}

static void
group_event(const cJSON *e, struct event *ev)
{
    const char *parts[TLM__ERROR_CALLER_FP_MAX];
    size_t n_parts = 0;
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(e, "fingerprint");
    if (cJSON_IsString(fp)) {
        parts[n_parts++] = fp->valuestring;
    } else if (cJSON_IsArray(fp)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, fp)
        {
            ck_assert(cJSON_IsString(it) && n_parts < TLM__ERROR_CALLER_FP_MAX);
            parts[n_parts++] = it->valuestring;
        }
    }
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "error_code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "error_message");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "stack_trace");
    struct tlm__error_group_key k;
    ck_assert_int_eq(tlm__error_fingerprint(cJSON_GetStringValue(code),
                         cJSON_GetStringValue(msg), cJSON_GetStringValue(st),
                         parts, n_parts, &k),
        0);
    memcpy(ev->fp, k.fingerprint, sizeof(ev->fp));
}

static size_t
distinct(const struct event *ev, size_t n, int which, bool by_label)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (which >= 0 && ev[i].heldout != (which == 1))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            if (which >= 0 && ev[j].heldout != (which == 1))
                continue;
            seen = by_label ? strcmp(ev[i].label, ev[j].label) == 0
                            : strcmp(ev[i].fp, ev[j].fp) == 0;
        }
        count += !seen;
    }
    return count;
}

/* which: -1 all, 0 dev, 1 held-out. Pairwise precision and recall. */
static void
measure(const struct event *ev, size_t n, int which, double *precision,
    double *recall)
{
    static const char *const names[] = {"all", "dev", "held-out"};
    size_t tp = 0, fp = 0, fn = 0, events = 0;
    for (size_t i = 0; i < n; i++) {
        if (which >= 0 && ev[i].heldout != (which == 1))
            continue;
        events++;
        for (size_t j = i + 1; j < n; j++) {
            if (which >= 0 && ev[j].heldout != (which == 1))
                continue;
            bool same_p = strcmp(ev[i].fp, ev[j].fp) == 0;
            bool same_t = strcmp(ev[i].label, ev[j].label) == 0;
            tp += same_p && same_t;
            fp += same_p && !same_t;
            fn += !same_p && same_t;
        }
    }
    *precision = tp + fp > 0 ? (double)tp / (double)(tp + fp) : 1;
    *recall = tp + fn > 0 ? (double)tp / (double)(tp + fn) : 1;
    printf("error corpus %-8s: %3zu events, %2zu true groups, %2zu predicted, "
           "pairwise precision %.4f recall %.4f (tp %zu fp %zu fn %zu)\n",
        names[which + 1], events, distinct(ev, n, which, true),
        distinct(ev, n, which, false), *precision, *recall, tp, fp, fn);
}

START_TEST(error_corpus_precision_recall)
{
    FILE *f = open_corpus();
    ck_assert_msg(f != NULL,
        "tests/data/error_corpus.jsonl not found (set TLM_TEST_DATA)");
    static char line[1 << 16];
    struct event *ev = NULL;
    size_t n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        ck_assert_msg(strchr(line, '\n') != NULL, "corpus line too long");
        cJSON *e = cJSON_Parse(line);
        ck_assert_msg(e != NULL, "corpus line %zu: bad JSON", n + 1);
        ev = realloc(ev, (n + 1) * sizeof(*ev));
        ck_assert_ptr_nonnull(ev);
        const char *label = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(e, "group"));
        ck_assert_ptr_nonnull(label);
        ev[n].label = strdup(label);
        ev[n].heldout
            = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "heldout"));
        group_event(e, &ev[n]);
        cJSON_Delete(e);
        n++;
    }
    fclose(f);
    ck_assert_uint_ge(n, 240);
    ck_assert_uint_ge(distinct(ev, n, -1, true), 25);
    double p, r, hp, hr;
    measure(ev, n, 0, &p, &r);
    measure(ev, n, 1, &hp, &hr);
    measure(ev, n, -1, &p, &r);
    /* the misgrouped labels, to see what went wrong */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) {
            bool same_p = strcmp(ev[i].fp, ev[j].fp) == 0;
            bool same_t = strcmp(ev[i].label, ev[j].label) == 0;
            if (same_p != same_t && getenv("TLM_TEST_VERBOSE") != NULL)
                printf("  %s: %s / %s\n", same_p ? "merged" : "split",
                    ev[i].label, ev[j].label);
        }
    ck_assert_msg(p >= 0.95 && r >= 0.95, "precision %.4f recall %.4f", p, r);
    for (size_t i = 0; i < n; i++)
        free(ev[i].label);
    free(ev);
}
END_TEST

static Suite *
error_group_suite(void)
{
    Suite *s = suite_create("server_error_group");
    TCase *tc = tcase_create("error_param");
    tcase_add_test(tc, error_param_numbers);
    tcase_add_test(tc, error_param_hex_and_ids);
    tcase_add_test(tc, error_param_uuid);
    tcase_add_test(tc, error_param_ip);
    tcase_add_test(tc, error_param_email);
    tcase_add_test(tc, error_param_quoted);
    tcase_add_test(tc, error_param_paths);
    tcase_add_test(tc, error_param_urls);
    tcase_add_test(tc, error_param_time);
    tcase_add_test(tc, error_param_whitespace_and_case);
    tcase_add_test(tc, error_param_invalid_utf8);
    suite_add_tcase(s, tc);
    tc = tcase_create("error_frame");
    tcase_add_test(tc, error_frame_glibc);
    tcase_add_test(tc, error_frame_asan_gdb);
    tcase_add_test(tc, error_frame_python);
    tcase_add_test(tc, error_frame_java_js);
    tcase_add_test(tc, error_frame_sdk_and_loose);
    suite_add_tcase(s, tc);
    tc = tcase_create("error_key");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, error_key_variable_parts_group);
    tcase_add_test(tc, error_key_in_app_frames);
    tcase_add_test(tc, error_key_python_innermost_last);
    tcase_add_test(tc, error_key_caller_fingerprint);
    tcase_add_test(tc, error_key_deterministic);
    tcase_add_test(tc, error_key_huge_input);
    tcase_add_test(tc, error_key_invalid_utf8);
    suite_add_tcase(s, tc);
    tc = tcase_create("error_corpus");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, error_corpus_precision_recall);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(error_group_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
