#pragma once
// Request/reply over a mgmt channel: one command at a time, waiting for its
// Command Complete or Command Status, keeping the events that arrive meanwhile.

#include <chrono>
#include <deque>
#include <optional>

#include "core/bytes.hpp"
#include "mgmt_codec.hpp"

namespace ubt::mgmt {

// A channel that carries whole mgmt frames (the kernel's control socket, or a
// fake in tests).
class MgmtPort {
public:
    virtual ~MgmtPort() = default;
    virtual void send(ByteView frame) = 0;
    // Waits up to timeout for one frame; nullopt when none came.
    virtual std::optional<Bytes> receive(std::chrono::milliseconds timeout) = 0;
};

struct Reply {
    uint8_t status = status::Success;
    Bytes params;  // return parameters; empty after a Command Status
    bool ok() const { return status == status::Success; }
};

// Owns the queue of unhandled events; used from the event-loop thread only.
class MgmtClient {
public:
    explicit MgmtClient(MgmtPort& port, std::chrono::milliseconds timeout = std::chrono::seconds(5))
        : port_(port), timeout_(timeout) {}

    // Throws BleError(Timeout) when the kernel does not answer in time.
    Reply command(const Frame& cmd);
    // Like command(), but a non-success status throws BleError(Failed) naming
    // the command and the status.
    Reply checked(const Frame& cmd);

    // Moves the frames the port has ready into the event queue, without waiting.
    void drain_port();
    std::optional<Frame> next_event();

    // Frames that were truncated, oversized or otherwise undecodable.
    uint64_t malformed_frames() const { return malformed_; }

private:
    // Decodes a frame; returns the reply if it answers cmd, else queues it.
    std::optional<Reply> accept(const Bytes& raw, const Frame& cmd);

    MgmtPort& port_;
    std::chrono::milliseconds timeout_;
    std::deque<Frame> events_;
    uint64_t malformed_ = 0;
};

}  // namespace ubt::mgmt
