#include "coc_kernel.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "coc_socket.hpp"
#include "core/error.hpp"
#include "fd.hpp"
#include "l2cap_address.hpp"

namespace ubt::linux_bt {

namespace {

constexpr std::chrono::seconds kAcceptPause{1};

std::string reason(int error) { return std::generic_category().message(error); }

UniqueFd channel_socket() {
    UniqueFd fd(::socket(PF_BLUETOOTH, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, BTPROTO_L2CAP));
    if (!fd) throw BleError(ErrorCode::Failed, "cannot open an L2CAP socket: " + reason(errno));
    return fd;
}

void set_option(int fd, int level, int name, int value, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) < 0) {
        throw BleError(ErrorCode::Failed, std::string("cannot set the channel's ") + what + ": " + reason(errno));
    }
}

void set_mtu(int fd, uint16_t mtu) {
    if (::setsockopt(fd, SOL_BLUETOOTH, BT_RCVMTU, &mtu, sizeof mtu) < 0) {
        throw BleError(ErrorCode::Failed, "cannot set the channel's MTU: " + reason(errno));
    }
}

// Binds to our identity address; the kernel picks the controller by it.
void bind_to(int fd, const LeAddress& local, uint16_t psm) {
    sockaddr_l2 address = l2cap_address(local, psm, 0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return;
    int error = errno;
    if (error == EADDRINUSE) throw BleError(ErrorCode::Busy, "PSM " + std::to_string(psm) + " is in use");
    if (error == EACCES) {
        throw BleError(ErrorCode::Failed, "PSMs below 128 need CAP_NET_BIND_SERVICE, which the daemon lacks");
    }
    throw BleError(ErrorCode::Failed, "cannot bind an L2CAP socket to PSM " + std::to_string(psm) + ": " + reason(error));
}

// A channel the kernel has accepted, waiting for the application's answer
// unread: accepting starts reading it, closing it disconnects it. (With
// BT_DEFER_SETUP the kernel would hold the request instead, but on 6.1 its
// 40 s request timer then closes every channel so accepted 40 s later:
// docs/kernel-l2cap-coc.md.)
class CocRequest : public l2cap::Request {
public:
    CocRequest(EventLoop& loop, UniqueFd fd) : loop_(loop), fd_(std::move(fd)) {}
    ~CocRequest() override { stop_watching(); }

    void on_hang_up(std::function<void()> hung_up) override {
        hung_up_ = std::move(hung_up);
        // Hang-ups only: what the peer sends stays unread until the answer.
        loop_.watch(fd_.get(), EPOLLRDHUP, [this](uint32_t events) {
            if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
            stop_watching();
            auto hung_up = std::move(hung_up_);
            hung_up();  // last: it may destroy this request
        });
        watching_ = true;
    }

    std::unique_ptr<l2cap::Socket> accept(l2cap::ChannelInfo& info, int&) override {
        stop_watching();
        return std::make_unique<CocSocket>(loop_, std::move(fd_), info);
    }

private:
    void stop_watching() {
        if (watching_) loop_.unwatch(fd_.get());
        watching_ = false;
    }

    EventLoop& loop_;
    UniqueFd fd_;
    std::function<void()> hung_up_;
    bool watching_ = false;
};

class CocListener : public l2cap::Pending {
public:
    CocListener(EventLoop& loop, UniqueFd fd, uint16_t psm, l2cap::Kernel::RequestHandler on_request)
        : loop_(loop), fd_(std::move(fd)), psm_(psm), on_request_(std::move(on_request)) {
        loop_.watch(fd_.get(), EPOLLIN, [this](uint32_t) { accept_all(); });
    }
    ~CocListener() override {
        loop_.cancel(pause_);
        if (pause_ == 0) loop_.unwatch(fd_.get());
    }

private:
    void accept_all() {
        for (;;) {
            UniqueFd fd(::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!fd) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN) pause(errno);
                return;
            }
            l2cap::ChannelInfo info{};
            try {
                set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, CocKernel::kReceiveBuffer, "receive buffer");
                info = CocSocket::info_of(fd.get(), psm_);
            } catch (const std::exception& e) {
                spdlog::warn("an L2CAP channel on PSM {} was closed at once: {}", psm_, e.what());
                continue;  // closing it disconnects it
            }
            on_request_(info, std::make_unique<CocRequest>(loop_, std::move(fd)));
        }
    }

    // Out of file descriptors or memory: rest, rather than spin on a request that stays queued.
    void pause(int error) {
        spdlog::error("cannot take L2CAP channel requests on PSM {}: {}; trying again in 1 s", psm_, reason(error));
        loop_.unwatch(fd_.get());
        pause_ = loop_.start(kAcceptPause, [this] {
            pause_ = 0;
            loop_.watch(fd_.get(), EPOLLIN, [this](uint32_t) { accept_all(); });
        });
    }

    EventLoop& loop_;
    UniqueFd fd_;
    uint16_t psm_;
    l2cap::Kernel::RequestHandler on_request_;
    Timers::Id pause_ = 0;
};

