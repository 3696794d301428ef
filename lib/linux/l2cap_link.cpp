#include "l2cap_link.hpp"

#include <bluetooth/bluetooth.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "l2cap_address.hpp"

namespace ubt::linux_bt {

namespace {
// Larger than any ATT_MTU (517): a longer message is cut and then refused
// by the server as longer than ATT_MTU.
constexpr size_t kMaxPdu = 1024;
}  // namespace

L2capLink::L2capLink(EventLoop& loop, UniqueFd fd, PduHandler on_pdu)
    : loop_(loop), fd_(std::move(fd)), on_pdu_(std::move(on_pdu)) {
    loop_.watch(fd_.get(), EPOLLIN, [this](uint32_t events) {
        if (events & EPOLLIN) readable();
        if ((events & EPOLLOUT) && send_unsent()) watch_writable(false);
        // Errors and hang-ups come without asking; once is enough
        // (level-triggered, they would repeat). The link's end is
        // reported by its HCI event, not here.
        if (watching_ && (events & (EPOLLERR | EPOLLHUP))) {
            loop_.unwatch(fd_.get());
            watching_ = false;
            unsent_.clear();
        }
    });
}

L2capLink::~L2capLink() {
    if (watching_) loop_.unwatch(fd_.get());
}

void L2capLink::readable() {
    for (;;) {
        uint8_t buffer[kMaxPdu];
        ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nothing more now, or the channel is closing
        if (on_pdu_) on_pdu_(ByteView(buffer, static_cast<size_t>(n)));
    }
}

void L2capLink::send(ByteView pdu) {
    if (!watching_) return;  // the channel is gone
    unsent_.emplace_back(pdu.begin(), pdu.end());
    if (!send_unsent()) watch_writable(true);
}

bool L2capLink::send_unsent() {
    while (!unsent_.empty()) {
        const Bytes& pdu = unsent_.front();
        ssize_t n = ::send(fd_.get(), pdu.data(), pdu.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        // ENOTCONN: the kernel holds the channel while it raises the link's
        // security (BT_SECURITY), and it becomes writable when done.
        if (n < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == ENOTCONN)) return false;  // the rest when writable
        // Sent, or the channel is going away (its link's end is reported anyway).
        unsent_.pop_front();
    }
    return true;
}

std::optional<gap::SecurityLevel> L2capLink::security() const {
    bt_security sec{};
    socklen_t len = sizeof sec;
    if (::getsockopt(fd_.get(), SOL_BLUETOOTH, BT_SECURITY, &sec, &len) < 0) return std::nullopt;
    return gap::SecurityLevel{sec.level, sec.key_size};
}

bool L2capLink::request_security(uint8_t level) {
    bt_security sec{};
    sec.level = level;
    if (::setsockopt(fd_.get(), SOL_BLUETOOTH, BT_SECURITY, &sec, sizeof sec) == 0) return true;
    if (errno == EINVAL) return false;  // the link has that level already
    throw BleError(ErrorCode::Failed, std::string("the kernel refused to raise the link's security: ") + std::strerror(errno));
}

std::optional<LeAddress> L2capLink::peer_address() const {
    sockaddr_l2 peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &len) < 0) return std::nullopt;
    return le_address_of(peer);
}

void L2capLink::watch_writable(bool on) {
    if (on == watching_writable_ || !watching_) return;
    loop_.modify(fd_.get(), on ? EPOLLIN | EPOLLOUT : EPOLLIN);
    watching_writable_ = on;
}

}  // namespace ubt::linux_bt
