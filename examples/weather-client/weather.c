/*
 * weather.c - the Weather API client library (weather.h) on libcurl, with
 * libtelemetry wired in as a vendor would: one tlm_client per
 * weather_client, one request event per call, an error event with context
 * for 5xx answers and transport failures.
 */
#define _POSIX_C_SOURCE 200809L
#include "weather.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "telemetry.h"

#define WEATHER_MAX_BODY (1024 * 1024)
#define WEATHER_DETAILS_KEYS                                                   \
    "method,path,query_keys,content_length,content_type,retry_count,days"

struct weather_client {
    char *base_url;
    char *api_key;
    long timeout_ms;
    CURL *curl;
    tlm_client *telemetry; /* NULL: no telemetry */
    char error[256];
};

struct body {
    char *data;
    size_t len;
    int too_big;
};

/* One call as the telemetry sees it. */
struct call {
    const char *endpoint; /* the template: no user data in it */
    int status; /* 0: no HTTP answer */
    double ms;
    CURLcode curl_rc;
    const char *details; /* JSON object or NULL */
};

static const char *
env_or(const char *value, const char *name)
{
    if (value)
        return value;
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int
env_says_off(void)
{
    const char *v = getenv("WEATHER_TELEMETRY");
    return v && (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "off"));
}

/* Telemetry is a side show: any failure here leaves it off, never the
 * client. */
static tlm_client *
telemetry_start(const weather_options *o)
{
    const char *endpoint
        = env_or(o->telemetry_endpoint, "WEATHER_TELEMETRY_ENDPOINT");
    const char *key = env_or(o->telemetry_api_key, "WEATHER_TELEMETRY_KEY");
    if (!endpoint || !key)
        return NULL;
    tlm_options *opts = tlm_options_new();
    if (!opts)
        return NULL;
    tlm_client *c = NULL;
    int enabled = o->telemetry && !env_says_off();
    if (tlm_options_set_endpoint(opts, endpoint) == 0
        && tlm_options_set_api_key(opts, key) == 0
        && tlm_options_set_binding(opts, "weather-c") == 0
        /* request_details keys allowed out: the defaults and "days" */
        && tlm_options_set_details_allowlist(opts, WEATHER_DETAILS_KEYS) == 0
        && tlm_options_set_shutdown_timeout_ms(opts, 2000) == 0
        && tlm_options_set_enabled(opts, enabled) == 0) {
        if (tlm_client_new(&c, opts) != 0)
            c = NULL;
    }
    tlm_options_free(opts);
    return c;
}

weather_client *
weather_client_new(
    const char *base_url, const char *api_key, const weather_options *opts)
{
    static const weather_options defaults = WEATHER_OPTIONS_INIT;
    if (!base_url || !*base_url || !api_key || !*api_key)
        return NULL;
    if (!opts)
        opts = &defaults;
    if (opts->timeout_ms < 0)
        return NULL;
    weather_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    c->base_url = strndup(base_url, n);
    c->api_key = strdup(api_key);
    c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000;
    c->curl = curl_easy_init();
    if (!c->base_url || !c->api_key || !c->curl) {
        weather_client_free(c);
        return NULL;
    }
    c->telemetry = telemetry_start(opts);
    return c;
}

void
weather_client_free(weather_client *c)
{
    if (!c)
        return;
    if (c->telemetry) {
        tlm_client_close(c->telemetry, 2000);
        tlm_client_free(c->telemetry);
    }
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base_url);
    free(c->api_key);
    free(c);
}

int
weather_telemetry_enabled(const weather_client *c)
{
    return c && c->telemetry && tlm_client_is_enabled(c->telemetry);
}

const char *
weather_last_error(const weather_client *c)
{
    return c ? c->error : "";
}

