#!/usr/bin/env python3
"""Extracts every fenced code block of README.md and docs/*.md and checks it,
so that the documentation cannot rot (meson test suite 'docs').

By the block's info string:
  c       a program (has main) is compiled, linked against the built
          libtelemetry and run against a real telemetry-server; a fragment is
          compiled with -fsyntax-only at file scope, else as a function body
  python  a script (imports at top level) is run against the same server,
          with the binding from bindings/python; a fragment is byte-compiled
  sh/bash `bash -n`; then the safe commands are run: curl against the test
          server, telemetry-server/telemetry-cli with --help or --version
  json    json.loads (a bare `...` outside strings is an elision; a
          `"key": value` member alone is wrapped in {}); a configuration
          document also goes through the SDK's loader (telemetry-cli --config)
          and the server's (telemetry-server --config, started and stopped)
  others  (text, console, http, html, yaml, meson, none) are skipped

A comment on the nearest non-blank line before a fence changes that:
  <!-- snippet: skip REASON -->   not checked (the reason is required)
  <!-- snippet: fragment -->      compile / byte-compile / bash -n only
  <!-- snippet: run -->           run it (a python fragment, a whole sh block)

Before a block is run, http://127.0.0.1:8080 and http://localhost:8080 become
the test server's URL, the placeholder API keys (dev-key, demo-key, KEY) its
ingestion key and the placeholder admin tokens (dev-admin, demo-admin) its
admin token; sh commands also see TOKEN, ADMIN_TOKEN and API_KEY in their
environment. docs/contributing.md ("Documentation snippets") is the guide.

Standard library only; runs under any python3 >= 3.7 (/usr/bin/python3 too).
Exit status 0 when every checked snippet passed, 1 otherwise.
"""

import argparse
import ast
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

TEST_KEY = "docs-snippet-key"
TEST_ADMIN = "docs-snippet-admin"
KEY_WORDS = ("dev-key", "demo-key", "KEY")
ADMIN_WORDS = ("dev-admin", "demo-admin")
RUN_TIMEOUT_S = 60
SKIPPED_KINDS = ("", "text", "console", "http", "html", "yaml", "meson",
                 "diff", "ini", "toml", "js", "javascript", "css")
CONFIG_SECTIONS = ("telemetry", "feedback", "error_tracking",
                   "feature_requests", "analytics", "server")
# Programs a pipeline after a safe curl may go through.
SAFE_FILTERS = ("jq", "head", "tail", "grep", "wc", "sort", "cat", "gunzip",
                "python3")
# Declarations the C fragment templates provide (see contributing.md).
C_PRELUDE = """\
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <telemetry.h>
/* What fragments may use without declaring it. */
__attribute__((unused)) static tlm_client *client;
__attribute__((unused)) static tlm_options *opts;
__attribute__((unused)) static const char *current_user_id = "user-1";
"""
MARKER_RE = re.compile(r"^\s*<!--\s*snippet:\s*(\w[\w-]*)\s*(.*?)\s*-->\s*$")
FENCE_RE = re.compile(r"^( {0,3}| *[-*] +| *\d+\. +)?(`{3,}|~{3,})\s*([^\s`]*)")


class Snippet:
    def __init__(self, path, line, kind, text, marker, reason):
        self.path = path  # relative to the source root
        self.line = line  # 1-based line of the opening fence
        self.kind = kind
        self.text = text
        self.marker = marker  # None, "skip", "fragment" or "run"
        self.reason = reason

    def where(self):
        return "%s:%d" % (self.path, self.line)


def extract(root, rel):
    """Returns the fenced blocks of one Markdown file, in order."""
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1) or "")
        fence = m.group(2)
        kind = m.group(3).lower().split(",")[0].strip("{}.")
        body = []
        j = i + 1
        while j < len(lines):
            s = lines[j].strip()
            if s.startswith(fence[0] * len(fence)) and s.strip(fence[0]) == "":
                break
            ln = lines[j]
            body.append(ln[indent:] if ln[:indent].strip() == "" else ln)
            j += 1
        marker = reason = None
        k = i - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        if k >= 0:
            mm = MARKER_RE.match(lines[k])
            if mm:
                marker, reason = mm.group(1), mm.group(2)
        out.append(Snippet(rel, i + 1, kind, "\n".join(body) + "\n",
                           marker, reason))
        i = j + 1
    return out


