/*
 * test_spool.c - the on-disk batch journal (lib/spool.c, lib/spool_replay.c)
 * on the real file system: round trips, acks, crashes of real processes,
 * torn and corrupt files, the size cap, RLIMIT_FSIZE, a full tmpfs, several
 * processes on one directory, fork, purge, and allocation failure.
 *
 * Every test works in a fresh directory under $TMPDIR (or /tmp) and removes
 * it. Children report through their exit status, never through Check.
 */
#include "rm_rf.h"
#include "spool.h"
#include "spool_impl.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXREC 512
#define LABEL 11 /* "rec-000042|" */

/* TLM_TEST_SCALE=small (valgrind, sanitizers): fewer iterations. */
static int
scale_small(void)
{
    const char *v = getenv("TLM_TEST_SCALE");

    return v != NULL && strcmp(v, "small") == 0;
}

/* ---- records with checkable contents ----------------------------------- */

static unsigned char
pattern(int idx, size_t k)
{
    return (unsigned char)((size_t)idx * 131u + k * 7u + (k >> 5));
}

static char *
make_body(int idx, size_t len)
{
    char *b = malloc(len + 1);
    size_t k;

    ck_assert_ptr_nonnull(b);
    ck_assert_uint_ge(len, LABEL);
    snprintf(b, len + 1, "rec-%06d|", idx);
    for (k = LABEL; k < len; k++)
        b[k] = (char)pattern(idx, k);
    return b;
}

static void
key_of(int idx, char *out, size_t n)
{
    if (idx % 3 == 0)
        out[0] = '\0'; /* none */
    else
        snprintf(out, n, "key-%d-0190a5b2-7c3e-7abc-8def-0123456789ab", idx);
}

static uint32_t
events_of(int idx)
{
    return (uint32_t)(idx % 500 + 1);
}

static int
append_rec(tlm__spool *s, int idx, size_t len, uint64_t *id)
{
    char key[80], *body = make_body(idx, len);
    int rc;

    key_of(idx, key, sizeof(key));
    rc = tlm__spool_append(
        s, body, len, events_of(idx), idx % 6 == 3 ? NULL : key, id);
    free(body);
    return rc;
}

/* Size of record `idx` of `len` bytes on disk. */
static size_t
rec_size(int idx, size_t len)
{
    char key[80];

    key_of(idx, key, sizeof(key));
    return 40 + strlen(key) + len;
}

/* The index of a record whose contents are exactly what append_rec wrote,
 * or -1. */
static int
check_body(const void *body, size_t len)
{
    const unsigned char *p = body;
    char label[LABEL + 1];
    int idx;
    size_t k;

    if (len < LABEL)
        return -1;
    memcpy(label, p, LABEL);
    label[LABEL] = '\0';
    if (sscanf(label, "rec-%06d|", &idx) != 1 || idx < 0)
        return -1;
    for (k = LABEL; k < len; k++)
        if (p[k] != pattern(idx, k))
            return -1;
    return idx;
}

typedef struct coll {
    tlm__spool *s; /* acks from the visitor when ack_now */
    int n;
    int idx[MAXREC];
    uint64_t id[MAXREC];
    size_t len[MAXREC];
    int bad; /* records not exactly as written */
    int stop_at; /* return -1 once when n reaches it; -1: never */
    int ack_now;
} coll;

static void
coll_init(coll *c, tlm__spool *s)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->stop_at = -1;
}

static int
collect(void *ctx, uint64_t id, const void *body, size_t len, uint32_t n_events,
    const char *key)
{
    coll *c = ctx;
    char want[80];
    int idx = check_body(body, len);

    if (c->stop_at >= 0 && c->n == c->stop_at) {
        c->stop_at = -1;
        return -1;
    }
    if (idx < 0 || c->n >= MAXREC) {
        c->bad++;
        return 0;
    }
    key_of(idx, want, sizeof(want));
    if (n_events != events_of(idx)) {
        c->bad++;
    } else if (idx % 6 == 3 || want[0] == '\0') {
        c->bad += key != NULL;
    } else if (key == NULL || strcmp(key, want) != 0) {
        c->bad++;
    }
    c->idx[c->n] = idx;
    c->id[c->n] = id;
    c->len[c->n] = len;
    c->n++;
    if (c->ack_now && tlm__spool_ack(c->s, id) != 0)
        c->bad++;
    return 0;
}

/* ---- directories --------------------------------------------------------- */

static void
make_dir(char *out, size_t n)
{
    const char *t = getenv("TMPDIR");

    snprintf(out, n, "%s/tlm-spool-test-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

/* Files named tlm-spool.* ending in `suffix` ("" for all); their total size
 * in *bytes and the largest in *largest when not NULL. */
static int
count_ours(const char *dir, const char *suffix, long *bytes, long *largest)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat st;
    char p[4096];
    size_t n, sl = strlen(suffix);
    int count = 0;

    if (bytes)
        *bytes = 0;
    if (largest)
        *largest = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        n = strlen(e->d_name);
        if (strncmp(e->d_name, "tlm-spool.", 10) != 0 || n < sl
            || strcmp(e->d_name + n - sl, suffix) != 0)
            continue;
        count++;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0) {
            if (bytes)
                *bytes += (long)st.st_size;
            if (largest && st.st_size > *largest)
                *largest = (long)st.st_size;
        }
    }
    closedir(d);
    return count;
}

/* The path of the one segment file in `dir`. */
static void
only_segment(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".seg") == 0) {
            snprintf(out, n, "%s/%s", dir, e->d_name);
            found++;
        }
    }
    closedir(d);
    ck_assert_int_eq(found, 1);
}

