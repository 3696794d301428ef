// More of the ATT server, PDU in and PDU out, byte for byte: the GATT test
// specification's server tests (GATT/SR/...) that test_gatt_server.cpp does
// not cover, and the ATT robustness cases (malformed, oversized, unknown and
// pipelined PDUs). Expectations follow the Core spec, Vol 3 Part F (ATT) and
// Part G (GATT); comments spell out every field.
#include <catch2/catch.hpp>

#include <ostream>
#include <string>

#include "gatt/server.hpp"
#include "gatt_test_services.hpp"

using namespace ubt;
using namespace ubt::gatt;
using att::Uuid;

namespace {

using test::uuid;
using test::repeat;
using test::operator+;

// 128-bit UUIDs as ATT carries them: little-endian.
const Bytes kUartService{0x9e, 0xca, 0xdc, 0x24, 0x0e, 0xe5, 0xa9, 0xe0,
                         0x93, 0xf3, 0xa3, 0xb5, 0x01, 0x00, 0x40, 0x6e};  // 6e400001-b5a3-f393-e0a9-e50e24dcca9e
const Bytes kUartRx{0x9e, 0xca, 0xdc, 0x24, 0x0e, 0xe5, 0xa9, 0xe0,
                    0x93, 0xf3, 0xa3, 0xb5, 0x02, 0x00, 0x40, 0x6e};  // 6e400002-b5a3-f393-e0a9-e50e24dcca9e
const Bytes kUartTx{0x9e, 0xca, 0xdc, 0x24, 0x0e, 0xe5, 0xa9, 0xe0,
                    0x93, 0xf3, 0xa3, 0xb5, 0x03, 0x00, 0x40, 0x6e};  // 6e400003-b5a3-f393-e0a9-e50e24dcca9e
const Bytes kVendorDescriptor{0x78, 0x56, 0x34, 0x12, 0xf0, 0xde, 0xbc, 0x9a,
                              0x78, 0x56, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12};  // 12345678-1234-5678-9abc-def012345678

// A 16-bit UUID in its 128-bit form, 0000xxxx-0000-1000-8000-00805f9b34fb, little-endian.
Bytes base_uuid(uint8_t lo, uint8_t hi) {
    return {0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00, lo, hi, 0x00, 0x00};
}

// Handles: the first 27 as in test_gatt_server.cpp, then a fourth service.
// 0x01 GAP service: 0x02 decl, 0x03 Device Name "pi", 0x04 decl, 0x05 Appearance 00 00
// 0x06 GATT service: 0x07 decl, 0x08 Service Changed (indicate only), 0x09 its CCCD
// 0x0a HR service: 0x0b decl, 0x0c 0x2a37 (read, notify), 0x0d CCCD
// 0x0e UART service: 0x0f decl, 0x10 TX (read, notify), 0x11 CCCD,
//     0x12 decl, 0x13 RX (write, write without response), 0x14 0x2901 (read)
// 0x15 battery service: 0x16 decl, 0x17 0x2a19 (read, encrypted), 0x18 decl,
//     0x19 0x2a1a (read, authenticated), 0x1a decl, 0x1b 0x2a1b (write only)
// 0x1c 0xfff0 service: 0x1d decl, 0x1e 0xfff1 (read, authorized),
//     0x1f decl, 0x20 0xfff2 (write, encrypted), 0x21 decl, 0x22 0xfff3 (write, authenticated),
//     0x23 decl, 0x24 0xfff4 (write, authorized),
//     0x25 decl, 0x26 0xfff5 (read, write, indicate), 0x27 CCCD, 0x28 0x2901 (read, write),
//     0x29 128-bit vendor descriptor (write only),
//     0x2a decl, 0x2b 0xfff6 (read, write), 0x2c 0x2901 (write only),
//     0x2d decl, 0x2e 0xfff7 (read, write, write without response): the last handle.
std::vector<ServiceDef> services() {
    auto services = test::heart_rate_uart_battery();
    services.push_back(
        {uuid("fff0"),
         {{uuid("fff1"), flag::Read | flag::ReadAuthorized, {}},
          {uuid("fff2"), flag::Write | flag::WriteEncrypted, {}},
          {uuid("fff3"), flag::Write | flag::WriteAuthenticated, {}},
          {uuid("fff4"), flag::Write | flag::WriteAuthorized, {}},
          {uuid("fff5"), flag::Read | flag::Write | flag::Indicate,
           {{uuid("2901"), flag::Read | flag::Write}, {uuid("12345678-1234-5678-9abc-def012345678"), flag::Write}}},
          {uuid("fff6"), flag::Read | flag::Write, {{uuid("2901"), flag::Write}}},
          {uuid("fff7"), flag::Read | flag::Write | flag::WriteNoResponse, {}}}});
    return services;
}

// What the server answered: a PDU, or nothing. Prints as hex when a check fails.
struct Answer {
    std::optional<Bytes> pdu;
    explicit operator bool() const { return pdu.has_value(); }
    friend bool operator==(const Answer& a, const Bytes& b) { return a.pdu && *a.pdu == b; }
    friend std::ostream& operator<<(std::ostream& os, const Answer& a) {
        return os << (a.pdu ? hex(*a.pdu) : std::string("no answer"));
    }
};

Answer ask(Server& server, const Bytes& pdu, const LinkSecurity& link = {}) { return {server.handle(pdu, link)}; }

struct Fixture {
    Database db;
    std::vector<uint16_t> written;
    Server server{db, 256, [this](uint16_t h) { written.push_back(h); }};
    LinkSecurity link;

    Fixture() { db.build(services(), "pi"); }
    Answer send(const Bytes& pdu) { return ask(server, pdu, link); }
    // A local write (gatts_write): raises the capacity as needed.
    void set(uint16_t handle, Bytes value) {
        db.find(handle)->capacity = std::max(db.find(handle)->capacity, value.size());
        db.find(handle)->value = std::move(value);
    }
    void allow(uint16_t handle, size_t capacity) { db.find(handle)->capacity = capacity; }
    const Bytes& value(uint16_t handle) { return db.find(handle)->value; }
    std::vector<Bytes> values() const {
        std::vector<Bytes> all;
        for (const auto& a : db.attributes()) all.push_back(a.value);
        return all;
    }
};

// n octets counting up from `from` (mod 256).
Bytes ramp(size_t n, size_t from = 0) {
    Bytes out;
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(from + i));
    return out;
}


}  // namespace

// ---------------------------------------------------------------------------
// GAC: server configuration (Exchange MTU)

TEST_CASE("GATT/SR/GAC/BV-01-C: client Rx MTU 23 keeps ATT_MTU 23; reads give ATT_MTU-1 octets") {
    Fixture fx;
    fx.set(0x2b, ramp(30));
    CHECK(fx.send({0x02, 0x17, 0x00}) == Bytes{0x03, 0x00, 0x01});  // Exchange MTU Request, client 23 -> Response, server 256
    CHECK(fx.server.mtu() == 23);
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b} + ramp(22));  // Read 0x002b -> Read Response, 22 of the 30 octets
}

TEST_CASE("GATT/SR/GAC/BV-01-C: client Rx MTU 512 gives ATT_MTU 256, the smaller; reads give 255 octets") {
    Fixture fx;
    fx.set(0x2b, ramp(300));
    CHECK(fx.send({0x02, 0x00, 0x02}) == Bytes{0x03, 0x00, 0x01});  // Exchange MTU Request, client 512 -> Response, server 256
    CHECK(fx.server.mtu() == 256);
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b} + ramp(255));  // Read 0x002b -> octets 0-254
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0xff, 0x00}) ==                 // Read Blob 0x002b, offset 255
          Bytes{0x0d} + ramp(45, 255));                               // -> Read Blob Response, octets 255-299
}

TEST_CASE("GATT/SR/GAC/BV-01-C: a client Rx MTU between 23 and ours is the ATT_MTU; it bounds what the client may send") {
    Fixture fx;
    fx.set(0x2b, ramp(120));
    CHECK(fx.send({0x02, 0x64, 0x00}) == Bytes{0x03, 0x00, 0x01});  // Exchange MTU Request, client 100 -> server 256
    CHECK(fx.server.mtu() == 100);
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b} + ramp(99));  // Read 0x002b -> ATT_MTU-1 = 99 octets
    fx.allow(0x2b, 97);
    CHECK(fx.send(Bytes{0x12, 0x2b, 0x00} + repeat(0x61, 97)) == Bytes{0x13});  // Write 0x002b, 100 octets in all: Write Response
    CHECK(fx.value(0x2b) == repeat(0x61, 97));
    CHECK(fx.send(Bytes{0x12, 0x2b, 0x00} + repeat(0x62, 98)) ==  // 101 octets: longer than ATT_MTU
          Bytes{0x01, 0x12, 0x00, 0x00, 0x04});                    // Error Response, Write Request, handle 0x0000, Invalid PDU
    CHECK(fx.value(0x2b) == repeat(0x61, 97));
}

TEST_CASE("GATT/SR/GAC: a client Rx MTU below 23 leaves the default ATT_MTU") {
    Fixture fx;
    CHECK(fx.send({0x02, 0x00, 0x00}) == Bytes{0x03, 0x00, 0x01});  // Exchange MTU Request, client 0 -> server 256
    CHECK(fx.server.mtu() == 23);
    CHECK(fx.send({0x02, 0x16, 0x00}) == Bytes{0x03, 0x00, 0x01});  // client 22
    CHECK(fx.server.mtu() == 23);
}

TEST_CASE("GATT/SR/GAC/BV-01-C: after the exchange, Find Information fills the larger ATT_MTU") {
    Fixture fx;
    CHECK(fx.send({0x02, 0x00, 0x01}) == Bytes{0x03, 0x00, 0x01});  // Exchange MTU Request, client 256 -> server 256
    CHECK(fx.send({0x04, 0x01, 0x00, 0xff, 0xff}) == Bytes{        // Find Information Request, 0x0001-0xffff
        0x05, 0x01,              // Find Information Response, format 0x01: 16-bit UUIDs
        0x01, 0x00, 0x00, 0x28,  // 0x0001 «Primary Service»
        0x02, 0x00, 0x03, 0x28,  // 0x0002 «Characteristic»
        0x03, 0x00, 0x00, 0x2a,  // 0x0003 Device Name
        0x04, 0x00, 0x03, 0x28,  // 0x0004 «Characteristic»
        0x05, 0x00, 0x01, 0x2a,  // 0x0005 Appearance
        0x06, 0x00, 0x00, 0x28,  // 0x0006 «Primary Service»
        0x07, 0x00, 0x03, 0x28,  // 0x0007 «Characteristic»
        0x08, 0x00, 0x05, 0x2a,  // 0x0008 Service Changed
        0x09, 0x00, 0x02, 0x29,  // 0x0009 CCCD
        0x0a, 0x00, 0x00, 0x28,  // 0x000a «Primary Service»
        0x0b, 0x00, 0x03, 0x28,  // 0x000b «Characteristic»
        0x0c, 0x00, 0x37, 0x2a,  // 0x000c Heart Rate Measurement
        0x0d, 0x00, 0x02, 0x29,  // 0x000d CCCD
        0x0e, 0x00, 0x00, 0x28,  // 0x000e «Primary Service»
        0x0f, 0x00, 0x03, 0x28,  // 0x000f «Characteristic»; 0x0010 has a 128-bit type and ends the list
    });
}

// ---------------------------------------------------------------------------
// GAD: discovery

TEST_CASE("GATT/SR/GAD/BV-01-C: discover all primary services, to the end of the database") {
    Fixture fx;
    CHECK(fx.send({0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28}) == Bytes{  // Read By Group Type, 0x0001-0xffff, «Primary Service»
        0x11, 0x06,                          // Read By Group Type Response, 6 octets each
        0x01, 0x00, 0x05, 0x00, 0x00, 0x18,  // 0x0001-0x0005 GAP 0x1800
        0x06, 0x00, 0x09, 0x00, 0x01, 0x18,  // 0x0006-0x0009 GATT 0x1801
        0x0a, 0x00, 0x0d, 0x00, 0x0d, 0x18,  // 0x000a-0x000d Heart Rate 0x180d
    });
    CHECK(fx.send({0x10, 0x0e, 0x00, 0xff, 0xff, 0x00, 0x28}) ==  // from 0x000e
          Bytes{0x11, 0x14, 0x0e, 0x00, 0x14, 0x00} + kUartService);  // 20 octets: 0x000e-0x0014, the UART UUID
    CHECK(fx.send({0x10, 0x15, 0x00, 0xff, 0xff, 0x00, 0x28}) == Bytes{  // from 0x0015
        0x11, 0x06,                          // 6 octets each
        0x15, 0x00, 0x1b, 0x00, 0x0f, 0x18,  // 0x0015-0x001b Battery 0x180f
        0x1c, 0x00, 0x2e, 0x00, 0xf0, 0xff,  // 0x001c-0x002e 0xfff0
    });
    CHECK(fx.send({0x10, 0x2f, 0x00, 0xff, 0xff, 0x00, 0x28}) ==  // from 0x002f: past the last one
          Bytes{0x01, 0x10, 0x2f, 0x00, 0x0a});                   // Error Response, handle 0x002f, Attribute Not Found
}

