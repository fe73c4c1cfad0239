/* Connects the webhook module to the store's outbox (webhook_store.c). */
#ifndef TLM_SERVER_WEBHOOK_STORE_H
#define TLM_SERVER_WEBHOOK_STORE_H

#include "store.h"
#include "webhook.h"

/* Fills *out with callbacks over st (borrowed: must outlive the webhook). */
void tlm__webhook_store_outbox(struct tlm__store *st, struct tlm__outbox *out);

#endif
