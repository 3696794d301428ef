#pragma once
// Constants of the Linux Bluetooth management (mgmt) protocol, from BlueZ's
// published mgmt API document. Every frame is a 6-byte header (code, index,
// parameter length, all little-endian) followed by the parameters.

#include <cstddef>
#include <cstdint>

namespace ubt::mgmt {

constexpr uint16_t kIndexNone = 0xffff;
constexpr size_t kNameSize = 249;       // complete name field, NUL-terminated
constexpr size_t kShortNameSize = 11;   // short name field, NUL-terminated
constexpr size_t kIrkSize = 16;

namespace op {
constexpr uint16_t ReadIndexList = 0x0003;
constexpr uint16_t ReadInfo = 0x0004;
constexpr uint16_t SetPowered = 0x0005;
constexpr uint16_t SetBondable = 0x0009;
constexpr uint16_t SetSsp = 0x000b;
constexpr uint16_t SetLowEnergy = 0x000d;
constexpr uint16_t SetLocalName = 0x000f;
constexpr uint16_t LoadLinkKeys = 0x0012;
constexpr uint16_t LoadLongTermKeys = 0x0013;
constexpr uint16_t SetIoCapability = 0x0018;
constexpr uint16_t PairDevice = 0x0019;
constexpr uint16_t CancelPairDevice = 0x001a;
constexpr uint16_t UnpairDevice = 0x001b;
constexpr uint16_t UserConfirmReply = 0x001c;
constexpr uint16_t UserConfirmNegReply = 0x001d;
constexpr uint16_t UserPasskeyReply = 0x001e;
constexpr uint16_t UserPasskeyNegReply = 0x001f;
constexpr uint16_t SetBrEdr = 0x002a;
constexpr uint16_t SetStaticAddress = 0x002b;
constexpr uint16_t SetSecureConnections = 0x002d;
constexpr uint16_t SetPrivacy = 0x002f;
constexpr uint16_t LoadIdentityResolvingKeys = 0x0030;
}  // namespace op

namespace ev {
constexpr uint16_t CommandComplete = 0x0001;
constexpr uint16_t CommandStatus = 0x0002;
constexpr uint16_t ControllerError = 0x0003;
constexpr uint16_t IndexAdded = 0x0004;
constexpr uint16_t IndexRemoved = 0x0005;
constexpr uint16_t NewSettings = 0x0006;
constexpr uint16_t LocalNameChanged = 0x0008;
constexpr uint16_t NewLongTermKey = 0x000a;
constexpr uint16_t DeviceConnected = 0x000b;
constexpr uint16_t UserConfirmRequest = 0x000f;
constexpr uint16_t UserPasskeyRequest = 0x0010;
constexpr uint16_t AuthenticationFailed = 0x0011;
constexpr uint16_t DeviceUnpaired = 0x0016;
constexpr uint16_t PasskeyNotify = 0x0017;
constexpr uint16_t NewIdentityResolvingKey = 0x0018;
}  // namespace ev

// Bits of the Supported_Settings and Current_Settings fields.
namespace setting {
constexpr uint32_t Powered = 1u << 0;
constexpr uint32_t Bondable = 1u << 4;
constexpr uint32_t Ssp = 1u << 6;
constexpr uint32_t BrEdr = 1u << 7;
constexpr uint32_t LowEnergy = 1u << 9;
constexpr uint32_t SecureConnections = 1u << 11;
constexpr uint32_t Privacy = 1u << 13;
}  // namespace setting

namespace status {
constexpr uint8_t Success = 0x00;
constexpr uint8_t NotConnected = 0x02;
constexpr uint8_t Failed = 0x03;
constexpr uint8_t AuthenticationFailed = 0x05;
constexpr uint8_t NotPaired = 0x06;
constexpr uint8_t Busy = 0x0a;
constexpr uint8_t Rejected = 0x0b;
constexpr uint8_t InvalidParameters = 0x0d;
constexpr uint8_t NotPowered = 0x0f;
constexpr uint8_t Cancelled = 0x10;
constexpr uint8_t Rfkilled = 0x12;
constexpr uint8_t AlreadyPaired = 0x13;
}  // namespace status

// IO_Capability of Set IO Capability and Pair Device (the SMP numbering).
namespace io_capability {
constexpr uint8_t DisplayOnly = 0;
constexpr uint8_t DisplayYesNo = 1;
constexpr uint8_t KeyboardOnly = 2;
constexpr uint8_t NoInputNoOutput = 3;
constexpr uint8_t KeyboardDisplay = 4;
}  // namespace io_capability

// Secure_Connections of Set Secure Connections.
namespace secure_connections {
constexpr uint8_t Off = 0;
constexpr uint8_t On = 1;
constexpr uint8_t Only = 2;
}  // namespace secure_connections

// Passkeys are six decimal digits.
constexpr uint32_t kMaxPasskey = 999999;

// "Busy", "Not Supported", ... as the mgmt API document names them.
const char* status_name(uint8_t status);
const char* opcode_name(uint16_t opcode);

}  // namespace ubt::mgmt
