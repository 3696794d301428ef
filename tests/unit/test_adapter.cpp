// The ble::Adapter facade against a scripted kernel: which mgmt commands it
// sends for active() and config(), and that rejected calls change nothing.
#include <catch2/catch.hpp>

#include "ble/adapter.hpp"
#include "core/error.hpp"
#include "error_of.hpp"
#include "fake_adapter.hpp"
#include "fake_link.hpp"
#include "gap/rpa.hpp"
#include "memory_bond_store.hpp"

using namespace ubt;
using test::error_of;
using namespace ubt::mgmt;
using test::info_with;
using test::kPublic;
using test::settings_bytes;
using Fixture = test::AdapterFixture;

TEST_CASE("active(True) turns LE on, sets the address mode, then powers on") {
    Fixture fx;
    CHECK_FALSE(fx.adapter.active());
    fx.adapter.set_active(true);
    CHECK(fx.adapter.active());
    CHECK(fx.controller.opcodes ==
          std::vector<uint16_t>{op::SetLowEnergy, op::SetPrivacy, op::SetStaticAddress, op::SetPowered});
    fx.controller.opcodes.clear();
    fx.adapter.set_active(true);  // already on: nothing to do
    CHECK(fx.controller.opcodes.empty());
    fx.adapter.set_active(false);
    CHECK_FALSE(fx.adapter.active());
    CHECK(fx.controller.opcodes == std::vector<uint16_t>{op::SetPowered});
}

TEST_CASE("a new adapter gives the kernel its security settings and the stored keys") {
    Fixture fx;
    // io 3 and bondable, MicroPython's defaults; Load IRKs even when empty;
    // no BR/EDR link keys (the controller has BR/EDR).
    CHECK(fx.startup_opcodes == std::vector<uint16_t>{op::SetIoCapability, op::SetBondable,
                                                      op::LoadIdentityResolvingKeys, op::LoadLongTermKeys,
                                                      op::LoadLinkKeys});
    CHECK((fx.controller.settings & setting::Bondable) != 0);
}

TEST_CASE("a controller left powered with privacy on is restarted in our addr_mode") {
    test::AdapterPorts ports;
    ControllerInfo info = info_with(kPublic);
    info.current_settings = setting::Powered | setting::LowEnergy | setting::BrEdr | setting::Privacy;
    ports.controller.settings = info.current_settings;
    ble::Adapter adapter(0, ports.mgmt, info, ports.hci, ports.timers);
    std::vector<uint16_t> after_keys(ports.controller.opcodes.begin() + 5, ports.controller.opcodes.end());
    CHECK(after_keys == std::vector<uint16_t>{op::SetPowered, op::SetPrivacy, op::SetStaticAddress, op::SetPowered});
    CHECK(adapter.active());
    CHECK((ports.controller.settings & setting::Privacy) == 0);
    CHECK(std::get<int64_t>(adapter.config_get("addr_mode")) == 0);
}

TEST_CASE("active(True) on a controller without LE is NotSupported") {
    Fixture fx;
    ControllerInfo info = info_with(kPublic);
    info.supported_settings = setting::Powered | setting::BrEdr;
    ble::Adapter classic(1, fx.mgmt, info, fx.hci, fx.timers);
    fx.controller.opcodes.clear();
    CHECK(error_of([&] { classic.set_active(true); }) == ErrorCode::NotSupported);
    CHECK(fx.controller.opcodes.empty());
}

// Refuses one opcode with RFKilled and obeys the rest.
void refusing(Fixture& fx, uint16_t refused);

TEST_CASE("a refused power-on is reported with the kernel's reason") {
    Fixture fx;
    refusing(fx, op::SetPowered);
    try {
        fx.adapter.set_active(true);
        FAIL("expected a refusal");
    } catch (const BleError& e) {
        CHECK(e.code() == ErrorCode::Failed);
        CHECK(std::string(e.what()) == "Set Powered failed: RFKilled");
    }
    CHECK(fx.controller.opcodes.back() == op::SetPowered);
    CHECK_FALSE(fx.adapter.active());
}

