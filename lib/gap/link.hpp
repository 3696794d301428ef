#pragma once
// The kernel's side of an LE connection as GAP code sees it: an open L2CAP
// channel that keeps the link up (the kernel drops an LE link that no
// channel uses). An interface, so the connection logic is tested without
// sockets.

namespace ubt::gap {

// Destroying a Link closes the channel; the kernel may then end the link.
class Link {
public:
    virtual ~Link() = default;
};

}  // namespace ubt::gap
