/* Error grouping: parameterizes messages, normalizes stack frames and hashes
 * both (or the caller's fingerprint) into a group key. Pure: no globals, no
 * allocation, no I/O, and bounded work whatever the input size; it must
 * never change a fingerprint without TLM_GROUPING_VERSION changing. */
#include "error_group.h"
#include "error_text.h"

#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 1024 /* bytes of one stack line looked at */
#define FRAME_MAX 256 /* bytes of one normalized frame, NUL included */

/* --- stack frames -------------------------------------------------------- */

enum frame_kind { FRAME_NONE, FRAME_LOOSE, FRAME_STRICT };

struct frame {
    const char *fn; /* function, or NULL */
    size_t fn_len;
    const char *path; /* file, module or object as written, or NULL */
    size_t path_len;
    bool python;
};

static bool
starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static bool
has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n > 0 && is_space((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* Drops ":42", ":42:7" and "+0x1d" from the end of a location. */
static void
strip_location(const char *s, size_t *n)
{
    for (;;) {
        size_t k = *n;
        while (k > 0 && is_digit((unsigned char)s[k - 1]))
            k--;
        if (k < *n && k > 0 && s[k - 1] == ':') {
            *n = k - 1;
            continue;
        }
        k = *n;
        while (k > 0 && is_hex((unsigned char)s[k - 1]))
            k--;
        if (k < *n && k >= 3 && s[k - 1] == 'x' && s[k - 2] == '0'
            && s[k - 3] == '+') {
            *n = k - 3;
            continue;
        }
        return;
    }
}

/* 'File "/x/client.py", line 42, in fetch_items' */
static enum frame_kind
parse_python(const char *l, size_t n, struct frame *f)
{
    if (!starts(l, n, "File \""))
        return FRAME_NONE;
    const char *p = l + 6;
    const char *q = memchr(p, '"', n - 6);
    if (q == NULL)
        return FRAME_NONE;
    f->path = p;
    f->path_len = (size_t)(q - p);
    f->python = true;
    size_t rest = n - (size_t)(q - l);
    for (size_t i = 0; i + 5 <= rest; i++) {
        if (memcmp(q + i, ", in ", 5) == 0) {
            f->fn = q + i + 5;
            f->fn_len = rest - i - 5;
            trim(&f->fn, &f->fn_len);
            break;
        }
    }
    return FRAME_STRICT;
}

/* Java "at a.b.C.m(C.java:42)", JavaScript "at f (/x/y.js:1:2)", "at
 * /x/y.js:1:2", "at async f (file:///x/y.mjs:1:2)". */
static enum frame_kind
parse_at(const char *l, size_t n, struct frame *f)
{
    if (!starts(l, n, "at "))
        return FRAME_NONE;
    const char *r = l + 3;
    size_t rn = n - 3;
    trim(&r, &rn);
    if (starts(r, rn, "async "))
        r += 6, rn -= 6;
    if (starts(r, rn, "new "))
        r += 4, rn -= 4;
    const char *loc = r;
    size_t loc_len = rn;
    if (rn > 0 && r[rn - 1] == ')') {
        const char *lp = NULL;
        for (size_t i = 0; i < rn; i++)
            if (r[i] == '(')
                lp = r + i;
        if (lp != NULL) {
            f->fn = r;
            f->fn_len = (size_t)(lp - r);
            trim(&f->fn, &f->fn_len);
            loc = lp + 1;
            loc_len = rn - (size_t)(lp - r) - 2;
        }
    }
    /* Java 9+ module prefix: "java.base/java.net.Socket.read" */
    for (size_t i = f->fn_len; f->fn != NULL && i > 0; i--) {
        if (f->fn[i - 1] == '/') {
            f->fn += i;
            f->fn_len -= i;
            break;
        }
    }
    if (starts(loc, loc_len, "file://"))
        loc += 7, loc_len -= 7;
    trim(&loc, &loc_len);
    if (loc_len > 0 && memchr(loc, ' ', loc_len) == NULL) {
        f->path = loc;
        f->path_len = loc_len;
    }
    return f->fn != NULL || f->path != NULL ? FRAME_STRICT : FRAME_NONE;
}

/* glibc backtrace_symbols: "./app(fetch_items+0x1d) [0x55d1c3a2b1c9]",
 * "/lib/x86_64-linux-gnu/libc.so.6(+0x271ca) [0x7f...]". */
static enum frame_kind
parse_glibc(const char *l, size_t n, struct frame *f)
{
    if (n == 0 || l[n - 1] != ']' || !has(l, n, ") [0x"))
        return FRAME_NONE;
    const char *lp = memchr(l, '(', n);
    const char *rp = lp != NULL ? memchr(lp, ')', n - (size_t)(lp - l)) : NULL;
    if (lp == NULL || rp == NULL)
        return FRAME_NONE;
    f->path = l;
    f->path_len = (size_t)(lp - l);
    const char *plus = memchr(lp, '+', (size_t)(rp - lp));
    size_t fn_len = (size_t)((plus != NULL ? plus : rp) - lp - 1);
    if (fn_len > 0) {
        f->fn = lp + 1;
        f->fn_len = fn_len;
    }
    return FRAME_STRICT;
}

/* ASan "#3 0x55d1c3a2b1c9 in f /x/client.c:42:7", "#1 0x7f in g
 * (/lib/libc.so.6+0x29d90)", gdb "#3  0x55d in f (ctx=0x0) at client.c:42",
 * "#0  f () from /lib/libc.so.6". */
static enum frame_kind
parse_hash(const char *l, size_t n, struct frame *f)
{
    size_t i = 1;
    if (n < 3 || l[0] != '#' || !is_digit((unsigned char)l[1]))
        return FRAME_NONE;
    while (i < n && is_digit((unsigned char)l[i]))
        i++;
    if (i >= n || !is_space((unsigned char)l[i]))
        return FRAME_NONE;
    while (i < n && is_space((unsigned char)l[i]))
        i++;
    if (starts(l + i, n - i, "0x")) {
        while (i < n && !is_space((unsigned char)l[i]))
            i++;
        while (i < n && is_space((unsigned char)l[i]))
            i++;
    }
    if (starts(l + i, n - i, "in "))
        i += 3;
    size_t fs = i;
    int angle = 0;
    while (i < n
        && (angle > 0 || (!is_space((unsigned char)l[i]) && l[i] != '('))) {
        angle += l[i] == '<' ? 1 : l[i] == '>' ? -1 : 0;
        if (angle < 0)
            angle = 0;
        i++;
    }
    if (i > fs) {
        f->fn = l + fs;
        f->fn_len = i - fs;
    }
    while (i < n && is_space((unsigned char)l[i]))
        i++;
    if (i < n && l[i] == '(') {
        size_t open = i;
        int depth = 0;
        for (; i < n; i++) {
            depth += l[i] == '(' ? 1 : l[i] == ')' ? -1 : 0;
            if (depth == 0)
                break;
        }
        const char *in = l + open + 1;
        size_t in_len = (i < n ? i : n) - open - 1;
        if (in_len > 0
            && (in[0] == '/' || in[0] == '.' || has(in, in_len, "+0x"))) {
            f->path = in;
            f->path_len = in_len;
            strip_location(f->path, &f->path_len);
        }
        i = i < n ? i + 1 : n;
        while (i < n && is_space((unsigned char)l[i]))
            i++;
    }
    if (starts(l + i, n - i, "at "))
        i += 3;
    else if (starts(l + i, n - i, "from "))
        i += 5;
    size_t ps = i;
    while (i < n && !is_space((unsigned char)l[i]))
        i++;
    if (i > ps && f->path == NULL) {
        f->path = l + ps;
        f->path_len = i - ps;
    }
    return f->fn != NULL || f->path != NULL ? FRAME_STRICT : FRAME_NONE;
}

static bool
is_ident(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '$' || c == '.' || c == ':'
        || c == '<' || c == '>' || c == '~' || c >= 0x80;
}

/* Source and object file extensions a loose frame's file may have. */
static bool
known_extension(const char *t, size_t n)
{
    static const char *const ext[] = {"c", "h", "cc", "cpp", "cxx", "hpp", "hh",
        "m", "mm", "py", "pyx", "js", "mjs", "cjs", "jsx", "ts", "tsx", "java",
        "kt", "scala", "go", "rs", "rb", "php", "cs", "swift", "S", "s", "so",
        "dll", "dylib", "exe", "lua", "pl", "ex", "erl"};
    size_t d = n;
    while (d > 0 && t[d - 1] != '.')
        d--;
    if (d < 2) /* no dot, or nothing before it */
        return false;
    for (size_t i = 0; i < COUNT(ext); i++)
        if (strlen(ext[i]) == n - d && memcmp(t + d, ext[i], n - d) == 0)
            return true;
    /* "libfoo.so.1" */
    return has(t, n, ".so.");
}

/* Any line naming a function and/or a file: the SDK's "f (client.c)" and
 * "~/src/client.c:42 f", or a bare "client.c:42". */
static enum frame_kind
parse_loose(const char *l, size_t n, struct frame *f)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && is_space((unsigned char)l[i]))
            i++;
        size_t s = i;
        while (i < n && !is_space((unsigned char)l[i]))
            i++;
        const char *t = l + s;
        size_t tn = i - s;
        if (tn >= 2 && t[tn - 2] == '(' && t[tn - 1] == ')')
            tn -= 2;
        while (tn > 0 && strchr("([\"'`", t[0]) != NULL)
            t++, tn--;
        while (tn > 0 && strchr(")]\"'`,;", t[tn - 1]) != NULL)
            tn--;
        strip_location(t, &tn);
        if (tn == 0 || starts(t, tn, "0x") || t[0] == '#' || t[0] == '+'
            || (tn == 2 && memcmp(t, "at", 2) == 0)
            || (tn == 2 && memcmp(t, "in", 2) == 0)
            || (tn == 4 && memcmp(t, "from", 4) == 0))
            continue;
        bool file = memchr(t, '/', tn) != NULL || memchr(t, '\\', tn) != NULL;
        if (!file)
            file = known_extension(t, tn);
        if (file && f->path == NULL) {
            f->path = t;
            f->path_len = tn;
        } else if (!file && f->fn == NULL
            && (is_alpha((unsigned char)t[0]) || t[0] == '_')) {
            size_t k = 0;
            while (k < tn && is_ident((unsigned char)t[k]))
                k++;
            if (k == tn) {
                f->fn = t;
                f->fn_len = tn;
            }
        }
    }
    return f->fn != NULL || f->path != NULL ? FRAME_LOOSE : FRAME_NONE;
}