TEST_CASE("a kernel refusal part-way through config() puts back what was changed") {
    Fixture fx;
    fx.adapter.set_active(true);
    refusing(fx, op::SetStaticAddress);
    CHECK(error_of([&] { fx.adapter.config_set({{"gap_name", std::string("new")}, {"addr_mode", int64_t{1}}}); }) ==
          ErrorCode::Failed);
    CHECK(std::get<int64_t>(fx.adapter.config_get("addr_mode")) == 0);
    CHECK(std::get<std::string>(fx.adapter.config_get("gap_name")) == "BlueZ");
    CHECK(fx.controller.name == "BlueZ");
    CHECK(fx.adapter.active());  // powered again after the attempt
}

TEST_CASE("config('mac') needs the radio and follows addr_mode") {
    Fixture fx;
    CHECK(error_of([&] { fx.adapter.config_get("mac"); }) == ErrorCode::NotActive);
    fx.adapter.set_active(true);
    auto mac = std::get<ble::MacValue>(fx.adapter.config_get("mac"));
    CHECK(mac.addr_type == 0);
    CHECK(mac.address == kPublic);

    fx.controller.opcodes.clear();
    fx.adapter.config_set({{"addr_mode", int64_t{1}}});
    // Address settings need a power cycle while active; the kernel uses a
    // static address on a dual-mode controller only with BR/EDR off.
    CHECK(fx.controller.opcodes ==
          std::vector<uint16_t>{op::SetPowered, op::SetPrivacy, op::SetBrEdr, op::SetStaticAddress, op::SetPowered});
    CHECK((fx.controller.settings & setting::BrEdr) == 0);
    CHECK(fx.adapter.active());
    mac = std::get<ble::MacValue>(fx.adapter.config_get("mac"));
    CHECK(mac.addr_type == 1);
    CHECK((mac.address.msb_first[0] & 0xc0) == 0xc0);  // static random: top bits 11
    CHECK(std::get<int64_t>(fx.adapter.config_get("addr_mode")) == 1);

    fx.adapter.config_set({{"addr_mode", int64_t{2}}});
    CHECK((fx.controller.settings & setting::Privacy) != 0);
    mac = std::get<ble::MacValue>(fx.adapter.config_get("mac"));
    CHECK(mac.addr_type == 0);  // RPA mode reports the identity address
    CHECK(mac.address == kPublic);
}

TEST_CASE("a controller without a public address defaults to a random static address") {
    Fixture fx(Address{});
    CHECK(std::get<int64_t>(fx.adapter.config_get("addr_mode")) == 1);
    CHECK(error_of([&] { fx.adapter.config_set({{"addr_mode", int64_t{0}}}); }) == ErrorCode::NotSupported);
    // In RPA mode the static address stays: it is the identity the RPAs resolve to.
    fx.adapter.config_set({{"addr_mode", int64_t{2}}});
    std::vector<Address> static_addresses;
    fx.port.responder = [&](const Frame& f) {
        if (f.code == op::SetStaticAddress) static_addresses.push_back(Address::from_le(f.params));
        return fx.controller(f);
    };
    fx.adapter.set_active(true);
    REQUIRE(static_addresses.size() == 1);
    CHECK_FALSE(static_addresses[0].is_zero());
    CHECK(std::get<ble::MacValue>(fx.adapter.config_get("mac")).address == static_addresses[0]);
}

