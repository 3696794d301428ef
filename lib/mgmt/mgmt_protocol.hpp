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
constexpr uint16_t SetLowEnergy = 0x000d;
constexpr uint16_t SetLocalName = 0x000f;
constexpr uint16_t SetBrEdr = 0x002a;
constexpr uint16_t SetStaticAddress = 0x002b;
constexpr uint16_t SetPrivacy = 0x002f;
}  // namespace op

namespace ev {
constexpr uint16_t CommandComplete = 0x0001;
constexpr uint16_t CommandStatus = 0x0002;
constexpr uint16_t ControllerError = 0x0003;
constexpr uint16_t IndexAdded = 0x0004;
constexpr uint16_t IndexRemoved = 0x0005;
constexpr uint16_t NewSettings = 0x0006;
constexpr uint16_t LocalNameChanged = 0x0008;
}  // namespace ev

// Bits of the Supported_Settings and Current_Settings fields.
namespace setting {
constexpr uint32_t Powered = 1u << 0;
constexpr uint32_t BrEdr = 1u << 7;
constexpr uint32_t LowEnergy = 1u << 9;
constexpr uint32_t Privacy = 1u << 13;
}  // namespace setting

namespace status {
constexpr uint8_t Success = 0x00;
constexpr uint8_t Rfkilled = 0x12;
}  // namespace status

// "Busy", "Not Supported", ... as the mgmt API document names them.
const char* status_name(uint8_t status);
const char* opcode_name(uint16_t opcode);

}  // namespace ubt::mgmt
