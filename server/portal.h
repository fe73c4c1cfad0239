/* GET /portal/: the embeddable feedback form and feature-request board.
 * Serves the static files of server/web/portal (compiled in by
 * server/web/embed.py) with a strict Content-Security-Policy; never any
 * data: the page fetches everything from the JSON routes with its key. */
#ifndef TLM_SERVER_PORTAL_H
#define TLM_SERVER_PORTAL_H

#include <microhttpd.h>
#include <stddef.h>

/* One embedded file (the generated portal_assets.c defines the table). */
struct tlm__portal_file {
    const char *name; /* base name: "index.html", "portal.js", ... */
    const unsigned char *data;
    size_t size;
    const char *etag; /* quoted content hash, e.g. "\"3f2a...\"" */
};

extern const struct tlm__portal_file tlm__portal_files[];
extern const size_t tlm__portal_n_files;

/* The embedded file a URL under /portal/ names ("/portal/" is
 * index.html), or NULL. */
const struct tlm__portal_file *tlm__portal_find(const char *url);

/* The Content-Security-Policy the portal is served with; frame_ancestors
 * is the directive's source list ("'none'" when NULL, empty or holding a
 * control character). Returns a malloc'ed string (free()) or NULL. */
char *tlm__portal_csp(const char *frame_ancestors);

/* Answers GET/HEAD url ("/portal" is redirected to "/portal/"): the file with
 * its Content-Type, no-cache, nosniff, no-referrer and the CSP above, 304 on a
 * matching If-None-Match, or a JSON 404. frame_ancestors: the caller's
 * computation from the publishable key's origins ("'none'" when there is
 * no key or it is unknown). */
enum MHD_Result tlm__portal_serve(
    struct MHD_Connection *c, const char *url, const char *frame_ancestors);

#endif
