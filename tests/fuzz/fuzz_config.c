/* Fuzz target: the SDK's configuration document parser,
 * tlm_options_load_string, on arbitrary bytes (a NUL-terminated copy).
 *
 * Invariants checked:
 * - the return value is 0 or TLM_ECONFIG (TLM_ENOMEM is not expected);
 * - on failure tlm_options_last_error() is non-empty and starts with
 *   "telemetry." or "configuration:" or a section name followed by ':',
 *   and nothing was applied (all or nothing: every field is unchanged and
 *   the object still loads a good document afterwards);
 * - on success last_error is "", every warning line is terminated and
 *   names a key or a section, and the object still loads a document. */
#include "fuzz_common.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <telemetry.h>

static void
quiet(tlm_log_level level, const char *msg, void *data)
{
    (void)level;
    (void)msg;
    (void)data;
}

static bool
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL)
        || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The options fields a document can change, compared one by one. */
static bool
same_options(const tlm_options *a, const tlm_options *b)
{
    return same_str(a->endpoint, b->endpoint)
        && same_str(a->api_key, b->api_key)
        && same_str(a->environment, b->environment)
        && same_str(a->access_tier, b->access_tier)
        && same_str(a->binding, b->binding)
        && same_str(a->ca_bundle, b->ca_bundle)
        && a->flush_interval_ms == b->flush_interval_ms
        && a->max_batch_events == b->max_batch_events
        && a->max_batch_bytes == b->max_batch_bytes
        && a->max_queue_events == b->max_queue_events
        && a->shutdown_timeout_ms == b->shutdown_timeout_ms
        && a->connect_timeout_ms == b->connect_timeout_ms
        && a->transfer_timeout_ms == b->transfer_timeout_ms
        && a->max_inflight == b->max_inflight
        && a->max_retries == b->max_retries && a->compression == b->compression
        && a->enabled == b->enabled;
}

static bool
error_prefix_ok(const char *e)
{
    static const char *const sections[] = {"telemetry", "feedback",
        "error_tracking", "feature_requests", "analytics", "server"};
    if (strncmp(e, "telemetry.", 10) == 0
        || strncmp(e, "configuration:", 14) == 0)
        return true;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        size_t n = strlen(sections[i]);
        if (strncmp(e, sections[i], n) == 0 && e[n] == ':')
            return true;
    }
    return false;
}

/* Warnings are "one per line" (telemetry.h), each naming an unknown
 * section ("NAME: ...") or a key of the telemetry section
 * ("telemetry.KEY: ..."): every line must start with a name the document
 * holds, then ": ". A name holding a newline must not make a line of its
 * own (finding "config-warning-newline"). */
/* The library writes control bytes of a name as '?' (one line each). */
static int
shown(char *name, size_t size, const char *fmt, const char *member)
{
    int n = snprintf(name, size, fmt, member);
    for (int i = 0; i > -1 && (size_t)i < size && name[i] != '\0'; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            name[i] = '?';
    return n;
}

/* A long name is cut with its warning line (255 bytes): the line is then
 * a prefix of "NAME: " (of name[], which holds up to 511 bytes of it). */
static bool
cut_prefix(const char *line, size_t len, const char *name, int n)
{
    return n > 0 && (size_t)n > len && len >= 200 && len < 511
        && memcmp(line, name, len) == 0;
}

static bool
line_names_member(const char *line, size_t len, const cJSON *root)
{
    const cJSON *sec, *it;
    char name[512];
    cJSON_ArrayForEach(sec, root)
    {
        int n = shown(name, sizeof(name), "%s: ", sec->string);
        if (n > 0 && (size_t)n <= len && memcmp(line, name, (size_t)n) == 0)
            return true;
        if (cut_prefix(line, len, name, n))
            return true;
        if (strcmp(sec->string, "telemetry") != 0)
            continue;
        cJSON_ArrayForEach(it, sec)
        {
            n = shown(name, sizeof(name), "telemetry.%s: ", it->string);
            if (n > 0 && (size_t)n <= len && memcmp(line, name, (size_t)n) == 0)
                return true;
            if (cut_prefix(line, len, name, n))
                return true;
        }
    }
    return false;
}

static void
check_warnings(const char *w, const char *json)
{
    size_t n = strlen(w);
    FUZZ_CHECK(n == 0 || w[n - 1] == '\n', "warnings not terminated: [%s]", w);
    cJSON *root = cJSON_ParseWithOpts(json, NULL, 1);
    for (const char *line = w; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = (size_t)(nl - line);
        if (!line_names_member(line, len, root)) {
            if (fuzz_known("config-warning-newline"))
                break;
            FUZZ_CHECK(false, "a warning line names no member: [%.*s]",
                (int)len, line);
        }
        line = nl + 1;
    }
    cJSON_Delete(root);
}

static void
load_good(tlm_options *o)
{
    int rc = tlm_options_load_string(
        o, "{\"telemetry\":{\"flush_interval_ms\":1234}}");
    FUZZ_CHECK(rc == 0, "a good document failed after fuzzing: %d %s", rc,
        tlm_options_last_error(o));
    FUZZ_CHECK(o->flush_interval_ms == 1234, "good document not applied");
    FUZZ_CHECK(tlm_options_last_error(o)[0] == '\0', "stale last_error");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_strndup(data, size);
    tlm_options *o = tlm_options_new();
    tlm_options before;
    FUZZ_CHECK(o != NULL, "tlm_options_new failed");
    FUZZ_CHECK(tlm_options_set_logger(o, quiet, NULL) == 0, "set_logger");

    FUZZ_CHECK(tlm__options_copy(&before, o) == 0, "copy");
    char *warn_before = strdup(tlm_options_warnings(o));
    FUZZ_CHECK(warn_before != NULL, "strdup");
    int rc = tlm_options_load_string(o, json);
    const char *err = tlm_options_last_error(o);
    const char *warn = tlm_options_warnings(o);
    FUZZ_CHECK(err != NULL && warn != NULL, "NULL accessor");
    FUZZ_CHECK(strlen(err) < sizeof(o->last_error), "last_error overflow");
    if (rc == 0) {
        FUZZ_CHECK(err[0] == '\0', "success with last_error [%s]", err);
        check_warnings(warn, json);
    } else {
        FUZZ_CHECK(rc == TLM_ECONFIG, "unexpected return %d", rc);
        FUZZ_CHECK(err[0] != '\0', "failure without a message");
        FUZZ_CHECK(error_prefix_ok(err), "bad error prefix: [%s]", err);
        FUZZ_CHECK(same_options(&before, o),
            "a failed load changed the options (%s)", err);
        FUZZ_CHECK(strcmp(warn, warn_before) == 0,
            "a failed load changed the warnings (%s)", err);
    }
    tlm__options_clear(&before);
    free(warn_before);
    load_good(o);
    tlm_options_free(o);
    free(json);
    return 0;
}