static unsigned char *
read_file(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *b;
    int fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    b = malloc((size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static void
write_file(const char *path, const void *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b, len), (ssize_t)len);
    close(fd);
}

/* A dead journal's segment, without a lock file, named as spool.c does. */
#define ORPHAN "tlm-spool.1-00000000000000aa.0000000000000001.seg"

static tlm__spool *
open_spool(const char *dir, tlm__fsync_policy p, size_t max, size_t seg)
{
    tlm__spool_options o;
    tlm__spool *s = NULL;
    char err[256];

    memset(&o, 0, sizeof(o));
    o.fsync = p;
    o.max_bytes = max;
    o.segment_bytes = seg;
    ck_assert_msg(tlm__spool_open(dir, &o, &s, err, sizeof(err)) == 0,
        "open %s: %s", dir, err);
    ck_assert_ptr_nonnull(s);
    return s;
}

static tlm__spool_stats
stats(const tlm__spool *s)
{
    tlm__spool_stats st;

    tlm__spool_stats_get(s, &st);
    return st;
}

/* Replays `dir` with a fresh spool into *c, then closes it. */
static tlm__spool_stats
replay_dir(const char *dir, coll *c)
{
    tlm__spool *s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    tlm__spool_stats st;

    coll_init(c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, c), 0);
    st = stats(s);
    tlm__spool_close(s);
    ck_assert_int_eq(c->bad, 0);
    return st;
}

#define CHILD_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "child: %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
            _exit(2);                                                          \
        }                                                                      \
    } while (0)

static int
wait_child(pid_t pid)
{
    int status = 0;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(spool_round_trip)
{
    static const size_t lens[] = {11, 100, 45000, 12, 3000, 60000, 500};
    char dir[4096];
    tlm__spool *s;
    uint64_t id;
    coll c;
    tlm__spool_stats st;
    size_t i, n = sizeof(lens) / sizeof(lens[0]);
    long bytes;

    make_dir(dir, sizeof(dir));
    s = open_spool(dir, TLM__FSYNC_BATCH, 0, 0);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(append_rec(s, (int)i, lens[i], &id), 0);
    /* An empty body is a record too. */
    ck_assert_int_eq(tlm__spool_append(s, NULL, 0, 0, NULL, &id), 0);
    st = stats(s);
    ck_assert_uint_eq(st.records_written, n + 1);
    ck_assert_uint_eq(st.write_errors, 0);
    ck_assert_int_eq(count_ours(dir, ".seg", &bytes, NULL), 1);
    ck_assert_int_eq((long)st.bytes_on_disk, bytes);
    tlm__spool_close(s); /* unacked: stays */
    ck_assert_int_eq(count_ours(dir, ".lock", NULL, NULL), 1);

    s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    /* The empty record fails check_body: counted as bad, then ignored. */
    ck_assert_int_eq(c.bad, 1);
    ck_assert_int_eq(c.n, (int)n);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(c.idx[i], (int)i);
        ck_assert_uint_eq(c.len[i], lens[i]);
    }
    st = stats(s);
    ck_assert_uint_eq(st.records_replayed, n + 1);
    ck_assert_uint_eq(st.segments_adopted, 1);
    ck_assert_uint_eq(st.records_corrupt, 0);
    /* The dead journal's lock file is gone, its segment is ours. */
    ck_assert_int_eq(count_ours(dir, ".lock", NULL, NULL), 1);
    /* Replaying again offers nothing twice. */
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.n, 0);
    tlm__spool_close(s);
    rm_rf(dir);
}
END_TEST

START_TEST(spool_ack_then_reopen)
{
    char dir[4096];
    tlm__spool *s;
    uint64_t ids[6];
    coll c;
    tlm__spool_stats st;
    int i;

    make_dir(dir, sizeof(dir));
    s = open_spool(dir, TLM__FSYNC_BATCH, 0, 0);
    for (i = 0; i < 6; i++)
        ck_assert_int_eq(append_rec(s, i, 200 + (size_t)i, &ids[i]), 0);
    ck_assert_int_eq(tlm__spool_ack(s, ids[0]), 0);
    ck_assert_int_eq(tlm__spool_ack(s, ids[2]), 0);
    ck_assert_int_eq(tlm__spool_ack(s, ids[2]), 0); /* twice: no-op */
    ck_assert_int_eq(tlm__spool_ack(s, ids[5]), 0);
    /* Ids never handed out. */
    ck_assert_int_eq(tlm__spool_ack(s, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_ack(s, ids[1] + 1), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_ack(s, ids[1] + (1ull << 40)), TLM_EINVAL);
    ck_assert_uint_eq(stats(s).records_acked, 3);
    tlm__spool_close(s);

    st = replay_dir(dir, &c);
    (void)st;
    ck_assert_int_eq(c.n, 3);
    ck_assert_int_eq(c.idx[0], 1);
    ck_assert_int_eq(c.idx[1], 3);
    ck_assert_int_eq(c.idx[2], 4);

    /* Ack the rest from the visitor: nothing is left, on disk either. */
    s = open_spool(dir, TLM__FSYNC_BATCH, 0, 0);
    coll_init(&c, s);
    c.ack_now = 1;
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.bad, 0);
    ck_assert_int_eq(c.n, 3);
    ck_assert_int_eq(count_ours(dir, ".seg", NULL, NULL), 0);
    ck_assert_uint_eq(stats(s).bytes_on_disk, 0);
    tlm__spool_close(s);
    ck_assert_int_eq(count_ours(dir, "", NULL, NULL), 0);
    replay_dir(dir, &c);
    ck_assert_int_eq(c.n, 0);
    rm_rf(dir);
}
END_TEST

