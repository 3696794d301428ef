#!/usr/bin/python3
"""Probe of the kernel's LE credit-based L2CAP sockets (LE CoC), for the design
of issue 5.  Not a test: it prints what the kernel does, for
docs/kernel-l2cap-coc.md.  Its name does not match test_*.py on purpose, so
tests/kernel/run.py does not pick it up.

Run it inside the test VM, without the daemon (it drives the controllers with
btmgmt itself):

  tests/vm/run.sh --controllers ext --timeout 900 --results /tmp/l2r -- \
      /usr/bin/python3 /work/main/tests/kernel/l2cap_probe.py [SECTION...]

Sections (default: all, in this order): info basic absent extra rawlink reverse defer flow send
disconnect psm l2test dmesg.  Every line is prefixed with the time since start.
"""

import ctypes
import ctypes.util
import errno
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

# Constants, checked against /usr/include/bluetooth/{bluetooth,l2cap,hci}.h
AF_BLUETOOTH = 31
BTPROTO_L2CAP = 0
BTPROTO_HCI = 1
SOL_HCI = 0
HCI_FILTER = 2
SOL_BLUETOOTH = 274
BT_SECURITY = 4
BT_DEFER_SETUP = 7
BT_SNDMTU = 12
BT_RCVMTU = 13
BT_MODE = 15
BT_MODE_LE_FLOWCTL = 0x03
BT_MODE_EXT_FLOWCTL = 0x04
SOL_L2CAP = 6
L2CAP_OPTIONS = 1
L2CAP_CONNINFO = 2
BDADDR_BREDR = 0
BDADDR_LE_PUBLIC = 1
BDADDR_LE_RANDOM = 2
TIOCOUTQ = 0x5411
FIONREAD = 0x541B

T0 = time.monotonic()
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def log(*a):
    print(f"[{time.monotonic() - T0:8.3f}]", *a, flush=True)


def ename(e):
    return errno.errorcode.get(e, str(e)) if e else "0"


def exc(e):
    if isinstance(e, OSError) and e.errno:
        return f"{ename(e.errno)} ({e.strerror})"
    return repr(e)


class SockaddrL2(ctypes.Structure):
    _fields_ = [("l2_family", ctypes.c_ushort), ("l2_psm", ctypes.c_ushort),
                ("l2_bdaddr", ctypes.c_ubyte * 6), ("l2_cid", ctypes.c_ushort),
                ("l2_bdaddr_type", ctypes.c_ubyte)]


assert ctypes.sizeof(SockaddrL2) == 14


def make_sa(addr, psm, atype=BDADDR_LE_PUBLIC, cid=0):
    sa = SockaddrL2()
    sa.l2_family = AF_BLUETOOTH
    sa.l2_psm = psm  # le16 on a little-endian host
    b = bytes(int(x, 16) for x in addr.split(":"))[::-1]
    for i in range(6):
        sa.l2_bdaddr[i] = b[i]
    sa.l2_cid = cid
    sa.l2_bdaddr_type = atype
    return sa


def sa_str(sa):
    addr = ":".join(f"{x:02X}" for x in bytes(sa.l2_bdaddr)[::-1])
    return f"addr={addr} type={sa.l2_bdaddr_type} psm=0x{sa.l2_psm:04x} cid=0x{sa.l2_cid:04x}"


def l2sock():
    return socket.socket(AF_BLUETOOTH, socket.SOCK_SEQPACKET, BTPROTO_L2CAP)


