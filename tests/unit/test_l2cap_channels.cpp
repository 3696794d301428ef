// The adapter's table of L2CAP channels over a scripted kernel: listening,
// the peer's requests and the application's answers (with their timeout),
// channels we open, and the events and errors of the channels by
// (conn_handle, cid), as docs/dbus-api.md describes them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ble/l2cap_channels.hpp"
#include "core/error.hpp"
#include "error_of.hpp"
#include "fake_hci.hpp"
#include "fake_l2cap_socket.hpp"
#include "l2cap/kernel.hpp"

using namespace ubt;
using namespace ubt::ble;
using l2cap::ChannelInfo;
using test::error_of;

namespace {

const LeAddress kLocal{0, Address{{0x00, 0xaa, 0x01, 0x01, 0x00, 0x42}}};
const LeAddress kPeer{1, Address{{0xc0, 0x11, 0x22, 0x33, 0x44, 0x55}}};
constexpr uint16_t kPsm = 0x80;
constexpr uint16_t kOurMtu = 100;
constexpr uint16_t kPeerMtu = 150;

using FakeSocket = test::FakeL2capSocket;

// A socket the test keeps an eye on after handing it over: `gone` says it
// was destroyed (closed), and only then is `socket` dangling.
struct SocketProbe {
    FakeSocket* socket = nullptr;
    std::shared_ptr<bool> gone = std::make_shared<bool>(false);

    std::unique_ptr<FakeSocket> make() {
        auto s = std::make_unique<FakeSocket>(gone);
        socket = s.get();
        return s;
    }
};

// What the kernel does with a request the application answered.
struct RequestState {
    int fail = 0;                  // accept fails with this errno
    std::optional<uint16_t> peer_mtu = kPeerMtu;  // what accept learns; nullopt: the numbers stay
    int accepts = 0;
    bool destroyed = false;  // without an accept: rejected
    std::function<void()> hang_up;  // the peer closing the channel while it waits
    SocketProbe probe;

    bool rejected() const { return destroyed && accepts == 0; }
};

class FakeRequest : public l2cap::Request {
public:
    explicit FakeRequest(std::shared_ptr<RequestState> state) : state_(std::move(state)) {}
    ~FakeRequest() override { state_->destroyed = true; }

    void on_hang_up(std::function<void()> hung_up) override { state_->hang_up = std::move(hung_up); }

    std::unique_ptr<l2cap::Socket> accept(ChannelInfo& info, int& error) override {
        ++state_->accepts;
        if (state_->fail) {
            error = state_->fail;
            return nullptr;
        }
        if (state_->peer_mtu) info.peer_mtu = *state_->peer_mtu;
        return state_->probe.make();
    }

private:
    std::shared_ptr<RequestState> state_;
};

class FakePending : public l2cap::Pending {
public:
    explicit FakePending(std::shared_ptr<bool> gone) : gone_(std::move(gone)) {}
    ~FakePending() override { *gone_ = true; }

    l2cap::Kernel::ConnectHandler done;  // an attempt's; empty for a listener

private:
    std::shared_ptr<bool> gone_;
};

class FakeKernel : public l2cap::Kernel {
public:
    struct Listening {
        LeAddress local;
        uint16_t psm;
        uint16_t mtu;
        RequestHandler on_request;
        std::shared_ptr<bool> gone;
    };
    struct Connecting {
        LeAddress local;
        LeAddress peer;
        uint16_t psm;
        uint16_t mtu;
        FakePending* pending;  // dangling once gone
        std::shared_ptr<bool> gone;
    };

    std::unique_ptr<l2cap::Pending> listen(const LeAddress& local, uint16_t psm, uint16_t mtu,
                                           RequestHandler on_request) override {
        if (refuse) throw BleError(*refuse, "the kernel refuses");
        auto gone = std::make_shared<bool>(false);
        listens.push_back({local, psm, mtu, std::move(on_request), gone});
        return std::make_unique<FakePending>(gone);
    }
    std::unique_ptr<l2cap::Pending> connect(const LeAddress& local, const LeAddress& peer, uint16_t psm,
                                            uint16_t mtu, ConnectHandler done) override {
        if (refuse) throw BleError(*refuse, "the kernel refuses");
        auto gone = std::make_shared<bool>(false);
        auto pending = std::make_unique<FakePending>(gone);
        pending->done = std::move(done);
        connects.push_back({local, peer, psm, mtu, pending.get(), gone});
        return pending;
    }

    // The peer asks for a channel on listener i: by default with peer_mtu 0
    // (not known before the accept), and an accept that learns it.
    std::shared_ptr<RequestState> request(size_t i, uint16_t conn_handle, uint16_t cid,
                                          std::shared_ptr<RequestState> state = std::make_shared<RequestState>(),
                                          uint16_t peer_mtu = 0) {
        REQUIRE(i < listens.size());
        REQUIRE_FALSE(*listens[i].gone);
        listens[i].on_request(ChannelInfo{conn_handle, cid, listens[i].psm, listens[i].mtu, peer_mtu},
                              std::make_unique<FakeRequest>(state));
        return state;
    }

    // Attempt i ends as the real kernel ends it: the handler is taken out of
    // the Pending first, as the handler may destroy it. Returns whether the
    // Pending was gone when the handler returned.
    bool finish(size_t i, std::unique_ptr<l2cap::Socket> socket, const ChannelInfo& info, int error) {
        REQUIRE(i < connects.size());
        REQUIRE_FALSE(*connects[i].gone);
        ConnectHandler done = std::move(connects[i].pending->done);
        done(std::move(socket), info, error);
        return *connects[i].gone;
    }
    SocketProbe open(size_t i, uint16_t conn_handle, uint16_t cid) {
        SocketProbe probe;
        finish(i, probe.make(), ChannelInfo{conn_handle, cid, connects[i].psm, connects[i].mtu, kPeerMtu}, 0);
        return probe;
    }
    void fail(size_t i, uint16_t conn_handle, int error) {
        finish(i, nullptr, ChannelInfo{conn_handle, 0, connects[i].psm, connects[i].mtu, 0}, error);
    }

