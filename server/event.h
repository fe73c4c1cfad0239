/* The event schema: validation of one decoded JSON event into a typed record
 * ready for the store. Must never keep pointers past the cJSON tree it was
 * given (strings in the record are borrowed from it) and never touch I/O. */
#ifndef TLM_SERVER_EVENT_H
#define TLM_SERVER_EVENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLM_EVENT_ID_LEN 36
#define TLM_EVENT_MAX_ENDPOINT 1024
#define TLM_EVENT_MAX_SHORT 256 /* ids, tiers, codes, methods */
#define TLM_EVENT_MAX_TEXT (64 * 1024) /* messages, stack traces */
#define TLM_EVENT_MAX_FINGERPRINT 256 /* each part of a fingerprint */
#define TLM_EVENT_REASON_MAX 128

enum tlm__event_type {
    TLM_EVENT_REQUEST = 1,
    TLM_EVENT_ERROR = 2,
};

/* One validated event. Strings are borrowed from the cJSON tree; NULL means
 * absent. status and response_time_ms are meaningful when has_* is set. */
struct tlm__event {
    enum tlm__event_type type;
    char id[TLM_EVENT_ID_LEN + 1]; /* lower-cased canonical UUID */
    int64_t ts_ms;
    const char *environment;
    double sample_rate;
    const char *endpoint;
    const char *method;
    bool has_status;
    int status;
    bool has_response_time;
    double response_time_ms;
    const char *user_id;
    const char *organization_id;
    const char *access_tier;
    const char *error_code;
    const char *error_message;
    const char *stack_trace; /* error events; NULL when absent */
    int severity; /* impact: 0 low .. 3 critical, -1 when absent */
    const cJSON *fingerprint; /* the caller's grouping, or NULL */
};

/* Validates item as an event. Returns 0 and fills *ev, or -1 and writes a
 * reason naming the offending field ("timestamp: expected RFC 3339
 * string") into reason[0..reason_size). */
int tlm__event_validate(
    const cJSON *item, struct tlm__event *ev, char *reason, size_t reason_size);

/* The value of hexadecimal digit c (either case), or -1. */
int tlm__hex_nibble(char c);

/* The 16 bytes of the canonical 8-4-4-4-12 UUID text[0..len); -1 when it
 * is not one (the stores keep ids as these bytes). */
int tlm__uuid_bytes(const char *text, size_t len, unsigned char out[16]);

/* True if s[0..len) is a canonical 8-4-4-4-12 hexadecimal UUID. */
bool tlm__event_uuid_valid(const char *s, size_t len);

#endif
