#include "bond.hpp"

#include <algorithm>

#include "key_file.hpp"

namespace ubt::sm {

namespace {

constexpr KeyFileFormat kFormat{"bond", kMaxBondFileSize};
constexpr const char* kLtkFields[] = {"type", "central", "enc_size", "ediv", "rand", "val"};

// A decimal number without sign or leading zeros, at most max.
std::optional<unsigned> parse_decimal(std::string_view text, unsigned max) {
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > max) return std::nullopt;
    return value;
}

std::optional<std::string> peer_problem(const LeAddress& peer) {
    if (peer.type > 1) return "address type " + std::to_string(peer.type) + " is not 0 (public) or 1 (random)";
    if (peer.address.is_zero()) return "the zero address is not an identity address";
    if (peer.type == 1 && !has_static_top_bits(peer.address)) {
        return "random address " + peer.address.to_string() + " is not static (top two bits must be 11)";
    }
    return std::nullopt;
}

std::optional<std::string> ltk_problem(const Ltk& ltk) {
    if (static_cast<uint8_t>(ltk.type) > static_cast<uint8_t>(LtkType::DebugP256)) {
        return "type " + std::to_string(static_cast<unsigned>(ltk.type)) + " is outside 0..4";
    }
    if (ltk.enc_size < kMinEncSize || ltk.enc_size > kMaxEncSize) {
        return "enc_size " + std::to_string(ltk.enc_size) + " is outside 7..16";
    }
    return std::nullopt;
}

// Parses the lines of one file; every error names the line.
class Decoder {
public:
    Bond run(std::string_view text);

private:
    [[noreturn]] void fail(const std::string& what) const { fail_line(kFormat, line_, what); }
    void parse_peer(std::string_view value);
    void parse_ltk(std::string_view value);
    void parse_irk(std::string_view value);

    size_t line_ = 0;
    std::optional<LeAddress> peer_;
    Bond bond_;
};

Bond Decoder::run(std::string_view text) {
    read_key_file(text, kFormat, [this](size_t line, std::string_view key, std::string_view value) {
        line_ = line;
        if (key == "peer") parse_peer(value);
        else if (key == "ltk") parse_ltk(value);
        else if (key == "irk") parse_irk(value);
        else return false;
        return true;
    });
    if (!peer_) invalid("bond file has no peer line");
    bond_.peer = *peer_;
    if (bond_.ltks.empty() && !bond_.irk) invalid("bond file has neither an ltk nor an irk line");
    return std::move(bond_);
}

void Decoder::parse_peer(std::string_view value) {
    if (peer_) fail("a second peer line");
    size_t space = value.find(' ');
    if (space == std::string_view::npos) fail("peer: expected '<public|random> <address>'");
    std::string_view type = value.substr(0, space);
    std::string address_text(value.substr(space + 1));
    LeAddress peer;
    if (type == "public") peer.type = 0;
    else if (type == "random") peer.type = 1;
    else fail("peer: type '" + std::string(type) + "' is not public or random");
    auto address = Address::parse(address_text);
    if (!address || address->to_string() != address_text) {
        fail("peer: address '" + address_text + "' is not of the form 00:AA:01:01:00:42");
    }
    peer.address = *address;
    if (auto problem = peer_problem(peer)) fail("peer: " + *problem);
    peer_ = peer;
}

void Decoder::parse_ltk(std::string_view value) {
    std::string_view fields[std::size(kLtkFields)];
    for (size_t i = 0; i < std::size(kLtkFields); ++i) {
        std::string_view name = kLtkFields[i];
        size_t end = i + 1 < std::size(kLtkFields) ? value.find(' ') : value.size();
        if (end == std::string_view::npos) fail("ltk: " + std::to_string(i + 1) + " fields, expected 6");
        std::string_view field = value.substr(0, end);
        if (!field.starts_with(name) || field.size() == name.size() || field[name.size()] != '=') {
            fail("ltk: expected " + std::string(name) + "=... as field " + std::to_string(i + 1) + " of 6");
        }
        fields[i] = field.substr(name.size() + 1);
        value = end == value.size() ? std::string_view{} : value.substr(end + 1);
    }
    if (fields[5].find(' ') != std::string_view::npos) fail("ltk: more than 6 fields");

    Ltk ltk;
    auto type = parse_decimal(fields[0], 4);
    if (!type) fail("ltk type: '" + std::string(fields[0]) + "' is not 0..4");
    ltk.type = static_cast<LtkType>(*type);
    auto central = parse_decimal(fields[1], 1);
    if (!central) fail("ltk central: '" + std::string(fields[1]) + "' is not 0 or 1");
    ltk.central = *central == 1;
    auto enc_size = parse_decimal(fields[2], kMaxEncSize);
    if (!enc_size || *enc_size < kMinEncSize) fail("ltk enc_size: '" + std::string(fields[2]) + "' is not 7..16");
    ltk.enc_size = static_cast<uint8_t>(*enc_size);
    auto ediv = parse_decimal(fields[3], 0xffff);
    if (!ediv) fail("ltk ediv: '" + std::string(fields[3]) + "' is not 0..65535");
    ltk.ediv = static_cast<uint16_t>(*ediv);
    auto rand = parse_hex<8>(fields[4]);
    if (!rand) fail("ltk rand: not 16 upper-case hex digits");
    ltk.rand = *rand;
    auto val = parse_hex<16>(fields[5]);
    if (!val) fail("ltk val: not 32 upper-case hex digits");
    ltk.val = *val;

    for (const auto& other : bond_.ltks) {
        if (other.central == ltk.central) fail("a second ltk with central=" + std::string(fields[1]));
    }
    bond_.ltks.push_back(ltk);
}

void Decoder::parse_irk(std::string_view value) {
    if (bond_.irk) fail("a second irk line");
    auto irk = parse_hex<16>(value);
    if (!irk) fail("irk: not 32 upper-case hex digits");
    bond_.irk = *irk;
}

}  // namespace

