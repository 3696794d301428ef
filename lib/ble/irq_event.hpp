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

// The data of the four connect and disconnect events.
struct PeerEvent {
    uint16_t conn_handle;
    uint8_t addr_type;
    Address addr;
};
struct CentralConnect : PeerEvent {};        // _IRQ_CENTRAL_CONNECT (1)
struct CentralDisconnect : PeerEvent {};     // _IRQ_CENTRAL_DISCONNECT (2)
struct PeripheralConnect : PeerEvent {};     // _IRQ_PERIPHERAL_CONNECT (7)
struct PeripheralDisconnect : PeerEvent {};  // _IRQ_PERIPHERAL_DISCONNECT (8)

struct ConnectionUpdate {  // _IRQ_CONNECTION_UPDATE (27)
    uint16_t conn_handle;
    uint16_t conn_interval;        // units of 1.25 ms
    uint16_t conn_latency;         // connection events
    uint16_t supervision_timeout;  // units of 10 ms
    uint8_t status;
};

using IrqEvent = std::variant<ScanResult, ScanDone, CentralConnect, CentralDisconnect, PeripheralConnect,
                              PeripheralDisconnect, ConnectionUpdate>;

}  // namespace ubt::ble
