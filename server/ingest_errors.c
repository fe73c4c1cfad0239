/* The group of an error event at ingest: the fingerprint (error_group.c)
 * of its code, message and stack, or of the caller's own fingerprint, and
 * the group id that also separates environments, so sandbox errors never
 * mix into production groups. Pure; no allocation. */
#include "ingest_errors.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_SEVERITY 1 /* medium, for events that declare none */

int
tlm__ingest_error_info(const struct tlm__event *ev,
    struct tlm__error_group_key *key, struct tlm__error_info *out)
{
    const char *parts[8] = {NULL};
    size_t n = 0;
    unsigned char h[SHA256_DIGEST_LENGTH];
    char material[TLM_GROUP_ID_MAX + TLM_EVENT_MAX_SHORT + 2];
    const cJSON *fp = ev->fingerprint;

    if (cJSON_IsString(fp)) {
        parts[n++] = fp->valuestring;
    } else if (cJSON_IsArray(fp)) {
        const cJSON *v;
        cJSON_ArrayForEach(v, fp)
        {
            if (n < 8 && cJSON_IsString(v))
                parts[n++] = v->valuestring;
        }
    }
    if (tlm__error_fingerprint(ev->error_code, ev->error_message,
            ev->stack_trace, n > 0 ? parts : NULL, n, key)
        != 0)
        return -1;
    memset(out, 0, sizeof(*out));
    memcpy(out->fingerprint, key->fingerprint, sizeof(out->fingerprint));
    snprintf(
        material, sizeof(material), "%s:%s", key->fingerprint, ev->environment);
    SHA256((const unsigned char *)material, strlen(material), h);
    for (int i = 0; i < 16; i++)
        snprintf(out->group_id + 2 * i, 3, "%02x", h[i]);
    out->title = key->title;
    out->culprit = key->culprit;
    out->grouping_version = TLM_GROUPING_VERSION;
    out->custom = key->custom;
    out->severity = ev->severity >= 0 ? ev->severity : DEFAULT_SEVERITY;
    return 0;
}
