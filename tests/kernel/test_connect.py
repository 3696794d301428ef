"""Connections on the real kernel stack, through the Python client in this
process: gap_connect as central, centrals connecting to us, gap_disconnect
from either side, timeouts, cancel, several links at once, connection
updates, and advertising that stops on connection. Four btvirt controllers
(hci0..hci3) in one process can reach each other."""

import socket
import struct
import subprocess
import time
import unittest

from harness import Daemon, Radio, dbus_call, kernel_irk, rpa_resolves, stop_cleanly

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_SCAN_RESULT = 5
_IRQ_SCAN_DONE = 6
_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_PERIPHERAL_DISCONNECT = 8
_IRQ_CONNECTION_UPDATE = 27
NO_HANDLE = 0xFFFF
ABSENT = bytes.fromhex("00aa0100dead")  # no controller has this address
ERR = "org.ubluetooth.Error."

daemon = None
radios = {}


def setUpModule():
    global daemon
    daemon = Daemon()
    for name in ("hci0", "hci1", "hci2", "hci3"):
        radios[name] = Radio(name)


def tearDownModule():
    for r in radios.values():
        r.ble.irq(None)
    stop_cleanly(daemon)


def connect(central, peripheral, addr_type=0, addr=None):
    """central connects to advertising peripheral: (central's handle, peripheral's handle)."""
    peripheral.ble.gap_advertise(50000, b"\x02\x01\x06")
    central.ble.gap_connect(addr_type, addr or peripheral.addr)
    handle, got_type, got_addr = central.wait(_IRQ_PERIPHERAL_CONNECT)
    assert (got_type, got_addr) == (addr_type, addr or peripheral.addr), (got_type, got_addr)
    their_handle, _, _ = peripheral.wait(_IRQ_CENTRAL_CONNECT)
    return handle, their_handle


def disconnect(central, peripheral, handle):
    """central ends its link; returns the peripheral's CENTRAL_DISCONNECT data."""
    assert central.ble.gap_disconnect(handle)
    central.wait(_IRQ_PERIPHERAL_DISCONNECT)
    return peripheral.wait(_IRQ_CENTRAL_DISCONNECT)


