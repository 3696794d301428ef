#include "uuid.hpp"

#include <algorithm>
#include <cctype>

namespace ubt::att {

namespace {

// 00000000-0000-1000-8000-00805f9b34fb, little-endian; a short form fills bytes 12..15.
constexpr Uuid::Bytes16 kBase{0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00, 0x00, 0x80,
                              0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

bool is_base(const Uuid::Bytes16& le) { return std::equal(le.begin(), le.begin() + 12, kBase.begin()); }

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

}  // namespace

Uuid Uuid::from16(uint16_t value) {
    Uuid u;
    u.le_ = kBase;
    u.le_[12] = static_cast<uint8_t>(value);
    u.le_[13] = static_cast<uint8_t>(value >> 8);
    u.given_size_ = 2;
    return u;
}

std::optional<Uuid> Uuid::parse(const std::string& text) {
    std::string digits;
    if (text.size() == 36) {
        for (size_t i = 0; i < text.size(); ++i) {
            bool dash_place = i == 8 || i == 13 || i == 18 || i == 23;
            if ((text[i] == '-') != dash_place) return std::nullopt;
            if (!dash_place) digits += text[i];
        }
    } else if (text.size() == 4 || text.size() == 8) {
        digits = text;
    } else {
        return std::nullopt;
    }
    // Most significant digit first: fill the little-endian bytes from the end.
    Bytes16 value{};
    size_t bytes = digits.size() / 2;
    for (size_t i = 0; i < bytes; ++i) {
        int hi = hex_digit(digits[2 * i]), lo = hex_digit(digits[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        value[bytes - 1 - i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    Uuid u;
    if (bytes == 16) {
        u.le_ = value;
    } else {
        u.le_ = kBase;
        std::copy(value.begin(), value.begin() + bytes, u.le_.begin() + 12);
    }
    u.given_size_ = static_cast<uint8_t>(bytes);
    return u;
}

std::optional<Uuid> Uuid::from_att(ByteView bytes) {
    if (bytes.size() == 2) return from16(static_cast<uint16_t>(bytes[0] | bytes[1] << 8));
    if (bytes.size() != 16) return std::nullopt;
    Uuid u;
    std::copy(bytes.begin(), bytes.end(), u.le_.begin());
    return u;
}

bool Uuid::is16() const { return is_base(le_) && le_[14] == 0 && le_[15] == 0; }

Bytes Uuid::att_bytes() const {
    if (is16()) return Bytes{le_[12], le_[13]};
    return Bytes(le_.begin(), le_.end());
}

std::string Uuid::to_string() const {
    static const char* const digits = "0123456789abcdef";
    size_t size = given_size_ == 16 || !is_base(le_) ? 16 : given_size_;
    if (size == 2 && !is16()) size = 4;
    std::string out;
    for (size_t i = 0; i < size; ++i) {
        uint8_t b = size == 16 ? le_[15 - i] : le_[12 + size - 1 - i];
        if (size == 16 && (i == 4 || i == 6 || i == 8 || i == 10)) out += '-';
        out += digits[b >> 4];
        out += digits[b & 0x0f];
    }
    return out;
}

}  // namespace ubt::att
