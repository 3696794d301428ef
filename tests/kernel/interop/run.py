#!/usr/bin/python3
"""Runs the interop tests (test_*.py here) in the main VM of
tests/vm/run-interop.sh and ends with an 'interop-bluetoothd: N passed,
N failed' line.  This folder has no __init__.py, so tests/kernel/run.py's
discovery does not descend into it: these tests need the peer VM."""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # harness.py

suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
skipped = len(result.skipped)
passed = max(0, result.testsRun - failed - skipped)  # a failed module set-up is no test run
print(f"interop-bluetoothd: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
