/* Strict JSON (RFC 8259) scanner for batch bodies: validates a whole document
 * without building a tree, and reports where chosen top-level members and the
 * elements of one top-level array lie in the input. Never copies the input,
 * never recurses, and allocates only to grow the element list. */
#ifndef TLM_SERVER_JSON_SCAN_H
#define TLM_SERVER_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting of objects and arrays accepted, the root counting as 1:
 * the size of the scanner's fixed stack, so server.max_json_depth can only
 * lower it. */
#define TLM_JSON_SCAN_MAX_DEPTH 32

enum tlm__json_scan_status {
    TLM_JSON_SCAN_OK = 0,
    TLM_JSON_SCAN_MALFORMED, /* not JSON, or trailing bytes after it */
    TLM_JSON_SCAN_NOT_OBJECT, /* the root is not an object */
    TLM_JSON_SCAN_TOO_DEEP, /* nested deeper than max_depth */
    TLM_JSON_SCAN_NOMEM,
};

/* A byte range of the input; p is NULL for "absent". */
struct tlm__json_slice {
    const char *p;
    size_t len;
};

/* One element of the listed array, exactly as it appears in the input. */
struct tlm__json_elem {
    const char *p;
    size_t len;
    /* A string in it holds invalid UTF-8 or an unpaired \u surrogate: valid
     * JSON grammar, but no decoder can be trusted with it. */
    bool bad_text;
};

/* Set keys, n_keys and list_key, zero the rest, then call tlm__json_scan.
 * keys are ASCII member names of the root object; values[i] receives the
 * text of the first member named keys[i] (p NULL when absent). When that
 * member's value is an array and i == list_key, its elements go to elems.
 * Bad text outside a listed element makes the document MALFORMED. */
struct tlm__json_scan {
    const char *const *keys;
    size_t n_keys;
    size_t list_key;
    /* The deepest nesting accepted; 0, or more than TLM_JSON_SCAN_MAX_DEPTH:
     * TLM_JSON_SCAN_MAX_DEPTH. */
    unsigned max_depth;
    struct tlm__json_slice *values; /* n_keys slots, caller-owned */
    struct tlm__json_elem *elems; /* owned: tlm__json_scan_free */
    size_t n_elems;
    size_t cap_elems;
    size_t error_offset; /* where scanning stopped, when not OK */
};

/* Scans json[0..len). Slices point into json, which must outlive them. */
enum tlm__json_scan_status tlm__json_scan(
    struct tlm__json_scan *s, const char *json, size_t len);

/* Frees the element list; the struct may be scanned with again. */
void tlm__json_scan_free(struct tlm__json_scan *s);

/* True if json[0..len) opens more than max_depth objects and arrays at
 * once, the root counting as 1 (brackets inside strings do not count).
 * Checks nesting only: malformed JSON is left to the parser. For bodies
 * parsed with cJSON, whose own limit is far higher. */
bool tlm__json_too_deep(const char *json, size_t len, unsigned max_depth);

/* True if the raw (still escaped) string body raw[0..len) decodes to the
 * ASCII text name. */
bool tlm__json_key_eq(const char *raw, size_t len, const char *name);

#endif
