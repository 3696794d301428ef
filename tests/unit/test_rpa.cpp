// AES-128 against FIPS-197 and the random address hash against the Core
// spec's sample data.
#include <catch2/catch.hpp>

#include <algorithm>

#include "core/aes128.hpp"
#include "gap/rpa.hpp"

using namespace ubt;

TEST_CASE("AES-128 encrypts the FIPS-197 example block") {
    // FIPS-197 Appendix C.1: key 000102...0f, plaintext 00112233...ff.
    Block128 key{}, plaintext{};
    for (int i = 0; i < 16; ++i) {
        key[i] = static_cast<uint8_t>(i);
        plaintext[i] = static_cast<uint8_t>(i * 0x11);
    }
    const Block128 expected{0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                            0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
    CHECK(aes128_encrypt(key, plaintext) == expected);
}

TEST_CASE("ah() and the resolvable private address match the Core spec's sample data") {
    // Core spec Vol 3 Part H Appendix D: IRK ec0234a3 57c8ad05 341010a6
    // 0a397d9b (most significant first), prand 708194, ah 0dfbaa.
    const Block128 irk_msb{0xec, 0x02, 0x34, 0xa3, 0x57, 0xc8, 0xad, 0x05,
                           0x34, 0x10, 0x10, 0xa6, 0x0a, 0x39, 0x7d, 0x9b};
    gap::Irk irk;
    std::reverse_copy(irk_msb.begin(), irk_msb.end(), irk.begin());  // as mgmt carries it
    const gap::Prand prand{0x70, 0x81, 0x94};
    CHECK(gap::rpa_hash(irk, prand) == std::array<uint8_t, 3>{0x0d, 0xfb, 0xaa});
    CHECK(gap::resolvable_private_address(irk, prand) == *Address::parse("70:81:94:0D:FB:AA"));
}
