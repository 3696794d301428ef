// The attribute table gatts_register_services builds, and UUIDs in their
// D-Bus and ATT forms.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "error_of.hpp"
#include "gatt/database.hpp"

using namespace ubt;
using att::Uuid;
using test::error_of;

namespace {
Uuid uuid(const char* text) { return *Uuid::parse(text); }
}  // namespace

TEST_CASE("UUIDs: the three D-Bus forms, equality across forms, ATT bytes") {
    Uuid hr = uuid("180d");
    CHECK(hr == Uuid::from16(0x180d));
    CHECK(hr == uuid("0000180D-0000-1000-8000-00805F9B34FB"));  // the full form of the same UUID
    CHECK(hr == uuid("0000180d"));
    CHECK(hr.is16());
    CHECK(hr.att_bytes() == Bytes{0x0d, 0x18});
    CHECK(hr.to_string() == "180d");
    CHECK(uuid("0000180d").to_string() == "0000180d");
    Uuid uart = uuid("6E400001-B5A3-F393-E0A9-E50E24DCCA9E");
    CHECK(uart.to_string() == "6e400001-b5a3-f393-e0a9-e50e24dcca9e");
    CHECK_FALSE(uart.is16());
    CHECK(uart.att_bytes() == Bytes{0x9e, 0xca, 0xdc, 0x24, 0x0e, 0xe5, 0xa9, 0xe0,
                                    0x93, 0xf3, 0xa3, 0xb5, 0x01, 0x00, 0x40, 0x6e});
    Uuid thirty_two = uuid("12345678");
    CHECK_FALSE(thirty_two.is16());
    CHECK(thirty_two.att_bytes().size() == 16);  // ATT has no 32-bit form
    CHECK(Uuid::from_att(uart.att_bytes()) == uart);
    CHECK(Uuid::from_att(Bytes{0x0d, 0x18}) == hr);
    for (const char* bad : {"", "18", "180", "180g", "0000180d-", "6e400001b5a3-f393-e0a9-e50e24dcca9e0",
                            "6e400001-b5a3-f393-e0a9_e50e24dcca9e", "6e400001-b5a3-f393-e0a9-e50e24dcca9g"}) {
        CHECK_FALSE(Uuid::parse(bad));
    }
    CHECK_FALSE(Uuid::from_att(Bytes{0x01, 0x02, 0x03}));
}

TEST_CASE("the spec's example registers with GAP and GATT services first and CCCDs after notify values") {
    using namespace gatt;
    const std::vector<ServiceDef> services{
        {uuid("180d"), {{uuid("2a37"), flag::Read | flag::Notify, {}}}},
        {uuid("6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
         {{uuid("6e400003-b5a3-f393-e0a9-e50e24dcca9e"), flag::Read | flag::Notify, {}},
          {uuid("6e400002-b5a3-f393-e0a9-e50e24dcca9e"), flag::Write, {{uuid("2901"), flag::Read}}}}},
    };
    Database db;
    auto handles = db.build(services, "pi");
    // 1-5 GAP (name 3), 6-9 GATT; HR 10-13; UART 14-20.
    CHECK(handles == std::vector<std::vector<uint16_t>>{{12}, {16, 19, 20}});
    CHECK(db.device_name_handle() == 3);
    CHECK(db.find(3)->value == Bytes{'p', 'i'});
    const auto& a = db.attributes();
    REQUIRE(a.size() == 20);
    CHECK(a[0].type == Uuid::from16(uuid16::PrimaryService));
    CHECK(a[0].value == Bytes{0x00, 0x18});
    CHECK(a[0].group_end == 5);
    CHECK(a[5].group_end == 9);
    CHECK(a[9].value == Bytes{0x0d, 0x18});  // HR service declaration
    CHECK(a[9].group_end == 13);
    CHECK(a[10].value == Bytes{0x12, 0x0c, 0x00, 0x37, 0x2a});  // properties read|notify, value handle 12, 0x2a37
    CHECK(a[12].type == Uuid::from16(uuid16::Cccd));
    CHECK(a[12].value == Bytes{0x00, 0x00});
    CHECK(a[13].group_end == 20);
    CHECK(a[17].value.at(0) == 0x08);  // RX: write only
    CHECK(a[19].type == uuid("2901"));
    CHECK(db.find(0) == nullptr);
    CHECK(db.find(21) == nullptr);
}

TEST_CASE("a rejected definition leaves the table as it was") {
    using namespace gatt;
    Database db;
    db.build({{uuid("180d"), {{uuid("2a37"), flag::Read, {}}}}}, "pi");
    auto before = db.attributes().size();
    CHECK(error_of([&] { db.build({{uuid("180f"), {{uuid("2a19"), 0x8000, {}}}}}, "pi"); }) == ErrorCode::InvalidArgs);
    CHECK(db.attributes().size() == before);
    std::vector<CharacteristicDef> many(22000, CharacteristicDef{uuid("2a19"), flag::Notify, {}});
    CHECK(error_of([&] { db.build({{uuid("180f"), many}}, "pi"); }) == ErrorCode::InvalidArgs);
    CHECK(db.attributes().size() == before);
}
