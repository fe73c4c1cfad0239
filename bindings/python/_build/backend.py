"""A PEP 517 build backend for the pure-Python telemetry package, using
the standard library only: pip needs nothing from an index to build it, so
installs work offline on any interpreter (setuptools' backend needs the
`wheel` package, which the default pyenv Python here lacks, and Debian's
setuptools wheel does not work on a non-Debian Python).

Builds a py3-none-any wheel of telemetry/ (a platform wheel when a copy of
libtelemetry.so* has been put in telemetry/), an editable wheel (a .pth
pointing here) and an sdist. Metadata comes from pyproject.toml [project].
"""

import base64
import hashlib
import io
import os
import re
import sysconfig
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = "telemetry"


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        data = f.read()
    try:
        import tomllib
        return tomllib.loads(data.decode())["project"]
    except ImportError:  # Python < 3.11: the few flat keys we use
        out = {}
        text = data.decode().split("[project]", 1)[1]
        for m in re.finditer(r'^([\w-]+)\s*=\s*"([^"]*)"', text, re.M):
            out.setdefault(m.group(1), m.group(2))
        return out


def _files():
    """(path in the wheel, path on disk) of the package."""
    out = []
    base = os.path.join(ROOT, PKG)
    for name in sorted(os.listdir(base)):
        full = os.path.join(base, name)
        if os.path.isfile(full) and (name.endswith(".py") or
                                     name == "py.typed" or
                                     name.startswith("libtelemetry.so")):
            out.append((PKG + "/" + name, full))
    return out


def _metadata(p):
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"],
             "Version: " + p["version"]]
    if p.get("description"):
        lines.append("Summary: " + p["description"])
    if p.get("requires-python"):
        lines.append("Requires-Python: " + p["requires-python"])
    lic = p.get("license")
    if isinstance(lic, dict) and lic.get("text"):
        lines.append("License: " + lic["text"])
    body = ""
    if p.get("readme"):
        with open(os.path.join(ROOT, p["readme"]), encoding="utf-8") as f:
            body = f.read()
        lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + body


def _tag(files):
    if any("libtelemetry.so" in n for n, _ in files):
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3-none-" + plat, False
    return "py3-none-any", True


def _write_wheel(directory, entries, pure_tag):
    p = _project()
    tag, pure = pure_tag
    dist = "%s-%s" % (p["name"], p["version"])
    info = dist + ".dist-info"
    name = "%s-%s.whl" % (dist, tag)
    records = []

    def add(zf, arcname, data):
        zf.writestr(zipfile.ZipInfo(arcname, (2020, 1, 1, 0, 0, 0)), data)
        digest = base64.urlsafe_b64encode(
            hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    with zipfile.ZipFile(os.path.join(directory, name), "w",
                         zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            add(zf, arcname, data)
        add(zf, info + "/METADATA", _metadata(p).encode())
        add(zf, info + "/WHEEL", (
            "Wheel-Version: 1.0\nGenerator: telemetry-backend\n"
            "Root-Is-Purelib: %s\nTag: %s\n" % (
                "true" if pure else "false", tag)).encode())
        add(zf, info + "/top_level.txt", (PKG + "\n").encode())
        records.append(info + "/RECORD,,")
        zf.writestr(zipfile.ZipInfo(info + "/RECORD", (2020, 1, 1, 0, 0, 0)),
                    "\n".join(records) + "\n")
    return name


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    files = _files()
    return _write_wheel(wheel_directory,
                        [(n, _read(f)) for n, f in files], _tag(files))


def build_editable(wheel_directory, config_settings=None,
                   metadata_directory=None):
    return _write_wheel(wheel_directory,
                        [("telemetry_editable.pth", (ROOT + "\n").encode())],
                        ("py3-none-any", True))


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    dist = "%s-%s" % (p["name"], p["version"])
    name = dist + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tf:
        for rel in ["pyproject.toml", "README.md", "_build/backend.py"] + [
                n for n, _ in _files()]:
            tf.add(os.path.join(ROOT, rel), dist + "/" + rel)
        pkg_info = _metadata(p).encode()
        ti = tarfile.TarInfo(dist + "/PKG-INFO")
        ti.size = len(pkg_info)
        tf.addfile(ti, io.BytesIO(pkg_info))
    return name
