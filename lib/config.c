/*
 * config.c - applies the JSON configuration document to a tlm_options.
 *
 * All or nothing: values are applied to a copy, which replaces the caller's
 * object only when the whole document is valid. Errors name the key.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Sections of the shared document that belong to the server or to later
 * SDK features: accepted without a warning. */
static const char *const other_sections[] = {
    "feedback",
    "error_tracking",
    "feature_requests",
    "analytics",
    "server",
};

/* Keys of the `telemetry` section this version reads elsewhere or not yet:
 * accepted, reported once as not applied. */
static const char *const later_keys[] = {
    "retention_period_days",
};

enum kind { K_STR, K_U32, K_BOOL };

struct key {
    const char *name;
    enum kind kind;
    int (*set_str)(tlm_options *, const char *);
    int (*set_u32)(tlm_options *, uint32_t);
    int (*set_bool)(tlm_options *, int);
};

static int
set_batch_bytes(tlm_options *o, uint32_t v)
{
    return tlm_options_set_max_batch_bytes(o, v);
}

static const struct key keys[] = {
    {"endpoint", K_STR, tlm_options_set_endpoint, NULL, NULL},
    {"api_key", K_STR, tlm_options_set_api_key, NULL, NULL},
    {"environment", K_STR, tlm_options_set_environment, NULL, NULL},
    {"access_tier", K_STR, tlm_options_set_access_tier, NULL, NULL},
    {"ca_bundle", K_STR, tlm_options_set_ca_bundle, NULL, NULL},
    {"flush_interval_ms", K_U32, NULL, tlm_options_set_flush_interval_ms, NULL},
    {"max_batch_events", K_U32, NULL, tlm_options_set_max_batch_events, NULL},
    {"max_batch_bytes", K_U32, NULL, set_batch_bytes, NULL},
    {"max_queue_events", K_U32, NULL, tlm_options_set_max_queue_events, NULL},
    {"shutdown_timeout_ms", K_U32, NULL, tlm_options_set_shutdown_timeout_ms,
        NULL},
    {"connect_timeout_ms", K_U32, NULL, tlm_options_set_connect_timeout_ms,
        NULL},
    {"transfer_timeout_ms", K_U32, NULL, tlm_options_set_transfer_timeout_ms,
        NULL},
    {"max_inflight", K_U32, NULL, tlm_options_set_max_inflight, NULL},
    {"max_retries", K_U32, NULL, tlm_options_set_max_retries, NULL},
    {"compression", K_BOOL, NULL, NULL, tlm_options_set_compression},
    {"enabled", K_BOOL, NULL, NULL, tlm_options_set_enabled},
};

