#!/bin/bash
# Interop test bed: our GATT client against BlueZ's bluetoothd as GATT server.
# bluetoothd takes every controller of its kernel, so it gets a VM of its own:
#
#   VM "peer": btvirt -L -s -l1 gives hci0 to bluetoothd, which advertises
#          connectable; one more controller of that btvirt process (its
#          bt-server-bredrle socket) is relayed to the VM's ttyS1
#                                                   (interop-guest.sh peer)
#   VM "main": ttyS1, wired to the peer's ttyS1 through a unix socket on the
#          host, is attached with btattach as hci0; our daemon and COMMAND
#          (default: the tests in tests/kernel/interop) run there
#                                                   (interop-guest.sh main)
# Both controllers live in one btvirt process, so they see each other.
# (btvirt does not run on the host: its emulated controllers need AF_ALG,
# which the kernel under a container may not offer.)  Each VM is an ordinary
# tests/vm/run.sh --controllers none; a qemu-system-x86_64 wrapper put first
# on PATH adds the serial port.
#
# Usage: tests/vm/run-interop.sh [--timeout SECONDS] [--results DIR] [-- COMMAND [ARGS...]]
#   --timeout  kill the VMs after this many seconds (default 240)
#   --results  keep the logs in DIR (default: a temp dir that is removed):
#              peer/ and main/, each a run.sh results dir (console.log,
#              vm-command.log, vm-dmesg.log; peer: bluetoothd.log, btvirt.log;
#              main: daemon-N.log)
# Env: as for run.sh: UBT_BUILD_DIR (default build/), UBT_DBUS_POLICY, the
# main VM's bus policy (default systemd/org.ubluetooth.conf; the peer gets
# BlueZ's own).  Ends with "interop-bluetoothd: N passed, N failed"; exit
# code: the main VM's, non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/../.." && pwd)
usage() { sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 125; }
say() { echo "interop: $*"; }

timeout=240 keep=
while (($#)); do
    case $1 in
        --timeout) timeout=${2:-}; shift 2 || usage ;;
        --results) keep=${2:-}; shift 2 || usage ;;
        --)        shift; break ;;
        *)         usage ;;
    esac
