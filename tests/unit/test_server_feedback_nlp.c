/* Check suites for server/sentiment.c and server/categorize.c: one case per
 * rule, the config format and its errors, and the measured accuracy on the
 * labeled set tests/data/feedback_eval.tsv (printed for all, dev and
 * held-out lines; asserted over all). */
#include "categorize.h"
#include "sentiment.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double
score(const char *text)
{
    double s = tlm__sentiment(text, strlen(text));
    ck_assert_msg(s >= -1 && s <= 1, "%s: %f out of range", text, s);
    return s;
}

static enum tlm__sentiment_class
cls(const char *text)
{
    return tlm__sentiment_classify(score(text));
}

#define ASSERT_CLASS(text, want)                                               \
    ck_assert_msg(cls(text) == (want), "\"%s\": %f is %s, want %s", text,      \
        score(text), tlm__sentiment_class_name(cls(text)),                     \
        tlm__sentiment_class_name(want))
#define POS TLM__SENTIMENT_CLASS_POSITIVE
#define NEU TLM__SENTIMENT_CLASS_NEUTRAL
#define NEG TLM__SENTIMENT_CLASS_NEGATIVE

/* --- sentiment ----------------------------------------------------------- */

START_TEST(sentiment_empty_is_zero)
{
    ck_assert(tlm__sentiment(NULL, 0) == 0);
    ck_assert(tlm__sentiment(NULL, 10) == 0);
    ck_assert(tlm__sentiment("great", 0) == 0);
    ck_assert(score("") == 0);
    ck_assert(score("   \n\t ") == 0);
    ck_assert(score("...!!!???") == 0);
    ck_assert(score("The server runs version 2.4.1 on Debian.") == 0);
    ck_assert_int_eq(tlm__sentiment_classify(0), NEU);
}
END_TEST

START_TEST(sentiment_lexicon_well_formed)
{
    ck_assert_uint_eq(tlm__sentiment_selfcheck(), 0);
}
END_TEST

START_TEST(sentiment_classify_thresholds)
{
    ck_assert(TLM__SENTIMENT_POSITIVE > 0 && TLM__SENTIMENT_NEGATIVE < 0);
    ck_assert_int_eq(tlm__sentiment_classify(TLM__SENTIMENT_POSITIVE), NEU);
    ck_assert_int_eq(tlm__sentiment_classify(TLM__SENTIMENT_NEGATIVE), NEU);
    ck_assert_int_eq(tlm__sentiment_classify(0.0501), POS);
    ck_assert_int_eq(tlm__sentiment_classify(-0.0501), NEG);
    ck_assert_int_eq(tlm__sentiment_classify(1), POS);
    ck_assert_int_eq(tlm__sentiment_classify(-1), NEG);
    ck_assert_str_eq(tlm__sentiment_class_name(POS), "positive");
    ck_assert_str_eq(tlm__sentiment_class_name(NEU), "neutral");
    ck_assert_str_eq(tlm__sentiment_class_name(NEG), "negative");
}
END_TEST

START_TEST(sentiment_developer_words)
{
    static const char *const neg[] = {"slow", "timeout", "timeouts", "flaky",
        "crash", "crashes", "breaking", "broken", "regression", "429", "500",
        "503", "leak", "deprecated", "confusing", "unclear"};
    static const char *const pos[] = {"love", "great", "finally", "fast",
        "smooth", "easy", "clear", "works", "thanks", "helpful"};
    char buf[64];
    size_t i;

    for (i = 0; i < sizeof(neg) / sizeof(neg[0]); i++) {
        snprintf(buf, sizeof(buf), "The client: %s.", neg[i]);
        ASSERT_CLASS(buf, NEG);
    }
    for (i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
        snprintf(buf, sizeof(buf), "The client: %s.", pos[i]);
        ASSERT_CLASS(buf, POS);
    }
    /* Stems: the inflected forms carry the same opinion. */
    ASSERT_CLASS("It crashed twice and keeps crashing", NEG);
    ASSERT_CLASS("We appreciate it", POS);
}
END_TEST

