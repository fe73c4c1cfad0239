/* Strict JSON scanner (RFC 8259) over untrusted batch bodies: one pass, an
 * explicit fixed-size container stack instead of recursion, every read
 * bounds-checked against the input length (no NUL terminator assumed).
 * Must never copy the input nor allocate per value. */
#include "json_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct state {
    struct tlm__json_scan *s;
    const unsigned char *start;
    const unsigned char *p;
    const unsigned char *end;
    unsigned char stack[TLM_JSON_SCAN_MAX_DEPTH];
    size_t depth;
    size_t max_depth; /* 1..TLM_JSON_SCAN_MAX_DEPTH */
    long slot; /* wanted key of the current root member, or -1 */
    const unsigned char *member_start;
    bool in_list; /* inside the listed array */
    const unsigned char *elem_start;
    bool bad_text; /* of the current element */
};

static void
skip_ws(struct state *st)
{
    while (st->p < st->end
        && (*st->p == ' ' || *st->p == '\n' || *st->p == '\r'
            || *st->p == '\t'))
        st->p++;
}

/* Length (2..4) of the valid multi-byte UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int
hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = p[i];
        unsigned d;
        if (h >= '0' && h <= '9')
            d = h - '0';
        else if (h >= 'a' && h <= 'f')
            d = h - 'a' + 10;
        else if (h >= 'A' && h <= 'F')
            d = h - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* One escape at p (p[0] == '\\'); returns its length or 0. *high tracks a
 * pending high surrogate, which only a low one may follow. */
static size_t
scan_escape(struct state *st, const unsigned char *p, bool *high)
{
    size_t room = (size_t)(st->end - p);
    unsigned cp;
    if (room >= 6 && p[1] == 'u' && hex4(p + 2, &cp) == 0) {
        bool low = cp >= 0xdc00 && cp <= 0xdfff;
        if (*high != low)
            st->bad_text = true;
        *high = cp >= 0xd800 && cp <= 0xdbff;
        return 6;
    }
    if (room < 2 || strchr("\"\\/bfnrt", p[1]) == NULL || p[1] == '\0')
        return 0;
    if (*high)
        st->bad_text = true;
    *high = false;
    return 2;
}

/* A string whose opening quote is at st->p; leaves st->p past the closing
 * one. Bad text is flagged, not refused: the caller decides. */
static int
scan_string(struct state *st)
{
    const unsigned char *p = st->p + 1;
    bool high = false;
    while (p < st->end) {
        unsigned char ch = *p;
        size_t n = 1;
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\' && !high) {
            p++;
            continue;
        }
        if (ch == '"') {
            st->bad_text |= high;
            st->p = p + 1;
            return 0;
        }
        if (ch < 0x20)
            return -1;
        if (ch == '\\') {
            n = scan_escape(st, p, &high);
            if (n == 0)
                return -1;
            p += n;
            continue;
        }
        st->bad_text |= high;
        high = false;
        if (ch >= 0x80) {
            n = utf8_len(p, (size_t)(st->end - p));
            st->bad_text |= n == 0;
        }
        p += n > 0 ? n : 1;
    }
    return -1;
}

static const unsigned char *
digits(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

static int
scan_number(struct state *st)
{
    const unsigned char *p = st->p, *end = st->end, *q;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        p = digits(p, end);
    else
        return -1;
    if (p < end && *p == '.') {
        q = digits(p + 1, end);
        if (q == p + 1)
            return -1;
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        q = digits(p, end);
        if (q == p)
            return -1;
        p = q;
    }
    st->p = p;
    return 0;
}

static int
scan_literal(struct state *st, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(st->end - st->p) < n || memcmp(st->p, word, n) != 0)
        return -1;
    st->p += n;
    return 0;
}

/* Any value but an object or array. */
static enum tlm__json_scan_status
scan_scalar(struct state *st)
{
    int rc;
    switch (*st->p) {
    case '"':
        rc = scan_string(st);
        if (rc == 0 && st->bad_text && !st->in_list)
            rc = -1;
        break;
    case 't':
        rc = scan_literal(st, "true");
        break;
    case 'f':
        rc = scan_literal(st, "false");
        break;
    case 'n':
        rc = scan_literal(st, "null");
        break;
    default:
        rc = scan_number(st);
        break;
    }
    return rc == 0 ? TLM_JSON_SCAN_OK : TLM_JSON_SCAN_MALFORMED;
}

