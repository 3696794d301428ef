#include "connections.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace ubt::gap {

namespace {

[[noreturn]] void invalid(const std::string& message) { throw BleError(ErrorCode::InvalidArgs, message); }

constexpr uint32_t kIntervalUnitUs = 1250;
constexpr size_t kMaxAbandoned = 8;
// HCI statuses after which a Disconnect still ends in Disconnection Complete.
constexpr uint8_t kUnknownConnection = 0x02;
constexpr uint8_t kCommandDisallowed = 0x0c;

}  // namespace

Connections::Connections(hci::HciClient& hci, LeFeatures& features, Timers& timers, ConnectionEvents events)
    : hci_(hci), features_(features), timers_(timers), events_(std::move(events)) {}

Connections::~Connections() {
    if (attempt_) timers_.cancel(attempt_->timer);
}

bool Connections::connected_to(const LeAddress& peer) const {
    return std::any_of(connections_.begin(), connections_.end(),
                       [&](const auto& entry) { return entry.second.peer == peer; });
}

hci::ConnectParameters Connections::parameters(const ConnectRequest& request) const {
    if (request.peer.type > 1) {
        invalid("addr_type must be 0 (public) or 1 (random), not " + std::to_string(request.peer.type));
    }
    hci::ConnectParameters p;
    p.peer = request.peer;
    if (request.min_interval_us || request.max_interval_us) {
        uint32_t min_us = request.min_interval_us.value_or(*request.max_interval_us);
        uint32_t max_us = request.max_interval_us.value_or(min_us);
        for (uint32_t us : {min_us, max_us}) {
            if (us < kMinIntervalUs || us > kMaxIntervalUs) {
                invalid("connection intervals must be between 7500 and 4000000 us, not " + std::to_string(us));
            }
        }
        if (min_us > max_us) invalid("min_conn_interval_us is greater than max_conn_interval_us");
        p.min_interval = static_cast<uint16_t>(min_us / kIntervalUnitUs);
        p.max_interval = static_cast<uint16_t>(max_us / kIntervalUnitUs);
    }
    // Above twice the longest interval, as the Core spec requires (units of 10 ms).
    p.supervision_timeout = std::max<uint16_t>(p.supervision_timeout, static_cast<uint16_t>(p.max_interval / 4 + 1));
    if (attempt_) throw BleError(ErrorCode::InProgress, "a gap_connect is already pending; cancel it with gap_connect(None)");
    if (connected_to(request.peer)) {
        throw BleError(ErrorCode::Busy, "already connected to " + request.peer.address.to_string());
    }
    return p;
}

void Connections::connect(const ConnectRequest& request, const LeAddress& own) {
    hci::ConnectParameters p = parameters(request);
    p.own_address_type = own.type;
    if (own.type == 1) {
        // Disallowed while advertising from a random address: that one is ours too.
        auto r = hci_.command(hci::le_set_random_address(own.address));
        if (r.status != 0 && r.status != kCommandDisallowed) {
            throw BleError(ErrorCode::Failed, std::string("the controller refused LE Set Random Address: ") +
                                                  hci::status_name(r.status));
        }
    }
    if (features_.extended()) {
        hci_.checked(hci::le_ext_create_connection(p), "LE Extended Create Connection");
    } else {
        hci_.checked(hci::le_create_connection(p), "LE Create Connection");
    }
    uint32_t duration = request.scan_duration_ms ? request.scan_duration_ms : kDefaultScanDurationMs;
    Timers::Id timer = timers_.start(std::chrono::milliseconds(duration), [this] {
        if (!attempt_) return;
        attempt_->timer = 0;
        fail_attempt(true);
    });
    std::erase(abandoned_, request.peer);  // this attempt owns whatever the controller completes now
    attempt_ = Attempt{request.peer, timer};
}

void Connections::cancel() {
    if (!attempt_) throw BleError(ErrorCode::NotFound, "no gap_connect is pending");
    fail_attempt(true);
}

void Connections::fail_attempt(bool cancel) {
    Attempt a = *attempt_;
    attempt_.reset();
    timers_.cancel(a.timer);
    if (cancel) {
        // Refused when the connection has just been made: then the link is
        // ended when its event comes.
        bool cancelled = false;
        try {
            cancelled = hci_.command(hci::le_create_connection_cancel()).status == 0;
        } catch (const std::exception&) {
            // No answer (the controller is going away): treat as refused.
        }
        if (cancelled) {
            cancel_echo_due_ = true;
        } else {
            if (abandoned_.size() == kMaxAbandoned) abandoned_.erase(abandoned_.begin());
            abandoned_.push_back(a.peer);
        }
    }
    events_.disconnected(true, kNoHandle, a.peer);
}

