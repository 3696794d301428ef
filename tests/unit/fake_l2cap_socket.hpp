#pragma once
// A scripted kernel socket of one L2CAP channel: credits as "room" for SDUs,
// SDUs queued by the test, and what the channel watched and sent.

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "l2cap/channel.hpp"

namespace ubt::test {

class FakeL2capSocket : public l2cap::Socket {
public:
    FakeL2capSocket() = default;
    // gone is set when the socket is destroyed (closed).
    explicit FakeL2capSocket(std::shared_ptr<bool> gone) : gone_(std::move(gone)) {}
    ~FakeL2capSocket() override {
        if (gone_) *gone_ = true;
    }

    void start(l2cap::SocketEvents e) override { events = std::move(e); }
    Sent send(ByteView sdu) override {
        if (broken) return Sent::Failed;
        if (room == 0) return Sent::NoRoom;
        --room;
        sent.emplace_back(sdu.begin(), sdu.end());
        return Sent::Yes;
    }
    std::optional<Bytes> receive() override {
        if (incoming.empty()) return std::nullopt;
        Bytes b = std::move(incoming.front());
        incoming.pop_front();
        return b;
    }
    void watch_readable(bool on) override { reading = on; }
    void watch_writable(bool on) override { writing = on; }
    int release() override {
        released = true;
        return 42;
    }

    l2cap::SocketEvents events;
    size_t room = 100;  // SDUs the kernel takes before it has no credits
    std::vector<Bytes> sent;
    std::deque<Bytes> incoming;
    bool reading = true;
    bool writing = false;
    bool broken = false;  // the kernel refuses every send
    bool released = false;

private:
    std::shared_ptr<bool> gone_;
};

}  // namespace ubt::test
