"""L2CAP LE credit-based channels (issue 5) on the real kernel stack: one
daemon serves both ends of a link, hci0 (central) opens channels to hci1
(peripheral), which listens, all through the Python client in this process.
Accept and refusal through the handler (and its timeout; the kernel has
accepted a channel before the handler is asked, so a refused one opens and
closes at the peer), data of every size both ways compared byte for byte,
SDUs up to MTU 65535, disconnects from either side, by the link and by the
radio, channels that outlive the kernel's 40 s request timer, stalls and
SEND_READY with a reader that does not read, several channels on one link,
data left unread at a disconnect, bad input, and the file-descriptor path
(L2capAcquire). On a link, channels are opened from one side only: the
kernel mismatches signalling identifiers when the directions mix
(docs/kernel-l2cap-coc.md)."""

import errno
import queue
import random
import time
import unittest

from harness import BUS_NAME, IFACE, Daemon, Radio, stop_cleanly

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_PERIPHERAL_DISCONNECT = 8
_IRQ_L2CAP_ACCEPT = 22
_IRQ_L2CAP_CONNECT = 23
_IRQ_L2CAP_DISCONNECT = 24
_IRQ_L2CAP_RECV = 25
_IRQ_L2CAP_SEND_READY = 26

ERR = "org.ubluetooth.Error."
NO_HANDLE = 0x0EFF  # no link has this handle

# Listened on for the whole module (listening cannot be stopped), by hci1
# except PSM_ON_HCI0, each with its own MTU.
PSM_MAIN = 0x81
PSM_SMALL = 0x82
PSM_LARGE = 0x83
PSM_REJECT = 0x84  # the handler rejects
PSM_SLOW = 0x85  # the handler answers too late
PSM_NOBODY = 0x86  # nobody listens
PSM_ON_HCI0 = 0x87  # hci0 listens, for channels the peripheral opens
PSM_HUGE = 0x88
LISTEN_MTU = {PSM_MAIN: 512, PSM_SMALL: 128, PSM_LARGE: 2048, PSM_REJECT: 512, PSM_SLOW: 512, PSM_ON_HCI0: 256,
              PSM_HUGE: 65535}


def listener(psm):
    return "hci0" if psm == PSM_ON_HCI0 else "hci1"


daemon = None
radios = {}


class Hub:
    """The events of hci0 and hci1 as (adapter, event, data), each adapter's
    in arrival order; wanted events are taken out, the others kept for later."""

    def __init__(self):
        self.queue = queue.Queue()
        self.backlog = []  # arrived, not taken yet
        self.history = []  # everything since reset(), as the handlers saw it
        self.accept = {}  # psm -> the status handlers answer _IRQ_L2CAP_ACCEPT with, or a function of its data

    def handler(self, name):
        def on_event(event, data):
            data = tuple(bytes(d) if isinstance(d, memoryview) else d for d in data)
            item = (name, event, data)
            self.history.append(item)
            self.queue.put(item)
            if event == _IRQ_L2CAP_ACCEPT:
                answer = self.accept.get(data[2])
                return answer(data) if callable(answer) else answer
            return None
        return on_event

    def reset(self):
        self.pull()
        self.backlog.clear()
        self.history.clear()

    def pull(self):
        """Moves what has arrived into the backlog."""
        while True:
            try:
                self.backlog.append(self.queue.get_nowait())
            except queue.Empty:
                return

    def next(self, timeout):
        """The next event not looked at yet, or None after timeout seconds (0: no wait)."""
        if self.backlog:
            return self.backlog.pop(0)
        try:
            return self.queue.get(timeout=timeout) if timeout > 0 else self.queue.get_nowait()
        except queue.Empty:
            return None

    @staticmethod
    def matches(item, name, events, prefix):
        n, event, data = item
        return n == name and event in events and data[:len(prefix)] == tuple(prefix)

    def take(self, name, event, prefix=(), timeout=10, required=True):
        """The data of the first event `event` of adapter `name` whose data starts with prefix
        (None after the timeout if not required)."""
        events = {event}
        for i, item in enumerate(self.backlog):
            if self.matches(item, name, events, prefix):
                del self.backlog[i]
                return item[2]
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if self.matches(item, name, events, prefix):
                return item[2]
            self.backlog.append(item)
        if not required:
            return None
        raise AssertionError(f"{name}: no event {event} {tuple(prefix)} within {timeout} s; "
                             f"events: {self.recent()}")

    def seen(self, name, events, prefix=(), since=0):
        """Events of `name` in `events` since reset() or history[since] (taken or not)."""
        return [item for item in list(self.history)[since:] if self.matches(item, name, set(events), prefix)]

    def recent(self, count=40):
        return "\n  " + "\n  ".join(str(item) for item in list(self.history)[-count:])


hub = Hub()


def setUpModule():
    global daemon
    daemon = Daemon()
    for name in ("hci0", "hci1", "hci2"):
        radios[name] = Radio(name)
    for name in ("hci0", "hci1"):
        radios[name].ble.irq(hub.handler(name))
    for psm, mtu in LISTEN_MTU.items():
        radios[listener(psm)].ble.l2cap_listen(psm, mtu)


def tearDownModule():
    for r in radios.values():
        r.ble.irq(None)
    stop_cleanly(daemon)


