#include <catch2/catch.hpp>

#include "core/address.hpp"
#include "core/bytes.hpp"

using namespace ubt;

TEST_CASE("ByteReader reads little-endian fields and fails past the end") {
    const Bytes data{0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12};
    ByteReader r(data);
    CHECK(r.u8() == 0x01);
    CHECK(r.u16le() == 0x1234);
    CHECK(r.u32le() == 0x12345678);
    CHECK(r.done());
    CHECK(r.u8() == 0);  // past the end: zero and failed
    CHECK_FALSE(r.ok());
    CHECK(r.remaining() == 0);
}

TEST_CASE("ByteReader refuses a field longer than what is left") {
    const Bytes data{0xaa, 0xbb, 0xcc};
    ByteReader r(data);
    CHECK(r.bytes(4).empty());
    CHECK_FALSE(r.ok());
}

TEST_CASE("ByteReader fixed_string stops at the first NUL") {
    const Bytes data{'h', 'c', 'i', 0, 'x', 'y'};
    ByteReader r(data);
    CHECK(r.fixed_string(6) == "hci");
    CHECK(r.done());
}

TEST_CASE("ByteWriter writes little-endian fields and padded strings") {
    ByteWriter w;
    w.u8(0x01).u16le(0x0203).u32le(0x04050607).fixed_string("ab", 4);
    CHECK(w.data() == Bytes{0x01, 0x03, 0x02, 0x07, 0x06, 0x05, 0x04, 'a', 'b', 0, 0});
    CHECK_THROWS_AS(ByteWriter().fixed_string("abcd", 4), std::length_error);
}

TEST_CASE("Address is shown most significant byte first, the reverse of bdaddr_t") {
    const Bytes le{0x42, 0x00, 0x01, 0x01, 0xaa, 0x00};
    Address a = Address::from_le(le);
    CHECK(a.to_string() == "00:AA:01:01:00:42");
    CHECK(a.msb_first == std::array<uint8_t, 6>{0x00, 0xaa, 0x01, 0x01, 0x00, 0x42});
    auto back = a.to_le();
    CHECK(Bytes(back.begin(), back.end()) == le);
    CHECK(Address::parse("00:aa:01:01:00:42") == a);
    CHECK_FALSE(Address::parse("00:AA:01:01:00"));
    CHECK_FALSE(Address::parse("00-AA-01-01-00-42"));
    CHECK_FALSE(Address::parse("00:AA:01:01:00:4G"));
}
