/*
 * weather.h - a small client library for the (imaginary) Weather REST API,
 * instrumented with libtelemetry the way an API vendor would do it: every
 * call is recorded as one request event with a templated endpoint
 * ("GET /v1/current/{city}", never the city itself), its status and
 * latency; server errors (5xx) and transport failures also send an error
 * event with context. Users opt out with WEATHER_TELEMETRY=0 (or the
 * standard DO_NOT_TRACK=1). See README.md.
 */
#ifndef WEATHER_H
#define WEATHER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Results of the weather_* calls: 0 or one of these (negative). */
typedef enum weather_error {
    WEATHER_OK = 0,
    WEATHER_EINVAL = -1, /**< bad argument */
    WEATHER_ENOMEM = -2, /**< out of memory */
    WEATHER_ETRANSPORT = -3, /**< no HTTP answer (connect, timeout, ...) */
    WEATHER_EAUTH = -4, /**< 401/403: bad API key */
    WEATHER_ENOTFOUND = -5, /**< 404: unknown city */
    WEATHER_ESERVER = -6, /**< 5xx */
    WEATHER_EPROTO = -7 /**< another status, or a body we cannot read */
} weather_error;

/** Options of weather_client_new(); NULL for all defaults. */
typedef struct weather_options {
    /** Request timeout in milliseconds; 0: 10000. */
    long timeout_ms;
    /** Where the vendor's telemetry goes; NULL: the environment variable
     * WEATHER_TELEMETRY_ENDPOINT; neither: no telemetry at all. */
    const char *telemetry_endpoint;
    /** The vendor's ingestion key; NULL: WEATHER_TELEMETRY_KEY. */
    const char *telemetry_api_key;
    /** 0: telemetry off. Non-zero: on unless WEATHER_TELEMETRY=0 (or
     * DO_NOT_TRACK=1) says otherwise. */
    int telemetry;
} weather_options;

#define WEATHER_OPTIONS_INIT                                                   \
    {                                                                          \
        0, NULL, NULL, 1                                                       \
    }

typedef struct weather_client weather_client;

struct weather_current {
    char city[64];
    double temp_c;
    int humidity; /**< percent */
    char conditions[64];
};

struct weather_day {
    char date[16]; /**< YYYY-MM-DD */
    double high_c;
    double low_c;
    char conditions[64];
};

/** Maximum `days` of weather_forecast(). */
#define WEATHER_MAX_DAYS 14

/**
 * Creates a client for the API at `base_url` (e.g.
 * "https://api.weather.example") with the user's `api_key`. Returns NULL
 * on bad arguments or out of memory. Telemetry that cannot start (bad
 * endpoint) is left off: the client works without it.
 */
weather_client *weather_client_new(
    const char *base_url, const char *api_key, const weather_options *opts);

/** Flushes telemetry (bounded: 2 s) and frees the client. NULL is fine. */
void weather_client_free(weather_client *client);

/** Current weather in `city`. Returns 0 and fills *out, or a
 * weather_error. */
int weather_current(
    weather_client *client, const char *city, struct weather_current *out);

/** A forecast of 1..WEATHER_MAX_DAYS `days` for `city` into out[0 .. cap-1];
 * *count is set to the number of days filled. */
int weather_forecast(weather_client *client, const char *city, int days,
    struct weather_day *out, size_t cap, size_t *count);

/** A description of the last failure on this client ("" if none). */
const char *weather_last_error(const weather_client *client);

/** A name for a weather_error. */
const char *weather_strerror(int err);

/** Non-zero when this client sends telemetry. */
int weather_telemetry_enabled(const weather_client *client);

#ifdef __cplusplus
}
#endif

#endif
