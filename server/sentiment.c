/* Lexicon-and-rules sentiment for developer feedback (VADER-like, with a
 * vocabulary for APIs and SDKs). Owns only static tables: no global state,
 * no allocation; each call works in one bounded stack buffer (one sentence
 * of at most MAX_TOKENS words at a time). */
#include "sentiment.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Squash constant: score = x / sqrt(x^2 + ALPHA) (VADER's 15). */
#define ALPHA 15.0
#define MAX_WORD 24 /* longer words match nothing */
#define MAX_TOKENS 64 /* a longer sentence is scored in pieces */
#define WINDOW 3 /* words a negation or intensifier reaches */
#define NEGATION_FACTOR (-0.74)
#define DANGLING_NEGATION (-0.4) /* a negation of no opinion word */
#define MODAL_FACTOR 0.1 /* "would be nice": a wish, not an opinion */
#define CAPS_FACTOR 1.5
#define EXCLAIM_STEP 0.2 /* per '!', up to 3 */
#define QUESTION_FACTOR 0.2
#define CONTRAST_BEFORE 0.5
#define CONTRAST_AFTER 1.5

enum kind {
    K_VAL, /* carries valence */
    K_BOOST, /* scales the next opinion word */
    K_NEG, /* flips the next opinion words */
    K_CONTRAST, /* "but": what follows weighs more */
    K_MODAL, /* "would": wishes, not opinions */
    K_LIKE, /* "like": an opinion only after "I", "we", "really"... */
};

struct lex_word {
    const char *w;
    enum kind kind;
    float v;
};

struct lex_stem {
    const char *prefix;
    float v;
};

struct lex_phrase {
    const char *words; /* single spaces */
    float v;
};

