/* Capped streaming gzip inflate with zlib. Owns the output buffer until it is
 * handed to the caller; grows it geometrically and never past cap + 1 bytes,
 * so the bytes a peer can make us hold are bounded by configuration. */
#include "inflate.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

enum tlm__encoding
tlm__encoding_parse(const char *header)
{
    if (header == NULL || header[0] == '\0'
        || strcasecmp(header, "identity") == 0)
        return TLM_ENCODING_IDENTITY;
    if (strcasecmp(header, "gzip") == 0 || strcasecmp(header, "x-gzip") == 0)
        return TLM_ENCODING_GZIP;
    return TLM_ENCODING_UNSUPPORTED;
}

static enum tlm__decode_status
copy_identity(
    const void *in, size_t in_len, size_t cap, char **out, size_t *out_len)
{
    if (in_len > cap)
        return TLM_DECODE_TOO_LARGE;
    char *buf = malloc(in_len + 1);
    if (buf == NULL)
        return TLM_DECODE_NOMEM;
    if (in_len > 0)
        memcpy(buf, in, in_len);
    buf[in_len] = '\0';
    *out = buf;
    *out_len = in_len;
    return TLM_DECODE_OK;
}

/* Makes room for more output: doubles, but never beyond cap + 1 bytes, the
 * one extra byte being how a stream that passes the cap is detected. */
static bool
grow(char **buf, size_t *size, size_t cap)
{
    size_t limit = cap + 1;
    size_t next = *size < 16384 ? 16384 : *size * 2;
    if (next > limit)
        next = limit;
    if (next <= *size)
        return false;
    char *p = realloc(*buf, next + 1); /* + 1 for the final NUL */
    if (p == NULL)
        return false;
    *buf = p;
    *size = next;
    return true;
}

struct inflate_state {
    z_stream zs;
    char *buf;
    size_t size; /* usable bytes of buf, excluding the NUL slot */
    size_t used;
};

/* Runs inflate over the whole input. Returns a decode status. */
static enum tlm__decode_status
run_inflate(struct inflate_state *st, size_t cap)
{
    for (;;) {
        if (st->used == st->size) {
            if (st->size > cap)
                return TLM_DECODE_TOO_LARGE;
            if (!grow(&st->buf, &st->size, cap))
                return st->size > cap ? TLM_DECODE_TOO_LARGE : TLM_DECODE_NOMEM;
        }
        size_t room = st->size - st->used;
        st->zs.next_out = (Bytef *)st->buf + st->used;
        st->zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        uInt before = st->zs.avail_out;
        int rc = inflate(&st->zs, Z_NO_FLUSH);
        st->used += before - st->zs.avail_out;
        if (st->used > cap)
            return TLM_DECODE_TOO_LARGE;
        if (rc == Z_STREAM_END) {
            if (st->zs.avail_in == 0)
                return TLM_DECODE_OK;
            /* Another gzip member follows (RFC 1952 2.2). */
            if (inflateReset(&st->zs) != Z_OK)
                return TLM_DECODE_MALFORMED;
            continue;
        }
        if (rc == Z_MEM_ERROR)
            return TLM_DECODE_NOMEM;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return TLM_DECODE_MALFORMED;
        if (st->zs.avail_in == 0 && st->zs.avail_out > 0)
            return TLM_DECODE_MALFORMED; /* input ended mid-stream */
    }
}

enum tlm__decode_status
tlm__inflate_capped(const void *in, size_t in_len, enum tlm__encoding enc,
    size_t cap, char **out, size_t *out_len)
{
    enum tlm__decode_status status = TLM_DECODE_MALFORMED;
    struct inflate_state st;
    bool z_ready = false;

    *out = NULL;
    *out_len = 0;
    if (enc == TLM_ENCODING_IDENTITY)
        return copy_identity(in, in_len, cap, out, out_len);
    if (enc != TLM_ENCODING_GZIP || in_len == 0 || in_len > UINT32_MAX)
        return TLM_DECODE_MALFORMED;
    memset(&st, 0, sizeof(st));
    st.zs.next_in = (Bytef *)(uintptr_t)in;
    st.zs.avail_in = (uInt)in_len;
    if (inflateInit2(&st.zs, 16 + MAX_WBITS) != Z_OK) {
        status = TLM_DECODE_NOMEM;
        goto out;
    }
    z_ready = true;
    status = run_inflate(&st, cap);
    if (status == TLM_DECODE_OK) {
        st.buf[st.used] = '\0';
        *out = st.buf;
        *out_len = st.used;
        st.buf = NULL;
    }
out:
    if (z_ready)
        inflateEnd(&st.zs);
    free(st.buf);
    return status;
}