TEST_CASE("GATT/SR/GAD/BV-01-C: «Primary Service» given as a 128-bit UUID is the same group type") {
    Fixture fx;
    CHECK(fx.send(Bytes{0x10, 0x01, 0x00, 0xff, 0xff} + base_uuid(0x00, 0x28)) == Bytes{  // 0x0001-0xffff, 00002800-...-34fb
        0x11, 0x06,                          // Read By Group Type Response, 6 octets each
        0x01, 0x00, 0x05, 0x00, 0x00, 0x18,  // 0x0001-0x0005 GAP
        0x06, 0x00, 0x09, 0x00, 0x01, 0x18,  // 0x0006-0x0009 GATT
        0x0a, 0x00, 0x0d, 0x00, 0x0d, 0x18,  // 0x000a-0x000d Heart Rate
    });
}

TEST_CASE("GATT/SR/GAD: «Secondary Service» is a grouping type; with none, Attribute Not Found") {
    Fixture fx;
    // Vol 3 Part G 2.5.3: «Primary Service» and «Secondary Service» may be used in
    // ATT_READ_BY_GROUP_TYPE_REQ; only «Characteristic» (and non-grouping types) is an
    // Unsupported Group Type. This database has no secondary service.
    // Read By Group Type, 0x0001-0xffff, «Secondary Service»
    auto answer = fx.send({0x10, 0x01, 0x00, 0xff, 0xff, 0x01, 0x28});
    CHECK(answer == Bytes{0x01, 0x10, 0x01, 0x00, 0x0a});  // Error Response, handle 0x0001, Attribute Not Found
    CHECK(fx.send({0x10, 0x01, 0x00, 0xff, 0xff, 0x01, 0x29}) ==  // group type 0x2901, no grouping type at all
          Bytes{0x01, 0x10, 0x01, 0x00, 0x10});                   // Unsupported Group Type
}

TEST_CASE("GATT/SR/GAD/BV-02-C: discover each 16-bit primary service by UUID") {
    Fixture fx;
    // Find By Type Value Request, 0x0001-0xffff, type «Primary Service», value the service UUID.
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x00, 0x18}) ==  // 0x1800
          Bytes{0x07, 0x01, 0x00, 0x05, 0x00});  // Find By Type Value Response: found 0x0001, group end 0x0005
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x01, 0x18}) ==  // 0x1801
          Bytes{0x07, 0x06, 0x00, 0x09, 0x00});  // 0x0006-0x0009
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18}) ==  // 0x180f
          Bytes{0x07, 0x15, 0x00, 0x1b, 0x00});  // 0x0015-0x001b
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0xf0, 0xff}) ==  // 0xfff0
          Bytes{0x07, 0x1c, 0x00, 0x2e, 0x00});  // 0x001c-0x002e
}

TEST_CASE("GATT/SR/GAD/BV-02-C: discover a 128-bit primary service by UUID") {
    Fixture fx;
    // Find By Type Value Request, 0x0001-0xffff, «Primary Service», the UART UUID: 23 octets.
    CHECK(fx.send(Bytes{0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28} + kUartService) ==
          Bytes{0x07, 0x0e, 0x00, 0x14, 0x00});  // Find By Type Value Response: 0x000e-0x0014
}

TEST_CASE("GATT/SR/GAD/BV-02-C: Find By Type Value looks only at declarations within the range") {
    Fixture fx;
    CHECK(fx.send({0x06, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x28, 0x0d, 0x18}) ==  // 0x0001-0x000a, 0x180d
          Bytes{0x07, 0x0a, 0x00, 0x0d, 0x00});  // declaration 0x000a in range; its group ends at 0x000d
    CHECK(fx.send({0x06, 0x0b, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0d, 0x18}) ==  // 0x000b-0xffff: past the declaration
          Bytes{0x01, 0x06, 0x0b, 0x00, 0x0a});  // Error Response, handle 0x000b, Attribute Not Found
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0d}) ==  // value of 1 octet: matches nothing
          Bytes{0x01, 0x06, 0x01, 0x00, 0x0a});
}

TEST_CASE("GATT/SR/GAD: Find By Type Value matches only attributes this client may read") {
    Fixture fx;
    // Vol 3 Part F 3.4.3.3: only attributes "that have sufficient permissions to allow
    // reading will be returned", and no security error may be answered.
    // Service Changed, value 00 00 00 00 (not readable)
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x05, 0x2a, 0x00, 0x00, 0x00, 0x00}) ==
          Bytes{0x01, 0x06, 0x01, 0x00, 0x0a});                   // Error Response, 0x0001, Attribute Not Found
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x1b, 0x2a}) ==  // 0x2a1b (write only), empty value
          Bytes{0x01, 0x06, 0x01, 0x00, 0x0a});                   // Attribute Not Found
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x19, 0x2a}) ==  // 0x2a19 (encryption) on a plain link, empty value
          Bytes{0x01, 0x06, 0x01, 0x00, 0x0a});                   // Attribute Not Found, not a security error
    fx.link.encrypted = true;
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x19, 0x2a}) ==  // encrypted: readable, so found
          Bytes{0x07, 0x17, 0x00, 0x17, 0x00});
}

TEST_CASE("GATT/SR/GAD: Find By Type Value compares a CCCD with this client's value") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x01, 0x00}) == Bytes{0x13});  // CCCD 0x000d := 0x0001
    CHECK(fx.send({0x0a, 0x0d, 0x00}) == Bytes{0x0b, 0x01, 0x00});  // what this client reads
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x02, 0x29, 0x01, 0x00}) ==  // Find By Type Value, CCCD, 01 00
          Bytes{0x07, 0x0d, 0x00, 0x0d, 0x00});  // found 0x000d: this client's value
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x02, 0x29, 0x00, 0x00}) == Bytes{  // CCCD, 00 00
        0x07,                    // Find By Type Value Response
        0x09, 0x00, 0x09, 0x00,  // 0x0009
        0x11, 0x00, 0x11, 0x00,  // 0x0011
        0x27, 0x00, 0x27, 0x00,  // 0x0027
    });
}

TEST_CASE("GATT/SR/GAD/BV-03-C: find included services: there are none") {
    Fixture fx;
    // Read By Type Request, «Include» 0x2802, over each service and over everything.
    // 0x0001-0xffff: Attribute Not Found
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x02, 0x28}) == Bytes{0x01, 0x08, 0x01, 0x00, 0x0a});
    CHECK(fx.send({0x08, 0x0a, 0x00, 0x0d, 0x00, 0x02, 0x28}) == Bytes{0x01, 0x08, 0x0a, 0x00, 0x0a});  // 0x000a-0x000d
    CHECK(fx.send({0x08, 0x0e, 0x00, 0x14, 0x00, 0x02, 0x28}) == Bytes{0x01, 0x08, 0x0e, 0x00, 0x0a});  // 0x000e-0x0014
    CHECK(fx.send({0x08, 0x1c, 0x00, 0x2e, 0x00, 0x02, 0x28}) == Bytes{0x01, 0x08, 0x1c, 0x00, 0x0a});  // 0x001c-0x002e
}

