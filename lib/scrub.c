/*
 * scrub.c - replaces PII in free text and endpoint paths by typed
 * placeholders (see scrub.h for the detectors and their order).
 *
 * Pure and reentrant: no global state, no locale, no regex, no recursion.
 * Every scan is bounded or ends a run it never restarts inside: linear time.
 */
#include "scrub_scan.h"

#include <string.h>

static const char *const kind_names[TLM__SCRUB_NKINDS]
    = {"home", "jwt", "secret", "email", "card", "phone", "ip", "query", "id"};

const char *
tlm__scrub_kind_name(int kind)
{
    if (kind < 0 || kind >= TLM__SCRUB_NKINDS)
        return "?";
    return kind_names[kind];
}

/* ---- QUERY -------------------------------------------------------------- */

static bool
is_qkey(unsigned c)
{
    return is_alnum(c) || (c != 0 && strchr("_.-~%[]+", (int)c) != NULL);
}

static bool
is_qval_end(unsigned c)
{
    return c == 0 || is_space(c) || strchr("&#;\"'`<>)]}", (int)c) != NULL;
}

/* A '?' glued to a URL or path and followed by key=. */
static bool
query_start(const tlm__scrub_scan *sc, size_t i)
{
    unsigned pc = prev(sc, i);
    size_t k;

    if (pc == 0 || is_space(pc) || pc == '?' || pc == '"' || pc == '\'')
        return false;
    k = run(sc, i + 1, is_qkey);
    return k > i + 1 && at(sc, k) == '=';
}

static void
put(tlm__buf *out, const unsigned char *p, size_t len)
{
    if (len > 0)
        tlm__buf_append(out, (const char *)p, len);
}

/* Writes ?k=&k2= for the query at i; returns where it ends. */
static size_t
emit_query(const tlm__scrub_scan *sc, size_t i, tlm__buf *out, uint32_t *cnt)
{
    size_t p = i + 1, k, v;

    tlm__buf_append(out, "?", 1);
    for (;;) {
        k = run(sc, p, is_qkey);
        put(out, sc->s + p, k - p);
        p = k;
        if (at(sc, p) == '=') {
            tlm__buf_append(out, "=", 1);
            for (v = p + 1; !is_qval_end(at(sc, v));)
                v++;
            if (v > p + 1)
                cnt[TLM__SCRUB_QUERY]++;
            p = v;
        }
        if (at(sc, p) != '&' || !is_qkey(at(sc, p + 1)))
            return p;
        tlm__buf_append(out, "&", 1);
        p++;
    }
}

/* ---- the scan ----------------------------------------------------------- */

/* A match that begins with a letter or digit begins a word: after a byte
 * that is not one (or at the start). Skipping the positions inside words
 * changes no result (the corpus and the cases say so) and makes scanning
 * several times faster. */
static bool
starts_token(const tlm__scrub_scan *sc, size_t i)
{
    return i == 0 || !is_alnum(sc->s[i]) || !is_alnum(prev(sc, i));
}

static bool
try_detectors(
    const tlm__scrub_scan *sc, size_t i, unsigned mask, tlm__scrub_match *m)
{
    unsigned c = sc->s[i];
    bool hit = false;

    if ((mask & TLM__SCRUB_BIT(TLM__SCRUB_HOME)) && (c == '/' || is_alpha(c)))
        hit = tlm__scrub_find_home(sc, i, m);
    if (!hit && (mask & TLM__SCRUB_BIT(TLM__SCRUB_JWT)) && c == 'e')
        hit = tlm__scrub_find_jwt(sc, i, m);
    if (!hit && (mask & TLM__SCRUB_BIT(TLM__SCRUB_SECRET)))
        hit = is_alpha(c) ? (tlm__scrub_find_keyed(sc, i, m)
                  || tlm__scrub_find_bearer(sc, i, m)
                  || tlm__scrub_find_prefixed(sc, i, m))
                          : (c == ':' && tlm__scrub_find_userinfo(sc, i, m));
    if (!hit && (mask & TLM__SCRUB_BIT(TLM__SCRUB_EMAIL)))
        hit = tlm__scrub_find_email(sc, i, m);
    if (!hit && (mask & TLM__SCRUB_BIT(TLM__SCRUB_CARD)) && is_digit(c))
        hit = tlm__scrub_find_card(sc, i, m);
    if (!hit && (mask & TLM__SCRUB_BIT(TLM__SCRUB_PHONE)) && c == '+')
        hit = tlm__scrub_find_phone(sc, i, m);
    if (!hit && (mask & TLM__SCRUB_BIT(TLM__SCRUB_IP)))
        hit = tlm__scrub_find_ipv6(sc, i, m) || tlm__scrub_find_ipv4(sc, i, m);
    if (!hit && (mask & TLM__SCRUB_BIT(TLM__SCRUB_SECRET)))
        hit = tlm__scrub_find_entropy(sc, i, m);
    if (hit && m->kind == TLM__SCRUB_JWT
        && !(mask & TLM__SCRUB_BIT(TLM__SCRUB_JWT)))
        found(m, m->vs, m->ve, TLM__SCRUB_SECRET, "[secret]");
    return hit;
}

