#include "hci_socket.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace ubt::linux_bt {

namespace {
[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }
}  // namespace

HciSocket::HciSocket(uint16_t index) {
    fd_ = UniqueFd(::socket(PF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, BTPROTO_HCI));
    if (!fd_) fail("cannot open a raw HCI socket");
    // Only events: command replies and LE meta events (advertising reports).
    hci_filter filter{};
    hci_filter_set_ptype(HCI_EVENT_PKT, &filter);
    hci_filter_set_event(EVT_CMD_COMPLETE, &filter);
    hci_filter_set_event(EVT_CMD_STATUS, &filter);
    hci_filter_set_event(EVT_LE_META_EVENT, &filter);
    if (::setsockopt(fd_.get(), SOL_HCI, HCI_FILTER, &filter, sizeof filter) < 0) fail("HCI_FILTER");
    sockaddr_hci addr{};
    addr.hci_family = AF_BLUETOOTH;
    addr.hci_dev = index;
    addr.hci_channel = HCI_CHANNEL_RAW;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        fail("cannot bind a raw HCI socket to hci" + std::to_string(index));
    }
}

void HciSocket::send(ByteView packet) {
    ssize_t n;
    do n = ::send(fd_.get(), packet.data(), packet.size(), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) fail("HCI send");
}

std::optional<Bytes> HciSocket::receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (r < 0 && errno == EINTR);
    if (r < 0) fail("HCI poll");
    if (r == 0) return std::nullopt;
    Bytes buf(HCI_MAX_EVENT_SIZE + 1);
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return std::nullopt;
        fail("HCI recv");
    }
    buf.resize(static_cast<size_t>(n));
    return buf;
}

}  // namespace ubt::linux_bt
