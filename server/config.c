/* Command-line flags, environment variables and option validation for
 * telemetry-server. Owns the strings in struct tlm__server_config. Must never
 * print a secret, and never accept a value it cannot use exactly. */
#include "config.h"

#include "config_file.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SECRET 512

static const char usage[]
    = "Usage: telemetry-server [OPTIONS]\n"
      "       telemetry-server keys create|list|revoke ... (keys --help)\n"
      "Receives libtelemetry batches over HTTP and stores them.\n"
      "\n"
      "  --listen HOST:PORT       address to listen on "
      "(default " TLM_DEFAULT_LISTEN ");\n"
      "                           port 0 picks a free port, printed on stdout\n"
      "  --db URL                 sqlite:PATH or postgresql://... "
      "(default " TLM_DEFAULT_DB ")\n"
      "  --api-key KEY[,KEY...]   ingestion keys (env TELEMETRY_API_KEYS); "
      "each\n"
      "                           KEY[;organization=O][;tier=T]"
      "[;environment=E]\n"
      "  --keys-refresh S         re-read the database's keys every S s "
      "(default\n"
      "                           10; 0: only at start and on SIGHUP)\n"
      "  --admin-token TOKEN      admin token (env TELEMETRY_ADMIN_TOKEN)\n"
      "  --config FILE            JSON configuration; reads its \"server\" "
      "section\n"
      "  --threads N              HTTP worker threads (default: CPUs, at least "
      "2)\n"
      "  --port-file PATH         write the bound port number to PATH\n"
      "  -h, --help               print this help and exit\n"
      "  -V, --version            print the version and exit\n"
      "\n"
      "Limits and testing aids (see docs/http-api.md):\n"
      "  --max-body-bytes N       request body cap on the wire (default "
      "1048576)\n"
      "  --max-inflated-bytes N   body cap after gzip inflate (default "
      "8388608)\n"
      "  --max-event-bytes N      one event's JSON text (default 65536)\n"
      "  --max-batch-events N     events per batch (default 1000)\n"
      "  --max-json-depth N       JSON nesting of a body, 1..32 (default "
      "32)\n"
      "  --max-future-seconds N   refuse events timestamped further ahead\n"
      "                           (default 86400; 0: no check)\n"
      "  --retention-days N       refuse events older than this (default 30;"
      "\n"
      "                           0: no check)\n"
      "  --max-header-bytes N     per-connection header memory (default "
      "32768)\n"
      "  --max-connections N      open connections in all (default 1000)\n"
      "  --max-connections-per-ip N  (default 64; 0: no cap)\n"
      "  --connection-timeout S   idle connection timeout (default 30)\n"
      "  --rate-limit EPS:BURST   per-key rate of tier \"default\" in "
      "events/s\n"
      "                           and burst (default: unlimited)\n"
      "  --max-write-queue N      batches waiting for the store before 503\n"
      "                           (default: 2 x threads)\n"
      "  --fault STATUS:COUNT[:RETRY_AFTER_S]\n"
      "                           answer the next COUNT POST /v1/batch with "
      "STATUS\n"
      "                           (and Retry-After), storing nothing\n"
      "\n"
      "Operations:\n"
      "  --log-file PATH          JSON log lines to PATH (default stderr);\n"
      "                           SIGHUP reopens it\n"
      "  --log-level LEVEL        debug, info (default), warn or error\n"
      "  --drain-timeout S        on SIGTERM, wait up to S s for requests\n"
      "                           in flight (default 10)\n"
      "\n"
      "Precedence: flags > environment > --config file > defaults.\n";

/* Raw flag values, applied after the file and the environment. */
struct cli {
    const char *listen, *db, *admin_token, *config, *port_file;
    const char *max_body, *max_inflated, *fault, *threads;
    const char *rate_limit, *log_file, *log_level;
    const char *num[TLM_NUM_OPTS];
    const char *api_keys[16];
    size_t n_api_keys;
    char **argv;
};

int
tlm__parse_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
tlm__listen_parse(const char *s, char *host, size_t host_size, uint16_t *port)
{
    const char *colon, *h = s;
    size_t hlen;
    unsigned long p;
    if (s == NULL)
        return -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= host_size
        || tlm__parse_ulong(colon + 1, 0, 65535, &p) != 0)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int
