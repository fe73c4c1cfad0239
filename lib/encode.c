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

/* "fingerprint": one string, or an array of its NUL-separated parts. */
static void
put_fingerprint(tlm__buf *b, const tlm_event *ev)
{
    const char *part = ev->efield[TLM__EFIELD_FINGERPRINT];
    uint32_t i;

    if (part == NULL || ev->n_fingerprint == 0)
        return;
    tlm__buf_puts(
        b, ev->n_fingerprint == 1 ? ",\"fingerprint\":" : ",\"fingerprint\":[");
    for (i = 0; i < ev->n_fingerprint; i++) {
        if (i > 0)
            tlm__buf_append(b, ",", 1);
        tlm__buf_json_string(b, part, strlen(part));
        part += strlen(part) + 1;
    }
    if (ev->n_fingerprint > 1)
        tlm__buf_append(b, "]", 1);
}

static void
put_efield(tlm__buf *b, const char *key, const tlm_event *ev, int f)
{
    if (ev->efield[f] == NULL)
        return;
    tlm__buf_append(b, ",\"", 2);
    tlm__buf_puts(b, key);
    tlm__buf_append(b, "\":", 2);
    tlm__buf_json_string(b, ev->efield[f], ev->efield_len[f]);
}

/* The fields only error events have. */
static void
put_error(tlm__buf *b, const tlm_event *ev)
{
    put_efield(b, "error_code", ev, TLM__EFIELD_CODE);
    put_efield(b, "error_message", ev, TLM__EFIELD_MESSAGE);
    put_efield(b, "stack_trace", ev, TLM__EFIELD_STACK);
    put_efield(b, "impact", ev, TLM__EFIELD_IMPACT);
    put_fingerprint(b, ev);
    if (ev->request_id[0] != '\0')
        put_str_field(b, "request_id", ev->request_id);
}

int
tlm__encode_event(tlm__buf *b, const tlm_event *ev, const char *client_info)
{
    bool error = ev->type == TLM__EV_ERROR;
    char ts[25];
    int rc = 0;

    tlm__format_rfc3339(ev->ts_ms, ts);
    tlm__buf_puts(b,
        error ? "{\"type\":\"error\",\"id\":\""
              : "{\"type\":\"request\",\"id\":\"");
    tlm__buf_puts(b, ev->id);
    tlm__buf_puts(b, "\",\"timestamp\":\"");
    tlm__buf_puts(b, ts);
    tlm__buf_append(b, "\"", 1);
    put_str_field(b, "environment", ev->environment);
    tlm__buf_printf(b, ",\"sample_rate\":%.6g", ev->sample_rate);
    put_str_field(b, "endpoint", ev->field[TLM__FIELD_ENDPOINT]);
    put_str_field(b, "method", ev->field[TLM__FIELD_METHOD]);
    if (error) {
        put_error(b, ev);
    } else {
        tlm__buf_printf(b, ",\"response_status\":%d", (int)ev->status);
        put_latency(b, ev->response_time_ms);
    }
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
