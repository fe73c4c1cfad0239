/*
 * config_privacy.c - the privacy keys of the configuration document's
 * `telemetry` section (see docs/configuration.md).
 *
 * Called by config.c on a working copy of the options: an error here means
 * nothing of the document is applied.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <string.h>

static int
fail(tlm_options *o, const char *key, const char *what)
{
    tlm__options_seterr(o, "telemetry.%s: %s", key, what);
    return TLM_ECONFIG;
}

static int
from_setter(tlm_options *o, int rc)
{
    char msg[sizeof(o->last_error)];

    if (rc != TLM_EINVAL)
        return rc;
    memcpy(msg, o->last_error, sizeof(msg));
    tlm__options_seterr(o, "telemetry.%s", msg);
    return TLM_ECONFIG;
}

/* ["method", "path"] -> "method,path" */
static int
allowlist(tlm_options *o, const cJSON *v)
{
    tlm__buf b = {0};
    const cJSON *k;
    int rc;

    if (!cJSON_IsArray(v))
        return fail(
            o, "request_details_allowlist", "expected an array of strings");
    tlm__buf_puts(&b, "");
    cJSON_ArrayForEach(k, v)
    {
        if (!cJSON_IsString(k) || k->valuestring[0] == '\0'
            || strchr(k->valuestring, ',') != NULL) {
            tlm__buf_free(&b);
            return fail(o, "request_details_allowlist",
                "expected an array of non-empty strings without commas");
        }
        if (b.len > 0)
            tlm__buf_puts(&b, ",");
        tlm__buf_puts(&b, k->valuestring);
    }
    if (b.failed) {
        tlm__buf_free(&b);
        return TLM_ENOMEM;
    }
    /* An empty list keeps nothing: an unmatchable key says so. */
    rc = from_setter(
        o, tlm_options_set_details_allowlist(o, b.len ? b.data : " "));
    tlm__buf_free(&b);
    return rc;
}

static int
overrides(tlm_options *o, const cJSON *v)
{
    const cJSON *e;
    int rc;

    if (!cJSON_IsObject(v))
        return fail(
            o, "sampling_overrides", "expected an object of endpoint: rate");
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsNumber(e))
            return fail(o, "sampling_overrides",
                "expected a number in (0, 1] for each endpoint");
        rc = from_setter(
            o, tlm_options_set_sampling_override(o, e->string, e->valuedouble));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* {"order_id": "ORD-[0-9]{6}"} */
static int
patterns(tlm_options *o, const cJSON *v)
{
    const cJSON *e;
    int rc;

    if (!cJSON_IsObject(v))
        return fail(o, "scrub_patterns", "expected an object of name: regex");
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e))
            return fail(o, "scrub_patterns", "expected a regex string");
        rc = from_setter(
            o, tlm_options_add_scrub_pattern(o, e->string, e->valuestring));
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
anonymization(tlm_options *o, const cJSON *sec, const cJSON *v)
{
    const cJSON *ack = cJSON_GetObjectItemCaseSensitive(sec,
        "anonymization_disabled_"
        "acknowledged");

    if (!cJSON_IsBool(v))
        return fail(o, "anonymization_enabled", "expected true or false");
    if (ack != NULL && !cJSON_IsBool(ack))
        return fail(
            o, "anonymization_disabled_acknowledged", "expected true or false");
    return from_setter(o,
        tlm_options_set_anonymization(o, cJSON_IsTrue(v), cJSON_IsTrue(ack)));
}

static int
boolean(tlm_options *o, const cJSON *v, int (*set)(tlm_options *, int))
{
    if (!cJSON_IsBool(v))
        return fail(o, v->string, "expected true or false");
    return from_setter(o, set(o, cJSON_IsTrue(v)));
}

static int
string(tlm_options *o, const cJSON *v, int (*set)(tlm_options *, const char *))
{
    if (!cJSON_IsString(v) && !cJSON_IsNull(v))
        return fail(o, v->string, "expected a string");
    return from_setter(o, set(o, cJSON_IsNull(v) ? NULL : v->valuestring));
}

static int
sampling_mode(tlm_options *o, const cJSON *v)
{
    const char *s = cJSON_GetStringValue(v);

    if (s != NULL && strcmp(s, "random") == 0)
        return tlm_options_set_sampling_mode(o, TLM_SAMPLE_RANDOM);
    if (s != NULL && strcmp(s, "user") == 0)
        return tlm_options_set_sampling_mode(o, TLM_SAMPLE_BY_USER);
    return fail(o, "sampling_mode", "expected \"random\" or \"user\"");
}

static int
stack_cap(tlm_options *o, const cJSON *v)
{
    bool frames = strcmp(v->string, "max_stack_frames") == 0;

    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0) || v->valuedouble > 1e9
        || v->valuedouble != (double)(uint32_t)v->valuedouble)
        return fail(o, v->string,
            frames ? "expected an integer 1..256"
                   : "expected an integer 1024..65536");
    return from_setter(o,
        frames ? tlm_options_set_max_stack_frames(o, (uint32_t)v->valuedouble)
               : tlm_options_set_max_stack_bytes(o, (uint32_t)v->valuedouble));
}

int
tlm__config_privacy(
    tlm_options *o, const cJSON *sec, const cJSON *v, bool *handled)
{
    const char *k = v->string;

    *handled = true;
    if (strcmp(k, "anonymization_salt") == 0)
        return string(o, v, tlm_options_set_anonymization_salt);
    if (strcmp(k, "anonymization_enabled") == 0)
        return anonymization(o, sec, v);
    if (strcmp(k, "anonymization_disabled_acknowledged") == 0)
        return cJSON_IsBool(v) ? 0 : fail(o, k, "expected true or false");
    if (strcmp(k, "scrubbing_enabled") == 0)
        return boolean(o, v, tlm_options_set_scrubbing);
    if (strcmp(k, "require_consent") == 0)
        return boolean(o, v, tlm_options_set_require_consent);
    if (strcmp(k, "state_dir") == 0)
        return string(o, v, tlm_options_set_state_dir);
    if (strcmp(k, "request_details_allowlist") == 0)
        return allowlist(o, v);
    if (strcmp(k, "sampling_overrides") == 0)
        return overrides(o, v);
    if (strcmp(k, "scrub_patterns") == 0)
        return patterns(o, v);
    if (strcmp(k, "sampling_mode") == 0)
        return sampling_mode(o, v);
    if (strcmp(k, "error_sampling_rate") == 0) {
        if (!cJSON_IsNumber(v))
            return fail(o, k, "expected a number in (0, 1]");
        return from_setter(
            o, tlm_options_set_error_sampling_rate(o, v->valuedouble));
    }
    if (strcmp(k, "max_stack_frames") == 0 || strcmp(k, "max_stack_bytes") == 0)
        return stack_cap(o, v);
    if (strcmp(k, "sampling_rate") == 0) {
        if (!cJSON_IsNumber(v))
            return fail(o, k, "expected a number in (0, 1]");
        return from_setter(o, tlm_options_set_sampling_rate(o, v->valuedouble));
    }
    *handled = false;
    return 0;
}
