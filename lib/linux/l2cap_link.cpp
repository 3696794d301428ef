#include "l2cap_link.hpp"

namespace ubt::linux_bt {

L2capLink::L2capLink(EventLoop& loop, UniqueFd fd) : loop_(loop), fd_(std::move(fd)) {
    // No events asked for: errors and hang-ups are always reported, once
    // each is enough (level-triggered, they would repeat).
    loop_.watch(fd_.get(), 0, [this](uint32_t) {
        loop_.unwatch(fd_.get());
        watching_ = false;
    });
}

L2capLink::~L2capLink() {
    if (watching_) loop_.unwatch(fd_.get());
}

}  // namespace ubt::linux_bt
