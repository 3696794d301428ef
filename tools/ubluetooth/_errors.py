"""D-Bus error replies of ubluetoothd as the exceptions MicroPython raises."""

import errno

# D-Bus error name -> errno of the OSError raised (None: ValueError).
ERRNO_OF_DBUS_ERROR = {
    "org.ubluetooth.Error.InvalidArgs": None,
    "org.ubluetooth.Error.NotActive": errno.ENODEV,
    "org.ubluetooth.Error.NotImplemented": errno.EOPNOTSUPP,
    "org.ubluetooth.Error.NotSupported": errno.EOPNOTSUPP,
    "org.ubluetooth.Error.NotFound": errno.ENOENT,
    "org.ubluetooth.Error.Busy": errno.EBUSY,
    "org.ubluetooth.Error.InProgress": errno.EALREADY,  # as NimBLE's BLE_HS_EALREADY
    "org.ubluetooth.Error.Failed": errno.EIO,
    "org.freedesktop.DBus.Error.AccessDenied": errno.EPERM,
    "org.ubluetooth.Error.Timeout": errno.ETIMEDOUT,
}


def exception_from_dbus_error(name, message):
    """The exception for a D-Bus error reply; its text keeps the error name."""
    text = "%s: %s" % (name, message)
    if name not in ERRNO_OF_DBUS_ERROR:
        return OSError(errno.EIO, text)
    code = ERRNO_OF_DBUS_ERROR[name]
    return ValueError(text) if code is None else OSError(code, text)
