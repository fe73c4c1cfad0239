#!/usr/bin/env python3
"""Runs the binding's unittest suites (meson: python_binding and
python_binding_system). Needs TELEMETRY_LIBRARY (the built libtelemetry)
and TLM_SERVER (telemetry-server). Exits 77 (skipped) when
TLM_PYTHON_SKIP says why the build cannot run them, or when
TLM_TEST_DB_BACKEND=postgresql (meson: python_binding_pg) and
TLM_TEST_PG_URL does not name a cluster."""

import os
import sys
import unittest

why = os.environ.get("TLM_PYTHON_SKIP")
if why:
    print("skipped: " + why)
    sys.exit(77)
if (os.environ.get("TLM_TEST_DB_BACKEND") == "postgresql"
        and not os.environ.get("TLM_TEST_PG_URL")):
    print("skipped: TLM_TEST_PG_URL is not set")
    sys.exit(77)
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(here), here]
print("python %s (%s), database %s" % (
    sys.version.split()[0], sys.executable,
    os.environ.get("TLM_TEST_DB_BACKEND") or "sqlite"))
suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py",
                                            top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2).run(suite)
sys.exit(0 if result.wasSuccessful() else 1)
