"""Pairing between the daemon and BlueZ's btmgmt, both ways: the daemon
serves hci0 and hci1 only; btmgmt's interactive shell runs on hci2 (the
kernel's own pairing, answered by btmgmt's prompts), which the daemon leaves
alone.

btmgmt reads answers only in its interactive shell (docs/kernel-smp.md,
"Interop with BlueZ's tools"): the tests run it on a pseudo-terminal, type
`pair -c <io> -t 1 <addr>` into it when btmgmt initiates, and answer its
prompts (`Confirm value N for ADDR (yes/no)`, `Accept pairing with ADDR
(yes/no)`, `Passkey Request (press enter to reject)`), reading the passkey
it shows (`Passkey Notify: N`) when our side types it. What btmgmt's
kernel stored is read from debugfs (hci2/long_term_keys): its keys for us
must be the ones in our bond file."""

import os
import pty
import queue
import re
import select
import shutil
import signal
import tempfile
import time
import unittest

from harness import RESULTS, Daemon, Radio, btmgmt, controller_info, debugfs, stop_cleanly
from security_helpers import (ADV_DATA, DISCONNECTS, IO_DISPLAY_ONLY, IO_DISPLAY_YESNO, IO_KEYBOARD_ONLY,
                              IO_NO_INPUT_OUTPUT, SMP_WAIT, _IRQ_CENTRAL_CONNECT, _IRQ_ENCRYPTION_UPDATE,
                              _IRQ_PASSKEY_ACTION, _IRQ_PERIPHERAL_CONNECT, _IRQ_PERIPHERAL_DISCONNECT,
                              _PASSKEY_ACTION_DISPLAY, _PASSKEY_ACTION_INPUT, _PASSKEY_ACTION_NUMERIC_COMPARISON,
                              bond_path, decode_bond, pair)

PEER = "hci2"
PEER_INDEX = PEER[3:]
# mgmt LTK types in our bond files: unauthenticated / authenticated, legacy / P-256.
LTK_UNAUTH_LEGACY, LTK_AUTH_LEGACY, LTK_UNAUTH_P256, LTK_AUTH_P256 = range(4)

# btmgmt settings of hci2, in order, with the name of each in btmgmt's
# "current settings" (SSP before SC: the kernel wants it with BR/EDR on).
PEER_SETTINGS = (("le", "le"), ("ssp", "ssp"), ("sc", "secure-conn"), ("bondable", "bondable"),
                 ("connectable", "connectable"), ("power", "powered"))

# btmgmt's shell output (colours removed): prompts, what it shows, results.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|[\x01\x02\r]")
PROMPT_CONFIRM = re.compile(r"Confirm value (\d{6}) for ([0-9A-F:]{17}) \(yes/no\)")
PROMPT_ACCEPT = re.compile(r"Accept pairing with ([0-9A-F:]{17}) \(yes/no\)")
PROMPT_PASSKEY = re.compile(r"Passkey Request \(press enter to reject\)")
PASSKEY_NOTIFY = re.compile(r"Passkey Notify: (\d{6}) \(entered")
PAIR_RESULT = re.compile(r"Paired with ([0-9A-F:]{17}) \(([^)]*)\)|Pairing with \S+ \([^)]*\) failed[^\n]*"
                         r"|Pairing failed[^\n]*")
ANY_PROMPT = re.compile(r"\(yes/no\)|Passkey Request")

daemon = None
hci0 = None
state_dir = None
peer_addr = None        # "00:AA:01:02:00:00"
peer_settings_before = set()


def addr_text(addr):
    return ":".join(f"{b:02X}" for b in addr)


def addr_bytes(text):
    return bytes.fromhex(text.replace(":", ""))


def link_keys(name):
    """The controller's BR/EDR link keys (debugfs); none on an LE-only controller, which has no such file."""
    try:
        return debugfs(name, "link_keys")
    except FileNotFoundError:
        return ""


def peer(*args):
    return btmgmt("--index", PEER_INDEX, *args)


