/*
 * spool.c - the writing side of the on-disk batch journal: opening this
 * process's journal, appending records, ack marks, the size cap, purge and
 * close. Format, locking and durability are described in spool.h.
 *
 * Runs on one thread (the worker). Never writes a file of another live
 * journal, never lets a failed write leave a partial record behind, never
 * raises SIGXFSZ in its host (RLIMIT_FSIZE is checked before writing).
 */
#include "spool_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MIN_MAX_BYTES 4096u

static void seterr(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || n == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

void
tlm__spool_seg_name(const char *journal, uint64_t seq, char *out)
{
    snprintf(out, TLM__NAME_LEN, TLM__SPOOL_PREFIX "%s.%016llx.seg", journal,
        (unsigned long long)seq);
}

void
tlm__spool_lock_name(const char *journal, char *out)
{
    snprintf(out, TLM__NAME_LEN, TLM__SPOOL_PREFIX "%s.lock", journal);
}

int
tlm__spool_sync(tlm__spool *s, int fd, bool data_only)
{
    s->st.fsyncs++;
    return data_only ? fdatasync(fd) : fsync(fd);
}

/* Usable from this process: a fork()ed child must not write its parent's
 * journal. */
static bool
usable(const tlm__spool *s)
{
    return s != NULL && s->pid == getpid();
}

static uint64_t
random64(void)
{
    uint64_t r = 0, z;
    struct timespec ts;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30)
        ^ ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&r;
    z += 0x9e3779b97f4a7c15u; /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The largest file this process may write without SIGXFSZ. */
static uint64_t
fsize_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    return (uint64_t)rl.rlim_cur;
}

