#!/usr/bin/python3
"""Benchmark (not a test): bulk data over one LE credit-based L2CAP channel
from hci0 to hci1 (two btvirt controllers on one virtual link), MTU 2048 on
both ends, in three ways, one after the other in the same VM:
  l2test:  BlueZ's l2test -s on hci0 to l2test -r on hci1 (no daemon yet),
           timed from the sender's "Sending ..." to the receiver's line that
           covers the last SDU (l2test prints rates per chunk only); l2test
           checks every SDU and must report no mismatch
  dbus:    the daemon; the Python client's l2cap_send on hci0 (waiting for
           _IRQ_L2CAP_SEND_READY when stalled), _IRQ_L2CAP_RECV and
           l2cap_recvinto on hci1
  fd:      the daemon hands both ends over (l2cap_acquire); plain blocking
           send() and recv() on the sockets
l2test runs once before and once after the daemon (rates drift on a loaded
host); the ratio column is to the mean of its two rates. dbus and fd move
seeded random bytes, compared with what was sent. Both ends run in this one
Python process (a thread sends, the main thread receives).

Bytes moved: UBT_L2CAP_BENCH_BYTES (default 1 MiB; rounded up to whole SDUs).
Run inside the test VM:  tests/vm/run.sh --controllers ext -- tests/bench/l2cap_throughput.py
(for a quick run: UBT_L2CAP_BENCH_BYTES=65536 tests/vm/run.sh ...)"""

import os
import random
import re
import socket
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "kernel"))

from harness import Daemon, Radio, btmgmt, controller_info, stop_cleanly  # noqa: E402
from test_l2cap_interop import L2test, next_event  # noqa: E402

