#pragma once
// The adapter's L2CAP connection-oriented channels: the PSMs it listens on,
// the peer's requests waiting for the application's answer
// (_IRQ_L2CAP_ACCEPT), the channels it is opening, and the open channels
// by (conn_handle, cid), with their IRQ events. Any number of channels, per
// link and per PSM, as the kernel allows. Owns them all; opens them through
// an l2cap::Kernel it borrows. Event-loop thread only.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "core/timers.hpp"
#include "event_queue.hpp"
#include "l2cap/kernel.hpp"

namespace ubt::ble {

// Asks the application whether to accept a channel the peer opened;
// answer(0) accepts, another status refuses, nullopt says the application
// could not be asked (refused, with L2capDisconnect 111). answer() may be
// called later, or never.
using L2capAcceptAsker = std::function<void(const l2cap::ChannelInfo& info,
                                            std::function<void(std::optional<uint32_t> status)> answer)>;

class L2capChannels {
public:
    L2capChannels(Timers& timers, EventQueue& events);
    ~L2capChannels();
    L2capChannels(const L2capChannels&) = delete;
    L2capChannels& operator=(const L2capChannels&) = delete;

    // Without a kernel, listen and connect are NotSupported.
    void set_kernel(l2cap::Kernel* kernel) { kernel_ = kernel; }
    // nullptr: channels are accepted without asking.
    void set_accept_asker(L2capAcceptAsker asker) { asker_ = std::move(asker); }
    // Brings the adapter's link table up to date with the kernel's events
    // (they come on another socket), then says whether conn_handle is one
    // of its links. Called before a channel the kernel reports is taken.
    void set_link_check(std::function<bool(uint16_t conn_handle)> check) { link_check_ = std::move(check); }

    // InvalidArgs for a PSM outside 1-255 or an MTU below 23.
    static void check(uint16_t psm, uint16_t mtu);

    // Throw BleError: InvalidArgs for a PSM outside 1-255 or an MTU below
    // 23, Busy for a PSM already listened on or kMaxAttempts opening,
    // NotFound for a channel that is not there, Failed when the kernel refuses.
    void listen(const LeAddress& local, uint16_t psm, uint16_t mtu);
    void connect(uint16_t conn_handle, const LeAddress& local, const LeAddress& peer, uint16_t psm, uint16_t mtu);
    void disconnect(uint16_t conn_handle, uint16_t cid);
    bool send(uint16_t conn_handle, uint16_t cid, ByteView data);
    size_t available(uint16_t conn_handle, uint16_t cid) const;
    Bytes receive(uint16_t conn_handle, uint16_t cid, size_t max);
    // The file-descriptor path: see l2cap::Channel::release.
    std::pair<int, Bytes> release(uint16_t conn_handle, uint16_t cid);

    // The link went: its channels, attempts and requests end.
    void link_ended(uint16_t conn_handle);
    // The radio went off: nothing is listened on or opened any more.
    void stop();

    // How long the application may take to answer _IRQ_L2CAP_ACCEPT; the
    // peer's channel waits, unread, meanwhile.
    static constexpr std::chrono::seconds kAcceptTimeout{5};
    static constexpr uint16_t kMinMtu = 23;
    static constexpr uint16_t kMaxPsm = 0xff;
    // Ended channels whose data is still unread; beyond this many the
    // oldest go, so peers that open and close channels cannot grow memory.
    static constexpr size_t kMaxEndedChannels = 64;
    // Channels being opened at once (each holds a socket for up to 40 s);
    // more are Busy. A link has room for 64 channels.
    static constexpr size_t kMaxAttempts = 64;

private:
    using Key = std::pair<uint16_t, uint16_t>;  // conn_handle, cid
    struct Asking {
        l2cap::ChannelInfo info;
        std::unique_ptr<l2cap::Request> request;
        Timers::Id timer = 0;
    };
    struct Connecting {
        uint16_t conn_handle;
        uint16_t psm;
        std::unique_ptr<l2cap::Pending> pending;
    };

    l2cap::Kernel& kernel() const;
    void requested(const l2cap::ChannelInfo& info, std::unique_ptr<l2cap::Request> request);
    void answered(uint64_t ask, uint32_t status);
    // No decision came: refused, with L2capDisconnect(reason).
    void undecided(uint64_t ask, uint32_t reason);
    // Ends the matching asks (refused, L2capDisconnect with reason) and attempts (104).
    void end_asks(const std::function<bool(uint64_t ask, const Asking&)>& match, uint32_t reason);
    void end_attempts(const std::function<bool(const Connecting&)>& match);
    // The kernel gave a new channel these numbers: whatever still had them
    // (a request or channel whose end we have not seen yet) is gone.
    void retire(Key key);
    void connected(uint64_t attempt, std::unique_ptr<l2cap::Socket> socket, const l2cap::ChannelInfo& info,
                   int error);
    void open(const l2cap::ChannelInfo& info, std::unique_ptr<l2cap::Socket> socket);
    l2cap::Channel& channel(uint16_t conn_handle, uint16_t cid) const;
    // Forgets channels that ended and have nothing left to read, and the
    // oldest ended ones beyond kMaxEndedChannels.
    void sweep();

    Timers& timers_;
    EventQueue& events_;
    l2cap::Kernel* kernel_ = nullptr;
    L2capAcceptAsker asker_;
    std::function<bool(uint16_t)> link_check_;
    std::map<uint16_t, std::unique_ptr<l2cap::Pending>> listeners_;  // by PSM
    std::map<uint64_t, Asking> asking_;
    std::map<uint64_t, Connecting> connecting_;
    std::map<Key, std::unique_ptr<l2cap::Channel>> channels_;
    std::deque<Key> ended_;  // oldest first, each once; may name channels forgotten since
    uint64_t next_id_ = 1;
    Timers::Id sweep_timer_ = 0;
    // Answers and kernel callbacks that come after this object is gone find it expired.
    std::shared_ptr<L2capChannels*> self_ = std::make_shared<L2capChannels*>(this);
};

}  // namespace ubt::ble
