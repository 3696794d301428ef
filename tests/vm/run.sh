#!/bin/bash
# Run a command inside a qemu VM (TCG, no KVM) with a real Linux Bluetooth
# stack and btvirt virtual controllers.  The guest sees the host root
# read-only and starts in the current directory.
#
# Usage: tests/vm/run.sh [--controllers ext|legacy|none] [--timeout SECONDS]
#                        [--results DIR] -- COMMAND [ARGS...]
#   --controllers  ext: btvirt -l4 (default); legacy: btvirt -L -l4; none
#   --timeout      kill the VM after this many seconds (default 1200)
#   --results      keep the guest's results (UBT_RESULTS) in DIR (default:
#                  a temp dir that is removed)
# The project (this repository) is mounted at its host path even under /tmp;
# another current directory must not be under /tmp, /run, /root, /var/lib.
# COMMAND runs as root in the current directory (read-only in the guest), with
# stdin /dev/null and stdout+stderr to the console and $UBT_RESULTS/vm-command.log.
# Its env: UBT_VM=1, UBT_RESULTS, UBT_CONTROLLERS, HOME=/root, TMPDIR=/tmp and
# all host env vars named UBT_*.  UBT_DBUS_POLICY=FILE installs FILE as a
# policy of the guest's private system bus.  Writable in the guest (tmpfs):
# /tmp /var/tmp /run /var/lib /var/log /root; the rest of / is read-only.
# Exit code: COMMAND's; 124 on timeout; 125 if the VM failed otherwise.
# Note: btmgmt prints nothing when its stdin is /dev/null; see smoke.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 125; }

controllers=ext timeout=1200 keep=
while (($#)); do
    case $1 in
        --controllers) controllers=${2:-}; shift 2 || usage ;;
        --timeout)     timeout=${2:-}; shift 2 || usage ;;
        --results)     keep=${2:-}; shift 2 || usage ;;
        --)            shift; break ;;
        *)             usage ;;
    esac
done
(($#)) || usage
[[ $controllers =~ ^(ext|legacy|none)$ ]] || usage
[[ $timeout =~ ^[0-9]+$ ]] || usage

"$here/prepare.sh"
cache=${UBT_VM_CACHE:-/var/cache/ubluetoothd-vm}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ubt-vm.XXXXXX")
qpid=
cleanup() {
    [[ -n $qpid ]] && kill "$qpid" 2>/dev/null || true
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
rm -f "$results"/vm-{exit-code,command.log,btvirt.log,dmesg.log}

# Hand-over to the guest: where guest.sh is (read by /init) and the
# environment / command (sourced by guest.sh).
echo "$here/guest.sh" >"$results/vm-guest"
# The project is shared on its own too: the guest puts tmpfs over /tmp,
# /root and the like, which would hide a checkout that lives there.
project=$(cd "$here/../.." && pwd)
echo "$project" >"$results/vm-project"
{
    while IFS= read -r name; do
        printf 'export %s=%q\n' "$name" "${!name}"
    done < <(compgen -e | grep '^UBT_' || true)
    printf 'UBT_VM_CWD=%q\n' "$PWD"
    printf 'UBT_VM_CONTROLLERS=%q\n' "$controllers"
    printf 'UBT_VM_ARGV=('; printf ' %q' "$@"; printf ' )\n'
} >"$results/vm-env.sh"

# qemu option values escape ',' as ',,'.
qemu_args=(
    -accel tcg -cpu max -m 1024 -smp 2
    -nodefaults -no-user-config -display none -no-reboot
    -kernel "$cache/vm-kernel" -initrd "$cache/initramfs.cpio.gz"
    -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off"
    -serial stdio
    -fsdev "local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap"
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
    -fsdev "local,id=results,path=${results//,/,,},security_model=none"
    -device virtio-9p-pci,fsdev=results,mount_tag=results
    -fsdev "local,id=project,path=${project//,/,,},readonly=on,security_model=none,multidevs=remap"
    -device virtio-9p-pci,fsdev=project,mount_tag=project
)

now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "$((10#$t))"; }

mkfifo "$tmp/console"
start=$(now_us)
# timeout(1) enforces --timeout: SIGTERM, then SIGKILL 10 s later; exits 124.
timeout -k 10 "$timeout" qemu-system-x86_64 "${qemu_args[@]}" \
    </dev/null >"$tmp/console" 2>&1 &
qpid=$!

# Relay the serial console live; replace the guest's start marker by the
# boot time.
started=
while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    if [[ -z $started && $line == *@@UBT-VM-COMMAND-START@@* ]]; then
        started=1
        d=$(($(now_us) - start))
        printf 'vm: boot to command start took %d.%d s\n' $((d / 1000000)) $((d / 100000 % 10))
        continue
    fi
    # The guest's final "reboot: Power down" is expected: keep it out of logs.
    [[ $line =~ ^\[\ *[0-9.]+\]\ reboot:\ Power\ down$ ]] && continue
    printf '%s\n' "$line"
done <"$tmp/console"

qrc=0
wait "$qpid" || qrc=$?
qpid=

if [[ -s $results/vm-exit-code ]]; then
    rc=$(<"$results/vm-exit-code")
    [[ $rc == 0 ]] || echo "vm: command exited with $rc"
    exit "$rc"
elif ((qrc == 124)); then
    echo "vm: error: timed out after $timeout s, VM killed" >&2
    exit 124
else
    echo "vm: error: the guest did not report an exit code (qemu exit $qrc;" \
         "setup failure or kernel panic, see the console output above)" >&2
    exit 125
fi
