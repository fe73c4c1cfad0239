/* Fuzz target: server/json_scan.c, the strict RFC 8259 scanner in front of
 * every batch, against cJSON (cJSON_ParseWithLengthOpts, trailing bytes
 * refused) on the same bytes. Each input is scanned twice: as it is, and
 * wrapped as {"events":INPUT} so that any value (not only objects) and the
 * element listing of arrays are reached.
 *
 * The verdicts must agree, except where cJSON is knowingly lax or limited
 * (deliberate differences; the comparison is skipped, not the scan):
 * - cJSON does not validate UTF-8 and accepts a UTF-8 BOM: skipped when the
 *   input has a byte >= 0x80.
 * - cJSON takes every byte <= 0x20 as whitespace and accepts raw control
 *   characters (tab, LF and CR included) inside strings: skipped when the
 *   input has a byte < 0x20 other than tab, LF and CR, or one of those
 *   inside a string.
 * - cJSON hands numbers to strtod: it accepts leading zeros ("01") and a
 *   fraction point without digits on one side ("1.", "1.e5", "-.5"):
 *   skipped when the input has a '0' followed by a digit or a '.' without
 *   a digit on both sides.
 * - cJSON 1.7.15 copies a number into a 64-byte buffer: it rejects valid
 *   numbers of 64+ characters. Skipped when the input has 64 consecutive
 *   number characters.
 * - cJSON does not check the four hex digits of a \u escape (parse_hex4
 *   yields 0 for a bad one, so "\uZZZZ" is read as U+0000): skipped when
 *   a \u is not followed by four hex digits.
 * - "\u0000" decodes to NUL, which truncates cJSON's C strings (so a key
 *   "a\u0000b" equals "a" for cJSON): key comparisons are skipped.
 * - The scanner accepts unpaired surrogates inside a listed element (it
 *   flags them, bad_text, for the caller); cJSON refuses them. Skipped
 *   when an element is flagged.
 * - Depth: the scanner stops at 32 levels, cJSON at 1000: TOO_DEEP is not
 *   compared.
 * Where the scan is OK, every reported member value and listed element is
 * also checked to decode, alone, to the same tree as cJSON's. */
#include "fuzz_common.h"
#include "json_scan.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdbool.h>

enum { K_EVENTS, K_BATCH_ID, K_SDK, N_KEYS };
static const char *const keys[N_KEYS] = {"events", "batch_id", "sdk"};

struct lax {
    bool any; /* cJSON may accept what the grammar refuses */
    bool long_number; /* cJSON may refuse a valid number */
    bool nul_escape; /* key matching may differ */
};

static bool
is_number_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e'
        || c == 'E' || c == '.';
}

static struct lax
classify(const unsigned char *d, size_t n)
{
    struct lax l = {false, false, false};
    size_t run = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = d[i];
        if (c == '\\' && i + 5 < n && memcmp(d + i, "\\u0000", 6) == 0)
            l.nul_escape = true;
        if (c == '\\' && i + 1 < n && d[i + 1] == 'u') {
            bool hex = i + 5 < n;
            for (size_t k = 2; hex && k < 6; k++)
                hex = isxdigit(d[i + k]) != 0;
            if (!hex)
                l.any = l.nul_escape = true;
        }
        if (in_str && c == '\\') {
            i++; /* the escaped byte cannot end the string */
            continue;
        }
        if (c == '"')
            in_str = !in_str;
        /* Tab, LF and CR are whitespace between tokens, but raw control
         * characters inside a string, which cJSON accepts. */
        if (c >= 0x80
            || (c < 0x20 && (in_str || (c != '\t' && c != '\n' && c != '\r'))))
            l.any = true;
        if (c == '0' && i + 1 < n && d[i + 1] >= '0' && d[i + 1] <= '9')
            l.any = true;
        if (c == '.'
            && (i + 1 == n || !isdigit(d[i + 1]) || i == 0
                || !isdigit(d[i - 1])))
            l.any = true;
        run = is_number_char(c) ? run + 1 : 0;
        if (run >= 64)
            l.long_number = true;
    }
    return l;
}

/* cJSON on exactly d[0..n): a NUL-terminated copy, trailing bytes refused. */
static cJSON *
cjson_parse(const unsigned char *d, size_t n)
{
    char *copy = fuzz_strndup(d, n);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, n + 1, &end, true);
    free(copy);
    return root;
}

/* A slice reported by the scanner decodes alone to the same value. */
static void
check_slice(const char *p, size_t len, const cJSON *expect, const char *what)
{
    cJSON *v = cJSON_ParseWithLength(p, len);
    FUZZ_CHECK(v != NULL, "%s slice does not decode alone: %.*s", what,
        (int)(len > 200 ? 200 : len), p);
    /* Printed, not cJSON_Compare'd: that one looks members up by name and
     * so mismatches objects with duplicate keys. */
    char *a = cJSON_PrintUnformatted(v);
    char *b = expect != NULL ? cJSON_PrintUnformatted(expect) : NULL;
    FUZZ_CHECK(
        a != NULL && (expect == NULL || (b != NULL && strcmp(a, b) == 0)),
        "%s slice differs from cJSON's value: %s / %s", what, a ? a : "-",
        b ? b : "-");
    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(v);
}

