#include "att_listener.hpp"

#include "l2cap_address.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>
#include <sys/socket.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace ubt::linux_bt {

namespace {

constexpr uint16_t kAttCid = 4;

UniqueFd listen_att(uint8_t address_type) {
    UniqueFd fd(::socket(PF_BLUETOOTH, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, BTPROTO_L2CAP));
    if (!fd) throw std::system_error(errno, std::generic_category(), "cannot open an L2CAP socket");
    sockaddr_l2 any = l2cap_address({address_type, Address{}}, 0, kAttCid);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot bind the ATT listener");
    }
    if (::listen(fd.get(), 8) < 0) throw std::system_error(errno, std::generic_category(), "cannot listen for ATT");
    return fd;
}

}  // namespace

AttListener::AttListener(EventLoop& loop, Accepted on_accepted)
    : loop_(loop), on_accepted_(std::move(on_accepted)), public_(listen_att(0)), random_(listen_att(1)) {
    watch(public_.get());
    watch(random_.get());
}

AttListener::~AttListener() {
    loop_.cancel(pause_);
    loop_.unwatch(public_.get());
    loop_.unwatch(random_.get());
}

void AttListener::watch(int listener) {
    loop_.watch(listener, EPOLLIN, [this, listener](uint32_t) { accept_from(listener); });
}

void AttListener::accept_from(int listener) {
    for (;;) {
        sockaddr_l2 peer{};
        socklen_t len = sizeof peer;
        UniqueFd channel(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!channel) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            // Out of descriptors or memory: the channel stays queued; try again
            // in a second rather than spin on a listener that stays readable.
            spdlog::error("cannot accept an ATT channel: {}; trying again in a second", std::strerror(errno));
            loop_.unwatch(public_.get());
            loop_.unwatch(random_.get());
            pause_ = loop_.start(std::chrono::seconds(1), [this] {
                pause_ = 0;
                watch(public_.get());
                watch(random_.get());
            });
            return;
        }
        sockaddr_l2 local{};
        len = sizeof local;
        l2cap_conninfo info{};
        socklen_t info_len = sizeof info;
        if (::getsockname(channel.get(), reinterpret_cast<sockaddr*>(&local), &len) < 0 ||
            ::getsockopt(channel.get(), SOL_L2CAP, L2CAP_CONNINFO, &info, &info_len) < 0) {
            continue;  // the link went away already
        }
        on_accepted_(le_address_of(local), info.hci_handle, std::move(channel));
    }
}

}  // namespace ubt::linux_bt
