#include "hci_codec.hpp"

#include <array>
#include <stdexcept>

namespace ubt::hci {

Bytes command_packet(uint16_t opcode, ByteView params) {
    if (params.size() > 0xff) throw std::length_error("HCI command parameters too long");
    ByteWriter w;
    w.u8(kCommandPacket).u16le(opcode).u8(static_cast<uint8_t>(params.size())).bytes(params);
    return w.take();
}

Bytes le_create_connection(const ConnectParameters& p) {
    ByteWriter w;
    w.u16le(p.scan_interval).u16le(p.scan_window);
    w.u8(0);  // no filter accept list: the peer given
    w.u8(p.peer.type).bytes(p.peer.address.to_le()).u8(p.own_address_type);
    w.u16le(p.min_interval).u16le(p.max_interval).u16le(p.latency).u16le(p.supervision_timeout);
    w.u16le(0).u16le(0);  // connection event length: no preference
    return command_packet(op::LeCreateConnection, w.data());
}

Bytes le_ext_create_connection(const ConnectParameters& p) {
    ByteWriter w;
    w.u8(0);  // no filter accept list: the peer given
    w.u8(p.own_address_type).u8(p.peer.type).bytes(p.peer.address.to_le());
    w.u8(0x01);  // initiating PHYs: LE 1M
    w.u16le(p.scan_interval).u16le(p.scan_window);
    w.u16le(p.min_interval).u16le(p.max_interval).u16le(p.latency).u16le(p.supervision_timeout);
    w.u16le(0).u16le(0);  // connection event length: no preference
    return command_packet(op::LeExtCreateConnection, w.data());
}

Bytes le_create_connection_cancel() { return command_packet(op::LeCreateConnectionCancel); }

Bytes disconnect(uint16_t handle, uint8_t reason) {
    ByteWriter w;
    w.u16le(handle).u8(reason);
    return command_packet(op::Disconnect, w.data());
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

Bytes le_set_random_address(const Address& address) {
    auto le = address.to_le();
    return command_packet(op::LeSetRandomAddress, le);
}

Bytes le_set_adv_parameters(const AdvParameters& p) {
    uint8_t type = p.connectable ? adv_pdu::AdvInd : p.scannable ? adv_pdu::AdvScanInd : adv_pdu::AdvNonconnInd;
    ByteWriter w;
    w.u16le(static_cast<uint16_t>(p.interval)).u16le(static_cast<uint16_t>(p.interval));
    w.u8(type).u8(p.own_address_type);
    w.u8(0).bytes(std::array<uint8_t, 6>{});  // no peer: undirected
    w.u8(0x07).u8(0x00);                      // all three channels, no filter
    return command_packet(op::LeSetAdvParameters, w.data());
}

namespace {
Bytes legacy_data_command(uint16_t opcode, ByteView data) {
    if (data.size() > kLegacyAdvDataMax) throw std::length_error("legacy advertising data longer than 31 bytes");
    ByteWriter w;
    w.u8(static_cast<uint8_t>(data.size())).bytes(data);
    for (size_t i = data.size(); i < kLegacyAdvDataMax; ++i) w.u8(0);
    return command_packet(opcode, w.data());
}

Bytes ext_data_command(uint16_t opcode, ByteView data) {
    if (data.size() > kExtAdvDataMax) throw std::length_error("extended advertising data longer than 251 bytes");
    ByteWriter w;
    w.u8(kAdvHandle).u8(0x03).u8(0x01);  // complete data in one command; controller should not fragment
    w.u8(static_cast<uint8_t>(data.size())).bytes(data);
    return command_packet(opcode, w.data());
}

void u24le(ByteWriter& w, uint32_t v) {
    w.u8(static_cast<uint8_t>(v)).u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v >> 16));
}
}  // namespace

Bytes le_set_adv_data(ByteView data) { return legacy_data_command(op::LeSetAdvData, data); }
Bytes le_set_scan_rsp_data(ByteView data) { return legacy_data_command(op::LeSetScanRspData, data); }

Bytes le_set_adv_enable(bool enable) {
    const uint8_t params[] = {static_cast<uint8_t>(enable ? 1 : 0)};
    return command_packet(op::LeSetAdvEnable, params);
}

Bytes le_set_adv_set_random_address(const Address& address) {
    ByteWriter w;
    w.u8(kAdvHandle).bytes(address.to_le());
    return command_packet(op::LeSetAdvSetRandomAddress, w.data());
}

