/* Fuzz target: the server's feedback text processing (server/sentiment.c,
 * server/categorize.c), which reads any bytes a submitter sends, and the
 * `feedback.categories` config parser. Invariants: the sentiment is a
 * finite number in [-1, 1] whatever the bytes; the category is one of the
 * set's own names; a category document either parses into a set that
 * always contains "other", or is refused with a message starting with
 * "config: ". */
#include "fuzz_common.h"

#include "categorize.h"
#include "sentiment.h"

#include <cjson/cJSON.h>
#include <math.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tlm__categories *defaults;
    const char *text = (const char *)data;
    double conf = -1;

    if (defaults == NULL)
        defaults = tlm__categories_default();
    FUZZ_CHECK(defaults != NULL, "no default categories");

    double s = tlm__sentiment(text, size);
    FUZZ_CHECK(isfinite(s) && s >= -1 && s <= 1, "sentiment %g", s);
    const char *cat = tlm__categorize(defaults, text, size, &conf);
    FUZZ_CHECK(cat != NULL && tlm__categories_has(defaults, cat), "category %s",
        cat != NULL ? cat : "(null)");
    FUZZ_CHECK(conf >= 0 && conf <= 1, "confidence %g", conf);

    /* The same bytes as a feedback.categories value. */
    cJSON *doc = cJSON_ParseWithLength(text, size);
    if (doc != NULL) {
        struct tlm__categories *c = NULL;
        char err[256] = "";
        if (tlm__categories_from_json(doc, &c, err, sizeof(err)) == 0) {
            FUZZ_CHECK(c != NULL && tlm__categories_has(c, "other"),
                "a set without other");
            cat = tlm__categorize(c, text, size, NULL);
            FUZZ_CHECK(cat != NULL && tlm__categories_has(c, cat),
                "category %s", cat != NULL ? cat : "(null)");
            tlm__categories_free(c);
        } else {
            FUZZ_CHECK(strncmp(err, "config: ", 8) == 0, "error \"%s\"", err);
        }
        cJSON_Delete(doc);
    }
    return 0;
}
