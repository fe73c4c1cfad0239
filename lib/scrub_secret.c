/*
 * scrub_secret.c - the scrubber's JWT and secret detectors: secret-named
 * values, Bearer tokens, URL passwords, known key prefixes, random tokens.
 * Pure functions of the scan (see scrub.h for the order they run in).
 */
#include "scrub_scan.h"

#include <math.h>

/* ---- JWT ---------------------------------------------------------------- */

/* End of a JWT starting exactly at p, or 0. */
static size_t
jwt_end(const tlm__scrub_scan *sc, size_t p)
{
    size_t h, b;

    if (!has(sc, p, "eyJ"))
        return 0;
    h = run(sc, p, is_b64url);
    if (h - p < 10 || at(sc, h) != '.')
        return 0;
    b = run(sc, h + 1, is_b64url);
    if (b - (h + 1) < 10 || at(sc, b) != '.')
        return 0;
    return run(sc, b + 1, is_b64url); /* the signature may be empty */
}

bool
tlm__scrub_find_jwt(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    unsigned pc = prev(sc, i);
    size_t e;

    if (is_b64url(pc) || pc == '.')
        return false;
    e = jwt_end(sc, i);
    return e != 0 && found(m, i, e, TLM__SCRUB_JWT, "[jwt]");
}

/* ---- SECRET: named values, Bearer, URL user:pass, prefixes, entropy ---- */

/* KEY_WEAK: a name that is often not about secrets (key=value, auth=
 * required): its value must look like a credential. */
enum { KEY_PLAIN, KEY_WEAK, KEY_AUTH, KEY_COOKIE };

/* suffix: also matches as the last word of a longer name (db_password). */
static const struct {
    const char *name;
    bool suffix;
    int type;
} secret_keys[] = {
    {"key", false, KEY_WEAK},
    {"api_key", true, KEY_PLAIN},
    {"apikey", true, KEY_PLAIN},
    {"api_token", true, KEY_PLAIN},
    {"access_key", true, KEY_PLAIN},
    {"secret_key", true, KEY_PLAIN},
    {"private_key", true, KEY_PLAIN},
    {"token", true, KEY_PLAIN},
    {"secret", true, KEY_PLAIN},
    {"password", true, KEY_PLAIN},
    {"passwd", true, KEY_PLAIN},
    {"pwd", true, KEY_PLAIN},
    {"pass", false, KEY_WEAK},
    {"passphrase", true, KEY_PLAIN},
    {"credential", true, KEY_PLAIN},
    {"credentials", true, KEY_PLAIN},
    {"signature", true, KEY_PLAIN},
    {"sig", false, KEY_WEAK},
    {"auth", false, KEY_WEAK},
    {"session", false, KEY_WEAK},
    {"session_id", true, KEY_PLAIN},
    {"sessionid", true, KEY_PLAIN},
    {"phpsessid", false, KEY_PLAIN},
    {"authorization", true, KEY_AUTH},
    {"cookie", false, KEY_COOKIE},
    {"set_cookie", false, KEY_COOKIE},
};

/* Compares ASCII-case-insensitively, with '-' and '.' equal to '_'. */
static bool
key_eq(const unsigned char *s, const char *name, size_t len)
{
    size_t k;

    for (k = 0; k < len; k++) {
        unsigned c = to_lower(s[k]);
        if (c == '-' || c == '.')
            c = '_';
        if (c != (unsigned char)name[k])
            return false;
    }
    return true;
}

/* Type of the secret-named key s[p..q), or -1. */
static int
secret_key_type(const tlm__scrub_scan *sc, size_t p, size_t q)
{
    size_t len = q - p, k, nl;
    const unsigned char *s = sc->s + p;

    for (k = 0; k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++) {
        nl = strlen(secret_keys[k].name);
        if (len == nl && key_eq(s, secret_keys[k].name, nl))
            return secret_keys[k].type;
        if (secret_keys[k].suffix && len > nl
            && strchr("_-.", (int)s[len - nl - 1]) != NULL
            && key_eq(s + len - nl, secret_keys[k].name, nl))
            return secret_keys[k].type;
    }
    return -1;
}

/* A value that says nothing even when it follows "password=", or one
 * this scrubber wrote (scrubbing twice changes nothing). */
static bool
benign_value(const tlm__scrub_scan *sc, size_t p, size_t q)
{
    static const char *const words[] = {"null", "nil", "none", "true", "false",
        "undefined", "redacted", "<redacted>"};
    static const char *const marks[]
        = {"[secret]", "[jwt]", "[redacted]", "[filtered]"};
    size_t k, len = q - p;

    for (k = p; k < q && sc->s[k] == '*'; k++)
        ;
    if (k == q)
        return true;
    for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if (strlen(words[k]) == len && has_ci(sc, p, words[k]))
            return true;
    for (k = 0; k < sizeof(marks) / sizeof(marks[0]); k++)
        if (has_ci(sc, p, marks[k]))
            return true;
    return false;
}

