#pragma once
// The kernel's Bluetooth management channel (HCI_CHANNEL_CONTROL): the
// MgmtPort that real adapters use. Owns the socket; event-loop thread only.

#include "fd.hpp"
#include "mgmt/mgmt_client.hpp"

namespace ubt::linux_bt {

class MgmtSocket : public mgmt::MgmtPort {
public:
    // Throws std::system_error when the kernel has no Bluetooth or we lack
    // CAP_NET_ADMIN.
    MgmtSocket();

    void send(ByteView frame) override;
    std::optional<Bytes> receive(std::chrono::milliseconds timeout) override;

    int fd() const { return fd_.get(); }

private:
    UniqueFd fd_;
};

}  // namespace ubt::linux_bt