START_TEST(sentiment_negation_flips_and_dampens)
{
    ASSERT_CLASS("The SDK is fast", POS);
    ASSERT_CLASS("The SDK is not fast", NEG);
    ASSERT_CLASS("The SDK isn't fast", NEG);
    ASSERT_CLASS("The SDK is never fast", NEG);
    ASSERT_CLASS("The SDK is slow", NEG);
    ASSERT_CLASS("The SDK is not slow", POS);
    ASSERT_CLASS("It runs without crashes", POS);
    ASSERT_CLASS("No more timeouts since 2.4", POS);
    /* Flipped, and weaker than the plain word. */
    ck_assert(fabs(score("not great")) < fabs(score("great")));
    /* Within three words... */
    ASSERT_CLASS("The SDK is not really that slow", POS);
    /* ...but not beyond, nor across a comma. */
    ASSERT_CLASS("Not what I expected from the docs: slow", NEG);
    ASSERT_CLASS("No, it is slow", NEG);
    /* A negation of no opinion word still tells of a problem. */
    ASSERT_CLASS("The example doesn't compile", NEG);
}
END_TEST

START_TEST(sentiment_phrases)
{
    ASSERT_CLASS("no problems", POS);
    ASSERT_CLASS("No issues so far with the new SDK", POS);
    ASSERT_CLASS("The retry logic works as expected", POS);
    ASSERT_CLASS("not bad", POS);
    ASSERT_CLASS("No complaints from our team", POS);
    ASSERT_CLASS("The batch endpoint does not work", NEG);
    ASSERT_CLASS("The batch endpoint doesn't work", NEG);
    /* U+2019 as the apostrophe reads the same. */
    ck_assert(score("It doesn\xe2\x80\x99t work") == score("It doesn't work"));
    /* Wishes are not opinions. */
    ASSERT_CLASS("It would be nice to have a CSV export", NEU);
}
END_TEST

START_TEST(sentiment_intensifiers)
{
    ck_assert(score("very slow") < score("slow"));
    ck_assert(score("really slow") < score("slow"));
    ck_assert(score("extremely helpful") > score("helpful"));
    ck_assert(score("super fast") > score("fast"));
    ck_assert(score("slightly slow") > score("slow"));
    ck_assert(score("slightly slow") < 0);
    ck_assert(score("a bit slow") > score("slow"));
    ck_assert(score("a bit slow") < 0);
}
END_TEST

START_TEST(sentiment_contrast_weighs_second_clause)
{
    ASSERT_CLASS("The docs are great but the SDK is slow", NEG);
    ASSERT_CLASS("The SDK is slow but the docs are great", POS);
    ASSERT_CLASS("The docs are great, however the SDK is slow", NEG);
    ASSERT_CLASS("The SDK is slow. But the docs are great.", POS);
    /* Without the contrast, the two cancel out to about the same. */
    ck_assert(score("The docs are great but the SDK is slow")
        < score("The docs are great and the SDK is slow"));
}
END_TEST

START_TEST(sentiment_emphasis)
{
    ck_assert(score("Great!!!") > score("Great!"));
    ck_assert(score("Great!") > score("Great."));
    ck_assert(score("Slow!!") < score("Slow."));
    /* Capitals emphasise in a text that also has lowercase... */
    ck_assert(score("The sdk is SLOW") < score("The sdk is slow"));
    /* ...but an acronym carries no opinion of its own. */
    ck_assert(score("THE API") == 0);
    ck_assert(score("THE SDK IS SLOW") == score("the sdk is slow"));
}
END_TEST

START_TEST(sentiment_questions_are_dampened)
{
    ck_assert(fabs(score("Is the export slow?"))
        < fabs(score("The export is slow.")));
    ASSERT_CLASS("Which version fixed the crash?", NEU);
}
END_TEST

