// gap_advertise() over a scripted controller: the exact HCI commands, the
// payload rules and what ends advertising.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "error_of.hpp"
#include "fake_hci.hpp"
#include "gap/advertiser.hpp"

using namespace ubt;
using test::error_of;
using namespace ubt::hci;

namespace {

struct Fixture : test::HciFixture {
    gap::Advertiser advertiser{hci, features};

    explicit Fixture(bool extended) : HciFixture(extended) {}
};


const Bytes kAdv{0x02, 0x01, 0x06, 0x03, 0x03, 0xaa, 0xfe};
const Bytes kResp{0x04, 0x09, 'u', 'b', 't'};

gap::AdvertiseRequest request(uint32_t interval_us, std::optional<Bytes> adv, std::optional<Bytes> resp,
                              bool connectable = true) {
    return {interval_us, std::move(adv), std::move(resp), connectable};
}

}  // namespace

TEST_CASE("legacy advertising: the caller's interval and exact bytes") {
    Fixture fx(false);
    fx.advertiser.advertise(request(100000, kAdv, kResp), {});
    CHECK(fx.advertiser.advertising());
    CHECK(fx.port.opcodes() == std::vector<uint16_t>{op::LeReadLocalFeatures, op::LeSetAdvEnable,
                                                     op::LeSetAdvParameters, op::LeSetAdvData,
                                                     op::LeSetScanRspData, op::LeSetAdvEnable});
    CHECK(fx.port.sent[1] == le_set_adv_enable(false));  // whatever ran is stopped first
    CHECK(fx.port.sent[2] == Bytes{
        0x01, 0x06, 0x20, 0x0f,  // LE Set Advertising Parameters, 15 bytes
        0xa0, 0x00, 0xa0, 0x00,  // min and max interval 160 x 0.625 ms = 100 ms
        0x00,                    // ADV_IND
        0x00,                    // own address public
        0x00, 0, 0, 0, 0, 0, 0,  // no peer
        0x07,                    // channels 37, 38, 39
        0x00,                    // no filter
    });
    Bytes adv_cmd = fx.port.sent[3];
    REQUIRE(adv_cmd.size() == 4 + 32);
    CHECK(adv_cmd[3] == 32);                // parameter length: length byte + 31
    CHECK(adv_cmd[4] == kAdv.size());       // significant length
    CHECK(Bytes(adv_cmd.begin() + 5, adv_cmd.begin() + 5 + 7) == kAdv);  // no Flags added, nothing changed
    CHECK(adv_cmd.back() == 0);
    CHECK(fx.port.sent[4][4] == kResp.size());
    CHECK(fx.port.sent[5] == le_set_adv_enable(true));
}

