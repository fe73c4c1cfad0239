/* A report's main table as RFC 4180 CSV: a header row, CRLF after every
 * record, fields holding a comma, quote, CR or LF quoted with quotes
 * doubled; UTF-8 passes through. Text that a spreadsheet would run as a
 * formula (=, +, -, @ first) gets a leading apostrophe: error titles and
 * endpoints come from clients. Numbers are never altered. */
#include "report.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void
put(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
field(struct buf *b, const char *s, bool text)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    bool formula = text && strchr("=+-@", s[0]) != NULL && s[0] != '\0';
    if (quote)
        put(b, "\"", 1);
    if (formula)
        put(b, "'", 1);
    for (const char *q = s; *q != '\0'; q++) {
        put(b, q, 1);
        if (*q == '"')
            put(b, "\"", 1);
    }
    if (quote)
        put(b, "\"", 1);
}

static char *
finish(struct buf *b)
{
    if (b->failed || b->p == NULL) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

char *
tlm__report_csv_field(const char *text)
{
    struct buf b = {0};
    put(&b, "", 0);
    field(&b, text, true);
    return finish(&b);
}

static void
record(struct buf *b, const cJSON *cells)
{
    const cJSON *c;
    bool first = true;
    cJSON_ArrayForEach(c, cells)
    {
        char num[64];
        if (!first)
            put(b, ",", 1);
        first = false;
        field(b, tlm__report_cell_text(c, num, sizeof(num)), cJSON_IsString(c));
    }
    put(b, "\r\n", 2);
}

char *
tlm__report_csv(const cJSON *model)
{
    const cJSON *tables = cJSON_GetObjectItemCaseSensitive(model, "tables");
    const cJSON *main = cJSON_GetArrayItem(tables, 0);
    const cJSON *row;
    struct buf b = {0};
    put(&b, "", 0);
    if (main != NULL) {
        record(&b, cJSON_GetObjectItemCaseSensitive(main, "columns"));
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(main, "rows");
        cJSON_ArrayForEach(row, rows)
        {
            record(&b, row);
        }
    }
    return finish(&b);
}
