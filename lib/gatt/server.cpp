#include "server.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace ubt::gatt {

namespace {

using namespace ubt::att;

// A request whose parameters could not be read whole.
struct Malformed {};

struct Range {
    uint16_t start;
    uint16_t end;
};

bool in(const Attribute& a, const Range& r) { return a.handle >= r.start && a.handle <= r.end; }

void require_done(const ByteReader& r) {
    if (!r.done()) throw Malformed{};
}

// Reads a request's handle range; whether it is valid is checked after the
// whole PDU is read, since a malformed PDU is reported first.
Range read_range(ByteReader& r) {
    Range range{r.u16le(), r.u16le()};
    if (!r.ok()) throw Malformed{};
    return range;
}

bool valid(const Range& range) { return range.start != 0 && range.start <= range.end; }

}  // namespace

Bytes error_response(uint8_t request_opcode, uint16_t handle, uint8_t code) {
    ByteWriter w;
    w.u8(op::ErrorRsp).u8(request_opcode).u16le(handle).u8(code);
    return w.take();
}

Server::Server(Database& db, uint16_t local_mtu, ServerEvents events)
    : db_(db), local_mtu_(std::max(local_mtu, kDefaultMtu)), events_(std::move(events)) {}

uint16_t Server::cccd(uint16_t cccd_handle) const {
    auto it = cccds_.find(cccd_handle);
    return it == cccds_.end() ? 0 : it->second;
}

uint16_t Server::subscription(uint16_t value_handle) const {
    // A characteristic's CCCD sits right after its value.
    const Attribute* a = value_handle < 0xffff ? db_.find(static_cast<uint16_t>(value_handle + 1)) : nullptr;
    return a && is_cccd(*a) ? cccd(a->handle) : 0;
}

bool Server::is_cccd(const Attribute& a) { return a.type == Uuid::from16(uuid16::Cccd); }