static void
scrub_text(tlm__scrub_scan *sc, unsigned mask, tlm__buf *out, uint32_t *cnt)
{
    size_t i = 0, lit = 0, len;
    tlm__scrub_match m;

    while (i < sc->n) {
        unsigned c = sc->s[i];
        if (c >= 0x80) {
            put(out, sc->s + lit, i - lit);
            len = tlm__utf8_seq_len(sc->s + i, sc->n - i);
            if (len == 0)
                tlm__buf_append(out, "\xef\xbf\xbd", 3);
            else
                put(out, sc->s + i, len);
            i += len ? len : 1;
            lit = i;
            if (len == 0) {
                sc->after = i;
                sc->after_prev = 0xbd; /* U+FFFD's last byte */
            }
        } else if (starts_token(sc, i) && try_detectors(sc, i, mask, &m)) {
            /* s[i..m.vs) is a key, a quote or a scheme: ASCII by design */
            put(out, sc->s + lit, m.vs - lit);
            tlm__buf_puts(out, m.ph);
            cnt[m.kind]++;
            i = lit = m.ve;
            sc->after = i;
            sc->after_prev = (unsigned char)m.ph[strlen(m.ph) - 1];
        } else if (c == '?' && (mask & TLM__SCRUB_BIT(TLM__SCRUB_QUERY))
            && query_start(sc, i)) {
            put(out, sc->s + lit, i - lit);
            i = lit = emit_query(sc, i, out, cnt);
        } else
            i++;
    }
    put(out, sc->s + lit, i - lit);
}

/* Checks the arguments and reserves room for the copy. */
static int
begin(const char *in, size_t n, tlm__buf *out, size_t *start)
{
    if (out == NULL || (in == NULL && n > 0))
        return TLM_EINVAL;
    if (out->failed)
        return TLM_ENOMEM;
    *start = out->len;
    if (!tlm__buf_reserve(out, n)) {
        out->failed = true;
        return TLM_ENOMEM;
    }
    out->data[out->len] = '\0';
    return 0;
}

static int
settle(
    tlm__buf *out, size_t start, const uint32_t *cnt, tlm__scrub_counts *counts)
{
    int k;

    if (out->failed) {
        out->len = start; /* drop the partial copy */
        out->data[start] = '\0';
        return TLM_ENOMEM;
    }
    if (counts != NULL)
        for (k = 0; k < TLM__SCRUB_NKINDS; k++)
            counts->n[k] += cnt[k];
    return 0;
}

typedef void (*scrub_mode)(
    tlm__scrub_scan *sc, unsigned mask, tlm__buf *out, uint32_t *cnt);

/* The shared frame of both entry points: check, reserve, scan, settle. */
static int
scrub_with(scrub_mode mode, const char *in, size_t n, unsigned detectors,
    tlm__buf *out, tlm__scrub_counts *counts)
{
    uint32_t cnt[TLM__SCRUB_NKINDS] = {0};
    tlm__scrub_scan sc = {(const unsigned char *)in, n, 0, 0};
    size_t start;
    int rc;

    rc = begin(in, n, out, &start);
    if (rc != 0)
        return rc;
    if (n > 0)
        mode(&sc, detectors, out, cnt);
    return settle(out, start, cnt, counts);
}

int
tlm__scrub_string(const char *in, size_t n, unsigned detectors, tlm__buf *out,
    tlm__scrub_counts *counts)
{
    return scrub_with(scrub_text, in, n, detectors, out, counts);
}

/* ---- paths -------------------------------------------------------------- */

static bool
is_uuid(const unsigned char *s, size_t len)
{
    size_t k;

    if (len != 36)
        return false;
    for (k = 0; k < 36; k++) {
        if (k == 8 || k == 13 || k == 18 || k == 23) {
            if (s[k] != '-')
                return false;
        } else if (!is_hex(s[k]))
            return false;
    }
    return true;
}

