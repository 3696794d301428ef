#pragma once
// AES-128 encryption of one block (FIPS-197), the e() of the Bluetooth
// security functions. Key and block are most significant octet first, as
// FIPS-197 and the Core spec's sample data write them. Only the random
// address hash needs it here; the kernel does SMP.

#include <array>
#include <cstdint>

namespace ubt {

using Block128 = std::array<uint8_t, 16>;

Block128 aes128_encrypt(const Block128& key, const Block128& plaintext);

}  // namespace ubt