static const struct lex_word words[] = {
    {"401", K_VAL, -0.8f},
    {"403", K_VAL, -0.8f},
    {"429", K_VAL, -0.8f},
    {"500", K_VAL, -1.5f},
    {"502", K_VAL, -1.5f},
    {"503", K_VAL, -1.5f},
    {"504", K_VAL, -1.5f},
    {"absolutely", K_BOOST, 0.4f},
    {"absurd", K_VAL, -2.0f},
    {"afraid", K_VAL, -1.0f},
    {"aint", K_NEG, 0.0f},
    {"amazing", K_VAL, 3.0f},
    {"angry", K_VAL, -2.5f},
    {"arent", K_NEG, 0.0f},
    {"awesome", K_VAL, 3.0f},
    {"awful", K_VAL, -3.0f},
    {"awkward", K_VAL, -1.5f},
    {"bad", K_VAL, -2.0f},
    {"barely", K_BOOST, -0.5f},
    {"beautiful", K_VAL, 2.5f},
    {"best", K_VAL, 3.0f},
    {"better", K_VAL, 1.6f},
    {"bit", K_BOOST, -0.3f},
    {"bloated", K_VAL, -1.5f},
    {"blocking", K_VAL, -0.8f},
    {"blocks", K_VAL, -0.8f},
    {"bravo", K_VAL, 2.5f},
    {"break", K_VAL, -1.2f},
    {"breaking", K_VAL, -1.5f},
    {"breaks", K_VAL, -1.5f},
    {"brilliant", K_VAL, 3.0f},
    {"broke", K_VAL, -1.8f},
    {"broken", K_VAL, -2.0f},
    {"brutal", K_VAL, -2.2f},
    {"bug", K_VAL, -0.8f},
    {"buggy", K_VAL, -2.2f},
    {"bugs", K_VAL, -0.8f},
    {"but", K_CONTRAST, 0.0f},
    {"cannot", K_NEG, 0.0f},
    {"cant", K_NEG, 0.0f},
    {"cheers", K_VAL, 1.5f},
    {"clean", K_VAL, 1.5f},
    {"cleaner", K_VAL, 1.5f},
    {"clear", K_VAL, 1.5f},
    {"clearer", K_VAL, 1.5f},
    {"clearly", K_VAL, 1.2f},
    {"clever", K_VAL, 1.8f},
    {"clunky", K_VAL, -1.5f},
    {"cluttered", K_VAL, -1.5f},
    {"complete", K_VAL, 0.8f},
    {"completely", K_BOOST, 0.3f},
    {"complex", K_VAL, -0.5f},
    {"complicated", K_VAL, -1.5f},
    {"consistent", K_VAL, 1.5f},
    {"constantly", K_BOOST, 0.2f},
    {"cool", K_VAL, 1.5f},
    {"could", K_MODAL, 0.0f},
    {"couldnt", K_NEG, 0.0f},
    {"crap", K_VAL, -2.5f},
    {"cumbersome", K_VAL, -1.5f},
    {"denied", K_VAL, -1.2f},
    {"deprecated", K_VAL, -1.0f},
    {"didnt", K_NEG, 0.0f},
    {"difficult", K_VAL, -1.2f},
    {"doesnt", K_NEG, 0.0f},
    {"dont", K_NEG, 0.0f},
    {"doubts", K_VAL, -0.8f},
    {"down", K_VAL, -0.8f},
    {"downhill", K_VAL, -2.0f},
    {"downtime", K_VAL, -1.2f},
    {"easier", K_VAL, 1.6f},
    {"easily", K_VAL, 1.5f},
    {"easy", K_VAL, 1.9f},
    {"efficient", K_VAL, 1.8f},
    {"elegant", K_VAL, 2.2f},
    {"error", K_VAL, -0.6f},
    {"errors", K_VAL, -0.8f},
    {"especially", K_BOOST, 0.2f},
    {"excellent", K_VAL, 3.2f},
    {"exceptionally", K_BOOST, 0.4f},
    {"expensive", K_VAL, -1.5f},
    {"expired", K_VAL, -0.8f},
    {"extremely", K_BOOST, 0.5f},
    {"fair", K_VAL, 1.5f},
    {"fairly", K_BOOST, -0.2f},
    {"fantastic", K_VAL, 3.2f},
    {"fast", K_VAL, 1.8f},
    {"faster", K_VAL, 1.5f},
    {"fastest", K_VAL, 2.0f},
    {"favorite", K_VAL, 2.0f},
    {"favourite", K_VAL, 2.0f},
    {"feared", K_VAL, -1.0f},
    {"finally", K_VAL, 1.0f},
    {"fine", K_VAL, 0.8f},
    {"fixed", K_VAL, 1.2f},
    {"flakey", K_VAL, -2.0f},
    {"flaky", K_VAL, -2.0f},
    {"flexible", K_VAL, 1.5f},
    {"forbidden", K_VAL, -1.0f},
    {"forever", K_VAL, -1.0f},
    {"fun", K_VAL, 1.8f},
    {"furious", K_VAL, -3.0f},
    {"garbage", K_VAL, -2.5f},
    {"generous", K_VAL, 2.2f},
    {"glad", K_VAL, 2.2f},
    {"good", K_VAL, 1.9f},
    {"great", K_VAL, 3.0f},
    {"hadnt", K_NEG, 0.0f},
    {"handy", K_VAL, 1.8f},
    {"happy", K_VAL, 2.7f},
    {"hard", K_VAL, -1.0f},
    {"hardly", K_NEG, 0.0f},
    {"hasnt", K_NEG, 0.0f},
    {"hate", K_VAL, -3.0f},
    {"hated", K_VAL, -3.0f},
    {"havent", K_NEG, 0.0f},
    {"heavy", K_VAL, -0.8f},
    {"helped", K_VAL, 1.2f},
    {"helpful", K_VAL, 2.2f},
    {"helps", K_VAL, 1.0f},
    {"hesitant", K_VAL, -0.8f},
    {"hidden", K_VAL, -0.8f},
    {"highly", K_BOOST, 0.3f},
    {"hope", K_MODAL, 0.0f},
    {"horrible", K_VAL, -3.0f},
    {"however", K_CONTRAST, 0.0f},
    {"huge", K_BOOST, 0.3f},
    {"idiomatic", K_VAL, 1.5f},
    {"if", K_MODAL, 0.0f},
    {"impossible", K_VAL, -1.8f},
    {"improved", K_VAL, 1.8f},
    {"improvement", K_VAL, 1.8f},
    {"improvements", K_VAL, 1.8f},
    {"incomplete", K_VAL, -1.5f},
    {"inconsistent", K_VAL, -1.8f},
    {"incorrect", K_VAL, -1.5f},
    {"incredible", K_VAL, 2.5f},
    {"incredibly", K_BOOST, 0.5f},
    {"insanely", K_BOOST, 0.4f},
    {"inspiring", K_VAL, 2.2f},
    {"intuitive", K_VAL, 2.0f},
    {"isnt", K_NEG, 0.0f},
    {"issues", K_VAL, -0.6f},
    {"junk", K_VAL, -2.2f},
    {"kinda", K_BOOST, -0.3f},
    {"kudos", K_VAL, 2.5f},
    {"lack", K_VAL, -1.2f},
    {"lacking", K_VAL, -1.2f},
    {"lacks", K_VAL, -1.2f},
    {"lag", K_VAL, -1.2f},
    {"laggy", K_VAL, -1.5f},
    {"lightweight", K_VAL, 1.5f},
    {"like", K_LIKE, 1.8f},
    {"likes", K_LIKE, 1.8f},
    {"little", K_BOOST, -0.3f},
    {"locked", K_VAL, -1.0f},
    {"lose", K_VAL, -1.0f},
    {"loses", K_VAL, -1.0f},
    {"losing", K_VAL, -1.0f},
    {"lost", K_VAL, -1.2f},
    {"love", K_VAL, 3.0f},
    {"loved", K_VAL, 3.0f},
    {"lovely", K_VAL, 2.8f},
    {"loving", K_VAL, 2.8f},
    {"marginally", K_BOOST, -0.3f},
    {"mess", K_VAL, -2.0f},
    {"messy", K_VAL, -2.0f},
    {"misleading", K_VAL, -2.0f},
    {"missing", K_VAL, -1.2f},
    {"mostly", K_BOOST, -0.2f},
    {"much", K_BOOST, 0.2f},
    {"natural", K_VAL, 1.2f},
    {"neat", K_VAL, 2.0f},
    {"neither", K_NEG, 0.0f},
    {"never", K_NEG, 0.0f},
    {"nice", K_VAL, 1.8f},
    {"nightmare", K_VAL, -2.5f},
    {"no", K_NEG, 0.0f},
    {"nobody", K_VAL, -1.0f},
    {"none", K_NEG, 0.0f},
    {"nor", K_NEG, 0.0f},
    {"not", K_NEG, 0.0f},
    {"nothing", K_NEG, 0.0f},
    {"obsolete", K_VAL, -1.2f},
    {"occasionally", K_BOOST, -0.2f},
    {"ok", K_VAL, 0.5f},
    {"okay", K_VAL, 0.5f},
    {"outage", K_VAL, -2.0f},
    {"outages", K_VAL, -2.0f},
    {"outdated", K_VAL, -1.5f},
    {"outstanding", K_VAL, 3.0f},
    {"overpriced", K_VAL, -2.2f},
    {"pain", K_VAL, -1.5f},
    {"painful", K_VAL, -2.0f},
    {"painfully", K_BOOST, 0.4f},
    {"painless", K_VAL, 2.0f},
    {"particularly", K_BOOST, 0.2f},
    {"partly", K_BOOST, -0.3f},
    {"pleasant", K_VAL, 2.2f},
    {"pleased", K_VAL, 2.2f},
    {"poor", K_VAL, -2.0f},
    {"poorly", K_VAL, -2.0f},
    {"powerful", K_VAL, 1.8f},
    {"predictable", K_VAL, 1.5f},
    {"pretty", K_BOOST, 0.1f},
    {"pricey", K_VAL, -1.0f},
    {"problem", K_VAL, -1.2f},
    {"problems", K_VAL, -1.2f},
    {"quick", K_VAL, 1.5f},
    {"quickly", K_VAL, 1.2f},
    {"quite", K_BOOST, 0.1f},
    {"rather", K_BOOST, -0.1f},
    {"really", K_BOOST, 0.3f},
    {"recommend", K_VAL, 1.5f},
    {"redundant", K_VAL, -1.0f},
    {"rejected", K_VAL, -1.0f},
    {"rejects", K_VAL, -1.0f},
    {"reliable", K_VAL, 2.0f},
    {"remarkably", K_BOOST, 0.3f},
    {"resolved", K_VAL, 1.5f},
    {"responsive", K_VAL, 1.5f},
    {"ridiculous", K_VAL, -2.2f},
    {"ridiculously", K_BOOST, 0.4f},
    {"robust", K_VAL, 1.8f},
    {"sad", K_VAL, -1.8f},
    {"sadly", K_VAL, -1.5f},
    {"safe", K_VAL, 1.0f},
    {"saved", K_VAL, 1.2f},
    {"saves", K_VAL, 1.2f},
    {"seamless", K_VAL, 2.2f},
    {"seamlessly", K_VAL, 2.0f},
    {"seriously", K_BOOST, 0.3f},
    {"shame", K_VAL, -1.8f},
    {"shouldnt", K_NEG, 0.0f},
    {"silently", K_VAL, -0.8f},
    {"simple", K_VAL, 1.2f},
    {"simpler", K_VAL, 1.2f},
    {"skeptical", K_VAL, -1.0f},
    {"slightly", K_BOOST, -0.3f},
    {"sluggish", K_VAL, -1.8f},
    {"smooth", K_VAL, 2.0f},
    {"smoothly", K_VAL, 2.0f},
    {"snappy", K_VAL, 2.0f},
    {"so", K_BOOST, 0.2f},
    {"solid", K_VAL, 1.8f},
    {"solved", K_VAL, 1.8f},
    {"solves", K_VAL, 1.5f},
    {"sometimes", K_BOOST, -0.2f},
    {"somewhat", K_BOOST, -0.3f},
    {"speedy", K_VAL, 1.8f},
    {"stable", K_VAL, 1.5f},
    {"strange", K_VAL, -0.8f},
    {"stuck", K_VAL, -1.5f},
    {"such", K_BOOST, 0.2f},
    {"sucks", K_VAL, -2.5f},
    {"super", K_BOOST, 0.4f},
    {"superb", K_VAL, 3.0f},
    {"suspended", K_VAL, -1.2f},
    {"tedious", K_VAL, -1.5f},
    {"terrible", K_VAL, -3.0f},
    {"terribly", K_BOOST, 0.4f},
    {"thorough", K_VAL, 1.8f},
    {"thx", K_VAL, 2.0f},
    {"tiny", K_VAL, 0.8f},
    {"too", K_BOOST, 0.2f},
    {"totally", K_BOOST, 0.3f},
    {"transparent", K_VAL, 1.2f},
    {"truly", K_BOOST, 0.3f},
    {"unacceptable", K_VAL, -2.5f},
    {"unauthorized", K_VAL, -1.0f},
    {"unclear", K_VAL, -1.6f},
    {"unfair", K_VAL, -1.8f},
    {"unfortunately", K_VAL, -1.5f},
    {"unhappy", K_VAL, -2.2f},
    {"unreliable", K_VAL, -2.0f},
    {"unstable", K_VAL, -2.0f},
    {"unusable", K_VAL, -2.5f},
    {"useful", K_VAL, 1.8f},
    {"useless", K_VAL, -2.5f},
    {"vague", K_VAL, -1.2f},
    {"verbose", K_VAL, -0.8f},
    {"very", K_BOOST, 0.3f},
    {"wasnt", K_NEG, 0.0f},
    {"way", K_BOOST, 0.2f},
    {"weird", K_VAL, -1.0f},
    {"werent", K_NEG, 0.0f},
    {"wish", K_MODAL, 0.0f},
    {"without", K_NEG, 0.0f},
    {"wonderful", K_VAL, 3.0f},
    {"wont", K_NEG, 0.0f},
    {"worked", K_VAL, 0.8f},
    {"works", K_VAL, 1.0f},
    {"worried", K_VAL, -1.2f},
    {"worry", K_VAL, -1.0f},
    {"worse", K_VAL, -2.2f},
    {"worst", K_VAL, -3.0f},
    {"worth", K_VAL, 1.5f},
    {"would", K_MODAL, 0.0f},
    {"wouldnt", K_NEG, 0.0f},
    {"wrong", K_VAL, -1.5f},
};

