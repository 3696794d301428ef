// The GATT client, PDU out and PDU in, byte for byte. Cases are named after
// the GATT test specification's client tests (GATT/CL/...) they follow, the
// rest after what they check; comments spell out every field. Not offered by
// the ubluetooth API, so not here: GATT/CL/GAD/BV-03-C (find included
// services), GATT/CL/GAR/BV-03-C (read by characteristic UUID), Read
// Multiple, signed and reliable writes.
//
// A procedure's DONE result comes with the first next_request() after its
// last response (or at once, from handle(), when an error response or a bad
// response ends it); the cases read the log after the client has nothing
// more to send.
#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "error_of.hpp"
#include "gatt/client.hpp"

using namespace ubt;
using namespace ubt::gatt;
using att::Uuid;
using test::error_of;
using Log = std::vector<std::string>;

namespace {

Uuid uuid(const char* text) { return *Uuid::parse(text); }

// 6e400001-b5a3-f393-e0a9-e50e24dcca9e (the UART service) as ATT carries it: little-endian.
const Bytes kUartService{0x9e, 0xca, 0xdc, 0x24, 0x0e, 0xe5, 0xa9, 0xe0,
                         0x93, 0xf3, 0xa3, 0xb5, 0x01, 0x00, 0x40, 0x6e};
// 6e400003-b5a3-f393-e0a9-e50e24dcca9e (its TX characteristic), little-endian.
const Bytes kUartTx{0x9e, 0xca, 0xdc, 0x24, 0x0e, 0xe5, 0xa9, 0xe0,
                    0x93, 0xf3, 0xa3, 0xb5, 0x03, 0x00, 0x40, 0x6e};

// head followed by tail (push_back: GCC 12 warns falsely on insert here).
Bytes join(Bytes head, const Bytes& tail) {
    for (uint8_t b : tail) head.push_back(b);
    return head;
}

// n octets counting up from first: every position tells where it came from.
Bytes counting(size_t n, uint8_t first = 0) {
    Bytes out;
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(first + i));
    return out;
}

Bytes slice(const Bytes& b, size_t from, size_t n) {
    Bytes out;
    for (size_t i = from; i < from + n; ++i) out.push_back(b[i]);
    return out;
}

std::string h4(uint16_t v) {
    char s[8];
    std::snprintf(s, sizeof s, "%04x", v);
    return s;
}

// 0, or hex: 0x101 is the server's ATT error 0x01.
std::string st(uint16_t v) {
    char s[8];
    std::snprintf(s, sizeof s, "%#x", v);
    return s;
}

// A client whose results go to a log, one line each.
struct Fixture {
    Log log;
    // Whether the owner raises security when the client asks; empty: never.
    std::function<bool(uint8_t att_error)> raise_security;
    Client client;

    explicit Fixture(uint16_t local_mtu = 23) : client(local_mtu, events()) {}
    Fixture(const Fixture&) = delete;
    Fixture& operator=(const Fixture&) = delete;

    ClientEvents events() {
        ClientEvents e;
        e.service = [this](uint16_t s, uint16_t end, const Uuid& u) {
            log.push_back("service " + h4(s) + "-" + h4(end) + " " + u.to_string());
        };
        e.services_done = [this](uint16_t s) { log.push_back("services_done " + st(s)); };
        e.characteristic = [this](uint16_t end, uint16_t value, uint8_t props, const Uuid& u) {
            char p[4];
            std::snprintf(p, sizeof p, "%02x", props);
            log.push_back("characteristic end " + h4(end) + " value " + h4(value) + " props " + p + " " + u.to_string());
        };
        e.characteristics_done = [this](uint16_t s) { log.push_back("characteristics_done " + st(s)); };
        e.descriptor = [this](uint16_t h, const Uuid& u) { log.push_back("descriptor " + h4(h) + " " + u.to_string()); };
        e.descriptors_done = [this](uint16_t s) { log.push_back("descriptors_done " + st(s)); };
        e.read_result = [this](uint16_t h, ByteView v) { log.push_back("read " + h4(h) + " " + hex(v)); };
        e.read_done = [this](uint16_t h, uint16_t s) { log.push_back("read_done " + h4(h) + " " + st(s)); };
        e.write_done = [this](uint16_t h, uint16_t s) { log.push_back("write_done " + h4(h) + " " + st(s)); };
        e.notified = [this](uint16_t h, ByteView v) { log.push_back("notify " + h4(h) + " " + hex(v)); };
        e.indicated = [this](uint16_t h, ByteView v) { log.push_back("indicate " + h4(h) + " " + hex(v)); };
        e.mtu_exchanged = [this](uint16_t mtu) { log.push_back("mtu " + std::to_string(mtu)); };
        e.security_needed = [this](uint8_t code) { return raise_security && raise_security(code); };
        return e;
    }

    // The request the client sends now; the case fails when there is none.
    Bytes sent() {
        auto request = client.next_request();
        REQUIRE(request.has_value());
        CHECK(client.awaiting_response());
        return *request;
    }
    // Nothing to send: no procedure, or a response awaited.
    bool idle() { return !client.next_request().has_value(); }
    // A PDU from the server that needs no answer back.
    void feed(const Bytes& pdu) { CHECK_FALSE(client.handle(pdu).has_value()); }
    Log take() { return std::exchange(log, {}); }
};

// Read 0x000c, answered by an Error Response with this code.
Log read_error(uint8_t code) {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // Read Request, handle 0x000c
    fx.feed({0x01, 0x0a, 0x0c, 0x00, code});      // Error Response to Read Request, handle 0x000c
    CHECK(fx.idle());
    CHECK_FALSE(fx.client.awaiting_response());
    return fx.take();
}

// Write 0x0013 <- 01 02, answered by an Error Response with this code.
Log write_error(uint8_t code) {
    Fixture fx;
    fx.client.write(0x0013, Bytes{0x01, 0x02});
    CHECK(fx.sent() == Bytes{0x12, 0x13, 0x00, 0x01, 0x02});  // Write Request, handle 0x0013, value 01 02
    fx.feed({0x01, 0x12, 0x13, 0x00, code});                  // Error Response to Write Request, 0x0013
    CHECK(fx.idle());
    return fx.take();
}

}  // namespace

// ---------------------------------------------------------------- MTU exchange

TEST_CASE("GATT/CL/GAC/BV-01-C: exchange MTU, the smaller of ours and the server's", "[gattc]") {
    Fixture fx(185);
    CHECK(fx.client.mtu() == 23);
    fx.client.exchange_mtu();
    CHECK(fx.sent() == Bytes{0x02, 0xb9, 0x00});  // Exchange MTU Request, Client Rx MTU 185
    CHECK(fx.idle());                             // one request at a time
    fx.feed({0x03, 0x64, 0x00});                  // Exchange MTU Response, Server Rx MTU 100
    CHECK(fx.client.mtu() == 100);
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"mtu 100"});
}

TEST_CASE("GATT/CL/GAC/BV-01-C: a server MTU above ours leaves ours", "[gattc]") {
    Fixture fx(185);
    fx.client.exchange_mtu();
    CHECK(fx.sent() == Bytes{0x02, 0xb9, 0x00});  // Exchange MTU Request, Client Rx MTU 185
    fx.feed({0x03, 0x05, 0x02});                  // Exchange MTU Response, Server Rx MTU 517
    CHECK(fx.idle());
    CHECK(fx.client.mtu() == 185);
    CHECK(fx.take() == Log{"mtu 185"});
}

TEST_CASE("MTU exchange: a server MTU below 23 leaves the minimum, 23", "[gattc]") {
    Fixture fx(185);
    fx.client.exchange_mtu();
    CHECK(fx.sent() == Bytes{0x02, 0xb9, 0x00});  // Exchange MTU Request, Client Rx MTU 185
    fx.feed({0x03, 0x10, 0x00});                  // Exchange MTU Response, Server Rx MTU 16: invalid
    CHECK(fx.idle());
    CHECK(fx.client.mtu() == 23);
    CHECK(fx.take() == Log{"mtu 23"});
}

TEST_CASE("MTU exchange: a local MTU below 23 offers 23", "[gattc]") {
    Fixture fx(10);
    fx.client.exchange_mtu();
    CHECK(fx.sent() == Bytes{0x02, 0x17, 0x00});  // Exchange MTU Request, Client Rx MTU 23
    fx.feed({0x03, 0x00, 0x01});                  // Exchange MTU Response, Server Rx MTU 256
    CHECK(fx.idle());
    CHECK(fx.client.mtu() == 23);
    CHECK(fx.take() == Log{"mtu 23"});
}

TEST_CASE("MTU exchange: once per connection; a second request is InProgress", "[gattc]") {
    Fixture fx(185);
    fx.client.exchange_mtu();
    CHECK(error_of([&] { fx.client.exchange_mtu(); }) == ErrorCode::InProgress);
    CHECK(fx.sent() == Bytes{0x02, 0xb9, 0x00});  // Exchange MTU Request, Client Rx MTU 185
    fx.feed({0x03, 0x64, 0x00});                  // Exchange MTU Response, Server Rx MTU 100
    CHECK(fx.idle());                             // the refused one queued nothing
    CHECK(error_of([&] { fx.client.exchange_mtu(); }) == ErrorCode::InProgress);
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"mtu 100"});
}

