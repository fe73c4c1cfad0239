"""The telemetry package against the real telemetry-server (TLM_SERVER) and
the real libtelemetry (TELEMETRY_LIBRARY). Every wait is bounded."""

import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import telemetry

from server import KEY, WAIT_S, Server

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(os.path.dirname(HERE), "telemetry")


def wait_for(pred, what):
    deadline = time.time() + WAIT_S
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def fetch_item(client):
    with client.timed("/py/timed/fail", method="GET") as call:
        call.user_id = "user-7"
        raise LookupError("item 42 is gone")


def _child(url, n):
    # A multiprocessing child (fork): the inherited client restarts its
    # worker at the first call here. Children end with os._exit, which
    # skips atexit, so flush before returning.
    client = _FORK_CLIENT
    for i in range(n):
        client.track_request("/py/fork/child", 200, 1.0)
    sys.exit(0 if client.flush(WAIT_S) else 3)


_FORK_CLIENT = None


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def client(self, **kw):
        c = telemetry.Client(endpoint=self.s.url, api_key=KEY,
                             flush_interval_ms=50, **kw)
        self.addCleanup(c.close)
        return c

    def test_track_flush_stored(self):
        c = self.client()
        self.assertTrue(c.track_request(
            "/py/track", 201, 12.5, method="POST", user_id="user-1",
            organization_id="org-1", access_tier="free",
            request_details={"method": "POST", "content_length": 12}))
        self.assertTrue(c.flush(WAIT_S))
        evs = [e for e in self.s.events("request")
               if e.get("endpoint") == "/py/track"]
        self.assertEqual(len(evs), 1)
        self.assertEqual(evs[0]["response_status"], 201)
        self.assertEqual(evs[0]["method"], "POST")
        self.assertNotEqual(evs[0].get("user_id"), "user-1")  # anonymized
        st = c.stats()
        self.assertIsInstance(st, telemetry.Stats)
        self.assertEqual((st.enqueued, st.sent), (1, 1))

    def test_context_manager_flushes_on_exit(self):
        with telemetry.Client(endpoint=self.s.url, api_key=KEY,
                              flush_interval_ms=60000) as c:
            for _ in range(5):
                c.track_request("/py/with", 200, 1.0)
        self.assertEqual(c.stats().sent, 5)
        self.assertFalse(c.enabled)
        with self.assertRaises(telemetry.ClientClosed):
            c.track_request("/py/with", 200, 1.0)
        self.assertEqual(self.s.count("/py/with"), 5)

    def test_config_dict_and_bad_option(self):
        c = self.client(config={"telemetry": {"environment": "sandbox"}})
        c.track_request("/py/config", 200, 1.0)
        c.flush(WAIT_S)
        ev = [e for e in self.s.events("request")
              if e.get("endpoint") == "/py/config"]
        self.assertEqual(ev[0]["environment"], "sandbox")
        with self.assertRaises(telemetry.ConfigError) as cm:
            telemetry.Client(config={"telemetry": {"flush_interval_ms": "x"}})
        self.assertIn("flush_interval_ms", str(cm.exception))
        with self.assertRaises(telemetry.InvalidArgument):
            telemetry.Client(endpoint=self.s.url, max_inflight=0)
        with self.assertRaises(TypeError):
            telemetry.Client(endpoint=self.s.url, no_such_option=1)

    def test_timed_success_and_decorator(self):
        c = self.client()
        with c.timed("/py/timed/ok", method="GET") as call:
            call.status = 404
        self.assertGreaterEqual(call.elapsed_ms, 0.0)

        @c.timed("/py/timed/deco", method="PUT")
        def put(x):
            return x * 2

        self.assertEqual(put(21), 42)
        self.assertEqual(put(1), 2)
        c.flush(WAIT_S)
        ok = [e for e in self.s.events("request")
              if e.get("endpoint") == "/py/timed/ok"]
        self.assertEqual([e["response_status"] for e in ok], [404])
        deco = [e for e in self.s.events("request")
                if e.get("endpoint") == "/py/timed/deco"]
        self.assertEqual([e["response_status"] for e in deco], [200, 200])

    def test_timed_failure_captures_traceback(self):
        c = self.client()
        with self.assertRaises(LookupError):
            fetch_item(c)
        c.flush(WAIT_S)
        req = [e for e in self.s.events("request")
               if e.get("endpoint") == "/py/timed/fail"]
        self.assertEqual(len(req), 1)
        self.assertEqual(req[0]["response_status"], 0)
        err = [e for e in self.s.events("error")
               if e.get("endpoint") == "/py/timed/fail"]
        self.assertEqual(len(err), 1)
        self.assertEqual(err[0]["error_code"], "LookupError")
        self.assertIn("item", err[0]["error_message"])
        self.assertIn("fetch_item", err[0]["stack_trace"])
        self.assertEqual(err[0].get("request_id"), req[0]["id"])

    def test_capture_exception(self):
        c = self.client()
        try:
            json.loads("{nope")
        except ValueError:
            self.assertTrue(c.capture_exception(
                endpoint="/py/capture", impact="high",
                request_details={"method": "GET"}))
        c.flush(WAIT_S)
        err = [e for e in self.s.events("error")
               if e.get("endpoint") == "/py/capture"]
        self.assertEqual(len(err), 1)
        self.assertEqual(err[0]["error_code"], "json.decoder.JSONDecodeError")
        self.assertIn("test_capture_exception", err[0]["stack_trace"])
        self.assertEqual(err[0]["impact"], "high")
        with self.assertRaises(ValueError):
            c.capture_exception()  # nothing being handled

    def test_feedback_round_trip(self):
        c = self.client()
        fb = c.submit_feedback("The SDK is really slow and the docs are "
                               "unclear", "suggestion",
                               endpoint="/v1/items", user_id="user-3")
        self.assertIsInstance(fb, telemetry.Feedback)
        self.assertTrue(fb.id)
        self.assertEqual(fb.feedback_type, "suggestion")
        self.assertLess(fb.sentiment, 0)
        self.assertFalse(fb.spooled)
        again = c.get_feedback(fb.id)
        self.assertEqual((again.id, again.content), (fb.id, fb.content))
        with self.assertRaises(telemetry.Rejected) as cm:
            c.get_feedback("no-such-feedback")
        self.assertEqual(cm.exception.status, 404)

    def test_rejected_on_400(self):
        c = self.client()
        with self.assertRaises(telemetry.Rejected) as cm:
            c.submit_feedback("it breaks", "issue", summary="s",
                              steps_to_reproduce="1. call it")
        e = cm.exception
        self.assertEqual(e.status, 400)
        self.assertIn("missing", str(e))
        self.assertEqual(sorted(e.json["missing"]), ["actual", "expected"])
        self.assertIsInstance(e, telemetry.TelemetryError)
        with self.assertRaises(telemetry.InvalidArgument):
            c.submit_feedback("x", "nonsense")

    def test_feature_requests_and_votes(self):
        c = self.client(anonymization_salt="py-salt")
        fr = c.submit_feature_request("Bulk export from Python",
                                      description="CSV", use_case="reports",
                                      user_id="user-9")
        self.assertIsInstance(fr, telemetry.FeatureRequest)
        self.assertEqual(fr.status, "submitted")
        v = c.vote(fr.id, "user-1")
        self.assertIsInstance(v, telemetry.Vote)
        self.assertEqual((v.id, v.votes, v.voted), (fr.id, 1, True))
        self.assertEqual(c.vote(fr.id, "user-1").votes, 1)  # idempotent
        self.assertEqual(c.vote(fr.id, "user-2").votes, 2)
        page = c.feature_requests(sort="votes", status=["submitted"],
                                  limit=100)
        self.assertIsInstance(page, telemetry.FeatureRequestPage)
        mine = [i for i in page.items if i.id == fr.id]
        self.assertEqual(mine[0].votes, 2)
        u = c.unvote(fr.id, "user-2")
        self.assertEqual((u.votes, u.voted), (1, False))
        with self.assertRaises(telemetry.Rejected) as cm:
            c.vote("no-such-request", "user-1")
        self.assertEqual(cm.exception.status, 404)

    def test_before_send_and_logger_on_worker_thread(self):
        seen, lines = [], []
        main = threading.get_ident()

        def hook(ev):
            seen.append((threading.get_ident(), ev.type, ev.endpoint))
            if ev.endpoint == "/py/hook/drop":
                return False
            if ev.endpoint == "/py/hook/raise":
                raise RuntimeError("a broken hook drops, never crashes")
            ev.set("method", "PATCH")
            return None

        c = self.client(before_send=hook)
        c.track_request("/py/hook/keep", 200, 1.0, method="GET")
        c.track_request("/py/hook/drop", 200, 1.0)
        c.track_request("/py/hook/raise", 200, 1.0)
        with self.assertLogs("telemetry", logging.ERROR):
            self.assertTrue(c.flush(WAIT_S))
        self.assertEqual(c.stats().dropped_before_send, 2)
        self.assertEqual({e for _, _, e in seen},
                         {"/py/hook/keep", "/py/hook/drop", "/py/hook/raise"})
        self.assertTrue(all(t != main for t, _, _ in seen))
        kept = [e for e in self.s.events("request")
                if e.get("endpoint", "").startswith("/py/hook/")]
        self.assertEqual([(e["endpoint"], e["method"]) for e in kept],
                         [("/py/hook/keep", "PATCH")])

        # A logger: a server that is not there makes the worker log.
        def logger(level, message):
            lines.append((threading.get_ident(), level, message))

        dead = telemetry.Client(endpoint="http://127.0.0.1:1", logger=logger,
                                max_retries=0)
        dead.track_request("/py/log", 200, 1.0)
        dead.flush(WAIT_S)
        dead.close(1)
        self.assertTrue(lines)
        self.assertTrue(all(t != main for t, _, _ in lines))
        self.assertIn(3, [lvl for _, lvl, _ in lines])  # ERROR: dropped

    def test_threads(self):
        c = self.client()
        n_threads, n = 8, 500

        def work(k):
            for i in range(n):
                c.track_request("/py/threads", 200, float(i),
                                user_id="u%d" % k)

        ts = [threading.Thread(target=work, args=(k,))
              for k in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertTrue(c.flush(WAIT_S))
        st = c.stats()
        self.assertEqual((st.enqueued, st.sent), (4000, 4000))
        self.assertEqual(self.s.count("/py/threads"), 4000)

    def test_fork_child_tracks(self):
        global _FORK_CLIENT
        c = _FORK_CLIENT = self.client()
        c.track_request("/py/fork/parent", 200, 1.0)  # worker running
        ctx = multiprocessing.get_context("fork")
        p = ctx.Process(target=_child, args=(self.s.url, 100))
        p.start()
        for _ in range(100):
            c.track_request("/py/fork/parent", 200, 1.0)
        p.join(WAIT_S)
        self.assertEqual(p.exitcode, 0)
        self.assertTrue(c.flush(WAIT_S))
        self.assertEqual(c.stats().sent, 101)  # the child's are not ours
        self.assertEqual(self.s.count("/py/fork/parent"), 101)
        self.assertEqual(self.s.count("/py/fork/child"), 100)

    def test_disabled_sends_nothing(self):
        c = self.client(enabled=False)
        self.assertFalse(c.enabled)
        self.assertFalse(c.track_request("/py/disabled", 200, 1.0))
        with self.assertRaises(telemetry.Disabled):
            c.submit_feedback("hello", "general")
        c2 = self.client()
        c2.enabled = False
        self.assertFalse(c2.track_request("/py/disabled", 200, 1.0))
        c2.enabled = True
        self.assertTrue(c2.enabled)
        c.flush(WAIT_S)
        c2.flush(WAIT_S)
        self.assertEqual(c.stats().dropped_disabled, 1)
        self.assertEqual(c2.stats().dropped_disabled, 1)
        self.assertEqual(c.stats().requests + c2.stats().requests, 0)
        self.assertEqual(self.s.count("/py/disabled"), 0)


def run_py(code, env):
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=WAIT_S)


