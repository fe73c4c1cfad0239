/*
 * version.c - library version and error strings.
 *
 * Static data only: callable from any thread, before or after any client.
 */
#include "internal.h"

const char *
tlm_version(void)
{
    return TLM_VERSION_STRING;
}

unsigned int
tlm_version_num(void)
{
    return TLM_VERSION_NUM;
}

const char *
tlm_strerror(int err)
{
    switch (err) {
    case TLM_OK:
        return "success";
    case TLM_EINVAL:
        return "invalid argument";
    case TLM_ENOMEM:
        return "out of memory";
    case TLM_EFULL:
        return "queue full, event dropped";
    case TLM_ECLOSED:
        return "client is closed";
    case TLM_ECONFIG:
        return "invalid configuration";
    case TLM_EIO:
        return "input/output error";
    case TLM_ETIMEDOUT:
        return "deadline passed";
    case TLM_EDISABLED:
        return "telemetry is disabled";
    case TLM_ETHREAD:
        return "could not start the worker thread";
    case TLM_ETRANSPORT:
        return "could not set up the HTTP transport";
    case TLM_EREJECTED:
        return "the server refused the request";
    case TLM_EUNAVAILABLE:
        return "the server could not be reached";
    default:
        return "unknown error";
    }
}