/* All acked: close leaves no file at all. */
START_TEST(spool_clean_close_leaves_nothing)
{
    char dir[4096];
    tlm__spool *s;
    uint64_t ids[20];
    int i;

    make_dir(dir, sizeof(dir));
    s = open_spool(dir, TLM__FSYNC_NEVER, 1 << 20, 4096);
    for (i = 0; i < 20; i++)
        ck_assert_int_eq(append_rec(s, i, 1000, &ids[i]), 0);
    ck_assert_int_ge(count_ours(dir, ".seg", NULL, NULL), 5);
    /* Acking in order deletes each segment once all of it is acked. */
    for (i = 0; i < 19; i++)
        ck_assert_int_eq(tlm__spool_ack(s, ids[i]), 0);
    ck_assert_int_eq(count_ours(dir, ".seg", NULL, NULL), 1);
    ck_assert_int_eq(tlm__spool_ack(s, ids[19]), 0);
    tlm__spool_close(s);
    ck_assert_int_eq(count_ours(dir, "", NULL, NULL), 0);
    rm_rf(dir);
}
END_TEST

/* A child appends, acks some and dies without closing; the parent replays
 * exactly the unacked ones. */
static void
crash_run(int how)
{
    char dir[4096];
    pid_t pid;
    coll c;
    int status, i, k = 0;

    make_dir(dir, sizeof(dir));
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tlm__spool *s = NULL;
        uint64_t id;

        CHILD_CHECK(tlm__spool_open(dir, NULL, &s, NULL, 0) == 0);
        for (i = 0; i < 20; i++) {
            CHILD_CHECK(append_rec(s, i, 700 + (size_t)i * 50, &id) == 0);
            if (i % 3 == 0)
                CHILD_CHECK(tlm__spool_ack(s, id) == 0);
        }
        if (how == 0)
            _exit(0);
        raise(SIGKILL);
        _exit(3);
    }
    status = wait_child(pid);
    if (how == 0)
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    else
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    replay_dir(dir, &c);
    for (i = 0; i < 20; i++) {
        if (i % 3 == 0)
            continue;
        ck_assert_int_lt(k, c.n);
        ck_assert_int_eq(c.idx[k], i);
        k++;
    }
    ck_assert_int_eq(c.n, k);
    rm_rf(dir);
}

START_TEST(spool_crash_exit)
{
    crash_run(0);
}
END_TEST

START_TEST(spool_crash_sigkill)
{
    crash_run(1);
}
END_TEST

/* Writes three records with a dead journal and returns its segment bytes
 * and the record boundaries. */
static unsigned char *
three_records(size_t body, size_t *len, size_t ends[4])
{
    char dir[4096], seg[4096];
    tlm__spool *s;
    uint64_t id;
    unsigned char *b;
    int i;

    make_dir(dir, sizeof(dir));
    s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    ends[0] = 32;
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(append_rec(s, i + 1, body, &id), 0);
        ends[i + 1] = ends[i] + rec_size(i + 1, body);
    }
    tlm__spool_close(s);
    only_segment(dir, seg, sizeof(seg));
    b = read_file(seg, len);
    ck_assert_uint_eq(*len, ends[3]);
    rm_rf(dir);
    return b;
}

/* A file cut at every byte offset: exactly the complete records come back,
 * the torn rest is skipped and counted. */
START_TEST(spool_truncated_tail)
{
    char dir[4096], path[4200];
    size_t len, ends[4], cut, complete, last;
    unsigned char *b = three_records(60, &len, ends);
    tlm__spool_stats st;
    coll c;
    int i;

    for (cut = 0; cut <= len; cut++) {
        make_dir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/" ORPHAN, dir);
        write_file(path, b, cut);
        st = replay_dir(dir, &c);
        complete = 0;
        last = cut >= 32 ? 32 : 0;
        for (i = 1; i <= 3; i++) {
            if (ends[i] <= cut) {
                complete = (size_t)i;
                last = ends[i];
            }
        }
        ck_assert_msg(c.n == (int)complete, "cut %zu: %d records", cut, c.n);
        for (i = 0; i < c.n; i++)
            ck_assert_int_eq(c.idx[i], i + 1);
        ck_assert_uint_eq(st.records_corrupt, cut > last ? 1 : 0);
        ck_assert_uint_eq(st.bytes_skipped, cut - last);
        /* Fully read, nothing live: the torn file is gone. */
        if (complete == 0)
            ck_assert_msg(count_ours(dir, ".seg", NULL, NULL) == 0,
                "cut %zu: segment left", cut);
        rm_rf(dir);
    }
    free(b);
}
END_TEST

/* One flipped byte anywhere in record 2 (header, key or payload): that
 * record is skipped and counted, records 1 and 3 come back. */
