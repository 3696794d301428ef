#!/usr/bin/python3
"""Runs the kernel tests (test_*.py here) inside the test VM and ends with a
'N passed, N failed' line."""

import fnmatch
import os
import sys
import unittest


def iter_tests(suite):
    if isinstance(suite, unittest.TestSuite):
        for t in suite:
            yield from iter_tests(t)
    else:
        yield suite

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

# run.py [PATTERN] [--exclude PATTERN]: the modules to run (default test_*.py).
args = sys.argv[1:]
exclude = None
if "--exclude" in args:
    i = args.index("--exclude")
    exclude = args[i + 1]
    del args[i:i + 2]
pattern = args[0] if args else "test_*.py"
suite = unittest.TestSuite()
for test in unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here):
    if exclude and any(fnmatch.fnmatch(t.id().split(".")[0] + ".py", exclude) for t in iter_tests(test)):
        continue
    suite.addTest(test)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
skipped = len(result.skipped)
passed = max(0, result.testsRun - failed - skipped)  # a failed module set-up is no test run
label = "kernel-" + os.environ.get("UBT_CONTROLLERS", "?") + (f" ({pattern})" if args else "")
print(f"{label}: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
