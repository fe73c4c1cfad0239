/*
 * encode.c - JSON serialization of events and gzip of batch bodies.
 *
 * Runs on the worker thread only. Output is always valid JSON and valid
 * UTF-8 whatever the input bytes: invalid sequences become U+FFFD.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

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

static void
put_str_field(tlm__buf *b, const char *key, const char *value)
{
    if (value == NULL)
        return;
    tlm__buf_append(b, ",\"", 2);
    tlm__buf_puts(b, key);
    tlm__buf_append(b, "\":", 2);
    tlm__buf_json_string(b, value, strlen(value));
}

/* Appends request_details re-printed compactly; TLM_EINVAL if not an
 * object (then nothing is appended). */
static int
put_details(tlm__buf *b, const char *text)
{
    cJSON *obj = cJSON_ParseWithLength(text, strlen(text));
    char *printed = NULL;
    int rc = TLM_EINVAL;

    if (obj == NULL || !cJSON_IsObject(obj))
        goto out;
    printed = cJSON_PrintUnformatted(obj);
    if (printed == NULL) {
        rc = TLM_ENOMEM;
        goto out;
    }
    tlm__buf_puts(b, ",\"request_details\":");
    tlm__buf_puts(b, printed);
    rc = 0;
out:
    cJSON_free(printed);
    cJSON_Delete(obj);
    return rc;
}

/* JSON has no infinity or NaN (tlm_track_request refuses them; a hook
 * could not set them, but stay valid anyway), and %.3f would print
 * hundreds of digits for huge values. */
static void
put_latency(tlm__buf *b, double ms)
{
    if (!isfinite(ms))
        tlm__buf_puts(b, ",\"response_time\":null");
    else if (ms < 1e12 && ms > -1e12)
        tlm__buf_printf(b, ",\"response_time\":%.3f", ms);
    else
        tlm__buf_printf(b, ",\"response_time\":%.17g", ms);
}

int
tlm__encode_event(tlm__buf *b, const tlm_event *ev, const char *client_info)
{
    char ts[25];
    int rc = 0;

    tlm__format_rfc3339(ev->ts_ms, ts);
    tlm__buf_puts(b, "{\"type\":\"request\",\"id\":\"");
    tlm__buf_puts(b, ev->id);
    tlm__buf_puts(b, "\",\"timestamp\":\"");
    tlm__buf_puts(b, ts);
    tlm__buf_append(b, "\"", 1);
    put_str_field(b, "environment", ev->environment);
    tlm__buf_printf(b, ",\"sample_rate\":%.6g", ev->sample_rate);
    put_str_field(b, "endpoint", ev->field[TLM__FIELD_ENDPOINT]);
    put_str_field(b, "method", ev->field[TLM__FIELD_METHOD]);
    tlm__buf_printf(b, ",\"response_status\":%d", (int)ev->status);
    put_latency(b, ev->response_time_ms);
    put_str_field(b, "user_id", ev->field[TLM__FIELD_USER_ID]);
    put_str_field(b, "organization_id", ev->field[TLM__FIELD_ORG_ID]);
    put_str_field(b, "access_tier", ev->field[TLM__FIELD_TIER]);
    if (ev->field[TLM__FIELD_DETAILS] != NULL && ev->details_verbatim) {
        tlm__buf_puts(b, ",\"request_details\":");
        tlm__buf_puts(b, ev->field[TLM__FIELD_DETAILS]);
    } else if (ev->field[TLM__FIELD_DETAILS] != NULL) {
        rc = put_details(b, ev->field[TLM__FIELD_DETAILS]);
    }
    if (client_info != NULL) {
        tlm__buf_puts(b, ",\"client_info\":");
        tlm__buf_puts(b, client_info);
    }
    tlm__buf_append(b, "}", 1);
    return b->failed ? TLM_ENOMEM : rc;
}

int
tlm__gzip(const char *in, size_t n, int level, char **out, size_t *out_len)
{
    z_stream zs;
    uLong bound;
    char *dst;
    int zrc;

    *out = NULL;
    *out_len = 0;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = tlm__zalloc;
    zs.zfree = tlm__zfree;
    /* 15 + 16: a gzip wrapper, not zlib's own. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
        != Z_OK)
        return TLM_ENOMEM;
    bound = deflateBound(&zs, (uLong)n);
    dst = tlm__malloc(bound);
    if (dst == NULL) {
        deflateEnd(&zs);
        return TLM_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)dst;
    zs.avail_out = (uInt)bound;
    zrc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END) {
        tlm__free(dst);
        return TLM_ENOMEM;
    }
    *out = dst;
    return 0;
}
