#pragma once
// One-shot timers, run on the event-loop thread. An interface so protocol
// code can be tested with a clock the test moves by hand.

#include <chrono>
#include <cstdint>
#include <functional>

namespace ubt {

class Timers {
public:
    using Id = uint64_t;
    virtual ~Timers() = default;
    virtual Id start(std::chrono::milliseconds delay, std::function<void()> callback) = 0;
    // Cancelling a timer that already fired, or id 0, does nothing.
    virtual void cancel(Id id) = 0;
};

}  // namespace ubt
