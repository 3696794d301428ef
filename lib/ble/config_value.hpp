#pragma once
// A value of BLE.config(): the D-Bus adaptor converts variants to and from it.

#include <cstdint>
#include <string>
#include <variant>

#include "core/address.hpp"

namespace ubt::ble {

// config('mac'): (addr_type, addr).
struct MacValue {
    uint8_t addr_type;  // 0 public, 1 random
    Address address;
};

using ConfigValue = std::variant<bool, int64_t, std::string, MacValue>;

}  // namespace ubt::ble
