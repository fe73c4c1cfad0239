/* Feedback categories: a set of named categories, each with weighted
 * keywords (words or phrases), and the classifier that picks the best
 * category for a text. A set is immutable once built: any number of threads
 * may call tlm__categorize and the accessors on one set concurrently. */
#ifndef TLM_SERVER_CATEGORIZE_H
#define TLM_SERVER_CATEGORIZE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* The fallback category: always in a set, chosen when nothing scores. */
#define TLM__CATEGORY_OTHER "other"
/* Limits a configuration must respect. */
#define TLM__CATEGORIES_MAX 64
#define TLM__CATEGORY_KEYWORDS_MAX 256
#define TLM__CATEGORY_NAME_MAX 64 /* bytes */
#define TLM__KEYWORD_MAX 64 /* bytes */
#define TLM__KEYWORD_WORDS_MAX 4

struct tlm__categories;

/* The built-in set: bug, performance, documentation, authentication,
 * billing, sdk, api-design, feature-request, other, each with its built-in
 * keywords. Returns a new set (the caller's: tlm__categories_free) or NULL
 * when out of memory. */
struct tlm__categories *tlm__categories_default(void);

/* Builds a set from the value of the config key `feedback.categories`:
 * - an array of names: ["bug", "billing"]; each must be built in and gets
 *   its built-in keywords;
 * - an object {"name": {"keywords": {"word or phrase": weight, ...}}, ...};
 *   "keywords" may be left out for a built-in name (built-in keywords).
 * Names are 1..64 of a-z 0-9 '-' '_'. A keyword is 1..4 words (any
 * punctuation separates words, case does not matter); a trailing '*'
 * matches any word starting with the last one ("crash*": crashes,
 * crashed). Weights are numbers in (0, 100]. "other" is added (without
 * keywords) when not listed.
 * Returns 0 and *out (the caller's), or -1 with *out NULL and a message in
 * err naming the offending key, e.g. "config:
 * feedback.categories.billing.keywords: expected an object of numbers". */
int tlm__categories_from_json(const cJSON *node, struct tlm__categories **out,
    char *err, size_t err_size);

/* The best-scoring category of text[0..len) (any bytes; case-insensitive
 * whole-word matching; each keyword occurrence adds its weight), or "other"
 * when no keyword matches. Ties go to the category listed first. The
 * returned name is borrowed from c (valid until tlm__categories_free).
 * *confidence (may be NULL) is in [0, 1]: the winner's share of all the
 * scores times best / (best + 2), 0 for the fallback. No allocation; O(len
 * x keywords). NULL c: "other". */
const char *tlm__categorize(const struct tlm__categories *c, const char *text,
    size_t len, double *confidence);

/* Whether name is a category of c (exact, case-sensitive). */
bool tlm__categories_has(const struct tlm__categories *c, const char *name);

/* Number of categories and the i-th name (in configuration order, "other"
 * included; NULL when i is out of range). Borrowed from c. */
size_t tlm__categories_count(const struct tlm__categories *c);
const char *tlm__categories_name(const struct tlm__categories *c, size_t i);

/* Frees c and its names; NULL is a no-op. */
void tlm__categories_free(struct tlm__categories *c);

#endif