TEST_CASE("MTU exchange: an Error Response keeps 23 and still reports it", "[gattc]") {
    Fixture fx(185);
    fx.client.exchange_mtu();
    CHECK(fx.sent() == Bytes{0x02, 0xb9, 0x00});  // Exchange MTU Request, Client Rx MTU 185
    fx.feed({0x01, 0x02, 0x00, 0x00, 0x06});      // Error Response to Exchange MTU, handle 0, Request Not Supported
    CHECK(fx.idle());
    CHECK(fx.client.mtu() == 23);
    CHECK(fx.take() == Log{"mtu 23"});
}

TEST_CASE("MTU exchange: a malformed response keeps 23 and the next procedure goes on", "[gattc]") {
    Fixture fx(185);
    fx.client.exchange_mtu();
    fx.client.read(0x0003);
    CHECK(fx.sent() == Bytes{0x02, 0xb9, 0x00});  // Exchange MTU Request, Client Rx MTU 185
    fx.feed({0x03, 0x64});                        // Exchange MTU Response cut short: one octet of the MTU
    CHECK(fx.client.mtu() == 23);
    CHECK(fx.sent() == Bytes{0x0a, 0x03, 0x00});  // Read Request, handle 0x0003
    fx.feed({0x0b, 0x70, 0x69});                  // Read Response "pi"
    CHECK(fx.idle());
    // The MTU stays 23, and that is reported, so a script waiting for the event goes on.
    CHECK(fx.take() == Log{"mtu 23", "read 0003 7069", "read_done 0003 0"});
}

// ------------------------------------------------------------ service discovery

TEST_CASE("GATT/CL/GAD/BV-01-C: discover all primary services with Read By Group Type", "[gattc]") {
    Fixture fx;
    fx.client.discover_services(std::nullopt);
    // Read By Group Type Request, 0x0001-0xffff, group type 0x2800 (Primary Service)
    CHECK(fx.sent() == Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28});
    CHECK(fx.idle());
    fx.feed({
        0x11, 0x06,                          // Read By Group Type Response, 6 octets per entry
        0x01, 0x00, 0x05, 0x00, 0x00, 0x18,  // 0x0001-0x0005 GAP
        0x06, 0x00, 0x09, 0x00, 0x01, 0x18,  // 0x0006-0x0009 GATT
        0x0a, 0x00, 0x0d, 0x00, 0x0d, 0x18,  // 0x000a-0x000d heart rate
    });
    // Read By Group Type Request from the handle after the last end, 0x000e-0xffff
    CHECK(fx.sent() == Bytes{0x10, 0x0e, 0x00, 0xff, 0xff, 0x00, 0x28});
    // Read By Group Type Response, 20 octets per entry: 0x000e-0x0014, a 128-bit UUID
    fx.feed(join({0x11, 0x14, 0x0e, 0x00, 0x14, 0x00}, kUartService));
    CHECK(fx.sent() == Bytes{0x10, 0x15, 0x00, 0xff, 0xff, 0x00, 0x28});  // 0x0015-0xffff
    fx.feed({0x01, 0x10, 0x15, 0x00, 0x0a});  // Error Response to Read By Group Type, 0x0015, Attribute Not Found
    CHECK(fx.idle());
    CHECK(fx.take() == Log{
        "service 0001-0005 1800",
        "service 0006-0009 1801",
        "service 000a-000d 180d",
        "service 000e-0014 6e400001-b5a3-f393-e0a9-e50e24dcca9e",
        "services_done 0",
    });
}

TEST_CASE("GATT/CL/GAD/BV-01-C: a service ending at 0xffff ends discovery without another request", "[gattc]") {
    Fixture fx;
    fx.client.discover_services(std::nullopt);
    CHECK(fx.sent() == Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28});  // Read By Group Type Request, 0x0001-0xffff
    fx.feed({
        0x11, 0x06,                          // Read By Group Type Response, 6 octets per entry
        0x01, 0x00, 0x05, 0x00, 0x00, 0x18,  // 0x0001-0x0005 GAP
        0x00, 0xf0, 0xff, 0xff, 0x0f, 0x18,  // 0xf000-0xffff battery: the last handle
    });
    CHECK(fx.idle());
    CHECK_FALSE(fx.client.awaiting_response());
    CHECK(fx.take() == Log{"service 0001-0005 1800", "service f000-ffff 180f", "services_done 0"});
}

TEST_CASE("GATT/CL/GAD/BV-01-C: an Error Response other than Attribute Not Found is the status", "[gattc]") {
    Fixture fx;
    fx.client.discover_services(std::nullopt);
    CHECK(fx.sent() == Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28});  // Read By Group Type Request, 0x0001-0xffff
    fx.feed({0x01, 0x10, 0x01, 0x00, 0x0e});  // Error Response to Read By Group Type, 0x0001, Unlikely Error
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"services_done 0x10e"});
}

TEST_CASE("GATT/CL/GAD/BV-02-C: discover primary services by 16-bit UUID with Find By Type Value", "[gattc]") {
    Fixture fx;
    fx.client.discover_services(uuid("180f"));
    // Find By Type Value Request, 0x0001-0xffff, type 0x2800 (Primary Service), value 0x180f
    CHECK(fx.sent() == Bytes{0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18});
    fx.feed({
        0x07,                    // Find By Type Value Response
        0x15, 0x00, 0x1b, 0x00,  // found 0x0015, group end 0x001b
        0x30, 0x00, 0x32, 0x00,  // found 0x0030, group end 0x0032: a second battery service
    });
    // Find By Type Value Request, 0x0033-0xffff, the same type and value
    CHECK(fx.sent() == Bytes{0x06, 0x33, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18});
    fx.feed({0x01, 0x06, 0x33, 0x00, 0x0a});  // Error Response to Find By Type Value, 0x0033, Attribute Not Found
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"service 0015-001b 180f", "service 0030-0032 180f", "services_done 0"});
}

TEST_CASE("GATT/CL/GAD/BV-02-C: discover a primary service by 128-bit UUID", "[gattc]") {
    Fixture fx;
    fx.client.discover_services(uuid("6E400001-B5A3-F393-E0A9-E50E24DCCA9E"));
    // Find By Type Value Request, 0x0001-0xffff, type 0x2800, the 16-octet UUID: 23 octets, the whole MTU
    CHECK(fx.sent() == join({0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28}, kUartService));
    fx.feed({0x07, 0x0e, 0x00, 0x14, 0x00});  // Find By Type Value Response: 0x000e-0x0014
    CHECK(fx.sent() == join({0x06, 0x15, 0x00, 0xff, 0xff, 0x00, 0x28}, kUartService));  // from 0x0015
    fx.feed({0x01, 0x06, 0x15, 0x00, 0x0a});  // Error Response, Attribute Not Found
    CHECK(fx.idle());
    // The UUID asked for, printed in lower case.
    CHECK(fx.take() == Log{"service 000e-0014 6e400001-b5a3-f393-e0a9-e50e24dcca9e", "services_done 0"});
}

TEST_CASE("GATT/CL/GAD/BV-02-C: a service by UUID ending at 0xffff ends discovery without another request", "[gattc]") {
    Fixture fx;
    fx.client.discover_services(uuid("180f"));
    CHECK(fx.sent() == Bytes{0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18});  // Find By Type Value Request
    fx.feed({0x07, 0x00, 0xf0, 0xff, 0xff});  // Find By Type Value Response: 0xf000-0xffff
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"service f000-ffff 180f", "services_done 0"});
}

TEST_CASE("Service discovery: a bad length byte, a partial entry, handles going backwards are BadData", "[gattc]") {
    Bytes response;
    SECTION("length 5, neither 6 nor 20") {
        response = {0x11, 0x05, 0x01, 0x00, 0x05, 0x00, 0x00};
    }
    SECTION("length 6 with 8 octets of entries") {
        response = {0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18, 0x06, 0x00};
    }
    SECTION("no entry at all") {
        response = {0x11, 0x06};
    }
    SECTION("a group ending before it starts") {
        response = {0x11, 0x06, 0x05, 0x00, 0x01, 0x00, 0x00, 0x18};  // 0x0005-0x0001
    }
    SECTION("a second entry going backwards") {
        response = {0x11, 0x06, 0x06, 0x00, 0x09, 0x00, 0x01, 0x18, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18};
    }
    SECTION("handle 0") {
        response = {0x11, 0x06, 0x00, 0x00, 0x05, 0x00, 0x00, 0x18};
    }
    Fixture fx;
    fx.client.discover_services(std::nullopt);
    CHECK(fx.sent() == Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28});  // Read By Group Type Request, 0x0001-0xffff
    fx.feed(response);
    CHECK(fx.idle());
    Log log = fx.take();
    REQUIRE_FALSE(log.empty());
    CHECK(log.back() == "services_done 0xa");
}

TEST_CASE("Service discovery: a later response going back before the last group is BadData; the next procedure goes on", "[gattc]") {
    Fixture fx;
    fx.client.discover_services(std::nullopt);
    fx.client.read(0x0003);
    CHECK(fx.sent() == Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28});  // Read By Group Type Request, 0x0001-0xffff
    fx.feed({0x11, 0x06, 0x01, 0x00, 0x09, 0x00, 0x00, 0x18});             // 0x0001-0x0009 GAP
    CHECK(fx.sent() == Bytes{0x10, 0x0a, 0x00, 0xff, 0xff, 0x00, 0x28});  // from 0x000a
    fx.feed({0x11, 0x06, 0x06, 0x00, 0x09, 0x00, 0x01, 0x18});             // 0x0006-0x0009: inside the last one
    CHECK(fx.sent() == Bytes{0x0a, 0x03, 0x00});                           // Read Request, handle 0x0003: next in the queue
    fx.feed({0x0b, 0x70, 0x69});                                           // Read Response "pi"
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"service 0001-0009 1800", "services_done 0xa", "read 0003 7069", "read_done 0003 0"});
}