static uint32_t
lcg(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

START_TEST(sentiment_any_bytes_stay_in_range)
{
    static const char *const words[] = {"great", "not", "slow", "very", "but",
        "!", "?", ".", ",", "\xff", "\xe2\x80", "\xe2\x80\x99", "CRASH",
        "no problems", "a bit", "doesn't", " ", "\n", "works", "would"};
    char buf[600];
    uint32_t st = 7;
    int round;

    for (round = 0; round < 3000; round++) {
        size_t n = 0, len = lcg(&st) % 500;
        double s;
        while (n < len) {
            if (lcg(&st) % 3 == 0) {
                buf[n++] = (char)(lcg(&st) & 0xff); /* any byte, NUL too */
            } else {
                const char *w = words[lcg(&st) % 20];
                size_t wl = strlen(w);
                if (n + wl > sizeof(buf))
                    break;
                memcpy(buf + n, w, wl);
                n += wl;
            }
        }
        s = tlm__sentiment(buf, n);
        ck_assert(isfinite(s));
        ck_assert(s >= -1 && s <= 1);
    }
}
END_TEST

START_TEST(sentiment_huge_input_is_safe)
{
    size_t n = 4u << 20, i;
    char *big = malloc(n);
    static const char unit[] = "Terrible crash!!! ";
    double s;

    ck_assert_ptr_nonnull(big);
    for (i = 0; i < n; i++)
        big[i] = unit[i % (sizeof(unit) - 1)];
    s = tlm__sentiment(big, n);
    ck_assert(s >= -1 && s < -0.9);
    /* One endless sentence, one endless word, invalid UTF-8 throughout. */
    for (i = 0; i < n; i++)
        big[i] = (i % 7 == 0) ? ' ' : 'x';
    ck_assert(tlm__sentiment(big, n) == 0);
    memset(big, 0xff, n);
    ck_assert(tlm__sentiment(big, n) == 0);
    memset(big, 'a', n);
    ck_assert(tlm__sentiment(big, n) == 0);
    free(big);
}
END_TEST

static void *
score_many(void *arg)
{
    double *out = arg;
    int i;
    for (i = 0; i < 2000; i++)
        *out = tlm__sentiment("Great docs, but the SDK is very slow!", 37);
    return NULL;
}

START_TEST(sentiment_threads_agree)
{
    pthread_t t[4];
    double r[4];
    int i;
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, score_many, &r[i]), 0);
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert(r[i] == r[0]);
    }
    ck_assert(r[0] < 0);
}
END_TEST

/* --- categorize ---------------------------------------------------------- */

static const char *
cat_of(const struct tlm__categories *c, const char *text)
{
    double conf = -1;
    const char *name = tlm__categorize(c, text, strlen(text), &conf);
    ck_assert(conf >= 0 && conf <= 1);
    return name;
}

START_TEST(categorize_default_set)
{
    static const char *const names[]
        = {"bug", "performance", "documentation", "authentication", "billing",
            "sdk", "api-design", "feature-request", "other"};
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"The client crashes with a segfault on close", "bug"},
        {"Latency doubled and we see timeouts under load", "performance"},
        {"The getting started guide in the docs is outdated", "documentation"},
        {"Every request returns 401 Unauthorized with my API key",
            "authentication"},
        {"We were charged twice, please send a refund for the invoice",
            "billing"},
        {"pip install fails for the Python binding on Windows", "sdk"},
        {"Pagination and field naming are inconsistent across endpoints",
            "api-design"},
        {"Please add support for exporting to BigQuery", "feature-request"},
        {"Do you have an office in Europe?", "other"},
    };
    struct tlm__categories *c = tlm__categories_default();
    size_t i;

    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(tlm__categories_count(c), 9);
    for (i = 0; i < 9; i++) {
        ck_assert_str_eq(tlm__categories_name(c, i), names[i]);
        ck_assert(tlm__categories_has(c, names[i]));
    }
    ck_assert_ptr_null(tlm__categories_name(c, 9));
    ck_assert(!tlm__categories_has(c, "Bug"));
    ck_assert(!tlm__categories_has(c, "security"));
    ck_assert(!tlm__categories_has(c, NULL));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(strcmp(cat_of(c, cases[i].text), cases[i].want) == 0,
            "\"%s\": %s, want %s", cases[i].text, cat_of(c, cases[i].text),
            cases[i].want);
    tlm__categories_free(c);
}
END_TEST

START_TEST(categorize_other_when_nothing_scores)
{
    struct tlm__categories *c = tlm__categories_default();
    double conf = -1;

    ck_assert_str_eq(tlm__categorize(c, "Hello there", 11, &conf), "other");
    ck_assert(conf == 0);
    ck_assert_str_eq(tlm__categorize(c, "", 0, &conf), "other");
    ck_assert_str_eq(tlm__categorize(c, NULL, 5, NULL), "other");
    ck_assert_str_eq(tlm__categorize(NULL, "crash", 5, &conf), "other");
    ck_assert(conf == 0);
    ck_assert_uint_eq(tlm__categories_count(NULL), 0);
    ck_assert_ptr_null(tlm__categories_name(NULL, 0));
    ck_assert(!tlm__categories_has(NULL, "other"));
    tlm__categories_free(NULL);
    tlm__categories_free(c);
}
END_TEST

