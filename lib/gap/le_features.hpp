#pragma once
// What the controller can do, read once over HCI and forgotten when it is
// powered off (a controller may come back as another one). Event-loop thread.

#include <optional>

#include "hci/hci_client.hpp"

namespace ubt::gap {

class LeFeatures {
public:
    explicit LeFeatures(hci::HciClient& hci) : hci_(hci) {}

    // The extended advertising and scanning commands. Throws BleError.
    bool extended();
    void forget() { extended_.reset(); }

private:
    hci::HciClient& hci_;
    std::optional<bool> extended_;
};

}  // namespace ubt::gap
