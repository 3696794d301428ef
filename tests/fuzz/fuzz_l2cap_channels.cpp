// libFuzzer target: the adapter's table of L2CAP channels (ble::L2capChannels
// over l2cap::Channel) driven by random sequences of what the application,
// the kernel and the peer do: listening, the channels peers open (with data
// sent early, or closed before the answer, their CID then free for the
// kernel to reuse, as Linux gives the lowest free one, the close reported
// to the table in the same step, a later one, or never) and the
// application's answers (now, later, never, twice, after the table is
// gone, or that it could not be asked), the accept timeout, channels we
// open and how they end, SDUs arriving, credits coming and going, hang-ups
// (reported at once, later, or not before the kernel reuses the CID),
// links ending, the radio going off, and every API call on channels that
// exist or not. A model of the fake kernel's sockets follows every byte,
// and after each step the table and its events must agree with it
// (docs/dbus-api.md, "L2CAP connection-oriented channels"):
//  - L2capConnect never twice for a (conn_handle, cid) without an
//    L2capDisconnect between; L2capRecv and L2capSendReady only for a
//    connected channel; every L2capAccept and every connect attempt followed
//    by exactly one L2capConnect or L2capDisconnect (the handler's own
//    refusal excepted), with the status its cause gives: 104 for the peer
//    closing a waiting channel (Request::on_hang_up), for numbers the kernel
//    gave a new request or channel, and for the link or radio going; 110 for
//    the timeout; 111 when the application could not be asked; the
//    accept's errno; nothing ever for an ask that ended, whatever its late
//    answer or timer does;
//  - numbers the kernel reuses retire what still had them before the new
//    channel's L2capAccept or L2capConnect: a waiting ask with
//    L2capDisconnect 104, an open channel (whose hang-up the table has not
//    heard yet) with L2capDisconnect 0, its data drained and readable until
//    the new channel replaces it; L2capDisconnect 0 only for a channel that
//    hung up, whose link went, that we disconnected, or so retired;
//  - the table holds a request exactly while its ask waits, and registered
//    on_hang_up for it;
//  - an open channel holds at most one SDU beyond its MTU-sized buffer, and
//    reads its socket again once it has room (no stall that never ends);
//  - every byte a socket delivered is returned once, in order, by
//    receive/release, or is still buffered, or went with a channel that
//    was disconnected, dropped by the 64 ended channels cap, or replaced
//    when the kernel reused its numbers; no channel vanishes without its
//    L2capDisconnect;
//  - BleError is the only exception, with the code the contract predicts.
// The input is a sequence of operations: an opcode byte, then its arguments
// (see step()); opcode 21 repeats a slice of the input up to 100 times, so
// the fuzzer reaches the 64 ended channels cap and CID reuse.
// UBT_FUZZ_TRACE=1 prints the operations as they run (to decode a crash).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "ble/event_queue.hpp"
#include "ble/l2cap_channels.hpp"
#include "core/bytes.hpp"
#include "core/error.hpp"
#include "core/timers.hpp"
#include "l2cap/kernel.hpp"
#include "../unit/fake_timers.hpp"

namespace {

using namespace ubt;
using namespace ubt::ble;
using l2cap::ChannelInfo;
using Key = std::pair<uint16_t, uint16_t>;  // conn_handle, cid

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool tracing = false;
#define TRACE(...)                                    \
    do {                                              \
        if (tracing) std::fprintf(stderr, __VA_ARGS__); \
    } while (0)

constexpr uint16_t kConns[] = {0x0000, 0x0001, 0x0002, 0x0eff};
constexpr uint16_t kFirstCid = 0x40;  // LE dynamic CIDs: 0x40 to 0x7f
constexpr uint16_t kCids = 64;
constexpr size_t kMaxSteps = 5000;
const LeAddress kLocal{0, Address{{0x00, 0xaa, 0x01, 0x01, 0x00, 0x42}}};
const LeAddress kPeer{1, Address{{0xc0, 0x11, 0x22, 0x33, 0x44, 0x55}}};

// The n-th byte of the stream a socket delivers (or of an SDU we send).
uint8_t pattern(uint64_t stream, uint64_t pos) {
    uint64_t z = (stream << 40) ^ pos;
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<uint8_t>(z ^ (z >> 31));
}

using test::FakeTimers;

class FakeSocket;
class FakeRequest;
class FakePending;

// What the kernel knows of one channel socket, kept after the table let go
// of it until its bytes are accounted for.
struct Sock {
    FakeSocket* live = nullptr;
    Key key;
    uint16_t psm = 0, our_mtu = 0, peer_mtu = 0;
    bool started = false;
    bool released = false;
    bool hung = false;            // the kernel ended the channel: its CID is free
    bool hung_delivered = false;  // hung_up reported to the channel
    bool link_ended = false;      // covered by the table's link_ended
    uint64_t end_seq = 0;         // when its L2capDisconnect (status 0) came: the channel ended in the table
    std::deque<uint16_t> queue;   // SDUs waiting in the kernel, by size
    uint64_t delivered = 0;       // bytes receive() handed to the channel
    uint64_t consumed = 0;        // bytes the application got back
    bool reading = true;          // "the socket is read from the start"
    bool writing = false;
    uint32_t room = 1;  // SDUs the kernel takes before it has no credits
    bool fail_send = false;
    bool stalled = false;  // send() said false and no L2capSendReady yet
    Bytes held;            // what it said false for
    Bytes last_taken;
    uint64_t taken = 0, no_room = 0, failed = 0;
    bool signalled = false;  // L2capRecv raised since the buffer was last empty
    uint32_t request = 0;    // the request it was accepted from; 0: an attempt of ours
    bool hang_soon = false;  // closed before it was accepted: hangs up in the next loop iteration
    uint64_t available() const { return delivered - consumed; }
};

// A channel the peer opened, waiting for the application's answer.
struct Req {
    FakeRequest* live = nullptr;
    Key key;
    uint16_t psm = 0, mtu = 0, peer_mtu = 0;
    uint16_t accepted_peer_mtu = 0;  // what accept() says (the numbers may change)
    std::vector<uint16_t> early;     // SDUs the peer sent before the answer, by size
    int fail = 0;                    // accept fails with this errno
    bool dead = false;               // the peer closed it, or its link went: its CID is free
    bool report_later = false;       // the kernel has yet to report the close (a later step may)
    bool reported = false;           // hung_up was called
    bool accepted = false;           // accept() was called
    bool accept_event = false;
    bool refused = false;  // the handler said no: nothing more is raised
};

struct Listener {
    FakePending* live = nullptr;
    uint16_t psm = 0, mtu = 0;
    l2cap::Kernel::RequestHandler on_request;
};

struct Attempt {
    FakePending* live = nullptr;
    uint16_t conn = 0, psm = 0, mtu = 0;
};

// Why the table may let a socket with unread bytes go at this moment.
enum class Ctx { None, Disconnect, Open, Timer, Destroy };

struct Gone {
    uint32_t serial;
    Ctx ctx;
    Key ctx_key;
    bool cap_drop;  // among the oldest ended channels beyond kMaxEndedChannels
};

// FailNow: the application cannot be asked (no handler on the bus), said at once.
enum class AskerMode { None, Later, AcceptNow, RefuseNow, FailNow };

struct World;

class FakeSocket : public l2cap::Socket {
public:
    FakeSocket(World& w, uint32_t serial) : w_(w), serial_(serial) {}
    ~FakeSocket() override;
    void start(l2cap::SocketEvents e) override;
    Sent send(ByteView sdu) override;
    std::optional<Bytes> receive() override;
    void watch_readable(bool on) override;
    void watch_writable(bool on) override;
    int release() override;

