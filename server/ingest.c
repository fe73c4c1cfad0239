/* Batch ingestion: header parsing, per-event validation into store rows and
 * bad rows, and the receipt {"accepted", "duplicates", "rejected"}. Owns the
 * per-request working set and frees all of it before returning. */
#include "ingest.h"

#include "ingest_errors.h"

#include "json_arena.h"
#include "scrub.h"
#include "scrub_pass.h"
#include "json_scan.h"
#include "json_util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HEADER_STRING 256

/* Root members read by the server; the rest are ignored. */
enum batch_key {
    K_EVENTS,
    K_BATCH_ID,
    K_SENT_AT,
    K_SDK,
    K_CLIENT_STATS,
    K_PRIVACY,
    N_KEYS
};
static const char *const batch_keys[N_KEYS]
    = {"events", "batch_id", "sent_at", "sdk", "client_stats", "privacy"};

struct rejection {
    size_t index;
    const char *id; /* borrowed from the event's tree, or NULL */
    char reason[TLM_EVENT_REASON_MAX];
};

/* The working set of one batch; everything here is freed by work_free.
 * Payloads are slices of the decoded body, which outlives the work. */
struct work {
    struct tlm__json_scan scan;
    struct tlm__json_slice values[N_KEYS];
    cJSON *header[N_KEYS]; /* decoded batch_id, sent_at, sdk */
    cJSON **trees; /* one per event, NULL where it did not decode */
    size_t n_trees;
    struct tlm__json_arena arena; /* holds the trees when in_arena */
    bool in_arena;
    struct tlm__store_batch batch;
    struct rejection *rejected;
    struct tlm__ingest_policy lim; /* resolved: no zero member left */
    size_t overridden; /* events given the key's environment */
    char **printed; /* per element: its scrubbed text, NULL if unchanged */
    char **bad_text; /* per bad row: its scrubbed raw text (malloc) */
    struct tlm__scrub_tally tally; /* what the second privacy pass did */
    /* Error events' groups, one slot per element (allocated at the first
     * error event of the batch). */
    struct error_slot {
        struct tlm__error_group_key key;
        struct tlm__error_info info;
    } * errors;
};

static const struct tlm__ingest_hooks no_hooks;

/* Copies l (NULL: all defaults) with every zero member defaulted. */
static struct tlm__ingest_policy
resolve_policy(const struct tlm__ingest_policy *l)
{
    struct tlm__ingest_policy r = {0};
    if (l != NULL)
        r = *l;
    if (r.max_event_bytes == 0)
        r.max_event_bytes = TLM_INGEST_DEFAULT_MAX_EVENT;
    if (r.max_batch_events == 0)
        r.max_batch_events = TLM_INGEST_DEFAULT_MAX_EVENTS;
    if (r.max_future_ms == 0)
        r.max_future_ms = TLM_INGEST_DEFAULT_MAX_FUTURE_MS;
    if (r.max_age_ms == 0)
        r.max_age_ms = TLM_INGEST_DEFAULT_MAX_AGE_MS;
    if (r.max_json_depth == 0 || r.max_json_depth > TLM_JSON_SCAN_MAX_DEPTH)
        r.max_json_depth = TLM_JSON_SCAN_MAX_DEPTH;
    if (r.hooks == NULL)
        r.hooks = &no_hooks;
    if (r.environment != NULL && r.environment[0] == '\0')
        r.environment = NULL;
    return r;
}

static void
work_free(struct work *w)
{
    for (size_t i = 0; i < w->n_trees && !w->in_arena; i++) {
        cJSON_Delete(w->trees[i]);
        if (w->printed != NULL)
            cJSON_free(w->printed[i]);
    }
    for (size_t i = 0; w->bad_text != NULL && i < w->batch.n_bad; i++)
        free(w->bad_text[i]);
    free(w->printed);
    free(w->bad_text);
    tlm__json_arena_free(&w->arena);
    for (size_t i = 0; i < N_KEYS; i++)
        cJSON_Delete(w->header[i]);
    free(w->trees);
    free(w->batch.events);
    free(w->batch.bad);
    free(w->rejected);
    free(w->errors);
    tlm__json_scan_free(&w->scan);
}

static int
reply(char **response, int status, const char *msg)
{
    *response = tlm__json_error_body(msg);
    return status;
}

/* Optional string member of obj into *out; -1 when present but not a short
 * string. */
static int
header_string(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (it == NULL || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it) || strlen(it->valuestring) > MAX_HEADER_STRING)
        return -1;
    *out = it->valuestring;
    return 0;
}