TEST_CASE("Service discovery by UUID: a partial or reversed handle pair is BadData", "[gattc]") {
    Bytes response;
    SECTION("6 octets: one pair and a half") {
        response = {0x07, 0x15, 0x00, 0x1b, 0x00, 0x30, 0x00};
    }
    SECTION("empty") {
        response = {0x07};
    }
    SECTION("group end before the found handle") {
        response = {0x07, 0x1b, 0x00, 0x15, 0x00};
    }
    Fixture fx;
    fx.client.discover_services(uuid("180f"));
    CHECK(fx.sent() == Bytes{0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18});  // Find By Type Value Request
    fx.feed(response);
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"services_done 0xa"});
}

// ------------------------------------------------------ characteristic discovery

TEST_CASE("GATT/CL/GAD/BV-04-C: discover all characteristics of a service; each ends before the next", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x0001, 0x0007, std::nullopt);
    // Read By Type Request, 0x0001-0x0007, type 0x2803 (Characteristic)
    CHECK(fx.sent() == Bytes{0x08, 0x01, 0x00, 0x07, 0x00, 0x03, 0x28});
    fx.feed({
        0x09, 0x07,                                // Read By Type Response, 7 octets per entry
        0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a,  // declaration 0x0002: read, value 0x0003, 0x2a00
        0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a,  // declaration 0x0004: read, value 0x0005, 0x2a01
    });
    // The first one's end is known (0x0003); the second waits for the next declaration.
    CHECK(fx.log == Log{"characteristic end 0003 value 0003 props 02 2a00"});
    CHECK(fx.sent() == Bytes{0x08, 0x05, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0005-0x0007
    fx.feed({0x09, 0x07, 0x06, 0x00, 0x0a, 0x07, 0x00, 0xa6, 0x2a});      // 0x0006: read|write, value 0x0007, 0x2aa6
    CHECK(fx.sent() == Bytes{0x08, 0x07, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0007-0x0007
    fx.feed({0x01, 0x08, 0x07, 0x00, 0x0a});  // Error Response to Read By Type, 0x0007, Attribute Not Found
    CHECK(fx.idle());
    CHECK(fx.take() == Log{
        "characteristic end 0003 value 0003 props 02 2a00",
        "characteristic end 0005 value 0005 props 02 2a01",
        "characteristic end 0007 value 0007 props 0a 2aa6",  // the last: the end of the range
        "characteristics_done 0",
    });
}

TEST_CASE("GATT/CL/GAD/BV-04-C: the last characteristic ends at the end of the searched range, past its value", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x000a, 0x000d, std::nullopt);
    CHECK(fx.sent() == Bytes{0x08, 0x0a, 0x00, 0x0d, 0x00, 0x03, 0x28});  // Read By Type Request, 0x000a-0x000d
    fx.feed({0x09, 0x07, 0x0b, 0x00, 0x12, 0x0c, 0x00, 0x37, 0x2a});      // 0x000b: read|notify, value 0x000c, 0x2a37
    CHECK(fx.sent() == Bytes{0x08, 0x0c, 0x00, 0x0d, 0x00, 0x03, 0x28});  // Read By Type Request, 0x000c-0x000d
    fx.feed({0x01, 0x08, 0x0c, 0x00, 0x0a});                               // Error Response, Attribute Not Found
    CHECK(fx.idle());
    // 0x000d is its CCCD: the characteristic spans it.
    CHECK(fx.take() == Log{"characteristic end 000d value 000c props 12 2a37", "characteristics_done 0"});
}

TEST_CASE("GATT/CL/GAD/BV-04-C: 128-bit characteristics, one per response", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x000e, 0x0014, std::nullopt);
    CHECK(fx.sent() == Bytes{0x08, 0x0e, 0x00, 0x14, 0x00, 0x03, 0x28});  // Read By Type Request, 0x000e-0x0014
    // Read By Type Response, 21 octets per entry: 0x000f, read|notify, value 0x0010, the TX UUID
    fx.feed(join({0x09, 0x15, 0x0f, 0x00, 0x12, 0x10, 0x00}, kUartTx));
    CHECK(fx.sent() == Bytes{0x08, 0x10, 0x00, 0x14, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0010-0x0014
    fx.feed({0x09, 0x07, 0x12, 0x00, 0x0c, 0x13, 0x00, 0x00, 0x2b});      // 0x0012: write|write-no-rsp, value 0x0013, 0x2b00
    CHECK(fx.sent() == Bytes{0x08, 0x13, 0x00, 0x14, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0013-0x0014
    fx.feed({0x01, 0x08, 0x13, 0x00, 0x0a});                               // Error Response, Attribute Not Found
    CHECK(fx.idle());
    CHECK(fx.take() == Log{
        "characteristic end 0011 value 0010 props 12 6e400003-b5a3-f393-e0a9-e50e24dcca9e",
        "characteristic end 0014 value 0013 props 0c 2b00",
        "characteristics_done 0",
    });
}

TEST_CASE("GATT/CL/GAD/BV-04-C: discovery up to 0xffff asks for 0xffff last and never wraps around", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0xfff0, 0xffff, std::nullopt);
    CHECK(fx.sent() == Bytes{0x08, 0xf0, 0xff, 0xff, 0xff, 0x03, 0x28});  // Read By Type Request, 0xfff0-0xffff
    fx.feed({0x09, 0x07, 0xfe, 0xff, 0x02, 0xff, 0xff, 0x00, 0x2a});      // 0xfffe: read, value 0xffff, 0x2a00
    CHECK(fx.sent() == Bytes{0x08, 0xff, 0xff, 0xff, 0xff, 0x03, 0x28});  // Read By Type Request, 0xffff-0xffff
    fx.feed({0x01, 0x08, 0xff, 0xff, 0x0a});                               // Error Response, Attribute Not Found
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"characteristic end ffff value ffff props 02 2a00", "characteristics_done 0"});

    // A server that puts a declaration at 0xffff itself: nothing is left to ask for.
    fx.client.discover_characteristics(0xfff0, 0xffff, std::nullopt);
    CHECK(fx.sent() == Bytes{0x08, 0xf0, 0xff, 0xff, 0xff, 0x03, 0x28});  // Read By Type Request, 0xfff0-0xffff
    fx.feed({
        0x09, 0x07,                                // Read By Type Response, 7 octets per entry
        0xf1, 0xff, 0x02, 0xf2, 0xff, 0x00, 0x2a,  // 0xfff1: read, value 0xfff2, 0x2a00
        0xff, 0xff, 0x02, 0xff, 0xff, 0x01, 0x2a,  // 0xffff: read, "value 0xffff", 0x2a01 (reported as given)
    });
    CHECK(fx.idle());
    CHECK(fx.take() == Log{
        "characteristic end fffe value fff2 props 02 2a00",
        "characteristic end ffff value ffff props 02 2a01",
        "characteristics_done 0",
    });
}

TEST_CASE("GATT/CL/GAD/BV-05-C: discover characteristics by UUID; ends still come from every declaration", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x0001, 0x0007, uuid("2a01"));
    // Read By Type Request for every declaration, 0x0001-0x0007, type 0x2803: the UUID is filtered here
    CHECK(fx.sent() == Bytes{0x08, 0x01, 0x00, 0x07, 0x00, 0x03, 0x28});
    fx.feed({
        0x09, 0x07,                                // Read By Type Response, 7 octets per entry
        0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a,  // 0x0002: read, value 0x0003, 0x2a00 (not wanted)
        0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a,  // 0x0004: read, value 0x0005, 0x2a01
    });
    CHECK(fx.log.empty());
    CHECK(fx.sent() == Bytes{0x08, 0x05, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0005-0x0007
    fx.feed({0x09, 0x07, 0x06, 0x00, 0x0a, 0x07, 0x00, 0xa6, 0x2a});      // 0x0006: value 0x0007, 0x2aa6 (not wanted)
    CHECK(fx.sent() == Bytes{0x08, 0x07, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0007-0x0007
    fx.feed({0x01, 0x08, 0x07, 0x00, 0x0a});                               // Error Response, Attribute Not Found
    CHECK(fx.idle());
    // 0x2a01 ends before the unwanted 0x2aa6's declaration.
    CHECK(fx.take() == Log{"characteristic end 0005 value 0005 props 02 2a01", "characteristics_done 0"});
}

TEST_CASE("GATT/CL/GAD/BV-05-C: discover a characteristic by 128-bit UUID; the last found ends the range", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x000e, 0x0014, uuid("6e400003-b5a3-f393-e0a9-e50e24dcca9e"));
    CHECK(fx.sent() == Bytes{0x08, 0x0e, 0x00, 0x14, 0x00, 0x03, 0x28});  // Read By Type Request, 0x000e-0x0014
    fx.feed({0x09, 0x07, 0x0f, 0x00, 0x0c, 0x10, 0x00, 0x00, 0x2b});      // 0x000f: value 0x0010, 0x2b00 (not wanted)
    CHECK(fx.sent() == Bytes{0x08, 0x10, 0x00, 0x14, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0010-0x0014
    fx.feed(join({0x09, 0x15, 0x12, 0x00, 0x12, 0x13, 0x00}, kUartTx));   // 0x0012: read|notify, value 0x0013, TX
    CHECK(fx.sent() == Bytes{0x08, 0x13, 0x00, 0x14, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0013-0x0014
    fx.feed({0x01, 0x08, 0x13, 0x00, 0x0a});                               // Error Response, Attribute Not Found
    CHECK(fx.idle());
    CHECK(fx.take() == Log{
        "characteristic end 0014 value 0013 props 12 6e400003-b5a3-f393-e0a9-e50e24dcca9e",
        "characteristics_done 0",
    });
}

TEST_CASE("Characteristic discovery: an Error Response other than Attribute Not Found is the status", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x0001, 0x0007, std::nullopt);
    CHECK(fx.sent() == Bytes{0x08, 0x01, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0001-0x0007
    fx.feed({0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a});      // 0x0002: read, value 0x0003, 0x2a00
    CHECK(fx.sent() == Bytes{0x08, 0x03, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0003-0x0007
    fx.feed({0x01, 0x08, 0x03, 0x00, 0x05});  // Error Response, 0x0003, Insufficient Authentication
    CHECK(fx.idle());
    // The one found is still reported (to the end of the range), as MicroPython's NimBLE port does.
    CHECK(fx.take() == Log{"characteristic end 0007 value 0003 props 02 2a00", "characteristics_done 0x105"});
}

TEST_CASE("Characteristic discovery: bad lengths, backwards or out-of-range declarations are BadData", "[gattc]") {
    Bytes response;
    SECTION("length 6") {
        response = {0x09, 0x06, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00};
    }
    SECTION("length 7 with 9 octets of entries") {
        response = {0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a, 0x04, 0x00};
    }
    SECTION("length 21 with a 7-octet entry") {
        response = {0x09, 0x15, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a};
    }
    SECTION("no entry") {
        response = {0x09, 0x07};
    }
    SECTION("a declaration before the start") {
        response = {0x09, 0x07, 0x01, 0x00, 0x02, 0x02, 0x00, 0x00, 0x2a};  // 0x0001 < 0x0002
    }
    SECTION("a declaration after the end") {
        response = {0x09, 0x07, 0x08, 0x00, 0x02, 0x09, 0x00, 0x00, 0x2a};  // 0x0008 > 0x0007
    }
    SECTION("declarations going backwards") {
        response = {0x09, 0x07, 0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a, 0x03, 0x00, 0x02, 0x04, 0x00, 0x00, 0x2a};
    }
    Fixture fx;
    fx.client.discover_characteristics(0x0002, 0x0007, std::nullopt);
    fx.client.discover_services(uuid("1800"));
    CHECK(fx.sent() == Bytes{0x08, 0x02, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0002-0x0007
    fx.feed(response);
    Log log = fx.take();
    REQUIRE_FALSE(log.empty());
    CHECK(log.back() == "characteristics_done 0xa");
    // Find By Type Value Request: the next procedure goes on.
    CHECK(fx.sent() == Bytes{0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x00, 0x18});
}

TEST_CASE("Characteristic discovery: a later response going back is BadData; the one held ends the range", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x0001, 0x0009, std::nullopt);
    CHECK(fx.sent() == Bytes{0x08, 0x01, 0x00, 0x09, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0001-0x0009
    fx.feed({0x09, 0x07, 0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a});      // 0x0004: read, value 0x0005, 0x2a01
    CHECK(fx.sent() == Bytes{0x08, 0x05, 0x00, 0x09, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0005-0x0009
    fx.feed({0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a});      // 0x0002: before what was asked
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"characteristic end 0009 value 0005 props 02 2a01", "characteristics_done 0xa"});
}

TEST_CASE("Characteristic and descriptor discovery: start 0 or start after end is InvalidArgs, nothing queued", "[gattc]") {
    Fixture fx;
    CHECK(error_of([&] { fx.client.discover_characteristics(0, 5, std::nullopt); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.discover_characteristics(6, 5, std::nullopt); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.discover_characteristics(0, 0, uuid("2a00")); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.discover_descriptors(0, 5); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.discover_descriptors(9, 8); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.read(0); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.write(0, Bytes{1}); }) == ErrorCode::InvalidArgs);
    CHECK(fx.idle());
    CHECK_FALSE(fx.client.awaiting_response());
    CHECK(fx.log.empty());
    // A range of one handle is fine.
    fx.client.discover_characteristics(5, 5, std::nullopt);
    CHECK(fx.sent() == Bytes{0x08, 0x05, 0x00, 0x05, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0005-0x0005
}

// ---------------------------------------------------------- descriptor discovery

TEST_CASE("GATT/CL/GAD/BV-06-C: discover the descriptors after a value handle with Find Information", "[gattc]") {
    Fixture fx;
    fx.client.discover_descriptors(0x000c, 0x000f);
    CHECK(fx.sent() == Bytes{0x04, 0x0d, 0x00, 0x0f, 0x00});  // Find Information Request, 0x000d-0x000f
    fx.feed({
        0x05, 0x01,              // Find Information Response, format 1: 16-bit UUIDs
        0x0d, 0x00, 0x02, 0x29,  // 0x000d: 0x2902 (CCCD)
        0x0e, 0x00, 0x01, 0x29,  // 0x000e: 0x2901 (User Description)
    });
    CHECK(fx.sent() == Bytes{0x04, 0x0f, 0x00, 0x0f, 0x00});         // Find Information Request, 0x000f-0x000f
    fx.feed(join({0x05, 0x02, 0x0f, 0x00}, kUartTx));                 // format 2: 0x000f, a 128-bit UUID
    CHECK(fx.idle());                                                // 0x000f was the end
    CHECK(fx.take() == Log{
        "descriptor 000d 2902",
        "descriptor 000e 2901",
        "descriptor 000f 6e400003-b5a3-f393-e0a9-e50e24dcca9e",
        "descriptors_done 0",
    });
}

TEST_CASE("GATT/CL/GAD/BV-06-C: Attribute Not Found ends descriptor discovery; other errors are the status", "[gattc]") {
    Fixture fx;
    fx.client.discover_descriptors(0x000c, 0x0020);
    fx.client.discover_descriptors(0x0030, 0x0040);
    CHECK(fx.sent() == Bytes{0x04, 0x0d, 0x00, 0x20, 0x00});  // Find Information Request, 0x000d-0x0020
    fx.feed({0x05, 0x01, 0x0d, 0x00, 0x02, 0x29});            // Find Information Response: 0x000d 0x2902
    CHECK(fx.sent() == Bytes{0x04, 0x0e, 0x00, 0x20, 0x00});  // Find Information Request, 0x000e-0x0020
    fx.feed({0x01, 0x04, 0x0e, 0x00, 0x0a});                  // Error Response to Find Information, Attribute Not Found
    CHECK(fx.sent() == Bytes{0x04, 0x31, 0x00, 0x40, 0x00});  // Find Information Request, 0x0031-0x0040
    fx.feed({0x01, 0x04, 0x31, 0x00, 0x08});                  // Error Response, Insufficient Authorization
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"descriptor 000d 2902", "descriptors_done 0", "descriptors_done 0x108"});
}

TEST_CASE("Descriptor discovery: nothing after the start handle asks nothing", "[gattc]") {
    Fixture fx;
    fx.client.discover_descriptors(0x000c, 0x000c);
    fx.client.discover_descriptors(0xffff, 0xffff);
    CHECK(fx.idle());
    CHECK_FALSE(fx.client.awaiting_response());
    CHECK(fx.take() == Log{"descriptors_done 0", "descriptors_done 0"});
}

TEST_CASE("Descriptor discovery: a descriptor at 0xffff ends it without another request", "[gattc]") {
    Fixture fx;
    fx.client.discover_descriptors(0xfffd, 0xffff);
    CHECK(fx.sent() == Bytes{0x04, 0xfe, 0xff, 0xff, 0xff});  // Find Information Request, 0xfffe-0xffff
    fx.feed({0x05, 0x01, 0xfe, 0xff, 0x02, 0x29, 0xff, 0xff, 0x01, 0x29});  // 0xfffe 0x2902, 0xffff 0x2901
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"descriptor fffe 2902", "descriptor ffff 2901", "descriptors_done 0"});
}

TEST_CASE("Descriptor discovery: a bad format, a partial entry, the start handle or one past the end are BadData", "[gattc]") {
    Bytes response;
    SECTION("format 3") {
        response = {0x05, 0x03, 0x0d, 0x00, 0x02, 0x29};
    }
    SECTION("format 1 with 6 octets") {
        response = {0x05, 0x01, 0x0d, 0x00, 0x02, 0x29, 0x0e, 0x00};
    }
    SECTION("format 2 with a 16-bit entry") {
        response = {0x05, 0x02, 0x0d, 0x00, 0x02, 0x29};
    }
    SECTION("no entry") {
        response = {0x05, 0x01};
    }
    SECTION("the value handle itself") {
        response = {0x05, 0x01, 0x0c, 0x00, 0x37, 0x2a};
    }
    SECTION("past the end handle") {
        response = {0x05, 0x01, 0x10, 0x00, 0x02, 0x29};
    }
    SECTION("going backwards") {
        response = {0x05, 0x01, 0x0e, 0x00, 0x02, 0x29, 0x0d, 0x00, 0x01, 0x29};
    }
    Fixture fx;
    fx.client.discover_descriptors(0x000c, 0x000f);
    CHECK(fx.sent() == Bytes{0x04, 0x0d, 0x00, 0x0f, 0x00});  // Find Information Request, 0x000d-0x000f
    fx.feed(response);
    CHECK(fx.idle());
    Log log = fx.take();
    REQUIRE_FALSE(log.empty());
    CHECK(log.back() == "descriptors_done 0xa");
}

// -------------------------------------------------------------------------- read

TEST_CASE("GATT/CL/GAR/BV-01-C: read a characteristic value", "[gattc]") {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // Read Request, handle 0x000c
    CHECK(fx.idle());
    fx.feed({0x0b, 'a', 'b', 'c'});               // Read Response "abc"
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c 616263", "read_done 000c 0"});
}

TEST_CASE("GATT/CL/GAR/BV-01-C: an empty value", "[gattc]") {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // Read Request, handle 0x000c
    fx.feed({0x0b});                              // Read Response, no value
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c ", "read_done 000c 0"});
}

TEST_CASE("GATT/CL/GAR/BI-01-C: read, Invalid Handle: READ_DONE 0x101 and no value", "[gattc]") {
    CHECK(read_error(0x01) == Log{"read_done 000c 0x101"});
}

TEST_CASE("GATT/CL/GAR/BI-02-C: read, Read Not Permitted: READ_DONE 0x102", "[gattc]") {
    CHECK(read_error(0x02) == Log{"read_done 000c 0x102"});
}

TEST_CASE("GATT/CL/GAR/BI-03-C: read, Insufficient Authorization: READ_DONE 0x108", "[gattc]") {
    CHECK(read_error(0x08) == Log{"read_done 000c 0x108"});
}

TEST_CASE("GATT/CL/GAR/BI-04-C: read, Insufficient Authentication: READ_DONE 0x105", "[gattc]") {
    CHECK(read_error(0x05) == Log{"read_done 000c 0x105"});
}

TEST_CASE("GATT/CL/GAR/BI-05-C: read, Insufficient Encryption Key Size: READ_DONE 0x10c", "[gattc]") {
    CHECK(read_error(0x0c) == Log{"read_done 000c 0x10c"});
}

TEST_CASE("Read: Insufficient Encryption, and Attribute Not Long on a first Read, are errors too", "[gattc]") {
    CHECK(read_error(0x0f) == Log{"read_done 000c 0x10f"});
    CHECK(read_error(0x0b) == Log{"read_done 000c 0x10b"});  // nothing read yet: not the end of a long read
    CHECK(read_error(0x07) == Log{"read_done 000c 0x107"});
}

TEST_CASE("GATT/CL/GAR/BV-04-C: read a long value with Read Blob", "[gattc]") {
    Bytes value = counting(49, 0x40);
    Fixture fx;
    fx.client.read(0x0010);
    CHECK(fx.sent() == Bytes{0x0a, 0x10, 0x00});               // Read Request, handle 0x0010
    fx.feed(join({0x0b}, slice(value, 0, 22)));                // Read Response, 22 octets: ATT_MTU - 1, maybe more
    CHECK(fx.sent() == Bytes{0x0c, 0x10, 0x00, 0x16, 0x00});  // Read Blob Request, 0x0010, offset 22
    fx.feed(join({0x0d}, slice(value, 22, 22)));               // Read Blob Response, 22 octets
    CHECK(fx.sent() == Bytes{0x0c, 0x10, 0x00, 0x2c, 0x00});  // Read Blob Request, 0x0010, offset 44
    fx.feed(join({0x0d}, slice(value, 44, 5)));                // Read Blob Response, 5 octets: the end
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 0010 " + hex(value), "read_done 0010 0"});
}

TEST_CASE("GATT/CL/GAR/BV-04-C: a value of exactly two responses ends with an empty Read Blob Response", "[gattc]") {
    Bytes value = counting(44);
    Fixture fx;
    fx.client.read(0x0010);
    CHECK(fx.sent() == Bytes{0x0a, 0x10, 0x00});               // Read Request, handle 0x0010
    fx.feed(join({0x0b}, slice(value, 0, 22)));                // Read Response, 22 octets
    CHECK(fx.sent() == Bytes{0x0c, 0x10, 0x00, 0x16, 0x00});  // Read Blob Request, offset 22
    fx.feed(join({0x0d}, slice(value, 22, 22)));               // Read Blob Response, 22 octets
    CHECK(fx.sent() == Bytes{0x0c, 0x10, 0x00, 0x2c, 0x00});  // Read Blob Request, offset 44
    fx.feed({0x0d});                                           // Read Blob Response, empty: offset == length
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 0010 " + hex(value), "read_done 0010 0"});
}

TEST_CASE("GATT/CL/GAR/BV-04-C: Attribute Not Long or Invalid Offset on a Read Blob ends the value: success", "[gattc]") {
    uint8_t code = GENERATE(uint8_t{0x0b}, uint8_t{0x07});  // Attribute Not Long, Invalid Offset
    Bytes value = counting(22);
    Fixture fx;
    fx.client.read(0x0010);
    CHECK(fx.sent() == Bytes{0x0a, 0x10, 0x00});               // Read Request, handle 0x0010
    fx.feed(join({0x0b}, value));                              // Read Response, 22 octets
    CHECK(fx.sent() == Bytes{0x0c, 0x10, 0x00, 0x16, 0x00});  // Read Blob Request, offset 22
    fx.feed({0x01, 0x0c, 0x10, 0x00, code});                   // Error Response to Read Blob, 0x0010
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 0010 " + hex(value), "read_done 0010 0"});
}

TEST_CASE("GATT/CL/GAR/BI-12-C: long read, another error on a Read Blob: READ_DONE with it and no value", "[gattc]") {
    Fixture fx;
    fx.client.read(0x0010);
    CHECK(fx.sent() == Bytes{0x0a, 0x10, 0x00});               // Read Request, handle 0x0010
    fx.feed(join({0x0b}, counting(22)));                       // Read Response, 22 octets
    CHECK(fx.sent() == Bytes{0x0c, 0x10, 0x00, 0x16, 0x00});  // Read Blob Request, offset 22
    fx.feed({0x01, 0x0c, 0x10, 0x00, 0x02});                   // Error Response to Read Blob, Read Not Permitted
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read_done 0010 0x102"});
}

TEST_CASE("GATT/CL/GAR/BV-04-C: a long read stops at 512 octets", "[gattc]") {
    Bytes value = counting(600, 7);
    Fixture fx;
    fx.client.read(0x0011);
    CHECK(fx.sent() == Bytes{0x0a, 0x11, 0x00});  // Read Request, handle 0x0011
    fx.feed(join({0x0b}, slice(value, 0, 22)));   // Read Response, 22 octets
    size_t offset = 22;
    for (int blobs = 0; blobs < 23; ++blobs) {
        // Read Blob Request, 0x0011, at the octets read so far
        CHECK(fx.sent() == Bytes{0x0c, 0x11, 0x00, static_cast<uint8_t>(offset), static_cast<uint8_t>(offset >> 8)});
        fx.feed(join({0x0d}, slice(value, offset, 22)));  // Read Blob Response, always 22: the server has more
        offset += 22;
    }
    // 22 * 24 = 528 octets answered; the value is cut at 512 and no more is asked.
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 0011 " + hex(slice(value, 0, 512)), "read_done 0011 0"});
}

TEST_CASE("GATT/CL/GAR/BV-06-C and BV-07-C: descriptors read the same way, long ones too", "[gattc]") {
    Bytes value = counting(30, 0x61);
    Fixture fx;
    fx.client.read(0x0014);
    CHECK(fx.sent() == Bytes{0x0a, 0x14, 0x00});               // Read Request, handle 0x0014 (a 0x2901)
    fx.feed(join({0x0b}, slice(value, 0, 22)));                // Read Response, 22 octets
    CHECK(fx.sent() == Bytes{0x0c, 0x14, 0x00, 0x16, 0x00});  // Read Blob Request, offset 22
    fx.feed(join({0x0d}, slice(value, 22, 8)));                // Read Blob Response, 8 octets
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 0014 " + hex(value), "read_done 0014 0"});
}

TEST_CASE("Read: a larger ATT_MTU sets when a response may have more", "[gattc]") {
    Fixture fx;
    fx.client.set_mtu(100);
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // Read Request, handle 0x000c
    fx.feed(join({0x0b}, counting(22)));          // Read Response, 22 octets: less than 99, the whole value
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c " + hex(counting(22)), "read_done 000c 0"});

    Bytes value = counting(120);
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});               // Read Request, handle 0x000c
    fx.feed(join({0x0b}, slice(value, 0, 99)));                // Read Response, 99 octets: ATT_MTU - 1
    CHECK(fx.sent() == Bytes{0x0c, 0x0c, 0x00, 0x63, 0x00});  // Read Blob Request, offset 99
    fx.feed(join({0x0d}, slice(value, 99, 21)));               // Read Blob Response, 21 octets
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c " + hex(value), "read_done 000c 0"});
}

// ------------------------------------------------------------------------- write

TEST_CASE("GATT/CL/GAW/BV-01-C: write without response is a Write Command, at once", "[gattc]") {
    Fixture fx;
    // Write Command, handle 0x0013, value 01 02 03
    CHECK(fx.client.write_command(0x0013, Bytes{0x01, 0x02, 0x03}) == Bytes{0x52, 0x13, 0x00, 0x01, 0x02, 0x03});
    // ATT_MTU - 3 = 20 octets fit; the PDU is the whole ATT_MTU.
    CHECK(fx.client.write_command(0x0013, counting(20)) == join({0x52, 0x13, 0x00}, counting(20)));
    CHECK(fx.idle());  // nothing queued, no response awaited
    CHECK(fx.log.empty());
}

TEST_CASE("GATT/CL/GAW/BV-01-C: a Write Command longer than ATT_MTU - 3, or to handle 0, is InvalidArgs", "[gattc]") {
    Fixture fx;
    CHECK(error_of([&] { fx.client.write_command(0x0013, counting(21)); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.write_command(0, Bytes{1}); }) == ErrorCode::InvalidArgs);
    fx.client.set_mtu(50);
    CHECK(fx.client.write_command(0x0013, counting(47)) == join({0x52, 0x13, 0x00}, counting(47)));  // 50 - 3
    CHECK(error_of([&] { fx.client.write_command(0x0013, counting(48)); }) == ErrorCode::InvalidArgs);
    CHECK(fx.idle());
}

TEST_CASE("GATT/CL/GAW/BV-01-C: a Write Command goes out while a request awaits its response", "[gattc]") {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});                                      // Read Request, 0x000c
    CHECK(fx.client.write_command(0x0013, Bytes{0x09}) == Bytes{0x52, 0x13, 0x00, 0x09});  // Write Command
    CHECK(fx.client.awaiting_response());
    fx.feed({0x0b, 0x01});  // Read Response 01
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c 01", "read_done 000c 0"});
}

TEST_CASE("GATT/CL/GAW/BV-03-C: write a characteristic value with a Write Request", "[gattc]") {
    Fixture fx;
    fx.client.write(0x0013, Bytes{0x01, 0x02});
    CHECK(fx.sent() == Bytes{0x12, 0x13, 0x00, 0x01, 0x02});  // Write Request, handle 0x0013, value 01 02
    CHECK(fx.idle());
    fx.feed({0x13});  // Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0"});
}

TEST_CASE("GATT/CL/GAW/BV-03-C: ATT_MTU - 3 octets still go in one Write Request; an empty value too", "[gattc]") {
    Fixture fx;
    fx.client.write(0x0013, counting(20));
    fx.client.write(0x0014, Bytes{});
    CHECK(fx.sent() == join({0x12, 0x13, 0x00}, counting(20)));  // Write Request, 0x0013, 20 octets: 23 in all
    fx.feed({0x13});                                             // Write Response
    CHECK(fx.sent() == Bytes{0x12, 0x14, 0x00});                 // Write Request, 0x0014, no value
    fx.feed({0x13});                                             // Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0", "write_done 0014 0"});
}

TEST_CASE("GATT/CL/GAW/BI-02-C: write, Invalid Handle: WRITE_DONE 0x101", "[gattc]") {
    CHECK(write_error(0x01) == Log{"write_done 0013 0x101"});
}

TEST_CASE("GATT/CL/GAW/BI-03-C: write, Write Not Permitted: WRITE_DONE 0x103", "[gattc]") {
    CHECK(write_error(0x03) == Log{"write_done 0013 0x103"});
}

TEST_CASE("GATT/CL/GAW/BI-04-C and BI-05-C: write, Insufficient Authorization / Authentication", "[gattc]") {
    CHECK(write_error(0x08) == Log{"write_done 0013 0x108"});
    CHECK(write_error(0x05) == Log{"write_done 0013 0x105"});
}

TEST_CASE("GATT/CL/GAW/BI-32-C: write, Invalid Attribute Value Length: WRITE_DONE 0x10d", "[gattc]") {
    CHECK(write_error(0x0d) == Log{"write_done 0013 0x10d"});
}

TEST_CASE("GATT/CL/GAW/BV-05-C: write a long value with Prepare Write and Execute Write", "[gattc]") {
    Bytes value = counting(50, 0x80);
    Fixture fx;
    fx.client.write(0x0013, value);
    // Prepare Write Request, 0x0013, offset 0, 18 octets (ATT_MTU - 5)
    Bytes part1 = join({0x16, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18));
    CHECK(fx.sent() == part1);
    CHECK(part1.size() == 23);
    CHECK(fx.idle());
    fx.feed(join({0x17, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));  // Prepare Write Response: the same echoed
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 18)));  // offset 18, 18 octets
    fx.feed(join({0x17, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 18)));  // echoed
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x24, 0x00}, slice(value, 36, 14)));  // offset 36, the last 14
    fx.feed(join({0x17, 0x13, 0x00, 0x24, 0x00}, slice(value, 36, 14)));  // echoed
    CHECK(fx.sent() == Bytes{0x18, 0x01});  // Execute Write Request, flags 0x01: write what is prepared
    fx.feed({0x19});                        // Execute Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0"});
}

TEST_CASE("GATT/CL/GAW/BV-05-C: ATT_MTU - 2 octets take two Prepare Writes", "[gattc]") {
    Bytes value = counting(21);
    Fixture fx;
    fx.client.write(0x0013, value);
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));  // Prepare Write, offset 0, 18
    fx.feed(join({0x17, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));             // echoed
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 3)));  // Prepare Write, offset 18, 3
    fx.feed(join({0x17, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 3)));             // echoed
    CHECK(fx.sent() == Bytes{0x18, 0x01});                                          // Execute Write Request, write
    fx.feed({0x19});                                                                // Execute Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0"});
}

