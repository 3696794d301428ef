#pragma once
// The kernel's side of an LE connection as GAP code sees it: an open L2CAP
// channel that keeps the link up (the kernel drops an LE link that no
// channel uses), and the way to open one as central. Interfaces, so the
// connection logic is tested without sockets.

#include <functional>
#include <memory>

#include "core/address.hpp"

namespace ubt::gap {

// Destroying a Link closes the channel; the kernel may then end the link.
class Link {
public:
    virtual ~Link() = default;
};

class Linker {
public:
    virtual ~Linker() = default;
    // Starts connecting from the controller whose identity address is local
    // to peer. on_failed runs on the event-loop thread if the kernel gives up
    // before the link exists. Throws BleError when the kernel refuses at once.
    virtual std::unique_ptr<Link> connect(const LeAddress& local, const LeAddress& peer,
                                          std::function<void()> on_failed) = 0;
};

}  // namespace ubt::gap
