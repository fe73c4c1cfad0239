/* Per-event schema checks for "request" and "error" events (DESIGN.md wire
 * format). Each check names its field in the reason so an SDK author can fix
 * the producer from the receipt alone. Pure: no allocation, no I/O. */
#include "event.h"

#include "rfc3339.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

bool
tlm__event_uuid_valid(const char *s, size_t len)
{
    if (s == NULL || len != TLM_EVENT_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* The members validation reads, found in one walk over the event's members
 * instead of one cJSON_GetObjectItemCaseSensitive walk per field. The first
 * occurrence of a key wins, as with that lookup. */
enum field {
    F_TYPE,
    F_ID,
    F_TIMESTAMP,
    F_ENVIRONMENT,
    F_SAMPLE_RATE,
    F_USER_ID,
    F_ORGANIZATION_ID,
    F_ACCESS_TIER,
    F_REQUEST_DETAILS,
    F_CLIENT_INFO,
    F_ENDPOINT,
    F_METHOD,
    F_RESPONSE_STATUS,
    F_RESPONSE_TIME,
    F_ERROR_MESSAGE,
    F_ERROR_CODE,
    F_STACK_TRACE,
    F_IMPACT,
    F_FINGERPRINT,
    F_N
};

static const char *const field_names[F_N]
    = {"type", "id", "timestamp", "environment", "sample_rate", "user_id",
        "organization_id", "access_tier", "request_details", "client_info",
        "endpoint", "method", "response_status", "response_time",
        "error_message", "error_code", "stack_trace", "impact", "fingerprint"};

static const char *const impacts[4] = {"low", "medium", "high", "critical"};

/* "fingerprint": a string, or an array of 1..8 strings, each 1..256 bytes. */
static bool
fingerprint_valid(const cJSON *fp)
{
    int n = 0;
    const cJSON *v;
    if (cJSON_IsString(fp))
        return fp->valuestring[0] != '\0'
            && strlen(fp->valuestring) <= TLM_EVENT_MAX_FINGERPRINT;
    if (!cJSON_IsArray(fp))
        return false;
    cJSON_ArrayForEach(v, fp)
    {
        if (++n > 8 || !cJSON_IsString(v) || v->valuestring[0] == '\0'
            || strlen(v->valuestring) > TLM_EVENT_MAX_FINGERPRINT)
            return false;
    }
    return n > 0;
}

static void
collect(const cJSON *obj, const cJSON *f[F_N])
{
    for (int i = 0; i < F_N; i++)
        f[i] = NULL;
    for (const cJSON *m = obj->child; m != NULL && m->string != NULL;
         m = m->next) {
        for (int i = 0; i < F_N; i++) {
            if (field_names[i][0] == m->string[0] && f[i] == NULL
                && strcmp(field_names[i], m->string) == 0) {
                f[i] = m;
                break;
            }
        }
    }
}

static int
fail(char *reason, size_t size, const char *msg)
{
    snprintf(reason, size, "%s", msg);
    return -1;
}

/* Optional string field of at most max bytes: absent or null leaves *out
 * NULL. Returns 0, or -1 with a reason. */
static int
opt_string(const cJSON *const *f, enum field k, size_t max, const char **out,
    char *reason, size_t size)
{
    const cJSON *it = f[k];
    const char *key = field_names[k];
    *out = NULL;
    if (it == NULL || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it) || strlen(it->valuestring) > max) {
        snprintf(
            reason, size, "%s: expected string of at most %zu bytes", key, max);
        return -1;
    }
    *out = it->valuestring;
    return 0;
}

static int
opt_object(const cJSON *const *f, enum field k, char *reason, size_t size)
{
    const cJSON *it = f[k];
    const char *key = field_names[k];
    if (it == NULL || cJSON_IsNull(it) || cJSON_IsObject(it))
        return 0;
    snprintf(reason, size, "%s: expected object", key);
    return -1;
}

static int
check_common(
    const cJSON *const *obj, struct tlm__event *ev, char *reason, size_t size)
{
    const cJSON *id = obj[F_ID];
    if (!cJSON_IsString(id)
        || !tlm__event_uuid_valid(id->valuestring, strlen(id->valuestring)))
        return fail(reason, size, "id: expected canonical UUID string");
    for (size_t i = 0; i < TLM_EVENT_ID_LEN; i++)
        ev->id[i] = (char)tolower((unsigned char)id->valuestring[i]);
    ev->id[TLM_EVENT_ID_LEN] = '\0';

    const cJSON *ts = obj[F_TIMESTAMP];
    if (!cJSON_IsString(ts)
        || tlm__rfc3339_parse(
               ts->valuestring, strlen(ts->valuestring), &ev->ts_ms)
            != 0)
        return fail(reason, size, "timestamp: expected RFC 3339 string");

    const cJSON *env = obj[F_ENVIRONMENT];
    ev->environment = "production";
    if (env != NULL && !cJSON_IsNull(env)) {
        if (!cJSON_IsString(env)
            || (strcmp(env->valuestring, "production") != 0
                && strcmp(env->valuestring, "sandbox") != 0))
            return fail(reason, size,
                "environment: expected \"production\" or \"sandbox\"");
        ev->environment = env->valuestring;
    }

    const cJSON *sr = obj[F_SAMPLE_RATE];
    ev->sample_rate = 1.0;
    if (sr != NULL && !cJSON_IsNull(sr)) {
        if (!cJSON_IsNumber(sr) || !(sr->valuedouble > 0.0)
            || sr->valuedouble > 1.0)
            return fail(reason, size, "sample_rate: expected number in (0, 1]");
        ev->sample_rate = sr->valuedouble;
    }
    return 0;
}

static int
check_identity(
    const cJSON *const *obj, struct tlm__event *ev, char *reason, size_t size)
{
    if (opt_string(
            obj, F_USER_ID, TLM_EVENT_MAX_SHORT, &ev->user_id, reason, size)
            != 0
        || opt_string(obj, F_ORGANIZATION_ID, TLM_EVENT_MAX_SHORT,
               &ev->organization_id, reason, size)
            != 0
        || opt_string(obj, F_ACCESS_TIER, TLM_EVENT_MAX_SHORT, &ev->access_tier,
               reason, size)
            != 0)
        return -1;
    if (opt_object(obj, F_REQUEST_DETAILS, reason, size) != 0
        || opt_object(obj, F_CLIENT_INFO, reason, size) != 0)
        return -1;
    return 0;
}

static int
check_endpoint(const cJSON *const *obj, bool required, struct tlm__event *ev,
    char *reason, size_t size)
{
    const cJSON *it = obj[F_ENDPOINT];
    ev->endpoint = NULL;
    if (!required && (it == NULL || cJSON_IsNull(it)))
        return 0;
    if (!cJSON_IsString(it) || it->valuestring[0] == '\0'
        || strlen(it->valuestring) > TLM_EVENT_MAX_ENDPOINT)
        return fail(reason, size,
            "endpoint: expected non-empty string of at most 1024 "
            "bytes");
    ev->endpoint = it->valuestring;
    return 0;
}

static int
check_request(
    const cJSON *const *obj, struct tlm__event *ev, char *reason, size_t size)
{
    if (check_endpoint(obj, true, ev, reason, size) != 0)
        return -1;
    if (opt_string(obj, F_METHOD, 16, &ev->method, reason, size) != 0)
        return -1;

    /* 0 is the SDK's "no HTTP response" (a network error, telemetry.h). */
    const cJSON *st = obj[F_RESPONSE_STATUS];
    if (!cJSON_IsNumber(st) || st->valuedouble != floor(st->valuedouble)
        || (st->valuedouble != 0
            && (st->valuedouble < 100 || st->valuedouble > 599)))
        return fail(reason, size,
            "response_status: expected integer 0 (no response) or 100..599");
    ev->has_status = true;
    ev->status = (int)st->valuedouble;

    const cJSON *rt = obj[F_RESPONSE_TIME];
    if (!cJSON_IsNumber(rt) || !isfinite(rt->valuedouble)
        || rt->valuedouble < 0)
        return fail(reason, size,
            "response_time: expected number of milliseconds >= 0");
    ev->has_response_time = true;
    ev->response_time_ms = rt->valuedouble;
    return 0;
}

static int
check_error(
    const cJSON *const *obj, struct tlm__event *ev, char *reason, size_t size)
{
    const char *impact;
    if (check_endpoint(obj, false, ev, reason, size) != 0)
        return -1;
    const cJSON *msg = obj[F_ERROR_MESSAGE];
    if (!cJSON_IsString(msg) || strlen(msg->valuestring) > TLM_EVENT_MAX_TEXT)
        return fail(reason, size,
            "error_message: expected string of at most 65536 bytes");
    ev->error_message = msg->valuestring;
    if (opt_string(obj, F_ERROR_CODE, TLM_EVENT_MAX_SHORT, &ev->error_code,
            reason, size)
            != 0
        || opt_string(obj, F_STACK_TRACE, TLM_EVENT_MAX_TEXT, &ev->stack_trace,
               reason, size)
            != 0
        || opt_string(obj, F_IMPACT, TLM_EVENT_MAX_SHORT, &impact, reason, size)
            != 0)
        return -1;
    ev->severity = -1;
    for (int i = 0; impact != NULL && i < 4; i++) {
        if (strcmp(impact, impacts[i]) == 0)
            ev->severity = i;
    }
    if (impact != NULL && ev->severity < 0)
        return fail(
            reason, size, "impact: expected low, medium, high or critical");
    const cJSON *fp = obj[F_FINGERPRINT];
    if (fp != NULL && !cJSON_IsNull(fp)) {
        if (!fingerprint_valid(fp))
            return fail(reason, size,
                "fingerprint: expected a string or an array of 1..8 strings "
                "of 1..256 bytes");
        ev->fingerprint = fp;
    }
    return 0;
}

int
tlm__event_validate(
    const cJSON *item, struct tlm__event *ev, char *reason, size_t reason_size)
{
    memset(ev, 0, sizeof(*ev));
    if (!cJSON_IsObject(item))
        return fail(reason, reason_size, "event: expected object");
    const cJSON *f[F_N];
    collect(item, f);
    const cJSON *type = f[F_TYPE];
    if (!cJSON_IsString(type))
        return fail(reason, reason_size, "type: expected string");
    if (strcmp(type->valuestring, "request") == 0)
        ev->type = TLM_EVENT_REQUEST;
    else if (strcmp(type->valuestring, "error") == 0)
        ev->type = TLM_EVENT_ERROR;
    else
        return fail(reason, reason_size, "type: unknown event type");

    if (check_common(f, ev, reason, reason_size) != 0
        || check_identity(f, ev, reason, reason_size) != 0)
        return -1;
    if (ev->type == TLM_EVENT_REQUEST)
        return check_request(f, ev, reason, reason_size);
    return check_error(f, ev, reason, reason_size);
}

int
tlm__hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
tlm__uuid_bytes(const char *text, size_t len, unsigned char out[16])
{
    size_t k = 0;
    if (len != TLM_EVENT_ID_LEN)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return -1;
            continue;
        }
        int hi = tlm__hex_nibble(text[i]), lo = tlm__hex_nibble(text[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[k++] = (unsigned char)(hi << 4 | lo);
        i++;
    }
    return 0;
}
