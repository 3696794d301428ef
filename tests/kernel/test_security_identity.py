"""The adapter's own identity outlives the daemon: its static random address
(addr_mode 1) and its IRK (addr_mode 2) are kept beside its bonds
(<state>/bonds/<adapter>/identity, lib/sm/local_identity.hpp), so a peer that
bonded with it still knows it after a restart. hci0 and hci1, both served by
a daemon with a state directory of the test's own."""

import ctypes
import ctypes.util
import errno
import os
import queue
import re
import select
import socket
import stat
import tempfile
import time
import unittest

from harness import Daemon, Radio, kernel_identity, kernel_irk, rpa_resolves, stop_cleanly

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_PERIPHERAL_DISCONNECT = 8
_IRQ_ENCRYPTION_UPDATE = 28
_IRQ_PASSKEY_ACTION = 31
DISCONNECTS = (_IRQ_CENTRAL_DISCONNECT, _IRQ_PERIPHERAL_DISCONNECT)
SMP_WAIT = 35  # the kernel's SMP timeout is 30 s

AF_BLUETOOTH = 31
BTPROTO_L2CAP = 0
ATT_CID = 4
BDADDR_LE_PUBLIC = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class _SockaddrL2(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("psm", ctypes.c_ushort), ("bdaddr", ctypes.c_ubyte * 6),
                ("cid", ctypes.c_ushort), ("bdaddr_type", ctypes.c_ubyte)]


def _att_sockaddr(addr):
    sa = _SockaddrL2()
    sa.family = AF_BLUETOOTH
    sa.cid = ATT_CID
    sa.bdaddr_type = BDADDR_LE_PUBLIC
    for i, b in enumerate(reversed(addr)):  # least significant octet first
        sa.bdaddr[i] = b
    return sa


def att_connect(local, peer, timeout=25):
    """The kernel connects: an ATT socket from our controller at `local` to
    `peer` (addresses most significant octet first). With privacy on the
    kernel connects from an RPA of its own, made with the IRK of Set Privacy."""
    s = socket.socket(AF_BLUETOOTH, socket.SOCK_SEQPACKET, BTPROTO_L2CAP)
    try:
        sa = _att_sockaddr(local)
        if _libc.bind(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
            e = ctypes.get_errno()
            raise OSError(e, "ATT bind: " + os.strerror(e))
        s.setblocking(False)
        sa = _att_sockaddr(peer)
        if _libc.connect(s.fileno(), ctypes.byref(sa), ctypes.sizeof(sa)) < 0:
            e = ctypes.get_errno()
            if e not in (errno.EINPROGRESS, errno.EAGAIN):
                raise OSError(e, "ATT connect: " + os.strerror(e))
        poll = select.poll()
        poll.register(s, select.POLLOUT)
        if not poll.poll(timeout * 1000):
            raise OSError(errno.ETIMEDOUT, f"ATT connect: not connected within {timeout} s")
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            raise OSError(e, "ATT connect: " + os.strerror(e))
        return s
    except BaseException:
        s.close()
        raise


def kernel_rpa(name):
    """The RPA the kernel made for a controller (debugfs identity's last field), most significant octet first."""
    with open(f"/sys/kernel/debug/bluetooth/{name}/identity") as f:
        return bytes.fromhex(f.read().split()[-1].replace(":", ""))


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
            for r in self.radios:
                r.ble.irq(None)
            if self.daemon:
                stop_cleanly(self.daemon)

    def start(self):
        """Starts the daemon on the test's state directory, stopping the
        previous one cleanly: (hci0, hci1) radios, active."""
        for r in self.radios:
            r.ble.irq(None)
        if self.daemon:
            stop_cleanly(self.daemon)
        self.daemon = Daemon("--state-dir", self.state)
        self.radios = [Radio("hci0"), Radio("hci1")]
        return self.radios

    def identity_file(self, radio):
        """The adapter's identity file: {'static': 'C0:..', 'irk': '<hex>'}, its mode checked."""
        path = os.path.join(self.state, "bonds", radio.addr.hex().upper(), "identity")
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
        path = os.path.join(self.state, "bonds", radio.addr.hex().upper(), f"public-{peer.addr.hex().upper()}.bond")
        with open(path) as f:
            return f.read()

    # Links

    def gap_connect(self, central, peripheral):
        """central's daemon connects to advertising peripheral: (central's
        handle, peripheral's handle, (addr_type, addr) the peripheral names
        the central by)."""
        peripheral.ble.gap_advertise(50000, b"\x02\x01\x06")
        central.ble.gap_connect(0, peripheral.addr)
        handle, addr_type, addr = central.wait(_IRQ_PERIPHERAL_CONNECT)
        self.assertEqual((addr_type, addr), (0, peripheral.addr))
        their_handle, addr_type, addr = peripheral.wait(_IRQ_CENTRAL_CONNECT)
        self.links.append((central, handle, peripheral))
        return handle, their_handle, (addr_type, addr)

    def kernel_connect(self, central, peripheral):
        """As gap_connect, but central's kernel connects (an ATT socket)."""
        peripheral.ble.gap_advertise(50000, b"\x02\x01\x06")
        self.sockets.append(att_connect(central.addr, peripheral.addr))
        handle, addr_type, addr = central.wait(_IRQ_PERIPHERAL_CONNECT)
        self.assertEqual((addr_type, addr), (0, peripheral.addr))
        their_handle, addr_type, addr = peripheral.wait(_IRQ_CENTRAL_CONNECT)
        self.links.append((central, handle, peripheral))
        return handle, their_handle, (addr_type, addr)

    def disconnect_all(self):
        for central, handle, peripheral in self.links:
            if central.ble.gap_disconnect(handle):
                central.wait(_IRQ_PERIPHERAL_DISCONNECT)
                peripheral.wait(_IRQ_CENTRAL_DISCONNECT)
        self.links = []
        for s in self.sockets:
            s.close()
        self.sockets = []

    def pair(self, radio, handle):
        """gap_pair, again while the link's kernel channel is not up yet (Busy, documented)."""
        deadline = time.monotonic() + 3
        while True:
            try:
                radio.ble.gap_pair(handle)
                return
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def encrypted(self, radio, handle, fresh):
        """Waits for the link's ENCRYPTION_UPDATE (handle, True, False, True, 16).
        With `fresh` (a first pairing) updates with bonded False may come
        first (the key is stored after the encryption change). A disconnect
        or a PASSKEY_ACTION of the link fails at once."""
        deadline = time.monotonic() + SMP_WAIT
        seen = []
        while True:
            try:
                event, data = radio.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.fail(f"{radio.name}: no ENCRYPTION_UPDATE for {handle} in time; seen {seen}")
            if data[0] != handle or event not in (_IRQ_ENCRYPTION_UPDATE, _IRQ_PASSKEY_ACTION) + DISCONNECTS:
                continue
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
        self.pair(hci1, their_handle)
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
        self.pair(hci1, their_handle)
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
        self.pair(hci0, handle)
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
