#pragma once
// Encoding of HCI command packets and decoding of HCI event packets. Pure
// functions over bytes; a decoder returns nullopt for anything truncated or
// longer than its definition.

#include <cstdint>
#include <optional>
#include <vector>

#include "core/address.hpp"
#include "core/bytes.hpp"
#include "hci_protocol.hpp"

namespace ubt::hci {

// A command packet: type 0x01, opcode, parameter length, parameters.
Bytes command_packet(uint16_t opcode, ByteView params = {});

struct ScanParameters {
    bool active = false;
    uint16_t interval = 0x0800;  // units of 0.625 ms
    uint16_t window = 0x0012;    // units of 0.625 ms
    uint8_t own_address_type = 0;
};
Bytes le_read_local_features();
Bytes le_set_scan_parameters(const ScanParameters& p);
// Duplicate filtering is always off: ubluetooth reports every advertisement.
Bytes le_set_scan_enable(bool enable);
Bytes le_set_ext_scan_parameters(const ScanParameters& p);
Bytes le_set_ext_scan_enable(bool enable);

struct AdvParameters {
    uint32_t interval = 0x0800;  // units of 0.625 ms, used as both minimum and maximum
    bool connectable = true;
    bool scannable = true;
    uint8_t own_address_type = 0;
};
// Legacy data commands pad the data to 31 bytes; data must fit.
constexpr size_t kLegacyAdvDataMax = 31;
constexpr size_t kExtAdvDataMax = 251;  // one Set Extended Advertising Data command
constexpr uint8_t kAdvHandle = 0x00;

Bytes le_set_random_address(const Address& address);
Bytes le_set_adv_parameters(const AdvParameters& p);
Bytes le_set_adv_data(ByteView data);
Bytes le_set_scan_rsp_data(ByteView data);
Bytes le_set_adv_enable(bool enable);
Bytes le_set_adv_set_random_address(const Address& address);
// Legacy PDUs when both payloads fit 31 bytes (legacy_pdu), else extended ones.
Bytes le_set_ext_adv_parameters(const AdvParameters& p, bool legacy_pdu);
Bytes le_set_ext_adv_data(ByteView data);
Bytes le_set_ext_scan_rsp_data(ByteView data);
Bytes le_set_ext_adv_enable(bool enable);

struct ConnectParameters {
    uint16_t scan_interval = 0x0010;  // units of 0.625 ms: 10 ms, scanning all the time
    uint16_t scan_window = 0x0010;
    uint8_t own_address_type = 0;
    LeAddress peer;
    uint16_t min_interval = 0x0018;  // units of 1.25 ms: 30 ms
    uint16_t max_interval = 0x0028;  // 50 ms
    uint16_t latency = 0;
    uint16_t supervision_timeout = 0x0100;  // units of 10 ms: 2.56 s
};
Bytes le_create_connection(const ConnectParameters& p);
// On the LE 1M PHY only.
Bytes le_ext_create_connection(const ConnectParameters& p);
Bytes le_create_connection_cancel();

// Disconnect (Link Control): ends the connection with the given reason.
Bytes disconnect(uint16_t handle, uint8_t reason);

// An event packet: type 0x04, event code, parameter length, parameters.
struct Event {
    uint8_t code;
    Bytes params;
};
std::optional<Event> decode_event(ByteView packet);

struct CommandComplete {
    uint16_t opcode;
    Bytes reply;  // return parameters, starting with the status for most commands
};
struct CommandStatus {
    uint8_t status;
    uint16_t opcode;
};
std::optional<CommandComplete> decode_command_complete(ByteView params);
std::optional<CommandStatus> decode_command_status(ByteView params);
// LE Read Local Supported Features return parameters: status, 8-byte mask.
std::optional<uint64_t> decode_le_features(ByteView reply);

// One advertising report in ubluetooth's terms.
struct AdvReport {
    uint8_t addr_type;  // 0 public, 1 random
    Address address;
    uint8_t adv_type;   // 0..4 as ubluetooth defines them
    int8_t rssi;
    Bytes data;
    // Extended reports only: more fragments of this advertisement follow.
    bool incomplete = false;
    uint8_t sid = 0xff;
};
// The parameters of an LE Meta event: its subevent and the rest.
struct LeMeta {
    uint8_t subevent;
    Bytes params;
};
std::optional<LeMeta> decode_le_meta(ByteView params);
std::optional<std::vector<AdvReport>> decode_adv_reports(ByteView subevent_params);
std::optional<std::vector<AdvReport>> decode_ext_adv_reports(ByteView subevent_params);

// A connection complete event (legacy or enhanced): who connected, in which role.
struct ConnectionComplete {
    uint8_t status;
    uint16_t handle;
    uint8_t role;  // 0 central, 1 peripheral
    uint8_t peer_addr_type;
    Address peer;
};
std::optional<ConnectionComplete> decode_connection_complete(const LeMeta& meta);

struct DisconnectionComplete {
    uint8_t status;
    uint16_t handle;
    uint8_t reason;
};
std::optional<DisconnectionComplete> decode_disconnection_complete(ByteView params);

// Encryption Change (v1: status, handle, Encryption_Enabled; v2 adds
// Encryption_Key_Size) and Encryption Key Refresh Complete (status, handle),
// Core Vol 4 Part E 7.7.8, 7.7.8.2 and 7.7.39. A refresh leaves the link
// encrypted: it decodes as enabled = 1 with no key size, and key_refresh set.
struct EncryptionChange {
    uint8_t status;
    uint16_t handle;
    // 0 off; 1 on (AES-CCM on LE, E0 on BR/EDR); 2 on with AES-CCM (BR/EDR).
    // Reserved values are kept as they came: anything but 0 means on.
    uint8_t enabled;
    std::optional<uint8_t> key_size;  // v2 only, in octets
    bool key_refresh = false;         // an Encryption Key Refresh Complete
};
std::optional<EncryptionChange> decode_encryption_change(ByteView params);
std::optional<EncryptionChange> decode_encryption_change_v2(ByteView params);
std::optional<EncryptionChange> decode_key_refresh_complete(ByteView params);
// Any of the three by event code; nullopt for other codes too.
std::optional<EncryptionChange> decode_encryption_event(const Event& event);

// LE Connection Update Complete: the parameters now in use.
struct ConnectionUpdate {
    uint8_t status;
    uint16_t handle;
    uint16_t interval;             // units of 1.25 ms
    uint16_t latency;              // connection events
    uint16_t supervision_timeout;  // units of 10 ms
};
std::optional<ConnectionUpdate> decode_connection_update(const LeMeta& meta);

// The ubluetooth adv_type (0..4) of an extended report's Event_Type.
uint8_t adv_type_of_ext(uint16_t event_type);

}  // namespace ubt::hci
