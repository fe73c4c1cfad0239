#!/usr/bin/env python3
"""Saved and scheduled reports over real HTTP against telemetry-server.

Starts the real server (TLM_SERVER) on a fresh SQLite file, or, with
TLM_TEST_DB_BACKEND=postgresql, on a fresh database of TLM_TEST_PG_URL's
cluster (exit 77 when that is unset), with an `analytics` section holding
an hourly saved report and an unscheduled one, and a local webhook
receiver. Checks: the hourly schedule runs the slot that just passed at
start (no waiting for the wall clock), the run is listed at GET
/admin/analytics/reports and served in JSON, CSV and PDF equal to the
on-demand report for the same window; POST .../{id}/run runs a report now;
every run reaches the webhook as a correctly signed report.generated
delivery; saved reports render with their filters; errors; and with
scheduled_reports_enabled false no scheduled run is ever made. Every wait
is bounded.
"""

import hashlib
import hmac
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_feedback_api import (Server, call, wait_for, ADMIN, KEY_A,  # noqa: E402
                               SECRET, WAIT_S)
from test_errors_api import send  # noqa: E402
from test_reports import request, fetch  # noqa: E402

SKIP = 77
HOUR_MS = 3600 * 1000
TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "pdf": "application/pdf"}


class Hook(http.server.BaseHTTPRequestHandler):
    """The webhook receiver: records every delivery."""

    lock = threading.Lock()
    got = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Hook.lock:
            Hook.got.append((dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def deliveries(run_id):
    with Hook.lock:
        return [(h, b) for h, b in Hook.got
                if h.get("X-Telemetry-Event") == "report.generated"
                and json.loads(b)["run"]["id"] == run_id]


def analytics(enabled):
    return {"analytics": {
        "scheduled_reports_enabled": enabled,
        "dashboard_refresh_seconds": 15,
        "reports": [
            {"id": "hourly-usage", "title": "Hourly usage",
             "report": "usage-summary", "window": "2h",
             "schedule": {"every": "hourly",
                          "formats": ["json", "csv", "pdf"]}},
            {"id": "items-perf", "report": "endpoint-performance",
             "window": "1d", "endpoint": "GET /v1/items"}]}}


def pdf_text(body):
    """The PDF's text through pdftotext, or None without poppler-utils."""
    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    out = subprocess.run([exe, "-", "-"], input=body, capture_output=True,
                         check=True)
    return out.stdout.decode("utf-8")


def ms_of(rfc3339):
    from datetime import datetime
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
               .timestamp() * 1000)


def saved(server, rid):
    st, doc, _ = call(server, "GET", "/admin/analytics/reports", key=ADMIN)
    assert st == 200, (st, doc)
    return [r for r in doc["items"] if r["id"] == rid][0], doc


class Base(unittest.TestCase):
    enabled = True

    @classmethod
    def setUpClass(cls):
        if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
                and not os.environ.get("TLM_TEST_PG_URL")):
            raise unittest.SkipTest("TLM_TEST_PG_URL is not set")
        with Hook.lock:
            Hook.got.clear()
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.started_ms = int(time.time() * 1000)
        cls.s = Server("http://127.0.0.1:%d/hook" %
                       cls.httpd.server_address[1],
                       extra_config=analytics(cls.enabled))

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.httpd.shutdown()

    def check_signed(self, h, body):
        ts = h["X-Telemetry-Timestamp"]
        want = hmac.new(SECRET.encode(), ts.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
        self.assertEqual(h["X-Telemetry-Signature"], "sha256=" + want)

    def check_run_matches_on_demand(self, run):
        """Each stored format against the report asked for now."""
        window = "from=%d&to=%d" % (ms_of(run["from"]), ms_of(run["to"]))
        for fmt, url in run["urls"].items():
            st, h, body = fetch(self.s, url)
            self.assertEqual(st, 200, body[:300])
            self.assertEqual(h["Content-Type"], TYPES[fmt])
            self.assertIn("attachment; filename=\"hourly-usage-",
                          h["Content-Disposition"])
            st, _, fresh = fetch(self.s, "/admin/analytics/reports/"
                                 "hourly-usage?format=%s&%s" % (fmt, window))
            self.assertEqual(st, 200, fresh[:300])
            if fmt == "json":
                self.assertEqual(json.loads(body), json.loads(fresh))
            elif fmt == "csv":
                self.assertEqual(body, fresh)
            else:
                self.assertTrue(body.startswith(b"%PDF-"))
                self.assertIn(b"%%EOF", body[-32:])
                text = pdf_text(body)
                if text is not None:
                    self.assertEqual(text, pdf_text(fresh))
                    self.assertIn("Hourly usage", text)


class ScheduledReports(Base):
    enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        send(cls.s, [request("GET /v1/items", 200, 10 + i) for i in range(5)]
             + [request("POST /v1/upload", 500, 120)])

    def scheduled_run(self):
        def found():
            r, _ = saved(self.s, "hourly-usage")
            runs = [x for x in r["runs"] if x["trigger"] == "schedule"]
            return runs[0] if runs else None
        return wait_for(found, "the scheduled run")

    def test_scheduled_run_listed_served_and_delivered(self):
        run = self.scheduled_run()
        slot = ms_of(run["scheduled_for"])
        self.assertEqual(slot % HOUR_MS, 0)
        self.assertGreaterEqual(slot, self.started_ms // HOUR_MS * HOUR_MS)
        self.assertLessEqual(slot, int(time.time() * 1000))
        self.assertEqual(ms_of(run["to"]), slot)
        self.assertEqual(ms_of(run["from"]), slot - 2 * HOUR_MS)
        self.assertEqual(run["formats"], ["json", "csv", "pdf"])
        self.check_run_matches_on_demand(run)

        got = wait_for(lambda: deliveries(run["id"]), "its webhook delivery")
        h, body = got[0]
        self.check_signed(h, body)
        doc = json.loads(body)
        self.assertEqual(doc["type"], "report.generated")
        self.assertEqual(doc["delivery_id"], h["X-Telemetry-Delivery"])
        self.assertEqual(doc["report"], {"id": "hourly-usage",
                                         "title": "Hourly usage",
                                         "report": "usage-summary"})
        self.assertEqual(doc["run"]["trigger"], "schedule")
        self.assertEqual(doc["run"]["scheduled_for"], run["scheduled_for"])
        self.assertEqual(doc["run"]["formats"], run["urls"])
        self.assertEqual(doc["run"]["window"]["from"], run["from"])
        st, _, stored = fetch(self.s, run["urls"]["json"])
        self.assertEqual(doc["content"], json.loads(stored))

    def test_one_run_per_slot(self):
        run = self.scheduled_run()
        r, _ = saved(self.s, "hourly-usage")
        same = [x for x in r["runs"]
                if x["scheduled_for"] == run["scheduled_for"]]
        self.assertEqual(len(same), 1)

    def test_run_now_stores_and_delivers(self):
        st, doc, _ = call(self.s, "POST",
                          "/admin/analytics/reports/hourly-usage/run",
                          {"formats": ["csv", "json"]}, key=ADMIN)
        self.assertEqual(st, 201, doc)
        self.assertEqual(doc["trigger"], "manual")
        self.assertEqual(doc["formats"], ["json", "csv"])
        r, _ = saved(self.s, "hourly-usage")
        listed = [x for x in r["runs"] if x["id"] == doc["id"]]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["urls"], doc["urls"])
        # The events sent at start are in this run's window.
        st, _, body = fetch(self.s, doc["urls"]["json"])
        model = json.loads(body)
        rows = {row[0]: row[1] for row in model["tables"][0]["rows"]}
        self.assertEqual(rows.get("GET /v1/items"), 5)
        self.assertEqual(rows.get("POST /v1/upload"), 1)
        self.check_run_matches_on_demand(listed[0])
        got = wait_for(lambda: deliveries(doc["id"]), "its webhook delivery")
        self.check_signed(*got[0])
        self.assertEqual(json.loads(got[0][1])["run"]["trigger"], "manual")
        # A PDF is not among the stored formats of this run.
        st, _, _ = fetch(self.s, doc["urls"]["csv"].replace("csv", "pdf"))
        self.assertEqual(st, 404)

    def test_list_shows_saved_reports(self):
        r, doc = saved(self.s, "hourly-usage")
        self.assertTrue(doc["scheduled_reports_enabled"])
        ids = [x["id"] for x in doc["items"]]
        self.assertEqual(ids[-2:], ["hourly-usage", "items-perf"])
        self.assertFalse(r["builtin"])
        self.assertEqual(r["report"], "usage-summary")
        self.assertEqual(r["window_hours"], 2)
        self.assertEqual(r["schedule"], {"every": "hourly", "at": None,
                                         "weekday": None,
                                         "formats": ["json", "csv", "pdf"]})
        nxt = ms_of(r["next_run_at"])
        self.assertEqual(nxt % HOUR_MS, 0)
        self.assertGreater(nxt, self.started_ms)
        p, _ = saved(self.s, "items-perf")
        self.assertIsNone(p["schedule"])
        self.assertIsNone(p["next_run_at"])
        self.assertEqual(p["filters"], {"environment": None, "tier": None,
                                        "endpoint": "GET /v1/items"})
        self.assertEqual(p["runs"], [])

    def test_saved_report_on_demand_uses_its_filters(self):
        st, h, body = fetch(self.s, "/admin/analytics/reports/items-perf")
        self.assertEqual(st, 200, body[:300])
        model = json.loads(body)
        self.assertEqual(model["id"], "items-perf")
        self.assertEqual(model["report"], "endpoint-performance")
        self.assertEqual(model["window"]["endpoint"], "GET /v1/items")
        self.assertEqual(ms_of(model["window"]["to"])
                         - ms_of(model["window"]["from"]), 24 * HOUR_MS)
        self.assertEqual([row[0] for row in model["tables"][0]["rows"]],
                         ["GET /v1/items"])
        # Query parameters override the saved ones.
        st, h, body = fetch(self.s, "/admin/analytics/reports/items-perf?"
                            "format=csv&endpoint=POST%20/v1/upload")
        self.assertEqual(st, 200, body[:300])
        self.assertIn(b"POST /v1/upload", body)
        self.assertNotIn(b"GET /v1/items", body)

    def test_errors(self):
        cases = [
            ("POST", "/admin/analytics/reports/nope/run", ADMIN, 404),
            ("POST", "/admin/analytics/reports/usage-summary/run", ADMIN, 404),
            ("POST", "/admin/analytics/reports/hourly-usage/run", KEY_A, 403),
            ("POST", "/admin/analytics/reports/hourly-usage/run", None, 401),
            ("GET", "/admin/analytics/reports/hourly-usage/runs/nope", ADMIN,
             404),
            ("GET", "/admin/analytics/reports/hourly-usage/runs/x?format=xls",
             ADMIN, 400),
            ("GET", "/admin/analytics/reports/hourly-usage/runs/x", KEY_A,
             403),
            ("GET", "/admin/analytics/reports/hourly-usage?format=xls",
             ADMIN, 400),
            ("GET", "/admin/analytics/reports/hourly-usage?from=yesterday",
             ADMIN, 400),
        ]
        for method, path, key, want in cases:
            st, doc, _ = call(self.s, method, path, key=key)
            self.assertEqual(st, want, (method, path, doc))
        st, doc, _ = call(self.s, "POST",
                          "/admin/analytics/reports/hourly-usage/run",
                          {"formats": ["xls"]}, key=ADMIN)
        self.assertEqual(st, 400, doc)
        self.assertEqual(doc["field"], "formats")
        # A run is served under its own report only.
        run = self.scheduled_run()
        st, _, _ = fetch(self.s, run["urls"]["json"].replace(
            "hourly-usage", "items-perf"))
        self.assertEqual(st, 404)

    def test_dashboard_says_real_time(self):
        st, doc, _ = call(self.s, "GET", "/admin/analytics/dashboard",
                          key=ADMIN)
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["real_time"], {"enabled": True,
                                            "refresh_seconds": 15})


