#pragma once
// The ubluetooth IRQ events an adapter raises, with their data tuples in
// the documented order.

#include <cstdint>
#include <variant>

#include "att/uuid.hpp"
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

// The events of one attribute on one connection.
struct AttrEvent {
    uint16_t conn_handle;
    uint16_t attr_handle;
};
struct GattsWrite : AttrEvent {};        // _IRQ_GATTS_WRITE (3)
struct GattsReadRequest : AttrEvent {};  // _IRQ_GATTS_READ_REQUEST (4)

// The *_DONE events' data, statuses numbered as gatt::status.
struct ConnStatus {
    uint16_t conn_handle;
    uint16_t status;
};
struct AttrStatus {
    uint16_t conn_handle;
    uint16_t value_handle;
    uint16_t status;
};
struct AttrData {
    uint16_t conn_handle;
    uint16_t value_handle;
    Bytes data;
};

struct GattcServiceResult {  // _IRQ_GATTC_SERVICE_RESULT (9)
    uint16_t conn_handle;
    uint16_t start_handle;
    uint16_t end_handle;
    att::Uuid uuid;
};
struct GattcServiceDone : ConnStatus {};  // (10)
struct GattcCharacteristicResult {        // _IRQ_GATTC_CHARACTERISTIC_RESULT (11)
    uint16_t conn_handle;
    uint16_t end_handle;
    uint16_t value_handle;
    uint8_t properties;
    att::Uuid uuid;
};
struct GattcCharacteristicDone : ConnStatus {};  // (12)
struct GattcDescriptorResult {                   // _IRQ_GATTC_DESCRIPTOR_RESULT (13)
    uint16_t conn_handle;
    uint16_t dsc_handle;
    att::Uuid uuid;
};
struct GattcDescriptorDone : ConnStatus {};  // (14)
struct GattcReadResult : AttrData {};        // (15)
struct GattcReadDone : AttrStatus {};        // (16)
struct GattcWriteDone : AttrStatus {};       // (17)
struct GattcNotify : AttrData {};            // (18)
struct GattcIndicate : AttrData {};          // (19)
struct GattsIndicateDone : AttrStatus {};    // (20)
struct MtuExchanged {                        // _IRQ_MTU_EXCHANGED (21)
    uint16_t conn_handle;
    uint16_t mtu;
};

struct L2capChannelEvent {
    uint16_t conn_handle;
    uint16_t cid;
    uint16_t psm;
    uint16_t our_mtu;
    uint16_t peer_mtu;
};
struct L2capAccept : L2capChannelEvent {};   // _IRQ_L2CAP_ACCEPT (22)
struct L2capConnect : L2capChannelEvent {};  // _IRQ_L2CAP_CONNECT (23)
struct L2capDisconnect {                     // _IRQ_L2CAP_DISCONNECT (24)
    uint16_t conn_handle;
    uint16_t cid;
    uint16_t psm;
    uint32_t status;  // 0, or the errno of a channel that failed to open
};
struct L2capRecv {  // _IRQ_L2CAP_RECV (25)
    uint16_t conn_handle;
    uint16_t cid;
};
struct L2capSendReady {  // _IRQ_L2CAP_SEND_READY (26)
    uint16_t conn_handle;
    uint16_t cid;
    uint32_t status;
};

struct EncryptionUpdate {  // _IRQ_ENCRYPTION_UPDATE (28)
    uint16_t conn_handle;
    bool encrypted;
    bool authenticated;
    bool bonded;
    uint8_t key_size;
    bool operator==(const EncryptionUpdate&) const = default;
};

// gap_passkey()'s actions.
namespace passkey_action {
constexpr uint32_t Input = 2;              // the user types the passkey the peer shows
constexpr uint32_t Display = 3;            // show the passkey; the peer's user types it
constexpr uint32_t NumericComparison = 4;  // show the value; the user confirms both sides match
}  // namespace passkey_action

struct PasskeyAction {  // _IRQ_PASSKEY_ACTION (31)
    uint16_t conn_handle;
    uint32_t action;   // passkey_action::*
    uint32_t passkey;  // 0 for Input
};

using IrqEvent = std::variant<ScanResult, ScanDone, CentralConnect, CentralDisconnect, PeripheralConnect,
                              PeripheralDisconnect, ConnectionUpdate, GattsWrite, GattsReadRequest,
                              GattcServiceResult, GattcServiceDone, GattcCharacteristicResult,
                              GattcCharacteristicDone, GattcDescriptorResult, GattcDescriptorDone, GattcReadResult,
                              GattcReadDone, GattcWriteDone, GattcNotify, GattcIndicate, GattsIndicateDone,
                              MtuExchanged, L2capAccept, L2capConnect, L2capDisconnect, L2capRecv,
                              L2capSendReady, EncryptionUpdate, PasskeyAction>;

}  // namespace ubt::ble
