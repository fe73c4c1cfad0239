/* Fuzz target: the PII scrubber (lib/scrub*.c), text and path modes, on
 * arbitrary bytes.
 *
 * Invariants: it never fails except for memory; the output is valid UTF-8
 * with no NUL added; scrubbing the output again (as a server would) works
 * and stays valid; the input is a C string, as every caller's is (it ends
 * at its first NUL). */
#include "fuzz_common.h"
#include "scrub.h"

#include <stdbool.h>
#include <string.h>

static bool
valid_utf8(const char *s, size_t n)
{
    size_t i = 0, len;

    while (i < n) {
        len = tlm__utf8_seq_len((const unsigned char *)s + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

typedef int (*scrub_fn)(
    const char *, size_t, unsigned, tlm__buf *, tlm__scrub_counts *);

static void
check_mode(scrub_fn fn, const char *in, size_t n, unsigned mask)
{
    tlm__buf once = {0}, twice = {0};
    tlm__scrub_counts c1, c2;
    int rc;

    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));
    rc = fn(in, n, mask, &once, &c1);
    FUZZ_CHECK(rc == 0, "scrub failed: %d", rc);
    FUZZ_CHECK(once.len == 0 || once.data != NULL, "no output buffer");
    FUZZ_CHECK(valid_utf8(once.data ? once.data : "", once.len),
        "output is not valid UTF-8");
    FUZZ_CHECK(once.len == 0 || memchr(once.data, '\0', once.len) == NULL
            || memchr(in, '\0', n) != NULL,
        "a NUL appeared in the output");
    /* A second pass (as a server would make) must work on the first one's
     * output too. It may replace more: detectors interact (a value
     * replaced inside a token leaves a shorter token that now looks
     * random; a query value that holds a placeholder is emptied), found
     * by this target. Idempotency is not promised (docs/privacy.md). */
    rc = fn(once.data ? once.data : "", once.len, mask, &twice, &c2);
    FUZZ_CHECK(rc == 0, "second scrub failed: %d", rc);
    FUZZ_CHECK(valid_utf8(twice.data ? twice.data : "", twice.len),
        "second pass output is not valid UTF-8");
    tlm__buf_free(&once);
    tlm__buf_free(&twice);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in;
    unsigned mask;

    if (size < 1)
        return 0;
    /* First byte: which detectors (0xff and up: all). */
    mask = data[0] >= 0xf0 ? TLM__SCRUB_ALL
                           : (unsigned)data[0] * 0x01010101u & TLM__SCRUB_ALL;
    /* Callers scrub C strings (cJSON values, event fields): the input ends
     * at its first NUL, as theirs do. */
    in = fuzz_memdup(data + 1, size - 1);
    size = strnlen(in, size - 1);
    check_mode(tlm__scrub_string, in, size, mask);
    check_mode(tlm__scrub_path, in, size, mask);
    free(in);
    return 0;
}
