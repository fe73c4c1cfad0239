/*
 * privacy.h - the privacy layer's state in a client: the keyed hash that
 * anonymizes ids, sampling decisions, request_details minimization.
 *
 * Sampling functions are called on caller threads and only read; the rest
 * runs on the worker thread.
 */
#ifndef TLM_PRIVACY_H
#define TLM_PRIVACY_H

#include "internal.h"

#include <cjson/cJSON.h>

typedef struct tlm__rate_slot {
    uint64_t hash;
    const char *endpoint; /* borrowed from the client's options */
    double rate;
} tlm__rate_slot;

typedef struct tlm__anon_cache {
    uint64_t hash;
    char in[48];
    char out[33];
} tlm__anon_cache;

#define TLM__ANON_CACHE 2048

typedef struct tlm__custom tlm__custom; /* scrub_custom.c */

typedef struct tlm__privacy {
    void *inner, *outer, *work; /* EVP_MD_CTX: HMAC-SHA256 after the pads */
    uint64_t sample_key; /* keys the by-user sampling hash */
    tlm__rate_slot *rates; /* open addressing; NULL without overrides */
    uint64_t rates_mask;
    tlm__anon_cache *cache; /* worker only */
    tlm__buf scrub; /* worker only: one scrubbed string */
    tlm__buf scrub2; /* worker only: custom patterns' output */
    tlm__buf scrub3;
    tlm__custom *custom; /* the configuration's scrub patterns */
    size_t n_custom;
} tlm__privacy;

/* scrub_custom.c: 0 if `pattern` compiles (else TLM_EINVAL and why). */
int tlm__custom_check(const char *pattern, char *err, size_t n);
int tlm__custom_compile(const tlm_options *o, tlm__custom **out, size_t *n);
void tlm__custom_free(tlm__custom *c, size_t n);
/* `in` with every pattern's matches replaced, into `out`. */
int tlm__custom_apply(const tlm__custom *c, size_t n, const char *in,
    tlm__buf *tmp, tlm__buf *out);

/* Sets up the HMAC key: the salt option, else <state_dir>/salt (made on
 * first use), else random for this process. 0, TLM_ENOMEM or TLM_EIO. */
int tlm__privacy_init(tlm__privacy *p, const tlm_options *o);
void tlm__privacy_destroy(tlm__privacy *p);

/* The anonymized form of `in`: the first 128 bits of HMAC-SHA256(key, in)
 * as 32 lowercase hex characters. Worker thread only. */
const char *tlm__privacy_anonymize(
    tlm__privacy *p, const char *in, char out[33]);

/* The sampling rate of an endpoint (overrides, else the global rate). */
double tlm__privacy_rate(
    const tlm__privacy *p, const tlm_options *o, const char *endpoint);
/* Whether to keep an event sampled at `rate` (< 1). */
bool tlm__privacy_keep(
    const tlm__privacy *p, int mode, double rate, const char *user_id);

/* Removes from a request_details object every key not in the allow-list
 * (comma-separated; NULL: the default) and every key named like a secret,
 * at any depth. */
void tlm__privacy_minimize(cJSON *details, const char *allowlist);

/* Anonymizes user_id/organization_id and minimizes request_details of an
 * event (worker thread). 0, TLM_ENOMEM, or TLM_EINVAL when request_details
 * was not a JSON object (it is then removed). */
int tlm__privacy_apply(tlm__privacy *p, const tlm_options *o, tlm_event *ev);

/* Reads and writes small files of the state directory (0700), atomically.
 * Read: 0 and a NUL-terminated value, TLM_EIO if absent or unreadable. */
int tlm__state_read(const char *dir, const char *name, char *buf, size_t n);
int tlm__state_write(const char *dir, const char *name, const char *value);

#endif
