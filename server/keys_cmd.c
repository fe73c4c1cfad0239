/* `telemetry-server keys create|list|revoke`: key management against the
 * database a server uses (--db, or --config FILE's server.db). A created
 * key's secret is printed once, on stdout alone, and only its SHA-256 is
 * stored. Must never print a stored secret (there is none to print) nor
 * change a key it was not asked to. */
#include "keys_cmd.h"

#include "config.h"
#include "config_file.h"
#include "rfc3339.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char usage[]
    = "Usage: telemetry-server keys create [OPTIONS]\n"
      "       telemetry-server keys list [--json] [OPTIONS]\n"
      "       telemetry-server keys revoke ID [OPTIONS]\n"
      "Manages the API keys stored (as SHA-256 hashes) in the database.\n"
      "Servers re-read them every --keys-refresh seconds (default 10) and "
      "on SIGHUP.\n"
      "\n"
      "  --db URL              sqlite:PATH or postgresql://... "
      "(default " TLM_DEFAULT_DB ")\n"
      "  --config FILE         take the database from FILE's server.db\n"
      "create:\n"
      "  --organization NAME   the organization its events belong to\n"
      "  --tier NAME           access tier: its rate limit (rate_limits)\n"
      "  --environment ENV     production (default) or sandbox: wins over\n"
      "                        what its events claim\n"
      "  --name TEXT           a label for `keys list`\n"
      "  --admin               an admin key (the /admin/ routes) instead of\n"
      "                        an ingestion key\n"
      "  --publishable         a browser-safe key for the developer portal:\n"
      "                        submits feedback, feature requests, votes and\n"
      "                        comments only, from its --origin(s) only\n"
      "  --origin URL          scheme://host[:port] a publishable key may be\n"
      "                        used from (repeatable; at least one)\n"
      "  --json                print the new key as JSON (with its secret)\n"
      "The secret is printed once, alone on stdout; store it now.\n";

struct keys_args {
    const char *db, *config, *organization, *tier, *environment, *name;
    bool admin, json, publishable;
    char origins[TLM_KEY_ORIGINS_MAX];
    const char *id; /* revoke */
};

static int
fail(const char *msg, const char *arg)
{
    fprintf(stderr, "telemetry-server keys: %s%s%s\n", msg,
        arg != NULL ? ": " : "", arg != NULL ? arg : "");
    return 2;
}

/* A failure after the arguments were understood: exit status 1. */
static int
broken(const char *msg, const char *arg)
{
    fail(msg, arg);
    return 1;
}

/* "http(s)://host[:port]" with no path, query, comma or blank. */
static bool
origin_valid(const char *o)
{
    const char *h;
    if (strncmp(o, "https://", 8) == 0)
        h = o + 8;
    else if (strncmp(o, "http://", 7) == 0)
        h = o + 7;
    else
        return false;
    if (*h == '\0' || strlen(o) > 200)
        return false;
    for (; *h != '\0'; h++) {
        if (*h == '/' || *h == '?' || *h == '#' || *h == ',' || *h <= ' '
            || *h > '~')
            return false;
    }
    return true;
}

static int
parse(struct keys_args *a, int argc, char **argv, bool *help)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"organization", required_argument, NULL, 'o'},
        {"tier", required_argument, NULL, 't'},
        {"environment", required_argument, NULL, 'e'},
        {"name", required_argument, NULL, 'n'},
        {"admin", no_argument, NULL, 'A'},
        {"publishable", no_argument, NULL, 'P'},
        {"origin", required_argument, NULL, 'O'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            a->db = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'o':
            a->organization = optarg;
            break;
        case 't':
            a->tier = optarg;
            break;
        case 'e':
            a->environment = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'A':
            a->admin = true;
            break;
        case 'P':
            a->publishable = true;
            break;
        case 'O':
            if (!origin_valid(optarg))
                return fail("--origin: expected scheme://host[:port] (http or "
                            "https, no path)",
                    optarg);
            if (strlen(a->origins) + strlen(optarg) + 2 > sizeof(a->origins))
                return fail("--origin: too many origins", NULL);
            if (a->origins[0] != '\0')
                strcat(a->origins, ",");
            strcat(a->origins, optarg);
            break;
        case 'j':
            a->json = true;
            break;
        case 'h':
            *help = true;
            return 0;
        default:
            return fail("unknown option or missing value (try keys --help)",
                optind > 1 ? argv[optind - 1] : NULL);
        }
    }
    if (optind < argc)
        a->id = argv[optind++];
    if (optind < argc)
        return fail("unexpected argument", argv[optind]);
    return 0;
}

