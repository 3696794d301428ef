// An L2CAP channel's ubluetooth semantics over a scripted kernel socket:
// sends that stall and resume with SEND_READY, and a receive buffer that
// stops reading the socket while it is full.
#include <catch2/catch.hpp>

#include <memory>

#include "core/error.hpp"
#include "error_of.hpp"
#include "fake_l2cap_socket.hpp"
#include "l2cap/channel.hpp"

using namespace ubt;
using namespace ubt::l2cap;
using test::error_of;

namespace {

using FakeSocket = test::FakeL2capSocket;

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
                          [this](uint16_t status) { events.push_back("send_ready " + std::to_string(status)); },
                          [this] { events.push_back("disconnect"); }},
            limit);
    }
};

Bytes join(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

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
    fx.socket->events.writable();  // still no credits
    CHECK(fx.events.empty());
    fx.socket->room = 5;
    fx.socket->events.writable();
    CHECK(fx.socket->sent == std::vector<Bytes>{{1}, {2}});
    CHECK(fx.events == std::vector<std::string>{"send_ready 0"});
    CHECK_FALSE(fx.socket->writing);
    CHECK(fx.channel->send(Bytes{3}));
}

TEST_CASE("l2cap_recvinto: RECV when data arrives; reads in order across SDUs and partly") {
    Fixture fx;
    fx.socket->incoming = {{1, 2, 3}, {4, 5}};
    fx.socket->events.readable();
    CHECK(fx.events == std::vector<std::string>{"recv"});
    CHECK(fx.channel->available() == 5);
    CHECK(fx.channel->receive(2) == Bytes{1, 2});
    CHECK(fx.channel->receive(10) == Bytes{3, 4, 5});
    CHECK(fx.channel->available() == 0);
    CHECK(fx.channel->receive(10).empty());
    fx.socket->incoming = {{6}};
    fx.socket->events.readable();
    CHECK(fx.events == std::vector<std::string>{"recv", "recv"});  // again once the buffer was drained
}

TEST_CASE("a full receive buffer stops reading the socket until the application drains it") {
    Fixture fx(100, 150, 200);
    for (int i = 0; i < 5; ++i) fx.socket->incoming.push_back(Bytes(100, static_cast<uint8_t>(i)));
    fx.socket->events.readable();
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
    fx.socket->events.readable();
    CHECK(fx.channel->available() == 100);
}

TEST_CASE("l2cap_send: an empty buffer is InvalidArgs; a refusing kernel is Failed") {
    Fixture fx;
    CHECK(error_of([&] { fx.channel->send(Bytes{}); }) == ErrorCode::InvalidArgs);
    fx.socket->broken = true;
    CHECK(error_of([&] { fx.channel->send(Bytes{1}); }) == ErrorCode::Failed);
    CHECK(fx.socket->sent.empty());
}

TEST_CASE("SEND_READY with status 1 when the held SDU could not be sent after all") {
    Fixture fx;
    fx.socket->room = 0;
    CHECK_FALSE(fx.channel->send(Bytes{1}));
    fx.socket->broken = true;
    fx.socket->events.writable();
    CHECK(fx.events == std::vector<std::string>{"send_ready 1"});
    CHECK_FALSE(fx.socket->writing);
}

TEST_CASE("a hang-up: what the kernel still holds is read, DISCONNECT is raised, and it stays readable") {
    Fixture fx(100, 150, 100);
    fx.socket->incoming = {Bytes(100, 1), Bytes(100, 2), Bytes(30, 3)};
    fx.socket->events.readable();
    CHECK(fx.socket->incoming.size() == 2);  // the buffer is full
    fx.socket->events.hung_up();
    CHECK_FALSE(fx.channel->open());
    CHECK(fx.socket->incoming.empty());  // everything, past the limit: it is the last
    CHECK(fx.channel->available() == 230);
    CHECK(fx.events == std::vector<std::string>{"recv", "disconnect"});
    CHECK(fx.channel->receive(1000) == join({Bytes(100, 1), Bytes(100, 2), Bytes(30, 3)}));
    CHECK(error_of([&] { fx.channel->send(Bytes{1}); }) == ErrorCode::NotFound);
    fx.socket->events.hung_up();  // reported twice: once is enough
    CHECK(fx.events.size() == 2);
}

TEST_CASE("a hang-up with data into an empty buffer raises RECV before DISCONNECT") {
    Fixture fx;
    fx.socket->incoming = {{9}};
    fx.socket->events.hung_up();
    CHECK(fx.events == std::vector<std::string>{"recv", "disconnect"});
    CHECK(fx.channel->receive(10) == Bytes{9});
}

TEST_CASE("an SDU held while stalled is dropped at a hang-up, with DISCONNECT and no SEND_READY") {
    Fixture fx;
    fx.socket->room = 0;
    CHECK_FALSE(fx.channel->send(Bytes{1}));
    fx.channel->end();
    fx.socket->room = 5;
    fx.socket->events.writable();
    CHECK(fx.events == std::vector<std::string>{"disconnect"});
    CHECK(fx.socket->sent.empty());
}

TEST_CASE("handing over: the descriptor and the bytes already taken, and nothing more from the channel") {
    Fixture fx(100, 150, 100);
    fx.socket->incoming = {{1, 2, 3}, Bytes(100, 4), {5}};
    fx.socket->events.readable();
    CHECK(fx.channel->receive(1) == Bytes{1});
    auto [fd, pending] = fx.channel->release();
    CHECK(fd == 42);
    CHECK(pending == join({{2, 3}, Bytes(100, 4)}));  // what the buffer held, not more from the kernel
    CHECK(fx.socket->incoming == std::deque<Bytes>{{5}});
    CHECK(fx.socket->released);
    CHECK_FALSE(fx.channel->open());
    CHECK(fx.events == std::vector<std::string>{"recv"});
    CHECK(error_of([&] { fx.channel->release(); }) == ErrorCode::NotFound);
}

TEST_CASE("handing over a stalled channel is Busy: the unsent SDU is still the daemon's") {
    Fixture fx;
    fx.socket->room = 0;
    CHECK_FALSE(fx.channel->send(Bytes{1}));
    CHECK(error_of([&] { fx.channel->release(); }) == ErrorCode::Busy);
    CHECK(fx.channel->open());
    CHECK_FALSE(fx.socket->released);
}
