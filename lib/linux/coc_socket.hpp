#pragma once
// A connected L2CAP LE credit-based channel as a kernel socket
// (SOCK_SEQPACKET, one SDU per message), watched on the event loop: what
// l2cap::Channel needs from the kernel. Owns the socket until release().
// Event-loop thread only.

#include "core/event_loop.hpp"
#include "fd.hpp"
#include "l2cap/channel.hpp"

namespace ubt::linux_bt {

class CocSocket : public l2cap::Socket {
public:
    // fd: a connected channel socket, non-blocking, with these numbers. Its
    // send buffer is made large enough for an SDU of the peer's MTU.
    CocSocket(EventLoop& loop, UniqueFd fd, const l2cap::ChannelInfo& info);
    ~CocSocket() override;
    CocSocket(const CocSocket&) = delete;
    CocSocket& operator=(const CocSocket&) = delete;

    // The numbers the kernel gave a connected channel; throws std::system_error.
    static l2cap::ChannelInfo info_of(int fd, uint16_t psm);

    void start(l2cap::SocketEvents events) override;
    Sent send(ByteView sdu) override;
    std::optional<Bytes> receive() override;
    void watch_readable(bool on) override;
    void watch_writable(bool on) override;
    int release() override;

private:
    void update_watch();
    void stop_watching();
    void on_events(uint32_t events);

    EventLoop& loop_;
    UniqueFd fd_;
    Bytes scratch_;  // one SDU of our MTU
    l2cap::SocketEvents events_;
    bool watching_ = false;
    bool readable_wanted_ = true;
    bool writable_wanted_ = false;
};

}  // namespace ubt::linux_bt
