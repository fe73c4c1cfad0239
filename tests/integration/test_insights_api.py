#!/usr/bin/env python3
"""Anomalies and forecasts over real HTTP against telemetry-server.

Sends request events through POST /v1/batch (SQLite, or PostgreSQL with
TLM_TEST_DB_BACKEND=postgresql; exit 77 when TLM_TEST_PG_URL is unset),
each standing for many requests through its sample_rate, so ten days of
hourly traffic take a few hundred events. Plants a volume spike of one
endpoint four hours long and an error burst of another ten minutes long,
then checks GET /admin/analytics/anomalies finds each (and nothing on a
steady endpoint), and GET /admin/analytics/forecast gives a week of hourly
points with a band around the steady endpoint's level.
"""

import calendar
import math
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_feedback_api import Server, call, ADMIN, KEY_A  # noqa: E402
from test_errors_api import uuid7  # noqa: E402

SKIP = 77
MIN = 60 * 1000
HOUR = 60 * MIN


def rfc3339(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        ".%03dZ" % (ms % 1000)


def parse(text):
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) \
        * 1000


def request(endpoint, ts_ms, weight, status=200, latency=20.0):
    return {"type": "request", "id": uuid7(), "timestamp": rfc3339(ts_ms),
            "environment": "production", "sample_rate": 1.0 / weight,
            "endpoint": endpoint, "method": "GET", "response_status": status,
            "response_time": latency, "user_id": "u1"}


def send(server, events):
    for i in range(0, len(events), 500):
        part = events[i:i + 500]
        body = {"batch_id": uuid7(),
                "sent_at": rfc3339(int(time.time() * 1000)),
                "sdk": {"name": "test", "version": "0"}, "events": part}
        st, doc, _ = call(server, "POST", "/v1/batch", body, key=KEY_A)
        assert st == 200 and doc["accepted"] == len(part), doc


class InsightsApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("http://127.0.0.1:9/unused")
        now = int(time.time() * 1000)
        cls.hour0 = now - now % HOUR  # the current hour's start
        cls.min0 = now - now % MIN
        rnd = random.Random(7)
        events = []
        # Ten days of hourly traffic with a daily cycle and 3% noise. The
        # spike: /v1/spiky at 5x for hours 10..7 before the current one.
        for h in range(1, 241):
            t = cls.hour0 - h * HOUR + 5 * MIN
            level = 100 * (1 + 0.3 * math.sin(2 * math.pi * (t // HOUR) / 24))
            for ep in ("/v1/steady", "/v1/spiky"):
                w = level * (1 + rnd.uniform(-0.03, 0.03))
                if ep == "/v1/spiky" and 7 <= h <= 10:
                    w *= 5
                events.append(request(ep, t, w))
        # Five hours of minute traffic on /v1/bursty, every request failing
        # for the ten minutes 40..31 minutes ago.
        for m in range(1, 301):
            failing = 31 <= m <= 40
            events.append(request("/v1/bursty", cls.min0 - m * MIN + 10000,
                                  20, 500 if failing else 200))
        send(cls.s, events)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def get(self, path):
        st, d, _ = call(self.s, "GET", path, key=ADMIN)
        self.assertEqual(st, 200, d)
        return d

    def test_hourly_volume_spike_found_steady_quiet(self):
        d = self.get("/admin/analytics/anomalies?top=5")
        self.assertEqual(d["step_ms"], HOUR)
        self.assertIn("/v1/spiky", d["endpoints_checked"])
        self.assertIn("/v1/steady", d["endpoints_checked"])
        spikes = [a for a in d["anomalies"]
                  if a["endpoint"] == "/v1/spiky" and a["metric"] == "volume"]
        self.assertEqual(len(spikes), 1, d["anomalies"])
        a = spikes[0]
        self.assertEqual(parse(a["start"]), self.hour0 - 10 * HOUR)
        self.assertEqual(parse(a["end"]), self.hour0 - 6 * HOUR)
        self.assertGreater(a["observed"], a["high"])
        self.assertLess(a["low"], a["expected"])
        self.assertLess(a["expected"], a["high"])
        self.assertGreater(a["severity"], 1)
        self.assertIn(a["severity_label"], ("low", "medium", "high",
                                            "critical"))
        self.assertFalse(a["ongoing"])
        self.assertEqual(a["points_outside"], 4)
        self.assertEqual(
            [a for a in d["anomalies"] if a["endpoint"] == "/v1/steady"], [])
        sev = [a["severity"] for a in d["anomalies"]]
        self.assertEqual(sev, sorted(sev, reverse=True))

    def test_minute_error_burst_found(self):
        frm = rfc3339(self.min0 - 3 * HOUR)
        d = self.get("/admin/analytics/anomalies?endpoint=/v1/bursty&from="
                     + frm)
        self.assertEqual(d["step_ms"], MIN)
        self.assertEqual(d["endpoints_checked"], ["/v1/bursty"])
        bursts = [a for a in d["anomalies"] if a["metric"] == "error_rate"]
        self.assertEqual(len(bursts), 1, d["anomalies"])
        b = bursts[0]
        self.assertEqual(parse(b["start"]), self.min0 - 40 * MIN)
        self.assertEqual(parse(b["end"]), self.min0 - 30 * MIN)
        self.assertEqual(b["observed"], 1)
        self.assertLess(b["high"], 1)

    def test_forecast_week_of_hours_with_band(self):
        d = self.get("/admin/analytics/forecast?endpoint=/v1/steady")
        self.assertEqual(d["horizon_hours"], 168)
        self.assertEqual(len(d["endpoints"]), 1)
        f = d["endpoints"][0]
        self.assertEqual(f["endpoint"], "/v1/steady")
        self.assertEqual(f["method"], "holt_winters")
        self.assertEqual(f["history_hours"], 240)
        self.assertEqual(f["band"], 0.8)
        pts = f["points"]
        self.assertEqual(len(pts), 168)
        self.assertEqual(parse(pts[0]["t"]), self.hour0)
        self.assertEqual(parse(pts[-1]["t"]), self.hour0 + 167 * HOUR)
        for p in pts:
            self.assertLessEqual(p["low"], p["expected"])
            self.assertLessEqual(p["expected"], p["high"])
        mean = sum(p["expected"] for p in pts) / len(pts)
        self.assertGreater(mean, 80)
        self.assertLess(mean, 120)
        # The daily cycle carries on: the peak hour beats the trough.
        hi = max(p["expected"] for p in pts[:24])
        lo = min(p["expected"] for p in pts[:24])
        self.assertGreater(hi, 1.3 * lo)
        d = self.get("/admin/analytics/forecast?days=1&top=2")
        self.assertEqual(d["horizon_hours"], 24)
        self.assertEqual(len(d["endpoints"]), 2)
        self.assertTrue(all(len(e["points"]) == 24 for e in d["endpoints"]))

    def test_bad_parameters_and_auth(self):
        for path, field in (("/admin/analytics/anomalies?top=0", "top"),
                            ("/admin/analytics/anomalies?top=21", "top"),
                            ("/admin/analytics/forecast?days=15", "days"),
                            ("/admin/analytics/forecast?days=x", "days")):
            st, d, _ = call(self.s, "GET", path, key=ADMIN)
            self.assertEqual(st, 400, path)
            self.assertEqual(d["field"], field)
        st, d, _ = call(self.s, "GET",
                        "/admin/analytics/anomalies?environment=qa",
                        key=ADMIN)
        self.assertEqual(st, 400)
        self.assertEqual(d["field"], "environment")
        for path in ("/admin/analytics/anomalies",
                     "/admin/analytics/forecast"):
            self.assertEqual(call(self.s, "GET", path, key=None)[0], 401)
            self.assertEqual(call(self.s, "GET", path, key=KEY_A)[0], 403)


if __name__ == "__main__":
    if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
            and not os.environ.get("TLM_TEST_PG_URL")):
        print("TLM_TEST_PG_URL is not set: skipped")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
