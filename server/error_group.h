/* Error grouping: the fingerprint that decides which error events are "the
 * same error" (error code + the message with its variable parts replaced +
 * the top in-app stack frames, or the caller's own fingerprint). Pure
 * functions: no global state, no allocation, no I/O; any number of threads
 * may call them concurrently. The algorithm is specified in
 * docs/error-grouping.md. */
#ifndef TLM_SERVER_ERROR_GROUP_H
#define TLM_SERVER_ERROR_GROUP_H

#include <stdbool.h>
#include <stddef.h>

/* Bumped whenever the algorithm changes in a way that changes any
 * fingerprint. Stored with each group: a new version starts new groups
 * instead of silently re-mixing events into old ones. */
#define TLM_GROUPING_VERSION 1

/* Bounded work: only this much of each input is read. */
#define TLM__ERROR_MESSAGE_MAX 4096 /* bytes of the message */
#define TLM__ERROR_CODE_MAX 256 /* bytes of the error code */
#define TLM__ERROR_STACK_MAX (256 * 1024) /* bytes of the stack trace */
#define TLM__ERROR_STACK_LINES 64 /* lines of the stack trace */
#define TLM__ERROR_FRAMES 3 /* top in-app frames in the fingerprint */
#define TLM__ERROR_CALLER_FP_MAX 32 /* parts of a caller fingerprint */
#define TLM__ERROR_CALLER_PART_MAX 1024 /* bytes of one part */

/* A caller fingerprint part equal to this is replaced by the default
 * fingerprint (so ["{{ default }}", "tenant-a"] splits a group by tenant). */
#define TLM__ERROR_FP_DEFAULT "{{ default }}"

struct tlm__error_group_key {
    /* 32 lowercase hex chars: the first 16 bytes of a SHA-256. */
    char fingerprint[33];
    /* "<error_code>: <parameterized message>" (or the message alone),
     * valid UTF-8, truncated at a character boundary; never empty. */
    char title[256];
    /* The top in-app frame, normalized ("fetch_items (client.c)"); the
     * top frame when none is in-app; "" without a stack. */
    char culprit[256];
    /* The caller's fingerprint was used. */
    bool custom;
};

/* Computes the group key of one error event. error_code, stack_trace may be
 * NULL (absent); message NULL is read as "". caller_fp: the caller's
 * fingerprint parts (n_caller_fp of them, each non-NULL; a string
 * fingerprint is one part), or NULL / 0 parts for the default grouping.
 * Any bytes are accepted (invalid UTF-8 included). *out is filled
 * completely. Returns 0, or -1 when out is NULL or a caller part is NULL
 * (*out untouched). Pure; thread-safe; no allocation. */
int tlm__error_fingerprint(const char *error_code, const char *message,
    const char *stack_trace, const char *const *caller_fp, size_t n_caller_fp,
    struct tlm__error_group_key *out);

/* The message with its variable parts replaced by typed placeholders
 * (<num>, <hex>, <uuid>, <ip>, <email>, <str>, <path>, <url>, <time>,
 * <id>) and whitespace collapsed; case is kept. Reads at most
 * TLM__ERROR_MESSAGE_MAX bytes of msg (NULL: ""). Writes at most out_size
 * bytes, NUL included, cut at a UTF-8 boundary; invalid UTF-8 and control
 * bytes become '?'. Returns the length written (without the NUL); 0 and
 * nothing written when out is NULL or out_size is 0. */
size_t tlm__error_parameterize(const char *msg, char *out, size_t out_size);

/* Normalizes one stack trace line to "func (basename)", "func" or
 * "(basename)": no directories, line numbers, columns, offsets or
 * addresses. Formats: glibc backtrace_symbols, ASan and gdb ("#N ..."),
 * Python ('File "...", line N, in f'), Java and JavaScript ("at ..."), and
 * any line with a function and/or a file (the SDK's "f (file.c)" and
 * "~/src/file.c:42 f"). *in_app (may be NULL) is set false for system,
 * runtime, third-party and telemetry SDK frames. Returns the length
 * written, 0 (and "") when the line is not a frame. Same output rules as
 * tlm__error_parameterize. */
size_t tlm__error_normalize_frame(
    const char *line, char *out, size_t out_size, bool *in_app);

#endif