static long
find_key(const struct tlm__json_scan *s, const char *raw, size_t len)
{
    for (size_t i = 0; i < s->n_keys; i++) {
        if (s->values[i].p == NULL && tlm__json_key_eq(raw, len, s->keys[i]))
            return (long)i;
    }
    return -1;
}

/* A member name and its colon; at the root, notes which wanted key it is. */
static enum tlm__json_scan_status
read_key(struct state *st)
{
    const unsigned char *key;
    skip_ws(st);
    if (st->p == st->end || *st->p != '"')
        return TLM_JSON_SCAN_MALFORMED;
    key = st->p + 1;
    if (scan_string(st) != 0 || (st->bad_text && !st->in_list))
        return TLM_JSON_SCAN_MALFORMED;
    if (st->depth == 1)
        st->slot
            = find_key(st->s, (const char *)key, (size_t)(st->p - 1 - key));
    skip_ws(st);
    if (st->p == st->end || *st->p != ':')
        return TLM_JSON_SCAN_MALFORMED;
    st->p++;
    return TLM_JSON_SCAN_OK;
}

static void
begin_value(struct state *st)
{
    if (st->depth == 1)
        st->member_start = st->p;
    if (st->depth == 2 && st->in_list) {
        st->elem_start = st->p;
        st->bad_text = false;
    }
}

static enum tlm__json_scan_status
push_elem(struct state *st)
{
    struct tlm__json_scan *s = st->s;
    if (s->n_elems == s->cap_elems) {
        size_t ncap = s->cap_elems == 0 ? 256 : s->cap_elems * 2;
        void *p = NULL;
        if (ncap < SIZE_MAX / sizeof(*s->elems))
            p = realloc(s->elems, ncap * sizeof(*s->elems));
        if (p == NULL)
            return TLM_JSON_SCAN_NOMEM;
        s->elems = p;
        s->cap_elems = ncap;
    }
    s->elems[s->n_elems].p = (const char *)st->elem_start;
    s->elems[s->n_elems].len = (size_t)(st->p - st->elem_start);
    s->elems[s->n_elems].bad_text = st->bad_text;
    s->n_elems++;
    return TLM_JSON_SCAN_OK;
}

/* Called once per completed value, at the depth it was begun. */
static enum tlm__json_scan_status
end_value(struct state *st)
{
    if (st->depth == 1 && st->slot >= 0) {
        st->s->values[st->slot].p = (const char *)st->member_start;
        st->s->values[st->slot].len = (size_t)(st->p - st->member_start);
    }
    if (st->depth == 2 && st->in_list)
        return push_elem(st);
    return TLM_JSON_SCAN_OK;
}

static enum tlm__json_scan_status
open_container(struct state *st)
{
    if (st->depth >= st->max_depth)
        return TLM_JSON_SCAN_TOO_DEEP;
    if (st->depth == 1 && *st->p == '[' && st->slot >= 0
        && (size_t)st->slot == st->s->list_key)
        st->in_list = true;
    st->stack[st->depth++] = *st->p == '{' ? '}' : ']';
    st->p++;
    return TLM_JSON_SCAN_OK;
}

static enum tlm__json_scan_status
close_container(struct state *st)
{
    st->depth--;
    if (st->depth == 1)
        st->in_list = false;
    st->p++;
    return end_value(st);
}

/* Expects a value at st->p: a scalar, or the start of a container (whose
 * first member or element the main loop reads next). */
static enum tlm__json_scan_status
value(struct state *st, bool *want_value)
{
    enum tlm__json_scan_status rc;
    begin_value(st);
    if (*st->p != '{' && *st->p != '[') {
        *want_value = false;
        rc = scan_scalar(st);
        return rc != TLM_JSON_SCAN_OK ? rc : end_value(st);
    }
    rc = open_container(st);
    if (rc != TLM_JSON_SCAN_OK)
        return rc;
    skip_ws(st);
    if (st->p < st->end && *st->p == st->stack[st->depth - 1]) {
        *want_value = false;
        return close_container(st);
    }
    *want_value = true;
    return st->stack[st->depth - 1] == '}' ? read_key(st) : TLM_JSON_SCAN_OK;
}

