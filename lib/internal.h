/*
 * internal.h - declarations shared between lib/ files; never installed.
 *
 * Functions here are tlm__<concept>_<verb>. Everything else in lib/ is static
 * to its file. Nothing in here may be used from outside lib/ except tests.
 */
#ifndef TLM_INTERNAL_H
#define TLM_INTERNAL_H

#include "telemetry.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLM__SDK_NAME "libtelemetry"

/* ---- alloc.c: every allocation of the library goes through here -------- */
/* The allocator of the client the current thread works for (NULL: libc).
 * Set for the worker thread's lifetime and around caller-side calls that
 * allocate; see tlm__alloc_enter(). */
typedef struct tlm__alloc_scope {
    const tlm_allocator *prev;
} tlm__alloc_scope;
void tlm__alloc_enter(tlm__alloc_scope *scope, const tlm_allocator *a);
void tlm__alloc_leave(tlm__alloc_scope *scope);
void *tlm__zalloc(void *opaque, unsigned items, unsigned size);
void tlm__zfree(void *opaque, void *p);
void *tlm__malloc(size_t n);
void *tlm__calloc(size_t n, size_t size);
void *tlm__realloc(void *p, size_t n);
void tlm__free(void *p);
char *tlm__strdup(const char *s);
char *tlm__strndup(const char *s, size_t n);

/* ---- options.c ---------------------------------------------------------- */
struct tlm_options {
    char *endpoint;
    char *api_key;
    char *environment;
    char *access_tier;
    char *binding;
    char *ca_bundle;
    uint32_t flush_interval_ms;
    uint32_t max_batch_events;
    size_t max_batch_bytes;
    uint32_t max_queue_events;
    uint32_t shutdown_timeout_ms;
    uint32_t connect_timeout_ms;
    uint32_t transfer_timeout_ms;
    uint32_t max_inflight;
    uint32_t max_retries;
    int compression;
    int enabled;
    tlm_log_fn logger;
    void *logger_data;
    tlm_before_send_fn before_send;
    void *before_send_data;
    tlm_allocator allocator; /* .malloc_fn NULL: the C library */
    /* privacy (privacy_options.c) */
    char *anon_salt;
    int anonymize;
    int scrub;
    char *details_allowlist; /* comma-separated; NULL: the default */
    double sampling_rate;
    int sampling_mode;
    struct tlm__override *overrides;
    uint32_t n_overrides;
    char *state_dir;
    int require_consent;
    /* spool (spool_options.c) */
    char *spool_dir;
    uint64_t spool_max_bytes; /* 0: the spool's default */
    int spool_fsync; /* TLM_FSYNC_* */
    struct tlm__pattern *patterns; /* custom scrub patterns */
    uint32_t n_patterns;
    /* errors (error.c) */
    double error_sampling_rate;
    uint32_t max_stack_frames;
    uint32_t max_stack_bytes;
    char last_error[256];
    char *warnings; /* owned, "" when none */
};

typedef struct tlm__override {
    char *endpoint;
    double rate;
} tlm__override;

typedef struct tlm__pattern {
    char *name;
    char *pattern;
} tlm__pattern;

int tlm__options_copy(tlm_options *dst, const tlm_options *src);
/* privacy_options.c: the privacy fields' share of copy and clear. */
int tlm__privacy_options_copy(tlm_options *dst, const tlm_options *src);
void tlm__privacy_options_clear(tlm_options *o);
/* options.c: a string option's checks and copy (NULL allowed or not). */
int tlm__options_set_string(tlm_options *o, char **field, const char *name,
    const char *v, bool allow_null);