static const struct lex_stem stems[] = {
    {"annoy", -2.0f},
    {"appreciat", 2.2f},
    {"complain", -1.2f},
    {"confus", -2.0f},
    {"corrupt", -2.0f},
    {"crash", -2.0f},
    {"deadlock", -2.0f},
    {"degrad", -1.5f},
    {"delight", 2.8f},
    {"disappoint", -2.3f},
    {"drop", -1.0f},
    {"duplicat", -0.6f},
    {"enjoy", 2.2f},
    {"fail", -1.8f},
    {"freez", -1.5f},
    {"frustrat", -2.3f},
    {"hang", -1.2f},
    {"impress", 2.5f},
    {"irritat", -2.2f},
    {"leak", -1.8f},
    {"panic", -1.8f},
    {"perfect", 2.8f},
    {"regress", -2.0f},
    {"segfault", -2.5f},
    {"slow", -1.8f},
    {"spam", -1.5f},
    {"spike", -0.8f},
    {"thank", 2.0f},
    {"throttl", -1.0f},
    {"timeout", -1.5f},
    {"wast", -2.0f},
};

static const struct lex_phrase phrases[] = {
    {"no problems", 2.0f},
    {"no problem", 1.5f},
    {"no issues", 2.0f},
    {"no issue", 1.5f},
    {"no complaints", 2.0f},
    {"not bad", 1.5f},
    {"works as expected", 2.0f},
    {"working as expected", 2.0f},
    {"works like a charm", 2.5f},
    {"just works", 2.0f},
    {"rock solid", 2.5f},
    {"well done", 2.5f},
    {"well designed", 2.5f},
    {"well organized", 2.2f},
    {"well documented", 2.5f},
    {"well written", 2.5f},
    {"keep it up", 1.5f},
    {"exactly right", 2.0f},
    {"exactly what", 1.2f},
    {"doesn't work", -2.0f},
    {"doesnt work", -2.0f},
    {"does not work", -2.0f},
    {"don't work", -2.0f},
    {"dont work", -2.0f},
    {"do not work", -2.0f},
    {"didn't work", -2.0f},
    {"did not work", -2.0f},
    {"not working", -2.0f},
    {"stopped working", -2.0f},
    {"no longer works", -2.0f},
    {"gave up", -1.8f},
    {"give up", -1.2f},
    {"no idea", -1.0f},
    {"deal breaker", -2.5f},
    {"out of date", -1.5f},
    {"all over the place", -1.5f},
    {"time out", -1.5f},
    {"times out", -1.5f},
    {"timed out", -1.5f},
};

