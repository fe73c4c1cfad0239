/* Sentiment of developer feedback text: a lexicon and rules tuned for
 * comments about an API and its SDKs (see docs/feedback-processing.md).
 * Pure functions: no global state, no allocation, safe from any thread. */
#ifndef TLM_SERVER_SENTIMENT_H
#define TLM_SERVER_SENTIMENT_H

#include <stddef.h>

/* A score above TLM__SENTIMENT_POSITIVE is positive, below
 * TLM__SENTIMENT_NEGATIVE negative, anything between (bounds included)
 * neutral. */
#define TLM__SENTIMENT_POSITIVE 0.05
#define TLM__SENTIMENT_NEGATIVE (-0.05)

enum tlm__sentiment_class {
    TLM__SENTIMENT_CLASS_NEGATIVE = -1,
    TLM__SENTIMENT_CLASS_NEUTRAL = 0,
    TLM__SENTIMENT_CLASS_POSITIVE = 1,
};

/* The sentiment of text[0..len) in [-1, 1]: -1 very negative, 0 neutral
 * (also for NULL, empty text or text without any opinion word), 1 very
 * positive. Any bytes are accepted (invalid UTF-8 and NULs included); runs
 * in O(len) with a bounded stack buffer and never allocates. Thread-safe. */
double tlm__sentiment(const char *text, size_t len);

/* The class of a score, by the two thresholds above. */
enum tlm__sentiment_class tlm__sentiment_classify(double score);

/* "positive", "neutral" or "negative" (static strings). */
const char *tlm__sentiment_class_name(enum tlm__sentiment_class c);

/* For the tests: 0 when the built-in lexicon tables are well formed
 * (sorted, lowercase, within the token size), else the 1-based index of
 * the first bad entry. */
size_t tlm__sentiment_selfcheck(void);

#endif
