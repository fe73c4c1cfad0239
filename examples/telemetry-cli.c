/*
 * telemetry-cli.c - libtelemetry for shell scripts and CI: `send` reads
 * events as JSON lines on stdin and tracks each through the SDK (privacy,
 * sampling and batching apply), then flushes within --timeout-ms.
 * A bad line is reported with its number and skipped, never fatal.
 * `feedback`, `feature-request`, `feature-requests` and `vote` make one
 * request each through the SDK and print the answer (--json: verbatim).
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_api.h"
#include "example_util.h"
#include "telemetry.h"

struct cli_args {
    const char *endpoint;
    const char *api_key;
    const char *config;
    const char *environment;
    uint32_t timeout_ms;
    uint32_t queue_events;
};

struct send_totals {
    uint64_t lines;
    uint64_t queued;
    uint64_t bad;
    uint64_t full; /* still full after a flush: really dropped */
    uint64_t disabled;
};

/* One parsed line; `details` is cJSON's allocation, `root` owns the rest. */
struct line_event {
    cJSON *root;
    char *details;
    tlm_request req;
};

static void
usage(FILE *out)
{
    fprintf(out,
        "usage: telemetry-cli [--endpoint URL] [--api-key KEY] [--config "
        "FILE]\n"
        "                     [--env sandbox|production] [--timeout-ms MS]\n"
        "                     [--queue-events N] COMMAND\n"
        "       telemetry-cli --help | --version\n"
        "\n"
        "Commands:\n"
        "  send    read events as JSON lines on stdin and send them, e.g.\n"
        "          {\"endpoint\":\"/v1/x\",\"method\":\"GET\","
        "\"response_status\":200,\n"
        "           \"response_time\":12.5,\"user_id\":\"u1\"}\n"
        "  stats   print the counters of a new, empty client\n"
        "  feedback --type T --content TEXT ...   submit feedback\n"
        "  feature-request --title T ...          submit a feature request\n"
        "  feature-requests [--sort S] ...        list feature requests\n"
        "  vote ID [--withdraw]                   vote for one\n"
        "  (COMMAND --help describes each)\n"
        "\n"
        "--endpoint and --api-key default to $TELEMETRY_ENDPOINT and\n"
        "$TELEMETRY_API_KEY, then to the --config file. Events still unsent\n"
        "after --timeout-ms (default 10000) are dropped.\n"
        "Exit status: 0 all delivered, 1 a bad line or a lost event (or\n"
        "a request not delivered), 2 bad usage, 3 refused by the server.\n");
}

static int
parse_flag(struct cli_args *a, int opt, const char *val)
{
    switch (opt) {
    case 'e':
        a->endpoint = val;
        return 0;
    case 'k':
        a->api_key = val;
        return 0;
    case 'c':
        a->config = val;
        return 0;
    case 'E':
        a->environment = val;
        return (strcmp(val, "sandbox") == 0 || strcmp(val, "production") == 0)
            ? 0
            : -1;
    case 'T':
        return ex_parse_u32(val, 1, 3600000u, &a->timeout_ms);
    case 'q':
        return ex_parse_u32(val, 16, 16777216u, &a->queue_events);
    default:
        return -1;
    }
}

/* An empty variable counts as unset, as in most tools. */
static const char *
env_value(const char *name)
{
    const char *value = getenv(name);

    return (value != NULL && value[0] != '\0') ? value : NULL;
}

/* Returns -1 to run, else the exit status (help, version, usage error). */
static int
parse_args(int argc, char **argv, struct cli_args *a)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"api-key", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"env", required_argument, NULL, 'E'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"queue-events", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    int ix = 0;

    /* '+': options end at the command, like git. */
    while ((opt = getopt_long(argc, argv, "+hV", longopts, &ix)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return EXIT_OK;
        }
        if (opt == 'V') {
            printf("telemetry-cli %s (libtelemetry %s)\n", TLM_VERSION_STRING,
                tlm_version());
            return EXIT_OK;
        }
        if (opt == '?')
            goto bad;
        if (parse_flag(a, opt, optarg) != 0) {
            fprintf(stderr, "telemetry-cli: bad value '%s' for --%s\n", optarg,
                longopts[ix].name);
            goto bad;
        }
    }
    if (a->endpoint == NULL)
        a->endpoint = env_value("TELEMETRY_ENDPOINT");
    if (a->api_key == NULL)
        a->api_key = env_value("TELEMETRY_API_KEY");
    return -1;
bad:
    usage(stderr);
    return EXIT_USAGE;
}

static int
create_client(const struct cli_args *a, tlm_client **out)
{
    struct ex_client_args ca = {
        .prog = "telemetry-cli",
        .endpoint = a->endpoint,
        .api_key = a->api_key,
        .config = a->config,
        .environment = a->environment,
        .binding = "telemetry-cli",
        .default_queue_events = 65536,
        .queue_events = a->queue_events,
    };

    return ex_client_create(&ca, out);
}

