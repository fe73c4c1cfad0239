/* GET /portal/: the developer portal's static files (the feedback form and
 * the feature-request board) from the table embed.py generates, with the
 * security headers that let a vendor embed them and nothing else. Holds no
 * data and never reads the store: the page calls the JSON routes itself. */
#include "portal.h"

#include "http_internal.h"
#include "json_util.h"
#include "static_files.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PORTAL_PREFIX "/portal/"

static const char csp_head[] = "default-src 'none'; script-src 'self'; "
                               "style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors ";

const struct tlm__portal_file *
tlm__portal_find(const char *url)
{
    const char *name;
    if (url == NULL
        || strncmp(url, PORTAL_PREFIX, sizeof(PORTAL_PREFIX) - 1) != 0)
        return NULL;
    name = url + sizeof(PORTAL_PREFIX) - 1;
    if (name[0] == '\0')
        name = "index.html";
    for (size_t i = 0; i < tlm__portal_n_files; i++) {
        if (strcmp(name, tlm__portal_files[i].name) == 0)
            return &tlm__portal_files[i];
    }
    return NULL;
}

/* A header value must not end the header early: no control characters. */
static bool
header_safe(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

char *
tlm__portal_csp(const char *frame_ancestors)
{
    const char *fa = frame_ancestors;
    char *csp;
    size_t n;
    if (fa == NULL || fa[0] == '\0' || !header_safe(fa))
        fa = "'none'";
    n = sizeof(csp_head) + strlen(fa);
    csp = malloc(n);
    if (csp != NULL)
        snprintf(csp, n, "%s%s", csp_head, fa);
    return csp;
}

/* "/portal" without the slash: its relative links would miss, so send
 * the browser to "/portal/", keeping a well-formed key. */
static enum MHD_Result
redirect_to_slash(struct MHD_Connection *c)
{
    const char *key
        = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    char location[sizeof(PORTAL_PREFIX) + 5 + 128] = PORTAL_PREFIX;
    if (key != NULL && key[0] != '\0' && strlen(key) <= 128
        && strspn(key,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
               "0123456789_-")
            == strlen(key))
        snprintf(location, sizeof(location), PORTAL_PREFIX "?key=%s", key);
    const char *const headers[] = {MHD_HTTP_HEADER_LOCATION, location, NULL};
    return tlm__http_queue_headers(c, MHD_HTTP_PERMANENT_REDIRECT,
        tlm__json_error_body("moved to /portal/"), "application/json", headers);
}

enum MHD_Result
tlm__portal_serve(
    struct MHD_Connection *c, const char *url, const char *frame_ancestors)
{
    const struct tlm__portal_file *f = tlm__portal_find(url);
    enum MHD_Result rc;
    bool fresh;
    char *csp;
    if (url != NULL && strcmp(url, "/portal") == 0)
        return redirect_to_slash(c);
    if (f == NULL)
        return tlm__http_error(c, MHD_HTTP_NOT_FOUND, "no such portal file");
    csp = tlm__portal_csp(frame_ancestors);
    if (csp == NULL)
        return tlm__http_error(
            c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
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
        csp,
        NULL,
    };
    rc = tlm__http_queue_headers(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK,
        tlm__static_body_copy(f, fresh), tlm__static_content_type(f->name),
        headers);
    free(csp);
    return rc;
}
