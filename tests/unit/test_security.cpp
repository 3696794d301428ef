// ble::Security against a scripted kernel: the mgmt commands it sends, byte
// for byte (BlueZ's mgmt-api: 6-byte header of opcode, index and length,
// little-endian; addresses little-endian then the mgmt address type), the
// IRQs it raises, and what it keeps in the bond store.
#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "att/att_protocol.hpp"
#include "ble/security.hpp"
#include "core/error.hpp"
#include "error_of.hpp"
#include "fake_hci.hpp"
#include "fake_link.hpp"
#include "fake_mgmt_port.hpp"
#include "fake_timers.hpp"
#include "memory_bond_store.hpp"

using namespace ubt;
using test::error_of;
using Strings = std::vector<std::string>;

namespace {

// ---- bytes as text ----------------------------------------------------------

// "1C 00 0a" → {0x1c, 0x00, 0x0a}; spaces are ignored.
Bytes b(const std::string& text) {
    Bytes out;
    std::string digits;
    for (char c : text) {
        if (c == ' ') continue;
        digits += c;
        if (digits.size() == 2) {
            out.push_back(static_cast<uint8_t>(std::stoul(digits, nullptr, 16)));
            digits.clear();
        }
    }
    REQUIRE(digits.empty());
    return out;
}

// {0x1c, 0x00} → "1C 00"
std::string spaced(ByteView data) {
    std::string out;
    char buf[4];
    for (uint8_t x : data) {
        std::snprintf(buf, sizeof buf, "%02X", x);
        if (!out.empty()) out += ' ';
        out += buf;
    }
    return out;
}

// n bytes counting up from first: seq(0x10, 3) == "10 11 12".
std::string seq(uint8_t first, int n) {
    Bytes v;
    for (int i = 0; i < n; ++i) v.push_back(static_cast<uint8_t>(first + i));
    return spaced(v);
}

template <size_t N>
std::array<uint8_t, N> arr(uint8_t first) {
    std::array<uint8_t, N> a{};
    for (size_t i = 0; i < N; ++i) a[i] = static_cast<uint8_t>(first + i);
    return a;
}

// ---- peers, keys and the frames that carry them ------------------------------

constexpr uint16_t kIndex = 2;  // "02 00" in every header
constexpr uint16_t kHandle = 0x0040;
constexpr uint16_t kOtherHandle = 0x0041;

// A public identity: 00:AA:01:01:00:42, mgmt type 1 (LE public).
const LeAddress kPeer{0, *Address::parse("00:AA:01:01:00:42")};
const std::string kPeerWire = "42 00 01 01 AA 00 01";
// A static random identity: mgmt type 2 (LE random).
const LeAddress kStatic{1, *Address::parse("C0:11:22:33:44:55")};
const std::string kStaticWire = "55 44 33 22 11 C0 02";
// A resolvable private address (top bits 01) the peer kPeer connects with.
const LeAddress kRpa{1, *Address::parse("4A:11:22:33:44:55")};
// Nobody we are connected to.
const std::string kStrangerWire = "99 00 01 01 AA 00 01";

const std::string kConfirmReply = "1C 00 02 00 07 00 " + kPeerWire;
const std::string kConfirmNegative = "1D 00 02 00 07 00 " + kPeerWire;
const std::string kPasskeyNegative = "1F 00 02 00 07 00 " + kPeerWire;
const std::string kUnpairPeer = "1B 00 02 00 08 00 " + kPeerWire + " 01";

// The two keys of a legacy bond: used when we are central (ediv 0x1234,
// rand 01.., val 10..) and when we are peripheral (ediv 0xBEEF, rand A1.., val 20..).
sm::Ltk ltk_central(sm::LtkType type, uint8_t enc_size = 16) {
    return {type, true, enc_size, 0x1234, arr<8>(0x01), arr<16>(0x10)};
}
sm::Ltk ltk_peripheral(sm::LtkType type, uint8_t enc_size = 16) {
    return {type, false, enc_size, 0xBEEF, arr<8>(0xA1), arr<16>(0x20)};
}
// Their mgmt_ltk_info entries (36 bytes) for a peer.
std::string ltk_central_wire(const std::string& peer, uint8_t type, uint8_t enc_size = 16) {
    char head[16];
    std::snprintf(head, sizeof head, " %02X 01 %02X ", type, enc_size);
    return peer + head + "34 12 " + seq(0x01, 8) + " " + seq(0x10, 16);
}
std::string ltk_peripheral_wire(const std::string& peer, uint8_t type, uint8_t enc_size = 16) {
    char head[16];
    std::snprintf(head, sizeof head, " %02X 00 %02X ", type, enc_size);
    return peer + head + "EF BE " + seq(0xA1, 8) + " " + seq(0x20, 16);
}
// An SC key: central 0, ediv 0, rand 0.
sm::Ltk ltk_sc(sm::LtkType type) { return {type, false, 16, 0, {}, arr<16>(0x30)}; }

const sm::IrkValue kIrk = arr<16>(0xF0);

sm::Bond legacy_bond(sm::LtkType type = sm::LtkType::UnauthenticatedLegacy) {
    return {kPeer, {ltk_central(type), ltk_peripheral(type)}, kIrk};
}

// ---- the kernel --------------------------------------------------------------

constexpr uint32_t kLeOnly =
    mgmt::setting::Powered | mgmt::setting::Bondable | mgmt::setting::LowEnergy | mgmt::setting::Privacy;
constexpr uint32_t kWithSc = kLeOnly | mgmt::setting::SecureConnections;
constexpr uint32_t kDualMode = kWithSc | mgmt::setting::Ssp | mgmt::setting::BrEdr;

// Answers every command with a Command Complete: the status `status` gives
// (Success by default), and the reply parameters the mgmt API defines.
struct Kernel {
    std::function<uint8_t(const mgmt::Frame&)> status = [](const mgmt::Frame&) { return mgmt::status::Success; };

    // Refuses one opcode with the given status.
    void refuse(uint16_t opcode, uint8_t with) {
        status = [opcode, with](const mgmt::Frame& f) { return f.code == opcode ? with : mgmt::status::Success; };
    }

    std::vector<Bytes> operator()(const mgmt::Frame& cmd) {
        Bytes reply;
        switch (cmd.code) {
            case mgmt::op::UnpairDevice:
            case mgmt::op::UserConfirmReply:
            case mgmt::op::UserConfirmNegReply:
            case mgmt::op::UserPasskeyReply:
            case mgmt::op::UserPasskeyNegReply:
                reply.assign(cmd.params.begin(), cmd.params.begin() + 7);  // the address and its type
                break;
            case mgmt::op::SetBondable:
            case mgmt::op::SetSsp:
            case mgmt::op::SetSecureConnections:
                reply = test::settings_bytes(mgmt::setting::LowEnergy);
                break;
        }
        return {test::command_complete(cmd.index, cmd.code, status(cmd), reply)};
    }
};

// ---- the fixture -------------------------------------------------------------

struct Fixture : test::HciFixture {
    int open_links = 0;
    test::FakeMgmtPort mgmt_port;
    Kernel kernel;
    mgmt::MgmtClient mgmt{mgmt_port, std::chrono::milliseconds(10)};
    test::FakeTimers timers;
    ble::EventQueue events{1 << 20};
    test::MemoryBondStore store;
    // Wired as the adapter wires them: disconnects end the link's pairing
    // state, encryption events go to Security.
    gap::Connections connections{
        hci, features, timers,
        {[](bool, uint16_t, const LeAddress&) {},
         [this](bool, uint16_t h, const LeAddress&) { security.link_ended(h); },
         [](const hci::ConnectionUpdate&) {},
         [this](uint16_t h, bool) { security.encryption_changed(h); }}};
    ble::Security security;

