#!/usr/bin/env python3
"""Feedback and feature requests over real HTTP against telemetry-server.

Starts the real server (TLM_SERVER) on a fresh SQLite file, or, with
TLM_TEST_DB_BACKEND=postgresql, on a fresh database of the PostgreSQL
cluster TLM_TEST_PG_URL names (exit 77, skipped, when that is unset), with
a config document holding two organizations' keys and a webhook pointing
at a receiver started here. Checks every route of docs/http-api.md's
feedback and feature-request sections: answers, validation, idempotency,
organization scoping, publishable keys and CORS, the status workflow,
merges, comments, the signed webhook deliveries with retries, and the
dashboard's feedback section. Every wait is bounded.
"""

import gzip
import hashlib
import hmac
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77
ADMIN = "fb-admin-token-0123456789"
KEY_A = "fb-key-org-a-0123456789"
KEY_B = "fb-key-org-b-0123456789"
SECRET = "webhook-secret-42"
WAIT_S = 20


class Receiver(http.server.BaseHTTPRequestHandler):
    """The issue tracker: records deliveries; fails the first N."""

    lock = threading.Lock()
    got = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Receiver.lock:
            Receiver.got.append((dict(self.headers), body))
            failing = Receiver.fail_first > 0
            if failing:
                Receiver.fail_first -= 1
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def pg_database(name):
    """A fresh database on TLM_TEST_PG_URL's cluster; its URL."""
    base = os.environ["TLM_TEST_PG_URL"]
    subprocess.run(["psql", base, "-qc", "DROP DATABASE IF EXISTS " + name],
                   check=True, capture_output=True)
    subprocess.run(["psql", base, "-qc", "CREATE DATABASE " + name],
                   check=True, capture_output=True)
    u = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name,
                                    u.query, u.fragment))


class Server:
    def __init__(self, webhook_url, extra_feedback=None, extra_config=None):
        self.dir = tempfile.mkdtemp(prefix="tlm-fbapi-")
        self.pg_name = None
        if os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql":
            self.pg_name = "tlm_fbapi_%d" % os.getpid()
            self.db = pg_database(self.pg_name)
        else:
            self.db = "sqlite:" + os.path.join(self.dir, "events.db")
        feedback = {"webhook_url": webhook_url, "webhook_secret": SECRET,
                    "webhook_retry_base_ms": 50, "webhook_max_attempts": 3}
        feedback.update(extra_feedback or {})
        config = {
            "feedback": feedback,
            "feature_requests": {"notification_enabled": True},
            "server": {"api_keys": [
                {"key": KEY_A, "organization": "org-a"},
                {"key": KEY_B, "organization": "org-b",
                 "environment": "sandbox"}]},
        }
        config.update(extra_config or {})
        cfg = os.path.join(self.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        self.bin = os.environ.get("TLM_SERVER", "server/telemetry-server")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [self.bin, "--listen", "127.0.0.1:0", "--db", self.db,
             "--config", cfg, "--admin-token", ADMIN,
             "--port-file", port_file, "--keys-refresh", "1"],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.read_log())
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read().strip())
        self.url = "http://127.0.0.1:%d" % self.port

    def read_log(self):
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()

    def keys(self, *args):
        out = subprocess.run([self.bin, "keys", *args, "--db", self.db],
                             check=True, capture_output=True, text=True)
        return out.stdout

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.pg_name:
            subprocess.run(["psql", os.environ["TLM_TEST_PG_URL"], "-qc",
                            "DROP DATABASE IF EXISTS " + self.pg_name],
                           capture_output=True)


def call(server, method, path, body=None, key=KEY_A, headers=None,
         raw=None):
    """(status, parsed JSON or None, headers)."""
    data = raw if raw is not None else (
        json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if key is not None:
        req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=WAIT_S) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None), r.headers
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = None
        return e.code, doc, e.headers