START_TEST(categorize_words_stems_and_case)
{
    static const char strong_text[] = "a bug: it crashes with a segfault, "
                                      "a regression";
    struct tlm__categories *c = tlm__categories_default();
    double weak, strong;

    /* Stems and case. */
    ck_assert_str_eq(cat_of(c, "It CRASHED"), "bug");
    ck_assert_str_eq(cat_of(c, "crashes, crashing"), "bug");
    ck_assert_str_eq(cat_of(c, "The DOCS"), "documentation");
    /* Whole words: "keyboard" is not "key", "debugger" not "bug". */
    ck_assert_str_eq(cat_of(c, "keyboard shortcuts"), "other");
    ck_assert_str_eq(cat_of(c, "a rebuggable thing"), "other");
    /* Punctuation separates words: "api-key" is the phrase "api key". */
    ck_assert_str_eq(cat_of(c, "my api-key"), "authentication");
    /* "50ms" is "50" "ms". */
    ck_assert_str_eq(cat_of(c, "it takes 900ms"), "performance");
    /* More evidence, more confidence. */
    ck_assert_str_eq(cat_of(c, "the bug"), "bug");
    tlm__categorize(c, "the bug", strlen("the bug"), &weak);
    tlm__categorize(c, strong_text, strlen(strong_text), &strong);
    ck_assert(weak > 0 && strong > weak && strong <= 1);
    tlm__categories_free(c);
}
END_TEST

START_TEST(categorize_any_bytes)
{
    struct tlm__categories *c = tlm__categories_default();
    size_t n = 1u << 20, i;
    char *big = malloc(n);
    uint32_t st = 3;

    ck_assert_ptr_nonnull(big);
    for (i = 0; i < n; i++)
        big[i] = (char)(lcg(&st) & 0xff);
    ck_assert_ptr_nonnull(cat_of(c, "\xff\xfe crash \xc3"));
    ck_assert_ptr_nonnull(tlm__categorize(c, big, n, NULL));
    memset(big, 'a', n);
    ck_assert_str_eq(tlm__categorize(c, big, n, NULL), "other");
    free(big);
    tlm__categories_free(c);
}
END_TEST

static struct tlm__categories *
from_json(const char *doc, char *err, size_t n)
{
    cJSON *node = cJSON_Parse(doc);
    struct tlm__categories *c = (struct tlm__categories *)1;
    int rc;

    ck_assert_ptr_nonnull(node);
    err[0] = '\0';
    rc = tlm__categories_from_json(node, &c, err, n);
    cJSON_Delete(node);
    ck_assert_int_eq(rc, c != NULL ? 0 : -1);
    return c;
}

START_TEST(categorize_config_array)
{
    char err[256];
    struct tlm__categories *c = from_json("[\"bug\", \"billing\"]", err, 256);

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(tlm__categories_count(c), 3);
    ck_assert_str_eq(tlm__categories_name(c, 0), "bug");
    ck_assert_str_eq(tlm__categories_name(c, 1), "billing");
    ck_assert_str_eq(tlm__categories_name(c, 2), "other");
    ck_assert_str_eq(cat_of(c, "refund my invoice"), "billing");
    ck_assert_str_eq(cat_of(c, "the docs are outdated"), "other");
    ck_assert(!tlm__categories_has(c, "documentation"));
    tlm__categories_free(c);

    /* "other" listed keeps its place and its built-in keywords. */
    c = from_json("[\"other\", \"sdk\"]", err, 256);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(tlm__categories_count(c), 2);
    ck_assert_str_eq(tlm__categories_name(c, 0), "other");
    ck_assert_str_eq(cat_of(c, "your support team"), "other");
    tlm__categories_free(c);
}
END_TEST

