#pragma once
// A bond (one peer's keys, as the kernel's mgmt API carries them) and its text
// file format. Pure values and functions: any thread, no I/O.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"

namespace ubt::sm {

// mgmt_ltk_info's type field.
enum class LtkType : uint8_t {
    UnauthenticatedLegacy = 0,
    AuthenticatedLegacy = 1,
    UnauthenticatedP256 = 2,
    AuthenticatedP256 = 3,
    DebugP256 = 4,
};

constexpr uint8_t kMinEncSize = 7;
constexpr uint8_t kMaxEncSize = 16;
// mgmt's address types for LE (mgmt_addr_info.type).
constexpr uint8_t kMgmtAddrLePublic = 1;
constexpr uint8_t kMgmtAddrLeRandom = 2;

// One long term key: the fields of mgmt_ltk_info after its address, which is
// the bond's peer. Byte arrays are in the order mgmt carries them.
struct Ltk {
    LtkType type = LtkType::UnauthenticatedLegacy;
    bool central = false;      // used when we are central (mgmt's "central"/"initiator")
    uint8_t enc_size = kMaxEncSize;  // kMinEncSize..kMaxEncSize
    uint16_t ediv = 0;
    std::array<uint8_t, 8> rand{};
    std::array<uint8_t, 16> val{};

    bool operator==(const Ltk&) const = default;
};

using IrkValue = std::array<uint8_t, 16>;  // mgmt_irk_info.val, in mgmt's order

// One bonded peer of one adapter. Valid when the peer is an identity address
// (public and not zero, or static random: top two bits 11), there are at most
// two LTKs with different `central`, and there is at least one key.
struct Bond {
    LeAddress peer;             // the identity address (ubluetooth type 0 public, 1 random)
    std::vector<Ltk> ltks;      // at most one per value of `central`
    std::optional<IrkValue> irk;

    // Any LTK from authenticated (MITM-protected) pairing.
    bool authenticated() const;
    // The largest enc_size of the LTKs; 0 without one.
    uint8_t key_size() const;
    // Adds the LTK, replacing the one with the same `central`.
    void put_ltk(const Ltk& ltk);

    bool operator==(const Bond&) const = default;
};

// kMgmtAddrLePublic or kMgmtAddrLeRandom for the peer's type.
uint8_t mgmt_address_type(const LeAddress& peer);

// Throws BleError(InvalidArgs) saying what is wrong with the bond.
void validate(const Bond& bond);

// The bond file: text, at most kMaxBondFileSize bytes, lines ending in '\n':
//   ubluetoothd bond 1
//   peer random C0:AA:01:01:00:01
//   ltk type=3 central=0 enc_size=16 ediv=0 rand=0000000000000000 val=<32 hex digits>
//   irk <32 hex digits>
//   crc32 <8 hex digits>
// The lines between the first and the last may come in any order; ltk (0 to 2)
// and irk (optional) hold mgmt's bytes in mgmt's order. Hex is upper case,
// numbers are decimal without leading zeros. The CRC-32 covers every byte
// before the crc32 line.
constexpr size_t kMaxBondFileSize = 4096;

// Validates the bond (throws BleError(InvalidArgs)) and returns its file text.
std::string encode(const Bond& bond);
// Parses a bond file. Anything malformed, truncated or altered throws
// BleError(InvalidArgs) with a message naming the line and the field.
Bond decode(std::string_view text);

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib computes it).
uint32_t crc32(std::string_view data);

}  // namespace ubt::sm
