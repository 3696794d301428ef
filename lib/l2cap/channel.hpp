#pragma once
// One L2CAP LE credit-based channel with ubluetooth's semantics on top of
// the kernel's channel socket: l2cap_send that reports "stalled" and
// SEND_READY once the kernel takes data again, and l2cap_recvinto from a
// bounded buffer that the socket is only read into while it has room, so
// data the application has not drained stays with the kernel. No I/O of its
// own: the socket is an interface, tested with a fake.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "core/bytes.hpp"

namespace ubt::l2cap {

struct ChannelInfo {
    uint16_t conn_handle;
    uint16_t cid;  // our channel identifier
    uint16_t psm;
    uint16_t our_mtu;
    uint16_t peer_mtu;
};

// The kernel's side of a channel.
class Socket {
public:
    enum class Sent { Yes, NoRoom, Failed };
    virtual ~Socket() = default;
    // One SDU. NoRoom: the kernel cannot take it now (no credits); try again when writable.
    virtual Sent send(ByteView sdu) = 0;
    // One SDU the peer sent, or nullopt when none waits.
    virtual std::optional<Bytes> receive() = 0;
    virtual void watch_readable(bool on) = 0;
    virtual void watch_writable(bool on) = 0;
};

struct ChannelEvents {
    std::function<void()> received;                   // _IRQ_L2CAP_RECV: data to read now
    std::function<void(uint16_t status)> send_ready;  // _IRQ_L2CAP_SEND_READY
};

class Channel {
public:
    // buffer_limit: how many received bytes are held for recvinto before
    // the socket is no longer read (at least one SDU).
    Channel(ChannelInfo info, std::unique_ptr<Socket> socket, ChannelEvents events, size_t buffer_limit);

    const ChannelInfo& info() const { return info_; }

    // l2cap_send: the data is taken (or the call refused); false when the
    // channel is now stalled and the caller must wait for SEND_READY.
    // Throws BleError: InvalidArgs for a buffer larger than the peer's MTU
    // or twice ours, Busy while stalled, Failed when the channel is broken.
    bool send(ByteView sdu);
    // l2cap_recvinto(buf=None): the bytes waiting.
    size_t available() const { return buffered_; }
    // l2cap_recvinto(buf): up to max bytes, oldest first.
    Bytes receive(size_t max);

    // The socket has data, or room again.
    void readable();
    void writable();

private:
    void fill();

    ChannelInfo info_;
    std::unique_ptr<Socket> socket_;
    ChannelEvents events_;
    size_t buffer_limit_;
    std::deque<Bytes> received_;  // front partly read from read_offset_
    size_t read_offset_ = 0;
    size_t buffered_ = 0;
    bool reading_ = true;
    std::optional<Bytes> unsent_;  // taken while the kernel had no room: the channel is stalled
};

}  // namespace ubt::l2cap
