/*
 * spool_impl.h - what lib/spool.c (the writer: open, append, ack, size cap,
 * purge, close) and lib/spool_replay.c (the reader: validation, adoption,
 * replay) share. Private to those two files; the format is in spool.h.
 */
#ifndef TLM_SPOOL_IMPL_H
#define TLM_SPOOL_IMPL_H

#include "spool.h"

#include <sys/types.h>

#define TLM__SPOOL_PREFIX "tlm-spool."
#define TLM__SEG_MAGIC "TLMSPOOL"
#define TLM__SEG_HDR 32u
#define TLM__REC_MAGIC "TLSP"
#define TLM__REC_HDR 40u
#define TLM__REC_VERSION 1u
#define TLM__REC_BATCH 1u
#define TLM__REC_API 2u /* TLM__SPOOL_API: one feedback/feature call */
#define TLM__REC_OFF_HCRC 28u
#define TLM__REC_OFF_CRC 32u
#define TLM__REC_OFF_MARK 36u
#define TLM__ACK_XOR 0x41434b21u /* "ACK!" */
/* Record ids are serial << 32 | offset, so offsets stay below 4 GiB. */
#define TLM__SEG_MAX ((size_t)1 << 30)
#define TLM__JOURNAL_LEN 40 /* "<pid>-<16 hex>" and a NUL, with room */
#define TLM__NAME_LEN 96

/* One segment file of this spool, own or adopted. Segments are kept in
 * `segs` oldest first: adopted ones (by creation time) before own ones. */
typedef struct tlm__spool_seg {
    uint64_t seq; /* the number in the file name */
    int64_t created_ms; /* from its header; 0 when the header is bad */
    uint64_t size; /* bytes accounted for (own: valid end) */
    uint64_t cursor; /* records before this offset were handed out */
    uint64_t live, live_events; /* handed out and not acked yet */
    uint32_t serial; /* in-memory name, the high half of record ids */
    bool adopted;
    bool scanned; /* cursor reached size: live counts are complete */
} tlm__spool_seg;

struct tlm__spool {
    int dirfd, lockfd;
    int activefd; /* the segment being appended to, or -1 */
    int ackfd; /* a cached descriptor of segment `ack_serial`, or -1 */
    uint32_t ack_serial;
    pid_t pid; /* the opener: a fork()ed child must not write */
    char journal[TLM__JOURNAL_LEN];
    char *dir; /* for messages */
    size_t max_bytes, seg_bytes;
    tlm__fsync_policy fsync;
    tlm_log_fn log;
    void *log_data;
    tlm__spool_seg *segs;
    size_t n, cap;
    uint64_t total; /* sum of segs[].size */
    uint32_t active; /* serial of the segment appended to; 0: none */
    uint32_t next_serial;
    uint64_t next_seq; /* next segment file number */
    uint64_t next_rec; /* next record sequence number */
    bool in_replay;
    uint64_t visit_id; /* record being visited; set if acked meanwhile */
    bool visit_acked;
    unsigned char *buf; /* replay: one record's key and payload */
    size_t buf_cap;
    tlm__spool_stats st;
};

/* A decoded record header. */
typedef struct tlm__rec {
    uint32_t plen, n_events, crc, mark;
    uint16_t klen;
    uint8_t type; /* TLM__REC_BATCH or TLM__REC_API */
    uint64_t seq;
} tlm__rec;

static inline void
tlm__put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void
tlm__put32(unsigned char *p, uint32_t v)
{
    tlm__put16(p, (uint16_t)v);
    tlm__put16(p + 2, (uint16_t)(v >> 16));
}

static inline void
tlm__put64(unsigned char *p, uint64_t v)
{
    tlm__put32(p, (uint32_t)v);
    tlm__put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t
tlm__get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t
tlm__get32(const unsigned char *p)
{
    return (uint32_t)tlm__get16(p) | ((uint32_t)tlm__get16(p + 2) << 16);
}

static inline uint64_t
tlm__get64(const unsigned char *p)
{
    return (uint64_t)tlm__get32(p) | ((uint64_t)tlm__get32(p + 4) << 32);
}

/* ---- spool.c ------------------------------------------------------------- */
/* "tlm-spool.<journal>.<seq as 16 hex>.seg" into out[TLM__NAME_LEN]. */
void tlm__spool_seg_name(const char *journal, uint64_t seq, char *out);
/* "tlm-spool.<journal>.lock" into out[TLM__NAME_LEN]. */
void tlm__spool_lock_name(const char *journal, char *out);
/* Index of the segment with `serial`, or s->n. */
size_t tlm__spool_find(const tlm__spool *s, uint32_t serial);
/* Room for `extra` more segments: 0 or TLM_ENOMEM. */
int tlm__spool_reserve(tlm__spool *s, size_t extra);
/* Adds `g` (room reserved) at its place by age; gives it a serial. */
void tlm__spool_insert(tlm__spool *s, const tlm__spool_seg *g);
/* Forgets segment `i` and deletes its file; with `count`, its unacked
 * records are counted as dropped for the cap. 0, or TLM_EIO if the file
 * could not be deleted (it is forgotten all the same). */
int tlm__spool_drop(tlm__spool *s, size_t i, bool count);
/* Drops oldest segments until a record of `rec` bytes (0: nothing) fits
 * under max_bytes, with a new segment's header if it needs one. */
void tlm__spool_make_room(tlm__spool *s, uint64_t rec);
/* fsync (data only or not) counted in the stats; 0 or -1. */
int tlm__spool_sync(tlm__spool *s, int fd, bool data_only);

/* ---- spool_replay.c ------------------------------------------------------ */
/* Parses `name`: 1 for a segment (journal and seq set), 2 for a lock file
 * (journal set), 0 for anything else. */
int tlm__spool_parse_name(
    const char *name, char journal[TLM__JOURNAL_LEN], uint64_t *seq);
/* Whether h[0..TLM__REC_HDR) is a valid record header at `off` of a file
 * of `size` bytes (magic, version, lengths, header CRC); decodes it. */
bool tlm__spool_rec_parse(
    const unsigned char *h, uint64_t off, uint64_t size, tlm__rec *r);
/* Unacked records (and their events) with a valid header in
 * [from, size) of `fd`: what deleting that range loses. */
void tlm__spool_count_live(
    int fd, uint64_t from, uint64_t size, uint64_t *recs, uint64_t *events);
/* All `n` bytes at `off`, or -1 (error or end of file). */
int tlm__spool_pread(int fd, void *p, size_t n, uint64_t off);
/* The header of a new segment created at `created_ms`. */
void tlm__spool_seg_header(unsigned char h[TLM__SEG_HDR], int64_t created_ms);
/* Takes over (purge: deletes) the segments of every journal no live process
 * holds. 0, TLM_ENOMEM or TLM_EIO. */
int tlm__spool_adopt(tlm__spool *s, bool purge);

#endif /* TLM_SPOOL_IMPL_H */
