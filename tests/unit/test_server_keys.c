/* Check suite for API keys: the attribute syntax of --api-key /
 * TELEMETRY_API_KEYS / server.api_keys (config_keys.c, config_file.c), the
 * keyring (auth.c: lookup, admin, sync with the database's rows, revocation,
 * pointer stability, tiers) and the SQLite api_keys table
 * (store_sqlite_keys.c). */
#include "auth.h"
#include "config.h"
#include "server_keys.h"
#include "store.h"

#include <check.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
bearer(const char *secret)
{
    static char h[600];
    snprintf(h, sizeof(h), "Bearer %s", secret);
    return h;
}

START_TEST(csv_carries_attributes)
{
    struct tlm__server_config c;
    char err[256] = "";
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(tlm__api_keys_set_csv(&c,
                         "k1;organization=acme;tier=pro;environment=sandbox,"
                         "k2,k3;access_tier=free",
                         "test", err, sizeof(err)),
        0);
    ck_assert_uint_eq(c.n_api_keys, 3);
    ck_assert_str_eq(c.api_keys[0].secret, "k1");
    ck_assert_str_eq(c.api_keys[0].organization, "acme");
    ck_assert_str_eq(c.api_keys[0].access_tier, "pro");
    ck_assert_str_eq(c.api_keys[0].environment, "sandbox");
    ck_assert_str_eq(c.api_keys[1].secret, "k2");
    ck_assert_str_eq(c.api_keys[1].environment, "");
    ck_assert_str_eq(c.api_keys[2].access_tier, "free");
    unsigned char h[32];
    SHA256((const unsigned char *)"k2", 2, h);
    ck_assert_mem_eq(c.api_keys[1].sha256, h, 32);
    tlm__api_keys_free(&c);
}
END_TEST

