/* Bearer-token classification. Compares the presented secret against every
 * configured secret in time independent of where they differ, and never
 * stops early on a match, so timing reveals neither keys nor their count. */
#include "auth.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MAX_SECRET 512

static bool
equal_ct(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i < blen ? i : 0]);
    return diff == 0 && blen > 0;
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
tlm__auth_classify(const struct tlm__auth *a, const char *authorization)
{
    size_t key;
    return tlm__auth_classify_key(a, authorization, &key);
}

enum tlm__principal
tlm__auth_classify_key(
    const struct tlm__auth *a, const char *authorization, size_t *key)
{
    const char *tok = NULL;
    size_t len = bearer_token(authorization, &tok);
    bool ingest = false;
    bool admin = false;
    *key = 0;
    if (len == 0)
        return TLM_PRINCIPAL_NONE;
    for (size_t i = 0; i < a->n_api_keys; i++) {
        bool eq = equal_ct(tok, len, a->api_keys[i]);
        size_t mask = (size_t)0 - (size_t)eq; /* select without a branch */
        *key = (*key & ~mask) | (i & mask);
        ingest |= eq;
    }
    if (a->admin_token != NULL)
        admin = equal_ct(tok, len, a->admin_token);
    if (admin)
        return TLM_PRINCIPAL_ADMIN;
    return ingest ? TLM_PRINCIPAL_INGEST : TLM_PRINCIPAL_NONE;
}
