// One connection's ATT bearer: PDUs routed to our server or client, the IRQ
// events they raise, the 30 s ATT timers, read requests asked of the
// application, indications one at a time, and PDUs that wait for the channel.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "ble/att_bearer.hpp"
#include "core/error.hpp"
#include "fake_hci.hpp"

using namespace ubt;
using namespace ubt::ble;
using att::Uuid;

namespace {

constexpr uint16_t kConn = 0x40;

// Handles: 1-9 GAP and GATT; 10 service, 11 decl, 12 0x2a37 value (read,
// notify, indicate), 13 CCCD, 14 decl, 15 0x2a38 value (read, write).
std::vector<gatt::ServiceDef> services() {
    using namespace gatt::flag;
    return {{Uuid::from16(0x180d),
             {{Uuid::from16(0x2a37), Read | Notify | Indicate, {}}, {Uuid::from16(0x2a38), Read | Write, {}}}}};
}
constexpr uint16_t kHr = 12;
constexpr uint16_t kHrCccd = 13;
constexpr uint16_t kLocation = 15;

std::string describe(const IrqEvent& event) {
    return std::visit(
        [](const auto& e) -> std::string {
            using T = std::decay_t<decltype(e)>;
            auto n = [](auto v) { return " " + std::to_string(v); };
            if constexpr (std::is_same_v<T, GattsWrite>) return "gatts_write" + n(e.conn_handle) + n(e.attr_handle);
            if constexpr (std::is_same_v<T, GattsReadRequest>) return "read_request" + n(e.conn_handle) + n(e.attr_handle);
            if constexpr (std::is_same_v<T, MtuExchanged>) return "mtu" + n(e.conn_handle) + n(e.mtu);
            if constexpr (std::is_same_v<T, GattsIndicateDone>) {
                return "indicate_done" + n(e.conn_handle) + n(e.value_handle) + n(e.status);
            }
            if constexpr (std::is_same_v<T, GattcReadResult>) return "read_result" + n(e.value_handle) + n(e.data.size());
            if constexpr (std::is_same_v<T, GattcReadDone>) return "read_done" + n(e.value_handle) + n(e.status);
            if constexpr (std::is_same_v<T, GattcServiceDone>) return "services_done" + n(e.status);
            if constexpr (std::is_same_v<T, GattcIndicate>) return "indicated" + n(e.value_handle) + n(e.data.size());
            return "other";
        },
        event);
}

struct Fixture {
    gatt::Database db;
    test::FakeTimers timers;
    EventQueue events{65536};
    std::vector<Bytes> sent;
    bool channel = true;
    int disconnects = 0;
    size_t backlog = 0;  // PDUs the fake channel holds unsent
    std::shared_ptr<AttBearer> bearer;