    l2cap::SocketEvents events;

private:
    Sock& m();
    World& w_;
    uint32_t serial_;
};

class FakeRequest : public l2cap::Request {
public:
    FakeRequest(World& w, uint32_t serial) : w_(w), serial_(serial) {}
    ~FakeRequest() override;
    void on_hang_up(std::function<void()> hung_up) override { this->hung_up = std::move(hung_up); }
    std::unique_ptr<l2cap::Socket> accept(ChannelInfo& info, int& error) override;

    std::function<void()> hung_up;  // the table's, while it asks

private:
    World& w_;
    uint32_t serial_;
};

class FakePending : public l2cap::Pending {
public:
    FakePending(World& w, uint32_t serial, bool attempt) : w_(w), serial_(serial), attempt_(attempt) {}
    ~FakePending() override;
    l2cap::Kernel::ConnectHandler done;  // an attempt's

private:
    World& w_;
    uint32_t serial_;
    bool attempt_;
};

class FakeKernel : public l2cap::Kernel {
public:
    explicit FakeKernel(World& w) : w_(w) {}
    std::unique_ptr<l2cap::Pending> listen(const LeAddress& local, uint16_t psm, uint16_t mtu,
                                           RequestHandler on_request) override;
    std::unique_ptr<l2cap::Pending> connect(const LeAddress& local, const LeAddress& peer, uint16_t psm,
                                            uint16_t mtu, ConnectHandler done) override;

private:
    World& w_;
};

struct Answer {
    uint32_t request;
    std::function<void(std::optional<uint32_t>)> fn;  // nullopt: the application could not be asked
    Key key;  // of the request, for the trace
};

struct World {
    FakeTimers timers;
    EventQueue events{size_t{1} << 30};
    FakeKernel kernel{*this};
    std::unique_ptr<L2capChannels> table;

    // The kernel's side.
    uint32_t next_serial = 1;
    std::map<uint32_t, Sock> socks;
    std::map<Key, uint32_t> at;  // the live socket of each (conn_handle, cid)
    std::map<uint32_t, Req> reqs;
    std::map<uint32_t, Listener> listeners;
    std::map<uint32_t, Attempt> attempts;
    std::vector<Key> held_fds;  // channels handed over, their fd still open
    std::optional<ErrorCode> refuse;
    bool has_kernel = true;
    uint32_t delivering_request = 0;
    uint32_t last_request = 0;      // the one the last step delivered
    bool completing_failure = false;  // the step ended an attempt of ours with an error

    // The application's side.
    AskerMode asker = AskerMode::None;
    std::vector<Answer> answers;
    std::set<uint16_t> listening;
    std::map<Key, uint32_t> connected;  // L2capConnect seen, no L2capDisconnect yet: the socket
    std::map<Key, uint32_t> asking;     // L2capAccept seen, nothing after it yet: the request (one
                                        // per numbers: a new one retires the old)
    // What the call being made may end, checked by the next drain: asks (by
    // request) with the L2capDisconnect status they must end with, accept
    // timeouts (110, whichever ask), and the numbers of an open channel.
    std::map<uint32_t, uint32_t> expect_ends;
    int timer_ends = 0;
    std::optional<Key> reusing;        // the kernel gave a new request or channel these numbers
    std::optional<Key> disconnecting;  // the application disconnects this channel
    int outstanding_attempts = 0;
    uint64_t end_seq = 0;
    uint64_t send_stream = 1;

    // Why sockets may go now, and those that went.
    Ctx ctx = Ctx::None;
    Key ctx_key{};
    std::set<uint32_t> cap_drops;
    std::vector<Gone> gone;

    ByteReader* in = nullptr;
    size_t steps = 0;
    int depth = 0;

    World() { create(); }

    void create() {
        table = std::make_unique<L2capChannels>(timers, events);
        table->set_kernel(has_kernel ? &kernel : nullptr);
        apply_asker();
    }

    // --- The kernel ---

    std::optional<uint32_t> live_at(Key key) const {
        auto it = at.find(key);
        if (it == at.end()) return std::nullopt;
        return it->second;
    }
    bool cid_used(uint16_t conn, uint16_t cid) const {
        Key key{conn, cid};
        if (std::count(held_fds.begin(), held_fds.end(), key)) return true;
        for (auto& [serial, r] : reqs) {
            if (r.live && !r.dead && r.key == key) return true;
        }
        for (auto& [serial, s] : socks) {
            if (s.live && !s.hung && s.key == key) return true;
        }
        return false;
    }
    // The kernel's choice: the lowest free CID, as Linux allocates, or one near b.
    std::optional<uint16_t> free_cid(uint16_t conn, uint8_t b) const {
        uint16_t start = (b & 0x80) ? 0 : b % kCids;
        for (uint16_t i = 0; i < kCids; ++i) {
            auto cid = static_cast<uint16_t>(kFirstCid + (start + i) % kCids);
            if (!cid_used(conn, cid)) return cid;
        }
        return std::nullopt;
    }
    uint32_t new_socket(const ChannelInfo& info) {
        uint32_t serial = next_serial++;
        Sock& s = socks[serial];
        s.key = {info.conn_handle, info.cid};
        s.psm = info.psm;
        s.our_mtu = info.our_mtu;
        s.peer_mtu = info.peer_mtu;
        at[s.key] = serial;  // the table replaces what it had there (open() erases it first)
        return serial;
    }

    void socket_gone(uint32_t serial) {
        Sock& s = socks.at(serial);
        s.live = nullptr;
        if (auto it = at.find(s.key); it != at.end() && it->second == serial) at.erase(it);
        gone.push_back({serial, ctx, ctx_key, cap_drops.count(serial) > 0});
    }

    // After each call: the sockets that went, their bytes accounted for now
    // that the driver has counted what the call returned.
    void settle() {
        for (const Gone& g : gone) {
            Sock& s = socks.at(g.serial);
            bool open_in_table = !s.released && s.end_seq == 0;
            bool unread = s.available() > 0;
            if (open_in_table || unread) {
                switch (g.ctx) {
                    case Ctx::Destroy: break;
                    case Ctx::Disconnect: check(g.ctx_key == s.key); break;
                    case Ctx::Open:
                        // The kernel reused the numbers of an ended channel.
                        check(g.ctx_key == s.key && !open_in_table && s.hung);
                        break;
                    case Ctx::Timer: check(!open_in_table && g.cap_drop); break;
                    case Ctx::None: check(false); break;
                }
            }
            TRACE("    socket #%u (%u,0x%x) closed, %llu bytes unread\n", g.serial, s.key.first, s.key.second,
                  static_cast<unsigned long long>(s.available()));
            socks.erase(g.serial);
        }
        gone.clear();
    }