def setUpModule():
    global daemon, hci0, state_dir, peer_addr, peer_settings_before
    info = controller_info(PEER)
    peer_addr, peer_settings_before = info["addr"], info["settings"]
    # SSP matters (for Secure Connections) only where BR/EDR is: LE-only
    # controllers (the legacy test bed) have neither.
    supported = set(re.search(r"supported settings: ?(.*)", peer("info")).group(1).split())
    wanted = [(setting, shown) for setting, shown in PEER_SETTINGS if shown in supported or shown == "powered"]
    try:
        for setting, _ in wanted:
            peer(setting, "on")
        missing = {shown for _, shown in wanted} - controller_info(PEER)["settings"]
        if missing:
            raise AssertionError(f"{PEER}: btmgmt could not turn on {sorted(missing)}")
        state_dir = tempfile.mkdtemp(prefix="ubt-sec-interop-")
        daemon = Daemon("--adapter", "hci0", "--adapter", "hci1", "--state-dir", state_dir)
        hci0 = Radio("hci0")
        # A key hci2's kernel kept from an earlier module would make btmgmt's
        # pair answer Already Paired.
        peer("unpair", "-t", "1", addr_text(hci0.addr))
    except BaseException:
        restore()  # unittest runs no tearDownModule after a failed setUpModule
        raise


def tearDownModule():
    restore()
    for name in ("hci0", PEER):
        for keys in ("link_keys", "long_term_keys"):
            left = link_keys(name) if keys == "link_keys" else debugfs(name, keys)
            if left.strip():
                raise AssertionError(f"{name} still holds keys after the module:\n{left}")


def restore():
    """Stops the daemon; hci2 as it was, and no keys left on hci0 or hci2."""
    try:
        if hci0:
            hci0.ble.irq(None)
        if daemon and daemon.alive():
            stop_cleanly(daemon)
    finally:
        peer("advertising", "off")
        peer("io-cap", str(IO_NO_INPUT_OUTPUT))  # the kernel's default
        peer("ltks")  # Load LTKs with none: what the module's pairings left
        # LE Secure Connections with SSP on also derive a BR/EDR link key on
        # both sides, which unpair -t 1 and gap_unpair leave: Load Link Keys
        # with none on hci2 and, the daemon gone, on hci0.
        peer("keys")
        btmgmt("--index", "0", "ltks")
        btmgmt("--index", "0", "keys")
        for setting, shown_as in reversed(PEER_SETTINGS):  # as the next modules expect it
            if shown_as not in peer_settings_before:
                peer(setting, "off")
        if state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


class BtmgmtShell:
    """btmgmt's interactive shell on a pseudo-terminal; `text` is all it
    wrote, without colours."""

    def __init__(self, index):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            try:
                os.execvp("btmgmt", ["btmgmt", "--index", index])
            finally:
                os._exit(127)
        self.raw = ""
        self.text = ""
        self.eof = False
        if not self.wait_for(re.compile(r"\[hci%s\]# " % index), 10):
            raise AssertionError(f"btmgmt's shell showed no prompt:\n{self.text}")

    def pump(self, timeout):
        """Reads what btmgmt wrote, waiting up to `timeout` for something."""
        if self.eof:
            time.sleep(max(timeout, 0))
            return
        if not select.select([self.fd], [], [], max(timeout, 0))[0]:
            return
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: btmgmt has ended
            data = b""
        if not data:
            self.eof = True
            return
        self.raw += data.decode(errors="replace")
        self.text = ANSI.sub("", self.raw)

    def wait_for(self, regex, timeout, start=0):
        """The first match of regex in the output from `start`, waiting up to `timeout`; None if none."""
        deadline = time.monotonic() + timeout
        while not (m := regex.search(self.text, start)):
            if self.eof or time.monotonic() > deadline:
                return None
            self.pump(min(0.2, deadline - time.monotonic()))
        return m

    def type(self, line):
        os.write(self.fd, (line + "\n").encode())

    def close(self):
        try:
            self.type("quit")
        except OSError:
            pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.pump(0.1)
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                break
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