    std::vector<Listening> listens;
    std::vector<Connecting> connects;
    std::optional<ErrorCode> refuse;
};

std::string describe(const IrqEvent& e) {
    auto n = [](auto v) { return std::to_string(v); };
    if (auto a = std::get_if<L2capAccept>(&e)) {
        return "accept " + n(a->conn_handle) + " " + n(a->cid) + " " + n(a->psm) + " " + n(a->our_mtu) + " " +
               n(a->peer_mtu);
    }
    if (auto c = std::get_if<L2capConnect>(&e)) {
        return "connect " + n(c->conn_handle) + " " + n(c->cid) + " " + n(c->psm) + " " + n(c->our_mtu) + " " +
               n(c->peer_mtu);
    }
    if (auto d = std::get_if<L2capDisconnect>(&e)) {
        return "disconnect " + n(d->conn_handle) + " " + n(d->cid) + " " + n(d->psm) + " " + n(d->status);
    }
    if (auto r = std::get_if<L2capRecv>(&e)) return "recv " + n(r->conn_handle) + " " + n(r->cid);
    if (auto s = std::get_if<L2capSendReady>(&e)) {
        return "send_ready " + n(s->conn_handle) + " " + n(s->cid) + " " + n(s->status);
    }
    return "another event";
}

using Events = std::vector<std::string>;

struct Fixture {
    test::FakeTimers timers;
    EventQueue queue{1 << 20};
    FakeKernel kernel;
    std::unique_ptr<L2capChannels> l2cap = std::make_unique<L2capChannels>(timers, queue);

    // The answers the asker was given, in order, with what it was asked.
    std::vector<ChannelInfo> asked;
    std::vector<std::function<void(uint32_t)>> answers;

    Fixture() { l2cap->set_kernel(&kernel); }

    // The events raised since the last call.
    Events events() {
        Events out;
        while (auto e = queue.pop()) out.push_back(describe(*e));
        return out;
    }
    // An asker that keeps the answers for the test to give.
    void ask_later() {
        l2cap->set_accept_asker([this](const ChannelInfo& info, std::function<void(uint32_t)> answer) {
            asked.push_back(info);
            answers.push_back(std::move(answer));
        });
    }
    // A channel the peer opened, accepted without asking (listening on kPsm first if not yet).
    SocketProbe incoming(uint16_t conn_handle, uint16_t cid) {
        if (kernel.listens.empty()) l2cap->listen(kLocal, kPsm, kOurMtu);
        auto request = kernel.request(0, conn_handle, cid);
        REQUIRE(request->accepts == 1);
        REQUIRE(request->probe.socket);
        return request->probe;
    }
    size_t accept_timers() const {
        return static_cast<size_t>(std::count_if(timers.pending.begin(), timers.pending.end(), [](const auto& t) {
            return t.second.first == std::chrono::milliseconds(L2capChannels::kAcceptTimeout);
        }));
    }
};

}  // namespace

// --- Arguments ---

