// The adapter's own identity (static address and IRK) outlives the daemon in
// its bond store: ble::Adapter takes a stored one, stores the one it made up
// when there is none, replaces a bad one, and never throws for the store.
#include <catch2/catch.hpp>

#include "ble/adapter.hpp"
#include "fake_adapter.hpp"
#include "memory_bond_store.hpp"

using namespace ubt;

namespace {

const sm::LocalIdentity kStored{*Address::parse("C1:02:03:04:05:06"),
                                sm::IrkValue{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
                                             0xac, 0xad, 0xae, 0xaf}};

// Adapters made one after the other (daemon restarts) on one controller and
// one bond store.
struct Fixture : test::AdapterPorts {
    test::MemoryBondStore store;
};

// What the kernel is given in addr_mode 1 (the static address, also config('mac'))
// and in addr_mode 2 (the IRK).
sm::LocalIdentity identity_given(Fixture& fx, ble::Adapter& adapter) {
    adapter.config_set({{"addr_mode", int64_t{1}}});
    adapter.set_active(true);
    REQUIRE(fx.controller.static_address.has_value());
    const Address static_address = *fx.controller.static_address;
    auto mac = std::get<ble::MacValue>(adapter.config_get("mac"));
    CHECK(mac.addr_type == 1);
    CHECK(mac.address == static_address);
    fx.controller.privacy_irk.reset();
    adapter.config_set({{"addr_mode", int64_t{2}}});
    REQUIRE(fx.controller.privacy_irk.has_value());
    adapter.set_active(false);
    return {static_address, *fx.controller.privacy_irk};
}

}  // namespace

TEST_CASE("an adapter uses the identity its store holds", "[identity]") {
    Fixture fx;
    fx.store.identity = kStored;
    auto adapter = fx.make_adapter(&fx.store);
    CHECK(fx.store.identity_loads == 1);
    CHECK(fx.store.identity_stores == 0);
    CHECK(identity_given(fx, *adapter) == kStored);
    // A second adapter on the same store (a daemon restart) is the same one.
    adapter.reset();
    auto again = fx.make_adapter(&fx.store);
    CHECK(identity_given(fx, *again) == kStored);
}

TEST_CASE("an adapter with an empty store stores the identity it made up, and keeps it", "[identity]") {
    Fixture fx;
    auto adapter = fx.make_adapter(&fx.store);
    REQUIRE(fx.store.identity.has_value());
    CHECK(fx.store.identity_stores == 1);
    const sm::LocalIdentity made = *fx.store.identity;
    CHECK_NOTHROW(sm::validate(made));
    CHECK(identity_given(fx, *adapter) == made);
    adapter.reset();
    auto again = fx.make_adapter(&fx.store);
    CHECK(fx.store.identity_stores == 1);
    CHECK(identity_given(fx, *again) == made);
}

TEST_CASE("a controller without a public address uses the stored static address as its identity", "[identity]") {
    Fixture fx;
    fx.store.identity = kStored;
    auto adapter = fx.make_adapter(&fx.store, Address{});
    adapter->set_active(true);
    CHECK(fx.controller.static_address == kStored.static_address);
    CHECK(adapter->identity() == LeAddress{1, kStored.static_address});
}

TEST_CASE("a bad stored identity is replaced; one that could not be read is left alone", "[identity]") {
    Fixture fx;
    fx.store.identity = kStored;
    fx.store.identity_load_error = ErrorCode::InvalidArgs;  // malformed, altered, open to others
    auto adapter = fx.make_adapter(&fx.store);
    REQUIRE(fx.store.identity.has_value());
    CHECK(fx.store.identity_stores == 1);
    CHECK(*fx.store.identity != kStored);
    CHECK(identity_given(fx, *adapter) == *fx.store.identity);

    Fixture io;
    io.store.identity = kStored;
    io.store.identity_load_error = ErrorCode::Failed;  // an I/O error: the file may be good
    auto unread = io.make_adapter(&io.store);
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
    REQUIRE_NOTHROW(adapter = fx.make_adapter(&fx.store));
    CHECK_FALSE(fx.store.identity.has_value());
    CHECK_NOTHROW(sm::validate(identity_given(fx, *adapter)));
}

TEST_CASE("without a store each adapter makes up its own identity", "[identity]") {
    Fixture fx;
    auto first = fx.make_adapter(nullptr);
    sm::LocalIdentity one = identity_given(fx, *first);
    auto second = fx.make_adapter(nullptr);
    CHECK(identity_given(fx, *second) != one);
}
