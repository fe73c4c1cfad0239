/* Keyword categorization of feedback text: owns the category sets (built
 * in or read from the config) and scores a text against one. A set never
 * changes after it is built; scoring keeps its state on the stack. */
#include "categorize.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define WORD_MAX 32 /* bytes of one word; longer words match nothing */

struct keyword {
    char words[TLM__KEYWORD_MAX + 1]; /* words one after another, each NUL */
    uint8_t len[TLM__KEYWORD_WORDS_MAX];
    uint8_t n_words;
    bool stem; /* the last word is a prefix */
    double weight;
};

struct category {
    char *name;
    struct keyword *kw;
    size_t n_kw;
};

struct tlm__categories {
    struct category cat[TLM__CATEGORIES_MAX];
    size_t n;
};

/* Built-in keywords: "word or phrase weight" items separated by commas; a
 * trailing '*' makes the last word a prefix. */
static const char bug_kw[]
    = "bug 2, bugs 2, buggy 2, crash* 2.5, segfault* 3, segmentation fault "
      "3, panic* 2, hang 1.5, hangs 1.5, freez* 1.5, deadlock* 2.5, null "
      "pointer 2.5, stack trace 2, core dump 2.5, corrupt* 2, regression 2, "
      "broken 1.5, broke 1.5, fix 1.5, fixed 1.5, fixing 1.5, race "
      "condition 2.5, reproduce* 2, repro 2, steps to reproduce 3, "
      "exception 1.5, duplicat* 1.5, dropped 1.5, lost 1, wrong 1, "
      "incorrect 1.5, glitch* 1.5, illegal instruction 2.5, does not work "
      "1, doesn't work 1, not working 1, deadlocks 2.5, error code 1.5, 500 "
      "1, off by one 2, debug* 1";

static const char performance_kw[]
    = "performance 3, perf 3, slow* 2.5, fast 1.5, faster 1.5, speed* 2, "
      "latency 3, latencies 3, throughput 3, timeout* 2.5, time out 2.5, "
      "times out 2.5, timed out 2.5, cpu 2, memory 1.5, memory usage 2.5, "
      "footprint 2, leak* 2, benchmark* 2.5, ms 1.5, cold start 2.5, "
      "startup 1.5, per second 2, optimi* 2, forever 1, degrad* 2, 503 1.5, "
      "load 1, scal* 2, overhead 2, batch size 1.5, compress* 1.5, p99 3, "
      "p95 3, percentile* 2.5, bloat* 1.5, lag* 2, spike* 1.5, peak 1.5, "
      "blocks 1, block the 1, hardware 1.5, uptime 1, efficien* 2, "
      "millisecond* 2, tune 1.5, tuning 1.5, network usage 2";

static const char documentation_kw[]
    = "doc 3, docs 3, documentation 3, documented 2.5, documenting 2.5, "
      "document 2, readme 3, guide* 3, tutorial* 3, example* 2, code "
      "sample* 2.5, reference 1.5, api reference 3, manual 2.5, changelog "
      "2, page 1, getting started 3, explain* 1.5, explanation 2, unclear "
      "1.5, outdated 1.5, typo* 1.5, describ* 1.5, mention* 1.5, migration "
      "guide 3, troubleshooting 2, diagram* 2, section 1.5, faq 3, pdf 2, "
      "translat* 2, wiki 2";

static const char authentication_kw[]
    = "auth 3, authentication 3, authenticat* 3, authorization 3, api key "
      "3, api keys 3, key 1.5, keys 1.5, token* 2.5, 401 3, 403 3, "
      "unauthorized 3, forbidden 3, login 2.5, log in 2.5, logged out 2.5, "
      "logout 2.5, password* 3, oauth 3, sso 2, saml 2.5, bearer 3, "
      "credential* 3, rotat* 2, revok* 3, revocation 3, permission* 2, "
      "scope* 1.5, publishable 2, origin* 1.5, cors 3, mutual tls 2.5, mtls "
      "2.5, expir* 1.5, locked out 2, 2fa 3, mfa 3, ingestion key 3, admin "
      "token 3, security 1, leaked 1";

static const char billing_kw[]
    = "bill 3, billing 3, billed 3, invoice* 3, pric* 3, charg* 2.5, credit "
      "card 3, payment* 3, pay 2, paid 1.5, plan 1.5, plans 1, "
      "subscription* 3, refund* 3, cost 1.5, costs 1.5, expensive 2.5, "
      "cheap* 2, discount* 3, free tier 3, quota 1.5, overage* 3, vat 3, "
      "tax* 2, money 2, cent 2, cents 2, per month 1.5, monthly 1.5, annual "
      "1.5, yearly 1.5, quote 2, fee 3, fees 3, cancel* 1.5, bank transfer "
      "3, accounting 2, accountant 2, upgrade our plan 2";