class Connect(unittest.TestCase):
    def setUp(self):
        for r in radios.values():
            r.drain()

    def test_central_connects_and_both_sides_see_the_link_until_gap_disconnect(self):
        hci0, hci1 = radios["hci0"], radios["hci1"]
        started = time.monotonic()
        handle, their_handle = connect(hci0, hci1)
        self.assertLess(time.monotonic() - started, 5)
        # The kernel drops an unused LE link within about 2 s: ours stays.
        hci0.quiet(4, {_IRQ_PERIPHERAL_DISCONNECT})
        self.assertTrue(hci0.ble.gap_disconnect(handle))
        self.assertEqual(hci0.wait(_IRQ_PERIPHERAL_DISCONNECT), (handle, 0, hci1.addr))
        self.assertEqual(hci1.wait(_IRQ_CENTRAL_DISCONNECT), (their_handle, 0, hci0.addr))
        self.assertFalse(hci0.ble.gap_disconnect(handle))  # gone now

    def test_the_peripheral_side_can_disconnect(self):
        hci0, hci1 = radios["hci0"], radios["hci1"]
        handle, their_handle = connect(hci0, hci1)
        self.assertTrue(hci1.ble.gap_disconnect(their_handle))
        self.assertEqual(hci1.wait(_IRQ_CENTRAL_DISCONNECT), (their_handle, 0, hci0.addr))
        self.assertEqual(hci0.wait(_IRQ_PERIPHERAL_DISCONNECT), (handle, 0, hci1.addr))

    def test_advertising_stops_on_connection_and_does_not_resume(self):
        hci0, hci1, hci2 = radios["hci0"], radios["hci1"], radios["hci2"]
        handle, _ = connect(hci0, hci1)
        self.assertNotIn(hci1.addr, self.advertisers_seen_by(hci2))
        disconnect(hci0, hci1, handle)
        self.assertNotIn(hci1.addr, self.advertisers_seen_by(hci2))
        hci1.ble.gap_advertise(50000, b"\x02\x01\x06")  # until called again
        self.assertIn(hci1.addr, self.advertisers_seen_by(hci2))
        hci1.ble.gap_advertise(None)

    def advertisers_seen_by(self, scanner):
        scanner.drain()
        scanner.ble.gap_scan(1000, 30000, 30000)
        seen = set()
        while True:
            event, data = scanner.events.get(timeout=10)
            if event == _IRQ_SCAN_RESULT:
                seen.add(data[1])
            elif event == _IRQ_SCAN_DONE:
                return seen

    def test_a_connect_the_controller_cannot_make_ends_in_peripheral_disconnect(self):
        # btvirt fails a connect to an absent address at once (a real
        # controller keeps trying: the timeout and cancel tests use a
        # controller of ours, in test_connect_timeout.py).
        hci0 = radios["hci0"]
        hci0.ble.gap_connect(0, ABSENT, 1500)
        self.assertEqual(hci0.wait(_IRQ_PERIPHERAL_DISCONNECT), (NO_HANDLE, 0, ABSENT))
        hci0.quiet(1, {_IRQ_PERIPHERAL_CONNECT, _IRQ_PERIPHERAL_DISCONNECT})
        with self.assertRaises(OSError):  # nothing left to cancel
            hci0.ble.gap_connect(None)
        handle, _ = connect(hci0, radios["hci1"])  # and the adapter connects normally afterwards
        disconnect(hci0, radios["hci1"], handle)

    def test_three_connections_at_once_as_central_and_peripheral(self):
        hci0, hci1, hci2, hci3 = (radios[n] for n in ("hci0", "hci1", "hci2", "hci3"))
        # btvirt numbers a link the same on both sides, counting the
        # initiator's links; so hci0 is made peripheral first, to keep its
        # handles distinct.
        from3, at3 = connect(hci3, hci0)
        to1, _ = connect(hci0, hci1)
        to2, _ = connect(hci0, hci2)
        self.assertEqual(len({to1, to2, at3}), 3, (to1, to2, at3))
        hci0.quiet(3, {_IRQ_PERIPHERAL_DISCONNECT, _IRQ_CENTRAL_DISCONNECT})
        for h in (to1, to2):
            self.assertTrue(hci0.ble.gap_disconnect(h))
        self.assertTrue(hci0.ble.gap_disconnect(at3))
        ended = {hci0.wait(_IRQ_PERIPHERAL_DISCONNECT)[0], hci0.wait(_IRQ_PERIPHERAL_DISCONNECT)[0]}
        self.assertEqual(ended, {to1, to2})
        self.assertEqual(hci0.wait(_IRQ_CENTRAL_DISCONNECT), (at3, 0, hci3.addr))
        self.assertEqual(hci3.wait(_IRQ_PERIPHERAL_DISCONNECT), (from3, 0, hci0.addr))

    def test_a_connect_while_scanning_ends_the_scan_first_as_on_micropython(self):
        hci0, hci1 = radios["hci0"], radios["hci1"]
        hci1.ble.gap_advertise(50000, b"\x02\x01\x06")
        hci0.ble.gap_scan(0)
        hci0.ble.gap_connect(0, hci1.addr)
        seen = []
        while _IRQ_PERIPHERAL_CONNECT not in seen:
            event, data = hci0.events.get(timeout=10)
            if event in (_IRQ_SCAN_DONE, _IRQ_PERIPHERAL_CONNECT, _IRQ_PERIPHERAL_DISCONNECT):
                seen.append(event)
            if event == _IRQ_PERIPHERAL_CONNECT:
                handle = data[0]
        self.assertEqual(seen, [_IRQ_SCAN_DONE, _IRQ_PERIPHERAL_CONNECT])
        hci1.wait(_IRQ_CENTRAL_CONNECT)
        disconnect(hci0, hci1, handle)

    def test_in_rpa_mode_the_peer_sees_an_address_our_irk_resolves(self):
        hci0, hci1 = radios["hci0"], radios["hci1"]
        try:
            hci0.ble.config(addr_mode=2)
            irk = kernel_irk("hci0")
            handle, their_handle = connect(hci0, hci1)
            _, addr_type, addr = disconnect(hci0, hci1, handle)
        finally:
            hci0.ble.config(addr_mode=0)
        self.assertEqual(addr_type, 1)
        self.assertTrue(rpa_resolves(irk, addr), addr.hex(":"))

    def test_gatttool_discovers_and_reads_our_gap_service(self):
        # BlueZ's gatttool on hci1 as a GATT client of the server on hci0's links.
        hci0, hci1 = radios["hci0"], radios["hci1"]
        hci0.ble.config(gap_name="ubt-gatt")
        target = ["gatttool", "-i", "hci1", "-b", hci0.addr.hex(":"), "-t", "public"]
        outputs = []
        for mode in (["--primary"], ["--char-read", "-a", "0x0003"]):
            hci0.ble.gap_advertise(50000, b"\x02\x01\x06")  # it stops on each connection
            r = subprocess.run(target + mode, capture_output=True, text=True, timeout=60)
            outputs.append(r.stdout + r.stderr)
            hci0.wait(_IRQ_CENTRAL_DISCONNECT, timeout=20)  # gatttool is gone, and with it the link
        self.assertIn("attr handle = 0x0001, end grp handle = 0x0005 uuid: 00001800-0000-1000-8000-00805f9b34fb",
                      outputs[0])
        self.assertIn("attr handle = 0x0006, end grp handle = 0x0009 uuid: 00001801-0000-1000-8000-00805f9b34fb",
                      outputs[0])
        self.assertIn("Characteristic value/descriptor: " + "ubt-gatt".encode().hex(" "), outputs[1])

    def test_connection_update_reaches_both_sides(self):
        hci0, hci1 = radios["hci0"], radios["hci1"]
        handle, their_handle = connect(hci0, hci1)
        # LE Connection Update from the central, sent outside the daemon:
        # interval 40 (50 ms), latency 0, supervision timeout 200 (2 s).
        send_hci_command(0, 0x2013, struct.pack("<HHHHHHH", handle, 40, 40, 0, 200, 0, 0))
        self.assertEqual(hci0.wait(_IRQ_CONNECTION_UPDATE), (handle, 40, 0, 200, 0))
        self.assertEqual(hci1.wait(_IRQ_CONNECTION_UPDATE), (their_handle, 40, 0, 200, 0))
        disconnect(hci0, hci1, handle)

    def test_connect_to_a_random_static_address_and_from_one(self):
        hci0, hci1 = radios["hci0"], radios["hci1"]
        try:
            hci1.ble.config(addr_mode=1)
            hci0.ble.config(addr_mode=1)
            static1 = bytes(hci1.ble.config("mac")[1])
            static0 = bytes(hci0.ble.config("mac")[1])
            hci1.drain()
            handle, their_handle = connect(hci0, hci1, 1, static1)
            self.assertEqual(disconnect(hci0, hci1, handle), (their_handle, 1, static0))
        finally:
            hci0.ble.config(addr_mode=0)
            hci1.ble.config(addr_mode=0)