    // --- Events ---

    // The request an ask waits for, gone from the model's asks.
    uint32_t resolve_ask(Key key) {
        auto it = asking.find(key);
        check(it != asking.end());
        uint32_t serial = it->second;
        asking.erase(it);
        return serial;
    }

    // The socket of a connected channel: the one L2capConnect named, kept
    // by the model until settle() even when the table closed it.
    Sock& connected_socket(Key key) {
        auto it = connected.find(key);
        check(it != connected.end());
        auto s = socks.find(it->second);
        check(s != socks.end());
        return s->second;
    }

    void drain() {
        while (auto e = events.pop()) {
            if (auto a = std::get_if<L2capAccept>(&*e)) {
                Key key{a->conn_handle, a->cid};
                TRACE("    event accept (%u,0x%x) psm %u mtu %u\n", key.first, key.second, a->psm, a->our_mtu);
                // Raised only when the peer opens a channel, once.
                check(last_request != 0);
                Req& r = reqs.at(last_request);
                check(!r.accept_event && r.key == key);
                check(a->peer_mtu == r.peer_mtu && a->psm == r.psm && a->our_mtu == r.mtu);
                r.accept_event = true;
                // Whatever had these numbers ended first.
                check(!connected.count(key) && !asking.count(key));
                if (!r.refused) asking[key] = last_request;
            } else if (auto c = std::get_if<L2capConnect>(&*e)) {
                Key key{c->conn_handle, c->cid};
                TRACE("    event connect (%u,0x%x) psm %u mtus %u %u\n", key.first, key.second, c->psm, c->our_mtu,
                      c->peer_mtu);
                check(!connected.count(key));  // never twice without a disconnect between
                auto serial = live_at(key);
                check(serial.has_value());
                const Sock& s = socks.at(*serial);
                check(s.end_seq == 0 && c->psm == s.psm && c->our_mtu == s.our_mtu && c->peer_mtu == s.peer_mtu);
                if (s.request) {
                    check(reqs.at(s.request).accept_event);  // L2capAccept first
                    check(resolve_ask(key) == s.request);
                } else {
                    check(outstanding_attempts > 0);
                    --outstanding_attempts;
                    check(!asking.count(key));  // an ask with these numbers ended first
                }
                connected[key] = *serial;
            } else if (auto d = std::get_if<L2capDisconnect>(&*e)) {
                Key key{d->conn_handle, d->cid};
                TRACE("    event disconnect (%u,0x%x) psm %u status %u\n", key.first, key.second, d->psm, d->status);
                if (d->status == 0) {
                    check(key.second != 0);
                    Sock& s = connected_socket(key);
                    check(s.end_seq == 0 && d->psm == s.psm);
                    // Ended for a reason: its hang-up, its link, our disconnect, or its numbers reused.
                    check(s.hung_delivered || s.link_ended || disconnecting == key || (reusing == key && s.hung));
                    s.end_seq = ++end_seq;
                    s.stalled = false;  // the held SDU went with the channel
                    connected.erase(key);
                } else {
                    check(!connected.count(key));  // a failed open: never of a channel that is open
                    if (key.second == 0 || completing_failure) {
                        check(outstanding_attempts > 0);
                        --outstanding_attempts;
                    } else {
                        // Timed out, its accept failed, the peer closed it, its numbers
                        // were reused, or its link or the radio went.
                        uint32_t serial = resolve_ask(key);
                        check(d->psm == reqs.at(serial).psm);
                        auto expected = expect_ends.find(serial);
                        if (expected != expect_ends.end()) {
                            check(d->status == expected->second);
                            expect_ends.erase(expected);
                        } else {
                            check(timer_ends > 0 && d->status == ETIMEDOUT);
                            --timer_ends;
                        }
                    }
                }
            } else if (auto r = std::get_if<L2capRecv>(&*e)) {
                Key key{r->conn_handle, r->cid};
                TRACE("    event recv (%u,0x%x)\n", key.first, key.second);
                connected_socket(key).signalled = true;
            } else if (auto s = std::get_if<L2capSendReady>(&*e)) {
                Key key{s->conn_handle, s->cid};
                TRACE("    event send_ready (%u,0x%x) status %u\n", key.first, key.second, s->status);
                Sock& k = connected_socket(key);
                check(k.stalled);
                if (s->status == 0) check(k.last_taken == k.held);
                else check(s->status == 1);
                k.stalled = false;
            } else {
                check(false);  // the table raises L2CAP events only
            }
        }
        // Every ask the call had to end ended, and no accept timer fired for nothing.
        check(expect_ends.empty() && timer_ends == 0);
        reusing.reset();
        disconnecting.reset();
    }

    // After every step: the table, its events and the kernel agree.
    void invariants() {
        drain();
        settle();
        last_request = 0;
        completing_failure = false;
        // The table holds a request exactly while its ask waits, ready to hear of its close.
        for (auto& [key, serial] : asking) {
            auto it = reqs.find(serial);
            check(it != reqs.end() && it->second.live && it->second.key == key);
        }
        for (auto& [serial, r] : reqs) {
            if (!r.live) continue;
            check(asking.count(r.key) && asking.at(r.key) == serial);
            check(static_cast<bool>(r.live->hung_up));
        }
        // Requests the table no longer holds and whose events are all in.
        std::erase_if(reqs, [](const auto& e) { return !e.second.live && e.second.accept_event; });
        size_t live_requests = 0;
        for (auto& [serial, r] : reqs) live_requests += r.live != nullptr;
        if (!table) {
            check(at.empty() && live_requests == 0 && timers.pending.empty());
            return;
        }
        check(timers.pending.size() <= live_requests + 1);  // the accept timeouts and one sweep
        for (auto& [id, t] : timers.pending) {
            check(t.first == std::chrono::milliseconds(0) || t.first == L2capChannels::kAcceptTimeout);
        }
        for (auto& [key, serial] : at) {
            Sock& s = socks.at(serial);
            check(s.live && s.key == key && s.started && !s.released);
            size_t available = 0;
            try {
                available = table->available(key.first, key.second);
            } catch (const BleError&) {
                check(false);  // the table holds it
            }
            check(available == s.available());
            bool ended = s.end_seq != 0;
            auto c = connected.find(key);
            if (ended) check(c == connected.end());
            else check(c != connected.end() && c->second == serial);
            if (s.hung_delivered || s.link_ended) check(ended);
            if (!ended) {
                check(available + 1 <= 2u * s.our_mtu);  // one SDU beyond the buffer, at most
                if (available < s.our_mtu) check(s.reading);  // room: it must read the kernel's queue
                if (s.stalled) check(s.writing);  // waiting for credits: it must be told of them
            }
            if (available > 0) check(s.signalled);
            if (ended) check(s.queue.empty());  // what the peer sent before the end was all taken
        }
        for (auto& [key, serial] : connected) check(at.count(key) && at.at(key) == serial);
    }

    // --- The application's answers ---

