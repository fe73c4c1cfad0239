/*
 * test_queue.c - the bounded MPSC queue of event slots (lib/queue.c).
 *
 * Drives tlm__queue_* directly, as client.c (producers) and worker.c (the one
 * consumer) do; slots are filled the way client.c's fill_slot() fills them.
 */
#include "internal.h"

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLM_TEST_SCALE=small (set by scripts/test for the sanitizer and valgrind
 * runs, which are 10-50x slower): fewer iterations, same checks. */
static int
scale_small(void)
{
    const char *v = getenv("TLM_TEST_SCALE");

    return v != NULL && strcmp(v, "small") == 0;
}

/* Stores the strings like client.c: consecutive NUL-terminated fields,
 * inline when they fit, else in one overflow allocation. */
static void
slot_fill(tlm__slot *s, const char *const v[TLM__NFIELDS])
{
    size_t total = 0, off = 0, n;
    char *base = s->data;
    int i;

    for (i = 0; i < TLM__NFIELDS; i++) {
        if (v[i] == NULL) {
            s->len[i] = UINT32_MAX;
            continue;
        }
        s->len[i] = (uint32_t)strlen(v[i]);
        total += s->len[i] + 1;
    }
    s->overflow = NULL;
    if (total > TLM__SLOT_INLINE) {
        base = tlm__malloc(total);
        ck_assert_ptr_nonnull(base);
        s->overflow = base;
    }
    for (i = 0; i < TLM__NFIELDS; i++) {
        if (v[i] == NULL)
            continue;
        n = s->len[i];
        memcpy(base + off, v[i], n + 1);
        off += n + 1;
    }
}

/* One event whose only string is the endpoint `text`. */
static void
push_text(tlm__queue *q, int32_t status, const char *text)
{
    const char *v[TLM__NFIELDS] = {text, NULL, NULL, NULL, NULL, NULL};
    uint64_t pos;
    tlm__slot *s = tlm__queue_claim(q, &pos);

    ck_assert_ptr_nonnull(s);
    s->type = TLM__EV_REQUEST;
    s->status = status;
    slot_fill(s, v);
    tlm__queue_publish(q, s, pos);
}

/* Pops one event and checks it is (status, text). */
static void
pop_expect(tlm__queue *q, int32_t status, const char *text)
{
    tlm__slot *s = tlm__queue_peek(q);

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->status, status);
    ck_assert_str_eq(tlm__slot_field(s, TLM__FIELD_ENDPOINT), text);
    tlm__queue_pop(q, s);
}

START_TEST(queue_fifo_order)
{
    tlm__queue q;
    char text[32];
    int i;

    ck_assert_int_eq(tlm__queue_init(&q, 16), 0);
    ck_assert_ptr_null(tlm__queue_peek(&q));
    for (i = 0; i < 10; i++) {
        snprintf(text, sizeof(text), "/ev/%d", i);
        push_text(&q, 100 + i, text);
    }
    for (i = 0; i < 10; i++) {
        snprintf(text, sizeof(text), "/ev/%d", i);
        pop_expect(&q, 100 + i, text);
    }
    ck_assert_ptr_null(tlm__queue_peek(&q));
    tlm__queue_destroy(&q);
}
END_TEST

START_TEST(queue_capacity_power_of_two)
{
    static const struct {
        uint32_t asked;
        uint64_t got;
    } cases[] = {
        {0, 16},
        {1, 16},
        {16, 16},
        {17, 32},
        {100, 128},
        {1000, 1024},
        {1024, 1024},
        {1025, 2048},
    };
    size_t i;
    uint64_t n, pos;
    tlm__queue q;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(tlm__queue_init(&q, cases[i].asked), 0);
        ck_assert_uint_eq(q.mask + 1, cases[i].got);
        /* Exactly `got` slots can be claimed before the queue is full. */
        for (n = 0; tlm__queue_claim(&q, &pos) != NULL; n++) {
            ck_assert_uint_eq(pos, n);
            ck_assert_uint_le(n, cases[i].got);
        }
        ck_assert_msg(n == cases[i].got, "asked %u: %llu slots, expected %llu",
            cases[i].asked, (unsigned long long)n,
            (unsigned long long)cases[i].got);
        tlm__queue_destroy(&q);
    }
}
END_TEST