TEST_CASE("check() takes PSMs 1 to 255 and MTUs from 23, and nothing else", "[l2cap_channels]") {
    CHECK_NOTHROW(L2capChannels::check(1, 23));
    CHECK_NOTHROW(L2capChannels::check(255, 23));
    CHECK_NOTHROW(L2capChannels::check(0x80, 65535));
    CHECK(error_of([] { L2capChannels::check(0, 23); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([] { L2capChannels::check(256, 23); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([] { L2capChannels::check(0xffff, 23); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([] { L2capChannels::check(0x80, 22); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([] { L2capChannels::check(0x80, 0); }) == ErrorCode::InvalidArgs);
}

TEST_CASE("listen and connect with a PSM or MTU out of range are InvalidArgs and do not reach the kernel",
          "[l2cap_channels]") {
    Fixture fx;
    CHECK(error_of([&] { fx.l2cap->listen(kLocal, 0, kOurMtu); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.l2cap->listen(kLocal, 256, kOurMtu); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.l2cap->listen(kLocal, kPsm, 22); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.l2cap->connect(1, kLocal, kPeer, 0, kOurMtu); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.l2cap->connect(1, kLocal, kPeer, 256, kOurMtu); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.l2cap->connect(1, kLocal, kPeer, kPsm, 22); }) == ErrorCode::InvalidArgs);
    CHECK(fx.kernel.listens.empty());
    CHECK(fx.kernel.connects.empty());
    CHECK(fx.events().empty());
}

TEST_CASE("without a kernel listen and connect are NotSupported", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->set_kernel(nullptr);
    CHECK(error_of([&] { fx.l2cap->listen(kLocal, kPsm, kOurMtu); }) == ErrorCode::NotSupported);
    CHECK(error_of([&] { fx.l2cap->connect(1, kLocal, kPeer, kPsm, kOurMtu); }) == ErrorCode::NotSupported);
    // Nothing was recorded: with the kernel back, the PSM is free and no attempt is there to end.
    fx.l2cap->set_kernel(&fx.kernel);
    CHECK_NOTHROW(fx.l2cap->listen(kLocal, kPsm, kOurMtu));
    fx.l2cap->link_ended(1);
    CHECK(fx.events().empty());
}

// --- Listening ---

TEST_CASE("listen gives the kernel our address, the PSM and our MTU", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->listen(kLocal, 0x81, 64);
    fx.l2cap->listen(kLocal, 0x82, 23);
    REQUIRE(fx.kernel.listens.size() == 2);
    CHECK(fx.kernel.listens[0].local == kLocal);
    CHECK(fx.kernel.listens[0].psm == 0x81);
    CHECK(fx.kernel.listens[0].mtu == 64);
    CHECK(fx.kernel.listens[1].psm == 0x82);
    CHECK(fx.kernel.listens[1].mtu == 23);
    CHECK_FALSE(*fx.kernel.listens[0].gone);
    CHECK(fx.events().empty());
}

TEST_CASE("listening twice on one PSM is Busy and does not ask the kernel again", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    CHECK(error_of([&] { fx.l2cap->listen(kLocal, kPsm, 200); }) == ErrorCode::Busy);
    CHECK(fx.kernel.listens.size() == 1);
    CHECK_FALSE(*fx.kernel.listens[0].gone);  // the first listener still listens
}

TEST_CASE("a PSM the kernel refused to listen on stays free", "[l2cap_channels]") {
    Fixture fx;
    fx.kernel.refuse = ErrorCode::Failed;
    CHECK(error_of([&] { fx.l2cap->listen(kLocal, kPsm, kOurMtu); }) == ErrorCode::Failed);
    fx.kernel.refuse.reset();
    CHECK_NOTHROW(fx.l2cap->listen(kLocal, kPsm, kOurMtu));
    CHECK(fx.kernel.listens.size() == 1);
}

// --- Accepting ---

TEST_CASE("without an asker a request raises L2capAccept then L2capConnect with the MTUs the accept gave",
          "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    CHECK(request->accepts == 1);
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "connect 1 64 128 100 150"});
    CHECK(fx.timers.pending.empty());  // nothing to time out
    REQUIRE(request->probe.socket);
    CHECK(request->probe.socket->events.readable);  // the channel reads its socket
    CHECK_FALSE(*request->probe.gone);
    CHECK(fx.l2cap->available(1, 0x40) == 0);
}

TEST_CASE("a request that comes with the peer's MTU shows it in L2capAccept and keeps it when accepted",
          "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto state = std::make_shared<RequestState>();
    state->peer_mtu.reset();  // the accept changes nothing
    fx.kernel.request(0, 1, 0x40, state, 0x99);
    CHECK(state->accepts == 1);
    CHECK(fx.events() == Events{"accept 1 64 128 100 153", "connect 1 64 128 100 153"});
}

TEST_CASE("the asker is asked with the numbers the kernel gave the request", "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    fx.kernel.request(0, 7, 0x45);
    REQUIRE(fx.asked.size() == 1);
    CHECK(fx.asked[0].conn_handle == 7);
    CHECK(fx.asked[0].cid == 0x45);
    CHECK(fx.asked[0].psm == kPsm);
    CHECK(fx.asked[0].our_mtu == kOurMtu);
    CHECK(fx.asked[0].peer_mtu == 0);
    CHECK(fx.events() == Events{"accept 7 69 128 100 0"});
}

TEST_CASE("an asker answering 0 at once accepts the channel", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->set_accept_asker([](const ChannelInfo&, std::function<void(uint32_t)> answer) { answer(0); });
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    CHECK(request->accepts == 1);
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "connect 1 64 128 100 150"});
    CHECK(fx.timers.pending.empty());  // the timeout went with the answer
}

TEST_CASE("an asker answering 0 later accepts the channel then, and the timeout is cancelled",
          "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    CHECK(fx.events() == Events{"accept 1 64 128 100 0"});
    CHECK(request->accepts == 0);
    CHECK_FALSE(request->destroyed);  // held until the answer
    CHECK(fx.accept_timers() == 1);
    REQUIRE(fx.answers.size() == 1);
    fx.answers[0](0);
    CHECK(request->accepts == 1);
    CHECK(fx.events() == Events{"connect 1 64 128 100 150"});
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("a non-zero answer at once rejects the request and raises nothing more", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->set_accept_asker([](const ChannelInfo&, std::function<void(uint32_t)> answer) { answer(1); });
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    CHECK(request->rejected());
    CHECK(fx.events() == Events{"accept 1 64 128 100 0"});
    CHECK(fx.timers.pending.empty());
    fx.timers.fire_all();
    CHECK(fx.events().empty());
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
}

TEST_CASE("a non-zero answer later rejects the request and raises nothing more", "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    REQUIRE(fx.answers.size() == 1);
    fx.answers[0](0x1234);
    CHECK(request->rejected());
    CHECK(fx.timers.pending.empty());
    CHECK(fx.events() == Events{"accept 1 64 128 100 0"});
    fx.answers[0](0);  // a change of mind is too late
    CHECK(request->accepts == 0);
    CHECK(fx.events().empty());
}

TEST_CASE("an asker that never answers: after 5 s, L2capDisconnect status 110 and the request is rejected",
          "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::milliseconds(5000));
    CHECK(fx.events() == Events{"accept 1 64 128 100 0"});
    fx.timers.fire_all();
    CHECK(request->rejected());
    CHECK(fx.events() == Events{"disconnect 1 64 128 110"});
}

TEST_CASE("an answer after the timeout is ignored", "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    fx.timers.fire_all();
    fx.events();
    REQUIRE(fx.answers.size() == 1);
    fx.answers[0](0);
    CHECK(request->accepts == 0);
    CHECK(fx.events().empty());
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
}

TEST_CASE("a second answer to one request is ignored", "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    fx.answers[0](0);
    fx.answers[0](0);
    fx.answers[0](1);
    CHECK(request->accepts == 1);
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "connect 1 64 128 100 150"});
    CHECK_FALSE(*request->probe.gone);  // the channel stays open
}

TEST_CASE("each request gets its own answer and its own timeout", "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto first = fx.kernel.request(0, 1, 0x40);
    auto second = fx.kernel.request(0, 1, 0x41);
    CHECK(fx.accept_timers() == 2);
    fx.answers[1](0);
    CHECK(second->accepts == 1);
    CHECK_FALSE(first->destroyed);
    CHECK(fx.accept_timers() == 1);
    fx.timers.fire_all();
    CHECK(first->rejected());
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "accept 1 65 128 100 0", "connect 1 65 128 100 150",
                                "disconnect 1 64 128 110"});
}

TEST_CASE("an accept that fails raises L2capDisconnect with its errno", "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    request->fail = ENOTCONN;
    fx.answers[0](0);
    CHECK(request->accepts == 1);
    CHECK(request->destroyed);
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "disconnect 1 64 128 107"});
    CHECK(fx.timers.pending.empty());
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
}

TEST_CASE("an accept that fails without an asker raises L2capDisconnect with its errno", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto state = std::make_shared<RequestState>();
    state->fail = ECONNRESET;  // as soon as it is accepted
    fx.kernel.request(0, 3, 0x44, state);
    CHECK(state->accepts == 1);
    CHECK(fx.events() == Events{"accept 3 68 128 100 0", "disconnect 3 68 128 104"});
}

TEST_CASE("the channels destroyed before a late answer: the answer does nothing and the request is rejected",
          "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    fx.events();
    fx.l2cap.reset();
    CHECK(request->rejected());
    CHECK(*fx.kernel.listens[0].gone);
    CHECK(fx.timers.pending.empty());  // the timeout went with them
    REQUIRE(fx.answers.size() == 1);
    fx.answers[0](0);
    fx.answers[0](1);
    CHECK(request->accepts == 0);
    CHECK(fx.events().empty());
}

TEST_CASE("the channels destroyed: a timeout that still fires does nothing", "[l2cap_channels]") {
    // A Timers that cannot cancel: the callback must find the object gone by itself.
    class StubbornTimers : public Timers {
    public:
        Id start(std::chrono::milliseconds, std::function<void()> callback) override {
            callbacks.push_back(std::move(callback));
            return callbacks.size();
        }
        void cancel(Id) override {}
        std::vector<std::function<void()>> callbacks;
    };
    StubbornTimers timers;
    EventQueue queue(1 << 20);
    FakeKernel kernel;
    auto l2cap = std::make_unique<L2capChannels>(timers, queue);
    l2cap->set_kernel(&kernel);
    l2cap->set_accept_asker([](const ChannelInfo&, std::function<void(uint32_t)>) {});
    l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = kernel.request(0, 1, 0x40);
    REQUIRE(queue.pop());  // the L2capAccept
    l2cap.reset();
    REQUIRE(timers.callbacks.size() == 1);
    timers.callbacks[0]();
    CHECK_FALSE(queue.pop());
    CHECK(request->rejected());
}

