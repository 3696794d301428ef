#pragma once
// What the key-file fuzz targets (fuzz_bond, fuzz_identity) check: whatever a
// file holds, decode either throws BleError or returns a value that encodes
// and decodes back to itself. The first byte of the input chooses, the rest is
// the file: when the first byte is even the file gets a correct crc32 line
// appended, so the fuzzer also reaches the field parsers behind the CRC check.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "sm/bond.hpp"

template <class Decode, class Encode>
int fuzz_key_file(const uint8_t* data, size_t size, Decode decode, Encode encode) {
    auto check_round_trip = [&](std::string_view text) {
        decltype(decode(text)) value;
        try {
            value = decode(text);
        } catch (const ubt::BleError&) {
            return;
        }
        std::string again = encode(value);  // anything decode accepts, encode accepts
        if (!(decode(again) == value) || encode(decode(again)) != again) std::abort();
    };
    if (size == 0) return 0;
    std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] & 1) {
        check_round_trip(body);
    } else {
        std::string text(body);
        char crc[9];
        std::snprintf(crc, sizeof crc, "%08X", static_cast<unsigned>(ubt::sm::crc32(text)));
        check_round_trip(text + "crc32 " + crc + "\n");
    }
    return 0;
}
