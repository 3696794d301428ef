#include "event_queue.hpp"

namespace ubt::ble {

namespace {
constexpr size_t kEventHeader = 16;  // code, handles, address: what MicroPython's ring buffer also stores
}

size_t EventQueue::cost(const IrqEvent& event) {
    if (auto r = std::get_if<ScanResult>(&event)) return kEventHeader + r->adv_data.size();
    return kEventHeader;
}

bool EventQueue::push(IrqEvent event) {
    size_t c = cost(event);
    // Only data events are dropped: losing the end of a scan would leave a
    // client waiting for it forever.
    bool droppable = std::holds_alternative<ScanResult>(event);
    if (droppable && used_ + c > capacity_) {
        ++dropped_;
        return false;
    }
    used_ += c;
    events_.push_back(std::move(event));
    return true;
}

std::optional<IrqEvent> EventQueue::pop() {
    if (events_.empty()) return std::nullopt;
    IrqEvent e = std::move(events_.front());
    events_.pop_front();
    used_ -= cost(e);
    return e;
}

}  // namespace ubt::ble