def l2bind(s, addr, psm, atype=BDADDR_LE_PUBLIC):
    sa = make_sa(addr, psm, atype)
    if libc.bind(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def l2connect(s, addr, psm, atype=BDADDR_LE_PUBLIC):
    """Returns 0 or the errno of connect() (EINPROGRESS on a non-blocking socket)."""
    sa = make_sa(addr, psm, atype)
    if libc.connect(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
        return ctypes.get_errno()
    return 0


def name(s, peer=False):
    sa = SockaddrL2()
    ln = ctypes.c_uint(ctypes.sizeof(sa))
    f = libc.getpeername if peer else libc.getsockname
    if f(s.fileno(), ctypes.byref(sa), ctypes.byref(ln)) < 0:
        return ename(ctypes.get_errno())
    return sa_str(sa)


def gso(s, level, opt, fmt):
    try:
        v = s.getsockopt(level, opt, struct.calcsize(fmt))
        r = struct.unpack(fmt, v[:struct.calcsize(fmt)])
        return r[0] if len(r) == 1 else r
    except OSError as e:
        return ename(e.errno)


def conninfo(s):
    r = gso(s, SOL_L2CAP, L2CAP_CONNINFO, "<H3s")
    return r if isinstance(r, str) else f"handle={r[0]}"


def describe(tag, s):
    log(f"  {tag}: sockname[{name(s)}] peername[{name(s, True)}]")
    log(f"  {tag}: BT_RCVMTU={gso(s, SOL_BLUETOOTH, BT_RCVMTU, '<H')} "
        f"BT_SNDMTU={gso(s, SOL_BLUETOOTH, BT_SNDMTU, '<H')} "
        f"L2CAP_OPTIONS={gso(s, SOL_L2CAP, L2CAP_OPTIONS, '<HHHBBBH')} "
        f"CONNINFO={conninfo(s)} BT_SECURITY={gso(s, SOL_BLUETOOTH, BT_SECURITY, '<BB')} "
        f"BT_MODE={gso(s, SOL_BLUETOOTH, BT_MODE, '<B')} "
        f"SO_RCVBUF={gso(s, socket.SOL_SOCKET, socket.SO_RCVBUF, '<i')} "
        f"SO_SNDBUF={gso(s, socket.SOL_SOCKET, socket.SO_SNDBUF, '<i')}")


PFLAGS = [(select.POLLIN, "IN"), (select.POLLPRI, "PRI"), (select.POLLOUT, "OUT"),
          (select.POLLERR, "ERR"), (select.POLLHUP, "HUP"), (select.POLLRDHUP, "RDHUP"),
          (select.POLLNVAL, "NVAL")]


def pollflags(s, timeout_ms=0, events=None):
    p = select.poll()
    p.register(s, events if events is not None else
               select.POLLIN | select.POLLOUT | select.POLLPRI | select.POLLRDHUP)
    r = p.poll(timeout_ms)
    if not r:
        return "none"
    return "|".join(n for f, n in PFLAGS if r[0][1] & f) or "0"


def wait_poll(s, events, timeout):
    """Waits until one of events (or ERR/HUP) is set; returns (elapsed, flags)."""
    t = time.monotonic()
    p = select.poll()
    p.register(s, events)
    r = p.poll(int(timeout * 1000))
    flags = "|".join(n for f, n in PFLAGS if r and r[0][1] & f) if r else "timeout"
    return time.monotonic() - t, flags


def sys_recv(s, n, flags=0):
    """recv(2) itself: CPython returns b'' for recv(0) without a syscall."""
    buf = ctypes.create_string_buffer(max(n, 1))
    r = libc.recv(s.fileno(), buf, n, flags)
    if r < 0:
        return ename(ctypes.get_errno())
    return f"{r} {buf.raw[:r]!r}"


def proc_l2cap():
    try:
        with open("/proc/net/l2cap") as f:
            return [ln.rstrip() for ln in f]
    except OSError as e:
        return [exc(e)]


def so_error(s):
    return ename(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))


def set_rcvmtu(s, mtu):
    s.setsockopt(SOL_BLUETOOTH, BT_RCVMTU, struct.pack("<H", mtu))


def ioctl_int(s, req):
    import fcntl
    try:
        return struct.unpack("i", fcntl.ioctl(s.fileno(), req, b"\0\0\0\0"))[0]
    except OSError as e:
        return ename(e.errno)


def run(cmd, timeout=30):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return (r.stdout + r.stderr).replace("\r", "")


def btmgmt(*args):
    return run(["script", "-qec", "btmgmt " + " ".join(args), "/dev/null"])


def links(hci):
    """LE links of a controller as the kernel knows them: [(dir, addr, handle)]."""
    out = run(["hcitool", "-i", hci, "con"])
    return re.findall(r"([<>]) LE ([0-9A-F:]{17}) handle (\d+)", out)


def wait_links_gone(timeout=15):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if not links("hci0") and not links("hci1"):
            return time.monotonic() - t
        time.sleep(0.2)
    log(f"  links still up after {timeout} s: hci0 {links('hci0')} hci1 {links('hci1')}; disconnecting")
    btmgmt("--index", "0", "disconnect", "-t", "1", A1)
    time.sleep(1)
    return None


def debugfs_l2cap():
    if not os.path.ismount("/sys/kernel/debug"):
        subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"])
    try:
        with open("/sys/kernel/debug/bluetooth/l2cap") as f:
            lines = f.read().strip().splitlines()
    except OSError as e:
        lines = [f"cannot read: {exc(e)}"]
    log("  debugfs l2cap (src (type) dst (type) state psm scid dcid imtu omtu sec mode):")
    for ln in lines:
        log("    " + ln)


def connect_pair(psm, srv=None, cli_mtu=None, timeout=30, quiet=False):
    """Connects a new client socket (hci0) to a listener on hci1's psm; returns
    (client, accepted, elapsed).  srv: the listening socket."""
    cli = l2sock()
    l2bind(cli, A0, 0)
    if cli_mtu:
        set_rcvmtu(cli, cli_mtu)
    cli.setblocking(False)
    t = time.monotonic()
    r = l2connect(cli, A1, psm)
    el, flags = wait_poll(cli, select.POLLOUT, timeout)
    err = so_error(cli)
    if not quiet:
        log(f"  connect() -> {ename(r)}; POLLOUT after {el:.3f} s ({flags}), SO_ERROR={err}")
    if err != "0" or flags == "timeout":
        cli.close()
        raise OSError(f"connect failed: {flags} {err}")
    conn = None
    if srv is not None:
        el2, f2 = wait_poll(srv, select.POLLIN, 10)
        conn, addr = srv.accept()
        if not quiet:
            log(f"  accept() -> peer {addr} (listener POLLIN after {el2:.3f} s)")
    return cli, conn, time.monotonic() - t


def listener(psm, mtu=None, defer=False, rcvbuf=None, addr=None):
    s = l2sock()
    l2bind(s, addr or A1, psm)
    if mtu:
        set_rcvmtu(s, mtu)
    if defer:
        s.setsockopt(SOL_BLUETOOTH, BT_DEFER_SETUP, struct.pack("<I", 1))
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.listen(8)
    return s


# ---------------------------------------------------------------------------

def section_info():
    log("== info")
    log("uname -r:", os.uname().release)
    for p in ("enable_ecred", "disable_ertm"):
        try:
            with open(f"/sys/module/bluetooth/parameters/{p}") as f:
                log(f"bluetooth.{p} =", f.read().strip())
        except OSError as e:
            log(f"bluetooth.{p}: {exc(e)}")
    for k in ("rmem_default", "rmem_max", "wmem_default"):
        with open(f"/proc/sys/net/core/{k}") as f:
            log(f"net.core.{k} =", f.read().strip())
    log("hci0", A0, "hci1", A1)
    log(run(["hciconfig", "-a", "hci0"]).strip().replace("\n", " | ")[:600])
    s = l2sock()
    log("fresh SEQPACKET socket:", f"BT_RCVMTU={gso(s, SOL_BLUETOOTH, BT_RCVMTU, '<H')}",
        f"(before bind: src type BR/EDR)")
    l2bind(s, A1, 0x00F1)
    describe("bound LE psm 0xf1", s)
    try:
        s.setsockopt(SOL_BLUETOOTH, BT_MODE, bytes([BT_MODE_LE_FLOWCTL]))
        log("setsockopt BT_MODE=LE_FLOWCTL: ok")
    except OSError as e:
        log("setsockopt BT_MODE=LE_FLOWCTL:", exc(e))
    try:
        s.setsockopt(SOL_L2CAP, L2CAP_OPTIONS, struct.pack("<HHHBBBH", 0, 100, 0xFFFF, 0, 1, 3, 63))
        log("setsockopt L2CAP_OPTIONS on LE socket: ok")
    except OSError as e:
        log("setsockopt L2CAP_OPTIONS on LE socket:", exc(e))
    for mtu in (22, 23, 65535):
        try:
            set_rcvmtu(s, mtu)
            log(f"setsockopt BT_RCVMTU={mtu}: ok, reads back {gso(s, SOL_BLUETOOTH, BT_RCVMTU, '<H')}")
        except OSError as e:
            log(f"setsockopt BT_RCVMTU={mtu}:", exc(e))
    s.close()
    param = "/sys/module/bluetooth/parameters/enable_ecred"
    try:
        with open(param, "w") as f:
            f.write("1")
        s = l2sock()
        l2bind(s, A1, 0x00F1)
        for mode in (BT_MODE_LE_FLOWCTL, BT_MODE_EXT_FLOWCTL):
            try:
                s.setsockopt(SOL_BLUETOOTH, BT_MODE, bytes([mode]))
                log(f"with enable_ecred=1 (set at run time): BT_MODE={mode}: ok, reads {gso(s, SOL_BLUETOOTH, BT_MODE, '<B')}")
            except OSError as e:
                log(f"with enable_ecred=1 (set at run time): BT_MODE={mode}: {exc(e)}")
        s.close()
    except OSError as e:
        log("cannot set enable_ecred:", exc(e))
    finally:
        try:
            with open(param, "w") as f:
                f.write("0")
        except OSError:
            pass


def section_basic():
    log("== basic: listen on hci1 psm 0x81, connect from hci0 (no link yet)")
    log("  links before: hci0", links("hci0"), "hci1", links("hci1"))
    srv = listener(0x81)
    describe("listener", srv)
    cli = l2sock()
    l2bind(cli, A0, 0)
    describe("client before connect", cli)
    cli.setblocking(False)
    t = time.monotonic()
    r = l2connect(cli, A1, 0x81)
    log(f"  non-blocking connect() -> {ename(r)}; poll now: {pollflags(cli)}; "
        f"state while connecting: peername[{name(cli, True)}] CONNINFO={conninfo(cli)}")
    el, flags = wait_poll(cli, select.POLLOUT, 40)
    log(f"  client POLLOUT after {el:.3f} s ({flags}), SO_ERROR={so_error(cli)}")
    el2, f2 = wait_poll(srv, select.POLLIN, 10)
    conn, addr = srv.accept()
    log(f"  accept() -> {addr} (listener ready {el2:.3f} s after connect returned)")
    log("  links now: hci0", links("hci0"), "hci1", links("hci1"))
    describe("client", cli)
    describe("accepted", conn)
    debugfs_l2cap()
    cli.send(b"hello from hci0")
    conn.settimeout(5)
    log("  accepted recv:", conn.recv(1000))
    conn.send(b"hello from hci1")
    el, _ = wait_poll(cli, select.POLLIN, 5)
    log("  client recv:", cli.recv(1000))

    log("-- second channel, other PSM 0x83, while the link exists; listener BT_RCVMTU=256, client BT_RCVMTU=512")
    srv2 = listener(0x83, mtu=256)
    cli2, conn2, el = connect_pair(0x83, srv2, cli_mtu=512)
    log(f"  connected in {el:.3f} s over the existing link")
    describe("client2", cli2)
    describe("accepted2", conn2)
    log("  links now: hci0", links("hci0"), "hci1", links("hci1"))
    cli2.setblocking(True)
    for who, s, n in (("client2", cli2, 256), ("client2", cli2, 257),
                      ("accepted2", conn2, 512), ("accepted2", conn2, 513)):
        try:
            log(f"  {who}.send({n} bytes) -> {s.send(bytes(n))}")
        except OSError as e:
            log(f"  {who}.send({n} bytes) -> {exc(e)}")
    conn2.settimeout(5)
    cli2.settimeout(5)
    log("  accepted2 got", len(conn2.recv(4096)), "bytes; client2 got", len(cli2.recv(4096)), "bytes")
    log("  recv into a smaller buffer (SEQPACKET truncation): accepted2 sends 300, client2 recv(100)")
    conn2.send(bytes(range(256)) + bytes(44))
    d = cli2.recvmsg(100)
    log(f"  client2 recvmsg(100) -> {len(d[0])} bytes, msg_flags=0x{d[2]:x} (MSG_TRUNC=0x{socket.MSG_TRUNC:x})")
    cli2.setblocking(False)
    try:
        log("  next recv:", cli2.recv(1000))
    except OSError as e:
        log("  next recv (rest of the truncated SDU discarded?):", exc(e))

    log("-- third channel, same PSM 0x81 again (two channels to one PSM on one link)")
    cli3, conn3, el = connect_pair(0x81, srv)
    describe("client3", cli3)
    describe("accepted3", conn3)
    cli3.send(b"on channel 3")
    conn3.settimeout(5)
    log("  accepted3 recv:", conn3.recv(100), "; accepted (first) has pending:", pollflags(conn))
    debugfs_l2cap()
    log("-- empty send")
    try:
        log("  client3.send(b'') ->", cli3.send(b""))
    except OSError as e:
        log("  client3.send(b'') ->", exc(e))
    time.sleep(0.5)
    log("  accepted3 poll after empty send:", pollflags(conn3))

    for s in (cli, conn, cli2, conn2, cli3, conn3, srv, srv2):
        s.close()
    el = wait_links_gone()
    log(f"  all closed: link gone after {el if el is None else round(el, 3)} s")


def hci_cmd_wait(hs, ogf, ocf, params, want_meta=(0x01, 0x0A), timeout=10):
    """Sends an HCI command on a raw socket and waits for its Command Status /
    Complete and, for connections, the LE Connection Complete."""
    opcode = (ogf << 10) | ocf
    hs.send(bytes([0x01]) + struct.pack("<HB", opcode, len(params)) + params)
    t = time.monotonic()
    status = None
    while time.monotonic() - t < timeout:
        r, _, _ = select.select([hs], [], [], 0.5)
        if not r:
            continue
        pkt = hs.recv(300)
        if pkt[0] != 0x04:
            continue
        ev = pkt[1]
        if ev == 0x0F and struct.unpack_from("<H", pkt, 5)[0] == opcode:
            status = pkt[3]
            if status:
                return status, None
        elif ev == 0x0E and struct.unpack_from("<H", pkt, 4)[0] == opcode:
            return pkt[6], None
        elif ev == 0x3E and pkt[3] in want_meta:
            st = pkt[4]
            handle = struct.unpack_from("<H", pkt, 5)[0]
            return st, handle
    return status, None


def raw_le_connect(dev, peer):
    hs = socket.socket(AF_BLUETOOTH, socket.SOCK_RAW, BTPROTO_HCI)
    hs.bind((dev,))
    hs.setsockopt(SOL_HCI, HCI_FILTER, struct.pack("<IIIH", 1 << 4, 0xFFFFFFFF, 0xFFFFFFFF, 0) + b"\0\0")
    peer_b = bytes(int(x, 16) for x in peer.split(":"))[::-1]
    # LE Extended Create Connection, 1M PHY only.
    p = bytes([0, 0, 0]) + peer_b + bytes([0x01]) + struct.pack(
        "<HHHHHHHH", 0x0060, 0x0060, 0x0018, 0x0028, 0, 0x01F4, 0, 0)
    st, h = hci_cmd_wait(hs, 0x08, 0x0043, p)
    log(f"  raw HCI LE Extended Create Connection: status={st} handle={h}")
    if st == 0x01 or (st and h is None):
        p = struct.pack("<HHB", 0x0060, 0x0060, 0) + bytes([0]) + peer_b + bytes([0]) + struct.pack(
            "<HHHHHH", 0x0018, 0x0028, 0, 0x01F4, 0, 0)
        st, h = hci_cmd_wait(hs, 0x08, 0x000D, p)
        log(f"  raw HCI LE Create Connection (legacy): status={st} handle={h}")
    hs.close()
    return h


def section_absent():
    log("== absent: L2CAP connect to an address nobody advertises (client SO_SNDTIMEO 5 s)")
    c = l2sock()
    l2bind(c, A0, 0)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))
    c.setblocking(False)
    r = l2connect(c, "00:AA:01:09:09:09", 0x81)
    el, f = wait_poll(c, select.POLLOUT, 60)
    log(f"  connect() -> {ename(r)}; after {el:.3f} s: {f} SO_ERROR={so_error(c)}")
    c.close()
    c = l2sock()
    l2bind(c, A0, 0)
    c.setblocking(False)
    r = l2connect(c, "00:AA:01:09:09:09", 0x81)
    time.sleep(1)
    t = time.monotonic()
    c.close()
    log(f"  close() of a socket still connecting (scanning) took {time.monotonic() - t:.3f} s; "
        f"links {links('hci0')}")


