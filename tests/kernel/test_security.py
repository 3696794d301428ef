"""Pairing, bonding and encryption on the real kernel stack (issue #6): the
kernel's Security Manager driven by the daemon, through the Python client in
this process. hci0 is the central of each link, hci1..hci3 the peripherals.
Each class runs its own daemon with a fresh --state-dir; every test leaves
no link, no bond and the default config behind.

IO capabilities (docs/kernel-smp.md, Q2): Just Works 3/3; passkey entry
KeyboardOnly (2) against DisplayOnly (0), the keyboard side types;
numeric comparison DisplayYesNo (1) on both sides with le_secure."""

import errno
import os
import queue
import random
import re
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import unittest

from harness import Daemon, Radio, dbus_call, run, stop_cleanly
from security_helpers import (ADV_DATA, DISCONNECTS, IO_DISPLAY_ONLY, IO_DISPLAY_YESNO, IO_KEYBOARD_ONLY,
                              IO_NO_INPUT_OUTPUT, SECURITY_EVENTS, SMP_WAIT, _IRQ_CENTRAL_CONNECT,
                              _IRQ_CENTRAL_DISCONNECT, _IRQ_ENCRYPTION_UPDATE, _IRQ_GATTC_READ_DONE,
                              _IRQ_GATTC_READ_RESULT, _IRQ_PASSKEY_ACTION, _IRQ_PERIPHERAL_CONNECT,
                              _IRQ_PERIPHERAL_DISCONNECT, _PASSKEY_ACTION_DISPLAY, _PASSKEY_ACTION_INPUT,
                              _PASSKEY_ACTION_NUMERIC_COMPARISON, att_connect, bond_dir, bond_names, bond_path,
                              bonds_root, check_identity, connect, decode_bond, disconnect, hex_addr,
                              next_link_event, pair, stop)

_FLAG_READ = 0x0002
_FLAG_READ_ENCRYPTED = 0x0200
_FLAG_READ_AUTHENTICATED = 0x0400

ATT_BASE = 0x100  # statuses of ATT errors, as MicroPython's NimBLE port numbers them
ATT_INSUFFICIENT_AUTHENTICATION = 0x05
ATT_INSUFFICIENT_ENCRYPTION = 0x0F

NAMES = ("hci0", "hci1", "hci2", "hci3")
DEFAULTS = {"io": IO_NO_INPUT_OUTPUT, "bond": True, "mitm": False, "le_secure": False}
ERR = "org.ubluetooth.Error."
UNKNOWN_HANDLE = 0x0EFF

radios = {}


def start_daemon(state_dir, names=NAMES, rebind=True):
    """A daemon keeping bonds under state_dir, serving `names` (all when NAMES),
    with the radios of those adapters bound to it (their handlers registered
    again unless not `rebind`: events, which are signals, come without)."""
    args = ["--state-dir", state_dir]
    if names != NAMES:
        for name in names:
            args += ["--adapter", name]
    daemon = Daemon(*args)
    for name in names:
        if name not in radios:
            radios[name] = Radio(name)
            continue
        r = radios[name]
        if not rebind:
            continue
        # The handler registration went with the previous daemon: register
        # again (the UnregisterHandler of irq(None) finds nothing, which the
        # client accepts). Signals follow the bus name by themselves.
        r.ble.irq(None)
        r.ble.irq(r.on_event)
        r.ble.active(True)
        r.drain()
    return daemon


# --------------------------------------------------------------------------
# Reading with a raw ATT client socket (security_helpers.att_connect)


def att_read(sock, handle):
    """(value, 0) for a Read Response, (None, ATT error code) for an Error Response."""
    sock.send(b"\x0a" + struct.pack("<H", handle))
    while True:
        pdu = sock.recv(1024)
        if pdu[0] == 0x02:  # the peer's Exchange MTU Request: answer and go on
            sock.send(b"\x03" + struct.pack("<H", 23))
        elif pdu[0] == 0x1D:  # an indication
            sock.send(b"\x1e")
        elif pdu[0] in (0x1B, 0x52, 0xD2):  # a notification or a command
            pass
        elif pdu[0] == 0x0B:
            return pdu[1:], 0
        elif pdu[0] == 0x01 and pdu[1:4] == b"\x0a" + struct.pack("<H", handle):
            return None, pdu[4]
        else:
            raise AssertionError(f"unexpected ATT PDU {pdu.hex()} in answer to Read Request of {handle}")


# --------------------------------------------------------------------------


def _disconnect_command(handle):
    return bytes([0x01]) + struct.pack("<HBHB", 0x0406, 3, handle, 0x13)


def send_disconnect(name, handle):
    """Sends HCI Disconnect for one link, as a tool would."""
    s = socket.socket(socket.AF_BLUETOOTH, socket.SOCK_RAW, socket.BTPROTO_HCI)
    try:
        s.bind((int(name[3:]),))
        s.send(_disconnect_command(handle))
    finally:
        s.close()


def hci_disconnect(name, handle, timeout=2):
    """Ends one LE link with HCI Disconnect; True when the controller reported
    it ended, False otherwise (no such link, one already ending, no answer)."""
    s = socket.socket(socket.AF_BLUETOOTH, socket.SOCK_RAW, socket.BTPROTO_HCI)
    try:
        s.bind((int(name[3:]),))
        # Events only: Disconnection Complete (0x05) and Command Status (0x0f).
        s.setsockopt(socket.SOL_HCI, socket.HCI_FILTER, struct.pack("<IIIH2x", 1 << 0x04, (1 << 0x05) | (1 << 0x0F), 0, 0))
        s.settimeout(timeout)
        s.send(_disconnect_command(handle))
        while True:
            packet = s.recv(300)
            if packet[1] == 0x0F and struct.unpack_from("<BBH", packet, 3)[2] == 0x0406:
                if packet[3] != 0:
                    return False
            elif packet[1] == 0x05 and struct.unpack_from("<BH", packet, 3)[1] == handle:
                return True
    except TimeoutError:
        return False
    finally:
        s.close()


