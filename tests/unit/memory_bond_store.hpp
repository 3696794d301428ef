#pragma once
// An sm::BondStore in memory for tests: keeps the bonds and the adapter's
// identity, records every store and remove, and fails when told to.

#include <algorithm>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "sm/bond_store.hpp"

namespace ubt::test {

class MemoryBondStore : public sm::BondStore {
public:
    void store(const sm::Bond& bond) override {
        if (fail_store) throw BleError(ErrorCode::Failed, "disk full (test)");
        stored.push_back(bond);
        auto it = find(bond.peer);
        if (it == bonds.end()) bonds.push_back(bond);
        else *it = bond;
    }

    void remove(const LeAddress& peer) override {
        removed.push_back(peer);
        if (fail_remove) throw BleError(ErrorCode::Failed, "read-only file system (test)");
        auto it = find(peer);
        if (it == bonds.end()) throw BleError(ErrorCode::NotFound, "no bond file (test)");
        bonds.erase(it);
    }

    sm::LoadedBonds load() override {
        ++loads;
        if (fail_load) throw BleError(ErrorCode::Failed, "cannot read the bond directory (test)");
        return {bonds, problems};
    }

    std::optional<sm::LocalIdentity> load_identity() override {
        ++identity_loads;
        if (identity_load_error) throw BleError(*identity_load_error, "bad identity file (test)");
        return identity;
    }

    void store_identity(const sm::LocalIdentity& id) override {
        if (fail_identity_store) throw BleError(ErrorCode::Failed, "disk full (test)");
        sm::validate(id);
        identity = id;
        ++identity_stores;
    }

    // What the store holds now.
    std::vector<sm::Bond> bonds;
    std::optional<sm::LocalIdentity> identity;
    // Reported by load() beside the bonds.
    std::vector<sm::BondProblem> problems;
    // Every store() that succeeded, and every remove() asked, in order.
    std::vector<sm::Bond> stored;
    std::vector<LeAddress> removed;
    int loads = 0;
    int identity_loads = 0;
    int identity_stores = 0;  // that succeeded
    bool fail_identity_store = false;
    // load_identity() throws a BleError with this code.
    std::optional<ErrorCode> identity_load_error;
    bool fail_store = false;
    bool fail_remove = false;
    bool fail_load = false;

private:
    std::vector<sm::Bond>::iterator find(const LeAddress& peer) {
        return std::find_if(bonds.begin(), bonds.end(), [&](const sm::Bond& b) { return b.peer == peer; });
    }
};

}  // namespace ubt::test
