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

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// The peers of the pairing tests, and their 7 bytes on the wire.
const DeviceAddress kRandomPeer{*Address::parse("C0:AA:01:01:00:01"), addr_type::LeRandom};
const Bytes kRandomPeerWire{
    0x01, 0x00, 0x01, 0x01, 0xaa, 0xc0,  // address, little-endian
    0x02,                                // LE Random
};
const DeviceAddress kPublicPeer{*Address::parse("00:AA:01:00:00:00"), addr_type::LePublic};
const Bytes kPublicPeerWire{
    0x00, 0x00, 0x00, 0x01, 0xaa, 0x00,  // address, little-endian
    0x01,                                // LE Public
};

// An SC authenticated LTK for kRandomPeer and its 36-byte mgmt_ltk_info.
LongTermKey sample_ltk() {
    LongTermKey k;
    k.peer = kRandomPeer;
    k.type = ltk_type::AuthenticatedP256;
    k.central = 0;
    k.enc_size = 16;
    k.ediv = 0x1234;
    for (size_t i = 0; i < k.rand.size(); ++i) k.rand[i] = static_cast<uint8_t>(0x01 + i);
    for (size_t i = 0; i < k.val.size(); ++i) k.val[i] = static_cast<uint8_t>(0x10 + i);
    return k;
}
Bytes sample_ltk_wire() {
    return concat({
        kRandomPeerWire,                                         // address, type
        {0x03},                                                  // key type: authenticated P-256
        {0x00},                                                  // central: no
        {0x10},                                                  // encryption size 16
        {0x34, 0x12},                                            // EDIV 0x1234
        {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08},        // Rand, as given
        {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,         // value, as given
         0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f},
    });
}

// An IRK for kPublicPeer and its 23-byte mgmt_irk_info.
IdentityResolvingKey sample_irk() {
    IdentityResolvingKey k;
    k.peer = kPublicPeer;
    for (size_t i = 0; i < k.val.size(); ++i) k.val[i] = static_cast<uint8_t>(0x30 + i);
    return k;
}
Bytes sample_irk_wire() {
    return concat({
        kPublicPeerWire,                                         // address, type
        {0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,         // value, as given
         0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f},
    });
}