/* A root string member (batch_id, sent_at) of at most MAX_HEADER_STRING
 * bytes once decoded; absent or null leaves *out NULL. */
static int
root_string(struct work *w, enum batch_key k, const char **out)
{
    const struct tlm__json_slice *v = &w->values[k];
    *out = NULL;
    if (v->p == NULL || (v->len == 4 && memcmp(v->p, "null", 4) == 0))
        return 0;
    if (v->p[0] != '"' || v->len > 6 * MAX_HEADER_STRING + 2)
        return -1;
    w->header[k] = cJSON_ParseWithLength(v->p, v->len);
    if (!cJSON_IsString(w->header[k])
        || strlen(w->header[k]->valuestring) > MAX_HEADER_STRING)
        return -1;
    *out = w->header[k]->valuestring;
    return 0;
}

/* Kind of a root member from its first byte (the scanner validated it). */
static bool
is_null_or(const struct tlm__json_slice *v, char first)
{
    return v->p == NULL || v->p[0] == 'n' || v->p[0] == first;
}

/* Reads batch_id, sent_at, sdk, client_stats and privacy; writes a message
 * naming the field into err on failure. */
static int
parse_header(struct work *w, char *err, size_t err_size)
{
    struct tlm__batch_meta *m = &w->batch.meta;
    const struct tlm__json_slice *sdk = &w->values[K_SDK];
    const struct tlm__json_slice *cs = &w->values[K_CLIENT_STATS];
    const struct tlm__json_slice *pv = &w->values[K_PRIVACY];
    const char *bad = NULL;

    if (sdk->p != NULL && sdk->p[0] == '{')
        w->header[K_SDK] = cJSON_ParseWithLength(sdk->p, sdk->len);
    if (root_string(w, K_BATCH_ID, &m->batch_id) != 0)
        bad = "batch_id: expected string";
    else if (root_string(w, K_SENT_AT, &m->sent_at) != 0)
        bad = "sent_at: expected string";
    else if (!is_null_or(sdk, '{')
        || (sdk->p != NULL && sdk->p[0] == '{' && w->header[K_SDK] == NULL))
        bad = "sdk: expected object";
    else if (header_string(w->header[K_SDK], "name", &m->sdk_name) != 0
        || header_string(w->header[K_SDK], "version", &m->sdk_version) != 0
        || header_string(w->header[K_SDK], "binding", &m->sdk_binding) != 0)
        bad = "sdk: expected string name, version and binding";
    else if (!is_null_or(cs, '{'))
        bad = "client_stats: expected object";
    else if (!is_null_or(pv, '{'))
        bad = "privacy: expected object";
    if (bad != NULL) {
        snprintf(err, err_size, "%s", bad);
        return -1;
    }
    if (cs->p != NULL && cs->p[0] == '{') {
        m->client_stats = cs->p;
        m->client_stats_len = cs->len;
    }
    if (pv->p != NULL && pv->p[0] == '{') {
        m->privacy = pv->p;
        m->privacy_len = pv->len;
    }
    return 0;
}

static int
alloc_rows(struct work *w, size_t n)
{
    size_t k = n > 0 ? n : 1;
    w->trees = calloc(k, sizeof(*w->trees));
    w->batch.events = calloc(k, sizeof(*w->batch.events));
    w->batch.bad = calloc(k, sizeof(*w->batch.bad));
    w->rejected = calloc(k, sizeof(*w->rejected));
    w->printed = calloc(k, sizeof(*w->printed));
    w->bad_text = calloc(k, sizeof(*w->bad_text));
    if (w->trees == NULL || w->batch.events == NULL || w->batch.bad == NULL
        || w->rejected == NULL || w->printed == NULL || w->bad_text == NULL)
        return -1;
    return 0;
}

/* The id echoed in a rejection: the item's id when it is a short string. */
static const char *
echo_id(const cJSON *item)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
    if (!cJSON_IsString(id) || strlen(id->valuestring) > 64)
        return NULL;
    return id->valuestring;
}

/* The timestamp against the window around the arrival time: an event from
 * far ahead is a broken clock, one older than retention would be purged at
 * once and could only skew analytics of the past. */