def section_extra():
    log("== extra: can a raw HCI socket (as the daemon has) see the peer's LE connection request, and so its MTU,")
    log("   while the channel is deferred? (BT_SNDMTU is ENOTCONN then)")
    hs = socket.socket(AF_BLUETOOTH, socket.SOCK_RAW, BTPROTO_HCI)
    hs.bind((1,))
    hs.setsockopt(SOL_HCI, HCI_FILTER, struct.pack("<IIIH", (1 << 2) | (1 << 4), 0, 0, 0) + b"\0\0")
    srv = listener(0x8B, defer=True)
    c = l2sock()
    l2bind(c, A0, 0)
    set_rcvmtu(c, 1000)
    c.setblocking(False)
    l2connect(c, A1, 0x8B)
    el, f = wait_poll(srv, select.POLLIN, 10)
    a, _ = srv.accept()
    describe("deferred", a)
    t = time.monotonic()
    while time.monotonic() - t < 1:
        r, _, _ = select.select([hs], [], [], 0.2)
        if not r:
            continue
        pkt = hs.recv(1024)
        if pkt[0] == 0x02 and len(pkt) >= 9:
            handle, dlen, llen, lcid = struct.unpack_from("<HHHH", pkt, 1)
            if lcid == 0x0005 and pkt[9] == 0x14:
                psm, scid, mtu, mps, credits = struct.unpack_from("<HHHHH", pkt, 13)
                log(f"  raw HCI socket saw LE Credit Based Connection Request on handle {handle & 0xFFF}: "
                    f"psm 0x{psm:x} scid 0x{scid:x} mtu {mtu} mps {mps} credits {credits}")
    hs.close()
    sys_recv(a, 0)
    wait_poll(c, select.POLLOUT, 5)
    log(f"  after accepting: BT_SNDMTU={gso(a, SOL_BLUETOOTH, BT_SNDMTU, '<H')}")
    a.close()
    c.close()
    srv.close()

    log("-- an MTU below 23 (the LE minimum) on either side")
    srv = listener(0x8B)
    c = l2sock()
    l2bind(c, A0, 0)
    set_rcvmtu(c, 22)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))
    c.setblocking(False)
    l2connect(c, A1, 0x8B)
    el, f = wait_poll(c, select.POLLOUT, 10)
    log(f"  client BT_RCVMTU=22: after {el:.3f} s: {f} SO_ERROR={so_error(c)}; listener: {pollflags(srv)}")
    c.close()
    srv.close()
    srv = listener(0x8B, mtu=22)
    c = l2sock()
    l2bind(c, A0, 0)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))
    c.setblocking(False)
    l2connect(c, A1, 0x8B)
    el, f = wait_poll(c, select.POLLOUT, 10)
    log(f"  listener BT_RCVMTU=22: client after {el:.3f} s: {f} SO_ERROR={so_error(c)}; listener: {pollflags(srv)}")
    if pollflags(srv) not in ("none", "OUT"):
        a, _ = srv.accept()
        describe("accepted with MTU 22", a)
        a.close()
    c.close()
    srv.close()
    wait_links_gone()