/* Has a digit, both cases, or a symbol: not a plain word. */
static bool
credential_like(const tlm__scrub_scan *sc, size_t p, size_t q)
{
    bool lo = false, up = false;

    for (; p < q; p++) {
        unsigned c = sc->s[p];
        if (is_digit(c) || (!is_alpha(c) && c != '-' && c != '_'))
            return true;
        lo = lo || is_lower(c);
        up = up || is_upper(c);
    }
    return lo && up;
}

static bool
is_value_end(unsigned c)
{
    return c == 0 || is_space(c) || strchr("&,;\"'`)]}<>\\", (int)c) != NULL;
}

/* The value at p: quoted ("...", '...', \"...\") or bare. *vs and *ve get
 * the secret part (quotes excluded); returns false if empty. */
static bool
secret_value(const tlm__scrub_scan *sc, size_t p, int type, size_t *vs,
    size_t *ve, bool *quoted)
{
    unsigned q = at(sc, p);
    size_t e, qlen = 1;

    *quoted = false;
    if (q == '\\' && at(sc, p + 1) == '"')
        qlen = 2, q = '\\';
    if (q == '"' || q == '\'' || q == '\\') {
        /* closing quote within 1 KiB, else read it as a bare value */
        for (e = p + qlen; e < sc->n && e - p < 1024; e++) {
            if (qlen == 1 && sc->s[e] == q)
                break;
            if (qlen == 2 && sc->s[e] == '\\' && at(sc, e + 1) == '"')
                break;
            if (qlen == 1 && sc->s[e] == '\\')
                e++;
        }
        if (e < sc->n && e - p < 1024) {
            *quoted = true;
            *vs = p + qlen;
            *ve = e;
            return e > p + qlen;
        }
        p += qlen;
    }
    e = p;
    if (type == KEY_COOKIE)
        while (e < sc->n && sc->s[e] != '\r' && sc->s[e] != '\n'
            && sc->s[e] != '"')
            e++;
    else
        while (!is_value_end(at(sc, e)))
            e++;
    *vs = p;
    *ve = e;
    return e > p;
}

/* After "Authorization:" or "Bearer": skips a known scheme word. */
static size_t
skip_auth_scheme(const tlm__scrub_scan *sc, size_t p)
{
    static const char *const schemes[] = {"bearer", "basic", "token", "digest",
        "negotiate", "apikey", "bot", "jwt"};
    size_t k, l, e;

    for (k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
        l = strlen(schemes[k]);
        if (has_ci(sc, p, schemes[k]) && is_space(at(sc, p + l))) {
            for (e = p + l; e - p < l + 8 && is_space(at(sc, e));)
                e++;
            return e;
        }
    }
    return p;
}

static bool
emit_secret(
    const tlm__scrub_scan *sc, size_t vs, size_t ve, tlm__scrub_match *m)
{
    if (jwt_end(sc, vs) == ve)
        return found(m, vs, ve, TLM__SCRUB_JWT, "[jwt]");
    return found(m, vs, ve, TLM__SCRUB_SECRET, "[secret]");
}

/* key=value, key: value, "key": "value", Authorization: Bearer x, ... */
bool
tlm__scrub_find_keyed(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    unsigned pc = prev(sc, i), sep;
    size_t q, p, vs, ve, k;
    bool quoted_key, quoted_val, compound, colon, spaced;
    int type;

    if (!is_alpha(at(sc, i)) || is_ident(pc))
        return false;
    q = run(sc, i, is_ident);
    if (q - i > 64)
        return false;
    type = secret_key_type(sc, i, q);
    if (type < 0)
        return false;
    p = q;
    quoted_key = pc == '"' || pc == '\'';
    if (quoted_key && at(sc, p) == pc)
        p++;
    else if (quoted_key && at(sc, p) == '\\' && at(sc, p + 1) == '"')
        p += 2;
    for (k = 0; k < 8 && (at(sc, p) == ' ' || at(sc, p) == '\t'); k++)
        p++;
    spaced = k > 0;
    sep = at(sc, p);
    if (sep != '=' && sep != ':')
        return false;
    colon = sep == ':';
    p++;
    if (sep == '=' && at(sc, p) == '>') { /* Ruby's "password" => "x" */
        p++;
        spaced = true;
    }
    /* "token= x": token is empty; "password = x" and "password: x" not */
    if (colon || spaced)
        for (k = 0; k < 8 && (at(sc, p) == ' ' || at(sc, p) == '\t'); k++)
            p++;
    if (type == KEY_AUTH) {
        if (at(sc, p) == '"' || at(sc, p) == '\'')
            p++;
        p = skip_auth_scheme(sc, p);
    }
    if (!secret_value(sc, p, type, &vs, &ve, &quoted_val))
        return false;
    if (benign_value(sc, vs, ve))
        return false;
    if (type == KEY_WEAK && !credential_like(sc, vs, ve))
        return false;
    /* "token: expired" in prose is not a secret; "token: a8Fk2...",
     * "X-Api-Key: abc" and "password": "abc" are */
    compound = memchr(sc->s + i, '_', q - i) || memchr(sc->s + i, '-', q - i)
        || memchr(sc->s + i, '.', q - i);
    if (colon && type == KEY_PLAIN && !quoted_key && !quoted_val && !compound
        && !credential_like(sc, vs, ve))
        return false;
    return emit_secret(sc, vs, ve, m);
}

