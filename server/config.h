/* Server options from, in rising precedence: built-in defaults, the
 * `server` section of --config FILE, TELEMETRY_API_KEYS /
 * TELEMETRY_ADMIN_TOKEN, and command-line flags. Must never start anything:
 * it only parses and validates, naming the flag or key at fault. */
#ifndef TLM_SERVER_CONFIG_H
#define TLM_SERVER_CONFIG_H

#include "config_analytics.h"
#include "config_feedback.h"

#include "log.h"
#include "ratelimit.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

#define TLM_SERVER_VERSION "0.1.0"
#define TLM_DEFAULT_LISTEN "127.0.0.1:8080"
#define TLM_DEFAULT_DB "sqlite:telemetry.db"
#define TLM_DEFAULT_MAX_BODY (1024u * 1024u)
#define TLM_DEFAULT_MAX_INFLATED (8u * 1024u * 1024u)
#define TLM_HOST_MAX 256
#define TLM_DEFAULT_MAX_EVENT (64u * 1024u)
#define TLM_DEFAULT_MAX_BATCH_EVENTS 1000u
#define TLM_DEFAULT_MAX_JSON_DEPTH 32u /* TLM_JSON_SCAN_MAX_DEPTH */
#define TLM_DEFAULT_MAX_FUTURE_S 86400u
#define TLM_DEFAULT_RETENTION_DAYS 30u
#define TLM_DEFAULT_MAX_HEADER (32u * 1024u)
#define TLM_DEFAULT_MAX_CONNECTIONS 1000u
#define TLM_DEFAULT_CONNECTION_TIMEOUT_S 30u
#define TLM_DEFAULT_MAX_PER_IP 64u
#define TLM_DEFAULT_DRAIN_S 10u
#define TLM_RATE_TIERS_MAX 16
#define TLM_TIER_NAME_MAX 64

#define TLM_DEFAULT_KEYS_REFRESH_S 10u

/* One ingestion key from a flag, TELEMETRY_API_KEYS or server.api_keys:
 * its secret (or only the secret's SHA-256) and the attributes requests
 * made with it carry. Empty attributes are "not set": the tier is then
 * "default" and the event's own environment stands. */
struct tlm__key_spec {
    char *secret; /* NULL when the config gave only sha256 */
    unsigned char sha256[32];
    char organization[TLM_KEY_ATTR_MAX];
    char access_tier[TLM_KEY_ATTR_MAX];
    char environment[TLM_KEY_ENV_MAX];
};

/* The rate limit of one access tier (server.rate_limits.NAME). */
struct tlm__rate_tier {
    char name[TLM_TIER_NAME_MAX];
    struct tlm__rate_rule rule;
};

struct tlm__server_config {
    char host[TLM_HOST_MAX]; /* without IPv6 brackets */
    uint16_t port;
    char *db_url;
    struct tlm__key_spec *api_keys;
    size_t n_api_keys;
    unsigned keys_refresh_s; /* database keys re-read period; 0: never */
    char *admin_token;
    char *port_file;
    size_t max_body_bytes;
    size_t max_inflated_bytes;
    unsigned threads;
    size_t max_event_bytes;
    size_t max_batch_events;
    unsigned max_json_depth; /* 1..32: lowers the scanner's fixed cap */
    unsigned long max_future_s;
    unsigned long retention_days;
    size_t max_header_bytes;
    unsigned max_connections;
    unsigned connection_timeout_s;
    unsigned max_connections_per_ip; /* 0: no cap */
    long max_write_queue; /* -1: 2 x threads */
    struct tlm__rate_tier tiers[TLM_RATE_TIERS_MAX];
    size_t n_tiers;
    char *log_file; /* NULL: stderr */
    enum tlm__log_level log_level;
    unsigned drain_timeout_s;
    int fault_status; /* 0: no fault injection */
    unsigned long fault_count;
    long fault_retry_after; /* seconds, -1: no Retry-After header */
    struct tlm__feedback_config feedback; /* config_feedback.h */
    struct tlm__alert_policy alerts; /* error_tracking (config_errors.c) */
    struct tlm__analytics_config analytics; /* config_analytics.h */
};

enum tlm__config_outcome {
    TLM_CONFIG_RUN = 0, /* start the server */
    TLM_CONFIG_EXIT = 1, /* --help or --version printed; exit 0 */
    TLM_CONFIG_ERROR = -1 /* message in err; exit non-zero */
};

/* Fills c from defaults, file, environment and argv. On TLM_CONFIG_RUN the
 * caller owns c and releases it with tlm__server_config_free. */
