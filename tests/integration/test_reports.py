#!/usr/bin/env python3
"""Analytics reports over real HTTP against telemetry-server.

Starts the real server (TLM_SERVER) on a fresh SQLite file, or, with
TLM_TEST_DB_BACKEND=postgresql, on a fresh database of TLM_TEST_PG_URL's
cluster (exit 77 when that is unset). Sends request and error events in
real batches, feedback and a feature request, then asks for every built-in
report in every format: content types and attachment names, the JSON
model, CSV parsed with the csv module whose numbers match the dashboard's
JSON for the same window, PDFs that are valid (header, trailer, metadata;
their text through pdftotext when poppler-utils is installed); unknown
reports, bad formats and windows, and non-admin callers. Every wait is
bounded.
"""

import csv
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_feedback_api import Server, call, wait_for, ADMIN, KEY_A, WAIT_S  # noqa: E402
from test_errors_api import error, send, uuid7, now_rfc3339  # noqa: E402

SKIP = 77
REPORTS = ["usage-summary", "endpoint-performance", "errors", "feedback",
           "feature-requests"]
TITLES = {"usage-summary": "Usage summary",
          "endpoint-performance": "Endpoint performance",
          "errors": "Errors", "feedback": "Feedback",
          "feature-requests": "Feature requests"}
TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "pdf": "application/pdf"}


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def request(endpoint, status, ms):
    return {"type": "request", "id": uuid7(), "timestamp": now_rfc3339(),
            "environment": "production", "sample_rate": 1,
            "endpoint": endpoint, "method": endpoint.split()[0],
            "response_status": status, "response_time": ms}


def fetch(server, path, key=ADMIN):
    """(status, headers, raw body bytes)."""
    req = urllib.request.Request(server.url + path)
    if key is not None:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=WAIT_S) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def rows_of(csv_bytes):
    text = csv_bytes.decode("utf-8")
    # RFC 4180: every record ends with CRLF, no bare LF outside quotes.
    assert text.endswith("\r\n"), text[-20:]
    return list(csv.reader(io.StringIO(text, newline="")))


