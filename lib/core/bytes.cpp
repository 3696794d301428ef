#include "bytes.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ubt {

bool ByteReader::take(size_t n) {
    if (failed_ || n > data_.size() - pos_) {
        failed_ = true;
        return false;
    }
    return true;
}

uint8_t ByteReader::u8() {
    if (!take(1)) return 0;
    return data_[pos_++];
}

uint16_t ByteReader::u16le() {
    if (!take(2)) return 0;
    uint16_t v = static_cast<uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
    pos_ += 2;
    return v;
}

uint32_t ByteReader::u32le() {
    if (!take(4)) return 0;
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | data_[pos_ + static_cast<size_t>(i)];
    pos_ += 4;
    return v;
}

ByteView ByteReader::bytes(size_t n) {
    if (!take(n)) return {};
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
}

ByteView ByteReader::rest() { return bytes(remaining()); }

std::string ByteReader::fixed_string(size_t n) {
    ByteView field = bytes(n);
    auto end = std::find(field.begin(), field.end(), uint8_t{0});
    return std::string(field.begin(), end);
}

ByteWriter& ByteWriter::u8(uint8_t v) {
    out_.push_back(v);
    return *this;
}

ByteWriter& ByteWriter::u16le(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v));
    out_.push_back(static_cast<uint8_t>(v >> 8));
    return *this;
}

ByteWriter& ByteWriter::u32le(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
}

ByteWriter& ByteWriter::bytes(ByteView v) {
    out_.insert(out_.end(), v.begin(), v.end());
    return *this;
}

ByteWriter& ByteWriter::fixed_string(const std::string& text, size_t n) {
    if (text.size() >= n) throw std::length_error("text does not fit its field");
    out_.insert(out_.end(), text.begin(), text.end());
    out_.insert(out_.end(), n - text.size(), 0);
    return *this;
}

std::string hex(ByteView data) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(data.size() * 2);
    for (uint8_t b : data) {
        s.push_back(digits[b >> 4]);
        s.push_back(digits[b & 0xf]);
    }
    return s;
}

}  // namespace ubt
