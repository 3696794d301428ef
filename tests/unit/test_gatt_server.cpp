// The ATT server, PDU in and PDU out, byte for byte. Cases are named after
// the GATT test specification's server tests (GATT/SR/...) they follow;
// comments spell out every field.
#include <catch2/catch.hpp>

#include "gatt/server.hpp"
#include "gatt_test_services.hpp"

using namespace ubt;
using namespace ubt::gatt;
using att::Uuid;

namespace {

using test::uuid;
using test::repeat;
using test::operator+;

std::vector<ServiceDef> services() { return test::heart_rate_uart_battery(); }

struct Fixture {
    Database db;
    std::vector<uint16_t> written;
    Server server{db, 256, [this](uint16_t h) { written.push_back(h); }};
    LinkSecurity link;

    Fixture() { db.build(services(), "pi"); }
    std::optional<Bytes> send(const Bytes& pdu) { return server.handle(pdu, link); }
    void set(uint16_t handle, Bytes value) {
        db.find(handle)->capacity = std::max(db.find(handle)->capacity, value.size());
        db.find(handle)->value = std::move(value);
    }
};

}  // namespace

TEST_CASE("GATT/SR/GAC/BV-01-C: MTU exchange answers our MTU and uses the smaller one") {
    Fixture fx;
    CHECK(fx.send({0x02, 0x00, 0x02}) == Bytes{0x03, 0x00, 0x01});  // client 512 -> we offer 256
    CHECK(fx.server.mtu() == 256);
    CHECK(fx.send({0x02, 0x16, 0x00}) == Bytes{0x03, 0x00, 0x01});  // client 22: below the minimum
    CHECK(fx.server.mtu() == 23);
}

TEST_CASE("GATT/SR/GAD/BV-01-C: discover all primary services with Read By Group Type") {
    Fixture fx;
    CHECK(fx.send({0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28}) == Bytes{
        0x11, 0x06,                          // Read By Group Type Response, 6 octets per entry
        0x01, 0x00, 0x05, 0x00, 0x00, 0x18,  // 0x0001-0x0005 GAP
        0x06, 0x00, 0x09, 0x00, 0x01, 0x18,  // 0x0006-0x0009 GATT
        0x0a, 0x00, 0x0d, 0x00, 0x0d, 0x18,  // 0x000a-0x000d heart rate; 20 octets of the 23
    });
    Bytes uart{0x11, 0x14, 0x0e, 0x00, 0x14, 0x00};  // 20 octets per entry: 0x000e-0x0014 and a 128-bit UUID
    for (uint8_t b : uuid("6e400001-b5a3-f393-e0a9-e50e24dcca9e").att_bytes()) uart.push_back(b);
    CHECK(fx.send({0x10, 0x0e, 0x00, 0xff, 0xff, 0x00, 0x28}) == uart);
    CHECK(fx.send({0x10, 0x15, 0x00, 0xff, 0xff, 0x00, 0x28}) == Bytes{0x11, 0x06, 0x15, 0x00, 0x1b, 0x00, 0x0f, 0x18});
    // Past the last service: Attribute Not Found for the start handle.
    CHECK(fx.send({0x10, 0x1c, 0x00, 0xff, 0xff, 0x00, 0x28}) == Bytes{0x01, 0x10, 0x1c, 0x00, 0x0a});
}

TEST_CASE("GATT/SR/GAD/BI-01-C: Read By Group Type with a bad range or group type") {
    Fixture fx;
    CHECK(fx.send({0x10, 0x00, 0x00, 0xff, 0xff, 0x00, 0x28}) == Bytes{0x01, 0x10, 0x00, 0x00, 0x01});  // handle 0
    CHECK(fx.send({0x10, 0x05, 0x00, 0x04, 0x00, 0x00, 0x28}) == Bytes{0x01, 0x10, 0x05, 0x00, 0x01});  // start > end
    // A characteristic declaration is no grouping type.
    CHECK(fx.send({0x10, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28}) == Bytes{0x01, 0x10, 0x01, 0x00, 0x10});
}

TEST_CASE("GATT/SR/GAD/BV-02-C: discover a primary service by UUID with Find By Type Value") {
    Fixture fx;
    // 0x0001-0xffff, type 0x2800, value 0x180d -> 0x000a-0x000d.
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0d, 0x18}) == Bytes{0x07, 0x0a, 0x00, 0x0d, 0x00});
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x99, 0x18}) == Bytes{0x01, 0x06, 0x01, 0x00, 0x0a});
}

