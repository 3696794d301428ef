#include "key_file.hpp"

#include <cstdio>
#include <vector>

#include "bond.hpp"  // crc32
#include "core/error.hpp"

namespace ubt::sm {

namespace {

constexpr std::string_view kCrcKey = "crc32 ";

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}
constexpr auto kCrcTable = make_crc_table();

std::string crc_text(uint32_t crc) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08X", static_cast<unsigned>(crc));
    return buf;
}

int upper_hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

void invalid(const std::string& message) { throw BleError(ErrorCode::InvalidArgs, message); }

void fail_line(const KeyFileFormat& format, size_t line, const std::string& what) {
    invalid(std::string(format.kind) + " file line " + std::to_string(line) + ": " + what);
}

void read_key_file(std::string_view text, const KeyFileFormat& format, const KeyFileEntry& entry) {
    std::string kind(format.kind);
    if (text.empty()) invalid(kind + " file is empty");
    if (text.size() > format.max_size) {
        invalid(kind + " file is " + std::to_string(text.size()) + " bytes, more than " +
                std::to_string(format.max_size));
    }
    std::vector<std::string_view> lines;
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) fail_line(format, lines.size() + 1, "no newline at the end (truncated)");
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }

    std::string header = key_file_header(format);
    header.pop_back();  // the '\n'
    if (lines[0] != header) {
        std::string_view prefix = std::string_view(header).substr(0, header.size() - 1);  // "ubluetoothd <kind> "
        if (lines[0].starts_with(prefix)) {
            fail_line(format, 1,
                      "version '" + std::string(lines[0].substr(prefix.size())) + "' is not supported (1 is)");
        }
        fail_line(format, 1, "not a ubluetoothd " + kind + " file");
    }

    std::string_view last = lines.back();
    if (lines.size() < 2 || !last.starts_with(kCrcKey)) {
        fail_line(format, lines.size(), "the last line is not the crc32 line (truncated)");
    }
    auto stored = parse_hex<4>(last.substr(kCrcKey.size()));
    if (!stored) fail_line(format, lines.size(), "crc32 is not 8 upper-case hex digits");
    uint32_t stored_crc = (uint32_t{(*stored)[0]} << 24) | (uint32_t{(*stored)[1]} << 16) |
                          (uint32_t{(*stored)[2]} << 8) | (*stored)[3];
    uint32_t actual = crc32(text.substr(0, text.size() - last.size() - 1));
    if (stored_crc != actual) {
        fail_line(format, lines.size(),
                  "crc32 " + crc_text(stored_crc) + " does not match the content's " + crc_text(actual) +
                      " (corrupted or edited)");
    }

    for (size_t line = 2; line < lines.size(); ++line) {
        std::string_view l = lines[line - 1];
        if (l.empty()) fail_line(format, line, "empty line");
        size_t space = l.find(' ');
        std::string key(l.substr(0, space));
        if (space == std::string_view::npos) fail_line(format, line, "'" + key + "' has no value");
        if (key == "crc32") fail_line(format, line, "crc32 must be the last line");
        if (!entry(line, key, l.substr(space + 1))) fail_line(format, line, "unknown key '" + key + "'");
    }
}

std::string key_file_header(const KeyFileFormat& format) {
    return "ubluetoothd " + std::string(format.kind) + " 1\n";
}

void append_crc_line(std::string& text) { text += std::string(kCrcKey) + crc_text(crc32(text)) + "\n"; }

uint32_t crc32(std::string_view data) {
    uint32_t c = 0xffffffffu;
    for (char ch : data) c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

std::string hex_upper(std::span<const uint8_t> bytes) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

bool parse_hex(std::string_view text, std::span<uint8_t> out) {
    if (text.size() != 2 * out.size()) return false;
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = upper_hex_digit(text[2 * i]), lo = upper_hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return true;
}

bool has_static_top_bits(const Address& a) { return (a.msb_first[0] & 0xc0) == 0xc0; }

std::optional<std::string> static_address_problem(const Address& a) {
    if (!has_static_top_bits(a)) return a.to_string() + " is not a static random address (top two bits must be 11)";
    bool all_zero = (a.msb_first[0] & 0x3f) == 0, all_one = (a.msb_first[0] & 0x3f) == 0x3f;
    for (size_t i = 1; i < a.msb_first.size(); ++i) {
        all_zero = all_zero && a.msb_first[i] == 0;
        all_one = all_one && a.msb_first[i] == 0xff;
    }
    if (all_zero || all_one) {
        return a.to_string() + " is not a static random address (its random part is all " +
               (all_zero ? "zero" : "one") + ")";
    }
    return std::nullopt;
}

}  // namespace ubt::sm
