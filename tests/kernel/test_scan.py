"""gap_scan through D-Bus and the Python client, on the real kernel stack:
advertising set up on hci1 by BlueZ's btmgmt (software written elsewhere)
is seen by our scan on hci0 with the exact bytes and the right adv_type."""

import time
import unittest

from harness import Daemon, btmgmt, busctl, controller_info, dbus_call, scan_with_client, stop_cleanly

HCI0 = "/org/ubluetooth/hci0"
ERR = "org.ubluetooth.Error."
ADV_DATA = "0201060bff34127562742d74657374"   # Flags, manufacturer data "ubt-test"
RESP_DATA = "0a09756274207265737030"          # Complete Local Name "ubt resp0"

daemon = None


def setUpModule():
    global daemon
    daemon = Daemon()


def tearDownModule():
    stop_cleanly(daemon)


def scan(duration_ms, active):
    return scan_with_client(daemon, "hci0", duration_ms, active)


class ScanInterop(unittest.TestCase):
    def setUp(self):
        self.assertTrue(dbus_call("/org/ubluetooth/hci1", "Active", "a{sv}", {"active": ("b", True)})[0])
        btmgmt("--index", "1", "clr-adv")

    def tearDown(self):
        btmgmt("--index", "1", "clr-adv")

    def add_adv(self, *flags):
        out = btmgmt("--index", "1", "add-adv", *flags, "1")
        self.assertIn("Instance added", out, out)

    def test_connectable_advertising_seen_with_exact_bytes_and_scan_response_when_active(self):
        self.add_adv("-c", "-d", ADV_DATA, "-s", RESP_DATA)
        addr = controller_info("hci1")["addr"].lower()
        results, done_after = scan(1500, True)
        ours = [r for r in results if r[1] == addr]
        self.assertIn(["0", addr, "0", "127", ADV_DATA], ours, results)   # ADV_IND, btvirt RSSI 127
        self.assertIn(["0", addr, "4", "127", RESP_DATA], ours, results)  # SCAN_RSP, separate
        self.assertGreaterEqual(done_after, 1.4)
        self.assertLess(done_after, 5.0)

    def test_passive_scan_gets_no_scan_response(self):
        self.add_adv("-c", "-d", ADV_DATA, "-s", RESP_DATA)
        results, _ = scan(1000, False)
        self.assertIn(ADV_DATA, [r[4] for r in results], results)
        self.assertNotIn("4", [r[2] for r in results], results)

    def test_scannable_and_non_connectable_types(self):
        self.add_adv("-d", ADV_DATA, "-s", RESP_DATA)
        results, _ = scan(1000, True)
        self.assertIn("2", [r[2] for r in results if r[4] == ADV_DATA], results)  # ADV_SCAN_IND
        btmgmt("--index", "1", "clr-adv")
        self.add_adv("-d", ADV_DATA)
        results, _ = scan(1000, False)
        self.assertIn("3", [r[2] for r in results if r[4] == ADV_DATA], results)  # ADV_NONCONN_IND


class ScanControl(unittest.TestCase):
    def setUp(self):
        self.assertTrue(dbus_call(HCI0, "Active", "a{sv}", {"active": ("b", True)})[0])

    def test_bad_scans_get_their_errors(self):
        cases = [
            ({"duration_ms": ("u", 0), "interval_us": ("u", 2000)}, ERR + "InvalidArgs"),
            ({"duration_ms": ("u", 0), "interval_us": ("u", 20000), "window_us": ("u", 30000)}, ERR + "InvalidArgs"),
            ({"duration_ms": ("s", "1")}, ERR + "InvalidArgs"),
            ({"duration_ms": ("u", 0), "colour": ("u", 1)}, ERR + "InvalidArgs"),
        ]
        for options, error in cases:
            with self.subTest(options=options):
                self.assertEqual(dbus_call(HCI0, "GapScan", "a{sv}", options)[:2], (False, error))

    def test_scan_while_scanning_is_in_progress_and_stop_ends_it(self):
        self.assertEqual(dbus_call(HCI0, "GapScan", "a{sv}", {"duration_ms": ("u", 0)}), (True, ()))
        self.assertEqual(dbus_call(HCI0, "GapScan", "a{sv}", {"duration_ms": ("u", 0)})[:2],
                         (False, ERR + "InProgress"))
        self.assertEqual(dbus_call(HCI0, "GapScan", "a{sv}", {}), (True, ()))
        self.assertEqual(dbus_call(HCI0, "GapScan", "a{sv}", {"duration_ms": ("u", 100)}), (True, ()))
        time.sleep(0.5)
        self.assertEqual(dbus_call(HCI0, "GapScan", "a{sv}", {"duration_ms": ("u", 100)}), (True, ()))
        self.assertTrue(daemon.alive())

    def test_dropped_events_counter_is_readable(self):
        scan(200, False)
        r = busctl("get-property", "org.ubluetooth", HCI0, "org.ubluetooth.BLE1", "DroppedEvents")
        self.assertEqual(r.stdout.strip(), "t 0", r.stderr)  # the default rxbuf holds a short scan

    def test_scan_needs_the_radio(self):
        self.assertTrue(dbus_call(HCI0, "Active", "a{sv}", {"active": ("b", False)})[0])
        self.assertEqual(dbus_call(HCI0, "GapScan", "a{sv}", {"duration_ms": ("u", 0)})[:2],
                         (False, ERR + "NotActive"))