// --- Connecting ---

TEST_CASE("connect gives the kernel both addresses, the PSM and our MTU, and raises nothing yet",
          "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->connect(5, kLocal, kPeer, 0x81, 64);
    REQUIRE(fx.kernel.connects.size() == 1);
    CHECK(fx.kernel.connects[0].local == kLocal);
    CHECK(fx.kernel.connects[0].peer == kPeer);
    CHECK(fx.kernel.connects[0].psm == 0x81);
    CHECK(fx.kernel.connects[0].mtu == 64);
    CHECK_FALSE(*fx.kernel.connects[0].gone);
    CHECK(fx.events().empty());
}

TEST_CASE("a connect that succeeds raises L2capConnect with the channel's numbers", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->connect(5, kLocal, kPeer, kPsm, kOurMtu);
    auto probe = fx.kernel.open(0, 5, 0x41);
    CHECK(fx.events() == Events{"connect 5 65 128 100 150"});
    CHECK(*fx.kernel.connects[0].gone);
    CHECK_FALSE(*probe.gone);
    CHECK(fx.l2cap->send(5, 0x41, Bytes{1, 2}));
    CHECK(probe.socket->sent == std::vector<Bytes>{{1, 2}});
}

TEST_CASE("a connect that fails raises L2capDisconnect with its errno and cid 0, and the attempt goes",
          "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->connect(5, kLocal, kPeer, kPsm, kOurMtu);
    fx.kernel.fail(0, 5, ECONNREFUSED);
    CHECK(fx.events() == Events{"disconnect 5 0 128 111"});
    CHECK(*fx.kernel.connects[0].gone);
    fx.l2cap->link_ended(5);  // nothing is left to end
    CHECK(fx.events().empty());
}

TEST_CASE("a connect that fails without an errno is reported as refused (111)", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->connect(5, kLocal, kPeer, kPsm, kOurMtu);
    fx.kernel.fail(0, 5, 0);
    CHECK(fx.events() == Events{"disconnect 5 0 128 111"});
}

TEST_CASE("a failed connect reports the attempt's conn_handle and PSM with the cid the kernel gave",
          "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->connect(5, kLocal, kPeer, 0x81, kOurMtu);
    fx.kernel.finish(0, nullptr, ChannelInfo{0, 0x47, 0, 0, 0}, ETIMEDOUT);
    CHECK(fx.events() == Events{"disconnect 5 71 129 110"});
}

TEST_CASE("the attempt's Pending is destroyed inside its own done handler, and the channel works after",
          "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->connect(5, kLocal, kPeer, kPsm, kOurMtu);
    fx.l2cap->connect(5, kLocal, kPeer, kPsm, kOurMtu);
    SocketProbe probe;
    bool gone_on_return = fx.kernel.finish(1, probe.make(), ChannelInfo{5, 0x40, kPsm, kOurMtu, kPeerMtu}, 0);
    CHECK(gone_on_return);
    CHECK_FALSE(*fx.kernel.connects[0].gone);  // the other attempt waits on
    CHECK(fx.kernel.finish(0, nullptr, ChannelInfo{5, 0, kPsm, kOurMtu, 0}, EHOSTDOWN));
    CHECK(fx.events() == Events{"connect 5 64 128 100 150", "disconnect 5 0 128 112"});
    CHECK(fx.l2cap->send(5, 0x40, Bytes{9}));
}

TEST_CASE("a connect the kernel refuses at once passes its error on and leaves no attempt", "[l2cap_channels]") {
    Fixture fx;
    fx.kernel.refuse = ErrorCode::Failed;
    CHECK(error_of([&] { fx.l2cap->connect(5, kLocal, kPeer, kPsm, kOurMtu); }) == ErrorCode::Failed);
    fx.l2cap->link_ended(5);
    fx.l2cap->stop();
    CHECK(fx.events().empty());
}

// --- The link and the radio going ---

TEST_CASE("link_ended: the link's channels raise L2capDisconnect 0 first, then its attempts and requests 104",
          "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    for (uint16_t conn : {1, 2}) {
        fx.l2cap->connect(conn, kLocal, kPeer, kPsm, kOurMtu);  // becomes channel 0x40
        fx.l2cap->connect(conn, kLocal, kPeer, 0x81, kOurMtu);  // still opening
    }
    auto channel1 = fx.kernel.open(0, 1, 0x40);
    auto channel2 = fx.kernel.open(2, 2, 0x40);
    auto request1 = fx.kernel.request(0, 1, 0x41);
    auto request2 = fx.kernel.request(0, 2, 0x41);
    fx.events();

    fx.l2cap->link_ended(1);
    Events events = fx.events();
    REQUIRE(events.size() == 3);
    CHECK(events[0] == "disconnect 1 64 128 0");
    Events opening(events.begin() + 1, events.end());
    std::sort(opening.begin(), opening.end());
    CHECK(opening == Events{"disconnect 1 0 129 104", "disconnect 1 65 128 104"});

    CHECK(*fx.kernel.connects[1].gone);  // link 1's attempt abandoned
    CHECK(request1->rejected());
    CHECK(fx.accept_timers() == 1);  // only link 2's request is still timed
    CHECK(error_of([&] { fx.l2cap->send(1, 0x40, Bytes{1}); }) == ErrorCode::NotFound);
    fx.answers[0](0);  // link 1's request: too late
    CHECK(request1->accepts == 0);
    CHECK(fx.events().empty());

    // Link 2 is untouched.
    CHECK_FALSE(*fx.kernel.connects[3].gone);
    CHECK_FALSE(request2->destroyed);
    CHECK(fx.l2cap->send(2, 0x40, Bytes{1}));
    fx.answers[1](0);
    CHECK(fx.events() == Events{"connect 2 65 128 100 150"});
    fx.kernel.fail(3, 2, ECONNREFUSED);
    CHECK(fx.events() == Events{"disconnect 2 0 129 111"});
    CHECK_FALSE(*channel2.gone);
}

