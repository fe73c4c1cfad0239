/* Ids the server makes: UUID version 7 (RFC 9562), the Unix time in
 * milliseconds then 74 random bits, so ids sort by creation time. Used for
 * feedback, feature requests, comments, report runs and webhook delivery
 * ids, on every thread. */
#ifndef TLM_SERVER_UUID_H
#define TLM_SERVER_UUID_H

#define TLM_UUID_BUF 37 /* 36 characters and the NUL */

/* Writes a fresh lower-case 8-4-4-4-12 UUIDv7 to out (TLM_UUID_BUF bytes
 * at least). Never fails: without getrandom(2), the random part comes
 * from a process-wide counter mixed with the time and the process id, so
 * ids stay distinct. */
void tlm__uuid7(char *out);

#endif
