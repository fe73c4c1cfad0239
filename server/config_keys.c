/* Ingestion key specifications from --api-key, TELEMETRY_API_KEYS and the
 * config file: "SECRET[;organization=O][;tier=T][;environment=E]", each
 * hashed with SHA-256 as it is parsed. Owns c->api_keys. Must never print a
 * secret, nor accept an attribute the server would not apply. */
#include "config.h"
#include "event.h"

#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECRET 512
#define MAX_ENTRY 2048

int
tlm__secret_valid(const char *s, size_t len)
{
    if (len == 0 || len > MAX_SECRET)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= ' ' || s[i] > '~' || s[i] == ',' || s[i] == ';')
            return 0;
    }
    return 1;
}

void
tlm__api_keys_free(struct tlm__server_config *c)
{
    for (size_t i = 0; i < c->n_api_keys; i++)
        free(c->api_keys[i].secret);
    free(c->api_keys);
    c->api_keys = NULL;
    c->n_api_keys = 0;
}

int
tlm__api_keys_append(
    struct tlm__server_config *c, const struct tlm__key_spec *k)
{
    struct tlm__key_spec *keys
        = realloc(c->api_keys, (c->n_api_keys + 1) * sizeof(*c->api_keys));
    if (keys == NULL)
        return -1;
    c->api_keys = keys;
    keys[c->n_api_keys] = *k;
    if (k->secret != NULL) {
        keys[c->n_api_keys].secret = strdup(k->secret);
        if (keys[c->n_api_keys].secret == NULL)
            return -1;
    }
    c->n_api_keys++;
    return 0;
}

/* Attribute values: 1..127 printable ASCII characters without separators,
 * so that they print unquoted in `keys list` and logs. */
static bool
attr_valid(const char *v, size_t len)
{
    if (len == 0 || len >= TLM_KEY_ATTR_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (v[i] <= ' ' || v[i] > '~' || v[i] == ',' || v[i] == ';'
            || v[i] == '"' || v[i] == '\\')
            return false;
    }
    return true;
}

int
tlm__key_spec_set(struct tlm__key_spec *k, const char *name, const char *value,
    size_t value_len, const char *what, char *err, size_t err_size)
{
    char *dst;
    size_t cap;
    if (strcmp(name, "organization") == 0) {
        dst = k->organization;
        cap = sizeof(k->organization);
    } else if (strcmp(name, "tier") == 0 || strcmp(name, "access_tier") == 0) {
        dst = k->access_tier;
        cap = sizeof(k->access_tier);
    } else if (strcmp(name, "environment") == 0) {
        if (!((value_len == 10 && memcmp(value, "production", 10) == 0)
                || (value_len == 7 && memcmp(value, "sandbox", 7) == 0))) {
            snprintf(err, err_size,
                "%s: environment: expected production or sandbox", what);
            return -1;
        }
        dst = k->environment;
        cap = sizeof(k->environment);
    } else {
        snprintf(err, err_size,
            "%s: unknown key attribute \"%.32s\" (expected organization, "
            "tier or environment)",
            what, name);
        return -1;
    }
    if (!attr_valid(value, value_len) || value_len >= cap) {
        snprintf(err, err_size,
            "%s: %s: expected 1..127 printable characters without spaces, "
            "quotes, commas or ';'",
            what, name);
        return -1;
    }
    memcpy(dst, value, value_len);
    dst[value_len] = '\0';
    return 0;
}

int
tlm__sha256_from_hex(const char *hex, unsigned char out[32])
{
    if (hex == NULL || strlen(hex) != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = tlm__hex_nibble(hex[2 * i]),
            lo = tlm__hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Parses one "SECRET[;name=value]..." entry of len bytes into k. */
static int
parse_entry(const char *p, size_t len, struct tlm__key_spec *k,
    const char *what, char *err, size_t err_size)
{
    const char *end = p + len;
    const char *semi = memchr(p, ';', len);
    size_t slen = semi != NULL ? (size_t)(semi - p) : len;
    memset(k, 0, sizeof(*k));
    if (!tlm__secret_valid(p, slen)) {
        snprintf(err, err_size,
            "%s: keys must be 1..512 printable characters without spaces, "
            "commas or ';', separated by commas",
            what);
        return -1;
    }
    while (semi != NULL) {
        char name[32];
        const char *a = semi + 1;
        const char *next = memchr(a, ';', (size_t)(end - a));
        const char *aend = next != NULL ? next : end;
        const char *eq = memchr(a, '=', (size_t)(aend - a));
        if (eq == NULL || (size_t)(eq - a) >= sizeof(name) || eq == a) {
            snprintf(err, err_size,
                "%s: key attributes are name=value after ';' (organization, "
                "tier, environment)",
                what);
            return -1;
        }
        memcpy(name, a, (size_t)(eq - a));
        name[eq - a] = '\0';
        if (tlm__key_spec_set(
                k, name, eq + 1, (size_t)(aend - eq - 1), what, err, err_size)
            != 0)
            return -1;
        semi = next;
    }
    k->secret = strndup(p, slen);
    if (k->secret == NULL)
        return -1;
    SHA256((const unsigned char *)k->secret, slen, k->sha256);
    return 0;
}

int
tlm__api_keys_append_csv(struct tlm__server_config *c, const char *s,
    const char *what, char *err, size_t err_size)
{
    const char *p = s;
    for (;;) {
        struct tlm__key_spec k;
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        int rc;
        if (len > MAX_ENTRY) {
            snprintf(err, err_size, "%s: a key entry is over %d bytes", what,
                MAX_ENTRY);
            return -1;
        }
        if (parse_entry(p, len, &k, what, err, err_size) != 0) {
            free(k.secret);
            return -1;
        }
        rc = tlm__api_keys_append(c, &k);
        free(k.secret);
        if (rc != 0)
            return -1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

int
tlm__api_keys_set_csv(struct tlm__server_config *c, const char *s,
    const char *what, char *err, size_t err_size)
{
    tlm__api_keys_free(c);
    return tlm__api_keys_append_csv(c, s, what, err, err_size);
}
