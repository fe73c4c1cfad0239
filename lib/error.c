/*
 * error.c - error events: tlm_capture_error and tlm_track_request_error
 * (caller threads), their options, and their share of the worker's work
 * (fields, request links, scrubbing).
 *
 * The caller side never blocks on I/O: it sanitizes the stack trace,
 * copies the event into one allocation owned by a queue slot (an error
 * with a stack trace does not fit a slot's 192 inline bytes) and bounds
 * what waits to TLM__ERR_MAX_PENDING errors and TLM__ERR_MAX_PENDING_BYTES.
 * Being in the queue gives errors what events have: order, batching,
 * spooling, flush, purge at opt-out, fork and close semantics.
 */
#include "client.h"
#include "scrub.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames asked of backtrace(): the cap's maximum plus ours. */
#define CAPTURE_FRAMES 260

/* What an error slot keeps in its (unused) inline data. */
typedef struct error_meta {
    uint32_t len[TLM__NEFIELDS]; /* UINT32_MAX: absent */
    uint32_t n_fingerprint;
    uint32_t bytes; /* its share of the pending cap */
    uint32_t linked; /* request_pos names the request it ended */
    uint64_t request_pos;
} error_meta;

_Static_assert(sizeof(error_meta) <= TLM__SLOT_INLINE, "meta fits a slot");

static const char *const impact_names[]
    = {NULL, "low", "medium", "high", "critical"};

/* ---- options ------------------------------------------------------------ */

int
tlm_options_set_error_sampling_rate(tlm_options *o, double rate)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (!(rate > 0.0 && rate <= 1.0)) {
        tlm__options_seterr(
            o, "error_sampling_rate: expected a number in (0, 1]");
        return TLM_EINVAL;
    }
    o->error_sampling_rate = rate;
    return 0;
}

int
tlm_options_set_max_stack_frames(tlm_options *o, uint32_t n)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (n < 1 || n > CAPTURE_FRAMES - 4) {
        tlm__options_seterr(o, "max_stack_frames: expected 1..256");
        return TLM_EINVAL;
    }
    o->max_stack_frames = n;
    return 0;
}

int
tlm_options_set_max_stack_bytes(tlm_options *o, uint32_t n)
{
    if (o == NULL)
        return TLM_EINVAL;
    if (n < 1024 || n > 65536) {
        tlm__options_seterr(o, "max_stack_bytes: expected 1024..65536");
        return TLM_EINVAL;
    }
    o->max_stack_bytes = n;
    return 0;
}

void
tlm_error_event_init(tlm_error_event *e)
{
    if (e == NULL)
        return;
    memset(e, 0, sizeof(*e));
    e->size = sizeof(*e);
}

/* ---- caller side -------------------------------------------------------- */