    explicit Fixture(uint32_t supported = kLeOnly, bool with_store = true)
        : HciFixture(false),
          security(kIndex, supported, mgmt, connections, timers, events, with_store ? &store : nullptr) {
        mgmt_port.responder = [this](const mgmt::Frame& f) { return kernel(f); };
    }

    // start(), forgetting what it sent.
    void started() {
        security.start();
        mgmt_port.sent.clear();
    }
    // apply(), forgetting what it sent.
    void configure(const ble::SecurityConfig& config) {
        security.apply(config);
        mgmt_port.sent.clear();
    }

    // A central connects to us (LE Connection Complete), without a channel.
    // role: ours on the link (a central connecting to us by default).
    void connect_without_link(uint16_t handle, const LeAddress& peer = kPeer, uint8_t role = hci::kRolePeripheral) {
        ByteWriter w;
        w.u8(0).u16le(handle).u8(role).u8(peer.type).bytes(peer.address.to_le());
        w.u16le(0x28).u16le(0).u16le(0x2a).u8(0);
        connections.on_le_meta({hci::le_ev::ConnectionComplete, w.take()});
        REQUIRE(connections.connected(handle));
    }
    // ... and its ATT channel, whose security level the test sets.
    test::FakeLink* connect(uint16_t handle, const LeAddress& peer = kPeer, uint8_t role = hci::kRolePeripheral) {
        connect_without_link(handle, peer, role);
        auto link = std::make_unique<test::FakeLink>(open_links);
        test::FakeLink* raw = link.get();
        connections.attach(handle, std::move(link));
        return raw;
    }
    void disconnect(uint16_t handle) {
        ByteWriter w;
        w.u8(0).u16le(handle).u8(0x13);
        connections.on_disconnection_complete(w.data());
    }
    // HCI Encryption Change (v1): status, handle, enabled.
    void encryption_change(uint16_t handle, uint8_t enabled = 1, uint8_t status = 0) {
        ByteWriter w;
        w.u8(status).u16le(handle).u8(enabled);
        connections.on_encryption_event({hci::ev::EncryptionChange, w.take()});
    }

    // started(), then a central connects at kHandle, its channel at `level`,
    // and the controller reports the Encryption Change.
    void start_encrypted(gap::SecurityLevel level, uint8_t role = hci::kRolePeripheral) {
        started();
        connect(kHandle, kPeer, role)->level = level;
        encryption_change(kHandle);
    }

    // A mgmt event from the kernel, its parameters given byte by byte.
    bool mgmt_event(uint16_t code, const std::string& params) {
        return security.on_mgmt_event({code, kIndex, b(params)});
    }

    // The mgmt commands sent since the last call, as spaced hex.
    Strings sent() {
        Strings out;
        for (const auto& frame : mgmt_port.sent) out.push_back(spaced(frame));
        mgmt_port.sent.clear();
        return out;
    }
    // The IRQs raised since the last call.
    Strings irqs() {
        Strings out;
        while (auto e = events.pop()) {
            if (auto p = std::get_if<ble::PasskeyAction>(&*e)) {
                out.push_back("passkey_action " + std::to_string(p->conn_handle) + " " + std::to_string(p->action) +
                              " " + std::to_string(p->passkey));
            } else if (auto u = std::get_if<ble::EncryptionUpdate>(&*e)) {
                out.push_back("encryption_update " + std::to_string(u->conn_handle) + " " +
                              std::to_string(u->encrypted) + " " + std::to_string(u->authenticated) + " " +
                              std::to_string(u->bonded) + " " + std::to_string(u->key_size));
            } else {
                out.push_back("other event " + std::to_string(e->index()));
            }
        }
        return out;
    }
    // The one pending timer, which must have this delay.
    Timers::Id only_timer(std::chrono::milliseconds delay) {
        REQUIRE(timers.pending.size() == 1);
        CHECK(timers.pending.begin()->second.first == delay);
        return timers.pending.begin()->first;
    }
};

// Started, with a central (kPeer) connected at kHandle with its ATT channel.
struct Connected : Fixture {
    test::FakeLink* link;

    Connected() {
        started();
        link = connect(kHandle);
    }
};

// New Long Term Key (0x000A): store_hint, then a mgmt_ltk_info entry.
std::string new_ltk(uint8_t store_hint, const std::string& entry) {
    return (store_hint ? "01 " : "00 ") + entry;
}
// New Identity Resolving Key (0x0018): store_hint, the RPA resolved, then a
// mgmt_irk_info entry.
std::string new_irk(uint8_t store_hint, const std::string& peer) {
    return std::string(store_hint ? "01 " : "00 ") + "55 44 33 22 11 4A " + peer + " " + seq(0xF0, 16);
}

constexpr auto kSettleStep = std::chrono::milliseconds(10);
constexpr auto kPasskeyTimeout = std::chrono::milliseconds(30000);

}  // namespace

// ---- 1. start() and the settings -----------------------------------------------

TEST_CASE("security: start() sends io 3, bondable, then Load IRKs and Load LTKs with the stored keys", "[security]") {
    Fixture fx;
    fx.store.bonds = {legacy_bond(), {kStatic, {ltk_sc(sm::LtkType::AuthenticatedP256)}, std::nullopt}};
    fx.security.start();
    CHECK(fx.store.loads == 1);
    CHECK(fx.sent() ==
          Strings{
              "18 00 02 00 01 00 03",  // Set IO Capability: NoInputNoOutput
              "09 00 02 00 01 00 01",  // Set Bondable: on
              // Load IRKs: one entry (23 bytes): address, type, IRK
              "30 00 02 00 19 00 01 00 " + kPeerWire + " " + seq(0xF0, 16),
              // Load LTKs: three entries of 36 bytes (2 + 108 = 0x6E)
              "13 00 02 00 6E 00 03 00 " + ltk_central_wire(kPeerWire, 0) + " " + ltk_peripheral_wire(kPeerWire, 0) +
                  " " + kStaticWire + " 03 00 10 00 00 00 00 00 00 00 00 00 00 " + seq(0x30, 16),
          });
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer, kStatic});
    CHECK(fx.irqs().empty());
}

TEST_CASE("security: start() always loads the key lists, even empty, and never throws for the store", "[security]") {
    const Strings kEmptyStart{"18 00 02 00 01 00 03", "09 00 02 00 01 00 01", "30 00 02 00 02 00 00 00",
                              "13 00 02 00 02 00 00 00"};
    SECTION("no bonds") {
        Fixture fx;
        fx.security.start();
        CHECK(fx.sent() == kEmptyStart);
        CHECK(fx.security.bonds().empty());
    }
    SECTION("no store at all") {
        Fixture fx(kLeOnly, false);
        fx.security.start();
        CHECK(fx.sent() == kEmptyStart);
    }
    SECTION("the store cannot be read") {
        Fixture fx;
        fx.store.bonds = {legacy_bond()};
        fx.store.fail_load = true;
        CHECK_NOTHROW(fx.security.start());
        CHECK(fx.sent() == kEmptyStart);
        CHECK(fx.security.bonds().empty());
    }
    SECTION("some bond files are bad: the good ones load") {
        Fixture fx;
        fx.store.bonds = {{kStatic, {ltk_sc(sm::LtkType::UnauthenticatedP256)}, std::nullopt}};
        fx.store.problems = {{"/var/lib/ubluetoothd/x/bad", "crc32 mismatch"}};
        CHECK_NOTHROW(fx.security.start());
        Strings sent = fx.sent();
        REQUIRE(sent.size() == 4);
        CHECK(sent[2] == "30 00 02 00 02 00 00 00");
        CHECK(sent[3] == "13 00 02 00 26 00 01 00 " + kStaticWire + " 02 00 10 00 00 00 00 00 00 00 00 00 00 " +
                             seq(0x30, 16));
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kStatic});
    }
}

