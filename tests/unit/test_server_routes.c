/* Check suite for the server's route surface as the sources declare it:
 * every /admin/ route of server/api_route.c's table and server/http.c's
 * own table, read from the source files at run time (so a new route is
 * walked without touching this file), against the real daemon with each
 * kind of credential; the dashboard's public page shell; and the example
 * config server/telemetry-server.example.json through the real loader.
 * TLM_TEST_SOURCE_ROOT names the source tree. */
#include "config.h"
#include "http.h"
#include "server_http.h"
#include "server_keys.h"
#include "store.h"

#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_ROUTES 128

struct route {
    char method[8];
    char path[160]; /* "*" already replaced by an id */
};

static char dir[64];
static struct tlm__store *store;
static struct tlm__http_server *srv;
static struct tlm__auth *auth;

/* The whole of a source file, NUL-terminated (caller frees). */
static char *
slurp(const char *rel)
{
    const char *root = getenv("TLM_TEST_SOURCE_ROOT");
    char path[1024];
    ck_assert_msg(root != NULL, "TLM_TEST_SOURCE_ROOT is not set");
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_gt(n, 0);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The text between `marker` and the "};" that closes that table. */
static char *
table_text(const char *rel, const char *marker)
{
    char *text = slurp(rel);
    char *p = strstr(text, marker);
    ck_assert_msg(p != NULL, "%s: no \"%s\"", rel, marker);
    char *end = strstr(p, "\n};");
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    memmove(text, p, strlen(p) + 1);
    return text;
}

/* Reads the quoted string at *p (just past its opening quote) into out. */
static bool
quoted(const char **p, char *out, size_t size)
{
    const char *end = strchr(*p, '"');
    if (end == NULL || (size_t)(end - *p) >= size)
        return false;
    memcpy(out, *p, (size_t)(end - *p));
    out[end - *p] = '\0';
    *p = end + 1;
    return true;
}

static bool
is_method(const char *s)
{
    return strcmp(s, "GET") == 0 || strcmp(s, "POST") == 0
        || strcmp(s, "PUT") == 0 || strcmp(s, "DELETE") == 0;
}

/* Adds a route, its "*" segments replaced by an id no row has. */
static void
add_route(struct route *r, size_t *n, const char *method, const char *pat)
{
    size_t o = 0;
    ck_assert_uint_lt(*n, MAX_ROUTES);
    snprintf(r[*n].method, sizeof(r[*n].method), "%s", method);
    for (const char *s = pat; *s != '\0' && o + 16 < sizeof(r[*n].path); s++) {
        if (*s == '*') {
            memcpy(r[*n].path + o, "no-such-id", 10);
            o += 10;
        } else {
            r[*n].path[o++] = *s;
        }
    }
    r[*n].path[o] = '\0';
    (*n)++;
}

/* Every entry {"A", "B", ...} of a table whose two first members are a
 * method and a path in either order; keeps those under /admin/. */
static size_t
admin_routes(struct route *r, size_t n)
{
    static const char *const tables[][2] = {
        {"server/api_route.c", "} table[] = {"},
        {"server/http.c", "} routes[] = {"},
    };
    for (size_t t = 0; t < 2; t++) {
        char *text = table_text(tables[t][0], tables[t][1]);
        for (const char *p = text; (p = strstr(p, "{\"")) != NULL;) {
            char a[160], b[160];
            p += 2;
            if (!quoted(&p, a, sizeof(a)) || strncmp(p, ", \"", 3) != 0)
                continue;
            p += 3;
            if (!quoted(&p, b, sizeof(b)))
                continue;
            const char *method = is_method(a) ? a : b;
            const char *path = is_method(a) ? b : a;
            ck_assert_msg(
                is_method(method), "%s: {\"%s\", \"%s\"}", tables[t][0], a, b);
            if (strncmp(path, "/admin/", 7) == 0)
                add_route(r, &n, method, path);
        }
        free(text);
    }
    return n;
}

/* The page shell's public URLs from server/admin_page.c's pages[]. */
static size_t
page_urls(struct route *r, size_t n)
{
    char *text = table_text("server/admin_page.c", "} pages[] = {");
    for (const char *p = text; (p = strchr(p, '{')) != NULL;) {
        char url[160];
        p++;
        while (*p == ' ' || *p == '\n')
            p++;
        if (strncmp(p, "VENDOR_PREFIX \"", 15) == 0) {
            p += 15;
            char name[140];
            if (!quoted(&p, name, sizeof(name)))
                continue;
            snprintf(url, sizeof(url), "/admin/vendor/%s", name);
        } else if (*p == '"') {
            p++;
            if (!quoted(&p, url, sizeof(url)))
                continue;
        } else {
            continue;
        }
        add_route(r, &n, "GET", url);
    }
    free(text);
    return n;
}

static void
setup(void)
{
    char url[128], err[256] = "";
    snprintf(dir, sizeof(dir), "/tmp/tlm-routes-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
    ck_assert_int_eq(tlm__store_open(url, &store, err, sizeof(err)), 0);
    auth = test_keyring("ingest-key", "admin-token", NULL, 0);
    /* tlm__auth_sync is the database's whole key list: one call. */
    struct tlm__key_row rows[2];
    size_t added = 0, revoked = 0;
    memset(rows, 0, sizeof(rows));
    snprintf(rows[0].id, sizeof(rows[0].id), "pub1");
    SHA256((const unsigned char *)"pub-key", 7, rows[0].hash);
    rows[0].publishable = true;
    snprintf(rows[0].origins, sizeof(rows[0].origins), "https://app.example");
    snprintf(rows[1].id, sizeof(rows[1].id), "adm1");
    SHA256((const unsigned char *)"admin-key", 9, rows[1].hash);
    rows[1].admin = true;
    ck_assert_int_eq(tlm__auth_sync(auth, rows, 2, &added, &revoked), 0);
    ck_assert_uint_eq(added, 2);
    struct tlm__http_options o = {
        .host = "127.0.0.1",
        .threads = 2,
        .max_body_bytes = 65536,
        .max_inflated_bytes = 65536,
        .max_write_queue = -1,
        .auth = auth,
        .store = store,
    };
    ck_assert_msg(tlm__http_start(&o, &srv, err, sizeof(err)) == 0, "%s", err);
}

static void
teardown(void)
{
    char cmd[128];
    tlm__http_stop(srv);
    tlm__store_close(store);
    tlm__auth_free(auth);
    auth = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One request on its own connection; the status (0: closed unanswered). */
static int
http(const char *method, const char *path, const char *headers, char *resp,
    size_t resp_size)
{
    const char *body = strcmp(method, "GET") == 0 ? NULL : "{}";
    return test_http(
        tlm__http_port(srv), method, path, headers, body, resp, resp_size);
}

static bool
has_route(const struct route *r, size_t n, const char *method, const char *p)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(r[i].method, method) == 0 && strcmp(r[i].path, p) == 0)
            return true;
    }
    return false;
}