TEST_CASE("link_ended: what the link's channels had queued stays readable after L2capDisconnect",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    fx.events();
    probe.socket->incoming = {{1, 2}, {3}};
    fx.l2cap->link_ended(1);
    CHECK(fx.events() == Events{"recv 1 64", "disconnect 1 64 128 0"});
    fx.timers.fire_all();  // the sweep keeps channels with data
    CHECK(fx.l2cap->available(1, 0x40) == 3);
    CHECK(fx.l2cap->receive(1, 0x40, 10) == Bytes{1, 2, 3});
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
}

TEST_CASE("link_ended on a link with nothing of ours raises nothing", "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    fx.events();
    fx.l2cap->link_ended(2);
    CHECK(fx.events().empty());
    CHECK(fx.l2cap->send(1, 0x40, Bytes{1}));
}

TEST_CASE("link_ended does not raise L2capDisconnect again for a channel that had already ended",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    probe.socket->incoming = {{1}};
    probe.socket->events.hung_up();
    fx.events();
    fx.l2cap->link_ended(1);
    CHECK(fx.events().empty());
    CHECK(fx.l2cap->receive(1, 0x40, 10) == Bytes{1});
}

TEST_CASE("stop(): listeners are destroyed, attempts and requests end with 104", "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    fx.l2cap->listen(kLocal, 0x82, kOurMtu);
    fx.l2cap->connect(3, kLocal, kPeer, 0x81, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    fx.events();

    fx.l2cap->stop();
    Events events = fx.events();
    std::sort(events.begin(), events.end());
    CHECK(events == Events{"disconnect 1 64 128 104", "disconnect 3 0 129 104"});
    CHECK(*fx.kernel.listens[0].gone);
    CHECK(*fx.kernel.listens[1].gone);
    CHECK(*fx.kernel.connects[0].gone);
    CHECK(request->rejected());
    CHECK(fx.timers.pending.empty());
    fx.answers[0](0);  // too late
    CHECK(request->accepts == 0);
    CHECK(fx.events().empty());
}

TEST_CASE("after stop() the PSMs can be listened on again", "[l2cap_channels]") {
    Fixture fx;
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    fx.l2cap->stop();
    CHECK_NOTHROW(fx.l2cap->listen(kLocal, kPsm, kOurMtu));
    CHECK(fx.kernel.listens.size() == 2);
    CHECK_FALSE(*fx.kernel.listens[1].gone);
}

// --- Calls on channels ---

TEST_CASE("send, available, receive, disconnect and release on an unknown channel are NotFound",
          "[l2cap_channels]") {
    Fixture fx;
    auto check_unknown = [&](uint16_t conn, uint16_t cid) {
        CHECK(error_of([&] { fx.l2cap->send(conn, cid, Bytes{1}); }) == ErrorCode::NotFound);
        CHECK(error_of([&] { fx.l2cap->available(conn, cid); }) == ErrorCode::NotFound);
        CHECK(error_of([&] { fx.l2cap->receive(conn, cid, 10); }) == ErrorCode::NotFound);
        CHECK(error_of([&] { fx.l2cap->disconnect(conn, cid); }) == ErrorCode::NotFound);
        CHECK(error_of([&] { fx.l2cap->release(conn, cid); }) == ErrorCode::NotFound);
    };
    check_unknown(1, 0x40);
    auto probe = fx.incoming(1, 0x40);
    fx.events();
    check_unknown(2, 0x40);  // another link
    check_unknown(1, 0x41);  // another channel on the link
    CHECK(fx.events().empty());
    CHECK(probe.socket->sent.empty());
    CHECK_FALSE(probe.socket->released);
}

TEST_CASE("disconnect raises L2capDisconnect 0 once, closes the socket and forgets the channel",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    fx.events();
    fx.l2cap->disconnect(1, 0x40);
    CHECK(fx.events() == Events{"disconnect 1 64 128 0"});
    CHECK(*probe.gone);
    CHECK(error_of([&] { fx.l2cap->disconnect(1, 0x40); }) == ErrorCode::NotFound);
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
    fx.l2cap->link_ended(1);
    fx.timers.fire_all();
    CHECK(fx.events().empty());
}

TEST_CASE("disconnecting a channel that already ended forgets it without a second L2capDisconnect",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    probe.socket->incoming = {{1, 2}};
    probe.socket->events.hung_up();
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "connect 1 64 128 100 150", "recv 1 64",
                                "disconnect 1 64 128 0"});
    fx.l2cap->disconnect(1, 0x40);
    CHECK(fx.events().empty());
    CHECK(error_of([&] { fx.l2cap->receive(1, 0x40, 10); }) == ErrorCode::NotFound);
}

TEST_CASE("a hung-up channel stays readable until drained, then is NotFound; send is NotFound at once",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    fx.events();
    probe.socket->incoming = {{1, 2, 3}};
    probe.socket->events.hung_up();
    CHECK(fx.events() == Events{"recv 1 64", "disconnect 1 64 128 0"});
    CHECK(error_of([&] { fx.l2cap->send(1, 0x40, Bytes{1}); }) == ErrorCode::NotFound);
    CHECK(fx.l2cap->available(1, 0x40) == 3);
    CHECK(fx.l2cap->receive(1, 0x40, 2) == Bytes{1, 2});
    fx.timers.fire_all();  // the sweep keeps it: one byte is left
    CHECK(fx.l2cap->available(1, 0x40) == 1);
    CHECK(fx.l2cap->receive(1, 0x40, 10) == Bytes{3});
    CHECK(*probe.gone);  // the last byte read: forgotten
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
    CHECK(error_of([&] { fx.l2cap->receive(1, 0x40, 10); }) == ErrorCode::NotFound);
    CHECK(error_of([&] { fx.l2cap->send(1, 0x40, Bytes{1}); }) == ErrorCode::NotFound);
    CHECK(fx.events().empty());
}

TEST_CASE("receive on a hung-up channel with nothing left is NotFound even before the sweep",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    probe.socket->events.hung_up();
    CHECK(error_of([&] { fx.l2cap->receive(1, 0x40, 10); }) == ErrorCode::NotFound);
    CHECK(*probe.gone);
    fx.timers.fire_all();  // a sweep finding nothing
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
}

TEST_CASE("a hung-up channel with nothing to read is forgotten by the sweep timer, not inside the hang-up",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    auto other = fx.incoming(1, 0x41);
    fx.events();
    probe.socket->events.hung_up();
    CHECK(fx.events() == Events{"disconnect 1 64 128 0"});
    CHECK_FALSE(*probe.gone);  // reported from inside the socket: not destroyed there
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::milliseconds(0));
    fx.timers.fire_all();
    CHECK(*probe.gone);
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
    CHECK_FALSE(*other.gone);  // open channels stay
    CHECK(fx.l2cap->available(1, 0x41) == 0);
    CHECK(fx.events().empty());
}

