"""Our GATT client against a GATT server not written by us: BlueZ's
bluetoothd, in a VM of its own (tests/vm/run-interop.sh).  The daemon under
test serves hci0 here; the peer's address, GAP name and PnP ID come from the
environment set by tests/vm/interop-guest.sh.

bluetoothd (5.66) offers GAP (0x1800: Device Name, Appearance, Central
Address Resolution), GATT (0x1801: Service Changed with its CCCD, Client
Supported Features, Database Hash, Server Supported Features) and, with
main.conf's DeviceID, Device Information (0x180A: PnP ID).  The handles are
bluetoothd's business: the tests find them by discovery, as a client must.

BluetoothdServer's tests share one connection, made offering MTU 23, so that
the 61-byte Device Name takes Read Blob requests; MtuExchange reconnects
offering 185.  bluetoothd, as a GATT client of our server, discovers it and
exchanges the MTU on each connection meanwhile."""

import os
import queue
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import Daemon, Radio, stop_cleanly  # noqa: E402  (tests/kernel)

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
_IRQ_MTU_EXCHANGED = 21

_FLAG_READ = 0x0002
_FLAG_WRITE = 0x0008
_FLAG_INDICATE = 0x0020

ATT_BASE = 0x100  # statuses of ATT errors, as MicroPython's NimBLE port numbers them
TIMEOUT = 20  # s; the link to the peer is a serial line between two emulated machines

GAP, GATT, DEVICE_INFORMATION = 0x1800, 0x1801, 0x180A
DEVICE_NAME, APPEARANCE, SERVICE_CHANGED, PNP_ID = 0x2A00, 0x2A01, 0x2A05, 0x2A50
CLIENT_SUPPORTED_FEATURES = 0x2B29
CCCD = 0x2902

daemon = None
radio = None
conn = None
ubluetooth = None


def peer(name):
    value = os.environ.get("UBT_INTEROP_PEER_" + name)
    if not value:
        raise RuntimeError(f"UBT_INTEROP_PEER_{name} is not set: run this through tests/vm/run-interop.sh")
    return value


def connect(mtu):
    """(Re)connects to the peer, offering `mtu` in MTU exchanges; returns
    the MTU of bluetoothd's own exchange, made as a client of our server."""
    global conn
    addr = bytes.fromhex(peer("ADDR").replace(":", ""))
    radio.ble.config(mtu=mtu)
    for attempt in (1, 2):
        radio.drain()
        radio.ble.gap_connect(0, addr, 10000)  # public address, 10 s to connect
        conn, addr_type, connected = radio.wait(_IRQ_PERIPHERAL_CONNECT, TIMEOUT)
        if (addr_type, connected) != (0, addr):
            raise AssertionError(f"connected to {addr_type} {connected.hex(':')}, not to the peer")
        # bluetoothd exchanges the MTU as soon as it has set GATT up on a
        # link.  Should the link come before bluetoothd has seen the previous
        # one go, it takes the new ATT channel for a second channel of the
        # old bearer (an EATT channel: no MTU exchange, requests to exchange
        # rejected with Request Not Supported).  That is bluetoothd's race,
        # not ours: try once more.
        try:
            _, exchanged = radio.wait(_IRQ_MTU_EXCHANGED, TIMEOUT)
            return exchanged
        except (AssertionError, queue.Empty):  # Radio.wait's timeouts
            if attempt == 2:
                raise AssertionError("bluetoothd did not exchange the MTU on two connections") from None
            print(f"\n  bluetoothd did not exchange the MTU on connection {conn}: reconnecting", flush=True)
            disconnect()


def disconnect(settle=True):
    """Disconnects; `settle` gives bluetoothd time to see the link go (see connect)."""
    global conn
    if conn is not None and radio.ble.gap_disconnect(conn):
        radio.wait(_IRQ_PERIPHERAL_DISCONNECT, TIMEOUT)
        if settle:
            time.sleep(2)
    conn = None


def setUpModule():
    global daemon, radio, ubluetooth
    peer("ADDR")
    daemon = Daemon()
    radio = Radio("hci0")
    import ubluetooth as module  # Radio put the client on the path
    ubluetooth = module
    # The smallest MTU, so that values longer than 22 bytes take Read Blob
    # requests whatever bluetoothd offers.
    if connect(23) != 23:
        raise AssertionError("bluetoothd's MTU exchange with our server did not settle on 23")