static const char sdk_kw[]
    = "sdk 2, sdks 2, binding* 2.5, python 1.5, pip 3, wheel* 2, npm 3, "
      "node 1.5, typescript 2, golang 2.5, go module 3, go client 3, go "
      "binding 3, rust 2, crate* 2.5, java 2, jar 2.5, kotlin 1.5, swift 2, "
      "xcode 2.5, ruby 2, gem 2.5, dotnet 2, library 1.5, lib 1.5, static "
      "library 2.5, linking 2, compile* 1.5, install* 2, package* 2, "
      "dependenc* 2, android 2, ios 2, windows 1, macos 1, linux 1, freebsd "
      "1.5, musl 2, alpine 1.5, header 1, vendor 1.5, prebuilt 2, binaries "
      "1.5, wrapper 2, gil 2.5, bun 2, deno 2, context manager 2, fork* 1, "
      "openssl 1.5, license 1.5, signed 1, web worker 2, integrat* 1, "
      "embed* 2, threads 1, client 0.5, gcc 1, clang 1";

static const char api_design_kw[]
    = "api 1.5, endpoint* 2, rest 2.5, restful 2.5, http api 2, status "
      "code* 3, response format 3, response* 1.5, field* 2, naming 3, named "
      "1.5, called 1, consisten* 2.5, inconsistent 2.5, paginat* 3, cursor "
      "2.5, snake case 3, camelcase 3, idempoten* 3, retry after 2, "
      "versioned 2, versioning 3, v1 1.5, v2 1.5, openapi 3, swagger 3, "
      "schema 1.5, json 1.5, ndjson 2, query parameter* 3, parameter* 2, "
      "200 1.5, 202 2, 404 2, 409 2, 400 1.5, 429 2, deprecation 2, "
      "breaking change* 2, post 1, design* 2, error responses 3, error "
      "format 3, error bodies 3, error messages 1.5, resource* 1.5, nested "
      "2, payload* 1, body 1, date format* 3, timestamp 1, created at 2, "
      "utc 1.5, page size 3, redundant 1.5, url 1.5, predictable 2, "
      "intuitive 1.5, caching 1.5, bad request 2, batch limit 2";

static const char feature_request_kw[]
    = "feature request* 3, feature 1.5, features 1.5, please add 3, add "
      "support 3, would be nice 3, would love 2.5, would help 2.5, would be "
      "great 2.5, would like 2.5, suggestion* 3, suggest* 2, roadmap 2.5, "
      "plans to 2, planning to 2.5, support for 1.5, no way to 3, lack* "
      "2.5, still no 2.5, still waiting 2, export* 2.5, webhook* 2, "
      "integration* 1.5, dark mode 3, bulk 2, alert* 2, filter* 1.5, option "
      "1.5, allow* 1.5, ability to 2.5, be able to 2.5, added 2, adding "
      "1.5, shipped 1.5, shipping 1.5, new feature 3, funnel* 2, plugin 2, "
      "consider adding 3, deal breaker 2, request 1";

static const char other_kw[]
    = "support team 3, customer support 3, onboarding 2, website 2, web "
      "site 2, forum 2, webinar 2, newsletter 2, partnership 3, sales 2, "
      "office 1.5, discord 2, status page 2, conference 2, referral 2, "
      "company 1";

static const struct {
    const char *name;
    const char *keywords;
} builtins[] = {
    {"bug", bug_kw},
    {"performance", performance_kw},
    {"documentation", documentation_kw},
    {"authentication", authentication_kw},
    {"billing", billing_kw},
    {"sdk", sdk_kw},
    {"api-design", api_design_kw},
    {"feature-request", feature_request_kw},
    {TLM__CATEGORY_OTHER, other_kw},
};

#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* --- words ---------------------------------------------------------------
 * One reader for texts and keywords alike, so both split the same way:
 * ASCII letters and digits (lowercased) plus any non-ASCII byte make words;
 * an apostrophe between letters stays inside ("doesn't"); a digit followed
 * by a letter splits ("50ms" is "50" "ms"); anything else separates. */

static bool
is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z');
}

static bool
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Reads the next word of p[*i..len) into w (NUL-terminated, at most
 * WORD_MAX - 1 bytes; *wlen 0 when it was longer). Returns false at the
 * end of the text. */