static int
check_time(const struct work *w, const struct tlm__event *ev, const cJSON *tree,
    struct rejection *r)
{
    int64_t now = w->batch.received_ms;
    if (w->lim.max_future_ms > 0 && ev->ts_ms > now
        && ev->ts_ms - now > w->lim.max_future_ms) {
        snprintf(r->reason, sizeof(r->reason),
            "timestamp: more than %" PRId64
            " s in the future (max_future_seconds)",
            w->lim.max_future_ms / 1000);
        r->id = echo_id(tree);
        return -1;
    }
    if (w->lim.max_age_ms > 0 && ev->ts_ms < now
        && now - ev->ts_ms > w->lim.max_age_ms) {
        snprintf(r->reason, sizeof(r->reason),
            "timestamp: older than the %" PRId64
            "-day retention (retention_days)",
            w->lim.max_age_ms / (24 * 3600 * 1000));
        r->id = echo_id(tree);
        return -1;
    }
    return 0;
}

/* Decodes and validates element i on its own; 0 when valid. */
static int
check_one(struct work *w, size_t i, struct tlm__event *ev, struct rejection *r)
{
    const struct tlm__json_elem *el = &w->scan.elems[i];
    if (el->len > w->lim.max_event_bytes) {
        snprintf(r->reason, sizeof(r->reason),
            "event: larger than the %zu-byte limit (max_event_bytes)",
            w->lim.max_event_bytes);
        return -1;
    }
    if (el->bad_text) {
        snprintf(r->reason, sizeof(r->reason),
            "event: string with invalid UTF-8 or an unpaired surrogate");
        return -1;
    }
    /* The scanner proved the slice is JSON and its text sound, so a
     * failure here is one of cJSON's own limits, or memory. */
    /* The second privacy pass edits the tree where it lives, and prints
     * the event again only when it changed something. */
    if (w->in_arena)
        tlm__json_arena_enter(&w->arena);
    w->trees[i] = cJSON_ParseWithLength(el->p, el->len);
    int scrubbed = 0;
    if (w->trees[i] != NULL && !w->lim.no_scrub) {
        scrubbed = tlm__scrub_event(w->trees[i], &w->tally);
        if (scrubbed > 0)
            w->printed[i] = cJSON_PrintUnformatted(w->trees[i]);
    }
    tlm__json_arena_leave();
    if (w->trees[i] == NULL) {
        snprintf(r->reason, sizeof(r->reason), "event: cannot be decoded");
        return -1;
    }
    if (scrubbed < 0 || (scrubbed > 0 && w->printed[i] == NULL)) {
        snprintf(r->reason, sizeof(r->reason),
            "event: out of memory while scrubbing it");
        return -1;
    }
    if (tlm__event_validate(w->trees[i], ev, r->reason, sizeof(r->reason))
        != 0) {
        r->id = echo_id(w->trees[i]);
        return -1;
    }
    return check_time(w, ev, w->trees[i], r);
}

/* A rejected element is kept as text for inspection: scrubbed as one
 * string (placeholders hold no quote, so JSON stays JSON), or verbatim
 * when memory runs out (it is never served outside /admin/). */
static void
scrub_bad_row(struct work *w, struct tlm__bad_row *b, size_t k)
{
    tlm__buf out = {0};
    tlm__scrub_counts counts = {0};
    if (w->lim.no_scrub
        || tlm__scrub_string(b->raw, b->raw_len, TLM__SCRUB_ALL, &out, &counts)
            != 0) {
        tlm__buf_free(&out);
        return;
    }
    for (int kind = 0; kind < TLM__SCRUB_NKINDS; kind++) {
        w->tally.by_kind[kind] += counts.n[kind];
        w->tally.total += counts.n[kind];
    }
    w->bad_text[k] = out.data; /* tlm__buf allocates with malloc here */
    b->raw = out.data;
    b->raw_len = out.len;
}

/* Names the group of error event se (element i). Without memory for the
 * slots the event is stored ungrouped rather than refused. */
static void
group_error(struct work *w, size_t i, struct tlm__store_event *se)
{
    if (w->errors == NULL) {
        w->errors = calloc(w->scan.n_elems, sizeof(*w->errors));
        if (w->errors == NULL)
            return;
    }
    struct error_slot *e = &w->errors[i];
    if (tlm__ingest_error_info(&se->ev, &e->key, &e->info) == 0)
        se->error = &e->info;
}

/* Validates every element, splitting them into store rows and bad rows.
 * Each row keeps the element's original text as its payload. */