class Exchange:
    """One pairing between our hci0 and btmgmt's shell: reads our events and
    btmgmt's output, and answers both sides as a user would: numeric
    comparison accepted on both, Just Works accepted by btmgmt, a passkey
    shown on one side typed on the other."""

    def __init__(self, test, shell, handle=None):
        self.test = test
        self.shell = shell
        self.handle = handle
        self.start = len(shell.text)  # btmgmt's output before this exchange is not looked at
        self.events = []        # all of our events, in order
        self.updates = []       # ENCRYPTION_UPDATE data of the handle
        self.actions = []       # PASSKEY_ACTION data of the handle
        self.connected = None   # CENTRAL_CONNECT / PERIPHERAL_CONNECT data
        self.disconnected = None
        self.prompts = {}       # btmgmt: prompt regex -> match, answered
        self.typed = []
        self.our_display = None    # the passkey our side shows (action 3)
        self.peer_display = None   # the passkey btmgmt shows (Passkey Notify)
        self.our_input_pending = False

    def bonded(self):
        return bool(self.updates) and self.updates[-1][3] is True

    def peer_result(self):
        return PAIR_RESULT.search(self.shell.text, self.start)

    def run(self, done, timeout=SMP_WAIT):
        """Runs until done(self) holds; False if it did not within timeout."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                return False
            self.step()
        return True

    def step(self):
        self.shell.pump(0.05)
        while True:
            try:
                event, data = hci0.events.get_nowait()
            except queue.Empty:
                break
            self.on_event(event, data)
        self.answer_btmgmt()
        if self.our_input_pending and self.peer_display is not None:
            self.our_input_pending = False
            hci0.ble.gap_passkey(self.handle, _PASSKEY_ACTION_INPUT, self.peer_display)

    def on_event(self, event, data):
        self.events.append((event, data))
        if event in (_IRQ_CENTRAL_CONNECT, _IRQ_PERIPHERAL_CONNECT) and self.handle is None:
            self.handle = data[0]
            self.connected = data
        if not data or data[0] != self.handle:
            return
        if event == _IRQ_ENCRYPTION_UPDATE:
            self.updates.append(data)
        elif event in DISCONNECTS:
            self.disconnected = data
        elif event == _IRQ_PASSKEY_ACTION:
            self.actions.append(data)
            _, action, passkey = data
            if action == _PASSKEY_ACTION_NUMERIC_COMPARISON:
                hci0.ble.gap_passkey(self.handle, action, 1)
            elif action == _PASSKEY_ACTION_DISPLAY:
                self.our_display = passkey
            elif action == _PASSKEY_ACTION_INPUT:
                self.our_input_pending = True

    def answer_btmgmt(self):
        text = self.shell.text
        if self.peer_display is None and (m := PASSKEY_NOTIFY.search(text, self.start)):
            self.peer_display = int(m.group(1))
        for regex in (PROMPT_CONFIRM, PROMPT_ACCEPT, PROMPT_PASSKEY):
            if regex in self.prompts or not (m := regex.search(text, self.start)):
                continue  # each prompt is answered once (btmgmt may draw it again)
            if regex is PROMPT_PASSKEY:
                if self.our_display is None:
                    continue  # typed once our side shows it
                answer = f"{self.our_display:06d}"
            else:
                answer = "yes"
            self.prompts[regex] = m
            self.typed.append(answer)
            self.shell.type(answer)

    def report(self):
        """What happened, for a failure message."""
        return (f"\nour events: {self.events}\ntyped into btmgmt: {self.typed}\n"
                f"btmgmt's output:\n{self.shell.text[self.start:][-3000:]}\n"
                f"daemon log (end):\n{daemon.log_text()[-4000:]}")


def kernel_ltks(name, peer_text):
    """The LTKs hci `name`'s kernel holds for a peer (debugfs long_term_keys):
    [(authenticated, enc_size, value hex)], and the file's text."""
    text = debugfs(name, "long_term_keys")
    keys = []
    for line in text.splitlines():
        # "%pMR (type %u) %u 0x%02x %u %.4x %.16llx %*phN": addr, type, authenticated, type, enc_size, ediv, rand, value
        m = re.match(r"([0-9A-Fa-f:]{17}) \(type \d+\) (\d+) 0x[0-9a-f]+ (\d+) [0-9a-f]+ [0-9a-f]+ ([0-9a-f]{32})$",
                     line.strip())
        if m and m.group(1).upper() == peer_text:
            keys.append((int(m.group(2)), int(m.group(3)), m.group(4)))
    return keys, text


