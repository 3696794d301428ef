#pragma once
// The ubluetooth IRQ events an adapter raises, with their data tuples in
// the documented order.

#include <cstdint>
#include <variant>

#include "core/address.hpp"
#include "core/bytes.hpp"

namespace ubt::ble {

struct ScanResult {  // _IRQ_SCAN_RESULT (5)
    uint8_t addr_type;
    Address addr;
    uint8_t adv_type;
    int8_t rssi;
    Bytes adv_data;
};

struct ScanDone {};  // _IRQ_SCAN_DONE (6)

using IrqEvent = std::variant<ScanResult, ScanDone>;

}  // namespace ubt::ble
