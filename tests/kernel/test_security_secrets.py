"""_IRQ_SET_SECRET and _IRQ_GET_SECRET: a script whose IRQ handler keeps the
secrets (as aioble does) is given every bond the daemon stores or removes,
and gives them back at registration, so bonds come back after the daemon's
own store was lost. hci0 and hci1, both served by the daemon."""

import os
import sys
import tempfile
import time
import unittest

from harness import CLIENT_PATH, Daemon, Radio
from security_helpers import (SMP_WAIT, _IRQ_CENTRAL_DISCONNECT, _IRQ_ENCRYPTION_UPDATE, _IRQ_GET_SECRET,
                              _IRQ_PASSKEY_ACTION, _IRQ_PERIPHERAL_DISCONNECT, _IRQ_SET_SECRET, connect, stop)

BOND_SECRET = 1


class SecretRadio(Radio):
    """A Radio whose handler keeps secrets in a dict {(sec_type, key): value}."""

    def __init__(self, name, secrets, garbage=False):
        self.secrets = secrets
        self.garbage = garbage  # answer GET_SECRET with bytes that are no bond
        self.asked = []
        super().__init__(name)

    def on_event(self, event, data):
        if event == _IRQ_SET_SECRET:
            sec_type, key, value = data
            if value is None:
                self.secrets.pop((sec_type, bytes(key)), None)
            else:
                self.secrets[(sec_type, bytes(key))] = bytes(value)
            return True
        if event == _IRQ_GET_SECRET:
            sec_type, index, key = data
            self.asked.append((sec_type, index, key))
            if self.garbage:
                return b"ubluetoothd bond 1\npeer public 00:AA:01:01:00:01\n" if index == 0 else None
            if key is not None:
                return self.secrets.get((sec_type, bytes(key)))
            values = [v for (t, _), v in sorted(self.secrets.items()) if t == sec_type]
            return values[index] if index < len(values) else None
        return super().on_event(event, data)


def plain_ble(name):
    sys.path.insert(0, CLIENT_PATH)
    import ubluetooth
    return ubluetooth.BLE(name)


def connect_handles(central, peripheral):
    """central connects to advertising peripheral: (central's handle, peripheral's handle)."""
    return tuple(data[0] for data in connect(central, peripheral))


def wait_bonded(radio, handle, timeout=SMP_WAIT):
    """The ENCRYPTION_UPDATE tuples of a link until one says bonded."""
    seen = []
    while True:
        data = radio.wait(_IRQ_ENCRYPTION_UPDATE, timeout)
        if data[0] == handle:
            seen.append(data)
            if data[3]:
                return seen


def wait_for(check, timeout=10):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


class Secrets(unittest.TestCase):
    def setUp(self):
        self.daemon = None
        self.radios = []

    def tearDown(self):
        stop(self.daemon, self.radios)

    def start(self, state, secrets0, secrets1, garbage=False):
        stop(self.daemon, self.radios)
        self.daemon = Daemon("--state-dir", state)
        self.radios = [SecretRadio("hci0", secrets0, garbage), SecretRadio("hci1", secrets1)]
        return self.radios

    def test_the_handler_keeps_the_bonds_and_gives_them_back_to_a_daemon_without_its_files(self):
        s0, s1 = {}, {}
        a, b = self.start(tempfile.mkdtemp(), s0, s1)
        h, hb = connect_handles(a, b)
        a.ble.gap_pair(h)
        self.assertEqual(wait_bonded(a, h)[-1], (h, True, False, True, 16))
        self.assertEqual(wait_bonded(b, hb)[-1], (hb, True, False, True, 16))
        # Each side's handler got the bond with the other, keyed by its identity.
        wait_for(lambda: len(s0) == 1 and len(s1) == 1)
        (key0, value0), = s0.items()
        self.assertEqual(key0, (BOND_SECRET, b"\x00" + b.addr))
        self.assertTrue(value0.startswith(b"ubluetoothd bond 1\npeer public 00:AA:01:01:00:01\n"), value0)
        self.assertEqual(next(iter(s1)), (BOND_SECRET, b"\x00" + a.addr))
        a.ble.gap_disconnect(h)
        a.wait(_IRQ_PERIPHERAL_DISCONNECT)
        b.wait(_IRQ_CENTRAL_DISCONNECT)

        # A new daemon with an empty state directory knows no bonds until
        # the handlers register and give theirs back.
        state = tempfile.mkdtemp()
        stop(self.daemon, self.radios)
        self.daemon = Daemon("--state-dir", state)
        self.radios = []
        self.assertEqual(plain_ble("hci0").gap_bonds(), [])
        a, b = SecretRadio("hci0", s0), SecretRadio("hci1", s1)
        self.radios = [a, b]
        wait_for(lambda: a.ble.gap_bonds() == [(0, b.addr)] and b.ble.gap_bonds() == [(0, a.addr)])
        self.assertEqual(a.asked[:2], [(BOND_SECRET, 0, None), (BOND_SECRET, 1, None)])
        # Restored to the daemon's own store and to the kernel: the link
        # encrypts with the key, no pairing.
        self.assertTrue(os.path.exists(os.path.join(state, "bonds", "00AA01000000", "public-00AA01010001.bond")))
        h, hb = connect_handles(a, b)
        a.ble.gap_pair(h)
        self.assertEqual(a.wait(_IRQ_ENCRYPTION_UPDATE, 15), (h, True, False, True, 16))
        self.assertEqual(b.wait(_IRQ_ENCRYPTION_UPDATE, 15), (hb, True, False, True, 16))
        a.quiet(1, {_IRQ_PASSKEY_ACTION})

        # Unpairing tells the handler to delete the secret.
        a.ble.gap_unpair(0, b.addr)
        wait_for(lambda: s0 == {})
        self.assertEqual(a.ble.gap_bonds(), [])

    def test_a_secret_that_is_no_bond_is_reported_and_skipped(self):
        a, b = self.start(tempfile.mkdtemp(), {}, {}, garbage=True)
        wait_for(lambda: len(a.asked) >= 2)
        self.assertEqual(a.asked[:2], [(BOND_SECRET, 0, None), (BOND_SECRET, 1, None)])
        self.assertEqual(a.ble.gap_bonds(), [])
        self.assertIn("the handler's secret 0 is not a bond", self.daemon.log_text())
        self.assertTrue(self.daemon.alive())


if __name__ == "__main__":
    unittest.main()
