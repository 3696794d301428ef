#!/usr/bin/python3
"""Benchmark (not a test): GATT data through the daemon between two btvirt
controllers, D-Bus to D-Bus. hci1 serves one characteristic; hci0 connects.
For ATT_MTU 23 and 247, each for a few seconds, as fast as one D-Bus client
can, calling in a loop (window 1) or with 32 calls in flight:
  notify: hci1's GattsNotify calls -> hci0's GattcNotify signals
  write0: hci0's GattcWrite(mode 0) calls -> hci1's GattsWrite signals
Prints calls accepted, refused Busy (the link's send queue was full: the
caller retries), delivered signals, their rate in PDUs and bytes per second,
and the loss: accepted but never delivered, of which rxbuf drops
(DroppedEvents; notifications only).

Run inside the test VM:  tests/vm/run.sh --controllers ext -- tests/bench/gatt_throughput.py"""

import os
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "kernel"))

from harness import BUS_NAME, IFACE, Daemon, dbus_call, stop_cleanly  # noqa: E402
from jeepney import (DBusAddress, HeaderFields, MatchRule, MessageType, Properties,  # noqa: E402
                     message_bus, new_method_call)
from jeepney.io.blocking import open_dbus_connection  # noqa: E402

RUN_S = 4
WINDOWS = (1, 32)  # D-Bus calls in flight: one (a plain loop) or many (pipelined)
CENTRAL, PERIPHERAL = "/org/ubluetooth/hci0", "/org/ubluetooth/hci1"
FLAGS = 0x0002 | 0x0004 | 0x0010  # read, write without response, notify