/* After a value: a comma, the end of its container, or the document end. */
static enum tlm__json_scan_status
after_value(struct state *st, bool *want_value, bool *done)
{
    unsigned char closer = st->stack[st->depth - 1];
    if (*st->p == ',') {
        st->p++;
        *want_value = true;
        return closer == '}' ? read_key(st) : TLM_JSON_SCAN_OK;
    }
    if (*st->p != closer)
        return TLM_JSON_SCAN_MALFORMED;
    enum tlm__json_scan_status rc = close_container(st);
    *done = st->depth == 0;
    return rc;
}

static enum tlm__json_scan_status
run(struct state *st)
{
    enum tlm__json_scan_status rc = TLM_JSON_SCAN_OK;
    bool want_value = true, done = false;
    skip_ws(st);
    if (st->p == st->end)
        return TLM_JSON_SCAN_MALFORMED;
    if (*st->p != '{')
        return TLM_JSON_SCAN_NOT_OBJECT;
    while (rc == TLM_JSON_SCAN_OK && !done) {
        skip_ws(st);
        if (st->p == st->end)
            return TLM_JSON_SCAN_MALFORMED;
        if (want_value) {
            rc = value(st, &want_value);
            done = st->depth == 0;
        } else {
            rc = after_value(st, &want_value, &done);
        }
    }
    if (rc != TLM_JSON_SCAN_OK)
        return rc;
    skip_ws(st);
    return st->p == st->end ? TLM_JSON_SCAN_OK : TLM_JSON_SCAN_MALFORMED;
}

enum tlm__json_scan_status
tlm__json_scan(struct tlm__json_scan *s, const char *json, size_t len)
{
    struct state st;
    enum tlm__json_scan_status rc;
    memset(&st, 0, sizeof(st));
    st.s = s;
    st.start = (const unsigned char *)json;
    st.p = st.start;
    st.end = st.start + len;
    st.slot = -1;
    st.max_depth = s->max_depth > 0 && s->max_depth < TLM_JSON_SCAN_MAX_DEPTH
        ? s->max_depth
        : TLM_JSON_SCAN_MAX_DEPTH;
    s->n_elems = 0;
    s->error_offset = 0;
    for (size_t i = 0; i < s->n_keys; i++) {
        s->values[i].p = NULL;
        s->values[i].len = 0;
    }
    rc = run(&st);
    if (rc != TLM_JSON_SCAN_OK)
        s->error_offset = (size_t)(st.p - st.start);
    return rc;
}

bool
tlm__json_too_deep(const char *json, size_t len, unsigned max_depth)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = json[i];
        if (in_string) {
            if (ch == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max_depth)
                return true;
        } else if ((ch == '}' || ch == ']') && depth > 0) {
            depth--;
        }
    }
    return false;
}

void
tlm__json_scan_free(struct tlm__json_scan *s)
{
    free(s->elems);
    s->elems = NULL;
    s->n_elems = 0;
    s->cap_elems = 0;
}

/* The decoded value of the escape at raw[0..) (len bytes left), if it is
 * an ASCII character; sets *used. Returns -1 for anything else. */
static int
escaped_ascii(const char *raw, size_t len, size_t *used)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    unsigned cp;
    if (len >= 6 && raw[1] == 'u'
        && hex4((const unsigned char *)raw + 2, &cp) == 0 && cp < 0x80) {
        *used = 6;
        return (int)cp;
    }
    for (size_t i = 0; len >= 2 && from[i] != '\0'; i++) {
        if (raw[1] == from[i]) {
            *used = 2;
            return to[i];
        }
    }
    return -1;
}

bool
tlm__json_key_eq(const char *raw, size_t len, const char *name)
{
    size_t i = 0;
    for (; i < len && *name != '\0'; name++) {
        size_t used = 1;
        int ch = (unsigned char)raw[i];
        if (ch == '\\')
            ch = escaped_ascii(raw + i, len - i, &used);
        if (ch != (unsigned char)*name)
            return false;
        i += used;
    }
    return i == len && *name == '\0';
}