/* The database URL: --db, else the config file's server.db, else the
 * server's default. */
static int
open_store(const struct keys_args *a, struct tlm__store **st)
{
    char err[512] = "";
    const char *url = a->db != NULL ? a->db : TLM_DEFAULT_DB;
    struct tlm__server_config c;
    int rc;
    memset(&c, 0, sizeof(c));
    if (a->db == NULL && a->config != NULL) {
        if (tlm__config_file_apply(&c, a->config, err, sizeof(err)) != 0) {
            tlm__server_config_free(&c);
            return broken(err, NULL);
        }
        if (c.db_url != NULL)
            url = c.db_url;
    }
    rc = tlm__store_open(url, st, err, sizeof(err));
    tlm__server_config_free(&c);
    if (rc != 0)
        return broken(err, NULL);
    return 0;
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void
base64url(const unsigned char *b, size_t n, char *out)
{
    static const char a[]
        = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | b[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = a[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = a[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

static int
set_attr(char *dst, size_t cap, const char *v, const char *what)
{
    struct tlm__key_spec k;
    char err[256];
    memset(&k, 0, sizeof(k));
    if (v == NULL)
        return 0;
    if (tlm__key_spec_set(
            &k, what, v, strlen(v), "keys create", err, sizeof(err))
        != 0)
        return fail(err, NULL);
    snprintf(dst, cap, "%s", v);
    return 0;
}

static const char *
role(const struct tlm__key_row *k)
{
    return k->admin ? "admin" : k->publishable ? "publishable" : "ingest";
}

static void
print_created(const struct tlm__key_row *k, const char *secret, bool json)
{
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", k->id);
        cJSON_AddStringToObject(o, "secret", secret);
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON_AddStringToObject(o, "organization", k->organization);
        cJSON_AddStringToObject(o, "access_tier", k->access_tier);
        cJSON_AddStringToObject(o, "environment", k->environment);
        cJSON_AddStringToObject(o, "role", role(k));
        if (k->publishable)
            cJSON_AddStringToObject(o, "origins", k->origins);
        char *text = cJSON_PrintUnformatted(o);
        if (text != NULL)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(o);
        return;
    }
    printf("%s\n", secret);
    fprintf(stderr,
        "telemetry-server keys: created %s key %s (organization %s, tier %s, "
        "environment %s)\n"
        "Store the secret now: it is not shown again; the database keeps "
        "only its SHA-256.\n",
        k->admin             ? "admin"
            : k->publishable ? "publishable"
                             : "ingestion",
        k->id, k->organization[0] != '\0' ? k->organization : "-",
        k->access_tier[0] != '\0' ? k->access_tier : "default", k->environment);
}

static int
cmd_create(const struct keys_args *a, struct tlm__store *st)
{
    struct tlm__key_row k;
    unsigned char id[6], raw[32];
    char b64[48], secret[96];
    memset(&k, 0, sizeof(k));
    if (a->id != NULL)
        return fail("create takes no argument", a->id);
    if (set_attr(k.organization, sizeof(k.organization), a->organization,
            "organization")
            != 0
        || set_attr(k.access_tier, sizeof(k.access_tier), a->tier, "tier") != 0
        || set_attr(k.environment, sizeof(k.environment),
               a->environment != NULL ? a->environment : "production",
               "environment")
            != 0)
        return 2;
    if (a->publishable && a->admin)
        return fail("--publishable and --admin exclude each other", NULL);
    if (a->publishable && a->origins[0] == '\0')
        return fail("--publishable needs at least one --origin", NULL);
    if (!a->publishable && a->origins[0] != '\0')
        return fail("--origin is for --publishable keys", NULL);
    if (a->name != NULL && strlen(a->name) >= sizeof(k.name))
        return fail("--name: at most 127 bytes", NULL);
    snprintf(k.name, sizeof(k.name), "%s", a->name != NULL ? a->name : "");
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)
        || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return broken("cannot read random bytes", NULL);
    hex(id, sizeof(id), k.id);
    base64url(raw, sizeof(raw), b64);
    snprintf(secret, sizeof(secret), "tlm_%s%s_%s",
        a->publishable ? "pub_" : "", k.id, b64);
    SHA256((const unsigned char *)secret, strlen(secret), k.hash);
    k.admin = a->admin;
    k.publishable = a->publishable;
    snprintf(k.origins, sizeof(k.origins), "%s", a->origins);
    k.created_ms = tlm__now_ms();
    if (tlm__store_key_insert(st, &k) != 0)
        return broken("cannot store the key (see above)", NULL);
    print_created(&k, secret, a->json);
    return 0;
}

static cJSON *
key_json(const struct tlm__key_row *k)
{
    char t[TLM_RFC3339_BUF];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", k->id);
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddStringToObject(o, "organization", k->organization);
    cJSON_AddStringToObject(o, "access_tier", k->access_tier);
    cJSON_AddStringToObject(o, "environment", k->environment);
    cJSON_AddStringToObject(o, "role", role(k));
    if (k->publishable)
        cJSON_AddStringToObject(o, "origins", k->origins);
    tlm__rfc3339_format(k->created_ms, t, sizeof(t));
    cJSON_AddStringToObject(o, "created_at", t);
    if (k->revoked_ms != 0) {
        tlm__rfc3339_format(k->revoked_ms, t, sizeof(t));
        cJSON_AddStringToObject(o, "revoked_at", t);
    } else {
        cJSON_AddNullToObject(o, "revoked_at");
    }
    return o;
}

static const char *
dash(const char *s)
{
    return s[0] != '\0' ? s : "-";
}

static int
cmd_list(const struct keys_args *a, struct tlm__store *st)
{
    struct tlm__key_row *rows = NULL;
    size_t n = 0;
    if (a->id != NULL)
        return fail("list takes no argument", a->id);
    if (tlm__store_key_list(st, &rows, &n) != 0)
        return broken("cannot read the keys (see above)", NULL);
    if (a->json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, key_json(&rows[i]));
        char *text = cJSON_PrintUnformatted(arr);
        if (text != NULL)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(arr);
    } else {
        printf("%-12s  %-6s  %-16s  %-10s  %-10s  %-20s  %-20s  %s\n", "ID",
            "ROLE", "ORGANIZATION", "TIER", "ENV", "CREATED", "REVOKED",
            "NAME");
        for (size_t i = 0; i < n; i++) {
            const struct tlm__key_row *k = &rows[i];
            char c[TLM_RFC3339_BUF], r[TLM_RFC3339_BUF] = "-";
            tlm__rfc3339_format(k->created_ms, c, sizeof(c));
            if (k->revoked_ms != 0)
                tlm__rfc3339_format(k->revoked_ms, r, sizeof(r));
            printf("%-12s  %-6s  %-16s  %-10s  %-10s  %-20.20s  %-20.20s  %s\n",
                k->id, role(k), dash(k->organization), dash(k->access_tier),
                dash(k->environment), c, r, dash(k->name));
        }
    }
    free(rows);
    return 0;
}

static int
cmd_revoke(const struct keys_args *a, struct tlm__store *st)
{
    if (a->id == NULL)
        return fail("revoke needs the key's ID (see keys list)", NULL);
    switch (tlm__store_key_revoke(st, a->id, tlm__now_ms())) {
    case 0:
        fprintf(stderr,
            "telemetry-server keys: revoked %s; servers refuse it after "
            "their next key refresh (--keys-refresh, or SIGHUP)\n",
            a->id);
        return 0;
    case 1:
        return broken("no active key with this ID", a->id);
    default:
        return broken("cannot revoke (see above)", NULL);
    }
}

int
tlm__keys_main(int argc, char **argv)
{
    struct keys_args a;
    struct tlm__store *st = NULL;
    bool help = false;
    int rc;
    memset(&a, 0, sizeof(a));
    if (argc < 2 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "create") != 0 && strcmp(cmd, "list") != 0
        && strcmp(cmd, "revoke") != 0)
        return fail("unknown command (expected create, list or revoke)", cmd);
    rc = parse(&a, argc - 1, argv + 1, &help);
    if (rc != 0)
        return rc;
    if (help) {
        fputs(usage, stdout);
        return 0;
    }
    rc = open_store(&a, &st);
    if (rc != 0)
        return rc;
    if (strcmp(cmd, "create") == 0)
        rc = cmd_create(&a, st);
    else if (strcmp(cmd, "list") == 0)
        rc = cmd_list(&a, st);
    else
        rc = cmd_revoke(&a, st);
    tlm__store_close(st);
    return rc;
}
