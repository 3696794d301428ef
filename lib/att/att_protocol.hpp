#pragma once
// Constants of the Attribute Protocol (Core spec Vol 3 Part F, 3.4): PDU
// opcodes and error codes.

#include <cstddef>
#include <cstdint>

namespace ubt::att {

constexpr uint16_t kDefaultMtu = 23;  // the LE ATT_MTU before an exchange
constexpr size_t kMaxValueLength = 512;

namespace op {
constexpr uint8_t ErrorRsp = 0x01;
constexpr uint8_t ExchangeMtuReq = 0x02;
constexpr uint8_t ExchangeMtuRsp = 0x03;
constexpr uint8_t FindInformationReq = 0x04;
constexpr uint8_t FindInformationRsp = 0x05;
constexpr uint8_t FindByTypeValueReq = 0x06;
constexpr uint8_t FindByTypeValueRsp = 0x07;
constexpr uint8_t ReadByTypeReq = 0x08;
constexpr uint8_t ReadByTypeRsp = 0x09;
constexpr uint8_t ReadReq = 0x0a;
constexpr uint8_t ReadRsp = 0x0b;
constexpr uint8_t ReadBlobReq = 0x0c;
constexpr uint8_t ReadBlobRsp = 0x0d;
constexpr uint8_t ReadMultipleReq = 0x0e;
constexpr uint8_t ReadMultipleRsp = 0x0f;
constexpr uint8_t ReadByGroupTypeReq = 0x10;
constexpr uint8_t ReadByGroupTypeRsp = 0x11;
constexpr uint8_t WriteReq = 0x12;
constexpr uint8_t WriteRsp = 0x13;
constexpr uint8_t PrepareWriteReq = 0x16;
constexpr uint8_t PrepareWriteRsp = 0x17;
constexpr uint8_t ExecuteWriteReq = 0x18;
constexpr uint8_t ExecuteWriteRsp = 0x19;
constexpr uint8_t HandleValueNtf = 0x1b;
constexpr uint8_t HandleValueInd = 0x1d;
constexpr uint8_t HandleValueCfm = 0x1e;
constexpr uint8_t ReadMultipleVariableReq = 0x20;
constexpr uint8_t ReadMultipleVariableRsp = 0x21;
constexpr uint8_t WriteCmd = 0x52;
constexpr uint8_t SignedWriteCmd = 0xd2;
constexpr uint8_t CommandFlag = 0x40;  // bit 6: a command, which gets no response
}  // namespace op

namespace error {
constexpr uint8_t InvalidHandle = 0x01;
constexpr uint8_t ReadNotPermitted = 0x02;
constexpr uint8_t WriteNotPermitted = 0x03;
constexpr uint8_t InvalidPdu = 0x04;
constexpr uint8_t InsufficientAuthentication = 0x05;
constexpr uint8_t RequestNotSupported = 0x06;
constexpr uint8_t InvalidOffset = 0x07;
constexpr uint8_t InsufficientAuthorization = 0x08;
constexpr uint8_t PrepareQueueFull = 0x09;
constexpr uint8_t AttributeNotFound = 0x0a;
constexpr uint8_t AttributeNotLong = 0x0b;
constexpr uint8_t InvalidAttributeValueLength = 0x0d;
constexpr uint8_t UnlikelyError = 0x0e;
constexpr uint8_t InsufficientEncryption = 0x0f;
constexpr uint8_t UnsupportedGroupType = 0x10;
}  // namespace error

}  // namespace ubt::att
