#pragma once
// Conversions between D-Bus variants and the facade's plain values, with the
// checks a client's input needs. Every failure throws BleError(InvalidArgs).

#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "att/uuid.hpp"
#include "ble/config_value.hpp"

namespace ubt::dbus {

using Options = std::map<std::string, sdbus::Variant>;

// Integers of any D-Bus width (y n q i u x t) become int64_t; b and s are kept.
ble::ConfigValue from_variant(const std::string& key, const sdbus::Variant& value);
sdbus::Variant to_variant(const ble::ConfigValue& value);

// An address argument: exactly 6 bytes, most significant first.
Address address_arg(const std::vector<uint8_t>& bytes, const char* name);
// A UUID argument in one of its D-Bus forms ("180d", "0000180d", dashed 128-bit).
att::Uuid uuid_arg(const std::string& text, const char* name);

// An options dict may hold only the keys a method documents.
void check_option_keys(const Options& options, std::initializer_list<const char*> allowed,
                       const char* method);
std::optional<bool> bool_option(const Options& options, const char* key);
std::optional<std::vector<uint8_t>> bytes_option(const Options& options, const char* key);
// An integer option of any D-Bus integer type, checked against 0..max.
std::optional<uint32_t> uint_option(const Options& options, const char* key, uint32_t max = UINT32_MAX);

}  // namespace ubt::dbus