TEST_CASE("GATT/SR/GAD/BV-04-C: discover all characteristics, walking the whole database") {
    Fixture fx;
    // Read By Type Request, «Characteristic» 0x2803, from each next handle to 0xffff.
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                                // Read By Type Response, 7 octets each
        0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a,  // 0x0002: read, value 0x0003, Device Name
        0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a,  // 0x0004: read, value 0x0005, Appearance
        0x07, 0x00, 0x20, 0x08, 0x00, 0x05, 0x2a,  // 0x0007: indicate, value 0x0008, Service Changed
    });
    CHECK(fx.send({0x08, 0x08, 0x00, 0xff, 0xff, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                                // 7 octets each
        0x0b, 0x00, 0x12, 0x0c, 0x00, 0x37, 0x2a,  // 0x000b: read|notify, value 0x000c, 0x2a37; 0x000f differs in size
    });
    CHECK(fx.send({0x08, 0x0c, 0x00, 0xff, 0xff, 0x03, 0x28}) ==
          Bytes{0x09, 0x15, 0x0f, 0x00, 0x12, 0x10, 0x00} + kUartTx);  // 21 octets: 0x000f, read|notify, value 0x0010, TX
    CHECK(fx.send({0x08, 0x10, 0x00, 0xff, 0xff, 0x03, 0x28}) ==
          Bytes{0x09, 0x15, 0x12, 0x00, 0x0c, 0x13, 0x00} + kUartRx);  // 0x0012, write|write without response, value 0x0013, RX
    CHECK(fx.send({0x08, 0x13, 0x00, 0xff, 0xff, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                                // 7 octets each
        0x16, 0x00, 0x02, 0x17, 0x00, 0x19, 0x2a,  // 0x0016: read, value 0x0017, 0x2a19
        0x18, 0x00, 0x02, 0x19, 0x00, 0x1a, 0x2a,  // 0x0018: read, value 0x0019, 0x2a1a
        0x1a, 0x00, 0x08, 0x1b, 0x00, 0x1b, 0x2a,  // 0x001a: write, value 0x001b, 0x2a1b
    });
    CHECK(fx.send({0x08, 0x1b, 0x00, 0xff, 0xff, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                                // 7 octets each
        0x1d, 0x00, 0x02, 0x1e, 0x00, 0xf1, 0xff,  // 0x001d: read, value 0x001e, 0xfff1 (security flags are no properties)
        0x1f, 0x00, 0x08, 0x20, 0x00, 0xf2, 0xff,  // 0x001f: write, value 0x0020, 0xfff2
        0x21, 0x00, 0x08, 0x22, 0x00, 0xf3, 0xff,  // 0x0021: write, value 0x0022, 0xfff3
    });
    CHECK(fx.send({0x08, 0x22, 0x00, 0xff, 0xff, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                                // 7 octets each
        0x23, 0x00, 0x08, 0x24, 0x00, 0xf4, 0xff,  // 0x0023: write, value 0x0024, 0xfff4
        0x25, 0x00, 0x2a, 0x26, 0x00, 0xf5, 0xff,  // 0x0025: read|write|indicate, value 0x0026, 0xfff5
        0x2a, 0x00, 0x0a, 0x2b, 0x00, 0xf6, 0xff,  // 0x002a: read|write, value 0x002b, 0xfff6
    });
    CHECK(fx.send({0x08, 0x2b, 0x00, 0xff, 0xff, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                                // 7 octets
        0x2d, 0x00, 0x0e, 0x2e, 0x00, 0xf7, 0xff,  // 0x002d: read|write|write without response, value 0x002e, 0xfff7
    });
    CHECK(fx.send({0x08, 0x2e, 0x00, 0xff, 0xff, 0x03, 0x28}) ==
          Bytes{0x01, 0x08, 0x2e, 0x00, 0x0a});  // Error Response, handle 0x002e, Attribute Not Found
}

TEST_CASE("GATT/SR/GAD/BV-05-C: discover characteristics by UUID (declarations of a service, matched by the client)") {
    Fixture fx;
    // Looking for RX 6e400002 in the UART service, 0x000e-0x0014.
    CHECK(fx.send({0x08, 0x0e, 0x00, 0x14, 0x00, 0x03, 0x28}) ==     // Read By Type, «Characteristic»
          Bytes{0x09, 0x15, 0x0f, 0x00, 0x12, 0x10, 0x00} + kUartTx);  // 21 octets: 0x000f, TX: not it
    CHECK(fx.send({0x08, 0x10, 0x00, 0x14, 0x00, 0x03, 0x28}) ==     // from 0x0010
          Bytes{0x09, 0x15, 0x12, 0x00, 0x0c, 0x13, 0x00} + kUartRx);  // 0x0012, value 0x0013: RX
    CHECK(fx.send({0x08, 0x13, 0x00, 0x14, 0x00, 0x03, 0x28}) ==     // from 0x0013 to the service end
          Bytes{0x01, 0x08, 0x13, 0x00, 0x0a});                        // Attribute Not Found: done
    // Looking for 0x2a1a in the battery service, 0x0015-0x001b.
    CHECK(fx.send({0x08, 0x15, 0x00, 0x1b, 0x00, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                                // Read By Type Response, 7 octets each
        0x16, 0x00, 0x02, 0x17, 0x00, 0x19, 0x2a,  // 0x0016: 0x2a19
        0x18, 0x00, 0x02, 0x19, 0x00, 0x1a, 0x2a,  // 0x0018: 0x2a1a, value 0x0019
        0x1a, 0x00, 0x08, 0x1b, 0x00, 0x1b, 0x2a,  // 0x001a: 0x2a1b
    });
}

TEST_CASE("GATT/SR/GAD/BV-06-C: discover the descriptors of a characteristic, 16-bit then 128-bit") {
    Fixture fx;
    // 0xfff5: value 0x0026, descriptors 0x0027-0x0029.
    CHECK(fx.send({0x04, 0x27, 0x00, 0x29, 0x00}) == Bytes{  // Find Information Request, 0x0027-0x0029
        0x05, 0x01,              // Find Information Response, format 0x01: 16-bit UUIDs
        0x27, 0x00, 0x02, 0x29,  // 0x0027 CCCD
        0x28, 0x00, 0x01, 0x29,  // 0x0028 Characteristic User Description
    });
    CHECK(fx.send({0x04, 0x29, 0x00, 0x29, 0x00}) ==   // Find Information Request, 0x0029-0x0029
          Bytes{0x05, 0x02, 0x29, 0x00} + kVendorDescriptor);  // format 0x02: 128-bit; 0x0029 the vendor descriptor
    CHECK(fx.send({0x04, 0x2c, 0x00, 0x2c, 0x00}) ==   // 0xfff6's descriptor, 0x002c
          Bytes{0x05, 0x01, 0x2c, 0x00, 0x01, 0x29});   // 0x002c Characteristic User Description
}

TEST_CASE("GATT/SR/GAD/BV-06-C: Find Information over the whole database, one ATT_MTU at a time") {
    Fixture fx;
    CHECK(fx.send({0x04, 0x01, 0x00, 0xff, 0xff}) == Bytes{  // Find Information Request, 0x0001-0xffff
        0x05, 0x01,              // Find Information Response, 16-bit UUIDs; 5 entries fill 22 of 23 octets
        0x01, 0x00, 0x00, 0x28,  // 0x0001 «Primary Service»
        0x02, 0x00, 0x03, 0x28,  // 0x0002 «Characteristic»
        0x03, 0x00, 0x00, 0x2a,  // 0x0003 Device Name
        0x04, 0x00, 0x03, 0x28,  // 0x0004 «Characteristic»
        0x05, 0x00, 0x01, 0x2a,  // 0x0005 Appearance
    });
    CHECK(fx.send({0x04, 0x06, 0x00, 0xff, 0xff}) == Bytes{  // from 0x0006
        0x05, 0x01,              // 16-bit UUIDs
        0x06, 0x00, 0x00, 0x28,  // 0x0006 «Primary Service»
        0x07, 0x00, 0x03, 0x28,  // 0x0007 «Characteristic»
        0x08, 0x00, 0x05, 0x2a,  // 0x0008 Service Changed
        0x09, 0x00, 0x02, 0x29,  // 0x0009 CCCD
        0x0a, 0x00, 0x00, 0x28,  // 0x000a «Primary Service»
    });
    CHECK(fx.send({0x04, 0x10, 0x00, 0xff, 0xff}) ==  // from 0x0010: a 128-bit type, alone
          Bytes{0x05, 0x02, 0x10, 0x00} + kUartTx);   // format 0x02, 0x0010 TX
    CHECK(fx.send({0x04, 0x2e, 0x00, 0xff, 0xff}) ==  // from the last handle
          Bytes{0x05, 0x01, 0x2e, 0x00, 0xf7, 0xff});  // 0x002e 0xfff7
    CHECK(fx.send({0x04, 0x2f, 0x00, 0xff, 0xff}) ==  // past it
          Bytes{0x01, 0x04, 0x2f, 0x00, 0x0a});       // Error Response, handle 0x002f, Attribute Not Found
}

// ---------------------------------------------------------------------------
// GAR: reading

TEST_CASE("GATT/SR/GAR/BV-01-C: read the GAP characteristics") {
    Fixture fx;
    CHECK(fx.send({0x0a, 0x03, 0x00}) == Bytes{0x0b, 'p', 'i'});     // Read 0x0003 -> Device Name "pi"
    CHECK(fx.send({0x0a, 0x05, 0x00}) == Bytes{0x0b, 0x00, 0x00});   // Read 0x0005 -> Appearance 0x0000 (unknown)
    CHECK(fx.send({0x0a, 0x01, 0x00}) == Bytes{0x0b, 0x00, 0x18});   // Read 0x0001 -> service declaration, 0x1800
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b});               // Read 0x002b -> an empty value
}

TEST_CASE("GATT/SR/GAR/BI-01-C: Read Not Permitted for values and descriptors without read") {
    Fixture fx;
    CHECK(fx.send({0x0a, 0x1b, 0x00}) == Bytes{0x01, 0x0a, 0x1b, 0x00, 0x02});  // 0x2a1b, write only: Read Not Permitted
    CHECK(fx.send({0x0a, 0x13, 0x00}) == Bytes{0x01, 0x0a, 0x13, 0x00, 0x02});  // RX, write only
    CHECK(fx.send({0x0a, 0x08, 0x00}) == Bytes{0x01, 0x0a, 0x08, 0x00, 0x02});  // Service Changed: indicate only
    CHECK(fx.send({0x0a, 0x29, 0x00}) == Bytes{0x01, 0x0a, 0x29, 0x00, 0x02});  // vendor descriptor, write only
    CHECK(fx.send({0x0a, 0x2c, 0x00}) == Bytes{0x01, 0x0a, 0x2c, 0x00, 0x02});  // 0x2901 of 0xfff6, write only
    fx.link = {true, true};
    CHECK(fx.send({0x0a, 0x1b, 0x00}) == Bytes{0x01, 0x0a, 0x1b, 0x00, 0x02});  // security does not make it readable
}

TEST_CASE("GATT/SR/GAR/BI-02-C: Invalid Handle for handles with no attribute") {
    Fixture fx;
    CHECK(fx.send({0x0a, 0x2f, 0x00}) == Bytes{0x01, 0x0a, 0x2f, 0x00, 0x01});  // one past the last handle
    CHECK(fx.send({0x0a, 0xff, 0xff}) == Bytes{0x01, 0x0a, 0xff, 0xff, 0x01});  // 0xffff
    CHECK(fx.send({0x0a, 0x00, 0x00}) == Bytes{0x01, 0x0a, 0x00, 0x00, 0x01});  // 0x0000 is never valid
}

TEST_CASE("GATT/SR/GAR/BI-03-C: Insufficient Authorization, on any link") {
    Fixture fx;
    CHECK(fx.send({0x0a, 0x1e, 0x00}) == Bytes{0x01, 0x0a, 0x1e, 0x00, 0x08});  // 0xfff1: Insufficient Authorization
    fx.link = {true, true};  // encrypted and authenticated
    CHECK(fx.send({0x0a, 0x1e, 0x00}) == Bytes{0x01, 0x0a, 0x1e, 0x00, 0x08});  // authorization is another matter
}

TEST_CASE("GATT/SR/GAR/BI-04-C: Insufficient Authentication until the link is authenticated") {
    Fixture fx;
    fx.set(0x19, {0x64});
    CHECK(fx.send({0x0a, 0x19, 0x00}) == Bytes{0x01, 0x0a, 0x19, 0x00, 0x05});  // 0x2a1a: Insufficient Authentication
    fx.link.encrypted = true;                                                   // encrypted with an unauthenticated key
    CHECK(fx.send({0x0a, 0x19, 0x00}) == Bytes{0x01, 0x0a, 0x19, 0x00, 0x05});
    fx.link.authenticated = true;
    CHECK(fx.send({0x0a, 0x19, 0x00}) == Bytes{0x0b, 0x64});  // Read Response, 100
}

TEST_CASE("GATT/SR/GAR: Insufficient Encryption until the link is encrypted") {
    Fixture fx;
    fx.set(0x17, {0x50});
    CHECK(fx.send({0x0a, 0x17, 0x00}) == Bytes{0x01, 0x0a, 0x17, 0x00, 0x0f});  // 0x2a19: Insufficient Encryption
    fx.link.encrypted = true;
    CHECK(fx.send({0x0a, 0x17, 0x00}) == Bytes{0x0b, 0x50});  // Read Response, 80
}

TEST_CASE("GATT/SR/GAR/BV-03-C: read using a characteristic UUID, 16-bit, 16-bit in 128-bit form, and 128-bit") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x00, 0x2a}) ==  // Read By Type, 0x0001-0xffff, Device Name
          Bytes{0x09, 0x04, 0x03, 0x00, 'p', 'i'});              // Read By Type Response, 4 octets: 0x0003 "pi"
    CHECK(fx.send(Bytes{0x08, 0x01, 0x00, 0xff, 0xff} + base_uuid(0x00, 0x2a)) ==  // Device Name as 00002a00-...-34fb
          Bytes{0x09, 0x04, 0x03, 0x00, 'p', 'i'});
    fx.set(0x10, {0x01, 0x02, 0x03});
    CHECK(fx.send(Bytes{0x08, 0x01, 0x00, 0xff, 0xff} + kUartTx) ==  // TX by its 128-bit UUID
          Bytes{0x09, 0x05, 0x10, 0x00, 0x01, 0x02, 0x03});           // 5 octets: 0x0010, 01 02 03
}

TEST_CASE("GATT/SR/GAR/BV-03-C: Read By Type lists equal-sized values and stops before one it may not read") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x02, 0x29}) == Bytes{  // Read By Type, 0x0001-0xffff, CCCD
        0x09, 0x04,              // Read By Type Response, 4 octets each
        0x09, 0x00, 0x00, 0x00,  // 0x0009: 0x0000
        0x0d, 0x00, 0x00, 0x00,  // 0x000d: 0x0000
        0x11, 0x00, 0x00, 0x00,  // 0x0011: 0x0000
        0x27, 0x00, 0x00, 0x00,  // 0x0027: 0x0000
    });
    fx.set(0x14, {'r', 'x'});
    fx.set(0x28, {'a', 'b'});
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x01, 0x29}) == Bytes{  // Read By Type, User Description 0x2901
        0x09, 0x04,              // 4 octets each
        0x14, 0x00, 'r', 'x',    // 0x0014 "rx"
        0x28, 0x00, 'a', 'b',    // 0x0028 "ab"; 0x002c (write only) ends the list without an error
    });
    CHECK(fx.send({0x08, 0x29, 0x00, 0xff, 0xff, 0x01, 0x29}) ==  // from 0x0029: the first match is 0x002c
          Bytes{0x01, 0x08, 0x2c, 0x00, 0x02});                   // Error Response for 0x002c, Read Not Permitted
}

TEST_CASE("GATT/SR/GAR/BI-06-C: read by UUID, Read Not Permitted for the first match") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x1b, 0x2a}) ==  // Read By Type, 0x2a1b
          Bytes{0x01, 0x08, 0x1b, 0x00, 0x02});                   // Error Response, handle 0x001b, Read Not Permitted
    CHECK(fx.send(Bytes{0x08, 0x01, 0x00, 0xff, 0xff} + kUartRx) ==  // RX by its 128-bit UUID
          Bytes{0x01, 0x08, 0x13, 0x00, 0x02});                      // handle 0x0013, Read Not Permitted
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x05, 0x2a}) ==  // Service Changed
          Bytes{0x01, 0x08, 0x08, 0x00, 0x02});                   // handle 0x0008, Read Not Permitted
}

TEST_CASE("GATT/SR/GAR/BI-07-C: read by UUID, Attribute Not Found for the start handle") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0xff, 0x2a}) ==  // Read By Type, 0x2aff: none
          Bytes{0x01, 0x08, 0x01, 0x00, 0x0a});                   // Error Response, handle 0x0001, Attribute Not Found
    CHECK(fx.send(Bytes{0x08, 0x01, 0x00, 0xff, 0xff} + kUartService) ==  // a service UUID is no attribute type here
          Bytes{0x01, 0x08, 0x01, 0x00, 0x0a});
    CHECK(fx.send({0x08, 0x0d, 0x00, 0xff, 0xff, 0x37, 0x2a}) ==  // 0x2a37 sits at 0x000c, before the range
          Bytes{0x01, 0x08, 0x0d, 0x00, 0x0a});                   // handle 0x000d, Attribute Not Found
}

TEST_CASE("GATT/SR/GAR/BI-08-C: read by UUID, Invalid Handle for a bad range") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x00, 0x00, 0xff, 0xff, 0x00, 0x2a}) ==  // start 0x0000
          Bytes{0x01, 0x08, 0x00, 0x00, 0x01});                   // Error Response, handle 0x0000, Invalid Handle
    CHECK(fx.send({0x08, 0x05, 0x00, 0x04, 0x00, 0x00, 0x2a}) ==  // start 0x0005 > end 0x0004
          Bytes{0x01, 0x08, 0x05, 0x00, 0x01});                   // handle 0x0005, Invalid Handle
}

TEST_CASE("GATT/SR/GAR/BI-09/10-C: read by UUID, Insufficient Authorization and Authentication") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0xf1, 0xff}) ==  // Read By Type, 0xfff1
          Bytes{0x01, 0x08, 0x1e, 0x00, 0x08});                   // handle 0x001e, Insufficient Authorization
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x1a, 0x2a}) ==  // Read By Type, 0x2a1a
          Bytes{0x01, 0x08, 0x19, 0x00, 0x05});                   // handle 0x0019, Insufficient Authentication
    fx.link = {true, true};
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x1a, 0x2a}) ==
          Bytes{0x09, 0x02, 0x19, 0x00});  // Read By Type Response, 2 octets: 0x0019 with an empty value
}

TEST_CASE("GATT/SR/GAR: read by UUID, Insufficient Encryption until the link is encrypted") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x19, 0x2a}) ==  // Read By Type, 0x2a19
          Bytes{0x01, 0x08, 0x17, 0x00, 0x0f});                   // handle 0x0017, Insufficient Encryption
    fx.link.encrypted = true;
    fx.set(0x17, {0x5a});
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x19, 0x2a}) ==
          Bytes{0x09, 0x03, 0x17, 0x00, 0x5a});  // 3 octets: 0x0017, 90
}