    void answer(Answer& a, std::optional<uint32_t> status) {
        auto it = reqs.find(a.request);
        bool was_live = it != reqs.end() && it->second.live;
        Key key = it != reqs.end() ? it->second.key : Key{};
        // An accept that fails ends the ask with its errno, an application that could not be
        // asked with 111; an answer to an ask that ended raises nothing.
        if (was_live && !status) expect_ends[a.request] = ECONNREFUSED;
        if (was_live && status == 0u && it->second.fail) {
            expect_ends[a.request] = static_cast<uint32_t>(it->second.fail);
        }
        ctx = Ctx::Open;
        ctx_key = key;
        a.fn(status);
        ctx = Ctx::None;
        it = reqs.find(a.request);
        if (it == reqs.end()) return;
        Req& r = it->second;
        check(!r.live);  // answered: accepted, rejected, or gone already
        if (was_live && !status) check(!r.accepted);
        if (was_live && status && *status != 0) {
            check(!r.accepted);
            r.refused = true;  // the handler's own no: nothing more is raised
            if (r.accept_event) check(resolve_ask(key) == a.request);
        }
        if (was_live && status == 0u) check(r.accepted);
    }

    void apply_asker() {
        if (!table) return;
        if (asker == AskerMode::None) {
            table->set_accept_asker(nullptr);
            return;
        }
        table->set_accept_asker([this](const ChannelInfo& info, std::function<void(std::optional<uint32_t>)> fn) {
            uint32_t request = delivering_request;
            const Req& r = reqs.at(request);
            check(r.key == Key(info.conn_handle, info.cid) && info.peer_mtu == r.peer_mtu && info.psm == r.psm &&
                  info.our_mtu == r.mtu);
            Answer a{request, std::move(fn), r.key};
            if (asker == AskerMode::AcceptNow) answer(a, 0);
            else if (asker == AskerMode::RefuseNow) answer(a, 7);
            else if (asker == AskerMode::FailNow) answer(a, std::nullopt);
            else answers.push_back(std::move(a));
        });
    }

    // --- Steps ---

    uint8_t u8() { return in->u8(); }
    uint16_t u16() { return in->u16le(); }

    template <typename F>
    std::optional<ErrorCode> call(F&& f) {
        try {
            f();
        } catch (const BleError& e) {
            return e.code();
        }
        return std::nullopt;
    }

    uint16_t pick_conn() { return kConns[u8() % 4]; }
    // A channel: mostly a live one, sometimes any numbers.
    Key pick_key() {
        uint8_t b = u8();
        if ((b & 0xc0) != 0xc0 && !at.empty()) {
            auto it = at.begin();
            std::advance(it, b % at.size());
            return it->first;
        }
        uint16_t conn = pick_conn();
        uint8_t c = u8();
        return {conn, static_cast<uint16_t>(c == 0xff ? 0 : kFirstCid + c % kCids)};
    }
    // A live socket: 0xff the newest, else by index.
    Sock* pick_socket() {
        uint8_t b = u8();
        if (at.empty()) return nullptr;
        if (b == 0xff) {
            uint32_t newest = 0;
            for (auto& [key, serial] : at) newest = std::max(newest, serial);
            return &socks.at(newest);
        }
        auto it = at.begin();
        std::advance(it, b % at.size());
        return &socks.at(it->second);
    }
    FakeSocket* socket_of(Sock& s) { return s.live; }

    void op_listen(uint8_t op) {
        uint16_t psm = (op & 0x80) ? u16() : u8() % 8 + 0x80;
        uint16_t mtu = (op & 0x40) ? u16() : static_cast<uint16_t>(20 + u8() % 80);
        TRACE("listen psm %u mtu %u\n", psm, mtu);
        auto err = call([&] { table->listen(kLocal, psm, mtu); });
        if (psm == 0 || psm > 255 || mtu < 23) check(err == ErrorCode::InvalidArgs);
        else if (listening.count(psm)) check(err == ErrorCode::Busy);
        else if (!has_kernel) check(err == ErrorCode::NotSupported);
        else if (refuse) check(err == refuse);
        else {
            check(!err);
            listening.insert(psm);
        }
    }

    void op_request() {
        uint8_t which = u8();
        uint16_t conn = pick_conn();
        uint8_t cid_choice = u8();
        uint8_t how = u8();
        uint8_t early = u8();
        std::vector<uint32_t> live;
        for (auto& [serial, l] : listeners) {
            if (l.live) live.push_back(serial);
        }
        if (live.empty()) return;
        Listener& l = listeners.at(live[which % live.size()]);
        auto cid = free_cid(conn, cid_choice);
        if (!cid) return;
        uint32_t serial = next_serial++;
        Req& r = reqs[serial];
        r.key = {conn, *cid};
        r.psm = l.psm;
        r.mtu = l.mtu;
        r.peer_mtu = static_cast<uint16_t>(23 + (how & 0x3f) * 7);
        // The numbers may change by the accept (the interface allows it).
        r.accepted_peer_mtu = (how & 0x40) ? static_cast<uint16_t>(r.peer_mtu + 1 + how % 5) : r.peer_mtu;
        // SDUs it sent before the answer: read only once accepted.
        for (int i = 0; i < (early & 3); ++i) r.early.push_back(static_cast<uint16_t>(1 + u8() % r.mtu));
        static constexpr int fails[] = {ECONNRESET, ENOTCONN, ETIMEDOUT};
        r.fail = (how & 0x80) && (early & 0x80) ? fails[how % 3] : 0;
        TRACE("peer opens request #%u (%u,0x%x) on psm %u, peer mtu %u (%u once accepted), %zu SDUs early%s\n", serial,
              conn, *cid, l.psm, r.peer_mtu, r.accepted_peer_mtu, r.early.size(), r.fail ? ", accept fails" : "");
        // A request the peer closed unreported had these numbers: it is gone (104), before this
        // one's L2capAccept; so is an open channel whose hang-up is not in yet (checked by drain).
        reusing = r.key;
        if (auto it = asking.find(r.key); it != asking.end()) {
            check(reqs.at(it->second).dead);  // the kernel reuses free numbers only
            expect_ends[it->second] = ECONNRESET;
        }
        if (asker == AskerMode::None && r.fail) expect_ends[serial] = static_cast<uint32_t>(r.fail);
        auto request = std::make_unique<FakeRequest>(*this, serial);
        r.live = request.get();
        delivering_request = serial;
        last_request = serial;
        ctx = Ctx::Open;
        ctx_key = r.key;
        auto handler = l.on_request;  // the listener may go while it runs
        handler(ChannelInfo{conn, *cid, l.psm, l.mtu, r.peer_mtu}, std::move(request));
        ctx = Ctx::None;
        delivering_request = 0;
    }