START_TEST(spool_flipped_byte)
{
    char dir[4096], path[4200];
    size_t len, ends[4], at;
    unsigned char *b = three_records(300, &len, ends), *m;
    tlm__spool_stats st;
    coll c;
    size_t step = scale_small() ? 7 : 1;

    m = malloc(len);
    ck_assert_ptr_nonnull(m);
    for (at = ends[1]; at < ends[2]; at += step) {
        if (at >= ends[1] + 36 && at < ends[1] + 40)
            continue; /* the ack mark: below */
        memcpy(m, b, len);
        m[at] ^= 0x20;
        make_dir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/" ORPHAN, dir);
        write_file(path, m, len);
        st = replay_dir(dir, &c);
        ck_assert_msg(c.n == 2, "flip at %zu: %d records", at, c.n);
        ck_assert_int_eq(c.idx[0], 1);
        ck_assert_int_eq(c.idx[1], 3);
        ck_assert_uint_eq(st.records_corrupt, 1);
        ck_assert_uint_eq(st.bytes_skipped, ends[2] - ends[1]);
        rm_rf(dir);
    }
    /* A garbled ack mark never hides a live record: it is sent again. */
    memcpy(m, b, len);
    m[ends[1] + 37] ^= 0x5a;
    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/" ORPHAN, dir);
    write_file(path, m, len);
    st = replay_dir(dir, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert_uint_eq(st.records_corrupt, 0);
    rm_rf(dir);
    free(m);
    free(b);
}
END_TEST

/* Garbage between records, a file of random bytes, an empty file and
 * stray names: the valid records come back, the rest is skipped. */
START_TEST(spool_garbage_and_strays)
{
    static const char *strays[] = {"notes.txt", "tlm-spool.garbage",
        "tlm-spool.123-xyz.seg", "tlm-spool.1-00000000000000ab.lock.tmp",
        "tlm-spool.1-00000000000000ab.0000000000000001.seg~"};
    char dir[4096], path[4200];
    size_t len, ends[4], i;
    unsigned char *b = three_records(500, &len, ends), *m, rnd[70000];
    unsigned int seed = 12345;
    tlm__spool_stats st;
    struct stat sb;
    coll c;

    make_dir(dir, sizeof(dir));
    /* 64 bytes of garbage (with a false magic) between records 2 and 3. */
    m = malloc(len + 64);
    ck_assert_ptr_nonnull(m);
    memcpy(m, b, ends[2]);
    memset(m + ends[2], 0xee, 64);
    memcpy(m + ends[2] + 10, "TLSP", 4);
    memcpy(m + ends[2] + 64, b + ends[2], len - ends[2]);
    snprintf(path, sizeof(path), "%s/" ORPHAN, dir);
    write_file(path, m, len + 64);
    for (i = 0; i < sizeof(rnd); i++)
        rnd[i] = (unsigned char)(rand_r(&seed) >> 7);
    snprintf(path, sizeof(path),
        "%s/tlm-spool.2-00000000000000bb.0000000000000001.seg", dir);
    write_file(path, rnd, sizeof(rnd));
    snprintf(path, sizeof(path),
        "%s/tlm-spool.3-00000000000000cc.0000000000000001.seg", dir);
    write_file(path, "", 0);
    for (i = 0; i < sizeof(strays) / sizeof(strays[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, strays[i]);
        write_file(path, "x", 1);
    }
    snprintf(path, sizeof(path), "%s/tlm-spool.4-00000000000000dd.lock", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0); /* a directory named like ours */

    st = replay_dir(dir, &c);
    ck_assert_int_eq(c.n, 3);
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(c.idx[i], (int)i + 1);
    ck_assert_uint_eq(st.records_corrupt, 2);
    ck_assert_uint_eq(st.bytes_skipped, 64 + sizeof(rnd));
    /* Strays untouched; random and empty files gone (nothing live). */
    for (i = 0; i < sizeof(strays) / sizeof(strays[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, strays[i]);
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_eq(sb.st_size, 1);
    }
    /* The valid one, and the look-alike stray "tlm-spool.123-xyz.seg". */
    ck_assert_int_eq(count_ours(dir, ".seg", NULL, NULL), 2);
    rm_rf(dir);
    free(m);
    free(b);
}
END_TEST

/* Over the cap, the oldest segments go first and their unacked records and
 * events are counted; acked ones are not. */
/* The documented default cap: 64 MiB when the options say 0, and a fresh
 * options object says 0. */
START_TEST(spool_default_cap_is_64_mib)
{
    char dir[4096];
    tlm_options *o = tlm_options_new();
    tlm__spool *s;

    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(o->spool_max_bytes, 0);
    tlm_options_free(o);
    make_dir(dir, sizeof(dir));
    s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    ck_assert_uint_eq(s->max_bytes, (size_t)64 << 20);
    ck_assert_uint_eq(TLM__SPOOL_DEFAULT_MAX, (size_t)64 << 20);
    tlm__spool_close(s);
    rm_rf(dir);
}
END_TEST

START_TEST(spool_size_cap)
{
    const size_t max = 64 * 1024, body = 4000;
    char dir[4096];
    tlm__spool *s;
    uint64_t id;
    tlm__spool_stats st;
    coll c;
    long bytes;
    int i, n = 40, first;
    uint64_t dropped = 0, events = 0;
    char *big;

    make_dir(dir, sizeof(dir));
    s = open_spool(dir, TLM__FSYNC_NEVER, max, 0);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(append_rec(s, i, body, &id), 0);
        if (i < 2)
            ck_assert_int_eq(tlm__spool_ack(s, id), 0);
        st = stats(s);
        ck_assert_uint_le(st.bytes_on_disk, max);
        count_ours(dir, ".seg", &bytes, NULL);
        ck_assert_int_eq(bytes, (long)st.bytes_on_disk);
    }
    /* One record larger than the whole spool: refused and counted. */
    big = make_body(999, max);
    ck_assert_int_eq(tlm__spool_append(s, big, max, 1, NULL, &id), TLM_EINVAL);
    free(big);
    st = stats(s);
    ck_assert_uint_eq(st.records_refused, 1);
    ck_assert_uint_gt(st.records_dropped_full, 0);
    tlm__spool_close(s);

    replay_dir(dir, &c);
    ck_assert_int_gt(c.n, 0);
    first = n - c.n;
    for (i = 0; i < c.n; i++)
        ck_assert_int_eq(c.idx[i], first + i); /* the newest, in order */
    for (i = 2; i < first; i++) {
        dropped++;
        events += events_of(i);
    }
    ck_assert_uint_eq(st.records_dropped_full, dropped);
    ck_assert_uint_eq(st.events_dropped_full, events);
    rm_rf(dir);
}
END_TEST

/* Dead journals larger than this spool's cap: the oldest are dropped at
 * adoption, counted, and the newest replayed. */
START_TEST(spool_cap_on_adoption)
{
    char dir[4096];
    tlm__spool *s;
    uint64_t id;
    tlm__spool_stats st;
    coll c;
    int i, j, first;
    struct timespec ms = {0, 3000000};

    make_dir(dir, sizeof(dir));
    for (j = 0; j < 3; j++) {
        s = open_spool(dir, TLM__FSYNC_NEVER, 0, 16384);
        for (i = 0; i < 10; i++)
            ck_assert_int_eq(append_rec(s, j * 10 + i, 3000, &id), 0);
        tlm__spool_close(s);
        nanosleep(&ms, NULL); /* creation times order the journals */
    }
    s = open_spool(dir, TLM__FSYNC_NEVER, 48 * 1024, 0);
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.bad, 0);
    st = stats(s);
    ck_assert_uint_le(st.bytes_on_disk, 48 * 1024);
    ck_assert_int_gt(c.n, 0);
    ck_assert_uint_eq(st.records_dropped_full + (uint64_t)c.n, 30);
    first = 30 - c.n;
    for (i = 0; i < c.n; i++)
        ck_assert_int_eq(c.idx[i], first + i);
    tlm__spool_close(s);
    rm_rf(dir);
}
END_TEST

/* RLIMIT_FSIZE in a child: segments stay under it, larger records fail
 * cleanly (no SIGXFSZ, whatever its disposition), the rest replays. */
static void
rlimit_run(int ignore)
{
    char dir[4096];
    pid_t pid;
    coll c;
    int status, i;
    long largest;

    make_dir(dir, sizeof(dir));
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {50000, 50000};
        tlm__spool *s = NULL;
        tlm__spool_stats st;
        uint64_t id;

        signal(SIGXFSZ, ignore ? SIG_IGN : SIG_DFL);
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
        CHILD_CHECK(tlm__spool_open(dir, NULL, &s, NULL, 0) == 0);
        for (i = 0; i < 6; i++)
            CHILD_CHECK(append_rec(s, i, 20000, &id) == 0);
        CHILD_CHECK(append_rec(s, 100, 60000, &id) == TLM_EIO);
        CHILD_CHECK(append_rec(s, 101, 49990, &id) == TLM_EIO);
        CHILD_CHECK(append_rec(s, 6, 20000, &id) == 0);
        tlm__spool_stats_get(s, &st);
        CHILD_CHECK(st.write_errors == 2 && st.records_written == 7);
        tlm__spool_close(s);
        _exit(0);
    }
    status = wait_child(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child status %#x", status);
    count_ours(dir, ".seg", NULL, &largest);
    ck_assert_int_le(largest, 50000);
    replay_dir(dir, &c);
    ck_assert_int_eq(c.n, 7);
    for (i = 0; i < 7; i++)
        ck_assert_int_eq(c.idx[i], i);
    rm_rf(dir);
}

START_TEST(spool_rlimit_fsize_ignored)
{
    rlimit_run(1);
}
END_TEST

START_TEST(spool_rlimit_fsize_default_signal)
{
    rlimit_run(0);
}
END_TEST

/* A 256 KiB tmpfs that fills (needs root for a private mount; otherwise
 * skipped): failures are counted, writes are cut back, nothing is torn,
 * acking frees space for new batches. */
START_TEST(spool_disk_full)
{
    char dir[4096];
    pid_t pid;
    int status;

    make_dir(dir, sizeof(dir));
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char sdir[4200];
        tlm__spool_options o;
        tlm__spool *s = NULL;
        tlm__spool_stats st;
        uint64_t ids[64];
        coll c;
        long bytes;
        int i, ok = 0, failed = 0;

        if (unshare(CLONE_NEWNS) != 0
            || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0
            || mount("tmpfs", dir, "tmpfs", 0, "size=256k") != 0)
            _exit(77);
        snprintf(sdir, sizeof(sdir), "%s/spool", dir);
        /* Two records per segment, so acks free whole segments. */
        memset(&o, 0, sizeof(o));
        o.segment_bytes = 90000;
        CHILD_CHECK(tlm__spool_open(sdir, &o, &s, NULL, 0) == 0);
        for (i = 0; i < 12; i++) {
            int rc = append_rec(s, i, 40000, &ids[ok]);
            CHILD_CHECK(rc == 0 || rc == TLM_EIO);
            if (rc == 0) {
                CHILD_CHECK(failed == 0); /* no success after a failure */
                ok++;
            } else {
                failed++;
            }
        }
        tlm__spool_stats_get(s, &st);
        CHILD_CHECK(ok >= 3 && failed >= 1);
        CHILD_CHECK(st.write_errors == (uint64_t)failed);
        /* Failed writes were cut back: no partial record on disk. */
        count_ours(sdir, ".seg", &bytes, NULL);
        CHILD_CHECK(bytes == (long)st.bytes_on_disk);
        /* Acks of the first segment free room for one more. */
        CHILD_CHECK(tlm__spool_ack(s, ids[0]) == 0);
        CHILD_CHECK(tlm__spool_ack(s, ids[1]) == 0);
        CHILD_CHECK(append_rec(s, 50, 40000, &ids[ok]) == 0);
        tlm__spool_close(s);

        CHILD_CHECK(tlm__spool_open(sdir, NULL, &s, NULL, 0) == 0);
        coll_init(&c, s);
        CHILD_CHECK(tlm__spool_replay(s, collect, &c) == 0);
        tlm__spool_stats_get(s, &st);
        CHILD_CHECK(c.bad == 0 && st.records_corrupt == 0);
        CHILD_CHECK(c.n == ok - 2 + 1);
        for (i = 0; i < ok - 2; i++)
            CHILD_CHECK(c.idx[i] == i + 2);
        CHILD_CHECK(c.idx[ok - 2] == 50);
        tlm__spool_close(s);
        _exit(0);
    }
    status = wait_child(pid);
    rm_rf(dir);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        fprintf(stderr,
            "spool_disk_full: no private tmpfs mount (not "
            "root?): skipped\n");
        return;
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child status %#x", status);
}
END_TEST