static bool
next_word(const unsigned char *p, size_t len, size_t *i, char *w, size_t *wlen)
{
    size_t n = 0;
    bool too_long = false;

    while (*i < len && !is_alnum(p[*i]) && p[*i] < 0x80)
        (*i)++;
    if (*i >= len)
        return false;
    while (*i < len) {
        unsigned char c = p[*i];
        if (c == '\'' && n > 0 && is_alpha(p[*i - 1]) && *i + 1 < len
            && is_alpha(p[*i + 1]))
            ;
        else if (!is_alnum(c) && c < 0x80)
            break;
        else if (n > 0 && is_alpha(c) && is_digit(p[*i - 1]))
            break;
        if (n + 1 < WORD_MAX)
            w[n++] = (char)(is_alpha(c) ? (c | 0x20) : c);
        else
            too_long = true;
        (*i)++;
    }
    w[n] = '\0';
    *wlen = too_long ? 0 : n;
    return true;
}

/* --- building a set ---------------------------------------------------- */

/* Parses text ("Steps to reproduce", "crash*") into k; false when it is
 * not 1..TLM__KEYWORD_WORDS_MAX words within TLM__KEYWORD_MAX bytes. */
static bool
parse_keyword(const char *text, double weight, struct keyword *k)
{
    size_t len = strlen(text), i = 0, used = 0, wl;
    char w[WORD_MAX];

    memset(k, 0, sizeof(*k));
    k->weight = weight;
    if (len > 0 && text[len - 1] == '*') {
        k->stem = true;
        len--;
    }
    if (len == 0 || len > TLM__KEYWORD_MAX)
        return false;
    while (next_word((const unsigned char *)text, len, &i, w, &wl)) {
        if (wl == 0 || k->n_words == TLM__KEYWORD_WORDS_MAX
            || used + wl + 1 > sizeof(k->words))
            return false;
        memcpy(k->words + used, w, wl + 1);
        k->len[k->n_words++] = (uint8_t)wl;
        used += wl + 1;
    }
    /* "crash *" is not a stem of "crash": the '*' must touch the word. */
    if (k->stem && !is_alnum((unsigned char)text[len - 1])
        && (unsigned char)text[len - 1] < 0x80)
        return false;
    return k->n_words > 0;
}

