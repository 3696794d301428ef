// Byte-exact tests of the mgmt codec against the frame layouts of BlueZ's
// mgmt API document. Header: code (2), index (2), parameter length (2), LE.
#include <catch2/catch.hpp>

#include "mgmt/mgmt_codec.hpp"

using namespace ubt;
using namespace ubt::mgmt;

namespace {
Bytes encoded(const Frame& f) { return encode_frame(f); }

// Read Controller Information reply for 00:AA:01:01:00:42, name "ctl".
Bytes controller_info_reply() {
    Bytes r{
        0x42, 0x00, 0x01, 0x01, 0xaa, 0x00,  // address, little-endian
        0x09,                                // Bluetooth version 5.0
        0x3f, 0x00,                          // manufacturer 0x003f
        0xff, 0xfe, 0x01, 0x00,              // supported settings 0x0001feff
        0x80, 0x00, 0x00, 0x00,              // current settings: BR/EDR only
        0x00, 0x01, 0x02,                    // class of device
    };
    Bytes name(kNameSize, 0);
    name[0] = 'c', name[1] = 't', name[2] = 'l';
    Bytes short_name(kShortNameSize, 0);
    short_name[0] = 'c';
    r.insert(r.end(), name.begin(), name.end());
    r.insert(r.end(), short_name.begin(), short_name.end());
    return r;
}
}  // namespace

