"""GATT on the real kernel stack: our client (hci0, central) against our
server (hci1, peripheral) through the Python client in this process, and
BlueZ's gatttool as a client of our server."""

import os
import select
import signal
import subprocess
import time
import unittest

from harness import CLIENT_PATH, PYTHON, Daemon, Radio, stop_cleanly

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_GATTS_READ_REQUEST = 4
_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_PERIPHERAL_DISCONNECT = 8
_IRQ_GATTC_SERVICE_RESULT = 9
_IRQ_GATTC_SERVICE_DONE = 10
_IRQ_GATTC_CHARACTERISTIC_RESULT = 11
_IRQ_GATTC_CHARACTERISTIC_DONE = 12
_IRQ_GATTC_DESCRIPTOR_RESULT = 13
_IRQ_GATTC_DESCRIPTOR_DONE = 14
_IRQ_GATTC_READ_RESULT = 15
_IRQ_GATTC_READ_DONE = 16
_IRQ_GATTC_WRITE_DONE = 17
_IRQ_GATTC_NOTIFY = 18
_IRQ_GATTC_INDICATE = 19
_IRQ_GATTS_INDICATE_DONE = 20
_IRQ_MTU_EXCHANGED = 21

_FLAG_READ = 0x0002
_FLAG_WRITE_NO_RESPONSE = 0x0004
_FLAG_WRITE = 0x0008
_FLAG_NOTIFY = 0x0010
_FLAG_INDICATE = 0x0020

ATT_BASE = 0x100  # statuses of ATT errors, as MicroPython's NimBLE port numbers them

UART = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
UART_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
UART_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"

daemon = None
radios = {}
ubluetooth = None


def setUpModule():
    global daemon, ubluetooth
    daemon = Daemon()
    for name in ("hci0", "hci1", "hci2"):
        radios[name] = Radio(name)
    import ubluetooth as module  # Radio put the client on the path
    ubluetooth = module


def tearDownModule():
    for r in radios.values():
        r.ble.irq(None)
    stop_cleanly(daemon)


def services():
    u = ubluetooth.UUID
    return (
        (u(0x180D), ((u(0x2A37), _FLAG_READ | _FLAG_NOTIFY | _FLAG_INDICATE),)),
        (u(UART), (
            (u(UART_TX), _FLAG_READ | _FLAG_NOTIFY),
            (u(UART_RX), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE, ((u(0x2901), _FLAG_READ),)),
            (u(0x2A1B), _FLAG_WRITE),
        )),
    )