    Fixture() {
        db.build(services(), "pi");
        db.find(kHr)->value = {0x06, 0x48};
        db.find(kLocation)->value = {0x01};
        bearer = std::make_shared<AttBearer>(
            kConn, 256,
            AttBearer::Context{db, timers, events,
                               [this](ByteView pdu) {
                                   if (channel) sent.emplace_back(pdu.begin(), pdu.end());
                                   return channel;
                               },
                               [this] { ++disconnects; }, [this] { return backlog; }});
    }
    std::vector<std::string> raised() {
        std::vector<std::string> out;
        while (auto e = events.pop()) out.push_back(describe(*e));
        return out;
    }
    // Turns on read requests; the answers are kept for the test to give.
    std::vector<std::pair<uint16_t, std::function<void(uint32_t)>>> asked;
    void ask_reads() {
        bearer->set_read_asker([this](uint16_t, uint16_t handle, std::function<void(uint32_t)> answer) {
            asked.emplace_back(handle, std::move(answer));
        });
    }
};

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("a client's write is answered and raises GATTS_WRITE with the connection and value handles") {
    Fixture fx;
    fx.bearer->on_pdu(Bytes{0x12, 0x0f, 0x00, 0x02});  // Write Request, handle 0x000f, value 02
    CHECK(fx.sent == std::vector<Bytes>{{0x13}});        // Write Response
    CHECK(fx.raised() == Strings{"gatts_write 64 15"});
    CHECK(fx.db.find(kLocation)->value == Bytes{0x02});
}

TEST_CASE("an MTU exchange from the peer raises MTU_EXCHANGED and our client uses that MTU too") {
    Fixture fx;
    fx.bearer->on_pdu(Bytes{0x02, 0xf7, 0x00});  // Exchange MTU Request, client MTU 247
    CHECK(fx.sent == std::vector<Bytes>{{0x03, 0x00, 0x01}});  // our MTU, 256
    CHECK(fx.raised() == Strings{"mtu 64 247"});
    CHECK_NOTHROW(fx.bearer->write_command(kLocation, Bytes(244, 0)));  // 247 - 3
    CHECK_THROWS(fx.bearer->write_command(kLocation, Bytes(245, 0)));
}

TEST_CASE("our client's MTU exchange sets the server's MTU too") {
    Fixture fx;
    fx.bearer->client().exchange_mtu();
    fx.bearer->flush();
    CHECK(fx.sent.back() == Bytes{0x02, 0x00, 0x01});  // Exchange MTU Request, 256
    fx.bearer->on_pdu(Bytes{0x03, 0x40, 0x00});       // Exchange MTU Response, server MTU 64
    CHECK(fx.raised() == Strings{"mtu 64 64"});
    fx.bearer->notify(kHr, Bytes(100, 0x55));
    CHECK(fx.sent.back().size() == 64);  // a notification fills the new ATT_MTU
}

TEST_CASE("without an asker a read is answered at once and raises nothing") {
    Fixture fx;
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});  // Read Request, handle 0x000c
    CHECK(fx.sent == std::vector<Bytes>{{0x0b, 0x06, 0x48}});
    CHECK(fx.raised().empty());
}

TEST_CASE("with an asker a read waits for the answer, and a non-zero answer denies it with that ATT error") {
    Fixture fx;
    fx.ask_reads();
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});  // Read Request, handle 0x000c
    CHECK(fx.sent.empty());
    CHECK(fx.raised() == Strings{"read_request 64 12"});
    REQUIRE(fx.asked.size() == 1);
    CHECK(fx.asked[0].first == kHr);
    fx.asked[0].second(0x05);  // Insufficient Authentication
    CHECK(fx.sent == std::vector<Bytes>{{0x01, 0x0a, 0x0c, 0x00, 0x05}});
    fx.asked[0].second(0);  // a second answer to the same request changes nothing
    CHECK(fx.sent.size() == 1);
}

TEST_CASE("an answer of 0 allows the read; declarations and the GAP service are not asked about") {
    Fixture fx;
    fx.ask_reads();
    fx.bearer->on_pdu(Bytes{0x0a, 0x03, 0x00});  // Read the Device Name: answered at once
    CHECK(fx.sent == std::vector<Bytes>{{0x0b, 'p', 'i'}});
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});
    REQUIRE(fx.asked.size() == 1);
    fx.asked[0].second(0);
    CHECK(fx.sent.back() == Bytes{0x0b, 0x06, 0x48});
}

TEST_CASE("Read By Type asks about every value it reads, and one denial ends the list there") {
    Fixture fx;
    fx.ask_reads();
    // Read By Type 0x000c-0x000f for 0x2a37: one value (and one ask).
    fx.bearer->on_pdu(Bytes{0x08, 0x0c, 0x00, 0x0f, 0x00, 0x37, 0x2a});
    REQUIRE(fx.asked.size() == 1);
    fx.asked[0].second(0);
    CHECK(fx.sent.back() == Bytes{0x09, 0x04, 0x0c, 0x00, 0x06, 0x48});  // length 4: handle 0x000c, value 06 48
    // Read Multiple 0x000c, 0x000f: both asked; the second denied.
    fx.bearer->on_pdu(Bytes{0x0e, 0x0c, 0x00, 0x0f, 0x00});
    REQUIRE(fx.asked.size() == 3);
    CHECK(fx.asked[1].first == kHr);
    CHECK(fx.asked[2].first == kLocation);
    fx.asked[1].second(0);
    CHECK(fx.sent.size() == 1);  // still waiting for the other answer
    fx.asked[2].second(0x08);    // Insufficient Authorization
    CHECK(fx.sent.back() == Bytes{0x01, 0x0e, 0x0f, 0x00, 0x08});
}