def drop_links(names=("hci0", "hci1"), timeout=10):
    """Ends every LE link of these controllers (the kernel keeps the link of a
    killed daemon for ~2 s, one in pairing for up to 30 s)."""
    deadline = time.monotonic() + timeout
    asked = set()
    while True:
        links = [(name, int(h)) for name in names
                 for h in re.findall(r"LE [0-9A-F:]{17} handle (\d+)", run(["hcitool", "-i", name, "con"]).stdout)]
        if not links:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"links still up after {timeout} s: {links}")
        for name, handle in links:
            if (name, handle) not in asked:
                asked.add((name, handle))
                send_disconnect(name, handle)
        time.sleep(0.05)


class SecurityTest(unittest.TestCase):
    """A daemon per class with a fresh state directory; helpers."""

    @classmethod
    def setUpClass(cls):
        cls.state_dir = tempfile.mkdtemp(prefix=f"ubt-{cls.__name__}-", dir="/tmp")
        cls.daemon = start_daemon(cls.state_dir)

    @classmethod
    def tearDownClass(cls):
        stop(cls.daemon, radios.values())

    def setUp(self):
        self.hci0, self.hci1, self.hci2, self.hci3 = (radios[n] for n in NAMES)
        self.links = []
        for r in radios.values():
            r.drain()

    def tearDown(self):
        self.disconnect_all()
        for r in self.radios():
            for addr_type, addr in r.ble.gap_bonds():
                r.ble.gap_unpair(addr_type, addr)
            r.ble.config(**DEFAULTS)
            r.ble.gap_advertise(None)

    def radios(self):
        return [radios[n] for n in NAMES]

    def restart(self):
        """Stops the class's daemon cleanly and starts another on the same state directory."""
        stop(type(self).daemon, radios.values())
        type(self).daemon = start_daemon(self.state_dir)

    # Links

    def connect(self, central, peripheral):
        """central connects to advertising peripheral: (central's handle, peripheral's handle)."""
        (handle, *central_sees), (their_handle, *peripheral_sees) = connect(central, peripheral)
        self.assertEqual(tuple(central_sees), (0, peripheral.addr))
        self.assertEqual(tuple(peripheral_sees), (0, central.addr))
        self.links.append((central, peripheral, handle, their_handle))
        return handle, their_handle

    def disconnect_all(self):
        for central, peripheral, handle, _ in self.links:
            disconnect(central, peripheral, handle)
        self.links = []

    # Events

    def next_security_event(self, radio, handle, deadline):
        """The next ENCRYPTION_UPDATE, PASSKEY_ACTION or disconnect event of
        `handle` before the deadline (time.monotonic()); others are skipped."""
        found = next_link_event(radio, handle, deadline)
        if found is None:
            self.fail(f"{radio.name}: no security or disconnect event for connection {handle} in time")
        return found

    def expect_action(self, radio, handle, action, timeout=SMP_WAIT):
        """The passkey of the next event of the link, which must be PASSKEY_ACTION `action`."""
        event, data = self.next_security_event(radio, handle, time.monotonic() + timeout)
        self.assertEqual((event, data[:2]), (_IRQ_PASSKEY_ACTION, (handle, action)), f"{radio.name}: {data}")
        self.assertTrue(0 <= data[2] <= 999999, data)
        return data[2]

    def expect_encrypted(self, radio, handle, authenticated, bonded=True, fresh=True, timeout=SMP_WAIT,
                         first_key_size=16):
        """Waits for ENCRYPTION_UPDATE (handle, True, authenticated, bonded, 16),
        the link's next security events. With `fresh` (a first bonding pairing)
        one (handle, True, authenticated, False, first_key_size) may come before
        it (the key is stored after the encryption change); otherwise it must be
        the first."""
        final = (handle, True, authenticated, bonded, 16)
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            event, data = self.next_security_event(radio, handle, deadline)
            seen.append((event, data))
            if (event, data) == (_IRQ_ENCRYPTION_UPDATE, final):
                return [d for _, d in seen]
            before = (_IRQ_ENCRYPTION_UPDATE, (handle, True, authenticated, False, first_key_size))
            self.assertTrue(fresh and bonded and len(seen) == 1 and (event, data) == before,
                            f"{radio.name}: events {seen}, expected {final}")

    def expect_link_dropped(self, central, peripheral, handle, their_handle, timeout=SMP_WAIT):
        """The link's next security-related events are its disconnects, on both sides."""
        deadline = time.monotonic() + timeout
        self.assertEqual(self.next_security_event(central, handle, deadline),
                         (_IRQ_PERIPHERAL_DISCONNECT, (handle, 0, peripheral.addr)))
        self.assertEqual(self.next_security_event(peripheral, their_handle, deadline),
                         (_IRQ_CENTRAL_DISCONNECT, (their_handle, 0, central.addr)))

    # Bonds

    def bond_file(self, radio, peer):
        """The decoded bond file of radio for peer, its mode and its directories' checked."""
        path = bond_path(self.state_dir, radio.addr, peer.addr)
        self.assertTrue(os.path.exists(path), f"{path} missing; {bond_dir(self.state_dir, radio.addr)} has "
                                              f"{bond_names(bond_dir(self.state_dir, radio.addr))}")
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(oct(stat.S_IMODE(st.st_mode)), oct(0o600), path)
        for d in (bonds_root(self.state_dir), bond_dir(self.state_dir, radio.addr)):
            st = os.lstat(d)
            self.assertTrue(stat.S_ISDIR(st.st_mode), d)
            self.assertEqual(oct(stat.S_IMODE(st.st_mode)), oct(0o700), d)
        with open(path) as f:
            text = f.read()
        try:
            bond = decode_bond(text)
        except ValueError as e:
            self.fail(f"{path}: {e}:\n{text}")
        self.assertEqual(bond["peer"], (0, peer.addr), path)
        return bond

    def file_text(self, radio, peer):
        with open(bond_path(self.state_dir, radio.addr, peer.addr)) as f:
            return f.read()

    def check_bond(self, a, b, sc, authenticated):
        """a and b list each other as bonded, and their files hold matching keys
        of the pairing's kind (docs/kernel-smp.md, Q2: SC one LTK per side,
        the same; legacy two per side, each side's central key the other's
        peripheral key)."""
        self.assertEqual(a.ble.gap_bonds(), [(0, b.addr)])
        self.assertEqual(b.ble.gap_bonds(), [(0, a.addr)])
        ka, kb = self.bond_file(a, b)["ltks"], self.bond_file(b, a)["ltks"]
        expected_type = (3 if authenticated else 2) if sc else (1 if authenticated else 0)
        for keys in (ka, kb):
            self.assertEqual({(k["type"], k["enc_size"]) for k in keys}, {(expected_type, 16)}, keys)
        if sc:
            self.assertEqual([(k["central"], k["ediv"], k["rand"]) for k in ka], [(0, 0, "0" * 16)])
            self.assertEqual([(k["central"], k["ediv"], k["rand"]) for k in kb], [(0, 0, "0" * 16)])
            self.assertEqual(ka[0]["val"], kb[0]["val"])
        else:
            self.assertEqual(sorted(k["central"] for k in ka), [0, 1])
            self.assertEqual(sorted(k["central"] for k in kb), [0, 1])
            key = {(side, k["central"]): (k["ediv"], k["rand"], k["val"]) for side, keys in (("a", ka), ("b", kb))
                   for k in keys}
            self.assertEqual(key["a", 1], key["b", 0])
            self.assertEqual(key["a", 0], key["b", 1])

    def assert_no_bonds(self, *rs):
        for r in rs:
            self.assertEqual(r.ble.gap_bonds(), [], r.name)
            self.assertEqual(bond_names(bond_dir(self.state_dir, r.addr)), [], r.name)

    def configure(self, radio, **settings):
        radio.ble.config(**settings)
        for key, value in settings.items():
            self.assertEqual(radio.ble.config(key), value, key)

    def configure_passkey(self, le_secure, display, keyboard):
        """hci0 and hci1 set for passkey entry: `display` DisplayOnly, `keyboard` KeyboardOnly."""
        for r in (self.hci0, self.hci1):
            self.configure(r, le_secure=le_secure)
        self.configure(display, io=IO_DISPLAY_ONLY)
        self.configure(keyboard, io=IO_KEYBOARD_ONLY)

    def bond_just_works(self, central, peripheral):
        """A Just Works bond between two default-configured radios; the link stays up."""
        handle, their_handle = self.connect(central, peripheral)
        pair(central, handle)
        self.expect_encrypted(central, handle, False)
        self.expect_encrypted(peripheral, their_handle, False)
        return handle, their_handle