TEST_CASE("GATT/SR/GAR/BV-04-C: read a long value with Read and Read Blob at ATT_MTU 23") {
    Fixture fx;
    fx.set(0x2b, ramp(50));
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b} + ramp(22));                     // Read 0x002b: octets 0-21
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x16, 0x00}) == Bytes{0x0d} + ramp(22, 22));    // Read Blob, offset 22: 22-43
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x2c, 0x00}) == Bytes{0x0d} + ramp(6, 44));     // offset 44: 44-49, short: the end
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x00, 0x00}) == Bytes{0x0d} + ramp(22));        // offset 0 works as well
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x01, 0x00}) == Bytes{0x0d} + ramp(22, 1));     // and any offset inside
}

TEST_CASE("GATT/SR/GAR/BV-04-C: Read Blob of a value shorter than ATT_MTU-1 gives the value (no Attribute Not Long)") {
    Fixture fx;
    // Vol 3 Part F 3.4.4.5: the server *may* answer Attribute Not Long; ours reads it.
    CHECK(fx.send({0x0c, 0x03, 0x00, 0x00, 0x00}) == Bytes{0x0d, 'p', 'i'});  // Read Blob 0x0003, offset 0
    CHECK(fx.send({0x0c, 0x03, 0x00, 0x01, 0x00}) == Bytes{0x0d, 'i'});       // offset 1
    CHECK(fx.send({0x0c, 0x03, 0x00, 0x02, 0x00}) == Bytes{0x0d});            // offset 2 = the length: nothing
}

TEST_CASE("GATT/SR/GAR/BI-12-C: read long, Read Not Permitted comes before the offset") {
    Fixture fx;
    CHECK(fx.send({0x0c, 0x1b, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x1b, 0x00, 0x02});  // Read Blob 0x001b, offset 0
    CHECK(fx.send({0x0c, 0x1b, 0x00, 0x63, 0x00}) == Bytes{0x01, 0x0c, 0x1b, 0x00, 0x02});  // offset 99: still not permitted
    CHECK(fx.send({0x0c, 0x08, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x08, 0x00, 0x02});  // Service Changed
}

TEST_CASE("GATT/SR/GAR/BI-13-C: read long, Invalid Offset only past the end of the value") {
    Fixture fx;
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x00, 0x00}) == Bytes{0x0d});                          // empty value, offset 0: nothing
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x01, 0x00}) == Bytes{0x01, 0x0c, 0x2b, 0x00, 0x07});  // offset 1: Invalid Offset
    CHECK(fx.send({0x0c, 0x03, 0x00, 0x03, 0x00}) == Bytes{0x01, 0x0c, 0x03, 0x00, 0x07});  // "pi", offset 3
    CHECK(fx.send({0x0c, 0x03, 0x00, 0xff, 0xff}) == Bytes{0x01, 0x0c, 0x03, 0x00, 0x07});  // offset 0xffff
    CHECK(fx.send({0x0c, 0x0d, 0x00, 0x03, 0x00}) == Bytes{0x01, 0x0c, 0x0d, 0x00, 0x07});  // a CCCD (2 octets), offset 3
    CHECK(fx.send({0x0c, 0x0d, 0x00, 0x01, 0x00}) == Bytes{0x0d, 0x00});                    // its second octet
}

TEST_CASE("GATT/SR/GAR/BI-14-C: read long, Invalid Handle") {
    Fixture fx;
    CHECK(fx.send({0x0c, 0x2f, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x2f, 0x00, 0x01});  // Read Blob 0x002f
    CHECK(fx.send({0x0c, 0x00, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x00, 0x00, 0x01});  // Read Blob 0x0000
}

TEST_CASE("GATT/SR/GAR/BI-15/16-C: read long, Insufficient Authorization and Authentication") {
    Fixture fx;
    CHECK(fx.send({0x0c, 0x1e, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x1e, 0x00, 0x08});  // 0xfff1: Insufficient Authorization
    CHECK(fx.send({0x0c, 0x19, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x19, 0x00, 0x05});  // 0x2a1a: Insufficient Authentication
    CHECK(fx.send({0x0c, 0x17, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x17, 0x00, 0x0f});  // 0x2a19: Insufficient Encryption
    fx.link = {true, true};
    CHECK(fx.send({0x0c, 0x19, 0x00, 0x00, 0x00}) == Bytes{0x0d});  // now allowed: the empty value
    CHECK(fx.send({0x0c, 0x17, 0x00, 0x00, 0x00}) == Bytes{0x0d});
    CHECK(fx.send({0x0c, 0x1e, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x1e, 0x00, 0x08});
}

TEST_CASE("GATT/SR/GAR/BV-05-C: Read Multiple concatenates values, declarations and this client's CCCD") {
    Fixture fx;
    CHECK(fx.send({0x0e, 0x03, 0x00, 0x05, 0x00, 0x0d, 0x00}) ==  // Read Multiple: 0x0003 0x0005 0x000d
          Bytes{0x0f, 'p', 'i', 0x00, 0x00, 0x00, 0x00});         // "pi", appearance 0x0000, CCCD 0x0000
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x01, 0x00}) == Bytes{0x13});  // Write CCCD 0x000d := 0x0001
    CHECK(fx.send({0x0e, 0x03, 0x00, 0x05, 0x00, 0x0d, 0x00}) ==
          Bytes{0x0f, 'p', 'i', 0x00, 0x00, 0x01, 0x00});  // the CCCD now 0x0001
    CHECK(fx.send({0x0e, 0x0b, 0x00, 0x0a, 0x00}) ==           // Read Multiple: 0x000b 0x000a
          Bytes{0x0f, 0x12, 0x0c, 0x00, 0x37, 0x2a, 0x0d, 0x18});  // declaration (read|notify, 0x000c, 0x2a37), service 0x180d
    CHECK(fx.send({0x0e, 0x03, 0x00, 0x03, 0x00}) == Bytes{0x0f, 'p', 'i', 'p', 'i'});  // the same handle twice
}

TEST_CASE("GATT/SR/GAR/BV-05-C: Read Multiple at ATT_MTU 23 is cut to 22 octets of values") {
    Fixture fx;
    fx.set(0x2b, repeat(0xaa, 20));
    fx.set(0x2e, repeat(0xbb, 20));
    CHECK(fx.send({0x0e, 0x2b, 0x00, 0x2e, 0x00}) ==          // Read Multiple: 0x002b 0x002e
          Bytes{0x0f} + repeat(0xaa, 20) + repeat(0xbb, 2));  // 20 octets of 0x002b, the first 2 of 0x002e
    CHECK(fx.send({0x0e, 0x2b, 0x00, 0x2e, 0x00, 0x03, 0x00}) ==  // a third value that does not fit at all
          Bytes{0x0f} + repeat(0xaa, 20) + repeat(0xbb, 2));
    CHECK(fx.send({0x0e, 0x2b, 0x00, 0x2e, 0x00, 0x2f, 0x00}) ==  // a third handle that does not exist
          Bytes{0x01, 0x0e, 0x2f, 0x00, 0x01});                    // is still an error: Invalid Handle 0x002f
}

TEST_CASE("GATT/SR/GAR/BI-18/19-C: Read Multiple names the first handle it cannot read") {
    Fixture fx;
    CHECK(fx.send({0x0e, 0x03, 0x00, 0x1b, 0x00, 0x13, 0x00}) ==  // 0x0003 0x001b 0x0013
          Bytes{0x01, 0x0e, 0x1b, 0x00, 0x02});                   // Error Response, 0x001b, Read Not Permitted
    CHECK(fx.send({0x0e, 0x03, 0x00, 0x2f, 0x00, 0x1b, 0x00}) ==  // 0x0003 0x002f 0x001b
          Bytes{0x01, 0x0e, 0x2f, 0x00, 0x01});                   // 0x002f, Invalid Handle
    CHECK(fx.send({0x0e, 0xff, 0xff, 0x03, 0x00}) ==              // 0xffff 0x0003
          Bytes{0x01, 0x0e, 0xff, 0xff, 0x01});                   // 0xffff, Invalid Handle
}

TEST_CASE("GATT/SR/GAR/BI-20/21-C: Read Multiple, Insufficient Authorization, Authentication and Encryption") {
    Fixture fx;
    CHECK(fx.send({0x0e, 0x03, 0x00, 0x1e, 0x00}) == Bytes{0x01, 0x0e, 0x1e, 0x00, 0x08});  // 0x001e: Insufficient Authorization
    CHECK(fx.send({0x0e, 0x03, 0x00, 0x19, 0x00}) == Bytes{0x01, 0x0e, 0x19, 0x00, 0x05});  // 0x0019: Insufficient Authentication
    CHECK(fx.send({0x0e, 0x17, 0x00, 0x03, 0x00}) == Bytes{0x01, 0x0e, 0x17, 0x00, 0x0f});  // 0x0017: Insufficient Encryption
    fx.link = {true, true};
    CHECK(fx.send({0x0e, 0x17, 0x00, 0x19, 0x00, 0x03, 0x00}) == Bytes{0x0f, 'p', 'i'});  // both empty, then "pi"
}

TEST_CASE("GATT/SR/GAR/BV-06-C: read characteristic descriptors") {
    Fixture fx;
    fx.set(0x14, {'R', 'X'});
    CHECK(fx.send({0x0a, 0x14, 0x00}) == Bytes{0x0b, 'R', 'X'});   // Read 0x0014, User Description "RX"
    CHECK(fx.send({0x0a, 0x27, 0x00}) == Bytes{0x0b, 0x00, 0x00});  // Read 0x0027, CCCD 0x0000
    CHECK(fx.send({0x0a, 0x28, 0x00}) == Bytes{0x0b});              // Read 0x0028, an empty User Description
}

TEST_CASE("GATT/SR/GAR/BV-07-C: read a long characteristic descriptor with Read Blob") {
    Fixture fx;
    fx.set(0x28, ramp(40, 0x40));
    CHECK(fx.send({0x0c, 0x28, 0x00, 0x00, 0x00}) == Bytes{0x0d} + ramp(22, 0x40));       // Read Blob 0x0028, offset 0
    CHECK(fx.send({0x0c, 0x28, 0x00, 0x16, 0x00}) == Bytes{0x0d} + ramp(18, 0x40 + 22));  // offset 22: the last 18
}

TEST_CASE("GATT/SR/GAR/BV-08-C: read behind a long descriptor: offset = length gives an empty part") {
    Fixture fx;
    fx.set(0x28, ramp(44));
    CHECK(fx.send({0x0c, 0x28, 0x00, 0x16, 0x00}) == Bytes{0x0d} + ramp(22, 22));  // offset 22: exactly ATT_MTU-1 left
    CHECK(fx.send({0x0c, 0x28, 0x00, 0x2c, 0x00}) == Bytes{0x0d});                 // offset 44 = the length: 0 octets
}

TEST_CASE("GATT/SR/GAR/BV-09-C: Read Multiple Variable Length gives each value with its length") {
    Fixture fx;
    CHECK(fx.send({0x20, 0x03, 0x00, 0x2b, 0x00, 0x27, 0x00}) == Bytes{  // Read Multiple Variable: 0x0003 0x002b 0x0027
        0x21,                    // Read Multiple Variable Length Response
        0x02, 0x00, 'p', 'i',    // 2 octets: "pi"
        0x00, 0x00,              // 0 octets: the empty 0x002b
        0x02, 0x00, 0x00, 0x00,  // 2 octets: CCCD 0x0000
    });
}

TEST_CASE("GATT/SR/GAR/BV-09-C: Read Multiple Variable Length stops at ATT_MTU") {
    Fixture fx;
    fx.set(0x2b, repeat(0xaa, 20));
    fx.set(0x2e, repeat(0xbb, 5));
    CHECK(fx.send({0x20, 0x2b, 0x00, 0x2e, 0x00}) ==   // Read Multiple Variable: 0x002b 0x002e
          Bytes{0x21, 0x14, 0x00} + repeat(0xaa, 20));  // 20 octets of 0x002b fill the 23; no room for 0x002e
    fx.set(0x2b, repeat(0xaa, 18));
    CHECK(fx.send({0x20, 0x2b, 0x00, 0x2e, 0x00}) ==                 // 18 octets leave 2: the next length fits
          Bytes{0x21, 0x12, 0x00} + repeat(0xaa, 18) + Bytes{0x05, 0x00});  // 0x002e's length 5, none of its value
    fx.set(0x2b, repeat(0xaa, 19));
    CHECK(fx.send({0x20, 0x2b, 0x00, 0x2e, 0x00}) ==   // 19 octets leave 1: a cut length field is left out
          Bytes{0x21, 0x13, 0x00} + repeat(0xaa, 19));  // 22 octets in all
}

TEST_CASE("GATT/SR/GAR/BI-36/38/40/42-C: Read Multiple Variable Length errors name the first handle") {
    Fixture fx;
    CHECK(fx.send({0x20, 0x03, 0x00, 0x1b, 0x00}) == Bytes{0x01, 0x20, 0x1b, 0x00, 0x02});  // 0x001b: Read Not Permitted
    CHECK(fx.send({0x20, 0x03, 0x00, 0x2f, 0x00}) == Bytes{0x01, 0x20, 0x2f, 0x00, 0x01});  // 0x002f: Invalid Handle
    // 0x001e first: Insufficient Authorization
    CHECK(fx.send({0x20, 0x1e, 0x00, 0x19, 0x00}) == Bytes{0x01, 0x20, 0x1e, 0x00, 0x08});
    // 0x0019 first: Insufficient Authentication
    CHECK(fx.send({0x20, 0x19, 0x00, 0x1e, 0x00}) == Bytes{0x01, 0x20, 0x19, 0x00, 0x05});
    CHECK(fx.send({0x20, 0x03, 0x00}) == Bytes{0x01, 0x20, 0x00, 0x00, 0x04});              // one handle: Invalid PDU
}

TEST_CASE("GATT/SR/GAR/BI-45-C: a second Read Request sent before the first answer: both answered, in order") {
    Fixture fx;
    fx.set(0x2b, {'a'});
    // ATT delivers PDUs in order; each handle() call is one PDU arriving.
    auto first = fx.send({0x0a, 0x2b, 0x00});   // Read 0x002b
    auto second = fx.send({0x0a, 0x03, 0x00});  // Read 0x0003
    auto third = fx.send({0x0a, 0x2f, 0x00});   // Read 0x002f
    CHECK(first == Bytes{0x0b, 'a'});
    CHECK(second == Bytes{0x0b, 'p', 'i'});
    CHECK(third == Bytes{0x01, 0x0a, 0x2f, 0x00, 0x01});  // Invalid Handle
}

// ---------------------------------------------------------------------------
// GAW: writing

TEST_CASE("GATT/SR/GAW/BV-01-C: Write Command to a readable value, then read back") {
    Fixture fx;
    CHECK_FALSE(fx.send({0x52, 0x2e, 0x00, 'w', 'n', 'r'}));          // Write Command 0x002e "wnr": no answer
    CHECK(fx.send({0x0a, 0x2e, 0x00}) == Bytes{0x0b, 'w', 'n', 'r'});  // Read 0x002e
    CHECK(fx.written == std::vector<uint16_t>{0x2e});
}

TEST_CASE("GATT/SR/GAW/BV-01-C: a Write Command that fails is dropped silently") {
    Fixture fx;
    auto before = fx.values();
    CHECK_FALSE(fx.send({0x52, 0x2f, 0x00, 0x01}));        // no attribute 0x002f
    CHECK_FALSE(fx.send({0x52, 0x03, 0x00, 0x01}));        // Device Name: read only
    CHECK_FALSE(fx.send({0x52, 0x2b, 0x00, 0x01}));        // 0xfff6: write, but not write without response
    CHECK_FALSE(fx.send({0x52, 0x20, 0x00, 0x01}));        // 0xfff2: needs encryption
    CHECK_FALSE(fx.send({0x52, 0x22, 0x00, 0x01}));        // 0xfff3: needs authentication
    CHECK_FALSE(fx.send({0x52, 0x24, 0x00, 0x01}));        // 0xfff4: needs authorization
    CHECK_FALSE(fx.send({0x52, 0x0d, 0x00, 0x01, 0x00, 0x00}));  // a CCCD with 3 octets
    CHECK_FALSE(fx.send({0x52, 0x00, 0x00, 0x01}));        // handle 0x0000
    CHECK(fx.values() == before);
    CHECK(fx.written.empty());
    CHECK(fx.server.cccd(0x0d) == 0);
}

TEST_CASE("GATT/SR/GAW/BI-01-C: a Signed Write Command whose signature cannot be checked is ignored") {
    Fixture fx;
    fx.link = {true, true};
    Bytes signature = ramp(12, 0xa0);  // 12 octets: sign counter and MAC, unverifiable without the peer's CSRK
    CHECK_FALSE(fx.send(Bytes{0xd2, 0x2e, 0x00, 's', 'w'} + signature));  // Signed Write Command 0x002e "sw"
    CHECK_FALSE(fx.send(Bytes{0xd2, 0x13, 0x00, 's', 'w'} + signature));  // to RX
    CHECK(fx.value(0x2e).empty());
    CHECK(fx.value(0x13).empty());
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW/BV-03-C: write a characteristic value, then read it back") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x2b, 0x00, 'h', 'e', 'l', 'l', 'o'}) == Bytes{0x13});  // Write Request 0x002b "hello" -> Write Response
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b, 'h', 'e', 'l', 'l', 'o'});   // Read 0x002b
    CHECK(fx.send({0x12, 0x2b, 0x00, 'h', 'i'}) == Bytes{0x13});                  // a shorter value replaces it
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b, 'h', 'i'});
    CHECK(fx.send({0x12, 0x2b, 0x00}) == Bytes{0x13});                            // an empty value
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b});
    CHECK(fx.written == std::vector<uint16_t>{0x2b, 0x2b, 0x2b});
}

