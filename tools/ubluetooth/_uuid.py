"""The UUID class: MicroPython's 16-, 32- and 128-bit Bluetooth UUIDs."""

import re

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_DBUS_FORM = re.compile(r"[0-9a-f]{4}|[0-9a-f]{8}|"
                        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class UUID:
    """A Bluetooth UUID, stored little-endian as MicroPython stores it."""

    __slots__ = ("_le",)

    def __init__(self, value, /):
        if isinstance(value, UUID):
            self._le = value._le
        elif isinstance(value, int):
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError("invalid UUID: %d is not a 16- or 32-bit value" % value)
            self._le = value.to_bytes(2 if value <= 0xFFFF else 4, "little")
        elif isinstance(value, str):
            digits = value.replace("-", "")
            if not _HEX32.fullmatch(digits):
                raise ValueError("invalid UUID string %r: need 32 hex digits" % value)
            self._le = bytes.fromhex(digits)[::-1]
        else:
            data = bytes(memoryview(value))  # TypeError for non-buffers
            if len(data) not in (2, 4, 16):
                raise ValueError("invalid UUID: buffer of %d bytes, need 2, 4 or 16" % len(data))
            self._le = data

    @classmethod
    def from_dbus(cls, text):
        """The UUID of a D-Bus string: '180d', '0000180d' or dashed 128-bit."""
        if not isinstance(text, str) or not _DBUS_FORM.fullmatch(text):
            raise ValueError("invalid D-Bus UUID string %r" % (text,))
        return cls(bytes.fromhex(text.replace("-", ""))[::-1])

    def to_dbus(self):
        """The D-Bus string form, the inverse of from_dbus."""
        be = self._le[::-1].hex()
        if len(be) == 32:
            return "-".join((be[:8], be[8:12], be[12:16], be[16:20], be[20:]))
        return be

    def __bytes__(self):
        return self._le

    def __buffer__(self, flags):
        # Python 3.12+: memoryview(uuid) works, as MicroPython's UUID has the buffer protocol.
        return memoryview(self._le)

    def __eq__(self, other):
        if not isinstance(other, UUID):
            return NotImplemented
        return self._le == other._le

    def __hash__(self):
        return hash(self._le)

    def __repr__(self):
        text = self.to_dbus()
        if len(self._le) == 16:
            return "UUID('%s')" % text
        return "UUID(0x%s)" % text
