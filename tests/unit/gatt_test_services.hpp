#pragma once
// The services the GATT server tests register, and the byte helpers their
// PDUs are written with.

#include <vector>

#include "gatt/database.hpp"

namespace ubt::test {

inline att::Uuid uuid(const char* text) { return *att::Uuid::parse(text); }

// Handles: 1-5 GAP, 6-9 GATT;
// 10 HR service: 11 decl, 12 0x2a37 value (read, notify), 13 CCCD;
// 14 UART service: 15 decl, 16 TX value (read, notify), 17 CCCD,
//                  18 decl, 19 RX value (write, write without response), 20 0x2901 (read);
// 21 battery service: 22 decl, 23 0x2a19 (read, encrypted), 24 decl,
//                  25 0x2a1a (read, authenticated), 26 decl, 27 0x2a1b (write only).
inline std::vector<gatt::ServiceDef> heart_rate_uart_battery() {
    using namespace gatt;
    return {
        {uuid("180d"), {{uuid("2a37"), flag::Read | flag::Notify, {}}}},
        {uuid("6e400001-b5a3-f393-e0a9-e50e24dcca9e"),
         {{uuid("6e400003-b5a3-f393-e0a9-e50e24dcca9e"), flag::Read | flag::Notify, {}},
          {uuid("6e400002-b5a3-f393-e0a9-e50e24dcca9e"), flag::Write | flag::WriteNoResponse,
           {{uuid("2901"), flag::Read}}}}},
        {uuid("180f"),
         {{uuid("2a19"), flag::Read | flag::ReadEncrypted, {}},
          {uuid("2a1a"), flag::Read | flag::ReadAuthenticated, {}},
          {uuid("2a1b"), flag::Write, {}}}},
    };
}

inline Bytes repeat(uint8_t b, size_t n) { return Bytes(n, b); }

// a then b (push_back: GCC 12 warns falsely on insert here).
inline Bytes operator+(Bytes a, const Bytes& b) {
    for (uint8_t x : b) a.push_back(x);
    return a;
}

}  // namespace ubt::test