static enum frame_kind
parse_frame(const char *line, size_t n, struct frame *f)
{
    memset(f, 0, sizeof(*f));
    if (n > LINE_MAX_BYTES)
        n = LINE_MAX_BYTES;
    trim(&line, &n);
    if (n == 0)
        return FRAME_NONE;
    enum frame_kind k = parse_python(line, n, f);
    if (k == FRAME_NONE)
        k = parse_at(line, n, f);
    if (k == FRAME_NONE)
        k = parse_hash(line, n, f);
    if (k == FRAME_NONE)
        k = parse_glibc(line, n, f);
    if (k == FRAME_NONE) {
        memset(f, 0, sizeof(*f));
        k = parse_loose(line, n, f);
    }
    if (f->path != NULL)
        strip_location(f->path, &f->path_len);
    return k;
}

static const char *const system_prefixes[]
    = {"/lib/", "/lib64/", "/usr/lib", "/usr/local/lib/", "/usr/include/",
        "/usr/share/", "/System/", "node:", "internal/", "<"};
static const char *const system_parts[]
    = {"/site-packages/", "/dist-packages/", "/node_modules/", "libsanitizer/",
        "sysdeps/", "/lib/python", "\\lib\\python", "\\site-packages\\"};
static const char *const system_objects[] = {"libc.so", "libc-", "libpthread",
    "ld-linux", "libstdc++", "libgcc_s", "libm.so", "libdl.so", "librt.so",
    "libasan", "libubsan", "libtelemetry", "linux-vdso", "libc++"};
