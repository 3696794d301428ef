#include "event_queue.hpp"

namespace ubt::ble {

namespace {
constexpr size_t kEventHeader = 16;  // code, handles, address: what MicroPython's ring buffer also stores
}

size_t EventQueue::cost(const IrqEvent& event) {
    if (auto r = std::get_if<ScanResult>(&event)) return kEventHeader + r->adv_data.size();
    if (auto d = std::get_if<GattcNotify>(&event)) return kEventHeader + d->data.size();
    if (auto d = std::get_if<GattcIndicate>(&event)) return kEventHeader + d->data.size();
    if (auto d = std::get_if<GattcReadResult>(&event)) return kEventHeader + d->data.size();
    return kEventHeader;
}

bool EventQueue::push(IrqEvent event) {
    size_t c = cost(event);
    // Only data events that nothing answers are dropped (scan results and
    // notifications, as MicroPython's buffer drops them): losing the end of
    // a scan or a read would leave a client waiting for it forever, and an
    // indication has been confirmed to the server.
    bool droppable = std::holds_alternative<ScanResult>(event) || std::holds_alternative<GattcNotify>(event);
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
