"""gap_advertise through the Python client on the real kernel stack: our
advertising on hci0 is seen by our scan on hci1 with the exact bytes and the
right adv_type, and by BlueZ's btmgmt find (software written elsewhere)."""

import re
import subprocess
import unittest

from harness import Daemon, controller_info, dbus_call, kernel_irk, rpa_resolves, scan_with_client, stop_cleanly

HCI0 = "/org/ubluetooth/hci0"
ERR = "org.ubluetooth.Error."
ADV = "0201060bff34127562742d61647630"  # Flags, manufacturer data "ubt-adv0" (exact, no Flags added)
RESP = "0a09756274207265737031"           # Complete Local Name "ubt resp1"

daemon = None


def setUpModule():
    global daemon
    daemon = Daemon()


def tearDownModule():
    stop_cleanly(daemon)


# Advertising set up on hci0 before hci1 scans, and taken down after.
ADVERTISE = """
adv = bluetooth.BLE('hci0')
adv.active(True)
adv.config(addr_mode={addr_mode})
adv.gap_advertise(100000, {adv_data}, resp_data={resp_data}, connectable={connectable})
"""
STOP_ADVERTISING = """
adv.gap_advertise(None)
adv.config(addr_mode=0)
"""


def advertise_and_scan(adv_data, resp_data, connectable=True, active=True, addr_mode=0):
    """Results seen by hci1 as [addr_type, addr, adv_type, data hex]."""
    setup = ADVERTISE.format(adv_data=adv_data, resp_data=resp_data, connectable=connectable, addr_mode=addr_mode)
    results, _ = scan_with_client(daemon, "hci1", 1000, active, setup=setup, teardown=STOP_ADVERTISING)
    return [[addr_type, addr, adv_type, data] for addr_type, addr, adv_type, _rssi, data in results]


def hexbytes(h):
    return f"bytes.fromhex('{h}')"


class AdvertiseSeenByOurScan(unittest.TestCase):
    def test_connectable_with_scan_response(self):
        results = advertise_and_scan(hexbytes(ADV), hexbytes(RESP))
        addr = controller_info("hci0")["addr"].lower()
        self.assertIn(["0", addr, "0", ADV], results)
        self.assertIn(["0", addr, "4", RESP], results)

    def test_scannable_and_non_connectable(self):
        results = advertise_and_scan(hexbytes(ADV), hexbytes(RESP), connectable=False)
        self.assertIn("2", [r[2] for r in results if r[3] == ADV], results)
        results = advertise_and_scan(hexbytes(ADV), "b''", connectable=False, active=False)
        self.assertIn("3", [r[2] for r in results if r[3] == ADV], results)

    def test_random_static_address_is_the_one_advertised(self):
        results = advertise_and_scan(hexbytes(ADV), "b''", addr_mode=1)
        ours = [r for r in results if r[3] == ADV]
        self.assertTrue(ours, results)
        self.assertEqual(ours[0][0], "1")  # random
        self.assertEqual(int(ours[0][1][:2], 16) & 0xC0, 0xC0, ours)  # static

    def test_nrpa_mode_advertises_from_a_non_resolvable_address(self):
        results = advertise_and_scan(hexbytes(ADV), "b''", addr_mode=3)
        ours = [r for r in results if r[3] == ADV]
        self.assertTrue(ours, results)
        self.assertEqual(ours[0][0], "1")
        self.assertEqual(int(ours[0][1][:2], 16) & 0xC0, 0x00, ours)  # NRPA: top bits 00


class ResolvablePrivateAddress(unittest.TestCase):
    def test_rpa_mode_advertises_from_an_address_our_irk_resolves(self):
        self.assertTrue(dbus_call(HCI0, "Active", "a{sv}", {"active": ("b", True)})[0])
        self.assertTrue(dbus_call(HCI0, "ConfigSet", "a{sv}", {"addr_mode": ("u", 2)})[0])
        try:
            irk = kernel_irk("hci0")  # the IRK the daemon gave the kernel for mode 2
            self.assertNotEqual(irk, bytes(16))
            seen = []
            for _ in range(2):  # each gap_advertise call takes a fresh address
                self.assertTrue(dbus_call(HCI0, "GapAdvertise", "a{sv}", {"interval_us": ("u", 100000),
                                                                          "adv_data": ("ay", bytes.fromhex(ADV))})[0])
                results, _ = scan_with_client(daemon, "hci1", 1000, False)
                ours = [r for r in results if r[4] == ADV]
                self.assertTrue(ours, results)
                self.assertEqual(ours[0][0], "1")  # random
                seen.append(bytes.fromhex(ours[0][1].replace(":", "")))
        finally:
            dbus_call(HCI0, "GapAdvertise", "a{sv}", {})
            dbus_call(HCI0, "ConfigSet", "a{sv}", {"addr_mode": ("u", 0)})
        for addr in seen:
            self.assertTrue(rpa_resolves(irk, addr), addr.hex(":"))
        self.assertNotEqual(seen[0], seen[1])
        self.assertFalse(rpa_resolves(bytes(16), seen[0]))  # and not with any key


class AdvertiseInterop(unittest.TestCase):
    def test_btmgmt_find_sees_our_advertising(self):
        for path in (HCI0, "/org/ubluetooth/hci1"):
            self.assertEqual(dbus_call(path, "Active", "a{sv}", {"active": ("b", True)})[:1], (True,))
        ok = dbus_call(HCI0, "GapAdvertise", "a{sv}", {"interval_us": ("u", 100000),
                                                       "adv_data": ("ay", bytes.fromhex(ADV)),
                                                       "resp_data": ("ay", b"")})
        self.assertEqual(ok, (True, ()))
        addr = controller_info("hci0")["addr"]
        try:
            # hci1 is not busy with a scan of ours here; the kernel discovers through it.
            # Let discovery end by itself (about 10 s): the kernel holds back a
            # connectable device's report for its scan response until then.
            # A second discovery if the first missed us: on a loaded machine
            # btvirt's legacy controllers have been seen to miss a whole one.
            for _ in range(2):
                out = subprocess.run(["script", "-qec", "timeout 25 btmgmt --index 1 find -l", "/dev/null"],
                                     capture_output=True, text=True).stdout
                if re.search(addr + r".*LE Public", out):
                    break
        finally:
            dbus_call(HCI0, "GapAdvertise", "a{sv}", {})
        self.assertRegex(out, addr + r".*LE Public", out)


class AdvertiseBadInput(unittest.TestCase):
    def test_bad_calls(self):
        self.assertTrue(dbus_call(HCI0, "Active", "a{sv}", {"active": ("b", True)})[0])
        cases = [
            {"interval_us": ("u", 19999)},
            {"interval_us": ("u", 100000), "adv_data": ("ay", bytes(252))},
            {"interval_us": ("u", 100000), "resp_data": ("ay", bytes(32))},
            {"interval_us": ("u", 100000), "adv_data": ("s", "text")},
            {"interval_us": ("u", 100000), "colour": ("u", 1)},
        ]
        for options in cases:
            with self.subTest(options=options):
                self.assertEqual(dbus_call(HCI0, "GapAdvertise", "a{sv}", options)[:2], (False, ERR + "InvalidArgs"))
        self.assertTrue(dbus_call(HCI0, "Active", "a{sv}", {"active": ("b", False)})[0])
        self.assertEqual(dbus_call(HCI0, "GapAdvertise", "a{sv}", {"interval_us": ("u", 100000)})[:2],
                         (False, ERR + "NotActive"))
        self.assertTrue(daemon.alive())
