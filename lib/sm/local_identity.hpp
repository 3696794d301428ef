#pragma once
// The adapter's own identity, which peers that bonded with it keep: its
// static random address (addr_mode 1) and its IRK (addr_mode 2 and 3). Kept
// beside the bonds so that it outlives the daemon. Pure values and functions.

#include <cstddef>
#include <string>
#include <string_view>

#include "bond.hpp"

namespace ubt::sm {

struct LocalIdentity {
    Address static_address;  // a static random address (top two bits 11)
    IrkValue irk{};          // in mgmt's order, as Set Privacy takes it

    bool operator==(const LocalIdentity&) const = default;
};

// The identity file: text, at most kMaxIdentityFileSize bytes, lines ending in '\n':
//   ubluetoothd identity 1
//   static C0:AA:01:00:00:01
//   irk <32 upper-case hex digits>
//   crc32 <8 upper-case hex digits>
// static and irk may come in either order, each exactly once; the CRC-32
// (sm::crc32) covers every byte before the crc32 line.
constexpr size_t kMaxIdentityFileSize = 1024;

// Throws BleError(InvalidArgs) when the static address is not a static random
// address: top two bits 11, the other 46 bits neither all zero nor all one.
void validate(const LocalIdentity& identity);
// Validates the identity and returns its file text.
std::string encode(const LocalIdentity& identity);
// Parses an identity file. Anything malformed, truncated or altered throws
// BleError(InvalidArgs) with a message naming the line and the field.
LocalIdentity decode_identity(std::string_view text);

}  // namespace ubt::sm
