/*
 * fixture.h - starts the real telemetry-server for integration tests and
 * reads its admin API.
 *
 * Test code only: spawns processes, blocks, and aborts the test on setup
 * failure (never linked into the library).
 */
#ifndef TLM_TEST_FIXTURE_H
#define TLM_TEST_FIXTURE_H

#include <cjson/cJSON.h>
#include <sys/types.h>

typedef struct tlm_test_server {
    pid_t pid;
    int port;
    char dir[256];
    char url[64];
    char db[512]; /* the --db URL it was started with */
    char pg_db[64]; /* PostgreSQL mode: the database made for it, or "" */
} tlm_test_server;

#define TLM_TEST_API_KEY "itest-key"
#define TLM_TEST_ADMIN "itest-admin"

/* Starts telemetry-server on 127.0.0.1:0 with a fresh SQLite file; extra
 * arguments (NULL-terminated) are appended. Returns 0 or -1.
 * With TLM_TEST_DB_BACKEND=postgresql it gets a fresh PostgreSQL database
 * instead (CREATE DATABASE tlm_it_<pid>_<n> on the server TLM_TEST_PG_URL
 * names; dropped by tlm_test_server_stop). An extra "--db URL" then uses
 * that database and makes none, and "--db sqlite:DIR/events.db" naming
 * the file of a server started here means that server's database. In
 * that mode a suite whose TLM_TEST_PG_URL is unset exits 77 (skipped)
 * before main. */
int tlm_test_server_start(tlm_test_server *s, const char *const *extra);
void tlm_test_server_stop(tlm_test_server *s);

/* GET path with the admin token; the parsed JSON body or NULL. */
cJSON *tlm_test_get_json(
    const tlm_test_server *s, const char *path, long *status);

/* One request to s: GET path, or POST body when body is not NULL, with
 * "Authorization: Bearer <secret>" unless secret is NULL. Reuses e when
 * not NULL (a keep-alive connection). Returns the status (0: no answer)
 * and the response body in out[0..size), truncated. */
long tlm_test_http(const tlm_test_server *s, void *e, const char *path,
    const char *secret, const char *body, char *out, size_t size);

/* A batch body (malloc'ed) of n request events timestamped now, with ids
 * "0190<group>000-0000-7000-8000-<first + i, 12 digits>" (group: one hex
 * digit, so suites keep their ids apart), on endpoint, claiming
 * environment unless it is NULL. */
char *tlm_test_batch(char group, int first, int n, const char *endpoint,
    const char *environment);

/* totals.events of the dashboard over all time (production). */
long tlm_test_total_events(const tlm_test_server *s);

/* A loopback TCP port nobody listens on. */
int tlm_test_dead_port(void);

/* A listening socket that accepts connections and never answers; returns
 * the fd (close it to stop) and sets *port. */
int tlm_test_stall_server(int *port);

#endif
