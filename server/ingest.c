/* Batch ingestion: header parsing, per-event validation into store rows and
 * bad rows, and the receipt {"accepted", "duplicates", "rejected"}. Owns the
 * per-request working set and frees all of it before returning. */
#include "ingest.h"

#include "json_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER_STRING 256

struct rejection {
    size_t index;
    const char *id; /* borrowed from the tree, or NULL */
    char reason[TLM_EVENT_REASON_MAX];
};

/* The working set of one batch; everything here is freed by work_free. */
struct work {
    cJSON *root;
    struct tlm__store_batch batch;
    char **payloads; /* one compact print per event, valid or not */
    size_t n_payloads;
    struct rejection *rejected;
    char *client_stats;
};

static void
work_free(struct work *w)
{
    for (size_t i = 0; i < w->n_payloads; i++)
        free(w->payloads[i]);
    free(w->payloads);
    free(w->batch.events);
    free(w->batch.bad);
    free(w->rejected);
    free(w->client_stats);
    cJSON_Delete(w->root);
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

/* Reads batch_id, sent_at, sdk and client_stats; writes a message naming
 * the field into err on failure. */
static int
parse_header(struct work *w, char *err, size_t err_size)
{
    struct tlm__batch_meta *m = &w->batch.meta;
    const cJSON *sdk = cJSON_GetObjectItemCaseSensitive(w->root, "sdk");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(w->root, "client_stats");
    const char *bad = NULL;

    if (header_string(w->root, "batch_id", &m->batch_id) != 0)
        bad = "batch_id: expected string";
    else if (header_string(w->root, "sent_at", &m->sent_at) != 0)
        bad = "sent_at: expected string";
    else if (sdk != NULL && !cJSON_IsNull(sdk) && !cJSON_IsObject(sdk))
        bad = "sdk: expected object";
    else if (header_string(sdk, "name", &m->sdk_name) != 0
        || header_string(sdk, "version", &m->sdk_version) != 0
        || header_string(sdk, "binding", &m->sdk_binding) != 0)
        bad = "sdk: expected string name, version and binding";
    else if (cs != NULL && !cJSON_IsNull(cs) && !cJSON_IsObject(cs))
        bad = "client_stats: expected object";
    if (bad != NULL) {
        snprintf(err, err_size, "%s", bad);
        return -1;
    }
    if (cJSON_IsObject(cs)) {
        w->client_stats = cJSON_PrintUnformatted(cs);
        if (w->client_stats == NULL)
            return -1;
        m->client_stats = w->client_stats;
    }
    return 0;
}

static int
alloc_rows(struct work *w, size_t n)
{
    size_t k = n > 0 ? n : 1;
    w->payloads = calloc(k, sizeof(*w->payloads));
    w->batch.events = calloc(k, sizeof(*w->batch.events));
    w->batch.bad = calloc(k, sizeof(*w->batch.bad));
    w->rejected = calloc(k, sizeof(*w->rejected));
    if (w->payloads == NULL || w->batch.events == NULL || w->batch.bad == NULL
        || w->rejected == NULL)
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

/* Validates every item, splitting them into store rows and bad rows. */
static int
classify(struct work *w, const cJSON *events)
{
    size_t index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, events)
    {
        char *payload = cJSON_PrintUnformatted(item);
        if (payload == NULL)
            return -1;
        w->payloads[w->n_payloads++] = payload;
        struct tlm__store_event *se = &w->batch.events[w->batch.n_events];
        struct rejection *r = &w->rejected[w->batch.n_bad];
        if (tlm__event_validate(item, &se->ev, r->reason, sizeof(r->reason))
            == 0) {
            se->payload = payload;
            w->batch.n_events++;
        } else {
            r->index = index;
            r->id = echo_id(item);
            w->batch.bad[w->batch.n_bad].reason = r->reason;
            w->batch.bad[w->batch.n_bad].raw = payload;
            w->batch.n_bad++;
        }
        index++;
    }
    return 0;
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

int
tlm__ingest_json(struct tlm__store *st, const char *json, size_t len,
    int64_t received_ms, char **response)
{
    struct work w;
    const cJSON *events;
    char err[128];
    size_t accepted = 0, duplicates = 0;
    int status;

    memset(&w, 0, sizeof(w));
    *response = NULL;
    w.batch.received_ms = received_ms;
    w.root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(w.root)) {
        status = reply(response, 400, "body: malformed JSON object");
        goto out;
    }
    events = cJSON_GetObjectItemCaseSensitive(w.root, "events");
    if (!cJSON_IsArray(events)) {
        status = reply(response, 400, "events: expected array");
        goto out;
    }
    if (parse_header(&w, err, sizeof(err)) != 0) {
        status = reply(response, 400, err);
        goto out;
    }
    w.batch.meta.event_count = (size_t)cJSON_GetArraySize(events);
    if (alloc_rows(&w, w.batch.meta.event_count) != 0
        || classify(&w, events) != 0) {
        status = reply(response, 500, "out of memory");
        goto out;
    }
    if (tlm__store_insert_batch(st, &w.batch, &accepted, &duplicates) != 0) {
        status = reply(response, 500, "storage failure");
        goto out;
    }
    status = 200;
    *response = receipt(&w, accepted, duplicates);
out:
    work_free(&w);
    return status;
}

int
tlm__ingest_body(struct tlm__store *st, const void *body, size_t len,
    enum tlm__encoding enc, const struct tlm__ingest_limits *limits,
    int64_t received_ms, char **response)
{
    char *json = NULL;
    size_t json_len = 0;
    int status;

    *response = NULL;
    switch (tlm__inflate_capped(
        body, len, enc, limits->max_inflated_bytes, &json, &json_len)) {
    case TLM_DECODE_OK:
        break;
    case TLM_DECODE_TOO_LARGE:
        return reply(response, 413, "body: larger than the inflated limit");
    case TLM_DECODE_MALFORMED:
        return reply(response, 400, "body: malformed gzip stream");
    default:
        return reply(response, 500, "out of memory");
    }
    status = tlm__ingest_json(st, json, json_len, received_ms, response);
    free(json);
    return status;
}
