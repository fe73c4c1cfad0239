/* Request body decoding: Content-Encoding gzip or identity into a buffer that
 * never grows past a hard cap. Must never allocate more than cap + 1 bytes of
 * output whatever the input claims (a gzip bomb costs at most the cap). */
#ifndef TLM_SERVER_INFLATE_H
#define TLM_SERVER_INFLATE_H

#include <stddef.h>

enum tlm__encoding {
    TLM_ENCODING_IDENTITY = 0,
    TLM_ENCODING_GZIP = 1,
    TLM_ENCODING_UNSUPPORTED = -1,
};

enum tlm__decode_status {
    TLM_DECODE_OK = 0,
    TLM_DECODE_TOO_LARGE = 1, /* output would pass the cap */
    TLM_DECODE_MALFORMED = 2, /* bad, truncated or trailing-garbage gzip */
    TLM_DECODE_NOMEM = 3,
};

/* Maps a Content-Encoding header value (NULL = absent) to an encoding. */
enum tlm__encoding tlm__encoding_parse(const char *header);

/* Decodes in[0..in_len) into a NUL-terminated malloc'ed *out (the caller's,
 * free() it) of *out_len bytes, at most cap. On any status but OK *out is
 * NULL. Multi-member gzip streams are accepted (RFC 1952). */
enum tlm__decode_status tlm__inflate_capped(const void *in, size_t in_len,
    enum tlm__encoding enc, size_t cap, char **out, size_t *out_len);

#endif