MTU = 2048  # both ends; l2test's -I/-O/-b too
SDUS = max(1, -(-int(os.environ.get("UBT_L2CAP_BENCH_BYTES", 1 << 20)) // MTU))
TOTAL = SDUS * MTU
PSM_L2TEST, PSM_DAEMON = 211, 212  # decimal for l2test
TIMEOUT_S = 600

_IRQ_CENTRAL_CONNECT = 1
_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_L2CAP_CONNECT = 23
_IRQ_L2CAP_DISCONNECT = 24
_IRQ_L2CAP_RECV = 25
_IRQ_L2CAP_SEND_READY = 26


def links(index):
    return re.findall(r"[0-9A-F:]{17}", btmgmt("--index", str(index), "con"))


def wait_no_links(timeout=15):
    deadline = time.monotonic() + timeout
    while links(0) or links(1):
        if time.monotonic() > deadline:
            raise SystemExit(f"links still up after {timeout} s: hci0 {links(0)} hci1 {links(1)}")
        time.sleep(0.5)


def run_l2test(receiver_addr):
    """l2test -s on hci0 -> l2test -r on hci1: seconds for SDUS SDUs of MTU bytes."""
    btmgmt("--index", "1", "connectable", "on")
    btmgmt("--index", "1", "advertising", "on")
    common = ["-V", "le_public", "-P", str(PSM_L2TEST), "-I", str(MTU)]
    # The receiver prints a line per -b bytes: one per 16 SDUs (when they divide the count)
    # keeps its own printing out of the measurement.
    per_line = next(k for k in (16, 8, 4, 2, 1) if SDUS % k == 0)
    receiver = L2test("-r", "-i", "hci1", *common, "-b", str(MTU * per_line))
    sender = None
    try:
        if not receiver.wait_for(lambda t: t.matching(r"Waiting for connection"), 10):
            raise SystemExit(f"l2test -r did not start:\n{receiver.text()}")
        # -g: the sender waits before it disconnects, so that the receiver reads the last SDUs
        # (l2test -r stops at the hang-up without reading what is queued).
        sender = L2test("-s", "-i", "hci0", *common, "-O", str(MTU), "-b", str(MTU), "-N", str(SDUS),
                        "-g", "3000", receiver_addr)
        lines = SDUS // per_line
        deadline = time.monotonic() + TIMEOUT_S
        while len(receiver.totals()) < lines and time.monotonic() < deadline:
            if receiver.eof and sender.eof:
                break
            L2test.pump([receiver, sender], 0.2)
        started = sender.matching(r"Sending \.\.\.")
        done = receiver.matching(r"\]: \d+ bytes in ")
        if not started or receiver.mismatches() or receiver.totals() != [MTU * per_line] * lines:
            raise SystemExit(f"l2test transfer incomplete or damaged: {len(done)} of {lines} lines\n"
                             f"sender:\n{sender.text()}\nreceiver:\n{receiver.text()[-3000:]}")
        return done[-1][0] - started[0][0]
    finally:
        for t in (sender, receiver):
            if t is not None:
                t.stop()
        btmgmt("--index", "1", "advertising", "off")


def open_channel(central, peripheral, conn, peer_conn):
    """A new channel from hci0 to hci1's listener: (cid on hci0, cid on hci1)."""
    central.ble.l2cap_connect(conn, PSM_DAEMON, MTU)
    deadline = time.monotonic() + 30
    event, data = next_event(central, (_IRQ_L2CAP_CONNECT, _IRQ_L2CAP_DISCONNECT), deadline, conn)
    if event != _IRQ_L2CAP_CONNECT or data[3:] != (MTU, MTU):
        raise SystemExit(f"l2cap_connect: event {event} {data}")
    peer_data = next_event(peripheral, (_IRQ_L2CAP_CONNECT,), deadline, peer_conn)[1]
    return data[1], peer_data[1]


def timed(send, receive):
    """Runs send() in a thread and receive() here: (seconds, what receive returned)."""
    failure = []

    def sender():
        try:
            send()
        except BaseException as error:  # reported by the main thread
            failure.append(error)

    thread = threading.Thread(target=sender, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        received = receive(failure)
    finally:
        seconds = time.monotonic() - started
        thread.join(TIMEOUT_S)
    if failure:
        raise SystemExit(f"sender failed: {failure[0]!r}")
    return seconds, received


def run_dbus(central, peripheral, conn, peer_conn, data):
    cid, peer_cid = open_channel(central, peripheral, conn, peer_conn)
    deadline = time.monotonic() + TIMEOUT_S
    stalls = []

    def send():
        for offset in range(0, len(data), MTU):
            if not central.ble.l2cap_send(conn, cid, data[offset:offset + MTU]):
                stalls.append(offset)
                event, got = next_event(central, (_IRQ_L2CAP_SEND_READY, _IRQ_L2CAP_DISCONNECT), deadline, conn)
                if event != _IRQ_L2CAP_SEND_READY or got != (conn, cid, 0):
                    raise RuntimeError(f"waiting for SEND_READY: event {event} {got}")

    def receive(failure):
        received, buf = bytearray(), bytearray(MTU)
        while len(received) < len(data) and not failure:
            event, got = next_event(peripheral, (_IRQ_L2CAP_RECV, _IRQ_L2CAP_DISCONNECT), deadline, peer_conn)
            if event == _IRQ_L2CAP_DISCONNECT:
                raise SystemExit(f"channel closed after {len(received)} bytes: {got}")
            while n := peripheral.ble.l2cap_recvinto(peer_conn, peer_cid, buf):
                received += buf[:n]
        return bytes(received)

    seconds, received = timed(send, receive)
    central.ble.l2cap_disconnect(conn, cid)
    next_event(central, (_IRQ_L2CAP_DISCONNECT,), time.monotonic() + 10, conn)
    return seconds, received, f"{len(stalls)} sends stalled"


def run_fd(central, peripheral, conn, peer_conn, data):
    cid, peer_cid = open_channel(central, peripheral, conn, peer_conn)
    sock, pending = central.ble.l2cap_acquire(conn, cid)
    peer_sock, peer_pending = peripheral.ble.l2cap_acquire(peer_conn, peer_cid)
    rcvbuf = peer_sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    with sock, peer_sock:
        sock.settimeout(60)
        peer_sock.settimeout(60)

        def send():
            for offset in range(0, len(data), MTU):
                sent = sock.send(data[offset:offset + MTU])
                if sent != min(MTU, len(data) - offset):
                    raise RuntimeError(f"send() took {sent} bytes of an SDU")

        def receive(failure):
            received = bytearray(peer_pending)
            while len(received) < len(data) and not failure:
                sdu = peer_sock.recv(MTU)
                if not sdu:  # the sender closes only after all arrived
                    error = peer_sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    raise SystemExit(f"channel closed after {len(received)} bytes (SO_ERROR {error})")
                received += sdu
            return bytes(received)

        seconds, received = timed(send, receive)
    return seconds, received, f"pending {len(pending)}+{len(peer_pending)} bytes, receiver SO_RCVBUF {rcvbuf}"


def main():
    for index in (0, 1):
        btmgmt("--index", str(index), "le", "on")
        btmgmt("--index", str(index), "power", "on")
    hci1_addr = controller_info("hci1")["addr"]
    print(f"{TOTAL} bytes ({SDUS} SDUs of {MTU}) hci0 -> hci1 over one channel, MTU {MTU} both ends", flush=True)

    rows = [("l2test", TOTAL, run_l2test(hci1_addr), "before the daemon; l2test -s -> l2test -r, checked by l2test")]
    wait_no_links()

    daemon = Daemon("--adapter", "hci0", "--adapter", "hci1", "--log-level", "info")
    try:
        central, peripheral = Radio("hci0"), Radio("hci1")
        peripheral.ble.l2cap_listen(PSM_DAEMON, MTU)
        peripheral.ble.gap_advertise(50000, b"\x02\x01\x06")
        central.ble.gap_connect(0, peripheral.addr)
        conn = central.wait(_IRQ_PERIPHERAL_CONNECT, timeout=30)[0]
        peer_conn = peripheral.wait(_IRQ_CENTRAL_CONNECT, timeout=30)[0]
        data = random.Random(2048).randbytes(TOTAL)
        for name, run in (("dbus", run_dbus), ("fd", run_fd)):
            seconds, received, note = run(central, peripheral, conn, peer_conn, data)
            if received != data:
                first = next((i for i, (a, b) in enumerate(zip(received, data)) if a != b),
                             min(len(received), len(data)))
                raise SystemExit(f"{name}: received {len(received)} bytes, first difference at {first}")
            rows.append((name, TOTAL, seconds, note + "; data checked"))
        central.ble.gap_disconnect(conn)
        for radio in (central, peripheral):
            radio.ble.irq(None)
    finally:
        stop_cleanly(daemon)
    wait_no_links()
    # Once more after the daemon: on a loaded host the rates drift; the two runs bracket them.
    rows.append(("l2test", TOTAL, run_l2test(hci1_addr), "after the daemon"))

    reference = TOTAL / ((rows[0][2] + rows[-1][2]) / 2)
    print(f"ratio: to l2test's two runs together ({reference:.0f} bytes/s: bytes over mean seconds)")
    print(f"{'path':<8} {'bytes':>9} {'seconds':>8} {'bytes/s':>9} {'ratio':>6}  notes")
    for name, size, seconds, note in rows:
        rate = size / seconds
        print(f"{name:<8} {size:>9} {seconds:>8.2f} {rate:>9.0f} {rate / reference:>6.2f}  {note}", flush=True)


if __name__ == "__main__":
    main()
