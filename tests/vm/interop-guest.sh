#!/bin/bash
# Guest side of tests/vm/run-interop.sh, in a VM started by run.sh
# --controllers none whose second serial port (ttyS1) is wired to the other
# VM's ttyS1.
#
#   interop-guest.sh peer
#       btvirt -L -s -l1: hci0 (LE only) for BlueZ's bluetoothd and, in the
#       same btvirt process, a server socket for one more emulated controller
#       (BR/EDR+LE), which is relayed to ttyS1 for the main VM.  Starts
#       bluetoothd, makes it advertise connectable, writes
#       $UBT_RESULTS/peer-info (addr=, name=, pnp_id=, bluez_version=) and
#       keeps running until $UBT_RESULTS/stop appears.
#   interop-guest.sh main -- COMMAND [ARGS...]
#       waits for $UBT_RESULTS/peer-info (run-interop.sh copies it from the
#       peer's results), attaches ttyS1 as hci0 (btattach, H4), then runs
#       COMMAND with UBT_INTEROP_PEER_ADDR, UBT_INTEROP_PEER_NAME and
#       UBT_INTEROP_PEER_PNP_ID set.  Gives up when $UBT_RESULTS/peer-failed
#       appears.  Needs $UBT_RESULTS/modules/ (load.list and the .ko files
#       named in it, in load order: hci_uart and its dependencies), put there
#       by run-interop.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
role=${1:-}
shift || true
say() { echo "interop-$role: $*"; }
die() { echo "interop-$role: error: $*" >&2; exit 1; }
# btmgmt prints nothing unless it runs on a terminal (see smoke.sh).
mgmt() { script -qec "btmgmt --index 0 $*" /dev/null | tr -d '\r'; }
alive() { kill -0 "$1" 2>/dev/null; }

[[ $role == peer || $role == main ]] || { echo "usage: $0 peer | main -- COMMAND..." >&2; exit 2; }
[[ ${UBT_VM:-} == 1 ]] || die "not inside the test VM (UBT_VM unset)"
results=${UBT_RESULTS:?}
[[ -e /sys/class/bluetooth/hci0 ]] && die "hci0 exists already (run.sh --controllers none expected)"

wait_hci0() {  # $1: pid of the process that makes it, $2: its log
    local deadline=$((SECONDS + 20))
    until [[ -e /sys/class/bluetooth/hci0 ]]; do
        alive "$1" || die "$(head -c 2000 "$2")"
        ((SECONDS < deadline)) || die "no hci0 within 20 s: $(head -c 2000 "$2")"
        sleep 0.1
    done
}