// The decoder accepts `good` and refuses every shorter prefix and one more byte.
template <typename Decode>
void check_exact_length(Decode decode, const Bytes& good) {
    REQUIRE(decode(good));
    for (size_t n = 0; n < good.size(); ++n) {
        INFO("first " << n << " of " << good.size() << " bytes");
        CHECK_FALSE(decode(ByteView(good).first(n)));
    }
    Bytes longer = good;
    longer.push_back(0);
    CHECK_FALSE(decode(longer));
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

TEST_CASE("pairing settings commands encode byte-exact") {
    // code, index, length 1, value
    CHECK(encoded(set_bondable(0, true)) == Bytes{0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
    CHECK(encoded(set_bondable(1, false)) == Bytes{0x09, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00});
    CHECK(encoded(set_ssp(0, true)) == Bytes{0x0b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
    CHECK(encoded(set_ssp(2, false)) == Bytes{0x0b, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00});
    CHECK(encoded(set_secure_connections(0, secure_connections::On)) ==
          Bytes{0x2d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
    CHECK(encoded(set_secure_connections(1, secure_connections::Off)) ==
          Bytes{0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00});
    CHECK(encoded(set_secure_connections(0, secure_connections::Only)) ==
          Bytes{0x2d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02});
    CHECK(encoded(set_io_capability(0, io_capability::NoInputNoOutput)) ==
          Bytes{0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03});
    CHECK(encoded(set_io_capability(3, io_capability::KeyboardDisplay)) ==
          Bytes{0x18, 0x00, 0x03, 0x00, 0x01, 0x00, 0x04});
}

TEST_CASE("pairing commands carry the peer's address little-endian and its mgmt type") {
    CHECK(encoded(pair_device(0, kRandomPeer, io_capability::DisplayYesNo)) ==
          concat({
              {0x19, 0x00, 0x00, 0x00, 0x08, 0x00},  // Pair Device, hci0, length 8
              kRandomPeerWire,                       // address, type
              {0x01},                                // IO capability DisplayYesNo
          }));
    CHECK(encoded(cancel_pair_device(1, kPublicPeer)) ==
          concat({
              {0x1a, 0x00, 0x01, 0x00, 0x07, 0x00},  // Cancel Pair Device, hci1, length 7
              kPublicPeerWire,                       // address, type
          }));
    CHECK(encoded(unpair_device(0, kRandomPeer, true)) ==
          concat({
              {0x1b, 0x00, 0x00, 0x00, 0x08, 0x00},  // Unpair Device, hci0, length 8
              kRandomPeerWire,                       // address, type
              {0x01},                                // disconnect
          }));
    CHECK(encoded(unpair_device(0, kPublicPeer, false)) ==
          concat({
              {0x1b, 0x00, 0x00, 0x00, 0x08, 0x00},  // Unpair Device, hci0, length 8
              kPublicPeerWire,                       // address, type
              {0x00},                                // keep the links
          }));
    CHECK(encoded(user_confirm_reply(0, kRandomPeer)) ==
          concat({
              {0x1c, 0x00, 0x00, 0x00, 0x07, 0x00},  // User Confirmation Reply, hci0, length 7
              kRandomPeerWire,                       // address, type
          }));
    CHECK(encoded(user_confirm_negative_reply(2, kPublicPeer)) ==
          concat({
              {0x1d, 0x00, 0x02, 0x00, 0x07, 0x00},  // User Confirmation Negative Reply, hci2, length 7
              kPublicPeerWire,                       // address, type
          }));
    CHECK(encoded(user_passkey_reply(0, kRandomPeer, 123456)) ==
          concat({
              {0x1e, 0x00, 0x00, 0x00, 0x0b, 0x00},  // User Passkey Reply, hci0, length 11
              kRandomPeerWire,                       // address, type
              {0x40, 0xe2, 0x01, 0x00},              // passkey 123456 = 0x0001e240
          }));
    CHECK(encoded(user_passkey_negative_reply(0, kPublicPeer)) ==
          concat({
              {0x1f, 0x00, 0x00, 0x00, 0x07, 0x00},  // User Passkey Negative Reply, hci0, length 7
              kPublicPeerWire,                       // address, type
          }));
}

TEST_CASE("User Passkey Reply takes six digits at most") {
    CHECK(encoded(user_passkey_reply(0, kPublicPeer, 0)) ==
          concat({
              {0x1e, 0x00, 0x00, 0x00, 0x0b, 0x00},  // User Passkey Reply, hci0, length 11
              kPublicPeerWire,                       // address, type
              {0x00, 0x00, 0x00, 0x00},              // passkey 000000
          }));
    CHECK(encoded(user_passkey_reply(0, kPublicPeer, 999999)) ==
          concat({
              {0x1e, 0x00, 0x00, 0x00, 0x0b, 0x00},  // User Passkey Reply, hci0, length 11
              kPublicPeerWire,                       // address, type
              {0x3f, 0x42, 0x0f, 0x00},              // passkey 999999 = 0x000f423f
          }));
    CHECK_THROWS_AS(user_passkey_reply(0, kPublicPeer, 1000000), std::out_of_range);
    CHECK_THROWS_AS(user_passkey_reply(0, kPublicPeer, 0xffffffff), std::out_of_range);
}

TEST_CASE("Load Link Keys with no keys clears them") {
    CHECK(encoded(clear_link_keys(2)) == Bytes{
                                             0x12, 0x00,  // Load Link Keys
                                             0x02, 0x00,  // hci2
                                             0x03, 0x00,  // length 3
                                             0x00,        // debug keys off
                                             0x00, 0x00,  // no keys
                                         });
}

TEST_CASE("Load Long Term Keys carries a count and 36-byte entries") {
    CHECK(encoded(load_long_term_keys(0, {})) == Bytes{
                                                     0x13, 0x00,  // Load Long Term Keys
                                                     0x00, 0x00,  // hci0
                                                     0x02, 0x00,  // length 2
                                                     0x00, 0x00,  // no keys
                                                 });
    LongTermKey second = sample_ltk();
    second.peer = kPublicPeer;
    second.type = ltk_type::UnauthenticatedLegacy;
    second.central = 1;
    second.enc_size = 7;
    second.ediv = 0xbeef;
    second.rand.fill(0xa5);
    second.val.fill(0x5a);
    CHECK(encoded(load_long_term_keys(1, {sample_ltk(), second})) ==
          concat({
              {0x13, 0x00, 0x01, 0x00, 0x4a, 0x00},                   // Load LTKs, hci1, length 74 = 2 + 2 * 36
              {0x02, 0x00},                                           // two keys
              sample_ltk_wire(),                                      // the first
              kPublicPeerWire,                                        // second: address, type
              {0x00},                                                 // key type: unauthenticated legacy
              {0x01},                                                 // central: yes
              {0x07},                                                 // encryption size 7
              {0xef, 0xbe},                                           // EDIV 0xbeef
              Bytes(8, 0xa5),                                         // Rand
              Bytes(16, 0x5a),                                        // value
          }));
    CHECK(sample_ltk_wire().size() == kLtkInfoSize);
}

TEST_CASE("Load Identity Resolving Keys carries a count and 23-byte entries") {
    CHECK(encoded(load_identity_resolving_keys(2, {})) == Bytes{
                                                              0x30, 0x00,  // Load IRKs
                                                              0x02, 0x00,  // hci2
                                                              0x02, 0x00,  // length 2
                                                              0x00, 0x00,  // no keys: still asks peers for IRKs
                                                          });
    IdentityResolvingKey second = sample_irk();
    second.peer = kRandomPeer;
    second.val.fill(0xee);
    CHECK(encoded(load_identity_resolving_keys(0, {sample_irk(), second})) ==
          concat({
              {0x30, 0x00, 0x00, 0x00, 0x30, 0x00},  // Load IRKs, hci0, length 48 = 2 + 2 * 23
              {0x02, 0x00},                          // two keys
              sample_irk_wire(),                     // the first
              kRandomPeerWire,                       // second: address, type
              Bytes(16, 0xee),                       // value
          }));
    CHECK(sample_irk_wire().size() == kIrkInfoSize);
}

TEST_CASE("Load LTKs / IRKs refuse more keys than one command holds") {
    CHECK(kMaxLoadLtks == 1820);
    CHECK(kMaxLoadIrks == 2849);

    std::vector<LongTermKey> ltks(kMaxLoadLtks, sample_ltk());
    Frame full = load_long_term_keys(0, ltks);
    CHECK(full.params.size() == 2 + 1820 * 36);
    CHECK(full.params[0] == 0x1c);  // count 1820 = 0x071c
    CHECK(full.params[1] == 0x07);
    CHECK(encoded(full).size() == 6 + full.params.size());
    ltks.push_back(sample_ltk());
    CHECK_THROWS_AS(load_long_term_keys(0, ltks), std::length_error);
    CHECK_THROWS_WITH(load_long_term_keys(0, ltks),
                      "Load Long Term Keys: 1821 keys do not fit one mgmt command (at most 1820)");

    std::vector<IdentityResolvingKey> irks(kMaxLoadIrks, sample_irk());
    full = load_identity_resolving_keys(0, irks);
    CHECK(full.params.size() == 2 + 2849 * 23);
    CHECK(full.params[0] == 0x21);  // count 2849 = 0x0b21
    CHECK(full.params[1] == 0x0b);
    CHECK(encoded(full).size() == 6 + full.params.size());
    irks.push_back(sample_irk());
    CHECK_THROWS_AS(load_identity_resolving_keys(0, irks), std::length_error);
    CHECK_THROWS_WITH(load_identity_resolving_keys(0, irks),
                      "Load Identity Resolving Keys: 2850 keys do not fit one mgmt command (at most 2849)");
}

TEST_CASE("New Long Term Key event") {
    const Bytes params = concat({
        {0x01},             // store hint: keep
        sample_ltk_wire(),  // the key
    });
    auto e = decode_new_long_term_key(params);
    REQUIRE(e);
    CHECK(e->store_hint == 1);
    CHECK(e->key == sample_ltk());
    CHECK(e->key.peer.address.to_string() == "C0:AA:01:01:00:01");
    CHECK(e->key.peer.type == addr_type::LeRandom);
    CHECK(e->key.ediv == 0x1234);
    check_exact_length(decode_new_long_term_key, params);

    SECTION("unexpected values are kept for the caller to judge") {
        const Bytes odd = concat({
            {0x02},                                // store hint 2
            {0x11, 0x22, 0x33, 0x44, 0x55, 0x66},  // address, little-endian
            {0x07},                                // address type 7
            {0x09},                                // key type 9
            {0x02},                                // central 2
            {0x00},                                // encryption size 0
            {0xff, 0xff},                          // EDIV 0xffff
            Bytes(8, 0xff),                        // Rand
            Bytes(16, 0x00),                       // value
        });
        auto o = decode_new_long_term_key(odd);
        REQUIRE(o);
        CHECK(o->store_hint == 2);
        CHECK(o->key.peer.address.to_string() == "66:55:44:33:22:11");
        CHECK(o->key.peer.type == 7);
        CHECK(o->key.type == 9);
        CHECK(o->key.central == 2);
        CHECK(o->key.enc_size == 0);
        CHECK(o->key.ediv == 0xffff);
    }
}

TEST_CASE("New Identity Resolving Key event") {
    const Bytes params = concat({
        {0x01},                                // store hint: keep
        {0x22, 0x11, 0x00, 0xcc, 0xbb, 0x4a},  // the RPA 4A:BB:CC:00:11:22, little-endian
        sample_irk_wire(),                     // the key: identity address, type, value
    });
    auto e = decode_new_identity_resolving_key(params);
    REQUIRE(e);
    CHECK(e->store_hint == 1);
    CHECK(e->random_address.to_string() == "4A:BB:CC:00:11:22");
    CHECK(e->key == sample_irk());
    check_exact_length(decode_new_identity_resolving_key, params);

    const Bytes no_rpa = concat({
        {0x00},                                // store hint: do not keep
        Bytes(6, 0x00),                        // no RPA
        sample_irk_wire(),                     // the key
    });
    e = decode_new_identity_resolving_key(no_rpa);
    REQUIRE(e);
    CHECK(e->store_hint == 0);
    CHECK(e->random_address.is_zero());
}

TEST_CASE("Device Connected event: the fixed fields, EIR length checked") {
    const Bytes params = concat({
        kRandomPeerWire,                // address, type
        {0x08, 0x00, 0x00, 0x00},       // flags: initiated connection (bit 3)
        {0x00, 0x00},                   // no EIR data
    });
    auto e = decode_device_connected(params);
    REQUIRE(e);
    CHECK(e->peer == kRandomPeer);
    CHECK(e->flags == 0x08u);
    check_exact_length(decode_device_connected, params);

    const Bytes with_eir = concat({
        kPublicPeerWire,                // address, type
        {0x02, 0x00, 0x00, 0x00},       // flags: legacy pairing (bit 1)
        {0x05, 0x00},                   // EIR length 5
        {0x04, 0x09, 'a', 'b', 'c'},    // EIR: complete name "abc"
    });
    e = decode_device_connected(with_eir);
    REQUIRE(e);
    CHECK(e->peer == kPublicPeer);
    CHECK(e->flags == 0x02u);
    check_exact_length(decode_device_connected, with_eir);

    Bytes eir_too_long = with_eir;
    eir_too_long[11] = 0x06;  // says 6 bytes, 5 follow
    CHECK_FALSE(decode_device_connected(eir_too_long));
    Bytes eir_too_short = with_eir;
    eir_too_short[11] = 0x04;  // says 4 bytes, 5 follow
    CHECK_FALSE(decode_device_connected(eir_too_short));
}

TEST_CASE("User Confirmation Request event") {
    const Bytes params = concat({
        kPublicPeerWire,                // address, type
        {0x00},                         // confirm hint: compare the value
        {0x23, 0x12, 0x01, 0x00},       // value 70179 = 0x00011223
    });
    auto e = decode_user_confirm_request(params);
    REQUIRE(e);
    CHECK(e->peer == kPublicPeer);
    CHECK(e->confirm_hint == 0);
    CHECK(e->value == 70179u);
    check_exact_length(decode_user_confirm_request, params);

    const Bytes just_works = concat({
        kRandomPeerWire,                // address, type
        {0x01},                         // confirm hint: yes/no only
        {0x00, 0x00, 0x00, 0x00},       // value 0
    });
    e = decode_user_confirm_request(just_works);
    REQUIRE(e);
    CHECK(e->peer == kRandomPeer);
    CHECK(e->confirm_hint == 1);
    CHECK(e->value == 0u);
}

TEST_CASE("events and replies made of an address and its type") {
    // User Passkey Request, Device Unpaired, the reply of Pair Device, ...
    auto a = decode_device_address(kRandomPeerWire);
    REQUIRE(a);
    CHECK(*a == kRandomPeer);
    check_exact_length(decode_device_address, kRandomPeerWire);

    const Bytes bredr{
        0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // address, little-endian
        0x00,                                // BR/EDR: decoded, the caller decides
    };
    a = decode_device_address(bredr);
    REQUIRE(a);
    CHECK(a->address.to_string() == "01:02:03:04:05:06");
    CHECK(a->type == addr_type::BrEdr);

    SECTION("a Pair Device reply inside Command Complete") {
        const Bytes cc = concat({
            {0x19, 0x00},     // opcode Pair Device
            {0x05},           // status Authentication Failed
            kPublicPeerWire,  // address, type
        });
        auto c = decode_command_complete(cc);
        REQUIRE(c);
        CHECK(c->opcode == op::PairDevice);
        CHECK(c->status == status::AuthenticationFailed);
        CHECK(decode_device_address(c->reply) == kPublicPeer);
    }
}

TEST_CASE("Authentication Failed event") {
    const Bytes params = concat({
        kRandomPeerWire,  // address, type
        {0x05},           // status Authentication Failed
    });
    auto e = decode_authentication_failed(params);
    REQUIRE(e);
    CHECK(e->peer == kRandomPeer);
    CHECK(e->status == status::AuthenticationFailed);
    check_exact_length(decode_authentication_failed, params);
}

TEST_CASE("Passkey Notify event") {
    const Bytes params = concat({
        kPublicPeerWire,           // address, type
        {0x63, 0xb0, 0x00, 0x00},  // passkey 045155 = 0x0000b063
        {0x02},                    // two digits entered
    });
    auto e = decode_passkey_notify(params);
    REQUIRE(e);
    CHECK(e->peer == kPublicPeer);
    CHECK(e->passkey == 45155u);
    CHECK(e->entered == 2);
    check_exact_length(decode_passkey_notify, params);
}

TEST_CASE("every opcode has a name") {
    CHECK(std::string(opcode_name(op::SetBondable)) == "Set Bondable");
    CHECK(std::string(opcode_name(op::SetSsp)) == "Set Secure Simple Pairing");
    CHECK(std::string(opcode_name(op::LoadLongTermKeys)) == "Load Long Term Keys");
    CHECK(std::string(opcode_name(op::SetIoCapability)) == "Set IO Capability");
    CHECK(std::string(opcode_name(op::PairDevice)) == "Pair Device");
    CHECK(std::string(opcode_name(op::CancelPairDevice)) == "Cancel Pair Device");
    CHECK(std::string(opcode_name(op::UnpairDevice)) == "Unpair Device");
    CHECK(std::string(opcode_name(op::UserConfirmReply)) == "User Confirmation Reply");
    CHECK(std::string(opcode_name(op::UserConfirmNegReply)) == "User Confirmation Negative Reply");
    CHECK(std::string(opcode_name(op::UserPasskeyReply)) == "User Passkey Reply");
    CHECK(std::string(opcode_name(op::UserPasskeyNegReply)) == "User Passkey Negative Reply");
    CHECK(std::string(opcode_name(op::SetSecureConnections)) == "Set Secure Connections");
    CHECK(std::string(opcode_name(op::LoadIdentityResolvingKeys)) == "Load Identity Resolving Keys");
    for (uint16_t code : {op::ReadIndexList, op::ReadInfo, op::SetPowered, op::SetBondable, op::SetSsp,
                          op::SetLowEnergy, op::SetLocalName, op::LoadLongTermKeys, op::SetIoCapability,
                          op::PairDevice, op::CancelPairDevice, op::UnpairDevice, op::UserConfirmReply,
                          op::UserConfirmNegReply, op::UserPasskeyReply, op::UserPasskeyNegReply, op::SetBrEdr,
                          op::SetStaticAddress, op::SetSecureConnections, op::SetPrivacy,
                          op::LoadIdentityResolvingKeys}) {
        CHECK(std::string(opcode_name(code)) != "Unknown Command");
    }
    CHECK(std::string(opcode_name(0x0100)) == "Unknown Command");
    CHECK(std::string(status_name(status::AlreadyPaired)) == "Already Paired");
    CHECK(std::string(status_name(status::Cancelled)) == "Cancelled");
}
