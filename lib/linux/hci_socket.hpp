#pragma once
// A raw HCI socket bound to one controller (HCI_CHANNEL_RAW): the HciPort
// that real adapters use for GAP commands and LE events. Owns the socket;
// event-loop thread only.

#include <cstdint>

#include "fd.hpp"
#include "hci/hci_client.hpp"

namespace ubt::linux_bt {

class HciSocket : public hci::HciPort {
public:
    // Throws std::system_error (needs CAP_NET_RAW).
    explicit HciSocket(uint16_t index);

    void send(ByteView packet) override;
    std::optional<Bytes> receive(std::chrono::milliseconds timeout) override;

    int fd() const { return fd_.get(); }

private:
    UniqueFd fd_;
};

}  // namespace ubt::linux_bt