static void
classify(struct work *w)
{
    /* Entered only around each parse: anything else cJSON allocates on
     * this thread (the receipt) must come from malloc. */
    w->in_arena = tlm__json_arena_enter(&w->arena);
    tlm__json_arena_leave();
    for (size_t i = 0; i < w->scan.n_elems; i++) {
        const struct tlm__json_elem *el = &w->scan.elems[i];
        struct tlm__store_event *se = &w->batch.events[w->batch.n_events];
        struct rejection *r = &w->rejected[w->batch.n_bad];
        w->n_trees = i + 1;
        if (check_one(w, i, &se->ev, r) == 0) {
            if (w->lim.environment != NULL
                && strcmp(se->ev.environment, w->lim.environment) != 0) {
                se->ev.environment = w->lim.environment;
                w->overridden++;
            }
            if (se->ev.type == TLM_EVENT_ERROR)
                group_error(w, i, se);
            se->payload = w->printed[i] != NULL ? w->printed[i] : el->p;
            se->payload_len
                = w->printed[i] != NULL ? strlen(w->printed[i]) : el->len;
            w->batch.n_events++;
        } else {
            struct tlm__bad_row *b = &w->batch.bad[w->batch.n_bad];
            r->index = i;
            b->reason = r->reason;
            b->raw = el->p;
            b->raw_len = el->len;
            scrub_bad_row(w, b, w->batch.n_bad);
            w->batch.n_bad++;
        }
    }
}

static int
add_rejection(cJSON *arr, const struct rejection *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return -1;
    cJSON_AddItemToArray(arr, o);
    if (cJSON_AddNumberToObject(o, "index", (double)r->index) == NULL)
        return -1;
    if (r->id != NULL ? cJSON_AddStringToObject(o, "id", r->id) == NULL
                      : cJSON_AddNullToObject(o, "id") == NULL)
        return -1;
    return cJSON_AddStringToObject(o, "error", r->reason) == NULL ? -1 : 0;
}

static char *
receipt(const struct work *w, size_t accepted, size_t duplicates)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = NULL;
    if (root == NULL
        || cJSON_AddNumberToObject(root, "accepted", (double)accepted) == NULL
        || cJSON_AddNumberToObject(root, "duplicates", (double)duplicates)
            == NULL)
        goto fail;
    arr = cJSON_AddArrayToObject(root, "rejected");
    if (arr == NULL)
        goto fail;
    for (size_t i = 0; i < w->batch.n_bad; i++) {
        if (add_rejection(arr, &w->rejected[i]) != 0)
            goto fail;
    }
    return tlm__json_finish(root);
fail:
    cJSON_Delete(root);
    return NULL;
}

/* Validates the whole document and locates its members and events. */
static int
scan_body(struct work *w, const char *json, size_t len, char **response)
{
    char err[96];
    w->scan.keys = batch_keys;
    w->scan.n_keys = N_KEYS;
    w->scan.list_key = K_EVENTS;
    w->scan.values = w->values;
    w->scan.max_depth = w->lim.max_json_depth;
    switch (tlm__json_scan(&w->scan, json, len)) {
    case TLM_JSON_SCAN_OK:
        return 0;
    case TLM_JSON_SCAN_NOT_OBJECT:
        return reply(response, 400, "body: expected a JSON object");
    case TLM_JSON_SCAN_TOO_DEEP:
        snprintf(err, sizeof(err),
            "body: JSON nested deeper than %u levels (max_json_depth)",
            w->lim.max_json_depth);
        return reply(response, 400, err);
    case TLM_JSON_SCAN_MALFORMED:
        snprintf(err, sizeof(err), "body: malformed JSON at byte %zu",
            w->scan.error_offset);
        return reply(response, 400, err);
    default:
        return reply(response, 500, "out of memory");
    }
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec)
        + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The store write, inside the hooks' admission (the bounded write queue). */