class JustWorks(SecurityTest):
    """io 3 on both sides: the daemon answers the kernel's confirmation itself."""

    def just_works(self, le_secure, started_by_peripheral=False):
        for r in (self.hci0, self.hci1):
            self.configure(r, le_secure=le_secure)
        handle, their_handle = self.connect(self.hci0, self.hci1)
        if started_by_peripheral:
            pair(self.hci1, their_handle)
        else:
            pair(self.hci0, handle)
        self.expect_encrypted(self.hci0, handle, False)
        self.expect_encrypted(self.hci1, their_handle, False)
        self.hci0.quiet(1, set(SECURITY_EVENTS))  # nothing more: no action, no other update
        self.hci1.quiet(0.1, set(SECURITY_EVENTS))
        self.check_bond(self.hci0, self.hci1, sc=le_secure, authenticated=False)
        return handle, their_handle

    def test_legacy_pairing_started_by_the_central_bonds_both_sides(self):
        handle, _ = self.just_works(le_secure=False)
        # Asking again on an encrypted link gives its state at once.
        pair(self.hci0, handle)
        self.assertEqual(self.expect_encrypted(self.hci0, handle, False, fresh=False, timeout=5),
                         [(handle, True, False, True, 16)])

    def test_secure_connections_pairing_bonds_both_sides(self):
        self.just_works(le_secure=True)

    def test_pairing_started_by_the_peripheral_bonds_both_sides(self):
        self.just_works(le_secure=False, started_by_peripheral=True)

    def test_secure_connections_pairing_started_by_the_peripheral(self):
        self.just_works(le_secure=True, started_by_peripheral=True)

    def test_without_bond_the_link_is_encrypted_but_nothing_is_stored(self):
        for r in (self.hci0, self.hci1):
            self.configure(r, bond=False)
        handle, their_handle = self.connect(self.hci0, self.hci1)
        pair(self.hci0, handle)
        self.assertEqual(self.expect_encrypted(self.hci0, handle, False, bonded=False), [(handle, True, False, False, 16)])
        self.assertEqual(self.expect_encrypted(self.hci1, their_handle, False, bonded=False),
                         [(their_handle, True, False, False, 16)])
        self.hci0.quiet(1, set(SECURITY_EVENTS))
        self.assert_no_bonds(self.hci0, self.hci1)