TEST_CASE("gap_name is validated and sent to the kernel as the local name") {
    Fixture fx;
    CHECK(std::get<std::string>(fx.adapter.config_get("gap_name")) == "BlueZ");
    fx.adapter.config_set({{"gap_name", std::string("sensor")}});
    CHECK(fx.controller.name == "sensor");
    CHECK(std::get<std::string>(fx.adapter.config_get("gap_name")) == "sensor");
    CHECK_NOTHROW(fx.adapter.config_set({{"gap_name", std::string(248, 'n')}}));
    CHECK(error_of([&] { fx.adapter.config_set({{"gap_name", std::string(249, 'n')}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"gap_name", std::string("a\0b", 3)}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"gap_name", int64_t{5}}}); }) == ErrorCode::InvalidArgs);
}

TEST_CASE("rxbuf and mtu keep values inside their ranges") {
    Fixture fx;
    CHECK(std::get<int64_t>(fx.adapter.config_get("mtu")) == 256);
    fx.adapter.config_set({{"mtu", int64_t{23}}, {"rxbuf", int64_t{128}}});
    CHECK(std::get<int64_t>(fx.adapter.config_get("mtu")) == 23);
    CHECK(std::get<int64_t>(fx.adapter.config_get("rxbuf")) == 128);
    fx.adapter.config_set({{"mtu", int64_t{517}}});
    CHECK(error_of([&] { fx.adapter.config_set({{"mtu", int64_t{22}}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"mtu", int64_t{518}}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"rxbuf", int64_t{127}}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"mtu", true}}); }) == ErrorCode::InvalidArgs);
    CHECK(std::get<int64_t>(fx.adapter.config_get("mtu")) == 517);
}

TEST_CASE("a rejected config() call changes nothing, not even its valid keys") {
    Fixture fx;
    CHECK(error_of([&] {
              fx.adapter.config_set({{"gap_name", std::string("new")}, {"mtu", int64_t{100}}, {"colour", int64_t{1}}});
          }) == ErrorCode::InvalidArgs);
    CHECK(std::get<std::string>(fx.adapter.config_get("gap_name")) == "BlueZ");
    CHECK(std::get<int64_t>(fx.adapter.config_get("mtu")) == 256);
    CHECK(fx.controller.opcodes.empty());
}

TEST_CASE("unknown and read-only keys") {
    Fixture fx;
    CHECK(error_of([&] { fx.adapter.config_get("colour"); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"mac", int64_t{0}}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"addr_mode", int64_t{4}}}); }) == ErrorCode::InvalidArgs);
}

TEST_CASE("security keys: defaults, checked values, the kernel told, nothing changed on a refusal") {
    Fixture fx;
    CHECK(std::get<int64_t>(fx.adapter.config_get("io")) == 3);
    CHECK(std::get<bool>(fx.adapter.config_get("bond")) == true);
    CHECK(std::get<bool>(fx.adapter.config_get("mitm")) == false);
    CHECK(std::get<bool>(fx.adapter.config_get("le_secure")) == false);
    CHECK(error_of([&] { fx.adapter.config_set({{"io", int64_t{5}}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"io", int64_t{-1}}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"bond", int64_t{1}}}); }) == ErrorCode::InvalidArgs);
    CHECK(error_of([&] { fx.adapter.config_set({{"mitm", std::string("yes")}}); }) == ErrorCode::InvalidArgs);
    // The fake controller has no Secure Connections among its settings.
    CHECK(error_of([&] { fx.adapter.config_set({{"io", int64_t{1}}, {"le_secure", true}}); }) == ErrorCode::NotSupported);
    CHECK(std::get<int64_t>(fx.adapter.config_get("io")) == 3);
    CHECK(fx.controller.opcodes.empty());

    fx.adapter.config_set({{"io", int64_t{4}}, {"bond", false}, {"mitm", true}});
    CHECK(std::get<int64_t>(fx.adapter.config_get("io")) == 4);
    CHECK(std::get<bool>(fx.adapter.config_get("bond")) == false);
    CHECK(std::get<bool>(fx.adapter.config_get("mitm")) == true);
    CHECK(fx.controller.opcodes == std::vector<uint16_t>{op::SetIoCapability, op::SetBondable});
    CHECK((fx.controller.settings & setting::Bondable) == 0);
}

