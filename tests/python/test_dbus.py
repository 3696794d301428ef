"""Method calls over a connection: reply matching, error replies, bad arguments (fake connection)."""

import errno
import itertools
import unittest

from jeepney import HeaderFields, new_error, new_method_return, new_signal, DBusAddress

from ubluetooth._dbus import adapter_path, call_keeping_others, daemon_call


class FakeConnection:
    """Serialises what is sent (as a real send does) and hands out prepared messages."""

    def __init__(self, incoming):
        self.outgoing_serial = itertools.count(1)
        self.incoming = list(incoming)
        self.sent = []

    def send(self, message, serial):
        message.serialise(serial=serial)
        self.sent.append((serial, message))

    def receive(self, timeout):
        if not self.incoming:
            raise TimeoutError
        return self.incoming.pop(0)


def reply_to_serial(serial, make_reply, *args):
    call = daemon_call("/org/ubluetooth/hci0", "org.ubluetooth.BLE1", "Anything")
    call.header.serial = serial
    return make_reply(call, *args)


SIGNAL = new_signal(DBusAddress("/org/ubluetooth/hci0", interface="org.ubluetooth.BLE1"),
                    "ScanDone")


class CallTest(unittest.TestCase):
    def test_daemon_call_addresses_ubluetoothd(self):
        message = daemon_call(adapter_path("hci1"), "org.ubluetooth.BLE1", "GattsRead", "q", (3,))
        fields = message.header.fields
        self.assertEqual(fields[HeaderFields.destination], "org.ubluetooth")
        self.assertEqual(fields[HeaderFields.path], "/org/ubluetooth/hci1")
        self.assertEqual(fields[HeaderFields.interface], "org.ubluetooth.BLE1")
        self.assertEqual(fields[HeaderFields.member], "GattsRead")
        self.assertEqual(message.body, (3,))

    def test_returns_the_reply_body_and_keeps_other_messages(self):
        reply = reply_to_serial(1, new_method_return, "b", (True,))
        other_reply = reply_to_serial(7, new_method_return, "b", (False,))
        connection = FakeConnection([SIGNAL, other_reply, reply])
        others = []
        body = call_keeping_others(connection, daemon_call("/", "i", "Active"), others)
        self.assertEqual(body, (True,))
        self.assertEqual(others, [SIGNAL, other_reply])
        self.assertEqual(connection.sent[0][0], 1)

    def test_error_reply_raises_the_mapped_exception(self):
        reply = reply_to_serial(1, new_error, "org.ubluetooth.Error.NotFound", "s",
                                ("no connection 64",))
        with self.assertRaises(OSError) as raised:
            call_keeping_others(FakeConnection([reply]), daemon_call("/", "i", "GapPair"), [])
        self.assertEqual(raised.exception.errno, errno.ENOENT)
        self.assertEqual(raised.exception.strerror,
                         "org.ubluetooth.Error.NotFound: no connection 64")

    def test_no_reply_is_a_timeout(self):
        with self.assertRaises(OSError) as raised:
            call_keeping_others(FakeConnection([]), daemon_call("/", "i", "GapScan"), [])
        self.assertEqual(raised.exception.errno, errno.ETIMEDOUT)
        self.assertIn("GapScan", str(raised.exception))

    def test_out_of_range_argument_is_value_error(self):
        message = daemon_call("/", "i", "GattsRead", "q", (70000,))
        with self.assertRaisesRegex(ValueError, "GattsRead"):
            call_keeping_others(FakeConnection([]), message, [])


if __name__ == "__main__":
    unittest.main()
