/*
 * scrub.c - replaces PII in free text and endpoint paths by typed
 * placeholders (see scrub.h for the detectors and their order).
 *
 * Pure and reentrant: no global state, no locale, no regex, no recursion.
 * Every scan is bounded or ends a run it never restarts inside: linear time.
 */
#include "scrub.h"

#include <math.h>
#include <string.h>

typedef struct scan {
    const unsigned char *s;
    size_t n;
} scan;

/* What a detector found: s[start..vs) is kept, s[vs..ve) becomes `ph`. */
typedef struct match {
    size_t vs, ve;
    int kind;
    const char *ph;
} match;

static const char *const kind_names[TLM__SCRUB_NKINDS] = {"home", "jwt",
    "secret", "email", "card", "phone", "ip", "query", "id"};

const char *
tlm__scrub_kind_name(int kind)
{
    if (kind < 0 || kind >= TLM__SCRUB_NKINDS)
        return "?";
    return kind_names[kind];
}

/* ---- character classes (ASCII only, locale-free) ----------------------- */

static bool
is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static bool
is_lower(unsigned c)
{
    return c >= 'a' && c <= 'z';
}

static bool
is_upper(unsigned c)
{
    return c >= 'A' && c <= 'Z';
}

static bool
is_alpha(unsigned c)
{
    return is_lower(c) || is_upper(c);
}

static bool
is_alnum(unsigned c)
{
    return is_alpha(c) || is_digit(c);
}

