#!/bin/bash
# The main job on a machine without Bluetooth hardware (as root, Debian 12):
# installs and builds, boots the VM test bed with four virtual controllers,
# runs ubluetoothd serving them and the demo client (on hci0 and hci1)
# printing events.
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$source_dir/tools/setup-debian.sh"
cd "$source_dir"
UBT_BUILD_DIR=$source_dir/build UBT_DBUS_POLICY=$source_dir/systemd/org.ubluetooth.conf \
    tests/vm/run.sh --controllers ext -- tools/demo-guest.sh
