#include "client.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "database.hpp"

namespace ubt::gatt {

namespace {

using namespace ubt::att;


[[noreturn]] void invalid(const std::string& message) { throw BleError(ErrorCode::InvalidArgs, message); }

void check_range(uint16_t start, uint16_t end) {
    if (start == 0 || start > end) {
        invalid("the handle range " + std::to_string(start) + "-" + std::to_string(end) +
                " is empty or starts at 0");
    }
}

// Every request we send is answered by the opcode after it.
uint8_t response_to(uint8_t request) { return static_cast<uint8_t>(request + 1); }

}  // namespace

Client::Client(uint16_t local_mtu, ClientEvents events)
    : local_mtu_(std::max(local_mtu, kDefaultMtu)), events_(std::move(events)) {}

void Client::enqueue(Procedure p) {
    if (queue_.size() >= kMaxQueued) {
        throw BleError(ErrorCode::Busy, std::to_string(kMaxQueued) + " GATT client operations are already waiting on this connection");
    }
    queue_.push_back(std::move(p));
}

void Client::discover_services(const std::optional<Uuid>& uuid) { enqueue(DiscoverServices{uuid}); }

void Client::discover_characteristics(uint16_t start, uint16_t end, const std::optional<Uuid>& uuid) {
    check_range(start, end);
    enqueue(DiscoverCharacteristics{start, end, uuid, std::nullopt});
}

void Client::discover_descriptors(uint16_t start, uint16_t end) {
    check_range(start, end);
    enqueue(DiscoverDescriptors{static_cast<uint32_t>(start) + 1, end});
}

void Client::read(uint16_t handle) {
    if (handle == 0) invalid("handle 0 is not an attribute");
    Read r;
    r.handle = handle;
    enqueue(std::move(r));
}

void Client::write(uint16_t handle, ByteView value) {
    if (handle == 0) invalid("handle 0 is not an attribute");
    if (value.size() > kMaxValueLength) {
        invalid("a value is at most " + std::to_string(kMaxValueLength) + " bytes, not " + std::to_string(value.size()));
    }
    Write w;
    w.handle = handle;
    w.value.assign(value.begin(), value.end());
    enqueue(std::move(w));
}

void Client::exchange_mtu() {
    if (mtu_requested_) {
        throw BleError(ErrorCode::InProgress, "this connection's MTU exchange was already requested (once per connection)");
    }
    enqueue(ExchangeMtu{});
    mtu_requested_ = true;
}

Bytes Client::write_command(uint16_t handle, ByteView value) const {
    if (handle == 0) invalid("handle 0 is not an attribute");
    if (value.size() > mtu_ - 3u) {
        invalid("a write without response carries at most ATT_MTU - 3 = " + std::to_string(mtu_ - 3) +
                " bytes on this connection, not " + std::to_string(value.size()));
    }
    ByteWriter w;
    w.u8(op::WriteCmd).u16le(handle).bytes(value);
    return w.take();
}

std::optional<Bytes> Client::next_request() {
    if (held_) {
        if (!resend_) return std::nullopt;  // waiting for security_raised()
        Bytes request = std::move(*held_);
        held_.reset();
        resend_ = false;
        outstanding_ = request[0];
        return request;
    }
    while (!outstanding_ && !queue_.empty()) {
        if (auto request = request_for(queue_.front())) {
            outstanding_ = (*request)[0];
            last_request_ = *request;
            return request;
        }
        finish(queue_.front(), status::Ok);
        queue_.pop_front();
    }
    return std::nullopt;
}

std::optional<Bytes> Client::request_for(Procedure& p) {
    ByteWriter w;
    if (auto* d = std::get_if<DiscoverServices>(&p)) {
        if (d->next > 0xffff) return std::nullopt;
        auto start = static_cast<uint16_t>(d->next);
        if (d->uuid) {
            w.u8(op::FindByTypeValueReq).u16le(start).u16le(0xffff).u16le(uuid16::PrimaryService).bytes(d->uuid->att_bytes());
        } else {
            w.u8(op::ReadByGroupTypeReq).u16le(start).u16le(0xffff).u16le(uuid16::PrimaryService);
        }
    } else if (auto* c = std::get_if<DiscoverCharacteristics>(&p)) {
        if (c->next > c->end) return std::nullopt;
        w.u8(op::ReadByTypeReq).u16le(static_cast<uint16_t>(c->next)).u16le(c->end).u16le(uuid16::Characteristic);
    } else if (auto* s = std::get_if<DiscoverDescriptors>(&p)) {
        if (s->next > s->end) return std::nullopt;
        w.u8(op::FindInformationReq).u16le(static_cast<uint16_t>(s->next)).u16le(s->end);
    } else if (auto* r = std::get_if<Read>(&p)) {
        if (r->done) return std::nullopt;
        if (!r->started) w.u8(op::ReadReq).u16le(r->handle);
        else w.u8(op::ReadBlobReq).u16le(r->handle).u16le(static_cast<uint16_t>(r->value.size()));
        r->started = true;
    } else if (auto* wr = std::get_if<Write>(&p)) {
        if (wr->done) return std::nullopt;
        size_t room = mtu_ - 3u;  // a Write Request's value
        if (!wr->long_write && wr->value.size() <= room) {
            w.u8(op::WriteReq).u16le(wr->handle).bytes(wr->value);
        } else if (!wr->executing) {
            // A long write: parts of ATT_MTU - 5 octets, then execute.
            wr->long_write = true;
            size_t part = std::min(wr->value.size() - wr->sent, room - 2u);
            w.u8(op::PrepareWriteReq).u16le(wr->handle).u16le(static_cast<uint16_t>(wr->sent))
                .bytes(ByteView(wr->value).subspan(wr->sent, part));
            wr->sending = part;
        } else {
            w.u8(op::ExecuteWriteReq).u8(wr->failed ? 0x00 : 0x01);
        }
    } else {
        auto& m = std::get<ExchangeMtu>(p);
        if (m.done) return std::nullopt;
        w.u8(op::ExchangeMtuReq).u16le(local_mtu_);
    }
    return w.take();
}

std::optional<Bytes> Client::handle(ByteView pdu) {
    if (pdu.empty()) return std::nullopt;
    uint8_t opcode = pdu[0];
    ByteReader r(pdu.subspan(1));
    if (opcode == op::HandleValueNtf || opcode == op::HandleValueInd) {
        uint16_t handle = r.u16le();
        if (!r.ok()) return std::nullopt;
        ByteView value = r.rest();
        // No attribute value is longer (Vol 3 Part F 3.2.9): not a valid PDU.
        if (value.size() > kMaxValueLength) return std::nullopt;
        if (opcode == op::HandleValueNtf) {
            if (events_.notified) events_.notified(handle, value);
            return std::nullopt;
        }
        if (events_.indicated) events_.indicated(handle, value);
        return Bytes{op::HandleValueCfm};
    }
    if (!outstanding_ || queue_.empty()) return std::nullopt;  // a response to nothing we asked
    if (opcode == op::ErrorRsp) {
        uint8_t request = r.u8();
        r.u16le();
        uint8_t code = r.u8();
        if (!r.done() || request != *outstanding_) return std::nullopt;
        outstanding_.reset();
        if (hold_for_security(queue_.front(), code)) {
            held_ = last_request_;
            held_error_ = code;
            return std::nullopt;
        }
        if (!on_error(queue_.front(), code)) queue_.pop_front();
        return std::nullopt;
    }
    if (opcode != response_to(*outstanding_)) return std::nullopt;
    outstanding_.reset();
    if (!on_response(queue_.front(), r.rest())) queue_.pop_front();
    return std::nullopt;
}

bool Client::end(Procedure& p, uint16_t status) {
    finish(p, status);
    return false;
}

bool Client::hold_for_security(Procedure& p, uint8_t code) {
    if (code != error::InsufficientAuthentication && code != error::InsufficientEncryption) return false;
    bool* secured = nullptr;
    if (auto* r = std::get_if<Read>(&p)) secured = &r->secured;
    if (auto* w = std::get_if<Write>(&p); w && !w->executing) secured = &w->secured;
    if (!secured || *secured || !events_.security_needed || !events_.security_needed(code)) return false;
    *secured = true;
    return true;
}

void Client::security_raised() { resend_ = held_.has_value(); }

void Client::security_failed() {
    if (!held_ || queue_.empty()) return;
    held_.reset();
    resend_ = false;
    if (!on_error(queue_.front(), held_error_)) queue_.pop_front();
}

bool Client::on_error(Procedure& p, uint8_t code) {
    bool not_found = code == error::AttributeNotFound;
    if (std::holds_alternative<DiscoverServices>(p) || std::holds_alternative<DiscoverCharacteristics>(p) ||
        std::holds_alternative<DiscoverDescriptors>(p)) {
        // Discovery ends with Attribute Not Found once nothing is left.
        return end(p, not_found ? status::Ok : static_cast<uint16_t>(status::AttBase + code));
    }
    if (auto* r = std::get_if<Read>(&p)) {
        // A long read's last Read Blob may find the value ended exactly.
        bool ended = !r->value.empty() && (code == error::AttributeNotLong || code == error::InvalidOffset);
        return end(p, ended ? status::Ok : static_cast<uint16_t>(status::AttBase + code));
    }
    if (auto* w = std::get_if<Write>(&p)) {
        if (w->long_write && !w->executing) {
            // Cancel what the server has queued, then report the error.
            w->executing = true;
            w->failed = static_cast<uint16_t>(status::AttBase + code);
            return true;
        }
        return end(p, w->failed ? *w->failed : static_cast<uint16_t>(status::AttBase + code));
    }
    return end(p, static_cast<uint16_t>(status::AttBase + code));
}

bool Client::on_response(Procedure& p, ByteView params) {
    if (auto* d = std::get_if<DiscoverServices>(&p)) return services_response(*d, params) || end(p, status::BadData);
    if (auto* c = std::get_if<DiscoverCharacteristics>(&p)) {
        return characteristics_response(*c, params) || end(p, status::BadData);
    }
    if (auto* s = std::get_if<DiscoverDescriptors>(&p)) return descriptors_response(*s, params) || end(p, status::BadData);
    if (auto* r = std::get_if<Read>(&p)) {
        size_t room = kMaxValueLength - r->value.size();
        r->value.insert(r->value.end(), params.begin(), params.begin() + static_cast<std::ptrdiff_t>(std::min(room, params.size())));
        // A response that fills ATT_MTU may have more after it.
        r->done = params.size() < mtu_ - 1u || r->value.size() >= kMaxValueLength;
        return true;
    }
    if (auto* w = std::get_if<Write>(&p)) return write_response(*w, params) || end(p, status::BadData);
    auto& m = std::get<ExchangeMtu>(p);
    ByteReader r(params);
    uint16_t server_mtu = r.u16le();
    if (!r.done()) return end(p, status::BadData);
    mtu_ = std::max(kDefaultMtu, std::min(local_mtu_, server_mtu));
    m.done = true;
    return true;
}

bool Client::services_response(DiscoverServices& d, ByteView params) {
    ByteReader r(params);
    size_t length = 4;  // Find By Type Value: start and end handles
    if (!d.uuid) {
        length = r.u8();
        if (length != 6 && length != 20) return false;
    }
    if (r.remaining() == 0 || r.remaining() % length != 0) return false;
    while (r.remaining() > 0) {
        uint16_t start = r.u16le();
        uint16_t end = r.u16le();
        std::optional<Uuid> uuid = d.uuid;
        if (!d.uuid) uuid = Uuid::from_att(r.bytes(length - 4));
        // Services come in handle order: anything else could loop forever.
        if (!r.ok() || !uuid || start < d.next || end < start) return false;
        if (events_.service) events_.service(start, end, *uuid);
        d.next = static_cast<uint32_t>(end) + 1;
    }
    return true;
}

void Client::report_characteristic(DiscoverCharacteristics& d, uint16_t end) {
    if (!d.held) return;
    const auto& c = *d.held;
    if (!d.uuid || c.uuid == *d.uuid) {
        if (events_.characteristic) events_.characteristic(end, c.value_handle, c.properties, c.uuid);
    }
    d.held.reset();
}

bool Client::characteristics_response(DiscoverCharacteristics& d, ByteView params) {
    ByteReader r(params);
    size_t length = r.u8();
    if (length != 7 && length != 21) return false;
    if (r.remaining() == 0 || r.remaining() % length != 0) return false;
    while (r.remaining() > 0) {
        uint16_t declaration = r.u16le();
        uint8_t properties = r.u8();
        uint16_t value_handle = r.u16le();
        auto uuid = Uuid::from_att(r.bytes(length - 5));
        if (!r.ok() || !uuid || declaration < d.next || declaration > d.end) return false;
        report_characteristic(d, static_cast<uint16_t>(declaration - 1));
        d.held = DiscoverCharacteristics::Found{declaration, value_handle, properties, *uuid};
        d.next = static_cast<uint32_t>(declaration) + 1;
    }
    return true;
}

bool Client::descriptors_response(DiscoverDescriptors& d, ByteView params) {
    ByteReader r(params);
    uint8_t format = r.u8();
    size_t uuid_size = format == 0x01 ? 2 : format == 0x02 ? 16 : 0;
    if (uuid_size == 0 || r.remaining() == 0 || r.remaining() % (2 + uuid_size) != 0) return false;
    while (r.remaining() > 0) {
        uint16_t handle = r.u16le();
        auto uuid = Uuid::from_att(r.bytes(uuid_size));
        if (!r.ok() || !uuid || handle < d.next || handle > d.end) return false;
        if (events_.descriptor) events_.descriptor(handle, *uuid);
        d.next = static_cast<uint32_t>(handle) + 1;
    }
    return true;
}

bool Client::write_response(Write& w, ByteView params) {
    if (!w.long_write || w.executing) {
        // Write Response or Execute Write Response: no parameters.
        if (!params.empty()) return false;
        w.done = true;
        return true;
    }
    // A Prepare Write Response echoes the part; a different echo means the
    // server queued something else, so the write is cancelled.
    ByteWriter expected;
    expected.u16le(w.handle).u16le(static_cast<uint16_t>(w.sent)).bytes(ByteView(w.value).subspan(w.sent, w.sending));
    if (!std::equal(params.begin(), params.end(), expected.data().begin(), expected.data().end())) {
        w.executing = true;
        w.failed = status::BadData;
        return true;
    }
    w.sent += w.sending;
    if (w.sent == w.value.size()) w.executing = true;
    return true;
}

void Client::finish(Procedure& p, uint16_t status) {
    if (auto* c = std::get_if<DiscoverCharacteristics>(&p)) report_characteristic(*c, c->end);
    std::visit(
        [&](auto& proc) {
            using T = std::decay_t<decltype(proc)>;
            if constexpr (std::is_same_v<T, DiscoverServices>) {
                if (events_.services_done) events_.services_done(status);
            } else if constexpr (std::is_same_v<T, DiscoverCharacteristics>) {
                if (events_.characteristics_done) events_.characteristics_done(status);
            } else if constexpr (std::is_same_v<T, DiscoverDescriptors>) {
                if (events_.descriptors_done) events_.descriptors_done(status);
            } else if constexpr (std::is_same_v<T, Read>) {
                if (status == status::Ok && events_.read_result) events_.read_result(proc.handle, proc.value);
                if (events_.read_done) events_.read_done(proc.handle, status);
            } else if constexpr (std::is_same_v<T, Write>) {
                uint16_t s = status == status::Ok && proc.failed ? *proc.failed : status;
                if (events_.write_done) events_.write_done(proc.handle, s);
            } else {
                // A server that cannot exchange leaves the MTU as it is; it is
                // reported so a script waiting for the event goes on.
                bool link_usable = status != status::NotConnected && status != status::Timeout;
                if (link_usable && events_.mtu_exchanged) {
                    events_.mtu_exchanged(mtu_);
                }
            }
        },
        p);
}

void Client::fail_all(uint16_t status) {
    outstanding_.reset();
    held_.reset();
    resend_ = false;
    std::deque<Procedure> queue = std::move(queue_);
    queue_.clear();
    for (auto& p : queue) finish(p, status);
}

}  // namespace ubt::gatt
