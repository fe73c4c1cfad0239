/*
 * minimize.c - data minimization of request_details: only allow-listed
 * keys leave the process, and secret-looking keys never do.
 *
 * Worker thread only; edits a cJSON tree in place.
 */
#include "privacy.h"

#include <string.h>
#include <strings.h>

#define DEFAULT_ALLOWLIST                                                      \
    "method,path,query_keys,content_length,content_type,retry_count"

/* Substrings that make a key secret, compared case-insensitively. */
static const char *const secret_words[] = {
    "authorization",
    "cookie",
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "session",
    "credential",
    "private_key",
    "signature",
};

static bool
contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay != '\0'; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static bool
is_secret_key(const char *key)
{
    size_t i;

    for (i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++)
        if (contains_ci(key, secret_words[i]))
            return true;
    return false;
}

static bool
in_allowlist(const char *key, const char *list)
{
    size_t n = strlen(key);
    const char *p = list, *end;

    while (*p != '\0') {
        end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        if ((size_t)(end - p) == n && strncmp(p, key, n) == 0)
            return true;
        p = *end == ',' ? end + 1 : end;
    }
    return false;
}

/* Secret keys go at every depth, inside objects and arrays. */
static void
drop_secrets(cJSON *node)
{
    cJSON *item = node ? node->child : NULL, *next;

    for (; item != NULL; item = next) {
        next = item->next;
        if (item->string != NULL && is_secret_key(item->string)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(node, item));
            continue;
        }
        if (cJSON_IsObject(item) || cJSON_IsArray(item))
            drop_secrets(item);
    }
}

void
tlm__privacy_minimize(cJSON *details, const char *allowlist)
{
    cJSON *item, *next;

    if (!cJSON_IsObject(details))
        return;
    if (allowlist == NULL)
        allowlist = DEFAULT_ALLOWLIST;
    for (item = details->child; item != NULL; item = next) {
        next = item->next;
        if (!in_allowlist(item->string, allowlist))
            cJSON_Delete(cJSON_DetachItemViaPointer(details, item));
    }
    drop_secrets(details);
}
