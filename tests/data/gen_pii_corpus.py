#!/usr/bin/env python3
"""Writes pii_corpus.tsv: realistic strings with planted PII, and without.

Run from this directory: python3 gen_pii_corpus.py > pii_corpus.tsv
Seeded, so the output is reproducible. Format of each line (tab-separated):
  mode   "text" (tlm__scrub_string) or "path" (tlm__scrub_path)
  kinds  comma-separated detector names planted in the line, "-" for none
  text   the string; every planted value is marked {{kind|value}}; \\n, \\t
         and \\\\ are escapes. test_scrub.c strips the marks, scrubs the
         string and checks that each planted value is gone (recall), and
         that lines with kinds "-" come back unchanged (false positives).
"""
import base64
import json
import random

R = random.Random(20261204)
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
         "sybil", "trent", "victor", "walter", "yusuf", "zoe", "li.wei",
         "maria.garcia", "j.smith", "anna-lena", "o.connor", "priya_k"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net",
           "example.co.uk", "students.uni-example.edu", "example.io",
           "sub.domain.example.com", "example.de", "EXAMPLE.COM"]
ENDPOINTS = ["/v1/users", "/v1/orders", "/v2/payments", "/v1/invoices",
             "/api/v3/customers", "/v1/projects", "/v2/accounts",
             "/v1/files", "/v1/reports", "/internal/jobs"]


def pick(xs):
    return R.choice(xs)


def email():
    local = pick(FIRST)
    r = R.random()
    if r < 0.2:
        local += "+" + pick(["billing", "test", "dev", "x"])
    elif r < 0.35:
        local += str(R.randint(1, 999))
    if R.random() < 0.15:
        local = local.capitalize()
    return local + "@" + pick(DOMAINS)


def ipv4():
    r = R.random()
    if r < 0.3:
        return "10.%d.%d.%d" % (R.randint(0, 255), R.randint(0, 255),
                                R.randint(1, 254))
    if r < 0.5:
        return "192.168.%d.%d" % (R.randint(0, 255), R.randint(1, 254))
    if r < 0.6:
        return "172.%d.%d.%d" % (R.randint(16, 31), R.randint(0, 255),
                                 R.randint(1, 254))
    return "%d.%d.%d.%d" % (R.randint(1, 223), R.randint(0, 255),
                            R.randint(0, 255), R.randint(1, 254))


def h4():
    return "%x" % R.randint(1, 0xffff)


def ipv6():
    r = R.random()
    if r < 0.2:
        return ":".join("%04x" % R.randint(0, 0xffff) for _ in range(8))
    if r < 0.4:
        return "2001:db8::" + h4() + ":" + h4()
    if r < 0.55:
        return "fe80::" + h4() + ":" + h4() + ":" + h4() + ":" + h4()
    if r < 0.7:
        return "::ffff:" + ipv4()
    if r < 0.8:
        return "2a02:" + h4() + ":" + h4() + "::" + h4()
    if r < 0.9:
        return "::1"
    return "2600:1f18:" + h4() + ":" + h4() + ":" + h4() + ":" + h4() + ":" \
        + h4() + ":" + h4()


def luhn_complete(prefix, length):
    digits = prefix + "".join(str(R.randint(0, 9))
                              for _ in range(length - len(prefix) - 1))
    for d in "0123456789":
        s = digits + d
        tot = 0
        for i, ch in enumerate(reversed(s)):
            v = int(ch)
            if i % 2 == 1:
                v *= 2
                if v > 9:
                    v -= 9
            tot += v
        if tot % 10 == 0:
            return s


