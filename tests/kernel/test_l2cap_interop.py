"""L2CAP LE credit-based channels against BlueZ's l2test: the daemon serves
hci0 and hci1 only; l2test runs on hci2, which the daemon leaves alone (the
kernel's own sockets, set up with btmgmt).

l2test's data format, both ways: each SDU is a 4-byte little-endian sequence
number (from 0), a 2-byte little-endian length (the SDU's own), then 0x7f
bytes. Its receiving modes (-r, -u) check every SDU and print
"seq mismatch", "size mismatch" or "data mismatch" lines, and a line
"N bytes in ..." each time the SDUs read since the last such line reach the
-b size; the list of those N is predictable from the SDU sizes sent, so it
tells lost, duplicated or cut SDUs apart from good ones."""

import errno
import os
import queue
import random
import re
import select
import signal
import struct
import subprocess
import time
import unittest

from harness import Daemon, Radio, btmgmt, controller_info, stop_cleanly

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_PERIPHERAL_DISCONNECT = 8
_IRQ_L2CAP_ACCEPT = 22
_IRQ_L2CAP_CONNECT = 23
_IRQ_L2CAP_DISCONNECT = 24
_IRQ_L2CAP_RECV = 25
_IRQ_L2CAP_SEND_READY = 26

L2TEST_ADAPTER = "hci2"
# l2test reads -P with atoi(): decimal only. One PSM per test: listening cannot be stopped.
PSM_L2TEST_SERVER = 201
PSM_OUR_SERVER_RECEIVE = 202
PSM_OUR_SERVER_SEND = 203
PSM_OUR_SERVER_IDLE = 204
IDLE_S = 48  # beyond the kernel's 40 s L2CAP_CONN_TIMEOUT, with room for a slow VM
ADV_DATA = b"\x02\x01\x06"

# btmgmt settings of hci2 for l2test, in order, with the name of each in btmgmt's "current settings".
L2TEST_SETTINGS = (("le", "le"), ("power", "powered"), ("connectable", "connectable"))

daemon = None
radios = {}
l2test_addr = None
l2test_settings_before = set()


def setUpModule():
    global daemon, l2test_addr, l2test_settings_before
    info = controller_info(L2TEST_ADAPTER)
    l2test_addr, l2test_settings_before = info["addr"], info["settings"]
    for setting, _ in L2TEST_SETTINGS:
        btmgmt("--index", L2TEST_ADAPTER[3:], setting, "on")
    daemon = Daemon("--adapter", "hci0", "--adapter", "hci1")
    for name in ("hci0", "hci1"):
        radios[name] = Radio(name)


def tearDownModule():
    for r in radios.values():
        r.ble.irq(None)
    try:
        stop_cleanly(daemon)
    finally:
        for setting, shown_as in reversed(L2TEST_SETTINGS):  # as the next modules expect it
            if shown_as not in l2test_settings_before:
                btmgmt("--index", L2TEST_ADAPTER[3:], setting, "off")


def l2test_sdu(seq, size, corrupt_at=None):
    """One SDU in l2test's format; corrupt_at: the index of a byte that is not 0x7f."""
    sdu = bytearray(struct.pack("<IH", seq, size) + b"\x7f" * (size - 6))
    if corrupt_at is not None:
        sdu[corrupt_at] = 0
    return bytes(sdu)


def l2test_totals(sizes, chunk):
    """The N of l2test's "N bytes in" lines for good SDUs of these sizes read with -b chunk."""
    totals, total = [], 0
    for size in sizes:
        total += size
        if total >= chunk:
            totals.append(total)
            total = 0
    return totals


