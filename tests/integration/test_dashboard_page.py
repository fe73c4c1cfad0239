#!/usr/bin/env python3
"""The admin dashboard page (GET /admin/) in a real headless Chromium.

Starts the real telemetry-server (TLM_SERVER) on SQLite with a production
and a sandbox ingestion key, sends request and error events, feedback and a
feature request through the real routes, then drives Chromium over the
DevTools protocol (the stdlib WebSocket client and helpers of
test_portal.py): the token is typed into the page's field and submitted
with a real key press; the numbers the page shows are checked against GET
/admin/analytics/dashboard fetched here with the same filters, before and
after switching the environment to sandbox; no URL the page requested holds
the token; the console has no errors and no CSP violation. A screenshot is
saved as dashboard.png in TLM_SCREENSHOT_DIR (meson: the build directory's
root), else in the current directory.

Exit status 77 (meson: skipped) only when Chromium is not installed. Every
wait is bounded; Chromium and the server are killed on the way out.
"""

import base64
import json
import math
import time
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_portal import (  # noqa: E402
    Browser, CDPError, Page, WebSocket, WAIT_S, deadline_loop, find_chromium,
    http_json, kill_process)
from test_errors_api import uuid7, now_rfc3339  # noqa: E402

SKIP = 77
ADMIN_TOKEN = "dash-test-admin-token-0123456789abcdef"
KEY_PROD = "dash-test-key-production-0123456789"
KEY_SANDBOX = "dash-test-key-sandbox-0123456789"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")


