/* A report model as an A4 PDF through cairo's PDF surface, in memory: the
 * title, the window, the charts (horizontal bars, or a line for a time
 * series), then the tables, paged with the header row repeated and every
 * cell's text cut to its column. Never touches the file system. */
#include "report.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W 595.276 /* A4 in points */
#define PAGE_H 841.89
#define MARGIN 40.0
#define ROW_H 14.0
#define LABEL_W 170.0
#define FONT "DejaVu Sans"

struct sink {
    unsigned char *p;
    size_t len, cap;
};

static cairo_status_t
sink_write(void *closure, const unsigned char *data, unsigned int n)
{
    struct sink *s = closure;
    if (s->len + n > s->cap) {
        size_t cap = s->cap > 0 ? s->cap : 16384;
        while (cap < s->len + n)
            cap *= 2;
        unsigned char *p = realloc(s->p, cap);
        if (p == NULL)
            return CAIRO_STATUS_WRITE_ERROR;
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    return CAIRO_STATUS_SUCCESS;
}

/* o[key]'s text, "" when it is not a string. */
static const char *
str(const cJSON *o, const char *key)
{
    const char *s
        = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s != NULL ? s : "";
}

static const char *
label(const cJSON *labels, int i)
{
    const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(labels, i));
    return s != NULL ? s : "";
}

struct pdf {
    cairo_t *cr;
    double y; /* the next line's top */
};

static void
font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
        bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static void
next_page(struct pdf *p)
{
    cairo_show_page(p->cr);
    p->y = MARGIN;
}

/* Starts a new page unless h more points fit on this one. */
static void
need(struct pdf *p, double h)
{
    if (p->y + h > PAGE_H - MARGIN)
        next_page(p);
}

static double
text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Draws s with its baseline at y, cut at a UTF-8 boundary with an
 * ellipsis to fit width w; right-aligned in w when right. */
static void
text_fit(cairo_t *cr, const char *s, double x, double y, double w, bool right)
{
    char buf[256];
    size_t n = strlen(s);
    if (n >= sizeof(buf) - 4)
        n = sizeof(buf) - 4;
    memcpy(buf, s, n);
    buf[n] = '\0';
    while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80)
        buf[--n] = '\0'; /* never end inside a code point */
    if (strlen(s) != n || text_width(cr, buf) > w) {
        do {
            while (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80)
                n--;
            if (n > 0)
                n--;
            memcpy(buf + n, "\xe2\x80\xa6", 4); /* U+2026 */
        } while (n > 0 && text_width(cr, buf) > w);
    }
    cairo_move_to(cr, right ? x + w - text_width(cr, buf) : x, y);
    cairo_show_text(cr, buf);
}

static void
header(struct pdf *p, const cJSON *model)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(model, "window");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(model, "title");
    const char *keys[] = {"environment", "tier", "endpoint"};
    char line[512];
    cairo_t *cr = p->cr;
    font(cr, 20, true);
    text_fit(cr, cJSON_IsString(title) ? title->valuestring : "Report", MARGIN,
        p->y + 20, PAGE_W - 2 * MARGIN, false);
    p->y += 32;
    font(cr, 10, false);
    snprintf(
        line, sizeof(line), "Window: %s to %s", str(w, "from"), str(w, "to"));
    text_fit(cr, line, MARGIN, p->y + 10, PAGE_W - 2 * MARGIN, false);
    p->y += ROW_H;
    for (size_t i = 0; i < 3; i++) {
        const char *v = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(w, keys[i]));
        if (v == NULL)
            continue;
        snprintf(line, sizeof(line), "%s: %s", keys[i], v);
        text_fit(cr, line, MARGIN, p->y + 10, PAGE_W - 2 * MARGIN, false);
        p->y += ROW_H;
    }
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(w, "not_applied"))
        > 0) {
        text_fit(cr,
            "(filters not applied by the dashboard: see window.not_applied)",
            MARGIN, p->y + 10, PAGE_W - 2 * MARGIN, false);
        p->y += ROW_H;
    }
    p->y += ROW_H;
}

static double
num(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : 0;
}

