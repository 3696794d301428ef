// libFuzzer target: bond files read at start (sm::decode), checked as
// key_file_input.hpp says.
// Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ilib \
//     lib/core/bytes.cpp lib/core/address.cpp lib/core/error.cpp lib/sm/bond.cpp lib/sm/key_file.cpp \
//     tests/fuzz/fuzz_bond.cpp -o build/fuzz/fuzz_bond
//   build/fuzz/fuzz_bond -max_total_time=20 build/fuzz/fuzz_bond-corpus
#include <cstddef>
#include <cstdint>

#include "key_file_input.hpp"
#include "sm/bond.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fuzz_key_file(
        data, size, [](std::string_view text) { return ubt::sm::decode(text); },
        [](const ubt::sm::Bond& bond) { return ubt::sm::encode(bond); });
}