TEST_CASE("security: start() refused by the kernel logs, and still loads the keys", "[security]") {
    Fixture fx;
    // start() with a legacy bond stored and `refused` refused: what it sent.
    auto start_refusing = [&fx](uint16_t refused) {
        fx.store.bonds = {legacy_bond()};
        fx.kernel.refuse(refused, mgmt::status::InvalidParameters);
        CHECK_NOTHROW(fx.security.start());
        return fx.sent();
    };
    SECTION("Set IO Capability refused") {
        Strings sent = start_refusing(mgmt::op::SetIoCapability);
        REQUIRE(sent.size() >= 3);
        CHECK(sent.front() == "18 00 02 00 01 00 03");
        CHECK(sent[sent.size() - 2].substr(0, 5) == "30 00");
        CHECK(sent.back().substr(0, 5) == "13 00");
    }
    SECTION("Load IRKs refused: Load LTKs still goes") {
        Strings sent = start_refusing(mgmt::op::LoadIdentityResolvingKeys);
        REQUIRE(sent.size() == 4);
        CHECK(sent.back().substr(0, 5) == "13 00");
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
    }
    SECTION("the kernel does not answer") {
        fx.mgmt_port.responder = nullptr;
        CHECK_NOTHROW(fx.security.start());
    }
}

TEST_CASE("security: Set Secure Connections only where supported, after Set SSP where SSP is", "[security]") {
    SECTION("LE only, no SC: neither") {
        Fixture fx(kLeOnly);
        fx.security.start();
        for (const auto& s : fx.sent()) {
            CHECK(s.substr(0, 5) != "2D 00");
            CHECK(s.substr(0, 5) != "0B 00");
        }
    }
    SECTION("SC without SSP (BR/EDR-less controller): Set SC off, no Set SSP") {
        Fixture fx(kWithSc);
        fx.security.start();
        CHECK(fx.sent() == Strings{"18 00 02 00 01 00 03", "09 00 02 00 01 00 01", "2D 00 02 00 01 00 00",
                                   "30 00 02 00 02 00 00 00", "13 00 02 00 02 00 00 00"});
    }
    SECTION("dual mode: Set SSP on, then Set SC") {
        // The kernel refuses Set Secure Connections (even off) with BR/EDR
        // on and SSP off, so SSP goes on whatever le_secure is.
        Fixture fx(kDualMode);
        fx.security.start();
        // ... and, BR/EDR supported, Load Link Keys with none (debug_keys 0, count 0).
        CHECK(fx.sent() == Strings{"18 00 02 00 01 00 03", "09 00 02 00 01 00 01", "0B 00 02 00 01 00 01",
                                   "2D 00 02 00 01 00 00", "30 00 02 00 02 00 00 00", "13 00 02 00 02 00 00 00",
                                   "12 00 02 00 03 00 00 00 00"});
        fx.configure({3, true, false, false});  // unchanged: nothing sent
        fx.security.apply({3, true, false, true});
        CHECK(fx.sent() == Strings{"18 00 02 00 01 00 03", "09 00 02 00 01 00 01", "0B 00 02 00 01 00 01",
                                   "2D 00 02 00 01 00 01"});
        CHECK(fx.security.config().le_secure);
        CHECK(std::get<bool>(fx.security.config_get("le_secure")));
    }
    SECTION("a refused Set SSP (BR/EDR off) does not stop Set SC") {
        Fixture fx(kDualMode);
        fx.kernel.refuse(mgmt::op::SetSsp, mgmt::status::Rejected);
        fx.security.apply({3, true, false, true});
        CHECK(fx.sent() == Strings{"18 00 02 00 01 00 03", "09 00 02 00 01 00 01", "0B 00 02 00 01 00 01",
                                   "2D 00 02 00 01 00 01"});
    }
}

TEST_CASE("security: a BR/EDR controller is left with no link keys", "[security]") {
    // An LE Secure Connections pairing also derives a BR/EDR link key; the
    // daemon keeps none.
    Fixture fx(kLeOnly | mgmt::setting::BrEdr);
    fx.store.bonds = {legacy_bond()};
    SECTION("Load Link Keys with none, after the LE keys") {
        fx.security.start();
        Strings sent = fx.sent();
        REQUIRE(sent.size() == 5);
        CHECK(sent[3].substr(0, 5) == "13 00");
        CHECK(sent[4] == "12 00 02 00 03 00 00 00 00");
    }
    SECTION("refused: logged") {
        fx.kernel.refuse(0x0012, mgmt::status::InvalidParameters);
        CHECK_NOTHROW(fx.security.start());
        CHECK(fx.sent().size() == 5);
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
    }
}

TEST_CASE("security: config values are checked, sent, and put back when the kernel refuses", "[security]") {
    Fixture fx(kLeOnly);
    ble::SecurityConfig into;
    CHECK(error_of([&] { fx.security.validate("io", int64_t{5}, into); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.security.validate("io", int64_t{-1}, into); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.security.validate("io", true, into); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.security.validate("mitm", int64_t{1}, into); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.security.validate("le_secure", true, into); }) == ErrorCode::NotSupported);
    CHECK(into == ble::SecurityConfig{});
    fx.security.validate("io", int64_t{4}, into);
    fx.security.validate("bond", false, into);
    fx.security.validate("mitm", true, into);
    CHECK(into == ble::SecurityConfig{4, false, true, false});
    CHECK(fx.sent().empty());

    fx.security.apply(into);
    CHECK(fx.sent() == Strings{"18 00 02 00 01 00 04", "09 00 02 00 01 00 00"});
    CHECK(std::get<int64_t>(fx.security.config_get("io")) == 4);

    // Bondable on is refused: io goes back to 4, bond stays off.
    fx.kernel.status = [](const mgmt::Frame& f) {
        return f.code == mgmt::op::SetBondable && f.params.at(0) == 1 ? mgmt::status::Busy : mgmt::status::Success;
    };
    CHECK(error_of([&] { fx.security.apply({1, true, true, false}); }) == ErrorCode::Failed);
    CHECK(fx.sent() == Strings{"18 00 02 00 01 00 01", "09 00 02 00 01 00 01", "18 00 02 00 01 00 04",
                               "09 00 02 00 01 00 00"});
    CHECK(fx.security.config() == ble::SecurityConfig{4, false, true, false});
}

// validate() "changes nothing" when it throws (it once set le_secure first).
TEST_CASE("security: a refused le_secure leaves the config being built unchanged", "[security]") {
    Fixture fx(kLeOnly);
    ble::SecurityConfig into;
    CHECK(error_of([&] { fx.security.validate("le_secure", true, into); }) == ErrorCode::NotSupported);
    CHECK_FALSE(into.le_secure);
}

// ---- 2. User Confirmation Request ---------------------------------------------