TEST_CASE("a read not answered within 5 s is denied with Unlikely Error, and the late answer is ignored") {
    Fixture fx;
    fx.ask_reads();
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::seconds(5));
    fx.timers.fire_all();
    CHECK(fx.sent == std::vector<Bytes>{{0x01, 0x0a, 0x0c, 0x00, 0x0e}});
    fx.asked[0].second(0);
    CHECK(fx.sent.size() == 1);
}

TEST_CASE("a request sent while one is held is dropped; commands still go through") {
    Fixture fx;
    fx.ask_reads();
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});        // held
    fx.bearer->on_pdu(Bytes{0x0a, 0x03, 0x00});        // a second request: dropped
    fx.bearer->on_pdu(Bytes{0x52, 0x0f, 0x00, 0x07});  // Write Command to 0x000f: not writable without response, ignored
    fx.bearer->on_pdu(Bytes{0x12, 0x0f, 0x00, 0x07});  // a Write Request: dropped too
    CHECK(fx.sent.empty());
    fx.asked[0].second(0);
    CHECK(fx.sent == std::vector<Bytes>{{0x0b, 0x06, 0x48}});
    CHECK(fx.db.find(kLocation)->value == Bytes{0x01});
}

TEST_CASE("when the asker goes away, the held read is denied") {
    Fixture fx;
    fx.ask_reads();
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});
    fx.bearer->set_read_asker(nullptr);
    CHECK(fx.sent == std::vector<Bytes>{{0x01, 0x0a, 0x0c, 0x00, 0x0e}});
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});  // and later reads are answered at once
    CHECK(fx.sent.back() == Bytes{0x0b, 0x06, 0x48});
}

TEST_CASE("an answer after the connection ended reaches nothing") {
    Fixture fx;
    fx.ask_reads();
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});
    fx.bearer->end();
    fx.bearer.reset();
    CHECK(fx.timers.pending.empty());
    fx.asked[0].second(0);  // the bearer is gone: nothing happens
    CHECK(fx.sent.empty());
}

TEST_CASE("indications go one at a time, each confirmation raising INDICATE_DONE and sending the next") {
    Fixture fx;
    fx.bearer->indicate(kHr, Bytes{0x01});
    fx.bearer->indicate(kHr, Bytes{0x02});
    CHECK(fx.sent == std::vector<Bytes>{{0x1d, 0x0c, 0x00, 0x01}});  // Handle Value Indication, 0x000c, 01
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::seconds(30));
    fx.bearer->on_pdu(Bytes{0x1e});  // Handle Value Confirmation
    CHECK(fx.raised() == Strings{"indicate_done 64 12 0"});
    CHECK(fx.sent.back() == Bytes{0x1d, 0x0c, 0x00, 0x02});
    fx.bearer->on_pdu(Bytes{0x1e});
    CHECK(fx.raised() == Strings{"indicate_done 64 12 0"});
    CHECK(fx.timers.pending.empty());
    fx.bearer->on_pdu(Bytes{0x1e});  // a confirmation of nothing is ignored
    CHECK(fx.raised().empty());
}

TEST_CASE("an indication not confirmed within 30 s ends with status 13 and the link is ended") {
    Fixture fx;
    fx.bearer->indicate(kHr, Bytes{0x01});
    fx.bearer->indicate(kHr, Bytes{0x02});
    fx.timers.fire_all();
    CHECK(fx.raised() == Strings{"indicate_done 64 12 13", "indicate_done 64 12 13"});
    CHECK(fx.disconnects == 1);
}

TEST_CASE("a request of our client not answered within 30 s ends with status 13 and the link is ended") {
    Fixture fx;
    fx.bearer->client().read(kHr);
    fx.bearer->client().discover_services(std::nullopt);
    fx.bearer->flush();
    CHECK(fx.sent == std::vector<Bytes>{{0x0a, 0x0c, 0x00}});  // only the first: one outstanding
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::seconds(30));
    fx.timers.fire_all();
    CHECK(fx.raised() == Strings{"read_done 12 13", "services_done 13"});
    CHECK(fx.disconnects == 1);
}