def section_rawlink():
    log("== rawlink: LE link made over raw HCI first (as the daemon does), then L2CAP connect")
    srv = listener(0x81)
    t = time.monotonic()
    h = raw_le_connect(0, A1)
    log(f"  link up after {time.monotonic() - t:.3f} s; hci0 {links('hci0')} hci1 {links('hci1')}")
    try:
        cli, conn, el = connect_pair(0x81, srv)
        log(f"  L2CAP connect over the existing link took {el:.3f} s; CONNINFO client {conninfo(cli)} "
            f"accepted {conninfo(conn)} (raw link handle {h})")
        log("  links:", links("hci0"), links("hci1"))
    except OSError as e:
        log("  L2CAP connect over the raw link:", exc(e))
        cli = conn = None

    for s in (cli, conn, srv):
        if s:
            s.close()
    log("  link gone", wait_links_gone(), "s after closing")

    log("-- link made over raw HCI and no L2CAP channel: how long does the kernel keep it?")
    t = time.monotonic()
    raw_le_connect(0, A1)
    up = time.monotonic()
    while links("hci0") and time.monotonic() - up < 20:
        time.sleep(0.1)
    log(f"  raw link without channels dropped {time.monotonic() - up:.3f} s after it came up "
        f"(still up: {links('hci0')})")
    wait_links_gone()


def section_reverse():
    log("== reverse: the peripheral (hci1) opens a channel to the central (hci0) over an existing link")
    srv = listener(0x81)
    cli, conn, _ = connect_pair(0x81, srv, quiet=True)
    log("  link:", links("hci0"), links("hci1"))
    srv0 = listener(0x87, addr=A0)
    for attempt in ("mgmt advertising on", "mgmt advertising off"):
        if attempt == "mgmt advertising off":
            log("  ", btmgmt("--index", "1", "advertising", "off").strip())
        c = l2sock()
        l2bind(c, A1, 0)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 20, 0))
        c.setblocking(False)
        t = time.monotonic()
        r = l2connect(c, A0, 0x87)
        log(f"  [{attempt}] hci1 connect() -> {ename(r)}")
        if r == errno.EINPROGRESS:
            el, flags = wait_poll(c, select.POLLOUT, 2)
            log(f"  [{attempt}] after {el:.3f} s: {flags} SO_ERROR={so_error(c)} listener on hci0: {pollflags(srv0)}")
            debugfs_l2cap()
            el, flags = wait_poll(c, select.POLLOUT, 25)
            log(f"  [{attempt}] after {time.monotonic() - t:.3f} s: {flags} SO_ERROR={so_error(c)} "
                f"listener on hci0: {pollflags(srv0)}")
            a = None
            if pollflags(srv0) not in ("none", "OUT"):
                a, addr = srv0.accept()
                describe("accepted on hci0", a)
            describe("hci1 side", c)
            log("  does the first channel (hci0 client <-> hci1 accepted, psm 0x81) still work?")
            describe("hci1 accepted (first channel)", conn)
            conn.send(b"from hci1 on the first channel")
            time.sleep(0.5)
            for tag, s_ in (("hci0 client (first channel)", cli), ("hci0 accepted (0x87)", a)):
                if s_ is None:
                    continue
                s_.setblocking(False)
                try:
                    log(f"  {tag} got: {s_.recv(100)!r}")
                except OSError as e:
                    log(f"  {tag}: {exc(e)}")
            if a:
                a.close()
        c.close()
    btmgmt("--index", "1", "advertising", "on")
    for s_ in (srv0, cli, conn, srv):
        s_.close()
    wait_links_gone()

    log("-- fresh link made by hci0 over raw HCI, no channel yet; hci1 (mgmt advertising off) opens the first channel")
    srv0 = listener(0x87, addr=A0)
    raw_le_connect(0, A1)
    btmgmt("--index", "1", "advertising", "off")
    c = l2sock()
    l2bind(c, A1, 0)
    c.setblocking(False)
    r = l2connect(c, A0, 0x87)
    el, flags = wait_poll(c, select.POLLOUT, 10)
    log(f"  hci1 connect() -> {ename(r)}; after {el:.3f} s: {flags} SO_ERROR={so_error(c)}")
    if pollflags(srv0) not in ("none", "OUT"):
        a, addr = srv0.accept()
        describe("accepted on hci0", a)
        c.send(b"peripheral to central")
        a.settimeout(3)
        log("  hci0 got:", a.recv(100))
        log("-- now hci0 opens a channel to a listener on hci1 over the same link (hci0 holds an accepted channel)")
        srv = listener(0x81)
        try:
            cli2, conn2, el = connect_pair(0x81, srv, timeout=10)
            log(f"  ok in {el:.3f} s")
            cli2.close()
            conn2.close()
        except OSError as e:
            log("  failed:", exc(e))
            debugfs_l2cap()
        srv.close()
        a.close()
    c.close()
    srv0.close()
    btmgmt("--index", "1", "advertising", "on")
    wait_links_gone()


