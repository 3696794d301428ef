#!/bin/bash
# Installs what is missing (Debian 12, as root), builds, and runs every test
# suite twice: in a normal build (build/) and under ASan+UBSan (build-asan/).
# Ends with a "N passed, N failed" line counting meson tests of both builds.
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$source_dir"
tools/setup-debian.sh build
tools/setup-debian.sh build-asan -Db_sanitize=address,undefined -Dcpp_args=

status=0
for build in build build-asan; do
    echo "=== meson test -C $build"
    meson test -C "$build" --print-errorlogs || status=1
done

/usr/bin/python3 - build build-asan <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
for build in sys.argv[1:]:
    with open(f"{build}/meson-logs/testlog.json") as log:
        for line in log:
            result = json.loads(line)["result"]
            counts["OK" if result == "OK" else "SKIP" if result == "SKIP" else "FAIL"] += 1
print(f"tests: {counts['OK']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
PY
exit $status
