// The bond value and its file format (lib/sm/bond.hpp): CRC-32, exact text,
// round trips, the range of every field, and that any truncation or single
// byte change of a valid file is rejected.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "error_of.hpp"
#include "sm/bond.hpp"

using namespace ubt;
using namespace ubt::sm;
using Catch::Matchers::Contains;
using test::error_of;

namespace {

Ltk ltk_of(LtkType type, bool central, uint8_t enc_size, uint16_t ediv, uint8_t seed) {
    Ltk k;
    k.type = type;
    k.central = central;
    k.enc_size = enc_size;
    k.ediv = ediv;
    for (size_t i = 0; i < k.rand.size(); ++i) k.rand[i] = static_cast<uint8_t>(seed + i);
    for (size_t i = 0; i < k.val.size(); ++i) k.val[i] = static_cast<uint8_t>(seed * 7 + i * 0x11);
    return k;
}

// The bond of the exact-text test below.
Bond legacy_bond() {
    Bond b;
    b.peer = {1, *Address::parse("C0:AA:01:01:00:01")};
    Ltk central;
    central.type = LtkType::AuthenticatedLegacy;
    central.central = true;
    central.enc_size = 16;
    central.ediv = 0x1234;
    central.rand = {1, 2, 3, 4, 5, 6, 7, 8};
    central.val = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    Ltk peripheral;
    peripheral.type = LtkType::AuthenticatedLegacy;
    peripheral.central = false;
    peripheral.enc_size = 7;
    peripheral.val = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};
    b.ltks = {central, peripheral};
    b.irk = IrkValue{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    return b;
}

const std::string kLegacyText =
    "ubluetoothd bond 1\n"
    "peer random C0:AA:01:01:00:01\n"
    "ltk type=1 central=1 enc_size=16 ediv=4660 rand=0102030405060708 val=00112233445566778899AABBCCDDEEFF\n"
    "ltk type=1 central=0 enc_size=7 ediv=0 rand=0000000000000000 val=FFEEDDCCBBAA99887766554433221100\n"
    "irk 0F0E0D0C0B0A09080706050403020100\n"
    "crc32 B8AD035D\n";  // zlib.crc32 of the lines above

std::vector<Bond> sample_bonds() {
    std::vector<Bond> bonds{legacy_bond()};
    Bond sc;  // LE Secure Connections: one key for both roles, ediv and rand zero
    sc.peer = {0, *Address::parse("00:AA:01:01:00:42")};
    sc.ltks = {ltk_of(LtkType::AuthenticatedP256, false, 16, 0, 0)};
    sc.ltks[0].rand = {};
    bonds.push_back(sc);
    Bond irk_only;
    irk_only.peer = {1, *Address::parse("FF:FF:FF:FF:FF:FF")};
    irk_only.irk = IrkValue{};
    bonds.push_back(irk_only);
    Bond extremes;
    extremes.peer = {0, *Address::parse("FF:00:00:00:00:01")};
    extremes.ltks = {ltk_of(LtkType::DebugP256, true, 7, 0xffff, 0xf0), ltk_of(LtkType::UnauthenticatedLegacy, false, 16, 1, 3)};
    bonds.push_back(extremes);
    return bonds;
}

// A file with the given lines (each without '\n') and a correct crc32 line.
std::string with_crc(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) text += line + "\n";
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08X", static_cast<unsigned>(crc32(text)));
    return text + "crc32 " + crc + "\n";
}

const std::string kHeader = "ubluetoothd bond 1";
const std::string kPeer = "peer public 00:AA:01:01:00:42";
const std::string kLtk = "ltk type=3 central=0 enc_size=16 ediv=0 rand=0000000000000000 val=00112233445566778899AABBCCDDEEFF";
const std::string kIrk = "irk 00112233445566778899AABBCCDDEEFF";

std::string decode_error(const std::string& text) {
    try {
        decode(text);
    } catch (const BleError& e) {
        CHECK(e.code() == ErrorCode::InvalidArgs);
        return e.what();
    }
    FAIL("decode accepted: " << text);
    return {};
}

}  // namespace

