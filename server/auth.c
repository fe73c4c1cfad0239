/* The keyring: every key as the SHA-256 of its secret in an open-addressing
 * table behind a read-write lock. A lookup hashes the presented secret and
 * compares whole digests with CRYPTO_memcmp, so timing depends only on the
 * presented secret's own digest, never on how much of a real key it
 * matches. Entries are allocated one by one and freed only with the
 * keyring: pointers handed to requests stay valid across syncs. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SECRET 512

struct entry {
    unsigned char hash[32];
    struct tlm__key key;
    atomic_bool revoked;
    bool from_store;
    bool seen; /* scratch of one sync */
    struct entry *next; /* every entry, for freeing */
};

struct tlm__auth {
    pthread_rwlock_t lock;
    struct entry **slots; /* cap slots, NULL = empty */
    size_t cap; /* a power of two, at least twice n */
    size_t n;
    struct entry *all;
    struct tlm__rate_tier *tiers;
    size_t n_tiers;
};

static size_t
slot_of(const unsigned char hash[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    return (size_t)h & (cap - 1);
}

/* The entry with hash, or NULL; with the lock held. */
static struct entry *
find(const struct tlm__auth *a, const unsigned char hash[32])
{
    if (a->cap == 0)
        return NULL;
    for (size_t i = slot_of(hash, a->cap);; i = (i + 1) & (a->cap - 1)) {
        struct entry *e = a->slots[i];
        if (e == NULL)
            return NULL;
        if (CRYPTO_memcmp(e->hash, hash, 32) == 0)
            return e;
    }
}

static void
place(struct entry **slots, size_t cap, struct entry *e)
{
    size_t i = slot_of(e->hash, cap);
    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = e;
}

/* Room for one more entry; with the write lock held. */
static int
reserve(struct tlm__auth *a)
{
    size_t cap = a->cap > 0 ? a->cap : 16;
    struct entry **slots;
    if ((a->n + 1) * 2 <= a->cap)
        return 0;
    while ((a->n + 1) * 2 > cap)
        cap *= 2;
    slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < a->cap; i++) {
        if (a->slots[i] != NULL)
            place(slots, cap, a->slots[i]);
    }
    free(a->slots);
    a->slots = slots;
    a->cap = cap;
    return 0;
}

