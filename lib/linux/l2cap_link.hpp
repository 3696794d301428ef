#pragma once
// LE links held open through the kernel's L2CAP ATT channel (fixed CID 4):
// the kernel keeps an LE link up while a channel uses it, and connecting
// such a channel is how the kernel is asked to connect as central. The
// sockets carry no data yet. Event-loop thread only.

#include <functional>
#include <memory>

#include "core/event_loop.hpp"
#include "fd.hpp"
#include "gap/link.hpp"

namespace ubt::linux_bt {

// One ATT channel socket. Watches it for errors and hang-ups only; on the
// first one it stops watching and runs on_closed (which may destroy it).
class L2capLink : public gap::Link {
public:
    L2capLink(EventLoop& loop, UniqueFd fd, std::function<void()> on_closed);
    ~L2capLink() override;

private:
    EventLoop& loop_;
    UniqueFd fd_;
    std::function<void()> on_closed_;
    bool watching_ = true;
};

class L2capLinker : public gap::Linker {
public:
    explicit L2capLinker(EventLoop& loop) : loop_(loop) {}
    std::unique_ptr<gap::Link> connect(const LeAddress& local, const LeAddress& peer,
                                       std::function<void()> on_failed) override;

private:
    EventLoop& loop_;
};

}  // namespace ubt::linux_bt
