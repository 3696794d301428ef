#include "mgmt_codec.hpp"

#include <stdexcept>

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

}  // namespace ubt::mgmt