TEST_CASE("security: a Just Works confirmation is answered by the daemon", "[security]") {
    Connected fx;
    const std::string just_works = kPeerWire + " 01 00 00 00 00";  // confirm_hint 1, value 0
    SECTION("mitm off: User Confirm Reply") {
        CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, just_works));
        CHECK(fx.sent() == Strings{kConfirmReply});
    }
    SECTION("mitm on: Negative Reply, Just Works cannot protect against MITM") {
        fx.configure({3, true, true, false});
        CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, just_works));
        CHECK(fx.sent() == Strings{kConfirmNegative});
    }
    CHECK(fx.irqs().empty());
    CHECK(fx.timers.pending.empty());
    CHECK(error_of([&] { fx.security.passkey(kHandle, 4, 1); }) == ErrorCode::NotFound);
}

TEST_CASE("security: numeric comparison is raised as action 4 and answered by gap_passkey", "[security]") {
    Connected fx;
    // confirm_hint 0, value 123456 (0x0001E240)
    CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, kPeerWire + " 00 40 E2 01 00"));
    CHECK(fx.irqs() == Strings{"passkey_action 64 4 123456"});
    CHECK(fx.sent().empty());
    fx.only_timer(kPasskeyTimeout);

    SECTION("1: the values match") {
        // Anything but 0 or 1 is refused, and the question stays open.
        CHECK(error_of([&] { fx.security.passkey(kHandle, 4, 2); }) == ErrorCode::InvalidArgs);
        CHECK(fx.sent().empty());
        fx.security.passkey(kHandle, 4, 1);
        CHECK(fx.sent() == Strings{kConfirmReply});
    }
    SECTION("0: they do not") {
        fx.security.passkey(kHandle, 4, 0);
        CHECK(fx.sent() == Strings{kConfirmNegative});
    }
    // Answered once only.
    CHECK(fx.timers.pending.empty());
    CHECK(error_of([&] { fx.security.passkey(kHandle, 4, 1); }) == ErrorCode::NotFound);
    CHECK(fx.sent().empty());
    CHECK(fx.irqs().empty());
}

// ---- 3. User Passkey Request --------------------------------------------------

TEST_CASE("security: a passkey request is raised as action 2 and answered with the passkey", "[security]") {
    Connected fx;
    fx.connect(kOtherHandle, kStatic);
    CHECK(fx.mgmt_event(mgmt::ev::UserPasskeyRequest, kPeerWire));
    CHECK(fx.irqs() == Strings{"passkey_action 64 2 0"});
    CHECK(fx.sent().empty());
    auto timer = fx.only_timer(kPasskeyTimeout);

    // Refusals send nothing and keep the question open.
    CHECK(error_of([&] { fx.security.passkey(kHandle, 2, 1000000); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.security.passkey(kHandle, 2, 0xffffffff); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.security.passkey(kHandle, 4, 1); }) == ErrorCode::InvalidArgs);  // the wrong action
    CHECK(error_of([&] { fx.security.passkey(kHandle, 3, 0); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.security.passkey(kHandle, 1, 0); }) == ErrorCode::InvalidArgs);  // not an action
    CHECK(error_of([&] { fx.security.passkey(0x0100, 2, 123456); }) == ErrorCode::NotFound);  // no connection
    CHECK(error_of([&] { fx.security.passkey(kOtherHandle, 2, 123456); }) == ErrorCode::NotFound);  // not asking
    CHECK(fx.sent().empty());
    CHECK(fx.timers.pending.count(timer) == 1);

    SECTION("answered") {
        fx.security.passkey(kHandle, 2, 123456);
        CHECK(fx.sent() == Strings{"1E 00 02 00 0B 00 " + kPeerWire + " 40 E2 01 00"});
        CHECK(fx.timers.pending.empty());
        CHECK(error_of([&] { fx.security.passkey(kHandle, 2, 123456); }) == ErrorCode::NotFound);
    }
    SECTION("the largest passkey") {
        fx.security.passkey(kHandle, 2, 999999);  // 0x000F423F
        CHECK(fx.sent() == Strings{"1E 00 02 00 0B 00 " + kPeerWire + " 3F 42 0F 00"});
    }
    SECTION("30 s pass: the kernel has given up, and so do we") {
        fx.timers.fire(timer);
        CHECK(error_of([&] { fx.security.passkey(kHandle, 2, 123456); }) == ErrorCode::NotFound);
        CHECK(fx.timers.pending.empty());
    }
    SECTION("the kernel refuses the reply") {
        fx.kernel.refuse(mgmt::op::UserPasskeyReply, mgmt::status::NotConnected);
        CHECK(error_of([&] { fx.security.passkey(kHandle, 2, 1); }) == ErrorCode::Failed);
        CHECK(fx.sent().size() == 1);
    }
    CHECK(fx.sent().empty());
    CHECK(fx.irqs().empty());
}

// ---- 4. Passkey Notify --------------------------------------------------------

TEST_CASE("security: a passkey to display is raised once as action 3; gap_passkey sends nothing", "[security]") {
    Connected fx;
    // passkey 123456, entered 0
    CHECK(fx.mgmt_event(mgmt::ev::PasskeyNotify, kPeerWire + " 40 E2 01 00 00"));
    CHECK(fx.irqs() == Strings{"passkey_action 64 3 123456"});
    // The peer typing digits: the same passkey, entered 1 and 2.
    CHECK(fx.mgmt_event(mgmt::ev::PasskeyNotify, kPeerWire + " 40 E2 01 00 01"));
    CHECK(fx.mgmt_event(mgmt::ev::PasskeyNotify, kPeerWire + " 40 E2 01 00 02"));
    CHECK(fx.irqs().empty());
    fx.only_timer(kPasskeyTimeout);

    fx.security.passkey(kHandle, 3, 111111);  // the kernel chose the passkey: ignored
    CHECK(fx.sent().empty());
    CHECK(fx.timers.pending.empty());
    CHECK(error_of([&] { fx.security.passkey(kHandle, 3, 123456); }) == ErrorCode::NotFound);

    // A new pairing with a new passkey is a new action.
    CHECK(fx.mgmt_event(mgmt::ev::PasskeyNotify, kPeerWire + " 3F 42 0F 00 00"));
    CHECK(fx.irqs() == Strings{"passkey_action 64 3 999999"});
    CHECK(fx.sent().empty());
}

// ---- 5. questions about peers we are not connected to -------------------------

TEST_CASE("security: questions for an address with no connection are refused", "[security]") {
    Connected fx;
    const std::string stranger_confirm_negative = "1D 00 02 00 07 00 " + kStrangerWire;
    SECTION("numeric comparison") {
        CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, kStrangerWire + " 00 40 E2 01 00"));
        CHECK(fx.sent() == Strings{stranger_confirm_negative});
    }
    SECTION("Just Works") {
        CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, kStrangerWire + " 01 00 00 00 00"));
        CHECK(fx.sent() == Strings{stranger_confirm_negative});
    }
    SECTION("passkey request") {
        CHECK(fx.mgmt_event(mgmt::ev::UserPasskeyRequest, kStrangerWire));
        CHECK(fx.sent() == Strings{"1F 00 02 00 07 00 " + kStrangerWire});
    }
    SECTION("passkey notify: nothing to answer") {
        CHECK(fx.mgmt_event(mgmt::ev::PasskeyNotify, kStrangerWire + " 40 E2 01 00 00"));
        CHECK(fx.sent().empty());
    }
    CHECK(fx.irqs().empty());
    CHECK(fx.timers.pending.empty());
}

