/* The server's second privacy pass: the SDK's own scrubber (lib/scrub.c)
 * run over the strings of every valid event before it is stored, so a
 * client that sends PII (an old SDK, scrubbing turned off, a hand-rolled
 * client) is cleaned and shows up in the counts. Must never change an
 * event's identity or structure (id, type, timestamp, environment, ids
 * already anonymized by the SDK), only string contents. */
#ifndef TLM_SERVER_SCRUB_PASS_H
#define TLM_SERVER_SCRUB_PASS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* Room for every detector kind of lib/scrub.h (checked in scrub_pass.c). */
#define TLM_SCRUB_TALLY_KINDS 16

/* Replacements made, by detector (lib/scrub.h's order), and in all. */
struct tlm__scrub_tally {
    uint32_t by_kind[TLM_SCRUB_TALLY_KINDS];
    uint32_t total;
};

/* Scrubs event's strings in place (cJSON's allocator: enter the arena the
 * tree lives in first). Endpoints are scrubbed as paths ({id} templates);
 * user_id, organization_id, id, type, timestamp, environment, method,
 * access_tier, impact and client_info are left alone. Adds what it replaced
 * to *tally and returns the number of strings changed, or -1 when out of
 * memory (the event is then left partly scrubbed: refuse it). */
int tlm__scrub_event(cJSON *event, struct tlm__scrub_tally *tally);

#endif