static bool
valid_name(const char *name)
{
    size_t n = strlen(name), i;
    if (n == 0 || n > TLM__CATEGORY_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static ssize_t
find_builtin(const char *name)
{
    size_t i;
    for (i = 0; i < N_BUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static ssize_t
find_category(const struct tlm__categories *c, const char *name)
{
    size_t i;
    for (i = 0; i < c->n; i++)
        if (strcmp(c->cat[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

/* Appends category name with room for n_kw keywords; NULL on OOM. */
static struct category *
add_category(struct tlm__categories *c, const char *name, size_t n_kw)
{
    struct category *cat = &c->cat[c->n];
    cat->name = strdup(name);
    cat->kw = calloc(n_kw > 0 ? n_kw : 1, sizeof(*cat->kw));
    if (cat->name == NULL || cat->kw == NULL) {
        free(cat->name);
        free(cat->kw);
        memset(cat, 0, sizeof(*cat));
        return NULL;
    }
    cat->n_kw = 0;
    c->n++;
    return cat;
}

/* Appends built-in category b with its keywords; -1 on OOM (or a
 * malformed built-in keyword). */
static int
add_builtin(struct tlm__categories *c, size_t b)
{
    const char *p = builtins[b].keywords;
    struct category *cat;
    size_t n = 1, k;

    for (k = 0; p[k] != '\0'; k++)
        n += p[k] == ',';
    cat = add_category(c, builtins[b].name, n);
    if (cat == NULL)
        return -1;
    while (*p != '\0') {
        char item[TLM__KEYWORD_MAX + 16];
        size_t len = strcspn(p, ",");
        char *space;

        /* A malformed built-in item is a bug the unit tests catch here. */
        if (len >= sizeof(item))
            return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        space = strrchr(item, ' ');
        if (space == NULL)
            return -1;
        *space = '\0';
        if (!parse_keyword(item, strtod(space + 1, NULL), &cat->kw[cat->n_kw])
            || !(cat->kw[cat->n_kw].weight > 0))
            return -1;
        cat->n_kw++;
        p += len;
        p += strspn(p, ", ");
    }
    return 0;
}

struct tlm__categories *
tlm__categories_default(void)
{
    struct tlm__categories *c = calloc(1, sizeof(*c));
    size_t b;
    if (c == NULL)
        return NULL;
    for (b = 0; b < N_BUILTINS; b++)
        if (add_builtin(c, b) != 0) {
            tlm__categories_free(c);
            return NULL;
        }
    return c;
}

void
tlm__categories_free(struct tlm__categories *c)
{
    size_t i;
    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++) {
        free(c->cat[i].name);
        free(c->cat[i].kw);
    }
    free(c);
}

#define PFX "config: feedback.categories"

static int
oom(char *err, size_t n)
{
    snprintf(err, n, PFX ": out of memory");
    return -1;
}

static int
add_named(struct tlm__categories *c, const cJSON *item, size_t idx, char *err,
    size_t n)
{
    const char *name = cJSON_GetStringValue(item);
    ssize_t b;

    if (name == NULL || !valid_name(name)) {
        snprintf(err, n,
            PFX "[%zu]: expected a category name (1..64 of a-z, 0-9, '-', "
                "'_')",
            idx);
        return -1;
    }
    if (find_category(c, name) >= 0) {
        snprintf(err, n, PFX "[%zu]: duplicate category \"%s\"", idx, name);
        return -1;
    }
    b = find_builtin(name);
    if (b < 0) {
        snprintf(err, n,
            PFX "[%zu]: \"%s\" is not a built-in category: give its keywords "
                "with the object form {\"%s\": {\"keywords\": {...}}}",
            idx, name, name);
        return -1;
    }
    return add_builtin(c, (size_t)b) == 0 ? 0 : oom(err, n);
}

static int
add_keywords(struct category *cat, const cJSON *kws, char *err, size_t n)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, kws)
    {
        struct keyword *kw = &cat->kw[cat->n_kw];
        if (!cJSON_IsNumber(k)) {
            snprintf(err, n,
                PFX ".%s.keywords: expected an object of numbers (\"%.64s\" "
                    "is not a number)",
                cat->name, k->string);
            return -1;
        }
        if (!(k->valuedouble > 0 && k->valuedouble <= 100)) {
            snprintf(err, n,
                PFX ".%s.keywords.\"%.64s\": expected a weight in (0, 100]",
                cat->name, k->string);
            return -1;
        }
        if (!parse_keyword(k->string, k->valuedouble, kw)) {
            snprintf(err, n,
                PFX ".%s.keywords.\"%.64s\": expected 1..4 words within 64 "
                    "bytes, optionally ending in '*'",
                cat->name, k->string);
            return -1;
        }
        cat->n_kw++;
    }
    return 0;
}

static int
add_configured(
    struct tlm__categories *c, const cJSON *item, char *err, size_t n)
{
    const char *name = item->string;
    const cJSON *m, *kws = NULL;
    struct category *cat;
    ssize_t b;
    int n_kw;

    if (!valid_name(name)) {
        snprintf(err, n,
            PFX ".\"%.64s\": expected a category name (1..64 of a-z, 0-9, "
                "'-', '_')",
            name);
        return -1;
    }
    if (find_category(c, name) >= 0) {
        snprintf(err, n, PFX ".%s: duplicate category", name);
        return -1;
    }
    if (!cJSON_IsObject(item)) {
        snprintf(
            err, n, PFX ".%s: expected an object {\"keywords\": {...}}", name);
        return -1;
    }
    cJSON_ArrayForEach(m, item)
    {
        if (strcmp(m->string, "keywords") != 0) {
            snprintf(err, n, PFX ".%s.%.64s: unknown key (expected keywords)",
                name, m->string);
            return -1;
        }
        kws = m;
    }
    b = find_builtin(name);
    if (kws == NULL) {
        if (b >= 0)
            return add_builtin(c, (size_t)b) == 0 ? 0 : oom(err, n);
        snprintf(err, n,
            PFX ".%s.keywords: required for a category that is not built in",
            name);
        return -1;
    }
    if (!cJSON_IsObject(kws)) {
        snprintf(
            err, n, PFX ".%s.keywords: expected an object of numbers", name);
        return -1;
    }
    n_kw = cJSON_GetArraySize(kws);
    if (n_kw < 1 || n_kw > TLM__CATEGORY_KEYWORDS_MAX) {
        snprintf(err, n, PFX ".%s.keywords: expected 1..%d keywords", name,
            TLM__CATEGORY_KEYWORDS_MAX);
        return -1;
    }
    cat = add_category(c, name, (size_t)n_kw);
    if (cat == NULL)
        return oom(err, n);
    return add_keywords(cat, kws, err, n);
}

int
tlm__categories_from_json(
    const cJSON *node, struct tlm__categories **out, char *err, size_t err_size)
{
    struct tlm__categories *c = NULL;
    const cJSON *item;
    size_t idx = 0;
    int count;

    *out = NULL;
    if (!cJSON_IsArray(node) && !cJSON_IsObject(node)) {
        snprintf(err, err_size,
            PFX ": expected an array of category names or an object "
                "{\"name\": {\"keywords\": {\"word\": weight, ...}}}");
        return -1;
    }
    count = cJSON_GetArraySize(node);
    if (count < 1 || count > TLM__CATEGORIES_MAX - 1) {
        snprintf(err, err_size, PFX ": expected 1..%d categories",
            TLM__CATEGORIES_MAX - 1);
        return -1;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return oom(err, err_size);
    cJSON_ArrayForEach(item, node)
    {
        int rc = cJSON_IsArray(node) ? add_named(c, item, idx, err, err_size)
                                     : add_configured(c, item, err, err_size);
        if (rc != 0) {
            tlm__categories_free(c);
            return -1;
        }
        idx++;
    }
    if (find_category(c, TLM__CATEGORY_OTHER) < 0
        && add_category(c, TLM__CATEGORY_OTHER, 0) == NULL) {
        tlm__categories_free(c);
        return oom(err, err_size);
    }
    *out = c;
    return 0;
}

/* --- scoring ------------------------------------------------------------ */

/* The last TLM__KEYWORD_WORDS_MAX words read, newest at (head - 1). */
struct window {
    char w[TLM__KEYWORD_WORDS_MAX][WORD_MAX];
    size_t len[TLM__KEYWORD_WORDS_MAX];
    size_t head, count;
};

/* Whether k ends at the newest word of win. */
static bool
keyword_matches(const struct keyword *k, const struct window *win)
{
    const char *kw = k->words;
    size_t j;

    if (k->n_words > win->count)
        return false;
    for (j = 0; j < k->n_words; j++) {
        size_t slot = (win->head + TLM__KEYWORD_WORDS_MAX - k->n_words + j)
            % TLM__KEYWORD_WORDS_MAX;
        size_t wl = win->len[slot];
        bool last = j + 1 == k->n_words;
        if (wl == 0)
            return false;
        if ((last && k->stem) ? wl < k->len[j] : wl != k->len[j])
            return false;
        if (memcmp(win->w[slot], kw, k->len[j]) != 0)
            return false;
        kw += k->len[j] + 1;
    }
    return true;
}

const char *
tlm__categorize(const struct tlm__categories *c, const char *text, size_t len,
    double *confidence)
{
    double score[TLM__CATEGORIES_MAX] = {0}, total = 0, best = 0;
    struct window win;
    size_t i = 0, ci, k, best_i = 0;
    ssize_t other;

    if (confidence != NULL)
        *confidence = 0;
    if (c == NULL)
        return TLM__CATEGORY_OTHER;
    other = find_category(c, TLM__CATEGORY_OTHER);
    memset(&win, 0, sizeof(win));
    while (text != NULL
        && next_word((const unsigned char *)text, len, &i, win.w[win.head],
            &win.len[win.head])) {
        win.head = (win.head + 1) % TLM__KEYWORD_WORDS_MAX;
        if (win.count < TLM__KEYWORD_WORDS_MAX)
            win.count++;
        for (ci = 0; ci < c->n; ci++)
            for (k = 0; k < c->cat[ci].n_kw; k++)
                if (keyword_matches(&c->cat[ci].kw[k], &win))
                    score[ci] += c->cat[ci].kw[k].weight;
    }
    for (ci = 0; ci < c->n; ci++) {
        total += score[ci];
        if (score[ci] > best) {
            best = score[ci];
            best_i = ci;
        }
    }
    if (best <= 0)
        return other >= 0 ? c->cat[other].name : TLM__CATEGORY_OTHER;
    if (confidence != NULL)
        *confidence = best / total * (best / (best + 2.0));
    return c->cat[best_i].name;
}

bool
tlm__categories_has(const struct tlm__categories *c, const char *name)
{
    return c != NULL && name != NULL && find_category(c, name) >= 0;
}

size_t
tlm__categories_count(const struct tlm__categories *c)
{
    return c != NULL ? c->n : 0;
}

const char *
tlm__categories_name(const struct tlm__categories *c, size_t i)
{
    return c != NULL && i < c->n ? c->cat[i].name : NULL;
}
