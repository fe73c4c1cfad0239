#!/usr/bin/env python3
"""Common workflows over real HTTP against telemetry-server.

Sends request events of several users through POST /v1/batch (SQLite, or
PostgreSQL with TLM_TEST_DB_BACKEND=postgresql; exit 77 when
TLM_TEST_PG_URL is unset) and checks the dashboard's `workflows` section:
sessions split by 30 minutes of silence, the most frequent endpoint pairs
with their transition probabilities, triples, a path carried across
batches, a replayed batch counted once, environments kept apart.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_feedback_api import Server, call, ADMIN, KEY_A, KEY_B  # noqa: E402
from test_errors_api import uuid7  # noqa: E402

SKIP = 77
MIN = 60 * 1000


def rfc3339(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        ".%03dZ" % (ms % 1000)


def request(user, endpoint, ts_ms):
    return {"type": "request", "id": uuid7(), "timestamp": rfc3339(ts_ms),
            "environment": "production", "sample_rate": 1,
            "endpoint": endpoint, "method": "GET", "response_status": 200,
            "response_time": 12.5, "user_id": user}


def send(server, events, key=KEY_A):
    body = {"batch_id": uuid7(), "sent_at": rfc3339(int(time.time() * 1000)),
            "sdk": {"name": "test", "version": "0"}, "events": events}
    st, doc, _ = call(server, "POST", "/v1/batch", body, key=key)
    assert st == 200 and doc["accepted"] + doc["duplicates"] == len(events), \
        doc
    return body


class WorkflowsApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("http://127.0.0.1:9/unused")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def dashboard(self, env="production"):
        st, d, _ = call(self.s, "GET",
                        "/admin/analytics/dashboard?environment=" + env,
                        key=ADMIN)
        self.assertEqual(st, 200, d)
        return d["workflows"]

    def test_sessions_pairs_triples(self):
        t0 = int(time.time() * 1000) - 3 * 3600 * 1000
        events = [
            request("wa", "/list", t0), request("wa", "/item", t0 + MIN),
            request("wa", "/buy", t0 + 2 * MIN),
            request("wb", "/list", t0 + 3 * MIN),
            request("wb", "/item", t0 + 4 * MIN),
            request("wb", "/list", t0 + 5 * MIN),
            # wa again after 40 minutes: a second session.
            request("wa", "/list", t0 + 42 * MIN),
            request("wa", "/item", t0 + 43 * MIN),
        ]
        body = send(self.s, events)
        call(self.s, "POST", "/v1/batch", body)  # a replay: duplicates
        # The next batch continues wa's open session: /item -> /buy.
        send(self.s, [request("wa", "/buy", t0 + 44 * MIN)])
        w = self.dashboard()
        self.assertEqual(w["sessions"], 3)
        pairs = {tuple(p["sequence"]): p["count"] for p in w["sequences2"]}
        self.assertEqual(pairs[("/list", "/item")], 3)
        self.assertEqual(pairs[("/item", "/buy")], 2)
        self.assertEqual(pairs[("/item", "/list")], 1)
        triples = {tuple(p["sequence"]): p["count"]
                   for p in w["sequences3"]}
        self.assertEqual(triples[("/list", "/item", "/buy")], 2)
        self.assertEqual(triples[("/list", "/item", "/list")], 1)
        trans = {(t["from"], t["to"]): t["probability"]
                 for t in w["transitions"]}
        self.assertAlmostEqual(trans[("/item", "/buy")], 2 / 3, places=3)
        self.assertAlmostEqual(trans[("/item", "/list")], 1 / 3, places=3)
        self.assertEqual(trans[("/list", "/item")], 1)
        # Sandbox traffic (a sandbox key) is its own.
        send(self.s, [request("wc", "/x", t0), request("wc", "/y", t0 + MIN)],
             key=KEY_B)
        sb = self.dashboard("sandbox")
        self.assertEqual(sb["sessions"], 1)
        self.assertEqual([p["sequence"] for p in sb["sequences2"]],
                         [["/x", "/y"]])
        self.assertEqual(self.dashboard()["sessions"], 3)


if __name__ == "__main__":
    if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
            and not os.environ.get("TLM_TEST_PG_URL")):
        print("TLM_TEST_PG_URL is not set: skipped")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
