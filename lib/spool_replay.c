/*
 * spool_replay.c - the reading side of the spool: validating what is on
 * disk, adopting the journals of dead processes, replaying their records.
 *
 * Files read here may be torn, truncated, garbage or written by anyone:
 * every length is checked against the file before it is used, and no byte
 * of a record reaches a visitor before both of its CRCs match. Never takes
 * a segment of a journal whose lock is held. Runs on one thread.
 */
#include "spool_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { NAME_OTHER = 0, NAME_SEGMENT = 1, NAME_LOCK = 2 };

/* Result of read_record() besides 0 and TLM_ENOMEM. */
#define REC_BAD 1

static size_t
hex_digits(const char *p, size_t max)
{
    size_t n = 0;

    while (n < max
        && ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'f')))
        n++;
    return n;
}

int
tlm__spool_parse_name(
    const char *name, char journal[TLM__JOURNAL_LEN], uint64_t *seq)
{
    const size_t plen = sizeof(TLM__SPOOL_PREFIX) - 1;
    const char *j, *p;
    size_t n = 0;

    if (strncmp(name, TLM__SPOOL_PREFIX, plen) != 0)
        return NAME_OTHER;
    j = p = name + plen;
    while (n < 11 && p[n] >= '0' && p[n] <= '9')
        n++;
    if (n == 0 || n > 10 || p[n] != '-' || hex_digits(p + n + 1, 17) != 16)
        return NAME_OTHER;
    p += n + 17;
    memcpy(journal, j, (size_t)(p - j));
    journal[p - j] = '\0';
    if (strcmp(p, ".lock") == 0)
        return NAME_LOCK;
    if (p[0] != '.' || hex_digits(p + 1, 17) != 16 || strcmp(p + 17, ".seg"))
        return NAME_OTHER;
    *seq = strtoull(p + 1, NULL, 16);
    return NAME_SEGMENT;
}

void
tlm__spool_seg_header(unsigned char h[TLM__SEG_HDR], int64_t created_ms)
{
    memcpy(h, TLM__SEG_MAGIC, 8);
    tlm__put16(h + 8, 1);
    tlm__put16(h + 10, TLM__SEG_HDR);
    tlm__put32(h + 12, 0);
    tlm__put64(h + 16, (uint64_t)created_ms);
    tlm__put32(h + 24, 0);
    tlm__put32(h + 28, (uint32_t)crc32(0, h, 28));
}

static bool
seg_header_parse(const unsigned char h[TLM__SEG_HDR], int64_t *created_ms)
{
    if (memcmp(h, TLM__SEG_MAGIC, 8) != 0 || tlm__get16(h + 8) != 1
        || tlm__get16(h + 10) != TLM__SEG_HDR
        || tlm__get32(h + 28) != (uint32_t)crc32(0, h, 28))
        return false;
    *created_ms = (int64_t)tlm__get64(h + 16);
    return true;
}

bool
tlm__spool_rec_parse(
    const unsigned char *h, uint64_t off, uint64_t size, tlm__rec *r)
{
    if (memcmp(h, TLM__REC_MAGIC, 4) != 0 || h[4] != TLM__REC_VERSION
        || (h[5] != TLM__REC_BATCH && h[5] != TLM__REC_API)
        || tlm__get16(h + 6) != TLM__REC_HDR
        || tlm__get32(h + TLM__REC_OFF_HCRC)
            != (uint32_t)crc32(0, h, TLM__REC_OFF_HCRC))
        return false;
    r->type = h[5];
    r->plen = tlm__get32(h + 8);
    r->n_events = tlm__get32(h + 12);
    r->seq = tlm__get64(h + 16);
    r->klen = tlm__get16(h + 24);
    r->crc = tlm__get32(h + TLM__REC_OFF_CRC);
    r->mark = tlm__get32(h + TLM__REC_OFF_MARK);
    return r->klen <= TLM__SPOOL_MAX_KEY && off <= size
        && size - off >= (uint64_t)TLM__REC_HDR + r->klen + r->plen;
}

static bool
rec_acked(const tlm__rec *r)
{
    return r->mark == (r->crc ^ TLM__ACK_XOR);
}

