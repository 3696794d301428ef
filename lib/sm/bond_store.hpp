#pragma once
// Where an adapter's bonds, and its own identity, are kept: an interface, so
// the security logic is tested without files (linux::BondFiles is the daemon's).

#include <optional>
#include <string>
#include <vector>

#include "bond.hpp"
#include "local_identity.hpp"

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

    // The adapter's own identity (the static address and IRK peers bonded
    // with), nullopt when none is stored. Throws BleError with the reason
    // when one is stored but cannot be used: InvalidArgs for a bad file
    // (malformed, altered, open to others), which the caller may replace,
    // Failed when it could not be read. A store without identities (the
    // default) never has one.
    virtual std::optional<LocalIdentity> load_identity() { return std::nullopt; }
    // Durably replaces the identity. Throws BleError when it could not.
    virtual void store_identity(const LocalIdentity&) {}
};

}  // namespace ubt::sm
