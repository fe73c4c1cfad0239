/*
 * spool.h - the SDK's on-disk batch journal (lib/spool.c, lib/spool_replay.c):
 * each batch is appended before it is sent and marked acknowledged after a
 * 2xx, so a crash, an outage or a short-lived process loses nothing.
 *
 * Thread safety: a spool is used by one thread (the worker); no function
 * here may be called on the same spool from two threads at once, and the
 * module has no global state, installs no signal handler and registers no
 * atexit hook. Errors are returned, never fatal: nothing here aborts.
 *
 * Directory layout. A spool directory (created 0700) may be shared by any
 * number of processes. Each tlm__spool_open() starts a journal of its own,
 * named J = "<pid>-<16 random hex digits>":
 *
 *   tlm-spool.J.lock          held with flock(LOCK_EX) while the journal
 *                             is open; its presence plus a failed
 *                             flock(LOCK_EX | LOCK_NB) means "alive"
 *   tlm-spool.J.<16 hex>.seg  segments, numbered in creation order
 *
 * Only the journal's owner writes its segments. tlm__spool_replay() adopts
 * the segments of journals whose lock it can take (their writer exited,
 * crashed or closed) or whose lock file is gone, by renaming each segment
 * into its own journal: rename() is atomic, so two processes replaying at
 * once never both take a segment. A process that dies mid-adoption leaves
 * every segment under a journal name whose lock is free, so the next start
 * adopts it. Every other name in the directory is ignored and left alone.
 * The size cap is per open spool: N live processes on one directory hold at
 * most N * max_bytes. The directory must be on a file system with working
 * flock() between processes (any local one; NFS only with lock support).
 *
 * fork(): a child inherits the parent's descriptors and with them the
 * parent's lock (flock locks belong to the open file description), so the
 * parent's journal is adopted only once both are gone. The parent's handle
 * refuses to write in the child (TLM_EINVAL) and tlm__spool_close() there
 * only releases memory and descriptors; a child that wants a spool opens
 * its own, which starts a fresh journal.
 *
 * Segment file: a 32-byte header
 *   0 "TLMSPOOL"  8 u16 version (1)  10 u16 header length (32)  12 u32 flags
 *   16 i64 creation time (Unix ms: replay and the cap go oldest first)
 *   24 u32 reserved  28 u32 CRC-32 of bytes 0..27
 * then records, each a 40-byte header, the idempotency key, the payload:
 *   0 "TLSP"  4 u8 version (1)  5 u8 type (1: batch, 2: API call)
 *   6 u16 header length
 *   8 u32 payload length  12 u32 n_events  16 u64 sequence in the journal
 *   24 u16 key length (<= 255)  26 u16 flags  28 u32 CRC-32 of bytes 0..27
 *   32 u32 CRC-32 of bytes 0..27, key and payload
 *   36 u32 ack mark: 0 when written; (record CRC ^ 0x41434b21) once acked
 * An API call's payload (type 2: a feedback or feature-request submission
 * or vote, worker_spool.c) is "METHOD\0PATH\0BODY"; its n_events is 0.
 * Versions of the library before type 2 skip such records as corrupt.
 * All integers little-endian. The ack mark is the only byte range ever
 * rewritten in place (pwrite of 4 bytes, outside both CRCs). A torn or
 * corrupted mark reads as "not acked": the record is sent again and the
 * server's dedupe by event id absorbs it; it can never hide a live record
 * behind a random value. A segment whose records are all acked is deleted.
 * The header CRC lets replay reject a false "TLSP" inside garbage before
 * trusting its lengths; the record CRC is checked before any byte of a
 * record is handed out. After a bad record, replay scans forward for the
 * next valid header (counted in records_corrupt and bytes_skipped).
 *
 * Failures: a write that fails (ENOSPC, EIO, a failed fdatasync) is cut
 * back with ftruncate() to the last good record and counted; nothing else
 * is deleted to make room on a full disk. RLIMIT_FSIZE is read before each
 * append and segments roll over below it, so the spool never makes the
 * kernel send SIGXFSZ to its host; a record that alone passes the limit
 * fails with TLM_EIO.
 *
 * Durability (tlm__fsync_policy):
 *   BATCH (default)  one fdatasync() per appended record (one per batch),
 *                    plus one on the directory when a segment is created;
 *                    acks are not synced: a lost ack costs a duplicate send.
 *   ALWAYS           as BATCH, and every ack mark is synced too.
 *   NEVER            no sync: survives a crash of the process, not of the
 *                    machine.
 */
#ifndef TLM_SPOOL_H
#define TLM_SPOOL_H

#include "internal.h"

/* BATCH is 0 so that a zeroed options struct means "the defaults". */
typedef enum tlm__fsync_policy {
    TLM__FSYNC_BATCH = 0,
    TLM__FSYNC_ALWAYS = 1,
    TLM__FSYNC_NEVER = 2
} tlm__fsync_policy;

#define TLM__SPOOL_DEFAULT_MAX ((size_t)64 << 20)
#define TLM__SPOOL_DEFAULT_SEGMENT ((size_t)4 << 20)
#define TLM__SPOOL_MAX_KEY 255

typedef struct tlm__spool_options {
    size_t max_bytes; /* all our segments together; 0: 64 MiB */
    tlm__fsync_policy fsync;
    /* A segment rolls over past this size; 0: 4 MiB. Clamped to
     * max_bytes / 4 so that the cap drops a quarter at a time at most. */
    size_t segment_bytes;
    tlm_log_fn log; /* optional: skipped records, drops, adoptions */
    void *log_data;
} tlm__spool_options;

typedef struct tlm__spool tlm__spool;

