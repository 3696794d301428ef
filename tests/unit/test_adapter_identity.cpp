// The adapter's own identity (static address and IRK) outlives the daemon in
// its bond store: ble::Adapter takes a stored one, stores the one it made up
// when there is none, replaces a bad one, and never throws for the store.
#include <catch2/catch.hpp>

#include "ble/adapter.hpp"
#include "fake_hci.hpp"
#include "fake_mgmt_port.hpp"
#include "fake_timers.hpp"
#include "memory_bond_store.hpp"

using namespace ubt;
using namespace ubt::mgmt;
using test::command_complete;
using test::settings_bytes;

namespace {

const Address kPublic = *Address::parse("00:AA:01:00:00:23");
const sm::LocalIdentity kStored{*Address::parse("C1:02:03:04:05:06"),
                                sm::IrkValue{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
                                             0xac, 0xad, 0xae, 0xaf}};

// Obeys every command, tracking its settings, and keeps the last Set Static
// Address and Set Privacy it was given.
struct Kernel {
    uint32_t settings = setting::BrEdr;
    std::optional<Address> static_address;
    std::optional<sm::IrkValue> privacy_irk;  // the IRK of the last Set Privacy that turned privacy on

    std::vector<Bytes> operator()(const Frame& cmd) {
        auto flag = [&](uint32_t bit) {
            if (cmd.params.at(0)) settings |= bit;
            else settings &= ~bit;
        };
        switch (cmd.code) {
            case op::SetPowered: flag(setting::Powered); break;
            case op::SetLowEnergy: flag(setting::LowEnergy); break;
            case op::SetBrEdr: flag(setting::BrEdr); break;
            case op::SetBondable: flag(setting::Bondable); break;
            case op::SetPrivacy:
                flag(setting::Privacy);
                if (cmd.params.at(0)) {
                    privacy_irk.emplace();
                    std::copy(cmd.params.begin() + 1, cmd.params.begin() + 17, privacy_irk->begin());
                }
                break;
            case op::SetStaticAddress: static_address = Address::from_le(cmd.params); break;
            case op::SetIoCapability:
            case op::LoadLongTermKeys:
            case op::LoadIdentityResolvingKeys: return {command_complete(cmd.index, cmd.code, status::Success, {})};
        }
        return {command_complete(cmd.index, cmd.code, status::Success, settings_bytes(settings))};
    }
};

ControllerInfo info_with(Address address) {
    ControllerInfo info{};
    info.address = address;
    info.supported_settings = setting::Powered | setting::BrEdr | setting::LowEnergy | setting::Privacy;
    info.current_settings = setting::BrEdr;
    info.name = "BlueZ";
    return info;
}

struct Fixture {
    test::FakeMgmtPort port;
    Kernel kernel;
    MgmtClient mgmt{port, std::chrono::milliseconds(10)};
    test::FakeHciPort hci_port;
    hci::HciClient hci{hci_port, std::chrono::milliseconds(10)};
    test::FakeTimers timers;
    test::MemoryBondStore store;

    Fixture() {
        port.responder = [this](const Frame& f) { return kernel(f); };
        hci_port.responder = test::accepting_controller(false);
    }
    std::unique_ptr<ble::Adapter> adapter(sm::BondStore* bonds, Address address = kPublic) {
        return std::make_unique<ble::Adapter>(0, mgmt, info_with(address), hci, timers, nullptr, bonds);
    }
};

// What the kernel is given in addr_mode 1 (the static address, also config('mac'))
// and in addr_mode 2 (the IRK).
sm::LocalIdentity identity_given(Fixture& fx, ble::Adapter& adapter) {
    adapter.config_set({{"addr_mode", int64_t{1}}});
    adapter.set_active(true);
    REQUIRE(fx.kernel.static_address.has_value());
    const Address static_address = *fx.kernel.static_address;
    auto mac = std::get<ble::MacValue>(adapter.config_get("mac"));
    CHECK(mac.addr_type == 1);
    CHECK(mac.address == static_address);
    fx.kernel.privacy_irk.reset();
    adapter.config_set({{"addr_mode", int64_t{2}}});
    REQUIRE(fx.kernel.privacy_irk.has_value());
    adapter.set_active(false);
    return {static_address, *fx.kernel.privacy_irk};
}

}  // namespace

TEST_CASE("an adapter uses the identity its store holds", "[identity]") {
    Fixture fx;
    fx.store.identity = kStored;
    auto adapter = fx.adapter(&fx.store);
    CHECK(fx.store.identity_loads == 1);
    CHECK(fx.store.identity_stores == 0);
    CHECK(identity_given(fx, *adapter) == kStored);
    // A second adapter on the same store (a daemon restart) is the same one.
    adapter.reset();
    auto again = fx.adapter(&fx.store);
    CHECK(identity_given(fx, *again) == kStored);
}

TEST_CASE("an adapter with an empty store stores the identity it made up, and keeps it", "[identity]") {
    Fixture fx;
    auto adapter = fx.adapter(&fx.store);
    REQUIRE(fx.store.identity.has_value());
    CHECK(fx.store.identity_stores == 1);
    const sm::LocalIdentity made = *fx.store.identity;
    CHECK_NOTHROW(sm::validate(made));
    CHECK(identity_given(fx, *adapter) == made);
    adapter.reset();
    auto again = fx.adapter(&fx.store);
    CHECK(fx.store.identity_stores == 1);
    CHECK(identity_given(fx, *again) == made);
}

TEST_CASE("a controller without a public address uses the stored static address as its identity", "[identity]") {
    Fixture fx;
    fx.store.identity = kStored;
    auto adapter = fx.adapter(&fx.store, Address{});
    adapter->set_active(true);
    CHECK(fx.kernel.static_address == kStored.static_address);
    CHECK(adapter->identity() == LeAddress{1, kStored.static_address});
}

TEST_CASE("a bad stored identity is replaced; one that could not be read is left alone", "[identity]") {
    Fixture fx;
    fx.store.identity = kStored;
    fx.store.identity_load_error = ErrorCode::InvalidArgs;  // malformed, altered, open to others
    auto adapter = fx.adapter(&fx.store);
    REQUIRE(fx.store.identity.has_value());
    CHECK(fx.store.identity_stores == 1);
    CHECK(*fx.store.identity != kStored);
    CHECK(identity_given(fx, *adapter) == *fx.store.identity);

    Fixture io;
    io.store.identity = kStored;
    io.store.identity_load_error = ErrorCode::Failed;  // an I/O error: the file may be good
    auto unread = io.adapter(&io.store);
    CHECK(io.store.identity_stores == 0);
    CHECK(io.store.identity == kStored);
    sm::LocalIdentity used = identity_given(io, *unread);
    CHECK(used != kStored);
    CHECK_NOTHROW(sm::validate(used));
}

TEST_CASE("an identity the store cannot take is logged: the adapter still starts", "[identity]") {
    Fixture fx;
    fx.store.fail_identity_store = true;
    std::unique_ptr<ble::Adapter> adapter;
    REQUIRE_NOTHROW(adapter = fx.adapter(&fx.store));
    CHECK_FALSE(fx.store.identity.has_value());
    CHECK_NOTHROW(sm::validate(identity_given(fx, *adapter)));
}

TEST_CASE("without a store each adapter makes up its own identity", "[identity]") {
    Fixture fx;
    auto first = fx.adapter(nullptr);
    sm::LocalIdentity one = identity_given(fx, *first);
    auto second = fx.adapter(nullptr);
    CHECK(identity_given(fx, *second) != one);
}