class SchedulesDisabled(Base):
    enabled = False

    def test_no_scheduled_runs(self):
        # The maintenance thread's first pass (which runs due schedules
        # when they are enabled) has happened once this is logged.
        wait_for(lambda: "rollup compaction" in self.s.read_log(),
                 "the first maintenance pass")
        st, doc, _ = call(self.s, "POST",
                          "/admin/analytics/reports/hourly-usage/run",
                          key=ADMIN)
        self.assertEqual(st, 201, doc)
        self.assertEqual(doc["formats"], ["json", "csv", "pdf"])
        wait_for(lambda: deliveries(doc["id"]), "the manual run's delivery")
        r, listing = saved(self.s, "hourly-usage")
        self.assertFalse(listing["scheduled_reports_enabled"])
        self.assertIsNone(r["next_run_at"])
        self.assertEqual([x["trigger"] for x in r["runs"]], ["manual"])
        with Hook.lock:
            kinds = [json.loads(b)["run"]["trigger"] for h, b in Hook.got
                     if h.get("X-Telemetry-Event") == "report.generated"]
        self.assertEqual(kinds, ["manual"])


if __name__ == "__main__":
    if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
            and not os.environ.get("TLM_TEST_PG_URL")):
        print("TLM_TEST_PG_URL is not set: skipped")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