TEST_CASE("several hang-ups before the sweep share one sweep timer", "[l2cap_channels]") {
    Fixture fx;
    auto a = fx.incoming(1, 0x40);
    auto b = fx.incoming(2, 0x40);
    a.socket->events.hung_up();
    b.socket->events.hung_up();
    CHECK(fx.timers.pending.size() == 1);
    fx.timers.fire_all();
    CHECK(*a.gone);
    CHECK(*b.gone);
    // A later hang-up gets a new sweep.
    auto c = fx.incoming(3, 0x40);
    c.socket->events.hung_up();
    CHECK(fx.timers.pending.size() == 1);
    fx.timers.fire_all();
    CHECK(*c.gone);
}

TEST_CASE("a new channel with the numbers of an ended one replaces it", "[l2cap_channels]") {
    Fixture fx;
    auto old = fx.incoming(1, 0x40);
    old.socket->incoming = {{1, 2, 3}};
    old.socket->events.hung_up();
    fx.timers.fire_all();
    fx.events();
    REQUIRE(fx.l2cap->available(1, 0x40) == 3);

    auto fresh = fx.incoming(1, 0x40);  // the kernel reused the cid
    CHECK(*old.gone);
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "connect 1 64 128 100 150"});
    CHECK(fx.l2cap->available(1, 0x40) == 0);
    CHECK(fx.l2cap->send(1, 0x40, Bytes{7}));
    CHECK(fresh.socket->sent == std::vector<Bytes>{{7}});
    fresh.socket->incoming = {{8}};
    fresh.socket->events.readable();
    CHECK(fx.l2cap->receive(1, 0x40, 10) == Bytes{8});
    fx.timers.fire_all();
    CHECK_FALSE(*fresh.gone);  // open: the sweep leaves it
}

TEST_CASE("a channel opened by connect with the numbers of an ended one replaces it", "[l2cap_channels]") {
    Fixture fx;
    auto old = fx.incoming(1, 0x40);
    old.socket->incoming = {{1}};
    old.socket->events.hung_up();
    fx.l2cap->connect(1, kLocal, kPeer, kPsm, kOurMtu);
    auto fresh = fx.kernel.open(0, 1, 0x40);
    CHECK(*old.gone);
    CHECK(fx.l2cap->available(1, 0x40) == 0);
    fx.timers.fire_all();
    CHECK_FALSE(*fresh.gone);
    CHECK(fx.l2cap->send(1, 0x40, Bytes{1}));
}

TEST_CASE("L2capRecv and L2capSendReady name their channel", "[l2cap_channels]") {
    Fixture fx;
    auto a = fx.incoming(1, 0x40);
    auto b = fx.incoming(2, 0x41);
    fx.events();
    b.socket->incoming = {{1, 2}};
    b.socket->events.readable();
    CHECK(fx.events() == Events{"recv 2 65"});
    a.socket->room = 0;
    CHECK_FALSE(fx.l2cap->send(1, 0x40, Bytes{5}));
    CHECK(error_of([&] { fx.l2cap->send(1, 0x40, Bytes{6}); }) == ErrorCode::Busy);
    CHECK(fx.l2cap->send(2, 0x41, Bytes{6}));  // the other channel is not stalled
    a.socket->room = 1;
    a.socket->events.writable();
    CHECK(fx.events() == Events{"send_ready 1 64 0"});
    CHECK(a.socket->sent == std::vector<Bytes>{{5}});
    CHECK(fx.l2cap->receive(2, 0x41, 10) == Bytes{1, 2});
}

TEST_CASE("send checks the SDU against the MTUs the channel opened with", "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);  // ours 100, the peer's 150
    CHECK(fx.l2cap->send(1, 0x40, Bytes(150, 1)));
    CHECK(error_of([&] { fx.l2cap->send(1, 0x40, Bytes(151, 1)); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.l2cap->send(1, 0x40, Bytes{}); }) == ErrorCode::InvalidArgs);
    CHECK(probe.socket->sent.size() == 1);
}

TEST_CASE("release hands over the descriptor and the unread bytes, then the channel is NotFound without events",
          "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    probe.socket->incoming = {{1, 2, 3}};
    probe.socket->events.readable();
    fx.events();
    CHECK(fx.l2cap->receive(1, 0x40, 1) == Bytes{1});
    auto [fd, pending] = fx.l2cap->release(1, 0x40);
    CHECK(fd == 42);
    CHECK(pending == Bytes{2, 3});
    CHECK(*probe.gone);  // the object goes; the descriptor is the caller's
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
    CHECK(error_of([&] { fx.l2cap->release(1, 0x40); }) == ErrorCode::NotFound);
    fx.l2cap->link_ended(1);
    fx.timers.fire_all();
    CHECK(fx.events().empty());
}

TEST_CASE("release of a stalled channel is Busy and keeps it", "[l2cap_channels]") {
    Fixture fx;
    auto probe = fx.incoming(1, 0x40);
    probe.socket->room = 0;
    CHECK_FALSE(fx.l2cap->send(1, 0x40, Bytes{1}));
    CHECK(error_of([&] { fx.l2cap->release(1, 0x40); }) == ErrorCode::Busy);
    CHECK_FALSE(*probe.gone);
    CHECK_FALSE(probe.socket->released);
    CHECK(fx.l2cap->available(1, 0x40) == 0);
}

// --- Ended channels kept for their data ---

TEST_CASE("beyond kMaxEndedChannels ended channels with unread data, the oldest is dropped", "[l2cap_channels]") {
    Fixture fx;
    const uint16_t n = L2capChannels::kMaxEndedChannels + 1;
    std::vector<SocketProbe> probes;
    for (uint16_t i = 0; i < n; ++i) probes.push_back(fx.incoming(1, static_cast<uint16_t>(0x40 + i)));
    for (uint16_t i = 0; i < n; ++i) {
        probes[i].socket->incoming = {{static_cast<uint8_t>(i)}};
        probes[i].socket->events.hung_up();
        fx.timers.fire_all();
    }
    CHECK(*probes[0].gone);
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
    for (uint16_t i = 1; i < n; ++i) {
        CHECK(fx.l2cap->receive(1, static_cast<uint16_t>(0x40 + i), 10) == Bytes{static_cast<uint8_t>(i)});
    }
}

