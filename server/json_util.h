/* Small JSON helpers shared by the route handlers: error bodies and typed
 * field access with explicit absent / wrong-type outcomes. Must never keep
 * global state. */
#ifndef TLM_SERVER_JSON_UTIL_H
#define TLM_SERVER_JSON_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Returns a malloc'ed `{"error": msg}` (free()), or NULL when out of
 * memory. */
char *tlm__json_error_body(const char *msg);

/* Prints root compactly and frees it; returns the malloc'ed text or NULL. */
char *tlm__json_finish(cJSON *root);

/* Rounds a weighted count to the nearest integer for output. */
double tlm__json_round_count(double weighted);

#endif
