#include "scanner.hpp"

#include <stdexcept>
#include <string>

#include "core/error.hpp"

namespace ubt::gap {

namespace {

// The largest advertisement an extended report chain may carry (Core spec
// Vol 6 Part B 2.3.4.9: 1650 bytes of AdvData).
constexpr size_t kMaxAdvData = 1650;

uint16_t to_units(const char* name, uint32_t us) {
    uint32_t units = us / Scanner::kUnitUs;  // rounded down, as ubluetooth documents
    if (units < Scanner::kMinUnits || units > Scanner::kMaxUnits) {
        throw BleError(ErrorCode::InvalidArgs, std::string(name) + " must be between 2500 and 10240000 us, not " +
                                                   std::to_string(us));
    }
    return static_cast<uint16_t>(units);
}

}  // namespace

Scanner::Scanner(hci::HciClient& hci, LeFeatures& features, Timers& timers, ReportHandler on_report,
                 DoneHandler on_done)
    : hci_(hci),
      features_(features),
      timers_(timers),
      on_report_(std::move(on_report)),
      on_done_(std::move(on_done)) {}

Scanner::~Scanner() { timers_.cancel(timer_); }

void Scanner::disable_scan() {
    // Best effort: disabling a scan that is off is refused by some
    // controllers, and a controller that does not answer has stopped anyway.
    try {
        hci_.command(features_.extended() ? hci::le_set_ext_scan_enable(false) : hci::le_set_scan_enable(false));
    } catch (const std::exception&) {
    }
}

void Scanner::start(const ScanRequest& request) {
    hci::ScanParameters params;
    params.active = request.active;
    params.interval = to_units("interval_us", request.interval_us);
    params.window = to_units("window_us", request.window_us);
    if (params.window > params.interval) {
        throw BleError(ErrorCode::InvalidArgs, "window_us must not be longer than interval_us");
    }
    if (scanning_) throw BleError(ErrorCode::InProgress, "a scan is already running: stop it with gap_scan(None)");

    // A scan left enabled (by a killed process, say) makes Set Scan Parameters fail.
    disable_scan();
    if (features_.extended()) {
        hci_.checked(hci::le_set_ext_scan_parameters(params), "LE Set Extended Scan Parameters");
        hci_.checked(hci::le_set_ext_scan_enable(true), "LE Set Extended Scan Enable");
    } else {
        hci_.checked(hci::le_set_scan_parameters(params), "LE Set Scan Parameters");
        hci_.checked(hci::le_set_scan_enable(true), "LE Set Scan Enable");
    }
    scanning_ = true;
    fragments_.clear();
    if (request.duration_ms > 0) {
        timer_ = timers_.start(std::chrono::milliseconds(request.duration_ms), [this] {
            timer_ = 0;
            stop();
        });
    }
}

void Scanner::stop() {
    if (!scanning_) return;
    disable_scan();
    finish();
}

void Scanner::on_power_off() {
    if (scanning_) finish();
}

void Scanner::finish() {
    scanning_ = false;
    timers_.cancel(timer_);
    timer_ = 0;
    fragments_.clear();
    on_done_();
}

void Scanner::on_le_meta(const hci::LeMeta& meta) {
    if (!scanning_) return;
    std::optional<std::vector<hci::AdvReport>> reports;
    if (meta.subevent == hci::le_ev::AdvertisingReport) reports = hci::decode_adv_reports(meta.params);
    else if (meta.subevent == hci::le_ev::ExtAdvertisingReport) reports = hci::decode_ext_adv_reports(meta.params);
    else return;
    if (!reports) return;  // malformed: nothing in it can be trusted
    for (auto& report : *reports) deliver_fragment(std::move(report));
}

void Scanner::deliver_fragment(hci::AdvReport report) {
    auto key = std::make_tuple(report.addr_type, report.address.msb_first, report.sid);
    auto it = fragments_.find(key);
    if (it != fragments_.end()) {
        Bytes& data = it->second.data;
        size_t room = kMaxAdvData - std::min(kMaxAdvData, data.size());
        data.insert(data.end(), report.data.begin(), report.data.begin() + static_cast<long>(std::min(room, report.data.size())));
        it->second.rssi = report.rssi;
        it->second.incomplete = report.incomplete;
        if (report.incomplete) return;
        report = std::move(it->second);
        fragments_.erase(it);
    } else if (report.incomplete) {
        fragments_.emplace(key, std::move(report));
        return;
    }
    on_report_(report);
}

}  // namespace ubt::gap
