#include "event_loop.hpp"

#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ubt {

EventLoop::EventLoop() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

EventLoop::~EventLoop() { ::close(epoll_fd_); }

void EventLoop::watch(int fd, uint32_t events, FdHandler handler) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl add");
    }
    handlers_[fd] = std::make_shared<FdHandler>(std::move(handler));
}

void EventLoop::modify(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
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
        int timeout = prepare_ ? prepare_() : -1;
        if (!running_) break;
        int n = ::epoll_wait(epoll_fd_, events, 16, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "epoll_wait");
        }
        for (int i = 0; i < n && running_; ++i) {
            auto it = handlers_.find(events[i].data.fd);
            if (it == handlers_.end()) continue;
            std::shared_ptr<FdHandler> handler = it->second;
            (*handler)(events[i].events);
        }
    }
}

}  // namespace ubt