static int
line_error(char *err, size_t len, const char *what, const char *key)
{
    snprintf(err, len, "\"%s\" %s", key, what);
    return -1;
}

/* Optional string field: absent or null leaves *out NULL. */
static int
get_string(const cJSON *obj, const char *key, const char **out, char *err,
    size_t errlen)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (item == NULL || cJSON_IsNull(item))
        return 0;
    if (!cJSON_IsString(item))
        return line_error(err, errlen, "must be a string", key);
    *out = item->valuestring;
    return 0;
}

static int
get_numbers(const cJSON *obj, tlm_request *req, char *err, size_t errlen)
{
    const cJSON *status
        = cJSON_GetObjectItemCaseSensitive(obj, "response_status");
    const cJSON *time = cJSON_GetObjectItemCaseSensitive(obj, "response_time");

    if (status != NULL && !cJSON_IsNull(status)) {
        double v = cJSON_GetNumberValue(status);

        if (!cJSON_IsNumber(status) || v != floor(v) || v < 0 || v > 999)
            return line_error(
                err, errlen, "must be an integer 0..999", "response_status");
        req->response_status = (int)v;
    }
    if (time != NULL && !cJSON_IsNull(time)) {
        double v = cJSON_GetNumberValue(time);

        if (!cJSON_IsNumber(time) || !isfinite(v) || v < 0)
            return line_error(err, errlen,
                "must be a number of milliseconds >= 0", "response_time");
        req->response_time_ms = v;
    }
    return 0;
}

static int
get_details(const cJSON *obj, struct line_event *ev, char *err, size_t errlen)
{
    const cJSON *item
        = cJSON_GetObjectItemCaseSensitive(obj, "request_details");

    if (item == NULL || cJSON_IsNull(item))
        return 0;
    if (!cJSON_IsObject(item))
        return line_error(err, errlen, "must be an object", "request_details");
    ev->details = cJSON_PrintUnformatted(item);
    if (ev->details == NULL)
        return line_error(
            err, errlen, "could not be re-encoded", "request_details");
    ev->req.request_details = ev->details;
    return 0;
}

static int
get_fields(const cJSON *obj, struct line_event *ev, char *err, size_t errlen)
{
    tlm_request *req = &ev->req;
    const char *type = NULL;

    if (get_string(obj, "type", &type, err, errlen) != 0)
        return -1;
    if (type != NULL && strcmp(type, "request") != 0)
        return line_error(err, errlen, "must be \"request\"", "type");
    if (get_string(obj, "endpoint", &req->endpoint, err, errlen) != 0)
        return -1;
    if (req->endpoint == NULL || req->endpoint[0] == '\0')
        return line_error(err, errlen, "is required", "endpoint");
    if (get_string(obj, "method", &req->method, err, errlen) != 0
        || get_string(obj, "user_id", &req->user_id, err, errlen) != 0
        || get_string(
               obj, "organization_id", &req->organization_id, err, errlen)
            != 0
        || get_string(obj, "access_tier", &req->access_tier, err, errlen) != 0)
        return -1;
    if (get_numbers(obj, req, err, errlen) != 0)
        return -1;
    return get_details(obj, ev, err, errlen);
}

/* 0 and a filled *ev, or -1 with a message in err; free with line_free. */
static int
line_parse(const char *line, size_t len, struct line_event *ev, char *err,
    size_t errlen)
{
    tlm_request init = TLM_REQUEST_INIT;

    ev->req = init;
    ev->details = NULL;
    ev->root = NULL;
    if (strlen(line) != len) {
        snprintf(err, errlen, "contains a NUL byte");
        return -1;
    }
    ev->root = cJSON_ParseWithLength(line, len);
    if (ev->root == NULL) {
        snprintf(err, errlen, "not valid JSON");
        return -1;
    }
    if (!cJSON_IsObject(ev->root)) {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    return get_fields(ev->root, ev, err, errlen);
}

static void
line_free(struct line_event *ev)
{
    cJSON_free(ev->details);
    cJSON_Delete(ev->root);
}

static int
is_blank(const char *line)
{
    return line[strspn(line, " \t\r\n")] == '\0';
}

/* A full queue is back-pressure here: flush, then try once more. */
static int
track(tlm_client *client, const tlm_request *req, uint32_t timeout_ms)
{
    int rc = tlm_track_request(client, req);

    if (rc == TLM_EFULL) {
        (void)tlm_client_flush(client, timeout_ms);
        rc = tlm_track_request(client, req);
    }
    return rc;
}

static void
send_line(tlm_client *client, const struct cli_args *a, const char *line,
    size_t len, struct send_totals *t)
{
    struct line_event ev;
    char err[160];
    int rc;

    if (line_parse(line, len, &ev, err, sizeof(err)) != 0) {
        fprintf(stderr, "telemetry-cli: line %" PRIu64 ": %s\n", t->lines, err);
        t->bad++;
        goto out;
    }
    rc = track(client, &ev.req, a->timeout_ms);
    if (rc == 0)
        t->queued++;
    else if (rc == TLM_EFULL)
        t->full++;
    else if (rc == TLM_EDISABLED)
        t->disabled++;
    else {
        fprintf(stderr, "telemetry-cli: line %" PRIu64 ": %s\n", t->lines,
            tlm_strerror(rc));
        t->bad++;
    }
out:
    line_free(&ev);
}

static int
read_lines(tlm_client *client, const struct cli_args *a, struct send_totals *t)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;

    while ((len = getline(&line, &cap, stdin)) >= 0) {
        t->lines++;
        if (!is_blank(line))
            send_line(client, a, line, (size_t)len, t);
    }
    if (ferror(stdin)) {
        perror("telemetry-cli: reading stdin");
        rc = -1;
    }
    free(line);
    return rc;
}