START_TEST(categorize_config_object)
{
    char err[256];
    struct tlm__categories *c = from_json(
        "{\"billing\": {},"
        " \"compliance\": {\"keywords\": {\"GDPR\": 3, \"data retention\": 2,"
        "   \"audit*\": 1.5}},"
        " \"bug\": {\"keywords\": {\"wrong total\": 4}}}",
        err, 256);

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(tlm__categories_count(c), 4);
    ck_assert_str_eq(tlm__categories_name(c, 1), "compliance");
    ck_assert_str_eq(tlm__categories_name(c, 3), "other");
    ck_assert_str_eq(cat_of(c, "Is the export GDPR compliant?"), "compliance");
    ck_assert_str_eq(cat_of(c, "the auditors asked"), "compliance");
    ck_assert_str_eq(cat_of(c, "what data-retention applies"), "compliance");
    ck_assert_str_eq(cat_of(c, "the invoice pricing"), "billing");
    /* Configured keywords replace the built-in ones. */
    ck_assert_str_eq(cat_of(c, "The WRONG total!"), "bug");
    ck_assert_str_eq(cat_of(c, "it crashes"), "other");
    tlm__categories_free(c);
}
END_TEST

START_TEST(categorize_config_errors)
{
    static const struct {
        const char *doc, *msg;
    } cases[] = {
        {"\"bug\"", "config: feedback.categories: expected an array of"},
        {"[]", "feedback.categories: expected 1..63 categories"},
        {"{}", "feedback.categories: expected 1..63 categories"},
        {"[\"bug\", 3]", "feedback.categories[1]: expected a category name"},
        {"[\"Bug\"]", "feedback.categories[0]: expected a category name"},
        {"[\"security\"]",
            "feedback.categories[0]: \"security\" is not a built-in"},
        {"[\"bug\", \"bug\"]",
            "feedback.categories[1]: duplicate category \"bug\""},
        {"{\"bug\": true}",
            "feedback.categories.bug: expected an object {\"keywords\""},
        {"{\"bug\": {\"words\": {}}}",
            "feedback.categories.bug.words: unknown key (expected keywords)"},
        {"{\"security\": {}}",
            "feedback.categories.security.keywords: required for a category "
            "that is not built in"},
        {"{\"billing\": {\"keywords\": [\"invoice\"]}}",
            "feedback.categories.billing.keywords: expected an object of "
            "numbers"},
        {"{\"billing\": {\"keywords\": {\"invoice\": \"high\"}}}",
            "feedback.categories.billing.keywords: expected an object of "
            "numbers"},
        {"{\"billing\": {\"keywords\": {}}}",
            "feedback.categories.billing.keywords: expected 1..256 keywords"},
        {"{\"billing\": {\"keywords\": {\"invoice\": 0}}}",
            "feedback.categories.billing.keywords.\"invoice\": expected a "
            "weight in (0, 100]"},
        {"{\"billing\": {\"keywords\": {\"invoice\": 101}}}",
            "feedback.categories.billing.keywords.\"invoice\": expected a "
            "weight"},
        {"{\"billing\": {\"keywords\": {\"a b c d e\": 1}}}",
            "feedback.categories.billing.keywords.\"a b c d e\": expected 1..4 "
            "words"},
        {"{\"billing\": {\"keywords\": {\"***\": 1}}}",
            "feedback.categories.billing.keywords.\"***\": expected 1..4"},
        {"{\"billing\": {\"keywords\": {\"\": 1}}}",
            "feedback.categories.billing.keywords.\"\": expected 1..4"},
        {"{\"billing\": {\"keywords\": {\"crash *\": 1}}}",
            "feedback.categories.billing.keywords.\"crash *\": expected"},
        {"{\"billing\": {\"keywords\": "
         "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}}}",
            "feedback.categories.billing.keywords.\"aaaa"},
        {"{\"Billing Team\": {}}",
            "feedback.categories.\"Billing Team\": expected a category name"},
    };
    char err[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tlm__categories *c = from_json(cases[i].doc, err, sizeof(err));
        ck_assert_msg(c == NULL, "%s: accepted", cases[i].doc);
        ck_assert_msg(strstr(err, cases[i].msg) != NULL,
            "%s: error \"%s\" lacks \"%s\"", cases[i].doc, err, cases[i].msg);
        ck_assert_msg(strncmp(err, "config: ", 8) == 0, "%s", err);
    }
}
END_TEST