TEST_CASE("the interval is rounded down to 625 us and checked") {
    Fixture fx(false);
    fx.advertiser.advertise(request(20624, Bytes{}, Bytes{}), {});  // 32.99 units -> 32
    CHECK(fx.port.sent[2][4] == 0x20);
    CHECK(error_of([&] { fx.advertiser.advertise(request(19999, Bytes{}, Bytes{}), {}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.advertiser.advertise(request(10240625, Bytes{}, Bytes{}), {}); }) == ErrorCode::InvalidArgs);
}

TEST_CASE("non-connectable advertising is scannable only with a scan response") {
    Fixture fx(false);
    fx.advertiser.advertise(request(100000, kAdv, kResp, false), {});
    CHECK(fx.port.sent[2][8] == adv_pdu::AdvScanInd);
    fx.advertiser.advertise(request(100000, kAdv, Bytes{}, false), {});
    CHECK(fx.port.sent[fx.port.sent.size() - 4][8] == adv_pdu::AdvNonconnInd);
}

TEST_CASE("None re-uses the previous payload, b'' clears it") {
    Fixture fx(false);
    fx.advertiser.advertise(request(100000, kAdv, kResp), {});
    fx.advertiser.stop();
    fx.port.sent.clear();
    fx.advertiser.advertise(request(100000, std::nullopt, std::nullopt), {});
    CHECK(Bytes(fx.port.sent[2].begin() + 5, fx.port.sent[2].begin() + 12) == kAdv);
    CHECK(fx.port.sent[3][4] == kResp.size());
    fx.port.sent.clear();
    fx.advertiser.advertise(request(100000, Bytes{}, std::nullopt), {});
    CHECK(fx.port.sent[2][4] == 0);
    CHECK(fx.port.sent[3][4] == kResp.size());
}

TEST_CASE("payload lengths: 31 bytes legacy, up to 251 extended without a scan response") {
    Fixture legacy(false);
    CHECK(error_of([&] { legacy.advertiser.advertise(request(100000, Bytes(32, 1), Bytes{}), {}); }) ==
          ErrorCode::InvalidArgs);
    CHECK(error_of([&] { legacy.advertiser.advertise(request(100000, Bytes{}, Bytes(32, 1)), {}); }) ==
          ErrorCode::InvalidArgs);
    CHECK_NOTHROW(legacy.advertiser.advertise(request(100000, Bytes(31, 1), Bytes(31, 2)), {}));

    Fixture ext(true);
    CHECK_NOTHROW(ext.advertiser.advertise(request(100000, Bytes(251, 1), Bytes{}), {}));
    CHECK(error_of([&] { ext.advertiser.advertise(request(100000, Bytes(252, 1), Bytes{}), {}); }) ==
          ErrorCode::InvalidArgs);
    CHECK(error_of([&] { ext.advertiser.advertise(request(100000, Bytes(40, 1), Bytes{1}), {}); }) ==
          ErrorCode::InvalidArgs);
}

TEST_CASE("a refused call keeps the previous payload and leaves advertising off") {
    Fixture fx(false);
    fx.advertiser.advertise(request(100000, kAdv, kResp), {});
    CHECK(error_of([&] { fx.advertiser.advertise(request(100000, Bytes(40, 1), std::nullopt), {}); }) ==
          ErrorCode::InvalidArgs);
    CHECK(fx.advertiser.advertising());  // checked before anything was sent
    fx.port.responder = [](ByteView command) {
        uint16_t opcode = static_cast<uint16_t>(command[1] | (command[2] << 8));
        return std::vector<Bytes>{test::command_complete_for(command, {opcode == op::LeSetAdvData ? uint8_t{0x12} : uint8_t{0}})};
    };
    CHECK(error_of([&] { fx.advertiser.advertise(request(100000, Bytes{0x01}, std::nullopt), {}); }) ==
          ErrorCode::Failed);
    CHECK_FALSE(fx.advertiser.advertising());
    fx.port.responder = test::accepting_controller(false);
    fx.port.sent.clear();
    fx.advertiser.advertise(request(100000, std::nullopt, std::nullopt), {});
    CHECK(Bytes(fx.port.sent[2].begin() + 5, fx.port.sent[2].begin() + 12) == kAdv);
}

TEST_CASE("extended controllers: one advertising set with legacy PDUs and a random address") {
    Fixture fx(true);
    Address random = *Address::parse("C1:22:33:44:55:66");
    fx.advertiser.advertise(request(100000, kAdv, kResp), {1, random});
    CHECK(fx.port.opcodes() == std::vector<uint16_t>{op::LeReadLocalFeatures, op::LeSetExtAdvEnable,
                                                     op::LeSetExtAdvParameters, op::LeSetAdvSetRandomAddress,
                                                     op::LeSetExtAdvData, op::LeSetExtScanRspData,
                                                     op::LeSetExtAdvEnable});
    CHECK(fx.port.sent[2] == Bytes{
        0x01, 0x36, 0x20, 0x19,  // LE Set Extended Advertising Parameters, 25 bytes
        0x00,                    // handle 0
        0x13, 0x00,              // legacy PDU, connectable, scannable: ADV_IND
        0xa0, 0x00, 0x00,        // primary min interval 100 ms
        0xa0, 0x00, 0x00,        // primary max interval 100 ms
        0x07,                    // all channels
        0x01,                    // own address random
        0x00, 0, 0, 0, 0, 0, 0,  // no peer
        0x00,                    // no filter
        0x7f,                    // no TX power preference
        0x01, 0x00, 0x01,        // 1M primary, no skip, 1M secondary
        0x00, 0x00,              // SID 0, no scan request notifications
    });
    CHECK(fx.port.sent[3] == Bytes{0x01, 0x35, 0x20, 0x07, 0x00, 0x66, 0x55, 0x44, 0x33, 0x22, 0xc1});
    CHECK(fx.port.sent[4] == Bytes{0x01, 0x37, 0x20, 0x0b, 0x00, 0x03, 0x01, 0x07,  // handle, complete, 7 bytes
                                   0x02, 0x01, 0x06, 0x03, 0x03, 0xaa, 0xfe});
    CHECK(fx.port.sent[6] == Bytes{0x01, 0x39, 0x20, 0x06, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00});
}

TEST_CASE("a central connecting ends advertising; it does not resume") {
    Fixture fx(false);
    fx.advertiser.advertise(request(100000, kAdv, kResp), {});
    // LE Connection Complete: success, handle 0x0040, role peripheral, public peer.
    Bytes params{0x00, 0x40, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                 0x18, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00};
    fx.advertiser.on_le_meta({le_ev::ConnectionComplete, Bytes{0x01}});  // truncated: ignored
    CHECK(fx.advertiser.advertising());
    fx.advertiser.on_le_meta({le_ev::ConnectionComplete, params});
    CHECK_FALSE(fx.advertiser.advertising());
    size_t sent = fx.port.sent.size();
    fx.advertiser.stop();  // nothing to stop
    CHECK(fx.port.sent.size() == sent);
}

TEST_CASE("our own connection as central does not end advertising") {
    Fixture fx(false);
    fx.advertiser.advertise(request(100000, kAdv, kResp), {});
    Bytes params{0x00, 0x40, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                 0x18, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00};
    fx.advertiser.on_le_meta({le_ev::ConnectionComplete, params});
    CHECK(fx.advertiser.advertising());
}