static void
bars(struct pdf *p, const cJSON *labels, const cJSON *values, int n)
{
    cairo_t *cr = p->cr;
    double max = 0, span = PAGE_W - 2 * MARGIN - LABEL_W - 60;
    for (int i = 0; i < n; i++)
        max = fmax(max, num(cJSON_GetArrayItem(values, i)));
    font(cr, 8.5, false);
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(values, i);
        const char *l = cJSON_GetStringValue(cJSON_GetArrayItem(labels, i));
        double len = max > 0 ? num(v) / max * span : 0;
        char txt[64];
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_fit(cr, l ? l : "", MARGIN, p->y + 10, LABEL_W - 8, false);
        cairo_set_source_rgb(cr, 0.22, 0.45, 0.75);
        cairo_rectangle(cr, MARGIN + LABEL_W, p->y + 2, fmax(len, 0.5), 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, MARGIN + LABEL_W + len + 4, p->y + 10);
        cairo_show_text(cr, tlm__report_cell_text(v, txt, sizeof(txt)));
        p->y += ROW_H;
    }
}

static void
line(struct pdf *p, const cJSON *labels, const cJSON *values, int n)
{
    cairo_t *cr = p->cr;
    double x0 = MARGIN + 40, w = PAGE_W - 2 * MARGIN - 40, h = 140;
    double lo = INFINITY, hi = -INFINITY, top = p->y;
    char txt[64];
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, num(cJSON_GetArrayItem(values, i)));
        hi = fmax(hi, num(cJSON_GetArrayItem(values, i)));
    }
    if (hi <= lo)
        hi = lo + 1;
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 0.5);
    cairo_rectangle(cr, x0, top, w, h);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.22, 0.45, 0.75);
    cairo_set_line_width(cr, 1.5);
    for (int i = 0; i < n; i++) {
        double x = x0 + (n > 1 ? w * i / (n - 1) : 0);
        double y = top + h
            - (num(cJSON_GetArrayItem(values, i)) - lo) / (hi - lo) * h;
        if (i == 0)
            cairo_move_to(cr, x, y);
        else
            cairo_line_to(cr, x, y);
    }
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    font(cr, 8, false);
    cJSON *v = cJSON_CreateNumber(hi);
    text_fit(cr, tlm__report_cell_text(v, txt, sizeof(txt)), MARGIN, top + 8,
        36, true);
    cJSON_SetNumberValue(v, lo);
    text_fit(cr, tlm__report_cell_text(v, txt, sizeof(txt)), MARGIN, top + h,
        36, true);
    cJSON_Delete(v);
    text_fit(cr, label(labels, 0), x0, top + h + 11, w / 2, false);
    text_fit(cr, label(labels, n - 1), x0 + w / 2, top + h + 11, w / 2, true);
    p->y += h + 18;
}

static void
chart(struct pdf *p, const cJSON *c)
{
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "labels");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(c, "values");
    const char *kind
        = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "kind"));
    const char *title
        = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "title"));
    int n = cJSON_GetArraySize(values);
    bool is_line = kind != NULL && strcmp(kind, "line") == 0;
    if (n == 0)
        return;
    need(p, 20 + (is_line ? 160 : n * ROW_H));
    font(p->cr, 12, true);
    cairo_set_source_rgb(p->cr, 0, 0, 0);
    text_fit(p->cr, title ? title : "", MARGIN, p->y + 12, PAGE_W - 2 * MARGIN,
        false);
    p->y += 20;
    if (is_line)
        line(p, labels, values, n);
    else
        bars(p, labels, values, n);
    p->y += ROW_H;
}

/* Column widths: names and titles get three shares, ids two, others one. */
static void
widths(const cJSON *cols, int n, double *w)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const char *c = cJSON_GetStringValue(cJSON_GetArrayItem(cols, i));
        w[i] = 1;
        if (c != NULL
            && (strcmp(c, "endpoint") == 0 || strcmp(c, "title") == 0
                || strcmp(c, "target") == 0 || strcmp(c, "metric") == 0
                || strcmp(c, "category") == 0))
            w[i] = 3;
        else if (c != NULL && strcmp(c, "id") == 0)
            w[i] = 2;
        total += w[i];
    }
    for (int i = 0; i < n; i++)
        w[i] = w[i] / total * (PAGE_W - 2 * MARGIN);
}

