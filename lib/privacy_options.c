/*
 * privacy_options.c - the privacy settings of tlm_options: anonymization,
 * scrubbing, request_details allow-list, sampling, state dir, consent.
 *
 * Like options.c: a setter applies a valid value or changes nothing and
 * records why. Options always live on the C library's heap.
 */
#include "internal.h"
#include "privacy.h"

#include <math.h>
#include <string.h>

#define TLM__MAX_OVERRIDES 256

static int
dup_or_null(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = tlm__strdup(src);
    return *dst ? 0 : TLM_ENOMEM;
}

int
tlm__privacy_options_copy(tlm_options *dst, const tlm_options *src)
{
    uint32_t i;

    dst->overrides = NULL;
    dst->n_overrides = 0;
    if (dup_or_null(&dst->anon_salt, src->anon_salt)
        || dup_or_null(&dst->details_allowlist, src->details_allowlist)
        || dup_or_null(&dst->state_dir, src->state_dir))
        return TLM_ENOMEM;
    if (src->n_patterns > 0) {
        dst->patterns = tlm__calloc(src->n_patterns, sizeof(tlm__pattern));
        if (dst->patterns == NULL)
            return TLM_ENOMEM;
        for (i = 0; i < src->n_patterns; i++) {
            dst->n_patterns = i + 1;
            if (dup_or_null(&dst->patterns[i].name, src->patterns[i].name)
                || dup_or_null(
                    &dst->patterns[i].pattern, src->patterns[i].pattern))
                return TLM_ENOMEM;
        }
    }
    if (src->n_overrides == 0)
        return 0;
    dst->overrides = tlm__calloc(src->n_overrides, sizeof(tlm__override));
    if (dst->overrides == NULL)
        return TLM_ENOMEM;
    for (i = 0; i < src->n_overrides; i++) {
        dst->overrides[i].rate = src->overrides[i].rate;
        dst->overrides[i].endpoint = tlm__strdup(src->overrides[i].endpoint);
        dst->n_overrides = i + 1; /* so that clear frees what was made */
        if (dst->overrides[i].endpoint == NULL)
            return TLM_ENOMEM;
    }
    return 0;
}

void
tlm__privacy_options_clear(tlm_options *o)
{
    uint32_t i;

    for (i = 0; i < o->n_patterns; i++) {
        tlm__free(o->patterns[i].name);
        tlm__free(o->patterns[i].pattern);
    }
    tlm__free(o->patterns);
    o->patterns = NULL;
    o->n_patterns = 0;
    for (i = 0; i < o->n_overrides; i++)
        tlm__free(o->overrides[i].endpoint);
    tlm__free(o->overrides);
    tlm__free(o->anon_salt);
    tlm__free(o->details_allowlist);
    tlm__free(o->state_dir);
    o->overrides = NULL;
    o->n_overrides = 0;
    o->anon_salt = o->details_allowlist = o->state_dir = NULL;
}

int
tlm_options_set_anonymization_salt(tlm_options *o, const char *salt)
{
    return tlm__options_set_string(
        o, o ? &o->anon_salt : NULL, "anonymization_salt", salt, true);
}

int
tlm_options_set_anonymization(tlm_options *o, int enabled, int acknowledged)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (!enabled && !acknowledged) {
        tlm__options_seterr(o,
            "anonymization_enabled: false requires "
            "anonymization_disabled_acknowledged: true");
        return TLM_EINVAL;
    }
    o->anonymize = enabled != 0;
    return 0;
}

int
tlm_options_set_scrubbing(tlm_options *o, int enabled)
{
    if (o == NULL)
        return TLM_EINVAL;
    o->scrub = enabled != 0;
    return 0;
}

int
tlm_options_set_details_allowlist(tlm_options *o, const char *keys)
{
    return tlm__options_set_string(o, o ? &o->details_allowlist : NULL,
        "request_details_allowlist", keys, true);
}

static bool
valid_rate(double rate)
{
    return rate > 0.0 && rate <= 1.0 && !isnan(rate);
}

int
tlm_options_set_sampling_rate(tlm_options *o, double rate)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (!valid_rate(rate)) {
        tlm__options_seterr(o, "sampling_rate: expected a number in (0, 1]");
        return TLM_EINVAL;
    }
    o->sampling_rate = rate;
    return 0;
}

