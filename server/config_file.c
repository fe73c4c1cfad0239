/* Reads the seed's JSON configuration document for the server: sections
 * other than `server` belong to other components and are only checked for
 * being known. Owns nothing past the call; files over 1 MiB are refused. */
#include "config_file.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG_FILE (1024 * 1024)

static const char *const known_sections[] = {
    "telemetry",
    "feedback",
    "error_tracking",
    "feature_requests",
    "analytics",
    "server",
};

static int
read_file(const char *path, char **out, size_t *len, char *err, size_t n)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    int rc = -1;
    *out = NULL;
    if (f == NULL) {
        snprintf(err, n, "--config: cannot open %s", path);
        goto out;
    }
    buf = malloc(MAX_CONFIG_FILE + 1);
    if (buf == NULL)
        goto out;
    *len = fread(buf, 1, MAX_CONFIG_FILE + 1, f);
    if (ferror(f) || *len > MAX_CONFIG_FILE) {
        snprintf(
            err, n, "--config: cannot read %s (or larger than 1 MiB)", path);
        goto out;
    }
    buf[*len] = '\0';
    *out = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}

static bool
section_known(const char *name)
{
    for (size_t i = 0; i < sizeof(known_sections) / sizeof(known_sections[0]);
         i++) {
        if (strcmp(name, known_sections[i]) == 0)
            return true;
    }
    return false;
}

static int
bad_key(char *err, size_t n, const char *key, const char *expect)
{
    snprintf(err, n, "config: server.%s: expected %s", key, expect);
    return -1;
}

/* One element of server.api_keys: a string in the flag syntax, or an
 * object {"key" | "sha256", "organization", "access_tier", "environment"}
 * (sha256: the hex digest of the secret, so the file need not hold it). */
static int
apply_key_object(
    struct tlm__server_config *c, const cJSON *o, char *err, size_t n)
{
    static const char *const attrs[]
        = {"organization", "access_tier", "tier", "environment"};
    struct tlm__key_spec k;
    const cJSON *it;
    const char *what = "config: server.api_keys";
    int rc;
    memset(&k, 0, sizeof(k));
    cJSON_ArrayForEach(it, o)
    {
        bool known = strcmp(it->string, "key") == 0
            || strcmp(it->string, "sha256") == 0;
        for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
            known |= strcmp(it->string, attrs[i]) == 0;
        if (!known || !cJSON_IsString(it)) {
            snprintf(err, n,
                "%s: key objects have string members key or sha256, "
                "organization, access_tier, environment (got \"%.32s\")",
                what, it->string);
            return -1;
        }
        if (strcmp(it->string, "key") == 0 || strcmp(it->string, "sha256") == 0)
            continue;
        if (tlm__key_spec_set(&k, it->string, it->valuestring,
                strlen(it->valuestring), what, err, n)
            != 0)
            return -1;
    }
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(o, "sha256");
    if ((key == NULL) == (hash == NULL))
        return bad_key(err, n, "api_keys", "objects with key or sha256");
    if (key != NULL) {
        size_t len = strlen(key->valuestring);
        if (!tlm__secret_valid(key->valuestring, len))
            return bad_key(err, n, "api_keys",
                "keys of 1..512 printable characters without spaces, "
                "commas or ';'");
        k.secret = key->valuestring;
        SHA256((const unsigned char *)k.secret, len, k.sha256);
    } else if (tlm__sha256_from_hex(hash->valuestring, k.sha256) != 0) {
        return bad_key(err, n, "api_keys", "sha256 as 64 hex digits");
    }
    rc = tlm__api_keys_append(c, &k);
    return rc;
}

static int
apply_keys(struct tlm__server_config *c, const cJSON *arr, char *err, size_t n)
{
    const cJSON *it;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return bad_key(err, n, "api_keys", "non-empty array of keys");
    tlm__api_keys_free(c);
    cJSON_ArrayForEach(it, arr)
    {
        int rc;
        if (cJSON_IsString(it))
            rc = tlm__api_keys_append_csv(
                c, it->valuestring, "config: server.api_keys", err, n);
        else if (cJSON_IsObject(it))
            rc = apply_key_object(c, it, err, n);
        else
            return bad_key(err, n, "api_keys", "non-empty array of keys");
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int
apply_size(size_t *dst, const cJSON *v, const char *key, char *err, size_t n)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 1
        || v->valuedouble > 1073741824.0
        || v->valuedouble != (double)(size_t)v->valuedouble)
        return bad_key(err, n, key, "integer 1..1073741824");
    *dst = (size_t)v->valuedouble;
    return 0;
}

static int
apply_db(struct tlm__server_config *c, const cJSON *v, char *err, size_t n)
{
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
        return bad_key(err, n, "db", "string such as sqlite:PATH");
    char *copy = strdup(v->valuestring);
    if (copy == NULL)
        return -1;
    free(c->db_url);
    c->db_url = copy;
    return 0;
}

/* A numeric operations option (config.h); 1 when k is not one. */
static int
apply_num(struct tlm__server_config *c, const cJSON *v, const char *k,
    char *err, size_t n)
{
    char range[64];
    for (int i = 0; i < TLM_NUM_OPTS; i++) {
        const struct tlm__num_option *o = &tlm__num_options[i];
        if (strcmp(k, o->key) != 0)
            continue;
        if (!cJSON_IsNumber(v) || v->valuedouble < (double)o->min
            || v->valuedouble > (double)o->max
            || v->valuedouble != (double)(unsigned long)v->valuedouble) {
            snprintf(range, sizeof(range), "integer %lu..%lu", o->min, o->max);
            return bad_key(err, n, k, range);
        }
        tlm__num_option_store(
            c, (enum tlm__num_opt)i, (unsigned long)v->valuedouble);
        return 0;
    }
    return 1;
}