/* One row; numbers right-aligned, and the header over a column whose
 * first row (first, may be NULL) is a number. */
static void
row(struct pdf *p, const cJSON *cells, const double *w, int n, bool head,
    const cJSON *first)
{
    cairo_t *cr = p->cr;
    double x = MARGIN;
    if (head) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_rectangle(cr, MARGIN, p->y, PAGE_W - 2 * MARGIN, ROW_H);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    font(cr, 8.5, head);
    for (int i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(cells, i);
        bool right = cJSON_IsNumber(c)
            || (head && cJSON_IsNumber(cJSON_GetArrayItem(first, i)));
        char txt[64];
        text_fit(cr, tlm__report_cell_text(c, txt, sizeof(txt)), x + 2,
            p->y + 10, w[i] - 4, right);
        x += w[i];
    }
    p->y += ROW_H;
}

static void
table(struct pdf *p, const cJSON *t)
{
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(t, "columns");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(t, "rows");
    const char *name
        = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
    const cJSON *r;
    double w[32];
    int n = cJSON_GetArraySize(cols);
    if (n <= 0 || n > 32)
        return;
    widths(cols, n, w);
    need(p, 20 + 2 * ROW_H);
    font(p->cr, 12, true);
    cairo_set_source_rgb(p->cr, 0, 0, 0);
    text_fit(
        p->cr, name ? name : "", MARGIN, p->y + 12, PAGE_W - 2 * MARGIN, false);
    p->y += 20;
    row(p, cols, w, n, true, cJSON_GetArrayItem(rows, 0));
    cJSON_ArrayForEach(r, rows)
    {
        if (p->y + ROW_H > PAGE_H - MARGIN) {
            next_page(p);
            row(p, cols, w, n, true, cJSON_GetArrayItem(rows, 0));
        }
        row(p, r, w, n, false, NULL);
    }
    if (cJSON_GetArraySize(rows) == 0) {
        font(p->cr, 8.5, false);
        text_fit(p->cr, "(no rows)", MARGIN + 2, p->y + 10, 200, false);
        p->y += ROW_H;
    }
    p->y += ROW_H;
}

static void
metadata(cairo_surface_t *s, const cJSON *model)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(model, "window");
    const char *title = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(model, "title"));
    char subject[256];
    snprintf(subject, sizeof(subject), "%s to %s, %s", str(w, "from"),
        str(w, "to"), str(w, "environment"));
    cairo_pdf_surface_set_metadata(
        s, CAIRO_PDF_METADATA_TITLE, title ? title : "Report");
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_SUBJECT, subject);
    cairo_pdf_surface_set_metadata(
        s, CAIRO_PDF_METADATA_CREATOR, "telemetry-server");
}

int
tlm__report_pdf(const cJSON *model, unsigned char **out, size_t *len)
{
    struct sink sink = {0};
    const cJSON *x;
    int rc = -1;
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(
        sink_write, &sink, PAGE_W, PAGE_H);
    struct pdf p = {.cr = cairo_create(s), .y = MARGIN};
    *out = NULL;
    *len = 0;
    metadata(s, model);
    header(&p, model);
    const cJSON *charts = cJSON_GetObjectItemCaseSensitive(model, "charts");
    const cJSON *tables = cJSON_GetObjectItemCaseSensitive(model, "tables");
    cJSON_ArrayForEach(x, charts)
    {
        chart(&p, x);
    }
    cJSON_ArrayForEach(x, tables)
    {
        table(&p, x);
    }
    cairo_show_page(p.cr);
    bool ok = cairo_status(p.cr) == CAIRO_STATUS_SUCCESS;
    cairo_destroy(p.cr);
    cairo_surface_finish(s);
    ok = ok && cairo_surface_status(s) == CAIRO_STATUS_SUCCESS;
    cairo_surface_destroy(s);
    if (ok && sink.p != NULL) {
        *out = sink.p;
        *len = sink.len;
        sink.p = NULL;
        rc = 0;
    }
    free(sink.p);
    return rc;
}

void
tlm__report_release(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}
