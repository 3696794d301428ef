#!/bin/bash
# Inside the VM test bed: start ubluetoothd, run the demo against hci0 and
# hci1, stop the daemon. Started by tools/demo.sh.
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"${UBT_BUILD_DIR:-$source_dir/build}/daemon/ubluetoothd" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
owned() {
    busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s org.ubluetooth 2>/dev/null | grep -q true
}
for _ in $(seq 100); do
    owned && break
    kill -0 $daemon 2>/dev/null || { echo "demo: ubluetoothd exited" >&2; exit 1; }
    sleep 0.1
done
echo "--- busctl --system tree org.ubluetooth"
busctl --system tree org.ubluetooth
echo "--- ubluetooth-demo hci0 hci1"
PYTHONPATH=$source_dir/tools /usr/bin/python3 "$source_dir/tools/ubluetooth-demo" hci0 hci1
kill -TERM $daemon
wait $daemon
