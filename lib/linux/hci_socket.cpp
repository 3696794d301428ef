#include "hci_socket.hpp"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
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
    // Only events: command replies, disconnections, encryption changes and
    // LE meta events (advertising reports, connections).
    hci_filter filter{};
    hci_filter_set_ptype(HCI_EVENT_PKT, &filter);
    hci_filter_set_event(EVT_DISCONN_COMPLETE, &filter);
    hci_filter_set_event(EVT_CMD_COMPLETE, &filter);
    hci_filter_set_event(EVT_CMD_STATUS, &filter);
    hci_filter_set_event(EVT_LE_META_EVENT, &filter);
    hci_filter_set_event(EVT_ENCRYPT_CHANGE, &filter);
    hci_filter_set_event(EVT_ENCRYPTION_KEY_REFRESH_COMPLETE, &filter);
    // Encryption Change v2 (0x59): the filter has 64 bits and the kernel
    // tests code & 63, so this also lets Loopback Command (0x19) through,
    // which nobody reads.
    hci_filter_set_event(hci::ev::EncryptionChangeV2, &filter);
    if (::setsockopt(fd_.get(), SOL_HCI, HCI_FILTER, &filter, sizeof filter) < 0) fail("HCI_FILTER");
    sockaddr_hci addr{};
    addr.hci_family = AF_BLUETOOTH;
    addr.hci_dev = index;
    addr.hci_channel = HCI_CHANNEL_RAW;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        fail("cannot bind a raw HCI socket to hci" + std::to_string(index));
    }
}

void HciSocket::send(ByteView packet) { send_packet(fd_.get(), packet, "HCI"); }

std::optional<Bytes> HciSocket::receive(std::chrono::milliseconds timeout) {
    return receive_packet(fd_.get(), timeout, HCI_MAX_EVENT_SIZE + 1, "HCI");  // type byte + event
}

}  // namespace ubt::linux_bt