def defer_timeout():
    log("-- defer, accepted but never answered: who gives up, when, with what? (client SO_SNDTIMEO 90 s)")
    srv = listener(0x85, defer=True)
    c8 = l2sock()
    l2bind(c8, A0, 0)
    c8.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 90, 0))
    c8.setblocking(False)
    t = time.monotonic()
    l2connect(c8, A1, 0x85)
    el, f = wait_poll(srv, select.POLLIN, 20)
    if f == "timeout":
        log(f"  no incoming connection; client: {pollflags(c8)} SO_ERROR={so_error(c8)}")
        c8.close()
        srv.close()
        return
    a8, _ = srv.accept()
    el, f = wait_poll(c8, select.POLLOUT, 95)
    log(f"  client after {time.monotonic() - t:.3f} s: {f} SO_ERROR={so_error(c8)}")
    el, f = wait_poll(a8, select.POLLIN | select.POLLHUP, 5)
    log(f"  accepted: {f} SO_ERROR={so_error(a8)} recv0 -> {sys_recv(a8, 0)}")
    a8.close()
    c8.close()
    srv.close()


def section_defer():
    if "defer-timeout" in sys.argv:
        defer_timeout()
        wait_links_gone()
    log("== defer: BT_DEFER_SETUP on the listener")
    srv = listener(0x85, defer=True)
    log("  listener BT_DEFER_SETUP reads", gso(srv, SOL_BLUETOOTH, BT_DEFER_SETUP, "<I"))
    cli = l2sock()
    l2bind(cli, A0, 0)
    cli.setblocking(False)
    t = time.monotonic()
    l2connect(cli, A1, 0x85)
    el, f = wait_poll(srv, select.POLLIN, 40)
    log(f"  listener POLLIN after {el:.3f} s ({f})")
    conn, addr = srv.accept()
    log(f"  accept() -> {addr} at {time.monotonic() - t:.3f} s; client poll now: {pollflags(cli)} "
        f"SO_ERROR={so_error(cli)}")
    describe("deferred accepted (not yet authorized)", conn)
    log("  deferred accepted poll:", pollflags(conn))
    debugfs_l2cap()
    time.sleep(2)
    log(f"  2 s later, client poll: {pollflags(cli)} (no response yet if not writable)")
    t2 = time.monotonic()
    r = sys_recv(conn, 0)
    log(f"  accepted: recv(fd, buf, 0, 0) syscall -> {r} (CPython's sock.recv(0) makes no syscall)")
    el, f = wait_poll(cli, select.POLLOUT, 10)
    log(f"  client POLLOUT {el:.3f} s after recv(0) ({f}), SO_ERROR={so_error(cli)}")
    describe("accepted after authorization", conn)
    describe("client", cli)
    cli.send(b"after defer")
    conn.settimeout(5)
    log("  accepted recv:", conn.recv(100))

    log("-- defer, then close() the accepted socket without authorizing (reject)")
    c2 = l2sock()
    l2bind(c2, A0, 0)
    c2.setblocking(False)
    l2connect(c2, A1, 0x85)
    wait_poll(srv, select.POLLIN, 20)
    a2, _ = srv.accept()
    t = time.monotonic()
    a2.close()
    el, f = wait_poll(c2, select.POLLOUT, 10)
    log(f"  client after {el:.3f} s: poll {f}, SO_ERROR={so_error(c2)}, then poll {pollflags(c2)}")
    try:
        c2.send(b"x")
    except OSError as e:
        log("  client send after reject:", exc(e))
    c2.close()

    log("-- defer, then poll()/read with a non-blocking recv of 1 byte (does a non-zero read authorize too?)")
    c3 = l2sock()
    l2bind(c3, A0, 0)
    c3.setblocking(False)
    l2connect(c3, A1, 0x85)
    wait_poll(srv, select.POLLIN, 20)
    a3, _ = srv.accept()
    a3.setblocking(False)
    log(f"  a3 non-blocking recv(fd, buf, 100, 0) -> {sys_recv(a3, 100)}")
    el, f = wait_poll(c3, select.POLLOUT, 10)
    log(f"  client after {el:.3f} s: {f} SO_ERROR={so_error(c3)}")
    a3.close()
    c3.close()

    log("-- defer: pending connection not accepted, listener closed")
    c5 = l2sock()
    l2bind(c5, A0, 0)
    c5.setblocking(False)
    l2connect(c5, A1, 0x85)
    wait_poll(srv, select.POLLIN, 20)
    srv.close()
    el, f = wait_poll(c5, select.POLLOUT, 10)
    log(f"  client after listener close: {el:.3f} s {f} SO_ERROR={so_error(c5)}")
    c5.close()

    log("-- connect to a PSM nobody listens on (0x8f)")
    c6 = l2sock()
    l2bind(c6, A0, 0)
    c6.setblocking(False)
    l2connect(c6, A1, 0x8F)
    el, f = wait_poll(c6, select.POLLOUT, 10)
    log(f"  client: {el:.3f} s {f} SO_ERROR={so_error(c6)}")
    c6.close()

    log("-- listener WITHOUT defer: accept() only returns connected channels")
    srv = listener(0x89)
    c7 = l2sock()
    l2bind(c7, A0, 0)
    c7.setblocking(False)
    l2connect(c7, A1, 0x89)
    el, f = wait_poll(c7, select.POLLOUT, 20)
    el2, f2 = wait_poll(srv, select.POLLIN, 5)
    log(f"  client connected {el:.3f} s ({f}); listener POLLIN ({f2})")
    a7, _ = srv.accept()
    a7.close()
    c7.close()
    srv.close()
    srv2 = listener(0x8D, defer=True)
    log("-- defer: connecting side gives up (close) before the answer; what does the accepted socket see?")
    c4 = l2sock()
    l2bind(c4, A0, 0)
    c4.setblocking(False)
    l2connect(c4, A1, 0x8D)
    wait_poll(srv2, select.POLLIN, 20)
    a4, _ = srv2.accept()
    c4.close()
    el, f = wait_poll(a4, select.POLLIN | select.POLLHUP, 5)
    log(f"  accepted (deferred) after client close: {el:.3f} s {f}; SO_ERROR={so_error(a4)}")
    a4.setblocking(False)
    log(f"  recv(fd, buf, 0, 0) on it -> {sys_recv(a4, 0)}; then recv 100 -> {sys_recv(a4, 100)}")
    a4.close()

    log("-- right after: a new connection from hci0 to the same PSM")
    c9 = l2sock()
    l2bind(c9, A0, 0)
    c9.setblocking(False)
    l2connect(c9, A1, 0x8D)
    el, f = wait_poll(srv2, select.POLLIN, 5)
    log(f"  listener: {f}; client: {pollflags(c9)} SO_ERROR={so_error(c9)}")
    debugfs_l2cap()
    c9.close()
    srv2.close()
    cli.close()
    conn.close()
    log("  link gone", wait_links_gone(), "s after closing")


