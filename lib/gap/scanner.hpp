#pragma once
// gap_scan(): runs an LE scan with the caller's interval, window and
// active flag over HCI, with no duplicate filtering, and reports every
// advertisement. Uses the extended scanning commands on controllers that
// have them (the legacy ones are refused there once the kernel has used the
// extended ones). Event-loop thread only; borrows the HCI client, the
// feature cache and the timers.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

#include "core/timers.hpp"
#include "hci/hci_client.hpp"
#include "le_features.hpp"

namespace ubt::gap {

struct ScanRequest {
    uint32_t duration_ms = 0;  // 0: until stopped
    uint32_t interval_us = 1280000;
    uint32_t window_us = 11250;
    bool active = false;
};

class Scanner {
public:
    using ReportHandler = std::function<void(const hci::AdvReport&)>;
    using DoneHandler = std::function<void()>;

    Scanner(hci::HciClient& hci, LeFeatures& features, Timers& timers, ReportHandler on_report,
            DoneHandler on_done);
    ~Scanner();

    // Throws BleError: InvalidArgs for an interval or window out of range,
    // InProgress while a scan runs, Failed when the controller refuses.
    void start(const ScanRequest& request);
    // Ends a running scan and reports it done; nothing when none runs.
    void stop();
    // The controller was powered off: the scan ended without us.
    void on_power_off();
    void on_le_meta(const hci::LeMeta& meta);
    bool scanning() const { return scanning_; }

    // Interval and window in units of 0.625 ms: 0x0004 (2.5 ms) to 0x4000 (10.24 s).
    static constexpr uint32_t kMinUnits = 0x0004;
    static constexpr uint32_t kMaxUnits = 0x4000;
    static constexpr uint32_t kUnitUs = 625;

private:
    void disable_scan();
    void finish();
    void deliver_fragment(hci::AdvReport report);

    hci::HciClient& hci_;
    LeFeatures& features_;
    Timers& timers_;
    ReportHandler on_report_;
    DoneHandler on_done_;
    bool scanning_ = false;
    Timers::Id timer_ = 0;
    // Extended advertisements split over several reports, by sender and set.
    std::map<std::tuple<uint8_t, Address::Bytes6, uint8_t>, hci::AdvReport> fragments_;
};

}  // namespace ubt::gap