TEST_CASE("New Settings and Local Name Changed events update the adapter") {
    Fixture fx;
    fx.adapter.on_mgmt_event({ev::NewSettings, 0, settings_bytes(setting::Powered | setting::LowEnergy)});
    CHECK(fx.adapter.active());
    Bytes name(kNameSize + kShortNameSize, 0);
    name[0] = 'x';
    fx.adapter.on_mgmt_event({ev::LocalNameChanged, 0, name});
    CHECK(std::get<std::string>(fx.adapter.config_get("gap_name")) == "x");
    fx.adapter.on_mgmt_event({ev::NewSettings, 0, Bytes{0x00}});  // truncated: ignored
    CHECK(fx.adapter.active());
}

TEST_CASE("gap_connect connects from the address of addr_mode; scanning and connecting exclude each other") {
    Fixture fx;
    gap::ConnectRequest r;
    r.peer = {0, *Address::parse("00:AA:01:01:00:42")};
    CHECK(error_of([&] { fx.adapter.gap_connect(r); }) == ErrorCode::NotActive);
    fx.adapter.set_active(true);
    fx.hci_port.sent.clear();
    fx.adapter.gap_connect(r);
    CHECK(fx.hci_port.opcodes() == std::vector<uint16_t>{hci::op::LeReadLocalFeatures, hci::op::LeCreateConnection});
    CHECK(fx.hci_port.sent[1].at(16) == 0x00);  // own address type: public

    // As on NimBLE, a scan cannot start during a connect; as on MicroPython,
    // a connect during a scan ends the scan first.
    CHECK(error_of([&] { fx.adapter.gap_scan(gap::ScanRequest{}); }) == ErrorCode::Busy);
    fx.adapter.gap_connect_cancel();
    fx.adapter.gap_scan(gap::ScanRequest{});
    while (fx.adapter.next_event()) {
    }
    fx.hci_port.sent.clear();
    fx.adapter.gap_connect(r);
    CHECK(fx.hci_port.opcodes() ==
          std::vector<uint16_t>{hci::op::LeSetScanEnable, hci::op::LeCreateConnection});
    auto done = fx.adapter.next_event();
    REQUIRE(done);
    CHECK(std::holds_alternative<ble::ScanDone>(*done));
    CHECK_FALSE(fx.adapter.next_event());  // the connect is still pending
    fx.adapter.gap_connect_cancel();

    // A refused connect leaves the scan running.
    fx.adapter.gap_scan(gap::ScanRequest{});
    gap::ConnectRequest bad = r;
    bad.peer.type = 7;
    fx.hci_port.sent.clear();
    CHECK(error_of([&] { fx.adapter.gap_connect(bad); }) == ErrorCode::InvalidArgs);
    CHECK(fx.hci_port.sent.empty());
    fx.adapter.gap_scan(std::nullopt);

    fx.adapter.config_set({{"addr_mode", int64_t{1}}});
    auto mac = std::get<ble::MacValue>(fx.adapter.config_get("mac"));
    fx.hci_port.sent.clear();
    fx.adapter.gap_connect(r);
    CHECK(fx.hci_port.sent.front() == hci::le_set_random_address(mac.address));
    CHECK(fx.hci_port.sent.back().at(16) == 0x01);  // own address type: random (static)
    fx.adapter.gap_connect_cancel();
}

namespace {
// The address of each LE Set Random Address sent so far.
std::vector<Address> random_addresses(const test::FakeHciPort& port) {
    std::vector<Address> out;
    for (const auto& p : port.sent) {
        if (p.at(1) == 0x05 && p.at(2) == 0x20) out.push_back(Address::from_le(ByteView(p).subspan(4, 6)));
    }
    return out;
}
}  // namespace

