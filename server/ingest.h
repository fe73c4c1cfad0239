/* POST /v1/batch processing, independent of HTTP: decode the body, parse the
 * batch, validate every event on its own, store the valid ones in one
 * transaction and write the receipt. Must never trust a length or a field
 * from the body, and never fail a whole batch for one bad event. */
#ifndef TLM_SERVER_INGEST_H
#define TLM_SERVER_INGEST_H

#include "inflate.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

struct tlm__ingest_limits {
    size_t max_inflated_bytes;
};

/* Processes one wire body. Returns the HTTP status (200, 400, 413, 500) and
 * sets *response to the malloc'ed JSON body for it (receipt or
 * {"error": ...}; NULL only when out of memory). */
int tlm__ingest_body(struct tlm__store *st, const void *body, size_t len,
    enum tlm__encoding enc, const struct tlm__ingest_limits *limits,
    int64_t received_ms, char **response);

/* Same, for an already decoded JSON text of len bytes. */
int tlm__ingest_json(struct tlm__store *st, const char *json, size_t len,
    int64_t received_ms, char **response);

#endif