Bytes Server::value_of(const Attribute& a) const {
    if (!is_cccd(a)) return a.value;
    uint16_t v = cccd(a.handle);
    return Bytes{static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
}

uint8_t Server::read_error(const Attribute* a, const LinkSecurity& s) {
    if (!a) return error::InvalidHandle;
    if (!(a->flags & flag::Read)) return error::ReadNotPermitted;
    if ((a->flags & flag::ReadAuthenticated) && !s.authenticated) return error::InsufficientAuthentication;
    if ((a->flags & flag::ReadEncrypted) && !s.encrypted) return error::InsufficientEncryption;
    if (asking_ && a->app_value) {
        if (answers_) {
            auto it = answers_->find(a->handle);
            // Not asked about (the services changed meanwhile): not allowed.
            return it == answers_->end() ? error::UnlikelyError : it->second;
        }
        if (std::find(held_reads_.begin(), held_reads_.end(), a->handle) == held_reads_.end()) {
            held_reads_.push_back(a->handle);
        }
        return 0;  // for now: the request is held until the answer
    }
    if (a->flags & flag::ReadAuthorized) return error::InsufficientAuthorization;  // only a handler can allow it
    return 0;
}

bool Server::readable(const Attribute& a, const LinkSecurity& s) const {
    if (!(a.flags & flag::Read)) return false;
    if ((a.flags & flag::ReadAuthenticated) && !s.authenticated) return false;
    if ((a.flags & flag::ReadEncrypted) && !s.encrypted) return false;
    // A value the application is asked about is not compared unasked.
    if (asking_ && a.app_value) return false;
    return !(a.flags & flag::ReadAuthorized);
}

uint8_t Server::write_error(const Attribute& a, const LinkSecurity& s) {
    if (!(a.flags & (flag::Write | flag::WriteNoResponse))) return error::WriteNotPermitted;
    if ((a.flags & flag::WriteAuthenticated) && !s.authenticated) return error::InsufficientAuthentication;
    if ((a.flags & flag::WriteEncrypted) && !s.encrypted) return error::InsufficientEncryption;
    if (a.flags & flag::WriteAuthorized) return error::InsufficientAuthorization;
    return 0;
}

bool Server::store(Attribute& a, ByteView value) {
    if (is_cccd(a)) {
        // A fixed-length value: the octets given are written, the others
        // kept (Vol 3 Part F 3.4.5.1).
        if (value.size() > 2) return false;
        uint16_t v = cccd(a.handle);
        if (value.size() >= 1) v = static_cast<uint16_t>((v & 0xff00) | value[0]);
        if (value.size() == 2) v = static_cast<uint16_t>((v & 0x00ff) | value[1] << 8);
        cccds_[a.handle] = v;
        return true;
    }
    // As ubluetooth documents: a client's write is cut to the buffer size;
    // in append mode what does not fit after the value is dropped.
    if (!a.append) a.value.clear();
    size_t n = std::min(value.size(), a.capacity - std::min(a.capacity, a.value.size()));
    a.value.insert(a.value.end(), value.begin(), value.begin() + static_cast<std::ptrdiff_t>(n));
    if (events_.written) events_.written(a.handle);
    return true;
}

std::optional<Bytes> Server::handle(ByteView pdu, const LinkSecurity& security) {
    if (pdu.empty()) return std::nullopt;
    uint8_t opcode = pdu[0];
    bool command = (opcode & op::CommandFlag) != 0;
    // A request before the held one is answered breaks ATT's flow control.
    if (held_ && !command && opcode != op::HandleValueCfm) return std::nullopt;
    // Nothing a client sends may exceed ATT_MTU (the channel may carry more).
    if (pdu.size() > mtu_) {
        if (command) return std::nullopt;
        return error_response(opcode, 0, error::InvalidPdu);
    }
    ByteReader r(pdu.subspan(1));
    auto response = dispatch(opcode, r, security);
    if (!held_reads_.empty() && !held_) {
        held_ = Bytes(pdu.begin(), pdu.end());
        held_security_ = security;
        return std::nullopt;
    }
    return response;
}

std::optional<Bytes> Server::resume(const std::map<uint16_t, uint8_t>& answers) {
    if (!held_) return std::nullopt;
    Bytes pdu = std::move(*held_);
    held_.reset();
    held_reads_.clear();
    answers_ = &answers;
    ByteReader r(ByteView(pdu).subspan(1));
    auto response = dispatch(pdu[0], r, held_security_);
    answers_ = nullptr;
    return response;
}

std::optional<Bytes> Server::dispatch(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    try {
        switch (opcode) {
            case op::ExchangeMtuReq: return exchange_mtu(r);
            case op::FindInformationReq: return find_information(opcode, r);
            case op::FindByTypeValueReq: return find_by_type_value(opcode, r, security);
            case op::ReadByTypeReq: return read_by_type(opcode, r, security);
            case op::ReadReq: return read(opcode, r, security);
            case op::ReadBlobReq: return read_blob(opcode, r, security);
            case op::ReadMultipleReq:
            case op::ReadMultipleVariableReq: return read_multiple(opcode, r, security);
            case op::ReadByGroupTypeReq: return read_by_group_type(opcode, r);
            case op::WriteReq:
            case op::WriteCmd: return write(opcode, r, security);
            case op::PrepareWriteReq: return prepare_write(opcode, r, security);
            case op::ExecuteWriteReq: return execute_write(opcode, r);
            case op::HandleValueCfm: {
                if (indications_.empty()) return std::nullopt;  // nothing was indicated
                uint16_t handle = indications_.front().handle;
                indications_.pop_front();
                if (events_.indication_done) events_.indication_done(handle, 0);
                if (indications_.empty()) return std::nullopt;
                return indication_pdu(indications_.front());
            }
            case op::SignedWriteCmd: return std::nullopt;  // needs the peer's CSRK (security)
        }
    } catch (const Malformed&) {
        return error_response(opcode, 0, error::InvalidPdu);
    }
    // Unknown commands are ignored; unknown requests answered (Vol 3 Part F 3.4.9).
    if (opcode & op::CommandFlag) return std::nullopt;
    return error_response(opcode, 0, error::RequestNotSupported);
}

Bytes Server::handle_value(uint8_t opcode, uint16_t handle, ByteView value) const {
    ByteWriter w;
    w.u8(opcode).u16le(handle).bytes(value.first(std::min<size_t>(value.size(), mtu_ - 3u)));
    return w.take();
}

Bytes Server::notification(uint16_t handle, ByteView value) const {
    return handle_value(op::HandleValueNtf, handle, value);
}

Bytes Server::indication_pdu(const Indication& i) const { return handle_value(op::HandleValueInd, i.handle, i.value); }

std::optional<Bytes> Server::indicate(uint16_t handle, ByteView value) {
    if (indications_.size() >= kMaxIndications) {
        throw BleError(ErrorCode::Busy, std::to_string(kMaxIndications) +
                                            " indications already wait for the client's confirmation on this connection");
    }
    indications_.push_back({handle, Bytes(value.begin(), value.end())});
    if (indications_.size() > 1) return std::nullopt;  // it goes when the one before is confirmed
    return indication_pdu(indications_.front());
}

void Server::fail_indications(uint16_t status) {
    std::deque<Indication> failed = std::move(indications_);
    indications_.clear();
    for (const auto& i : failed) {
        if (events_.indication_done) events_.indication_done(i.handle, status);
    }
}


Bytes Server::exchange_mtu(ByteReader& r) {
    uint16_t client_mtu = r.u16le();
    require_done(r);
    mtu_ = std::max(kDefaultMtu, std::min(client_mtu, local_mtu_));
    if (events_.mtu_exchanged) events_.mtu_exchanged(mtu_);
    ByteWriter w;
    w.u8(op::ExchangeMtuRsp).u16le(local_mtu_);
    return w.take();
}

Bytes Server::find_information(uint8_t opcode, ByteReader& r) {
    Range range = read_range(r);
    require_done(r);
    if (!valid(range)) return error_response(opcode, range.start, error::InvalidHandle);
    ByteWriter w;
    size_t entry = 0;  // 4 with 16-bit UUIDs, 18 with 128-bit ones: one kind per response
    for (const auto& a : db_.attributes()) {
        if (!in(a, range)) continue;
        size_t size = 2 + a.type.att_bytes().size();
        if (entry == 0) {
            entry = size;
            w.u8(op::FindInformationRsp).u8(size == 4 ? 0x01 : 0x02);
        }
        if (size != entry || w.data().size() + size > mtu_) break;
        w.u16le(a.handle).bytes(a.type.att_bytes());
    }
    if (entry == 0) return error_response(opcode, range.start, error::AttributeNotFound);
    return w.take();
}

Bytes Server::find_by_type_value(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    Range range = read_range(r);
    uint16_t type = r.u16le();
    if (!r.ok()) throw Malformed{};
    ByteView value = r.rest();
    if (!valid(range)) return error_response(opcode, range.start, error::InvalidHandle);
    ByteWriter w;
    w.u8(op::FindByTypeValueRsp);
    bool found = false;
    for (const auto& a : db_.attributes()) {
        if (!in(a, range) || !(a.type == Uuid::from16(type)) || !readable(a, security)) continue;
        Bytes v = value_of(a);  // a CCCD's is this client's
        if (!std::equal(v.begin(), v.end(), value.begin(), value.end())) continue;
        if (w.data().size() + 4 > mtu_) break;
        w.u16le(a.handle).u16le(a.group_end ? a.group_end : a.handle);
        found = true;
    }
    if (!found) return error_response(opcode, range.start, error::AttributeNotFound);
    return w.take();
}

Bytes Server::read_by_type(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    Range range = read_range(r);
    auto type = Uuid::from_att(r.rest());
    if (!type) throw Malformed{};
    if (!valid(range)) return error_response(opcode, range.start, error::InvalidHandle);
    ByteWriter w;
    size_t length = 0;  // of each entry: handle and value, the same for all
    for (const auto& a : db_.attributes()) {
        if (!in(a, range) || !(a.type == *type)) continue;
        if (uint8_t err = read_error(&a, security)) {
            if (length == 0) return error_response(opcode, a.handle, err);
            break;  // the list ends before an attribute the client may not read
        }
        Bytes value = value_of(a);
        // An entry fits one response and its 1-octet length field.
        size_t cut = std::min<size_t>({value.size(), static_cast<size_t>(mtu_) - 4, 253});
        if (length == 0) {
            length = 2 + cut;
            w.u8(op::ReadByTypeRsp).u8(static_cast<uint8_t>(length));
        } else if (2 + cut != length || w.data().size() + length > mtu_) {
            break;
        }
        w.u16le(a.handle).bytes(ByteView(value).first(cut));
    }
    if (length == 0) return error_response(opcode, range.start, error::AttributeNotFound);
    return w.take();
}

Bytes Server::read(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    uint16_t handle = r.u16le();
    require_done(r);
    const Attribute* a = db_.find(handle);
    if (uint8_t err = read_error(a, security)) return error_response(opcode, handle, err);
    Bytes value = value_of(*a);
    ByteWriter w;
    w.u8(op::ReadRsp).bytes(ByteView(value).first(std::min<size_t>(value.size(), mtu_ - 1u)));
    return w.take();
}

Bytes Server::read_blob(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    uint16_t handle = r.u16le();
    uint16_t offset = r.u16le();
    require_done(r);
    const Attribute* a = db_.find(handle);
    if (uint8_t err = read_error(a, security)) return error_response(opcode, handle, err);
    Bytes value = value_of(*a);
    if (offset > value.size()) return error_response(opcode, handle, error::InvalidOffset);
    ByteView rest = ByteView(value).subspan(offset);
    ByteWriter w;
    w.u8(op::ReadBlobRsp).bytes(rest.first(std::min<size_t>(rest.size(), mtu_ - 1u)));
    return w.take();
}

Bytes Server::read_multiple(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    std::vector<uint16_t> handles;
    while (r.remaining() > 0) handles.push_back(r.u16le());
    if (!r.ok() || handles.size() < 2) throw Malformed{};
    bool variable = opcode == op::ReadMultipleVariableReq;
    ByteWriter w;
    w.u8(variable ? op::ReadMultipleVariableRsp : op::ReadMultipleRsp);
    for (uint16_t handle : handles) {
        const Attribute* a = db_.find(handle);
        if (uint8_t err = read_error(a, security)) return error_response(opcode, handle, err);
        Bytes value = value_of(*a);
        size_t room = mtu_ - std::min<size_t>(mtu_, w.data().size());
        if (variable) {
            // Each value with its length; what does not fit is cut.
            if (room < 2) break;
            w.u16le(static_cast<uint16_t>(value.size()));
            room -= 2;
        }
        w.bytes(ByteView(value).first(std::min(value.size(), room)));
    }
    return w.take();
}

Bytes Server::read_by_group_type(uint8_t opcode, ByteReader& r) {
    Range range = read_range(r);
    auto type = Uuid::from_att(r.rest());
    if (!type) throw Malformed{};
    if (!valid(range)) return error_response(opcode, range.start, error::InvalidHandle);
    // The grouping types are the service declarations; we declare no secondary services.
    if (!(*type == Uuid::from16(uuid16::PrimaryService)) && !(*type == Uuid::from16(uuid16::SecondaryService))) {
        return error_response(opcode, range.start, error::UnsupportedGroupType);
    }
    ByteWriter w;
    size_t length = 0;
    for (const auto& a : db_.attributes()) {
        if (!in(a, range) || !(a.type == *type)) continue;
        size_t size = 4 + a.value.size();
        if (length == 0) {
            length = size;
            w.u8(op::ReadByGroupTypeRsp).u8(static_cast<uint8_t>(length));
        } else if (size != length || w.data().size() + length > mtu_) {
            break;
        }
        w.u16le(a.handle).u16le(a.group_end).bytes(a.value);
    }
    if (length == 0) return error_response(opcode, range.start, error::AttributeNotFound);
    return w.take();
}

std::optional<Bytes> Server::write(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    bool command = opcode == op::WriteCmd;
    uint16_t handle = r.u16le();
    if (!r.ok()) {
        if (command) return std::nullopt;
        throw Malformed{};
    }
    ByteView value = r.rest();
    Attribute* a = db_.find(handle);
    uint8_t err = !a ? error::InvalidHandle : write_error(*a, security);
    if (!err && command && !(a->flags & flag::WriteNoResponse) && !is_cccd(*a)) err = error::WriteNotPermitted;
    if (!err && value.size() > kMaxValueLength) err = error::InvalidAttributeValueLength;
    if (!err && !store(*a, value)) err = error::InvalidAttributeValueLength;
    if (command) return std::nullopt;  // a command gets no answer, not even an error
    if (err) return error_response(opcode, handle, err);
    return Bytes{op::WriteRsp};
}

Bytes Server::prepare_write(uint8_t opcode, ByteReader& r, const LinkSecurity& security) {
    uint16_t handle = r.u16le();
    uint16_t offset = r.u16le();
    if (!r.ok()) throw Malformed{};
    ByteView value = r.rest();
    Attribute* a = db_.find(handle);
    if (!a) return error_response(opcode, handle, error::InvalidHandle);
    if (uint8_t err = write_error(*a, security)) return error_response(opcode, handle, err);
    if (prepared_.size() >= kMaxPreparedWrites) return error_response(opcode, handle, error::PrepareQueueFull);
    prepared_.push_back({handle, offset, Bytes(value.begin(), value.end())});
    ByteWriter w;
    w.u8(op::PrepareWriteRsp).u16le(handle).u16le(offset).bytes(value);
    return w.take();
}

Bytes Server::execute_write(uint8_t opcode, ByteReader& r) {
    uint8_t flags = r.u8();
    require_done(r);
    if (flags > 1) return error_response(opcode, 0, error::InvalidPdu);
    std::vector<PreparedWrite> queue = std::move(prepared_);
    prepared_.clear();
    if (flags == 0) return Bytes{op::ExecuteWriteRsp};  // cancelled
    // Build every value first, in the order first prepared: an invalid
    // offset or length writes nothing at all.
    std::vector<std::pair<uint16_t, Bytes>> values;
    for (const auto& p : queue) {
        Attribute* a = db_.find(p.handle);
        if (!a) return error_response(opcode, p.handle, error::InvalidHandle);  // the services changed since
        auto it = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == p.handle; });
        // A long write is a whole new value (then stored as a write is:
        // replacing, or appended to an append buffer); a CCCD's fixed two
        // octets are written in place.
        if (it == values.end()) it = values.insert(values.end(), {p.handle, is_cccd(*a) ? value_of(*a) : Bytes{}});
        Bytes& v = it->second;
        if (p.offset > v.size()) return error_response(opcode, p.handle, error::InvalidOffset);
        size_t length = std::max(v.size(), p.offset + p.value.size());
        if (length > kMaxValueLength || (is_cccd(*a) && length > 2)) {
            return error_response(opcode, p.handle, error::InvalidAttributeValueLength);
        }
        v.resize(length);
        std::copy(p.value.begin(), p.value.end(), v.begin() + p.offset);
    }
    for (auto& [handle, value] : values) store(*db_.find(handle), value);
    return Bytes{op::ExecuteWriteRsp};
}

}  // namespace ubt::gatt
