// libFuzzer target: ATT PDUs from a connected client, the most exposed
// parser of a Bluetooth host. The server must answer or ignore each one and
// never crash, read out of bounds or grow without bound.
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "gatt/server.hpp"

namespace {

using namespace ubt;
using namespace ubt::gatt;

std::vector<ServiceDef> services() {
    auto u = [](const char* t) { return *att::Uuid::parse(t); };
    return {
        {u("180d"), {{u("2a37"), flag::Read | flag::Notify | flag::Write, {{u("2901"), flag::Read | flag::Write}}}}},
        {u("6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
         {{u("6e400002-b5a3-f393-e0a9-e50e24dcca9e"), flag::Write | flag::WriteNoResponse | flag::ReadEncrypted, {}},
          {u("6e400003-b5a3-f393-e0a9-e50e24dcca9e"), flag::Read | flag::Indicate | flag::ReadAuthorized, {}}}},
    };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Database db;
    db.build(services(), "fuzz");
    size_t writes = 0;
    Server server(db, 517, [&](uint16_t) { ++writes; });
    // The input as PDUs: a length byte, a security byte, then the PDU.
    ByteReader reader(ByteView(data, size));
    while (reader.remaining() > 1) {
        size_t n = reader.u8();
        uint8_t security = reader.u8();
        ByteView pdu = reader.bytes(std::min(n, reader.remaining()));
        auto response = server.handle(pdu, {(security & 1) != 0, (security & 2) != 0});
        if (response && response->size() > server.mtu()) __builtin_trap();  // never more than ATT_MTU
    }
    return 0;
}
