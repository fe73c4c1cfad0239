/*
 * options.c - the tlm_options object: defaults, typed setters, copying.
 *
 * A setter either applies a valid value or leaves the object unchanged and
 * records why in last_error. No I/O here (config.c reads documents).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Endpoints, keys, paths: nothing legitimate comes near this. */
#define TLM__MAX_OPTION_STRING 8192

void
tlm__options_init(tlm_options *o)
{
    memset(o, 0, sizeof(*o));
    o->flush_interval_ms = 1000;
    o->max_batch_events = 500;
    o->max_batch_bytes = 512 * 1024;
    o->max_queue_events = 131072;
    o->shutdown_timeout_ms = 2000;
    o->connect_timeout_ms = 5000;
    o->transfer_timeout_ms = 30000;
    o->max_inflight = 4;
    o->max_retries = 20;
    o->compression = 1;
    o->enabled = 1;
    o->anonymize = 1;
    o->scrub = 1;
    o->sampling_rate = 1.0;
    o->error_sampling_rate = 1.0; /* errors are never sampled out */
    o->max_stack_frames = TLM__ERR_STACK_FRAMES;
    o->max_stack_bytes = TLM__ERR_STACK_BYTES;
}

void
tlm__options_seterr(tlm_options *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(o->last_error, sizeof(o->last_error), fmt, ap);
    va_end(ap);
}

/* An options object always lives on the C library's heap, whatever
 * allocator the calling thread is working under. */
static tlm_options *
options_new(void)
{
    tlm_options *o = tlm__malloc(sizeof(*o));

    if (o == NULL)
        return NULL;
    tlm__options_init(o);
    o->endpoint = tlm__strdup("http://127.0.0.1:8080");
    o->environment = tlm__strdup("production");
    o->binding = tlm__strdup("c");
    o->warnings = tlm__strdup("");
    if (!o->endpoint || !o->environment || !o->binding || !o->warnings) {
        tlm_options_free(o);
        return NULL;
    }
    return o;
}

void
tlm__options_clear(tlm_options *o)
{
    tlm__free(o->endpoint);
    tlm__free(o->api_key);
    tlm__free(o->environment);
    tlm__free(o->access_tier);
    tlm__free(o->binding);
    tlm__free(o->ca_bundle);
    tlm__free(o->spool_dir);
    tlm__free(o->warnings);
    tlm__privacy_options_clear(o);
    memset(o, 0, sizeof(*o));
}

tlm_options *
tlm_options_new(void)
{
    tlm__alloc_scope scope;
    tlm_options *o;

    tlm__alloc_enter(&scope, NULL);
    o = options_new();
    tlm__alloc_leave(&scope);
    return o;
}

void
tlm_options_free(tlm_options *o)
{
    tlm__alloc_scope scope;

    if (o == NULL)
        return;
    tlm__alloc_enter(&scope, NULL);
    tlm__options_clear(o);
    tlm__free(o);
    tlm__alloc_leave(&scope);
}

static int
dup_field(char **dst, const char *src)
{
    char *copy = NULL;

    if (src != NULL) {
        copy = tlm__strdup(src);
        if (copy == NULL)
            return TLM_ENOMEM;
    }
    tlm__free(*dst);
    *dst = copy;
    return 0;
}

int
tlm__options_copy(tlm_options *dst, const tlm_options *src)
{
    *dst = *src;
    dst->endpoint = dst->api_key = dst->environment = NULL;
    dst->access_tier = dst->binding = dst->ca_bundle = dst->warnings = NULL;
    dst->anon_salt = dst->details_allowlist = dst->state_dir = NULL;
    dst->spool_dir = NULL;
    dst->overrides = NULL;
    dst->n_overrides = 0;
    dst->patterns = NULL;
    dst->n_patterns = 0;
    if (dup_field(&dst->endpoint, src->endpoint)
        || dup_field(&dst->api_key, src->api_key)
        || dup_field(&dst->environment, src->environment)
        || dup_field(&dst->access_tier, src->access_tier)
        || dup_field(&dst->binding, src->binding)
        || dup_field(&dst->ca_bundle, src->ca_bundle)
        || dup_field(&dst->spool_dir, src->spool_dir)
        || tlm__privacy_options_copy(dst, src) != 0) {
        tlm__options_clear(dst);
        return TLM_ENOMEM;
    }
    return 0;
}

/* Values that end up in a URL or an HTTP header line: a CR or LF would
 * let a configuration value inject headers. */
static bool
has_control(const char *v)
{
    for (; *v != '\0'; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return true;
    return false;
}

int
tlm__options_set_string(tlm_options *o, char **field, const char *name,
    const char *v, bool allow_null)
{
    tlm__alloc_scope scope;
    int rc;

    if (o == NULL)
        return TLM_EINVAL;
    if (v == NULL ? !allow_null : *v == '\0') {
        tlm__options_seterr(o, "%s: must be a non-empty string", name);
        return TLM_EINVAL;
    }
    if (v != NULL && has_control(v)) {
        tlm__options_seterr(o, "%s: control characters are not allowed", name);
        return TLM_EINVAL;
    }
    if (v != NULL && strlen(v) > TLM__MAX_OPTION_STRING) {
        tlm__options_seterr(
            o, "%s: longer than %d bytes", name, TLM__MAX_OPTION_STRING);
        return TLM_EINVAL;
    }
    tlm__alloc_enter(&scope, NULL);
    rc = dup_field(field, v);
    tlm__alloc_leave(&scope);
    return rc;
}

static int
set_u32(tlm_options *o, uint32_t *field, const char *name, uint32_t v,
    uint32_t lo, uint32_t hi)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (v < lo || v > hi) {
        tlm__options_seterr(o, "%s: expected an integer %u..%u", name, lo, hi);
        return TLM_EINVAL;
    }
    *field = v;
    return 0;
}