int
tlm__spool_pread(int fd, void *p, size_t n, uint64_t off)
{
    ssize_t got;

    while (n > 0) {
        got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        p = (char *)p + got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

/* The offset of the next valid record header in [from, size), or size.
 * A "TLSP" inside garbage is rejected by the header CRC. */
static uint64_t
resync(int fd, uint64_t from, uint64_t size)
{
    unsigned char chunk[4096], h[TLM__REC_HDR];
    const unsigned char *p;
    uint64_t pos = from, at;
    size_t n, i;
    tlm__rec r;

    while (pos < size && size - pos >= TLM__REC_HDR) {
        n = size - pos < sizeof(chunk) ? (size_t)(size - pos) : sizeof(chunk);
        if (tlm__spool_pread(fd, chunk, n, pos) != 0)
            return size;
        for (i = 0; i + 4 <= n; i = (size_t)(p - chunk) + 1) {
            p = memmem(chunk + i, n - i, TLM__REC_MAGIC, 4);
            if (p == NULL)
                break;
            at = pos + (uint64_t)(p - chunk);
            if (tlm__spool_pread(fd, h, sizeof(h), at) == 0
                && tlm__spool_rec_parse(h, at, size, &r))
                return at;
        }
        pos += n - 3; /* a magic may straddle two chunks */
    }
    return size;
}

void
tlm__spool_count_live(
    int fd, uint64_t from, uint64_t size, uint64_t *recs, uint64_t *events)
{
    unsigned char h[TLM__REC_HDR];
    uint64_t off = from;
    tlm__rec r;

    *recs = *events = 0;
    while (off < size) {
        if (size - off < TLM__REC_HDR
            || tlm__spool_pread(fd, h, sizeof(h), off) != 0
            || !tlm__spool_rec_parse(h, off, size, &r)) {
            off = resync(fd, off + 1, size);
            continue;
        }
        if (!rec_acked(&r)) {
            (*recs)++;
            *events += r.n_events;
        }
        off += TLM__REC_HDR + (uint64_t)r.klen + r.plen;
    }
}

/* The record at `off` into s->buf (key, then payload) if both CRCs match:
 * 0, REC_BAD or TLM_ENOMEM. */
static int
read_record(tlm__spool *s, int fd, uint64_t off, uint64_t size, tlm__rec *r)
{
    unsigned char h[TLM__REC_HDR];
    unsigned char *p;
    size_t need, cap;
    uLong crc;

    if (size - off < TLM__REC_HDR
        || tlm__spool_pread(fd, h, sizeof(h), off) != 0
        || !tlm__spool_rec_parse(h, off, size, r))
        return REC_BAD;
    need = (size_t)r->klen + r->plen;
    if (need + 1 > s->buf_cap) {
        cap = need + 1 > 65536 ? need + 1 : 65536;
        p = tlm__realloc(s->buf, cap);
        if (p == NULL)
            return TLM_ENOMEM;
        s->buf = p;
        s->buf_cap = cap;
    }
    if (need > 0 && tlm__spool_pread(fd, s->buf, need, off + TLM__REC_HDR) != 0)
        return REC_BAD;
    crc = crc32(0, h, TLM__REC_OFF_HCRC);
    crc = crc32_z(crc, s->buf, need);
    return (uint32_t)crc == r->crc ? 0 : REC_BAD;
}

/* Skips a torn or corrupt record at *off to the next valid header. */
static void
skip_bad(tlm__spool *s, tlm__spool_seg *g, int fd, uint64_t *off)
{
    char name[TLM__NAME_LEN];
    /* Record ids hold 32-bit offsets: nothing past 4 GiB is addressable. */
    uint64_t next = *off > UINT32_MAX ? g->size : resync(fd, *off + 1, g->size);

    tlm__spool_seg_name(s->journal, g->seq, name);
    s->st.records_corrupt++;
    s->st.bytes_skipped += next - *off;
    tlm__log(s->log, s->log_data, TLM_LOG_WARN,
        "spool %s: %s: skipped %llu bytes of a torn or corrupt record at "
        "offset %llu",
        s->dir, name, (unsigned long long)(next - *off),
        (unsigned long long)*off);
    *off = next;
    g->cursor = next;
}

/* Hands the records of segment `serial` after its cursor to `visit`.
 * 0, the visitor's negative value, or TLM_ENOMEM. */
static int
replay_segment(
    tlm__spool *s, uint32_t serial, tlm__spool_visit_type visit, void *ctx)
{
    char name[TLM__NAME_LEN], key[TLM__SPOOL_MAX_KEY + 1];
    tlm__spool_seg *g = &s->segs[tlm__spool_find(s, serial)];
    uint64_t off = g->cursor, next, id;
    tlm__rec r;
    int fd, rc = 0;

    tlm__spool_seg_name(s->journal, g->seq, name);
    fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        tlm__log(s->log, s->log_data, TLM_LOG_ERROR,
            "spool %s: cannot read %s: %s", s->dir, name, strerror(errno));
        s->st.records_corrupt++;
        s->st.bytes_skipped += g->size - off;
        off = g->size;
    }
    while (off < g->size) {
        rc = read_record(s, fd, off, g->size, &r);
        if (rc == TLM_ENOMEM)
            break;
        if (rc != 0 || off > UINT32_MAX) {
            rc = 0;
            skip_bad(s, g, fd, &off);
            continue;
        }
        next = off + TLM__REC_HDR + r.klen + r.plen;
        if (!rec_acked(&r)) {
            memcpy(key, s->buf, r.klen);
            key[r.klen] = '\0';
            id = ((uint64_t)serial << 32) | off;
            g->live++;
            g->live_events += r.n_events;
            g->cursor = next; /* so that the visitor may ack it */
            s->visit_id = id;
            s->visit_acked = false;
            rc = visit(ctx, id, r.type, s->buf + r.klen, r.plen, r.n_events,
                r.klen > 0 ? key : NULL);
            /* An ack from the visitor may have deleted another segment. */
            g = &s->segs[tlm__spool_find(s, serial)];
            if (rc < 0 && !s->visit_acked) {
                g->live--;
                g->live_events -= r.n_events;
                g->cursor = off;
                break;
            }
            s->st.records_replayed++;
            if (rc < 0)
                break;
            rc = 0;
        }
        off = next;
        g->cursor = off;
    }
    if (rc == 0)
        g->scanned = true;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- adoption ------------------------------------------------------------ */

typedef struct entry {
    char journal[TLM__JOURNAL_LEN];
    uint64_t seq;
    int kind;
} entry;

static int
entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->journal, y->journal);

    if (c != 0)
        return c;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
add_entry(entry **v, size_t *n, size_t *cap, const entry *e)
{
    entry *p;
    size_t c;

    if (*n == *cap) {
        c = *cap ? *cap * 2 : 32;
        p = c < SIZE_MAX / sizeof(*p) ? tlm__realloc(*v, c * sizeof(*p)) : NULL;
        if (p == NULL)
            return TLM_ENOMEM;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = *e;
    return 0;
}

/* Our names in the directory that belong to other journals, sorted by
 * journal then segment number. getdents64 rather than opendir: no
 * allocation behind the client's allocator. */
static int
list_dir(tlm__spool *s, entry **out, size_t *count)
{
    long buf[1024]; /* aligned for struct dirent64 */
    const struct dirent64 *d;
    entry e, *v = NULL;
    size_t n = 0, cap = 0;
    ssize_t got, pos;

    *out = NULL;
    *count = 0;
    if (lseek(s->dirfd, 0, SEEK_SET) != 0)
        return TLM_EIO;
    for (;;) {
        got = getdents64(s->dirfd, buf, sizeof(buf));
        if (got <= 0)
            break;
        for (pos = 0; pos < got; pos += d->d_reclen) {
            d = (const struct dirent64 *)((const char *)buf + pos);
            memset(&e, 0, sizeof(e));
            e.kind = tlm__spool_parse_name(d->d_name, e.journal, &e.seq);
            if (e.kind == NAME_OTHER || strcmp(e.journal, s->journal) == 0)
                continue;
            if (add_entry(&v, &n, &cap, &e) != 0) {
                tlm__free(v);
                return TLM_ENOMEM;
            }
        }
    }
    if (got < 0) {
        tlm__free(v);
        return TLM_EIO;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), entry_cmp);
    *out = v;
    *count = n;
    return 0;
}

/* Renames a dead journal's segment into ours: 0, TLM_ENOMEM or TLM_EIO. */
static int
adopt_segment(tlm__spool *s, const entry *e)
{
    char old[TLM__NAME_LEN], name[TLM__NAME_LEN];
    unsigned char h[TLM__SEG_HDR];
    tlm__spool_seg g;
    struct stat st;
    int fd;

    if (tlm__spool_reserve(s, 1) != 0)
        return TLM_ENOMEM;
    memset(&g, 0, sizeof(g));
    g.seq = s->next_seq;
    tlm__spool_seg_name(e->journal, e->seq, old);
    tlm__spool_seg_name(s->journal, g.seq, name);
    if (renameat(s->dirfd, old, s->dirfd, name) != 0)
        return errno == ENOENT ? 0 : TLM_EIO; /* ENOENT: another took it */
    s->next_seq++;
    fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        /* Left under our name: the next start adopts it from us. */
        if (fd >= 0)
            close(fd);
        return TLM_EIO;
    }
    g.size = (uint64_t)st.st_size;
    if (g.size >= TLM__SEG_HDR && tlm__spool_pread(fd, h, sizeof(h), 0) == 0
        && seg_header_parse(h, &g.created_ms))
        g.cursor = TLM__SEG_HDR; /* else records are looked for from 0 */
    close(fd);
    g.adopted = true;
    g.scanned = g.cursor >= g.size;
    tlm__spool_insert(s, &g);
    s->st.segments_adopted++;
    return 0;
}

