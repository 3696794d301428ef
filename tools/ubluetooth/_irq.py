"""The background thread that delivers one adapter's IRQ events to its handler."""

import errno
import sys
import threading
import traceback
from collections import deque

from jeepney import HeaderFields, MatchRule, MessageFlag, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.threading import ReceiveStopped

from ._dbus import (BLE_INTERFACE, HANDLER_INTERFACE, ROOT_PATH, SERVICE, adapter_path,
                    call_keeping_others, connect_system_bus, daemon_call)
from ._events import HANDLER_CALLS, answer_handler_call, signal_event


def _print_irq_exception():
    print("Unhandled exception in IRQ callback handler", file=sys.stderr)
    traceback.print_exc()


class IrqThread:
    """Owns a private bus connection and the one thread that reads it.

    BLE1 signals become handler calls; Handler1 method calls from the daemon
    are answered with the handler's result; both in arrival order.
    """

    def __init__(self, adapter, handler):
        self.handler = handler  # replaced by BLE.irq(); read once per event
        self._adapter = adapter
        self._adapter_path = adapter_path(adapter)
        self._handler_path = "%s/client/%s" % (ROOT_PATH, adapter)
        self._waiting = deque()  # messages that arrived while we waited for a reply
        self._stopping = False
        self._connection = connect_system_bus(threaded=True)
        try:
            rule = MatchRule(type="signal", sender=SERVICE, path=self._adapter_path,
                             interface=BLE_INTERFACE)
            self._call(message_bus.AddMatch(rule))
            self._call_daemon("RegisterHandler")
        except BaseException:
            self._connection.close()
            raise
        self._thread = threading.Thread(target=self._run, name="ubluetooth-irq-" + adapter,
                                        daemon=True)

    def start(self):
        """Start delivering; events that came since registering are delivered first."""
        self._thread.start()

    def stop(self):
        """Stop delivering, unregister and close; callable from the handler itself."""
        self.handler = None
        self._stopping = True
        if threading.current_thread() is not self._thread:
            self._connection.interrupt()
            self._thread.join()
            self._connection.reset_interrupt()
        try:
            self._call_daemon("UnregisterHandler")
        except OSError as error:
            # Another client's registration replaced ours: nothing to undo.
            if error.errno != errno.ENOENT:
                raise
        finally:
            self._connection.close()

    def _call(self, message):
        return call_keeping_others(self._connection, message, self._waiting)

    def _call_daemon(self, member):
        self._call(daemon_call(self._adapter_path, BLE_INTERFACE, member, "o",
                               (self._handler_path,)))

    def _run(self):
        try:
            while not self._stopping:
                message = self._waiting.popleft() if self._waiting else self._connection.receive()
                self._dispatch(message)
        except ReceiveStopped:
            pass
        except OSError as error:
            print("ubluetooth: %s: no more events, the D-Bus connection failed: %s"
                  % (self._adapter, error), file=sys.stderr)

    def _dispatch(self, message):
        header = message.header
        if header.message_type is MessageType.signal:
            self._deliver_signal(message)
        elif header.message_type is MessageType.method_call:
            reply = self._answer(message)
            if not header.flags & MessageFlag.no_reply_expected:
                self._connection.send(reply)

    def _deliver_signal(self, signal):
        fields = signal.header.fields
        if (fields.get(HeaderFields.interface) != BLE_INTERFACE
                or fields.get(HeaderFields.path) != self._adapter_path):
            return  # e.g. the bus's NameAcquired
        handler = self.handler
        if handler is None:
            return
        try:
            event = signal_event(fields.get(HeaderFields.member), signal.body)
            if event is not None:
                handler(*event)
        except Exception:
            _print_irq_exception()

    def _answer(self, call):
        fields = call.header.fields
        member = fields.get(HeaderFields.member)
        if (fields.get(HeaderFields.interface) != HANDLER_INTERFACE
                or fields.get(HeaderFields.path) != self._handler_path
                or member not in HANDLER_CALLS):
            return new_error(call, "org.freedesktop.DBus.Error.UnknownMethod", "s",
                             ("no method %s.%s at %s" % (fields.get(HeaderFields.interface),
                                                         member, fields.get(HeaderFields.path)),))
        try:
            signature, body = answer_handler_call(member, call.body, self.handler)
        except Exception as error:
            _print_irq_exception()
            return new_error(call, "org.ubluetooth.Error.Failed", "s",
                             ("the IRQ handler raised %r" % error,))
        return new_method_return(call, signature, body)