class Signals(threading.Thread):
    """Counts BLE1 signals per (path, member) and keeps the last data of each."""

    def __init__(self):
        super().__init__(daemon=True)
        self.conn = open_dbus_connection("SYSTEM")
        self.conn.send_and_get_reply(message_bus.AddMatch(MatchRule(type="signal", interface=IFACE)))
        self.counts = {}
        self.last = {}
        self.lock = threading.Lock()

    def run(self):
        while True:
            msg = self.conn.receive()
            key = (msg.header.fields.get(1), msg.header.fields.get(3))  # path, member
            with self.lock:
                self.counts[key] = self.counts.get(key, 0) + 1
                self.last[key] = msg.body

    def count(self, path, member):
        with self.lock:
            return self.counts.get((path, member), 0)

    def wait(self, path, member, after, timeout=15):
        """The data of the first `member` signal beyond count `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.counts.get((path, member), 0) > after:
                    return self.last[(path, member)]
            time.sleep(0.01)
        raise SystemExit(f"no {member} on {path} within {timeout} s")

    def settle(self, path, member):
        """The count once it has stopped growing for a second."""
        last, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < 1:
            now = self.count(path, member)
            if now != last:
                last, stable_since = now, time.monotonic()
            time.sleep(0.05)
        return last


def call(path, method, signature, *args):
    ok, *out = dbus_call(path, method, signature, *args)
    assert ok, (method, out)
    return out[0]


def dropped(path):
    conn = open_dbus_connection("SYSTEM")
    value = conn.send_and_get_reply(Properties(DBusAddress(path, BUS_NAME, IFACE)).get("DroppedEvents")).body[0][1]
    conn.close()
    return value


def flood(path, method, signature, args, window):
    """Calls method for RUN_S seconds with `window` calls in flight: (accepted, refused Busy, seconds)."""
    conn = open_dbus_connection("SYSTEM")
    address = DBusAddress(path, BUS_NAME, IFACE)
    accepted = busy = 0
    start = time.monotonic()
    while time.monotonic() - start < RUN_S:
        for _ in range(window):
            conn.send(new_method_call(address, method, signature, args))
        for _ in range(window):
            reply = conn.receive(timeout=30)
            while reply.header.message_type == MessageType.signal:  # the bus's NameAcquired
                reply = conn.receive(timeout=30)
            if reply.header.message_type == MessageType.method_return:
                accepted += 1
            elif reply.header.fields.get(HeaderFields.error_name) == "org.ubluetooth.Error.Busy":
                busy += 1
            else:
                raise SystemExit(f"{method}: {reply.body}")
    seconds = time.monotonic() - start
    conn.close()
    return accepted, busy, seconds


def connect(signals, mtu):
    for path in (CENTRAL, PERIPHERAL):
        call(path, "ConfigSet", "a{sv}", {"mtu": ("q", mtu)})
    before = (signals.count(CENTRAL, "PeripheralConnect"), signals.count(PERIPHERAL, "CentralConnect"))
    call(PERIPHERAL, "GapAdvertise", "a{sv}", {"interval_us": ("u", 50000), "adv_data": ("ay", b"\x02\x01\x06")})
    addr = call(PERIPHERAL, "ConfigGet", "s", "mac")[0][1][1]  # the variant (yay)
    call(CENTRAL, "GapConnect", "yaya{sv}", 0, bytes(addr), {})
    conn = signals.wait(CENTRAL, "PeripheralConnect", before[0])[0]
    peer_conn = signals.wait(PERIPHERAL, "CentralConnect", before[1])[0]
    if mtu > 23:
        seen = signals.count(CENTRAL, "MtuExchanged")
        call(CENTRAL, "GattcExchangeMtu", "q", conn)
        assert signals.wait(CENTRAL, "MtuExchanged", seen)[1] == mtu
    return conn, peer_conn


def disconnect(signals, conn):
    seen = signals.count(CENTRAL, "PeripheralDisconnect")
    call(CENTRAL, "GapDisconnect", "q", conn)
    signals.wait(CENTRAL, "PeripheralDisconnect", seen)


def row(kind, mtu, window, accepted, busy, seconds, delivered, drops):
    size = mtu - 3
    rate = delivered / seconds
    print(f"{kind:>7} {mtu:>4} {window:>6} {accepted:>9} {busy:>6} {delivered:>9} {rate:>8.0f} {rate * size:>9.0f} "
          f"{accepted - delivered:>5} {drops:>11}", flush=True)


def main():
    daemon = Daemon("--log-level", "info")
    signals = Signals()
    signals.start()
    try:
        for path in (CENTRAL, PERIPHERAL):
            call(path, "Active", "a{sv}", {"active": ("b", True)})
        ((handle,),) = call(PERIPHERAL, "GattsRegisterServices", "a(sa(sua(su)))",
                            [("180d", [("2a37", FLAGS, [])])])[0]
        print(f"{RUN_S} s per row, one D-Bus client, values of ATT_MTU - 3 bytes, default rxbuf")
        print(f"{'kind':>7} {'mtu':>4} {'window':>6} {'accepted':>9} {'busy':>6} {'delivered':>9} {'PDU/s':>8} {'bytes/s':>9} "
              f"{'lost':>5} {'rxbuf drops':>11}")
        for mtu in (23, 247):
            conn, peer_conn = connect(signals, mtu)
            payload = bytes(i % 256 for i in range(mtu - 3))

            call(PERIPHERAL, "GattsSetBuffer", "qua{sv}", handle, mtu, {})
            for window in WINDOWS:
                before, drops_before = signals.count(CENTRAL, "GattcNotify"), dropped(CENTRAL)
                accepted, busy, seconds = flood(PERIPHERAL, "GattsNotify", "qqa{sv}",
                                                (peer_conn, handle, {"data": ("ay", payload)}), window)
                delivered = signals.settle(CENTRAL, "GattcNotify") - before
                row("notify", mtu, window, accepted, busy, seconds, delivered, dropped(CENTRAL) - drops_before)

                before = signals.count(PERIPHERAL, "GattsWrite")
                accepted, busy, seconds = flood(CENTRAL, "GattcWrite", "qqaya{sv}",
                                                (conn, handle, payload, {"mode": ("u", 0)}), window)
                delivered = signals.settle(PERIPHERAL, "GattsWrite") - before
                row("write0", mtu, window, accepted, busy, seconds, delivered, 0)
            disconnect(signals, conn)
    finally:
        stop_cleanly(daemon)


if __name__ == "__main__":
    main()
