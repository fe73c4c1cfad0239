/* JSON-lines logger. Builds each line in a bounded stack buffer (long
 * values are cut, never the line's JSON validity) and writes it with one
 * write(2) under a mutex that also guards the descriptor against a
 * concurrent SIGHUP reopen. Never allocates after open. */
#include "log.h"

#include "rfc3339.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

struct tlm__log {
    pthread_mutex_t lock;
    int fd;
    char *path; /* NULL: stderr */
    enum tlm__log_level min_level;
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int
tlm__log_level_parse(const char *s, enum tlm__log_level *out)
{
    for (size_t i = 0; s != NULL && i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum tlm__log_level)i;
            return 0;
        }
    }
    return -1;
}

static int
open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int
tlm__log_open(const char *path, enum tlm__log_level min_level,
    struct tlm__log **out, char *err, size_t err_size)
{
    struct tlm__log *lg = calloc(1, sizeof(*lg));
    *out = NULL;
    if (lg == NULL)
        goto fail;
    lg->fd = STDERR_FILENO;
    lg->min_level = min_level;
    if (path != NULL) {
        lg->path = strdup(path);
        if (lg->path == NULL)
            goto fail;
        lg->fd = open_file(path);
        if (lg->fd < 0) {
            snprintf(err, err_size, "--log-file: cannot open %s: %s", path,
                strerror(errno));
            goto fail;
        }
    }
    pthread_mutex_init(&lg->lock, NULL);
    *out = lg;
    return 0;
fail:
    if (lg != NULL)
        free(lg->path);
    free(lg);
    if (lg == NULL)
        snprintf(err, err_size, "out of memory");
    return -1;
}

int
tlm__log_reopen(struct tlm__log *lg)
{
    int fd, old;
    if (lg == NULL || lg->path == NULL)
        return 0;
    fd = open_file(lg->path);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&lg->lock);
    old = lg->fd;
    lg->fd = fd;
    pthread_mutex_unlock(&lg->lock);
    close(old);
    return 0;
}

void
tlm__log_close(struct tlm__log *lg)
{
    if (lg == NULL)
        return;
    if (lg->path != NULL)
        close(lg->fd);
    pthread_mutex_destroy(&lg->lock);
    free(lg->path);
    free(lg);
}

bool
tlm__log_enabled(const struct tlm__log *lg, enum tlm__log_level level)
{
    return lg != NULL && level >= lg->min_level;
}

/* A line under construction; room is kept for the closing "}\n". */
struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
    bool cut; /* something did not fit */
};

#define LINE_TAIL 2

static void
add_raw(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - LINE_TAIL - l->len;
    if (n > room) {
        n = room;
        l->cut = true;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Appends s as a JSON string, escaped; stops (closing the quote) when the
 * line would overflow, and never splits an escape sequence. */
static void
add_string(struct line *l, const char *s)
{
    const size_t limit = sizeof(l->buf) - LINE_TAIL - 1;
    add_raw(l, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        if (l->len + n > limit) {
            l->cut = true;
            break;
        }
        memcpy(l->buf + l->len, esc, n);
        l->len += n;
    }
    if (l->len < sizeof(l->buf) - LINE_TAIL)
        add_raw(l, "\"", 1);
}

/* Appends ,"key":value; a member that does not fit whole is left out. */
static void
add_member(struct line *l, const struct tlm__log_field *f)
{
    char num[32];
    size_t start = l->len;
    l->cut = false;
    add_raw(l, ",", 1);
    add_string(l, f->key);
    add_raw(l, ":", 1);
    if (f->str != NULL)
        add_string(l, f->str);
    else
        add_raw(l, num, (size_t)snprintf(num, sizeof(num), "%lld", f->num));
    if (l->cut)
        l->len = start;
}

void
tlm__log_write(struct tlm__log *lg, enum tlm__log_level level, const char *msg,
    const struct tlm__log_field *fields, size_t n)
{
    struct line l;
    char ts[TLM_RFC3339_BUF];
    if (!tlm__log_enabled(lg, level))
        return;
    l.len = 0;
    l.cut = false;
    if (tlm__rfc3339_format(tlm__now_ms(), ts, sizeof(ts)) != 0)
        ts[0] = '\0';
    add_raw(&l, "{\"ts\":", 6);
    add_string(&l, ts);
    add_raw(&l, ",\"level\":", 9);
    add_string(&l, level_names[level]);
    add_raw(&l, ",\"msg\":", 7);
    add_string(&l, msg);
    for (size_t i = 0; i < n; i++)
        add_member(&l, &fields[i]);
    memcpy(l.buf + l.len, "}\n", 2);
    l.len += 2;
    pthread_mutex_lock(&lg->lock);
    /* A short write to a log is not worth failing a request for. */
    (void)!write(lg->fd, l.buf, l.len);
    pthread_mutex_unlock(&lg->lock);
}
