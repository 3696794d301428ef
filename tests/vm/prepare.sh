#!/bin/bash
# Prepare the test VM: fetch Debian's kernel and build the initramfs.
#
# Usage: tests/vm/prepare.sh
#   UBT_VM_CACHE       cache dir (default /var/cache/ubluetoothd-vm)
#   UBT_VM_KERNEL_PKG  kernel package (default: linux-image-6.1.0-53-amd64, see below)
#
# Idempotent: the kernel is downloaded once per package name, the initramfs is
# rebuilt only when a hash of its inputs changes.  On success the cache holds
# "vm-kernel" (symlink to the image to boot) and "initramfs.cpio.gz" for run.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${UBT_VM_CACHE:-/var/cache/ubluetoothd-vm}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

log() { echo "vm-prepare: $*"; }
die() { echo "vm-prepare: error: $*" >&2; exit 1; }

# Serialize concurrent runs (e.g. parallel CI jobs sharing the cache).
exec 9>"$cache/.lock"
flock 9

# --- kernel -----------------------------------------------------------------
# Pinned to 6.1.187: Debian's 6.1.192 (linux-image-6.1.0-56) hits a kernel
# BUG (list corruption in hci_chan_del, from l2cap_sock_release) whenever an
# L2CAP socket is closed after its LE link went down; see docs/architecture.md.
pinned=linux-image-6.1.0-53-amd64
pkg=${UBT_VM_KERNEL_PKG:-}
if [[ -z $pkg ]] && apt-cache show "$pinned" >/dev/null 2>&1; then
    pkg=$pinned
fi
if [[ -z $pkg ]]; then
    log "warning: $pinned is not in the package lists; using the current kernel"
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1) || true
fi
if [[ -z $pkg ]]; then
    # No apt metadata (offline?): fall back to an already unpacked kernel.
    pkg=$(cd "$cache/kernel" 2>/dev/null && ls -d linux-image-* 2>/dev/null | sort -V | tail -n1) || true
    [[ -n $pkg ]] || die "cannot resolve linux-image-amd64 (apt-get update?) and no cached kernel"
    log "apt did not resolve linux-image-amd64, using cached $pkg"
fi
kroot=$cache/kernel/$pkg
if [[ ! -e $kroot/.done ]]; then
    log "downloading $pkg"
    rm -rf "$kroot" "$cache/download"
    mkdir -p "$cache/download"
    # apt-get download writes into the cwd; as root it warns that it runs
    # "unsandboxed" because _apt cannot write there -- harmless.
    (cd "$cache/download" && apt-get -q download "$pkg" 2>&1 | grep -v unsandboxed) || true
    deb=$(ls "$cache/download"/"$pkg"_*.deb 2>/dev/null | head -n1)
    [[ -n $deb ]] || die "apt-get download $pkg failed"
    log "unpacking $(basename "$deb")"
    mkdir -p "$kroot"
    dpkg-deb -x "$deb" "$kroot"
    rm -rf "$cache/download"
    touch "$kroot/.done"
fi
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)
kver=${vmlinuz##*/vmlinuz-}
moddir=$kroot/lib/modules/$kver
[[ -d $moddir ]] || die "no modules dir $moddir"

# Booting the compressed bzImage costs ~2.5 s of xz decompression under TCG.
# If the kernel supports PVH, qemu can boot the uncompressed ELF vmlinux
# directly: extract it once from the bzImage payload.
boot_image=$vmlinuz
if grep -qx 'CONFIG_PVH=y' "$kroot/boot/config-$kver"; then
    if [[ ! -s $kroot/vmlinux ]]; then
        log "extracting vmlinux for PVH boot"
        python3 - "$vmlinuz" "$kroot/vmlinux.new" <<'PY' && mv "$kroot/vmlinux.new" "$kroot/vmlinux"
import gzip, lzma, struct, sys
d = open(sys.argv[1], "rb").read()
setup_sects = d[0x1F1] or 4                      # x86 boot protocol header
off, length = struct.unpack_from("<II", d, 0x248)  # payload_offset/_length
p = d[(setup_sects + 1) * 512 + off:][:length]
if p.startswith(b"\xfd7zXZ"):
    out = lzma.LZMADecompressor().decompress(p)
elif p.startswith(b"\x1f\x8b"):
    out = gzip.decompress(p)
else:
    sys.exit("vm-prepare: unknown kernel compression, booting the bzImage")
if not out.startswith(b"\x7fELF"):
    sys.exit("vm-prepare: payload is not ELF, booting the bzImage")
open(sys.argv[2], "wb").write(out)
PY
    fi
    [[ -s $kroot/vmlinux ]] && boot_image=$kroot/vmlinux
fi
ln -sfn "${boot_image#"$cache"/}" "$cache/vm-kernel"
rm -f "$cache/vmlinuz" # older layout

# --- initramfs --------------------------------------------------------------
busybox=/bin/busybox
[[ -x $busybox ]] || die "$busybox missing (apt-get install busybox-static)"
# A dynamically linked busybox (package "busybox") cannot run in the
# initramfs, which has no libc.
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked; install busybox-static"
fi

modules=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/modules.list")
hash=$( { echo "$pkg"; sha256sum "$busybox" "$here/init" "$here/modules.list" \
          "$here/prepare.sh" | cut -d' ' -f1; } | sha256sum | cut -d' ' -f1)
if [[ -e $cache/initramfs.cpio.gz && "$(cat "$cache/initramfs.stamp" 2>/dev/null)" == "$hash" ]]; then
    log "up to date ($pkg)"
    exit 0
fi

log "building initramfs for $kver"
work=$(mktemp -d "$cache/initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$busybox" "$work/bin/busybox"
ln -s busybox "$work/bin/sh"
install -m 0755 "$here/init" "$work/init"

: >"$work/lib/modules/load.list"
for m in $modules; do
    # Module file names may use '-' or '_' interchangeably.
    f=$(find "$moddir/kernel" \( -name "$m.ko*" -o -name "${m//_/-}.ko*" \) -print -quit)
    if [[ -z $f ]]; then
        if grep -qE "/(${m}|${m//_/-})\.ko\$" "$moddir/modules.builtin"; then
            log "  $m: built into the kernel, skipped"
        else
            log "  WARNING: $m: neither a module nor built-in, skipped"
        fi
        continue
    fi
    # busybox insmod does not decompress: store plain .ko files.
    case $f in
        *.ko.xz)  xz -dc "$f" ;;
        *.ko.zst) zstd -qdc "$f" ;;
        *.ko.gz)  gzip -dc "$f" ;;
        *.ko)     cat "$f" ;;
    esac >"$work/lib/modules/$m.ko"
    echo "$m" >>"$work/lib/modules/load.list"
done

(cd "$work" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) |
    gzip -6 >"$cache/initramfs.cpio.gz.new"
mv "$cache/initramfs.cpio.gz.new" "$cache/initramfs.cpio.gz"
echo "$hash" >"$cache/initramfs.stamp"
log "initramfs ready ($(du -h "$cache/initramfs.cpio.gz" | cut -f1), $(wc -l <"$work/lib/modules/load.list") modules)"
