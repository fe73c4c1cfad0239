/*
 * event.c - the tlm_event view that the before-send hook reads and edits.
 *
 * Runs only on the worker thread. Field values point into the queue slot
 * until the hook replaces them; replacements are owned by the event.
 */
#include "internal.h"

#include <string.h>

static const char *const field_names[TLM__NFIELDS] = {
    "endpoint",
    "method",
    "user_id",
    "organization_id",
    "access_tier",
    "request_details",
};

static int
field_index(const char *name)
{
    int i;

    for (i = 0; i < TLM__NFIELDS; i++)
        if (strcmp(name, field_names[i]) == 0)
            return i;
    return -1;
}

static const char *const efield_names[TLM__NEFIELDS] = {
    "error_code",
    "error_message",
    "stack_trace",
    "impact",
    "fingerprint",
};

static int
efield_index(const char *name)
{
    int i;

    for (i = 0; i < TLM__NEFIELDS; i++)
        if (strcmp(name, efield_names[i]) == 0)
            return i;
    return -1;
}

void
tlm__event_from_slot(tlm_event *ev, const tlm__slot *slot)
{
    int i;

    memset(ev, 0, sizeof(*ev));
    ev->type = slot->type;
    ev->ts_ms = slot->ts_ms;
    ev->status = slot->status;
    ev->response_time_ms = slot->response_time_ms;
    ev->sample_rate = slot->sample_rate > 0.0f ? slot->sample_rate : 1.0;
    for (i = 0; i < TLM__NFIELDS; i++)
        ev->field[i] = tlm__slot_field(slot, i);
}

void
tlm__event_clear(tlm_event *ev)
{
    int i;

    for (i = 0; i < TLM__NFIELDS; i++) {
        tlm__free(ev->owned[i]);
        ev->owned[i] = NULL;
    }
    for (i = 0; i < TLM__NEFIELDS; i++) {
        tlm__free(ev->eowned[i]);
        ev->eowned[i] = NULL;
    }
}

/* An error's own field: read, or (hook) replaced. */
static int
set_error_field(tlm_event *ev, int i, const char *value)
{
    char *copy = NULL;

    if (i == TLM__EFIELD_IMPACT || i == TLM__EFIELD_FINGERPRINT)
        return TLM_EINVAL; /* structured: read-only */
    if (i == TLM__EFIELD_MESSAGE && (value == NULL || *value == '\0'))
        return TLM_EINVAL; /* required */
    if (value != NULL) {
        copy = tlm__strdup(value);
        if (copy == NULL)
            return TLM_ENOMEM;
    }
    tlm__free(ev->eowned[i]);
    ev->eowned[i] = copy;
    ev->efield[i] = copy;
    ev->efield_len[i] = copy ? (uint32_t)strlen(copy) : UINT32_MAX;
    return 0;
}

const char *
tlm_event_get_string(const tlm_event *ev, const char *field)
{
    int i;

    if (ev == NULL || field == NULL)
        return NULL;
    if (strcmp(field, "type") == 0)
        return ev->type == TLM__EV_REQUEST ? "request"
            : ev->type == TLM__EV_ERROR    ? "error"
                                           : "unknown";
    if (strcmp(field, "id") == 0)
        return ev->id;
    if (strcmp(field, "environment") == 0)
        return ev->environment;
    if (ev->type == TLM__EV_ERROR) {
        if (strcmp(field, "request_id") == 0)
            return ev->request_id[0] ? ev->request_id : NULL;
        i = efield_index(field);
        if (i >= 0)
            return ev->efield[i];
    }
    i = field_index(field);
    return i < 0 ? NULL : ev->field[i];
}

double
tlm_event_get_number(const tlm_event *ev, const char *field)
{
    if (ev == NULL || field == NULL)
        return 0.0;
    if (strcmp(field, "response_status") == 0)
        return (double)ev->status;
    if (strcmp(field, "response_time") == 0)
        return ev->response_time_ms;
    if (strcmp(field, "sample_rate") == 0)
        return ev->sample_rate;
    return 0.0;
}

int
tlm_event_set_string(tlm_event *ev, const char *field, const char *value)
{
    char *copy = NULL;
    int i;

    if (ev == NULL || field == NULL)
        return TLM_EINVAL;
    if (strcmp(field, "environment") == 0) {
        /* Static strings: only the two valid values can be set. */
        if (value != NULL && strcmp(value, "sandbox") == 0)
            ev->environment = "sandbox";
        else if (value != NULL && strcmp(value, "production") == 0)
            ev->environment = "production";
        else
            return TLM_EINVAL;
        return 0;
    }
    if (ev->type == TLM__EV_ERROR && efield_index(field) >= 0)
        return set_error_field(ev, efield_index(field), value);
    i = field_index(field);
    if (i < 0)
        return TLM_EINVAL;
    if (i == TLM__FIELD_ENDPOINT && value != NULL && *value == '\0')
        return TLM_EINVAL;
    if (i == TLM__FIELD_ENDPOINT && value == NULL && ev->type != TLM__EV_ERROR)
        return TLM_EINVAL; /* a request's only required field */
    if (value != NULL) {
        copy = tlm__strdup(value);
        if (copy == NULL)
            return TLM_ENOMEM;
    }
    tlm__free(ev->owned[i]);
    ev->owned[i] = copy;
    ev->field[i] = copy;
    if (i == TLM__FIELD_DETAILS)
        ev->details_verbatim = false; /* the hook's text is checked again */
    return 0;
}
