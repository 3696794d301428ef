#include "coc_socket.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <system_error>

namespace ubt::linux_bt {

namespace {

// Reads that return no SDU (an empty one, or a hang-up or error reported
// ahead of queued SDUs) before receive() pauses.
constexpr int kMaxEmptyReads = 64;
// A handed-over socket gets the system's default receive buffer back (the
// kernel doubles what is set: 212992), for throughput; ours is kept small so
// the peer's credits follow what the application has drained.
constexpr int kHandedOverReceiveBuffer = 106496;

// The kernel cuts an SDU into PDUs of the peer's MPS (23 bytes at least) and
// charges each, with its buffer overhead (under 1280 bytes), to the send
// buffer; an SDU whose PDUs exceed the buffer can never be sent, and one
// that exceeds half of it leaves the socket "writable" while send() fails.
// So the buffer holds two SDUs of the peer's MTU at the smallest MPS.
constexpr size_t kMinMps = 23;
constexpr size_t kPduCharge = 1280;
constexpr int kDefaultSendBuffer = 212992;

void size_send_buffer(int fd, uint16_t peer_mtu) {
    size_t pdus = (peer_mtu + 2u + kMinMps - 1) / kMinMps;  // the first PDU also carries the SDU length
    size_t wanted = 2 * pdus * kPduCharge;
    if (wanted <= static_cast<size_t>(kDefaultSendBuffer)) return;
    int half = static_cast<int>(wanted / 2);  // the kernel doubles what is set
    // FORCE: above net.core.wmem_max, which needs CAP_NET_ADMIN (the daemon has it).
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &half, sizeof half) < 0 &&
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half) < 0) {
        spdlog::warn("cannot enlarge an L2CAP channel's send buffer ({}): SDUs near the peer's MTU of {} may not go",
                     std::generic_category().message(errno), peer_mtu);
    }
}

uint16_t bt_option(int fd, int name) {
    uint16_t value = 0;
    socklen_t len = sizeof value;
    if (::getsockopt(fd, SOL_BLUETOOTH, name, &value, &len) < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot read the channel's MTU");
    }
    return value;
}

}  // namespace

CocSocket::CocSocket(EventLoop& loop, UniqueFd fd, const l2cap::ChannelInfo& info)
    : loop_(loop), fd_(std::move(fd)), scratch_(info.our_mtu) {
    size_send_buffer(fd_.get(), info.peer_mtu);
}

CocSocket::~CocSocket() { stop_watching(); }

l2cap::ChannelInfo CocSocket::info_of(int fd, uint16_t psm) {
    sockaddr_l2 local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot read the channel's address");
    }
    l2cap_conninfo conn{};
    len = sizeof conn;
    if (::getsockopt(fd, SOL_L2CAP, L2CAP_CONNINFO, &conn, &len) < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot read the channel's link");
    }
    return {conn.hci_handle, btohs(local.l2_cid), psm, bt_option(fd, BT_RCVMTU), bt_option(fd, BT_SNDMTU)};
}

void CocSocket::start(l2cap::SocketEvents events) {
    events_ = std::move(events);
    loop_.watch(fd_.get(), EPOLLIN | EPOLLRDHUP | EPOLLET, [this](uint32_t e) { on_events(e); });
    watching_ = true;
    update_watch();
}

l2cap::Socket::Sent CocSocket::send(ByteView sdu) {
    if (!fd_) return Sent::Failed;
    for (;;) {
        ssize_t n = ::send(fd_.get(), sdu.data(), sdu.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) return Sent::Yes;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == ENOBUFS) return Sent::NoRoom;
        spdlog::debug("L2CAP channel send: {}", std::generic_category().message(errno));
        return Sent::Failed;
    }
}

std::optional<Bytes> CocSocket::receive() {
    if (!fd_) return std::nullopt;
    for (int empty = 0; empty < kMaxEmptyReads;) {
        iovec iov{scratch_.data(), scratch_.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
        if (n > 0) {
            if (msg.msg_flags & MSG_TRUNC) spdlog::warn("an L2CAP SDU larger than our MTU was cut to {} bytes", n);
            return Bytes(scratch_.begin(), scratch_.begin() + n);
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return std::nullopt;  // the queue is empty: the next SDU is a new edge
        // An empty SDU, the end reported ahead of queued SDUs, or an error
        // reported once before them: read on until the queue says EAGAIN.
        ++empty;
    }
    // Many empty reads in a row (a shut-down socket, or a peer sending empty
    // SDUs): stop for now, and re-arm the edge-triggered watch so SDUs still
    // queued are reported again rather than stranded.
    update_watch();
    return std::nullopt;
}

void CocSocket::watch_readable(bool on) {
    readable_wanted_ = on;
    update_watch();
}

void CocSocket::watch_writable(bool on) {
    writable_wanted_ = on;
    update_watch();
}

int CocSocket::release() {
    stop_watching();
    int size = kHandedOverReceiveBuffer;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // best effort: only speed depends on it
    return fd_.release();
}

void CocSocket::update_watch() {
    if (!watching_) return;
    // Edge-triggered: a send that failed while the socket looked writable
    // (the SDU did not fit yet) waits for the next change, not a busy loop.
    // Reads always go on until EAGAIN or a full buffer, so no edge is missed.
    uint32_t events = EPOLLRDHUP | EPOLLET;
    if (readable_wanted_) events |= EPOLLIN;
    if (writable_wanted_) events |= EPOLLOUT;
    loop_.modify(fd_.get(), events);
}

void CocSocket::stop_watching() {
    if (!watching_) return;
    loop_.unwatch(fd_.get());
    watching_ = false;
}

void CocSocket::on_events(uint32_t events) {
    if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        // Read the error first: it is cleared by reading, and would
        // otherwise come back from recv() ahead of the queued SDUs.
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &len);
        stop_watching();  // once: the loop would report it again and again
        if (events_.hung_up) events_.hung_up();  // last: the channel may be forgotten
        return;
    }
    if ((events & EPOLLIN) && events_.readable) events_.readable();
    if ((events & EPOLLOUT) && events_.writable) events_.writable();
}

}  // namespace ubt::linux_bt