START_TEST(routes_every_admin_route_needs_admin)
{
    static struct route r[MAX_ROUTES];
    static char resp[65536];
    static const struct {
        const char *headers;
        int want; /* 0: anything but 401 and 403 */
    } who[] = {
        {"", 401},
        {"Authorization: Bearer wrong-secret\r\n", 401},
        {"Authorization: Bearer ingest-key\r\n", 403},
        {"Authorization: Bearer pub-key\r\nOrigin: https://app.example\r\n",
            403},
        {"Authorization: Bearer admin-token\r\n", 0},
        {"Authorization: Bearer admin-key\r\n", 0},
    };
    size_t n = admin_routes(r, 0);
    /* The parse found the tables (a few routes each file is known for). */
    ck_assert(has_route(r, n, "GET", "/admin/events"));
    ck_assert(has_route(r, n, "GET", "/admin/analytics/dashboard"));
    ck_assert(has_route(r, n, "GET", "/admin/feedback"));
    ck_assert(
        has_route(r, n, "POST", "/admin/feature-requests/no-such-id/merge"));
    ck_assert(has_route(r, n, "GET", "/admin/webhooks/deliveries"));
    ck_assert(has_route(r, n, "PUT", "/admin/errors/no-such-id/status"));
    ck_assert_uint_ge(n, 12);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(who) / sizeof(who[0]); k++) {
            int st = http(
                r[i].method, r[i].path, who[k].headers, resp, sizeof(resp));
            if (who[k].want != 0) {
                ck_assert_msg(st == who[k].want, "%s %s with [%s]: %d, not %d",
                    r[i].method, r[i].path, who[k].headers, st, who[k].want);
                ck_assert_ptr_nonnull(strstr(resp, "{\"error\":"));
                continue;
            }
            /* The admin gets past auth: whatever the handler says about
             * the missing id or the empty body, it is not a refusal, and
             * the route exists (no 404 "no such route", no 405). */
            ck_assert_msg(st >= 200 && st != 401 && st != 403 && st != 405
                    && strstr(resp, "no such route") == NULL,
                "%s %s as admin: %d\n%s", r[i].method, r[i].path, st, resp);
        }
    }
}
END_TEST