TEST_CASE("kMaxEndedChannels ended channels with unread data are all kept", "[l2cap_channels]") {
    Fixture fx;
    const uint16_t n = L2capChannels::kMaxEndedChannels;
    std::vector<SocketProbe> probes;
    for (uint16_t i = 0; i < n; ++i) probes.push_back(fx.incoming(1, static_cast<uint16_t>(0x40 + i)));
    for (uint16_t i = 0; i < n; ++i) {
        probes[i].socket->incoming = {{static_cast<uint8_t>(i)}};
        probes[i].socket->events.hung_up();
    }
    fx.timers.fire_all();
    for (uint16_t i = 0; i < n; ++i) {
        CHECK(fx.l2cap->receive(1, static_cast<uint16_t>(0x40 + i), 10) == Bytes{static_cast<uint8_t>(i)});
    }
}

TEST_CASE("a cid reused again and again counts once towards kMaxEndedChannels", "[l2cap_channels]") {
    // The kernel gives a link's next channel the lowest free cid: a peer that
    // opens, sends and closes repeatedly while the application reads nothing
    // ends channel (1, 0x40) each time. Only one ended channel waits to be
    // read, so its data must stay.
    Fixture fx;
    const size_t rounds = L2capChannels::kMaxEndedChannels + 1;
    SocketProbe last;
    for (size_t i = 0; i < rounds; ++i) {
        last = fx.incoming(1, 0x40);
        last.socket->incoming = {{static_cast<uint8_t>(i)}};
        last.socket->events.hung_up();
        fx.timers.fire_all();
    }
    CHECK_FALSE(*last.gone);
    CHECK(fx.l2cap->available(1, 0x40) == 1);
}

TEST_CASE("an ended channel whose cid was reused is as old as its last end when the oldest are dropped",
          "[l2cap_channels]") {
    Fixture fx;
    auto ended_with = [&](SocketProbe probe, uint8_t byte) {
        probe.socket->incoming = {{byte}};
        probe.socket->events.hung_up();
        fx.timers.fire_all();
    };
    ended_with(fx.incoming(1, 0x40), 0xaa);
    const uint16_t others = L2capChannels::kMaxEndedChannels - 1;
    for (uint16_t i = 0; i < others; ++i) ended_with(fx.incoming(2, static_cast<uint16_t>(0x40 + i)), 0);
    ended_with(fx.incoming(1, 0x40), 0xbb);  // the cid again: now the newest
    CHECK(fx.l2cap->available(2, 0x40) == 1);  // 64 ended channels: all kept

    ended_with(fx.incoming(3, 0x40), 0);  // the 65th
    CHECK(error_of([&] { fx.l2cap->available(2, 0x40); }) == ErrorCode::NotFound);  // the oldest
    CHECK(fx.l2cap->available(2, 0x41) == 1);
    CHECK(fx.l2cap->receive(1, 0x40, 10) == Bytes{0xbb});
    CHECK(fx.l2cap->receive(3, 0x40, 10) == Bytes{0});
}

// --- The peer closing a waiting channel, and numbers the kernel reuses ---

TEST_CASE("a request the peer closes while the application decides ends with L2capDisconnect 104; its late "
          "answer does nothing",
          "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    auto other = fx.kernel.request(0, 1, 0x41);
    CHECK(fx.events() == Events{"accept 1 64 128 100 0", "accept 1 65 128 100 0"});
    REQUIRE(request->hang_up);  // watched while it waits
    CHECK(fx.accept_timers() == 2);

    auto hang_up = std::move(request->hang_up);  // reported once, as the kernel side does
    hang_up();
    CHECK(fx.events() == Events{"disconnect 1 64 128 104"});
    CHECK(request->rejected());  // let go unaccepted
    CHECK(fx.accept_timers() == 1);  // its timeout went with it
    fx.answers[0](0);
    fx.answers[0](1);
    CHECK(request->accepts == 0);
    CHECK(fx.events().empty());
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);

    // The other request waits on, and its answer still counts.
    CHECK_FALSE(other->destroyed);
    fx.answers[1](0);
    CHECK(other->accepts == 1);
    CHECK(fx.events() == Events{"connect 1 65 128 100 150"});
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("a request the peer closed while the application decided: its timeout, should it fire, does nothing",
          "[l2cap_channels]") {
    // A Timers that cannot cancel: the callback must find the ask gone by itself.
    class StubbornTimers : public Timers {
    public:
        Id start(std::chrono::milliseconds, std::function<void()> callback) override {
            callbacks.push_back(std::move(callback));
            return callbacks.size();
        }
        void cancel(Id) override {}
        std::vector<std::function<void()>> callbacks;
    };
    StubbornTimers timers;
    EventQueue queue(1 << 20);
    FakeKernel kernel;
    L2capChannels l2cap(timers, queue);
    l2cap.set_kernel(&kernel);
    l2cap.set_accept_asker([](const ChannelInfo&, std::function<void(uint32_t)>) {});
    l2cap.listen(kLocal, kPsm, kOurMtu);
    auto request = kernel.request(0, 1, 0x40);
    REQUIRE(queue.pop());  // the L2capAccept
    REQUIRE(request->hang_up);
    request->hang_up();
    auto ended = queue.pop();
    REQUIRE(ended);
    CHECK(describe(*ended) == "disconnect 1 64 128 104");
    REQUIRE(timers.callbacks.size() == 1);
    timers.callbacks[0]();
    CHECK_FALSE(queue.pop());
}

TEST_CASE("a hang-up reported after the ask ended, or after the channels are gone, does nothing",
          "[l2cap_channels]") {
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto accepted = fx.kernel.request(0, 1, 0x40);
    auto waiting = fx.kernel.request(0, 1, 0x41);
    REQUIRE(accepted->hang_up);
    REQUIRE(waiting->hang_up);
    fx.answers[0](0);
    fx.events();
    accepted->hang_up();  // the request is the channel now: its socket reports the end
    CHECK(fx.events().empty());
    CHECK(fx.l2cap->send(1, 0x40, Bytes{1}));

    fx.l2cap.reset();
    waiting->hang_up();
    CHECK(fx.events().empty());
}