static const char *const system_functions[]
    = {"java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "scala.",
        "__libc_", "_start", "__asan", "__interceptor_", "__sanitizer",
        "__ubsan", "__GI_", "start_thread", "clone", "tlm_", "<frozen"};

static size_t
base_start(const char *p, size_t n)
{
    size_t b = n;
    while (b > 0 && p[b - 1] != '/' && p[b - 1] != '\\')
        b--;
    return b;
}

static bool
frame_in_app(const struct frame *f)
{
    if (f->path != NULL) {
        for (size_t i = 0; i < COUNT(system_prefixes); i++)
            if (starts(f->path, f->path_len, system_prefixes[i]))
                return false;
        for (size_t i = 0; i < COUNT(system_parts); i++)
            if (has(f->path, f->path_len, system_parts[i]))
                return false;
        size_t b = base_start(f->path, f->path_len);
        for (size_t i = 0; i < COUNT(system_objects); i++)
            if (starts(f->path + b, f->path_len - b, system_objects[i]))
                return false;
    }
    if (f->fn != NULL)
        for (size_t i = 0; i < COUNT(system_functions); i++)
            if (starts(f->fn, f->fn_len, system_functions[i]))
                return false;
    return true;
}

/* Writes the basename with generated hashes ("main.3f2a9c1b.js") as
 * <hex>. */
