"""The foundation through D-Bus on the real kernel stack: adapters as objects,
active() and config() checked with btmgmt, errors for bad input, the bus
policy, hot-plugged controllers and the Python client."""

import os
import re
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from harness import (BUS_NAME, Daemon, RESULTS, SOURCE_DIR, busctl, call, controller_info, dbus_call,
                     kernel_identity, name_has_owner, python_client, stop_cleanly, uptime)

HCI0 = "/org/ubluetooth/hci0"
HCI1 = "/org/ubluetooth/hci1"
ERR = "org.ubluetooth.Error."

daemon = None


def setUpModule():
    global daemon
    daemon = Daemon()
    # A figure for the log, not an assertion.
    print(f"\ntestbed: daemon ready {daemon.ready_after:.2f} s after start, "
          f"{uptime():.2f} s after the VM kernel booted", flush=True)


def tearDownModule():
    stop_cleanly(daemon)


def set_active(path, on):
    ok, out = call(path, "Active", "a{sv}", 1, "active", "b", "true" if on else "false")
    assert ok, out
    return out


class AdapterObjects(unittest.TestCase):
    def test_each_controller_is_an_object_listed_by_the_object_manager(self):
        r = busctl("call", BUS_NAME, "/org/ubluetooth", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(HCI0, r.stdout)
        self.assertIn(HCI1, r.stdout)
        self.assertIn("org.ubluetooth.BLE1", r.stdout)

    def test_introspection_shows_every_method_and_signal_of_the_contract(self):
        r = busctl("introspect", "--xml-interface", BUS_NAME, HCI0)
        self.assertEqual(r.returncode, 0, r.stderr)
        live = ET.fromstring(r.stdout).find("interface[@name='org.ubluetooth.BLE1']")
        self.assertIsNotNone(live, r.stdout)
        contract = ET.parse(os.path.join(SOURCE_DIR, "dbus", "org.ubluetooth.BLE1.xml")).getroot()
        contract = contract.find("interface")

        def members(interface, kind):
            return {m.get("name"): "".join(a.get("type") + (a.get("direction") or "out")
                                           for a in m.findall("arg"))
                    for m in interface.findall(kind)}

        for kind in ("method", "signal"):
            self.assertEqual(members(live, kind), members(contract, kind), kind)
        self.assertEqual(len(members(live, "signal")), 31)

    def test_an_unknown_adapter_path_is_an_unknown_object(self):
        ok, out = call("/org/ubluetooth/hci9", "Active", "a{sv}", 0)
        self.assertFalse(ok)
        self.assertRegex(out, "Unknown object|UnknownObject|Unknown method|UnknownMethod")
        self.assertTrue(daemon.alive())


class ActiveAndConfig(unittest.TestCase):
    def test_active_powers_the_controller_with_le_on_and_off(self):
        self.assertEqual(set_active(HCI0, True), "b true")
        info = controller_info("hci0")
        self.assertIn("powered", info["settings"])
        self.assertIn("le", info["settings"])
        ok, out = call(HCI0, "Active", "a{sv}", 0)
        self.assertEqual((ok, out), (True, "b true"))

        self.assertEqual(set_active(HCI0, False), "b false")
        self.assertNotIn("powered", controller_info("hci0")["settings"])
        self.assertEqual(call(HCI0, "Active", "a{sv}", 0), (True, "b false"))

    def test_active_follows_a_power_change_made_by_another_tool(self):
        set_active(HCI1, True)
        subprocess.run(["script", "-qec", "btmgmt --index 1 power off", "/dev/null"], capture_output=True)
        deadline = time.monotonic() + 5
        while call(HCI1, "Active", "a{sv}", 0) != (True, "b false"):
            self.assertLess(time.monotonic(), deadline, "Active() still true after btmgmt power off")
            time.sleep(0.1)

    def test_mac_is_the_address_btmgmt_reports(self):
        set_active(HCI0, True)
        ok, out = call(HCI0, "ConfigGet", "s", "mac")
        self.assertTrue(ok, out)
        addr = controller_info("hci0")["addr"]
        expected = "v (yay) 0 6 " + " ".join(str(int(b, 16)) for b in addr.split(":"))
        self.assertEqual(out, expected)

    def test_mac_needs_the_radio_active(self):
        set_active(HCI0, False)
        ok, name, message = dbus_call(HCI0, "ConfigGet", "s", "mac")
        self.assertEqual((ok, name), (False, ERR + "NotActive"))
        self.assertIn("active(True)", message)

    def test_gap_name_becomes_the_controller_name(self):
        ok, out = call(HCI0, "ConfigSet", "a{sv}", 1, "gap_name", "s", "ubt-test-name")
        self.assertTrue(ok, out)
        self.assertEqual(controller_info("hci0")["name"], "ubt-test-name")
        self.assertEqual(call(HCI0, "ConfigGet", "s", "gap_name"), (True, 'v s "ubt-test-name"'))

    def test_rxbuf_mtu_and_addr_mode_round_trip(self):
        ok, out = call(HCI1, "ConfigSet", "a{sv}", 2, "mtu", "q", 185, "rxbuf", "u", 4096)
        self.assertTrue(ok, out)
        self.assertEqual(call(HCI1, "ConfigGet", "s", "mtu"), (True, "v u 185"))
        self.assertEqual(call(HCI1, "ConfigGet", "s", "rxbuf"), (True, "v u 4096"))
        self.assertEqual(call(HCI1, "ConfigGet", "s", "addr_mode"), (True, "v u 0"))

    def test_random_address_mode_gives_a_static_random_mac(self):
        set_active(HCI1, True)
        ok, out = call(HCI1, "ConfigSet", "a{sv}", 1, "addr_mode", "u", 1)
        self.assertTrue(ok, out)
        self.assertEqual(call(HCI1, "Active", "a{sv}", 0), (True, "b true"))
        ok, out = call(HCI1, "ConfigGet", "s", "mac")
        self.assertTrue(ok, out)
        fields = out.split()
        self.assertEqual(fields[:4], ["v", "(yay)", "1", "6"])
        self.assertEqual(int(fields[4]) & 0xC0, 0xC0, out)  # static random: top two bits set
        # The kernel really uses it: its identity is that static random address.
        mac = ":".join("%02X" % int(b) for b in fields[4:10])
        self.assertEqual(kernel_identity("hci1"), (mac, 1))
        self.assertEqual(call(HCI1, "ConfigSet", "a{sv}", 1, "addr_mode", "u", 0)[0], True)
        self.assertEqual(call(HCI1, "ConfigGet", "s", "mac")[1].split()[2], "0")
        self.assertEqual(kernel_identity("hci1"), (controller_info("hci1")["addr"], 0))

    def test_rpa_mode_turns_kernel_privacy_on(self):
        set_active(HCI1, True)
        self.assertTrue(call(HCI1, "ConfigSet", "a{sv}", 1, "addr_mode", "u", 2)[0])
        self.assertIn("privacy", controller_info("hci1")["settings"])
        self.assertTrue(call(HCI1, "ConfigSet", "a{sv}", 1, "addr_mode", "u", 0)[0])
        self.assertNotIn("privacy", controller_info("hci1")["settings"])


class BadInput(unittest.TestCase):
    cases = [
        # (method, signature, args, expected error)
        ("ConfigGet", "s", ("colour",), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"colour": ("u", 1)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"mtu": ("s", "big")},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"mtu": ("u", 22)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"mtu": ("u", 518)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"mtu": ("ay", b"\x01")},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"rxbuf": ("t", 2 ** 40)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"rxbuf": ("x", -1)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"addr_mode": ("u", 4)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"gap_name": ("u", 5)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"gap_name": ("s", "x" * 249)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"mac": ("s", "00:11:22:33:44:55")},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"mtu": ("u", 100), "colour": ("u", 1)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"bond": ("u", 1)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"io": ("u", 5)},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"io": ("s", "3")},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"mitm": ("s", "yes")},), ERR + "InvalidArgs"),
        ("ConfigSet", "a{sv}", ({"io": ("u", 1), "le_secure": ("u", 1)},), ERR + "InvalidArgs"),
        ("Active", "a{sv}", ({"active": ("s", "yes")},), ERR + "InvalidArgs"),
        ("Active", "a{sv}", ({"power": ("b", True)},), ERR + "InvalidArgs"),
        ("Active", "s", ("yes",), "org.freedesktop.DBus.Error.InvalidArgs"),
        ("NoSuchMethod", "", (), "org.freedesktop.DBus.Error.UnknownMethod"),
        ("GapConnect", "yaya{sv}", (0, b"\x00" * 5, {}), ERR + "InvalidArgs"),
        ("GattsRead", "q", (1,), ERR + "InvalidArgs"),  # a GAP declaration, not a registered value
        ("GattsRegisterServices", "a(sa(sua(su)))", ([("180x", [])],), ERR + "InvalidArgs"),
        ("GattsRegisterServices", "a(sa(sua(su)))", ([("180d", [("2a37", 0x8000, [])])],), ERR + "InvalidArgs"),
        ("GattsWrite", "qaya{sv}", (10, b"x", {"send": ("b", True)}), ERR + "InvalidArgs"),
        ("GattsSetBuffer", "qua{sv}", (10, 70000, {}), ERR + "InvalidArgs"),
        ("GattcRead", "qq", (0x0eff, 3), ERR + "NotFound"),
        ("GattcDiscoverServices", "qa{sv}", (0x0eff, {"uuid": ("u", 0x180d)}), ERR + "InvalidArgs"),
        ("GattcWrite", "qqaya{sv}", (0x0eff, 3, b"x", {}), ERR + "NotFound"),
        ("L2capListen", "qq", (0, 512), ERR + "InvalidArgs"),
        ("L2capListen", "qq", (0x100, 512), ERR + "InvalidArgs"),
        ("L2capListen", "qq", (128, 22), ERR + "InvalidArgs"),
        ("L2capConnect", "qqq", (0x0eff, 128, 512), ERR + "NotFound"),
        ("L2capSend", "qqay", (0x0eff, 0x40, b"x"), ERR + "NotFound"),
        ("L2capRecvinto", "qqa{sv}", (0x0eff, 0x40, {}), ERR + "NotFound"),
        ("L2capRecvinto", "qqa{sv}", (0x0eff, 0x40, {"max": ("u", 1)}), ERR + "InvalidArgs"),
        ("L2capDisconnect", "qq", (0x0eff, 0x40), ERR + "NotFound"),
        ("L2capAcquire", "qq", (0x0eff, 0x40), ERR + "NotFound"),
        ("GapPair", "q", (0x0eff,), ERR + "NotFound"),
        ("GapPasskey", "quu", (0x0eff, 2, 123456), ERR + "NotFound"),
        ("GapPasskey", "quu", (0x0eff, 1, 0), ERR + "InvalidArgs"),
        ("GapUnpair", "yay", (0, b"\x00\xaa\x01\x00\xde\xad"), ERR + "NotFound"),
        ("GapUnpair", "yay", (2, b"\x00\xaa\x01\x00\xde\xad"), ERR + "InvalidArgs"),
        ("GapUnpair", "yay", (0, b"\x00\xaa"), ERR + "InvalidArgs"),
        ("UnregisterHandler", "o", ("/never/registered",), ERR + "NotFound"),
    ]

    def test_each_bad_call_gets_its_error_and_changes_nothing(self):
        keys = ("mtu", "rxbuf", "addr_mode", "gap_name", "io", "bond", "mitm", "le_secure")
        before = {k: dbus_call(HCI0, "ConfigGet", "s", k) for k in keys}
        for method, signature, args, error in self.cases:
            with self.subTest(method=method, args=args):
                reply = dbus_call(HCI0, method, signature, *args)
                self.assertEqual(reply[:2], (False, error), reply)
                self.assertTrue(reply[2], "an error must come with a message")
        self.assertTrue(daemon.alive())
        self.assertEqual(before, {k: dbus_call(HCI0, "ConfigGet", "s", k) for k in keys})

    def test_calls_while_inactive(self):
        set_active(HCI0, False)
        self.assertEqual(dbus_call(HCI0, "ConfigGet", "s", "mac")[:2], (False, ERR + "NotActive"))
        self.assertEqual(dbus_call(HCI0, "L2capListen", "qq", 128, 512)[:2], (False, ERR + "NotActive"))
        # Everything but 'mac' can be read and set while inactive.
        self.assertTrue(dbus_call(HCI0, "ConfigGet", "s", "mtu")[0])
        self.assertTrue(dbus_call(HCI0, "ConfigGet", "s", "gap_name")[0])

    def test_handler_registration(self):
        self.assertEqual(dbus_call(HCI0, "RegisterHandler", "o", "/test/handler"), (True, ()))
        self.assertEqual(dbus_call(HCI0, "UnregisterHandler", "o", "/test/handler"), (True, ()))
        self.assertEqual(dbus_call(HCI0, "UnregisterHandler", "o", "/test/handler")[:2], (False, ERR + "NotFound"))


