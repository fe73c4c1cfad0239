/* An error event's group at ingest (ingest_errors.c). */
#ifndef TLM_SERVER_INGEST_ERRORS_H
#define TLM_SERVER_INGEST_ERRORS_H

#include "error_group.h"
#include "event.h"
#include "store.h"

/* Fills *key and *out (whose strings point into key: keep both alive
 * while out is used) for error event ev, whose environment is final.
 * Returns 0, or -1 on bad arguments. */
int tlm__ingest_error_info(const struct tlm__event *ev,
    struct tlm__error_group_key *key, struct tlm__error_info *out);

#endif