TEST_CASE("mgmt commands encode byte-exact") {
    CHECK(encoded(read_index_list()) == Bytes{0x03, 0x00, 0xff, 0xff, 0x00, 0x00});
    CHECK(encoded(read_info(1)) == Bytes{0x04, 0x00, 0x01, 0x00, 0x00, 0x00});
    CHECK(encoded(set_powered(0, true)) == Bytes{0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
    CHECK(encoded(set_powered(2, false)) == Bytes{0x05, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00});
    CHECK(encoded(set_low_energy(0, true)) == Bytes{0x0d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
    CHECK(encoded(set_bredr(1, false)) == Bytes{0x2a, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00});
    CHECK(encoded(set_static_address(0, *Address::parse("C0:11:22:33:44:55"))) ==
          Bytes{0x2b, 0x00, 0x00, 0x00, 0x06, 0x00, 0x55, 0x44, 0x33, 0x22, 0x11, 0xc0});
}

TEST_CASE("Set Local Name carries a 249-byte name and an 11-byte short name") {
    Bytes b = encoded(set_local_name(0, "pi", "p"));
    REQUIRE(b.size() == 6 + 249 + 11);
    CHECK(Bytes(b.begin(), b.begin() + 6) == Bytes{0x0f, 0x00, 0x00, 0x00, 0x04, 0x01});  // length 260
    CHECK(b[6] == 'p');
    CHECK(b[7] == 'i');
    CHECK(b[8] == 0);
    CHECK(b[6 + 249] == 'p');
    CHECK(b[6 + 250] == 0);
    CHECK_THROWS_AS(set_local_name(0, std::string(249, 'x'), ""), std::length_error);
    CHECK_NOTHROW(set_local_name(0, std::string(248, 'x'), ""));
    CHECK_THROWS_AS(set_local_name(0, "ok", std::string(11, 'x')), std::length_error);
}

TEST_CASE("Set Privacy carries the mode and a 16-byte IRK") {
    std::array<uint8_t, 16> irk{};
    for (size_t i = 0; i < irk.size(); ++i) irk[i] = static_cast<uint8_t>(i);
    Bytes b = encoded(set_privacy(0, 1, irk));
    REQUIRE(b.size() == 6 + 1 + 16);
    CHECK(Bytes(b.begin(), b.begin() + 7) == Bytes{0x2f, 0x00, 0x00, 0x00, 0x11, 0x00, 0x01});  // length 17, on
    CHECK(Bytes(b.begin() + 7, b.end()) == Bytes(irk.begin(), irk.end()));
}

TEST_CASE("decode_frame takes exactly one frame") {
    const Bytes index_added{0x04, 0x00, 0x01, 0x00, 0x00, 0x00};
    auto f = decode_frame(index_added);
    REQUIRE(f);
    CHECK(f->code == ev::IndexAdded);
    CHECK(f->index == 1);
    CHECK(f->params.empty());

    const Bytes new_settings{0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x81, 0x02, 0x00, 0x00};
    f = decode_frame(new_settings);
    REQUIRE(f);
    CHECK(decode_settings(f->params) == 0x281u);

    SECTION("every truncation is rejected") {
        for (size_t n = 0; n < new_settings.size(); ++n) {
            CHECK_FALSE(decode_frame(ByteView(new_settings).first(n)));
        }
    }
    SECTION("trailing bytes are rejected") {
        Bytes longer = new_settings;
        longer.push_back(0);
        CHECK_FALSE(decode_frame(longer));
    }
}

TEST_CASE("Command Complete and Command Status decode") {
    const Bytes cc{0x05, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};  // Set Powered, success, settings 1
    auto c = decode_command_complete(cc);
    REQUIRE(c);
    CHECK(c->opcode == op::SetPowered);
    CHECK(c->status == status::Success);
    CHECK(c->reply == Bytes{0x01, 0x00, 0x00, 0x00});
    CHECK_FALSE(decode_command_complete(Bytes{0x05, 0x00}));

    const Bytes cs{0x2b, 0x00, 0x0b};  // Set Static Address, Rejected
    auto s = decode_command_status(cs);
    REQUIRE(s);
    CHECK(s->opcode == op::SetStaticAddress);
    CHECK(s->status == 0x0b);
    CHECK_FALSE(decode_command_status(Bytes{0x2b, 0x00}));
    CHECK_FALSE(decode_command_status(Bytes{0x2b, 0x00, 0x0b, 0x00}));
}

TEST_CASE("settings replies are exactly four bytes") {
    CHECK(decode_settings(Bytes{0x01, 0x02, 0x00, 0x00}) == 0x201u);
    CHECK_FALSE(decode_settings(Bytes{0x01, 0x02, 0x00}));
    CHECK_FALSE(decode_settings(Bytes{0x01, 0x02, 0x00, 0x00, 0x00}));
}

TEST_CASE("Read Index List reply holds exactly the announced count") {
    auto l = decode_index_list(Bytes{0x02, 0x00, 0x00, 0x00, 0x01, 0x00});
    REQUIRE(l);
    CHECK(*l == std::vector<uint16_t>{0, 1});
    CHECK(decode_index_list(Bytes{0x00, 0x00})->empty());
    CHECK_FALSE(decode_index_list(Bytes{0x02, 0x00, 0x00, 0x00}));              // one missing
    CHECK_FALSE(decode_index_list(Bytes{0x01, 0x00, 0x00, 0x00, 0x01, 0x00}));  // one extra
    CHECK_FALSE(decode_index_list(Bytes{0xff, 0xff}));                          // huge count, no data
}

TEST_CASE("Read Controller Information reply") {
    Bytes reply = controller_info_reply();
    REQUIRE(reply.size() == 280);
    auto info = decode_controller_info(reply);
    REQUIRE(info);
    CHECK(info->address.to_string() == "00:AA:01:01:00:42");
    CHECK(info->bluetooth_version == 9);
    CHECK(info->manufacturer == 0x3f);
    CHECK(info->supported_settings == 0x0001feffu);
    CHECK(info->current_settings == 0x80u);
    CHECK(info->class_of_device == std::array<uint8_t, 3>{0x00, 0x01, 0x02});
    CHECK(info->name == "ctl");
    CHECK(info->short_name == "c");

    for (size_t n = 0; n < reply.size(); ++n) CHECK_FALSE(decode_controller_info(ByteView(reply).first(n)));
    reply.push_back(0);
    CHECK_FALSE(decode_controller_info(reply));
}

TEST_CASE("Local Name Changed event") {
    Bytes params(kNameSize + kShortNameSize, 0);
    params[0] = 'n';
    auto n = decode_local_name(params);
    REQUIRE(n);
    CHECK(n->name == "n");
    CHECK(n->short_name.empty());
    params.pop_back();
    CHECK_FALSE(decode_local_name(params));
}
