/* RFC 3339 parsing and formatting on proleptic Gregorian day arithmetic.
 * Owns no state; never calls timegm/mktime (time zone and locale free). */
#include "rfc3339.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: exact for every Gregorian date. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static unsigned
days_in_month(unsigned y, unsigned m)
{
    static const unsigned dim[12]
        = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Parses the part after the seconds: fraction and zone. */
static int
parse_tail(const char *s, size_t len, unsigned *ms, int *offset_min)
{
    size_t i = 0;
    *ms = 0;
    *offset_min = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        unsigned scale = 100;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            *ms += (unsigned)(s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start || i - start > 9)
            return -1;
    }
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
        return 0;
    if (i + 6 != len || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
        return -1;
    unsigned oh, om;
    if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23
        || om > 59)
        return -1;
    *offset_min = (int)(oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    return 0;
}

int
tlm__rfc3339_parse(const char *s, size_t len, int64_t *out_ms)
{
    unsigned y, mo, d, h, mi, sec, ms;
    int off;
    if (s == NULL || len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':'
        || s[16] != ':' || (s[10] != 'T' && s[10] != 't'))
        return -1;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d)
        || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi)
        || !digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23
        || mi > 59 || sec > 60)
        return -1;
    if (parse_tail(s + 19, len - 19, &ms, &off) != 0)
        return -1;
    if (sec == 60)
        sec = 59; /* a leap second folds onto the second before it */
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
        - (int64_t)off * 60;
    *out_ms = secs * 1000 + ms;
    return 0;
}

int
tlm__rfc3339_format(int64_t ms, char *buf, size_t size)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t rem = ms - secs * 1000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || size < TLM_RFC3339_BUF)
        return -1;
    int n = snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d,
        (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)rem);
    return n == TLM_RFC3339_BUF - 1 ? 0 : -1;
}

int64_t
tlm__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
