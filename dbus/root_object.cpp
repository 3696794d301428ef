#include "root_object.hpp"

#include "ble_object.hpp"

namespace ubt::dbus {

RootObject::RootObject(sdbus::IConnection& connection) : AdaptorInterfaces(connection, BleObject::kRootPath) {
    registerAdaptor();
}

RootObject::~RootObject() { unregisterAdaptor(); }

}  // namespace ubt::dbus