int
tlm_options_set_endpoint(tlm_options *o, const char *url)
{
    size_t scheme = 0;

    if (o != NULL && url != NULL) {
        if (strncmp(url, "http://", 7) == 0)
            scheme = 7;
        else if (strncmp(url, "https://", 8) == 0)
            scheme = 8;
        if (scheme == 0 || url[scheme] == '\0' || url[scheme] == '/') {
            tlm__options_seterr(o,
                "endpoint: expected an http:// or https:// URL with a "
                "host");
            return TLM_EINVAL;
        }
    }
    return tlm__options_set_string(
        o, o ? &o->endpoint : NULL, "endpoint", url, false);
}

int
tlm_options_set_api_key(tlm_options *o, const char *key)
{
    return tlm__options_set_string(
        o, o ? &o->api_key : NULL, "api_key", key, true);
}

int
tlm_options_set_flush_interval_ms(tlm_options *o, uint32_t ms)
{
    return set_u32(o, o ? &o->flush_interval_ms : NULL, "flush_interval_ms", ms,
        10, 3600000);
}

int
tlm_options_set_max_batch_events(tlm_options *o, uint32_t n)
{
    return set_u32(
        o, o ? &o->max_batch_events : NULL, "max_batch_events", n, 1, 10000);
}

int
tlm_options_set_max_batch_bytes(tlm_options *o, size_t n)
{
    uint32_t v = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    uint32_t tmp = 0;
    int rc = set_u32(o, &tmp, "max_batch_bytes", v, 1024, 64u << 20);

    if (rc == 0)
        o->max_batch_bytes = v;
    return rc;
}

int
tlm_options_set_max_queue_events(tlm_options *o, uint32_t n)
{
    return set_u32(o, o ? &o->max_queue_events : NULL, "max_queue_events", n,
        16, 1u << 24);
}

int
tlm_options_set_shutdown_timeout_ms(tlm_options *o, uint32_t ms)
{
    return set_u32(o, o ? &o->shutdown_timeout_ms : NULL, "shutdown_timeout_ms",
        ms, 0, 3600000);
}

int
tlm_options_set_environment(tlm_options *o, const char *env)
{
    if (o != NULL
        && (env == NULL
            || (strcmp(env, "sandbox") != 0
                && strcmp(env, "production") != 0))) {
        tlm__options_seterr(o,
            "environment: expected \"sandbox\" or "
            "\"production\"");
        return TLM_EINVAL;
    }
    return tlm__options_set_string(
        o, o ? &o->environment : NULL, "environment", env, false);
}

int
tlm_options_set_access_tier(tlm_options *o, const char *tier)
{
    return tlm__options_set_string(
        o, o ? &o->access_tier : NULL, "access_tier", tier, true);
}

int
tlm_options_set_binding(tlm_options *o, const char *name)
{
    return tlm__options_set_string(
        o, o ? &o->binding : NULL, "binding", name, false);
}

int
tlm_options_set_ca_bundle(tlm_options *o, const char *path)
{
    return tlm__options_set_string(
        o, o ? &o->ca_bundle : NULL, "ca_bundle", path, true);
}

int
tlm_options_set_connect_timeout_ms(tlm_options *o, uint32_t ms)
{
    return set_u32(o, o ? &o->connect_timeout_ms : NULL, "connect_timeout_ms",
        ms, 1, 600000);
}

int
tlm_options_set_transfer_timeout_ms(tlm_options *o, uint32_t ms)
{
    return set_u32(o, o ? &o->transfer_timeout_ms : NULL, "transfer_timeout_ms",
        ms, 1, 3600000);
}

int
tlm_options_set_max_inflight(tlm_options *o, uint32_t n)
{
    return set_u32(o, o ? &o->max_inflight : NULL, "max_inflight", n, 1, 64);
}

int
tlm_options_set_max_retries(tlm_options *o, uint32_t n)
{
    return set_u32(o, o ? &o->max_retries : NULL, "max_retries", n, 0, 1000);
}

int
tlm_options_set_compression(tlm_options *o, int enabled)
{
    if (o == NULL)
        return TLM_EINVAL;
    o->compression = enabled != 0;
    return 0;
}

int
tlm_options_set_enabled(tlm_options *o, int enabled)
{
    if (o == NULL)
        return TLM_EINVAL;
    o->enabled = enabled != 0;
    return 0;
}

int
tlm_options_set_logger(tlm_options *o, tlm_log_fn fn, void *userdata)
{
    if (o == NULL)
        return TLM_EINVAL;
    o->logger = fn;
    o->logger_data = fn ? userdata : NULL;
    return 0;
}

int
tlm_options_set_before_send(
    tlm_options *o, tlm_before_send_fn fn, void *userdata)
{
    if (o == NULL)
        return TLM_EINVAL;
    o->before_send = fn;
    o->before_send_data = fn ? userdata : NULL;
    return 0;
}

int
tlm_options_set_allocator(tlm_options *o, const tlm_allocator *a)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (a == NULL) {
        memset(&o->allocator, 0, sizeof(o->allocator));
        return 0;
    }
    if (a->size != sizeof(*a) || a->malloc_fn == NULL || a->realloc_fn == NULL
        || a->free_fn == NULL) {
        tlm__options_seterr(o, "allocator: wrong size or a NULL function");
        return TLM_EINVAL;
    }
    o->allocator = *a;
    return 0;
}

const char *
tlm_options_last_error(const tlm_options *o)
{
    return o ? o->last_error : "";
}

const char *
tlm_options_warnings(const tlm_options *o)
{
    return o && o->warnings ? o->warnings : "";
}