class Passkey(SecurityTest):
    """Passkey entry: the DisplayOnly side shows the kernel's passkey, the KeyboardOnly side types it."""

    def start(self, le_secure, display, keyboard, started_by):
        """Configures, connects hci0 to hci1 and pairs from `started_by`:
        (handles by radio, the passkey shown)."""
        self.configure_passkey(le_secure, display, keyboard)
        handle, their_handle = self.connect(self.hci0, self.hci1)
        handles = {self.hci0.name: handle, self.hci1.name: their_handle}
        pair(started_by, handles[started_by.name])
        shown = self.expect_action(display, handles[display.name], _PASSKEY_ACTION_DISPLAY)
        self.assertEqual(self.expect_action(keyboard, handles[keyboard.name], _PASSKEY_ACTION_INPUT), 0)
        return handles, shown

    def passkey_entry(self, le_secure, display, keyboard, started_by):
        handles, shown = self.start(le_secure, display, keyboard, started_by)
        d, k = handles[display.name], handles[keyboard.name]
        # Wrong answers are refused and change nothing.
        for args in ((k, _PASSKEY_ACTION_INPUT, 1000000), (k, _PASSKEY_ACTION_NUMERIC_COMPARISON, 1),
                     (k, _PASSKEY_ACTION_DISPLAY, shown), (k, 1, shown), (k, 5, shown)):
            with self.subTest(gap_passkey=args), self.assertRaises(ValueError):
                keyboard.ble.gap_passkey(*args)
        for action in (_PASSKEY_ACTION_INPUT, _PASSKEY_ACTION_NUMERIC_COMPARISON):
            with self.subTest(gap_passkey=(d, action)), self.assertRaises(ValueError):
                display.ble.gap_passkey(d, action, shown)
        for args in ((k, _PASSKEY_ACTION_INPUT, 1000000), (k, _PASSKEY_ACTION_DISPLAY, shown)):
            reply = dbus_call(f"/org/ubluetooth/{keyboard.name}", "GapPasskey", "quu", *args)
            self.assertEqual(reply[:2], (False, ERR + "InvalidArgs"), reply)
        display.ble.gap_passkey(d, _PASSKEY_ACTION_DISPLAY, shown)  # accepted, nothing to do
        keyboard.ble.gap_passkey(k, _PASSKEY_ACTION_INPUT, shown)
        self.expect_encrypted(self.hci0, handles["hci0"], True)
        self.expect_encrypted(self.hci1, handles["hci1"], True)
        self.hci0.quiet(0.5, set(SECURITY_EVENTS))
        self.check_bond(self.hci0, self.hci1, sc=le_secure, authenticated=True)

    def test_legacy_central_types_what_the_peripheral_shows(self):
        self.passkey_entry(False, display=self.hci1, keyboard=self.hci0, started_by=self.hci0)

    def test_secure_connections_central_types_what_the_peripheral_shows(self):
        self.passkey_entry(True, display=self.hci1, keyboard=self.hci0, started_by=self.hci0)

    def test_peripheral_starts_and_types_what_the_central_shows(self):
        self.passkey_entry(True, display=self.hci0, keyboard=self.hci1, started_by=self.hci1)

    def test_a_wrong_passkey_fails_the_pairing_and_drops_the_link(self):
        for le_secure in (False, True):
            with self.subTest(le_secure=le_secure):
                handles, shown = self.start(le_secure, display=self.hci1, keyboard=self.hci0, started_by=self.hci0)
                self.hci0.ble.gap_passkey(handles["hci0"], _PASSKEY_ACTION_INPUT, (shown + 1) % 1000000)
                self.expect_link_dropped(self.hci0, self.hci1, handles["hci0"], handles["hci1"])
                self.links = []
                self.assert_no_bonds(self.hci0, self.hci1)
                for r in (self.hci0, self.hci1):
                    r.ble.config(**DEFAULTS)


class NumericComparison(SecurityTest):
    """LE Secure Connections with DisplayYesNo on both sides."""

    def start(self):
        for r in (self.hci0, self.hci1):
            self.configure(r, le_secure=True, io=IO_DISPLAY_YESNO)
        handle, their_handle = self.connect(self.hci0, self.hci1)
        pair(self.hci0, handle)
        value = self.expect_action(self.hci0, handle, _PASSKEY_ACTION_NUMERIC_COMPARISON)
        self.assertEqual(self.expect_action(self.hci1, their_handle, _PASSKEY_ACTION_NUMERIC_COMPARISON), value)
        return handle, their_handle

    def test_both_accept_and_bond_authenticated(self):
        handle, their_handle = self.start()
        for args in ((handle, _PASSKEY_ACTION_NUMERIC_COMPARISON, 2), (handle, _PASSKEY_ACTION_INPUT, 1),
                     (handle, _PASSKEY_ACTION_DISPLAY, 1)):
            with self.subTest(gap_passkey=args), self.assertRaises(ValueError):
                self.hci0.ble.gap_passkey(*args)
        self.hci0.ble.gap_passkey(handle, _PASSKEY_ACTION_NUMERIC_COMPARISON, 1)
        self.hci1.ble.gap_passkey(their_handle, _PASSKEY_ACTION_NUMERIC_COMPARISON, 1)
        self.expect_encrypted(self.hci0, handle, True)
        self.expect_encrypted(self.hci1, their_handle, True)
        self.check_bond(self.hci0, self.hci1, sc=True, authenticated=True)

    def test_one_side_rejecting_fails_the_pairing_and_drops_the_link(self):
        handle, their_handle = self.start()
        self.hci0.ble.gap_passkey(handle, _PASSKEY_ACTION_NUMERIC_COMPARISON, 1)
        self.hci1.ble.gap_passkey(their_handle, _PASSKEY_ACTION_NUMERIC_COMPARISON, 0)
        self.expect_link_dropped(self.hci0, self.hci1, handle, their_handle)
        self.links = []
        self.assert_no_bonds(self.hci0, self.hci1)


class Mitm(SecurityTest):
    """mitm=True with NoInputNoOutput on both sides: only Just Works is possible, and it is refused."""

    def refused(self, mitm_side):
        self.configure(mitm_side, mitm=True)
        handle, their_handle = self.connect(self.hci0, self.hci1)
        pair(self.hci0, handle)
        self.expect_link_dropped(self.hci0, self.hci1, handle, their_handle)
        self.links = []
        self.assert_no_bonds(self.hci0, self.hci1)

    def test_mitm_on_the_central(self):
        self.refused(self.hci0)

    def test_mitm_on_the_peripheral(self):
        self.refused(self.hci1)