    // The peer closes a channel still waiting for the answer: the kernel
    // frees its CID (and may give it to the next channel on the link); an
    // accept then gives a socket that hangs up at once. The kernel reports
    // the close to the table (Request::on_hang_up) in this step, in a later
    // one (a step of this opcode with mode 3 reports one such), or never:
    // not before the CID is reused, say, which retires the request first.
    void op_request_closed(uint8_t op) {
        uint8_t which = u8();
        unsigned mode = (op / 24u) % 4;
        std::vector<uint32_t> chosen;
        for (auto& [serial, r] : reqs) {
            if (r.live && (mode == 3 ? r.report_later && !r.reported : !r.dead)) chosen.push_back(serial);
        }
        if (chosen.empty()) return;
        uint32_t serial = chosen[which % chosen.size()];
        Req& r = reqs.at(serial);
        if (mode == 3) {
            report_closed(serial);
            return;
        }
        static const char* when[] = {"reported now", "reported later", "never reported"};
        TRACE("peer closes (%u,0x%x) before the answer, %s\n", r.key.first, r.key.second, when[mode]);
        r.dead = true;
        if (mode == 0) report_closed(serial);
        else r.report_later = mode == 1;
    }

    // The kernel reports a waiting channel's close: the ask ends with 104,
    // and the table lets the request go; its answer and timeout do nothing after.
    void report_closed(uint32_t serial) {
        Req& r = reqs.at(serial);
        check(r.live && r.dead && !r.reported);
        TRACE("the kernel reports the close of (%u,0x%x)\n", r.key.first, r.key.second);
        r.reported = true;
        auto ask = asking.find(r.key);
        check(ask != asking.end() && ask->second == serial);
        expect_ends[serial] = ECONNRESET;
        auto hung_up = std::move(r.live->hung_up);  // as CocRequest: the handler may destroy the request
        check(static_cast<bool>(hung_up));
        hung_up();  // no socket may go meanwhile (ctx None)
        check(!reqs.at(serial).live);
    }

    // Hang-ups the kernel reports in the loop iteration after the step.
    void hang_ups_due() {
        std::vector<uint32_t> due;
        for (auto& [key, serial] : at) {
            const Sock& s = socks.at(serial);
            if (s.hang_soon && !s.hung_delivered) due.push_back(serial);
        }
        for (uint32_t serial : due) {
            auto it = socks.find(serial);
            if (it == socks.end() || !it->second.live) continue;
            TRACE("socket #%u (%u,0x%x) hangs up (closed before it was accepted)\n", serial, it->second.key.first,
                  it->second.key.second);
            it->second.hung_delivered = true;
            auto hung_up = it->second.live->events.hung_up;
            hung_up();
        }
    }

    void op_answer() {
        uint8_t which = u8();
        uint8_t how = u8();
        if (answers.empty()) return;
        size_t i = which % answers.size();
        switch (how % 4) {
            case 0:
            case 3: {
                std::optional<uint32_t> status;  // now and then: the application could not be asked
                if (how % 4 == 0) status = 0;
                else if ((how & 0x40) == 0) status = 1 + (how >> 2);
                TRACE("application answers %d to request #%u for (%u,0x%x)\n", status ? static_cast<int>(*status) : -1,
                      answers[i].request, answers[i].key.first, answers[i].key.second);
                Answer a = std::move(answers[i]);
                answers.erase(answers.begin() + static_cast<std::ptrdiff_t>(i));
                answer(a, status);
                if (how & 0x80) answers.push_back(std::move(a));  // and may answer again
                break;
            }
            case 1:
                TRACE("application never answers one request\n");
                answers.erase(answers.begin() + static_cast<std::ptrdiff_t>(i));
                break;
            default: {
                // An answer twice, at once: the second must change nothing.
                Answer a = std::move(answers[i]);
                answers.erase(answers.begin() + static_cast<std::ptrdiff_t>(i));
                TRACE("application answers 0 then 5\n");
                answer(a, 0);
                answer(a, 5);
            }
        }
    }

    void op_asker() {
        asker = static_cast<AskerMode>(u8() % 5);
        static const char* names[] = {"no asker", "asker answering later", "asker accepting at once",
                                      "asker refusing at once", "asker that cannot ask"};
        TRACE("%s\n", names[static_cast<int>(asker)]);
        apply_asker();
    }

    void fire(Timers::Id id) {
        // The oldest ended channels beyond the cap may go in a sweep.
        cap_drops.clear();
        std::vector<std::pair<uint64_t, uint32_t>> ended;
        for (auto& [key, serial] : at) {
            const Sock& s = socks.at(serial);
            if (s.end_seq != 0 && s.available() > 0) ended.push_back({s.end_seq, serial});
        }
        std::sort(ended.begin(), ended.end());
        for (size_t i = 0; i + L2capChannels::kMaxEndedChannels < ended.size(); ++i) {
            cap_drops.insert(ended[i].second);
        }
        TRACE("timer %llu fires (%lld ms)\n", static_cast<unsigned long long>(id),
              static_cast<long long>(timers.pending.count(id) ? timers.pending[id].first.count() : -1));
        bool sweep = timers.pending.count(id) && timers.pending[id].first.count() == 0;
        // An accept timeout still pending is an ask still waiting: it ends with 110.
        if (timers.pending.count(id) && !sweep) timer_ends = 1;
        ctx = Ctx::Timer;
        timers.fire(id);
        ctx = Ctx::None;
        cap_drops.clear();
        if (sweep) {
            // Bounded: at most kMaxEndedChannels ended channels keep unread bytes.
            size_t kept = 0;
            for (auto& [key, serial] : at) {
                const Sock& s = socks.at(serial);
                kept += s.end_seq != 0 && s.available() > 0;
            }
            check(kept <= L2capChannels::kMaxEndedChannels);
        }
    }

    void op_timer() {
        uint8_t b = u8();
        if (timers.pending.empty()) return;
        if (b == 0xff) {
            fire_all();
            return;
        }
        auto it = timers.pending.begin();
        std::advance(it, b % timers.pending.size());
        fire(it->first);
    }

    void fire_all() {
        for (int round = 0; round < 4 && !timers.pending.empty(); ++round) {
            std::vector<Timers::Id> ids;
            for (auto& [id, t] : timers.pending) ids.push_back(id);
            for (auto id : ids) {
                fire(id);
                drain();
                settle();
            }
        }
    }

    void op_connect(uint8_t op) {
        uint16_t conn = pick_conn();
        uint16_t psm = (op & 0x80) ? u16() : u8() % 8 + 0x80;
        uint16_t mtu = (op & 0x40) ? u16() : static_cast<uint16_t>(20 + u8() % 80);
        TRACE("connect on %u to psm %u mtu %u\n", conn, psm, mtu);
        size_t opening = 0;
        for (auto& [serial, a] : attempts) opening += a.live != nullptr;
        auto err = call([&] { table->connect(conn, kLocal, kPeer, psm, mtu); });
        if (psm == 0 || psm > 255 || mtu < 23) check(err == ErrorCode::InvalidArgs);
        else if (opening >= L2capChannels::kMaxAttempts) check(err == ErrorCode::Busy);
        else if (!has_kernel) check(err == ErrorCode::NotSupported);
        else if (refuse) check(err == refuse);
        else {
            check(!err);
            ++outstanding_attempts;
            attempts.rbegin()->second.conn = conn;
        }
    }

