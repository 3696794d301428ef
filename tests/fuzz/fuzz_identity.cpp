// libFuzzer target: the adapter's identity file read at start
// (sm::decode_identity). Whatever the file holds, decode either throws
// BleError or returns a valid identity that encodes and decodes back to
// itself. Inputs whose first byte is even get a correct crc32 line appended,
// so the fuzzer also reaches the field parsers.
// Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ilib \
//     lib/core/bytes.cpp lib/core/address.cpp lib/core/error.cpp lib/sm/bond.cpp lib/sm/local_identity.cpp \
//     tests/fuzz/fuzz_identity.cpp -o build/fuzz/fuzz_identity
//   build/fuzz/fuzz_identity -max_total_time=20 build/fuzz/fuzz_identity-corpus
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "sm/local_identity.hpp"

namespace {

void check_round_trip(std::string_view text) {
    ubt::sm::LocalIdentity identity;
    try {
        identity = ubt::sm::decode_identity(text);
    } catch (const ubt::BleError&) {
        return;
    }
    std::string again = ubt::sm::encode(identity);  // anything decode accepts, encode accepts
    if (!(ubt::sm::decode_identity(again) == identity)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