def rfc3339_ms(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        ".%03dZ" % (ms % 1000)


def request_event(endpoint, status, ms, environment="production",
                  tier="free"):
    return {"type": "request", "id": uuid7(), "timestamp": now_rfc3339(),
            "environment": environment, "sample_rate": 1,
            "endpoint": endpoint, "method": "GET",
            "response_status": status, "response_time": ms,
            "user_id": "user-%d" % (ms % 4), "access_tier": tier}


def start_chromium(tmp):
    """(process, Browser, log file); raises when DevTools never opens."""
    profile = os.path.join(tmp, "chromium")
    os.mkdir(profile)
    log = open(os.path.join(tmp, "chromium.log"), "wb")
    proc = subprocess.Popen(
        [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--no-proxy-server", "--user-data-dir=" + profile,
         "--remote-debugging-port=0", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    active = os.path.join(profile, "DevToolsActivePort")
    lines = []
    for _ in deadline_loop(30):
        if proc.poll() is not None:
            break
        try:
            with open(active) as f:
                lines = f.read().split()
        except OSError:
            lines = []
        if len(lines) >= 2:
            break
    if len(lines) < 2:
        kill_process(proc)
        log.close()
        raise AssertionError("chromium did not open its DevTools port: "
                             + open(log.name, errors="replace").read()[-2000:])
    return proc, Browser(WebSocket("127.0.0.1", int(lines[0]), lines[1])), log


class DashboardPageTest(unittest.TestCase):
    server = None
    chromium = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tlm-dash-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.start_server()
        cls.send_traffic()
        cls.chromium, cls.browser, log = start_chromium(cls.tmp)
        cls.addClassCleanup(log.close)
        cls.addClassCleanup(kill_process, cls.chromium)
        cls.addClassCleanup(cls.browser.ws.close)

    @classmethod
    def start_server(cls):
        config = {"server": {"api_keys": [
            {"key": KEY_PROD, "organization": "org-dash"},
            {"key": KEY_SANDBOX, "organization": "org-dash",
             "environment": "sandbox"}]},
            "analytics": {"real_time_dashboard_enabled": True,
                          "dashboard_refresh_seconds": 45}}
        cfg = os.path.join(cls.tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        portfile = os.path.join(cls.tmp, "port")
        log = open(os.path.join(cls.tmp, "server.log"), "wb")
        cls.addClassCleanup(log.close)
        cls.server = subprocess.Popen(
            [os.environ.get("TLM_SERVER", "server/telemetry-server"),
             "--listen", "127.0.0.1:0",
             "--db", "sqlite:%s/events.db" % cls.tmp, "--config", cfg,
             "--admin-token", ADMIN_TOKEN, "--port-file", portfile],
            stdout=log, stderr=subprocess.STDOUT)
        cls.addClassCleanup(kill_process, cls.server)
        port = None
        for _ in deadline_loop(WAIT_S):
            if cls.server.poll() is not None:
                break
            try:
                with open(portfile) as f:
                    port = int(f.read().strip() or 0) or None
            except (OSError, ValueError):
                port = None
            if port:
                break
        if not port:
            raise AssertionError("telemetry-server did not start: %s" % open(
                os.path.join(cls.tmp, "server.log"), errors="replace").read())
        cls.base = "http://127.0.0.1:%d" % port

    @classmethod
    def post(cls, path, body, key):
        st, _, raw = http_json("POST", cls.base + path, body,
                               {"Authorization": "Bearer " + key})
        if st not in (200, 201):
            raise AssertionError("%s: %d %s" % (path, st, raw[:300]))
        return json.loads(raw)

    @classmethod
    def send_traffic(cls):
        prod = [request_event("/v1/items/{id}", 503 if i % 10 == 0 else 200,
                              10 + i) for i in range(30)]
        prod += [request_event("/v1/users", 201, 50 + i, tier="pro")
                 for i in range(12)]
        prod.append({"type": "error", "id": uuid7(),
                     "timestamp": now_rfc3339(), "environment": "production",
                     "endpoint": "/v1/items/{id}", "error_code": "E_DASH",
                     "error_message": "upstream timed out", "user_id": "u1"})
        sandbox = [request_event("/v1/sandbox/ping", 200, 5 + i,
                                 environment="sandbox") for i in range(4)]
        for events, key in ((prod, KEY_PROD), (sandbox, KEY_SANDBOX)):
            doc = cls.post("/v1/batch", {
                "batch_id": uuid7(), "sent_at": now_rfc3339(),
                "sdk": {"name": "test", "version": "0"}, "events": events},
                key)
            if doc.get("accepted") not in (None, len(events)):
                raise AssertionError("batch: %r" % doc)
        # Ten days of hourly traffic on /v1/history ending two days ago
        # (outside the default 24-hour window), each event standing for
        # about 100 requests, four hours of it five times busier: an
        # anomaly in the 7-day window, and something to forecast.
        hour = 3600 * 1000
        now = int(time.time() * 1000)
        h0 = now - now % hour
        history = []
        for h in range(48, 288):
            w = 100 * (1 + 0.3 * math.sin(2 * math.pi * h / 24)) * (
                5 if 60 <= h <= 63 else 1)
            e = request_event("/v1/history", 200, 20)
            e["timestamp"] = rfc3339_ms(h0 - h * hour + 5 * 60 * 1000)
            e["sample_rate"] = 1.0 / w
            history.append(e)
        cls.post("/v1/batch", {"batch_id": uuid7(), "sent_at": now_rfc3339(),
                               "sdk": {"name": "test", "version": "0"},
                               "events": history}, KEY_PROD)
        cls.post("/feedback", {"feedback_type": "general",
                               "content": "The dashboard is great and fast"},
                 KEY_PROD)
        cls.post("/feature-requests", {"title": "Dark mode dashboard",
                                       "description": "Please",
                                       "use_case": "Night shifts"}, KEY_PROD)
        # stored (the write queue may still hold them for a moment)
        want = {"production": len(prod), "sandbox": len(sandbox)}
        got = {}
        for _ in deadline_loop(WAIT_S):
            for env in want:
                st, _, raw = http_json(
                    "GET", cls.base + "/admin/analytics/dashboard?environment="
                    + env, headers={"Authorization": "Bearer " + ADMIN_TOKEN})
                got[env] = json.loads(raw)["totals"]["events"] \
                    if st == 200 else None
            if got == want:
                break
        if got != want:
            raise AssertionError("events not stored: %r != %r" % (got, want))

    def setUp(self):
        self.page = Page(self.browser)
        self.page.call("Network.enable")

    def tearDown(self):
        self.page.close()

    # helpers ---------------------------------------------------------------

    def admin(self, path):
        st, _, body = http_json("GET", self.base + path, headers={
            "Authorization": "Bearer " + ADMIN_TOKEN})
        self.assertEqual(st, 200, body)
        return json.loads(body)

    def dashboard_json(self):
        """The JSON for the filters the page used in its last load."""
        f = self.page.eval(
            "(function () { var r = document.getElementById('range');"
            " return {from: r.dataset.from, to: r.dataset.to,"
            " environment: r.dataset.environment}; })()")
        return self.admin("/admin/analytics/dashboard?"
                          + urllib.parse.urlencode(f))

    def shown(self):
        return self.page.eval("""(function () {
          function v(id) { return document.getElementById(id).dataset.value; }
          var row = document.querySelector('#endpoints tbody tr');
          function cell(f) {
            var c = row && row.querySelector('[data-field=' + f + ']');
            return c ? c.dataset.value : null; }
          return {events: v('total-events'), errors: v('total-errors'),
            endpoint: row ? row.dataset.endpoint : null,
            requests: cell('requests'), p95: cell('p95_ms'),
            text: document.getElementById('total-events').textContent}; })()""")

    def loads(self):
        return int(self.page.eval(
            "document.documentElement.dataset.loads || '0'"))

    def assert_matches(self, doc):
        got = self.shown()
        self.assertEqual(int(got["events"]), doc["totals"]["events"])
        self.assertEqual(got["text"], "{:,}".format(doc["totals"]["events"]))
        self.assertEqual(int(got["errors"]), doc["totals"]["errors"])
        first = doc["endpoints"][0]
        self.assertEqual(got["endpoint"], first["endpoint"])
        self.assertEqual(int(got["requests"]), first["requests"])
        self.assertAlmostEqual(float(got["p95"]), first["p95_ms"], places=6)

    def assert_clean_console(self):
        self.assertEqual(self.page.console_problems(), [],
                         "console errors or CSP reports")
        self.assertEqual(self.page.eval("window.__csp || []"), [])

    def requested(self):
        """(url, headers) of every request the page made."""
        return [(e["params"]["request"]["url"],
                 e["params"]["request"].get("headers", {}))
                for e in self.page.my_events()
                if e["method"] == "Network.requestWillBeSent"]

    def sign_in(self):
        self.page.navigate(self.base + "/admin/")
        self.page.wait("document.documentElement.dataset.state === 'login'",
                       "the token form")
        self.page.type_into("#token", ADMIN_TOKEN)
        self.page.key("Enter")  # a real key press submits the form
        self.page.wait("document.documentElement.dataset.state === 'ready'",
                       "the first data load")

    # tests -----------------------------------------------------------------

    def test_headers_and_routes(self):
        for path, ctype in (
                ("/admin/", "text/html; charset=utf-8"),
                ("/admin/dashboard.js", "text/javascript; charset=utf-8"),
                ("/admin/dashboard.css", "text/css; charset=utf-8"),
                ("/admin/vendor/chart.umd.js",
                 "text/javascript; charset=utf-8")):
            st, h, body = http_json("GET", self.base + path)
            h = {k.lower(): v for k, v in h.items()}
            self.assertEqual(st, 200, path)
            self.assertEqual(h["content-type"], ctype, path)
            self.assertEqual(h["content-security-policy"], CSP, path)
            self.assertEqual(h["x-content-type-options"], "nosniff")
            self.assertEqual(h["referrer-policy"], "no-referrer")
            self.assertEqual(h["cache-control"], "no-cache")
            self.assertGreater(len(body), 100, path)
            st, _, _ = http_json("GET", self.base + path,
                                 headers={"If-None-Match": h["etag"]})
            self.assertEqual(st, 304, path)
        st, _, body = http_json("GET", self.base + "/admin/vendor/chart.umd.js")
        self.assertIn(b"window.Chart", body)
        self.assertNotIn(b"sourceMappingURL", body)
        html = http_json("GET", self.base + "/admin/")[2].decode()
        self.assertNotIn("<style", html)
        self.assertNotRegex(html, r"<script[^>]*>\s*[^<\s]")
        self.assertNotRegex(html, r"(?i)\s(on[a-z]+|style)\s*=")
        # only those paths are public: the data stays behind the token
        for path in ("/admin/analytics/dashboard", "/admin/feedback",
                     "/admin/feature-requests", "/admin/events"):
            st, _, _ = http_json("GET", self.base + path)
            self.assertEqual(st, 401, path)
        st, _, body = http_json("GET", self.base + "/admin/vendor/nope.js")
        self.assertEqual(st, 404)
        self.assertIn("error", json.loads(body))
        st, h, _ = http_json("POST", self.base + "/admin/", {})
        self.assertEqual(st, 405)

    def test_token_numbers_filters_and_screenshot(self):
        self.sign_in()
        self.assertEqual(self.page.eval("document.getElementById('token')"
                                        ".value"), "")
        self.assertEqual(self.page.eval(
            "sessionStorage.getItem('tlm.admin_token')"), ADMIN_TOKEN)
        prod = self.dashboard_json()
        self.assertEqual(prod["range"]["environment"], "production")
        self.assertEqual(prod["totals"]["events"], 43)
        self.assert_matches(prod)
        ranking = self.page.wait(
            "document.querySelector('#fr-ranking li[data-id]') ? "
            "document.getElementById('fr-ranking').textContent : null",
            "the feature-request ranking")
        self.assertIn("Dark mode dashboard", ranking)
        self.assertIn("upstream timed out", self.page.eval(
            "document.getElementById('error-groups').textContent"))
        self.assertTrue(self.page.eval(
            "!!Chart.getChart(document.getElementById('chart-traffic'))"))
        self.screenshot()

        # switching the environment refetches with environment=sandbox
        before = self.loads()
        self.page.select("#environment", "sandbox")
        self.page.wait("Number(document.documentElement.dataset.loads) > %d "
                       "&& document.documentElement.dataset.state === 'ready'"
                       " && document.getElementById('range').dataset"
                       ".environment === 'sandbox'" % before,
                       "the sandbox load")
        sandbox = self.dashboard_json()
        self.assertEqual(sandbox["range"]["environment"], "sandbox")
        self.assertEqual(sandbox["totals"]["events"], 4)
        self.assertNotEqual(sandbox["totals"]["events"],
                            prod["totals"]["events"])
        self.assert_matches(sandbox)
        self.assertEqual(self.shown()["endpoint"], "/v1/sandbox/ping")

        # the token travelled in headers only
        reqs = self.requested()
        data = [(u, h) for u, h in reqs
                if "/admin/analytics/dashboard" in u]
        self.assertGreaterEqual(len(data), 2)
        self.assertTrue(any("environment=sandbox" in u for u, _ in data))
        for url, headers in reqs:
            self.assertNotIn(ADMIN_TOKEN, urllib.parse.unquote(url), url)
        for url, headers in data:
            auth = {k.lower(): v for k, v in headers.items()}.get(
                "authorization")
            self.assertEqual(auth, "Bearer " + ADMIN_TOKEN, url)

        # a shorter window refetches with from/to one hour apart
        before = self.loads()
        self.page.select("#window", "1h")
        self.page.wait("Number(document.documentElement.dataset.loads) > %d "
                       "&& document.documentElement.dataset.state === 'ready'"
                       % before, "the one-hour load")
        span = self.page.eval(
            "(function () { var r = document.getElementById('range');"
            " return Date.parse(r.dataset.to) - Date.parse(r.dataset.from);"
            " })()")
        self.assertEqual(span, 3600 * 1000)
        self.assert_matches(self.dashboard_json())
        self.assertTrue(any("environment=sandbox" in u and "from=" in u
                            and "to=" in u for u, _ in self.requested()))
        self.assert_clean_console()

    def test_anomalies_forecast_and_live_refresh(self):
        self.sign_in()
        # The server's analytics.* settings start the live refresh.
        self.assertEqual(self.page.eval(
            "document.documentElement.dataset.live"), "on")
        self.assertTrue(self.page.eval("document.getElementById('live')"
                                       ".checked"))
        self.assertEqual(self.page.eval(
            "document.getElementById('interval').value"), "45")
        # The default 24 hours hold no anomaly: the table says so.
        self.page.wait("document.querySelector('#anomalies td.empty') ? "
                       "true : null", "the empty anomalies table")
        before = self.loads()
        self.page.select("#window", "7d")
        self.page.wait("Number(document.documentElement.dataset.loads) > %d "
                       "&& document.documentElement.dataset.state === 'ready'"
                       % before, "the 7-day load")
        f = self.page.eval(
            "(function () { var r = document.getElementById('range');"
            " return {from: r.dataset.from, to: r.dataset.to,"
            " environment: r.dataset.environment}; })()")
        want = self.admin("/admin/analytics/anomalies?"
                          + urllib.parse.urlencode(f))
        # The spike, and the silence since the traffic stopped: a drop.
        spikes = [a for a in want["anomalies"]
                  if a["endpoint"] == "/v1/history"
                  and a["metric"] == "volume" and a["observed"] > a["high"]]
        self.assertEqual(len(spikes), 1, want)
        self.assertEqual(spikes[0]["points_outside"], 4)
        rows = self.page.eval(
            "Array.prototype.map.call(document.querySelectorAll("
            "'#anomalies tbody tr[data-endpoint]'), function (r) {"
            " return [r.dataset.endpoint, r.dataset.metric, r.dataset.start,"
            " Number(r.querySelector('[data-value]').dataset.value)]; })")
        self.assertEqual(rows, [[a["endpoint"], a["metric"], a["start"],
                                 a["observed"]]
                                for a in want["anomalies"][:50]])
        # The forecast chart: a band and a line per endpoint, a week long.
        fc = self.admin("/admin/analytics/forecast?top=3&" +
                        urllib.parse.urlencode(f))
        self.assertIn("/v1/history",
                      [e["endpoint"] for e in fc["endpoints"]])
        shape = self.page.eval(
            "(function () { var c = Chart.getChart(document.getElementById("
            "'chart-forecast')); return c ? [c.data.datasets.length,"
            " c.data.labels.length] : null; })()")
        self.assertEqual(shape, [3 * len(fc["endpoints"]), 168])
        self.assert_clean_console()

    def screenshot(self):
        """The whole page (production numbers) as <dir>/dashboard.png."""
        size = self.page.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.page.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"],
                     "height": min(size["height"], 6000), "scale": 1}})
        out = os.path.join(os.environ.get("TLM_SCREENSHOT_DIR", os.getcwd()),
                           "dashboard.png")
        with open(out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print("test_dashboard_page: screenshot in %s" % out)
        self.assertGreater(os.path.getsize(out), 1000)

    def test_bad_token_and_accessibility(self):
        self.page.navigate(self.base + "/admin/")
        self.page.wait("document.documentElement.dataset.state === 'login'",
                       "the token form")
        self.page.type_into("#token", "not-the-token")
        self.page.click("#token-submit")
        msg = self.page.wait(
            "document.documentElement.dataset.state === 'login' && "
            "!document.getElementById('token-error').hidden ? "
            "document.getElementById('token-error').textContent : null",
            "the refusal")
        self.assertIn("401", msg)
        self.assertIsNone(self.page.eval(
            "sessionStorage.getItem('tlm.admin_token')"))
        self.assertTrue(self.page.eval("document.getElementById('dash')"
                                       ".hidden"))
        report = self.page.eval("""(function () {
          var out = [];
          document.querySelectorAll('input, select').forEach(function (e) {
            if (!e.labels || e.labels.length === 0) out.push('unlabelled ' + e.id);
          });
          document.querySelectorAll('table').forEach(function (t) {
            if (!t.querySelector('thead th[scope=col]')) out.push('no th ' + t.id);
          });
          if (!document.querySelector('h1')) out.push('no h1');
          if (document.querySelector('[style], [onclick], [onsubmit]')) out.push('inline');
          return out; })()""")
        self.assertEqual(report, [])
        # 401 from the bad token is the only console line allowed
        problems = [p for p in self.page.console_problems()
                    if "401" not in p]
        self.assertEqual(problems, [])
        self.assertEqual(self.page.eval("window.__csp || []"), [])


def main():
    if not find_chromium():
        print("test_dashboard_page: chromium is not installed (scripts/test "
              "installs it): skipped")
        sys.exit(SKIP)
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
