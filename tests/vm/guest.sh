#!/bin/bash
# Runs inside the test VM, chrooted into the (read-only) host root, started by
# /init with a clean environment.  Starts a private system bus and the btvirt
# controllers, then runs the command given to run.sh.
#
# Exit code protocol: the command's exit code is written to
# $UBT_RESULTS/vm-exit-code.  If setup fails, no such file is written and
# run.sh reports a VM failure instead of a command failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results=/run/ubt-results

say() { echo "vm: $*"; }
die() { echo "vm: error: $*" >&2; exit 1; }

# UBT_* from the host, UBT_VM_CWD, UBT_VM_CONTROLLERS, UBT_VM_ARGV (array).
# shellcheck source=/dev/null
source "$results/vm-env.sh"
export UBT_VM=1 UBT_RESULTS=$results UBT_CONTROLLERS=$UBT_VM_CONTROLLERS

# --- private system bus -----------------------------------------------------
policy_dir=/run/ubluetooth-test/dbus-policy.d
mkdir -p /run/dbus "$policy_dir"
if [[ -n ${UBT_DBUS_POLICY:-} ]]; then
    # A relative path is relative to the directory run.sh was started in.
    (cd "$UBT_VM_CWD" && cp "$UBT_DBUS_POLICY" "$policy_dir/") ||
        die "cannot copy UBT_DBUS_POLICY=$UBT_DBUS_POLICY"
    say "D-Bus policy under test: $UBT_DBUS_POLICY"
fi
dbus-daemon --config-file="$here/system-bus.conf" --fork ||
    die "dbus-daemon failed to start"
for _ in $(seq 100); do
    [[ -S /run/dbus/system_bus_socket ]] && break
    sleep 0.1
done
[[ -S /run/dbus/system_bus_socket ]] || die "no /run/dbus/system_bus_socket after 10 s"

# --- virtual controllers ----------------------------------------------------
case $UBT_CONTROLLERS in
    ext)    btvirt_args=(-l4) ;;    # four BR/EDR+LE 5.x controllers
    legacy) btvirt_args=(-L -l4) ;; # four LE-only controllers, legacy commands
    none)   btvirt_args=() ;;
    *)      die "unknown controllers mode '$UBT_CONTROLLERS'" ;;
esac
if ((${#btvirt_args[@]})); then
    # btvirt stays in the foreground; controllers must live in the same
    # btvirt process to see each other. Four, for several links at once.
    btvirt "${btvirt_args[@]}" >"$results/vm-btvirt.log" 2>&1 &
    btvirt_pid=$!
    for _ in $(seq 200); do
        [[ -e /sys/class/bluetooth/hci0 && -e /sys/class/bluetooth/hci3 ]] && break
        kill -0 "$btvirt_pid" 2>/dev/null ||
            die "btvirt ${btvirt_args[*]} exited: $(cat "$results/vm-btvirt.log")"
        sleep 0.1
    done
    [[ -e /sys/class/bluetooth/hci0 && -e /sys/class/bluetooth/hci3 ]] ||
        die "hci0..hci3 did not appear within 20 s of starting btvirt ${btvirt_args[*]}"
fi

# --- the command ------------------------------------------------------------
cd "$UBT_VM_CWD" || die "cannot cd to $UBT_VM_CWD"
# run.sh watches for this exact line to measure the boot time.
echo "@@UBT-VM-COMMAND-START@@"
set +e
"${UBT_VM_ARGV[@]}" </dev/null 2>&1 | tee "$results/vm-command.log"
rc=${PIPESTATUS[0]}
set -e
dmesg >"$results/vm-dmesg.log" 2>&1 || true
echo "$rc" >"$results/vm-exit-code"
sync
