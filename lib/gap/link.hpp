#pragma once
// The kernel's side of an LE connection as GAP code sees it: its open ATT
// channel, which keeps the link up (the kernel drops an LE link that no
// channel uses) and carries ATT PDUs. An interface, so the connection logic
// is tested without sockets.

#include <cstddef>

#include "core/bytes.hpp"

namespace ubt::gap {

// Destroying a Link closes the channel; the kernel may then end the link.
class Link {
public:
    virtual ~Link() = default;
    // Sends one ATT PDU, in order; what the kernel cannot take yet waits in
    // the link. A channel that is gone drops it.
    virtual void send(ByteView pdu) = 0;
    // PDUs waiting for the kernel to take them.
    virtual size_t backlog() const { return 0; }
};

}  // namespace ubt::gap
