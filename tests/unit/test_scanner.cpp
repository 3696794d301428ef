// gap_scan() over a scripted controller: the HCI commands it sends, the
// reports it delivers and when the scan ends.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "error_of.hpp"
#include "fake_hci.hpp"
#include "gap/scanner.hpp"

using namespace ubt;
using test::error_of;
using namespace ubt::hci;

namespace {

struct Fixture : test::HciFixture {
    test::FakeTimers timers;
    std::vector<AdvReport> reports;
    int done = 0;
    gap::Scanner scanner{hci, features, timers, [this](const AdvReport& r) { reports.push_back(r); }, [this] { ++done; }};

    explicit Fixture(bool extended) : HciFixture(extended) {}
};


LeMeta legacy_report(uint8_t type, const Bytes& data) {
    Bytes p{0x01, type, 0x00, 0x01, 0x00, 0x00, 0x01, 0xaa, 0x00, static_cast<uint8_t>(data.size())};
    for (uint8_t x : data) p.push_back(x);
    p.push_back(0x7f);
    return {le_ev::AdvertisingReport, p};
}

LeMeta ext_report(uint16_t type, const Bytes& data) {
    Bytes p{0x01, static_cast<uint8_t>(type), static_cast<uint8_t>(type >> 8), 0x01, 0x55, 0x44, 0x33, 0x22,
            0x11, 0xc0, 0x01, 0x00, 0x02, 0x7f, 0xd0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(data.size())};
    for (uint8_t x : data) p.push_back(x);
    return {le_ev::ExtAdvertisingReport, p};
}

}  // namespace

TEST_CASE("a legacy controller scans with the legacy commands and the caller's parameters") {
    Fixture fx(false);
    fx.scanner.start({0, 30000, 30000, true});
    CHECK(fx.port.opcodes() == std::vector<uint16_t>{op::LeReadLocalFeatures, op::LeSetScanEnable,
                                                     op::LeSetScanParameters, op::LeSetScanEnable});
    CHECK(fx.port.sent[1] == le_set_scan_enable(false));  // a scan left running is stopped first
    ScanParameters expected;
    expected.active = true;
    expected.interval = 48;  // 30000 us / 625
    expected.window = 48;
    CHECK(fx.port.sent[2] == le_set_scan_parameters(expected));
    CHECK(fx.port.sent[3] == le_set_scan_enable(true));
    CHECK(fx.scanner.scanning());
    CHECK(fx.timers.pending.empty());  // duration 0: until stopped
    fx.scanner.stop();
    CHECK(fx.done == 1);
    CHECK(fx.port.sent.back() == le_set_scan_enable(false));
    fx.scanner.stop();  // not scanning: nothing more
    CHECK(fx.done == 1);
}

TEST_CASE("an extended controller scans with the extended commands") {
    Fixture fx(true);
    fx.scanner.start({1000, 1280000, 11250, false});
    CHECK(fx.port.opcodes() == std::vector<uint16_t>{op::LeReadLocalFeatures, op::LeSetExtScanEnable,
                                                     op::LeSetExtScanParameters, op::LeSetExtScanEnable});
    ScanParameters expected;
    expected.interval = 2048;  // 1.28 s
    expected.window = 18;      // 11.25 ms
    CHECK(fx.port.sent[2] == le_set_ext_scan_parameters(expected));
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::milliseconds(1000));
    fx.timers.fire_all();  // the duration ends the scan
    CHECK(fx.done == 1);
    CHECK_FALSE(fx.scanner.scanning());
    CHECK(fx.port.sent.back() == le_set_ext_scan_enable(false));
}

TEST_CASE("scan parameters are checked before anything is sent") {
    Fixture fx(false);
    CHECK(error_of([&] { fx.scanner.start({0, 2499, 2499, false}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.scanner.start({0, 10240625, 11250, false}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.scanner.start({0, 10000, 20000, false}); }) == ErrorCode::InvalidArgs);
    CHECK(fx.port.sent.empty());
    CHECK_NOTHROW(fx.scanner.start({0, 10240000, 2500, false}));
}

TEST_CASE("a second scan while one runs is refused; a stop then allows it") {
    Fixture fx(false);
    fx.scanner.start({0, 1280000, 11250, false});
    size_t sent = fx.port.sent.size();
    CHECK(error_of([&] { fx.scanner.start({0, 1280000, 11250, false}); }) == ErrorCode::InProgress);
    CHECK(fx.port.sent.size() == sent);
    fx.scanner.stop();
    CHECK_NOTHROW(fx.scanner.start({0, 1280000, 11250, false}));
}

TEST_CASE("a controller that refuses the scan leaves no scan running") {
    Fixture fx(false);
    fx.port.responder = [](ByteView command) {
        uint16_t opcode = static_cast<uint16_t>(command[1] | (command[2] << 8));
        if (opcode == op::LeReadLocalFeatures) {
            return std::vector<Bytes>{test::command_complete_for(command, Bytes(9, 0))};
        }
        return std::vector<Bytes>{test::command_complete_for(command, {0x0c})};  // Command Disallowed
    };
    CHECK(error_of([&] { fx.scanner.start({500, 1280000, 11250, false}); }) == ErrorCode::Failed);
    CHECK_FALSE(fx.scanner.scanning());
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("every report is delivered, scan responses as adv_type 4") {
    Fixture fx(false);
    fx.scanner.on_le_meta(legacy_report(0x00, {0x01}));  // not scanning: ignored
    CHECK(fx.reports.empty());
    fx.scanner.start({0, 1280000, 11250, true});
    fx.scanner.on_le_meta(legacy_report(0x00, {0x02, 0x01, 0x06}));
    fx.scanner.on_le_meta(legacy_report(0x00, {0x02, 0x01, 0x06}));  // duplicates are not filtered
    fx.scanner.on_le_meta(legacy_report(0x04, {0x03, 0x09, 'h', 'i'}));
    REQUIRE(fx.reports.size() == 3);
    CHECK(fx.reports[0].adv_type == 0);
    CHECK(fx.reports[0].data == Bytes{0x02, 0x01, 0x06});
    CHECK(fx.reports[1].data == fx.reports[0].data);
    CHECK(fx.reports[2].adv_type == 4);
    fx.scanner.on_le_meta({le_ev::AdvertisingReport, {0x01, 0x00}});  // truncated: dropped whole
    CHECK(fx.reports.size() == 3);
}

TEST_CASE("extended reports in fragments are joined before delivery") {
    Fixture fx(true);
    fx.scanner.start({0, 1280000, 11250, false});
    fx.scanner.on_le_meta(ext_report(0x0020 | 0x0001, {0x01, 0x02}));  // connectable, more to come
    CHECK(fx.reports.empty());
    fx.scanner.on_le_meta(ext_report(0x0001, {0x03}));  // last fragment
    REQUIRE(fx.reports.size() == 1);
    CHECK(fx.reports[0].data == Bytes{0x01, 0x02, 0x03});
    CHECK(fx.reports[0].adv_type == 0);
    CHECK(fx.reports[0].address.to_string() == "C0:11:22:33:44:55");
    CHECK(fx.reports[0].rssi == -48);
}

TEST_CASE("power off ends the scan without a command") {
    Fixture fx(false);
    fx.scanner.start({5000, 1280000, 11250, false});
    size_t sent = fx.port.sent.size();
    fx.scanner.on_power_off();
    CHECK(fx.done == 1);
    CHECK(fx.timers.pending.empty());
    CHECK(fx.port.sent.size() == sent);
}
