"""What the security tests (test_security*.py) share: the numbers of the
client's security API, links between two radios (harness.Radio) of the
daemon, pairing, a raw ATT client socket, and the bond store on disk
(lib/sm/bond.cpp, lib/sm/local_identity.cpp)."""

import ctypes
import ctypes.util
import errno
import os
import queue
import re
import select
import socket
import time
import zlib

from harness import stop_cleanly

# IRQs, as MicroPython numbers them
_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_PERIPHERAL_DISCONNECT = 8
_IRQ_GATTC_READ_RESULT = 15
_IRQ_GATTC_READ_DONE = 16
_IRQ_ENCRYPTION_UPDATE = 28
_IRQ_GET_SECRET = 29
_IRQ_SET_SECRET = 30
_IRQ_PASSKEY_ACTION = 31

# config(io=...)
IO_DISPLAY_ONLY, IO_DISPLAY_YESNO, IO_KEYBOARD_ONLY, IO_NO_INPUT_OUTPUT, IO_KEYBOARD_DISPLAY = range(5)

# gap_passkey's actions
_PASSKEY_ACTION_INPUT = 2
_PASSKEY_ACTION_DISPLAY = 3
_PASSKEY_ACTION_NUMERIC_COMPARISON = 4

SMP_WAIT = 35  # the kernel's SMP timeout is 30 s
ADV_DATA = b"\x02\x01\x06"  # flags: general discoverable, no BR/EDR
DISCONNECTS = (_IRQ_CENTRAL_DISCONNECT, _IRQ_PERIPHERAL_DISCONNECT)
SECURITY_EVENTS = (_IRQ_ENCRYPTION_UPDATE, _IRQ_PASSKEY_ACTION) + DISCONNECTS


# --------------------------------------------------------------------------
# Daemons and links


def stop(daemon, radios):
    """Unregisters the radios' handlers, then stops the daemon (if any) cleanly."""
    for r in radios:
        r.ble.irq(None)
    if daemon:
        stop_cleanly(daemon)


def connect(central, peripheral, initiate=None):
    """peripheral advertises and central connects to it: with its daemon's
    gap_connect, or with initiate() (its kernel, say). The data of the two
    connect events: (central's (handle, addr_type, addr), peripheral's)."""
    peripheral.ble.gap_advertise(50000, ADV_DATA)
    if initiate is None:
        central.ble.gap_connect(0, peripheral.addr)
    else:
        initiate()
    return central.wait(_IRQ_PERIPHERAL_CONNECT), peripheral.wait(_IRQ_CENTRAL_CONNECT)


def disconnect(central, peripheral, handle):
    """Ends a link from the central, waiting for both sides' disconnect events; nothing if it is gone."""
    if central.ble.gap_disconnect(handle):
        central.wait(_IRQ_PERIPHERAL_DISCONNECT)
        peripheral.wait(_IRQ_CENTRAL_DISCONNECT)


def pair(radio, handle):
    """gap_pair, again while the link's kernel channel is not up yet (Busy, documented)."""
    deadline = time.monotonic() + 3
    while True:
        try:
            radio.ble.gap_pair(handle)
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def next_link_event(radio, handle, deadline, events=SECURITY_EVENTS):
    """The next event in `events` of connection `handle` as (event, data),
    others skipped; None when the deadline (time.monotonic()) passes first."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            event, data = radio.events.get(timeout=left)
        except queue.Empty:
            continue
        if event in events and data[0] == handle:
            return event, data


# --------------------------------------------------------------------------
# A raw ATT client socket (BT_SECURITY left low: it never raises security)

AF_BLUETOOTH = 31
BTPROTO_L2CAP = 0
ATT_CID = 4
BDADDR_LE_PUBLIC = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class _SockaddrL2(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("psm", ctypes.c_ushort), ("bdaddr", ctypes.c_ubyte * 6),
                ("cid", ctypes.c_ushort), ("bdaddr_type", ctypes.c_ubyte)]


def _att_sockaddr(addr):
    sa = _SockaddrL2()
    sa.family = AF_BLUETOOTH
    sa.cid = ATT_CID
    sa.bdaddr_type = BDADDR_LE_PUBLIC
    for i, b in enumerate(reversed(addr)):  # least significant octet first
        sa.bdaddr[i] = b
    return sa


def att_connect(local, peer, timeout=25):
    """The kernel connects: an ATT socket from our controller at `local` to
    `peer` (addresses most significant octet first). With privacy on the
    kernel connects from an RPA of its own, made with the IRK of Set Privacy."""
    s = socket.socket(AF_BLUETOOTH, socket.SOCK_SEQPACKET, BTPROTO_L2CAP)
    try:
        sa = _att_sockaddr(local)
        if _libc.bind(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
            e = ctypes.get_errno()
            raise OSError(e, "ATT bind: " + os.strerror(e))
        s.setblocking(False)
        sa = _att_sockaddr(peer)
        if _libc.connect(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
            e = ctypes.get_errno()
            if e not in (errno.EINPROGRESS, errno.EAGAIN):
                raise OSError(e, "ATT connect: " + os.strerror(e))
        poll = select.poll()
        poll.register(s, select.POLLOUT)
        if not poll.poll(timeout * 1000):
            raise OSError(errno.ETIMEDOUT, f"ATT connect: not connected within {timeout} s")
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            raise OSError(e, "ATT connect: " + os.strerror(e))
        s.settimeout(10)
        return s
    except BaseException:
        s.close()
        raise


# --------------------------------------------------------------------------
# The bond store on disk: <state>/bonds/<adapter>/{identity, <type>-<peer>.bond}


def hex_addr(addr):
    return addr.hex().upper()


def bonds_root(state_dir):
    return os.path.join(state_dir, "bonds")


def bond_dir(state_dir, adapter):
    """The directory of the adapter whose address is `adapter` (bytes, most significant octet first)."""
    return os.path.join(bonds_root(state_dir), hex_addr(adapter))


def bond_path(state_dir, adapter, peer):
    """The adapter's bond file for a public peer (addresses as bytes)."""
    return os.path.join(bond_dir(state_dir, adapter), f"public-{hex_addr(peer)}.bond")