/* Two live processes on one directory never take each other's journal;
 * once one is gone, the other adopts it. */
START_TEST(spool_live_processes)
{
    char dir[4096], byte = 0;
    int ready[2], go[2], status;
    tlm__spool *s, *other;
    pid_t pid;
    uint64_t id;
    coll c;

    make_dir(dir, sizeof(dir));
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(go), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tlm__spool *cs = NULL;
        int i;

        CHILD_CHECK(tlm__spool_open(dir, NULL, &cs, NULL, 0) == 0);
        for (i = 0; i < 3; i++)
            CHILD_CHECK(append_rec(cs, i, 1000, &id) == 0);
        CHILD_CHECK(write(ready[1], "r", 1) == 1);
        CHILD_CHECK(read(go[0], &byte, 1) == 1);
        _exit(0); /* without close: its journal stays */
    }
    ck_assert_int_eq(read(ready[0], &byte, 1), 1);
    s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    /* And a second spool in this process: flock locks of two opens
     * conflict even within one process. */
    other = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    ck_assert_int_eq(append_rec(other, 10, 500, &id), 0);
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.n, 0);
    ck_assert_uint_eq(stats(s).segments_adopted, 0);
    ck_assert_int_eq(count_ours(dir, ".seg", NULL, NULL), 2);
    ck_assert_int_eq(count_ours(dir, ".lock", NULL, NULL), 3);

    ck_assert_int_eq(write(go[1], "g", 1), 1);
    status = wait_child(pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.bad, 0);
    ck_assert_int_eq(c.n, 3);
    ck_assert_uint_eq(stats(s).segments_adopted, 1);
    /* `other` is still alive: its record was not taken. */
    ck_assert_uint_eq(stats(other).bytes_on_disk, 32 + rec_size(10, 500));
    tlm__spool_close(other);
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.n, 1);
    ck_assert_int_eq(c.idx[0], 10);
    tlm__spool_close(s);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    rm_rf(dir);
}
END_TEST

