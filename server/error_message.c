/* Error messages with their variable parts (quoted strings, URLs,
 * e-mails, UUIDs, times, IPs, hex, paths, generated ids, numbers) replaced
 * by typed placeholders, for grouping (error_group.c). Pure, bounded. */
#include "error_text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* --- message matchers: each returns the bytes it consumed at s[i], 0 for
 * no match, and writes its placeholder ----------------------------------- */

static size_t
m_quoted(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    unsigned char q = s[i];
    if (q != '\'' && q != '"' && q != '`')
        return 0;
    size_t lim = i + 1 + QUOTE_MAX < n ? i + 1 + QUOTE_MAX : n;
    for (size_t j = i + 1; j < lim; j++) {
        if (s[j] == q && ends(s, n, j + 1)) {
            sb_str(b, "<str>");
            return j + 1 - i;
        }
    }
    return 0;
}

static bool
is_scheme(unsigned char c)
{
    return is_alnum(c) || c == '+' || c == '.' || c == '-';
}

static size_t match_ipv6(const unsigned char *s, size_t n, size_t i);
static size_t match_ipv4(const unsigned char *s, size_t n, size_t i);

static bool
url_end(unsigned char c)
{
    return is_space(c) || c == '"' || c == '\'' || c == '`' || c == '<'
        || c == '>';
}

/* scheme://[user@]host[:port][/path?query#frag]: keeps scheme and host
 * (an IP host becomes <ip>), drops user and port, the rest is /<path>. */
static size_t
m_url(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    if (!is_alpha(s[i]))
        return 0;
    size_t j = i + run(s, n, i, is_scheme);
    if (j + 3 > n || memcmp(s + j, "://", 3) != 0 || j - i > 32)
        return 0;
    size_t auth = j + 3, end = auth;
    while (end < n && !url_end(s[end]) && s[end] != '/' && s[end] != '?'
        && s[end] != '#')
        end++;
    size_t host = auth;
    for (size_t k = auth; k < end; k++)
        if (s[k] == '@')
            host = k + 1;
    size_t hend = host;
    if (hend < end && s[hend] == '[') {
        while (hend < end && s[hend] != ']')
            hend++;
    } else {
        while (hend < end && s[hend] != ':')
            hend++;
    }
    size_t rest = end;
    while (rest < n && !url_end(s[rest]))
        rest++;
    while (rest > end && strchr(".,;:!?)]}", s[rest - 1]) != NULL)
        rest--;
    sb_text(b, (const char *)s + i, auth - i);
    if (hend > host
        && (s[host] == '[' || match_ipv4(s, hend, host) == hend - host
            || match_ipv6(s, hend, host) == hend - host))
        sb_str(b, "<ip>");
    else
        sb_text(b, (const char *)s + host, hend - host);
    if (rest > end && !(rest == end + 1 && s[end] == '/'))
        sb_str(b, "/<path>");
    if (rest < end) /* trailing punctuation inside the authority */
        rest = end;
    return rest - i;
}

static bool
is_local(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+'
        || c == '-';
}

static bool
is_domain(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '-';
}

static size_t
m_email(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    if (!is_alnum(s[i]))
        return 0;
    size_t j = i + run(s, n, i, is_local);
    if (j >= n || s[j] != '@' || j - i > 64)
        return 0;
    size_t d = j + 1, e = d + run(s, n, d, is_domain);
    while (e > d && (s[e - 1] == '.' || s[e - 1] == '-'))
        e--;
    size_t dot = 0, tld = 0;
    for (size_t k = d; k < e; k++) {
        if (s[k] == '.') {
            dot = k;
            tld = 0;
        } else {
            tld = is_alpha(s[k]) ? tld + 1 : 100;
        }
    }
    if (dot == 0 || dot == d || tld < 2 || tld > 63)
        return 0;
    sb_str(b, "<email>");
    return e - i;
}

static size_t
m_uuid(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    static const int group[] = {8, 4, 4, 4, 12};
    size_t j = i;
    for (int g = 0; g < 5; g++) {
        if (g > 0) {
            if (j >= n || s[j] != '-')
                return 0;
            j++;
        }
        for (int k = 0; k < group[g]; k++, j++)
            if (j >= n || !is_hex(s[j]))
                return 0;
    }
    if (!ends(s, n, j))
        return 0;
    sb_str(b, "<uuid>");
    return j - i;
}

/* d{1,3} x4 with dots; returns the length or 0. */
static size_t
match_ipv4(const unsigned char *s, size_t n, size_t i)
{
    size_t j = i;
    for (int o = 0; o < 4; o++) {
        if (o > 0) {
            if (j >= n || s[j] != '.')
                return 0;
            j++;
        }
        size_t d = run(s, n, j, is_digit);
        if (d == 0 || d > 3)
            return 0;
        j += d;
    }
    if (j < n
        && (is_alnum(s[j]) || (s[j] == '.' && j + 1 < n && is_digit(s[j + 1]))))
        return 0;
    return j - i;
}

