#pragma once
// Request/reply over a raw HCI channel: sends one command at a time, waits
// for its Command Complete or Command Status, keeps other events for later.

#include <chrono>
#include <deque>
#include <optional>

#include "core/bytes.hpp"
#include "hci_codec.hpp"

namespace ubt::hci {

// A channel that carries whole HCI packets (a raw HCI socket, or a fake).
class HciPort {
public:
    virtual ~HciPort() = default;
    virtual void send(ByteView packet) = 0;
    // Waits up to timeout for one packet; nullopt when none came.
    virtual std::optional<Bytes> receive(std::chrono::milliseconds timeout) = 0;
};

struct CommandResult {
    uint8_t status = 0;
    Bytes reply;  // Command Complete return parameters (status first); empty after a Command Status
};

// Owns the queue of unhandled events; event-loop thread only.
class HciClient {
public:
    explicit HciClient(HciPort& port, std::chrono::milliseconds timeout = std::chrono::seconds(2))
        : port_(port), timeout_(timeout) {}

    // Throws BleError(Timeout) when the controller does not answer in time.
    CommandResult command(ByteView packet);
    // Like command(), but a non-zero status throws BleError(Failed).
    CommandResult checked(ByteView packet, const char* what);

    void drain_port();
    // The events that were not a reply to our commands (disconnections, LE
    // meta events, encryption changes, ...), in the order they came.
    std::optional<Event> next_event();

private:
    std::optional<CommandResult> accept(const Bytes& raw, uint16_t opcode);

    HciPort& port_;
    std::chrono::milliseconds timeout_;
    std::deque<Event> events_;
};

// "Command Disallowed", ... as the Core Specification names error codes.
const char* status_name(uint8_t status);

}  // namespace ubt::hci
