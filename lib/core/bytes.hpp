#pragma once
// Bounds-checked little-endian readers and writers for protocol bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ubt {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Reads fields from a byte span. A read past the end returns zeroes and marks
// the reader failed; callers check ok() once after reading a whole structure.
// Not thread-safe; owns nothing (the span must outlive it).
class ByteReader {
public:
    explicit ByteReader(ByteView data) : data_(data) {}

    uint8_t u8();
    uint16_t u16le();
    uint32_t u32le();
    ByteView bytes(size_t n);
    ByteView rest();
    // A fixed-size, NUL-padded text field; the text ends at the first NUL.
    std::string fixed_string(size_t n);
    void skip(size_t n) { bytes(n); }

    size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
    bool ok() const { return !failed_; }
    // True when every byte was consumed and no read failed.
    bool done() const { return ok() && pos_ == data_.size(); }

private:
    bool take(size_t n);

    ByteView data_;
    size_t pos_ = 0;
    bool failed_ = false;
};

// Appends little-endian fields to a growing buffer.
class ByteWriter {
public:
    ByteWriter& u8(uint8_t v);
    ByteWriter& u16le(uint16_t v);
    ByteWriter& u32le(uint32_t v);
    ByteWriter& bytes(ByteView v);
    // Writes text into exactly n bytes, NUL-padded; text must be shorter than n.
    ByteWriter& fixed_string(const std::string& text, size_t n);

    const Bytes& data() const { return out_; }
    Bytes take() { return std::move(out_); }

private:
    Bytes out_;
};

std::string hex(ByteView data);

}  // namespace ubt