TEST_CASE("GATT/SR/GAW/BI-02-C: write, Invalid Handle") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x2f, 0x00, 0x01}) == Bytes{0x01, 0x12, 0x2f, 0x00, 0x01});  // Write 0x002f: Invalid Handle
    CHECK(fx.send({0x12, 0xff, 0xff, 0x01}) == Bytes{0x01, 0x12, 0xff, 0xff, 0x01});  // Write 0xffff
    CHECK(fx.send({0x12, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x12, 0x00, 0x00, 0x01});  // Write 0x0000
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW/BI-03-C: write, Write Not Permitted for declarations and read-only values") {
    Fixture fx;
    auto before = fx.values();
    CHECK(fx.send({0x12, 0x01, 0x00, 0x00, 0x18}) == Bytes{0x01, 0x12, 0x01, 0x00, 0x03});  // service declaration
    CHECK(fx.send({0x12, 0x02, 0x00, 0x02}) == Bytes{0x01, 0x12, 0x02, 0x00, 0x03});        // characteristic declaration
    CHECK(fx.send({0x12, 0x03, 0x00, 'x'}) == Bytes{0x01, 0x12, 0x03, 0x00, 0x03});         // Device Name
    CHECK(fx.send({0x12, 0x08, 0x00, 0x01, 0x00, 0xff, 0xff}) ==                            // Service Changed
          Bytes{0x01, 0x12, 0x08, 0x00, 0x03});
    CHECK(fx.send({0x12, 0x14, 0x00, 'x'}) == Bytes{0x01, 0x12, 0x14, 0x00, 0x03});         // read-only User Description
    CHECK(fx.send({0x12, 0x1e, 0x00, 'x'}) == Bytes{0x01, 0x12, 0x1e, 0x00, 0x03});         // 0xfff1, read only
    CHECK(fx.values() == before);
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW/BI-04-C: write, Insufficient Authorization on any link") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x24, 0x00, 0x01}) == Bytes{0x01, 0x12, 0x24, 0x00, 0x08});  // 0xfff4: Insufficient Authorization
    fx.link = {true, true};
    CHECK(fx.send({0x12, 0x24, 0x00, 0x01}) == Bytes{0x01, 0x12, 0x24, 0x00, 0x08});
    CHECK(fx.value(0x24).empty());
}

TEST_CASE("GATT/SR/GAW/BI-05-C: write, Insufficient Authentication until the link is authenticated") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x22, 0x00, 0x01}) == Bytes{0x01, 0x12, 0x22, 0x00, 0x05});  // 0xfff3: Insufficient Authentication
    fx.link.encrypted = true;
    CHECK(fx.send({0x12, 0x22, 0x00, 0x01}) == Bytes{0x01, 0x12, 0x22, 0x00, 0x05});
    CHECK(fx.value(0x22).empty());
    fx.link.authenticated = true;
    CHECK(fx.send({0x12, 0x22, 0x00, 0x01}) == Bytes{0x13});  // Write Response
    CHECK(fx.value(0x22) == Bytes{0x01});
}

TEST_CASE("GATT/SR/GAW: write, Insufficient Encryption until the link is encrypted") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x20, 0x00, 0x01}) == Bytes{0x01, 0x12, 0x20, 0x00, 0x0f});  // 0xfff2: Insufficient Encryption
    CHECK(fx.value(0x20).empty());
    fx.link.encrypted = true;
    CHECK(fx.send({0x12, 0x20, 0x00, 0x01}) == Bytes{0x13});
    CHECK(fx.value(0x20) == Bytes{0x01});
}

TEST_CASE("GATT/SR/GAW/BV-05-C: write a long value in parts of ATT_MTU-5 octets, then read it back") {
    Fixture fx;
    fx.allow(0x2b, 50);
    Bytes value = ramp(50, 0x80);
    Bytes a(value.begin(), value.begin() + 18), b(value.begin() + 18, value.begin() + 36), c(value.begin() + 36, value.end());
    // Prepare 0x002b, offset 0, 18 octets: echoed
    CHECK(fx.send(Bytes{0x16, 0x2b, 0x00, 0x00, 0x00} + a) == Bytes{0x17, 0x2b, 0x00, 0x00, 0x00} + a);
    CHECK(fx.send(Bytes{0x16, 0x2b, 0x00, 0x12, 0x00} + b) == Bytes{0x17, 0x2b, 0x00, 0x12, 0x00} + b);  // offset 18
    CHECK(fx.send(Bytes{0x16, 0x2b, 0x00, 0x24, 0x00} + c) == Bytes{0x17, 0x2b, 0x00, 0x24, 0x00} + c);  // offset 36, 14 octets
    CHECK(fx.value(0x2b).empty());
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});  // Execute Write, flags 0x01 -> Execute Write Response
    CHECK(fx.written == std::vector<uint16_t>{0x2b});
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b} + ramp(22, 0x80));                   // Read: octets 0-21
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x16, 0x00}) == Bytes{0x0d} + ramp(22, 0x80 + 22));  // Read Blob, offset 22
    CHECK(fx.send({0x0c, 0x2b, 0x00, 0x2c, 0x00}) == Bytes{0x0d} + ramp(6, 0x80 + 44));   // offset 44
}

TEST_CASE("GATT/SR/GAW/BI-07/08-C: write long, Invalid Handle and Write Not Permitted at the Prepare Write") {
    Fixture fx;
    // Prepare 0x002f: Invalid Handle
    CHECK(fx.send({0x16, 0x2f, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x2f, 0x00, 0x01});
    // Device Name: Write Not Permitted
    CHECK(fx.send({0x16, 0x03, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x03, 0x00, 0x03});
    CHECK(fx.send({0x16, 0x02, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x02, 0x00, 0x03});  // a declaration
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});  // nothing was queued: Execute Write writes nothing
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW/BI-09-C: write long, Invalid Offset at the Execute Write; nothing written") {
    Fixture fx;
    fx.set(0x2b, {'a', 'b', 'c'});
    CHECK(fx.send({0x16, 0x2b, 0x00, 0x04, 0x00, 'x'}) ==       // Prepare 0x002b, offset 4 (value is 3 octets), "x"
          Bytes{0x17, 0x2b, 0x00, 0x04, 0x00, 'x'});           // accepted: offsets are checked at execution
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x2b, 0x00, 0x07});  // Execute Write: Error Response, 0x002b, Invalid Offset
    CHECK(fx.value(0x2b) == Bytes{'a', 'b', 'c'});
    CHECK(fx.written.empty());
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});  // the queue is gone
    CHECK(fx.value(0x2b) == Bytes{'a', 'b', 'c'});
}

TEST_CASE("GATT/SR/GAW/BI-11/12-C: write long, Insufficient Authorization, Authentication and Encryption") {
    Fixture fx;
    // 0xfff4: Insufficient Authorization
    CHECK(fx.send({0x16, 0x24, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x24, 0x00, 0x08});
    // 0xfff3: Insufficient Authentication
    CHECK(fx.send({0x16, 0x22, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x22, 0x00, 0x05});
    // 0xfff2: Insufficient Encryption
    CHECK(fx.send({0x16, 0x20, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x20, 0x00, 0x0f});
    fx.link = {true, true};
    CHECK(fx.send({0x16, 0x22, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x17, 0x22, 0x00, 0x00, 0x00, 0x01});  // now prepared
    CHECK(fx.send({0x16, 0x24, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x24, 0x00, 0x08});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.value(0x22) == Bytes{0x01});
    CHECK(fx.value(0x24).empty());
}

TEST_CASE("GATT/SR/GAW/BV-06-C: a reliable write: one Prepare Write, echoed, then Execute Write") {
    Fixture fx;
    CHECK(fx.send({0x16, 0x2b, 0x00, 0x00, 0x00, 'n', 'e', 'w'}) ==  // Prepare 0x002b, offset 0, "new"
          Bytes{0x17, 0x2b, 0x00, 0x00, 0x00, 'n', 'e', 'w'});      // Prepare Write Response: handle, offset, value echoed
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});                      // Execute Write, flags 0x01
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b, 'n', 'e', 'w'});
}

TEST_CASE("GATT/SR/GAW/BV-10-C: nested long reliable writes to two characteristics") {
    Fixture fx;
    fx.allow(0x2b, 30);
    fx.allow(0x2e, 30);
    Bytes a1 = repeat(0x11, 18), b1 = repeat(0x22, 18), a2 = repeat(0x33, 12), b2 = repeat(0x44, 12);
    CHECK(fx.send(Bytes{0x16, 0x2b, 0x00, 0x00, 0x00} + a1) == Bytes{0x17, 0x2b, 0x00, 0x00, 0x00} + a1);  // 0x002b, offset 0
    CHECK(fx.send(Bytes{0x16, 0x2e, 0x00, 0x00, 0x00} + b1) == Bytes{0x17, 0x2e, 0x00, 0x00, 0x00} + b1);  // 0x002e, offset 0
    CHECK(fx.send(Bytes{0x16, 0x2b, 0x00, 0x12, 0x00} + a2) == Bytes{0x17, 0x2b, 0x00, 0x12, 0x00} + a2);  // 0x002b, offset 18
    CHECK(fx.send(Bytes{0x16, 0x2e, 0x00, 0x12, 0x00} + b2) == Bytes{0x17, 0x2e, 0x00, 0x12, 0x00} + b2);  // 0x002e, offset 18
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.value(0x2b) == a1 + a2);
    CHECK(fx.value(0x2e) == b1 + b2);
    CHECK(fx.written.size() == 2);
}

