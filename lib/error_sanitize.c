/*
 * error_sanitize.c - the stack trace sanitizer of error events: caps,
 * code addresses and offsets removed, absolute paths reduced.
 *
 * Pure string work over its arguments: no global state, no lock, safe from
 * any thread (it runs on the thread that captures the error). The PII
 * scrubber runs later, on the worker, over what this leaves.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

size_t
tlm__utf8_cut(const char *s, size_t n, size_t max)
{
    size_t k;

    if (n <= max)
        return n;
    k = max;
    /* Back off continuation bytes: never end inside a sequence. */
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}

static bool
is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')
        || (ch >= 'A' && ch <= 'F');
}

static bool
is_word(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z')
        || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

/* Characters of a file path token; ':' ends it, so "x.c:42" keeps its
 * line number, and '(' ends it before a glibc frame's symbol. */
static bool
is_path(char ch)
{
    return is_word(ch) || ch == '.' || ch == '-' || ch == '+' || ch == '/'
        || ch == '~' || ch == '@' || ch == '%';
}

/* Hex digits after "0x" at s[i]; 0 if none. */
static size_t
hex_run(const char *s, size_t n, size_t i)
{
    size_t j;

    if (i + 2 >= n || s[i] != '0' || (s[i + 1] != 'x' && s[i + 1] != 'X'))
        return 0;
    for (j = i + 2; j < n && is_hex(s[j]); j++)
        ;
    return j - (i + 2);
}

/* Where a path may start: line start or after a separator, never inside a
 * word or a URL ("https://h/p" has no path token). */
static bool
path_start(const char *s, size_t i)
{
    char p;

    if (s[i] != '/')
        return false;
    if (i == 0)
        return true;
    p = s[i - 1];
    return p == ' ' || p == '\t' || p == '(' || p == '[' || p == '"'
        || p == '\'' || p == '=' || p == '<' || p == ',';
}

/* Appends the reduced form of the path tok[0..n). */
static void
put_path(tlm__buf *out, const char *tok, size_t n, const char *home)
{
    size_t h = home ? strlen(home) : 0, k;
    const char *rest;

    if (h > 1 && n >= h && memcmp(tok, home, h) == 0
        && (n == h || tok[h] == '/')) {
        tlm__buf_append(out, "~", 1);
        tlm__buf_append(out, tok + h, n - h);
        return;
    }
    if ((n > 6 && memcmp(tok, "/home/", 6) == 0)
        || (n > 7 && memcmp(tok, "/Users/", 7) == 0)
        || (n >= 5 && memcmp(tok, "/root", 5) == 0
            && (n == 5 || tok[5] == '/'))) {
        /* Another user's home, or root's: the user name goes. */
        k = tok[1] == 'r' ? 5 : tok[1] == 'h' ? 6 : 7;
        if (k > 5) {
            rest = memchr(tok + k, '/', n - k);
            k = rest ? (size_t)(rest - tok) : n;
        }
        tlm__buf_append(out, "~", 1);
        tlm__buf_append(out, tok + k, n - k);
        return;
    }
    /* Any other absolute path (build trees, system libraries): the
     * basename, which is what grouping and a reader need. */
    for (k = n; k > 0 && tok[k - 1] != '/'; k--)
        ;
    if (k == n) /* ends with '/': nothing to cut to */
        tlm__buf_append(out, tok, n);
    else
        tlm__buf_append(out, tok + k, n - k);
}

/* Appends the sanitized line s[0..n) to out. */
static void
put_line(tlm__buf *out, const char *s, size_t n, const char *home)
{
    size_t i = 0, j, h, start = out->len;

    while (i < n) {
        h = s[i] == '[' ? hex_run(s, n, i + 1) : 0;
        if (h > 0 && i + 3 + h < n && s[i + 3 + h] == ']') {
            i += 4 + h; /* "[0x7f...]": a code address */
            continue;
        }
        h = s[i] == '+' ? hex_run(s, n, i + 1) : 0;
        if (h > 0) {
            i += 3 + h; /* "+0x1d": an offset into a symbol */
            continue;
        }
        h = s[i] == '0' && (i == 0 || !is_word(s[i - 1])) ? hex_run(s, n, i)
                                                          : 0;
        if (h >= 6 && (i + 2 + h == n || !is_word(s[i + 2 + h]))) {
            i += 2 + h; /* a bare address, "at 0x55d1c3a0" */
            continue;
        }
        if (path_start(s, i)) {
            for (j = i; j < n && is_path(s[j]); j++)
                ;
            put_path(out, s + i, j - i, home);
            i = j;
            continue;
        }
        tlm__buf_append(out, s + i, 1);
        i++;
    }
    /* What the removals left at the end, and a CR of CRLF input. */
    while (out->len > start
        && (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'
            || out->data[out->len - 1] == '\r'))
        out->len--;
    if (out->data != NULL)
        out->data[out->len] = '\0';
}

static bool
blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Non-blank lines in s[0..n). */
static uint64_t
count_lines(const char *s, size_t n)
{
    uint64_t k = 0;
    const char *nl;
    size_t len;

    while (n > 0) {
        nl = memchr(s, '\n', n);
        len = nl ? (size_t)(nl - s) : n;
        if (!blank(s, len))
            k++;
        if (nl == NULL)
            break;
        s += len + 1;
        n -= len + 1;
    }
    return k;
}

bool
tlm__stack_sanitize(const char *in, size_t n, uint32_t max_frames,
    size_t max_bytes, const char *home, tlm__buf *out)
{
    /* Room kept for the note that says what was cut. */
    const size_t note = 40;
    size_t base = out->len, len, before;
    uint32_t frames = 0;
    const char *nl;
    char tail[48];

    if (max_bytes < 2 * note)
        max_bytes = 2 * note;
    tail[0] = '\0';
    while (n > 0) {
        nl = memchr(in, '\n', n);
        len = nl ? (size_t)(nl - in) : n;
        if (!blank(in, len)) {
            if (frames == max_frames) {
                snprintf(tail, sizeof(tail), "[%llu more frames]",
                    (unsigned long long)count_lines(in, n));
                break;
            }
            before = out->len;
            if (before > base)
                tlm__buf_append(out, "\n", 1);
            /* A line longer than the whole budget is cut first. */
            put_line(out, in, tlm__utf8_cut(in, len, max_bytes), home);
            if (out->len - base > max_bytes - note) {
                out->len = before; /* whole lines only */
                out->data[out->len] = '\0';
                snprintf(tail, sizeof(tail), "[truncated]");
                break;
            }
            frames++;
        }
        if (nl == NULL)
            break;
        in += len + 1;
        n -= len + 1;
    }
    if (tail[0] != '\0') {
        if (out->len > base)
            tlm__buf_append(out, "\n", 1);
        tlm__buf_puts(out, tail);
    }
    if (out->data == NULL && !out->failed)
        tlm__buf_append(out, "", 0);
    return !out->failed;
}
