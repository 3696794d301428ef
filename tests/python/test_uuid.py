"""UUID: MicroPython's constructor forms, errors, equality, repr, bytes, D-Bus form."""

import sys
import unittest

from ubluetooth import UUID

NUS = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_LE = bytes.fromhex(NUS.replace("-", ""))[::-1]


class ConstructorTest(unittest.TestCase):
    def test_16_bit_int(self):
        self.assertEqual(bytes(UUID(0x180D)), b"\x0d\x18")

    def test_16_bit_bounds(self):
        self.assertEqual(bytes(UUID(0)), b"\x00\x00")
        self.assertEqual(bytes(UUID(0xFFFF)), b"\xff\xff")

    def test_32_bit_int(self):
        self.assertEqual(bytes(UUID(0x12345678)), b"\x78\x56\x34\x12")
        self.assertEqual(bytes(UUID(0x10000)), b"\x00\x00\x01\x00")
        self.assertEqual(bytes(UUID(0xFFFFFFFF)), b"\xff\xff\xff\xff")

    def test_128_bit_string_any_case_with_or_without_dashes(self):
        for text in (NUS, NUS.upper(), NUS.replace("-", ""), NUS.upper().replace("-", "")):
            with self.subTest(text=text):
                self.assertEqual(bytes(UUID(text)), NUS_LE)

    def test_buffers_are_little_endian(self):
        self.assertEqual(UUID(b"\x0d\x18"), UUID(0x180D))
        self.assertEqual(UUID(bytearray(b"\x78\x56\x34\x12")), UUID(0x12345678))
        self.assertEqual(UUID(memoryview(NUS_LE)), UUID(NUS))

    def test_copy_of_uuid(self):
        original = UUID(NUS)
        self.assertEqual(UUID(original), original)
        self.assertEqual(repr(UUID(original)), repr(original))


class InvalidTest(unittest.TestCase):
    def test_out_of_range_ints(self):
        for value in (-1, 0x100000000):
            with self.subTest(value=value), self.assertRaises(ValueError):
                UUID(value)

    def test_bad_strings(self):
        for text in ("", "180d", NUS[:-1], NUS + "0", NUS.replace("e", "g"),
                     " " + NUS.replace("-", "")[1:], "+" + NUS.replace("-", "")[1:]):
            with self.subTest(text=text), self.assertRaises(ValueError):
                UUID(text)

    def test_bad_buffer_lengths(self):
        for length in (0, 1, 3, 6, 15, 17):
            with self.subTest(length=length), self.assertRaises(ValueError):
                UUID(bytes(length))

    def test_wrong_types(self):
        for value in (None, 1.5, [0x0D, 0x18], object()):
            with self.subTest(value=value), self.assertRaises(TypeError):
                UUID(value)


class BehaviourTest(unittest.TestCase):
    def test_equality_and_hash(self):
        self.assertEqual(UUID(0x180D), UUID(0x180D))
        self.assertNotEqual(UUID(0x180D), UUID(0x180F))
        self.assertEqual(hash(UUID(NUS)), hash(UUID(NUS.upper())))
        self.assertEqual(len({UUID(0x180D), UUID(b"\x0d\x18"), UUID(0x2A37)}), 2)

    def test_sizes_are_distinct_as_in_micropython(self):
        self.assertNotEqual(UUID(0x180D), UUID(0x0000180D.to_bytes(4, "little")))
        self.assertNotEqual(UUID(0x180D), UUID("0000180d-0000-1000-8000-00805f9b34fb"))

    def test_not_equal_to_other_types(self):
        self.assertNotEqual(UUID(0x180D), 0x180D)
        self.assertNotEqual(UUID(0x180D), b"\x0d\x18")

    def test_repr(self):
        self.assertEqual(repr(UUID(0x180D)), "UUID(0x180d)")
        self.assertEqual(repr(UUID(0x0001)), "UUID(0x0001)")
        self.assertEqual(repr(UUID(0x12345678)), "UUID(0x12345678)")
        self.assertEqual(repr(UUID(0x10000)), "UUID(0x00010000)")
        self.assertEqual(repr(UUID(NUS.upper())), "UUID('%s')" % NUS)

    def test_bytes(self):
        self.assertIsInstance(bytes(UUID(NUS)), bytes)
        self.assertEqual(bytes(UUID(NUS)), NUS_LE)

    @unittest.skipUnless(sys.version_info >= (3, 12), "Python classes get buffers from 3.12")
    def test_memoryview(self):
        self.assertEqual(memoryview(UUID(0x180D)).tobytes(), b"\x0d\x18")


class DBusFormTest(unittest.TestCase):
    def test_to_dbus(self):
        self.assertEqual(UUID(0x180D).to_dbus(), "180d")
        self.assertEqual(UUID(0x1234ABCD).to_dbus(), "1234abcd")
        self.assertEqual(UUID(0x180D.to_bytes(4, "little")).to_dbus(), "0000180d")
        self.assertEqual(UUID(NUS.upper()).to_dbus(), NUS)

    def test_from_dbus(self):
        self.assertEqual(UUID.from_dbus("180d"), UUID(0x180D))
        self.assertEqual(bytes(UUID.from_dbus("0000180d")), b"\x0d\x18\x00\x00")
        self.assertEqual(UUID.from_dbus(NUS), UUID(NUS))

    def test_round_trip(self):
        for uuid in (UUID(0), UUID(0xFFFF), UUID(0x10000), UUID(0xFFFFFFFF), UUID(NUS),
                     UUID(bytes(range(16)))):
            with self.subTest(uuid=uuid):
                self.assertEqual(UUID.from_dbus(uuid.to_dbus()), uuid)

    def test_from_dbus_rejects_other_forms(self):
        for text in ("180D", "18d", "0180d", NUS.upper(), NUS.replace("-", ""), 0x180D):
            with self.subTest(text=text), self.assertRaises(ValueError):
                UUID.from_dbus(text)


if __name__ == "__main__":
    unittest.main()
