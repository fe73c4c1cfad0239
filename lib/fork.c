/*
 * fork.c - clients across fork().
 *
 * One pthread_atfork registration, made with the first client, counts the
 * forks a process has gone through (tlm__fork_gen). Each client remembers
 * the count it was made or last restarted under; a call that sees another
 * count runs in a child of the process that made the client, and
 * tlm__fork_settle() makes the client the child's own before going on:
 *
 *   - the parent's worker does not exist in the child: its loop, transfers,
 *     eventfd and pending batches are abandoned (memory the child leaks
 *     once, never touched: curl's and libuv's objects may share sockets and
 *     an epoll instance with the parent), and the wake eventfd and the
 *     loop's epoll fd are closed (the child's references only);
 *   - the queue starts empty: events the parent had queued are the
 *     parent's to send, not the child's (no duplicates);
 *   - counters start at zero, the lock and condition are made anew (the
 *     parent's worker may have held the lock at the fork);
 *   - the worker is started again, lazily, by the first call that needs it
 *     (tracking); the random generator is reseeded with it, so the child's
 *     event ids never repeat the parent's.
 *
 * The parent is unaffected. glibc unregisters the handlers when the
 * library is unloaded (dlclose runs __unregister_atfork for its DSO), so
 * unloading after close stays safe. This is the library's one piece of
 * process-wide state besides curl_global_init.
 */
#include "client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

_Atomic unsigned tlm__fork_gen;

static pthread_once_t registered = PTHREAD_ONCE_INIT;
/* Held across fork() by the forking thread, so that a restart in progress
 * in another thread is never half-copied into a child. */
static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;

static void
before_fork(void)
{
    pthread_mutex_lock(&fork_mu);
}

static void
after_fork_parent(void)
{
    pthread_mutex_unlock(&fork_mu);
}

static void
after_fork_child(void)
{
    atomic_fetch_add(&tlm__fork_gen, 1);
    pthread_mutex_unlock(&fork_mu);
}

static void
register_handlers(void)
{
    (void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

unsigned
tlm__fork_register(void)
{
    pthread_once(&registered, register_handlers);
    return atomic_load(&tlm__fork_gen) & TLM__FORK_GEN_MASK;
}

/* Makes c the child's own; with fork_mu held. */
static void
child_reset(tlm_client *c)
{
    pthread_condattr_t attr;

    if (c->worker_ready) {
        close(c->wake_fd);
        if (uv_backend_fd(&c->loop) >= 0)
            close(uv_backend_fd(&c->loop));
    }
    c->worker_ready = false;
    c->thread_started = false;
    c->wake_fd = -1;
    atomic_store(&c->wake_pending, 0);
    /* Worker-only state, abandoned (see above). */
    memset(&c->loop, 0, sizeof(c->loop));
    c->multi = NULL;
    c->sock_pool = c->sock_free = NULL;
    c->client_info = c->auth_header = c->url = NULL;
    memset(&c->scratch, 0, sizeof(c->scratch));
    c->current = c->waiting = c->inflight = NULL;
    /* The parent's spool journal is the parent's; closing it here only
     * frees the child's memory and descriptors (spool.h). The restarted
     * worker opens a journal of the child's own. */
    tlm__wspool_close(c);
    c->n_waiting = c->n_inflight = 0;
    tlm__api_child_reset(c); /* the parent's feedback calls too */
    c->flush_partial = false;
    c->spool_all = false;
    /* The queue: the parent's events stay the parent's. */
    tlm__queue_destroy(&c->queue);
    if (tlm__queue_init(&c->queue, c->opts.max_queue_events) != 0)
        atomic_store(&c->state, TLM__STATE_CLOSED); /* no memory: refuse */
    memset(&c->n, 0, sizeof(c->n));
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &attr);
    pthread_condattr_destroy(&attr);
    c->cmd_flush = c->cmd_stop = c->cmd_abort = 0;
    c->cmd_purge = c->cmd_purge_consent = 0;
    c->worker_done = 1; /* no worker runs: nothing to wait for */
    c->settled_upto = 0;
}

int
tlm__fork_settle(tlm_client *c, bool start_worker)
{
    tlm__alloc_scope scope;
    int rc = 0;

    pthread_mutex_lock(&fork_mu);
    tlm__alloc_enter(&scope, &c->opts.allocator);
    unsigned gen = atomic_load(&tlm__fork_gen) & TLM__FORK_GEN_MASK;
    unsigned mine = atomic_load(&c->fork_gen);
    if ((mine & TLM__FORK_GEN_MASK) != gen) {
        child_reset(c);
        mine = gen | TLM__FORK_NO_WORKER;
    }
    if (start_worker && (mine & TLM__FORK_NO_WORKER)
        && atomic_load(&c->state) == TLM__STATE_OPEN) {
        c->worker_done = 0;
        rc = tlm__worker_start(c);
        if (rc != 0) {
            c->worker_done = 1;
            c->wake_fd = -1;
        } else {
            mine = gen;
        }
    }
    atomic_store(&c->fork_gen, mine);
    tlm__alloc_leave(&scope);
    pthread_mutex_unlock(&fork_mu);
    return rc;
}
