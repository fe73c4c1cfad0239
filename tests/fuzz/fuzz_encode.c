/* Fuzz target: the SDK's JSON string encoder, tlm__buf_json_string, on
 * arbitrary bytes (every string of an event goes through it).
 *
 * Invariants: the output is one JSON string token that a strict reader
 * accepts (checked here independently of lib/: quotes, escapes, no raw
 * control character, valid UTF-8 with no surrogate and nothing over
 * U+10FFFF); cJSON parses it back; and
 * - where the input is valid UTF-8, the decoded string is exactly the input
 *   (all of it, NUL bytes included, by the independent decoder; cJSON's C
 *   string up to the first NUL);
 * - where it is not, each invalid byte became U+FFFD and the valid
 *   sequences around it are kept: the decoded text equals the input with
 *   those substitutions (computed here with an independent validator). */
#include "fuzz_common.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Length of the valid UTF-8 sequence at s (1..4) or 0: a table-free
 * restatement of RFC 3629's grammar, kept apart from lib/encode.c. */
static size_t
valid_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    static const struct {
        unsigned char lo, hi, lo2, hi2;
        size_t len;
    } rows[] = {
        {0xc2, 0xdf, 0x80, 0xbf, 2},
        {0xe0, 0xe0, 0xa0, 0xbf, 3},
        {0xe1, 0xec, 0x80, 0xbf, 3},
        {0xed, 0xed, 0x80, 0x9f, 3},
        {0xee, 0xef, 0x80, 0xbf, 3},
        {0xf0, 0xf0, 0x90, 0xbf, 4},
        {0xf1, 0xf3, 0x80, 0xbf, 4},
        {0xf4, 0xf4, 0x80, 0x8f, 4},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        if (s[0] < rows[r].lo || s[0] > rows[r].hi)
            continue;
        size_t len = rows[r].len;
        if (n < len || s[1] < rows[r].lo2 || s[1] > rows[r].hi2)
            return 0;
        for (size_t i = 2; i < len; i++) {
            if (s[i] < 0x80 || s[i] > 0xbf)
                return 0;
        }
        return len;
    }
    return 0;
}

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t
put_utf8(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Strictly decodes the JSON string token t[0..n) into out (at least n
 * bytes); returns the decoded length. Aborts on anything RFC 8259 or
 * RFC 3629 refuses. */
static size_t
strict_decode(const unsigned char *t, size_t n, unsigned char *out)
{
    size_t i = 1, o = 0;
    FUZZ_CHECK(n >= 2 && t[0] == '"' && t[n - 1] == '"', "not a string");
    while (i < n - 1) {
        unsigned char c = t[i];
        FUZZ_CHECK(c >= 0x20, "raw control byte 0x%02x at %zu", c, i);
        FUZZ_CHECK(c != '"', "unescaped quote at %zu", i);
        if (c == '\\') {
            FUZZ_CHECK(i + 1 < n - 1, "dangling backslash");
            unsigned char e = t[i + 1];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *hit = e != '\0' ? strchr(from, e) : NULL;
            if (hit != NULL) {
                out[o++] = (unsigned char)to[hit - from];
                i += 2;
                continue;
            }
            FUZZ_CHECK(e == 'u' && i + 6 <= n - 1, "bad escape \\%c", e);
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexval(t[i + 2 + k]);
                FUZZ_CHECK(h >= 0, "bad \\u escape");
                cp = cp << 4 | (unsigned)h;
            }
            /* The encoder escapes only control characters. */
            FUZZ_CHECK(cp < 0x20, "needless \\u%04x", cp);
            o += put_utf8(out + o, cp);
            i += 6;
            continue;
        }
        size_t len = valid_seq(t + i, n - 1 - i);
        FUZZ_CHECK(len > 0, "invalid UTF-8 in the output at %zu", i);
        memcpy(out + o, t + i, len);
        o += len;
        i += len;
    }
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tlm__buf b;
    memset(&b, 0, sizeof(b));
    char *in = fuzz_memdup(data, size);
    tlm__buf_json_string(&b, in, size);
    FUZZ_CHECK(!b.failed && b.data != NULL, "encoder failed");
    FUZZ_CHECK(strlen(b.data) == b.len, "NUL inside the output");

    /* Expected text: the input with each invalid byte as U+FFFD. */
    unsigned char *want = malloc(size * 3 + 1);
    size_t wn = 0;
    bool valid = true;
    FUZZ_CHECK(want != NULL, "malloc");
    for (size_t i = 0; i < size;) {
        size_t len = valid_seq(data + i, size - i);
        if (len == 0) {
            memcpy(want + wn, "\xef\xbf\xbd", 3);
            wn += 3;
            i++;
            valid = false;
        } else {
            memcpy(want + wn, data + i, len);
            wn += len;
            i += len;
        }
    }
    unsigned char *got = malloc(b.len + 1);
    FUZZ_CHECK(got != NULL, "malloc");
    size_t gn = strict_decode((const unsigned char *)b.data, b.len, got);
    FUZZ_CHECK(gn == wn && memcmp(got, want, wn) == 0,
        "decoded text differs from the %s input", valid ? "valid" : "invalid");

    cJSON *j = cJSON_ParseWithLength(b.data, b.len);
    FUZZ_CHECK(cJSON_IsString(j), "cJSON refuses %s", b.data);
    size_t clen = strlen(j->valuestring);
    size_t upto = strnlen((const char *)want, wn);
    FUZZ_CHECK(clen == upto && memcmp(j->valuestring, want, upto) == 0,
        "cJSON decodes a different string");
    cJSON_Delete(j);

    free(got);
    free(want);
    free(in);
    tlm__buf_free(&b);
    return 0;
}
