/* The SQLite store suites' fixture: a fresh directory per test (setup,
 * teardown) holding the database file t.db, the store opened on it, and
 * the file read or changed behind the store's back with the sqlite3 API
 * (scalar, exec_file). Include once per suite; prefix names the
 * directory (/tmp/PREFIX-XXXXXX). */
#ifndef TLM_TESTS_SQLITE_FIXTURE_H
#define TLM_TESTS_SQLITE_FIXTURE_H

#include "store.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef SQLITE_FIXTURE_PREFIX
#define SQLITE_FIXTURE_PREFIX "tlm-store"
#endif

static char dir[64];
static char url[160];
static char file[128];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/" SQLITE_FIXTURE_PREFIX "-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/t.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", file);
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct tlm__store *
open_store(void)
{
    struct tlm__store *st = NULL;
    char err[256] = "";
    ck_assert_msg(tlm__store_open(url, &st, err, sizeof(err)) == 0, "%s", err);
    return st;
}

/* The first column of sql's first row (-1 when none), read from the file
 * by a connection of its own (waiting up to 5 s for the store's locks). */
static long long
scalar(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    long long v = -1;
    ck_assert_int_eq(sqlite3_open(file, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void
exec_file(const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    ck_assert_int_eq(sqlite3_open(file, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s", msg != NULL ? msg : "");
    sqlite3_close(db);
}

#endif