class Server:
    """A real telemetry-server on a loopback port with a temporary SQLite
    database, started once for the whole run."""

    def __init__(self, binary, workdir):
        self.dir = workdir
        self.port_file = os.path.join(workdir, "port")
        self.log_path = os.path.join(workdir, "server.log")
        self.log = open(self.log_path, "w")
        env = clean_env()
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0",
             "--db", "sqlite:" + os.path.join(workdir, "docs.db"),
             "--api-key", TEST_KEY, "--admin-token", TEST_ADMIN,
             "--port-file", self.port_file],
            stdout=self.log, stderr=self.log, env=env)
        for _ in range(600):  # at most ~30 s
            if os.path.exists(self.port_file) and \
                    os.path.getsize(self.port_file) > 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("telemetry-server exited: " + self.tail())
            time.sleep(0.05)
        else:
            raise RuntimeError("telemetry-server did not start: " + self.tail())
        with open(self.port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read().strip())

    def tail(self):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-2000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def clean_env():
    env = dict(os.environ)
    for k in ("DO_NOT_TRACK", "TELEMETRY_OPTOUT", "TELEMETRY_DEBUG",
              "TELEMETRY_ENDPOINT", "TELEMETRY_API_KEY", "TELEMETRY_API_KEYS",
              "TELEMETRY_ADMIN_TOKEN"):
        env.pop(k, None)
    return env