TEST_CASE("addr_mode 2 advertises and connects from a fresh resolvable private address each time") {
    Fixture fx;
    fx.adapter.set_active(true);
    fx.adapter.config_set({{"addr_mode", int64_t{2}}});
    fx.adapter.gap_advertise(gap::AdvertiseRequest{});
    gap::ConnectRequest r;
    r.peer = {0, *Address::parse("00:AA:01:01:00:42")};
    fx.adapter.gap_connect(r);
    fx.timers.fire_all();  // the rotation
    auto addresses = random_addresses(fx.hci_port);
    REQUIRE(addresses.size() == 3);
    for (const auto& a : addresses) CHECK((a.msb_first[0] & 0xc0) == 0x40);  // resolvable: top bits 01
    CHECK(addresses[0] != addresses[1]);
    CHECK(addresses[1] != addresses[2]);
}

TEST_CASE("addr_mode 2 moves running advertising to a fresh RPA every 15 minutes") {
    Fixture fx;
    fx.adapter.set_active(true);
    fx.adapter.config_set({{"addr_mode", int64_t{2}}});
    fx.adapter.gap_advertise(gap::AdvertiseRequest{});
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::minutes(15));
    fx.hci_port.sent.clear();
    fx.timers.fire_all();
    CHECK(fx.hci_port.opcodes() == std::vector<uint16_t>{hci::op::LeSetAdvEnable, hci::op::LeSetRandomAddress,
                                                         hci::op::LeSetAdvEnable});
    CHECK(fx.hci_port.sent.back() == hci::le_set_adv_enable(true));
    REQUIRE(fx.timers.pending.size() == 1);  // and again in 15 minutes
    fx.adapter.gap_advertise(std::nullopt);
    fx.hci_port.sent.clear();
    fx.timers.fire_all();
    CHECK(fx.hci_port.sent.empty());  // nothing to move once advertising stopped
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("every link's ATT channel is answered by the GATT server, with gap_name as the Device Name") {
    Fixture fx;
    fx.adapter.set_active(true);
    fx.adapter.config_set({{"gap_name", std::string("pi")}});
    int open = 0;
    auto link = std::make_unique<test::FakeLink>(open);
    test::FakeLink* channel = link.get();
    fx.connect_central(0x40);
    fx.adapter.attach_link(0x40, std::move(link));
    fx.adapter.on_att_pdu(0x40, Bytes{0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28});  // Read By Group Type
    REQUIRE(channel->sent.size() == 1);
    CHECK(channel->sent[0] == Bytes{0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18, 0x06, 0x00, 0x09, 0x00, 0x01, 0x18});
    fx.adapter.on_att_pdu(0x40, Bytes{0x0a, 0x03, 0x00});  // Read the Device Name value
    CHECK(channel->sent.back() == Bytes{0x0b, 'p', 'i'});
    fx.adapter.on_att_pdu(0x41, Bytes{0x0a, 0x03, 0x00});  // no such link: nothing sent anywhere
    CHECK(channel->sent.size() == 2);
}

TEST_CASE("links use the static address as identity in addr_mode 1") {
    Fixture fx;
    fx.adapter.set_active(true);
    CHECK(fx.adapter.identity() == LeAddress{0, kPublic});
    fx.adapter.config_set({{"addr_mode", int64_t{1}}});
    auto mac = std::get<ble::MacValue>(fx.adapter.config_get("mac"));
    CHECK(fx.adapter.identity() == LeAddress{1, mac.address});
}

TEST_CASE("gap_disconnect on an unknown handle or an inactive radio is False") {
    Fixture fx;
    CHECK_FALSE(fx.adapter.gap_disconnect(0x40));
    fx.adapter.set_active(true);
    CHECK_FALSE(fx.adapter.gap_disconnect(0x40));
}

void refusing(Fixture& fx, uint16_t refused) {
    fx.port.responder = [&fx, refused](const Frame& cmd) {
        if (cmd.code != refused) return fx.controller(cmd);
        fx.controller.opcodes.push_back(cmd.code);
        ByteWriter w;
        w.u16le(cmd.code).u8(status::Rfkilled);
        return std::vector<Bytes>{encode_frame({ev::CommandStatus, cmd.index, w.take()})};
    };
}