void tlm__options_clear(tlm_options *opts);
void tlm__options_init(tlm_options *opts);
void tlm__options_seterr(tlm_options *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- log.c -------------------------------------------------------------- */
void tlm__log(tlm_log_fn fn, void *data, tlm_log_level level, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* ---- clock.c ------------------------------------------------------------ */
int64_t tlm__now_realtime_ms(void);
uint64_t tlm__now_mono_ms(void);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) into buf[25]. */
void tlm__format_rfc3339(int64_t ms, char buf[25]);

/* ---- rand.c: PRNG and UUIDv7 (no system call per id) ------------------- */
typedef struct tlm__rng {
    uint64_t s[4];
} tlm__rng;
void tlm__rng_seed(tlm__rng *rng);
uint64_t tlm__rng_next(tlm__rng *rng);
/* Uniform double in [0, 1). */
double tlm__rng_double(tlm__rng *rng);
/* Canonical 36-char text of a UUIDv7 for `unix_ms`, NUL-terminated. */
void tlm__uuid7(tlm__rng *rng, int64_t unix_ms, char out[37]);
void tlm__uuid4(tlm__rng *rng, char out[37]);

/* ---- queue.c: bounded lock-free MPSC queue of event slots -------------- */
enum {
    TLM__FIELD_ENDPOINT = 0,
    TLM__FIELD_METHOD,
    TLM__FIELD_USER_ID,
    TLM__FIELD_ORG_ID,
    TLM__FIELD_TIER,
    TLM__FIELD_DETAILS,
    TLM__NFIELDS
};

/* A slot is 256 bytes: typical events (~150 bytes of strings) fit inline;
 * larger ones spill into one allocation. */
#define TLM__SLOT_INLINE 192

enum { TLM__EV_REQUEST = 1, TLM__EV_ERROR = 2 };

/* tlm__slot.flags */
#define TLM__SLOT_LINKED 1u /* a request whose error follows (error.c) */

typedef struct tlm__slot {
    uint8_t type;
    uint8_t flags;
    int32_t status;
    float sample_rate; /* the rate it was kept at */
    int64_t ts_ms;
    double response_time_ms;
    uint32_t len[TLM__NFIELDS]; /* UINT32_MAX: absent */
    char *overflow; /* strings when they don't fit inline */
    char data[TLM__SLOT_INLINE];
} tlm__slot;

/* Sequence numbers live apart from the slots so that creating a large queue
 * touches only 8 bytes per slot; slot pages are touched when first used. */
/* head (written by producers) and tail (by the worker) are kept 64 bytes
 * apart with padding, not _Alignas: the client holding this queue comes
 * from malloc or a user allocator, which only promise 16-byte alignment. */
typedef struct tlm__queue {
    _Atomic uint64_t head; /* next position to claim */
    char pad1[64 - sizeof(uint64_t)];
    uint64_t tail; /* next position to read (worker) */
    char pad2[64 - sizeof(uint64_t)];
    uint64_t mask;
    _Atomic uint64_t *seq;
    tlm__slot *slots;
} tlm__queue;

int tlm__queue_init(tlm__queue *q, uint32_t capacity);
void tlm__queue_destroy(tlm__queue *q);
/* Claims a slot; NULL when full. Fill it, then tlm__queue_publish(). */
tlm__slot *tlm__queue_claim(tlm__queue *q, uint64_t *pos);
void tlm__queue_publish(tlm__queue *q, tlm__slot *slot, uint64_t pos);
/* Worker side: the next published slot, or NULL. */
tlm__slot *tlm__queue_peek(tlm__queue *q);
/* Worker side: releases the slot returned by tlm__queue_peek(). */
void tlm__queue_pop(tlm__queue *q, tlm__slot *slot);
uint64_t tlm__queue_depth(const tlm__queue *q);
/* Pointer to field `f` of a slot, NULL if absent. */
const char *tlm__slot_field(const tlm__slot *slot, int f);

/* ---- error.c: error events ---------------------------------------------- */
struct tlm__buf;
/* An error event's own strings follow the common fields in the slot's
 * overflow block; their lengths live in the otherwise unused inline data
 * (tlm__error_meta). */
enum {
    TLM__EFIELD_CODE = 0,
    TLM__EFIELD_MESSAGE,
    TLM__EFIELD_STACK,
    TLM__EFIELD_IMPACT,
    TLM__EFIELD_FINGERPRINT, /* parts separated by NULs */
    TLM__NEFIELDS
};
/* Caps: pending errors per client (TLM_EFULL beyond), message and
 * fingerprint sizes, stack trace defaults. */
#define TLM__ERR_MAX_PENDING 1024
#define TLM__ERR_MAX_PENDING_BYTES (4u << 20)
#define TLM__ERR_MAX_MESSAGE 8192
#define TLM__ERR_MAX_CODE 256
#define TLM__ERR_MAX_ENDPOINT 1024
#define TLM__ERR_MAX_DETAILS (64u << 10)
#define TLM__ERR_MAX_FP_PARTS 8
#define TLM__ERR_MAX_FP_BYTES 256
#define TLM__ERR_STACK_FRAMES 64
#define TLM__ERR_STACK_BYTES (16u << 10)

/* Sanitizes a stack trace (pure, any thread): at most max_frames non-empty
 * lines and max_bytes bytes, code addresses and +0x offsets removed, the
 * home directory `home` (NULL: $HOME is not consulted) and /home/<user>,
 * /Users/<user>, /root made "~", other absolute paths cut to their
 * basename. Appends to `out` (NUL-terminated); false if out of memory. */
bool tlm__stack_sanitize(const char *in, size_t n, uint32_t max_frames,
    size_t max_bytes, const char *home, struct tlm__buf *out);
/* The length of s[0..n) cut to at most `max` bytes at a UTF-8 boundary. */
size_t tlm__utf8_cut(const char *s, size_t n, size_t max);

/* ---- event.c: the before-send view of an event ------------------------- */
struct tlm_event {
    uint8_t type;
    char id[37];
    int64_t ts_ms;
    int32_t status;
    double response_time_ms;
    double sample_rate;
    const char *environment;
    const char *field[TLM__NFIELDS];
    char *owned[TLM__NFIELDS];
    char anon[2][33]; /* anonymized user_id and organization_id */
    bool details_verbatim; /* request_details is already compact JSON */
    /* Error events only (error.c): the fields below, fingerprint parts
     * separated by NULs, and the joined request's id ("" if none). */
    const char *efield[TLM__NEFIELDS];
    char *eowned[TLM__NEFIELDS];
    uint32_t efield_len[TLM__NEFIELDS]; /* of fingerprint: all its parts */
    uint32_t n_fingerprint;
    char request_id[37];
};
void tlm__event_from_slot(tlm_event *ev, const tlm__slot *slot);
void tlm__event_clear(tlm_event *ev);

/* ---- encode.c: JSON and gzip ------------------------------------------- */
typedef struct tlm__buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; contents are incomplete */
} tlm__buf;
/* Makes room for `extra` more bytes (and a NUL); false if out of memory,
 * without marking the buffer failed. */
