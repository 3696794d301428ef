#!/usr/bin/python3
"""Checks dbus/org.ubluetooth.BLE1.xml against the ubluetooth API document:
a D-Bus method for every BLE method, a signal for every _IRQ_ event.

Usage: check_contract.py SPEC.rst BLE1.xml
Exit 77 (a visible skip in meson) when the API document is not there."""

import re
import sys
import xml.etree.ElementTree as ET

# Methods whose D-Bus form differs from the plain CamelCase name.
SPECIAL = {
    "config": {"ConfigGet", "ConfigSet"},
    "irq": {"RegisterHandler", "UnregisterHandler"},  # plus the signals
    "gap_connect": {"GapConnect", "GapConnectCancel"},  # gap_connect(None) cancels
}
# The newer MicroPython additions DESIGN.md makes part of the target.
NEWER_METHODS = {"gap_pair", "gap_passkey"}
NEWER_EVENTS = {"_IRQ_GET_SECRET": 29, "_IRQ_SET_SECRET": 30, "_IRQ_PASSKEY_ACTION": 31}


def camel(snake):
    return "".join(word.capitalize() for word in snake.lower().split("_") if word)


def main(spec_path, xml_path):
    try:
        spec = open(spec_path, encoding="utf-8").read()
    except FileNotFoundError:
        print(f"SKIP: the API document {spec_path} is not there")
        return 77
    methods = set(re.findall(r"\.\. method:: BLE\.(\w+)\(", spec)) | NEWER_METHODS
    events = {name: int(code) for name, code in re.findall(r"(_IRQ_\w+) = const\((\d+)\)", spec)}
    events.update(NEWER_EVENTS)
    if len(methods) < 20 or len(events) < 28:
        print(f"FAIL: the API document looks wrong: {len(methods)} methods, {len(events)} events")
        return 1

    interface = ET.parse(xml_path).getroot().find("interface[@name='org.ubluetooth.BLE1']")
    dbus_methods = {m.get("name") for m in interface.findall("method")}
    dbus_signals = {s.get("name") for s in interface.findall("signal")}

    missing = []
    for method in sorted(methods):
        for name in SPECIAL.get(method, {camel(method)}):
            if name not in dbus_methods:
                missing.append(f"method {name} for BLE.{method}")
    for event, code in sorted(events.items(), key=lambda e: e[1]):
        name = camel(event[len("_IRQ_"):])
        if name not in dbus_signals:
            missing.append(f"signal {name} for {event} ({code})")
    for m in missing:
        print(f"FAIL: missing {m}")
    print(f"contract: {len(methods)} methods and {len(events)} events checked, {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