static bool
utf8_valid(const char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        k = tlm__utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static bool
opt_len_ok(const char *s, size_t max)
{
    return s == NULL || (s[0] != '\0' && strnlen(s, max + 1) <= max);
}

static bool
error_valid(const tlm_error_event *e)
{
    size_t i, n;

    if (e == NULL || e->size != sizeof(*e) || e->error_message == NULL
        || e->error_message[0] == '\0' || e->impact < TLM_IMPACT_NONE
        || e->impact > TLM_IMPACT_CRITICAL
        || !opt_len_ok(e->endpoint, TLM__ERR_MAX_ENDPOINT)
        || !opt_len_ok(e->error_code, TLM__ERR_MAX_CODE)
        || (e->request_details != NULL
            && strnlen(e->request_details, TLM__ERR_MAX_DETAILS + 1)
                > TLM__ERR_MAX_DETAILS))
        return false;
    if (e->fingerprint_count > TLM__ERR_MAX_FP_PARTS
        || (e->fingerprint_count > 0 && e->fingerprint == NULL))
        return false;
    for (i = 0; i < e->fingerprint_count; i++) {
        if (e->fingerprint[i] == NULL)
            return false;
        n = strnlen(e->fingerprint[i], TLM__ERR_MAX_FP_BYTES + 1);
        if (n == 0 || n > TLM__ERR_MAX_FP_BYTES
            || !utf8_valid(e->fingerprint[i], n))
            return false;
    }
    return true;
}

/* The frames as glibc's backtrace_symbols() writes them ("obj(sym+0x1d)
 * [0x7f...]"), symbolized with dladdr, which does not allocate; the
 * sanitizer then removes the addresses and reduces the paths. */
static void
symbolize(void *const *frames, int n, tlm__buf *out)
{
    Dl_info info;
    int i;

    for (i = 0; i < n; i++) {
        memset(&info, 0, sizeof(info));
        if (dladdr(frames[i], &info) == 0 || info.dli_fname == NULL) {
            tlm__buf_printf(out, "??? [%p]\n", frames[i]);
            continue;
        }
        if (info.dli_sname != NULL && info.dli_saddr != NULL)
            tlm__buf_printf(out, "%s(%s+0x%lx) [%p]\n", info.dli_fname,
                info.dli_sname,
                (unsigned long)((const char *)frames[i]
                    - (const char *)info.dli_saddr),
                frames[i]);
        else
            tlm__buf_printf(out, "%s(+0x%lx) [%p]\n", info.dli_fname,
                (unsigned long)((const char *)frames[i]
                    - (const char *)info.dli_fbase),
                frames[i]);
    }
}

/* Frames of the library itself at the top of a capture: up to and with
 * the public function (sanitizers may add an interceptor's frame). */
static int
own_frames(void *const *frames, int n)
{
    Dl_info info;
    int i, skip = 1;

    for (i = 0; i < n && i < 4; i++) {
        if (dladdr(frames[i], &info) != 0 && info.dli_sname != NULL
            && (strcmp(info.dli_sname, "tlm_capture_error") == 0
                || strcmp(info.dli_sname, "tlm_track_request_error") == 0))
            skip = i + 1;
    }
    return skip < n ? skip : n;
}

static const char *
home_dir(void)
{
    const char *h = getenv("HOME");

    return h != NULL && h[0] == '/' && h[1] != '\0' ? h : NULL;
}

/* The sanitized stack trace into `out`: the caller's text, or the
 * captured frames. False when out of memory. */
static bool
stack_text(tlm_client *c, const tlm_error_event *e, void *const *frames,
    int n_frames, tlm__buf *out)
{
    tlm__buf raw = {0};
    int skip;
    bool ok;

    if (e->stack_trace != NULL)
        return tlm__stack_sanitize(e->stack_trace, strlen(e->stack_trace),
            c->opts.max_stack_frames, c->opts.max_stack_bytes, home_dir(), out);
    if (n_frames <= 0)
        return true;
    skip = own_frames(frames, n_frames);
    symbolize(frames + skip, n_frames - skip, &raw);
    ok = !raw.failed
        && tlm__stack_sanitize(raw.data, raw.len, c->opts.max_stack_frames,
            c->opts.max_stack_bytes, home_dir(), out);
    tlm__buf_free(&raw);
    return ok;
}

/* One error, ready to be copied into its slot. */
typedef struct error_copy {
    const char *common[TLM__NFIELDS];
    const char *own[TLM__NEFIELDS];
    size_t own_len[TLM__NEFIELDS];
    error_meta meta;
    size_t total;
} error_copy;

static void
plan(error_copy *p, const tlm_error_event *e, const tlm_request *req,
    const tlm__buf *stack)
{
    size_t i, n;

    memset(p, 0, sizeof(*p));
    p->common[TLM__FIELD_ENDPOINT] = e->endpoint;
    p->common[TLM__FIELD_USER_ID] = e->user_id;
    p->common[TLM__FIELD_ORG_ID] = e->organization_id;
    p->common[TLM__FIELD_DETAILS] = e->request_details;
    if (req != NULL) {
        if (e->endpoint == NULL)
            p->common[TLM__FIELD_ENDPOINT] = req->endpoint;
        if (e->user_id == NULL)
            p->common[TLM__FIELD_USER_ID] = req->user_id;
        if (e->organization_id == NULL)
            p->common[TLM__FIELD_ORG_ID] = req->organization_id;
        p->common[TLM__FIELD_TIER] = req->access_tier;
    }
    for (i = 0; i < TLM__NFIELDS; i++)
        p->total += p->common[i] ? strlen(p->common[i]) + 1 : 0;
    p->own[TLM__EFIELD_CODE] = e->error_code;
    p->own[TLM__EFIELD_MESSAGE] = e->error_message;
    p->own[TLM__EFIELD_STACK] = stack->len > 0 ? stack->data : NULL;
    p->own[TLM__EFIELD_IMPACT] = impact_names[e->impact];
    for (i = 0; i < TLM__EFIELD_FINGERPRINT; i++) {
        if (p->own[i] == NULL) {
            p->meta.len[i] = UINT32_MAX;
            continue;
        }
        n = strnlen(p->own[i], TLM__ERR_MAX_MESSAGE + 1);
        if (i == TLM__EFIELD_MESSAGE)
            n = tlm__utf8_cut(p->own[i], n, TLM__ERR_MAX_MESSAGE);
        if (i == TLM__EFIELD_STACK)
            n = stack->len;
        p->own_len[i] = n;
        p->meta.len[i] = (uint32_t)n;
        p->total += n + 1;
    }
    p->meta.len[TLM__EFIELD_FINGERPRINT] = UINT32_MAX;
    if (e->fingerprint_count > 0) {
        n = 0;
        for (i = 0; i < e->fingerprint_count; i++)
            n += strlen(e->fingerprint[i]) + 1;
        p->meta.len[TLM__EFIELD_FINGERPRINT] = (uint32_t)n - 1;
        p->meta.n_fingerprint = (uint32_t)e->fingerprint_count;
        p->total += n;
    }
}

/* The block a slot's overflow points to: common fields, then own. */
static char *
copy_block(const error_copy *p, const tlm_error_event *e, tlm__slot *slot)
{
    char *block = tlm__malloc(p->total ? p->total : 1), *w;
    size_t i, n;

    if (block == NULL)
        return NULL;
    w = block;
    for (i = 0; i < TLM__NFIELDS; i++) {
        if (p->common[i] == NULL) {
            slot->len[i] = UINT32_MAX;
            continue;
        }
        n = strlen(p->common[i]);
        slot->len[i] = (uint32_t)n;
        memcpy(w, p->common[i], n + 1);
        w += n + 1;
    }
    for (i = 0; i < TLM__EFIELD_FINGERPRINT; i++) {
        if (p->own[i] == NULL)
            continue;
        memcpy(w, p->own[i], p->own_len[i]);
        w[p->own_len[i]] = '\0';
        w += p->own_len[i] + 1;
    }
    for (i = 0; i < e->fingerprint_count; i++) {
        n = strlen(e->fingerprint[i]);
        memcpy(w, e->fingerprint[i], n + 1);
        w += n + 1;
    }
    return block;
}

/* Takes `bytes` of the pending cap; false (nothing taken) when full. */
static bool
reserve(tlm_client *c, uint64_t bytes)
{
    uint64_t n = atomic_fetch_add(&c->n.errors_pending, 1);
    uint64_t b = atomic_fetch_add(&c->n.errors_pending_bytes, bytes);

    if (n < TLM__ERR_MAX_PENDING && b + bytes <= TLM__ERR_MAX_PENDING_BYTES)
        return true;
    atomic_fetch_sub(&c->n.errors_pending, 1);
    atomic_fetch_sub(&c->n.errors_pending_bytes, bytes);
    return false;
}

static void
unreserve(tlm_client *c, uint64_t bytes)
{
    atomic_fetch_sub(&c->n.errors_pending, 1);
    atomic_fetch_sub(&c->n.errors_pending_bytes, bytes);
}

/* Copies and queues one valid error; c's allocator is in effect. */
static int
enqueue(tlm_client *c, const tlm_error_event *e, const tlm_request *req,
    const uint64_t *req_pos, void *const *frames, int n_frames, double rate)
{
    tlm__buf stack = {0};
    error_copy p;
    tlm__slot *slot;
    uint64_t pos;
    char *block = NULL;
    int rc = TLM_ENOMEM;

    if (!stack_text(c, e, frames, n_frames, &stack))
        goto dropped;
    plan(&p, e, req, &stack);
    if (req_pos != NULL) {
        p.meta.linked = 1;
        p.meta.request_pos = *req_pos;
    }
    p.meta.bytes = (uint32_t)(p.total + sizeof(tlm__slot));
    if (!reserve(c, p.meta.bytes)) {
        rc = TLM_EFULL;
        goto dropped;
    }
    slot = tlm__queue_claim(&c->queue, &pos);
    if (slot == NULL) {
        unreserve(c, p.meta.bytes);
        atomic_fetch_add(&c->n.dropped_queue_full, 1);
        rc = TLM_EFULL;
        goto dropped;
    }
    block = copy_block(&p, e, slot);
    slot->type = block ? TLM__EV_ERROR : 0; /* a hole: counted dropped_nomem */
    slot->flags = 0;
    slot->sample_rate = (float)rate;
    slot->status = req ? req->response_status : 0;
    slot->response_time_ms = 0.0;
    slot->ts_ms = tlm__now_realtime_ms();
    slot->overflow = block;
    memcpy(slot->data, &p.meta, sizeof(p.meta));
    if (block == NULL) {
        unreserve(c, p.meta.bytes);
        atomic_fetch_add(&c->n.errors_dropped, 1);
    }
    tlm__queue_publish(&c->queue, slot, pos);
    tlm__worker_wake(c); /* errors are few: each is worth a wake-up */
    tlm__buf_free(&stack);
    if (block == NULL)
        return TLM_ENOMEM;
    atomic_fetch_add(&c->n.errors_captured, 1);
    return 0;
dropped:
    tlm__buf_free(&stack);
    atomic_fetch_add(&c->n.errors_dropped, 1);
    return rc;
}

/* The checks every tracking call makes; 0 to go on. */
static int
gate(tlm_client *c)
{
    if (atomic_load_explicit(&c->state, memory_order_relaxed)
        != TLM__STATE_OPEN)
        return TLM_ECLOSED;
    if (!atomic_load_explicit(&c->enabled, memory_order_relaxed)) {
        atomic_fetch_add(&c->n.dropped_disabled, 1);
        return TLM_EDISABLED;
    }
    if (atomic_load_explicit(&c->consent, memory_order_relaxed)
        == TLM_CONSENT_REVOKED) {
        atomic_fetch_add(&c->n.dropped_consent, 1);
        return TLM_EDISABLED;
    }
    if (tlm__fork_pending(c) && tlm__fork_settle(c, true) != 0)
        return TLM_ETHREAD;
    return 0;
}

static int
capture(tlm_client *c, const tlm_error_event *e, const tlm_request *req,
    const uint64_t *req_pos, void *const *frames, int n_frames)
{
    tlm__alloc_scope scope;
    const char *user = e->user_id;
    double rate = c->opts.error_sampling_rate;
    int rc;

    if (req_pos == NULL) {
        rc = gate(c);
        if (rc != 0)
            return rc;
    }
    if (user == NULL && req != NULL)
        user = req->user_id;
    if (rate < 1.0
        && !tlm__privacy_keep(&c->priv, c->opts.sampling_mode, rate, user)) {
        atomic_fetch_add(&c->n.errors_sampled_out, 1);
        return 0;
    }
    tlm__alloc_enter(&scope, &c->opts.allocator);
    rc = enqueue(c, e, req, req_pos, frames, n_frames, rate);
    tlm__alloc_leave(&scope);
    return rc;
}

int
tlm_capture_error(tlm_client *c, const tlm_error_event *e)
{
    void *frames[CAPTURE_FRAMES];
    int n = 0;

    if (c == NULL || !error_valid(e))
        return TLM_EINVAL;
    /* Here, not in a helper: the top frames are this function's. */
    if (e->capture_stack && e->stack_trace == NULL)
        n = backtrace(frames, (int)c->opts.max_stack_frames + 2);
    return capture(c, e, NULL, NULL, frames, n);
}

int
tlm_track_request_error(
    tlm_client *c, const tlm_request *r, const tlm_error_event *e)
{
    void *frames[CAPTURE_FRAMES];
    uint64_t pos;
    int n = 0, rc, rc2;

    if (c == NULL || r == NULL || r->size != sizeof(tlm_request)
        || r->endpoint == NULL || r->endpoint[0] == '\0'
        || !(r->response_time_ms >= 0.0) || isinf(r->response_time_ms)
        || !error_valid(e))
        return TLM_EINVAL;
    rc = gate(c);
    if (rc != 0)
        return rc;
    if (e->capture_stack && e->stack_trace == NULL)
        n = backtrace(frames, (int)c->opts.max_stack_frames + 2);
    rc = tlm__track_request_linked(c, r, &pos);
    rc2 = capture(c, e, r, rc == 0 ? &pos : NULL, frames, n);
    return rc != 0 ? rc : rc2;
}

/* ---- worker side -------------------------------------------------------- */

void
tlm__error_from_slot(
    tlm_client *c, tlm_event *ev, const tlm__slot *slot, uint64_t pos)
{
    const char *base = slot->overflow;
    error_meta m;
    size_t off = 0;
    int i;

    (void)pos;
    memcpy(&m, slot->data, sizeof(m));
    for (i = 0; i < TLM__NFIELDS; i++)
        if (slot->len[i] != UINT32_MAX)
            off += slot->len[i] + 1;
    for (i = 0; i < TLM__NEFIELDS; i++) {
        ev->efield_len[i] = m.len[i];
        if (m.len[i] == UINT32_MAX) {
            ev->efield[i] = NULL;
            continue;
        }
        ev->efield[i] = base + off;
        off += m.len[i] + 1;
    }
    ev->n_fingerprint = m.n_fingerprint;
    ev->request_id[0] = '\0';
    if (m.linked) {
        i = (int)(m.request_pos % (sizeof(c->links) / sizeof(c->links[0])));
        if (c->links[i].pos == m.request_pos && c->links[i].id[0] != '\0')
            memcpy(ev->request_id, c->links[i].id, sizeof(ev->request_id));
    }
}

void
tlm__error_link(
    tlm_client *c, const tlm__slot *slot, uint64_t pos, const char *id)
{
    size_t i = pos % (sizeof(c->links) / sizeof(c->links[0]));

    if (!(slot->flags & TLM__SLOT_LINKED))
        return;
    c->links[i].pos = pos;
    memcpy(c->links[i].id, id, sizeof(c->links[i].id));
}

void
tlm__error_release(tlm_client *c, const tlm__slot *slot)
{
    error_meta m;

    if (slot->type != TLM__EV_ERROR)
        return;
    memcpy(&m, slot->data, sizeof(m));
    unreserve(c, m.bytes);
}

/* s[0..n) scrubbed (built-in detectors, then the custom patterns);
 * borrowed from the privacy state, NULL when out of memory. */
static const char *
scrub(tlm__privacy *p, const char *s, size_t n)
{
    p->scrub.len = 0;
    p->scrub.failed = false;
    if (tlm__scrub_string(s, n, TLM__SCRUB_ALL, &p->scrub, NULL) != 0)
        return NULL;
    if (p->n_custom == 0)
        return p->scrub.data ? p->scrub.data : "";
    if (tlm__custom_apply(p->custom, p->n_custom,
            p->scrub.data ? p->scrub.data : "", &p->scrub3, &p->scrub2)
        != 0)
        return NULL;
    return p->scrub2.data ? p->scrub2.data : "";
}

static int
set_owned(tlm_event *ev, int f, const char *s, size_t n)
{
    char *copy = tlm__malloc(n + 1); /* s may hold NULs (fingerprint) */

    if (copy == NULL)
        return TLM_ENOMEM;
    memcpy(copy, s, n);
    copy[n] = '\0';
    tlm__free(ev->eowned[f]);
    ev->eowned[f] = copy;
    ev->efield[f] = copy;
    ev->efield_len[f] = (uint32_t)n;
    return 0;
}

/* Each part scrubbed and cut to the server's 256 bytes. */
static int
scrub_fingerprint(tlm__privacy *p, tlm_event *ev)
{
    const char *part = ev->efield[TLM__EFIELD_FINGERPRINT], *out;
    tlm__buf joined = {0};
    uint32_t i;
    size_t n;
    int rc;

    for (i = 0; i < ev->n_fingerprint; i++) {
        n = strlen(part);
        out = scrub(p, part, n);
        if (out == NULL)
            break;
        if (i > 0)
            tlm__buf_append(&joined, "", 1); /* the NUL between parts */
        tlm__buf_append(&joined, out,
            tlm__utf8_cut(out, strlen(out), TLM__ERR_MAX_FP_BYTES));
        part += n + 1;
    }
    rc = TLM_ENOMEM;
    if (i == ev->n_fingerprint && !joined.failed)
        rc = set_owned(ev, TLM__EFIELD_FINGERPRINT, joined.data, joined.len);
    tlm__buf_free(&joined);
    return rc;
}

int
tlm__error_privacy(tlm_client *c, tlm_event *ev)
{
    static const int fields[]
        = {TLM__EFIELD_CODE, TLM__EFIELD_MESSAGE, TLM__EFIELD_STACK};
    const char *in, *out;
    size_t i, n;
    int rc;

    if (!c->opts.scrub)
        return 0;
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        in = ev->efield[fields[i]];
        if (in == NULL)
            continue;
        n = ev->efield_len[fields[i]];
        out = scrub(&c->priv, in, n);
        if (out == NULL)
            return TLM_ENOMEM;
        if (strlen(out) == n && memcmp(out, in, n) == 0)
            continue;
        rc = set_owned(ev, fields[i], out, strlen(out));
        if (rc != 0)
            return rc;
    }
    if (ev->efield[TLM__EFIELD_FINGERPRINT] != NULL)
        return scrub_fingerprint(&c->priv, ev);
    return 0;
}
