#pragma once
// One L2CAP LE credit-based channel with ubluetooth's semantics on top of
// the kernel's channel socket: l2cap_send that reports "stalled" and
// SEND_READY once the kernel takes data again, and l2cap_recvinto from a
// bounded buffer that the socket is only read into while it has room, so
// data the application has not drained stays with the kernel and the peer
// gets no credits for it. No I/O of its own: the socket is an interface,
// tested with a fake. Event-loop thread only.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "core/bytes.hpp"

namespace ubt::l2cap {

struct ChannelInfo {
    uint16_t conn_handle = 0;
    uint16_t cid = 0;  // our channel identifier
    uint16_t psm = 0;
    uint16_t our_mtu = 0;
    uint16_t peer_mtu = 0;
};

// What the kernel's socket reports.
struct SocketEvents {
    std::function<void()> readable;
    std::function<void()> writable;
    std::function<void()> hung_up;  // the channel ended; queued SDUs are still readable
};

// The kernel's side of a connected channel.
class Socket {
public:
    enum class Sent { Yes, NoRoom, Failed };
    virtual ~Socket() = default;
    // Starts reporting; the socket is read from the start.
    virtual void start(SocketEvents events) = 0;
    // One SDU. NoRoom: the kernel cannot take it now (no credits); try again when writable.
    virtual Sent send(ByteView sdu) = 0;
    // One SDU the peer sent, or nullopt when none waits (also after a hang-up,
    // once the queue is empty).
    virtual std::optional<Bytes> receive() = 0;
    virtual void watch_readable(bool on) = 0;
    virtual void watch_writable(bool on) = 0;
    // Hands the kernel socket over: its file descriptor, now the caller's to
    // close; the object reports and does nothing more.
    virtual int release() = 0;
};

struct ChannelEvents {
    std::function<void()> received;                   // _IRQ_L2CAP_RECV: data to read now
    std::function<void(uint16_t status)> send_ready;  // _IRQ_L2CAP_SEND_READY
    std::function<void()> disconnected;               // _IRQ_L2CAP_DISCONNECT (status 0)
};

class Channel {
public:
    // buffer_limit: how many received bytes are held for recvinto before
    // the socket is no longer read (at least one SDU of our MTU).
    Channel(ChannelInfo info, std::unique_ptr<Socket> socket, ChannelEvents events, size_t buffer_limit);

    const ChannelInfo& info() const { return info_; }
    // False once the channel has disconnected or been handed over.
    bool open() const { return !ended_; }

    // l2cap_send: the data is taken (or the call refused); false when the
    // channel is now stalled and the caller must wait for SEND_READY.
    // Throws BleError: InvalidArgs for an empty buffer or one larger than
    // the peer's MTU or twice ours, Busy while stalled, NotFound once the
    // channel has disconnected, Failed when the kernel refused the data.
    bool send(ByteView sdu);
    // l2cap_recvinto(buf=None): the bytes waiting.
    size_t available() const { return buffered_; }
    // l2cap_recvinto(buf): up to max bytes, oldest first. After a disconnect
    // the bytes that had arrived stay readable.
    Bytes receive(size_t max);

    // Hands the channel over (the file-descriptor path): its socket's file
    // descriptor, and the bytes already taken from it that recvinto has not
    // returned, which come before anything read from the descriptor. The
    // channel is closed afterwards, without events. Throws BleError: Busy
    // while stalled (the unsent SDU is still ours), NotFound when closed.
    std::pair<int, Bytes> release();

    // The channel ended (its socket hung up, or its link went): what the
    // peer sent stays readable, DISCONNECT is raised, nothing more is sent.
    void end();

private:
    void readable();
    void writable();
    // Reads SDUs while the buffer has room (or all of them, once hung up).
    void fill(bool all);

    ChannelInfo info_;
    // Kept until the channel is destroyed, even once ended: a hang-up is
    // reported from inside the socket's own event handler.
    std::unique_ptr<Socket> socket_;
    bool ended_ = false;
    ChannelEvents events_;
    size_t buffer_limit_;
    std::deque<Bytes> received_;  // front partly read from read_offset_
    size_t read_offset_ = 0;
    size_t buffered_ = 0;
    bool reading_ = true;
    std::optional<Bytes> unsent_;  // taken while the kernel had no room: the channel is stalled
};

}  // namespace ubt::l2cap
