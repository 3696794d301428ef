#pragma once
// gap_advertise(): advertises over HCI with the caller's exact bytes and
// interval, so the kernel neither adds Flags nor picks its own address or
// interval. Advertising stops when a central connects and does not resume by
// itself. Event-loop thread only; borrows the HCI client and feature cache.

#include <cstdint>
#include <optional>

#include "core/address.hpp"
#include "core/bytes.hpp"
#include "hci/hci_client.hpp"
#include "le_features.hpp"

namespace ubt::gap {

struct AdvertiseRequest {
    uint32_t interval_us = 500000;
    std::optional<Bytes> adv_data;   // nullopt: the previous call's
    std::optional<Bytes> resp_data;  // nullopt: the previous call's
    bool connectable = true;
};

class Advertiser {
public:
    Advertiser(hci::HciClient& hci, LeFeatures& features) : hci_(hci), features_(features) {}

    // Starts, or restarts with new parameters. Throws BleError: InvalidArgs
    // for an interval or payload the controller cannot take, Failed when it
    // refuses. A refused call keeps the previous payloads.
    // own: public (type 0), or type 1 and the random address to use.
    void advertise(const AdvertiseRequest& request, const LeAddress& own);
    void stop();
    // Moves running advertising to another random address (RPA rotation);
    // nothing when not advertising. Throws BleError(Failed) when the
    // controller refuses, and advertising is then off.
    void change_address(const Address& random);
    void on_le_meta(const hci::LeMeta& meta);
    void on_power_off() { advertising_ = false; }
    bool advertising() const { return advertising_; }

    // 20 ms to 10.24 s in units of 0.625 ms.
    static constexpr uint32_t kMinUnits = 0x0020;
    static constexpr uint32_t kMaxUnits = 0x4000;

private:
    void disable();
    void enable();
    void set_random_address(const Address& random);

    hci::HciClient& hci_;
    LeFeatures& features_;
    bool advertising_ = false;
    Bytes adv_data_;
    Bytes resp_data_;
};

}  // namespace ubt::gap