def wait_for(pred, what):
    deadline = time.time() + WAIT_S
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class FeedbackApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                    Receiver)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        hook = "http://127.0.0.1:%d/hook" % cls.httpd.server_address[1]
        cls.s = Server(hook)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.httpd.shutdown()

    def setUp(self):
        with Receiver.lock:
            Receiver.got.clear()
            Receiver.fail_first = 0

    def deliveries(self, kind):
        with Receiver.lock:
            return [(h, json.loads(b)) for h, b in Receiver.got
                    if h.get("X-Telemetry-Event") == kind]

    # -- feedback --------------------------------------------------------

    def test_feedback_created_scored_and_read_back(self):
        st, doc, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "suggestion",
            "content": "Love the new SDK, finally no more timeouts!",
            "feature": "retries", "context": {"sdk_call": "list"}})
        self.assertEqual(st, 201)
        self.assertGreater(doc["sentiment"], 0.05)
        self.assertEqual(doc["category_source"], "auto")
        self.assertEqual(doc["feature"], "retries")
        self.assertEqual(doc["organization"], "org-a")
        self.assertEqual(doc["environment"], "production")
        st, again, _ = call(self.s, "GET", "/feedback/" + doc["id"])
        self.assertEqual((st, again), (200, doc))
        # Another organization's key does not see it.
        st, _, _ = call(self.s, "GET", "/feedback/" + doc["id"], key=KEY_B)
        self.assertEqual(st, 404)

    def test_feedback_negative_and_submitter_category(self):
        st, doc, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "general", "category": "documentation",
            "content": "The docs are confusing and the examples are broken."})
        self.assertEqual(st, 201)
        self.assertLess(doc["sentiment"], -0.05)
        self.assertEqual((doc["category"], doc["category_source"]),
                         ("documentation", "submitter"))

    def test_feedback_rating_pulls_sentiment(self):
        st, low, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "rating", "rating": 1, "content": "Meh."})
        st2, high, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "rating", "rating": 5, "content": "Meh."})
        self.assertEqual((st, st2), (201, 201))
        self.assertLess(low["sentiment"], 0)
        self.assertGreater(high["sentiment"], 0)

    def test_feedback_validation(self):
        cases = [
            ({"feedback_type": "rant", "content": "x"}, "feedback_type"),
            ({"feedback_type": "general", "content": "   "}, "content"),
            ({"feedback_type": "general", "content": "x" * 10001},
             "content"),
            ({"feedback_type": "rating", "content": "x"}, "rating"),
            ({"feedback_type": "rating", "content": "x", "rating": 6},
             "rating"),
            ({"feedback_type": "general", "content": "x", "rating": 2.5},
             "rating"),
            ({"feedback_type": "general", "content": "x",
              "category": "nope"}, "category"),
            ({"feedback_type": "general", "content": "x", "context": [1]},
             "context"),
            ({"feedback_type": "general", "content": "x",
              "context": {"a": "y" * 20000}}, "context"),
            ({"feedback_type": "general", "content": "x",
              "environment": "staging"}, "environment"),
            ({"content": "x"}, "feedback_type"),
        ]
        for body, field in cases:
            st, doc, _ = call(self.s, "POST", "/feedback", body)
            self.assertEqual(st, 400, body)
            self.assertEqual(doc["field"], field, doc)
        st, doc, _ = call(self.s, "POST", "/feedback", raw=b"{not json")
        self.assertEqual(st, 400)
        self.assertIn("JSON", doc["error"])

    def test_issue_template_names_missing_parts(self):
        st, doc, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "issue", "content": "It crashes",
            "issue": {"summary": "crash on list", "expected": "  "}})
        self.assertEqual(st, 400)
        self.assertEqual(doc["missing"],
                         ["steps_to_reproduce", "expected", "actual"])
        self.assertIn("steps_to_reproduce", doc["error"])

    def test_idempotent_replay_creates_nothing(self):
        body = {"feedback_type": "general", "content": "Same one twice"}
        h = {"Idempotency-Key": "fb-idem-1"}
        st1, d1, _ = call(self.s, "POST", "/feedback", body, headers=h)
        st2, d2, h2 = call(self.s, "POST", "/feedback", body, headers=h)
        self.assertEqual((st1, st2), (201, 200))
        self.assertEqual(d1["id"], d2["id"])
        self.assertEqual(h2.get("Idempotent-Replayed"), "true")
        st, lst, _ = call(self.s, "GET",
                          "/admin/feedback?organization=org-a&limit=100",
                          key=ADMIN)
        same = [i for i in lst["items"] if i["content"] == "Same one twice"]
        self.assertEqual(len(same), 1)
        st, _, _ = call(self.s, "POST", "/feedback", body,
                        headers={"Idempotency-Key": "bad key with spaces"})
        self.assertEqual(st, 400)

    def test_server_scrubs_pii_in_feedback(self):
        st, doc, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "general",
            "content": "Mail me at alice@example.com about it",
            "context": {"note": "token=abcdef0123456789abcdef"}})
        self.assertEqual(st, 201)
        self.assertNotIn("alice@example.com", json.dumps(doc))
        self.assertIn("[email]", doc["content"])
        self.assertNotIn("abcdef0123456789abcdef", json.dumps(doc))
        fr = self.new_request("Export for bob@example.org please")
        self.assertNotIn("bob@example.org", fr["title"])
        st, c, _ = call(self.s, "POST",
                        "/feature-requests/%s/comments" % fr["id"],
                        {"body": "call me on +44 20 7946 0958"})
        self.assertEqual(st, 201)
        self.assertNotIn("7946", c["body"])

    def test_gzip_body_and_limits(self):
        body = json.dumps({"feedback_type": "general",
                           "content": "gzipped works"}).encode()
        st, doc, _ = call(self.s, "POST", "/feedback",
                          raw=gzip.compress(body),
                          headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 201)
        bomb = gzip.compress(b"{" + b" " * (20 * 1024 * 1024) + b"}")
        st, doc, _ = call(self.s, "POST", "/feedback", raw=bomb,
                          headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 413)
        # Declared over the 1 MiB wire cap: refused before any byte is read.
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port,
                                          timeout=WAIT_S)
        conn.putrequest("POST", "/feedback")
        conn.putheader("Authorization", "Bearer " + KEY_A)
        conn.putheader("Content-Length", str(2 * 1024 * 1024))
        conn.endheaders()
        r = conn.getresponse()
        self.assertEqual(r.status, 413)
        self.assertIn("wire limit", json.loads(r.read())["error"])
        conn.close()

    def test_admin_listing_filters_and_pages(self):
        for i in range(5):
            call(self.s, "POST", "/feedback", {
                "feedback_type": "general", "endpoint": "GET /v1/page",
                "content": "paging item %d is great" % i}, key=KEY_B)
        seen, cursor = [], None
        while True:
            q = "/admin/feedback?organization=org-b&limit=2&min_sentiment=0"
            st, doc, _ = call(self.s, "GET", q + (
                "&cursor=" + cursor if cursor else ""), key=ADMIN)
            self.assertEqual(st, 200)
            seen += [i["id"] for i in doc["items"]]
            cursor = doc["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(len(seen), 5)
        self.assertEqual(len(set(seen)), 5)
        st, doc, _ = call(self.s, "GET",
                          "/admin/feedback?endpoint=GET%20/v1/page"
                          "&environment=sandbox&limit=100", key=ADMIN)
        self.assertEqual(len(doc["items"]), 5)
        st, _, _ = call(self.s, "GET", "/admin/feedback?min_sentiment=x",
                        key=ADMIN)
        self.assertEqual(st, 400)
        # NaN is not a number in -1..1 (found by fuzz_routes).
        for q in ("min_sentiment=nan", "max_sentiment=NaN",
                  "min_sentiment=inf"):
            st, doc, _ = call(self.s, "GET", "/admin/feedback?" + q,
                              key=ADMIN)
            self.assertEqual(st, 400, q)
            self.assertEqual(doc["field"], q.split("=")[0])
        st, _, _ = call(self.s, "GET", "/admin/feedback")
        self.assertEqual(st, 403)
        st, _, _ = call(self.s, "GET", "/admin/feedback", key=None)
        self.assertEqual(st, 401)

    # -- feature requests --------------------------------------------------

    def new_request(self, title, key=KEY_A):
        st, doc, _ = call(self.s, "POST", "/feature-requests",
                          {"title": title, "description": "d",
                           "use_case": "u"}, key=key)
        self.assertEqual(st, 201)
        return doc

    def test_request_created_with_history(self):
        fr = self.new_request("Bulk export")
        self.assertEqual((fr["status"], fr["votes"]), ("submitted", 0))
        self.assertEqual(fr["status_history"][0]["status"], "submitted")
        self.assertIsNone(fr["status_history"][0]["previous_status"])
        st, doc, _ = call(self.s, "POST", "/feature-requests", {"title": ""})
        self.assertEqual((st, doc["field"]), (400, "title"))
        st, doc, _ = call(self.s, "POST", "/feature-requests",
                          {"title": "t" * 201})
        self.assertEqual(st, 400)

    def test_votes_are_per_user_and_idempotent(self):
        fr = self.new_request("Vote me")
        path = "/feature-requests/%s/vote" % fr["id"]
        for user, want in (("u1", 1), ("u2", 2), ("u1", 2)):
            st, doc, _ = call(self.s, "PUT", path, {"user_id": user})
            self.assertEqual((st, doc["votes"], doc["voted"]),
                             (200, want, True))
        st, doc, _ = call(self.s, "DELETE", path + "?user_id=u2")
        self.assertEqual((st, doc["votes"], doc["voted"]), (200, 1, False))
        st, doc, _ = call(self.s, "DELETE", path, {"user_id": "u2"})
        self.assertEqual(doc["votes"], 1)
        st, doc, _ = call(self.s, "PUT", path, {})
        self.assertEqual((st, doc["field"]), (400, "user_id"))
        st, _, _ = call(self.s, "PUT", "/feature-requests/nope/vote",
                        {"user_id": "u1"})
        self.assertEqual(st, 404)
        st, _, _ = call(self.s, "PUT", path, {"user_id": "u1"}, key=KEY_B)
        self.assertEqual(st, 404)  # another organization's request

    def test_list_sorts_and_pages(self):
        ids = [self.new_request("sort %d" % i, key=KEY_B)["id"]
               for i in range(5)]
        for i, fid in enumerate(ids):
            for u in range(i):
                call(self.s, "PUT", "/feature-requests/%s/vote" % fid,
                     {"user_id": "s%d" % u}, key=KEY_B)
        for sort in ("votes", "recent", "trending"):
            seen, cursor = [], None
            for _ in range(10):
                q = "/feature-requests?sort=%s&limit=2" % sort
                st, doc, _ = call(self.s, "GET", q + (
                    "&cursor=" + cursor if cursor else ""), key=KEY_B)
                self.assertEqual(st, 200)
                seen += [i["id"] for i in doc["items"]]
                cursor = doc["next_cursor"]
                if cursor is None:
                    break
            self.assertEqual(sorted(seen), sorted(ids), sort)
            if sort in ("votes", "trending"):
                self.assertEqual(seen, list(reversed(ids)), sort)
            else:
                self.assertEqual(seen, list(reversed(ids)), sort)
        st, doc, _ = call(self.s, "GET", "/feature-requests?sort=best",
                          key=KEY_B)
        self.assertEqual((st, doc["field"]), (400, "sort"))
        st, doc, _ = call(self.s, "GET", "/feature-requests?status=nope",
                          key=KEY_B)
        self.assertEqual(st, 400)
        st, doc, _ = call(self.s, "GET", "/feature-requests?cursor=zzz",
                          key=KEY_B)
        self.assertEqual(st, 400)

    def test_status_workflow_notifies_each_voter(self):
        fr = self.new_request("Workflow")
        path = "/admin/feature-requests/%s/status" % fr["id"]
        for u in ("v1", "v2"):
            call(self.s, "PUT", "/feature-requests/%s/vote" % fr["id"],
                 {"user_id": u})
        st, doc, _ = call(self.s, "PUT", path,
                          {"status": "planned", "reason": "Q1"}, key=ADMIN)
        self.assertEqual((st, doc["status"]), (200, "planned"))
        self.assertEqual(doc["status_history"][-1],
                         {**doc["status_history"][-1], "status": "planned",
                          "previous_status": "submitted", "reason": "Q1"})
        got = wait_for(lambda: [d for h, d in self.deliveries(
            "feature_request.status_changed")
            if d["feature_request"]["id"] == fr["id"]] if len([
                1 for h, d in self.deliveries(
                    "feature_request.status_changed")
                if d["feature_request"]["id"] == fr["id"]]) >= 2 else None,
            "two notifications")
        self.assertEqual(sorted(d["user_id"] for d in got), ["v1", "v2"])
        self.assertEqual(got[0]["feature_request"]["status"], "planned")
        # Backwards is refused with the allowed moves.
        st, doc, _ = call(self.s, "PUT", path, {"status": "submitted"},
                          key=ADMIN)
        self.assertEqual(st, 409)
        self.assertEqual(doc["allowed"],
                         ["in_progress", "completed", "declined"])
        st, doc, _ = call(self.s, "PUT", path, {"status": "completed"},
                          key=ADMIN)
        self.assertEqual(st, 200)
        self.assertFalse(doc["voting_open"])
        st, doc, _ = call(self.s, "PUT",
                          "/feature-requests/%s/vote" % fr["id"],
                          {"user_id": "late"})
        self.assertEqual(st, 409)
        self.assertIn("completed", doc["error"])
        # Reopening needs a reason.
        st, doc, _ = call(self.s, "PUT", path, {"status": "under_review"},
                          key=ADMIN)
        self.assertEqual((st, doc["field"]), (400, "reason"))
        st, doc, _ = call(self.s, "PUT", path, {"status": "under_review",
                                                "reason": "regressed"},
                          key=ADMIN)
        self.assertEqual((st, doc["status"]), (200, "under_review"))
        st, doc, _ = call(self.s, "GET", "/feature-requests/" + fr["id"])
        self.assertEqual([h["status"] for h in doc["status_history"]],
                         ["submitted", "planned", "completed",
                          "under_review"])
        st, _, _ = call(self.s, "PUT", path, {"status": "planned"})
        self.assertEqual(st, 403)  # an ingestion key on an admin route

    def test_merge_moves_voters(self):
        dup = self.new_request("Dup")
        target = self.new_request("Target")
        for fid, users in ((dup["id"], ("m1", "m2")),
                           (target["id"], ("m2", "m3"))):
            for u in users:
                call(self.s, "PUT", "/feature-requests/%s/vote" % fid,
                     {"user_id": u})
        st, doc, _ = call(self.s, "POST",
                          "/admin/feature-requests/%s/merge" % dup["id"],
                          {"into": target["id"]}, key=ADMIN)
        self.assertEqual(st, 200)
        self.assertEqual((doc["status"], doc["merged_into"], doc["votes"]),
                         ("declined", target["id"], 0))
        st, doc, _ = call(self.s, "GET", "/feature-requests/" + target["id"])
        self.assertEqual(doc["votes"], 3)  # m1, m2, m3: one vote each
        # A vote on the duplicate goes to the target... but it is closed.
        st, doc, _ = call(self.s, "PUT",
                          "/feature-requests/%s/vote" % dup["id"],
                          {"user_id": "m4"})
        self.assertEqual((st, doc["id"], doc["votes"]),
                         (200, target["id"], 4))
        st, _, _ = call(self.s, "POST",
                        "/admin/feature-requests/%s/merge" % target["id"],
                        {"into": target["id"]}, key=ADMIN)
        self.assertEqual(st, 409)

    def test_comments(self):
        fr = self.new_request("Comment me")
        path = "/feature-requests/%s/comments" % fr["id"]
        h = {"Idempotency-Key": "c-1"}
        st, c1, _ = call(self.s, "POST", path, {"body": "+1", "author": "a"},
                         headers=h)
        st2, c2, _ = call(self.s, "POST", path, {"body": "+1"}, headers=h)
        self.assertEqual((st, st2, c1["id"]), (201, 200, c2["id"]))
        call(self.s, "POST", path, {"body": "second"})
        st, doc, _ = call(self.s, "GET", path + "?limit=1")
        self.assertEqual([c["body"] for c in doc["items"]], ["+1"])
        st, doc, _ = call(self.s, "GET",
                          path + "?limit=1&cursor=" + doc["next_cursor"])
        self.assertEqual([c["body"] for c in doc["items"]], ["second"])
        st, doc, _ = call(self.s, "GET", "/feature-requests/" + fr["id"])
        self.assertEqual(doc["comments"], 2)
        st, _, _ = call(self.s, "POST", path, {"body": ""})
        self.assertEqual(st, 400)
        st, _, _ = call(self.s, "GET", "/feature-requests/nope/comments")
        self.assertEqual(st, 404)

    # -- publishable keys, CORS ---------------------------------------------

    def test_publishable_key_submit_only_from_its_origins(self):
        out = json.loads(self.s.keys(
            "create", "--publishable", "--origin", "https://dev.example",
            "--organization", "org-a", "--json"))
        pub = out["secret"]
        self.assertTrue(pub.startswith("tlm_pub_"))
        ok = {"Origin": "https://dev.example"}

        def submit():
            return call(self.s, "POST", "/feedback", {
                "feedback_type": "general", "content": "from the portal"},
                key=pub, headers=ok)
        st, doc, h = wait_for(lambda: (lambda r: r if r[0] == 201 else None)(
            submit()), "the key sync")
        self.assertEqual(h.get("Access-Control-Allow-Origin"),
                         "https://dev.example")
        st, _, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "general", "content": "x"}, key=pub,
            headers={"Origin": "https://evil.example"})
        self.assertEqual(st, 403)
        st, _, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "general", "content": "x"}, key=pub)
        self.assertEqual(st, 403)  # no Origin at all
        st, _, _ = call(self.s, "GET", "/feedback/" + doc["id"], key=pub,
                        headers=ok)
        self.assertEqual(st, 403)
        st, _, _ = call(self.s, "GET", "/admin/feedback", key=pub,
                        headers=ok)
        self.assertEqual(st, 403)
        st, _, _ = call(self.s, "POST", "/v1/batch", {"events": []},
                        key=pub, headers=ok)
        self.assertEqual(st, 403)
        st, doc, _ = call(self.s, "GET", "/feature-requests", key=pub,
                          headers=ok)
        self.assertEqual(st, 200)
        # The portal page's own same-origin GET carries no Origin.
        st, _, _ = call(self.s, "GET", "/feature-requests", key=pub,
                        headers={"Sec-Fetch-Site": "same-origin"})
        self.assertEqual(st, 200)
        st, _, _ = call(self.s, "GET", "/feature-requests", key=pub,
                        headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(st, 403)
        st, _, h = call(self.s, "OPTIONS", "/feedback", key=None, headers={
            "Origin": "https://dev.example",
            "Access-Control-Request-Method": "POST"})
        self.assertEqual(st, 204)
        self.assertIn("Idempotency-Key", h["Access-Control-Allow-Headers"])

    # -- webhook -------------------------------------------------------------

    def test_issue_reaches_the_tracker_signed_after_a_retry(self):
        with Receiver.lock:
            Receiver.fail_first = 1
        st, doc, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "issue", "content": "Crash on list()",
            "endpoint": "GET /v1/items",
            "issue": {"summary": "crash", "steps_to_reproduce": "call list",
                      "expected": "items", "actual": "segfault"},
            "sdk": {"name": "libtelemetry", "version": "0.1.0",
                    "os": "Linux"}})
        self.assertEqual(st, 201)

        def mine():
            return [(h, b) for h, b in Receiver.got
                    if h.get("X-Telemetry-Event") == "feedback.issue"
                    and json.loads(b)["feedback"]["id"] == doc["id"]]
        got = wait_for(lambda: mine() if len(mine()) >= 2 else None,
                       "a retried delivery")
        self.assertEqual(len(got), 2)  # one 500, then delivered
        h, body = got[-1]
        ts = h["X-Telemetry-Timestamp"]
        want = hmac.new(SECRET.encode(), ts.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
        self.assertEqual(h["X-Telemetry-Signature"], "sha256=" + want)
        self.assertEqual(got[0][0]["X-Telemetry-Delivery"],
                         h["X-Telemetry-Delivery"])
        issue = json.loads(body)["issue"]
        self.assertIn("segfault", issue["body"])
        did = h["X-Telemetry-Delivery"]

        def logged():
            st, d, _ = call(self.s, "GET",
                            "/admin/webhooks/deliveries?limit=100",
                            key=ADMIN)
            rows = [r for r in d["items"] if r["delivery_id"] == did]
            return rows if any(r["delivered"] for r in rows) else None
        rows = logged() or wait_for(logged, "the delivery log")
        self.assertEqual(sorted(r["attempt"] for r in rows), [1, 2])
        self.assertEqual(sorted(r["http_status"] for r in rows), [200, 500])
        with urllib.request.urlopen(self.s.url + "/metrics",
                                    timeout=WAIT_S) as r:
            text = r.read().decode()
        self.assertRegex(text, r'telemetry_webhook_deliveries_total'
                               r'\{outcome="delivered"\} [1-9]')

    def test_strongly_negative_feedback_reaches_the_tracker(self):
        st, doc, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "general",
            "content": "Terrible. Constant crashes, timeouts and 500s. "
                       "This SDK is broken and useless."})
        self.assertEqual(st, 201)
        self.assertLessEqual(doc["sentiment"], -0.5)
        wait_for(lambda: [d for h, d in self.deliveries("feedback.negative")
                          if d["feedback"]["id"] == doc["id"]],
                 "a feedback.negative delivery")

    # -- dashboard -----------------------------------------------------------

    def test_dashboard_feedback_section(self):
        st, posted, _ = call(self.s, "POST", "/feedback", {
            "feedback_type": "general", "content": "Dashboards are slow",
            "feature": "dashboard"})
        self.assertEqual(st, 201, posted)
        st, d, _ = call(self.s, "GET", "/admin/analytics/dashboard",
                        key=ADMIN)
        self.assertEqual(st, 200)
        fb = d["feedback"]
        self.assertGreaterEqual(fb["volume"], 1)
        self.assertEqual(d["totals"]["feedback"], fb["volume"])
        self.assertTrue(any(c["category"] == "performance"
                            for c in fb["categories"]))
        self.assertTrue(any(t["target"] == "feature:dashboard"
                            for t in fb["targets"]))
        self.assertTrue(fb["trends"])
        week = fb["trends"][0]["week"]
        self.assertEqual(time.strptime(week, "%Y-%m-%d").tm_wday, 0)
        self.assertIn("votes", d["feature_requests"])


if __name__ == "__main__":
    if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
            and not os.environ.get("TLM_TEST_PG_URL")):
        print("TLM_TEST_PG_URL is not set: skipped")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
