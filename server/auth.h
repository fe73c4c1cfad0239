/* Credentials: the keys a server accepts and who an Authorization header
 * speaks for. Keys come from the configuration (hashed as parsed) and from
 * the database's api_keys table (re-read by tlm__auth_sync); each carries
 * its attributes and its own rate-limit bucket. Must never compare secrets
 * in data-dependent time, keep a secret in memory, nor log one. */
#ifndef TLM_SERVER_AUTH_H
#define TLM_SERVER_AUTH_H

#include "config.h"
#include "ratelimit.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>

enum tlm__principal {
    TLM_PRINCIPAL_NONE = 0, /* absent, malformed, unknown or revoked */
    TLM_PRINCIPAL_INGEST = 1, /* an ingestion key */
    TLM_PRINCIPAL_ADMIN = 2, /* the admin token or an admin key */
    /* A publishable key: submit-only routes, from its origins only. */
    TLM_PRINCIPAL_PUBLISHABLE = 3,
};

/* What a request made with a key carries. Empty strings are "not set". A
 * key stays at the same address for the life of its struct tlm__auth, so
 * a request may keep the pointer after a sync revoked it. */
struct tlm__key {
    char id[TLM_KEY_ID_MAX]; /* "config-N", "admin-token" or the table's */
    char organization[TLM_KEY_ATTR_MAX];
    char access_tier[TLM_KEY_ATTR_MAX];
    char environment[TLM_KEY_ENV_MAX];
    bool admin;
    bool publishable;
    char origins[TLM_KEY_ORIGINS_MAX]; /* "a,b" (publishable keys) */
    struct tlm__bucket bucket; /* the rate of its access tier */
};

struct tlm__auth;

/* An empty keyring; tiers (copied) give each key's rate by its tier.
 * Returns 0 and *out, or -1 when out of memory. */
int tlm__auth_new(
    const struct tlm__rate_tier *tiers, size_t n_tiers, struct tlm__auth **out);

void tlm__auth_free(struct tlm__auth *a);

/* Adds the configured ingestion keys and the admin token (NULL: none);
 * these are never revoked by a sync. Returns 0 or -1 (out of memory). */
int tlm__auth_add_config(struct tlm__auth *a, const struct tlm__key_spec *keys,
    size_t n_keys, const char *admin_token);

/* Makes the database's keys those of rows: adds new active ones, revokes
 * revoked or vanished ones. Counts what changed in *added / *revoked.
 * Returns 0 or -1 (out of memory: nothing is revoked then). */
int tlm__auth_sync(struct tlm__auth *a, const struct tlm__key_row *rows,
    size_t n, size_t *added, size_t *revoked);

/* Active keys, by principal. */
void tlm__auth_count(const struct tlm__auth *a, size_t *ingest, size_t *admin);

/* Classifies an "Authorization: Bearer <secret>" header value (NULL when
 * absent); *key (may be NULL) is set to the matching key or NULL. */
enum tlm__principal tlm__auth_classify(struct tlm__auth *a,
    const char *authorization, const struct tlm__key **key);

/* True when origin ("scheme://host[:port]") is one of k's origins. */
bool tlm__auth_origin_allowed(const struct tlm__key *k, const char *origin);

#endif
