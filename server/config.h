/* Server options from, in rising precedence: built-in defaults, the
 * `server` section of --config FILE, TELEMETRY_API_KEYS /
 * TELEMETRY_ADMIN_TOKEN, and command-line flags. Must never start anything:
 * it only parses and validates, naming the flag or key at fault. */
#ifndef TLM_SERVER_CONFIG_H
#define TLM_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define TLM_SERVER_VERSION "0.1.0"
#define TLM_DEFAULT_LISTEN "127.0.0.1:8080"
#define TLM_DEFAULT_DB "sqlite:telemetry.db"
#define TLM_DEFAULT_MAX_BODY (1024u * 1024u)
#define TLM_DEFAULT_MAX_INFLATED (8u * 1024u * 1024u)
#define TLM_HOST_MAX 256

struct tlm__server_config {
    char host[TLM_HOST_MAX]; /* without IPv6 brackets */
    uint16_t port;
    char *db_url;
    char **api_keys;
    size_t n_api_keys;
    char *admin_token;
    char *port_file;
    size_t max_body_bytes;
    size_t max_inflated_bytes;
    unsigned threads;
    int fault_status; /* 0: no fault injection */
    unsigned long fault_count;
    long fault_retry_after; /* seconds, -1: no Retry-After header */
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

/* Parses "HOST:PORT" or "[V6]:PORT". Returns 0 or -1. */
int tlm__listen_parse(
    const char *s, char *host, size_t host_size, uint16_t *port);

/* Parses a decimal unsigned integer in [min, max], whole string. */
int tlm__parse_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Parses "STATUS:COUNT[:RETRY_AFTER_S]" into c's fault fields. */
int tlm__fault_parse(const char *s, struct tlm__server_config *c);

/* Replaces c's API keys with the comma-separated list s. */
int tlm__api_keys_set_csv(struct tlm__server_config *c, const char *s,
    const char *what, char *err, size_t err_size);

/* Sets the admin token; what names the source in the error message. */
int tlm__admin_token_set(struct tlm__server_config *c, const char *v,
    const char *what, char *err, size_t err_size);

#endif
