#include "mgmt_socket.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace ubt::linux_bt {

namespace {
[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }
}  // namespace

MgmtSocket::MgmtSocket() {
    fd_ = UniqueFd(::socket(PF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, BTPROTO_HCI));
    if (!fd_) fail("cannot open a Bluetooth socket (is the bluetooth kernel module loaded?)");
    sockaddr_hci addr{};
    addr.hci_family = AF_BLUETOOTH;
    addr.hci_dev = HCI_DEV_NONE;
    addr.hci_channel = HCI_CHANNEL_CONTROL;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        fail("cannot bind the Bluetooth management channel (needs CAP_NET_ADMIN)");
    }
}

void MgmtSocket::send(ByteView frame) {
    ssize_t n;
    do n = ::send(fd_.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) fail("mgmt send");
    if (static_cast<size_t>(n) != frame.size()) throw std::runtime_error("mgmt send: short write");
}

std::optional<Bytes> MgmtSocket::receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (r < 0 && errno == EINTR);
    if (r < 0) fail("mgmt poll");
    if (r == 0) return std::nullopt;
    Bytes buf(65536 + 6);  // the largest frame the 16-bit length allows
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return std::nullopt;
        fail("mgmt recv");
    }
    buf.resize(static_cast<size_t>(n));
    return buf;
}

}  // namespace ubt::linux_bt
