/*
 * backoff.c - the retry policy: which outcomes retry, and how long to wait.
 *
 * Pure functions, no state: the worker passes in its own random number.
 */
#include "internal.h"

uint64_t
tlm__backoff_delay_ms(uint32_t attempt, double u, long retry_after_s)
{
    uint64_t ceiling = TLM__BACKOFF_BASE_MS, delay;
    uint32_t i;

    for (i = 1; i < attempt && ceiling < TLM__BACKOFF_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > TLM__BACKOFF_CAP_MS)
        ceiling = TLM__BACKOFF_CAP_MS;
    if (u < 0.0 || u >= 1.0)
        u = 0.0;
    delay = (uint64_t)(u * (double)(ceiling + 1));
    if (retry_after_s > 0) {
        if (retry_after_s > 3600)
            retry_after_s = 3600;
        if ((uint64_t)retry_after_s * 1000 > delay)
            delay = (uint64_t)retry_after_s * 1000;
    }
    return delay;
}

tlm__outcome
tlm__backoff_classify(int transfer_ok, long status)
{
    if (!transfer_ok)
        return TLM__OUT_RETRY; /* connection refused, reset, timeout */
    if (status >= 200 && status < 300)
        return TLM__OUT_OK;
    if (status == 413)
        return TLM__OUT_SPLIT;
    if (status == 408 || status == 429 || status >= 500)
        return TLM__OUT_RETRY;
    return TLM__OUT_DROP; /* other 4xx: resending would fail the same way */
}
