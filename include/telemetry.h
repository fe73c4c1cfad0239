/*
 * telemetry.h - the whole public API of libtelemetry.
 *
 * libtelemetry reports how developers use an API (request telemetry, errors,
 * feedback) from inside an API client library to a telemetry-server. What is
 * not declared here is not API. This header compiles as C99 and C++.
 *
 * Defaults that every function follows unless its comment says otherwise:
 *  - Errors: functions that can fail return 0 or a negative TLM_E* code;
 *    tlm_strerror() describes it. Nothing aborts or exits the host.
 *  - Ownership: strings passed in are copied; strings returned as
 *    `const char *` are borrowed from their parent object and live as long
 *    as it does. *_free(NULL) is a no-op.
 *  - Thread safety: an options object is used by one thread at a time. A
 *    client is safe from any thread: the tlm_track_* family, tlm_client_flush
 *    and tlm_client_stats may run concurrently. Callbacks run on the client's
 *    worker thread with no internal lock held.
 */
#ifndef TELEMETRY_H
#define TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#if defined(TLM_BUILDING)
#define TLM_API __declspec(dllexport)
#else
#define TLM_API
#endif
#elif defined(__GNUC__)
#define TLM_API __attribute__((visibility("default")))
#else
#define TLM_API
#endif

#if defined(__GNUC__)
#define TLM_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define TLM_WARN_UNUSED
#endif

/** Version of this header. tlm_version() gives the library's. Since 0.1.0. */
#define TLM_VERSION_MAJOR 0
#define TLM_VERSION_MINOR 1
#define TLM_VERSION_PATCH 0
#define TLM_VERSION_STRING "0.1.0"
/** (major << 16) | (minor << 8) | patch, comparable as a number. */
#define TLM_VERSION_NUM                                                        \
    ((TLM_VERSION_MAJOR << 16) | (TLM_VERSION_MINOR << 8) | TLM_VERSION_PATCH)

