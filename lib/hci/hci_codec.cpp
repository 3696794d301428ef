#include "hci_codec.hpp"

#include <stdexcept>

namespace ubt::hci {

Bytes command_packet(uint16_t opcode, ByteView params) {
    if (params.size() > 0xff) throw std::length_error("HCI command parameters too long");
    ByteWriter w;
    w.u8(kCommandPacket).u16le(opcode).u8(static_cast<uint8_t>(params.size())).bytes(params);
    return w.take();
}

Bytes le_read_local_features() { return command_packet(op::LeReadLocalFeatures); }

Bytes le_set_scan_parameters(const ScanParameters& p) {
    ByteWriter w;
    w.u8(p.active ? 1 : 0).u16le(p.interval).u16le(p.window).u8(p.own_address_type).u8(0);  // accept all
    return command_packet(op::LeSetScanParameters, w.data());
}

Bytes le_set_scan_enable(bool enable) {
    const uint8_t params[] = {static_cast<uint8_t>(enable ? 1 : 0), 0};  // no duplicate filtering
    return command_packet(op::LeSetScanEnable, params);
}

Bytes le_set_ext_scan_parameters(const ScanParameters& p) {
    ByteWriter w;
    w.u8(p.own_address_type).u8(0);  // accept all
    w.u8(0x01);                      // scan on the LE 1M PHY only
    w.u8(p.active ? 1 : 0).u16le(p.interval).u16le(p.window);
    return command_packet(op::LeSetExtScanParameters, w.data());
}

Bytes le_set_ext_scan_enable(bool enable) {
    ByteWriter w;
    w.u8(enable ? 1 : 0).u8(0).u16le(0).u16le(0);  // no duplicate filtering, no duration, no period
    return command_packet(op::LeSetExtScanEnable, w.data());
}

std::optional<Event> decode_event(ByteView packet) {
    ByteReader r(packet);
    if (r.u8() != kEventPacket) return std::nullopt;
    Event e;
    e.code = r.u8();
    ByteView params = r.bytes(r.u8());
    if (!r.done()) return std::nullopt;
    e.params.assign(params.begin(), params.end());
    return e;
}

std::optional<CommandComplete> decode_command_complete(ByteView params) {
    ByteReader r(params);
    r.u8();  // Num_HCI_Command_Packets
    CommandComplete c;
    c.opcode = r.u16le();
    ByteView reply = r.rest();
    if (!r.done()) return std::nullopt;
    c.reply.assign(reply.begin(), reply.end());
    return c;
}

std::optional<CommandStatus> decode_command_status(ByteView params) {
    ByteReader r(params);
    CommandStatus s;
    s.status = r.u8();
    r.u8();  // Num_HCI_Command_Packets
    s.opcode = r.u16le();
    if (!r.done()) return std::nullopt;
    return s;
}

std::optional<uint64_t> decode_le_features(ByteView reply) {
    ByteReader r(reply);
    uint8_t status = r.u8();
    uint64_t low = r.u32le();
    uint64_t high = r.u32le();
    if (!r.done() || status != 0) return std::nullopt;
    return low | (high << 32);
}

std::optional<LeMeta> decode_le_meta(ByteView params) {
    ByteReader r(params);
    LeMeta m;
    m.subevent = r.u8();
    ByteView rest = r.rest();
    if (!r.done()) return std::nullopt;
    m.params.assign(rest.begin(), rest.end());
    return m;
}

namespace {
// Report address types 2 and 3 are identities the controller resolved.
uint8_t addr_type_of(uint8_t report_type) { return report_type & 0x01; }
}  // namespace

std::optional<std::vector<AdvReport>> decode_adv_reports(ByteView params) {
    ByteReader r(params);
    uint8_t count = r.u8();
    std::vector<AdvReport> reports;
    for (uint8_t i = 0; i < count && r.ok(); ++i) {
        AdvReport a;
        uint8_t event_type = r.u8();
        a.addr_type = addr_type_of(r.u8());
        a.address = Address::from_le(r.bytes(6));
        ByteView data = r.bytes(r.u8());
        if (data.size() > 31) return std::nullopt;
        a.data.assign(data.begin(), data.end());
        a.rssi = static_cast<int8_t>(r.u8());
        if (event_type > legacy_type::ScanRsp) return std::nullopt;
        a.adv_type = event_type;
        reports.push_back(std::move(a));
    }
    if (!r.done()) return std::nullopt;
    return reports;
}

uint8_t adv_type_of_ext(uint16_t event_type) {
    if (event_type & ext_type::ScanResponse) return legacy_type::ScanRsp;
    if (event_type & ext_type::Directed) return legacy_type::AdvDirectInd;
    if (event_type & ext_type::Connectable) return legacy_type::AdvInd;
    if (event_type & ext_type::Scannable) return legacy_type::AdvScanInd;
    return legacy_type::AdvNonconnInd;
}

std::optional<std::vector<AdvReport>> decode_ext_adv_reports(ByteView params) {
    ByteReader r(params);
    uint8_t count = r.u8();
    std::vector<AdvReport> reports;
    for (uint8_t i = 0; i < count && r.ok(); ++i) {
        AdvReport a;
        uint16_t event_type = r.u16le();
        a.adv_type = adv_type_of_ext(event_type);
        a.incomplete = (event_type & ext_type::DataStatusMask) == ext_type::DataIncomplete;
        uint8_t raw_addr_type = r.u8();
        a.addr_type = addr_type_of(raw_addr_type);
        a.address = Address::from_le(r.bytes(6));
        r.skip(2);  // primary and secondary PHY
        a.sid = r.u8();
        r.skip(1);  // TX power
        a.rssi = static_cast<int8_t>(r.u8());
        r.skip(2 + 1 + 6);  // periodic interval, direct address type and address
        ByteView data = r.bytes(r.u8());
        a.data.assign(data.begin(), data.end());
        if (raw_addr_type == 0xff) continue;  // anonymous advertisement: no address to report
        reports.push_back(std::move(a));
    }
    if (!r.done()) return std::nullopt;
    return reports;
}

}  // namespace ubt::hci
