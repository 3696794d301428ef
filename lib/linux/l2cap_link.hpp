#pragma once
// An LE link held open through the kernel's L2CAP ATT channel (fixed CID 4):
// the kernel keeps an LE link up while a channel uses it. The socket carries
// no data yet. Event-loop thread only.

#include "core/event_loop.hpp"
#include "fd.hpp"
#include "gap/link.hpp"

namespace ubt::linux_bt {

// One ATT channel socket. Watched for errors and hang-ups only, so the loop
// can forget it once the link is gone; closed when destroyed.
class L2capLink : public gap::Link {
public:
    L2capLink(EventLoop& loop, UniqueFd fd);
    ~L2capLink() override;

private:
    EventLoop& loop_;
    UniqueFd fd_;
    bool watching_ = true;
};

}  // namespace ubt::linux_bt
