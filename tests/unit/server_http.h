/*
 * server_http.h - raw HTTP/1.1 for the server unit tests that start
 * telemetry-server's HTTP layer in process: a loopback connection with a
 * receive timeout (a hang guard, never a measurement), reading to the
 * peer's close, the status line, and one whole request on its own
 * connection (Connection: close).
 */
#ifndef TLM_TEST_SERVER_HTTP_H
#define TLM_TEST_SERVER_HTTP_H

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TEST_HTTP_TIMEOUT_S 20

static inline int
test_http_connect(int port)
{
    struct sockaddr_in a
        = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {TEST_HTTP_TIMEOUT_S, 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Reads until the peer closes; the bytes read (-1: timeout, nothing). */
static inline long
test_http_read_all(int fd, char *resp, size_t size)
{
    size_t used = 0;
    ssize_t r = 0;
    while (used + 1 < size) {
        r = read(fd, resp + used, size - 1 - used);
        if (r <= 0)
            break;
        used += (size_t)r;
    }
    resp[used] = '\0';
    return r < 0 && used == 0 ? -1 : (long)used;
}

/* The status of a response, 0 when there is no status line. */
static inline int
test_http_status(const char *resp)
{
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        return 0;
    return status;
}

/* One request on its own connection: the status (0: closed unanswered),
 * the whole response in resp. The body may be cut short by the server
 * (an early 413): its write is not checked. */
static inline int
test_http(int port, const char *method, const char *path, const char *headers,
    const char *body, char *resp, size_t resp_size)
{
    static _Thread_local char head[32768];
    size_t blen = body != NULL ? strlen(body) : 0;
    int fd = test_http_connect(port);
    int n = snprintf(head, sizeof(head),
        "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s"
        "Content-Length: %zu\r\n\r\n",
        method, path, headers, blen);
    ck_assert_int_eq(write(fd, head, (size_t)n), n);
    if (blen > 0)
        (void)!write(fd, body, blen);
    test_http_read_all(fd, resp, resp_size);
    close(fd);
    return test_http_status(resp);
}

#endif