class Gatt(unittest.TestCase):
    """hci1 serves; hci0 connects to it and is the client."""

    def setUp(self):
        self.client, self.server = radios["hci0"], radios["hci1"]
        self.server.ble.gap_advertise(None)
        ((self.hr,), (self.tx, self.rx, self.rx_description, self.write_only)) = \
            self.server.ble.gatts_register_services(services())
        self.connect()

    def connect(self):
        for r in radios.values():
            r.drain()
        self.server.ble.gap_advertise(50000, b"\x02\x01\x06")
        self.client.ble.gap_connect(0, self.server.addr)
        self.conn = self.client.wait(_IRQ_PERIPHERAL_CONNECT)[0]
        self.server_conn = self.server.wait(_IRQ_CENTRAL_CONNECT)[0]

    def disconnect(self):
        if self.client.ble.gap_disconnect(self.conn):
            self.client.wait(_IRQ_PERIPHERAL_DISCONNECT)
            self.server.wait(_IRQ_CENTRAL_DISCONNECT)

    def reconnect_with_mtus(self, client_mtu, server_mtu):
        """config(mtu) is offered in exchanges on connections made after it."""
        self.disconnect()
        self.client.ble.config(mtu=client_mtu)
        self.server.ble.config(mtu=server_mtu)
        self.connect()

    def tearDown(self):
        self.server.ble.irq(self.server.on_event)
        self.disconnect()
        self.client.ble.config(mtu=256)
        self.server.ble.config(mtu=256)

    def results(self, result_event, done_event):
        """The data of each result event up to the done event, and the done event's status."""
        found = []
        while True:
            event, data = self.client.events.get(timeout=10)
            if event == result_event:
                found.append(data[1:])
            elif event == done_event:
                self.assertEqual(data[0], self.conn)
                return found, data[-1]

    def read(self, handle):
        self.client.ble.gattc_read(self.conn, handle)
        value = None
        while True:
            event, data = self.client.events.get(timeout=10)
            if event == _IRQ_GATTC_READ_RESULT:
                value = data[2]
            elif event == _IRQ_GATTC_READ_DONE:
                self.assertEqual(data[:2], (self.conn, handle))
                return value, data[2]

    def write(self, handle, data, mode=1):
        self.client.ble.gattc_write(self.conn, handle, data, mode)
        if mode == 1:
            self.assertEqual(self.client.wait(_IRQ_GATTC_WRITE_DONE), (self.conn, handle, 0))
        self.assertEqual(self.server.wait(_IRQ_GATTS_WRITE), (self.server_conn, handle))

    def subscribe(self, value_handle, cccd):
        """Writes the CCCD after the value; as on MicroPython, no GATTS_WRITE for it."""
        self.client.ble.gattc_write(self.conn, value_handle + 1, cccd, 1)
        self.assertEqual(self.client.wait(_IRQ_GATTC_WRITE_DONE), (self.conn, value_handle + 1, 0))

    def test_discovers_services_characteristics_and_descriptors(self):
        u = ubluetooth.UUID
        self.client.ble.gattc_discover_services(self.conn)
        found, status = self.results(_IRQ_GATTC_SERVICE_RESULT, _IRQ_GATTC_SERVICE_DONE)
        self.assertEqual(status, 0)
        self.assertEqual([s[2] for s in found], [u(0x1800), u(0x1801), u(0x180D), u(UART)])
        uart_start, uart_end = found[3][:2]

        self.client.ble.gattc_discover_services(self.conn, u(UART))
        self.assertEqual(self.results(_IRQ_GATTC_SERVICE_RESULT, _IRQ_GATTC_SERVICE_DONE),
                         ([(uart_start, uart_end, u(UART))], 0))

        self.client.ble.gattc_discover_characteristics(self.conn, uart_start, uart_end)
        chars, status = self.results(_IRQ_GATTC_CHARACTERISTIC_RESULT,
                                     _IRQ_GATTC_CHARACTERISTIC_DONE)
        self.assertEqual(status, 0)
        # (end_handle, value_handle, properties, uuid); TX has a CCCD after its value.
        self.assertEqual(chars, [
            (self.tx + 1, self.tx, _FLAG_READ | _FLAG_NOTIFY, u(UART_TX)),
            (self.rx_description, self.rx, _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE, u(UART_RX)),
            (uart_end, self.write_only, _FLAG_WRITE, u(0x2A1B)),
        ])
        # Searched beyond its service, a characteristic ends before the next
        # one's declaration (here UART's service declaration is included),
        # as on MicroPython: search a service's range for exact ends.
        self.client.ble.gattc_discover_characteristics(self.conn, 1, 0xFFFF, u(0x2A37))
        self.assertEqual(self.results(_IRQ_GATTC_CHARACTERISTIC_RESULT,
                                      _IRQ_GATTC_CHARACTERISTIC_DONE),
                         ([(self.hr + 2, self.hr, _FLAG_READ | _FLAG_NOTIFY | _FLAG_INDICATE,
                            u(0x2A37))], 0))

        self.client.ble.gattc_discover_descriptors(self.conn, self.rx, self.rx_description)
        self.assertEqual(self.results(_IRQ_GATTC_DESCRIPTOR_RESULT, _IRQ_GATTC_DESCRIPTOR_DONE),
                         ([(self.rx_description, u(0x2901))], 0))
        self.client.ble.gattc_discover_descriptors(self.conn, self.tx, self.tx + 1)
        self.assertEqual(self.results(_IRQ_GATTC_DESCRIPTOR_RESULT, _IRQ_GATTC_DESCRIPTOR_DONE),
                         ([(self.tx + 1, u(0x2902))], 0))

    def test_reads_short_and_long_values_and_reports_errors(self):
        self.server.ble.gatts_write(self.tx, b"hello")
        self.assertEqual(self.read(self.tx), (b"hello", 0))
        long_value = bytes(i % 251 for i in range(300))  # Read, then Read Blobs at MTU 23
        self.server.ble.gatts_write(self.tx, long_value)
        self.assertEqual(self.read(self.tx), (long_value, 0))
        self.assertEqual(self.read(self.write_only), (None, ATT_BASE + 0x02))  # Read Not Permitted
        self.assertEqual(self.read(0x0FFF), (None, ATT_BASE + 0x01))  # Invalid Handle

    def test_writes_with_and_without_response(self):
        self.write(self.rx, b"with")
        self.assertEqual(self.server.ble.gatts_read(self.rx), b"with")
        self.write(self.rx, b"without", mode=0)
        self.assertEqual(self.server.ble.gatts_read(self.rx), b"without")
        # Writes are cut to the buffer (20 bytes) unless a local write made it bigger.
        self.write(self.rx, bytes(range(30)))
        self.assertEqual(self.server.ble.gatts_read(self.rx), bytes(range(20)))
        self.server.ble.gatts_write(self.rx, bytes(100))
        long_value = bytes(range(100))  # Prepare Writes and Execute at MTU 23
        self.write(self.rx, long_value)
        self.assertEqual(self.server.ble.gatts_read(self.rx), long_value)
        self.client.ble.gattc_write(self.conn, self.tx, b"x", 1)  # not writable
        self.assertEqual(self.client.wait(_IRQ_GATTC_WRITE_DONE), (self.conn, self.tx, ATT_BASE + 0x03))

    def test_append_buffer_collects_writes_until_read(self):
        self.server.ble.gatts_set_buffer(self.rx, 8, True)
        for chunk in (b"abc", b"def", b"ghijk"):
            self.write(self.rx, chunk)
        self.assertEqual(self.server.ble.gatts_read(self.rx), b"abcdefgh")  # at most 8 kept
        self.assertEqual(self.server.ble.gatts_read(self.rx), b"")  # reading emptied it
        self.write(self.rx, b"xy", mode=0)
        self.assertEqual(self.server.ble.gatts_read(self.rx), b"xy")

    def test_notifications_and_indications(self):
        self.subscribe(self.hr, b"\x03\x00")  # notifications and indications
        self.server.ble.gatts_notify(self.server_conn, self.hr, b"\x06\x48")
        self.assertEqual(self.client.wait(_IRQ_GATTC_NOTIFY), (self.conn, self.hr, b"\x06\x48"))
        self.server.ble.gatts_write(self.hr, b"\x06\x50")
        self.server.ble.gatts_notify(self.server_conn, self.hr)  # the local value
        self.assertEqual(self.client.wait(_IRQ_GATTC_NOTIFY), (self.conn, self.hr, b"\x06\x50"))
        self.server.ble.gatts_indicate(self.server_conn, self.hr)
        self.assertEqual(self.client.wait(_IRQ_GATTC_INDICATE), (self.conn, self.hr, b"\x06\x50"))
        self.assertEqual(self.server.wait(_IRQ_GATTS_INDICATE_DONE), (self.server_conn, self.hr, 0))
        # send_update goes out as the client subscribed: here both ways.
        self.server.ble.gatts_write(self.hr, b"\x06\x51", True)
        self.assertEqual(self.client.wait(_IRQ_GATTC_NOTIFY), (self.conn, self.hr, b"\x06\x51"))
        self.assertEqual(self.client.wait(_IRQ_GATTC_INDICATE), (self.conn, self.hr, b"\x06\x51"))
        self.assertEqual(self.server.wait(_IRQ_GATTS_INDICATE_DONE), (self.server_conn, self.hr, 0))
        # Indications queue behind the one awaiting confirmation; each is confirmed in turn.
        for i in range(5):
            self.server.ble.gatts_indicate(self.server_conn, self.hr, bytes([i]))
        for i in range(5):
            self.assertEqual(self.client.wait(_IRQ_GATTC_INDICATE), (self.conn, self.hr, bytes([i])))
            self.assertEqual(self.server.wait(_IRQ_GATTS_INDICATE_DONE), (self.server_conn, self.hr, 0))

    def test_mtu_exchange_from_the_client_uses_the_smaller_mtu(self):
        self.reconnect_with_mtus(185, 247)
        self.client.ble.gattc_exchange_mtu(self.conn)
        self.assertEqual(self.client.wait(_IRQ_MTU_EXCHANGED), (self.conn, 185))
        self.assertEqual(self.server.wait(_IRQ_MTU_EXCHANGED), (self.server_conn, 185))
        value = bytes(range(180))  # one Read Response at MTU 185
        self.server.ble.gatts_write(self.tx, value)
        self.assertEqual(self.read(self.tx), (value, 0))
        self.subscribe(self.hr, b"\x01\x00")
        self.server.ble.gatts_notify(self.server_conn, self.hr, bytes(200))  # cut to MTU - 3
        self.assertEqual(self.client.wait(_IRQ_GATTC_NOTIFY), (self.conn, self.hr, bytes(182)))

    def test_mtu_exchange_from_the_peripheral_side(self):
        self.reconnect_with_mtus(100, 200)
        self.server.ble.gattc_exchange_mtu(self.server_conn)
        self.assertEqual(self.server.wait(_IRQ_MTU_EXCHANGED), (self.server_conn, 100))
        self.assertEqual(self.client.wait(_IRQ_MTU_EXCHANGED), (self.conn, 100))

    def test_the_peripheral_reads_the_centrals_server(self):
        # Both sides serve: hci1's client reads hci0's GAP Device Name.
        self.client.ble.config(gap_name="central-0")
        self.server.ble.gattc_read(self.server_conn, 3)
        self.assertEqual(self.server.wait(_IRQ_GATTC_READ_RESULT), (self.server_conn, 3, b"central-0"))
        self.assertEqual(self.server.wait(_IRQ_GATTC_READ_DONE), (self.server_conn, 3, 0))

    def test_a_handler_denies_reads_with_its_status(self):
        asked = []

        def handler(event, data):
            if event == _IRQ_GATTS_READ_REQUEST:
                asked.append(data)
                return 0x05 if data[1] == self.tx else 0  # Insufficient Authentication
            self.server.on_event(event, data)
            return None

        self.server.ble.irq(handler)
        self.server.ble.gatts_write(self.tx, b"secret")
        self.server.ble.gatts_write(self.hr, b"\x00\x10")
        self.assertEqual(self.read(self.tx), (None, ATT_BASE + 0x05))
        self.assertEqual(self.read(self.hr), (b"\x00\x10", 0))
        self.assertEqual(asked, [(self.server_conn, self.tx), (self.server_conn, self.hr)])

    def test_a_handler_of_a_non_root_client_in_group_bluetooth_is_called(self):
        # The bus policy lets the daemon call the handler of any client it serves.
        script = ("import time, ubluetooth\n"
                  "ble = ubluetooth.BLE('hci1')\n"
                  "ble.irq(lambda event, data: 0x08 if event == 4 else None)\n"
                  "print('ready', flush=True)\n"
                  "time.sleep(30)\n")
        env = dict(os.environ, PYTHONPATH=CLIENT_PATH)
        client = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=bluetooth",
                                   PYTHON, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
        try:
            self.assertEqual(client.stdout.readline().strip(), "ready")
            self.server.ble.gatts_write(self.tx, b"private")
            self.assertEqual(self.read(self.tx), (None, ATT_BASE + 0x08))  # Insufficient Authorization
        finally:
            client.kill()
            client.wait()
            client.stdout.close()
        # Its registration replaced ours and left with it: register the test's handler again.
        self.server.ble.irq(None)
        self.server.ble.irq(self.server.on_event)
        self.assertEqual(self.read(self.tx), (b"private", 0))

    def test_a_handler_that_does_not_answer_denies_the_read_after_its_timeout(self):
        def handler(event, data):
            if event == _IRQ_GATTS_READ_REQUEST:
                time.sleep(7)  # beyond the daemon's 5 s
                return 0
            self.server.on_event(event, data)
            return None

        self.server.ble.irq(handler)
        self.server.ble.gatts_write(self.tx, b"late")
        started = time.monotonic()
        self.assertEqual(self.read(self.tx), (None, ATT_BASE + 0x0E))  # Unlikely Error
        self.assertLess(time.monotonic() - started, 7)
        time.sleep(2)  # the handler's late answer is ignored
        self.server.ble.irq(self.server.on_event)
        self.assertEqual(self.read(self.tx), (b"late", 0))

    def test_a_disconnect_during_a_read_request_is_harmless(self):
        def handler(event, data):
            if event == _IRQ_GATTS_READ_REQUEST:
                self.server.ble.gap_disconnect(data[0])
                time.sleep(1)
                return 0
            self.server.on_event(event, data)
            return None

        self.server.ble.irq(handler)
        self.client.ble.gattc_read(self.conn, self.tx)
        # The link ends before the answer: the read ends NotConnected (7).
        self.assertEqual(self.client.wait(_IRQ_GATTC_READ_DONE), (self.conn, self.tx, 7))
        self.client.wait(_IRQ_PERIPHERAL_DISCONNECT)
        self.server.wait(_IRQ_CENTRAL_DISCONNECT)
        self.server.ble.irq(self.server.on_event)
        self.assertTrue(daemon.alive())

    def test_bad_calls_are_refused_and_change_nothing(self):
        u = ubluetooth.UUID
        self.server.ble.gap_advertise(50000, b"\x02\x01\x06", connectable=False)
        with self.assertRaises(OSError):  # EBUSY while advertising: stop it first
            self.server.ble.gatts_register_services(services())
        self.server.ble.gap_advertise(None)
        self.assertEqual(self.server.ble.gatts_read(self.hr), b"")  # the services are unchanged
        with self.assertRaises(ValueError):
            self.server.ble.gatts_read(0x0FFF)
        with self.assertRaises(ValueError):
            self.server.ble.gatts_write(2, b"name")  # the GAP service's is not ours to write
        with self.assertRaises(OSError):  # ENOENT: no such connection
            self.client.ble.gattc_read(0x0EFF, 3)
        with self.assertRaises(OSError):
            self.server.ble.gatts_notify(0x0EFF, self.hr)
        with self.assertRaises(ValueError):
            self.client.ble.gattc_discover_characteristics(self.conn, 5, 1)
        with self.assertRaises(ValueError):
            self.client.ble.gattc_write(self.conn, self.rx, bytes(30), 0)  # beyond ATT_MTU - 3
        with self.assertRaises(ValueError):
            self.client.ble.gattc_write(self.conn, self.rx, b"x", 2)
        # The connection still works.
        self.client.ble.gattc_discover_services(self.conn, u(0x180D))
        self.assertEqual(len(self.results(_IRQ_GATTC_SERVICE_RESULT, _IRQ_GATTC_SERVICE_DONE)[0]), 1)
        self.assertTrue(daemon.alive())