TEST_CASE("crc32 gives the standard check value", "[bond]") {
    CHECK(crc32("123456789") == 0xCBF43926u);
    CHECK(crc32("") == 0u);
    CHECK(crc32("a") == 0xE8B7BE43u);
}

TEST_CASE("a bond is encoded as the documented text", "[bond]") {
    CHECK(encode(legacy_bond()) == kLegacyText);
    CHECK(decode(kLegacyText) == legacy_bond());
}

TEST_CASE("every sample bond survives encode and decode", "[bond]") {
    for (const auto& bond : sample_bonds()) {
        std::string text = encode(bond);
        CAPTURE(text);
        CHECK(decode(text) == bond);
        CHECK(encode(decode(text)) == text);
    }
}

TEST_CASE("the lines between header and crc32 may come in any order", "[bond]") {
    Bond b = decode(with_crc({kHeader, kIrk, kLtk, kPeer}));
    CHECK(b.peer == LeAddress{0, *Address::parse("00:AA:01:01:00:42")});
    REQUIRE(b.ltks.size() == 1);
    CHECK(b.ltks[0].type == LtkType::AuthenticatedP256);
    CHECK(b.ltks[0].val[15] == 0xff);
    REQUIRE(b.irk);
    CHECK((*b.irk)[1] == 0x11);
}

TEST_CASE("authenticated(), key_size() and put_ltk()", "[bond]") {
    Bond b;
    b.peer = {0, *Address::parse("00:AA:01:01:00:42")};
    CHECK_FALSE(b.authenticated());
    CHECK(b.key_size() == 0);
    b.put_ltk(ltk_of(LtkType::UnauthenticatedLegacy, true, 10, 1, 1));
    CHECK_FALSE(b.authenticated());
    CHECK(b.key_size() == 10);
    b.put_ltk(ltk_of(LtkType::AuthenticatedLegacy, false, 12, 2, 2));
    CHECK(b.authenticated());
    CHECK(b.key_size() == 12);
    b.put_ltk(ltk_of(LtkType::UnauthenticatedP256, false, 16, 0, 3));  // replaces the central=false key
    REQUIRE(b.ltks.size() == 2);
    CHECK(b.ltks[1].type == LtkType::UnauthenticatedP256);
    CHECK_FALSE(b.authenticated());
    CHECK(b.key_size() == 16);
    b.put_ltk(ltk_of(LtkType::AuthenticatedP256, true, 16, 0, 4));
    CHECK(b.authenticated());
    CHECK(b.ltks.size() == 2);
    b.ltks = {ltk_of(LtkType::DebugP256, false, 16, 0, 5)};
    CHECK_FALSE(b.authenticated());
}

TEST_CASE("mgmt address types of a peer", "[bond]") {
    CHECK(mgmt_address_type({0, {}}) == kMgmtAddrLePublic);
    CHECK(mgmt_address_type({1, {}}) == kMgmtAddrLeRandom);
}

TEST_CASE("encode refuses a bond the kernel would refuse or a file could not hold", "[bond]") {
    auto refused = [](Bond b) { return error_of([&] { encode(b); }); };
    Bond good = legacy_bond();
    CHECK_NOTHROW(validate(good));

    Bond b = good;
    b.peer.address = {};
    CHECK(refused(b) == ErrorCode::InvalidArgs);  // zero address
    b = good;
    b.peer.address = *Address::parse("40:AA:01:01:00:01");  // resolvable private, not an identity
    CHECK(refused(b) == ErrorCode::InvalidArgs);
    b.peer.type = 0;  // the same bytes as a public address are fine
    CHECK_NOTHROW(encode(b));
    b = good;
    b.peer.type = 2;
    CHECK(refused(b) == ErrorCode::InvalidArgs);
    b = good;
    b.ltks[0].enc_size = 6;
    CHECK(refused(b) == ErrorCode::InvalidArgs);
    b.ltks[0].enc_size = 17;
    CHECK(refused(b) == ErrorCode::InvalidArgs);
    b = good;
    b.ltks[1].type = static_cast<LtkType>(5);
    CHECK(refused(b) == ErrorCode::InvalidArgs);
    b = good;
    b.ltks[1].central = true;
    CHECK(refused(b) == ErrorCode::InvalidArgs);  // two keys for one role
    b = good;
    b.ltks.push_back(b.ltks[0]);
    CHECK(refused(b) == ErrorCode::InvalidArgs);
    b = good;
    b.ltks.clear();
    b.irk.reset();
    CHECK(refused(b) == ErrorCode::InvalidArgs);  // no keys
}