class Restart(SecurityTest):
    def encrypt_with_the_stored_key(self, central, peripheral, started_by, authenticated):
        """A new link that started_by asks to pair encrypts with the key both
        sides stored: a first update already bonded, nothing else (no
        passkey asked); the link is ended afterwards."""
        handle, their_handle = self.connect(central, peripheral)
        pair(started_by, handle if started_by is central else their_handle)
        self.expect_encrypted(central, handle, authenticated, fresh=False)
        self.expect_encrypted(peripheral, their_handle, authenticated, fresh=False)
        central.quiet(1, set(SECURITY_EVENTS))
        peripheral.quiet(0.1, set(SECURITY_EVENTS))
        self.disconnect_all()

    def test_bonds_are_loaded_at_start_and_links_encrypt_with_them_without_pairing(self):
        hci0, hci1, hci2 = self.hci0, self.hci1, self.hci2
        # hci1: authenticated SC bond (passkey); hci2: legacy Just Works bond.
        self.configure_passkey(True, display=hci1, keyboard=hci0)
        handle, their_handle = self.connect(hci0, hci1)
        pair(hci0, handle)
        shown = self.expect_action(hci1, their_handle, _PASSKEY_ACTION_DISPLAY)
        self.expect_action(hci0, handle, _PASSKEY_ACTION_INPUT)
        hci0.ble.gap_passkey(handle, _PASSKEY_ACTION_INPUT, shown)
        self.expect_encrypted(hci0, handle, True)
        self.expect_encrypted(hci1, their_handle, True)
        self.disconnect_all()
        self.configure(hci0, io=IO_NO_INPUT_OUTPUT, le_secure=False)
        self.bond_just_works(hci0, hci2)
        self.disconnect_all()
        files = {(a.name, b.name): self.file_text(a, b) for a, b in ((hci0, hci1), (hci1, hci0), (hci0, hci2), (hci2, hci0))}

        self.restart()
        log = type(self).daemon.log_text()
        for name, count in (("hci0", 2), ("hci1", 1), ("hci2", 1), ("hci3", 0)):
            self.assertRegex(log, rf"\b{name}: {count} bond\(s\) loaded")
        self.assertNotRegex(log, r"\bwarning\b.*bond store")
        self.assertEqual(sorted(hci0.ble.gap_bonds()), sorted([(0, hci1.addr), (0, hci2.addr)]))
        self.assertEqual(hci1.ble.gap_bonds(), [(0, hci0.addr)])
        self.assertEqual(hci2.ble.gap_bonds(), [(0, hci0.addr)])

        # The app configures as before; the stored key is used: no passkey asked.
        self.configure_passkey(True, display=hci1, keyboard=hci0)
        self.encrypt_with_the_stored_key(hci0, hci1, started_by=hci0, authenticated=True)
        self.configure(hci0, io=IO_NO_INPUT_OUTPUT, le_secure=False)

        # The legacy bond, from the peripheral's side (a Security Request).
        self.encrypt_with_the_stored_key(hci0, hci2, started_by=hci2, authenticated=False)
        # No new pairing happened: the files are as they were.
        self.assertEqual({k: self.file_text(radios[k[0]], radios[k[1]]) for k in files}, files)


class Unpair(SecurityTest):
    def test_unpair_forgets_the_bond_and_the_next_pair_pairs_anew(self):
        hci0, hci1 = self.hci0, self.hci1
        self.bond_just_works(hci0, hci1)
        self.disconnect_all()
        old = self.bond_file(hci1, hci0)["ltks"]
        hci0.ble.gap_unpair(0, hci1.addr)
        self.assertEqual(hci0.ble.gap_bonds(), [])
        self.assertFalse(os.path.exists(bond_path(self.state_dir, hci0.addr, hci1.addr)))
        self.assertEqual(bond_names(bond_dir(self.state_dir, hci0.addr)), [])
        self.assertEqual(hci1.ble.gap_bonds(), [(0, hci0.addr)])  # the peer keeps its own
        with self.assertRaises(OSError) as cm:
            hci0.ble.gap_unpair(0, hci1.addr)
        self.assertEqual(cm.exception.errno, errno.ENOENT)

        handle, their_handle = self.connect(hci0, hci1)
        pair(hci0, handle)
        # hci0 has no key: it pairs. hci1 still holds its old bond, but a
        # pairing ran on the link: the old bond does not speak for it, so
        # hci1 too may say bonded only once the new key is stored.
        self.expect_encrypted(hci0, handle, False)
        self.expect_encrypted(hci1, their_handle, False)
        self.check_bond(hci0, hci1, sc=False, authenticated=False)
        self.assertNotEqual(self.bond_file(hci1, hci0)["ltks"], old, "no new keys: was there a pairing?")

    def test_unpair_disconnects_a_connected_peer(self):
        hci0, hci1 = self.hci0, self.hci1
        handle, their_handle = self.bond_just_works(hci0, hci1)
        hci0.ble.gap_unpair(0, hci1.addr)
        self.assertEqual(hci0.wait(_IRQ_PERIPHERAL_DISCONNECT, SMP_WAIT), (handle, 0, hci1.addr))
        self.assertEqual(hci1.wait(_IRQ_CENTRAL_DISCONNECT, SMP_WAIT), (their_handle, 0, hci0.addr))
        self.links = []
        self.assertEqual(hci0.ble.gap_bonds(), [])
        self.assertFalse(os.path.exists(bond_path(self.state_dir, hci0.addr, hci1.addr)))
        # And from the peripheral's side, with no link.
        hci1.ble.gap_unpair(0, hci0.addr)
        self.assert_no_bonds(hci0, hci1)