class CocConnecting : public l2cap::Pending {
public:
    CocConnecting(EventLoop& loop, UniqueFd fd, uint16_t psm, uint16_t mtu, l2cap::Kernel::ConnectHandler done)
        : loop_(loop), fd_(std::move(fd)), psm_(psm), mtu_(mtu), done_(std::move(done)) {
        loop_.watch(fd_.get(), EPOLLOUT, [this](uint32_t) { finished(); });
        watching_ = true;
    }
    ~CocConnecting() override {
        // Closing a socket that is still connecting abandons the attempt.
        if (watching_) loop_.unwatch(fd_.get());
    }

private:
    void finished() {
        loop_.unwatch(fd_.get());
        watching_ = false;
        int error = 0;
        socklen_t len = sizeof error;
        if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
        l2cap::ChannelInfo info{0, 0, psm_, mtu_, 0};
        std::unique_ptr<l2cap::Socket> socket;
        if (error == 0) {
            try {
                info = CocSocket::info_of(fd_.get(), psm_);
                socket = std::make_unique<CocSocket>(loop_, std::move(fd_), info);
            } catch (const std::system_error& e) {
                error = e.code().value();
            }
        }
        if (!socket) {
            sockaddr_l2 local{};
            len = sizeof local;
            if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0) info.cid = btohs(local.l2_cid);
        }
        l2cap::Kernel::ConnectHandler done = std::move(done_);
        done(std::move(socket), info, error);  // last: it may destroy this object
    }

    EventLoop& loop_;
    UniqueFd fd_;
    uint16_t psm_;
    uint16_t mtu_;
    l2cap::Kernel::ConnectHandler done_;
    bool watching_ = false;
};

}  // namespace

std::unique_ptr<l2cap::Pending> CocKernel::listen(const LeAddress& local, uint16_t psm, uint16_t mtu,
                                                  RequestHandler on_request) {
    UniqueFd fd = channel_socket();
    bind_to(fd.get(), local, psm);
    set_mtu(fd.get(), mtu);
    if (::listen(fd.get(), 8) < 0) {
        throw BleError(ErrorCode::Failed, "cannot listen on PSM " + std::to_string(psm) + ": " + reason(errno));
    }
    return std::make_unique<CocListener>(loop_, std::move(fd), psm, std::move(on_request));
}

std::unique_ptr<l2cap::Pending> CocKernel::connect(const LeAddress& local, const LeAddress& peer, uint16_t psm,
                                                   uint16_t mtu, ConnectHandler done) {
    UniqueFd fd = channel_socket();
    bind_to(fd.get(), local, 0);  // PSM 0 reserves a dynamic PSM until connect() frees it: no gap between
    set_mtu(fd.get(), mtu);
    set_option(fd.get(), SOL_SOCKET, SO_RCVBUF, kReceiveBuffer, "receive buffer");
    sockaddr_l2 address = l2cap_address(peer, psm, 0);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 && errno != EINPROGRESS) {
        int error = errno;
        if (error == EBUSY) {
            throw BleError(ErrorCode::Busy,
                           "the kernel refused the channel (EBUSY): is advertising switched on through mgmt?");
        }
        throw BleError(ErrorCode::Failed, "cannot open an L2CAP channel to PSM " + std::to_string(psm) + ": " +
                                              reason(error));
    }
    return std::make_unique<CocConnecting>(loop_, std::move(fd), psm, mtu, std::move(done));
}

}  // namespace ubt::linux_bt