// ---- 6. keys --------------------------------------------------------------------

TEST_CASE("security: a New LTK with store_hint 1 is a bond, stored field by field", "[security]") {
    Fixture fx;
    fx.started();
    // type 1 (authenticated legacy), central 1, enc_size 12
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kStaticWire, 1, 12))));
    REQUIRE(fx.store.stored.size() == 1);
    const sm::Bond& first = fx.store.stored[0];
    CHECK(first.peer == kStatic);  // mgmt type 2 → random
    REQUIRE(first.ltks.size() == 1);
    const sm::Ltk& k = first.ltks[0];
    CHECK(k.type == sm::LtkType::AuthenticatedLegacy);
    CHECK(k.central);
    CHECK(k.enc_size == 12);
    CHECK(k.ediv == 0x1234);
    CHECK(k.rand == arr<8>(0x01));
    CHECK(k.val == arr<16>(0x10));
    CHECK_FALSE(first.irk);
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kStatic});

    // The other key of the legacy pair joins it; the same one again replaces it.
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_peripheral_wire(kStaticWire, 1, 12))));
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kStaticWire, 1, 16))));
    REQUIRE(fx.store.stored.size() == 3);
    CHECK(fx.store.stored[2] == sm::Bond{kStatic,
                                         {ltk_central(sm::LtkType::AuthenticatedLegacy, 16),
                                          ltk_peripheral(sm::LtkType::AuthenticatedLegacy, 12)},
                                         std::nullopt});
    CHECK(fx.store.bonds.size() == 1);

    // A public peer: type 0.
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_peripheral_wire(kPeerWire, 0))));
    CHECK(fx.store.stored.back() == sm::Bond{kPeer, {ltk_peripheral(sm::LtkType::UnauthenticatedLegacy)}, std::nullopt});
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kStatic, kPeer});
    CHECK(fx.sent().empty());
    CHECK(fx.irqs().empty());  // nobody connected
}

TEST_CASE("security: keys that are not a bond are not kept", "[security]") {
    Fixture fx;
    fx.started();
    SECTION("store_hint 0") {
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(0, ltk_central_wire(kPeerWire, 0))));
        CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, new_irk(0, kPeerWire)));
    }
    SECTION("a BR/EDR address (type 0)") {
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire("42 00 01 01 AA 00 00", 0))));
    }
    SECTION("truncated events") {
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, kPeerWire + " 00 01 10")));
        CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, "01 " + kPeerWire));
    }
    CHECK(fx.store.stored.empty());
    CHECK(fx.security.bonds().empty());
}

TEST_CASE("security: a bond the store refuses is not listed, and nothing breaks", "[security]") {
    Fixture fx;
    fx.started();
    fx.store.fail_store = true;
    CHECK_NOTHROW(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
    CHECK(fx.security.bonds().empty());
    CHECK(fx.store.bonds.empty());
    // The next key, stored, is kept alone (the refused one never was).
    fx.store.fail_store = false;
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_peripheral_wire(kPeerWire, 0))));
    CHECK(fx.store.bonds == std::vector<sm::Bond>{{kPeer, {ltk_peripheral(sm::LtkType::UnauthenticatedLegacy)}, std::nullopt}});
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
}

TEST_CASE("security: without a store, bonds are kept in memory", "[security]") {
    Fixture fx(kLeOnly, false);
    fx.started();
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
    fx.security.unpair(kPeer);
    CHECK(fx.security.bonds().empty());
}

TEST_CASE("security: a New IRK is the bond's irk", "[security]") {
    Fixture fx;
    fx.started();
    SECTION("before the LTKs (the SMP order): stored, but not a bond until an LTK comes") {
        CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, new_irk(1, kPeerWire)));
        REQUIRE(fx.store.stored.size() == 1);
        CHECK(fx.store.stored[0] == sm::Bond{kPeer, {}, kIrk});
        CHECK(fx.security.bonds().empty());
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
        CHECK(fx.store.stored.back() == sm::Bond{kPeer, {ltk_central(sm::LtkType::UnauthenticatedLegacy)}, kIrk});
    }
    SECTION("after them") {
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
        CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, new_irk(1, kPeerWire)));
        CHECK(fx.store.stored.back() == sm::Bond{kPeer, {ltk_central(sm::LtkType::UnauthenticatedLegacy)}, kIrk});
    }
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
    // The next start loads the IRK back.
    fx.security.start();
    CHECK(fx.sent().at(2) == "30 00 02 00 19 00 01 00 " + kPeerWire + " " + seq(0xF0, 16));
}

// ---- 7. _IRQ_ENCRYPTION_UPDATE --------------------------------------------------

TEST_CASE("security: Encryption Change raises an encryption update, again when the bond arrives", "[security]") {
    Connected fx;
    // Keys before any encryption event raise nothing.
    fx.link->level = {2, 16};
    fx.encryption_change(kHandle);
    CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
    CHECK(fx.timers.pending.empty());
    CHECK(fx.security.link_security(kHandle).encrypted);
    CHECK_FALSE(fx.security.link_security(kHandle).authenticated);

    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
    CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 16"});
    // Nothing changes with the second key or the IRK: no event.
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_peripheral_wire(kPeerWire, 0))));
    CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, new_irk(1, kPeerWire)));
    CHECK(fx.irqs().empty());
    // A key for someone else: none either.
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kStaticWire, 0))));
    CHECK(fx.irqs().empty());
    // Every Encryption Change is reported, also with the same state.
    fx.encryption_change(kHandle);
    CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 16"});
    // Encryption off.
    fx.encryption_change(kHandle, 0);
    CHECK(fx.irqs() == Strings{"encryption_update 64 0 0 0 0"});
    CHECK_FALSE(fx.security.link_security(kHandle).encrypted);
}