TEST_CASE("GATT/SR/GAW/BV-11-C: Execute Write with no prepared writes writes nothing") {
    Fixture fx;
    fx.set(0x2b, {'o', 'l', 'd'});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});  // Execute Write, flags 0x01 -> Execute Write Response
    CHECK(fx.value(0x2b) == Bytes{'o', 'l', 'd'});
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW/BV-07-C: cancel a reliable write: the old value stays") {
    Fixture fx;
    fx.set(0x2b, {'o', 'l', 'd'});
    CHECK(fx.send({0x16, 0x2b, 0x00, 0x00, 0x00, 'n', 'e', 'w'}) == Bytes{0x17, 0x2b, 0x00, 0x00, 0x00, 'n', 'e', 'w'});
    CHECK(fx.send({0x18, 0x00}) == Bytes{0x19});                      // Execute Write, flags 0x00: cancel
    CHECK(fx.send({0x0a, 0x2b, 0x00}) == Bytes{0x0b, 'o', 'l', 'd'});  // Read: the old value
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});                      // the cancelled queue is gone
    CHECK(fx.value(0x2b) == Bytes{'o', 'l', 'd'});
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW/BV-08-C: write a characteristic descriptor, then read it back") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x28, 0x00, 'd', 'e', 's', 'c'}) == Bytes{0x13});      // Write 0x0028 (User Description) "desc"
    CHECK(fx.send({0x0a, 0x28, 0x00}) == Bytes{0x0b, 'd', 'e', 's', 'c'});     // Read 0x0028
    CHECK(fx.written == std::vector<uint16_t>{0x28});
    CHECK(fx.send({0x12, 0x29, 0x00, 0x01, 0x02}) == Bytes{0x13});              // the write-only vendor descriptor
    CHECK(fx.value(0x29) == Bytes{0x01, 0x02});
}

TEST_CASE("GATT/SR/GAW/BV-09-C: write a long characteristic descriptor") {
    Fixture fx;
    fx.allow(0x28, 30);
    Bytes a = ramp(18, 0x30), b = ramp(12, 0x30 + 18);
    // Prepare 0x0028, offset 0
    CHECK(fx.send(Bytes{0x16, 0x28, 0x00, 0x00, 0x00} + a) == Bytes{0x17, 0x28, 0x00, 0x00, 0x00} + a);
    CHECK(fx.send(Bytes{0x16, 0x28, 0x00, 0x12, 0x00} + b) == Bytes{0x17, 0x28, 0x00, 0x12, 0x00} + b);  // offset 18
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.send({0x0a, 0x28, 0x00}) == Bytes{0x0b} + ramp(22, 0x30));                    // Read: 22 octets
    CHECK(fx.send({0x0c, 0x28, 0x00, 0x16, 0x00}) == Bytes{0x0d} + ramp(8, 0x30 + 22));   // Read Blob, offset 22: 8 more
}

TEST_CASE("GATT/SR/GAW/BI-32-C: a Write Request longer than 512 octets is Invalid Attribute Value Length") {
    Fixture fx;
    Server big(fx.db, 517, [&fx](uint16_t h) { fx.written.push_back(h); });
    CHECK(ask(big, {0x02, 0x05, 0x02}) == Bytes{0x03, 0x05, 0x02});  // Exchange MTU: client 517, server 517
    REQUIRE(big.mtu() == 517);
    fx.allow(0x2b, 512);
    CHECK(ask(big, Bytes{0x12, 0x2b, 0x00} + repeat(0x5a, 513)) ==  // Write 0x002b, 513 octets (516 in all)
          Bytes{0x01, 0x12, 0x2b, 0x00, 0x0d});                     // Error Response, 0x002b, Invalid Attribute Value Length
    CHECK(fx.value(0x2b).empty());
    CHECK(ask(big, Bytes{0x12, 0x2b, 0x00} + repeat(0x5a, 512)) == Bytes{0x13});  // 512: the most ATT allows
    CHECK(fx.value(0x2b) == repeat(0x5a, 512));
    CHECK(fx.written == std::vector<uint16_t>{0x2b});
}

TEST_CASE("GATT/SR/GAW/BI-32/33-C: a value longer than the characteristic's maximum size (its buffer)") {
    Fixture fx;
    // The buffer is 20 octets (ubluetooth's default maximum size). Vol 3 Part F 3.4.5.1:
    // a variable-length value longer than "the maximum valid length of the attribute
    // value" is Invalid Attribute Value Length; 3.4.5.3: a Write Command is ignored;
    // 3.4.6.3: an Execute Write discards the queue and answers Invalid Attribute Value
    // Length. ubluetooth's documentation instead cuts a client's write to the buffer
    // (and test_gatt_server.cpp GAW/BV-03-C checks that), so this is a decision to take.
    CHECK(fx.send({0x02, 0x00, 0x01}) == Bytes{0x03, 0x00, 0x01});  // Exchange MTU: 256, room for 21 octets
    CHECK(fx.send(Bytes{0x12, 0x2b, 0x00} + repeat(0x41, 20)) == Bytes{0x13});  // Write 0x002b, 20 octets: the most it holds
    CHECK(fx.value(0x2b) == repeat(0x41, 20));
    // FIXME(spec): 21 octets: expected 01 12 2b 00 0d with the value kept; the server
    // answers 13 and keeps the first 20.
    CHECK(fx.send(Bytes{0x12, 0x2b, 0x00} + repeat(0x44, 21)) == Bytes{0x13});  // Write 0x002b, 21 octets: one too many
    CHECK(fx.value(0x2b) == repeat(0x44, 20));
    // FIXME(spec): a Write Command of 21 octets should be ignored; the server writes 20.
    fx.set(0x2e, {'o', 'l', 'd'});
    CHECK_FALSE(fx.send(Bytes{0x52, 0x2e, 0x00} + repeat(0x45, 21)));
    CHECK(fx.value(0x2e) == repeat(0x45, 20));
    // FIXME(spec): a long write of 30 octets should end in 01 18 2b 00 0d with nothing
    // written; the server answers 19 and keeps 20 octets.
    CHECK(fx.send(Bytes{0x16, 0x2b, 0x00, 0x00, 0x00} + repeat(0x46, 18)) ==  // Prepare 0x002b, offset 0, 18 octets
          Bytes{0x17, 0x2b, 0x00, 0x00, 0x00} + repeat(0x46, 18));
    CHECK(fx.send(Bytes{0x16, 0x2b, 0x00, 0x12, 0x00} + repeat(0x46, 12)) ==  // offset 18, 12 more: 30 in all
          Bytes{0x17, 0x2b, 0x00, 0x12, 0x00} + repeat(0x46, 12));
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.value(0x2b) == repeat(0x46, 20));
}

TEST_CASE("GATT/SR/GAW/BI-33-C: a long write ending past 512 octets is Invalid Attribute Value Length; nothing written") {
    Fixture fx;
    Server big(fx.db, 517, [&fx](uint16_t h) { fx.written.push_back(h); });
    CHECK(ask(big, {0x02, 0x05, 0x02}) == Bytes{0x03, 0x05, 0x02});  // Exchange MTU: 517
    fx.set(0x2b, {0x01, 0x02, 0x03, 0x04});
    // A long write is a new value built from offset 0, as NimBLE (MicroPython's
    // stack) builds it: a first part at offset 1 has nothing before it.
    CHECK(ask(big, Bytes{0x16, 0x2b, 0x00, 0x01, 0x00} + repeat(0x77, 512)) ==  // Prepare 0x002b, offset 1, 512 octets
          Bytes{0x17, 0x2b, 0x00, 0x01, 0x00} + repeat(0x77, 512));            // echoed
    CHECK(ask(big, {0x18, 0x01}) == Bytes{0x01, 0x18, 0x2b, 0x00, 0x07});     // Execute: Invalid Offset
    CHECK(ask(big, Bytes{0x16, 0x2b, 0x00, 0x00, 0x00} + repeat(0x77, 512)) ==  // Prepare offset 0, 512 octets
          Bytes{0x17, 0x2b, 0x00, 0x00, 0x00} + repeat(0x77, 512));
    CHECK(ask(big, {0x16, 0x2b, 0x00, 0x00, 0x02, 0x78}) ==  // Prepare offset 512, 1 octet
          Bytes{0x17, 0x2b, 0x00, 0x00, 0x02, 0x78});
    // Execute: 512 + 1 > 512, Invalid Attribute Value Length
    CHECK(ask(big, {0x18, 0x01}) == Bytes{0x01, 0x18, 0x2b, 0x00, 0x0d});
    CHECK(fx.value(0x2b) == Bytes{0x01, 0x02, 0x03, 0x04});
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW/BI-33-C: at ATT_MTU 23, parts of 18 octets adding up past 512 are refused at execution") {
    Fixture fx;
    fx.allow(0x2b, 512);
    // 29 parts of 18 octets at offsets 0, 18, ..., 504: 522 octets in all.
    for (uint16_t offset = 0; offset <= 504; offset = static_cast<uint16_t>(offset + 18)) {
        Bytes part = repeat(static_cast<uint8_t>(offset), 18);
        Bytes head{0x16, 0x2b, 0x00, static_cast<uint8_t>(offset), static_cast<uint8_t>(offset >> 8)};  // Prepare 0x002b, offset
        Bytes echo{0x17, 0x2b, 0x00, static_cast<uint8_t>(offset), static_cast<uint8_t>(offset >> 8)};
        INFO("offset " << offset);
        CHECK(fx.send(head + part) == echo + part);
    }
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x2b, 0x00, 0x0d});  // Execute: Invalid Attribute Value Length
    CHECK(fx.value(0x2b).empty());
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW: Prepare Queue Full keeps the prepared writes; Execute Write writes them") {
    Fixture fx;
    fx.allow(0x2b, 64);
    for (size_t i = 0; i < Server::kMaxPreparedWrites; ++i) {
        auto offset = static_cast<uint8_t>(i);
        CHECK(fx.send({0x16, 0x2b, 0x00, offset, 0x00, offset}) ==  // Prepare 0x002b, offset i, the octet i
              Bytes{0x17, 0x2b, 0x00, offset, 0x00, offset});
    }
    CHECK(fx.send({0x16, 0x2b, 0x00, 0x40, 0x00, 0x40}) ==  // one more: offset 64
          Bytes{0x01, 0x16, 0x2b, 0x00, 0x09});             // Error Response, 0x002b, Prepare Queue Full
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});            // Execute Write: the 64 queued octets
    CHECK(fx.value(0x2b) == ramp(Server::kMaxPreparedWrites));
    CHECK(fx.written == std::vector<uint16_t>{0x2b});
}

TEST_CASE("GATT/SR/GAW: Execute Write with reserved flags is Invalid PDU and changes nothing") {
    Fixture fx;
    fx.set(0x2b, {'o', 'l', 'd'});
    CHECK(fx.send({0x16, 0x2b, 0x00, 0x00, 0x00, 'n', 'e', 'w'}) == Bytes{0x17, 0x2b, 0x00, 0x00, 0x00, 'n', 'e', 'w'});
    // flags 0x02: Error Response, handle 0x0000, Invalid PDU
    CHECK(fx.send({0x18, 0x02}) == Bytes{0x01, 0x18, 0x00, 0x00, 0x04});
    CHECK(fx.send({0x18, 0xff}) == Bytes{0x01, 0x18, 0x00, 0x00, 0x04});  // flags 0xff
    CHECK(fx.value(0x2b) == Bytes{'o', 'l', 'd'});
    CHECK(fx.written.empty());
    // An invalid request has no effect, so the queue is still there.
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.value(0x2b) == Bytes{'n', 'e', 'w'});
}

TEST_CASE("GATT/SR/GAW: a prepared CCCD is a fixed 2-octet value: parts write into it, longer is refused") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x00, 0x02}) == Bytes{0x13});  // Write CCCD 0x000d := 0x0200
    CHECK(fx.send({0x16, 0x0d, 0x00, 0x00, 0x00, 0x01}) ==          // Prepare CCCD 0x000d, offset 0, 1 octet 0x01
          Bytes{0x17, 0x0d, 0x00, 0x00, 0x00, 0x01});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});  // Execute: the first octet written, the second kept
    CHECK(fx.server.cccd(0x0d) == 0x0201);
    CHECK(fx.send({0x16, 0x0d, 0x00, 0x01, 0x00, 0x00}) ==  // Prepare, offset 1, 0x00
          Bytes{0x17, 0x0d, 0x00, 0x01, 0x00, 0x00});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.server.cccd(0x0d) == 0x0001);
    CHECK(fx.send({0x16, 0x0d, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00}) ==  // Prepare, offset 0, 3 octets
          Bytes{0x17, 0x0d, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x0d, 0x00, 0x0d});  // Execute: Invalid Attribute Value Length
    CHECK(fx.send({0x16, 0x0d, 0x00, 0x03, 0x00, 0x00}) ==                // Prepare, offset 3: past the 2 octets
          Bytes{0x17, 0x0d, 0x00, 0x03, 0x00, 0x00});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x0d, 0x00, 0x07});  // Execute: Invalid Offset
    CHECK(fx.server.cccd(0x0d) == 0x0001);
    CHECK(fx.written.empty());  // CCCDs raise no write event
}

