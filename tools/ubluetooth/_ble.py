"""The BLE class: MicroPython's ubluetooth.BLE as calls to ubluetoothd."""

import errno
import os
import threading

from jeepney.bus_messages import message_bus

from . import _args
from ._dbus import (BLE_INTERFACE, OBJECT_MANAGER_INTERFACE, ROOT_PATH, SERVICE, CallConnection,
                    adapter_path, daemon_call)
from ._irq import IrqThread

_NOT_GIVEN = object()  # tells "argument absent" from None where MicroPython does


def _adapter_names(managed_objects):
    return sorted(path.rpartition("/")[2] for path, interfaces in managed_objects.items()
                  if BLE_INTERFACE in interfaces)


class BLE:
    """The BLE object of one adapter ("hci0").

    One instance per adapter, like MicroPython's singleton.
    """

    _instances = {}
    _instances_lock = threading.Lock()

    def __new__(cls, adapter=None):
        adapter = adapter or os.environ.get("UBLUETOOTH_ADAPTER") or "hci0"
        with cls._instances_lock:
            if adapter not in cls._instances:
                ble = super().__new__(cls)
                ble._open(adapter)
                cls._instances[adapter] = ble
            return cls._instances[adapter]

    def _open(self, adapter):
        self._adapter = adapter
        self._path = adapter_path(adapter)
        self._irq_thread = None
        self._bus = CallConnection()
        try:
            self._check_adapter_exists()
        except BaseException:
            self._bus.close()
            raise

    def _check_adapter_exists(self):
        if not self._bus.call(message_bus.NameHasOwner(SERVICE))[0]:
            raise OSError(errno.ENODEV, "%s: ubluetoothd is not running (no %s on the system bus)"
                          % (self._adapter, SERVICE))
        objects = self._call_at(ROOT_PATH, OBJECT_MANAGER_INTERFACE, "GetManagedObjects")[0]
        if BLE_INTERFACE not in objects.get(self._path, {}):
            raise OSError(errno.ENODEV, "no adapter %s in ubluetoothd (it has: %s)"
                          % (self._adapter, ", ".join(_adapter_names(objects)) or "none"))

    def _call_at(self, path, interface, member, signature=None, body=()):
        return self._bus.call(daemon_call(path, interface, member, signature, body))

    def _call(self, member, signature=None, body=()):
        return self._call_at(self._path, BLE_INTERFACE, member, signature, body)

    def __repr__(self):
        return "<BLE %s>" % self._adapter

    # Configuration

    def active(self, active=_NOT_GIVEN, /):
        options = {} if active is _NOT_GIVEN else {"active": ("b", bool(active))}
        return self._call("Active", "a{sv}", (options,))[0]

    def config(self, *args, **settings):
        if args and settings:
            raise TypeError("can't specify pos and kw args")
        if settings:
            self._call("ConfigSet", "a{sv}", (_args.config_values(settings),))
            return None
        if len(args) != 1:
            raise TypeError("must query one param")
        name = args[0]
        return _args.config_value(name, self._call("ConfigGet", "s", (name,))[0])

    # Event handling

    def irq(self, handler, /):
        if handler is not None and not callable(handler):
            raise ValueError("invalid handler")
        if handler is None:
            irq_thread, self._irq_thread = self._irq_thread, None
            if irq_thread is not None:
                irq_thread.stop()
        elif self._irq_thread is None:
            self._irq_thread = IrqThread(self._adapter, handler)
            self._irq_thread.start()  # only now, so that the handler can call irq(None)
        else:
            self._irq_thread.handler = handler

    # Broadcaster, observer, central, peripheral

    def gap_advertise(self, interval_us, adv_data=None, *, resp_data=None, connectable=True):
        options = _args.advertise_options(interval_us, adv_data, resp_data, connectable)
        self._call("GapAdvertise", "a{sv}", (options,))

    def gap_scan(self, duration_ms, interval_us=1280000, window_us=11250, active=False, /):
        options = _args.scan_options(duration_ms, interval_us, window_us, active)
        self._call("GapScan", "a{sv}", (options,))

    def gap_connect(self, addr_type, addr=_NOT_GIVEN, scan_duration_ms=2000,
                    min_conn_interval_us=None, max_conn_interval_us=None, /):
        if addr is _NOT_GIVEN:
            if addr_type is not None:
                raise TypeError("gap_connect() takes addr_type and addr, or None to cancel")
            self._call("GapConnectCancel")
            return
        options = _args.connect_options(scan_duration_ms, min_conn_interval_us,
                                        max_conn_interval_us)
        self._call("GapConnect", "yaya{sv}", (addr_type, _args.buffer_bytes(addr), options))

    def gap_disconnect(self, conn_handle, /):
        return self._call("GapDisconnect", "q", (conn_handle,))[0]

    def gap_pair(self, conn_handle, /):
        self._call("GapPair", "q", (conn_handle,))

    def gap_passkey(self, conn_handle, action, passkey, /):
        self._call("GapPasskey", "quu", (conn_handle, action, passkey))

    # Extensions: the bonds the daemon keeps for this adapter.

    def gap_bonds(self):
        """[(addr_type, addr)] of the bonded peers' identity addresses."""
        return [(addr_type, bytes(addr)) for addr_type, addr in self._call("GapBonds")[0]]

    def gap_unpair(self, addr_type, addr, /):
        """Forgets the bond with a peer, in the kernel and on disk; disconnects it."""
        self._call("GapUnpair", "yay", (addr_type, _args.buffer_bytes(addr)))

    # GATT server

    def gatts_register_services(self, services_definition, /):
        services = _args.services_to_dbus(services_definition)
        handles = self._call("GattsRegisterServices", "a(sa(sua(su)))", (services,))[0]
        return _args.handles_from_dbus(handles)

    def gatts_read(self, value_handle, /):
        return self._call("GattsRead", "q", (value_handle,))[0]

    def gatts_write(self, value_handle, data, send_update=False, /):
        options = {"send_update": ("b", bool(send_update))}
        self._call("GattsWrite", "qaya{sv}", (value_handle, _args.buffer_bytes(data), options))

    def gatts_notify(self, conn_handle, value_handle, data=None, /):
        self._call("GattsNotify", "qqa{sv}", (conn_handle, value_handle, _args.data_options(data)))

    def gatts_indicate(self, conn_handle, value_handle, data=None, /):
        self._call("GattsIndicate", "qqa{sv}",
                   (conn_handle, value_handle, _args.data_options(data)))

    def gatts_set_buffer(self, value_handle, len, append=False, /):
        options = {"append": ("b", bool(append))}
        self._call("GattsSetBuffer", "qua{sv}", (value_handle, len, options))

    # GATT client

    def gattc_discover_services(self, conn_handle, uuid=None, /):
        self._call("GattcDiscoverServices", "qa{sv}", (conn_handle, _args.uuid_options(uuid)))

    def gattc_discover_characteristics(self, conn_handle, start_handle, end_handle, uuid=None, /):
        self._call("GattcDiscoverCharacteristics", "qqqa{sv}",
                   (conn_handle, start_handle, end_handle, _args.uuid_options(uuid)))

    def gattc_discover_descriptors(self, conn_handle, start_handle, end_handle, /):
        self._call("GattcDiscoverDescriptors", "qqq", (conn_handle, start_handle, end_handle))

    def gattc_read(self, conn_handle, value_handle, /):
        self._call("GattcRead", "qq", (conn_handle, value_handle))

    def gattc_write(self, conn_handle, value_handle, data, mode=0, /):
        self._call("GattcWrite", "qqaya{sv}",
                   (conn_handle, value_handle, _args.buffer_bytes(data), {"mode": ("u", mode)}))

    def gattc_exchange_mtu(self, conn_handle, /):
        self._call("GattcExchangeMtu", "q", (conn_handle,))

    # L2CAP connection-oriented channels

    def l2cap_listen(self, psm, mtu, /):
        self._call("L2capListen", "qq", (psm, mtu))

    def l2cap_connect(self, conn_handle, psm, mtu, /):
        self._call("L2capConnect", "qqq", (conn_handle, psm, mtu))

    def l2cap_disconnect(self, conn_handle, cid, /):
        self._call("L2capDisconnect", "qq", (conn_handle, cid))

    def l2cap_send(self, conn_handle, cid, buf, /):
        return self._call("L2capSend", "qqay", (conn_handle, cid, _args.buffer_bytes(buf)))[0]

    def l2cap_recvinto(self, conn_handle, cid, buf, /):
        if buf is None:
            return self._call("L2capRecvinto", "qqa{sv}", (conn_handle, cid, {}))[0]
        target = memoryview(buf).cast("B")
        if target.readonly:
            raise TypeError("l2cap_recvinto needs a writable buffer")
        options = {"max_len": ("u", len(target))}
        _, data = self._call("L2capRecvinto", "qqa{sv}", (conn_handle, cid, options))
        target[:len(data)] = data
        return len(data)

    def l2cap_acquire(self, conn_handle, cid, /):
        """Take a connected channel out of the daemon as a socket: (socket, pending).

        An extension beyond MicroPython's ubluetooth (D-Bus: L2capAcquire), for
        bulk data: each send()/recv() on the socket is a system call on the
        kernel's channel, with no D-Bus round trip per SDU. Use l2cap_send and
        l2cap_recvinto for small or occasional messages and events in one place;
        use this when throughput matters.

        The socket is the kernel's L2CAP socket of the channel (AF_BLUETOOTH,
        SOCK_SEQPACKET): one send() is one SDU of at most the peer's MTU
        (larger: EMSGSIZE), one recv() returns one SDU (read with a buffer of at
        least our MTU: a shorter one truncates the SDU and loses the rest).
        Flow control is the kernel's: not reading withholds credits from the
        peer; a send() that finds no credits blocks until the peer grants more
        (for at most the kernel's send timeout, 40 s, then BlockingIOError), or
        raises BlockingIOError at once when non-blocking. It is returned in
        blocking mode, like any new Python socket; use settimeout() or
        setblocking(False) as needed. Ends of the channel as the kernel reports
        them: a recv() that returns b"" can come ahead of SDUs still queued (read
        SO_ERROR, then read again until b"" again or BlockingIOError); after a
        loss of the LE link recv() raises or blocks instead of returning b""
        (poll for POLLHUP, or use a timeout). Closing the socket disconnects the
        channel.

        From this call on the daemon forgets the channel: no more
        _IRQ_L2CAP_RECV, _IRQ_L2CAP_SEND_READY or _IRQ_L2CAP_DISCONNECT for it,
        and the other l2cap_* methods no longer know its cid. `pending` is the
        data the daemon had already taken from the channel and not yet
        delivered through l2cap_recvinto (bytes, possibly empty): it comes
        before anything recv() returns. OSError(ENOENT) for an unknown
        conn_handle or cid; OSError(EBUSY) while an l2cap_send is stalled
        (acquire after _IRQ_L2CAP_SEND_READY).
        """
        descriptor, pending = self._call("L2capAcquire", "qq", (conn_handle, cid))
        if not hasattr(descriptor, "to_socket"):  # an "h" that the bus could not pass
            raise OSError(errno.EIO, "L2capAcquire: no file descriptor in the reply (%r)"
                          % (descriptor,))
        sock = descriptor.to_socket()
        sock.setblocking(True)
        return sock, bytes(pending)