tlm__fault_parse(const char *s, struct tlm__server_config *c)
{
    char buf[64];
    char *count, *retry;
    unsigned long status, n, ra = 0;
    if (s == NULL || strlen(s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, strlen(s) + 1);
    count = strchr(buf, ':');
    if (count == NULL)
        return -1;
    *count++ = '\0';
    retry = strchr(count, ':');
    if (retry != NULL)
        *retry++ = '\0';
    if (tlm__parse_ulong(buf, 400, 599, &status) != 0
        || tlm__parse_ulong(count, 0, 1000000000UL, &n) != 0
        || (retry != NULL && tlm__parse_ulong(retry, 0, 86400, &ra) != 0))
        return -1;
    c->fault_status = (int)status;
    c->fault_count = n;
    c->fault_retry_after = retry != NULL ? (long)ra : -1;
    return 0;
}

static int
set_string(char **dst, const char *v)
{
    char *copy = strdup(v);
    if (copy == NULL)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

int
tlm__admin_token_set(struct tlm__server_config *c, const char *v,
    const char *what, char *err, size_t err_size)
{
    if (!tlm__secret_valid(v, strlen(v))) {
        snprintf(err, err_size,
            "%s: token must be 1..512 printable characters without "
            "spaces or commas",
            what);
        return -1;
    }
    return set_string(&c->admin_token, v);
}

static unsigned
default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        return 2;
    return n > 64 ? 64 : (unsigned)n;
}

static int
set_defaults(struct tlm__server_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_body_bytes = TLM_DEFAULT_MAX_BODY;
    c->max_inflated_bytes = TLM_DEFAULT_MAX_INFLATED;
    c->threads = default_threads();
    c->fault_retry_after = -1;
    tlm__ops_defaults(c);
    tlm__feedback_config_defaults(&c->feedback);
    tlm__alert_policy_defaults(&c->alerts);
    tlm__analytics_config_defaults(&c->analytics);
    if (tlm__listen_parse(
            TLM_DEFAULT_LISTEN, c->host, sizeof(c->host), &c->port)
        != 0)
        return -1;
    return set_string(&c->db_url, TLM_DEFAULT_DB);
}

static int
apply_env(struct tlm__server_config *c, char *err, size_t err_size)
{
    const char *keys = getenv("TELEMETRY_API_KEYS");
    const char *token = getenv("TELEMETRY_ADMIN_TOKEN");
    if (keys != NULL && keys[0] != '\0'
        && tlm__api_keys_set_csv(c, keys, "TELEMETRY_API_KEYS", err, err_size)
            != 0)
        return -1;
    if (token != NULL && token[0] != '\0'
        && tlm__admin_token_set(
               c, token, "TELEMETRY_ADMIN_TOKEN", err, err_size)
            != 0)
        return -1;
    return 0;
}

static int
bad_flag(char *err, size_t err_size, const char *flag, const char *expect)
{
    snprintf(err, err_size, "%s: expected %s", flag, expect);
    return -1;
}

static int
apply_cli_ops(
    struct tlm__server_config *c, const struct cli *f, char *err, size_t n)
{
    unsigned long v;
    char range[64];
    for (int i = 0; i < TLM_NUM_OPTS; i++) {
        const struct tlm__num_option *o = &tlm__num_options[i];
        if (f->num[i] == NULL)
            continue;
        if (tlm__parse_ulong(f->num[i], o->min, o->max, &v) != 0) {
            snprintf(range, sizeof(range), "%lu..%lu", o->min, o->max);
            return bad_flag(err, n, o->flag, range);
        }
        tlm__num_option_store(c, (enum tlm__num_opt)i, v);
    }
    if (f->rate_limit != NULL
        && tlm__rate_tier_parse(
               c, "default", f->rate_limit, "--rate-limit", err, n)
            != 0)
        return -1;
    if (f->log_level != NULL
        && tlm__log_level_parse(f->log_level, &c->log_level) != 0)
        return bad_flag(err, n, "--log-level", "debug, info, warn or error");
    if (f->log_file != NULL && set_string(&c->log_file, f->log_file) != 0)
        return -1;
    return 0;
}

static int
apply_cli_limits(
    struct tlm__server_config *c, const struct cli *f, char *err, size_t n)
{
    unsigned long v;
    if (f->max_body != NULL) {
        if (tlm__parse_ulong(f->max_body, 1, 1UL << 30, &v) != 0)
            return bad_flag(err, n, "--max-body-bytes", "1..1073741824");
        c->max_body_bytes = v;
    }
    if (f->max_inflated != NULL) {
        if (tlm__parse_ulong(f->max_inflated, 1, 1UL << 30, &v) != 0)
            return bad_flag(err, n, "--max-inflated-bytes", "1..1073741824");
        c->max_inflated_bytes = v;
    }
    if (f->threads != NULL) {
        if (tlm__parse_ulong(f->threads, 1, 256, &v) != 0)
            return bad_flag(err, n, "--threads", "1..256");
        c->threads = (unsigned)v;
    }
    if (f->fault != NULL && tlm__fault_parse(f->fault, c) != 0)
        return bad_flag(err, n, "--fault",
            "STATUS:COUNT[:RETRY_AFTER_S] with STATUS 400..599");
    return apply_cli_ops(c, f, err, n);
}

static int
apply_cli(
    struct tlm__server_config *c, const struct cli *f, char *err, size_t n)
{
    if (f->listen != NULL
        && tlm__listen_parse(f->listen, c->host, sizeof(c->host), &c->port)
            != 0)
        return bad_flag(err, n, "--listen", "HOST:PORT or [IPV6]:PORT");
    if (f->db != NULL && set_string(&c->db_url, f->db) != 0)
        return -1;
    if (f->port_file != NULL && set_string(&c->port_file, f->port_file) != 0)
        return -1;
    if (f->admin_token != NULL
        && tlm__admin_token_set(c, f->admin_token, "--admin-token", err, n)
            != 0)
        return -1;
    if (f->n_api_keys > 0)
        tlm__api_keys_free(c);
    for (size_t i = 0; i < f->n_api_keys; i++) {
        if (tlm__api_keys_append_csv(c, f->api_keys[i], "--api-key", err, n)
            != 0)
            return -1;
    }
    return apply_cli_limits(c, f, err, n);
}

/* getopt values of the numeric operations flags: NUM_FLAG(i) is
 * tlm__num_options[i], in the order of enum tlm__num_opt. */
#define NUM_FLAG(i) (1000 + (i))
_Static_assert(TLM_NUM_OPTS == 12, "one long option per numeric option");

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"db", required_argument, NULL, 'd'},
    {"api-key", required_argument, NULL, 'k'},
    {"admin-token", required_argument, NULL, 'a'},
    {"config", required_argument, NULL, 'c'},
    {"port-file", required_argument, NULL, 'p'},
    {"max-body-bytes", required_argument, NULL, 'B'},
    {"max-inflated-bytes", required_argument, NULL, 'I'},
    {"fault", required_argument, NULL, 'f'},
    {"threads", required_argument, NULL, 't'},
    {"rate-limit", required_argument, NULL, 'r'},
    {"log-file", required_argument, NULL, 'L'},
    {"log-level", required_argument, NULL, 'v'},
    {"max-event-bytes", required_argument, NULL, NUM_FLAG(0)},
    {"max-batch-events", required_argument, NULL, NUM_FLAG(1)},
    {"max-future-seconds", required_argument, NULL, NUM_FLAG(2)},
    {"retention-days", required_argument, NULL, NUM_FLAG(3)},
    {"max-header-bytes", required_argument, NULL, NUM_FLAG(4)},
    {"max-connections", required_argument, NULL, NUM_FLAG(5)},
    {"connection-timeout", required_argument, NULL, NUM_FLAG(6)},
    {"max-connections-per-ip", required_argument, NULL, NUM_FLAG(7)},
    {"max-write-queue", required_argument, NULL, NUM_FLAG(8)},
    {"drain-timeout", required_argument, NULL, NUM_FLAG(9)},
    {"keys-refresh", required_argument, NULL, NUM_FLAG(10)},
    {"max-json-depth", required_argument, NULL, NUM_FLAG(11)},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Stores one flag's value; returns 0, 1 (help/version) or -1. */