TEST_CASE("GATT/CL/GAW/BV-05-C: a last part of one octet is still prepared before the execute", "[gattc]") {
    Bytes value = counting(37, 0x10);
    Fixture fx;
    fx.client.write(0x0013, value);
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));  // Prepare Write, offset 0, 18
    fx.feed(join({0x17, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));             // echoed
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 18)));  // Prepare Write, offset 18, 18
    fx.feed(join({0x17, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 18)));             // echoed
    CHECK(fx.sent() == Bytes{0x16, 0x13, 0x00, 0x24, 0x00, 0x34});  // Prepare Write, offset 36, the last octet 0x34
    fx.feed({0x17, 0x13, 0x00, 0x24, 0x00, 0x34});                  // echoed
    CHECK(fx.sent() == Bytes{0x18, 0x01});                          // Execute Write Request, write
    fx.feed({0x19});                                                // Execute Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0"});
}

TEST_CASE("GATT/CL/GAW/BV-09-C: long descriptor writes the same way, with a larger ATT_MTU's parts", "[gattc]") {
    Bytes value = counting(200);
    Fixture fx;
    fx.client.set_mtu(100);
    fx.client.write(0x0014, counting(97));  // ATT_MTU - 3: one Write Request of 100 octets
    fx.client.write(0x0014, value);
    CHECK(fx.sent() == join({0x12, 0x14, 0x00}, counting(97)));  // Write Request, 0x0014, 97 octets
    fx.feed({0x13});                                             // Write Response
    // Prepare Write Requests of ATT_MTU - 5 = 95 octets: offsets 0, 95, 190
    CHECK(fx.sent() == join({0x16, 0x14, 0x00, 0x00, 0x00}, slice(value, 0, 95)));
    fx.feed(join({0x17, 0x14, 0x00, 0x00, 0x00}, slice(value, 0, 95)));  // echoed
    CHECK(fx.sent() == join({0x16, 0x14, 0x00, 0x5f, 0x00}, slice(value, 95, 95)));
    fx.feed(join({0x17, 0x14, 0x00, 0x5f, 0x00}, slice(value, 95, 95)));  // echoed
    CHECK(fx.sent() == join({0x16, 0x14, 0x00, 0xbe, 0x00}, slice(value, 190, 10)));
    fx.feed(join({0x17, 0x14, 0x00, 0xbe, 0x00}, slice(value, 190, 10)));  // echoed
    CHECK(fx.sent() == Bytes{0x18, 0x01});                                // Execute Write Request, write
    fx.feed({0x19});                                                      // Execute Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0014 0", "write_done 0014 0"});
}

