#pragma once
// The keys of LE pairing as the kernel's mgmt API carries them: the entries of
// Load Long Term Keys / Load Identity Resolving Keys, which are also the keys of
// the New Long Term Key / New Identity Resolving Key events. Plain values; the
// codec (mgmt_codec.hpp) puts them on the wire and the bond store converts to
// and from them.

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/address.hpp"
#include "mgmt_protocol.hpp"

namespace ubt::mgmt {

// mgmt's Address_Type field. Decoders keep whatever value the kernel sent.
namespace addr_type {
constexpr uint8_t BrEdr = 0;
constexpr uint8_t LePublic = 1;
constexpr uint8_t LeRandom = 2;
}  // namespace addr_type

// An address with its mgmt type (the Address and Address_Type fields). The
// address is most significant first, as everywhere in ubt; the codec reverses
// it on the wire.
struct DeviceAddress {
    Address address;
    uint8_t type = addr_type::LePublic;

    bool operator==(const DeviceAddress&) const = default;
};

// Key_Type of a long term key.
namespace ltk_type {
constexpr uint8_t UnauthenticatedLegacy = 0x00;
constexpr uint8_t AuthenticatedLegacy = 0x01;
constexpr uint8_t UnauthenticatedP256 = 0x02;
constexpr uint8_t AuthenticatedP256 = 0x03;
constexpr uint8_t DebugP256 = 0x04;
}  // namespace ltk_type

constexpr size_t kLtkRandSize = 8;
constexpr size_t kLtkValueSize = 16;
// Bytes of one key entry on the wire.
constexpr size_t kLtkInfoSize = 6 + 1 + 1 + 1 + 1 + 2 + kLtkRandSize + kLtkValueSize;  // 36
constexpr size_t kIrkInfoSize = 6 + 1 + kIrkSize;                                       // 23

// One long term key (mgmt_ltk_info). rand and val are in the order mgmt
// carries them (rand is the kernel's little-endian 64-bit Rand).
struct LongTermKey {
    DeviceAddress peer;     // the peer's identity address
    uint8_t type = ltk_type::UnauthenticatedLegacy;
    uint8_t central = 0;    // 1: the key is used when we are central; the kernel sends 0 or 1
    uint8_t enc_size = 16;  // encryption key size, 7..16
    uint16_t ediv = 0;
    std::array<uint8_t, kLtkRandSize> rand{};
    std::array<uint8_t, kLtkValueSize> val{};

    bool operator==(const LongTermKey&) const = default;
};

// One identity resolving key (mgmt_irk_info); val in mgmt's order.
struct IdentityResolvingKey {
    DeviceAddress peer;  // the peer's identity address
    std::array<uint8_t, kIrkSize> val{};

    bool operator==(const IdentityResolvingKey&) const = default;
};

// The most keys one Load command can carry: its parameters (a 2-byte count and
// the entries) must fit the frame's 16-bit length. The kernel refuses larger
// counts with Invalid Parameters.
constexpr size_t kMaxLoadLtks = (0xffff - 2) / kLtkInfoSize;  // 1820
constexpr size_t kMaxLoadIrks = (0xffff - 2) / kIrkInfoSize;  // 2849

}  // namespace ubt::mgmt