#define N_WORDS (sizeof(words) / sizeof(words[0]))
#define N_STEMS (sizeof(stems) / sizeof(stems[0]))
#define N_PHRASES (sizeof(phrases) / sizeof(phrases[0]))

struct token {
    char w[MAX_WORD];
    uint8_t len; /* 0: too long, matches nothing */
    bool caps; /* written in capitals: emphasis */
    unsigned clause; /* commas and colons start a new clause */
};

struct sentence {
    struct token t[MAX_TOKENS];
    size_t n;
    unsigned clause;
    int exclaims;
    bool question;
};

static int
cmp_word(const void *key, const void *elem)
{
    return strcmp(key, ((const struct lex_word *)elem)->w);
}

static const struct lex_word *
find_word(const struct token *t)
{
    if (t->len == 0)
        return NULL;
    return bsearch(t->w, words, N_WORDS, sizeof(words[0]), cmp_word);
}

static bool
is_word(const struct token *t, const char *w)
{
    return t->len > 0 && strcmp(t->w, w) == 0;
}

static bool
is_negator(const struct token *t)
{
    const struct lex_word *e = find_word(t);
    if (e != NULL)
        return e->kind == K_NEG;
    return t->len > 3 && strcmp(t->w + t->len - 3, "n't") == 0;
}

