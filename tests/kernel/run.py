#!/usr/bin/python3
"""Runs the kernel tests (test_*.py here) inside the test VM and ends with a
'N passed, N failed' line."""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
skipped = len(result.skipped)
passed = max(0, result.testsRun - failed - skipped)  # a failed module set-up is no test run
label = "kernel-" + os.environ.get("UBT_CONTROLLERS", "?")
print(f"{label}: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
