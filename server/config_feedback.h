/* The server's settings from the config document's `feedback` and
 * `feature_requests` sections (config_feedback.c). */
#ifndef TLM_SERVER_CONFIG_FEEDBACK_H
#define TLM_SERVER_CONFIG_FEEDBACK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct tlm__categories;

struct tlm__feedback_config {
    struct tlm__categories *categories; /* NULL: the default set */
    char *webhook_url; /* NULL: no webhook */
    char *webhook_secret; /* required with webhook_url */
    unsigned webhook_max_attempts; /* 8 */
    unsigned webhook_base_delay_ms; /* 0: the module's default (1 s) */
    double negative_threshold; /* -0.5: at or below is strongly negative */
    bool sentiment_enabled; /* true */
    bool categorization_enabled; /* true */
    bool notification_enabled; /* true: a notification per voter */
    bool voting_disabled; /* feature_requests.voting_enabled: false */
};

void tlm__feedback_config_defaults(struct tlm__feedback_config *f);
void tlm__feedback_config_free(struct tlm__feedback_config *f);

/* Applies root's two sections (root: the whole document); path names the
 * file in warnings. Returns 0 or -1 with a message naming the key. */
int tlm__feedback_config_apply(struct tlm__feedback_config *f,
    const cJSON *root, const char *path, char *err, size_t err_size);

#endif