static int
take_flag(struct cli *f, int opt, char *err, size_t n)
{
    const char **slot[] = {
        ['l'] = &f->listen,
        ['d'] = &f->db,
        ['a'] = &f->admin_token,
        ['c'] = &f->config,
        ['p'] = &f->port_file,
        ['B'] = &f->max_body,
        ['I'] = &f->max_inflated,
        ['f'] = &f->fault,
        ['t'] = &f->threads,
        ['r'] = &f->rate_limit,
        ['L'] = &f->log_file,
        ['v'] = &f->log_level,
    };
    if (opt == 'h') {
        fputs(usage, stdout);
        return 1;
    }
    if (opt == 'V') {
        printf("telemetry-server %s\n", TLM_SERVER_VERSION);
        return 1;
    }
    if (opt >= NUM_FLAG(0) && opt < NUM_FLAG(TLM_NUM_OPTS)) {
        f->num[opt - NUM_FLAG(0)] = optarg;
        return 0;
    }
    if (opt == 'k') {
        if (f->n_api_keys == sizeof(f->api_keys) / sizeof(f->api_keys[0]))
            return bad_flag(err, n, "--api-key", "at most 16 occurrences");
        f->api_keys[f->n_api_keys++] = optarg;
        return 0;
    }
    if (opt > 0 && (size_t)opt < sizeof(slot) / sizeof(slot[0])
        && slot[opt] != NULL) {
        *slot[opt] = optarg;
        return 0;
    }
    if (optopt != 0 || optind < 2)
        snprintf(err, n, "unknown option or missing value (try --help)");
    else
        snprintf(err, n, "%s: unknown option or missing value (try --help)",
            f->argv[optind - 1]);
    return -1;
}