def make_sdu(seq, size):
    return struct.pack("<I", seq) + bytes((seq + i) & 0xFF for i in range(size - 4))


def flow_case(label, psm, mtu=None, rcvbuf_listen=None, rcvbuf_accepted=None, cli_sndbuf=None,
              rounds=1, pause=3.0, idle=2.0, sdu_size=None):
    log(f"-- flow [{label}]: receiver does not read; sender sends SDUs of the peer MTU non-blocking")
    srv = listener(psm, mtu=mtu, rcvbuf=rcvbuf_listen)
    if rcvbuf_listen:
        log(f"  listener SO_RCVBUF after setting {rcvbuf_listen}: {gso(srv, socket.SOL_SOCKET, socket.SO_RCVBUF, '<i')}")
    cli, conn, _ = connect_pair(psm, srv, quiet=True)
    log(f"  accepted SO_RCVBUF (inherited?): {gso(conn, socket.SOL_SOCKET, socket.SO_RCVBUF, '<i')}")
    if rcvbuf_accepted:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_accepted)
        log(f"  accepted SO_RCVBUF set to {rcvbuf_accepted}: reads {gso(conn, socket.SOL_SOCKET, socket.SO_RCVBUF, '<i')}")
    if cli_sndbuf:
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, cli_sndbuf)
    omtu = sdu_size or gso(cli, SOL_BLUETOOTH, BT_SNDMTU, "<H")
    log(f"  SDU size {omtu}; sender BT_SNDMTU={gso(cli, SOL_BLUETOOTH, BT_SNDMTU, '<H')} receiver BT_RCVMTU={gso(conn, SOL_BLUETOOTH, BT_RCVMTU, '<H')} "
        f"sender TIOCOUTQ={ioctl_int(cli, TIOCOUTQ)}")
    cli.setblocking(False)
    seq = 0
    per_round = []
    t = time.monotonic()
    pw = select.poll()
    pw.register(cli, select.POLLOUT)
    for rnd in range(rounds + 1):
        n = 0
        eagain = 0
        while seq < 20000:
            try:
                cli.send(make_sdu(seq, omtu))
            except BlockingIOError:
                eagain += 1
                if not pw.poll(int(idle * 1000)):
                    break
                continue
            except OSError as e:
                log("  send error:", exc(e))
                break
            seq += 1
            n += 1
        per_round.append(n)
        log(f"  round {rnd}: {n} SDUs sent until no POLLOUT for {idle} s (total {seq} SDUs = {seq * omtu} bytes, "
            f"{eagain} EAGAINs, {time.monotonic() - t:.2f} s); sender poll {pollflags(cli)} "
            f"TIOCOUTQ={ioctl_int(cli, TIOCOUTQ)}; receiver poll {pollflags(conn)} FIONREAD={ioctl_int(conn, FIONREAD)}")
        if rnd == 0:
            for ln in proc_l2cap():
                log("    /proc/net/l2cap:", ln)
        if rnd < rounds:
            time.sleep(pause)
    # Drain the receiver and check every SDU arrived once, in order.
    conn.setblocking(False)
    got = []
    bad = 0
    t = time.monotonic()
    writable_at = None
    p = select.poll()
    p.register(cli, select.POLLOUT)
    while True:
        try:
            d = conn.recv(65536)
        except BlockingIOError:
            if len(got) >= seq or time.monotonic() - t > 20:
                break
            time.sleep(0.05)
            continue
        if not d:
            break
        s = struct.unpack_from("<I", d)[0]
        if d != make_sdu(s, omtu):
            bad += 1
        got.append(s)
        if writable_at is None and p.poll(0):
            writable_at = (len(got), time.monotonic() - t)
    missing = sorted(set(range(seq)) - set(got))
    inorder = got == sorted(got)
    log(f"  drained: received {len(got)} of {seq} SDUs, {len(missing)} missing "
        f"{missing[:10]}{'...' if len(missing) > 10 else ''}, in order={inorder}, corrupt={bad}; "
        f"sender became writable after {writable_at} (SDUs read, s)")
    el, f = wait_poll(cli, select.POLLOUT, 5)
    log(f"  sender poll after drain: {f} (waited {el:.3f} s)")
    # Then a stream with the receiver reading as it goes: nothing lost?
    n = 0
    rec = 0
    t = time.monotonic()
    stalls = 0
    conn.setblocking(False)
    target = 300
    while rec < target and time.monotonic() - t < 60:
        if n < target:
            try:
                cli.send(make_sdu(seq + n, omtu))
                n += 1
            except BlockingIOError:
                stalls += 1
        try:
            while True:
                d = conn.recv(65536)
                if struct.unpack_from("<I", d)[0] != seq + rec:
                    log("  out of order/lost at", rec)
                rec += 1
        except BlockingIOError:
            if n >= target or stalls:
                time.sleep(0.01)
    dt = time.monotonic() - t
    log(f"  streaming with a reader: sent {n}, received {rec} in {dt:.2f} s "
        f"({rec * omtu / dt:.0f} B/s), EAGAIN seen {stalls} times")
    cli.close()
    conn.close()
    srv.close()
    wait_links_gone()
    return per_round


def section_flow():
    log("== flow control")
    flow_case("default rcvbuf, default MTU 672", 0x91)
    flow_case("accepted SO_RCVBUF=4096 set right after accept", 0x93, rcvbuf_accepted=4096)
    flow_case("listener SO_RCVBUF=4096 set before listen", 0x95, rcvbuf_listen=4096)
    flow_case("receiver MTU 2048, accepted SO_RCVBUF=8192", 0x97, mtu=2048, rcvbuf_accepted=8192)
    flow_case("accepted SO_RCVBUF=1 (the minimum) set right after accept", 0x99, rcvbuf_accepted=1)
    flow_case("default rcvbuf, 16-byte SDUs", 0x9F, sdu_size=16)
    flow_case("receiver MTU 150 (MPS 150), default rcvbuf", 0xA5, mtu=150)