START_TEST(categorize_config_limits)
{
    char err[256];
    struct tlm__categories *c;
    cJSON *doc = cJSON_CreateObject(), *kw = cJSON_CreateObject(), *cat;
    char name[32];
    int i;

    /* 256 keywords fit, 257 do not. */
    for (i = 0; i < 256; i++) {
        snprintf(name, sizeof(name), "word%d", i);
        cJSON_AddNumberToObject(kw, name, 1);
    }
    cat = cJSON_AddObjectToObject(doc, "many");
    cJSON_AddItemToObject(cat, "keywords", kw);
    ck_assert_int_eq(tlm__categories_from_json(doc, &c, err, 256), 0);
    ck_assert_str_eq(cat_of(c, "see word255"), "many");
    tlm__categories_free(c);
    cJSON_AddNumberToObject(kw, "one more", 1);
    ck_assert_int_eq(tlm__categories_from_json(doc, &c, err, 256), -1);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err, "many.keywords: expected 1..256"));
    cJSON_Delete(doc);

    /* 63 categories fit (with "other": 64), 64 do not. */
    doc = cJSON_CreateObject();
    for (i = 0; i < 63; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        kw = cJSON_AddObjectToObject(
            cJSON_AddObjectToObject(doc, name), "keywords");
        cJSON_AddNumberToObject(kw, name, 1);
    }
    ck_assert_int_eq(tlm__categories_from_json(doc, &c, err, 256), 0);
    ck_assert_uint_eq(tlm__categories_count(c), 64);
    ck_assert_str_eq(cat_of(c, "about c62"), "c62");
    tlm__categories_free(c);
    cJSON_AddObjectToObject(doc, "c63");
    ck_assert_int_eq(tlm__categories_from_json(doc, &c, err, 256), -1);
    ck_assert_ptr_nonnull(strstr(err, "expected 1..63 categories"));
    cJSON_Delete(doc);
}
END_TEST

/* --- evaluation ---------------------------------------------------------- */

enum { SPLIT_ALL, SPLIT_DEV, SPLIT_HELD, N_SPLITS };

struct tally {
    size_t n, cat_ok;
    size_t confusion[3][3]; /* [label][predicted]: negative, neutral, pos */
};

static int
class_index(const char *label)
{
    if (strcmp(label, "negative") == 0)
        return 0;
    if (strcmp(label, "neutral") == 0)
        return 1;
    return strcmp(label, "positive") == 0 ? 2 : -1;
}