static void
put_basename(struct sb *b, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = base_start(p, n);
    while (i < n) {
        size_t k = 0;
        if (is_alnum(s[i]) && (i == 0 || !is_alnum(s[i - 1]))) {
            size_t e = i + run(s, n, i, is_alnum);
            size_t h = run(s, n, i, is_hex);
            size_t d = 0;
            for (size_t j = i; j < e; j++)
                d += is_digit(s[j]);
            if (h == e - i && h >= 8 && d > 0) {
                sb_str(b, "<hex>");
                k = h;
            } else {
                sb_text(b, p + i, e - i);
                k = e - i;
            }
        } else {
            sb_text(b, p + i, 1);
            k = 1;
        }
        i += k;
    }
}

static void
put_frame(struct sb *b, const struct frame *f)
{
    if (f->fn != NULL)
        sb_text(b, f->fn, f->fn_len);
    if (f->path != NULL && base_start(f->path, f->path_len) < f->path_len) {
        sb_str(b, f->fn != NULL ? " (" : "(");
        put_basename(b, f->path, f->path_len);
        sb_str(b, ")");
    }
}

size_t
tlm__error_normalize_frame(
    const char *line, char *out, size_t out_size, bool *in_app)
{
    struct frame f;
    if (in_app != NULL)
        *in_app = false;
    if (out == NULL || out_size == 0)
        return 0;
    out[0] = '\0';
    if (line == NULL)
        return 0;
    size_t n = strnlen(line, LINE_MAX_BYTES);
    const char *nl = memchr(line, '\n', n);
    if (nl != NULL)
        n = (size_t)(nl - line);
    if (parse_frame(line, n, &f) == FRAME_NONE)
        return 0;
    struct sb b = {out, out_size, 0};
    put_frame(&b, &f);
    if (in_app != NULL)
        *in_app = frame_in_app(&f);
    return b.len;
}

/* --- the stack ----------------------------------------------------------- */

struct line {
    const char *p;
    size_t n;
};

/* The first (or, from_end, the last) TLM__ERROR_STACK_LINES lines of
 * s[0..n), in order. */
static size_t
split_lines(const char *s, size_t n, bool from_end, struct line *lines)
{
    size_t count = 0;
    if (!from_end) {
        size_t i = 0;
        while (i < n && count < TLM__ERROR_STACK_LINES) {
            const char *nl = memchr(s + i, '\n', n - i);
            size_t e = nl != NULL ? (size_t)(nl - s) : n;
            lines[count++] = (struct line) {s + i, e - i};
            i = e + 1;
        }
        return count;
    }
    size_t e = n;
    while (e > 0 && count < TLM__ERROR_STACK_LINES) {
        size_t st = e;
        while (st > 0 && s[st - 1] != '\n')
            st--;
        lines[count++] = (struct line) {s + st, e - st};
        e = st > 0 ? st - 1 : 0;
        if (st == 0)
            break;
    }
    for (size_t i = 0; i < count / 2; i++) {
        struct line t = lines[i];
        lines[i] = lines[count - 1 - i];
        lines[count - 1 - i] = t;
    }
    return count;
}

/* Fills frames[] (top first) from the stack; returns how many. Strict
 * formats win: when any line is one, the loose lines (exception headers,
 * source lines) are ignored. Python prints the innermost frame last. */
static size_t
read_stack(const char *stack, struct frame *frames)
{
    struct line lines[TLM__ERROR_STACK_LINES];
    enum frame_kind kind[TLM__ERROR_STACK_LINES];
    size_t n = bounded_len(stack, TLM__ERROR_STACK_MAX);
    size_t count = split_lines(stack, n, false, lines);
    bool python = false;
    for (size_t i = 0; i < count && !python; i++) {
        struct frame f;
        python = parse_frame(lines[i].p, lines[i].n, &f) == FRAME_STRICT
            && f.python;
    }
    if (python)
        count = split_lines(stack, n, true, lines);
    bool strict = false;
    for (size_t i = 0; i < count; i++) {
        kind[i] = parse_frame(lines[i].p, lines[i].n, &frames[i]);
        strict = strict || kind[i] == FRAME_STRICT;
    }
    size_t m = 0;
    for (size_t i = 0; i < count; i++)
        if (kind[i] == (strict ? FRAME_STRICT : FRAME_LOOSE))
            frames[m++] = frames[i];
    if (python)
        for (size_t i = 0; i < m / 2; i++) {
            struct frame t = frames[i];
            frames[i] = frames[m - 1 - i];
            frames[m - 1 - i] = t;
        }
    return m;
}