class LibrarySearchTest(unittest.TestCase):
    def test_env_var_not_loadable(self):
        env = dict(os.environ, TELEMETRY_LIBRARY="/nonexistent/libt.so",
                   PYTHONPATH=os.path.dirname(PKG))
        r = run_py("import telemetry; telemetry.Client()", env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LibraryNotFoundError", r.stderr)
        self.assertIn("TELEMETRY_LIBRARY", r.stderr)
        self.assertIn("search order", r.stderr)
        with self.assertRaises(OSError) as cm:
            telemetry.load_library("/nonexistent/libt.so")
        self.assertIsInstance(cm.exception, telemetry.TelemetryError)
        self.assertIn("path argument", str(cm.exception))

    def test_package_copy_before_system(self):
        tmp = tempfile.mkdtemp(prefix="tlm-pycopy-")
        self.addCleanup(shutil.rmtree, tmp, True)
        dst = os.path.join(tmp, "telemetry")
        shutil.copytree(PKG, dst, ignore=shutil.ignore_patterns(
            "__pycache__", "*.so*"))
        shutil.copy(os.environ["TELEMETRY_LIBRARY"],
                    os.path.join(dst, "libtelemetry.so.0"))
        env = dict(os.environ, PYTHONPATH=tmp)
        del env["TELEMETRY_LIBRARY"]
        r = run_py("import telemetry; telemetry.load_library()\n"
                   "print([l.split()[-1] for l in open('/proc/self/maps')"
                   " if 'libtelemetry' in l][0])", env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(),
                         os.path.join(dst, "libtelemetry.so.0"))


if __name__ == "__main__":
    unittest.main()