def card():
    kind = pick([("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16),
                 ("34", 15), ("37", 15), ("6011", 16), ("65", 16),
                 ("3530", 16), ("36", 14), ("4", 13), ("62", 16)])
    num = luhn_complete(kind[0], kind[1])
    r = R.random()
    if r < 0.35:
        return num
    sep = " " if r < 0.7 else "-"
    if len(num) == 15:
        return sep.join([num[:4], num[4:10], num[10:]])
    return sep.join(num[i:i + 4] for i in range(0, len(num), 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def jwt():
    hdr = {"alg": pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    pl = {"sub": str(R.randint(1000, 99999)), "iat": R.randint(1.6e9, 1.8e9),
          "exp": R.randint(1.8e9, 1.9e9)}
    if R.random() < 0.5:
        pl["email"] = email()
    sig = bytes(R.randint(0, 255) for _ in range(pick([32, 64])))
    return ".".join([b64url(json.dumps(hdr, separators=(",", ":")).encode()),
                     b64url(json.dumps(pl, separators=(",", ":")).encode()),
                     b64url(sig)])


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def rand_tok(n, alphabet=ALNUM + "-_"):
    return "".join(R.choice(alphabet) for _ in range(n))


def prefixed():
    p = pick(["sk_live_", "sk_test_", "ghp_", "xoxb-", "AKIA", "glpat-",
              "AIza", "github_pat_", "npm_", "whsec_"])
    if p == "AKIA":
        return p + rand_tok(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    if p == "xoxb-":
        return p + "%d-%d-%s" % (R.randint(10 ** 10, 10 ** 11),
                                 R.randint(10 ** 12, 10 ** 13),
                                 rand_tok(24, ALNUM))
    if p == "AIza":
        return p + rand_tok(35, ALNUM + "-_")
    return p + rand_tok(pick([24, 36, 40]), ALNUM)


def password():
    return pick(["hunter2", "S3cr3t!pass", "P@ssw0rd2024", "correct-horse-9",
                 "Tr0ub4dor&3", "letmein!42", "qwerty123", "Zx9#mK2$pL"])


def phone():
    return pick([
        "+1 (%d) %d-%04d" % (R.randint(201, 989), R.randint(200, 999),
                             R.randint(0, 9999)),
        "+1-%d-%d-%04d" % (R.randint(201, 989), R.randint(200, 999),
                           R.randint(0, 9999)),
        "+44 20 %04d %04d" % (R.randint(1000, 9999), R.randint(0, 9999)),
        "+44 7%d %06d" % (R.randint(100, 999), R.randint(0, 999999)),
        "+49 30 %d" % R.randint(1000000, 99999999),
        "+49-151-%d" % R.randint(10000000, 99999999),
        "+33 6 %02d %02d %02d %02d" % tuple(R.randint(0, 99) for _ in "abcd"),
        "+81 3-%04d-%04d" % (R.randint(1000, 9999), R.randint(0, 9999)),
        "+61 4%02d %03d %03d" % (R.randint(0, 99), R.randint(0, 999),
                                 R.randint(0, 999)),
        "+91 %d %d" % (R.randint(70000, 99999), R.randint(10000, 99999)),
        "+%d" % R.randint(10 ** 10, 10 ** 12),
        "+31 (0)20 %d %04d" % (R.randint(100, 999), R.randint(0, 9999)),
        "+55 11 9%04d-%04d" % (R.randint(1000, 9999), R.randint(0, 9999)),
    ])


def home():
    u = pick(["alice", "bob", "jdoe", "mgarcia", "svc-build", "ci", "dev",
              "Olivia", "kim.lee"])
    return pick(["/home/" + u, "/Users/" + u, "C:\\Users\\" + u]), u


def uuid4():
    h = "%032x" % R.getrandbits(128)
    return "-".join([h[:8], h[8:12], "4" + h[13:16], "a" + h[17:20], h[20:]])


def m(kind, value):
    return "{{%s|%s}}" % (kind, value)


lines = []


def add(mode, text):
    if any(t == text for _, _, t in lines):
        return
    kinds = []
    for part in text.split("{{")[1:]:
        k = part.split("|", 1)[0]
        if k not in kinds:
            kinds.append(k)
    lines.append((mode, ",".join(kinds) or "-", text))


# ---- lines with PII --------------------------------------------------------
for _ in range(36):
    e = email()
    add("text", pick([
        "User not found: %s" % m("email", e),
        "Failed to send verification mail to <%s>: 550 mailbox unavailable"
        % m("email", e),
        "ValidationError: field 'email' value '%s' already registered"
        % m("email", e),
        "feedback from %s: the export button does nothing on Firefox"
        % m("email", e),
        '{"error":"duplicate_key","detail":"Key (email)=(%s) already exists."}'
        % m("email", e),
        "SMTP 421 while delivering to %s, retry in 300s" % m("email", e),
        "Please contact me at %s, the webhook retries never stop."
        % m("email", e),
        "invite sent by %s to %s" % (m("email", e), m("email", email())),
        "mailto:%s?subject=Bug" % m("email", e),
    ]))
for _ in range(24):
    ip = ipv4()
    add("text", pick([
        "connect ECONNREFUSED %s:5432" % m("ip", ip),
        "Request from %s blocked by rate limiter (429)" % m("ip", ip),
        "X-Forwarded-For: %s, %s" % (m("ip", ip), m("ip", ipv4())),
        "upstream timed out (110: Connection timed out) while connecting to "
        "upstream, client: %s, server: api" % m("ip", ip),
        "dial tcp %s:443: i/o timeout" % m("ip", ip),
        "login attempt for account 4411 from IP %s failed" % m("ip", ip),
        "GET http://%s:8080/healthz returned 503" % m("ip", ip),
    ]))
for _ in range(18):
    ip = ipv6()
    add("text", pick([
        "dial tcp [%s]:443: connect: network is unreachable" % m("ip", ip),
        "client %s exceeded quota" % m("ip", ip),
        "bind: address %s already in use" % m("ip", ip),
        "remote_addr=%s status=500 path=/v1/orders" % m("ip", ip),
    ]))
for _ in range(36):
    c = card()
    add("text", pick([
        "PaymentError: card %s declined (insufficient_funds)" % m("card", c),
        '{"card_number":"%s","exp":"12/27"}' % m("card", c),
        "customer typed card %s into the notes field" % m("card", c),
        "charge failed for pan=%s amount=49.99 EUR" % m("card", c),
        "feedback: I entered %s and got error 402 twice" % m("card", c),
        "Stripe test card %s rejected in live mode" % m("card", c),
    ]))
for _ in range(30):
    j = jwt()
    add("text", pick([
        "Authorization: Bearer %s" % m("jwt", j),
        "jwt malformed: %s" % m("jwt", j),
        "TokenExpiredError: jwt expired at 2024-03-01T10:00:00Z (token %s)"
        % m("jwt", j),
        '{"headers":{"authorization":"Bearer %s","accept":"*/*"}}'
        % m("jwt", j),
        "redirect to /callback#id_token=%s&state=af0ifjsldkj" % m("jwt", j),
        "cookie session=%s rejected" % m("jwt", j),
    ]))
for _ in range(60):
    pw = password()
    tok = rand_tok(R.randint(20, 40), ALNUM)
    add("text", pick([
        "Authorization: Bearer %s" % m("secret", tok),
        "Authorization: Basic %s" % m("secret", base64.b64encode(
            ("%s:%s" % (pick(FIRST), pw)).encode()).decode()),
        "curl -H 'Authorization: Bearer %s' https://api.example.com/v1/me"
        % m("secret", tok),
        "POST /login body: username=jdoe&password=%s" % m("secret", pw),
        '{"user":"jdoe","password":"%s","remember":true}' % m("secret", pw),
        "db connect failed: postgres://app:%s@db.internal:5432/prod"
        % m("secret", pw),
        "config: api_key=%s timeout=30" % m("secret", tok),
        "env DATABASE_PASSWORD=%s leaked in logs" % m("secret", pw),
        "invalid api key %s" % m("secret", prefixed()),
        "using token %s for GitHub API" % m("secret", prefixed()),
        "aws: credentials AKIA... rejected, secret_access_key=%s"
        % m("secret", rand_tok(40, ALNUM + "+/")),
        "X-Api-Key: %s" % m("secret", tok),
        "retrying with access_token=%s" % m("secret", tok),
        "client_secret: %s" % m("secret", tok),
        "Slack webhook failed for %s" % m("secret", prefixed()),
        "unexpected response, nonce %s" % m("secret", rand_tok(40, ALNUM)),
        "pwd=%s; user=admin" % m("secret", pw),
        "yaml: password: %s" % m("secret", pw),
    ]))
for _ in range(36):
    p = phone()
    add("text", pick([
        "SMS delivery failed to %s: unreachable" % m("phone", p),
        "feedback: call me back on %s please" % m("phone", p),
        'Twilio error 21211: invalid "To" number %s' % m("phone", p),
        "user updated phone to %s (verified)" % m("phone", p),
        '{"contact":{"phone":"%s"}}' % m("phone", p),
    ]))
for _ in range(36):
    h, u = home()
    sep = "\\" if h.startswith("C:") else "/"
    f = sep.join(["projects", "shop-api", pick(["main.py", "client.c",
                                                 "index.js", "App.java"])])
    add("text", pick([
        'Traceback (most recent call last):\n  File "%s%s%s", line 42, in '
        'handler\nKeyError: \'user\'' % (m("home", h), sep, f),
        "open(%s%s.config%stelemetry.json): permission denied"
        % (m("home", h), sep, sep),
        "at Object.<anonymous> (%s%s%s:17:9)" % (m("home", h), sep, f),
        "ENOENT: no such file or directory, stat '%s%sDownloads%sreport.csv'"
        % (m("home", h), sep, sep),
        "panic: runtime error at %s%sgo%ssrc%sapp%smain.go:88"
        % (m("home", h), sep, sep, sep, sep),
    ]))
for _ in range(30):
    name = pick(["john smith", "jane.doe", "Mueller", "acme-corp-4411"])
    add("text", pick([
        "GET /v1/search?q=%s&page=2 returned 500" % m("query", name.replace(
            " ", "+")),
        "redirect to https://app.example.com/welcome?ref=%s&utm_source=mail"
        % m("query", "newsletter-" + str(R.randint(100, 999))),
        "fetch https://api.example.com/v1/users?email=%s failed: 502"
        % m("query", email()),
        "callback https://example.com/oauth/cb?code=%s&state=xyz987 rejected"
        % m("query", rand_tok(12, "abcdefghijklmnopqrstuvwxyz")),
        "link /reset?user=%s&lang=en expired" % m("query", name.replace(
            " ", "%20")),
    ]))
for _ in range(40):
    ep = pick(ENDPOINTS)
    r = R.random()
    if r < 0.3:
        t = "%s/%s" % (ep, m("id", str(R.randint(100, 99999999))))
    elif r < 0.5:
        t = "%s/%s/items/%s" % (ep, m("id", uuid4()),
                                m("id", str(R.randint(1000, 99999))))
    elif r < 0.6:
        t = "%s/%s/avatar" % (ep, m("email", email()))
    elif r < 0.7:
        t = "%s/%s" % (ep, m("id", "%024x" % R.getrandbits(96)))
    elif r < 0.8:
        t = "%s/%s?email=%s&page=2" % (ep, m("id", str(R.randint(100, 9999))),
                                       m("query", email()))
    elif r < 0.9:
        t = "/v1/hosts/%s/metrics" % m("ip", ipv4())
    else:
        t = "%s/%s/export.csv" % (ep, m("id", str(R.randint(10000, 99999))))
    add("path", t)

# ---- lines without PII -----------------------------------------------------
NEG = [
    "TypeError: Cannot read properties of undefined (reading 'map')",
    "HTTP/1.1 503 Service Unavailable",
    "HTTP/2 429 Too Many Requests, Retry-After: 30",
    "request id 550e8400-e29b-41d4-a716-446655440000 timed out after 30000 ms",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "upgrade to libtelemetry 1.4.2 fixed the crash",
    "version 10.0.19045.3570 is not supported",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/120.0.0.0 Safari/537.36",
    "assembly System.Runtime, Version=4.0.0.0, Culture=neutral",
    "order 4111111111111112 shipped on 2024-03-01",
    "invoice INV-2024-000123 total 1,234.56 USD",
    "timestamp 1700000000000 is in the future",
    "event at 2024-03-01T12:34:56.789+01:00 dropped",
    "took 12:34:56 to finish, 3 retries",
    "commit 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39 introduced the regression",
    "sha256:9b2a7c4e1f0d3b6a8c5e2f1d0b9a8c7e6f5d4c3b2a1908f7e6d5c4b3a2918f7e",
    "segfault at 0x7ffd5e8c3a10 ip 00007f3b2c1d4e5f",
    "File \"/usr/lib/python3.11/site-packages/requests/adapters.py\", line 519",
    "at com.example.api.UsersController.getUser(UsersController.java:88)",
    "at org.springframework.web.servlet.DispatcherServlet.doDispatch("
    "DispatcherServlet.java:1067)",
    "/var/lib/docker/overlay2/abc123/merged: no space left on device",
    "open /etc/telemetry/config.json: no such file or directory",
    "std::vector<int>::at: __n (which is 7) >= this->size() (which is 3)",
    "token expired, please log in again",
    "password too short (minimum 12 characters)",
    "key not found in cache",
    "the api key is missing from the request",
    "Bearer token required for this endpoint",
    "secret rotation scheduled for Friday",
    "retry in +1 day",
    "price +5% after 2 updates",
    "icon@2x.png failed to load",
    "npm ERR! peer dep @babel/core@7.23.2 required",
    "pkg python@3.11 not found",
    "GET /v1/users/me 200 12ms",
    "POST /v2/payments 402 Payment Required",
    "rate limit 1000 requests per 3600 s exceeded",
    "feature request: dark mode for the dashboard please!",
    "Great API, but pagination on /v1/orders is confusing.",
    "The SDK crashes when the network drops during upload.",
    "Could you add webhooks for invoice.paid events?",
    "build 2024.03.01 deployed to staging",
    "kube pod api-7d9f8b6c5d-x2kqz restarted 3 times",
    "ERROR 1213 (40001): Deadlock found when trying to get lock",
    "duplicate key value violates unique constraint \"orders_pkey\"",
    "java.lang.OutOfMemoryError: Java heap space",
    "Exception in thread \"main\" java.lang.NullPointerException",
    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
    "read tcp: connection reset by peer",
    "SSL routines:ssl3_get_record:wrong version number",
    "value 3.14159 out of range [0, 1]",
    "coordinates 52.5200, 13.4050",
    "version 1.2.3.4.5 is malformed",
    "firmware 2.10.4.1 required",
    "OID 1.3.6.1.4.1.2021 unknown",
    "MAC 00:1a:2b:3c:4d:5e not registered",
    "progress 45/100 (45%)",
    "exit status 137 (OOMKilled)",
    "ratio 16:9 not supported",
    "UPC 036000291452 scanned twice",
    "ISBN 978-3-16-148410-0 not in catalog",
    "phone field is required",
    "e-mail address invalid",
    "see RFC 7519 section 4.1",
    "Duration: 1h2m3.5s",
    "memory 2048 MiB, cpu 0.5",
    "AbstractAutowireCapableBeanFactory.createBean failed",
    "getUserByIdWithOrganizationAndPermissionsV2 threw",
    "x86_64-linux-gnu-gcc-12 not found",
    "module github.com/example/telemetry-go/v2@v2.3.1 not found",
    "dependency org.apache.httpcomponents:httpclient:4.5.14",
    "/usr/local/share/telemetry/web/index.html not found",
    "C:\\Program Files\\Example\\sdk.dll failed to load",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "/Users/Shared is not writable",
    "queue depth 4096, dropped 12",
    "error code E_TIMEOUT after 3 attempts",
    "nonce reuse detected",
    "base64 decode failed at byte 17",
    "SELECT * FROM orders WHERE id = $1",
    "index 7 out of bounds for length 3",
    "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT",
    "locale de_DE.UTF-8 missing",
    "sampling rate 0.25 applied",
    "batch 018bcfe5-6b7b-7c3d-9e2f-0123456789ab accepted=100 duplicates=0",
    "checksum a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 mismatch",
    "Cache-Control: no-cache, max-age=0",
    "Content-Type: application/json; charset=utf-8",
    "User-Agent: libtelemetry/0.1.0 (linux; x86_64)",
    "temperature 21.5 C",
    "1.0.0",
    "v2.14.0-rc.1",
    "port 8080 already in use",
    "listening on :9090",
    "2024/03/01 12:00:00 server started",
    "Mar  1 12:00:00 web-01 nginx[1234]: worker process exited",
    "the user clicked 'Save' twice",
    "Unhandled promise rejection: AbortError",
    "gRPC status 14 UNAVAILABLE",
    "CORS preflight failed for origin https://app.example.com",
    "https://docs.example.com/guides/errors#rate-limits",
    "see https://status.example.com for details",
    "ETag \"33a64df551425fcc55e4d42a148795d9f25f89d4\" mismatch",
    "Idempotency-Key reused with a different body",
    "weights 0.2/0.3/0.5",
    "score 4.5/5 from 1,204 reviews",
    "dimension 1920x1080 too large",
    "node v18.17.1 is deprecated",
    "OpenSSL 3.0.11 19 Sep 2023",
    "glibc 2.36 detected",
    "int overflow: 2147483648 > 2147483647",
    "UNIX time 1709294400",
    "the header X-Request-Id is missing",
    "pool size=10 overflow=5",
    "password reset email sent",
    "rotate the secret key monthly",
    "auth=required for this route",
    "session expired",
]
for t in NEG:
    add("text", t)
for t in ["/v1/health", "/v2/users/me", "/api/v3/customers/search",
          "/static/app.min.js", "/v1/feature-requests", "/admin/analytics/dashboard",
          "/v1/orders/export", "/.well-known/openid-configuration",
          "/v1/reports/daily-summary", "/docs/getting-started"]:
    add("path", t)

print("# pii_corpus.tsv - generated by gen_pii_corpus.py (seeded); see there")
print("# mode\tkinds\ttext")
for mode, kinds, text in lines:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    print("%s\t%s\t%s" % (mode, kinds, text.replace("\t", "\\t")))
