/* The config document's `feedback` and `feature_requests` sections for the
 * server: categories, the webhook, the "strongly negative" threshold and
 * notifications. Unknown keys are reported and ignored (the SDK reads its
 * own keys of the same sections); bad values are refused, naming the key. */
#include "config_feedback.h"

#include "categorize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WEBHOOK_ATTEMPTS 8u
#define DEFAULT_NEGATIVE_THRESHOLD (-0.5)

void
tlm__feedback_config_defaults(struct tlm__feedback_config *f)
{
    memset(f, 0, sizeof(*f));
    f->webhook_max_attempts = DEFAULT_WEBHOOK_ATTEMPTS;
    f->negative_threshold = DEFAULT_NEGATIVE_THRESHOLD;
    f->notification_enabled = true;
    f->sentiment_enabled = true;
    f->categorization_enabled = true;
}

void
tlm__feedback_config_free(struct tlm__feedback_config *f)
{
    tlm__categories_free(f->categories);
    free(f->webhook_url);
    free(f->webhook_secret);
    f->categories = NULL;
    f->webhook_url = f->webhook_secret = NULL;
}

static int
bad(char *err, size_t n, const char *sec, const char *key, const char *expect)
{
    snprintf(err, n, "config: %s.%s: expected %s", sec, key, expect);
    return -1;
}

static int
set_string(char **dst, const cJSON *v, const char *sec, char *err, size_t n)
{
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0'
        || strlen(v->valuestring) > 2048)
        return bad(err, n, sec, v->string, "a non-empty string");
    free(*dst);
    *dst = strdup(v->valuestring);
    return *dst != NULL ? 0 : -1;
}

/* Keys of `feedback` that the SDK reads or that other parts own: known,
 * so not reported as unknown. */
static const char *const feedback_other_keys[]
    = {"enabled", "max_length", "collect_context", "prompt_after_errors"};

static int
apply_feedback(struct tlm__feedback_config *f, const cJSON *sec,
    const char *path, char *err, size_t n)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, sec)
    {
        const char *k = v->string;
        if (strcmp(k, "webhook_url") == 0) {
            if (set_string(&f->webhook_url, v, "feedback", err, n) != 0)
                return -1;
            if (strncmp(f->webhook_url, "http://", 7) != 0
                && strncmp(f->webhook_url, "https://", 8) != 0)
                return bad(err, n, "feedback", k, "an http:// or https:// URL");
        } else if (strcmp(k, "webhook_secret") == 0) {
            if (set_string(&f->webhook_secret, v, "feedback", err, n) != 0)
                return -1;
        } else if (strcmp(k, "webhook_max_attempts") == 0) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 100
                || v->valuedouble != (double)(int)v->valuedouble)
                return bad(err, n, "feedback", k, "an integer 1..100");
            f->webhook_max_attempts = (unsigned)v->valueint;
        } else if (strcmp(k, "webhook_retry_base_ms") == 0) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 10
                || v->valuedouble > 600000
                || v->valuedouble != (double)(int)v->valuedouble)
                return bad(err, n, "feedback", k, "an integer 10..600000");
            f->webhook_base_delay_ms = (unsigned)v->valuedouble;
        } else if (strcmp(k, "negative_threshold") == 0) {
            if (!cJSON_IsNumber(v) || v->valuedouble < -1 || v->valuedouble > 0)
                return bad(err, n, "feedback", k, "a number -1..0");
            f->negative_threshold = v->valuedouble;
        } else if (strcmp(k, "sentiment_analysis") == 0) {
            if (!cJSON_IsBool(v))
                return bad(err, n, "feedback", k, "true or false");
            f->sentiment_enabled = cJSON_IsTrue(v);
        } else if (strcmp(k, "auto_categorization") == 0) {
            if (!cJSON_IsBool(v))
                return bad(err, n, "feedback", k, "true or false");
            f->categorization_enabled = cJSON_IsTrue(v);
        } else if (strcmp(k, "categories") == 0) {
            struct tlm__categories *c = NULL;
            if (tlm__categories_from_json(v, &c, err, n) != 0)
                return -1;
            tlm__categories_free(f->categories);
            f->categories = c;
        } else {
            bool known = false;
            for (size_t i = 0; i
                 < sizeof(feedback_other_keys) / sizeof(feedback_other_keys[0]);
                 i++)
                known = known || strcmp(k, feedback_other_keys[i]) == 0;
            if (!known)
                fprintf(stderr,
                    "telemetry-server: %s: unknown key feedback.%s "
                    "(ignored)\n",
                    path, k);
        }
    }
    if (f->webhook_url != NULL && f->webhook_secret == NULL) {
        snprintf(err, n,
            "config: feedback.webhook_secret: required with "
            "feedback.webhook_url (the deliveries are signed with it)");
        return -1;
    }
    return 0;
}

static int
apply_requests(struct tlm__feedback_config *f, const cJSON *sec,
    const char *path, char *err, size_t n)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, sec)
    {
        const char *k = v->string;
        if (strcmp(k, "notification_enabled") == 0) {
            if (!cJSON_IsBool(v))
                return bad(err, n, "feature_requests", k, "true or false");
            f->notification_enabled = cJSON_IsTrue(v);
        } else if (strcmp(k, "voting_enabled") == 0) {
            if (!cJSON_IsBool(v))
                return bad(err, n, "feature_requests", k, "true or false");
            f->voting_disabled = !cJSON_IsTrue(v);
        } else {
            fprintf(stderr,
                "telemetry-server: %s: unknown key feature_requests.%s "
                "(ignored)\n",
                path, k);
        }
    }
    return 0;
}

int
tlm__feedback_config_apply(struct tlm__feedback_config *f, const cJSON *root,
    const char *path, char *err, size_t err_size)
{
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "feedback");
    if (sec != NULL) {
        if (!cJSON_IsObject(sec)) {
            snprintf(err, err_size, "config: feedback: expected object");
            return -1;
        }
        if (apply_feedback(f, sec, path, err, err_size) != 0)
            return -1;
    }
    sec = cJSON_GetObjectItemCaseSensitive(root, "feature_requests");
    if (sec != NULL) {
        if (!cJSON_IsObject(sec)) {
            snprintf(
                err, err_size, "config: feature_requests: expected object");
            return -1;
        }
        if (apply_requests(f, sec, path, err, err_size) != 0)
            return -1;
    }
    return 0;
}