static bool
is_bearer_char(unsigned c)
{
    return is_tok(c) || c == '.' || c == '~';
}

bool
tlm__scrub_find_bearer(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    size_t p, e;

    if (is_alnum(prev(sc, i)) || !has_ci(sc, i, "bearer")
        || !is_space(at(sc, i + 6)))
        return false;
    for (p = i + 6; p - i < 14 && is_space(at(sc, p));)
        p++;
    e = run(sc, p, is_bearer_char);
    if (e - p < 8 || (e - p < 16 && !credential_like(sc, p, e)))
        return false;
    return emit_secret(sc, p, e, m);
}

/* scheme://user:password@host -> scheme://[secret]@host */
bool
tlm__scrub_find_userinfo(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    size_t p = i + 3, e;
    bool colon = false;

    if (!has(sc, i, "://"))
        return false;
    for (e = p; e < sc->n && e - p < 256; e++) {
        unsigned c = sc->s[e];
        if (c == '@' || c == '/' || c == '?' || c == '#' || is_space(c)
            || c == '"' || c == '\'' || c == '<' || c == '>')
            break;
        colon = colon || (c == ':' && e > p);
    }
    if (!colon || at(sc, e) != '@')
        return false;
    return found(m, p, e, TLM__SCRUB_SECRET, "[secret]");
}

static const struct {
    const char *prefix;
    size_t min_tail;
} secret_prefixes[] = {
    {"sk_live_", 16},
    {"sk_test_", 16},
    {"rk_live_", 16},
    {"rk_test_", 16},
    {"whsec_", 24},
    {"ghp_", 20},
    {"gho_", 20},
    {"ghu_", 20},
    {"ghs_", 20},
    {"ghr_", 20},
    {"github_pat_", 30},
    {"glpat-", 20},
    {"xoxb-", 20},
    {"xoxp-", 20},
    {"xoxa-", 20},
    {"xoxr-", 20},
    {"xoxs-", 20},
    {"xapp-", 20},
    {"AKIA", 16},
    {"ASIA", 16},
    {"AIza", 30},
    {"npm_", 20},
    {"hf_", 20},
    {"sk-", 32},
};

bool
tlm__scrub_find_prefixed(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    size_t k, l, e;

    if (is_b64url(prev(sc, i)))
        return false;
    for (k = 0; k < sizeof(secret_prefixes) / sizeof(secret_prefixes[0]); k++) {
        if (!has(sc, i, secret_prefixes[k].prefix))
            continue;
        l = strlen(secret_prefixes[k].prefix);
        e = run(sc, i + l, is_b64url);
        if (e - (i + l) >= secret_prefixes[k].min_tail)
            return found(m, i, e, TLM__SCRUB_SECRET, "[secret]");
    }
    return false;
}

/*
 * A bare token of 32+ [A-Za-z0-9_+/=-] is a secret when it looks random:
 * upper, lower and digits all present (so hex hashes, UUIDs and numbers are
 * not), the character class changes at 34%+ of positions (random base64:
 * 62% on average, 41% at the 1st percentile; CamelCase identifiers 25-37%),
 * no run of 8+ lowercase letters (an English word inside), and a Shannon
 * entropy of at least 3.5 bits per character (repetition).
 */
#define ENTROPY_MIN_LEN 32
#define ENTROPY_MIN_BITS 3.5
#define ENTROPY_MIN_CHANGES 0.34
#define ENTROPY_MAX_LOWER_RUN 8

static int
char_class(unsigned c)
{
    return is_lower(c) ? 0 : is_upper(c) ? 1 : is_digit(c) ? 2 : 3;
}

static bool
looks_random(const tlm__scrub_scan *sc, size_t p, size_t e)
{
    uint32_t freq[128];
    size_t len = e - p, k, changes = 0, lower_run = 0;
    unsigned seen = 0;
    double bits = 0.0;

    memset(freq, 0, sizeof(freq));
    for (k = p; k < e; k++) {
        unsigned c = sc->s[k];
        freq[c & 0x7f]++;
        seen |= 1u << char_class(c);
        if (k > p && char_class(c) != char_class(sc->s[k - 1]))
            changes++;
        lower_run = is_lower(c) ? lower_run + 1 : 0;
        if (lower_run >= ENTROPY_MAX_LOWER_RUN)
            return false;
    }
    if ((seen & 7u) != 7u || (double)changes < ENTROPY_MIN_CHANGES * len)
        return false;
    for (k = 0; k < 128; k++)
        if (freq[k] != 0)
            bits -= (double)freq[k] / len * log2((double)freq[k] / len);
    return bits >= ENTROPY_MIN_BITS;
}

bool
tlm__scrub_find_entropy(
    const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    size_t e;

    if (is_tok(prev(sc, i)) || !is_tok(at(sc, i)))
        return false;
    e = run(sc, i, is_tok);
    if (e - i < ENTROPY_MIN_LEN || !looks_random(sc, i, e))
        return false;
    return found(m, i, e, TLM__SCRUB_SECRET, "[secret]");
}
