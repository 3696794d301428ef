// The adapter's own identity and its file format (lib/sm/local_identity.hpp):
// exact text, round trips, the static address rule, every field checked, and
// any truncation or single byte change of a valid file rejected.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "error_of.hpp"
#include "sm/local_identity.hpp"

using namespace ubt;
using namespace ubt::sm;
using Catch::Matchers::Contains;
using test::error_of;

namespace {

LocalIdentity sample() {
    return {*Address::parse("C0:AA:01:00:00:01"), IrkValue{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
}

const std::string kSampleText =
    "ubluetoothd identity 1\n"
    "static C0:AA:01:00:00:01\n"
    "irk 000102030405060708090A0B0C0D0E0F\n"
    "crc32 A38EDE66\n";  // zlib.crc32 of the lines above

const std::string kHeader = "ubluetoothd identity 1";
const std::string kStatic = "static C0:AA:01:00:00:01";
const std::string kIrk = "irk 000102030405060708090A0B0C0D0E0F";

// The lines, each ending in '\n', and a correct crc32 line.
std::string with_crc(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08X", static_cast<unsigned>(crc32(text)));
    return text + "crc32 " + crc + "\n";
}

std::string decode_error(std::string_view text) {
    try {
        decode_identity(text);
    } catch (const BleError& e) {
        CHECK(e.code() == ErrorCode::InvalidArgs);
        return e.what();
    }
    FAIL("accepted:\n" << text);
    return {};
}

}  // namespace

TEST_CASE("an identity is encoded as the documented text and decoded back", "[identity]") {
    CHECK(encode(sample()) == kSampleText);
    CHECK(decode_identity(kSampleText) == sample());
    // static and irk in the other order.
    CHECK(decode_identity(with_crc({kHeader, kIrk, kStatic})) == sample());
    LocalIdentity extremes{*Address::parse("FF:FF:FF:FF:FF:FE"), {}};
    extremes.irk.fill(0xff);
    CHECK(decode_identity(encode(extremes)) == extremes);
    extremes.static_address = *Address::parse("C0:00:00:00:00:01");
    CHECK(decode_identity(encode(extremes)) == extremes);
}

TEST_CASE("only a static random address is an identity's static address", "[identity]") {
    for (const char* bad : {"00:AA:01:00:00:01", "40:AA:01:00:00:01", "80:AA:01:00:00:01", "C0:00:00:00:00:00",
                            "FF:FF:FF:FF:FF:FF"}) {
        CAPTURE(bad);
        LocalIdentity id = sample();
        id.static_address = *Address::parse(bad);
        CHECK(error_of([&] { validate(id); }) == ErrorCode::InvalidArgs);
        CHECK(error_of([&] { encode(id); }) == ErrorCode::InvalidArgs);
        CHECK_THAT(decode_error(with_crc({kHeader, std::string("static ") + bad, kIrk})),
                   Contains("line 2: static:") && Contains("not a static random address"));
    }
    CHECK_THAT(decode_error(with_crc({kHeader, "static C0:00:00:00:00:00", kIrk})), Contains("all zero"));
    CHECK_THAT(decode_error(with_crc({kHeader, "static FF:FF:FF:FF:FF:FF", kIrk})), Contains("all one"));
}

TEST_CASE("every field of an identity file is checked, and the message names the line", "[identity]") {
    struct Case {
        std::vector<std::string> lines;
        std::string message;
    };
    const std::vector<Case> cases{
        {{"ubluetoothd identity 2", kStatic, kIrk}, "line 1: version '2' is not supported"},
        {{"ubluetoothd bond 1", kStatic, kIrk}, "line 1: not a ubluetoothd identity file"},
        {{kHeader, kIrk}, "no static line"},
        {{kHeader, kStatic}, "no irk line"},
        {{kHeader, kStatic, kStatic, kIrk}, "line 3: a second static line"},
        {{kHeader, kStatic, kIrk, kIrk}, "line 4: a second irk line"},
        {{kHeader, kStatic, kIrk, "name foo"}, "line 4: unknown key 'name'"},
        {{kHeader, kStatic, kIrk, "crc32 00000000"}, "line 4: crc32 must be the last line"},
        {{kHeader, kStatic, "", kIrk}, "line 3: empty line"},
        {{kHeader, "static", kIrk}, "line 2: 'static' has no value"},
        {{kHeader, "static c0:aa:01:00:00:01", kIrk}, "line 2: static: address 'c0:aa:01:00:00:01'"},
        {{kHeader, "static C0:AA:01:00:00:0", kIrk}, "line 2: static: address"},
        {{kHeader, "static C0:AA:01:00:00:01 ", kIrk}, "line 2: static: address"},
        {{kHeader, "static  C0:AA:01:00:00:01", kIrk}, "line 2: static: address"},
        {{kHeader, kStatic, "irk 000102030405060708090a0b0c0d0e0f"}, "line 3: irk: not 32"},
        {{kHeader, kStatic, "irk 000102030405060708090A0B0C0D0E"}, "line 3: irk: not 32"},
        {{kHeader, kStatic, "irk 000102030405060708090A0B0C0D0E0F00"}, "line 3: irk: not 32"},
        {{kHeader, kStatic, "irk 000102030405060708090A0B0C0D0E0G"}, "line 3: irk: not 32"},
    };
    for (const auto& c : cases) {
        std::string text = with_crc(c.lines);
        CAPTURE(text);
        CHECK_THAT(decode_error(text), Contains("identity file") && Contains(c.message));
    }
    CHECK_THAT(decode_error(kHeader + "\n" + kStatic + "\n" + kIrk + "\ncrc32 00000000\n"),
               Contains("line 4: crc32 00000000 does not match") && Contains("corrupted"));
    CHECK_THAT(decode_error(kHeader + "\n" + kStatic + "\n" + kIrk + "\ncrc32 a38ede66\n"),
               Contains("line 4: crc32 is not 8 upper-case hex digits"));
}

TEST_CASE("an empty, oversized, unterminated or extended identity file is rejected", "[identity]") {
    CHECK_THAT(decode_error(""), Contains("empty"));
    CHECK_THAT(decode_error(std::string(kMaxIdentityFileSize + 1, 'a')), Contains("more than 1024"));
    CHECK_THAT(decode_error(kSampleText + kIrk + "\n"), Contains("line 5: the last line is not the crc32"));
    CHECK_THAT(decode_error(kSampleText + "x"), Contains("line 5: no newline"));
    CHECK_THAT(decode_error(kSampleText + "\n"), Contains("line 5"));
    CHECK_THAT(decode_error("crc32 00000000\n"), Contains("line 1: not a ubluetoothd identity file"));
}

TEST_CASE("a valid identity file cut at any byte is rejected", "[identity]") {
    for (size_t length = 0; length < kSampleText.size(); ++length) {
        CAPTURE(length);
        CHECK(error_of([&] { decode_identity(std::string_view(kSampleText).substr(0, length)); }) ==
              ErrorCode::InvalidArgs);
    }
}

TEST_CASE("any change of one byte of a valid identity file is rejected", "[identity]") {
    size_t changes = 0, rejected = 0;
    std::string changed = kSampleText;
    for (size_t at = 0; at < kSampleText.size(); ++at) {
        for (int value = 0; value < 256; ++value) {
            if (static_cast<char>(value) == kSampleText[at]) continue;
            changed[at] = static_cast<char>(value);
            ++changes;
            try {
                decode_identity(changed);
                FAIL("accepted byte " << value << " at " << at);
            } catch (const BleError& e) {
                if (e.code() == ErrorCode::InvalidArgs) ++rejected;
            }
        }
        changed[at] = kSampleText[at];
    }
    CHECK(changes == kSampleText.size() * 255);
    CHECK(rejected == changes);
}
