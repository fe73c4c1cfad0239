/* The storage interface's feedback side: feedback, feature requests with
 * votes, comments and status history, idempotency keys, and the webhook
 * outbox. Types only; the operations are in struct tlm__store_ops
 * (store.h). Every write that has a consequence (an outbox delivery, a
 * notification per voter) makes it in the same transaction, so a crash
 * never leaves one without the other. */
#ifndef TLM_SERVER_STORE_FEEDBACK_H
#define TLM_SERVER_STORE_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLM_FB_ID_MAX 40 /* a UUID and its NUL */
#define TLM_IDEM_KEY_MAX 128

/* A webhook delivery to make, written with what caused it. */
struct tlm__outbox_item {
    char id[TLM_FB_ID_MAX]; /* X-Telemetry-Delivery */
    const char *type; /* "feedback.issue", ... */
    const char *body; /* the JSON document to POST */
    size_t body_len;
};

/* One stored feedback: the indexed columns and the whole answer document. */
struct tlm__feedback_row {
    char id[TLM_FB_ID_MAX];
    const char *organization;
    const char *feedback_type;
    const char *category;
    double sentiment;
    int rating; /* 0: none */
    const char *feature; /* NULL: none */
    const char *endpoint; /* NULL: none */
    const char *environment;
    int64_t created_ms;
    const char *doc; /* JSON object, as GET /feedback/{id} answers */
    size_t doc_len;
};

struct tlm__feedback_query {
    const char *organization; /* NULL: every organization */
    const char *type;
    const char *category;
    const char *feature;
    const char *endpoint;
    const char *environment;
    bool has_min_sentiment, has_max_sentiment;
    double min_sentiment, max_sentiment;
    int64_t from_ms, to_ms; /* 0: open */
    size_t limit;
    int64_t before; /* cursor: rows below it only; 0 = newest */
};

/* Per category, or per target ("feature:NAME" / "endpoint:NAME"). */
struct tlm__feedback_group {
    char *name;
    double count;
    double mean_sentiment;
};

/* Per ISO week (week: the Monday, YYYY-MM-DD) and category. */
struct tlm__feedback_trend {
    char week[11];
    char *category;
    double count;
    double mean_sentiment;
};

struct tlm__feedback_summary {
    double total;
    double mean_sentiment; /* 0 when total is 0 */
    double negative, neutral, positive; /* by the sentiment thresholds */
    struct tlm__feedback_group *categories; /* most first */
    size_t n_categories;
    struct tlm__feedback_group *targets; /* most first, at most 20 */
    size_t n_targets;
    struct tlm__feedback_trend *trends; /* by week, then category */
    size_t n_trends;
    /* Feature requests in the range: created, votes cast, status moves. */
    double requests_new, votes, status_changes;
};

enum tlm__fr_sort {
    TLM_FR_SORT_VOTES,
    TLM_FR_SORT_RECENT,
    TLM_FR_SORT_TRENDING
};

/* A feature request. Strings are malloc'ed (tlm__fr_clear), NULL when
 * absent. */
struct tlm__fr {
    char id[TLM_FB_ID_MAX];
    char *organization;
    char *title;
    char *description;
    char *use_case;
    char *status;
    char *merged_into;
    char *user_id; /* who submitted it */
    int64_t votes;
    int64_t recent_votes; /* the last 7 days (lists only) */
    int64_t comments;
    int64_t created_ms;
    int64_t updated_ms;
};

struct tlm__fr_history {
    char *status;
    char *previous_status; /* NULL for the creation */
    char *reason;
    int64_t at_ms;
};

struct tlm__fr_query {
    const char *organization; /* NULL: every organization */
    enum tlm__fr_sort sort;
    const char *const *statuses; /* NULL: any */
    size_t n_statuses;
    size_t limit;
    int64_t now_ms; /* trending counts votes in [now - 7 days, now] */
    const char *cursor; /* a previous page's next_cursor, or NULL */
};

enum tlm__fr_outcome {
    TLM_FR_OK = 0,
    TLM_FR_NOT_FOUND = 1,
    TLM_FR_CLOSED = 2, /* voting on a completed or declined request */
    TLM_FR_CONFLICT = 3, /* the status was not the expected one */
    TLM_FR_REPLAY = 4, /* the idempotency key was used before */
};

struct tlm__fr_vote_result {
    char id[TLM_FB_ID_MAX]; /* the request voted on (a merge target) */
    char status[24];
    int64_t votes;
    bool voted;
};

/* Builds the notification for one voter of a request whose status
 * changed: a malloc'ed JSON body and its delivery id, or NULL to skip. */
typedef char *(*tlm__notify_fn)(
    void *ctx, const char *user_id, char delivery_id[TLM_FB_ID_MAX]);

struct tlm__fr_status_change {
    const char *id;
    const char *from; /* compare-and-set: TLM_FR_CONFLICT if not current */
    const char *to;
    const char *reason;
    const char *merged_into; /* a merge: set it and move the votes */
    int64_t now_ms;
    bool record_notifications; /* a notifications row per voter */
    tlm__notify_fn notify; /* NULL: no outbox item per voter */
    void *notify_ctx;
};

struct tlm__fr_comment {
    char id[TLM_FB_ID_MAX];
    char *body;
    char *author;
    char *user_id;
    int64_t created_ms;
};

/* A claimed outbox delivery; body malloc'ed. */
struct tlm__outbox_row {
    char id[TLM_FB_ID_MAX];
    char type[48];
    char *body;
    size_t body_len;
    unsigned attempts; /* made before this claim */
};

/* One attempt's outcome, for the delivery log. */
struct tlm__outbox_attempt {
    const char *id;
    unsigned attempt; /* 1-based */
    long http_status; /* 0: no answer */
    const char *error; /* NULL when delivered */
    int64_t at_ms;
    bool delivered;
    bool gave_up;
    int64_t next_attempt_ms;
};

void tlm__fr_clear(struct tlm__fr *r);
void tlm__fr_history_free(struct tlm__fr_history *h, size_t n);
void tlm__fr_comments_free(struct tlm__fr_comment *c, size_t n);
void tlm__feedback_summary_free(struct tlm__feedback_summary *s);
void tlm__outbox_rows_free(struct tlm__outbox_row *r, size_t n);

/* A status name's index in the workflow, or -1. */
int tlm__fr_status_index(const char *status);
extern const char *const tlm__fr_statuses[6];

#endif