done
[[ $timeout =~ ^[0-9]+$ ]] || usage
(($#)) || set -- /usr/bin/python3 "$project/tests/kernel/interop/run.py"
export UBT_DBUS_POLICY=${UBT_DBUS_POLICY:-$project/systemd/org.ubluetooth.conf}

summary() {  # the final line, when the tests did not give one
    echo "interop-bluetoothd: 0 passed, 1 failed (no test result: $*)"
}

for tool in qemu-system-x86_64 btvirt btattach; do
    command -v "$tool" >/dev/null || { summary "$tool not found"; exit 125; }
done
bluez_policy=
for f in /etc/dbus-1/system.d/bluetooth.conf /usr/share/dbus-1/system.d/bluetooth.conf; do
    [[ -e $f ]] && { bluez_policy=$f; break; }
done
[[ -n $bluez_policy ]] || { summary "no D-Bus policy for org.bluez (apt-get install bluez)"; exit 125; }

"$here/prepare.sh"
cache=${UBT_VM_CACHE:-/var/cache/ubluetoothd-vm}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ubt-interop.XXXXXX")
peer_pid='' main_pid='' tee_pid=''
stop() {  # $1: pid of a child of ours; TERM, then KILL after $2 seconds
    local pid=$1
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
kill_qemu() {  # $1: a pid file written by our qemu wrapper
    local pid
    [[ -s $1 ]] || return 0
    pid=$(<"$1")
    # Only if it still is that qemu (the pid may have been reused).
    grep -qa "$tmp" "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
    stop "$main_pid" 15
    stop "$peer_pid" 15
    # run.sh kills its qemu when it exits; had it been killed itself, the
    # wrappers left the qemu pids.
    kill_qemu "$tmp/main.qemu-pid"
    kill_qemu "$tmp/peer.qemu-pid"
    stop "$tee_pid" 1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n $keep ]]; then
    mkdir -p "$keep"
    results=$(cd "$keep" && pwd)
else
    results=$tmp/results
    mkdir "$results"
fi
rm -rf "$results/peer" "$results/main"
mkdir "$results/peer" "$results/main"

# --- hci_uart for the main VM -----------------------------------------------------
# The initramfs loads only the modules of modules.list; hci_uart (the N_HCI
# line discipline btattach sets) and what it needs come from the same kernel
# package, through the VM's results share.
kernel_pkg=$(readlink "$cache/vm-kernel")                 # kernel/<pkg>/...
kroot=$cache/$(cut -d/ -f1-2 <<<"$kernel_pkg")
moddir=$(ls -d "$kroot"/lib/modules/*/ | head -n1)
mkdir "$results/main/modules"
: >"$results/main/modules/load.list"
for m in btintel btbcm btrtl btqca hci_uart; do
    f=$(find "$moddir/kernel" -name "$m.ko*" -print -quit)
    if [[ -z $f ]]; then
        grep -q "/$m\.ko" "$moddir/modules.builtin" 2>/dev/null && continue
        summary "module $m not found in $moddir"
        exit 125
    fi
    case $f in
        *.ko.xz)  xz -dc "$f" ;;
        *.ko.zst) zstd -qdc "$f" ;;
        *.ko.gz)  gzip -dc "$f" ;;
        *.ko)     cat "$f" ;;
    esac >"$results/main/modules/$m.ko"
    echo "$m" >>"$results/main/modules/load.list"
done

# --- the VMs ------------------------------------------------------------------------
# The peer's qemu listens on $link, the main VM's qemu connects to it.
# (qemu option values escape ',' as ',,'.)
link=$tmp/serial-link
qemu=$(command -v qemu-system-x86_64)
declare -A chardev=(
    [peer]="socket,id=btlink,path=${link//,/,,},server=on,wait=off"
    [main]="socket,id=btlink,path=${link//,/,,},reconnect=1"
)
for role in peer main; do
    mkdir "$tmp/$role-bin"
    {
        echo '#!/bin/sh'
        echo "# run.sh's qemu, plus a second serial port (the guest's ttyS1) on $link."
        echo "echo \$\$ >$(printf %q "$tmp/$role.qemu-pid")"
        echo "exec $(printf %q "$qemu") \"\$@\" -chardev $(printf %q "${chardev[$role]}") -serial chardev:btlink"
    } >"$tmp/$role-bin/qemu-system-x86_64"
    chmod +x "$tmp/$role-bin/qemu-system-x86_64"
done

start=$SECONDS
PATH=$tmp/peer-bin:$PATH UBT_DBUS_POLICY=$bluez_policy \
    "$here/run.sh" --controllers none --timeout "$timeout" --results "$results/peer" \
    -- "$here/interop-guest.sh" peer >"$results/peer/console.log" 2>&1 &
peer_pid=$!
for _ in $(seq 300); do
    [[ -S $link ]] && break
    kill -0 "$peer_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ ! -S $link ]]; then
    cat "$results/peer/console.log" >&2
    summary "the peer's qemu did not create $link"
    exit 125
fi

# The main VM boots meanwhile and waits for peer-info; its console goes live
# to our stdout too.
mkfifo "$tmp/main-console"
tee "$results/main/console.log" <"$tmp/main-console" &
tee_pid=$!
PATH=$tmp/main-bin:$PATH \
    "$here/run.sh" --controllers none --timeout "$timeout" --results "$results/main" \
    -- "$here/interop-guest.sh" main -- "$@" >"$tmp/main-console" 2>&1 &
main_pid=$!

# Hand the peer's address to the main VM, or tell it that the peer failed.
handed=
while kill -0 "$main_pid" 2>/dev/null; do
    if [[ -z $handed ]]; then
        if [[ -e $results/peer/peer-info ]]; then
            cp "$results/peer/peer-info" "$results/main/peer-info.new"
            mv "$results/main/peer-info.new" "$results/main/peer-info"
            handed=1
            say "peer ready $((SECONDS - start)) s after start: $(grep '^addr=' "$results/peer/peer-info")"
        elif ! kill -0 "$peer_pid" 2>/dev/null; then
            echo "the peer VM exited before it was ready" >"$results/main/peer-failed"
            handed=failed
            say "error: the peer VM failed; its console:" >&2
            tail -n 40 "$results/peer/console.log" >&2
        fi
    fi
    sleep 0.2
done
main_rc=0
wait "$main_pid" || main_rc=$?
main_pid=
wait "$tee_pid" || true
tee_pid=

# Let the peer stop bluetoothd and write its logs.
touch "$results/peer/stop"
for _ in $(seq 300); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.1; done
peer_rc=0
if kill -0 "$peer_pid" 2>/dev/null; then
    say "error: the peer VM did not stop within 30 s of the stop file"
    stop "$peer_pid" 15
    peer_rc=1
else
    wait "$peer_pid" || peer_rc=$?
fi
peer_pid=
if ((peer_rc != 0)); then
    say "error: the peer VM exited with $peer_rc; its console:"
    tail -n 20 "$results/peer/console.log"
fi
say "done in $((SECONDS - start)) s; logs in ${keep:-a temp dir (keep them with --results DIR)}"

line=$(grep -a '^interop-bluetoothd: ' "$results/main/vm-command.log" 2>/dev/null | tail -n1 || true)
if [[ -n $line ]]; then
    # A peer that failed is a failure even when the tests passed.
    ((peer_rc == 0)) || line+=" (and the peer VM failed)"
    echo "$line"
elif [[ $handed == failed ]]; then
    summary "the peer VM (bluetoothd) failed to start"
else
    summary "main VM exit code $main_rc"
fi
((main_rc == 0)) || exit "$main_rc"
((peer_rc == 0)) || exit 1
exit 0