/* All of iov at `off`, resuming after short writes. 0 or an errno. */
static int
write_at(int fd, struct iovec *iov, int cnt, uint64_t off)
{
    ssize_t w;

    while (cnt > 0) {
        w = pwritev(fd, iov, cnt, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        off += (uint64_t)w;
        while (cnt > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

size_t
tlm__spool_find(const tlm__spool *s, uint32_t serial)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (s->segs[i].serial == serial)
            break;
    return i;
}

int
tlm__spool_reserve(tlm__spool *s, size_t extra)
{
    tlm__spool_seg *p;
    size_t cap;

    if (s->next_serial > UINT32_MAX - extra || extra > SIZE_MAX / 2 - s->n)
        return TLM_ENOMEM;
    if (s->n + extra <= s->cap)
        return 0;
    cap = s->cap ? s->cap : 8;
    while (cap < s->n + extra)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof(*p))
        return TLM_ENOMEM;
    p = tlm__realloc(s->segs, cap * sizeof(*p));
    if (p == NULL)
        return TLM_ENOMEM;
    s->segs = p;
    s->cap = cap;
    return 0;
}

void
tlm__spool_insert(tlm__spool *s, const tlm__spool_seg *g)
{
    size_t i = s->n;
    const tlm__spool_seg *o;

    /* Adopted segments come from earlier runs: before our own, by age. */
    if (g->adopted) {
        for (i = 0; i < s->n; i++) {
            o = &s->segs[i];
            if (!o->adopted || o->created_ms > g->created_ms
                || (o->created_ms == g->created_ms && o->seq > g->seq))
                break;
        }
    }
    memmove(&s->segs[i + 1], &s->segs[i], (s->n - i) * sizeof(*s->segs));
    s->segs[i] = *g;
    s->segs[i].serial = s->next_serial++;
    s->n++;
    s->total += g->size;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int
tlm__spool_drop(tlm__spool *s, size_t i, bool count)
{
    tlm__spool_seg *g = &s->segs[i];
    char name[TLM__NAME_LEN];
    uint64_t recs = g->live, events = g->live_events, r = 0, e = 0;
    int fd, rc = 0;

    tlm__spool_seg_name(s->journal, g->seq, name);
    if (count && !g->scanned) {
        /* Adopted and not fully replayed: what is left in it is lost. */
        fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            tlm__spool_count_live(fd, g->cursor, g->size, &r, &e);
            close(fd);
        }
        recs += r;
        events += e;
    }
    if (count && recs > 0) {
        s->st.records_dropped_full += recs;
        s->st.events_dropped_full += events;
        tlm__log(s->log, s->log_data, TLM_LOG_WARN,
            "spool %s: dropped %llu unsent batch(es), %llu event(s), to stay "
            "under %zu bytes",
            s->dir, (unsigned long long)recs, (unsigned long long)events,
            s->max_bytes);
    }
    if (g->serial == s->active) {
        close_fd(&s->activefd);
        s->active = 0;
    }
    if (g->serial == s->ack_serial) {
        close_fd(&s->ackfd);
        s->ack_serial = 0;
    }
    if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
        tlm__log(s->log, s->log_data, TLM_LOG_ERROR,
            "spool %s: cannot delete %s: %s", s->dir, name, strerror(errno));
        rc = TLM_EIO;
    }
    s->total -= g->size;
    memmove(g, g + 1, (s->n - i - 1) * sizeof(*g));
    s->n--;
    return rc;
}

void
tlm__spool_make_room(tlm__spool *s, uint64_t rec)
{
    uint64_t need;

    for (;;) {
        /* Dropping the active segment means the record needs a new one. */
        need = rec == 0 ? 0 : rec + (s->active == 0 ? TLM__SEG_HDR : 0);
        if (s->n == 0 || s->total + need <= s->max_bytes)
            return;
        (void)tlm__spool_drop(s, 0, true);
    }
}

/* Stops appending to the active segment; deleted if nothing in it is
 * waiting for an ack. */
static void
close_active(tlm__spool *s)
{
    size_t i = tlm__spool_find(s, s->active);

    close_fd(&s->activefd);
    s->active = 0;
    if (i < s->n && s->segs[i].live == 0)
        (void)tlm__spool_drop(s, i, false);
}

/* A new active segment (room for it reserved). 0 or an errno. */
static int
new_segment(tlm__spool *s)
{
    tlm__spool_seg g;
    unsigned char h[TLM__SEG_HDR];
    char name[TLM__NAME_LEN];
    struct iovec iov = {h, sizeof(h)};
    int fd, err;

    memset(&g, 0, sizeof(g));
    g.seq = s->next_seq++;
    g.created_ms = tlm__now_realtime_ms();
    tlm__spool_seg_name(s->journal, g.seq, name);
    fd = openat(s->dirfd, name,
        O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno;
    tlm__spool_seg_header(h, g.created_ms);
    err = write_at(fd, &iov, 1, 0);
    /* The record's fdatasync covers the file; its name needs the
     * directory's. */
    if (err == 0 && s->fsync != TLM__FSYNC_NEVER
        && tlm__spool_sync(s, s->dirfd, false) != 0)
        err = errno;
    if (err != 0) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return err;
    }
    g.size = g.cursor = TLM__SEG_HDR;
    g.scanned = true;
    tlm__spool_insert(s, &g);
    s->active = s->next_serial - 1;
    s->activefd = fd;
    return 0;
}

static void
encode_record(unsigned char h[TLM__REC_HDR], int type, uint64_t seq,
    const char *key, size_t klen, const void *body, size_t len,
    uint32_t n_events)
{
    uLong crc;

    memcpy(h, TLM__REC_MAGIC, 4);
    h[4] = TLM__REC_VERSION;
    h[5] = (unsigned char)type;
    tlm__put16(h + 6, TLM__REC_HDR);
    tlm__put32(h + 8, (uint32_t)len);
    tlm__put32(h + 12, n_events);
    tlm__put64(h + 16, seq);
    tlm__put16(h + 24, (uint16_t)klen);
    tlm__put16(h + 26, 0);
    crc = crc32(0, h, TLM__REC_OFF_HCRC);
    tlm__put32(h + TLM__REC_OFF_HCRC, (uint32_t)crc);
    if (klen > 0)
        crc = crc32(crc, (const Bytef *)key, (uInt)klen);
    if (len > 0)
        crc = crc32(crc, body, (uInt)len);
    tlm__put32(h + TLM__REC_OFF_CRC, (uint32_t)crc);
    tlm__put32(h + TLM__REC_OFF_MARK, 0);
}

/* The active segment to write `rec` bytes into, rolling over and making
 * room under the cap first. 0 or an errno. */
static int
prepare_active(tlm__spool *s, uint64_t rec, uint64_t limit)
{
    size_t i = tlm__spool_find(s, s->active);
    const tlm__spool_seg *a = i < s->n ? &s->segs[i] : NULL;

    /* A segment holds at least one record, however large. */
    if (a != NULL && a->size > TLM__SEG_HDR
        && (a->size + rec > s->seg_bytes || a->size + rec > limit))
        close_active(s);
    tlm__spool_make_room(s, rec);
    return s->active != 0 ? 0 : new_segment(s);
}

/* Writes the record at the end of the active segment and syncs it as the
 * policy says; on failure the file is cut back. 0 or an errno. */
static int
write_record(tlm__spool *s, uint64_t off, int type, const char *key,
    size_t klen, const void *body, size_t len, uint32_t n_events)
{
    unsigned char h[TLM__REC_HDR];
    struct iovec iov[3];
    int err;

    encode_record(h, type, s->next_rec, key, klen, body, len, n_events);
    iov[0].iov_base = h;
    iov[0].iov_len = sizeof(h);
    iov[1].iov_base = (void *)(uintptr_t)key;
    iov[1].iov_len = klen;
    iov[2].iov_base = (void *)(uintptr_t)body;
    iov[2].iov_len = len;
    err = write_at(s->activefd, iov, 3, off);
    if (err == 0 && s->fsync != TLM__FSYNC_NEVER
        && tlm__spool_sync(s, s->activefd, true) != 0)
        err = errno;
    /* Should the cut fail too, the next record overwrites the tail and
     * replay skips whatever is left after the last record. */
    if (err != 0 && ftruncate(s->activefd, (off_t)off) != 0)
        tlm__log(s->log, s->log_data, TLM_LOG_ERROR,
            "spool %s: cannot cut a failed write: %s", s->dir, strerror(errno));
    return err;
}

int
tlm__spool_append(tlm__spool *s, const void *body, size_t len,
    uint32_t n_events, const char *idempotency_key, uint64_t *record_id)
{
    return tlm__spool_append_type(
        s, TLM__SPOOL_BATCH, body, len, n_events, idempotency_key, record_id);
}

int
tlm__spool_append_type(tlm__spool *s, int type, const void *body, size_t len,
    uint32_t n_events, const char *idempotency_key, uint64_t *record_id)
{
    size_t klen;
    uint64_t rec, limit, off = 0;
    tlm__spool_seg *a = NULL;
    int err;

    if (!usable(s) || s->in_replay || record_id == NULL
        || (body == NULL && len > 0) || len > UINT32_MAX
        || (type != TLM__SPOOL_BATCH && type != TLM__SPOOL_API))
        return TLM_EINVAL;
    klen = idempotency_key != NULL
        ? strnlen(idempotency_key, TLM__SPOOL_MAX_KEY + 1)
        : 0;
    if (klen > TLM__SPOOL_MAX_KEY)
        return TLM_EINVAL;
    rec = TLM__REC_HDR + klen + len;
    if (rec + TLM__SEG_HDR > s->max_bytes) {
        s->st.records_refused++;
        tlm__log(s->log, s->log_data, TLM_LOG_WARN,
            "spool %s: a %zu-byte batch exceeds the spool's %zu bytes: not "
            "spooled",
            s->dir, len, s->max_bytes);
        return TLM_EINVAL;
    }
    limit = fsize_limit();
    if (tlm__spool_reserve(s, 1) != 0)
        return TLM_ENOMEM;
    err = rec + TLM__SEG_HDR > limit ? EFBIG : prepare_active(s, rec, limit);
    if (err == 0) {
        a = &s->segs[tlm__spool_find(s, s->active)];
        off = a->size;
        err = write_record(
            s, off, type, idempotency_key, klen, body, len, n_events);
    }
    if (err != 0) {
        s->st.write_errors++;
        tlm__log(s->log, s->log_data, TLM_LOG_WARN,
            "spool %s: a %zu-byte batch was not spooled: %s", s->dir, len,
            strerror(err));
        return TLM_EIO;
    }
    s->next_rec++;
    a->size += rec;
    a->cursor = a->size;
    a->live++;
    a->live_events += n_events;
    s->total += rec;
    s->st.records_written++;
    s->st.bytes_written += rec;
    *record_id = ((uint64_t)a->serial << 32) | off;
    return 0;
}

/* A descriptor of segment `g` that can write its ack marks, or -1. */
static int
ack_fd(tlm__spool *s, const tlm__spool_seg *g)
{
    char name[TLM__NAME_LEN];

    if (g->serial == s->active)
        return s->activefd;
    if (g->serial == s->ack_serial && s->ackfd >= 0)
        return s->ackfd;
    close_fd(&s->ackfd);
    tlm__spool_seg_name(s->journal, g->seq, name);
    s->ackfd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    s->ack_serial = s->ackfd >= 0 ? g->serial : 0;
    return s->ackfd;
}

int
tlm__spool_ack(tlm__spool *s, uint64_t record_id)
{
    uint32_t serial = (uint32_t)(record_id >> 32);
    uint64_t off = record_id & 0xffffffffu;
    unsigned char h[TLM__REC_HDR], m[4];
    tlm__spool_seg *g;
    tlm__rec r;
    size_t i;
    int fd;

    if (!usable(s) || serial == 0 || serial >= s->next_serial)
        return TLM_EINVAL;
    i = tlm__spool_find(s, serial);
    if (i == s->n)
        return 0; /* deleted meanwhile (cap, purge) */
    g = &s->segs[i];
    if (off >= g->cursor || off + TLM__REC_HDR > g->size)
        return TLM_EINVAL;
    fd = ack_fd(s, g);
    if (fd < 0)
        goto fail;
    if (tlm__spool_pread(fd, h, sizeof(h), off) != 0)
        goto fail;
    if (!tlm__spool_rec_parse(h, off, g->size, &r))
        return TLM_EINVAL;
    if (r.mark == (r.crc ^ TLM__ACK_XOR))
        return 0;
    if (g->live == 0)
        return TLM_EINVAL;
    tlm__put32(m, r.crc ^ TLM__ACK_XOR);
    if (pwrite(fd, m, sizeof(m), (off_t)(off + TLM__REC_OFF_MARK))
            != (ssize_t)sizeof(m)
        || (s->fsync == TLM__FSYNC_ALWAYS && tlm__spool_sync(s, fd, true) != 0))
        goto fail;
    g->live--;
    g->live_events -= r.n_events < g->live_events ? r.n_events : g->live_events;
    s->st.records_acked++;
    if (s->in_replay && record_id == s->visit_id)
        s->visit_acked = true;
    if (g->live == 0 && g->scanned && g->serial != s->active)
        (void)tlm__spool_drop(s, i, false); /* if it fails: adopted later */
    return 0;
fail:
    s->st.write_errors++;
    tlm__log(s->log, s->log_data, TLM_LOG_WARN,
        "spool %s: cannot mark a batch sent (it may be sent again after a "
        "restart): %s",
        s->dir, strerror(errno));
    return TLM_EIO;
}

int
tlm__spool_purge(tlm__spool *s)
{
    int rc = 0;

    if (!usable(s) || s->in_replay)
        return TLM_EINVAL;
    while (s->n > 0)
        if (tlm__spool_drop(s, s->n - 1, false) != 0)
            rc = TLM_EIO;
    if (tlm__spool_adopt(s, true) != 0)
        rc = TLM_EIO;
    return rc;
}

void
tlm__spool_stats_get(const tlm__spool *s, tlm__spool_stats *st)
{
    if (st == NULL)
        return;
    memset(st, 0, sizeof(*st));
    if (s == NULL)
        return;
    *st = s->st;
    st->bytes_on_disk = s->total;
}

/* This process's journal: a fresh lock file, created, locked and then
 * checked to still be the file under that name (a replaying process may
 * have taken it for a dead journal's between our open and flock). */
static int
start_journal(tlm__spool *s, char *err, size_t err_size)
{
    char name[TLM__NAME_LEN];
    struct stat a, b;
    int attempt, fd;

    for (attempt = 0; attempt < 8; attempt++) {
        snprintf(s->journal, sizeof(s->journal), "%ld-%016llx", (long)s->pid,
            (unsigned long long)random64());
        tlm__spool_lock_name(s->journal, name);
        fd = openat(s->dirfd, name,
            O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0) {
            seterr(err, err_size, "spool %s: cannot create %s: %s", s->dir,
                name, strerror(errno));
            return TLM_EIO;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK) {
                seterr(err, err_size, "spool %s: cannot lock %s: %s", s->dir,
                    name, strerror(errno));
                close(fd);
                unlinkat(s->dirfd, name, 0);
                return TLM_EIO;
            }
            close(fd); /* a replaying process holds it and deletes it */
            continue;
        }
        if (fstat(fd, &a) == 0
            && fstatat(s->dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0
            && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            s->lockfd = fd;
            return 0;
        }
        close(fd);
    }
    seterr(err, err_size, "spool %s: cannot start a journal", s->dir);
    return TLM_EIO;
}

static int
open_dir(tlm__spool *s, char *err, size_t err_size)
{
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
        seterr(err, err_size, "spool %s: cannot create the directory: %s",
            s->dir, strerror(errno));
        return TLM_EIO;
    }
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        seterr(err, err_size, "spool %s: cannot open the directory: %s", s->dir,
            strerror(errno));
        return TLM_EIO;
    }
    return 0;
}