static bool
is_hexcolon(unsigned char c)
{
    return is_hex(c) || c == ':';
}

/* An IPv6 address (with "::" or 7 colons, groups of <= 4 hex, a digit
 * somewhere) and an optional %zone; returns the length or 0. */
static size_t
match_ipv6(const unsigned char *s, size_t n, size_t i)
{
    size_t e = i + run(s, n, i, is_hexcolon);
    int colons = 0, group = 0;
    bool dbl = false, digit = false;
    for (size_t k = i; k < e; k++) {
        if (s[k] == ':') {
            colons++;
            if (k > i && s[k - 1] == ':') {
                if (dbl)
                    return 0;
                dbl = true;
            }
            group = 0;
        } else {
            digit = digit || is_digit(s[k]);
            if (++group > 4)
                return 0;
        }
    }
    if (colons < 2 || colons > 7 || !digit || (!dbl && colons != 7))
        return 0;
    if (s[e - 1] == ':' && !(e - i >= 2 && s[e - 2] == ':'))
        return 0;
    if (e < n && s[e] == '%')
        e += 1 + run(s, n, e + 1, is_alnum);
    if (!ends(s, n, e))
        return 0;
    return e - i;
}

static size_t
port(const unsigned char *s, size_t n, size_t j)
{
    if (j + 1 < n && s[j] == ':' && is_digit(s[j + 1])) {
        size_t d = run(s, n, j + 1, is_digit);
        if (d <= 5 && ends(s, n, j + 1 + d))
            return 1 + d;
    }
    return 0;
}

static size_t
m_ip(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    size_t len = 0;
    if (s[i] == '[') {
        size_t k = match_ipv6(s, n, i + 1);
        if (k == 0 || i + 1 + k >= n || s[i + 1 + k] != ']')
            return 0;
        len = k + 2;
    } else {
        len = match_ipv4(s, n, i);
        if (len == 0)
            len = match_ipv6(s, n, i);
        if (len == 0)
            return 0;
    }
    len += port(s, n, i + len);
    sb_str(b, "<ip>");
    return len;
}

/* Exactly k digits at s[j]. */
static bool
digits(const unsigned char *s, size_t n, size_t j, size_t k)
{
    return j + k <= n && run(s, n, j, is_digit) >= k;
}

/* HH:MM[:SS[.frac]] at s[j]; returns the length or 0. */
static size_t
clock_time(const unsigned char *s, size_t n, size_t j)
{
    size_t k = j;
    if (!digits(s, n, k, 2) || k + 2 >= n || s[k + 2] != ':'
        || !digits(s, n, k + 3, 2))
        return 0;
    k += 5;
    if (k + 2 < n && s[k] == ':' && digits(s, n, k + 1, 2)) {
        k += 3;
        if (k + 1 < n && (s[k] == '.' || s[k] == ',') && is_digit(s[k + 1]))
            k += 1 + run(s, n, k + 1, is_digit);
    }
    return k - j;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|+HH[:MM]] or HH:MM:SS[.frac]. */
static size_t
m_time(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    size_t j = i;
    if (digits(s, n, j, 4) && j + 10 <= n && s[j + 4] == '-'
        && digits(s, n, j + 5, 2) && s[j + 7] == '-'
        && digits(s, n, j + 8, 2)) {
        j += 10;
        if (j + 1 < n && (s[j] == 'T' || s[j] == ' ')) {
            size_t t = clock_time(s, n, j + 1);
            if (t > 0)
                j += 1 + t;
        }
    } else {
        size_t t = clock_time(s, n, j);
        if (t < 8) /* HH:MM alone is two numbers */
            return 0;
        j += t;
    }
    if (j < n && s[j] == 'Z')
        j++;
    /* an offset only after a clock time: "2024-05-01-12" is not one */
    else if (j + 2 < n && (s[j] == '+' || s[j] == '-') && j > i + 10
        && digits(s, n, j + 1, 2)) {
        size_t k = j + 3;
        if (k + 2 < n && s[k] == ':' && digits(s, n, k + 1, 2))
            k += 3;
        else if (digits(s, n, k, 2))
            k += 2;
        j = k;
    }
    if (!ends(s, n, j))
        return 0;
    sb_str(b, "<time>");
    return j - i;
}

static size_t
m_hex0x(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    if (i + 2 >= n || s[i] != '0' || (s[i + 1] != 'x' && s[i + 1] != 'X')
        || !is_hex(s[i + 2]))
        return 0;
    sb_str(b, "<hex>");
    return 2 + run(s, n, i + 2, is_hex);
}

