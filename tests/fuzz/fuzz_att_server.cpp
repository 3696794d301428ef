// libFuzzer target: ATT PDUs from a connected client, the most exposed
// parser of a Bluetooth host. The server must answer or ignore each one and
// never crash, read out of bounds or grow without bound.
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "core/error.hpp"
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
    // The input as PDUs: a length byte, a flags byte, then the PDU. Flags:
    // bits 0-1 the link's security, bit 2 ask before reads, bit 3 answer the
    // held reads (with the length byte as the answer) instead of a PDU, bit 4
    // indicate instead.
    ByteReader reader(ByteView(data, size));
    while (reader.remaining() > 1) {
        size_t n = reader.u8();
        uint8_t flags = reader.u8();
        server.ask_before_reads((flags & 4) != 0);
        std::optional<Bytes> response;
        if (flags & 8) {
            std::map<uint16_t, uint8_t> answers;
            for (uint16_t handle : server.held_reads()) answers[handle] = static_cast<uint8_t>(n);
            response = server.resume(answers);
            if (!server.held_reads().empty()) __builtin_trap();  // resumed: nothing is held any more
        } else if (flags & 16) {
            try {
                response = server.indicate(static_cast<uint16_t>(n), Bytes(n, 0x55));
            } catch (const BleError&) {
            }
        } else {
            ByteView pdu = reader.bytes(std::min(n, reader.remaining()));
            response = server.handle(pdu, {(flags & 1) != 0, (flags & 2) != 0});
        }
        if (response && response->size() > server.mtu()) __builtin_trap();  // never more than ATT_MTU
    }
    return 0;
}
