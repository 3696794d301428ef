// An L2CAP channel's ubluetooth semantics over a scripted kernel socket:
// sends that stall and resume with SEND_READY, and a receive buffer that
// stops reading the socket while it is full.
#include <catch2/catch.hpp>

#include <memory>

#include "core/error.hpp"
#include "error_of.hpp"
#include "l2cap/channel.hpp"

using namespace ubt;
using namespace ubt::l2cap;
using test::error_of;

namespace {

class FakeSocket : public Socket {
public:
    Sent send(ByteView sdu) override {
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

    size_t room = 100;  // SDUs the kernel takes before it has no credits
    std::vector<Bytes> sent;
    std::deque<Bytes> incoming;
    bool reading = true;
    bool writing = false;
};

struct Fixture {
    FakeSocket* socket;
    std::vector<std::string> events;
    std::unique_ptr<Channel> channel;

    explicit Fixture(uint16_t our_mtu = 100, uint16_t peer_mtu = 150, size_t limit = 0) {
        auto s = std::make_unique<FakeSocket>();
        socket = s.get();
        channel = std::make_unique<Channel>(
            ChannelInfo{0x40, 0x41, 0x80, our_mtu, peer_mtu}, std::move(s),
            ChannelEvents{[this] { events.push_back("recv"); },
                          [this](uint16_t status) { events.push_back("send_ready " + std::to_string(status)); }},
            limit);
    }
};

}  // namespace

TEST_CASE("l2cap_send: up to the peer's MTU and twice ours; larger buffers are InvalidArgs") {
    Fixture fx(100, 150);
    CHECK(fx.channel->send(Bytes(150, 1)));
    CHECK(error_of([&] { fx.channel->send(Bytes(151, 1)); }) == ErrorCode::InvalidArgs);
    Fixture small(50, 150);
    CHECK(small.channel->send(Bytes(100, 1)));
    CHECK(error_of([&] { small.channel->send(Bytes(101, 1)); }) == ErrorCode::InvalidArgs);
    CHECK(small.socket->sent.size() == 1);
}

TEST_CASE("l2cap_send: False when the kernel has no room; the data still goes, then SEND_READY") {
    Fixture fx;
    fx.socket->room = 1;
    CHECK(fx.channel->send(Bytes{1}));
    CHECK_FALSE(fx.channel->send(Bytes{2}));  // stalled, but taken
    CHECK(fx.socket->writing);
    CHECK(error_of([&] { fx.channel->send(Bytes{3}); }) == ErrorCode::Busy);  // wait for SEND_READY
    fx.channel->writable();  // still no credits
    CHECK(fx.events.empty());
    fx.socket->room = 5;
    fx.channel->writable();
    CHECK(fx.socket->sent == std::vector<Bytes>{{1}, {2}});
    CHECK(fx.events == std::vector<std::string>{"send_ready 0"});
    CHECK_FALSE(fx.socket->writing);
    CHECK(fx.channel->send(Bytes{3}));
}

TEST_CASE("l2cap_recvinto: RECV when data arrives; reads in order across SDUs and partly") {
    Fixture fx;
    fx.socket->incoming = {{1, 2, 3}, {4, 5}};
    fx.channel->readable();
    CHECK(fx.events == std::vector<std::string>{"recv"});
    CHECK(fx.channel->available() == 5);
    CHECK(fx.channel->receive(2) == Bytes{1, 2});
    CHECK(fx.channel->receive(10) == Bytes{3, 4, 5});
    CHECK(fx.channel->available() == 0);
    CHECK(fx.channel->receive(10).empty());
    fx.socket->incoming = {{6}};
    fx.channel->readable();
    CHECK(fx.events == std::vector<std::string>{"recv", "recv"});  // again once the buffer was drained
}

TEST_CASE("a full receive buffer stops reading the socket until the application drains it") {
    Fixture fx(100, 150, 200);
    for (int i = 0; i < 5; ++i) fx.socket->incoming.push_back(Bytes(100, static_cast<uint8_t>(i)));
    fx.channel->readable();
    CHECK(fx.channel->available() == 200);  // two SDUs; three wait in the kernel
    CHECK_FALSE(fx.socket->reading);
    CHECK(fx.socket->incoming.size() == 3);
    CHECK(fx.channel->receive(50) == Bytes(50, 0));
    CHECK(fx.socket->incoming.size() == 2);  // room for one more SDU: read at once
    CHECK(fx.channel->available() == 250);
    CHECK(fx.channel->receive(1000).size() == 250);
    CHECK(fx.channel->available() == 200);  // the next two came in as the buffer emptied
    CHECK(fx.channel->receive(1000).size() == 200);
    CHECK(fx.socket->reading);
    // RECV when data came into an empty buffer: at first, and after the buffer was emptied.
    CHECK(fx.events == std::vector<std::string>{"recv", "recv"});
}

TEST_CASE("the receive buffer holds at least one SDU of our MTU") {
    Fixture fx(100, 150, 1);
    fx.socket->incoming = {Bytes(100, 7)};
    fx.channel->readable();
    CHECK(fx.channel->available() == 100);
}