TEST_CASE("security: keys before the first encryption event raise nothing", "[security]") {
    Connected fx;
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
    CHECK(fx.irqs().empty());
    // A failed Encryption Change is no change.
    fx.encryption_change(kHandle, 1, 0x06);
    CHECK(fx.irqs().empty());
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("security: the update waits for the kernel to raise the link's level", "[security]") {
    Connected fx;
    fx.link->level = {1, 0};  // the kernel has not updated BT_SECURITY yet
    fx.encryption_change(kHandle);
    CHECK(fx.irqs().empty());
    fx.timers.fire(fx.only_timer(kSettleStep));
    CHECK(fx.irqs().empty());  // still level 1: another step
    SECTION("the level comes") {
        fx.link->level = {2, 16};
        fx.timers.fire(fx.only_timer(kSettleStep));
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
        CHECK(fx.timers.pending.empty());
    }
    SECTION("it never comes: reported after 50 steps anyway") {
        for (int i = 2; i < 50; ++i) fx.timers.fire(fx.only_timer(kSettleStep));
        CHECK(fx.irqs().empty());
        fx.timers.fire(fx.only_timer(kSettleStep));  // the 50th
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 0"});
        CHECK(fx.timers.pending.empty());
    }
    SECTION("a second Encryption Change restarts the wait, one timer only") {
        fx.encryption_change(kHandle);
        fx.only_timer(kSettleStep);
        fx.link->level = {2, 16};
        fx.timers.fire_all();
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
    }
}

TEST_CASE("security: authenticated from the level, or from the stored key's type", "[security]") {
    SECTION("level 3") {
        Fixture fx;
        fx.start_encrypted({3, 16});
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 1 0 16"});
        CHECK(fx.security.link_security(kHandle).authenticated);
    }
    SECTION("level 4, then bonded") {
        Fixture fx;
        fx.start_encrypted({4, 16});
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey,
                            new_ltk(1, kPeerWire + " 03 00 10 00 00 00 00 00 00 00 00 00 00 " + seq(0x30, 16))));
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 1 0 16", "encryption_update 64 1 1 1 16"});
    }
    SECTION("level 2 re-encryption with a stored authenticated key (central: the level asked for)") {
        Fixture fx;
        fx.store.bonds = {legacy_bond(sm::LtkType::AuthenticatedLegacy)};
        fx.start_encrypted({2, 16}, hci::kRoleCentral);
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 1 1 16"});
        CHECK(fx.security.link_security(kHandle).authenticated);
    }
    SECTION("level 2 as peripheral with a stored authenticated key: the level says (the kernel took the key's)") {
        Fixture fx;
        fx.store.bonds = {legacy_bond(sm::LtkType::AuthenticatedLegacy)};
        fx.start_encrypted({2, 16});
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 16"});
        CHECK_FALSE(fx.security.link_security(kHandle).authenticated);
    }
    SECTION("a pairing on the link that stores no key does not borrow the stored bond") {
        // Someone with the bonded peer's address pairs Just Works, not bonding.
        Fixture fx;
        fx.store.bonds = {legacy_bond(sm::LtkType::AuthenticatedLegacy)};
        fx.started();
        test::FakeLink* link = fx.connect(kHandle, kPeer, hci::kRoleCentral);
        CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, kPeerWire + " 01 00 00 00 00"));
        link->level = {2, 16};
        fx.encryption_change(kHandle);
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(0, ltk_central_wire(kPeerWire, 0))));
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
        CHECK_FALSE(fx.security.link_security(kHandle).authenticated);
        CHECK(fx.security.link_security(kHandle).encrypted);
    }
    SECTION("level 2 with a stored unauthenticated key") {
        Fixture fx;
        fx.store.bonds = {legacy_bond()};
        fx.start_encrypted({2, 16});
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 16"});
    }
    SECTION("no key size from the kernel: the stored key's") {
        Fixture fx;
        fx.store.bonds = {{kPeer, {ltk_central(sm::LtkType::UnauthenticatedLegacy, 12)}, std::nullopt}};
        fx.start_encrypted({2, 0});
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 12"});
    }
}

TEST_CASE("security: a peer connected with an RPA is found by the identity its link reports", "[security]") {
    Fixture fx;
    fx.started();
    test::FakeLink* link = fx.connect(kHandle, kRpa);
    link->level = {2, 16};
    fx.encryption_change(kHandle);
    CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
    // The kernel resolved it: the channel now names the identity.
    link->peer = kPeer;
    CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, new_irk(1, kPeerWire)));
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
    CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 16"});
    // Questions about the identity go to that connection.
    CHECK(fx.mgmt_event(mgmt::ev::UserPasskeyRequest, kPeerWire));
    CHECK(fx.irqs() == Strings{"passkey_action 64 2 0"});
}

// The kernel retargets the link's sockets to the identity only after it
// has sent New IRK and New LTK (id_addr_update_work, delayed 200 ms on
// newer kernels): New IRK's random_addr ties the connection to it first.
TEST_CASE("security: New IRK's random_addr ties the RPA connection to the identity at once",
          "[security]") {
    Fixture fx;
    fx.started();
    test::FakeLink* link = fx.connect(kHandle, kRpa);
    link->peer = kRpa;  // the kernel has not retargeted the channel yet
    link->level = {2, 16};
    SECTION("keys after the Encryption Change (legacy, SC responder)") {
        fx.encryption_change(kHandle);
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
        CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, new_irk(1, kPeerWire)));  // random_addr = kRpa
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 16"});
    }
    SECTION("keys before it") {
        CHECK(fx.mgmt_event(mgmt::ev::NewIdentityResolvingKey, new_irk(1, kPeerWire)));
        CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
        fx.encryption_change(kHandle);
        CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 1 16"});
    }
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
}

// ---- 8. gap_pair --------------------------------------------------------------

TEST_CASE("security: pair() refuses unknown handles and links without a channel", "[security]") {
    Fixture fx;
    fx.started();
    CHECK(error_of([&] { fx.security.pair(kHandle); }) == ErrorCode::NotFound);
    fx.connect_without_link(kHandle);
    CHECK(error_of([&] { fx.security.pair(kHandle); }) == ErrorCode::Busy);
    CHECK(fx.sent().empty());
    CHECK(fx.irqs().empty());
}

TEST_CASE("security: pair() without a bond asks for the level mitm and le_secure want", "[security]") {
    Fixture fx(kWithSc);
    fx.started();
    test::FakeLink* link = fx.connect(kHandle);
    SECTION("defaults: 2") { fx.security.pair(kHandle); CHECK(link->requested == std::vector<uint8_t>{2}); }
    SECTION("le_secure alone: 2") {
        fx.configure({3, true, false, true});
        fx.security.pair(kHandle);
        CHECK(link->requested == std::vector<uint8_t>{2});
    }
    SECTION("mitm: 3") {
        fx.configure({3, true, true, false});
        fx.security.pair(kHandle);
        CHECK(link->requested == std::vector<uint8_t>{3});
    }
    SECTION("mitm and le_secure: 4") {
        fx.configure({3, true, true, true});
        fx.security.pair(kHandle);
        CHECK(link->requested == std::vector<uint8_t>{4});
    }
    CHECK(fx.sent().empty());  // no mgmt command: the channel's BT_SECURITY
    CHECK(fx.irqs().empty());  // results come with the encryption events
}

TEST_CASE("security: pair() with a stored key asks for that key's level, never more", "[security]") {
    auto requested = [](sm::Bond bond, ble::SecurityConfig config) {
        Fixture fx(kWithSc);
        fx.store.bonds = {std::move(bond)};
        fx.started();
        fx.configure(config);
        test::FakeLink* link = fx.connect(kHandle);
        fx.security.pair(kHandle);
        return link->requested;
    };
    const ble::SecurityConfig plain{3, true, false, false};
    const ble::SecurityConfig strict{3, true, true, true};
    CHECK(requested({kPeer, {ltk_sc(sm::LtkType::AuthenticatedP256)}, std::nullopt}, plain) == std::vector<uint8_t>{4});
    CHECK(requested({kPeer, {ltk_sc(sm::LtkType::UnauthenticatedP256)}, std::nullopt}, strict) ==
          std::vector<uint8_t>{2});
    CHECK(requested(legacy_bond(sm::LtkType::AuthenticatedLegacy), plain) == std::vector<uint8_t>{3});
    CHECK(requested(legacy_bond(), strict) == std::vector<uint8_t>{2});
    // An IRK alone is no key to encrypt with: pairing as without a bond.
    CHECK(requested({kPeer, {}, kIrk}, strict) == std::vector<uint8_t>{4});
}

TEST_CASE("security: pair() on a link already at the level raises the update at once", "[security]") {
    Connected fx;
    fx.link->level = {2, 16};
    fx.encryption_change(kHandle);
    CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
    fx.security.pair(kHandle);
    CHECK(fx.link->requested == std::vector<uint8_t>{2});
    CHECK(fx.irqs() == Strings{"encryption_update 64 1 0 0 16"});
    // A link that must still be raised: nothing until its events.
    fx.configure({3, true, true, false});
    fx.security.pair(kHandle);
    CHECK(fx.link->requested == std::vector<uint8_t>{2, 3});
    CHECK(fx.irqs().empty());
}