/* "rate_limits": {"TIER": {"events_per_second": N, "burst": N}, ...} */
static int
apply_rates(struct tlm__server_config *c, const cJSON *v, char *err, size_t n)
{
    const cJSON *tier;
    char what[128];
    if (!cJSON_IsObject(v))
        return bad_key(err, n, "rate_limits", "object of tiers");
    cJSON_ArrayForEach(tier, v)
    {
        const cJSON *eps
            = cJSON_GetObjectItemCaseSensitive(tier, "events_per_second");
        const cJSON *burst = cJSON_GetObjectItemCaseSensitive(tier, "burst");
        snprintf(what, sizeof(what), "config: server.rate_limits.%.63s",
            tier->string);
        if (!cJSON_IsObject(tier) || !cJSON_IsNumber(eps)
            || (burst != NULL && !cJSON_IsNumber(burst))) {
            snprintf(err, n,
                "%s: expected {\"events_per_second\": N, \"burst\": N}", what);
            return -1;
        }
        if (tlm__rate_tier_set(c, tier->string, eps->valuedouble,
                burst != NULL ? burst->valuedouble : eps->valuedouble, what,
                err, n)
            != 0)
            return -1;
    }
    return 0;
}

static int
apply_log(struct tlm__server_config *c, const cJSON *v, const char *k,
    char *err, size_t n)
{
    if (strcmp(k, "log_level") == 0) {
        if (!cJSON_IsString(v)
            || tlm__log_level_parse(v->valuestring, &c->log_level) != 0)
            return bad_key(
                err, n, k, "\"debug\", \"info\", \"warn\" or \"error\"");
        return 0;
    }
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
        return bad_key(err, n, k, "non-empty string (a file path)");
    char *copy = strdup(v->valuestring);
    if (copy == NULL)
        return -1;
    free(c->log_file);
    c->log_file = copy;
    return 0;
}

static int
apply_server_key(struct tlm__server_config *c, const cJSON *v, const char *path,
    char *err, size_t n)
{
    const char *k = v->string;
    if (strcmp(k, "listen") == 0) {
        if (!cJSON_IsString(v)
            || tlm__listen_parse(
                   v->valuestring, c->host, sizeof(c->host), &c->port)
                != 0)
            return bad_key(err, n, k, "string HOST:PORT");
        return 0;
    }
    if (strcmp(k, "db") == 0)
        return apply_db(c, v, err, n);
    if (strcmp(k, "api_keys") == 0)
        return apply_keys(c, v, err, n);
    if (strcmp(k, "admin_token") == 0) {
        if (!cJSON_IsString(v))
            return bad_key(err, n, k, "string");
        return tlm__admin_token_set(
            c, v->valuestring, "config: server.admin_token", err, n);
    }
    if (strcmp(k, "max_body_bytes") == 0)
        return apply_size(&c->max_body_bytes, v, k, err, n);
    if (strcmp(k, "max_inflated_bytes") == 0)
        return apply_size(&c->max_inflated_bytes, v, k, err, n);
    if (strcmp(k, "rate_limits") == 0)
        return apply_rates(c, v, err, n);
    if (strcmp(k, "log_file") == 0 || strcmp(k, "log_level") == 0)
        return apply_log(c, v, k, err, n);
    int rc = apply_num(c, v, k, err, n);
    if (rc <= 0)
        return rc;
    fprintf(stderr, "telemetry-server: %s: unknown key server.%s (ignored)\n",
        path, k);
    return 0;
}

static int
apply_doc(struct tlm__server_config *c, const cJSON *root, const char *path,
    char *err, size_t n)
{
    const cJSON *sec;
    const cJSON *v;
    if (!cJSON_IsObject(root)) {
        snprintf(err, n, "config: %s: expected a JSON object", path);
        return -1;
    }
    cJSON_ArrayForEach(sec, root)
    {
        if (!section_known(sec->string))
            fprintf(stderr,
                "telemetry-server: %s: unknown section %s (ignored)\n", path,
                sec->string);
    }
    if (tlm__feedback_config_apply(&c->feedback, root, path, err, n) != 0
        || tlm__config_errors_apply(&c->alerts, root, path, err, n) != 0
        || tlm__analytics_config_apply(&c->analytics, root, path, err, n) != 0)
        return -1;
    /* analytics.retention_period_days is the seed's name for
     * server.retention_days: the server section's key, applied after it,
     * wins (and --retention-days over both). */
    if (c->analytics.retention_set)
        c->retention_days = c->analytics.retention_period_days;
    c->analytics.deliver = c->feedback.webhook_url != NULL;
    sec = cJSON_GetObjectItemCaseSensitive(root, "server");
    if (sec == NULL)
        return 0;
    if (!cJSON_IsObject(sec)) {
        snprintf(err, n, "config: server: expected object");
        return -1;
    }
    cJSON_ArrayForEach(v, sec)
    {
        if (apply_server_key(c, v, path, err, n) != 0)
            return -1;
    }
    if (c->analytics.retention_set
        && c->retention_days != c->analytics.retention_period_days)
        fprintf(stderr,
            "telemetry-server: %s: server.retention_days (%lu) overrides "
            "analytics.retention_period_days (%lu)\n",
            path, c->retention_days, c->analytics.retention_period_days);
    return 0;
}

int
tlm__config_file_apply(
    struct tlm__server_config *c, const char *path, char *err, size_t err_size)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    int rc = -1;
    if (read_file(path, &text, &len, err, err_size) != 0)
        goto out;
    root = cJSON_ParseWithLength(text, len);
    if (root == NULL) {
        snprintf(err, err_size, "config: %s: malformed JSON", path);
        goto out;
    }
    rc = apply_doc(c, root, path, err, err_size);
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}
