#!/usr/bin/env python3
"""Generates tests/data/error_corpus.jsonl: labeled error events for the
server's error grouping (server/error_group.c, tests/unit/
test_server_error_group.c). Deterministic (fixed seed): rerun and diff.

Each line is one error event with the wire fields (error_code,
error_message, stack_trace, endpoint, fingerprint, impact) plus "group", the
true label, and "heldout": true for the held-out section (groups written
with the rest before the algorithm, never used while tuning it).

    python3 tests/data/gen_error_corpus.py > tests/data/error_corpus.jsonl
"""
import json
import random
import sys

rng = random.Random(8)

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
DOMAINS = ["example.com", "acme.io", "mail.example.org", "corp.acme.co.uk"]
HOSTS = ["/home/%s/src/acme-client" % u for u in USERS] + [
    "/builds/ci-%d/acme-client" % n for n in (1042, 2213, 7781)]


def num(a, b):
    return rng.randint(a, b)


def hexs(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def uuid():
    return "%s-%s-4%s-%s%s-%s" % (hexs(8), hexs(4), hexs(3),
                                  rng.choice("89ab"), hexs(3), hexs(12))


def ip4():
    return "%d.%d.%d.%d" % (rng.choice([10, 172, 192, 34]), num(0, 255),
                            num(0, 255), num(1, 254))


def ip6():
    return "2001:db8:%x:%x::%x" % (num(0, 0xffff), num(0, 0xffff),
                                  num(1, 0xfff))


def email():
    u = rng.choice(USERS)
    return rng.choice(["%s", "%s.smith", "%s+test", "%s%d" % ("%s", num(1, 99))]) \
        % u + "@" + rng.choice(DOMAINS)


def stamp():
    return "2024-%02d-%02dT%02d:%02d:%02d%s" % (
        num(1, 12), num(1, 28), num(0, 23), num(0, 59), num(0, 59),
        rng.choice(["Z", ".%03dZ" % num(0, 999), "+02:00"]))


def addr(base=0x55d1c3a00000):
    return "0x%012x" % (base + num(0, 0xfffff))


def root():
    return rng.choice(HOSTS)


# --- frame formats -----------------------------------------------------------

def glibc(frames):
    """frames: (object, func or None); glibc backtrace_symbols."""
    out = []
    for obj, fn in frames:
        inner = "%s+0x%x" % (fn, num(1, 0x400)) if fn else "+0x%x" % num(0x1000, 0x2ffff)
        base = 0x7f0000000000 if obj.startswith("/") else 0x55d1c3a00000
        out.append("%s(%s) [%s]" % (obj, inner, addr(base)))
    return "\n".join(out)


def asan(frames):
    """frames: (func, path or module); ASan/gdb '#N 0x.. in f file:l:c'."""
    out = []
    for i, (fn, path) in enumerate(frames):
        if path.endswith(".so.6") or path.startswith("(") or ".so" in path:
            loc = "(%s+0x%x)" % (path.strip("()"), num(0x1000, 0x2ffff))
        else:
            loc = "%s:%d:%d" % (path, num(10, 900), num(1, 40))
        out.append("    #%d %s in %s %s" % (i, addr(), fn, loc))
    return "\n".join(out)


def gdb(frames):
    out = []
    for i, (fn, path) in enumerate(frames):
        out.append("#%d  %s in %s (ctx=%s, n=%d) at %s:%d" % (
            i, addr(), fn, addr(), num(0, 9), path, num(10, 900)))
    return "\n".join(out)


def python(frames, exc):
    """frames innermost first (reordered here: Python prints it last)."""
    out = ["Traceback (most recent call last):"]
    for path, fn, src in reversed(frames):
        out.append('  File "%s", line %d, in %s' % (path, num(5, 700), fn))
        out.append("    " + src)
    out.append(exc)
    return "\n".join(out)


def java(exc, frames):
    out = [exc]
    for cls_method, fname in frames:
        out.append("\tat %s(%s:%d)" % (cls_method, fname, num(20, 900)))
    out.append("\t... %d more" % num(3, 40))
    return "\n".join(out)


def js(exc, frames):
    out = [exc]
    for fn, path in frames:
        loc = "%s:%d:%d" % (path, num(1, 500), num(1, 80))
        out.append("    at %s (%s)" % (fn, loc) if fn else "    at %s" % loc)
    return "\n".join(out)


def sdk(frames):
    """The C SDK's sanitized frames, both spellings it may send."""
    out = []
    for fn, f in frames:
        if rng.random() < 0.5:
            out.append("%s (%s)" % (fn, f))
        else:
            out.append("~/src/%s:%d %s" % (f, num(10, 900), fn))
    return "\n".join(out)


LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
PY = "/usr/lib/python3.11"
SITE = "/home/%s/.venv/lib/python3.11/site-packages" % "alice"


def ev(group, msg, code=None, stack=None, endpoint=None, fp=None,
       impact=None):
    e = {"group": group}
    if code is not None:
        e["error_code"] = code
    e["error_message"] = msg
    if stack is not None:
        e["stack_trace"] = stack
    if endpoint is not None:
        e["endpoint"] = endpoint
    if fp is not None:
        e["fingerprint"] = fp
    if impact is not None:
        e["impact"] = impact
    return e


# --- dev groups --------------------------------------------------------------
# Each generator returns one event of its group with fresh variable parts.

def db_refused():
    return ev("db-conn-refused",
              "connection refused to db %s:5432 (attempt %d of 5)" % (ip4(), num(1, 5)),
              "ECONNREFUSED", glibc([("./acme-sync", "connect_db"),
                                     ("./acme-sync", "open_pool"),
                                     ("./acme-sync", "main"),
                                     (LIBC, None)]), "/v1/sync")


def cache_refused():
    return ev("cache-conn-refused",
              "connection refused to cache %s:6379 (attempt %d of 5)" % (ip4(), num(1, 5)),
              "ECONNREFUSED", glibc([("./acme-sync", "connect_cache"),
                                     ("./acme-sync", "warm_cache"),
                                     ("./acme-sync", "main"),
                                     (LIBC, None)]), "/v1/sync")


def timeout_fetch():
    return ev("timeout-fetch-items",
              "timeout after %ds in fetch_items (request %s)" % (rng.choice([30, 30, 60]), uuid()),
              "ETIMEDOUT", sdk([("fetch_items", "client.c"),
                                ("list_all", "client.c"),
                                ("run_sync", "sync.c")]), "/v1/items")


def timeout_upload():
    return ev("timeout-upload-file",
              "timeout after %ds in upload_file (request %s)" % (rng.choice([30, 30, 60]), uuid()),
              "ETIMEDOUT", sdk([("upload_file", "upload.c"),
                                ("upload_all", "upload.c"),
                                ("run_sync", "sync.c")]), "/v1/files")


def item_404():
    return ev("item-404",
              "GET https://api.acme.io/v1/items/%d?expand=owner returned 404 Not Found" % num(1000, 999999),
              "HTTP_404", asan([("get_item", root() + "/src/items.c"),
                                ("show_item", root() + "/src/cli.c"),
                                ("main", root() + "/src/main.c"),
                                ("__libc_start_main", LIBC)]), "/v1/items/{id}")


def json_resp():
    return ev("json-decode-response",
              "JSONDecodeError: Expecting value: line %d column %d (char %d)" % (num(1, 3), num(1, 90), num(0, 400)),
              "ValueError", python([
                  (PY + "/json/decoder.py", "raw_decode", "raise JSONDecodeError(\"Expecting value\", s, err.value) from None"),
                  (PY + "/json/decoder.py", "decode", "obj, end = self.raw_decode(s, idx=_w(s, 0).end())"),
                  (SITE + "/requests/models.py", "json", "return complexjson.loads(self.text, **kwargs)"),
                  (root() + "/acme/client.py", "parse_response", "data = resp.json()"),
                  (root() + "/acme/client.py", "fetch_items", "items = self.parse_response(r)"),
                  (root() + "/acme/cli.py", "main", "client.fetch_items()")],
                  "json.decoder.JSONDecodeError: Expecting value"), "/v1/items")


def json_config():
    # same message, different code path: (c)
    return ev("json-decode-config",
              "JSONDecodeError: Expecting value: line %d column %d (char %d)" % (num(1, 3), num(1, 90), num(0, 400)),
              "ValueError", python([
                  (PY + "/json/decoder.py", "raw_decode", "raise JSONDecodeError(\"Expecting value\", s, err.value) from None"),
                  (PY + "/json/decoder.py", "decode", "obj, end = self.raw_decode(s, idx=_w(s, 0).end())"),
                  (PY + "/json/__init__.py", "load", "return loads(fp.read(),"),
                  (root() + "/acme/config.py", "load_config", "cfg = json.load(f)"),
                  (root() + "/acme/cli.py", "main", "config = load_config(args.config)")],
                  "json.decoder.JSONDecodeError: Expecting value"), None)


def segv_batch():
    return ev("segv-batch-add",
              "AddressSanitizer: SEGV on unknown address 0x%012x (pc %s bp %s sp %s T0)" % (
                  num(0, 0x40), addr(), addr(0x7ffd00000000), addr(0x7ffd00000000)),
              "SIGSEGV", asan([("batch_add", root() + "/lib/batch.c"),
                               ("queue_push", root() + "/lib/queue.c"),
                               ("track_event", root() + "/lib/track.c"),
                               ("main", root() + "/examples/demo.c"),
                               ("__libc_start_main", LIBC)]), None)


def oom_buffer():
    return ev("oom-buffer-grow",
              "out of memory allocating %d bytes (buffer at %s)" % (rng.choice([1, 2, 4, 8, 16]) * 1048576, addr()),
              "ENOMEM", gdb([("buffer_grow", root() + "/lib/buffer.c"),
                             ("encode_batch", root() + "/lib/encode.c"),
                             ("flush_worker", root() + "/lib/worker.c")]), "/v1/batch")


def auth_expired():
    return ev("auth-token-expired",
              "HTTP 401 Unauthorized: token 'eyJhbGciOiJIUzI1NiJ9.%s' expired at %s" % (hexs(24), stamp()),
              "HTTP_401", java("com.acme.client.AuthException: token expired", [
                  ("com.acme.client.AuthClient.refresh", "AuthClient.java"),
                  ("com.acme.client.AuthClient.ensureToken", "AuthClient.java"),
                  ("com.acme.client.ApiClient.execute", "ApiClient.java"),
                  ("java.util.concurrent.FutureTask.run", "FutureTask.java"),
                  ("java.lang.Thread.run", "Thread.java")]), "/v1/token")


def rate_limited():
    return ev("rate-limited-send",
              "429 Too Many Requests: retry after %d seconds (limit %d/min for key %s)" % (num(1, 60), rng.choice([600, 1200]), hexs(12)),
              "HTTP_429", js("Error: 429 Too Many Requests", [
                  ("sendBatch", root() + "/src/transport.js"),
                  ("async Transport.flush", root() + "/src/transport.js"),
                  ("processTicksAndRejections", "node:internal/process/task_queues")]),
              "/v1/batch")


def spool_open():
    return ev("spool-open-enoent",
              "cannot open spool file /tmp/tlm-spool-%s/%06d.dat: No such file or directory" % (hexs(6), num(1, 999999)),
              "ENOENT", sdk([("spool_open", "spool.c"),
                             ("spool_replay", "spool.c"),
                             ("client_start", "client.c")]), None)


def config_perm():
    u = rng.choice(USERS)
    return ev("config-permission-denied",
              "open '/home/%s/.config/acme/config.json': Permission denied" % u,
              "EACCES", python([
                  (root() + "/acme/config.py", "read_config", "with open(path) as f:"),
                  (root() + "/acme/config.py", "load_config", "raw = read_config(path)"),
                  (root() + "/acme/cli.py", "main", "config = load_config(args.config)")],
                  "PermissionError: [Errno 13] Permission denied"), None)


def user_not_found():
    return ev("user-not-found",
              "user %s not found in org %d" % (email(), num(1, 9999)),
              "NOT_FOUND", python([
                  (root() + "/acme/users.py", "lookup_user", "raise NotFound(f\"user {email} not found in org {org}\")"),
                  (root() + "/acme/users.py", "invite", "user = lookup_user(email, org)"),
                  (SITE + "/click/core.py", "invoke", "return callback(*args, **kwargs)")],
                  "acme.errors.NotFound: user not found"), "/v1/users")


def index_paginate():
    return ev("index-error-paginate", "IndexError: list index out of range",
              "IndexError", python([
                  (root() + "/acme/pager.py", "next_page", "return self.pages[self.i + 1]"),
                  (root() + "/acme/pager.py", "__iter__", "page = self.next_page()"),
                  (root() + "/acme/client.py", "list_items", "for page in Pager(self):")],
                  "IndexError: list index out of range"), "/v1/items")


def index_merge():
    # same message, different code path: (c)
    return ev("index-error-merge", "IndexError: list index out of range",
              "IndexError", python([
                  (root() + "/acme/merge.py", "merge_pages", "a, b = pages[0], pages[1]"),
                  (root() + "/acme/sync.py", "sync_items", "merged = merge_pages(pages)"),
                  (root() + "/acme/cli.py", "main", "sync_items(client)")],
                  "IndexError: list index out of range"), "/v1/sync")


def js_typeerror():
    return ev("js-undefined-id",
              "TypeError: Cannot read properties of undefined (reading '%s')" % rng.choice(["id", "id", "name"]),
              "TypeError", js("TypeError: Cannot read properties of undefined", [
                  ("renderItem", root() + "/src/items.js"),
                  ("Array.map", None) if False else ("Array.map", "<anonymous>"),
                  ("renderList", root() + "/src/items.js"),
                  ("Module._compile", root() + "/node_modules/react-dom/cjs/react-dom.development.js")]),
              "/v1/items")


def java_npe():
    return ev("java-npe-cache",
              "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"key\" is null",
              "NullPointerException", java("java.lang.NullPointerException", [
                  ("java.util.concurrent.ConcurrentHashMap.get", "ConcurrentHashMap.java"),
                  ("com.acme.client.Cache.lookup", "Cache.java"),
                  ("com.acme.client.ApiClient.getCached", "ApiClient.java"),
                  ("com.acme.client.ApiClient.execute", "ApiClient.java")]), "/v1/items")


def disk_full():
    n = rng.choice([4096, 8192, 65536])
    return ev("spool-disk-full",
              "write failed on /var/lib/acme/spool/%d.dat: No space left on device (wrote %d of %d bytes)" % (num(1, 99999), num(0, n - 1), n),
              "ENOSPC", None, None)


def dns_fail():
    return ev("dns-resolve-failed",
              "could not resolve host: ingest.acme.io (after %d ms, resolver %s)" % (num(5, 5000), ip4()),
              "EAI_AGAIN", None, "/v1/batch")


def payment_custom():
    # (e) the caller merges two different messages into one group
    msg = rng.choice(["payment gateway timeout after %ds" % num(5, 30),
                      "payment gateway returned 502 Bad Gateway (txn %s)" % uuid()])
    return ev("payment-gateway", msg, rng.choice(["PAYMENT_TIMEOUT", "PAYMENT_502"]),
              sdk([("charge_card", "billing.c"), ("checkout", "cart.c")]),
              "/v1/checkout", fp=rng.choice(["payment-gateway", ["payment-gateway"]]))


def billing_upstream_custom():
    # (e) array fingerprint merging two codes
    msg = rng.choice(["billing upstream 503 Service Unavailable",
                      "billing upstream connection reset by peer %s:443" % ip4()])
    return ev("billing-upstream", msg, rng.choice(["HTTP_503", "ECONNRESET"]),
              None, "/v1/invoices", fp=["upstream", "billing"])


def sdk_503_send():
    return ev("ingest-503-send-batch",
              "HTTP 503 Service Unavailable from %s (retry %d)" % (ip4(), num(1, 8)),
              "HTTP_503", sdk([("send_batch", "transport.c"),
                               ("flush_queue", "queue.c"),
                               ("worker_main", "worker.c")]), "/v1/batch")


def sdk_503_config():
    # same message, different code path: (c)
    return ev("ingest-503-fetch-config",
              "HTTP 503 Service Unavailable from %s (retry %d)" % (ip4(), num(1, 8)),
              "HTTP_503", sdk([("fetch_remote_config", "config.c"),
                               ("client_start", "client.c"),
                               ("main", "app.c")]), "/v1/config")


def double_free():
    return ev("double-free-event",
              "free(): double free detected in tcache 2 (ptr 0x%012x)" % num(0x55d100000000, 0x55d1ffffffff),
              "SIGABRT", glibc([(LIBC, None), (LIBC, "abort"),
                                ("./acme-sync", "event_free"),
                                ("./acme-sync", "flush_events"),
                                ("./acme-sync", "main")]), None)


DEV = [(db_refused, 12), (cache_refused, 10), (timeout_fetch, 10),
       (timeout_upload, 9), (item_404, 8), (json_resp, 9), (json_config, 7),
       (segv_batch, 8), (oom_buffer, 7), (auth_expired, 8), (rate_limited, 8),
       (spool_open, 8), (config_perm, 7), (user_not_found, 9),
       (index_paginate, 7), (index_merge, 6), (js_typeerror, 7),
       (java_npe, 6), (disk_full, 7), (dns_fail, 6), (payment_custom, 10),
       (billing_upstream_custom, 6), (sdk_503_send, 8), (sdk_503_config, 7),
       (double_free, 6)]


# --- known limits (added after tuning, to measure them; not held-out) -----

def hard_eagain():
    # the same bug, sent with and without a stack: splits
    return ev("limit-send-eagain",
              "send failed: Resource temporarily unavailable (fd %d)" % num(3, 200),
              "EAGAIN", rng.choice([None, sdk([("send_batch", "transport.c"),
                                               ("flush_queue", "queue.c")])]),
              "/v1/batch")


def hard_callers():
    # the same bug reached from two callers at frame 3: splits
    return ev("limit-parse-header",
              "AddressSanitizer: heap-buffer-overflow on address %s" % addr(),
              "SIGSEGV", asan([("parse_header", root() + "/lib/http.c"),
                               ("read_response", root() + "/lib/http.c"),
                               (rng.choice(["fetch_items", "upload_file"]),
                                root() + "/lib/client.c")]), None)


def hard_hosts():
    # the same bug against different regional hosts: splits
    return ev("limit-regional-host",
              "could not connect to %s.acme.io" % rng.choice(["api-eu", "api-us", "api-ap"]),
              "ECONNREFUSED", sdk([("open_socket", "net.c"),
                                   ("transport_open", "transport.c")]), None)


LIMITS = [(hard_eagain, 6), (hard_callers, 6), (hard_hosts, 6)]


# --- held-out groups ---------------------------------------------------------

def ho_tls():
    return ev("ho-tls-verify",
              "SSL certificate problem: unable to get local issuer certificate (url https://ingest.acme.io:%d/v1/batch?key=%s)" % (rng.choice([443, 8443]), hexs(16)),
              "CURLE_PEER_FAILED_VERIFICATION",
              asan([("curl_easy_perform", "/usr/lib/x86_64-linux-gnu/libcurl.so.4"),
                    ("transport_send", root() + "/lib/transport.c"),
                    ("send_batch", root() + "/lib/transport.c"),
                    ("flush_queue", root() + "/lib/queue.c")]), "/v1/batch")


def ho_validation_email():
    # (e) the caller splits one message into two groups
    return ev("ho-validation-email", "validation failed for field %s" % email(),
              "VALIDATION", None, "/v1/users", fp=["validation", "email"])


def ho_validation_phone():
    return ev("ho-validation-phone", "validation failed for field +1 555 %04d" % num(0, 9999),
              "VALIDATION", None, "/v1/users", fp=["validation", "phone"])


def ho_ipv6_refused():
    return ev("ho-ipv6-refused",
              "connect to [%s]:%d failed: Connection refused" % (ip6(), rng.choice([443, 8443])),
              "ECONNREFUSED", gdb([("tcp_connect", root() + "/lib/net.c"),
                                   ("transport_open", root() + "/lib/transport.c"),
                                   ("worker_main", root() + "/lib/worker.c")]), "/v1/batch")


def ho_java_timeout():
    return ev("ho-java-read-timeout",
              "java.net.SocketTimeoutException: Read timed out after %d ms on /%s:443" % (num(1000, 30000), ip4()),
              "SocketTimeoutException", java("java.net.SocketTimeoutException: Read timed out", [
                  ("java.base/java.net.SocketInputStream.socketRead0", "Native Method"),
                  ("java.net.SocketInputStream.read", "SocketInputStream.java"),
                  ("com.acme.client.Transport.readResponse", "Transport.java"),
                  ("com.acme.client.Transport.send", "Transport.java"),
                  ("com.acme.client.ApiClient.execute", "ApiClient.java")]), "/v1/batch")


def ho_java_timeout_upload():
    # similar text, different code path
    return ev("ho-java-upload-timeout",
              "java.net.SocketTimeoutException: Read timed out after %d ms on /%s:443" % (num(1000, 30000), ip4()),
              "SocketTimeoutException", java("java.net.SocketTimeoutException: Read timed out", [
                  ("java.net.SocketInputStream.read", "SocketInputStream.java"),
                  ("com.acme.client.Uploader.awaitAck", "Uploader.java"),
                  ("com.acme.client.Uploader.upload", "Uploader.java")]), "/v1/files")


def ho_py_keyerror():
    return ev("ho-py-keyerror-org",
              "KeyError: '%s'" % rng.choice(["org_id", "organization", "org"]),
              "KeyError", python([
                  (root() + "/acme/models.py", "from_json", "org = data[key]"),
                  (root() + "/acme/client.py", "get_org", "return Org.from_json(r.json())")],
                  "KeyError"), "/v1/orgs/{id}")


def ho_c_assert():
    return ev("ho-assert-queue",
              "acme-sync: %s/lib/queue.c:%d: queue_pop: Assertion `q->len > 0' failed." % (root(), num(100, 300)),
              "SIGABRT", glibc([(LIBC, None), (LIBC, "abort"), (LIBC, None),
                                ("/usr/local/lib/libtelemetry.so.1", "tlm_client_flush"),
                                ("./acme-sync", "queue_pop"),
                                ("./acme-sync", "drain"),
                                ("./acme-sync", "main")]), None)


def ho_js_fetch():
    return ev("ho-js-fetch-failed",
              "TypeError: fetch failed (cause: connect ECONNREFUSED %s:%d)" % (ip4(), num(1024, 65535)),
              "TypeError", js("TypeError: fetch failed", [
                  ("fetch", root() + "/node_modules/undici/index.js"),
                  ("async uploadChunk", "file://" + root() + "/src/upload.mjs"),
                  ("async Promise.all", "index 0"),
                  ("async uploadFile", "file://" + root() + "/src/upload.mjs")]), "/v1/files")


def ho_no_stack_quota():
    return ev("ho-quota-exceeded",
              "quota exceeded for project \"%s\": %d events in the last %d minutes (limit %d)" % (
                  rng.choice(["web-frontend", "billing", "mobile"]), num(1000, 90000), num(1, 60), 50000),
              "QUOTA", None, "/v1/batch")


def ho_tmp_path():
    return ev("ho-tmp-rename",
              "rename %s/tlm-%s.tmp -> %s/spool.db failed: Invalid cross-device link" % (
                  rng.choice(["/tmp", "/var/tmp"]), hexs(8), rng.choice(["/var/lib/acme", "/srv/acme/data"])),
              "EXDEV", sdk([("spool_commit", "spool.c"), ("spool_flush", "spool.c")]), None)


HELDOUT = [(ho_tls, 8), (ho_validation_email, 6), (ho_validation_phone, 5),
           (ho_ipv6_refused, 6), (ho_java_timeout, 6),
           (ho_java_timeout_upload, 5), (ho_py_keyerror, 6), (ho_c_assert, 6),
           (ho_js_fetch, 6), (ho_no_stack_quota, 6), (ho_tmp_path, 6)]


def main():
    out = sys.stdout
    for section, groups, held in (("dev", DEV, False),
                                  ("held-out", HELDOUT, True),
                                  ("limits", LIMITS, False)):
        events = []
        for gen, n in groups:
            for _ in range(n):
                e = gen()
                if held:
                    e["heldout"] = True
                if rng.random() < 0.5:
                    e["impact"] = rng.choice(["low", "medium", "high", "critical"])
                events.append(e)
        rng.shuffle(events)
        for e in events:
            out.write(json.dumps(e, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