START_TEST(queue_claim_full_returns_null)
{
    tlm__queue q;
    char text[32];
    uint64_t pos = 12345;
    int i;

    ck_assert_int_eq(tlm__queue_init(&q, 16), 0);
    for (i = 0; i < 16; i++) {
        snprintf(text, sizeof(text), "/full/%d", i);
        push_text(&q, i, text);
    }
    ck_assert_uint_eq(tlm__queue_depth(&q), 16);
    for (i = 0; i < 3; i++)
        ck_assert_ptr_null(tlm__queue_claim(&q, &pos));
    ck_assert_uint_eq(tlm__queue_depth(&q), 16);
    /* The refused claims did not touch any slot: all 16 read back intact. */
    for (i = 0; i < 16; i++) {
        snprintf(text, sizeof(text), "/full/%d", i);
        pop_expect(&q, i, text);
        if (i == 0) {
            /* One slot is free again: the next position is 16. */
            tlm__slot *s = tlm__queue_claim(&q, &pos);
            ck_assert_ptr_nonnull(s);
            ck_assert_uint_eq(pos, 16);
            ck_assert_ptr_null(tlm__queue_claim(&q, &pos));
            s->type = TLM__EV_REQUEST;
            s->status = 16;
            slot_fill(s,
                (const char *const[TLM__NFIELDS]) {
                    "/full/16", NULL, NULL, NULL, NULL, NULL});
            tlm__queue_publish(&q, s, pos);
        }
    }
    pop_expect(&q, 16, "/full/16");
    ck_assert_ptr_null(tlm__queue_peek(&q));
    tlm__queue_destroy(&q);
}
END_TEST

START_TEST(queue_unpublished_not_visible)
{
    tlm__queue q;
    tlm__slot *a, *b;
    uint64_t pa, pb;
    const char *va[TLM__NFIELDS] = {"/a", NULL, NULL, NULL, NULL, NULL};
    const char *vb[TLM__NFIELDS] = {"/b", NULL, NULL, NULL, NULL, NULL};

    ck_assert_int_eq(tlm__queue_init(&q, 16), 0);
    a = tlm__queue_claim(&q, &pa);
    b = tlm__queue_claim(&q, &pb);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(pa, 0);
    ck_assert_uint_eq(pb, 1);
    /* A claimed but unpublished slot counts in the depth... */
    ck_assert_uint_eq(tlm__queue_depth(&q), 2);
    b->status = 2;
    slot_fill(b, vb);
    tlm__queue_publish(&q, b, pb);
    /* ...and holds back later events: order is by claim, not publish. */
    ck_assert_ptr_null(tlm__queue_peek(&q));
    a->status = 1;
    slot_fill(a, va);
    tlm__queue_publish(&q, a, pa);
    pop_expect(&q, 1, "/a");
    pop_expect(&q, 2, "/b");
    ck_assert_ptr_null(tlm__queue_peek(&q));
    tlm__queue_destroy(&q);
}
END_TEST

START_TEST(queue_wraparound)
{
    tlm__queue q;
    uint64_t next_in = 0, next_out = 0, pos;
    tlm__slot *s;
    int cycle, k, burst;

    ck_assert_int_eq(tlm__queue_init(&q, 16), 0);
    for (cycle = 0; cycle < 20000; cycle++) {
        burst = 1 + cycle % 14; /* + at most 2 left over <= 16 */
        for (k = 0; k < burst; k++) {
            s = tlm__queue_claim(&q, &pos);
            ck_assert_ptr_nonnull(s);
            ck_assert_uint_eq(pos, next_in);
            s->ts_ms = (int64_t)next_in++;
            s->len[TLM__FIELD_ENDPOINT] = UINT32_MAX;
            tlm__queue_publish(&q, s, pos);
        }
        /* Leave a few behind so that reads and writes interleave. */
        while (tlm__queue_depth(&q) > (uint64_t)(cycle % 3)) {
            s = tlm__queue_peek(&q);
            ck_assert_ptr_nonnull(s);
            ck_assert_int_eq(s->ts_ms, (int64_t)next_out);
            next_out++;
            tlm__queue_pop(&q, s);
        }
    }
    while ((s = tlm__queue_peek(&q)) != NULL) {
        ck_assert_int_eq(s->ts_ms, (int64_t)next_out);
        next_out++;
        tlm__queue_pop(&q, s);
    }
    ck_assert_uint_eq(next_out, next_in);
    ck_assert_uint_gt(next_in, 100000); /* thousands of laps of 16 slots */
    ck_assert_uint_eq(tlm__queue_depth(&q), 0);
    tlm__queue_destroy(&q);
}
END_TEST