def send_hci_command(index, opcode, params):
    """Sends one HCI command on a raw socket of hciN, as a tool would."""
    s = socket.socket(socket.AF_BLUETOOTH, socket.SOCK_RAW, socket.BTPROTO_HCI)
    try:
        s.bind((index,))
        s.send(bytes([0x01]) + struct.pack("<HB", opcode, len(params)) + params)
    finally:
        s.close()


class BadInput(unittest.TestCase):
    """Each gets its documented error, and the daemon keeps serving."""

    def check_error(self, method, signature, args, error):
        result = dbus_call("/org/ubluetooth/hci0", method, signature, *args)
        self.assertFalse(result[0], result)
        self.assertEqual(result[1], ERR + error, result)

    def test_invalid_connect_arguments(self):
        self.check_error("GapConnect", "yaya{sv}", (2, ABSENT, {}), "InvalidArgs")
        self.check_error("GapConnect", "yaya{sv}", (0, ABSENT[:5], {}), "InvalidArgs")
        self.check_error("GapConnect", "yaya{sv}", (0, ABSENT, {"min_conn_interval_us": ("u", 1000)}), "InvalidArgs")
        self.check_error("GapConnect", "yaya{sv}", (0, ABSENT, {"colour": ("u", 1)}), "InvalidArgs")
        self.check_error("GapConnectCancel", "", (), "NotFound")
        ok, body = dbus_call("/org/ubluetooth/hci0", "GapDisconnect", "q", 0x0999)
        self.assertTrue(ok)
        self.assertEqual(body, (False,))