TEST_CASE("every field is checked, and the message names the line and the field", "[bond]") {
    struct Case {
        std::vector<std::string> lines;
        std::string message;
    };
    const std::string ltk_head = "ltk type=3 central=0 enc_size=16 ediv=0 rand=0000000000000000 val=";
    const std::string val = "00112233445566778899AABBCCDDEEFF";
    const std::vector<Case> cases{
        {{"ubluetoothd bond 2", kPeer, kLtk}, "line 1: version '2' is not supported"},
        {{"ubluetoothd bonds 1", kPeer, kLtk}, "line 1: not a ubluetoothd bond file"},
        {{kHeader, kLtk}, "no peer line"},
        {{kHeader, kPeer}, "neither an ltk nor an irk"},
        {{kHeader, kPeer, kPeer, kLtk}, "line 3: a second peer line"},
        {{kHeader, kPeer, kIrk, kLtk, kIrk}, "line 5: a second irk line"},
        {{kHeader, kPeer, kLtk, kLtk}, "line 4: a second ltk with central=0"},
        {{kHeader, kPeer, kLtk, "name foo"}, "line 4: unknown key 'name'"},
        {{kHeader, kPeer, kLtk, "crc32 00000000"}, "line 4: crc32 must be the last line"},
        {{kHeader, kPeer, "", kLtk}, "line 3: empty line"},
        {{kHeader, "peer", kLtk}, "line 2: 'peer' has no value"},
        {{kHeader, "peer public", kLtk}, "line 2: peer: expected"},
        {{kHeader, "peer static C0:AA:01:01:00:42", kLtk}, "line 2: peer: type 'static'"},
        {{kHeader, "peer public 00:aa:01:01:00:42", kLtk}, "line 2: peer: address '00:aa:01:01:00:42'"},
        {{kHeader, "peer public 00:AA:01:01:00:4", kLtk}, "line 2: peer: address"},
        {{kHeader, "peer public 00:AA:01:01:00:42 ", kLtk}, "line 2: peer: address"},
        {{kHeader, "peer public 00:00:00:00:00:00", kLtk}, "line 2: peer: the zero address"},
        {{kHeader, "peer random 7F:AA:01:01:00:42", kLtk}, "line 2: peer: random address 7F:AA:01:01:00:42 is not static"},
        {{kHeader, kPeer, "ltk type=5 central=0 enc_size=16 ediv=0 rand=0000000000000000 val=" + val}, "line 3: ltk type"},
        {{kHeader, kPeer, "ltk type=03 central=0 enc_size=16 ediv=0 rand=0000000000000000 val=" + val}, "line 3: ltk type"},
        {{kHeader, kPeer, "ltk type=3 central=2 enc_size=16 ediv=0 rand=0000000000000000 val=" + val}, "line 3: ltk central"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=6 ediv=0 rand=0000000000000000 val=" + val}, "line 3: ltk enc_size: '6'"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=17 ediv=0 rand=0000000000000000 val=" + val}, "line 3: ltk enc_size: '17'"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=16 ediv=65536 rand=0000000000000000 val=" + val}, "line 3: ltk ediv"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=16 ediv=-1 rand=0000000000000000 val=" + val}, "line 3: ltk ediv"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=16 ediv= rand=0000000000000000 val=" + val}, "line 3: ltk ediv"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=16 ediv=0 rand=00000000000000 val=" + val}, "line 3: ltk rand"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=16 ediv=0 rand=000000000000000g val=" + val}, "line 3: ltk rand"},
        {{kHeader, kPeer, ltk_head + "00112233445566778899aabbccddeeff"}, "line 3: ltk val"},
        {{kHeader, kPeer, ltk_head + val + "00"}, "line 3: ltk val"},
        {{kHeader, kPeer, ltk_head + val + " x=1"}, "line 3: ltk: more than 6 fields"},
        {{kHeader, kPeer, "ltk central=0 type=3 enc_size=16 ediv=0 rand=0000000000000000 val=" + val}, "line 3: ltk: expected type="},
        {{kHeader, kPeer, "ltk type=3  central=0 enc_size=16 ediv=0 rand=0000000000000000 val=" + val}, "line 3: ltk: expected central="},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=16 ediv=0 rand=0000000000000000"}, "line 3: ltk: 5 fields, expected 6"},
        {{kHeader, kPeer, "ltk type=3 central=0 enc_size=16 ediv=0 rand=0000000000000000 val"}, "line 3: ltk: expected val="},
        {{kHeader, kPeer, "irk 00112233445566778899AABBCCDDEE"}, "line 3: irk"},
        {{kHeader, kPeer, "irk 00112233445566778899AABBCCDDEEF_"}, "line 3: irk"},
    };
    for (const auto& c : cases) {
        std::string text = with_crc(c.lines);
        CAPTURE(text);
        CHECK_THAT(decode_error(text), Contains("bond file") && Contains(c.message));
    }
    // The same lines with the wrong checksum are reported as corrupted.
    CHECK_THAT(decode_error(kHeader + "\n" + kPeer + "\n" + kLtk + "\ncrc32 00000000\n"),
               Contains("line 4: crc32 00000000 does not match") && Contains("corrupted"));
    CHECK_THAT(decode_error(kHeader + "\n" + kPeer + "\n" + kLtk + "\ncrc32 0000000\n"),
               Contains("line 4: crc32 is not 8 upper-case hex digits"));
}

