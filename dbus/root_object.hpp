#pragma once
// /org/ubluetooth: the org.freedesktop.DBus.ObjectManager that lists the
// adapter objects below it. Event-loop thread only.

#include <sdbus-c++/sdbus-c++.h>

namespace ubt::dbus {

class RootObject final : public sdbus::AdaptorInterfaces<sdbus::ObjectManager_adaptor> {
public:
    explicit RootObject(sdbus::IConnection& connection);
    ~RootObject();
};

}  // namespace ubt::dbus