/**
 * The library's version string, e.g. "0.1.0". Never NULL; static storage.
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API const char *tlm_version(void);

/** tlm_version() as TLM_VERSION_NUM would encode it. Since 0.1.0. */
TLM_API unsigned int tlm_version_num(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/**
 * Error codes. Append-only: a value never changes meaning. Since 0.1.0.
 */
typedef enum tlm_error {
    TLM_OK = 0,
    TLM_EINVAL = -1, /**< an argument is NULL, empty or out of range */
    TLM_ENOMEM = -2, /**< an allocation failed; nothing was changed */
    TLM_EFULL = -3, /**< the queue is full; the event was dropped */
    TLM_ECLOSED = -4, /**< the client is closed */
    TLM_ECONFIG = -5, /**< a configuration value or document is invalid */
    TLM_EIO = -6, /**< a file could not be read or written */
    TLM_ETIMEDOUT = -7, /**< the deadline passed before the work was done */
    TLM_EDISABLED = -8, /**< telemetry is switched off (opt-out) */
    TLM_ETHREAD = -9, /**< the worker thread could not be started */
    TLM_ETRANSPORT = -10, /**< the HTTP transport could not be set up */
    /** The server refused the request with a 4xx (see tlm_response.status
     * and .body for its reason); resending it would fail the same way.
     * Since 0.1.0. */
    TLM_EREJECTED = -11,
    /** The server stayed unreachable or kept failing (network errors, 5xx,
     * 429) until the request's retries ran out. Since 0.1.0. */
    TLM_EUNAVAILABLE = -12
} tlm_error;

/**
 * A static, human-readable description of an error code. Never NULL, also
 * for unknown codes. Thread safety: any thread. Since 0.1.0.
 */
TLM_API const char *tlm_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

/** Opaque configuration for a client. Since 0.1.0. */
typedef struct tlm_options tlm_options;

/** Log levels passed to a tlm_log_fn. Since 0.1.0. */
typedef enum tlm_log_level {
    TLM_LOG_DEBUG = 0,
    TLM_LOG_INFO = 1,
    TLM_LOG_WARN = 2,
    TLM_LOG_ERROR = 3
} tlm_log_level;

/**
 * Receives the library's log lines. `message` is borrowed for the call.
 * Runs on the thread that logs (usually the worker) with no lock held.
 */
typedef void (*tlm_log_fn)(
    tlm_log_level level, const char *message, void *userdata);

/** One event as the before-send hook sees it. Opaque. Since 0.1.0. */
typedef struct tlm_event tlm_event;

/** What a before-send hook decides. Since 0.1.0. */
typedef enum tlm_hook_result {
    TLM_HOOK_KEEP = 0, /**< send the event (possibly modified) */
    TLM_HOOK_DROP = 1 /**< drop it; counted as dropped_before_send */
} tlm_hook_result;

/**
 * Called on the worker thread for every event just before it is serialized;
 * may read and modify it with tlm_event_get_* / tlm_event_set_string.
 */
typedef tlm_hook_result (*tlm_before_send_fn)(tlm_event *event, void *userdata);

/**
 * A new options object with the defaults: endpoint
 * "http://127.0.0.1:8080", flush every 1000 ms, batches of at most 500
 * events or 512 KiB, a queue of 131072 events (256 bytes each, touched only
 * as used: a 100k-event burst fits without loss), shutdown timeout 2000 ms,
 * environment "production", connect timeout 5000 ms, transfer timeout
 * 30000 ms, at most 4 requests in flight, 20 retries per batch.
 * Returns NULL if out of memory.
 * Ownership: the caller's; release with tlm_options_free(). Since 0.1.0.
 */
TLM_API tlm_options *tlm_options_new(void);

/** Releases an options object. NULL is a no-op. Since 0.1.0. */
TLM_API void tlm_options_free(tlm_options *opts);

/**
 * Typed setters. Each returns 0, TLM_EINVAL for a NULL object or a value out
 * of range (the object is then unchanged), or TLM_ENOMEM. Strings are copied.
 * Since 0.1.0.
 */
/** Base URL of the telemetry-server, "http://host:port" or "https://...". */
TLM_API TLM_WARN_UNUSED int tlm_options_set_endpoint(
    tlm_options *opts, const char *url);
/** Ingestion API key sent as `Authorization: Bearer <key>`. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_api_key(
    tlm_options *opts, const char *key);
/** Flush period in ms, 10 .. 3600000. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_flush_interval_ms(
    tlm_options *opts, uint32_t ms);
/** Events per batch, 1 .. 10000. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_max_batch_events(
    tlm_options *opts, uint32_t n);
/** Uncompressed bytes per batch, 1024 .. 64 MiB. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_max_batch_bytes(
    tlm_options *opts, size_t n);
/** Queue capacity in events, 16 .. 16777216 (rounded up to a power of 2). */
TLM_API TLM_WARN_UNUSED int tlm_options_set_max_queue_events(
    tlm_options *opts, uint32_t n);
/** Deadline of tlm_client_free() on a client not yet closed, 0 .. 3600000. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_shutdown_timeout_ms(
    tlm_options *opts, uint32_t ms);
/** "sandbox" or "production". */
TLM_API TLM_WARN_UNUSED int tlm_options_set_environment(
    tlm_options *opts, const char *env);
/** Default access tier of events that name none (e.g. "free"). */
TLM_API TLM_WARN_UNUSED int tlm_options_set_access_tier(
    tlm_options *opts, const char *tier);
/** Name of the language binding reported in batches (default "c"). */
TLM_API TLM_WARN_UNUSED int tlm_options_set_binding(
    tlm_options *opts, const char *name);
/** Path of a CA bundle for https endpoints (default: the system's). */
TLM_API TLM_WARN_UNUSED int tlm_options_set_ca_bundle(
    tlm_options *opts, const char *path);
/** TCP connect timeout in ms, 1 .. 600000. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_connect_timeout_ms(
    tlm_options *opts, uint32_t ms);
/** Whole-request timeout in ms, 1 .. 3600000. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_transfer_timeout_ms(
    tlm_options *opts, uint32_t ms);
/** Parallel HTTP requests, 1 .. 64. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_max_inflight(
    tlm_options *opts, uint32_t n);
/** Retries of one batch before it is dropped, 0 .. 1000. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_max_retries(
    tlm_options *opts, uint32_t n);
/** Compress request bodies with gzip (default 1). */
TLM_API TLM_WARN_UNUSED int tlm_options_set_compression(
    tlm_options *opts, int enabled);
/** Master switch (default 1). 0 makes the client send nothing at all. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_enabled(
    tlm_options *opts, int enabled);
/** Log callback; NULL restores the default (silent). */
TLM_API TLM_WARN_UNUSED int tlm_options_set_logger(
    tlm_options *opts, tlm_log_fn fn, void *userdata);
/** Before-send hook; NULL removes it. It sees the event after the privacy
 * layer (anonymized ids, scrubbed strings, minimized request_details). */
TLM_API TLM_WARN_UNUSED int tlm_options_set_before_send(
    tlm_options *opts, tlm_before_send_fn fn, void *userdata);

/* ---- Privacy (docs/privacy.md) ---------------------------------------- */

/**
 * Key of the keyed hash (HMAC-SHA256) that replaces user_id and
 * organization_id: the same id and salt give the same anonymized id in any
 * process. Without a salt, a random one is created and kept in the state
 * directory (tlm_options_set_state_dir), or per process when there is none.
 * NULL restores that default. At most 8192 bytes, no control characters.
 * Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_set_anonymization_salt(
    tlm_options *opts, const char *salt);

/**
 * Turns anonymization of user_id/organization_id off or on (default on).
 * Turning it off requires `acknowledged` non-zero (the operator accepts
 * sending raw ids); otherwise TLM_EINVAL. Batches then say so, and the
 * dashboard shows it. Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_set_anonymization(
    tlm_options *opts, int enabled, int acknowledged);

/** Scrubbing of PII in strings (default on): e-mails, IPs, card numbers,
 * tokens, phone numbers, home directories, ids in paths, query values. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_scrubbing(
    tlm_options *opts, int enabled);

/**
 * Adds a scrub pattern of your own: a POSIX extended regular expression
 * whose matches in scrubbed strings are replaced by "[name]", after the
 * built-in detectors. `name` is 1-31 characters of a-z, 0-9 and _; at most
 * 64 patterns of at most 8192 bytes each. TLM_EINVAL (with the regex error
 * in last_error) if the pattern does not compile. Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_add_scrub_pattern(
    tlm_options *opts, const char *name, const char *pattern);

/**
 * Keys of request_details that may leave the process (the rest is removed);
 * `keys` is a comma-separated list, NULL restores the default
 * "method,path,query_keys,content_length,content_type,retry_count".
 * Authorization, Cookie, Set-Cookie and keys named like secrets (password,
 * secret, token, api_key, ...) are removed whatever the list says.
 * Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_set_details_allowlist(
    tlm_options *opts, const char *keys);

/** How sampling decides. Since 0.1.0. */
typedef enum tlm_sampling_mode {
    TLM_SAMPLE_RANDOM = 0, /**< each event independently */
    TLM_SAMPLE_BY_USER = 1 /**< a user's events are kept or dropped together */
} tlm_sampling_mode;

/** Fraction of request events kept, in (0, 1] (default 1). Kept events
 * carry their `sample_rate`; the server weights counts by its inverse. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_sampling_rate(
    tlm_options *opts, double rate);
/** A rate for one endpoint (exact match of tlm_request.endpoint),
 * overriding the global one; at most 256 overrides. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_sampling_override(
    tlm_options *opts, const char *endpoint, double rate);
/** TLM_SAMPLE_RANDOM (default) or TLM_SAMPLE_BY_USER. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_sampling_mode(
    tlm_options *opts, int mode);

/** Fraction of error events kept, in (0, 1] (default 1: errors are never
 * sampled out, whatever tlm_options_set_sampling_rate says). Uses the
 * sampling mode. Config key telemetry.error_sampling_rate. Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_error_sampling_rate(
    tlm_options *opts, double rate);
/** Frames kept of an error's stack trace, 1 .. 256 (default 64); the rest
 * is replaced by a "[N more frames]" line. Config key
 * telemetry.max_stack_frames. Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_max_stack_frames(
    tlm_options *opts, uint32_t n);
/** Bytes kept of an error's stack trace after sanitizing, 1024 .. 65536
 * (default 16384); whole lines are cut, then "[truncated]". Config key
 * telemetry.max_stack_bytes. Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_max_stack_bytes(
    tlm_options *opts, uint32_t n);

/**
 * Directory where the client keeps its state (the generated salt, the
 * consent decision). Created if missing (mode 0700). Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_set_state_dir(
    tlm_options *opts, const char *path);

/** fsync policies of the spool (tlm_options_set_spool_fsync). */
enum {
    TLM_FSYNC_BATCH = 0, /**< one fdatasync per batch written (default) */
    TLM_FSYNC_ALWAYS = 1, /**< also one per acknowledgement */
    TLM_FSYNC_NEVER = 2 /**< leave it to the kernel */
};

/**
 * Directory of the on-disk spool: every batch is written there before it
 * is sent and removed after a 2xx, so events survive a crash, a kill or
 * an outage and are sent by the next process that opens the same spool.
 * Created if missing (mode 0700); several processes may share it (each
 * writes its own journal; a journal is taken over only once its process is
 * gone). tlm_client_new() fails with TLM_EIO when it cannot be used.
 * Default: none (events live in memory only). Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_set_spool_dir(
    tlm_options *opts, const char *path);

/** Cap of the spool on disk, 4096 bytes .. 1 TiB; beyond it the oldest
 * batches are deleted unsent (dropped_spool_full). Default 64 MiB. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_spool_max_bytes(
    tlm_options *opts, uint64_t bytes);

/** TLM_FSYNC_BATCH (default), TLM_FSYNC_ALWAYS or TLM_FSYNC_NEVER. */
TLM_API TLM_WARN_UNUSED int tlm_options_set_spool_fsync(
    tlm_options *opts, int policy);

/**
 * With consent required, nothing is sent until tlm_client_set_consent()
 * gives it: events wait in the queue (and are dropped, counted, when it is
 * full). Default 0. Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_set_require_consent(
    tlm_options *opts, int required);

/**
 * Memory functions for a client. Versioned: set `size` to
 * sizeof(tlm_allocator). `realloc_fn(NULL, n)` must behave as malloc and
 * `free_fn(NULL)` as a no-op. Called from the threads that use the client
 * and from its worker thread, so they must be thread-safe. Since 0.1.0.
 */
typedef struct tlm_allocator {
    size_t size;
    void *(*malloc_fn)(size_t n, void *userdata);
    void *(*realloc_fn)(void *ptr, size_t n, void *userdata);
    void (*free_fn)(void *ptr, void *userdata);
    void *userdata;
} tlm_allocator;

/**
 * Makes clients created from these options allocate through `alloc`
 * (copied) instead of the C library: the client, its queue, batches,
 * buffers and zlib's state. Allocations made inside libcurl, libuv and
 * cJSON still use their own allocators, and the options object itself
 * always uses the C library's. NULL restores the default. Returns 0 or
 * TLM_EINVAL (NULL options, wrong size or a NULL function). Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_set_allocator(
    tlm_options *opts, const tlm_allocator *alloc);

/**
 * Applies a JSON configuration document (the seed's format: sections
 * `telemetry`, `feedback`, `error_tracking`, `feature_requests`,
 * `analytics`; the SDK reads `telemetry`). Values override what was set
 * before. Unknown keys are not errors: each is logged at TLM_LOG_WARN and
 * listed by tlm_options_warnings().
 * Returns 0, TLM_EINVAL (NULL argument), TLM_ECONFIG (not JSON, or a value
 * of the wrong type or range: nothing is applied and
 * tlm_options_last_error() names the key, e.g. "telemetry.flush_interval_ms:
 * expected an integer 10..3600000"), or TLM_ENOMEM. Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_options_load_string(
    tlm_options *opts, const char *json);

/** tlm_options_load_string() on a file's contents; TLM_EIO if unreadable. */
TLM_API TLM_WARN_UNUSED int tlm_options_load_file(
    tlm_options *opts, const char *path);

/**
 * The message of the last failed setter or load on this object, "" if none.
 * Never NULL for a non-NULL object. Borrowed until the next call on `opts`.
 * Since 0.1.0.
 */
TLM_API const char *tlm_options_last_error(const tlm_options *opts);

/**
 * Warnings of the last load (unknown keys), one per line, "" if none.
 * Borrowed until the next call on `opts`. Since 0.1.0.
 */
TLM_API const char *tlm_options_warnings(const tlm_options *opts);

/* ------------------------------------------------------------------------ */
/* Client                                                                    */
/* ------------------------------------------------------------------------ */

/** Opaque client: one queue, one worker thread. Since 0.1.0. */
typedef struct tlm_client tlm_client;

/**
 * Creates a client and starts its worker thread. The options are copied
 * (later changes to `opts` do not affect the client) and may be freed after.
 * If the environment variable DO_NOT_TRACK or TELEMETRY_OPTOUT is set to
 * anything but "", "0" or "false" (e.g. DO_NOT_TRACK=1), the client is
 * created disabled; only tlm_client_set_enabled(c, 1) turns it on. `opts` may
 * be NULL for all defaults. Returns 0 and sets *out, or TLM_EINVAL, TLM_ENOMEM,
 * TLM_ETHREAD, TLM_ETRANSPORT, or TLM_EIO when the spool directory, or the
 * state directory holding the anonymization salt (none set in the options),
 * cannot be created or used (then *out is NULL). Ownership: *out is the
 * caller's; release with tlm_client_free(). Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_client_new(
    tlm_client **out, const tlm_options *opts);

/**
 * Sends everything queued so far and waits until it is delivered, or until
 * `timeout_ms` passes. Returns 0 when all of it was settled (delivered, or
 * refused or dropped and counted in the stats), TLM_ETIMEDOUT at the
 * deadline (the
 * events stay queued and will still be sent: flush does not drop),
 * TLM_ECLOSED or TLM_EINVAL (also when called from a callback, which runs
 * on the worker thread). Never waits past the deadline.
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API int tlm_client_flush(tlm_client *client, uint32_t timeout_ms);

/**
 * Stops accepting events, sends what is queued and stops the worker, all
 * within `timeout_ms`. At the deadline, transfers in flight are aborted and
 * every event not delivered is counted as dropped_shutdown. Returns 0 if
 * nothing had to be dropped at the deadline (the stats tell what the server
 * refused before it), TLM_ETIMEDOUT if something was,
 * TLM_ECLOSED if already closed, TLM_EINVAL for NULL or when called from
 * a callback (the worker thread). The client stays
 * readable with tlm_client_stats() until tlm_client_free().
 * Since 0.1.0.
 */
TLM_API int tlm_client_close(tlm_client *client, uint32_t timeout_ms);

/**
 * Closes the client if needed (with the shutdown_timeout_ms option as the
 * deadline) and releases it. NULL is a no-op. Must not race with other calls
 * on the same client. Called from one of the client's own callbacks (its
 * worker thread) it does nothing but log an error: free it from another
 * thread. Since 0.1.0.
 */
TLM_API void tlm_client_free(tlm_client *client);

/**
 * Switches telemetry on or off at run time. Off: calls to tlm_track_* return
 * TLM_EDISABLED and are counted as dropped_disabled, queued events are
 * purged, nothing is sent. Returns 0, TLM_EINVAL or TLM_ECLOSED.
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API int tlm_client_set_enabled(tlm_client *client, int enabled);

/** 1 if the client is enabled and open, else 0 (also for NULL). */
TLM_API int tlm_client_is_enabled(const tlm_client *client);

/** Consent states. Since 0.1.0. */
typedef enum tlm_consent {
    TLM_CONSENT_UNKNOWN = 0,
    TLM_CONSENT_GIVEN = 1,
    TLM_CONSENT_REVOKED = 2
} tlm_consent;

/**
 * Records the end user's consent decision (persisted in the state
 * directory, if any). GIVEN releases what waits in the queue; REVOKED purges
 * it (counted as dropped_consent) and stops sending. Returns 0, TLM_EINVAL,
 * TLM_ECLOSED or TLM_EIO (not persisted; the decision still applies).
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API int tlm_client_set_consent(tlm_client *client, int consent);

/** The current consent state; TLM_CONSENT_GIVEN when consent is not
 * required; TLM_CONSENT_UNKNOWN for NULL; after close, the last state.
 * Since 0.1.0. */
TLM_API int tlm_client_consent(const tlm_client *client);

/**
 * Counters of a client. Versioned: set `size` to sizeof(tlm_stats) (or call
 * tlm_stats_init()); fields are only appended. Since 0.1.0.
 */
typedef struct tlm_stats {
    size_t size;
    uint64_t enqueued; /**< events accepted into the queue */
    uint64_t sent; /**< events acknowledged by the server */
    uint64_t duplicates; /**< of sent: already stored before */
    uint64_t rejected; /**< events the server refused (invalid) */
    uint64_t dropped_queue_full; /**< queue full at tlm_track_* */
    /** Opt-out was on: refused at tlm_track_* (never enqueued), or purged
     * from the queue when tlm_client_set_enabled(c, 0) was called. */
    uint64_t dropped_disabled;
    uint64_t dropped_before_send; /**< the before-send hook dropped them */
    uint64_t dropped_http; /**< a 4xx (not 408/413/429) refused them */
    uint64_t dropped_retries; /**< max_retries exhausted */
    uint64_t dropped_oversize; /**< one event alone exceeds a limit */
    uint64_t dropped_shutdown; /**< still unsent at close's deadline */
    uint64_t retried; /**< batch attempts that were retries */
    uint64_t batches; /**< batches acknowledged with a 2xx */
    uint64_t requests; /**< HTTP requests made */
    uint64_t bytes_raw; /**< JSON bytes of batches sent */
    uint64_t bytes_compressed; /**< bytes on the wire (body) */
    uint64_t queue_depth; /**< events waiting in the queue now */
    /** Events taken from the queue and not yet settled: being batched,
     * in transfer, or waiting to retry. */
    uint64_t inflight_events;
    /** Events lost because memory ran out (the allocator returned NULL). */
    uint64_t dropped_nomem;
    /** Request events not kept by sampling (not an error: the kept ones
     * stand for them through their sample_rate). */
    uint64_t sampled_out;
    /** Events printed on stderr instead of sent (TELEMETRY_DEBUG=1). */
    uint64_t debug_printed;
    /** Events purged because consent was revoked. */
    uint64_t dropped_consent;
    /** Events written to the spool (tlm_options_set_spool_dir). Since 0.1.0. */
    uint64_t spooled;
    /** Events read back from the spool that earlier processes left. */
    uint64_t replayed;
    /** Events left in the spool, unsent, at close's deadline or after
     * max_retries: a later process with the same spool sends them. */
    uint64_t spool_kept;
    /** Events the spool deleted unsent to stay under spool_max_bytes. */
    uint64_t dropped_spool_full;
    /** Error events accepted by tlm_capture_error and
     * tlm_track_request_error (also counted in enqueued). Since 0.1.0. */
    uint64_t errors_captured;
    /** Error events of this process acknowledged by the server (also
     * counted in sent). */
    uint64_t errors_sent;
    /** Error events refused at capture (pending cap or queue full, no
     * memory) or dropped by the worker (no memory, too large, the
     * before-send hook). Losses after batching (shutdown, retries, 4xx)
     * count in the general dropped_* counters only. */
    uint64_t errors_dropped;
    /** Error events not kept by tlm_options_set_error_sampling_rate. */
    uint64_t errors_sampled_out;
    /** Error events waiting in the queue now (at most 1024). */
    uint64_t errors_pending;
} tlm_stats;

/** Sets stats->size and zeroes the rest; for bindings. Since 0.1.0. */
TLM_API void tlm_stats_init(tlm_stats *stats);

/**
 * Fills `*stats` (whose `size` the caller sets) with a snapshot of the
 * counters. Works on a closed client. Returns 0 or TLM_EINVAL.
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API int tlm_client_stats(const tlm_client *client, tlm_stats *stats);

/* ------------------------------------------------------------------------ */
/* Tracking                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * One API request as the client library saw it (the seed's TelemetryEvent).
 * Versioned: initialise with TLM_REQUEST_INIT or tlm_request_init(). Only
 * `endpoint` is required; NULL strings are omitted. Since 0.1.0.
 */
typedef struct tlm_request {
    size_t size; /**< sizeof(tlm_request) */
    const char *endpoint; /**< path or template, e.g. "/v1/users/{id}" */
    const char *method; /**< "GET", "POST", ... */
    int response_status; /**< HTTP status, 0 if none (network error) */
    double response_time_ms; /**< latency in milliseconds */
    const char *user_id; /**< the end developer, anonymized later */
    const char *organization_id; /**< their organization */
    const char *access_tier; /**< NULL: the client's default tier */
    const char *request_details; /**< a JSON object as text, or NULL */
} tlm_request;

#define TLM_REQUEST_INIT                                                       \
    {                                                                          \
        sizeof(tlm_request), NULL, NULL, 0, 0.0, NULL, NULL, NULL, NULL        \
    }

/** Zeroes `*req` and sets its size; the function form of TLM_REQUEST_INIT. */
TLM_API void tlm_request_init(tlm_request *req);

/**
 * Records one API request. Copies everything it needs and returns at once:
 * it never blocks, never does I/O and does not allocate unless the strings
 * together exceed the inline slot (192 bytes including terminators).
 * Returns 0 (queued), TLM_EFULL (queue full: dropped and counted),
 * TLM_ENOMEM (strings too long for the slot and no memory for them: counted
 * as dropped_nomem),
 * TLM_EDISABLED (opt-out), TLM_ECLOSED, or TLM_EINVAL (NULL client or
 * request, wrong size, NULL or empty endpoint, negative latency).
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API int tlm_track_request(tlm_client *client, const tlm_request *req);

/**
 * tlm_track_request() with the common fields as arguments, for bindings.
 * Since 0.1.0.
 */
TLM_API int tlm_track_request_simple(tlm_client *client, const char *endpoint,
    const char *method, int response_status, double response_time_ms,
    const char *user_id);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/** How bad an error is for its users, as the caller judges it (the
 * server computes its own impact per group). Since 0.1.0. */
typedef enum tlm_impact {
    TLM_IMPACT_NONE = 0, /**< not stated: "impact" is left out */
    TLM_IMPACT_LOW = 1,
    TLM_IMPACT_MEDIUM = 2,
    TLM_IMPACT_HIGH = 3,
    TLM_IMPACT_CRITICAL = 4
} tlm_impact;

/**
 * One error as the client library saw it (the seed's ErrorEvent).
 * Versioned: initialise with TLM_ERROR_EVENT_INIT or
 * tlm_error_event_init(). Only `error_message` is required; NULL strings
 * are left out. Since 0.1.0.
 */
typedef struct tlm_error_event {
    size_t size; /**< sizeof(tlm_error_event) */
    const char *endpoint; /**< the API endpoint, at most 1024 bytes */
    const char *error_code; /**< e.g. "ECONNRESET", at most 256 bytes */
    const char *error_message; /**< required; cut to 8192 bytes */
    /** A stack trace as text, one frame per line, or NULL. */
    const char *stack_trace;
    /** Non-zero with stack_trace NULL: capture the calling thread's stack
     * (backtrace() and dladdr(): exported symbols only, so link programs
     * with -rdynamic to see their own function names). */
    int capture_stack;
    const char *request_details; /**< a JSON object as text, or NULL */
    int impact; /**< a tlm_impact */
    const char *user_id; /**< the end developer, anonymized later */
    const char *organization_id; /**< their organization */
    /** Caller-chosen grouping key overriding the server's: 1..8 parts of
     * 1..256 bytes of UTF-8 each; NULL/0 for none. */
    const char *const *fingerprint;
    size_t fingerprint_count;
} tlm_error_event;

#define TLM_ERROR_EVENT_INIT                                                   \
    {                                                                          \
        sizeof(tlm_error_event), NULL, NULL, NULL, NULL, 0, NULL, 0, NULL,     \
            NULL, NULL, 0                                                      \
    }

/** Zeroes `*e` and sets its size; the function form of
 * TLM_ERROR_EVENT_INIT. Since 0.1.0. */
TLM_API void tlm_error_event_init(tlm_error_event *e);

/**
 * Records one error. Sanitizes the stack trace on the calling thread
 * (caps, addresses, paths: docs/c-api.md), copies everything into one
 * allocation and returns; the worker scrubs PII, anonymizes the ids,
 * minimizes request_details and sends it in the next batch, spooled like
 * any event. Never blocks on I/O. Errors are not sampled out unless
 * tlm_options_set_error_sampling_rate() says so.
 * Returns 0 (queued, or sampled out), TLM_EFULL (1024 errors or 4 MiB
 * already wait, or the queue is full: dropped and counted), TLM_ENOMEM,
 * TLM_EDISABLED (opt-out, consent revoked), TLM_ECLOSED, TLM_ETHREAD (a
 * fork()ed child could not start its worker) or TLM_EINVAL (NULL client
 * or event, wrong size, NULL or empty error_message, impact out of range,
 * an empty or too long endpoint or error_code, request_details over
 * 64 KiB, a bad fingerprint).
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API int tlm_capture_error(tlm_client *client, const tlm_error_event *error);

/**
 * Records a request (tlm_track_request) and the error it ended with in one
 * call. The error takes the request's endpoint, user_id and
 * organization_id where its own are NULL, and carries the request's event
 * id as "request_id". The request is never sampled out here (it is sent
 * with sample_rate 1, so weighted totals stay right). Returns 0 when both
 * were queued, else the first failure (the request's, then the error's);
 * each is counted as its own call would count it. TLM_EINVAL as either
 * call. Thread safety: any thread. Since 0.1.0.
 */
TLM_API int tlm_track_request_error(tlm_client *client,
    const tlm_request *request, const tlm_error_event *error);

/* ------------------------------------------------------------------------ */
/* Events seen by the before-send hook                                       */
/* ------------------------------------------------------------------------ */

/**
 * Reads a string field of an event: "type" ("request" or "error"), "id",
 * "endpoint", "method", "user_id", "organization_id", "access_tier",
 * "environment", "request_details"; of an error also "error_code",
 * "error_message", "stack_trace", "impact", "request_id" and
 * "fingerprint" (its first part). NULL if absent or unknown. Borrowed
 * until the hook returns or the field is set. Since 0.1.0.
 */
TLM_API const char *tlm_event_get_string(
    const tlm_event *event, const char *field);

/** Reads "response_status" (as a number), "response_time", "sample_rate". */
TLM_API double tlm_event_get_number(const tlm_event *event, const char *field);

/**
 * Replaces a string field (see tlm_event_get_string; "type", "id",
 * "request_id", "impact" and "fingerprint" are read-only, "environment"
 * takes only "sandbox" or "production"; an error's "error_message" can't
 * be removed, and what the hook sets is sent as set); NULL removes an
 * optional field. Returns 0, TLM_EINVAL or TLM_ENOMEM. Since 0.1.0.
 */
TLM_API int tlm_event_set_string(
    tlm_event *event, const char *field, const char *value);

/* ------------------------------------------------------------------------ */
/* Feedback and feature requests                                             */
/* ------------------------------------------------------------------------ */

/*
 * Each call below is one HTTP request to the telemetry-server, made by the
 * client's worker thread at {endpoint}/feedback or
 * {endpoint}/feature-requests... (the same base URL, API key and proxy
 * settings as batches; docs/http-api.md has the routes). Every operation
 * has two forms:
 *
 *  - async: returns at once (it never blocks, never does I/O) and later
 *    calls `callback` exactly once, on the worker thread, with no internal
 *    lock held: with the server's answer, or at close (TLM_ETIMEDOUT or
 *    TLM_ECLOSED when it was not delivered). A callback must not block and
 *    must not call tlm_client_flush, tlm_client_close or any *_wait
 *    function (they return TLM_EINVAL there). If the call returns an error,
 *    the callback is never called. `callback` may be NULL.
 *  - *_wait: blocks the calling thread until the answer or `timeout_ms`,
 *    and copies the answer into a caller-owned tlm_reply.
 *
 * Submissions (feedback, feature requests, votes) carry an Idempotency-Key
 * made at the call and are retried like batches (network errors, 408, 429,
 * 5xx; never other 4xx) up to max_retries. With a spool directory each
 * submission is written to the spool before its first attempt and removed
 * after the server's answer, so one made offline is delivered by this or a
 * later process, exactly once (the server deduplicates by the key). Reads
 * (get, list) are never spooled and make at most 3 attempts.
 *
 * Privacy applies as to events: user_id is anonymized, free text (content,
 * the issue template, the context object's string values, feature, title,
 * description, use_case) is scrubbed, and the endpoint target is scrubbed
 * as a path. Feedback is never sampled out. With telemetry switched off
 * every call returns TLM_EDISABLED and sends nothing; with
 * TELEMETRY_DEBUG=1 the request is printed on stderr as one JSON line
 * instead of being sent (the callback then gets rc 0 and status 0).
 * At most 1024 calls may be outstanding per client (TLM_EFULL beyond).
 */

/** Kinds of feedback. Since 0.1.0. */
typedef enum tlm_feedback_type {
    TLM_FEEDBACK_ISSUE = 1, /**< a problem report: needs the issue template */
    TLM_FEEDBACK_SUGGESTION = 2,
    TLM_FEEDBACK_RATING = 3, /**< needs `rating` */
    TLM_FEEDBACK_GENERAL = 4
} tlm_feedback_type;

/**
 * One piece of feedback (the seed's FeedbackSubmission). Versioned:
 * initialise with TLM_FEEDBACK_INIT or tlm_feedback_init(). `type` and
 * `content` are required; NULL strings are left out. Since 0.1.0.
 */
typedef struct tlm_feedback {
    size_t size; /**< sizeof(tlm_feedback) */
    int type; /**< a tlm_feedback_type */
    const char *content; /**< the text, 1..10000 bytes */
    const char *category; /**< NULL: the server categorizes it */
    int rating; /**< 0: none, else 1..5 (required for RATING) */
    const char *context_json; /**< a JSON object as text, or NULL */
    const char *feature; /**< the feature it is about, or NULL */
    const char *endpoint; /**< the API endpoint it is about, or NULL */
    const char *user_id; /**< the submitter, anonymized before sending */
    /* The issue template: all four are required for TLM_FEEDBACK_ISSUE.
     * The SDK adds its name, version, binding and OS, and `endpoint`. */
    const char *summary;
    const char *steps_to_reproduce;
    const char *expected;
    const char *actual;
} tlm_feedback;

#define TLM_FEEDBACK_INIT                                                      \
    {                                                                          \
        sizeof(tlm_feedback), 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL,  \
            NULL, NULL, NULL                                                   \
    }

/** Zeroes `*f` and sets its size; the function form of TLM_FEEDBACK_INIT. */
TLM_API void tlm_feedback_init(tlm_feedback *f);

/** A feature request. Versioned: TLM_FEATURE_REQUEST_INIT or
 * tlm_feature_request_init(). `title` is required. Since 0.1.0. */
typedef struct tlm_feature_request {
    size_t size; /**< sizeof(tlm_feature_request) */
    const char *title; /**< 1..200 bytes */
    const char *description; /**< NULL or up to 10000 bytes */
    const char *use_case; /**< NULL or up to 10000 bytes */
    const char *user_id; /**< the requester, anonymized before sending */
} tlm_feature_request;

#define TLM_FEATURE_REQUEST_INIT                                               \
    {                                                                          \
        sizeof(tlm_feature_request), NULL, NULL, NULL, NULL                    \
    }

/** Zeroes `*r` and sets its size. Since 0.1.0. */
TLM_API void tlm_feature_request_init(tlm_feature_request *r);

/** What tlm_feature_requests_list() asks for. Versioned:
 * TLM_FEATURE_QUERY_INIT or tlm_feature_query_init(). Since 0.1.0. */
typedef struct tlm_feature_query {
    size_t size; /**< sizeof(tlm_feature_query) */
    const char *sort; /**< "votes" (NULL: the server's default), "recent",
                           "trending" */
    const char *status; /**< comma-separated statuses, or NULL for all */
    uint32_t limit; /**< 1..100; 0: the server's default (20) */
    const char *cursor; /**< next_cursor of the previous page, or NULL */
} tlm_feature_query;

#define TLM_FEATURE_QUERY_INIT                                                 \
    {                                                                          \
        sizeof(tlm_feature_query), NULL, NULL, 0, NULL                         \
    }

/** Zeroes `*q` and sets its size. Since 0.1.0. */
TLM_API void tlm_feature_query_init(tlm_feature_query *q);

/**
 * The answer as a callback sees it; borrowed for the callback's duration
 * only (copy what you keep). Fields may be appended; check `size`.
 * Since 0.1.0.
 */
typedef struct tlm_response {
    size_t size; /**< sizeof(tlm_response) of the library */
    int status; /**< HTTP status of the last attempt, 0 if none */
    const char *body; /**< the server's JSON, NUL-terminated, or NULL */
    size_t body_len;
    const char *id; /**< the resource's "id" in the answer, or NULL */
    /** 1: not delivered yet, but safe in the spool: this process (until
     * close) or the next one with the same spool delivers it, exactly once.
     * Set with rc 0 when the first attempt failed and will be retried, or
     * with rc TLM_ETIMEDOUT/TLM_ECLOSED at close. */
    int spooled;
    const char *idempotency_key; /**< of a submission, else NULL */
} tlm_response;

/**
 * Completion of an async call: rc is 0 (a 2xx, or spooled), TLM_EREJECTED
 * (a 4xx: status and body say why), TLM_EUNAVAILABLE (retries ran out),
 * TLM_ETIMEDOUT or TLM_ECLOSED (closed before delivery), TLM_EDISABLED
 * (telemetry switched off meanwhile), TLM_ENOMEM or TLM_EIO (the answer
 * was larger than 16 MiB). Runs on the worker thread; see above.
 */
typedef void (*tlm_response_fn)(
    int rc, const tlm_response *response, void *userdata);

/**
 * The answer as a *_wait function copies it. The caller owns it: set
 * `size` (tlm_reply_init()) before the call and release it with
 * tlm_reply_free(). `body` and `id` are allocated with the C library's
 * malloc (not the client's allocator). Since 0.1.0.
 */
typedef struct tlm_reply {
    size_t size; /**< sizeof(tlm_reply), set by the caller */
    int status; /**< HTTP status, 0 if none */
    char *body; /**< the server's JSON, NUL-terminated, or NULL */
    size_t body_len;
    char *id; /**< the resource's id, or NULL */
    int spooled; /**< as tlm_response.spooled */
} tlm_reply;

/** Zeroes `*r` and sets its size. Since 0.1.0. */
TLM_API void tlm_reply_init(tlm_reply *r);

/** Frees `body` and `id` and zeroes the reply (size kept). NULL is a
 * no-op. Since 0.1.0. */
TLM_API void tlm_reply_free(tlm_reply *r);

/**
 * Submits feedback: POST /feedback. Checks the structure first: TLM_EINVAL
 * for a NULL client or feedback, a wrong size, an unknown type, NULL or
 * blank content, a rating outside 0..5 or context_json that is not a JSON
 * object. What depends on the server's configuration (categories, length
 * limits, a missing rating or issue-template part) is left to it: it
 * answers TLM_EREJECTED, status 400, with a body naming the field, e.g.
 * {"error": "issue report is missing: expected", "missing": ["expected"]}.
 * Also returns TLM_ECLOSED, TLM_EDISABLED (opt-out or consent revoked),
 * TLM_EFULL (1024 calls outstanding), TLM_ENOMEM or TLM_ETHREAD (a
 * fork()ed child could not start its worker). The answer's id is the
 * feedback's; its body holds the server's sentiment and category.
 * Thread safety: any thread. Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_feedback_submit(tlm_client *client,
    const tlm_feedback *feedback, tlm_response_fn callback, void *userdata);

/**
 * Blocking form of the call above: waits up to `timeout_ms` for the answer
 * and fills `*out` (whose size the caller set; it is reset first). Returns
 * what the callback's rc would be, the async form's errors, TLM_EINVAL
 * also when `out` is NULL or called from a callback (the worker thread),
 * or TLM_ETIMEDOUT at the deadline: the request goes on in the background
 * and its answer is discarded. Since 0.1.0.
 */
TLM_API TLM_WARN_UNUSED int tlm_feedback_submit_wait(tlm_client *client,
    const tlm_feedback *feedback, uint32_t timeout_ms, tlm_reply *out);

/** Reads one feedback of the key's organization: GET /feedback/{id}
 * (TLM_EREJECTED with status 404 if there is none). `id` is 1..128 bytes.
 * Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_feedback_get(tlm_client *client, const char *id,
    tlm_response_fn callback, void *userdata);
TLM_API TLM_WARN_UNUSED int tlm_feedback_get_wait(
    tlm_client *client, const char *id, uint32_t timeout_ms, tlm_reply *out);

/** Submits a feature request: POST /feature-requests (TLM_EINVAL for a
 * NULL or empty title or a wrong size). Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_feature_request_submit(tlm_client *client,
    const tlm_feature_request *request, tlm_response_fn callback,
    void *userdata);
TLM_API TLM_WARN_UNUSED int tlm_feature_request_submit_wait(tlm_client *client,
    const tlm_feature_request *request, uint32_t timeout_ms, tlm_reply *out);

/** Lists feature requests: GET /feature-requests (`query` NULL: the
 * defaults). The body is {"items": [...], "next_cursor": ...}. TLM_EINVAL
 * for a wrong size, a limit above 100 or a sort other than votes, recent,
 * trending. Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_feature_requests_list(tlm_client *client,
    const tlm_feature_query *query, tlm_response_fn callback, void *userdata);
TLM_API TLM_WARN_UNUSED int tlm_feature_requests_list_wait(tlm_client *client,
    const tlm_feature_query *query, uint32_t timeout_ms, tlm_reply *out);

/** Votes for a feature request for `user_id` (required; anonymized):
 * PUT /feature-requests/{id}/vote. Voting again changes nothing. The body
 * is {"id", "votes", "voted"}. Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_feature_request_vote(tlm_client *client,
    const char *id, const char *user_id, tlm_response_fn callback,
    void *userdata);
TLM_API TLM_WARN_UNUSED int tlm_feature_request_vote_wait(tlm_client *client,
    const char *id, const char *user_id, uint32_t timeout_ms, tlm_reply *out);

/** Withdraws `user_id`'s vote: DELETE /feature-requests/{id}/vote.
 * Since 0.1.0. */
TLM_API TLM_WARN_UNUSED int tlm_feature_request_unvote(tlm_client *client,
    const char *id, const char *user_id, tlm_response_fn callback,
    void *userdata);
TLM_API TLM_WARN_UNUSED int tlm_feature_request_unvote_wait(tlm_client *client,
    const char *id, const char *user_id, uint32_t timeout_ms, tlm_reply *out);

#ifdef __cplusplus
}
#endif

#endif /* TELEMETRY_H */