static FILE *
open_eval(void)
{
    const char *dir = getenv("TLM_TEST_DATA");
    const char *slash = strrchr(__FILE__, '/');
    char path[4096];
    FILE *f;

    if (dir != NULL) {
        snprintf(path, sizeof(path), "%s/feedback_eval.tsv", dir);
        return fopen(path, "r");
    }
    snprintf(path, sizeof(path), "%.*s/../data/feedback_eval.tsv",
        slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    f = fopen(path, "r");
    return f ? f : fopen("tests/data/feedback_eval.tsv", "r");
}

static double
sentiment_accuracy(const struct tally *t)
{
    return t->n
        ? (double)(t->confusion[0][0] + t->confusion[1][1] + t->confusion[2][2])
            / (double)t->n
        : 0;
}

static void
report(const char *name, const struct tally *t)
{
    static const char *const names[3] = {"negative", "neutral", "positive"};
    int k, j;

    printf("feedback_eval %s: n=%zu sentiment accuracy %.3f, category "
           "accuracy %.3f\n",
        name, t->n, sentiment_accuracy(t),
        t->n ? (double)t->cat_ok / (double)t->n : 0);
    for (k = 0; k < 3; k++) {
        size_t tp = t->confusion[k][k], col = 0, row = 0;
        double p, r;
        for (j = 0; j < 3; j++) {
            col += t->confusion[j][k];
            row += t->confusion[k][j];
        }
        p = col ? (double)tp / (double)col : 0;
        r = row ? (double)tp / (double)row : 0;
        printf("  %-8s precision %.3f recall %.3f F1 %.3f (n=%zu; predicted "
               "neg/neu/pos %zu/%zu/%zu)\n",
            names[k], p, r, p + r > 0 ? 2 * p * r / (p + r) : 0, row,
            t->confusion[k][0], t->confusion[k][1], t->confusion[k][2]);
    }
}

START_TEST(feedback_eval_accuracy)
{
    static char line[8192];
    struct tlm__categories *c = tlm__categories_default();
    struct tally t[N_SPLITS];
    size_t per_class[3] = {0};
    int split = SPLIT_DEV;
    FILE *f = open_eval();

    ck_assert_msg(f != NULL,
        "tests/data/feedback_eval.tsv not found (set TLM_TEST_DATA)");
    memset(t, 0, sizeof(t));
    while (fgets(line, sizeof(line), f) != NULL) {
        char *cat, *text;
        const char *got_cat;
        int label, got;

        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "# held-out") == 0) {
            split = SPLIT_HELD;
            continue;
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        cat = strchr(line, '\t');
        ck_assert_msg(cat != NULL, "no category: %s", line);
        *cat++ = '\0';
        text = strchr(cat, '\t');
        ck_assert_msg(text != NULL, "no text: %s", cat);
        *text++ = '\0';
        label = class_index(line);
        ck_assert_msg(label >= 0, "bad sentiment label %s", line);
        ck_assert_msg(tlm__categories_has(c, cat), "bad category %s", cat);
        got = (int)tlm__sentiment_classify(tlm__sentiment(text, strlen(text)))
            + 1;
        got_cat = tlm__categorize(c, text, strlen(text), NULL);
        per_class[label]++;
        for (int s = 0; s < N_SPLITS; s++) {
            if (s != SPLIT_ALL && s != split)
                continue;
            t[s].n++;
            t[s].confusion[label][got]++;
            t[s].cat_ok += strcmp(got_cat, cat) == 0;
        }
    }
    fclose(f);
    tlm__categories_free(c);
    report("all", &t[SPLIT_ALL]);
    report("dev", &t[SPLIT_DEV]);
    report("held-out", &t[SPLIT_HELD]);
    /* The set itself: large, balanced, with a real held-out part. */
    ck_assert_uint_ge(t[SPLIT_ALL].n, 330);
    ck_assert_uint_ge(t[SPLIT_HELD].n, 110);
    for (int k = 0; k < 3; k++)
        ck_assert_uint_ge(per_class[k], 90);
    ck_assert_msg(sentiment_accuracy(&t[SPLIT_ALL]) >= 0.80,
        "sentiment accuracy %.3f", sentiment_accuracy(&t[SPLIT_ALL]));
    ck_assert_msg((double)t[SPLIT_ALL].cat_ok / (double)t[SPLIT_ALL].n >= 0.70,
        "category accuracy %.3f",
        (double)t[SPLIT_ALL].cat_ok / (double)t[SPLIT_ALL].n);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("server_feedback_nlp");
    TCase *tc = tcase_create("sentiment");
    tcase_add_test(tc, sentiment_empty_is_zero);
    tcase_add_test(tc, sentiment_lexicon_well_formed);
    tcase_add_test(tc, sentiment_classify_thresholds);
    tcase_add_test(tc, sentiment_developer_words);
    tcase_add_test(tc, sentiment_negation_flips_and_dampens);
    tcase_add_test(tc, sentiment_phrases);
    tcase_add_test(tc, sentiment_intensifiers);
    tcase_add_test(tc, sentiment_contrast_weighs_second_clause);
    tcase_add_test(tc, sentiment_emphasis);
    tcase_add_test(tc, sentiment_questions_are_dampened);
    tcase_add_test(tc, sentiment_any_bytes_stay_in_range);
    tcase_add_test(tc, sentiment_huge_input_is_safe);
    tcase_add_test(tc, sentiment_threads_agree);
    suite_add_tcase(s, tc);
    tc = tcase_create("categorize");
    tcase_add_test(tc, categorize_default_set);
    tcase_add_test(tc, categorize_other_when_nothing_scores);
    tcase_add_test(tc, categorize_words_stems_and_case);
    tcase_add_test(tc, categorize_any_bytes);
    tcase_add_test(tc, categorize_config_array);
    tcase_add_test(tc, categorize_config_object);
    tcase_add_test(tc, categorize_config_errors);
    tcase_add_test(tc, categorize_config_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("feedback_eval");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, feedback_eval_accuracy);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
