/*
 * privacy.c - anonymization (HMAC-SHA256 via OpenSSL's libcrypto), sampling
 * decisions and request_details minimization, plus the state directory.
 *
 * Sampling runs on caller threads: read-only, no allocation, no lock. The
 * HMAC contexts and the cache belong to the worker thread.
 */
#include "privacy.h"
#include "scrub.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SALT_FILE "salt"

static uint64_t
mix(uint64_t h)
{
    /* splitmix64 finalizer: FNV's low bits are weak. */
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static uint64_t
fnv1a_n(const unsigned char *s, size_t n, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return mix(h);
}

static uint64_t
fnv1a(const char *s, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    /* splitmix64 finalizer: FNV's low bits are weak. */
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static int
hmac_setup(tlm__privacy *p, const unsigned char *key, size_t len)
{
    unsigned char k[64] = {0}, pad[64];
    unsigned int klen = 0;
    int i, ok;

    if (len > sizeof(k)) {
        if (!EVP_Digest(key, len, k, &klen, EVP_sha256(), NULL))
            return TLM_ENOMEM;
    } else {
        memcpy(k, key, len);
    }
    p->inner = EVP_MD_CTX_new();
    p->outer = EVP_MD_CTX_new();
    p->work = EVP_MD_CTX_new();
    if (!p->inner || !p->outer || !p->work)
        return TLM_ENOMEM;
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    ok = EVP_DigestInit_ex(p->inner, EVP_sha256(), NULL)
        && EVP_DigestUpdate(p->inner, pad, 64);
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(p->outer, EVP_sha256(), NULL)
        && EVP_DigestUpdate(p->outer, pad, 64);
    /* The by-user sampling hash is keyed by the same secret. */
    p->sample_key = fnv1a_n(k, sizeof(k), 0x5a17);
    memset(k, 0, sizeof(k));
    return ok ? 0 : TLM_ENOMEM;
}

static void
to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The per-install salt: read it, or make it once (a racing process may win:
 * then read what it wrote). */
static int
state_salt(const char *dir, char salt[65])
{
    unsigned char raw[32];

    if (tlm__state_read(dir, SALT_FILE, salt, 65) == 0 && strlen(salt) == 64)
        return 0;
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return TLM_EIO;
    to_hex(raw, sizeof(raw), salt);
    if (tlm__state_write(dir, SALT_FILE, salt) != 0)
        return TLM_EIO;
    return tlm__state_read(dir, SALT_FILE, salt, 65);
}

static int
rates_init(tlm__privacy *p, const tlm_options *o)
{
    uint64_t size = 8, i, h;
    uint32_t k;

    if (o->n_overrides == 0)
        return 0;
    while (size < 2 * (uint64_t)o->n_overrides)
        size <<= 1;
    p->rates = tlm__calloc(size, sizeof(*p->rates));
    if (p->rates == NULL)
        return TLM_ENOMEM;
    p->rates_mask = size - 1;
    for (k = 0; k < o->n_overrides; k++) {
        h = fnv1a(o->overrides[k].endpoint, 0);
        for (i = h & p->rates_mask; p->rates[i].endpoint != NULL;
             i = (i + 1) & p->rates_mask)
            ;
        p->rates[i].hash = h;
        p->rates[i].endpoint = o->overrides[k].endpoint;
        p->rates[i].rate = o->overrides[k].rate;
    }
    return 0;
}

int
tlm__privacy_init(tlm__privacy *p, const tlm_options *o)
{
    char salt[65];
    const char *key = o->anon_salt;
    unsigned char raw[32];
    int rc;

    memset(p, 0, sizeof(*p));
    if (key == NULL && o->state_dir != NULL) {
        rc = state_salt(o->state_dir, salt);
        if (rc != 0)
            return rc;
        key = salt;
    }
    if (key != NULL) {
        rc = hmac_setup(p, (const unsigned char *)key, strlen(key));
    } else {
        /* Never a plain unsalted hash: a salt for this process. */
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
            return TLM_EIO;
        rc = hmac_setup(p, raw, sizeof(raw));
    }
    if (rc == 0)
        rc = rates_init(p, o);
    if (rc == 0) {
        p->cache = tlm__calloc(TLM__ANON_CACHE, sizeof(*p->cache));
        rc = p->cache ? 0 : TLM_ENOMEM;
    }
    if (rc == 0 && o->scrub)
        rc = tlm__custom_compile(o, &p->custom, &p->n_custom);
    return rc;
}

void
tlm__privacy_destroy(tlm__privacy *p)
{
    EVP_MD_CTX_free(p->inner);
    EVP_MD_CTX_free(p->outer);
    EVP_MD_CTX_free(p->work);
    tlm__free(p->rates);
    tlm__free(p->cache);
    tlm__buf_free(&p->scrub);
    tlm__buf_free(&p->scrub2);
    tlm__buf_free(&p->scrub3);
    tlm__custom_free(p->custom, p->n_custom);
    memset(p, 0, sizeof(*p));
}

const char *
tlm__privacy_anonymize(tlm__privacy *p, const char *in, char out[33])
{
    unsigned char ih[32], mac[32];
    uint64_t h = fnv1a(in, 0);
    tlm__anon_cache *e = &p->cache[h % TLM__ANON_CACHE];
    size_t n = strlen(in);

    /* Users repeat: most ids are answered from the cache. */
    if (e->hash == h && e->out[0] != '\0' && strcmp(e->in, in) == 0) {
        memcpy(out, e->out, 33);
        return out;
    }
    if (!EVP_MD_CTX_copy_ex(p->work, p->inner)
        || !EVP_DigestUpdate(p->work, in, n)
        || !EVP_DigestFinal_ex(p->work, ih, NULL)
        || !EVP_MD_CTX_copy_ex(p->work, p->outer)
        || !EVP_DigestUpdate(p->work, ih, sizeof(ih))
        || !EVP_DigestFinal_ex(p->work, mac, NULL))
        return NULL; /* the caller leaves the field out: never the raw id */
    to_hex(mac, 16, out);
    if (n < sizeof(e->in)) {
        e->hash = h;
        memcpy(e->in, in, n + 1);
        memcpy(e->out, out, 33);
    }
    return out;
}

double
tlm__privacy_rate(
    const tlm__privacy *p, const tlm_options *o, const char *endpoint)
{
    uint64_t h, i;

    if (p->rates == NULL)
        return o->sampling_rate;
    h = fnv1a(endpoint, 0);
    for (i = h & p->rates_mask; p->rates[i].endpoint != NULL;
         i = (i + 1) & p->rates_mask)
        if (p->rates[i].hash == h
            && strcmp(p->rates[i].endpoint, endpoint) == 0)
            return p->rates[i].rate;
    return o->sampling_rate;
}

static uint64_t
thread_random(void)
{
    static _Thread_local uint64_t x;
    struct timespec ts;

    if (x == 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = fnv1a("", (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&x) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

bool
tlm__privacy_keep(
    const tlm__privacy *p, int mode, double rate, const char *user_id)
{
    uint64_t r;

    if (mode == TLM_SAMPLE_BY_USER && user_id != NULL)
        r = fnv1a(user_id, p->sample_key);
    else
        r = thread_random();
    /* Compare the top 53 bits as a fraction in [0, 1). */
    return (double)(r >> 11) * 0x1.0p-53 < rate;
}

/* The built-in result in p->scrub, then the custom patterns: returns the
 * final text (borrowed from p), or NULL when out of memory. */
static const char *
finish_scrub(tlm__privacy *p)
{
    const char *s = p->scrub.data ? p->scrub.data : "";

    if (p->n_custom == 0)
        return s;
    if (tlm__custom_apply(p->custom, p->n_custom, s, &p->scrub3, &p->scrub2)
        != 0)
        return NULL;
    return p->scrub2.data ? p->scrub2.data : "";
}

/* Every string value below `node`, scrubbed in place. */
static int
scrub_values(tlm__privacy *p, cJSON *node)
{
    const char *out;
    cJSON *item;
    int rc;

    cJSON_ArrayForEach(item, node)
    {
        if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
            rc = scrub_values(p, item);
            if (rc != 0)
                return rc;
            continue;
        }
        if (!cJSON_IsString(item))
            continue;
        p->scrub.len = 0;
        p->scrub.failed = false;
        rc = tlm__scrub_string(item->valuestring, strlen(item->valuestring),
            TLM__SCRUB_ALL, &p->scrub, NULL);
        if (rc != 0)
            return rc;
        out = finish_scrub(p);
        if (out == NULL)
            return TLM_ENOMEM;
        if (strcmp(out, item->valuestring) != 0
            && cJSON_SetValuestring(item, out) == NULL)
            return TLM_ENOMEM;
    }
    return 0;
}

/* The endpoint with ids templated, query values and PII removed. */
static int
scrub_endpoint(tlm__privacy *p, tlm_event *ev)
{
    const char *in = ev->field[TLM__FIELD_ENDPOINT], *out;
    int rc;

    if (in == NULL)
        return 0; /* optional in error events */
    p->scrub.len = 0;
    p->scrub.failed = false;
    rc = tlm__scrub_path(in, strlen(in), TLM__SCRUB_ALL, &p->scrub, NULL);
    if (rc != 0)
        return rc;
    out = finish_scrub(p);
    if (out == NULL)
        return TLM_ENOMEM;
    if (strcmp(out, in) == 0)
        return 0;
    /* An endpoint scrubbed to nothing keeps a placeholder: it is required. */
    return tlm_event_set_string(ev, "endpoint", out[0] ? out : "[scrubbed]");
}

/* request_details: parsed, minimized, scrubbed, printed compactly once. A
 * value that is not a JSON object is removed (logged by the caller). */
static int
apply_details(tlm__privacy *p, const tlm_options *o, tlm_event *ev)
{
    const char *text = ev->field[TLM__FIELD_DETAILS];
    cJSON *obj;
    char *printed;
    int rc = 0;

    if (text == NULL)
        return 0;
    obj = cJSON_ParseWithLength(text, strlen(text));
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return TLM_EINVAL;
    }
    tlm__privacy_minimize(obj, o->details_allowlist);
    rc = o->scrub ? scrub_values(p, obj) : 0;
    if (rc != 0) {
        cJSON_Delete(obj);
        return rc;
    }
    printed = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (printed == NULL)
        return TLM_ENOMEM;
    rc = tlm_event_set_string(ev, "request_details", printed);
    cJSON_free(printed);
    if (rc == 0)
        ev->details_verbatim = true;
    return rc;
}

int
tlm__privacy_apply(tlm__privacy *p, const tlm_options *o, tlm_event *ev)
{
    static const int ids[2] = {TLM__FIELD_USER_ID, TLM__FIELD_ORG_ID};
    int i, rc;

    for (i = 0; o->anonymize && i < 2; i++) {
        if (ev->field[ids[i]] == NULL)
            continue;
        /* On failure the id is left out, never sent raw. */
        ev->field[ids[i]]
            = tlm__privacy_anonymize(p, ev->field[ids[i]], ev->anon[i]);
    }
    if (o->scrub) {
        rc = scrub_endpoint(p, ev);
        if (rc != 0)
            return rc;
    }
    rc = apply_details(p, o, ev);
    if (rc == TLM_EINVAL) {
        ev->field[TLM__FIELD_DETAILS] = NULL;
        return TLM_EINVAL;
    }
    return rc;
}
