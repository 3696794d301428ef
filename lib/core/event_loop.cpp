#include "event_loop.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

namespace ubt {

EventLoop::EventLoop() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

EventLoop::~EventLoop() { ::close(epoll_fd_); }

namespace {
// An event names its fd and the watch's generation: a closed fd's number can
// be reused by a new watch while the same epoll batch still holds events
// for the old one, which must not reach the new handler.
uint64_t event_tag(int fd, uint32_t generation) {
    return (uint64_t{generation} << 32) | static_cast<uint32_t>(fd);
}
}  // namespace

void EventLoop::watch(int fd, uint32_t events, FdHandler handler) {
    uint32_t generation = next_generation_++;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = event_tag(fd, generation);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl add");
    }
    handlers_[fd] = Watch{generation, std::make_shared<FdHandler>(std::move(handler))};
}

void EventLoop::modify(int fd, uint32_t events) {
    auto it = handlers_.find(fd);
    if (it == handlers_.end()) throw std::system_error(ENOENT, std::generic_category(), "epoll_ctl mod");
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = event_tag(fd, it->second.generation);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) < 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl mod");
    }
}

void EventLoop::unwatch(int fd) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    handlers_.erase(fd);
}

void EventLoop::run() {
    running_ = true;
    epoll_event events[16];
    while (running_) {
        int timeout = wait_timeout(prepare_ ? prepare_() : -1);
        if (!running_) break;
        int n = ::epoll_wait(epoll_fd_, events, 16, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "epoll_wait");
        }
        for (int i = 0; i < n && running_; ++i) {
            int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
            auto generation = static_cast<uint32_t>(events[i].data.u64 >> 32);
            auto it = handlers_.find(fd);
            if (it == handlers_.end() || it->second.generation != generation) continue;  // unwatched in this batch
            std::shared_ptr<FdHandler> handler = it->second.handler;
            (*handler)(events[i].events);
        }
        run_due_timers();
    }
}

Timers::Id EventLoop::start(std::chrono::milliseconds delay, std::function<void()> callback) {
    Id id = next_id_++;
    Clock::time_point deadline = Clock::now() + delay;
    timers_.emplace(std::make_pair(deadline, id), std::move(callback));
    deadlines_.emplace(id, deadline);
    return id;
}

void EventLoop::cancel(Id id) {
    auto it = deadlines_.find(id);
    if (it == deadlines_.end()) return;
    timers_.erase(std::make_pair(it->second, id));
    deadlines_.erase(it);
}

int EventLoop::wait_timeout(int prepare_timeout) const {
    if (timers_.empty()) return prepare_timeout;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first.first - Clock::now()).count();
    int timer_timeout = static_cast<int>(std::max<long long>(0, std::min<long long>(left, INT32_MAX)));
    return prepare_timeout < 0 ? timer_timeout : std::min(prepare_timeout, timer_timeout);
}

void EventLoop::run_due_timers() {
    Clock::time_point now = Clock::now();
    while (!timers_.empty() && timers_.begin()->first.first <= now && running_) {
        auto node = timers_.extract(timers_.begin());
        deadlines_.erase(node.key().second);
        try {
            node.mapped()();
        } catch (const std::exception& e) {
            if (!timer_error_) throw;
            timer_error_(e);  // one failed timer does not stop the others
        }
    }
}

}  // namespace ubt