TEST_CASE("a request with the numbers of a waiting one: the waiting one ends with L2capDisconnect 104 first, "
          "and its late answer does nothing",
          "[l2cap_channels]") {
    // The peer closed the first channel and opened another; the kernel gave
    // it the free cid before the close was reported.
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto old = fx.kernel.request(0, 1, 0x40);
    fx.events();
    auto fresh = fx.kernel.request(0, 1, 0x40, std::make_shared<RequestState>(), 0x77);
    CHECK(fx.events() == Events{"disconnect 1 64 128 104", "accept 1 64 128 100 119"});
    CHECK(old->rejected());
    CHECK(fx.accept_timers() == 1);  // the new one's

    REQUIRE(fx.answers.size() == 2);
    fx.answers[0](0);  // the old one's answer
    CHECK(old->accepts == 0);
    CHECK(fresh->accepts == 0);
    CHECK_FALSE(fresh->destroyed);
    CHECK(fx.events().empty());
    fx.answers[1](0);
    CHECK(fresh->accepts == 1);
    CHECK(fx.events() == Events{"connect 1 64 128 100 150"});
    fx.timers.fire_all();
    CHECK(fx.events().empty());
    CHECK_FALSE(*fresh->probe.gone);
}

TEST_CASE("a channel we open with the numbers of a request the peer closed: L2capDisconnect 104 then "
          "L2capConnect, and the request's late answer leaves our channel open",
          "[l2cap_channels]") {
    // listen; a request (1, 0x40) asked later; the peer closes it; our
    // connect opens (1, 0x40) before the close is reported; the answer comes.
    Fixture fx;
    fx.ask_later();
    fx.l2cap->listen(kLocal, kPsm, kOurMtu);
    auto request = fx.kernel.request(0, 1, 0x40);
    fx.events();
    fx.l2cap->connect(1, kLocal, kPeer, 0x81, kOurMtu);
    auto ours = fx.kernel.open(0, 1, 0x40);
    CHECK(fx.events() == Events{"disconnect 1 64 128 104", "connect 1 64 129 100 150"});
    CHECK(request->rejected());
    CHECK(fx.timers.pending.empty());  // the request's timeout went with it

    fx.answers[0](0);
    CHECK(request->accepts == 0);
    CHECK(fx.events().empty());  // no second L2capConnect
    CHECK_FALSE(*ours.gone);
    CHECK(fx.l2cap->send(1, 0x40, Bytes{1, 2}));
    CHECK(ours.socket->sent == std::vector<Bytes>{{1, 2}});
    ours.socket->incoming = {{3}};
    ours.socket->events.readable();
    CHECK(fx.events() == Events{"recv 1 64"});
    CHECK(fx.l2cap->receive(1, 0x40, 10) == Bytes{3});
    fx.timers.fire_all();
    CHECK(fx.events().empty());
    CHECK_FALSE(*ours.gone);
}

TEST_CASE("an open channel whose numbers a new request gets ends first with L2capDisconnect 0, its data kept "
          "readable until the new channel replaces it",
          "[l2cap_channels]") {
    // The channel ended in the kernel, which gave its cid to the peer's next
    // channel before the hang-up was reported.
    Fixture fx;
    auto old = fx.incoming(1, 0x40);
    fx.events();
    old.socket->incoming = {{1, 2}, {3}};  // queued in the kernel, not yet reported
    fx.ask_later();
    auto fresh = fx.kernel.request(0, 1, 0x40);
    CHECK(fx.events() == Events{"recv 1 64", "disconnect 1 64 128 0", "accept 1 64 128 100 0"});
    CHECK_FALSE(*old.gone);
    CHECK(fx.l2cap->available(1, 0x40) == 3);
    CHECK(error_of([&] { fx.l2cap->send(1, 0x40, Bytes{1}); }) == ErrorCode::NotFound);
    CHECK(fx.l2cap->receive(1, 0x40, 2) == Bytes{1, 2});
    old.socket->events.hung_up();  // the late report changes nothing
    CHECK(fx.events().empty());

    fx.answers[0](0);
    CHECK(*old.gone);  // replaced: the byte left unread went with it
    CHECK(fx.events() == Events{"connect 1 64 128 100 150"});
    CHECK(fx.l2cap->available(1, 0x40) == 0);
    CHECK(fx.l2cap->send(1, 0x40, Bytes{7}));
    CHECK(fresh->probe.socket->sent == std::vector<Bytes>{{7}});
}

TEST_CASE("an open channel whose numbers a new request gets, refused: the ended channel stays readable",
          "[l2cap_channels]") {
    Fixture fx;
    auto old = fx.incoming(1, 0x40);
    fx.events();
    old.socket->incoming = {{1, 2}};
    fx.ask_later();
    auto fresh = fx.kernel.request(0, 1, 0x40);
    CHECK(fx.events() == Events{"recv 1 64", "disconnect 1 64 128 0", "accept 1 64 128 100 0"});
    fx.answers[0](1);
    CHECK(fresh->rejected());
    CHECK(fx.events().empty());
    fx.timers.fire_all();  // the sweep keeps it: two bytes are left
    CHECK(fx.l2cap->receive(1, 0x40, 10) == Bytes{1, 2});
    CHECK(*old.gone);
    CHECK(error_of([&] { fx.l2cap->available(1, 0x40); }) == ErrorCode::NotFound);
}

TEST_CASE("an open channel whose numbers a channel we open gets ends first with L2capDisconnect 0, then "
          "L2capConnect",
          "[l2cap_channels]") {
    Fixture fx;
    auto old = fx.incoming(1, 0x40);
    fx.events();
    old.socket->incoming = {{1}};
    fx.l2cap->connect(1, kLocal, kPeer, 0x81, kOurMtu);
    auto fresh = fx.kernel.open(0, 1, 0x40);
    CHECK(fx.events() == Events{"recv 1 64", "disconnect 1 64 128 0", "connect 1 64 129 100 150"});
    CHECK(*old.gone);  // replaced at once, with what it held
    CHECK(fx.l2cap->available(1, 0x40) == 0);
    CHECK(fx.l2cap->send(1, 0x40, Bytes{7}));
    CHECK(fresh.socket->sent == std::vector<Bytes>{{7}});
    fx.timers.fire_all();  // the sweep leaves the new channel
    CHECK_FALSE(*fresh.gone);
    CHECK(fx.events().empty());
}

TEST_CASE("a channel that ends when its numbers are reused is not stalled any more: no L2capSendReady after",
          "[l2cap_channels]") {
    Fixture fx;
    auto old = fx.incoming(1, 0x40);
    old.socket->room = 0;
    CHECK_FALSE(fx.l2cap->send(1, 0x40, Bytes{5}));
    fx.events();
    fx.ask_later();
    fx.kernel.request(0, 1, 0x40);
    CHECK(fx.events() == Events{"disconnect 1 64 128 0", "accept 1 64 128 100 0"});
    old.socket->room = 1;
    old.socket->events.writable();
    CHECK(fx.events().empty());
    CHECK(old.socket->sent.empty());  // the held SDU went with the channel
}
