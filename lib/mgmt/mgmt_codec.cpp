#include "mgmt_codec.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ubt::mgmt {

Bytes encode_frame(const Frame& frame) {
    if (frame.params.size() > 0xffff) throw std::length_error("mgmt parameters too long");
    ByteWriter w;
    w.u16le(frame.code).u16le(frame.index).u16le(static_cast<uint16_t>(frame.params.size()));
    w.bytes(frame.params);
    return w.take();
}

std::optional<Frame> decode_frame(ByteView data) {
    ByteReader r(data);
    Frame f;
    f.code = r.u16le();
    f.index = r.u16le();
    uint16_t length = r.u16le();
    ByteView params = r.bytes(length);
    if (!r.done()) return std::nullopt;
    f.params.assign(params.begin(), params.end());
    return f;
}

namespace {
Frame command(uint16_t opcode, uint16_t index, Bytes params = {}) {
    return Frame{opcode, index, std::move(params)};
}

Frame flag_command(uint16_t opcode, uint16_t index, bool on) {
    return command(opcode, index, {static_cast<uint8_t>(on ? 1 : 0)});
}

// Address (6, little-endian) and Address_Type (1).
void write_address(ByteWriter& w, const DeviceAddress& peer) {
    auto le = peer.address.to_le();
    w.bytes(le).u8(peer.type);
}

DeviceAddress read_address(ByteReader& r) {
    DeviceAddress peer;
    peer.address = Address::from_le(r.bytes(6));
    peer.type = r.u8();
    return peer;
}

Frame address_command(uint16_t opcode, uint16_t index, const DeviceAddress& peer) {
    ByteWriter w;
    write_address(w, peer);
    return command(opcode, index, w.take());
}

template <size_t N>
void read_array(ByteReader& r, std::array<uint8_t, N>& out) {
    ByteView v = r.bytes(N);
    std::copy(v.begin(), v.end(), out.begin());  // nothing when the read failed
}

void write_ltk(ByteWriter& w, const LongTermKey& key) {
    write_address(w, key.peer);
    w.u8(key.type).u8(key.central).u8(key.enc_size).u16le(key.ediv).bytes(key.rand).bytes(key.val);
}

LongTermKey read_ltk(ByteReader& r) {
    LongTermKey key;
    key.peer = read_address(r);
    key.type = r.u8();
    key.central = r.u8();
    key.enc_size = r.u8();
    key.ediv = r.u16le();
    read_array(r, key.rand);
    read_array(r, key.val);
    return key;
}

void write_irk(ByteWriter& w, const IdentityResolvingKey& key) {
    write_address(w, key.peer);
    w.bytes(key.val);
}

IdentityResolvingKey read_irk(ByteReader& r) {
    IdentityResolvingKey key;
    key.peer = read_address(r);
    read_array(r, key.val);
    return key;
}

void check_key_count(const char* command_name, size_t count, size_t max) {
    if (count > max) {
        throw std::length_error(std::string(command_name) + ": " + std::to_string(count) +
                                " keys do not fit one mgmt command (at most " + std::to_string(max) + ")");
    }
}
}  // namespace

Frame read_index_list() { return command(op::ReadIndexList, kIndexNone); }
Frame read_info(uint16_t index) { return command(op::ReadInfo, index); }

Frame set_powered(uint16_t index, bool on) {
    return command(op::SetPowered, index, {static_cast<uint8_t>(on ? 1 : 0)});
}

Frame set_low_energy(uint16_t index, bool on) {
    return command(op::SetLowEnergy, index, {static_cast<uint8_t>(on ? 1 : 0)});
}

Frame set_local_name(uint16_t index, const std::string& name, const std::string& short_name) {
    ByteWriter w;
    w.fixed_string(name, kNameSize).fixed_string(short_name, kShortNameSize);
    return command(op::SetLocalName, index, w.take());
}

Frame set_bredr(uint16_t index, bool on) {
    return command(op::SetBrEdr, index, {static_cast<uint8_t>(on ? 1 : 0)});
}

Frame set_static_address(uint16_t index, const Address& address) {
    auto le = address.to_le();
    return command(op::SetStaticAddress, index, Bytes(le.begin(), le.end()));
}

Frame set_privacy(uint16_t index, uint8_t mode, const std::array<uint8_t, kIrkSize>& irk) {
    ByteWriter w;
    w.u8(mode).bytes(irk);
    return command(op::SetPrivacy, index, w.take());
}

Frame set_bondable(uint16_t index, bool on) { return flag_command(op::SetBondable, index, on); }
Frame set_ssp(uint16_t index, bool on) { return flag_command(op::SetSsp, index, on); }

Frame set_secure_connections(uint16_t index, uint8_t mode) {
    return command(op::SetSecureConnections, index, {mode});
}

Frame set_io_capability(uint16_t index, uint8_t io) { return command(op::SetIoCapability, index, {io}); }

Frame load_long_term_keys(uint16_t index, const std::vector<LongTermKey>& keys) {
    check_key_count("Load Long Term Keys", keys.size(), kMaxLoadLtks);
    ByteWriter w;
    w.u16le(static_cast<uint16_t>(keys.size()));
    for (const auto& key : keys) write_ltk(w, key);
    return command(op::LoadLongTermKeys, index, w.take());
}

Frame clear_link_keys(uint16_t index) { return command(op::LoadLinkKeys, index, Bytes{0x00, 0x00, 0x00}); }

Frame load_identity_resolving_keys(uint16_t index, const std::vector<IdentityResolvingKey>& keys) {
    check_key_count("Load Identity Resolving Keys", keys.size(), kMaxLoadIrks);
    ByteWriter w;
    w.u16le(static_cast<uint16_t>(keys.size()));
    for (const auto& key : keys) write_irk(w, key);
    return command(op::LoadIdentityResolvingKeys, index, w.take());
}

