#pragma once
// The adapter's bounded event buffer (config 'rxbuf'): events wait here
// until the D-Bus side sends them. A data event (a scan result, a
// notification) that does not fit is dropped and counted; every other event
// always goes in.
// Nothing ever blocks. Event-loop thread only.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "irq_event.hpp"

namespace ubt::ble {

class EventQueue {
public:
    explicit EventQueue(size_t capacity_bytes) : capacity_(capacity_bytes) {}

    // False (and counted) when a data event does not fit.
    bool push(IrqEvent event);
    std::optional<IrqEvent> pop();

    void set_capacity(size_t bytes) { capacity_ = bytes; }
    size_t used() const { return used_; }
    uint64_t dropped() const { return dropped_; }

    // What an event costs in the buffer: a small header plus its byte strings.
    static size_t cost(const IrqEvent& event);

private:
    size_t capacity_;
    size_t used_ = 0;
    uint64_t dropped_ = 0;
    std::deque<IrqEvent> events_;
};

}  // namespace ubt::ble
