/* RFC 3339 timestamps <-> epoch milliseconds, without the C library's time
 * zone machinery (no TZ, no locale, no static buffers): safe from any thread.
 * Must never accept a date the calendar does not have. */
#ifndef TLM_SERVER_RFC3339_H
#define TLM_SERVER_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/* Length of "2026-12-04T20:01:02.345Z" plus the terminating NUL. */
#define TLM_RFC3339_BUF 25

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" of exactly len bytes.
 * Fractions beyond milliseconds are truncated. Returns 0 or -1. */
int tlm__rfc3339_parse(const char *s, size_t len, int64_t *out_ms);

/* Formats epoch milliseconds as UTC with milliseconds into buf (at least
 * TLM_RFC3339_BUF bytes). Returns 0, or -1 for years outside 0..9999. */
int tlm__rfc3339_format(int64_t ms, char *buf, size_t size);

/* Current wall-clock time in epoch milliseconds. */
int64_t tlm__now_ms(void);

#endif