START_TEST(queue_depth_counts)
{
    tlm__queue q;
    tlm__slot *s;
    uint64_t pos;
    int i;

    ck_assert_int_eq(tlm__queue_init(&q, 32), 0);
    ck_assert_uint_eq(tlm__queue_depth(&q), 0);
    for (i = 1; i <= 20; i++) {
        s = tlm__queue_claim(&q, &pos);
        ck_assert_ptr_nonnull(s);
        s->len[TLM__FIELD_ENDPOINT] = UINT32_MAX;
        ck_assert_uint_eq(tlm__queue_depth(&q), (uint64_t)i);
        tlm__queue_publish(&q, s, pos);
        ck_assert_uint_eq(tlm__queue_depth(&q), (uint64_t)i);
    }
    for (i = 19; i >= 0; i--) {
        s = tlm__queue_peek(&q);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(tlm__queue_depth(&q), (uint64_t)i + 1);
        tlm__queue_pop(&q, s);
        ck_assert_uint_eq(tlm__queue_depth(&q), (uint64_t)i);
    }
    tlm__queue_destroy(&q);
}
END_TEST

START_TEST(queue_field_offsets_inline)
{
    tlm__slot s;
    const char *v[TLM__NFIELDS]
        = {"/v1/users", NULL, "u-1", "", NULL, "{\"k\":1}"};
    int i;

    memset(&s, 0, sizeof(s));
    slot_fill(&s, v);
    ck_assert_ptr_null(s.overflow);
    for (i = 0; i < TLM__NFIELDS; i++) {
        const char *got = tlm__slot_field(&s, i);
        if (v[i] == NULL) {
            ck_assert_ptr_null(got);
        } else {
            ck_assert_ptr_nonnull(got);
            ck_assert_str_eq(got, v[i]);
            /* Inline fields live in the slot itself. */
            ck_assert(got >= s.data && got < s.data + TLM__SLOT_INLINE);
        }
    }
}
END_TEST

START_TEST(queue_overflow_roundtrip)
{
    tlm__queue q;
    tlm__slot *s;
    uint64_t pos;
    char endpoint[301], org[151], details[600];
    const char *v[TLM__NFIELDS];
    int i;

    memset(endpoint, 'e', sizeof(endpoint) - 1);
    endpoint[0] = '/';
    endpoint[sizeof(endpoint) - 1] = '\0';
    memset(org, 'o', sizeof(org) - 1);
    org[sizeof(org) - 1] = '\0';
    snprintf(details, sizeof(details), "{\"pad\":\"%0500d\"}", 7);
    v[0] = endpoint;
    v[1] = "POST";
    v[2] = NULL;
    v[3] = org;
    v[4] = "";
    v[5] = details;

    ck_assert_int_eq(tlm__queue_init(&q, 16), 0);
    /* Fill every slot with an overflow event, twice around the ring, so
     * that pop must free each overflow (valgrind checks) and destroy frees
     * the ones still queued. */
    for (i = 0; i < 40; i++) {
        s = tlm__queue_claim(&q, &pos);
        ck_assert_ptr_nonnull(s);
        s->type = TLM__EV_REQUEST;
        s->status = i;
        slot_fill(s, v);
        ck_assert_ptr_nonnull(s->overflow);
        tlm__queue_publish(&q, s, pos);
        if (i >= 10) {
            int f;
            s = tlm__queue_peek(&q);
            ck_assert_ptr_nonnull(s);
            ck_assert_int_eq(s->status, i - 10);
            for (f = 0; f < TLM__NFIELDS; f++)
                ck_assert_pstr_eq(tlm__slot_field(s, f), v[f]);
            ck_assert_ptr_eq(tlm__slot_field(s, TLM__FIELD_ENDPOINT),
                s->overflow); /* read from the overflow, not inline */
            tlm__queue_pop(&q, s);
            ck_assert_ptr_null(s->overflow);
        }
    }
    ck_assert_uint_eq(tlm__queue_depth(&q), 10);
    tlm__queue_destroy(&q); /* frees the 10 queued overflows */
}
END_TEST