TEST_CASE("GATT/SR/GAW: Execute Write is atomic: a refused value leaves every other queued value unwritten") {
    Fixture fx;
    // Vol 3 Part F 3.4.6.3: the request "shall be handled by the server as an atomic
    // operation"; when a prepared value exceeds the attribute's valid length "all
    // pending prepared write values shall be discarded".
    // Prepare RX 0x0013 "ab"
    CHECK(fx.send({0x16, 0x13, 0x00, 0x00, 0x00, 'a', 'b'}) == Bytes{0x17, 0x13, 0x00, 0x00, 0x00, 'a', 'b'});
    CHECK(fx.send({0x16, 0x27, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00}) ==  // Prepare CCCD 0x0027, 3 octets
          Bytes{0x17, 0x27, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x27, 0x00, 0x0d});  // Execute: 0x0027, Invalid Attribute Value Length
    CHECK(fx.server.cccd(0x27) == 0);
    CHECK(fx.value(0x13).empty());  // 0x0013 is not written either
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAW: Execute Write writes the prepared values in the order they were received") {
    Fixture fx;
    CHECK(fx.send({0x16, 0x2e, 0x00, 0x00, 0x00, 'x'}) == Bytes{0x17, 0x2e, 0x00, 0x00, 0x00, 'x'});  // Prepare 0x002e "x" first
    CHECK(fx.send({0x16, 0x2b, 0x00, 0x00, 0x00, 'y'}) == Bytes{0x17, 0x2b, 0x00, 0x00, 0x00, 'y'});  // then 0x002b "y"
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.value(0x2e) == Bytes{'x'});
    CHECK(fx.value(0x2b) == Bytes{'y'});
    // Vol 3 Part F 3.4.6.3: "in the order they were received".
    CHECK(fx.written == std::vector<uint16_t>{0x2e, 0x2b});
}

// ---------------------------------------------------------------------------
// GAN, GAI: notification and indication configuration (CCCDs)

TEST_CASE("GATT/SR/GAN/BV-01-C: CCCD 0x0001 enables notifications for this client") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x11, 0x00, 0x01, 0x00}) == Bytes{0x13});  // Write CCCD 0x0011 (TX) := 0x0001
    CHECK(fx.server.cccd(0x11) == 0x0001);
    CHECK(fx.send({0x0a, 0x11, 0x00}) == Bytes{0x0b, 0x01, 0x00});  // Read 0x0011
    CHECK(fx.value(0x11) == Bytes{0x00, 0x00});                     // the table's value is not this client's
    CHECK(fx.written.empty());
}

TEST_CASE("GATT/SR/GAI/BV-01-C: CCCD 0x0002 enables indications for this client") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x27, 0x00, 0x02, 0x00}) == Bytes{0x13});  // Write CCCD 0x0027 (0xfff5) := 0x0002
    CHECK(fx.server.cccd(0x27) == 0x0002);
    CHECK(fx.send({0x0a, 0x27, 0x00}) == Bytes{0x0b, 0x02, 0x00});  // Read 0x0027
    CHECK(fx.send({0x12, 0x27, 0x00, 0x00, 0x00}) == Bytes{0x13});  // 0x0000: off again
    CHECK(fx.send({0x0a, 0x27, 0x00}) == Bytes{0x0b, 0x00, 0x00});
    CHECK(fx.server.cccd(0x27) == 0);
}

TEST_CASE("GATT/SR/GAN: a CCCD value longer than 2 octets is Invalid Attribute Value Length") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x01, 0x00}) == Bytes{0x13});  // 0x0001 first
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x02, 0x00, 0x00}) == Bytes{0x01, 0x12, 0x0d, 0x00, 0x0d});  // 3 octets
    CHECK(fx.send(Bytes{0x12, 0x0d, 0x00} + repeat(0x02, 20)) == Bytes{0x01, 0x12, 0x0d, 0x00, 0x0d});  // 20 octets
    CHECK_FALSE(fx.send({0x52, 0x0d, 0x00, 0x02, 0x00, 0x00}));  // a Write Command of 3 octets: ignored
    CHECK(fx.server.cccd(0x0d) == 0x0001);  // unchanged
    CHECK(fx.send({0x0a, 0x0d, 0x00}) == Bytes{0x0b, 0x01, 0x00});
}

TEST_CASE("GATT/SR/GAN: a CCCD write shorter than 2 octets writes those octets and keeps the rest") {
    Fixture fx;
    // Vol 3 Part F 3.4.5.1 (and 3.4.5.3 for commands): "If the attribute value has a
    // fixed length and the Attribute Value parameter length is less than or equal to
    // the length of the attribute value, the octets of the attribute value parameter
    // length shall be written; all other octets in this attribute value shall be
    // unchanged." A CCCD is 2 octets (Part G 3.3.3.3).
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x01, 0x00}) == Bytes{0x13});  // 0x0001 first
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x02}) == Bytes{0x13});  // Write 0x000d, 1 octet 0x02: Write Response
    CHECK(fx.server.cccd(0x0d) == 0x0002);
    CHECK(fx.send({0x12, 0x0d, 0x00}) == Bytes{0x13});  // Write 0x000d, 0 octets: nothing changes
    CHECK(fx.server.cccd(0x0d) == 0x0002);
    CHECK_FALSE(fx.send({0x52, 0x0d, 0x00, 0x01}));  // a 1-octet Write Command: 0x0001
    CHECK(fx.server.cccd(0x0d) == 0x0001);
}

TEST_CASE("GATT/SR/GAN/GAI: each connection has its own CCCDs over one database") {
    Fixture fx;  // connection A
    std::vector<uint16_t> b_written;
    Server b(fx.db, 23, [&b_written](uint16_t h) { b_written.push_back(h); });  // connection B
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x01, 0x00}) == Bytes{0x13});  // A: 0x000d := 0x0001
    CHECK(fx.send({0x12, 0x27, 0x00, 0x02, 0x00}) == Bytes{0x13});  // A: 0x0027 := 0x0002
    CHECK(ask(b, {0x12, 0x09, 0x00, 0x02, 0x00}) == Bytes{0x13});   // B: 0x0009 := 0x0002
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x02, 0x29}) == Bytes{  // A: Read By Type, CCCD
        0x09, 0x04,              // 4 octets each
        0x09, 0x00, 0x00, 0x00,  // 0x0009: 0x0000
        0x0d, 0x00, 0x01, 0x00,  // 0x000d: 0x0001
        0x11, 0x00, 0x00, 0x00,  // 0x0011: 0x0000
        0x27, 0x00, 0x02, 0x00,  // 0x0027: 0x0002
    });
    CHECK(ask(b, {0x08, 0x01, 0x00, 0xff, 0xff, 0x02, 0x29}) == Bytes{  // B: the same request
        0x09, 0x04,              // 4 octets each
        0x09, 0x00, 0x02, 0x00,  // 0x0009: 0x0002
        0x0d, 0x00, 0x00, 0x00,  // 0x000d: 0x0000
        0x11, 0x00, 0x00, 0x00,  // 0x0011: 0x0000
        0x27, 0x00, 0x00, 0x00,  // 0x0027: 0x0000
    });
    CHECK(ask(b, {0x0e, 0x0d, 0x00, 0x09, 0x00}) == Bytes{0x0f, 0x00, 0x00, 0x02, 0x00});  // B: Read Multiple 0x000d 0x0009
    CHECK(fx.server.cccd(0x09) == 0);
    CHECK(b.cccd(0x0d) == 0);
    CHECK(fx.value(0x0d) == Bytes{0x00, 0x00});
    CHECK(fx.value(0x09) == Bytes{0x00, 0x00});
    Server c(fx.db, 23, [](uint16_t) {});  // a new connection starts with every CCCD 0x0000
    CHECK(ask(c, {0x0a, 0x0d, 0x00}) == Bytes{0x0b, 0x00, 0x00});
    CHECK(fx.written.empty());
    CHECK(b_written.empty());
}

TEST_CASE("GATT/SR/GAI: a Handle Value Confirmation with no indication outstanding gets no answer") {
    Fixture fx;
    CHECK_FALSE(fx.send({0x1e}));  // Handle Value Confirmation
    CHECK(fx.send({0x0a, 0x03, 0x00}) == Bytes{0x0b, 'p', 'i'});  // and the bearer carries on
}

// ---------------------------------------------------------------------------
// GAS: the GATT service

TEST_CASE("GATT/SR/GAS/BV-01-C: the GATT service has the Service Changed characteristic, indicate only, with a CCCD") {
    Fixture fx;
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x01, 0x18}) ==  // Find By Type Value, «Primary Service» 0x1801
          Bytes{0x07, 0x06, 0x00, 0x09, 0x00});                               // 0x0006-0x0009
    CHECK(fx.send({0x08, 0x06, 0x00, 0x09, 0x00, 0x03, 0x28}) ==  // Read By Type, 0x0006-0x0009, «Characteristic»
          Bytes{0x09, 0x07, 0x07, 0x00, 0x20, 0x08, 0x00, 0x05, 0x2a});  // 7 octets: 0x0007, indicate, value 0x0008, 0x2a05
    CHECK(fx.send({0x04, 0x09, 0x00, 0x09, 0x00}) ==  // Find Information, 0x0009: the descriptor after the value
          Bytes{0x05, 0x01, 0x09, 0x00, 0x02, 0x29});  // 16-bit, 0x0009 CCCD
    CHECK(fx.send({0x0a, 0x08, 0x00}) == Bytes{0x01, 0x0a, 0x08, 0x00, 0x02});  // the value: Read Not Permitted
}

TEST_CASE("GATT/SR/GAS/BV-01-C: a client enables Service Changed indications in its CCCD") {
    Fixture fx;
    CHECK(fx.send({0x0a, 0x09, 0x00}) == Bytes{0x0b, 0x00, 0x00});  // Read 0x0009: off
    CHECK(fx.send({0x12, 0x09, 0x00, 0x02, 0x00}) == Bytes{0x13});  // Write 0x0009 := 0x0002
    CHECK(fx.send({0x0a, 0x09, 0x00}) == Bytes{0x0b, 0x02, 0x00});
    CHECK(fx.server.cccd(0x09) == 0x0002);
    CHECK(fx.send({0x12, 0x08, 0x00, 0x01, 0x00, 0x2e, 0x00}) ==  // the value itself is not writable
          Bytes{0x01, 0x12, 0x08, 0x00, 0x03});
}

// ---------------------------------------------------------------------------
// ATT robustness: malformed, oversized, unknown and pipelined PDUs

TEST_CASE("ATT robustness: every request cut short is Invalid PDU for its opcode, handle 0x0000, and changes nothing") {
    // Each request at its shortest valid length; every shorter prefix is sent.
    const Bytes full = GENERATE(
        Bytes{0x02, 0x00, 0x01},                          // Exchange MTU Request, client 256
        Bytes{0x04, 0x01, 0x00, 0xff, 0xff},              // Find Information Request, 0x0001-0xffff
        Bytes{0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28},  // Find By Type Value Request, 0x0001-0xffff, 0x2800, empty value
        Bytes{0x08, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28},  // Read By Type Request, 0x0001-0xffff, 0x2803
        Bytes{0x0a, 0x2b, 0x00},                          // Read Request, 0x002b
        Bytes{0x0c, 0x2b, 0x00, 0x00, 0x00},              // Read Blob Request, 0x002b, offset 0
        Bytes{0x0e, 0x03, 0x00, 0x05, 0x00},              // Read Multiple Request, 0x0003 0x0005
        Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28},  // Read By Group Type Request, 0x0001-0xffff, 0x2800
        Bytes{0x12, 0x2b, 0x00},                          // Write Request, 0x002b, empty value
        Bytes{0x16, 0x2b, 0x00, 0x00, 0x00},              // Prepare Write Request, 0x002b, offset 0, empty part
        Bytes{0x18, 0x01},                                // Execute Write Request, flags 0x01
        Bytes{0x20, 0x03, 0x00, 0x05, 0x00});             // Read Multiple Variable Length Request, 0x0003 0x0005
    Fixture fx;
    fx.set(0x2b, {'v'});
    REQUIRE(fx.send({0x12, 0x27, 0x00, 0x02, 0x00}) == Bytes{0x13});  // a CCCD set, to see it stays
    fx.written.clear();
    auto before = fx.values();
    for (size_t n = 1; n < full.size(); ++n) {
        Bytes cut;
        for (size_t i = 0; i < n; ++i) cut.push_back(full[i]);
        INFO("request " << hex(cut));
        CHECK(fx.send(cut) == Bytes{0x01, full[0], 0x00, 0x00, 0x04});  // Error Response, the opcode, 0x0000, Invalid PDU
    }
    CHECK(fx.values() == before);
    CHECK(fx.server.cccd(0x27) == 0x0002);
    CHECK(fx.server.mtu() == 23);
    CHECK(fx.written.empty());
    // The request itself is well formed: no Invalid PDU for it.
    auto whole = fx.send(full);
    REQUIRE(whole);
    CHECK_FALSE(whole == Bytes{0x01, full[0], 0x00, 0x00, 0x04});
}

