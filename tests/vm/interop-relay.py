#!/usr/bin/python3
"""Relays an H4 stream between a serial port and btvirt's server socket, both
ways, until either side closes.  tests/vm/interop-guest.sh uses it in the peer
VM to connect the serial line from the main VM (ttyS1) to btvirt's
bt-server-bredrle socket, which gives the main VM a controller emulated by
the peer's btvirt.

Towards btvirt, whole H4 packets go in one send each: btvirt's server (BlueZ
5.66, emulator/server.c) reads an ACL header without checking that it has
arrived, so an ACL packet split in its header, as a serial line delivers
them, makes it lose the stream.  The other way, the kernel's H4 parser takes
any split.

Usage: interop-relay.py TTY SOCKET
Logs each packet relayed (time, direction, bytes) to stdout.
"""

import os
import selectors
import socket
import sys
import time
import tty

# H4 packet type -> (header length, offset and size of the length field in it)
HEADERS = {
    0x01: (3, 2, 1),  # command: opcode, parameter length
    0x02: (4, 2, 2),  # ACL data: handle and flags, data length
    0x03: (3, 2, 1),  # SCO data: handle and flags, data length
    0x05: (4, 2, 2),  # ISO data: handle and flags, data length (14 bits)
}


def split_packets(buffer):
    """The complete H4 packets at the start of buffer, and the rest."""
    packets = []
    while buffer:
        header = HEADERS.get(buffer[0])
        if header is None:
            raise ValueError(f"unknown H4 packet type {buffer[0]:#04x} in {bytes(buffer[:16]).hex()}")
        size, at, width = header
        if len(buffer) < 1 + size:
            break
        length = int.from_bytes(buffer[1 + at:1 + at + width], "little")
        if buffer[0] == 0x05:
            length &= 0x3FFF
        if len(buffer) < 1 + size + length:
            break
        packets.append(bytes(buffer[:1 + size + length]))
        del buffer[:1 + size + length]
    return packets


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    device, path = sys.argv[1:]
    port = os.open(device, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(port)  # 8 bits, no echo, no line editing, no CR/LF mapping
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    print(f"relaying {device} <-> {path}", flush=True)
    pending = bytearray()

    def log(direction, data):
        print(f"{time.monotonic():.3f} {direction} {data.hex()}", flush=True)

    def to_socket():
        data = os.read(port, 4096)
        pending.extend(data)
        for packet in split_packets(pending):
            log("tty->btvirt", packet)
            sock.sendall(packet)
        return data

    def to_port():
        data = sock.recv(4096)
        log("btvirt->tty", data)
        view = memoryview(data)
        while view:
            view = view[os.write(port, view):]
        return data

    selector = selectors.DefaultSelector()
    selector.register(port, selectors.EVENT_READ, to_socket)
    selector.register(sock, selectors.EVENT_READ, to_port)
    while True:
        for key, _ in selector.select():
            if not key.data():
                print("relay: a side closed", flush=True)
                return


if __name__ == "__main__":
    main()
