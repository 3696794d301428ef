#pragma once
// The text framing that the bond file (bond.hpp) and the identity file
// (local_identity.hpp) share, and helpers for their fields. Internal to sm.
//   ubluetoothd <kind> 1
//   <key> <value>      (the body: any number of lines, any keys but crc32)
//   crc32 <8 upper-case hex digits>
// Every line ends in '\n'; the CRC-32 (sm::crc32) covers every byte before
// the crc32 line. Errors throw BleError(InvalidArgs).

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/address.hpp"

namespace ubt::sm {

struct KeyFileFormat {
    std::string_view kind;  // "bond": the header is "ubluetoothd bond 1", messages say "bond file ..."
    size_t max_size;        // in bytes
};

// Throws BleError(InvalidArgs) with the message.
[[noreturn]] void invalid(const std::string& message);
// Throws BleError(InvalidArgs) "<kind> file line <line>: <what>".
[[noreturn]] void fail_line(const KeyFileFormat& format, size_t line, const std::string& what);

// Checks the framing: text is not empty, at most max_size bytes, every line
// ends in '\n', the first is the header (of version 1), the last the crc32
// line with the right CRC. Then calls entry(line number, key, value) for each
// body line in order (the line is "<key> <value>", not empty, and its key is
// not crc32); entry returns false for a key it does not know. Each error
// names the line.
using KeyFileEntry = std::function<bool(size_t line, std::string_view key, std::string_view value)>;
void read_key_file(std::string_view text, const KeyFileFormat& format, const KeyFileEntry& entry);

// The header line with its '\n', which a file starts with.
std::string key_file_header(const KeyFileFormat& format);
// Appends the crc32 line of text, which holds the header and the body.
void append_crc_line(std::string& text);

// Two upper-case hex digits a byte.
std::string hex_upper(std::span<const uint8_t> bytes);
// Exactly 2 * out.size() upper-case hex digits into out; false otherwise.
bool parse_hex(std::string_view text, std::span<uint8_t> out);
template <size_t N>
std::optional<std::array<uint8_t, N>> parse_hex(std::string_view text) {
    std::array<uint8_t, N> out{};
    if (!parse_hex(text, out)) return std::nullopt;
    return out;
}

// The top two bits are 11, as those of a static random address.
bool has_static_top_bits(const Address& a);
// Why a is not a static random address (top two bits 11, the other 46 bits
// neither all zero nor all one); nullopt when it is one.
std::optional<std::string> static_address_problem(const Address& a);

}  // namespace ubt::sm
