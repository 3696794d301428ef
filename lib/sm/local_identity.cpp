#include "local_identity.hpp"

#include <cstdio>
#include <optional>
#include <vector>

#include "core/error.hpp"

namespace ubt::sm {

namespace {

constexpr std::string_view kHeader = "ubluetoothd identity 1";
constexpr std::string_view kHeaderPrefix = "ubluetoothd identity ";
constexpr std::string_view kCrcKey = "crc32 ";

[[noreturn]] void invalid(const std::string& message) { throw BleError(ErrorCode::InvalidArgs, message); }
[[noreturn]] void fail(size_t line, const std::string& what) {
    invalid("identity file line " + std::to_string(line) + ": " + what);
}

std::string hex_upper(const uint8_t* data, size_t n) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0xf];
    }
    return out;
}

// Exactly 2n upper-case hex digits, into out[0..n).
bool parse_hex(std::string_view text, uint8_t* out, size_t n) {
    if (text.size() != 2 * n) return false;
    auto digit = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < n; ++i) {
        int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return true;
}

std::string crc_text(uint32_t crc) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08X", static_cast<unsigned>(crc));
    return buf;
}

std::optional<std::string> address_problem(const Address& a) {
    if ((a.msb_first[0] & 0xc0) != 0xc0) {
        return a.to_string() + " is not a static random address (top two bits must be 11)";
    }
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

}  // namespace

void validate(const LocalIdentity& identity) {
    if (auto problem = address_problem(identity.static_address)) invalid("identity: " + *problem);
}

std::string encode(const LocalIdentity& identity) {
    validate(identity);
    std::string text(kHeader);
    text += "\nstatic " + identity.static_address.to_string() + "\n";
    text += "irk " + hex_upper(identity.irk.data(), identity.irk.size()) + "\n";
    text += std::string(kCrcKey) + crc_text(crc32(text)) + "\n";
    return text;
}

LocalIdentity decode_identity(std::string_view text) {
    size_t line = 0;
    if (text.empty()) invalid("identity file is empty");
    if (text.size() > kMaxIdentityFileSize) {
        invalid("identity file is " + std::to_string(text.size()) + " bytes, more than " +
                std::to_string(kMaxIdentityFileSize));
    }
    std::vector<std::string_view> lines;
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            line = lines.size() + 1;
            fail(line, "no newline at the end (truncated)");
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }

    line = 1;
    if (lines[0] != kHeader) {
        if (lines[0].starts_with(kHeaderPrefix)) {
            std::string version(lines[0].substr(kHeaderPrefix.size()));
            fail(line, "version '" + version + "' is not supported (1 is)");
        }
        fail(line, "not a ubluetoothd identity file");
    }

    line = lines.size();
    std::string_view last = lines.back();
    if (lines.size() < 2 || !last.starts_with(kCrcKey)) {
        fail(line, "the last line is not the crc32 line (truncated)");
    }
    uint8_t stored[4]{};
    if (!parse_hex(last.substr(kCrcKey.size()), stored, 4)) fail(line, "crc32 is not 8 upper-case hex digits");
    uint32_t stored_crc =
        (uint32_t{stored[0]} << 24) | (uint32_t{stored[1]} << 16) | (uint32_t{stored[2]} << 8) | stored[3];
    uint32_t actual = crc32(text.substr(0, text.size() - last.size() - 1));
    if (stored_crc != actual) {
        fail(line, "crc32 " + crc_text(stored_crc) + " does not match the content's " + crc_text(actual) +
             " (corrupted or edited)");
    }

    std::optional<Address> address;
    std::optional<IrkValue> irk;
    for (line = 2; line < lines.size(); ++line) {
        std::string_view l = lines[line - 1];
        size_t space = l.find(' ');
        std::string key(l.substr(0, space));
        if (space == std::string_view::npos) fail(line, l.empty() ? "empty line" : "'" + key + "' has no value");
        std::string_view value = l.substr(space + 1);
        if (key == "static") {
            if (address) fail(line, "a second static line");
            std::string address_text(value);
            auto parsed = Address::parse(address_text);
            if (!parsed || parsed->to_string() != address_text) {
                fail(line, "static: address '" + address_text + "' is not of the form C0:AA:01:00:00:01");
            }
            if (auto problem = address_problem(*parsed)) fail(line, "static: " + *problem);
            address = *parsed;
        } else if (key == "irk") {
            if (irk) fail(line, "a second irk line");
            irk.emplace();
            if (!parse_hex(value, irk->data(), irk->size())) fail(line, "irk: not 32 upper-case hex digits");
        } else if (key == "crc32") {
            fail(line, "crc32 must be the last line");
        } else {
            fail(line, "unknown key '" + key + "'");
        }
    }
    if (!address) invalid("identity file has no static line");
    if (!irk) invalid("identity file has no irk line");
    return {*address, *irk};
}

}  // namespace ubt::sm