/* Valence of a single word (0: none). */
static double
word_valence(const struct sentence *s, size_t i)
{
    const struct token *t = &s->t[i];
    const struct lex_word *e = find_word(t);
    size_t k;

    if (e != NULL) {
        if (e->kind == K_VAL)
            return e->v;
        if (e->kind != K_LIKE || i == 0 || s->t[i - 1].clause != t->clause)
            return 0;
        /* "I like", "we really like", "don't like"; not "looks like". */
        if (is_word(&s->t[i - 1], "i") || is_word(&s->t[i - 1], "we")
            || is_word(&s->t[i - 1], "really") || is_negator(&s->t[i - 1]))
            return e->v;
        return 0;
    }
    if (t->len == 0)
        return 0;
    for (k = 0; k < N_STEMS; k++) {
        size_t pl = strlen(stems[k].prefix);
        if (t->len >= pl && memcmp(t->w, stems[k].prefix, pl) == 0)
            return stems[k].v;
    }
    return 0;
}

/* Length in words of the phrase matching at i (0: none), its valence in
 * *v. Longest phrase wins. */
static size_t
match_phrase(const struct sentence *s, size_t i, double *v)
{
    size_t best = 0, k;

    for (k = 0; k < N_PHRASES; k++) {
        const char *p = phrases[k].words;
        size_t j = i, n = 0;
        while (j < s->n) {
            size_t wl = strcspn(p, " ");
            if (s->t[j].len != wl || memcmp(s->t[j].w, p, wl) != 0)
                break;
            j++;
            n++;
            p += wl;
            if (*p == '\0')
                break;
            p++;
        }
        if (*p == '\0' && n > best) {
            best = n;
            *v = phrases[k].v;
        }
    }
    return best;
}

