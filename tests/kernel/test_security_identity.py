"""The adapter's own identity outlives the daemon: its static random address
(addr_mode 1) and its IRK (addr_mode 2) are kept beside its bonds
(<state>/bonds/<adapter>/identity, lib/sm/local_identity.hpp), so a peer that
bonded with it still knows it after a restart. hci0 and hci1, both served by
a daemon with a state directory of the test's own."""

import os
import re
import stat
import tempfile
import time
import unittest

from harness import Daemon, Radio, kernel_identity, kernel_irk, kernel_rpa, rpa_resolves
from security_helpers import (DISCONNECTS, SMP_WAIT, _IRQ_ENCRYPTION_UPDATE, _IRQ_PASSKEY_ACTION, att_connect,
                              bond_path, connect, disconnect, identity_path, next_link_event, pair, stop)


class Identity(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="ubt-identity-", dir="/tmp")
        self.daemon = None
        self.radios = []
        self.links = []  # (radio, handle, peer radio)
        self.sockets = []

    def tearDown(self):
        # Leave the kernel as the other tests expect it: no link, no privacy,
        # no bond, not advertising.
        try:
            self.disconnect_all()
            for r in self.radios:
                r.ble.config(addr_mode=0)
                for addr_type, addr in r.ble.gap_bonds():
                    r.ble.gap_unpair(addr_type, addr)
                r.ble.gap_advertise(None)
        finally:
            stop(self.daemon, self.radios)

    def start(self):
        """Starts the daemon on the test's state directory, stopping the
        previous one cleanly: (hci0, hci1) radios, active."""
        stop(self.daemon, self.radios)
        self.daemon = Daemon("--state-dir", self.state)
        self.radios = [Radio("hci0"), Radio("hci1")]
        return self.radios

    def identity_file(self, radio):
        """The adapter's identity file: {'static': 'C0:..', 'irk': '<hex>'}, its mode checked."""
        path = identity_path(self.state, radio.addr)
        self.assertTrue(os.path.exists(path), path)
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(oct(stat.S_IMODE(st.st_mode)), oct(0o600), path)
        with open(path) as f:
            text = f.read()
        m = re.fullmatch(r"ubluetoothd identity 1\nstatic ([0-9A-F:]{17})\nirk ([0-9A-F]{32})\ncrc32 [0-9A-F]{8}\n",
                         text)
        self.assertTrue(m, text)
        return {"static": m.group(1), "irk": m.group(2)}

    def bond_text(self, radio, peer):
        with open(bond_path(self.state, radio.addr, peer.addr)) as f:
            return f.read()

    # Links

    def gap_connect(self, central, peripheral, initiate=None):
        """central's daemon connects to advertising peripheral (or initiate()
        does): (central's handle, peripheral's handle, (addr_type, addr) the
        peripheral names the central by)."""
        (handle, *central_sees), (their_handle, *seen_as) = connect(central, peripheral, initiate)
        self.assertEqual(tuple(central_sees), (0, peripheral.addr))
        self.links.append((central, handle, peripheral))
        return handle, their_handle, tuple(seen_as)

    def kernel_connect(self, central, peripheral):
        """As gap_connect, but central's kernel connects (an ATT socket)."""
        return self.gap_connect(central, peripheral,
                                lambda: self.sockets.append(att_connect(central.addr, peripheral.addr)))

    def disconnect_all(self):
        for central, handle, peripheral in self.links:
            disconnect(central, peripheral, handle)
        self.links = []
        for s in self.sockets:
            s.close()
        self.sockets = []

    def encrypted(self, radio, handle, fresh):
        """Waits for the link's ENCRYPTION_UPDATE (handle, True, False, True, 16).
        With `fresh` (a first pairing) updates with bonded False may come
        first (the key is stored after the encryption change). A disconnect
        or a PASSKEY_ACTION of the link fails at once."""
        deadline = time.monotonic() + SMP_WAIT
        seen = []
        while True:
            found = next_link_event(radio, handle, deadline)
            if found is None:
                self.fail(f"{radio.name}: no ENCRYPTION_UPDATE for {handle} in time; seen {seen}")
            event, data = found
            seen.append((event, data))
            if (event, data) == (_IRQ_ENCRYPTION_UPDATE, (handle, True, False, True, 16)):
                return
            self.assertTrue(fresh and event == _IRQ_ENCRYPTION_UPDATE and data[:4] == (handle, True, False, False),
                            f"{radio.name}: events {seen}\n{self.daemon.log_text()[-3000:]}")

    # Tests

    def test_a_peer_bonded_with_us_in_rpa_mode_knows_us_after_a_restart(self):
        # hci0's kernel makes the connections (see the expected failure below
        # for the daemon's gap_connect); hci1 asks for security.
        hci0, hci1 = self.start()
        self.assertIn("hci0: new identity stored", self.daemon.log_text())
        hci0.ble.config(addr_mode=2)
        irk = kernel_irk("hci0")
        self.assertEqual(irk.hex().upper(), self.identity_file(hci0)["irk"])
        handle, their_handle, seen_as = self.kernel_connect(hci0, hci1)
        self.assertEqual(seen_as[0], 1)
        self.assertTrue(rpa_resolves(irk, seen_as[1]), seen_as[1].hex(":"))
        pair(hci1, their_handle)
        self.encrypted(hci1, their_handle, fresh=True)
        self.encrypted(hci0, handle, fresh=True)
        # hci1 got hci0's IRK and identity (its public address) in the pairing.
        self.assertEqual(hci1.ble.gap_bonds(), [(0, hci0.addr)])
        self.disconnect_all()
        bonds = (self.bond_text(hci0, hci1), self.bond_text(hci1, hci0))
        self.assertRegex(bonds[1], "\nirk [0-9A-F]{32}\n")
        # Privacy off: the kernel forgets the IRK, so only the daemon can give it back.
        hci0.ble.config(addr_mode=0)
        self.assertEqual(kernel_irk("hci0"), bytes(16))

        hci0, hci1 = self.start()
        log = self.daemon.log_text()
        self.assertNotIn("new identity stored", log)
        self.assertNotIn("stored identity not used", log)
        self.assertEqual(hci1.ble.gap_bonds(), [(0, hci0.addr)])
        hci0.ble.config(addr_mode=2)
        self.assertEqual(kernel_irk("hci0"), irk)
        handle, their_handle, seen_as = self.kernel_connect(hci0, hci1)
        # A new RPA of the same IRK, which hci1 resolves with the IRK it keeps.
        self.assertEqual(seen_as, (0, hci0.addr))
        pair(hci1, their_handle)
        self.encrypted(hci1, their_handle, fresh=False)
        self.encrypted(hci0, handle, fresh=False)
        hci0.quiet(1, {_IRQ_PASSKEY_ACTION, *DISCONNECTS})
        hci1.quiet(0.1, {_IRQ_PASSKEY_ACTION, *DISCONNECTS})
        self.disconnect_all()
        # The stored keys did it: no pairing happened, the files are as they were.
        self.assertEqual((self.bond_text(hci0, hci1), self.bond_text(hci1, hci0)), bonds)

    @unittest.expectedFailure
    def test_pairing_after_our_gap_connect_in_rpa_mode(self):
        # Known bug: in addr_mode 2 the daemon's gap_connect sets an RPA of
        # its own (LE Set Random Address over raw HCI) while the kernel
        # takes its own RPA (hdev->rpa) as the initiator address in SMP's
        # confirm values, so every pairing of such a link fails on the peer
        # ("confirmation values mismatch"; Authentication Failed).
        hci0, hci1 = self.start()
        hci0.ble.config(addr_mode=2)
        handle, their_handle, seen_as = self.gap_connect(hci0, hci1)
        self.assertTrue(rpa_resolves(kernel_irk("hci0"), seen_as[1]))
        print(f"\n  hci1 sees {seen_as[1].hex(':')}, the kernel's RPA is {kernel_rpa('hci0').hex(':')}")
        pair(hci0, handle)
        self.encrypted(hci0, handle, fresh=True)
        self.encrypted(hci1, their_handle, fresh=True)

    def test_the_static_address_is_the_same_after_a_restart(self):
        hci0, _ = self.start()
        hci0.ble.config(addr_mode=1)
        addr_type, static = hci0.ble.config("mac")
        static = bytes(static)
        self.assertEqual(addr_type, 1)
        self.assertEqual(static[0] >> 6, 0b11)
        self.assertEqual(self.identity_file(hci0)["static"], static.hex(":").upper())
        self.assertEqual(kernel_identity("hci0"), (static.hex(":").upper(), 1))
        hci0.ble.config(addr_mode=0)

        hci0, _ = self.start()
        hci0.ble.config(addr_mode=1)
        addr_type, again = hci0.ble.config("mac")
        self.assertEqual((addr_type, bytes(again)), (1, static))
        self.assertEqual(kernel_identity("hci0"), (static.hex(":").upper(), 1))
        self.assertEqual(self.identity_file(hci0)["static"], static.hex(":").upper())


if __name__ == "__main__":
    unittest.main()
