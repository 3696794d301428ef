#pragma once
// Constants of the HCI commands and events the daemon sends and reads on a
// raw HCI socket (Bluetooth Core Specification, Vol 4 Part E).

#include <cstdint>

namespace ubt::hci {

constexpr uint8_t kCommandPacket = 0x01;
constexpr uint8_t kEventPacket = 0x04;

constexpr uint16_t opcode(uint16_t ogf, uint16_t ocf) { return static_cast<uint16_t>((ogf << 10) | ocf); }

namespace op {
constexpr uint16_t Disconnect = opcode(0x01, 0x0006);
constexpr uint16_t LeReadLocalFeatures = opcode(0x08, 0x0003);
constexpr uint16_t LeSetRandomAddress = opcode(0x08, 0x0005);
constexpr uint16_t LeSetAdvParameters = opcode(0x08, 0x0006);
constexpr uint16_t LeSetAdvData = opcode(0x08, 0x0008);
constexpr uint16_t LeSetScanRspData = opcode(0x08, 0x0009);
constexpr uint16_t LeSetAdvEnable = opcode(0x08, 0x000a);
constexpr uint16_t LeSetAdvSetRandomAddress = opcode(0x08, 0x0035);
constexpr uint16_t LeSetExtAdvParameters = opcode(0x08, 0x0036);
constexpr uint16_t LeSetExtAdvData = opcode(0x08, 0x0037);
constexpr uint16_t LeSetExtScanRspData = opcode(0x08, 0x0038);
constexpr uint16_t LeSetExtAdvEnable = opcode(0x08, 0x0039);
constexpr uint16_t LeSetScanParameters = opcode(0x08, 0x000b);
constexpr uint16_t LeCreateConnection = opcode(0x08, 0x000d);
constexpr uint16_t LeCreateConnectionCancel = opcode(0x08, 0x000e);
constexpr uint16_t LeExtCreateConnection = opcode(0x08, 0x0043);
constexpr uint16_t LeSetScanEnable = opcode(0x08, 0x000c);
constexpr uint16_t LeSetExtScanParameters = opcode(0x08, 0x0041);
constexpr uint16_t LeSetExtScanEnable = opcode(0x08, 0x0042);
}  // namespace op

namespace ev {
constexpr uint8_t DisconnectionComplete = 0x05;
constexpr uint8_t EncryptionChange = 0x08;
constexpr uint8_t CommandComplete = 0x0e;
constexpr uint8_t CommandStatus = 0x0f;
constexpr uint8_t EncryptionKeyRefreshComplete = 0x30;
constexpr uint8_t LeMeta = 0x3e;
// Core 5.3 and later, only when the host unmasks it (Set Event Mask Page 2,
// bit 25), which Linux 6.1 does not: decoded in case a kernel does. Above
// 63, so a raw socket's event filter knows it as bit 0x59 & 63 = 25.
constexpr uint8_t EncryptionChangeV2 = 0x59;
}  // namespace ev

namespace le_ev {
constexpr uint8_t ConnectionComplete = 0x01;
constexpr uint8_t AdvertisingReport = 0x02;
constexpr uint8_t ConnectionUpdateComplete = 0x03;
constexpr uint8_t EnhancedConnectionComplete = 0x0a;
constexpr uint8_t ExtAdvertisingReport = 0x0d;
constexpr uint8_t AdvSetTerminated = 0x12;
}  // namespace le_ev

// Connection handles are 12 bits; the top bits of the field are reserved.
constexpr uint16_t kHandleMask = 0x0fff;

// Role of a connection complete event.
constexpr uint8_t kRoleCentral = 0x00;
constexpr uint8_t kRolePeripheral = 0x01;

// Error code sent with Disconnect when the user ends a connection.
constexpr uint8_t kRemoteUserTerminated = 0x13;

// Legacy advertising PDU types of LE Set Advertising Parameters.
namespace adv_pdu {
constexpr uint8_t AdvInd = 0x00;
constexpr uint8_t AdvScanInd = 0x02;
constexpr uint8_t AdvNonconnInd = 0x03;
}  // namespace adv_pdu

// Advertising_Event_Properties of LE Set Extended Advertising Parameters.
namespace adv_props {
constexpr uint16_t Connectable = 1u << 0;
constexpr uint16_t Scannable = 1u << 1;
constexpr uint16_t Legacy = 1u << 4;
}  // namespace adv_props

// Bit 12 of the LE features: the controller has the extended advertising
// and scanning commands.
constexpr uint64_t kLeFeatureExtendedAdvertising = 1ull << 12;

// Legacy advertising report event types.
namespace legacy_type {
constexpr uint8_t AdvInd = 0x00;
constexpr uint8_t AdvDirectInd = 0x01;
constexpr uint8_t AdvScanInd = 0x02;
constexpr uint8_t AdvNonconnInd = 0x03;
constexpr uint8_t ScanRsp = 0x04;
}  // namespace legacy_type

// Bits of the extended advertising report's Event_Type.
namespace ext_type {
constexpr uint16_t Connectable = 1u << 0;
constexpr uint16_t Scannable = 1u << 1;
constexpr uint16_t Directed = 1u << 2;
constexpr uint16_t ScanResponse = 1u << 3;
constexpr uint16_t Legacy = 1u << 4;
constexpr uint16_t DataStatusMask = 3u << 5;
constexpr uint16_t DataIncomplete = 1u << 5;  // more fragments follow
}  // namespace ext_type

}  // namespace ubt::hci