/* A fork()ed child cannot write into its parent's journal; its own spool
 * is a journal of its own. */
START_TEST(spool_fork_child)
{
    char dir[4096], seg[4096];
    tlm__spool *s;
    uint64_t id, first;
    size_t before, after;
    unsigned char *b;
    coll c;
    pid_t pid;
    int status;

    make_dir(dir, sizeof(dir));
    s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    ck_assert_int_eq(append_rec(s, 1, 800, &first), 0);
    only_segment(dir, seg, sizeof(seg));
    free(read_file(seg, &before));
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        tlm__spool *mine = NULL;

        CHILD_CHECK(append_rec(s, 2, 800, &id) == TLM_EINVAL);
        CHILD_CHECK(tlm__spool_ack(s, first) == TLM_EINVAL);
        CHILD_CHECK(tlm__spool_replay(s, collect, &c) == TLM_EINVAL);
        CHILD_CHECK(tlm__spool_purge(s) == TLM_EINVAL);
        tlm__spool_close(s); /* only memory and descriptors */
        CHILD_CHECK(tlm__spool_open(dir, NULL, &mine, NULL, 0) == 0);
        CHILD_CHECK(append_rec(mine, 3, 900, &id) == 0);
        tlm__spool_close(mine); /* unacked: stays for a replay */
        _exit(0);
    }
    status = wait_child(pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    b = read_file(seg, &after);
    ck_assert_uint_eq(after, before);
    free(b);
    /* The parent's spool works on; it adopts the child's journal. */
    ck_assert_int_eq(append_rec(s, 4, 700, &id), 0);
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.bad, 0);
    ck_assert_int_eq(c.n, 1);
    ck_assert_int_eq(c.idx[0], 3);
    ck_assert_int_eq(tlm__spool_ack(s, first), 0);
    tlm__spool_close(s);
    replay_dir(dir, &c);
    ck_assert_int_eq(c.n, 2); /* 4 (ours) and 3 (the child's) */
    rm_rf(dir);
}
END_TEST

/* Opt-out: purge removes every record of ours and of dead journals now;
 * live journals of other spools and stray files stay. */
