/* What the portal (portal.c) and the dashboard page (admin_page.c) share
 * to serve their embedded files: the content type by extension, the
 * If-None-Match check against a file's ETag, and the body copy the HTTP
 * layer takes over. */
#ifndef TLM_SERVER_STATIC_FILES_H
#define TLM_SERVER_STATIC_FILES_H

#include "portal.h"

#include <microhttpd.h>
#include <stdbool.h>

/* "text/html; charset=utf-8" and so on by extension (.html, .js, .css),
 * else "application/octet-stream". A static string. */
const char *tlm__static_content_type(const char *name);

/* Whether the request's If-None-Match lists etag (or is "*"). */
bool tlm__static_not_modified(struct MHD_Connection *c, const char *etag);

/* A NUL-terminated malloc'ed copy of f's bytes (none when empty: a 304),
 * for tlm__http_queue_headers; NULL when out of memory. The files are text
 * with no NUL inside (fetch-vendor.sh refuses a bundle that has one). */
char *tlm__static_body_copy(const struct tlm__portal_file *f, bool empty);

#endif