TEST_CASE("an ATT timeout ends the link, and a controller that does not answer the Disconnect is survived") {
    Fixture fx;
    fx.adapter.set_active(true);
    int open = 0;
    auto link = std::make_unique<test::FakeLink>(open);
    test::FakeLink* channel = link.get();
    fx.connect_central(0x40);
    fx.adapter.attach_link(0x40, std::move(link));
    fx.adapter.gattc_read(0x40, 3);
    CHECK(channel->sent.back() == Bytes{0x0a, 0x03, 0x00});  // Read Request, handle 0x0003
    fx.hci_port.responder = [](ByteView) { return std::vector<Bytes>{}; };  // the controller went silent
    fx.hci_port.sent.clear();
    CHECK_NOTHROW(fx.timers.fire_all());  // 30 s without the response
    REQUIRE(fx.hci_port.opcodes().size() == 1);
    CHECK(fx.hci_port.opcodes()[0] == hci::op::Disconnect);  // it tried to end the link
    bool read_done = false;
    while (auto e = fx.adapter.next_event()) {
        if (auto d = std::get_if<ble::GattcReadDone>(&*e)) read_done = d->status == gatt::status::Timeout;
    }
    CHECK(read_done);
}

TEST_CASE("a security setting the kernel refuses leaves the old settings, told to the kernel again") {
    Fixture fx;
    refusing(fx, op::SetBondable);
    CHECK(error_of([&] { fx.adapter.config_set({{"io", int64_t{1}}, {"bond", false}, {"gap_name", std::string("x")}}); }) ==
          ErrorCode::Failed);
    CHECK(std::get<int64_t>(fx.adapter.config_get("io")) == 3);
    CHECK(std::get<bool>(fx.adapter.config_get("bond")) == true);
    CHECK(std::get<std::string>(fx.adapter.config_get("gap_name")) == "BlueZ");
    // io 1 sent, Bondable refused; then io 3 back (Bondable refused again, logged).
    CHECK(fx.controller.opcodes ==
          std::vector<uint16_t>{op::SetIoCapability, op::SetBondable, op::SetIoCapability, op::SetBondable});
}

TEST_CASE("a bonded peer connecting from a resolvable private address is reported by its identity") {
    test::MemoryBondStore store;
    sm::Bond bond;
    bond.peer = {1, *Address::parse("C0:AA:01:01:00:01")};  // static random identity
    bond.irk = sm::IrkValue{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                            0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
    sm::Ltk ltk;
    ltk.val[0] = 1;
    bond.ltks.push_back(ltk);
    store.bonds.push_back(bond);
    Fixture fx(kPublic, &store);

    auto connect_from = [&](uint16_t handle, const Address& peer) {
        fx.connect_central(handle, {1, peer});
        auto e = fx.adapter.next_event();
        REQUIRE(e.has_value());
        REQUIRE(std::holds_alternative<ble::CentralConnect>(*e));
        const auto& c = std::get<ble::CentralConnect>(*e);
        return LeAddress{c.addr_type, c.addr};
    };
    // prand 0x4b1234 (top bits 01) with the hash of the bond's IRK: its RPA.
    Address rpa = gap::resolvable_private_address(*bond.irk, {0x4b, 0x12, 0x34});
    CHECK(connect_from(0x40, rpa) == bond.peer);
    // Another IRK's RPA, and a non-resolvable address, stay as they came.
    Address stranger = gap::resolvable_private_address(gap::Irk{}, {0x4b, 0x12, 0x34});
    CHECK(connect_from(0x41, stranger) == LeAddress{1, stranger});
    Address nrpa = *Address::parse("12:34:56:78:9A:BC");
    CHECK(connect_from(0x42, nrpa) == LeAddress{1, nrpa});
}
