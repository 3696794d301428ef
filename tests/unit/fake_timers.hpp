#pragma once
// Timers the test (or fuzz input) fires by hand.

#include <chrono>
#include <functional>
#include <map>
#include <utility>

#include "core/timers.hpp"

namespace ubt::test {

class FakeTimers : public Timers {
public:
    Id start(std::chrono::milliseconds delay, std::function<void()> callback) override {
        Id id = next_++;
        pending[id] = {delay, std::move(callback)};
        return id;
    }
    void cancel(Id id) override { pending.erase(id); }
    // Runs one pending timer, as if its time had come.
    void fire(Id id) {
        auto it = pending.find(id);
        if (it == pending.end()) return;
        auto callback = std::move(it->second.second);
        pending.erase(it);
        callback();
    }
    // Runs every pending timer, as if their time had come.
    void fire_all() {
        auto due = std::move(pending);
        pending.clear();
        for (auto& [id, timer] : due) timer.second();
    }

    std::map<Id, std::pair<std::chrono::milliseconds, std::function<void()>>> pending;

private:
    Id next_ = 1;
};

}  // namespace ubt::test
