/*
 * spool_options.c - the spool settings of tlm_options (directory, size
 * cap, fsync policy) and their keys in the configuration document's
 * `telemetry` section (spool_dir, spool_max_bytes, spool_fsync).
 *
 * Like options.c: a setter applies a valid value or changes nothing and
 * records why; a config error applies nothing of the document.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <string.h>

#define TLM__SPOOL_MIN_BYTES 4096u
#define TLM__SPOOL_MAX_BYTES ((uint64_t)1 << 40)

int
tlm_options_set_spool_dir(tlm_options *o, const char *path)
{
    return tlm__options_set_string(
        o, o ? &o->spool_dir : NULL, "spool_dir", path, true);
}

int
tlm_options_set_spool_max_bytes(tlm_options *o, uint64_t bytes)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (bytes < TLM__SPOOL_MIN_BYTES || bytes > TLM__SPOOL_MAX_BYTES) {
        tlm__options_seterr(
            o, "spool_max_bytes: expected 4096 .. 1099511627776");
        return TLM_EINVAL;
    }
    o->spool_max_bytes = bytes;
    return 0;
}

int
tlm_options_set_spool_fsync(tlm_options *o, int policy)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (policy != TLM_FSYNC_BATCH && policy != TLM_FSYNC_ALWAYS
        && policy != TLM_FSYNC_NEVER) {
        tlm__options_seterr(o, "spool_fsync: expected always, batch or never");
        return TLM_EINVAL;
    }
    o->spool_fsync = policy;
    return 0;
}

static int
config_error(tlm_options *o, int rc)
{
    char msg[sizeof(o->last_error)];

    if (rc != TLM_EINVAL)
        return rc;
    memcpy(msg, o->last_error, sizeof(msg));
    tlm__options_seterr(o, "telemetry.%s", msg);
    return TLM_ECONFIG;
}

int
tlm__config_spool(tlm_options *o, const cJSON *v, bool *handled)
{
    const char *k = v->string;

    *handled = true;
    if (strcmp(k, "spool_dir") == 0) {
        if (!cJSON_IsString(v)) {
            tlm__options_seterr(o, "telemetry.spool_dir: expected a string");
            return TLM_ECONFIG;
        }
        return config_error(o, tlm_options_set_spool_dir(o, v->valuestring));
    }
    if (strcmp(k, "spool_max_bytes") == 0) {
        /* 2^64 and beyond do not convert (undefined behaviour): they go
         * to the setter as UINT64_MAX, which refuses with the range. */
        bool huge
            = cJSON_IsNumber(v) && v->valuedouble >= 18446744073709551616.0;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0)
            || (!huge && v->valuedouble != (double)(uint64_t)v->valuedouble)) {
            tlm__options_seterr(
                o, "telemetry.spool_max_bytes: expected a whole number");
            return TLM_ECONFIG;
        }
        return config_error(o,
            tlm_options_set_spool_max_bytes(
                o, huge ? UINT64_MAX : (uint64_t)v->valuedouble));
    }
    if (strcmp(k, "spool_fsync") == 0) {
        static const char *const names[] = {"batch", "always", "never"};
        for (int i = 0; cJSON_IsString(v) && i < 3; i++) {
            if (strcmp(v->valuestring, names[i]) == 0)
                return tlm_options_set_spool_fsync(o, i);
        }
        tlm__options_seterr(o,
            "telemetry.spool_fsync: expected \"always\", \"batch\" or "
            "\"never\"");
        return TLM_ECONFIG;
    }
    *handled = false;
    return 0;
}