TEST_CASE("the extremes of every range are accepted", "[bond]") {
    for (const char* fields : {"type=0 central=0 enc_size=7 ediv=0", "type=4 central=1 enc_size=16 ediv=65535",
                                      "type=2 central=1 enc_size=10 ediv=10"}) {
        std::string line = std::string("ltk ") + fields + " rand=FFFFFFFFFFFFFFFF val=00000000000000000000000000000000";
        CAPTURE(line);
        CHECK_NOTHROW(decode(with_crc({kHeader, "peer random C0:00:00:00:00:00", line})));
    }
}

TEST_CASE("an empty, oversized, unterminated or extended file is rejected", "[bond]") {
    CHECK_THAT(decode_error(""), Contains("empty"));
    CHECK_THAT(decode_error(std::string(kMaxBondFileSize + 1, 'a')), Contains("more than 4096"));
    CHECK_THAT(decode_error(kLegacyText + "peer public 00:AA:01:01:00:42\n"), Contains("line 7: the last line is not the crc32"));
    CHECK_THAT(decode_error(kLegacyText + "x"), Contains("line 7: no newline"));
    CHECK_THAT(decode_error(kLegacyText + "\n"), Contains("line 7"));
}

TEST_CASE("a valid file cut at any byte is rejected", "[bond]") {
    for (const auto& bond : sample_bonds()) {
        const std::string text = encode(bond);
        for (size_t length = 0; length < text.size(); ++length) {
            CAPTURE(length);
            CHECK(error_of([&] { decode(std::string_view(text).substr(0, length)); }) == ErrorCode::InvalidArgs);
        }
    }
}

TEST_CASE("any change of one byte of a valid file is rejected", "[bond]") {
    size_t changes = 0, rejected = 0;
    for (const auto& bond : sample_bonds()) {
        const std::string text = encode(bond);
        std::string changed = text;
        for (size_t at = 0; at < text.size(); ++at) {
            for (int value = 0; value < 256; ++value) {
                if (static_cast<char>(value) == text[at]) continue;
                changed[at] = static_cast<char>(value);
                ++changes;
                try {
                    decode(changed);
                    FAIL("accepted byte " << value << " at " << at << " of\n" << text);
                } catch (const BleError& e) {
                    if (e.code() == ErrorCode::InvalidArgs) ++rejected;
                }
            }
            changed[at] = text[at];
        }
    }
    CHECK(changes > 100000);
    CHECK(rejected == changes);
}