bool Bond::authenticated() const {
    return std::any_of(ltks.begin(), ltks.end(), [](const Ltk& k) {
        return k.type == LtkType::AuthenticatedLegacy || k.type == LtkType::AuthenticatedP256;
    });
}

uint8_t Bond::key_size() const {
    uint8_t size = 0;
    for (const auto& k : ltks) size = std::max(size, k.enc_size);
    return size;
}

void Bond::put_ltk(const Ltk& ltk) {
    for (auto& k : ltks) {
        if (k.central == ltk.central) {
            k = ltk;
            return;
        }
    }
    ltks.push_back(ltk);
}

uint8_t mgmt_address_type(const LeAddress& peer) {
    return peer.type == 0 ? kMgmtAddrLePublic : kMgmtAddrLeRandom;
}

void validate(const Bond& bond) {
    if (auto problem = peer_problem(bond.peer)) invalid("bond peer: " + *problem);
    if (bond.ltks.size() > 2) invalid("bond has " + std::to_string(bond.ltks.size()) + " LTKs, at most 2");
    for (size_t i = 0; i < bond.ltks.size(); ++i) {
        if (auto problem = ltk_problem(bond.ltks[i])) invalid("bond ltk " + std::to_string(i) + ": " + *problem);
        for (size_t j = 0; j < i; ++j) {
            if (bond.ltks[j].central == bond.ltks[i].central) invalid("bond has two LTKs with the same central");
        }
    }
    if (bond.ltks.empty() && !bond.irk) invalid("bond has no keys");
}

std::string encode(const Bond& bond) {
    validate(bond);
    std::string text = key_file_header(kFormat);
    text += "peer ";
    text += bond.peer.type == 0 ? "public " : "random ";
    text += bond.peer.address.to_string();
    text += '\n';
    for (const auto& k : bond.ltks) {
        text += "ltk type=" + std::to_string(static_cast<unsigned>(k.type));
        text += " central=" + std::string(k.central ? "1" : "0");
        text += " enc_size=" + std::to_string(k.enc_size);
        text += " ediv=" + std::to_string(k.ediv);
        text += " rand=" + hex_upper(k.rand);
        text += " val=" + hex_upper(k.val) + "\n";
    }
    if (bond.irk) text += "irk " + hex_upper(*bond.irk) + "\n";
    append_crc_line(text);
    return text;
}

Bond decode(std::string_view text) { return Decoder().run(text); }

}  // namespace ubt::sm