TEST_CASE("Long write: a Prepare Write Response echoing something else cancels the write: BadData", "[gattc]") {
    Bytes value = counting(30);
    Bytes echo;
    SECTION("a changed octet") {
        echo = join({0x17, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18));
        echo[7] ^= 0xff;
    }
    SECTION("another offset") {
        echo = join({0x17, 0x13, 0x00, 0x01, 0x00}, slice(value, 0, 18));
    }
    SECTION("another handle") {
        echo = join({0x17, 0x14, 0x00, 0x00, 0x00}, slice(value, 0, 18));
    }
    SECTION("a part cut short") {
        echo = join({0x17, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 17));
    }
    Fixture fx;
    fx.client.write(0x0013, value);
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));  // Prepare Write, offset 0, 18
    fx.feed(echo);
    CHECK(fx.sent() == Bytes{0x18, 0x00});  // Execute Write Request, flags 0x00: cancel all prepared writes
    fx.feed({0x19});                        // Execute Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0xa"});
}

TEST_CASE("GATT/CL/GAW/BI-07-C and BI-09-C: long write, an error on a Prepare Write cancels and is the status", "[gattc]") {
    uint8_t code = GENERATE(uint8_t{0x01}, uint8_t{0x07}, uint8_t{0x09});  // Invalid Handle, Invalid Offset, Prepare Queue Full
    Bytes value = counting(40);
    Fixture fx;
    fx.client.write(0x0013, value);
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));  // Prepare Write, offset 0, 18
    fx.feed(join({0x17, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));             // echoed
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 18)));  // Prepare Write, offset 18
    fx.feed({0x01, 0x16, 0x13, 0x00, code});  // Error Response to Prepare Write Request, 0x0013
    CHECK(fx.sent() == Bytes{0x18, 0x00});    // Execute Write Request, flags 0x00: cancel
    fx.feed({0x19});                          // Execute Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 " + st(static_cast<uint16_t>(0x100 + code))});
}