bool tlm__buf_reserve(tlm__buf *b, size_t extra);
void tlm__buf_append(tlm__buf *b, const char *s, size_t n);
void tlm__buf_puts(tlm__buf *b, const char *s);
void tlm__buf_json_string(tlm__buf *b, const char *s, size_t n);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid: no
 * overlong forms, surrogates or code points above U+10FFFF. */
size_t tlm__utf8_seq_len(const unsigned char *s, size_t n);
void tlm__buf_printf(tlm__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tlm__buf_free(tlm__buf *b);
/* Appends one event as a JSON object. `client_info` is a JSON object text.
 * Returns 0, or TLM_EINVAL if request_details is not a JSON object (it is
 * then left out and the event still written). */
int tlm__encode_event(
    tlm__buf *b, const tlm_event *ev, const char *client_info);
/* gzip of `in` into *out (allocated). 0 or TLM_ENOMEM. */
int tlm__gzip(const char *in, size_t n, int level, char **out, size_t *out_len);

/* ---- backoff.c ---------------------------------------------------------- */
#define TLM__BACKOFF_BASE_MS 500
#define TLM__BACKOFF_CAP_MS 60000
/* Delay before retry number `attempt` (1-based): full jitter in
 * [0, min(cap, base * 2^(attempt-1))], raised to `retry_after_s` * 1000 when
 * the server sent Retry-After (capped at one hour). `u` in [0, 1). */
uint64_t tlm__backoff_delay_ms(uint32_t attempt, double u, long retry_after_s);
/* What to do with an HTTP outcome. */
typedef enum tlm__outcome {
    TLM__OUT_OK = 0,
    TLM__OUT_RETRY,
    TLM__OUT_SPLIT,
    TLM__OUT_DROP
} tlm__outcome;
tlm__outcome tlm__backoff_classify(int curl_ok, long http_status);

#endif /* TLM_INTERNAL_H */