/* Losses the SDK counted; queue-full retries are counted by the caller. */
static uint64_t
sdk_lost(const tlm_stats *s)
{
    return ex_stats_lost(s) - s->dropped_queue_full;
}

static int
cmd_send(tlm_client *client, const struct cli_args *a)
{
    struct send_totals t = {0};
    tlm_stats stats;
    double start = ex_now_ms();
    int read_rc = read_lines(client, a, &t);
    int close_rc = tlm_client_close(client, a->timeout_ms);
    uint64_t lost;

    tlm_stats_init(&stats);
    (void)tlm_client_stats(client, &stats);
    lost = sdk_lost(&stats) + t.full;
    fprintf(stderr,
        "telemetry-cli: %" PRIu64 " lines, %" PRIu64 " events queued, %" PRIu64
        " sent, %" PRIu64 " bad, %" PRIu64 " dropped%s, %.0f ms\n",
        t.lines, t.queued, stats.sent, t.bad, lost,
        t.disabled != 0 ? " (telemetry is disabled)" : "", ex_now_ms() - start);
    if (read_rc != 0 || t.bad != 0 || lost != 0 || close_rc != 0)
        return EXIT_LOST;
    return EXIT_OK;
}

static int
cmd_stats(tlm_client *client, const struct cli_args *a)
{
    tlm_stats stats;
    int rc = tlm_client_close(client, a->timeout_ms);

    tlm_stats_init(&stats);
    if (tlm_client_stats(client, &stats) != 0)
        return EXIT_LOST;
    ex_print_stats(stdout, &stats);
    return rc == 0 ? EXIT_OK : EXIT_LOST;
}

static int
check_command(const char *cmd, int extra_args, const struct cli_args *a)
{
    if (find_api_command(cmd) != NULL) {
        if (a->config == NULL && (a->endpoint == NULL || a->api_key == NULL)) {
            fprintf(stderr,
                "telemetry-cli: %s needs --endpoint and --api-key "
                "(or their environment variables, or a --config)\n",
                cmd);
            goto bad;
        }
        return -1;
    }
    if (strcmp(cmd, "send") != 0 && strcmp(cmd, "stats") != 0) {
        fprintf(stderr, "telemetry-cli: unknown command '%s'\n", cmd);
        goto bad;
    }
    if (extra_args != 0) {
        fprintf(stderr, "telemetry-cli: '%s' takes no arguments\n", cmd);
        goto bad;
    }
    if (strcmp(cmd, "send") == 0 && a->config == NULL
        && (a->endpoint == NULL || a->api_key == NULL)) {
        fprintf(stderr,
            "telemetry-cli: send needs --endpoint and --api-key "
            "(or their environment variables, or a --config)\n");
        goto bad;
    }
    return -1;
bad:
    usage(stderr);
    return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    struct cli_args args = {.timeout_ms = 10000};
    struct api_args api_args = {0};
    const struct api_command *api;
    tlm_client *client = NULL;
    const char *cmd;
    int status = parse_args(argc, argv, &args);

    if (status >= 0)
        goto out;
    if (optind >= argc) {
        fprintf(stderr, "telemetry-cli: no command given\n");
        usage(stderr);
        status = EXIT_USAGE;
        goto out;
    }
    cmd = argv[optind];
    api = find_api_command(cmd);
    /* A command's own --help needs no endpoint. */
    if (api != NULL) {
        status = api_parse(api, argc - optind, argv + optind, &api_args);
        if (status >= 0)
            goto out;
    }
    status = check_command(cmd, argc - optind - 1, &args);
    if (status >= 0)
        goto out;
    if (create_client(&args, &client) != 0) {
        status = EXIT_LOST;
        goto out;
    }
    if (api != NULL)
        status = cmd_api(client, api, &api_args, args.timeout_ms);
    else if (strcmp(cmd, "send") == 0)
        status = cmd_send(client, &args);
    else
        status = cmd_stats(client, &args);
out:
    tlm_client_free(client);
    return status;
}
