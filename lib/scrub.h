/*
 * scrub.h - the PII scrubber shared by the SDK worker and the server.
 *
 * Pure functions over a byte string: no global state, no locale, no regex
 * engine, no recursion; safe from any thread. Never installed.
 */
#ifndef TLM_SCRUB_H
#define TLM_SCRUB_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Detectors, as bit numbers of the `detectors` mask. Each replaces what it
 * finds with a typed placeholder so that analytics still group:
 *
 *   HOME    /home/alice/x, /Users/alice/x -> ~/x;  C:\Users\alice\x -> ~\x
 *   JWT     eyJ<header>.<payload>.<signature> (base64url) -> [jwt]
 *   SECRET  values of secret-named keys (key=, api_key=, token=, password=,
 *           "password": "...", Authorization: Bearer ..., Cookie: ...),
 *           Bearer <token>, user:pass@ in URLs, known key prefixes (sk_live_,
 *           ghp_, xoxb-, AKIA, AIza, glpat-, ...) and long high-entropy
 *           tokens -> [secret]. The key, separator, quotes and auth scheme
 *           are kept: "password": "[secret]", Authorization: Bearer [secret]
 *   EMAIL   local@domain.tld (also local%40domain.tld) -> [email]
 *   CARD    13-19 digits, optional single spaces or dashes between groups,
 *           a card network prefix and a valid Luhn sum -> [card]
 *   PHONE   + then 8-15 digits with optional spaces, dashes, dots and
 *           parentheses -> [phone]
 *   IP      dotted IPv4, IPv6 (full, compressed, v4-mapped, %zone) -> [ip]
 *   QUERY   ?k=v&k2=v2 attached to a URL or path -> ?k=&k2= (keys kept)
 *   ID      (tlm__scrub_path only) a path segment that is a number, a UUID,
 *           or an opaque id -> {id}
 *
 * Order and overlap. The input is scanned once, left to right. At each
 * position the detectors are tried in this order and the first that
 * matches wins: HOME, JWT, SECRET (named values, Bearer, user:pass@,
 * prefixes), EMAIL, CARD, PHONE, IP, SECRET (random-looking tokens), QUERY.
 * A match is replaced and never rescanned, so the leftmost match wins over
 * one starting later: a query string swallows the e-mail in ?email=a@b.c
 * (the value is removed and counted as QUERY), "password=4111111111111111"
 * counts as SECRET. A secret-named key whose value is a JWT emits [jwt] and
 * counts as JWT (as SECRET when JWT is masked off). Every detector starts
 * only at a boundary of its own character class (not inside a word, number
 * or token), and each scan is bounded or ends a run it will not start
 * inside again: linear time. Scrubbing twice changes nothing (the server
 * scrubs what the SDK already did): placeholders are never matched.
 *
 * Output is valid UTF-8 whatever the input: invalid bytes become U+FFFD.
 * NUL bytes are data and are copied. docs/privacy.md lists what each
 * detector misses.
 */
enum {
    TLM__SCRUB_HOME = 0,
    TLM__SCRUB_JWT,
    TLM__SCRUB_SECRET,
    TLM__SCRUB_EMAIL,
    TLM__SCRUB_CARD,
    TLM__SCRUB_PHONE,
    TLM__SCRUB_IP,
    TLM__SCRUB_QUERY,
    TLM__SCRUB_ID,
    TLM__SCRUB_NKINDS
};

#define TLM__SCRUB_BIT(kind) (1u << (kind))
#define TLM__SCRUB_ALL ((1u << TLM__SCRUB_NKINDS) - 1u)

/* Replacements made, per detector. The scrub functions add to it, so one
 * struct can total many strings (the server counts per key this way). */
typedef struct tlm__scrub_counts {
    uint32_t n[TLM__SCRUB_NKINDS];
} tlm__scrub_counts;

/* Short name of a detector ("email", "ip", ...), "?" if out of range. */
const char *tlm__scrub_kind_name(int kind);

/*
 * Appends the scrubbed copy of in[0..n) to `out` (NUL-terminated). `in` may
 * hold any bytes, NULs included, and may be NULL when n is 0. `detectors`
 * is a mask of TLM__SCRUB_BIT()s (TLM__SCRUB_ALL for all; ID is ignored
 * here). `counts` may be NULL. Returns 0, TLM_EINVAL (NULL out, or NULL in
 * with n > 0) or TLM_ENOMEM: then `out` is marked failed (see tlm__buf) and
 * `counts` is unchanged. Thread safety: none needed, touches only its
 * arguments.
 */
int tlm__scrub_string(const char *in, size_t n, unsigned detectors,
    tlm__buf *out, tlm__scrub_counts *counts)
    __attribute__((warn_unused_result));

/*
 * Like tlm__scrub_string() for an endpoint path, optionally a full URL
 * ("https://host/p?q"). Each path segment that is all digits (any length:
 * /users/7 and /users/123456 alike), a UUID, a hex string of 16 or more
 * characters with a digit, or an opaque token of 20 or more letters, digits,
 * '-' and '_' with at least 4 digits becomes {id} (a trailing ".json"-like
 * extension is kept); other segments go through the string detectors. The
 * query keeps its keys and loses its values; a #fragment is dropped.
 * "/v1/users/123?email=a@b.c&page=2" -> "/v1/users/{id}?email=&page=".
 * Returns as tlm__scrub_string().
 */
int tlm__scrub_path(const char *in, size_t n, unsigned detectors, tlm__buf *out,
    tlm__scrub_counts *counts) __attribute__((warn_unused_result));

#endif /* TLM_SCRUB_H */
