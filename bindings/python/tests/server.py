"""The real telemetry-server for the binding's tests (as
tests/integration/test_feedback_api.py starts it): a fresh SQLite file,
one ingestion key, an admin token, port 0 read back from --port-file."""

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


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tlm-py-")
        cfg = os.path.join(self.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump({"server": {"api_keys": [
                {"key": KEY, "organization": "org-a"}]}}, f)
        self.bin = os.environ.get("TLM_SERVER", "server/telemetry-server")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [self.bin, "--listen", "127.0.0.1:0", "--db",
             "sqlite:" + os.path.join(self.dir, "events.db"),
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

    def count(self, endpoint, kind="request"):
        return sum(1 for e in self.events(kind)
                   if e.get("endpoint") == endpoint)
