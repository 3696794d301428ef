"""D-Bus error names of ubluetoothd as MicroPython's exceptions."""

import errno
import unittest

from ubluetooth._errors import exception_from_dbus_error


class ErrorMappingTest(unittest.TestCase):
    def test_invalid_args_is_value_error(self):
        error = exception_from_dbus_error("org.ubluetooth.Error.InvalidArgs", "bad interval")
        self.assertIs(type(error), ValueError)
        self.assertEqual(str(error), "org.ubluetooth.Error.InvalidArgs: bad interval")

    def test_os_errors(self):
        expected = {
            "org.ubluetooth.Error.NotActive": errno.ENODEV,
            "org.ubluetooth.Error.NotImplemented": errno.EOPNOTSUPP,
            "org.ubluetooth.Error.NotSupported": errno.EOPNOTSUPP,
            "org.ubluetooth.Error.NotFound": errno.ENOENT,
            "org.ubluetooth.Error.Failed": errno.EIO,
            "org.ubluetooth.Error.Busy": errno.EBUSY,
            "org.ubluetooth.Error.InProgress": errno.EALREADY,
            "org.freedesktop.DBus.Error.AccessDenied": errno.EPERM,
            "org.ubluetooth.Error.Timeout": errno.ETIMEDOUT,
        }
        for name, code in expected.items():
            with self.subTest(name=name):
                error = exception_from_dbus_error(name, "why")
                self.assertIsInstance(error, OSError)
                self.assertEqual(error.errno, code)
                self.assertEqual(error.strerror, name + ": why")

    def test_anything_else_is_eio_with_the_name(self):
        error = exception_from_dbus_error("org.freedesktop.DBus.Error.ServiceUnknown", "gone")
        self.assertEqual(error.errno, errno.EIO)
        self.assertEqual(error.strerror, "org.freedesktop.DBus.Error.ServiceUnknown: gone")


if __name__ == "__main__":
    unittest.main()
