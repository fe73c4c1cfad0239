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
} tlm_test_server;

#define TLM_TEST_API_KEY "itest-key"
#define TLM_TEST_ADMIN "itest-admin"

/* Starts telemetry-server on 127.0.0.1:0 with a fresh SQLite file; extra
 * arguments (NULL-terminated) are appended. Returns 0 or -1. */
int tlm_test_server_start(tlm_test_server *s, const char *const *extra);
void tlm_test_server_stop(tlm_test_server *s);

/* GET path with the admin token; the parsed JSON body or NULL. */
cJSON *tlm_test_get_json(
    const tlm_test_server *s, const char *path, long *status);

/* totals.events of the dashboard over all time (production). */
long tlm_test_total_events(const tlm_test_server *s);

/* A loopback TCP port nobody listens on. */
int tlm_test_dead_port(void);

/* A listening socket that accepts connections and never answers; returns
 * the fd (close it to stop) and sets *port. */
int tlm_test_stall_server(int *port);

#endif
