/*
 * scrub_scan.h - what the scrubber's files share: the input cursor, a match,
 * ASCII classes and the detectors. Only lib/scrub*.c include it.
 */
#ifndef TLM_SCRUB_SCAN_H
#define TLM_SCRUB_SCAN_H

#include "scrub.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct tlm__scrub_scan {
    const unsigned char *s;
    size_t n;
    /* After a replacement, the byte before s[after] reads as the last byte
     * of the placeholder, as it will when the output is scrubbed again:
     * that keeps scrubbing idempotent (found by fuzz_scrub). */
    size_t after;
    unsigned char after_prev;
} tlm__scrub_scan;

/* What a detector found: s[start..vs) is kept, s[vs..ve) becomes `ph`. */
typedef struct tlm__scrub_match {
    size_t vs, ve;
    int kind;
    const char *ph;
} tlm__scrub_match;

/* ---- character classes (ASCII only, locale-free) ----------------------- */

static inline bool
is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static inline bool
is_lower(unsigned c)
{
    return c >= 'a' && c <= 'z';
}

static inline bool
is_upper(unsigned c)
{
    return c >= 'A' && c <= 'Z';
}

static inline bool
is_alpha(unsigned c)
{
    return is_lower(c) || is_upper(c);
}

static inline bool
is_alnum(unsigned c)
{
    return is_alpha(c) || is_digit(c);
}

static inline bool
is_hex(unsigned c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool
is_space(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
        || c == '\v';
}

static inline unsigned
to_lower(unsigned c)
{
    return is_upper(c) ? c + ('a' - 'A') : c;
}

/* base64url: JWT parts and the tails of prefixed keys. */
static inline bool
is_b64url(unsigned c)
{
    return is_alnum(c) || c == '-' || c == '_';
}

/* Characters of a bare token that may be a secret (base64 and base64url). */
static inline bool
is_tok(unsigned c)
{
    return is_b64url(c) || c == '+' || c == '/' || c == '=';
}

static inline bool
is_ident(unsigned c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

static inline bool
is_email_local(unsigned c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+'
        || c == '-';
}

/* The byte at p, or 0 past the end (0 matches no class above). */
static inline unsigned
at(const tlm__scrub_scan *sc, size_t p)
{
    return p < sc->n ? sc->s[p] : 0;
}

static inline unsigned
prev(const tlm__scrub_scan *sc, size_t i)
{
    if (i > 0 && i == sc->after && sc->after_prev != 0)
        return sc->after_prev;
    return i > 0 ? sc->s[i - 1] : 0;
}

static inline size_t
run(const tlm__scrub_scan *sc, size_t p, bool (*cls)(unsigned))
{
    while (p < sc->n && cls(sc->s[p]))
        p++;
    return p;
}

/* Does s[p..] start with `lit`, ASCII case-insensitively? */
static inline bool
has_ci(const tlm__scrub_scan *sc, size_t p, const char *lit)
{
    size_t k;

    for (k = 0; lit[k] != '\0'; k++)
        if (to_lower(at(sc, p + k)) != (unsigned char)lit[k])
            return false;
    return true;
}

static inline bool
has(const tlm__scrub_scan *sc, size_t p, const char *lit)
{
    size_t k;

    for (k = 0; lit[k] != '\0'; k++)
        if (at(sc, p + k) != (unsigned char)lit[k])
            return false;
    return true;
}

/* Records a match: s[..vs) kept, s[vs..ve) replaced by ph. */
static inline bool
found(tlm__scrub_match *m, size_t vs, size_t ve, int kind, const char *ph)
{
    m->vs = vs;
    m->ve = ve;
    m->kind = kind;
    m->ph = ph;
    return true;
}

/*
 * Detectors. Each tries to match at s[i] (checking its own left boundary)
 * and on success fills *m and returns true. They read only the scan.
 */
bool tlm__scrub_find_home(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_jwt(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_keyed(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_bearer(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_userinfo(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_prefixed(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_entropy(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_email(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_card(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_phone(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_ipv4(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);
bool tlm__scrub_find_ipv6(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m);

#endif /* TLM_SCRUB_SCAN_H */
