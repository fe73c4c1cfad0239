/* Private to error_message.c and error_group.c: a bounded output buffer
 * that never splits a UTF-8 character, and the byte classes both use. */
#ifndef TLM_SERVER_ERROR_TEXT_H
#define TLM_SERVER_ERROR_TEXT_H

#include "error_group.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define QUOTE_MAX 1024 /* bytes between a quote and its closing quote */
#define COUNT(a) (sizeof(a) / sizeof(*(a)))

/* --- output buffer ------------------------------------------------------ */

struct sb {
    char *p;
    size_t cap; /* NUL included */
    size_t len;
};

static inline bool
is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Appends s[0..n) (valid UTF-8) or as much of it as fits, cut at a
 * character boundary. */
static inline void
sb_put(struct sb *b, const char *s, size_t n)
{
    size_t room = b->cap - 1 - b->len;
    if (n > room) {
        n = room;
        while (n > 0 && is_cont((unsigned char)s[n]))
            n--;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void
sb_str(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Length of the valid UTF-8 character at s[0..n), or 0 if invalid. */
static inline size_t
utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (!is_cont(s[i]))
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Appends s[0..n) with invalid UTF-8 and control bytes as '?'. */
static inline void
sb_text(struct sb *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_char(u + i, n - i);
        if (k == 0 || (k == 1 && (u[i] < 0x20 || u[i] == 0x7F))) {
            sb_put(b, "?", 1);
            i++;
        } else {
            sb_put(b, s + i, k);
            i += k;
        }
    }
}

/* --- character classes --------------------------------------------------- */

static inline bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

static inline bool
is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
        || c == '\f';
}

/* Whether s[i] ends a token: end of input or not alphanumeric. */
static inline bool
ends(const unsigned char *s, size_t n, size_t i)
{
    return i >= n || !is_alnum(s[i]);
}

static inline size_t
run(const unsigned char *s, size_t n, size_t i, bool (*cls)(unsigned char))
{
    size_t j = i;
    while (j < n && cls(s[j]))
        j++;
    return j - i;
}

/* Stops reading at n bytes or before, at a character boundary. */
static inline size_t
bounded_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (n == max)
        while (n > 0 && is_cont((unsigned char)s[n]))
            n--;
    return n;
}

/* Appends msg (at most TLM__ERROR_MESSAGE_MAX bytes read) to b with its
 * variable parts replaced by placeholders (error_message.c). */
void tlm__error_parameterize_into(const char *msg, struct sb *b);

#endif