# --- main: wait for the peer, attach the controller, run the command ------------
if [[ $role == main ]]; then
    [[ ${1:-} == -- ]] && shift
    (($#)) || die "no command given"
    while read -r m; do
        [[ -e /sys/module/$m ]] || insmod "$results/modules/$m.ko" || die "insmod $m failed"
    done <"$results/modules/load.list"
    deadline=$((SECONDS + 150))
    until [[ -e $results/peer-info ]]; do
        [[ -e $results/peer-failed ]] && die "the peer VM failed: $(cat "$results/peer-failed")"
        ((SECONDS < deadline)) || die "no peer-info within 150 s"
        sleep 0.2
    done
    addr='' name='' pnp_id='' bluez_version=''
    # shellcheck source=/dev/null
    source "$results/peer-info"
    # The peer relays ttyS1 to its btvirt now: attach it.
    btattach -B /dev/ttyS1 -P h4 >"$results/btattach.log" 2>&1 &
    wait_hci0 $! "$results/btattach.log"
    for _ in $(seq 100); do  # until the kernel has set it up (Index Added)
        mgmt info | grep -q '^hci0:' && break
        sleep 0.2
    done
    say "hci0 attached on /dev/ttyS1: $(mgmt info | sed -n 's/^[[:space:]]*addr //p')"
    say "peer: $addr, bluetoothd $bluez_version"
    export UBT_INTEROP_PEER_ADDR=$addr UBT_INTEROP_PEER_NAME=$name UBT_INTEROP_PEER_PNP_ID=$pnp_id
    exec "$@"
fi

# --- peer: btvirt, the relay, bluetoothd -----------------------------------------
# The values the peer offers, checked by tests/kernel/interop: a name longer
# than a read at the default ATT_MTU (22 bytes), and main.conf's DeviceID
# (source:vendor:product:version), served by bluetoothd as Device
# Information's PnP ID: 0x01 (Bluetooth SIG), then vendor, product and
# version, each 16-bit little endian.
peer_name="bluez-interop-peer: a GAP name longer than one ATT_MTU-23 read"
device_id=bluetooth:05f1:1234:0566
pnp_id=01f10534126605

# /tmp is the guest's own tmpfs: btvirt's fixed /tmp/bt-server-* paths are ours.
# -L: an LE-only controller, which advertises with the legacy commands.  With
# extended advertising, btvirt drops the advertising set a connection was
# made from, so the kernel fails to resume advertising after the disconnection
# (LE Set Extended Advertising Enable: Command Disallowed) and nobody can
# connect a second time.
btvirt -L -s -l1 >"$results/btvirt.log" 2>&1 &
btvirt_pid=$!
wait_hci0 "$btvirt_pid" "$results/btvirt.log"
for _ in $(seq 100); do
    [[ -S /tmp/bt-server-bredrle ]] && break
    sleep 0.1
done
[[ -S /tmp/bt-server-bredrle ]] || die "btvirt made no /tmp/bt-server-bredrle"
/usr/bin/python3 "$here/interop-relay.py" /dev/ttyS1 /tmp/bt-server-bredrle >"$results/relay.log" 2>&1 &
relay_pid=$!

bluetoothd=
for b in /usr/libexec/bluetooth/bluetoothd /usr/lib/bluetooth/bluetoothd /usr/sbin/bluetoothd; do
    [[ -x $b ]] && { bluetoothd=$b; break; }
done
[[ -n $bluetoothd ]] || die "bluetoothd not found (apt-get install bluez)"
conf=/run/interop-main.conf
cat >"$conf" <<EOF
[General]
Name = $peer_name
DeviceID = $device_id
[Policy]
AutoEnable = true
EOF
mkdir -p /var/lib/bluetooth
"$bluetoothd" -n -d -f "$conf" >"$results/bluetoothd.log" 2>&1 &
bluetoothd_pid=$!
stop_bluetoothd() {
    kill "$bluetoothd_pid" 2>/dev/null || return 0
    for _ in $(seq 50); do alive "$bluetoothd_pid" || return 0; sleep 0.1; done
    kill -9 "$bluetoothd_pid" 2>/dev/null || true
}
trap stop_bluetoothd EXIT

# bluetoothd has set the controller up once it is powered with our name.
name_line=$'\t'"name $peer_name"
deadline=$((SECONDS + 30))
while :; do
    alive "$bluetoothd_pid" || die "bluetoothd exited: $(tail -n 20 "$results/bluetoothd.log")"
    info=$(mgmt info)
    grep -qE '^[[:space:]]*current settings:.*\bpowered\b' <<<"$info" &&
        grep -qxF "$name_line" <<<"$info" && break
    ((SECONDS < deadline)) || die "bluetoothd did not power hci0 with its name within 30 s: $info"
    sleep 0.2
done

# Connectable LE advertising, with the controller's public address.
for setting in le connectable advertising; do
    out=$(mgmt "$setting" on)
    grep -q 'complete, settings' <<<"$out" || die "btmgmt $setting on failed: $out"
done
info=$(mgmt info)
echo "$info"
settings=$(sed -n 's/^[[:space:]]*current settings: //p' <<<"$info")
for s in le connectable advertising; do
    [[ " $settings " == *" $s "* ]] || die "hci0 settings lack $s: $settings"
done
addr=$(sed -n 's/^[[:space:]]*addr \([0-9A-F:]\{17\}\) .*/\1/p' <<<"$info")
[[ -n $addr ]] || die "no address in btmgmt info: $info"
alive "$relay_pid" || die "the relay exited: $(cat "$results/relay.log")"

version=$("$bluetoothd" -v)
{
    printf 'addr=%q\n' "$addr"
    printf 'name=%q\n' "$peer_name"
    printf 'pnp_id=%q\n' "$pnp_id"
    printf 'bluez_version=%q\n' "$version"
} >"$results/peer-info.new"
mv "$results/peer-info.new" "$results/peer-info"
say "bluetoothd $version serves $addr; waiting for $results/stop"

while [[ ! -e $results/stop ]]; do
    alive "$bluetoothd_pid" || die "bluetoothd exited: $(tail -n 20 "$results/bluetoothd.log")"
    alive "$btvirt_pid" || die "btvirt exited: $(cat "$results/btvirt.log")"
    sleep 0.2
done
mgmt info >"$results/btmgmt-info-at-stop.log" 2>&1 || true
stop_bluetoothd
kill "$relay_pid" "$btvirt_pid" 2>/dev/null || true
say "stopped"
