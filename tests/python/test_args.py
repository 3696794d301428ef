"""ubluetooth arguments as D-Bus values: options dicts, service definitions, config."""

import unittest

import ubluetooth as bluetooth
from ubluetooth import UUID
from ubluetooth import _args

HR_UUID = UUID(0x180D)
HR_CHAR = (UUID(0x2A37), bluetooth.FLAG_READ | bluetooth.FLAG_NOTIFY)
UART_UUID = UUID("6E400001-B5A3-F393-E0A9-E50E24DCCA9E")
UART_TX = (UUID("6E400003-B5A3-F393-E0A9-E50E24DCCA9E"),
           bluetooth.FLAG_READ | bluetooth.FLAG_NOTIFY)
UART_RX = (UUID("6E400002-B5A3-F393-E0A9-E50E24DCCA9E"), bluetooth.FLAG_WRITE,
           ((UUID(0x2901), bluetooth.FLAG_READ), (UUID(0x2902), 0x000A)))


class ServicesTest(unittest.TestCase):
    def test_spec_example(self):
        services = ((HR_UUID, (HR_CHAR,)), (UART_UUID, (UART_TX, UART_RX)))
        self.assertEqual(_args.services_to_dbus(services), [
            ("180d", [("2a37", 0x12, [])]),
            ("6e400001-b5a3-f393-e0a9-e50e24dcca9e", [
                ("6e400003-b5a3-f393-e0a9-e50e24dcca9e", 0x12, []),
                ("6e400002-b5a3-f393-e0a9-e50e24dcca9e", 0x08, [("2901", 0x02), ("2902", 0x0A)]),
            ]),
        ])

    def test_lists_work_like_tuples(self):
        self.assertEqual(_args.services_to_dbus([[HR_UUID, [list(HR_CHAR)]]]),
                         [("180d", [("2a37", 0x12, [])])])

    def test_empty_definitions(self):
        self.assertEqual(_args.services_to_dbus(()), [])
        self.assertEqual(_args.services_to_dbus(((HR_UUID, ()),)), [("180d", [])])

    def test_bad_tuples(self):
        for services in (((HR_UUID,),),
                         ((HR_UUID, (HR_CHAR,), ()),),
                         ((HR_UUID, ((UUID(1),),)),),
                         ((HR_UUID, ((UUID(1), 2, (), 4),)),),
                         ((HR_UUID, ((UUID(1), 2, ((UUID(3),),)),)),)):
            with self.subTest(services=services), self.assertRaisesRegex(ValueError, "tuple"):
                _args.services_to_dbus(services)

    def test_uuids_must_be_uuid_objects(self):
        cases = {"service": ((0x180D, (HR_CHAR,)),),
                 "characteristic": ((HR_UUID, ((0x2A37, 2),)),),
                 "descriptor": ((HR_UUID, ((UUID(1), 2, (("2902", 2),)),)),)}
        for what, services in cases.items():
            with self.subTest(what), self.assertRaisesRegex(ValueError, "invalid %s UUID" % what):
                _args.services_to_dbus(services)

    def test_handles_back_as_tuples(self):
        handles = _args.handles_from_dbus([[3], [5, 8, 9, 10]])
        self.assertEqual(handles, ((3,), (5, 8, 9, 10)))
        self.assertIsInstance(handles, tuple)
        self.assertIsInstance(handles[1], tuple)


class AdvertiseOptionsTest(unittest.TestCase):
    def test_all_given(self):
        options = _args.advertise_options(100000, b"\x02\x01\x06", bytearray(b"\x03"), False)
        self.assertEqual(options, {
            "interval_us": ("u", 100000),
            "adv_data": ("ay", b"\x02\x01\x06"),
            "resp_data": ("ay", b"\x03"),
            "connectable": ("b", False),
        })

    def test_none_means_absent(self):
        self.assertEqual(_args.advertise_options(None, None, None, True),
                         {"connectable": ("b", True)})

    def test_empty_data_is_sent_to_clear(self):
        self.assertEqual(_args.advertise_options(500000, b"", None, 1)["adv_data"], ("ay", b""))

    def test_buffer_kinds(self):
        for data in (b"ab", bytearray(b"ab"), memoryview(b"xaby")[1:3], "ab"):
            with self.subTest(data=data):
                options = _args.advertise_options(1, data, None, True)
                self.assertEqual(options["adv_data"], ("ay", b"ab"))
                self.assertIs(type(options["adv_data"][1]), bytes)

    def test_non_buffer_is_type_error(self):
        with self.assertRaises(TypeError):
            _args.advertise_options(1, 12, None, True)


class ScanAndConnectOptionsTest(unittest.TestCase):
    def test_scan(self):
        self.assertEqual(_args.scan_options(2000, 30000, 30000, True), {
            "duration_ms": ("u", 2000), "interval_us": ("u", 30000),
            "window_us": ("u", 30000), "active": ("b", True)})

    def test_scan_forever_is_zero(self):
        self.assertEqual(_args.scan_options(0, 1280000, 11250, 0)["duration_ms"], ("u", 0))

    def test_scan_stop(self):
        self.assertEqual(_args.scan_options(None, 1280000, 11250, False), {})

    def test_connect_defaults(self):
        self.assertEqual(_args.connect_options(2000, None, None),
                         {"scan_duration_ms": ("u", 2000)})

    def test_connect_intervals(self):
        self.assertEqual(_args.connect_options(500, 7500, 30000), {
            "scan_duration_ms": ("u", 500),
            "min_conn_interval_us": ("u", 7500),
            "max_conn_interval_us": ("u", 30000)})


class OtherOptionsTest(unittest.TestCase):
    def test_data_options(self):
        self.assertEqual(_args.data_options(None), {})
        self.assertEqual(_args.data_options(bytearray(b"\x01\x02")), {"data": ("ay", b"\x01\x02")})

    def test_uuid_options(self):
        self.assertEqual(_args.uuid_options(None), {})
        self.assertEqual(_args.uuid_options(UART_UUID),
                         {"uuid": ("s", "6e400001-b5a3-f393-e0a9-e50e24dcca9e")})
        with self.assertRaises(TypeError):
            _args.uuid_options(0x180D)


class ConfigTest(unittest.TestCase):
    def test_values_by_type(self):
        self.assertEqual(_args.config_values({"mtu": 256, "bond": True, "mitm": False,
                                              "gap_name": "pi"}), {
            "mtu": ("u", 256), "bond": ("b", True), "mitm": ("b", False), "gap_name": ("s", "pi")})

    def test_gap_name_bytes_sent_as_string(self):
        self.assertEqual(_args.config_values({"gap_name": b"caf\xc3\xa9"}),
                         {"gap_name": ("s", "caf\u00e9")})
        self.assertEqual(_args.config_values({"gap_name": bytearray(b"pi")}),
                         {"gap_name": ("s", "pi")})

    def test_gap_name_read_as_bytes(self):
        self.assertEqual(_args.config_value("gap_name", ("s", "caf\u00e9")), b"caf\xc3\xa9")

    def test_mac_read_as_tuple(self):
        mac = _args.config_value("mac", ("(yay)", (0, b"\x00\xaa\x01\x01\x00B")))
        self.assertEqual(mac, (0, b"\x00\xaa\x01\x01\x00B"))

    def test_other_values_as_received(self):
        self.assertEqual(_args.config_value("mtu", ("u", 256)), 256)
        self.assertIs(_args.config_value("bond", ("b", True)), True)


if __name__ == "__main__":
    unittest.main()
