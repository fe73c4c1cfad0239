/* GET /admin/: the admin dashboard's static files from the table embed.py
 * generates (server/web/admin plus the vendored Chart.js bundle), with the
 * headers that keep the page from running anything but its own files.
 * Public by design: the files hold no data and the page sends the admin
 * token itself, as a header, to the JSON routes. */
#include "admin_page.h"

#include "http_internal.h"
#include "json_util.h"
#include "static_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* embed.py names its table after the portal; the page's copy gets its own
 * names so both tables link into one server. */
#define tlm__portal_files tlm__admin_files
#define tlm__portal_n_files tlm__admin_n_files
#include "admin_assets.h"
#undef tlm__portal_files
#undef tlm__portal_n_files

#define VENDOR_PREFIX "/admin/vendor/"

const char tlm__admin_page_csp[]
    = "default-src 'none'; script-src 'self'; style-src 'self'; "
      "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
      "base-uri 'none'; form-action 'self'";

/* Public URL to embedded file name. */
static const struct {
    const char *url;
    const char *name;
} pages[] = {
    {"/admin/", "index.html"},
    {"/admin/dashboard.js", "dashboard.js"},
    {"/admin/dashboard.css", "dashboard.css"},
    {VENDOR_PREFIX "chart.umd.js", "chart.umd.js"},
};

bool
tlm__admin_page_match(const char *url)
{
    if (url == NULL)
        return false;
    if (strncmp(url, VENDOR_PREFIX, sizeof(VENDOR_PREFIX) - 1) == 0)
        return true;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        if (strcmp(url, pages[i].url) == 0)
            return true;
    }
    return false;
}

const struct tlm__portal_file *
tlm__admin_page_find(const char *url)
{
    const char *name = NULL;
    if (url == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        if (strcmp(url, pages[i].url) == 0)
            name = pages[i].name;
    }
    for (size_t i = 0; name != NULL && i < tlm__admin_n_files; i++) {
        if (strcmp(name, tlm__admin_files[i].name) == 0)
            return &tlm__admin_files[i];
    }
    return NULL;
}

enum MHD_Result
tlm__admin_page_serve(
    struct MHD_Connection *c, const char *url, const char *method)
{
    const struct tlm__portal_file *f;
    bool fresh;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return tlm__http_queue(c, MHD_HTTP_METHOD_NOT_ALLOWED,
            tlm__json_error_body("method not allowed"), MHD_HTTP_HEADER_ALLOW,
            "GET");
    f = tlm__admin_page_find(url);
    if (f == NULL)
        return tlm__http_error(c, MHD_HTTP_NOT_FOUND, "no such dashboard file");
    fresh = tlm__static_not_modified(c, f->etag);
    const char *const headers[] = {
        MHD_HTTP_HEADER_CACHE_CONTROL,
        "no-cache",
        MHD_HTTP_HEADER_ETAG,
        f->etag,
        "X-Content-Type-Options",
        "nosniff",
        "Referrer-Policy",
        "no-referrer",
        "Content-Security-Policy",
        tlm__admin_page_csp,
        NULL,
    };
    return tlm__http_queue_headers(c,
        fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK,
        tlm__static_body_copy(f, fresh), tlm__static_content_type(f->name),
        headers);
}