TEST_CASE("GATT/CL/GAW/BI-33-C: long write, an error on the Execute Write is the status", "[gattc]") {
    Bytes value = counting(25);
    Fixture fx;
    fx.client.write(0x0013, value);
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));  // Prepare Write, offset 0, 18
    fx.feed(join({0x17, 0x13, 0x00, 0x00, 0x00}, slice(value, 0, 18)));             // echoed
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 7)));  // Prepare Write, offset 18, 7
    fx.feed(join({0x17, 0x13, 0x00, 0x12, 0x00}, slice(value, 18, 7)));             // echoed
    CHECK(fx.sent() == Bytes{0x18, 0x01});     // Execute Write Request, write
    fx.feed({0x01, 0x18, 0x00, 0x00, 0x0d});  // Error Response to Execute Write, Invalid Attribute Value Length
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0x10d"});
}

TEST_CASE("Long write: an error on the cancelling Execute Write keeps the first status", "[gattc]") {
    Fixture fx;
    fx.client.write(0x0013, counting(30));
    CHECK(fx.sent() == join({0x16, 0x13, 0x00, 0x00, 0x00}, counting(18)));  // Prepare Write, offset 0, 18
    fx.feed({0x01, 0x16, 0x13, 0x00, 0x09});  // Error Response to Prepare Write, Prepare Queue Full
    CHECK(fx.sent() == Bytes{0x18, 0x00});    // Execute Write Request, cancel
    fx.feed({0x01, 0x18, 0x00, 0x00, 0x0e});  // Error Response to Execute Write, Unlikely Error
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0x109"});
}