class End:
    """One end of a channel: the adapter's BLE object and what its _IRQ_L2CAP_CONNECT said."""

    def __init__(self, radio, conn, cid, psm, our_mtu, peer_mtu):
        self.name, self.ble = radio.name, radio.ble
        self.conn, self.cid, self.psm, self.our_mtu, self.peer_mtu = conn, cid, psm, our_mtu, peer_mtu
        self.limit = min(peer_mtu, 2 * our_mtu)  # the largest l2cap_send

    def __repr__(self):
        return f"<{self.name} conn {self.conn} cid {self.cid:#x} psm {self.psm:#x}>"

    def send(self, data):
        return self.ble.l2cap_send(self.conn, self.cid, data)

    def count(self):
        return self.ble.l2cap_recvinto(self.conn, self.cid, None)

    def read(self, max_len):
        buf = bytearray(max_len)
        got = self.ble.l2cap_recvinto(self.conn, self.cid, buf)
        if not 0 <= got <= max_len:
            raise AssertionError(f"{self}: recvinto into {max_len} bytes returned {got}")
        return bytes(buf[:got])

    def disconnect(self):
        self.ble.l2cap_disconnect(self.conn, self.cid)


class Channel:
    def __init__(self, a, b, since):
        self.a, self.b = a, b  # hci0's end, hci1's end
        self.since = since  # where its events start in hub.history
        self.open = True  # tearDown expects its _IRQ_L2CAP_DISCONNECTs while True


class Stream:
    """SDUs from one end of a channel to the other; what arrives is checked
    against the concatenation, byte for byte, as it arrives."""

    def __init__(self, src, dst, payloads):
        self.src, self.dst, self.payloads = src, dst, list(payloads)
        for p in self.payloads:
            assert 1 <= len(p) <= src.limit, (src, len(p))
        self.expected = b"".join(self.payloads)
        self.received = bytearray()
        self.sent = 0  # SDUs sent
        self.stalled = False  # the last l2cap_send returned False, no SEND_READY yet
        self.stalls = 0
        self.ready = 0  # _IRQ_L2CAP_SEND_READY events
        self.recv_events = 0

    def __repr__(self):
        return (f"<{self.src} -> {self.dst}: sent {self.sent}/{len(self.payloads)} SDUs, stalled {self.stalled}, "
                f"stalls {self.stalls}, ready {self.ready}, received {len(self.received)}/{len(self.expected)} "
                f"bytes, {self.recv_events} RECV events>")

    def can_send(self):
        return not self.stalled and self.sent < len(self.payloads)

    def done(self):
        return self.sent == len(self.payloads) and not self.stalled and len(self.received) == len(self.expected)


def acquire(end):
    """L2capAcquire: (socket, pending bytes), through the client if it has it, else with jeepney."""
    if hasattr(end.ble, "l2cap_acquire"):
        return end.ble.l2cap_acquire(end.conn, end.cid)
    from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    from ubluetooth._errors import exception_from_dbus_error
    with open_dbus_connection("SYSTEM", enable_fds=True) as bus:
        reply = bus.send_and_get_reply(new_method_call(
            DBusAddress(f"/org/ubluetooth/{end.name}", BUS_NAME, IFACE), "L2capAcquire", "qq",
            (end.conn, end.cid)), timeout=20)
    if reply.header.message_type == MessageType.error:
        raise exception_from_dbus_error(reply.header.fields[HeaderFields.error_name],
                                        reply.body[0] if reply.body else "")
    descriptor, pending = reply.body
    sock = descriptor.to_socket()
    sock.setblocking(True)
    return sock, bytes(pending)


