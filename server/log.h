/* Structured logging: one JSON object per line ({"ts","level","msg",...})
 * on stderr or a file that SIGHUP reopens (for logrotate). Thread-safe;
 * each line is one write(2), so lines never interleave. Must never log a
 * secret: callers pass only what may be read by operators. */
#ifndef TLM_SERVER_LOG_H
#define TLM_SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum tlm__log_level {
    TLM_LOG_DEBUG = 0,
    TLM_LOG_INFO = 1,
    TLM_LOG_WARN = 2,
    TLM_LOG_ERROR = 3,
};

/* One extra member of a line: a string (str non-NULL) or an integer. */
struct tlm__log_field {
    const char *key;
    const char *str;
    long long num;
};

struct tlm__log;

/* Parses "debug", "info", "warn" or "error". Returns 0 or -1. */
int tlm__log_level_parse(const char *s, enum tlm__log_level *out);

/* Opens a logger writing lines at min_level and above to path (appended,
 * created 0640), or to stderr when path is NULL. Returns 0 and *out, or -1
 * with a message in err. */
int tlm__log_open(const char *path, enum tlm__log_level min_level,
    struct tlm__log **out, char *err, size_t err_size);

/* Reopens the file by its path (after a rotation); no-op on stderr. On
 * failure the old file stays in use and -1 is returned. */
int tlm__log_reopen(struct tlm__log *lg);

void tlm__log_close(struct tlm__log *lg);

/* True when a line at level would be written (to skip building fields). */
bool tlm__log_enabled(const struct tlm__log *lg, enum tlm__log_level level);

/* Writes one line with n extra fields. lg NULL: nothing. */
void tlm__log_write(struct tlm__log *lg, enum tlm__log_level level,
    const char *msg, const struct tlm__log_field *fields, size_t n);

#endif