static bool
is_pathc(unsigned char c)
{
    return c > ' ' && c != '"' && c != '\'' && c != '`' && c != '(' && c != ')'
        && c != '[' && c != ']' && c != '{' && c != '}' && c != '<' && c != '>'
        && c != ',' && c != ';' && c != 0x7F;
}

/* Absolute, home, ./ ../ and C:\ paths, and relative ones with a '/' whose
 * last part has a file extension ("src/client.c"). */
static size_t
m_path(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    bool ok = false;
    size_t e = i + run(s, n, i, is_pathc);
    while (e > i && strchr(".:!?", s[e - 1]) != NULL)
        e--;
    if (e - i < 2)
        return 0;
    if (s[i] == '/')
        ok = is_alnum(s[i + 1]) || strchr("._~-", s[i + 1]) != NULL;
    else if (s[i] == '~' || s[i] == '.')
        ok = (s[i + 1] == '/')
            || (s[i] == '.' && e - i > 2 && s[i + 1] == '.' && s[i + 2] == '/');
    else if (is_alpha(s[i]) && s[i + 1] == ':')
        ok = e - i > 2 && (s[i + 2] == '\\' || s[i + 2] == '/');
    else if (is_alnum(s[i]) || s[i] == '_') {
        size_t slash = 0, dot = 0;
        for (size_t k = i; k < e; k++) {
            if (s[k] == '/')
                slash = k;
            else if (s[k] == '.')
                dot = k;
        }
        size_t x = dot + 1;
        ok = slash > i && dot > slash + 1 && x < e && is_alpha(s[x]);
        for (size_t k = x; ok && k < e && s[k] != ':'; k++)
            ok = is_alnum(s[k]) && k - x < 5;
    }
    if (!ok)
        return 0;
    sb_str(b, "<path>");
    return e - i;
}

static size_t
m_number(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    size_t j = i + run(s, n, i, is_digit);
    if (j == i)
        return 0;
    while (j + 1 < n && s[j] == '.' && is_digit(s[j + 1]))
        j += 1 + run(s, n, j + 1, is_digit);
    size_t unit = run(s, n, j, is_alpha);
    if (!ends(s, n, j + unit) || unit > 4)
        return 0;
    sb_str(b, "<num>");
    sb_text(b, (const char *)s + j, unit);
    return j + unit - i;
}

/* Alphanumeric runs: hex hashes (>= 8 hex, a digit, not all digits) and
 * generated ids (>= 8 characters mixing letters and >= 3 digits). */
static size_t
m_token(const unsigned char *s, size_t n, size_t i, struct sb *b)
{
    size_t e = i + run(s, n, i, is_alnum);
    size_t nd = 0, nhex = 0;
    for (size_t k = i; k < e; k++) {
        nd += is_digit(s[k]);
        nhex += is_hex(s[k]);
    }
    if (e - i < 8 || nd == 0 || nd == e - i)
        return 0;
    if (nhex == e - i)
        sb_str(b, "<hex>");
    else if (nd >= 3)
        sb_str(b, "<id>");
    else
        return 0;
    return e - i;
}

typedef size_t (*matcher)(const unsigned char *, size_t, size_t, struct sb *);

static const matcher matchers[] = {m_quoted, m_url, m_email, m_uuid, m_time,
    m_ip, m_hex0x, m_path, m_token, m_number};

void
tlm__error_parameterize_into(const char *msg, struct sb *b)
{
    const unsigned char *s = (const unsigned char *)msg;
    size_t n = bounded_len(msg, TLM__ERROR_MESSAGE_MAX);
    size_t i = 0;
    bool space = false;
    while (i < n && b->len + 1 < b->cap) {
        if (is_space(s[i])) {
            space = b->len > 0;
            i++;
            continue;
        }
        if (space) {
            sb_put(b, " ", 1);
            space = false;
        }
        size_t k = 0;
        if (i == 0 || !is_alnum(s[i - 1]))
            for (size_t m = 0; k == 0 && m < COUNT(matchers); m++)
                k = matchers[m](s, n, i, b);
        if (k == 0) {
            k = is_alnum(s[i]) ? run(s, n, i, is_alnum) : 1;
            if (!is_alnum(s[i])) {
                size_t u = utf8_char(s + i, n - i);
                k = u > 0 ? u : 1;
            }
            sb_text(b, msg + i, k);
        }
        i += k;
    }
}

size_t
tlm__error_parameterize(const char *msg, char *out, size_t out_size)
{
    if (out == NULL || out_size == 0)
        return 0;
    struct sb b = {out, out_size, 0};
    out[0] = '\0';
    tlm__error_parameterize_into(msg != NULL ? msg : "", &b);
    return b.len;
}
