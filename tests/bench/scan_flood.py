#!/usr/bin/python3
"""Benchmark (not a test): advertising reports flooded by a fake controller
(tests/kernel/fake_controller.py on /dev/vhci) through the daemon to a D-Bus
client. Prints, per offered rate: reports the controller sent, ScanResult
signals delivered per second, the daemon's CPU time per delivered report, the
reports the daemon dropped for rxbuf (DroppedEvents, default rxbuf) and those
lost before the daemon read them (kernel socket buffer).

Run inside the test VM:  tests/vm/run.sh --controllers none -- tests/bench/scan_flood.py"""

import os
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "kernel"))

from fake_controller import FakeController  # noqa: E402
from harness import BUS_NAME, IFACE, Daemon, dbus_call, stop_cleanly  # noqa: E402
from jeepney import DBusAddress, MatchRule, Properties, message_bus  # noqa: E402
from jeepney.io.blocking import open_dbus_connection  # noqa: E402

SCAN_MS = 4000
RATES = [1000, 5000, 20000, 50000, None]  # reports per second; None: as fast as the fake can


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Receiver(threading.Thread):
    """Counts ScanResult signals until ScanDone."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.conn = open_dbus_connection("SYSTEM")
        for member in ("ScanResult", "ScanDone"):
            rule = MatchRule(type="signal", interface=IFACE, member=member, path=path)
            self.conn.send_and_get_reply(message_bus.AddMatch(rule))
        self.results = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            msg = self.conn.receive(timeout=30)
            member = msg.header.fields.get(3)
            if member == "ScanResult":
                self.results += 1
            elif member == "ScanDone":
                self.done.set()


def dropped(path):
    conn = open_dbus_connection("SYSTEM")
    props = Properties(DBusAddress(path, BUS_NAME, IFACE))
    value = conn.send_and_get_reply(props.get("DroppedEvents")).body[0][1]
    conn.close()
    return value


def main():
    controller = FakeController(bytes.fromhex("00aa02000001"))
    daemon = Daemon("--adapter", controller.name, "--log-level", "info")
    path = f"/org/ubluetooth/{controller.name}"
    ok, out = dbus_call(path, "Active", "a{sv}", {"active": ("b", True)})
    assert ok, out
    print(f"scan of {SCAN_MS} ms per rate, {controller.reports_per_event} reports per HCI event, "
          f"{len(controller.report_data)}-byte payloads, default rxbuf")
    print(f"{'offered/s':>10} {'sent':>8} {'delivered':>9} {'delivered/s':>11} {'cpu us/report':>13} "
          f"{'rxbuf drops':>11} {'lost in kernel':>14}")
    try:
        for rate in RATES:
            controller.rate = rate
            receiver = Receiver(path)
            receiver.start()
            sent_before, dropped_before = controller.reports_sent, dropped(path)
            cpu_before = cpu_seconds(daemon.proc.pid)
            ok, out = dbus_call(path, "GapScan", "a{sv}", {"duration_ms": ("u", SCAN_MS)})
            assert ok, out
            if not receiver.done.wait(SCAN_MS / 1000 + 60):
                raise SystemExit("no ScanDone within a minute of the scan's end")
            cpu = cpu_seconds(daemon.proc.pid) - cpu_before
            sent = controller.reports_sent - sent_before
            drops = dropped(path) - dropped_before
            delivered = receiver.results
            lost = max(0, sent - delivered - drops)
            per_report = cpu / delivered * 1e6 if delivered else float("nan")
            print(f"{rate or 'max':>10} {sent:>8} {delivered:>9} {delivered / (SCAN_MS / 1000):>11.0f} "
                  f"{per_report:>13.1f} {drops:>11} {lost:>14}", flush=True)
            receiver.conn.close()
    finally:
        stop_cleanly(daemon)
        controller.close()


if __name__ == "__main__":
    main()