/* Whether negator i reaches no opinion word: "it doesn't compile", "they
 * never reply" still tell of a problem. */
static bool
dangling(const struct sentence *s, size_t i)
{
    size_t j;
    double v;
    for (j = i + 1; j <= i + WINDOW && j < s->n; j++) {
        if (s->t[j].clause != s->t[i].clause)
            break;
        if (word_valence(s, j) != 0 || match_phrase(s, j, &v) > 0)
            return false;
    }
    return true;
}

/* The modifiers reaching word i from the WINDOW words before it, in the
 * same clause: intensity scale, negation, wish. */
static double
modifiers(const struct sentence *s, size_t i)
{
    static const double decay[WINDOW] = {1.0, 0.95, 0.9};
    double scale = 1.0, factor;
    bool negated = false, modal = false;
    size_t d;

    for (d = 1; d <= WINDOW && d <= i; d++) {
        const struct token *t = &s->t[i - d];
        const struct lex_word *e;
        /* A modifier reaches only the first opinion word after it. */
        if (t->clause != s->t[i].clause || word_valence(s, i - d) != 0)
            break;
        e = find_word(t);
        if (is_negator(t))
            negated = true;
        else if (e != NULL && e->kind == K_BOOST)
            scale += e->v * decay[d - 1];
        else if (e != NULL && e->kind == K_MODAL)
            modal = true;
    }
    factor = scale < 0.1 ? 0.1 : scale;
    if (negated)
        factor *= NEGATION_FACTOR;
    if (modal)
        factor *= MODAL_FACTOR;
    return factor;
}

/* Sum of the opinion words of one sentence; *leading_contrast when it
 * starts with "but"/"however" (the caller weighs the sentences before). */
static double
sentence_sum(
    const struct sentence *s, bool caps_emphasis, bool *leading_contrast)
{
    double sum = 0, weight = 1.0;
    size_t i = 0;

    *leading_contrast = false;
    while (i < s->n) {
        const struct lex_word *e = find_word(&s->t[i]);
        double v = 0;
        size_t span = match_phrase(s, i, &v), k;
        bool caps = false;

        if (span == 0 && e != NULL && e->kind == K_CONTRAST) {
            if (i == 0)
                *leading_contrast = true;
            else {
                sum *= CONTRAST_BEFORE;
                weight = CONTRAST_AFTER;
            }
            i++;
            continue;
        }
        if (span == 0) {
            span = 1;
            v = word_valence(s, i);
            if (v == 0 && is_negator(&s->t[i]) && dangling(s, i))
                v = DANGLING_NEGATION;
        }
        if (v != 0) {
            for (k = i; k < i + span; k++)
                caps = caps || s->t[k].caps;
            v *= modifiers(s, i);
            if (caps && caps_emphasis)
                v *= CAPS_FACTOR;
            sum += v * weight;
        }
        i += span;
    }
    return sum;
}

static bool
is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z');
}