const char *
weather_strerror(int err)
{
    switch (err) {
    case WEATHER_OK:
        return "ok";
    case WEATHER_EINVAL:
        return "invalid argument";
    case WEATHER_ENOMEM:
        return "out of memory";
    case WEATHER_ETRANSPORT:
        return "cannot reach the weather API";
    case WEATHER_EAUTH:
        return "API key rejected";
    case WEATHER_ENOTFOUND:
        return "unknown city";
    case WEATHER_ESERVER:
        return "weather API server error";
    case WEATHER_EPROTO:
        return "unexpected answer from the weather API";
    default:
        return "unknown error";
    }
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > WEATHER_MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    char *p = realloc(b->data, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->data = p;
    b->len += n;
    p[b->len] = '\0';
    return n;
}

/* The vendor's instrumentation: one request event per call; a 5xx or a
 * transport failure also gets an error event with what we know. */
static void
record(weather_client *c, const struct call *k)
{
    if (!c->telemetry)
        return;
    tlm_request req = TLM_REQUEST_INIT;
    req.endpoint = k->endpoint;
    req.method = "GET";
    req.response_status = k->status;
    req.response_time_ms = k->ms;
    req.request_details = k->details;
    if (k->status != 0 && k->status < 500) {
        (void)tlm_track_request(c->telemetry, &req);
        return;
    }
    char code[64];
    tlm_error_event e = TLM_ERROR_EVENT_INIT;
    if (k->status == 0) {
        snprintf(code, sizeof(code), "CURLE_%d", (int)k->curl_rc);
        e.error_message = curl_easy_strerror(k->curl_rc);
        e.impact = TLM_IMPACT_HIGH;
    } else {
        snprintf(code, sizeof(code), "HTTP_%d", k->status);
        e.error_message = "weather API answered with a server error";
        e.impact = TLM_IMPACT_MEDIUM;
    }
    e.error_code = code;
    e.capture_stack = 1;
    e.request_details = k->details;
    (void)tlm_track_request_error(c->telemetry, &req, &e);
}

/* GET base_url + path; *status is the HTTP status (0: none). The body is
 * the caller's to free. */
static int
get(weather_client *c, const char *path, struct call *k, struct body *b)
{
    size_t n = strlen(c->base_url) + strlen(path) + 1;
    size_t hn = strlen(c->api_key) + 16;
    char *url = malloc(n);
    char *hdr = malloc(hn);
    if (!url || !hdr) {
        free(url);
        free(hdr);
        return WEATHER_ENOMEM;
    }
    snprintf(url, n, "%s%s", c->base_url, path);
    snprintf(hdr, hn, "X-Api-Key: %s", c->api_key);
    struct curl_slist *headers = curl_slist_append(NULL, hdr);
    free(hdr);
    if (!headers) {
        free(url);
        return WEATHER_ENOMEM;
    }
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "weather-c/1.0");
    double t0 = now_ms();
    k->curl_rc = curl_easy_perform(h);
    k->ms = now_ms() - t0;
    long status = 0;
    if (k->curl_rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    k->status = (int)status;
    curl_slist_free_all(headers);
    free(url);
    record(c, k);
    if (k->curl_rc != CURLE_OK) {
        snprintf(c->error, sizeof(c->error), "%s",
            b->too_big ? "answer too large" : curl_easy_strerror(k->curl_rc));
        return b->too_big ? WEATHER_EPROTO : WEATHER_ETRANSPORT;
    }
    snprintf(c->error, sizeof(c->error), "HTTP %d", k->status);
    if (k->status == 401 || k->status == 403)
        return WEATHER_EAUTH;
    if (k->status == 404)
        return WEATHER_ENOTFOUND;
    if (k->status >= 500)
        return WEATHER_ESERVER;
    if (k->status != 200)
        return WEATHER_EPROTO;
    c->error[0] = '\0';
    return WEATHER_OK;
}

static void
copy_str(char *dst, size_t cap, const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static int
get_num(const cJSON *obj, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int
proto_error(weather_client *c, const char *what)
{
    snprintf(c->error, sizeof(c->error), "bad answer: %s", what);
    return WEATHER_EPROTO;
}

/* "/v1/<what>/<escaped city><suffix>" into a fresh string. */
static char *
city_path(
    weather_client *c, const char *what, const char *city, const char *suffix)
{
    char *esc = curl_easy_escape(c->curl, city, 0);
    if (!esc)
        return NULL;
    size_t n = strlen(what) + strlen(esc) + strlen(suffix) + 8;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "/v1/%s/%s%s", what, esc, suffix);
    curl_free(esc);
    return p;
}

int
weather_current(
    weather_client *c, const char *city, struct weather_current *out)
{
    if (!c || !city || !*city || !out)
        return WEATHER_EINVAL;
    char *path = city_path(c, "current", city, "");
    if (!path)
        return WEATHER_ENOMEM;
    struct call k = {"GET /v1/current/{city}", 0, 0.0, CURLE_OK, NULL};
    struct body b = {NULL, 0, 0};
    int rc = get(c, path, &k, &b);
    free(path);
    if (rc == WEATHER_OK) {
        cJSON *doc = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
        double humidity = 0;
        if (!doc || get_num(doc, "temp_c", &out->temp_c)
            || get_num(doc, "humidity", &humidity)) {
            rc = proto_error(c, "current");
        } else {
            out->humidity = (int)humidity;
            copy_str(out->city, sizeof(out->city), doc, "city");
            copy_str(
                out->conditions, sizeof(out->conditions), doc, "conditions");
        }
        cJSON_Delete(doc);
    }
    free(b.data);
    return rc;
}

int
weather_forecast(weather_client *c, const char *city, int days,
    struct weather_day *out, size_t cap, size_t *count)
{
    if (!c || !city || !*city || days < 1 || days > WEATHER_MAX_DAYS
        || (!out && cap) || !count)
        return WEATHER_EINVAL;
    *count = 0;
    char suffix[24], details[32];
    snprintf(suffix, sizeof(suffix), "?days=%d", days);
    snprintf(details, sizeof(details), "{\"days\":%d}", days);
    char *path = city_path(c, "forecast", city, suffix);
    if (!path)
        return WEATHER_ENOMEM;
    struct call k = {"GET /v1/forecast/{city}", 0, 0.0, CURLE_OK, details};
    struct body b = {NULL, 0, 0};
    int rc = get(c, path, &k, &b);
    free(path);
    if (rc == WEATHER_OK) {
        cJSON *doc = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "days");
        if (!cJSON_IsArray(arr)) {
            rc = proto_error(c, "forecast");
        } else {
            const cJSON *d;
            cJSON_ArrayForEach(d, arr)
            {
                if (*count == cap)
                    break;
                struct weather_day *w = &out[*count];
                if (get_num(d, "high_c", &w->high_c)
                    || get_num(d, "low_c", &w->low_c)) {
                    rc = proto_error(c, "forecast day");
                    break;
                }
                copy_str(w->date, sizeof(w->date), d, "date");
                copy_str(w->conditions, sizeof(w->conditions), d, "conditions");
                (*count)++;
            }
        }
        cJSON_Delete(doc);
    }
    free(b.data);
    return rc;
}