static int
store(struct tlm__store *st, struct work *w, size_t *accepted,
    size_t *duplicates, char **response)
{
    const struct tlm__ingest_hooks *h = w->lim.hooks;
    char msg[128] = "";
    struct timespec t0;
    int status, rc;
    if (h->store_enter != NULL) {
        status = h->store_enter(h->ctx, msg, sizeof(msg));
        if (status != 0)
            return reply(response, status, msg);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = tlm__store_insert_batch(st, &w->batch, accepted, duplicates);
    if (h->store_leave != NULL)
        h->store_leave(h->ctx, seconds_since(&t0));
    if (rc != 0)
        return reply(response, 500, "storage failure");
    return 0;
}

/* Refuses a batch with more elements than the limit, or that a hook does
 * not admit (rate limiting); 0 otherwise. */
static int
admit(struct work *w, char **response)
{
    const struct tlm__ingest_hooks *h = w->lim.hooks;
    char msg[128] = "";
    int status;
    if (w->scan.n_elems > w->lim.max_batch_events) {
        snprintf(msg, sizeof(msg),
            "events: more than %zu events in one batch (max_batch_events)",
            w->lim.max_batch_events);
        return reply(response, 413, msg);
    }
    if (h->admit == NULL)
        return 0;
    status = h->admit(h->ctx, w->scan.n_elems, msg, sizeof(msg));
    if (status != 0)
        return reply(response, status, msg);
    return 0;
}

int
tlm__ingest_json_with(struct tlm__store *st, const char *json, size_t len,
    const struct tlm__ingest_policy *policy, int64_t received_ms,
    char **response)
{
    struct work w;
    const struct tlm__json_slice *events;
    char err[128];
    size_t accepted = 0, duplicates = 0;
    int status;

    memset(&w, 0, sizeof(w));
    *response = NULL;
    w.lim = resolve_policy(policy);
    w.batch.received_ms = received_ms;
    w.batch.alerts = w.lim.alerts;
    status = scan_body(&w, json, len, response);
    if (status != 0)
        goto out;
    events = &w.values[K_EVENTS];
    if (events->p == NULL || events->p[0] != '[') {
        status = reply(response, 400, "events: expected array");
        goto out;
    }
    if (parse_header(&w, err, sizeof(err)) != 0) {
        status = reply(response, 400, err);
        goto out;
    }
    status = admit(&w, response);
    if (status != 0)
        goto out;
    w.batch.meta.event_count = w.scan.n_elems;
    w.batch.meta.key_id = w.lim.key_id;
    if (alloc_rows(&w, w.scan.n_elems) != 0) {
        status = reply(response, 500, "out of memory");
        goto out;
    }
    classify(&w);
    w.batch.meta.scrubbed = w.tally.total;
    status = store(st, &w, &accepted, &duplicates, response);
    if (status != 0)
        goto out;
    status = 200;
    *response = receipt(&w, accepted, duplicates);
    if (w.lim.hooks->stored != NULL)
        w.lim.hooks->stored(
            w.lim.hooks->ctx, accepted, duplicates, w.batch.n_bad);
    if (w.overridden > 0 && w.lim.hooks->environment_overridden != NULL)
        w.lim.hooks->environment_overridden(w.lim.hooks->ctx, w.overridden);
    if (w.tally.total > 0 && w.lim.hooks->scrubbed != NULL)
        w.lim.hooks->scrubbed(w.lim.hooks->ctx, &w.tally);
    if (w.batch.alerts_raised > 0 && w.lim.hooks->alerted != NULL)
        w.lim.hooks->alerted(w.lim.hooks->ctx, w.batch.alerts_raised);
out:
    work_free(&w);
    return status;
}

int
tlm__ingest_json(struct tlm__store *st, const char *json, size_t len,
    int64_t received_ms, char **response)
{
    return tlm__ingest_json_with(st, json, len, NULL, received_ms, response);
}

int
tlm__ingest_body(struct tlm__store *st, const void *body, size_t len,
    enum tlm__encoding enc, const struct tlm__ingest_limits *limits,
    int64_t received_ms, char **response)
{
    return tlm__ingest_body_with(
        st, body, len, enc, limits, NULL, received_ms, response);
}

int
tlm__ingest_body_with(struct tlm__store *st, const void *body, size_t len,
    enum tlm__encoding enc, const struct tlm__ingest_limits *limits,
    const struct tlm__ingest_policy *policy, int64_t received_ms,
    char **response)
{
    struct tlm__ingest_policy lim = resolve_policy(policy);
    size_t cap = limits != NULL && limits->max_inflated_bytes > 0
        ? limits->max_inflated_bytes
        : TLM_INGEST_DEFAULT_MAX_INFLATED;
    char *json = NULL;
    size_t json_len = 0;
    char msg[128];
    int status;

    *response = NULL;
    switch (tlm__inflate_capped(body, len, enc, cap, &json, &json_len)) {
    case TLM_DECODE_OK:
        break;
    case TLM_DECODE_TOO_LARGE:
        snprintf(msg, sizeof(msg),
            "body: larger than the %zu-byte inflated limit "
            "(max_inflated_bytes)",
            cap);
        return reply(response, 413, msg);
    case TLM_DECODE_MALFORMED:
        return reply(response, 400, "body: malformed gzip stream");
    default:
        return reply(response, 500, "out of memory");
    }
    if (lim.hooks->decoded != NULL)
        lim.hooks->decoded(lim.hooks->ctx, json_len);
    status = tlm__ingest_json_with(
        st, json, json_len, &lim, received_ms, response);
    free(json);
    return status;
}