Frame pair_device(uint16_t index, const DeviceAddress& peer, uint8_t io) {
    ByteWriter w;
    write_address(w, peer);
    w.u8(io);
    return command(op::PairDevice, index, w.take());
}

Frame cancel_pair_device(uint16_t index, const DeviceAddress& peer) {
    return address_command(op::CancelPairDevice, index, peer);
}

Frame unpair_device(uint16_t index, const DeviceAddress& peer, bool disconnect) {
    ByteWriter w;
    write_address(w, peer);
    w.u8(disconnect ? 1 : 0);
    return command(op::UnpairDevice, index, w.take());
}

Frame user_confirm_reply(uint16_t index, const DeviceAddress& peer) {
    return address_command(op::UserConfirmReply, index, peer);
}

Frame user_confirm_negative_reply(uint16_t index, const DeviceAddress& peer) {
    return address_command(op::UserConfirmNegReply, index, peer);
}

Frame user_passkey_reply(uint16_t index, const DeviceAddress& peer, uint32_t passkey) {
    if (passkey > kMaxPasskey) {
        throw std::out_of_range("User Passkey Reply: passkey " + std::to_string(passkey) + " is not 0..999999");
    }
    ByteWriter w;
    write_address(w, peer);
    w.u32le(passkey);
    return command(op::UserPasskeyReply, index, w.take());
}

Frame user_passkey_negative_reply(uint16_t index, const DeviceAddress& peer) {
    return address_command(op::UserPasskeyNegReply, index, peer);
}

std::optional<CommandComplete> decode_command_complete(ByteView params) {
    ByteReader r(params);
    CommandComplete c;
    c.opcode = r.u16le();
    c.status = r.u8();
    ByteView reply = r.rest();
    if (!r.done()) return std::nullopt;
    c.reply.assign(reply.begin(), reply.end());
    return c;
}

std::optional<CommandStatus> decode_command_status(ByteView params) {
    ByteReader r(params);
    CommandStatus s{r.u16le(), r.u8()};
    if (!r.done()) return std::nullopt;
    return s;
}

std::optional<uint32_t> decode_settings(ByteView params) {
    ByteReader r(params);
    uint32_t settings = r.u32le();
    if (!r.done()) return std::nullopt;
    return settings;
}

std::optional<std::vector<uint16_t>> decode_index_list(ByteView reply) {
    ByteReader r(reply);
    uint16_t count = r.u16le();
    std::vector<uint16_t> indexes;
    for (uint16_t i = 0; i < count && r.ok(); ++i) indexes.push_back(r.u16le());
    if (!r.done()) return std::nullopt;
    return indexes;
}

std::optional<ControllerInfo> decode_controller_info(ByteView reply) {
    ByteReader r(reply);
    ControllerInfo info;
    info.address = Address::from_le(r.bytes(6));
    info.bluetooth_version = r.u8();
    info.manufacturer = r.u16le();
    info.supported_settings = r.u32le();
    info.current_settings = r.u32le();
    ByteView cod = r.bytes(3);
    info.name = r.fixed_string(kNameSize);
    info.short_name = r.fixed_string(kShortNameSize);
    if (!r.done()) return std::nullopt;
    std::copy(cod.begin(), cod.end(), info.class_of_device.begin());
    return info;
}

std::optional<LocalName> decode_local_name(ByteView params) {
    ByteReader r(params);
    LocalName n;
    n.name = r.fixed_string(kNameSize);
    n.short_name = r.fixed_string(kShortNameSize);
    if (!r.done()) return std::nullopt;
    return n;
}

std::optional<DeviceAddress> decode_device_address(ByteView params) {
    ByteReader r(params);
    DeviceAddress peer = read_address(r);
    if (!r.done()) return std::nullopt;
    return peer;
}

std::optional<NewLongTermKey> decode_new_long_term_key(ByteView params) {
    ByteReader r(params);
    NewLongTermKey e;
    e.store_hint = r.u8();
    e.key = read_ltk(r);
    if (!r.done()) return std::nullopt;
    return e;
}

std::optional<NewIdentityResolvingKey> decode_new_identity_resolving_key(ByteView params) {
    ByteReader r(params);
    NewIdentityResolvingKey e;
    e.store_hint = r.u8();
    e.random_address = Address::from_le(r.bytes(6));
    e.key = read_irk(r);
    if (!r.done()) return std::nullopt;
    return e;
}

std::optional<DeviceConnected> decode_device_connected(ByteView params) {
    ByteReader r(params);
    DeviceConnected e;
    e.peer = read_address(r);
    e.flags = r.u32le();
    uint16_t eir_length = r.u16le();
    r.skip(eir_length);
    if (!r.done()) return std::nullopt;
    return e;
}

std::optional<UserConfirmRequest> decode_user_confirm_request(ByteView params) {
    ByteReader r(params);
    UserConfirmRequest e;
    e.peer = read_address(r);
    e.confirm_hint = r.u8();
    e.value = r.u32le();
    if (!r.done()) return std::nullopt;
    return e;
}

std::optional<AuthenticationFailed> decode_authentication_failed(ByteView params) {
    ByteReader r(params);
    AuthenticationFailed e;
    e.peer = read_address(r);
    e.status = r.u8();
    if (!r.done()) return std::nullopt;
    return e;
}

std::optional<PasskeyNotify> decode_passkey_notify(ByteView params) {
    ByteReader r(params);
    PasskeyNotify e;
    e.peer = read_address(r);
    e.passkey = r.u32le();
    e.entered = r.u8();
    if (!r.done()) return std::nullopt;
    return e;
}

}  // namespace ubt::mgmt