def section_send():
    log("== send side")
    srv = listener(0x99, mtu=100)
    cli, conn, _ = connect_pair(0x99, srv)
    omtu = gso(cli, SOL_BLUETOOTH, BT_SNDMTU, "<H")
    cli.setblocking(True)
    for n in (omtu, omtu + 1, 65535, 70000):
        try:
            log(f"  send({n}) with peer MTU {omtu} -> {cli.send(bytes(n))}")
        except OSError as e:
            log(f"  send({n}) with peer MTU {omtu} -> {exc(e)}")
    conn.settimeout(3)
    log("  receiver got", len(conn.recv(4096)))
    log("-- blocking send when out of credits, SO_SNDTIMEO=1.5 s")
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 1, 500000))
    n = 0
    t = time.monotonic()
    while n < 100000:
        try:
            cli.send(make_sdu(n, omtu))
            n += 1
        except OSError as e:
            log(f"  after {n} sends a blocking send returned {exc(e)} after waiting "
                f"{time.monotonic() - t:.2f} s in total")
            break
        t = time.monotonic()
    log("-- a blocked sender is woken by credits: a thread reads after 1 s")
    import threading
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 0))

    def reader():
        time.sleep(1)
        conn.setblocking(False)
        try:
            while True:
                conn.recv(65536)
        except OSError:
            pass
    th = threading.Thread(target=reader)
    th.start()
    t = time.monotonic()
    cli.send(make_sdu(n, omtu))
    log(f"  blocking send returned after {time.monotonic() - t:.3f} s")
    th.join()
    log("-- MSG_DONTWAIT on a blocking socket while out of credits")
    k = 0
    while k < 100000:
        try:
            cli.send(make_sdu(k, omtu), socket.MSG_DONTWAIT)
            k += 1
        except OSError as e:
            log(f"  after {k} SDUs: {exc(e)}; poll {pollflags(cli)}")
            break
    cli.close()
    conn.close()
    srv.close()
    wait_links_gone()


def section_disconnect():
    log("== disconnect")
    srv = listener(0x9B)

    def report(tag, s, sockerr_first=True):
        el, f = wait_poll(s, select.POLLIN | select.POLLRDHUP, 5)
        log(f"  {tag}: poll after {el:.3f} s: {f} (full: {pollflags(s)})"
            + (f"; SO_ERROR={so_error(s)}" if sockerr_first else "; SO_ERROR not read before recv"))
        s.setblocking(False)
        for i in range(4):
            try:
                d = s.recv(4096)
                log(f"  {tag}: recv #{i} -> {d[:20]!r}{'...' if len(d) > 20 else ''} ({len(d)} bytes)")
            except OSError as e:
                log(f"  {tag}: recv #{i} -> {exc(e)}")
        try:
            s.send(b"x")
            log(f"  {tag}: send -> ok")
        except OSError as e:
            log(f"  {tag}: send -> {exc(e)}")
        log(f"  {tag}: SO_ERROR now {so_error(s)}; BT_SNDMTU={gso(s, SOL_BLUETOOTH, BT_SNDMTU, '<H')} CONNINFO={conninfo(s)} "
            f"peername[{name(s, True)}]")

    log("-- client sends 3 SDUs then close(): accepted side")
    cli, conn, _ = connect_pair(0x9B, srv, quiet=True)
    for i in range(3):
        cli.send(b"last words %d" % i)
    cli.close()
    report("accepted", conn)
    conn.close()
    log("  link gone", wait_links_gone(), "s after closing")

    log("-- same, but recv() before reading SO_ERROR (blocking recv)")
    cli, conn, _ = connect_pair(0x9B, srv, quiet=True)
    cli.send(b"one")
    cli.close()
    time.sleep(0.3)
    conn.setblocking(True)
    conn.settimeout(2)
    for i in range(3):
        try:
            log(f"  accepted: blocking recv #{i} -> {conn.recv(100)!r}")
        except OSError as e:
            log(f"  accepted: blocking recv #{i} -> {exc(e)}")
    conn.close()
    wait_links_gone()

    log("-- link loss, then recv() before reading SO_ERROR")
    cli, conn, _ = connect_pair(0x9B, srv, quiet=True)
    log("  ", btmgmt("--index", "0", "disconnect", "-t", "1", A1).strip())
    time.sleep(0.3)
    for tag, s_ in (("client", cli), ("accepted", conn)):
        s_.setblocking(False)
        for i in range(2):
            try:
                log(f"  {tag}: non-blocking recv #{i} -> {s_.recv(100)!r}")
            except OSError as e:
                log(f"  {tag}: non-blocking recv #{i} -> {exc(e)}")
        s_.settimeout(1)
        try:
            log(f"  {tag}: blocking (1 s) recv -> {s_.recv(100)!r}")
        except OSError as e:
            log(f"  {tag}: blocking (1 s) recv -> {exc(e)}")
        s_.close()
    wait_links_gone()

    log("-- accepted side close(): client side")
    cli, conn, _ = connect_pair(0x9B, srv, quiet=True)
    conn.close()
    report("client", cli)
    cli.close()
    wait_links_gone()

    log("-- client shutdown(SHUT_WR): does it close the channel?")
    cli, conn, _ = connect_pair(0x9B, srv, quiet=True)
    cli.shutdown(socket.SHUT_WR)
    log(f"  client after shutdown: poll {pollflags(cli)}")
    report("accepted", conn)
    cli.close()
    conn.close()
    wait_links_gone()

    for who in ("0", "1"):
        peer = A1 if who == "0" else A0
        log(f"-- LE link disconnected by hci{who} (btmgmt disconnect) while a channel is open, data queued")
        cli, conn, _ = connect_pair(0x9B, srv, quiet=True)
        cli.send(b"queued before link loss")
        time.sleep(0.5)
        log("  ", btmgmt("--index", who, "disconnect", "-t", "1", peer).strip())
        report("client (hci0)", cli)
        report("accepted (hci1)", conn)
        log("  links after:", links("hci0"), links("hci1"))
        log("  closing both sockets after the link went down (the 6.1.192 BUG scenario)")
        cli.close()
        conn.close()
        time.sleep(0.5)
        log("  dmesg tail:", run(["dmesg"]).strip().splitlines()[-3:])

    log("-- link disconnected with raw HCI Disconnect (hcitool ledc)")
    cli, conn, _ = connect_pair(0x9B, srv, quiet=True)
    h = conninfo(cli).split("=")[-1]
    log("  ", run(["hcitool", "-i", "hci0", "ledc", h]).strip())
    report("client (hci0)", cli)
    report("accepted (hci1)", conn)
    cli.close()
    conn.close()
    srv.close()
    wait_links_gone()


PSM_CHILD = r"""
import sys
sys.path.insert(0, %r)
import l2cap_probe as p
import os
print("  uid", os.getuid(), "CapEff", [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])
for psm in (0x0001, 0x0025, 0x007f, 0x0080, 0x00ff, 0x0000):
    s = p.l2sock()
    try:
        p.l2bind(s, %r, psm)
        s.listen(1)
        print(f"  bind+listen LE psm 0x{psm:04x}: ok ->", p.name(s))
    except OSError as e:
        print(f"  bind+listen LE psm 0x{psm:04x}:", p.exc(e))
    s.close()
"""


