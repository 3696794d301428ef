#pragma once
// l2cap::Kernel on the kernel's L2CAP sockets: listeners whose channels
// wait, unread, for the application's answer, and non-blocking connects;
// both hand over CocSockets. What the kernel does here is written up in
// docs/kernel-l2cap-coc.md. Event-loop thread only.

#include "core/event_loop.hpp"
#include "l2cap/kernel.hpp"

namespace ubt::linux_bt {

class CocKernel : public l2cap::Kernel {
public:
    explicit CocKernel(EventLoop& loop) : loop_(loop) {}

    std::unique_ptr<l2cap::Pending> listen(const LeAddress& local, uint16_t psm, uint16_t mtu,
                                           RequestHandler on_request) override;
    std::unique_ptr<l2cap::Pending> connect(const LeAddress& local, const LeAddress& peer, uint16_t psm,
                                            uint16_t mtu, ConnectHandler done) override;

    // The receive buffer of our channel sockets: small, so the peer has
    // only a couple of SDUs' credits beyond what the application drained.
    static constexpr int kReceiveBuffer = 1;  // the kernel makes it its minimum (2304 bytes)

private:
    EventLoop& loop_;
};

}  // namespace ubt::linux_bt
