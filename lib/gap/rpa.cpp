#include "rpa.hpp"

#include <algorithm>

#include "core/aes128.hpp"

namespace ubt::gap {

std::array<uint8_t, 3> rpa_hash(const Irk& irk, const Prand& prand) {
    Block128 key;
    std::reverse_copy(irk.begin(), irk.end(), key.begin());  // e() takes it most significant first
    Block128 r{};
    std::copy(prand.begin(), prand.end(), r.end() - 3);  // r' = 104 zero bits || prand
    Block128 e = aes128_encrypt(key, r);
    return {e[13], e[14], e[15]};
}

Address resolvable_private_address(const Irk& irk, const Prand& prand) {
    auto hash = rpa_hash(irk, prand);
    return Address{{prand[0], prand[1], prand[2], hash[0], hash[1], hash[2]}};
}

}  // namespace ubt::gap
