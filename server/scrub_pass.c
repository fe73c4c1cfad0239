/* Walks one event's cJSON tree and scrubs each string that can carry PII
 * with lib/scrub.c, replacing only strings that changed. Depth is bounded
 * by the ingest limits (the scanner refused deeper bodies), so the walk
 * recurses.
 *
 * Telemetry repeats itself: endpoint templates, content types, paths come
 * back in every batch. The scrubber is a pure function of its input, so a
 * per-thread cache of short strings known to come out unchanged skips the
 * scan for them (a hash and a memcmp instead of running every detector);
 * strings that changed, and long ones, are always scanned. */
#include "scrub_pass.h"

#include "scrub.h"

#include <stdint.h>
#include <string.h>

#define CLEAN_SLOTS 1024 /* a power of two */
#define CLEAN_MAX 120 /* longest string the cache holds */

struct clean_slot {
    uint64_t hash; /* 0: empty */
    uint8_t len;
    char text[CLEAN_MAX];
};

static _Thread_local struct clean_slot clean_cache[CLEAN_SLOTS];

/* FNV-1a over the bytes and the mode; never 0. */
static uint64_t
clean_hash(const char *s, size_t n, bool path)
{
    uint64_t h = 1469598103934665603ULL ^ (path ? 0x9e37 : 0);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h | 1;
}

static struct clean_slot *
clean_slot_of(uint64_t h)
{
    return &clean_cache[(h >> 17) & (CLEAN_SLOTS - 1)];
}

static bool
known_clean(const char *s, size_t n, uint64_t h)
{
    const struct clean_slot *c = clean_slot_of(h);
    return c->hash == h && c->len == n && memcmp(c->text, s, n) == 0;
}

static void
remember_clean(const char *s, size_t n, uint64_t h)
{
    struct clean_slot *c = clean_slot_of(h);
    c->hash = h;
    c->len = (uint8_t)n;
    memcpy(c->text, s, n);
}

_Static_assert(TLM__SCRUB_NKINDS <= TLM_SCRUB_TALLY_KINDS,
    "the tally has room for every detector kind");

/* Top-level members that are identity, structure or already anonymized. */
static const char *const untouched[] = {
    "id",
    "type",
    "timestamp",
    "environment",
    "method",
    "user_id",
    "organization_id",
    "access_tier",
    "impact",
    "client_info",
    "sample_rate",
};

static bool
is_untouched(const char *key)
{
    for (size_t i = 0; i < sizeof(untouched) / sizeof(untouched[0]); i++) {
        if (key[0] == untouched[i][0] && strcmp(key, untouched[i]) == 0)
            return true;
    }
    return false;
}

/* Scrubs one string node; 1 if it changed, 0 if not, -1 out of memory. */
static int
scrub_node(cJSON *node, bool path, struct tlm__scrub_tally *tally)
{
    tlm__buf out = {0};
    tlm__scrub_counts counts = {0};
    const char *in = node->valuestring;
    size_t n = strlen(in);
    uint64_t h = 0;
    if (n <= CLEAN_MAX) {
        h = clean_hash(in, n, path);
        if (known_clean(in, n, h))
            return 0;
    }
    int rc = path ? tlm__scrub_path(in, n, TLM__SCRUB_ALL, &out, &counts)
                  : tlm__scrub_string(in, n, TLM__SCRUB_ALL, &out, &counts);
    if (rc != 0) {
        tlm__buf_free(&out);
        return -1;
    }
    rc = 0;
    if (out.len != n || memcmp(out.data, in, n) != 0) {
        if (cJSON_SetValuestring(node, out.data) == NULL) {
            tlm__buf_free(&out);
            return -1;
        }
        for (int k = 0; k < TLM__SCRUB_NKINDS; k++) {
            tally->by_kind[k] += counts.n[k];
            tally->total += counts.n[k];
        }
        rc = 1;
    } else if (h != 0) {
        remember_clean(in, n, h);
    }
    tlm__buf_free(&out);
    return rc;
}

static int
walk(cJSON *node, struct tlm__scrub_tally *tally)
{
    int changed = 0;
    for (cJSON *it = node->child; it != NULL; it = it->next) {
        int rc = 0;
        if (cJSON_IsString(it) && it->valuestring != NULL)
            rc = scrub_node(it, false, tally);
        else if (cJSON_IsObject(it) || cJSON_IsArray(it))
            rc = walk(it, tally);
        if (rc < 0)
            return -1;
        changed += rc;
    }
    return changed;
}

int
tlm__scrub_event(cJSON *event, struct tlm__scrub_tally *tally)
{
    int changed = 0;
    if (!cJSON_IsObject(event))
        return 0;
    for (cJSON *it = event->child; it != NULL; it = it->next) {
        int rc = 0;
        if (it->string == NULL || is_untouched(it->string))
            continue;
        if (cJSON_IsString(it) && it->valuestring != NULL)
            rc = scrub_node(it, strcmp(it->string, "endpoint") == 0, tally);
        else if (cJSON_IsObject(it) || cJSON_IsArray(it))
            rc = walk(it, tally);
        if (rc < 0)
            return -1;
        changed += rc;
    }
    return changed;
}