static bool
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Bytes of an apostrophe at p (ASCII ' or U+2019) between two letters,
 * else 0. */
static size_t
apostrophe_at(const unsigned char *p, size_t i, size_t len)
{
    size_t n = 0;
    if (i == 0 || !is_alpha(p[i - 1]))
        return 0;
    if (p[i] == '\'')
        n = 1;
    else if (i + 2 < len && p[i] == 0xE2 && p[i + 1] == 0x80
        && p[i + 2] == 0x99)
        n = 3;
    return n > 0 && i + n < len && is_alpha(p[i + n]) ? n : 0;
}

/* Reads one word starting at p[*i] into t; digits then letters split
 * ("50ms" is "50" "ms"). Non-ASCII bytes belong to words and never match. */
static void
read_word(const unsigned char *p, size_t len, size_t *i, struct token *t)
{
    size_t n = 0, letters = 0, upper = 0;
    bool too_long = false;

    while (*i < len) {
        unsigned char c = p[*i];
        size_t ap = apostrophe_at(p, *i, len);
        if (ap > 0) {
            c = '\'';
            *i += ap - 1;
        } else if (!is_alnum(c) && c < 0x80)
            break;
        else if (n > 0 && is_alpha(c) && t->w[n - 1] >= '0'
            && t->w[n - 1] <= '9')
            break;
        if (is_alpha(c)) {
            letters++;
            if (c <= 'Z')
                upper++;
            c = (unsigned char)(c | 0x20);
        }
        if (n + 1 < MAX_WORD)
            t->w[n++] = (char)c;
        else
            too_long = true;
        (*i)++;
    }
    t->w[n] = '\0';
    t->len = too_long ? 0 : (uint8_t)n;
    t->caps = letters >= 2 && upper == letters;
}

/* Adds the finished sentence to *total and empties it. */
static void
flush_sentence(struct sentence *s, bool caps_emphasis, double *total)
{
    bool leading_contrast;
    double v;
    int ex = s->exclaims > 3 ? 3 : s->exclaims;

    if (s->n > 0) {
        v = sentence_sum(s, caps_emphasis, &leading_contrast);
        v *= 1.0 + EXCLAIM_STEP * ex;
        if (s->question && ex == 0)
            v *= QUESTION_FACTOR;
        if (leading_contrast) {
            *total *= CONTRAST_BEFORE;
            v *= CONTRAST_AFTER;
        }
        *total += v;
    }
    s->n = 0;
    s->clause = 0;
    s->exclaims = 0;
    s->question = false;
}

double
tlm__sentiment(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    struct sentence s;
    double total = 0;
    bool ended = false, caps_emphasis = false;
    size_t i;

    if (text == NULL || len == 0)
        return 0;
    /* Capitals are emphasis only in a text that also has lowercase. */
    for (i = 0; i < len && !caps_emphasis; i++)
        caps_emphasis = p[i] >= 'a' && p[i] <= 'z';
    memset(&s, 0, sizeof(s));
    i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (is_alnum(c) || c >= 0x80) {
            if (ended || s.n == MAX_TOKENS) {
                flush_sentence(&s, caps_emphasis, &total);
                ended = false;
            }
            s.t[s.n].clause = s.clause;
            read_word(p, len, &i, &s.t[s.n]);
            s.n++;
            continue;
        }
        if (c == '!') {
            s.exclaims++;
            ended = true;
        } else if (c == '?') {
            s.question = true;
            ended = true;
        } else if (c == ';' || c == '\n'
            || (c == '.' && (i + 1 == len || !is_alnum(p[i + 1]))))
            ended = true;
        else if (c == ',' || c == ':' || c == '(' || c == ')')
            s.clause++;
        i++;
    }
    flush_sentence(&s, caps_emphasis, &total);
    total /= sqrt(total * total + ALPHA);
    if (total > 1)
        return 1;
    return total < -1 ? -1 : total;
}

enum tlm__sentiment_class
tlm__sentiment_classify(double score)
{
    if (score > TLM__SENTIMENT_POSITIVE)
        return TLM__SENTIMENT_CLASS_POSITIVE;
    if (score < TLM__SENTIMENT_NEGATIVE)
        return TLM__SENTIMENT_CLASS_NEGATIVE;
    return TLM__SENTIMENT_CLASS_NEUTRAL;
}

const char *
tlm__sentiment_class_name(enum tlm__sentiment_class c)
{
    if (c == TLM__SENTIMENT_CLASS_POSITIVE)
        return "positive";
    if (c == TLM__SENTIMENT_CLASS_NEGATIVE)
        return "negative";
    return "neutral";
}

static bool
well_formed(const char *w, bool spaces)
{
    size_t n = strlen(w), k;
    if (n == 0 || n >= MAX_WORD * (spaces ? 4 : 1))
        return false;
    for (k = 0; k < n; k++) {
        unsigned char c = (unsigned char)w[k];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\''
                || (spaces && c == ' ')))
            return false;
    }
    return true;
}

size_t
tlm__sentiment_selfcheck(void)
{
    size_t k;
    for (k = 0; k < N_WORDS; k++)
        if (!well_formed(words[k].w, false)
            || (k > 0 && strcmp(words[k - 1].w, words[k].w) >= 0))
            return k + 1;
    for (k = 0; k < N_STEMS; k++)
        if (!well_formed(stems[k].prefix, false))
            return N_WORDS + k + 1;
    for (k = 0; k < N_PHRASES; k++)
        if (!well_formed(phrases[k].words, true))
            return N_WORDS + N_STEMS + k + 1;
    return 0;
}
