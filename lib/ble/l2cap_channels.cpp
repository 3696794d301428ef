#include "l2cap_channels.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <string>

#include "core/error.hpp"

namespace ubt::ble {

namespace {

std::string channel_name(uint16_t conn_handle, uint16_t cid) {
    return "channel " + std::to_string(cid) + " on connection " + std::to_string(conn_handle);
}

}  // namespace

void L2capChannels::check(uint16_t psm, uint16_t mtu) {
    if (psm == 0 || psm > L2capChannels::kMaxPsm) {
        throw BleError(ErrorCode::InvalidArgs,
                       "LE PSMs are 1 to 255 (below 128 for the system), not " + std::to_string(psm));
    }
    if (mtu < L2capChannels::kMinMtu) {
        throw BleError(ErrorCode::InvalidArgs, "an L2CAP channel's MTU is at least 23, not " + std::to_string(mtu));
    }
}

L2capChannels::L2capChannels(Timers& timers, EventQueue& events) : timers_(timers), events_(events) {}

L2capChannels::~L2capChannels() {
    for (auto& [id, asking] : asking_) timers_.cancel(asking.timer);
    timers_.cancel(sweep_timer_);
}

l2cap::Kernel& L2capChannels::kernel() const {
    if (!kernel_) throw BleError(ErrorCode::NotSupported, "L2CAP channels are not available on this adapter");
    return *kernel_;
}

void L2capChannels::listen(const LeAddress& local, uint16_t psm, uint16_t mtu) {
    check(psm, mtu);
    if (listeners_.count(psm)) {
        throw BleError(ErrorCode::Busy, "already listening on PSM " + std::to_string(psm));
    }
    std::weak_ptr<L2capChannels*> self = self_;
    listeners_[psm] = kernel().listen(local, psm, mtu,
                                      [self](const l2cap::ChannelInfo& info, std::unique_ptr<l2cap::Request> request) {
                                          if (auto s = self.lock()) (*s)->requested(info, std::move(request));
                                      });
}

void L2capChannels::requested(const l2cap::ChannelInfo& info, std::unique_ptr<l2cap::Request> request) {
    // A link whose end (and the start of a new link with its handle) we have
    // not seen yet would end the channel at once, or the wrong one later.
    if (link_check_ && !link_check_(info.conn_handle)) {
        spdlog::warn("L2CAP {} is on a link this adapter does not have: closed",
                     channel_name(info.conn_handle, info.cid));
        return;  // destroying the request closes the channel
    }
    retire({info.conn_handle, info.cid});
    events_.push(L2capAccept{{info.conn_handle, info.cid, info.psm, info.our_mtu, info.peer_mtu}});
    uint64_t ask = next_id_++;
    asking_[ask] = Asking{info, std::move(request), 0};
    if (!asker_) {
        answered(ask, 0u);
        return;
    }
    std::weak_ptr<L2capChannels*> self = self_;
    asking_[ask].request->on_hang_up([self, ask] {
        if (auto s = self.lock()) (*s)->undecided(ask, ECONNRESET);  // the peer closed it meanwhile
    });
    asking_[ask].timer = timers_.start(kAcceptTimeout, [self, ask] {
        if (auto s = self.lock()) (*s)->undecided(ask, ETIMEDOUT);
    });
    asker_(info, [self, ask](std::optional<uint32_t> status) {
        auto s = self.lock();
        if (!s) return;
        if (status) (*s)->answered(ask, *status);
        else (*s)->undecided(ask, ECONNREFUSED);
    });
}

void L2capChannels::answered(uint64_t ask, uint32_t status) {
    auto it = asking_.find(ask);
    if (it == asking_.end()) return;  // answered already, or the link went
    Asking asking = std::move(it->second);
    asking_.erase(it);
    timers_.cancel(asking.timer);
    const l2cap::ChannelInfo& info = asking.info;
    if (status != 0) return;  // the application refused it (destroying the request tells the peer)
    l2cap::ChannelInfo accepted = info;
    int error = 0;
    auto socket = asking.request->accept(accepted, error);
    if (!socket) {
        events_.push(L2capDisconnect{info.conn_handle, info.cid, info.psm, static_cast<uint32_t>(error)});
        return;
    }
    open(accepted, std::move(socket));
}

void L2capChannels::end_asks(const std::function<bool(uint64_t, const Asking&)>& match, uint32_t reason) {
    for (auto it = asking_.begin(); it != asking_.end();) {
        if (!match(it->first, it->second)) {
            ++it;
            continue;
        }
        const l2cap::ChannelInfo& info = it->second.info;
        events_.push(L2capDisconnect{info.conn_handle, info.cid, info.psm, reason});
        timers_.cancel(it->second.timer);
        it = asking_.erase(it);  // a request that called us may be destroyed here: Request allows it
    }
}

void L2capChannels::end_attempts(const std::function<bool(const Connecting&)>& match) {
    for (auto it = connecting_.begin(); it != connecting_.end();) {
        if (!match(it->second)) {
            ++it;
            continue;
        }
        // Left alone, the kernel would scan for the peer and make a new link.
        events_.push(L2capDisconnect{it->second.conn_handle, 0, it->second.psm, ECONNRESET});
        it = connecting_.erase(it);
    }
}

void L2capChannels::undecided(uint64_t ask, uint32_t reason) {
    // Refused, and said so, as the application never decided.
    end_asks([ask](uint64_t id, const Asking&) { return id == ask; }, reason);
}

void L2capChannels::retire(Key key) {
    end_asks([key](uint64_t, const Asking& a) { return Key{a.info.conn_handle, a.info.cid} == key; }, ECONNRESET);
    if (auto it = channels_.find(key); it != channels_.end() && it->second->open()) it->second->end();
}

void L2capChannels::connect(uint16_t conn_handle, const LeAddress& local, const LeAddress& peer, uint16_t psm,
                            uint16_t mtu) {
    check(psm, mtu);
    if (connecting_.size() >= kMaxAttempts) {
        throw BleError(ErrorCode::Busy, std::to_string(kMaxAttempts) + " L2CAP channels are being opened already");
    }
    uint64_t attempt = next_id_++;
    std::weak_ptr<L2capChannels*> self = self_;
    auto pending = kernel().connect(local, peer, psm, mtu,
                                    [self, attempt](std::unique_ptr<l2cap::Socket> socket,
                                                    const l2cap::ChannelInfo& info, int error) {
                                        if (auto s = self.lock()) (*s)->connected(attempt, std::move(socket), info, error);
                                    });
    connecting_[attempt] = Connecting{conn_handle, psm, std::move(pending)};
}

void L2capChannels::connected(uint64_t attempt, std::unique_ptr<l2cap::Socket> socket,
                              const l2cap::ChannelInfo& info, int error) {
    if (link_check_) link_check_(info.conn_handle);  // a link that ended meanwhile ends the attempt (104)
    auto it = connecting_.find(attempt);
    if (it == connecting_.end()) return;
    uint16_t conn_handle = it->second.conn_handle;
    uint16_t psm = it->second.psm;
    connecting_.erase(it);  // the attempt's object called us: Kernel allows destroying it here
    if (!socket) {
        events_.push(L2capDisconnect{conn_handle, info.cid, psm, static_cast<uint32_t>(error ? error : ECONNREFUSED)});
        return;
    }
    open(info, std::move(socket));
}

void L2capChannels::open(const l2cap::ChannelInfo& info, std::unique_ptr<l2cap::Socket> socket) {
    Key key{info.conn_handle, info.cid};
    retire(key);
    // A channel that ended with data still unread goes when the kernel reuses its numbers.
    if (auto old = channels_.find(key); old != channels_.end()) {
        if (size_t unread = old->second->available()) {
            spdlog::warn("L2CAP {} ended with {} bytes unread: dropped, as the kernel gave its numbers to a new channel",
                         channel_name(key.first, key.second), unread);
        }
        channels_.erase(old);
    }
    std::weak_ptr<L2capChannels*> self = self_;
    l2cap::ChannelEvents events{
        [this, info] { events_.push(L2capRecv{info.conn_handle, info.cid}); },
        [this, info](uint16_t status) { events_.push(L2capSendReady{info.conn_handle, info.cid, status}); },
        [this, info, self] {
            events_.push(L2capDisconnect{info.conn_handle, info.cid, info.psm, 0});
            std::erase(ended_, Key{info.conn_handle, info.cid});  // an earlier channel with these numbers
            ended_.push_back({info.conn_handle, info.cid});
            // Reported from inside the channel's socket: forgotten later, not now.
            if (sweep_timer_ == 0) {
                sweep_timer_ = timers_.start(std::chrono::milliseconds(0), [self] {
                    if (auto s = self.lock()) (*s)->sweep();
                });
            }
        }};
    auto channel = std::make_unique<l2cap::Channel>(info, std::move(socket), std::move(events), info.our_mtu);
    events_.push(L2capConnect{{info.conn_handle, info.cid, info.psm, info.our_mtu, info.peer_mtu}});
    channels_[key] = std::move(channel);
}

void L2capChannels::sweep() {
    sweep_timer_ = 0;
    std::erase_if(channels_, [](const auto& entry) { return !entry.second->open() && entry.second->available() == 0; });
    std::erase_if(ended_, [this](const Key& key) {
        auto it = channels_.find(key);
        return it == channels_.end() || it->second->open();  // forgotten, or its numbers reused
    });
    while (ended_.size() > kMaxEndedChannels) {
        auto it = channels_.find(ended_.front());
        spdlog::warn("L2CAP {} ended with {} bytes unread: dropped, as more than {} ended channels wait to be read",
                     channel_name(it->first.first, it->first.second), it->second->available(), kMaxEndedChannels);
        channels_.erase(it);
        ended_.pop_front();
    }
}

l2cap::Channel& L2capChannels::channel(uint16_t conn_handle, uint16_t cid) const {
    auto it = channels_.find({conn_handle, cid});
    if (it == channels_.end()) {
        throw BleError(ErrorCode::NotFound, "no L2CAP " + channel_name(conn_handle, cid));
    }
    return *it->second;
}

void L2capChannels::disconnect(uint16_t conn_handle, uint16_t cid) {
    l2cap::Channel& c = channel(conn_handle, cid);
    bool was_open = c.open();
    uint16_t psm = c.info().psm;
    channels_.erase({conn_handle, cid});  // closing the socket asks the peer to disconnect
    if (was_open) events_.push(L2capDisconnect{conn_handle, cid, psm, 0});
}

bool L2capChannels::send(uint16_t conn_handle, uint16_t cid, ByteView data) {
    return channel(conn_handle, cid).send(data);
}

size_t L2capChannels::available(uint16_t conn_handle, uint16_t cid) const {
    return channel(conn_handle, cid).available();
}

Bytes L2capChannels::receive(uint16_t conn_handle, uint16_t cid, size_t max) {
    l2cap::Channel& c = channel(conn_handle, cid);
    if (!c.open() && c.available() == 0) {
        channels_.erase({conn_handle, cid});
        throw BleError(ErrorCode::NotFound, "the L2CAP " + channel_name(conn_handle, cid) + " has disconnected");
    }
    Bytes data = c.receive(max);
    if (!c.open() && c.available() == 0) channels_.erase({conn_handle, cid});  // the last of a closed channel
    return data;
}

std::pair<int, Bytes> L2capChannels::release(uint16_t conn_handle, uint16_t cid) {
    auto handed = channel(conn_handle, cid).release();
    channels_.erase({conn_handle, cid});
    return handed;
}

void L2capChannels::link_ended(uint16_t conn_handle) {
    // The kernel queued the link's last data before it reported the end:
    // channels end now, before the GAP event, as NimBLE orders them.
    for (auto& [key, channel] : channels_) {
        if (key.first == conn_handle && channel->open()) channel->end();
    }
    end_attempts([conn_handle](const Connecting& c) { return c.conn_handle == conn_handle; });
    end_asks([conn_handle](uint64_t, const Asking& a) { return a.info.conn_handle == conn_handle; }, ECONNRESET);
}

void L2capChannels::stop() {
    end_asks([](uint64_t, const Asking&) { return true; }, ECONNRESET);
    end_attempts([](const Connecting&) { return true; });
    listeners_.clear();
}

}  // namespace ubt::ble
