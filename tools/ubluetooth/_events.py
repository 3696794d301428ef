"""IRQ events: D-Bus signal and Handler1 call arguments as handler tuples (pure functions)."""

import operator

from ._args import buffer_bytes
from ._uuid import UUID

# D-Bus member name -> MicroPython _IRQ_* code.
EVENT_CODES = {
    "CentralConnect": 1,
    "CentralDisconnect": 2,
    "GattsWrite": 3,
    "GattsReadRequest": 4,
    "ScanResult": 5,
    "ScanDone": 6,
    "PeripheralConnect": 7,
    "PeripheralDisconnect": 8,
    "GattcServiceResult": 9,
    "GattcServiceDone": 10,
    "GattcCharacteristicResult": 11,
    "GattcCharacteristicDone": 12,
    "GattcDescriptorResult": 13,
    "GattcDescriptorDone": 14,
    "GattcReadResult": 15,
    "GattcReadDone": 16,
    "GattcWriteDone": 17,
    "GattcNotify": 18,
    "GattcIndicate": 19,
    "GattsIndicateDone": 20,
    "MtuExchanged": 21,
    "L2capAccept": 22,
    "L2capConnect": 23,
    "L2capDisconnect": 24,
    "L2capRecv": 25,
    "L2capSendReady": 26,
    "ConnectionUpdate": 27,
    "EncryptionUpdate": 28,
    "GetSecret": 29,
    "SetSecret": 30,
    "PasskeyAction": 31,
}


def _irq_value(value):
    if isinstance(value, (bytes, bytearray)):
        return memoryview(value).toreadonly()
    if isinstance(value, str):  # the only strings in BLE1 signals are UUIDs
        return UUID.from_dbus(value)
    return value


def _get_secret_data(body):
    sec_type, index, key = body
    return (sec_type, index, memoryview(key).toreadonly() if key else None)


def _set_secret_data(body):
    sec_type, key, value = body
    value = memoryview(value).toreadonly() if value else None  # empty: delete
    return (sec_type, memoryview(key).toreadonly(), value)


def _status_reply(result):
    status = 0 if result is None else operator.index(result)
    if not 0 <= status <= 0xFFFFFFFF:
        raise ValueError("IRQ handler returned %d, not a status from 0 to 0xffffffff" % status)
    return "u", (status,)


def _secret_reply(result):
    if result is None:
        return "bay", (False, b"")
    return "bay", (True, buffer_bytes(result))


def _stored_reply(result):
    return "b", (bool(result),)


# Handler1 method -> (call body -> handler data, handler result -> reply (signature, body)).
HANDLER_CALLS = {
    "GattsReadRequest": (tuple, _status_reply),
    "L2capAccept": (tuple, _status_reply),
    "GetSecret": (_get_secret_data, _secret_reply),
    "SetSecret": (_set_secret_data, _stored_reply),
}

# Events from signals. Those of HANDLER_CALLS come as calls: their signals are ignored.
SIGNAL_EVENT_CODES = {name: code for name, code in EVENT_CODES.items()
                      if name not in HANDLER_CALLS}


def signal_event(member, body):
    """(event code, data tuple) of a BLE1 signal, or None for signals not delivered."""
    code = SIGNAL_EVENT_CODES.get(member)
    if code is None:
        return None
    return code, tuple(_irq_value(value) for value in body)


def answer_handler_call(member, body, handler):
    """(signature, body) replying to a Handler1 call with the handler's result."""
    handler_data, reply_of = HANDLER_CALLS[member]
    # With no handler, answer as MicroPython does for a handler returning None.
    result = handler(EVENT_CODES[member], handler_data(body)) if handler else None
    return reply_of(result)
