#include "l2cap_link.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "l2cap_address.hpp"

namespace ubt::linux_bt {

L2capLink::L2capLink(EventLoop& loop, UniqueFd fd, std::function<void()> on_closed)
    : loop_(loop), fd_(std::move(fd)), on_closed_(std::move(on_closed)) {
    // No events asked for: errors and hang-ups are always reported.
    loop_.watch(fd_.get(), 0, [this](uint32_t) {
        loop_.unwatch(fd_.get());
        watching_ = false;
        if (auto callback = std::move(on_closed_)) callback();  // may destroy this
    });
}

L2capLink::~L2capLink() {
    if (watching_) loop_.unwatch(fd_.get());
}

std::unique_ptr<gap::Link> L2capLinker::connect(const LeAddress& local, const LeAddress& peer,
                                                std::function<void()> on_failed) {
    UniqueFd fd(::socket(PF_BLUETOOTH, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, BTPROTO_L2CAP));
    if (!fd) throw BleError(ErrorCode::Failed, std::string("cannot open an L2CAP socket: ") + std::strerror(errno));
    // Binding to our identity address picks the controller.
    sockaddr_l2 src = att_address(local);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) < 0) {
        throw BleError(ErrorCode::Failed, "cannot bind an L2CAP socket to " + local.address.to_string() + ": " +
                                              std::strerror(errno));
    }
    sockaddr_l2 dst = att_address(peer);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) < 0 && errno != EINPROGRESS) {
        throw BleError(ErrorCode::Failed, "the kernel refused to connect to " + peer.address.to_string() + ": " +
                                              std::strerror(errno));
    }
    return std::make_unique<L2capLink>(loop_, std::move(fd), std::move(on_failed));
}

}  // namespace ubt::linux_bt
