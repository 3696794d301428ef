#pragma once
// Resolvable private addresses (Core spec Vol 6 Part B 1.3.2.2): a random
// part prand with its top two bits 01, then hash = ah(IRK, prand), which a
// peer that holds our IRK can check to know us.

#include <array>
#include <cstdint>

#include "core/address.hpp"

namespace ubt::gap {

// An identity resolving key as mgmt and the kernel hold it: least
// significant octet first.
using Irk = std::array<uint8_t, 16>;
// Three octets, most significant first.
using Prand = std::array<uint8_t, 3>;

// ah() of the Core spec (Vol 3 Part H 2.2.2): e(IRK, padding || prand) mod 2^24.
std::array<uint8_t, 3> rpa_hash(const Irk& irk, const Prand& prand);
// prand || ah(IRK, prand); prand must already carry the 01 marker bits.
Address resolvable_private_address(const Irk& irk, const Prand& prand);

}  // namespace ubt::gap