TEST_CASE("Write: more than 512 octets, or handle 0, is InvalidArgs; 512 is a long write", "[gattc]") {
    Fixture fx;
    CHECK(error_of([&] { fx.client.write(0x0013, counting(513)); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.client.write(0, Bytes{1}); }) == ErrorCode::InvalidArgs);
    CHECK(fx.idle());
    fx.client.write(0x0013, counting(512));
    Bytes first = fx.sent();
    CHECK(first.size() == 23);
    CHECK(first[0] == 0x16);  // Prepare Write Request
}

TEST_CASE("Write: a Write Response with parameters is BadData", "[gattc]") {
    Fixture fx;
    fx.client.write(0x0013, Bytes{0x01});
    CHECK(fx.sent() == Bytes{0x12, 0x13, 0x00, 0x01});  // Write Request, 0x0013, value 01
    fx.feed({0x13, 0x00});                              // Write Response with an octet it has not
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"write_done 0013 0xa"});
}

// -------------------------------------------------- notifications and indications

TEST_CASE("GATT/CL/GAN/BV-01-C: a notification is reported and needs no answer", "[gattc]") {
    Fixture fx;
    fx.feed({0x1b, 0x0c, 0x00, 0x01, 0x02});  // Handle Value Notification, 0x000c, value 01 02
    fx.feed({0x1b, 0x10, 0x00});              // Handle Value Notification, 0x0010, empty value
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"notify 000c 0102", "notify 0010 "});
}

TEST_CASE("GATT/CL/GAI/BV-01-C: an indication is reported and confirmed", "[gattc]") {
    Fixture fx;
    // Handle Value Indication, 0x000c, value 05 -> Handle Value Confirmation
    CHECK(fx.client.handle(Bytes{0x1d, 0x0c, 0x00, 0x05}) == Bytes{0x1e});
    CHECK(fx.client.handle(Bytes{0x1d, 0x0d, 0x00}) == Bytes{0x1e});  // empty value
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"indicate 000c 05", "indicate 000d "});
}

TEST_CASE("Notifications and indications: shorter than 3 octets they are ignored, unconfirmed", "[gattc]") {
    Fixture fx;
    fx.feed({0x1b});              // Handle Value Notification without a handle
    fx.feed({0x1b, 0x0c});        // half a handle
    fx.feed({0x1d});              // Handle Value Indication without a handle: no confirmation
    fx.feed({0x1d, 0x0c});
    CHECK(fx.idle());
    CHECK(fx.log.empty());
}

TEST_CASE("Notifications and indications: a value longer than 512 octets is no attribute value: ignored", "[gattc]") {
    Fixture fx(517);
    fx.client.set_mtu(517);
    // Handle Value Notification, 0x000c, 512 octets: the longest value
    fx.feed(join({0x1b, 0x0c, 0x00}, counting(512)));
    // Handle Value Notification and Indication, 0x000c, 513 octets: ignored, not confirmed
    fx.feed(join({0x1b, 0x0c, 0x00}, counting(513)));
    fx.feed(join({0x1d, 0x0c, 0x00}, counting(513)));
    // Handle Value Indication, 0x000c, 512 octets -> Handle Value Confirmation
    CHECK(fx.client.handle(join({0x1d, 0x0c, 0x00}, counting(512))) == Bytes{0x1e});
    CHECK(fx.take() == Log{"notify 000c " + hex(counting(512)), "indicate 000c " + hex(counting(512))});
}

TEST_CASE("Notifications and indications: they come between a request and its response", "[gattc]") {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});                            // Read Request, 0x000c
    fx.feed({0x1b, 0x0c, 0x00, 0xaa});                                      // Handle Value Notification, 0x000c, aa
    CHECK(fx.client.handle(Bytes{0x1d, 0x10, 0x00, 0xbb}) == Bytes{0x1e});  // Handle Value Indication -> confirmed
    CHECK(fx.client.awaiting_response());                                   // still the read's response
    CHECK(fx.idle());
    fx.feed({0x0b, 0xcc});  // Read Response cc
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"notify 000c aa", "indicate 0010 bb", "read 000c cc", "read_done 000c 0"});
}

// ----------------------------------------------------------------- the queue

TEST_CASE("Queue: one request outstanding; the next procedure waits for the response", "[gattc]") {
    Fixture fx;
    fx.client.read(0x0003);
    fx.client.write(0x0013, Bytes{0x01});
    fx.client.discover_services(uuid("180f"));
    CHECK_FALSE(fx.client.awaiting_response());
    CHECK(fx.sent() == Bytes{0x0a, 0x03, 0x00});  // Read Request, 0x0003
    CHECK(fx.idle());                             // the write waits
    CHECK(fx.idle());
    CHECK(fx.client.awaiting_response());
    fx.feed({0x0b, 0x41});                                    // Read Response "A"
    CHECK_FALSE(fx.client.awaiting_response());
    CHECK(fx.sent() == Bytes{0x12, 0x13, 0x00, 0x01});        // Write Request, 0x0013, 01
    CHECK(fx.take() == Log{"read 0003 41", "read_done 0003 0"});  // the read's DONE came with the next request
    CHECK(fx.idle());
    fx.feed({0x13});                                          // Write Response
    CHECK(fx.sent() == Bytes{0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18});  // Find By Type Value Request
    fx.feed({0x01, 0x06, 0x01, 0x00, 0x0a});                  // Error Response, Attribute Not Found
    CHECK(fx.idle());
    CHECK_FALSE(fx.client.awaiting_response());
    CHECK(fx.take() == Log{"write_done 0013 0", "services_done 0"});
}

TEST_CASE("Queue: kMaxQueued procedures, the one in progress counted; one more is Busy", "[gattc]") {
    Fixture fx;
    for (size_t i = 0; i < Client::kMaxQueued; ++i) fx.client.read(static_cast<uint16_t>(0x0100 + i));
    CHECK(error_of([&] { fx.client.read(0x0001); }) == ErrorCode::Busy);
    CHECK(error_of([&] { fx.client.discover_services(std::nullopt); }) == ErrorCode::Busy);
    CHECK(error_of([&] { fx.client.write(0x0001, Bytes{1}); }) == ErrorCode::Busy);
    CHECK(error_of([&] { fx.client.exchange_mtu(); }) == ErrorCode::Busy);
    CHECK(fx.sent() == Bytes{0x0a, 0x00, 0x01});  // Read Request, 0x0100: in progress, still counted
    CHECK(error_of([&] { fx.client.read(0x0001); }) == ErrorCode::Busy);
    fx.feed({0x0b, 0x00});                        // Read Response 00
    CHECK(fx.sent() == Bytes{0x0a, 0x01, 0x01});  // Read Request, 0x0101: the first one is done
    // A Busy exchange_mtu did not count as the connection's one request.
    fx.client.exchange_mtu();
    CHECK(error_of([&] { fx.client.read(0x0001); }) == ErrorCode::Busy);
    // Every queued read runs, then the exchange.
    size_t reads = 2;  // 0x0100 and 0x0101 sent so far
    for (;;) {
        fx.feed({0x0b, 0x00});  // Read Response 00
        auto next = fx.client.next_request();
        REQUIRE(next);
        if ((*next)[0] != 0x0a) {
            CHECK(*next == Bytes{0x02, 0x17, 0x00});  // Exchange MTU Request, 23
            break;
        }
        ++reads;
    }
    CHECK(reads == Client::kMaxQueued);
}