class Gatttool(unittest.TestCase):
    """BlueZ's gatttool on hci2 as a client of our server on hci1."""

    def setUp(self):
        self.server = radios["hci1"]
        self.server.ble.gap_advertise(None)
        ((self.hr,), (self.tx, self.rx, _, _)) = self.server.ble.gatts_register_services(services())
        self.server.drain()
        self.target = ["gatttool", "-i", "hci2", "-b", self.server.addr.hex(":"), "-t", "public"]

    def gatttool(self, *args, timeout=60):
        """gatttool's output, and the server's events up to the end of its link."""
        self.server.ble.gap_advertise(50000, b"\x02\x01\x06")  # it stops on each connection
        r = subprocess.run(self.target + list(args), capture_output=True, text=True, timeout=timeout)
        events = []
        while not events or events[-1][0] != _IRQ_CENTRAL_DISCONNECT:
            events.append(self.server.events.get(timeout=20))
        return r.stdout + r.stderr, [event for event, _ in events]

    def test_discovers_reads_and_writes(self):
        out, _ = self.gatttool("--primary")
        self.assertIn("attr handle = 0x000a, end grp handle = 0x000d uuid: 0000180d-0000-1000-8000-00805f9b34fb", out)
        self.assertIn("uuid: " + UART, out)
        out, _ = self.gatttool("--characteristics")
        self.assertIn("char properties = 0x12, char value handle = 0x%04x, uuid = %s" % (self.tx, UART_TX), out)
        self.assertIn("char properties = 0x0c, char value handle = 0x%04x, uuid = %s" % (self.rx, UART_RX), out)
        self.server.ble.gatts_write(self.tx, b"ubt")
        out, _ = self.gatttool("--char-read", "-a", "0x%04x" % self.tx)
        self.assertIn("Characteristic value/descriptor: 75 62 74", out)
        out, events = self.gatttool("--char-write-req", "-a", "0x%04x" % self.rx, "-n", "c0ffee")
        self.assertIn("Characteristic value was written successfully", out)
        self.assertIn(_IRQ_GATTS_WRITE, events)
        self.assertEqual(self.server.ble.gatts_read(self.rx), b"\xc0\xff\xee")

    def test_receives_notifications(self):
        self.server.ble.gap_advertise(50000, b"\x02\x01\x06")
        # Subscribe through the CCCD and keep listening (line-buffered, to see it subscribed).
        seen = ""
        listener = subprocess.Popen(["stdbuf", "-oL"] + self.target + ["--char-write-req", "-a", "0x%04x" % (self.hr + 1),
                                                   "-n", "0100", "--listen"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            conn = self.server.wait(_IRQ_CENTRAL_CONNECT, timeout=30)[0]
            # gatttool has subscribed once it says its write succeeded.
            deadline = time.monotonic() + 30
            while "written successfully" not in seen and time.monotonic() < deadline:
                if select.select([listener.stdout], [], [], 1)[0]:
                    seen += listener.stdout.readline()
            self.assertIn("written successfully", seen)
            self.server.ble.gatts_notify(conn, self.hr, b"\x06\x42")
            self.server.ble.gatts_write(self.hr, b"\x06\x43", True)
            time.sleep(1)
        finally:
            listener.send_signal(signal.SIGINT)
            try:
                out, _ = listener.communicate(timeout=10)
                out = seen + out
            except subprocess.TimeoutExpired:
                listener.kill()
                out, _ = listener.communicate()
                out = seen + out
        self.server.wait(_IRQ_CENTRAL_DISCONNECT, timeout=20)
        self.assertIn("Notification handle = 0x%04x value: 06 42" % self.hr, out)
        self.assertIn("Notification handle = 0x%04x value: 06 43" % self.hr, out)


if __name__ == "__main__":
    unittest.main()