static int
delete_segment(tlm__spool *s, const entry *e)
{
    char name[TLM__NAME_LEN];

    tlm__spool_seg_name(e->journal, e->seq, name);
    return unlinkat(s->dirfd, name, 0) == 0 || errno == ENOENT ? 0 : TLM_EIO;
}

/* Takes the `n` entries of one journal if no live process holds it: its
 * lock file can be locked (and is still the file of that name), or is gone.
 * 0, TLM_ENOMEM or TLM_EIO. */
static int
take_journal(tlm__spool *s, const entry *e, size_t n, bool purge)
{
    char name[TLM__NAME_LEN];
    struct stat a, b;
    size_t i, taken = 0;
    int fd, rc = 0, one;

    tlm__spool_lock_name(e->journal, name);
    fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno != ENOENT)
        return 0; /* cannot tell whether it is alive: leave it */
    if (fd >= 0
        && (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &a) != 0
            || fstatat(s->dirfd, name, &b, AT_SYMLINK_NOFOLLOW) != 0
            || a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
        close(fd);
        return 0; /* alive, or just taken by another process */
    }
    for (i = 0; i < n && rc != TLM_ENOMEM; i++) {
        if (e[i].kind != NAME_SEGMENT)
            continue;
        one = purge ? delete_segment(s, &e[i]) : adopt_segment(s, &e[i]);
        if (one != 0)
            rc = one;
        else
            taken++;
    }
    if (fd >= 0) {
        /* Still locked: nobody sees the journal without its segments. */
        if (rc == 0)
            unlinkat(s->dirfd, name, 0);
        close(fd);
    }
    if (taken > 0 && !purge)
        tlm__log(s->log, s->log_data, TLM_LOG_INFO,
            "spool %s: took over %zu segment(s) of journal %s", s->dir, taken,
            e->journal);
    return rc;
}

