/* The storage interface's common-workflows result (types only; the
 * operation is store.h's `workflows`, the counting is workflow.c). */
#ifndef TLM_SERVER_STORE_WORKFLOW_H
#define TLM_SERVER_STORE_WORKFLOW_H

#include <stddef.h>

/* An endpoint pair (step[2] "") or triple, its count over the window and,
 * for pairs, the share of the moves out of step[0] it takes. */
struct tlm__workflow_seq {
    char *step[3];
    double count;
    double probability;
};

struct tlm__workflow_result {
    double sessions;
    struct tlm__workflow_seq *pairs; /* most frequent first, at most 10 */
    size_t n_pairs;
    struct tlm__workflow_seq *triples;
    size_t n_triples;
};

void tlm__workflow_result_free(struct tlm__workflow_result *r);

#endif
