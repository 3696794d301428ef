#pragma once
// An sm::BondStore in memory for tests: keeps the bonds, records every store
// and remove, and fails when told to.

#include <algorithm>
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

    // What the store holds now.
    std::vector<sm::Bond> bonds;
    // Reported by load() beside the bonds.
    std::vector<sm::BondProblem> problems;
    // Every store() that succeeded, and every remove() asked, in order.
    std::vector<sm::Bond> stored;
    std::vector<LeAddress> removed;
    int loads = 0;
    bool fail_store = false;
    bool fail_remove = false;
    bool fail_load = false;

private:
    std::vector<sm::Bond>::iterator find(const LeAddress& peer) {
        return std::find_if(bonds.begin(), bonds.end(), [&](const sm::Bond& b) { return b.peer == peer; });
    }
};

}  // namespace ubt::test