class L2cap(unittest.TestCase):
    """A fresh link per test: hci0 central, hci1 peripheral and listener."""

    def setUp(self):
        self.client, self.server = radios["hci0"], radios["hci1"]
        self.rng = random.Random(self.id())
        self.channels = []
        hub.reset()
        self.server.ble.gap_advertise(50000, b"\x02\x01\x06")
        self.client.ble.gap_connect(0, self.server.addr)
        self.conn = hub.take("hci0", _IRQ_PERIPHERAL_CONNECT)[0]
        self.server_conn = hub.take("hci1", _IRQ_CENTRAL_CONNECT)[0]

    def tearDown(self):
        hub.accept.clear()
        self.server.ble.irq(hub.handler("hci1"))  # in case a test took it away
        if not daemon.alive():
            raise AssertionError(f"ubluetoothd died:\n{daemon.log_text()[-5000:]}")
        if not self.client.ble.gap_disconnect(self.conn):
            return  # the test ended the link
        hub.take("hci0", _IRQ_PERIPHERAL_DISCONNECT, (self.conn,))
        hub.take("hci1", _IRQ_CENTRAL_DISCONNECT, (self.server_conn,))
        # Every channel still open ended with the link, on both sides, status 0.
        missing = []
        for ch in self.channels:
            for end in (ch.a, ch.b) if ch.open else ():
                got = hub.seen(end.name, {_IRQ_L2CAP_DISCONNECT}, (end.conn, end.cid), ch.since)
                if [data for _, _, data in got] != [(end.conn, end.cid, end.psm, 0)]:
                    missing.append((end, got))
        if missing:
            raise AssertionError(f"channels that did not end with the link as they should: {missing}"
                                 f"{hub.recent()}")

    # Helpers

    def assertDbusError(self, name, call, *args):
        """call(*args) fails with the D-Bus error org.ubluetooth.Error.<name>."""
        kind = ValueError if name == "InvalidArgs" else OSError
        with self.assertRaises(kind, msg=f"{getattr(call, '__name__', call)}{args} should fail with {name}") as cm:
            call(*args)
        self.assertIn(ERR + name, str(cm.exception))

    def open_channel(self, psm, mtu):
        """The other side opens a channel to the listener of psm with our MTU mtu (usually
        hci0 to hci1); checks the events of both sides."""
        listen_mtu = LISTEN_MTU[psm]
        acceptor, opener = (self.client, self.server) if listener(psm) == "hci0" else (self.server, self.client)
        a_conn, o_conn = (self.conn, self.server_conn) if acceptor is self.client else (self.server_conn, self.conn)
        since = len(hub.history)
        opener.ble.l2cap_connect(o_conn, psm, mtu)
        conn, cid, got_psm, our_mtu, peer_mtu = hub.take(acceptor.name, _IRQ_L2CAP_ACCEPT, (a_conn,))
        self.assertEqual((got_psm, our_mtu, peer_mtu), (psm, listen_mtu, mtu))
        self.assertTrue(0x40 <= cid <= 0x7F, hex(cid))
        self.assertEqual(hub.take(acceptor.name, _IRQ_L2CAP_CONNECT, (a_conn, cid)),
                         (a_conn, cid, psm, listen_mtu, mtu))
        accepted = End(acceptor, a_conn, cid, psm, listen_mtu, mtu)
        conn, cid, got_psm, our_mtu, peer_mtu = hub.take(opener.name, _IRQ_L2CAP_CONNECT, (o_conn,))
        self.assertEqual((got_psm, our_mtu, peer_mtu), (psm, mtu, listen_mtu))
        self.assertTrue(0x40 <= cid <= 0x7F, hex(cid))
        opened = End(opener, o_conn, cid, psm, mtu, listen_mtu)
        # The acceptor's handler was asked before the channel was reported connected.
        self.assertEqual([e for _, e, _ in hub.seen(acceptor.name, {_IRQ_L2CAP_ACCEPT, _IRQ_L2CAP_CONNECT},
                                                    (accepted.conn, accepted.cid), since)],
                         [_IRQ_L2CAP_ACCEPT, _IRQ_L2CAP_CONNECT])
        ch = Channel(*((opened, accepted) if opener is self.client else (accepted, opened)), since)
        self.channels.append(ch)
        return ch

    def close_channel(self, ch, closer):
        """closer (an End of ch) disconnects: both ends get _IRQ_L2CAP_DISCONNECT with status 0."""
        closer.disconnect()
        for end in (closer, ch.b if closer is ch.a else ch.a):
            self.assertEqual(hub.take(end.name, _IRQ_L2CAP_DISCONNECT, (end.conn, end.cid)),
                             (end.conn, end.cid, end.psm, 0), end)
        ch.open = False

    def stall(self, end, limit=200):
        """Sends SDUs of end's largest size until a stall that lasts 2 s (the peer does not read):
        the SDUs sent, and how many stalls cleared before (the peer's kernel still had room)."""
        sent, cleared = [], 0
        while True:
            self.assertLess(len(sent), limit, f"{limit} SDUs went out to a reader that does not read")
            sent.append(self.rng.randbytes(end.limit))
            if not end.send(sent[-1]):
                ready = hub.take(end.name, _IRQ_L2CAP_SEND_READY, (end.conn, end.cid), timeout=2, required=False)
                if ready is None:
                    return sent, cleared
                self.assertEqual(ready[2], 0)
                cleared += 1

    def payloads(self, sizes):
        return [self.rng.randbytes(n) for n in sizes]

    def drain(self, s):
        """Reads s.dst until recvinto(None) says 0, in reads of random sizes."""
        while True:
            available = s.dst.count()
            if available == 0:
                return
            size = available if self.rng.random() < 0.5 else self.rng.randint(1, available + 16)
            chunk = s.dst.read(size)
            self.assertGreaterEqual(len(chunk), min(size, available),
                                    f"{s}: recvinto gave {len(chunk)} of {available} available into {size}")
            offset = len(s.received)
            if chunk != s.expected[offset:offset + len(chunk)]:
                raise AssertionError(f"{s}: {len(chunk)} bytes at offset {offset} differ from what was sent "
                                     f"(got {chunk[:32].hex()}..., expected "
                                     f"{s.expected[offset:offset + 32].hex()}...)")
            s.received += chunk

    def dispatch(self, streams, item):
        """Handles one event for the streams; False if it is none of theirs."""
        name, event, data = item
        for s in streams:
            if event == _IRQ_L2CAP_RECV and (name, data) == (s.dst.name, (s.dst.conn, s.dst.cid)):
                s.recv_events += 1
                self.drain(s)
                return True
            if event == _IRQ_L2CAP_SEND_READY and (name, data[:2]) == (s.src.name, (s.src.conn, s.src.cid)):
                self.assertEqual(data[2], 0, s)
                self.assertTrue(s.stalled, f"{s}: SEND_READY after no l2cap_send returned False")
                s.stalled = False
                s.ready += 1
                return True
            if event == _IRQ_L2CAP_DISCONNECT and any((name, data[:2]) == (e.name, (e.conn, e.cid))
                                                      for e in (s.src, s.dst)):
                raise AssertionError(f"{s}: the channel disconnected: {data}{hub.recent()}")
        return False

    def pump(self, streams, timeout=90, idle=20):
        """Runs the streams at once: each sends while not stalled (one SDU per round), each
        receiver drains on _IRQ_L2CAP_RECV, a stalled sender waits for _IRQ_L2CAP_SEND_READY.
        Fails after timeout s, or idle s without an event while nothing can be sent."""
        deadline = time.monotonic() + timeout
        others = []
        try:
            for s in streams:
                self.drain(s)
            while not all(s.done() for s in streams):
                for s in streams:
                    if s.can_send():
                        ready = s.src.send(s.payloads[s.sent])
                        self.assertIsInstance(ready, bool)
                        s.sent += 1
                        if not ready:
                            s.stalled, s.stalls = True, s.stalls + 1
                left = deadline - time.monotonic()
                if left < 0:
                    raise AssertionError(f"not done within {timeout} s: {streams}{hub.recent()}")
                wait = 0 if any(s.can_send() for s in streams) else min(left, idle)
                item = hub.next(wait)
                if item is None and wait > 0:
                    raise AssertionError(f"no event within {wait:.0f} s: {streams}{hub.recent()}")
                while item is not None:
                    if not self.dispatch(streams, item):
                        others.append(item)
                    item = hub.next(0)
        finally:
            hub.backlog[:0] = others
        for s in streams:
            self.assertEqual(bytes(s.received), s.expected)
            self.assertEqual(s.ready, s.stalls, s)
            self.assertGreaterEqual(s.recv_events, 1, s)

    def exchange(self, ch, sizes_ab, sizes_ba, timeout=90):
        streams = [Stream(ch.a, ch.b, self.payloads(sizes_ab)),
                   Stream(ch.b, ch.a, self.payloads(sizes_ba))]
        self.pump(streams, timeout)
        return streams

    def assert_channel_ends_before_link(self, name, conn, cid, psm, status, gap_event):
        """_IRQ_L2CAP_DISCONNECT (conn, cid, psm, status) on `name`, before its GAP disconnect event."""
        self.assertEqual(hub.take(name, _IRQ_L2CAP_DISCONNECT, (conn, cid)), (conn, cid, psm, status), name)
        hub.take(name, gap_event, (conn,))
        self.assertEqual([e for _, e, _ in hub.seen(name, {_IRQ_L2CAP_DISCONNECT, gap_event})],
                         [_IRQ_L2CAP_DISCONNECT, gap_event], name)

    def quiet(self, seconds, name, events, prefix=()):
        """Fails if `name` gets one of `events` (data starting with prefix) within seconds."""
        time.sleep(seconds)
        hub.pull()
        found = [item for item in hub.backlog if Hub.matches(item, name, set(events), prefix)]
        self.assertEqual(found, [], f"unexpected events{hub.recent()}")

    # Tests

    def test_connect_accept_and_mtus_seen_crosswise(self):
        ch = self.open_channel(PSM_MAIN, 300)
        self.assertEqual((ch.a.our_mtu, ch.a.peer_mtu, ch.b.our_mtu, ch.b.peer_mtu), (300, 512, 512, 300))
        # One SDU each way shows the channel carries data.
        self.exchange(ch, [512], [300])  # each side's largest: the peer's MTU

    def test_every_size_from_1_to_the_mtu_both_ways(self):
        ch = self.open_channel(PSM_SMALL, 128)
        sizes = list(range(1, 129))
        ab, ba = sizes[:], sizes[:]
        self.rng.shuffle(ab)
        self.rng.shuffle(ba)
        self.exchange(ch, ab, ba, timeout=150)

    def test_large_sdus_up_to_the_send_limits(self):
        # hci0: our MTU 1000, peer's 2048 -> 2000 at most; hci1: 1000 at most (the peer's MTU).
        ch = self.open_channel(PSM_LARGE, 1000)
        self.assertEqual((ch.a.limit, ch.b.limit), (2000, 1000))
        self.exchange(ch, [129, 187, 188, 189, 376, 377, 999, 1000, 1001, 1500, 1999, 2000],
                      [1, 186, 187, 188, 189, 500, 999, 1000])

    def test_sdus_of_the_largest_mtu(self):
        ch = self.open_channel(PSM_HUGE, 65535)
        self.assertEqual((ch.a.limit, ch.b.limit), (65535, 65535))
        self.exchange(ch, [30000, 65535, 3, 40000], [65535, 65534, 1])

    def test_a_channel_stays_open_past_the_kernels_40_s_connect_timer(self):
        # The kernel arms a 40 s timer when a request comes in; an accepted channel must outlive it.
        ch = self.open_channel(PSM_MAIN, 256)
        self.exchange(ch, [10], [20])
        self.quiet(43, "hci0", {_IRQ_L2CAP_DISCONNECT})
        self.quiet(0, "hci1", {_IRQ_L2CAP_DISCONNECT})
        self.exchange(ch, [512], [256])

    def test_a_handler_that_rejects_closes_the_channel_unread(self):
        # The kernel has accepted the channel before the handler is asked: the opener sees it
        # open, then close; what it sent meanwhile is never read; we raise nothing more.
        hub.accept[PSM_REJECT] = lambda data: (time.sleep(1), 0x42)[1]
        self.client.ble.l2cap_connect(self.conn, PSM_REJECT, 256)
        conn, cid, psm, our_mtu, peer_mtu = hub.take("hci0", _IRQ_L2CAP_CONNECT, (self.conn,))
        self.assertEqual((psm, our_mtu, peer_mtu), (PSM_REJECT, 256, LISTEN_MTU[PSM_REJECT]))
        self.assertTrue(self.client.ble.l2cap_send(self.conn, cid, b"never read"))
        self.assertEqual(hub.take("hci0", _IRQ_L2CAP_DISCONNECT, (self.conn, cid)), (self.conn, cid, PSM_REJECT, 0))
        s_conn, s_cid, psm, our_mtu, peer_mtu = hub.take("hci1", _IRQ_L2CAP_ACCEPT, (self.server_conn,))
        self.assertEqual((psm, our_mtu, peer_mtu), (PSM_REJECT, LISTEN_MTU[PSM_REJECT], 256))
        self.quiet(1, "hci1", {_IRQ_L2CAP_CONNECT, _IRQ_L2CAP_DISCONNECT, _IRQ_L2CAP_RECV})
        self.quiet(0, "hci0", {_IRQ_L2CAP_DISCONNECT})  # one, not two
        self.assertDbusError("NotFound", self.server.ble.l2cap_recvinto, s_conn, s_cid, None)
        self.assertDbusError("NotFound", self.client.ble.l2cap_send, self.conn, cid, b"x")
        # The link is unharmed: a channel to another PSM opens and carries data.
        self.exchange(self.open_channel(PSM_MAIN, 256), [100], [200])

    def test_a_psm_nobody_listens_on_refuses_the_request(self):
        self.client.ble.l2cap_connect(self.conn, PSM_NOBODY, 256)
        refused = hub.take("hci0", _IRQ_L2CAP_DISCONNECT, (self.conn,))
        self.assertEqual((refused[2], refused[3]), (PSM_NOBODY, errno.ECONNREFUSED), refused)
        self.quiet(1, "hci0", {_IRQ_L2CAP_CONNECT})
        self.quiet(0, "hci1", {_IRQ_L2CAP_ACCEPT, _IRQ_L2CAP_CONNECT})

    def test_a_handler_that_does_not_answer_in_5_s_closes_the_channel(self):
        hub.accept[PSM_SLOW] = lambda data: (time.sleep(7), 0)[1]
        started = time.monotonic()
        self.client.ble.l2cap_connect(self.conn, PSM_SLOW, 256)
        conn, cid, psm, _, _ = hub.take("hci0", _IRQ_L2CAP_CONNECT, (self.conn,))
        self.assertEqual(hub.take("hci0", _IRQ_L2CAP_DISCONNECT, (self.conn, cid), timeout=20),
                         (self.conn, cid, PSM_SLOW, 0))
        took = time.monotonic() - started
        self.assertTrue(4 <= took <= 10, f"closed after {took:.1f} s")
        # Our side says the handler timed out (once the handler returns: its thread was busy).
        accept = hub.take("hci1", _IRQ_L2CAP_ACCEPT, (self.server_conn,))
        self.assertEqual(hub.take("hci1", _IRQ_L2CAP_DISCONNECT, (self.server_conn, accept[1]), timeout=15),
                         (self.server_conn, accept[1], PSM_SLOW, errno.ETIMEDOUT))
        # The handler's late 0 opens nothing.
        self.quiet(max(0.0, 8 - (time.monotonic() - started)), "hci1", {_IRQ_L2CAP_CONNECT})
        hub.accept.clear()
        self.exchange(self.open_channel(PSM_MAIN, 256), [10], [20])

    def test_data_sent_while_the_handler_decides_is_read_once_it_accepts(self):
        hub.accept[PSM_SLOW] = lambda data: (time.sleep(2), 0)[1]
        since = len(hub.history)
        self.client.ble.l2cap_connect(self.conn, PSM_SLOW, 256)
        conn, cid, psm, our_mtu, peer_mtu = hub.take("hci0", _IRQ_L2CAP_CONNECT, (self.conn,))
        a = End(self.client, conn, cid, psm, our_mtu, peer_mtu)
        early = self.payloads([100, 150])  # one PDU each, within the first credits
        for sdu in early:
            self.assertTrue(a.send(sdu))
        s_conn, s_cid, psm, our_mtu, peer_mtu = hub.take("hci1", _IRQ_L2CAP_ACCEPT, (self.server_conn,))
        self.assertEqual(hub.take("hci1", _IRQ_L2CAP_CONNECT, (s_conn, s_cid)),
                         (s_conn, s_cid, PSM_SLOW, LISTEN_MTU[PSM_SLOW], 256))
        b = End(self.server, s_conn, s_cid, PSM_SLOW, LISTEN_MTU[PSM_SLOW], 256)
        ch = Channel(a, b, since)
        self.channels.append(ch)
        s = Stream(a, b, early + self.payloads([30, 256]))
        s.sent = len(early)
        self.pump([s])
        self.assertEqual([e for _, e, _ in hub.seen("hci1", {_IRQ_L2CAP_ACCEPT, _IRQ_L2CAP_CONNECT, _IRQ_L2CAP_RECV},
                                                    (s_conn, s_cid), since)][:3],
                         [_IRQ_L2CAP_ACCEPT, _IRQ_L2CAP_CONNECT, _IRQ_L2CAP_RECV])

    def test_without_a_handler_the_channel_is_accepted(self):
        self.server.ble.irq(None)
        try:
            self.client.ble.l2cap_connect(self.conn, PSM_MAIN, 256)
            conn, cid, psm, our_mtu, peer_mtu = hub.take("hci0", _IRQ_L2CAP_CONNECT, (self.conn,))
            self.assertEqual((psm, our_mtu, peer_mtu), (PSM_MAIN, 256, 512))
        finally:
            self.server.ble.irq(hub.handler("hci1"))
        self.client.ble.l2cap_disconnect(self.conn, cid)
        self.assertEqual(hub.take("hci0", _IRQ_L2CAP_DISCONNECT, (self.conn, cid)), (self.conn, cid, PSM_MAIN, 0))

    def test_disconnect_from_either_side(self):
        for side in ("a", "b"):
            with self.subTest(closer="hci0" if side == "a" else "hci1"):
                ch = self.open_channel(PSM_MAIN, 256)
                self.exchange(ch, [50], [60])
                closer = getattr(ch, side)
                other = ch.b if closer is ch.a else ch.a
                self.close_channel(ch, closer)
                for end in (closer, other):
                    self.assertDbusError("NotFound", end.send, b"late")
                    self.assertDbusError("NotFound", end.count)
                    self.assertDbusError("NotFound", end.read, 10)
                    self.assertDbusError("NotFound", end.disconnect)
                self.quiet(0.5, "hci0", {_IRQ_L2CAP_DISCONNECT})  # one event per side, no more
                self.quiet(0, "hci1", {_IRQ_L2CAP_DISCONNECT})

    def test_a_reader_that_does_not_read_stalls_the_sender_until_it_drains(self):
        ch = self.open_channel(PSM_MAIN, 512)
        a, b = ch.a, ch.b
        sent, cleared = self.stall(a)
        print(f"\n  stalled for good after {len(sent)} SDUs of 512 bytes ({cleared} stalls cleared "
              "while the receiver's kernel had room)", end=" ", flush=True)
        self.assertDbusError("Busy", a.send, b"refused while stalled")
        # Not reading withholds the credits: no SEND_READY; one RECV, for the first data.
        self.quiet(1, "hci0", {_IRQ_L2CAP_SEND_READY})
        self.assertEqual(len(hub.seen("hci1", {_IRQ_L2CAP_RECV}, (b.conn, b.cid))), 1, hub.recent())
        self.assertGreater(b.count(), 0)
        self.assertDbusError("Busy", a.send, b"still refused")
        self.assertDbusError("Busy", acquire, a)
        # Draining releases it: SEND_READY, then more goes through; nothing was lost.
        s = Stream(a, b, sent + self.payloads([512] * 5 + [1, 77]))
        s.sent, s.stalled, s.stalls, s.ready = len(sent), True, cleared + 1, cleared
        self.pump([s])
        self.assertGreater(s.ready, cleared)

    def test_two_channels_at_once_on_one_link(self):
        # Both from hci0: the kernel mismatches responses when the directions mix (docs/kernel-l2cap-coc.md).
        channels = [self.open_channel(PSM_MAIN, 300), self.open_channel(PSM_MAIN, 200),
                    self.open_channel(PSM_SMALL, 100)]
        for end in ("a", "b"):
            cids = [getattr(ch, end).cid for ch in channels]
            self.assertEqual(len(set(cids)), 3, cids)
        streams = []
        for ch in channels:
            for src, dst in ((ch.a, ch.b), (ch.b, ch.a)):
                sizes = [self.rng.randint(1, src.limit) for _ in range(12)]
                streams.append(Stream(src, dst, self.payloads(sizes)))
        self.pump(streams, timeout=120)
        # One stalls (hci1 does not read it); the others go on, both ways.
        first = channels[0]
        sent, cleared = self.stall(first.a)
        for ch in channels[1:]:
            self.exchange(ch, [ch.a.limit, 1], [ch.b.limit, 2])
        self.assertDbusError("Busy", first.a.send, b"x")
        # It resumes, nothing lost; then it closes, and the others still go on.
        s = Stream(first.a, first.b, sent + self.payloads([7]))
        s.sent, s.stalled, s.stalls, s.ready = len(sent), True, cleared + 1, cleared
        self.pump([s])
        self.close_channel(first, first.a)
        for ch in channels[1:]:
            self.exchange(ch, [ch.a.limit], [ch.b.limit])

    def left_unread(self, end_it):
        """hci0 sends more than hci1's daemon buffers (its MTU, 512); hci1 reads nothing
        until end_it(channel) has ended the channel, then reads all of it."""
        ch = self.open_channel(PSM_MAIN, 512)
        a, b = ch.a, ch.b
        sent = []
        for sdu in self.payloads([186] * 8):  # one PDU each: taken by the kernel = sent (MPS 188)
            if not a.send(sdu):  # the daemon holds it until the kernel takes it
                if hub.take("hci0", _IRQ_L2CAP_SEND_READY, (a.conn, a.cid), timeout=2, required=False) is None:
                    break  # hci1's kernel is full: that SDU stays in hci0's daemon, and goes with the channel
            sent.append(sdu)
        hub.take("hci1", _IRQ_L2CAP_RECV, (b.conn, b.cid))
        time.sleep(1)  # the rest reaches hci1's kernel
        expected = b"".join(sent)
        # Some of it is still in hci1's kernel, not in its daemon.
        self.assertLess(b.count(), len(expected), f"{len(sent)} SDUs sent")
        end_it(ch)
        self.assertDbusError("NotFound", b.send, b"closed")
        self.assertEqual(b.read(0), b"")  # an empty buffer takes nothing, and it is no error
        received = b""
        while len(received) < len(expected):
            chunk = b.read(self.rng.randint(1, 400))
            if not chunk:  # the next SDU is not in the daemon's buffer yet: it says when
                hub.take("hci1", _IRQ_L2CAP_RECV, (b.conn, b.cid), timeout=5)
            received += chunk
        self.assertEqual(received, expected)
        self.assertDbusError("NotFound", b.count)
        self.assertDbusError("NotFound", b.read, 10)

    def test_data_left_unread_at_a_disconnect_stays_readable(self):
        self.left_unread(lambda ch: self.close_channel(ch, ch.a))

    def test_data_left_unread_when_the_link_goes_stays_readable(self):
        def end_link(ch):
            self.assertTrue(self.client.ble.gap_disconnect(self.conn))
            for end in (ch.a, ch.b):
                self.assertEqual(hub.take(end.name, _IRQ_L2CAP_DISCONNECT, (end.conn, end.cid)),
                                 (end.conn, end.cid, PSM_MAIN, 0))
            hub.take("hci1", _IRQ_CENTRAL_DISCONNECT, (self.server_conn,))
            ch.open = False
        self.left_unread(end_link)

    def test_bad_input_is_refused_and_the_daemon_goes_on(self):
        hci0, hci1, hci2 = self.client.ble, self.server.ble, radios["hci2"].ble
        ch = self.open_channel(PSM_MAIN, 512)
        big = self.open_channel(PSM_LARGE, 100)  # hci0 may send 200 (2 x our MTU), hci1 100 (peer's MTU)
        a = ch.a
        # Unknown connections and channels.
        self.assertDbusError("NotFound", hci0.l2cap_send, NO_HANDLE, a.cid, b"x")
        self.assertDbusError("NotFound", hci0.l2cap_send, self.conn, 0x7F, b"x")
        self.assertDbusError("NotFound", hci0.l2cap_recvinto, NO_HANDLE, a.cid, None)
        self.assertDbusError("NotFound", hci0.l2cap_recvinto, self.conn, 0x7F, None)
        self.assertDbusError("NotFound", hci0.l2cap_recvinto, self.conn, 0x7F, bytearray(10))
        self.assertDbusError("NotFound", hci0.l2cap_disconnect, NO_HANDLE, a.cid)
        self.assertDbusError("NotFound", hci0.l2cap_disconnect, self.conn, 0x7F)
        self.assertDbusError("NotFound", hci0.l2cap_connect, NO_HANDLE, PSM_MAIN, 256)
        # PSMs and MTUs out of range.
        self.assertDbusError("InvalidArgs", hci1.l2cap_listen, 0, 256)
        self.assertDbusError("InvalidArgs", hci1.l2cap_listen, 0x100, 256)
        self.assertDbusError("InvalidArgs", hci1.l2cap_listen, 0x90, 22)
        self.assertDbusError("InvalidArgs", hci1.l2cap_listen, 0x91, 0)
        self.assertDbusError("InvalidArgs", hci0.l2cap_connect, self.conn, 0, 256)
        self.assertDbusError("InvalidArgs", hci0.l2cap_connect, self.conn, 0x100, 256)
        self.assertDbusError("InvalidArgs", hci0.l2cap_connect, self.conn, PSM_MAIN, 22)
        # Already listening; not active.
        self.assertDbusError("Busy", hci1.l2cap_listen, PSM_MAIN, 512)
        self.assertDbusError("Busy", hci1.l2cap_listen, PSM_LARGE, 256)
        hci2.active(False)
        try:
            self.assertDbusError("NotActive", hci2.l2cap_listen, 0x92, 256)
        finally:
            hci2.active(True)
        # Buffers beyond the peer's MTU, or twice ours.
        self.assertDbusError("InvalidArgs", a.send, bytes(513))  # peer MTU 512
        self.assertDbusError("InvalidArgs", big.a.send, bytes(201))  # 2 x our 100, peer's 2048
        self.assertDbusError("InvalidArgs", big.b.send, bytes(101))  # peer MTU 100
        self.assertDbusError("InvalidArgs", a.send, bytes(65000))
        self.assertDbusError("InvalidArgs", a.send, b"")
        # Nothing of that went out; everything still works, at the limits.
        self.exchange(ch, [512], [512])
        self.exchange(big, [200], [100])
        self.assertTrue(daemon.alive())

    def test_a_gap_disconnect_ends_the_channels_first(self):
        ch = self.open_channel(PSM_MAIN, 256)
        self.exchange(ch, [30], [40])
        self.assertTrue(self.client.ble.gap_disconnect(self.conn))
        for end, gap_event in ((ch.a, _IRQ_PERIPHERAL_DISCONNECT), (ch.b, _IRQ_CENTRAL_DISCONNECT)):
            self.assert_channel_ends_before_link(end.name, end.conn, end.cid, PSM_MAIN, 0, gap_event)
        ch.open = False
        for end in (ch.a, ch.b):
            self.assertDbusError("NotFound", end.send, b"gone")
            self.assertDbusError("NotFound", end.count)
        self.assertDbusError("NotFound", self.client.ble.l2cap_connect, self.conn, PSM_MAIN, 256)

    def test_a_link_that_goes_while_the_handler_decides_ends_the_channel_on_both_sides(self):
        hub.accept[PSM_SLOW] = lambda data: (time.sleep(3), 0)[1]
        self.client.ble.l2cap_connect(self.conn, PSM_SLOW, 256)
        cid = hub.take("hci0", _IRQ_L2CAP_CONNECT, (self.conn,))[1]
        deadline = time.monotonic() + 10
        while not hub.seen("hci1", {_IRQ_L2CAP_ACCEPT}):  # hci1's handler is being asked
            self.assertLess(time.monotonic(), deadline, f"no _IRQ_L2CAP_ACCEPT{hub.recent()}")
            time.sleep(0.05)
        s_cid = hub.seen("hci1", {_IRQ_L2CAP_ACCEPT})[0][2][1]
        self.assertTrue(self.client.ble.gap_disconnect(self.conn))
        # hci0's channel was open: status 0; hci1's was still being decided: 104 (ECONNRESET).
        self.assert_channel_ends_before_link("hci0", self.conn, cid, PSM_SLOW, 0, _IRQ_PERIPHERAL_DISCONNECT)
        self.assert_channel_ends_before_link("hci1", self.server_conn, s_cid, PSM_SLOW, errno.ECONNRESET,
                                             _IRQ_CENTRAL_DISCONNECT)
        # The handler's late 0 opens nothing.
        self.quiet(2, "hci1", {_IRQ_L2CAP_CONNECT, _IRQ_L2CAP_DISCONNECT})
        self.quiet(0, "hci0", {_IRQ_L2CAP_CONNECT, _IRQ_L2CAP_DISCONNECT})

    def test_turning_the_radio_off_ends_its_channels_then_its_links(self):
        ch = self.open_channel(PSM_MAIN, 256)
        self.exchange(ch, [30], [40])
        self.client.ble.active(False)
        try:
            for end, gap_event in ((ch.a, _IRQ_PERIPHERAL_DISCONNECT), (ch.b, _IRQ_CENTRAL_DISCONNECT)):
                self.assert_channel_ends_before_link(end.name, end.conn, end.cid, PSM_MAIN, 0, gap_event)
            ch.open = False
            self.assertDbusError("NotFound", ch.b.send, b"gone")
        finally:
            self.client.ble.active(True)
        self.assertDbusError("NotFound", ch.a.send, b"gone")
        self.quiet(1, "hci0", {_IRQ_L2CAP_DISCONNECT})

    def test_the_peripheral_opens_a_channel_to_the_central(self):
        ch = self.open_channel(PSM_ON_HCI0, 200)
        self.assertEqual((ch.a.our_mtu, ch.a.peer_mtu, ch.b.our_mtu, ch.b.peer_mtu), (256, 200, 200, 256))
        self.exchange(ch, [1, 100, 200, 150], [1, 256, 188, 189])
        self.close_channel(ch, ch.a)

    def test_a_stalled_sender_whose_peer_disconnects_gets_disconnect_not_send_ready(self):
        ch = self.open_channel(PSM_MAIN, 512)
        a, b = ch.a, ch.b
        self.stall(a)
        self.close_channel(ch, b)
        self.assertDbusError("NotFound", a.send, b"x")
        self.quiet(1, "hci0", {_IRQ_L2CAP_SEND_READY})

    def test_turning_the_listener_off_ends_its_channels_and_listeners(self):
        ch = self.open_channel(PSM_MAIN, 256)
        self.server.ble.active(False)
        try:
            for end, gap_event in ((ch.b, _IRQ_CENTRAL_DISCONNECT), (ch.a, _IRQ_PERIPHERAL_DISCONNECT)):
                self.assert_channel_ends_before_link(end.name, end.conn, end.cid, PSM_MAIN, 0, gap_event)
            ch.open = False
            self.assertDbusError("NotActive", self.server.ble.l2cap_listen, PSM_MAIN, 512)
        finally:
            self.server.ble.active(True)
        relistened = False
        try:
            # Its listeners went with the radio: a channel to PSM_MAIN is refused ...
            self.setUp()
            self.client.ble.l2cap_connect(self.conn, PSM_MAIN, 256)
            refused = hub.take("hci0", _IRQ_L2CAP_DISCONNECT, (self.conn,))
            self.assertEqual(refused[2:], (PSM_MAIN, errno.ECONNREFUSED), refused)
            self.quiet(0.5, "hci1", {_IRQ_L2CAP_ACCEPT, _IRQ_L2CAP_CONNECT})
            # ... until hci1 listens again (not Busy: the old listeners are gone).
            for psm, mtu in LISTEN_MTU.items():
                if listener(psm) == "hci1":
                    self.server.ble.l2cap_listen(psm, mtu)
            relistened = True
            self.exchange(self.open_channel(PSM_MAIN, 256), [256], [100])
        finally:
            for psm, mtu in LISTEN_MTU.items() if not relistened else ():
                try:  # for the other tests
                    radios[listener(psm)].ble.l2cap_listen(psm, mtu)
                except OSError:
                    pass

    def test_acquire_hands_the_channel_over_as_a_socket(self):
        ch = self.open_channel(PSM_MAIN, 512)
        a, b = ch.a, ch.b
        first, second = self.payloads([150, 100])
        for sdu in (first, second):
            if not a.send(sdu):
                hub.take("hci0", _IRQ_L2CAP_SEND_READY, (a.conn, a.cid))
        hub.take("hci1", _IRQ_L2CAP_RECV, (b.conn, b.cid))
        self.assertEqual(b.read(10), first[:10])
        time.sleep(0.5)  # the second SDU reaches hci1's kernel
        acquired_at = len(hub.history)
        sock, pending = acquire(b)
        try:
            sock.settimeout(5)
            # What the daemon held comes first, then the socket's SDUs, one per recv.
            self.assertTrue(pending, "pending is empty: the rest of the first SDU was lost")
            self.assertTrue(first[10:].startswith(pending) or pending.startswith(first[10:]), pending.hex())
            got = [pending]
            while sum(map(len, got)) < len(first) - 10 + len(second):
                got.append(sock.recv(1024))
                self.assertTrue(got[-1], "recv gave b'' before all data came")
            self.assertEqual(b"".join(got), first[10:] + second)
            if pending == first[10:]:
                self.assertEqual(got[1:], [second])
            # The daemon has forgotten the channel.
            self.assertDbusError("NotFound", b.send, b"x")
            self.assertDbusError("NotFound", b.count)
            self.assertDbusError("NotFound", b.disconnect)
            self.assertDbusError("NotFound", acquire, b)
            # Socket -> D-Bus: one SDU per send.
            for sdu in self.payloads([1, 100, 188, 512]):
                self.assertEqual(sock.send(sdu), len(sdu))
                hub.take("hci0", _IRQ_L2CAP_RECV, (a.conn, a.cid))
                data = b""
                while n := a.count():
                    data += a.read(n)
                self.assertEqual(data, sdu)
            # D-Bus -> socket: one SDU per recv.
            for sdu in self.payloads([1, 200, 512, 512, 512]):
                ready = a.send(sdu)
                self.assertEqual(sock.recv(1024), sdu)
                if not ready:
                    hub.take("hci0", _IRQ_L2CAP_SEND_READY, (a.conn, a.cid))
            hci1_after = [item for item in list(hub.history)[acquired_at:] if item[0] == "hci1"]
            self.assertEqual(hci1_after, [], "events for a channel the daemon handed over")
        finally:
            sock.close()
        # Closing the socket closes the channel; the daemon says nothing on hci1's side.
        self.assertEqual(hub.take("hci0", _IRQ_L2CAP_DISCONNECT, (a.conn, a.cid)), (a.conn, a.cid, PSM_MAIN, 0))
        ch.open = False
        self.quiet(1, "hci1", {_IRQ_L2CAP_DISCONNECT, _IRQ_L2CAP_RECV})
        self.assertDbusError("NotFound", a.send, b"x")


if __name__ == "__main__":
    unittest.main()