/* --- the key ------------------------------------------------------------- */

static void
hex16(const unsigned char *md, char *out)
{
    static const char digits_hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits_hex[md[i] >> 4];
        out[2 * i + 1] = digits_hex[md[i] & 15];
    }
    out[32] = '\0';
}

/* Default parts, each followed by a NUL (which no part contains): "v1",
 * the code, the parameterized message, the chosen frames. */
static void
default_key(const char *code, size_t code_len, const char *msg,
    const char *stack, struct tlm__error_group_key *out)
{
    char buf[8 + TLM__ERROR_CODE_MAX + TLM__ERROR_MESSAGE_MAX
        + TLM__ERROR_FRAMES * FRAME_MAX + 16];
    char pmsg[TLM__ERROR_MESSAGE_MAX + 1];
    struct sb b = {buf, sizeof(buf), 0};
    struct sb pm = {pmsg, sizeof(pmsg), 0};
    pmsg[0] = '\0';
    tlm__error_parameterize_into(msg, &pm);

    struct sb t = {out->title, sizeof(out->title), 0};
    out->title[0] = '\0';
    if (code_len > 0) {
        sb_text(&t, code, code_len);
        sb_str(&t, pm.len > 0 ? ": " : "");
    }
    sb_put(&t, pmsg, pm.len);
    if (t.len == 0)
        sb_str(&t, "(no message)");

    static const char version[] = "v1";
    memcpy(buf, version, sizeof(version));
    b.len = sizeof(version);
    memcpy(buf + b.len, code, code_len);
    b.len += code_len;
    buf[b.len++] = '\0';
    memcpy(buf + b.len, pmsg, pm.len + 1);
    b.len += pm.len + 1;

    out->culprit[0] = '\0';
    if (stack != NULL) {
        struct frame frames[TLM__ERROR_STACK_LINES];
        size_t nf = read_stack(stack, frames);
        size_t app = 0;
        for (size_t i = 0; i < nf; i++)
            app += frame_in_app(&frames[i]);
        size_t used = 0;
        for (size_t i = 0; i < nf && used < TLM__ERROR_FRAMES; i++) {
            if (app > 0 && !frame_in_app(&frames[i]))
                continue;
            char fr[FRAME_MAX];
            struct sb fb = {fr, sizeof(fr), 0};
            fr[0] = '\0';
            put_frame(&fb, &frames[i]);
            if (used++ == 0)
                snprintf(out->culprit, sizeof(out->culprit), "%s", fr);
            memcpy(buf + b.len, fr, fb.len + 1);
            b.len += fb.len + 1;
        }
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)buf, b.len, md);
    hex16(md, out->fingerprint);
}

int
tlm__error_fingerprint(const char *error_code, const char *message,
    const char *stack_trace, const char *const *caller_fp, size_t n_caller_fp,
    struct tlm__error_group_key *out)
{
    if (out == NULL || (n_caller_fp > 0 && caller_fp == NULL))
        return -1;
    for (size_t i = 0; i < n_caller_fp; i++)
        if (caller_fp[i] == NULL)
            return -1;
    const char *code = error_code != NULL ? error_code : "";
    size_t code_len = bounded_len(code, TLM__ERROR_CODE_MAX);
    default_key(
        code, code_len, message != NULL ? message : "", stack_trace, out);
    out->custom = n_caller_fp > 0;
    if (!out->custom)
        return 0;

    /* "custom", NUL, then the SHA-256 of each part: fixed size whatever
     * the parts, and no part can run into the next. */
    unsigned char buf[7 + TLM__ERROR_CALLER_FP_MAX * SHA256_DIGEST_LENGTH];
    size_t len = 7;
    memcpy(buf, "custom", 7);
    if (n_caller_fp > TLM__ERROR_CALLER_FP_MAX)
        n_caller_fp = TLM__ERROR_CALLER_FP_MAX;
    for (size_t i = 0; i < n_caller_fp; i++) {
        const char *part = caller_fp[i];
        if (strcmp(part, TLM__ERROR_FP_DEFAULT) == 0)
            part = out->fingerprint;
        SHA256((const unsigned char *)part,
            strnlen(part, TLM__ERROR_CALLER_PART_MAX), buf + len);
        len += SHA256_DIGEST_LENGTH;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(buf, len, md);
    hex16(md, out->fingerprint);
    return 0;
}