typedef struct tlm__spool_stats {
    uint64_t records_written, bytes_written;
    uint64_t records_acked;
    /* Unacked records (and their events) deleted to stay under max_bytes. */
    uint64_t records_dropped_full, events_dropped_full;
    /* Appends refused because one record alone exceeds max_bytes. */
    uint64_t records_refused;
    uint64_t records_replayed; /* handed to a replay visitor */
    uint64_t segments_adopted; /* taken over from dead journals */
    uint64_t records_corrupt, bytes_skipped; /* replay: torn or bad CRC */
    uint64_t fsyncs; /* fsync/fdatasync calls, directory syncs included */
    uint64_t write_errors; /* appends or acks that failed with an I/O error */
    uint64_t bytes_on_disk; /* our segments now, adopted ones included */
} tlm__spool_stats;

/* Opens (creating it 0700 if missing) the spool directory `dir` and starts
 * this process's journal. `o` may be NULL for the defaults. Returns 0 and
 * sets *out, or TLM_EINVAL (NULL or empty argument, bad option), TLM_EIO
 * (the directory or the lock file cannot be made; why in err) or
 * TLM_ENOMEM; then *out is NULL. Nothing of earlier runs is touched until
 * tlm__spool_replay(). Ownership: *out is the caller's, freed by
 * tlm__spool_close(). */
int tlm__spool_open(const char *dir, const tlm__spool_options *o,
    tlm__spool **out, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* Appends one batch body (`len` bytes holding `n_events` events, with its
 * Idempotency-Key, NULL or "" for none, at most 255 bytes) and makes it
 * durable as the policy says before returning. On success *record_id names
 * it for tlm__spool_ack(). When the cap would be passed, the oldest
 * segments are deleted first (counted in *_dropped_full).
 * Returns 0, TLM_EINVAL (bad argument; also a record larger than max_bytes,
 * counted in records_refused; also inside a replay visitor or in a fork()ed
 * child of the opener), TLM_ENOMEM, or TLM_EIO (the disk is full, a write
 * failed, or the record would pass RLIMIT_FSIZE: counted in write_errors;
 * the file is cut back to its last good record so it stays valid). On error
 * nothing was spooled and *record_id is unchanged. */
int tlm__spool_append(tlm__spool *s, const void *body, size_t len,
    uint32_t n_events, const char *idempotency_key, uint64_t *record_id)
    __attribute__((warn_unused_result));

/* Record types (the header's type byte). */
enum { TLM__SPOOL_BATCH = 1, TLM__SPOOL_API = 2 };

/* tlm__spool_append() of a record of `type` (TLM__SPOOL_*). */
int tlm__spool_append_type(tlm__spool *s, int type, const void *body,
    size_t len, uint32_t n_events, const char *idempotency_key,
    uint64_t *record_id) __attribute__((warn_unused_result));

/* The batch got a 2xx, or was dropped for good: it is never replayed. Ids
 * come from tlm__spool_append() or a replay visitor. Acking twice, or a
 * record already deleted (cap, purge), is a no-op returning 0. Returns
 * TLM_EINVAL for an id this spool never handed out, TLM_EIO when the mark
 * cannot be written (counted in write_errors; the record stays live and
 * would be sent again after a restart). May be called from a visitor. */
int tlm__spool_ack(tlm__spool *s, uint64_t record_id);

/* Called once per live record, oldest first. `body` and `idempotency_key`
 * (NULL when none) are borrowed for the call only. Return 0 when the
 * record was taken (ack it later by id, possibly from within this call), or
 * a negative value to stop: that record and the rest are offered again by
 * the next tlm__spool_replay(), and replay returns that value. */
typedef int (*tlm__spool_visit)(void *ctx, uint64_t record_id, const void *body,
    size_t len, uint32_t n_events, const char *idempotency_key);

/* Adopts every journal no live process holds (see the header comment),
 * enforces the size cap on what it took, then hands each unacked record
 * whose CRC checks to `visit`, oldest segment first. Torn and corrupt
 * records are skipped, counted and logged, never handed out. Records
 * already offered by an earlier call are not offered again. Returns 0, a
 * visitor's negative value, TLM_EINVAL, TLM_ENOMEM or TLM_EIO; after an
 * error, what was adopted stays this spool's and a later call resumes. */
int tlm__spool_replay(tlm__spool *s, tlm__spool_visit visit, void *ctx)
    __attribute__((warn_unused_result));

/* A visitor that is also told each record's type (TLM__SPOOL_*);
 * tlm__spool_replay() offers every type to its visitor. */
typedef int (*tlm__spool_visit_type)(void *ctx, uint64_t record_id, int type,
    const void *body, size_t len, uint32_t n_events,
    const char *idempotency_key);
int tlm__spool_replay_type(tlm__spool *s, tlm__spool_visit_type visit,
    void *ctx) __attribute__((warn_unused_result));

/* Opt-out: deletes every segment of this spool (adopted ones included) and
 * of every journal no live process holds, now. Journals of live processes
 * are theirs. The spool stays usable. Returns 0, TLM_EINVAL or TLM_EIO (a
 * file could not be deleted; the rest were). */
int tlm__spool_purge(tlm__spool *s) __attribute__((warn_unused_result));

/* Counters since open; `st` is zeroed first. Safe on NULL `s`. */
void tlm__spool_stats_get(const tlm__spool *s, tlm__spool_stats *st);

/* Closes the journal: unacked records stay for the next start (a journal
 * with none left is deleted, lock file included). NULL is a no-op. Never
 * from a replay visitor. */
void tlm__spool_close(tlm__spool *s);

#endif /* TLM_SPOOL_H */