TEST_CASE("security: a GATT client refusal raises the link as the ATT error asks, if any pairing can", "[security]") {
    SECTION("no bond") {
        Fixture fx(kWithSc);
        fx.started();
        CHECK_FALSE(fx.security.raise_for_client(kHandle, att::error::InsufficientEncryption));  // no connection
        test::FakeLink* link = fx.connect(kHandle);
        CHECK(fx.security.raise_for_client(kHandle, att::error::InsufficientEncryption));
        // io NoInputNoOutput: no pairing gives MITM protection, nothing is asked.
        CHECK_FALSE(fx.security.raise_for_client(kHandle, att::error::InsufficientAuthentication));
        CHECK(link->requested == std::vector<uint8_t>{2});
        fx.configure({4, true, false, false});  // KeyboardDisplay
        CHECK(fx.security.raise_for_client(kHandle, att::error::InsufficientAuthentication));
        fx.configure({4, true, false, true});
        CHECK(fx.security.raise_for_client(kHandle, att::error::InsufficientAuthentication));
        CHECK(link->requested == std::vector<uint8_t>{2, 3, 4});
        link->level = {4, 16};  // already there
        CHECK_FALSE(fx.security.raise_for_client(kHandle, att::error::InsufficientAuthentication));
        CHECK(fx.sent().empty());
    }
    SECTION("an unauthenticated stored key: encryption only, never a new pairing") {
        Fixture fx(kWithSc);
        fx.store.bonds = {legacy_bond()};
        fx.started();
        fx.configure({4, true, true, true});
        test::FakeLink* link = fx.connect(kHandle);
        CHECK_FALSE(fx.security.raise_for_client(kHandle, att::error::InsufficientAuthentication));
        CHECK(fx.security.raise_for_client(kHandle, att::error::InsufficientEncryption));
        CHECK(link->requested == std::vector<uint8_t>{2});
    }
    SECTION("an authenticated stored key: its level") {
        Fixture fx(kWithSc);
        fx.store.bonds = {legacy_bond(sm::LtkType::AuthenticatedLegacy)};
        fx.started();
        test::FakeLink* link = fx.connect(kHandle);
        CHECK(fx.security.raise_for_client(kHandle, att::error::InsufficientAuthentication));
        CHECK(fx.security.raise_for_client(kHandle, att::error::InsufficientEncryption));
        CHECK(link->requested == std::vector<uint8_t>{3, 3});
    }
}

// ---- 9. gap_unpair --------------------------------------------------------------

TEST_CASE("security: unpair() removes the bond from the kernel, the store and the list", "[security]") {
    Fixture fx;
    fx.store.bonds = {legacy_bond(), {kStatic, {ltk_sc(sm::LtkType::UnauthenticatedP256)}, std::nullopt}};
    fx.started();
    SECTION("the kernel forgets it") {
        fx.security.unpair(kPeer);
        CHECK(fx.sent() == Strings{kUnpairPeer});  // address, type, disconnect 1
        CHECK(fx.store.removed == std::vector<LeAddress>{kPeer});
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kStatic});
    }
    SECTION("the kernel had no key (Not Paired): removed all the same") {
        fx.kernel.refuse(mgmt::op::UnpairDevice, mgmt::status::NotPaired);
        fx.security.unpair(kPeer);
        CHECK(fx.sent() == Strings{kUnpairPeer});
        CHECK(fx.store.removed == std::vector<LeAddress>{kPeer});
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kStatic});
    }
    SECTION("a random peer") {
        fx.security.unpair(kStatic);
        CHECK(fx.sent() == Strings{"1B 00 02 00 08 00 " + kStaticWire + " 01"});
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
    }
    SECTION("unknown peer: NotFound, nothing sent") {
        CHECK(error_of([&] { fx.security.unpair({0, *Address::parse("00:AA:01:01:00:99")}); }) ==
              ErrorCode::NotFound);
        CHECK(error_of([&] { fx.security.unpair({1, kPeer.address}); }) == ErrorCode::NotFound);  // wrong type
        CHECK(fx.sent().empty());
        CHECK(fx.security.bonds().size() == 2);
    }
    SECTION("the kernel refuses: Failed, the bond is kept") {
        fx.kernel.refuse(mgmt::op::UnpairDevice, mgmt::status::Busy);
        CHECK(error_of([&] { fx.security.unpair(kPeer); }) == ErrorCode::Failed);
        CHECK(fx.sent() == Strings{kUnpairPeer});
        CHECK(fx.store.removed.empty());
        CHECK(fx.store.bonds.size() == 2);
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer, kStatic});
    }
    SECTION("the store cannot remove the file: Failed, and the bond is still listed (as the next start loads it)") {
        fx.store.fail_remove = true;
        CHECK(error_of([&] { fx.security.unpair(kPeer); }) == ErrorCode::Failed);
        CHECK(fx.store.removed == std::vector<LeAddress>{kPeer});
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer, kStatic});
    }
    SECTION("the radio is off (Not Powered): removed, and the kernel's lists loaded again without it") {
        fx.kernel.refuse(mgmt::op::UnpairDevice, mgmt::status::NotPowered);
        fx.security.unpair(kPeer);
        Strings sent = fx.sent();
        REQUIRE(sent.size() == 3);
        CHECK(sent[0] == kUnpairPeer);
        CHECK(sent[1].starts_with("30 00 02 00"));  // Load IRKs
        CHECK(sent[2].starts_with("13 00 02 00 26 00 01 00 "));  // Load LTKs: the one key left
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kStatic});
    }
    SECTION("no file in the store: fine") {
        fx.store.bonds.clear();
        CHECK_NOTHROW(fx.security.unpair(kPeer));
        CHECK(fx.security.bonds() == std::vector<LeAddress>{kStatic});
    }
}

TEST_CASE("security: unpair() of a public peer also unpairs its BR/EDR address where BR/EDR is supported",
          "[security]") {
    Fixture fx(kDualMode);
    fx.store.bonds = {legacy_bond(), {kStatic, {ltk_sc(sm::LtkType::UnauthenticatedP256)}, std::nullopt}};
    fx.started();
    SECTION("public: LE (disconnect 1), then BR/EDR (type 0, disconnect 0)") {
        fx.security.unpair(kPeer);
        CHECK(fx.sent() == Strings{kUnpairPeer, "1B 00 02 00 08 00 42 00 01 01 AA 00 00 00"});
    }
    SECTION("the BR/EDR address had no key (Not Paired): fine") {
        fx.kernel.status = [](const mgmt::Frame& f) {
            return f.code == mgmt::op::UnpairDevice && f.params.at(6) == 0 ? mgmt::status::NotPaired
                                                                         : mgmt::status::Success;
        };
        fx.security.unpair(kPeer);
        CHECK(fx.sent().size() == 2);
    }
    SECTION("random: LE only") {
        fx.security.unpair(kStatic);
        CHECK(fx.sent() == Strings{"1B 00 02 00 08 00 " + kStaticWire + " 01"});
    }
    SECTION("the LE unpair refused: nothing more") {
        fx.kernel.refuse(mgmt::op::UnpairDevice, mgmt::status::Busy);
        CHECK(error_of([&] { fx.security.unpair(kPeer); }) == ErrorCode::Failed);
        CHECK(fx.sent() == Strings{kUnpairPeer});
        CHECK(fx.security.bonds().size() == 2);
        return;
    }
    CHECK(fx.security.bonds().size() == 1);
}