TEST_CASE("the response timer stops with the response, and the next request goes out") {
    Fixture fx;
    fx.bearer->client().read(kHr);
    fx.bearer->client().read(kLocation);
    fx.bearer->flush();
    fx.bearer->on_pdu(Bytes{0x0b, 0x06, 0x48});  // Read Response
    CHECK(fx.sent.back() == Bytes{0x0a, 0x0f, 0x00});  // the second read
    fx.bearer->on_pdu(Bytes{0x01, 0x0a, 0x0f, 0x00, 0x02});  // Error Response: Read Not Permitted
    CHECK(fx.raised() == Strings{"read_result 12 2", "read_done 12 0", "read_done 15 258"});
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("an indication to our client is confirmed and raised") {
    Fixture fx;
    fx.bearer->on_pdu(Bytes{0x1d, 0x21, 0x00, 0xaa, 0xbb});  // Handle Value Indication, 0x0021, aa bb
    CHECK(fx.sent == std::vector<Bytes>{{0x1e}});
    CHECK(fx.raised() == Strings{"indicated 33 2"});
}

TEST_CASE("PDUs wait for the channel and go out in order once it is attached") {
    Fixture fx;
    fx.channel = false;
    fx.bearer->client().read(kHr);
    fx.bearer->flush();
    fx.bearer->notify(kHr, Bytes{0x01});
    CHECK(fx.sent.empty());
    fx.channel = true;
    fx.bearer->link_attached();
    CHECK(fx.sent == std::vector<Bytes>{{0x0a, 0x0c, 0x00}, {0x1b, 0x0c, 0x00, 0x01}});
}

TEST_CASE("when the connection ends, pending procedures and indications end with status 7") {
    Fixture fx;
    fx.bearer->indicate(kHr, Bytes{0x01});
    fx.bearer->client().read(kHr);
    fx.bearer->flush();
    fx.bearer->end();
    CHECK(fx.raised() == Strings{"read_done 12 7", "indicate_done 64 12 7"});
}

TEST_CASE("send_update notifies or indicates as the client configured its CCCD") {
    Fixture fx;
    fx.bearer->send_update(kHr, Bytes{0x09});
    CHECK(fx.sent.empty());  // not subscribed
    fx.bearer->on_pdu(Bytes{0x12, kHrCccd, 0x00, 0x01, 0x00});  // CCCD: notifications
    CHECK(fx.raised().empty());  // a CCCD write raises no GATTS_WRITE, as on MicroPython
    fx.bearer->send_update(kHr, Bytes{0x09});
    CHECK(fx.sent.back() == Bytes{0x1b, 0x0c, 0x00, 0x09});  // Handle Value Notification
    fx.bearer->on_pdu(Bytes{0x12, kHrCccd, 0x00, 0x02, 0x00});  // CCCD: indications
    fx.bearer->send_update(kHr, Bytes{0x0a});
    CHECK(fx.sent.back() == Bytes{0x1d, 0x0c, 0x00, 0x0a});  // Handle Value Indication
}

TEST_CASE("registering services again starts the server state over and keeps the MTU") {
    Fixture fx;
    fx.bearer->on_pdu(Bytes{0x02, 0x40, 0x00});                 // MTU 64
    fx.bearer->on_pdu(Bytes{0x12, kHrCccd, 0x00, 0x01, 0x00});  // subscribed
    fx.bearer->indicate(kHr, Bytes{0x01});
    fx.raised();
    fx.bearer->services_changing();
    fx.db.build(services(), "pi");
    fx.bearer->services_changed();
    CHECK(fx.raised() == Strings{"indicate_done 64 12 7"});  // the indication is abandoned
    CHECK(fx.timers.pending.empty());
    fx.sent.clear();
    fx.bearer->send_update(kHr, Bytes{0x09});
    CHECK(fx.sent.empty());  // the subscription went with the old services
    fx.bearer->notify(kHr, Bytes(100, 0));
    CHECK(fx.sent.back().size() == 64);
}

TEST_CASE("notifications and write commands wait for room: Busy while 64 PDUs are unsent, nothing dropped") {
    Fixture fx;
    fx.backlog = AttBearer::kMaxBacklog - 1;
    CHECK_NOTHROW(fx.bearer->notify(kHr, Bytes{0x01}));
    fx.backlog = AttBearer::kMaxBacklog;
    CHECK(fx.sent.size() == 1);
    try {
        fx.bearer->notify(kHr, Bytes{0x02});
        FAIL("a notification went beyond the backlog");
    } catch (const BleError& e) {
        CHECK(e.code() == ErrorCode::Busy);
    }
    CHECK_THROWS_AS(fx.bearer->write_command(kLocation, Bytes{0x03}), BleError);
    CHECK(fx.sent.size() == 1);
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});  // responses are never held back
    CHECK(fx.sent.size() == 2);
}