START_TEST(csv_errors_name_the_problem)
{
    static const struct {
        const char *csv, *want;
    } cases[] = {
        {"k1;colour=blue", "unknown key attribute \"colour\""},
        {"k1;environment=staging", "expected production or sandbox"},
        {"k1;organization=", "organization: expected 1..127"},
        {"k1;tier", "name=value after ';'"},
        {"has space", "keys must be"},
        {"", "keys must be"},
        {"k1;organization=a\"b", "organization: expected"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tlm__server_config c;
        char err[256] = "";
        memset(&c, 0, sizeof(c));
        ck_assert_int_eq(
            tlm__api_keys_set_csv(&c, cases[i].csv, "FLAG", err, sizeof(err)),
            -1);
        ck_assert_msg(strstr(err, cases[i].want) != NULL
                && strncmp(err, "FLAG: ", 6) == 0,
            "%s -> %s", cases[i].csv, err);
        ck_assert_ptr_null(strstr(err, "k1;")); /* no secret echoed */
        tlm__api_keys_free(&c);
    }
}
END_TEST

static char cfg_path[64];

static enum tlm__config_outcome
load_file(struct tlm__server_config *c, const char *json, char *err, size_t n)
{
    char *argv[] = {"telemetry-server", "--config", cfg_path, NULL};
    FILE *f;
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/tlm-keys-cfg-XXXXXX");
    int fd = mkstemp(cfg_path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs(json, f);
    fclose(f);
    unsetenv("TELEMETRY_API_KEYS");
    unsetenv("TELEMETRY_ADMIN_TOKEN");
    enum tlm__config_outcome o = tlm__server_config_load(c, 3, argv, err, n);
    unlink(cfg_path);
    return o;
}

START_TEST(config_file_objects_and_hashes)
{
    struct tlm__server_config c;
    char err[512] = "";
    /* sha256 of "from-hash": the file need not hold the secret. */
    unsigned char h[32];
    char hex[65];
    char json[1024];
    SHA256((const unsigned char *)"from-hash", 9, h);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02X", h[i]);
    snprintf(json, sizeof(json),
        "{\"server\": {\"api_keys\": [\"plain\","
        " {\"key\": \"obj\", \"environment\": \"sandbox\","
        " \"organization\": \"acme\"},"
        " {\"sha256\": \"%s\", \"access_tier\": \"pro\"}]}}",
        hex);
    ck_assert_msg(
        load_file(&c, json, err, sizeof(err)) == TLM_CONFIG_RUN, "%s", err);
    ck_assert_uint_eq(c.n_api_keys, 3);
    ck_assert_str_eq(c.api_keys[1].environment, "sandbox");
    ck_assert_ptr_null(c.api_keys[2].secret);
    ck_assert_mem_eq(c.api_keys[2].sha256, h, 32);

    struct tlm__auth *a = NULL;
    const struct tlm__key *k = NULL;
    ck_assert_int_eq(tlm__auth_new(NULL, 0, &a), 0);
    ck_assert_int_eq(
        tlm__auth_add_config(a, c.api_keys, c.n_api_keys, NULL), 0);
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("from-hash"), &k), TLM_PRINCIPAL_INGEST);
    ck_assert_str_eq(k->access_tier, "pro");
    ck_assert_str_eq(k->id, "config-3");
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("obj"), &k), TLM_PRINCIPAL_INGEST);
    ck_assert_str_eq(k->organization, "acme");
    tlm__auth_free(a);
    tlm__server_config_free(&c);

    static const char *const bad[] = {
        "{\"server\": {\"api_keys\": [{\"sha256\": \"abc\"}]}}",
        "{\"server\": {\"api_keys\": [{\"key\": \"a\", \"sha256\": \"b\"}]}}",
        "{\"server\": {\"api_keys\": [{\"organization\": \"x\"}]}}",
        "{\"server\": {\"api_keys\": [{\"key\": \"a\", \"colour\": \"b\"}]}}",
        "{\"server\": {\"api_keys\": [{\"key\": \"a\", \"environment\": 1}]}}",
        ("{\"server\": {\"api_keys\": [{\"key\": \"a\","
         " \"environment\": \"qa\"}]}}"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_int_eq(
            load_file(&c, bad[i], err, sizeof(err)), TLM_CONFIG_ERROR);
        ck_assert_msg(strstr(err, "api_keys") != NULL
                || strstr(err, "environment") != NULL,
            "%s -> %s", bad[i], err);
    }
}
END_TEST

START_TEST(classify_ingest_admin_and_nothing)
{
    struct tlm__auth *a = test_keyring(
        "ingest-key;environment=sandbox;organization=acme", "adm", NULL, 0);
    const struct tlm__key *k = NULL;
    ck_assert_int_eq(
        tlm__auth_classify(a, "Bearer ingest-key", &k), TLM_PRINCIPAL_INGEST);
    ck_assert_str_eq(k->environment, "sandbox");
    ck_assert_str_eq(k->organization, "acme");
    ck_assert_str_eq(k->id, "config-1");
    ck_assert_int_eq(
        tlm__auth_classify(a, "bearer   adm  ", &k), TLM_PRINCIPAL_ADMIN);
    ck_assert(k->admin);
    ck_assert_int_eq(
        tlm__auth_classify(a, "Bearer ingest-ke", &k), TLM_PRINCIPAL_NONE);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(
        tlm__auth_classify(a, "Bearer ingest-key2", NULL), TLM_PRINCIPAL_NONE);
    ck_assert_int_eq(
        tlm__auth_classify(a, "Basic aW5n", NULL), TLM_PRINCIPAL_NONE);
    ck_assert_int_eq(tlm__auth_classify(a, NULL, NULL), TLM_PRINCIPAL_NONE);
    ck_assert_int_eq(tlm__auth_classify(NULL, "Bearer ingest-key", NULL),
        TLM_PRINCIPAL_NONE);
    size_t ingest, admin;
    tlm__auth_count(a, &ingest, &admin);
    ck_assert_uint_eq(ingest, 1);
    ck_assert_uint_eq(admin, 1);
    tlm__auth_free(a);
}
END_TEST

