"""The part of MicroPython's micropython module that BLE scripts use under CPython."""


def const(value):
    """MicroPython's compile-time constant marker; here it just returns the value."""
    return value
