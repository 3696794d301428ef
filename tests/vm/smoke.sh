#!/bin/bash
# Smoke check of the test VM itself; run it inside the guest:
#   tests/vm/run.sh --controllers ext -- tests/vm/smoke.sh
set -euo pipefail

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
ok() { echo "smoke: ok: $*"; }

# btmgmt quits as soon as its stdin hits EOF -- before the kernel's reply
# arrives, printing nothing -- and exits 0 even on errors.  Run it on a pty
# (script) so it behaves as in a terminal, and check its output.
mgmt() { script -qec "btmgmt $*" /dev/null | tr -d '\r'; }

[[ ${UBT_VM:-} == 1 ]] || fail "not inside the test VM (UBT_VM unset)"

# Kernel crypto self-tests: a failure (e.g. no drbg) disables SMP.
if dmesg | grep 'alg:' | grep -qiE 'fail|error'; then
    dmesg | grep 'alg:' >&2
    fail "kernel crypto self-test failure"
fi
ok "no crypto self-test failures"
dmesg | grep -q 'Bluetooth: Core ver' || fail "bluetooth module not loaded"
dmesg | grep -q 'ECDH test failed' && fail "Bluetooth ECDH self-test failed (SMP disabled)"

# The private system bus.
dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.ListNames >/dev/null || fail "system bus does not answer"
ok "system bus answers"
# An unprivileged client can use the bus too.
setpriv --reuid=nobody --regid=nogroup --clear-groups busctl --system list >/dev/null ||
    fail "busctl as nobody failed"
ok "system bus answers an unprivileged client (nobody)"

if [[ ${UBT_CONTROLLERS:-} == none ]]; then
    [[ ! -e /sys/class/bluetooth/hci0 ]] || fail "controllers=none but hci0 exists"
    ok "no controllers, as requested"
    exit 0
fi

info=$(mgmt info) || fail "btmgmt info failed"
echo "$info"
for i in hci0 hci1; do
    grep -q "^$i:" <<<"$info" || fail "btmgmt info does not list $i"
done
ok "btmgmt info lists hci0 and hci1"

mgmt --index 0 power on | grep -q 'hci0 Set Powered complete' ||
    fail "btmgmt --index 0 power on failed"
mgmt --index 0 info | grep -E '^[[:space:]]*current settings:.*\bpowered\b' ||
    fail "hci0 is not powered after power on"
ok "hci0 powered on"

if [[ ${UBT_CONTROLLERS:-} == legacy ]]; then
    # btvirt -L: LE-only controllers, so no BR/EDR in the settings.
    mgmt --index 0 info | grep -E '^[[:space:]]*current settings:' | grep -qw br/edr &&
        fail "legacy controller has BR/EDR enabled"
fi
echo "smoke: PASS"
