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
#include "mgmt_keys.hpp"
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

// Pairing and keys. Values the kernel checks itself (IO capability 0-4, Secure
// Connections 0-2, address types) are passed through unchanged.
Frame set_bondable(uint16_t index, bool on);
Frame set_ssp(uint16_t index, bool on);
// mode: secure_connections::Off, On or Only.
Frame set_secure_connections(uint16_t index, uint8_t mode);
// io: an io_capability value; applies to links created afterwards.
Frame set_io_capability(uint16_t index, uint8_t io);
// Replace the kernel's whole list of LTKs / IRKs. More than kMaxLoadLtks /
// kMaxLoadIrks keys do not fit one command: std::length_error.
Frame load_long_term_keys(uint16_t index, const std::vector<LongTermKey>& keys);
// Load Link Keys with no keys (and debug keys off): forgets every BR/EDR link key.
Frame clear_link_keys(uint16_t index);
Frame load_identity_resolving_keys(uint16_t index, const std::vector<IdentityResolvingKey>& keys);
// io overrides the Set IO Capability value for this pairing.
Frame pair_device(uint16_t index, const DeviceAddress& peer, uint8_t io);
Frame cancel_pair_device(uint16_t index, const DeviceAddress& peer);
// disconnect: also end the links to the peer (the mgmt API says it should be
// true except in some qualification tests).
Frame unpair_device(uint16_t index, const DeviceAddress& peer, bool disconnect);
Frame user_confirm_reply(uint16_t index, const DeviceAddress& peer);
Frame user_confirm_negative_reply(uint16_t index, const DeviceAddress& peer);
// passkey: 0..kMaxPasskey; larger throws std::out_of_range.
Frame user_passkey_reply(uint16_t index, const DeviceAddress& peer, uint32_t passkey);
Frame user_passkey_negative_reply(uint16_t index, const DeviceAddress& peer);

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
// Address / Set Privacy / Set Bondable / Set SSP / Set Secure Connections: a
// single Current_Settings field.
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

// An address and its type, alone: the User Passkey Request and Device Unpaired
// events, and the reply of Pair Device, Cancel Pair Device, Unpair Device and
// the User Confirmation / User Passkey (Negative) Replies.
std::optional<DeviceAddress> decode_device_address(ByteView params);

// Pairing events. Every field is kept as the kernel sent it (address types,
// hints and flags are not checked): callers decide what to accept.
struct NewLongTermKey {
    uint8_t store_hint;  // 1: the kernel keeps the key (a bond); 0: forgotten at disconnect
    LongTermKey key;
};
std::optional<NewLongTermKey> decode_new_long_term_key(ByteView params);

struct NewIdentityResolvingKey {
    uint8_t store_hint;
    Address random_address;  // the RPA that was resolved; all zero when none was
    IdentityResolvingKey key;
};
std::optional<NewIdentityResolvingKey> decode_new_identity_resolving_key(ByteView params);

// Device Connected: the fixed fields. The EIR data that follows them must be
// exactly as long as its length field says, but is not returned.
struct DeviceConnected {
    DeviceAddress peer;
    uint32_t flags;
};
std::optional<DeviceConnected> decode_device_connected(ByteView params);

struct UserConfirmRequest {
    DeviceAddress peer;
    uint8_t confirm_hint;  // 1: Just Works (yes/no only), 0: compare the value
    uint32_t value;
};
std::optional<UserConfirmRequest> decode_user_confirm_request(ByteView params);

struct AuthenticationFailed {
    DeviceAddress peer;
    uint8_t status;  // a mgmt status
};
std::optional<AuthenticationFailed> decode_authentication_failed(ByteView params);

struct PasskeyNotify {
    DeviceAddress peer;
    uint32_t passkey;
    uint8_t entered;  // digits the peer has typed so far
};
std::optional<PasskeyNotify> decode_passkey_notify(ByteView params);

}  // namespace ubt::mgmt
