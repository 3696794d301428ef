"""System bus connections to ubluetoothd and method calls over them."""

import errno
import struct
import threading
import time
from collections import deque

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
from jeepney.bus import find_system_bus
from jeepney.io import blocking, threading as threaded_io

from ._errors import exception_from_dbus_error

SERVICE = "org.ubluetooth"
ROOT_PATH = "/org/ubluetooth"
BLE_INTERFACE = "org.ubluetooth.BLE1"
HANDLER_INTERFACE = "org.ubluetooth.Handler1"
OBJECT_MANAGER_INTERFACE = "org.freedesktop.DBus.ObjectManager"
REPLY_TIMEOUT_S = 25  # libdbus's default: a wedged daemon must not hang a script forever
_DISCARDED = deque(maxlen=0)  # where call connections drop stray messages (NameAcquired)


def adapter_path(adapter):
    return "%s/%s" % (ROOT_PATH, adapter)


def daemon_call(path, interface, member, signature=None, body=()):
    """A method call message to ubluetoothd."""
    return new_method_call(DBusAddress(path, SERVICE, interface), member, signature, body)


def connect_system_bus(threaded=False, enable_fds=False):
    """A new system bus connection; threaded ones can be interrupted from another thread.

    enable_fds: negotiate UNIX file descriptor passing (replies with "h" values
    such as L2capAcquire's; the bus does not deliver those to other connections).
    """
    io = threaded_io if threaded else blocking
    try:
        return io.open_dbus_connection("SYSTEM", enable_fds=enable_fds)
    except OSError as error:
        raise OSError(error.errno, "cannot connect to the D-Bus system bus at %s: %s"
                      % (find_system_bus(), error.strerror or error)) from error


def reply_body(reply):
    """The body of a method reply, or the mapped exception of an error reply."""
    if reply.header.message_type is MessageType.error:
        name = reply.header.fields.get(HeaderFields.error_name)
        text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
        raise exception_from_dbus_error(name, text)
    return reply.body


def _timeout_error(message):
    member = message.header.fields.get(HeaderFields.member)
    return OSError(errno.ETIMEDOUT, "%s: no reply within %d s" % (member, REPLY_TIMEOUT_S))


def _send(connection, message, serial):
    try:
        connection.send(message, serial=serial)
    except struct.error as error:  # jeepney's complaint about an int that does not fit
        member = message.header.fields.get(HeaderFields.member)
        raise ValueError("%s: argument out of range: %s" % (member, error)) from None


class CallConnection:
    """A connection for method calls, usable from any thread (calls are serialised).

    It can receive file descriptors; those arrive as jeepney FileDescriptor
    objects in reply bodies.
    """

    def __init__(self):
        self._connection = connect_system_bus(enable_fds=True)
        self._lock = threading.Lock()

    def call(self, message):
        """Send a method call; return the reply body or raise the mapped exception."""
        with self._lock:
            return call_keeping_others(self._connection, message, _DISCARDED)

    def close(self):
        self._connection.close()


def call_keeping_others(connection, message, others):
    """Method call on a connection nobody else reads; other messages go to others."""
    serial = next(connection.outgoing_serial)
    _send(connection, message, serial)
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while True:
        try:
            incoming = connection.receive(timeout=max(deadline - time.monotonic(), 0))
        except TimeoutError:
            raise _timeout_error(message) from None
        if incoming.header.fields.get(HeaderFields.reply_serial) == serial:
            return reply_body(incoming)
        others.append(incoming)
