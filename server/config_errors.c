/* The config document's `error_tracking` section for the server: the
 * alert thresholds per impact level and the window they count over.
 * Unknown keys are reported and ignored (the SDK reads its own keys of the
 * section); bad values are refused, naming the key. */
#include "config.h"

#include <stdio.h>
#include <string.h>

static const char *const levels[TLM_SEVERITIES]
    = {"low", "medium", "high", "critical"};

void
tlm__alert_policy_defaults(struct tlm__alert_policy *p)
{
    p->thresholds[0] = 1000; /* low */
    p->thresholds[1] = 100; /* medium */
    p->thresholds[2] = 10; /* high */
    p->thresholds[3] = 1; /* critical */
    p->window_ms = 60 * 60 * 1000;
    p->webhook = false;
}

static int
bad(char *err, size_t n, const char *key, const char *expect)
{
    snprintf(err, n, "config: error_tracking.%s: expected %s", key, expect);
    return -1;
}

static int
apply_thresholds(
    struct tlm__alert_policy *p, const cJSON *t, char *err, size_t n)
{
    const cJSON *v;
    if (!cJSON_IsObject(t))
        return bad(err, n, "alert_thresholds",
            "an object of low, medium, high, critical");
    cJSON_ArrayForEach(v, t)
    {
        int level = -1;
        for (int i = 0; i < TLM_SEVERITIES; i++) {
            if (strcmp(v->string, levels[i]) == 0)
                level = i;
        }
        if (level < 0) {
            snprintf(err, n,
                "config: error_tracking.alert_thresholds.%s: unknown level "
                "(low, medium, high, critical)",
                v->string);
            return -1;
        }
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9) {
            snprintf(err, n,
                "config: error_tracking.alert_thresholds.%s: expected a "
                "number 1..1000000000",
                v->string);
            return -1;
        }
        p->thresholds[level] = v->valuedouble;
    }
    return 0;
}

int
tlm__config_errors_apply(struct tlm__alert_policy *p, const cJSON *root,
    const char *path, char *err, size_t n)
{
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "error_tracking");
    const cJSON *v;
    if (sec == NULL)
        return 0;
    if (!cJSON_IsObject(sec)) {
        snprintf(err, n, "config: error_tracking: expected object");
        return -1;
    }
    cJSON_ArrayForEach(v, sec)
    {
        if (strcmp(v->string, "alert_thresholds") == 0) {
            if (apply_thresholds(p, v, err, n) != 0)
                return -1;
        } else if (strcmp(v->string, "alert_window_minutes") == 0) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 1
                || v->valuedouble > 7 * 24 * 60)
                return bad(err, n, v->string, "a number of minutes 1..10080");
            p->window_ms = (int64_t)(v->valuedouble * 60000);
        } else if (strcmp(v->string, "enabled") != 0
            && strcmp(v->string, "capture_stack_traces") != 0
            && strcmp(v->string, "error_sampling_rate") != 0) {
            fprintf(stderr,
                "telemetry-server: %s: unknown key error_tracking.%s "
                "(ignored)\n",
                path, v->string);
        }
    }
    return 0;
}