TEST_CASE("GATT/CL/GAT/BV-01-C: the ATT transaction timeout ends the procedure in progress and the queued ones", "[gattc]") {
    Fixture fx;
    fx.client.discover_characteristics(0x0001, 0x0007, std::nullopt);
    fx.client.read(0x0003);
    fx.client.write(0x0013, Bytes{0x01});
    fx.client.discover_descriptors(0x0003, 0x0005);
    fx.client.discover_services(std::nullopt);
    fx.client.exchange_mtu();
    CHECK(fx.sent() == Bytes{0x08, 0x01, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0001-0x0007
    fx.feed({0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a});      // 0x0002: value 0x0003, 0x2a00
    CHECK(fx.sent() == Bytes{0x08, 0x03, 0x00, 0x07, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0003-0x0007
    fx.client.fail_all(status::Timeout);  // no response in 30 s
    CHECK_FALSE(fx.client.awaiting_response());
    CHECK(fx.take() == Log{
        "characteristic end 0007 value 0003 props 02 2a00",  // held, reported as NimBLE's port does
        "characteristics_done 0xd",
        "read_done 0003 0xd",
        "write_done 0013 0xd",
        "descriptors_done 0xd",
        "services_done 0xd",
        // no MTU event on a timeout
    });
    CHECK(fx.idle());
    // A late response is nobody's.
    fx.feed({0x09, 0x07, 0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a});
    CHECK(fx.idle());
    CHECK(fx.log.empty());
    CHECK(fx.client.mtu() == 23);
}

TEST_CASE("Disconnection: fail_all(NotConnected) in the middle of a long read and a long write", "[gattc]") {
    Fixture fx;
    fx.client.read(0x0010);
    fx.client.write(0x0013, counting(30));
    CHECK(fx.sent() == Bytes{0x0a, 0x10, 0x00});               // Read Request, 0x0010
    fx.feed(join({0x0b}, counting(22)));                       // Read Response, 22 octets
    CHECK(fx.sent() == Bytes{0x0c, 0x10, 0x00, 0x16, 0x00});  // Read Blob Request, offset 22
    fx.client.fail_all(status::NotConnected);
    CHECK(fx.take() == Log{"read_done 0010 0x7", "write_done 0013 0x7"});  // no partial value
    CHECK(fx.idle());
    // The client is usable again: nothing is left over.
    fx.client.read(0x0010);
    CHECK(fx.sent() == Bytes{0x0a, 0x10, 0x00});  // Read Request, 0x0010: from the start
}

TEST_CASE("Queue: an Error Response for another request opcode is ignored", "[gattc]") {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // Read Request, 0x000c
    fx.feed({0x01, 0x12, 0x0c, 0x00, 0x01});      // Error Response to a Write Request: not ours
    fx.feed({0x01, 0x0c, 0x0c, 0x00, 0x01});      // Error Response to a Read Blob Request: not ours either
    CHECK(fx.client.awaiting_response());
    CHECK(fx.idle());
    CHECK(fx.log.empty());
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x02});  // Error Response to the Read Request, Read Not Permitted
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read_done 000c 0x102"});
}

TEST_CASE("Queue: an Error Response of the wrong length is ignored", "[gattc]") {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});    // Read Request, 0x000c
    fx.feed({0x01, 0x0a, 0x0c, 0x00});              // Error Response without its code
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x01, 0x00});  // one octet too many
    fx.feed({0x01});                                // nothing but the opcode
    CHECK(fx.client.awaiting_response());
    CHECK(fx.log.empty());
    fx.feed({0x0b, 0x2a});  // Read Response 2a
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c 2a", "read_done 000c 0"});
}

TEST_CASE("Queue: a response with another opcode than the request's is ignored", "[gattc]") {
    Fixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // Read Request, 0x000c
    fx.feed({0x13});                              // Write Response
    fx.feed({0x0d, 0x01, 0x02});                  // Read Blob Response
    fx.feed({0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18});  // Read By Group Type Response
    fx.feed({0x03, 0x00, 0x01});                  // Exchange MTU Response
    fx.feed({0x0a, 0x0c, 0x00});                  // a Read Request: the server's business, not the client's
    CHECK(fx.client.awaiting_response());
    CHECK(fx.client.mtu() == 23);
    CHECK(fx.log.empty());
    fx.feed({0x0b, 0x2a});  // Read Response 2a
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c 2a", "read_done 000c 0"});
}

TEST_CASE("Queue: responses nothing asked for are ignored", "[gattc]") {
    Fixture fx;
    fx.feed({});                                                // nothing
    fx.feed({0x0b, 0x01, 0x02});                                // Read Response
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x01});                    // Error Response to a Read Request
    fx.feed({0x13});                                            // Write Response
    fx.feed({0x03, 0x00, 0x01});                                // Exchange MTU Response
    fx.feed({0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18});  // Read By Group Type Response
    CHECK(fx.client.mtu() == 23);
    CHECK(fx.idle());
    CHECK(fx.log.empty());
    // Nor a second response to a request answered already.
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // Read Request, 0x000c
    fx.feed({0x0b, 0x01});                        // Read Response 01
    fx.feed({0x0b, 0x02});                        // again
    CHECK(fx.idle());
    fx.feed({0x0b, 0x03});                        // and after the DONE
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read 000c 01", "read_done 000c 0"});
}

TEST_CASE("Queue: a malformed response ends its procedure with BadData and the next one goes on", "[gattc]") {
    Fixture fx;
    fx.client.discover_descriptors(0x000c, 0x000f);
    fx.client.discover_characteristics(0x0001, 0x0005, std::nullopt);
    fx.client.read(0x0003);
    CHECK(fx.sent() == Bytes{0x04, 0x0d, 0x00, 0x0f, 0x00});  // Find Information Request, 0x000d-0x000f
    fx.feed({0x05, 0x01, 0x0d, 0x00, 0x02});                  // Find Information Response, a UUID cut short
    CHECK(fx.sent() == Bytes{0x08, 0x01, 0x00, 0x05, 0x00, 0x03, 0x28});  // Read By Type Request, 0x0001-0x0005
    fx.feed({0x09, 0x05, 0x02, 0x00, 0x02, 0x03, 0x00});                  // length 5: no room for a UUID
    CHECK(fx.sent() == Bytes{0x0a, 0x03, 0x00});                          // Read Request, 0x0003
    fx.feed({0x0b, 0x70, 0x69});                                          // Read Response "pi"
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"descriptors_done 0xa", "characteristics_done 0xa", "read 0003 7069", "read_done 0003 0"});
}

TEST_CASE("MTU exchange: the new ATT_MTU applies to the requests after it", "[gattc]") {
    Fixture fx(64);
    fx.client.exchange_mtu();
    fx.client.write(0x0013, counting(40));
    CHECK(fx.sent() == Bytes{0x02, 0x40, 0x00});  // Exchange MTU Request, Client Rx MTU 64
    fx.feed({0x03, 0x32, 0x00});                  // Exchange MTU Response, Server Rx MTU 50
    // Write Request, 0x0013, 40 octets: fits ATT_MTU - 3 = 47 now, no long write.
    CHECK(fx.sent() == join({0x12, 0x13, 0x00}, counting(40)));
    fx.feed({0x13});  // Write Response
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"mtu 50", "write_done 0013 0"});
    CHECK(fx.client.write_command(0x0013, counting(47)).size() == 50);
}

// ------------------------------------------------- security raised, then retried

namespace {

// A client whose owner raises security when asked (answer), logging the ask.
struct SecuringFixture : Fixture {
    bool answer = true;
    SecuringFixture() {
        raise_security = [this](uint8_t code) {
            log.push_back("security_needed " + st(code));
            return answer;
        };
    }
};

}  // namespace

TEST_CASE("Read: Insufficient Encryption holds the request until security is raised, then sends it again", "[gattc]") {
    SecuringFixture fx;
    fx.client.read(0x000c);
    fx.client.read(0x000e);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x0f});  // Error Response: Insufficient Encryption
    CHECK(fx.take() == Log{"security_needed 0xf"});
    CHECK(fx.idle());  // held: neither it nor the next read goes
    CHECK_FALSE(fx.client.awaiting_response());
    fx.client.security_raised();
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});  // the same Read Request again
    fx.feed({0x0b, 0x41});                        // Read Response "A"
    CHECK(fx.sent() == Bytes{0x0a, 0x0e, 0x00});  // then the next read
    CHECK(fx.take() == Log{"read 000c 41", "read_done 000c 0"});
}

TEST_CASE("Write: Insufficient Authentication is retried once; a second refusal is the result", "[gattc]") {
    SecuringFixture fx;
    fx.client.write(0x0013, Bytes{0x01});
    CHECK(fx.sent() == Bytes{0x12, 0x13, 0x00, 0x01});
    fx.feed({0x01, 0x12, 0x13, 0x00, 0x05});  // Insufficient Authentication
    fx.client.security_raised();
    CHECK(fx.sent() == Bytes{0x12, 0x13, 0x00, 0x01});
    fx.feed({0x01, 0x12, 0x13, 0x00, 0x05});  // still not enough: no second try
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"security_needed 0x5", "write_done 0013 0x105"});
}

TEST_CASE("Security not raised (the owner says no), or other errors: the error is the result at once", "[gattc]") {
    SecuringFixture fx;
    fx.answer = false;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x0f});
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"security_needed 0xf", "read_done 000c 0x10f"});
    fx.answer = true;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x08});  // Insufficient Authorization: pairing cannot help
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"read_done 000c 0x108"});
    fx.client.security_raised();  // nothing held: nothing sent
    CHECK(fx.idle());
}

TEST_CASE("A held request ends with the link", "[gattc]") {
    SecuringFixture fx;
    fx.client.read(0x000c);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x0f});
    fx.client.fail_all(status::NotConnected);
    fx.client.security_raised();
    CHECK(fx.idle());
    CHECK(fx.take() == Log{"security_needed 0xf", "read_done 000c 0x7"});
}

TEST_CASE("A held request ends with the server's error when raising security fails", "[gattc]") {
    SecuringFixture fx;
    fx.client.read(0x000c);
    fx.client.read(0x000e);
    CHECK(fx.sent() == Bytes{0x0a, 0x0c, 0x00});
    fx.feed({0x01, 0x0a, 0x0c, 0x00, 0x0f});
    fx.client.security_failed();
    CHECK(fx.sent() == Bytes{0x0a, 0x0e, 0x00});  // the next read goes
    CHECK(fx.take() == Log{"security_needed 0xf", "read_done 000c 0x10f"});
}