/* ---- 4 producers, 1 consumer ------------------------------------------- */

#define MP_PRODUCERS 4
/* Events per producer: 200k, or 20k at TLM_TEST_SCALE=small. Set before
 * the producers start. */
static int mp_events;
#define MP_EVENTS mp_events

struct producer {
    tlm__queue *q;
    int id;
};

static void *
producer_main(void *arg)
{
    struct producer *p = arg;
    char text[48];
    const char *v[TLM__NFIELDS] = {text, NULL, NULL, NULL, NULL, NULL};
    tlm__slot *s;
    uint64_t pos;
    int seq;

    for (seq = 0; seq < MP_EVENTS; seq++) {
        while ((s = tlm__queue_claim(p->q, &pos)) == NULL)
            sched_yield();
        s->type = TLM__EV_REQUEST;
        s->status = p->id;
        s->ts_ms = seq;
        snprintf(text, sizeof(text), "/p%d/%d", p->id, seq);
        slot_fill(s, v);
        tlm__queue_publish(p->q, s, pos);
    }
    return NULL;
}

START_TEST(queue_mpsc_exactly_once_in_order)
{
    tlm__queue q;
    pthread_t th[MP_PRODUCERS];
    struct producer pr[MP_PRODUCERS];
    int64_t next[MP_PRODUCERS] = {0};
    uint64_t seen = 0, bad_id = 0, bad_order = 0, bad_text = 0;
    char want[48];
    tlm__slot *s;
    int i;

    mp_events = scale_small() ? 20000 : 200000;
    ck_assert_int_eq(tlm__queue_init(&q, 1024), 0);
    for (i = 0; i < MP_PRODUCERS; i++) {
        pr[i].q = &q;
        pr[i].id = i;
        ck_assert_int_eq(
            pthread_create(&th[i], NULL, producer_main, &pr[i]), 0);
    }
    while (seen < (uint64_t)MP_PRODUCERS * MP_EVENTS) {
        s = tlm__queue_peek(&q);
        if (s == NULL) {
            sched_yield();
            continue;
        }
        seen++;
        if (s->status < 0 || s->status >= MP_PRODUCERS) {
            bad_id++;
        } else {
            /* Per-producer sequence: each exactly once and in order. */
            if (s->ts_ms != next[s->status])
                bad_order++;
            snprintf(want, sizeof(want), "/p%d/%lld", (int)s->status,
                (long long)s->ts_ms);
            if (strcmp(tlm__slot_field(s, TLM__FIELD_ENDPOINT), want) != 0)
                bad_text++;
            next[s->status] = s->ts_ms + 1;
        }
        tlm__queue_pop(&q, s);
    }
    for (i = 0; i < MP_PRODUCERS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_uint_eq(bad_id, 0);
    ck_assert_uint_eq(bad_order, 0);
    ck_assert_uint_eq(bad_text, 0);
    for (i = 0; i < MP_PRODUCERS; i++)
        ck_assert_int_eq(next[i], MP_EVENTS);
    ck_assert_ptr_null(tlm__queue_peek(&q));
    ck_assert_uint_eq(tlm__queue_depth(&q), 0);
    tlm__queue_destroy(&q);
}
END_TEST

static Suite *
queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("core");
    TCase *mt = tcase_create("threads");

    tcase_add_test(tc, queue_fifo_order);
    tcase_add_test(tc, queue_capacity_power_of_two);
    tcase_add_test(tc, queue_claim_full_returns_null);
    tcase_add_test(tc, queue_unpublished_not_visible);
    tcase_add_test(tc, queue_wraparound);
    tcase_add_test(tc, queue_depth_counts);
    tcase_add_test(tc, queue_field_offsets_inline);
    tcase_add_test(tc, queue_overflow_roundtrip);
    tcase_set_timeout(tc, 60);
    tcase_add_test(mt, queue_mpsc_exactly_once_in_order);
    tcase_set_timeout(mt, 300); /* generous: valgrind serializes threads */
    suite_add_tcase(s, tc);
    suite_add_tcase(s, mt);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(queue_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
