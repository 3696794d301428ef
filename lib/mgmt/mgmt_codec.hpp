#pragma once
// Encoding of mgmt commands and decoding of mgmt events and command replies.
// Pure functions over bytes: no sockets. A decoder returns nullopt for any
// frame or parameter block that is truncated or longer than its definition.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "core/bytes.hpp"
#include "mgmt_protocol.hpp"

namespace ubt::mgmt {

// One frame: a command we send or an event the kernel sends.
struct Frame {
    uint16_t code = 0;
    uint16_t index = kIndexNone;
    Bytes params;
};

Bytes encode_frame(const Frame& frame);
// The header's length must match the bytes that follow it exactly.
std::optional<Frame> decode_frame(ByteView data);

// Command frames.
Frame read_index_list();
Frame read_info(uint16_t index);
Frame set_powered(uint16_t index, bool on);
Frame set_low_energy(uint16_t index, bool on);
// name: at most 248 bytes, short_name at most 10; longer throws std::length_error.
Frame set_local_name(uint16_t index, const std::string& name, const std::string& short_name);
Frame set_bredr(uint16_t index, bool on);
// An all-zero address turns the static address off.
Frame set_static_address(uint16_t index, const Address& address);
Frame set_privacy(uint16_t index, uint8_t mode, const std::array<uint8_t, kIrkSize>& irk);

// Event parameter blocks.
struct CommandComplete {
    uint16_t opcode;
    uint8_t status;
    Bytes reply;  // the command's return parameters
};
struct CommandStatus {
    uint16_t opcode;
    uint8_t status;
};
std::optional<CommandComplete> decode_command_complete(ByteView params);
std::optional<CommandStatus> decode_command_status(ByteView params);
// New Settings event, and the reply of Set Powered / Set LE / Set Static
// Address / Set Privacy: a single Current_Settings field.
std::optional<uint32_t> decode_settings(ByteView params);

// Command replies.
std::optional<std::vector<uint16_t>> decode_index_list(ByteView reply);

struct ControllerInfo {
    Address address;
    uint8_t bluetooth_version;
    uint16_t manufacturer;
    uint32_t supported_settings;
    uint32_t current_settings;
    std::array<uint8_t, 3> class_of_device;
    std::string name;
    std::string short_name;
};
std::optional<ControllerInfo> decode_controller_info(ByteView reply);

struct LocalName {
    std::string name;
    std::string short_name;
};
// The Local Name Changed event and the reply of Set Local Name.
std::optional<LocalName> decode_local_name(ByteView params);

}  // namespace ubt::mgmt
