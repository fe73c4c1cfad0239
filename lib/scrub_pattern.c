/*
 * scrub_pattern.c - the scrubber's detectors of shaped PII: home
 * directories, e-mail addresses, card numbers, phone numbers, IP addresses.
 * Pure functions of the scan (see scrub.h for the order they run in).
 */
#include "scrub_scan.h"

/* ---- HOME: /home/NAME, /Users/NAME, X:\Users\NAME ---------------------- */

static bool
is_user_name(unsigned c)
{
    return c >= 0x80
        || (c > ' ' && c != 0x7f && strchr("/\\:\"'<>|*?`", (int)c) == NULL);
}

/* /Users/Shared, C:\Users\Public and the like belong to nobody. */
static bool
shared_home(const tlm__scrub_scan *sc, size_t p, size_t q)
{
    static const char *const names[] = {"shared", "public", "default"};
    size_t k;

    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (strlen(names[k]) == q - p && has_ci(sc, p, names[k]))
            return true;
    return false;
}

bool
tlm__scrub_find_home(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    unsigned pc = prev(sc, i), sep;
    size_t p, q, nsep;

    if (is_alnum(pc) || (pc != 0 && strchr("._-~\\", (int)pc) != NULL))
        return false;
    if (has(sc, i, "/home/"))
        p = i + 6;
    else if (has(sc, i, "/Users/"))
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
    if (q == p || q - p > 64 || shared_home(sc, p, q))
        return false;
    return found(m, i, q, TLM__SCRUB_HOME, "~");
}

/* ---- EMAIL -------------------------------------------------------------- */

bool
tlm__scrub_find_email(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
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

bool
tlm__scrub_find_card(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
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
phone_sep(const tlm__scrub_scan *sc, size_t p)
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

bool
tlm__scrub_find_phone(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
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

/* ---- IP ----------------------------------------------------------------- */

/* End of a dotted IPv4 address starting exactly at p, or 0. */
static size_t
ipv4_end(const tlm__scrub_scan *sc, size_t p)
{
    unsigned v;
    size_t part, q;

    for (part = 0; part < 4; part++) {
        if (part > 0) {
            if (at(sc, p) != '.')
                return 0;
            p++;
        }
        v = 0;
        for (q = p; q - p < 3 && is_digit(at(sc, q)); q++)
            v = v * 10 + (at(sc, q) - '0');
        if (q == p || is_digit(at(sc, q)) || v > 255)
            return 0;
        p = q;
    }
    return p;
}

/* "Chrome/120.0.0.0", "Version=4.0.0.0", "build 10.0.0.1": a version. */
static bool
version_context(const tlm__scrub_scan *sc, size_t i)
{
    static const char *const words[]
        = {"version", "ver", "build", "release", "firmware"};
    size_t p = i, w, k, l;

    if (prev(sc, i) == '/') {
        for (w = i - 1; w > 0 && is_alpha(sc->s[w - 1]) && i - w < 32;)
            w--;
        return w < i - 1 && is_upper(sc->s[w])
            && (w == 0 || !is_alnum(sc->s[w - 1]));
    }
    for (k = 0; k < 2 && p > 0 && sc->s[p - 1] != 0
         && strchr(" =:", (int)sc->s[p - 1]) != NULL;
         k++)
        p--;
    if (p == i)
        return false;
    for (k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
        l = strlen(words[k]);
        if (p >= l && has_ci(sc, p - l, words[k])
            && (p == l || !is_alnum(sc->s[p - l - 1])))
            return true;
    }
    return false;
}

bool
tlm__scrub_find_ipv4(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    unsigned pc = prev(sc, i);
    size_t e;

    if (!is_digit(at(sc, i)) || is_alnum(pc) || pc == '.' || pc == '_')
        return false;
    e = ipv4_end(sc, i);
    if (e == 0 || is_alnum(at(sc, e)) || at(sc, e) == '_'
        || (at(sc, e) == '.' && is_digit(at(sc, e + 1))))
        return false;
    if (version_context(sc, i))
        return false;
    return found(m, i, e, TLM__SCRUB_IP, "[ip]");
}

/* End of an IPv6 address starting exactly at i, or 0: eight groups, or
 * fewer with one "::", optionally ending in a dotted IPv4. A "::" form
 * needs a digit somewhere, so that C++'s "add::be" stays. */
static size_t
ipv6_end(const tlm__scrub_scan *sc, size_t i)
{
    size_t p = i, g, k, groups = 0, best = 0, e4;
    bool dbl = false, digit = false;

    if (at(sc, p) == ':') {
        if (at(sc, p + 1) != ':')
            return 0;
        dbl = true;
        p += 2;
    }
    for (;;) {
        for (g = p; g - p < 5 && is_hex(at(sc, g));)
            g++;
        if (g == p || g - p > 4)
            break;
        if (at(sc, g) == '.') {
            e4 = ipv4_end(sc, p);
            if (e4 != 0 && (dbl ? groups <= 5 : groups == 6))
                return e4;
            break;
        }
        for (k = p; k < g; k++)
            digit = digit || is_digit(sc->s[k]);
        groups++;
        p = g;
        if (dbl ? groups <= 7 : groups == 8)
            best = p;
        if (groups == 8)
            break;
        if (at(sc, p) == ':' && at(sc, p + 1) == ':' && !dbl) {
            dbl = true;
            p += 2;
            if (groups <= 7)
                best = p;
        } else if (at(sc, p) == ':' && is_hex(at(sc, p + 1)))
            p++;
        else
            break;
    }
    if (best == 0 || (dbl && (!digit || groups == 0)))
        return 0;
    return best;
}

bool
tlm__scrub_find_ipv6(const tlm__scrub_scan *sc, size_t i, tlm__scrub_match *m)
{
    unsigned pc = prev(sc, i), c;
    size_t e;

    if (is_alnum(pc) || pc == ':' || pc == '.' || pc == '_')
        return false;
    if (!is_hex(at(sc, i)) && at(sc, i) != ':')
        return false;
    e = ipv6_end(sc, i);
    if (e == 0)
        return false;
    c = at(sc, e);
    if (is_alnum(c) || c == '_' || (c == '.' && is_digit(at(sc, e + 1)))
        || (c == ':' && (is_hex(at(sc, e + 1)) || at(sc, e + 1) == ':')))
        return false;
    if (c == '%' && is_alnum(at(sc, e + 1))) /* zone: fe80::1%eth0 */
        e = run(sc, e + 1, is_alnum);
    return found(m, i, e, TLM__SCRUB_IP, "[ip]");
}
