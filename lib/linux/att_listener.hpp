#pragma once
// Accepts the kernel's ATT channel of every LE connection made to any of our
// controllers, so the kernel keeps those links up. Listens on BDADDR_ANY
// once per identity address type and reports each channel with the local
// identity address it arrived on (which names the controller) and the HCI
// handle of its link. Event-loop thread only.

#include <cstdint>
#include <functional>

#include "core/address.hpp"
#include "core/event_loop.hpp"
#include "fd.hpp"

namespace ubt::linux_bt {

class AttListener {
public:
    using Accepted = std::function<void(const LeAddress& local, uint16_t handle, UniqueFd channel)>;

    // Throws std::system_error when the kernel refuses the sockets.
    AttListener(EventLoop& loop, Accepted on_accepted);
    ~AttListener();
    AttListener(const AttListener&) = delete;
    AttListener& operator=(const AttListener&) = delete;

private:
    void watch(int listener);
    void accept_from(int listener);

    EventLoop& loop_;
    Accepted on_accepted_;
    UniqueFd public_;  // links to our public identity address
    UniqueFd random_;  // links to our static random identity address
    Timers::Id pause_ = 0;  // both rest a while after accept() failed for want of resources
};

}  // namespace ubt::linux_bt