TEST_CASE("GATT/SR/GAD/BV-04-C: discover the characteristics of a service with Read By Type") {
    Fixture fx;
    CHECK(fx.send({0x08, 0x0a, 0x00, 0x0d, 0x00, 0x03, 0x28}) == Bytes{
        0x09, 0x07,                    // Read By Type Response, 7 octets per entry
        0x0b, 0x00,                    // declaration 0x000b
        0x12, 0x0c, 0x00, 0x37, 0x2a,  // properties read|notify, value handle 0x000c, UUID 0x2a37
    });
    // The UART characteristics have 128-bit UUIDs: 21 octets each, one per response at MTU 23.
    auto tx = fx.send({0x08, 0x0e, 0x00, 0x14, 0x00, 0x03, 0x28});
    REQUIRE(tx);
    CHECK(tx->size() == 2 + 21);
    CHECK((*tx)[1] == 21);
    CHECK((*tx)[2] == 0x0f);
}

TEST_CASE("GATT/SR/GAD/BV-06-C: discover descriptors with Find Information") {
    Fixture fx;
    // 0x000c-0x000d: the value and its CCCD, 16-bit format.
    CHECK(fx.send({0x04, 0x0c, 0x00, 0x0d, 0x00}) == Bytes{0x05, 0x01, 0x0c, 0x00, 0x37, 0x2a, 0x0d, 0x00, 0x02, 0x29});
    // 0x0010 has a 128-bit type: format 2, alone.
    auto r = fx.send({0x04, 0x10, 0x00, 0x11, 0x00});
    REQUIRE(r);
    CHECK(r->size() == 2 + 18);
    CHECK((*r)[1] == 0x02);
    CHECK(fx.send({0x04, 0x30, 0x00, 0x40, 0x00}) == Bytes{0x01, 0x04, 0x30, 0x00, 0x0a});
    CHECK(fx.send({0x04, 0x00, 0x00, 0x40, 0x00}) == Bytes{0x01, 0x04, 0x00, 0x00, 0x01});
}

TEST_CASE("GATT/SR/GAR/BV-01-C and BI-01/02-C: read a characteristic value; invalid handle; not permitted") {
    Fixture fx;
    fx.set(12, {'a', 'b', 'c'});
    CHECK(fx.send({0x0a, 0x0c, 0x00}) == Bytes{0x0b, 'a', 'b', 'c'});
    CHECK(fx.send({0x0a, 0x99, 0x00}) == Bytes{0x01, 0x0a, 0x99, 0x00, 0x01});  // Invalid Handle
    CHECK(fx.send({0x0a, 0x00, 0x00}) == Bytes{0x01, 0x0a, 0x00, 0x00, 0x01});
    CHECK(fx.send({0x0a, 0x1b, 0x00}) == Bytes{0x01, 0x0a, 0x1b, 0x00, 0x02});  // Read Not Permitted
}

TEST_CASE("GATT/SR/GAR/BI-04/05-C: security flags need an encrypted or authenticated link") {
    Fixture fx;
    CHECK(fx.send({0x0a, 0x17, 0x00}) == Bytes{0x01, 0x0a, 0x17, 0x00, 0x0f});  // Insufficient Encryption
    CHECK(fx.send({0x0a, 0x19, 0x00}) == Bytes{0x01, 0x0a, 0x19, 0x00, 0x05});  // Insufficient Authentication
    fx.link.encrypted = true;
    CHECK(fx.send({0x0a, 0x17, 0x00}) == Bytes{0x0b});
    CHECK(fx.send({0x0a, 0x19, 0x00}) == Bytes{0x01, 0x0a, 0x19, 0x00, 0x05});
    fx.link.authenticated = true;
    CHECK(fx.send({0x0a, 0x19, 0x00}) == Bytes{0x0b});
}

TEST_CASE("GATT/SR/GAR/BV-03-C: read by characteristic UUID with Read By Type") {
    Fixture fx;
    fx.set(12, {0x42});
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x37, 0x2a}) == Bytes{0x09, 0x03, 0x0c, 0x00, 0x42});
    // The first match not readable: its error, for its handle.
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x1b, 0x2a}) == Bytes{0x01, 0x08, 0x1b, 0x00, 0x02});
    CHECK(fx.send({0x08, 0x01, 0x00, 0xff, 0xff, 0x99, 0x2a}) == Bytes{0x01, 0x08, 0x01, 0x00, 0x0a});
}

