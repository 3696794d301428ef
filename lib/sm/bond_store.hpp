#pragma once
// Where an adapter's bonds are kept: an interface, so the security logic is
// tested without files (linux::BondFiles is the daemon's).

#include <string>
#include <vector>

#include "bond.hpp"

namespace ubt::sm {

// A stored bond that could not be used, and why.
struct BondProblem {
    std::string path;
    std::string reason;
};

struct LoadedBonds {
    std::vector<Bond> bonds;
    std::vector<BondProblem> problems;
};

class BondStore {
public:
    virtual ~BondStore() = default;
    // Durably replaces the peer's bond. Throws BleError when it could not.
    virtual void store(const Bond& bond) = 0;
    // Throws BleError(NotFound) when the peer has no bond.
    virtual void remove(const LeAddress& peer) = 0;
    // Every readable bond; the others are reported, never thrown.
    virtual LoadedBonds load() = 0;
};

}  // namespace ubt::sm
