"""A minimal LE-only controller on /dev/vhci, written here for tests and
benchmarks: it answers the kernel's commands, floods advertising reports
while scanning (at a set rate, or as fast as it can), and accepts LE Create
Connection without ever completing it, as a real controller does when the
peer is away, until LE Create Connection Cancel."""

import os
import select
import struct
import threading
import time

COMMAND, EVENT = 0x01, 0x04
CC, CS, LE_META = 0x0E, 0x0F, 0x3E
OP_READ_LOCAL_VERSION = 0x1001
OP_READ_LOCAL_COMMANDS = 0x1002
OP_READ_LOCAL_FEATURES = 0x1003
OP_READ_BUFFER_SIZE = 0x1005
OP_READ_BD_ADDR = 0x1009
OP_LE_READ_BUFFER_SIZE = 0x2002
OP_LE_READ_LOCAL_FEATURES = 0x2003
OP_LE_SET_SCAN_ENABLE = 0x200C
OP_LE_CREATE_CONN = 0x200D
OP_LE_CREATE_CONN_CANCEL = 0x200E
# Commands answered with Command Status rather than Command Complete.
STATUS_COMMANDS = {0x0406, OP_LE_CREATE_CONN, 0x2016, 0x2019}


class FakeController:
    """One controller; `index` is its hciN number once the kernel made it."""

    def __init__(self, address, reports_per_event=8, report_data=bytes(20), rate=None):
        self.address = address  # 6 bytes, most significant first
        self.reports_per_event = reports_per_event
        self.report_data = report_data
        self.rate = rate  # reports per second while scanning; None: as fast as possible
        self.commands = []  # opcodes received, in order
        self.command_params = {}  # opcode -> parameters of its latest command
        self.reports_sent = 0
        self._fd = os.open("/dev/vhci", os.O_RDWR)
        os.write(self._fd, b"\xff\x00")  # vendor packet: create a primary controller
        reply = os.read(self._fd, 4)
        if reply[:2] != b"\xff\x00":
            raise OSError(f"unexpected vhci reply {reply.hex()}")
        self.index = struct.unpack_from("<H", reply, 2)[0]
        self._scanning = threading.Event()
        self._scan_started = (0.0, 0)  # when the current scan began, and reports_sent then
        self._closed = False
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self._flooder = threading.Thread(target=self._flood_loop, daemon=True)
        self._flooder.start()

    @property
    def name(self):
        return f"hci{self.index}"

    def close(self):
        """Removes the controller: the kernel drops it when the last user
        of /dev/vhci is gone, so both threads stop before the close."""
        self._closed = True
        self._scanning.set()
        self._reader.join()
        self._flooder.join()
        os.close(self._fd)

    def _send_event(self, code, params):
        os.write(self._fd, bytes([EVENT, code, len(params)]) + params)

    def _complete(self, opcode, reply):
        self._send_event(CC, struct.pack("<BH", 1, opcode) + reply)

    def _read_loop(self):
        while not self._closed:
            if not select.select([self._fd], [], [], 0.1)[0]:
                continue
            try:
                packet = os.read(self._fd, 4096)
            except OSError:
                return
            if len(packet) >= 4 and packet[0] == COMMAND:
                opcode = struct.unpack_from("<H", packet, 1)[0]
                with self._lock:
                    self.commands.append(opcode)
                    self.command_params[opcode] = packet[4:]
                self._answer(opcode, packet[4:])

    def _answer(self, opcode, params):
        if opcode == OP_READ_LOCAL_VERSION:
            self._complete(opcode, struct.pack("<BBHBHH", 0, 0x09, 0, 0x09, 0x05F1, 0))
        elif opcode == OP_READ_LOCAL_FEATURES:
            # LE supported, BR/EDR not supported (byte 4, bits 6 and 5).
            self._complete(opcode, bytes([0, 0, 0, 0, 0, 0x60, 0, 0, 0]))
        elif opcode == OP_READ_LOCAL_COMMANDS:
            self._complete(opcode, bytes(65))
        elif opcode == OP_READ_BD_ADDR:
            self._complete(opcode, b"\x00" + self.address[::-1])
        elif opcode == OP_READ_BUFFER_SIZE:
            self._complete(opcode, struct.pack("<BHBHH", 0, 27, 0, 8, 0))
        elif opcode == OP_LE_READ_BUFFER_SIZE:
            self._complete(opcode, struct.pack("<BHB", 0, 27, 8))
        elif opcode == OP_LE_READ_LOCAL_FEATURES:
            self._complete(opcode, bytes(1 + 8))  # legacy advertising and scanning only
        elif opcode == OP_LE_SET_SCAN_ENABLE:
            self._complete(opcode, b"\x00")
            if params[:1] == b"\x01":
                self._scan_started = (time.monotonic(), self.reports_sent)
                self._scanning.set()
            else:
                self._scanning.clear()
        elif opcode == OP_LE_CREATE_CONN_CANCEL:
            self._complete(opcode, b"\x00")
            # The attempt ends with Unknown Connection Identifier.
            self._send_event(LE_META, bytes([0x01, 0x02]) + bytes(17))
        elif opcode in STATUS_COMMANDS:
            self._send_event(CS, struct.pack("<BBH", 0, 1, opcode))
        else:
            # Anything else succeeds, with room for whatever it returns.
            self._complete(opcode, bytes(1 + 247))

    def _report_event(self, first):
        """One LE Advertising Report event with reports_per_event reports."""
        body = bytearray([0x02, self.reports_per_event])
        for i in range(self.reports_per_event):
            n = first + i
            addr = bytes([n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF, 0x00, 0xCC, 0x02])  # little-endian
            body += bytes([0x03, 0x00]) + addr + bytes([len(self.report_data)]) + self.report_data + b"\xc4"
        return bytes(body)

    def _flood_loop(self):
        while not self._closed:
            self._scanning.wait()
            if self._closed:
                return
            if self.rate:
                started, sent_before = self._scan_started
                if self.reports_sent - sent_before >= self.rate * (time.monotonic() - started):
                    time.sleep(0.0005)
                    continue
            try:
                self._send_event(LE_META, self._report_event(self.reports_sent))
            except OSError:
                return
            self.reports_sent += self.reports_per_event