static int
parse_argv(struct cli *f, int argc, char **argv, char *err, size_t n)
{
    int opt;
    opterr = 0;
    optind = 1;
    f->argv = argv;
    while ((opt = getopt_long(argc, argv, "hV", long_opts, NULL)) != -1) {
        int rc = take_flag(f, opt, err, n);
        if (rc != 0)
            return rc;
    }
    if (optind < argc) {
        snprintf(
            err, n, "unexpected argument \"%s\" (try --help)", argv[optind]);
        return -1;
    }
    return 0;
}

/* The admin token must not also be an ingestion key. Whether any key
 * exists at all is main's check: the database may hold them. */
static int
check_final(const struct tlm__server_config *c, char *err, size_t n)
{
    unsigned char admin[32];
    if (c->admin_token == NULL)
        return 0;
    SHA256(
        (const unsigned char *)c->admin_token, strlen(c->admin_token), admin);
    for (size_t i = 0; i < c->n_api_keys; i++) {
        if (memcmp(c->api_keys[i].sha256, admin, sizeof(admin)) == 0) {
            snprintf(err, n, "--admin-token: must differ from every API key");
            return -1;
        }
    }
    return 0;
}

enum tlm__config_outcome
tlm__server_config_load(struct tlm__server_config *c, int argc, char **argv,
    char *err, size_t err_size)
{
    struct cli f;
    memset(&f, 0, sizeof(f));
    err[0] = '\0';
    if (set_defaults(c) != 0)
        goto fail;
    int rc = parse_argv(&f, argc, argv, err, err_size);
    if (rc == 1) {
        tlm__server_config_free(c);
        return TLM_CONFIG_EXIT;
    }
    if (rc != 0)
        goto fail;
    if (f.config != NULL
        && tlm__config_file_apply(c, f.config, err, err_size) != 0)
        goto fail;
    if (apply_env(c, err, err_size) != 0 || apply_cli(c, &f, err, err_size) != 0
        || check_final(c, err, err_size) != 0)
        goto fail;
    return TLM_CONFIG_RUN;
fail:
    if (err[0] == '\0')
        snprintf(err, err_size, "out of memory");
    tlm__server_config_free(c);
    return TLM_CONFIG_ERROR;
}

void
tlm__server_config_free(struct tlm__server_config *c)
{
    tlm__api_keys_free(c);
    tlm__feedback_config_free(&c->feedback);
    tlm__analytics_config_free(&c->analytics);
    free(c->db_url);
    free(c->admin_token);
    free(c->port_file);
    free(c->log_file);
    c->log_file = NULL;
    c->db_url = NULL;
    c->admin_token = NULL;
    c->port_file = NULL;
}
