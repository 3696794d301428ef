#!/usr/bin/python3
"""Probe of the kernel's LE pairing (SMP) as driven through mgmt, for the
design of issue 6.  Not a test: it prints what the kernel does, for
docs/kernel-smp.md.  Its name does not match test_*.py on purpose, so
tests/kernel/run.py does not pick it up.

Run it inside the test VM, without the daemon (it drives the controllers over
its own mgmt socket and answers pairing requests itself):

  tests/vm/run.sh --controllers ext --timeout 1500 --results /tmp/smp1 -- \
      /usr/bin/python3 /work/main/tests/kernel/smp_probe.py [SECTION...] [btmon]

Sections (default: all but interop, in this order): info rpa methods-sc
methods-legacy initiators encryption timeout reject modes bonds legacy-bond
btmgmt dmesg.  Sections run in the order given.  rpa has a control case that
is only valid while nothing has sent Load IRKs to hci0 in this VM: run it
first.  interop runs only under tests/vm/run-interop.sh (our hci0 against
bluetoothd in the peer VM):

  tests/vm/run-interop.sh --timeout 300 --results /tmp/smpi -- \
      /usr/bin/python3 /work/main/tests/kernel/smp_probe.py interop

`btmon` writes an HCI trace to $UBT_RESULTS/probe.btsnoop (read it with
btmon -r).  Every line is prefixed with the time since start (when the probe
read it: events read in one batch can appear out of kernel order); "hciN >" is
a mgmt command we send, "hciN <" a mgmt event, "hciN raw" an HCI packet seen
on a raw HCI socket of that controller (the kernel's commands, events, and SMP
PDUs with their direction: "SMP >" sent by that controller, "SMP <"
received).
"""

import ctypes
import ctypes.util
import errno
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time

AF_BLUETOOTH = 31
BTPROTO_L2CAP = 0
BTPROTO_HCI = 1
HCI_CHANNEL_CONTROL = 3
HCI_DEV_NONE = 0xFFFF
SOL_HCI = 0
HCI_DATA_DIR = 1
HCI_FILTER = 2
HCI_CMSG_DIR = 0x0001
SOL_BLUETOOTH = 274
BT_SECURITY = 4
SOL_L2CAP = 6
L2CAP_CONNINFO = 2
BDADDR_LE_PUBLIC = 1
BDADDR_LE_RANDOM = 2
ATT_CID = 4
SEC_NAMES = {0: "SDP", 1: "LOW", 2: "MEDIUM", 3: "HIGH", 4: "FIPS"}

T0 = time.monotonic()
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
QUIET = False


def log(*a):
    print(f"[{time.monotonic() - T0:8.3f}]", *a, flush=True)


def vlog(*a):
    if not QUIET:
        log(*a)


def ename(e):
    return errno.errorcode.get(e, str(e)) if e else "0"


def exc(e):
    if isinstance(e, OSError) and e.errno:
        return f"{ename(e.errno)} ({e.strerror})"
    return repr(e)


def b2a(b):
    return ":".join(f"{x:02X}" for x in bytes(b[:6])[::-1])


def a2b(s):
    return bytes(int(x, 16) for x in s.split(":"))[::-1]


def run(cmd, timeout=30):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return (r.stdout + r.stderr).replace("\r", "")


# --------------------------------------------------------------------------
# mgmt protocol names and decoders (from BlueZ's doc/mgmt-api.txt)

OPS = {
    0x0001: "Read Version", 0x0004: "Read Info", 0x0005: "Set Powered", 0x0007: "Set Connectable",
    0x0009: "Set Bondable", 0x000B: "Set SSP", 0x000D: "Set LE", 0x002A: "Set BR/EDR", 0x0013: "Load LTKs", 0x0014: "Disconnect",
    0x0015: "Get Connections", 0x0018: "Set IO Capability", 0x0019: "Pair Device",
    0x001A: "Cancel Pair Device", 0x001B: "Unpair Device", 0x001C: "User Confirm Reply",
    0x001D: "User Confirm Neg Reply", 0x001E: "User Passkey Reply", 0x001F: "User Passkey Neg Reply",
    0x0029: "Set Advertising", 0x002D: "Set Secure Connections", 0x002F: "Set Privacy",
    0x0030: "Load IRKs", 0x0031: "Get Conn Info", 0x0048: "Read Controller Capabilities",
}
OP = {v: k for k, v in OPS.items()}
EVS = {
    0x0001: "Command Complete", 0x0002: "Command Status", 0x0006: "New Settings", 0x0009: "New Link Key",
    0x000A: "New Long Term Key", 0x000B: "Device Connected", 0x000C: "Device Disconnected",
    0x000D: "Connect Failed", 0x000F: "User Confirmation Request", 0x0010: "User Passkey Request",
    0x0011: "Authentication Failed", 0x0016: "Device Unpaired", 0x0017: "Passkey Notify",
    0x0018: "New IRK", 0x0019: "New CSRK", 0x001C: "New Connection Parameter",
}
STATUS = ["Success", "Unknown Command", "Not Connected", "Failed", "Connect Failed",
          "Authentication Failed", "Not Paired", "No Resources", "Timeout", "Already Connected",
          "Busy", "Rejected", "Not Supported", "Invalid Parameters", "Disconnected", "Not Powered",
          "Cancelled", "Invalid Index", "RFKilled", "Already Paired", "Permission Denied"]
SETTINGS = ["powered", "connectable", "fast-connectable", "discoverable", "bondable", "link-security",
            "ssp", "br/edr", "hs", "le", "advertising", "secure-conn", "debug-keys", "privacy",
            "configuration", "static-addr", "phy-configuration", "wide-band-speech"]
IO_NAMES = ["DisplayOnly", "DisplayYesNo", "KeyboardOnly", "NoInputNoOutput", "KeyboardDisplay"]
DISC_REASONS = ["unspecified", "timeout", "local host", "remote host", "authentication failure",
                "local suspend"]
LTK_TYPES = ["unauth legacy", "auth legacy", "unauth P-256", "auth P-256", "debug P-256"]


def sname(s):
    if s is None:
        return "no reply"
    return f"0x{s:02x} ({STATUS[s] if s < len(STATUS) else '?'})"


def settings_str(v):
    return " ".join(n for i, n in enumerate(SETTINGS) if v & (1 << i))


def addr_str(p, off=0):
    return f"{b2a(p[off:off + 6])}/{p[off + 6]}"


def decode_event(code, p):
    """Returns a dict with a 'text' description of a mgmt event's parameters."""
    d = {}
    try:
        if code == 0x0006:
            d["text"] = settings_str(struct.unpack_from("<I", p)[0])
        elif code == 0x0009:
            d.update(hint=p[0], ktype=p[8])
            d["text"] = (f"store_hint={p[0]} addr={addr_str(p, 1)} key_type={p[8]} value={p[9:25].hex()} "
                         f"pin_len={p[25]}")
        elif code == 0x000A:
            hint, = struct.unpack_from("<B", p)
            ktype, central, esize, ediv = struct.unpack_from("<BBBH", p, 8)
            rand = p[13:21]
            val = p[21:37]
            d.update(hint=hint, addr=b2a(p[1:7]), atype=p[7], ktype=ktype, central=central,
                     esize=esize, ediv=ediv, rand=rand.hex(), val=val.hex(), key=bytes(p[1:37]))
            d["text"] = (f"store_hint={hint} addr={addr_str(p, 1)} key_type={ktype} "
                         f"({LTK_TYPES[ktype] if ktype < 5 else '?'}) central={central} enc_size={esize} "
                         f"ediv=0x{ediv:04x} rand={rand.hex()} value={val.hex()}")
        elif code == 0x000B:
            flags, elen = struct.unpack_from("<IH", p, 7)
            d.update(addr=b2a(p), atype=p[6])
            d["text"] = f"addr={addr_str(p)} flags=0x{flags:x} eir_len={elen}"
        elif code == 0x000C:
            d.update(addr=b2a(p), atype=p[6], reason=p[7])
            r = p[7]
            d["text"] = f"addr={addr_str(p)} reason={r} ({DISC_REASONS[r] if r < len(DISC_REASONS) else '?'})"
        elif code in (0x000D, 0x0011):
            d.update(addr=b2a(p), atype=p[6], status=p[7])
            d["text"] = f"addr={addr_str(p)} status={sname(p[7])}"
        elif code == 0x000F:
            hint, val = struct.unpack_from("<BI", p, 7)
            d.update(addr=b2a(p), atype=p[6], hint=hint, value=val)
            d["text"] = f"addr={addr_str(p)} confirm_hint={hint} value={val:06d}"
        elif code in (0x0010, 0x0016):
            d.update(addr=b2a(p), atype=p[6])
            d["text"] = f"addr={addr_str(p)}"
        elif code == 0x0017:
            pk, ent = struct.unpack_from("<IB", p, 7)
            d.update(addr=b2a(p), atype=p[6], passkey=pk, entered=ent)
            d["text"] = f"addr={addr_str(p)} passkey={pk:06d} entered={ent}"
        elif code == 0x0018:
            d.update(hint=p[0], rpa=b2a(p[1:7]), addr=b2a(p[7:13]), atype=p[13], val=p[14:30].hex(),
                     key=bytes(p[7:30]))
            d["text"] = (f"store_hint={p[0]} random_addr={b2a(p[1:7])} identity={addr_str(p, 7)} "
                         f"irk={p[14:30].hex()}")
        elif code == 0x0019:
            d.update(hint=p[0], addr=b2a(p[1:7]), atype=p[7], ctype=p[8])
            d["text"] = (f"store_hint={p[0]} addr={addr_str(p, 1)} type={p[8]} "
                         f"({['unauth local', 'unauth remote', 'auth local', 'auth remote'][p[8]] if p[8] < 4 else '?'}) "
                         f"csrk={p[9:25].hex()}")
        elif code == 0x001C:
            hint, = struct.unpack_from("<B", p)
            mn, mx, lat, to = struct.unpack_from("<HHHH", p, 8)
            d["text"] = f"store_hint={hint} addr={addr_str(p, 1)} interval {mn}-{mx} latency {lat} timeout {to}"
        else:
            d["text"] = p.hex()
    except (struct.error, IndexError):
        d["text"] = "malformed " + p.hex()
    return d


def describe_reply(op, p):
    if op in (0x0005, 0x0007, 0x0009, 0x000B, 0x000D, 0x0029, 0x002A, 0x002D, 0x002F) and len(p) >= 4:
        return "settings: " + settings_str(struct.unpack_from("<I", p)[0])
    if op == 0x0015 and len(p) >= 2:
        n, = struct.unpack_from("<H", p)
        return f"{n} connection(s): " + ", ".join(addr_str(p, 2 + 7 * i) for i in range(n))
    if op in (0x0014, 0x0019, 0x001A, 0x001B, 0x001C, 0x001D, 0x001E, 0x001F) and len(p) >= 7:
        return "addr " + addr_str(p)
    return p.hex() if p else ""


# --------------------------------------------------------------------------
# HCI packets seen on raw sockets

SMP_CODES = {1: "Pairing Request", 2: "Pairing Response", 3: "Pairing Confirm", 4: "Pairing Random",
             5: "Pairing Failed", 6: "Encryption Information", 7: "Central Identification",
             8: "Identity Information", 9: "Identity Address Information", 10: "Signing Information",
             11: "Security Request", 12: "Pairing Public Key", 13: "Pairing DHKey Check",
             14: "Keypress Notification"}
SMP_FAIL = {1: "Passkey Entry Failed", 2: "OOB Not Available", 3: "Authentication Requirements",
            4: "Confirm Value Failed", 5: "Pairing Not Supported", 6: "Encryption Key Size",
            7: "Command Not Supported", 8: "Unspecified Reason", 9: "Repeated Attempts",
            10: "Invalid Parameters", 11: "DHKey Check Failed", 12: "Numeric Comparison Failed",
            13: "BR/EDR pairing in progress", 14: "Cross-transport Key Derivation not allowed"}