int
tlm__spool_adopt(tlm__spool *s, bool purge)
{
    entry *v;
    size_t n, i, j;
    int rc, one;

    rc = list_dir(s, &v, &n);
    for (i = 0; rc != TLM_ENOMEM && i < n; i = j) {
        for (j = i + 1; j < n && strcmp(v[j].journal, v[i].journal) == 0; j++)
            ;
        one = take_journal(s, v + i, j - i, purge);
        if (one != 0)
            rc = one;
    }
    tlm__free(v);
    return rc;
}

/* tlm__spool_replay()'s visitor, behind the typed one. */
struct untyped {
    tlm__spool_visit visit;
    void *ctx;
};

static int
visit_untyped(void *ctx, uint64_t record_id, int type, const void *body,
    size_t len, uint32_t n_events, const char *key)
{
    struct untyped *u = ctx;

    (void)type;
    return u->visit(u->ctx, record_id, body, len, n_events, key);
}

int
tlm__spool_replay(tlm__spool *s, tlm__spool_visit visit, void *ctx)
{
    struct untyped u = {visit, ctx};

    if (visit == NULL)
        return TLM_EINVAL;
    return tlm__spool_replay_type(s, visit_untyped, &u);
}

int
tlm__spool_replay_type(tlm__spool *s, tlm__spool_visit_type visit, void *ctx)
{
    uint32_t serial;
    size_t i;
    int rc = 0, adopted;

    if (s == NULL || visit == NULL || s->pid != getpid() || s->in_replay)
        return TLM_EINVAL;
    /* After an I/O error on one journal, the others are still replayed. */
    adopted = tlm__spool_adopt(s, false);
    if (adopted == TLM_ENOMEM)
        return adopted;
    tlm__spool_make_room(s, 0);
    s->in_replay = true;
    for (;;) {
        /* Oldest first; re-searched each time since acks delete. */
        for (i = 0; i < s->n && s->segs[i].scanned; i++)
            ;
        if (i == s->n)
            break;
        serial = s->segs[i].serial;
        rc = replay_segment(s, serial, visit, ctx);
        if (rc != 0)
            break;
    }
    s->in_replay = false;
    /* Fully read and nothing outstanding (all acked, empty, garbage). */
    for (i = s->n; i-- > 0;)
        if (s->segs[i].scanned && s->segs[i].live == 0
            && s->segs[i].serial != s->active)
            (void)tlm__spool_drop(s, i, false);
    return rc != 0 ? rc : adopted;
}