Bytes le_set_ext_adv_parameters(const AdvParameters& p, bool legacy_pdu) {
    uint16_t props = 0;
    if (p.connectable) props |= adv_props::Connectable;
    if (p.scannable) props |= adv_props::Scannable;
    if (legacy_pdu) props |= adv_props::Legacy;
    ByteWriter w;
    w.u8(kAdvHandle).u16le(props);
    u24le(w, p.interval);
    u24le(w, p.interval);
    w.u8(0x07).u8(p.own_address_type);        // all channels
    w.u8(0).bytes(std::array<uint8_t, 6>{});  // no peer
    w.u8(0x00).u8(0x7f);                      // no filter, no TX power preference
    w.u8(0x01).u8(0x00).u8(0x01);             // primary PHY 1M, no skip, secondary PHY 1M
    w.u8(0x00).u8(0x00);                      // SID 0, no scan request notifications
    return command_packet(op::LeSetExtAdvParameters, w.data());
}

Bytes le_set_ext_adv_data(ByteView data) { return ext_data_command(op::LeSetExtAdvData, data); }
Bytes le_set_ext_scan_rsp_data(ByteView data) { return ext_data_command(op::LeSetExtScanRspData, data); }

Bytes le_set_ext_adv_enable(bool enable) {
    ByteWriter w;
    w.u8(enable ? 1 : 0).u8(1);                    // one set
    w.u8(kAdvHandle).u16le(0).u8(0);               // until disabled, no event limit
    return command_packet(op::LeSetExtAdvEnable, w.data());
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

std::optional<ConnectionComplete> decode_connection_complete(const LeMeta& meta) {
    ByteReader r(meta.params);
    ConnectionComplete c;
    c.status = r.u8();
    c.handle = r.u16le() & kHandleMask;
    c.role = r.u8();
    c.peer_addr_type = r.u8() & 0x01;
    c.peer = Address::from_le(r.bytes(6));
    if (meta.subevent == le_ev::EnhancedConnectionComplete) r.skip(12);  // local and peer private addresses
    else if (meta.subevent != le_ev::ConnectionComplete) return std::nullopt;
    r.skip(2 + 2 + 2 + 1);  // interval, latency, supervision timeout, clock accuracy
    if (!r.done()) return std::nullopt;
    return c;
}

std::optional<DisconnectionComplete> decode_disconnection_complete(ByteView params) {
    ByteReader r(params);
    DisconnectionComplete d;
    d.status = r.u8();
    d.handle = r.u16le() & kHandleMask;
    d.reason = r.u8();
    if (!r.done()) return std::nullopt;
    return d;
}

namespace {
// The three encryption events share status and handle; what follows depends on the event.
std::optional<EncryptionChange> read_encryption_event(ByteView params, uint8_t code) {
    ByteReader r(params);
    EncryptionChange e;
    e.status = r.u8();
    e.handle = r.u16le() & kHandleMask;
    switch (code) {
        case ev::EncryptionChange: e.enabled = r.u8(); break;
        case ev::EncryptionChangeV2:
            e.enabled = r.u8();
            e.key_size = r.u8();
            break;
        case ev::EncryptionKeyRefreshComplete:
            e.enabled = 1;
            e.key_refresh = true;
            break;
        default: return std::nullopt;
    }
    if (!r.done()) return std::nullopt;
    return e;
}
}  // namespace

std::optional<EncryptionChange> decode_encryption_change(ByteView params) {
    return read_encryption_event(params, ev::EncryptionChange);
}

std::optional<EncryptionChange> decode_encryption_change_v2(ByteView params) {
    return read_encryption_event(params, ev::EncryptionChangeV2);
}

std::optional<EncryptionChange> decode_key_refresh_complete(ByteView params) {
    return read_encryption_event(params, ev::EncryptionKeyRefreshComplete);
}

std::optional<EncryptionChange> decode_encryption_event(const Event& event) {
    return read_encryption_event(event.params, event.code);
}

std::optional<ConnectionUpdate> decode_connection_update(const LeMeta& meta) {
    if (meta.subevent != le_ev::ConnectionUpdateComplete) return std::nullopt;
    ByteReader r(meta.params);
    ConnectionUpdate u;
    u.status = r.u8();
    u.handle = r.u16le() & kHandleMask;
    u.interval = r.u16le();
    u.latency = r.u16le();
    u.supervision_timeout = r.u16le();
    if (!r.done()) return std::nullopt;
    return u;
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
