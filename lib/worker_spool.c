/*
 * worker_spool.c - how the worker uses the spool (lib/spool.h).
 *
 * A sealed batch gets its body built once and written to the spool before
 * its first send; from then on that exact body is what is sent (retries
 * included), so a replay after a crash carries the same batch id and event
 * ids and the server deduplicates it. The record is acknowledged when the
 * batch is settled for good: a 2xx, a permanent refusal, or an event too
 * large alone. A batch whose retries ran out, and every spooled batch
 * still held at close's deadline, is left in the spool (spool_kept) for the
 * next process. Records that earlier processes left are taken back a few
 * at a time (never more than the worker may hold), so a full spool never
 * means a full heap.
 *
 * Feedback and feature-request submissions (api_request.c) are spooled the
 * same way as records of their own type: "METHOD\0PATH\0BODY" with their
 * Idempotency-Key, written before the first attempt, acknowledged after
 * the server's answer, and replayed (with no callback: their caller is
 * gone) by a later process.
 *
 * Worker thread only, except tlm__wspool_open (the creating thread, before
 * the worker starts). Without a spool directory every function is a no-op.
 */
#include "client.h"
#include "spool.h"

#include <string.h>

int
tlm__wspool_open(tlm_client *c)
{
    tlm__spool_options o;
    char err[256] = "";
    int rc;

    c->spool = NULL;
    c->replay_pending = false;
    if (c->opts.spool_dir == NULL)
        return 0;
    memset(&o, 0, sizeof(o));
    o.max_bytes = (size_t)c->opts.spool_max_bytes;
    o.fsync = c->opts.spool_fsync == TLM_FSYNC_ALWAYS ? TLM__FSYNC_ALWAYS
        : c->opts.spool_fsync == TLM_FSYNC_NEVER      ? TLM__FSYNC_NEVER
                                                      : TLM__FSYNC_BATCH;
    o.log = c->opts.logger;
    o.log_data = c->opts.logger_data;
    rc = tlm__spool_open(c->opts.spool_dir, &o, &c->spool, err, sizeof(err));
    if (rc != 0) {
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_ERROR,
            "spool_dir %s: %s", c->opts.spool_dir, err);
        c->spool = NULL;
        return rc;
    }
    c->replay_pending = true;
    c->replay_busy = true; /* before the worker runs: no lock needed */
    return 0;
}

void
tlm__wspool_close(tlm_client *c)
{
    tlm__spool_close(c->spool);
    c->spool = NULL;
}

/* Mirrors the spool's own drop counter where callers can read it. */
static void
publish_spool_stats(tlm_client *c)
{
    tlm__spool_stats st;

    tlm__spool_stats_get(c->spool, &st);
    atomic_store(&c->n.dropped_spool_full, st.events_dropped_full);
}

void
tlm__wspool_write(tlm_client *c, tlm__batch *b)
{
    uint64_t id;
    int rc;

    if (c->spool == NULL || b->spooled)
        return;
    if (!b->body_fixed) {
        if (tlm__transport_body(c, b) != 0)
            return; /* out of memory: it stays a memory-only batch */
        b->body_fixed = true;
    }
    rc = tlm__spool_append(c->spool, b->body, b->body_len, b->n, b->id, &id);
    if (rc != 0) {
        /* Counted by the spool (write_errors, records_refused); the batch
         * is still sent from memory. */
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "batch %s not spooled (%s): it lives in memory only", b->id,
            tlm_strerror(rc));
        return;
    }
    b->spooled = true;
    b->spool_id = id;
    atomic_fetch_add(&c->n.spooled, b->n);
    publish_spool_stats(c);
}

void
tlm__wspool_ack(tlm_client *c, tlm__batch *b)
{
    if (c->spool == NULL || !b->spooled)
        return;
    if (tlm__spool_ack(c->spool, b->spool_id) == 0)
        b->spooled = false;
}

void
tlm__wspool_write_api(tlm_client *c, tlm__api *a)
{
    tlm__buf rec = {0};
    uint64_t id;
    int rc;

    if (c->spool == NULL || a->spooled || a->key[0] == '\0')
        return;
    tlm__buf_puts(&rec, a->method);
    tlm__buf_append(&rec, "", 1);
    tlm__buf_puts(&rec, a->path);
    tlm__buf_append(&rec, "", 1);
    tlm__buf_append(&rec, a->body ? a->body : "", a->body_len);
    rc = rec.failed ? TLM_ENOMEM
                    : tlm__spool_append_type(c->spool, TLM__SPOOL_API, rec.data,
                        rec.len, 0, a->key, &id);
    tlm__buf_free(&rec);
    if (rc != 0) {
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "%s %s not spooled (%s): it lives in memory only", a->method,
            a->path, tlm_strerror(rc));
        return;
    }
    a->spooled = true;
    a->spool_id = id;
    publish_spool_stats(c);
}

void
tlm__wspool_ack_api(tlm_client *c, tlm__api *a)
{
    if (c->spool == NULL || !a->spooled)
        return;
    if (tlm__spool_ack(c->spool, a->spool_id) == 0)
        a->spooled = false;
}

struct replay_ctx {
    tlm_client *c;
    uint32_t room;
};

static int
take_record(void *ctx, uint64_t record_id, int type, const void *body,
    size_t len, uint32_t n_events, const char *key)
{
    struct replay_ctx *r = ctx;
    tlm_client *c = r->c;
    tlm__batch *b;

    if (r->room == 0)
        return -1; /* offered again by the next call */
    if (type == TLM__SPOOL_API) {
        if (tlm__api_from_spool(c, record_id, body, len, key) != 0)
            return -1;
        r->room--;
        return 0;
    }
    b = tlm__calloc(1, sizeof(*b));
    if (b != NULL)
        b->body = tlm__malloc(len > 0 ? len : 1);
    if (b == NULL || b->body == NULL) {
        tlm__free(b);
        return -1;
    }
    memcpy(b->body, body, len);
    b->body_len = len;
    b->raw_len = len;
    b->n = n_events;
    b->gzip = len >= 2 && ((const unsigned char *)body)[0] == 0x1f
        && ((const unsigned char *)body)[1] == 0x8b;
    snprintf(b->id, sizeof(b->id), "%s", key != NULL ? key : "");
    if (b->id[0] == '\0')
        tlm__uuid4(&c->rng, b->id);
    b->spooled = b->body_fixed = b->replayed = true;
    b->spool_id = record_id;
    b->first_pos = UINT64_MAX; /* not the queue's: see replay_busy */
    tlm__worker_push_waiting(c, b); /* already spooled: only queued */
    r->room--;
    atomic_fetch_add(&c->n.replayed, n_events);
    return 0;
}

void
tlm__wspool_replay(tlm_client *c, uint32_t limit)
{
    struct replay_ctx r = {c, 0};
    uint32_t held = c->n_waiting + c->n_inflight + tlm__api_held(c);
    int rc;

    if (c->spool == NULL || !c->replay_pending || held >= limit)
        return;
    r.room = limit - held;
    rc = tlm__spool_replay_type(c->spool, take_record, &r);
    publish_spool_stats(c);
    if (rc == 0)
        c->replay_pending = false; /* everything was offered */
    else if (rc != -1)
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_WARN,
            "spool: replay stopped (%s); will try again", tlm_strerror(rc));
}

void
tlm__wspool_purge(tlm_client *c)
{
    if (c->spool == NULL)
        return;
    if (tlm__spool_purge(c->spool) != 0)
        tlm__log(c->opts.logger, c->opts.logger_data, TLM_LOG_ERROR,
            "spool: purge could not delete every file");
    c->replay_pending = false;
}