TEST_CASE("security: a bond unpaired by another mgmt user leaves the store", "[security]") {
    Fixture fx;
    fx.store.bonds = {legacy_bond()};
    fx.started();
    CHECK(fx.mgmt_event(mgmt::ev::DeviceUnpaired, kPeerWire));
    CHECK(fx.store.removed == std::vector<LeAddress>{kPeer});
    CHECK(fx.store.bonds.empty());
    CHECK(fx.security.bonds().empty());
    // Someone we have no bond with: nothing.
    fx.sent();
    CHECK(fx.mgmt_event(mgmt::ev::DeviceUnpaired, kStaticWire));
    CHECK(fx.sent().empty());
    CHECK(fx.store.removed.size() == 1);
}

// Another mgmt user removed the keys: the kernel is not told again (the
// peer may have paired anew meanwhile).
TEST_CASE("security: Device Unpaired from another mgmt user sends nothing back", "[security]") {
    Fixture fx;
    fx.store.bonds = {legacy_bond()};
    fx.started();
    CHECK(fx.mgmt_event(mgmt::ev::DeviceUnpaired, kPeerWire));
    CHECK(fx.sent().empty());
    CHECK(fx.security.bonds().empty());
}

// bluetoothd forgetting the classic side of a dual-mode peer leaves our LE bond.
TEST_CASE("security: Device Unpaired for a BR/EDR address leaves the LE bond", "[security]") {
    Fixture fx(kDualMode);
    fx.store.bonds = {legacy_bond()};
    fx.started();
    CHECK(fx.mgmt_event(mgmt::ev::DeviceUnpaired, "42 00 01 01 AA 00 00"));  // 00:AA:01:01:00:42, BR/EDR
    CHECK(fx.sent().empty());
    CHECK(fx.store.removed.empty());
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer});
}

// ---- 10. the end of a link ---------------------------------------------------------

TEST_CASE("security: a link that ends forgets its pending action and timers", "[security]") {
    Connected fx;
    CHECK(fx.mgmt_event(mgmt::ev::UserPasskeyRequest, kPeerWire));
    CHECK(fx.irqs() == Strings{"passkey_action 64 2 0"});
    fx.link->level = {1, 0};
    fx.encryption_change(kHandle);  // ends the pairing question, starts the settle wait
    CHECK(error_of([&] { fx.security.passkey(kHandle, 2, 1); }) == ErrorCode::NotFound);
    fx.only_timer(kSettleStep);
    CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, kPeerWire + " 00 40 E2 01 00"));
    CHECK(fx.irqs() == Strings{"passkey_action 64 4 123456"});
    CHECK(fx.timers.pending.size() == 2);

    fx.disconnect(kHandle);
    CHECK(fx.timers.pending.empty());
    CHECK(error_of([&] { fx.security.passkey(kHandle, 4, 1); }) == ErrorCode::NotFound);
    CHECK(fx.sent().empty());
    CHECK(fx.irqs().empty());

    // The handle again, for a new connection: nothing carried over.
    fx.connect(kHandle);
    CHECK(fx.mgmt_event(mgmt::ev::NewLongTermKey, new_ltk(1, ltk_central_wire(kPeerWire, 0))));
    CHECK(fx.irqs().empty());
}

TEST_CASE("security: link_ended() called directly, and a failed pairing, forget the question", "[security]") {
    Connected fx;
    SECTION("link_ended") {
        CHECK(fx.mgmt_event(mgmt::ev::PasskeyNotify, kPeerWire + " 40 E2 01 00 00"));
        fx.security.link_ended(kHandle);
        CHECK(error_of([&] { fx.security.passkey(kHandle, 3, 123456); }) == ErrorCode::NotFound);
    }
    SECTION("Authentication Failed") {
        CHECK(fx.mgmt_event(mgmt::ev::UserPasskeyRequest, kPeerWire));
        CHECK(fx.mgmt_event(mgmt::ev::AuthenticationFailed, kPeerWire + " 05"));
        CHECK(error_of([&] { fx.security.passkey(kHandle, 2, 1); }) == ErrorCode::NotFound);
        CHECK(fx.sent().empty());
    }
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("security: on_mgmt_event takes the pairing events only", "[security]") {
    Fixture fx;
    fx.started();
    CHECK_FALSE(fx.mgmt_event(mgmt::ev::DeviceConnected, kPeerWire + " 00 00 00 00 00 00"));
    CHECK_FALSE(fx.mgmt_event(mgmt::ev::NewSettings, "00 02 00 00"));
    CHECK_FALSE(fx.mgmt_event(0x0009, "00"));  // New Link Key (BR/EDR)
    // Malformed pairing events are taken and do nothing.
    CHECK(fx.mgmt_event(mgmt::ev::UserConfirmRequest, kPeerWire));
    CHECK(fx.mgmt_event(mgmt::ev::UserPasskeyRequest, kPeerWire + " 00"));
    CHECK(fx.mgmt_event(mgmt::ev::PasskeyNotify, kPeerWire));
    CHECK(fx.mgmt_event(mgmt::ev::DeviceUnpaired, ""));
    CHECK(fx.mgmt_event(mgmt::ev::AuthenticationFailed, kPeerWire));
    CHECK(fx.sent().empty());
    CHECK(fx.irqs().empty());
}

TEST_CASE("security: a handler's secrets: bonds given to it, and at registration the ones the daemon lacks taken back",
          "[security]") {
    Fixture fx;
    fx.store.bonds = {legacy_bond()};
    fx.started();
    sm::Bond older = legacy_bond(sm::LtkType::AuthenticatedLegacy);  // the handler's stale copy of kPeer's
    sm::Bond missing{kStatic, {ltk_sc(sm::LtkType::UnauthenticatedP256)}, std::nullopt};
    std::vector<std::string> values{sm::encode(older), "not a bond", sm::encode(missing)};
    std::vector<std::pair<Bytes, Bytes>> set;
    std::vector<uint32_t> asked;
    fx.security.set_secret_keeper(ble::SecretKeeper{
        [&](uint32_t sec_type, const Bytes& key, const Bytes& value) {
            CHECK(sec_type == ble::Security::kBondSecret);
            set.emplace_back(key, value);
        },
        [&](uint32_t sec_type, uint32_t index, std::function<void(std::optional<Bytes>)> answer) {
            CHECK(sec_type == ble::Security::kBondSecret);
            asked.push_back(index);
            if (index < values.size()) answer(Bytes(values[index].begin(), values[index].end()));
            else answer(std::nullopt);
        }});
    CHECK(asked == std::vector<uint32_t>{0, 1, 2, 3});
    // The daemon's own bond with kPeer wins; kStatic is new: stored, told back, loaded.
    CHECK(fx.security.bonds() == std::vector<LeAddress>{kPeer, kStatic});
    CHECK(fx.store.bonds.at(0) == legacy_bond());
    CHECK(fx.store.bonds.at(1) == missing);
    REQUIRE(set.size() == 1);
    CHECK(set[0].first == Bytes{0x01, 0xC0, 0x11, 0x22, 0x33, 0x44, 0x55});  // addr_type, then the address
    Strings sent = fx.sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].starts_with("30 00 02 00"));  // Load IRKs
    CHECK(sent[1].starts_with("13 00 02 00"));  // Load LTKs
    // Removing a bond deletes the handler's secret (an empty value).
    fx.security.unpair(kStatic);
    REQUIRE(set.size() == 2);
    CHECK(set[1].second.empty());
}
