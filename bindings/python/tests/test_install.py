"""`pip install bindings/python` works offline (no index) with this
interpreter, and the installed package loads the library."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InstallTest(unittest.TestCase):
    def test_pip_install_offline(self):
        if subprocess.run([sys.executable, "-m", "pip", "--version"],
                          capture_output=True).returncode != 0:
            self.skipTest("no pip for " + sys.executable)
        tmp = tempfile.mkdtemp(prefix="tlm-pyinst-")
        self.addCleanup(shutil.rmtree, tmp, True)
        # A copy: pip must not write into the source tree.
        src = os.path.join(tmp, "src")
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
            "__pycache__", "tests"))
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS="")
        r = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-index",
             "--no-cache-dir", "--disable-pip-version-check",
             "--target", os.path.join(tmp, "site"), src],
            env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run(
            [sys.executable, "-c", "import telemetry; "
             "print(telemetry.__file__, telemetry.library_version())"],
            env=dict(os.environ, PYTHONPATH=os.path.join(tmp, "site")),
            capture_output=True, text=True, timeout=60, cwd=tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(os.path.join(tmp, "site")))
        self.assertTrue(r.stdout.strip().endswith("0.1.0"))


if __name__ == "__main__":
    unittest.main()