TEST_CASE("an asker that answers at once (a failed D-Bus call) answers the read at once") {
    Fixture fx;
    fx.bearer->set_read_asker([](uint16_t, uint16_t, std::function<void(uint32_t)> answer) { answer(0x0e); });
    // Read Multiple 0x000c, 0x000f: both denied at once; the first denial is the answer.
    fx.bearer->on_pdu(Bytes{0x0e, 0x0c, 0x00, 0x0f, 0x00});
    CHECK(fx.sent == std::vector<Bytes>{{0x01, 0x0e, 0x0c, 0x00, 0x0e}});
    CHECK(fx.raised() == Strings{"read_request 64 12", "read_request 64 15"});
    fx.sent.clear();
    fx.bearer->set_read_asker([](uint16_t, uint16_t, std::function<void(uint32_t)> answer) { answer(0); });
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});  // one value, allowed at once
    CHECK(fx.sent == std::vector<Bytes>{{0x0b, 0x06, 0x48}});
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("each request and each indication has its own 30 s: the timer restarts with the next one") {
    Fixture fx;
    fx.bearer->client().read(kHr);
    fx.bearer->client().read(kLocation);
    fx.bearer->flush();
    REQUIRE(fx.timers.pending.size() == 1);
    auto first = fx.timers.pending.begin()->first;
    fx.bearer->on_pdu(Bytes{0x0b, 0x06, 0x48});  // Read Response: the second read goes out
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->first != first);  // a fresh timer for it
    fx.bearer->indicate(kHr, Bytes{0x01});
    fx.bearer->indicate(kHr, Bytes{0x02});
    REQUIRE(fx.timers.pending.size() == 2);
    auto last = fx.timers.pending.rbegin()->first;
    fx.bearer->on_pdu(Bytes{0x1e});  // confirmed: the second indication goes out with its own timer
    REQUIRE(fx.timers.pending.size() == 2);
    CHECK(fx.timers.pending.rbegin()->first != last);
}

TEST_CASE("after an ATT timeout nothing more goes out on the bearer") {
    Fixture fx;
    fx.bearer->client().read(kHr);
    fx.bearer->flush();
    fx.timers.fire_all();
    fx.sent.clear();
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});  // a request: not answered any more
    fx.bearer->client().read(kHr);
    fx.bearer->flush();
    CHECK(fx.sent.empty());
    CHECK_THROWS_AS(fx.bearer->notify(kHr, Bytes{0x01}), BleError);
}

TEST_CASE("requests go unanswered while the link holds 256 unsent PDUs, so a peer cannot grow the queue") {
    Fixture fx;
    fx.backlog = AttBearer::kMaxAnswerBacklog;
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});              // Read Request: dropped
    fx.bearer->on_pdu(Bytes{0x1d, 0x21, 0x00, 0x01});        // an indication: not confirmed
    fx.bearer->on_pdu(Bytes{0x52, 0x0f, 0x00, 0x01});        // a command still counts (no answer needed)
    CHECK(fx.sent.empty());
    fx.backlog = AttBearer::kMaxAnswerBacklog - 1;
    fx.bearer->on_pdu(Bytes{0x0a, 0x0c, 0x00});
    CHECK(fx.sent == std::vector<Bytes>{{0x0b, 0x06, 0x48}});
}