HCI_CMDS = {0x2019: "LE Enable Encryption", 0x201A: "LE LTK Request Reply", 0x201B: "LE LTK Request Neg Reply",
            0x0406: "Disconnect", 0x1408: "Read Encryption Key Size", 0x2005: "LE Set Random Address",
            0x2035: "LE Set Adv Set Random Address", 0x2027: "LE Add Device To Resolving List",
            0x202D: "LE Set Address Resolution Enable", 0x2029: "LE Clear Resolving List",
            0x200D: "LE Create Connection", 0x2043: "LE Extended Create Connection"}


def authreq_str(a):
    bits = ["bond" if a & 3 == 1 else f"bondbits{a & 3}"] if a & 3 else ["nobond"]
    for m, n in ((4, "mitm"), (8, "sc"), (16, "keypress"), (32, "ct2")):
        if a & m:
            bits.append(n)
    return "|".join(bits)


def dist_str(d):
    return "|".join(n for m, n in ((1, "enc"), (2, "id"), (4, "sign"), (8, "link")) if d & m) or "none"


def describe_smp(p):
    code = p[0]
    n = SMP_CODES.get(code, f"code 0x{code:02x}")
    if code in (1, 2) and len(p) >= 7:
        io, oob, auth, mk, idist, rdist = p[1:7]
        return (f"{n} io={io} ({IO_NAMES[io] if io < 5 else '?'}) oob={oob} auth={authreq_str(auth)} "
                f"max_key={mk} init_dist={dist_str(idist)} resp_dist={dist_str(rdist)}")
    if code == 5 and len(p) >= 2:
        return f"{n} reason=0x{p[1]:02x} ({SMP_FAIL.get(p[1], '?')})"
    if code == 11 and len(p) >= 2:
        return f"{n} auth={authreq_str(p[1])}"
    if code == 7 and len(p) >= 11:
        ediv, = struct.unpack_from("<H", p, 1)
        return f"{n} ediv=0x{ediv:04x} rand={p[3:11].hex()}"
    if code == 9 and len(p) >= 8:
        return f"{n} {b2a(p[2:8])}/{p[1]}"
    if code == 8 and len(p) >= 17:
        return f"{n} irk={p[1:17].hex()}"
    return n


# --------------------------------------------------------------------------
# The mgmt socket, raw HCI monitors and an "agent" answering pairing requests


class SockaddrHci(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("dev", ctypes.c_ushort), ("channel", ctypes.c_ushort)]