START_TEST(spool_purge)
{
    char dir[4096], path[4200];
    size_t len, ends[4];
    unsigned char *b = three_records(100, &len, ends);
    tlm__spool *s, *dead, *live;
    uint64_t id;
    coll c;
    int i;

    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/" ORPHAN, dir);
    write_file(path, b, len);
    snprintf(path, sizeof(path), "%s/stray.txt", dir);
    write_file(path, "x", 1);
    dead = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    ck_assert_int_eq(append_rec(dead, 20, 100, &id), 0);
    tlm__spool_close(dead);
    live = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    ck_assert_int_eq(append_rec(live, 30, 100, &id), 0);

    s = open_spool(dir, TLM__FSYNC_NEVER, 0, 4096);
    coll_init(&c, s);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.n, 4);
    for (i = 0; i < 10; i++)
        ck_assert_int_eq(append_rec(s, 40 + i, 1000, &id), 0);
    ck_assert_int_eq(tlm__spool_purge(s), 0);
    ck_assert_uint_eq(stats(s).bytes_on_disk, 0);
    /* Left: our lock file, the live spool's lock and segment, the stray. */
    ck_assert_int_eq(count_ours(dir, ".seg", NULL, NULL), 1);
    ck_assert_int_eq(count_ours(dir, ".lock", NULL, NULL), 2);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* Acks of purged records are harmless; the spool stays usable. */
    ck_assert_int_eq(tlm__spool_ack(s, c.id[0]), 0);
    ck_assert_int_eq(tlm__spool_ack(s, id), 0);
    ck_assert_int_eq(append_rec(s, 60, 100, &id), 0);
    ck_assert_int_eq(tlm__spool_purge(s), 0);
    tlm__spool_close(s);
    tlm__spool_close(live);
    replay_dir(dir, &c);
    ck_assert_int_eq(c.n, 1);
    ck_assert_int_eq(c.idx[0], 30);
    rm_rf(dir);
    free(b);
}
END_TEST

/* The visitor may stop; the rest comes with the next replay. Journals are
 * replayed oldest first. */
START_TEST(spool_replay_order_and_stop)
{
    char dir[4096];
    tlm__spool *s;
    uint64_t id;
    struct timespec ms = {0, 3000000};
    coll c;
    int i, j;

    make_dir(dir, sizeof(dir));
    for (j = 0; j < 3; j++) {
        s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
        for (i = 0; i < 4; i++)
            ck_assert_int_eq(append_rec(s, j * 4 + i, 300, &id), 0);
        tlm__spool_close(s);
        nanosleep(&ms, NULL);
    }
    s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    coll_init(&c, s);
    c.stop_at = 5;
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), -1);
    ck_assert_int_eq(c.n, 5);
    ck_assert_int_eq(tlm__spool_replay(s, collect, &c), 0);
    ck_assert_int_eq(c.bad, 0);
    ck_assert_int_eq(c.n, 12);
    for (i = 0; i < 12; i++)
        ck_assert_int_eq(c.idx[i], i);
    ck_assert_uint_eq(stats(s).records_replayed, 12);
    for (i = 0; i < 12; i++)
        ck_assert_int_eq(tlm__spool_ack(s, c.id[i]), 0);
    ck_assert_int_eq(count_ours(dir, ".seg", NULL, NULL), 0);
    tlm__spool_close(s);
    ck_assert_int_eq(count_ours(dir, "", NULL, NULL), 0);
    rm_rf(dir);
}
END_TEST

/* fsync calls per policy: BATCH one per append (+ the directory for a new
 * segment), ALWAYS also one per ack, NEVER none. */
START_TEST(spool_fsync_policy)
{
    static const tlm__fsync_policy p[3]
        = {TLM__FSYNC_NEVER, TLM__FSYNC_BATCH, TLM__FSYNC_ALWAYS};
    static const uint64_t want[3] = {0, 3 + 1, 3 + 1 + 2};
    char dir[4096];
    tlm__spool *s;
    uint64_t ids[3];
    int k, i;

    for (k = 0; k < 3; k++) {
        make_dir(dir, sizeof(dir));
        s = open_spool(dir, p[k], 0, 0);
        for (i = 0; i < 3; i++)
            ck_assert_int_eq(append_rec(s, i, 1000, &ids[i]), 0);
        ck_assert_int_eq(tlm__spool_ack(s, ids[2]), 0);
        ck_assert_int_eq(tlm__spool_ack(s, ids[1]), 0);
        ck_assert_uint_eq(stats(s).fsyncs, want[k]);
        tlm__spool_close(s);
        rm_rf(dir);
    }
}
END_TEST