def identity_path(state_dir, adapter):
    return os.path.join(bond_dir(state_dir, adapter), "identity")


def bond_names(directory):
    """The *.bond files of an adapter directory (it also holds the adapter's `identity`)."""
    return sorted(n for n in os.listdir(directory) if n.endswith(".bond"))


def check_identity(text):
    """ValueError unless text is an identity file (lib/sm/local_identity.hpp) whose CRC matches."""
    if not text.endswith("\n"):
        raise ValueError("no newline at the end (truncated)")
    lines = text[:-1].split("\n")
    if lines[0] != "ubluetoothd identity 1" or not re.fullmatch(r"crc32 [0-9A-F]{8}", lines[-1]):
        raise ValueError("not an identity file")
    content = text[:len(text) - len(lines[-1]) - 1]
    if int(lines[-1][6:], 16) != zlib.crc32(content.encode()):
        raise ValueError("crc32 does not match")
    keys = sorted(line.split(" ")[0] for line in lines[1:-1])
    if keys != ["irk", "static"]:
        raise ValueError(f"lines {keys}")


def decode_bond(text):
    """A bond file's {"peer": (type, addr), "ltks": [dict], "irk": bytes or None},
    checked as strictly as the daemon reads it; ValueError when invalid."""
    if not text.endswith("\n"):
        raise ValueError("no newline at the end (truncated)")
    lines = text[:-1].split("\n")
    if lines[0] != "ubluetoothd bond 1":
        raise ValueError(f"header {lines[0]!r}")
    if len(lines) < 2 or not re.fullmatch(r"crc32 [0-9A-F]{8}", lines[-1]):
        raise ValueError(f"last line {lines[-1]!r} is not the crc32 line")
    content = text[:len(text) - len(lines[-1]) - 1]
    if int(lines[-1][6:], 16) != zlib.crc32(content.encode()):
        raise ValueError(f"crc32 {lines[-1][6:]} does not match the content's {zlib.crc32(content.encode()):08X}")
    bond = {"peer": None, "ltks": [], "irk": None}
    for line in lines[1:-1]:
        key, _, value = line.partition(" ")
        if key == "peer" and bond["peer"] is None:
            m = re.fullmatch(r"(public|random) ((?:[0-9A-F]{2}:){5}[0-9A-F]{2})", value)
            if not m:
                raise ValueError(f"peer line {line!r}")
            bond["peer"] = (0 if m.group(1) == "public" else 1, bytes.fromhex(m.group(2).replace(":", "")))
        elif key == "ltk":
            m = re.fullmatch(r"type=([0-4]) central=([01]) enc_size=(\d+) ediv=(\d+) rand=([0-9A-F]{16}) "
                             r"val=([0-9A-F]{32})", value)
            if not m or not 7 <= int(m.group(3)) <= 16 or int(m.group(4)) > 0xFFFF:
                raise ValueError(f"ltk line {line!r}")
            ltk = {"type": int(m.group(1)), "central": int(m.group(2)), "enc_size": int(m.group(3)),
                   "ediv": int(m.group(4)), "rand": m.group(5), "val": m.group(6)}
            if any(k["central"] == ltk["central"] for k in bond["ltks"]):
                raise ValueError(f"a second ltk with central={ltk['central']}")
            bond["ltks"].append(ltk)
        elif key == "irk" and bond["irk"] is None and re.fullmatch(r"[0-9A-F]{32}", value):
            bond["irk"] = bytes.fromhex(value)
        else:
            raise ValueError(f"unexpected line {line!r}")
    if bond["peer"] is None:
        raise ValueError("no peer line")
    if not bond["ltks"] and bond["irk"] is None:
        raise ValueError("neither an ltk nor an irk")
    return bond
