#pragma once
// An LE link's ATT channel (L2CAP fixed CID 4) as a socket: the kernel keeps
// the link up while it is open, and it carries one ATT PDU per message.
// Event-loop thread only.

#include <deque>
#include <functional>

#include "core/event_loop.hpp"
#include "fd.hpp"
#include "gap/link.hpp"

namespace ubt::linux_bt {

class L2capLink : public gap::Link {
public:
    using PduHandler = std::function<void(ByteView pdu)>;

    // on_pdu gets each PDU the peer sends.
    L2capLink(EventLoop& loop, UniqueFd fd, PduHandler on_pdu);
    ~L2capLink() override;

    void send(ByteView pdu) override;
    size_t backlog() const override { return unsent_.size(); }
    std::optional<gap::SecurityLevel> security() const override;
    bool request_security(uint8_t level) override;
    std::optional<LeAddress> peer_address() const override;

private:
    void readable();
    // Sends what waits, in order, while the kernel takes it; true when all went.
    bool send_unsent();
    void watch_writable(bool on);

    EventLoop& loop_;
    UniqueFd fd_;
    PduHandler on_pdu_;
    bool watching_ = true;
    bool watching_writable_ = false;
    std::deque<Bytes> unsent_;  // the kernel's send buffer was full
};

}  // namespace ubt::linux_bt