def mgmt_socket():
    s = socket.socket(AF_BLUETOOTH, socket.SOCK_RAW | socket.SOCK_CLOEXEC, BTPROTO_HCI)
    sa = SockaddrHci(AF_BLUETOOTH, HCI_DEV_NONE, HCI_CHANNEL_CONTROL)
    if libc.bind(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return s


class Bt:
    """One mgmt socket for all controllers, raw HCI sockets that report what
    the kernel does, and per-controller answering policies."""

    def __init__(self):
        self.m = mgmt_socket()
        self.raw = {}
        self.events = []        # (t, idx, code, dict)
        self.pending = []       # dicts: idx, op, t, result
        self.deferred = []      # (due, fn)
        self.agents = {}        # idx -> {"confirm": ..., "passkey": ...}
        self.notified = {}      # idx -> last Passkey Notify value
        self.raw_results = []   # (idx, opcode, status, params) of our raw commands
        self.enc_events = []    # (t, idx, kind, status, handle, extra)

    # ---- raw HCI
    def monitor(self, idx):
        s = socket.socket(AF_BLUETOOTH, socket.SOCK_RAW | socket.SOCK_CLOEXEC, BTPROTO_HCI)
        s.bind((idx,))
        s.setsockopt(SOL_HCI, HCI_DATA_DIR, 1)
        # commands, ACL, events; all events
        s.setsockopt(SOL_HCI, HCI_FILTER,
                     struct.pack("<IIIH", (1 << 1) | (1 << 2) | (1 << 4), 0xFFFFFFFF, 0xFFFFFFFF, 0) + b"\0\0")
        self.raw[idx] = s

    def raw_cmd(self, idx, opcode, params=b"", timeout=5):
        s = self.raw[idx]
        n = len(self.raw_results)
        s.send(bytes([1]) + struct.pack("<HB", opcode, len(params)) + params)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump(0.05)
            for r in self.raw_results[n:]:
                if r[0] == idx and r[1] == opcode:
                    return r[2], r[3]
        return None, b""

    def _on_raw(self, idx, s):
        try:
            pkt, anc, _, _ = s.recvmsg(2048, 64)
        except BlockingIOError:
            return
        out = None
        for lvl, typ, data in anc:
            if lvl == SOL_HCI and typ == HCI_CMSG_DIR:
                out = struct.unpack("i", data[:4])[0] == 0  # the kernel reports "incoming"
        t = pkt[0]
        tag = f"hci{idx} raw"
        if t == 0x01 and len(pkt) >= 4:
            op, = struct.unpack_from("<H", pkt, 1)
            p = pkt[4:]
            if op in HCI_CMDS:
                extra = ""
                if op == 0x2019 and len(p) >= 28:
                    h, = struct.unpack_from("<H", p)
                    extra = f" handle={h} rand={p[2:10].hex()} ediv=0x{struct.unpack_from('<H', p, 10)[0]:04x}"
                elif op in (0x201A, 0x201B, 0x1408) and len(p) >= 2:
                    extra = f" handle={struct.unpack_from('<H', p)[0]}"
                elif op == 0x0406 and len(p) >= 3:
                    extra = f" handle={struct.unpack_from('<H', p)[0]} reason=0x{p[2]:02x}"
                elif op == 0x2005 and len(p) >= 6:
                    extra = f" {b2a(p)}"
                elif op == 0x2035 and len(p) >= 7:
                    extra = f" set={p[0]} {b2a(p[1:7])}"
                elif op == 0x2027 and len(p) >= 39:
                    extra = f" {b2a(p[1:7])}/{p[0]} peer_irk={p[7:23].hex()} local_irk={p[23:39].hex()}"
                elif op == 0x202D and len(p) >= 1:
                    extra = f" enable={p[0]}"
                elif op in (0x200D, 0x2043):
                    extra = " own_addr_type=%d" % (p[5] if op == 0x200D and len(p) > 5 else p[1] if len(p) > 1 else -1)
                vlog(f"  {tag}: command {HCI_CMDS[op]}{extra}")
        elif t == 0x02 and len(pkt) >= 9:
            hf, alen, llen, cid = struct.unpack_from("<HHHH", pkt, 1)
            if cid == 6 and (hf >> 12) & 3 != 1 and len(pkt) > 9:
                vlog(f"  {tag}: SMP {'>' if out else '<'} handle={hf & 0xFFF} {describe_smp(pkt[9:])}")
        elif t == 0x04 and len(pkt) >= 3:
            ev = pkt[1]
            p = pkt[3:]
            now = time.monotonic()
            if ev == 0x08 and len(p) >= 4:
                st, h, en = p[0], struct.unpack_from("<H", p, 1)[0], p[3]
                self.enc_events.append((now, idx, "change", st, h, en))
                vlog(f"  {tag}: Encryption Change status=0x{st:02x} handle={h} enabled={en}")
            elif ev == 0x30 and len(p) >= 3:
                st, h = p[0], struct.unpack_from("<H", p, 1)[0]
                self.enc_events.append((now, idx, "refresh", st, h, None))
                vlog(f"  {tag}: Encryption Key Refresh Complete status=0x{st:02x} handle={h}")
            elif ev == 0x05 and len(p) >= 4:
                vlog(f"  {tag}: Disconnection Complete status=0x{p[0]:02x} handle="
                     f"{struct.unpack_from('<H', p, 1)[0]} reason=0x{p[3]:02x}")
            elif ev == 0x3E and len(p) >= 1:
                sub = p[0]
                if sub in (0x01, 0x0A) and len(p) >= 12:
                    st, h, role, pat = p[1], struct.unpack_from("<H", p, 2)[0], p[4], p[5]
                    extra = ""
                    if sub == 0x0A and len(p) >= 24:
                        extra = f" local_rpa={b2a(p[12:18])} peer_rpa={b2a(p[18:24])}"
                    vlog(f"  {tag}: LE {'Enhanced ' if sub == 0x0A else ''}Connection Complete status=0x{st:02x} "
                         f"handle={h} role={'central' if role == 0 else 'peripheral'} "
                         f"peer={b2a(p[6:12])} peer_type={pat}{extra}")
                elif sub == 0x05 and len(p) >= 13:
                    vlog(f"  {tag}: LE Long Term Key Request handle={struct.unpack_from('<H', p, 1)[0]} "
                         f"rand={p[3:11].hex()} ediv=0x{struct.unpack_from('<H', p, 11)[0]:04x}")
            elif ev in (0x0E, 0x0F):
                if ev == 0x0E and len(p) >= 3:
                    op, st, rp = struct.unpack_from("<H", p, 1)[0], (p[3] if len(p) > 3 else None), p[4:]
                else:
                    op, st, rp = struct.unpack_from("<H", p, 2)[0], p[0], b""
                self.raw_results.append((idx, op, st, rp))
                if op in HCI_CMDS and op not in (0x2005,):
                    vlog(f"  {tag}: {'Command Complete' if ev == 0x0E else 'Command Status'} "
                         f"{HCI_CMDS[op]} status=0x{st:02x} {rp.hex()}")

    # ---- mgmt
    def send(self, idx, op, params=b"", quiet=False):
        self.m.send(struct.pack("<HHH", op, idx, len(params)) + params)
        e = {"idx": idx, "op": op, "t": time.monotonic(), "result": None, "quiet": quiet}
        self.pending.append(e)
        if not quiet:
            vlog(f"  hci{idx} > {OPS.get(op, hex(op))} {params.hex()}")
        return e

    def cmd(self, idx, op, params=b"", timeout=10, quiet=False):
        """Sends a command and waits for its reply: (status, return params)."""
        e = self.send(idx, op, params, quiet)
        end = time.monotonic() + timeout
        while e["result"] is None and time.monotonic() < end:
            self.pump(0.05)
        if e["result"] is None:
            log(f"  hci{idx}   ({OPS.get(op, hex(op))}: no reply within {timeout} s)")
            return None, b""
        return e["result"]

    def pump(self, timeout=0.0):
        end = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            due = [d for d in self.deferred if d[0] <= now]
            for d in due:
                self.deferred.remove(d)
                d[1]()
            wait = max(0.0, end - now)
            if self.deferred:
                wait = max(0.0, min(wait, min(d[0] for d in self.deferred) - now))
            r, _, _ = select.select([self.m] + list(self.raw.values()), [], [], wait)
            for s in r:
                if s is self.m:
                    self._on_mgmt(s.recv(4096))
                else:
                    idx = next(i for i, x in self.raw.items() if x is s)
                    self._on_raw(idx, s)
            if time.monotonic() >= end and not r:
                break

    def wait_for(self, fn, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = fn()
            if v:
                return v
            self.pump(0.05)
        return fn()

    def mark(self):
        return len(self.events)

    def since(self, mark, idx=None, code=None):
        return [e for e in self.events[mark:] if (idx is None or e[1] == idx) and (code is None or e[2] == code)]

    def _on_mgmt(self, data):
        code, idx, plen = struct.unpack_from("<HHH", data)
        p = data[6:6 + plen]
        now = time.monotonic()
        if code in (0x0001, 0x0002):
            if code == 0x0001:
                op, st = struct.unpack_from("<HB", p)
                rp = p[3:]
            else:
                op, st = struct.unpack_from("<HB", p)
                rp = b""
            for e in self.pending:
                if e["idx"] == idx and e["op"] == op:
                    self.pending.remove(e)
                    e["result"] = (st, rp)
                    if not e["quiet"]:
                        vlog(f"  hci{idx} < {'Command Complete' if code == 1 else 'Command Status'} "
                             f"{OPS.get(op, hex(op))}: status {sname(st)} after {now - e['t']:.3f} s "
                             f"{describe_reply(op, rp)}")
                    break
            else:
                vlog(f"  hci{idx} < (unmatched) {EVS[code]} op=0x{op:04x} status {sname(st)}")
            return
        d = decode_event(code, p)
        self.events.append((now, idx, code, d))
        if code in (0x0006, 0x001C):
            return
        vlog(f"  hci{idx} < {EVS.get(code, hex(code))} {d['text']}")
        a = self.agents.get(idx)
        if code == 0x0017:
            self.notified[idx] = d["passkey"]
        if not a:
            return
        addr = p[:7]
        if code == 0x000F:
            pol = a.get("confirm", "accept")
            if isinstance(pol, tuple) and pol[0] == "delay":
                self.deferred.append((now + pol[1], lambda: self.send(idx, 0x001C, addr)))
            elif pol == "accept":
                self.send(idx, 0x001C, addr)
            elif pol == "reject":
                self.send(idx, 0x001D, addr)
        elif code == 0x0010:
            pol = a.get("passkey", "peer")
            if pol == "reject":
                self.send(idx, 0x001F, addr)
            elif isinstance(pol, int):
                self.send(idx, 0x001E, addr + struct.pack("<I", pol))
            elif pol == "peer" or (isinstance(pol, tuple) and pol[0] == "peer+"):
                delta = pol[1] if isinstance(pol, tuple) else 0
                other = a.get("other")
                start = time.monotonic()

                def answer():
                    pk = self.notified.get(other)
                    if pk is None and time.monotonic() - start < 1.5:
                        self.deferred.append((time.monotonic() + 0.05, answer))
                        return
                    self.send(idx, 0x001E, addr + struct.pack("<I", (pk if pk is not None else 123456) + delta))
                answer()


BT = None
A = {}           # idx -> identity address string
IDX = (0, 1)


def mgmt_addr(idx_peer, atype=BDADDR_LE_PUBLIC, addr=None):
    return a2b(addr or A[idx_peer]) + bytes([atype])


def set_agents(c0="accept", p0="peer", c1="accept", p1="peer"):
    BT.agents = {0: {"confirm": c0, "passkey": p0, "other": 1}, 1: {"confirm": c1, "passkey": p1, "other": 0}}
    BT.notified = {}


def setting(idx, op, val):
    st, rp = BT.cmd(idx, op, bytes([val]), quiet=True)
    return st


def settings_of(idx):
    st, rp = BT.cmd(idx, 0x0004, quiet=True)
    return struct.unpack_from("<I", rp, 13)[0] if st == 0 else None


def get_conns(idx):
    st, rp = BT.cmd(idx, 0x0015, quiet=True)
    if st != 0:
        return []
    n, = struct.unpack_from("<H", rp)
    return [(b2a(rp[2 + 7 * i:]), rp[8 + 7 * i]) for i in range(n)]


def debugfs(idx, name):
    if not os.path.ismount("/sys/kernel/debug"):
        subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"])
    try:
        with open(f"/sys/kernel/debug/bluetooth/hci{idx}/{name}") as f:
            return [ln.rstrip() for ln in f if ln.strip()]
    except OSError as e:
        return [f"cannot read: {exc(e)}"]


def show_keys(tag=""):
    for idx in IDX:
        ltks = debugfs(idx, "long_term_keys")
        irks = debugfs(idx, "identity_resolving_keys")
        log(f"  {tag}hci{idx} debugfs long_term_keys ({len(ltks)}): " + (" | ".join(ltks) or "-"))
        log(f"  {tag}hci{idx} debugfs identity_resolving_keys ({len(irks)}): " + (" | ".join(irks) or "-"))


# --------------------------------------------------------------------------
# L2CAP (ATT fixed channel and LE CoC) sockets


class SockaddrL2(ctypes.Structure):
    _fields_ = [("l2_family", ctypes.c_ushort), ("l2_psm", ctypes.c_ushort),
                ("l2_bdaddr", ctypes.c_ubyte * 6), ("l2_cid", ctypes.c_ushort),
                ("l2_bdaddr_type", ctypes.c_ubyte)]


def make_sa(addr, psm=0, atype=BDADDR_LE_PUBLIC, cid=0):
    sa = SockaddrL2()
    sa.l2_family = AF_BLUETOOTH
    sa.l2_psm = psm
    b = a2b(addr)
    for i in range(6):
        sa.l2_bdaddr[i] = b[i]
    sa.l2_cid = cid
    sa.l2_bdaddr_type = atype
    return sa


def l2call(fn, s, sa):
    if fn(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
        return ctypes.get_errno()
    return 0


def l2sock():
    return socket.socket(AF_BLUETOOTH, socket.SOCK_SEQPACKET, BTPROTO_L2CAP)


def peername(s):
    sa = SockaddrL2()
    ln = ctypes.c_uint(ctypes.sizeof(sa))
    if libc.getpeername(s.fileno(), ctypes.byref(sa), ctypes.byref(ln)) < 0:
        return ename(ctypes.get_errno())
    return f"{b2a(bytes(sa.l2_bdaddr))}/{sa.l2_bdaddr_type}"


def get_sec(s):
    try:
        lv, ks = struct.unpack("<BB", s.getsockopt(SOL_BLUETOOTH, BT_SECURITY, 2))
        return f"level={lv} ({SEC_NAMES.get(lv, '?')}) key_size={ks}"
    except OSError as e:
        return ename(e.errno)


def set_sec(s, level):
    try:
        s.setsockopt(SOL_BLUETOOTH, BT_SECURITY, struct.pack("<BB", level, 0))
        return "ok"
    except OSError as e:
        return exc(e)


def handle_of(s):
    try:
        return struct.unpack("<H", s.getsockopt(SOL_L2CAP, L2CAP_CONNINFO, 5)[:2])[0]
    except OSError as e:
        return ename(e.errno)


PFLAGS = [(select.POLLIN, "IN"), (select.POLLOUT, "OUT"), (select.POLLERR, "ERR"),
          (select.POLLHUP, "HUP"), (select.POLLRDHUP, "RDHUP")]


def pollflags(s):
    p = select.poll()
    p.register(s, select.POLLIN | select.POLLOUT | select.POLLRDHUP)
    r = p.poll(0)
    return "|".join(n for f, n in PFLAGS if r and r[0][1] & f) or "none"


def att_listener(idx, atype=BDADDR_LE_PUBLIC):
    s = l2sock()
    e = l2call(libc.bind, s, make_sa(A[idx], 0, atype, ATT_CID))
    if e:
        raise OSError(e, os.strerror(e))
    s.listen(4)
    s.setblocking(False)
    LISTENERS.append(s)
    return s


LISTENERS = []


def drain_listeners():
    """Accepts and closes ATT channels nobody took (links made by Pair Device)."""
    for s in LISTENERS:
        if s.fileno() < 0:
            continue
        try:
            while True:
                x, _ = s.accept()
                x.close()
        except OSError:
            pass


def att_connect(frm, to, listener=None, sec=None, timeout=25, to_addr=None, to_type=BDADDR_LE_PUBLIC):
    """ATT fixed-channel socket from controller frm to controller to (its
    identity address unless to_addr); returns (client, accepted or None)."""
    c = l2sock()
    e = l2call(libc.bind, c, make_sa(A[frm], 0, BDADDR_LE_PUBLIC, ATT_CID))
    if e:
        raise OSError(e, os.strerror(e))
    if sec is not None:
        vlog(f"  client BT_SECURITY={sec} before connect: {set_sec(c, sec)}")
    c.setblocking(False)
    t = time.monotonic()
    r = l2call(libc.connect, c, make_sa(to_addr or A[to], 0, to_type, ATT_CID))
    p = select.poll()
    p.register(c, select.POLLOUT)

    def done():
        return p.poll(0)
    BT.wait_for(done, timeout)
    err = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    vlog(f"  ATT connect hci{frm} -> {to_addr or A[to]}: {ename(r)}, writable after {time.monotonic() - t:.3f} s, "
         f"SO_ERROR={ename(err)}, handle={handle_of(c)}")
    if err or not done():
        c.close()
        raise OSError(err or errno.ETIMEDOUT, "ATT connect failed")
    a = None
    if listener is not None:
        def acc():
            try:
                return listener.accept()[0]
            except BlockingIOError:
                return None
        a = BT.wait_for(acc, 5)
        if a is not None:
            a.setblocking(False)
    return c, a


def wait_disconnected(timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(get_conns(i) for i in IDX):
            return True
        BT.pump(0.2)
    return False


def cleanup(*socks, unpair=True):
    """Closes sockets, drops every link and (by default) all keys for the peer."""
    for s in socks:
        if s is not None:
            s.close()
    for i in IDX:
        for addr, at in get_conns(i):
            BT.cmd(i, 0x0014, a2b(addr) + bytes([at]), quiet=True)
    if unpair:
        for i in IDX:
            for j in IDX:
                if i != j:
                    BT.cmd(i, 0x001B, mgmt_addr(j) + b"\x00", quiet=True)
    if not wait_disconnected():
        log("  (links still up after cleanup:", [get_conns(i) for i in IDX], ")")
    BT.pump(0.3)
    drain_listeners()


def other_cmd(idx, op, params, timeout=30):
    """A command sent on a second mgmt socket: its reply cannot be mistaken
    for the reply to the same command pending on the main socket."""
    s = mgmt_socket()
    t = time.monotonic()
    s.send(struct.pack("<HHH", op, idx, len(params)) + params)
    try:
        while time.monotonic() - t < timeout:
            r, _, _ = select.select([s], [], [], 0.05)
            BT.pump(0)
            if not r:
                continue
            d = s.recv(4096)
            code, i, ln = struct.unpack_from("<HHH", d)
            if code in (1, 2) and i == idx and struct.unpack_from("<H", d, 6)[0] == op:
                return d[8], time.monotonic() - t
        return None, time.monotonic() - t
    finally:
        s.close()


def ev_short(e):
    code, d = e[2], e[3]
    if code == 0x000F:
        return f"UserConfirm(hint={d['hint']},{d['value']:06d})"
    if code == 0x0010:
        return "PasskeyRequest"
    if code == 0x0017:
        return f"PasskeyNotify({d['passkey']:06d})"
    if code == 0x0011:
        return f"AuthFailed({d['status']:#x})"
    if code == 0x000A:
        return f"NewLTK(hint={d['hint']},type={d['ktype']},central={d['central']},size={d['esize']})"
    if code == 0x0009:
        return f"NewLinkKey(hint={d['hint']},type={d['ktype']})"
    if code == 0x0018:
        return f"NewIRK(hint={d['hint']})"
    if code == 0x0019:
        return f"NewCSRK(hint={d['hint']},type={d['ctype']})"
    if code == 0x000B:
        return "Connected"
    if code == 0x000C:
        return f"Disconnected({d['reason']})"
    return EVS.get(code, hex(code))


def summary(mark, tag):
    for i in IDX:
        evs = [ev_short(e) for e in BT.since(mark, i) if e[2] not in (0x0006, 0x001C)]
        log(f"  {tag} hci{i}: " + (" ".join(evs) or "-"))


def pair_device(frm, to, io, timeout=60, addr=None, atype=BDADDR_LE_PUBLIC):
    t = time.monotonic()
    st, rp = BT.cmd(frm, 0x0019, mgmt_addr(to, atype, addr) + bytes([io]), timeout=timeout)
    return st, rp, time.monotonic() - t


# --------------------------------------------------------------------------
# Sections


def section_info():
    log("== info: mgmt version, settings, the security-related setting commands")
    log("uname -r:", os.uname().release)
    st, rp = BT.cmd(HCI_DEV_NONE, 0x0001, quiet=True)
    log(f"mgmt version {rp[0]}.{struct.unpack_from('<H', rp, 1)[0]}" if st == 0 else f"Read Version: {sname(st)}")
    for idx in IDX:
        st, rp = BT.cmd(idx, 0x0004, quiet=True)
        sup, cur = struct.unpack_from("<II", rp, 9)
        log(f"hci{idx} {b2a(rp)} hci version {rp[6]}: supported: {settings_str(sup)}")
        log(f"hci{idx} current: {settings_str(cur)}")
    st, rp = BT.cmd(0, 0x0048, quiet=True)
    log(f"Read Controller Capabilities: {sname(st)} {rp.hex()}")
    if st == 0 and len(rp) >= 2:
        n, = struct.unpack_from("<H", rp)
        data, i = rp[2:2 + n], 0
        while i < len(data) and data[i]:
            ln = data[i]
            log(f"   capability type 0x{data[i + 1]:02x} value {data[i + 2:i + 1 + ln].hex()}")
            i += ln + 1
    idx = 2
    log("-- on hci2 (a spare controller): Set IO Capability 0..5, Set Bondable 0/1/2, Set Secure Connections 0/1/2/3")
    for io in range(6):
        st, rp = BT.cmd(idx, 0x0018, bytes([io]), quiet=True)
        log(f"  Set IO Capability {io} ({IO_NAMES[io] if io < 5 else 'invalid'}): {sname(st)} reply={rp.hex() or '-'}")
    for v in (0, 1, 2):
        st, rp = BT.cmd(idx, 0x0009, bytes([v]), quiet=True)
        log(f"  Set Bondable {v}: {sname(st)} {describe_reply(0x0009, rp)}")
    BT.cmd(idx, 0x000B, b"\x00", quiet=True)
    for v in (0, 1, 2, 3):
        st, rp = BT.cmd(idx, 0x002D, bytes([v]), quiet=True)
        log(f"  SSP off, powered: Set Secure Connections {v}: {sname(st)} {describe_reply(0x002D, rp)}")
    st, rp = BT.cmd(idx, 0x000B, b"\x01", quiet=True)
    log(f"  Set SSP 1: {sname(st)} {describe_reply(0x000B, rp)}")
    for v in (0, 2, 3, 1):
        st, rp = BT.cmd(idx, 0x002D, bytes([v]), quiet=True)
        log(f"  SSP on, powered: Set Secure Connections {v}: {sname(st)} {describe_reply(0x002D, rp)}")
    BT.cmd(idx, 0x002D, b"\x00", quiet=True)
    BT.cmd(idx, 0x000B, b"\x00", quiet=True)
    BT.cmd(idx, 0x0005, b"\x00", quiet=True)
    st, rp = BT.cmd(idx, 0x002A, b"\x00", quiet=True)
    log(f"  powered off, Set BR/EDR 0: {sname(st)} {describe_reply(0x002A, rp)}")
    for v in (1, 0, 1):
        st, rp = BT.cmd(idx, 0x002D, bytes([v]), quiet=True)
        log(f"  BR/EDR off, SSP off, powered off: Set Secure Connections {v}: {sname(st)} {describe_reply(0x002D, rp)}")
    BT.cmd(idx, 0x0005, b"\x01", quiet=True)
    st, rp = BT.cmd(idx, 0x002D, b"\x00", quiet=True)
    log(f"  ... then powered on: Set Secure Connections 0: {sname(st)} {describe_reply(0x002D, rp)}")
    BT.cmd(idx, 0x0005, b"\x00", quiet=True)
    BT.cmd(idx, 0x002A, b"\x01", quiet=True)
    BT.cmd(idx, 0x000B, b"\x01", quiet=True)
    BT.cmd(idx, 0x002D, b"\x01", quiet=True)
    BT.cmd(idx, 0x0005, b"\x01", quiet=True)
    log(f"  restored: {settings_str(settings_of(idx))}")
    log(f"  powered: Set Privacy 1: {sname(BT.cmd(idx, 0x002F, bytes([1]) + os.urandom(16), quiet=True)[0])}")
    BT.cmd(idx, 0x0005, b"\x00", quiet=True)
    st, rp = BT.cmd(idx, 0x002F, bytes([1]) + os.urandom(16), quiet=True)
    log(f"  powered off: Set Privacy 1: {sname(st)} {describe_reply(0x002F, rp)}")
    st, rp = BT.cmd(idx, 0x002F, bytes([0]) + bytes(16), quiet=True)
    log(f"  powered off: Set Privacy 0: {sname(st)} {describe_reply(0x002F, rp)}")
    BT.cmd(idx, 0x0005, b"\x01", quiet=True)
    for name, params in (("Load LTKs, 0 keys", struct.pack("<H", 0)),
                         ("Load LTKs, count 1 but no key", struct.pack("<H", 1)),
                         ("Load LTKs, key with an RPA (4x:..)", struct.pack("<H", 1) + a2b("4A:11:22:33:44:55") + bytes([2, 0, 1, 16]) + bytes(26)),
                         ("Load LTKs, key type 4 (debug)", struct.pack("<H", 1) + a2b("00:AA:01:09:00:01") + bytes([1, 4, 0, 16]) + bytes(26)),
                         ("Load LTKs, key type 5", struct.pack("<H", 1) + a2b("00:AA:01:09:00:01") + bytes([1, 5, 0, 16]) + bytes(26)),
                         ("Load LTKs, central=2", struct.pack("<H", 1) + a2b("00:AA:01:09:00:01") + bytes([1, 0, 2, 16]) + bytes(26)),
                         ("Load LTKs, enc_size 0", struct.pack("<H", 1) + a2b("00:AA:01:09:00:01") + bytes([1, 0, 0, 0]) + bytes(26)),
                         ("Load LTKs, BR/EDR address type", struct.pack("<H", 1) + a2b("00:AA:01:09:00:01") + bytes([0, 0, 0, 16]) + bytes(26)),
                         ("Load IRKs, 0 keys", struct.pack("<H", 0)),
                         ("Load IRKs, an RPA as identity", struct.pack("<H", 1) + a2b("4A:11:22:33:44:55") + bytes([2]) + bytes(16))):
        op = 0x0013 if "LTK" in name else 0x0030
        st, rp = BT.cmd(idx, op, params, quiet=True)
        log(f"  {name}: {sname(st)}")
    ltks = debugfs(idx, "long_term_keys")
    log(f"  hci2 long_term_keys after those loads: {ltks}")
    BT.cmd(idx, 0x0013, struct.pack("<H", 0), quiet=True)


def methods(sc):
    global QUIET
    tag = "SC" if sc else "legacy"
    log(f"== methods-{tag}: Pair Device from hci0 (central) over an ATT link, every IO capability pair, "
        f"Secure Connections {'on' if sc else 'off'} on both, bondable, agents accept / enter the displayed passkey")
    for i in IDX:
        setting(i, 0x002D, 1 if sc else 0)
    lst = att_listener(1)
    QUIET = True
    try:
        for io0 in range(5):
            for io1 in range(5):
                BT.cmd(0, 0x0018, bytes([io0]), quiet=True)
                BT.cmd(1, 0x0018, bytes([io1]), quiet=True)
                set_agents()
                c = a = None
                try:
                    c, a = att_connect(0, 1, lst)
                    m = BT.mark()
                    st, rp, el = pair_device(0, 1, io0)
                    BT.pump(0.5)
                    keys = "; ".join(f"hci{e[1]} {ev_short(e)}" for e in BT.since(m, code=0x000A))
                    seq0 = " ".join(ev_short(e) for e in BT.since(m, 0) if e[2] in (0x000F, 0x0010, 0x0017, 0x0011))
                    seq1 = " ".join(ev_short(e) for e in BT.since(m, 1) if e[2] in (0x000F, 0x0010, 0x0017, 0x0011))
                    irk = " ".join(f"hci{e[1]}:{ev_short(e)}" for e in BT.since(m) if e[2] in (0x0009, 0x0018, 0x0019))
                    log(f"  init {io0} {IO_NAMES[io0]:15s} resp {io1} {IO_NAMES[io1]:15s} -> {sname(st)} {el:5.2f} s | "
                        f"init: {seq0 or '-'} | resp: {seq1 or '-'} | sec c[{get_sec(c)}] p[{get_sec(a) if a else '?'}]")
                    log(f"      keys: {keys or '-'} {irk}")
                except OSError as e:
                    log(f"  init {io0} resp {io1}: {exc(e)}")
                cleanup(c, a)
    finally:
        QUIET = False
        lst.close()
    for i in IDX:
        BT.cmd(i, 0x0018, b"\x03", quiet=True)
        setting(i, 0x002D, 1)


def section_methods_sc():
    methods(True)


def section_methods_legacy():
    methods(False)


def one_initiation(label, how, io0, io1, lst, sc=True):
    log(f"-- {label}: hci0 io {io0} ({IO_NAMES[io0]}), hci1 io {io1} ({IO_NAMES[io1]}), SC {'on' if sc else 'off'}")
    BT.cmd(0, 0x0018, bytes([io0]), quiet=True)
    BT.cmd(1, 0x0018, bytes([io1]), quiet=True)
    set_agents()
    c = a = None
    m = BT.mark()
    try:
        if how == "pair-nolink":
            st, rp, el = pair_device(0, 1, io0)
            log(f"  Pair Device (no link before) -> {sname(st)} after {el:.3f} s; links {get_conns(0)}")
            t = time.monotonic()
            BT.wait_for(lambda: not get_conns(0), 15)
            log(f"  link after pairing: gone {time.monotonic() - t:.3f} s after the reply" if not get_conns(0)
                else "  link still up 15 s after the reply")
        elif how == "sec-before":
            c, a = att_connect(0, 1, lst, sec=2)
            log(f"  client {get_sec(c)} right after connect; accepted {get_sec(a) if a else '?'}")
            BT.pump(8)
            log(f"  8 s later: client {get_sec(c)}; accepted {get_sec(a) if a else '?'}")
        else:
            c, a = att_connect(0, 1, lst)
            log(f"  before: client {get_sec(c)} poll {pollflags(c)}; accepted {get_sec(a) if a else '?'}")
            if how == "pair-central":
                st, rp, el = pair_device(0, 1, io0)
                log(f"  Pair Device from hci0 -> {sname(st)} after {el:.3f} s")
            elif how == "pair-peripheral":
                st, rp, el = pair_device(1, 0, io1)
                log(f"  Pair Device from hci1 (peripheral) -> {sname(st)} after {el:.3f} s")
            elif how in ("sec-central-2", "sec-central-3", "sec-central-4"):
                lvl = int(how[-1])
                t = time.monotonic()
                log(f"  setsockopt BT_SECURITY={lvl} on the central's ATT socket: {set_sec(c, lvl)} "
                    f"({time.monotonic() - t:.3f} s); now {get_sec(c)} poll {pollflags(c)}")
                try:
                    log(f"  send ATT Exchange MTU Request while pairing: {c.send(bytes([2, 23, 0]))}")
                except OSError as e:
                    log(f"  send while pairing: {exc(e)}")
                BT.wait_for(lambda: BT.since(m, code=0x000A) or BT.since(m, code=0x0011), 40)
                BT.pump(1)
                log(f"  after: client poll {pollflags(c)}")
                try:
                    d = a.recv(100) if a else None
                    log(f"  peripheral received: {d!r}")
                except OSError as e:
                    log(f"  peripheral recv: {exc(e)}")
            elif how == "sec-peripheral-2":
                log(f"  setsockopt BT_SECURITY=2 on the peripheral's ATT socket: {set_sec(a, 2)}; now {get_sec(a)}")
                BT.wait_for(lambda: BT.since(m, code=0x000A) or BT.since(m, code=0x0011), 40)
                BT.pump(1)
            log(f"  after: client {get_sec(c)} accepted {get_sec(a) if a else '?'}")
        BT.pump(0.5)
        summary(m, "  events")
    except OSError as e:
        log(f"  {label}: {exc(e)}")
    cleanup(c, a)


def section_initiators():
    log("== initiators: what starts pairing, and which events each side gets (SC on, bondable)")
    lst = att_listener(1)
    try:
        one_initiation("(a) Pair Device from the central, no link before", "pair-nolink", 1, 1, None)
        one_initiation("(a') Pair Device from the central over an ATT link", "pair-central", 1, 1, lst)
        one_initiation("(a'') same, Just Works (both NoInputNoOutput)", "pair-central", 3, 3, lst)
        one_initiation("(a''') same, Just Works, both DisplayOnly", "pair-central", 0, 0, lst)
        one_initiation("(b) Pair Device from the peripheral (Security Request)", "pair-peripheral", 1, 1, lst)
        one_initiation("(b') same, Just Works", "pair-peripheral", 3, 3, lst)
        one_initiation("(c) BT_SECURITY=MEDIUM on the central's ATT socket", "sec-central-2", 1, 1, lst)
        one_initiation("(c') same, Just Works", "sec-central-2", 3, 3, lst)
        one_initiation("(c'') BT_SECURITY=HIGH on the central's ATT socket", "sec-central-3", 1, 1, lst)
        one_initiation("(c''') BT_SECURITY=HIGH, both NoInputNoOutput (MITM impossible)", "sec-central-3", 3, 3, lst)
        one_initiation("(c4) BT_SECURITY=FIPS, numeric comparison", "sec-central-4", 1, 1, lst)
        one_initiation("(d) BT_SECURITY=MEDIUM on the peripheral's ATT socket", "sec-peripheral-2", 1, 1, lst)
        one_initiation("(d') same, Just Works", "sec-peripheral-2", 3, 3, lst)
        one_initiation("(e) BT_SECURITY=MEDIUM set on the central's socket before connect()", "sec-before", 1, 1, lst)

        log("-- (f) IO capability changed after the link exists: hci1 io 3 at connect, set to 1 (DisplayYesNo) "
            "before hci0's Pair Device(io 1)")
        BT.cmd(0, 0x0018, b"\x01", quiet=True)
        BT.cmd(1, 0x0018, b"\x03", quiet=True)
        set_agents()
        c, a = att_connect(0, 1, lst)
        BT.cmd(1, 0x0018, b"\x01", quiet=True)
        m = BT.mark()
        st, rp, el = pair_device(0, 1, 1)
        summary(m, "  events")
        cleanup(c, a)
        log("-- (g) Pair Device's IO_Capability parameter vs Set IO Capability on the initiator: global 3, "
            "Pair Device io 1, responder 1")
        BT.cmd(0, 0x0018, b"\x03", quiet=True)
        BT.cmd(1, 0x0018, b"\x01", quiet=True)
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        st, rp, el = pair_device(0, 1, 1)
        summary(m, "  events")
        cleanup(c, a)
    finally:
        lst.close()
        for i in IDX:
            BT.cmd(i, 0x0018, b"\x03", quiet=True)


def section_encryption():
    log("== encryption: raw HCI events, Read Encryption Key Size, BT_SECURITY on sockets")
    lst = att_listener(1)
    BT.cmd(0, 0x0018, b"\x01", quiet=True)
    BT.cmd(1, 0x0018, b"\x01", quiet=True)
    set_agents()
    coc_l = l2sock()
    l2call(libc.bind, coc_l, make_sa(A[1], 0x81))
    coc_l.listen(2)
    try:
        c, a = att_connect(0, 1, lst)
        h0, h1 = handle_of(c), handle_of(a)
        log(f"  handles: hci0 {h0}, hci1 {h1}")
        log(f"  before: client {get_sec(c)}, accepted {get_sec(a)}")
        for i, h in ((0, h0), (1, h1)):
            st, rp = BT.raw_cmd(i, 0x1408, struct.pack("<H", h))
            log(f"  hci{i} raw Read Encryption Key Size (unencrypted link): status={st} {rp.hex()}")
        log(f"  after those raw commands: client {get_sec(c)}, accepted {get_sec(a)}")
        m = BT.mark()
        ne = len(BT.enc_events)
        st, rp, el = pair_device(0, 1, 1)
        BT.pump(0.5)
        log(f"  Pair Device -> {sname(st)}; encryption events: "
            + "; ".join(f"hci{e[1]} {e[2]} status={e[3]} handle={e[4]} enabled={e[5]} at +{e[0] - T0:.3f}"
                        for e in BT.enc_events[ne:]))
        log(f"  after: client {get_sec(c)}, accepted {get_sec(a)}")
        for i, h in ((0, h0), (1, h1)):
            st, rp = BT.raw_cmd(i, 0x1408, struct.pack("<H", h))
            log(f"  hci{i} raw Read Encryption Key Size: status={st} {rp.hex()}")
        cc = l2sock()
        l2call(libc.bind, cc, make_sa(A[0], 0))
        log(f"  new CoC socket (psm 0x81) before connect: {get_sec(cc)}")
        coc_l.settimeout(10)
        r = l2call(libc.connect, cc, make_sa(A[1], 0x81))
        ca, _ = coc_l.accept()
        log(f"  new CoC channel on the encrypted link: connect {ename(r)}; client {get_sec(cc)}, accepted {get_sec(ca)}")
        log("-- BT_SECURITY=MEDIUM again on the central's socket (already encrypted)")
        ne = len(BT.enc_events)
        log(f"  setsockopt: {set_sec(c, 2)}")
        BT.pump(2)
        log(f"  encryption events: {BT.enc_events[ne:]}")
        log("-- BT_SECURITY=MEDIUM on the peripheral's socket (already encrypted): Security Request -> re-encryption?")
        ne = len(BT.enc_events)
        log(f"  setsockopt: {set_sec(a, 2)}")
        BT.pump(3)
        log(f"  encryption events: {BT.enc_events[ne:]}")
        log("-- BT_SECURITY=FIPS on the central with an authenticated SC key (numeric comparison done)")
        ne = len(BT.enc_events)
        log(f"  setsockopt: {set_sec(c, 4)}; {get_sec(c)}")
        BT.pump(2)
        log(f"  encryption events: {BT.enc_events[ne:]}")
        cc.close()
        ca.close()
        cleanup(c, a, unpair=False)
        log("-- reconnect with the bond: levels before and after BT_SECURITY=MEDIUM on the central")
        c, a = att_connect(0, 1, lst)
        log(f"  before: client {get_sec(c)}, accepted {get_sec(a)}")
        m = BT.mark()
        ne = len(BT.enc_events)
        log(f"  setsockopt: {set_sec(c, 2)}")
        BT.pump(3)
        log(f"  after: client {get_sec(c)}, accepted {get_sec(a)}; encryption events: {BT.enc_events[ne:]}")
        summary(m, "  events")
        cleanup(c, a, unpair=False)
        for lvl in (4, 3):
            log(f"-- reconnect with the bond (authenticated SC key): BT_SECURITY={lvl} on the central")
            c, a = att_connect(0, 1, lst)
            m = BT.mark()
            ne = len(BT.enc_events)
            log(f"  setsockopt: {set_sec(c, lvl)}")
            BT.pump(3)
            log(f"  after: client {get_sec(c)}, accepted {get_sec(a)}; encryption events: {BT.enc_events[ne:]}")
            summary(m, "  events")
            cleanup(c, a, unpair=False)
        log("-- reconnect with the bond: BT_SECURITY=2 on the peripheral (Security Request)")
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        ne = len(BT.enc_events)
        log(f"  setsockopt: {set_sec(a, 2)}")
        BT.pump(3)
        log(f"  after: client {get_sec(c)}, accepted {get_sec(a)}; encryption events: {BT.enc_events[ne:]}")
        summary(m, "  events")
        cleanup(c, a)
        log("-- Just Works pairing: levels")
        BT.cmd(0, 0x0018, b"\x03", quiet=True)
        BT.cmd(1, 0x0018, b"\x03", quiet=True)
        c, a = att_connect(0, 1, lst)
        st, rp, el = pair_device(0, 1, 3)
        BT.pump(0.5)
        log(f"  after Just Works: client {get_sec(c)}, accepted {get_sec(a)}")
        log("-- then BT_SECURITY=HIGH on the central (unauthenticated key; both NoInputNoOutput)")
        m = BT.mark()
        log(f"  setsockopt: {set_sec(c, 3)}; {get_sec(c)} poll {pollflags(c)}")
        BT.pump(4)
        summary(m, "  events")
        log(f"  after: client {get_sec(c)} poll {pollflags(c)}, accepted {get_sec(a)}")
        cleanup(c, a)
        log("-- Encryption Key Refresh: Just Works bond (hci0 Pair Device io 3, hci1 io 1), then the peripheral "
            "asks for FIPS (Security Request with MITM)")
        BT.cmd(1, 0x0018, b"\x01", quiet=True)
        c, a = att_connect(0, 1, lst)
        st, rp, el = pair_device(0, 1, 3)
        BT.pump(0.5)
        log(f"  Pair Device -> {sname(st)}; client {get_sec(c)}, accepted {get_sec(a)}")
        m = BT.mark()
        ne = len(BT.enc_events)
        log(f"  BT_SECURITY=4 on the peripheral's socket: {set_sec(a, 4)}; poll {pollflags(a)}")
        BT.pump(4)
        log(f"  encryption events: {BT.enc_events[ne:]}")
        summary(m, "  events")
        log(f"  after: client {get_sec(c)} poll {pollflags(c)}, accepted {get_sec(a)} poll {pollflags(a)}; "
            f"links {get_conns(0)}")
        cleanup(c, a)
        BT.cmd(1, 0x0018, b"\x03", quiet=True)
        log("-- legacy (SC off) Just Works: levels and key size")
        for i in IDX:
            setting(i, 0x002D, 0)
        c, a = att_connect(0, 1, lst)
        st, rp, el = pair_device(0, 1, 3)
        BT.pump(0.5)
        log(f"  after legacy Just Works: client {get_sec(c)}, accepted {get_sec(a)}")
        cleanup(c, a)
    finally:
        for i in IDX:
            setting(i, 0x002D, 1)
            BT.cmd(i, 0x0018, b"\x03", quiet=True)
        lst.close()
        coc_l.close()


def section_timeout():
    log("== timeout: nobody answers")
    lst = att_listener(1)
    try:
        for label, io0, io1, ag in (
                ("responder (hci1) ignores User Confirmation Request, numeric comparison", 1, 1,
                 dict(c1="ignore")),
                ("initiator (hci0) ignores User Confirmation Request, numeric comparison", 1, 1,
                 dict(c0="ignore")),
                ("initiator (hci0, KeyboardOnly) ignores User Passkey Request", 2, 0, dict(p0="ignore")),
                ("responder (hci1, NoInputNoOutput) ignores the Just Works confirmation", 3, 3,
                 dict(c1="ignore"))):
            log(f"-- {label}")
            BT.cmd(0, 0x0018, bytes([io0]), quiet=True)
            BT.cmd(1, 0x0018, bytes([io1]), quiet=True)
            set_agents(**ag)
            c, a = att_connect(0, 1, lst)
            m = BT.mark()
            t = time.monotonic()
            st, rp, el = pair_device(0, 1, io0, timeout=90)
            log(f"  Pair Device -> {sname(st)} after {el:.3f} s")
            BT.pump(1)
            for e in BT.since(m):
                if e[2] in (0x0011, 0x000C, 0x000F, 0x0010):
                    log(f"    hci{e[1]} {EVS[e[2]]} at +{e[0] - t:.3f} s: {e[3]['text']}")
            log(f"  sockets: client poll {pollflags(c)} SO_ERROR="
                f"{ename(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))}; links {get_conns(0)}")
            req = [e for e in BT.since(m) if e[2] in (0x000F, 0x0010)]
            if req:
                e = req[0]
                op = 0x001C if e[2] == 0x000F else 0x001E
                prm = a2b(e[3]["addr"]) + bytes([e[3]["atype"]]) + (b"" if op == 0x001C else struct.pack("<I", 0))
                st2, _ = BT.cmd(e[1], op, prm)
                log(f"  late answer on hci{e[1]} ({OPS[op]}): {sname(st2)}")
            cleanup(c, a)
    finally:
        lst.close()
        for i in IDX:
            BT.cmd(i, 0x0018, b"\x03", quiet=True)


def section_reject():
    log("== reject: negative replies, wrong passkeys, misuse, statuses")
    lst = att_listener(1)

    def case(label, io0, io1, ag, pre=None, post=None, pair_from=0):
        log(f"-- {label}")
        BT.cmd(0, 0x0018, bytes([io0]), quiet=True)
        BT.cmd(1, 0x0018, bytes([io1]), quiet=True)
        set_agents(**ag)
        c = a = None
        try:
            c, a = att_connect(0, 1, lst)
            if pre:
                pre()
            m = BT.mark()
            st, rp, el = pair_device(pair_from, 1 - pair_from, io0 if pair_from == 0 else io1, timeout=60)
            log(f"  Pair Device -> {sname(st)} after {el:.3f} s")
            BT.pump(1)
            summary(m, "  events")
            log(f"  links now: {get_conns(0)}; client {get_sec(c)} poll {pollflags(c)}")
            if post:
                post(c, a)
        except OSError as e:
            log(f"  {exc(e)}")
        cleanup(c, a)

    try:
        case("responder rejects numeric comparison (User Confirmation Negative Reply)", 1, 1, dict(c1="reject"))
        case("initiator rejects numeric comparison", 1, 1, dict(c0="reject"))
        case("responder rejects Just Works", 3, 3, dict(c1="reject"))
        case("initiator (KeyboardOnly) sends User Passkey Negative Reply", 2, 0, dict(p0="reject"))
        case("initiator enters a wrong passkey (displayed + 1)", 2, 0, dict(p0=("peer+", 1)))
        case("initiator enters passkey 1000000 (out of range)", 2, 0, dict(p0=1000000))
        for i in IDX:
            setting(i, 0x002D, 0)
        case("legacy: initiator enters a wrong passkey", 2, 0, dict(p0=("peer+", 1)))
        for i in IDX:
            setting(i, 0x002D, 1)

        log("-- replies nobody asked for")
        c, a = att_connect(0, 1, lst)
        for op, extra in ((0x001C, b""), (0x001D, b""), (0x001E, struct.pack("<I", 1)), (0x001F, b"")):
            st, rp = BT.cmd(0, op, mgmt_addr(1) + extra)
            log(f"  {OPS[op]} on a link without pairing: {sname(st)}")
        st, rp = BT.cmd(0, 0x001C, mgmt_addr(1, addr="00:AA:01:09:09:09"))
        log(f"  User Confirm Reply for an unknown address: {sname(st)}")
        st, rp = BT.cmd(0, 0x0019, mgmt_addr(1) + b"\x05")
        log(f"  Pair Device with IO_Capability 5: {sname(st)}")
        st, rp = BT.cmd(0, 0x0019, mgmt_addr(1, atype=3) + b"\x03")
        log(f"  Pair Device with Address_Type 3: {sname(st)}")
        st, rp = BT.cmd(0, 0x001A, mgmt_addr(1))
        log(f"  Cancel Pair Device with nothing pending: {sname(st)}")
        st, rp = BT.cmd(0, 0x001B, mgmt_addr(1) + b"\x01")
        log(f"  Unpair Device, not paired: {sname(st)}")
        cleanup(c, a)

        log("-- a second Pair Device while the first waits for the responder's confirmation (3 s)")
        BT.cmd(0, 0x0018, b"\x01", quiet=True)
        BT.cmd(1, 0x0018, b"\x01", quiet=True)
        set_agents(c1=("delay", 3))
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        e1 = BT.send(0, 0x0019, mgmt_addr(1) + b"\x01")
        BT.pump(0.5)
        st, el = other_cmd(0, 0x0019, mgmt_addr(1) + b"\x01")
        log(f"  second Pair Device (second mgmt socket) -> {sname(st) if st is not None else 'no reply'} after {el:.3f} s")
        st, el = other_cmd(1, 0x0019, mgmt_addr(0) + b"\x01")
        log(f"  Pair Device from the peripheral meanwhile -> {sname(st) if st is not None else 'no reply'} after {el:.3f} s")
        BT.wait_for(lambda: e1["result"], 30)
        log(f"  first Pair Device -> {sname(e1['result'][0]) if e1['result'] else 'no reply'}")
        summary(m, "  events")
        log("-- Pair Device again when already paired")
        st, rp = BT.cmd(0, 0x0019, mgmt_addr(1) + b"\x01", timeout=30)
        log(f"  -> {sname(st)}")
        log("-- BT_SECURITY=MEDIUM on the central now (already encrypted): no new pairing")
        m = BT.mark()
        log(f"  {set_sec(c, 2)}")
        BT.pump(2)
        summary(m, "  events")
        cleanup(c, a)

        log("-- Cancel Pair Device while the responder's confirmation is pending")
        set_agents(c1="ignore")
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        e1 = BT.send(0, 0x0019, mgmt_addr(1) + b"\x01")
        BT.wait_for(lambda: BT.since(m, 1, 0x000F), 10)
        st, rp = BT.cmd(0, 0x001A, mgmt_addr(1))
        log(f"  Cancel Pair Device -> {sname(st)}")
        BT.wait_for(lambda: e1["result"], 10)
        log(f"  the Pair Device -> {sname(e1['result'][0]) if e1['result'] else 'no reply'}")
        BT.pump(1)
        summary(m, "  events")
        log(f"  links now: {get_conns(0)}")
        cleanup(c, a)

        log("-- Unpair Device on the initiator while the responder's confirmation is pending")
        set_agents(c1="ignore")
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        e1 = BT.send(0, 0x0019, mgmt_addr(1) + b"\x01")
        BT.wait_for(lambda: BT.since(m, 1, 0x000F), 10)
        st, rp = BT.cmd(0, 0x001B, mgmt_addr(1) + b"\x00")
        log(f"  Unpair Device (disconnect 0) -> {sname(st)}")
        BT.wait_for(lambda: e1["result"], 10)
        log(f"  the Pair Device -> {sname(e1['result'][0]) if e1['result'] else 'no reply'}")
        BT.pump(1)
        summary(m, "  events")
        cleanup(c, a)

    finally:
        lst.close()
        for i in IDX:
            BT.cmd(i, 0x0018, b"\x03", quiet=True)


def section_modes():
    log("== modes: absent peer, bondable off, Secure Connections Only")
    lst = att_listener(1)

    def case(label, io0, io1, ag, post=None):
        log(f"-- {label}")
        BT.cmd(0, 0x0018, bytes([io0]), quiet=True)
        BT.cmd(1, 0x0018, bytes([io1]), quiet=True)
        set_agents(**ag)
        c = a = None
        try:
            c, a = att_connect(0, 1, lst)
            m = BT.mark()
            st, rp, el = pair_device(0, 1, io0, timeout=60)
            log(f"  Pair Device -> {sname(st) if st is not None else 'no reply'} after {el:.3f} s")
            BT.pump(1)
            summary(m, "  events")
            log(f"  links now: {get_conns(0)}; client {get_sec(c)} poll {pollflags(c)}")
            if post:
                post(c, a)
        except OSError as e:
            log(f"  {exc(e)}")
        cleanup(c, a)

    try:
        log("-- Pair Device to an absent address")
        set_agents()
        t = time.monotonic()
        e1 = BT.send(0, 0x0019, mgmt_addr(1, addr="00:AA:01:09:09:09") + b"\x03")
        BT.wait_for(lambda: e1["result"], 45)
        log(f"  after {time.monotonic() - t:.3f} s: {sname(e1['result'][0]) if e1['result'] else 'no reply yet'}")
        st, rp = BT.cmd(0, 0x001A, mgmt_addr(1, addr="00:AA:01:09:09:09"))
        log(f"  Cancel Pair Device -> {sname(st) if st is not None else 'no reply'}")
        BT.wait_for(lambda: e1["result"], 5)
        log(f"  the Pair Device -> {sname(e1['result'][0]) if e1['result'] else 'no reply'} "
            f"after {time.monotonic() - t:.3f} s")

        log("-- bondable off on the responder, initiator bondable")
        setting(1, 0x0009, 0)
        case("responder not bondable", 3, 3, {})
        log("-- responder not bondable, BT_SECURITY=MEDIUM from the central instead of Pair Device")
        set_agents()
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        log(f"  {set_sec(c, 2)}")
        BT.wait_for(lambda: BT.since(m, code=0x000A) or BT.since(m, code=0x0011), 20)
        BT.pump(1)
        summary(m, "  events")
        log(f"  client {get_sec(c)}")
        cleanup(c, a)
        setting(0, 0x0009, 0)
        log("-- both not bondable")

        def both_post(c, a):
            show_keys("(still connected) ")
            for s in (c, a):
                s.close()
            cleanup()
            show_keys("(after disconnect) ")
        case("neither bondable (Pair Device)", 3, 3, {}, post=both_post)
        log("-- neither bondable, BT_SECURITY=MEDIUM from the central")
        set_agents()
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        log(f"  {set_sec(c, 2)}")
        BT.wait_for(lambda: BT.since(m, code=0x000A) or BT.since(m, code=0x0011), 20)
        BT.pump(1)
        summary(m, "  events")
        log(f"  client {get_sec(c)}")
        cleanup(c, a)
        setting(1, 0x0009, 1)
        log("-- initiator not bondable, responder bondable")
        case("initiator not bondable", 3, 3, {})
        setting(0, 0x0009, 1)
        log("-- Secure Connections Only on the responder, legacy initiator")
        setting(1, 0x002D, 2)
        setting(0, 0x002D, 0)
        case("SC-only responder, SC-off initiator", 1, 1, {})
        setting(1, 0x002D, 0)
        setting(0, 0x002D, 2)
        case("SC-only initiator, SC-off responder", 1, 1, {})
        case("SC-only initiator, SC-off responder, Just Works", 3, 3, {})
        for i in IDX:
            setting(i, 0x002D, 1)
    finally:
        lst.close()
        for i in IDX:
            BT.cmd(i, 0x0018, b"\x03", quiet=True)
            setting(i, 0x0009, 1)
            setting(i, 0x002D, 1)


def load_ltks(idx, keys):
    return BT.cmd(idx, 0x0013, struct.pack("<H", len(keys)) + b"".join(keys))[0]


def load_irks(idx, keys):
    return BT.cmd(idx, 0x0030, struct.pack("<H", len(keys)) + b"".join(keys))[0]


def reconnect_and_secure(lst, who="central", level=2, wait=4):
    c, a = att_connect(0, 1, lst)
    m = BT.mark()
    ne = len(BT.enc_events)
    BT.pump(1.5)
    log(f"  reconnected; 1.5 s without asking: encryption events {BT.enc_events[ne:]}, client {get_sec(c)}")
    s = c if who == "central" else a
    log(f"  BT_SECURITY={level} on the {who}'s socket: {set_sec(s, level)}")
    BT.wait_for(lambda: [e for e in BT.enc_events[ne:] if e[2] == "change"] or BT.since(m, code=0x0011), wait)
    BT.pump(1)
    log(f"  encryption events: {BT.enc_events[ne:]}; client {get_sec(c)}, accepted {get_sec(a)}")
    summary(m, "  events")
    return c, a


def section_bonds():
    log("== bonds: keys, power cycles, Load LTKs / Load IRKs, Unpair Device")
    lst = att_listener(1)
    set_agents()
    BT.cmd(0, 0x0018, b"\x03", quiet=True)
    BT.cmd(1, 0x0018, b"\x03", quiet=True)
    try:
        log("-- Load IRKs (empty) on both first, so the kernel asks for the peer's IRK; hci1 privacy stays off")
        for i in IDX:
            log(f"  hci{i} Load IRKs (0 keys): {sname(load_irks(i, []))}")
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        st, rp, el = pair_device(0, 1, 3)
        BT.pump(0.5)
        log(f"  Just Works pairing, bonded: {sname(st)}")
        summary(m, "  events")
        saved = {i: {"ltk": [e[3]["key"] for e in BT.since(m, i, 0x000A)],
                     "irk": [e[3]["key"] for e in BT.since(m, i, 0x0018)]} for i in IDX}
        log("  saved: " + ", ".join(f"hci{i}: {len(saved[i]['ltk'])} LTK {len(saved[i]['irk'])} IRK" for i in IDX))
        show_keys()
        cleanup(c, a, unpair=False)
        log("-- reconnect, nothing asked: does the kernel encrypt by itself? then BT_SECURITY=2 on the central")
        c, a = reconnect_and_secure(lst)
        cleanup(c, a, unpair=False)
        log("-- reconnect, BT_SECURITY=2 on the peripheral (Security Request)")
        c, a = reconnect_and_secure(lst, who="peripheral")
        cleanup(c, a, unpair=False)
        log("-- Pair Device over a fresh link while bonded")
        c, a = att_connect(0, 1, lst)
        st, rp, el = pair_device(0, 1, 3)
        log(f"  -> {sname(st)} after {el:.3f} s; client {get_sec(c)}")
        cleanup(c, a, unpair=False)

        log("-- power both off and on (Set Powered)")
        for i in IDX:
            BT.cmd(i, 0x0005, b"\x00", quiet=True)
        show_keys("(powered off) ")
        for i in IDX:
            BT.cmd(i, 0x0005, b"\x01", quiet=True)
        setting(1, 0x0029, 1)
        show_keys("(powered on) ")
        c, a = reconnect_and_secure(lst)
        cleanup(c, a, unpair=False)

        log("-- Load LTKs with 0 keys and Load IRKs with 0 keys on both (as a fresh daemon with an empty store)")
        for i in IDX:
            log(f"  hci{i}: Load LTKs {sname(load_ltks(i, []))}, Load IRKs {sname(load_irks(i, []))}")
        show_keys()
        set_agents(c0="reject", c1="reject")
        c, a = reconnect_and_secure(lst)
        cleanup(c, a, unpair=False)
        set_agents()

        log("-- Load the saved keys back (each side its own LTKs and IRKs), then reconnect")
        for i in IDX:
            log(f"  hci{i}: Load LTKs {sname(load_ltks(i, saved[i]['ltk']))}, "
                f"Load IRKs {sname(load_irks(i, saved[i]['irk']))}")
        show_keys()
        c, a = reconnect_and_secure(lst)
        cleanup(c, a, unpair=False)
        log("-- and with the peripheral asking")
        c, a = reconnect_and_secure(lst, who="peripheral")
        cleanup(c, a, unpair=False)

        log("-- Load LTKs replaces everything: pair hci0 with hci2 too, then load only hci1's key on hci0")
        BT.cmd(2, 0x0018, b"\x03", quiet=True)
        setting(2, 0x0007, 1)
        setting(2, 0x0029, 1)
        BT.agents[2] = {"confirm": "accept"}
        m = BT.mark()
        st, rp = BT.cmd(0, 0x0019, mgmt_addr(2, addr=A[2]) + b"\x03", timeout=60)
        log(f"  Pair Device hci0 -> hci2: {sname(st)}")
        BT.pump(0.5)
        log(f"  hci0 long_term_keys now: {debugfs(0, 'long_term_keys')}")
        log(f"  hci0 Load LTKs [hci1's key only]: {sname(load_ltks(0, saved[0]['ltk']))}")
        log(f"  hci0 long_term_keys now: {debugfs(0, 'long_term_keys')}")
        st, rp = BT.cmd(0, 0x0019, mgmt_addr(2, addr=A[2]) + b"\x03", timeout=60)
        log(f"  Pair Device hci0 -> hci2 again: {sname(st)} (Already Paired would mean the key survived)")
        BT.pump(1)
        for addr, at in get_conns(0):
            BT.cmd(0, 0x0014, a2b(addr) + bytes([at]), quiet=True)
        BT.cmd(0, 0x001B, mgmt_addr(2, addr=A[2]) + b"\x01", quiet=True)
        BT.cmd(2, 0x001B, mgmt_addr(0) + b"\x01", quiet=True)
        log(f"  hci0 Load LTKs [hci1's key only]: {sname(load_ltks(0, saved[0]['ltk']))}")

        log("-- only the Central=1 / only the Central=0 entry loaded on each side (legacy keys come in pairs)")
        for i in IDX:
            log(f"  hci{i} saved LTKs: " + "; ".join(f"central={k[8]} type={k[7]}" for k in saved[i]["ltk"]))

        log("-- Unpair Device with disconnect=1 on hci0 while connected and encrypted; a second mgmt socket watches")
        obs = mgmt_socket()
        obs.setblocking(False)
        c, a = reconnect_and_secure(lst)
        m = BT.mark()
        st, rp = BT.cmd(0, 0x001B, mgmt_addr(1) + b"\x01")
        log(f"  Unpair Device -> {sname(st)}")
        BT.pump(2)
        summary(m, "  events")
        try:
            while True:
                d = obs.recv(4096)
                code, idx, ln = struct.unpack_from("<HHH", d)
                if code not in (0x0006, 0x001C, 0x0001, 0x0002):
                    log(f"  second socket saw hci{idx} {EVS.get(code, hex(code))} {decode_event(code, d[6:6 + ln])['text']}")
        except BlockingIOError:
            pass
        obs.close()
        log(f"  client poll {pollflags(c)}; links {get_conns(0)}")
        show_keys()
        cleanup(c, a, unpair=False)
        log("-- hci1 still has its key, hci0 has none: hci1 (peripheral) asks for security")
        c, a = reconnect_and_secure(lst, who="peripheral", wait=15)
        cleanup(c, a, unpair=False)
        show_keys()
        log("-- now the reverse: re-pair, then hci1 forgets (Unpair disconnect=1), hci0 still has its key; "
            "central asks")
        cleanup()
        c, a = att_connect(0, 1, lst)
        pair_device(0, 1, 3)
        BT.pump(0.5)
        cleanup(c, a, unpair=False)
        BT.cmd(1, 0x001B, mgmt_addr(0) + b"\x01")
        show_keys()
        c, a = reconnect_and_secure(lst, wait=15)
        log(f"  client poll {pollflags(c)}; links {get_conns(0)}")
        cleanup(c, a, unpair=False)
        show_keys()
        log("-- and once more (after that failure): central asks again")
        try:
            c, a = reconnect_and_secure(lst, wait=15)
            cleanup(c, a, unpair=False)
        except OSError as e:
            log(f"  {exc(e)}")
        show_keys()
    finally:
        lst.close()
        cleanup()
        for i in IDX:
            BT.cmd(i, 0x0018, b"\x03", quiet=True)


def section_legacy_bond():
    log("== legacy-bond: what the Central field of an LTK means (legacy keys come in pairs)")
    lst = att_listener(1)
    lst0 = None
    for i in IDX:
        setting(i, 0x002D, 0)
        BT.cmd(i, 0x0018, b"\x03", quiet=True)
    set_agents()
    try:
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        st, rp, el = pair_device(0, 1, 3)
        BT.pump(0.5)
        log(f"  legacy Just Works: {sname(st)}")
        saved = {i: [e[3]["key"] for e in BT.since(m, i, 0x000A)] for i in IDX}
        for i in IDX:
            log(f"  hci{i} LTKs: " + "; ".join(f"central={k[8]} ediv=0x{struct.unpack_from('<H', k, 10)[0]:04x} "
                                              f"value={k[20:36].hex()}" for k in saved[i]))
        show_keys()
        cleanup(c, a, unpair=False)
        log("-- hci0 keeps only its Central=1 key, hci1 only its Central=0 key; hci0 (central) asks")
        log(f"  hci0 Load LTKs: {sname(load_ltks(0, [k for k in saved[0] if k[8] == 1]))}, "
            f"hci1 Load LTKs: {sname(load_ltks(1, [k for k in saved[1] if k[8] == 0]))}")
        c, a = reconnect_and_secure(lst)
        cleanup(c, a, unpair=False)
        log("-- same keys, roles swapped: hci1 central connects to hci0 and asks")
        setting(1, 0x0029, 0)
        setting(0, 0x0007, 1)
        setting(0, 0x0029, 1)
        lst0 = att_listener(0)
        set_agents(c0="reject", c1="reject")
        c, a = att_connect(1, 0, lst0)
        m = BT.mark()
        ne = len(BT.enc_events)
        log(f"  BT_SECURITY=2 on hci1's (central) socket: {set_sec(c, 2)}")
        BT.pump(3)
        log(f"  encryption events: {BT.enc_events[ne:]}")
        summary(m, "  events")
        cleanup(c, a, unpair=False)
        log("-- all four keys loaded, roles swapped again")
        set_agents()
        log(f"  hci0 Load LTKs: {sname(load_ltks(0, saved[0]))}, hci1 Load LTKs: {sname(load_ltks(1, saved[1]))}")
        c, a = att_connect(1, 0, lst0)
        m = BT.mark()
        ne = len(BT.enc_events)
        log(f"  BT_SECURITY=2 on hci1's (central) socket: {set_sec(c, 2)}")
        BT.pump(3)
        log(f"  encryption events: {BT.enc_events[ne:]}; hci1 {get_sec(c)}, hci0 {get_sec(a)}")
        summary(m, "  events")
        cleanup(c, a)
    finally:
        lst.close()
        if lst0:
            lst0.close()
        cleanup()
        for i in IDX:
            setting(i, 0x002D, 1)
        setting(0, 0x0029, 0)
        setting(1, 0x0029, 1)


def section_rpa():
    log("== rpa: hci1 with privacy (RPA) connects to hci0 as central; resolution on hci0")
    irk1 = bytes(range(0x10, 0x20))
    set_agents()
    for i in IDX:
        BT.cmd(i, 0x0018, b"\x03", quiet=True)
    setting(1, 0x0029, 0)
    BT.cmd(1, 0x0005, b"\x00", quiet=True)
    st, rp = BT.cmd(1, 0x002F, b"\x01" + irk1)
    BT.cmd(1, 0x0005, b"\x01", quiet=True)
    log(f"  hci1 Set Privacy 1: {sname(st)}; settings {settings_str(settings_of(1))}")
    setting(0, 0x0007, 1)
    setting(0, 0x0029, 1)
    log(f"  hci0 settings {settings_str(settings_of(0))}")
    lst0 = att_listener(0)
    try:
        def connect_from_1(tag):
            m = BT.mark()
            c, a = att_connect(1, 0, lst0)
            BT.pump(0.5)
            dc = [e[3]["text"] for e in BT.since(m, 0, 0x000B)]
            log(f"  {tag}: hci0 Device Connected {dc}; hci0's accepted socket peer {peername(a) if a else '?'}; "
                f"hci1's socket peer {peername(c)}")
            return c, a
        log("-- control: hci0 has never been sent Load IRKs (run this section first in a fresh VM)")
        c, a = connect_from_1("no Load IRKs")
        m = BT.mark()
        st, rp, el = pair_device(1, 0, 3)
        log(f"  Pair Device from hci1 -> {sname(st)}")
        BT.pump(1)
        summary(m, "  events")
        cleanup(c, a)
        log("-- Load IRKs (0 keys) on both, then pair again")
        for i in IDX:
            log(f"  hci{i} Load IRKs []: {sname(load_irks(i, []))}")
        c, a = connect_from_1("before pairing")
        m = BT.mark()
        st, rp, el = pair_device(1, 0, 3)
        log(f"  Pair Device from hci1 -> {sname(st)} reply addr {describe_reply(0x0019, rp)}")
        BT.pump(1)
        summary(m, "  events")
        log(f"  after pairing: hci0's accepted socket peer {peername(a)}; Get Connections hci0 {get_conns(0)}")
        saved0 = {"ltk": [e[3]["key"] for e in BT.since(m, 0, 0x000A)],
                  "irk": [e[3]["key"] for e in BT.since(m, 0, 0x0018)]}
        show_keys()
        c.close()
        a.close()
        cleanup(unpair=False)
        log("-- hci1 power cycle (new RPA), reconnect")
        BT.cmd(1, 0x0005, b"\x00", quiet=True)
        BT.cmd(1, 0x0005, b"\x01", quiet=True)
        c, a = connect_from_1("bonded, IRK known")
        m = BT.mark()
        ne = len(BT.enc_events)
        log(f"  BT_SECURITY=2 on hci1's (central) socket: {set_sec(c, 2)}")
        BT.pump(3)
        log(f"  encryption: {BT.enc_events[ne:]}")
        summary(m, "  events")
        cleanup(c, a, unpair=False)
        log("-- hci0 Load IRKs (0 keys): forget the IRK; reconnect")
        load_irks(0, [])
        c, a = connect_from_1("IRK forgotten")
        cleanup(c, a, unpair=False)
        log("-- hci0 Load IRKs [saved] and Load LTKs [saved]; reconnect")
        log(f"  Load IRKs {sname(load_irks(0, saved0['irk']))}, Load LTKs {sname(load_ltks(0, saved0['ltk']))}")
        c, a = connect_from_1("IRK loaded")
        ne = len(BT.enc_events)
        set_sec(c, 2)
        BT.pump(3)
        log(f"  encryption: {BT.enc_events[ne:]}")
        cleanup(c, a, unpair=False)
        log("-- hci0 side: the daemon's addr_mode 2 (Set Privacy on hci0 too), hci0 connects to hci1 "
            "(public, advertising) and pairs: does hci1 get hci0's IRK?")
        cleanup()
        setting(0, 0x0029, 0)
        BT.cmd(0, 0x0005, b"\x00", quiet=True)
        st, rp = BT.cmd(0, 0x002F, b"\x01" + bytes(range(0x30, 0x40)))
        BT.cmd(0, 0x0005, b"\x01", quiet=True)
        log(f"  hci0 Set Privacy 1: {sname(st)}; settings {settings_str(settings_of(0))}")
        BT.cmd(1, 0x0005, b"\x00", quiet=True)
        BT.cmd(1, 0x002F, b"\x00" + bytes(16), quiet=True)
        BT.cmd(1, 0x0005, b"\x01", quiet=True)
        setting(1, 0x0029, 1)
        log(f"  hci1 privacy off again, advertising: {settings_str(settings_of(1))}")
        lst1 = att_listener(1)
        m = BT.mark()
        c, a = att_connect(0, 1, lst1)
        BT.pump(0.5)
        log(f"  hci1 Device Connected {[e[3]['text'] for e in BT.since(m, 1, 0x000B)]}; hci1's socket peer "
            f"{peername(a) if a else '?'}")
        m = BT.mark()
        st, rp, el = pair_device(0, 1, 3)
        BT.pump(1)
        log(f"  Pair Device from hci0 -> {sname(st)}")
        summary(m, "  events")
        log(f"  after pairing: hci1's socket peer {peername(a) if a else '?'}")
        show_keys()
        cleanup(c, a)
        lst1.close()
    finally:
        lst0.close()
        cleanup()
        for i in IDX:
            setting(i, 0x0029, 0)
            BT.cmd(i, 0x0005, b"\x00", quiet=True)
            BT.cmd(i, 0x002F, b"\x00" + bytes(16), quiet=True)
            BT.cmd(i, 0x0005, b"\x01", quiet=True)
        setting(1, 0x0029, 1)
        setting(0, 0x0029, 0)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x01|\x02")


def pty_btmgmt(args, answers, duration, tag="btmgmt", after=None, after_delay=2.0, shell=None):
    """Runs btmgmt on a pseudo-terminal; answers: list of (regex, fn(match)->str).
    Pumps our own mgmt socket meanwhile.  Returns the transcript."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("btmgmt", ["btmgmt"] + args)
    if shell is not None:
        shell["fd"] = fd
    buf = ""
    done = 0
    start = time.monotonic()
    end = start + duration
    try:
        while time.monotonic() < end:
            if after and time.monotonic() - start > after_delay:
                after()
                after = None
            BT.pump(0.05)
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(fd, 4096).decode(errors="replace")
                except OSError:
                    break
                buf += data
                for ln in data.replace("\r", "").splitlines():
                    ln = ANSI.sub("", ln).strip()
                    if ln:
                        log(f"  [{tag}] {ln}")
                while done < len(answers):
                    mt = re.search(answers[done][0], buf)
                    if not mt:
                        break
                    ans = answers[done][1](mt)
                    log(f"  [{tag}] <- {ans!r}")
                    os.write(fd, (ans + "\n").encode())
                    buf = buf[mt.end():]
                    done += 1
    finally:
        try:
            os.write(fd, b"quit\n")
        except OSError:
            pass
        time.sleep(0.3)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return buf


def section_btmgmt():
    log("== btmgmt as the peer (interop without bluetoothd)")
    log("  " + run(["btmgmt", "--version"]).strip())
    lst = att_listener(1)
    try:
        log("-- (1) btmgmt shell on hci1 answers as responder; we pair from hci0 (both DisplayYesNo: numeric comparison)")
        BT.cmd(0, 0x0018, b"\x01", quiet=True)
        BT.cmd(1, 0x0018, b"\x01", quiet=True)
        BT.agents = {0: {"confirm": "accept", "other": 1}}
        c, a = att_connect(0, 1, lst)
        m = BT.mark()
        sent = []
        pty_btmgmt(["--index", "1"], [(r"\(yes/no\)", lambda mt: "yes")], 20,
                   after=lambda: sent.append(BT.send(0, 0x0019, mgmt_addr(1) + b"\x01")))
        e1 = sent[0] if sent else {"result": None}
        log(f"  our Pair Device -> {sname(e1['result'][0]) if e1['result'] else 'no reply yet'}")
        summary(m, "  events")
        cleanup(c, a)
        log("-- (2) btmgmt pair from hci1 (central, KeyboardDisplay); our hci0 is DisplayOnly and advertises")
        setting(1, 0x0029, 0)
        setting(0, 0x0007, 1)
        setting(0, 0x0029, 1)
        BT.cmd(0, 0x0018, b"\x00", quiet=True)
        BT.agents = {0: {"confirm": "accept", "other": 1}}
        m = BT.mark()

        def passkey(mt):
            BT.wait_for(lambda: 0 in BT.notified, 5)
            return f"{BT.notified.get(0, 0):06d}"
        log("   (a) non-interactive: btmgmt --index 1 pair -c 4 -t 1 ADDR (nothing typed)")
        pty_btmgmt(["--index", "1", "pair", "-c", "4", "-t", "1", A[0]], [], 8)
        BT.pump(1)
        summary(m, "  events")
        cleanup()
        log("   (b) the same command typed into the btmgmt shell")
        m = BT.mark()
        sh = {}
        pty_btmgmt(["--index", "1"], [(r"request passkey", passkey)], 25,
                   after=lambda: os.write(sh["fd"], f"pair -c 4 -t 1 {A[0]}\n".encode()), shell=sh)
        BT.pump(1)
        summary(m, "  events")
        cleanup()
        log("-- (3) btmgmt pair from hci1, Just Works (io 3 both): does btmgmt get asked?")
        BT.cmd(0, 0x0018, b"\x03", quiet=True)
        m = BT.mark()
        sh = {}
        pty_btmgmt(["--index", "1"], [(r"\(yes/no\)", lambda mt: "yes")], 20,
                   after=lambda: os.write(sh["fd"], f"pair -c 3 -t 1 {A[0]}\n".encode()), shell=sh)
        BT.pump(1)
        summary(m, "  events")
        cleanup()
    finally:
        lst.close()
        setting(0, 0x0029, 0)
        setting(1, 0x0029, 1)
        for i in IDX:
            BT.cmd(i, 0x0018, b"\x03", quiet=True)


def section_interop():
    """Only under tests/vm/run-interop.sh: our hci0 pairs with BlueZ's
    bluetoothd (no agent registered) on the peer VM."""
    peer = os.environ["UBT_INTEROP_PEER_ADDR"]
    log(f"== interop: hci0 {A[0]} pairs with bluetoothd at {peer} (its log: peer/bluetoothd.log)")
    BT.agents = {0: {"confirm": "accept", "passkey": 123456}}
    for io, label in ((3, "Just Works (our io NoInputNoOutput)"), (1, "our io DisplayYesNo"),
                      (4, "our io KeyboardDisplay")):
        log(f"-- {label}")
        BT.cmd(0, 0x0018, bytes([io]), quiet=True)
        c = l2sock()
        l2call(libc.bind, c, make_sa(A[0], 0, BDADDR_LE_PUBLIC, ATT_CID))
        c.setblocking(False)
        r = l2call(libc.connect, c, make_sa(peer, 0, BDADDR_LE_PUBLIC, ATT_CID))
        p = select.poll()
        p.register(c, select.POLLOUT)
        BT.wait_for(lambda: p.poll(0), 20)
        log(f"  ATT connect: {ename(r)}, SO_ERROR={ename(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))} "
            f"handle={handle_of(c)}")
        m = BT.mark()
        t = time.monotonic()
        st, rp = BT.cmd(0, 0x0019, a2b(peer) + bytes([BDADDR_LE_PUBLIC, io]), timeout=40)
        log(f"  Pair Device -> {sname(st)} after {time.monotonic() - t:.3f} s; ATT socket {get_sec(c)}")
        BT.pump(1)
        log("  hci0: " + " ".join(ev_short(e) for e in BT.since(m, 0) if e[2] not in (0x0006, 0x001C)))
        c.close()
        for addr, at in get_conns(0):
            BT.cmd(0, 0x0014, a2b(addr) + bytes([at]), quiet=True)
        BT.cmd(0, 0x001B, a2b(peer) + bytes([BDADDR_LE_PUBLIC, 1]), quiet=True)
        BT.pump(2)


def section_dmesg():
    log("== dmesg (Bluetooth, BUG, WARNING)")
    for ln in run(["dmesg"]).splitlines():
        if re.search(r"Bluetooth|BUG|WARNING|Oops|Call Trace|alg:", ln):
            log("  " + ln)


def setup():
    global BT, IDX
    BT = Bt()
    if os.environ.get("UBT_INTEROP_PEER_ADDR"):
        IDX = (0,)
        BT.monitor(0)
        st, rp = BT.cmd(0, 0x0004, quiet=True)
        A[0] = b2a(rp)
        for op, v in ((0x000D, 1), (0x000B, 1), (0x0009, 1), (0x002D, 1), (0x0005, 1)):
            BT.cmd(0, op, bytes([v]), quiet=True)
        log(f"hci0 {A[0]}: {settings_str(settings_of(0))}")
        return
    for idx in (0, 1, 2):
        BT.monitor(idx) if idx in IDX else None
        st, rp = BT.cmd(idx, 0x0004, quiet=True)
        A[idx] = b2a(rp)
        for op, v in ((0x000D, 1), (0x000B, 1), (0x0009, 1), (0x002D, 1), (0x0005, 1)):
            BT.cmd(idx, op, bytes([v]), quiet=True)
        BT.cmd(idx, 0x0018, b"\x03", quiet=True)
    setting(1, 0x0007, 1)
    setting(1, 0x0029, 1)
    for idx in (0, 1, 2):
        log(f"hci{idx} {A[idx]}: {settings_str(settings_of(idx))}")


SECTIONS = ["info", "rpa", "methods-sc", "methods-legacy", "initiators", "encryption", "timeout", "reject", "modes",
            "bonds", "legacy-bond", "btmgmt", "dmesg", "interop"]

if __name__ == "__main__":
    wanted = [a for a in sys.argv[1:] if a in SECTIONS] or SECTIONS[:-1]
    mon = None
    if "btmon" in sys.argv:
        path = os.path.join(os.environ.get("UBT_RESULTS", "/tmp"), "probe.btsnoop")
        mon = subprocess.Popen(["btmon", "-w", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    setup()
    for sec in wanted:
        try:
            globals()["section_" + sec.replace("-", "_")]()
        except Exception as e:  # report and go on with the next section
            import traceback
            log(f"!! section {sec} failed: {exc(e)}")
            traceback.print_exc(file=sys.stdout)
            QUIET = False
            try:
                cleanup()
            except Exception:
                pass
    if mon:
        mon.terminate()
        mon.wait()