def bond_file_ltks(path):
    """[(mgmt type, enc_size, value hex)] of a bond file's ltk lines (the file decoded as the daemon reads it)."""
    with open(path) as f:
        text = f.read()
    keys = [(k["type"], k["enc_size"], k["val"].lower()) for k in decode_bond(text)["ltks"]]
    return keys, text


class SecurityInterop(unittest.TestCase):
    def setUp(self):
        self.shells = []
        self.handles = set()
        hci0.drain()

    def tearDown(self):
        for n, shell in enumerate(self.shells):
            shell.close()
            # btmgmt's side of the test, for a failure's post-mortem
            with open(os.path.join(RESULTS, f"btmgmt-{self._testMethodName}-{n}.log"), "w") as f:
                f.write(shell.text)
        hci0.ble.gap_advertise(None)
        peer("advertising", "off")
        for h in self.handles:
            try:
                hci0.ble.gap_disconnect(h)
            except OSError:
                pass
        peer("unpair", "-t", "1", addr_text(hci0.addr))
        for addr_type, addr in hci0.ble.gap_bonds():
            hci0.ble.gap_unpair(addr_type, addr)
        hci0.ble.config(io=IO_NO_INPUT_OUTPUT, bond=True, mitm=False, le_secure=False)
        deadline = time.monotonic() + 5  # the links' disconnect events, before the next test
        while time.monotonic() < deadline and (conns := peer("con")) and addr_text(hci0.addr) in conns:
            time.sleep(0.2)
        time.sleep(0.3)

    def shell(self):
        shell = BtmgmtShell(PEER_INDEX)
        self.shells.append(shell)
        return shell

    def bond_path(self):
        return bond_path(state_dir, hci0.addr, addr_bytes(peer_addr))

    # ---- the two directions

    def btmgmt_pairs_with_us(self, btmgmt_io, authenticated, **our_config):
        """btmgmt on hci2 pairs with our advertising hci0; checks both sides
        and returns the Exchange."""
        hci0.ble.config(bond=True, **our_config)
        hci0.ble.gap_advertise(50000, ADV_DATA)
        shell = self.shell()
        ex = Exchange(self, shell)
        shell.type(f"pair -c {btmgmt_io} -t 1 {addr_text(hci0.addr)}")
        finished = ex.run(lambda e: e.peer_result() and (e.bonded() or e.disconnected))
        if ex.handle is not None:
            self.handles.add(ex.handle)
        self.assertTrue(finished, "the pairing did not finish on both sides within "
                                  f"{SMP_WAIT} s" + ex.report())
        result = ex.peer_result()
        self.assertEqual(result.group(0), f"Paired with {addr_text(hci0.addr)} (LE Public)", ex.report())
        h = ex.handle
        self.assertEqual(ex.connected, (h, 0, addr_bytes(peer_addr)), ex.report())
        self.check_updates(ex, authenticated)
        self.check_bond(ex, authenticated)
        return ex

    def we_pair_with_btmgmt(self, peer_io, authenticated, **our_config):
        """Our hci0 connects to hci2 (advertising, btmgmt's shell answering)
        and calls gap_pair; checks both sides and returns the Exchange."""
        peer("io-cap", str(peer_io))
        peer("advertising", "on")
        hci0.ble.config(bond=True, **our_config)
        shell = self.shell()
        hci0.ble.gap_connect(0, addr_bytes(peer_addr))
        h, addr_type, addr = hci0.wait(_IRQ_PERIPHERAL_CONNECT, 10)
        self.handles.add(h)
        self.assertEqual((addr_type, addr), (0, addr_bytes(peer_addr)))
        ex = Exchange(self, shell, h)
        pair(hci0, h)
        finished = ex.run(lambda e: e.bonded() or e.disconnected)
        self.assertTrue(finished, f"no bonded ENCRYPTION_UPDATE within {SMP_WAIT} s" + ex.report())
        self.assertIsNone(ex.disconnected, ex.report())
        self.assertIsNone(ex.peer_result(), ex.report())  # nothing typed "pair" here
        self.check_updates(ex, authenticated)
        self.check_bond(ex, authenticated)
        return ex

    def check_updates(self, ex, authenticated):
        """A bonding pairing: (h, True, auth, False, 16) then (h, True, auth, True, 16), or only the latter."""
        h = ex.handle
        first, last = (h, True, authenticated, False, 16), (h, True, authenticated, True, 16)
        self.assertIn(ex.updates, ([first, last], [last]), ex.report())

    def check_bond(self, ex, authenticated):
        """Our store and btmgmt's kernel hold the same keys for each other."""
        self.assertEqual(hci0.ble.gap_bonds(), [(0, addr_bytes(peer_addr))], ex.report())
        path = self.bond_path()
        self.assertTrue(os.path.isfile(path), f"no bond file {path}: {os.listdir(state_dir)}" + ex.report())
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        ours, our_text = bond_file_ltks(path)
        wanted_types = {LTK_AUTH_LEGACY, LTK_AUTH_P256} if authenticated else {LTK_UNAUTH_LEGACY, LTK_UNAUTH_P256}
        self.assertTrue(ours, f"no ltk in {path}:\n{our_text}")
        self.assertTrue({t for t, _, _ in ours} <= wanted_types and all(size == 16 for _, size, _ in ours),
                        f"{path}:\n{our_text}")
        # btmgmt's kernel stores its keys as the pairing ends: give it a moment.
        deadline = time.monotonic() + 3
        while True:
            theirs, their_text = kernel_ltks(PEER, addr_text(hci0.addr))
            if {v for _, _, v in theirs} == {v for _, _, v in ours} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual({v for _, _, v in theirs}, {v for _, _, v in ours},
                         f"{PEER}'s keys for us (debugfs):\n{their_text}\nour bond file:\n{our_text}")
        self.assertEqual({(a, size) for a, size, _ in theirs}, {(int(authenticated), 16)},
                         f"{PEER}'s keys for us (debugfs):\n{their_text}")

    def check_numeric_comparison(self, ex):
        """Both sides were asked to compare the same value: btmgmt's prompt
        names our address, our action 4 carries the value btmgmt showed."""
        self.assertIn(PROMPT_CONFIRM, ex.prompts, ex.report())
        shown = ex.prompts[PROMPT_CONFIRM]
        self.assertEqual(shown.group(2), addr_text(hci0.addr))
        self.assertEqual(ex.actions, [(ex.handle, _PASSKEY_ACTION_NUMERIC_COMPARISON, int(shown.group(1)))],
                         ex.report())

    # ---- btmgmt initiates (hci2 central, our hci0 peripheral)

    def test_btmgmt_pairs_with_us_just_works_and_its_unpair_leaves_our_bond(self):
        ex = self.btmgmt_pairs_with_us(IO_NO_INPUT_OUTPUT, False, io=IO_NO_INPUT_OUTPUT, le_secure=True)
        self.assertEqual(ex.actions, [], ex.report())
        self.assertNotIn(PROMPT_CONFIRM, ex.prompts, ex.report())
        self.assertNotIn(PROMPT_PASSKEY, ex.prompts, ex.report())
        # Keys removed on hci2 (another controller) are not ours to forget.
        out = peer("unpair", "-t", "1", addr_text(hci0.addr))
        self.assertIn("unpaired", out)
        self.assertEqual(kernel_ltks(PEER, addr_text(hci0.addr))[0], [])
        time.sleep(0.5)
        self.assertEqual(hci0.ble.gap_bonds(), [(0, addr_bytes(peer_addr))])
        self.assertTrue(os.path.isfile(self.bond_path()))
        hci0.ble.gap_unpair(0, addr_bytes(peer_addr))
        self.assertEqual(hci0.ble.gap_bonds(), [])
        self.assertFalse(os.path.exists(self.bond_path()))
        self.assertEqual(kernel_ltks("hci0", peer_addr)[0], [])
        # Nor the BR/EDR link key the Secure Connections pairing derived.
        self.assertNotIn(peer_addr.lower(), link_keys("hci0"))

    def test_btmgmt_types_the_passkey_we_display_legacy(self):
        # btmgmt KeyboardOnly initiates, our DisplayOnly shows the kernel's passkey; legacy pairing.
        ex = self.btmgmt_pairs_with_us(IO_KEYBOARD_ONLY, True, io=IO_DISPLAY_ONLY, mitm=True, le_secure=False)
        h = ex.handle
        self.assertEqual(len(ex.actions), 1, ex.report())
        self.assertEqual(ex.actions[0][:2], (h, _PASSKEY_ACTION_DISPLAY), ex.report())
        self.assertIn(PROMPT_PASSKEY, ex.prompts, ex.report())
        self.assertEqual(ex.typed, [f"{ex.our_display:06d}"], ex.report())

    def test_btmgmt_shows_a_passkey_we_type_secure_connections(self):
        # btmgmt DisplayOnly initiates and shows the passkey; our KeyboardOnly types it (gap_passkey action 2).
        ex = self.btmgmt_pairs_with_us(IO_DISPLAY_ONLY, True, io=IO_KEYBOARD_ONLY, mitm=True, le_secure=True)
        h = ex.handle
        self.assertEqual(ex.actions, [(h, _PASSKEY_ACTION_INPUT, 0)], ex.report())
        self.assertIsNotNone(ex.peer_display, ex.report())
        self.assertEqual(ex.typed, [], ex.report())

    def test_btmgmt_pairs_with_us_by_numeric_comparison(self):
        ex = self.btmgmt_pairs_with_us(IO_DISPLAY_YESNO, True, io=IO_DISPLAY_YESNO, mitm=True, le_secure=True)
        self.check_numeric_comparison(ex)

    # ---- our gap_pair (our hci0 central, hci2 peripheral answering in btmgmt's shell)

    def test_we_pair_with_btmgmt_just_works(self):
        ex = self.we_pair_with_btmgmt(IO_NO_INPUT_OUTPUT, False, io=IO_NO_INPUT_OUTPUT, le_secure=True)
        self.assertEqual(ex.actions, [], ex.report())
        self.assertNotIn(PROMPT_CONFIRM, ex.prompts, ex.report())
        self.assertNotIn(PROMPT_PASSKEY, ex.prompts, ex.report())

    def test_we_pair_with_btmgmt_by_numeric_comparison_then_reencrypt_with_the_key(self):
        ex = self.we_pair_with_btmgmt(IO_DISPLAY_YESNO, True, io=IO_DISPLAY_YESNO, mitm=True, le_secure=True)
        self.check_numeric_comparison(ex)
        h = ex.handle
        # Reconnect: gap_pair encrypts with the stored key, nobody is asked.
        self.assertTrue(hci0.ble.gap_disconnect(h))
        self.assertEqual(hci0.wait(_IRQ_PERIPHERAL_DISCONNECT, 10), (h, 0, addr_bytes(peer_addr)))
        peer("advertising", "off")
        peer("advertising", "on")
        hci0.ble.gap_connect(0, addr_bytes(peer_addr))
        h2, _, _ = hci0.wait(_IRQ_PERIPHERAL_CONNECT, 10)
        self.handles.add(h2)
        again = Exchange(self, ex.shell, h2)
        pair(hci0, h2)
        self.assertTrue(again.run(lambda e: e.updates or e.disconnected, 15),
                        "no ENCRYPTION_UPDATE within 15 s" + again.report())
        again.run(lambda e: False, 1)  # anything that follows
        self.assertEqual(again.updates, [(h2, True, True, True, 16)], again.report())
        self.assertEqual(again.actions, [], again.report())
        self.assertIsNone(ANY_PROMPT.search(again.shell.text, again.start), again.report())
        self.assertIsNone(again.disconnected, again.report())


if __name__ == "__main__":
    unittest.main()
