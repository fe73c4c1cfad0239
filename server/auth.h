/* Credentials: who an Authorization header speaks for (an ingestion key, the
 * admin token, or nobody). Must never compare secrets in data-dependent time
 * nor log them. */
#ifndef TLM_SERVER_AUTH_H
#define TLM_SERVER_AUTH_H

#include <stddef.h>

enum tlm__principal {
    TLM_PRINCIPAL_NONE = 0, /* absent, malformed or unknown credential */
    TLM_PRINCIPAL_INGEST = 1, /* one of the --api-key keys */
    TLM_PRINCIPAL_ADMIN = 2, /* the --admin-token */
};

/* Borrowed views of the configured secrets. */
struct tlm__auth {
    char *const *api_keys;
    size_t n_api_keys;
    const char *admin_token; /* NULL: admin routes always answer 401 */
};

/* Classifies an "Authorization: Bearer <secret>" header value (NULL when the
 * header is absent). */
enum tlm__principal tlm__auth_classify(
    const struct tlm__auth *a, const char *authorization);

/* Same, and for TLM_PRINCIPAL_INGEST sets *key to the index of the matching
 * key in api_keys (for per-key rate limiting). */
enum tlm__principal tlm__auth_classify_key(
    const struct tlm__auth *a, const char *authorization, size_t *key);

#endif