START_TEST(spool_bad_arguments)
{
    char dir[4096], path[4200], err[256];
    tlm__spool_options o;
    tlm__spool *s = (tlm__spool *)&o, *ok;
    tlm__spool_stats st;
    char key[300];
    uint64_t id = 7;

    make_dir(dir, sizeof(dir));
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(tlm__spool_open(NULL, NULL, &s, NULL, 0), TLM_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(tlm__spool_open("", NULL, &s, NULL, 0), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_open(dir, NULL, NULL, NULL, 0), TLM_EINVAL);
    o.fsync = (tlm__fsync_policy)7;
    ck_assert_int_eq(
        tlm__spool_open(dir, &o, &s, err, sizeof(err)), TLM_EINVAL);
    ck_assert_uint_gt(strlen(err), 0);
    o.fsync = TLM__FSYNC_BATCH;
    o.max_bytes = 100;
    ck_assert_int_eq(tlm__spool_open(dir, &o, &s, NULL, 0), TLM_EINVAL);
    /* A regular file where the directory should be. */
    snprintf(path, sizeof(path), "%s/file", dir);
    write_file(path, "x", 1);
    ck_assert_int_eq(
        tlm__spool_open(path, NULL, &s, err, sizeof(err)), TLM_EIO);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err, path));
    snprintf(path, sizeof(path), "%s/no/such/dir", dir);
    ck_assert_int_eq(tlm__spool_open(path, NULL, &s, NULL, 0), TLM_EIO);

    ok = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
    memset(key, 'k', sizeof(key));
    key[256] = '\0';
    ck_assert_int_eq(tlm__spool_append(NULL, "x", 1, 1, NULL, &id), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_append(ok, "x", 1, 1, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_append(ok, NULL, 1, 1, NULL, &id), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_append(ok, "x", 1, 1, key, &id), TLM_EINVAL);
    ck_assert_uint_eq(id, 7);
    key[255] = '\0';
    ck_assert_int_eq(tlm__spool_append(ok, "x", 1, 1, key, &id), 0);
    ck_assert_int_eq(tlm__spool_ack(NULL, id), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_replay(NULL, collect, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_replay(ok, NULL, NULL), TLM_EINVAL);
    ck_assert_int_eq(tlm__spool_purge(NULL), TLM_EINVAL);
    tlm__spool_stats_get(NULL, &st);
    ck_assert_uint_eq(st.records_written, 0);
    tlm__spool_stats_get(ok, NULL);
    tlm__spool_close(NULL);
    tlm__spool_close(ok);
    rm_rf(dir);
}
END_TEST

/* ---- allocation failure -------------------------------------------------- */

static long fail_at = -1; /* allocation number that fails; -1 never */
static long n_allocs, live_allocs;
static int injected;

static void *
f_malloc(size_t n, void *ud)
{
    void *p;

    (void)ud;
    if (n_allocs++ == fail_at) {
        injected = 1;
        return NULL;
    }
    p = malloc(n);
    live_allocs += p != NULL;
    return p;
}

static void *
f_realloc(void *p, size_t n, void *ud)
{
    void *q;

    (void)ud;
    if (n_allocs++ == fail_at) {
        injected = 1;
        return NULL;
    }
    q = realloc(p, n);
    live_allocs += q != NULL && p == NULL;
    return q;
}

static void
f_free(void *p, void *ud)
{
    (void)ud;
    live_allocs -= p != NULL;
    free(p);
}

/* One life under allocation failure number `at`: open, replay a dead
 * journal (acking every other record), append, ack, close. Every call
 * returns 0 or TLM_ENOMEM; afterwards nothing is leaked and a clean replay
 * returns exactly the records that were not acked. */
static void
sweep_life(const char *dir, long at)
{
    tlm_allocator a = {sizeof(a), f_malloc, f_realloc, f_free, NULL};
    tlm__alloc_scope scope;
    tlm__spool *s = NULL;
    int acked[64] = {0}, present[64] = {0};
    uint64_t id;
    coll c;
    int rc, i, n;

    fail_at = at;
    n_allocs = live_allocs = 0;
    injected = 0;
    tlm__alloc_enter(&scope, &a);
    rc = tlm__spool_open(dir, NULL, &s, NULL, 0);
    ck_assert(rc == 0 || rc == TLM_ENOMEM);
    if (rc == 0) {
        coll_init(&c, s);
        rc = tlm__spool_replay(s, collect, &c);
        ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "replay: %d", rc);
        for (i = 0; i < c.n; i += 2) {
            ck_assert_int_eq(tlm__spool_ack(s, c.id[i]), 0);
            acked[c.idx[i]] = 1;
        }
        for (i = 10; i < 13; i++) {
            rc = append_rec(s, i, 5000, &id);
            ck_assert_msg(rc == 0 || rc == TLM_ENOMEM, "append: %d", rc);
            present[i] = rc == 0;
        }
        tlm__spool_close(s);
    } else {
        ck_assert_ptr_null(s);
    }
    tlm__alloc_leave(&scope);
    ck_assert_int_eq(live_allocs, 0);
    fail_at = -1;

    replay_dir(dir, &c);
    for (i = 0; i < 4; i++)
        present[i] = !acked[i];
    for (i = 0, n = 0; i < 64; i++)
        n += present[i];
    ck_assert_int_eq(c.n, n);
    for (i = 0; i < c.n; i++)
        ck_assert_msg(present[c.idx[i]], "record %d", c.idx[i]);
}

START_TEST(spool_alloc_failure)
{
    char dir[4096];
    tlm__spool *s;
    uint64_t id;
    long at;
    int i, failures = 0;

    for (at = 0;; at++) {
        make_dir(dir, sizeof(dir));
        s = open_spool(dir, TLM__FSYNC_NEVER, 0, 0);
        for (i = 0; i < 4; i++)
            ck_assert_int_eq(append_rec(s, i, 300, &id), 0);
        tlm__spool_close(s);
        sweep_life(dir, at);
        rm_rf(dir);
        if (!injected)
            break;
        failures++;
    }
    ck_assert_int_ge(failures, 4);
}
END_TEST

static Suite *
spool_suite(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("spool");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, spool_round_trip);
    tcase_add_test(tc, spool_ack_then_reopen);
    tcase_add_test(tc, spool_clean_close_leaves_nothing);
    tcase_add_test(tc, spool_crash_exit);
    tcase_add_test(tc, spool_crash_sigkill);
    tcase_add_test(tc, spool_truncated_tail);
    tcase_add_test(tc, spool_flipped_byte);
    tcase_add_test(tc, spool_garbage_and_strays);
    tcase_add_test(tc, spool_default_cap_is_64_mib);
    tcase_add_test(tc, spool_size_cap);
    tcase_add_test(tc, spool_cap_on_adoption);
    tcase_add_test(tc, spool_rlimit_fsize_ignored);
    tcase_add_test(tc, spool_rlimit_fsize_default_signal);
    tcase_add_test(tc, spool_disk_full);
    tcase_add_test(tc, spool_live_processes);
    tcase_add_test(tc, spool_fork_child);
    tcase_add_test(tc, spool_purge);
    tcase_add_test(tc, spool_replay_order_and_stop);
    tcase_add_test(tc, spool_fsync_policy);
    tcase_add_test(tc, spool_bad_arguments);
    tcase_add_test(tc, spool_alloc_failure);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(spool_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