bool Connections::disconnect(uint16_t handle) {
    if (!connections_.count(handle)) return false;
    auto result = hci_.command(hci::disconnect(handle, hci::kRemoteUserTerminated));
    // Unknown connection or disallowed: the link is already going, and its
    // Disconnection Complete is on its way.
    if (result.status != 0 && result.status != kUnknownConnection && result.status != kCommandDisallowed) {
        throw BleError(ErrorCode::Failed, std::string("the controller refused Disconnect: ") +
                                              hci::status_name(result.status));
    }
    return true;
}

void Connections::attach(uint16_t handle, std::unique_ptr<Link> link) {
    if (auto it = connections_.find(handle); it != connections_.end()) {
        it->second.link = std::move(link);
    } else {
        unclaimed_links_[handle] = std::move(link);
    }
}

Link* Connections::link(uint16_t handle) {
    if (auto it = connections_.find(handle); it != connections_.end()) return it->second.link.get();
    if (auto it = unclaimed_links_.find(handle); it != unclaimed_links_.end()) return it->second.get();
    return nullptr;
}

void Connections::on_le_meta(const hci::LeMeta& meta) {
    if (auto c = hci::decode_connection_complete(meta)) {
        on_connection_complete(*c);
    } else if (auto u = hci::decode_connection_update(meta)) {
        if (connections_.count(u->handle)) events_.updated(*u);
    }
}

void Connections::on_connection_complete(const hci::ConnectionComplete& c) {
    bool central = c.role == hci::kRoleCentral;
    if (c.status != 0) {
        if (cancel_echo_due_) {
            cancel_echo_due_ = false;  // the end of an attempt already reported
        } else if (attempt_) {
            fail_attempt(false);  // the controller gave up on it
        }
        return;
    }
    LeAddress peer{c.peer_addr_type, c.peer};
    // The controller runs one initiator: a central link while ours is pending
    // is ours, even under another address (an identity resolved from an RPA).
    if (central && attempt_) {
        timers_.cancel(attempt_->timer);
        attempt_.reset();
    } else if (central && std::find(abandoned_.begin(), abandoned_.end(), peer) != abandoned_.end()) {
        // Completed after we reported it failed: end it quietly.
        std::erase(abandoned_, peer);
        discarding_.insert(c.handle);
        try {
            hci_.command(hci::disconnect(c.handle, hci::kRemoteUserTerminated));
        } catch (const std::exception&) {
            // Then it stays up, unreported, until the peer or the kernel ends it.
        }
        return;
    }
    std::unique_ptr<Link> link;
    if (auto it = unclaimed_links_.find(c.handle); it != unclaimed_links_.end()) {
        link = std::move(it->second);
        unclaimed_links_.erase(it);
    }
    connections_[c.handle] = Connection{central, peer, std::move(link)};
    events_.connected(central, c.handle, peer);
}

void Connections::on_disconnection_complete(ByteView params) {
    auto d = hci::decode_disconnection_complete(params);
    if (!d || d->status != 0) return;
    unclaimed_links_.erase(d->handle);
    if (discarding_.erase(d->handle)) return;
    auto it = connections_.find(d->handle);
    if (it == connections_.end()) return;
    Connection c = std::move(it->second);
    connections_.erase(it);
    events_.disconnected(c.we_are_central, d->handle, c.peer);
}

bool Connections::on_encryption_event(const hci::Event& event) {
    if (event.code != hci::ev::EncryptionChange && event.code != hci::ev::EncryptionChangeV2 &&
        event.code != hci::ev::EncryptionKeyRefreshComplete) {
        return false;
    }
    auto e = hci::decode_encryption_event(event);
    // A failed change or refresh is not a change: see encryption_changed.
    if (!e || e->status != 0) return true;
    auto it = connections_.find(e->handle);
    if (it == connections_.end()) return true;
    bool encrypted = e->enabled != 0;
    it->second.encrypted = encrypted;
    if (events_.encryption_changed) events_.encryption_changed(e->handle, encrypted);
    return true;
}

void Connections::on_power_off() {
    if (attempt_) fail_attempt(false);
    auto ended = std::move(connections_);
    connections_.clear();
    unclaimed_links_.clear();
    abandoned_.clear();
    discarding_.clear();
    cancel_echo_due_ = false;
    for (auto& [handle, c] : ended) events_.disconnected(c.we_are_central, handle, c.peer);
}

}  // namespace ubt::gap