static void
release(tlm__spool *s)
{
    close_fd(&s->activefd);
    close_fd(&s->ackfd);
    close_fd(&s->lockfd);
    close_fd(&s->dirfd);
    tlm__free(s->segs);
    tlm__free(s->buf);
    tlm__free(s->dir);
    tlm__free(s);
}

int
tlm__spool_open(const char *dir, const tlm__spool_options *o, tlm__spool **out,
    char *err, size_t err_size)
{
    tlm__spool_options def;
    tlm__spool *s;
    size_t seg;
    int rc;

    seterr(err, err_size, "%s", "");
    if (out != NULL)
        *out = NULL;
    if (dir == NULL || dir[0] == '\0' || out == NULL)
        return TLM_EINVAL;
    if (o == NULL) {
        memset(&def, 0, sizeof(def));
        o = &def;
    }
    if ((unsigned int)o->fsync > (unsigned int)TLM__FSYNC_NEVER
        || (o->max_bytes != 0 && o->max_bytes < MIN_MAX_BYTES)) {
        seterr(err, err_size, "spool: bad fsync policy or max_bytes < %u",
            MIN_MAX_BYTES);
        return TLM_EINVAL;
    }
    s = tlm__calloc(1, sizeof(*s));
    if (s == NULL)
        return TLM_ENOMEM;
    s->dirfd = s->lockfd = s->activefd = s->ackfd = -1;
    s->pid = getpid();
    s->next_serial = 1;
    s->next_seq = 1;
    s->next_rec = 1;
    s->fsync = o->fsync;
    s->log = o->log;
    s->log_data = o->log_data;
    s->max_bytes = o->max_bytes ? o->max_bytes : TLM__SPOOL_DEFAULT_MAX;
    seg = o->segment_bytes ? o->segment_bytes : TLM__SPOOL_DEFAULT_SEGMENT;
    if (seg > s->max_bytes / 4)
        seg = s->max_bytes / 4;
    s->seg_bytes = seg < TLM__SEG_MAX ? seg : TLM__SEG_MAX;
    s->dir = tlm__strdup(dir);
    rc = s->dir != NULL ? open_dir(s, err, err_size) : TLM_ENOMEM;
    if (rc == 0)
        rc = start_journal(s, err, err_size);
    if (rc != 0) {
        release(s);
        return rc;
    }
    *out = s;
    return 0;
}

void
tlm__spool_close(tlm__spool *s)
{
    char name[TLM__NAME_LEN];
    bool clear = true;
    size_t i;

    if (s == NULL)
        return;
    if (usable(s) && !s->in_replay) {
        close_active(s);
        for (i = 0; i < s->n; i++)
            if (s->segs[i].live > 0 || !s->segs[i].scanned)
                clear = false;
        /* Nothing left to send: leave no file behind. The lock file goes
         * last, still locked, so nobody adopts a half-deleted journal. */
        if (clear) {
            while (s->n > 0)
                (void)tlm__spool_drop(s, s->n - 1, false);
            tlm__spool_lock_name(s->journal, name);
            unlinkat(s->dirfd, name, 0);
        }
    }
    release(s);
}