static bool
is_hex(unsigned c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
is_space(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
        || c == '\v';
}

static unsigned
to_lower(unsigned c)
{
    return is_upper(c) ? c + ('a' - 'A') : c;
}

/* base64url: JWT parts and the tails of prefixed keys. */
static bool
is_b64url(unsigned c)
{
    return is_alnum(c) || c == '-' || c == '_';
}

/* Characters of a bare token that may be a secret (base64 and base64url). */
static bool
is_tok(unsigned c)
{
    return is_b64url(c) || c == '+' || c == '/' || c == '=';
}

static bool
is_ident(unsigned c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

static bool
is_email_local(unsigned c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+'
        || c == '-';
}

/* The byte at p, or 0 past the end (0 matches no class above). */
static unsigned
at(const scan *sc, size_t p)
{
    return p < sc->n ? sc->s[p] : 0;
}

static unsigned
prev(const scan *sc, size_t i)
{
    return i > 0 ? sc->s[i - 1] : 0;
}

static size_t
run(const scan *sc, size_t p, bool (*cls)(unsigned))
{
    while (p < sc->n && cls(sc->s[p]))
        p++;
    return p;
}

/* Does s[p..] start with `lit`, ASCII case-insensitively? */
static bool
has_ci(const scan *sc, size_t p, const char *lit)
{
    size_t k;

    for (k = 0; lit[k] != '\0'; k++)
        if (to_lower(at(sc, p + k)) != (unsigned char)lit[k])
            return false;
    return true;
}

static bool
has(const scan *sc, size_t p, const char *lit)
{
    size_t k;

    for (k = 0; lit[k] != '\0'; k++)
        if (at(sc, p + k) != (unsigned char)lit[k])
            return false;
    return true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. Same
 * rules as encode.c's (static there): no overlongs, surrogates, > U+10FFFF */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len, i;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static bool
found(match *m, size_t vs, size_t ve, int kind, const char *ph)
{
    m->vs = vs;
    m->ve = ve;
    m->kind = kind;
    m->ph = ph;
    return true;
}

/* ---- HOME: /home/NAME, /Users/NAME, X:\Users\NAME ---------------------- */

static bool
is_user_name(unsigned c)
{
    return c >= 0x80
        || (c > ' ' && c != 0x7f && strchr("/\\:\"'<>|*?`", (int)c) == NULL);
}

static bool
m_home(const scan *sc, size_t i, match *m)
{
    unsigned pc = prev(sc, i), sep;
    size_t p, q, nsep;

    if (is_alnum(pc) || (pc != 0 && strchr("._-~\\", (int)pc) != NULL))
        return false;
    if (has_ci(sc, i, "/home/"))
        p = i + 6;
    else if (has_ci(sc, i, "/users/"))
        p = i + 7;
    else if (is_alpha(at(sc, i)) && at(sc, i + 1) == ':'
        && (at(sc, i + 2) == '\\' || at(sc, i + 2) == '/')) {
        /* X:\Users\NAME, also with JSON-doubled backslashes */
        sep = at(sc, i + 2);
        nsep = at(sc, i + 3) == sep ? 2 : 1;
        p = i + 2 + nsep;
        if (!has_ci(sc, p, "users"))
            return false;
        p += 5;
        for (q = 0; q < nsep; q++)
            if (at(sc, p + q) != sep)
                return false;
        p += nsep;
    } else
        return false;
    for (q = p; q < sc->n && q - p <= 64 && is_user_name(sc->s[q]);)
        q++;
    if (q == p || q - p > 64)
        return false;
    return found(m, i, q, TLM__SCRUB_HOME, "~");
}

/* ---- JWT ---------------------------------------------------------------- */

/* End of a JWT starting exactly at p, or 0. */
static size_t
jwt_end(const scan *sc, size_t p)
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

static bool
m_jwt(const scan *sc, size_t i, match *m)
{
    unsigned pc = prev(sc, i);
    size_t e;

    if (is_b64url(pc) || pc == '.')
        return false;
    e = jwt_end(sc, i);
    return e != 0 && found(m, i, e, TLM__SCRUB_JWT, "[jwt]");
}

/* ---- SECRET: named values, Bearer, URL user:pass, prefixes, entropy ---- */

enum { KEY_PLAIN, KEY_AUTH, KEY_COOKIE };

/* suffix: also matches as the last word of a longer name (db_password). */
static const struct {
    const char *name;
    bool suffix;
    int type;
} secret_keys[] = {
    {"key", false, KEY_PLAIN},
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
    {"pass", false, KEY_PLAIN},
    {"passphrase", true, KEY_PLAIN},
    {"credential", true, KEY_PLAIN},
    {"credentials", true, KEY_PLAIN},
    {"signature", true, KEY_PLAIN},
    {"sig", false, KEY_PLAIN},
    {"auth", false, KEY_PLAIN},
    {"session", false, KEY_PLAIN},
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
secret_key_type(const scan *sc, size_t p, size_t q)
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

/* A value that says nothing even when it follows "password=". */
static bool
benign_value(const scan *sc, size_t p, size_t q)
{
    static const char *const words[] = {"null", "nil", "none", "true", "false",
        "undefined", "redacted", "[secret]", "[redacted]", "<redacted>",
        "[filtered]", "[jwt]"};
    size_t k, len = q - p;

    for (k = p; k < q && sc->s[k] == '*'; k++)
        ;
    if (k == q)
        return true;
    for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if (strlen(words[k]) == len && has_ci(sc, p, words[k]))
            return true;
    return false;
}

/* Has a digit, both cases, or a symbol: not a plain word. */
static bool
credential_like(const scan *sc, size_t p, size_t q)
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
secret_value(const scan *sc, size_t p, int type, size_t *vs, size_t *ve,
    bool *quoted)
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
skip_auth_scheme(const scan *sc, size_t p)
{
    static const char *const schemes[] = {"bearer", "basic", "token",
        "digest", "negotiate", "apikey", "bot", "jwt"};
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
emit_secret(const scan *sc, size_t vs, size_t ve, match *m)
{
    if (jwt_end(sc, vs) == ve)
        return found(m, vs, ve, TLM__SCRUB_JWT, "[jwt]");
    return found(m, vs, ve, TLM__SCRUB_SECRET, "[secret]");
}

/* key=value, key: value, "key": "value", Authorization: Bearer x, ... */
static bool
m_keyed(const scan *sc, size_t i, match *m)
{
    unsigned pc = prev(sc, i), sep;
    size_t q, p, vs, ve, k;
    bool quoted_key, quoted_val;
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
    sep = at(sc, p);
    if (sep != '=' && sep != ':')
        return false;
    p++;
    if (sep == '=' && at(sc, p) == '>') /* Ruby's "password" => "x" */
        p++;
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
    /* "token: expired" in prose is not a secret; "token: a8Fk2..." is */
    if (sep == ':' && !quoted_key && !quoted_val && type == KEY_PLAIN
        && !credential_like(sc, vs, ve))
        return false;
    return emit_secret(sc, vs, ve, m);
}

static bool
is_bearer_char(unsigned c)
{
    return is_tok(c) || c == '.' || c == '~';
}

static bool
m_bearer(const scan *sc, size_t i, match *m)
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
static bool
m_userinfo(const scan *sc, size_t i, match *m)
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
    {"ghp_", 30},
    {"gho_", 30},
    {"ghu_", 30},
    {"ghs_", 30},
    {"ghr_", 30},
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
    {"npm_", 30},
    {"hf_", 30},
    {"sk-", 32},
};

static bool
m_prefixed(const scan *sc, size_t i, match *m)
{
    size_t k, l, e;

    if (is_b64url(prev(sc, i)))
        return false;
    for (k = 0; k < sizeof(secret_prefixes) / sizeof(secret_prefixes[0]);
        k++) {
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
looks_random(const scan *sc, size_t p, size_t e)
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

static bool
m_entropy(const scan *sc, size_t i, match *m)
{
    size_t e;

    if (is_tok(prev(sc, i)) || !is_tok(at(sc, i)))
        return false;
    e = run(sc, i, is_tok);
    if (e - i < ENTROPY_MIN_LEN || !looks_random(sc, i, e))
        return false;
    return found(m, i, e, TLM__SCRUB_SECRET, "[secret]");
}

/* ---- EMAIL -------------------------------------------------------------- */

static bool
m_email(const scan *sc, size_t i, match *m)
{
    size_t p, d, lab, end = 0, labels = 0;
    bool alpha_tld = false;

    if (is_email_local(prev(sc, i)) || !is_email_local(at(sc, i))
        || at(sc, i) == '.')
        return false;
    for (p = i; p - i <= 64 && at(sc, p) != '@'; p++) {
        if (has(sc, p, "%40"))
            break;
        if (!is_email_local(at(sc, p)))
            return false;
    }
    if (p == i || p - i > 64)
        return false;
    d = p + (at(sc, p) == '@' ? 1 : 3);
    /* "icon@2x.png" is an image, not an address */
    if (is_digit(at(sc, d)) && to_lower(at(sc, d + 1)) == 'x'
        && at(sc, d + 2) == '.')
        return false;
    for (p = d; p - d < 253;) {
        lab = p;
        while (p - lab < 63 && (is_alnum(at(sc, p)) || at(sc, p) == '-'))
            p++;
        if (p == lab || at(sc, lab) == '-')
            break;
        labels++;
        alpha_tld = true;
        for (size_t k = lab; k < p; k++)
            alpha_tld = alpha_tld && is_alpha(sc->s[k]);
        if (labels >= 2 && alpha_tld && p - lab >= 2)
            end = p;
        if (at(sc, p) != '.' || !is_alnum(at(sc, p + 1)))
            break;
        p++;
    }
    if (end == 0 || is_alnum(at(sc, end)))
        return false;
    return found(m, i, end, TLM__SCRUB_EMAIL, "[email]");
}

/* ---- CARD --------------------------------------------------------------- */

static bool
luhn_ok(const unsigned char *d, size_t len)
{
    unsigned sum = 0, v;
    size_t k;

    for (k = 0; k < len; k++) {
        v = d[len - 1 - k];
        if (k % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

/* Issuer prefixes and lengths of the card networks (Visa, Mastercard,
 * Amex, Discover, JCB, Diners, UnionPay, Maestro): this is what keeps
 * 13-digit millisecond timestamps and most order numbers out. */
static bool
issuer_ok(const unsigned char *d, size_t len)
{
    unsigned p2 = d[0] * 10 + d[1], p4 = p2 * 100 + d[2] * 10 + d[3];

    if (d[0] == 4)
        return len == 13 || len >= 16;
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
        return len == 16;
    if (p2 == 34 || p2 == 37)
        return len == 15;
    if (p2 == 36 || p2 == 38 || p2 == 39 || (p4 >= 3000 && p4 <= 3059))
        return len >= 14;
    if (p4 >= 3528 && p4 <= 3589)
        return len >= 16;
    if (p4 == 6011 || p2 == 65 || (p4 >= 6440 && p4 <= 6499) || p2 == 62)
        return len >= 16;
    if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p2 == 63 || p2 == 67)
        return len >= 13;
    return false;
}

static bool
m_card(const scan *sc, size_t i, match *m)
{
    unsigned char d[19];
    size_t ends[19], counts[19], ngroups = 0, nd = 0, p = i, k, g;
    unsigned pc = prev(sc, i), sep = 0;

    if (!is_digit(at(sc, i)) || is_alnum(pc) || pc == '.' || pc == '_'
        || pc == '+' || pc == ',')
        return false;
    for (;;) {
        for (g = p; is_digit(at(sc, g)); g++) {
            if (nd + (g - p) >= 19)
                goto candidates; /* too long: only whole groups count */
        }
        for (k = p; k < g; k++)
            d[nd++] = (unsigned char)(sc->s[k] - '0');
        ends[ngroups] = g;
        counts[ngroups++] = nd;
        p = g;
        if ((at(sc, p) == ' ' || at(sc, p) == '-')
            && (sep == 0 || sep == at(sc, p)) && is_digit(at(sc, p + 1))) {
            sep = at(sc, p);
            p++;
            continue;
        }
        break;
    }
candidates:
    while (ngroups > 0) {
        ngroups--;
        nd = counts[ngroups];
        p = ends[ngroups];
        if (nd < 13 || is_alnum(at(sc, p))
            || ((at(sc, p) == '.' || at(sc, p) == ',')
                && is_digit(at(sc, p + 1))))
            continue;
        for (k = 1; k < nd && d[k] == d[0]; k++)
            ;
        if (k < nd && issuer_ok(d, nd) && luhn_ok(d, nd))
            return found(m, i, p, TLM__SCRUB_CARD, "[card]");
    }
    return false;
}

/* ---- PHONE -------------------------------------------------------------- */

/* Separator between digit groups: " ", "-", ".", and "(", ")" with at most
 * one space or dash beside them. Returns its length, 0 if none. */
static size_t
phone_sep(const scan *sc, size_t p)
{
    unsigned a = at(sc, p), b = at(sc, p + 1);

    if (a == '.' || ((a == ' ' || a == '-') && b != '(' && b != ')'))
        return 1;
    if (a == '(' || a == ')')
        return (b == ' ' || b == '-') ? 2 : 1;
    if ((a == ' ' || a == '-') && (b == '(' || b == ')'))
        return 2;
    return 0;
}

static bool
m_phone(const scan *sc, size_t i, match *m)
{
    size_t p = i + 1, g, nd = 0, end = 0, s;
    unsigned pc = prev(sc, i);

    if (at(sc, i) != '+' || is_alnum(pc) || pc == '+')
        return false;
    if (at(sc, p) == '(')
        p++;
    while (is_digit(at(sc, p))) {
        g = run(sc, p, is_digit);
        if (nd + (g - p) > 15)
            break;
        nd += g - p;
        p = g;
        if (at(sc, p) == ')')
            p++;
        if (nd >= 8)
            end = p;
        s = phone_sep(sc, p);
        if (!is_digit(at(sc, p + s)))
            break;
        p += s;
    }
    if (end == 0 || is_alnum(at(sc, end)))
        return false;
    return found(m, i, end, TLM__SCRUB_PHONE, "[phone]");
}
