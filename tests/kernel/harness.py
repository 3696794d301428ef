"""Helpers for the kernel tests: they run inside the test VM (tests/vm/run.sh),
start the daemon built by this tree on the VM's private system bus, and check
its effects with tools written elsewhere (btmgmt, busctl)."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import time

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("UBT_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
DAEMON = os.path.join(BUILD_DIR, "daemon", "ubluetoothd")
RESULTS = os.environ.get("UBT_RESULTS", "/tmp")
PYTHON = "/usr/bin/python3"
CLIENT_PATH = os.path.join(SOURCE_DIR, "tools")
BUS_NAME = "org.ubluetooth"
IFACE = "org.ubluetooth.BLE1"


def run(args, timeout=30, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def btmgmt(*args):
    """btmgmt's output; it needs a terminal (it quits at EOF on stdin before answering)."""
    command = "btmgmt " + " ".join(args)
    out = run(["script", "-qec", command, "/dev/null"]).stdout
    return out.replace("\r", "")


def controller_info(name):
    """btmgmt's view of one controller: addr, settings (a set), name."""
    text = btmgmt("--index", name[3:], "info")
    m = re.search(r"addr ([0-9A-F:]{17})", text)
    settings = re.search(r"current settings: ?(.*)", text)
    gap_name = re.search(r"^\s*name (.*)$", text, re.M)
    if not (m and settings and gap_name):
        raise AssertionError(f"unexpected btmgmt info output for {name}:\n{text}")
    return {"addr": m.group(1), "settings": set(settings.group(1).split()), "name": gap_name.group(1).strip()}


def busctl(*args, user=None, groups=None):
    """busctl on the system bus, optionally as another user (setpriv)."""
    command = ["busctl", "--system", *args]
    if user:
        prefix = ["setpriv", f"--reuid={user}", "--regid=nogroup"]
        prefix += [f"--groups={groups}"] if groups else ["--clear-groups"]
        command = prefix + command
    return run(command)


def call(path, method, signature="", *args, user=None, groups=None):
    """Calls a BLE1 method with busctl; returns (ok, output or error text)."""
    cmd = ["call", BUS_NAME, path, IFACE, method]
    if signature:
        cmd += [signature, *[str(a) for a in args]]
    r = busctl(*cmd, user=user, groups=groups)
    return r.returncode == 0, (r.stdout if r.returncode == 0 else r.stderr).strip()


def name_has_owner():
    r = busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
               "NameHasOwner", "s", BUS_NAME)
    return r.stdout.strip() == "b true"


def uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def python_client(code):
    """Runs a script against the daemon with the tools/ubluetooth client."""
    env = dict(os.environ, PYTHONPATH=CLIENT_PATH)
    return run([PYTHON, "-c", code], env=env, timeout=60)


class Daemon:
    """The daemon under test, logging to $UBT_RESULTS/daemon-N.log."""

    count = 0

    def __init__(self, *args):
        Daemon.count += 1
        self.log_path = os.path.join(RESULTS, f"daemon-{Daemon.count}.log")
        self.log = open(self.log_path, "w")
        # The daemon says READY=1 to systemd; the test plays systemd's part.
        notify_path = os.path.join("/tmp", f"ubt-notify-{os.getpid()}-{Daemon.count}")  # not on 9p: no sockets there
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(0.1)
        started = time.monotonic()
        self.proc = subprocess.Popen([DAEMON, "--log-level", "debug", *args], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=dict(os.environ, NOTIFY_SOCKET=notify_path))
        try:
            while True:
                try:
                    if b"READY=1" in notify.recv(4096).split(b"\n"):
                        break
                except socket.timeout:
                    pass
                if self.proc.poll() is not None:
                    raise AssertionError(f"ubluetoothd exited with {self.proc.returncode}:\n{self.log_text()}")
                if time.monotonic() > started + 20:
                    raise AssertionError(f"ubluetoothd sent no READY=1 within 20 s:\n{self.log_text()}")
        finally:
            notify.close()
            os.unlink(notify_path)
        self.ready_after = time.monotonic() - started
        if not name_has_owner():
            raise AssertionError(f"ubluetoothd said READY=1 before owning {BUS_NAME}")

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("ubluetoothd did not stop within 20 s of SIGTERM")
        self.log.close()
        return self.proc.returncode


_connection = None


def dbus_call(path, method, signature="", *args):
    """Calls a BLE1 method with jeepney: (True, body) or (False, error name, message)."""
    from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    global _connection
    if _connection is None:
        _connection = open_dbus_connection("SYSTEM")
    msg = new_method_call(DBusAddress(path, BUS_NAME, IFACE), method, signature or None, args)
    reply = _connection.send_and_get_reply(msg, timeout=20)
    if reply.header.message_type == MessageType.error:
        message = reply.body[0] if reply.body else ""
        return False, reply.header.fields[HeaderFields.error_name], message
    return True, reply.body