class Runner:
    def __init__(self, args):
        self.a = args
        self.root = os.path.abspath(args.root)
        self.tmp = tempfile.mkdtemp(prefix="tlm-docs-")
        self.server = None
        self.counts = {}
        self.failures = []
        self.passed = []
        self.skips = []
        self.libdir = os.path.dirname(os.path.abspath(args.lib))

    # -- bookkeeping -------------------------------------------------------
    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def ok(self, sn, what):
        self.count(what)
        self.passed.append(sn.where())
        print("ok    %s %s: %s" % (sn.where(), sn.kind or "-", what))

    def fail(self, sn, what, detail):
        self.count("FAILED")
        msg = "FAIL  %s %s: %s" % (sn.where(), sn.kind or "-", what)
        detail = (detail or "").rstrip()
        if detail:
            msg += "\n" + "\n".join("      " + l
                                    for l in detail.splitlines()[-40:])
        print(msg)
        self.failures.append("%s: %s" % (sn.where(), what))

    def skip(self, sn, why):
        self.count("skipped")
        self.skips.append((sn.where(), sn.kind, why))
        if self.a.verbose:
            print("skip  %s %s: %s" % (sn.where(), sn.kind or "-", why))

    # -- environment -------------------------------------------------------
    def url(self):
        if self.server is None:
            self.server = Server(self.a.server, os.path.join(self.tmp))
        return self.server.url

    def rewrite(self, text):
        """Points a snippet at the test server (see the module docstring)."""
        text = re.sub(r"https?://(?:127\.0\.0\.1|localhost):8080", self.url(),
                      text)
        text = re.sub(r"(?<![\w-])(%s)(?![\w-])" % "|".join(
            re.escape(w) for w in KEY_WORDS), TEST_KEY, text)
        text = re.sub(r"(?<![\w-])(%s)(?![\w-])" % "|".join(
            re.escape(w) for w in ADMIN_WORDS), TEST_ADMIN, text)
        return text

    def env(self):
        env = clean_env()
        bindirs = [os.path.dirname(os.path.abspath(p))
                   for p in (self.a.server, self.a.cli) if p]
        env["PATH"] = os.pathsep.join(bindirs + [env.get("PATH", "")])
        env["PYTHONPATH"] = os.path.join(self.root, "bindings", "python")
        env["TELEMETRY_LIBRARY"] = os.path.abspath(self.a.lib)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["TOKEN"] = env["ADMIN_TOKEN"] = TEST_ADMIN
        env["API_KEY"] = TEST_KEY
        return env

    def workdir(self, sn):
        d = os.path.join(self.tmp, re.sub(r"\W", "_", sn.where()))
        os.makedirs(d, exist_ok=True)
        return d

    def run(self, cmd, cwd, stdin=None, shell_env=None, timeout=RUN_TIMEOUT_S):
        try:
            p = subprocess.run(cmd, cwd=cwd, env=shell_env or self.env(),
                               input=stdin, capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, "timed out after %d s" % timeout
        return p.returncode, (p.stdout or "") + (p.stderr or "")

    # -- C -----------------------------------------------------------------
    def cflags(self):
        return ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                "-D_GNU_SOURCE",
                "-I", os.path.join(self.root, "include")]

    def check_c(self, sn):
        is_program = re.search(r"^\s*(int\s+)?main\s*\(", sn.text, re.M)
        if is_program:
            return self.c_program(sn, run=sn.marker != "fragment")
        return self.c_fragment(sn)

    def c_program(self, sn, run):
        d = self.workdir(sn)
        src = os.path.join(d, "snippet.c")
        text = self.rewrite(sn.text) if run else sn.text
        with open(src, "w") as f:
            f.write('#line %d "%s"\n' % (sn.line + 1, sn.path) + text)
        exe = os.path.join(d, "snippet")
        rc, out = self.run(self.a.cc + self.cflags() +
                           ["-o", exe, src, os.path.abspath(self.a.lib),
                            "-Wl,-rpath," + self.libdir, "-pthread"], d)
        if rc != 0:
            return self.fail(sn, "the program does not compile", out)
        if not run:
            return self.ok(sn, "C program compiled and linked")
        rc, out = self.run([exe], d)
        if rc != 0:
            return self.fail(sn, "the program exited with %d" % rc, out)
        return self.ok(sn, "C program compiled, linked and run")

    def c_fragment(self, sn):
        d = self.workdir(sn)
        # A synopsis restates the header's types: a struct or enum body is
        # left to the header (redefining it is an error), what remains
        # (prototypes, typedef names) must agree with it.
        text = re.sub(r"\btypedef\s+(struct|enum)\s+(\w+)\s*\{.*?\}\s*\w+\s*;",
                      lambda m: "typedef %s %s %s_t_;" % (
                          m.group(1), m.group(2), m.group(2)),
                      sn.text, flags=re.S)
        line = '#line %d "%s"\n' % (sn.line + 1, sn.path)
        top = C_PRELUDE + line + text
        body = (C_PRELUDE + "int snippet_(void);\nint\nsnippet_(void)\n{\n" +
                line + text + "\n    return 0;\n}\n")
        errors = []
        for name, src_text, extra in (
                ("file scope", top, ["-Wno-unused-function",
                                     "-Wno-unused-variable"]),
                ("function body", body, [])):
            src = os.path.join(d, "fragment.c")
            with open(src, "w") as f:
                f.write(src_text)
            rc, out = self.run(self.a.cc + self.cflags() + extra +
                               ["-fsyntax-only", src], d)
            if rc == 0:
                return self.ok(sn, "C fragment compiled (%s)" % name)
            errors.append("as %s:\n%s" % (name, out.rstrip()))
        return self.fail(sn, "the fragment compiles neither at file scope "
                         "nor as a function body", "\n".join(errors))

    # -- Python ------------------------------------------------------------
    def check_python(self, sn):
        try:
            tree = ast.parse(sn.text, sn.where())
            compile(tree, sn.where(), "exec")
        except SyntaxError as e:
            return self.fail(sn, "not valid Python", "%s" % e)
        # A script imports what it uses at top level; a fragment does not.
        script = any(isinstance(n, (ast.Import, ast.ImportFrom))
                     for n in tree.body)
        run = (script and sn.marker != "fragment") or sn.marker == "run"
        if not run:
            return self.ok(sn, "Python fragment byte-compiled")
        d = self.workdir(sn)
        src = os.path.join(d, "snippet.py")
        with open(src, "w") as f:
            f.write(self.rewrite(sn.text))
        rc, out = self.run([self.a.python, src], d)
        if rc != 0:
            return self.fail(sn, "the script exited with %d" % rc, out)
        return self.ok(sn, "Python script run")

    # -- shell -------------------------------------------------------------
    def check_sh(self, sn):
        d = self.workdir(sn)
        rc, out = self.run(["bash", "-n"], d, stdin=sn.text)
        if rc != 0:
            return self.fail(sn, "bash -n: not valid shell", out)
        if sn.marker == "fragment":
            return self.ok(sn, "shell syntax checked")
        if sn.marker == "run":
            rc, out = self.run(["bash", "-eo", "pipefail"], d,
                               stdin=self.rewrite(sn.text))
            if rc != 0:
                return self.fail(sn, "the block exited with %d" % rc, out)
            return self.ok(sn, "shell block run")
        ran = 0
        for cmd in logical_lines(sn.text):
            safe = self.safe_command(cmd)
            if safe is None:
                continue
            rc, out = self.run(["bash", "-o", "pipefail", "-c", safe], d)
            if rc != 0:
                return self.fail(sn, "`%s` exited with %d" % (
                    one_line(cmd), rc), out)
            ran += 1
        if ran:
            return self.ok(sn, "shell syntax checked, %d command%s run" % (
                ran, "" if ran == 1 else "s"))
        return self.ok(sn, "shell syntax checked")

    def safe_command(self, cmd):
        """The command as it is to be run if it is safe to run, else None."""
        try:
            words = shlex.split(cmd, comments=True)
        except ValueError:
            return None
        if not words:
            return None
        prog = words[0]
        if prog in ("telemetry-server", "telemetry-cli"):
            if ("--help" in words or "--version" in words) and \
                    not any(c in cmd for c in "|;&<>$`"):
                return cmd
            return None
        if prog != "curl" or "$(" in cmd or "`" in cmd:
            return None
        # Only a plain pipeline: curl ... | filter ... (no ; && > < &).
        lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        try:
            tokens = list(lex)
        except ValueError:
            return None
        stages, cur = [], []
        for t in tokens:
            if t and all(c in "();<>|&" for c in t):
                if t != "|":
                    return None
                stages.append(cur)
                cur = []
            else:
                cur.append(t)
        stages.append(cur)
        for w in stages[1:]:
            if not w or w[0] not in SAFE_FILTERS or \
                    (w[0] == "python3" and w[1:3] != ["-m", "json.tool"]):
                return None
        cmd = self.rewrite(cmd)
        urls = re.findall(r"https?://[^\s'\"]+", cmd)
        if not urls or any(not u.startswith(self.url()) for u in urls):
            return None
        # A curl that gets an HTTP error must fail: the route or the
        # credentials in the docs are wrong.
        return re.sub(r"^curl\b", "curl --fail-with-body -sS", cmd.lstrip())

    # -- JSON --------------------------------------------------------------
    def check_json(self, sn):
        text = strip_elisions(sn.text)
        try:
            doc = json.loads(text)
            form = "document"
        except ValueError as e:
            try:
                doc = json.loads("{" + text + "}")
                form = "member"
            except ValueError:
                return self.fail(sn, "not valid JSON", str(e))
        if not (isinstance(doc, dict) and doc and
                all(k in CONFIG_SECTIONS for k in doc)) or \
                sn.marker == "fragment":
            return self.ok(sn, "JSON parsed (%s)" % form)
        problem = self.check_config(sn, doc)
        if problem:
            return self.fail(sn, "the configuration is refused", problem)
        return self.ok(sn, "JSON configuration loaded by the SDK and server")

    def check_config(self, sn, doc):
        d = self.workdir(sn)
        path = os.path.join(d, "config.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        if self.a.cli:
            rc, out = self.run([self.a.cli, "--config", path, "stats"], d)
            bad = [l for l in out.splitlines()
                   if "unknown key" in l or "unknown section" in l]
            if rc != 0 or bad:
                return "telemetry-cli --config (the SDK's loader): " + (
                    "\n".join(bad) if rc == 0 else out)
        # The server's loader: start it with the document, flags overriding
        # the addresses and files it names, and stop it once it listens.
        pf = os.path.join(d, "port")
        log = os.path.join(d, "server.log")
        proc = subprocess.Popen(
            [self.a.server, "--config", path, "--listen", "127.0.0.1:0",
             "--db", "sqlite:" + os.path.join(d, "c.db"), "--port-file", pf,
             "--log-file", log, "--api-key", TEST_KEY,
             "--admin-token", TEST_ADMIN],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=clean_env(), cwd=d, text=True)
        for _ in range(400):
            if os.path.exists(pf) and os.path.getsize(pf) > 0:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        started = proc.poll() is None
        if started:
            proc.terminate()
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if not started:
            text = out or ""
            if os.path.exists(log):
                with open(log, encoding="utf-8", errors="replace") as f:
                    text += f.read()
            return "telemetry-server --config: exited with %s\n%s" % (
                proc.returncode, text[-2000:])
        return None

    # -- driver ------------------------------------------------------------
    def check(self, sn):
        if sn.marker == "skip":
            if not sn.reason:
                return self.fail(sn, "a skip marker needs a reason",
                                 "<!-- snippet: skip WHY -->")
            return self.skip(sn, sn.reason)
        if sn.marker not in (None, "fragment", "run"):
            return self.fail(sn, "unknown snippet marker '%s'" % sn.marker,
                             "use skip REASON, fragment or run")
        if sn.kind == "c":
            return self.check_c(sn)
        if sn.kind in ("python", "py", "python3"):
            return self.check_python(sn)
        if sn.kind in ("sh", "bash", "shell"):
            return self.check_sh(sn)
        if sn.kind == "json":
            return self.check_json(sn)
        return self.skip(sn, "'%s' blocks are not checked" % (
            sn.kind or "untagged"))

    def close(self):
        if self.server is not None:
            if self.failures:
                print("telemetry-server log (tail):\n" + self.server.tail())
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def logical_lines(text):
    """Shell lines with backslash continuations joined."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip():
            out.append(cur.strip())
        cur = ""
    if cur.strip():
        out.append(cur.strip())
    return out


def one_line(cmd):
    cmd = re.sub(r"\s+", " ", cmd)
    return cmd if len(cmd) < 100 else cmd[:97] + "..."


def strip_elisions(text):
    """Removes a bare `...` (outside strings) and the comma next to it."""
    parts = re.split(r'("(?:[^"\\]|\\.)*")', text)
    for i in range(0, len(parts), 2):
        p = parts[i].replace("...", "\0")
        p = re.sub(r"\0\s*,", "", p)
        p = re.sub(r",\s*\0", "", p)
        parts[i] = p.replace("\0", "")
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--server", required=True, help="built telemetry-server")
    ap.add_argument("--cli", help="built telemetry-cli")
    ap.add_argument("--lib", required=True, help="built libtelemetry.so")
    ap.add_argument("--cc", action="append",
                    help="C compiler command word (repeatable: ccache cc)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that runs Python snippets")
    ap.add_argument("--only", action="append", default=[],
                    help="FILE or FILE:LINE to check (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--expect-fail", action="store_true",
                    help="self-test: succeed only if every checked snippet "
                         "fails (tests/docs/selftest.md)")
    ap.add_argument("files", nargs="*",
                    help="Markdown files relative to --root "
                         "(default README.md docs/*.md)")
    a = ap.parse_args()
    a.cc = a.cc or shlex.split(os.environ.get("CC", "cc"))
    for name in ("server", "cli", "lib"):
        if getattr(a, name):
            setattr(a, name, os.path.abspath(getattr(a, name)))
    root = os.path.abspath(a.root)
    files = a.files or (["README.md"] + sorted(
        os.path.relpath(p, root)
        for p in glob.glob(os.path.join(root, "docs", "*.md"))))
    r = Runner(a)
    found = {}
    try:
        for rel in files:
            for sn in extract(root, rel):
                if a.only and rel not in a.only and sn.where() not in a.only:
                    continue
                found[sn.kind or "untagged"] = \
                    found.get(sn.kind or "untagged", 0) + 1
                try:
                    r.check(sn)
                except (OSError, RuntimeError) as e:
                    r.fail(sn, "the runner could not check it", str(e))
    finally:
        r.close()
    print("snippets found: " + ", ".join(
        "%s %d" % kv for kv in sorted(found.items())))
    print("results: " + ", ".join("%s %d" % kv
                                  for kv in sorted(r.counts.items())))
    if r.skips:
        print("skipped:")
        for where, kind, why in r.skips:
            print("  %s (%s): %s" % (where, kind or "untagged", why))
    if a.expect_fail:
        if r.passed or not r.failures:
            print("self-test: these snippets should have failed: " +
                  (", ".join(r.passed) or "(none checked)"))
            return 1
        print("self-test: all %d snippets failed, as they should" %
              len(r.failures))
        return 0
    if r.failures:
        print("%d snippet(s) failed:" % len(r.failures))
        for f in r.failures:
            print("  " + f)
        return 1
    print("all checked snippets passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