class Reports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.s = Server("http://127.0.0.1:%d/hook" %
                       cls.httpd.server_address[1])
        events = [request("GET /v1/items", 200, 10 + i) for i in range(6)]
        events += [request("POST /v1/upload", 500, 120),
                   request("POST /v1/upload", 200, 80),
                   request("GET /v1/items/{id}", 404, 5)]
        send(cls.s, events)
        send(cls.s, [error('boom, "bad" thing'),
                     error("disk full", code="E_IO",
                           endpoint="POST /v1/upload"),
                     error("disk full", code="E_IO",
                           endpoint="POST /v1/upload", user="u2")])
        for text in ("Dashboards are slow", "Great, love the new charts"):
            st, doc, _ = call(cls.s, "POST", "/feedback", {
                "feedback_type": "general", "content": text})
            assert st == 201, (st, doc)
        st, doc, _ = call(cls.s, "POST", "/feature-requests", {
            "title": "Dark mode", "description": "please", "user_id": "u1"})
        assert st == 201, (st, doc)
        now = int(time.time() * 1000)
        cls.window = "from=%d&to=%d" % (now - 3600 * 1000, now + 60 * 1000)

        def ready():
            st, d, _ = call(cls.s, "GET", "/admin/analytics/dashboard?" +
                            cls.window, key=ADMIN)
            t = d["totals"] if st == 200 else {}
            return (t.get("events", 0) >= 9 and t.get("errors", 0) >= 3
                    and t.get("feedback", 0) >= 2 and d)
        cls.dash = wait_for(ready, "the events in the dashboard")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.httpd.shutdown()

    def report(self, rid, fmt, extra=""):
        st, h, body = fetch(self.s, "/admin/analytics/reports/%s?format=%s&%s%s"
                            % (rid, fmt, self.window, extra))
        self.assertEqual(st, 200, body[:300])
        return h, body

    def test_list_names_the_builtin_reports(self):
        st, doc, _ = call(self.s, "GET", "/admin/analytics/reports",
                          key=ADMIN)
        self.assertEqual(st, 200, doc)
        self.assertEqual([r["id"] for r in doc["items"]], REPORTS)
        for r in doc["items"]:
            self.assertTrue(r["builtin"])
            self.assertEqual(r["title"], TITLES[r["id"]])
            self.assertTrue(r["description"])

    def test_every_report_in_every_format(self):
        date = time.strftime("%Y-%m-%d",
                             time.gmtime(int(self.window[5:18]) / 1000))
        for rid in REPORTS:
            for fmt in ("json", "csv", "pdf"):
                with self.subTest(report=rid, format=fmt):
                    h, body = self.report(rid, fmt)
                    self.assertEqual(h["Content-Type"], TYPES[fmt])
                    self.assertEqual(h["Content-Disposition"],
                                     'attachment; filename="%s-%s.%s"'
                                     % (rid, date, fmt))
                    if fmt == "json":
                        m = json.loads(body)
                        self.assertEqual(m["id"], rid)
                        self.assertEqual(m["title"], TITLES[rid])
                        self.assertEqual(m["window"]["environment"],
                                         "production")
                        self.assertTrue(m["tables"])
                        self.assertTrue(m["charts"])
                        for t in m["tables"]:
                            for r in t["rows"]:
                                self.assertEqual(len(r), len(t["columns"]))
                    elif fmt == "csv":
                        rows = rows_of(body)
                        m = json.loads(self.report(rid, "json")[1])
                        self.assertEqual(rows[0], m["tables"][0]["columns"])
                        self.assertEqual(len(rows) - 1,
                                         len(m["tables"][0]["rows"]))
                    else:
                        self.check_pdf(body, TITLES[rid])

    def check_pdf(self, body, title):
        self.assertTrue(body.startswith(b"%PDF-"))
        self.assertTrue(body.rstrip().endswith(b"%%EOF"))
        self.assertIn(("/Title (%s)" % title).encode(), body)
        if shutil.which("pdftotext") is None:
            return
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(body)
            f.flush()
            text = subprocess.run(["pdftotext", "-layout", f.name, "-"],
                                  check=True, capture_output=True,
                                  text=True, timeout=WAIT_S).stdout
        self.assertIn(title, text)
        self.assertIn("Window: ", text)
        self.assertIn("environment: production", text)
        return text

    def test_pdf_shows_tables_and_chart_text(self):
        if shutil.which("pdftotext") is None:
            self.skipTest("pdftotext (poppler-utils) is not installed")
        _, body = self.report("usage-summary", "pdf")
        text = self.check_pdf(body, "Usage summary")
        self.assertIn("Requests per endpoint", text)
        self.assertIn("GET /v1/items", text)
        self.assertIn("POST /v1/upload", text)
        _, body = self.report("errors", "pdf")
        text = self.check_pdf(body, "Errors")
        self.assertIn("Events per error group", text)
        self.assertIn("E_IO: disk full", text)

    def test_csv_numbers_match_the_dashboard(self):
        eps = {e["endpoint"]: e for e in self.dash["endpoints"]}
        _, body = self.report("endpoint-performance", "csv")
        rows = rows_of(body)
        head = rows[0]
        self.assertEqual(len(rows) - 1, len(eps))
        for r in rows[1:]:
            e = eps[r[0]]
            for col in ("requests", "errors", "error_rate", "p50_ms",
                        "p95_ms", "p99_ms"):
                v = r[head.index(col)]
                if e[col] is None:
                    self.assertEqual(v, "")
                else:
                    self.assertEqual(float(v), e[col], col)
        _, body = self.report("usage-summary", "csv")
        rows = rows_of(body)
        total = sum(e["requests"] for e in eps.values())
        for r in rows[1:]:
            e = eps[r[0]]
            self.assertEqual(int(r[1]), e["requests"])
            # The dashboard's share when it has one, else computed here.
            share = e["share"] if "share" in e else e["requests"] / total
            self.assertAlmostEqual(float(r[2]), share, places=4)
        groups = {g["id"]: g for g in self.dash["errors"]["top_groups"]}
        raw = self.report("errors", "csv")[1]
        rows = rows_of(raw)
        self.assertEqual(len(rows) - 1, len(groups))
        for r in rows[1:]:
            self.assertEqual(r[1], groups[r[0]]["title"])
            self.assertEqual(float(r[rows[0].index("events")]),
                             groups[r[0]]["events"])
        # "boom, ..." holds a comma: quoted in the file, whole once parsed.
        boom = [r[1] for r in rows[1:] if r[1].startswith("E_FAIL: boom,")]
        self.assertEqual(len(boom), 1)
        self.assertIn(('"%s"' % boom[0].replace('"', '""')).encode(), raw)
        rows = rows_of(self.report("feedback", "csv")[1])
        cats = {c["category"]: c for c in self.dash["feedback"]["categories"]}
        self.assertEqual({r[0] for r in rows[1:]}, set(cats))
        for r in rows[1:]:
            self.assertEqual(int(r[1]), cats[r[0]]["count"])
        rows = rows_of(self.report("feature-requests", "csv")[1])
        fr = self.dash["feature_requests"]
        self.assertEqual({r[0]: int(r[1]) for r in rows[1:]},
                         {k: fr[k] for k in ("new", "votes",
                                             "status_changes")})

    def test_filters_are_applied_and_echoed(self):
        _, body = self.report("usage-summary", "json",
                              "&environment=sandbox&tier=pro")
        w = json.loads(body)["window"]
        self.assertEqual(w["environment"], "sandbox")
        self.assertEqual(w["tier"], "pro")
        self.assertIsNone(w["endpoint"])
        self.assertNotIn("not_applied", w)
        _, body = self.report("usage-summary", "json", "&environment=sandbox")
        self.assertEqual(json.loads(body)["tables"][0]["rows"], [])
        # The endpoint filter reaches the dashboard: the report lists what
        # the dashboard lists for the same filter (filtering itself is the
        # dashboard's, tested with it).
        q = "&endpoint=POST%20/v1/upload"
        rows = rows_of(self.report("endpoint-performance", "csv", q)[1])
        st, _, body = fetch(self.s, "/admin/analytics/dashboard?" +
                            self.window + q)
        self.assertEqual(st, 200)
        self.assertEqual([(r[0], int(r[1])) for r in rows[1:]],
                         [(e["endpoint"], e["requests"])
                          for e in json.loads(body)["endpoints"]])

    def test_bad_requests(self):
        for path, status, field in [
                ("/admin/analytics/reports/nope", 404, "report_id"),
                ("/admin/analytics/reports/errors?format=xml", 400,
                 "format"),
                ("/admin/analytics/reports/errors?format=", 400, "format")]:
            with self.subTest(path=path):
                st, h, body = fetch(self.s, path)
                self.assertEqual(st, status, body)
                self.assertEqual(h["Content-Type"], "application/json")
                self.assertEqual(json.loads(body)["field"], field)
        for q, word in [("from=yesterday", "from"), ("to=x", "to"),
                        ("from=2000&to=1000", "from"),
                        ("environment=staging", "environment"),
                        ("tier=" + "x" * 300, "tier"),
                        ("endpoint=", "endpoint")]:
            with self.subTest(query=q):
                st, _, body = fetch(
                    self.s, "/admin/analytics/reports/errors?format=pdf&" + q)
                self.assertEqual(st, 400, body)
                self.assertTrue(json.loads(body)["error"].startswith(word))
        st, h, _ = fetch(self.s, "/admin/analytics/reports/errors/x")
        self.assertEqual(st, 404)

    def test_admin_only(self):
        for path in ("/admin/analytics/reports",
                     "/admin/analytics/reports/errors?format=csv"):
            with self.subTest(path=path):
                self.assertEqual(fetch(self.s, path, key=None)[0], 401)
                self.assertEqual(fetch(self.s, path, key="wrong")[0], 401)
                self.assertEqual(fetch(self.s, path, key=KEY_A)[0], 403)
        req = urllib.request.Request(
            self.s.url + "/admin/analytics/reports", method="POST",
            data=b"{}", headers={"Authorization": "Bearer " + ADMIN})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=WAIT_S)
        self.assertEqual(e.exception.code, 405)


if __name__ == "__main__":
    if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
            and not os.environ.get("TLM_TEST_PG_URL")):
        print("TLM_TEST_PG_URL is not set: skipped")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