TEST_CASE("GATT/SR/GAR/BV-04-C and BI-13-C: read a long value with Read Blob; offset past the end") {
    Fixture fx;
    Bytes value(30);
    for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>(i);
    fx.set(12, value);
    auto first = fx.send({0x0a, 0x0c, 0x00});
    REQUIRE(first);
    CHECK(*first == Bytes(1, 0x0b) + Bytes(value.begin(), value.begin() + 22));  // ATT_MTU - 1 octets
    Bytes rest{0x0d};
    rest.insert(rest.end(), value.begin() + 22, value.end());
    CHECK(fx.send({0x0c, 0x0c, 0x00, 0x16, 0x00}) == rest);                      // offset 22
    CHECK(fx.send({0x0c, 0x0c, 0x00, 0x1e, 0x00}) == Bytes{0x0d});               // offset 30: nothing left
    CHECK(fx.send({0x0c, 0x0c, 0x00, 0x1f, 0x00}) == Bytes{0x01, 0x0c, 0x0c, 0x00, 0x07});  // Invalid Offset
    CHECK(fx.send({0x0c, 0x1b, 0x00, 0x00, 0x00}) == Bytes{0x01, 0x0c, 0x1b, 0x00, 0x02});
}

TEST_CASE("GATT/SR/GAR/BV-05-C: Read Multiple and Read Multiple Variable") {
    Fixture fx;
    fx.set(12, {0x01, 0x02});
    fx.set(16, {0x03});
    CHECK(fx.send({0x0e, 0x0c, 0x00, 0x10, 0x00}) == Bytes{0x0f, 0x01, 0x02, 0x03});
    CHECK(fx.send({0x20, 0x0c, 0x00, 0x10, 0x00}) == Bytes{0x21, 0x02, 0x00, 0x01, 0x02, 0x01, 0x00, 0x03});
    CHECK(fx.send({0x0e, 0x0c, 0x00, 0x99, 0x00}) == Bytes{0x01, 0x0e, 0x99, 0x00, 0x01});  // the bad handle named
    CHECK(fx.send({0x0e, 0x0c, 0x00, 0x1b, 0x00}) == Bytes{0x01, 0x0e, 0x1b, 0x00, 0x02});
    CHECK(fx.send({0x0e, 0x0c, 0x00}) == Bytes{0x01, 0x0e, 0x00, 0x00, 0x04});  // one handle: Invalid PDU
    // At MTU 23 the values are cut to 22 octets in all.
    fx.set(12, repeat(0xaa, 20));
    fx.set(16, repeat(0xbb, 20));
    auto r = fx.send({0x0e, 0x0c, 0x00, 0x10, 0x00});
    REQUIRE(r);
    CHECK(r->size() == 23);
}

TEST_CASE("GATT/SR/GAW/BV-03-C and BI-02/03-C: Write Request; invalid handle; not permitted") {
    Fixture fx;
    CHECK(fx.send({0x12, 0x13, 0x00, 'h', 'i'}) == Bytes{0x13});
    CHECK(fx.db.find(0x13)->value == Bytes{'h', 'i'});
    CHECK(fx.written == std::vector<uint16_t>{0x13});
    CHECK(fx.send({0x12, 0x99, 0x00, 'h'}) == Bytes{0x01, 0x12, 0x99, 0x00, 0x01});
    CHECK(fx.send({0x12, 0x0c, 0x00, 'h'}) == Bytes{0x01, 0x12, 0x0c, 0x00, 0x03});
    CHECK(fx.written.size() == 1);  // refused writes raise no event
    // ubluetooth cuts a client's write to the buffer size (20 by default).
    fx.send({0x02, 0x00, 0x01});  // MTU 256, for a 25-octet value
    CHECK(fx.send(Bytes{0x12, 0x13, 0x00} + repeat(0x55, 25)) == Bytes{0x13});
    CHECK(fx.db.find(0x13)->value == repeat(0x55, 20));
}