def section_psm():
    log("== psm ranges (as root)")
    held = []
    for psm in (0x0001, 0x0025, 0x007F, 0x0080, 0x00FF, 0x0100, 0x1001, 0x0000, 0x0000):
        s = l2sock()
        try:
            l2bind(s, A1, psm)
            s.listen(1)
            log(f"  bind+listen LE psm 0x{psm:04x}: ok -> {name(s)}")
            held.append(s)
        except OSError as e:
            log(f"  bind+listen LE psm 0x{psm:04x}: {exc(e)}")
            s.close()
    s = l2sock()
    try:
        l2bind(s, A1, 0x0080)
        log("  second bind of psm 0x80 on the same address: ok")
    except OSError as e:
        log("  second bind of psm 0x80 on the same address:", exc(e))
    s.close()
    s = l2sock()
    try:
        l2bind(s, "00:00:00:00:00:00", 0x0080)
        s.listen(1)
        log("  bind psm 0x80 on BDADDR_ANY while hci1's address has it: ok")
    except OSError as e:
        log("  bind psm 0x80 on BDADDR_ANY:", exc(e))
    s.close()
    s = l2sock()
    try:
        l2bind(s, A1, 0x0081, BDADDR_BREDR)
        log("  bind BR/EDR psm 0x0081 (even: invalid for BR/EDR):", "ok")
    except OSError as e:
        log("  bind BR/EDR psm 0x0081:", exc(e))
    s.close()
    for s in held:
        s.close()
    c = l2sock()
    l2bind(c, A0, 0)
    log("  connect to LE psm 0x0100:", ename(l2connect(c, A1, 0x0100)))
    c.close()
    here = os.path.dirname(os.path.abspath(__file__))
    code = PSM_CHILD % (here, A1)
    log("-- as uid 65534 without capabilities")
    log(run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code]).rstrip())
    log("-- as uid 65534 with CAP_NET_BIND_SERVICE (ambient)")
    log(run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+net_bind_service",
             "--ambient-caps=+net_bind_service", sys.executable, "-c", code]).rstrip())


def section_l2test():
    log("== l2test")
    log("  which l2test:", run(["sh", "-c", "command -v l2test"]).strip())
    psm = str(0x9D)  # l2test parses -P with atoi(): decimal only
    srv_log = "/tmp/l2test-srv.log"

    def server(args):
        f = open(srv_log, "w")
        return subprocess.Popen(["l2test", *args], stdout=f, stderr=subprocess.STDOUT), f

    log("-- l2test -r (receive) on hci1, l2test -s (send) from hci0, 20 x 200 bytes")
    p, f = server(["-r", "-V", "le_public", "-P", psm, "-i", "hci1"])
    time.sleep(1)
    out = run(["timeout", "30", "l2test", "-s", "-V", "le_public", "-P", psm, "-i", "hci0",
               "-N", "20", "-b", "200", A1], timeout=40)
    log("  client:", out.strip().replace("\n", " | ")[:1500])
    time.sleep(1)
    p.terminate()
    p.wait()
    f.close()
    log("  server:", open(srv_log).read().strip().replace("\n", " | ")[:1500])
    wait_links_gone()

    log("-- l2test -X ext-flowctl (BT_MODE) on 6.1")
    out = run(["timeout", "10", "l2test", "-r", "-X", "ext-flowctl", "-V", "le_public", "-P", str(0x9F),
               "-i", "hci1"], timeout=20)
    log("  ", out.strip().replace("\n", " | ")[:500])

    log("-- our listener, l2test client sending 5 x 100 bytes (-I/-O 512)")
    srv = listener(0xA1, mtu=512)
    out_p = subprocess.Popen(["timeout", "20", "l2test", "-s", "-V", "le_public", "-P", str(0xA1), "-i", "hci0",
                              "-N", "5", "-b", "100", "-I", "512", "-O", "512", A1],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    el, fl = wait_poll(srv, select.POLLIN, 15)
    if fl != "timeout":
        conn, addr = srv.accept()
        describe("accepted l2test", conn)
        conn.settimeout(5)
        for i in range(5):
            try:
                d = conn.recv(4096)
                log(f"  SDU {i}: {len(d)} bytes, head {d[:8].hex()}")
            except OSError as e:
                log("  recv:", exc(e))
                break
        conn.close()
    out_p.wait()
    log("  l2test:", out_p.stdout.read().strip().replace("\n", " | ")[:800])
    srv.close()
    wait_links_gone()

    log("-- l2test -d (dump) server on hci1, our client sends")
    p, f = server(["-d", "-V", "le_public", "-P", str(0xA3), "-i", "hci1", "-I", "300"])
    time.sleep(1)
    try:
        cli, _, _ = connect_pair(0xA3, None)
        describe("client to l2test", cli)
        cli.setblocking(True)
        for i in range(3):
            cli.send(b"ubt-%d " % i + b"z" * 20)
        time.sleep(1)
        cli.close()
    except OSError as e:
        log("  connect to l2test:", exc(e))
    time.sleep(1)
    p.terminate()
    p.wait()
    f.close()
    log("  l2test server:", open(srv_log).read().strip().replace("\n", " | ")[:1500])
    wait_links_gone()


def section_dmesg():
    log("== dmesg (bluetooth, BUG, list)")
    for ln in run(["dmesg"]).splitlines():
        if re.search(r"Bluetooth|BUG|list_|corrupt|WARNING|Oops|Call Trace", ln):
            log("  " + ln)


def setup():
    global A0, A1
    for idx in ("0", "1"):
        btmgmt("--index", idx, "le", "on")
        btmgmt("--index", idx, "power", "on")
    btmgmt("--index", "1", "connectable", "on")
    log("hci1 advertising on:", btmgmt("--index", "1", "advertising", "on").strip())
    addrs = []
    for idx in ("0", "1"):
        info = btmgmt("--index", idx, "info")
        addrs.append(re.search(r"addr ([0-9A-F:]{17})", info).group(1))
        log(f"hci{idx}:", re.search(r"current settings: ?(.*)", info).group(1))
    A0, A1 = addrs


A0 = A1 = None
SECTIONS = ["info", "basic", "absent", "extra", "rawlink", "reverse", "defer", "flow", "send", "disconnect", "psm", "l2test", "dmesg"]

if __name__ == "__main__":
    wanted = [a for a in sys.argv[1:] if a in SECTIONS] or SECTIONS
    mon = None
    if "btmon" in sys.argv:
        path = os.path.join(os.environ.get("UBT_RESULTS", "/tmp"), "probe.btsnoop")
        mon = subprocess.Popen(["btmon", "-w", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    setup()
    for sec in wanted:
        try:
            globals()["section_" + sec]()
        except Exception as e:  # report and go on with the next section
            import traceback
            log(f"!! section {sec} failed: {exc(e)}")
            traceback.print_exc(file=sys.stdout)
            try:
                wait_links_gone(5)
            except Exception:
                pass
    if mon:
        mon.terminate()
        mon.wait()
