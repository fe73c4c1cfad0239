/* GET /admin/: the admin dashboard page. A static, public shell (it holds
 * no data: the page asks for the admin token and fetches the JSON routes
 * with it in an Authorization header), compiled in from server/web/admin
 * and its build-time vendored Chart.js, served with a strict
 * Content-Security-Policy. See docs/dashboard.md. */
#ifndef TLM_SERVER_ADMIN_PAGE_H
#define TLM_SERVER_ADMIN_PAGE_H

#include "portal.h" /* struct tlm__portal_file: the embedded-file row */

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* The page's embedded files (generated admin_assets.h, by embed.py). */
extern const struct tlm__portal_file tlm__admin_files[];
extern const size_t tlm__admin_n_files;

/* The Content-Security-Policy every file of the page is served with. */
extern const char tlm__admin_page_csp[];

/* Whether url is one of the page's public paths: exactly "/admin/",
 * "/admin/dashboard.js", "/admin/dashboard.css", or anything under
 * "/admin/vendor/" (unknown names there answer 404). Everything else under
 * /admin/ stays behind the admin token. */
bool tlm__admin_page_match(const char *url);

/* The embedded file a matching url names, or NULL. */
const struct tlm__portal_file *tlm__admin_page_find(const char *url);

/* Answers a request for a matching url: GET/HEAD the file with its
 * Content-Type, no-cache, its ETag (304 on a matching If-None-Match),
 * nosniff, no-referrer and the CSP; another method 405; an unknown vendor
 * file a JSON 404. */
enum MHD_Result tlm__admin_page_serve(
    struct MHD_Connection *c, const char *url, const char *method);

#endif