static void
compare(const unsigned char *d, size_t n)
{
    struct tlm__json_slice values[N_KEYS];
    struct tlm__json_scan s;
    memset(&s, 0, sizeof(s));
    s.keys = keys;
    s.n_keys = N_KEYS;
    s.list_key = K_EVENTS;
    s.values = values;
    /* An exact-size copy: the scanner must never read past n. */
    char *exact = fuzz_memdup(d, n);
    enum tlm__json_scan_status st = tlm__json_scan(&s, exact, n);
    FUZZ_CHECK(st >= TLM_JSON_SCAN_OK && st <= TLM_JSON_SCAN_NOMEM, "status %d",
        (int)st);
    FUZZ_CHECK(st != TLM_JSON_SCAN_NOMEM, "NOMEM");
    if (st != TLM_JSON_SCAN_OK) {
        FUZZ_CHECK(
            s.error_offset <= n, "error_offset %zu > %zu", s.error_offset, n);
        FUZZ_CHECK(s.n_elems <= s.cap_elems, "n_elems");
    }

    struct lax l = classify(d, n);
    bool bad_text = false;
    for (size_t i = 0; st == TLM_JSON_SCAN_OK && i < s.n_elems; i++) {
        const struct tlm__json_elem *e = &s.elems[i];
        FUZZ_CHECK(e->p >= exact && e->p + e->len <= exact + n && e->len > 0,
            "element %zu out of the input", i);
        bad_text |= e->bad_text;
    }
    for (size_t k = 0; st == TLM_JSON_SCAN_OK && k < N_KEYS; k++) {
        FUZZ_CHECK(values[k].p == NULL
                || (values[k].p >= exact
                    && values[k].p + values[k].len <= exact + n
                    && values[k].len > 0),
            "value %zu out of the input", k);
    }
    if (st == TLM_JSON_SCAN_TOO_DEEP) {
        tlm__json_scan_free(&s);
        free(exact);
        return;
    }

    cJSON *root = cjson_parse(d, n);
    bool ours = st == TLM_JSON_SCAN_OK;
    bool theirs = root != NULL;
    if (st == TLM_JSON_SCAN_NOT_OBJECT) {
        /* Decided on the first byte; only objects are compared. */
    } else if (ours && !theirs) {
        FUZZ_CHECK(l.long_number || bad_text,
            "the scanner accepts what cJSON refuses: %.*s",
            (int)(n > 300 ? 300 : n), (const char *)d);
    } else if (!ours && theirs) {
        FUZZ_CHECK(l.any,
            "cJSON accepts what the scanner refuses (%d at %zu): "
            "%.*s",
            (int)st, s.error_offset, (int)(n > 300 ? 300 : n), (const char *)d);
    } else if (ours && theirs && !l.nul_escape) {
        FUZZ_CHECK(cJSON_IsObject(root), "OK for a non-object root");
        for (size_t k = 0; k < N_KEYS; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
            FUZZ_CHECK((v != NULL) == (values[k].p != NULL),
                "member \"%s\" found by %s only", keys[k],
                v != NULL ? "cJSON" : "the scanner");
            if (v != NULL && !l.long_number)
                check_slice(values[k].p, values[k].len, v, keys[k]);
        }
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "events");
        if (cJSON_IsArray(ev)) {
            FUZZ_CHECK((size_t)cJSON_GetArraySize(ev) == s.n_elems,
                "cJSON counts %d elements, the scanner %zu",
                cJSON_GetArraySize(ev), s.n_elems);
            const cJSON *it = ev->child;
            for (size_t i = 0; i < s.n_elems && it != NULL;
                 i++, it = it->next) {
                if (!s.elems[i].bad_text && !l.long_number)
                    check_slice(s.elems[i].p, s.elems[i].len, it, "element");
            }
        } else {
            FUZZ_CHECK(s.n_elems == 0, "elements listed for a non-array");
        }
    }
    cJSON_Delete(root);
    tlm__json_scan_free(&s);
    free(exact);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char pre[] = "{\"events\":";
    compare(data, size);
    size_t wn = sizeof(pre) - 1 + size + 1;
    unsigned char *w = malloc(wn);
    FUZZ_CHECK(w != NULL, "malloc");
    memcpy(w, pre, sizeof(pre) - 1);
    if (size > 0)
        memcpy(w + sizeof(pre) - 1, data, size);
    w[wn - 1] = '}';
    compare(w, wn);
    free(w);

    /* tlm__json_key_eq on the raw input as a key body: never reads past
     * it, and an input without a backslash matches only itself. */
    char *exact = fuzz_memdup(data, size);
    bool eq = tlm__json_key_eq(exact, size, "events");
    if (memchr(data, '\\', size) == NULL)
        FUZZ_CHECK(
            eq == (size == 6 && memcmp(data, "events", 6) == 0), "key_eq");
    free(exact);
    return 0;
}
