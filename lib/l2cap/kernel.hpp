#pragma once
// How channels are opened: listening on a PSM, the peer's requests held
// until the application accepts or rejects them, and channels we ask the
// peer for. An interface over the kernel's L2CAP sockets, so the channel
// table is tested without sockets. Destroying what listen() or connect()
// returned stops listening, or abandons the attempt.

#include <functional>
#include <memory>

#include "channel.hpp"
#include "core/address.hpp"

namespace ubt::l2cap {

// A channel the peer opened, waiting for the application's answer; nothing
// is read from it meanwhile. Destroying one that was not accepted closes it.
class Request {
public:
    virtual ~Request() = default;
    // Reports the peer closing the channel while it waits (once; the
    // handler may destroy the request).
    virtual void on_hang_up(std::function<void()> hung_up) = 0;
    // Accepts: the channel's socket (info updated should its numbers have
    // changed), or nullptr and an errno when the channel went.
    virtual std::unique_ptr<Socket> accept(ChannelInfo& info, int& error) = 0;
};

class Pending {
public:
    virtual ~Pending() = default;
};

class Kernel {
public:
    using RequestHandler = std::function<void(const ChannelInfo& info, std::unique_ptr<Request> request)>;
    // socket is null, and error an errno, when the channel did not open.
    using ConnectHandler = std::function<void(std::unique_ptr<Socket> socket, const ChannelInfo& info, int error)>;

    virtual ~Kernel() = default;
    // Channels opened to psm at our address local; each comes to
    // on_request with its numbers. Throws
    // BleError: Busy when the PSM is taken, Failed with the kernel's reason.
    virtual std::unique_ptr<Pending> listen(const LeAddress& local, uint16_t psm, uint16_t mtu,
                                            RequestHandler on_request) = 0;
    // A channel to psm at the peer (over the link to it); done is called
    // once, later, never from inside connect(), and may destroy the Pending
    // that calls it. Throws BleError when the kernel refuses at once.
    virtual std::unique_ptr<Pending> connect(const LeAddress& local, const LeAddress& peer, uint16_t psm,
                                             uint16_t mtu, ConnectHandler done) = 0;
};

}  // namespace ubt::l2cap
