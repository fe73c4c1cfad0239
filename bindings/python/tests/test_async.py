"""The async feedback and feature-request calls (Futures resolved from the
library's worker thread, and their asyncio wrappers) against the real
telemetry-server and libtelemetry. Every wait is bounded by WAIT_S; no
timing is asserted."""

import asyncio
import concurrent.futures
import gc
import logging
import threading
import unittest
import uuid
import weakref

import telemetry
from telemetry import _calls

from server import KEY, WAIT_S, Server

DEAD = "http://127.0.0.1:1"  # loopback, nothing listens: refused at once
CLOSED = (telemetry.Timeout, telemetry.ClientClosed)


def tag(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


class Recorder:
    """A done-callback recording (thread id, future) and signalling."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()
        self.event = threading.Event()

    def __call__(self, fut):
        with self.lock:
            self.calls.append((threading.get_ident(), fut))
        self.event.set()


class AsyncCallsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def client(self, endpoint=None, **kw):
        kw.setdefault("flush_interval_ms", 50)
        kw.setdefault("shutdown_timeout_ms", 2000)
        c = telemetry.Client(endpoint=endpoint or self.s.url, api_key=KEY,
                             **kw)
        self.addCleanup(c.close)
        return c

    def tearDown(self):
        # Whatever a test started has been answered: nothing is left in
        # the registry of outstanding calls.
        self.assertEqual(_calls.pending_calls(), 0)

    def test_futures_resolve_with_dataclasses(self):
        c = self.client(anonymization_salt="py-async-salt")
        main = threading.get_ident()
        rec = Recorder()
        feature = tag("py-async-one")
        fut = c.submit_feedback_async(
            "The async API is great and fast", "suggestion",
            feature=feature, user_id="user-1", callback=rec)
        self.assertIsInstance(fut, concurrent.futures.Future)
        self.assertFalse(fut.cancel())  # a sent request can't be taken back
        fb = fut.result(WAIT_S)
        self.assertIsInstance(fb, telemetry.Feedback)
        self.assertTrue(fb.id)
        self.assertEqual((fb.feedback_type, fb.feature),
                         ("suggestion", feature))
        self.assertFalse(fb.spooled)
        self.assertTrue(rec.event.wait(WAIT_S))
        self.assertEqual(len(rec.calls), 1)
        tid, seen = rec.calls[0]
        self.assertIs(seen, fut)
        self.assertNotEqual(tid, main)  # the worker thread

        got = c.get_feedback_async(fb.id).result(WAIT_S)
        self.assertIsInstance(got, telemetry.Feedback)
        self.assertEqual((got.id, got.content), (fb.id, fb.content))

        fr = c.submit_feature_request_async(
            tag("Async export"), description="d", use_case="u",
            user_id="user-9").result(WAIT_S)
        self.assertIsInstance(fr, telemetry.FeatureRequest)
        self.assertEqual(fr.status, "submitted")
        v = c.vote_async(fr.id, "user-1").result(WAIT_S)
        self.assertIsInstance(v, telemetry.Vote)
        self.assertEqual((v.id, v.votes, v.voted), (fr.id, 1, True))
        self.assertEqual(c.vote_async(fr.id, "user-2").result(WAIT_S).votes,
                         2)
        page = c.feature_requests_async(sort="recent", status="submitted",
                                        limit=100).result(WAIT_S)
        self.assertIsInstance(page, telemetry.FeatureRequestPage)
        self.assertEqual([i.votes for i in page.items if i.id == fr.id], [2])
        u = c.unvote_async(fr.id, "user-2").result(WAIT_S)
        self.assertEqual((u.id, u.votes, u.voted), (fr.id, 1, False))

    def test_callback_that_raises_is_logged_and_harmless(self):
        c = self.client()
        done = threading.Event()

        def bad(_fut):
            raise RuntimeError("a broken callback must not hurt the worker")

        with self.assertLogs("concurrent.futures", logging.ERROR):
            fut = c.submit_feedback_async("callback raises",
                                          callback=bad)
            fut.add_done_callback(lambda _f: done.set())  # runs after bad
            self.assertTrue(done.wait(WAIT_S))
        self.assertIsInstance(fut.result(WAIT_S), telemetry.Feedback)
        # The worker goes on answering.
        self.assertTrue(c.submit_feedback_async("still fine")
                        .result(WAIT_S).id)

    def test_concurrent_submissions_arrive_once(self):
        c = self.client()
        feature = tag("py-async-conc")
        n_threads, per_thread = 4, 5
        futures, lock = [], threading.Lock()
        errors = []

        def work(k):
            try:
                for i in range(per_thread):
                    f = c.submit_feedback_async(
                        "concurrent %d-%d" % (k, i), "general",
                        feature=feature, user_id="user-%d" % k)
                    with lock:
                        futures.append(f)
            except BaseException as e:  # reported below
                errors.append(e)

        ts = [threading.Thread(target=work, args=(k,))
              for k in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(WAIT_S)
            self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])
        self.assertEqual(len(futures), 20)
        done, not_done = concurrent.futures.wait(futures, WAIT_S)
        self.assertEqual(len(not_done), 0)
        results = [f.result(0) for f in futures]
        self.assertTrue(all(isinstance(r, telemetry.Feedback)
                            for r in results))
        self.assertEqual(len({r.id for r in results}), 20)
        stored = self.s.feedback(feature=feature)
        want = sorted("concurrent %d-%d" % (k, i)
                      for k in range(n_threads) for i in range(per_thread))
        self.assertEqual(sorted(f["content"] for f in stored), want)
        self.assertEqual(sorted(f["id"] for f in stored),
                         sorted(r.id for r in results))

    def test_rejected_maps_into_the_future(self):
        c = self.client()
        rec = Recorder()
        fut = c.submit_feedback_async("it breaks", "issue", summary="s",
                                      steps_to_reproduce="1. call it",
                                      callback=rec)
        e = fut.exception(WAIT_S)
        self.assertIsInstance(e, telemetry.Rejected)
        self.assertEqual(e.code, telemetry.Rejected.code)
        self.assertEqual(e.status, 400)
        self.assertEqual(sorted(e.json["missing"]), ["actual", "expected"])
        with self.assertRaises(telemetry.Rejected):
            fut.result(0)
        self.assertTrue(rec.event.wait(WAIT_S))
        e404 = c.get_feedback_async("no-such-feedback").exception(WAIT_S)
        self.assertIsInstance(e404, telemetry.Rejected)
        self.assertEqual(e404.status, 404)
        v404 = c.vote_async("no-such-request", "user-1").exception(WAIT_S)
        self.assertIsInstance(v404, telemetry.Rejected)
        self.assertEqual(v404.status, 404)

    def test_refused_call_raises_at_once_and_never_calls_back(self):
        c = self.client()
        rec = Recorder()
        with self.assertRaises(telemetry.InvalidArgument):
            c.submit_feedback_async("x", "nonsense", callback=rec)
        with self.assertRaises(telemetry.InvalidArgument):
            c.submit_feedback_async("   ", callback=rec)  # blank content
        with self.assertRaises(telemetry.InvalidArgument):
            c.feature_requests_async(limit=101, callback=rec)
        self.assertEqual(_calls.pending_calls(), 0)
        off = self.client(enabled=False)
        with self.assertRaises(telemetry.Disabled):
            off.vote_async("some-id", "user-1", callback=rec)
        c.close()
        with self.assertRaises(telemetry.ClientClosed):
            c.submit_feature_request_async("after close", callback=rec)
        self.assertEqual(rec.calls, [])

    def test_dead_endpoint_fails_never_hangs(self):
        c = self.client(DEAD, max_retries=0, connect_timeout_ms=500,
                        transfer_timeout_ms=2000)
        futs = [c.submit_feedback_async("nobody listens"),
                c.submit_feature_request_async("nobody listens"),
                c.get_feedback_async("some-id"),
                c.feature_requests_async()]
        for f in futs:
            e = f.exception(WAIT_S)  # concurrent TimeoutError if it hangs
            self.assertIsInstance(e, (telemetry.Unavailable,
                                      telemetry.Timeout), e)

    def test_answer_after_close_resolves_the_future(self):
        # Consent required and not given: the calls wait in the client, so
        # close() is what answers them (TLM_ETIMEDOUT or TLM_ECLOSED).
        c = self.client(require_consent=True)
        rec = Recorder()
        futs = [c.submit_feedback_async("waits for consent", callback=rec),
                c.submit_feature_request_async("waits", callback=rec),
                c.vote_async("some-id", "user-1", callback=rec)]
        self.assertFalse(any(f.done() for f in futs))
        c.close(0.2)
        # The library answers every outstanding call before close returns.
        self.assertTrue(all(f.done() for f in futs))
        for f in futs:
            self.assertIsInstance(f.exception(WAIT_S), CLOSED)
        with rec.lock:
            self.assertEqual(sorted(id(f) for _, f in rec.calls),
                             sorted(id(f) for f in futs))  # once each
        self.assertEqual(c.stats().requests, 0)

    def test_client_dropped_with_calls_outstanding(self):
        # The last reference goes while calls wait: freeing the client
        # closes it, which answers them; nothing here keeps it alive.
        c = telemetry.Client(endpoint=self.s.url, api_key=KEY,
                             require_consent=True, shutdown_timeout_ms=200)
        futs = [c.submit_feedback_async("orphan %d" % i) for i in range(3)]
        ref = weakref.ref(c)
        del c
        gc.collect()
        self.assertIsNone(ref())
        for f in futs:
            self.assertIsInstance(f.exception(WAIT_S), CLOSED)

    def test_client_released_inside_callback(self):
        # The done-callback's closure holds the only reference to the
        # client: it goes when the worker drops the future, on the worker
        # thread, where freeing the client would join the worker itself.
        # The binding frees it from another thread instead.
        def make():
            c = telemetry.Client(endpoint=self.s.url, api_key=KEY,
                                 shutdown_timeout_ms=2000)
            ran = []

            def cb(fut):
                ran.append(fut.result().id)
                # close() from the worker is refused; the client stays open.
                with self.assertRaises(telemetry.InvalidArgument):
                    c.close()
                ran.append(c.enabled)

            c.submit_feedback_async("released in a callback", callback=cb)
            return weakref.ref(c), ran

        ref, ran = make()
        for _ in range(int(WAIT_S / 0.05)):
            if ref() is None and len(ran) == 2:
                break
            threading.Event().wait(0.05)
        self.assertIsNone(ref())
        self.assertEqual(len(ran), 2)
        self.assertTrue(ran[0])
        self.assertTrue(ran[1])  # still enabled: close() was refused
        from telemetry import client as client_mod
        for t in list(client_mod._freeing):
            t.join(WAIT_S)
            self.assertFalse(t.is_alive())
        # The process is fine and so is a new client.
        c2 = self.client()
        self.assertTrue(c2.submit_feedback_async("after").result(WAIT_S).id)

    def test_asyncio(self):
        c = self.client(anonymization_salt="py-aio-salt")
        feature = tag("py-aio")

        async def main():
            fb = await asyncio.wait_for(c.submit_feedback_aio(
                "asyncio works nicely", "suggestion", feature=feature),
                WAIT_S)
            many = await asyncio.wait_for(asyncio.gather(*[
                c.submit_feedback_aio("aio %d" % i, feature=feature)
                for i in range(5)]), WAIT_S)
            got = await asyncio.wait_for(c.get_feedback_aio(fb.id), WAIT_S)
            fr = await asyncio.wait_for(
                c.submit_feature_request_aio(tag("aio request")), WAIT_S)
            v = await asyncio.wait_for(c.vote_aio(fr.id, "user-1"), WAIT_S)
            page = await asyncio.wait_for(
                c.feature_requests_aio(sort="recent", limit=100), WAIT_S)
            u = await asyncio.wait_for(c.unvote_aio(fr.id, "user-1"), WAIT_S)
            with self.assertRaises(telemetry.Rejected) as cm:
                await asyncio.wait_for(c.submit_feedback_aio(
                    "it breaks", "issue", summary="s"), WAIT_S)
            with self.assertRaises(telemetry.InvalidArgument):
                await c.submit_feedback_aio("x", "nonsense")
            return fb, many, got, fr, v, page, u, cm.exception

        fb, many, got, fr, v, page, u, rej = asyncio.run(main())
        self.assertIsInstance(fb, telemetry.Feedback)
        self.assertEqual(got.id, fb.id)
        self.assertEqual(len({m.id for m in many}), 5)
        self.assertIsInstance(fr, telemetry.FeatureRequest)
        self.assertEqual((v.votes, v.voted), (1, True))
        self.assertIn(fr.id, [i.id for i in page.items])
        self.assertEqual((u.votes, u.voted), (0, False))
        self.assertEqual(rej.status, 400)
        self.assertEqual(len(self.s.feedback(feature=feature)), 6)

    def test_asyncio_dead_endpoint_and_close(self):
        dead = self.client(DEAD, max_retries=0, connect_timeout_ms=500)
        waiting = self.client(require_consent=True)

        async def main():
            with self.assertRaises((telemetry.Unavailable,
                                    telemetry.Timeout)):
                await asyncio.wait_for(dead.submit_feedback_aio("x"), WAIT_S)
            task = asyncio.ensure_future(waiting.vote_aio("id", "user-1"))
            await asyncio.sleep(0)  # the call is made
            # close() blocks: run it off the loop, as an app would.
            await asyncio.get_running_loop().run_in_executor(
                None, waiting.close, 0.2)
            with self.assertRaises(CLOSED):
                await asyncio.wait_for(task, WAIT_S)

        asyncio.run(main())

    def test_no_reference_leak(self):
        c = self.client()
        keep_before = len(c._keep)
        rec = Recorder()
        futs = [c.submit_feedback_async("leak check %d" % i, callback=rec)
                for i in range(10)]
        futs.append(c.get_feedback_async("no-such-feedback", callback=rec))
        concurrent.futures.wait(futs, WAIT_S)
        self.assertTrue(all(f.done() for f in futs))
        # The callbacks ran (set_result runs them after waking waiters).
        for _ in range(int(WAIT_S / 0.05)):
            if len(rec.calls) == len(futs):
                break
            rec.event.clear()
            rec.event.wait(0.05)
        self.assertEqual(len(rec.calls), len(futs))
        self.assertEqual(_calls.pending_calls(), 0)
        self.assertEqual(len(c._keep), keep_before)  # no ctypes fn per call
        refs = [weakref.ref(f) for f in futs]
        cb_ref = weakref.ref(rec)
        del futs, rec
        gc.collect()
        self.assertEqual([r for r in refs if r() is not None], [])
        self.assertIsNone(cb_ref())


if __name__ == "__main__":
    unittest.main()