def debugfs(name, entry):
    """A file of the kernel's debugfs directory for controller `name` (identity, long_term_keys...)."""
    if not os.path.ismount("/sys/kernel/debug"):
        subprocess.run(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"], check=True)
    with open(f"/sys/kernel/debug/bluetooth/{name}/{entry}") as f:
        return f.read()


def _debugfs_identity(name):
    """debugfs' identity line: address, (type N), the local IRK (as the kernel holds it), the RPA."""
    text = debugfs(name, "identity")
    m = re.match(r"([0-9A-Fa-f:]{17}) \(type (\d)\) ([0-9a-f]{32})", text)
    if not m:
        raise AssertionError(f"unexpected debugfs identity: {text!r}")
    return m


def kernel_identity(name):
    """The identity address and type the kernel uses for a controller (debugfs)."""
    m = _debugfs_identity(name)
    return m.group(1).upper(), int(m.group(2))


def kernel_irk(name):
    """The local IRK the kernel holds for a controller, least significant octet first."""
    return bytes.fromhex(_debugfs_identity(name).group(3))


def kernel_rpa(name):
    """The RPA the kernel made for a controller (debugfs identity's last field), most significant octet first."""
    return bytes.fromhex(debugfs(name, "identity").split()[-1].replace(":", ""))


def rpa_resolves(irk, addr):
    """Whether addr (6 bytes, most significant first) is prand || ah(irk, prand),
    computed with the kernel's AES (AF_ALG), not the daemon's."""
    with socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0) as alg:
        alg.bind(("skcipher", "ecb(aes)"))
        alg.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, irk[::-1])
        op, _ = alg.accept()
        with op:
            op.sendmsg_afalg([bytes(13) + addr[:3]], op=socket.ALG_OP_ENCRYPT)
            e = op.recv(16)
    return addr[0] >> 6 == 0b01 and e[13:] == addr[3:]


def stop_cleanly(daemon):
    """Stops a daemon and fails when it did not exit 0 (a sanitizer report, say)."""
    code = daemon.stop()
    if code != 0:
        raise AssertionError(f"ubluetoothd exited with {code}:\n{daemon.log_text()}")


# A client process that runs `setup`, scans on one adapter, prints each
# ScanResult and the time to ScanDone as lines, then runs `teardown`.
_SCAN_CLIENT = """
import queue, time
import ubluetooth as bluetooth
{setup}
scanner = bluetooth.BLE({scanner!r})
scanner.active(True)
events = queue.Queue()
scanner.irq(lambda event, data: events.put((event, tuple(bytes(d) if isinstance(d, memoryview) else d for d in data))))
started = time.monotonic()
scanner.gap_scan({duration}, 30000, 30000, {active})
while True:
    event, data = events.get(timeout=15)
    if event == 5:
        addr_type, addr, adv_type, rssi, adv_data = data
        print('result', addr_type, addr.hex(':'), adv_type, rssi, adv_data.hex() or '-', flush=True)
    elif event == 6:
        print('done %.2f' % (time.monotonic() - started), flush=True)
        break
{teardown}
"""


def scan_with_client(daemon, scanner, duration_ms, active, setup="", teardown=""):
    """Scans through the Python client: ([addr_type, addr, adv_type, rssi, data hex], seconds to ScanDone)."""
    code = _SCAN_CLIENT.format(setup=setup, scanner=scanner, duration=duration_ms, active=active,
                               teardown=teardown)
    r = python_client(code)
    if r.returncode != 0:
        raise AssertionError(f"scan client failed:\n{r.stdout}\n{r.stderr}\n{daemon.log_text()[-3000:]}")
    results = [line.split()[1:] for line in r.stdout.splitlines() if line.startswith("result")]
    done = [float(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("done")]
    return results, done[0]


class Radio:
    """One adapter's BLE object with its events in a queue."""

    def __init__(self, name):
        self.name = name
        sys.path.insert(0, CLIENT_PATH)
        import ubluetooth  # the client under test
        self.ble = ubluetooth.BLE(name)
        self.events = queue.Queue()
        self.ble.irq(self.on_event)
        self.ble.active(True)
        self.addr = bytes.fromhex(controller_info(name)["addr"].replace(":", ""))

    def on_event(self, event, data):
        self.events.put((event, tuple(bytes(d) if isinstance(d, memoryview) else d for d in data)))

    def wait(self, wanted, timeout=10):
        """The data of the next event `wanted`; other events are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: no event {wanted} within {timeout} s")
            event, data = self.events.get(timeout=left)
            if event == wanted:
                return data

    def quiet(self, seconds, unwanted):
        """Fails if an event in `unwanted` comes within `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event, data = self.events.get(timeout=left)
            except queue.Empty:
                return
            if event in unwanted:
                raise AssertionError(f"{self.name}: unexpected event {event} {data}")

    def drain(self):
        while not self.events.empty():
            self.events.get_nowait()