    void op_complete() {
        uint8_t which = u8();
        uint8_t how = u8();
        uint8_t cid_choice = u8();
        uint8_t peer = u8();
        std::vector<uint32_t> live;
        for (auto& [serial, a] : attempts) {
            if (a.live) live.push_back(serial);
        }
        if (live.empty()) return;
        uint32_t serial = live[which % live.size()];
        Attempt& a = attempts.at(serial);
        l2cap::Kernel::ConnectHandler done = std::move(a.live->done);  // as CocConnecting: it may destroy the Pending
        check(static_cast<bool>(done));
        if (how & 1) {
            // Connected; now and then over another link the kernel made to the peer.
            uint16_t conn = (how & 0x70) == 0x70 ? kConns[(how >> 1) % 4] : a.conn;
            auto cid = free_cid(conn, cid_choice);
            if (!cid) {
                a.live->done = std::move(done);
                return;
            }
            ChannelInfo info{conn, *cid, a.psm, a.mtu, static_cast<uint16_t>(23 + peer % 200)};
            TRACE("attempt #%u (psm %u on %u) connects as (%u,0x%x), peer mtu %u\n", serial, a.psm, a.conn, conn,
                  *cid, info.peer_mtu);
            // What still had these numbers ends first: a request the peer closed
            // unreported (104), an open channel whose hang-up is not in yet (0).
            reusing = Key{conn, *cid};
            if (auto it = asking.find(*reusing); it != asking.end()) {
                check(reqs.at(it->second).dead);  // the kernel reuses free numbers only
                expect_ends[it->second] = ECONNRESET;
            }
            auto socket = std::make_unique<FakeSocket>(*this, new_socket(info));
            socks.at(at.at({conn, *cid})).live = socket.get();
            ctx = Ctx::Open;
            ctx_key = {conn, *cid};
            done(std::move(socket), info, 0);
            ctx = Ctx::None;
            return;
        }
        static constexpr int errors[] = {ECONNREFUSED, ETIMEDOUT, 0, EACCES, ECONNRESET};
        int error = errors[(how >> 1) % 5];
        uint16_t cid = 0;
        if (how & 0x80) {
            if (auto c = free_cid(a.conn, cid_choice)) cid = *c;
        }
        TRACE("attempt #%u (psm %u on %u) fails with errno %d, cid 0x%x\n", serial, a.psm, a.conn, error, cid);
        completing_failure = true;
        ctx = Ctx::Open;
        ctx_key = {a.conn, cid};
        done(nullptr, ChannelInfo{0, cid, a.psm, a.mtu, 0}, error);
        ctx = Ctx::None;
    }

    void op_sdus(uint8_t op) {
        Sock* s = pick_socket();
        uint8_t n = u8();
        if (!s) return;
        uint32_t serial = at.at(s->key);
        TRACE("socket #%u (%u,0x%x) gets", serial, s->key.first, s->key.second);
        for (int i = 0; i < 1 + n % 4; ++i) {
            uint16_t size = u16();
            // Up to our MTU (the kernel refuses more); an empty SDU now and then.
            size = static_cast<uint16_t>(size == 0xffff ? 0 : 1 + size % s->our_mtu);
            TRACE(" %u", size);
            if (!s->hung) s->queue.push_back(size);
        }
        bool report = s->reading || (op & 0x80);
        TRACE(" bytes%s\n", report ? ", reported readable" : "");
        if (report) {
            auto readable = s->live->events.readable;
            readable();
        }
    }

    void op_writable(uint8_t op) {
        Sock* s = pick_socket();
        uint8_t b = u8();
        if (!s) return;
        s->room = b % 4;
        bool report = s->writing || (op & 0x80);
        TRACE("socket #%u (%u,0x%x) has room for %u SDUs%s\n", at.at(s->key), s->key.first, s->key.second, s->room,
              report ? ", reported writable" : "");
        if (report) {
            auto writable = s->live->events.writable;
            writable();
        }
    }

    // The kernel ends a channel (its CID is free then). Now and then the
    // report waits: for a later hang-up step to pick the socket, for its
    // link's end, or for ever, the kernel giving the CID to a new channel
    // first (which retires this one).
    void op_hang_up(uint8_t op) {
        Sock* s = pick_socket();
        if (!s) return;
        bool later = (op / 24u) % 3 == 1 && !s->hung_delivered;
        TRACE("socket #%u (%u,0x%x) hangs up%s\n", at.at(s->key), s->key.first, s->key.second,
              later ? ", reported later" : "");
        s->hung = true;
        if (later) return;
        if (!s->hung_delivered || (op & 0x80)) {
            s->hung_delivered = true;
            auto hung_up = s->live->events.hung_up;
            hung_up();
        }
    }

    void op_fail_send() {
        Sock* s = pick_socket();
        if (!s) return;
        s->fail_send = !s->fail_send;
        TRACE("socket #%u (%u,0x%x) %s\n", at.at(s->key), s->key.first, s->key.second,
              s->fail_send ? "refuses data" : "takes data again");
    }

    void op_send(uint8_t op) {
        Key key = pick_key();
        uint16_t size = u16();
        auto serial = live_at(key);
        if (serial && !(op & 0x80)) {
            // Mostly a size the channel takes: 1 to the peer's MTU and twice ours.
            const Sock& s = socks.at(*serial);
            size = static_cast<uint16_t>(1 + size % std::max(1, std::min<int>(s.peer_mtu, 2 * s.our_mtu)));
        } else if (serial) {
            const Sock& s = socks.at(*serial);
            size = size % (2 * std::max(s.peer_mtu, s.our_mtu) + 2);
        } else {
            size %= 600;
        }
        Bytes data(size);
        for (size_t i = 0; i < size; ++i) data[i] = pattern(send_stream, i);
        ++send_stream;
        TRACE("send %u bytes on (%u,0x%x)\n", size, key.first, key.second);
        uint64_t taken = 0, no_room = 0, failed = 0;
        if (serial) {
            const Sock& s = socks.at(*serial);
            taken = s.taken;
            no_room = s.no_room;
            failed = s.failed;
        }
        bool ready = false;
        auto err = call([&] { ready = table->send(key.first, key.second, data); });
        if (!serial) {
            check(err == ErrorCode::NotFound);
            return;
        }
        Sock& s = socks.at(*serial);
        check(s.live);  // sending closes nothing
        if (s.end_seq != 0) check(err == ErrorCode::NotFound);
        else if (size == 0 || size > s.peer_mtu || size > 2 * s.our_mtu) check(err == ErrorCode::InvalidArgs);
        else if (s.stalled) check(err == ErrorCode::Busy);
        else if (s.failed == failed + 1) check(err == ErrorCode::Failed);
        else if (s.no_room == no_room + 1) {
            check(!err && !ready && s.taken == taken);
            s.stalled = true;
            s.held = data;
        } else {
            check(!err && ready && s.taken == taken + 1 && s.last_taken == data);
        }
        if (err) check(s.taken == taken);
    }

    void op_available() {
        Key key = pick_key();
        TRACE("available on (%u,0x%x)\n", key.first, key.second);
        size_t n = 0;
        auto err = call([&] { n = table->available(key.first, key.second); });
        auto serial = live_at(key);
        if (!serial) check(err == ErrorCode::NotFound);
        else check(!err && n == socks.at(*serial).available());
    }

