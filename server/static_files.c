/* Serving embedded files (static_files.h). */
#include "static_files.h"

#include <stdlib.h>
#include <string.h>

const char *
tlm__static_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot != NULL && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot != NULL && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot != NULL && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    return "application/octet-stream";
}

bool
tlm__static_not_modified(struct MHD_Connection *c, const char *etag)
{
    const char *inm = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    size_t n = strlen(etag);
    if (inm == NULL)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    for (const char *p = strstr(inm, etag); p != NULL;
         p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ')
            return true;
    }
    return false;
}

char *
tlm__static_body_copy(const struct tlm__portal_file *f, bool empty)
{
    size_t n = empty ? 0 : f->size;
    char *b = malloc(n + 1);
    if (b != NULL) {
        memcpy(b, f->data, n);
        b[n] = '\0';
    }
    return b;
}
