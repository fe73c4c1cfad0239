/* The operations options of telemetry-server (hostile-input limits,
 * connection limits, rate-limit tiers, logs, draining): their ranges,
 * defaults and storage, shared by the flag and config-file parsers. Must
 * never accept a value the HTTP layer cannot apply exactly. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct tlm__num_option tlm__num_options[TLM_NUM_OPTS] = {
    [TLM_OPT_MAX_EVENT_BYTES]
    = {"--max-event-bytes", "max_event_bytes", 64, 1UL << 30},
    [TLM_OPT_MAX_BATCH_EVENTS]
    = {"--max-batch-events", "max_batch_events", 1, 1000000},
    [TLM_OPT_MAX_FUTURE_S]
    = {"--max-future-seconds", "max_future_seconds", 0, 10UL * 365 * 86400},
    [TLM_OPT_RETENTION_DAYS] = {"--retention-days", "retention_days", 0, 36500},
    [TLM_OPT_MAX_HEADER_BYTES]
    = {"--max-header-bytes", "max_header_bytes", 4096, 1UL << 24},
    [TLM_OPT_MAX_CONNECTIONS]
    = {"--max-connections", "max_connections", 1, 1000000},
    [TLM_OPT_CONNECTION_TIMEOUT]
    = {"--connection-timeout", "connection_timeout_seconds", 1, 86400},
    [TLM_OPT_MAX_PER_IP]
    = {"--max-connections-per-ip", "max_connections_per_ip", 0, 1000000},
    [TLM_OPT_MAX_WRITE_QUEUE]
    = {"--max-write-queue", "max_write_queue", 0, 100000},
    [TLM_OPT_DRAIN_TIMEOUT]
    = {"--drain-timeout", "drain_timeout_seconds", 0, 3600},
    [TLM_OPT_KEYS_REFRESH]
    = {"--keys-refresh", "keys_refresh_seconds", 0, 86400},
    [TLM_OPT_MAX_JSON_DEPTH]
    = {"--max-json-depth", "max_json_depth", 1, TLM_DEFAULT_MAX_JSON_DEPTH},
};

void
tlm__num_option_store(
    struct tlm__server_config *c, enum tlm__num_opt o, unsigned long v)
{
    switch (o) {
    case TLM_OPT_MAX_EVENT_BYTES:
        c->max_event_bytes = v;
        break;
    case TLM_OPT_MAX_BATCH_EVENTS:
        c->max_batch_events = v;
        break;
    case TLM_OPT_MAX_FUTURE_S:
        c->max_future_s = v;
        break;
    case TLM_OPT_RETENTION_DAYS:
        c->retention_days = v;
        break;
    case TLM_OPT_MAX_HEADER_BYTES:
        c->max_header_bytes = v;
        break;
    case TLM_OPT_MAX_CONNECTIONS:
        c->max_connections = (unsigned)v;
        break;
    case TLM_OPT_CONNECTION_TIMEOUT:
        c->connection_timeout_s = (unsigned)v;
        break;
    case TLM_OPT_MAX_PER_IP:
        c->max_connections_per_ip = (unsigned)v;
        break;
    case TLM_OPT_MAX_WRITE_QUEUE:
        c->max_write_queue = (long)v;
        break;
    case TLM_OPT_DRAIN_TIMEOUT:
        c->drain_timeout_s = (unsigned)v;
        break;
    case TLM_OPT_MAX_JSON_DEPTH:
        c->max_json_depth = (unsigned)v;
        break;
    default:
        c->keys_refresh_s = (unsigned)v;
        break;
    }
}

void
tlm__ops_defaults(struct tlm__server_config *c)
{
    c->max_event_bytes = TLM_DEFAULT_MAX_EVENT;
    c->max_batch_events = TLM_DEFAULT_MAX_BATCH_EVENTS;
    c->max_json_depth = TLM_DEFAULT_MAX_JSON_DEPTH;
    c->max_future_s = TLM_DEFAULT_MAX_FUTURE_S;
    c->retention_days = TLM_DEFAULT_RETENTION_DAYS;
    c->max_header_bytes = TLM_DEFAULT_MAX_HEADER;
    c->max_connections = TLM_DEFAULT_MAX_CONNECTIONS;
    c->connection_timeout_s = TLM_DEFAULT_CONNECTION_TIMEOUT_S;
    c->max_connections_per_ip = TLM_DEFAULT_MAX_PER_IP;
    c->max_write_queue = -1;
    c->n_tiers = 0;
    c->log_file = NULL;
    c->log_level = TLM_LOG_INFO;
    c->drain_timeout_s = TLM_DEFAULT_DRAIN_S;
    c->keys_refresh_s = TLM_DEFAULT_KEYS_REFRESH_S;
}

static bool
tier_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TLM_TIER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

int
tlm__rate_tier_set(struct tlm__server_config *c, const char *name,
    double events_per_second, double burst, const char *what, char *err,
    size_t err_size)
{
    struct tlm__rate_tier *t = NULL;
    if (!tier_name_valid(name)) {
        snprintf(err, err_size,
            "%s: tier names are 1..63 letters, digits, '_' or '-'", what);
        return -1;
    }
    if (!(events_per_second >= 0 && events_per_second <= 1e9)
        || !(burst >= 0 && burst <= 1e9)
        || (events_per_second > 0 && burst < 1)) {
        snprintf(err, err_size,
            "%s: expected events_per_second 0..1e9 (0: unlimited) and burst "
            "1..1e9",
            what);
        return -1;
    }
    for (size_t i = 0; i < c->n_tiers && t == NULL; i++) {
        if (strcmp(c->tiers[i].name, name) == 0)
            t = &c->tiers[i];
    }
    if (t == NULL) {
        if (c->n_tiers == TLM_RATE_TIERS_MAX) {
            snprintf(err, err_size, "%s: at most %d tiers", what,
                TLM_RATE_TIERS_MAX);
            return -1;
        }
        t = &c->tiers[c->n_tiers++];
        snprintf(t->name, sizeof(t->name), "%s", name);
    }
    t->rule.events_per_second = events_per_second;
    t->rule.burst = burst;
    return 0;
}

int
tlm__rate_tier_parse(struct tlm__server_config *c, const char *name,
    const char *s, const char *what, char *err, size_t err_size)
{
    char buf[64];
    char *colon;
    unsigned long eps, burst;
    if (s == NULL || strlen(s) >= sizeof(buf))
        goto bad;
    memcpy(buf, s, strlen(s) + 1);
    colon = strchr(buf, ':');
    if (colon == NULL)
        goto bad;
    *colon = '\0';
    if (tlm__parse_ulong(buf, 0, 1000000000UL, &eps) != 0
        || tlm__parse_ulong(colon + 1, 1, 1000000000UL, &burst) != 0)
        goto bad;
    return tlm__rate_tier_set(
        c, name, (double)eps, (double)burst, what, err, err_size);
bad:
    snprintf(err, err_size,
        "%s: expected EVENTS_PER_S:BURST (0:1 for unlimited)", what);
    return -1;
}

struct tlm__rate_rule
tlm__rate_for_tier(
    const struct tlm__rate_tier *tiers, size_t n_tiers, const char *tier)
{
    struct tlm__rate_rule none = {0, 0};
    const struct tlm__rate_tier *fallback = NULL;
    if (tier == NULL || tier[0] == '\0')
        tier = "default";
    for (size_t i = 0; i < n_tiers; i++) {
        if (strcmp(tiers[i].name, tier) == 0)
            return tiers[i].rule;
        if (strcmp(tiers[i].name, "default") == 0)
            fallback = &tiers[i];
    }
    return fallback != NULL ? fallback->rule : none;
}