def tearDownModule():
    try:
        if radio is not None:
            disconnect(settle=False)
            radio.ble.irq(None)
    finally:
        if daemon is not None:
            stop_cleanly(daemon)


def uuid(value):
    return ubluetooth.UUID(value)


class Gatt(unittest.TestCase):
    """Client procedures on the module's connection, checked as they go."""

    def results(self, result_event, done_event):
        """The data of each result event (without conn_handle) up to the done
        event, and the done event's status."""
        found = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                event, data = radio.events.get(timeout=max(0, deadline - time.monotonic()))
            except queue.Empty:
                self.fail(f"no event {done_event} within {TIMEOUT} s")
            if event == result_event:
                self.assertEqual(data[0], conn)
                found.append(data[1:])
            elif event == done_event:
                self.assertEqual(data[0], conn)
                return found, data[-1]

    def services(self, filter_uuid=None):
        radio.ble.gattc_discover_services(conn, *([filter_uuid] if filter_uuid else []))
        found, status = self.results(_IRQ_GATTC_SERVICE_RESULT, _IRQ_GATTC_SERVICE_DONE)
        self.assertEqual(status, 0)
        return found  # (start, end, uuid)

    def service(self, service_uuid):
        found = [s for s in self.services() if s[2] == uuid(service_uuid)]
        self.assertEqual(len(found), 1, f"service {service_uuid:#06x} not found exactly once")
        return found[0][:2]

    def characteristics(self, service_uuid):
        start, end = self.service(service_uuid)
        radio.ble.gattc_discover_characteristics(conn, start, end)
        found, status = self.results(_IRQ_GATTC_CHARACTERISTIC_RESULT, _IRQ_GATTC_CHARACTERISTIC_DONE)
        self.assertEqual(status, 0)
        return found  # (end, value_handle, properties, uuid)

    def characteristic(self, service_uuid, char_uuid):
        found = [c for c in self.characteristics(service_uuid) if c[3] == uuid(char_uuid)]
        self.assertEqual(len(found), 1, f"characteristic {char_uuid:#06x} not found exactly once")
        return found[0]

    def read(self, handle):
        radio.ble.gattc_read(conn, handle)
        value = None
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                event, data = radio.events.get(timeout=max(0, deadline - time.monotonic()))
            except queue.Empty:
                self.fail(f"no read done for handle {handle:#06x} within {TIMEOUT} s")
            if event == _IRQ_GATTC_READ_RESULT:
                self.assertEqual(data[:2], (conn, handle))
                value = data[2]
            elif event == _IRQ_GATTC_READ_DONE:
                self.assertEqual(data[:2], (conn, handle))
                return value, data[2]

    def write(self, handle, value, mode=1):
        """Writes; with a response (mode 1) returns the status of WRITE_DONE."""
        radio.ble.gattc_write(conn, handle, value, mode)
        if mode == 1:
            done = radio.wait(_IRQ_GATTC_WRITE_DONE, TIMEOUT)
            self.assertEqual(done[:2], (conn, handle))
            return done[2]
        return None

    def service_changed_cccd(self):
        end, value_handle, properties, _ = self.characteristic(GATT, SERVICE_CHANGED)
        self.assertEqual(properties & _FLAG_INDICATE, _FLAG_INDICATE)
        radio.ble.gattc_discover_descriptors(conn, value_handle, end)
        found, status = self.results(_IRQ_GATTC_DESCRIPTOR_RESULT, _IRQ_GATTC_DESCRIPTOR_DONE)
        self.assertEqual(status, 0)
        return value_handle, found


