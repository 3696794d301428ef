#include "mgmt_socket.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
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
        fail("cannot bind the Bluetooth management channel");
    }
}

void MgmtSocket::send(ByteView frame) { send_packet(fd_.get(), frame, "mgmt"); }

std::optional<Bytes> MgmtSocket::receive(std::chrono::milliseconds timeout) {
    return receive_packet(fd_.get(), timeout, 65535 + 6, "mgmt");  // the largest frame a 16-bit length allows
}

}  // namespace ubt::linux_bt