TEST_CASE("GATT/SR/GAW/BV-01-C: Write Command writes silently, and only where allowed") {
    Fixture fx;
    CHECK_FALSE(fx.send({0x52, 0x13, 0x00, 'x'}));
    CHECK(fx.db.find(0x13)->value == Bytes{'x'});
    CHECK(fx.written == std::vector<uint16_t>{0x13});
    CHECK_FALSE(fx.send({0x52, 0x1b, 0x00, 'y'}));  // write with response only: ignored
    CHECK(fx.db.find(0x1b)->value.empty());
    CHECK_FALSE(fx.send({0x52, 0x99, 0x00, 'y'}));
    CHECK_FALSE(fx.send({0x52, 0x13}));  // truncated command: dropped
    CHECK(fx.written.size() == 1);
}

TEST_CASE("GATT/SR/GAN/BV-01-C: a client configures notifications in its own CCCD") {
    Fixture fx;
    CHECK(fx.send({0x0a, 0x0d, 0x00}) == Bytes{0x0b, 0x00, 0x00});
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x01, 0x00}) == Bytes{0x13});
    CHECK(fx.server.cccd(0x0d) == 1);
    CHECK(fx.send({0x0a, 0x0d, 0x00}) == Bytes{0x0b, 0x01, 0x00});
    CHECK(fx.written.empty());  // a CCCD write is no GATTS_WRITE
    CHECK(fx.send({0x12, 0x0d, 0x00, 0x01, 0x00, 0x00}) == Bytes{0x01, 0x12, 0x0d, 0x00, 0x0d});  // 3 octets: Invalid Attribute Value Length
    Server other(fx.db, 23, nullptr);
    CHECK(other.cccd(0x0d) == 0);  // each connection has its own
}

TEST_CASE("GATT/SR/GAW/BV-05-C and BI-07/09-C: long writes with Prepare and Execute Write") {
    Fixture fx;
    fx.db.find(0x13)->capacity = 40;
    Bytes a = repeat(0x11, 18), b = repeat(0x22, 12);
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0x00, 0x00} + a) == Bytes{0x17, 0x13, 0x00, 0x00, 0x00} + a);  // echoed
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0x12, 0x00} + b) == Bytes{0x17, 0x13, 0x00, 0x12, 0x00} + b);
    CHECK(fx.db.find(0x13)->value.empty());  // nothing written before the execute
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});
    CHECK(fx.db.find(0x13)->value == a + b);
    CHECK(fx.written == std::vector<uint16_t>{0x13});

    // An offset past the value built so far writes nothing.
    CHECK(fx.send(Bytes{0x16, 0x1b, 0x00, 0x05, 0x00, 0x01}) == Bytes{0x17, 0x1b, 0x00, 0x05, 0x00, 0x01});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x1b, 0x00, 0x07});
    CHECK(fx.db.find(0x1b)->value.empty());

    // Cancelled: nothing written.
    fx.send(Bytes{0x16, 0x13, 0x00, 0x00, 0x00, 0x99});
    CHECK(fx.send({0x18, 0x00}) == Bytes{0x19});
    CHECK(fx.db.find(0x13)->value == a + b);

    // More prepared writes than the queue holds: Prepare Queue Full.
    for (size_t i = 0; i < Server::kMaxPreparedWrites; ++i) {
        CHECK(fx.send({0x16, 0x13, 0x00, 0x00, 0x00, 0x01})->at(0) == 0x17);
    }
    CHECK(fx.send({0x16, 0x13, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x13, 0x00, 0x09});
    CHECK(fx.send({0x18, 0x00}) == Bytes{0x19});
    CHECK(fx.send({0x18, 0x02}) == Bytes{0x01, 0x18, 0x00, 0x00, 0x04});  // unknown flags: Invalid PDU
    CHECK(fx.send({0x16, 0x0c, 0x00, 0x00, 0x00, 0x01}) == Bytes{0x01, 0x16, 0x0c, 0x00, 0x03});  // not writable
}

TEST_CASE("a prepared write beyond 512 octets is Invalid Attribute Value Length") {
    Fixture fx;
    fx.send({0x02, 0x00, 0x01});  // MTU 256
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0x00, 0x02} + repeat(1, 1)) == Bytes{0x17, 0x13, 0x00, 0x00, 0x02, 0x01});
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x13, 0x00, 0x07});  // offset 512 past the empty value
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0x00, 0x00} + repeat(1, 250))->at(0) == 0x17);
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0xfa, 0x00} + repeat(1, 250))->at(0) == 0x17);
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0xf4, 0x01} + repeat(1, 13))->at(0) == 0x17);  // to octet 513
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x01, 0x18, 0x13, 0x00, 0x0d});
    CHECK(fx.db.find(0x13)->value.empty());
}

