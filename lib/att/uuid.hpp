#pragma once
// A Bluetooth UUID: 16- or 32-bit short forms of the Bluetooth base UUID, or
// a full 128-bit one. Kept as 128 bits (little-endian, as ATT carries them)
// plus the form it was given in, so it prints back the same way.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.hpp"

namespace ubt::att {

class Uuid {
public:
    using Bytes16 = std::array<uint8_t, 16>;

    static Uuid from16(uint16_t value);
    // The D-Bus contract's text: "180d", "0000180d" or
    // "6e400001-b5a3-f393-e0a9-e50e24dcca9e" (either case); nullopt otherwise.
    static std::optional<Uuid> parse(const std::string& text);
    // As ATT carries it: 2 or 16 bytes, little-endian; nullopt otherwise.
    static std::optional<Uuid> from_att(ByteView bytes);

    // The D-Bus form, in the length it was given (16-bit values as 4 digits).
    std::string to_string() const;
    // 2 bytes when it is a 16-bit short form, else all 16 (ATT has no 32-bit form).
    Bytes att_bytes() const;
    bool is16() const;
    const Bytes16& le() const { return le_; }

    // Equal when the 128-bit values are: "180d" equals its full form.
    bool operator==(const Uuid& other) const { return le_ == other.le_; }

private:
    Bytes16 le_{};
    uint8_t given_size_ = 16;  // 2, 4 or 16
};

}  // namespace ubt::att