static void
copy_attr(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* Adds a key; with the write lock held. An existing hash is left as is. */
static struct entry *
add(struct tlm__auth *a, const unsigned char hash[32], const char *id,
    const char *organization, const char *tier, const char *environment,
    bool admin, bool from_store)
{
    struct entry *e = find(a, hash);
    if (e != NULL)
        return e;
    if (reserve(a) != 0 || (e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    memcpy(e->hash, hash, 32);
    copy_attr(e->key.id, sizeof(e->key.id), id);
    copy_attr(e->key.organization, sizeof(e->key.organization), organization);
    copy_attr(e->key.access_tier, sizeof(e->key.access_tier), tier);
    copy_attr(e->key.environment, sizeof(e->key.environment), environment);
    e->key.admin = admin;
    tlm__bucket_init(&e->key.bucket,
        admin ? (struct tlm__rate_rule) {0, 0}
              : tlm__rate_for_tier(a->tiers, a->n_tiers, tier));
    atomic_init(&e->revoked, false);
    e->from_store = from_store;
    e->next = a->all;
    a->all = e;
    place(a->slots, a->cap, e);
    a->n++;
    return e;
}

int
tlm__auth_new(
    const struct tlm__rate_tier *tiers, size_t n_tiers, struct tlm__auth **out)
{
    struct tlm__auth *a = calloc(1, sizeof(*a));
    *out = NULL;
    if (a == NULL)
        return -1;
    if (n_tiers > 0) {
        a->tiers = malloc(n_tiers * sizeof(*a->tiers));
        if (a->tiers == NULL) {
            free(a);
            return -1;
        }
        memcpy(a->tiers, tiers, n_tiers * sizeof(*a->tiers));
        a->n_tiers = n_tiers;
    }
    pthread_rwlock_init(&a->lock, NULL);
    *out = a;
    return 0;
}

void
tlm__auth_free(struct tlm__auth *a)
{
    if (a == NULL)
        return;
    while (a->all != NULL) {
        struct entry *e = a->all;
        a->all = e->next;
        tlm__bucket_destroy(&e->key.bucket);
        free(e);
    }
    free(a->slots);
    free(a->tiers);
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

int
tlm__auth_add_config(struct tlm__auth *a, const struct tlm__key_spec *keys,
    size_t n_keys, const char *admin_token)
{
    int rc = 0;
    pthread_rwlock_wrlock(&a->lock);
    for (size_t i = 0; i < n_keys && rc == 0; i++) {
        char id[TLM_KEY_ID_MAX];
        const struct tlm__key_spec *k = &keys[i];
        snprintf(id, sizeof(id), "config-%zu", i + 1);
        if (add(a, k->sha256, id, k->organization, k->access_tier,
                k->environment, false, false)
            == NULL)
            rc = -1;
    }
    if (rc == 0 && admin_token != NULL) {
        unsigned char h[32];
        SHA256((const unsigned char *)admin_token, strlen(admin_token), h);
        if (add(a, h, "admin-token", NULL, NULL, NULL, true, false) == NULL)
            rc = -1;
    }
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

int
tlm__auth_sync(struct tlm__auth *a, const struct tlm__key_row *rows, size_t n,
    size_t *added, size_t *revoked)
{
    int rc = 0;
    *added = 0;
    *revoked = 0;
    pthread_rwlock_wrlock(&a->lock);
    for (struct entry *e = a->all; e != NULL; e = e->next)
        e->seen = false;
    for (size_t i = 0; i < n; i++) {
        const struct tlm__key_row *r = &rows[i];
        struct entry *e = find(a, r->hash);
        if (e == NULL && r->revoked_ms != 0)
            continue;
        if (e == NULL) {
            e = add(a, r->hash, r->id, r->organization, r->access_tier,
                r->environment, r->admin, true);
            if (e == NULL) {
                rc = -1;
                break;
            }
            e->key.publishable = r->publishable;
            snprintf(e->key.origins, sizeof(e->key.origins), "%s", r->origins);
            (*added)++;
        }
        e->seen = true;
        if (!e->from_store)
            continue; /* a configured key: the config decides */
        bool was = atomic_load(&e->revoked);
        bool now = r->revoked_ms != 0;
        if (was != now) {
            atomic_store(&e->revoked, now);
            if (now)
                (*revoked)++;
            else
                (*added)++;
        }
    }
    for (struct entry *e = a->all; rc == 0 && e != NULL; e = e->next) {
        if (e->from_store && !e->seen && !atomic_load(&e->revoked)) {
            atomic_store(&e->revoked, true); /* deleted from the table */
            (*revoked)++;
        }
    }
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

void
tlm__auth_count(const struct tlm__auth *a, size_t *ingest, size_t *admin)
{
    struct tlm__auth *m = (struct tlm__auth *)a;
    *ingest = 0;
    *admin = 0;
    pthread_rwlock_rdlock(&m->lock);
    for (const struct entry *e = a->all; e != NULL; e = e->next) {
        if (atomic_load(&e->revoked))
            continue;
        if (e->key.admin)
            (*admin)++;
        else
            (*ingest)++;
    }
    pthread_rwlock_unlock(&m->lock);
}

/* Points *tok at the token of "Bearer <token>"; returns its length or 0. */
static size_t
bearer_token(const char *h, const char **tok)
{
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    /* Trim trailing blanks over the whole header, not a capped window:
     * "Bearer KEY<512 blanks>JUNK" must not read as KEY (fuzz_http). */
    size_t len = strlen(h);
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (len == 0 || len > MAX_SECRET)
        return 0;
    *tok = h;
    return len;
}

enum tlm__principal
tlm__auth_classify(
    struct tlm__auth *a, const char *authorization, const struct tlm__key **key)
{
    const char *tok = NULL;
    size_t len = bearer_token(authorization, &tok);
    unsigned char h[32];
    const struct entry *e;
    if (key != NULL)
        *key = NULL;
    if (a == NULL || len == 0)
        return TLM_PRINCIPAL_NONE;
    SHA256((const unsigned char *)tok, len, h);
    pthread_rwlock_rdlock(&a->lock);
    e = find(a, h);
    pthread_rwlock_unlock(&a->lock);
    if (e == NULL || atomic_load(&e->revoked))
        return TLM_PRINCIPAL_NONE;
    if (key != NULL)
        *key = &e->key;
    if (e->key.admin)
        return TLM_PRINCIPAL_ADMIN;
    return e->key.publishable ? TLM_PRINCIPAL_PUBLISHABLE
                              : TLM_PRINCIPAL_INGEST;
}

bool
tlm__auth_origin_allowed(const struct tlm__key *k, const char *origin)
{
    size_t n;
    const char *p;
    if (k == NULL || origin == NULL || origin[0] == '\0')
        return false;
    n = strlen(origin);
    for (p = k->origins; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, origin, n) == 0)
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}
