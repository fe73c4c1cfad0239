"""The real telemetry-server for the binding's tests (as
tests/integration/test_feedback_api.py starts it): a fresh SQLite file, or
with TLM_TEST_DB_BACKEND=postgresql a fresh database on the cluster
TLM_TEST_PG_URL names (meson: python_binding_pg), one ingestion key, an
admin token, port 0 read back from --port-file."""

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ADMIN = "py-admin-token-0123456789"
KEY = "py-key-org-a-0123456789"
WAIT_S = 20
_serial = itertools.count(1)


def use_pg():
    return os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"


def psql(url, sql):
    subprocess.run(["psql", url, "-qc", sql], check=True,
                   capture_output=True, timeout=WAIT_S)


def pg_database(name):
    """A fresh database on TLM_TEST_PG_URL's cluster; its URL."""
    base = os.environ["TLM_TEST_PG_URL"]
    psql(base, "DROP DATABASE IF EXISTS " + name)
    psql(base, "CREATE DATABASE " + name)
    u = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name,
                                    u.query, u.fragment))


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tlm-py-")
        self.pg_name = None
        if use_pg():
            self.pg_name = "tlm_py_%d_%d" % (os.getpid(), next(_serial))
            self.db = pg_database(self.pg_name)
        else:
            self.db = "sqlite:" + os.path.join(self.dir, "events.db")
        cfg = os.path.join(self.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump({"server": {"api_keys": [
                {"key": KEY, "organization": "org-a"}]}}, f)
        self.bin = os.environ.get("TLM_SERVER", "server/telemetry-server")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [self.bin, "--listen", "127.0.0.1:0", "--db", self.db,
             "--config", cfg, "--admin-token", ADMIN,
             "--port-file", port_file],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + WAIT_S
        while not (os.path.exists(port_file)
                   and os.path.getsize(port_file) > 0):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("telemetry-server did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read().strip())

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
                           capture_output=True, timeout=WAIT_S)

    def get(self, path, token=ADMIN):
        req = urllib.request.Request(self.url + path)
        req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=WAIT_S) as r:
            return json.loads(r.read())

    def events(self, kind=None):
        """Every stored event (all pages), newest first."""
        out, after = [], None
        while True:
            q = {"limit": "1000"}
            if kind:
                q["type"] = kind
            if after:
                q["after"] = after
            page = self.get("/admin/events?" + urllib.parse.urlencode(q))
            out.extend(page["items"])
            after = page.get("next_cursor")
            if not after:
                return out

    def feedback(self, **filters):
        """Every stored feedback matching ``filters`` (all pages)."""
        out, cursor = [], None
        while True:
            q = dict(filters, limit="100")
            if cursor:
                q["cursor"] = cursor
            page = self.get("/admin/feedback?" + urllib.parse.urlencode(q))
            out.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    def count(self, endpoint, kind="request"):
        return sum(1 for e in self.events(kind)
                   if e.get("endpoint") == endpoint)