START_TEST(routes_admin_page_shell_is_public)
{
    static struct route r[MAX_ROUTES];
    static char resp[1 << 20];
    size_t n = page_urls(r, 0);
    ck_assert(has_route(r, n, "GET", "/admin/"));
    ck_assert(has_route(r, n, "GET", "/admin/dashboard.js"));
    ck_assert(has_route(r, n, "GET", "/admin/dashboard.css"));
    ck_assert_uint_ge(n, 4); /* and the vendored chart bundle */
    for (size_t i = 0; i < n; i++) {
        int st = http("GET", r[i].path, "", resp, sizeof(resp));
        ck_assert_msg(st == 200, "GET %s without a token: %d", r[i].path, st);
        ck_assert_ptr_nonnull(strstr(resp, "Content-Security-Policy"));
    }
}
END_TEST

/* Loads argv through the real loader with stderr captured; returns the
 * outcome and copies what it printed there into out. */
static enum tlm__config_outcome
load_captured(struct tlm__server_config *c, int argc, char **argv, char *out,
    size_t out_size, char *err, size_t err_size)
{
    char path[] = "/tmp/tlm-routes-stderr-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    enum tlm__config_outcome rc
        = tlm__server_config_load(c, argc, argv, err, err_size);
    fflush(stderr);
    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    ssize_t got = pread(fd, out, out_size - 1, 0);
    out[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

START_TEST(routes_example_config_loads_clean)
{
    const char *root = getenv("TLM_TEST_SOURCE_ROOT");
    char path[1024], printed[4096], err[512] = "";
    struct tlm__server_config ex, def;
    ck_assert_ptr_nonnull(root);
    snprintf(
        path, sizeof(path), "%s/server/telemetry-server.example.json", root);
    unsetenv("TELEMETRY_API_KEYS");
    unsetenv("TELEMETRY_ADMIN_TOKEN");
    char *argv_ex[] = {"telemetry-server", "--config", path, NULL};
    ck_assert_msg(load_captured(&ex, 3, argv_ex, printed, sizeof(printed), err,
                      sizeof(err))
            == TLM_CONFIG_RUN,
        "%s", err);
    ck_assert_msg(printed[0] == '\0', "warnings: %s", printed);
    char *argv_def[] = {"telemetry-server", NULL};
    ck_assert_int_eq(load_captured(&def, 1, argv_def, printed, sizeof(printed),
                         err, sizeof(err)),
        TLM_CONFIG_RUN);

    /* It names every numeric limit and operations key... */
    char *text = slurp("server/telemetry-server.example.json");
    cJSON *doc = cJSON_Parse(text);
    ck_assert_ptr_nonnull(doc);
    const cJSON *server = cJSON_GetObjectItemCaseSensitive(doc, "server");
    ck_assert_ptr_nonnull(server);
    for (int i = 0; i < TLM_NUM_OPTS; i++)
        ck_assert_msg(cJSON_HasObjectItem(server, tlm__num_options[i].key),
            "the example config lacks server.%s", tlm__num_options[i].key);
    /* ...with its real default (max_write_queue's is 2 x threads, which a
     * file cannot say; the example gives a value). */
    ck_assert_uint_eq(ex.max_body_bytes, def.max_body_bytes);
    ck_assert_uint_eq(ex.max_inflated_bytes, def.max_inflated_bytes);
    ck_assert_uint_eq(ex.max_event_bytes, def.max_event_bytes);
    ck_assert_uint_eq(ex.max_batch_events, def.max_batch_events);
    ck_assert_uint_eq(ex.max_json_depth, def.max_json_depth);
    ck_assert_uint_eq(ex.max_future_s, def.max_future_s);
    ck_assert_uint_eq(ex.retention_days, def.retention_days);
    ck_assert_uint_eq(ex.keys_refresh_s, def.keys_refresh_s);
    ck_assert_uint_eq(ex.max_header_bytes, def.max_header_bytes);
    ck_assert_uint_eq(ex.max_connections, def.max_connections);
    ck_assert_uint_eq(ex.max_connections_per_ip, def.max_connections_per_ip);
    ck_assert_uint_eq(ex.connection_timeout_s, def.connection_timeout_s);
    ck_assert_uint_eq(ex.drain_timeout_s, def.drain_timeout_s);
    ck_assert_int_eq(ex.log_level, def.log_level);
    ck_assert_int_gt(ex.max_write_queue, 0);
    cJSON_Delete(doc);
    free(text);
    tlm__server_config_free(&ex);
    tlm__server_config_free(&def);
}
END_TEST

START_TEST(routes_max_json_depth_flag_and_key)
{
    char printed[4096], err[512] = "";
    struct tlm__server_config c;
    char *ok[] = {"telemetry-server", "--max-json-depth", "8", NULL};
    ck_assert_int_eq(
        load_captured(&c, 3, ok, printed, sizeof(printed), err, sizeof(err)),
        TLM_CONFIG_RUN);
    ck_assert_uint_eq(c.max_json_depth, 8);
    tlm__server_config_free(&c);
    char *high[] = {"telemetry-server", "--max-json-depth", "33", NULL};
    ck_assert_int_eq(
        load_captured(&c, 3, high, printed, sizeof(printed), err, sizeof(err)),
        TLM_CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "--max-json-depth"));
    ck_assert_ptr_nonnull(strstr(err, "1..32"));
    /* The file key, named in its error. */
    char file[] = "/tmp/tlm-routes-config-XXXXXX";
    int fd = mkstemp(file);
    ck_assert_int_ge(fd, 0);
    const char good[] = "{\"server\": {\"max_json_depth\": 5}}";
    ck_assert_int_eq(write(fd, good, sizeof(good) - 1), sizeof(good) - 1);
    char *from_file[] = {"telemetry-server", "--config", file, NULL};
    ck_assert_int_eq(load_captured(&c, 3, from_file, printed, sizeof(printed),
                         err, sizeof(err)),
        TLM_CONFIG_RUN);
    ck_assert_str_eq(printed, "");
    ck_assert_uint_eq(c.max_json_depth, 5);
    tlm__server_config_free(&c);
    const char bad[] = "{\"server\": {\"max_json_depth\": 0}}";
    ck_assert_int_eq(pwrite(fd, bad, sizeof(bad) - 1, 0), sizeof(bad) - 1);
    ck_assert_int_eq(load_captured(&c, 3, from_file, printed, sizeof(printed),
                         err, sizeof(err)),
        TLM_CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "server.max_json_depth"));
    close(fd);
    unlink(file);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_routes");
    TCase *tc = tcase_create("routes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, routes_every_admin_route_needs_admin);
    tcase_add_test(tc, routes_admin_page_shell_is_public);
    suite_add_tcase(s, tc);
    TCase *cfg = tcase_create("config");
    tcase_add_test(cfg, routes_example_config_loads_clean);
    tcase_add_test(cfg, routes_max_json_depth_flag_and_key);
    suite_add_tcase(s, cfg);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