static struct tlm__key_row
row(const char *id, const char *secret, const char *env, bool admin)
{
    struct tlm__key_row r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", id);
    SHA256((const unsigned char *)secret, strlen(secret), r.hash);
    snprintf(r.environment, sizeof(r.environment), "%s", env);
    r.admin = admin;
    r.created_ms = 1;
    return r;
}

START_TEST(sync_adds_revokes_and_keeps_config_keys)
{
    struct tlm__auth *a = test_keyring("cfg", NULL, NULL, 0);
    struct tlm__key_row rows[3] = {
        row("aaa", "db-one", "production", false),
        row("bbb", "db-two", "sandbox", false),
        row("ccc", "db-admin", "", true),
    };
    const struct tlm__key *k = NULL, *first = NULL;
    size_t added, revoked;
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("db-one"), NULL), TLM_PRINCIPAL_NONE);
    ck_assert_int_eq(tlm__auth_sync(a, rows, 3, &added, &revoked), 0);
    ck_assert_uint_eq(added, 3);
    ck_assert_uint_eq(revoked, 0);
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("db-one"), &first), TLM_PRINCIPAL_INGEST);
    ck_assert_str_eq(first->id, "aaa");
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("db-admin"), &k), TLM_PRINCIPAL_ADMIN);
    /* The same rows again change nothing. */
    ck_assert_int_eq(tlm__auth_sync(a, rows, 3, &added, &revoked), 0);
    ck_assert_uint_eq(added + revoked, 0);
    /* Revoked in the table, and deleted from it: both refused; the
     * configured key is the config's business. */
    rows[0].revoked_ms = 5;
    ck_assert_int_eq(tlm__auth_sync(a, rows, 2, &added, &revoked), 0);
    ck_assert_uint_eq(revoked, 2);
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("db-one"), NULL), TLM_PRINCIPAL_NONE);
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("db-admin"), NULL), TLM_PRINCIPAL_NONE);
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("db-two"), &k), TLM_PRINCIPAL_INGEST);
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("cfg"), NULL), TLM_PRINCIPAL_INGEST);
    /* A request that already holds the revoked key still reads it. */
    ck_assert_str_eq(first->id, "aaa");
    tlm__auth_free(a);
}
END_TEST

START_TEST(many_keys_keep_their_address)
{
    struct tlm__auth *a = test_keyring("cfg", NULL, NULL, 0);
    enum { N = 3000 };
    struct tlm__key_row *rows = calloc(N, sizeof(*rows));
    const struct tlm__key *k0 = NULL, *k = NULL;
    size_t added, revoked;
    char id[32], secret[32];
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("cfg"), &k0), TLM_PRINCIPAL_INGEST);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "id%d", i);
        snprintf(secret, sizeof(secret), "secret-%d", i);
        rows[i] = row(id, secret, "production", false);
    }
    ck_assert_int_eq(tlm__auth_sync(a, rows, N, &added, &revoked), 0);
    ck_assert_uint_eq(added, N);
    for (int i = 0; i < N; i += 97) {
        snprintf(secret, sizeof(secret), "secret-%d", i);
        snprintf(id, sizeof(id), "id%d", i);
        ck_assert_int_eq(
            tlm__auth_classify(a, bearer(secret), &k), TLM_PRINCIPAL_INGEST);
        ck_assert_str_eq(k->id, id);
    }
    ck_assert_int_eq(
        tlm__auth_classify(a, bearer("cfg"), &k), TLM_PRINCIPAL_INGEST);
    ck_assert_ptr_eq(k, k0);
    free(rows);
    tlm__auth_free(a);
}
END_TEST

