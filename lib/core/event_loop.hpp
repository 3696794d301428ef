#pragma once
// A single-threaded epoll loop. Everything in the daemon runs on the thread
// that calls run(); nothing here is safe to call from another thread.

#include <sys/epoll.h>

#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>

#include "timers.hpp"

namespace ubt {

class EventLoop : public Timers {
public:
    using FdHandler = std::function<void(uint32_t events)>;
    // Called before each wait; returns how long the wait may last at most
    // (-1: no limit). The D-Bus connection uses it to poll its own state.
    using PrepareHook = std::function<int()>;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    void watch(int fd, uint32_t events, FdHandler handler);
    void modify(int fd, uint32_t events);
    void unwatch(int fd);
    void set_prepare(PrepareHook hook) { prepare_ = std::move(hook); }
    // Gets what a timer callback throws; without it the exception ends run().
    using ErrorHook = std::function<void(const std::exception&)>;
    void set_timer_error_hook(ErrorHook hook) { timer_error_ = std::move(hook); }

    Id start(std::chrono::milliseconds delay, std::function<void()> callback) override;
    void cancel(Id id) override;

    // Runs until quit(); exceptions from handlers propagate to the caller.
    void run();
    void quit() { running_ = false; }

private:
    using Clock = std::chrono::steady_clock;
    int wait_timeout(int prepare_timeout) const;
    void run_due_timers();

    int epoll_fd_;
    bool running_ = false;
    struct Watch {
        uint32_t generation;  // tells this watch from an earlier one of the same fd number
        std::shared_ptr<FdHandler> handler;  // shared: a handler that unwatches itself is not destroyed mid-call
    };
    std::map<int, Watch> handlers_;
    uint32_t next_generation_ = 1;
    PrepareHook prepare_;
    ErrorHook timer_error_;
    // Pending timers in deadline order; ids grow, so equal deadlines keep start order.
    std::map<std::pair<Clock::time_point, Id>, std::function<void()>> timers_;
    std::map<Id, Clock::time_point> deadlines_;
    Id next_id_ = 1;
};

}  // namespace ubt
