#!/usr/bin/env python3
"""Error tracking over real HTTP against telemetry-server.

Starts the real server (TLM_SERVER) on a fresh SQLite file, or, with
TLM_TEST_DB_BACKEND=postgresql, on a fresh database of TLM_TEST_PG_URL's
cluster (exit 77 when that is unset), with small alert thresholds and a
webhook receiver started here. Sends error events in real batches through
POST /v1/batch and checks the groups (same bug with different ids together,
different bugs apart, caller fingerprints), their counts, users, endpoints
and minutes, the impact and alert rule (one alert per level, again after a
regression, none while ignored), the error.alert webhook, the admin routes
and the dashboard's errors section. Every wait is bounded.
"""

import http.server
import json
import os
import secrets
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_feedback_api import Server, call, wait_for, ADMIN, KEY_A, KEY_B  # noqa: E402

SKIP = 77


class Receiver(http.server.BaseHTTPRequestHandler):
    lock = threading.Lock()
    got = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Receiver.lock:
            Receiver.got.append((dict(self.headers), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def uuid7():
    ms = int(time.time() * 1000)
    b = bytearray(ms.to_bytes(6, "big") + secrets.token_bytes(10))
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)


def error(message, code="E_FAIL", stack=None, endpoint="GET /v1/items",
          user="u1", impact=None, fingerprint=None):
    e = {"type": "error", "id": uuid7(), "timestamp": now_rfc3339(),
         "environment": "production", "sample_rate": 1,
         "endpoint": endpoint, "error_code": code,
         "error_message": message, "user_id": user}
    if stack is not None:
        e["stack_trace"] = stack
    if impact is not None:
        e["impact"] = impact
    if fingerprint is not None:
        e["fingerprint"] = fingerprint
    return e


def send(server, events, key=KEY_A):
    body = {"batch_id": uuid7(), "sent_at": now_rfc3339(),
            "sdk": {"name": "test", "version": "0"}, "events": events}
    st, doc, _ = call(server, "POST", "/v1/batch", body, key=key)
    assert st == 200, (st, doc)
    return body, doc


STACK_A = ("#0 0x55d1c3a2b1c9 in fetch_items /home/alice/src/client.c:42:7\n"
           "#1 0x55d1c3a2b200 in list_all /home/alice/src/client.c:88:3\n"
           "#2 0x7f00aa001234 in __libc_start_main /lib/libc.so.6\n")
STACK_A2 = ("#0 0x55d1c3a9f1c9 in fetch_items /build/src/client.c:47:9\n"
            "#1 0x55d1c3a9f200 in list_all /build/src/client.c:91:3\n")
STACK_B = ("#0 0x55d1c3a2c000 in upload_file /home/alice/src/upload.c:12:1\n"
           "#1 0x55d1c3a2c100 in main /home/alice/src/main.c:5:1\n")


class ErrorsApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                    Receiver)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        hook = "http://127.0.0.1:%d/hook" % cls.httpd.server_address[1]
        cls.s = Server(hook, extra_config={"error_tracking": {
            "alert_thresholds": {"critical": 1, "high": 3, "medium": 5,
                                 "low": 10},
            "alert_window_minutes": 60}})

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.httpd.shutdown()

    def groups(self, query=""):
        st, doc, _ = call(self.s, "GET", "/admin/errors?limit=100" + query,
                          key=ADMIN)
        self.assertEqual(st, 200, doc)
        return doc["items"]

    def group_of(self, title_part, env="production"):
        for g in self.groups("&environment=" + env):
            if title_part in g["title"]:
                return g
        return None

    def test_same_bug_groups_different_bugs_split(self):
        send(self.s, [
            error("timeout after 30s fetching item 4411 for bob@x.org",
                  code="E_TIMEOUT", stack=STACK_A, user="g1"),
            error("timeout after 12s fetching item 98 for eve@y.org",
                  code="E_TIMEOUT", stack=STACK_A2, user="g2",
                  endpoint="GET /v1/items/{id}"),
            error("timeout after 30s fetching item 5", code="E_TIMEOUT",
                  stack=STACK_B, user="g1"),
        ])
        fetch = [g for g in self.groups() if g["error_code"] == "E_TIMEOUT"
                 and "fetch_items" in g["culprit"]]
        upload = [g for g in self.groups() if g["error_code"] == "E_TIMEOUT"
                  and "upload_file" in g["culprit"]]
        self.assertEqual(len(fetch), 1, fetch)
        self.assertEqual(len(upload), 1)
        g = fetch[0]
        self.assertEqual((g["events"], g["users_affected"]), (2, 2))
        self.assertEqual(g["grouping_version"], 1)
        self.assertEqual(sorted(e["endpoint"] for e in g["endpoints"]),
                         ["GET /v1/items", "GET /v1/items/{id}"])
        self.assertNotIn("4411", g["title"])
        st, d, _ = call(self.s, "GET", "/admin/errors/" + g["id"], key=ADMIN)
        self.assertEqual(st, 200)
        self.assertEqual(len(d["samples"]), 2)
        self.assertEqual(sum(m["events"] for m in d["minutes"]), 2)
        self.assertEqual(d["samples"][0]["type"], "error")

    def test_replayed_batch_counts_once(self):
        body, doc = send(self.s, [error("replay me", code="E_REPLAY")])
        st, doc2, _ = call(self.s, "POST", "/v1/batch", body)
        self.assertEqual((st, doc2["duplicates"]), (200, 1))
        g = self.group_of("replay me")
        self.assertEqual(g["events"], 1)

    def test_caller_fingerprint_merges(self):
        send(self.s, [
            error("payment provider said no", code="E_PAY1",
                  fingerprint=["payments", "declined"]),
            error("card refused by bank", code="E_PAY2",
                  fingerprint=["payments", "declined"]),
        ])
        merged = [g for g in self.groups() if g["custom_fingerprint"]]
        self.assertTrue(any(g["events"] == 2 for g in merged), merged)

    def test_critical_alerts_once_and_again_after_regression(self):
        send(self.s, [error("disk on fire", code="E_FIRE", impact="critical",
                            user="c1")])
        g = self.group_of("disk on fire")
        self.assertEqual(g["impact"], "critical")

        def alerts_of(gid):
            with Receiver.lock:
                return [d for h, d in Receiver.got
                        if h.get("X-Telemetry-Event") == "error.alert"
                        and d["group"]["id"] == gid]
        wait_for(lambda: alerts_of(g["id"]), "the error.alert delivery")
        send(self.s, [error("disk on fire", code="E_FIRE", impact="critical",
                            user="c2") for _ in range(3)])
        st, d, _ = call(self.s, "GET", "/admin/errors/" + g["id"], key=ADMIN)
        self.assertEqual(len(d["alerts"]), 1)  # one alert, not one per event
        self.assertEqual(d["alerts"][0]["impact"], "critical")
        # Resolved, then it recurs: open again, regressed, alerts again.
        st, d, _ = call(self.s, "PUT", "/admin/errors/%s/status" % g["id"],
                        {"status": "resolved"}, key=ADMIN)
        self.assertEqual((st, d["status"]), (200, "resolved"))
        time.sleep(0.01)
        send(self.s, [error("disk on fire", code="E_FIRE", impact="critical")])
        st, d, _ = call(self.s, "GET", "/admin/errors/" + g["id"], key=ADMIN)
        self.assertEqual((d["status"], d["regressed"]), ("unresolved", True))
        self.assertEqual(len(d["alerts"]), 2)
        wait_for(lambda: len(alerts_of(g["id"])) >= 2, "a second alert")

    def test_medium_crosses_on_events_plus_users(self):
        # medium threshold 5: events + distinct users in the window.
        send(self.s, [error("slow query", code="E_SLOW", user="m1"),
                      error("slow query", code="E_SLOW", user="m2")])
        g = self.group_of("slow query")
        self.assertEqual(g["impact"], "none")  # 2 events + 2 users = 4
        send(self.s, [error("slow query", code="E_SLOW", user="m2")])
        g = self.group_of("slow query")
        self.assertEqual(g["impact"], "medium")  # 3 + 2 = 5
        send(self.s, [error("slow query", code="E_SLOW", user="m1")])
        st, d, _ = call(self.s, "GET", "/admin/errors/" + g["id"], key=ADMIN)
        self.assertEqual([a["impact"] for a in d["alerts"]], ["medium"])
        self.assertEqual(d["alerts"][0]["events_in_window"], 3)
        self.assertEqual(d["alerts"][0]["users_in_window"], 2)

    def test_ignored_group_never_alerts(self):
        send(self.s, [error("noisy thing", code="E_NOISE", impact="low")])
        g = self.group_of("noisy thing")
        st, d, _ = call(self.s, "PUT", "/admin/errors/%s/status" % g["id"],
                        {"status": "ignored"}, key=ADMIN)
        self.assertEqual(d["status"], "ignored")
        send(self.s, [error("noisy thing", code="E_NOISE", impact="critical")])
        st, d, _ = call(self.s, "GET", "/admin/errors/" + g["id"], key=ADMIN)
        self.assertEqual(d["alerts"], [])
        self.assertIsNone(self.group_of("noisy thing"))  # hidden by default
        self.assertTrue(self.groups("&status=ignored"))

    def test_list_sorts_filters_and_validates(self):
        send(self.s, [error("sandbox only", code="E_SB")], key=KEY_B)
        self.assertIsNone(self.group_of("sandbox only"))
        self.assertIsNotNone(self.group_of("sandbox only", env="sandbox"))
        pri = [g["priority"] for g in self.groups("&sort=priority")]
        self.assertEqual(pri, sorted(pri, reverse=True))
        for g in self.groups("&impact=critical"):
            self.assertEqual(g["impact"], "critical")
        for g in self.groups("&endpoint=GET%20/v1/items/%7Bid%7D"):
            self.assertIn("GET /v1/items/{id}",
                          [e["endpoint"] for e in g["endpoints"]])
        page1 = self.groups("&limit=1")
        st, doc, _ = call(self.s, "GET", "/admin/errors?limit=1", key=ADMIN)
        self.assertIsNotNone(doc["next_cursor"])
        for q, field in (("sort=worst", "sort"), ("impact=huge", "impact"),
                         ("status=gone", "status"), ("limit=0", "limit")):
            st, doc, _ = call(self.s, "GET", "/admin/errors?" + q, key=ADMIN)
            self.assertEqual((st, doc["field"]), (400, field))
        st, _, _ = call(self.s, "GET", "/admin/errors/ffff", key=ADMIN)
        self.assertEqual(st, 404)
        st, _, _ = call(self.s, "GET", "/admin/errors")
        self.assertEqual(st, 403)
        self.assertTrue(page1)

    def test_bad_error_events_are_rejected_alone(self):
        bad = error("x", impact="catastrophic")
        bad2 = error("y", fingerprint=[""])
        body, doc = send(self.s, [bad, bad2, error("fine one")])
        self.assertEqual(doc["accepted"], 1)
        reasons = sorted(r["error"] for r in doc["rejected"])
        self.assertTrue(reasons[0].startswith("fingerprint"), reasons)
        self.assertTrue(reasons[1].startswith("impact"), reasons)

    def test_dashboard_errors_section(self):
        send(self.s, [error("dashboard visible", code="E_DASH",
                            impact="critical")])
        st, d, _ = call(self.s, "GET", "/admin/analytics/dashboard",
                        key=ADMIN)
        self.assertEqual(st, 200)
        self.assertTrue(d["errors"]["top_groups"])
        self.assertTrue(any(a["title"].startswith("E_DASH")
                            for a in d["errors"]["alerts"]))


if __name__ == "__main__":
    if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
            and not os.environ.get("TLM_TEST_PG_URL")):
        print("TLM_TEST_PG_URL is not set: skipped")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
