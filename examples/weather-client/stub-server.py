#!/usr/bin/env python3
"""A stub of the imaginary Weather REST API, for the example and its test.

    stub-server.py [--port N] [--port-file PATH]

GET /v1/current/{city} and GET /v1/forecast/{city}?days=N with an
X-Api-Key header (401 without). A few cities are known (404 for the
rest); "crash" answers 500 and "slow" answers after 300 ms. Port 0 (the
default) picks a free port, written to --port-file.
"""

import argparse
import datetime
import json
import os
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CITIES = {
    "oslo": ("Oslo", 3.5, 81, "cloudy"),
    "lisbon": ("Lisbon", 19.0, 60, "sunny"),
    "nairobi": ("Nairobi", 24.5, 45, "partly cloudy"),
    "slow": ("Slowtown", 12.0, 70, "fog"),
}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")
        if len(parts) != 4 or parts[:2] != ["", "v1"] or \
                parts[2] not in ("current", "forecast"):
            return self.answer(404, {"error": "no such route"})
        if not self.headers.get("X-Api-Key"):
            return self.answer(401, {"error": "missing X-Api-Key"})
        city = urllib.parse.unquote(parts[3]).lower()
        if city == "crash":
            return self.answer(500, {"error": "internal error"})
        if city not in CITIES:
            return self.answer(404, {"error": "unknown city"})
        if city == "slow":
            time.sleep(0.3)
        name, temp, humidity, conditions = CITIES[city]
        if parts[2] == "current":
            return self.answer(200, {"city": name, "temp_c": temp,
                                     "humidity": humidity,
                                     "conditions": conditions})
        q = urllib.parse.parse_qs(url.query)
        try:
            days = int(q.get("days", ["3"])[0])
        except ValueError:
            days = 0
        if not 1 <= days <= 14:
            return self.answer(400, {"error": "days must be 1..14"})
        start = datetime.date(2026, 1, 1)
        out = [{"date": (start + datetime.timedelta(days=i)).isoformat(),
                "high_c": temp + 2 + i % 3, "low_c": temp - 3 - i % 2,
                "conditions": conditions} for i in range(days)]
        return self.answer(200, {"city": name, "days": out})

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    port = httpd.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    else:
        print("listening on http://127.0.0.1:%d" % port, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
