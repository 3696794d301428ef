#pragma once
// A Bluetooth device address as ubluetooth shows it: 6 bytes, most
// significant first (00:AA:01:01:00:42 is {0x00, 0xaa, 0x01, 0x01, 0x00, 0x42}),
// the reverse of the kernel's bdaddr_t.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "bytes.hpp"

namespace ubt {

struct Address {
    using Bytes6 = std::array<uint8_t, 6>;
    Bytes6 msb_first{};

    // From the little-endian order used on the wire, in mgmt and in bdaddr_t.
    static Address from_le(ByteView le);
    // From "00:AA:01:01:00:42" (case-insensitive); nullopt if malformed.
    static std::optional<Address> parse(const std::string& text);

    std::array<uint8_t, 6> to_le() const;
    std::string to_string() const;
    bool is_zero() const;

    bool operator==(const Address&) const = default;
};

// An LE address with its type as ubluetooth numbers it: 0 public, 1 random.
struct LeAddress {
    uint8_t type = 0;
    Address address;

    bool operator==(const LeAddress&) const = default;
};

}  // namespace ubt
