/*
 * cli_api.c - telemetry-cli's feedback, feature-request, feature-requests
 * and vote commands: their options, one request each through the SDK's
 * blocking *_wait calls (privacy, idempotency and the spool apply as in any
 * program using the library), and the answer printed for people or, with
 * --json, verbatim. Never exits the process: callers get an exit status.
 */
#include "cli_api.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "example_util.h"

/* An empty variable counts as unset, as in most tools. */
static const char *
env_value(const char *name)
{
    const char *value = getenv(name);

    return (value != NULL && value[0] != '\0') ? value : NULL;
}

static const struct option feedback_opts[] = {
    {"type", required_argument, NULL, 't'},
    {"content", required_argument, NULL, 'c'},
    {"category", required_argument, NULL, 'g'},
    {"rating", required_argument, NULL, 'r'},
    {"feature", required_argument, NULL, 'f'},
    {"target-endpoint", required_argument, NULL, 'e'},
    {"context", required_argument, NULL, 'x'},
    {"summary", required_argument, NULL, 's'},
    {"steps", required_argument, NULL, 'S'},
    {"expected", required_argument, NULL, 'E'},
    {"actual", required_argument, NULL, 'A'},
    {"user", required_argument, NULL, 'u'}, {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
static const struct option request_opts[] = {
    {"title", required_argument, NULL, 'T'},
    {"description", required_argument, NULL, 'd'},
    {"use-case", required_argument, NULL, 'U'},
    {"user", required_argument, NULL, 'u'}, {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
static const struct option list_opts[] = {
    {"sort", required_argument, NULL, 'o'},
    {"status", required_argument, NULL, 'a'},
    {"limit", required_argument, NULL, 'l'},
    {"cursor", required_argument, NULL, 'C'}, {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
static const struct option vote_opts[]
    = {{"user", required_argument, NULL, 'u'},
        {"withdraw", no_argument, NULL, 'w'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

static const struct api_command api_commands[] = {
    {"feedback",
        "feedback --type issue|suggestion|rating|general --content TEXT\n"
        "        [--category C] [--rating 1-5] [--feature F]\n"
        "        [--target-endpoint E] [--context JSON-OBJECT] [--user U]\n"
        "        [--summary S --steps S --expected S --actual S] [--json]",
        "Submits feedback (POST /feedback). An issue needs --summary, "
        "--steps,\n--expected and --actual; a rating needs --rating. The "
        "server answers\nwith the feedback's id, category and sentiment.\n",
        feedback_opts},
    {"feature-request",
        "feature-request --title T [--description D] [--use-case U] "
        "[--user U]\n        [--json]",
        "Submits a feature request (POST /feature-requests).\n", request_opts},
    {"feature-requests",
        "feature-requests [--sort votes|recent|trending] [--status S[,S...]]"
        "\n        [--limit 1-100] [--cursor C] [--json]",
        "Lists feature requests (GET /feature-requests); --cursor takes the\n"
        "next_cursor a previous page printed.\n",
        list_opts},
    {"vote", "vote ID [--user U] [--withdraw] [--json]",
        "Votes for feature request ID (PUT /feature-requests/ID/vote), or\n"
        "withdraws the vote. --user defaults to $TELEMETRY_USER_ID, then "
        "$USER.\n",
        vote_opts},
};

const struct api_command *
find_api_command(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(api_commands) / sizeof(api_commands[0]); i++)
        if (strcmp(api_commands[i].name, name) == 0)
            return &api_commands[i];
    return NULL;
}

static void
api_usage(FILE *out, const struct api_command *cmd)
{
    fprintf(out,
        "usage: telemetry-cli [global options] %s\n\n%s\n"
        "User ids are anonymized and text is scrubbed before it leaves the\n"
        "process; --json prints the server's JSON answer.\n"
        "Exit status: 0 done (or spooled for later delivery), 1 not\n"
        "delivered (unreachable, timed out, telemetry disabled), 2 bad "
        "usage,\n3 refused by the server (its message is printed).\n",
        cmd->synopsis, cmd->help);
}

static void
api_set(struct api_args *p, int opt, const char *val)
{
    const char **slot = NULL;

    switch (opt) {
    case 't':
        slot = &p->type;
        break;
    case 'c':
        slot = &p->content;
        break;
    case 'g':
        slot = &p->category;
        break;
    case 'r':
        slot = &p->rating;
        break;
    case 'f':
        slot = &p->feature;
        break;
    case 'e':
        slot = &p->target_endpoint;
        break;
    case 'x':
        slot = &p->context;
        break;
    case 's':
        slot = &p->summary;
        break;
    case 'S':
        slot = &p->steps;
        break;
    case 'E':
        slot = &p->expected;
        break;
    case 'A':
        slot = &p->actual;
        break;
    case 'u':
        slot = &p->user;
        break;
    case 'T':
        slot = &p->title;
        break;
    case 'd':
        slot = &p->description;
        break;
    case 'U':
        slot = &p->use_case;
        break;
    case 'o':
        slot = &p->sort;
        break;
    case 'a':
        slot = &p->status;
        break;
    case 'l':
        slot = &p->limit;
        break;
    case 'C':
        slot = &p->cursor;
        break;
    case 'j':
        p->json = 1;
        break;
    case 'w':
        p->withdraw = 1;
        break;
    default:
        break;
    }
    if (slot != NULL)
        *slot = val;
}

static int
api_bad(const struct api_command *cmd, const char *msg, const char *arg)
{
    fprintf(stderr, "telemetry-cli %s: %s%s%s\n", cmd->name, msg,
        arg ? " " : "", arg ? arg : "");
    api_usage(stderr, cmd);
    return EXIT_USAGE;
}

/* Checks what each command requires. -1: go on, else the exit status. */
static int
api_check(const struct api_command *cmd, struct api_args *p)
{
    static const char *const types[]
        = {"issue", "suggestion", "rating", "general"};
    static const char *const sorts[] = {"votes", "recent", "trending"};
    uint32_t n;
    size_t i;

    if (strcmp(cmd->name, "feedback") == 0) {
        for (i = 0; p->type != NULL && i < 4; i++)
            if (strcmp(p->type, types[i]) == 0)
                break;
        if (p->type == NULL || i == 4)
            return api_bad(cmd,
                "--type must be one of issue, suggestion, "
                "rating, general",
                NULL);
        if (p->content == NULL || p->content[0] == '\0')
            return api_bad(cmd, "--content is required", NULL);
        if (p->rating != NULL && ex_parse_u32(p->rating, 1, 5, &n) != 0)
            return api_bad(cmd, "--rating must be 1..5, not", p->rating);
        if (p->context != NULL) {
            cJSON *ctx = cJSON_Parse(p->context);
            int ok = cJSON_IsObject(ctx);
            cJSON_Delete(ctx);
            if (!ok)
                return api_bad(cmd, "--context must be a JSON object", NULL);
        }
    } else if (strcmp(cmd->name, "feature-request") == 0) {
        if (p->title == NULL || p->title[0] == '\0')
            return api_bad(cmd, "--title is required", NULL);
    } else if (strcmp(cmd->name, "feature-requests") == 0) {
        for (i = 0; p->sort != NULL && i < 3; i++)
            if (strcmp(p->sort, sorts[i]) == 0)
                break;
        if (p->sort != NULL && i == 3)
            return api_bad(
                cmd, "--sort must be votes, recent or trending", NULL);
        if (p->limit != NULL && ex_parse_u32(p->limit, 1, 100, &n) != 0)
            return api_bad(cmd, "--limit must be 1..100, not", p->limit);
    } else {
        if (p->id == NULL)
            return api_bad(cmd, "needs the feature request's ID", NULL);
        if (p->user == NULL)
            p->user = env_value("TELEMETRY_USER_ID");
        if (p->user == NULL)
            p->user = env_value("USER");
        if (p->user == NULL)
            return api_bad(cmd, "needs --user (or $TELEMETRY_USER_ID)", NULL);
    }
    return -1;
}

/* Parses a command's own options (argv[0] is its name). -1: run. */
int
api_parse(
    const struct api_command *cmd, int argc, char **argv, struct api_args *p)
{
    int opt, positional = strcmp(cmd->name, "vote") == 0;

    optind = 0; /* GNU: start over, argv[0] is skipped */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", cmd->options, NULL)) != -1) {
        if (opt == 'h') {
            api_usage(stdout, cmd);
            return EXIT_OK;
        }
        if (opt == '?' || opt == ':')
            return api_bad(
                cmd, "unknown option or missing value:", argv[optind - 1]);
        api_set(p, opt, optarg);
    }
    if (positional && optind < argc)
        p->id = argv[optind++];
    if (optind < argc)
        return api_bad(cmd, "unexpected argument", argv[optind]);
    return api_check(cmd, p);
}

static int
api_call(tlm_client *c, const struct api_command *cmd, const struct api_args *p,
    uint32_t timeout_ms, tlm_reply *r)
{
    static const char *const types[]
        = {"", "issue", "suggestion", "rating", "general"};
    tlm_feedback f = TLM_FEEDBACK_INIT;
    tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
    tlm_feature_query q = TLM_FEATURE_QUERY_INIT;
    uint32_t n = 0;
    int i;

    if (strcmp(cmd->name, "feedback") == 0) {
        for (i = 1; i < 5; i++)
            if (strcmp(p->type, types[i]) == 0)
                f.type = i;
        f.content = p->content;
        f.category = p->category;
        if (p->rating != NULL && ex_parse_u32(p->rating, 1, 5, &n) == 0)
            f.rating = (int)n;
        f.context_json = p->context;
        f.feature = p->feature;
        f.endpoint = p->target_endpoint;
        f.user_id = p->user;
        f.summary = p->summary;
        f.steps_to_reproduce = p->steps;
        f.expected = p->expected;
        f.actual = p->actual;
        return tlm_feedback_submit_wait(c, &f, timeout_ms, r);
    }
    if (strcmp(cmd->name, "feature-request") == 0) {
        fr.title = p->title;
        fr.description = p->description;
        fr.use_case = p->use_case;
        fr.user_id = p->user;
        return tlm_feature_request_submit_wait(c, &fr, timeout_ms, r);
    }
    if (strcmp(cmd->name, "feature-requests") == 0) {
        q.sort = p->sort;
        q.status = p->status;
        if (p->limit != NULL && ex_parse_u32(p->limit, 1, 100, &n) == 0)
            q.limit = n;
        q.cursor = p->cursor;
        return tlm_feature_requests_list_wait(c, &q, timeout_ms, r);
    }
    if (p->withdraw)
        return tlm_feature_request_unvote_wait(
            c, p->id, p->user, timeout_ms, r);
    return tlm_feature_request_vote_wait(c, p->id, p->user, timeout_ms, r);
}

static const char *
json_str(const cJSON *obj, const char *key, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : fallback;
}

static double
json_num(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

/* The human form of a successful answer. */
static void
api_print(
    const struct api_command *cmd, const struct api_args *p, const cJSON *root)
{
    const cJSON *items, *it, *sent;

    if (strcmp(cmd->name, "feedback") == 0) {
        sent = cJSON_GetObjectItemCaseSensitive(root, "sentiment");
        printf("feedback %s stored: %s, category %s (%s)",
            json_str(root, "id", "?"), json_str(root, "feedback_type", p->type),
            json_str(root, "category", "?"),
            json_str(root, "category_source", "?"));
        if (cJSON_IsNumber(sent))
            printf(", sentiment %.2f", sent->valuedouble);
        printf("\n");
    } else if (strcmp(cmd->name, "feature-request") == 0) {
        printf("feature request %s: \"%s\" (%s, %.0f votes)\n",
            json_str(root, "id", "?"), json_str(root, "title", p->title),
            json_str(root, "status", "?"), json_num(root, "votes"));
    } else if (strcmp(cmd->name, "feature-requests") == 0) {
        items = cJSON_GetObjectItemCaseSensitive(root, "items");
        printf("%-36s %5s  %-12s %s\n", "ID", "VOTES", "STATUS", "TITLE");
        cJSON_ArrayForEach(it, items)
        {
            printf("%-36s %5.0f  %-12s %s\n", json_str(it, "id", "?"),
                json_num(it, "votes"), json_str(it, "status", "?"),
                json_str(it, "title", ""));
        }
        if (json_str(root, "next_cursor", NULL) != NULL)
            printf("more: --cursor %s\n", json_str(root, "next_cursor", ""));
    } else {
        printf("%s: %.0f votes (%s)\n", json_str(root, "id", p->id),
            json_num(root, "votes"), p->withdraw ? "vote withdrawn" : "voted");
    }
}

static int
api_report(const struct api_command *cmd, const struct api_args *p, int rc,
    const tlm_reply *r)
{
    cJSON *root = r->body != NULL ? cJSON_Parse(r->body) : NULL;
    int status = EXIT_OK;

    if (rc == 0 && r->spooled) {
        fprintf(stderr,
            "telemetry-cli %s: the server is unreachable; "
            "spooled, it will be delivered later\n",
            cmd->name);
        if (p->json)
            printf("{\"spooled\":true}\n");
    } else if (rc == 0 && r->status == 0) {
        fprintf(stderr, "telemetry-cli %s: not sent (TELEMETRY_DEBUG)\n",
            cmd->name);
    } else if (rc == 0) {
        if (p->json)
            printf("%s\n", r->body != NULL ? r->body : "null");
        else
            api_print(cmd, p, root);
    } else if (rc == TLM_EREJECTED) {
        fprintf(stderr,
            "telemetry-cli %s: refused by the server (HTTP %d): "
            "%s\n",
            cmd->name, r->status,
            json_str(
                root, "error", r->body != NULL ? r->body : "no reason given"));
        if (p->json && r->body != NULL)
            printf("%s\n", r->body);
        status = EXIT_REFUSED;
    } else {
        fprintf(stderr, "telemetry-cli %s: %s\n", cmd->name,
            rc == TLM_EDISABLED
                ? "telemetry is disabled (opt-out): nothing sent"
                : tlm_strerror(rc));
        status = rc == TLM_EINVAL ? EXIT_USAGE : EXIT_LOST;
    }
    cJSON_Delete(root);
    return status;
}

int
cmd_api(tlm_client *c, const struct api_command *cmd, const struct api_args *p,
    uint32_t timeout_ms)
{
    tlm_reply r;
    int rc, status;

    tlm_reply_init(&r);
    rc = api_call(c, cmd, p, timeout_ms, &r);
    status = api_report(cmd, p, rc, &r);
    /* A spooled request waits in the spool for a later process: don't
     * keep retrying it here. */
    (void)tlm_client_close(c, r.spooled || rc != 0 ? 0 : timeout_ms);
    tlm_reply_free(&r);
    return status;
}