TEST_CASE("a PDU longer than ATT_MTU is Invalid PDU (a command: dropped)") {
    Fixture fx;
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0x00, 0x00} + repeat(1, 19)) == Bytes{0x01, 0x16, 0x00, 0x00, 0x04});
    CHECK(fx.send(Bytes{0x16, 0x13, 0x00, 0x00, 0x00} + repeat(1, 18))->at(0) == 0x17);  // exactly 23 octets
    CHECK_FALSE(fx.send(Bytes{0x52, 0x13, 0x00} + repeat(1, 21)));
    CHECK(fx.written.empty());
}

TEST_CASE("unknown requests are answered Request Not Supported, unknown commands ignored") {
    Fixture fx;
    CHECK(fx.send({0x3f, 0x01}) == Bytes{0x01, 0x3f, 0x00, 0x00, 0x06});
    CHECK_FALSE(fx.send({0x7f, 0x01}));
    CHECK_FALSE(fx.send({}));
    CHECK_FALSE(fx.send({0x1e}));  // a confirmation gets no answer
}

TEST_CASE("every request cut short is Invalid PDU, and changes nothing") {
    Fixture fx;
    // Full requests; each is tried at every shorter length down to its opcode.
    const std::vector<Bytes> requests{
        {0x02, 0x00, 0x02},
        {0x04, 0x01, 0x00, 0xff, 0xff},
        {0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28},
        {0x08, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28},
        {0x0a, 0x0c, 0x00},
        {0x0c, 0x0c, 0x00, 0x00, 0x00},
        {0x0e, 0x0c, 0x00, 0x10, 0x00},
        {0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28},
        {0x12, 0x13, 0x00},
        {0x16, 0x13, 0x00, 0x00, 0x00},
        {0x18, 0x01},
        {0x20, 0x0c, 0x00, 0x10, 0x00},
    };
    for (const auto& full : requests) {
        for (size_t n = 1; n < full.size(); ++n) {
            Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            INFO("request " << hex(cut));
            CHECK(fx.send(cut) == Bytes{0x01, full[0], 0x00, 0x00, 0x04});
        }
        Bytes longer = full;
        longer.push_back(0x00);
        if (full[0] == 0x02 || full[0] == 0x04 || full[0] == 0x0a || full[0] == 0x0c || full[0] == 0x18) {
            INFO("request " << hex(longer));
            CHECK(fx.send(longer) == Bytes{0x01, full[0], 0x00, 0x00, 0x04});  // fixed-size PDUs take nothing more
        }
    }
    CHECK(fx.written.empty());
    CHECK(fx.server.mtu() == 23);
}

TEST_CASE("a long write into an append buffer appends the whole new value, as a plain write would") {
    Fixture fx;
    auto* rx = fx.db.find(0x13);
    rx->append = true;
    rx->capacity = 64;
    rx->value = {'A', 'B', 'C', 'D', 'E', 'F'};
    CHECK(fx.send({0x16, 0x13, 0x00, 0x00, 0x00, 'x', 'y'}) == Bytes{0x17, 0x13, 0x00, 0x00, 0x00, 'x', 'y'});  // Prepare offset 0
    CHECK(fx.send({0x16, 0x13, 0x00, 0x02, 0x00, 'z'}) == Bytes{0x17, 0x13, 0x00, 0x02, 0x00, 'z'});            // offset 2
    CHECK(fx.send({0x18, 0x01}) == Bytes{0x19});                                                                // Execute
    CHECK(rx->value == Bytes{'A', 'B', 'C', 'D', 'E', 'F', 'x', 'y', 'z'});
    CHECK(fx.written == std::vector<uint16_t>{0x13});  // one GATTS_WRITE for the whole value
}

TEST_CASE("while reads are asked about, Find By Type Value does not compare application values") {
    Fixture fx;
    fx.set(0x0c, {0x42});
    // Find By Type Value 0x0001-0xffff, type 0x2a37, value 42: found while nobody is asked ...
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x37, 0x2a, 0x42}) == Bytes{0x07, 0x0c, 0x00, 0x0c, 0x00});
    fx.server.ask_before_reads(true);
    // ... and not while the application decides who reads it: Attribute Not Found.
    CHECK(fx.send({0x06, 0x01, 0x00, 0xff, 0xff, 0x37, 0x2a, 0x42}) == Bytes{0x01, 0x06, 0x01, 0x00, 0x0a});
    CHECK(fx.server.held_reads().empty());
}
