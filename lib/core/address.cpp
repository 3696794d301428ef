#include "address.hpp"

#include <algorithm>
#include <cstdio>

namespace ubt {

Address Address::from_le(ByteView le) {
    Address a;
    for (size_t i = 0; i < 6 && i < le.size(); ++i) a.msb_first[5 - i] = le[i];
    return a;
}

std::optional<Address> Address::parse(const std::string& text) {
    if (text.size() != 17) return std::nullopt;
    Address a;
    for (size_t i = 0; i < 6; ++i) {
        if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
        unsigned value = 0;
        for (size_t j = 0; j < 2; ++j) {
            char c = text[i * 3 + j];
            unsigned digit;
            if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
            else return std::nullopt;
            value = value * 16 + digit;
        }
        a.msb_first[i] = static_cast<uint8_t>(value);
    }
    return a;
}

std::array<uint8_t, 6> Address::to_le() const {
    std::array<uint8_t, 6> le;
    std::reverse_copy(msb_first.begin(), msb_first.end(), le.begin());
    return le;
}

std::string Address::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02X:%02X:%02X:%02X:%02X:%02X", msb_first[0], msb_first[1],
                  msb_first[2], msb_first[3], msb_first[4], msb_first[5]);
    return buf;
}

bool Address::is_zero() const {
    return std::all_of(msb_first.begin(), msb_first.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace ubt
