/*
 * scrub_custom.c - the user's own scrub patterns (POSIX extended regular
 * expressions from the configuration), applied after the built-in
 * detectors: each match becomes "[name]".
 *
 * Patterns are compiled once per client; matching runs on the worker
 * thread only. glibc's ERE matcher has no back-references here, so a
 * pattern cannot make matching exponential.
 */
#include "privacy.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

struct tlm__custom {
    regex_t re;
    char name[64];
};

int
tlm__custom_check(const char *pattern, char *err, size_t n)
{
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED);

    if (rc != 0) {
        regerror(rc, &re, err, n);
        return TLM_EINVAL;
    }
    regfree(&re);
    return 0;
}

int
tlm__custom_compile(const tlm_options *o, tlm__custom **out, size_t *count)
{
    tlm__custom *c;
    uint32_t i;

    *out = NULL;
    *count = 0;
    if (o->n_patterns == 0)
        return 0;
    c = tlm__calloc(o->n_patterns, sizeof(*c));
    if (c == NULL)
        return TLM_ENOMEM;
    for (i = 0; i < o->n_patterns; i++) {
        if (regcomp(&c[i].re, o->patterns[i].pattern, REG_EXTENDED) != 0) {
            tlm__custom_free(c, i);
            return TLM_ECONFIG; /* checked when set: out of memory */
        }
        snprintf(c[i].name, sizeof(c[i].name), "%s", o->patterns[i].name);
    }
    *out = c;
    *count = o->n_patterns;
    return 0;
}

void
tlm__custom_free(tlm__custom *c, size_t count)
{
    size_t i;

    for (i = 0; c != NULL && i < count; i++)
        regfree(&c[i].re);
    tlm__free(c);
}

/* One pattern over `in` into `out`. */
static int
apply_one(const tlm__custom *c, const char *in, tlm__buf *out)
{
    regmatch_t m;
    const char *p = in;
    int flags = 0;

    while (*p != '\0' && regexec(&c->re, p, 1, &m, flags) == 0) {
        if (m.rm_eo == m.rm_so) { /* empty match: step over one byte */
            tlm__buf_append(out, p, 1);
            p++;
            flags = REG_NOTBOL;
            continue;
        }
        tlm__buf_append(out, p, (size_t)m.rm_so);
        tlm__buf_printf(out, "[%s]", c->name);
        p += m.rm_eo;
        flags = REG_NOTBOL;
    }
    tlm__buf_puts(out, p);
    return out->failed ? TLM_ENOMEM : 0;
}

int
tlm__custom_apply(const tlm__custom *c, size_t count, const char *in,
    tlm__buf *tmp, tlm__buf *out)
{
    size_t i;
    int rc;

    out->len = 0;
    out->failed = false;
    tlm__buf_puts(out, in);
    for (i = 0; i < count; i++) {
        tmp->len = 0;
        tmp->failed = false;
        rc = apply_one(&c[i], out->data, tmp);
        if (rc != 0)
            return rc;
        out->len = 0;
        tlm__buf_append(out, tmp->data, tmp->len);
        if (out->failed)
            return TLM_ENOMEM;
    }
    return 0;
}