enum tlm__config_outcome tlm__server_config_load(struct tlm__server_config *c,
    int argc, char **argv, char *err, size_t err_size);

void tlm__server_config_free(struct tlm__server_config *c);

/* error_tracking: alert_thresholds (low 1000, medium 100, high 10,
 * critical 1 by default) and alert_window_minutes (60). */
void tlm__alert_policy_defaults(struct tlm__alert_policy *p);
int tlm__config_errors_apply(struct tlm__alert_policy *p, const cJSON *root,
    const char *path, char *err, size_t err_size);

/* Parses "HOST:PORT" or "[V6]:PORT". Returns 0 or -1. */
int tlm__listen_parse(
    const char *s, char *host, size_t host_size, uint16_t *port);

/* Parses a decimal unsigned integer in [min, max], whole string. */
int tlm__parse_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Parses "STATUS:COUNT[:RETRY_AFTER_S]" into c's fault fields. */
int tlm__fault_parse(const char *s, struct tlm__server_config *c);

/* Replaces c's API keys with the comma-separated list s, each entry
 * "SECRET[;organization=O][;tier=T][;environment=E]". */
int tlm__api_keys_set_csv(struct tlm__server_config *c, const char *s,
    const char *what, char *err, size_t err_size);

/* Appends the keys of the comma-separated list s. */
int tlm__api_keys_append_csv(struct tlm__server_config *c, const char *s,
    const char *what, char *err, size_t err_size);

/* Appends one key (copied; its secret duplicated). Returns 0 or -1. */
int tlm__api_keys_append(
    struct tlm__server_config *c, const struct tlm__key_spec *k);

void tlm__api_keys_free(struct tlm__server_config *c);

/* Secrets: 1..512 printable ASCII characters, no space, comma or ';'. */
int tlm__secret_valid(const char *s, size_t len);

/* Sets an attribute of k by name (organization, tier or access_tier,
 * environment); what names the source. Returns 0 or -1 (err set). */
int tlm__key_spec_set(struct tlm__key_spec *k, const char *name,
    const char *value, size_t value_len, const char *what, char *err,
    size_t err_size);

/* Hex SHA-256 (64 digits, either case) into out. Returns 0 or -1. */
int tlm__sha256_from_hex(const char *hex, unsigned char out[32]);

/* Numeric operations options, each a flag and a `server` key. */
enum tlm__num_opt {
    TLM_OPT_MAX_EVENT_BYTES,
    TLM_OPT_MAX_BATCH_EVENTS,
    TLM_OPT_MAX_FUTURE_S,
    TLM_OPT_RETENTION_DAYS,
    TLM_OPT_MAX_HEADER_BYTES,
    TLM_OPT_MAX_CONNECTIONS,
    TLM_OPT_CONNECTION_TIMEOUT,
    TLM_OPT_MAX_PER_IP,
    TLM_OPT_MAX_WRITE_QUEUE,
    TLM_OPT_DRAIN_TIMEOUT,
    TLM_OPT_KEYS_REFRESH,
    TLM_OPT_MAX_JSON_DEPTH,
    TLM_NUM_OPTS
};

struct tlm__num_option {
    const char *flag; /* "--max-event-bytes" */
    const char *key; /* "max_event_bytes" in the server section */
    unsigned long min;
    unsigned long max;
};

extern const struct tlm__num_option tlm__num_options[TLM_NUM_OPTS];

/* Stores v (already checked against the option's range) into c. */
void tlm__num_option_store(
    struct tlm__server_config *c, enum tlm__num_opt o, unsigned long v);

/* Sets the defaults of every operations option (limits, logs, rates). */
void tlm__ops_defaults(struct tlm__server_config *c);

/* Sets tier name's rate from "EVENTS_PER_S:BURST" (s) or numbers; what
 * names the source in the error message. EVENTS_PER_S 0 means unlimited. */
int tlm__rate_tier_set(struct tlm__server_config *c, const char *name,
    double events_per_second, double burst, const char *what, char *err,
    size_t err_size);
int tlm__rate_tier_parse(struct tlm__server_config *c, const char *name,
    const char *s, const char *what, char *err, size_t err_size);

/* The rate of access tier tier ("" or NULL: "default"); a tier without a
 * rule takes the "default" tier's, and no "default": unlimited. */
struct tlm__rate_rule tlm__rate_for_tier(
    const struct tlm__rate_tier *tiers, size_t n_tiers, const char *tier);

/* Sets the admin token; what names the source in the error message. */
int tlm__admin_token_set(struct tlm__server_config *c, const char *v,
    const char *what, char *err, size_t err_size);

#endif