    void receive(Key key, size_t max) {
        TRACE("receive up to %zu on (%u,0x%x)\n", max, key.first, key.second);
        auto serial = live_at(key);
        uint64_t before = serial ? socks.at(*serial).available() : 0;
        Bytes data;
        auto err = call([&] { data = table->receive(key.first, key.second, max); });
        if (!serial) {
            check(err == ErrorCode::NotFound);
            return;
        }
        Sock& s = socks.at(*serial);
        if (s.end_seq != 0 && before == 0) {
            check(err == ErrorCode::NotFound && !s.live);  // drained and gone
            return;
        }
        check(!err && data.size() == std::min<uint64_t>(max, before));
        for (size_t i = 0; i < data.size(); ++i) check(data[i] == pattern(*serial, s.consumed + i));
        s.consumed += data.size();
        if (data.size() == before) s.signalled = false;  // emptied: the next byte is signalled again
        if (s.end_seq != 0 && s.available() == 0) check(!s.live);  // the last of a closed channel
        else check(s.live != nullptr);
    }

    void op_receive(uint8_t op) {
        Key key = pick_key();
        size_t max = (op & 0x80) ? size_t{1} << 20 : u16() % 300;
        receive(key, max);
    }

    void op_disconnect() {
        Key key = pick_key();
        TRACE("disconnect (%u,0x%x)\n", key.first, key.second);
        auto serial = live_at(key);
        bool was_open = serial && socks.at(*serial).end_seq == 0;
        ctx = Ctx::Disconnect;
        ctx_key = key;
        disconnecting = key;
        auto err = call([&] { table->disconnect(key.first, key.second); });
        ctx = Ctx::None;
        if (!serial) {
            check(err == ErrorCode::NotFound);
            return;
        }
        check(!err && !socks.at(*serial).live);
        drain();
        check(!connected.count(key));
        if (was_open) check(socks.at(*serial).end_seq != 0);  // its L2capDisconnect 0 came
        settle();
    }

    void op_release() {
        Key key = pick_key();
        TRACE("release (%u,0x%x)\n", key.first, key.second);
        auto serial = live_at(key);
        std::pair<int, Bytes> handed;
        auto err = call([&] { handed = table->release(key.first, key.second); });
        if (!serial) {
            check(err == ErrorCode::NotFound);
            return;
        }
        Sock& s = socks.at(*serial);
        if (s.end_seq != 0) check(err == ErrorCode::NotFound && s.live);
        else if (s.stalled) check(err == ErrorCode::Busy && s.live);
        else {
            check(!err && s.released && !s.live && handed.first == static_cast<int>(*serial) + 3);
            check(handed.second.size() == s.available());
            for (size_t i = 0; i < handed.second.size(); ++i) {
                check(handed.second[i] == pattern(*serial, s.consumed + i));
            }
            s.consumed += handed.second.size();
            bool hung = s.hung;
            drain();
            settle();  // forgets s
            check(connected.count(key));
            connected.erase(key);  // no more signals for it
            if (!hung) held_fds.push_back(key);  // the client's fd keeps the CID
        }
    }

    void op_close_fd() {
        uint8_t b = u8();
        if (held_fds.empty()) return;
        size_t i = b % held_fds.size();
        TRACE("the client closes the fd of (%u,0x%x)\n", held_fds[i].first, held_fds[i].second);
        held_fds.erase(held_fds.begin() + static_cast<std::ptrdiff_t>(i));
    }

    // The link went: the kernel ends its channels (their hang-ups reported
    // before the table hears of it, after, or not at all), then the table.
    void link_end(uint16_t conn, uint8_t how) {
        TRACE("link %u ends (hang-ups %s)\n", conn, how % 3 == 0 ? "first" : how % 3 == 1 ? "after" : "never");
        std::vector<uint32_t> on_link;
        for (auto& [key, serial] : at) {
            if (key.first == conn) on_link.push_back(serial);
        }
        for (auto& [serial, r] : reqs) {
            if (r.key.first == conn) r.dead = true;
        }
        // Its waiting channels end with 104, whether their close is reported first or not.
        for (auto& [key, serial] : asking) {
            if (key.first == conn) expect_ends[serial] = ECONNRESET;
        }
        std::erase_if(held_fds, [conn](const Key& k) { return k.first == conn; });
        for (uint32_t serial : on_link) {
            Sock& s = socks.at(serial);
            s.hung = true;
        }
        auto hang_ups = [&] {
            for (uint32_t serial : on_link) {
                auto it = socks.find(serial);
                if (it == socks.end() || !it->second.live || it->second.hung_delivered) continue;
                it->second.hung_delivered = true;
                auto hung_up = it->second.live->events.hung_up;
                hung_up();
            }
            std::vector<uint32_t> waiting;
            for (auto& [serial, r] : reqs) {
                if (r.key.first == conn && r.live && !r.reported) waiting.push_back(serial);
            }
            for (uint32_t serial : waiting) {
                if (reqs.at(serial).live) report_closed(serial);
            }
        };
        if (how % 3 == 0) hang_ups();
        table->link_ended(conn);
        for (uint32_t serial : on_link) {
            if (auto it = socks.find(serial); it != socks.end()) it->second.link_ended = true;
        }
        if (how % 3 == 1) hang_ups();
    }

    void op_stop() {
        TRACE("stop (the radio goes off)\n");
        for (auto& [key, serial] : asking) expect_ends[serial] = ECONNRESET;
        table->stop();
        listening.clear();
        for (auto& [serial, l] : listeners) check(!l.live);
        for (auto& [serial, a] : attempts) check(!a.live);
        for (auto& [serial, r] : reqs) check(!r.live);
    }

    void destroy() {
        TRACE("the table is destroyed\n");
        ctx = Ctx::Destroy;
        table.reset();
        ctx = Ctx::None;
        check(events.used() == 0);  // destroying raises nothing
        for (auto& [serial, l] : listeners) check(!l.live);
        for (auto& [serial, a] : attempts) check(!a.live);
        for (auto& [serial, r] : reqs) check(!r.live);
        settle();
        check(at.empty() && timers.pending.empty());
        reqs.clear();
        listening.clear();
        connected.clear();
        asking.clear();
        outstanding_attempts = 0;
    }

    void op_kernel(uint8_t b) {
        switch (b % 4) {
            case 0: has_kernel = !has_kernel; break;
            case 1: refuse.reset(); break;
            case 2: refuse = ErrorCode::Failed; break;
            default: refuse = ErrorCode::Busy; break;
        }
        TRACE("kernel %s, %s\n", has_kernel ? "present" : "absent", refuse ? "refusing" : "willing");
        if (table) table->set_kernel(has_kernel ? &kernel : nullptr);
    }

    void op_repeat() {
        size_t n = 2 + u8() % 99;
        ByteView body = in->bytes(std::min<size_t>(1 + u8() % 48, in->remaining()));
        if (depth > 0) return;
        TRACE("repeat %zu times {\n", n);
        ByteReader* outer = in;
        ++depth;
        for (size_t i = 0; i < n && steps < kMaxSteps; ++i) {
            ByteReader sub(body);
            in = &sub;
            while (in->remaining() > 0 && steps < kMaxSteps) step();
        }
        --depth;
        in = outer;
        TRACE("}\n");
    }