static int
add_override(tlm_options *o, const char *endpoint, double rate)
{
    tlm__override *grown;
    char *copy = NULL;
    uint32_t i;
    int rc;

    if (o == NULL)
        return TLM_EINVAL;
    if (endpoint == NULL || *endpoint == '\0' || !valid_rate(rate)) {
        tlm__options_seterr(o,
            "sampling_overrides: expected an endpoint and a number in (0, 1]");
        return TLM_EINVAL;
    }
    for (i = 0; i < o->n_overrides; i++) {
        if (strcmp(o->overrides[i].endpoint, endpoint) == 0) {
            o->overrides[i].rate = rate;
            return 0;
        }
    }
    if (o->n_overrides >= TLM__MAX_OVERRIDES) {
        tlm__options_seterr(o, "sampling_overrides: more than %d endpoints",
            TLM__MAX_OVERRIDES);
        return TLM_EINVAL;
    }
    /* Validated and copied like every string option. */
    rc = tlm__options_set_string(
        o, &copy, "sampling_overrides", endpoint, false);
    if (rc != 0)
        return rc;
    grown = tlm__realloc(
        o->overrides, (o->n_overrides + 1) * sizeof(*o->overrides));
    if (grown == NULL) {
        tlm__free(copy);
        return TLM_ENOMEM;
    }
    o->overrides = grown;
    o->overrides[o->n_overrides].endpoint = copy;
    o->overrides[o->n_overrides].rate = rate;
    o->n_overrides++;
    return 0;
}

int
tlm_options_set_sampling_override(
    tlm_options *o, const char *endpoint, double rate)
{
    tlm__alloc_scope scope;
    int rc;

    tlm__alloc_enter(&scope, NULL); /* options live on the libc heap */
    rc = add_override(o, endpoint, rate);
    tlm__alloc_leave(&scope);
    return rc;
}

int
tlm_options_set_sampling_mode(tlm_options *o, int mode)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (mode != TLM_SAMPLE_RANDOM && mode != TLM_SAMPLE_BY_USER) {
        tlm__options_seterr(o,
            "sampling_mode: expected \"random\" or "
            "\"user\"");
        return TLM_EINVAL;
    }
    o->sampling_mode = mode;
    return 0;
}

int
tlm_options_set_state_dir(tlm_options *o, const char *path)
{
    return tlm__options_set_string(
        o, o ? &o->state_dir : NULL, "state_dir", path, true);
}

int
tlm_options_set_require_consent(tlm_options *o, int required)
{
    if (o == NULL)
        return TLM_EINVAL;
    o->require_consent = required != 0;
    return 0;
}

static bool
valid_name(const char *name)
{
    size_t n = 0;

    for (; name[n] != '\0'; n++)
        if (!((name[n] >= 'a' && name[n] <= 'z') || name[n] == '_'
                || (name[n] >= '0' && name[n] <= '9')))
            return false;
    return n > 0 && n < 32;
}

static int
add_pattern(tlm_options *o, const char *name, const char *pattern)
{
    char err[128];
    tlm__pattern *grown;
    char *n = NULL, *p = NULL;

    if (name == NULL || pattern == NULL || !valid_name(name)) {
        tlm__options_seterr(o,
            "scrub_patterns: expected a name of 1-31 characters a-z, 0-9, _ "
            "and a pattern");
        return TLM_EINVAL;
    }
    if (o->n_patterns >= 64) {
        tlm__options_seterr(o, "scrub_patterns: more than 64 patterns");
        return TLM_EINVAL;
    }
    /* regcomp's time and memory grow fast with the pattern (10 MiB: 25 s
     * and 2.2 GB), and each client compiles it again. */
    if (strlen(pattern) > 8192) {
        tlm__options_seterr(
            o, "scrub_patterns.%s: longer than 8192 bytes", name);
        return TLM_EINVAL;
    }
    if (tlm__custom_check(pattern, err, sizeof(err)) != 0) {
        tlm__options_seterr(o, "scrub_patterns.%s: %s", name, err);
        return TLM_EINVAL;
    }
    n = tlm__strdup(name);
    p = tlm__strdup(pattern);
    grown
        = tlm__realloc(o->patterns, (o->n_patterns + 1) * sizeof(*o->patterns));
    if (n == NULL || p == NULL || grown == NULL) {
        tlm__free(n);
        tlm__free(p);
        if (grown != NULL)
            o->patterns = grown;
        return TLM_ENOMEM;
    }
    o->patterns = grown;
    o->patterns[o->n_patterns].name = n;
    o->patterns[o->n_patterns].pattern = p;
    o->n_patterns++;
    return 0;
}

int
tlm_options_add_scrub_pattern(
    tlm_options *o, const char *name, const char *pattern)
{
    tlm__alloc_scope scope;
    int rc;

    if (o == NULL)
        return TLM_EINVAL;
    tlm__alloc_enter(&scope, NULL);
    rc = add_pattern(o, name, pattern);
    tlm__alloc_leave(&scope);
    return rc;
}