class BusPolicy(unittest.TestCase):
    policy_installed = bool(os.environ.get("UBT_DBUS_POLICY"))

    def test_policy_file_is_under_test(self):
        self.assertTrue(self.policy_installed, "run with UBT_DBUS_POLICY=systemd/org.ubluetooth.conf")

    def test_a_user_outside_root_and_bluetooth_is_refused(self):
        ok, out = call(HCI0, "Active", "a{sv}", 0, user="nobody")
        self.assertFalse(ok)
        self.assertRegex(out, "Access denied|AccessDenied")

    def test_a_member_of_group_bluetooth_may_call(self):
        ok, out = call(HCI0, "Active", "a{sv}", 0, user="nobody", groups="bluetooth")
        self.assertTrue(ok, out)


class HotPlug(unittest.TestCase):
    def test_a_controller_added_later_appears_and_its_removal_removes_it(self):
        monitor = subprocess.Popen(["dbus-monitor", "--system",
                                    "type='signal',interface='org.freedesktop.DBus.ObjectManager'"],
                                   stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)  # let dbus-monitor subscribe
            log = open(os.path.join(RESULTS, "btvirt-hotplug.log"), "w")
            extra = subprocess.Popen(["btvirt", "-l1"], stdout=log, stderr=subprocess.STDOUT)
            path = self.wait_for_new_object()
            ok, out = call(path, "Active", "a{sv}", 0)
            self.assertTrue(ok, out)
            extra.terminate()
            extra.wait(timeout=10)
            deadline = time.monotonic() + 10
            while call(path, "Active", "a{sv}", 0)[0]:
                self.assertLess(time.monotonic(), deadline, f"{path} still answers after its controller left")
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            monitor.terminate()
            signals = monitor.communicate(timeout=10)[0]
        self.assertRegex(signals, r"member=InterfacesAdded[\s\S]*" + re.escape(path))
        self.assertRegex(signals, r"member=InterfacesRemoved[\s\S]*" + re.escape(path))

    def wait_for_new_object(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = busctl("tree", "--list", BUS_NAME)
            extra = [p for p in r.stdout.split() if re.fullmatch(r"/org/ubluetooth/hci([4-9]|\d\d+)", p)]
            if extra:
                return extra[0]
            time.sleep(0.2)
        self.fail("no new adapter object within 15 s of starting btvirt -l1")


class PythonClient(unittest.TestCase):
    def test_a_micropython_style_script_runs_unchanged_but_for_its_import(self):
        r = python_client(
            "import ubluetooth as bluetooth\n"
            "from micropython import const\n"
            "_IRQ_SCAN_DONE = const(6)\n"
            "ble = bluetooth.BLE()\n"
            "ble.active(True)\n"
            "print(ble.config('mac'))\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        addr = controller_info("hci0")["addr"]
        expected = "(0, b'" + "".join("\\x%02x" % int(b, 16) if not (0x20 <= int(b, 16) < 0x7f) or b in ("27", "5C")
                                      else chr(int(b, 16)) for b in addr.split(":")) + "')"
        self.assertEqual(r.stdout.strip(), expected)

    def test_client_errors_follow_micropython(self):
        r = python_client(
            "import ubluetooth as bluetooth, errno\n"
            "ble = bluetooth.BLE('hci1')\n"
            "ble.active(False)\n"
            "try:\n"
            "    ble.config('mac')\n"
            "except OSError as e:\n"
            "    print('OSError', e.errno == errno.ENODEV)\n"
            "try:\n"
            "    ble.config(mtu=5)\n"
            "except ValueError:\n"
            "    print('ValueError')\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split("\n")[:2], ["OSError True", "ValueError"])


class Restart(unittest.TestCase):
    def test_adapter_option_restricts_and_sigterm_stops_cleanly(self):
        global daemon
        self.assertEqual(daemon.stop(), 0, daemon.log_text())
        self.assertFalse(name_has_owner())
        only = Daemon("--adapter", "hci1")
        try:
            r = busctl("tree", "--list", BUS_NAME)
            self.assertIn(HCI1, r.stdout)
            self.assertNotIn(HCI0, r.stdout)
        finally:
            self.assertEqual(only.stop(), 0, only.log_text())
        daemon = Daemon()