static bool
is_id_core(const unsigned char *s, size_t len)
{
    size_t k, digits = 0, letters = 0, hex = 0;

    if (len == 0)
        return false;
    if (is_uuid(s, len))
        return true;
    for (k = 0; k < len; k++) {
        if (!is_alnum(s[k]) && s[k] != '-' && s[k] != '_')
            return false;
        digits += is_digit(s[k]);
        letters += is_alpha(s[k]);
        hex += is_hex(s[k]);
    }
    if (digits == len)
        return true;
    if (hex == len && len >= 16 && digits > 0)
        return true;
    return len >= 20 && digits >= 4 && letters > 0;
}

/* An id segment, perhaps with an extension (123.json); *core: id length. */
static bool
is_id_segment(const unsigned char *s, size_t len, size_t *core)
{
    size_t dot, k;

    *core = len;
    if (is_id_core(s, len))
        return true;
    for (dot = len; dot > 0 && s[dot - 1] != '.';)
        dot--;
    if (dot < 2 || len - dot < 1 || len - dot > 5)
        return false;
    for (k = dot; k < len; k++)
        if (!is_alpha(s[k]))
            return false;
    *core = dot - 1;
    return is_id_core(s, dot - 1);
}

static void
scrub_part(const unsigned char *s, size_t len, unsigned mask, tlm__buf *out,
    uint32_t *cnt)
{
    tlm__scrub_scan sub = {s, len, 0, 0};

    scrub_text(&sub, mask, out, cnt);
}

/* ?k=v&k2=v2 up to e: keys through the detectors, values removed. */
static void
path_query(const tlm__scrub_scan *sc, size_t p, size_t e, unsigned mask,
    tlm__buf *out, uint32_t *cnt)
{
    unsigned kmask = mask & ~TLM__SCRUB_BIT(TLM__SCRUB_QUERY);
    size_t k, v;

    tlm__buf_append(out, "?", 1);
    p++;
    while (p < e) {
        for (k = p; k < e && sc->s[k] != '=' && sc->s[k] != '&';)
            k++;
        scrub_part(sc->s + p, k - p, kmask, out, cnt);
        p = k;
        if (p < e && sc->s[p] == '=') {
            tlm__buf_append(out, "=", 1);
            for (v = p + 1; v < e && sc->s[v] != '&';)
                v++;
            if (v > p + 1)
                cnt[TLM__SCRUB_QUERY]++;
            p = v;
        }
        if (p < e) { /* '&' */
            tlm__buf_append(out, "&", 1);
            p++;
        }
    }
}

/* Non-const like scrub_text, so both fit scrub_mode; it only reads. */
static void
scrub_path(tlm__scrub_scan *sc, unsigned mask, tlm__buf *out, uint32_t *cnt)
{
    unsigned smask = mask & ~TLM__SCRUB_BIT(TLM__SCRUB_QUERY);
    size_t p = 0, e, core;
    const unsigned char *s = sc->s;

    /* scheme://authority: host, port and user:pass@ as free text */
    e = run(sc, 0, is_alpha);
    if (e > 0 && has(sc, e, "://")) {
        for (e += 3; e < sc->n && s[e] != '/' && s[e] != '?' && s[e] != '#';)
            e++;
        scrub_part(s, e, smask, out, cnt);
        p = e;
    }
    while (p < sc->n && s[p] != '?' && s[p] != '#') {
        if (s[p] == '/') {
            tlm__buf_append(out, "/", 1);
            p++;
            continue;
        }
        for (e = p; e < sc->n && s[e] != '/' && s[e] != '?' && s[e] != '#';)
            e++;
        if ((mask & TLM__SCRUB_BIT(TLM__SCRUB_ID))
            && is_id_segment(s + p, e - p, &core)) {
            tlm__buf_puts(out, "{id}");
            put(out, s + p + core, e - p - core);
            cnt[TLM__SCRUB_ID]++;
        } else
            scrub_part(s + p, e - p, smask, out, cnt);
        p = e;
    }
    if (p < sc->n && s[p] == '?') {
        for (e = p; e < sc->n && s[e] != '#';)
            e++;
        if (mask & TLM__SCRUB_BIT(TLM__SCRUB_QUERY))
            path_query(sc, p, e, mask, out, cnt);
        else
            scrub_part(s + p, e - p, mask, out, cnt);
    }
    /* a #fragment never reaches a server: dropped */
}

int
tlm__scrub_path(const char *in, size_t n, unsigned detectors, tlm__buf *out,
    tlm__scrub_counts *counts)
{
    return scrub_with(scrub_path, in, n, detectors, out, counts);
}
