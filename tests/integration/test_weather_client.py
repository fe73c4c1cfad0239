#!/usr/bin/env python3
"""The weather-client example end to end: the stub Weather API
(examples/weather-client/stub-server.py) and the real telemetry-server;
the C weather-cli (WEATHER_CLI) and the Python client
(examples/weather-client/python, over bindings/python with
TELEMETRY_LIBRARY) make real calls, and GET /admin/events shows what the
vendor's instrumentation sent: templated endpoints without city names,
statuses, an error event for the 500, nothing at all with
WEATHER_TELEMETRY=0. Exits 77 (skipped) in sanitizer builds
(TLM_PYTHON_SKIP) or without WEATHER_CLI."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "weather-client")
sys.path.insert(0, HERE)
from test_feedback_api import Server, call, wait_for, ADMIN, KEY_A  # noqa: E402

SKIP = 77
CITIES = ("oslo", "Oslo", "lisbon", "crash", "atlantis", "slow")


class Stub:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tlm-weather-")
        pf = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLE, "stub-server.py"),
             "--port-file", pf])
        wait_for(lambda: os.path.exists(pf) or self.proc.poll() is not None,
                 "the stub API")
        if self.proc.poll() is not None:
            raise RuntimeError("stub-server.py exited")
        with open(pf) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)


class WeatherClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub = Stub()
        cls.s = Server("http://127.0.0.1:9/none")
        cls.env = dict(os.environ, WEATHER_API_URL=cls.stub.url,
                       WEATHER_API_KEY="user-key-1",
                       WEATHER_TELEMETRY_ENDPOINT=cls.s.url,
                       WEATHER_TELEMETRY_KEY=KEY_A,
                       PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
        for k in ("DO_NOT_TRACK", "TELEMETRY_OPTOUT", "WEATHER_TELEMETRY"):
            cls.env.pop(k, None)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.stub.stop()

    def events(self):
        st, doc, _ = call(self.s, "GET", "/admin/events?limit=1000",
                          key=ADMIN)
        self.assertEqual(st, 200, doc)
        return doc["items"]

    def run_cli(self, lang, *args, env=None):
        if lang == "c":
            cmd = [os.environ["WEATHER_CLI"], *args]
        else:
            cmd = [sys.executable,
                   os.path.join(EXAMPLE, "python", "weather_cli.py"), *args]
        return subprocess.run(cmd, env=dict(self.env, **(env or {})),
                              capture_output=True, text=True, timeout=60)

    def new_events(self, before, n):
        """Waits until exactly `n` events arrived after `before` (a count)
        and returns them, oldest first."""
        wait_for(lambda: len(self.events()) >= before + n, "%d events" % n)
        items = self.events()
        self.assertEqual(len(items), before + n, items[:n + 2])
        return list(reversed(items[:n]))

    def check_endpoints(self, evs):
        for e in evs:
            self.assertIn(e["endpoint"], ("GET /v1/current/{city}",
                                          "GET /v1/forecast/{city}"), e)
            for c in CITIES:
                self.assertNotIn(c, e["endpoint"])

    def calls(self, lang):
        before = len(self.events())
        r = self.run_cli(lang, "current", "oslo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Oslo: 3.5 C, 81% humidity, cloudy", r.stdout)
        r = self.run_cli(lang, "forecast", "lisbon", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 3, r.stdout)
        self.assertIn("2026-01-01:", r.stdout)
        r = self.run_cli(lang, "current", "slow")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Slowtown", r.stdout)
        r = self.run_cli(lang, "current", "atlantis")
        self.assertEqual(r.returncode, 1)
        r = self.run_cli(lang, "current", "crash")
        self.assertEqual(r.returncode, 1)
        self.assertIn("rror", r.stderr)
        # 5 requests and one error (the 500); the 404 is no error.
        evs = self.new_events(before, 6)
        reqs = [e for e in evs if e["type"] == "request"]
        errs = [e for e in evs if e["type"] == "error"]
        self.assertEqual(len(reqs), 5, evs)
        self.assertEqual(len(errs), 1, evs)
        self.check_endpoints(evs)
        self.assertEqual([e.get("response_status") for e in reqs],
                         [200, 200, 200, 404, 500])
        self.assertEqual([e["endpoint"] for e in reqs],
                         ["GET /v1/current/{city}",
                          "GET /v1/forecast/{city}"] +
                         ["GET /v1/current/{city}"] * 3)
        for e in reqs:
            self.assertEqual(e.get("method"), "GET", e)
            self.assertGreaterEqual(e["response_time"], 0)
        self.assertEqual(errs[0]["endpoint"], "GET /v1/current/{city}")
        self.assertTrue(errs[0].get("error_message"), errs[0])
        return reqs, errs

    def test_c_cli_sends_templated_requests_and_the_500(self):
        reqs, errs = self.calls("c")
        self.assertEqual(errs[0]["error_code"], "HTTP_500")
        self.assertEqual(reqs[1].get("request_details"), {"days": 3})

    def test_python_client_sends_templated_requests_and_the_500(self):
        reqs, errs = self.calls("python")
        self.assertIn("ServerError", errs[0]["error_code"])
        self.assertEqual(reqs[1].get("request_details"), {"days": 3})

    def test_transport_failure_is_an_error_event(self):
        before = len(self.events())
        r = self.run_cli("c", "--base-url", "http://127.0.0.1:9",
                         "current", "oslo")
        self.assertEqual(r.returncode, 1)
        evs = self.new_events(before, 2)
        req = [e for e in evs if e["type"] == "request"][0]
        err = [e for e in evs if e["type"] == "error"][0]
        self.assertEqual(req.get("response_status", 0), 0)
        self.assertTrue(err["error_code"].startswith("CURLE_"), err)

    def test_opt_out_sends_nothing(self):
        for lang in ("c", "python"):
            before = len(self.events())
            r = self.run_cli(lang, "current", "crash",
                             env={"WEATHER_TELEMETRY": "0"})
            self.assertEqual(r.returncode, 1)
            r = self.run_cli(lang, "current", "oslo",
                             env={"WEATHER_TELEMETRY": "0"})
            self.assertEqual(r.returncode, 0, r.stderr)
            # A marker sent afterwards, by a process started after the
            # opted-out ones exited (they flush on exit): only it arrives.
            r = self.run_cli(lang, "current", "lisbon")
            self.assertEqual(r.returncode, 0, r.stderr)
            evs = self.new_events(before, 1)
            self.assertEqual(evs[0]["response_status"], 200)


if __name__ == "__main__":
    if os.environ.get("TLM_PYTHON_SKIP"):
        print("skipped: " + os.environ["TLM_PYTHON_SKIP"])
        sys.exit(SKIP)
    if not os.environ.get("WEATHER_CLI"):
        print("skipped: WEATHER_CLI is not set")
        sys.exit(SKIP)
    unittest.main()
