/*
 * buf.c - the growable byte buffer (tlm__buf) and UTF-8 / JSON string
 * helpers shared by the encoder, the scrubber and telemetry-server (which
 * links this file with the scrubber for its second privacy pass).
 *
 * Allocates only through tlm__realloc (the calling thread's allocator
 * scope). A failed allocation marks the buffer failed, never aborts.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool
tlm__buf_reserve(tlm__buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->failed || extra > SIZE_MAX / 2 - b->len)
        return false;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = tlm__realloc(b->data, cap);
    if (p == NULL)
        return false;
    b->data = p;
    b->cap = cap;
    return true;
}

void
tlm__buf_append(tlm__buf *b, const char *s, size_t n)
{
    if (!tlm__buf_reserve(b, n)) {
        b->failed = true; /* contents are incomplete from here on */
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
tlm__buf_puts(tlm__buf *b, const char *s)
{
    tlm__buf_append(b, s, strlen(s));
}

void
tlm__buf_printf(tlm__buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    tlm__buf_append(
        b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void
tlm__buf_free(tlm__buf *b)
{
    tlm__free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
size_t
tlm__utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len, i;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void
tlm__buf_json_string(tlm__buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0, len;
    char esc[7];

    tlm__buf_append(b, "\"", 1);
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            run++, i++;
            continue;
        }
        tlm__buf_append(b, (const char *)s + i - run, run);
        run = 0;
        if (c >= 0x80) {
            len = tlm__utf8_seq_len(s + i, n - i);
            if (len == 0) {
                tlm__buf_append(b, "\xef\xbf\xbd", 3);
                i++;
            } else {
                tlm__buf_append(b, (const char *)s + i, len);
                i += len;
            }
            continue;
        }
        esc[0] = '\\';
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            tlm__buf_append(b, esc, 2);
        } else if (c == '\n' || c == '\t' || c == '\r') {
            esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
            tlm__buf_append(b, esc, 2);
        } else {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            tlm__buf_append(b, esc, 6);
        }
        i++;
    }
    tlm__buf_append(b, (const char *)s + i - run, run);
    tlm__buf_append(b, "\"", 1);
}
