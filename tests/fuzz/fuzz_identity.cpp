// libFuzzer target: the adapter's identity file read at start
// (sm::decode_identity), checked as key_file_input.hpp says.
// Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ilib \
//     lib/core/bytes.cpp lib/core/address.cpp lib/core/error.cpp lib/sm/key_file.cpp lib/sm/local_identity.cpp \
//     tests/fuzz/fuzz_identity.cpp -o build/fuzz/fuzz_identity
//   build/fuzz/fuzz_identity -max_total_time=20 build/fuzz/fuzz_identity-corpus
#include <cstddef>
#include <cstdint>

#include "key_file_input.hpp"
#include "sm/local_identity.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fuzz_key_file(
        data, size, [](std::string_view text) { return ubt::sm::decode_identity(text); },
        [](const ubt::sm::LocalIdentity& identity) { return ubt::sm::encode(identity); });
}
