/*
 * server_keys.h - a keyring for server unit tests from the flag syntax
 * ("KEY[;tier=T][;environment=E],..."), the way the server builds one.
 */
#ifndef TLM_TEST_SERVER_KEYS_H
#define TLM_TEST_SERVER_KEYS_H

#include "auth.h"
#include "config.h"

#include <check.h>
#include <string.h>

static inline struct tlm__auth *
test_keyring(const char *csv, const char *admin_token,
    const struct tlm__rate_tier *tiers, size_t n_tiers)
{
    struct tlm__server_config c;
    struct tlm__auth *a = NULL;
    char err[256] = "";
    memset(&c, 0, sizeof(c));
    ck_assert_msg(tlm__api_keys_set_csv(&c, csv, "test", err, sizeof(err)) == 0,
        "%s", err);
    ck_assert_int_eq(tlm__auth_new(tiers, n_tiers, &a), 0);
    ck_assert_int_eq(
        tlm__auth_add_config(a, c.api_keys, c.n_api_keys, admin_token), 0);
    tlm__api_keys_free(&c);
    return a;
}

#endif
