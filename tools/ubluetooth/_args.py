"""ubluetooth method arguments as D-Bus values, and D-Bus results back (pure functions)."""

from ._uuid import UUID


def buffer_bytes(data):
    """The bytes of a buffer-protocol object; a str counts as its UTF-8 bytes."""
    if isinstance(data, str):
        return data.encode()
    return bytes(memoryview(data))


def _present(signature, **values):
    """a{sv} entries for the values that are not None."""
    return {key: (signature, value) for key, value in values.items() if value is not None}


def _optional_bytes(data):
    return None if data is None else buffer_bytes(data)


def config_values(settings):
    """config(**settings) as the a{sv} of ConfigSet."""
    values = {}
    for name, value in settings.items():
        if isinstance(value, bool):
            values[name] = ("b", value)
        elif isinstance(value, int):
            values[name] = ("u", value)
        elif isinstance(value, str):
            values[name] = ("s", value)
        else:  # gap_name may be any buffer
            values[name] = ("s", buffer_bytes(value).decode())
    return values


def config_value(name, variant):
    """The config('name') result of a ConfigGet variant."""
    signature, value = variant
    if name == "gap_name" and signature == "s":
        return value.encode()  # MicroPython returns the name as bytes
    return value


def advertise_options(interval_us, adv_data, resp_data, connectable):
    return {
        **_present("u", interval_us=interval_us),
        **_present("ay", adv_data=_optional_bytes(adv_data), resp_data=_optional_bytes(resp_data)),
        "connectable": ("b", bool(connectable)),
    }


def scan_options(duration_ms, interval_us, window_us, active):
    if duration_ms is None:
        return {}  # stop scanning
    return {
        "duration_ms": ("u", duration_ms),
        "interval_us": ("u", interval_us),
        "window_us": ("u", window_us),
        "active": ("b", bool(active)),
    }


def connect_options(scan_duration_ms, min_conn_interval_us, max_conn_interval_us):
    return _present("u", scan_duration_ms=scan_duration_ms,
                    min_conn_interval_us=min_conn_interval_us,
                    max_conn_interval_us=max_conn_interval_us)


def data_options(data):
    """Options of gatts_notify / gatts_indicate: no data sends the local value."""
    return _present("ay", data=_optional_bytes(data))


def uuid_options(uuid):
    """Options of the gattc_discover_* methods that filter by UUID."""
    if uuid is None:
        return {}
    if not isinstance(uuid, UUID):
        raise TypeError("UUID")
    return {"uuid": ("s", uuid.to_dbus())}


def services_to_dbus(services):
    """gatts_register_services' definition as a(sa(sua(su)))."""
    result = []
    for service in services:
        uuid, characteristics = _fields(service, (2,), "service")
        result.append((_uuid_string(uuid, "service"),
                       [_characteristic_to_dbus(c) for c in characteristics]))
    return result


def _characteristic_to_dbus(characteristic):
    fields = _fields(characteristic, (2, 3), "characteristic")
    descriptors = fields[2] if len(fields) == 3 else ()
    return (_uuid_string(fields[0], "characteristic"), fields[1],
            [_descriptor_to_dbus(d) for d in descriptors])


def _descriptor_to_dbus(descriptor):
    uuid, flags = _fields(descriptor, (2,), "descriptor")
    return (_uuid_string(uuid, "descriptor"), flags)


def _fields(definition, lengths, what):
    fields = tuple(definition)
    if len(fields) not in lengths:
        raise ValueError("invalid %s tuple" % what)
    return fields


def _uuid_string(uuid, what):
    if not isinstance(uuid, UUID):
        raise ValueError("invalid %s UUID" % what)
    return uuid.to_dbus()


def handles_from_dbus(handles):
    """GattsRegisterServices' aaq as MicroPython's tuple of tuples."""
    return tuple(tuple(service) for service in handles)
