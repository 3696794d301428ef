"""gap_connect timeout and cancel against a controller of ours
(fake_controller.py on /dev/vhci) that, like a real one and unlike btvirt,
keeps trying to reach an absent peer until told to stop."""

import time
import unittest

from fake_controller import OP_LE_CREATE_CONN, OP_LE_CREATE_CONN_CANCEL, FakeController
from harness import Daemon, Radio, stop_cleanly

_IRQ_PERIPHERAL_CONNECT = 7
_IRQ_PERIPHERAL_DISCONNECT = 8
NO_HANDLE = 0xFFFF
ABSENT = bytes.fromhex("00aa0100dead")

daemon = None
controller = None
radio = None


def setUpModule():
    global daemon, controller, radio
    controller = FakeController(bytes.fromhex("00aa02000001"))
    daemon = Daemon("--adapter", f"hci{controller.index}")
    radio = Radio(controller.name)


def tearDownModule():
    radio.ble.irq(None)
    stop_cleanly(daemon)
    controller.close()


class ConnectTimeout(unittest.TestCase):
    def setUp(self):
        radio.drain()
        controller.commands.clear()

    def test_a_connect_times_out_after_scan_duration_ms_and_is_cancelled_in_the_controller(self):
        started = time.monotonic()
        radio.ble.gap_connect(0, ABSENT, 1500)
        self.assertEqual(radio.wait(_IRQ_PERIPHERAL_DISCONNECT), (NO_HANDLE, 0, ABSENT))
        waited = time.monotonic() - started
        self.assertGreaterEqual(waited, 1.4)
        self.assertLess(waited, 4)
        self.assertIn(OP_LE_CREATE_CONN, controller.commands)
        self.assertIn(OP_LE_CREATE_CONN_CANCEL, controller.commands)
        # The controller's own report of the cancelled attempt adds nothing.
        radio.quiet(1, {_IRQ_PERIPHERAL_CONNECT, _IRQ_PERIPHERAL_DISCONNECT})

    def test_gap_connect_none_cancels_and_one_connect_runs_at_a_time(self):
        radio.ble.gap_connect(0, ABSENT, 20000)
        with self.assertRaises(OSError):
            radio.ble.gap_connect(0, bytes.fromhex("00aa0100beef"))
        with self.assertRaises(OSError):  # scanning would disturb the connect
            radio.ble.gap_scan(1000)
        started = time.monotonic()
        radio.ble.gap_connect(None)
        self.assertEqual(radio.wait(_IRQ_PERIPHERAL_DISCONNECT), (NO_HANDLE, 0, ABSENT))
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual(controller.commands.count(OP_LE_CREATE_CONN), 1)
        self.assertIn(OP_LE_CREATE_CONN_CANCEL, controller.commands)
        with self.assertRaises(OSError):  # nothing left to cancel
            radio.ble.gap_connect(None)

    def test_a_connect_right_after_a_cancel_is_not_ended_by_the_first_ones_echo(self):
        # The controller answers a cancel with a failed Connection Complete;
        # a new attempt made before it is read must not take it as its own end.
        radio.ble.gap_connect(0, ABSENT, 20000)
        radio.ble.gap_connect(None)
        radio.ble.gap_connect(0, ABSENT, 20000)
        self.assertEqual(radio.wait(_IRQ_PERIPHERAL_DISCONNECT), (NO_HANDLE, 0, ABSENT))
        radio.quiet(1.5, {_IRQ_PERIPHERAL_CONNECT, _IRQ_PERIPHERAL_DISCONNECT})
        radio.ble.gap_connect(None)  # still pending: this cancel finds it
        self.assertEqual(radio.wait(_IRQ_PERIPHERAL_DISCONNECT), (NO_HANDLE, 0, ABSENT))
        self.assertEqual(controller.commands.count(OP_LE_CREATE_CONN), 2)

    def test_the_asked_connection_intervals_reach_the_controller(self):
        radio.ble.gap_connect(0, ABSENT, 20000, 7500, 100000)
        radio.ble.gap_connect(None)
        radio.wait(_IRQ_PERIPHERAL_DISCONNECT)
        params = controller.command_params[OP_LE_CREATE_CONN]
        self.assertEqual(params[13:17], bytes([6, 0, 80, 0]))  # 7.5 ms and 100 ms in 1.25 ms units