    void step() {
        ++steps;
        uint8_t op = u8();
        uint8_t kind = op % 24;
        // With the table gone only the late answers, timers and the kernel's switches are left.
        if (!table && kind != 2 && kind != 4 && kind != 18 && kind != 19 && kind != 21) return;
        switch (kind) {
            case 0: op_listen(op); break;
            case 1: op_request(); break;
            case 2: op_answer(); break;
            case 3: op_asker(); break;
            case 4: op_timer(); break;
            case 5: op_connect(op); break;
            case 6: op_complete(); break;
            case 7: op_sdus(op); break;
            case 8: op_writable(op); break;
            case 9: op_hang_up(op); break;
            case 10: op_fail_send(); break;
            case 11: op_send(op); break;
            case 12: op_available(); break;
            case 13: op_receive(op); break;
            case 14: op_disconnect(); break;
            case 15: op_release(); break;
            case 16: link_end(pick_conn(), u8()); break;
            case 17: op_stop(); break;
            case 18:
                if (table) destroy();
                else {
                    TRACE("a new table\n");
                    create();
                }
                break;
            case 19: op_kernel(u8()); break;
            case 20: op_close_fd(); break;
            case 21: op_repeat(); break;
            case 22: op_sdus(op); break;  // data is what channels mostly see
            case 23: op_request_closed(op); break;
        }
        hang_ups_due();
        invariants();
    }

    // The end: every request and attempt answered, every channel ended,
    // what is left readable read in order, then the table goes and late
    // answers find nothing.
    void finish() {
        if (table) {
            TRACE("-- finish\n");
            fire_all();
            op_stop();
            invariants();
            for (uint16_t conn : kConns) {
                link_end(conn, 0);
                invariants();
            }
            fire_all();
            invariants();
            check(asking.empty() && outstanding_attempts == 0 && connected.empty());
            std::vector<Key> left;
            for (auto& [key, serial] : at) left.push_back(key);
            for (const Key& key : left) {
                receive(key, size_t{1} << 20);
                invariants();
            }
            destroy();
        }
        for (auto& a : answers) {
            a.fn(0);
            a.fn(1);
            a.fn(std::nullopt);
        }
        check(events.used() == 0);
        check(timers.pending.empty());
        for (auto& [serial, l] : listeners) check(!l.live);
        for (auto& [serial, a] : attempts) check(!a.live);
    }
};

// --- The fakes, on the world ---

Sock& FakeSocket::m() { return w_.socks.at(serial_); }

FakeSocket::~FakeSocket() { w_.socket_gone(serial_); }

void FakeSocket::start(l2cap::SocketEvents e) {
    check(!m().started && e.readable && e.writable && e.hung_up);
    m().started = true;
    events = std::move(e);
}

l2cap::Socket::Sent FakeSocket::send(ByteView sdu) {
    Sock& s = m();
    check(s.started && !s.released && !s.hung_delivered);  // nothing is sent once the channel ended
    check(!sdu.empty() && sdu.size() <= s.peer_mtu && sdu.size() <= 2u * s.our_mtu);
    if (s.hung || s.fail_send) {
        ++s.failed;
        return Sent::Failed;
    }
    if (s.room == 0) {
        ++s.no_room;
        return Sent::NoRoom;
    }
    --s.room;
    ++s.taken;
    s.last_taken.assign(sdu.begin(), sdu.end());
    return Sent::Yes;
}

std::optional<Bytes> FakeSocket::receive() {
    Sock& s = m();
    check(s.started && !s.released);
    if (s.queue.empty()) return std::nullopt;
    uint16_t n = s.queue.front();
    s.queue.pop_front();
    Bytes sdu(n);
    for (size_t i = 0; i < n; ++i) sdu[i] = pattern(serial_, s.delivered + i);
    s.delivered += n;
    return sdu;
}

void FakeSocket::watch_readable(bool on) {
    check(m().started && !m().released);
    m().reading = on;
}

void FakeSocket::watch_writable(bool on) {
    check(m().started && !m().released);
    m().writing = on;
}

int FakeSocket::release() {
    Sock& s = m();
    check(s.started && !s.released);
    s.released = true;
    return static_cast<int>(serial_) + 3;
}

FakeRequest::~FakeRequest() { w_.reqs.at(serial_).live = nullptr; }

std::unique_ptr<l2cap::Socket> FakeRequest::accept(ChannelInfo& info, int& error) {
    Req& r = w_.reqs.at(serial_);
    check(!r.accepted && info.conn_handle == r.key.first && info.cid == r.key.second && info.psm == r.psm &&
          info.our_mtu == r.mtu && info.peer_mtu == r.peer_mtu);
    r.accepted = true;
    if (r.fail) {
        error = r.fail;
        return nullptr;
    }
    info.peer_mtu = r.accepted_peer_mtu;
    uint32_t serial = w_.new_socket(info);
    Sock& s = w_.socks.at(serial);
    auto socket = std::make_unique<FakeSocket>(w_, serial);
    s.live = socket.get();
    s.request = serial_;
    s.queue.assign(r.early.begin(), r.early.end());
    if (r.dead) {
        s.hung = true;
        s.hang_soon = true;
    }
    return socket;
}

FakePending::~FakePending() {
    if (attempt_) w_.attempts.at(serial_).live = nullptr;
    else w_.listeners.at(serial_).live = nullptr;
}

std::unique_ptr<l2cap::Pending> FakeKernel::listen(const LeAddress& local, uint16_t psm, uint16_t mtu,
                                                   RequestHandler on_request) {
    check(local == kLocal && psm >= 1 && psm <= 255 && mtu >= 23 && on_request);
    if (w_.refuse) throw BleError(*w_.refuse, "the kernel refuses");
    uint32_t serial = w_.next_serial++;
    auto pending = std::make_unique<FakePending>(w_, serial, false);
    w_.listeners[serial] = {pending.get(), psm, mtu, std::move(on_request)};
    return pending;
}

std::unique_ptr<l2cap::Pending> FakeKernel::connect(const LeAddress& local, const LeAddress& peer, uint16_t psm,
                                                    uint16_t mtu, ConnectHandler done) {
    check(local == kLocal && peer == kPeer && psm >= 1 && psm <= 255 && mtu >= 23 && done);
    if (w_.refuse) throw BleError(*w_.refuse, "the kernel refuses");
    uint32_t serial = w_.next_serial++;
    auto pending = std::make_unique<FakePending>(w_, serial, true);
    pending->done = std::move(done);
    w_.attempts[serial] = {pending.get(), 0, psm, mtu};
    return pending;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    tracing = std::getenv("UBT_FUZZ_TRACE") != nullptr;
    spdlog::set_level(tracing ? spdlog::level::warn : spdlog::level::off);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World w;
    ByteReader in(ByteView(data, size));
    w.in = &in;
    while (in.remaining() > 0 && w.steps < kMaxSteps) w.step();
    w.finish();
    return 0;
}