class BluetoothdServer(Gatt):
    """Discovery, reads and writes of our client on bluetoothd, at MTU 23."""

    def test_discovers_primary_services(self):
        found = self.services()
        print(f"\n  bluetoothd serves: {[(s, e, str(u)) for s, e, u in found]}", flush=True)
        uuids = [u for _, _, u in found]
        for wanted in (GAP, GATT, DEVICE_INFORMATION):
            self.assertIn(uuid(wanted), uuids)
        # In handle order, each a non-empty range, none overlapping.
        for (start, end, _), (next_start, _, _) in zip(found, found[1:] + [(0x10000, 0, None)]):
            self.assertLessEqual(start, end)
            self.assertLess(end, next_start)
        # Discovery by UUID finds the same range.
        gap = [s for s in found if s[2] == uuid(GAP)]
        self.assertEqual(self.services(uuid(GAP)), gap)

    def test_discovers_the_gap_characteristics(self):
        start, end = self.service(GAP)
        chars = self.characteristics(GAP)
        uuids = [c[3] for c in chars]
        self.assertIn(uuid(DEVICE_NAME), uuids)
        self.assertIn(uuid(APPEARANCE), uuids)
        # Value handles inside the service and in order; each characteristic
        # ends before the next one's declaration, the last one at the service's end.
        for (c_end, value, properties, _), following in zip(chars, chars[1:] + [None]):
            self.assertTrue(start < value <= c_end <= end)
            self.assertEqual(c_end, following[1] - 2 if following else end)
            self.assertEqual(properties & _FLAG_READ, _FLAG_READ)

    def test_reads_the_pnp_id(self):
        _, value_handle, properties, _ = self.characteristic(DEVICE_INFORMATION, PNP_ID)
        self.assertEqual(properties & _FLAG_READ, _FLAG_READ)
        self.assertEqual(self.read(value_handle), (bytes.fromhex(peer("PNP_ID")), 0))

    def test_discovers_the_service_changed_cccd(self):
        value_handle, descriptors = self.service_changed_cccd()
        self.assertEqual(descriptors, [(value_handle + 1, uuid(CCCD))])

    def test_writes_the_service_changed_cccd_with_and_without_response(self):
        _, ((cccd, _),) = self.service_changed_cccd()
        self.assertEqual(self.write(cccd, b"\x02\x00"), 0)  # indications on
        self.assertEqual(self.read(cccd), (b"\x02\x00", 0))
        self.write(cccd, b"\x00\x00", mode=0)  # off, by Write Command
        self.assertEqual(self.read(cccd), (b"\x00\x00", 0))

    def test_reports_att_errors_of_the_server(self):
        _, service_changed, _, _ = self.characteristic(GATT, SERVICE_CHANGED)
        self.assertEqual(self.read(service_changed), (None, ATT_BASE + 0x02))  # Read Not Permitted
        _, device_name, _, _ = self.characteristic(GAP, DEVICE_NAME)
        self.assertEqual(self.write(device_name, b"x"), ATT_BASE + 0x03)  # Write Not Permitted
        self.assertEqual(self.read(0xFFF0), (None, ATT_BASE + 0x01))  # Invalid Handle

    def test_writes_client_supported_features(self):
        _, value_handle, properties, _ = self.characteristic(GATT, CLIENT_SUPPORTED_FEATURES)
        self.assertEqual(properties & (_FLAG_READ | _FLAG_WRITE), _FLAG_READ | _FLAG_WRITE)
        self.assertEqual(self.write(value_handle, b"\x01"), 0)  # Robust Caching
        value, status = self.read(value_handle)
        self.assertEqual(status, 0)
        self.assertEqual(value[0] & 0x01, 0x01)

    def test_reads_the_device_name(self):
        _, value_handle, _, _ = self.characteristic(GAP, DEVICE_NAME)
        name = peer("NAME").encode()
        self.assertGreater(len(name), 22)  # Read, then Read Blobs at MTU 23
        self.assertEqual(self.read(value_handle), (name, 0))


class MtuExchange(Gatt):
    """Runs after BluetoothdServer (classes load in name order): it reconnects."""

    def test_exchanges_the_mtu(self):
        disconnect()
        # bluetoothd (517) exchanges with our server first; then our client
        # exchanges with bluetoothd's server: both settle on the smaller MTU.
        self.assertEqual(connect(185), 185)
        radio.ble.gattc_exchange_mtu(conn)
        self.assertEqual(radio.wait(_IRQ_MTU_EXCHANGED, TIMEOUT), (conn, 185))
        # The long name now comes in one Read.
        _, value_handle, _, _ = self.characteristic(GAP, DEVICE_NAME)
        self.assertEqual(self.read(value_handle), (peer("NAME").encode(), 0))


if __name__ == "__main__":
    unittest.main()
