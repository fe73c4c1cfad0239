/*
 * log.c - formats log lines for the user's logger callback.
 *
 * Silent when no logger is set; never writes to stdout/stderr by itself.
 */
#include "internal.h"

#include <stdio.h>

void
tlm__log(tlm_log_fn fn, void *data, tlm_log_level level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (fn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fn(level, line, data);
}
