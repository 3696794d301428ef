"""IRQ events: signal bodies as handler tuples, Handler1 calls answered from handler results."""

import unittest

from ubluetooth import UUID
from ubluetooth._events import EVENT_CODES, answer_handler_call, signal_event

ADDR = b"\x00\xaa\x01\x01\x00B"


class SignalEventTest(unittest.TestCase):
    def test_scan_result(self):
        code, data = signal_event("ScanResult", (1, ADDR, 0, -60, b"\x02\x01\x06"))
        self.assertEqual(code, 5)
        addr_type, addr, adv_type, rssi, adv_data = data
        self.assertEqual((addr_type, adv_type, rssi), (1, 0, -60))
        for view, expected in ((addr, ADDR), (adv_data, b"\x02\x01\x06")):
            self.assertIsInstance(view, memoryview)
            self.assertTrue(view.readonly)
            self.assertEqual(bytes(view), expected)

    def test_buffers_from_bytearray_are_read_only_too(self):
        _, (_, _, notify_data) = signal_event("GattcNotify", (64, 21, bytearray(b"\x05")))
        self.assertTrue(notify_data.readonly)
        self.assertEqual(bytes(notify_data), b"\x05")

    def test_uuid_fields_become_uuids(self):
        code, data = signal_event("GattcServiceResult", (64, 1, 5, "180d"))
        self.assertEqual((code, data), (9, (64, 1, 5, UUID(0x180D))))
        code, data = signal_event("GattcCharacteristicResult",
                                  (64, 12, 11, 0x1A, "6e400003-b5a3-f393-e0a9-e50e24dcca9e"))
        self.assertEqual(code, 11)
        self.assertEqual(data[4], UUID("6E400003-B5A3-F393-E0A9-E50E24DCCA9E"))
        self.assertIsInstance(data[4], UUID)

    def test_plain_values_pass_through(self):
        code, data = signal_event("EncryptionUpdate", (64, True, False, True, 16))
        self.assertEqual(code, 28)
        self.assertEqual(data, (64, True, False, True, 16))
        self.assertIs(data[2], False)

    def test_empty_signal(self):
        self.assertEqual(signal_event("ScanDone", ()), (6, ()))

    def test_events_answered_by_handler_calls_are_not_delivered_twice(self):
        for member in ("GattsReadRequest", "L2capAccept", "GetSecret", "SetSecret"):
            with self.subTest(member=member):
                self.assertIsNone(signal_event(member, (1, 2)))

    def test_unknown_signal(self):
        self.assertIsNone(signal_event("SomethingNew", (1,)))

    def test_codes_match_micropython(self):
        self.assertEqual(sorted(EVENT_CODES.values()), list(range(1, 32)))
        self.assertEqual(EVENT_CODES["CentralConnect"], 1)
        self.assertEqual(EVENT_CODES["GattcNotify"], 18)
        self.assertEqual(EVENT_CODES["EncryptionUpdate"], 28)
        self.assertEqual(EVENT_CODES["PasskeyAction"], 31)


class Recorder:
    """An IRQ handler that records its calls and returns a fixed result."""

    def __init__(self, result=None):
        self.result = result
        self.calls = []

    def __call__(self, event, data):
        self.calls.append((event, data))
        return self.result


class HandlerCallTest(unittest.TestCase):
    def test_read_request(self):
        handler = Recorder()
        self.assertEqual(answer_handler_call("GattsReadRequest", (64, 3), handler), ("u", (0,)))
        self.assertEqual(handler.calls, [(4, (64, 3))])
        self.assertEqual(answer_handler_call("GattsReadRequest", (64, 3), Recorder(0x02)),
                         ("u", (2,)))

    def test_l2cap_accept(self):
        handler = Recorder(1)
        self.assertEqual(answer_handler_call("L2capAccept", (64, 0x40, 0x80, 512, 256), handler),
                         ("u", (1,)))
        self.assertEqual(handler.calls, [(22, (64, 0x40, 0x80, 512, 256))])

    def test_bad_status_is_an_error(self):
        for result in (-1, 1 << 32, 1.0, "0"):
            with self.subTest(result=result), self.assertRaises((ValueError, TypeError)):
                answer_handler_call("GattsReadRequest", (64, 3), Recorder(result))

    def test_get_secret_found(self):
        handler = Recorder(bytearray(b"secret"))
        self.assertEqual(answer_handler_call("GetSecret", (1, 0, b"key"), handler),
                         ("bay", (True, b"secret")))
        (event, (sec_type, index, key)), = handler.calls
        self.assertEqual((event, sec_type, index, bytes(key)), (29, 1, 0, b"key"))
        self.assertTrue(key.readonly)

    def test_get_secret_by_index_has_no_key(self):
        handler = Recorder(None)
        self.assertEqual(answer_handler_call("GetSecret", (2, 3, b""), handler),
                         ("bay", (False, b"")))
        self.assertEqual(handler.calls, [(29, (2, 3, None))])

    def test_set_secret(self):
        handler = Recorder(True)
        self.assertEqual(answer_handler_call("SetSecret", (1, b"k", b"v"), handler), ("b", (True,)))
        (event, (sec_type, key, value)), = handler.calls
        self.assertEqual((event, sec_type, bytes(key), bytes(value)), (30, 1, b"k", b"v"))

    def test_set_secret_empty_value_is_delete(self):
        handler = Recorder(None)
        self.assertEqual(answer_handler_call("SetSecret", (1, b"k", b""), handler),
                         ("b", (False,)))
        self.assertIsNone(handler.calls[0][1][2])

    def test_no_handler_answers_like_a_handler_returning_none(self):
        self.assertEqual(answer_handler_call("GattsReadRequest", (64, 3), None), ("u", (0,)))
        self.assertEqual(answer_handler_call("L2capAccept", (1, 2, 3, 4, 5), None), ("u", (0,)))
        self.assertEqual(answer_handler_call("GetSecret", (1, 0, b"k"), None),
                         ("bay", (False, b"")))
        self.assertEqual(answer_handler_call("SetSecret", (1, b"k", b"v"), None), ("b", (False,)))

    def test_handler_exception_propagates(self):
        def failing(event, data):
            raise RuntimeError("boom")
        with self.assertRaisesRegex(RuntimeError, "boom"):
            answer_handler_call("GattsReadRequest", (64, 3), failing)


if __name__ == "__main__":
    unittest.main()