START_TEST(tiers_give_each_key_its_rate)
{
    struct tlm__rate_tier tiers[2]
        = {{"default", {10, 20}}, {"pro", {100, 500}}};
    struct tlm__auth *a
        = test_keyring("p;tier=pro,f;tier=free,d", NULL, tiers, 2);
    const struct tlm__key *k;
    ck_assert_int_eq(
        tlm__auth_classify(a, "Bearer p", &k), TLM_PRINCIPAL_INGEST);
    ck_assert_double_eq(k->bucket.rule.events_per_second, 100);
    ck_assert_double_eq(k->bucket.rule.burst, 500);
    /* A tier without a rule takes "default"'s, as does no tier. */
    ck_assert_int_eq(
        tlm__auth_classify(a, "Bearer f", &k), TLM_PRINCIPAL_INGEST);
    ck_assert_double_eq(k->bucket.rule.events_per_second, 10);
    ck_assert_int_eq(
        tlm__auth_classify(a, "Bearer d", &k), TLM_PRINCIPAL_INGEST);
    ck_assert_double_eq(k->bucket.rule.burst, 20);
    tlm__auth_free(a);
    /* No "default": unlimited. */
    struct tlm__rate_rule r = tlm__rate_for_tier(tiers + 1, 1, "free");
    ck_assert_double_eq(r.events_per_second, 0);
}
END_TEST

static char dir[64];

static struct tlm__store *
open_sqlite(void)
{
    char url[128], err[256] = "";
    struct tlm__store *st = NULL;
    snprintf(dir, sizeof(dir), "/tmp/tlm-keys-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite:%s/k.db", dir);
    ck_assert_msg(tlm__store_open(url, &st, err, sizeof(err)) == 0, "%s", err);
    return st;
}

static void
remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(sqlite_key_table)
{
    struct tlm__store *st = open_sqlite();
    struct tlm__key_row a = row("k1", "s1", "sandbox", false);
    struct tlm__key_row b = row("k2", "s2", "production", true);
    struct tlm__key_row *rows = NULL;
    size_t n = 0;
    snprintf(a.organization, sizeof(a.organization), "acme");
    snprintf(a.access_tier, sizeof(a.access_tier), "pro");
    snprintf(a.name, sizeof(a.name), "CI key");
    b.created_ms = 2;
    ck_assert_int_eq(tlm__store_key_insert(st, &a), 0);
    ck_assert_int_eq(tlm__store_key_insert(st, &b), 0);
    ck_assert_int_eq(tlm__store_key_insert(st, &a), -1); /* same id */
    ck_assert_int_eq(tlm__store_key_list(st, &rows, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(rows[0].id, "k1");
    ck_assert_str_eq(rows[0].organization, "acme");
    ck_assert_str_eq(rows[0].access_tier, "pro");
    ck_assert_str_eq(rows[0].environment, "sandbox");
    ck_assert_str_eq(rows[0].name, "CI key");
    ck_assert_mem_eq(rows[0].hash, a.hash, 32);
    ck_assert(!rows[0].admin);
    ck_assert(rows[1].admin);
    ck_assert_int_eq(rows[0].revoked_ms, 0);
    free(rows);
    ck_assert_int_eq(tlm__store_key_revoke(st, "k1", 99), 0);
    ck_assert_int_eq(tlm__store_key_revoke(st, "k1", 100), 1);
    ck_assert_int_eq(tlm__store_key_revoke(st, "nope", 100), 1);
    ck_assert_int_eq(tlm__store_key_list(st, &rows, &n), 0);
    ck_assert_int_eq(rows[0].revoked_ms, 99);
    free(rows);
    ck_assert_int_eq(tlm__store_ping(st), 0);
    tlm__store_close(st);
    remove_dir();
}
END_TEST

static Suite *
keys_suite(void)
{
    Suite *s = suite_create("server_keys");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, csv_carries_attributes);
    tcase_add_test(tc, csv_errors_name_the_problem);
    tcase_add_test(tc, config_file_objects_and_hashes);
    tcase_add_test(tc, classify_ingest_admin_and_nothing);
    tcase_add_test(tc, sync_adds_revokes_and_keeps_config_keys);
    tcase_add_test(tc, many_keys_keep_their_address);
    tcase_add_test(tc, tiers_give_each_key_its_rate);
    tcase_add_test(tc, sqlite_key_table);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(keys_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
