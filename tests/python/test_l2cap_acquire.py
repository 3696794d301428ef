"""BLE.l2cap_acquire: the L2capAcquire call, the file descriptor of its reply
as a socket, the pending bytes, errors (fake bus; a socketpair stands in for
the channel)."""

import array
import errno
import os
import socket
import unittest
from unittest import mock

from jeepney import HeaderFields, new_error, new_method_return
from jeepney.fds import FileDescriptor
from jeepney.low_level import Parser

from ubluetooth import _dbus
from ubluetooth._ble import BLE


def as_received(reply):
    """The reply as jeepney hands it over after receiving it: serialised with
    its file descriptors, which arrive as new descriptors (as SCM_RIGHTS makes them)."""
    fds = array.array("i")
    data = reply.serialise(serial=99, fds=fds)
    parser = Parser()
    parser.add_data(data, [FileDescriptor(os.dup(fd)) for fd in fds])
    return parser.get_next_message()


class FakeBus:
    """CallConnection's interface: records the call, answers with make_reply(call)."""

    def __init__(self, make_reply):
        self.make_reply = make_reply
        self.calls = []

    def call(self, message):
        self.calls.append(message)
        _dbus._send(self, message, len(self.calls))  # serialises, as sending does
        message.header.serial = len(self.calls)  # what the reply refers to
        return _dbus.reply_body(as_received(self.make_reply(message)))

    def send(self, message, serial):
        message.serialise(serial=serial)


def ble_with(bus):
    ble = object.__new__(BLE)  # no system bus: the fields _open would set
    ble._adapter, ble._path, ble._irq_thread, ble._bus = "hci0", "/org/ubluetooth/hci0", None, bus
    return ble


class L2capAcquireTest(unittest.TestCase):
    def setUp(self):
        self.daemon_end, self.channel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.channel.setblocking(False)  # as the daemon had it
        self.addCleanup(self.daemon_end.close)
        self.addCleanup(self.channel.close)

    def acquire(self, pending=b""):
        bus = FakeBus(lambda call: new_method_return(call, "hay", (self.channel.fileno(), pending)))
        sock, got_pending = ble_with(bus).l2cap_acquire(64, 0x41)
        self.addCleanup(sock.close)
        return bus, sock, got_pending

    def test_calls_l2cap_acquire_with_conn_handle_and_cid(self):
        bus, _, _ = self.acquire()
        (message,) = bus.calls
        fields = message.header.fields
        self.assertEqual(fields[HeaderFields.path], "/org/ubluetooth/hci0")
        self.assertEqual(fields[HeaderFields.interface], "org.ubluetooth.BLE1")
        self.assertEqual(fields[HeaderFields.member], "L2capAcquire")
        self.assertEqual(fields[HeaderFields.signature], "qq")
        self.assertEqual(message.body, (64, 0x41))

    def test_returns_a_blocking_socket_on_the_channel_and_the_pending_bytes(self):
        _, sock, pending = self.acquire(b"\x00\x01already taken")
        self.assertIsInstance(sock, socket.socket)
        self.assertIsInstance(pending, bytes)
        self.assertEqual(pending, b"\x00\x01already taken")
        self.assertNotEqual(sock.fileno(), self.channel.fileno())  # the received descriptor
        self.assertEqual(sock.type, socket.SOCK_SEQPACKET)
        self.assertIsNone(sock.gettimeout())
        self.assertTrue(os.get_blocking(sock.fileno()))
        # One message per send and recv, both ways.
        self.daemon_end.send(b"sdu one")
        self.daemon_end.send(b"sdu two")
        self.assertEqual(sock.recv(100), b"sdu one")
        self.assertEqual(sock.recv(100), b"sdu two")
        sock.send(b"back")
        self.assertEqual(self.daemon_end.recv(100), b"back")

    def test_empty_pending(self):
        _, _, pending = self.acquire()
        self.assertEqual(pending, b"")

    def test_closing_the_socket_ends_the_channel_for_the_peer(self):
        _, sock, _ = self.acquire()
        self.channel.close()  # the daemon forgets its copy
        sock.close()
        self.assertEqual(self.daemon_end.recv(100), b"")

    def test_unknown_channel_is_enoent(self):
        bus = FakeBus(lambda call: new_error(call, "org.ubluetooth.Error.NotFound", "s",
                                             ("no L2CAP channel 0x0041 on connection 64",)))
        with self.assertRaises(OSError) as raised:
            ble_with(bus).l2cap_acquire(64, 0x41)
        self.assertEqual(raised.exception.errno, errno.ENOENT)
        self.assertIn("no L2CAP channel", str(raised.exception))

    def test_reply_without_a_descriptor_is_an_error(self):
        bus = FakeBus(lambda call: new_method_return(call, "uay", (3, b"")))
        with self.assertRaises(OSError) as raised:
            ble_with(bus).l2cap_acquire(64, 0x41)
        self.assertEqual(raised.exception.errno, errno.EIO)

    def test_out_of_range_arguments(self):
        with self.assertRaisesRegex(ValueError, "L2capAcquire"):
            ble_with(FakeBus(None)).l2cap_acquire(70000, 0x41)


class CallConnectionTest(unittest.TestCase):
    def test_call_connection_negotiates_file_descriptors(self):
        with mock.patch.object(_dbus.blocking, "open_dbus_connection") as opened:
            _dbus.CallConnection()
        opened.assert_called_once_with("SYSTEM", enable_fds=True)

    def test_other_connections_do_not(self):
        with mock.patch.object(_dbus.threaded_io, "open_dbus_connection") as opened:
            _dbus.connect_system_bus(threaded=True)
        opened.assert_called_once_with("SYSTEM", enable_fds=False)


if __name__ == "__main__":
    unittest.main()
