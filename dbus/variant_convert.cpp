#include "variant_convert.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace ubt::dbus {

namespace {
[[noreturn]] void invalid(const std::string& message) { throw BleError(ErrorCode::InvalidArgs, message); }
}  // namespace

ble::ConfigValue from_variant(const std::string& key, const sdbus::Variant& value) {
    const std::string type = value.peekValueType();
    if (type == "b") return value.get<bool>();
    if (type == "s") return value.get<std::string>();
    if (type == "y") return static_cast<int64_t>(value.get<uint8_t>());
    if (type == "n") return static_cast<int64_t>(value.get<int16_t>());
    if (type == "q") return static_cast<int64_t>(value.get<uint16_t>());
    if (type == "i") return static_cast<int64_t>(value.get<int32_t>());
    if (type == "u") return static_cast<int64_t>(value.get<uint32_t>());
    if (type == "x") return value.get<int64_t>();
    if (type == "t") {
        uint64_t v = value.get<uint64_t>();
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) invalid("'" + key + "' is too large");
        return static_cast<int64_t>(v);
    }
    invalid("'" + key + "' has D-Bus type '" + type + "'; expected an integer, a boolean or a string");
}

sdbus::Variant to_variant(const ble::ConfigValue& value) {
    if (auto b = std::get_if<bool>(&value)) return sdbus::Variant(*b);
    if (auto i = std::get_if<int64_t>(&value)) return sdbus::Variant(static_cast<uint32_t>(*i));
    if (auto s = std::get_if<std::string>(&value)) return sdbus::Variant(*s);
    const auto& mac = std::get<ble::MacValue>(value);
    std::vector<uint8_t> addr(mac.address.msb_first.begin(), mac.address.msb_first.end());
    return sdbus::Variant(sdbus::Struct<uint8_t, std::vector<uint8_t>>(mac.addr_type, addr));
}

void check_option_keys(const Options& options, std::initializer_list<const char*> allowed, const char* method) {
    for (const auto& [key, value] : options) {
        bool known = std::any_of(allowed.begin(), allowed.end(), [&](const char* k) { return key == k; });
        if (!known) invalid(std::string(method) + " has no option '" + key + "'");
    }
}

std::optional<bool> bool_option(const Options& options, const char* key) {
    auto it = options.find(key);
    if (it == options.end()) return std::nullopt;
    if (it->second.peekValueType() != "b") invalid(std::string("option '") + key + "' takes a boolean (b)");
    return it->second.get<bool>();
}

}  // namespace ubt::dbus

namespace ubt::dbus {

std::optional<std::vector<uint8_t>> bytes_option(const Options& options, const char* key) {
    auto it = options.find(key);
    if (it == options.end()) return std::nullopt;
    if (it->second.peekValueType() != "ay") invalid(std::string("option '") + key + "' takes bytes (ay)");
    return it->second.get<std::vector<uint8_t>>();
}

std::optional<uint32_t> uint_option(const Options& options, const char* key, uint32_t max) {
    auto it = options.find(key);
    if (it == options.end()) return std::nullopt;
    ble::ConfigValue value = from_variant(key, it->second);
    const int64_t* v = std::get_if<int64_t>(&value);
    if (!v) invalid(std::string("option '") + key + "' takes an integer");
    if (*v < 0 || *v > static_cast<int64_t>(max)) {
        invalid(std::string("option '") + key + "' must be between 0 and " + std::to_string(max));
    }
    return static_cast<uint32_t>(*v);
}

Address address_arg(const std::vector<uint8_t>& bytes, const char* name) {
    if (bytes.size() != 6) {
        throw BleError(ErrorCode::InvalidArgs,
                       std::string(name) + " must be 6 bytes, not " + std::to_string(bytes.size()));
    }
    Address a;
    std::copy(bytes.begin(), bytes.end(), a.msb_first.begin());
    return a;
}

}  // namespace ubt::dbus

namespace ubt::dbus {

att::Uuid uuid_arg(const std::string& text, const char* name) {
    auto uuid = att::Uuid::parse(text);
    if (!uuid) {
        throw BleError(ErrorCode::InvalidArgs, std::string(name) + " '" + text +
                                                   "' is not a UUID: give 4, 8 or 32 hex digits (128-bit with dashes)");
    }
    return *uuid;
}

}  // namespace ubt::dbus