TEST_CASE("ATT robustness: extra octets after a fixed-size request, odd handle lists and bad UUID sizes are Invalid PDU") {
    Fixture fx;
    auto before = fx.values();
    // Each answer: Error Response, the request opcode, handle 0x0000, Invalid PDU.
    const Bytes requests[] = {
        {0x02, 0x00, 0x01, 0x00},                                     // Exchange MTU, 256, and 1 octet more
        {0x04, 0x01, 0x00, 0xff, 0xff, 0x00},                         // Find Information, 0x0001-0xffff, 1 more
        {0x0a, 0x03, 0x00, 0x00},                                     // Read 0x0003, 1 more
        {0x0c, 0x03, 0x00, 0x00, 0x00, 0x00},                         // Read Blob 0x0003, offset 0, 1 more
        {0x18, 0x01, 0x00},                                           // Execute Write, flags 0x01, 1 more
        {0x0e, 0x03, 0x00, 0x05, 0x00, 0x0d},                         // Read Multiple 0x0003 0x0005 and half a handle
        {0x20, 0x03, 0x00, 0x05, 0x00, 0x0d},                         // Read Multiple Variable, the same
        {0x08, 0x01, 0x00, 0xff, 0xff, 0x00, 0x2a, 0x00},             // Read By Type, 0x0001-0xffff, a 3-octet UUID
        {0x08, 0x01, 0x00, 0xff, 0xff, 0x00, 0x2a, 0x00, 0x00},       // a 4-octet (32-bit) UUID: ATT has none
        {0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x00, 0x00},       // Read By Group Type, a 4-octet UUID
        Bytes{0x08, 0x01, 0x00, 0xff, 0xff} + kUartTx + Bytes{0x00},  // Read By Type, a 17-octet UUID
    };
    for (const Bytes& request : requests) {
        INFO("request " << hex(request));
        CHECK(fx.send(request) == Bytes{0x01, request[0], 0x00, 0x00, 0x04});
    }
    CHECK(fx.values() == before);
    CHECK(fx.server.mtu() == 23);
}

TEST_CASE("ATT robustness: truncated Write and Signed Write Commands get no answer and write nothing") {
    Fixture fx;
    auto before = fx.values();
    CHECK_FALSE(fx.send({0x52}));        // Write Command, no handle
    CHECK_FALSE(fx.send({0x52, 0x2e}));  // half a handle
    Bytes signed_write{0xd2, 0x2e, 0x00, 0x01};  // Signed Write Command 0x002e, value 0x01
    for (uint8_t i = 0; i < 12; ++i) signed_write.push_back(i);  // and a 12-octet signature
    for (size_t n = 1; n <= signed_write.size(); ++n) {
        Bytes cut;
        for (size_t i = 0; i < n; ++i) cut.push_back(signed_write[i]);
        INFO("command " << hex(cut));
        CHECK_FALSE(fx.send(cut));
    }
    CHECK(fx.values() == before);
    CHECK(fx.written.empty());
}

TEST_CASE("ATT robustness: handle 0x0000 in every request that takes handles is Invalid Handle") {
    Fixture fx;
    // Each answer: Error Response, the request opcode, handle 0x0000, Invalid Handle.
    const Bytes requests[] = {
        {0x04, 0x00, 0x00, 0xff, 0xff},                          // Find Information, 0x0000-0xffff
        {0x06, 0x00, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0d, 0x18},  // Find By Type Value, 0x0000-0xffff, 0x2800 = 0x180d
        {0x08, 0x00, 0x00, 0xff, 0xff, 0x03, 0x28},              // Read By Type, 0x0000-0xffff, 0x2803
        {0x0a, 0x00, 0x00},                                      // Read 0x0000
        {0x0c, 0x00, 0x00, 0x00, 0x00},                          // Read Blob 0x0000, offset 0
        {0x0e, 0x00, 0x00, 0x03, 0x00},                          // Read Multiple 0x0000 0x0003
        {0x0e, 0x03, 0x00, 0x00, 0x00},                          // Read Multiple 0x0003 0x0000
        {0x10, 0x00, 0x00, 0xff, 0xff, 0x00, 0x28},              // Read By Group Type, 0x0000-0xffff, 0x2800
        {0x12, 0x00, 0x00, 0x01},                                // Write 0x0000 := 01
        {0x16, 0x00, 0x00, 0x00, 0x00, 0x01},                    // Prepare Write 0x0000, offset 0, 01
        {0x20, 0x00, 0x00, 0x03, 0x00},                          // Read Multiple Variable 0x0000 0x0003
        {0x20, 0x03, 0x00, 0x00, 0x00},                          // Read Multiple Variable 0x0003 0x0000
    };
    for (const Bytes& request : requests) {
        INFO("request " << hex(request));
        CHECK(fx.send(request) == Bytes{0x01, request[0], 0x00, 0x00, 0x01});
    }
    CHECK_FALSE(fx.send({0x52, 0x00, 0x00, 0x01}));  // Write Command 0x0000: no answer
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});      // nothing got queued
    CHECK(fx.written.empty());
}

TEST_CASE("ATT robustness: a range with start > end is Invalid Handle for the start handle") {
    Fixture fx;
    CHECK(fx.send({0x04, 0x05, 0x00, 0x04, 0x00}) == Bytes{0x01, 0x04, 0x05, 0x00, 0x01});  // Find Information 0x0005-0x0004
    CHECK(fx.send({0x06, 0x0b, 0x00, 0x0a, 0x00, 0x00, 0x28, 0x0d, 0x18}) ==                // Find By Type Value 0x000b-0x000a
          Bytes{0x01, 0x06, 0x0b, 0x00, 0x01});
    CHECK(fx.send({0x08, 0x0a, 0x00, 0x09, 0x00, 0x03, 0x28}) ==                            // Read By Type 0x000a-0x0009
          Bytes{0x01, 0x08, 0x0a, 0x00, 0x01});
    CHECK(fx.send({0x10, 0xff, 0xff, 0x01, 0x00, 0x00, 0x28}) ==                            // Read By Group Type 0xffff-0x0001
          Bytes{0x01, 0x10, 0xff, 0xff, 0x01});
    // start = end is a valid range of one handle.
    CHECK(fx.send({0x04, 0x05, 0x00, 0x05, 0x00}) == Bytes{0x05, 0x01, 0x05, 0x00, 0x01, 0x2a});  // 0x0005 Appearance
    CHECK(fx.send({0x08, 0x03, 0x00, 0x03, 0x00, 0x00, 0x2a}) == Bytes{0x09, 0x04, 0x03, 0x00, 'p', 'i'});
    CHECK(fx.send({0x04, 0xff, 0xff, 0xff, 0xff}) == Bytes{0x01, 0x04, 0xff, 0xff, 0x0a});  // 0xffff alone: Attribute Not Found
}

TEST_CASE("ATT robustness: a PDU longer than ATT_MTU is Invalid PDU (a command: dropped), until the MTU grows") {
    Fixture fx;
    Bytes write24 = Bytes{0x12, 0x2b, 0x00} + repeat(0x61, 21);  // Write Request 0x002b: 24 octets, ATT_MTU is 23
    CHECK(fx.send(write24) == Bytes{0x01, 0x12, 0x00, 0x00, 0x04});  // Error Response, Write Request, 0x0000, Invalid PDU
    CHECK_FALSE(fx.send(Bytes{0x52, 0x2e, 0x00} + repeat(0x61, 21)));  // Write Command, 24 octets: dropped
    CHECK(fx.send(Bytes{0x0a, 0x03, 0x00} + repeat(0x00, 21)) ==     // Read Request padded to 24 octets
          Bytes{0x01, 0x0a, 0x00, 0x00, 0x04});
    CHECK(fx.value(0x2b).empty());
    CHECK(fx.value(0x2e).empty());
    CHECK(fx.send({0x02, 0x64, 0x00}) == Bytes{0x03, 0x00, 0x01});  // Exchange MTU: 100
    fx.allow(0x2b, 21);
    CHECK(fx.send(write24) == Bytes{0x13});                          // now it fits
    CHECK(fx.value(0x2b) == repeat(0x61, 21));
    CHECK(fx.written == std::vector<uint16_t>{0x2b});
}

TEST_CASE("ATT robustness: pipelined requests are answered one by one, in order, on consistent state") {
    Fixture fx;
    std::vector<std::pair<Bytes, Bytes>> exchange{
        {{0x12, 0x2b, 0x00, 'a', 'b'}, {0x13}},                                        // Write 0x002b "ab"
        {{0x0a, 0x2b, 0x00}, {0x0b, 'a', 'b'}},                                        // Read it
        {{0x16, 0x2b, 0x00, 0x00, 0x00, 'a', 'b'}, {0x17, 0x2b, 0x00, 0x00, 0x00, 'a', 'b'}},  // Prepare offset 0 "ab"
        {{0x16, 0x2b, 0x00, 0x02, 0x00, 'c', 'd'}, {0x17, 0x2b, 0x00, 0x02, 0x00, 'c', 'd'}},  // Prepare offset 2 "cd"
        {{0x0a, 0x2b, 0x00}, {0x0b, 'a', 'b'}},                                        // not written yet
        {{0x12, 0x0d, 0x00, 0x01, 0x00}, {0x13}},                                      // CCCD 0x000d := 0x0001 meanwhile
        {{0x18, 0x01}, {0x19}},                                                        // Execute Write
        {{0x0a, 0x2b, 0x00}, {0x0b, 'a', 'b', 'c', 'd'}},                              // "abcd"
        {{0x0a, 0x2f, 0x00}, {0x01, 0x0a, 0x2f, 0x00, 0x01}},                          // an error in between
        {{0x0e, 0x2b, 0x00, 0x0d, 0x00}, {0x0f, 'a', 'b', 'c', 'd', 0x01, 0x00}},      // Read Multiple 0x002b 0x000d
        {{0x02, 0x20, 0x00}, {0x03, 0x00, 0x01}},                                      // Exchange MTU: 32
        {{0x0c, 0x2b, 0x00, 0x04, 0x00}, {0x0d}},                                      // Read Blob, offset 4 = the length
        {{0x3f}, {0x01, 0x3f, 0x00, 0x00, 0x06}},                                      // unknown request: Request Not Supported
        {{0x0a, 0x03, 0x00}, {0x0b, 'p', 'i'}},                                        // and on
    };
    for (const auto& [request, response] : exchange) {
        INFO("request " << hex(request));
        CHECK(fx.send(request) == response);
    }
    CHECK(fx.server.mtu() == 32);
    CHECK(fx.written == std::vector<uint16_t>{0x2b, 0x2b});
}

TEST_CASE("GATT/SR/UNS/BI-01-C: unsupported requests are answered Request Not Supported, handle 0x0000") {
    Fixture fx;
    auto before = fx.values();
    // Request opcodes (command flag 0) that ATT does not define, some with the
    // authentication signature flag (bit 7) and then a 12-octet signature.
    const uint8_t opcode = GENERATE(as<uint8_t>{}, 0x00, 0x14, 0x15, 0x1a, 0x1c, 0x1f, 0x22, 0x24, 0x2f, 0x3f, 0x8a, 0x92, 0xbf);
    Bytes pdu{opcode};
    for (uint8_t i = 0; i < 6; ++i) pdu.push_back(static_cast<uint8_t>(opcode * 7 + i * 31));  // parameters, any octets
    if (opcode & 0x80) {
        for (uint8_t i = 0; i < 12; ++i) pdu.push_back(static_cast<uint8_t>(0xc0 + i));  // signature
    }
    INFO("request " << hex(pdu));
    CHECK(fx.send(pdu) == Bytes{0x01, opcode, 0x00, 0x00, 0x06});  // Error Response, the opcode, 0x0000, Request Not Supported
    CHECK(fx.send({opcode}) == Bytes{0x01, opcode, 0x00, 0x00, 0x06});  // without parameters too
    CHECK(fx.values() == before);
}

TEST_CASE("GATT/SR/UNS/BI-02-C: unsupported commands are ignored") {
    Fixture fx;
    auto before = fx.values();
    // Command flag (bit 6) set, not Write Command 0x52 nor Signed Write Command 0xd2.
    const uint8_t opcode = GENERATE(as<uint8_t>{}, 0x40, 0x41, 0x4a, 0x53, 0x5e, 0x60, 0x72, 0x7f, 0xc0, 0xd3, 0xff);
    Bytes pdu{opcode, 0x2b, 0x00, 0x01, 0x02};  // parameters that look like a handle and a value
    if (opcode & 0x80) {
        for (uint8_t i = 0; i < 12; ++i) pdu.push_back(static_cast<uint8_t>(0xc0 + i));  // signature
    }
    INFO("command " << hex(pdu));
    CHECK_FALSE(fx.send(pdu));
    CHECK_FALSE(fx.send({opcode}));
    CHECK(fx.values() == before);
    CHECK(fx.written.empty());
    CHECK(fx.send({0x0a, 0x03, 0x00}) == Bytes{0x0b, 'p', 'i'});  // the bearer carries on
}
