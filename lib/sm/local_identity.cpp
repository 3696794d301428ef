#include "local_identity.hpp"

#include <optional>

#include "key_file.hpp"

namespace ubt::sm {

namespace {

constexpr KeyFileFormat kFormat{"identity", kMaxIdentityFileSize};

}  // namespace

void validate(const LocalIdentity& identity) {
    if (auto problem = static_address_problem(identity.static_address)) invalid("identity: " + *problem);
}

std::string encode(const LocalIdentity& identity) {
    validate(identity);
    std::string text = key_file_header(kFormat);
    text += "static " + identity.static_address.to_string() + "\n";
    text += "irk " + hex_upper(identity.irk) + "\n";
    append_crc_line(text);
    return text;
}

LocalIdentity decode_identity(std::string_view text) {
    std::optional<Address> address;
    std::optional<IrkValue> irk;
    read_key_file(text, kFormat, [&](size_t line, std::string_view key, std::string_view value) {
        if (key == "static") {
            if (address) fail_line(kFormat, line, "a second static line");
            std::string address_text(value);
            auto parsed = Address::parse(address_text);
            if (!parsed || parsed->to_string() != address_text) {
                fail_line(kFormat, line, "static: address '" + address_text + "' is not of the form C0:AA:01:00:00:01");
            }
            if (auto problem = static_address_problem(*parsed)) fail_line(kFormat, line, "static: " + *problem);
            address = *parsed;
        } else if (key == "irk") {
            if (irk) fail_line(kFormat, line, "a second irk line");
            irk = parse_hex<16>(value);
            if (!irk) fail_line(kFormat, line, "irk: not 32 upper-case hex digits");
        } else {
            return false;
        }
        return true;
    });
    if (!address) invalid("identity file has no static line");
    if (!irk) invalid("identity file has no irk line");
    return {*address, *irk};
}

}  // namespace ubt::sm
