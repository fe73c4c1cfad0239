/* Built-in analytics reports: the report model taken from the dashboard's
 * JSON document, and its JSON, CSV and PDF renderings. Reads the dashboard
 * document only (never the store), so a report can never disagree with the
 * dashboard it was cut from. */
#ifndef TLM_SERVER_REPORT_H
#define TLM_SERVER_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct tlm__report_info {
    const char *id; /* "usage-summary", ... */
    const char *title;
    const char *description;
};

/* The built-in reports, n of them (static storage). */
const struct tlm__report_info *tlm__report_builtins(size_t *n);
/* The built-in report id, or NULL. */
const struct tlm__report_info *tlm__report_find(const char *id);

/* Filters echoed in the model's window (NULL = absent). */
struct tlm__report_filters {
    const char *tier;
    const char *endpoint;
};

/* The model of report info for the dashboard document dash:
 * {"id", "title", "window": {...}, "tables": [{"name", "columns",
 * "rows"}], "charts": [{"title", "kind", "labels", "values"}]}; tables[0]
 * is the main table (the CSV's). Returns NULL when out of memory.
 * Ownership: the result is the caller's (cJSON_Delete). */
cJSON *tlm__report_build(const struct tlm__report_info *info, const cJSON *dash,
    const struct tlm__report_filters *filters);

/* One CSV field per RFC 4180 (quoted when it holds a comma, a quote, CR
 * or LF; quotes doubled), malloc'ed; NULL when out of memory. */
char *tlm__report_csv_field(const char *text);
/* The model's main table as RFC 4180 CSV (header row, CRLF line ends),
 * malloc'ed NUL-terminated; NULL when out of memory. */
char *tlm__report_csv(const cJSON *model);

/* The model as an A4 PDF (cairo's PDF surface): title, window, charts,
 * tables paged. *out is the caller's (free). Returns 0 or -1. */
int tlm__report_pdf(const cJSON *model, unsigned char **out, size_t *len);
/* Releases cairo's and fontconfig's process-wide font caches (loaded by
 * the first PDF, kept for the next ones) so that leak checkers see none.
 * Thread safety: only once no report can be rendered any more (after the
 * HTTP daemon stopped), at exit. */
void tlm__report_release(void);

/* A cell's text as the CSV and PDF show it: numbers shortest round-trip
 * (integers without a decimal point), null empty. out holds >= 64 bytes
 * for numbers; strings are returned as is (borrowed). */
const char *tlm__report_cell_text(const cJSON *cell, char *buf, size_t size);

#endif