class EncryptedCharacteristic(SecurityTest):
    """hci1 serves a value readable only over an encrypted link."""

    def setUp(self):
        super().setUp()
        import ubluetooth
        u = ubluetooth.UUID
        ((self.plain, self.encrypted, self.authenticated),) = self.hci1.ble.gatts_register_services((
            (u("5ec00000-0000-4000-8000-00000000a001"), (
                (u("5ec00000-0000-4000-8000-00000000a002"), _FLAG_READ),
                (u("5ec00000-0000-4000-8000-00000000a003"), _FLAG_READ | _FLAG_READ_ENCRYPTED),
                (u("5ec00000-0000-4000-8000-00000000a004"), _FLAG_READ | _FLAG_READ_AUTHENTICATED),
            )),
        ))
        self.hci1.ble.gatts_write(self.plain, b"open")
        self.hci1.ble.gatts_write(self.encrypted, b"secret")
        self.hci1.ble.gatts_write(self.authenticated, b"top secret")

    def test_the_server_refuses_until_the_link_is_encrypted(self):
        # A raw ATT client on hci2 (it never raises security by itself).
        hci1, hci2 = self.hci1, self.hci2
        hci1.ble.gap_advertise(50000, ADV_DATA)
        sock = att_connect(hci2.addr, hci1.addr)
        try:
            their_handle = hci1.wait(_IRQ_CENTRAL_CONNECT)[0]
            handle = hci2.wait(_IRQ_PERIPHERAL_CONNECT)[0]
            self.assertEqual(att_read(sock, self.plain), (b"open", 0))
            self.assertEqual(att_read(sock, self.encrypted), (None, ATT_INSUFFICIENT_ENCRYPTION))
            self.assertEqual(att_read(sock, self.authenticated), (None, ATT_INSUFFICIENT_AUTHENTICATION))
            pair(hci1, their_handle)  # a Security Request; hci2's kernel pairs
            self.expect_encrypted(hci1, their_handle, False)
            self.assertEqual(att_read(sock, self.encrypted), (b"secret", 0))
            # Just Works is not authenticated.
            self.assertEqual(att_read(sock, self.authenticated), (None, ATT_INSUFFICIENT_AUTHENTICATION))
            # hci2's daemon reports the link too, though the ATT channel is
            # this socket's, not its own (checked last: its events wait).
            # Without a socket of its own on the link it cannot ask the
            # kernel for the key size: 0 until the key is stored, if the
            # Encryption Change came first.
            self.expect_encrypted(hci2, handle, False, first_key_size=0)
            self.assertTrue(hci1.ble.gap_disconnect(their_handle))
            hci1.wait(_IRQ_CENTRAL_DISCONNECT)
            hci2.wait(_IRQ_PERIPHERAL_DISCONNECT)
        finally:
            sock.close()

    def test_our_client_refused_pairs_and_reads_again(self):
        hci0, hci1 = self.hci0, self.hci1
        handle, their_handle = self.connect(hci0, hci1)
        hci0.ble.gattc_read(handle, self.encrypted)
        updates, results = [], []
        deadline = time.monotonic() + SMP_WAIT
        while True:
            event, data = hci0.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event == _IRQ_ENCRYPTION_UPDATE:
                updates.append(data)
            elif event == _IRQ_GATTC_READ_RESULT:
                results.append(data)
            elif event == _IRQ_GATTC_READ_DONE:
                self.assertEqual(data, (handle, self.encrypted, 0))
                break
            elif event in (_IRQ_PASSKEY_ACTION,) + DISCONNECTS:
                self.fail(f"event {event} {data}")
        self.assertEqual(results, [(handle, self.encrypted, b"secret")])
        self.assertIn(len(updates), (1, 2), updates)
        self.assertEqual(updates[-1], (handle, True, False, True, 16))
        self.expect_encrypted(hci1, their_handle, False)
        self.check_bond(hci0, hci1, sc=False, authenticated=False)


class BadInput(SecurityTest):
    def check_dbus_error(self, method, signature, args, error):
        reply = dbus_call("/org/ubluetooth/hci0", method, signature, *args)
        self.assertEqual(reply[:2], (False, ERR + error), reply)

    def test_config_keys_round_trip_and_bad_values_change_nothing(self):
        ble = self.hci0.ble
        self.assertEqual({k: ble.config(k) for k in DEFAULTS}, DEFAULTS)
        for io in range(5):
            self.configure(self.hci0, io=io)
        for key in ("bond", "mitm", "le_secure"):
            self.configure(self.hci0, **{key: not DEFAULTS[key]})
            self.configure(self.hci0, **{key: DEFAULTS[key]})
        self.configure(self.hci0, io=1)
        for bad in ({"io": 5}, {"io": -1}, {"io": "x"}, {"mitm": "yes"}, {"bond": b"\x01"}, {"io": 2, "colour": 1}):
            with self.subTest(config=bad), self.assertRaises(ValueError):
                ble.config(**bad)
        self.assertEqual({k: ble.config(k) for k in DEFAULTS}, dict(DEFAULTS, io=1))
        self.check_dbus_error("ConfigSet", "a{sv}", ({"io": ("u", 5)},), "InvalidArgs")
        self.check_dbus_error("ConfigSet", "a{sv}", ({"io": ("s", "x")},), "InvalidArgs")
        self.assertEqual(ble.config("io"), 1)

    def test_unknown_connections_and_peers(self):
        ble = self.hci0.ble
        for call in (lambda: ble.gap_pair(UNKNOWN_HANDLE),
                     lambda: ble.gap_passkey(UNKNOWN_HANDLE, _PASSKEY_ACTION_INPUT, 123456),
                     lambda: ble.gap_unpair(0, bytes.fromhex("00aa0100dead"))):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.ENOENT, cm.exception)
        self.check_dbus_error("GapPair", "q", (UNKNOWN_HANDLE,), "NotFound")
        self.check_dbus_error("GapUnpair", "yay", (0, bytes.fromhex("00aa0100dead")), "NotFound")
        with self.assertRaises(ValueError):
            ble.gap_unpair(2, bytes.fromhex("00aa0100dead"))

    def test_gap_passkey_for_a_connection_not_asking_is_not_found_and_changes_nothing(self):
        handle, their_handle = self.connect(self.hci0, self.hci1)
        for radio, h in ((self.hci0, handle), (self.hci1, their_handle)):
            for action, passkey in ((_PASSKEY_ACTION_INPUT, 123456), (_PASSKEY_ACTION_NUMERIC_COMPARISON, 1),
                                    (_PASSKEY_ACTION_DISPLAY, 0)):
                with self.assertRaises(OSError) as cm:
                    radio.ble.gap_passkey(h, action, passkey)
                self.assertEqual(cm.exception.errno, errno.ENOENT, cm.exception)
        self.check_dbus_error("GapPasskey", "quu", (handle, _PASSKEY_ACTION_INPUT, 123456), "NotFound")
        pair(self.hci0, handle)  # the link pairs normally afterwards
        self.expect_encrypted(self.hci0, handle, False)
        self.expect_encrypted(self.hci1, their_handle, False)