static bool
in_list(const char *name, const char *const *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static void
add_warning(tlm_options *o, const char *fmt, const char *a, const char *b)
{
    char line[256];
    size_t old = strlen(o->warnings), n, i;
    char *grown;

    n = (size_t)snprintf(line, sizeof(line), fmt, a, b);
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    /* Names come from the document: a control byte in one must not split
     * the warning into lines or forge another (found by fuzz_config). */
    for (i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    tlm__log(o->logger, o->logger_data, TLM_LOG_WARN, "%s", line);
    grown = tlm__realloc(o->warnings, old + n + 2);
    if (grown == NULL)
        return; /* the warning was still logged */
    memcpy(grown + old, line, n);
    grown[old + n] = '\n';
    grown[old + n + 1] = '\0';
    o->warnings = grown;
}

static int
apply_key(tlm_options *o, const struct key *k, const cJSON *v)
{
    double d;

    switch (k->kind) {
    case K_STR:
        if (!cJSON_IsString(v) && !cJSON_IsNull(v)) {
            tlm__options_seterr(o, "telemetry.%s: expected a string", k->name);
            return TLM_ECONFIG;
        }
        return k->set_str(o, cJSON_IsNull(v) ? NULL : v->valuestring);
    case K_U32:
        d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
        if (!cJSON_IsNumber(v) || d < 0 || d > 4294967295.0 || floor(d) != d) {
            tlm__options_seterr(o,
                "telemetry.%s: expected a non-negative "
                "integer",
                k->name);
            return TLM_ECONFIG;
        }
        return k->set_u32(o, (uint32_t)d);
    case K_BOOL:
        if (!cJSON_IsBool(v)) {
            tlm__options_seterr(
                o, "telemetry.%s: expected true or false", k->name);
            return TLM_ECONFIG;
        }
        return k->set_bool(o, cJSON_IsTrue(v));
    }
    return TLM_ECONFIG;
}

/* A setter's own message says "key: ..."; prefix the section. */
static void
prefix_error(tlm_options *o)
{
    char msg[sizeof(o->last_error) + 16];

    if (strncmp(o->last_error, "telemetry.", 10) == 0)
        return;
    snprintf(msg, sizeof(msg), "telemetry.%s", o->last_error);
    memcpy(o->last_error, msg, sizeof(o->last_error) - 1);
    o->last_error[sizeof(o->last_error) - 1] = '\0';
}

int tlm__config_privacy(
    tlm_options *o, const cJSON *sec, const cJSON *v, bool *handled);
int tlm__config_spool(tlm_options *o, const cJSON *v, bool *handled);

static int
apply_telemetry(tlm_options *o, const cJSON *sec)
{
    const cJSON *item;
    size_t i, nkeys = sizeof(keys) / sizeof(keys[0]);
    bool handled;
    int rc;

    if (!cJSON_IsObject(sec)) {
        tlm__options_seterr(o, "telemetry: expected an object");
        return TLM_ECONFIG;
    }
    cJSON_ArrayForEach(item, sec)
    {
        rc = tlm__config_privacy(o, sec, item, &handled);
        if (rc == 0 && !handled)
            rc = tlm__config_spool(o, item, &handled);
        if (rc != 0)
            return rc;
        if (handled)
            continue;
        for (i = 0; i < nkeys; i++)
            if (strcmp(item->string, keys[i].name) == 0)
                break;
        if (i < nkeys) {
            rc = apply_key(o, &keys[i], item);
            if (rc == TLM_EINVAL) {
                prefix_error(o);
                rc = TLM_ECONFIG;
            }
            if (rc != 0)
                return rc;
        } else if (in_list(item->string, later_keys,
                       sizeof(later_keys) / sizeof(later_keys[0]))) {
            add_warning(o,
                "telemetry.%s: not supported by libtelemetry "
                "%s yet, ignored",
                item->string, TLM_VERSION_STRING);
        } else {
            add_warning(
                o, "telemetry.%s: unknown key, ignored%s", item->string, "");
        }
    }
    return 0;
}

static int
apply_document(tlm_options *o, const cJSON *root)
{
    const cJSON *sec;
    size_t nsec = sizeof(other_sections) / sizeof(other_sections[0]);

    if (!cJSON_IsObject(root)) {
        tlm__options_seterr(o, "configuration: expected a JSON object");
        return TLM_ECONFIG;
    }
    cJSON_ArrayForEach(sec, root)
    {
        if (strcmp(sec->string, "telemetry") == 0) {
            int rc = apply_telemetry(o, sec);
            if (rc != 0)
                return rc;
        } else if (!in_list(sec->string, other_sections, nsec)) {
            add_warning(o, "%s: unknown section, ignored%s", sec->string, "");
        }
    }
    return 0;
}

static int
load_string(tlm_options *o, const char *json)
{
    tlm_options work;
    cJSON *root = NULL;
    const char *where;
    int rc;

    if (o == NULL || json == NULL)
        return TLM_EINVAL;
    rc = tlm__options_copy(&work, o);
    if (rc != 0)
        return rc;
    work.warnings = tlm__strdup("");
    if (work.warnings == NULL) {
        rc = TLM_ENOMEM;
        goto out;
    }
    /* Require the document to end after its value: trailing garbage
     * usually means two documents were concatenated by mistake. */
    root = cJSON_ParseWithOpts(json, &where, 1);
    if (root == NULL) {
        tlm__options_seterr(o,
            "configuration: not valid JSON near "
            "byte %ld",
            where ? (long)(where - json) : 0L);
        rc = TLM_ECONFIG;
        goto out;
    }
    rc = apply_document(&work, root);
    if (rc != 0) {
        memcpy(o->last_error, work.last_error, sizeof(o->last_error));
        goto out;
    }
    work.last_error[0] = '\0';
    tlm__options_clear(o);
    *o = work;
    memset(&work, 0, sizeof(work));
out:
    cJSON_Delete(root);
    tlm__options_clear(&work);
    return rc;
}

static int
load_file(tlm_options *o, const char *path)
{
    FILE *f = NULL;
    char *text = NULL;
    char msg[128];
    struct stat st;
    long size;
    int rc = TLM_EIO;

    if (o == NULL || path == NULL)
        return TLM_EINVAL;
    f = fopen(path, "rb");
    if (f == NULL) {
        /* GNU strerror_r: thread-safe, returns the message. */
        tlm__options_seterr(
            o, "%s: %s", path, strerror_r(errno, msg, sizeof(msg)));
        goto out;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        tlm__options_seterr(o, "%s: not a regular file", path);
        goto out;
    }
    size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        tlm__options_seterr(o, "%s: cannot determine size", path);
        goto out;
    }
    if (size > (16L << 20)) {
        tlm__options_seterr(o, "%s: larger than 16 MiB", path);
        rc = TLM_ECONFIG;
        goto out;
    }
    text = tlm__malloc((size_t)size + 1);
    if (text == NULL) {
        rc = TLM_ENOMEM;
        goto out;
    }
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        tlm__options_seterr(o, "%s: read error", path);
        goto out;
    }
    text[size] = '\0';
    rc = load_string(o, text);
out:
    if (f != NULL)
        fclose(f);
    tlm__free(text);
    return rc;
}

/* Options live on the C library's heap (see options.c). */
int
tlm_options_load_string(tlm_options *o, const char *json)
{
    tlm__alloc_scope scope;
    int rc;

    tlm__alloc_enter(&scope, NULL);
    rc = load_string(o, json);
    tlm__alloc_leave(&scope);
    return rc;
}

int
tlm_options_load_file(tlm_options *o, const char *path)
{
    tlm__alloc_scope scope;
    int rc;

    tlm__alloc_enter(&scope, NULL);
    rc = load_file(o, path);
    tlm__alloc_leave(&scope);
    return rc;
}