def l2test_stream_problems(data, count, size):
    """What is wrong with `data` as `count` SDUs of `size` bytes from l2test -s (empty: nothing)."""
    problems = []
    if len(data) != count * size:
        problems.append(f"{len(data)} bytes, not {count} x {size} = {count * size}")
    for seq in range(min(count, len(data) // size)):
        sdu = data[seq * size:(seq + 1) * size]
        got_seq, got_len = struct.unpack_from("<IH", sdu)
        if (got_seq, got_len) != (seq, size):
            problems.append(f"SDU {seq}: header says seq {got_seq}, length {got_len}")
        bad = [i for i in range(6, size) if sdu[i] != 0x7F]
        if bad:
            problems.append(f"SDU {seq}: {len(bad)} bytes not 0x7f, first at {bad[0]}")
        if len(problems) > 5:
            break
    return problems


class L2test:
    """l2test in its own process group (its -r server forks a child per channel);
    stdout and stderr (its syslog lines) read unbuffered, each line with its arrival time."""

    def __init__(self, *args):
        self.args = args
        self.proc = subprocess.Popen(["l2test", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        self._partial = b""
        self.eof = False
        self.lines = []  # (time.monotonic(), text)

    @staticmethod
    def pump(instances, timeout):
        """Reads what any of the instances has written, waiting up to timeout for something."""
        open_ = {t._fd: t for t in instances if not t.eof}
        if not open_:
            return
        for fd in select.select(list(open_), [], [], max(timeout, 0))[0]:
            open_[fd]._read_ready()

    def _read_ready(self):
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        now = time.monotonic()
        if not data:
            self.eof = True
            data = b"\n" if self._partial else b""
        *complete, self._partial = (self._partial + data).split(b"\n")
        self.lines += [(now, line.decode(errors="replace")) for line in complete]

    def wait_for(self, predicate, timeout):
        """Reads until predicate(self) holds (True) or the time is up or l2test's output ends (False)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.eof or time.monotonic() > deadline:
                return False
            L2test.pump([self], min(deadline - time.monotonic(), 0.5))
        return True

    def text(self):
        return "\n".join(line for _, line in self.lines)

    def matching(self, pattern):
        return [(t, m) for t, line in self.lines if (m := re.search(pattern, line))]

    def totals(self):
        return [int(m.group(1)) for _, m in self.matching(r"\]: (\d+) bytes in ")]

    def mismatches(self):
        return [m.group(0) for _, m in self.matching(r"(seq|size|data) mismatch: .*")]

    def exit_code(self, timeout):
        """l2test's exit code once its output has ended, or None if it is still running."""
        self.wait_for(lambda _: False, timeout)
        try:
            return self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Ends l2test and the children it forked (all in its process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:  # all gone already
            pass
        self.proc.wait(timeout=10)
        self.wait_for(lambda _: False, 2)
        self.proc.stdout.close()


def next_event(radio, wanted, deadline, conn=None):
    """(event, data) of the next event in `wanted` (for conn_handle `conn` if given); others are skipped."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{radio.name}: no event of {wanted} in time")
        try:
            event, data = radio.events.get(timeout=left)
        except queue.Empty:
            continue
        if event in wanted and (conn is None or data[0] == conn):
            return event, data


def send_sdus(radio, conn, cid, sdus, timeout=60):
    """l2cap_send of each SDU, waiting for _IRQ_L2CAP_SEND_READY whenever a send says stalled."""
    deadline = time.monotonic() + timeout
    stalls = 0
    for sdu in sdus:
        if not radio.ble.l2cap_send(conn, cid, sdu):
            stalls += 1
            event, data = next_event(radio, (_IRQ_L2CAP_SEND_READY, _IRQ_L2CAP_DISCONNECT), deadline, conn)
            if event != _IRQ_L2CAP_SEND_READY or data != (conn, cid, 0):
                raise AssertionError(f"{radio.name}: waiting for SEND_READY, got event {event} {data}")
    return stalls


class L2testInterop(unittest.TestCase):
    def setUp(self):
        self.l2test = None
        self.links = {}  # conn_handle -> (radio, its disconnect event): links to end before the next test
        for r in radios.values():
            r.drain()

    def tearDown(self):
        if self.l2test is not None:
            self.l2test.stop()
            if not getattr(self._outcome, "success", False):
                print(f"\nl2test {' '.join(self.l2test.args)}:\n{self.l2test.text()}")
        for conn, (radio, event) in list(self.links.items()):
            self.wait_link_gone(radio, event, conn)
        btmgmt("--index", L2TEST_ADAPTER[3:], "advertising", "off")
        radios["hci1"].ble.gap_advertise(None)
        self.assertTrue(daemon.alive(), daemon.log_text()[-3000:])

    def start_l2test(self, *args):
        self.l2test = L2test(*args, "-V", "le_public", "-i", L2TEST_ADAPTER)
        return self.l2test

    def wait_link_gone(self, radio, event, conn):
        """The daemon's disconnect event of conn, or a gap_disconnect if the link stays."""
        self.links.pop(conn, None)
        try:
            next_event(radio, (event,), time.monotonic() + 10, conn)
        except AssertionError:
            if radio.ble.gap_disconnect(conn):
                next_event(radio, (event,), time.monotonic() + 10, conn)

    def test_l2test_server_receives_what_we_send(self):
        """l2test -r on hci2; hci0 connects (GAP, then L2CAP) and sends SDUs of random sizes."""
        client = radios["hci0"]
        chunk, our_mtu, l2test_mtu = 512, 400, 512
        l2test = self.start_l2test("-r", "-P", str(PSM_L2TEST_SERVER), "-I", str(l2test_mtu), "-b", str(chunk))
        self.assertTrue(l2test.wait_for(lambda t: t.matching(r"Waiting for connection on psm"), 10), l2test.text())
        btmgmt("--index", L2TEST_ADAPTER[3:], "advertising", "on")
        client.ble.gap_connect(0, bytes.fromhex(l2test_addr.replace(":", "")), 10000)
        conn = client.wait(_IRQ_PERIPHERAL_CONNECT, timeout=20)[0]
        self.links[conn] = (client, _IRQ_PERIPHERAL_DISCONNECT)
        try:
            client.ble.l2cap_connect(conn, PSM_L2TEST_SERVER, our_mtu)
            event, data = next_event(client, (_IRQ_L2CAP_CONNECT, _IRQ_L2CAP_DISCONNECT), time.monotonic() + 20, conn)
            self.assertEqual(event, _IRQ_L2CAP_CONNECT, f"l2cap_connect failed: {data}\n{l2test.text()}")
            _, cid, psm, got_our_mtu, peer_mtu = data
            self.assertEqual((psm, got_our_mtu, peer_mtu), (PSM_L2TEST_SERVER, our_mtu, l2test_mtu))

            rng = random.Random(5)
            sizes = [rng.randint(6, l2test_mtu) for _ in range(30)] + [6, 7, l2test_mtu]
            sdus = [l2test_sdu(seq, size) for seq, size in enumerate(sizes)]
            # Last, a corrupt SDU: l2test must point at its bad byte, or its checks prove nothing.
            sdus.append(l2test_sdu(len(sdus), chunk, corrupt_at=100))
            sizes.append(chunk)
            send_sdus(client, conn, cid, sdus)
            expected = l2test_totals(sizes, chunk)
            l2test.wait_for(lambda t: len(t.totals()) >= len(expected), 60)
            self.assertEqual(l2test.totals(), expected, l2test.text())
            self.assertEqual(l2test.mismatches(), ["data mismatch: byte 100 0x00"], l2test.text())
            self.assertTrue(l2test.matching(rf"Options \[imtu {l2test_mtu}, omtu {our_mtu},"), l2test.text())

            client.ble.l2cap_disconnect(conn, cid)
            event, data = next_event(client, (_IRQ_L2CAP_DISCONNECT,), time.monotonic() + 10, conn)
            self.assertEqual(data, (conn, cid, PSM_L2TEST_SERVER, 0))
            self.assertTrue(l2test.wait_for(lambda t: t.matching(r"Disconnect"), 10), l2test.text())
        finally:
            if client.ble.gap_disconnect(conn):
                client.wait(_IRQ_PERIPHERAL_DISCONNECT, timeout=10)
            self.links.pop(conn)

    def accept_l2test(self, server, psm, our_mtu, l2test_mtu):
        """Waits for l2test's link and channel to our listener: (conn, cid)."""
        conn = server.wait(_IRQ_CENTRAL_CONNECT, timeout=30)[0]
        self.links[conn] = (server, _IRQ_CENTRAL_DISCONNECT)
        event, data = next_event(server, (_IRQ_L2CAP_ACCEPT,), time.monotonic() + 20, conn)
        self.assertEqual(data[2:4], (psm, our_mtu))
        event, data = next_event(server, (_IRQ_L2CAP_CONNECT, _IRQ_L2CAP_DISCONNECT), time.monotonic() + 20, conn)
        self.assertEqual(event, _IRQ_L2CAP_CONNECT, data)
        _, cid, got_psm, got_our_mtu, peer_mtu = data
        self.assertEqual((got_psm, got_our_mtu, peer_mtu), (psm, our_mtu, l2test_mtu))
        return conn, cid

    def test_l2test_client_sends_to_our_listener(self):
        """l2test -s on hci2 connects to our listener on hci1 and sends; we read with recvinto."""
        server = radios["hci1"]
        our_mtu, l2test_mtu, size, count = 512, 600, 500, 24
        server.ble.l2cap_listen(PSM_OUR_SERVER_RECEIVE, our_mtu)
        server.ble.gap_advertise(50000, ADV_DATA)
        l2test = self.start_l2test("-s", "-P", str(PSM_OUR_SERVER_RECEIVE), "-I", str(l2test_mtu),
                                   "-b", str(size), "-N", str(count), "-g", "2000", server.addr.hex(":"))
        conn, cid = self.accept_l2test(server, PSM_OUR_SERVER_RECEIVE, our_mtu, l2test_mtu)
        received, buf = bytearray(), bytearray(our_mtu)
        deadline = time.monotonic() + 60
        while True:
            event, data = next_event(server, (_IRQ_L2CAP_RECV, _IRQ_L2CAP_DISCONNECT), deadline, conn)
            if event == _IRQ_L2CAP_DISCONNECT:
                break
            self.assertEqual(data, (conn, cid))
            while n := server.ble.l2cap_recvinto(conn, cid, buf):
                received += buf[:n]
        self.assertEqual(data, (conn, cid, PSM_OUR_SERVER_RECEIVE, 0))
        # What had arrived stays readable after the disconnect, then the channel is gone.
        try:
            while n := server.ble.l2cap_recvinto(conn, cid, buf):
                received += buf[:n]
        except OSError as error:
            self.assertEqual(error.errno, errno.ENOENT)
        self.assertEqual(l2test_stream_problems(bytes(received), count, size), [], l2test.text())
        # The check above does see damage.
        damaged = bytearray(received)
        damaged[size * 3 + 17] = 0x7E
        self.assertTrue(l2test_stream_problems(bytes(damaged), count, size))
        self.assertTrue(l2test_stream_problems(bytes(received[size:]), count, size))
        self.assertEqual(l2test.exit_code(10), 0, l2test.text())
        self.assertTrue(l2test.matching(rf"Options \[imtu {l2test_mtu}, omtu {our_mtu},"), l2test.text())
        self.assertTrue(l2test.matching(r"Done"), l2test.text())
        self.wait_link_gone(server, _IRQ_CENTRAL_DISCONNECT, conn)

    def l2test_receiving(self, psm, our_mtu, l2test_mtu, chunk):
        """l2test -u on hci2 connected to our listener on hci1 (PSM psm): (server, l2test, conn, cid)."""
        server = radios["hci1"]
        server.ble.l2cap_listen(psm, our_mtu)
        server.ble.gap_advertise(50000, ADV_DATA)
        l2test = self.start_l2test("-u", "-P", str(psm), "-I", str(l2test_mtu), "-b", str(chunk), server.addr.hex(":"))
        conn, cid = self.accept_l2test(server, psm, our_mtu, l2test_mtu)
        self.assertTrue(l2test.wait_for(lambda t: t.matching(r"Receiving \.\.\."), 10), l2test.text())
        self.assertTrue(l2test.matching(rf"Options \[imtu {l2test_mtu}, omtu {our_mtu},"), l2test.text())
        return server, l2test, conn, cid

    def disconnect_l2test(self, server, l2test, conn, cid, psm):
        """Our l2cap_disconnect: DISCONNECT (status 0) here, l2test ends normally, and so does the link."""
        server.ble.l2cap_disconnect(conn, cid)
        event, data = next_event(server, (_IRQ_L2CAP_DISCONNECT,), time.monotonic() + 10, conn)
        self.assertEqual(data, (conn, cid, psm, 0))
        self.assertEqual(l2test.exit_code(10), 0, l2test.text())
        self.wait_link_gone(server, _IRQ_CENTRAL_DISCONNECT, conn)

    def test_l2test_client_receives_what_we_send(self):
        """l2test -u on hci2 connects to our listener on hci1 and checks what we send."""
        our_mtu, l2test_mtu, chunk = 300, 512, 512
        server, l2test, conn, cid = self.l2test_receiving(PSM_OUR_SERVER_SEND, our_mtu, l2test_mtu, chunk)
        rng = random.Random(6)
        # Up to twice our MTU (the spec's limit) and the peer's MTU: 512.
        sizes = [rng.randint(6, l2test_mtu) for _ in range(30)] + [l2test_mtu]
        send_sdus(server, conn, cid, [l2test_sdu(seq, size) for seq, size in enumerate(sizes)])
        expected = l2test_totals(sizes, chunk)
        l2test.wait_for(lambda t: len(t.totals()) >= len(expected), 60)
        self.assertEqual(l2test.totals(), expected, l2test.text())
        self.assertEqual(l2test.mismatches(), [], l2test.text())
        self.disconnect_l2test(server, l2test, conn, cid, PSM_OUR_SERVER_SEND)

    def test_accepted_channel_outlives_the_kernels_request_timer(self):
        """A channel our listener accepted stays up when idle past 40 s: the kernel arms a timer of
        the socket's send timeout (40 s) for each request it holds for us (BT_DEFER_SETUP)."""
        server, l2test, conn, cid = self.l2test_receiving(PSM_OUR_SERVER_IDLE, 512, 512, 512)
        accepted = time.monotonic()
        try:
            event, data = next_event(server, (_IRQ_L2CAP_DISCONNECT,), accepted + IDLE_S, conn)
        except AssertionError:  # no DISCONNECT: what should happen
            pass
        else:
            self.fail(f"the channel closed {time.monotonic() - accepted:.1f} s after it was accepted, idle: "
                      f"DISCONNECT {data}\n{l2test.text()}")
        send_sdus(server, conn, cid, [l2test_sdu(seq, 512) for seq in range(3)])
        l2test.wait_for(lambda t: len(t.totals()) >= 3, 20)
        self.assertEqual((l2test.totals(), l2test.mismatches()), ([512] * 3, []), l2test.text())
        self.disconnect_l2test(server, l2test, conn, cid, PSM_OUR_SERVER_IDLE)

if __name__ == "__main__":
    unittest.main()