class DamagedStore(SecurityTest):
    def test_bad_bond_files_are_reported_skipped_and_left_and_the_others_load(self):
        hci0, hci1, hci2, hci3 = self.hci0, self.hci1, self.hci2, self.hci3
        for peer in (hci1, hci2, hci3):
            self.bond_just_works(hci0, peer)
            self.disconnect_all()
        good = {(a.name, b.name): self.file_text(a, b) for a, b in ((hci0, hci3), (hci3, hci0), (hci2, hci0))}
        stop(type(self).daemon, radios.values())

        tampered = bond_path(self.state_dir, hci0.addr, hci1.addr)  # one key digit changed: the CRC no longer matches
        text = self.file_text(hci0, hci1)
        i = text.index("val=") + 4
        text = text[:i] + ("1" if text[i] != "1" else "2") + text[i + 1:]
        with open(tampered, "w") as f:
            f.write(text)
        truncated = bond_path(self.state_dir, hci0.addr, hci2.addr)
        with open(truncated, "r+") as f:
            f.truncate(len(f.read()) // 2)
        open_to_others = bond_path(self.state_dir, hci1.addr, hci0.addr)
        os.chmod(open_to_others, 0o644)
        stale_tmp = bond_path(self.state_dir, hci2.addr, hci0.addr) + ".tmp"
        with open(stale_tmp, "w") as f:
            f.write("ubluetoothd bond 1\npeer pub")
        damaged = {}
        for path in (tampered, truncated, open_to_others):
            with open(path) as f:
                damaged[path] = f.read()

        type(self).daemon = start_daemon(self.state_dir)
        log = type(self).daemon.log_text()
        for path in (tampered, truncated, open_to_others, stale_tmp):
            self.assertRegex(log, r"(?m)^\S+ \S+ warning .*" + re.escape(path), log)
        self.assertFalse(os.path.exists(stale_tmp))
        for name, count in (("hci0", 1), ("hci1", 0), ("hci2", 1), ("hci3", 1)):
            self.assertRegex(log, rf"\b{name}: {count} bond\(s\) loaded")
        self.assertEqual(hci0.ble.gap_bonds(), [(0, hci3.addr)])
        self.assertEqual(hci1.ble.gap_bonds(), [])
        self.assertEqual(hci2.ble.gap_bonds(), [(0, hci0.addr)])
        self.assertEqual(hci3.ble.gap_bonds(), [(0, hci0.addr)])
        for path, text in damaged.items():  # left in place, as they were
            with open(path) as f:
                self.assertEqual(f.read(), text, path)

        # The good bond is in the kernel: the link encrypts with it, no pairing.
        handle, their_handle = self.connect(hci0, hci3)
        pair(hci0, handle)
        self.expect_encrypted(hci0, handle, False, fresh=False)
        self.expect_encrypted(hci3, their_handle, False, fresh=False)
        hci0.quiet(1, set(SECURITY_EVENTS))
        self.disconnect_all()
        self.assertEqual({k: self.file_text(radios[k[0]], radios[k[1]]) for k in good}, good)


class KillWhileBonding(SecurityTest):
    """kill -9 of the daemon at random moments of pairings that store bonds:
    every bond file left decodes, every bond the client saw stored is there,
    and the next daemon loads them all (a .tmp of an interrupted write is
    deleted and reported; nothing else is reported)."""

    # 100 (the count); the sanitizer build's suite asks for fewer
    # (tests/meson.build), as each round there is several times slower.
    ROUNDS = int(os.environ.get("UBT_KILL_ROUNDS", "100"))
    SERVED = ("hci0", "hci1")

    @classmethod
    def setUpClass(cls):
        cls.state_dir = tempfile.mkdtemp(prefix=f"ubt-{cls.__name__}-", dir="/tmp")
        cls.daemon = None

    @classmethod
    def tearDownClass(cls):
        drop_links()

    def setUp(self):
        self.bound = False  # the radios' handlers registered with a daemon of ours
        self.link = None  # (controller, handle) of the last round's link
        drop_links()

    def tearDown(self):
        pass

    def snapshot(self):
        """{adapter dir: sorted names}; fails on a file other than *.bond,
        identity and their *.tmp, on a *.bond that does not decode, is not
        0600 or names another peer, and on an identity that does not decode."""
        found = {}
        root = bonds_root(self.state_dir)
        for adapter in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            d = os.path.join(root, adapter)
            names = sorted(os.listdir(d))
            found[adapter] = names
            for name in names:
                path = os.path.join(d, name)
                if name.endswith(".bond.tmp") or name == "identity.tmp":
                    continue
                self.assertTrue(name.endswith(".bond") or name == "identity", path)
                self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), 0o600, path)
                with open(path) as f:
                    text = f.read()
                try:
                    if name == "identity":
                        check_identity(text)
                        continue
                    bond = decode_bond(text)
                except ValueError as e:
                    self.fail(f"{path} does not decode after a kill -9: {e}\n{text!r}")
                kind = "public" if bond["peer"][0] == 0 else "random"
                self.assertEqual(name, f"{kind}-{hex_addr(bond['peer'][1])}.bond", path)
        return found

    def start(self, before):
        """A daemon on the store; checks what it reports of it."""
        daemon = start_daemon(self.state_dir, self.SERVED, rebind=not self.bound)
        self.bound = True
        log = daemon.log_text()
        for line in re.findall(r"(?m)^.*bond store: .*$", log):
            self.assertRegex(line, r"\.bond\.tmp: temporary file of an interrupted write; deleted$", log)
        for name in self.SERVED:
            adapter = hex_addr(radios[name].addr)
            names = before.get(adapter, [])
            for tmp in (n for n in names if n.endswith(".tmp")):
                self.assertFalse(os.path.exists(os.path.join(bonds_root(self.state_dir), adapter, tmp)))
            count = sum(1 for n in names if n.endswith(".bond"))
            self.assertRegex(log, rf"\b{name}: {count} bond\(s\) loaded", f"store before the start: {before}")
        return daemon

    def round(self, kill_after):
        """One daemon: forget the bonds, connect, pair and (with kill_after)
        SIGKILL it kill_after s after gap_pair. Returns (seconds from gap_pair
        to both sides' bonded update or the kill, the adapters that reported
        the bond stored, the store afterwards)."""
        # The kernel keeps the link of a killed daemon for seconds: end it.
        if self.link and not hci_disconnect(*self.link):
            drop_links()
        daemon = self.start(self.snapshot())
        hci0, hci1 = radios["hci0"], radios["hci1"]
        killed = threading.Event()
        bonded = set()
        try:
            for r in (hci0, hci1):
                for addr_type, addr in r.ble.gap_bonds():
                    r.ble.gap_unpair(addr_type, addr)
            (handle, *_), (their_handle, *_) = connect(hci0, hci1)
            handles = {"hci0": handle, "hci1": their_handle}
            self.link = ("hci0", handle)
            if kill_after is not None:
                def kill():
                    daemon.proc.kill()
                    killed.set()
                killer = threading.Timer(kill_after, kill)
                killer.start()
            started = time.monotonic()
            try:
                pair(hci0, handle)
                deadline = started + 10
                while len(bonded) < 2 and not killed.is_set():
                    for r in (hci0, hci1):
                        self.collect(r, handles[r.name], bonded, deadline)
                elapsed = time.monotonic() - started
            except Exception:
                if kill_after is None or not killed.wait(1):
                    raise
            if kill_after is None:
                stop_cleanly(daemon)
            else:
                killer.join()
                elapsed = min(time.monotonic() - started, kill_after)
                daemon.proc.wait()
                daemon.log.close()
                time.sleep(0.1)  # signals sent before the kill still on their way
                for r in (hci0, hci1):
                    self.collect(r, handles[r.name], bonded, None)
        except BaseException:
            if daemon.alive():
                daemon.proc.kill()
                daemon.proc.wait()
            raise
        after = self.snapshot()
        for name in bonded:  # reported stored: it is there, and decodes (snapshot)
            peer = hci1 if name == "hci0" else hci0
            self.assertIn(f"public-{hex_addr(peer.addr)}.bond", after.get(hex_addr(radios[name].addr), []),
                          f"{name} reported the bond stored before the kill; the store has {after}")
        os.unlink(daemon.log_path)  # a round that passed; a failing one keeps its log
        return elapsed, bonded, after

    def collect(self, radio, handle, bonded, deadline):
        """Notes radio's bonded updates for handle; until the deadline, or what is queued when None."""
        while True:
            try:
                if deadline is None:
                    event, data = radio.events.get_nowait()
                else:
                    event, data = radio.events.get(timeout=max(0.0, min(0.02, deadline - time.monotonic())))
            except queue.Empty:
                if deadline is not None and time.monotonic() > deadline:
                    self.fail(f"{radio.name}: no bonded update within 10 s")
                return
            if event == _IRQ_ENCRYPTION_UPDATE and data[0] == handle:
                self.assertTrue(data[1], (radio.name, data))
                if data[3]:
                    bonded.add(radio.name)
                    return

    def test_bond_files_survive_kill_9_at_any_moment(self):
        seed = random.randrange(2 ** 32)
        rng = random.Random(seed)
        print(f"\nKillWhileBonding: random seed {seed}", file=sys.stderr)
        pairing, bonded, _ = self.round(None)
        self.assertEqual(bonded, {"hci0", "hci1"})
        window = 1.2 * pairing + 0.01  # the client sees the bonded updates after the writes
        outcomes = {0: 0, 1: 0, 2: 0}
        tmp_seen = 0
        rounds = 0
        started = time.monotonic()
        while rounds < self.ROUNDS:
            _, bonded, after = self.round(rng.uniform(0, window))
            rounds += 1
            outcomes[len(bonded)] += 1
            tmp_seen += sum(1 for names in after.values() for n in names if n.endswith(".tmp"))
        took = time.monotonic() - started
        self.round(None)  # the store still works after it all
        print(f"\nKillWhileBonding: {rounds} kill -9 rounds in {took:.0f} s ({took / max(rounds, 1):.2f} s each), "
              f"kill within {window * 1000:.0f} ms of gap_pair (a pairing took {pairing * 1000:.0f} ms); "
              f"sides with a bonded update before the kill 0/1/2: {outcomes[0]}/{outcomes[1]}/{outcomes[2]}; "
              f"*.tmp left: {tmp_seen}", file=sys.stderr)
        # The kills fell before the writes and after them.
        self.assertGreater(outcomes[0], 0)
        self.assertGreater(outcomes[2], 0)
